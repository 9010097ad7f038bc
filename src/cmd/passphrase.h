#pragma once
#include <stdbool.h>

/* KILN_PASSPHRASE, else a prompt on /dev/tty (echo off; asked twice when confirm). NULL when
 * neither is possible or the two answers differ. The caller wipes and frees it. */
char *passphrase_read(const char *prompt, bool confirm);
