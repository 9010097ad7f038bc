/* kiln sbom IMAGE: an SPDX or CycloneDX document of the packages the image's own database lists. */
#include <errno.h>

#include "cmd/common.h"
#include "model/arch.h"
#include "trust/pkgdb.h"
#include "trust/sbom.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/proc.h"
#include "util/util.h"

/* out/NAME-VERSION.qcow2 → out/NAME-VERSION (the stem kiln build's outputs share). */
static char *image_stem(const char *image)
{
    static const char *const suffixes[] = {"-dynamic.vhd", ".vhd", ".qcow2", ".raw", ".img", ".tar.zst", ".tar"};
    for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++)
        if (endswith(image, suffixes[i])) return xstrndup(image, strlen(image) - strlen(suffixes[i]));
    return xstrdup(image);
}

static int sbom_image(const char *image, unsigned fmts, const char *out);

static bool take_formats(const char *verb, const char *opt, const char *val, void *to)
{
    if (sbom_formats_parse(val, to)) return true;
    fprintf(stderr, "kiln %s: %s %s: unknown format; use spdx, cyclonedx or spdx,cyclonedx\n", verb, opt, val);
    return false;
}

int cmd_sbom(int argc, char **argv)
{
    const char *out = NULL;
    unsigned fmts = 0; /* default: both to their names beside the image, SPDX to -o */
    const struct cmd_opt opts[] = {
        {'f', "format", "spdx|cyclonedx|spdx,cyclonedx", CMD_FN, &fmts, .fn = take_formats,
         .help = "SPDX 2.3, CycloneDX 1.5 or both (default: both; SPDX with -o)"},
        {'o', "out", "FILE|-", CMD_STR, &out,
         .help = "one format to FILE; - is stdout (default: the image's name with\n.spdx.json and .cdx.json, never replaced: "
                 "kiln build wrote and kiln sign\nsigned the files of those names)"},
        {0},
    };
    const struct cmd_verb v = {
        "sbom", "IMAGE [--format spdx|cyclonedx|spdx,cyclonedx] [-o FILE|-]",
        "Writes SBOMs of the packages IMAGE's own dpkg or rpm database lists, both formats from one\n"
        "read of the image. IMAGE is a disk image (raw, qcow2, VHD) or a root filesystem archive\n"
        "(.tar.zst, .tar).",
        opts, 1, 1, "IMAGE",
        .exits = "0 written, 1 IMAGE has no package database kiln can read (or is not an image), or a\n"
                 "default output exists, or an SBOM could not be written, 2 usage or IMAGE missing or\n"
                 "not a regular file, 130 interrupted",
    };
    int n, rc = cmd_parse(&v, argc, argv, &n);
    if (rc != CMD_GO) return rc;
    if ((rc = cmd_input("sbom", argv[1], "pass the disk image file itself (raw, qcow2 or VHD)"))) return rc;
    if (!fmts) fmts = out ? 1u << SBOM_SPDX : 1u << SBOM_SPDX | 1u << SBOM_CYCLONEDX;
    if (out && (fmts & (fmts - 1)))
        return cmd_usage_error("sbom", "-o names one file: pick one format with --format spdx or --format cyclonedx");
    return sbom_image(argv[1], fmts, out);
}

/* One document to stdout, FILE, or the default name beside the image (which the caller made
 * sure is free: kiln build gives the SBOMs it lists and kiln sign signs that name, and
 * replacing them unasked would break their signatures). */
static int write_one(json_t *doc, enum sbom_format fmt, const char *stem, const char *out, size_t npkgs, const char *family)
{
    if (out && streq(out, "-")) {
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        putchar('\n');
        return EXIT_OK;
    }
    _cleanup_free_ char *def = xasprintf("%s%s", stem, sbom_suffix(fmt));
    const char *path = out ? out : def;
    if (json_write_file(path, doc) < 0) {
        fprintf(stderr, "kiln sbom: cannot write %s: %s\n", path, strerror(errno));
        return EXIT_FAIL;
    }
    fprintf(stderr, "kiln sbom: %s (%s, %zu packages from the image's %s database)\n", path,
            fmt == SBOM_SPDX ? "SPDX 2.3" : "CycloneDX 1.5", npkgs, streq(family, "deb") ? "dpkg" : "rpm");
    return EXIT_OK;
}

/* All or nothing, and before the image is read (seconds for a large one): no default name in
 * the way of any format asked for. */
static bool defaults_free(const char *image, unsigned fmts)
{
    _cleanup_free_ char *stem = image_stem(image);
    bool free_ = true;
    for (enum sbom_format f = SBOM_SPDX; f <= SBOM_CYCLONEDX; f++) {
        _cleanup_free_ char *def = xasprintf("%s%s", stem, sbom_suffix(f));
        if ((fmts & 1u << f) && access(def, F_OK) == 0) {
            fprintf(stderr, "kiln sbom: %s exists (kiln build writes it beside the image, and kiln sign signs it); "
                            "not replaced: name another file with -o FILE, or -o - for stdout\n", def);
            free_ = false;
        }
    }
    return free_;
}

static int sbom_image(const char *image, unsigned fmts, const char *out)
{
    if (!out && !defaults_free(image, fmts)) return EXIT_FAIL;
    json_t *pkgs = NULL, *osr = NULL;
    const char *family = NULL;
    char *err = NULL;
    /* a SIGINT stops the files being copied out of the image into TMPDIR, which are then removed */
    proc_install_signal_handlers();
    json_t *licenses = NULL;
    int r = pkgdb_from_image(image, &pkgs, &osr, &family, &licenses, &err);
    if (r < 0) {
        fprintf(stderr, "kiln sbom: %s\n", err);
        free(err);
        return r == -EINTR ? EXIT_INTERRUPTED : EXIT_FAIL;
    }
    char hex[65];
    int rr = sha256_file_hex(image, hex, NULL);
    if (rr < 0) {
        _cleanup_free_ char *why = fs_open_error(image, rr, "pass the disk image file itself");
        fprintf(stderr, "kiln sbom: %s\n", why);
        json_decref(pkgs);
        json_decref(osr);
        json_decref(licenses);
        return EXIT_FAIL;
    }
    /* name and version: the build manifest next to the image, else the image's os-release */
    _cleanup_free_ char *stem = image_stem(image);
    _cleanup_free_ char *mpath = xasprintf("%s.manifest.json", stem);
    json_t *manifest = file_exists(mpath) ? json_load_file(mpath, 0, NULL) : NULL;
    const char *name = json_string_value(json_object_get(manifest, "name"));
    const char *version = json_string_value(json_object_get(manifest, "version"));
    if (!name) name = json_string_value(json_object_get(osr, "ID"));
    if (!version) version = json_string_value(json_object_get(osr, "VERSION_ID"));
    _cleanup_free_ char *base = xstrdup(strrchr(image, '/') ? strrchr(image, '/') + 1 : image);
    long epoch = 0;
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    if (!(sde && parse_long(sde, &epoch))) {
        json_t *e = json_object_get(manifest, "source_date_epoch");
        epoch = json_is_integer(e) ? (long)json_integer_value(e) : (long)time(NULL);
    }
    /* the architecture only from a build manifest, and only one kiln knows: a stock image's is not claimed */
    const struct kiln_arch *arch = kiln_arch_find(json_string_value(json_object_get(manifest, "arch")));
    struct sbom_subject sub = {.name = name ? name : base, .version = version ? version : "unknown", .family = family,
                               .arch = arch ? arch->name : NULL, .os_release = osr, .file = base, .sha256 = hex,
                               .created = epoch, .licenses = licenses};
    int rc = EXIT_OK;
    /* every format asked for from the one read of the image */
    for (enum sbom_format f = SBOM_SPDX; f <= SBOM_CYCLONEDX && rc == EXIT_OK; f++) {
        if (!(fmts & 1u << f)) continue;
        json_t *doc = sbom_make(f, &sub, pkgs);
        rc = write_one(doc, f, stem, out, json_array_size(pkgs), family);
        json_decref(doc);
    }
    json_decref(manifest);
    json_decref(pkgs);
    json_decref(osr);
    json_decref(licenses);
    return rc;
}
