#include "image/repostate.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"

enum { FIELD_MAX = 128 };

/* One line of [*p, end): returned as [s, e) without its newline (and a CR before it). */
static bool next_line(const char **p, const char *end, const char **s, const char **e)
{
    if (*p >= end) return false;
    *s = *p;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    *e = nl ? nl : end;
    *p = nl ? nl + 1 : end;
    if (*e > *s && (*e)[-1] == '\r') (*e)--;
    return true;
}

static bool line_is(const char *s, const char *e, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(e - s) == n && memcmp(s, lit, n) == 0;
}

static bool blank(const char *s, const char *e)
{
    for (; s < e; s++)
        if (*s != ' ' && *s != '\t') return false;
    return true;
}

/* "COMP/binary-ARCH/Packages" or "COMP/binary-all/Packages", bare or with a compression suffix. */
static bool wanted_index(const char *path, size_t n, const char *const *comps, size_t ncomps, const char *arch)
{
    for (size_t i = 0; i < ncomps; i++) {
        size_t cl = strlen(comps[i]);
        if (n <= cl || memcmp(path, comps[i], cl) != 0 || path[cl] != '/') continue;
        const char *rest = path + cl + 1;
        size_t rn = n - cl - 1;
        const char *archs[] = {arch, "all"};
        for (size_t k = 0; k < 2; k++) {
            char want[96];
            int wl = snprintf(want, sizeof want, "binary-%s/Packages", archs[k]);
            if (wl <= 0 || (size_t)wl >= sizeof want || rn < (size_t)wl || memcmp(rest, want, (size_t)wl) != 0) continue;
            if (rn == (size_t)wl) return true;
            /* a compressed copy (Packages.xz, .gz, ...): a suffix without another path part */
            if (rest[wl] == '.' && !memchr(rest + wl, '/', rn - (size_t)wl)) return true;
        }
    }
    return false;
}

static bool is_hex64(const char *s, size_t n)
{
    if (n != 64) return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789abcdefABCDEF", s[i])) return false;
    return true;
}

int repo_release_parse(const char *text, size_t len, const char *const *components, size_t ncomponents,
                       const char *arch, struct repo_release *out, char **reterr)
{
    memset(out, 0, sizeof *out);
    const char *p = text, *end = text + len, *s, *e;
    bool signed_msg = false;
    /* a clearsigned InRelease: armor headers up to a blank line, then the text up to the signature */
    if (len >= 34 && memcmp(text, "-----BEGIN PGP SIGNED MESSAGE-----", 34) == 0) {
        signed_msg = true;
        next_line(&p, end, &s, &e);
        while (next_line(&p, end, &s, &e) && !blank(s, e)) {}
        const char *q = p, *body_end = NULL;
        while (next_line(&q, end, &s, &e))
            if (line_is(s, e, "-----BEGIN PGP SIGNATURE-----")) {
                body_end = s;
                break;
            }
        if (!body_end)
            return err_setf(reterr, -EBADMSG, "a clearsigned message without its signature block (cut short?)");
        end = body_end;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    bool in_sha256 = false, seen_field = false, identity = false;
    while (next_line(&p, end, &s, &e)) {
        if (signed_msg && e - s >= 2 && s[0] == '-' && s[1] == ' ') s += 2; /* dash-escaped */
        if (blank(s, e)) {
            if (seen_field) break; /* the first paragraph is the Release file */
            continue;
        }
        if (*s == '#') continue;
        if (*s == ' ' || *s == '\t') {
            if (!in_sha256) continue;
            /* " HASH SIZE PATH" */
            const char *t[3], *te[3];
            const char *c = s;
            size_t k = 0;
            for (; k < 3; k++) {
                while (c < e && (*c == ' ' || *c == '\t')) c++;
                if (c == e) break;
                t[k] = c;
                while (c < e && *c != ' ' && *c != '\t') c++;
                te[k] = c;
            }
            if (k < 3 || !is_hex64(t[0], (size_t)(te[0] - t[0]))) continue;
            if (!wanted_index(t[2], (size_t)(te[2] - t[2]), components, ncomponents, arch)) continue;
            EVP_DigestUpdate(md, t[0], (size_t)(e - t[0]));
            EVP_DigestUpdate(md, "\n", 1);
            out->nindexes++;
            continue;
        }
        const char *colon = memchr(s, ':', (size_t)(e - s));
        in_sha256 = false;
        if (!colon) continue;
        seen_field = true;
        size_t nl = (size_t)(colon - s);
        const char *v = colon + 1, *ve = e;
        while (v < ve && (*v == ' ' || *v == '\t')) v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        /* field names are case-insensitive (deb822) */
        if (nl == 4 && strncasecmp(s, "Date", 4) == 0 && !out->date)
            out->date = xstrndup(v, MIN((size_t)(ve - v), (size_t)FIELD_MAX));
        else if (nl == 6 && strncasecmp(s, "SHA256", 6) == 0) in_sha256 = identity = true;
        else if ((nl == 5 && strncasecmp(s, "Suite", 5) == 0) || (nl == 8 && strncasecmp(s, "Codename", 8) == 0))
            identity = true;
    }
    uint8_t d[32];
    unsigned dl = 0;
    EVP_DigestFinal_ex(md, d, &dl);
    EVP_MD_CTX_free(md);
    if (!identity) {
        repo_release_free(out);
        return err_setf(reterr, -EBADMSG, "not a Release file: none of the fields Suite, Codename, SHA256");
    }
    if (out->nindexes)
        for (int i = 0; i < 32; i++) snprintf(out->indexes + 2 * i, 3, "%02x", d[i]);
    return 0;
}

void repo_release_free(struct repo_release *r)
{
    free(r->date);
    r->date = NULL;
}

static const xmlNode *child(const xmlNode *n, const char *name)
{
    for (const xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && streq((const char *)c->name, name)) return c;
    return NULL;
}

int repo_repomd_parse(const char *text, size_t len, struct repo_repomd *out, char **reterr)
{
    memset(out, 0, sizeof *out);
    out->timestamp = -1;
    if (len > INT32_MAX) return err_setf(reterr, -EBADMSG, "repomd.xml is larger than 2 GiB");
    xmlDoc *doc = xmlReadMemory(text, (int)len, "repomd.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    const xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root || !streq((const char *)root->name, "repomd")) {
        xmlFreeDoc(doc);
        return err_setf(reterr, -EBADMSG, "not a repomd.xml: %s", root ? "its root element is not <repomd>" : "not well-formed XML");
    }
    const xmlNode *rev = child(root, "revision");
    if (rev) {
        xmlChar *t = xmlNodeGetContent(rev);
        if (t) out->revision = xstrndup((const char *)t, FIELD_MAX);
        xmlFree(t);
    }
    for (const xmlNode *c = root->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || !streq((const char *)c->name, "data")) continue;
        const xmlNode *ts = child(c, "timestamp");
        xmlChar *t = ts ? xmlNodeGetContent(ts) : NULL;
        long v;
        /* createrepo_c writes whole seconds; older tools wrote "1700000000.0" */
        if (t) {
            char *dot = strchr((char *)t, '.');
            if (dot && strspn(dot + 1, "0") == strlen(dot + 1)) *dot = 0;
            if (parse_long((const char *)t, &v) && v >= 0 && v > out->timestamp) out->timestamp = v;
        }
        xmlFree(t);
    }
    xmlFreeDoc(doc);
    return 0;
}

void repo_repomd_free(struct repo_repomd *r)
{
    free(r->revision);
    r->revision = NULL;
}
