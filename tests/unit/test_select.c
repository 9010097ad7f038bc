#include "model/case.h"
#include "run/select.h"
#include "tap.h"
#include "util/util.h"

static int noop(struct kiln_case_ctx *t)
{
    (void)t;
    return CASE_PASS;
}

static const struct kiln_case extra[] = {
    {.name = "zz_storage_a", .area = "storage", .priority = 1, .run = noop, .tags = KILN_TAGS("fast")},
    {.name = "zz_storage_b", .area = "storage", .priority = 2, .run = noop},
    {.name = "zz_net_a", .area = "network", .priority = 0, .run = noop, .tags = KILN_TAGS("fast", "net")},
};

static bool selected(struct kiln_selected *s, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (streq(s[i].c->name, name)) return true;
    return false;
}

static struct kiln_tc_rule rule(const char *name, int action, long times)
{
    return (struct kiln_tc_rule){.criteria = {.name = (char *)name}, .action = action, .times = times, .retry = -1,
                                 .timeout_s = -1, .ignore_failure = -1, .at_file = "rb.yml", .at_line = 1, .at_col = 3};
}

static long times_of(struct kiln_selected *s, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (streq(s[i].c->name, name)) return s[i].times;
    return -1;
}

/* LISA's selection (lisa/testselector.py), case by case. */
static void test_lisa_semantics(void)
{
    struct kiln_runbook rb = {.has_testcase = true};
    struct kiln_selected *s;
    struct kiln_tc_rule r1[] = {rule("zz_storage_.*", SEL_INCLUDE, -1), rule("zz_.*", SEL_NONE, 5)};
    rb.rules = r1;
    rb.nrules = 2;
    size_t n = select_cases(&rb, &s);
    ok(n == 2 && !selected(s, n, "zz_net_a"), "none selects nothing");
    is_int(times_of(s, n, "zz_storage_a"), 5, "none sets times of the cases selected before it");
    free(s);

    struct kiln_tc_rule r2[] = {rule("zz_net_a", SEL_FORCE_EXCLUDE, -1), rule("zz_.*", SEL_INCLUDE, -1)};
    rb.rules = r2;
    n = select_cases(&rb, &s);
    ok(selected(s, n, "zz_net_a"), "force-exclude of a case not selected yet locks nothing (LISA's order)");
    free(s);

    struct kiln_tc_rule r3[] = {rule("zz_net_a", SEL_FORCE_INCLUDE, -1), rule("zz_.*", SEL_EXCLUDE, -1),
                                rule("zz_net_a", SEL_INCLUDE, 3)};
    rb.rules = r3;
    rb.nrules = 3;
    n = select_cases(&rb, &s);
    ok(n == 1 && selected(s, n, "zz_net_a"), "exclude passes a force-included case by");
    is_int(times_of(s, n, "zz_net_a"), 3, "a later include still sets its times");
    free(s);
    char **conf;
    is_int(select_conflicts(&rb, &conf), 0, "no conflict among them");
    free(conf);

    struct kiln_tc_rule r4[] = {rule("zz_net_a", SEL_FORCE_INCLUDE, -1), rule("zz_net_.*", SEL_FORCE_EXCLUDE, -1)};
    r4[1].at_line = 2;
    rb.rules = r4;
    rb.nrules = 2;
    n = select_cases(&rb, &s);
    ok(selected(s, n, "zz_net_a"), "a conflicting force-exclude leaves the earlier lock");
    free(s);
    ok(select_conflicts(&rb, &conf) == 1 &&
           streq(conf[0], "rb.yml:2:3: testcase[1] (force-exclude) conflicts over case zz_net_a with testcase[0] "
                          "(force-include) at rb.yml:1:3; a case can be forced in or out, not both"),
       "the conflict is named with both rules' places");
    if (conf) free(conf[0]);
    free(conf);
}

/* kola-style narrowing on the command line. */
static void test_filter(void)
{
    struct kiln_tc_rule r[] = {rule("zz_.*", SEL_INCLUDE, -1)};
    struct kiln_runbook rb = {.has_testcase = true, .rules = r, .nrules = 1};
    struct kiln_selected *s;
    char **un;
    const char *g1[] = {"zz_storage_*"};
    size_t n = select_cases(&rb, &s);
    size_t k = select_filter(s, n, &(struct kiln_select_filter){.globs = g1, .nglobs = 1}, &un);
    ok(k == 2 && selected(s, k, "zz_storage_a") && selected(s, k, "zz_storage_b") && !un, "a glob over case names");
    free(s);
    const char *tags[] = {"net", "nothing"};
    n = select_cases(&rb, &s);
    k = select_filter(s, n, &(struct kiln_select_filter){.tags = tags, .ntags = 2}, &un);
    ok(k == 1 && selected(s, k, "zz_net_a"), "--tag: a case carrying any of them");
    free(s);
    const char *notnet[] = {"!net"};
    long prio[] = {0, 1};
    n = select_cases(&rb, &s);
    k = select_filter(s, n, &(struct kiln_select_filter){.tags = notnet, .ntags = 1, .priorities = prio, .npriorities = 2},
                      &un);
    ok(k == 1 && selected(s, k, "zz_storage_a"), "--tag !net and --priority 0,1");
    free(s);
    const char *g2[] = {"zz_net_?", "smoke", "zz_q*"};
    const char *names[] = {"zz_storage_b"};
    n = select_cases(&rb, &s);
    k = select_filter(s, n, &(struct kiln_select_filter){.globs = g2, .nglobs = 3, .names = names, .nnames = 1}, &un);
    ok(k == 2 && selected(s, k, "zz_net_a") && selected(s, k, "zz_storage_b"), "globs and names: either lets a case through");
    ok(un && un[0] && streq(un[0], "smoke") && un[1] && streq(un[1], "zz_q*") && !un[2],
       "globs that match none of the runbook's selection are named (smoke exists but is not selected)");
    for (char **u = un; u && *u; u++) free(*u);
    free(un);
    free(s);
}

int main(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(extra); i++) registry_add(&extra[i]);
    ok(registry_find("smoke") != NULL, "built-in cases are in the registry via the linker section");
    ok(registry_find("zz_net_a") != NULL, "added cases are found");

    struct kiln_runbook rb = {0};
    struct kiln_selected *s;
    size_t n = select_cases(&rb, &s);
    size_t all;
    registry_all(&all);
    is_int(n, all - 1, "no testcase section selects everything but explicit-only cases");
    ok(!selected(s, n, "kiln_noop"), "kiln_noop needs a rule that names it");
    free(s);

    struct kiln_tc_rule rules[3] = {0};
    long prio[] = {0, 1};
    char *tags[] = {"fast"};
    rules[0] = (struct kiln_tc_rule){.criteria = {.area = "storage|network"}, .action = SEL_INCLUDE, .times = 2,
                                     .retry = -1, .timeout_s = 30, .ignore_failure = -1};
    rules[1] = (struct kiln_tc_rule){.criteria = {.name = "zz_storage_b"}, .action = SEL_FORCE_EXCLUDE, .times = -1,
                                     .retry = -1, .timeout_s = -1, .ignore_failure = -1};
    rules[2] = (struct kiln_tc_rule){.criteria = {.name = "zz_.*"}, .action = SEL_INCLUDE, .times = -1, .retry = 3,
                                     .timeout_s = -1, .ignore_failure = -1};
    rb.rules = rules;
    rb.nrules = 3;
    rb.has_testcase = true;
    n = select_cases(&rb, &s);
    ok(selected(s, n, "zz_storage_a") && selected(s, n, "zz_net_a"), "area regex includes");
    ok(!selected(s, n, "zz_storage_b"), "force-exclude wins over a later include");
    ok(!selected(s, n, "smoke"), "cases no rule names stay out");
    for (size_t i = 0; i < n; i++)
        if (streq(s[i].c->name, "zz_net_a")) {
            is_int(s[i].times, 2, "times from the first rule");
            is_int(s[i].retry, 3, "retry from a later rule");
            is_int(s[i].timeout_s, 30, "timeout override");
        }
    free(s);

    struct kiln_criteria c = {.priorities = prio, .npriorities = 2, .tags = tags, .ntags = 1};
    ok(criteria_match(&c, &extra[0]), "priority 1 with tag fast matches");
    ok(!criteria_match(&c, &extra[1]), "priority 2 does not");
    struct kiln_criteria anchored = {.name = "zz_net"};
    ok(!criteria_match(&anchored, &extra[2]), "name criteria match the whole name");
    test_lisa_semantics();
    test_filter();
    return tap_done();
}
