/* The OpenSSH client's command line for a node kiln booted: what `kiln shell` runs and what
 * `kiln run` prints for an environment platform.keep_environment keeps. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct kiln_node;

/* ssh's argv (NULL-terminated, *argc set; free with strv_free(v, argc)) reaching n as kiln does:
 * n's key only (IdentitiesOnly), n's port and user, no prompt (BatchMode), and the host key
 * taken without asking into known_hosts (a file of this run's: a VM's host key is new at each
 * deployment, so a user's own known_hosts would only collect stale keys). tty adds -t (an
 * interactive session). cmd[0..ncmd) (ncmd 0: a login shell) is passed as one word of words
 * each quoted for the remote POSIX shell, so they arrive as given. */
char **ssh_cli_argv(const struct kiln_node *n, const char *known_hosts, bool tty, char *const *cmd, size_t ncmd,
                    size_t *argc);
/* argv as one line for a POSIX shell, each word quoted only when it needs to be, for a person
 * to paste. */
char *ssh_cli_line(char *const *argv, size_t argc);
