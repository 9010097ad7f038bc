#include "tap.h"
#include "util/util.h"
#include "util/yaml.h"

static char *first_diag(struct diags *d)
{
    if (!d->n) return xstrdup("(none)");
    return xasprintf("%s:%d:%d: %s: %s", d->v[0].file, d->v[0].line, d->v[0].col, d->v[0].path, d->v[0].msg);
}

int main(void)
{
    struct diags d = {0};
    const char *doc = "a: 1\nb:\n  - x\n  - y\nc: { d: true }\n";
    struct ynode *n = yaml_load_string("t.yml", doc, strlen(doc), &d);
    ok(n && n->kind == YN_MAP && d.n == 0, "loads a mapping");
    struct ynode *b = y_get(n, "b");
    ok(b && b->kind == YN_SEQ && b->n == 2, "sequence with two items");
    is_int(b->items[1]->line, 4, "marks are 1-based lines");
    is_int(y_get(n, "a")->col, 4, "marks are 1-based columns");
    long v;
    ok(y_long(&d, y_get(n, "a"), "a", 0, 10, &v) && v == 1, "y_long");
    ok(!y_long(&d, y_get(n, "a"), "a", 5, 10, &v), "y_long range check");
    _cleanup_free_ char *e1 = first_diag(&d);
    is_str(e1, "t.yml:1:4: a: 1 is out of range (5 to 10)", "range error names file:line:col and path");
    diags_free(&d);

    bool bv;
    ok(y_bool(&d, y_get(y_get(n, "c"), "d"), "c.d", &bv) && bv, "y_bool true");
    static const char *const allowed[] = {"alpha", "beta", NULL};
    const char *doc2 = "alhpa: 1\nzzz: 2\n";
    struct ynode *m = yaml_load_string("k.yml", doc2, strlen(doc2), &d);
    ok(!y_check_keys(&d, m, "top", allowed), "unknown keys rejected");
    is_int(d.n, 2, "two unknown keys, two diagnostics");
    has(d.v[0].msg, "did you mean \"alpha\"", "did-you-mean for a near miss");
    has(d.v[1].msg, "expected one of: alpha, beta", "list of keys for a far miss");
    diags_free(&d);
    ynode_free(m);

    const char *bad = "a: [1, 2\nb: 3\n";
    ok(!yaml_load_string("bad.yml", bad, strlen(bad), &d) && d.n == 1, "syntax error reported");
    has(d.v[0].msg, "invalid YAML", "syntax error says so");
    ok(d.v[0].line > 0, "syntax error has a line");
    diags_free(&d);

    const char *dup = "a: 1\na: 2\n";
    ok(!yaml_load_string("dup.yml", dup, strlen(dup), &d), "duplicate keys rejected");
    has(d.v[0].msg, "duplicate key", "duplicate key message");
    diags_free(&d);

    /* a billion-laughs style document must hit the node limit, not exhaust memory */
    struct sbuf lol = {0};
    sbuf_puts(&lol, "a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (char c = 'b'; c <= 'i'; c++)
        sbuf_printf(&lol, "%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n", c, c, c - 1, c - 1, c - 1,
                    c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1);
    ok(!yaml_load_string("lol.yml", lol.s, lol.len, &d), "alias bomb rejected");
    has(d.n ? d.v[0].msg : "", "too deep or too large", "alias bomb reason");
    diags_free(&d);
    sbuf_free(&lol);

    const char *o1 = "x: { p: 1, q: 2 }\nl: [a]\n", *o2 = "x: { q: 3 }\nl: [b]\n";
    struct ynode *base = yaml_load_string("o1", o1, strlen(o1), &d);
    struct ynode *over = yaml_load_string("o2", o2, strlen(o2), &d);
    struct ynode *mg = ynode_merge(base, over);
    is_str(y_get(y_get(mg, "x"), "p")->scalar, "1", "merge keeps base keys");
    is_str(y_get(y_get(mg, "x"), "q")->scalar, "3", "merge: overlay wins");
    is_int(y_get(mg, "l")->n, 2, "merge concatenates lists");
    ynode_free(mg);

    struct ynode *empty = yaml_load_string("e", "", 0, &d);
    ok(empty && empty->kind == YN_MAP && empty->n == 0, "empty document is an empty map");
    ynode_free(empty);
    ynode_free(n);
    yfiles_free();
    return tap_done();
}
