#include "util/xml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const xmlChar *X(const char *s)
{
    return (const xmlChar *)s;
}

/* libxml2's writer fails only when it cannot allocate. */
static void chk(struct xml_out *o, int r)
{
    if (r < 0 && o->rc == 0) o->rc = -ENOMEM;
}

int xml_out_start(struct xml_out *o, bool indent)
{
    *o = (struct xml_out){.buf = xmlBufferCreate()};
    o->w = o->buf ? xmlNewTextWriterMemory(o->buf, 0) : NULL;
    if (o->w && indent) {
        chk(o, xmlTextWriterSetIndent(o->w, 1));
        chk(o, xmlTextWriterSetIndentString(o->w, X("  ")));
    }
    if (o->w) chk(o, xmlTextWriterStartDocument(o->w, "1.0", "UTF-8", NULL));
    if (!o->w || o->rc) {
        if (o->w) xmlFreeTextWriter(o->w);
        if (o->buf) xmlBufferFree(o->buf);
        *o = (struct xml_out){0};
        return -ENOMEM;
    }
    return 0;
}

void xml_open(struct xml_out *o, const char *name)
{
    if (o->rc == 0) chk(o, xmlTextWriterStartElement(o->w, X(name)));
}

void xml_close(struct xml_out *o)
{
    if (o->rc == 0) chk(o, xmlTextWriterEndElement(o->w));
}

void xml_attr(struct xml_out *o, const char *name, const char *value)
{
    if (o->rc == 0 && value) chk(o, xmlTextWriterWriteAttribute(o->w, X(name), X(value)));
}

void xml_attrf(struct xml_out *o, const char *name, const char *fmt, ...)
{
    if (o->rc) return;
    va_list ap;
    va_start(ap, fmt);
    chk(o, xmlTextWriterWriteVFormatAttribute(o->w, X(name), fmt, ap));
    va_end(ap);
}

void xml_text(struct xml_out *o, const char *text)
{
    if (o->rc == 0 && text) chk(o, xmlTextWriterWriteString(o->w, X(text)));
}

int xml_out_finish(struct xml_out *o, size_t max, char **out, size_t *len)
{
    *out = NULL;
    if (o->rc == 0) chk(o, xmlTextWriterEndDocument(o->w));
    xmlFreeTextWriter(o->w); /* flushes into buf */
    o->w = NULL;
    if (o->rc == 0) {
        size_t n = (size_t)xmlBufferLength(o->buf);
        if (len) *len = n;
        if (max && n > max) o->rc = -EMSGSIZE;
        else if (!(*out = malloc(n + 1))) o->rc = -ENOMEM;
        else {
            memcpy(*out, xmlBufferContent(o->buf), n);
            (*out)[n] = 0;
        }
    }
    xmlBufferFree(o->buf);
    o->buf = NULL;
    return o->rc;
}
