/* Reporters ("notifiers", as LISA calls them) read only the results model. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "model/results.h"

struct kiln_notifier {
    const char *name;
    void (*run_started)(void *self, const struct kiln_results *r);
    void (*case_started)(void *self, const struct kiln_results *r, const struct kiln_result *c);
    void (*case_finished)(void *self, const struct kiln_results *r, const struct kiln_result *c, size_t done);
    /* Writes files into r->dir; returns 0 or -errno with the message in *reterr. */
    int (*run_finished)(void *self, const struct kiln_results *r, char **reterr);
};

struct kiln_notifiers {
    const struct kiln_notifier *v[8];
    void *self[8];
    size_t n;
    size_t total; /* cases in the run, for "[ 3/12]" */
};

extern const struct kiln_notifier notifier_console;
extern const struct kiln_notifier notifier_json;
extern const struct kiln_notifier notifier_junit;
extern const struct kiln_notifier notifier_html;
const struct kiln_notifier *notifier_by_name(const char *name);

void notifiers_add(struct kiln_notifiers *ns, const struct kiln_notifier *n, void *self);
void notifiers_run_started(struct kiln_notifiers *ns, const struct kiln_results *r);
void notifiers_case_started(struct kiln_notifiers *ns, const struct kiln_results *r, const struct kiln_result *c);
void notifiers_case_finished(struct kiln_notifiers *ns, const struct kiln_results *r, const struct kiln_result *c,
                             size_t done);
/* Every notifier's run_finished, even after one failed: 0, or the first failure's -errno with
 * each failure's message in *reterr ("; " between them). */
int notifiers_run_finished(struct kiln_notifiers *ns, const struct kiln_results *r, char **reterr);

/* Console notifier state. Each case's start is a line, and so is its end (with its duration);
 * while cases run, a ticker thread (started by run_started, joined by run_finished) either
 * rewrites the one RUNNING line every second (live: a TTY running one case at a time) or prints
 * "RUNNING ID for 2m00s" every every_s seconds, so a long case is never silent. */
struct console_running {
    char *id;
    double t0, next; /* now_s() at its start, and when its next "for ..." line is due */
};
struct console_notifier {
    FILE *out; /* where the lines go: the command that runs (cmd/run.c) gives its stdout */
    bool tty, live;
    size_t total;
    double every_s; /* 0: 60 */
    /* the notifier's own */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t ticker;
    bool ticking, stop;
    struct console_running *running;
    size_t nrunning, cap;
};
/* What the ticker does each second, at now (now_s()): exported for tests. */
void console_notifier_tick(struct console_notifier *cn, double now);

/* Writes b into r->dir/name atomically and frees b: 0, or -errno with the message in *reterr. */
struct sbuf;
int report_write(const struct kiln_results *r, const char *name, struct sbuf *b, char **reterr);
/* results.json text for r (also used by tests). Caller frees. */
char *results_to_json(const struct kiln_results *r);
