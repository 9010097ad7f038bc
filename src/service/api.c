/* The service API's request parsing: see api.h. */
#include "service/api.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>

#include "model/req.h"
#include "util/util.h"
#include "util/yaml.h"

static int bad(char **field, char **why, const char *f, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int bad(char **field, char **why, const char *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (why) {
        free(*why);
        *why = xvasprintf(fmt, ap);
    }
    va_end(ap);
    if (field) {
        free(*field);
        *field = xstrdup(f);
    }
    return -EINVAL;
}

/* ---- routes ---- */

static bool parse_id(const char *s, size_t n, int64_t *id)
{
    if (n == 0 || n > 18 || s[0] == '0') return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *id = v;
    return true;
}

bool kiln_api_path_ok(const char *rel)
{
    size_t n = strlen(rel);
    if (n == 0 || n > KILN_API_PATH_MAX || rel[0] == '/' || rel[n - 1] == '/') return false;
    const char *c = rel;
    while (*c) {
        const char *e = strchrnul(c, '/');
        size_t len = (size_t)(e - c);
        /* no "", ".", ".." and no hidden names (the server's temp files start with '.') */
        if (len == 0 || c[0] == '.') return false;
        for (const char *p = c; p < e; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("._+-", *p)))
                return false;
        c = *e ? e + 1 : e;
    }
    return true;
}

bool kiln_api_digest_ok(const char *s)
{
    if (strlen(s) != 64) return false;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

void kiln_route_clear(struct kiln_route_match *m)
{
    free(m->rest);
    memset(m, 0, sizeof(*m));
}

/* "jobs/{id}[/tail]" with the id parsed; tail points after the id's '/', or at "" */
static bool job_path(const char *s, int64_t *id, const char **tail)
{
    const char *e = strchrnul(s, '/');
    if (!parse_id(s, (size_t)(e - s), id)) return false;
    *tail = *e ? e + 1 : e;
    return *e == 0 || e[1] != 0;
}

void kiln_route_parse(const char *url, struct kiln_route_match *m)
{
    memset(m, 0, sizeof(*m));
    const char *p = url;
    if (streq(p, "/v1/update/") || streq(p, "/v1/update")) {
        m->route = R_OMAHA;
        return;
    }
    if (startswith(p, "/v1/update/payload/")) {
        const char *rest = p + 19, *s1 = strchr(rest, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
        if (kiln_api_path_ok(rest) && s2 && !strchr(s2 + 1, '/')) {
            m->route = R_UPDATE_PAYLOAD;
            m->rest = xstrdup(rest);
        }
        return;
    }
    if (!startswith(p, "/api/v1/")) return;
    p += 8;
    const char *t;
    if (streq(p, "images")) m->route = R_IMAGES;
    else if (streq(p, "jobs")) m->route = R_JOBS;
    else if (streq(p, "workers")) m->route = R_WORKERS;
    else if (streq(p, "openapi.json")) m->route = R_OPENAPI;
    else if (streq(p, "login-links")) m->route = R_LOGIN_LINKS;
    else if (streq(p, "limits")) m->route = R_LIMITS;
    else if (startswith(p, "images/") && kiln_api_digest_ok(p + 7)) {
        m->route = R_IMAGE;
        m->rest = xstrdup(p + 7);
    } else if (startswith(p, "jobs/") && job_path(p + 5, &m->id, &t)) {
        if (!*t) m->route = R_JOB;
        else if (streq(t, "console")) m->route = R_JOB_CONSOLE;
        else if (streq(t, "cancel")) m->route = R_JOB_CANCEL;
        else if (startswith(t, "artifacts/") && kiln_api_path_ok(t + 10)) {
            m->route = R_JOB_ARTIFACT;
            m->rest = xstrdup(t + 10);
        }
    } else if (startswith(p, "worker/")) {
        p += 7;
        if (streq(p, "declare")) m->route = R_W_DECLARE;
        else if (streq(p, "claim")) m->route = R_W_CLAIM;
        else if (streq(p, "heartbeat")) m->route = R_W_HEARTBEAT;
        else if (startswith(p, "images/") && kiln_api_digest_ok(p + 7)) {
            m->route = R_W_IMAGE;
            m->rest = xstrdup(p + 7);
        } else if (startswith(p, "jobs/") && job_path(p + 5, &m->id, &t)) {
            if (streq(t, "advance")) m->route = R_W_ADVANCE;
            else if (streq(t, "console")) m->route = R_W_CONSOLE;
            else if (streq(t, "finish")) m->route = R_W_FINISH;
            else if (startswith(t, "artifacts/") && kiln_api_path_ok(t + 10)) {
                m->route = R_W_ARTIFACT;
                m->rest = xstrdup(t + 10);
            }
        }
    }
    if (m->route == R_NONE) m->id = 0;
}

/* ---- bodies ---- */

static json_t *load(const char *body, size_t len, char **field, char **why)
{
    if (len > KILN_API_BODY_MAX) {
        bad(field, why, "", "the body is %zu bytes; at most %d are accepted", len, KILN_API_BODY_MAX);
        return NULL;
    }
    json_error_t e;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    if (!j) {
        bad(field, why, "", "not JSON: %s at line %d column %d", e.text, e.line, e.column);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        bad(field, why, "", "the body must be a JSON object");
        return NULL;
    }
    return j;
}

/* Every key of o is one of keys, else -EINVAL naming it (prefix.key). */
static int only_keys(json_t *o, const char *prefix, const char *const *keys, char **field, char **why)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        bool ok = false;
        for (size_t i = 0; keys[i] && !ok; i++) ok = streq(k, keys[i]);
        if (!ok) {
            _cleanup_free_ char *f = *prefix ? xasprintf("%s.%s", prefix, k) : xstrdup(k);
            /* the key is the client's (jansson checked it is UTF-8): named only when short and printable */
            bool show = strlen(k) <= 64 && !strpbrk(k, "\x1b\r\n\t");
            struct sbuf known = {0};
            for (size_t i = 0; keys[i]; i++) sbuf_printf(&known, "%s%s", i ? ", " : "", keys[i]);
            _cleanup_free_ char *list = sbuf_steal(&known);
            return bad(field, why, show ? f : prefix, "unknown field; known ones: %s", list);
        }
    }
    return 0;
}

static int get_str(json_t *o, const char *key, const char *fieldname, size_t max, const char **out, char **field, char **why)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v) return 0;
    if (!json_is_string(v)) return bad(field, why, fieldname, "must be a string");
    if (json_string_length(v) > max) return bad(field, why, fieldname, "is %zu bytes; at most %zu", json_string_length(v), max);
    if (strlen(json_string_value(v)) != json_string_length(v)) return bad(field, why, fieldname, "holds a NUL character");
    *out = json_string_value(v);
    return 0;
}

static int get_int(json_t *o, const char *key, const char *fieldname, long lo, long hi, long *out, char **field, char **why)
{
    json_t *v = json_object_get(o, key);
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return bad(field, why, fieldname, "must be a whole number from %ld to %ld", lo, hi);
    *out = (long)json_integer_value(v);
    return 1;
}

/* A name (channel, tag, arch): never ".", ".." or an option-like "-x", as the store's names */
static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > KILN_STORE_NAME_MAX || s[0] == '.' || s[0] == '-' || strstr(s, "..")) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || strchr("._-", s[i])))
            return false;
    return true;
}

static int parse_caps(json_t *o, const char *prefix, struct kiln_caps *c, char **field, char **why)
{
    static const char *const keys[] = {"accel", "arch", "cpus", "memory_mb", "uefi", "tpm", "secure_boot", NULL};
    if (!json_is_object(o)) return bad(field, why, prefix, "must be an object");
    if (only_keys(o, prefix, keys, field, why) < 0) return -EINVAL;
    memset(c, 0, sizeof(*c));
    const char *s;
    _cleanup_free_ char *fa = xasprintf("%s.accel", prefix), *fr = xasprintf("%s.arch", prefix),
                        *fc = xasprintf("%s.cpus", prefix), *fm = xasprintf("%s.memory_mb", prefix);
    if (get_str(o, "accel", fa, KILN_STORE_NAME_MAX, &s, field, why) < 0) return -EINVAL;
    if (s && !streq(s, "kvm") && !streq(s, "tcg") && *s) return bad(field, why, fa, "must be \"kvm\" or \"tcg\"");
    if (s) snprintf(c->accel, sizeof(c->accel), "%s", s);
    if (get_str(o, "arch", fr, KILN_STORE_NAME_MAX, &s, field, why) < 0) return -EINVAL;
    if (s && *s && !name_ok(s)) return bad(field, why, fr, "must be an architecture name such as x86_64");
    if (s) snprintf(c->arch, sizeof(c->arch), "%s", s);
    long v = 0;
    if (get_int(o, "cpus", fc, 0, 4096, &v, field, why) < 0) return -EINVAL;
    c->cpus = (int)v;
    v = 0;
    if (get_int(o, "memory_mb", fm, 0, 1L << 24, &v, field, why) < 0) return -EINVAL;
    c->memory_mb = (int)v;
    static const struct { const char *key; unsigned bit; } flags[] = {
        {"uefi", FEAT_UEFI}, {"tpm", FEAT_TPM}, {"secure_boot", FEAT_SECURE_BOOT}};
    for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
        json_t *u = json_object_get(o, flags[i].key);
        _cleanup_free_ char *fu = xasprintf("%s.%s", prefix, flags[i].key);
        if (u && !json_is_boolean(u)) return bad(field, why, fu, "must be true or false");
        if (json_is_true(u)) c->features |= flags[i].bit;
    }
    return 0;
}

void kiln_api_job_clear(struct kiln_api_job *j)
{
    free(j->spec);
    free(j->publish_files);
    memset(j, 0, sizeof(*j));
}

/* A regular expression field of a selection, as the runbook takes it. */
static int sel_regex(json_t *sel, const char *key, const char *to, const char *p, json_t *crit, char **field, char **why)
{
    _cleanup_free_ char *f = xasprintf("%s.%s", p, key);
    const char *s;
    if (get_str(sel, key, f, 1024, &s, field, why) < 0) return -EINVAL;
    if (s) {
        json_object_set_new(crit, to, json_string(s));
    }
    return 0;
}

/* An AITL-shaped selection as a runbook testcase rule. */
static json_t *selection(json_t *sel, size_t i, char **field, char **why)
{
    static const char *const keys[] = {"casePriority", "caseArea", "caseName", "caseCategory", "caseTags",
                                       "action", "testIterations", "retryCount", NULL};
    _cleanup_free_ char *p = xasprintf("selections[%zu]", i);
    if (!json_is_object(sel)) return bad(field, why, p, "must be an object"), NULL;
    if (only_keys(sel, p, keys, field, why) < 0) return NULL;
    json_t *rule = json_object(), *crit = json_object();
    json_object_set_new(rule, "criteria", crit);
    json_t *pr = json_object_get(sel, "casePriority");
    _cleanup_free_ char *fp = xasprintf("%s.casePriority", p), *ft = xasprintf("%s.caseTags", p),
                        *fa = xasprintf("%s.action", p), *fi = xasprintf("%s.testIterations", p),
                        *fr = xasprintf("%s.retryCount", p);
    if (pr) {
        json_t *list = json_array();
        json_object_set_new(crit, "priority", list);
        if (json_is_integer(pr)) json_array_append(list, pr);
        else if (json_is_array(pr) && json_array_size(pr) > 0 && json_array_size(pr) <= 6) {
            size_t k;
            json_t *x;
            json_array_foreach(pr, k, x) json_array_append(list, x);
        } else goto bad_pri;
        size_t k;
        json_t *x;
        json_array_foreach(list, k, x) if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > 5) goto bad_pri;
    }
    if (sel_regex(sel, "caseArea", "area", p, crit, field, why) < 0 || sel_regex(sel, "caseName", "name", p, crit, field, why) < 0 ||
        sel_regex(sel, "caseCategory", "category", p, crit, field, why) < 0)
        goto fail;
    json_t *tags = json_object_get(sel, "caseTags");
    if (tags) {
        if (!json_is_array(tags) || json_array_size(tags) > 32) {
            bad(field, why, ft, "must be a list of at most 32 tag names");
            goto fail;
        }
        size_t k;
        json_t *x;
        json_array_foreach(tags, k, x) if (!json_is_string(x) || !name_ok(json_string_value(x))) {
            bad(field, why, ft, "tags are names of letters, digits, '.', '_' and '-'");
            goto fail;
        }
        json_object_set(crit, "tags", tags);
    }
    const char *a;
    if (get_str(sel, "action", fa, 32, &a, field, why) < 0) goto fail;
    if (a) {
        if (!streq(a, "include") && !streq(a, "exclude") && !streq(a, "force-include") && !streq(a, "force-exclude")) {
            bad(field, why, fa, "must be include, exclude, force-include or force-exclude");
            goto fail;
        }
        json_object_set_new(rule, "select_action", json_string(a));
    }
    long v;
    int r = get_int(sel, "testIterations", fi, 1, 1000, &v, field, why);
    if (r < 0) goto fail;
    if (r) json_object_set_new(rule, "times", json_integer(v));
    r = get_int(sel, "retryCount", fr, 0, 100, &v, field, why);
    if (r < 0) goto fail;
    if (r) json_object_set_new(rule, "retry", json_integer(v));
    return rule;
bad_pri:
    bad(field, why, fp, "must be a priority 0 to 5 or a list of them");
fail:
    json_decref(rule);
    return NULL;
}

/* A tenant's runbook: YAML (bounded, checked by the same loader as kiln run's) whose
 * platform the service sets: only these keys are the tenant's. */
static int check_runbook(const char *text, size_t len, char **field, char **why)
{
    static const char *const keys[] = {"name", "concurrency", "variable", "testcase", NULL};
    struct diags d = {0};
    struct ynode *root = yaml_load_string("runbook.yml", text, len, &d);
    int r = 0;
    if (!root) {
        r = bad(field, why, "runbook", "not YAML: %s:%d:%d: %s", d.v[0].file, d.v[0].line, d.v[0].col, d.v[0].msg);
    } else if (root->kind != YN_MAP) {
        r = bad(field, why, "runbook", "a runbook must be a mapping (name, testcase, ...)");
    } else {
        for (size_t i = 0; i + 1 < root->n && r == 0; i += 2) {
            const char *k = root->items[i]->scalar;
            bool ok = false;
            for (size_t j = 0; keys[j] && !ok; j++) ok = streq(k, keys[j]);
            if (!ok)
                r = bad(field, why, "runbook", "line %d: \"%.64s\" is set by the service (the tenant's runbook may hold name, concurrency, variable and testcase)",
                        root->items[i]->line, k);
        }
        /* a variable file would be read on the service's hosts, the server's and the worker's */
        const struct ynode *vars = y_get(root, "variable");
        for (size_t i = 0; r == 0 && vars && vars->kind == YN_SEQ && i < vars->n; i++) {
            const struct ynode *f = y_get(vars->items[i], "file");
            if (f) r = bad(field, why, "runbook", "runbook.yml:%d:%d: variable[%zu].file: a variable file would be read on the service's hosts; give its variables inline (name, value)",
                           f->line, f->col, i);
        }
    }
    ynode_free(root);
    diags_free(&d);
    return r;
}

bool kiln_api_file_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > KILN_API_FILE_NAME_MAX || s[0] == '.' || s[0] == '-') return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || strchr("._+~-", s[i])))
            return false;
    return true;
}

bool kiln_api_media_type_is(const char *ct, const char *want)
{
    if (!ct || !want) return false;
    size_t n = strlen(want);
    if (strncasecmp(ct, want, n) != 0) return false;
    ct += n;
    while (*ct == ' ' || *ct == '\t') ct++;
    return *ct == 0 || *ct == ';';
}

int kiln_api_framing_check(const char *const *cl, size_t ncl, bool transfer_encoding, char **reterr)
{
    if (ncl > 1) return err_setf(reterr, -EINVAL, "the request has %zu Content-Length fields; send one", ncl);
    if (ncl == 1 && transfer_encoding)
        return err_setf(reterr, -EINVAL, "the request has both Content-Length and Transfer-Encoding; send one of them");
    if (ncl == 1) {
        size_t n = strlen(cl[0]);
        if (n == 0 || n > 18 || strspn(cl[0], "0123456789") != n)
            return err_setf(reterr, -EINVAL, "Content-Length must be 1 to 18 decimal digits");
    }
    return 0;
}

/* publish.files: {NAME: DIGEST}, the version's files as the tenant uploaded them. */
static int publish_files(json_t *files, struct kiln_api_job *out, char **field, char **why)
{
    if (!files)
        return bad(field, why, "publish.files", "missing: the version's files by name and digest (its manifest, artifacts, "
                                                "SBOMs, provenance and their .minisig), each uploaded to /api/v1/images");
    if (!json_is_object(files) || json_object_size(files) == 0 || json_object_size(files) > KILN_API_PUBLISH_FILES_MAX)
        return bad(field, why, "publish.files", "must be an object of 1 to %d \"NAME\": \"DIGEST\" pairs", KILN_API_PUBLISH_FILES_MAX);
    const char *k;
    json_t *v;
    json_object_foreach(files, k, v) {
        if (!kiln_api_file_name_ok(k))
            return bad(field, why, "publish.files",
                       "a file name is 1 to %d letters, digits, '.', '_', '+', '~', '-', not starting with '.' or '-'",
                       KILN_API_FILE_NAME_MAX);
        _cleanup_free_ char *f = xasprintf("publish.files.%s", k);
        if (!json_is_string(v) || !kiln_api_digest_ok(json_string_value(v)))
            return bad(field, why, f, "must be a sha256 digest: 64 lower-case hex digits");
    }
    out->publish_files = json_dumps(files, JSON_COMPACT | JSON_SORT_KEYS);
    return out->publish_files ? 0 : -ENOMEM;
}

/* What the job runs, into spec: one of tier (priorities 0..N, default 0), selections (as
 * runbook testcase rules) and a runbook (its text, checked). */
static int job_cases(json_t *j, json_t *spec, char **field, char **why)
{
    json_t *tier = json_object_get(j, "tier"), *sels = json_object_get(j, "selections"), *rb = json_object_get(j, "runbook");
    if ((!!tier + !!sels + !!rb) > 1) return bad(field, why, tier && sels ? "selections" : "runbook", "give one of tier, selections and runbook");
    long t = 0;
    const char *s;
    int r = 0;
    if (get_int(j, "tier", "tier", 0, 2, &t, field, why) < 0) return -EINVAL;
    if (sels) {
        if (!json_is_array(sels) || json_array_size(sels) == 0 || json_array_size(sels) > KILN_API_SELECTIONS_MAX)
            r = bad(field, why, "selections", "must be a list of 1 to %d selections", KILN_API_SELECTIONS_MAX);
        json_t *rules = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(sels, i, x) {
            if (r < 0) break;
            json_t *rule = selection(x, i, field, why);
            if (!rule) r = -EINVAL;
            else json_array_append_new(rules, rule);
        }
        json_object_set_new(spec, "testcase", rules);
    } else if (rb) {
        if (get_str(j, "runbook", "runbook", KILN_STORE_SPEC_MAX / 2, &s, field, why) < 0) r = -EINVAL;
        else if ((r = check_runbook(s, strlen(s), field, why)) == 0) json_object_set_new(spec, "runbook", json_string(s));
    } else {
        json_t *pri = json_array();
        for (long k = 0; k <= t; k++) json_array_append_new(pri, json_integer(k));
        json_t *rule = json_pack("{s:{s:o}}", "criteria", "priority", pri);
        json_object_set_new(spec, "testcase", json_pack("[o]", rule));
    }
    return r;
}

int kiln_api_parse_job(const char *body, size_t len, struct kiln_api_job *out, char **field, char **reterr)
{
    static const char *const keys[] = {"image", "name", "kernel", "append", "tier", "selections", "runbook", "publish", "requirements", NULL};
    memset(out, 0, sizeof(*out));
    json_t *j = load(body, len, field, reterr);
    if (!j) return -EINVAL;
    json_t *spec = json_object();
    int r = only_keys(j, "", keys, field, reterr);
    const char *s;
    if (r == 0 && (r = get_str(j, "image", "image", 64, &s, field, reterr)) == 0) {
        if (!s) r = bad(field, reterr, "image", "missing: the sha256 digest of an image uploaded to /api/v1/images");
        else if (!kiln_api_digest_ok(s)) r = bad(field, reterr, "image", "must be a sha256 digest: 64 lower-case hex digits");
        else memcpy(out->image, s, 65);
    }
    /* shown on the dashboard (escaped there) and grouping its trends: any one line of text */
    if (r == 0 && (r = get_str(j, "name", "name", KILN_API_NAME_MAX, &s, field, reterr)) == 0 && s) {
        bool ctl = !*s;
        for (const unsigned char *c = (const unsigned char *)s; *c; c++) ctl |= *c < 0x20 || *c == 0x7f;
        if (ctl) r = bad(field, reterr, "name", "must be 1 to %d bytes of text without control characters", KILN_API_NAME_MAX);
        else json_object_set_new(spec, "image_name", json_string(s));
    }
    if (r == 0 && (r = get_str(j, "kernel", "kernel", 64, &s, field, reterr)) == 0 && s) {
        if (!kiln_api_digest_ok(s)) r = bad(field, reterr, "kernel", "must be a sha256 digest: 64 lower-case hex digits");
        else {
            memcpy(out->kernel, s, 65);
            json_object_set_new(spec, "kernel", json_string(s));
        }
    }
    if (r == 0 && (r = get_str(j, "append", "append", 1024, &s, field, reterr)) == 0 && s) {
        if (!*out->kernel) r = bad(field, reterr, "append", "a kernel command line needs \"kernel\" (a direct kernel boot)");
        else if (strpbrk(s, "\n\r\x1b")) r = bad(field, reterr, "append", "must be one line of UTF-8");
        else json_object_set_new(spec, "append", json_string(s));
    }
    if (r == 0) r = job_cases(j, spec, field, reterr);
    json_t *pub = json_object_get(j, "publish");
    if (r == 0 && pub) {
        static const char *const pkeys[] = {"channel", "files", NULL};
        if (!json_is_object(pub)) r = bad(field, reterr, "publish", "must be an object: {\"channel\": NAME, \"files\": {...}}");
        else if ((r = only_keys(pub, "publish", pkeys, field, reterr)) == 0 &&
                 (r = get_str(pub, "channel", "publish.channel", KILN_STORE_NAME_MAX, &s, field, reterr)) == 0) {
            if (!s || !name_ok(s)) r = bad(field, reterr, "publish.channel", "must be a channel name ([A-Za-z0-9._-], at most 64, not starting with '.' or '-')");
            else snprintf(out->channel, sizeof(out->channel), "%s", s);
        }
        if (r == 0) r = publish_files(json_object_get(pub, "files"), out, field, reterr);
    }
    json_t *req = json_object_get(j, "requirements");
    if (r == 0 && req) r = parse_caps(req, "requirements", &out->req, field, reterr);
    if (r == 0) {
        out->spec = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        if (!out->spec) r = -ENOMEM;
        else if (strlen(out->spec) > KILN_STORE_SPEC_MAX) r = bad(field, reterr, "", "the job's specification is over %d bytes", KILN_STORE_SPEC_MAX);
    }
    json_decref(spec);
    json_decref(j);
    if (r < 0) kiln_api_job_clear(out);
    return r;
}

int kiln_api_parse_declare(const char *body, size_t len, struct kiln_caps *caps, int *slots, char **field, char **reterr)
{
    static const char *const keys[] = {"caps", "slots", NULL};
    json_t *j = load(body, len, field, reterr);
    if (!j) return -EINVAL;
    long n = 1;
    int r = only_keys(j, "", keys, field, reterr);
    json_t *c = json_object_get(j, "caps");
    if (r == 0 && !c) r = bad(field, reterr, "caps", "missing: what the worker offers");
    if (r == 0) r = parse_caps(c, "caps", caps, field, reterr);
    if (r == 0 && get_int(j, "slots", "slots", 1, 1024, &n, field, reterr) < 0) r = -EINVAL;
    *slots = (int)n;
    json_decref(j);
    return r;
}

int kiln_api_parse_advance(const char *body, size_t len, enum kiln_job_state *to, char **field, char **reterr)
{
    static const char *const keys[] = {"state", NULL};
    json_t *j = load(body, len, field, reterr);
    if (!j) return -EINVAL;
    const char *s = NULL;
    int r = only_keys(j, "", keys, field, reterr);
    if (r == 0) r = get_str(j, "state", "state", 32, &s, field, reterr);
    if (r == 0 && (!s || (!streq(s, "running") && !streq(s, "uploading")))) r = bad(field, reterr, "state", "must be \"running\" or \"uploading\"");
    if (r == 0) *to = streq(s, "running") ? JOB_RUNNING : JOB_UPLOADING;
    json_decref(j);
    return r;
}

int kiln_api_parse_finish(const char *body, size_t len, enum kiln_job_result *result, char **reason, char **field,
                          char **reterr)
{
    static const char *const keys[] = {"result", "reason", NULL};
    *reason = NULL;
    json_t *j = load(body, len, field, reterr);
    if (!j) return -EINVAL;
    const char *s = NULL, *rs = NULL;
    int r = only_keys(j, "", keys, field, reterr);
    if (r == 0) r = get_str(j, "result", "result", 32, &s, field, reterr);
    if (r == 0 && (!s || (!streq(s, "passed") && !streq(s, "failed") && !streq(s, "incomplete"))))
        r = bad(field, reterr, "result", "must be passed, failed or incomplete");
    if (r == 0) r = get_str(j, "reason", "reason", 64 * 1024, &rs, field, reterr);
    if (r == 0) {
        *result = streq(s, "passed") ? RESULT_PASSED : streq(s, "failed") ? RESULT_FAILED : RESULT_INCOMPLETE;
        *reason = rs ? xstrdup(rs) : NULL;
    }
    json_decref(j);
    return r;
}

int kiln_api_query_check(const char *const *names, size_t n, const char *const *known, char **field, char **reterr)
{
    if (n > KILN_API_QUERY_MAX) {
        free(*reterr);
        *reterr = xasprintf("the query has more than %d parameters", KILN_API_QUERY_MAX);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *name = xstrndup(names[i], 64);
        for (size_t k = 0; k < i; k++)
            if (streq(names[k], names[i])) return bad(field, reterr, name, "%s is given twice: give it once", name);
        if (!known) continue;
        bool ok = false;
        struct sbuf all = {0};
        for (size_t k = 0; known[k]; k++) {
            ok |= streq(known[k], names[i]);
            sbuf_printf(&all, "%s%s", k ? ", " : "", known[k]);
        }
        _cleanup_free_ char *list = all.s ? sbuf_steal(&all) : NULL;
        if (!ok)
            return list ? bad(field, reterr, name, "%s is not a parameter of this endpoint; it reads %s", name, list)
                        : bad(field, reterr, name, "%s is not a parameter of this endpoint; it reads none", name);
    }
    return 0;
}

int kiln_api_parse_list(const char *limit, const char *before, struct kiln_api_list *out, char **field, char **reterr)
{
    long v;
    *out = (struct kiln_api_list){.limit = KILN_STORE_LIST_MAX};
    if (limit) {
        if (!parse_long_strict(limit, &v) || v < 1 || v > KILN_STORE_LIST_MAX)
            return bad(field, reterr, "limit", "must be a whole number from 1 to %d", KILN_STORE_LIST_MAX);
        out->limit = (size_t)v;
    }
    if (before) {
        if (!parse_long_strict(before, &v) || v < 1)
            return bad(field, reterr, "before", "must be a job id (a whole number from 1): the \"next\" of the previous page");
        out->before = v;
    }
    return 0;
}
