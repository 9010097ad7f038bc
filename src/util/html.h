/* kiln's one HTML writer (the dashboard's pages and the SVG inside them, a run's report.html):
 * pages are built as a libxml2 tree and serialised by libxml2's HTML serialiser, so every value
 * is escaped by one well-kept implementation, never by string pasting. Text and attribute
 * values that reach the tree go through utf8_sanitize() first (ill-formed UTF-8, NUL and
 * control characters become U+FFFD, terminal escapes are dropped): job, case, reason, console,
 * tenant and worker strings are untrusted. Secrets are not masked here: a caller masks data
 * before it goes in.
 *
 * Rules the callers keep (and the unit test checks): untrusted text only ever goes in through
 * kh_el/kh_text/kh_attr (never as a tag or attribute name), and <style>/<script> (written raw
 * by HTML's rules) hold only constants of the program. */
#pragma once
#include <libxml/tree.h>
#include <stddef.h>

struct kh_page {
    xmlDocPtr doc;
    xmlNodePtr head, body;
};

/* A page: <!DOCTYPE html>, <html lang=en>, <head> with charset, viewport, title and the
 * given stylesheet (may be NULL), an empty <body>. */
void kh_page_init(struct kh_page *p, const char *title, const char *css);
/* The page as HTML (malloc'ed, NUL-terminated, *len bytes); frees the tree. NULL on ENOMEM. */
char *kh_page_finish(struct kh_page *p, size_t *len);
void kh_page_free(struct kh_page *p);

/* A new <tag> child of parent holding text (NULL: none). */
xmlNodePtr kh_el(xmlNodePtr parent, const char *tag, const char *text);
xmlNodePtr kh_elf(xmlNodePtr parent, const char *tag, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Appends text to n. */
void kh_text(xmlNodePtr n, const char *text);
void kh_textn(xmlNodePtr n, const char *text, size_t len);
void kh_textf(xmlNodePtr n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets an attribute (replacing one of the same name). */
void kh_attr(xmlNodePtr n, const char *name, const char *value);
void kh_attrf(xmlNodePtr n, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* <a href=HREF>TEXT</a>. */
xmlNodePtr kh_link(xmlNodePtr parent, const char *href, const char *text);
/* A <script> or <style> element holding code: a constant of the program, never data. */
xmlNodePtr kh_code(xmlNodePtr parent, const char *tag, const char *code);

/* "a%2Fb" style percent-encoding of everything but [A-Za-z0-9._~-] (RFC 3986 unreserved),
 * and '/' when keep_slash: a value placed in a URL path or query. Caller frees. */
char *kh_url_escape(const char *s, int keep_slash);
