/* kiln sbom IMAGE: an SPDX or CycloneDX document of the packages the image's own database lists. */
#include <errno.h>

#include "cmd/common.h"
#include "core/arch.h"
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

static int sbom_image(const char *image, enum sbom_format fmt, const char *out);

static bool take_format(const char *verb, const char *opt, const char *val, void *to)
{
    if (sbom_format_parse(val, to)) return true;
    fprintf(stderr, "kiln %s: %s %s: unknown format; use spdx or cyclonedx\n", verb, opt, val);
    return false;
}

int cmd_sbom(int argc, char **argv)
{
    const char *out = NULL;
    enum sbom_format fmt = SBOM_SPDX;
    const struct cmd_opt opts[] = {
        {'f', "format", "spdx|cyclonedx", CMD_FN, &fmt, .fn = take_format, .help = "SPDX 2.3 (default) or CycloneDX 1.5"},
        {'o', "out", "FILE|-", CMD_STR, &out,
         .help = "where the SBOM goes; - is stdout (default: the image's name with\n.spdx.json or .cdx.json, never replaced: "
                 "kiln build wrote and kiln sign\nsigned the file of that name)"},
        {0},
    };
    const struct cmd_verb v = {
        "sbom", "IMAGE [--format spdx|cyclonedx] [-o FILE|-]",
        "Writes an SBOM of the packages IMAGE's own dpkg or rpm database lists. IMAGE is a disk image\n"
        "(raw, qcow2, VHD) or a root filesystem archive (.tar.zst, .tar).",
        opts, 1, 1, "IMAGE",
        .exits = "0 written, 1 IMAGE has no package database kiln can read (or is not an image), or the\n"
                 "default output exists, or the SBOM could not be written, 2 usage or IMAGE missing or\n"
                 "not a regular file, 130 interrupted",
    };
    int n, rc = cmd_parse(&v, argc, argv, &n);
    if (rc != CMD_GO) return rc;
    if ((rc = cmd_input("sbom", argv[1], "pass the disk image file itself (raw, qcow2 or VHD)"))) return rc;
    return sbom_image(argv[1], fmt, out);
}

static int sbom_image(const char *image, enum sbom_format fmt, const char *out)
{
    json_t *pkgs = NULL, *osr = NULL;
    const char *family = NULL;
    char *err = NULL;
    /* a SIGINT stops the copy of a filesystem into TMPDIR, which is then removed */
    proc_install_signal_handlers();
    int r = pkgdb_from_image(image, &pkgs, &osr, &family, &err);
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
                               .arch = arch ? arch->name : NULL,
                               .os_release = osr, .file = base, .sha256 = hex, .created = epoch};
    json_t *doc = sbom_make(fmt, &sub, pkgs);
    int rc = EXIT_OK;
    if (out && streq(out, "-")) {
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        putchar('\n');
    } else {
        _cleanup_free_ char *def = xasprintf("%s%s", stem, sbom_suffix(fmt));
        const char *path = out ? out : def;
        /* the default name is the one kiln build gives the SBOM it lists and kiln sign signs:
         * replacing that file unasked would break its signature */
        if (!out && access(def, F_OK) == 0) {
            fprintf(stderr, "kiln sbom: %s exists (kiln build writes it beside the image, and kiln sign signs it); "
                            "not replaced: name another file with -o FILE, or -o - for stdout\n", def);
            rc = EXIT_FAIL;
        } else if (json_write_file(path, doc) < 0) {
            fprintf(stderr, "kiln sbom: cannot write %s: %s\n", path, strerror(errno));
            rc = EXIT_FAIL;
        } else
            fprintf(stderr, "kiln sbom: %s (%s, %zu packages from the image's %s database)\n", path,
                   fmt == SBOM_SPDX ? "SPDX 2.3" : "CycloneDX 1.5", json_array_size(pkgs),
                   streq(family, "deb") ? "dpkg" : "rpm");
    }
    json_decref(doc);
    json_decref(manifest);
    json_decref(pkgs);
    json_decref(osr);
    return rc;
}
