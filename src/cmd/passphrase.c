/* Passphrases for secret keys: KILN_PASSPHRASE, else the terminal with echo off. */
#include "cmd/passphrase.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "util/util.h"

/* KILN_PASSPHRASE, else a prompt on the terminal (echo off); NULL when neither is possible. */
char *passphrase_read(const char *prompt, bool confirm)
{
    const char *env = getenv("KILN_PASSPHRASE");
    if (env) return xstrdup(env);
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct termios old, quiet;
    bool term = tcgetattr(fd, &old) == 0;
    char buf[2][1024];
    for (int round = 0; round < (confirm ? 2 : 1); round++) {
        dprintf(fd, "%s", round ? "Again: " : prompt);
        if (term) {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            tcsetattr(fd, TCSAFLUSH, &quiet);
        }
        ssize_t n = read(fd, buf[round], sizeof buf[round] - 1);
        if (term) tcsetattr(fd, TCSAFLUSH, &old);
        dprintf(fd, "\n");
        if (n <= 0) {
            close(fd);
            return NULL;
        }
        buf[round][n] = 0;
        buf[round][strcspn(buf[round], "\r\n")] = 0;
    }
    close(fd);
    if (confirm && strcmp(buf[0], buf[1])) {
        fprintf(stderr, "kiln: the passphrases differ\n");
        return NULL;
    }
    char *p = xstrdup(buf[0]);
    explicit_bzero(buf, sizeof buf);
    return p;
}
