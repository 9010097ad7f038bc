/* Live serial console scanner: tails the console file qemu writes from the first
 * byte into a private file, copies it with secrets masked into the run directory, and matches each line against patterns kept as data (data/console-patterns.yml).
 * The same patterns judge the kernel log (verify_dmesg_clean). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/yaml.h"

struct kiln_patterns;

struct console_event {
    char *pattern; /* pattern name, e.g. kernel-panic */
    char *line;    /* the console line, escape sequences removed */
    bool fatal;
    double at_s;   /* seconds since the scanner started */
};

/* The patterns file to use: override (a runbook's console.patterns) or data/console-patterns.yml. */
char *patterns_path(const char *override);
/* Loads a patterns file ({patterns: [{name, regex, fatal}], ignore: [regex]}, POSIX extended
 * regular expressions without back-references); extra_ignore adds ignore expressions.
 * NULL with diagnostics (file:line:col) on error. */
struct kiln_patterns *patterns_load(const char *path, char *const *extra_ignore, size_t nextra, struct diags *d);
void patterns_free(struct kiln_patterns *p);
/* Matches one line; returns the name of the first pattern in file order that matches (and
 * *fatal), or NULL when none does or an ignore expression matches the line. */
const char *patterns_match(const struct kiln_patterns *p, const char *line, bool *fatal);

struct kiln_console;
/* Tails raw (written by qemu) and copies every line, secrets masked, to out. */
struct kiln_console *console_start(const char *raw, const char *out, const struct kiln_patterns *p);
void console_stop(struct kiln_console *c);
/* Number of events so far; cases remember it and look at events after it. */
uint64_t console_mark(struct kiln_console *c);
/* Copies events with index >= mark (caller frees with console_events_free). */
size_t console_events(struct kiln_console *c, uint64_t mark, struct console_event **out);
void console_events_free(struct console_event *v, size_t n);
/* First fatal line seen (stable pointer while the console lives), or NULL. */
const char *console_fatal(struct kiln_console *c);
/* Forgets a fatal event (after the node was replaced or deliberately crashed). */
void console_clear_fatal(struct kiln_console *c);
/* The last n lines (joined with newlines). */
char *console_tail(struct kiln_console *c, int n);
/* Bytes the guest wrote to its console so far, across power cycles (a sign of life). */
uint64_t console_bytes(struct kiln_console *c);
/* Lines seen so far (grows while the guest writes to its console). */
uint64_t console_lines(struct kiln_console *c);
/* Strips ANSI escapes and control characters in place. */
void console_clean_line(char *s);
/* Forgets what the boot watch saw (node/bootwatch.h): the guest is about to boot again. */
void console_boot_reset(struct kiln_console *c);
/* boot_watch_unreachable over the lines since the last reset, now being now_s(). */
bool console_booted_unreachable(struct kiln_console *c, double grace_s, int nic_up, char **reterr);
