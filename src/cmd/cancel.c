/* kiln cancel: cancels jobs of the validation service over its API (POST
 * /api/v1/jobs/ID/cancel), as the tenant whose token it carries: another tenant's job is
 * "no such job". A running job is stopped by its worker at its next heartbeat and recorded
 * cancelled, never run again. */
#include <jansson.h>
#include <stdlib.h>

#include "cmd/common.h"
#include "service/client.h"
#include "util/util.h"

enum { EXIT_UNREACHED = 3 };

/* One job: the exit code its answer means (0 cancelled). */
static int cancel_one(struct kiln_client *c, const char *arg)
{
    long id;
    if (!parse_long(arg, &id) || id <= 0) {
        fprintf(stderr, "kiln cancel: %s: a job id is a positive number (kiln submit printed it)\n", arg);
        return EXIT_USAGE;
    }
    _cleanup_free_ char *path = xasprintf("/api/v1/jobs/%ld/cancel", id), *request = xasprintf("POST %s", path);
    char *resp = NULL, *err = NULL;
    long st = 0;
    struct kiln_http h = {.method = "POST", .path = path, .stream_fd = -1, .timeout_s = 60};
    int rc, r = kiln_client_do(c, &h, &st, &resp, &err);
    json_t *j = NULL;
    const char *state = NULL;
    if (r < 0) {
        fprintf(stderr, "kiln cancel: %s\n", err);
        rc = EXIT_UNREACHED;
    } else if (st == 409) {
        /* it ended already (done or cancelled): nothing was changed, the message says which */
        _cleanup_free_ char *t = kiln_client_error_text(st, resp);
        fprintf(stderr, "kiln cancel: job %ld: %s\n", id, t);
        rc = EXIT_FAIL;
    } else if (st != 200) {
        _cleanup_free_ char *t = kiln_client_error_text(st, resp);
        fprintf(stderr, "kiln cancel: job %ld: %s\n", id, t);
        rc = st == 404 || st == 401 || st == 400 ? EXIT_USAGE : EXIT_UNREACHED;
    } else if (kiln_client_unpack(request, resp, &j, &err, "{s:s}", "state", &state) < 0) {
        fprintf(stderr, "kiln cancel: %s\n", err);
        rc = EXIT_UNREACHED;
    } else {
        fprintf(stderr, "kiln cancel: job %ld: %s\n", id, state);
        rc = EXIT_OK;
    }
    json_decref(j);
    free(resp);
    free(err);
    return rc;
}

int cmd_cancel(int argc, char **argv)
{
    const char *server = NULL, *token = getenv("KILN_TOKEN");
    const struct cmd_opt opts[] = {
        {0, "server", "URL", CMD_STR, &server, .help = "the service's URL, e.g. http://127.0.0.1:8470"},
        {0, "token", "TOKEN", CMD_STR, &token, .secret = true,
         .help = "the tenant's token (kt_..., from kiln tenant add; default:\n$KILN_TOKEN, which keeps it off the command line)"},
        {0},
    };
    const struct cmd_verb v = {
        "cancel", "--server URL [--token TOKEN] JOB...",
        "Cancels the tenant's jobs JOB... (the ids kiln submit printed). A queued job never runs; a\n"
        "running one is stopped by its worker within a heartbeat and stays cancelled (never queued\n"
        "again); a job submitted with --publish is not published.",
        opts, 1, -1, "JOB",
        .exits = "0 every job cancelled, 1 a job had ended already (done or cancelled), 2 usage, a refused\n"
                 "token or no such job of this tenant, 3 the server could not be reached; the worst\n"
                 "of the jobs' codes",
    };
    int n, rc = cmd_parse(&v, argc, argv, &n);
    if (rc != CMD_GO) return rc;
    if (!server) return cmd_usage_error("cancel", "--server URL is needed: the service the jobs are on");
    struct kiln_client *c = NULL;
    if ((rc = cmd_tenant_client("cancel", server, token, &c)) != 0) return rc;
    for (int i = 1; i <= n; i++) {
        int one = cancel_one(c, argv[i]);
        /* the worst first: unreached over usage over ended */
        if (one == EXIT_UNREACHED || (one == EXIT_USAGE && rc != EXIT_UNREACHED) || (one == EXIT_FAIL && rc == EXIT_OK)) rc = one;
    }
    kiln_client_free(c);
    return rc;
}
