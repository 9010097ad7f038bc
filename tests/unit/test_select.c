#include "core/case.h"
#include "core/select.h"
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
    return tap_done();
}
