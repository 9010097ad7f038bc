/* The package manager's phase and item from its output lines (image/pkg_progress.h). */
#include "image/pkg_progress.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "util/progress.h"
#include "util/util.h"

/* dst = src[0..len) as printable ASCII (anything else '?'), cut to fit. */
static void set_text(char *dst, size_t cap, const char *src, size_t len)
{
    if (len > cap - 1) len = cap - 1;
    for (size_t i = 0; i < len; i++) dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
    dst[len] = 0;
}

static void set_item(struct pkg_progress *p, const char *what, const char *item, size_t len, unsigned nth)
{
    set_text(p->what, sizeof p->what, what, strlen(what));
    set_text(p->item, sizeof p->item, item, len);
    p->nth = nth;
}

static enum pkg_change enter(struct pkg_progress *p, enum pkg_phase ph)
{
    if (p->phase == ph) return PKG_DETAIL;
    p->phase = ph;
    p->what[0] = p->item[0] = 0;
    p->nth = 0;
    return PKG_PHASE;
}

static const char *skip_spaces(const char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

/* A size as apt ("38.0 MB", "0 B": kB = 1000 B) or dnf ("21 M", "472 kB", "961  B": 1024)
 * prints it, at s; 0 when there is none. */
static uint64_t parse_size(const char *s, unsigned base, const char **end)
{
    char *e;
    s = skip_spaces(s);
    if (!isdigit((unsigned char)*s)) return *end = s, 0;
    double v = strtod(s, &e);
    e = (char *)skip_spaces(e);
    static const char units[] = "kMGT";
    const char *u = *e ? strchr(units, *e == 'K' ? 'k' : *e) : NULL;
    if (u) {
        for (const char *x = units; x <= u; x++) v *= base;
        e++;
    }
    if (*e == 'B') e++;
    *end = e;
    return v > 0 && v < 1e18 ? (uint64_t)v : 0;
}

/* The word of s up to a space, '(' or ':' (a dpkg package name without its ":arch"). */
static size_t name_len(const char *s)
{
    return strcspn(s, " (:");
}

/* mmdebstrap's own "I: ..." lines. */
static enum pkg_change mmdebstrap_line(struct pkg_progress *p, const char *s)
{
    static const struct { const char *prefix; enum pkg_phase phase; } steps[] = {
        {"running apt-get update", PKG_REPOS},
        {"downloading packages with apt", PKG_RESOLVE},
        {"extracting archives", PKG_EXTRACT},
        {"installing essential packages", PKG_ESSENTIAL},
        {"installing remaining packages", PKG_RESOLVE},
        {"cleaning package lists", PKG_CLEAN},
        {"success in ", PKG_DONE},
    };
    for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
        if (!startswith(s, steps[i].prefix)) continue;
        if (i == 3 || i == 4) p->unpacked = p->configured = 0; /* a new set of packages */
        if (i == 4) p->npkgs = 0;
        return enter(p, steps[i].phase);
    }
    const char *hook = NULL;
    size_t n = 0;
    if (startswith(s, "running --")) hook = s + 10, n = strcspn(hook, " ");
    else if (startswith(s, "running special hook: ")) hook = s + 22, n = strcspn(hook, " ");
    if (!hook) return PKG_SAME;
    /* another kind of hook (setup, then sync-in; customize, then sync-out) is a step of its own:
     * a log's line says which hooks ran when */
    char was[PKG_TEXT_MAX];
    snprintf(was, sizeof was, "%s", p->phase == PKG_HOOKS ? p->item : "");
    enum pkg_change ch = enter(p, PKG_HOOKS);
    set_item(p, "", hook, n, 0);
    return ch == PKG_DETAIL && strcmp(was, p->item) != 0 ? PKG_PHASE : ch;
}

/* apt-get's "Get:N URL DIST/COMP ARCH NAME ARCH VERSION [SIZE]" (a package) or "Get:N URL DIST
 * [COMP ARCH] WHAT [SIZE]" (an index). */
static enum pkg_change apt_get_line(struct pkg_progress *p, const char *s)
{
    const char *open = strrchr(s, '['), *end;
    const char *tok[8];
    size_t len[8], nt = 0;
    for (const char *t = skip_spaces(s + strcspn(s, " ")); *t && t != open && nt < 8; t = skip_spaces(t + len[nt++]))
        tok[nt] = t, len[nt] = strcspn(t, " ");
    uint64_t size = open ? parse_size(open + 1, 1000, &end) : 0;
    if (nt >= 6) {
        enum pkg_change ch = p->phase == PKG_DOWNLOAD ? PKG_DETAIL : enter(p, PKG_DOWNLOAD);
        p->dl_done += size;
        set_item(p, "", tok[3], len[3], ++p->dl_count);
        return ch;
    }
    if (nt < 2) return PKG_SAME;
    enum pkg_change ch = p->phase == PKG_REPOS ? PKG_DETAIL : enter(p, PKG_REPOS);
    const char *from = tok[1];
    set_item(p, "", from, (size_t)(tok[nt - 1] + len[nt - 1] - from), 0);
    return ch;
}

/* apt-get's summary: "N upgraded, M newly installed, K to remove and L not upgraded." and
 * "Need to get 0 B/89.1 MB of archives." (what is left to fetch, of the whole). */
static enum pkg_change apt_summary_line(struct pkg_progress *p, const char *s)
{
    unsigned up, inst, rm;
    if (sscanf(s, "%u upgraded, %u newly installed, %u to remove", &up, &inst, &rm) == 3) {
        p->npkgs = up + inst ? up + inst : rm;
        p->unpacked = p->configured = 0;
        return PKG_DETAIL;
    }
    if (startswith(s, "Fetched ") && p->phase == PKG_DOWNLOAD) {
        p->dl_done = p->dl_total; /* "Fetched 38.0 MB in 2s (20.2 MB/s)" */
        return PKG_DETAIL;
    }
    if (!startswith(s, "Need to get ")) return PKG_SAME;
    const char *end;
    uint64_t left = parse_size(s + 12, 1000, &end);
    if (!left) return PKG_SAME;
    p->dl_total = left, p->dl_done = 0, p->dl_count = 0;
    p->phase = PKG_STARTING; /* a phase again even after an earlier download */
    return enter(p, PKG_DOWNLOAD);
}

/* dpkg's "Unpacking NAME (VERSION) ...", "Setting up NAME:ARCH (VERSION) ...", and the rest. */
static enum pkg_change dpkg_line(struct pkg_progress *p, const char *s)
{
    static const struct { const char *prefix, *what; int count; } acts[] = {
        {"Unpacking ", "unpacking", 1}, {"Setting up ", "setting up", 2},
        {"Processing triggers for ", "processing triggers for", 0},
        {"Removing ", "", 1}, {"Purging configuration files for ", "purging", 0},
    };
    for (size_t i = 0; i < ARRAY_SIZE(acts); i++) {
        size_t k = strlen(acts[i].prefix);
        /* NAME[:ARCH] then " (VERSION)": not dpkg-divert's "Removing 'diversion of ...'" */
        if (!startswith(s, acts[i].prefix) || !s[k] || !startswith(s + k + strcspn(s + k, " "), " (")) continue;
        bool removing = i >= 3;
        enum pkg_change ch = PKG_DETAIL;
        if (removing && p->phase != PKG_REMOVE) ch = enter(p, PKG_REMOVE);
        else if (!removing && p->phase != PKG_ESSENTIAL && p->phase != PKG_INSTALL) ch = enter(p, PKG_INSTALL);
        unsigned nth = acts[i].count == 1 ? ++p->unpacked : acts[i].count == 2 ? ++p->configured : 0;
        set_item(p, acts[i].what, s + k, name_len(s + k), nth);
        return ch;
    }
    return PKG_SAME;
}

/* "update-initramfs: Generating /boot/initrd.img-KVER", "dracut: Generating /boot/..." */
static enum pkg_change initrd_line(struct pkg_progress *p, const char *s)
{
    const char *g = NULL;
    if (startswith(s, "update-initramfs: Generating ")) g = s + 29;
    else if (startswith(s, "dracut: Generating ")) g = s + 19;
    if (!g) return PKG_SAME;
    const char *base = strrchr(g, '/');
    enum pkg_change ch = enter(p, PKG_INITRD);
    set_item(p, "", base ? base + 1 : g, strlen(base ? base + 1 : g), 0);
    return ch;
}

/* dnf's transaction: "  Installing       : kiln-libs-1.0-1.kiln.x86_64    2/5" */
static enum pkg_change dnf_step_line(struct pkg_progress *p, const char *s)
{
    static const struct { const char *action, *what; enum pkg_phase phase; } acts[] = {
        {"Installing", "", PKG_INSTALL}, {"Upgrading", "upgrading", PKG_INSTALL},
        {"Reinstalling", "reinstalling", PKG_INSTALL}, {"Downgrading", "downgrading", PKG_INSTALL},
        {"Running scriptlet", "scriptlet of", PKG_STARTING}, {"Erasing", "", PKG_REMOVE},
        {"Verifying", "", PKG_VERIFY},
    };
    const char *colon = strchr(s, ':');
    if (!colon || colon[1] != ' ') return PKG_SAME;
    const char *item = skip_spaces(colon + 1), *last = strrchr(item, ' ');
    unsigned k, n;
    char tail;
    if (!last || sscanf(last + 1, "%u/%u%c", &k, &n, &tail) != 2 || !k || k > n) return PKG_SAME;
    for (size_t i = 0; i < ARRAY_SIZE(acts); i++) {
        size_t al = strlen(acts[i].action);
        if (strncmp(s, acts[i].action, al) || skip_spaces(s + al) != colon) continue;
        /* a scriptlet runs within whatever the transaction is doing */
        enum pkg_change ch = acts[i].phase == PKG_STARTING ? PKG_DETAIL : enter(p, acts[i].phase);
        if (acts[i].phase != PKG_STARTING) p->npkgs = n;
        set_item(p, acts[i].what, item, strcspn(item, " "), acts[i].phase == PKG_STARTING ? 0 : k);
        return ch;
    }
    return PKG_SAME;
}

/* dnf's "(3/9): kiln-dropbear-1.0-1.kiln.x86_64.rpm   6.2 MB/s |  84 kB     00:00" and its
 * closing "Total   114 MB/s |  21 MB     00:00" */
static enum pkg_change dnf_download_line(struct pkg_progress *p, const char *s)
{
    const char *bar = strrchr(s, '|'), *end;
    unsigned k, n;
    int at = 0;
    if (!bar) return PKG_SAME;
    if (startswith(s, "Total ")) {
        if (p->phase != PKG_DOWNLOAD) return PKG_SAME;
        p->dl_done = p->dl_total;
        return PKG_DETAIL;
    }
    if (sscanf(s, "(%u/%u): %n", &k, &n, &at) != 2 || !at) return PKG_SAME;
    enum pkg_change ch = p->phase == PKG_DOWNLOAD ? PKG_DETAIL : enter(p, PKG_DOWNLOAD);
    size_t len = strcspn(s + at, " ");
    if (len > 4 && !strncmp(s + at + len - 4, ".rpm", 4)) len -= 4;
    p->dl_done += parse_size(bar + 1, 1024, &end);
    p->dl_count = k;
    if (!p->npkgs) p->npkgs = n;
    set_item(p, "", s + at, len, k);
    return ch;
}

/* dnf's other lines: the metadata, the resolution and its summary, the transaction's steps. */
static enum pkg_change dnf_line(struct pkg_progress *p, const char *s)
{
    static const char *const counted[] = {"Install", "Upgrade", "Reinstall", "Downgrade", "Remove"};
    const char *end;
    if (startswith(s, "  ")) return dnf_step_line(p, s + 2);
    if (startswith(s, "Last metadata expiration check:")) return p->phase == PKG_STARTING ? enter(p, PKG_REPOS) : PKG_SAME;
    if (streq(s, "Dependencies resolved.")) {
        p->npkgs = 0;
        return enter(p, PKG_RESOLVE);
    }
    if (streq(s, "Running transaction check") || streq(s, "Running transaction test")) return enter(p, PKG_CHECK);
    if (streq(s, "Complete!")) return enter(p, PKG_DONE);
    if (startswith(s, "Total download size: ")) {
        p->dl_total = parse_size(s + 21, 1024, &end), p->dl_done = 0, p->dl_count = 0;
        return PKG_DETAIL;
    }
    if (streq(s, "Downloading Packages:")) return p->dl_total ? enter(p, PKG_DOWNLOAD) : PKG_SAME;
    for (size_t i = 0; p->phase == PKG_RESOLVE && i < ARRAY_SIZE(counted); i++) {
        size_t k = strlen(counted[i]);
        unsigned n;
        if (!strncmp(s, counted[i], k) && s[k] == ' ' && sscanf(s + k, "%u Package", &n) == 1) {
            p->npkgs += n;
            return PKG_DETAIL;
        }
    }
    enum pkg_change ch = dnf_download_line(p, s);
    if (ch != PKG_SAME || s[0] == '(' || s[0] == ' ') return ch;
    /* "kiln-test     1.3 MB/s | 5.5 kB   00:00": a repository's metadata, while dnf starts (the
     * same line for a GPG key later is not a phase of its own) */
    if ((p->phase == PKG_STARTING || p->phase == PKG_REPOS) && !startswith(s, "Total ") && strstr(s, "/s | ")) {
        ch = enter(p, PKG_REPOS);
        set_item(p, "", s, strcspn(s, " "), 0);
        return ch;
    }
    return PKG_SAME;
}

enum pkg_change pkg_progress_line(struct pkg_progress *p, const char *line, size_t len)
{
    char buf[PKG_LINE_MAX];
    if (len > sizeof buf - 1) len = sizeof buf - 1;
    memcpy(buf, line, len);
    buf[len] = 0;
    len = strlen(buf);
    while (len && (buf[len - 1] == ' ' || buf[len - 1] == '\r' || buf[len - 1] == '\t')) buf[--len] = 0;
    if (!len) return PKG_SAME;
    if (startswith(buf, "I: ")) return mmdebstrap_line(p, buf + 3);
    if (startswith(buf, "Get:")) return apt_get_line(p, buf);
    enum pkg_change ch = apt_summary_line(p, buf);
    if (ch == PKG_SAME) ch = dpkg_line(p, buf);
    if (ch == PKG_SAME) ch = initrd_line(p, buf);
    if (ch == PKG_SAME) ch = dnf_line(p, buf);
    return ch;
}

enum pkg_change pkg_progress_feed(struct pkg_progress *p, const char *buf, size_t len,
                                  void (*changed)(struct pkg_progress *p, enum pkg_change c, void *ctx), void *ctx)
{
    enum pkg_change most = PKG_SAME;
    for (size_t i = 0; i < len; i++) {
        char ch = buf[i];
        if (ch != '\n' && ch != '\r') {
            if (p->len < sizeof p->line - 1) p->line[p->len++] = ch;
            continue;
        }
        enum pkg_change c = pkg_progress_line(p, p->line, p->len);
        p->len = 0;
        if (c == PKG_SAME) continue;
        if (changed) changed(p, c, ctx);
        if (c > most) most = c;
    }
    return most;
}

/* The phase's words; the download's size only when with_size (the live line shows its bytes). */
static void phase_text(const struct pkg_progress *p, bool with_size, char *buf, size_t n)
{
    char pk[40] = "packages", ess[48] = "the essential packages", size[32] = "";
    const char *s = p->npkgs == 1 ? "" : "s";
    if (p->npkgs) snprintf(pk, sizeof pk, "%u package%s", p->npkgs, s);
    if (p->npkgs) snprintf(ess, sizeof ess, "%u essential package%s", p->npkgs, s);
    if (with_size && p->dl_total) {
        size[0] = ',', size[1] = ' ';
        human_bytes(p->dl_total, size + 2, sizeof size - 2);
    }
    switch (p->phase) {
    case PKG_STARTING: snprintf(buf, n, "starting"); break;
    case PKG_HOOKS:
        /* "setup-hook" (mmdebstrap's --setup-hook): "the setup hooks"; "sync-out": "the sync-out hook" */
        if (!p->item[0]) snprintf(buf, n, "running hooks");
        else if (endswith(p->item, "-hook")) snprintf(buf, n, "running the %.*s hooks", (int)(strlen(p->item) - 5), p->item);
        else snprintf(buf, n, "running the %s hook", p->item);
        break;
    case PKG_REPOS: snprintf(buf, n, "reading the repositories"); break;
    case PKG_RESOLVE: snprintf(buf, n, "resolving dependencies"); break;
    case PKG_DOWNLOAD: snprintf(buf, n, "downloading %s%s", pk, size); break;
    case PKG_EXTRACT: snprintf(buf, n, "extracting %s", ess); break;
    case PKG_ESSENTIAL: snprintf(buf, n, "installing %s", ess); break;
    case PKG_CHECK: snprintf(buf, n, "checking the transaction"); break;
    case PKG_INSTALL: snprintf(buf, n, "installing %s", pk); break;
    case PKG_INITRD: snprintf(buf, n, "generating the initrd %s", p->item); break;
    case PKG_REMOVE: snprintf(buf, n, "removing %s", pk); break;
    case PKG_VERIFY: snprintf(buf, n, "verifying %s", pk); break;
    case PKG_CLEAN: snprintf(buf, n, "cleaning up"); break;
    case PKG_DONE: snprintf(buf, n, "done"); break;
    }
}

void pkg_progress_phase_text(const struct pkg_progress *p, char *buf, size_t n)
{
    phase_text(p, true, buf, n);
}

void pkg_progress_text(const struct pkg_progress *p, char *buf, size_t n)
{
    char phase[PKG_TEXT_MAX * 2], nth[32] = "";
    phase_text(p, false, phase, sizeof phase);
    if (!p->item[0] || p->phase == PKG_INITRD || p->phase == PKG_HOOKS) { /* their item is in the phase's words */
        snprintf(buf, n, "%s", phase);
        return;
    }
    if (p->nth && p->npkgs) snprintf(nth, sizeof nth, " (%u/%u)", p->nth, p->npkgs);
    else if (p->nth) snprintf(nth, sizeof nth, " (%u)", p->nth);
    snprintf(buf, n, "%s: %s%s%s%s", phase, p->what, p->what[0] ? " " : "", p->item, nth);
}
