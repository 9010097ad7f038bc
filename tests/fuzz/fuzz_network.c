/* What a built tree's network configuration is (image/network.c): the input, cut at its first
 * NUL, becomes a .network file and /etc/network/interfaces of a small tree; each line is also a
 * console line for the boot watch (node/bootwatch.c). */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/network.h"
#include "node/bootwatch.h"
#include "util/fs.h"
#include "util/inroot.h"
#include "util/util.h"

static char dir[] = "/tmp/kiln-fuzz-network-XXXXXX";
static void cleanup(void) { rm_rf(dir); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    if (fd < 0) {
        if (!mkdtemp(dir) || atexit(cleanup)) abort();
        fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || inroot_write(fd, "usr/lib/systemd/systemd-networkd", "", 0, 0755, 0, 0) < 0 ||
            inroot_write(fd, "usr/sbin/ifup", "", 0, 0755, 0, 0) < 0)
            abort();
    }
    const uint8_t *nul = memchr(data, 0, size);
    size_t first = nul ? (size_t)(nul - data) : size;
    if (inroot_write(fd, "etc/systemd/network/10-f.network", data, first, 0644, 0, 0) < 0) abort();
    const uint8_t *rest = nul ? nul + 1 : data + size;
    if (inroot_write(fd, "etc/network/interfaces", rest, (size_t)(data + size - rest), 0644, 0, 0) < 0) abort();
    struct image_net n;
    _cleanup_free_ char *what = NULL;
    if (image_net_probe(fd, &n) == 0) {
        image_net_configured(&n, &what);
        image_net_free(&n);
    }
    char *text = xstrndup((const char *)data, size);
    struct boot_watch w;
    boot_watch_init(&w);
    char *save = NULL;
    double t = 0;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) boot_watch_line(&w, l, t++);
    _cleanup_free_ char *why = NULL;
    boot_watch_unreachable(&w, t + 100, 60, 0, &why);
    boot_watch_free(&w);
    free(text);
    return 0;
}
