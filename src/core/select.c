#include "core/select.h"

#include <regex.h>

#include "util/util.h"

static bool full_match(const char *re, const char *s)
{
    if (!re) return true;
    _cleanup_free_ char *anchored = xasprintf("^(%s)$", re);
    regex_t rx;
    if (regcomp(&rx, anchored, REG_EXTENDED | REG_NOSUB)) return false;
    bool m = regexec(&rx, s ? s : "", 0, NULL, 0) == 0;
    regfree(&rx);
    return m;
}

static bool has_tag(const struct kiln_case *c, const char *tag)
{
    for (const char *const *t = c->tags; t && *t; t++)
        if (streq(*t, tag)) return true;
    return false;
}

bool criteria_match(const struct kiln_criteria *cr, const struct kiln_case *c)
{
    if (!full_match(cr->name, c->name) || !full_match(cr->area, c->area) ||
        !full_match(cr->category, c->category ? c->category : "functional"))
        return false;
    if (cr->npriorities) {
        bool any = false;
        for (size_t i = 0; i < cr->npriorities; i++) any = any || cr->priorities[i] == c->priority;
        if (!any) return false;
    }
    for (size_t i = 0; i < cr->ntags; i++)
        if (!has_tag(c, cr->tags[i])) return false;
    return true;
}

size_t select_cases(const struct kiln_runbook *rb, struct kiln_selected **out)
{
    size_t n;
    const struct kiln_case *const *all = registry_all(&n);
    bool *on = xcalloc(n, sizeof *on), *locked = xcalloc(n, sizeof *locked);
    struct kiln_selected *sel = xcalloc(n, sizeof *sel);
    for (size_t i = 0; i < n; i++) {
        sel[i].c = all[i];
        sel[i].times = 1;
        sel[i].retry = 0;
        sel[i].timeout_s = all[i]->timeout_s > 0 ? all[i]->timeout_s : 600;
        on[i] = !rb->has_testcase && !all[i]->explicit_only;
    }
    for (size_t r = 0; r < rb->nrules; r++) {
        const struct kiln_tc_rule *rule = &rb->rules[r];
        for (size_t i = 0; i < n; i++) {
            if (!criteria_match(&rule->criteria, all[i])) continue;
            bool include = rule->action == SEL_INCLUDE || rule->action == SEL_FORCE_INCLUDE;
            bool force = rule->action == SEL_FORCE_INCLUDE || rule->action == SEL_FORCE_EXCLUDE;
            if (locked[i] && !force) continue;
            on[i] = include;
            locked[i] = locked[i] || force;
            if (include) {
                if (rule->times >= 0) sel[i].times = rule->times;
                if (rule->retry >= 0) sel[i].retry = rule->retry;
                if (rule->timeout_s >= 0) sel[i].timeout_s = rule->timeout_s;
                if (rule->ignore_failure >= 0) sel[i].ignore_failure = rule->ignore_failure;
            }
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (on[i]) sel[k++] = sel[i];
    free(on);
    free(locked);
    *out = sel;
    return k;
}

/* The closest of the registry's case names (or areas) to word, when it is a plain word (no
 * regular-expression characters) within the edits the runbook's key suggestions allow
 * (util/yaml.c: two, or a third of its length); NULL otherwise. */
static const char *closest(const char *word, bool area)
{
    if (!word || strpbrk(word, ".*+?[](){}|^$\\")) return NULL;
    size_t n, best_d = MAX(2u, strlen(word) / 3) + 1;
    const char *best = NULL;
    const struct kiln_case *const *all = registry_all(&n);
    for (size_t i = 0; i < n; i++) {
        const char *cand = area ? all[i]->area : all[i]->name;
        size_t d = levenshtein(word, cand);
        if (d > 0 && d < best_d) best_d = d, best = cand;
    }
    return best;
}

size_t select_unmatched_rules(const struct kiln_runbook *rb, char ***out)
{
    size_t n, k = 0, cap = 0;
    const struct kiln_case *const *all = registry_all(&n);
    char **msgs = NULL;
    for (size_t r = 0; r < rb->nrules; r++) {
        const struct kiln_tc_rule *rule = &rb->rules[r];
        bool any = false;
        for (size_t i = 0; i < n && !any; i++) any = criteria_match(&rule->criteria, all[i]);
        if (any) continue;
        const char *nb = closest(rule->criteria.name, false), *ab = closest(rule->criteria.area, true);
        struct sbuf m = {0};
        sbuf_printf(&m, "%s:%d:%d: testcase[%zu] matches no case", rule->at_file, rule->at_line, rule->at_col, r);
        if (nb) sbuf_printf(&m, "; name: did you mean \"%s\"?", nb);
        if (ab) sbuf_printf(&m, "; area: did you mean \"%s\"?", ab);
        sbuf_puts(&m, " (see `kiln list`)");
        *APPEND(msgs, k, cap) = m.s;
    }
    *out = msgs;
    return k;
}
