/* Area update: a machine built with kiln's immutable layout and updater moves through the
 * update server the platform runs (feature update, docs/updates.md): an update applies and is
 * blessed, a version failing its health check rolls back by itself, a tampered payload is
 * refused, and auto: false applies nothing. Each case sets the rollout in the server's store,
 * starts the updater at once (kiln-updater-now.service, not waiting for the timer) and decides
 * with a pure function of decide.c. A machine an update case touched runs another version or
 * remembers a refused one: it is never reused for a later case. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <unistd.h>

#include "node/node.h"
#include "platform/platform.h"
#include "service/store.h"
#include "suites/decide.h"
#include "trust/minisign.h"
#include "util/fs.h"
#include "util/util.h"

#define UPDATER_RUN_S 1500 /* download, sha256 and dm-verity check of a /usr image under TCG */
#define BOOT_S 600

static const struct kiln_update_server *server_of(struct kiln_case_ctx *t)
{
    return t->plat ? t->plat->update : NULL;
}

/* A gallery file of version: GALLERY/images/NAME/VERSION/NAME-VERSION.SUFFIX (allocated). */
static char *gallery_file(const struct kiln_update_server *u, const char *version, const char *suffix)
{
    return xasprintf("%s/images/%s/%s/%s-%s%s", u->gallery, u->name, version, u->name, version, suffix);
}

/* The signed root hash of version (its update.json's verity.root_hash), allocated, or NULL. */
static char *roothash_of(const struct kiln_update_server *u, const char *version)
{
    _cleanup_free_ char *p = gallery_file(u, version, ".update.json");
    json_t *j = json_load_file(p, 0, NULL);
    const char *h = json_string_value(json_object_get(json_object_get(j, "verity"), "root_hash"));
    char *r = h ? xstrdup(h) : NULL;
    json_decref(j);
    return r;
}

static int store_of(struct kiln_case_ctx *t, struct kiln_store **st)
{
    const struct kiln_update_server *u = server_of(t);
    _cleanup_free_ char *url = xasprintf("sqlite:%s/kiln.db", u->data);
    char *err = NULL;
    int r = kiln_store_open(url, NULL, st, &err);
    if (r < 0) case_fail(t, "cannot open the update server's store %s: %s", url, err ? err : strerror(-r));
    free(err);
    return r;
}

/* kiln rollout set NAME CHANNEL --version target --percent 100 --pause-after-failures N */
static int rollout_to(struct kiln_case_ctx *t, const char *target, int pause_after)
{
    const struct kiln_update_server *u = server_of(t);
    struct kiln_store *st = NULL;
    if (store_of(t, &st) < 0) return -EIO;
    struct kiln_rollout ro = {.p = {.enabled = true, .permyriad = 10000, .period_ms = 3600 * 1000, .pause_after_failures = pause_after}};
    snprintf(ro.name, sizeof ro.name, "%s", u->name);
    snprintf(ro.channel, sizeof ro.channel, "%s", u->channel);
    snprintf(ro.p.target, sizeof ro.p.target, "%s", target);
    char *err = NULL;
    int r = kiln_store_rollout_set(st, &ro, &err);
    if (r < 0) case_fail(t, "kiln rollout set %s %s --version %s: %s", u->name, u->channel, target, err ? err : strerror(-r));
    else case_log(t, "rollout %s %s: %s at 100 %%%s", u->name, u->channel, target, pause_after ? ", pause after 1 failure" : "");
    free(err);
    kiln_store_close(st);
    return r;
}

/* The server's record of the rollout: failures (this target's) and pause state. */
struct status {
    struct kiln_rollout_status s;
    struct update_failure *f;
};

static int status_read(struct kiln_case_ctx *t, struct status *out)
{
    const struct kiln_update_server *u = server_of(t);
    struct kiln_store *st = NULL;
    if (store_of(t, &st) < 0) return -EIO;
    char *err = NULL;
    int r = kiln_store_rollout_status(st, u->name, u->channel, &out->s, &err);
    kiln_store_close(st);
    if (r < 0) {
        case_fail(t, "kiln rollout status %s %s: %s", u->name, u->channel, err ? err : strerror(-r));
        free(err);
        return r;
    }
    out->f = xcalloc(out->s.nfailures + 1, sizeof *out->f);
    for (size_t i = 0; i < out->s.nfailures; i++) {
        const struct kiln_update_failure *x = &out->s.failures[i];
        out->f[i] = (struct update_failure){.machine = x->machine_id, .version = x->version, .target = x->target,
                                            .errorcode = x->has_errorcode ? (int)x->errorcode : -1};
        case_log(t, "server: machine %s (%s) failed %s with error code %d", x->machine_id, x->version, x->target,
                 out->f[i].errorcode);
    }
    return 0;
}

static void status_free(struct status *s)
{
    kiln_rollout_status_free(&s->s);
    free(s->f);
}

/* The facts decide_update_*() look at, captured in one command. */
struct facts {
    struct gcap os, cmdline, entries, machine;
    struct update_facts f;
};

static int facts_read(struct kiln_case_ctx *t, struct facts *x)
{
    if (guest_capture(t, NULL, "cat /etc/os-release", &x->os) < 0 || guest_capture(t, NULL, "cat /proc/cmdline", &x->cmdline) < 0 ||
        guest_capture(t, NULL, "ls -1 /boot/efi/loader/entries", &x->entries) < 0 ||
        guest_capture(t, NULL, "cat /etc/machine-id", &x->machine) < 0)
        return -EIO;
    strstrip(x->machine.out);
    x->f = (struct update_facts){.os_release = x->os.out, .cmdline = x->cmdline.out, .entries = x->entries.out};
    return 0;
}

static void facts_free(struct facts *x)
{
    gcap_free(&x->os), gcap_free(&x->cmdline), gcap_free(&x->entries), gcap_free(&x->machine);
}

/* The node must run from (the runbook's image), have the updater and be pointed at this run's
 * server (the kiln-updater.conf credential made /run/kiln/updater.conf); platform.qemu.update
 * must name the versions the case needs (its target, its broken one). CASE_PASS, or the
 * case's skip or failure. */
static int precheck(struct kiln_case_ctx *t, bool need_target, bool need_broken, char **from)
{
    const struct kiln_update_server *u = server_of(t);
    if (!u) return case_skip(t, "the platform runs no update server (platform.qemu.update)");
    struct gcap c = {0};
    int r = guest_capture(t, NULL, "test -x /usr/lib/kiln/kiln-updater || exit 3; cat /run/kiln/updater.conf", &c);
    if (r < 0) return case_fail(t, "cannot run a command: %s", strerror(-r));
    if (c.status == 3) {
        gcap_free(&c);
        return case_skip(t, "the image has no kiln-updater (build it with updates:)");
    }
    bool pointed = c.status == 0 && strstr(c.out, u->guest_url);
    gcap_free(&c);
    if (!pointed)
        return case_fail(t, "/run/kiln/updater.conf does not name this run's server %s: the system credential kiln-updater.conf "
                            "did not reach the updater (systemd >= 252 and the image's tmpfiles.d/kiln-updater.conf are needed)",
                         u->guest_url);
    struct facts x = {0};
    if (facts_read(t, &x) < 0) return CASE_FAIL;
    *from = os_release_value(x.os.out, "IMAGE_VERSION");
    facts_free(&x);
    if (!*from) return case_fail(t, "/etc/os-release has no IMAGE_VERSION: not an image kiln built with the immutable layout");
    case_log(t, "the machine runs %s %s", u->name, *from);
    /* whatever happens next, this machine is not the runbook's image any more */
    t->env->bad = true;
    if ((need_target && !u->target) || (need_broken && !u->broken))
        return case_skip(t, "platform.qemu.update names no %s",
                         need_target && need_broken ? "target and broken versions"
                         : need_target              ? "target version"
                                                    : "broken version");
    return CASE_PASS;
}

/* Starts the updater at once and returns its log of this boot; *rebooting: the machine went
 * down (the updater reboots into a new slot), so the log is NULL. */
static int run_updater(struct kiln_case_ctx *t, char **log, bool *rebooting)
{
    *log = NULL;
    *rebooting = false;
    struct kiln_exec e;
    int r = node_exec(t->node, "systemctl start kiln-updater-now.service; echo \"kiln-updater-now: exit $?\"",
                      MIN(case_time_left(t), UPDATER_RUN_S), &e);
    bool ran = r == 0 && e.out && strstr(e.out, "kiln-updater-now: exit");
    kiln_exec_free(&e);
    struct gcap j = {0};
    if (guest_capture(t, NULL, "journalctl -b -o cat --no-pager -u kiln-updater-now.service -u kiln-updater.service", &j) < 0 ||
        j.status != 0) {
        /* no answer: the updater's reboot took the machine down */
        gcap_free(&j);
        if (!ran) *rebooting = true;
        return ran ? case_fail(t, "cannot read the updater's journal") : 0;
    }
    *log = j.out;
    j.out = NULL;
    gcap_free(&j);
    *rebooting = strstr(*log, "rebooting into") != NULL;
    return 0;
}

/* Waits for the machine's next boot after before (it reboots by itself). */
static int await_boot(struct kiln_case_ctx *t, const char *before)
{
    _cleanup_free_ char *why = NULL;
    if (node_await_boot(t->node, before, MIN(case_time_left(t), BOOT_S), &why) < 0)
        return case_fail(t, "the machine did not come back: %s", why);
    case_log(t, "back with boot id %s", t->node->boot_id);
    return 0;
}

/* The updater settles after a reboot (complete or rollback) on its next run: ask for it now. */
static void settle(struct kiln_case_ctx *t)
{
    char *log = NULL;
    bool rebooting;
    run_updater(t, &log, &rebooting);
    if (log) case_log(t, "updater after the reboot:\n%s", log);
    free(log);
}

/* Rolls out version (pausing after pause_after failures, 0: never), runs the updater and
 * requires it to install the version and reboot. *before gets the boot id from before the
 * reboot, for await_boot. CASE_PASS, or the case's failure (logged). */
static int install_offered(struct kiln_case_ctx *t, const char *version, int pause_after, char **before)
{
    if (node_read_boot_id(t->node) < 0) return case_fail(t, "cannot read the boot id");
    *before = xstrdup(t->node->boot_id);
    if (rollout_to(t, version, pause_after) < 0) return CASE_FAIL;
    _cleanup_free_ char *log = NULL;
    bool rebooting;
    if (run_updater(t, &log, &rebooting) < 0) return CASE_FAIL;
    if (log) case_log(t, "updater:\n%s", log);
    if (!rebooting) return case_fail(t, "the updater did not install %s and reboot: %s", version, log ? log : "(no log)");
    return CASE_PASS;
}

KILN_CASE(verify_update_apply,
          .area = "update", .priority = 3, .timeout_s = 3600,
          .description = "An update offered by the server is installed into the other slot, booted and blessed: the kernel "
                         "command line's usrhash and os-release name the new version",
          .requires = {.features = FEAT_UPDATE})
{
    const struct kiln_update_server *u = server_of(t);
    _cleanup_free_ char *from = NULL;
    int r = precheck(t, true, false, &from);
    if (r != CASE_PASS) return r;
    _cleanup_free_ char *root = roothash_of(u, u->target);
    if (!root) return case_fail(t, "%s %s has no readable update.json in %s", u->name, u->target, u->gallery);
    _cleanup_free_ char *before = NULL;
    if ((r = install_offered(t, u->target, 0, &before)) != CASE_PASS) return r;
    if (await_boot(t, before) < 0) return CASE_FAIL;
    /* blessing needs boot-complete.target: the health check and no failed unit, after multi-user */
    struct gcap w = {0};
    guest_capture(t, NULL, "systemctl is-system-running --wait >/dev/null 2>&1; systemctl start boot-complete.target; "
                           "systemctl is-active systemd-bless-boot.service", &w);
    gcap_free(&w);
    settle(t);
    struct facts x = {0};
    if (facts_read(t, &x) < 0) return CASE_FAIL;
    struct verdict v = {0};
    decide_update_applied(u->name, u->target, root, &x.f, &v);
    facts_free(&x);
    return case_verdict(t, &v);
}

/* Whether version's entry is blessed once this boot has finished starting: then the machine
 * keeps it, and waiting for a fallback boot would only run into the boot timeout (the decision
 * names what stayed). False when the machine went down meanwhile (the broken version's failed
 * check reboots it). */
static bool blessed_stays(struct kiln_case_ctx *t, const char *name, const char *version)
{
    _cleanup_free_ char *entry = xasprintf("/boot/efi/loader/entries/%s-%s.conf", name, version);
    _cleanup_free_ char *q = shell_quote(entry);
    _cleanup_free_ char *cmd = xasprintf("systemctl is-system-running --wait >/dev/null 2>&1; test -e %s", q);
    /* case_sh_on, not guest_capture: a lost connection here is the expected reboot, no failure */
    bool blessed = case_sh_on(t, t->node, cmd, NULL, NULL) == 0;
    if (blessed) case_log(t, "%s is blessed (%s): the machine keeps it", version, entry);
    return blessed;
}

KILN_CASE(verify_update_rollback,
          .area = "update", .priority = 3, .timeout_s = 4800,
          .description = "A version whose health check fails uses up its boot tries and the machine falls back by itself; "
                         "the server records the rollback (error 20) and pauses the rollout",
          .requires = {.features = FEAT_UPDATE})
{
    const struct kiln_update_server *u = server_of(t);
    _cleanup_free_ char *from = NULL;
    int r = precheck(t, false, true, &from);
    if (r != CASE_PASS) return r;
    _cleanup_free_ char *before = NULL;
    if ((r = install_offered(t, u->broken, 1, &before)) != CASE_PASS) return r;
    /* three counted boots of the broken version, each rebooted by its failed check, then the old one */
    _cleanup_free_ char *running = NULL;
    for (int boot = 1; boot <= 5; boot++) {
        if (await_boot(t, before) < 0) return CASE_FAIL;
        free(before);
        before = xstrdup(t->node->boot_id);
        struct gcap os = {0};
        if (guest_capture(t, NULL, "cat /etc/os-release", &os) < 0 || os.status != 0) {
            gcap_free(&os);
            continue; /* it went down again under us */
        }
        free(running);
        running = os_release_value(os.out, "IMAGE_VERSION");
        gcap_free(&os);
        case_log(t, "boot %d runs %s", boot, running ? running : "(no IMAGE_VERSION)");
        if (running && streq(running, from)) break;
        if (running && streq(running, u->broken) && blessed_stays(t, u->name, u->broken)) break;
    }
    settle(t);
    struct facts x = {0};
    struct status st = {0};
    if (facts_read(t, &x) < 0 || status_read(t, &st) < 0) {
        facts_free(&x);
        return CASE_FAIL;
    }
    struct verdict v = {0};
    decide_update_rolled_back(u->name, from, u->broken, &x.f, x.machine.out, st.f, st.s.nfailures, st.s.rollout.p.paused,
                              st.s.rollout.p.pause_reason, &v);
    facts_free(&x);
    status_free(&st);
    return case_verdict(t, &v);
}

/* A gallery file changed for the tampered case and put back on every path. */
struct saved {
    char *path;
    char *data;
    size_t len;
};

static int tamper_save(struct saved *s, const char *path)
{
    s->path = xstrdup(path);
    return read_file(path, (size_t)1 << 34, &s->data, &s->len);
}

static void tamper_restore(struct saved *s)
{
    if (s->data) write_file_atomic(s->path, s->data, s->len, 0644);
    free(s->path), free(s->data);
    *s = (struct saved){0};
}

/* One tampered offer: the rollout moves to version, the updater runs, nothing may boot it. */
static int tampered_offer(struct kiln_case_ctx *t, const char *from, const char *version, int want_code, const char *how)
{
    const struct kiln_update_server *u = server_of(t);
    if (rollout_to(t, version, 0) < 0) return CASE_FAIL;
    _cleanup_free_ char *log = NULL;
    bool rebooting;
    if (run_updater(t, &log, &rebooting) < 0) return CASE_FAIL;
    if (log) case_log(t, "updater (%s):\n%s", how, log);
    if (rebooting) return case_fail(t, "%s: the updater installed %s and rebooted", how, version);
    struct facts x = {0};
    struct status st = {0};
    if (facts_read(t, &x) < 0 || status_read(t, &st) < 0) {
        facts_free(&x);
        return CASE_FAIL;
    }
    struct verdict v = {0};
    enum verdict_kind k = decide_update_refused(u->name, from, version, want_code, &x.f, x.machine.out, st.f, st.s.nfailures, &v);
    facts_free(&x);
    status_free(&st);
    if (k != VERDICT_PASS) {
        int rc = case_fail(t, "%s: %s", how, v.reason ? v.reason : "");
        verdict_free(&v);
        return rc;
    }
    case_log(t, "%s: %s", how, v.reason);
    verdict_free(&v);
    return CASE_PASS;
}

KILN_CASE(verify_update_tampered,
          .area = "update", .priority = 3, .timeout_s = 3600,
          .description = "An update signed by a key the image does not trust, or with one byte of its /usr image flipped, is "
                         "refused before any boot entry points at it; the machine stays and reports the error code",
          .requires = {.features = FEAT_UPDATE})
{
    const struct kiln_update_server *u = server_of(t);
    _cleanup_free_ char *from = NULL;
    int r = precheck(t, true, true, &from);
    if (r != CASE_PASS) return r;
    /* 1: update.json signed by a key the gallery does not use: the runbook's untrusted_key
     * (so a defect image can be made that trusts it), else one this case makes */
    _cleanup_free_ char *sig = gallery_file(u, u->target, ".update.json.minisig");
    _cleanup_free_ char *manifest = gallery_file(u, u->target, ".update.json");
    _cleanup_free_ char *kbase = path_join(t->dir, "untrusted");
    _cleanup_free_ char *kpath = u->untrusted_key ? xstrdup(u->untrusted_key) : xasprintf("%s.key", kbase);
    char *err = NULL;
    struct saved s = {0};
    r = u->untrusted_key ? 0 : ms_keygen(kbase, NULL, &err);
    if (r == 0 && tamper_save(&s, sig) < 0) r = -EIO, err = xasprintf("cannot read %s", sig);
    if (r == 0) r = ms_sign(kpath, NULL, manifest, "signed by a key the image does not trust", &err);
    if (r < 0) {
        tamper_restore(&s);
        int rc = case_fail(t, "cannot sign %s with another key: %s", manifest, err ? err : strerror(-r));
        free(err);
        return rc;
    }
    case_log(t, "%s now carries a signature by key %s", sig, kpath);
    r = tampered_offer(t, from, u->target, 13, "update.json signed by an untrusted key");
    tamper_restore(&s);
    if (r != CASE_PASS) return r;
    /* 2: one byte of the /usr image flipped in the gallery (its signature no longer matches) */
    _cleanup_free_ char *usr = gallery_file(u, u->broken, ".usr.img");
    int fd = open(usr, O_RDWR | O_CLOEXEC);
    unsigned char byte = 0;
    const off_t at = 1 << 20;
    if (fd < 0 || pread(fd, &byte, 1, at) != 1) {
        if (fd >= 0) close(fd);
        return case_fail(t, "cannot read %s: %s", usr, strerror(errno));
    }
    unsigned char flipped = byte ^ 0x01;
    r = pwrite(fd, &flipped, 1, at) == 1 ? 0 : -errno;
    if (r == 0) {
        case_log(t, "flipped the byte at offset %lld of %s", (long long)at, usr);
        r = tampered_offer(t, from, u->broken, 12, "a /usr image with one byte flipped");
    } else r = case_fail(t, "cannot write %s: %s", usr, strerror(-r));
    if (pwrite(fd, &byte, 1, at) != 1) case_log(t, "could not put back the byte of %s: %s", usr, strerror(errno));
    close(fd);
    return r;
}

KILN_CASE(verify_update_opt_out,
          .area = "update", .priority = 3, .timeout_s = 1800,
          .description = "With auto: false the updater checks and reports, and applies nothing although an update is offered",
          .requires = {.features = FEAT_UPDATE})
{
    const struct kiln_update_server *u = server_of(t);
    _cleanup_free_ char *from = NULL;
    int r = precheck(t, true, false, &from);
    if (r != CASE_PASS) return r;
    /* the machine's owner opts out as the spec's auto: false does: auto=false in updater.conf;
     * then the updater's lock is taken once, so a timer run that read the old configuration
     * before the edit has ended before the rollout offers anything (such a run installed 1.0.1
     * in the first end-to-end run: it checked after the rollout was set) */
    if (guest_sh_ok(t, "opting out", "sed -i 's/^auto=.*/auto=false/' /etc/kiln/updater.conf && grep -qx auto=false "
                                     "/etc/kiln/updater.conf && flock /run/kiln-updater.lock true", NULL) != 0)
        return CASE_FAIL;
    if (rollout_to(t, u->target, 0) < 0) return CASE_FAIL;
    _cleanup_free_ char *log = NULL;
    bool rebooting;
    if (run_updater(t, &log, &rebooting) < 0) return CASE_FAIL;
    if (log) case_log(t, "updater:\n%s", log);
    if (rebooting) return case_fail(t, "with auto: false the updater installed %s and rebooted", u->target);
    struct facts x = {0};
    if (facts_read(t, &x) < 0) return CASE_FAIL;
    struct verdict v = {0};
    decide_update_opted_out(u->name, from, u->target, &x.f, log, &v);
    facts_free(&x);
    return case_verdict(t, &v);
}
