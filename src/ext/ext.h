/* External suites: script tests (extension:), kselftest and LTP. */
#pragma once
#include "runbook/runbook.h"
#include "util/yaml.h"

/* Registers the cases the runbook's external suites bring; problems go to d. */
int ext_load(const struct kiln_runbook *rb, struct diags *d);
void ext_free(void);
