#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "service/api.h"
#include "util/util.h"

/* Any bytes as each request body the service parses and as a URL path: a parsed request or an
 * error naming a field, never a crash, a leak, or an artifact path that could leave its
 * directory. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *b = (const char *)data;
    char *field = NULL, *why = NULL, *reason = NULL;
    struct kiln_api_job j;
    if (kiln_api_parse_job(b, size, &j, &field, &why) == 0) {
        if (!j.spec || !kiln_api_digest_ok(j.image) || !*j.channel != !j.publish_files) abort();
        kiln_api_job_clear(&j);
    } else if (!why || !field) abort();
    struct kiln_caps caps;
    int slots;
    kiln_api_parse_declare(b, size, &caps, &slots, &field, &why);
    enum kiln_job_state st;
    kiln_api_parse_advance(b, size, &st, &field, &why);
    enum kiln_job_result res;
    kiln_api_parse_finish(b, size, &res, &reason, &field, &why);
    free(reason);
    free(field);
    free(why);
    char *url = xstrndup(b, size < 1024 ? size : 1024);
    struct kiln_route_match m;
    kiln_route_parse(url, &m);
    /* no component that is empty, ".", ".." or hidden */
    if (m.rest && (m.rest[0] == '/' || m.rest[0] == '.' || strstr(m.rest, "/.") || strstr(m.rest, "//"))) abort();
    kiln_route_clear(&m);
    /* the header values the server judges: a Content-Type, and Content-Length fields split at NUL */
    kiln_api_media_type_is(url, "text/xml");
    /* GET /api/v1/jobs's query values: a page within bounds or an error naming the parameter */
    struct kiln_api_list lq;
    char *lf = NULL, *lw = NULL;
    if (kiln_api_parse_list(url, url + strlen(url) / 2, &lq, &lf, &lw) == 0) {
        if (lq.limit < 1 || lq.limit > KILN_STORE_LIST_MAX || lq.before < 0) abort();
    } else if (!lf || !lw) abort();
    free(lf);
    free(lw);
    /* a query's parameter names (the URL split at '&'): accepted only when each is known and
     * given once, else refused naming one (a name quoted cut to 64 bytes) */
    const char *names[KILN_API_QUERY_MAX + 2];
    size_t nn = 0;
    char *qs = xstrdup(url), *save = NULL;
    for (char *t = strtok_r(qs, "&", &save); t && nn < ARRAY_SIZE(names); t = strtok_r(NULL, "&", &save)) names[nn++] = t;
    static const char *const known[] = {"state", "limit", "before", NULL};
    lf = lw = NULL;
    int qr = kiln_api_query_check(names, nn, size & 2 ? NULL : known, &lf, &lw);
    if (qr < 0 && (!lw || (lf && strlen(lf) > 64))) abort();
    for (size_t i = 0; qr == 0 && i < nn; i++)
        for (size_t k = 0; k < i; k++)
            if (!strcmp(names[i], names[k])) abort();
    free(lf);
    free(lw);
    free(qs);
    const char *cl[3] = {url, url + strlen(url), url};
    _cleanup_free_ char *fw = NULL;
    if (kiln_api_framing_check(cl, 1 + size % 3, size & 1, &fw) == 0 &&
        (size % 3 != 0 || (size & 1) || strspn(url, "0123456789") != strlen(url) || !*url))
        abort();
    free(url);
    return 0;
}
