#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gallery/catalog.h"
#include "service/dash_parse.h"
#include "util/util.h"

/* Any bytes as what the dashboard reads from a request: lines are a URL path, a next= value,
 * then key/value pairs of the sign-in form handed over in pieces as libmicrohttpd does (each
 * value split at the line's first byte as a cut point). A route names a page only with a
 * well-formed id, name and channel; a next accepted is a path of this site; the form's fields
 * stay NUL-terminated inside their buffers whatever the pieces. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = xstrndup((const char *)data, size), *save = NULL;
    char *url = strtok_r(buf, "\n", &save), *next = url ? strtok_r(NULL, "\n", &save) : NULL;
    struct kiln_dash_route r;
    if (url) {
        bool ok = kiln_dash_route(url, &r);
        if (ok != (r.page != DASH_NONE)) abort();
        if (r.page == DASH_JOB && r.job <= 0) abort();
        if (r.page == DASH_ROLLOUT && (!catalog_safe_name(r.name) || !*r.channel || strchr(r.channel, '/') || r.channel[0] == '.'))
            abort();
    }
    if (next && kiln_dash_next_ok(next) && (next[0] != '/' || next[1] == '/' || strchr(next, '\\') || strlen(next) > 200)) abort();
    struct kiln_dash_form f;
    memset(&f, 0x41, sizeof f); /* no NUL but the ones the parser writes */
    f.token[0] = f.next[0] = 0;
    f.too_big = false;
    char *line;
    while ((line = strtok_r(NULL, "\n", &save))) {
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = 0;
        const char *val = eq + 1;
        size_t n = strlen(val), cut = n ? (unsigned char)line[0] % (n + 1) : 0;
        uint64_t off = (unsigned char)line[0] & 1 ? UINT64_MAX - cut : 0; /* now and then a wild offset */
        kiln_dash_form_field(&f, line, val, off, cut);
        kiln_dash_form_field(&f, line, val + cut, off ? off : cut, n - cut);
        if (!memchr(f.token, 0, sizeof f.token) || !memchr(f.next, 0, sizeof f.next)) abort();
    }
    free(buf);
    return 0;
}
