/* A small HTTP/1.1 client for the updater: plain http:// only. libcurl does not link
 * statically on Debian (its static archive needs nghttp2, librtmp, libssh2, libpsl, GSSAPI and
 * LDAP archives Debian does not ship), and the updater must be static to run on any image.
 * The transport is not trusted anyway: update.json is minisign-signed with a key baked into
 * the image and vouches for every other file by sha256, and /usr's verity root hash. Bounded:
 * header block 16 KiB, body at most `max` bytes, every read and write times out. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Receives the body in pieces; a negative return stops the transfer with that error. */
typedef int (*http_sink)(void *ctx, const void *data, size_t n);

/* METHOD url (http://host[:port]/path) with body (NULL: none) of type ctype. The response
 * body goes to sink; *status gets the HTTP status. Returns 0 (whatever the status), -EFBIG
 * when the body exceeds max, -ETIMEDOUT, -EPROTO for a malformed response,
 * -EPROTONOSUPPORT for another scheme, -errno; *reterr says what. */
int http_request(const char *method, const char *url, const char *ctype, const void *body, size_t blen, http_sink sink,
                 void *ctx, uint64_t max, int timeout_s, int *status, char **reterr);
/* Splits an http:// URL; host, port and path are malloc'd. */
int http_parse_url(const char *url, char **host, char **port, char **path);
