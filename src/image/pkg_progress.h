/* What the package manager is doing now, read from the lines it prints while kiln build's
 * rootfs stage runs it: mmdebstrap --verbose (its "I: ..." lines, with apt-get's and dpkg's own
 * output passed through) for deb trees, dnf for rpm trees. The build log gets every byte; this
 * only follows along, for the one live line on a terminal and a line per phase elsewhere.
 *
 * The lines it knows, as mmdebstrap 1.3, apt 2.6, dpkg 1.21 and dnf 4.14 print them (captured
 * in tests/data/pkgprogress/):
 *   mmdebstrap  "I: running apt-get update...", "I: downloading packages with apt...",
 *               "I: extracting archives...", "I: installing essential packages...",
 *               "I: installing remaining packages inside the chroot...", "I: running
 *               --setup-hook ...", "I: running special hook: sync-out ...", "I: cleaning
 *               package lists and apt cache...", "I: success in 202.6 seconds"
 *   apt-get     "Get:7 URL SUITE/COMP ARCH NAME ARCH VERSION [2759 kB]", "0 upgraded, 68 newly
 *               installed, 0 to remove and 0 not upgraded.", "Need to get 0 B/89.1 MB of
 *               archives." (SI units: kB = 1000 B), "Fetched 38.0 MB in 2s (20.2 MB/s)"
 *   dpkg        "Unpacking NAME (VERSION) ...", "Setting up NAME (VERSION) ...", "Processing
 *               triggers for NAME (VERSION) ...", "Removing NAME (VERSION) ..."
 *   initrd      "update-initramfs: Generating /boot/initrd.img-KVER" (initramfs-tools),
 *               "dracut: Generating /boot/initrd.img-KVER" (Debian's dracut kernel hook)
 *   dnf         "REPO   1.3 MB/s | 5.5 kB   00:00" (metadata), "Dependencies resolved.",
 *               "Install  9 Packages", "Remove  2 Packages", "Total download size: 21 M"
 *               (k, M, G: 1024), "(3/9): NAME.rpm   6.2 MB/s |  84 kB   00:00", "Running
 *               transaction check", "Running transaction", "  Installing       : NVRA   3/9",
 *               "  Running scriptlet: NVRA   1/1", "  Erasing          : NVRA   1/2",
 *               "  Verifying        : NVRA   2/9", "Complete!"
 * Any other line changes nothing. Lines are untrusted text (package names come from the
 * repositories): what is kept of them is bounded and reduced to printable ASCII. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pkg_phase {
    PKG_STARTING,  /* nothing recognised yet */
    PKG_HOOKS,     /* mmdebstrap runs kiln's hooks (setup, extract, customize, sync-in/out) */
    PKG_REPOS,     /* reading the repositories' indexes (apt-get update, dnf's metadata) */
    PKG_RESOLVE,   /* resolving dependencies */
    PKG_DOWNLOAD,  /* downloading packages: bytes known */
    PKG_EXTRACT,   /* mmdebstrap extracts the essential packages */
    PKG_ESSENTIAL, /* dpkg installs the essential packages */
    PKG_CHECK,     /* dnf checks and tests the transaction */
    PKG_INSTALL,   /* unpacking and setting up (dpkg), installing (rpm) */
    PKG_INITRD,    /* update-initramfs or dracut makes the initrd */
    PKG_REMOVE,    /* removing packages */
    PKG_VERIFY,    /* dnf verifies what it installed */
    PKG_CLEAN,     /* mmdebstrap cleans the package lists and apt's cache */
    PKG_DONE,      /* mmdebstrap's "success", dnf's "Complete!" */
};

enum { PKG_TEXT_MAX = 96, PKG_LINE_MAX = 4096 };

struct pkg_progress {
    enum pkg_phase phase;
    unsigned npkgs;          /* packages the transaction installs (or removes); 0: not known */
    unsigned unpacked, configured; /* dpkg's Unpacking / Setting up lines, rpm's k of k/N */
    uint64_t dl_total, dl_done; /* bytes to download (apt's "Need to get", dnf's "Total download
                                 * size") and the sum of the packages fetched so far */
    unsigned dl_count;       /* packages fetched so far */
    char what[PKG_TEXT_MAX]; /* the action on the current item: "unpacking", "setting up", ... */
    char item[PKG_TEXT_MAX]; /* the package, index or file it works on now, or "" */
    unsigned nth;            /* item is the nth of npkgs (0: no count to show) */
    /* pkg_progress_feed's partial line; a longer line is cut at PKG_LINE_MAX (the rest skipped) */
    char line[PKG_LINE_MAX];
    size_t len;
    bool skipping;
};

enum pkg_change {
    PKG_SAME = 0,   /* nothing to show changed */
    PKG_DETAIL = 1, /* the item, a count or the bytes changed */
    PKG_PHASE = 2,  /* a new phase began (pkg_progress_phase_text) */
};

/* Reads one line (len bytes, no newline; NUL bytes end it early): what changed. */
enum pkg_change pkg_progress_line(struct pkg_progress *p, const char *line, size_t len);
/* Splits len bytes of output into lines for pkg_progress_line, keeping a partial line for the
 * next call; a carriage return ends a line too. Calls changed (when not NULL) after each line
 * that changed something, so that no phase goes unseen when several arrive together. The
 * strongest change of any line. */
enum pkg_change pkg_progress_feed(struct pkg_progress *p, const char *buf, size_t len,
                                  void (*changed)(struct pkg_progress *p, enum pkg_change c, void *ctx), void *ctx);
/* The phase as one line's words, with the counts known so far: "installing 68 packages". */
void pkg_progress_phase_text(const struct pkg_progress *p, char *buf, size_t n);
/* The phase and what it works on now: "installing 68 packages: setting up udev (40/68)". */
void pkg_progress_text(const struct pkg_progress *p, char *buf, size_t n);
