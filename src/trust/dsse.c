/* DSSE v1 envelopes signed with minisign keys (Ed25519). */
#include "trust/dsse.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>

#include "util/util.h"

uint8_t *dsse_pae(const char *type, const void *payload, size_t len, size_t *out_len)
{
    char head[64];
    size_t tl = strlen(type);
    int hl = snprintf(head, sizeof head, "DSSEv1 %zu ", tl);
    char mid[32];
    int ml = snprintf(mid, sizeof mid, " %zu ", len);
    size_t n = (size_t)hl + tl + (size_t)ml + len;
    uint8_t *p = xmalloc(n ? n : 1), *w = p;
    memcpy(w, head, (size_t)hl), w += hl;
    memcpy(w, type, tl), w += tl;
    memcpy(w, mid, (size_t)ml), w += ml;
    if (len) memcpy(w, payload, len);
    *out_len = n;
    return p;
}

int dsse_sign(const struct ms_seckey *k, const char *type, const void *payload, size_t len, char **line, char **reterr)
{
    size_t pl;
    uint8_t *pae = dsse_pae(type, payload, len, &pl), sig[64];
    int r = ms_sign_raw(k, pae, pl, sig);
    free(pae);
    if (r < 0) {
        return err_setf(reterr, r, "cannot sign the envelope (Ed25519 failed)");
    }
    char id[17];
    ms_seckey_id(k, id);
    _cleanup_free_ char *p64 = base64_encode(payload, len);
    _cleanup_free_ char *s64 = base64_encode(sig, sizeof sig);
    json_t *env = json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "payloadType", type, "payload", p64, "signatures", "keyid", id,
                            "sig", s64);
    *line = json_dumps(env, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(env);
    return 0;
}

/* Standard or URL-safe base64, padded or not (DSSE accepts either); NULL when it is neither. */
static uint8_t *b64_decode(const char *s, size_t *out_len)
{
    static const int variants[] = {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
                                   sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
    size_t sl = strlen(s), cap = sl / 4 * 3 + 3;
    uint8_t *out = xmalloc(cap);
    for (size_t i = 0; i < ARRAY_SIZE(variants); i++) {
        const char *end = NULL;
        if (sodium_base642bin(out, cap, s, sl, NULL, out_len, &end, variants[i]) == 0 && end == s + sl) return out;
    }
    free(out);
    return NULL;
}

/* One envelope (a JSON object on one line). */
static int verify_one(const char *pubkey_path, const char *key_id, const char *line, size_t len, const char *where,
                      const char *type, char **payload, size_t *payload_len, char **reterr)
{
    json_error_t je;
    json_t *env = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    const char *pt = json_string_value(json_object_get(env, "payloadType"));
    const char *p64 = json_string_value(json_object_get(env, "payload"));
    json_t *sigs = json_object_get(env, "signatures");
    if (!env || !pt || !p64 || !json_is_array(sigs)) {
        *reterr = env ? xasprintf("%s is not a DSSE envelope (it needs payloadType, payload and signatures)", where)
                   : xasprintf("%s is not a DSSE envelope: %s (column %d)", where, je.text, je.column);
        json_decref(env);
        return -EINVAL;
    }
    size_t plen = 0;
    uint8_t *pl = b64_decode(p64, &plen);
    if (!pl) {
        err_setf(reterr, 0, "%s: the payload is not base64", where);
        json_decref(env);
        return -EINVAL;
    }
    struct sbuf ids = {0};
    int r = -EPERM;
    bool tried = false;
    size_t i;
    json_t *s;
    json_array_foreach(sigs, i, s) {
        const char *kid = json_string_value(json_object_get(s, "keyid"));
        const char *s64 = json_string_value(json_object_get(s, "sig"));
        sbuf_printf(&ids, "%s%s", ids.len ? ", " : "", kid && *kid ? kid : "(none)");
        if (!kid || strcasecmp(kid, key_id) || !s64) continue;
        tried = true;
        size_t sl = 0;
        uint8_t *sig = b64_decode(s64, &sl);
        size_t pael;
        uint8_t *pae = dsse_pae(pt, pl, plen, &pael);
        char *kerr = NULL;
        int k = sig && sl == 64 ? ms_verify_raw(pubkey_path, pae, pael, sig, &kerr) : -EPERM;
        free(pae);
        free(sig);
        if (k == 0) {
            r = 0;
            break;
        }
        if (k != -EPERM) {
            *reterr = kerr;
            r = k;
            break;
        }
    }
    if (r == -EPERM)
        *reterr = tried ? xasprintf("%s: the signature by key %s does not match the envelope (its payload, payload type or "
                                 "signature was changed)",
                                 where, key_id)
                     : xasprintf("%s is signed by %s, not by key %s (%s)", where, ids.len ? ids.s : "no key", key_id,
                                 pubkey_path);
    if (r == 0 && !streq(pt, type)) {
        err_setf(reterr, 0, "%s: payload type \"%s\", expected \"%s\"", where, pt, type);
        r = -EINVAL;
    }
    sbuf_free(&ids);
    json_decref(env);
    if (r == 0 && payload) {
        free(*payload);
        *payload = xmalloc(plen + 1);
        memcpy(*payload, pl, plen);
        (*payload)[plen] = 0;
        if (payload_len) *payload_len = plen;
    }
    free(pl);
    return r;
}

int dsse_verify(const char *pubkey_path, const char *text, size_t len, const char *name, const char *type, char **payload,
                size_t *payload_len, char **reterr)
{
    char key_id[17];
    int r = ms_key_id(pubkey_path, key_id, reterr);
    if (r < 0) return r;
    if (payload) *payload = NULL;
    /* messages name the line only when there are several */
    size_t nonempty = 0;
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len;
        nonempty += end > at && text[at] != '\r';
        at = end + 1;
    }
    size_t lines = 0, lineno = 0;
    for (size_t at = 0; at < len && r == 0;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len;
        lineno++;
        if (end > at && text[at] != '\r') {
            _cleanup_free_ char *where = xasprintf("%s:%zu", name, lineno);
            r = verify_one(pubkey_path, key_id, text + at, end - at, nonempty == 1 ? name : where, type, payload,
                           payload_len, reterr);
            lines++;
        }
        at = end + 1;
    }
    if (r == 0 && !lines) {
        err_setf(reterr, 0, "%s holds no envelope", name);
        r = -EINVAL;
    }
    if (r < 0 && payload) {
        free(*payload);
        *payload = NULL;
    }
    return r;
}
