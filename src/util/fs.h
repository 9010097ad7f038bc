#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Creates path and its missing parents with mode (an existing directory, or a symlink to one,
 * is fine). 0, or -errno with errno set: -ENOTDIR when path or a parent exists as something
 * other than a directory. */
int mkdir_p(const char *path, unsigned mode);
int rm_rf(const char *path);
/* Writes all len bytes of buf to fd, again after EINTR or a short write. 0, or -errno with
 * errno set (-EIO when write wrote nothing). */
int fd_write_all(int fd, const void *buf, size_t len);
/* Copies in (from its offset to its end) to out (a new, empty file: at its offset), 4 KiB
 * blocks of zeros left as holes, out's size set to the bytes copied; more than max bytes (a
 * file that grew past its bound while copied) stops it with -EFBIG. 0 or -errno; *copied (when
 * not NULL) the bytes read, *on_write (when not NULL) whether the error came from out. */
int fd_copy_sparse(int in, int out, uint64_t max, uint64_t *copied, bool *on_write);
/* A new file beside path to be renamed onto it: a unique name (path.tmp.XXXXXX) created
 * exclusively, so a file or symlink planted under a guessable name is never written through,
 * then given mode. -EEXIST when what stands at path is neither a regular file nor a symlink
 * (a device, a FIFO, a directory: a rename would replace it). Returns the fd or -errno; *tmp
 * gets the name (caller frees). */
int open_beside(const char *path, unsigned mode, char **tmp);
/* Writes data to path through open_beside and rename. 0 or -errno. */
int write_file_atomic(const char *path, const char *data, size_t len, unsigned mode);
/* What open_regular (and so read_file) returns for a FIFO, a device or a socket: Linux has no
 * EFTYPE, and EBADFD is never what opening or reading a regular file fails with. */
#define ENOTREG EBADFD
struct stat;
/* Opens path to read its bytes, O_CLOEXEC. O_NONBLOCK, so opening a FIFO (or a device that waits
 * for a peer) returns at once; only a regular file is kept (-EISDIR for a directory, -ENOTREG
 * for anything else), then O_NONBLOCK is cleared. With nofollow a symbolic link is refused
 * (-ELOOP). Returns the fd or -errno; *st (when not NULL) gets the file's fstat. */
int open_regular(const char *path, bool nofollow, struct stat *st);
/* strerror(-r), with -ENOTREG worded "not a regular file (a FIFO, device or socket)". */
const char *fs_strerror(int r);
/* What open_regular's (or read_regular's) error r on path means, for people: for what is not a
 * regular file, "PATH is a FIFO, not a regular file: FIX" (the kind from stat: FIFO, socket,
 * character device, block device, directory; "a symbolic link" for -ELOOP when lstat finds
 * one); else "cannot read PATH: strerror". fix says what to do (NULL: left out). Caller frees. */
char *fs_open_error(const char *path, int r, const char *fix);
/* Reads a regular file (open_regular; with nofollow a symbolic link is -ELOOP), at most max
 * bytes (error -EFBIG if larger). NUL-terminated. */
int read_regular(const char *path, bool nofollow, size_t max, char **data, size_t *len);
/* read_regular following links. */
int read_file(const char *path, size_t max, char **data, size_t *len);
char *path_join(const char *a, const char *b);
char *path_dirname(const char *path);
/* Resolves p against base_dir when relative; expands a leading "~/". */
char *path_resolve(const char *base_dir, const char *p);
bool file_exists(const char *path);
/* A file shipped with kiln: $KILN_DATA_DIR, then <exe>/../share/kiln, then the source tree. */
char *kiln_data_path(const char *name);
/* A path under kiln's cache: $KILN_CACHE, else $XDG_CACHE_HOME/kiln, else ~/.cache/kiln. */
char *kiln_cache_path(const char *name);
/* The static guest helper: $KILN_GUEST_HELPER, next to the kiln binary, libexec, the build tree. */
char *kiln_guest_helper_path(void);
/* Where a program named name that ships with kiln-guest is: next to the kiln binary, in
 * ../libexec/kiln, else in the build tree (the returned path may not exist). Caller frees. */
char *kiln_guest_file_path(const char *name);
/* The ELF machine (e_machine, either byte order; elf.h's EM_*) of the file at path, read from
 * its ELF header's first 20 bytes: 0, -ENOEXEC when it is no ELF file, or open_regular's -errno. */
int elf_machine_of(const char *path, uint16_t *machine);
/* Replaces (atomically) the symlink link to point at target. */
int symlink_replace(const char *target, const char *link);
/* Serialises j (sorted keys, 2-space indent, trailing newline, every string secret-masked) to
 * path through a temp file. */
struct json_t;
int json_write_file(const char *path, struct json_t *j);
