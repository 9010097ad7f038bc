/* What the dashboard reads from a request before any page is built, kept apart from
 * libmicrohttpd and the store so the fuzz target (tests/fuzz/fuzz_dashboard.c) reaches all of
 * it: the page a URL path names, the sign-in form's fields as libmicrohttpd's post processor
 * hands them over (application/x-www-form-urlencoded, already decoded), and where a browser
 * may be sent after signing in. Every input is untrusted; nothing here allocates. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "service/store.h"

enum kiln_dash_page {
    DASH_NONE,     /* no page of the dashboard: 404 */
    DASH_JOBS,     /* "/" */
    DASH_WORKERS,  /* "/workers" */
    DASH_JOB,      /* "/jobs/ID": ID 1..10^18-1 in decimal, no leading zero */
    DASH_ROLLOUTS, /* "/rollouts" */
    DASH_ROLLOUT,  /* "/rollouts/NAME/CHANNEL": a gallery image name and a channel name */
};

struct kiln_dash_route {
    enum kiln_dash_page page;
    int64_t job;
    char name[ROLLOUT_VERSION_MAX + 1];
    char channel[KILN_STORE_NAME_MAX + 1];
};

/* The read-only page url (a path, percent-decoded by libmicrohttpd) names; r->page is
 * DASH_NONE (and false returned) for anything else. */
bool kiln_dash_route(const char *url, struct kiln_dash_route *r);

/* Whether next is a path of this site to send the browser to after sign-in ("/", "/jobs/7"):
 * starts with one '/', then only [A-Za-z0-9/_.?=&-], at most 200 bytes. */
bool kiln_dash_next_ok(const char *next);

/* The sign-in form's fields: token and next, each a NUL-terminated string within its buffer;
 * too_big once any field (or the body) went past what it holds. */
struct kiln_dash_form {
    char token[KILN_TOKEN_LEN + 1];
    char next[201];
    size_t body;
    bool too_big;
    const char *twice; /* "token" or "next" when the form holds it more than once, else NULL */
    unsigned ntoken, nnext;
};
/* One piece of a field's value, size bytes at offset off of it (libmicrohttpd's
 * MHD_PostDataIterator): the pieces of token and next are kept, other keys ignored, a value
 * that does not fit sets too_big and is dropped; a second token or next (a piece at offset 0
 * again) sets twice, as a query parameter given twice is refused. */
void kiln_dash_form_field(struct kiln_dash_form *f, const char *key, const char *data, uint64_t off, size_t size);
