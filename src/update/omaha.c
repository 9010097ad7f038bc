/* Omaha v3 requests and responses through libxml2 (see omaha.h for the shapes and bounds). */
#include "update/omaha.h"

#include <errno.h>
#include <inttypes.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlversion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "util/xml.h"

/* ---- what a value may be ---- */

enum kind {
    K_TOKEN,  /* OMAHA_TOKEN_CHARS, 1..OMAHA_TOKEN_MAX */
    K_NAME,   /* omaha_name_ok: a token that cannot act as a path */
    K_FILE,   /* a token without '/', ':', '{', '}', not starting with '.' */
    K_URL,    /* printable ASCII without spaces, quotes or angle brackets, 1..OMAHA_URL_MAX */
    K_HEX64,  /* 64 hex digits (stored lower-case) */
    K_B64_32, /* base64 of 32 bytes: 43 characters and one '=' */
    K_TEXT,   /* a sentence: printable ASCII, 1..OMAHA_ERROR_MAX */
};

static const char *kind_says(enum kind k)
{
    switch (k) {
    case K_TOKEN: return "1 to 128 of A-Z a-z 0-9 . _ + ~ : { } @ = / -";
    case K_NAME: return "1 to 128 of A-Z a-z 0-9 . _ + ~ : { } @ = -, not starting with '.' and without \"..\"";
    case K_FILE: return "a file name: 1 to 128 of A-Z a-z 0-9 . _ + ~ @ = -, not starting with '.'";
    case K_URL: return "an http:// or https:// URL of at most 1024 printable characters without spaces or quotes";
    case K_HEX64: return "64 hexadecimal digits (a SHA-256)";
    case K_B64_32: return "44 characters of base64 (a SHA-256)";
    case K_TEXT: return "1 to 512 printable ASCII characters";
    }
    return "";
}

bool omaha_token_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= OMAHA_TOKEN_MAX && strspn(s, OMAHA_TOKEN_CHARS) == n;
}

bool omaha_name_ok(const char *s)
{
    return omaha_token_ok(s) && s[0] != '.' && !strchr(s, '/') && !strstr(s, "..");
}

static bool value_ok(const char *s, enum kind k)
{
    size_t n = strlen(s);
    switch (k) {
    case K_TOKEN: return omaha_token_ok(s);
    case K_NAME: return omaha_name_ok(s);
    case K_FILE: return omaha_token_ok(s) && s[0] != '.' && !strpbrk(s, "/:{}");
    case K_URL:
        if (n == 0 || n > OMAHA_URL_MAX || (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)) return false;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f || strchr("\"'<>\\", s[i])) return false;
        return true;
    case K_HEX64: return n == 64 && strspn(s, "0123456789abcdefABCDEF") == 64;
    case K_B64_32:
        return n == 44 && s[43] == '=' &&
               strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") == 43;
    case K_TEXT:
        if (n == 0 || n > OMAHA_ERROR_MAX) return false;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] < ' ' || (unsigned char)s[i] >= 0x7f) return false;
        return true;
    }
    return false;
}

/* ---- digests ---- */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int omaha_sha256_hex_to_b64(const char *hex, char b64[45])
{
    if (!hex || !value_ok(hex, K_HEX64)) return -EINVAL;
    unsigned char d[33] = {0}; /* one zero byte past the digest pads the last group */
    for (size_t i = 0; i < 32; i++) d[i] = (unsigned char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
    size_t o = 0;
    for (size_t i = 0; i < 33; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | (i + 2 < 33 ? d[i + 2] : 0);
        b64[o++] = b64chars[v >> 18 & 63];
        b64[o++] = b64chars[v >> 12 & 63];
        b64[o++] = b64chars[v >> 6 & 63];
        b64[o++] = b64chars[v & 63];
    }
    b64[43] = '=';
    b64[44] = 0;
    return 0;
}

int omaha_sha256_b64_to_hex(const char *b64, char hex[65])
{
    if (!b64 || !value_ok(b64, K_B64_32)) return -EINVAL;
    unsigned char d[33];
    size_t o = 0;
    for (size_t i = 0; i < 44; i += 4) {
        uint32_t v = 0;
        for (size_t k = 0; k < 4; k++) v = v << 6 | (b64[i + k] == '=' ? 0 : (uint32_t)(strchr(b64chars, b64[i + k]) - b64chars));
        d[o++] = (unsigned char)(v >> 16);
        d[o++] = (unsigned char)(v >> 8);
        d[o++] = (unsigned char)v;
    }
    /* 43 characters carry 258 bits: the last two must be zero in a canonical encoding */
    if (d[32] != 0) return -EINVAL;
    for (size_t i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return 0;
}

/* ---- event names ---- */

const char *omaha_event_type_name(int type, char buf[16])
{
    switch (type) {
    case OMAHA_EVENT_UNKNOWN: return "unknown";
    case OMAHA_EVENT_DOWNLOAD_COMPLETE: return "download-complete";
    case OMAHA_EVENT_INSTALL_COMPLETE: return "install-complete";
    case OMAHA_EVENT_UPDATE_COMPLETE: return "update-complete";
    case OMAHA_EVENT_DOWNLOAD_STARTED: return "download-started";
    case OMAHA_EVENT_DOWNLOAD_FINISHED: return "download-finished";
    case OMAHA_EVENT_UPDATE_INSTALLED: return "update-installed";
    }
    snprintf(buf, 16, "type-%d", type);
    return buf;
}

const char *omaha_event_result_name(int result, char buf[16])
{
    switch (result) {
    case OMAHA_RESULT_ERROR: return "error";
    case OMAHA_RESULT_SUCCESS: return "success";
    case OMAHA_RESULT_SUCCESS_REBOOT: return "success-reboot";
    case OMAHA_RESULT_CANCELLED: return "cancelled";
    case OMAHA_RESULT_UPDATE_DEFERRED: return "update-deferred";
    }
    snprintf(buf, 16, "result-%d", result);
    return buf;
}

/* ---- reading ---- */

static bool is(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, (const xmlChar *)name);
}

/* The attribute into dst (dstsz bytes) after checking it is of kind k. A missing or empty
 * attribute is "" (or an error when required). */
static int attr(const xmlNode *n, const char *name, enum kind k, bool required, char *dst, size_t dstsz, char **reterr)
{
    /* all of it: a repeated element (a second <os>) must not leave the first one's bytes behind
     * the terminator, so that equal requests are equal structures (fuzz_omaha's round trip) */
    memset(dst, 0, dstsz);
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
    if (!v) return required ? err_setf(reterr, -EINVAL, "<%s> has no %s attribute", (const char *)n->name, name) : 0;
    const char *s = (const char *)v;
    if (!s[0] && !required) { /* update_engine sends previousversion="" for none */
        xmlFree(v);
        return 0;
    }
    bool ok = value_ok(s, k) && strlen(s) < dstsz;
    if (ok) {
        strcpy(dst, s);
        if (k == K_HEX64)
            for (char *p = dst; *p; p++) *p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
    }
    xmlFree(v);
    /* the value itself is never repeated: it may be anything */
    return ok ? 0 : err_setf(reterr, -EINVAL, "<%s> attribute %s: want %s", (const char *)n->name, name, kind_says(k));
}

/* A decimal integer attribute in [lo, hi]; *present says whether it was there. */
static int attr_int(const xmlNode *n, const char *name, int64_t lo, int64_t hi, bool required, int64_t *out,
                    bool *present, char **reterr)
{
    if (present) *present = false;
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
    if (!v) return required ? err_setf(reterr, -EINVAL, "<%s> has no %s attribute", (const char *)n->name, name) : 0;
    const char *s = (const char *)v;
    size_t len = strlen(s);
    bool ok = len > 0 && len <= 20 && strspn(s + (s[0] == '-'), "0123456789") == len - (s[0] == '-') && len > (s[0] == '-');
    long long x = 0;
    if (ok) {
        errno = 0;
        x = strtoll(s, NULL, 10);
        ok = errno == 0 && x >= lo && x <= hi;
    }
    xmlFree(v);
    if (!ok)
        return err_setf(reterr, -EINVAL, "<%s> attribute %s: want a whole number from %" PRId64 " to %" PRId64,
                    (const char *)n->name, name, lo, hi);
    *out = x;
    if (present) *present = true;
    return 0;
}

struct errbox {
    char msg[200];
    int line, col;
    bool doctype;
};

/* libxml2 2.12 made the error const */
#if LIBXML_VERSION >= 21200
typedef const xmlError omaha_xml_error;
#else
typedef xmlError omaha_xml_error;
#endif

static void on_error(void *ctx, omaha_xml_error *e)
{
    struct errbox *b = ((xmlParserCtxt *)ctx)->_private;
    if (b->msg[0] || !e || e->level < XML_ERR_ERROR) return;
    /* libxml2's words, first line, printable ASCII only: they may quote names from the input */
    const char *m = e->message ? e->message : "not well-formed";
    size_t o = 0;
    for (; *m && *m != '\n' && o + 1 < sizeof(b->msg); m++) b->msg[o++] = *m >= ' ' && *m < 0x7f ? *m : '?';
    b->msg[o] = 0;
    b->line = e->line;
    b->col = e->int2;
}

static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *ext, const xmlChar *sys)
{
    (void)name, (void)ext, (void)sys;
    xmlParserCtxt *c = ctx;
    ((struct errbox *)c->_private)->doctype = true;
    xmlStopParser(c);
}

/* The document, or NULL with why said. */
static xmlDoc *read_doc(const char *doc, size_t len, const char *root, int *rc, char **reterr)
{
    *rc = -EINVAL;
    if (len > OMAHA_DOC_MAX) {
        *rc = err_setf(reterr, -EMSGSIZE, "the document is %zu bytes, more than the %d an Omaha %s may have", len,
                   OMAHA_DOC_MAX, root);
        return NULL;
    }
    xmlParserCtxt *c = xmlNewParserCtxt();
    if (!c) {
        *rc = err_setf(reterr, -ENOMEM, "out of memory");
        return NULL;
    }
    struct errbox box = {0};
    c->_private = &box;
    c->sax->internalSubset = on_doctype;
    c->sax->serror = on_error;
    /* no XML_PARSE_NOENT (entities stay unexpanded), no DTD loading, no network, no huge nodes */
    xmlDoc *d = xmlCtxtReadMemory(c, doc, (int)len, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    bool wellformed = c->wellFormed;
    xmlFreeParserCtxt(c);
    if (box.doctype) {
        xmlFreeDoc(d);
        err_setf(reterr, -EINVAL, "the document has a DOCTYPE, which Omaha never sends: refused");
        return NULL;
    }
    if (!d || !wellformed) {
        xmlFreeDoc(d);
        err_setf(reterr, -EINVAL, "malformed XML at line %d column %d: %s", box.line, box.col,
             box.msg[0] ? box.msg : "not well-formed");
        return NULL;
    }
    xmlNode *r = xmlDocGetRootElement(d);
    if (!r || !is(r, root)) {
        xmlFreeDoc(d);
        err_setf(reterr, -EINVAL, "the root element is not <%s>", root);
        return NULL;
    }
    xmlChar *proto = xmlGetNoNsProp(r, (const xmlChar *)"protocol");
    bool v3 = proto && xmlStrEqual(proto, (const xmlChar *)"3.0");
    xmlFree(proto);
    if (!v3) {
        xmlFreeDoc(d);
        err_setf(reterr, -EINVAL, "<%s> has no protocol=\"3.0\": only Omaha v3 is spoken here", root);
        return NULL;
    }
    *rc = 0;
    return d;
}

static int parse_event(const xmlNode *n, struct omaha_event *e, char **reterr)
{
    int64_t t = 0, r = 0;
    int rc;
    if ((rc = attr_int(n, "eventtype", 0, 65535, true, &t, NULL, reterr)) < 0 ||
        (rc = attr_int(n, "eventresult", 0, 65535, true, &r, NULL, reterr)) < 0 ||
        (rc = attr_int(n, "errorcode", INT32_MIN, UINT32_MAX, false, &e->errorcode, &e->has_errorcode, reterr)) < 0 ||
        (rc = attr(n, "previousversion", K_NAME, false, e->previousversion, sizeof(e->previousversion), reterr)) < 0)
        return rc;
    e->type = (int)t;
    e->result = (int)r;
    return 0;
}

static int parse_app_request(const xmlNode *n, struct omaha_app_request *a, char **reterr)
{
    int rc;
    if ((rc = attr(n, "appid", K_NAME, true, a->appid, sizeof(a->appid), reterr)) < 0 ||
        (rc = attr(n, "version", K_NAME, true, a->version, sizeof(a->version), reterr)) < 0 ||
        (rc = attr(n, "track", K_NAME, false, a->track, sizeof(a->track), reterr)) < 0 ||
        (rc = attr(n, "machineid", K_NAME, false, a->machineid, sizeof(a->machineid), reterr)) < 0 ||
        (rc = attr(n, "bootid", K_NAME, false, a->bootid, sizeof(a->bootid), reterr)) < 0)
        return rc;
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (is(c, "ping")) a->ping = true;
        else if (is(c, "updatecheck")) a->updatecheck = true;
        else if (is(c, "event")) {
            if (a->nevents == OMAHA_EVENTS_MAX)
                return err_setf(reterr, -E2BIG, "<app> has more than %d events", OMAHA_EVENTS_MAX);
            if ((rc = parse_event(c, &a->events[a->nevents], reterr)) < 0) return rc;
            a->nevents++;
        }
    }
    return 0;
}

int omaha_request_parse(const char *doc, size_t len, struct omaha_request *out, char **reterr)
{
    memset(out, 0, sizeof(*out));
    int rc;
    xmlDoc *d = read_doc(doc, len, "request", &rc, reterr);
    if (!d) return rc;
    struct omaha_request *r = calloc(1, sizeof(*r));
    if (!r) {
        xmlFreeDoc(d);
        return err_setf(reterr, -ENOMEM, "out of memory");
    }
    xmlNode *root = xmlDocGetRootElement(d);
    rc = attr(root, "version", K_TOKEN, false, r->client, sizeof(r->client), reterr);
    for (xmlNode *c = root->children; c && rc == 0; c = c->next) {
        if (is(c, "os")) {
            if ((rc = attr(c, "platform", K_TOKEN, false, r->os_platform, sizeof(r->os_platform), reterr)) < 0 ||
                (rc = attr(c, "version", K_TOKEN, false, r->os_version, sizeof(r->os_version), reterr)) < 0 ||
                (rc = attr(c, "sp", K_TOKEN, false, r->os_sp, sizeof(r->os_sp), reterr)) < 0)
                break;
            rc = attr(c, "arch", K_TOKEN, false, r->os_arch, sizeof(r->os_arch), reterr);
        } else if (is(c, "app")) {
            if (r->napps == OMAHA_APPS_MAX) rc = err_setf(reterr, -E2BIG, "<request> has more than %d apps", OMAHA_APPS_MAX);
            else if ((rc = parse_app_request(c, &r->apps[r->napps], reterr)) == 0) r->napps++;
        }
    }
    if (rc == 0 && r->napps == 0) rc = err_setf(reterr, -EINVAL, "<request> has no <app>");
    if (rc == 0) memcpy(out, r, sizeof(*r));
    free(r);
    xmlFreeDoc(d);
    return rc;
}

static int parse_manifest(const xmlNode *m, struct omaha_app_response *a, char **reterr)
{
    int rc = attr(m, "version", K_NAME, true, a->version, sizeof(a->version), reterr);
    for (const xmlNode *c = m->children; c && rc == 0; c = c->next) {
        if (is(c, "packages")) {
            for (const xmlNode *p = c->children; p && rc == 0; p = p->next) {
                if (!is(p, "package")) continue;
                if (a->npackages == OMAHA_PACKAGES_MAX)
                    return err_setf(reterr, -E2BIG, "<packages> has more than %d packages", OMAHA_PACKAGES_MAX);
                struct omaha_package *k = &a->packages[a->npackages];
                char req[8];
                if ((rc = attr(p, "name", K_FILE, true, k->name, sizeof(k->name), reterr)) < 0 ||
                    (rc = attr_int(p, "size", 1, INT64_MAX, true, &k->size, NULL, reterr)) < 0 ||
                    (rc = attr(p, "hash", K_TOKEN, false, k->hash, sizeof(k->hash), reterr)) < 0 ||
                    (rc = attr(p, "hash_sha256", K_HEX64, false, k->hash_sha256, sizeof(k->hash_sha256), reterr)) < 0)
                    break;
                xmlChar *v = xmlGetNoNsProp(p, (const xmlChar *)"required");
                snprintf(req, sizeof(req), "%s", v ? (const char *)v : "");
                xmlFree(v);
                k->required = strcmp(req, "true") == 0;
                a->npackages++;
            }
        } else if (is(c, "actions")) {
            for (const xmlNode *x = c->children; x && rc == 0; x = x->next) {
                if (!is(x, "action")) continue;
                xmlChar *ev = xmlGetNoNsProp(x, (const xmlChar *)"event");
                bool post = ev && xmlStrEqual(ev, (const xmlChar *)"postinstall");
                xmlFree(ev);
                if (!post || a->has_postinstall) continue;
                if ((rc = attr(x, "sha256", K_B64_32, false, a->sha256_b64, sizeof(a->sha256_b64), reterr)) < 0 ||
                    (rc = attr(x, "kiln_roothash", K_TOKEN, false, a->kiln_roothash, sizeof(a->kiln_roothash), reterr)) < 0 ||
                    (rc = attr(x, "kiln_signature", K_FILE, false, a->kiln_signature, sizeof(a->kiln_signature), reterr)) < 0)
                    break;
                if (a->kiln_roothash[0] && strspn(a->kiln_roothash, "0123456789abcdef") != strlen(a->kiln_roothash))
                    rc = err_setf(reterr, -EINVAL, "<action> attribute kiln_roothash: want lower-case hexadecimal digits");
                a->has_postinstall = true;
            }
        }
    }
    return rc;
}

static int parse_updatecheck(const xmlNode *u, struct omaha_app_response *a, char **reterr)
{
    int rc = attr(u, "status", K_TOKEN, true, a->update_status, sizeof(a->update_status), reterr);
    a->has_updatecheck = true;
    if (rc < 0 || strcmp(a->update_status, "ok") != 0) return rc;
    bool manifest = false;
    for (const xmlNode *c = u->children; c && rc == 0; c = c->next) {
        if (is(c, "urls")) {
            for (const xmlNode *l = c->children; l && rc == 0; l = l->next) {
                if (!is(l, "url")) continue;
                if (a->nurls == OMAHA_URLS_MAX) return err_setf(reterr, -E2BIG, "<urls> has more than %d urls", OMAHA_URLS_MAX);
                if ((rc = attr(l, "codebase", K_URL, true, a->urls[a->nurls], sizeof(a->urls[0]), reterr)) == 0) a->nurls++;
            }
        } else if (is(c, "manifest") && !manifest) {
            manifest = true;
            rc = parse_manifest(c, a, reterr);
        }
    }
    if (rc < 0) return rc;
    if (!a->nurls) return err_setf(reterr, -EINVAL, "<updatecheck status=\"ok\"> has no <urls><url codebase>");
    if (!manifest) return err_setf(reterr, -EINVAL, "<updatecheck status=\"ok\"> has no <manifest>");
    if (!a->npackages) return err_setf(reterr, -EINVAL, "<manifest> has no <packages><package>");
    return 0;
}

static int parse_app_response(const xmlNode *n, struct omaha_app_response *a, char **reterr)
{
    int rc;
    if ((rc = attr(n, "appid", K_NAME, true, a->appid, sizeof(a->appid), reterr)) < 0 ||
        (rc = attr(n, "status", K_TOKEN, true, a->status, sizeof(a->status), reterr)) < 0 ||
        (rc = attr(n, "kiln_error", K_TEXT, false, a->error, sizeof(a->error), reterr)) < 0)
        return rc;
    for (const xmlNode *c = n->children; c && rc == 0; c = c->next) {
        if (is(c, "ping")) a->ping = true;
        else if (is(c, "event")) a->events++;
        else if (is(c, "updatecheck") && !a->has_updatecheck) rc = parse_updatecheck(c, a, reterr);
    }
    return rc;
}

int omaha_response_parse(const char *doc, size_t len, struct omaha_response *out, char **reterr)
{
    memset(out, 0, sizeof(*out));
    int rc;
    xmlDoc *d = read_doc(doc, len, "response", &rc, reterr);
    if (!d) return rc;
    struct omaha_response *r = calloc(1, sizeof(*r));
    if (!r) {
        xmlFreeDoc(d);
        return err_setf(reterr, -ENOMEM, "out of memory");
    }
    r->daystart_elapsed_seconds = -1;
    xmlNode *root = xmlDocGetRootElement(d);
    if ((rc = attr(root, "server", K_TOKEN, false, r->server, sizeof(r->server), reterr)) == 0)
        rc = attr(root, "kiln_error", K_TEXT, false, r->error, sizeof(r->error), reterr);
    for (xmlNode *c = root->children; c && rc == 0; c = c->next) {
        if (is(c, "daystart")) {
            rc = attr_int(c, "elapsed_seconds", 0, 86400, false, &r->daystart_elapsed_seconds, NULL, reterr);
        } else if (is(c, "app")) {
            if (r->napps == OMAHA_APPS_MAX) rc = err_setf(reterr, -E2BIG, "<response> has more than %d apps", OMAHA_APPS_MAX);
            else if ((rc = parse_app_response(c, &r->apps[r->napps], reterr)) == 0) r->napps++;
        }
    }
    if (rc == 0 && r->napps == 0 && !r->error[0]) rc = err_setf(reterr, -EINVAL, "<response> has no <app> and no kiln_error");
    if (rc == 0) memcpy(out, r, sizeof(*r));
    free(r);
    xmlFreeDoc(d);
    return rc;
}

/* ---- writing ---- */

struct writer {
    struct xml_out x;
    char **reterr;
};

/* An attribute after the same check the parser makes; an empty optional value is left out. */
static void put(struct writer *w, const char *el, const char *name, const char *v, enum kind k, bool required)
{
    if (w->x.rc) return;
    if (!v || !v[0]) {
        if (required) w->x.rc = err_setf(w->reterr, -EINVAL, "<%s> needs %s", el, name);
        return;
    }
    if (!value_ok(v, k)) {
        w->x.rc = err_setf(w->reterr, -EINVAL, "<%s> attribute %s: want %s", el, name, kind_says(k));
        return;
    }
    xml_attr(&w->x, name, v);
}

static int writer_start(struct writer *w, char **reterr)
{
    *w = (struct writer){.reterr = reterr};
    return xml_out_start(&w->x, false) < 0 ? err_setf(reterr, -ENOMEM, "out of memory") : 0;
}

static int writer_end(struct writer *w, char **out, size_t *len)
{
    size_t n = 0;
    int rc = xml_out_finish(&w->x, OMAHA_DOC_MAX, out, &n);
    if (rc == -EMSGSIZE) err_setf(w->reterr, rc, "the document would be %zu bytes, more than %d", n, OMAHA_DOC_MAX);
    if (rc == -ENOMEM) err_setf(w->reterr, rc, "out of memory");
    if (rc == 0 && len) *len = n;
    return rc;
}

int omaha_request_write(const struct omaha_request *r, char **out, size_t *len, char **reterr)
{
    *out = NULL;
    if (r->napps == 0 || r->napps > OMAHA_APPS_MAX)
        return err_setf(reterr, -EINVAL, "a request has 1 to %d apps, not %zu", OMAHA_APPS_MAX, r->napps);
    struct writer w;
    int rc = writer_start(&w, reterr);
    if (rc < 0) return rc;
    xml_open(&w.x, "request");
    xml_attr(&w.x, "protocol", "3.0");
    put(&w, "request", "version", r->client, K_TOKEN, false);
    put(&w, "request", "updaterversion", r->client, K_TOKEN, false);
    if (r->os_platform[0] || r->os_version[0] || r->os_sp[0] || r->os_arch[0]) {
        xml_open(&w.x, "os");
        put(&w, "os", "platform", r->os_platform, K_TOKEN, false);
        put(&w, "os", "version", r->os_version, K_TOKEN, false);
        put(&w, "os", "sp", r->os_sp, K_TOKEN, false);
        put(&w, "os", "arch", r->os_arch, K_TOKEN, false);
        xml_close(&w.x);
    }
    for (size_t i = 0; i < r->napps && w.x.rc == 0; i++) {
        const struct omaha_app_request *a = &r->apps[i];
        if (a->nevents > OMAHA_EVENTS_MAX) {
            w.x.rc = err_setf(reterr, -EINVAL, "an app has at most %d events, not %zu", OMAHA_EVENTS_MAX, a->nevents);
            break;
        }
        xml_open(&w.x, "app");
        put(&w, "app", "appid", a->appid, K_NAME, true);
        put(&w, "app", "version", a->version, K_NAME, true);
        put(&w, "app", "track", a->track, K_NAME, false);
        put(&w, "app", "machineid", a->machineid, K_NAME, false);
        put(&w, "app", "bootid", a->bootid, K_NAME, false);
        if (a->ping) {
            xml_open(&w.x, "ping");
            xml_attr(&w.x, "active", "1");
            xml_close(&w.x);
        }
        if (a->updatecheck) {
            xml_open(&w.x, "updatecheck");
            xml_close(&w.x);
        }
        for (size_t k = 0; k < a->nevents && w.x.rc == 0; k++) {
            const struct omaha_event *e = &a->events[k];
            if (e->type < 0 || e->type > 65535 || e->result < 0 || e->result > 65535 ||
                (e->has_errorcode && (e->errorcode < INT32_MIN || e->errorcode > (int64_t)UINT32_MAX))) {
                w.x.rc = err_setf(reterr, -EINVAL, "<event>: eventtype and eventresult are 0..65535, errorcode 32 bits");
                break;
            }
            xml_open(&w.x, "event");
            xml_attrf(&w.x, "eventtype", "%" PRId64, (int64_t)e->type);
            xml_attrf(&w.x, "eventresult", "%" PRId64, (int64_t)e->result);
            if (e->has_errorcode) xml_attrf(&w.x, "errorcode", "%" PRId64, (int64_t)e->errorcode);
            put(&w, "event", "previousversion", e->previousversion, K_NAME, false);
            xml_close(&w.x);
        }
        xml_close(&w.x);
    }
    xml_close(&w.x);
    return writer_end(&w, out, len);
}

static void write_updatecheck(struct writer *w, const struct omaha_app_response *a)
{
    xml_open(&w->x, "updatecheck");
    put(w, "updatecheck", "status", a->update_status, K_TOKEN, true);
    if (w->x.rc || strcmp(a->update_status, "ok") != 0) {
        xml_close(&w->x);
        return;
    }
    if (a->nurls == 0 || a->nurls > OMAHA_URLS_MAX || a->npackages == 0 || a->npackages > OMAHA_PACKAGES_MAX) {
        w->x.rc = err_setf(w->reterr, -EINVAL, "<updatecheck status=\"ok\"> needs 1 to %d urls and 1 to %d packages",
                     OMAHA_URLS_MAX, OMAHA_PACKAGES_MAX);
        return;
    }
    xml_open(&w->x, "urls");
    for (size_t i = 0; i < a->nurls; i++) {
        xml_open(&w->x, "url");
        put(w, "url", "codebase", a->urls[i], K_URL, true);
        xml_close(&w->x);
    }
    xml_close(&w->x);
    xml_open(&w->x, "manifest");
    put(w, "manifest", "version", a->version, K_NAME, true);
    xml_open(&w->x, "packages");
    for (size_t i = 0; i < a->npackages && w->x.rc == 0; i++) {
        const struct omaha_package *p = &a->packages[i];
        if (p->size <= 0) {
            w->x.rc = err_setf(w->reterr, -EINVAL, "<package> size must be positive");
            return;
        }
        xml_open(&w->x, "package");
        put(w, "package", "name", p->name, K_FILE, true);
        xml_attrf(&w->x, "size", "%" PRId64, (int64_t)p->size);
        put(w, "package", "hash", p->hash, K_TOKEN, false);
        put(w, "package", "hash_sha256", p->hash_sha256, K_HEX64, false);
        xml_attr(&w->x, "required", p->required ? "true" : "false");
        xml_close(&w->x);
    }
    xml_close(&w->x);
    if (a->has_postinstall) {
        if (a->kiln_roothash[0] && strspn(a->kiln_roothash, "0123456789abcdef") != strlen(a->kiln_roothash)) {
            w->x.rc = err_setf(w->reterr, -EINVAL, "<action> attribute kiln_roothash: want lower-case hexadecimal digits");
            return;
        }
        xml_open(&w->x, "actions");
        xml_open(&w->x, "action");
        xml_attr(&w->x, "event", "postinstall");
        put(w, "action", "sha256", a->sha256_b64, K_B64_32, false);
        put(w, "action", "kiln_roothash", a->kiln_roothash, K_TOKEN, false);
        put(w, "action", "kiln_signature", a->kiln_signature, K_FILE, false);
        xml_close(&w->x);
        xml_close(&w->x);
    }
    xml_close(&w->x); /* manifest */
    xml_close(&w->x); /* updatecheck */
}

int omaha_response_write(const struct omaha_response *r, char **out, size_t *len, char **reterr)
{
    *out = NULL;
    if ((r->napps == 0 && !r->error[0]) || r->napps > OMAHA_APPS_MAX)
        return err_setf(reterr, -EINVAL, "a response has 1 to %d apps (or none and an error), not %zu", OMAHA_APPS_MAX, r->napps);
    if (r->daystart_elapsed_seconds > 86400)
        return err_setf(reterr, -EINVAL, "daystart elapsed_seconds is at most 86400");
    struct writer w;
    int rc = writer_start(&w, reterr);
    if (rc < 0) return rc;
    xml_open(&w.x, "response");
    xml_attr(&w.x, "protocol", "3.0");
    put(&w, "response", "server", r->server, K_TOKEN, false);
    put(&w, "response", "kiln_error", r->error, K_TEXT, false);
    if (r->daystart_elapsed_seconds >= 0) {
        xml_open(&w.x, "daystart");
        xml_attrf(&w.x, "elapsed_seconds", "%" PRId64, (int64_t)r->daystart_elapsed_seconds);
        xml_close(&w.x);
    }
    for (size_t i = 0; i < r->napps && w.x.rc == 0; i++) {
        const struct omaha_app_response *a = &r->apps[i];
        xml_open(&w.x, "app");
        put(&w, "app", "appid", a->appid, K_NAME, true);
        put(&w, "app", "status", a->status, K_TOKEN, true);
        put(&w, "app", "kiln_error", a->error, K_TEXT, false);
        if (a->ping) {
            xml_open(&w.x, "ping");
            xml_attr(&w.x, "status", "ok");
            xml_close(&w.x);
        }
        for (size_t k = 0; k < a->events && k < OMAHA_EVENTS_MAX; k++) {
            xml_open(&w.x, "event");
            xml_attr(&w.x, "status", "ok");
            xml_close(&w.x);
        }
        if (a->has_updatecheck) write_updatecheck(&w, a);
        xml_close(&w.x);
    }
    xml_close(&w.x);
    return writer_end(&w, out, len);
}
