/* What kiln serve checks of a submission's runbook before it queues the job: the loader and
 * the checks of `kiln check` (a criteria typo is refused as kiln check refuses it, with
 * file:line:col in the submitted text). Its disk image is checked with image/imagecheck.h. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* A tenant's runbook text (its keys limited to name, concurrency, variable and testcase by
 * kiln_api_parse_job, so it includes and reads no file) and a qemu platform appended (as the
 * worker appends its own) loaded as `kiln check` loads one, from tmpdir/<new dir>/runbook.yml,
 * removed after: 0 when it loads and its criteria select a
 * case; -EINVAL with *reterr holding kiln check's messages, each "runbook.yml:LINE:COL: ...",
 * joined with "; " (at most 5, then how many more); another -errno when tmpdir cannot be
 * written. */
int kiln_runbook_check(const char *text, size_t len, const char *tmpdir, char **reterr);
