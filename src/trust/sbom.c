/* SPDX 2.3 (https://spdx.github.io/spdx-spec/v2.3/) and CycloneDX 1.5
 * (https://cyclonedx.org/docs/1.5/json/) documents for an OS image and its packages. */
#include "trust/sbom.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>

#include "trust/pkgdb.h"
#include "util/fs.h"
#include "util/timeutil.h"
#include "util/util.h"

bool sbom_format_parse(const char *s, enum sbom_format *f)
{
    if (streq(s, "spdx")) *f = SBOM_SPDX;
    else if (streq(s, "cyclonedx") || streq(s, "cdx")) *f = SBOM_CYCLONEDX;
    else return false;
    return true;
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

static json_t *spdx(const struct sbom_subject *s, json_t *pkgs, const struct doc_ids *ids)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "spdxVersion", json_string("SPDX-2.3"));
    json_object_set_new(doc, "dataLicense", json_string("CC0-1.0"));
    json_object_set_new(doc, "SPDXID", json_string("SPDXRef-DOCUMENT"));
    _cleanup_free_ char *dname = xasprintf("%s-%s", s->name, s->version);
    json_object_set_new(doc, "name", json_string(dname));
    _cleanup_free_ char *ns = xasprintf("https://spdx.org/spdxdocs/kiln/%s-%s", dname, ids->uuid);
    json_object_set_new(doc, "documentNamespace", json_string(ns));
    json_object_set_new(doc, "creationInfo", json_pack("{s:s, s:[s]}", "created", ids->created, "creators", "Tool: kiln-" KILN_VERSION));

    json_t *packages = json_array(), *rels = json_array();
    json_t *os = json_object();
    json_object_set_new(os, "SPDXID", json_string("SPDXRef-OperatingSystem"));
    json_object_set_new(os, "name", json_string(s->name));
    json_object_set_new(os, "versionInfo", json_string(s->version));
    json_object_set_new(os, "primaryPackagePurpose", json_string("OPERATING-SYSTEM"));
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
    json_array_append_new(packages, os);
    json_array_append_new(rels, json_pack("{s:s, s:s, s:s}", "spdxElementId", "SPDXRef-DOCUMENT", "relationshipType",
                                          "DESCRIBES", "relatedSpdxElement", "SPDXRef-OperatingSystem"));
    size_t i;
    json_t *p;
    json_array_foreach(pkgs, i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        const char *arch = json_string_value(json_object_get(p, "arch"));
        _cleanup_free_ char *sid = spdx_id("Package", i + 1, name, arch);
        _cleanup_free_ char *purl = pkgdb_purl(s->family, p, ids->id, ids->vid);
        json_t *e = json_object();
        json_object_set_new(e, "SPDXID", json_string(sid));
        json_object_set_new(e, "name", json_string(name));
        json_object_set_new(e, "versionInfo", json_incref(json_object_get(p, "version")));
        json_object_set_new(e, "downloadLocation", json_string("NOASSERTION"));
        json_object_set_new(e, "filesAnalyzed", json_false());
        json_object_set_new(e, "licenseConcluded", json_string("NOASSERTION"));
        json_object_set_new(e, "licenseDeclared", json_string("NOASSERTION"));
        json_object_set_new(e, "copyrightText", json_string("NOASSERTION"));
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
        json_array_append_new(packages, e);
        json_array_append_new(rels, json_pack("{s:s, s:s, s:s}", "spdxElementId", "SPDXRef-OperatingSystem",
                                              "relationshipType", "CONTAINS", "relatedSpdxElement", sid));
    }
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
        const char *lic = json_string_value(json_object_get(p, "license"));
        if (lic) json_object_set_new(c, "licenses", json_pack("[{s:{s:s}}]", "license", "name", lic));
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

json_t *sbom_make(enum sbom_format f, const struct sbom_subject *s, json_t *pkgs)
{
    struct doc_ids d = {.id = osr(s, "ID"), .vid = osr(s, "VERSION_ID")};
    content_uuid(s, pkgs, d.uuid);
    format_utc(d.created, s->created);
    return f == SBOM_SPDX ? spdx(s, pkgs, &d) : cyclonedx(s, pkgs, &d);
}
