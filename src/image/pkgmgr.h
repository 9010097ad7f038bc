/* packages.package_manager: remove — the package manager's front ends taken out of a built
 * tree (an immutable, everything-baked-in host), its database kept for SBOMs and inspection. */
#pragma once
#include <stdbool.h>
#include <stddef.h>


/* The marker a tree without its package manager carries (in /usr, so it travels with the
 * version): one removed path per line. Guest cases read it to skip with the reason. */
#define PKGMGR_REMOVED_MARKER "usr/lib/kiln/package-manager-removed"

/* What a removal has taken out so far (pkgmgr.c). */
struct pkgmgr_removal;
/* One package family's front ends: removes from the tree at rootfd (see util/inroot.h) each of
 * them found in a PATH directory (/usr/local/sbin, /usr/local/bin, /usr/sbin, /usr/bin, /sbin,
 * /bin), recording it in out. 0, or a negative errno with *reterr. The family's vtable
 * (image/build_int.h, pkg_family_ops.pkgmgr_front_ends) names its own. */
typedef int (*pkgmgr_front_ends_fn)(int rootfd, struct pkgmgr_removal *out, char **reterr);
/* deb: the files in those directories that the installed apt, dpkg, apt-utils, aptitude and
 * unattended-upgrades packages list (var/lib/dpkg/info/PKG[:ARCH].list), but dpkg's
 * start-stop-daemon, which init scripts run; -ENOENT when the tree has no dpkg file lists. */
int pkgmgr_front_ends_deb(int rootfd, struct pkgmgr_removal *out, char **reterr);
/* rpm: rpm, rpmdb, rpmkeys, rpmquery, rpmverify, rpmsign, rpm2cpio, rpm2archive, dnf, dnf-3,
 * dnf4, dnf5, dnf-automatic, yum, microdnf, tdnf. */
int pkgmgr_front_ends_rpm(int rootfd, struct pkgmgr_removal *out, char **reterr);

/* Removes the front ends front_ends finds from the tree at rootfd; the package database stays.
 * Then writes PKGMGR_REMOVED_MARKER. *removed gets the removed paths ("/usr/bin/apt", sorted,
 * each once; the caller frees them and the array). Returns 0, or a negative errno with *reterr
 * saying what could not be done. */
int pkgmgr_remove(int rootfd, pkgmgr_front_ends_fn front_ends, char ***removed, size_t *n, char **reterr);

/* The systemd units that run the package manager on a schedule (apt-daily, dpkg-db-backup,
 * dnf-makecache, ...): the build masks those the tree has, so none fails on a host without it.
 * NULL-terminated. */
extern const char *const pkgmgr_units[];
