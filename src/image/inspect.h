#pragma once
#include <jansson.h>
#include <stddef.h>

/* Describes a disk image file as JSON: format, virtual_size, file_size, partition_table,
 * partitions (number, type, uuid, offset, size, filesystem), os_release. An ext4 filesystem
 * that libext2fs finds damaged while os-release is looked for gets "damaged": its sentence, in
 * filesystem. A disk without a GPT
 * gets partition_table null and a note; a damaged or impossible partition table, an unreadable
 * disk or SIGINT (-EINTR) is an error with *reterr set. A root filesystem archive (tar or tar.zst,
 * image/rootfs_tar.h) gets format "rootfs-tar", compression, file_size, entries, expanded_size,
 * wsl_conf (whether it holds /etc/wsl.conf) and os_release, read within the archive limits. */
int image_inspect(const char *path, json_t **out, char **reterr);
/* os-release text (KEY=value lines, values optionally quoted) as a JSON object; text is modified. */
json_t *os_release_parse(char *text);
/* Copies items (absolute paths of regular files) out of the image's first ext4 filesystem that
 * has any of them into dest/<path>, reading the filesystem where it lies in the disk (image/ext4.h:
 * nothing else is written; links in the image are followed inside it, never on the host). What
 * is copied adds up to at most 64 MiB plus four times the image file's allocated size; a larger
 * file is an error (-EFBIG), so is a link loop (-ELOOP). From a root filesystem archive,
 * rootfs_tar_extract with its default limits (links are never items). Returns how many items
 * were found, or -errno with *reterr set (-EINTR after SIGINT; -EUCLEAN when none was found and an
 * ext4 filesystem that may hold them is damaged: *reterr says which and what to do). */
int image_extract(const char *path, const char *const *items, size_t nitems, const char *dest, char **reterr);
