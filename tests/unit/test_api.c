/* The service API's request parsing (src/service/api.c): routes, artifact paths, job bodies
 * (tiers, AITL-shaped selections, runbooks) and the worker's bodies, with the field named in
 * every refusal. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/req.h"
#include "service/api.h"
#include "service/client.h"
#include "image/imagecheck.h"
#include "service/submitcheck.h"
#include "image/gpt.h"
#include "util/fs.h"
#include "tap.h"
#include "util/util.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Parses body; returns the refusal's field ("" when accepted) and frees the rest. */
static char *job_field(const char *body, char **spec)
{
    struct kiln_api_job j;
    char *field = NULL, *why = NULL;
    int r = kiln_api_parse_job(body, strlen(body), &j, &field, &why);
    if (spec) *spec = r == 0 ? xstrdup(j.spec) : NULL;
    if (r == 0) kiln_api_job_clear(&j);
    free(why);
    return r == 0 ? xstrdup("") : field ? field : xstrdup("(none)");
}

static void route(const char *url, enum kiln_route want, long long id, const char *rest)
{
    struct kiln_route_match m;
    kiln_route_parse(url, &m);
    is_int(m.route, want, url);
    is_int(m.id, id, url);
    is_str(m.rest ? m.rest : "", rest, url);
    kiln_route_clear(&m);
}

/* What a client prints for an error reply: the body's error, else what the status means. */
static void error_texts(void)
{
    static const struct {
        long st;
        const char *body, *want;
    } t[] = {
        {401, "", "HTTP 401: the server refused the token: check --token (or $KILN_TOKEN, $KILN_WORKER_TOKEN)"},
        {401, NULL, "HTTP 401: the server refused the token: check --token (or $KILN_TOKEN, $KILN_WORKER_TOKEN)"},
        {503, "", "HTTP 503: the server failed; try again later"},
        {400, "{\"error\": \"no such tier\", \"field\": \"tier\"}", "HTTP 400: tier: no such tier"},
        {502, "<html>bad gateway</html>", "HTTP 502: <html>bad gateway</html>"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
        _cleanup_free_ char *got = kiln_client_error_text(t[i].st, t[i].body);
        is_str(got, t[i].want, "an error reply as a client prints it");
    }
}

/* What kiln serve checks of a submission: the image is a disk with a partition table (a text
 * file named .qcow2 is refused saying what it is), an ESP-only GPT needs uefi; a runbook is
 * checked as kiln check checks it, its messages naming runbook.yml:LINE:COL. */
static void put(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "w");
    if (f) fwrite(b, 1, n, f), fclose(f);
}

static void gpt_disk(const char *path, const char *const *types, size_t n)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    uint64_t size = 8 << 20;
    if (fd < 0 || ftruncate(fd, (off_t)size) < 0) return;
    struct gpt_part parts[2] = {0};
    for (size_t i = 0; i < n; i++) {
        guid_parse(types[i], &parts[i].type);
        parts[i].uuid.b[0] = (uint8_t)(i + 1);
        parts[i].first_lba = 2048 + 2048 * i;
        parts[i].last_lba = parts[i].first_lba + 2047;
    }
    struct guid g = {.b = {1}};
    gpt_write(fd, size, &g, parts, n);
    close(fd);
}

static void submission_checks(void)
{
    char dir[] = "/tmp/kiln-submitcheck-XXXXXX";
    if (!mkdtemp(dir)) return (void)ok(false, "mkdtemp");
    _cleanup_free_ char *why = NULL;
    struct kiln_image_facts f;
    _cleanup_free_ char *txt = path_join(dir, "notes.qcow2"), *esp = path_join(dir, "esp.raw"), *both = path_join(dir, "both.raw"),
                        *mbr = path_join(dir, "mbr.raw"), *zero = path_join(dir, "zero.raw"), *qc = path_join(dir, "bad.qcow2");
    const char *t = "hello, this is not a disk image\n";
    put(txt, t, strlen(t));
    is_int(kiln_image_check(txt, &f, &why), -EINVAL, "a text file named .qcow2 is refused");
    ok(f.no_table, "for having no partition table");
    has(why, "read as raw (32 bytes) it has no partition table (GPT or MBR), and its first bytes are text (\"hello, this is not a disk image \")",
        "saying what it is");
    const char *esp_only[] = {GPT_TYPE_ESP}, *esp_bios[] = {GPT_TYPE_ESP, "21686148-6449-6E6F-744E-656564454649"};
    gpt_disk(esp, esp_only, 1);
    ok(kiln_image_check(esp, &f, &why) == 0, "a GPT disk is an image: %s", why);
    is_str(f.format, "raw", "read as raw");
    is_str(f.table, "gpt", "with a GPT");
    ok(f.uefi_only, "an ESP and no BIOS boot partition: it boots only through UEFI");
    gpt_disk(both, esp_bios, 2);
    is_int(kiln_image_check(both, &f, &why), 0, "ESP and BIOS boot");
    ok(!f.uefi_only, "a BIOS boot partition too: not UEFI-only");
    unsigned char sec[1024] = {0};
    sec[446 + 4] = 0x83;
    sec[510] = 0x55, sec[511] = 0xAA;
    put(mbr, sec, sizeof sec);
    is_int(kiln_image_check(mbr, &f, &why), 0, "an MBR disk is an image");
    is_str(f.table, "mbr", "with an MBR table");
    memset(sec, 0, sizeof sec);
    put(zero, sec, sizeof sec);
    is_int(kiln_image_check(zero, &f, &why), -EINVAL, "zeros are refused");
    has(why, "its first 40 bytes are zeros", "saying so");
    put(qc, "QFI\xfb\0\0\0\3garbage", 15);
    is_int(kiln_image_check(qc, &f, &why), -EINVAL, "a broken qcow2 header is refused");
    has(why, "it is not a disk image kiln reads: ", "by the disk reader's words");
    ok(!strstr(why, dir), "without the server's path: %s", why);

    const char *typo = "name: t\ntestcase:\n  - criteria: { priorty: 0 }\n";
    is_int(kiln_runbook_check(typo, strlen(typo), dir, &why), -EINVAL, "a criteria typo is refused");
    is_str(why, "runbook.yml:3:17: testcase[0].criteria.priorty: unknown key \"priorty\"; did you mean \"priority\"?",
           "with kiln check's message at the submitted text's line and column");
    const char *none = "testcase:\n  - criteria: { name: no_such_case_anywhere }\n";
    is_int(kiln_runbook_check(none, strlen(none), dir, &why), -EINVAL, "criteria selecting nothing are refused");
    is_str(why, "runbook.yml: testcase: the criteria select no case (see `kiln list`)", "as kiln check refuses them");
    const char *good = "name: mine\ntestcase:\n  - criteria: { priority: 0 }";
    ok(kiln_runbook_check(good, strlen(good), dir, &why) == 0, "a good runbook (no final newline) passes: %s", why);
    const char *ended = "name: mine\ntestcase:\n  - criteria: { priority: 0 }\n...\n";
    ok(kiln_runbook_check(ended, strlen(ended), dir, &why) == 0,
       "a good runbook ending in a document end marker passes (the service's platform line is not a second document): %s", why);
    DIR *dd = opendir(dir);
    int left = 0;
    struct dirent *e;
    while (dd && (e = readdir(dd)))
        if (startswith(e->d_name, "runbook-")) left++;
    if (dd) closedir(dd);
    is_int(left, 0, "no checked runbook is left behind");
    rm_rf(dir);
}

/* the wait a refused request asks for: Retry-After on 503 and 429 only, capped at 60 s */
static void backoff(void)
{
    const struct { long st, ra, want; } t[] = {
        {503, 30, 30}, {429, 5, 5}, {503, 3600, 60}, {429, 86400, 60}, {503, 0, 0}, {500, 30, 0},
        {404, 30, 0}, {200, 30, 0}, {409, 10, 0}, {503, -1, 0},
    };
    for (size_t i = 0; i < ARRAY_SIZE(t); i++)
        ok(kiln_client_backoff_s(t[i].st, t[i].ra) == t[i].want, "HTTP %ld with Retry-After %ld: wait %ld s", t[i].st, t[i].ra, t[i].want);
}

int main(void)
{
    error_texts();
    backoff();
    submission_checks();
    route("/api/v1/jobs", R_JOBS, 0, "");
    route("/api/v1/jobs/42", R_JOB, 42, "");
    route("/api/v1/jobs/42/console", R_JOB_CONSOLE, 42, "");
    route("/api/v1/jobs/42/cancel", R_JOB_CANCEL, 42, "");
    route("/api/v1/jobs/42/artifacts/cases/smoke/log.txt", R_JOB_ARTIFACT, 42, "cases/smoke/log.txt");
    route("/api/v1/images/" D64, R_IMAGE, 0, D64);
    route("/api/v1/worker/jobs/7/artifacts/results.json", R_W_ARTIFACT, 7, "results.json");
    /* what could leave the job's directory, or name a hidden file, is no route (404) */
    route("/api/v1/jobs/42/artifacts/../../kiln.db", R_NONE, 0, "");
    route("/api/v1/jobs/42/artifacts/cases/../x", R_NONE, 0, "");
    route("/api/v1/jobs/42/artifacts//etc/passwd", R_NONE, 0, "");
    route("/api/v1/jobs/42/artifacts/.upload-Ab12", R_NONE, 0, "");
    route("/api/v1/jobs/42/artifacts/", R_NONE, 0, "");
    route("/api/v1/worker/jobs/7/artifacts/cases/smoke/log.txt", R_W_ARTIFACT, 7, "cases/smoke/log.txt");
    route("/api/v1/worker/jobs/7/artifacts/cases/../../x", R_NONE, 0, "");
    route("/api/v1/jobs/042", R_NONE, 0, "");
    route("/api/v1/jobs/-1", R_NONE, 0, "");
    route("/api/v1/jobs/99999999999999999999", R_NONE, 0, "");
    route("/api/v1/images/" "ABCDEF", R_NONE, 0, "");
    ok(kiln_api_path_ok("a..b/c.txt"), "'..' inside a name is a name");

    char *spec = NULL, *f;
    f = job_field("{\"image\":\"" D64 "\",\"tier\":1}", &spec);
    is_str(f, "", "tier 1 accepted");
    is_str(spec, "{\"testcase\":[{\"criteria\":{\"priority\":[0,1]}}]}", "tier 1 is priorities 0 and 1");
    free(f), free(spec);
    f = job_field("{\"image\":\"" D64 "\"}", &spec);
    is_str(spec, "{\"testcase\":[{\"criteria\":{\"priority\":[0]}}]}", "no selection is tier 0");
    free(f), free(spec);
    f = job_field("{\"image\":\"" D64 "\",\"kernel\":\"" D64 "\",\"append\":\"console=ttyS0\",\"selections\":["
                  "{\"casePriority\":[0,2],\"caseArea\":\"prov.*\",\"caseTags\":[\"net\"],\"action\":\"exclude\","
                  "\"testIterations\":3,\"retryCount\":1}]}", &spec);
    is_str(f, "", "selections accepted");
    is_str(spec, "{\"append\":\"console=ttyS0\",\"kernel\":\"" D64 "\",\"testcase\":[{\"criteria\":{\"area\":\"prov.*\","
                 "\"priority\":[0,2],\"tags\":[\"net\"]},\"retry\":1,\"select_action\":\"exclude\",\"times\":3}]}",
           "a selection becomes a runbook testcase rule");
    free(f), free(spec);
    const struct {
        const char *body, *field;
    } bad[] = {
        {"{\"image\": ", ""},
        {"[1]", ""},
        {"{}", "image"},
        {"{\"image\":\"" D64 "x\"}", "image"},
        {"{\"image\":\"" D64 "\",\"colour\":1}", "colour"},
        {"{\"image\":\"" D64 "\",\"tier\":3}", "tier"},
        {"{\"image\":\"" D64 "\",\"tier\":0,\"selections\":[{}]}", "selections"},
        {"{\"image\":\"" D64 "\",\"selections\":[]}", "selections"},
        {"{\"image\":\"" D64 "\",\"selections\":[{\"casePriority\":\"high\"}]}", "selections[0].casePriority"},
        {"{\"image\":\"" D64 "\",\"selections\":[{},{\"casePriority\":9}]}", "selections[1].casePriority"},
        {"{\"image\":\"" D64 "\",\"selections\":[{\"action\":\"maybe\"}]}", "selections[0].action"},
        {"{\"image\":\"" D64 "\",\"selections\":[{\"testIterations\":0}]}", "selections[0].testIterations"},
        {"{\"image\":\"" D64 "\",\"selections\":[{\"caseTags\":[\"a b\"]}]}", "selections[0].caseTags"},
        {"{\"image\":\"" D64 "\",\"selections\":[{\"caseColour\":1}]}", "selections[0].caseColour"},
        {"{\"image\":\"" D64 "\",\"append\":\"quiet\"}", "append"},
        {"{\"image\":\"" D64 "\",\"runbook\":\"name: x\\nplatform: {type: ready}\\n\"}", "runbook"},
        {"{\"image\":\"" D64 "\",\"runbook\":\"- a list\\n\"}", "runbook"},
        {"{\"image\":\"" D64 "\",\"runbook\":\"a: [\\n\"}", "runbook"},
        /* a variable file would be read on the server and the worker: /etc/shadow's lines as values */
        {"{\"image\":\"" D64 "\",\"runbook\":\"variable:\\n  - file: /etc/shadow\\ntestcase: []\\n\"}", "runbook"},
        {"{\"image\":\"" D64 "\",\"publish\":{\"channel\":\"../x\"}}", "publish.channel"},
        /* "." and ".." are path components: refused here, naming the field, not later by the store */
        {"{\"image\":\"" D64 "\",\"publish\":{\"channel\":\"..\"}}", "publish.channel"},
        {"{\"image\":\"" D64 "\",\"publish\":{\"channel\":\".\"}}", "publish.channel"},
        {"{\"image\":\"" D64 "\",\"publish\":{\"channel\":\"-rf\"}}", "publish.channel"},
        {"{\"image\":\"" D64 "\",\"selections\":[{\"caseTags\":[\"..\"]}]}", "selections[0].caseTags"},
        {"{\"image\":\"" D64 "\",\"requirements\":{\"arch\":\"..\"}}", "requirements.arch"},
        {"{\"image\":\"" D64 "\",\"requirements\":{\"accel\":\"xen\"}}", "requirements.accel"},
        {"{\"image\":\"" D64 "\",\"requirements\":{\"cpus\":-1}}", "requirements.cpus"},
        {"{\"image\":\"" D64 "\",\"image\":\"" D64 "\"}", ""},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        f = job_field(bad[i].body, NULL);
        is_str(f, bad[i].field, bad[i].body);
        free(f);
    }
    f = job_field("{\"image\":\"" D64 "\",\"runbook\":\"name: mine\\ntestcase:\\n  - criteria: {area: provisioning}\\n\"}", &spec);
    is_str(f, "", "a runbook of name and testcase accepted");
    has(spec, "\"runbook\":\"name: mine", "the runbook is kept as text");
    free(f), free(spec);
    char *big = xcalloc(1, KILN_API_BODY_MAX + 2);
    memset(big, ' ', KILN_API_BODY_MAX + 1);
    f = job_field(big, NULL);
    is_str(f, "", "an oversized body is refused as a whole");
    free(f);
    free(big);

    struct kiln_caps caps;
    int slots = 0;
    char *field = NULL, *why = NULL;
    const char *decl = "{\"caps\":{\"accel\":\"tcg\",\"arch\":\"x86_64\",\"cpus\":4,\"memory_mb\":8192,\"uefi\":true},\"slots\":2}";
    is_int(kiln_api_parse_declare(decl, strlen(decl), &caps, &slots, &field, &why), 0, "declare");
    is_str(caps.accel, "tcg", "accel");
    is_int(caps.memory_mb, 8192, "memory");
    is_int(caps.features, FEAT_UEFI, "uefi");
    is_int(slots, 2, "slots");
    decl = "{\"caps\":{},\"slots\":0}";
    is_int(kiln_api_parse_declare(decl, strlen(decl), &caps, &slots, &field, &why), -EINVAL, "0 slots");
    is_str(field, "slots", "0 slots: the field");
    enum kiln_job_result res;
    char *reason = NULL;
    const char *fin = "{\"result\":\"incomplete\",\"reason\":\"disk full\"}";
    is_int(kiln_api_parse_finish(fin, strlen(fin), &res, &reason, &field, &why), 0, "finish");
    is_int(res, RESULT_INCOMPLETE, "finish: result");
    is_str(reason, "disk full", "finish: reason");
    free(reason);
    fin = "{\"result\":\"great\"}";
    is_int(kiln_api_parse_finish(fin, strlen(fin), &res, &reason, &field, &why), -EINVAL, "finish: bad result");
    is_str(field, "result", "finish: the field");
    enum kiln_job_state st;
    const char *adv = "{\"state\":\"done\"}";
    is_int(kiln_api_parse_advance(adv, strlen(adv), &st, &field, &why), -EINVAL, "a worker cannot advance to done");
    is_str(field, "state", "advance: the field");
    /* GET /api/v1/jobs: pages of the tenant's jobs */
    struct kiln_api_list lq;
    is_int(kiln_api_parse_list(NULL, NULL, &lq, &field, &why), 0, "list: no query");
    ok(lq.limit == KILN_STORE_LIST_MAX && lq.before == 0, "list: the most, from the newest");
    is_int(kiln_api_parse_list("50", "1234", &lq, &field, &why), 0, "list: limit, before");
    ok(lq.limit == 50 && lq.before == 1234, "list: each taken");
    const char *badl[][3] = {{"0", NULL, "limit"},  {"1001", NULL, "limit"}, {"5x", NULL, "limit"}, {NULL, "0", "before"},
                             {NULL, "-3", "before"}, {NULL, "", "before"},    {"", NULL, "limit"}};
    for (size_t i = 0; i < ARRAY_SIZE(badl); i++) {
        ok(kiln_api_parse_list(badl[i][0], badl[i][1], &lq, &field, &why) == -EINVAL, "list: bad %s refused", badl[i][2]);
        is_str(field, badl[i][2], "list: the parameter named");
    }
    /* the query's parameters: each once, only those the endpoint reads (?limit=1&limit=1000
     * was taken as 1 and ?limt=5 ignored: hostile finding) */
    const char *const lknown[] = {"state", "limit", "before", NULL}, *const none[] = {NULL};
    const char *twice[] = {"limit", "state", "limit"}, *typo[] = {"limt"}, *good[] = {"state", "limit", "before"};
    is_int(kiln_api_query_check(good, 3, lknown, &field, &why), 0, "query: state, limit, before read once each");
    is_int(kiln_api_query_check(twice, 3, lknown, &field, &why), -EINVAL, "query: limit twice refused");
    is_str(field, "limit", "query: the parameter named");
    is_str(why, "limit is given twice: give it once", "query: why");
    is_int(kiln_api_query_check(twice, 3, NULL, &field, &why), -EINVAL, "query: twice refused where any name is read");
    is_int(kiln_api_query_check(typo, 1, lknown, &field, &why), -EINVAL, "query: an unknown parameter refused");
    is_str(why, "limt is not a parameter of this endpoint; it reads state, limit, before", "query: says what it reads");
    is_int(kiln_api_query_check(typo, 1, none, &field, &why), -EINVAL, "query: a parameter where none is read");
    is_str(why, "limt is not a parameter of this endpoint; it reads none", "query: says it reads none");
    is_int(kiln_api_query_check(typo, 1, NULL, &field, &why), 0, "query: any name where NULL");
    const char *many[KILN_API_QUERY_MAX + 1];
    for (size_t i = 0; i < ARRAY_SIZE(many); i++) many[i] = "x";
    is_int(kiln_api_query_check(many, ARRAY_SIZE(many), NULL, &field, &why), -EINVAL, "query: more than KILN_API_QUERY_MAX refused");
    free(field);
    free(why);

    /* media types (RFC 9110 8.3.1): case-insensitive, parameters ignored */
    ok(kiln_api_media_type_is("TEXT/XML", "text/xml"), "TEXT/XML is text/xml");
    ok(kiln_api_media_type_is("text/xml; charset=UTF-8", "text/xml"), "with a charset parameter");
    ok(kiln_api_media_type_is("Application/Xml ;charset=utf-8", "application/xml"), "mixed case, space before ';'");
    ok(!kiln_api_media_type_is("text/xmlx", "text/xml"), "text/xmlx is not");
    ok(!kiln_api_media_type_is("text/x", "text/xml"), "nor a prefix of it");
    ok(!kiln_api_media_type_is("application/json", "text/xml"), "nor JSON");
    ok(!kiln_api_media_type_is(NULL, "text/xml"), "nor no header");
    /* framing (RFC 9112 6.3) */
    _cleanup_free_ char *fw = NULL;
    const char *one[] = {"10"}, *two[] = {"10", "20"}, *same[] = {"10", "10"}, *neg[] = {"-1"}, *huge[] = {"99999999999999999999999"},
               *sp[] = {"1 0"}, *empty[] = {""};
    is_int(kiln_api_framing_check(one, 1, false, &fw), 0, "one Content-Length");
    is_int(kiln_api_framing_check(NULL, 0, true, &fw), 0, "chunked alone");
    is_int(kiln_api_framing_check(NULL, 0, false, &fw), 0, "no body");
    is_int(kiln_api_framing_check(two, 2, false, &fw), -EINVAL, "Content-Length 10 and 20: 400");
    is_str(fw, "the request has 2 Content-Length fields; send one", "says why");
    is_int(kiln_api_framing_check(same, 2, false, &fw), -EINVAL, "the same value twice too");
    is_int(kiln_api_framing_check(one, 1, true, &fw), -EINVAL, "Content-Length with Transfer-Encoding");
    is_int(kiln_api_framing_check(neg, 1, false, &fw), -EINVAL, "-1");
    is_int(kiln_api_framing_check(huge, 1, false, &fw), -EINVAL, "23 digits");
    is_int(kiln_api_framing_check(sp, 1, false, &fw), -EINVAL, "a space inside");
    is_int(kiln_api_framing_check(empty, 1, false, &fw), -EINVAL, "empty");
    return tap_done();
}
