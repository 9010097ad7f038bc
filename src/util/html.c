/* kiln's HTML writer: see html.h. */
#include "util/html.h"

#include <libxml/HTMLtree.h>
#include <stdarg.h>
#include <string.h>

#include "util/utf8.h"
#include "util/util.h"

static xmlChar *clean(const char *s, size_t len)
{
    return (xmlChar *)utf8_sanitize(s ? s : "", s ? len : 0, UTF8_STRIP_ANSI | UTF8_XML);
}

void kh_textn(xmlNodePtr n, const char *text, size_t len)
{
    if (!text || !len) return;
    xmlChar *c = clean(text, len);
    /* a text node holds its bytes as they are: the serialiser escapes them */
    xmlAddChild(n, xmlNewDocText(n->doc, c));
    free(c);
}

void kh_text(xmlNodePtr n, const char *text) { kh_textn(n, text, text ? strlen(text) : 0); }

void kh_textf(xmlNodePtr n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = xvasprintf(fmt, ap);
    va_end(ap);
    kh_text(n, s);
    free(s);
}

xmlNodePtr kh_el(xmlNodePtr parent, const char *tag, const char *text)
{
    xmlNodePtr n = xmlNewDocNode(parent->doc, NULL, (const xmlChar *)tag, NULL);
    xmlAddChild(parent, n);
    kh_text(n, text);
    return n;
}

xmlNodePtr kh_elf(xmlNodePtr parent, const char *tag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = xvasprintf(fmt, ap);
    va_end(ap);
    xmlNodePtr n = kh_el(parent, tag, s);
    free(s);
    return n;
}

void kh_attr(xmlNodePtr n, const char *name, const char *value)
{
    xmlChar *c = clean(value, value ? strlen(value) : 0);
    /* xmlSetProp keeps the value as text (no entity parsing), escaped when written */
    xmlSetProp(n, (const xmlChar *)name, c);
    free(c);
}

void kh_attrf(xmlNodePtr n, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = xvasprintf(fmt, ap);
    va_end(ap);
    kh_attr(n, name, s);
    free(s);
}

xmlNodePtr kh_link(xmlNodePtr parent, const char *href, const char *text)
{
    xmlNodePtr a = kh_el(parent, "a", text);
    kh_attr(a, "href", href);
    return a;
}

xmlNodePtr kh_code(xmlNodePtr parent, const char *tag, const char *code)
{
    xmlNodePtr n = xmlNewDocNode(parent->doc, NULL, (const xmlChar *)tag, NULL);
    xmlAddChild(parent, n);
    xmlAddChild(n, xmlNewDocText(parent->doc, (const xmlChar *)code));
    return n;
}

void kh_page_init(struct kh_page *p, const char *title, const char *css)
{
    p->doc = htmlNewDocNoDtD(NULL, NULL);
    xmlCreateIntSubset(p->doc, (const xmlChar *)"html", NULL, NULL);
    xmlNodePtr html = xmlNewDocNode(p->doc, NULL, (const xmlChar *)"html", NULL);
    xmlDocSetRootElement(p->doc, html);
    kh_attr(html, "lang", "en");
    p->head = kh_el(html, "head", NULL);
    kh_attr(kh_el(p->head, "meta", NULL), "charset", "utf-8");
    xmlNodePtr vp = kh_el(p->head, "meta", NULL);
    kh_attr(vp, "name", "viewport");
    kh_attr(vp, "content", "width=device-width, initial-scale=1");
    kh_el(p->head, "title", title);
    if (css) kh_code(p->head, "style", css);
    p->body = kh_el(html, "body", NULL);
}

char *kh_page_finish(struct kh_page *p, size_t *len)
{
    xmlChar *mem = NULL;
    int n = 0;
    /* UTF-8 out, as the page's <meta charset> says */
    htmlDocDumpMemoryFormat(p->doc, &mem, &n, 0);
    kh_page_free(p);
    if (!mem) return NULL;
    char *out = xstrndup((const char *)mem, (size_t)n);
    xmlFree(mem);
    *len = (size_t)n;
    return out;
}

void kh_page_free(struct kh_page *p)
{
    if (p->doc) xmlFreeDoc(p->doc);
    p->doc = NULL;
}

char *kh_url_escape(const char *s, int keep_slash)
{
    struct sbuf b = {0};
    sbuf_puts(&b, "");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || strchr("._~-", *c) ||
            (keep_slash && *c == '/'))
            sbuf_append(&b, (const char *)c, 1);
        else sbuf_printf(&b, "%%%02X", *c);
    }
    return sbuf_steal(&b);
}
