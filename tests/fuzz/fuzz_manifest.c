#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "image/manifest.h"
#include "util/util.h"

/* Any bytes as the manifest beside an image kiln is asked to boot: an architecture or an
 * error with a reason, never a crash, an out-of-bounds read or a hang. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct kiln_arch *a = NULL;
    _cleanup_free_ char *why = NULL;
    int r = manifest_arch_parse((const char *)data, size, "d-1.qcow2", &a, &why);
    /* a verdict of 0 always comes with a known architecture */
    if (r == 0 && (!a || kiln_arch_find(a->name) != a)) __builtin_trap();
    return 0;
}
