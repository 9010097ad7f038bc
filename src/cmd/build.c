/* kiln build SPEC [--out DIR] [--format F] [--refresh] [--check [--json]]: a bootable disk image from a spec. */
#include <jansson.h>

#include "cmd/common.h"
#include "image/build.h"
#include "image/spec.h"
#include "util/proc.h"
#include "util/util.h"

static bool take_format(const char *verb, const char *opt, const char *val, void *to)
{
    int *only = to;
    for (int k = 0; k < OUT_COUNT; k++)
        if (streq(val, spec_output_name(k))) return *only = k, true;
    fprintf(stderr, "kiln %s: %s %s: unknown format; the formats are raw, qcow2, vhd-fixed, vhd, tar\n", verb, opt, val);
    return false;
}

int cmd_build(int argc, char **argv)
{
    struct build_opts o = {.out_dir = "out", .only_output = -1};
    const char *source_root = NULL;
    bool check = false, json = false;
    const struct cmd_opt opts[] = {
        {'o', "out", "DIR", CMD_STR, &o.out_dir, .help = "where the artifacts go (default: out)"},
        {'f', "format", "F", CMD_FN, &o.only_output, .fn = take_format,
         .help = "build only this output (raw, qcow2, vhd-fixed, vhd, tar) instead of\nthe spec's \"output\" list"},
        {0, "refresh", NULL, CMD_FLAG, &o.no_cache,
         .help = "rebuild the package tree from the repositories as they are now, even\nwhen a cached tree matches "
                 "(a changed repository already makes a new\ntree: the cache key holds each repository's state)"},
        {0, "no-cache", NULL, CMD_FLAG, &o.no_cache, .help = "the same as --refresh (its older name)"},
        {0, "source-root", "DIR", CMD_STR, &source_root,
         .help = "files the spec copies in (os.files src, repo keys, local repos) may\ncome from anywhere under DIR "
                 "(default: the spec's directory)"},
        {0, "check", NULL, CMD_FLAG, &check, .help = "validate the spec (file:line:col errors) and exit"},
        {0, "json", NULL, CMD_FLAG, &json, .help = "with --check: the verdict as JSON on stdout"},
        {0},
    };
    const struct cmd_verb v = {
        "build", "SPEC [--out DIR] [--format F] [--refresh] [--source-root DIR]\nSPEC --check [--json]",
        "Builds a bootable GPT disk image (raw, qcow2, VHD) or a rootfs archive from SPEC, with its\n"
        "manifest, SBOMs and provenance, in seven stages (docs/image.md). Runs as root.",
        opts, 1, 1, "SPEC",
        .exits = "0 built (or, with --check, the spec is valid), 1 the build failed (its log is kept\n"
                 "beside the outputs), 2 usage, a missing SPEC or an invalid spec, 130 interrupted",
        .json = "{\"spec\": PATH, \"ok\": BOOL, \"name\": S, \"version\": S, \"family\": \"deb\"|\"rpm\",\n"
                "\"errors\": [{\"file\", \"line\", \"col\", \"path\", \"message\"}]} (name, version, family when ok)",
    };
    int n, rc = cmd_parse(&v, argc, argv, &n);
    if (rc != CMD_GO) return rc;
    const char *path = argv[1];
    if (json && !check) return cmd_usage_error("build", "--json goes with --check (a build prints its stages)");
    if ((rc = cmd_input("build", path, "pass the image spec (YAML) itself"))) return rc;
    struct diags d = {0};
    struct image_spec *s = NULL;
    int r = spec_load(path, source_root, &s, &d);
    if (json) {
        json_t *j = json_pack("{s:s, s:b, s:o}", "spec", path, "ok", r == 0, "errors", cmd_diags_json(&d));
        if (r == 0) {
            json_object_set_new(j, "name", json_string(s->name));
            json_object_set_new(j, "version", json_string(s->version));
            json_object_set_new(j, "family", json_string(s->family == FAMILY_DEB ? "deb" : "rpm"));
        }
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(j);
    }
    if (r < 0) {
        cmd_print_diags(&d);
        diags_free(&d);
        return EXIT_USAGE;
    }
    diags_free(&d);
    if (check) {
        if (!json) printf("%s: ok (%s %s, %s)\n", path, s->name, s->version, s->family == FAMILY_DEB ? "deb" : "rpm");
        spec_free(s);
        return EXIT_OK;
    }
    proc_install_signal_handlers();
    r = image_build(s, &o);
    spec_free(s);
    return r < 0 ? (kiln_interrupted ? EXIT_INTERRUPTED : EXIT_FAIL) : EXIT_OK;
}
