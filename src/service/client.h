/* The service's HTTP client (libcurl) for kiln worker and kiln submit: one request at a time
 * against BASE/api/v1/..., with a bearer token that goes only into the Authorization header
 * (never into a URL, a message or a log). */
#pragma once
#include <stddef.h>

struct kiln_client;

/* base: "http://HOST:PORT" (a trailing '/' is fine). -EINVAL: not an http(s) URL. */
int kiln_client_new(const char *base, const char *token, struct kiln_client **out, char **reterr);
void kiln_client_free(struct kiln_client *c);

struct kiln_http {
    const char *method;      /* GET, POST, PUT */
    const char *path;        /* "/api/v1/jobs" (query included) */
    const char *body;        /* a JSON body, or NULL */
    size_t body_len;
    const char *upload;      /* or a file sent as the body (streamed) */
    const char *download;    /* a 2xx body is written here (temp + rename) instead of *resp */
    int stream_fd;           /* or (>= 0) a 2xx body is written to this fd as it comes */
    long timeout_s;          /* 0: none (long polls, uploads and streams pass their own) */
    long *retry_after_s;     /* when non-NULL: the answer's Retry-After in seconds (RFC 9110
                              * 10.2.3: seconds or an HTTP date, read by libcurl), 0 if none */
};
/* Sends the request. *status gets the HTTP status, *resp (when non-NULL) the body, at most
 * 4 MiB, NUL-terminated. Returns 0 whenever an HTTP answer came (any status); -ECONNREFUSED,
 * -ETIMEDOUT, -EIO with *reterr when none did. */
int kiln_client_do(struct kiln_client *c, const struct kiln_http *h, long *status, char **resp, char **reterr);
/* How long a refused request asks the client to wait before asking again, in seconds: its
 * Retry-After (kiln_http.retry_after_s) when the status is 503 (RFC 9110 15.6.4) or 429 (RFC
 * 6585 4) and it gave one, at most KILN_RETRY_AFTER_MAX_S (a client keeps asking at least that
 * often, whatever a server says); 0 for any other answer. */
#define KILN_RETRY_AFTER_MAX_S 60
long kiln_client_backoff_s(long status, long retry_after_s);
/* The "error" (and "field") of a JSON error body as one line, or the body's start, or for an
 * empty body what the status means ("HTTP 401: the server refused the token: ..."). */
char *kiln_client_error_text(long status, const char *resp);
/* A successful reply must hold what the client acts on: resp parsed as a JSON object and
 * unpacked with fmt (jansson's json_unpack format, e.g. "{s:I, s:s}", JSON_STRICT off, so
 * other fields are fine). 0 with *out (the parsed object, caller decrefs; the unpacked values
 * point into it); -EBADMSG with *reterr naming the request (e.g. "POST /api/v1/jobs") and the
 * missing or mistyped field: a reply lacking a field is an error, never a default. */
struct json_t;
int kiln_client_unpack(const char *request, const char *resp, struct json_t **out, char **reterr, const char *fmt, ...);
