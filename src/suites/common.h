/* What the built-in suites share: facts about the guest, cached per node and boot, the
 * capture of guest output and the verdicts the cases' pure decide_*() functions return. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "model/family.h"
#include "run/case.h"

/* ---- verdicts: what a decide_*() function returns ---- */

enum verdict_kind {
    VERDICT_PASS,
    VERDICT_FAIL,    /* reason names the evidence (file, value, expected) */
    VERDICT_SKIP,    /* cannot decide: reason says why */
    VERDICT_NOTHING, /* nothing to examine: reason says what is missing; policy decides */
};

struct verdict {
    enum verdict_kind kind;
    char *reason; /* allocated; NULL for a pass without a note */
};

/* Sets the kind and the reason (replacing an earlier one); returns kind. */
enum verdict_kind verdict_set(struct verdict *v, enum verdict_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void verdict_free(struct verdict *v);
/* Turns v into the case's result and frees it: NOTHING is skipped or failed as the policy's
 * cases.nothing_to_examine says (skip when unset). Returns CASE_PASS/FAIL/SKIP. */
int case_verdict(struct kiln_case_ctx *t, struct verdict *v);

/* ---- guest output ---- */

/* One command's result: exit status and both streams (never NULL once captured). */
struct gcap {
    int status;
    char *out, *err;
};
/* Runs cmd on n (the case's node when NULL). Returns 0 with *c filled, whatever the exit
 * status; a negative errno when the command could not run at all (the case is failed). */
int guest_capture(struct kiln_case_ctx *t, struct kiln_node *n, const char *cmd, struct gcap *c);
void gcap_free(struct gcap *c);
/* The first line of c's stderr (or stdout), for a reason: "exited 2: cannot open ...". */
char *gcap_why(const struct gcap *c);

/* Files read in one command: each regular file the shell words in globs name, or a failed
 * case when one cannot be read. Output shape (gfiles_parse): "\036PATH\n" then the content. */
struct gfile {
    char *path;
    char *text;
};
struct gfiles {
    struct gfile *v;
    size_t n, cap;
};
int guest_read_files(struct kiln_case_ctx *t, struct kiln_node *n, const char *globs, struct gfiles *files);
/* The shell command guest_read_files runs for globs (allocated). */
char *gfiles_command(const char *globs);
void gfiles_parse(const char *out, struct gfiles *files);
const struct gfile *gfiles_get(const struct gfiles *files, const char *path);
void gfiles_free(struct gfiles *files);

/* ---- facts ---- */

/* The value of KEY in an os-release text (os-release(5): shell-style quoting), allocated;
 * NULL when absent. */
char *os_release_value(const char *text, const char *key);
/* The package family an os-release ID and ID_LIKE name (either may be NULL); FAMILY_OTHER
 * when neither names a deb- or rpm-based distribution. */
enum pkg_family family_from_os_release(const char *id, const char *id_like);
/* Whether the family's database answered: status/output of the listing command
 * guest_need_family runs ("dpkg-query -W" / "rpm -qa"; exit 3 = database missing). */
enum verdict_kind decide_package_database(enum pkg_family fam, const char *id, const struct gcap *list,
                                          struct verdict *v);

/* /etc/os-release ID and the package family: from ID and ID_LIKE, or for a distribution
 * os-release does not place, from a package database present on the guest. */
enum pkg_family guest_family(struct kiln_case_ctx *t, char *id, size_t idsz);
/* The family, with its database readable: CASE_PASS; CASE_SKIP when the guest is neither
 * deb- nor rpm-based; CASE_FAIL when its family's database is missing or unreadable. */
int guest_need_family(struct kiln_case_ctx *t, enum pkg_family *fam);
bool guest_has_systemd(struct kiln_case_ctx *t);
bool guest_has_cmd(struct kiln_case_ctx *t, const char *cmd);
/* kiln-guest for guests of architecture a, chosen by the ELF machine in each candidate's
 * header (a program for another architecture is never chosen): the first of cands (NULL
 * entries left out) that is a's program into *path (caller frees). -ENOEXEC when none is, with
 * *reterr naming each candidate, what it is, and how to provide one. */
struct kiln_arch;
int guest_helper_pick(const struct kiln_arch *a, const char *const *cands, size_t n, char **path, char **reterr);
/* "KILN_GUEST_HELPER_AARCH64": the variable naming kiln-guest for a's guests. Caller frees. */
char *guest_helper_env_name(const struct kiln_arch *a);
/* guest_helper_pick over $KILN_GUEST_HELPER_<ARCH>, kiln-guest-<arch> (beside kiln, in libexec or
 * the build tree: kiln_guest_file_path) and kiln_guest_helper_path() (the host's build). */
int guest_helper_for_arch(const struct kiln_arch *a, char **path, char **reterr);
/* The node's architecture (uname -m, once per boot): CASE_PASS with *arch; CASE_FAIL when it
 * cannot be read; CASE_SKIP when kiln's table lacks it. */
int guest_arch(struct kiln_case_ctx *t, struct kiln_node *n, const struct kiln_arch **arch);
/* The local kiln-guest for n's architecture: CASE_PASS with *local (caller frees) and *arch;
 * CASE_SKIP (no kiln-guest for that architecture: the reason says how to provide one) or
 * CASE_FAIL, the case's reason set. */
int guest_helper_local(struct kiln_case_ctx *t, struct kiln_node *n, char **local, const struct kiln_arch **arch);
/* Uploads kiln-guest for the node's architecture (once per node and boot): CASE_PASS with its
 * remote path in *remote, else guest_helper_local's CASE_SKIP / CASE_FAIL (or CASE_FAIL when
 * the upload fails), *remote NULL. */
int guest_helper(struct kiln_case_ctx *t, const char **remote);
int guest_helper_on(struct kiln_case_ctx *t, struct kiln_node *n, const char **remote);
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
/* Loads a policy file (custom, or data/policy.yml when NULL) with profile merged over its base;
 * NULL with the reason in *reterr (unreadable, not a mapping, no such profile). Caller frees. */
struct ynode *policy_load(const char *custom, const char *profile, char **reterr);
/* "1min 2.345s", "345ms" (systemd's format) in seconds; -1 on garbage. */
double parse_systemd_duration(const char *s);
/* Policy lookups with defaults. */
const struct ynode *policy_get(struct ynode *policy, const char *section, const char *key);
/* A boolean or a number of the policy, def when it is not given. policy_load checked the kinds
 * (its table in common.c), so these read the value as it stands. */
bool policy_bool(struct ynode *policy, const char *section, const char *key, bool def);
double policy_number(struct ynode *policy, const char *section, const char *key, double def);
/* Is value one of the scalars of list (a scalar or a sequence)? */
bool policy_in_list(const struct ynode *list, const char *value);
/* A policy list as "a, b, c" (allocated). */
char *policy_list_text(const struct ynode *list);

/* ---- the private network (feature private-network) ---- */

#define PRIV_NET "10.99.0" /* node i of an environment is PRIV_NET.(i+1)/24 on its private NIC */
/* Gives n (node i of the environment) its address on the private NIC (the one whose MAC
 * starts with KILN_PRIVATE_MAC_PREFIX), whatever manages the guest's links; returns the
 * interface name (allocated), or NULL with the case failed. */
char *guest_private_up(struct kiln_case_ctx *t, struct kiln_node *n, int i);

/* ---- text helpers for decide functions ---- */

/* Joins up to max items of a list for a reason: "a, b, c, ..." */
struct sbuf;
void reason_item(struct sbuf *b, size_t *count, size_t max, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Next line of a text (modifies nothing): start in *p, length in *len; false at the end. */
bool next_line(const char **p, const char **line, size_t *len);
