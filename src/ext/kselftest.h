/* kselftest collections as cases kselftest.<collection>, subtests kselftest:<collection>:<test>. */
#pragma once
#include "runbook/runbook.h"
#include "util/yaml.h"

int ext_kselftest_load(const struct kiln_runbook *rb, struct diags *d);
void ext_kselftest_free(void);
