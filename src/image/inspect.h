#pragma once
#include <jansson.h>

/* Describes a disk image file as JSON: format, virtual_size, file_size, partition_table,
 * partitions (type, uuid, offset, size, filesystem), os_release. */
int image_inspect(const char *path, json_t **out, char **err);
