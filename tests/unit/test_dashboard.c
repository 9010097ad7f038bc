/* The dashboard's pieces that need no HTTP: the escaping writer (hostile text, bad UTF-8),
 * sign-in redirect targets, image names, the bounds on sessions and links per tenant and for
 * all, failed sign-ins per address (a fake clock), and
 * a job page rendered from a real SQLite store and a job directory holding a results.json and
 * perf.json shaped like kiln run's: hostile strings come out as text, another tenant gets
 * -ENOENT. tests/integration/dashboard.sh drives the same pages over HTTP and in Chromium. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service/dashboard.h"
#include "util/html.h"
#include "service/store.h"
#include "tap.h"
#include "util/fs.h"
#include "util/util.h"

static int64_t fake_now = 1800000000000;
static int64_t fake_clock(void) { return fake_now; }
static int64_t store_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

static struct kiln_store *the_store;
static struct kiln_store *get(void *ctx, int *rc)
{
    (void)ctx;
    if (!the_store) *rc = -EIO;
    return the_store;
}
static void put(void *ctx, struct kiln_store *st)
{
    (void)ctx;
    (void)st;
}

static void writer(void)
{
    struct kh_page p;
    kh_page_init(&p, "t<i>tle", "b{}");
    xmlNodePtr td = kh_el(p.body, "td", "<script>alert(1)</script> & \"q\"");
    kh_attr(td, "title", "\"><script>x</script>");
    kh_el(p.body, "p", "bad \xff\xfe utf-8 \x01 ctl \x1b[31mred\x1b[0m");
    xmlNodePtr a = kh_link(p.body, "/jobs/1", "j");
    kh_attr(a, "data-x", "' onmouseover='y");
    kh_attr(a, "data-y", "'\"><b>");
    size_t len = 0;
    char *h = kh_page_finish(&p, &len);
    ok(h && strlen(h) == len, "the page is written");
    has(h, "<!DOCTYPE html>", "HTML5 doctype");
    has(h, "<title>t&lt;i&gt;tle</title>", "the title is text");
    has(h, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; \"q\"", "element text escaped");
    ok(!strstr(h, "<script>"), "no script element came of the text: %s", h);
    /* libxml2 quotes a value holding '"' with '\'', and escapes '"' when it holds both */
    has(h, "title='\"&gt;&lt;script&gt;x&lt;/script&gt;'", "an attribute value cannot close its quotes");
    has(h, "data-y=\"'&quot;&gt;&lt;b&gt;\"", "nor one holding both quotes");
    has(h, "data-x=\"' onmouseover='y\"", "single quotes stay inside double-quoted values");
    ok(!strchr(h, '\xff') && !strchr(h, '\x01') && !strchr(h, '\x1b'), "bad bytes, controls and escapes do not pass");
    has(h, "bad &#65533;&#65533; utf-8 &#65533; ctl red", "ill-formed bytes and controls are U+FFFD, ANSI colours dropped");
    has(h, "<style>b{}</style>", "the stylesheet is written as it is");
    has(h, "<meta charset=\"utf-8\">", "a void element has no end tag");
    free(h);
    char *e = kh_url_escape("cases/a b/<x>.txt", 1);
    is_str(e, "cases/a%20b/%3Cx%3E.txt", "URL path escaping keeps '/'");
    free(e);
    e = kh_url_escape("/jobs/1?x", 0);
    is_str(e, "%2Fjobs%2F1%3Fx", "URL value escaping");
    free(e);
}

static void next_and_names(void)
{
    ok(kiln_dash_next_ok("/"), "/ is a place to go after sign-in");
    ok(kiln_dash_next_ok("/jobs/7"), "/jobs/7 too");
    ok(kiln_dash_next_ok("/?state=queued"), "a page with a query too");
    ok(!kiln_dash_next_ok("//evil.example/"), "a scheme-relative URL is not (another site)");
    ok(!kiln_dash_next_ok("https://evil.example/"), "nor an absolute one");
    ok(!kiln_dash_next_ok("/\\evil.example"), "nor a backslash");
    ok(!kiln_dash_next_ok("/a\r\nSet-Cookie: x"), "nor a header break");
    ok(!kiln_dash_next_ok(""), "nor nothing");

    struct kiln_job j = {.spec = "{\"image_name\":\"<b>deb</b>\",\"testcase\":[]}", .image_digest = "ab"};
    char *n = kiln_dash_image_name(&j);
    is_str(n, "<b>deb</b>", "the submitted name (escaped where shown, not here)");
    free(n);
    j.spec = "{\"testcase\":[]}";
    j.gallery_ref = "debian-server@1.0.2";
    n = kiln_dash_image_name(&j);
    is_str(n, "debian-server", "else the gallery reference's name");
    free(n);
    j.gallery_ref = NULL;
    j.image_digest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    n = kiln_dash_image_name(&j);
    is_str(n, "sha256:0123456789ab", "else the digest");
    free(n);
}

static void sessions_bounded(void)
{
    struct kiln_dash_env env = {.jobs_dir = "/nonexistent", .store_get = get, .store_put = put, .now_ms = fake_clock};
    struct kiln_dash *d = kiln_dash_new(&env);
    struct kiln_tenant acme = {.id = 1, .name = "acme"}, bob = {.id = 2, .name = "bob"}, root = {.id = 3, .name = "root", .admin = true};
    int rc = 0, made = 0;
    char *path = NULL, *first = NULL;
    int64_t exp = 0;
    /* one tenant floods the links: it is refused at its own bound, nobody else is */
    for (int i = 0; i < 10000 && rc == 0; i++) {
        rc = kiln_dash_link_mint(d, &acme, &path, &exp);
        if (rc == 0) made++;
        if (rc == 0 && !first) first = path;
        else free(path);
        path = NULL;
    }
    is_int(made, KILN_DASH_TENANT_LINKS, "a tenant gets its bound of unused links");
    is_int(rc, -EUSERS, "the next is refused as the tenant's own limit (429), not the server's");
    ok(first && strlen(first) == strlen("/login/") + 64, "a link is /login/ and 64 hex digits: %s", first ? first : "");
    is_int(exp, fake_now + KILN_DASH_LINK_MS, "a link lasts a minute");
    is_int(kiln_dash_link_mint(d, &bob, &path, &exp), 0, "another tenant still gets a link");
    free(path);
    fake_now += KILN_DASH_LINK_MS + 1;
    is_int(kiln_dash_link_mint(d, &acme, &path, &exp), 0, "expired links make room again");
    ok(path && first && !streq(path, first), "links differ");
    free(path);
    free(first);

    /* sessions: a sign-in past the bound ends the tenant's oldest session */
    char ids[KILN_DASH_TENANT_SESSIONS + 1][65];
    struct kiln_tenant t;
    rc = 0;
    for (int i = 0; i <= KILN_DASH_TENANT_SESSIONS; i++) {
        rc |= kiln_dash_session_open(d, &acme, ids[i]);
        fake_now++;
    }
    is_int(rc, 0, "one sign-in more than the bound succeeds too");
    is_int(kiln_dash_session_check(d, ids[0], &t), -EACCES, "the oldest session ended");
    is_int(kiln_dash_session_check(d, ids[1], &t), 0, "the next oldest still stands");
    is_str(t.name, "acme", "as acme's");
    is_int(kiln_dash_session_check(d, ids[KILN_DASH_TENANT_SESSIONS], &t), 0, "the newest stands");
    for (int i = 0; i < 5000; i++) kiln_dash_session_open(d, &acme, ids[0]);
    char bid[65], rid[65];
    is_int(kiln_dash_session_open(d, &bob, bid), 0, "after 5000 more sign-ins by acme, bob still signs in");
    is_int(kiln_dash_session_check(d, bid, &t), 0, "and his session works");
    is_int(kiln_dash_session_open(d, &root, rid), 0, "so does the admin");

    /* many tenants together fill the table but for the admin's reserve */
    struct kiln_tenant many = {.name = "many"};
    rc = 0;
    for (int64_t id = 100; rc == 0; id++) {
        many.id = id;
        for (int i = 0; i < KILN_DASH_TENANT_SESSIONS && rc == 0; i++) rc = kiln_dash_session_open(d, &many, bid);
    }
    is_int(rc, -ENOSPC, "tenants together stop at the table's bound");
    is_int(kiln_dash_session_open(d, &bob, bid), -ENOSPC, "a tenant under its bound gets no new slot (503)");
    is_int(kiln_dash_session_open(d, &acme, bid), 0, "one at its bound still signs in, in place of its oldest");
    for (int i = 0; i < KILN_DASH_ADMIN_RESERVE - 1; i++) rc = kiln_dash_session_open(d, &root, rid);
    is_int(rc, 0, "the admin signs in on the reserve");
    kiln_dash_free(d);
}

static void failed_sign_ins(void)
{
    struct kiln_dash_env env = {.jobs_dir = "/nonexistent", .store_get = get, .store_put = put, .now_ms = fake_clock};
    struct kiln_dash *d = kiln_dash_new(&env);
    int retry = 0;
    for (int i = 0; i < KILN_DASH_AUTH_FAILS; i++) {
        ok(kiln_dash_auth_allowed(d, "127.0.0.9", &retry), "try %d allowed", i + 1);
        kiln_dash_auth_failed(d, "127.0.0.9");
        fake_now += 1000;
    }
    ok(!kiln_dash_auth_allowed(d, "127.0.0.9", &retry), "after %d failures the address is refused", KILN_DASH_AUTH_FAILS);
    is_int(retry, KILN_DASH_AUTH_WINDOW_MS / 1000 - KILN_DASH_AUTH_FAILS, "until the window of its first failure is over (s)");
    ok(kiln_dash_auth_allowed(d, "127.0.0.10", &retry), "another address is not");
    /* more addresses than the table holds: the stalest windows make room */
    for (int i = 0; i < KILN_DASH_AUTH_ADDRS + 10; i++) {
        char a[64];
        snprintf(a, sizeof a, "10.0.%d.%d", i / 256, i % 256);
        kiln_dash_auth_failed(d, a);
    }
    ok(kiln_dash_auth_allowed(d, "10.0.0.0", &retry), "an address pushed out of the table starts over");
    fake_now += KILN_DASH_AUTH_WINDOW_MS;
    ok(kiln_dash_auth_allowed(d, "127.0.0.9", &retry), "the window over, the address may try again");
    kiln_dash_free(d);
}

static void put_file(const char *path, const char *text)
{
    _cleanup_free_ char *dir = path_dirname(path);
    mkdir_p(dir, 0700);
    ok(write_file_atomic(path, text, strlen(text), 0600) == 0, "wrote %s", path);
}

static void job_page(void)
{
    char tmp[] = "/tmp/kiln-test-dash-XXXXXX";
    if (!mkdtemp(tmp)) return (void)ok(false, "mkdtemp");
    _cleanup_free_ char *url = xasprintf("sqlite:%s/kiln.db", tmp), *jobs = path_join(tmp, "jobs");
    struct kiln_store_opts so = {.now_ms = store_clock};
    char *err = NULL;
    if (kiln_store_open(url, &so, &the_store, &err) < 0) return (void)ok(false, "store: %s", err);
    char tok[KILN_TOKEN_LEN + 1];
    struct kiln_tenant a, b;
    struct kiln_worker w;
    ok(kiln_store_tenant_add(the_store, "acme", 2, false, tok, &a, &err) == 0, "tenant a");
    ok(kiln_store_tenant_add(the_store, "beta", 2, false, tok, &b, &err) == 0, "tenant b");
    ok(kiln_store_worker_add(the_store, "w1", tok, &w, &err) == 0, "worker w1");
    struct kiln_caps caps = {.accel = "tcg", .arch = "x86_64", .cpus = 2, .memory_mb = 2048};
    ok(kiln_store_worker_declare(the_store, w.id, &caps, 2, &err) == 0, "declare");
    const char *digest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    struct kiln_image im;
    ok(kiln_store_image_record(the_store, a.id, digest, 10, "/x", &im, &err) == 0, "image");
    struct kiln_job_submit sub = {.image_digest = digest, .spec = "{\"image_name\":\"<img src=x>deb\",\"testcase\":[]}"};
    int64_t id[2];
    struct kiln_job j;
    for (int k = 0; k < 2; k++) {
        ok(kiln_store_job_submit(the_store, a.id, &sub, &id[k], &err) == 0, "job %d", k);
        ok(kiln_store_claim(the_store, w.id, 60000, &j, &err) == 1, "claimed");
        kiln_job_clear(&j);
        kiln_store_job_advance(the_store, w.id, id[k], JOB_RUNNING, &err);
        fake_now += 5000;
        ok(kiln_store_job_finish(the_store, w.id, id[k], k ? RESULT_FAILED : RESULT_PASSED, k ? "1 of 2 cases failed: <b>x</b>" : NULL,
                                 NULL, &err) == 0,
           "finished");
        char n[32];
        snprintf(n, sizeof n, "%lld", (long long)id[k]);
        _cleanup_free_ char *dir = path_join(jobs, n), *rj = path_join(dir, "results.json"),
                            *pj = path_join(dir, "cases/x/perf.json"), *lj = path_join(dir, "cases/x/log.txt");
        _cleanup_free_ char *results = xasprintf(
            "{\"run\":{\"name\":\"job\"},\"cases\":["
            "{\"name\":\"x\",\"status\":\"%s\",\"reason\":\"it is: <script>alert(1)</script>\",\"duration_s\":%d,"
            "\"started\":\"2026-11-30T10:00:00Z\",\"log\":\"cases/x/log.txt\",\"perf\":\"cases/x/perf.json\","
            "\"metrics\":[{\"name\":\"boot\",\"value\":%d.5,\"unit\":\"s\"}]},"
            "{\"name\":\"y\",\"status\":\"passed\",\"duration_s\":2,\"started\":\"2026-11-30T10:00:04Z\","
            "\"perf\":\"../../../kiln.db\"}]}",
            k ? "failed" : "passed", 3 + k, 7 + k);
        put_file(rj, results);
        put_file(pj, "{\"duration_s\":3,\"interval_s\":1,\"host\":{\"node0\":{\"cpu_s\":1.5,\"rss_max_kib\":204800,\"samples\":["
                  "{\"t\":0,\"cpu_s\":10,\"rss_kib\":102400},{\"t\":1,\"cpu_s\":10.5,\"rss_kib\":153600},"
                  "{\"t\":2,\"cpu_s\":11.5,\"rss_kib\":204800}]}},\"guest\":{}}");
        put_file(lj, "log\n");
    }
    struct kiln_dash_env env = {.jobs_dir = jobs, .store_get = get, .store_put = put, .now_ms = fake_clock};
    struct kiln_dash *d = kiln_dash_new(&env);
    char *html = NULL;
    size_t len = 0;
    ok(kiln_dash_job_page(d, the_store, &a, id[1], &html, &len, &err) == 0, "the job page renders: %s", err ? err : "");
    has(html, "<h1>Job ", "its heading");
    has(html, "&lt;img src=x&gt;deb", "the image name is text");
    has(html, "it is: &lt;script&gt;alert(1)&lt;/script&gt;", "the case reason is text");
    has(html, "1 of 2 cases failed: &lt;b&gt;x&lt;/b&gt;", "the job reason is text");
    ok(!strstr(html, "<script") && !strstr(html, "<img") && !strstr(html, "<b>"), "no element came of a hostile string");
    has(html, "<td class=\"failed\">failed</td>", "the failing case's status");
    has(html, "/artifacts/cases/x/log.txt\">log</a>", "the case log's link");
    has(html, "aria-label=\"case durations (s)\"", "the durations plot");
    /* CPU: 0.5 s over 1 s, then 1 s over 1 s: 50% and 100%, plotted on a 0..108% axis */
    has(html, "<title>x on node0: VM CPU %</title>", "the CPU series of the case's node");
    has(html, "x on node0: VM RSS MiB", "the RSS series");
    has(html, "1 earlier job(s) of tenant acme", "the trend counts job 1");
    has(html, "x: boot", "the trend follows the case's metric");
    has(html, "7.50 to 7.50 s", "the earlier value of that metric");
    has(html, "x: VM peak RSS", "and the VM's peak RSS");
    ok(!strstr(html, "y on node0"), "a perf path out of the job's directory was not read");
    free(html);
    html = NULL;
    is_int(kiln_dash_job_page(d, the_store, &b, id[1], &html, &len, &err), -ENOENT, "another tenant's job is not found");
    free(err);
    err = NULL;
    struct kiln_tenant admin = {.id = 99, .admin = true, .name = "root"};
    ok(kiln_dash_job_page(d, the_store, &admin, id[1], &html, &len, &err) == 0, "the admin sees it");
    has(html, "root (admin)", "signed in as the admin");
    free(html);
    /* a job that asked to be published: the page says what became of the publish */
    struct kiln_job_submit ps = {.image_digest = digest, .spec = "{\"image_name\":\"pub\",\"testcase\":[]}",
                                 .publish_channel = "stable", .publish_files = "{}"};
    int64_t pid = 0;
    ok(kiln_store_job_submit(the_store, a.id, &ps, &pid, &err) == 0, "a job to publish");
    ok(kiln_store_claim(the_store, w.id, 60000, &j, &err) == 1, "claimed");
    kiln_job_clear(&j);
    kiln_store_job_advance(the_store, w.id, pid, JOB_RUNNING, &err);
    ok(kiln_store_job_finish(the_store, w.id, pid, RESULT_PASSED, NULL, NULL, &err) == 0, "passed");
    /* its one case ran 106 s; its VM's samples end at 3.5 s (the guest rebooted and nothing
     * followed the new process): the plots still span the whole case */
    char pn[32];
    snprintf(pn, sizeof pn, "%lld", (long long)pid);
    _cleanup_free_ char *pdir = path_join(jobs, pn), *prj = path_join(pdir, "results.json"), *ppj = path_join(pdir, "cases/long/perf.json");
    put_file(prj, "{\"run\":{\"name\":\"job\"},\"cases\":[{\"name\":\"long\",\"status\":\"passed\",\"duration_s\":106,"
                  "\"started\":\"2026-11-30T10:00:00Z\",\"perf\":\"cases/long/perf.json\"}]}");
    put_file(ppj, "{\"host\":{\"node0\":{\"samples\":[{\"pid\":100,\"t\":0,\"cpu_s\":10,\"rss_kib\":102400},"
                  "{\"pid\":100,\"t\":1,\"cpu_s\":10.5,\"rss_kib\":102400},{\"pid\":200,\"t\":2,\"cpu_s\":0.1,\"rss_kib\":51200},"
                  "{\"pid\":200,\"t\":3.5,\"cpu_s\":0.4,\"rss_kib\":51200}]}}}");
    ok(kiln_dash_job_page(d, the_store, &a, pid, &html, &len, &err) == 0, "its page renders while the publish is pending");
    has(html, ">106 s</text>", "the VM plots' time axis ends with the 106 s case, not its last sample at 3.5 s");
    /* CPU: 50 % from pid 100's two samples, then 20 % from pid 200's: no drop across the restart */
    has(html, "<polyline points=\"62.5,22.5 78.8,101.4\"", "the CPU line: 50 % at 1 s, 20 % at 3.5 s, nothing across the restart");
    has(html, "<dt>Publish to</dt><dd>stable</dd><dt>Publish</dt><dd>pending</dd>", "the publish is pending");
    free(html);
    ok(kiln_store_publish_take(the_store, &j, &err) == 1 && j.id == pid, "the publisher takes it");
    kiln_job_clear(&j);
    ok(kiln_store_publish_end(the_store, pid, false, "not published: pub-1.0.manifest.json is not signed", &err) == 0, "refused");
    ok(kiln_dash_job_page(d, the_store, &a, pid, &html, &len, &err) == 0, "its page renders once refused");
    has(html, "<dt>Publish</dt><dd class=\"failed\">refused</dd><dt>Publish reason</dt>"
              "<dd class=\"reason\">not published: pub-1.0.manifest.json is not signed</dd>", "refused, and why");
    free(html);
    kiln_dash_free(d);
    kiln_store_close(the_store);
    rm_rf(tmp);
}

/* The rollout pages from a store holding a rollout that machines checked against, one that
 * failed with an error code and tipped the pause: the versions, the failure's code, the
 * pause's reason and the ramp's SVG; who sees them. */
static void rollout_page(void)
{
    char tmp[] = "/tmp/kiln-test-dash-XXXXXX";
    if (!mkdtemp(tmp)) return (void)ok(false, "mkdtemp");
    _cleanup_free_ char *url = xasprintf("sqlite:%s/kiln.db", tmp), *jobs = path_join(tmp, "jobs");
    _cleanup_free_ char *mine = xasprintf("%s/galleries/acme", tmp), *other = xasprintf("%s/operator-gallery", tmp);
    mkdir_p(mine, 0700);
    mkdir_p(other, 0700);
    struct kiln_store_opts so = {.now_ms = store_clock};
    char *err = NULL;
    if (kiln_store_open(url, &so, &the_store, &err) < 0) return (void)ok(false, "store: %s", err);
    struct kiln_rollout ro = {.name = "os", .channel = "stable"};
    ro.p = (struct rollout_policy){.enabled = true, .target = "1.1", .permyriad = 1000, .period_ms = 3600000, .pause_after_failures = 1};
    ok(kiln_store_rollout_set(the_store, &ro, &err) == 0, "rollout set at 10 %%");
    fake_now += 60000;
    ro.p.permyriad = 10000;
    ok(kiln_store_rollout_set(the_store, &ro, &err) == 0, "ramped to 100 %%");
    struct rollout_version vs[] = {{.version = "1.0", .support_end_ms = INT64_MAX}, {.version = "1.1", .support_end_ms = INT64_MAX}};
    struct rollout_decision dd;
    const char *ms[] = {"m1", "m2", "m3"};
    for (int i = 0; i < 3; i++) {
        fake_now += 1000;
        ok(kiln_store_update_check(the_store, "os", "stable", ms[i], i == 2 ? "1.1" : "1.0", vs, 2, &dd, &err) == 0, "check %d", i);
    }
    fake_now += 1000;
    struct omaha_event ev = {.type = OMAHA_EVENT_UPDATE_COMPLETE, .result = OMAHA_RESULT_ERROR, .errorcode = 4242, .has_errorcode = true};
    bool paused = false;
    ok(kiln_store_update_event(the_store, "os", "stable", "m1", "1.0", &ev, &paused, &err) == 0 && paused,
       "a failure with error code 4242 pauses the rollout");
    struct kiln_rollout r2 = {.name = "os2", .channel = "beta"};
    r2.p = (struct rollout_policy){.enabled = true, .target = "2.0", .permyriad = 50, .period_ms = 3600000};
    ok(kiln_store_rollout_set(the_store, &r2, &err) == 0 && kiln_store_rollout_pause(the_store, "os2", "beta", true, "<script>x</script>", &err) == 0,
       "a second rollout paused by hand with a hostile reason");
    struct kiln_dash_env env = {.jobs_dir = jobs, .store_get = get, .store_put = put, .now_ms = fake_clock, .gallery = other, .data = tmp};
    struct kiln_dash *d = kiln_dash_new(&env);
    struct kiln_tenant admin = {.id = 99, .admin = true, .name = "root"}, acme = {.id = 1, .name = "acme"};
    char *html = NULL;
    size_t len = 0;
    ok(kiln_dash_rollout_page(d, the_store, &admin, "os", "stable", &html, &len, &err) == 0, "the admin's rollout page renders");
    has(html, "<h1>Rollout os stable</h1>", "its heading");
    has(html, "<dd class=\"failed\">paused</dd>", "paused");
    has(html, "<dd class=\"reason\" id=\"pause-reason\">1 failure events on 1.1 (the limit is 1); the last from machine m1, error code 4242</dd>",
        "and why");
    has(html, "<td>1.0</td><td class=\"num\">2</td><td class=\"num\">66.7 %</td>", "two of three machines on 1.0");
    has(html, "<td>1.1 (target)</td><td class=\"num\">1</td>", "one on the target");
    has(html, "<td class=\"failed errorcode\">4242</td>", "the failure's error code");
    has(html, "update complete (3)", "and its event");
    has(html, "aria-label=\"rollout ramp over time\"", "the ramp's SVG");
    has(html, ": 1.1 at 10.00 %</title>", "the first step at 10 %");
    has(html, ": 1.1 at 100.00 %, paused</title>", "the pause's step at 100 %");
    has(html, "class=\"paused-span\"", "the paused span shaded");
    has(html, "class=\"failure-mark\"", "the failure marked");
    has(html, "machines granted 1.1: 2</title>", "the two grants counted");
    free(html);
    html = NULL;
    is_int(kiln_dash_rollout_page(d, the_store, &admin, "os", "beta", &html, &len, &err), -ENOENT, "a rollout that is not there: -ENOENT");
    is_int(kiln_dash_rollout_page(d, the_store, &acme, "os", "stable", &html, &len, &err), -ENOENT,
           "a tenant does not see the operator's gallery's rollouts");
    ok(kiln_dash_rollouts_page(d, the_store, &acme, &html, &len, &err) == 0, "the list renders for the tenant");
    has(html, "which is not yours", "saying why it is empty");
    ok(!strstr(html, "/rollouts/os/stable"), "naming no rollout");
    free(html);
    ok(kiln_dash_rollouts_page(d, the_store, &admin, &html, &len, &err) == 0, "the admin's list renders");
    has(html, "<a href=\"/rollouts/os/stable\">os</a>", "linking the rollout");
    has(html, "paused: 1 failure events on 1.1", "with its pause");
    has(html, "paused: &lt;script&gt;x&lt;/script&gt;", "a hostile reason is text");
    ok(!strstr(html, "<script"), "and made no element");
    has(html, "href=\"/rollouts\">Rollouts</a>", "the navigation links the list");
    free(html);
    kiln_dash_free(d);
    /* served from the tenant's own gallery, the tenant sees its rollouts */
    env.gallery = mine;
    d = kiln_dash_new(&env);
    ok(kiln_dash_rollout_page(d, the_store, &acme, "os", "stable", &html, &len, &err) == 0,
       "a tenant whose gallery the server offers sees its rollouts");
    free(html);
    kiln_dash_free(d);
    free(err);
    kiln_store_close(the_store);
    rm_rf(tmp);
}

static void routes(void)
{
    struct kiln_dash_route r;
    ok(kiln_dash_route("/", &r) && r.page == DASH_JOBS, "/ is the jobs page");
    ok(kiln_dash_route("/jobs", &r) && r.page == DASH_JOBS, "/jobs is the jobs page too (its pages are /jobs?before=ID)");
    ok(kiln_dash_route("/jobs/42", &r) && r.page == DASH_JOB && r.job == 42, "/jobs/42");
    ok(kiln_dash_route("/rollouts", &r) && r.page == DASH_ROLLOUTS, "/rollouts");
    ok(kiln_dash_route("/rollouts/debian-immutable/stable", &r) && r.page == DASH_ROLLOUT, "/rollouts/NAME/CHANNEL");
    is_str(r.name, "debian-immutable", "its name");
    is_str(r.channel, "stable", "its channel");
    const char *bad[] = {"/jobs/0", "/jobs/01", "/jobs/1x", "/jobs/", "/jobs/9999999999999999999", "/rollouts/", "/rollouts/os",
                         "/rollouts/os/", "/rollouts//stable", "/rollouts/../stable", "/rollouts/os/../x", "/rollouts/os/st/x",
                         "/rollouts/.os/stable", "/rollouts/os/-x", "/rollouts/o s/stable", "/workers/", "/x", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) ok(!kiln_dash_route(bad[i], &r) && r.page == DASH_NONE, "'%s' is no page", bad[i]);
    struct kiln_dash_form f = {0};
    kiln_dash_form_field(&f, "token", "kt_ab", 0, 5);
    kiln_dash_form_field(&f, "token", "cd", 5, 2);
    kiln_dash_form_field(&f, "other", "zz", 0, 2);
    is_str(f.token, "kt_abcd", "a field's pieces are joined");
    ok(!f.too_big, "and fit");
    ok(!f.twice, "one token is not twice");
    kiln_dash_form_field(&f, "token", "kt_x", 0, 4);
    is_str(f.twice, "token", "a second token is said (the last one won silently)");
    f.twice = NULL;
    kiln_dash_form_field(&f, "next", "/x", 199, 2);
    ok(f.too_big, "a piece past the field's room is too big");
    f.too_big = false;
    kiln_dash_form_field(&f, "next", "/x", UINT64_MAX - 1, 4);
    ok(f.too_big, "an offset that would wrap is too big");
}

int main(void)
{
    routes();
    rollout_page();
    writer();
    next_and_names();
    sessions_bounded();
    failed_sign_ins();
    job_page();
    return tap_done();
}
