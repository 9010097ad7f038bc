/* Boot entries for the A/B slots, as text (no I/O, unit-tested): Boot Loader Specification
 * type #1 entries for systemd-boot, with Automatic Boot Assessment's counter in the file name
 * (NAME-VERSION+3.conf: three tries; systemd-boot counts down, systemd-bless-boot drops the
 * counter once boot-complete.target is reached, an entry with no tries left sorts last so the
 * previous entry boots). Every function returns NULL on input it cannot use. */
#pragma once
#include <stdbool.h>

/* The value of key=... in a kernel command line (a malloc'd copy), or NULL. */
char *boot_cmdline_get(const char *cmdline, const char *key);
/* The running command line for another slot: usrhash= and the verity PARTUUIDs replaced, the
 * boot loader's own initrd= / BOOT_IMAGE= dropped, everything else kept in order. NULL when
 * the command line lacks one of the three (not the immutable layout). */
char *boot_cmdline_for_slot(const char *cmdline, const char *usrhash, const char *data_partuuid, const char *hash_partuuid);
/* "NAME-VERSION+TRIES.conf" */
char *boot_entry_name(const char *name, const char *version, int tries);
/* The entry: title, version, linux and initrd under /NAME/VERSION/ on the ESP, options. */
char *boot_entry_text(const char *name, const char *version, const char *options);
/* Whether an entry file name carries no boot counter (blessed, or never counted). */
bool boot_entry_blessed(const char *filename);
/* The entry's id as systemd-boot sees it: the file name without the counter. */
char *boot_entry_id(const char *filename);
/* Whether an entry's text boots /usr from the partition with this PARTUUID. */
bool boot_entry_uses(const char *text, const char *partuuid);
/* The value of an entry's KEY line (linux, initrd, options...), or NULL. */
char *boot_entry_get(const char *text, const char *key);
/* The ESP directory an entry of image name keeps its kernel and initrd in, "NAME/DIR" (no
 * leading slash, malloc'd): both its linux and initrd lines must be /NAME/DIR/FILE with DIR one
 * plain component (the build's /NAME/KERNEL-VERSION/, the updater's /NAME/VERSION/); NULL for
 * anything else, which is then not the updater's to delete. */
char *boot_entry_kernel_dir(const char *text, const char *name);
/* loader.conf with its default set to "NAME-*" (the newest entry of the image that has tries
 * left: a pinned version would keep booting the old slot). */
char *boot_loader_conf(const char *text, const char *name);
