/* kiln clean [--dry-run]: empties kiln's cache directory (src/util/cache.h). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>

#include "cmd/common.h"
#include "util/cache.h"
#include "util/fs.h"
#include "util/util.h"

/* "1.4 GiB" for a byte count (binary units, one decimal). */
static void human(uint64_t b, char buf[32])
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    size_t u = 0;
    while (v >= 1024 && u + 1 < ARRAY_SIZE(unit)) v /= 1024, u++;
    if (u == 0) snprintf(buf, 32, "%" PRIu64 " B", b);
    else snprintf(buf, 32, "%.1f %s", v, unit[u]);
}

int cmd_clean(int argc, char **argv)
{
    bool dry = false;
    const struct cmd_opt opts[] = {
        {'n', "dry-run", NULL, CMD_FLAG, &dry, .help = "list what would be removed and its size; remove nothing"},
        {0},
    };
    const struct cmd_verb v = {
        "clean", "[--dry-run]",
        "Empties kiln's caches ($KILN_CACHE, else $XDG_CACHE_HOME/kiln, else ~/.cache/kiln): the\n"
        "package trees and downloads of kiln build, the kselftest build, the accelerator probe.\n"
        "Only kiln's own entries there are removed; symlinks are removed as links, never followed,\n"
        "and nothing on another filesystem (a mount left by a killed build) is touched. Each entry\n"
        "is printed as BYTES PATH (allocated bytes, as du counts).",
        opts, 0, 0, NULL,
        .exits = "0 emptied (or nothing to remove), 1 something could not be removed (named), 2 usage or\n"
                 "a cache directory kiln refuses to empty (a symlink, /, or $HOME or a parent of it)",
    };
    int n, rc = cmd_parse(&v, argc, argv, &n);
    if (rc != CMD_GO) return rc;
    _cleanup_free_ char *dir = kiln_cache_path("");
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') dir[--len] = 0;
    struct cache_report r;
    _cleanup_free_ char *why = NULL;
    int e = cache_clean(dir, dry, &r, &why);
    if (e < 0) {
        fprintf(stderr, "kiln clean: %s\n", why);
        cache_report_free(&r);
        return e == -EPERM || e == -ENOTDIR ? EXIT_USAGE : EXIT_FAIL;
    }
    size_t failed = 0;
    for (size_t i = 0; i < r.n; i++) {
        printf("%" PRIu64 " %s\n", r.v[i].bytes, r.v[i].path);
        if (r.v[i].err) {
            fprintf(stderr, "kiln clean: %s%s\n", dry ? "would fail: " : "", r.v[i].why);
            failed++;
        }
    }
    for (size_t i = 0; i < r.nforeign; i++) fprintf(stderr, "kiln clean: %s is not kiln's: left alone\n", r.foreign[i]);
    char h[32];
    human(r.bytes, h);
    if (!r.n) fprintf(stderr, "kiln clean: %s holds nothing of kiln's\n", dir);
    else if (dry) fprintf(stderr, "kiln clean: would remove %zu entr%s, %" PRIu64 " bytes (%s), from %s\n", r.n, r.n == 1 ? "y" : "ies", r.bytes, h, dir);
    else fprintf(stderr, "kiln clean: removed %zu entr%s, %" PRIu64 " bytes (%s), from %s%s\n", r.n - failed,
                 r.n - failed == 1 ? "y" : "ies", r.bytes, h, dir, failed ? "; see above for what stays" : "");
    cache_report_free(&r);
    return failed ? EXIT_FAIL : EXIT_OK;
}
