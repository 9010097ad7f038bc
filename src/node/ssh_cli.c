#include "node/ssh_cli.h"

#include <string.h>

#include "node/node.h"
#include "util/strv.h"
#include "util/util.h"

char **ssh_cli_argv(const struct kiln_node *n, const char *known_hosts, bool tty, char *const *cmd, size_t ncmd,
                    size_t *argc)
{
    struct strv sv = {0};
    strv_push(&sv, "ssh");
    if (tty) strv_push(&sv, "-t");
    strv_push(&sv, "-i");
    strv_push(&sv, n->key_path);
    strv_push(&sv, "-p");
    strv_consume(&sv, xasprintf("%d", n->port));
    strv_push(&sv, "-o");
    strv_push(&sv, "IdentitiesOnly=yes");
    strv_push(&sv, "-o");
    strv_push(&sv, "BatchMode=yes");
    strv_push(&sv, "-o");
    strv_push(&sv, "StrictHostKeyChecking=no");
    strv_push(&sv, "-o");
    strv_consume(&sv, xasprintf("UserKnownHostsFile=%s", known_hosts));
    /* "Permanently added ... to the list of known hosts" on each session is noise here */
    strv_push(&sv, "-o");
    strv_push(&sv, "LogLevel=ERROR");
    strv_consume(&sv, xasprintf("%s@%s", n->user, n->host));
    if (ncmd) {
        struct sbuf b = {0};
        for (size_t i = 0; i < ncmd; i++) {
            _cleanup_free_ char *q = shell_quote(cmd[i]);
            if (i) sbuf_puts(&b, " ");
            sbuf_puts(&b, q);
        }
        strv_consume(&sv, sbuf_steal(&b));
    }
    *argc = sv.n;
    char **v = xcalloc(sv.n + 1, sizeof *v);
    memcpy(v, sv.v, sv.n * sizeof *v);
    free(sv.v);
    return v;
}

char *ssh_cli_line(char *const *argv, size_t argc)
{
    /* characters a POSIX shell takes literally in a word */
    static const char plain[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@%+=:,./_-";
    struct sbuf b = {0};
    for (size_t i = 0; i < argc; i++) {
        if (i) sbuf_puts(&b, " ");
        if (argv[i][0] && strspn(argv[i], plain) == strlen(argv[i])) {
            sbuf_puts(&b, argv[i]);
        } else {
            _cleanup_free_ char *q = shell_quote(argv[i]);
            sbuf_puts(&b, q);
        }
    }
    return sbuf_steal(&b);
}
