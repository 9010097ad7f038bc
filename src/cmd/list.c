/* kiln list [RUNBOOK]: the cases a runbook selects (all cases without one). */
#include <jansson.h>

#include "cmd/common.h"
#include "model/case.h"
#include "run/select.h"
#include "util/secret.h"
#include "util/util.h"

static void req_text(const struct kiln_req *r, char *buf, size_t sz)
{
    struct sbuf b = {0};
    if (kiln_req_nodes(r) > 1) sbuf_printf(&b, "nodes>=%d ", kiln_req_nodes(r));
    if (r->cpus) sbuf_printf(&b, "cpus>=%d ", r->cpus);
    if (r->memory_mb) sbuf_printf(&b, "memory>=%dM ", r->memory_mb);
    if (r->nics > 1) sbuf_printf(&b, "nics>=%d ", r->nics);
    if (r->data_disks) sbuf_printf(&b, "disks>=%d ", r->data_disks);
    char f[128];
    kiln_features_format(r->features, f, sizeof f);
    if (*f) sbuf_printf(&b, "%s", f);
    snprintf(buf, sz, "%s", b.s && *b.s ? strstrip(b.s) : "-");
    sbuf_free(&b);
}

void cmd_list_table(FILE *out, const struct kiln_selected *sel, size_t n)
{
    /* each column as wide as its longest entry (at least its heading's old width) */
    int wn = 32, wa = 14, wr = 28;
    char (*req)[128] = xcalloc(n ? n : 1, sizeof *req);
    for (size_t i = 0; i < n; i++) {
        req_text(&sel[i].c->requires, req[i], sizeof req[i]);
        wn = MAX(wn, (int)strlen(sel[i].c->name));
        wa = MAX(wa, (int)strlen(sel[i].c->area));
        wr = MAX(wr, (int)strlen(req[i]));
    }
    fprintf(out, "%-*s %-*s %-2s %-8s %-*s %s\n", wn, "NAME", wa, "AREA", "P", "TIMEOUT", wr, "REQUIRES", "DESCRIPTION");
    for (size_t i = 0; i < n; i++) {
        const struct kiln_case *c = sel[i].c;
        char to[24];
        snprintf(to, sizeof to, "%lds", sel[i].timeout_s);
        fprintf(out, "%-*s %-*s %-2d %-8s %-*s %s\n", wn, c->name, wa, c->area, c->priority, to, wr, req[i],
                c->description ? c->description : "");
    }
    free(req);
}

int cmd_list(int argc, char **argv)
{
    struct cmd_vars vars = {0};
    bool json = false;
    const struct cmd_opt opts[] = {
        {'v', "variable", "NAME=VALUE", CMD_FN, &vars, .fn = cmd_var_opt, .repeat = true,
         .help = "set a runbook variable (s:NAME=VALUE: a secret); repeatable"},
        {0, "json", NULL, CMD_FLAG, &json, .help = "the listing as JSON on stdout"},
        {0},
    };
    const struct cmd_verb v = {
        "list", "[--json] [-v NAME=VALUE]... [RUNBOOK]",
        "Lists the cases RUNBOOK selects, with area, priority, timeout and requirements; every case\n"
        "kiln knows without one.",
        opts, 0, 1, "RUNBOOK",
        .exits = "0 listed, 2 usage, a missing runbook or errors in it (file:line:col)",
        .json = "[{\"name\", \"area\", \"category\", \"priority\", \"description\", \"tags\": [S], \"timeout_s\",\n"
                "\"times\", \"retry\", \"requires\": {\"nodes\", \"cpus\", \"memory_mb\", \"nics\", \"data_disks\", \"features\"}}]",
    };
    int nargs, rc = cmd_parse(&v, argc, argv, &nargs);
    if (rc != CMD_GO) return cmd_vars_free(&vars), rc;
    const char *path = nargs ? argv[1] : NULL;
    struct kiln_runbook *rb = NULL, empty = {0};
    if (path) {
        rb = cmd_load_runbook(path, &vars);
        if (!rb) return cmd_vars_free(&vars), EXIT_USAGE;
    }
    cmd_vars_free(&vars);
    /* case names and descriptions can come from substituted runbook values (extension paths) */
    FILE *out = secret_fwrap(stdout);
    if (!out) {
        runbook_free(rb);
        return EXIT_FAIL;
    }
    if (rb) cmd_warn_unmatched_rules("list", rb);
    struct kiln_selected *sel;
    size_t n = select_cases(rb ? rb : &empty, &sel);
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            const struct kiln_case *c = sel[i].c;
            json_t *tags = json_array();
            for (const char *const *t = c->tags; t && *t; t++) json_array_append_new(tags, json_string(*t));
            char f[128];
            kiln_features_format(c->requires.features, f, sizeof f);
            json_array_append_new(
                arr, json_pack("{s:s,s:s,s:s,s:i,s:s,s:o,s:I,s:I,s:I,s:{s:i,s:i,s:i,s:i,s:i,s:s}}", "name", c->name,
                               "area", c->area, "category", c->category ? c->category : "functional", "priority",
                               c->priority, "description", c->description ? c->description : "", "tags", tags,
                               "timeout_s", (json_int_t)sel[i].timeout_s, "times", (json_int_t)sel[i].times,
                               "retry", (json_int_t)sel[i].retry, "requires", "nodes", kiln_req_nodes(&c->requires),
                               "cpus", c->requires.cpus, "memory_mb", c->requires.memory_mb, "nics",
                               c->requires.nics, "data_disks", c->requires.data_disks, "features", f));
        }
        char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fprintf(out, "%s\n", s);
        free(s);
        json_decref(arr);
    } else {
        cmd_list_table(out, sel, n);
        fprintf(out, "%zu case(s)\n", n);
    }
    fclose(out);
    free(sel);
    runbook_free(rb);
    return EXIT_OK;
}
