/* kiln build SPEC [--out DIR] [--format F] [--refresh] [--check [--json]]: a bootable disk image from a spec. */
#include <errno.h>
#include <jansson.h>
#include <unistd.h>

#include "cmd/common.h"
#include "image/build.h"
#include "image/spec.h"
#include "util/proc.h"
#include "util/progress.h"
#include "util/timeutil.h"
#include "util/utf8.h"
#include "util/util.h"

static bool take_format(const char *verb, const char *opt, const char *val, void *to)
{
    int *only = to;
    for (int k = 0; k < OUT_COUNT; k++)
        if (streq(val, spec_output_name(k))) return *only = k, true;
    fprintf(stderr, "kiln %s: %s %s: unknown format; the formats are raw, qcow2, vhd-fixed, vhd, tar\n", verb, opt, val);
    return false;
}

/* s as the terminal gets it (util/utf8.h): a spec's fields, paths (--out DIR) and a command's
 * output are text to show, never sequences that drive the terminal; NULL stays NULL. */
static char *shown(const char *s, bool keep_lf)
{
    return s ? utf8_escape_controls(s, strlen(s), keep_lf) : NULL;
}

void build_event_fprint(FILE *f, const struct build_event *e, const struct image_spec *s)
{
    _cleanup_free_ char *text = shown(e->text, true), *out = shown(e->output, true), *path = shown(e->path, false);
    switch (e->kind) {
    case BUILD_STAGE_BEGIN:
        fprintf(f, "kiln build: [%d/%d] %s ...\n", e->index, e->count, e->stage);
        break;
    case BUILD_STAGE_END:
        fprintf(f, "kiln build: [%d/%d] %-10s %7.1f s%s%s\n", e->index, e->count, e->stage, e->seconds,
                text ? "  " : "", text ? text : "");
        break;
    case BUILD_INFO:
    case BUILD_ERROR:
        fprintf(f, "kiln build: %s: %s\n", e->stage, text ? text : "");
        if (out) fputs(out, f);
        break;
    case BUILD_NOTE:
    case BUILD_WARNING:
        fprintf(f, "kiln build: %s%s%s: %s\n", e->stage ? e->stage : "", e->stage ? ": " : "",
                e->kind == BUILD_NOTE ? "note" : "warning", text ? text : "");
        break;
    case BUILD_DONE:
        fprintf(f, "kiln build: %s %s built in %.1f s %s %s.*\n", s->name, s->version, e->seconds, text_arrow(), path ? path : "");
        break;
    case BUILD_LOG_KEPT:
        fprintf(f, "kiln build: failed; the build log is kept at %s\n", path ? path : "");
        break;
    case BUILD_PROGRESS:
        /* a line per phase or finished piece; the live updates are for a terminal */
        if (e->step) fprintf(f, "kiln build: %s: %s\n", e->stage, text ? text : "");
        break;
    }
}

void build_event_show(struct build_live *b, const struct build_event *e, const struct image_spec *s)
{
    struct progress_line *pl = &b->pl;
    double now = pl->clock ? pl->clock() : now_s();
    if (e->kind == BUILD_STAGE_BEGIN) {
        b->stage_t0 = now, b->index = e->index, b->count = e->count;
        /* on a terminal the stage's one line, from its start: its closing line takes its place */
        if (pl->tty) {
            /* in parts, as its news will be: on a narrow terminal "kiln build: " gives way, not
             * the stage's name */
            _cleanup_free_ char *line = xasprintf("[%d/%d] %s ...", e->index, e->count, e->stage);
            progress_live_parts(pl, true, "kiln build: ", line, NULL, NULL);
            pl->placeholder = true; /* the stage's first news replaces these words at once */
            return;
        }
    }
    if (e->kind == BUILD_STAGE_END && pl->tty) {
        /* a stage's closing line stays: fitted to the terminal so it is one line there (the
         * note gives way, in its middle, then "kiln build: "; off a terminal the whole note is
         * printed) */
        _cleanup_free_ char *head = xasprintf("[%d/%d] %-10s %7.1f s", e->index, e->count, e->stage, e->seconds);
        _cleanup_free_ char *line = progress_fit(progress_max(pl), "kiln build: ", true, head, "  ", e->text, NULL);
        progress_clear(pl);
        fprintf(pl->f, "%s\n", line);
        return;
    }
    if (e->kind != BUILD_PROGRESS) {
        progress_clear(pl);
        build_event_fprint(pl->f, e, s);
        return;
    }
    /* the stage's closing line in the making: the stage and its time, then what it does, which
     * gives way on a narrow terminal, then the bytes (progress_live_parts' order) */
    /* whole seconds gone, as a clock shows them: never ahead of the closing line's "10.4 s" */
    _cleanup_free_ char *head = b->count ? xasprintf("[%d/%d] %s %d s", b->index, b->count, e->stage, (int)(now - b->stage_t0))
                                         : xstrdup(e->stage);
    if (!pl->tty) {
        /* a line per step, with the stage's time as the live line has it, so a CI log tells
         * where the minutes went */
        _cleanup_free_ char *text = shown(e->text, false);
        if (e->step) fprintf(pl->f, "kiln build: %s: %s\n", head, text ? text : "");
        return;
    }
    char bytes[96];
    progress_bytes_text(e->done, e->total, e->seconds, bytes, sizeof bytes);
    progress_live_parts(pl, e->step, "kiln build: ", head, e->text, bytes);
}

struct build_show {
    struct build_live live;
    const struct image_spec *spec;
};

static void print_event(const struct build_event *e, void *userdata)
{
    struct build_show *b = userdata;
    build_event_show(&b->live, e, b->spec);
}

/* A user other than root builds in a user namespace of its own, where it is root and its
 * subordinate ids (/etc/subuid, /etc/subgid, mapped by unshare(1) through newuidmap) are the
 * image's other users: mmdebstrap or dnf, chroot and mke2fs then make files owned by root and the
 * system users as a build by root does, with no privilege on the host (mount and pid namespaces
 * too, so that mmdebstrap can mount /proc in the tree). kiln's disk writers need no loop device.
 * mmdebstrap --mode=unshare alone is not enough: it leaves the tree owned by the subordinate ids
 * on the host, where the later stages, run as the user, could neither chroot into it nor read it
 * all. Runs the same kiln build there; its exit status, or EXIT_FAIL when no namespace can be
 * made (the message says what to set up). */
static int build_in_userns(int argc, char **argv)
{
    char self[4096];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k <= 0) {
        fprintf(stderr, "kiln build: cannot find kiln's own binary (/proc/self/exe): %s\n", strerror(errno));
        return EXIT_FAIL;
    }
    self[k] = 0;
    char *probe[] = {"unshare", "--map-root-user", "--map-auto", "true", NULL};
    _cleanup_free_ char *why = NULL;
    int st = proc_run(probe, 30000, &why);
    if (st != 0) {
        const char *user = getenv("USER");
        fprintf(stderr,
                "kiln build: not running as root, and no user namespace to build in (unshare --map-root-user "
                "--map-auto: %s); give %s subordinate ids (usermod --add-subuids 100000-165535 --add-subgids "
                "100000-165535 %s), install uidmap (newuidmap) and allow user namespaces, or run kiln build as root\n",
                st < 0 ? strerror(-st) : why && *why ? strstrip(why) : "failed", user ? user : "the user", user ? user : "USER");
        return EXIT_FAIL;
    }
    /* sh stays the namespace's pid 1 (which gets no signal it has no handler for, and inherits
     * orphans): kiln runs as its child, as anywhere else */
    static const char *const pre[] = {"unshare", "--map-root-user", "--map-auto", "--mount", "--pid", "--fork", "--kill-child",
                                      "--", "sh", "-c", "\"$0\" \"$@\"; exit $?"};
    char **av = xcalloc(ARRAY_SIZE(pre) + 1 + (size_t)argc + 1, sizeof *av);
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_SIZE(pre); i++) av[n++] = (char *)pre[i];
    av[n++] = self;
    for (int i = 0; i < argc; i++) av[n++] = argv[i];
    execvp(av[0], av);
    fprintf(stderr, "kiln build: cannot run unshare: %s\n", strerror(errno));
    free(av);
    return EXIT_FAIL;
}

/* Builds s (which it frees) as the options say; kiln build's exit status. */
static int build_run_spec(struct image_spec *s, struct build_opts *o)
{
    /* with SOURCE_DATE_EPOCH every id, time and hash seed comes from the spec (docs/image.md) */
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    long epoch;
    o->source_date_epoch = sde && parse_long(sde, &epoch) && epoch >= 0 ? epoch : -1;
    /* on a terminal one live line says what the stage is doing; elsewhere a line per phase */
    struct build_show show = {.live.pl = {.f = stderr, .tty = progress_live_ok(2), .cols = progress_term_cols(2), .follow_width = true}, .spec = s};
    o->on_event = print_event;
    o->userdata = &show;
    proc_install_signal_handlers();
    int r = image_build(s, o);
    progress_clear(&show.live.pl);
    spec_free(s);
    /* an output directory that cannot be made is what was given, as a missing input is */
    if (r == -ENOTDIR) return EXIT_USAGE;
    return r < 0 ? (kiln_interrupted ? EXIT_INTERRUPTED : EXIT_FAIL) : EXIT_OK;
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
        {0, "json", NULL, CMD_FLAG, &json, .needs = "check", .help = "with --check: the verdict as JSON on stdout"},
        {0},
    };
    const struct cmd_verb v = {
        "build", "SPEC [--out DIR] [--format F] [--refresh] [--source-root DIR]\nSPEC --check [--json]",
        "Builds a bootable GPT disk image (raw, qcow2, VHD) or a rootfs archive from SPEC, with its\n"
        "manifest, SBOMs and provenance, in seven stages (docs/image.md). As root, or as a user with\n"
        "subordinate ids (/etc/subuid): then in a user namespace where that user is root.",
        opts, 1, 1, "SPEC",
        .exits = "0 built (or, with --check, the spec is valid), 1 the build failed (its log is kept\n"
                 "beside the outputs), 2 usage, a missing SPEC or an invalid spec, 130 interrupted",
        .json = "{\"spec\": PATH, \"ok\": BOOL, \"name\": S, \"version\": S, \"family\": \"deb\"|\"rpm\", \"warnings\": [...],\n"
                "\"errors\": [{\"file\", \"line\", \"col\", \"path\", \"message\"}]} (name, version, family, warnings when ok)",
    };
    int n, rc = cmd_parse(&v, argc, argv, &n);
    if (rc != CMD_GO) return rc;
    const char *path = argv[1];
    if ((rc = cmd_input("build", path, "pass the image spec (YAML) itself"))) return rc;
    struct diags d = {0};
    struct image_spec *s = NULL;
    int r = spec_load(path, source_root, &s, &d);
    const char *refused = r == 0 && o.only_output >= 0 ? spec_output_refused(s, o.only_output) : NULL;
    if (refused) {
        diag_add_at(&d, path, 0, 0, NULL, "--format %s: %s", spec_output_name(o.only_output), refused);
        spec_free(s);
        s = NULL;
        r = -EINVAL;
    }
    if (json) {
        json_t *j = json_pack("{s:s, s:b, s:o}", "spec", path, "ok", r == 0, "errors", cmd_diags_json(&d));
        if (r == 0) {
            json_object_set_new(j, "name", json_string(s->name));
            json_object_set_new(j, "version", json_string(s->version));
            json_object_set_new(j, "family", json_string(pkg_family_name(s->family)));
            json_object_set_new(j, "warnings", cmd_diags_json(&s->warnings));
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
    cmd_print_warnings(&s->warnings);
    if (check) {
        if (!json) printf("%s: ok (%s %s, %s)\n", path, s->name, s->version, pkg_family_name(s->family));
        spec_free(s);
        return EXIT_OK;
    }
    if (!*o.out_dir) {
        fprintf(stderr, "kiln build: --out is empty: give the directory the artifacts go to (default: out)\n");
        spec_free(s);
        return EXIT_USAGE;
    }
    if (geteuid() != 0) {
        spec_free(s);
        return build_in_userns(argc, argv);
    }
    return build_run_spec(s, &o);
}
