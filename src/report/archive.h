/* The telemetry archive of a run: its directory (logs, console, results, performance counters)
 * as one .tar.zst whose first member, <id>/MANIFEST.sha256, lists the SHA-256 of every other
 * member (sha256sum's format). Signed, when a key is given, as ARCHIVE.minisig. */
#pragma once

/* Packs run_dir into out (written to a temp file, then renamed). Refuses, writing nothing,
 * when a file in the run holds a private key. 0, or -errno with *reterr set. */
int archive_create(const char *run_dir, const char *out, char **reterr);
/* Reads the whole archive: the manifest first, every member's digest checked, no member
 * missing or unlisted, no path leaving the archive's directory, no name both a file and the
 * directory of another (x beside x/y), no name over 4095 bytes or with a component over 255.
 * Bounded: the manifest is read whole only up to 16 MiB, members are hashed as a stream
 * (1 MiB at a time), and libarchive refuses tar headers over 1 MiB. Only a regular file is
 * read (a FIFO is refused, not waited on). *files gets the member count. 0, or -errno with
 * *reterr naming the member and what did not match. */
int archive_verify(const char *path, unsigned *files, char **reterr);
