/* Exercises the node layer against a real SSH server: node_probe HOST PORT USER KEY.
 * Run by tests/integration/ready.sh with an OpenSSH server it started. TAP output. */
#include <errno.h>
#include <stdlib.h>

#include "node/node.h"
#include "tap.h"
#include "util/timeutil.h"
#include "util/util.h"

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: node_probe HOST PORT USER KEY\n");
        return 2;
    }
    struct kiln_node n = {.name = "probe", .host = argv[1], .port = atoi(argv[2]), .user = argv[3], .key_path = argv[4]};
    n.log = stdout;
    _cleanup_free_ char *why = NULL;
    int c = node_connect(&n, 20, &why);
    ok(c == 0, "connects%s%s", c ? ": " : "", c ? why : "");

    struct kiln_exec e;
    ok(node_exec(&n, "echo out; echo err >&2; exit 7", 10, &e) == 0, "exec runs");
    is_int(e.status, 7, "exit status");
    is_str(e.out, "out\n", "stdout captured");
    is_str(e.err, "err\n", "stderr captured without kiln's PID line");
    kiln_exec_free(&e);

    ok(node_exec(&n, "printf 'a b'\"'\"'c'; x=$(echo sub); echo \" $x\"", 10, &e) == 0, "quoting case runs");
    is_str(e.out, "a b'c sub\n", "commands run under sh with quoting intact");
    kiln_exec_free(&e);

    double t0 = now_s();
    int r = node_exec(&n, "sleep 3017 & sleep 3018; echo never", 2, &e);
    is_int(r, -ETIMEDOUT, "a command past its timeout returns -ETIMEDOUT");
    ok(e.timed_out, "and is marked timed out");
    ok(now_s() - t0 < 15, "the timeout is enforced (%.1f s)", now_s() - t0);
    kiln_exec_free(&e);
    sleep_ms(300);
    ok(node_exec(&n, "pgrep -f 'sleep 301[78]' || echo none", 10, &e) == 0, "check for leftovers");
    is_str(e.out, "none\n", "the remote process group was killed, background job included");
    kiln_exec_free(&e);

    size_t len = 3u << 20;
    char *data = xmalloc(len);
    for (size_t i = 0; i < len; i++) data[i] = (char)('a' + (i * 7 + i / 13) % 26);
    char remote[64];
    snprintf(remote, sizeof remote, "/tmp/kiln-probe-%d", (int)getpid());
    ok(node_upload(&n, data, len, remote, 0640) == 0, "upload 3 MiB");
    char *back = NULL;
    size_t blen = 0;
    ok(node_download(&n, remote, len, &back, &blen) == 0, "download it back");
    ok(blen == len && back && memcmp(back, data, len) == 0, "contents identical (%zu bytes)", blen);
    free(back);
    back = NULL;
    is_int(node_download(&n, remote, 1024, &back, &blen), -EFBIG, "download respects its size bound");
    char cmd[256];
    snprintf(cmd, sizeof cmd, "stat -c %%a %s; rm -f %s", remote, remote);
    ok(node_exec(&n, cmd, 10, &e) == 0 && streq(e.out, "640\n"), "upload sets the mode");
    kiln_exec_free(&e);
    is_int(node_download(&n, "/nonexistent/kiln", 100, &back, &blen), -ENOENT, "missing remote file");
    free(data);
    ok(node_read_boot_id(&n) == 0 && n.boot_id && strlen(n.boot_id) == 36, "boot id read");
    free(n.boot_id);
    node_disconnect(&n);

    struct kiln_node bad = n;
    bad.key_path = "/nonexistent/key";
    bad.ssh = NULL;
    bad.boot_id = NULL;
    is_int(node_connect(&bad, 5, &why), -EACCES, "an unreadable key fails at once");
    has(why, "cannot read private key", "with a reason");
    return tap_done();
}
