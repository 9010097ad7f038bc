#include <stdio.h>

#include "node/console.h"
#include "tap.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/util.h"

int main(void)
{
    struct diags d = {0};
    char *extra[] = {"WARNING: CPU: 0 PID: 1 at drivers/deliberate"};
    struct kiln_patterns *p = patterns_load(KILN_SOURCE_DATA_DIR "/console-patterns.yml", extra, 1, &d);
    diags_print(&d, stdout);
    ok(p != NULL, "the shipped patterns file loads");
    bool fatal = false;
    const char *m = patterns_match(p, "[    2.1] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100", &fatal);
    is_str(m, "kernel-panic", "kernel panic matches");
    ok(fatal, "kernel panic is fatal");
    is_str(patterns_match(p, "[FAILED] Failed to start ssh.service - OpenBSD Secure Shell server.", &fatal),
           "failed-unit", "failed unit matches");
    ok(!fatal, "failed unit is not fatal");
    is_str(patterns_match(p, "WARNING: CPU: 1 PID: 77 at mm/page_alloc.c:4400 foo", NULL), "warning", "WARNING at");
    ok(patterns_match(p, "WARNING: CPU: 0 PID: 1 at drivers/deliberate/x.c", NULL) == NULL, "runbook ignore applies");
    is_str(patterns_match(p, "INFO: task kworker/0:1:12 blocked for more than 120 seconds.", NULL), "hung-task", "hung task");
    is_str(patterns_match(p, "watchdog: BUG: soft lockup - CPU#0 stuck for 22s!", NULL), "soft-lockup", "soft lockup");
    ok(patterns_match(p, "Started OpenBSD Secure Shell server.", NULL) == NULL, "normal lines do not match");
    ok(patterns_match(p, "blk_update_request: I/O error, dev sr0, sector 0", NULL) == NULL, "cd-rom errors ignored");
    is_str(patterns_match(p, "You are in emergency mode. After logging in, type", &fatal), "emergency-shell", "emergency");

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

    const char *bad = "patterns:\n  - { name: x, regex: \"(\" }\n";
    _cleanup_free_ char *badf = xstrdup("/tmp/kiln-badpat.yml");
    write_file_atomic(badf, bad, strlen(bad), 0644);
    ok(patterns_load(badf, NULL, 0, &d) == NULL && d.n > 0, "a bad regex in a patterns file is an error");
    diags_free(&d);
    unlink(badf);
    secret_clear();
    yfiles_free();
    return tap_done();
}
