/* kiln: build, validate, sign and publish Linux OS images. Verb dispatch only. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cmd/common.h"
#include "ext/ext.h"
#include "util/util.h"
#include "util/yaml.h"

static const struct verb {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} verbs[] = {
    {"run", cmd_run, "boot environments and run the cases a runbook selects"},
    {"shell", cmd_shell, "boot an image in a VM as kiln run does and open an SSH session (or run a command)"},
    {"list", cmd_list, "list the cases a runbook selects (all cases without one)"},
    {"check", cmd_check, "validate a runbook without running anything"},
    {"build", cmd_build, "build a bootable disk image from a spec (raw, qcow2, VHD)"},
    {"convert", cmd_convert, "rewrite a disk image in another format (raw, qcow2, vhd-fixed, vhd)"},
    {"inspect", cmd_inspect, "show a disk image's format, partitions, filesystems and OS (or a rootfs archive's)"},
    {"keygen", cmd_keygen, "make an Ed25519 signing key pair (minisign format)"},
    {"sign", cmd_sign, "sign files (FILE.minisig, verifiable with stock minisign)"},
    {"verify", cmd_verify, "verify a file's minisign signature"},
    {"publish", cmd_publish, "publish a signed, validated image version into a gallery"},
    {"gallery", cmd_gallery, "set up a gallery; list, show and pull (verified) image versions"},
    {"archive", cmd_archive, "pack a run directory into a signed .tar.zst with a sha256 manifest (--verify checks one)"},
    {"sbom", cmd_sbom, "write an SPDX or CycloneDX SBOM from an image's own package database"},
    {"tenant", cmd_tenant, "add a publisher to the validation service (prints its API token once)"},
    {"rollout", cmd_rollout, "set, pause, resume and show an update rollout (kiln serve --gallery answers Omaha)"},
    {"worker", cmd_worker, "run jobs of the validation service on this host; `worker add` registers a host"},
    {"serve", cmd_serve, "serve the validation service's HTTP API (jobs, images, workers, consoles, artifacts)"},
    {"clean", cmd_clean, "empty kiln's caches (package trees, downloads, probes); --dry-run lists them"},
    {"submit", cmd_submit, "submit an image to the validation service (uploads it, queues a job, --wait follows it)"},
    {"cancel", cmd_cancel, "cancel jobs of the validation service (a running job is stopped, never run again)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: kiln VERB [options]\n       kiln help VERB   (the same as kiln VERB --help)\n\nverbs:\n");
    for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) fprintf(f, "  %-8s %s\n", verbs[i].name, verbs[i].help);
    fprintf(f, "\nExit status: 0 ok, 1 what was checked failed (a case, a signature, a verification), 2 usage,\n"
               "configuration or a missing input, 130 interrupted; each verb's --help says more.\n"
               "Version %s.\n", KILN_VERSION);
}

static const struct verb *find_verb(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
        if (streq(verbs[i].name, name)) return &verbs[i];
    return NULL;
}

/* Verbs of the tools kiln users come from (mkosi) that kiln spells otherwise. */
static const struct {
    const char *name, *say;
} elsewhere[] = {
    {"ssh", "kiln shell IMAGE boots the image and opens an SSH session into it (mkosi qemu and mkosi ssh in one); "
            "kiln run with platform.keep_environment prints an ssh command per kept node"},
    {"qemu", "kiln shell IMAGE boots the image in qemu and opens an SSH session into it (as mkosi qemu)"},
    {"boot", "kiln shell IMAGE boots the image in qemu and opens an SSH session into it (as mkosi boot/qemu)"},
};

/* "unknown verb X; did you mean Y?" and the try line, exit 2. */
static int unknown_verb(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(elsewhere); i++)
        if (streq(elsewhere[i].name, name)) {
            fprintf(stderr, "kiln: unknown verb \"%s\": %s\ntry 'kiln shell --help'\n", name, elsewhere[i].say);
            return EXIT_USAGE;
        }
    const char *best = NULL;
    size_t bestd = SIZE_MAX;
    for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
        size_t d = levenshtein(verbs[i].name, name);
        if (d < bestd) bestd = d, best = verbs[i].name;
    }
    if (bestd <= 2) fprintf(stderr, "kiln: unknown verb \"%s\"; did you mean \"%s\"?\n", name, best);
    else fprintf(stderr, "kiln: unknown verb \"%s\"\n", name);
    fprintf(stderr, "try 'kiln --help'\n");
    return EXIT_USAGE;
}

static int run_verb(const struct verb *v, int argc, char **argv)
{
    int rc = v->fn(argc, argv);
    ext_free();
    yfiles_free();
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (streq(argv[1], "-h") || streq(argv[1], "--help") || (streq(argv[1], "help") && argc == 2)) {
        usage(stdout);
        return EXIT_OK;
    }
    if (streq(argv[1], "--version") || streq(argv[1], "version")) {
        printf("kiln %s\n", KILN_VERSION);
        return EXIT_OK;
    }
    if (streq(argv[1], "help")) {
        /* kiln help VERB [SUB]: VERB [SUB] --help */
        const struct verb *v = find_verb(argv[2]);
        if (!v) return unknown_verb(argv[2]);
        char **av = xcalloc((size_t)argc, sizeof *av);
        for (int i = 2; i < argc; i++) av[i - 2] = argv[i];
        av[argc - 2] = (char *)"--help";
        int rc = run_verb(v, argc - 1, av);
        free(av);
        return rc;
    }
    const struct verb *v = find_verb(argv[1]);
    return v ? run_verb(v, argc - 1, argv + 1) : unknown_verb(argv[1]);
}
