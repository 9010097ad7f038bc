/* LTP runtest groups as cases ltp.<group>, subtests ltp:<group>:<test>. */
#pragma once
#include "runbook/runbook.h"
#include "util/yaml.h"

int ext_ltp_load(const struct kiln_runbook *rb, struct diags *d);
void ext_ltp_free(void);
