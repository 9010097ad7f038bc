/* Helpers the unit tests of the suites' decisions share: canned guest output as a struct gcap,
 * and a check that a decision returned the verdict kind wanted with the evidence named. */
#ifndef KILN_TEST_VERDICTS_H
#define KILN_TEST_VERDICTS_H

#include "suites/common.h"
#include "tap.h"

/* A command's capture: exit status, stdout, stderr (NULL: empty). The strings are borrowed. */
static inline struct gcap cap(int status, const char *out, const char *err)
{
    return (struct gcap){.status = status, .out = (char *)out, .err = (char *)(err ? err : "")};
}

/* got and v->kind are kind, and v->reason holds want (when not NULL); frees v. */
static inline void expect(enum verdict_kind got, struct verdict *v, enum verdict_kind kind, const char *want, const char *what)
{
    static const char *const names[] = {"pass", "fail", "skip", "nothing"};
    ok(got == kind && v->kind == kind, "%s: %s (got %s: %s)", what, names[kind], names[v->kind],
       v->reason ? v->reason : "");
    if (want) has(v->reason ? v->reason : "", want, what);
    verdict_free(v);
}

#endif
