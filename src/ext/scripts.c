#include "ext/scripts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <sys/stat.h>

#include "run/case.h"
#include "ext/common.h"
#include "ext/output.h"
#include "node/node.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/strv.h"
#include "util/util.h"

#define REMOTE_BASE "/var/tmp/kiln-ext"
#define REBOOT_MARK REMOTE_BASE "/.reboot-mark"
#define MAX_REBOOTS 10
#define EXIT_SKIP 77

struct script {
    struct kiln_case c;
    char *name, *area, *description;
    char **tags;
    size_t ntags;
    char *local_dir, *dir_name, *file;
    bool reboot;
};

static struct script **scripts;
static size_t nscripts, capscripts;

static const char reboot_helper[] =
    "#!/bin/sh\n"
    "# autopkgtest convention: record the mark and end the test (our parent); kiln reboots\n"
    "# the node and reruns the test with AUTOPKGTEST_REBOOT_MARK set\n"
    "[ -n \"$1\" ] || { echo 'usage: autopkgtest-reboot MARK' >&2; exit 2; }\n"
    "mkdir -p " REMOTE_BASE " && printf '%s' \"$1\" > " REBOOT_MARK "\n"
    "kill -KILL \"$PPID\"\n";

static int run_script_once(struct kiln_case_ctx *t);

/* The case, then the reboot helper and mark it put on the node removed (a VM is thrown away
 * anyway; a machine of the ready platform is the user's own). The unpacked extension under
 * REMOTE_BASE stays for the run's other cases (ext_upload_dir uploads it once per boot) and goes
 * with the environment (node_remove_leftovers). */
static int run_script(struct kiln_case_ctx *t)
{
    int rc = run_script_once(t);
    if (t->node->bad) return rc;
    struct kiln_exec e;
    node_exec(t->node, "rm -f " REBOOT_MARK " /tmp/autopkgtest-reboot", 30, &e); /* best effort: the verdict is made */
    kiln_exec_free(&e);
    return rc;
}

static int run_script_once(struct kiln_case_ctx *t)
{
    struct script *s = t->c->data;
    struct kiln_node *n = t->node;
    _cleanup_free_ char *remote = xasprintf(REMOTE_BASE "/%s", s->dir_name);
    _cleanup_free_ char *mark = NULL;
    _cleanup_free_ char *skip_all = NULL; /* TAP plan 1..0 # SKIP reason */
    for (int reboots = 0;; reboots++) {
        if (ext_upload_dir(t, s->local_dir, remote) != 0) return CASE_FAIL;
        int ur = node_upload(n, reboot_helper, strlen(reboot_helper), "/tmp/autopkgtest-reboot", 0755);
        if (ur < 0) return case_fail(t, "cannot install /tmp/autopkgtest-reboot on %s: %s", n->name, strerror(-ur));
        _cleanup_free_ char *rq = shell_quote(remote);
        _cleanup_free_ char *fq = shell_quote(s->file);
        _cleanup_free_ char *mq = mark ? shell_quote(mark) : xstrdup("''");
        _cleanup_free_ char *cq = shell_quote(t->c->name);
        /* AUTOPKGTEST_TMP is the test's own scratch directory, removed when it ends (as
         * autopkgtest does): on a node that outlives the run (platform ready) it used to stay */
        _cleanup_free_ char *cmd = xasprintf(
            "rm -f " REBOOT_MARK "; cd %s && kiln_tmp=$(mktemp -d) && { AUTOPKGTEST_TMP=$kiln_tmp AUTOPKGTEST_REBOOT_MARK=%s "
            "KILN_CASE=%s KILN_DATA=%s/data ./%s; kiln_rc=$?; rm -rf \"$kiln_tmp\"; exit $kiln_rc; }",
            rq, mq, cq, rq, fq);
        struct kiln_exec e;
        int r = node_exec(n, cmd, case_time_left(t), &e);
        if (r < 0) {
            kiln_exec_free(&e);
            return r;
        }
        struct ext_output o;
        ext_output_read(e.out, strlen(e.out), &o);
        ext_add_subtests(t, o.subtests, o.n, NULL);
        free(skip_all);
        skip_all = o.skip_all;
        _cleanup_free_ char *req_mark = NULL;
        size_t mlen = 0;
        if (node_download(n, REBOOT_MARK, 4096, &req_mark, &mlen) == 0 && mlen) {
            kiln_exec_free(&e);
            if (!s->reboot)
                return case_fail(t, "asked for a reboot (autopkgtest-reboot %s) but its metadata lacks reboot: true", req_mark);
            if (reboots >= MAX_REBOOTS) return case_fail(t, "asked for more than %d reboots", MAX_REBOOTS);
            case_log(t, "test asked for a reboot with mark \"%s\"", req_mark);
            _cleanup_free_ char *why = NULL;
            if (node_reboot(n, MIN(case_time_left(t), 600), &why) < 0) {
                n->bad = true;
                return case_fail(t, "reboot requested by the test: %s", why);
            }
            free(mark);
            mark = xstrdup(req_mark);
            continue;
        }
        int st = e.status;
        _cleanup_free_ char *tail = ext_last_lines(*e.err ? e.err : e.out, 3);
        kiln_exec_free(&e);
        if (st == EXIT_SKIP) return case_skip(t, "%s", *tail ? tail : "the test exited 77 (skip)");
        if (st == -1) return case_fail(t, "ended by a signal or lost connection: %s", tail);
        if (st != 0) return case_fail(t, "exit status %d: %s", st, tail);
        int rc = ext_judge_subtests(t);
        return rc == CASE_PASS && skip_all ? case_skip(t, "%s", skip_all) : rc;
    }
}

/* ---- loading ---- */

static const char *const meta_keys[] = {"area", "priority", "timeout_s", "tags", "description", "reboot", "requires", NULL};

static void apply_meta(struct script *s, const struct ynode *m, const char *path, struct diags *d)
{
    if (!y_expect(d, m, path, YN_MAP)) return;
    y_check_keys(d, m, path, meta_keys);
    const struct ynode *x;
    long v;
    _cleanup_free_ char *p_area = ypath(path, "area"), *p_prio = ypath(path, "priority"),
                        *p_to = ypath(path, "timeout_s"), *p_tags = ypath(path, "tags"),
                        *p_desc = ypath(path, "description"), *p_reboot = ypath(path, "reboot"),
                        *p_req = ypath(path, "requires");
    if ((x = y_get(m, "area"))) y_str(d, x, p_area, &s->area);
    if ((x = y_get(m, "description"))) y_str(d, x, p_desc, &s->description);
    if ((x = y_get(m, "priority")) && y_long(d, x, p_prio, 0, 5, &v)) s->c.priority = (int)v;
    if ((x = y_get(m, "timeout_s")) && y_long(d, x, p_to, 1, 7 * 86400, &v)) s->c.timeout_s = (int)v;
    if ((x = y_get(m, "reboot"))) y_bool(d, x, p_reboot, &s->reboot);
    if ((x = y_get(m, "tags"))) y_str_list(d, x, p_tags, &s->tags, &s->ntags);
    if ((x = y_get(m, "requires"))) runbook_parse_req(x, p_req, &s->c.requires, d);
}

/* Finds "# kiln: {...}" (or //, --, ;) in the first lines; parses it where it stands so
 * errors point at the right line and column of the test file. */
static void header_meta(struct script *s, const char *path, struct diags *d)
{
    char *text = NULL;
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char buf[4096];
    ssize_t k = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (k <= 0) return;
    buf[k] = 0;
    regex_t rx;
    regcomp(&rx, "^[ \t]*(#|//|--|;)[ \t]*kiln:[ \t]*", REG_EXTENDED);
    int line = 1;
    for (char *p = buf; *p && line <= 20; line++) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        regmatch_t m[1];
        if (regexec(&rx, p, 1, m, 0) == 0) {
            struct sbuf b = {0};
            for (int i = 1; i < line; i++) sbuf_puts(&b, "\n");
            for (regoff_t i = 0; i < m[0].rm_eo; i++) sbuf_puts(&b, " ");
            sbuf_puts(&b, p + m[0].rm_eo);
            text = sbuf_steal(&b);
            len = strlen(text);
            break;
        }
        if (!nl) break;
        p = nl + 1;
    }
    regfree(&rx);
    if (!text) return;
    struct ynode *m = yaml_load_string(path, text, len, d);
    free(text);
    if (m) apply_meta(s, m, "kiln", d);
    ynode_free(m);
}

static char *sanitize(const char *s)
{
    char *r = xstrdup(s);
    for (char *p = r; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            *p = '_';
    return r;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The executable files in dir, sorted (kiln.yml and data/ are not tests); false when dir
 * cannot be read. None is an error in d at the runbook's entry, naming what is there instead
 * (subdirectories are not searched; files that are not executable are not tests). */
static bool list_tests(const char *dir, const struct kiln_where *at, const char *key, struct strv *out, struct diags *d)
{
    DIR *dh = opendir(dir);
    if (!dh) return false;
    struct sbuf subdirs = {0}, plain = {0}; /* what is there but is not a test, for saying so */
    struct dirent *e;
    while ((e = readdir(dh))) {
        if (e->d_name[0] == '.' || streq(e->d_name, "kiln.yml") || streq(e->d_name, "data")) continue;
        _cleanup_free_ char *full = path_join(dir, e->d_name);
        struct stat st;
        if (stat(full, &st) < 0) continue;
        if (S_ISDIR(st.st_mode) && subdirs.len < 200) sbuf_printf(&subdirs, "%s%s/", subdirs.len ? ", " : "", e->d_name);
        if (S_ISREG(st.st_mode) && !(st.st_mode & S_IXUSR) && plain.len < 200)
            sbuf_printf(&plain, "%s%s", plain.len ? ", " : "", e->d_name);
        if (!S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR)) continue;
        strv_push(out, e->d_name);
    }
    closedir(dh);
    if (out->n) qsort(out->v, out->n, sizeof *out->v, by_name);
    if (!out->n) {
        /* selecting nothing from it would look like a runbook without tests */
        _cleanup_free_ char *hint = subdirs.len
            ? xasprintf("; subdirectories are not searched (%s): list each under extension:", subdirs.s)
            : plain.len ? xasprintf("; files that are not executable are not tests (%s): chmod +x them", plain.s)
                        : xstrdup("");
        diag_add_at(d, at->file, at->line, at->col, key, "%s holds no test (an executable file)%s", dir, hint);
    }
    sbuf_free(&subdirs);
    sbuf_free(&plain);
    return true;
}

/* Registers the test file (taken: the script owns it) in dir as ext.<dir_name>.<stem>, its
 * metadata from its header line, then from kiln.yml's entry for it. */
static void add_script(const char *dir, const char *dir_name, char *file, const struct ynode *meta, struct diags *d)
{
    struct script *s = xcalloc(1, sizeof *s);
    s->local_dir = xstrdup(dir);
    s->dir_name = xstrdup(dir_name);
    s->file = file;
    s->c.priority = 2;
    s->c.timeout_s = 600;
    _cleanup_free_ char *full = path_join(dir, file);
    header_meta(s, full, d);
    const struct ynode *m = y_get(meta, file);
    if (m) apply_meta(s, m, file, d);
    char *stem = xstrdup(file);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem) *dot = 0;
    _cleanup_free_ char *clean = sanitize(stem);
    free(stem);
    s->name = xasprintf("ext.%s.%s", dir_name, clean);
    if (!s->area) s->area = xstrdup(dir_name);
    if (!s->description) s->description = xasprintf("script test %s/%s", dir, file);
    s->tags = xrealloc(s->tags, (s->ntags + 1) * sizeof *s->tags);
    s->tags[s->ntags] = NULL;
    s->c.name = s->name;
    s->c.area = s->area;
    s->c.category = "functional";
    s->c.description = s->description;
    s->c.tags = (const char *const *)s->tags;
    s->c.run = run_script;
    s->c.data = s;
    if (registry_find(s->name)) diag_add_at(d, full, 0, 0, NULL, "a case named %s already exists", s->name);
    *APPEND(scripts, nscripts, capscripts) = s;
    registry_add(&s->c);
}

static void load_dir(const struct kiln_runbook *rb, size_t idx, struct diags *d)
{
    const char *dir = rb->extensions[idx];
    const struct kiln_where *at = &rb->extensions_at[idx];
    _cleanup_free_ char *key = xasprintf("extension[%zu]", idx);
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        diag_add_at(d, at->file, at->line, at->col, key, "%s is not a directory of tests: %s", dir,
                    strerror(errno ? errno : ENOTDIR));
        return;
    }
    const char *base = strrchr(dir, '/');
    _cleanup_free_ char *dir_name = sanitize(base && base[1] ? base + 1 : dir);
    _cleanup_free_ char *meta_path = path_join(dir, "kiln.yml");
    struct ynode *meta = file_exists(meta_path) ? yaml_load_file(meta_path, d) : NULL;
    if (meta && !y_expect(d, meta, "", YN_MAP)) {
        ynode_free(meta);
        meta = NULL;
    }
    struct strv tests = {0};
    if (!list_tests(dir, at, key, &tests, d)) {
        ynode_free(meta);
        return;
    }
    for (size_t i = 0; meta && i < meta->n; i += 2)
        if (!strv_find(&tests, meta->items[i]->scalar))
            diag_add(d, meta->items[i], meta->items[i]->scalar,
                     "kiln.yml describes \"%s\", which is not an executable file in %s", meta->items[i]->scalar, dir);
    for (size_t i = 0; i < tests.n; i++) add_script(dir, dir_name, tests.v[i], meta, d);
    free(tests.v); /* the names went to the scripts */
    ynode_free(meta);
}

int ext_scripts_load(const struct kiln_runbook *rb, struct diags *d)
{
    size_t before = d->n;
    for (size_t i = 0; i < rb->nextensions; i++) load_dir(rb, i, d);
    return d->n > before ? -EINVAL : 0;
}

void ext_scripts_free(void)
{
    for (size_t i = 0; i < nscripts; i++) {
        struct script *s = scripts[i];
        free(s->name);
        free(s->area);
        free(s->description);
        strv_free(s->tags, s->ntags);
        free(s->local_dir);
        free(s->dir_name);
        free(s->file);
        free(s);
    }
    free(scripts);
    scripts = NULL;
    nscripts = capscripts = 0;
}
