/* The build as a table of stages, run in order against one build context, and the helpers
 * every stage uses to run commands and report. Each stage reports its start and its end with
 * its duration; a failure names the stage and the cause and leaves nothing at the output path
 * (outputs are staged, then renamed). */
#include "image/build_int.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "image/pkg_progress.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/timeutil.h"
#include "util/utf8.h"
#include "util/util.h"

static bool immutable(const struct image_spec *s, const struct build_opts *o)
{
    (void)o;
    return s->layout == LAYOUT_IMMUTABLE;
}

/* The disk's stages run when a disk (raw, qcow2, VHD) is among the outputs asked for, or for
 * the immutable layout, whose /usr image and update payload they make (and whose /usr the
 * root-fs stage puts back into the tree). A rootfs archive alone is made from the tree. */
static bool disk_made(const struct image_spec *s, const struct build_opts *o)
{
    for (int i = 0; i < OUT_COUNT; i++)
        if (i != OUT_TAR && (o->only_output < 0 ? s->outputs[i] : o->only_output == i)) return true;
    return immutable(s, o);
}

/* ... and the ESP's also when the spec signs: the signed kernel is the direct-boot output too */
static bool esp_made(const struct image_spec *s, const struct build_opts *o) { return disk_made(s, o) || s->sb_key; }

bool build_needs_kernel(const struct image_spec *s, const struct build_opts *o) { return esp_made(s, o); }

static const struct build_stage stages[] = {
    {"rootfs", stage_rootfs, NULL},       /* the package tree, cached */
    {"customize", stage_customize, NULL}, /* a copy of it made into this image, generalized */
    {"usr", stage_usr, immutable},        /* /usr as a read-only image with a verity hash tree */
    {"root-fs", stage_root_fs, disk_made}, /* the partitions planned, the root filesystem made */
    {"esp", stage_esp, esp_made},         /* boot loader, kernel, initrd */
    {"disk", stage_disk, disk_made},      /* GPT and the partitions' contents */
    {"outputs", stage_outputs, NULL},     /* raw, qcow2, VHD, tar, direct-boot and update files */
    {"manifest", stage_manifest, NULL},   /* manifest, SBOMs, provenance; everything renamed into place */
};

const struct build_stage *build_stages(size_t *n)
{
    *n = ARRAY_SIZE(stages);
    return stages;
}

const struct pkg_family_ops *pkg_family_ops(enum pkg_family f)
{
    return f == FAMILY_RPM ? &family_rpm : &family_deb;
}

static void emit(struct build_ctx *c, const struct build_event *e)
{
    if (c->opts->on_event) c->opts->on_event(e, c->opts->userdata);
}

static void vsay(struct build_ctx *c, enum build_event_kind kind, const char *stage, const char *output,
                 const char *path, const char *fmt, va_list ap)
{
    _cleanup_free_ char *m = xvasprintf(fmt, ap);
    /* the outputs are made in OUT/.kiln-build-PID and renamed into OUT at the end; a message
     * names a file where the user will look for it (the staging directory is gone after a
     * failure) */
    if (c->stage_dir && c->opts->out_dir) {
        struct sbuf b = {0};
        size_t sl = strlen(c->stage_dir);
        for (const char *p = m, *hit; *p; p = hit + sl) {
            if (!(hit = strstr(p, c->stage_dir))) {
                sbuf_puts(&b, p);
                break;
            }
            sbuf_append(&b, p, (size_t)(hit - p));
            sbuf_puts(&b, c->opts->out_dir);
        }
        free(m);
        m = b.s ? sbuf_steal(&b) : xstrdup("");
    }
    emit(c, &(struct build_event){.kind = kind, .stage = stage, .text = m, .output = output, .path = path});
}

int build_error(struct build_ctx *c, const char *stage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay(c, BUILD_ERROR, stage, NULL, NULL, fmt, ap);
    va_end(ap);
    return -EIO;
}

int build_interrupted(struct build_ctx *c, const char *stage)
{
    build_error(c, stage, "interrupted; no output kept in %s", c->opts->out_dir);
    return -EINTR;
}

bool build_tick_due(const struct build_ctx *c, int *shown)
{
    int now = (int)(now_s() - c->stage_t0);
    if (now == *shown) return false;
    *shown = now;
    return true;
}

void build_say(struct build_ctx *c, enum build_event_kind kind, const char *stage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay(c, kind, stage, NULL, NULL, fmt, ap);
    va_end(ap);
}

void build_note(struct build_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(c->note);
    c->note = xvasprintf(fmt, ap);
    va_end(ap);
}

enum { TAIL_LINES = 16, TAIL_READ = 64 << 10, TAIL_LINE_MAX = 300 };

/* The last 16 lines of the build log from offset from on, read from its last 64 KiB ("  ...\n"
 * first when there is more), for a terminal: each line cut to 300 bytes (" ..." after a cut
 * one) with its control bytes and ill-formed UTF-8 escaped (util/utf8.h: the package manager
 * prints the repositories' text, escape sequences included), each ending in "\n". NULL when
 * the log cannot be read. */
static char *log_tail(struct build_ctx *c, off_t from)
{
    int fd = open(c->log_path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0) close(fd);
        return NULL;
    }
    if (from < 0 || from > st.st_size) from = 0;
    off_t at = st.st_size - from > TAIL_READ ? st.st_size - TAIL_READ : from;
    char *text = xmalloc(TAIL_READ);
    ssize_t len = pread(fd, text, (size_t)(st.st_size - at), at);
    close(fd);
    if (len < 0) {
        free(text);
        return NULL;
    }
    const char *s = text, *p = text + len, *end = text + len;
    int lines = 0;
    while (p > s && lines < TAIL_LINES)
        if (*--p == '\n' && p + 1 < end) lines++;
    struct sbuf out = {0};
    if (p > s || at > from) sbuf_puts(&out, "  ...\n");
    for (p += p > s; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)(end - p), eol = nl ? (size_t)(nl - p) : n;
        _cleanup_free_ char *line = utf8_escape_controls(p, eol < TAIL_LINE_MAX ? eol : TAIL_LINE_MAX, false);
        sbuf_printf(&out, "%s%s\n", line, eol > TAIL_LINE_MAX ? " ..." : "");
        p += eol + (eol < n);
    }
    free(text);
    if (!out.s) sbuf_puts(&out, "");
    return sbuf_steal(&out);
}

static int command_failed(struct build_ctx *c, const char *stage, const char *cmd, off_t start, int r, int st)
{
    bool exited = r == 0 && WIFEXITED(st);
    _cleanup_free_ char *tail = log_tail(c, start);
    _cleanup_free_ char *m = xasprintf("`%.300s` failed (%s %d); its last output:", cmd, exited ? "exit" : "signal",
                                       exited ? WEXITSTATUS(st) : WTERMSIG(st));
    /* the log is named once the build has failed: the copy kept beside the outputs (BUILD_LOG_KEPT),
     * not this one, which goes with the work directory */
    emit(c, &(struct build_event){.kind = BUILD_ERROR, .stage = stage, .text = m, .output = tail});
    return -EIO;
}

void build_progress(struct build_ctx *c, bool step, const char *text, uint64_t done, uint64_t total, double seconds)
{
    emit(c, &(struct build_event){.kind = BUILD_PROGRESS, .stage = c->stage, .text = text, .step = step, .done = done,
                                  .total = total, .seconds = seconds});
}

/* What the package manager's output (pipe rfd) says it does: every byte into the build log, each
 * line through image/pkg_progress, its phases as steps, its items as live updates (and one a
 * second besides, so that a silent phase's time goes on). Waits for pid, whose exit ends the
 * watch (what the pipe holds then, at most 1 MiB, goes to the log: a process it left behind may
 * write on): 0 and *st, -ETIMEDOUT when interrupted, or -errno. */
struct pkg_watch {
    struct build_ctx *c;
    double t0; /* when the phase began */
};

/* A new phase is a step, even when several come in one read. */
static void pkg_changed(struct pkg_progress *p, enum pkg_change ch, void *ctx)
{
    struct pkg_watch *w = ctx;
    if (ch != PKG_PHASE || p->phase == PKG_DONE) return;
    char text[256];
    w->t0 = now_s();
    pkg_progress_phase_text(p, text, sizeof text);
    build_progress(w->c, true, text, 0, 0, 0);
}

static int watch_pkgmgr(struct build_ctx *c, const char *label, pid_t pid, int rfd, int *st)
{
    struct pkg_progress p = {0};
    struct pkg_watch w = {.c = c, .t0 = now_s()};
    double shown = 0;
    char buf[16384], text[256];
    bool open = true;
    int r;
    for (;;) {
        if (kiln_interrupted) return -ETIMEDOUT;
        enum pkg_change ch = PKG_SAME;
        struct pollfd pfd = {.fd = rfd, .events = POLLIN};
        ssize_t n = open && poll(&pfd, 1, 200) > 0 ? read(rfd, buf, sizeof buf) : -1;
        if (n > 0) {
            if (write(c->log_fd, buf, (size_t)n) < 0) {} /* a full disk fails the build's next step */
            ch = pkg_progress_feed(&p, buf, (size_t)n, pkg_changed, &w);
        } else if (n == 0 || (open && n < 0 && errno != EINTR && errno != EAGAIN && pfd.revents)) {
            open = false; /* end of output (or a grandchild keeps it open: the exit decides) */
        }
        double now = now_s();
        if (ch != PKG_SAME || now - shown >= 1) {
            if (label && p.phase == PKG_STARTING) snprintf(text, sizeof text, "%s", label);
            else pkg_progress_text(&p, text, sizeof text);
            bool dl = p.phase == PKG_DOWNLOAD;
            build_progress(c, false, text, dl ? p.dl_done : 0, dl ? p.dl_total : 0, now - w.t0);
            shown = now;
        }
        /* the child's exit ends the watch even while output keeps coming: a process it left
         * behind (a daemon a package started) can hold the pipe and write forever */
        if ((r = proc_wait(pid, open ? 0 : 200, st)) != -ETIMEDOUT) break;
    }
    /* what the pipe still holds once the child has gone (at most 1 MiB more): into the log */
    size_t left = 1 << 20;
    for (ssize_t n; r == 0 && open && left && (n = read(rfd, buf, sizeof buf < left ? sizeof buf : left)) > 0; left -= (size_t)n)
        if (write(c->log_fd, buf, (size_t)n) < 0) break;
    return r;
}

/* Runs argv (build_run_env's way); with watch, its output goes through watch_pkgmgr, and label
 * (when not NULL) is a step first and the live text until the output says more. */
static int run_command(struct build_ctx *c, const char *stage, char *const argv[], char *const env[], bool watch,
                       const char *label)
{
    struct sbuf cmd = {0};
    for (size_t i = 0; argv[i]; i++) sbuf_printf(&cmd, "%s%s", i ? " " : "", argv[i]);
    off_t start = lseek(c->log_fd, 0, SEEK_END);
    dprintf(c->log_fd, "$ %s\n", cmd.s);
    int pfd[2] = {-1, -1};
    if (watch && pipe2(pfd, O_CLOEXEC) < 0) watch = false; /* the log alone, as any command */
    int out = watch ? pfd[1] : c->log_fd;
    pid_t pid;
    int r = proc_spawn_env(argv, env, -1, out, out, &pid), st = 0;
    if (watch) close(pfd[1]);
    if (r < 0)
        r = build_error(c, stage, "cannot run %s: %s%s", argv[0], strerror(-r),
                        r == -ENOENT ? " (is it installed? `make deps` installs what kiln needs)" : "");
    else {
        if (watch) {
            fcntl(pfd[0], F_SETFL, O_NONBLOCK);
            if (label) build_progress(c, true, label, 0, 0, 0);
            r = watch_pkgmgr(c, label, pid, pfd[0], &st);
        } else {
            /* a command that takes more than a second (mke2fs filling the root filesystem)
             * says so once a second, so that the stage's time goes on on the terminal */
            double t0 = now_s();
            int shown = (int)(t0 - c->stage_t0);
            _cleanup_free_ char *what = NULL;
            while ((r = proc_wait(pid, 200, &st)) == -ETIMEDOUT && !kiln_interrupted) {
                double now = now_s();
                /* once a second of the stage's clock, which the live line shows (a tick a
                 * second of the command's own skipped a number now and then) */
                if (now - t0 < 1 || !build_tick_due(c, &shown)) continue;
                const char *name = streq(argv[0], "chroot") && argv[1] && argv[2] ? argv[2] : argv[0];
                const char *slash = strrchr(name, '/');
                if (!what) what = xasprintf("running %s", slash ? slash + 1 : name);
                build_progress(c, false, what, 0, 0, now - t0);
            }
        }
        if (r == -ETIMEDOUT) {
            proc_kill(pid, 3000);
            r = build_interrupted(c, stage);
        } else if (r < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
            r = command_failed(c, stage, cmd.s, start, r, st);
    }
    if (watch) close(pfd[0]);
    sbuf_free(&cmd);
    return r;
}

int build_run_env(struct build_ctx *c, const char *stage, char *const argv[], char *const env[])
{
    return run_command(c, stage, argv, env, false, NULL);
}

int build_run_pkgmgr(struct build_ctx *c, const char *stage, char *const argv[], char *const env[])
{
    return run_command(c, stage, argv, env, true, NULL);
}

int build_run_step(struct build_ctx *c, const char *stage, const char *label, char *const argv[])
{
    return run_command(c, stage, argv, c->env, true, label);
}

int build_run(struct build_ctx *c, const char *stage, char *const argv[])
{
    return build_run_env(c, stage, argv, c->env);
}

int build_chroot_at(struct build_ctx *c, const char *stage, const char *root, char *const argv[])
{
    size_t n = 0;
    while (argv[n]) n++;
    char **av = xcalloc(n + 3, sizeof *av);
    av[0] = "chroot";
    av[1] = (char *)root;
    for (size_t i = 0; i < n; i++) av[i + 2] = argv[i];
    int r = build_run(c, stage, av);
    free(av);
    return r;
}

int build_chroot(struct build_ctx *c, const char *stage, char *const argv[])
{
    return build_chroot_at(c, stage, c->root, argv);
}

static bool stage_enabled(const struct build_stage *st, const struct build_ctx *c)
{
    return !st->enabled || st->enabled(c->spec, c->opts);
}

static int run_stages(struct build_ctx *c)
{
    for (size_t i = 0; i < ARRAY_SIZE(stages); i++) c->nstages += stage_enabled(&stages[i], c);
    for (size_t i = 0; i < ARRAY_SIZE(stages); i++) {
        const struct build_stage *st = &stages[i];
        if (!stage_enabled(st, c)) continue;
        c->stage = st->name;
        c->stage_no++;
        c->stage_t0 = now_s();
        emit(c, &(struct build_event){.kind = BUILD_STAGE_BEGIN, .stage = st->name, .index = c->stage_no, .count = c->nstages});
        int r = st->run(c);
        if (r < 0) return r;
        /* a stage whose own steps did not look (a hash, a file written) has run to its end:
         * the interrupt still stops the build there, before anything goes into the output */
        if (kiln_interrupted && !c->published) return build_interrupted(c, st->name);
        emit(c, &(struct build_event){.kind = BUILD_STAGE_END, .stage = st->name, .index = c->stage_no,
                                      .count = c->nstages, .seconds = now_s() - c->stage_t0, .text = c->note});
        free(c->note);
        c->note = NULL;
    }
    return 0;
}

/* The epoch, the seed, the children's environment, the work, log and staging directories. */
static int build_setup(struct build_ctx *c)
{
    const struct image_spec *s = c->spec;
    c->epoch_given = c->opts->source_date_epoch >= 0;
    c->epoch = c->epoch_given ? c->opts->source_date_epoch : (long)time(NULL);
    char epoch[32];
    snprintf(epoch, sizeof epoch, "%ld", c->epoch);
    /* mmdebstrap, dpkg and the filesystem tools read the epoch from their environment */
    char **env = proc_env_set(NULL, "SOURCE_DATE_EPOCH", epoch);
    c->env = proc_env_set(env, "E2FSPROGS_FAKE_TIME", epoch);
    proc_env_free(env);
    c->seed = xasprintf("%s\n%s\n%ld", s->name, s->version, c->epoch);
    c->base = xasprintf("%s-%s", s->name, s->version);
    c->manifest_name = xasprintf("%s.manifest.json", c->base);
    c->manifest = json_object();
    c->started = wall_s();
    /* large scratch space (the tree and a full disk): $TMPDIR, else /var/tmp rather than a tmpfs /tmp */
    const char *td = getenv("TMPDIR");
    char *work = xasprintf("%s/kiln-build-XXXXXX", td && *td ? td : "/var/tmp");
    if (!mkdtemp(work)) {
        int r = build_error(c, "setup", "cannot create a work directory %s: %s", work, strerror(errno));
        free(work);
        return r;
    }
    c->work = work;
    c->root = path_join(c->work, "root");
    c->log_path = path_join(c->work, "build.log");
    c->log_fd = open(c->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    /* before any stage runs: a bad --out found only at the outputs stage costs the whole build */
    c->stage_dir = xasprintf("%s/.kiln-build-%d", c->opts->out_dir, (int)getpid());
    struct stat ost;
    c->out_made = stat(c->opts->out_dir, &ost) < 0 && errno == ENOENT;
    int mr = mkdir_p(c->opts->out_dir, 0755);
    if (mr == 0) {
        rm_rf(c->stage_dir);
        mr = mkdir_p(c->stage_dir, 0755);
    }
    if (mr < 0) {
        free(c->stage_dir);
        c->stage_dir = NULL;
        build_error(c, "setup", "cannot create the output directory %s: %s%s", c->opts->out_dir, strerror(-mr),
                    mr == -ENOTDIR ? " (a file stands at that path or one of its parents: give another --out)" : "");
        return -ENOTDIR;
    }
    return 0;
}

/* A failed build keeps its log beside the outputs it would have made. */
static void keep_log(struct build_ctx *c)
{
    if (c->log_fd < 0) return;
    _cleanup_free_ char *keep = xasprintf("%s/%s.build.log", c->opts->out_dir, c->base);
    char *cp[] = {"cp", c->log_path, keep, NULL};
    if (proc_run(cp, 60000, NULL) == 0) emit(c, &(struct build_event){.kind = BUILD_LOG_KEPT, .path = keep});
}

static void build_teardown(struct build_ctx *c)
{
    if (c->tree_rm_running) pthread_join(c->tree_rm, NULL);
    if (c->log_fd >= 0) close(c->log_fd);
    if (c->root_fd >= 0) close(c->root_fd);
    if (c->stage_dir) rm_rf(c->stage_dir);
    if (c->work) rm_rf(c->work);
    for (size_t i = 0; i < c->nplan; i++) {
        free(c->plan[i].img);
        json_decref(c->plan[i].fs);
    }
    free(c->stage_dir);
    free(c->work);
    free(c->root);
    free(c->log_path);
    free(c->seed);
    free(c->base);
    free(c->manifest_name);
    free(c->kver);
    free(c->note);
    proc_env_free(c->env);
    json_decref(c->manifest);
    json_decref(c->repos);
    json_decref(c->pm_removed);
    json_decref(c->pkgs);
    json_decref(c->os_release);
    json_decref(c->licenses);
}

int image_build(const struct image_spec *s, const struct build_opts *o)
{
    struct build_ctx c = {.spec = s, .opts = o, .family = pkg_family_ops(s->family), .log_fd = -1, .root_fd = -1};
    if (geteuid() != 0) {
        build_error(&c, "spec", "building the package tree needs root (mmdebstrap --mode=root / dnf --installroot); "
                                "run kiln build as root");
        return -EPERM;
    }
    double t0 = now_s();
    int r = build_setup(&c);
    bool bad_out = r == -ENOTDIR;
    if (r == 0) r = run_stages(&c);
    /* a failed build keeps its log beside the outputs (not with no output directory to keep it
     * in); an interrupted one keeps nothing: the user stopped it, and "no output kept" says so */
    if (r < 0 && c.work && !bad_out && !kiln_interrupted) keep_log(&c);
    _cleanup_free_ char *prefix = c.base ? xasprintf("%s/%s", o->out_dir, c.base) : NULL;
    /* removing the work directory (a whole root tree and disk, tens of seconds on a loaded
     * host) is part of the time "built in" says, and done when it is said */
    build_teardown(&c);
    /* a failed build leaves no empty output directory it made (its log, when kept, keeps it) */
    if (r < 0 && c.out_made) rmdir(o->out_dir);
    /* a successful build's outputs have no log beside them: an earlier failed build's goes */
    if (r == 0) {
        _cleanup_free_ char *stale = xasprintf("%s.build.log", prefix);
        if (unlink(stale) < 0 && errno != ENOENT) log_warn("cannot remove the failed build's log %s: %s", stale, strerror(errno));
        emit(&c, &(struct build_event){.kind = BUILD_DONE, .seconds = now_s() - t0, .path = prefix});
    }
    return r < 0 && kiln_interrupted ? -EINTR : bad_out ? -ENOTDIR : r < 0 ? -EIO : 0;
}
