/* SPDX 2.3 (https://spdx.github.io/spdx-spec/v2.3/) and CycloneDX 1.5
 * (https://cyclonedx.org/docs/1.5/json/) documents for an OS image and its packages. */
#include "trust/sbom.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>

#include "trust/pkgdb.h"
#include "util/fs.h"
#include "util/html.h"
#include "util/inroot.h"
#include "util/timeutil.h"
#include "util/utf8.h"
#include "util/util.h"

bool sbom_format_parse(const char *s, enum sbom_format *f)
{
    if (streq(s, "spdx")) *f = SBOM_SPDX;
    else if (streq(s, "cyclonedx") || streq(s, "cdx")) *f = SBOM_CYCLONEDX;
    else return false;
    return true;
}

bool sbom_formats_parse(const char *s, unsigned *set)
{
    _cleanup_free_ char *copy = xstrdup(s);
    char *save = NULL;
    *set = 0;
    for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        enum sbom_format f;
        if (!sbom_format_parse(strstrip(w), &f)) return false;
        *set |= 1u << f;
    }
    return *set != 0;
}

const char *sbom_suffix(enum sbom_format f)
{
    return f == SBOM_SPDX ? ".spdx.json" : ".cdx.json";
}

static const char *osr(const struct sbom_subject *s, const char *key)
{
    return json_string_value(json_object_get(s->os_release, key));
}

/* A UUID (version-4 shaped) from the SHA-256 of everything the document says: the same
 * content always gets the same identifier, different content a different one. */
static void content_uuid(const struct sbom_subject *s, json_t *pkgs, char out[37])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    const char *parts[] = {s->name, s->version, s->family, s->sha256 ? s->sha256 : ""};
    for (size_t i = 0; i < ARRAY_SIZE(parts); i++) EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]) + 1);
    char *p = json_dumps(pkgs, JSON_COMPACT | JSON_SORT_KEYS);
    EVP_DigestUpdate(ctx, p, strlen(p));
    free(p);
    uint8_t h[32];
    EVP_DigestFinal_ex(ctx, h, NULL);
    EVP_MD_CTX_free(ctx);
    h[6] = (uint8_t)((h[6] & 0x0f) | 0x40);
    h[8] = (uint8_t)((h[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2], h[3], h[4],
             h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]);
}

/* The SHA-256 of the package file a package was installed from, when the build kept it. */
static const char *package_digest(const struct sbom_subject *s, json_t *p)
{
    _cleanup_free_ char *key = pkgdb_digest_key(p);
    return json_string_value(json_object_get(s->digests, key));
}

/* What both formats derive first: the document id, the time, the distro for purls. */
struct doc_ids {
    char uuid[37], created[32];
    const char *id, *vid;
};

/* SPDX identifiers allow letters, digits, '.' and '-' only. */
static char *spdx_id(const char *prefix, size_t n, const char *name, const char *arch)
{
    struct sbuf b = {0};
    sbuf_printf(&b, "SPDXRef-%s-%zu-", prefix, n);
    for (const char *p = name; *p; p++) sbuf_printf(&b, "%c", isalnum((unsigned char)*p) || *p == '.' ? *p : '-');
    if (arch) {
        sbuf_puts(&b, "-");
        for (const char *p = arch; *p; p++) sbuf_printf(&b, "%c", isalnum((unsigned char)*p) || *p == '.' ? *p : '-');
    }
    return sbuf_steal(&b);
}

/* "Name <mail>" (dpkg's Maintainer) → SPDX "Organization: Name (mail)"; rpm's Vendor as is. */
static char *spdx_supplier(const char *s)
{
    const char *lt = strchr(s, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    if (!lt || !gt) return xasprintf("Organization: %s", s);
    _cleanup_free_ char *name = xstrndup(s, (size_t)(lt - s));
    _cleanup_free_ char *mail = xstrndup(lt + 1, (size_t)(gt - lt - 1));
    return xasprintf("Organization: %s (%s)", strstrip(name), mail);
}

/* The image itself as an SPDX package (SPDXRef-OperatingSystem), the one the document describes. */
static json_t *spdx_os(const struct sbom_subject *s)
{
    json_t *os = json_object();
    json_object_set_new(os, "SPDXID", json_string("SPDXRef-OperatingSystem"));
    json_object_set_new(os, "name", json_string(s->name));
    json_object_set_new(os, "versionInfo", json_string(s->version));
    json_object_set_new(os, "primaryPackagePurpose", json_string("OPERATING_SYSTEM"));
    json_object_set_new(os, "downloadLocation", json_string("NOASSERTION"));
    json_object_set_new(os, "filesAnalyzed", json_false());
    json_object_set_new(os, "licenseConcluded", json_string("NOASSERTION"));
    json_object_set_new(os, "licenseDeclared", json_string("NOASSERTION"));
    json_object_set_new(os, "copyrightText", json_string("NOASSERTION"));
    if (s->file) json_object_set_new(os, "packageFileName", json_string(s->file));
    /* SPDX 2.3 has no architecture field: a comment, as SPDX suggests for such facts */
    if (s->arch) json_object_set_new(os, "comment", json_pack("s+", "Architecture: ", s->arch));
    if (s->sha256)
        json_object_set_new(os, "checksums", json_pack("[{s:s, s:s}]", "algorithm", "SHA256", "checksumValue", s->sha256));
    const char *pretty = osr(s, "PRETTY_NAME");
    if (pretty) {
        _cleanup_free_ char *d = xasprintf("OS image based on %s", pretty);
        json_object_set_new(os, "description", json_string(d));
    }
    return os;
}

/* Package number i (counted from 1, for its SPDXID) of the image's packages as an SPDX
 * package; the LicenseRefs it declares go into extracted (ref -> text), each once. */
static json_t *spdx_package(const struct sbom_subject *s, json_t *p, size_t i, const struct doc_ids *ids, json_t *extracted)
{
    const char *name = json_string_value(json_object_get(p, "name"));
    const char *arch = json_string_value(json_object_get(p, "arch"));
    _cleanup_free_ char *sid = spdx_id("Package", i, name, arch);
    _cleanup_free_ char *purl = pkgdb_purl(s->family, p, ids->id, ids->vid);
    json_t *e = json_object();
    json_object_set_new(e, "SPDXID", json_string(sid));
    json_object_set_new(e, "name", json_string(name));
    json_object_set_new(e, "versionInfo", json_incref(json_object_get(p, "version")));
    json_object_set_new(e, "downloadLocation", json_string("NOASSERTION"));
    json_object_set_new(e, "filesAnalyzed", json_false());
    json_object_set_new(e, "licenseConcluded", json_string("NOASSERTION"));
    json_t *lic_info = json_object_get(s->licenses, name);
    const char *declared = json_string_value(json_object_get(lic_info, "declared"));
    json_object_set_new(e, "licenseDeclared", json_string(declared ? declared : "NOASSERTION"));
    const char *ref;
    json_t *text;
    json_object_foreach(json_object_get(lic_info, "refs"), ref, text) if (!json_object_get(extracted, ref))
        json_object_set(extracted, ref, text);
    json_object_set_new(e, "copyrightText", json_string("NOASSERTION"));
    const char *sha = package_digest(s, p);
    if (sha) json_object_set_new(e, "checksums", json_pack("[{s:s, s:s}]", "algorithm", "SHA256", "checksumValue", sha));
    const char *sup = json_string_value(json_object_get(p, "supplier"));
    if (sup) {
        _cleanup_free_ char *ss = spdx_supplier(sup);
        json_object_set_new(e, "supplier", json_string(ss));
    }
    const char *src = json_string_value(json_object_get(p, "source"));
    if (src) {
        const char *sv = json_string_value(json_object_get(p, "source_version"));
        _cleanup_free_ char *si = xasprintf("built package from: %s %s", src, sv ? sv : "");
        json_object_set_new(e, "sourceInfo", json_string(strstrip(si)));
    }
    const char *lic = json_string_value(json_object_get(p, "license"));
    if (lic) json_object_set_new(e, "comment", json_pack("s+", "License field of the package: ", lic));
    json_object_set_new(e, "externalRefs", json_pack("[{s:s, s:s, s:s}]", "referenceCategory", "PACKAGE-MANAGER",
                                                     "referenceType", "purl", "referenceLocator", purl));
    return e;
}

static json_t *spdx(const struct sbom_subject *s, json_t *pkgs, const struct doc_ids *ids)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "spdxVersion", json_string("SPDX-2.3"));
    json_object_set_new(doc, "dataLicense", json_string("CC0-1.0"));
    json_object_set_new(doc, "SPDXID", json_string("SPDXRef-DOCUMENT"));
    _cleanup_free_ char *dname = xasprintf("%s-%s", s->name, s->version);
    json_object_set_new(doc, "name", json_string(dname));
    /* the name and version can come from an image's os-release: a URI takes them percent-encoded
     * (RFC 3986 unreserved characters as they are), so no control character reaches it */
    _cleanup_free_ char *enc = kh_url_escape(dname, 0);
    _cleanup_free_ char *ns = xasprintf("https://spdx.org/spdxdocs/kiln/%s-%s", enc, ids->uuid);
    json_object_set_new(doc, "documentNamespace", json_string(ns));
    json_object_set_new(doc, "creationInfo", json_pack("{s:s, s:[s]}", "created", ids->created, "creators", "Tool: kiln-" KILN_VERSION));

    json_t *packages = json_array(), *rels = json_array(), *extracted = json_object();
    json_array_append_new(packages, spdx_os(s));
    json_array_append_new(rels, json_pack("{s:s, s:s, s:s}", "spdxElementId", "SPDXRef-DOCUMENT", "relationshipType",
                                          "DESCRIBES", "relatedSpdxElement", "SPDXRef-OperatingSystem"));
    size_t i;
    json_t *p;
    json_array_foreach(pkgs, i, p) {
        json_t *e = spdx_package(s, p, i + 1, ids, extracted);
        const char *sid = json_string_value(json_object_get(e, "SPDXID"));
        json_array_append_new(rels, json_pack("{s:s, s:s, s:s}", "spdxElementId", "SPDXRef-OperatingSystem",
                                              "relationshipType", "CONTAINS", "relatedSpdxElement", sid));
        json_array_append_new(packages, e);
    }
    /* every LicenseRef a package declares, with its text, as SPDX requires */
    if (json_object_size(extracted)) {
        json_t *infos = json_array();
        const char *ref;
        json_t *text;
        json_object_foreach(extracted, ref, text) json_array_append_new(
            infos, json_pack("{s:s, s:s, s:O}", "licenseId", ref, "name", ref + strlen("LicenseRef-"), "extractedText", text));
        json_object_set_new(doc, "hasExtractedLicensingInfos", infos);
    }
    json_decref(extracted);
    json_object_set_new(doc, "documentDescribes", json_pack("[s]", "SPDXRef-OperatingSystem"));
    json_object_set_new(doc, "packages", packages);
    json_object_set_new(doc, "relationships", rels);
    return doc;
}

static json_t *cyclonedx(const struct sbom_subject *s, json_t *pkgs, const struct doc_ids *ids)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "bomFormat", json_string("CycloneDX"));
    json_object_set_new(doc, "specVersion", json_string("1.5"));
    _cleanup_free_ char *serial = xasprintf("urn:uuid:%s", ids->uuid);
    json_object_set_new(doc, "serialNumber", json_string(serial));
    json_object_set_new(doc, "version", json_integer(1));
    json_t *os = json_object();
    json_object_set_new(os, "type", json_string("operating-system"));
    json_object_set_new(os, "bom-ref", json_string("os"));
    json_object_set_new(os, "name", json_string(s->name));
    json_object_set_new(os, "version", json_string(s->version));
    if (s->sha256) json_object_set_new(os, "hashes", json_pack("[{s:s, s:s}]", "alg", "SHA-256", "content", s->sha256));
    if (s->arch) json_object_set_new(os, "properties", json_pack("[{s:s, s:s}]", "name", "kiln:image:arch", "value", s->arch));
    const char *pretty = osr(s, "PRETTY_NAME");
    if (pretty) {
        _cleanup_free_ char *d = xasprintf("OS image based on %s", pretty);
        json_object_set_new(os, "description", json_string(d));
    }
    json_t *meta = json_object();
    json_object_set_new(meta, "timestamp", json_string(ids->created));
    json_object_set_new(meta, "tools", json_pack("{s:[{s:s, s:s, s:s}]}", "components", "type", "application", "name",
                                                 "kiln", "version", KILN_VERSION));
    json_object_set_new(meta, "component", os);
    json_object_set_new(doc, "metadata", meta);
    json_t *comps = json_array(), *deps = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(pkgs, i, p) {
        _cleanup_free_ char *purl = pkgdb_purl(s->family, p, ids->id, ids->vid);
        json_t *c = json_object();
        json_object_set_new(c, "type", json_string("application"));
        json_object_set_new(c, "bom-ref", json_string(purl));
        json_object_set_new(c, "name", json_incref(json_object_get(p, "name")));
        json_object_set_new(c, "version", json_incref(json_object_get(p, "version")));
        json_object_set_new(c, "purl", json_string(purl));
        const char *sup = json_string_value(json_object_get(p, "supplier"));
        if (sup) json_object_set_new(c, "supplier", json_pack("{s:s}", "name", sup));
        const char *name = json_string_value(json_object_get(p, "name"));
        const char *declared = json_string_value(json_object_get(json_object_get(s->licenses, name), "declared"));
        const char *lic = json_string_value(json_object_get(p, "license"));
        if (declared) json_object_set_new(c, "licenses", json_pack("[{s:s}]", "expression", declared));
        else if (lic) json_object_set_new(c, "licenses", json_pack("[{s:{s:s}}]", "license", "name", lic));
        const char *sha = package_digest(s, p);
        if (sha) json_object_set_new(c, "hashes", json_pack("[{s:s, s:s}]", "alg", "SHA-256", "content", sha));
        json_t *props = json_array();
        const char *src = json_string_value(json_object_get(p, "source"));
        if (src) json_array_append_new(props, json_pack("{s:s, s:s}", "name", "kiln:package:source", "value", src));
        const char *arch = json_string_value(json_object_get(p, "arch"));
        if (arch) json_array_append_new(props, json_pack("{s:s, s:s}", "name", "kiln:package:arch", "value", arch));
        json_object_set_new(c, "properties", props);
        json_array_append_new(comps, c);
        json_array_append_new(deps, json_string(purl));
    }
    json_object_set_new(doc, "components", comps);
    json_object_set_new(doc, "dependencies", json_pack("[{s:s, s:o}]", "ref", "os", "dependsOn", deps));
    return doc;
}

/* Debian short license names (copyright-format 1.0, "License short name") that SPDX spells
 * otherwise or that are SPDX ids already; the GNU licenses' versions are handled apart. */
static const struct {
    const char *deb, *spdx;
} short_names[] = {
    {"Expat", "MIT"}, {"MIT", "MIT"}, {"ISC", "ISC"}, {"Zlib", "Zlib"}, {"BSD-2-clause", "BSD-2-Clause"},
    {"BSD-3-clause", "BSD-3-Clause"}, {"BSD-4-clause", "BSD-4-Clause"}, {"Apache-2.0", "Apache-2.0"},
    {"Apache-2", "Apache-2.0"}, {"Apache-1.1", "Apache-1.1"}, {"Artistic", "Artistic-1.0-Perl"},
    {"Artistic-1.0", "Artistic-1.0"}, {"Artistic-2.0", "Artistic-2.0"}, {"Perl", "Artistic-1.0-Perl OR GPL-1.0-or-later"},
    {"CC0-1.0", "CC0-1.0"}, {"CC0", "CC0-1.0"}, {"MPL-1.1", "MPL-1.1"}, {"MPL-2.0", "MPL-2.0"}, {"PSF-2", "PSF-2.0"},
    {"OpenSSL", "OpenSSL"}, {"X11", "X11"}, {"FSFAP", "FSFAP"}, {"FSFUL", "FSFUL"}, {"FSFULLR", "FSFULLR"},
    {"BSL-1.0", "BSL-1.0"}, {"Unlicense", "Unlicense"}, {"WTFPL", "WTFPL"}, {"curl", "curl"}, {"Ruby", "Ruby"},
    {"OFL-1.1", "OFL-1.1"}, {"CC-BY-3.0", "CC-BY-3.0"}, {"CC-BY-4.0", "CC-BY-4.0"}, {"CC-BY-SA-3.0", "CC-BY-SA-3.0"},
    {"CC-BY-SA-4.0", "CC-BY-SA-4.0"}, {"Zope-2.1", "ZPL-2.1"}, {"bzip2-1.0.6", "bzip2-1.0.6"},
};

/* GPL-2, GPL-2+, LGPL-2.1+, AGPL-3, GFDL-1.3+ → GPL-2.0-only, GPL-2.0-or-later, …; NULL otherwise. */
static char *gnu_name(const char *n)
{
    static const char *const fams[] = {"AGPL", "LGPL", "GPL", "GFDL"};
    for (size_t i = 0; i < ARRAY_SIZE(fams); i++) {
        size_t fl = strlen(fams[i]);
        if (strncasecmp(n, fams[i], fl) || n[fl] != '-') continue;
        const char *v = n + fl + 1;
        size_t vl = strspn(v, "0123456789.");
        bool later = v[vl] == '+' && !v[vl + 1];
        if (!vl || vl > 4 || !isdigit((unsigned char)v[0]) || (v[vl] && !later)) return NULL;
        _cleanup_free_ char *ver = xstrndup(v, vl);
        return xasprintf("%s-%s%s-%s", fams[i], ver, strchr(ver, '.') ? "" : ".0", later ? "or-later" : "only");
    }
    return NULL;
}

/* An SPDX idstring: letters, digits, '.' and '-'. */
static char *license_ref(const char *name)
{
    struct sbuf b = {0};
    sbuf_puts(&b, "LicenseRef-");
    for (const char *p = name; *p; p++) sbuf_printf(&b, "%c", isalnum((unsigned char)*p) || *p == '.' ? *p : '-');
    return sbuf_steal(&b);
}

struct dep5 {
    json_t *paras; /* [{field (lower case): value}] */
    json_t *texts; /* stand-alone License paragraphs: {short name (lower case): text} */
    const char *doc;
    json_t *refs;
};

/* One license name of a License: line as SPDX: an id, a GNU version, or a LicenseRef whose
 * text goes to refs. */
static char *map_name(struct dep5 *d, const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(short_names); i++)
        if (!strcasecmp(name, short_names[i].deb))
            return strchr(short_names[i].spdx, ' ') ? xasprintf("(%s)", short_names[i].spdx) : xstrdup(short_names[i].spdx);
    char *g = strchr(name, ' ') ? NULL : gnu_name(name);
    if (g) return g;
    char *ref = license_ref(name);
    if (!json_object_get(d->refs, ref)) {
        _cleanup_free_ char *low = xstrdup(name);
        for (char *p = low; *p; p++) *p = (char)tolower((unsigned char)*p);
        const char *t = json_string_value(json_object_get(d->texts, low));
        _cleanup_free_ char *said = t ? NULL : xasprintf("The license named \"%s\" in %s", name, d->doc);
        json_object_set_new(d->refs, ref, json_string(t ? t : said));
    }
    return ref;
}

/* "GPL-2+ or Artistic, and BSD-3-clause with OpenSSL exception" → an SPDX expression (names
 * between "or"/"and" form one license: "X with Y exception" becomes one LicenseRef). */
static char *dep5_expr(struct dep5 *d, const char *line)
{
    struct sbuf out = {0}, term = {0};
    const char *pending = NULL; /* the operator before the term being read */
    for (const char *p = line;;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, " \t,");
        bool op = (n == 2 && !strncasecmp(p, "or", 2)) || (n == 3 && !strncasecmp(p, "and", 3));
        if (op || !n) {
            if (term.len) {
                _cleanup_free_ char *m = map_name(d, term.s);
                if (out.len) sbuf_puts(&out, pending ? pending : " AND ");
                sbuf_puts(&out, m);
                sbuf_free(&term);
            }
            if (!n) break;
            pending = n == 2 ? " OR " : " AND ";
        } else {
            if (term.len) sbuf_puts(&term, " ");
            sbuf_append(&term, p, n);
        }
        p += n;
    }
    if (out.len) return sbuf_steal(&out);
    sbuf_free(&out);
    return NULL;
}

/* Paragraphs of a deb822 file: "Field: value" with continuation lines (" ." an empty one). */
static json_t *deb822(char *text)
{
    json_t *paras = json_array(), *cur = NULL;
    char *save = NULL, *last = NULL;
    struct sbuf val = {0};
    for (char *line = text;; line = save) {
        char *nl = line ? strchr(line, '\n') : NULL;
        if (nl) *nl = 0;
        save = nl ? nl + 1 : NULL;
        bool blank = !line || !line[strspn(line, " \t\r")];
        bool cont = line && !blank && (line[0] == ' ' || line[0] == '\t');
        if ((blank || !cont) && last) {
            json_object_set_new(cur, last, json_string(val.s ? val.s : ""));
            free(last), last = NULL;
            sbuf_free(&val);
        }
        if (!line) break;
        if (blank) {
            cur = NULL;
            continue;
        }
        if (cont) {
            if (!last) continue;
            char *t = strstrip(line);
            sbuf_printf(&val, "\n%s", streq(t, ".") ? "" : t);
            continue;
        }
        char *colon = strchr(line, ':');
        if (!colon) continue;
        *colon = 0;
        last = xstrdup(strstrip(line));
        for (char *c = last; *c; c++) *c = (char)tolower((unsigned char)*c);
        sbuf_puts(&val, strstrip(colon + 1));
        if (!cur) {
            cur = json_object();
            json_array_append_new(paras, cur);
        }
    }
    return paras;
}

char *sbom_dep5_license(const char *text, size_t len, const char *doc, json_t *refs)
{
    _cleanup_free_ char *t = utf8_sanitize(text, len, 0);
    struct dep5 d = {.paras = deb822(t), .texts = json_object(), .doc = doc, .refs = refs};
    json_t *head = json_array_get(d.paras, 0);
    const char *fmt = json_string_value(json_object_get(head, "format"));
    char *expr = NULL;
    if (fmt && (strstr(fmt, "copyright-format") || strcasestr(fmt, "dep5"))) {
        size_t i;
        json_t *p;
        /* license texts: the stand-alone License paragraphs', then those a Files paragraph holds */
        for (int pass = 0; pass < 2; pass++)
            json_array_foreach(d.paras, i, p) {
                const char *l = json_string_value(json_object_get(p, "license"));
                if (!l || !json_object_get(p, "files") != !pass || i == 0) continue;
                size_t nl = strcspn(l, "\n");
                if (!l[nl]) continue; /* a name without a text says nothing more */
                _cleanup_free_ char *name = xstrndup(l, nl);
                for (char *c = name; *c; c++) *c = (char)tolower((unsigned char)*c);
                if (!json_object_get(d.texts, strstrip(name))) json_object_set_new(d.texts, strstrip(name), json_string(l + nl + 1));
            }
        json_t *seen = json_object();
        struct sbuf all = {0};
        size_t nexpr = 0;
        for (int pass = 0; pass < 2 && !nexpr; pass++)
            json_array_foreach(d.paras, i, p) {
                /* the Files paragraphs; the header's License: when there are none */
                if (pass == 0 ? !json_object_get(p, "files") : i != 0) continue;
                const char *l = json_string_value(json_object_get(p, "license"));
                if (!l) continue;
                _cleanup_free_ char *first = xstrndup(l, strcspn(l, "\n"));
                _cleanup_free_ char *e = dep5_expr(&d, first);
                if (!e || json_object_get(seen, e)) continue;
                json_object_set_new(seen, e, json_true());
                nexpr++;
            }
        const char *e;
        json_t *v;
        json_object_foreach(seen, e, v) {
            if (all.len) sbuf_puts(&all, " AND ");
            bool paren = nexpr > 1 && strstr(e, " OR ") && e[0] != '(';
            sbuf_printf(&all, paren ? "(%s)" : "%s", e);
        }
        json_decref(seen);
        if (all.len) expr = sbuf_steal(&all);
        sbuf_free(&all);
    }
    json_decref(d.paras);
    json_decref(d.texts);
    return expr;
}

json_t *sbom_licenses(int rootfd, const char *family, json_t *pkgs)
{
    json_t *out = json_object();
    if (!streq(family, "deb") || rootfd < 0) return out;
    size_t i;
    json_t *p;
    json_array_foreach(pkgs, i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        if (!name || json_object_get(out, name) || strchr(name, '/') || name[0] == '.') continue;
        _cleanup_free_ char *rel = xasprintf("usr/share/doc/%s/copyright", name);
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        if (inroot_read(rootfd, rel, SBOM_COPYRIGHT_MAX, &text, &len) < 0) continue;
        json_t *refs = json_object();
        _cleanup_free_ char *doc = xasprintf("/%s", rel);
        _cleanup_free_ char *e = sbom_dep5_license(text, len, doc, refs);
        if (e) json_object_set_new(out, name, json_pack("{s:s, s:o}", "declared", e, "refs", refs));
        else json_decref(refs);
    }
    return out;
}

json_t *sbom_make(enum sbom_format f, const struct sbom_subject *s, json_t *pkgs)
{
    struct doc_ids d = {.id = osr(s, "ID"), .vid = osr(s, "VERSION_ID")};
    content_uuid(s, pkgs, d.uuid);
    format_utc(d.created, s->created);
    return f == SBOM_SPDX ? spdx(s, pkgs, &d) : cyclonedx(s, pkgs, &d);
}
