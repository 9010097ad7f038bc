/* A minimal QMP (QEMU Machine Protocol) client over a unix socket. */
#pragma once
#include <jansson.h>

struct qmp;
/* Connects (retrying until timeout_ms while qemu creates the socket) and negotiates capabilities. */
struct qmp *qmp_open(const char *sock, int timeout_ms);
/* Sends {"execute": cmd, "arguments": args} (args stolen, may be NULL). Returns the
 * "return" value (new reference) or NULL with *reterr set to QMP's error description. */
json_t *qmp_call(struct qmp *q, const char *cmd, json_t *args, char **reterr);
/* human-monitor-command: the text qemu printed. */
char *qmp_hmp(struct qmp *q, const char *line);
void qmp_close(struct qmp *q);
