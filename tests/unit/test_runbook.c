#include <stdio.h>

#include "ext/ext.h"
#include "runbook/runbook.h"
#include "tap.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/util.h"

static char dir[] = "/tmp/kiln-rb-XXXXXX";

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

int main(void)
{
    mkdtemp(dir);
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
        is_int(rb->platform.qemu.memory_mb, 768, "the including file's variable wins");
        _cleanup_free_ char *img = path_join(dir, "disk.qcow2");
        is_str(rb->platform.qemu.image, img, "relative path resolved against the file that defined it");
        is_int(rb->platform.qemu.firmware, FW_UEFI, "firmware uefi");
        is_int(rb->platform.requirement.nics, 2, "platform requirement nics");
        ok(rb->platform.requirement.features & FEAT_NVME, "platform requirement feature nvme");
        is_int(rb->nrules, 2, "two testcase rules");
        is_int(rb->rules[0].retry, 2, "retry");
        is_int(rb->rules[0].criteria.npriorities, 2, "priority list");
        is_int(rb->rules[1].action, SEL_FORCE_EXCLUDE, "force-exclude");
        is_int(rb->nnotifiers, 2, "notifiers");
        _cleanup_free_ char *masked = secret_mask(rb->platform.qemu.append);
        is_str(masked, "console=ttyS0 key=******", "secret variable is masked when printed");
        runbook_free(rb);
    }
    diags_free(&d);

    struct kiln_var cli;
    ok(runbook_parse_cli_var("mem=2048", &cli) == 0, "cli var parses");
    ok(runbook_load(main_rb, &cli, 1, &rb, &d) == 0 && rb->platform.qemu.memory_mb == 2048, "-v overrides the runbook");
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
    rm_rf(dir);
    secret_clear();
    yfiles_free();
    return tap_done();
}
