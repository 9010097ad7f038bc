/* The service API's request parsing (kiln serve, src/service/server.c): routes, job
 * submissions, worker declarations and reports. Pure functions over untrusted bytes, bounded,
 * fuzzed by tests/fuzz/fuzz_api.c. Nothing here prints or touches the store.
 *
 * Errors: -EINVAL with *field (the JSON field at fault, e.g. "selections[2].casePriority", or
 * "" for the body as a whole) and *reterr (what is wrong and what is wanted), both malloc'ed. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "service/store.h"

#define KILN_API_BODY_MAX (512 * 1024) /* a JSON request body (a runbook fits KILN_STORE_SPEC_MAX) */
#define KILN_API_PATH_MAX 255          /* an artifact's path inside a job's directory */
#define KILN_API_SELECTIONS_MAX 256
#define KILN_API_NAME_MAX 128          /* a job's image name */
#define KILN_API_PUBLISH_FILES_MAX 64  /* files of a version submitted for publishing */
#define KILN_API_FILE_NAME_MAX 128

enum kiln_route {
    R_NONE,
    R_IMAGES,          /* POST   /api/v1/images */
    R_IMAGE,           /* GET    /api/v1/images/{digest}: whether the tenant has it */
    R_JOBS,            /* GET, POST /api/v1/jobs */
    R_JOB,             /* GET    /api/v1/jobs/{id} */
    R_JOB_CONSOLE,     /* GET    /api/v1/jobs/{id}/console */
    R_JOB_CANCEL,      /* POST   /api/v1/jobs/{id}/cancel */
    R_JOB_ARTIFACT,    /* GET    /api/v1/jobs/{id}/artifacts/{path} */
    R_WORKERS,         /* GET    /api/v1/workers */
    R_OPENAPI,         /* GET    /api/v1/openapi.json */
    R_LOGIN_LINKS,     /* POST   /api/v1/login-links: a one-time dashboard sign-in link */
    R_LIMITS,          /* GET    /api/v1/limits: what the server takes (an image's bytes) */
    /* the worker protocol (worker tokens) */
    R_W_DECLARE,       /* POST   /api/v1/worker/declare */
    R_W_CLAIM,         /* POST   /api/v1/worker/claim?wait=S */
    R_W_HEARTBEAT,     /* POST   /api/v1/worker/heartbeat */
    R_W_IMAGE,         /* GET    /api/v1/worker/images/{digest} */
    R_W_ADVANCE,       /* POST   /api/v1/worker/jobs/{id}/advance */
    R_W_CONSOLE,       /* POST   /api/v1/worker/jobs/{id}/console (bytes appended) */
    R_W_ARTIFACT,      /* PUT    /api/v1/worker/jobs/{id}/artifacts/{path} */
    R_W_FINISH,        /* POST   /api/v1/worker/jobs/{id}/finish */
    /* the update server (docs/updates.md): machines, no token */
    R_OMAHA,           /* POST   /v1/update/ (Omaha v3) */
    R_UPDATE_PAYLOAD,  /* GET    /v1/update/payload/{name}/{version}/{file} */
};

struct kiln_route_match {
    enum kiln_route route;
    int64_t id;     /* the job id, when the route has one */
    char *rest;     /* the artifact path (R_JOB_ARTIFACT, R_W_ARTIFACT), digest (R_W_IMAGE) or
                     * name/version/file (R_UPDATE_PAYLOAD: exactly three components), malloc'ed */
};
/* Matches url (the path, no query) to a route. R_NONE when it names none (404); -EINVAL is not
 * used: a bad id or artifact path is R_NONE too, so it reads as "not found". */
void kiln_route_parse(const char *url, struct kiln_route_match *m);
void kiln_route_clear(struct kiln_route_match *m);

/* An artifact path: 1 to KILN_API_PATH_MAX bytes of components made of [A-Za-z0-9._+-],
 * separated by single '/', none empty or starting with '.' (so no "." or ".."), not starting
 * with '/'. */
bool kiln_api_path_ok(const char *rel);
/* A file name of a version submitted for publishing: 1 to KILN_API_FILE_NAME_MAX bytes of
 * [A-Za-z0-9._+~-], not starting with '.' or '-' (no path, nothing hidden). */
bool kiln_api_file_name_ok(const char *s);
/* 64 lower-case hex digits. */
bool kiln_api_digest_ok(const char *s);

/* Whether a Content-Type value names the media type want ("text/xml"): type and subtype
 * compared without regard to case, spaces before parameters and the parameters (";
 * charset=...") ignored (RFC 9110 section 8.3.1). */
bool kiln_api_media_type_is(const char *content_type, const char *want);
/* A request's framing from its header fields (RFC 9112 section 6.3): ncl Content-Length
 * fields with the values cl[0..ncl), and whether Transfer-Encoding came. 0 when the body's
 * length is unambiguous, else -EINVAL with *reterr: more than one Content-Length (equal or not),
 * one that is not 1 to 18 decimal digits, or both Content-Length and Transfer-Encoding (what
 * a proxy in front may read otherwise: request smuggling). */
int kiln_api_framing_check(const char *const *cl, size_t ncl, bool transfer_encoding, char **reterr);

/* A parsed POST /api/v1/jobs body:
 *   {"image": DIGEST, "name": STR?, "kernel": DIGEST?, "append": STR?,
 *    one of "tier": 0|1|2, "selections": [...], "runbook": YAML-TEXT (default tier 0),
 *    "publish": {"channel": NAME, "files": {FILE-NAME: DIGEST, ...}}?, "requirements": {"accel", "arch", "cpus", "memory_mb", "uefi", "tpm", "secure_boot"}?}
 * selections are shaped like AITL's: [{casePriority: N | [N...], caseArea, caseName,
 * caseCategory (regular expressions, whole match), caseTags: [STR...], action: include |
 * exclude | force-include | force-exclude, testIterations: 1..1000, retryCount: 0..100}];
 * tier N selects priorities 0..N.
 * spec gets the job's specification as the worker reads it (JSON text): {"testcase": [runbook
 * testcase rules]} or {"runbook": TEXT}, plus "kernel" and "append" when given, and
 * "image_name" (the image's name, 1 to KILN_API_NAME_MAX bytes without control characters:
 * the dashboard shows it and draws trends over the jobs of one name). */
struct kiln_api_job {
    char image[65], kernel[65]; /* kernel "" when absent: image is a disk */
    char *spec;
    char channel[KILN_STORE_NAME_MAX + 1]; /* "" when not publishing */
    char *publish_files; /* with a channel: {FILE-NAME: DIGEST} as compact JSON (names checked
                          * by kiln_api_file_name_ok, at most KILN_API_PUBLISH_FILES_MAX) */
    struct kiln_caps req;
};
int kiln_api_parse_job(const char *body, size_t len, struct kiln_api_job *out, char **field, char **reterr);
void kiln_api_job_clear(struct kiln_api_job *j);

/* GET /api/v1/jobs's page: limit (1 to KILN_STORE_LIST_MAX; NULL: KILN_STORE_LIST_MAX),
 * before (a job id: the page goes on below it, as the previous reply's "next" says; NULL: from
 * the newest). -EINVAL with *field (the parameter) and *reterr. (The state filter is the store's
 * word: kiln_job_state_parse.) */
struct kiln_api_list {
    size_t limit;
    int64_t before; /* 0: from the newest */
};
int kiln_api_parse_list(const char *limit, const char *before, struct kiln_api_list *out, char **field, char **reterr);

/* A request's query parameters (their names as sent, decoded, in order; n of them) against
 * the names its endpoint reads (known, NULL-terminated; NULL: any name): 0, or -EINVAL with
 * *field (the parameter; NULL for too many) and *reterr: more than KILN_API_QUERY_MAX parameters,
 * one given twice (?limit=1&limit=1000: which one counts would be a guess), or one the
 * endpoint does not read (a misspelt filter must not list everything). A name is quoted in
 * *reterr cut to 64 bytes. */
#define KILN_API_QUERY_MAX 32
int kiln_api_query_check(const char *const *names, size_t n, const char *const *known, char **field, char **reterr);

/* {"caps": {"accel", "arch", "cpus", "memory_mb", "uefi", "tpm", "secure_boot"}, "slots": N} (worker declare);
 * the booleans are FEAT_UEFI, FEAT_TPM and FEAT_SECURE_BOOT. */
int kiln_api_parse_declare(const char *body, size_t len, struct kiln_caps *caps, int *slots, char **field, char **reterr);
/* {"state": "running" | "uploading"} (advance). */
int kiln_api_parse_advance(const char *body, size_t len, enum kiln_job_state *to, char **field, char **reterr);
/* {"result": "passed" | "failed" | "incomplete", "reason": STR?} (finish); *reason malloc'ed or NULL. */
int kiln_api_parse_finish(const char *body, size_t len, enum kiln_job_result *result, char **reason, char **field,
                          char **reterr);
