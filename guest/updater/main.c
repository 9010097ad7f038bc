/* kiln-updater: moves an immutable kiln image to the next version its update server offers
 * (docs/updates.md). Started by kiln-updater.timer; each run:
 *   1. settles a pending update after a reboot (complete once the new version runs blessed,
 *      rollback when the machine came back on the old one) and reports it;
 *   2. when the next check is due (interval with jitter, back-off after errors; --now: at
 *      once) sends an Omaha update check;
 *   3. with auto on and a newer version offered: downloads update.json and its signature,
 *      verifies them with the trusted keys baked into the image, streams the /usr image and
 *      hash tree into the inactive slot's partitions and the kernel and initrd onto the ESP
 *      (sha256 of each), verifies the slot's dm-verity root hash, and only then writes a
 *      boot entry for it with three tries, and reboots (or waits, reboot=false).
 * The decisions are state.c's; this file does the I/O. Messages go to stderr (the journal). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/fs.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "boot.h"
#include "http.h"
#include "state.h"
#include "store.h"
#include "trust/minisign.h"
#include "update/omaha.h"
#include "util/fs.h"
#include "util/util.h"
#include "verity.h"

/* EXIT_RETRY (sysexits' EX_TEMPFAIL): the server could not be asked and the back-off is
 * scheduled; the units count it a success (SuccessExitStatus=), so a machine whose server is
 * away has no failed unit (it would fail smoke and verify_console_clean, and
 * systemd-boot-check-no-failures on a counted boot). */
enum { TIMEOUT_S = 60, TRIES = 3, MANIFEST_MAX = 1 << 20, EXIT_RETRY = 75 };

struct cfg {
    char *server, *channel, *esp, *keys_dir, *state_path, *root; /* root: "" or a test prefix */
    struct upd_config upd;
};

static struct cfg C;
static char appid[OMAHA_TOKEN_MAX + 1], running[UPD_VERSION_MAX], machine_id[64], boot_id[40];

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kiln-updater: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static char *at(const char *path) { return xasprintf("%s%s", C.root, path); }

/* The first line of a small file, stripped, into buf. */
static int read_line_file(const char *path, char *buf, size_t n)
{
    _cleanup_free_ char *p = at(path);
    char *text = NULL;
    size_t len;
    int r = read_file(p, 64 << 10, &text, &len);
    if (r < 0) return r;
    char *nl = strchr(text, '\n');
    if (nl) *nl = 0;
    snprintf(buf, n, "%s", strstrip(text));
    free(text);
    return 0;
}

/* KEY=value from os-release (quotes removed). */
static int os_release(const char *key, char *buf, size_t n)
{
    _cleanup_free_ char *p = at("/usr/lib/os-release");
    char *text = NULL;
    size_t len;
    int r = read_file(p, 64 << 10, &text, &len);
    if (r < 0) return r;
    r = -ENOENT;
    size_t kl = strlen(key);
    for (char *s = NULL, *line = strtok_r(text, "\n", &s); line; line = strtok_r(NULL, "\n", &s)) {
        if (strncmp(line, key, kl) || line[kl] != '=') continue;
        char *v = line + kl + 1;
        size_t vl = strlen(v);
        if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) v[vl - 1] = 0, v++;
        r = strlen(v) < n && omaha_token_ok(v) ? 0 : -EINVAL;
        if (r == 0) snprintf(buf, n, "%s", v);
    }
    free(text);
    return r;
}

/* The image's configuration, then the provisioning override (docs/updates.md): a machine's
 * provider can point it at another server or channel without rebuilding the image. */
static int load_config(const char *path, const char *override)
{
    C.upd = (struct upd_config){.auto_apply = false, .reboot = true, .interval_s = 3600, .jitter_s = 600,
                                .backoff_base_s = 60, .backoff_max_s = 6 * 3600};
    const char *paths[] = {path, override};
    for (size_t i = 0; i < 2; i++) {
        char *text = NULL;
        size_t len;
        int line = 0, r = read_file(paths[i], 64 << 10, &text, &len);
        if (r == -ENOENT && i == 1) continue;
        if (r < 0) {
            say("cannot read %s: %s", paths[i], strerror(-r));
            return r;
        }
        r = upd_config_apply(text, &C.upd, &C.server, &C.channel, &line);
        free(text);
        if (r < 0) {
            say("%s:%d: not a known key=value (server, channel, auto, reboot, interval, jitter, backoff_base, backoff_max)",
                paths[i], line);
            return r;
        }
    }
    if (!C.server || !C.channel || !omaha_token_ok(C.channel)) {
        say("%s: server= and channel= are required", path);
        return -EINVAL;
    }
    return 0;
}

/* Durably (store.h): the pending install must survive the reboot into the new slot and
 * every boot until the machine falls back. */
static void save_state(const struct upd_state *s)
{
    int r = upd_store_save(C.state_path, s);
    if (r < 0) say("cannot write %s: %s", C.state_path, strerror(-r));
}

/* ---- Omaha ---- */

static int sink_mem(void *ctx, const void *p, size_t n)
{
    sbuf_append(ctx, p, n);
    return 0;
}

/* One Omaha exchange: the events, and an update check when check is set. */
static int omaha(const struct upd_event *ev, size_t nev, bool check, struct omaha_app_response *out)
{
    struct omaha_request q = {.napps = 1};
    struct utsname u;
    uname(&u);
    snprintf(q.client, sizeof q.client, "kiln-updater-" KILN_VERSION);
    snprintf(q.os_platform, sizeof q.os_platform, "linux");
    snprintf(q.os_arch, sizeof q.os_arch, "%s", u.machine);
    struct omaha_app_request *a = &q.apps[0];
    snprintf(a->appid, sizeof a->appid, "%s", appid);
    snprintf(a->version, sizeof a->version, "%s", running);
    snprintf(a->track, sizeof a->track, "%s", C.channel);
    snprintf(a->machineid, sizeof a->machineid, "%s", machine_id);
    snprintf(a->bootid, sizeof a->bootid, "%s", boot_id);
    a->updatecheck = check;
    a->ping = check;
    for (size_t i = 0; i < nev && i < OMAHA_EVENTS_MAX; i++) {
        a->events[a->nevents++] = (struct omaha_event){.type = (int)ev[i].type, .result = (int)ev[i].result,
                                                      .errorcode = ev[i].code, .has_errorcode = ev[i].code != 0};
        snprintf(a->events[i].previousversion, sizeof a->events[i].previousversion, "%s", ev[i].previous);
    }
    _cleanup_free_ char *why = NULL;
    char *doc = NULL;
    size_t len = 0;
    int r = omaha_request_write(&q, &doc, &len, &why);
    if (r < 0) {
        say("cannot write the Omaha request: %s", why);
        return r;
    }
    struct sbuf body = {0};
    int status = 0;
    r = http_request("POST", C.server, "text/xml", doc, len, sink_mem, &body, OMAHA_DOC_MAX, TIMEOUT_S, &status, &why);
    free(doc);
    struct omaha_response resp;
    if (r == 0 && status != 200) {
        /* a refusal is an Omaha response too: its kiln_error says why */
        bool told = omaha_response_parse(body.s ? body.s : "", body.len, &resp, &why) == 0 && resp.error[0];
        say("%s answered HTTP %d%s%s", C.server, status, told ? ": " : "", told ? resp.error : "");
        r = -EPROTO;
    } else if (r < 0) say("%s", why);
    if (r == 0 && (r = omaha_response_parse(body.s ? body.s : "", body.len, &resp, &why)) < 0)
        say("the server's Omaha response is malformed: %s", why);
    sbuf_free(&body);
    if (r < 0) return r;
    for (size_t i = 0; i < resp.napps; i++)
        if (streq(resp.apps[i].appid, appid)) {
            if (out) *out = resp.apps[i];
            if (!streq(resp.apps[i].status, "ok")) {
                say("the server answers %s for %s%s%s", resp.apps[i].status, appid, resp.apps[i].error[0] ? ": " : "",
                    resp.apps[i].error);
                return -ENOENT;
            }
            return 0;
        }
    say("the server's response has no app %s", appid);
    return -EPROTO;
}

static void report(const struct upd_out *o)
{
    for (size_t i = 0; i < o->nevents; i++) {
        char tb[16], rb[16];
        say("event %s %s%s%.0d", omaha_event_type_name((int)o->events[i].type, tb),
            omaha_event_result_name((int)o->events[i].result, rb), o->events[i].code ? " errorcode " : "", o->events[i].code);
    }
    /* events are best effort: a lost one leaves the server one state behind until the next */
    if (o->nevents && omaha(o->events, o->nevents, false, NULL) < 0) say("the events were not delivered");
}

static void report_one(enum upd_event_type t)
{
    struct upd_out o = {.nevents = 1};
    o.events[0] = (struct upd_event){.type = t, .result = UPD_RES_SUCCESS};
    snprintf(o.events[0].previous, sizeof o.events[0].previous, "%s", running);
    report(&o);
}

/* ---- slots ---- */

struct slot {
    char *data, *hash;            /* device paths */
    char data_uuid[40], hash_uuid[40];
};

static char *real(const char *p)
{
    _cleanup_free_ char *q = at(p);
    return realpath(q, NULL);
}

/* The lower-case PARTUUID whose /dev/disk/by-partuuid link resolves to dev. */
static int partuuid_of(const char *dev, char *out, size_t n)
{
    _cleanup_free_ char *dir = at("/dev/disk/by-partuuid");
    DIR *d = opendir(dir);
    struct dirent *de;
    int r = -ENOENT;
    while (d && r < 0 && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        _cleanup_free_ char *p = xasprintf("/dev/disk/by-partuuid/%s", de->d_name);
        _cleanup_free_ char *rp = real(p);
        if (rp && streq(rp, dev) && strlen(de->d_name) < n) {
            snprintf(out, n, "%s", de->d_name);
            r = 0;
        }
    }
    if (d) closedir(d);
    return r;
}

/* The slot /usr does not run from: the other of usr-a/usr-b (GPT partition names). */
static int inactive_slot(const char *cmdline, struct slot *s)
{
    _cleanup_free_ char *data = boot_cmdline_get(cmdline, "systemd.verity_usr_data");
    if (!data || !startswith(data, "PARTUUID=")) {
        say("the kernel command line has no systemd.verity_usr_data=PARTUUID=: not kiln's immutable layout");
        return -ENOENT;
    }
    for (char *p = data; *p; p++) *p = (char)tolower((unsigned char)*p);
    _cleanup_free_ char *cur_link = xasprintf("/dev/disk/by-partuuid/%s", data + 9);
    _cleanup_free_ char *cur = real(cur_link);
    _cleanup_free_ char *a = real("/dev/disk/by-partlabel/usr-a");
    _cleanup_free_ char *b = real("/dev/disk/by-partlabel/usr-b");
    if (!cur || !a || !b) {
        say("cannot find the slots (/dev/disk/by-partlabel/usr-a, usr-b) and the running one");
        return -ENOENT;
    }
    const char *other = streq(cur, a) ? "usr-b" : streq(cur, b) ? "usr-a" : NULL;
    if (!other) {
        say("/usr runs from %s, which is neither slot", cur);
        return -ENOENT;
    }
    _cleanup_free_ char *dl = xasprintf("/dev/disk/by-partlabel/%s", other);
    _cleanup_free_ char *hl = xasprintf("/dev/disk/by-partlabel/%s-verity", other);
    s->data = real(dl);
    s->hash = real(hl);
    if (!s->data || !s->hash || partuuid_of(s->data, s->data_uuid, sizeof s->data_uuid) < 0 ||
        partuuid_of(s->hash, s->hash_uuid, sizeof s->hash_uuid) < 0) {
        say("cannot find the partitions of slot %s", other);
        return -ENOENT;
    }
    return 0;
}

static uint64_t dev_size(int fd)
{
    uint64_t n = 0;
    struct stat st;
    if (ioctl(fd, BLKGETSIZE64, &n) == 0) return n;
    return fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0; /* a file standing in for a partition */
}

/* ---- downloads ---- */

struct fsink {
    int fd;
    uint64_t off;
    crypto_hash_sha256_state sha;
};

static int sink_file(void *ctx, const void *p, size_t n)
{
    struct fsink *f = ctx;
    crypto_hash_sha256_update(&f->sha, p, n);
    for (size_t done = 0; done < n;) {
        ssize_t k = pwrite(f->fd, (const char *)p + done, n - done, (off_t)(f->off + done));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -errno;
        done += (size_t)k;
    }
    f->off += n;
    return 0;
}

/* Streams codebase+name (exactly size bytes with this sha256) into fd from offset 0. */
static enum upd_error fetch_to(const char *codebase, const char *name, uint64_t size, const char *sha_hex, int fd)
{
    _cleanup_free_ char *url = xasprintf("%s%s", codebase, name);
    struct fsink f = {.fd = fd};
    crypto_hash_sha256_init(&f.sha);
    _cleanup_free_ char *why = NULL;
    int status = 0;
    int r = http_request("GET", url, NULL, NULL, 0, sink_file, &f, size, TIMEOUT_S, &status, &why);
    if (r == -EFBIG) {
        say("%s is larger than the %llu bytes update.json gives", url, (unsigned long long)size);
        return UPD_ERR_TOO_LARGE;
    }
    if (r < 0 || status != 200 || f.off != size) {
        if (r < 0 && f.off && (r == -ENOSPC || r == -EIO)) return say("cannot write %s: %s", name, strerror(-r)), UPD_ERR_WRITE;
        say("cannot download %s: %s", url, r < 0 ? why : status != 200 ? "HTTP error" : "short body");
        return UPD_ERR_DOWNLOAD;
    }
    if (fdatasync(fd) < 0 && errno != EINVAL) return say("cannot write %s: %s", name, strerror(errno)), UPD_ERR_WRITE;
    uint8_t md[32];
    char hex[65];
    crypto_hash_sha256_final(&f.sha, md);
    sodium_bin2hex(hex, sizeof hex, md, sizeof md);
    if (!streq(hex, sha_hex)) {
        say("%s has sha256 %s, update.json says %s", name, hex, sha_hex);
        return UPD_ERR_DIGEST;
    }
    return UPD_ERR_NONE;
}

/* A file entry of update.json: a plain name, a size, a sha256. */
static bool file_ok(json_t *o, const char **name, uint64_t *size, const char **sha)
{
    *name = json_string_value(json_object_get(o, "file"));
    *sha = json_string_value(json_object_get(o, "sha256"));
    json_t *sz = json_object_get(o, "size");
    if (!*name || !omaha_token_ok(*name) || strchr(*name, '/') || !*sha || strlen(*sha) != 64 ||
        strspn(*sha, "0123456789abcdef") != 64 || !json_is_integer(sz) || json_integer_value(sz) <= 0)
        return false;
    *size = (uint64_t)json_integer_value(sz);
    return true;
}

/* Removes every boot entry that boots the slot about to be overwritten (and its kernel
 * directory when it is a versioned one of this image), so nothing ever points at a slot
 * while it is being written. */
static int drop_entries_for(const char *partuuid)
{
    _cleanup_free_ char *dir = xasprintf("%s%s/loader/entries", C.root, C.esp);
    DIR *d = opendir(dir);
    if (!d) return -errno;
    struct dirent *de;
    int r = 0;
    while ((de = readdir(d))) {
        if (!endswith(de->d_name, ".conf")) continue;
        _cleanup_free_ char *p = path_join(dir, de->d_name);
        char *text = NULL;
        size_t len;
        if (read_file(p, 64 << 10, &text, &len) < 0) continue;
        if (boot_entry_uses(text, partuuid)) {
            say("removing boot entry %s (it boots the slot to be written)", de->d_name);
            if (unlink(p) < 0) r = -errno;
            /* and its kernel and initrd: the ESP (sized for about two) would fill up on the
             * second update of a machine otherwise */
            _cleanup_free_ char *kd = r == 0 ? boot_entry_kernel_dir(text, appid) : NULL;
            if (kd) {
                const char *files[] = {"linux", "initrd"};
                for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
                    _cleanup_free_ char *f = xasprintf("%s%s/%s/%s", C.root, C.esp, kd, files[i]);
                    if (unlink(f) < 0 && errno != ENOENT) say("cannot remove %s: %s", f, strerror(errno));
                }
                _cleanup_free_ char *dk = xasprintf("%s%s/%s", C.root, C.esp, kd);
                rmdir(dk); /* only when empty */
            }
        }
        free(text);
    }
    closedir(d);
    return r;
}

/* The trusted keys are every *.pub in the keys directory; 0 when the manifest m is signed
 * by one of them (sigtext is the detached minisign signature), -ENOKEY when there is none. */
static int verify_manifest(const struct sbuf *m, const char *pkgname, const char *sigtext, char **err)
{
    char *keys[16];
    size_t nkeys = 0;
    _cleanup_free_ char *kdir = at(C.keys_dir);
    DIR *d = opendir(kdir);
    struct dirent *de;
    while (d && nkeys < 16 && (de = readdir(d)))
        if (endswith(de->d_name, ".pub")) keys[nkeys++] = path_join(kdir, de->d_name);
    if (d) closedir(d);
    int r = nkeys ? ms_verify_data_trusted((const char *const *)keys, nkeys, m->s ? m->s : "", m->len, pkgname,
                                           sigtext ? sigtext : "", "update.json.minisig", NULL, NULL, err)
                  : -ENOKEY;
    for (size_t i = 0; i < nkeys; i++) free(keys[i]);
    return r;
}

/* update.json and its signature, verified before anything is parsed or written; on
 * UPD_ERR_NONE *m holds the manifest (the caller frees it). */
static enum upd_error fetch_manifest(const struct omaha_app_response *app, struct sbuf *m)
{
    const char *codebase = app->urls[0];
    const struct omaha_package *pkg = &app->packages[0];
    _cleanup_free_ char *murl = xasprintf("%s%s", codebase, pkg->name);
    _cleanup_free_ char *surl = xasprintf("%s%s", codebase, app->kiln_signature[0] ? app->kiln_signature : "");
    if (!app->kiln_signature[0]) {
        free(surl);
        surl = xasprintf("%s%s.minisig", codebase, pkg->name);
    }
    struct sbuf sig = {0};
    _cleanup_free_ char *why = NULL;
    int st1 = 0, st2 = 0;
    int r = http_request("GET", murl, NULL, NULL, 0, sink_mem, m, (uint64_t)pkg->size, TIMEOUT_S, &st1, &why);
    if (r == 0) r = http_request("GET", surl, NULL, NULL, 0, sink_mem, &sig, MS_SIG_MAX, TIMEOUT_S, &st2, &why);
    if (r < 0 || st1 != 200 || st2 != 200) {
        say("cannot download the update manifest: %s", r < 0 ? why : "HTTP error");
        sbuf_free(m), sbuf_free(&sig);
        return UPD_ERR_DOWNLOAD;
    }
    uint8_t md[32];
    char hex[65];
    crypto_hash_sha256((uint8_t *)md, (const uint8_t *)(m->s ? m->s : ""), m->len);
    sodium_bin2hex(hex, sizeof hex, md, sizeof md);
    if (pkg->hash_sha256[0] && !streq(hex, pkg->hash_sha256)) {
        say("%s has sha256 %s, the server offered %s", pkg->name, hex, pkg->hash_sha256);
        sbuf_free(m), sbuf_free(&sig);
        return UPD_ERR_DIGEST;
    }
    char *err = NULL, *sigtext = sbuf_steal(&sig);
    r = verify_manifest(m, pkg->name, sigtext, &err);
    free(sigtext);
    if (r < 0) {
        say("the update manifest is refused: %s", err ? err : "no trusted key in the image");
        free(err);
        sbuf_free(m);
        return UPD_ERR_SIGNATURE;
    }
    return UPD_ERR_NONE;
}

/* What a signed update.json gives: its four files (usr, verity, kernel, initrd, in that
 * order) and the /usr root hash; the strings point into u. */
struct manifest {
    json_t *u;
    const char *root;
    const char *fname[4], *fsha[4];
    uint64_t fsize[4];
};

/* Parses the verified manifest m (freed here) and checks that it is the update offered for
 * this image, version and machine; the caller json_decrefs mf->u either way. */
static enum upd_error parse_manifest(const struct omaha_app_response *app, struct sbuf *m, struct manifest *mf)
{
    json_error_t je;
    json_t *u = mf->u = json_loadb(m->s, m->len, JSON_REJECT_DUPLICATES, &je);
    sbuf_free(m);
    struct utsname un;
    uname(&un);
    const char *root = mf->root = json_string_value(json_object_get(json_object_get(u, "verity"), "root_hash"));
    const char *kinds[] = {"usr", "verity", "kernel", "initrd"};
    bool ok = u && streq(json_string_value(json_object_get(u, "format")), "kiln-update/1") &&
              streq(json_string_value(json_object_get(u, "name")), appid) &&
              streq(json_string_value(json_object_get(u, "version")), app->version) &&
              streq(json_string_value(json_object_get(u, "arch")), un.machine) && root && strlen(root) == 64 &&
              strspn(root, "0123456789abcdef") == 64 && (!app->kiln_roothash[0] || streq(app->kiln_roothash, root));
    for (int i = 0; ok && i < 4; i++)
        ok = file_ok(json_object_get(u, kinds[i]), &mf->fname[i], &mf->fsize[i], &mf->fsha[i]);
    if (!ok) {
        say("the signed update manifest does not describe %s %s for %s (format kiln-update/1, files, root hash)", appid,
            app->version, un.machine);
        return UPD_ERR_MANIFEST;
    }
    return UPD_ERR_NONE;
}

/* Writes /usr and its hash tree into the inactive slot s (found from cmdline) and checks it
 * against the root hash: nothing may point at the slot while it is written. */
static enum upd_error write_slot(const char *codebase, const char *cmdline, const struct manifest *mf, struct slot *s)
{
    enum upd_error e = UPD_ERR_NONE;
    int dfd = -1, hfd = -1;
    _cleanup_free_ char *why = NULL;
    if (inactive_slot(cmdline, s) < 0) e = UPD_ERR_WRITE;
    if (!e && drop_entries_for(s->data_uuid) < 0) e = UPD_ERR_BOOT_ENTRY;
    if (!e && ((dfd = open(s->data, O_RDWR | O_CLOEXEC)) < 0 || (hfd = open(s->hash, O_RDWR | O_CLOEXEC)) < 0)) {
        say("cannot open the inactive slot %s, %s: %s", s->data, s->hash, strerror(errno));
        e = UPD_ERR_WRITE;
    }
    uint64_t dsz = dfd >= 0 ? dev_size(dfd) : 0, hsz = hfd >= 0 ? dev_size(hfd) : 0;
    if (!e && (mf->fsize[0] > dsz || mf->fsize[1] > hsz)) {
        say("the /usr image (%llu bytes) or its hash tree (%llu) is larger than the slot (%llu, %llu)",
            (unsigned long long)mf->fsize[0], (unsigned long long)mf->fsize[1], (unsigned long long)dsz,
            (unsigned long long)hsz);
        e = UPD_ERR_TOO_LARGE;
    }
    if (!e) e = fetch_to(codebase, mf->fname[0], mf->fsize[0], mf->fsha[0], dfd);
    if (!e) e = fetch_to(codebase, mf->fname[1], mf->fsize[1], mf->fsha[1], hfd);
    if (!e && verity_verify(dfd, dsz, hfd, hsz, mf->root, &why) < 0) {
        say("the slot does not verify against root hash %s: %s", mf->root, why);
        e = UPD_ERR_VERITY;
    }
    if (dfd >= 0) close(dfd);
    if (hfd >= 0) close(hfd);
    return e;
}

/* kernel and initrd: ESP/NAME/VERSION/, written beside and renamed */
static enum upd_error write_kernel(const char *codebase, const char *version, const struct manifest *mf)
{
    _cleanup_free_ char *kdir = xasprintf("%s%s/%s/%s", C.root, C.esp, appid, version);
    const char *kn[] = {"linux", "initrd"};
    enum upd_error e = UPD_ERR_NONE;
    for (int i = 0; !e && i < 2; i++) {
        mkdir_p(kdir, 0700);
        _cleanup_free_ char *dst = path_join(kdir, kn[i]);
        _cleanup_free_ char *tmp = xasprintf("%s.tmp", dst);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            say("cannot write %s: %s", tmp, strerror(errno));
            return UPD_ERR_WRITE;
        }
        e = fetch_to(codebase, mf->fname[2 + i], mf->fsize[2 + i], mf->fsha[2 + i], fd);
        close(fd);
        if (!e && rename(tmp, dst) < 0) e = UPD_ERR_WRITE;
        if (e) unlink(tmp);
    }
    return e;
}

/* The boot entry (with its tries counter) for the written slot, and loader.conf's default
 * pointing at it: only now does an entry point at the slot. */
static enum upd_error write_boot_entry(const char *version, const char *cmdline, const char *root, const struct slot *s)
{
    _cleanup_free_ char *opts = boot_cmdline_for_slot(cmdline, root, s->data_uuid, s->hash_uuid);
    _cleanup_free_ char *name = boot_entry_name(appid, version, TRIES);
    _cleanup_free_ char *text = opts ? boot_entry_text(appid, version, opts) : NULL;
    _cleanup_free_ char *path = xasprintf("%s%s/loader/entries/%s", C.root, C.esp, name);
    _cleanup_free_ char *lpath = xasprintf("%s%s/loader/loader.conf", C.root, C.esp);
    char *ltext = NULL;
    size_t llen;
    _cleanup_free_ char *lnew = read_file(lpath, 64 << 10, &ltext, &llen) == 0 ? boot_loader_conf(ltext, appid) : NULL;
    free(ltext);
    if (!text || !lnew || upd_write_durable(path, text, strlen(text), 0600) < 0 ||
        upd_write_durable(lpath, lnew, strlen(lnew), 0600) < 0) {
        say("cannot write the boot entry %s", path);
        return UPD_ERR_BOOT_ENTRY;
    }
    say("installed %s %s into %s; boot entry %s", appid, version, s->data, name);
    return UPD_ERR_NONE;
}

static enum upd_error install(const struct omaha_app_response *app, const char *cmdline)
{
    if (!app->nurls || !app->npackages) return UPD_ERR_MANIFEST;
    const char *codebase = app->urls[0];
    const struct omaha_package *pkg = &app->packages[0];
    if (!endswith(pkg->name, ".update.json") || pkg->size > MANIFEST_MAX) {
        say("the offered package %s is not a kiln update.json", pkg->name);
        return UPD_ERR_MANIFEST;
    }
    report_one(UPD_EV_DOWNLOAD_STARTED);
    struct sbuf m = {0};
    enum upd_error e = fetch_manifest(app, &m);
    if (e) return e;
    struct manifest mf = {0};
    e = parse_manifest(app, &m, &mf);
    struct slot s = {0};
    if (!e) e = write_slot(codebase, cmdline, &mf, &s);
    if (!e) e = write_kernel(codebase, app->version, &mf);
    if (!e) report_one(UPD_EV_DOWNLOAD_FINISHED);
    if (!e) e = write_boot_entry(app->version, cmdline, mf.root, &s);
    json_decref(mf.u);
    free(s.data), free(s.hash);
    return e;
}

/* Whether the running version's boot entry has no counter left. */
static bool running_blessed(void)
{
    _cleanup_free_ char *dir = xasprintf("%s%s/loader/entries", C.root, C.esp);
    _cleanup_free_ char *want = xasprintf("%s-%s.conf", appid, running);
    DIR *d = opendir(dir);
    struct dirent *de;
    bool blessed = false;
    while (d && (de = readdir(d))) {
        _cleanup_free_ char *id = boot_entry_id(de->d_name);
        if (id && streq(id, want)) blessed = boot_entry_blessed(de->d_name);
    }
    if (d) closedir(d);
    return blessed;
}

static uint32_t rnd(void)
{
    uint32_t v = 0;
    if (getrandom(&v, sizeof v, 0) != sizeof v) v = (uint32_t)time(NULL);
    return v;
}

static int usage(void)
{
    fprintf(stderr, "usage: kiln-updater [--now] [--config FILE] [--override FILE] [--state FILE] [--root DIR]\n"
                    "       kiln-updater status [--state FILE]\n");
    return 2;
}

/* kiln-updater status: the saved state on stdout (a damaged one shows as a fresh one). */
static int print_status(void)
{
    struct upd_state s = {0};
    char *text = NULL;
    size_t len;
    if (read_file(C.state_path, 64 << 10, &text, &len) == 0 && upd_state_parse(text, &s) < 0) {
        say("%s is damaged; a run starts from a fresh state", C.state_path);
        memset(&s, 0, sizeof s);
    }
    free(text);
    _cleanup_free_ char *t = upd_state_format(&s);
    fputs(t ? t : "", stdout);
    return 0;
}

/* Takes the run lock (held until the process ends) and reads *s, the configuration and the
 * running image's name and version under it; -1 after saying why it cannot run.
 * The timer's run and an asked-for one (kiln-updater-now.service) never write a slot at
 * once; the state and the configuration are read under the lock, so a run that waited for
 * another one sees them as that one left them (the install it recorded, an owner's
 * auto=false written meanwhile), never its own stale copy to save over them. */
static int begin_run(const char *config, const char *override, struct upd_state *s)
{
    _cleanup_free_ char *lock_path = at("/run/kiln-updater.lock");
    bool damaged = false;
    int lock = upd_store_open(lock_path, C.state_path, s, &damaged);
    if (lock < 0) {
        say("cannot lock %s: %s", lock_path, strerror(-lock));
        return -1;
    }
    if (damaged) say("%s is damaged; starting from a fresh state", C.state_path);
    if (load_config(config, override) < 0) return -1;
    if (os_release("IMAGE_ID", appid, sizeof appid) < 0 || os_release("IMAGE_VERSION", running, sizeof running) < 0) {
        say("/usr/lib/os-release has no valid IMAGE_ID and IMAGE_VERSION: not an image kiln built");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *config = "/etc/kiln/updater.conf", *override = "/run/kiln/updater.conf";
    bool now_flag = false, status = false;
    C = (struct cfg){.esp = "/boot/efi", .keys_dir = "/etc/kiln/update-keys", .state_path = "/var/lib/kiln-updater/state",
                     .root = ""};
    for (int i = 1; i < argc; i++) {
        if (streq(argv[i], "--now")) now_flag = true;
        else if (streq(argv[i], "status") && i == 1) status = true;
        else if (streq(argv[i], "--config") && i + 1 < argc) config = argv[++i];
        else if (streq(argv[i], "--override") && i + 1 < argc) override = argv[++i];
        else if (streq(argv[i], "--state") && i + 1 < argc) C.state_path = argv[++i];
        else if (streq(argv[i], "--root") && i + 1 < argc) C.root = argv[++i];
        else return usage();
    }
    if (status) return print_status();
    if (sodium_init() < 0) return 1;
    struct upd_state s = {0};
    if (begin_run(config, override, &s) < 0) return 1;
    read_line_file("/etc/machine-id", machine_id, sizeof machine_id);
    read_line_file("/proc/sys/kernel/random/boot_id", boot_id, sizeof boot_id);
    char cmdline[4096] = "";
    read_line_file("/proc/cmdline", cmdline, sizeof cmdline);
    struct upd_out o;
    upd_on_boot(&s, boot_id, running, running_blessed(), &o);
    save_state(&s);
    report(&o);
    upd_on_timer(&s, (int64_t)time(NULL), now_flag, &o);
    if (o.action != UPD_ACT_CHECK) return 0;
    struct omaha_app_response app;
    int r = omaha(NULL, 0, true, &app);
    if (r < 0 || !app.has_updatecheck) {
        upd_on_check_failed(&s, &C.upd, (int64_t)time(NULL), rnd(), &o);
        save_state(&s);
        say("the update check failed; next check in %lld s", (long long)(s.next_check - (int64_t)time(NULL)));
        return EXIT_RETRY;
    }
    bool offered = streq(app.update_status, "ok");
    upd_on_check(&s, &C.upd, running, offered ? app.version : "", (int64_t)time(NULL), rnd(), &o);
    save_state(&s);
    say("checked %s: running %s, %s%s%s", C.server, running, offered ? "offered " : app.update_status,
        offered ? app.version : "", offered && o.action != UPD_ACT_INSTALL ? (C.upd.auto_apply ? " (not taken)" : " (auto: false, not applied)") : "");
    if (o.action != UPD_ACT_INSTALL) return 0;
    char version[UPD_VERSION_MAX];
    snprintf(version, sizeof version, "%s", o.version);
    enum upd_error e = install(&app, cmdline);
    upd_on_install(&s, &C.upd, running, version, e, boot_id, (int64_t)time(NULL), rnd(), &o);
    save_state(&s);
    report(&o);
    if (o.action == UPD_ACT_REBOOT) {
        say("rebooting into %s", version);
        sync();
        execl("/bin/systemctl", "systemctl", "reboot", (char *)NULL);
        say("cannot run systemctl reboot: %s", strerror(errno));
        return 1;
    }
    return e ? 1 : 0;
}
