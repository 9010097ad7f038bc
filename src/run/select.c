#include "run/select.h"

#include <fnmatch.h>
#include <regex.h>

#include "util/util.h"

/* A criteria's expressions (name, area, category), anchored and compiled once: regcomp of a
 * counted expression can take a second, so a rule is compiled once, not once per case. */
struct criteria_rx {
    regex_t rx[3];
    bool set[3]; /* the expression is given (and compiled) */
    bool bad;    /* one does not compile: the rule matches nothing */
};

static void criteria_compile(const struct kiln_criteria *cr, struct criteria_rx *x)
{
    const char *re[3] = {cr->name, cr->area, cr->category};
    *x = (struct criteria_rx){0};
    for (size_t i = 0; i < 3; i++) {
        if (!re[i]) continue;
        _cleanup_free_ char *anchored = xasprintf("^(%s)$", re[i]);
        if (regcomp(&x->rx[i], anchored, REG_EXTENDED | REG_NOSUB)) {
            x->bad = true;
            continue;
        }
        x->set[i] = true;
    }
}

static void criteria_rx_free(struct criteria_rx *x)
{
    for (size_t i = 0; i < 3; i++)
        if (x->set[i]) regfree(&x->rx[i]);
}

static bool has_tag(const struct kiln_case *c, const char *tag)
{
    for (const char *const *t = c->tags; t && *t; t++)
        if (streq(*t, tag)) return true;
    return false;
}

static bool criteria_match_rx(const struct kiln_criteria *cr, const struct criteria_rx *x, const struct kiln_case *c)
{
    if (x->bad) return false;
    const char *field[3] = {c->name, c->area, c->category ? c->category : "functional"};
    for (size_t i = 0; i < 3; i++)
        if (x->set[i] && regexec(&x->rx[i], field[i] ? field[i] : "", 0, NULL, 0) != 0) return false;
    if (cr->npriorities) {
        bool any = false;
        for (size_t i = 0; i < cr->npriorities; i++) any = any || cr->priorities[i] == c->priority;
        if (!any) return false;
    }
    for (size_t i = 0; i < cr->ntags; i++)
        if (!has_tag(c, cr->tags[i])) return false;
    return true;
}

bool criteria_match(const struct kiln_criteria *cr, const struct kiln_case *c)
{
    struct criteria_rx x;
    criteria_compile(cr, &x);
    bool m = criteria_match_rx(cr, &x, c);
    criteria_rx_free(&x);
    return m;
}

static const char *const action_names[] = {"include", "exclude", "force-include", "force-exclude", "none"};

/* LISA's selection (lisa/testselector.py): include and force-include add every matching case;
 * exclude and force-exclude remove matching cases that are selected at that point; none only
 * changes the settings of selected ones. A forced rule locks the cases it changed against later
 * unforced rules, which then pass them by; a forced rule meeting a lock of the other direction
 * is a conflict (LISA stops there; here each is a message in *conflicts when wanted). */
static size_t apply_rules(const struct kiln_runbook *rb, struct kiln_selected **out, char ***conflicts, size_t *nconf)
{
    size_t n, cap = 0;
    const struct kiln_case *const *all = registry_all(&n);
    bool *on = xcalloc(n, sizeof *on);
    long *lock = xcalloc(n, sizeof *lock);       /* rule index + 1 that forced it; 0 none */
    bool *lock_in = xcalloc(n, sizeof *lock_in); /* the lock keeps it in (else out) */
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
        bool include = rule->action == SEL_INCLUDE || rule->action == SEL_FORCE_INCLUDE;
        bool force = rule->action == SEL_FORCE_INCLUDE || rule->action == SEL_FORCE_EXCLUDE;
        struct criteria_rx x;
        criteria_compile(&rule->criteria, &x);
        for (size_t i = 0; i < n; i++) {
            if (!include && !on[i]) continue;
            if (!criteria_match_rx(&rule->criteria, &x, all[i])) continue;
            if (rule->action != SEL_NONE && lock[i] && lock_in[i] != include) {
                if (force && conflicts) {
                    const struct kiln_tc_rule *by = &rb->rules[lock[i] - 1];
                    *APPEND(*conflicts, *nconf, cap) =
                        xasprintf("%s:%d:%d: testcase[%zu] (%s) conflicts over case %s with testcase[%ld] (%s) at "
                                  "%s:%d:%d; a case can be forced in or out, not both",
                                  rule->at_file, rule->at_line, rule->at_col, r, action_names[rule->action], all[i]->name,
                                  lock[i] - 1, action_names[by->action], by->at_file, by->at_line, by->at_col);
                }
                continue;
            }
            if (rule->action != SEL_NONE) on[i] = include;
            if (force && !lock[i]) {
                lock[i] = (long)r + 1;
                lock_in[i] = include;
            }
            if (include || rule->action == SEL_NONE) {
                if (rule->times >= 0) sel[i].times = rule->times;
                if (rule->retry >= 0) sel[i].retry = rule->retry;
                if (rule->timeout_s >= 0) sel[i].timeout_s = rule->timeout_s;
                if (rule->ignore_failure >= 0) sel[i].ignore_failure = rule->ignore_failure;
            }
        }
        criteria_rx_free(&x);
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (on[i]) sel[k++] = sel[i];
    free(on);
    free(lock);
    free(lock_in);
    if (out) *out = sel;
    else free(sel);
    return k;
}

size_t select_cases(const struct kiln_runbook *rb, struct kiln_selected **out)
{
    return apply_rules(rb, out, NULL, NULL);
}

size_t select_conflicts(const struct kiln_runbook *rb, char ***out)
{
    size_t n = 0;
    *out = NULL;
    apply_rules(rb, NULL, out, &n);
    return n;
}

static bool glob_any(const char *const *globs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (fnmatch(globs[i], name, 0) == 0) return true;
    return false;
}

static bool passes(const struct kiln_select_filter *f, const struct kiln_case *c)
{
    if ((f->nglobs || f->nnames) && !glob_any(f->globs, f->nglobs, c->name)) {
        bool named = false;
        for (size_t i = 0; i < f->nnames && !named; i++) named = streq(f->names[i], c->name);
        if (!named) return false;
    }
    bool want_tag = false, has_wanted = false;
    for (size_t i = 0; i < f->ntags; i++) {
        if (f->tags[i][0] == '!') {
            if (has_tag(c, f->tags[i] + 1)) return false;
        } else {
            want_tag = true;
            has_wanted = has_wanted || has_tag(c, f->tags[i]);
        }
    }
    if (want_tag && !has_wanted) return false;
    bool prio = !f->npriorities;
    for (size_t i = 0; i < f->npriorities && !prio; i++) prio = f->priorities[i] == c->priority;
    return prio;
}

size_t select_filter(struct kiln_selected *sel, size_t n, const struct kiln_select_filter *f, char ***unmatched)
{
    size_t k = 0, nu = 0, cap = 0;
    *unmatched = NULL;
    for (size_t g = 0; g < f->nglobs + f->nnames; g++) {
        bool any = false;
        for (size_t i = 0; i < n && !any; i++)
            any = g < f->nglobs ? fnmatch(f->globs[g], sel[i].c->name, 0) == 0
                                : streq(f->names[g - f->nglobs], sel[i].c->name);
        if (!any) *APPEND(*unmatched, nu, cap) = xstrdup(g < f->nglobs ? f->globs[g] : f->names[g - f->nglobs]);
    }
    if (nu) *APPEND(*unmatched, nu, cap) = NULL;
    for (size_t i = 0; i < n; i++)
        if (passes(f, sel[i].c)) sel[k++] = sel[i];
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
        struct criteria_rx x;
        criteria_compile(&rule->criteria, &x);
        for (size_t i = 0; i < n && !any; i++) any = criteria_match_rx(&rule->criteria, &x, all[i]);
        criteria_rx_free(&x);
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
