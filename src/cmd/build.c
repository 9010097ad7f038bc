/* kiln build SPEC [--out DIR] [--format F] [--no-cache] [--check]: a bootable disk image from a spec. */
#include "cmd/common.h"
#include "image/build.h"
#include "image/spec.h"
#include "util/proc.h"
#include "util/util.h"

static int usage(void)
{
    fprintf(stderr, "usage: kiln build SPEC [--out DIR] [--format raw|qcow2|vhd-fixed|vhd|tar] [--no-cache]\n"
                    "                  [--source-root DIR] [--check]\n"
                    "  --out DIR     where the artifacts go (default: out)\n"
                    "  --format F    build only this output instead of the spec's \"output\" list\n"
                    "  --no-cache    rebuild the package tree even when a cached one matches\n"
                    "  --source-root DIR  files the spec copies in (os.files src, repo keys, local repos)\n"
                    "                may come from anywhere under DIR (default: the spec's directory)\n"
                    "  --check       validate the spec and exit\n");
    return EXIT_USAGE;
}

int cmd_build(int argc, char **argv)
{
    struct build_opts o = {.out_dir = "out", .only_output = -1};
    const char *path = NULL, *source_root = NULL;
    bool check = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (streq(a, "--out") && i + 1 < argc) o.out_dir = argv[++i];
        else if (startswith(a, "--out=")) o.out_dir = a + 6;
        else if (streq(a, "--source-root") && i + 1 < argc) source_root = argv[++i];
        else if (startswith(a, "--source-root=")) source_root = a + 14;
        else if ((streq(a, "--format") && i + 1 < argc) || startswith(a, "--format=")) {
            const char *f = startswith(a, "--format=") ? a + 9 : argv[++i];
            o.only_output = -1;
            for (int k = 0; k < OUT_COUNT; k++)
                if (streq(f, spec_output_name(k))) o.only_output = k;
            if (o.only_output < 0) {
                fprintf(stderr, "kiln build: unknown format \"%s\" (raw, qcow2, vhd-fixed, vhd, tar)\n", f);
                return EXIT_USAGE;
            }
        } else if (streq(a, "--no-cache")) o.no_cache = true;
        else if (streq(a, "--check")) check = true;
        else if (streq(a, "-h") || streq(a, "--help")) return usage(), EXIT_OK;
        else if (a[0] == '-' || path) return usage();
        else path = a;
    }
    if (!path) return usage();
    struct diags d = {0};
    struct image_spec *s = NULL;
    if (spec_load(path, source_root, &s, &d) < 0) {
        diags_print(&d, stderr);
        diags_free(&d);
        return EXIT_USAGE;
    }
    diags_free(&d);
    if (check) {
        printf("%s: ok (%s %s, %s)\n", path, s->name, s->version, s->family == FAMILY_DEB ? "deb" : "rpm");
        spec_free(s);
        return EXIT_OK;
    }
    proc_install_signal_handlers();
    int r = image_build(s, &o);
    spec_free(s);
    return r < 0 ? EXIT_FAIL : EXIT_OK;
}
