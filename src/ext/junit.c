#include "ext/junit.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>

#include "util/util.h"

#define MAX_BYTES (64u << 20)
#define MAX_RESULTS 200000

static char *attr(xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    if (!v) return NULL;
    char *s = xstrdup((const char *)v);
    xmlFree(v);
    return s;
}

static void walk(xmlNode *node, struct kiln_subtest **out, size_t *n, size_t *cap, int depth)
{
    for (xmlNode *c = node; c && depth < 32; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        if (xmlStrcmp(c->name, (const xmlChar *)"testcase") == 0) {
            if (*n >= MAX_RESULTS) return;
            _cleanup_free_ char *name = attr(c, "name"), *cls = attr(c, "classname"), *time = attr(c, "time");
            struct kiln_subtest *s = APPEND(*out, *n, *cap);
            s->name = cls && *cls ? xasprintf("%s.%s", cls, name ? name : "?") : xstrdup(name ? name : "?");
            s->status = ST_PASSED;
            s->duration_s = time ? strtod(time, NULL) : 0;
            for (xmlNode *r = c->children; r; r = r->next) {
                if (r->type != XML_ELEMENT_NODE) continue;
                bool fail = !xmlStrcmp(r->name, (const xmlChar *)"failure") || !xmlStrcmp(r->name, (const xmlChar *)"error");
                bool skip = !xmlStrcmp(r->name, (const xmlChar *)"skipped");
                if (!fail && !skip) continue;
                s->status = fail ? ST_FAILED : ST_SKIPPED;
                char *msg = attr(r, "message");
                if (!msg) {
                    xmlChar *content = xmlNodeGetContent(r);
                    msg = content && *content ? xstrndup((const char *)content, 500) : xstrdup((const char *)r->name);
                    xmlFree(content);
                }
                free(s->reason);
                s->reason = msg;
                if (fail) break;
            }
            continue;
        }
        walk(c->children, out, n, cap, depth + 1);
    }
}

bool junit_parse(const char *text, size_t len, struct kiln_subtest **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (len > MAX_BYTES) return false;
    const char *start = NULL;
    for (size_t i = 0; i + 1 < len; i++)
        if (text[i] == '<' && (text[i + 1] == '?' || text[i + 1] == 't')) {
            start = text + i;
            break;
        }
    if (!start) return false;
    xmlDoc *doc = xmlReadMemory(start, (int)(len - (size_t)(start - text)), "junit.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOBLANKS);
    if (!doc) return false;
    xmlNode *root = xmlDocGetRootElement(doc);
    bool ok = root && (!xmlStrcmp(root->name, (const xmlChar *)"testsuites") ||
                       !xmlStrcmp(root->name, (const xmlChar *)"testsuite"));
    size_t cap = 0;
    if (ok) walk(root, out, n, &cap, 0);
    xmlFreeDoc(doc);
    return ok;
}
