/* kiln submit: uploads an image to the validation service (unless it has it), queues a job
 * and, with --wait, follows it to its result. */
#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <time.h>

#include "cmd/common.h"
#include "service/client.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/secret.h"
#include "util/util.h"

enum { EXIT_INCOMPLETE = 3 };

/* The image with this digest is on the server (HEAD-like GET), else uploaded. 0 or an exit code. */
static int ensure_image(struct kiln_client *c, const char *file, char digest[65])
{
    uint64_t size = 0;
    if (sha256_file_hex(file, digest, &size) < 0) {
        fprintf(stderr, "kiln submit: cannot read %s: %s\n", file, strerror(errno));
        return EXIT_USAGE;
    }
    _cleanup_free_ char *path = xasprintf("/api/v1/images/%s", digest);
    char *resp = NULL, *err = NULL;
    long st = 0;
    struct kiln_http h = {.method = "GET", .path = path, .stream_fd = -1, .timeout_s = 60};
    int r = kiln_client_do(c, &h, &st, &resp, &err);
    if (r == 0 && st == 200) {
        fprintf(stderr, "kiln submit: %s is on the server already (sha256 %s)\n", file, digest);
        free(resp);
        return 0;
    }
    free(resp);
    resp = NULL;
    if (r == 0 && st == 404) {
        fprintf(stderr, "kiln submit: uploading %s (%llu bytes)\n", file, (unsigned long long)size);
        struct kiln_http u = {.method = "POST", .path = "/api/v1/images", .upload = file, .stream_fd = -1};
        r = kiln_client_do(c, &u, &st, &resp, &err);
    }
    int rc = 0;
    if (r < 0) {
        fprintf(stderr, "kiln submit: %s\n", err);
        rc = EXIT_INCOMPLETE;
    } else if (st / 100 != 2) {
        _cleanup_free_ char *t = kiln_client_error_text(st, resp);
        fprintf(stderr, "kiln submit: %s: %s\n", file, t);
        rc = st == 401 || st == 413 ? EXIT_USAGE : EXIT_INCOMPLETE;
    }
    free(resp);
    free(err);
    return rc;
}

/* Follows the job until it is done or cancelled; the exit code of its result. */
static int follow(struct kiln_client *c, long long id)
{
    _cleanup_free_ char *path = xasprintf("/api/v1/jobs/%lld", id);
    char last[64] = "";
    int fails = 0;
    for (;;) {
        char *resp = NULL, *err = NULL;
        long st = 0;
        struct kiln_http h = {.method = "GET", .path = path, .stream_fd = -1, .timeout_s = 60};
        int r = kiln_client_do(c, &h, &st, &resp, &err);
        json_t *j = r == 0 && st == 200 ? json_loads(resp, 0, NULL) : NULL;
        if (!j) {
            /* a server restart is ridden out; a server gone for long is not */
            if (++fails > 30) {
                fprintf(stderr, "kiln submit: lost the job: %s\n", err ? err : resp);
                free(resp);
                free(err);
                return EXIT_INCOMPLETE;
            }
        } else {
            fails = 0;
            const char *state = json_string_value(json_object_get(j, "state"));
            const char *result = json_string_value(json_object_get(j, "result"));
            const char *reason = json_string_value(json_object_get(j, "reason"));
            char now[64];
            snprintf(now, sizeof now, "%s %s", state ? state : "?", result ? result : "");
            if (strcmp(now, last)) {
                fprintf(stderr, "kiln submit: job %lld: %s%s%s\n", id, now, reason ? ": " : "", reason ? reason : "");
                snprintf(last, sizeof last, "%s", now);
            }
            if (state && (streq(state, "done") || streq(state, "cancelled"))) {
                int rc = result && streq(result, "passed") ? EXIT_OK : result && streq(result, "failed") ? EXIT_FAIL : EXIT_INCOMPLETE;
                json_t *cs = json_object_get(j, "cases");
                size_t i;
                json_t *x;
                json_array_foreach(cs, i, x) {
                    const char *why = json_string_value(json_object_get(x, "reason"));
                    printf("%-8s %s%s%s\n", json_string_value(json_object_get(x, "status")), json_string_value(json_object_get(x, "name")),
                           why ? ": " : "", why ? why : "");
                }
                json_decref(j);
                free(resp);
                free(err);
                return rc;
            }
            json_decref(j);
        }
        free(resp);
        free(err);
        struct timespec ts = {2, 0};
        nanosleep(&ts, NULL);
    }
}

/* The name the dashboard groups an image's jobs by: the file's name without its version and
 * extensions ("out/debian-server-1.0.1.qcow2" is "debian-server"), so trends span versions. */
static char *default_name(const char *path)
{
    const char *b = strrchr(path, '/');
    char *n = xstrdup(b ? b + 1 : path);
    char *dot = strchr(n + (n[0] == '.'), '.');
    /* a '-' before a digit starts the version; without one, the first '.' starts the extensions */
    for (char *p = n; *p; p++)
        if (*p == '-' && p[1] >= '0' && p[1] <= '9' && p > n) {
            *p = 0;
            dot = NULL;
            break;
        }
    if (dot) *dot = 0;
    if (!*n) {
        free(n);
        n = xstrdup("image");
    }
    return n;
}

int cmd_submit(int argc, char **argv)
{
    const char *server = NULL, *token = getenv("KILN_TOKEN"), *image = NULL, *kernel = NULL, *append = NULL,
               *runbook = NULL, *publish = NULL, *name = NULL;
    long tier = -1, cpus = 0, memory_mb = 0;
    bool wait = false;
    _cleanup_free_ char *rbtext = NULL; /* before any goto usage */
    for (int i = 1; i < argc; i++) {
        if (streq(argv[i], "--server") && i + 1 < argc) server = argv[++i];
        else if (streq(argv[i], "--token") && i + 1 < argc) token = argv[++i];
        else if (streq(argv[i], "--kernel") && i + 1 < argc) kernel = argv[++i];
        else if (streq(argv[i], "--append") && i + 1 < argc) append = argv[++i];
        else if (streq(argv[i], "--runbook") && i + 1 < argc) runbook = argv[++i];
        else if (streq(argv[i], "--publish") && i + 1 < argc) publish = argv[++i];
        else if (streq(argv[i], "--name") && i + 1 < argc) name = argv[++i];
        else if (streq(argv[i], "--tier") && i + 1 < argc) {
            if (!parse_long(argv[++i], &tier) || tier < 0 || tier > 2) {
                fprintf(stderr, "kiln submit: --tier %s: want 0, 1 or 2\n", argv[i]);
                return EXIT_USAGE;
            }
        } else if ((streq(argv[i], "--cpus") || streq(argv[i], "--memory-mb")) && i + 1 < argc) {
            long *v = streq(argv[i], "--cpus") ? &cpus : &memory_mb;
            if (!parse_long(argv[i + 1], v) || *v < 1 || *v > 1048576) {
                fprintf(stderr, "kiln submit: %s %s: want a positive number\n", argv[i], argv[i + 1]);
                return EXIT_USAGE;
            }
            i++;
        } else if (streq(argv[i], "--wait")) wait = true;
        else if (argv[i][0] == '-' || image) goto usage;
        else image = argv[i];
    }
    if (!server || !image || (tier >= 0 && runbook)) goto usage;
    if (!token || !*token) {
        fprintf(stderr, "kiln submit: no token: give --token or set $KILN_TOKEN (the tenant's, from `kiln tenant add`)\n");
        return EXIT_USAGE;
    }
    secret_add(token); /* masked in every log line, should a message ever quote it */
    json_t *req = json_object();
    if (runbook && read_file(runbook, 128 * 1024, &rbtext, NULL) < 0) {
        fprintf(stderr, "kiln submit: cannot read %s (at most 128 KiB): %s\n", runbook, strerror(errno));
        json_decref(req);
        return EXIT_USAGE;
    }
    struct kiln_client *c = NULL;
    char *err = NULL;
    if (kiln_client_new(server, token, &c, &err) < 0) {
        fprintf(stderr, "kiln submit: %s\n", err);
        free(err);
        json_decref(req);
        return EXIT_USAGE;
    }
    char digest[65], kdigest[65];
    int rc = ensure_image(c, image, digest);
    if (rc == 0 && kernel) rc = ensure_image(c, kernel, kdigest);
    if (rc == 0) {
        json_object_set_new(req, "image", json_string(digest));
        _cleanup_free_ char *dn = name ? NULL : default_name(image);
        json_object_set_new(req, "name", json_string(name ? name : dn));
        if (kernel) json_object_set_new(req, "kernel", json_string(kdigest));
        if (append) json_object_set_new(req, "append", json_string(append));
        if (tier >= 0) json_object_set_new(req, "tier", json_integer(tier));
        if (rbtext) json_object_set_new(req, "runbook", json_string(rbtext));
        if (publish) json_object_set_new(req, "publish", json_pack("{s:s}", "channel", publish));
        /* the job's VM gets what it requires, and a worker must offer at least that */
        if (cpus || memory_mb) json_object_set_new(req, "requirements", json_object());
        if (cpus) json_object_set_new(json_object_get(req, "requirements"), "cpus", json_integer(cpus));
        if (memory_mb) json_object_set_new(json_object_get(req, "requirements"), "memory_mb", json_integer(memory_mb));
        _cleanup_free_ char *body = json_dumps(req, JSON_COMPACT);
        char *resp = NULL;
        long st = 0;
        struct kiln_http h = {.method = "POST", .path = "/api/v1/jobs", .body = body, .body_len = body ? strlen(body) : 0,
                              .stream_fd = -1, .timeout_s = 60};
        int r = body ? kiln_client_do(c, &h, &st, &resp, &err) : -EINVAL;
        json_t *j = r == 0 && st == 201 ? json_loads(resp, 0, NULL) : NULL;
        if (r < 0) {
            fprintf(stderr, "kiln submit: %s\n", err ? err : "a runbook or --append that is not UTF-8");
            rc = r == -EINVAL ? EXIT_USAGE : EXIT_INCOMPLETE;
        } else if (!j) {
            _cleanup_free_ char *t = kiln_client_error_text(st, resp);
            fprintf(stderr, "kiln submit: %s\n", t);
            rc = st == 400 || st == 401 || st == 404 || st == 413 ? EXIT_USAGE : EXIT_INCOMPLETE;
        } else {
            long long id = (long long)json_integer_value(json_object_get(j, "id"));
            printf("%lld\n", id);
            fflush(stdout);
            fprintf(stderr, "kiln submit: job %lld queued (position %lld)\n", id,
                    (long long)json_integer_value(json_object_get(j, "queue_position")));
            if (wait) rc = follow(c, id);
        }
        json_decref(j);
        free(resp);
    }
    free(err);
    json_decref(req);
    kiln_client_free(c);
    return rc;
usage:
    fprintf(stderr,
            "usage: kiln submit --server URL [--token TOKEN] IMAGE [--kernel VMLINUZ [--append CMDLINE]]\n"
            "                   [--tier 0|1|2 | --runbook FILE] [--publish CHANNEL] [--name NAME]\n"
            "                   [--cpus N] [--memory-mb N] [--wait]\n"
            "  uploads IMAGE (skipped when the server has its digest), queues a job and prints its id.\n"
            "  IMAGE is a disk image, or with --kernel the initrd of a direct kernel boot. The default is tier 0.\n"
            "  --name names the image on the dashboard, whose trends follow the jobs of one name (default: the\n"
            "  file's name without version and extensions, out/debian-server-1.0.1.qcow2 -> debian-server).\n"
            "  --cpus, --memory-mb: the job's VM size (a worker must offer at least that; default: the worker's).\n"
            "  The token is the tenant's (kiln tenant add); $KILN_TOKEN keeps it off the command line.\n"
            "  Exit status with --wait: 0 passed, 1 failed, 2 usage or a refused request, 3 incomplete\n"
            "  (cancelled, the infrastructure failed, or the server was lost); without --wait 0 once queued.\n");
    return EXIT_USAGE;
}
