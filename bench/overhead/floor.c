/* bench/overhead's floor: the least any SSH-driven harness can spend on N trivial commands.
 * One libssh session (the library kiln uses), public-key login, then N exec channels that each
 * run COMMAND and read its exit status, one after the other as kiln's cases do. No logs, no
 * results: what is left of kiln's per-case time above this is kiln's own overhead.
 *
 * usage: floor HOST PORT USER KEYFILE N [COMMAND]
 * Prints "N commands in S s (M ms/command)" and exits 0; 1 when a step fails (said on stderr). */
#include <libssh/libssh.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int run_one(ssh_session s, const char *cmd)
{
    ssh_channel c = ssh_channel_new(s);
    if (!c || ssh_channel_open_session(c) != SSH_OK || ssh_channel_request_exec(c, cmd) != SSH_OK) {
        if (c) ssh_channel_free(c);
        return -1;
    }
    char buf[4096];
    while (ssh_channel_read(c, buf, sizeof buf, 0) > 0) {}
    while (ssh_channel_read(c, buf, sizeof buf, 1) > 0) {}
    ssh_channel_send_eof(c);
    int st = ssh_channel_get_exit_status(c);
    ssh_channel_close(c);
    ssh_channel_free(c);
    return st;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: floor HOST PORT USER KEYFILE N [COMMAND]\n");
        return 2;
    }
    int port = atoi(argv[2]), n = atoi(argv[5]);
    const char *cmd = argc > 6 ? argv[6] : "true";
    ssh_session s = ssh_new();
    int no = 0;
    ssh_options_set(s, SSH_OPTIONS_HOST, argv[1]);
    ssh_options_set(s, SSH_OPTIONS_PORT, &port);
    ssh_options_set(s, SSH_OPTIONS_USER, argv[3]);
    ssh_options_set(s, SSH_OPTIONS_STRICTHOSTKEYCHECK, &no);
    ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, "/dev/null");
    ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no);
    int yes = 1;
    ssh_options_set(s, SSH_OPTIONS_NODELAY, &yes);
    ssh_key key = NULL;
    if (ssh_connect(s) != SSH_OK || ssh_pki_import_privkey_file(argv[4], NULL, NULL, NULL, &key) != SSH_OK ||
        ssh_userauth_publickey(s, NULL, key) != SSH_AUTH_SUCCESS) {
        fprintf(stderr, "floor: cannot log in to %s@%s:%d: %s\n", argv[3], argv[1], port, ssh_get_error(s));
        return 1;
    }
    ssh_key_free(key);
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        int st = run_one(s, cmd);
        if (st != 0) {
            fprintf(stderr, "floor: command %d of %d exited %d: %s\n", i + 1, n, st, ssh_get_error(s));
            return 1;
        }
    }
    double t = now_s() - t0;
    printf("%d commands in %.2f s (%.1f ms/command)\n", n, t, t * 1000.0 / n);
    ssh_disconnect(s);
    ssh_free(s);
    return 0;
}
