#pragma once
#include <jansson.h>

/* Describes a disk image file as JSON: format, virtual_size, file_size, partition_table,
 * partitions (type, uuid, offset, size, filesystem), os_release. */
int image_inspect(const char *path, json_t **out, char **err);
/* os-release text (KEY=value lines, values optionally quoted) as a JSON object; text is modified. */
json_t *os_release_parse(char *text);
