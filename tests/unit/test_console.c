/* The console and kernel-log patterns (data/console-patterns.yml): every pattern against its
 * example corpus, the console logs through the live scanner, the scanner itself, and
 * the loader's errors. */
#include <stdio.h>

#include "node/console.h"
#include "tap.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/util.h"

#define PATTERNS KILN_SOURCE_DATA_DIR "/console-patterns.yml"

static const char *scalar(const struct ynode *map, const char *key)
{
    const struct ynode *v = y_get(map, key);
    return v && v->kind == YN_SCALAR ? v->scalar : NULL;
}

static size_t seq_len(const struct ynode *n)
{
    return n && n->kind == YN_SEQ ? n->n : 0;
}

/* Each matching example gives exactly its pattern's finding (with the pattern's fatal flag),
 * each non-matching one gives none, and every pattern has both kinds. */
static void check_corpus(const struct kiln_patterns *p)
{
    struct diags d = {0};
    struct ynode *data = yaml_load_file(PATTERNS, &d);
    struct ynode *corpus = yaml_load_file(TEST_DATA_DIR "/console/corpus.yml", &d);
    diags_print(&d, stdout);
    diags_free(&d);
    const struct ynode *list = y_get(data, "patterns");
    if (!ok(list && corpus && corpus->kind == YN_MAP, "the patterns file and the corpus load")) goto out;
    for (size_t i = 0; i < seq_len(list); i++) {
        const char *name = scalar(list->items[i], "name"), *f = scalar(list->items[i], "fatal");
        bool want_fatal = f && streq(f, "true");
        const struct ynode *ex = y_get(corpus, name);
        const struct ynode *yes = y_get(ex, "match"), *no = y_get(ex, "no_match");
        ok(seq_len(yes) > 0 && seq_len(no) > 0, "pattern %s has matching and non-matching examples", name);
        for (size_t j = 0; j < seq_len(yes); j++) {
            _cleanup_free_ char *line = xstrdup(yes->items[j]->scalar);
            console_clean_line(line);
            bool fatal = !want_fatal;
            const char *got = patterns_match(p, line, &fatal);
            ok(got && streq(got, name) && fatal == want_fatal, "%s%s: '%s' (got %s)", name,
               want_fatal ? " (fatal)" : "", line, got ? got : "no finding");
        }
        for (size_t j = 0; j < seq_len(no); j++) {
            _cleanup_free_ char *line = xstrdup(no->items[j]->scalar);
            console_clean_line(line);
            const char *got = patterns_match(p, line, NULL);
            ok(!got, "not %s: '%s' (got %s)", name, line, got ? got : "no finding");
        }
    }
    /* Examples under a name the patterns file no longer has would test nothing. */
    for (size_t k = 0; k < corpus->n; k += 2) {
        const char *key = corpus->items[k]->scalar;
        bool known = false;
        for (size_t i = 0; i < seq_len(list); i++) known = known || streq(scalar(list->items[i], "name"), key);
        ok(known, "corpus entry %s names a pattern of the patterns file", key);
    }
out:
    ynode_free(data);
    ynode_free(corpus);
}

struct want {
    const char *pattern, *line;
};

/* Feeds a console log through the live scanner and compares every finding, in order. */
static void check_log(const struct kiln_patterns *p, const char *name, const struct want *want, size_t nwant,
                      const char *fatal_line)
{
    _cleanup_free_ char *path = xasprintf("%s/console/%s", TEST_DATA_DIR, name);
    char *text = NULL;
    size_t len = 0;
    if (!ok(read_file(path, 1 << 20, &text, &len) == 0, "%s is readable", path)) return;
    uint64_t lines = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        console_clean_line(l);
        lines += *l != 0;
    }
    free(text);
    struct kiln_console *c = console_start(path, NULL, p);
    for (int i = 0; i < 250 && console_lines(c) < lines; i++) sleep_ms(20);
    is_int(console_lines(c), lines, name);
    struct console_event *ev;
    size_t nev = console_events(c, 0, &ev);
    struct sbuf got = {0};
    for (size_t i = 0; i < nev; i++) sbuf_printf(&got, "[%s] %s\n", ev[i].pattern, ev[i].line);
    bool same = nev == nwant;
    for (size_t i = 0; same && i < nev; i++)
        same = streq(ev[i].pattern, want[i].pattern) && strstr(ev[i].line, want[i].line);
    ok(same, "%s gives %zu finding(s), each as expected", name, nwant);
    if (!same) printf("# findings:\n%s", got.s ? got.s : "(none)\n");
    sbuf_free(&got);
    console_events_free(ev, nev);
    if (fatal_line)
        has(console_fatal(c), fatal_line, "the first fatal line is the node's fatal reason");
    else
        ok(!console_fatal(c), "%s has no fatal line", name);
    console_stop(c);
}

static void check_logs(const struct kiln_patterns *p)
{
    static const struct want rcu[] = {
        {"rcu-stall", "rcu: INFO: rcu_preempt detected expedited stalls on CPUs/tasks: { P311 }"},
        {"rcu-stall", "INFO: rcu_sched self-detected stall on CPU"},
    };
    check_log(p, "rcu-stalls.log", rcu, ARRAY_SIZE(rcu), NULL);
    static const struct want traps[] = {
        {"oops", "divide error: 0000 [#1] SMP"},
        {"call-trace", "Call Trace:"},
        {"oops", "Oops: divide error: 0000 [#2] PREEMPT SMP NOPTI"},
        {"oops", "Oops: invalid opcode: 0000 [#3] PREEMPT SMP NOPTI"},
    };
    check_log(p, "x86-traps.log", traps, ARRAY_SIZE(traps), NULL);
    static const struct want bug[] = {{"bug", "BUG: workqueue lockup - pool cpus=0"}};
    check_log(p, "bug-lines.log", bug, ARRAY_SIZE(bug), NULL);
    static const struct want emergency[] = {
        {"failed-unit", "[FAILED] Failed to mount /srv/data."},
        {"dependency-failed", "[DEPEND] Dependency failed for Local File Systems."},
        {"emergency-shell", "Welcome to emergency mode! After logging in"},
        {"emergency-shell", "Cannot open access to console, the root account is locked."},
    };
    check_log(p, "emergency.log", emergency, ARRAY_SIZE(emergency), "Welcome to emergency mode!");
    /* The Debian test image (systemd 252) whose fstab names a disk it cannot mount, as kiln's
     * console.log has it (escape sequences and all). */
    static const struct want debian_emergency[] = {
        {"failed-unit", "[FAILED] Failed to mount srv-data.mount - /srv/data."},
        {"dependency-failed", "[DEPEND] Dependency failed for loca"},
        {"emergency-shell", "[  OK  ] Started emergency.service - Emergency Shell."},
        {"emergency-shell", "[  OK  ] Reached target emergency.target - Emergency Mode."},
        {"emergency-shell", "You are in emergency mode. After logging in"},
        {"emergency-shell", "Cannot open access to console, the root account is locked."},
    };
    check_log(p, "debian-emergency.log", debian_emergency, ARRAY_SIZE(debian_emergency),
              "Started emergency.service - Emergency Shell.");
    /* The same image's clean boot, reboot and shutdown (1517 lines): no finding at all. */
    check_log(p, "debian-clean.log", NULL, 0, NULL);
}

static void check_load_errors(void)
{
    struct diags d = {0};
    const char *bad = "patterns:\n  - { name: x, regex: \"(\" }\n";
    const char *badf = "/tmp/kiln-badpat.yml";
    write_file_atomic(badf, bad, strlen(bad), 0644);
    ok(patterns_load(badf, NULL, 0, &d) == NULL && d.n > 0, "a bad regex in a patterns file is an error");
    diags_free(&d);
    const char *backref = "patterns:\n  - { name: twice, regex: \"(ab)\\\\1\" }\n";
    write_file_atomic(badf, backref, strlen(backref), 0644);
    ok(patterns_load(badf, NULL, 0, &d) == NULL && d.n == 1 && strstr(d.v[0].msg, "back-reference") &&
           d.v[0].line == 2,
       "a back-reference is an error at its line (patterns are combined into one expression)");
    diags_free(&d);
    const char *literal = "patterns:\n  - { name: path, regex: \"C:\\\\\\\\1\" }\n";
    write_file_atomic(badf, literal, strlen(literal), 0644);
    struct kiln_patterns *p = patterns_load(badf, NULL, 0, &d);
    ok(p && d.n == 0, "an escaped backslash before a digit is no back-reference");
    is_str(p ? patterns_match(p, "C:\\1", NULL) : NULL, "path", "and matches literally");
    patterns_free(p);
    diags_free(&d);
    unlink(badf);
}

int main(void)
{
    struct diags d = {0};
    char *extra[] = {"WARNING: CPU: 0 PID: 1 at drivers/deliberate", "sysrq triggered crash"};
    struct kiln_patterns *p = patterns_load(PATTERNS, NULL, 0, &d);
    diags_print(&d, stdout);
    if (!ok(p != NULL, "the shipped patterns file loads")) return tap_done();
    check_corpus(p);
    check_logs(p);

    /* A runbook's console.ignore: the deliberate WARN and a kdump test's own crash are not
     * findings, any other panic still is. */
    struct kiln_patterns *pi = patterns_load(PATTERNS, extra, ARRAY_SIZE(extra), &d);
    ok(pi && patterns_match(pi, "WARNING: CPU: 0 PID: 1 at drivers/deliberate/x.c", NULL) == NULL, "runbook ignore applies");
    ok(pi && patterns_match(pi, "[   31.0] Kernel panic - not syncing: sysrq triggered crash", NULL) == NULL,
       "an ignored deliberate crash is no finding");
    is_str(pi ? patterns_match(pi, "[    2.1] Kernel panic - not syncing: Attempted to kill init!", NULL) : NULL,
           "kernel-panic", "other panics still are");
    patterns_free(pi);
    _cleanup_free_ char *def = patterns_path(NULL), *mine = patterns_path("my-patterns.yml");
    ok(def && endswith(def, "/console-patterns.yml"), "console and kernel log use data/console-patterns.yml");
    is_str(mine, "my-patterns.yml", "unless the runbook names its own");

    char line[] = "\x1b[0;1;31mFAILED\x1b[0m Failed to start \x1b[0;1;39mfoo.service\x1b[0m.\r";
    console_clean_line(line);
    is_str(line, "FAILED Failed to start foo.service.", "escape sequences stripped");

    char dir[] = "/tmp/kiln-con-XXXXXX";
    mkdtemp(dir);
    _cleanup_free_ char *raw = path_join(dir, "console.raw");
    _cleanup_free_ char *out = path_join(dir, "console.log");
    secret_add("hunter2");
    FILE *f = fopen(raw, "w");
    fputs("booting with key=hunter2\n[ 1.0] ok\n", f);
    fflush(f);
    struct kiln_console *c = console_start(raw, out, p);
    ok(c != NULL, "scanner starts");
    fputs("[ 2.0] Kernel panic - not syncing: VFS: Unable to mount root fs\n", f);
    fflush(f);
    for (int i = 0; i < 100 && !console_fatal(c); i++) sleep_ms(20);
    has(console_fatal(c), "Unable to mount root fs", "the scanner reports the fatal line live");
    struct console_event *ev;
    size_t nev = console_events(c, 0, &ev);
    is_int(nev, 1, "one event");
    console_events_free(ev, nev);
    _cleanup_free_ char *tail = console_tail(c, 2);
    has(tail, "[ 1.0] ok", "tail keeps recent lines");
    fputs("partial line without newline", f);
    fclose(f);
    console_stop(c);
    char *copied;
    ok(read_file(out, 1 << 20, &copied, NULL) == 0, "the masked copy exists");
    ok(copied && !strstr(copied, "hunter2") && strstr(copied, "key=******"), "secrets are masked in the copy");
    has(copied, "partial line without newline", "a last partial line is kept");
    free(copied);
    rm_rf(dir);
    patterns_free(p);

    check_load_errors();
    secret_clear();
    yfiles_free();
    return tap_done();
}
