/* What the built-in suites share: facts about the guest, cached per node and boot. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "core/case.h"

enum guest_family { FAMILY_OTHER, FAMILY_DEB, FAMILY_RPM };

/* /etc/os-release ID and the package family (deb: dpkg, rpm: rpm). */
enum guest_family guest_family(struct kiln_case_ctx *t, char *id, size_t idsz);
/* The family, or skips the case (returns CASE_SKIP) when the guest has neither dpkg nor rpm. */
int guest_need_family(struct kiln_case_ctx *t, enum guest_family *fam);
bool guest_has_systemd(struct kiln_case_ctx *t);
bool guest_has_cmd(struct kiln_case_ctx *t, const char *cmd);
/* Uploads kiln-guest (once per node and boot); returns its remote path or NULL (case failed). */
const char *guest_helper(struct kiln_case_ctx *t);
const char *guest_helper_on(struct kiln_case_ctx *t, struct kiln_node *n);
/* The value of a "key=value" line in the helper's output (allocated), or NULL (also for out NULL). */
char *helper_value(const char *out, const char *key);
/* Console findings on n after mark, as "[pattern] line (+N more, see nodes/<n>/console.log)";
 * NULL when there are none or the node has no console. */
struct kiln_node;
char *console_findings(struct kiln_node *n, uint64_t mark);
/* Runs cmd; on a non-zero status fails the case with what and the command's stderr. */
int guest_sh_ok(struct kiln_case_ctx *t, const char *what, const char *cmd, char **out);
/* Loads a YAML data file a runbook may override (key `policy:`); NULL with the case failed. */
struct ynode;
struct ynode *suite_policy(struct kiln_case_ctx *t);
/* "1min 2.345s", "345ms" (systemd's format) in seconds; -1 on garbage. */
double parse_systemd_duration(const char *s);
/* Policy lookups with defaults. */
const struct ynode *policy_get(struct ynode *policy, const char *section, const char *key);
