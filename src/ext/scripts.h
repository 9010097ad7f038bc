/* Bring-your-own script tests: every executable in a runbook `extension:` directory is a
 * case named ext.<dir>.<file without extension>. Metadata comes from a header comment
 *   # kiln: { area: storage, priority: 2, timeout_s: 120, tags: [fast], reboot: true }
 * or from a kiln.yml beside the tests mapping file names to the same keys. */
#pragma once
#include "runbook/runbook.h"
#include "util/yaml.h"

/* Registers the cases of every extension directory; problems go to d. */
int ext_scripts_load(const struct kiln_runbook *rb, struct diags *d);
void ext_scripts_free(void);
