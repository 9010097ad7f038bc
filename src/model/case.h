/* Test cases are data plus a function. Built-in cases register themselves in a
 * linker section with KILN_CASE; external suites add cases at run time. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "model/req.h"
#include "model/results.h"

struct kiln_env;
struct kiln_node;
struct kiln_case_ctx;
struct kiln_platform_ctx;

enum { CASE_PASS = 0, CASE_FAIL = 1, CASE_SKIP = 2 };

struct kiln_case {
    const char *name;
    const char *area;
    const char *category; /* functional | performance | stress | community */
    const char *description;
    int priority;         /* LISA meaning: 0 boot fails ... 5 longer than a day */
    int timeout_s;
    const char *const *tags; /* NULL-terminated, may be NULL */
    struct kiln_req requires;
    bool explicit_only;   /* left out when a runbook has no testcase rules (bench helpers) */
    /* crashes or reboots a node on purpose (verify_kdump's sysrq crash): the scheduler runs it
     * after the other cases that share its environment, whatever the selection order */
    bool crashes_node;
    /* Returns CASE_PASS/CASE_FAIL/CASE_SKIP; negative errno = the case could not run (failed). */
    int (*run)(struct kiln_case_ctx *t);
    void *data; /* for cases added at run time */
};

#define KILN_TAGS(...) ((const char *const[]){__VA_ARGS__, NULL})

#define KILN_CASE(fn, ...)                                                                         \
    static int fn##_run(struct kiln_case_ctx *t);                                                  \
    static const struct kiln_case fn##_case = {.name = #fn, .run = fn##_run, __VA_ARGS__};         \
    __attribute__((used, section("kiln_cases"), aligned(sizeof(void *))))                          \
    static const struct kiln_case *const fn##_entry = &fn##_case;                                  \
    static int fn##_run(struct kiln_case_ctx *t)

/* Registry: all known cases, built-in first, sorted by name within each group. */
const struct kiln_case *const *registry_all(size_t *n);
void registry_add(const struct kiln_case *c); /* takes no ownership */
const struct kiln_case *registry_find(const char *name);
