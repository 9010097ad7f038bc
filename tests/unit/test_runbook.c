#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ext/ext.h"
#include "platform/platform.h"
#include "platform/qemu.h"
#include "platform/ready.h"
#include "model/case.h"
#include "node/node.h"
#include "runbook/runbook.h"
#include "tap.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/strv.h"
#include "util/secret.h"
#include "util/util.h"

static char dir[] = "/tmp/kiln-rb-XXXXXX";

/* The driver's configuration of a loaded runbook, or an empty one when it is another type. */
static const struct kiln_qemu_conf *qemu_of(const struct kiln_runbook *rb)
{
    static const struct kiln_qemu_conf none;
    return rb && streq(rb->platform.type, "qemu") ? rb->platform.conf : &none;
}

static const struct kiln_ready_conf *ready_of(const struct kiln_runbook *rb)
{
    static const struct kiln_ready_conf none;
    return rb && streq(rb->platform.type, "ready") ? rb->platform.conf : &none;
}

static char *put(const char *name, const char *text)
{
    char *p = path_join(dir, name);
    write_file_atomic(p, text, strlen(text), 0644);
    return p;
}

static char *load_err(const char *name, const char *text)
{
    _cleanup_free_ char *p = put(name, text);
    struct diags d = {0};
    struct kiln_runbook *rb = NULL;
    int r = runbook_load(p, NULL, 0, &rb, &d);
    char *s;
    if (r == 0) {
        s = xstrdup("(loaded)");
        runbook_free(rb);
    } else {
        s = xasprintf("%s:%d:%d: %s: %s", strrchr(d.v[0].file, '/') + 1, d.v[0].line, d.v[0].col, d.v[0].path,
                      d.v[0].msg);
    }
    diags_free(&d);
    return s;
}

static char *load_ok(const char *name, const char *text, struct kiln_runbook **rb)
{
    _cleanup_free_ char *p = put(name, text);
    *rb = NULL;
    struct diags d = {0};
    char *s = runbook_load(p, NULL, 0, rb, &d) == 0 ? xstrdup("(loaded)")
                                                     : xasprintf("%s:%d:%d: %s", d.v[0].file, d.v[0].line, d.v[0].col, d.v[0].msg);
    diags_free(&d);
    return s;
}

#define PLATFORM "platform: { type: qemu, qemu: { kernel: /k } }\n"

/* A secret holding a long number, quoted in part by an integer's refusal: the part is between
 * quotes, where the cut secret is masked (this branch's first spelling, unquoted, showed 40 of
 * its 50 digits). */
static void test_secret_number(void)
{
    _cleanup_free_ char *p = put("secret-num.yml", "name: t\nplatform:\n  type: qemu\n  qemu:\n    kernel: /k\n"
                                                   "    cpus: $(num)\n    memory_mb: $(oct)\n");
    struct kiln_var cli[] = {
        {.name = "num", .value = "98765432109876543210987654321098765432109876543210", .secret = true, .file = "<command line>"},
        {.name = "oct", .value = "01234567012345670123456701234567012345670123", .secret = true, .file = "<command line>"}};
    secret_add(cli[0].value);
    secret_add(cli[1].value);
    struct diags d = {0};
    struct kiln_runbook *rb = NULL;
    int r = runbook_load(p, cli, 2, &rb, &d);
    ok(r < 0 && d.n == 2, "two refused numbers (%zu)", d.n);
    for (size_t i = 0; i < d.n; i++) {
        _cleanup_free_ char *m = secret_mask(d.v[i].msg);
        ok(!strstr(m, "9876543210") && !strstr(m, "0123456701"), "no digits of the secret: %s", m);
    }
    diags_free(&d);
    runbook_free(rb);
}

/* A secret cannot become the run's name: the name is printed and names a directory. */
static void test_secret_name(void)
{
    _cleanup_free_ char *p = put("secret-name.yml", "name: run-$(tok)\n" PLATFORM);
    struct kiln_var cli = {.name = "tok", .value = "HunterTwoSecretXYZ", .secret = true, .file = "<command line>"};
    secret_add(cli.value);
    struct diags d = {0};
    struct kiln_runbook *rb = NULL;
    ok(runbook_load(p, &cli, 1, &rb, &d) < 0 && d.n == 1, "a secret in name: refused");
    if (d.n) has(d.v[0].msg, "the run's name holds a secret variable", "saying why");
    if (d.n) ok(!strstr(d.v[0].msg, "HunterTwo"), "without the secret");
    diags_free(&d);
    runbook_free(rb);
    /* a name that is exactly the -v variable: still located at the runbook's name: value,
     * not at <command line> (which only decides how a relative path in it resolves) */
    _cleanup_free_ char *p2 = put("secret-name2.yml", "# run\nname: $(tok)\n" PLATFORM);
    rb = NULL;
    ok(runbook_load(p2, &cli, 1, &rb, &d) < 0 && d.n == 1, "a name that is exactly a secret variable: refused");
    if (d.n) is_str(d.v[0].file, p2, "located in the runbook, not <command line>");
    if (d.n) ok(d.v[0].line == 2 && d.v[0].col == 7, "at the name's value, 2:7 (got %d:%d)", d.v[0].line, d.v[0].col);
    diags_free(&d);
    runbook_free(rb);
    /* the same from a secret the runbook defines */
    _cleanup_free_ char *p3 = put("secret-name3.yml", "variable:\n  - { name: pw, value: HunterThreeXYZ, is_secret: true }\n"
                                                      "name: $(pw)\n" PLATFORM);
    rb = NULL;
    ok(runbook_load(p3, NULL, 0, &rb, &d) < 0 && d.n == 1, "a name that is a runbook secret: refused");
    if (d.n) ok(streq(d.v[0].file, p3) && d.v[0].line == 3 && d.v[0].col == 7, "at %s:3:7 (got %s:%d:%d)", p3,
                d.v[0].file, d.v[0].line, d.v[0].col);
    diags_free(&d);
    runbook_free(rb);
    secret_clear();
}

/* Only whole occurrences of a secret are masked in diagnostics: a word that happens to begin
 * like a secret-bearing value is not a cut quotation of it; secrets of 1-3 bytes are refused
 * where they are defined, without quoting them. */
static void test_secret_whole(void)
{
    _cleanup_free_ char *p = put("secret-whole.yml", "platform: { type: qemu, qemu: { kernel: /k, memory_mb: \"$(tok)\" } }\n");
    struct kiln_var cli = {.name = "tok", .value = "expectedSecret1", .secret = true, .file = "<command line>"};
    struct diags d = {0};
    struct kiln_runbook *rb = NULL;
    ok(runbook_load(p, &cli, 1, &rb, &d) < 0 && d.n == 1, "a secret in memory_mb: an error");
    _cleanup_free_ char *shown = d.n ? secret_mask(d.v[0].msg) : NULL; /* as printed */
    is_str(shown, "expected an integer, got \"******\"", "the word 'expected' is kept, the value masked");
    diags_free(&d);
    secret_clear();
    const char *shorts[] = {"a", "\"", "1", "{", "abc"};
    for (size_t i = 0; i < ARRAY_SIZE(shorts); i++) {
        struct kiln_var sv = {.name = "tok", .value = (char *)shorts[i], .secret = true, .file = "<command line>"};
        rb = NULL;
        ok(runbook_load(p, &sv, 1, &rb, &d) < 0 && d.n == 1, "secret '%s' (%zu bytes) refused", shorts[i], strlen(shorts[i]));
        if (d.n) {
            _cleanup_free_ char *want = xasprintf("the secret variable \"tok\" is %zu byte%s long: a secret needs at least 4 "
                                                  "bytes (every occurrence of a shorter one would be masked in every log "
                                                  "and report)", strlen(shorts[i]), strlen(shorts[i]) == 1 ? "" : "s");
            is_str(d.v[0].msg, want, "saying why, without the value");
            is_str(d.v[0].file, "<command line>", "located where it was given");
        }
        ok(!secret_contains(shorts[i]), "and not registered as a secret");
        diags_free(&d);
    }
    _cleanup_free_ char *p2 = put("secret-short.yml", "variable:\n  - { name: pin, value: \"12\", is_secret: true }\n" PLATFORM);
    rb = NULL;
    ok(runbook_load(p2, NULL, 0, &rb, &d) < 0 && d.n == 1, "a 2-byte secret in the runbook: refused");
    if (d.n) ok(streq(d.v[0].file, p2) && d.v[0].line == 2 && d.v[0].col == 13, "at its name, %s:2:13 (got %s:%d:%d)", p2,
                d.v[0].file, d.v[0].line, d.v[0].col);
    diags_free(&d);
    secret_clear();
}

/* Runbooks shaped to escape the runs directory or to cost time and memory. */
static void test_hostile(void)
{
    /* the input: a second document is an error at its '---', never dropped */
    struct diags d = {0};
    struct kiln_runbook *rb = NULL;
    ok(runbook_load(TEST_INPUTS_DIR "/yaml-multidoc/runbook.yml", NULL, 0, &rb, &d) < 0 && d.n == 1,
       "yaml-multidoc/runbook.yml is refused");
    _cleanup_free_ char *m = d.n ? xasprintf("%d:%d %s", d.v[0].line, d.v[0].col, d.v[0].msg) : NULL;
    has(m, "8:1 more than one YAML document in the file (the first starts at line 2)", "at the second document's line");
    diags_free(&d);

    /* names that become paths */
    _cleanup_free_ char *n1 = load_err("esc.yml", "name: ../../escape\n" PLATFORM);
    is_str(n1, "esc.yml:1:7: name: \"../../escape\" cannot name the run directory: use letters, digits, '.', '_' "
               "and '-', starting with a letter or digit, at most 64 characters",
           "name ../../escape refused at its line:col");
    _cleanup_free_ char *n2 = load_err("slash.yml", "name: a/b\n" PLATFORM);
    has(n2, "slash.yml:1:7: name: \"a/b\" cannot name the run directory", "a name with '/' refused");
    _cleanup_free_ char *n3 = load_err("dot.yml", "name: .hidden\n" PLATFORM);
    has(n3, "cannot name the run directory", "a name starting with '.' refused");
    _cleanup_free_ char *n4 = load_err("var-name.yml", "name: $(n)\nvariable: [ { name: n, value: ../x } ]\n" PLATFORM);
    has(n4, "\"../x\" cannot name the run directory", "checked after variables are substituted");
    _cleanup_free_ char *long_name = xasprintf("name: %065d\n" PLATFORM, 0);
    _cleanup_free_ char *n5 = load_err("long.yml", long_name);
    has(n5, "cannot name the run directory", "65 characters refused");
    _cleanup_free_ char *r1 = load_ok("good.yml", "name: nightly-1.2_x\n" PLATFORM, &rb);
    ok(streq(r1, "(loaded)") && streq(rb->name, "nightly-1.2_x"), "letters, digits, . _ - are a name");
    runbook_free(rb);
    _cleanup_free_ char *r2 = load_ok("my run.v2.yml", PLATFORM, &rb);
    ok(streq(r2, "(loaded)") && streq(rb->name, "my-run"), "without name: the file's name, made a plain name (%s)",
       rb ? rb->name : r2);
    runbook_free(rb);
    _cleanup_free_ char *l1 = load_err("ltpg.yml", PLATFORM "ltp: { groups: [\"../../../etc/shadow\"] }\n");
    has(l1, "ltpg.yml:2:17: ltp.groups: \"../../../etc/shadow\" must be a name, not a path", "ltp group with '/' refused");
    /* kiln rm -rf's ltp.root before it unpacks an installed tree there, and at the end on a
     * ready machine: a path that is another directory in disguise is refused */
    const char *roots[] = {"/", "/opt/../home", "/opt/ltp/..", "/./usr", "/opt/."};
    for (size_t i = 0; i < ARRAY_SIZE(roots); i++) {
        _cleanup_free_ char *y = xasprintf(PLATFORM "ltp: { groups: [math], root: \"%s\" }\n", roots[i]);
        _cleanup_free_ char *e = load_err("ltproot.yml", y);
        has(e, "should name LTP's own directory", "ltp.root: /, or a . or .. in it, refused");
    }
    _cleanup_free_ char *k1 = load_err("ksc.yml", PLATFORM "kselftest: { source: /, collections: [net/../../../x] }\n");
    has(k1, "kselftest.collections: \"net/../../../x\" must not have empty, '.' or '..' path segments",
        "kselftest collection climbing out refused");
    _cleanup_free_ char *k2 = load_err("ksa.yml", PLATFORM "kselftest: { source: /, collections: [/x] }\n");
    has(k2, "must be a relative path", "absolute kselftest collection refused");
    _cleanup_free_ char *k3 = load_ok("ksok.yml", PLATFORM "kselftest: { source: /, collections: [net/forwarding] }\n", &rb);
    ok(streq(k3, "(loaded)") && rb->kselftest && streq(rb->kselftest->collections[0], "net/forwarding"),
       "net/forwarding is a kselftest collection");
    runbook_free(rb);
    _cleanup_free_ char *c1 = load_err("ctl.yml", PLATFORM "ltp: { groups: [\"a\\rb\"] }\n");
    has(c1, "contains control characters", "control characters refused");

    /* variables: nine that each use the previous ten times would be 10^9 bytes */
    struct sbuf b = {0};
    sbuf_puts(&b, "variable:\n  - { name: v1, value: xxxxxxxxxx }\n");
    for (int i = 2; i <= 9; i++) {
        sbuf_printf(&b, "  - { name: v%d, value: \"", i);
        for (int k = 0; k < 10; k++) sbuf_printf(&b, "$(v%d)", i - 1);
        sbuf_puts(&b, "\" }\n");
    }
    sbuf_puts(&b, "platform: { type: qemu, qemu: { kernel: /k, append: \"$(v9)\" } }\n");
    _cleanup_free_ char *v1 = load_err("bomb.yml", b.s);
    has(v1, "bomb.yml:11:53: platform.qemu.append: variable $(v7) expands to more than 1 MiB (defined at ",
        "a variable bomb stops at the first value over 1 MiB, naming it");
    has(v1, "/bomb.yml:8:13), reached through $(v9) → $(v8) → $(v7)", "and where it is defined and used");
    sbuf_free(&b);
    /* many uses of a big variable: bounded in total */
    struct sbuf t = {0};
    sbuf_puts(&t, "variable:\n  - { name: a, value: \"");
    for (int i = 0; i < 100000; i++) sbuf_puts(&t, "0123456789");
    sbuf_puts(&t, "\" }\n" PLATFORM "testcase:\n");
    for (int i = 0; i < 10; i++) sbuf_puts(&t, "  - { criteria: { name: \"$(a)\" } }\n");
    _cleanup_free_ char *v2 = load_err("total.yml", t.s);
    has(v2, "total.yml:13:25: testcase[8].criteria.name:", "the total is exceeded at the ninth use");
    has(v2, "variables make the runbook larger than 8 MiB once expanded", "total expansion bounded");
    sbuf_free(&t);
    /* cycles, named with the chain */
    _cleanup_free_ char *v3 = load_err("cyc.yml", "variable:\n  - { name: a, value: \"$(b)\" }\n  - { name: b, value: \"x$(c)\" }\n"
                                                  "  - { name: c, value: \"$(a)\" }\n" PLATFORM "name: \"$(a)\"\n");
    is_str(v3, "cyc.yml:6:7: name: variable $(a) refers to itself: $(a) → $(b) → $(c) → $(a)", "a cycle names its chain");
    _cleanup_free_ char *v4 = load_err("self.yml", "variable: [ { name: a, value: \"$(a)\" } ]\nname: \"$(a)\"\n" PLATFORM);
    has(v4, "variable $(a) refers to itself: $(a) → $(a)", "a variable using itself");
    /* chains: 16 deep is fine (9 was the limit before and was called a cycle), 17 is not */
    for (int depth = 16; depth <= 17; depth++) {
        struct sbuf c = {0};
        sbuf_puts(&c, "variable:\n  - { name: c1, value: end }\n");
        for (int i = 2; i <= depth; i++) sbuf_printf(&c, "  - { name: c%d, value: \"$(c%d)\" }\n", i, i - 1);
        sbuf_printf(&c, "name: \"n-$(c%d)\"\n" PLATFORM, depth);
        _cleanup_free_ char *e = load_ok("chain.yml", c.s, &rb);
        if (depth == 16) ok(streq(e, "(loaded)") && streq(rb->name, "n-end"), "a chain of 16 variables expands (%s)", e);
        else has(e, "variables nest more than 16 deep: $(c17) → $(c16) →", "a chain of 17 is refused, naming it");
        if (depth == 16) runbook_free(rb);
        sbuf_free(&c);
    }
    /* many variables, some defined twice: the later wins, in O(n log n) */
    struct sbuf mv = {0};
    sbuf_puts(&mv, "variable:\n");
    for (int i = 0; i < 30000; i++) sbuf_printf(&mv, "  - { name: v%d, value: a%d }\n", i, i);
    sbuf_puts(&mv, "  - { name: v777, value: later }\nname: \"$(v777)-$(v29999)\"\n" PLATFORM);
    _cleanup_free_ char *v5 = load_ok("many.yml", mv.s, &rb);
    ok(streq(v5, "(loaded)") && streq(rb->name, "later-a29999") && rb->nvars == 30000,
       "30001 definitions of 30000 variables: the later definition wins (%s)", v5);
    runbook_free(rb);
    sbuf_free(&mv);
    _cleanup_free_ char *vf = put("vars-bad.yml", "good: 1\n\"a b\": 2\n");
    (void)vf;
    _cleanup_free_ char *v6 = load_err("vf.yml", "variable: [ { file: vars-bad.yml } ]\n" PLATFORM);
    is_str(v6, "vars-bad.yml:2:1: : invalid variable name \"a b\" (letters, digits, _ - . only)",
           "variable files' names are checked too");
    _cleanup_free_ char *sx = load_ok("sec.yml", "variable:\n  - { name: x, value: abc }\n"
                                                 "  - { name: token, value: \"pre-$(x)\", is_secret: true }\n"
                                                 "platform: { type: qemu, qemu: { kernel: /k, append: \"k=$(token)\" } }\n", &rb);
    _cleanup_free_ char *masked = rb ? secret_mask(qemu_of(rb)->append) : NULL;
    is_str(masked, "k=******", "a secret whose value uses another variable is masked as expanded");
    runbook_free(rb);
    /* includes multiply: 100 includes of a file that includes another 100 times would load
     * 10000 files (it took over 2 minutes and 1.4 GB); every file loaded counts */
    struct sbuf inc = {0};
    sbuf_puts(&inc, "include: [");
    for (int i = 0; i < 100; i++) sbuf_puts(&inc, i ? ", ./fan-c.yml" : "./fan-c.yml");
    sbuf_puts(&inc, "]\n");
    _cleanup_free_ char *fc = put("fan-c.yml", "concurrency: 1\n");
    _cleanup_free_ char *fb = put("fan-b.yml", inc.s);
    (void)fc, (void)fb;
    for (size_t i = 0; i < inc.len; i++)
        if (!strncmp(inc.s + i, "fan-c", 5)) inc.s[i + 4] = 'b';
    _cleanup_free_ char *in1 = load_err("fan-a.yml", inc.s);
    has(in1, "include: the runbook loads more than 128 files (includes and variable files together)", "include fan-out bounded");
    sbuf_free(&inc);
    struct sbuf big = {0};
    sbuf_puts(&big, "testcase:\n");
    for (int i = 0; i < 15000; i++) sbuf_printf(&big, "  - { criteria: { name: x%d } }\n", i);
    _cleanup_free_ char *bg = put("big-inc.yml", big.s);
    (void)bg;
    sbuf_free(&big);
    _cleanup_free_ char *in2 = load_err("big-a.yml", "include: [./big-inc.yml, ./big-inc.yml, ./big-inc.yml, ./big-inc.yml]\n" PLATFORM);
    is_str(in2, "big-a.yml:1:41: include: the runbook and the files it loads hold more than 200000 YAML nodes",
           "the third include of a 75000-node file passes 200000 nodes in all, reported at it");
    struct sbuf vfs = {0};
    sbuf_puts(&vfs, "variable:\n");
    for (int i = 0; i < 200; i++) sbuf_puts(&vfs, "  - { file: ./vars-ok.yml }\n");
    _cleanup_free_ char *vok = put("vars-ok.yml", "a: 1\n");
    (void)vok;
    sbuf_puts(&vfs, PLATFORM);
    _cleanup_free_ char *in3 = load_err("vfs.yml", vfs.s);
    has(in3, "vfs.yml:129:13: variable: the runbook loads more than 128 files", "variable files count too");
    sbuf_free(&vfs);
    /* regular expressions: counts on counts made glibc's regcomp take over 60 s and 1.7 GB, once
     * per case; the expanded size is bounded before regcomp sees them */
    _cleanup_free_ char *x1 = load_err("re1.yml", PLATFORM "testcase: [ { criteria: { name: \"((a{200}){200}){200}\" } } ]\n");
    is_str(x1, "re1.yml:2:33: testcase[0].criteria.name: regular expression \"((a{200}){200}){200}\" is too costly to "
               "compile: its counted repetitions {m,n} expand it past 4096 characters",
           "nested counts refused at their line:col");
    _cleanup_free_ char *x2 = load_err("re2.yml", PLATFORM "console: { ignore: [\"x{30000}\"] }\n");
    has(x2, "a count {m,n} above 4096", "console.ignore expressions too");
    _cleanup_free_ char *x3 = load_err("re3.yml", PLATFORM "testcase: [ { criteria: { area: \"a{200}{200}\" } } ]\n");
    has(x3, "expand it past 4096", "a{200}{200} is 40000 copies for glibc");
    _cleanup_free_ char *x4 = load_ok("re4.yml", PLATFORM "testcase: [ { criteria: { name: \"(smoke|verify_[a-z]{2,40}){1,2}|x{0}\" } } ]\n", &rb);
    is_str(x4, "(loaded)", "ordinary counts are fine");
    runbook_free(rb);
    /* each fits, together they do not (a tenant's runbook of thousands of rules each costing
     * 0.3 s to compile: hostile finding); three of them are still fine */
    struct sbuf many = {0};
    sbuf_puts(&many, PLATFORM "testcase:\n");
    for (int i = 0; i < 6; i++) sbuf_printf(&many, "  - criteria: { name: \".{0,1000}.{0,1000}.{0,1000}x%d\" }\n", i);
    _cleanup_free_ char *x5 = load_err("re5.yml", many.s);
    is_str(x5, "re5.yml:8:23: testcase[5].criteria.name: regular expression \".{0,1000}.{0,1000}.{0,1000}x5\" is too "
               "costly to compile: with the runbook's other expressions it expands past 16384 characters; use fewer or "
               "simpler ones", "the runbook's expressions together are bounded, the first past it named");
    sbuf_free(&many);
    struct kiln_var cli = {.name = "x", .value = "$(x)", .file = "<command line>"};
    _cleanup_free_ char *cp = put("cli.yml", "name: \"$(x)\"\n" PLATFORM);
    ok(runbook_load(cp, &cli, 1, &rb, &d) < 0 && d.n && strstr(d.v[0].msg, "$(x) refers to itself"),
       "-v x='$(x)' is a cycle too");
    diags_free(&d);
}

/* platform.qemu.secure_boot: a named store or a file of the user's, only with UEFI firmware. */
static void test_secure_boot(void)
{
    struct kiln_runbook *rb = NULL;
    _cleanup_free_ char *a = load_ok("sb.yml", "platform: { type: qemu, qemu: { kernel: /k, firmware: uefi, secure_boot: snakeoil } }\n", &rb);
    is_str(a, "(loaded)", "secure_boot: snakeoil loads");
    if (rb) is_int(qemu_of(rb)->secure_boot, SB_SNAKEOIL, "secure_boot snakeoil");
    runbook_free(rb);
    _cleanup_free_ char *vars = put("my-vars.fd", "x");
    _cleanup_free_ char *b = load_ok("sbf.yml", "platform: { type: qemu, qemu: { kernel: /k, firmware: uefi, secure_boot: ./my-vars.fd } }\n", &rb);
    is_str(b, "(loaded)", "secure_boot: a variable store file loads");
    if (rb) {
        is_int(qemu_of(rb)->secure_boot, SB_FILE, "secure_boot file");
        is_str(qemu_of(rb)->secure_boot_vars, vars, "the file resolves against the runbook's directory");
    }
    runbook_free(rb);
    _cleanup_free_ char *e1 = load_err("sbbios.yml", "platform:\n  type: qemu\n  qemu: { kernel: /k, secure_boot: ms }\n");
    has(e1, "sbbios.yml:3:36: platform.qemu.secure_boot: Secure Boot needs UEFI firmware", "secure boot without uefi located");
    _cleanup_free_ char *e2 = load_err("sbnone.yml", "platform:\n  type: qemu\n  qemu: { kernel: /k, firmware: uefi, secure_boot: microsoft }\n");
    has(e2, "sbnone.yml:3:52: platform.qemu.secure_boot: expected ms, snakeoil, off or an OVMF variable store file", "unknown store located");
}

/* platform.qemu.update: untrusted_key is a path resolved against the runbook's directory. */
static void test_update_server(void)
{
    struct kiln_runbook *rb = NULL;
    _cleanup_free_ char *key = put("stray.key", "x");
    _cleanup_free_ char *gal = put("gal", "x");
    _cleanup_free_ char *a = load_ok("upd.yml", "platform: { type: qemu, qemu: { kernel: /k, update: { gallery: ./gal, name: img, "
                                                "target: 1.0.1, untrusted_key: ./stray.key } } }\n", &rb);
    is_str(a, "(loaded)", "update with untrusted_key loads");
    if (rb) {
        is_str(qemu_of(rb)->update.untrusted_key, key, "untrusted_key resolves against the runbook's directory");
        is_str(qemu_of(rb)->update.channel, "stable", "the channel defaults to stable");
    }
    runbook_free(rb);
    _cleanup_free_ char *e = load_err("upd2.yml", "platform: { type: qemu, qemu: { kernel: /k, update: { gallery: ./gal, name: img, "
                                                 "untrusted: ./stray.key } } }\n");
    has(e, "unknown key \"untrusted\"; expected one of: gallery, name, channel, target, broken, untrusted_key", "a near miss is refused with the keys");
}

/* Loads text as NAME in dir with cli; *warn and *err get the first warning/error (or "(none)"),
 * nw/ne their counts. */
static struct kiln_runbook *lisa_load(const char *name, const char *text, const struct kiln_var *cli, size_t ncli,
                                      char **err, size_t *ne, char **warn, size_t *nw)
{
    _cleanup_free_ char *p = put(name, text);
    struct diags d = {0}, w = {0};
    struct kiln_runbook *rb = NULL;
    if (runbook_load_warn(p, cli, ncli, &rb, &d, &w) < 0) rb = NULL;
    *ne = d.n;
    *nw = w.n;
    *err = d.n ? xasprintf("%s:%d:%d: %s: %s", strrchr(d.v[0].file, '/') + 1, d.v[0].line, d.v[0].col, d.v[0].path,
                           d.v[0].msg)
               : xstrdup("(none)");
    struct sbuf all = {0};
    for (size_t i = 0; i < w.n; i++)
        sbuf_printf(&all, "%s:%d:%d: %s: %s\n", strrchr(w.v[i].file, '/') + 1, w.v[i].line, w.v[i].col, w.v[i].path,
                    w.v[i].msg);
    *warn = all.s ? sbuf_steal(&all) : xstrdup("(none)");
    diags_free(&d);
    diags_free(&w);
    return rb;
}

/* LISA's runbook shapes (microsoft/lisa lisa/schema.py) load as kiln's; what kiln does not
 * honour is a warning or an error at its place. */
static void test_lisa(void)
{
    char *err, *warn;
    size_t ne, nw;
    struct kiln_runbook *rb = lisa_load("lisa1.yml",
        "name: lisa shaped\n"                           /* 1 */
        "platform:\n"                                   /* 2 */
        "  - type: qemu\n"                              /* 3 */
        "    keep_environment: failed\n"                /* 4 */
        "    requirement:\n"                            /* 5 */
        "      node_count: 1\n"                         /* 6 */
        "      core_count: 2\n"                         /* 7 */
        "      memory_mb: 512\n"                        /* 8 */
        "      network_interface: { nic_count: 2 }\n"   /* 9 */
        "      disk: { data_disk_count: 1 }\n"          /* 10 */
        "      qemu:\n"                                 /* 11 */
        "        qcow2: ./disk.qcow2\n"                 /* 12 */
        "notifier:\n"                                   /* 13 */
        "  - type: html\n"                              /* 14 */
        "  - junit\n"                                   /* 15 */
        "  - { type: console, enabled: false }\n"       /* 16 */
        "extension:\n"                                  /* 17 */
        "  - name: mine\n"                              /* 18 */
        "    path: ./ext\n"                             /* 19 */
        "testcase:\n"                                   /* 20 */
        "  - &base\n"                                   /* 21 */
        "    criteria: { area: provisioning }\n"        /* 22 */
        "    retry: 1\n"                                /* 23 */
        "  - <<: *base\n"                               /* 24 */
        "    criteria: { name: smoke }\n"               /* 25 */
        "    select_action: forceExclude\n"             /* 26 */
        "  - criteria: { name: verify_.* }\n"           /* 27 */
        "    select_action: none\n"                     /* 28 */
        "    timeout: 77\n"                             /* 29 */
        "  - { criteria: { name: smoke }, enabled: false }\n",
        NULL, 0, &err, &ne, &warn, &nw);
    is_str(err, "(none)", "a LISA-shaped runbook loads");
    if (rb) {
        ok(streq(rb->platform.type, "qemu") && rb->platform.keep_environment == KEEP_FAILED, "platform: a list of one entry");
        ok(qemu_of(rb)->image && endswith(qemu_of(rb)->image, "/disk.qcow2") && qemu_of(rb)->image[0] == '/',
           "requirement.qemu.qcow2 is the image, relative to the runbook");
        is_int(qemu_of(rb)->firmware, FW_UEFI, "LISA's qemu boots UEFI unless firmware_type says bios");
        const struct kiln_req *r = &rb->platform.requirement;
        ok(r->nodes == 1 && r->cpus == 2 && r->memory_mb == 512 && r->nics == 2 && r->data_disks == 1,
           "node_count, core_count, memory_mb, nic_count, data_disk_count become kiln's requirement");
        ok(rb->nnotifiers == 2 && streq(rb->notifiers[0].type, "html") && streq(rb->notifiers[1].type, "junit"),
           "notifier: {type}, a plain name; enabled: false leaves one out");
        ok(rb->nextensions == 1 && endswith(rb->extensions[0], "/ext") && rb->extensions_at[0].line == 19,
           "extension {name, path}: the path, located where it is written");
        is_int(rb->nrules, 3, "a rule with enabled: false is left out");
        ok(rb->nrules == 3 && rb->rules[1].action == SEL_FORCE_EXCLUDE && streq(rb->rules[1].criteria.name, "smoke") &&
               !rb->rules[1].criteria.area && rb->rules[1].retry == 1,
           "<<: *base merges retry; the rule's own criteria win; forceExclude is force-exclude");
        ok(rb->nrules == 3 && rb->rules[2].action == SEL_NONE && rb->rules[2].timeout_s == 77,
           "select_action none; LISA's timeout is timeout_s");
        is_str(rb->name, "lisa-shaped", "a name with spaces names the directory with '-'");
    }
    has(warn, "lisa1.yml:1:7: name: the run directory is named lisa-shaped-TIME", "the name's change is said");
    has(warn, "lisa1.yml:18:11: extension[0]: not honoured: kiln names an extension's cases", "extension name: said where");
    is_int(nw, 2, "two warnings, nothing else dropped");
    runbook_free(rb);
    free(err);
    free(warn);

    /* the environment block: a remote node of a ready platform, and a requirement node */
    rb = lisa_load("lisa2.yml",
        "environment:\n"
        "  environments:\n"
        "    - nodes:\n"
        "        - { type: remote, public_address: 10.0.0.9, public_port: 2222, address: 192.168.0.9, username: u }\n"
        "        - { type: remote, public_address: 10.0.0.8, address: 192.168.0.8, use_public_address: false }\n"
        "    - { enabled: false, nodes: [ { type: local } ] }\n"
        "platform: [ { type: ready } ]\n"
        "test_project: p\n"
        "exit_on_first_failure: false\n"
        "testcase:\n"
        "  - { criteria: { priority: 0 }, use_new_environment: true }\n"
        "  - { type: legacy, command: x }\n",
        NULL, 0, &err, &ne, &warn, &nw);
    is_str(err, "(none)", "environment with remote nodes loads");
    if (rb) {
        ok(streq(rb->platform.type, "ready") && ready_of(rb)->n == 2, "two remote nodes: two ready nodes");
        ok(ready_of(rb)->n == 2 && streq(ready_of(rb)->nodes[0].address, "10.0.0.9") &&
               ready_of(rb)->nodes[0].port == 2222 && streq(ready_of(rb)->nodes[0].username, "u"),
           "LISA connects to the public address and port");
        ok(ready_of(rb)->n == 2 && streq(ready_of(rb)->nodes[1].address, "192.168.0.8") &&
               ready_of(rb)->nodes[1].port == 22,
           "use_public_address: false: the address");
        is_int(rb->nrules, 1, "the legacy rule is left out");
    }
    has(warn, "lisa2.yml:8:15: test_project: not honoured", "a LISA label: said");
    has(warn, "lisa2.yml:11:55: testcase[0].use_new_environment: not honoured", "use_new_environment: true: said");
    has(warn, "lisa2.yml:12:5: testcase[1]: not honoured: a LISAv2 (legacy) test run", "legacy: said");
    is_int(nw, 3, "exit_on_first_failure: false is what kiln does: nothing said");
    runbook_free(rb);
    free(err);
    free(warn);

    rb = lisa_load("lisa3.yml",
        "environment: { environments: [ { nodes: [ { type: requirement, node_count: 2, core_count: 4 } ] } ] }\n"
        "platform: [ { type: qemu, qemu: { kernel: /k } } ]\n",
        NULL, 0, &err, &ne, &warn, &nw);
    ok(rb && rb->platform.requirement.nodes == 2 && rb->platform.requirement.cpus == 4,
       "a requirement node is the platform's requirement");
    runbook_free(rb);
    free(err);
    free(warn);

    /* $(name) in an include path, from this file's variables or -v */
    _cleanup_free_ char *t1 = put("lisa-t1.yml", "testcase: [ { criteria: { priority: 1 } } ]\n");
    const char *inc = "include: [ { path: ./lisa-t$(tier).yml } ]\nvariable: [ { name: tier, value: 0 } ]\n" PLATFORM;
    rb = lisa_load("lisa4.yml", inc, NULL, 0, &err, &ne, &warn, &nw);
    has(err, "lisa4.yml:1:20: include: cannot open included runbook", "$(tier) from the file: lisa-t0.yml, absent");
    has(err, "lisa-t0.yml", "the path it made is named");
    runbook_free(rb);
    free(err);
    free(warn);
    struct kiln_var tier;
    runbook_parse_cli_var("tier=1", &tier);
    rb = lisa_load("lisa4.yml", inc, &tier, 1, &err, &ne, &warn, &nw);
    ok(rb && rb->nrules == 1 && rb->rules[0].criteria.npriorities == 1, "-v tier=1 wins: lisa-t1.yml is included");
    runbook_free(rb);
    free(err);
    free(warn);
    free(tier.name);
    free(tier.value);
    _cleanup_free_ char *e0 = load_err("lisa5.yml", "include: [ ./t$(nope).yml ]\n" PLATFORM);
    has(e0, "lisa5.yml:1:12: include[0]: the include path uses $(nope), which is not defined", "an undefined one: said");

    /* LISA replaces a top-level key the including file sets: a platform list and an environment
     * of an included file give way (kiln would join the lists into two platforms) */
    _cleanup_free_ char *basep = put("lisa-base.yml",
        "platform: [ { type: qemu, qemu: { kernel: /k } } ]\n"
        "environment: { environments: [ { nodes: [ { type: local } ] } ] }\n"
        "extension: { paths: [ ./one, ./two ] }\n"
        "testcase: [ { criteria: { priority: 0 } } ]\n");
    rb = lisa_load("lisa7.yml",
        "parent: [ { path: ./lisa-base.yml } ]\n"
        "platform: [ { type: ready } ]\n"
        "environment: { environments: [ { nodes: [ { type: remote, address: h } ] } ] }\n",
        NULL, 0, &err, &ne, &warn, &nw);
    is_str(err, "(none)", "parent (LISA's earlier include) with both replaced keys loads");
    ok(rb && streq(rb->platform.type, "ready") && ready_of(rb)->n == 1 && streq(ready_of(rb)->nodes[0].address, "h"),
       "the including file's platform list and environment stand alone");
    ok(rb && rb->nextensions == 2 && endswith(rb->extensions[1], "/two"), "extension: {paths: [...]} is the list");
    ok(rb && rb->nrules == 1, "keys the including file does not set come from the parent");
    runbook_free(rb);
    free(err);
    free(warn);

    /* what kiln cannot honour and refuses, each at its place */
    static const struct {
        const char *text, *want, *what;
    } bad[] = {
        {"platform: [ { type: qemu, qemu: { kernel: /k } }, { type: ready } ]\n",
         "lisa6.yml:1:51: platform[1]: kiln runs one platform per run", "a second platform"},
        {"platform: []\n", "lisa6.yml:1:11: platform: an empty list", "no platform"},
        {"platform: [ { type: qemu, admin_password: pw, qemu: { kernel: /k } } ]\n",
         "lisa6.yml:1:43: platform.admin_password: kiln logs in with an SSH key only", "a password"},
        {PLATFORM "environment: { environments: [ { nodes: [ { type: local } ] } ] }\n",
         "lisa6.yml:2:43: environment.environments[0].nodes[0]: kiln runs cases over SSH", "a local node"},
        {PLATFORM "environment: { environments: [ { nodes: [ { type: remote, address: a } ] } ] }\n",
         "a remote node needs the platform type ready (the platform says qemu)", "a remote node on qemu"},
        {PLATFORM "transformer: [ { type: x } ]\n", "lisa6.yml:2:14: transformer: kiln has no transformers", "transformers"},
        {PLATFORM "testcase: [ { criteria: { name: smoke }, select_action: forceinclude } ]\n",
         "forceInclude | forceExclude, got \"forceinclude\"", "a misspelt select_action lists LISA's words"},
        {PLATFORM "testcase: [ { <<: 1, criteria: { name: smoke } } ]\n",
         "lisa6.yml:2:19: : the merge key \"<<\" takes a mapping", "a scalar merge source"},
        {"include: [ { path: ./x.yml, strategy: { node_path: a, operation: add } } ]\n" PLATFORM,
         "lisa6.yml:1:39: include[0]: kiln merges an include one way", "an include strategy"},
        {"platform: [ { type: qemu, qemu: { kernel: /k, hosts: [ { address: h } ] } } ]\n",
         "platform.qemu.hosts[0]: kiln runs its VMs on this machine", "a remote libvirt host"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        _cleanup_free_ char *e = load_err("lisa6.yml", bad[i].text);
        has(e, bad[i].want, bad[i].what);
    }
}

/* platform.qemu.gpu: PCI addresses as lspci -D prints them; a wrong one is located. */
static void test_gpu(void)
{
    struct kiln_runbook *rb = NULL;
    _cleanup_free_ char *a = load_ok("gpu.yml", "platform: { type: qemu, qemu: { kernel: /k, gpu: [\"0000:01:00.0\", "
                                                "\"0000:c1:00.1\"] } }\n", &rb);
    is_str(a, "(loaded)", "gpu: two addresses load");
    if (rb) {
        is_int(qemu_of(rb)->ngpu, 2, "gpu: both kept");
        if (qemu_of(rb)->ngpu == 2) is_str(qemu_of(rb)->gpu[1], "0000:c1:00.1", "gpu: in order");
    }
    runbook_free(rb);
    _cleanup_free_ char *e1 = load_err("gpubad.yml", "platform:\n  type: qemu\n  qemu:\n    kernel: /k\n"
                                                     "    gpu: [\"0000:01:00.0\", \"01:00.0\"]\n");
    has(e1, "gpubad.yml:5:27: platform.qemu.gpu: \"01:00.0\" is not a PCI address: expected DOMAIN:BUS:DEVICE.FUNCTION",
        "gpu: a short address is located at its item");
    _cleanup_free_ char *e2 = load_err("gpuz.yml", "platform:\n  type: qemu\n  qemu: { kernel: /k, gpu: \"0000:0g:00.0\" }\n");
    has(e2, "platform.qemu.gpu: \"0000:0g:00.0\" is not a PCI address", "gpu: a non-hex digit");
}

/* The sections read by tables (util/yaml.h): every mistake of a file reported, each once, at
 * file:line:col, in table order; defaults filled where nothing is given. */
static void test_tables(void)
{
    _cleanup_free_ char *p = put("tables.yml", PLATFORM
                                 "testcase:\n  - {criteria: {priority: 9}, times: 0, retyr: 1}\n  - 3\n"
                                 "notifier: [{}]\n"
                                 "kselftest: {collections: [timers]}\n"
                                 "ltp: {groups: [math], timeout_s: 0}\n");
    struct diags d = {0};
    struct kiln_runbook *rb = NULL;
    ok(runbook_load(p, NULL, 0, &rb, &d) < 0, "a runbook with mistakes in its sections is refused");
    struct sbuf b = {0};
    for (size_t i = 0; i < d.n; i++) sbuf_printf(&b, "%d:%d %s: %s\n", d.v[i].line, d.v[i].col, d.v[i].path, d.v[i].msg);
    is_str(b.s, "3:41 testcase[0].retyr: unknown key \"retyr\"; did you mean \"retry\"?\n"
                "3:27 testcase[0].criteria.priority: 9 is out of range (0 to 5)\n"
                "3:38 testcase[0].times: 0 is out of range (1 to 1000)\n"
                "4:5 testcase[1]: expected a mapping, got a scalar\n"
                "5:12 notifier[0]: needs \"type\" (console, json, junit or html)\n"
                "6:12 kselftest: needs \"source\": a kernel source tree, Debian's linux-source tarball "
                "(/usr/src/linux-source-*.tar.xz) or a kselftest tarball from `make gen_tar`\n"
                "7:34 ltp.timeout_s: 0 is out of range (1 to 86400)\n",
           "each mistake once, in order");
    sbuf_free(&b);
    diags_free(&d);

    struct kiln_runbook *ok_rb = NULL;
    _cleanup_free_ char *e = load_ok("defaults.yml", PLATFORM "testcase: [{criteria: {name: smoke}}]\nltp: {groups: [math]}\n", &ok_rb);
    is_str(e, "(loaded)", "a runbook of the right shape loads");
    if (ok_rb) {
        ok(ok_rb->has_testcase && ok_rb->nrules == 1 && ok_rb->rules[0].times == -1 && ok_rb->rules[0].ignore_failure == -1,
           "a rule's unset values stay -1");
        ok(ok_rb->rules[0].at_line == 2 && ok_rb->rules[0].at_col == 12, "a rule knows where it is written");
        ok(ok_rb->ltp && streq(ok_rb->ltp->root, "/opt/ltp") && ok_rb->ltp->timeout_s == 300 && ok_rb->ltp->priority == 2,
           "ltp's defaults");
        ok(ok_rb->concurrency == 1 && !ok_rb->kselftest, "no kselftest section, no kselftest conf");
    }
    runbook_free(ok_rb);
}

/* The platform table: each name finds its driver, and the runbook hands platform.<type> to
 * it; what the driver says of its configuration (tested files, kernel arguments, whether it
 * provisions the requested shape) is what kiln run, kiln check and the cases read. */
static void test_platform_drivers(void)
{
    const char *const *names = platform_names();
    is_str(names[0], "qemu", "qemu is platform.type's default");
    bool qemu = false, ready = false;
    for (size_t i = 0; names[i]; i++) {
        const struct kiln_platform *ops = platform_find(names[i]);
        ok(ops && streq(ops->name, names[i]) && ops->parse_conf && ops->free_conf, "%s: found, with parse_conf and free_conf", names[i]);
        qemu = qemu || streq(names[i], "qemu");
        ready = ready || streq(names[i], "ready");
    }
    ok(qemu && ready, "qemu and ready are in the table");
    ok(!platform_find("libvirt") && !platform_find(NULL), "an unknown type finds no driver");
    ok(platform_find("qemu")->caps & PLATFORM_CAP_PROVISIONS_SHAPE, "qemu provisions the requested shape");
    ok(!(platform_find("ready")->caps & PLATFORM_CAP_PROVISIONS_SHAPE), "ready reports it as met: the cases measure");
    /* kiln shell boots an image on the first platform that can, without naming it */
    ok(platform_find_caps(PLATFORM_CAP_BOOTS_IMAGE) == platform_find("qemu"), "qemu is the first platform booting images");
    ok(!(platform_find("ready")->caps & PLATFORM_CAP_BOOTS_IMAGE), "ready boots no image");
    ok(platform_find_caps(1u << 30) == NULL, "a capability no platform has: none");
    /* init gives its refusal to the caller, which prints it once */
    {
        struct kiln_ready_conf none = {0};
        struct kiln_runbook rb0 = {.platform = {.conf = &none}};
        struct kiln_platform_ctx pc = {.rb = &rb0};
        _cleanup_free_ char *why = NULL;
        ok(platform_find("ready")->init(&pc, &why) == -EINVAL, "ready without nodes: init refuses");
        is_str(why, "platform.ready.nodes is empty", "with its message in reterr");
        free(pc.accel);
    }

    /* the lists the errors give, from the driver table (a new platform needs no edit here) */
    struct sbuf needs = {0}, choices = {0};
    for (size_t i = 0; names[i]; i++) {
        const char *cn = platform_find(names[i])->conf_needs;
        sbuf_printf(&needs, "%s%s%s%s%s", i ? " | " : "", names[i], cn ? " (" : "", cn ? cn : "", cn ? ")" : "");
        sbuf_printf(&choices, "%s%s", i ? " | " : "", names[i]);
    }
    _cleanup_free_ char *want0 = xasprintf("pnone.yml:0:0: platform: missing \"platform:\" (type: %s)", needs.s);
    _cleanup_free_ char *want_qem = xasprintf("expected one of %s, got \"qem\"; did you mean \"qemu\"?", choices.s);
    sbuf_free(&needs);
    sbuf_free(&choices);
    _cleanup_free_ char *e0 = load_err("pnone.yml", "name: x\n");
    is_str(e0, want0, "no platform: the table's drivers and what each needs");
    ok(strstr(e0, "qemu (an image or kernel)") && strstr(e0, "ready (nodes)"), "qemu and ready say what they need: %s", e0);
    _cleanup_free_ char *e1 = load_err("pnoq.yml", "platform: { type: qemu }\n");
    is_str(e1, "pnoq.yml:1:11: platform: type qemu needs a \"qemu:\" section with an image or kernel", "qemu without its section");
    _cleanup_free_ char *e2 = load_err("pnor.yml", "platform: { type: ready, qemu: { kernel: /k } }\n");
    is_str(e2, "pnor.yml:1:11: platform: type ready needs a \"ready:\" section with nodes", "ready without its section");
    _cleanup_free_ char *e3 = load_err("ptype.yml", "platform: { type: libvirt, qemu: { kernel: /k } }\n");
    ok(strstr(e3, "ptype.yml:1:19: platform.type: ") && strstr(e3, "qemu") && strstr(e3, "ready"),
       "an unknown type names the known ones: %s", e3);
    /* hostile finding: a refused type was followed by "type qemu needs a \"qemu:\" section", the
     * default's, reported first */
    {
        _cleanup_free_ char *pb = put("pbogus.yml", "platform: { type: bogus }\n");
        struct kiln_runbook *brb = NULL;
        struct diags bd = {0};
        int br = runbook_load(pb, NULL, 0, &brb, &bd);
        ok(br < 0 && bd.n == 1, "an unknown type is one error (%zu)", bd.n);
        is_str(bd.n ? bd.v[0].path : NULL, "platform.type", "at platform.type");
        diags_free(&bd);
        runbook_free(brb);
    }
    /* a misspelt type with its section spelt the same or right: that error alone (it came after
     * "type qemu needs a qemu: section" and "unknown key qem") */
    static const char *const misspelt[] = {"platform:\n  type: qem\n  qem: { kernel: /k }\n",
                                           "platform:\n  type: qem\n  qemu: { kernel: /k }\n"};
    for (size_t i = 0; i < ARRAY_SIZE(misspelt); i++) {
        _cleanup_free_ char *pq = put("pqem.yml", misspelt[i]);
        struct kiln_runbook *rq = NULL;
        struct diags dq = {0};
        int rq_r = runbook_load(pq, NULL, 0, &rq, &dq);
        ok(rq_r < 0 && dq.n == 1 && dq.v[0].line == 2 && dq.v[0].col == 9 &&
               streq(dq.v[0].msg, want_qem),
           "type: qem (section %zu): one error, the did-you-mean (%zu: %s)", i, dq.n, dq.n ? dq.v[0].msg : "");
        diags_free(&dq);
    }
    _cleanup_free_ char *e4 = load_err("pkey.yml", "platform: { type: qemu, qemu: { kernel: /k }, qemux: {} }\n");
    ok(strstr(e4, "pkey.yml:1:") && strstr(e4, "qemux"), "an unknown key under platform is named: %s", e4);
    _cleanup_free_ char *p1 = put("pready.yml", "platform: { type: qemu, ready: { nodes: 3 }, qemu: { kernel: /k } }\n");
    struct kiln_runbook *rb = NULL;
    struct diags d = {0};
    ok(runbook_load(p1, NULL, 0, &rb, &d) == 0, "another driver's section is accepted and not read");
    runbook_free(rb);
    diags_free(&d);

    struct kiln_platform_file f[PLATFORM_FILES_MAX];
    const char *key = NULL;
    _cleanup_free_ char *r1 = load_ok("pfiles.yml", "platform:\n  type: qemu\n  qemu:\n    kernel: /boot/k\n"
                                                    "    initrd: /boot/i\n    append: \"quiet x=1\"\n", &rb);
    is_str(r1, "(loaded)", "qemu with a kernel loads");
    const struct kiln_platform *q = platform_find("qemu");
    if (rb) {
        is_int(q->tested_files(rb->platform.conf, f, PLATFORM_FILES_MAX), 2, "kernel boot: two tested files");
        ok(streq(f[0].role, "kernel") && streq(f[0].path, "/boot/k") && streq(f[0].key, "platform.qemu.kernel") &&
               streq(f[1].role, "initrd") && streq(f[1].path, "/boot/i"), "kernel, then initrd");
        is_int(q->tested_files(rb->platform.conf, f, 1), 1, "no more than max");
        is_str(q->kernel_args(rb->platform.conf, &key), "quiet x=1", "kernel boot: the arguments are append");
        is_str(key, "platform.qemu.append", "and come from platform.qemu.append");
        const struct kiln_where *w = runbook_where(rb, "platform.qemu.kernel");
        ok(w && w->line == 4 && w->col == 13, "the kernel's place is kept for kiln check (%d:%d)", w ? w->line : 0, w ? w->col : 0);
    }
    runbook_free(rb);
    _cleanup_free_ char *r2 = load_ok("pimage.yml", "platform: { qemu: { image: /i.qcow2, append: x } }\n", &rb);
    is_str(r2, "(loaded)", "qemu with an image loads (type defaults to qemu)");
    if (rb) {
        is_int(q->tested_files(rb->platform.conf, f, PLATFORM_FILES_MAX), 1, "image boot: one tested file");
        ok(streq(f[0].role, "image") && streq(f[0].path, "/i.qcow2"), "the image");
        ok(!q->kernel_args(rb->platform.conf, &key), "image boot: the boot loader chooses the arguments");
    }
    runbook_free(rb);
    ok(!platform_find("ready")->tested_files && !platform_find("ready")->kernel_args, "ready tests machines, not files");
}

/* kselftest collections and LTP groups become cases named <suite>.<name>, each with its
 * description, area, tags and time limit; a name listed twice is refused against its key.
 * (One load: the registry keeps what it was given until the process ends.) */
static void test_ext_cases(void)
{
    struct kiln_runbook *rb = NULL;
    struct diags d = {0};
    _cleanup_free_ char *p = put("ext-cases.yml", "platform: { type: qemu, qemu: { kernel: /k } }\n"
                                                  "kselftest: { source: /, collections: [timers, net/forwarding] }\n"
                                                  "ltp: { groups: [syscalls, mm, mm] }\n");
    ok(runbook_load(p, NULL, 0, &rb, &d) == 0 && d.n == 0, "a runbook listing an LTP group twice parses");
    is_int(ext_load(rb, &d), -EINVAL, "and is refused when its cases are made");
    is_int(d.n, 1, "with one complaint");
    is_str(d.n ? d.v[0].msg : NULL, "mm is listed twice", "naming the group");
    is_str(d.n ? d.v[0].path : NULL, "ltp.groups", "against its key");
    const struct kiln_case *k = registry_find("kselftest.net/forwarding"), *l = registry_find("ltp.mm");
    is_str(k ? k->description : NULL, "the kernel's net/forwarding selftests, run with run_kselftest.sh",
           "a kselftest collection's case and description");
    ok(k && streq(k->area, "kernel") && streq(k->category, "community") && k->timeout_s == 4 * 3600 &&
           streq(k->tags[0], "kselftest") && !k->tags[1],
       "its area, category, 4 h limit and tag");
    is_str(l ? l->description : NULL, "LTP runtest group mm", "an LTP group's case and description");
    ok(l && streq(l->area, "kernel") && l->timeout_s == 6 * 3600 && streq(l->tags[0], "ltp"), "its area, 6 h limit and tag");
    ok(registry_find("kselftest.timers") && registry_find("ltp.syscalls"), "every listed name is a case");
    diags_free(&d);
    ext_free();
    runbook_free(rb);
}

/* Whether path names anything (a dangling symlink too). */
static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* What kiln unpacked on a ready machine (the user's own) goes at the environment's end: the
 * command runs here under sh against names a user could give an extension directory, and a
 * user's own empty "kiln-*" directory (ltp.root: /tmp/kiln-user/ltp) is not kiln's to rmdir.
 * ready's destroy is what runs it (the first version defined it and nothing called it). */
static void test_ready_leftovers(void)
{
    char t[] = "/var/tmp/kiln-testlo-XXXXXX", u[] = "/tmp/kiln-user-XXXXXX";
    if (!ok(mkdtemp(t) && mkdtemp(u), "leftovers: a kiln directory in /var/tmp and a user's one")) return;
    const char *names[] = {"a b", "it's", "new\nline", "-rf", "$(echo ran >&2)", "\"q\" `echo ran >&2`", "\xc3\xa9t\xc3\xa9"};
    struct strv paths = {0};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        _cleanup_free_ char *p = path_join(t, names[i]), *f = path_join(p, "file");
        mkdir_p(p, 0755);
        write_file_atomic(f, "x", 1, 0644);
        strv_push(&paths, p);
    }
    _cleanup_free_ char *keep = path_join(t, "keep"), *ultp = path_join(u, "ltp");
    mkdir_p(keep, 0755);
    mkdir_p(ultp, 0755);
    strv_push(&paths, ultp);
    _cleanup_free_ char *cmd = node_leftovers_cmd(&paths);
    char *argv[] = {"sh", "-c", cmd, NULL};
    _cleanup_free_ char *out = NULL;
    is_int(proc_run(argv, 10000, &out), 0, "leftovers: the command runs");
    is_str(out, "", "leftovers: quiet, and nothing in a name ran");
    bool gone = true;
    for (size_t i = 0; i < paths.n; i++) gone = gone && !exists(paths.v[i]);
    ok(gone, "leftovers: every path named is gone (space, quote, newline, leading '-', $(...), backquotes, UTF-8)");
    ok(exists(keep), "leftovers: what kiln did not name stays beside them");
    ok(exists(u), "leftovers: a user's empty kiln-* directory (the parent of ltp.root) stays");
    strv_clear(&paths);
    rmdir(keep);
    _cleanup_free_ char *last = path_join(t, "ext");
    mkdir_p(last, 0755);
    strv_push(&paths, last);
    _cleanup_free_ char *cmd2 = node_leftovers_cmd(&paths);
    char *argv2[] = {"sh", "-c", cmd2, NULL};
    is_int(proc_run(argv2, 10000, NULL), 0, "leftovers: the command runs again");
    ok(!exists(t), "leftovers: kiln's own /var/tmp/kiln-* directory goes once empty");
    strv_clear(&paths);
    ok(node_leftovers_cmd(&paths) == NULL, "leftovers: none, no command");
    rm_rf(t);
    rm_rf(u);

    struct kiln_node n = {.name = "node0"};
    const char *refused[] = {"relative/dir", "/", "/opt/../home", "/var/tmp/kiln-ext/..", "/var/tmp/./x"};
    for (size_t i = 0; i < ARRAY_SIZE(refused); i++) node_leave_leftover(&n, refused[i]);
    node_leave_leftover(&n, "/var/tmp/kiln-ext/x");
    node_leave_leftover(&n, "/var/tmp/kiln-ext/x");
    is_int((int)n.leftovers.n, 1, "leftovers: only absolute paths without . or .. are taken, each once");
    struct kiln_node *nodes[] = {&n};
    struct kiln_env env = {.name = "env0", .nodes = nodes, .nnodes = 1};
    platform_find("ready")->destroy(NULL, &env);
    is_int((int)n.leftovers.n, 0, "leftovers: ready's destroy removes them (tried here without a connection)");
    strv_clear(&n.leftovers);
}

/* kiln check's "PATH does not exist" says what to do: build the image or point at another
 * with -v NAME=PATH, NAME the variable that set the path (examples/hpc.yml's image). */
static void test_missing_file_hint(void)
{
    _cleanup_free_ char *sub = path_join(dir, "ex");
    mkdir(sub, 0755);
    struct kiln_runbook *rb;
    _cleanup_free_ char *loaded = load_ok("ex/hpc.yml", "variable:\n  - { name: image, value: ../out/debian-hpc-1.0.0.qcow2 }\n"
                                                        "platform: { type: qemu, qemu: { image: $(image) } }\n", &rb);
    is_str(loaded, "(loaded)", "a runbook whose image is a variable's relative path loads");
    struct kiln_platform_file f[PLATFORM_FILES_MAX];
    const struct kiln_platform *q = platform_find("qemu");
    size_t n = rb ? q->tested_files(rb->platform.conf, f, PLATFORM_FILES_MAX) : 0;
    _cleanup_free_ char *want = path_join(dir, "out/debian-hpc-1.0.0.qcow2");
    ok(n >= 1 && streq(f[0].role, "image") && streq(f[0].path, want), "the image is a tested file at %s",
       n ? f[0].path : "");
    _cleanup_free_ char *hint = n ? runbook_missing_file_hint(rb, f[0].role, f[0].path) : NULL;
    is_str(hint, "; build it first (kiln build SPEC --out DIR) or give the image with -v image=PATH",
           "a missing image: build it, or -v with the variable that set it");
    free(hint);
    hint = runbook_missing_file_hint(rb, "image", "/elsewhere/x.qcow2");
    has(hint, "-v NAME=PATH", "no variable set that path: NAME");
    free(hint);
    hint = runbook_missing_file_hint(rb, "kernel", "/boot/none");
    is_str(hint, "; fix the path", "a missing kernel: fix the path");
    free(hint);
    hint = NULL;
    runbook_free(rb);
}

/* A TPM not offered says why: $KILN_SWTPM set empty or naming no program is not "not installed"
 * (a fresh user's KILN_SWTPM= run was told to apt-get install swtpm). */
static void test_swtpm_reason(void)
{
    const char *was = getenv("KILN_SWTPM");
    _cleanup_free_ char *keep = was ? xstrdup(was) : NULL;
    _cleanup_free_ char *why = NULL;
    setenv("KILN_SWTPM", "", 1);
    unsigned f = kiln_qemu_host_features(NULL, &why);
    ok(!(f & FEAT_TPM), "KILN_SWTPM empty: no tpm");
    has(why, "no tpm: $KILN_SWTPM is set empty (unset it to use swtpm from $PATH)", "and the reason says it is empty");
    free(why);
    why = NULL;
    setenv("KILN_SWTPM", "/nonexistent/swtpm", 1);
    f = kiln_qemu_host_features(NULL, &why);
    ok(!(f & FEAT_TPM), "KILN_SWTPM naming no program: no tpm");
    has(why, "no tpm: $KILN_SWTPM=/nonexistent/swtpm is not an executable file (No such file or directory)",
        "and the reason says so");
    if (keep) setenv("KILN_SWTPM", keep, 1);
    else unsetenv("KILN_SWTPM");
}

int main(void)
{
    mkdtemp(dir);
    setenv("LC_ALL", "C.UTF-8", 1); /* chains of variables are drawn with "→" */
    test_platform_drivers();
    test_missing_file_hint();
    test_swtpm_reason();
    test_ready_leftovers();
    test_secure_boot();
    test_update_server();
    test_lisa();
    test_gpu();
    test_tables();
    _cleanup_free_ char *common = put("common.yml",
                                      "concurrency: 2\n"
                                      "variable:\n"
                                      "  - { name: img, value: ./disk.qcow2 }\n"
                                      "  - { name: mem, value: \"512\" }\n");
    _cleanup_free_ char *main_rb = put("main.yml",
                                       "name: tier0\n"
                                       "include: [ ./common.yml ]\n"
                                       "variable:\n"
                                       "  - { name: token, value: s3cr3t, is_secret: true }\n"
                                       "  - { name: mem, value: \"768\" }\n"
                                       "platform:\n"
                                       "  type: qemu\n"
                                       "  requirement: { nics: 2, features: [nvme] }\n"
                                       "  qemu:\n"
                                       "    image: $(img)\n"
                                       "    memory_mb: $(mem)\n"
                                       "    append: \"console=ttyS0 key=$(token)\"\n"
                                       "    firmware: uefi\n"
                                       "testcase:\n"
                                       "  - criteria: { name: \"smoke|verify_.*\", priority: [0, 1] }\n"
                                       "    retry: 2\n"
                                       "  - criteria: { area: storage }\n"
                                       "    select_action: force-exclude\n"
                                       "notifier: [ { type: junit }, { type: html } ]\n");
    struct diags d = {0};
    struct kiln_runbook *rb = NULL;
    ok(runbook_load(main_rb, NULL, 0, &rb, &d) == 0, "loads a runbook with an include");
    diags_print(&d, stdout);
    if (rb) {
        is_str(rb->name, "tier0", "name");
        is_int(rb->concurrency, 2, "concurrency from the include");
        is_int(qemu_of(rb)->memory_mb, 768, "the including file's variable wins");
        _cleanup_free_ char *img = path_join(dir, "disk.qcow2");
        is_str(qemu_of(rb)->image, img, "relative path resolved against the file that defined it");
        is_int(qemu_of(rb)->firmware, FW_UEFI, "firmware uefi");
        is_int(rb->platform.requirement.nics, 2, "platform requirement nics");
        ok(rb->platform.requirement.features & FEAT_NVME, "platform requirement feature nvme");
        is_int(rb->nrules, 2, "two testcase rules");
        is_int(rb->rules[0].retry, 2, "retry");
        is_int(rb->rules[0].criteria.npriorities, 2, "priority list");
        is_int(rb->rules[1].action, SEL_FORCE_EXCLUDE, "force-exclude");
        is_int(rb->nnotifiers, 2, "notifiers");
        _cleanup_free_ char *masked = secret_mask(qemu_of(rb)->append);
        is_str(masked, "console=ttyS0 key=******", "secret variable is masked when printed");
        runbook_free(rb);
    }
    diags_free(&d);

    struct kiln_var cli;
    ok(runbook_parse_cli_var("mem=2048", &cli) == 0, "cli var parses");
    ok(runbook_load(main_rb, &cli, 1, &rb, &d) == 0 && qemu_of(rb)->memory_mb == 2048, "-v overrides the runbook");
    runbook_free(rb);
    free(cli.name);
    free(cli.value);
    struct kiln_var sec;
    ok(runbook_parse_cli_var("s:pw=abc:def", &sec) == 0 && sec.secret && streq(sec.name, "pw") &&
           streq(sec.value, "abc:def"),
       "s: prefix marks a secret; value keeps colons after '='");
    free(sec.name);
    free(sec.value);
    ok(runbook_parse_cli_var("novalue", &sec) < 0, "a var without = or : is rejected");
    ok(runbook_parse_cli_var("s:VALUE", &sec) < 0, "-v s:VALUE is a secret without a name, not a variable named s");
    ok(runbook_parse_cli_var("s:", &sec) < 0 && runbook_parse_cli_var("s:=x", &sec) < 0, "-v s: needs name=value");
    ok(runbook_parse_cli_var("a b=c", &sec) < 0 && runbook_parse_cli_var("=c", &sec) < 0, "-v needs a valid name");
    ok(runbook_parse_cli_var("s=1", &sec) == 0 && !sec.secret && streq(sec.name, "s") && streq(sec.value, "1"),
       "-v s=1 is the plain variable s");
    free(sec.name);
    free(sec.value);
    ok(runbook_parse_cli_var("s:tok:v=1", &sec) == 0 && sec.secret && streq(sec.name, "tok") && streq(sec.value, "v=1"),
       "-v s:name:value (LISA's form) is a secret too");
    free(sec.name);
    free(sec.value);

    _cleanup_free_ char *e1 = load_err("tier0.yml",
                                       "platform:\n  type: qemu\n  qemu: { kernel: /bin/sh }\n"
                                       "testcase:\n  - criteria:\n      priority: high\n");
    is_str(e1, "tier0.yml:6:17: testcase[0].criteria.priority: expected an integer or a list of integers, got \"high\"",
           "priority error is exact, with file:line:col and key path");
    _cleanup_free_ char *e2 = load_err("typo.yml", "platfrom:\n  type: qemu\n");
    has(e2, "typo.yml:1:1: platfrom: unknown key \"platfrom\"; did you mean \"platform\"?", "unknown key with did-you-mean");
    _cleanup_free_ char *e3 = load_err("var.yml", "platform:\n  type: qemu\n  qemu: { image: $(nope) }\n");
    has(e3, "var.yml:3:18: platform.qemu.image: unknown variable $(nope)", "unknown variable located");
    _cleanup_free_ char *c1 = put("c1.yml", "include: [ ./c2.yml ]\n");
    _cleanup_free_ char *c2 = put("c2.yml", "include: [ ./c1.yml ]\n");
    _cleanup_free_ char *e4 = load_err("c0.yml", "include: [ ./c1.yml ]\n");
    has(e4, "include cycle", "include cycles are an error");
    _cleanup_free_ char *e5 = load_err("noimg.yml", "platform:\n  type: qemu\n  qemu: { memory_mb: 512 }\n");
    has(e5, "needs \"image\"", "qemu without image or kernel");
    _cleanup_free_ char *e6 = load_err("enum.yml", "platform:\n  type: qemu\n  qemu: { kernel: /k, firmware: efi }\n");
    has(e6, "expected one of bios | uefi, got \"efi\"", "enum error lists choices");
    _cleanup_free_ char *e7 = load_err("re.yml", "platform: { type: qemu, qemu: { kernel: /k } }\n"
                                                 "testcase: [ { criteria: { name: \"(\" } } ]\n");
    has(e7, "invalid regular expression", "bad regex reported at check time");
    _cleanup_free_ char *e8 = load_err("list.yml", "- a\n- b\n");
    has(e8, "a runbook must be a mapping", "top-level list rejected");
    _cleanup_free_ char *e9 = load_err("missing.yml", "include: [ ./nope.yml ]\n");
    has(e9, "cannot open included runbook", "missing include named");
    _cleanup_free_ char *e10 = load_err("ready.yml", "platform:\n  type: ready\n  ready:\n    nodes: [ { port: 99999 } ]\n");
    has(e10, "needs \"address\"", "ready node without address");
    _cleanup_free_ char *e11 = load_err("ks.yml", "platform: { type: qemu, qemu: { kernel: /k } }\n"
                                                  "kselftest:\n  source: /nonexistent/linux.tar.xz\n"
                                                  "  collections: [timers]\n");
    has(e11, "ks.yml:3:11: kselftest.source: /nonexistent/linux.tar.xz: No such file or directory", "kselftest source checked");
    _cleanup_free_ char *e13 = load_err("ks2.yml", "platform: { type: qemu, qemu: { kernel: /k } }\n"
                                                   "kselftest:\n  source: /\n  collections: [timers]\n  skip: [timers]\n");
    has(e13, "ks2.yml:5:10: kselftest.skip: \"timers\" should be COLLECTION:TEST", "kselftest skip needs collection:test");
    _cleanup_free_ char *e14 = load_err("ks3.yml", "platform: { type: qemu, qemu: { kernel: /k } }\n"
                                                   "kselftest:\n  source: /\n  collections: [\"a;b\"]\n");
    has(e14, "ks3.yml:4:17: kselftest.collections: \"a;b\" is not a plain name", "shell characters refused");
    _cleanup_free_ char *e12 = load_err("ltp.yml", "platform: { type: qemu, qemu: { kernel: /k } }\n"
                                                   "ltp: { root: opt/ltp, groups: [a] }\n");
    has(e12, "ltp.root: \"opt/ltp\" should be an absolute path", "ltp root must be absolute");
    _cleanup_free_ char *e15 = load_err("ltp2.yml", "platform: { type: qemu, qemu: { kernel: /k } }\nltp: { runner: pan, groups: [a] }\n");
    has(e15, "ltp.runner: expected one of kiln | runltp | kirk", "ltp runner enum");
    _cleanup_free_ char *e16 = load_err("ltp3.yml", "platform: { type: qemu, qemu: { kernel: /k } }\nltp: { timeout_s: 5 }\n");
    has(e16, "needs \"groups\"", "ltp needs groups");
    {
        struct kiln_runbook *ok_rb = NULL;
        struct diags dd = {0};
        _cleanup_free_ char *ks = put("ks-ok.yml", "platform: { type: qemu, qemu: { kernel: /k } }\n"
                                                   "kselftest: { source: /, collections: [timers, size], skip: [timers:raw_skew], timeout_s: 30 }\n"
                                                   "ltp: { groups: [syscalls], skip: [abort01], runner: kirk }\n");
        ok(runbook_load(ks, NULL, 0, &ok_rb, &dd) == 0 && ok_rb->kselftest && ok_rb->kselftest->ncollections == 2 &&
               ok_rb->kselftest->timeout_s == 30 && ok_rb->ltp && streq(ok_rb->ltp->root, "/opt/ltp") &&
               ok_rb->ltp->runner == LTP_RUNNER_KIRK && ok_rb->ltp->timeout_s == 300,
           "kselftest and ltp sections parse with defaults");
        diags_print(&dd, stdout);
        diags_free(&dd);
        runbook_free(ok_rb);
    }
    test_hostile();
    {
        /* an extension directory that yields no test says so (its subdirectories are not
         * searched), and a plain file is not a test */
        _cleanup_free_ char *ext = path_join(dir, "mine");
        _cleanup_free_ char *sub = path_join(dir, "mine/ui/t.sh");
        _cleanup_free_ char *subdir = path_join(dir, "mine/ui");
        mkdir_p(subdir, 0755);
        write_file_atomic(sub, "#!/bin/sh\n", 10, 0755);
        _cleanup_free_ char *plain = path_join(dir, "plain");
        mkdir_p(plain, 0755);
        _cleanup_free_ char *readme = path_join(dir, "plain/check.sh");
        write_file_atomic(readme, "#!/bin/sh\n", 10, 0644);
        _cleanup_free_ char *rbp = put("ext.yml", "platform: { type: qemu, qemu: { kernel: /k } }\n"
                                                  "extension: [ ./mine, ./plain ]\n");
        struct kiln_runbook *xrb = NULL;
        struct diags dd = {0};
        ok(runbook_load(rbp, NULL, 0, &xrb, &dd) == 0, "runbook with extensions loads");
        ok(ext_load(xrb, &dd) < 0 && dd.n == 2, "both extension directories are refused (%zu)", dd.n);
        if (dd.n == 2) {
            _cleanup_free_ char *x1 = xasprintf("%s:%d:%d: %s: %s", strrchr(dd.v[0].file, '/') + 1, dd.v[0].line,
                                                dd.v[0].col, dd.v[0].path, dd.v[0].msg);
            _cleanup_free_ char *w1 = xasprintf("ext.yml:2:14: extension[0]: %s holds no test (an executable file); "
                                                "subdirectories are not searched (ui/): list each under extension:", ext);
            is_str(x1, w1, "only subdirectories: says so, where the runbook names it");
            _cleanup_free_ char *w2 = xasprintf("%s holds no test (an executable file); files that are not executable "
                                                "are not tests (check.sh): chmod +x them", plain);
            is_str(dd.v[1].msg, w2, "only plain files: says so");
        }
        diags_free(&dd);
        ext_free();
        runbook_free(xrb);
    }
    test_secret_name();
    test_secret_number();
    test_secret_whole();
    test_ext_cases();
    rm_rf(dir);
    secret_clear();
    yfiles_free();
    return tap_done();
}
