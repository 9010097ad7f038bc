/* kiln's one XML writer (junit.xml, Omaha requests and responses): libxml2's xmlTextWriter into
 * memory, which escapes every attribute value and text, behind calls whose first failure
 * sticks, so a document is written straight through and checked once at the end.
 * Values must be UTF-8 that XML 1.0 can hold: text from outside goes through utf8_sanitize
 * (UTF8_XML...) first. */
#pragma once
#include <libxml/xmlwriter.h>
#include <stdbool.h>
#include <stddef.h>

struct xml_out {
    xmlBufferPtr buf;
    xmlTextWriterPtr w;
    int rc; /* 0, or the first failure (negative errno); a caller may set its own */
};

/* Starts a document (<?xml version="1.0" encoding="UTF-8"?>), indented by two spaces when
 * indent is set. 0, or -ENOMEM with nothing left to free. */
int xml_out_start(struct xml_out *o, bool indent);
/* <name ...> and its end; an attribute (value NULL: left out) or text inside the open element. */
void xml_open(struct xml_out *o, const char *name);
void xml_close(struct xml_out *o);
void xml_attr(struct xml_out *o, const char *name, const char *value);
void xml_attrf(struct xml_out *o, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void xml_text(struct xml_out *o, const char *text);
/* Ends the document and frees the writer. 0 with the document in *out (malloc'ed,
 * NUL-terminated, *len bytes when len is not NULL); -EMSGSIZE when it is longer than max bytes
 * (0: no bound; *len is then its length); else the first failure (-ENOMEM from libxml2, or
 * what the caller set). */
int xml_out_finish(struct xml_out *o, size_t max, char **out, size_t *len);
