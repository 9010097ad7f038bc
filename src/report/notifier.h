/* Reporters ("notifiers", as LISA calls them) read only the results model. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "core/results.h"

struct kiln_notifier {
    const char *name;
    void (*run_started)(void *self, const struct kiln_results *r);
    void (*case_started)(void *self, const struct kiln_results *r, const struct kiln_result *c);
    void (*case_finished)(void *self, const struct kiln_results *r, const struct kiln_result *c, size_t done);
    /* Writes files into r->dir; returns 0 or -errno. */
    int (*run_finished)(void *self, const struct kiln_results *r);
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
int notifiers_run_finished(struct kiln_notifiers *ns, const struct kiln_results *r);

/* Console notifier state: live lines go to out. */
struct console_notifier {
    bool tty, live;
    size_t total;
};

/* Writes b into r->dir/name atomically and frees b; logs and returns -errno on failure. */
struct sbuf;
int report_write(const struct kiln_results *r, const char *name, struct sbuf *b);
/* results.json text for r (also used by tests). Caller frees. */
char *results_to_json(const struct kiln_results *r);
/* Escapes text for XML/HTML (any bytes: ill-formed UTF-8 and characters XML cannot hold become
 * U+FFFD). Caller frees. */
char *xml_escape(const char *s);
