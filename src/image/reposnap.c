#include "image/reposnap.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image/repostate.h"
#include "util/fs.h"
#include "util/strv.h"
#include "util/util.h"

enum { REPO_FILE_MAX = 8 << 20 };

void repo_srcs_free(struct repo_src *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++) {
        free(s[i].url);
        free(s[i].suite);
        strv_free(s[i].components, s[i].ncomponents);
        free(s[i].signed_by);
    }
    free(s);
}

struct sink {
    struct sbuf b;
    bool too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct sink *k = arg;
    if (k->b.len + size * n > REPO_FILE_MAX) {
        k->too_big = true;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    sbuf_append(&k->b, p, size * n);
    return size * n;
}

/* One file by URL: 0 with *data (NUL-terminated); -ENOENT when the server or the directory
 * has no such file; -EFBIG, -ETIMEDOUT or -EIO otherwise, with *reterr. */
static int fetch(const char *url, long timeout_s, char **data, size_t *len, char **reterr)
{
    if (startswith(url, "file:")) {
        /* file:///path and file:/path, as apt takes both */
        const char *path = url + 5;
        if (startswith(path, "//")) path += 2;
        int r = read_file(path, REPO_FILE_MAX, data, len);
        if (r < 0) err_setf(reterr, 0, "%s: %s", url, r == -EFBIG ? "larger than 8 MiB" : fs_strerror(r));
        return r == -ENOENT || r == -EFBIG ? r : r < 0 ? -EIO : 0;
    }
    CURL *k = curl_easy_init();
    if (!k) return err_setf(reterr, -EIO, "%s: cannot start libcurl", url);
    struct sink sk = {0};
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(k, CURLOPT_URL, url);
    curl_easy_setopt(k, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(k, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(k, CURLOPT_FOLLOWLOCATION, 1L); /* mirrors redirect, apt follows */
    curl_easy_setopt(k, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(k, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(k, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(k, CURLOPT_WRITEDATA, &sk);
    curl_easy_setopt(k, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(k, CURLOPT_USERAGENT, "kiln/" KILN_VERSION);
    CURLcode cr = curl_easy_perform(k);
    long status = 0;
    curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(k);
    int r = 0;
    if (sk.too_big) r = err_setf(reterr, -EFBIG, "%s: larger than 8 MiB", url);
    else if (cr != CURLE_OK)
        r = cr == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO,
        err_setf(reterr, 0, "%s: %s", url, *ebuf ? ebuf : curl_easy_strerror(cr));
    else if (status == 404 || status == 410) r = err_setf(reterr, -ENOENT, "%s: HTTP %ld", url, status);
    else if (status < 200 || status > 299) r = err_setf(reterr, -EIO, "%s: HTTP %ld", url, status);
    if (r < 0) {
        sbuf_free(&sk.b);
        return r;
    }
    *len = sk.b.len;
    *data = sbuf_steal(&sk.b);
    return 0;
}

static void sha256_hex(const char *data, size_t len, char out[65])
{
    uint8_t d[32];
    unsigned dl = 0;
    EVP_Digest(data, len, d, &dl, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static int read_apt(const struct repo_src *src, const char *arch, long timeout_s, struct repo_state *st, char **reterr)
{
    static const char *const files[] = {"InRelease", "Release"};
    char *data = NULL;
    size_t len = 0;
    int r = -ENOENT;
    for (size_t i = 0; i < ARRAY_SIZE(files) && r == -ENOENT; i++) {
        _cleanup_free_ char *url = xasprintf("%s/dists/%s/%s", src->url, src->suite, files[i]);
        r = fetch(url, timeout_s, &data, &len, reterr);
        st->file = files[i];
    }
    if (r < 0) return r;
    struct repo_release rel;
    _cleanup_free_ char *w = NULL;
    r = repo_release_parse(data, len, (const char *const *)src->components, src->ncomponents, arch, &rel, &w);
    if (r < 0) err_setf(reterr, 0, "%s/dists/%s/%s: %s", src->url, src->suite, st->file, w);
    else {
        sha256_hex(data, len, st->sha256);
        snprintf(st->key, sizeof st->key, "%s", rel.nindexes ? rel.indexes : st->sha256);
        st->date = rel.date;
    }
    free(data);
    return r;
}

static int read_rpm(const struct repo_src *src, long timeout_s, struct repo_state *st, char **reterr)
{
    st->file = "repodata/repomd.xml";
    _cleanup_free_ char *url = xasprintf("%s/repodata/repomd.xml", src->url);
    char *data = NULL;
    size_t len = 0;
    int r = fetch(url, timeout_s, &data, &len, reterr);
    if (r < 0) return r;
    struct repo_repomd md;
    _cleanup_free_ char *w = NULL;
    r = repo_repomd_parse(data, len, &md, &w);
    if (r < 0) err_setf(reterr, 0, "%s: %s", url, w);
    else {
        sha256_hex(data, len, st->sha256);
        memcpy(st->key, st->sha256, sizeof st->key);
        st->revision = md.revision;
        if (md.timestamp >= 0) {
            time_t t = (time_t)md.timestamp;
            struct tm tm;
            char buf[32];
            if (gmtime_r(&t, &tm) && strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm)) st->date = xstrdup(buf);
        }
    }
    free(data);
    return r;
}

int repo_snapshot(const struct repo_src *src, size_t n, const char *deb_arch, long timeout_s, struct repo_state **out)
{
    struct repo_state *s = xcalloc(n ? n : 1, sizeof *s);
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        s[i].url = src[i].url;
        s[i].suite = src[i].suite;
        _cleanup_free_ char *why = NULL;
        /* URLs end without '/': the spec and the host's sources are trimmed the same way */
        int r = src[i].suite ? read_apt(&src[i], deb_arch, timeout_s, &s[i], &why)
                             : read_rpm(&src[i], timeout_s, &s[i], &why);
        if (r < 0) {
            s[i].error = xstrdup(why);
            s[i].file = NULL;
            if (!first) first = r;
        }
    }
    *out = s;
    return first;
}

void repo_states_free(struct repo_state *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++) {
        free(s[i].date);
        free(s[i].revision);
        free(s[i].error);
    }
    free(s);
}

json_t *repo_states_json(const struct repo_state *s, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:s}", "url", s[i].url);
        if (s[i].suite) json_object_set_new(o, "suite", json_string(s[i].suite));
        if (s[i].error) json_object_set_new(o, "error", json_string(s[i].error));
        else {
            json_object_set_new(o, "file", json_string(s[i].file));
            json_object_set_new(o, "sha256", json_string(s[i].sha256));
            json_object_set_new(o, "date", s[i].date ? json_string(s[i].date) : json_null());
            if (!s[i].suite) json_object_set_new(o, "revision", s[i].revision ? json_string(s[i].revision) : json_null());
        }
        json_array_append_new(a, o);
    }
    return a;
}
