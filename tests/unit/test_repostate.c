/* Repository state for the rootfs cache key: Release / InRelease and repomd.xml parsing, the
 * snapshot over file:// and http:// (a loopback mirror: 404, redirect, size limit, 500, a body
 * that never ends), the deb and rpm source lists a spec makes, deb base.repos. */
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image/build_int.h"
#include "image/reposnap.h"
#include "image/repostate.h"
#include "image/spec.h"
#include "tap.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/util.h"

static char dir[] = "/tmp/kiln-test-repostate-XXXXXX";

static const char *const MAIN[] = {"main"};

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"
#define H3 "3333333333333333333333333333333333333333333333333333333333333333"
#define H4 "4444444444444444444444444444444444444444444444444444444444444444"

/* A Release like Debian's: MD5Sum and SHA256 lists over every index of every component. */
static char *release(const char *date, const char *amd64_hash, const char *arm64_hash)
{
    return xasprintf("Origin: Debian\nSuite: stable\nCodename: bookworm\nDate: %s\n"
                     "Architectures: all amd64 arm64\nComponents: main contrib\n"
                     "MD5Sum:\n 0123456789abcdef0123456789abcdef 10 main/binary-amd64/Packages\n"
                     "SHA256:\n"
                     " %s 1000 main/binary-amd64/Packages\n"
                     " %s 300 main/binary-amd64/Packages.xz\n"
                     " %s 1000 main/binary-arm64/Packages\n"
                     " " H3 " 20 main/binary-all/Packages.gz\n"
                     " " H4 " 50 contrib/binary-amd64/Packages\n"
                     " " H4 " 50 main/i18n/Translation-en\n"
                     " " H4 " 50 main/binary-amd64/Packages.diff/Index\n",
                     date, amd64_hash, H2, arm64_hash);
}

static void test_release(void)
{
    struct repo_release r, r2;
    _cleanup_free_ char *why = NULL;
    _cleanup_free_ char *a = release("Sat, 10 Jun 2023 08:52:38 UTC", H1, H1);
    ok(repo_release_parse(a, strlen(a), MAIN, 1, "amd64", &r, &why) == 0, "a Release parses (%s)", why);
    is_str(r.date, "Sat, 10 Jun 2023 08:52:38 UTC", "its Date field");
    /* Packages and Packages.xz for amd64, Packages.gz for all; not arm64, contrib, i18n or diffs */
    is_int(r.nindexes, 3, "the indexes of main for amd64 and all");
    ok(strlen(r.indexes) == 64, "their digest is 64 hex digits (%s)", r.indexes);
    char first[65];
    memcpy(first, r.indexes, sizeof first);
    repo_release_free(&r);

    _cleanup_free_ char *b = release("Sun, 11 Jun 2023 08:52:38 UTC", H1, H4);
    repo_release_parse(b, strlen(b), MAIN, 1, "amd64", &r, &why);
    is_str(r.indexes, first, "a new Date and another architecture's index keep the digest");
    repo_release_free(&r);
    _cleanup_free_ char *c = release("Sat, 10 Jun 2023 08:52:38 UTC", H4, H1);
    repo_release_parse(c, strlen(c), MAIN, 1, "amd64", &r, &why);
    ok(strcmp(r.indexes, first) != 0, "a changed amd64 Packages changes it");
    repo_release_free(&r);
    repo_release_parse(a, strlen(a), MAIN, 1, "arm64", &r, &why);
    ok(strcmp(r.indexes, first) != 0 && r.nindexes == 2, "arm64 reads other indexes (%zu)", r.nindexes);
    repo_release_free(&r);
    const char *const contrib[] = {"main", "contrib"};
    repo_release_parse(a, strlen(a), contrib, 2, "amd64", &r, &why);
    is_int(r.nindexes, 4, "a second component adds its index");
    repo_release_free(&r);

    /* the same text clearsigned (RFC 4880 7): armor headers, dash-escaping, the signature after */
    _cleanup_free_ char *s = xasprintf("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n%s- -dash escaped line\n"
                                       "-----BEGIN PGP SIGNATURE-----\n\niQIzBAEBCgAdFiEE\n-----END PGP SIGNATURE-----\n",
                                       a);
    ok(repo_release_parse(s, strlen(s), MAIN, 1, "amd64", &r2, &why) == 0, "an InRelease parses (%s)", why);
    is_str(r2.indexes, first, "to the same indexes digest as its Release");
    is_str(r2.date, "Sat, 10 Jun 2023 08:52:38 UTC", "and Date");
    repo_release_free(&r2);

    /* CRLF line ends, lower-case field names (deb822 names are case-insensitive) */
    const char *crlf = "suite: x\r\ndate: Mon, 01 Jan 2024 00:00:00 UTC\r\nsha256:\r\n " H1 " 5 main/binary-amd64/Packages\r\n";
    ok(repo_release_parse(crlf, strlen(crlf), MAIN, 1, "amd64", &r, &why) == 0 && r.nindexes == 1,
       "CRLF and lower-case names");
    is_str(r.date, "Mon, 01 Jan 2024 00:00:00 UTC", "the date without its CR");
    repo_release_free(&r);
    /* only the first paragraph is the Release file */
    const char *two = "Suite: x\n\nSHA256:\n " H1 " 5 main/binary-amd64/Packages\n";
    ok(repo_release_parse(two, strlen(two), MAIN, 1, "amd64", &r, &why) == 0 && r.nindexes == 0 && !r.indexes[0],
       "a second paragraph is not read; no index: indexes is empty");
    repo_release_free(&r);
    /* a hash that is not 64 hex digits is not an entry */
    const char *shorth = "Suite: x\nSHA256:\n abc 5 main/binary-amd64/Packages\n " H1 "\n";
    ok(repo_release_parse(shorth, strlen(shorth), MAIN, 1, "amd64", &r, &why) == 0 && r.nindexes == 0,
       "malformed entries are skipped");
    repo_release_free(&r);

    const char *html = "<html><body>Mirror maintenance</body></html>\n";
    ok(repo_release_parse(html, strlen(html), MAIN, 1, "amd64", &r, &why) == -EBADMSG, "an HTML page is refused");
    has(why, "not a Release file", "saying so");
    _cleanup_free_ char *cut = xasprintf("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n%s", a);
    ok(repo_release_parse(cut, strlen(cut), MAIN, 1, "amd64", &r, &why) == -EBADMSG, "a cut InRelease is refused");
    has(why, "without its signature block", "saying so");
    const char nul[] = "Suite: x\0Date: y\nSHA256:\n";
    ok(repo_release_parse(nul, sizeof nul - 1, MAIN, 1, "amd64", &r, &why) == 0, "NUL bytes are bytes");
    repo_release_free(&r);
    ok(repo_release_parse("", 0, MAIN, 1, "amd64", &r, &why) == -EBADMSG, "empty input is refused");
}

static void test_repomd(void)
{
    struct repo_repomd m;
    _cleanup_free_ char *why = NULL;
    const char *x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<repomd xmlns=\"http://linux.duke.edu/metadata/repo\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n"
                    "  <revision>1718000000</revision>\n"
                    "  <data type=\"primary\"><checksum type=\"sha256\">" H1 "</checksum>"
                    "<timestamp>1718000100</timestamp></data>\n"
                    "  <data type=\"filelists\"><timestamp>1718000200.0</timestamp></data>\n"
                    "  <data type=\"other\"><timestamp>later</timestamp></data>\n"
                    "</repomd>\n";
    ok(repo_repomd_parse(x, strlen(x), &m, &why) == 0, "a repomd.xml parses (%s)", why ? why : "");
    is_str(m.revision, "1718000000", "its revision");
    is_int(m.timestamp, 1718000200, "the newest data timestamp (\"N.0\" as older createrepo wrote it)");
    repo_repomd_free(&m);
    const char *none = "<repomd/>";
    ok(repo_repomd_parse(none, strlen(none), &m, &why) == 0 && !m.revision && m.timestamp == -1,
       "no revision, no timestamps: NULL and -1");
    repo_repomd_free(&m);
    const char *other = "<html><body/></html>";
    ok(repo_repomd_parse(other, strlen(other), &m, &why) == -EBADMSG, "another root is refused");
    has(why, "not <repomd>", "saying so");
    const char *bad = "<repomd><revision>1</rev";
    ok(repo_repomd_parse(bad, strlen(bad), &m, &why) == -EBADMSG, "broken XML is refused");
    has(why, "not well-formed XML", "saying so");
    /* an external entity is not fetched nor expanded (XML_PARSE_NONET, no NOENT) */
    const char *xxe = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>"
                      "<repomd><revision>&e;</revision></repomd>";
    ok(repo_repomd_parse(xxe, strlen(xxe), &m, &why) == 0 && (!m.revision || !strstr(m.revision, "root:")),
       "an external entity is not read (revision %s)", m.revision ? m.revision : "(none)");
    repo_repomd_free(&m);
}

static void put(const char *rel, const char *text)
{
    _cleanup_free_ char *p = path_join(dir, rel);
    _cleanup_free_ char *d = path_dirname(p);
    mkdir_p(d, 0755);
    write_file_atomic(p, text, strlen(text), 0644);
}

static void test_snapshot(void)
{
    _cleanup_free_ char *rel = release("Sat, 10 Jun 2023 08:52:38 UTC", H1, H1);
    _cleanup_free_ char *inrel = xasprintf("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n%s"
                                           "-----BEGIN PGP SIGNATURE-----\n-----END PGP SIGNATURE-----\n", rel);
    put("deb/dists/bookworm/InRelease", inrel);
    put("deb/dists/bookworm/Release", "Suite: other\n");
    put("deb/dists/plain/Release", rel);
    put("deb/dists/broken/InRelease", "<html>502</html>\n");
    put("rpm/repodata/repomd.xml", "<repomd><revision>7</revision><data><timestamp>0</timestamp></data></repomd>");
    _cleanup_free_ char *deb = xasprintf("file://%s/deb", dir);
    _cleanup_free_ char *rpm = xasprintf("file:%s/rpm", dir);
    char *comps[] = {"main"};
    struct repo_src src[] = {
        {.url = deb, .suite = "bookworm", .components = comps, .ncomponents = 1},
        {.url = deb, .suite = "plain", .components = comps, .ncomponents = 1},
        {.url = rpm},
    };
    struct repo_state *st = NULL;
    ok(repo_snapshot(src, 3, "amd64", 5, &st) == 0, "three readable repositories: 0");
    is_str(st[0].file, "InRelease", "InRelease first, as apt");
    struct repo_release r;
    _cleanup_free_ char *why = NULL;
    repo_release_parse(rel, strlen(rel), MAIN, 1, "amd64", &r, &why);
    is_str(st[0].key, r.indexes, "the key part is the indexes digest");
    repo_release_free(&r);
    _cleanup_free_ char *ip = xasprintf("%s/deb/dists/bookworm/InRelease", dir);
    char sha[65];
    sha256_file_hex(ip, sha, NULL);
    is_str(st[0].sha256, sha, "sha256 is the InRelease file's");
    is_str(st[0].date, "Sat, 10 Jun 2023 08:52:38 UTC", "date from it");
    is_str(st[1].file, "Release", "no InRelease: Release");
    is_str(st[2].file, "repodata/repomd.xml", "rpm: repomd.xml");
    is_str(st[2].key, st[2].sha256, "rpm: the key part is repomd.xml's digest");
    is_str(st[2].revision, "7", "its revision");
    is_str(st[2].date, "1970-01-01T00:00:00Z", "its newest timestamp in RFC 3339");
    json_t *j = repo_states_json(st, 3);
    _cleanup_free_ char *js = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    _cleanup_free_ char *want0 = xasprintf("{\"date\":\"Sat, 10 Jun 2023 08:52:38 UTC\",\"file\":\"InRelease\",\"sha256\":\"%s\","
                                           "\"suite\":\"bookworm\",\"url\":\"%s\"}", sha, deb);
    has(js, want0, "the manifest's entry for apt");
    has(js, "\"revision\":\"7\"", "and rpm's revision");
    json_decref(j);
    repo_states_free(st, 3);

    struct repo_src bad[] = {
        {.url = deb, .suite = "bookworm", .components = comps, .ncomponents = 1},
        {.url = deb, .suite = "missing", .components = comps, .ncomponents = 1},
        {.url = deb, .suite = "broken", .components = comps, .ncomponents = 1},
    };
    ok(repo_snapshot(bad, 3, "amd64", 5, &st) == -ENOENT, "a missing suite: -ENOENT, the first failure's");
    ok(!st[0].error && st[0].sha256[0], "the readable one is still read");
    _cleanup_free_ char *miss = xasprintf("%s/dists/missing/Release: No such file or directory", deb);
    is_str(st[1].error, miss, "the error names the last URL tried and why");
    has(st[2].error, "/dists/broken/InRelease: not a Release file", "a page that is no Release file is an error too");
    j = repo_states_json(st, 3);
    json_t *e = json_array_get(j, 1);
    ok(json_object_get(e, "error") && !json_object_get(e, "sha256"), "the manifest says error, no digest");
    json_decref(j);
    repo_states_free(st, 3);

    /* http: a closed port on loopback fails fast with curl's reason */
    struct repo_src off[] = {{.url = "http://127.0.0.1:9/debian", .suite = "bookworm", .components = comps, .ncomponents = 1}};
    ok(repo_snapshot(off, 1, "amd64", 5, &st) == -EIO, "nothing listening: -EIO");
    has(st[0].error, "http://127.0.0.1:9/debian/dists/bookworm/InRelease: ", "naming the URL");
    repo_states_free(st, 1);
}

/* A mirror on loopback (libmicrohttpd): InRelease missing, a redirect, a body past the size
 * limit, a server error, one that never finishes. */
static const char *http_release = "Suite: s\nDate: Tue, 01 Dec 2026 00:00:00 UTC\nSHA256:\n " H1 " 9 main/binary-amd64/Packages\n";

static ssize_t slow_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    (void)max;
    if (pos >= 4) return MHD_CONTENT_READER_END_OF_STREAM;
    sleep(1); /* one byte a second: the client's 2 s budget runs out first */
    buf[0] = 'x';
    return 1;
}

static enum MHD_Result serve(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
                             const char *data, size_t *data_size, void **state)
{
    (void)cls, (void)method, (void)version, (void)data, (void)data_size, (void)state;
    struct MHD_Response *r = NULL;
    unsigned status = 404;
    if (streq(url, "/a/dists/s/Release")) {
        r = MHD_create_response_from_buffer(strlen(http_release), (void *)http_release, MHD_RESPMEM_PERSISTENT);
        status = 200;
    } else if (streq(url, "/b/dists/s/InRelease")) {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Location", "/a/dists/s/Release");
        status = 302;
    } else if (streq(url, "/big/dists/s/InRelease")) {
        size_t n = (8u << 20) + 1;
        char *b = xmalloc(n);
        memset(b, 'A', n);
        r = MHD_create_response_from_buffer(n, b, MHD_RESPMEM_MUST_FREE);
        status = 200;
    } else if (streq(url, "/err/dists/s/InRelease")) {
        r = MHD_create_response_from_buffer(5, (void *)"oops\n", MHD_RESPMEM_PERSISTENT);
        status = 500;
    } else if (streq(url, "/slow/dists/s/InRelease")) {
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1, slow_body, NULL, NULL);
        status = 200;
    } else r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static void test_http(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                                            serve, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
    ok(d != NULL, "a mirror on loopback");
    if (!d) return;
    unsigned port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    char *comps[] = {"main"};
    char *urls[5];
    const char *names[] = {"a", "b", "big", "err", "slow"};
    struct repo_src src[5];
    for (int i = 0; i < 5; i++) {
        urls[i] = xasprintf("http://127.0.0.1:%u/%s", port, names[i]);
        src[i] = (struct repo_src){.url = urls[i], .suite = "s", .components = comps, .ncomponents = 1};
    }
    struct repo_state *st = NULL;
    int r = repo_snapshot(src, 5, "amd64", 2, &st);
    is_int(r, -EFBIG, "the first failure is the body past 8 MiB");
    is_str(st[0].file, "Release", "InRelease 404: Release, as apt");
    is_str(st[0].date, "Tue, 01 Dec 2026 00:00:00 UTC", "its Date over HTTP");
    char sha[65];
    uint8_t md[32];
    unsigned ml;
    EVP_Digest(http_release, strlen(http_release), md, &ml, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++) snprintf(sha + 2 * i, 3, "%02x", md[i]);
    is_str(st[0].sha256, sha, "the digest of the bytes served");
    is_str(st[1].sha256, sha, "a redirect is followed to the same file");
    _cleanup_free_ char *big = xasprintf("%s/dists/s/InRelease: larger than 8 MiB", urls[2]);
    is_str(st[2].error, big, "a body past 8 MiB is cut off, saying so");
    _cleanup_free_ char *err = xasprintf("%s/dists/s/InRelease: HTTP 500", urls[3]);
    is_str(st[3].error, err, "a server error names the status");
    has(st[4].error, "/slow/dists/s/InRelease: ", "a body that never ends stops at the timeout");
    repo_states_free(st, 5);
    struct repo_src slow = src[4];
    ok(repo_snapshot(&slow, 1, "amd64", 2, &st) == -ETIMEDOUT, "as -ETIMEDOUT");
    repo_states_free(st, 1);
    for (int i = 0; i < 5; i++) free(urls[i]);
    MHD_stop_daemon(d);
}

static struct image_spec *load(const char *yaml, struct diags *d)
{
    _cleanup_free_ char *p = path_join(dir, "spec.yml");
    write_file_atomic(p, yaml, strlen(yaml), 0644);
    struct image_spec *s = NULL;
    return spec_load(p, NULL, &s, d) == 0 ? s : NULL;
}

static void test_sources(void)
{
    put("key.asc", "key\n");
    mkdir_p(dir, 0755);
    _cleanup_free_ char *local = path_join(dir, "local");
    mkdir_p(local, 0755);
    struct diags d = {0};
    struct image_spec *s = load("name: t\nversion: '1'\nbase:\n  family: deb\n  suite: bookworm\n"
                                "  mirror: http://mirror.example/debian/\n  components: [main, contrib]\n"
                                "  repos:\n    - { name: a, baseurl: local, gpgkey: key.asc, suite: kiln, components: [x] }\n"
                                "    - { name: b, baseurl: 'https://r.example/apt/', gpgkey: key.asc }\n",
                                &d);
    ok(s != NULL, "a deb spec with base.repos loads (%s)", d.n ? d.v[0].msg : "");
    diags_free(&d);
    if (s) {
        struct repo_src *v = NULL;
        size_t n = pkg_family_ops(s->family)->sources(s, &v);
        is_int(n, 4, "mirror, -updates (no host security for a set mirror), two repos");
        struct sbuf b = {0};
        for (size_t i = 0; i < n; i++) {
            sbuf_printf(&b, "%s %s", v[i].url, v[i].suite);
            for (size_t k = 0; k < v[i].ncomponents; k++) sbuf_printf(&b, " %s", v[i].components[k]);
            sbuf_printf(&b, "%s|", v[i].signed_by ? " key" : "");
        }
        _cleanup_free_ char *want = xasprintf("http://mirror.example/debian bookworm main contrib|"
                                              "http://mirror.example/debian bookworm-updates main contrib|"
                                              "file://%s kiln x key|https://r.example/apt bookworm main contrib key|", local);
        is_str(b.s, want, "in apt's order, trailing '/' trimmed, the base suite and components by default");
        sbuf_free(&b);
        repo_srcs_free(v, n);
        spec_free(s);
    }
    s = load("name: t\nversion: '1'\nbase:\n  family: deb\n  suite: sid\n  mirror: http://m.example/debian\n", &d);
    if (s) {
        struct repo_src *v = NULL;
        size_t n = pkg_family_ops(s->family)->sources(s, &v);
        ok(n == 1 && streq(v[0].components[0], "main"), "sid: no -updates, components default to main");
        repo_srcs_free(v, n);
        spec_free(s);
    }
    diags_free(&d);
    s = load("name: t\nversion: '1'\nbase:\n  family: rpm\n  releasever: '9'\n"
             "  repos:\n    - { name: a, baseurl: 'https://r.example/$releasever/BaseOS/$basearch/os/', gpgkey: key.asc }\n"
             "    - { name: b, baseurl: 'https://r.example/${releasever}/x/${basearch}/$basearchy', gpgkey: key.asc }\n",
             &d);
    ok(s != NULL, "an rpm spec loads");
    diags_free(&d);
    if (s) {
        struct repo_src *v = NULL;
        size_t n = pkg_family_ops(s->family)->sources(s, &v);
        ok(n == 2 && !v[0].suite, "one source per repo, no suite");
        is_str(v[0].url, "https://r.example/9/BaseOS/x86_64/os", "$releasever and $basearch expanded as dnf does");
        is_str(v[1].url, "https://r.example/9/x/x86_64/$basearchy", "${...} too; a longer name is not a variable");
        repo_srcs_free(v, n);
        spec_free(s);
    }
    ok(!load("name: t\nversion: '1'\nbase:\n  family: rpm\n"
             "  repos: [ { name: a, baseurl: 'https://r.example/', gpgkey: key.asc, suite: x } ]\n", &d),
       "suite on an rpm repository is refused");
    has(d.n ? d.v[0].msg : "", "only a deb repository has a suite", "saying why");
    diags_free(&d);
    ok(!load("name: t\nversion: '1'\nbase:\n  family: deb\n  suite: bookworm\n"
             "  repos: [ { name: a, baseurl: 'https://r.example/a b', gpgkey: key.asc } ]\n", &d),
       "a deb baseurl with a space is refused");
    has(d.n ? d.v[0].msg : "", "which an apt source line cannot hold", "saying why");
    diags_free(&d);
    ok(!load("name: t\nversion: '1'\nbase:\n  family: deb\n  suite: bookworm\n"
             "  repos: [ { name: a, baseurl: 'https://r.example/', gpgkey: key.asc, suite: ../x } ]\n", &d),
       "a suite that climbs out of dists/ is refused");
    diags_free(&d);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    test_release();
    test_repomd();
    test_snapshot();
    test_http();
    test_sources();
    rm_rf(dir);
    return tap_done();
}
