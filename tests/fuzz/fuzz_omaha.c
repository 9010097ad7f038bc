#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "update/omaha.h"
#include "util/util.h"

/* Any bytes as an Omaha request and as a response: parsed or refused with a reason, never a
 * crash, a leak or a fetch; whatever parses is written back, and the written document parses
 * to the same structure (so a server never answers with what a client cannot read). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct omaha_request q, q2;
    static struct omaha_response r, r2;
    char *why = NULL, *doc = NULL;
    size_t len;
    if (omaha_request_parse((const char *)data, size, &q, &why) == 0) {
        if (q.napps == 0 || omaha_request_write(&q, &doc, &len, &why) < 0) abort();
        /* names never act as paths */
        for (size_t i = 0; i < q.napps; i++) {
            const char *names[] = {q.apps[i].appid, q.apps[i].version, q.apps[i].track, q.apps[i].machineid, q.apps[i].bootid};
            for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
                if (strchr(names[k], '/') || strstr(names[k], "..") || names[k][0] == '.') abort();
        }
        if (omaha_request_parse(doc, len, &q2, &why) < 0 || memcmp(&q, &q2, sizeof(q)) != 0) abort();
        free(doc);
    } else if (!why) abort();
    free(why);
    why = NULL;
    if (omaha_response_parse((const char *)data, size, &r, &why) == 0) {
        /* the writer acknowledges at most OMAHA_EVENTS_MAX events */
        for (size_t i = 0; i < r.napps; i++)
            if (r.apps[i].events > OMAHA_EVENTS_MAX) r.apps[i].events = OMAHA_EVENTS_MAX;
        if (omaha_response_write(&r, &doc, &len, &why) < 0) abort();
        if (omaha_response_parse(doc, len, &r2, &why) < 0 || memcmp(&r, &r2, sizeof(r)) != 0) abort();
        free(doc);
    } else if (!why) abort();
    free(why);
    return 0;
}
