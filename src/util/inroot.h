/* File operations inside a directory tree that stands for another system's "/" (an image
 * being built). Every path resolves as it would on that system: an absolute symlink such as
 * var/run -> /run leads to TREE/run and ".." stops at TREE, so nothing written through these
 * functions lands outside the tree, whatever symlinks the tree holds.
 *
 * openat2(2) with RESOLVE_IN_ROOT (Linux 5.6) does the resolution. On a kernel without
 * openat2 (ENOSYS) a component walk with O_NOFOLLOW takes over, which refuses every symlink on
 * the way (-ELOOP) instead of following it.
 *
 * rootfd is an open directory (open(TREE, O_PATH | O_DIRECTORY)); rel is a path inside the
 * tree, with or without a leading '/'. Functions return an fd or 0, else a negative errno. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* openat(2) flags and mode, resolved inside the tree. */
int inroot_open(int rootfd, const char *rel, int flags, unsigned mode);
/* The fallback walk on its own: symlinks anywhere in rel are -ELOOP, ".." is -EXDEV. */
int inroot_open_walk(int rootfd, const char *rel, int flags, unsigned mode);
/* Like inroot_open, but resolution must stay beneath dirfd: an absolute symlink or one that
 * climbs out is -EXDEV (RESOLVE_BENEATH). For reading files the user keeps in a directory. */
int inroot_open_beneath(int dirfd, const char *rel, int flags);
/* mkdir -p inside the tree; existing directories (also through in-tree symlinks) are fine. */
int inroot_mkdir_p(int rootfd, const char *rel, unsigned mode);
/* Replaces the file rel with data: written to a temp file in the (resolved) parent directory,
 * owned uid:gid (unless uid is (uid_t)-1) with mode, then renamed over rel, so a symlink at rel
 * is replaced, never followed. Missing parents are made 0755. */
int inroot_write(int rootfd, const char *rel, const void *data, size_t len, unsigned mode, uid_t uid, gid_t gid);
/* The same with the content read from srcfd (to its end). */
int inroot_copy(int rootfd, const char *rel, int srcfd, unsigned mode, uid_t uid, gid_t gid);
/* Reads the file rel (at most max bytes, else -EFBIG), NUL-terminated. */
int inroot_read(int rootfd, const char *rel, size_t max, char **data, size_t *len);
/* Whether rel exists (a symlink at rel counts, as lstat would). */
bool inroot_exists(int rootfd, const char *rel);
/* Removes what pattern matches: components are fnmatch(3) patterns (a leading '.' only
 * matches explicitly, as glob(3)); directories go with their content. Symlinks at or below a
 * match are removed, never followed. Returns the number removed. */
int inroot_rm_glob(int rootfd, const char *pattern);
/* The build-host path of what rel resolves to, for a tool that takes a path; NULL (errno set)
 * when it does not exist. */
char *inroot_host_path(int rootfd, const char *rel);
