#pragma once
#include <jansson.h>
#include <stddef.h>

/* Describes a disk image file as JSON: format, virtual_size, file_size, partition_table,
 * partitions (type, uuid, offset, size, filesystem), os_release. */
int image_inspect(const char *path, json_t **out, char **err);
/* os-release text (KEY=value lines, values optionally quoted) as a JSON object; text is modified. */
json_t *os_release_parse(char *text);
/* Copies items (absolute paths: files or directories) out of the image's first ext4 filesystem
 * that has any of them into dest/<path>, without mounting (debugfs rdump). Returns how many
 * items were found, or -errno with *err set. */
int image_extract(const char *path, const char *const *items, size_t nitems, const char *dest, char **err);
