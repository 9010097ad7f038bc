#pragma once
#include <stdint.h>

/* Sets ctime and crtime of every in-use inode of the ext4 image at path to t and fixes the
 * inode checksums, so `mke2fs -d` output depends only on the tree's content. */
int ext4_clamp_times(const char *path, uint32_t t, char **err);
