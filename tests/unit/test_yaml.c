#include <stddef.h>

#include "tap.h"
#include "util/util.h"
#include "util/yaml.h"

static char *first_diag(struct diags *d)
{
    if (!d->n) return xstrdup("(none)");
    return xasprintf("%s:%d:%d: %s: %s", d->v[0].file, d->v[0].line, d->v[0].col, d->v[0].path, d->v[0].msg);
}

static char *load_err(const char *name, const char *text, size_t len)
{
    struct diags d = {0};
    struct ynode *n = yaml_load_string(name, text, len, &d);
    char *e = n ? xstrdup("(loaded)") : first_diag(&d);
    ynode_free(n);
    diags_free(&d);
    return e;
}

/* Documents shaped to cost time or memory: each stops at its limit, at the node past it. */
static void test_hostile(void)
{
    /* 100000 nested [ (200 KB): stops at the first past the limit, not after parsing them all */
    size_t deep = 100000;
    char *text = xmalloc(2 * deep + 4);
    memcpy(text, "a: ", 3);
    memset(text + 3, '[', deep);
    memset(text + 3 + deep, ']', deep);
    _cleanup_free_ char *e1 = load_err("deep.yml", text, 3 + 2 * deep);
    is_str(e1, "deep.yml:1:67: : nested deeper than 64 levels", "100000 nested [ stop at the 64th (level 65 with the top map, column 67)");
    free(text);
    /* the same in block style */
    struct sbuf b = {0};
    for (int i = 0; i < 70; i++) sbuf_printf(&b, "%*sk:\n", 2 * i, "");
    _cleanup_free_ char *e2 = load_err("block.yml", b.s, b.len);
    is_str(e2, "block.yml:65:129: : nested deeper than 64 levels", "block mappings 70 deep stop at the 65th (line 65)");
    sbuf_free(&b);
    /* a NUL inside a quoted value would be cut off by every C consumer: refused */
    _cleanup_free_ char *enul = load_err("nul.yml", "name: \"a\\u0000b\"\n", 17);
    is_str(enul, "nul.yml:1:7: : a value holds a NUL character (\\0); remove it", "a NUL in a value is an error at it");
    /* 64 levels are fine */
    struct sbuf ok64 = {0};
    for (int i = 0; i < 64; i++) sbuf_puts(&ok64, "[");
    for (int i = 0; i < 64; i++) sbuf_puts(&ok64, "]");
    _cleanup_free_ char *e3 = load_err("ok64.yml", ok64.s, ok64.len);
    is_str(e3, "(loaded)", "64 nested lists load");
    sbuf_free(&ok64);

    /* 99990 keys: the duplicate check is O(n log n); the one repeat is found, with both lines */
    struct sbuf keys = {0};
    for (int i = 0; i < 99990; i++) sbuf_printf(&keys, "k%d: v\n", i);
    _cleanup_free_ char *e4 = load_err("keys.yml", keys.s, keys.len);
    is_str(e4, "(loaded)", "99990 distinct keys load");
    sbuf_puts(&keys, "k77: again\nk5: again\n");
    _cleanup_free_ char *e5 = load_err("keys.yml", keys.s, keys.len);
    is_str(e5, "keys.yml:99991:1: : duplicate key \"k77\" (first at line 78); each key may appear once in a mapping",
           "the first repeated key in file order is reported at its line, naming the first");
    sbuf_free(&keys);
    _cleanup_free_ char *e6 = load_err("dup3.yml", "m: { a: 1, b: 2, a: 3, a: 4 }\n", 29);
    is_str(e6, "dup3.yml:1:18: : duplicate key \"a\" (first at line 1); each key may appear once in a mapping",
           "a key three times: reported at its second occurrence");

    /* a second document is an error at its line, never silently dropped */
    const char *two = "# header\nname: a\n---\nname: b\n";
    _cleanup_free_ char *e7 = load_err("two.yml", two, strlen(two));
    has(e7, "two.yml:3:1: : more than one YAML document in the file (the first starts at line 2)",
        "second document: error at its '---'");
    const char *one = "---\nname: a\n...\n";
    _cleanup_free_ char *e8 = load_err("one.yml", one, strlen(one));
    is_str(e8, "(loaded)", "one explicit document with '---' and '...' loads");
    const char *two_end = "name: a\n...\n---\nname: b\n";
    _cleanup_free_ char *e9 = load_err("two2.yml", two_end, strlen(two_end));
    has(e9, "two2.yml:3:1: : more than one YAML document", "a document after '...' is a second document too");

    /* aliases: a large scalar copied many times hits the text limit */
    struct sbuf big = {0};
    sbuf_puts(&big, "a: &a \"");
    for (int i = 0; i < (1 << 20); i++) sbuf_puts(&big, "x");
    sbuf_puts(&big, "\"\nb: [");
    for (int i = 0; i < 40; i++) sbuf_puts(&big, "*a, ");
    sbuf_puts(&big, "*a]\n");
    _cleanup_free_ char *e10 = load_err("big.yml", big.s, big.len);
    has(e10, "big.yml:2:", "aliases of a 1 MiB scalar: stopped inside the list that copies it");
    has(e10, "32 MiB of text once aliases are expanded", "aliases of a 1 MiB scalar: the text limit");
    sbuf_free(&big);
    const char *cyc = "a: &x [1, *x]\n";
    _cleanup_free_ char *e11 = load_err("cyc.yml", cyc, strlen(cyc));
    is_str(e11, "cyc.yml:1:11: : alias *x is inside the node it refers to (a cycle)", "recursive alias refused");
    const char *undef = "a: *nope\n";
    _cleanup_free_ char *e12 = load_err("undef.yml", undef, strlen(undef));
    has(e12, "undef.yml:1:4:", "unknown alias located");
    const char *alias_ok = "base: &b { x: 1, l: [p, q] }\ncopy: *b\n";
    struct diags d = {0};
    struct ynode *n = yaml_load_string("alias.yml", alias_ok, strlen(alias_ok), &d);
    const struct ynode *c = y_get(n, "copy");
    ok(c && c->kind == YN_MAP && c->n == 4 && streq(y_get(c, "x")->scalar, "1") && y_get(c, "l")->n == 2 && c->line == 2,
       "an alias is a copy of its anchor's subtree, marked where the alias is");
    ynode_free(n);
    const char *mkey = "? [a]\n: 1\n";
    _cleanup_free_ char *e13 = load_err("mkey.yml", mkey, strlen(mkey));
    has(e13, "mapping keys must be plain strings", "a list as a key refused");

    /* merging two maps of 50000 keys each (includes): sorted lookup, not one scan per key */
    struct sbuf m1 = {0}, m2 = {0};
    for (int i = 0; i < 50000; i++) sbuf_printf(&m1, "k%d: %d\n", i, i), sbuf_printf(&m2, "k%d: o\n", i + 25000);
    struct ynode *a = yaml_load_string("m1", m1.s, m1.len, &d), *o = yaml_load_string("m2", m2.s, m2.len, &d);
    struct ynode *mg = ynode_merge(a, o);
    ok(mg && mg->n == 2 * 75000 && streq(y_get(mg, "k24999")->scalar, "24999") && streq(y_get(mg, "k25000")->scalar, "o") &&
           streq(y_get(mg, "k74999")->scalar, "o"),
       "merge of 50000 + 50000 keys with 25000 in common: 75000 keys, overlay wins");
    ynode_free(mg);
    sbuf_free(&m1);
    sbuf_free(&m2);
    diags_free(&d);
}

/* YAML 1.1 merge keys (<<), as LISA's runbooks use them through PyYAML. */
static void test_merge_keys(void)
{
    struct diags d = {0};
    const char *t1 = "base: &b {a: 1, b: 2}\nx:\n  <<: *b\n  b: 3\n";
    struct ynode *n = yaml_load_string("m1.yml", t1, strlen(t1), &d);
    struct ynode *x = y_get(n, "x");
    ok(x && x->n == 4 && !y_get(x, "<<"), "<<: *b leaves two keys and no \"<<\"");
    is_str(y_get(x, "a") ? y_get(x, "a")->scalar : "-", "1", "a key only the source sets is merged");
    is_str(y_get(x, "b") ? y_get(x, "b")->scalar : "-", "3", "the mapping's own key wins, though written after <<");
    ok(y_get(x, "a") && y_get(x, "a")->line == 1 && y_get(x, "a")->col == 14,
       "a merged value keeps where it is written (in the anchor, 1:14)");
    ynode_free(n);

    const char *t2 = "p: &p {a: 1}\nq: &q {a: 2, c: 3}\nr: &r {<<: *p, j: 4}\nx: {<<: [*r, *q]}\n";
    n = yaml_load_string("m2.yml", t2, strlen(t2), &d);
    x = y_get(n, "x");
    is_str(x && y_get(x, "a") ? y_get(x, "a")->scalar : "-", "1", "in a list of sources the earlier wins");
    is_str(x && y_get(x, "c") ? y_get(x, "c")->scalar : "-", "3", "keys only the later source sets are merged");
    is_str(x && y_get(x, "j") ? y_get(x, "j")->scalar : "-", "4", "a source that merged another brings both");
    is_int(x ? x->n : 0, 6, "three keys, each once");
    ynode_free(n);

    const char *t3 = "x: {\"<<\": 1}\n";
    n = yaml_load_string("m3.yml", t3, strlen(t3), &d);
    is_str(y_get(y_get(n, "x"), "<<") ? y_get(y_get(n, "x"), "<<")->scalar : "-", "1", "a quoted \"<<\" is an ordinary key");
    ynode_free(n);
    is_int(d.n, 0, "no diagnostics for the valid merges");

    _cleanup_free_ char *e1 = load_err("m4.yml", "x: {<<: 5}\n", 11);
    is_str(e1, "m4.yml:1:9: : the merge key \"<<\" takes a mapping (<<: *anchor) or a list of mappings (<<: [*a, *b]), got a scalar",
           "a scalar merge source: an error where it is written");
    const char *t5 = "a: &a {k: 1}\nx: {<<: [*a, zz]}\n";
    _cleanup_free_ char *e2 = load_err("m5.yml", t5, strlen(t5));
    has(e2, "m5.yml:2:14: : the merge key", "a scalar in the list of sources: located at it");
    has(e2, "got a scalar in its list", "a scalar in the list of sources: named");
    const char *t6 = "a: &a [1, 2]\nx:\n  <<: *a\n";
    _cleanup_free_ char *e3 = load_err("m6.yml", t6, strlen(t6));
    has(e3, "m6.yml:1:8: : the merge key \"<<\" takes a mapping", "an alias of a list of scalars: located at the scalar");
    _cleanup_free_ char *e4 = load_err("m7.yml", "x: {<<: {a: 1}, <<: {b: 2}}\n", 27);
    has(e4, "duplicate key \"<<\"", "two merge keys in one mapping: a duplicate key, as in any mapping");

    /* an anchor on a merge source, or inside a value the merge drops, still names its node
     * whole afterwards (fuzz_yaml found a use after free here) */
    struct diags d2 = {0};
    const char *t9 = "x: {<<: &b {a: 1, c: 5}, c: 6}\ny: *b\nz: {a: 2, <<: {a: &k 1}}\nw: *k\nv: {<<: &l [{q: 1}]}\nu: *l\n";
    struct ynode *n9 = yaml_load_string("m9.yml", t9, strlen(t9), &d2);
    is_int(d2.n, 0, "anchored merge sources load");
    struct ynode *y9 = y_get(n9, "y"), *x9 = y_get(n9, "x");
    ok(y9 && y9->kind == YN_MAP && y9->n == 4, "an anchor on the merge source (<<: &b {...}) is whole for a later *b");
    is_str(y9 && y_get(y9, "c") ? y_get(y9, "c")->scalar : "-", "5", "with its own values, not the merging map's");
    is_str(x9 && y_get(x9, "c") ? y_get(x9, "c")->scalar : "-", "6", "while the merging map's own key wins in it");
    is_str(y_get(n9, "w") ? y_get(n9, "w")->scalar : "-", "1", "an anchor inside a value the merge drops still names it");
    is_str(y_get(y_get(n9, "z"), "a") ? y_get(y_get(n9, "z"), "a")->scalar : "-", "2", "and the mapping keeps its own value");
    struct ynode *u9 = y_get(n9, "u");
    ok(u9 && u9->kind == YN_SEQ && u9->n == 1 && u9->items[0]->n == 2, "an anchored list of sources is whole for a later alias");
    ynode_free(n9);
    diags_free(&d2);
    /* the input fuzz_yaml found */
    const char *t10 = "base: &b {a: 1, b: [x], y}\nmore: &m {a: 3, <<: *b}\nx:\n  <<: &b {a: 1, b: [x, ye: &b {1, l: [p, ase: &bq] }\n]}\n"
                      "more: &m {a:  <3,<: *b}\n<<\": quoted\nx:\n  <<: [*m, *b]\n  a: 2\n\"<<\": [*m, *b]\n  a: 2\n\"<<\": quoted\n";
    struct ynode *n10 = yaml_load_string("m10.yml", t10, strlen(t10), &d2);
    ok(d2.n > 0, "the fuzzer's input is refused with a diagnostic, nothing read after a free");
    ynode_free(n10);
    diags_free(&d2);

    /* merging copies through aliases, each charged: 2000 merges of a 300-key mapping stop at the node limit */
    struct sbuf big = {0};
    sbuf_puts(&big, "a: &a {");
    for (int i = 0; i < 300; i++) sbuf_printf(&big, "%sk%d: %d", i ? ", " : "", i, i);
    sbuf_puts(&big, "}\nl:\n");
    for (int i = 0; i < 2000; i++) sbuf_puts(&big, "  - <<: *a\n");
    _cleanup_free_ char *e5 = load_err("m8.yml", big.s, big.len);
    has(e5, "more than 200000 nodes", "merge keys stay within the node limit");
    sbuf_free(&big);
    diags_free(&d);
}

/* ---- schema tables ---- */

struct item {
    char *label;
    long weight;
};

struct conf {
    char *name, *color, *tag;
    bool on;
    long count;
    int small, level;
    char **words;
    size_t nwords;
    long *ports;
    size_t nports;
    struct item *items;
    size_t nitems;
    struct {
        bool deep;
    } sub;
    int custom_seen, post_seen;
};

static void item_init(void *t) { ((struct item *)t)->weight = 7; }

/* the custom row: counts its calls and checks it is handed the target struct */
static void field_odd(const struct yparse *p, const struct yfield *f, const struct ynode *n, const char *path,
                      void *target)
{
    (void)f;
    struct conf *c = target;
    c->custom_seen++;
    if (n->kind != YN_SCALAR || strlen(n->scalar) % 2 == 0) diag_add(p->d, n, path, "wants an odd length");
}

/* a check after a typed read: runs only when the read succeeded */
static void check_name(const struct yparse *p, const struct yfield *f, const struct ynode *n, const char *path,
                       void *target)
{
    if (streq(*(char **)yf_value(f, target), "bad")) diag_add(p->d, n, path, "name is bad");
}

static void conf_post(const struct yparse *p, const struct ynode *map, const char *path, void *target)
{
    (void)p, (void)map, (void)path;
    ((struct conf *)target)->post_seen = ((struct conf *)target)->custom_seen + 1;
}

static const struct yschema item_schema = {
    .fields = (const struct yfield[]){
        {"label", YF_STR, offsetof(struct item, label), .missing = "needs \"label\""},
        {"weight", YF_LONG, offsetof(struct item, weight), .min = 1, .max = 9},
        {0}},
    .init = item_init,
};

static const struct yschema conf_schema = {
    .fields = (const struct yfield[]){
        {"name", YF_STR, offsetof(struct conf, name), .parse = check_name, .missing = "missing \"name:\"",
         .flags = YF_MISSING_KEY_PATH},
        {"on", YF_BOOL, offsetof(struct conf, on)},
        {"count", YF_LONG, offsetof(struct conf, count), .min = 0, .max = 10},
        {"small", YF_INT, offsetof(struct conf, small), .min = -3, .max = 3},
        {"level", YF_ENUM, offsetof(struct conf, level), .names = (const char *const[]){"low", "high", NULL},
         .values = (const int[]){10, 20}},
        {"color", YF_ENUM_STR, offsetof(struct conf, color), .names = (const char *const[]){"red", "green", NULL}},
        {"words", YF_STR_LIST, offsetof(struct conf, words), offsetof(struct conf, nwords)},
        {"ports", YF_LONG_LIST, offsetof(struct conf, ports), offsetof(struct conf, nports), .min = 1, .max = 65535},
        {"items", YF_SEQ, offsetof(struct conf, items), offsetof(struct conf, nitems), .sub = &item_schema,
         .elem_size = sizeof(struct item)},
        {"sub", YF_MAP, offsetof(struct conf, sub),
         .sub = &(const struct yschema){.fields = (const struct yfield[]){{"deep", YF_BOOL, 0}, {0}}}},
        {"odd", YF_CUSTOM, 0, .parse = field_odd},
        {"later", YF_SKIP, 0},
        {0}},
    .post = conf_post,
};

static void conf_free(struct conf *c)
{
    free(c->name);
    free(c->color);
    for (size_t i = 0; i < c->nwords; i++) free(c->words[i]);
    free(c->words);
    free(c->ports);
    for (size_t i = 0; i < c->nitems; i++) free(c->items[i].label);
    free(c->items);
}

/* Loads text and reads it by conf_schema; the diagnostics as "L:C path: msg" lines. */
static char *schema_read(const char *text, struct conf *c)
{
    struct diags d = {0};
    struct ynode *n = yaml_load_string("c.yml", text, strlen(text), &d);
    if (n) yschema_apply(&(struct yparse){&d, NULL}, n, "", &conf_schema, c);
    struct sbuf b = {0};
    for (size_t i = 0; i < d.n; i++) sbuf_printf(&b, "%d:%d %s: %s\n", d.v[i].line, d.v[i].col, d.v[i].path, d.v[i].msg);
    ynode_free(n);
    diags_free(&d);
    return b.s ? sbuf_steal(&b) : xstrdup("");
}

static void test_schema(void)
{
    struct conf c = {0};
    _cleanup_free_ char *e = schema_read("# a comment first\n"
                                         "name: n\non: yes\ncount: 10\nsmall: -3\nlevel: high\ncolor: green\n"
                                         "words: [a, b]\nports: 22\nitems:\n  - {label: x}\n  - {label: y, weight: 2}\n"
                                         "sub: {deep: true}\nodd: abc\nlater: [anything]\n", &c);
    is_str(e, "", "a valid file reads without a diagnostic");
    ok(streq(c.name, "n") && c.on && c.count == 10 && c.small == -3, "string, bool, long and int land at their offsets");
    is_int(c.level, 20, "an enum stores values[index] when the row gives values");
    is_str(c.color, "green", "an enum string stores a copy of the name");
    ok(c.nwords == 2 && streq(c.words[1], "b") && c.nports == 1 && c.ports[0] == 22, "lists: a scalar is a list of one");
    ok(c.nitems == 2 && streq(c.items[0].label, "x") && c.items[0].weight == 7 && c.items[1].weight == 2,
       "a list of mappings: each element initialised, then read");
    ok(c.sub.deep, "a nested mapping reads into the struct at its offset");
    is_int(c.custom_seen, 1, "the custom row is called once");
    is_int(c.post_seen, 2, "post runs after every row");
    conf_free(&c);

    struct conf c2 = {0};
    _cleanup_free_ char *e2 = schema_read("nmae: x\ncount: 11\nsmall: 4\nlevel: hihg\ncolor: [red]\nports: [1, 0]\n"
                                          "items: [{weight: 3}, 5]\nodd: ab\non: maybe\n", &c2);
    is_str(e2, "1:1 nmae: unknown key \"nmae\"; did you mean \"name\"?\n"
               "1:1 name: missing \"name:\"\n"
               "9:5 on: expected true or false, got \"maybe\"\n"
               "2:8 count: 11 is out of range (0 to 10)\n"
               "3:8 small: 4 is out of range (-3 to 3)\n"
               "4:8 level: expected one of low | high, got \"hihg\"; did you mean \"high\"?\n"
               "5:8 color: expected one of red | green, got a list\n"
               "6:12 ports[1]: 0 is out of range (1 to 65535)\n"
               "7:9 items[0]: needs \"label\"\n"
               "7:22 items[1]: expected a mapping, got a scalar\n"
               "8:6 odd: wants an odd length\n",
           "each rule reports once, at file:line:col, in table order after the unknown keys");
    ok(c2.nitems == 1 && c2.items[0].weight == 3, "a list item that is not a mapping is left out");
    conf_free(&c2);

    struct conf c3 = {0};
    _cleanup_free_ char *e3 = schema_read("name: bad\nwords: {a: 1}\n", &c3);
    is_str(e3, "1:7 name: name is bad\n2:8 words: expected a string or a list of strings, got a mapping\n",
           "a row's check runs after its read succeeded");
    conf_free(&c3);
    struct conf c4 = {0};
    _cleanup_free_ char *e4 = schema_read("[1, 2]\n", &c4);
    is_str(e4, "1:1 : expected a mapping, got a list\n", "the top must be a mapping");
    conf_free(&c4);
    struct conf c5 = {0};
    _cleanup_free_ char *e5 = schema_read("# the name is missing\n\non: true\n", &c5);
    is_str(e5, "1:1 name: missing \"name:\"\n", "a key missing at the top is named at 1:1, not where the first key is");
    conf_free(&c5);

    /* y_str_list appends: what the list held stays (it used to be zeroed and leaked) */
    struct diags d = {0};
    const char *lists = "a: [x, y, z, w]\nb: [v]\n", *nulls = "a:\nb: ~\nc: null\nd: ''\ne: x\n";
    struct ynode *n = yaml_load_string("l.yml", lists, strlen(lists), &d);
    char **v = NULL;
    size_t nv = 0;
    ok(y_str_list(&d, y_get(n, "a"), "a", &v, &nv) && y_str_list(&d, y_get(n, "b"), "b", &v, &nv), "two lists read");
    ok(nv == 5 && streq(v[0], "x") && streq(v[3], "w") && streq(v[4], "v"), "the second list is appended to the first");
    for (size_t i = 0; i < nv; i++) free(v[i]);
    free(v);
    ynode_free(n);
    n = yaml_load_string("n.yml", nulls, strlen(nulls), &d);
    ok(y_null(y_get(n, "a")) && y_null(y_get(n, "b")) && y_null(y_get(n, "c")), "empty, ~ and null are null");
    ok(!y_null(y_get(n, "d")) && !y_null(y_get(n, "e")) && !y_null(NULL), "a quoted empty string and a word are not");
    ynode_free(n);
    diags_free(&d);
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

    /* hostile findings: "010" was read as 10 where YAML 1.1 (PyYAML, LISA) reads octal 8, and a
     * quoted number was refused as "expected an integer, got \"1024\"", which reads as a number */
    {
        const char *nums = "o: 010\nm: -010\nz: 00\nq: \"1024\"\nl: [1, 08]\nok0: 0\nneg0: -0\nplus: +7\n";
        struct ynode *y = yaml_load_string("n.yml", nums, strlen(nums), &d);
        long w = -1, *lv = NULL;
        size_t nl = 0;
        ok(y && !y_long(&d, y_get(y, "o"), "o", 0, 100, &w) && w == -1, "010 is not an integer");
        ok(!y_long(&d, y_get(y, "m"), "m", -100, 100, &w) && !y_long(&d, y_get(y, "z"), "z", 0, 100, &w), "nor -010 or 00");
        ok(!y_long(&d, y_get(y, "q"), "q", 0, 2000, &w), "a quoted number is a string");
        ok(!y_long_list(&d, y_get(y, "l"), "l", 0, 100, &lv, &nl), "08 in a list");
        ok(d.n == 5, "five diagnostics (%zu)", d.n);
        if (d.n == 5) {
            is_str(d.v[0].msg, "expected an integer, got \"010\", an octal number in YAML 1.1 (write it without the leading 0)",
                   "the octal reading is named");
            is_str(d.v[3].msg, "expected an integer, got \"1024\" in quotes, a string (write a number without quotes)",
                   "the quotes are named");
            is_int(d.v[4].line, 5, "the list's item at its line");
        }
        diags_free(&d);
        const char *big = "b: 99999999999999999999\nn: -99999999999999999999\nl: [1, 99999999999999999999]\n";
        struct ynode *yb = yaml_load_string("big.yml", big, strlen(big), &d);
        ok(yb && !y_long(&d, y_get(yb, "b"), "b", 0, 100, &w) && !y_long(&d, y_get(yb, "n"), "n", 0, 100, &w) &&
               !y_long_list(&d, y_get(yb, "l"), "l", 0, 100, &lv, &nl),
           "integers past a long are refused");
        is_str(d.n == 3 ? d.v[0].msg : NULL, "\"99999999999999999999\" is out of range (0 to 100)",
               "as out of range (hostile finding: 'expected an integer')");
        is_str(d.n == 3 ? d.v[1].msg : NULL, "\"-99999999999999999999\" is out of range (0 to 100)", "below too");
        is_str(d.n == 3 ? d.v[2].msg : NULL,
               "expected an integer or a list of integers, got \"99999999999999999999\", larger than any integer kiln reads",
               "in a list");
        ynode_free(yb);
        ok(y_long(&d, y_get(y, "ok0"), "ok0", 0, 1, &w) && w == 0 && y_long(&d, y_get(y, "neg0"), "neg0", 0, 1, &w) &&
               w == 0 && y_long(&d, y_get(y, "plus"), "plus", 0, 10, &w) && w == 7,
           "0, -0 and +7 are integers");
        free(lv);
        diags_free(&d);
        ynode_free(y);
    }

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
    /* hostile findings: libyaml's reader gives a byte offset, no mark, so every bad byte was
     * reported at 1:1; a tab got libyaml's words only. Buffers not NUL-terminated, as a fuzzer's. */
    {
        static const struct { const char *text; size_t len; const char *want; } cases[] = {
            {"name: t\nx: \"caf\xc3\xa9 \xff\"\n", 0, "2:10 invalid YAML: invalid leading UTF-8 octet (0xff)"},
            {"a: 1\nb: x\x01y\n", 0, "2:5 invalid YAML: control characters are not allowed (0x01)"},
            {"a: 1\nb: x\0y\n", 13, /* the NUL counted */ "2:5 invalid YAML: control characters are not allowed (0x00)"},
            {"a:\n  b: 1\n  c:\n\td: 2\n", 0, "4:1 invalid YAML: found character that cannot start any token while "
                                              "scanning for the next token (a tab: YAML indents with spaces)"},
            {"a: \xc3", 0, "1:4 invalid YAML: incomplete UTF-8 octet sequence"},
        };
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
            size_t blen = cases[i].len ? cases[i].len : strlen(cases[i].text);
            char *buf = xmalloc(blen);
            memcpy(buf, cases[i].text, blen);
            ok(!yaml_load_string("b.yml", buf, blen, &d) && d.n == 1, "bad input %zu refused", i);
            _cleanup_free_ char *msg = d.n ? xasprintf("%d:%d %s", d.v[0].line, d.v[0].col, d.v[0].msg) : NULL;
            is_str(msg, cases[i].want, "at its line and column, naming the byte");
            diags_free(&d);
            free(buf);
        }
    }
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
    has(d.n ? d.v[0].msg : "", "more than 200000 nodes", "alias bomb reason");
    diags_free(&d);
    sbuf_free(&lol);

    test_hostile();
    test_merge_keys();
    test_schema();

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
