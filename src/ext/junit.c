#include "ext/junit.h"

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdint.h>
#include <stdlib.h>

#include "util/utf8.h"
#include "util/util.h"

#define MAX_BYTES (64u << 20)
#define MAX_RESULTS 200000
#define MAX_REPORTS 1000
#define MAX_REASON 500
#define MAX_TREE_DEPTH 300 /* above libxml2's own limit (256 without XML_PARSE_HUGE) */
#define CHUNK 65536

struct results {
    struct kiln_subtest *v;
    size_t n, cap;
    bool overflow;
};

/* One report's parse, reached from libxml2's callbacks through ctxt->_private. */
struct report {
    int depth;
    bool closed, doctype;
    size_t end;        /* bytes of the report read when its root element closed */
    char *err;         /* libxml2's first error */
    int err_line, err_col;
};

static void add(struct results *r, char *name, int status, double duration_s, char *reason)
{
    if (r->n >= MAX_RESULTS) {
        r->overflow = true;
        free(name);
        free(reason);
        return;
    }
    *APPEND(r->v, r->n, r->cap) = (struct kiln_subtest){.name = name, .status = status, .duration_s = duration_s,
                                                         .reason = reason};
}

/* Trimmed, at most MAX_REASON bytes (never cut inside a character); NULL when empty. */
static char *text_of(xmlChar *v)
{
    if (!v) return NULL;
    _cleanup_free_ char *s = xstrdup((const char *)v);
    xmlFree(v);
    char *t = strstrip(s);
    if (!*t) return NULL;
    size_t k = utf8_cut(t, MAX_REASON);
    return t[k] ? xasprintf("%.*s…", (int)k, t) : xstrdup(t);
}

static void walk(xmlNode *node, struct results *r, int depth)
{
    for (xmlNode *c = node; c && depth < MAX_TREE_DEPTH; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        if (xmlStrcmp(c->name, (const xmlChar *)"testcase")) {
            walk(c->children, r, depth + 1);
            continue;
        }
        _cleanup_free_ char *name = text_of(xmlGetProp(c, (const xmlChar *)"name"));
        _cleanup_free_ char *cls = text_of(xmlGetProp(c, (const xmlChar *)"classname"));
        _cleanup_free_ char *time = text_of(xmlGetProp(c, (const xmlChar *)"time"));
        int status = ST_PASSED;
        char *reason = NULL;
        for (xmlNode *k = c->children; k; k = k->next) {
            if (k->type != XML_ELEMENT_NODE) continue;
            bool fail = !xmlStrcmp(k->name, (const xmlChar *)"failure") || !xmlStrcmp(k->name, (const xmlChar *)"error");
            bool skip = !xmlStrcmp(k->name, (const xmlChar *)"skipped");
            if (!fail && !skip) continue;
            status = fail ? ST_FAILED : ST_SKIPPED;
            char *msg = text_of(xmlGetProp(k, (const xmlChar *)"message"));
            if (!msg) msg = text_of(xmlNodeGetContent(k));
            free(reason);
            reason = msg ? msg : xstrdup((const char *)k->name);
            if (fail) break;
        }
        double secs = time ? strtod(time, NULL) : 0;
        add(r, cls ? xasprintf("%s.%s", cls, name ? name : "?") : xstrdup(name ? name : "?"), status,
            secs >= 0 && secs < 1e9 ? secs : 0, reason);
    }
}

/* ---- finding reports ---- */

static bool root_tag(const char *s, const char *end)
{
    size_t k = (size_t)(end - s) > 11 && !memcmp(s, "<testsuites", 11) ? 11
               : (size_t)(end - s) > 10 && !memcmp(s, "<testsuite", 10) ? 10 : 0;
    return k && strchr(" \t\r\n>/", s[k]);
}

/* After "<?xml ...?>", blanks and comments: where the document's next markup starts. */
static const char *after_prolog(const char *s, const char *end)
{
    const char *q = memmem(s, (size_t)MIN(end - s, 1024), "?>", 2);
    if (!q) return end;
    for (q += 2; q < end;) {
        if (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n') {
            q++;
        } else if (end - q >= 4 && !memcmp(q, "<!--", 4)) {
            const char *c = memmem(q + 4, (size_t)(end - q - 4), "-->", 3);
            if (!c) return end;
            q = c + 3;
        } else {
            return q;
        }
    }
    return end;
}

/* Whether a report starts at s: the root element, or a declaration leading to it (or to a
 * DOCTYPE naming it, which the parse then refuses). */
static bool report_at(const char *s, const char *end)
{
    if (root_tag(s, end)) return true;
    if (end - s < 6 || memcmp(s, "<?xml", 5) || !strchr(" \t\r\n?", s[5])) return false;
    const char *q = after_prolog(s, end);
    if (root_tag(q, end)) return true;
    if (end - q < 10 || memcmp(q, "<!DOCTYPE", 9)) return false;
    for (q += 9; q < end && (*q == ' ' || *q == '\t'); q++) {}
    return end - q >= 9 && !memcmp(q, "testsuite", 9);
}

/* The next report start at or after from (a line start or a report's end), else len. */
static size_t next_report(const char *text, size_t len, size_t from)
{
    const char *end = text + len;
    for (size_t i = from; i < len;) {
        size_t j = i;
        while (j < len && (text[j] == ' ' || text[j] == '\t')) j++;
        if (j < len && text[j] == '<' && report_at(text + j, end)) return j;
        const char *nl = memchr(text + j, '\n', len - j);
        if (!nl) break;
        i = (size_t)(nl - text) + 1;
    }
    return len;
}

/* ---- parsing one report ---- */

static struct report *state(void *ctx)
{
    return ((xmlParserCtxtPtr)ctx)->_private;
}

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri, int nns,
                     const xmlChar **ns, int nattrs, int ndefaulted, const xmlChar **attrs)
{
    state(ctx)->depth++;
    xmlSAX2StartElementNs(ctx, localname, prefix, uri, nns, ns, nattrs, ndefaulted, attrs);
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
    xmlSAX2EndElementNs(ctx, localname, prefix, uri);
    struct report *st = state(ctx);
    if (--st->depth > 0) return;
    /* the root closed: what follows is no longer this report (read the offset before
     * stopping, which resets the input) */
    st->closed = true;
    long consumed = xmlByteConsumed(ctx);
    st->end = consumed > 0 ? (size_t)consumed : 0;
    xmlStopParser(ctx);
}

static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *ext, const xmlChar *sys)
{
    (void)name, (void)ext, (void)sys;
    state(ctx)->doctype = true;
    xmlStopParser(ctx);
}

static void on_error(void *ctx, xmlErrorPtr e)
{
    struct report *st = state(ctx);
    if (st->err || e->level < XML_ERR_ERROR) return;
    /* the first line: some messages go on with a snippet of the input, cut at a byte count */
    const char *m = e->message ? e->message : "unknown error";
    size_t k = strcspn(m, "\n");
    st->err = utf8_sanitize(m, k, 0);
    strstrip(st->err);
    st->err_line = e->line;
    st->err_col = e->int2;
}

/* Parses the report at xml[0..len) (an XML-safe copy of the text); returns its document
 * (NULL when none was built) with what went wrong in *st. */
static xmlDoc *parse(const char *xml, size_t len, struct report *st)
{
    xmlSAXHandler sax;
    memset(&sax, 0, sizeof sax);
    xmlSAXVersion(&sax, 2);
    sax.startElementNs = on_start;
    sax.endElementNs = on_end;
    sax.internalSubset = on_doctype;
    sax.serror = on_error;
    xmlParserCtxtPtr ctxt = xmlCreatePushParserCtxt(&sax, NULL, NULL, 0, "report");
    if (!ctxt) return NULL;
    ctxt->_private = st;
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_RECOVER |
                                XML_PARSE_IGNORE_ENC);
    /* until the root closes, or libxml2 gives up (a fatal error even in recovery) */
    for (size_t off = 0; off < len && !st->closed && !st->doctype && ctxt->instate != XML_PARSER_EOF;) {
        size_t k = MIN((size_t)CHUNK, len - off);
        xmlParseChunk(ctxt, xml + off, (int)k, off + k == len);
        off += k;
    }
    xmlDoc *doc = ctxt->myDoc;
    ctxt->myDoc = NULL;
    xmlFreeParserCtxt(ctxt);
    return doc;
}

/* The text with what XML 1.0 cannot hold replaced byte for byte ('?'; U+FFFD for U+FFFE and
 * U+FFFF), so offsets into it are offsets into the text. */
static char *xml_safe(const char *text, size_t len)
{
    char *x = xmalloc(len + 1);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = utf8_decode(text + i, len - i, &cp);
        if (k && utf8_xml_char(cp)) {
            memcpy(x + i, text + i, k);
        } else if (k == 3) {
            memcpy(x + i, "\xEF\xBF\xBD", 3);
        } else {
            k = k ? k : 1;
            memset(x + i, '?', k);
        }
        i += k;
    }
    x[len] = 0;
    return x;
}

size_t junit_read(const char *text, size_t len, struct kiln_subtest **out, size_t *n, struct junit_span **spans)
{
    *out = NULL;
    *n = 0;
    if (spans) *spans = NULL;
    struct results r = {0};
    size_t nreports = 0, cap = 0;
    size_t full = len;
    if (len > MAX_BYTES) len = MAX_BYTES;
    size_t at = next_report(text, len, 0);
    char *xml = at < len ? xml_safe(text, len) : NULL;
    size_t line = 1, counted = 0; /* output line of byte `counted` */
    for (; at < len && nreports < MAX_REPORTS; at = next_report(text, len, at)) {
        for (; counted < at; counted++) line += text[counted] == '\n';
        struct report st = {0};
        xmlDoc *doc = parse(xml + at, len - at, &st);
        xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
        if (root) walk(root, &r, 0);
        xmlFreeDoc(doc);
        size_t end = st.closed && st.end > 0 && st.end <= len - at ? at + st.end : len;
        if (st.doctype) {
            add(&r, xstrdup("JUnit"), ST_FAILED, 0,
                xasprintf("the report at output line %zu declares a DOCTYPE; kiln reads JUnit without DTDs or entities",
                          line));
        } else if (st.err) {
            add(&r, xstrdup("JUnit"), ST_FAILED, 0,
                xasprintf("the report at output line %zu is not well-formed XML (its line %d, column %d: %s); "
                          "%s testcases it could recover are listed",
                          line, st.err_line, st.err_col, st.err, root ? "the" : "no"));
        }
        free(st.err);
        if (spans) *APPEND(*spans, nreports, cap) = (struct junit_span){at, end};
        else nreports++;
        at = end;
    }
    if (at < len)
        add(&r, xstrdup("JUnit"), ST_FAILED, 0,
            xasprintf("more than %d reports in the output; the rest were not read", MAX_REPORTS));
    else if (full > len && next_report(text, full, len) < full)
        add(&r, xstrdup("JUnit"), ST_FAILED, 0, xasprintf("reports after the first %u MiB of output were not read", MAX_BYTES >> 20));
    if (r.overflow) {
        r.n--; /* room for saying so */
        free(r.v[r.n].name);
        free(r.v[r.n].reason);
        add(&r, xstrdup("JUnit"), ST_FAILED, 0, xasprintf("more than %d testcases; the rest were not read", MAX_RESULTS - 1));
    }
    free(xml);
    *out = r.v;
    *n = r.n;
    return nreports;
}
