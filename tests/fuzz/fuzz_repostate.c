#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "image/repostate.h"
#include "util/util.h"

/* Any bytes as a mirror's InRelease / Release or repomd.xml: parsed or refused with a reason,
 * never a crash, an out-of-bounds read or a hang. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const comps[] = {"main", "contrib"};
    struct repo_release r;
    _cleanup_free_ char *why = NULL;
    if (repo_release_parse((const char *)data, size, comps, 2, "amd64", &r, &why) == 0) {
        /* a digest is there exactly when some index was listed */
        if ((r.nindexes > 0) != (strlen(r.indexes) == 64)) __builtin_trap();
        repo_release_free(&r);
    }
    struct repo_repomd m;
    if (repo_repomd_parse((const char *)data, size, &m, &why) == 0) {
        if (m.revision && strlen(m.revision) > 128) __builtin_trap();
        repo_repomd_free(&m);
    }
    return 0;
}
