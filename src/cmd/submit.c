/* kiln submit: uploads an image to the validation service (unless it has it), queues a job
 * and, with --wait, follows it to its result. */
#include <errno.h>
#include <glob.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cmd/common.h"
#include "model/req.h"
#include "runbook/runbook.h"
#include "service/api.h"
#include "service/client.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/timeutil.h"
#include "util/utf8.h"
#include "util/yaml.h"
#include "util/util.h"

enum { EXIT_INCOMPLETE = 3, EXIT_PUBLISH_REFUSED = 4 };

#define HASH_PROGRESS_MS 5000 /* a hash still running says how far it is this often */

/* n bytes for a reader: "1.5 GiB", "64.0 MiB" */
static char *human_size(uint64_t n)
{
    return n >= (1u << 30) ? xasprintf("%.1f GiB", (double)n / (1 << 30)) : xasprintf("%.1f MiB", (double)n / (1 << 20));
}

/* The server's bound on an image, from GET /api/v1/limits: 0 and *max, 1 when the server does
 * not say (one from before the route: the upload's 413 still refuses), or an exit code. */
static int server_max_image(struct kiln_client *c, int64_t *max)
{
    char *resp = NULL, *err = NULL;
    long st = 0;
    struct kiln_http h = {.method = "GET", .path = "/api/v1/limits", .stream_fd = -1, .timeout_s = 60};
    int r = kiln_client_do(c, &h, &st, &resp, &err), rc = 1;
    json_t *j = NULL;
    json_int_t m = 0;
    if (r < 0) {
        fprintf(stderr, "kiln submit: %s\n", err);
        rc = EXIT_INCOMPLETE;
    } else if (st == 401) {
        _cleanup_free_ char *t = kiln_client_error_text(st, resp);
        fprintf(stderr, "kiln submit: %s\n", t);
        rc = EXIT_USAGE;
    } else if (st == 200 && kiln_client_unpack("GET /api/v1/limits", resp, &j, &err, "{s:I}", "max_image_bytes", &m) == 0 && m > 0) {
        *max = m;
        rc = 0;
    }
    json_decref(j);
    free(resp);
    free(err);
    return rc;
}

struct hash_progress {
    const char *file;
    uint64_t size;
    int64_t next_ms;
};

static bool hash_progress(uint64_t done, void *ctx)
{
    struct hash_progress *p = ctx;
    if (now_ms() < p->next_ms || done >= p->size) return true;
    p->next_ms = now_ms() + HASH_PROGRESS_MS;
    _cleanup_free_ char *d = human_size(done), *t = human_size(p->size);
    fprintf(stderr, "kiln submit: hashing %s: %s of %s (%d %%)\n", p->file, d, t, (int)(done * 100 / p->size));
    return true;
}

/* The image with this digest is on the server (HEAD-like GET), else uploaded. An image past
 * the server's bound is refused before it is read (a 1 TB sparse file was hashed for many
 * minutes in silence, then refused by the upload); a long hash says how far it is. 0 or an
 * exit code. */
static int ensure_image(struct kiln_client *c, const char *file, char digest[65])
{
    uint64_t size = 0;
    struct stat sb;
    int fd = open_regular(file, false, &sb);
    if (fd >= 0) close(fd);
    int64_t max = 0;
    int lr = fd < 0 ? 0 : server_max_image(c, &max);
    if (lr > 1) return lr;
    if (fd >= 0 && lr == 0 && sb.st_size > max) {
        _cleanup_free_ char *have = human_size((uint64_t)sb.st_size), *cap = human_size((uint64_t)max);
        fprintf(stderr, "kiln submit: %s is %lld bytes (%s); the server takes images of at most %lld bytes (%s, kiln serve "
                        "--max-image-mb): nothing was read or sent; convert it to qcow2 (kiln convert) or shrink it\n",
                file, (long long)sb.st_size, have, (long long)max, cap);
        return EXIT_USAGE;
    }
    struct hash_progress hp = {.file = file, .size = fd >= 0 ? (uint64_t)sb.st_size : 0, .next_ms = now_ms() + HASH_PROGRESS_MS};
    int rr = fd < 0 ? fd : sha256_file_hex_progress(file, digest, &size, hash_progress, &hp);
    if (rr < 0) {
        _cleanup_free_ char *why = fs_open_error(file, rr, "pass the disk image file itself");
        fprintf(stderr, "kiln submit: %s\n", why);
        return EXIT_USAGE;
    }
    _cleanup_free_ char *path = xasprintf("/api/v1/images/%s", digest);
    char *resp = NULL, *err = NULL;
    long st = 0;
    struct kiln_http h = {.method = "GET", .path = path, .stream_fd = -1, .timeout_s = 60};
    int r = kiln_client_do(c, &h, &st, &resp, &err);
    bool had = r == 0 && st == 200;
    _cleanup_free_ char *request = xasprintf("GET %s", path);
    if (!had) {
        free(resp);
        resp = NULL;
    }
    if (r == 0 && st == 404) {
        fprintf(stderr, "kiln submit: uploading %s (%llu bytes)\n", file, (unsigned long long)size);
        struct kiln_http u = {.method = "POST", .path = "/api/v1/images", .upload = file, .stream_fd = -1};
        r = kiln_client_do(c, &u, &st, &resp, &err);
        free(request);
        request = xstrdup("POST /api/v1/images");
    }
    int rc = 0;
    json_t *j = NULL;
    const char *got = NULL;
    json_int_t got_size = 0;
    if (r < 0) {
        fprintf(stderr, "kiln submit: %s\n", err);
        rc = EXIT_INCOMPLETE;
    } else if (st / 100 != 2) {
        _cleanup_free_ char *t = kiln_client_error_text(st, resp);
        fprintf(stderr, "kiln submit: %s: %s\n", file, t);
        rc = st == 401 || st == 413 ? EXIT_USAGE : EXIT_INCOMPLETE;
    } else if (kiln_client_unpack(request, resp, &j, &err, "{s:s, s:I}", "digest", &got, "size", &got_size) < 0) {
        fprintf(stderr, "kiln submit: %s\n", err);
        rc = EXIT_INCOMPLETE;
    } else if (!streq(got, digest) || (uint64_t)got_size != size) {
        /* "on the server" must be this image: the job would run whatever the server names */
        fprintf(stderr, "kiln submit: the server's reply to %s names image %.64s of %lld bytes, not %s (sha256 %s, %llu "
                        "bytes): a broken server or proxy; nothing was queued\n",
                request, got, (long long)got_size, file, digest, (unsigned long long)size);
        rc = EXIT_INCOMPLETE;
    } else if (had) {
        fprintf(stderr, "kiln submit: %s is on the server already (sha256 %s)\n", file, digest);
    }
    json_decref(j);
    free(resp);
    free(err);
    return rc;
}

/* What a job reply must say beyond its fields' types: a known state, a result that is one of
 * the three (or null before the job ends, or when it was cancelled unrun), and a name and a
 * status for each case. false with *err. */
static bool reply_checks(const char *request, const char *state, json_t *res, json_t *cs, char **reterr)
{
    static const char *const states[] = {"queued", "assigned", "running", "uploading", "done", "cancelled"};
    const char *result = json_string_value(res);
    bool known = false;
    for (size_t i = 0; i < ARRAY_SIZE(states); i++) known |= streq(state, states[i]);
    if (!known)
        *reterr = xasprintf("the server's reply to %s gives the job's state as \"%.40s\", which is none of queued, assigned, "
                         "running, uploading, done, cancelled",
                         request, state);
    else if (!(json_is_null(res) || (result && (streq(result, "passed") || streq(result, "failed") || streq(result, "incomplete")))) ||
             (streq(state, "done") && !result))
        *reterr = xasprintf("the server's reply to %s gives the %s job the result %s, not passed, failed or incomplete", request,
                         state, result ? result : "null");
    else if (!json_is_array(cs))
        *reterr = xasprintf("the server's reply to %s lacks what kiln needs: the job's cases are not a list", request);
    size_t i;
    json_t *x;
    json_array_foreach(cs, i, x) if (!*reterr && (!json_is_string(json_object_get(x, "name")) || !json_is_string(json_object_get(x, "status"))))
        *reterr = xasprintf("the server's reply to %s lacks what kiln needs: case %zu has no name or no status", request, i + 1);
    return !*reterr;
}

/* A job's publish, when it has one: an object whose state is one of the four and whose
 * reason is a string or null. false with *err. */
static bool publish_checks(const char *request, json_t *pub, char **reterr)
{
    if (!pub || json_is_null(pub)) return true;
    const char *st = json_string_value(json_object_get(pub, "state"));
    json_t *rs = json_object_get(pub, "reason");
    if (!st || !(streq(st, "pending") || streq(st, "publishing") || streq(st, "published") || streq(st, "refused")) ||
        !(json_is_string(rs) || json_is_null(rs)))
        *reterr = xasprintf("the server's reply to %s gives the job's publish without a state (pending, publishing, published, "
                         "refused) or a reason",
                         request);
    return !*reterr;
}

/* A job that is done (or cancelled) with its publish decided: its cases on stdout, the publish
 * on stderr (words from the server escaped); the exit code of its result. */
static int follow_done(long long id, const char *result, json_t *cs, json_t *pub, const char *pstate)
{
    int rc = result && streq(result, "passed") ? EXIT_OK : result && streq(result, "failed") ? EXIT_FAIL : EXIT_INCOMPLETE;
    size_t i;
    json_t *x;
    json_array_foreach(cs, i, x) {
        const char *why = json_string_value(json_object_get(x, "reason"));
        const char *st_ = json_string_value(json_object_get(x, "status"));
        const char *nm = json_string_value(json_object_get(x, "name"));
        _cleanup_free_ char *e_st = utf8_escape_controls(st_, strlen(st_), false);
        _cleanup_free_ char *e_nm = utf8_escape_controls(nm, strlen(nm), false);
        _cleanup_free_ char *e_why = why ? utf8_escape_controls(why, strlen(why), false) : NULL;
        printf("%-8s %s%s%s\n", e_st, e_nm, e_why ? ": " : "", e_why ? e_why : "");
    }
    if (pstate) {
        const char *pr = json_string_value(json_object_get(pub, "reason"));
        _cleanup_free_ char *e_pr = pr ? utf8_escape_controls(pr, strlen(pr), false) : NULL;
        fprintf(stderr, "kiln submit: job %lld: publish %s%s%s\n", id, pstate, e_pr ? ": " : "", e_pr ? e_pr : "");
        if (streq(pstate, "refused") && rc == EXIT_OK) rc = EXIT_PUBLISH_REFUSED;
    }
    return rc;
}

/* Follows the job until it is done or cancelled (and its publish decided); the exit code of
 * its result (EXIT_PUBLISH_REFUSED when it passed but was not published). */
static int follow(struct kiln_client *c, long long id)
{
    _cleanup_free_ char *path = xasprintf("/api/v1/jobs/%lld", id);
    char last[64] = "";
    int fails = 0;
    for (;;) {
        char *resp = NULL, *err = NULL;
        long st = 0, retry_after = 0;
        struct kiln_http h = {.method = "GET", .path = path, .stream_fd = -1, .timeout_s = 60, .retry_after_s = &retry_after};
        int r = kiln_client_do(c, &h, &st, &resp, &err);
        json_t *j = NULL;
        const char *state = NULL;
        json_t *res = NULL, *cs = NULL, *rsn = NULL, *pub = NULL;
        _cleanup_free_ char *request = xasprintf("GET %s", path);
        /* a job reply without its state (or result, or cases) cannot be followed: an error at
         * once, not a job that stays "?" forever or a verdict made up from defaults */
        if (r == 0 && st == 200 &&
            (kiln_client_unpack(request, resp, &j, &err, "{s:s, s:o, s:o, s?o, s?o}", "state", &state, "result", &res, "cases",
                                &cs, "reason", &rsn, "publish", &pub) < 0 ||
             !reply_checks(request, state, res, cs, &err) || !publish_checks(request, pub, &err))) {
            fprintf(stderr, "kiln submit: %s\n", err);
            json_decref(j);
            free(resp);
            free(err);
            return EXIT_INCOMPLETE;
        }
        if (!j) {
            /* a server restart is ridden out (30 failed polls, 2 s apart), and a busy one (503
             * or 429 with Retry-After) is asked again when it says, each wait of 20 s or more
             * counting as one failed poll per 20 s: a server that keeps asking for 30 s is
             * followed for 15 minutes; a server gone for longer is not */
            long waited = r == 0 ? kiln_client_backoff_s(st, retry_after) : 0;
            fails += waited ? (int)MAX(1, waited / 20) : 1;
            if (waited && fails <= 30) {
                _cleanup_free_ char *t = kiln_client_error_text(st, resp);
                fprintf(stderr, "kiln submit: job %lld: %s; asking again in %ld s, as its Retry-After says\n", id, t, waited);
                free(resp);
                free(err);
                struct timespec ts = {waited, 0};
                nanosleep(&ts, NULL);
                continue;
            }
            if (fails > 30) {
                fprintf(stderr, "kiln submit: lost the job: %s\n", err ? err : resp);
                free(resp);
                free(err);
                return EXIT_INCOMPLETE;
            }
        } else {
            fails = 0;
            const char *result = json_string_value(res), *reason = json_string_value(rsn);
            char now[64];
            snprintf(now, sizeof now, "%s%s%s", state, result ? " " : "", result ? result : "");
            if (strcmp(now, last)) {
                /* a reason quotes the guest: printed with its control characters escaped */
                _cleanup_free_ char *r_esc = reason ? utf8_escape_controls(reason, strlen(reason), false) : NULL;
                bool why = r_esc && *r_esc; /* a job that passed has an empty reason */
                fprintf(stderr, "kiln submit: job %lld: %s%s%s\n", id, now, why ? ": " : "", why ? r_esc : "");
                snprintf(last, sizeof last, "%s", now);
            }
            const char *pstate = json_string_value(json_object_get(pub, "state"));
            /* a job that asked to be published is followed until the publish is decided */
            bool deciding = pstate && (streq(pstate, "pending") || streq(pstate, "publishing"));
            if ((streq(state, "done") || streq(state, "cancelled")) && !deciding) {
                int rc = follow_done(id, result, cs, pub, pstate);
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

/* --publish: the version IMAGE belongs to, as kiln build and kiln sign left it beside IMAGE:
 * the manifest listing IMAGE's file name, the files it lists, the provenance, and each one's
 * .minisig where there is one (the server refuses what is unsigned, and says so on the job).
 * Each is uploaded (unless the server has it); *files gets {NAME: DIGEST}. 0 or an exit code. */
static int publish_files(struct kiln_client *c, const char *image, json_t **files)
{
    _cleanup_free_ char *dir = path_dirname(image);
    const char *base = strrchr(image, '/') ? strrchr(image, '/') + 1 : image;
    glob_t g;
    _cleanup_free_ char *pat = path_join(dir, "*.manifest.json");
    json_t *m = NULL;
    _cleanup_free_ char *mname = NULL;
    if (glob(pat, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc && !m; i++) {
            json_t *cand = json_load_file(g.gl_pathv[i], 0, NULL);
            size_t k;
            json_t *a;
            json_array_foreach(json_object_get(cand, "artifacts"), k, a) if (!m && streq(json_string_value(json_object_get(a, "file")), base)) {
                m = json_incref(cand);
                mname = xstrdup(strrchr(g.gl_pathv[i], '/') + 1);
            }
            json_decref(cand);
        }
        globfree(&g);
    }
    if (!m) {
        fprintf(stderr, "kiln submit: --publish: no *.manifest.json beside %s lists it: publish a version kiln build made "
                        "(NAME-VERSION.manifest.json and its files, signed with kiln sign)\n", image);
        return EXIT_USAGE;
    }
    const char *name = json_string_value(json_object_get(m, "name")), *version = json_string_value(json_object_get(m, "version"));
    json_t *names = json_array();
    json_array_append_new(names, json_string(mname));
    const char *lists[] = {"artifacts", "sbom"};
    for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
        size_t k;
        json_t *a;
        json_array_foreach(json_object_get(m, lists[l]), k, a) if (json_is_string(json_object_get(a, "file")))
            json_array_append(names, json_object_get(a, "file"));
    }
    if (name && version) json_array_append_new(names, json_sprintf("%s-%s.provenance.json", name, version));
    json_decref(m);
    *files = json_object();
    int rc = 0;
    size_t k;
    json_t *n;
    json_array_foreach(names, k, n) {
        const char *f = json_string_value(n);
        for (int sig = 0; sig < 2 && rc == 0; sig++) {
            _cleanup_free_ char *fn = sig ? xasprintf("%s.minisig", f) : xstrdup(f), *p = path_join(dir, fn);
            if (!kiln_api_file_name_ok(fn)) {
                fprintf(stderr, "kiln submit: --publish: %s names the file \"%s\", which is not a plain file name\n", mname, fn);
                rc = EXIT_USAGE;
            } else if (!file_exists(p)) {
                if (!sig) {
                    fprintf(stderr, "kiln submit: --publish: %s is missing (listed by %s): the version is published whole\n", p, mname);
                    rc = EXIT_USAGE;
                }
            } else {
                char digest[65];
                if ((rc = ensure_image(c, p, digest)) == 0) json_object_set_new(*files, fn, json_string(digest));
            }
        }
        if (rc) break;
    }
    json_decref(names);
    return rc;
}

/* ---- --runbook: what the service takes of a runbook ---- */

/* The keys a runbook submitted to the service may hold: the platform is the service's. */
static const char *const service_keys[] = {"name", "concurrency", "variable", "testcase", NULL};

static bool service_key(const char *k)
{
    for (size_t i = 0; service_keys[i]; i++)
        if (streq(k, service_keys[i])) return true;
    return false;
}

/* A YAML tree as JSON (YAML's flow style, which the service reads): a quoted scalar is a string, a plain
 * one a whole number, true, false or null when it reads as one, else a string. */
static json_t *ynode_json(const struct ynode *n)
{
    if (n->kind == YN_SEQ) {
        json_t *a = json_array();
        for (size_t i = 0; i < n->n; i++) json_array_append_new(a, ynode_json(n->items[i]));
        return a;
    }
    if (n->kind == YN_MAP) {
        json_t *o = json_object();
        for (size_t i = 0; i + 1 < n->n; i += 2) json_object_set_new(o, n->items[i]->scalar, ynode_json(n->items[i + 1]));
        return o;
    }
    long v;
    const char *s = n->scalar ? n->scalar : "";
    if (!n->quoted && parse_long_strict(s, &v)) return json_integer(v);
    if (!n->quoted && (streq(s, "true") || streq(s, "false"))) return json_boolean(streq(s, "true"));
    if (!n->quoted && (streq(s, "null") || streq(s, "~") || !*s)) return json_null();
    return json_string(s);
}

/* path and what it includes (include, or LISA's parent), merged as kiln run merges them (the
 * including file wins, lists joined with the included first), keeping only service_keys; the
 * keys left out are added to *dropped. NULL after printing why. */
static struct ynode *runbook_merged(const char *path, int depth, json_t *dropped)
{
    struct diags d = {0};
    struct ynode *root = depth > 8 ? NULL : yaml_load_file(path, &d);
    if (!root || root->kind != YN_MAP) {
        if (depth > 8) fprintf(stderr, "kiln submit: --runbook: %s: includes nested deeper than 8\n", path);
        else if (root) fprintf(stderr, "kiln submit: --runbook: %s: a runbook is a mapping of keys\n", path);
        diags_print(&d, stderr);
        diags_free(&d);
        ynode_free(root);
        return NULL;
    }
    diags_free(&d);
    struct ynode *merged = NULL, *inc = y_get(root, "include") ? y_get(root, "include") : y_get(root, "parent");
    bool ok = true;
    for (size_t i = 0; inc && ok && i < (inc->kind == YN_SEQ ? inc->n : 1); i++) {
        const struct ynode *it = inc->kind == YN_SEQ ? inc->items[i] : inc, *p = it->kind == YN_MAP ? y_get(it, "path") : it;
        if (!p || p->kind != YN_SCALAR || strstr(p->scalar, "$(")) {
            fprintf(stderr, "kiln submit: --runbook: %s:%d:%d: kiln submit follows an include given as a plain path; "
                            "name the file without $(variables)\n", path, it->line, it->col);
            ok = false;
            break;
        }
        _cleanup_free_ char *dir = path_dirname(path), *full = path_resolve(dir, p->scalar);
        struct ynode *sub = runbook_merged(full, depth + 1, dropped);
        if (!sub) ok = false;
        else merged = ynode_merge(merged, sub);
    }
    struct ynode *own = ynode_new(YN_MAP, root);
    for (size_t i = 0; ok && i + 1 < root->n; i += 2) {
        const char *k = root->items[i]->scalar;
        if (service_key(k)) {
            ynode_push(own, root->items[i]);
            ynode_push(own, root->items[i + 1]);
            root->items[i] = root->items[i + 1] = NULL;
        } else if (!streq(k, "include") && !streq(k, "parent")) {
            json_object_set_new(dropped, k, json_true());
        }
    }
    ynode_free(root);
    if (!ok) {
        ynode_free(own);
        ynode_free(merged);
        return NULL;
    }
    return ynode_merge(merged, own);
}

/* --runbook FILE as the service takes it (in *text): FILE itself when it holds only the
 * service's keys (so the server's file:line:col are FILE's); else FILE with its includes
 * merged and only those keys kept, after loading it as kiln run would (errors name the real
 * files), saying on stderr what was left out. 0 or an exit code. */
static int runbook_text(const char *file, char **text)
{
    int rr = read_file(file, 128 * 1024, text, NULL);
    if (rr < 0) {
        _cleanup_free_ char *why = rr == -EFBIG ? xasprintf("%s is larger than the 128 KiB a runbook may be", file)
                                                : fs_open_error(file, rr, "pass the runbook file itself");
        fprintf(stderr, "kiln submit: --runbook: %s\n", why);
        return EXIT_USAGE;
    }
    struct diags d = {0};
    struct ynode *top = yaml_load_string(file, *text, strlen(*text), &d);
    bool plain = top && top->kind == YN_MAP;
    for (size_t i = 0; plain && i + 1 < top->n; i += 2) plain = service_key(top->items[i]->scalar);
    ynode_free(top);
    diags_free(&d);
    if (plain) return 0;
    struct kiln_runbook *rb = NULL;
    struct diags warn = {0};
    if (runbook_load_warn(file, NULL, 0, &rb, &d, &warn) < 0 || d.n) {
        diags_print(&d, stderr);
        fprintf(stderr, "kiln submit: --runbook %s: %zu error(s); see docs/runbook.md for the keys\n", file, d.n);
        runbook_free(rb);
        diags_free(&d);
        diags_free(&warn);
        return EXIT_USAGE;
    }
    int keep = rb->platform.keep_environment;
    runbook_free(rb);
    diags_free(&d);
    diags_free(&warn);
    /* of what is left out, the one thing a user may count on happening is said on its own */
    if (keep != KEEP_NO)
        fprintf(stderr, "kiln submit: --runbook %s: platform.keep_environment: %s is not honoured by the service: a worker "
                        "ends the job's VMs with the job (no one could reach them there); to keep them, run the runbook "
                        "with kiln run\n",
                file, keep == KEEP_ALWAYS ? "always" : "failed");
    json_t *dropped = json_object();
    struct ynode *m = runbook_merged(file, 0, dropped);
    if (!m) return json_decref(dropped), EXIT_USAGE;
    json_t *j = ynode_json(m);
    ynode_free(m);
    free(*text);
    /* one block mapping of flow values (JSON is YAML), so the platform the worker appends is
     * one more key of it */
    struct sbuf out = {0};
    const char *jk;
    json_t *jv;
    json_object_foreach(j, jk, jv) {
        _cleanup_free_ char *v = json_dumps(jv, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        sbuf_printf(&out, "%s: %s\n", jk, v);
    }
    *text = out.s ? sbuf_steal(&out) : xstrdup("");
    json_decref(j);
    struct sbuf names = {0};
    const char *k;
    json_t *v;
    json_object_foreach(dropped, k, v) sbuf_printf(&names, "%s%s", names.len ? ", " : "", k);
    if (names.len)
        fprintf(stderr, "kiln submit: --runbook %s: sent with its includes merged; left out, as the service sets them: %s\n",
                file, names.s);
    sbuf_free(&names);
    json_decref(dropped);
    return 0;
}

/* POSTs the job request req, prints the job's id on stdout (and what the server noted of the
 * image), and with wait follows it. The exit code. */
static int queue_job(struct kiln_client *c, json_t *req, const char *image, bool wait)
{
    _cleanup_free_ char *body = json_dumps(req, JSON_COMPACT);
    char *resp = NULL, *err = NULL;
    long st = 0;
    struct kiln_http h = {.method = "POST", .path = "/api/v1/jobs", .body = body, .body_len = body ? strlen(body) : 0,
                          .stream_fd = -1, .timeout_s = 60};
    int rc = 0, r = body ? kiln_client_do(c, &h, &st, &resp, &err) : -EINVAL;
    json_t *j = NULL;
    json_int_t id = 0, pos = 0;
    if (r < 0) {
        fprintf(stderr, "kiln submit: %s\n", err ? err : "a runbook or --append that is not UTF-8");
        rc = r == -EINVAL ? EXIT_USAGE : EXIT_INCOMPLETE;
    } else if (st != 201) {
        _cleanup_free_ char *t = kiln_client_error_text(st, resp);
        fprintf(stderr, "kiln submit: %s\n", t);
        rc = st == 400 || st == 401 || st == 404 || st == 413 ? EXIT_USAGE : EXIT_INCOMPLETE;
    } else if (kiln_client_unpack("POST /api/v1/jobs", resp, &j, &err, "{s:I, s:I}", "id", &id, "queue_position", &pos) < 0 || id <= 0) {
        fprintf(stderr, "kiln submit: %s\n", j ? "the server's reply to POST /api/v1/jobs gives a job id that is not a positive number" : err);
        rc = EXIT_INCOMPLETE;
    } else {
        printf("%lld\n", (long long)id);
        fflush(stdout);
        fprintf(stderr, "kiln submit: job %lld queued (position %lld)\n", (long long)id, (long long)pos);
        /* what the server found of the submission (an image that boots only through UEFI) */
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(j, "notes"), i, x) if (json_is_string(x)) {
            _cleanup_free_ char *e = utf8_escape_controls(json_string_value(x), strlen(json_string_value(x)), false);
            fprintf(stderr, "kiln submit: %s: %s\n", image, e);
        }
        if (wait) rc = follow(c, (long long)id);
    }
    json_decref(j);
    free(resp);
    free(err);
    return rc;
}

static bool take_require(const char *verb, const char *opt, const char *val, void *to)
{
    unsigned bit = kiln_feature_parse(val);
    if (!(bit & (FEAT_UEFI | FEAT_TPM | FEAT_SECURE_BOOT))) {
        fprintf(stderr, "kiln %s: %s %s: want uefi, tpm or secure-boot (what a worker offers)\n", verb, opt, val);
        return false;
    }
    *(unsigned *)to |= bit;
    return true;
}

/* The job's "requirements": the VM gets what it requires (require: FEAT_* bits; cpus and
 * memory_mb 0 when not given), and a worker must offer at least that. An empty object when
 * nothing is required. */
static json_t *requirements(unsigned require, long cpus, long memory_mb)
{
    json_t *rq = json_object();
    if (require & FEAT_UEFI) json_object_set_new(rq, "uefi", json_true());
    if (require & FEAT_TPM) json_object_set_new(rq, "tpm", json_true());
    if (require & FEAT_SECURE_BOOT) json_object_set_new(rq, "secure_boot", json_true());
    if (cpus) json_object_set_new(rq, "cpus", json_integer(cpus));
    if (memory_mb) json_object_set_new(rq, "memory_mb", json_integer(memory_mb));
    return rq;
}

int cmd_submit(int argc, char **argv)
{
    const char *server = NULL, *token = getenv("KILN_TOKEN"), *kernel = NULL, *append = NULL, *runbook = NULL,
               *publish = NULL, *name = NULL;
    long tier = -1, cpus = 0, memory_mb = 0;
    unsigned require = 0; /* FEAT_UEFI | FEAT_TPM | FEAT_SECURE_BOOT: what the worker must offer */
    bool wait = false;
    _cleanup_free_ char *rbtext = NULL;
    const struct cmd_opt opts[] = {
        {0, "server", "URL", CMD_STR, &server, .help = "the service's URL, e.g. http://127.0.0.1:8470"},
        {0, "token", "TOKEN", CMD_STR, &token, .secret = true, .help = "the tenant's token (kt_..., from kiln tenant add; default:\n$KILN_TOKEN, "
                                                       "which keeps it off the command line)"},
        {0, "kernel", "VMLINUZ", CMD_STR, &kernel, .help = "boot this kernel directly, IMAGE being its initrd"},
        {0, "append", "CMDLINE", CMD_STR, &append, .needs = "kernel", .empty_ok = true, .help = "the kernel command line (with --kernel)"},
        {0, "tier", "0|1|2", CMD_LONG, &tier, 0, 2, .help = "the built-in selection (default 0)"},
        {0, "runbook", "FILE", CMD_STR, &runbook,
         .help = "a runbook holding name, concurrency, variable and testcase instead of\n--tier"},
        {0, "publish", "CHANNEL", CMD_STR, &publish,
         .help = "on pass, the server publishes IMAGE's version (the manifest beside\nIMAGE that lists it, every file it "
                 "lists, the provenance, each signed\nwith kiln sign by a key the tenant trusts) into the tenant's gallery"},
        {0, "name", "NAME", CMD_STR, &name,
         .help = "the image's name on the dashboard, whose trends follow the jobs of one\nname (default: the file's name "
                 "without version and extensions)"},
        {0, "cpus", "N", CMD_LONG, &cpus, 1, 1048576, .help = "vCPUs of the job's VM (a worker must offer them; default: the worker's)"},
        {0, "memory-mb", "N", CMD_LONG, &memory_mb, 1, 1048576, .help = "MiB of the job's VM (default: the worker's)"},
        {0, "require", "uefi|tpm|secure-boot", CMD_FN, &require, .fn = take_require, .repeat = true,
         .help = "only a worker offering the feature runs the job (tpm: a swtpm per VM;\nsecure-boot: OVMF's Secure Boot "
                 "build with Microsoft's keys, which the\njob then boots); may be repeated"},
        {0, "wait", NULL, CMD_FLAG, &wait, .help = "follow the job to its result (and say whether it was published)"},
        {0},
    };
    const struct cmd_verb v = {
        "submit", "--server URL [--token TOKEN] IMAGE [--kernel VMLINUZ [--append CMDLINE]]\n"
                  "--server URL IMAGE [--tier 0|1|2 | --runbook FILE] [--publish CHANNEL] [--name NAME]\n"
                  "--server URL IMAGE [--cpus N] [--memory-mb N] [--require uefi|tpm|secure-boot]... [--wait]",
        "Uploads IMAGE (skipped when the server has its digest), queues a job and prints its id on stdout.\n"
        "IMAGE is a disk image, or with --kernel the initrd of a direct kernel boot.",
        opts, 0, -1, "IMAGE",
        .exits = "0 queued (with --wait: passed), 1 failed (--wait), 2 usage, a missing IMAGE or a\n"
                 "refused request, 3 incomplete (cancelled, the infrastructure failed, or the server was\n"
                 "lost), 4 passed but the publish was refused (--wait --publish)",
    };
    int n, rc = cmd_parse(&v, argc, argv, &n);
    if (rc != CMD_GO) return rc;
    const char *image = n ? argv[1] : NULL;
    if (n > 1) return cmd_usage_error("submit", "%s: one image per submission (%s is the image already)", argv[2], image);
    if (!server) return cmd_usage_error("submit", "--server URL is needed: the service to submit to");
    if (!image) return cmd_usage_error("submit", "no IMAGE given: name the disk image to validate");
    if (tier >= 0 && runbook)
        return cmd_usage_error("submit", "--tier %ld and --runbook %s: give one of them (a runbook selects its own cases)",
                               tier, runbook);
    struct kiln_client *c = NULL;
    if ((rc = cmd_tenant_client("submit", server, token, &c)) != 0) return rc;
    if (runbook) rc = runbook_text(runbook, &rbtext);
    char digest[65], kdigest[65];
    if (rc == 0) rc = ensure_image(c, image, digest);
    if (rc == 0 && kernel) rc = ensure_image(c, kernel, kdigest);
    json_t *pfiles = NULL;
    if (rc == 0 && publish) rc = publish_files(c, image, &pfiles);
    if (rc == 0) {
        _cleanup_free_ char *dn = name ? NULL : default_name(image);
        json_t *req = json_pack("{s:s, s:s}", "image", digest, "name", name ? name : dn);
        if (kernel) json_object_set_new(req, "kernel", json_string(kdigest));
        if (append) json_object_set_new(req, "append", json_string(append));
        if (tier >= 0) json_object_set_new(req, "tier", json_integer(tier));
        if (rbtext) json_object_set_new(req, "runbook", json_string(rbtext));
        json_t *rq = requirements(require, cpus, memory_mb);
        if (json_object_size(rq)) json_object_set(req, "requirements", rq);
        json_decref(rq);
        if (publish) json_object_set_new(req, "publish", json_pack("{s:s, s:o}", "channel", publish, "files", pfiles));
        pfiles = NULL;
        rc = queue_job(c, req, image, wait);
        json_decref(req);
    }
    json_decref(pfiles);
    kiln_client_free(c);
    return rc;
}
