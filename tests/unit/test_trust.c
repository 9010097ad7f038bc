/* minisign-format signing: BLAKE2b vectors, round trips, and every kind of tampering refused;
 * the gallery's catalog parser and its all-or-nothing file moves. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <zstd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "tap.h"
#include "gallery/catalog.h"
#include "gallery/gallery.h"
#include "report/archive.h"
#include "trust/dsse.h"
#include "trust/minisign.h"
#include "trust/pkgdb.h"
#include "trust/sbom.h"
#include "util/fs.h"
#include "util/util.h"

static char dir[] = "/tmp/kiln-test-trust-XXXXXX";

static void put(const char *name, const char *text)
{
    _cleanup_free_ char *p = path_join(dir, name);
    write_file_atomic(p, text, strlen(text), 0644);
}

static char *get(const char *name)
{
    _cleanup_free_ char *p = path_join(dir, name);
    char *t = NULL;
    size_t n;
    read_file(p, 1 << 20, &t, &n);
    return t;
}

/* replaces the first occurrence of a by b in file name */
static void edit(const char *name, const char *a, const char *b)
{
    char *t = get(name);
    char *at = t ? strstr(t, a) : NULL;
    if (at) {
        struct sbuf s = {0};
        sbuf_append(&s, t, (size_t)(at - t));
        sbuf_puts(&s, b);
        sbuf_puts(&s, at + strlen(a));
        put(name, s.s);
        sbuf_free(&s);
    }
    free(t);
}

/* A gallery's key set: the signature's key id picks the key; unknown ids and unsigned files refused. */
static void trusted_keys(const char *file, const char *pub, const char *pub2)
{
    char *err = NULL, id[17] = "";
    const char *both[] = {pub2, pub}, *other[] = {pub2};
    ok(ms_verify_trusted(both, 2, file, NULL, id, &err) == 0 && strlen(id) == 16, "trusted set with the signer: key %s", id);
    char pid[17];
    ok(ms_key_id(pub, pid, &err) == 0 && streq(pid, id), "ms_key_id agrees with the signature's key id");
    ok(ms_verify_trusted(other, 1, file, NULL, id, &err) < 0 && strstr(err, "which is not a trusted key"),
       "signer not trusted: %s", err ? err : "");
    free(err), err = NULL;
    put("unsigned.raw", "x");
    _cleanup_free_ char *u = path_join(dir, "unsigned.raw");
    ok(ms_verify_trusted(both, 2, u, NULL, id, &err) < 0 && strstr(err, "is not signed"), "unsigned: %s", err ? err : "");
    free(err);
}

static void purls_and_sboms(void)
{
    json_t *deb = json_pack("{s:s, s:s, s:s}", "name", "libc6", "version", "1:2.36-9+deb12u4", "arch", "amd64");
    _cleanup_free_ char *p1 = pkgdb_purl("deb", deb, "debian", "12");
    is_str(p1, "pkg:deb/debian/libc6@1%3A2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12", "deb purl: epoch and '+' encoded");
    json_t *rpm = json_pack("{s:s, s:s, s:s, s:s}", "name", "bash", "version", "2:5.1-1.fc36", "arch", "x86_64", "epoch", "2");
    _cleanup_free_ char *p2 = pkgdb_purl("rpm", rpm, "fedora", "36");
    is_str(p2, "pkg:rpm/fedora/bash@5.1-1.fc36?arch=x86_64&distro=fedora-36&epoch=2", "rpm purl: epoch as a qualifier");
    json_t *pkgs = json_pack("[O, {s:s, s:s, s:s}]", deb, "name", "libstdc++6", "version", "12.2.0-14", "arch", "amd64");
    json_t *osr = json_pack("{s:s, s:s}", "ID", "debian", "VERSION_ID", "12");
    struct sbom_subject sub = {.name = "img", .version = "1.0", .family = "deb", .os_release = osr, .created = 1750000000};
    json_t *a = sbom_make(SBOM_SPDX, &sub, pkgs), *b = sbom_make(SBOM_SPDX, &sub, pkgs);
    ok(json_equal(a, b), "the same input gives the same SPDX document");
    is_str(json_string_value(json_object_get(json_array_get(json_object_get(a, "packages"), 2), "SPDXID")),
           "SPDXRef-Package-2-libstdc--6-amd64", "SPDX ids keep to letters, digits, '.' and '-'");
    is_str(json_string_value(json_object_get(json_object_get(a, "creationInfo"), "created")), "2025-06-15T15:06:40Z",
           "created is SOURCE_DATE_EPOCH");
    sub.version = "1.1";
    json_t *c = sbom_make(SBOM_SPDX, &sub, pkgs);
    ok(!streq(json_string_value(json_object_get(a, "documentNamespace")), json_string_value(json_object_get(c, "documentNamespace"))),
       "another version, another document namespace");
    /* a name from a crafted os-release: control characters never reach the URI (hostile finding) */
    struct sbom_subject evil = sub;
    evil.name = "deb\x1b[31mian\r";
    json_t *ev = sbom_make(SBOM_SPDX, &evil, pkgs);
    const char *evns = json_string_value(json_object_get(ev, "documentNamespace"));
    ok(evns && startswith(evns, "https://spdx.org/spdxdocs/kiln/deb%1B%5B31mian%0D-1.1-") && !strpbrk(evns, "\x1b\r"),
       "the namespace takes the name percent-encoded: %s", evns ? evns : "(none)");
    json_decref(ev);
    json_t *x = sbom_make(SBOM_CYCLONEDX, &sub, pkgs);
    is_str(json_string_value(json_object_get(json_object_get(json_object_get(x, "metadata"), "component"), "type")),
           "operating-system", "CycloneDX: the image is the operating-system component");
    is_int(json_array_size(json_object_get(x, "components")), 2, "CycloneDX: one component per package");
    ok(!json_object_get(json_array_get(json_object_get(a, "packages"), 0), "comment") &&
           !json_object_get(json_object_get(json_object_get(x, "metadata"), "component"), "properties"),
       "no arch given (kiln sbom of a stock image): none claimed");
    json_t *xa = NULL, *sa = NULL;
    sub.arch = "aarch64";
    sa = sbom_make(SBOM_SPDX, &sub, pkgs);
    xa = sbom_make(SBOM_CYCLONEDX, &sub, pkgs);
    is_str(json_string_value(json_object_get(json_array_get(json_object_get(sa, "packages"), 0), "comment")),
           "Architecture: aarch64", "SPDX: the operating-system package says the image's architecture");
    json_t *prop = json_array_get(json_object_get(json_object_get(json_object_get(xa, "metadata"), "component"), "properties"), 0);
    ok(streq(json_string_value(json_object_get(prop, "name")), "kiln:image:arch") &&
           streq(json_string_value(json_object_get(prop, "value")), "aarch64"),
       "CycloneDX: the operating-system component carries kiln:image:arch");
    json_decref(sa), json_decref(xa);
    json_decref(a), json_decref(b), json_decref(c), json_decref(x);
    json_decref(pkgs), json_decref(osr), json_decref(deb), json_decref(rpm);
}

/* Debian machine-readable copyright files (DEP-5) as SPDX license expressions. */
static void dep5(void)
{
    static const char hello[] = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
                                "Upstream-Name: hello\n\n"
                                "Files: *\nCopyright: 1992 FSF\nLicense: GPL-3+\n\n"
                                "Files: debian/*\nCopyright: 2010 A\nLicense: GPL-3+ or Expat\n\n"
                                "Files: lib/tables.c\nCopyright: 2001 B\nLicense: Hello-Tables\n"
                                " You may use these tables,\n .\n provided this notice is kept.\n\n"
                                "Files: lib/ssl.c\nCopyright: 2002 C\nLicense: GPL-2+ with OpenSSL exception\n\n"
                                "License: GPL-3+\n On Debian systems see /usr/share/common-licenses/GPL-3.\n";
    json_t *refs = json_object();
    _cleanup_free_ char *e1 = sbom_dep5_license(hello, sizeof hello - 1, "/usr/share/doc/hello/copyright", refs);
    is_str(e1, "GPL-3.0-or-later AND (GPL-3.0-or-later OR MIT) AND LicenseRef-Hello-Tables AND LicenseRef-GPL-2--with-OpenSSL-exception",
           "DEP-5: each Files paragraph's license once, joined by AND; Debian names as SPDX ids, others as LicenseRef");
    is_str(json_string_value(json_object_get(refs, "LicenseRef-Hello-Tables")), "You may use these tables,\n\nprovided this notice is kept.",
           "a LicenseRef's text from its paragraph (\" .\" an empty line)");
    is_str(json_string_value(json_object_get(refs, "LicenseRef-GPL-2--with-OpenSSL-exception")),
           "The license named \"GPL-2+ with OpenSSL exception\" in /usr/share/doc/hello/copyright",
           "a LicenseRef without a text names where it was found");
    is_int(json_object_size(refs), 2, "no LicenseRef for the names SPDX knows");
    json_decref(refs);
    static const struct {
        const char *text, *want, *what;
    } cases[] = {
        {"Format: http://dep.debian.net/deps/dep5\n\nFiles: *\nLicense: LGPL-2.1\n", "LGPL-2.1-only", "the old DEP-5 URL; LGPL-2.1 is -only"},
        {"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nLicense: Perl\n", "(Artistic-1.0-Perl OR GPL-1.0-or-later)",
         "no Files paragraph: the header's License; Perl is Artistic or GPL"},
        {"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: bsd-3-CLAUSE and GFDL-1.3+ or\n",
         "BSD-3-Clause AND GFDL-1.3-or-later", "names compare without case; a dangling operator is dropped"},
        {"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: GPL-2.0+, or AGPL-3\n",
         "GPL-2.0-or-later OR AGPL-3.0-only", "commas between names"},
        {"This package was debianized by someone.\nIt is GPL.\n", NULL, "a free-form copyright file: no license declared"},
        {"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: x\n", NULL,
         "machine-readable but naming no license"},
        {"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: Expat\xff\xfe\n", "LicenseRef-Expat------",
         "bytes that are not UTF-8 stay out of the identifier"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        json_t *r = json_object();
        _cleanup_free_ char *e = sbom_dep5_license(cases[i].text, strlen(cases[i].text), "/c", r);
        if (cases[i].want) is_str(e, cases[i].want, cases[i].what);
        else ok(!e, "%s (%s)", cases[i].what, e ? e : "null");
        json_decref(r);
    }
    /* NUL bytes inside: the text after them is still read */
    static const char nul[] = "Format: copyright-format/1.0\n\nFiles: a\nLicense: ISC\0\n\nFiles: b\nLicense: Zlib\n";
    json_t *r = json_object();
    _cleanup_free_ char *en = sbom_dep5_license(nul, sizeof nul - 1, "/c", r);
    ok(en && strstr(en, "Zlib"), "a NUL does not end the file (%s)", en ? en : "null");
    json_decref(r);

    /* in the documents: licenseDeclared and the extracted texts (SPDX), an expression (CycloneDX),
     * the package file's digest as checksum and hash */
    json_t *pkgs = json_pack("[{s:s, s:s, s:s}, {s:s, s:s, s:s}]", "name", "hello", "version", "2.10-3", "arch", "amd64",
                             "name", "zed", "version", "1", "arch", "all");
    json_t *lic = json_pack("{s:{s:s, s:{s:s}}}", "hello", "declared", "GPL-3.0-or-later AND LicenseRef-T", "refs", "LicenseRef-T", "text");
    json_t *dig = json_pack("{s:s}", "hello:amd64", "ab12");
    struct sbom_subject sub = {.name = "img", .version = "1", .family = "deb", .os_release = NULL, .created = 0,
                               .licenses = lic, .digests = dig};
    json_t *sp = sbom_make(SBOM_SPDX, &sub, pkgs), *cx = sbom_make(SBOM_CYCLONEDX, &sub, pkgs);
    json_t *h = json_array_get(json_object_get(sp, "packages"), 1), *z = json_array_get(json_object_get(sp, "packages"), 2);
    is_str(json_string_value(json_object_get(json_array_get(json_object_get(sp, "packages"), 0), "primaryPackagePurpose")),
           "OPERATING_SYSTEM", "SPDX 2.3's spelling of the operating-system purpose");
    is_str(json_string_value(json_object_get(h, "licenseDeclared")), "GPL-3.0-or-later AND LicenseRef-T", "SPDX: the declared license");
    is_str(json_string_value(json_object_get(z, "licenseDeclared")), "NOASSERTION", "SPDX: NOASSERTION without one");
    json_t *info = json_array_get(json_object_get(sp, "hasExtractedLicensingInfos"), 0);
    ok(json_array_size(json_object_get(sp, "hasExtractedLicensingInfos")) == 1 &&
           streq(json_string_value(json_object_get(info, "licenseId")), "LicenseRef-T") &&
           streq(json_string_value(json_object_get(info, "extractedText")), "text"),
       "SPDX: each LicenseRef with its text");
    json_t *ck = json_array_get(json_object_get(h, "checksums"), 0);
    ok(streq(json_string_value(json_object_get(ck, "algorithm")), "SHA256") && streq(json_string_value(json_object_get(ck, "checksumValue")), "ab12") &&
           !json_object_get(z, "checksums"),
       "SPDX: the package file's SHA256 where it is known, none elsewhere");
    json_t *hc = json_array_get(json_object_get(cx, "components"), 0);
    is_str(json_string_value(json_object_get(json_array_get(json_object_get(hc, "licenses"), 0), "expression")),
           "GPL-3.0-or-later AND LicenseRef-T", "CycloneDX: the license as an expression");
    is_str(json_string_value(json_object_get(json_array_get(json_object_get(hc, "hashes"), 0), "content")), "ab12", "CycloneDX: the hash");
    ok(!json_object_get(json_array_get(json_object_get(cx, "components"), 1), "licenses"), "CycloneDX: no licenses without one");
    unsigned set = 0;
    ok(sbom_formats_parse("spdx, cdx", &set) && set == (1u << SBOM_SPDX | 1u << SBOM_CYCLONEDX), "a list of formats");
    ok(!sbom_formats_parse("spdx,xml", &set) && !sbom_formats_parse(",", &set), "an unknown or empty list refused");
    json_decref(sp), json_decref(cx), json_decref(pkgs), json_decref(lic), json_decref(dig);
}

/* Replaces the first occurrence of from in s by to. */
static char *replace(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    if (!at) return xstrdup(s);
    return xasprintf("%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
}

/* DSSE: PAE as the protocol defines it, an envelope kiln signs verifies, and any change to it
 * (payload, payload type, signature, key) is refused naming what. */
static void dsse(const char *key, const char *pub, const char *pub2)
{
    size_t n;
    _cleanup_free_ uint8_t *pae = dsse_pae("http://example.com/HelloWorld", "hello world", 11, &n);
    static const char want[] = "DSSEv1 29 http://example.com/HelloWorld 11 hello world";
    ok(n == sizeof want - 1 && !memcmp(pae, want, n), "PAE is the protocol's (%.*s)", (int)n, (const char *)pae);
    _cleanup_free_ uint8_t *empty = dsse_pae("t", "", 0, &n);
    ok(n == 13 && !memcmp(empty, "DSSEv1 1 t 0 ", 13), "PAE of an empty payload");

    char *err = NULL;
    struct ms_seckey *k = NULL;
    ok(ms_seckey_load(key, NULL, &k, &err) == 0, "the secret key loads");
    static const char st[] = "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"name\":\"a.raw\","
                             "\"digest\":{\"sha256\":\"00\"}}],\"predicateType\":\"https://slsa.dev/provenance/v1\"}";
    _cleanup_free_ char *line = NULL;
    ok(dsse_sign(k, DSSE_INTOTO_TYPE, st, sizeof st - 1, &line, &err) == 0 && !strchr(line, '\n'), "an envelope on one line");
    char id[17];
    ms_seckey_id(k, id);
    ms_seckey_free(k);
    json_t *env = json_loads(line, 0, NULL);
    json_t *sig0 = json_array_get(json_object_get(env, "signatures"), 0);
    is_str(json_string_value(json_object_get(env, "payloadType")), "application/vnd.in-toto+json", "in-toto's payload type");
    is_str(json_string_value(json_object_get(sig0, "keyid")), id, "the keyid is the minisign key id");
    _cleanup_free_ char *p64 = base64_encode(st, sizeof st - 1);
    is_str(json_string_value(json_object_get(env, "payload")), p64, "the payload is the statement, base64");
    char *payload = NULL;
    size_t plen = 0;
    ok(dsse_verify(pub, line, strlen(line), "a.intoto.jsonl", DSSE_INTOTO_TYPE, &payload, &plen, &err) == 0,
       "the envelope verifies (%s)", err ? err : "");
    ok(payload && plen == sizeof st - 1 && streq(payload, st), "and gives back the statement");
    free(payload), payload = NULL;
    /* JSON lines: a second line, and a trailing newline, verify too */
    _cleanup_free_ char *two = xasprintf("%s\n%s\n", line, line);
    ok(dsse_verify(pub, two, strlen(two), "a.intoto.jsonl", DSSE_INTOTO_TYPE, NULL, NULL, &err) == 0, "two lines verify");

    /* a tampered statement (one subject digest changed), re-encoded as an attacker would */
    _cleanup_free_ char *evil = replace(st, "\"00\"", "\"01\"");
    _cleanup_free_ char *e64 = base64_encode(evil, strlen(evil));
    _cleanup_free_ char *t1 = replace(line, p64, e64);
    _cleanup_free_ char *t2 = replace(line, "application/vnd.in-toto+json", "application/json");
    _cleanup_free_ char *s64 = xstrdup(json_string_value(json_object_get(sig0, "sig")));
    _cleanup_free_ char *flipped = xstrdup(s64);
    flipped[10] = flipped[10] == 'A' ? 'B' : 'A';
    _cleanup_free_ char *t3 = replace(line, s64, flipped);
    _cleanup_free_ char *t4 = replace(line, id, "0123456789abcdef");
    _cleanup_free_ char *t5 = replace(line, "\"signatures\":[{", "\"signatures\":[],\"x\":[{");
    _cleanup_free_ char *t6 = xasprintf("%s\n%s\n", line, t1);
    static const char *const what_t[] = {"a changed payload", "a changed payload type", "a changed signature",
                                         "another keyid", "no signature", "a bad second line"};
    const char *const bad[] = {t1, t2, t3, t4, t5, t6};
    const char *const said[] = {"a.intoto.jsonl: the signature by key", "a.intoto.jsonl: the signature by key",
                                "a.intoto.jsonl: the signature by key", "a.intoto.jsonl is signed by 0123456789abcdef, not by key",
                                "a.intoto.jsonl is signed by no key, not by key", "a.intoto.jsonl:2: the signature by key"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        int r = dsse_verify(pub, bad[i], strlen(bad[i]), "a.intoto.jsonl", DSSE_INTOTO_TYPE, &payload, NULL, &err);
        ok(r < 0 && err && startswith(err, said[i]) && !payload, "%s refused: %s", what_t[i], err ? err : "accepted");
        free(err), err = NULL;
    }
    ok(dsse_verify(pub2, line, strlen(line), "a.intoto.jsonl", DSSE_INTOTO_TYPE, NULL, NULL, &err) < 0 && err &&
           strstr(err, "is signed by ") && strstr(err, ", not by key "),
       "another public key refused: %s", err ? err : "accepted");
    free(err), err = NULL;
    static const char *const junk[] = {"", "\n\n", "{", "[]", "{\"payloadType\":\"t\",\"payload\":\"!!\",\"signatures\":[]}"};
    for (size_t i = 0; i < ARRAY_SIZE(junk); i++) {
        ok(dsse_verify(pub, junk[i], strlen(junk[i]), "j", DSSE_INTOTO_TYPE, NULL, NULL, &err) < 0 && err, "junk %zu refused: %s",
           i, err ? err : "accepted");
        free(err), err = NULL;
    }
    json_decref(env);
}

static void archives(void)
{
    _cleanup_free_ char *run = path_join(dir, "run-1");
    _cleanup_free_ char *cases = path_join(run, "cases/smoke");
    mkdir_p(cases, 0755);
    put("run-1/results.json", "{}\n");
    put("run-1/cases/smoke/log.txt", "[cmd 1] true\n");
    _cleanup_free_ char *out = path_join(dir, "run-1.tar.zst");
    char *err = NULL;
    unsigned n = 0;
    ok(archive_create(run, out, &err) == 0, "archive a run directory");
    ok(archive_verify(out, &n, &err) == 0 && n == 2, "it verifies: %u members besides the manifest", n);
    put("junk.tar.zst", "\x28\xb5\x2f\xfd garbage");
    _cleanup_free_ char *junk = path_join(dir, "junk.tar.zst");
    ok(archive_verify(junk, &n, &err) < 0 && strstr(err, "junk.tar.zst"), "garbage refused: %s", err ? err : "");
    free(err), err = NULL;
    put("run-1/cases/smoke/id_ed25519", "-----BEGIN OPENSSH PRIVATE KEY-----\nxx\n");
    _cleanup_free_ char *out2 = path_join(dir, "leak.tar.zst");
    ok(archive_create(run, out2, &err) < 0 && strstr(err, "holds a private key") && !file_exists(out2),
       "a private key in the run: refused, nothing written: %s", err ? err : "");
    free(err), err = NULL;

    /* cut inside the pax header of a long name: libarchive gives no message of its own
     * (hostile finding: "the archive is corrupt: (null)") */
    _cleanup_free_ char *run3 = path_join(dir, "run-3");
    mkdir_p(run3, 0755);
    put("run-3/results.json", "{}\n");
    char longname[200];
    snprintf(longname, sizeof longname, "run-3/%0150d", 0);
    put(longname, "x\n");
    _cleanup_free_ char *out3 = path_join(dir, "run-3.tar.zst");
    ok(archive_create(run3, out3, &err) == 0, "a run with a 150-byte name archived");
    size_t zlen = 0;
    char *z = NULL;
    ok(read_file(out3, 1 << 20, &z, &zlen) == 0, "read back");
    char tarbuf[16384], zbuf[16384];
    size_t tlen = z ? ZSTD_decompress(tarbuf, sizeof tarbuf, z, zlen) : 0;
    free(z);
    ok(!ZSTD_isError(tlen) && tlen > 1700, "decompressed: %zu bytes", tlen);
    size_t clen = ZSTD_compress(zbuf, sizeof zbuf, tarbuf, 1700, 3);
    ok(write_file_atomic(out3, zbuf, clen, 0644) == 0, "cut at 1700 bytes and compressed again");
    int vr = archive_verify(out3, &n, &err);
    ok(vr < 0 && err && strstr(err, "the archive is cut short or damaged") && !strstr(err, "(null)"),
       "cut inside a pax header: %s", err ? err : "(verified)");
    free(err);
}

/* Signing bytes in memory: the gallery's index and entries are read once, verified and parsed
 * from the same buffer. The signature is an ordinary .minisig. */
static void signed_data(const char *key, const char *pub, const char *pub2)
{
    struct ms_seckey *k = NULL;
    char *err = NULL, *sig = NULL, *tc = NULL, id[17] = "", kid[17];
    const char *mine[] = {pub2, pub}, *other[] = {pub2};
    const char data[] = "{\"serial\": 1}\n";
    ok(ms_seckey_load(key, NULL, &k, &err) == 0, "load the secret key once");
    ms_seckey_id(k, kid);
    ok(ms_key_id(pub, id, &err) == 0 && streq(id, kid), "its id is the public key's: %s", kid);
    ok(ms_sign_data(k, data, strlen(data), NULL, &sig, &err) < 0 && strstr(err, "needs a trusted comment"),
       "bytes in memory need a trusted comment: %s", err ? err : "");
    free(err), err = NULL;
    ok(ms_sign_data(k, data, strlen(data), "kiln gallery index serial 1", &sig, &err) == 0, "sign bytes");
    ok(ms_verify_data_trusted(mine, 2, data, strlen(data), "index.json", sig, "index.json.minisig", &tc, id, &err) == 0 &&
           streq(id, kid),
       "verify them with the trusted set");
    is_str(tc, "kiln gallery index serial 1", "the trusted comment comes back");
    free(tc);
    /* the same signature over the same bytes in files: what stock minisign -V checks */
    put("index.json", data);
    put("index.json.minisig", sig);
    _cleanup_free_ char *f = path_join(dir, "index.json");
    ok(ms_verify(pub, f, NULL, NULL, &err) == 0, "it verifies as a file with its .minisig");
    char changed[sizeof data];
    memcpy(changed, data, sizeof data);
    changed[11] = '2';
    ok(ms_verify_data_trusted(mine, 2, changed, strlen(changed), "index.json", sig, "index.json.minisig", NULL, NULL, &err) < 0 &&
           strstr(err, "index.json does not match its signature index.json.minisig"),
       "one byte changed: %s", err ? err : "");
    free(err), err = NULL;
    ok(ms_verify_data_trusted(other, 1, data, strlen(data), "index.json", sig, "index.json.minisig", NULL, NULL, &err) < 0 &&
           strstr(err, "which is not a trusted key"),
       "signer not trusted: %s", err ? err : "");
    free(err), err = NULL;
    ok(ms_verify_data_trusted(mine, 2, data, strlen(data), "index.json", "untrusted comment: x\nRUQ=\n", "index.json.minisig",
                              NULL, NULL, &err) < 0 &&
           strstr(err, "index.json.minisig is not a valid minisign signature"),
       "damaged signature: %s", err ? err : "");
    free(err);
    free(sig);
    ms_seckey_free(k);
}

#define INDEX_OK \
    "{\"schema\": \"kiln.gallery.index/v1\", \"gallery\": \"0123456789abcdef0123456789abcdef\", \"serial\": 2," \
    " \"previous_sha256\": \"%s\", \"updated\": \"2027-01-31T00:00:00Z\", \"images\": [" \
    "{\"name\": \"os\", \"version\": \"1.0\", \"channels\": [\"stable\"], \"entry_sha256\": \"%s\"}%s]}"
#define SHA "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

/* *err is freed first: a refusal leaves only its own message */
static int parse_text(bool index, const char *text, char **err)
{
    json_t *j = NULL;
    free(*err);
    *err = NULL;
    int r = index ? catalog_parse_index(text, strlen(text), &j, err) : catalog_parse_entry(text, strlen(text), &j, err);
    json_decref(j);
    return r;
}

/* one index item appended to INDEX_OK's single image */
static int parse_index(const char *prev, const char *extra, char **err)
{
    _cleanup_free_ char *text = xasprintf(INDEX_OK, prev, SHA, extra);
    return parse_text(true, text, err);
}

/* replaces the first a by b in text (a must occur) */
static char *swap(const char *text, const char *a, const char *b)
{
    const char *at = strstr(text, a);
    if (!at) return xstrdup("");
    return xasprintf("%.*s%s%s", (int)(at - text), text, b, at + strlen(a));
}

static void catalogs(void)
{
    char *err = NULL;
    int r;
    r = parse_index(SHA, "", &err);
    ok(r == 0, "a well-formed index parses");
    static const struct {
        const char *a, *b, *why;
    } bad_index[] = {
        {"\"serial\": 2", "\"serial\": 2, \"serial\": 9", "duplicate object key"},
        {"\"serial\": 2", "\"serial\": \"2\"", "\"serial\" is not an integer"},
        {"\"serial\": 2", "\"serial\": -1", "\"serial\" is not an integer"},
        {"\"serial\": 2", "\"serial\": 9007199254740993", "\"serial\" is not an integer"},
        {"\"serial\": 2", "\"serial\": 0", "serial 0 has a previous_sha256"},
        {"\"previous_sha256\": \"" SHA "\"", "\"previous_sha256\": null", "\"previous_sha256\" is not a sha256"},
        {"\"gallery\": \"0123456789abcdef0123456789abcdef\"", "\"gallery\": \"x\"", "\"gallery\" is not 32 hex digits"},
        {"\"schema\": \"kiln.gallery.index/v1\"", "\"schema\": \"kiln.gallery/v1\"", "schema is not"},
        {"\"updated\": \"2027-01-31T00:00:00Z\"", "\"updated\": \"yesterday\"", "\"updated\" is not a UTC time"},
        {"\"updated\"", "\"extra\": 1, \"updated\"", "unknown key \"extra\""},
        {"\"name\": \"os\"", "\"name\": \"../os\"", "images[0]: name and version must use"},
        {"\"version\": \"1.0\"", "\"version\": \".hidden\"", "images[0]: name and version must use"},
        {"[\"stable\"]", "[]", "images[0] (os 1.0): no channels"},
        {"[\"stable\"]", "[\"stable\", \"stable\"]", "channel stable is listed twice"},
        {"\"entry_sha256\": \"" SHA "\"", "\"entry_sha256\": \"" SHA "0\"", "entry_sha256 is not a sha256"},
        {"\"channels\"", "\"entry\": {}, \"channels\"", "images[0] has an unknown key \"entry\""},
        {"\"images\": [", "\"images\": {\"x\": [", "is not valid JSON"},
    };
    _cleanup_free_ char *good = xasprintf(INDEX_OK, SHA, SHA, "");
    for (size_t i = 0; i < ARRAY_SIZE(bad_index); i++) {
        _cleanup_free_ char *t = swap(good, bad_index[i].a, bad_index[i].b);
        r = parse_text(true, t, &err);
        ok(r < 0 && err && strstr(err, bad_index[i].why), "index refused (%s): %s", bad_index[i].why,
           err ? err : "(accepted)");
    }
    /* arch: optional (an index kiln signed before it recorded arch), a name when there */
    _cleanup_free_ char *with_arch = swap(good, "\"channels\"", "\"arch\": \"aarch64\", \"channels\"");
    r = parse_text(true, with_arch, &err);
    ok(r == 0, "an index item with its arch parses: %s", err ? err : "");
    _cleanup_free_ char *bad_arch = swap(good, "\"channels\"", "\"arch\": 64, \"channels\"");
    r = parse_text(true, bad_arch, &err);
    ok(r < 0 && strstr(err, "images[0]: \"arch\" is not an architecture's name"), "an arch that is no name: %s",
       err ? err : "(accepted)");
    _cleanup_free_ char *top_arch = swap(good, "\"updated\"", "\"arch\": \"x86_64\", \"updated\"");
    r = parse_text(true, top_arch, &err);
    ok(r < 0 && strstr(err, "unknown key \"arch\""), "arch only in the items, not the index itself: %s", err ? err : "(accepted)");
    _cleanup_free_ char *dup = xasprintf(", {\"name\": \"os\", \"version\": \"1.0\", \"channels\": [\"beta\"], \"entry_sha256\": \"%s\"}", SHA);
    r = parse_index(SHA, dup, &err);
    ok(r < 0 && strstr(err, "images[1]: os 1.0 is listed twice"), "a version listed twice: %s",err ? err : "(accepted)");
    r = parse_text(true, "", &err);
    ok(r < 0 && strstr(err, "not valid JSON"), "empty index: %s",err ? err : "(accepted)");
    r = parse_text(true, "[]", &err);
    ok(r < 0 && strstr(err, "the index is not an object"), "a list: %s",err ? err : "(accepted)");
    r = parse_text(true, "{\"a\": \"\\u0000\"}", &err);
    ok(r < 0, "a NUL inside a string refused");
    char *huge = xmalloc(CATALOG_INDEX_MAX + 2);
    memset(huge, ' ', CATALOG_INDEX_MAX + 1);
    huge[CATALOG_INDEX_MAX + 1] = 0;
    r = parse_text(true, huge, &err);
    ok(r < 0 && strstr(err, "more than the"), "over the size bound: %s",err ? err : "(accepted)");
    free(huge);

    const char *entry = "{\"schema\": \"kiln.gallery.entry/v1\", \"name\": \"os\", \"version\": \"1.1\", \"channel\": \"stable\","
                        " \"published\": \"2027-01-31T00:00:00Z\", \"support_end\": \"2028-01-31T00:00:00Z\", \"supersedes\": \"1.0\","
                        " \"manifest_sha256\": \"" SHA "\", \"run\": null,"
                        " \"files\": [{\"file\": \"os-1.1.raw\", \"sha256\": \"" SHA "\", \"signed_by\": \"E5FC6A2E9EAD8FE3\"}]}";
    r = parse_text(false, entry, &err);
    ok(r == 0, "a well-formed entry parses");
    _cleanup_free_ char *entry_arch = swap(entry, "\"channel\"", "\"arch\": \"x86_64\", \"channel\"");
    r = parse_text(false, entry_arch, &err);
    ok(r == 0, "an entry with its arch parses: %s", err ? err : "");
    _cleanup_free_ char *entry_bad_arch = swap(entry, "\"channel\"", "\"arch\": \"../x\", \"channel\"");
    r = parse_text(false, entry_bad_arch, &err);
    ok(r < 0 && strstr(err, "the entry: \"arch\" is not an architecture's name"), "an entry's arch that is no name: %s",
       err ? err : "(accepted)");
    static const struct {
        const char *a, *b, *why;
    } bad_entry[] = {
        {"\"support_end\": \"2028-01-31T00:00:00Z\"", "\"support_end\": 2038", "must be UTC times"},
        {"\"supersedes\": \"1.0\"", "\"supersedes\": \"../1.0\"", "\"supersedes\" is neither"},
        {"\"run\": null", "\"run\": []", "\"run\" is neither null nor a run with its results_sha256"},
        {"\"run\": null", "\"run\": {\"id\": \"r\"}", "\"run\" is neither null nor a run with its results_sha256"},
        {"\"run\": null, ", "", "has no \"run\""},
        {"E5FC6A2E9EAD8FE3", "e5fc6a2e9ead8fe3", "a 16-digit key id"},
        {"\"os-1.1.raw\"", "\"../os-1.1.raw\"", "files[0] needs a plain file name"},
        {"[{\"file\"", "[], \"x\": [{\"file\"", "unknown key \"x\""},
        {"\"name\": \"os\"", "\"name\": \"os\", \"name\": \"evil\"", "duplicate"},
        {"\"channel\": \"stable\"", "\"channel\": \"a/b\"", "name, version and channel must use"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad_entry); i++) {
        _cleanup_free_ char *t = swap(entry, bad_entry[i].a, bad_entry[i].b);
        r = parse_text(false, t, &err);
        ok(r < 0 && err && strstr(err, bad_entry[i].why), "entry refused (%s): %s", bad_entry[i].why,
           err ? err : "(accepted)");
    }
    _cleanup_free_ char *nofiles = swap(entry, "[{\"file\": \"os-1.1.raw\", \"sha256\": \"" SHA "\", \"signed_by\": \"E5FC6A2E9EAD8FE3\"}]", "[]");
    r = parse_text(false, nofiles, &err);
    ok(r < 0 && strstr(err, "lists no files"), "an entry without files: %s",err ? err : "(accepted)");
    free(err);

    /* what a name, version or channel may be wherever it comes in (publish, kiln rollout) */
    ok(catalog_safe_name("1.0.1+b~rc1") && catalog_safe_name("debian-server"), "versions and names as kiln builds them");
    ok(!catalog_safe_name("..") && !catalog_safe_name(".") && !catalog_safe_name("../x") && !catalog_safe_name("a/b") &&
           !catalog_safe_name("1..2") && !catalog_safe_name(".hidden") && !catalog_safe_name("-rf") && !catalog_safe_name(""),
       "never a path: '/', \"..\" anywhere, a leading '.' or '-'");

    uint64_t s = 0;
    _cleanup_free_ char *n7 = catalog_index_name(7);
    is_str(n7, "0000000007.json", "index file names: ten digits");
    ok(catalog_index_serial("0000000007.json", &s) && s == 7, "0000000007.json is serial 7");
    _cleanup_free_ char *big = catalog_index_name(12345678901ull);
    ok(catalog_index_serial(big, &s) && s == 12345678901ull, "%s: more digits past ten", big);
    ok(!catalog_index_serial("7.json", &s) && !catalog_index_serial("00000000007.json", &s) &&
           !catalog_index_serial("0000000007.json.minisig", &s) && !catalog_index_serial("000000000x.json", &s) &&
           !catalog_index_serial("99999999999999999999999.json", &s) && !catalog_index_serial(".json", &s),
       "only the names kiln writes count as index files");
}

static bool holds(const char *name, const char *text)
{
    _cleanup_free_ char *t = get(name);
    return t && streq(t, text);
}

/* Pulling moves every file or none, and replaces a file only when asked. */
static void moves(void)
{
    _cleanup_free_ char *stage = path_join(dir, "stage"), *out = path_join(dir, "out");
    mkdir_p(stage, 0755);
    mkdir_p(out, 0755);
    put("stage/a", "new a");
    put("stage/b", "new b");
    put("stage/c", "new c");
    put("out/b", "old b");
    const char *abc[] = {"a", "b", "c"}, *broken[] = {"a", "b", "missing", "c"};
    char *err = NULL;
    bool wrote = true;
    int r = gallery_move_all(stage, out, abc, 3, false, &wrote, &err);
    ok(r == -EEXIST && !wrote && strstr(err, "already holds b") &&
           holds("out/b", "old b") && holds("stage/a", "new a"),
       "an existing file refused without force, nothing moved: %s", err);
    _cleanup_free_ char *oa = path_join(out, "a");
    ok(!file_exists(oa), "a was not moved either");
    /* a failure half way (a file missing from the stage): the moves before it undone, the
     * replaced file back */
    r = gallery_move_all(stage, out, broken, 4, true, &wrote, &err);
    ok(r < 0 && !wrote && strstr(err, "stage/missing") &&
           strstr(err, "the 2 files moved before it were moved back"),
       "a move failed half way: %s", err);
    ok(!file_exists(oa) && holds("out/b", "old b") && holds("stage/a", "new a"), "after the undo: out as it was");
    put("stage/b", "new b"); /* restoring the old b put the new one aside: the stage is dropped anyway */
    _cleanup_free_ char *cdir = path_join(out, "c");
    mkdir(cdir, 0755);
    r = gallery_move_all(stage, out, abc, 3, true, &wrote, &err);
    ok(r == -EISDIR && !wrote && strstr(err, "is a directory") &&
           holds("out/b", "old b"),
       "a directory in the way, even with force: %s", err);
    rmdir(cdir);
    r = gallery_move_all(stage, out, abc, 3, true, &wrote, &err);
    ok(r == 0 && wrote && holds("out/a", "new a") &&
           holds("out/b", "new b") && holds("out/c", "new c"),
       "with force: every file moved, b replaced");
    free(err);
}

/* A .tar.zst with the given members (name, content) in this order, as a crafted archive would have. */
static char *crafted_archive(const char *name, const char *const (*m)[2], size_t n)
{
    char *out = path_join(dir, name);
    struct archive *a = archive_write_new();
    archive_write_add_filter_zstd(a);
    archive_write_set_format_pax_restricted(a);
    archive_write_open_filename(a, out);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m[i][0]);
        archive_entry_set_size(e, (la_int64_t)strlen(m[i][1]));
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        if (!strcmp(m[i][1], "(hardlink)")) archive_entry_set_hardlink(e, "/etc/passwd"), archive_entry_set_size(e, 0);
        archive_write_header(a, e);
        archive_write_data(a, m[i][1], strlen(m[i][1]));
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return out;
}

/* archive_verify on a crafted archive: it verifies with one member read (want NULL), or is
 * refused with exactly "PATH: want"; with read, after that many members. */
static void verify_crafted(const char *name, const char *const (*m)[2], size_t nm, const char *want, const unsigned *read)
{
    _cleanup_free_ char *file = xasprintf("%s.tar.zst", name);
    _cleanup_free_ char *p = crafted_archive(file, m, nm);
    unsigned n = 99;
    char *err = NULL;
    int r = archive_verify(p, &n, &err);
    if (!want) ok(r == 0 && n == 1, "a well-formed crafted archive verifies (%s)", err ? err : "1 member");
    else {
        _cleanup_free_ char *w = xasprintf("%s: %s", p, want);
        ok(r < 0 && err && !strcmp(err, w), "%s refused: %s", name, err ? err : "accepted");
    }
    if (read) is_int(n, *read, "members read before the refusal");
    free(err);
}

/* Archives whose names would land outside the run directory when unpacked: refused. */
static void hostile_archives(void)
{
    /* sha256("hello\n") */
    const char *h = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
    _cleanup_free_ char *man = xasprintf("%s  x\n", h);
    _cleanup_free_ char *man_up = xasprintf("%s  ../x\n", h);
    _cleanup_free_ char *man_dot = xasprintf("%s  ./x\n", h);
    static const char *const names[] = {"good", "abs", "up", "dot", "listed", "dotted", "empty", "member-abs", "hardlink"};
    const char *const cases[][2][2] = {
        {{"run/MANIFEST.sha256", man}, {"run/x", "hello\n"}},
        {{"/MANIFEST.sha256", man}, {"/x", "hello\n"}},
        {{"../MANIFEST.sha256", man}, {"../x", "hello\n"}},
        {{"./MANIFEST.sha256", man}, {"./x", "hello\n"}},
        {{"run/MANIFEST.sha256", man_up}, {"run/../x", "hello\n"}},
        {{"run/MANIFEST.sha256", man_dot}, {"run/./x", "hello\n"}},
        {{"run/MANIFEST.sha256", man}, {"run//x", "hello\n"}},
        {{"run/MANIFEST.sha256", man}, {"/run/x", "hello\n"}},
        {{"run/MANIFEST.sha256", man}, {"run/x", "(hardlink)"}},
    };
    const char *want[] = {
        NULL,
        "the first member is /MANIFEST.sha256, not <run>/MANIFEST.sha256: not a kiln run archive",
        "the first member is ../MANIFEST.sha256, not <run>/MANIFEST.sha256: not a kiln run archive",
        "the first member is ./MANIFEST.sha256, not <run>/MANIFEST.sha256: not a kiln run archive",
        "MANIFEST.sha256 line 1 names ../x, which leaves the run directory",
        "MANIFEST.sha256 line 1 names ./x, which leaves the run directory",
        "member run//x lies outside run/",
        "member /run/x lies outside run/",
        "member run/x is not a regular file",
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) verify_crafted(names[i], cases[i], 2, want[i], NULL);
}

/* Members that do not match the manifest: each refusal names the member, and the count says
 * how many members after the manifest were read. */
static void mismatched_archives(void)
{
    const char *h = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"; /* "hello\n" */
    _cleanup_free_ char *man = xasprintf("%s  x\n", h);
    _cleanup_free_ char *man2 = xasprintf("%s  x\n%s  y\n", h, h);
    static const char *const names[] = {"unlisted", "mismatch", "missing", "twice", "manifest-only"};
    const char *const cases[][3][2] = {
        {{"run/MANIFEST.sha256", man}, {"run/y", "hello\n"}},
        {{"run/MANIFEST.sha256", man}, {"run/x", "bye\n"}},
        {{"run/MANIFEST.sha256", man2}, {"run/x", "hello\n"}},
        {{"run/MANIFEST.sha256", man}, {"run/x", "hello\n"}, {"run/x", "hello\n"}},
        {{"run/MANIFEST.sha256", man}},
    };
    const size_t members[] = {2, 2, 2, 3, 1};
    const unsigned read[] = {0, 1, 1, 1, 0};
    const char *want[] = {
        "run/y is not listed in the manifest",
        "run/x does not match the manifest (sha256 abc6fd595fc079d3114d4b71a4d84b1d1d0f79df1e70f8813212f2a65d8916df, "
        "manifest says 5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03)",
        "run/y is in the manifest but not in the archive",
        "run/x appears twice",
        "run/x is in the manifest but not in the archive",
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) verify_crafted(names[i], cases[i], members[i], want[i], &read[i]);
}

/* The query output the package tools print is parsed as bytes from the image: short lines,
 * non-installed entries and bytes that are not UTF-8 give entries or nothing, never a crash. */
static void pkgdb_lines(void)
{
    char text[] = "ii \tzed\t1.0\tall\t\t\tT\t\t\n"
                  "ii \tb\xff\xfe" "ad\t2\xc3\tamd64\t\t\tJos\xc3\xa9 M\xe9nez\n"
                  "ii \tshort\t1\n"
                  "rc \tremoved\t1\tamd64\t\n"
                  "\n\t\t\t\t\t\t\t\t\t\t\t\n"
                  "ii \tgpg-pubkey\t1\tnoarch\n";
    json_t *a = pkgdb_parse("deb", text);
    is_int(json_array_size(a), 2, "two installed packages of six lines");
    is_str(json_string_value(json_object_get(json_array_get(a, 0), "name")), "b\xEF\xBF\xBD\xEF\xBF\xBD" "ad",
           "bytes that are not UTF-8 become U+FFFD, the rest of the name kept");
    is_str(json_string_value(json_object_get(json_array_get(a, 0), "version")), "2\xEF\xBF\xBD", "... in every field");
    is_str(json_string_value(json_object_get(json_array_get(a, 0), "supplier")), "Jos\xc3\xa9 M\xEF\xBF\xBDnez",
           "well-formed UTF-8 beside a Latin-1 byte is kept");
    is_str(json_string_value(json_object_get(json_array_get(a, 1), "name")), "zed", "sorted by name");
    json_decref(a);
}

/* A dpkg database from an image listing more than kiln reads is refused, not read in part: the
 * query's output was cut at 16 MiB with stderr's warnings mixed in, and an SBOM of 80,000
 * packages listed 70,857 and said it was complete (hostile finding). */
static void pkgdb_bounded(void)
{
    _cleanup_free_ char *admin = path_join(dir, "dpkg");
    ok(mkdir(admin, 0755) == 0, "a dpkg admin directory");
    /* each package prints about 28 bytes; 200,000 of them are more than 4 MiB. No Maintainer
     * field: dpkg-query warns about each on stderr, which is not the list. */
    struct sbuf b = {0};
    for (int i = 0; i < 200000; i++)
        sbuf_printf(&b, "Package: p%d\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n"
                        "Description: x\n\n", i);
    _cleanup_free_ char *status = path_join(admin, "status");
    ok(write_file_atomic(status, b.s, b.len, 0644) == 0, "a status file of 200,000 packages");
    json_t *pkgs = NULL;
    char *err = NULL;
    int r = pkgdb_list("deb", admin, &pkgs, &err);
    ok(r == -E2BIG && !pkgs && err && strstr(err, "lists more than kiln reads (4 MiB of dpkg-query output)"),
       "more than the bound is refused: %d %s", r, err ? err : "");
    free(err), err = NULL;
    json_decref(pkgs), pkgs = NULL;
    /* 2,000 packages, each with a warning on stderr: all listed */
    b.len = 0;
    for (int i = 0; i < 2000; i++)
        sbuf_printf(&b, "Package: p%04d\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n"
                        "Description: x\n\n", i);
    ok(write_file_atomic(status, b.s, b.len, 0644) == 0, "a status file of 2,000 packages");
    r = pkgdb_list("deb", admin, &pkgs, &err);
    ok(r == 0 && json_array_size(pkgs) == 2000, "every package is listed, warnings aside (%d, %zu)", r,
       json_array_size(pkgs));
    is_str(json_string_value(json_object_get(json_array_get(pkgs, 1999), "name")), "p1999", "the last one too");
    json_decref(pkgs);
    free(err), err = NULL;
    sbuf_free(&b);

    /* from an image: the message names the image and the path in it, not the temporary copy
     * that is gone when it is read (hostile finding: /var/tmp/kiln-pkgdb-XXXXXX/var/lib/dpkg) */
    _cleanup_free_ char *img = path_join(dir, "bad-status.tar");
    struct archive *a = archive_write_new();
    archive_write_set_format_pax(a);
    archive_write_open_filename(a, img);
    static const char bad[] = "\xff garbage: \n\n Package\n";
    struct archive_entry *e = archive_entry_new();
    archive_entry_copy_pathname(e, "var/lib/dpkg/status");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, sizeof bad - 1);
    archive_write_header(a, e);
    archive_write_data(a, bad, sizeof bad - 1);
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    json_t *osr = NULL;
    const char *family = NULL;
    r = pkgdb_from_image(img, &pkgs, &osr, &family, NULL, &err);
    _cleanup_free_ char *want = xasprintf("cannot read the dpkg database in %s's /var/lib/dpkg (dpkg-query exited 2)", img);
    ok(r < 0, "a damaged status is refused (%d)", r);
    is_str(err, want, "naming the image and the path in it");
    free(err);
}

/* gallery.yml through its table: defaults, the values given, and each kind of mistake named at
 * file:line:col (a channel's settings were not checked at all before). */
static void gallery_config(void)
{
    _cleanup_free_ char *g = path_join(dir, "gal");
    _cleanup_free_ char *keys = path_join(g, "keys");
    ok(mkdir(g, 0755) == 0 && mkdir(keys, 0755) == 0, "a gallery directory");
    put("gal/keys/k.pub", "untrusted comment: k\nRWQ\n");
    const struct { const char *yaml, *diag; } cases[] = {
        {"channels: { stable: {} }\npolicy: { max_priority: 7 }\n", "2:25 policy.max_priority: 7 is out of range (-1 to 5)"},
        {"channels: { stable: { support_day: 9 } }\n", "1:23 channels.stable.support_day: unknown key \"support_day\"; did you mean \"support_days\"?"},
        {"channels: { stable: 90 }\n", "1:21 channels.stable: expected a mapping, got a scalar"},
        /* one error, not a second "defines no channel" (hostile finding) */
        {"channels: [stable]\n", "1:11 channels: expected a mapping, got a list"},
        {"channels: { stable: {} }\npolicy: { cases: [no_such_case] }\n", "2:18 policy.cases: no built-in case is named no_such_case"},
        {"chanels: { stable: {} }\n", "1:1 chanels: unknown key \"chanels\"; did you mean \"channels\"?"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        put("gal/gallery.yml", cases[i].yaml);
        struct diags d = {0};
        struct gallery *gy = NULL;
        char *err = NULL;
        ok(gallery_open(g, &gy, &d, &err) < 0 && gy == NULL, "a gallery.yml with a mistake is refused");
        _cleanup_free_ char *m = d.n ? xasprintf("%d:%d %s: %s", d.v[0].line, d.v[0].col, d.v[0].path, d.v[0].msg) : NULL;
        is_str(m, cases[i].diag, "the mistake at file:line:col");
        is_int(d.n, 1, "one diagnostic for one mistake");
        diags_free(&d);
        free(err);
    }
    put("gal/gallery.yml", "policy: { max_failures: 2, areas: [boot] }\nchannels:\n  stable: { support_days: 30 }\n  dev:\n");
    struct diags d = {0};
    struct gallery *gy = NULL;
    char *err = NULL;
    ok(gallery_open(g, &gy, &d, &err) == 0 && gy, "a valid gallery.yml opens");
    if (gy) {
        ok(gy->require_run && gy->allow_skipped && gy->max_priority == 1, "defaults where nothing is given");
        ok(gy->max_failures == 2 && gy->nareas == 1 && streq(gy->areas[0], "boot"), "the policy's values");
        ok(gy->nchannels == 2 && gy->channels[0].support_days == 30 && gy->channels[1].support_days == 365,
           "channels: given days, and the default for one with nothing under it");
    }
    gallery_free(gy);
    diags_free(&d);
    free(err);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    _cleanup_free_ char *base = path_join(dir, "k");
    _cleanup_free_ char *base2 = path_join(dir, "other");
    _cleanup_free_ char *file = path_join(dir, "image.raw");
    _cleanup_free_ char *pub = path_join(dir, "k.pub");
    _cleanup_free_ char *key = path_join(dir, "k.key");
    _cleanup_free_ char *pub2 = path_join(dir, "other.pub");
    char *err = NULL, *tc = NULL;
    ok(ms_keygen(base, NULL, &err) == 0 && ms_keygen(base2, NULL, &err) == 0, "two unencrypted key pairs");
    ok(!ms_key_encrypted(key), "the key is unencrypted");
    put("image.raw", "disk image bytes\n");
    ok(ms_sign(key, NULL, file, "name:test\tversion:1.0", &err) == 0, "sign");
    ok(ms_verify(pub, file, NULL, &tc, &err) == 0, "verify");
    is_str(tc, "name:test\tversion:1.0", "trusted comment comes back");
    free(tc), tc = NULL;

    put("image.raw", "disk image bytez\n");
    ok(ms_verify(pub, file, NULL, NULL, &err) < 0 && strstr(err, "image.raw does not match"), "flipped byte in the file: %s", err);
    free(err), err = NULL;
    put("image.raw", "disk image bytes\n");

    ok(ms_verify(pub2, file, NULL, NULL, &err) < 0 && strstr(err, "was made with key"), "another key: %s", err);
    free(err), err = NULL;

    char *sig = get("image.raw.minisig");
    edit("image.raw.minisig", "version:1.0", "version:9.9");
    ok(ms_verify(pub, file, NULL, NULL, &err) < 0 && strstr(err, "trusted comment"), "edited trusted comment: %s", err);
    free(err), err = NULL;
    put("image.raw.minisig", sig);
    /* flip one character of the signature line (line 2) */
    char *nl = strchr(sig, '\n');
    char *flipped = xstrdup(sig);
    size_t pos = (size_t)(nl - sig) + 20;
    flipped[pos] = flipped[pos] == 'A' ? 'B' : 'A';
    put("image.raw.minisig", flipped);
    ok(ms_verify(pub, file, NULL, NULL, &err) < 0, "flipped signature byte refused: %s", err ? err : "");
    free(err), err = NULL;
    free(flipped);
    /* truncated and garbage signatures */
    put("image.raw.minisig", "untrusted comment: x\nRUQ=\n");
    ok(ms_verify(pub, file, NULL, NULL, &err) < 0 && strstr(err, "not a valid minisign signature"), "truncated: %s", err);
    free(err), err = NULL;
    put("image.raw.minisig", "\x01\x02garbage");
    ok(ms_verify(pub, file, NULL, NULL, &err) < 0, "garbage signature refused");
    free(err), err = NULL;
    put("image.raw.minisig", sig);
    ok(ms_verify(pub, file, NULL, NULL, &err) == 0, "restored signature verifies again");
    free(sig);
    /* damaged keys */
    put("bad.pub", "untrusted comment: x\nRWQAAAA=\n");
    _cleanup_free_ char *badpub = path_join(dir, "bad.pub");
    ok(ms_verify(badpub, file, NULL, NULL, &err) < 0 && strstr(err, "truncated or damaged key"), "short public key: %s", err);
    free(err), err = NULL;
    char *k = get("k.key");
    char *kline = strchr(k, '\n') + 1;
    kline[120] = kline[120] == 'A' ? 'B' : 'A';
    put("k2.key", k);
    free(k);
    _cleanup_free_ char *k2 = path_join(dir, "k2.key");
    ok(ms_sign(k2, NULL, file, NULL, &err) < 0 && strstr(err, "damaged"), "damaged secret key refused: %s", err ? err : "");
    free(err), err = NULL;
    trusted_keys(file, pub, pub2);
    signed_data(key, pub, pub2);
    catalogs();
    moves();
    purls_and_sboms();
    dsse(key, pub, pub2);
    dep5();
    archives();
    hostile_archives();
    mismatched_archives();
    pkgdb_lines();
    pkgdb_bounded();
    gallery_config();
    rm_rf(dir);
    return tap_done();
}
