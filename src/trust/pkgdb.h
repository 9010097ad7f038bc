/* The packages an OS tree or a disk image holds, read from its own package database (dpkg's
 * status file or the rpm database), never from the host's. Feeds the build manifest, the SBOMs
 * and the provenance. */
#pragma once
#include <jansson.h>

/* Where rpm trees built by kiln keep their database, relative to the root (Fedora's layout;
 * var/lib/rpm links to it). */
#define PKGDB_RPM_DBPATH "usr/lib/sysimage/rpm"

/* One JSON array, sorted by name then arch, of installed packages:
 * {name, version, arch, source?, source_version?, supplier?, epoch? (rpm), license? (rpm)}.
 * family: "deb" reads ADMINDIR/status (dpkg-query --admindir), "rpm" reads the database directory
 * (rpm --dbpath). 0, or -errno with *reterr set: -E2BIG when the query prints more than
 * PKGDB_LIST_MAX bytes (some 30,000 packages, five times a large desktop install; an image's
 * database is untrusted). */
#define PKGDB_LIST_MAX (4u << 20)
int pkgdb_list(const char *family, const char *dbdir, json_t **out, char **reterr);

/* The lines pkgdb_list's queries print (tab-separated: status, name, version, arch, source,
 * source version, supplier, epoch, license) as its sorted array; text is modified. Lines that
 * are not an installed package, or have fewer than four fields, are skipped. */
json_t *pkgdb_parse(const char *family, char *text);

/* Reads the package database and os-release out of a disk image (raw, qcow2, VHD) without
 * mounting it. *family gets "deb" or "rpm"; *os_release an object (possibly empty). With
 * licenses, a deb image's /usr/share/doc/NAME/copyright files are read too (a second pass over
 * the image) and *licenses gets sbom_licenses' object (empty when none could be read). */
int pkgdb_from_image(const char *image, json_t **pkgs, json_t **os_release, const char **family, json_t **licenses,
                     char **reterr);

/* The package URL (purl) of one entry of pkgdb_list for a distro (os-release ID, VERSION_ID). */
char *pkgdb_purl(const char *family, json_t *pkg, const char *distro_id, const char *distro_version);

/* "NAME:ARCH", the key pkgdb_file_digests gives a package under. Caller frees. */
char *pkgdb_digest_key(json_t *pkg);
/* {"NAME:ARCH": sha256 hex} of the package files the packages were installed from, found in a
 * package cache (apt's NAME_VERSION_ARCH.deb, ':' as %3a, in cache; dnf's
 * NAME-VERSION-RELEASE.ARCH.rpm in cache/REPO/packages/); a package whose file is not there is
 * left out. Each file is hashed once, for the SBOMs and the provenance alike. */
json_t *pkgdb_file_digests(const char *family, json_t *pkgs, const char *cache);
