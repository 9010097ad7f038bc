/* kiln convert IN OUT [--format F]: rewrites a disk image in another format (raw, qcow2,
 * vhd-fixed, vhd) without qemu-img; kiln inspect IMAGE [--json]: what an image holds. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <time.h>

#include "cmd/common.h"
#include "image/disk.h"
#include "image/gpt.h"
#include "image/inspect.h"
#include "image/rootfs_tar.h"
#include "util/proc.h"
#include "util/progress.h"
#include "util/timeutil.h"
#include "util/utf8.h"
#include "util/util.h"

static int format_from_name(const char *path)
{
    if (endswith(path, ".qcow2")) return DISK_QCOW2;
    if (endswith(path, ".vhd")) return DISK_VHD_FIXED;
    if (endswith(path, ".raw") || endswith(path, ".img")) return DISK_RAW;
    return -1;
}

/* Timestamp and VHD id: from SOURCE_DATE_EPOCH when set (reproducible), else now and random. */
void cmd_write_opts(const char *seed, struct disk_write_opts *o)
{
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    long t;
    if (sde && parse_long(sde, &t) && t >= 0) {
        o->unix_time = (uint32_t)t;
        struct guid g;
        guid_derive(sde, seed, &g);
        memcpy(o->id, g.b, 16);
    } else {
        o->unix_time = (uint32_t)time(NULL);
        if (RAND_bytes(o->id, 16) != 1) memset(o->id, 0, 16);
    }
}

/* kiln convert -p: on a terminal one live line (util/progress.h: cut to the terminal's width as
 * it is now) rewritten at most five times a second, otherwise a line each time the copy passes
 * another tenth of the data (disk_write_opts.progress: the bytes of data, holes not counted);
 * 100% always, a line of its own. */
struct convert_progress {
    struct progress_line pl;
    int shown; /* the last percentage printed, -1 none */
};

static void convert_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct convert_progress *p = ctx;
    int pct = total ? (int)(done * 100 / total) : 100;
    if (pct <= p->shown || (!p->pl.tty && pct < 100 && p->shown >= 0 && pct / 10 == p->shown / 10)) return;
    p->shown = pct;
    char a[32], b[32], line[128];
    human_bytes(done, a, sizeof a), human_bytes(total, b, sizeof b);
    snprintf(line, sizeof line, "kiln convert: %3d%% (%s of %s)", pct, a, b);
    if (!p->pl.tty) {
        fprintf(p->pl.f, "kiln convert: %d%% (%s of %s)\n", pct, a, b);
        return;
    }
    progress_live(&p->pl, pct == 100, line); /* at most five redraws a second */
    if (pct == 100) fputc('\n', p->pl.f), p->pl.showing = false;
}

int cmd_convert(int argc, char **argv)
{
    const char *fmt = NULL;
    bool progress = false;
    const struct cmd_opt opts[] = {
        {'f', "format", "F", CMD_STR, &fmt,
         .help = "raw, qcow2, vhd-fixed or vhd (default: from OUT's extension: .raw .img\n.qcow2 .vhd)"},
        {'p', "progress", NULL, CMD_FLAG, &progress,
         .help = "show how far the copy is on stderr (a terminal: one line in place;\notherwise a line per tenth of the disk)"},
        {0},
    };
    const struct cmd_verb v = {
        "convert", "IN OUT [--format raw|qcow2|vhd-fixed|vhd] [-p]",
        "Rewrites the disk image IN (raw, qcow2, VHD) as OUT in another format, sparse, without\n"
        "qemu-img; OUT is written to a temporary file and renamed.",
        opts, 2, 2, "IN and OUT",
        .exits = "0 converted, 1 IN is not a disk image kiln can read (corrupt, crafted, an archive)\n"
                 "or OUT could not be written, 2 usage or IN missing or not a regular file, 130 interrupted",
    };
    int n, rc = cmd_parse(&v, argc, argv, &n);
    if (rc != CMD_GO) return rc;
    const char *in = argv[1], *out = argv[2];
    int f = fmt ? disk_format_parse(fmt) : format_from_name(out);
    if (f < 0) {
        if (fmt) fprintf(stderr, "kiln convert: unknown format \"%s\" (raw, qcow2, vhd-fixed, vhd)\n", fmt);
        else fprintf(stderr, "kiln convert: cannot tell the format from \"%s\"; pass --format raw|qcow2|vhd-fixed|vhd\n", out);
        return EXIT_USAGE;
    }
    if ((rc = cmd_input("convert", in, "pass the disk image file itself (raw, qcow2 or VHD)"))) return rc;
    proc_install_signal_handlers();
    struct disk *d;
    char *err = NULL;
    if (rootfs_tar_probe(in)) {
        fprintf(stderr, "kiln convert: %s is a root filesystem archive (tar), not a disk image: kiln convert converts "
                        "between disk formats; kiln build makes the disk from the spec, kiln inspect and kiln sbom read "
                        "the archive\n", in);
        return EXIT_FAIL;
    }
    if (disk_open(in, &d, &err) < 0) {
        fprintf(stderr, "kiln convert: %s\n", err);
        free(err);
        return EXIT_FAIL;
    }
    struct disk_write_opts o = {0};
    const char *base = strrchr(out, '/');
    cmd_write_opts(base ? base + 1 : out, &o);
    struct convert_progress prog = {.pl = {.f = stderr, .tty = progress_live_ok(2), .cols = progress_term_cols(2), .follow_width = true},
                                    .shown = -1};
    if (progress) o.progress = convert_progress, o.progress_ctx = &prog;
    double t0 = now_s();
    int r = disk_convert(d, out, (enum disk_format)f, &o, &err);
    disk_close(d);
    progress_clear(&prog.pl); /* a failed or interrupted copy's live line: not the message's start */
    if (r < 0) {
        fprintf(stderr, "kiln convert: %s\n", err);
        free(err);
        return r == -EINTR ? EXIT_INTERRUPTED : EXIT_FAIL;
    }
    fprintf(stderr, "kiln convert: %s %s %s (%s) in %.2f s\n", in, text_arrow(), out, disk_format_name((enum disk_format)f), now_s() - t0);
    return EXIT_OK;
}

/* Every string of an image (os-release values, partition names) is the image's to choose: for
 * the terminal its control characters are escaped (JSON output escapes them itself). */
static void escape_strings(json_t *j)
{
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_object(j)) {
        json_object_foreach(j, k, v) {
            if (!json_is_string(v)) escape_strings(v);
            else {
                _cleanup_free_ char *e = utf8_escape_controls(json_string_value(v), json_string_length(v), false);
                json_string_set(v, e);
            }
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v) escape_strings(v);
    }
}

/* The line under a filesystem its reader found damaged, or stored in a way it does not read
 * (image_inspect's "damaged", "unread"). */
static void print_damage(json_t *fs)
{
    const char *dmg = json_string_value(json_object_get(fs, "damaged"));
    const char *t = json_string_value(json_object_get(fs, "type"));
    if (dmg)
        printf("     damaged: %s; see what %s says of a copy of it, or rebuild the image\n", dmg,
               streq(t, "squashfs") ? "unsquashfs -l" : streq(t, "erofs") ? "fsck.erofs" : "e2fsck -fn");
    const char *unread = json_string_value(json_object_get(fs, "unread"));
    if (unread) printf("     not read: %s\n", unread);
}

/* The text form of a disk image's description (image_inspect). */
static void print_disk(json_t *j, const char *path)
{
    char a[32], b[32];
    human_bytes((uint64_t)json_integer_value(json_object_get(j, "virtual_size")), a, sizeof a);
    human_bytes((uint64_t)json_integer_value(json_object_get(j, "file_size")), b, sizeof b);
    printf("%s: %s, virtual size %s (%lld bytes), file %s\n", path, json_string_value(json_object_get(j, "format")), a,
           (long long)json_integer_value(json_object_get(j, "virtual_size")), b);
    json_t *parts = json_object_get(j, "partitions");
    if (parts) {
        printf("partition table: GPT, disk %s\n", json_string_value(json_object_get(j, "disk_guid")));
        size_t i;
        json_t *p;
        json_array_foreach(parts, i, p) {
            human_bytes((uint64_t)json_integer_value(json_object_get(p, "size")), a, sizeof a);
            json_t *fs = json_object_get(p, "filesystem");
            printf("  %lld  %-18s %-10s %9s  at %-11lld %s", (long long)json_integer_value(json_object_get(p, "number")),
                   json_string_value(json_object_get(p, "type")), json_string_value(json_object_get(p, "name")), a,
                   (long long)json_integer_value(json_object_get(p, "offset")), json_string_value(json_object_get(p, "uuid")));
            if (fs) {
                const char *lab = json_string_value(json_object_get(fs, "label"));
                const char *u = json_string_value(json_object_get(fs, "uuid"));
                printf("  %s%s%s%s%s", json_string_value(json_object_get(fs, "type")), u ? " uuid=" : "", u ? u : "",
                       lab && *lab ? " label=" : "", lab && *lab ? lab : "");
            }
            putchar('\n');
            print_damage(fs);
        }
    } else {
        json_t *fs = json_object_get(j, "filesystem");
        printf("partition table: none%s%s\n", fs ? "; whole-disk " : "", fs ? json_string_value(json_object_get(fs, "type")) : "");
        print_damage(fs);
    }
}

int cmd_inspect(int argc, char **argv)
{
    bool as_json = false;
    const struct cmd_opt opts[] = {
        {0, "json", NULL, CMD_FLAG, &as_json, .help = "print the description as JSON on stdout"},
        {0},
    };
    const struct cmd_verb v = {
        "inspect", "IMAGE [--json]",
        "Shows a disk image's format, sizes, GPT partitions, filesystems and os-release, or a root\n"
        "filesystem archive's (.tar, .tar.zst) compression, entries and os-release.",
        opts, 1, 1, "IMAGE",
        .exits = "0 shown, 1 IMAGE is not an image kiln can read (corrupt, crafted, encrypted,\n"
                 "compressed), 2 usage or IMAGE missing or not a regular file, 130 interrupted",
        .json = "a disk: {\"file\", \"format\", \"virtual_size\", \"file_size\", \"partition_table\",\n"
                "\"disk_guid\", \"partitions\": [{\"number\", \"type\", \"type_guid\", \"name\", \"size\",\n"
                "\"offset\", \"uuid\", \"filesystem\": {\"type\", \"uuid\", \"label\", \"damaged\"}}],\n"
                "\"filesystem\" (no partition table), \"os_release\": {KEY: VALUE}}; an archive:\n"
                "{\"format\": \"rootfs-tar\", \"compression\", \"entries\", \"expanded_size\", \"file_size\",\n"
                "\"wsl_conf\", \"os_release\"}",
    };
    int n, rc = cmd_parse(&v, argc, argv, &n);
    if (rc != CMD_GO) return rc;
    const char *path = argv[1];
    if ((rc = cmd_input("inspect", path, "pass the disk image file itself (raw, qcow2 or VHD)"))) return rc;
    /* a SIGINT stops the copy of a filesystem into TMPDIR, which is then removed */
    proc_install_signal_handlers();
    json_t *j;
    char *err = NULL;
    int r = image_inspect(path, &j, &err);
    if (r < 0) {
        fprintf(stderr, "kiln inspect: %s\n", err);
        free(err);
        return r == -EINTR ? EXIT_INTERRUPTED : EXIT_FAIL;
    }
    if (as_json) {
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        putchar('\n');
        json_decref(j);
        return EXIT_OK;
    }
    escape_strings(j);
    char a[32], b[32];
    if (streq(json_string_value(json_object_get(j, "format")), "rootfs-tar")) {
        human_bytes((uint64_t)json_integer_value(json_object_get(j, "expanded_size")), a, sizeof a);
        human_bytes((uint64_t)json_integer_value(json_object_get(j, "file_size")), b, sizeof b);
        printf("%s: root filesystem archive (tar, compression %s), %lld entries, %s expanded, file %s\n", path,
               json_string_value(json_object_get(j, "compression")), (long long)json_integer_value(json_object_get(j, "entries")),
               a, b);
        /* said either way: a missing line read as "not checked" (fresh-user finding) */
        printf("WSL: %s\n", json_is_true(json_object_get(j, "wsl_conf")) ? "/etc/wsl.conf present" : "no /etc/wsl.conf");
    } else print_disk(j, path);
    json_t *osr = json_object_get(j, "os_release");
    if (osr) {
        const char *pn = json_string_value(json_object_get(osr, "PRETTY_NAME"));
        const char *id = json_string_value(json_object_get(osr, "ID"));
        printf("os-release: %s\n", pn ? pn : id ? id : "(no PRETTY_NAME or ID)");
    }
    json_decref(j);
    return EXIT_OK;
}
