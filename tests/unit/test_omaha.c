/* Omaha v3: fixtures written from the protocol (a Flatcar update_engine request, a Nebraska
 * response, kiln's own) parse to their values; what the writers produce parses back to what
 * went in; hostile documents (DOCTYPE, entities, oversize, control characters, too many
 * elements) are refused with the reason. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "update/omaha.h"
#include "util/fs.h"
#include "util/util.h"

static char *fixture(const char *name, size_t *len)
{
    char *path = xasprintf("%s/omaha/%s", TEST_DATA_DIR, name), *data = NULL;
    if (read_file(path, OMAHA_DOC_MAX + 1, &data, len) < 0) data = NULL;
    free(path);
    return data;
}

static int req_str(const char *doc, struct omaha_request *r, char **why)
{
    return omaha_request_parse(doc, strlen(doc), r, why);
}

static void flatcar_request(void)
{
    size_t len;
    char *doc = fixture("request-flatcar-updatecheck.xml", &len);
    struct omaha_request *r = xcalloc(1, sizeof(*r));
    _cleanup_free_ char *why = NULL;
    ok(doc && omaha_request_parse(doc, len, r, &why) == 0, "Flatcar's request parses (%s)", why ? why : "");
    is_str(r->client, "update_engine-0.4.10", "client version");
    is_str(r->os_platform, "CoreOS", "os platform");
    is_str(r->os_sp, "3510.2.1_x86_64", "os sp");
    is_int(r->napps, 1, "one app");
    struct omaha_app_request *a = &r->apps[0];
    is_str(a->appid, "{e96281a6-d1af-4bde-9a0a-97b76e56dc57}", "appid (a GUID in braces)");
    is_str(a->version, "3510.2.1", "version");
    is_str(a->track, "stable", "track");
    is_str(a->machineid, "8d4fb9c1a7e24c0e9f3b2a6d5c1e0f7a", "machineid");
    is_str(a->bootid, "{4a3e0c5b-18a2-4b5e-9b1f-6d2e8c7a9f10}", "bootid");
    ok(a->ping && a->updatecheck, "ping and updatecheck");
    is_int(a->nevents, 1, "one event");
    is_int(a->events[0].type, OMAHA_EVENT_UPDATE_COMPLETE, "eventtype 3");
    is_int(a->events[0].result, OMAHA_RESULT_SUCCESS_REBOOT, "eventresult 2");
    ok(!a->events[0].has_errorcode, "no errorcode");
    is_str(a->events[0].previousversion, "", "empty previousversion is none");
    free(doc);

    doc = fixture("request-kiln-error-event.xml", &len);
    ok(doc && omaha_request_parse(doc, len, r, &why) == 0, "kiln's error event parses (%s)", why);
    ok(!r->apps[0].updatecheck && !r->apps[0].ping, "no updatecheck, no ping");
    ok(r->apps[0].events[0].has_errorcode && r->apps[0].events[0].errorcode == 268435466,
       "errorcode above INT32_MAX (update_engine's flag bits) is kept whole");
    is_int(r->apps[0].events[0].result, OMAHA_RESULT_ERROR, "eventresult 0");
    is_str(r->os_arch, "x86_64", "os arch");
    free(doc);
    free(r);
}

static void nebraska_response(void)
{
    size_t len;
    char *doc = fixture("response-update.xml", &len);
    struct omaha_response *r = xcalloc(1, sizeof(*r));
    _cleanup_free_ char *why = NULL;
    ok(doc && omaha_response_parse(doc, len, r, &why) == 0, "Nebraska's response parses (%s)", why ? why : "");
    is_str(r->server, "nebraska", "server");
    is_int(r->daystart_elapsed_seconds, 0, "daystart");
    struct omaha_app_response *a = &r->apps[0];
    is_str(a->status, "ok", "app status");
    ok(a->ping && a->events == 1, "ping and one event acknowledged");
    is_str(a->update_status, "ok", "update status");
    is_int(a->nurls, 1, "one url");
    is_str(a->urls[0], "https://update.example.com/flatcar/amd64-usr/3510.2.2/", "codebase");
    is_str(a->version, "3510.2.2", "manifest version");
    is_int(a->npackages, 1, "one package");
    is_str(a->packages[0].name, "flatcar_production_update.gz", "package name");
    ok(a->packages[0].size == 482012456, "package size");
    ok(a->packages[0].required, "required");
    is_str(a->packages[0].hash, "2jmj7l5rSw0yVb/vlWAYkK/YBwk=", "SHA-1 hash (base64)");
    is_str(a->packages[0].hash_sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "hash_sha256");
    ok(a->has_postinstall, "postinstall action");
    char hex[65];
    ok(omaha_sha256_b64_to_hex(a->sha256_b64, hex) == 0, "action sha256 decodes");
    is_str(hex, a->packages[0].hash_sha256, "action sha256 (base64) is the package's hash_sha256 (hex)");
    is_str(a->kiln_roothash, "", "no kiln extensions from Nebraska");
    free(doc);

    doc = fixture("response-noupdate.xml", &len);
    ok(doc && omaha_response_parse(doc, len, r, &why) == 0, "noupdate parses (%s)", why);
    is_str(r->apps[0].update_status, "noupdate", "noupdate");
    is_int(r->daystart_elapsed_seconds, 3600, "daystart 3600");
    is_int(r->apps[0].npackages, 0, "no packages");
    free(doc);
    free(r);
}

static void digests(void)
{
    char b64[45], hex[65];
    /* SHA-256 of the empty string, both ways */
    ok(omaha_sha256_hex_to_b64("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", b64) == 0, "hex -> b64");
    is_str(b64, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "base64 of SHA-256('')");
    ok(omaha_sha256_hex_to_b64("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", b64) == 0, "upper-case hex");
    is_str(b64, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "same base64");
    ok(omaha_sha256_b64_to_hex("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", hex) == 0, "b64 -> hex");
    is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "SHA-256('abc')");
    ok(omaha_sha256_b64_to_hex("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa1=", hex) == -EINVAL, "non-zero pad bits refused");
    ok(omaha_sha256_b64_to_hex("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0", hex) == -EINVAL, "43 characters refused");
    ok(omaha_sha256_hex_to_b64("e3b0", b64) == -EINVAL, "short hex refused");
}

static void roundtrip(void)
{
    struct omaha_request *q = xcalloc(1, sizeof(*q)), *q2 = xcalloc(1, sizeof(*q2));
    _cleanup_free_ char *why = NULL;
    char *doc = NULL;
    size_t len = 0;
    snprintf(q->client, sizeof(q->client), "kiln-updater-0.1.0");
    snprintf(q->os_platform, sizeof(q->os_platform), "Linux");
    q->napps = 1;
    struct omaha_app_request *a = &q->apps[0];
    snprintf(a->appid, sizeof(a->appid), "debian-immutable");
    snprintf(a->version, sizeof(a->version), "1.0.0");
    snprintf(a->track, sizeof(a->track), "stable");
    snprintf(a->machineid, sizeof(a->machineid), "0123456789abcdef0123456789abcdef");
    a->ping = a->updatecheck = true;
    a->nevents = 2;
    /* fields set one by one: the structures are compared whole, padding included */
    a->events[0].type = OMAHA_EVENT_DOWNLOAD_STARTED;
    a->events[0].result = OMAHA_RESULT_SUCCESS;
    a->events[1].type = OMAHA_EVENT_UPDATE_COMPLETE;
    a->events[1].result = OMAHA_RESULT_ERROR;
    a->events[1].errorcode = -7;
    a->events[1].has_errorcode = true;
    snprintf(a->events[1].previousversion, sizeof(a->events[1].previousversion), "0.9.0");
    ok(omaha_request_write(q, &doc, &len, &why) == 0, "request written (%s)", why);
    ok(doc && len == strlen(doc), "length is the document's");
    has(doc, "<request protocol=\"3.0\"", "protocol 3.0");
    ok(omaha_request_parse(doc, len, q2, &why) == 0, "written request parses (%s)", why);
    ok(memcmp(q, q2, sizeof(*q)) == 0, "request: parse(write(x)) == x");
    free(doc);

    strcpy(a->machineid, "evil\"><inject/>");
    ok(omaha_request_write(q, &doc, &len, &why) == -EINVAL && !doc, "writer refuses a machineid with quotes");
    has(why, "machineid", "the reason names the attribute");
    strcpy(a->machineid, "m1");
    a->appid[0] = 0;
    ok(omaha_request_write(q, &doc, &len, &why) == -EINVAL, "writer needs an appid");

    struct omaha_response *r = xcalloc(1, sizeof(*r)), *r2 = xcalloc(1, sizeof(*r2));
    snprintf(r->server, sizeof(r->server), "kiln");
    r->daystart_elapsed_seconds = 86399;
    r->napps = 2;
    struct omaha_app_response *x = &r->apps[0];
    snprintf(x->appid, sizeof(x->appid), "debian-immutable");
    snprintf(x->status, sizeof(x->status), "ok");
    x->ping = true;
    x->events = 2;
    x->has_updatecheck = true;
    snprintf(x->update_status, sizeof(x->update_status), "ok");
    x->nurls = 1;
    snprintf(x->urls[0], sizeof(x->urls[0]), "http://127.0.0.1:8470/v1/update/payload/debian-immutable/1.0.1/");
    snprintf(x->version, sizeof(x->version), "1.0.1");
    x->npackages = 1;
    snprintf(x->packages[0].name, sizeof(x->packages[0].name), "debian-immutable-1.0.1.usr.img");
    x->packages[0].size = 1 << 30;
    x->packages[0].required = true;
    snprintf(x->packages[0].hash_sha256, 65, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    x->has_postinstall = true;
    omaha_sha256_hex_to_b64(x->packages[0].hash_sha256, x->sha256_b64);
    snprintf(x->kiln_roothash, sizeof(x->kiln_roothash), "%s", x->packages[0].hash_sha256);
    snprintf(x->kiln_signature, sizeof(x->kiln_signature), "debian-immutable-1.0.1.usr.img.minisig");
    struct omaha_app_response *y = &r->apps[1];
    snprintf(y->appid, sizeof(y->appid), "{e96281a6-d1af-4bde-9a0a-97b76e56dc57}");
    snprintf(y->status, sizeof(y->status), "error-unknownApplication");
    ok(omaha_response_write(r, &doc, &len, &why) == 0, "response written (%s)", why);
    has(doc, "kiln_roothash=\"ba7816bf", "kiln extension written");
    has(doc, "sha256=\"ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=\"", "postinstall sha256 in base64");
    ok(omaha_response_parse(doc, len, r2, &why) == 0, "written response parses (%s)", why);
    ok(memcmp(r, r2, sizeof(*r)) == 0, "response: parse(write(x)) == x");
    free(doc);

    x->npackages = 0;
    ok(omaha_response_write(r, &doc, &len, &why) == -EINVAL && !doc, "an update without packages is refused");
    x->npackages = 1;
    strcpy(x->packages[0].name, "../../etc/passwd");
    ok(omaha_response_write(r, &doc, &len, &why) == -EINVAL, "a package name with '/' is refused");
    free(q);
    free(q2);
    free(r);
    free(r2);
}

static void hostile(void)
{
    struct omaha_request *r = xcalloc(1, sizeof(*r));
    struct omaha_response *s = xcalloc(1, sizeof(*s));
    _cleanup_free_ char *why = NULL;
    size_t len;
    char *doc = fixture("request-doctype.xml", &len);
    ok(doc && omaha_request_parse(doc, len, r, &why) == -EINVAL, "internal DTD with entities refused");
    has(why, "DOCTYPE", "the reason says DOCTYPE");
    free(doc);
    doc = fixture("request-external-entity.xml", &len);
    ok(doc && omaha_request_parse(doc, len, r, &why) == -EINVAL, "external DTD refused (nothing fetched)");
    has(why, "DOCTYPE", "the reason says DOCTYPE");
    free(doc);

    ok(req_str("<request protocol=\"3.0\"><app appid=\"a\" version=\"1\"", r, &why) == -EINVAL, "truncated");
    has(why, "malformed XML at line 1", "truncated: says malformed and where");
    ok(req_str("", r, &why) == -EINVAL, "empty body refused");
    ok(req_str("<request protocol=\"2.0\"><app appid=\"a\" version=\"1\"/></request>", r, &why) == -EINVAL,
       "protocol 2.0 refused");
    has(why, "protocol=\"3.0\"", "says which protocol");
    ok(req_str("<response protocol=\"3.0\"/>", r, &why) == -EINVAL, "a response is not a request");
    has(why, "<request>", "names the root wanted");
    ok(req_str("<request protocol=\"3.0\"/>", r, &why) == -EINVAL, "no app refused");
    ok(req_str("<request protocol=\"3.0\"><app version=\"1\"/></request>", r, &why) == -EINVAL, "no appid");
    has(why, "appid", "names appid");
    ok(req_str("<request protocol=\"3.0\"><app appid=\"a\" version=\"1\" machineid=\"m&#10;x\"/></request>", r, &why) == -EINVAL,
       "a newline (character reference) in machineid refused");
    has(why, "machineid", "names machineid");
    ok(!strstr(why, "m\nx"), "the value is not echoed");
    ok(req_str("<request protocol=\"3.0\"><app appid=\"a\" version=\"1 .0\"/></request>", r, &why) == -EINVAL,
       "a space in version refused");
    char big[300];
    memset(big, 'a', 129);
    big[129] = 0;
    char *q = xasprintf("<request protocol=\"3.0\"><app appid=\"a\" version=\"1\" track=\"%s\"/></request>", big);
    ok(req_str(q, r, &why) == -EINVAL, "a 129-byte track refused");
    free(q);
    big[128] = 0;
    q = xasprintf("<request protocol=\"3.0\"><app appid=\"a\" version=\"1\" track=\"%s\"/></request>", big);
    ok(req_str(q, r, &why) == 0 && strlen(r->apps[0].track) == 128, "a 128-byte track kept");
    free(q);
    ok(req_str("<request protocol=\"3.0\"><app appid=\"a\" version=\"1\"><event eventtype=\"x\" eventresult=\"1\"/></app></request>",
               r, &why) == -EINVAL, "non-numeric eventtype");
    has(why, "eventtype", "names eventtype");
    ok(req_str("<request protocol=\"3.0\"><app appid=\"a\" version=\"1\"><event eventtype=\"3\" eventresult=\"1\" errorcode=\"4294967296\"/></app></request>",
               r, &why) == -EINVAL, "errorcode past 32 bits");
    ok(req_str("<request protocol=\"3.0\"><app appid=\"a\" version=\"1\"><event eventtype=\"3\" eventresult=\"1\" errorcode=\"-2147483648\"/></app></request>",
               r, &why) == 0 && r->apps[0].events[0].errorcode == -2147483648LL, "INT32_MIN errorcode kept");
    ok(req_str("<request protocol=\"3.0\"><app appid=\"a\" version=\"1\"><event eventtype=\"3\"/></app></request>", r, &why) == -EINVAL, "event without eventresult");

    struct sbuf b = {0};
    sbuf_puts(&b, "<request protocol=\"3.0\"><app appid=\"a\" version=\"1\">");
    for (int i = 0; i <= OMAHA_EVENTS_MAX; i++) sbuf_puts(&b, "<event eventtype=\"13\" eventresult=\"1\"/>");
    sbuf_puts(&b, "</app></request>");
    sbuf_append(&b, "", 0);
    ok(req_str(b.s, r, &why) == -E2BIG, "more than %d events refused as too many (400), not too large", OMAHA_EVENTS_MAX);
    sbuf_free(&b);
    for (int i = 0; i <= OMAHA_APPS_MAX; i++) sbuf_puts(&b, i ? "<app appid=\"a\" version=\"1\"/>" : "<request protocol=\"3.0\">");
    sbuf_puts(&b, "<app appid=\"a\" version=\"1\"/></request>");
    sbuf_append(&b, "", 0);
    ok(req_str(b.s, r, &why) == -E2BIG, "more than %d apps refused as too many", OMAHA_APPS_MAX);
    sbuf_free(&b);

    /* what names an app, a machine or a version never acts as a path */
    static const char *const paths[] = {
        "<app appid=\"a\" version=\"1\" track=\"../../etc\"/>", "<app appid=\"a\" version=\"../../etc\"/>",
        "<app appid=\"a\" version=\"1\" machineid=\"../..\"/>", "<app appid=\"a/b\" version=\"1\"/>",
        "<app appid=\"a\" version=\"1\" track=\"stable/x\"/>", "<app appid=\"a\" version=\"1..2\"/>",
        "<app appid=\".a\" version=\"1\"/>", "<app appid=\"a\" version=\"1\" bootid=\"/b\"/>",
        "<app appid=\"a\" version=\"1\"><event eventtype=\"3\" eventresult=\"1\" previousversion=\"../0\"/></app>",
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        char *pdoc = xasprintf("<request protocol=\"3.0\">%s</request>", paths[i]);
        ok(req_str(pdoc, r, &why) == -EINVAL, "refused: %s", paths[i]);
        has(why, "without \"..\"", "says what is wanted");
        free(pdoc);
    }
    ok(req_str("<request protocol=\"3.0\"><app appid=\"{e96281a6-d1af-4bde-9a0a-97b76e56dc57}\" version=\"3510.2.0+b~1\" "
               "track=\"stable\" machineid=\"0123abcd\"/></request>", r, &why) == 0,
       "Flatcar's GUID appid, a version with + and ~ still pass");
    ok(omaha_name_ok("1.0.1") && !omaha_name_ok("..") && !omaha_name_ok("a/b") && omaha_token_ok("a/b"),
       "omaha_name_ok is omaha_token_ok without paths");

    char *huge = xmalloc(OMAHA_DOC_MAX + 2);
    memset(huge, ' ', OMAHA_DOC_MAX + 1);
    memcpy(huge, "<request", 8);
    ok(omaha_request_parse(huge, OMAHA_DOC_MAX + 1, r, &why) == -EMSGSIZE, "one byte over the bound refused");
    free(huge);
    ok(req_str("<request protocol=\"3.0\"><app appid=\"a\" version=\"1\"></app><bogus/></request>", r, &why) == 0,
       "unknown elements are ignored");
    ok(r->napps == 1 && !r->apps[0].updatecheck, "…and the app is as sent");

    const char *noupd = "<response protocol=\"3.0\"><app appid=\"a\" status=\"ok\"><updatecheck status=\"ok\"><manifest version=\"2\"/></updatecheck></app></response>";
    ok(omaha_response_parse(noupd, strlen(noupd), s, &why) == -EINVAL, "update without urls refused");
    has(why, "urls", "names urls");
    const char *trav = "<response protocol=\"3.0\"><app appid=\"a\" status=\"ok\"><updatecheck status=\"ok\"><urls><url codebase=\"http://h/\"/></urls>"
                       "<manifest version=\"2\"><packages><package name=\"../x\" size=\"1\"/></packages></manifest></updatecheck></app></response>";
    ok(omaha_response_parse(trav, strlen(trav), s, &why) == -EINVAL, "package name ../x refused");
    has(why, "name", "names the attribute");
    const char *mv = "<response protocol=\"3.0\"><app appid=\"a\" status=\"ok\"><updatecheck status=\"ok\"><urls><url codebase=\"http://h/\"/></urls>"
                     "<manifest version=\"../2\"><packages><package name=\"x\" size=\"1\"/></packages></manifest></updatecheck></app></response>";
    ok(omaha_response_parse(mv, strlen(mv), s, &why) == -EINVAL, "an offered version ../2 refused by the client");
    const char *fileurl = "<response protocol=\"3.0\"><app appid=\"a\" status=\"ok\"><updatecheck status=\"ok\"><urls><url codebase=\"file:///etc/\"/></urls>"
                          "<manifest version=\"2\"><packages><package name=\"x\" size=\"1\"/></packages></manifest></updatecheck></app></response>";
    ok(omaha_response_parse(fileurl, strlen(fileurl), s, &why) == -EINVAL, "a file:// codebase refused");
    const char *zero = "<response protocol=\"3.0\"><app appid=\"a\" status=\"ok\"><updatecheck status=\"ok\"><urls><url codebase=\"http://h/\"/></urls>"
                       "<manifest version=\"2\"><packages><package name=\"x\" size=\"0\"/></packages></manifest></updatecheck></app></response>";
    ok(omaha_response_parse(zero, strlen(zero), s, &why) == -EINVAL, "a package of size 0 refused");
    free(r);
    free(s);
}

/* A refusal keeps the protocol: a response with no app and a reason, or an app refused with
 * its own status and reason; both written and read back whole. */
static void refusals(void)
{
    struct omaha_response *r = xcalloc(1, sizeof(*r)), *r2 = xcalloc(1, sizeof(*r2));
    _cleanup_free_ char *why = NULL;
    char *doc = NULL;
    size_t len;
    snprintf(r->server, sizeof(r->server), "kiln");
    r->daystart_elapsed_seconds = -1;
    ok(omaha_response_write(r, &doc, &len, &why) == -EINVAL && !doc, "no app and no error: refused");
    snprintf(r->error, sizeof(r->error), "malformed XML at line 1 column 9: <a> & \"b\"");
    ok(omaha_response_write(r, &doc, &len, &why) == 0, "a refusal without app written (%s)", why);
    has(doc, "kiln_error=\"malformed XML at line 1 column 9: &lt;a&gt; &amp; &quot;b&quot;\"", "its reason, escaped");
    ok(omaha_response_parse(doc, len, r2, &why) == 0 && r2->napps == 0, "and read back (%s)", why);
    is_str(r2->error, r->error, "the reason read back");
    free(doc);
    memset(r->error, 0, sizeof(r->error));
    r->napps = 1;
    snprintf(r->apps[0].appid, sizeof(r->apps[0].appid), "os");
    snprintf(r->apps[0].status, sizeof(r->apps[0].status), "error-instanceRegistrationFailed");
    snprintf(r->apps[0].error, sizeof(r->apps[0].error), "the update server keeps 2 machines of os");
    ok(omaha_response_write(r, &doc, &len, &why) == 0, "an app refused written (%s)", why);
    ok(omaha_response_parse(doc, len, r2, &why) == 0 && memcmp(r, r2, sizeof(*r)) == 0, "parse(write(x)) == x");
    free(doc);
    snprintf(r->apps[0].error, sizeof(r->apps[0].error), "a\nb");
    ok(omaha_response_write(r, &doc, &len, &why) == -EINVAL, "a reason with a newline refused");
    has(why, "kiln_error", "names kiln_error");
    memset(r->apps[0].error, 'x', OMAHA_ERROR_MAX);
    r->apps[0].error[OMAHA_ERROR_MAX] = 0;
    ok(omaha_response_write(r, &doc, &len, &why) == 0, "a %d-byte reason written", OMAHA_ERROR_MAX);
    free(doc);
    const char *ctl = "<response protocol=\"3.0\" kiln_error=\"a&#10;b\"/>";
    ok(omaha_response_parse(ctl, strlen(ctl), r2, &why) == -EINVAL, "a control character in kiln_error refused");
    const char *none = "<response protocol=\"3.0\"/>";
    ok(omaha_response_parse(none, strlen(none), r2, &why) == -EINVAL, "no app and no kiln_error refused");
    free(r);
    free(r2);
}

static void names(void)
{
    char buf[16];
    is_str(omaha_event_type_name(800, buf), "update-installed", "800");
    is_str(omaha_event_type_name(54, buf), "type-54", "unknown type");
    is_str(omaha_event_result_name(2, buf), "success-reboot", "result 2");
    ok(omaha_token_ok("{e96281a6-d1af-4bde-9a0a-97b76e56dc57}"), "GUID is a token");
    ok(!omaha_token_ok("a b"), "space is not");
    ok(!omaha_token_ok(""), "empty is not");
}

int main(void)
{
    flatcar_request();
    nebraska_response();
    digests();
    roundtrip();
    hostile();
    refusals();
    names();
    return tap_done();
}
