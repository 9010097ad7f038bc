/* The built-in cases' decisions (decide.h): pure functions of captured guest output and the
 * policy, apart from the cases that capture it (src/suites/<area>.c), so that the unit tests
 * and tests/fuzz/fuzz_decide.c reach them without a guest. Guest output is untrusted: every
 * parser here reads a NUL-terminated text of any content without assuming its shape. */
#include <ctype.h>
#include <stdarg.h>
#include <strings.h>

#include "suites/decide.h"
#include "util/version.h"
#include "util/strv.h"
#include "util/util.h"
#include "util/yaml.h"

/* ---- verdicts, captured output, facts ---- */

#define GFILE_MARK '\036'

char *gfiles_command(const char *globs)
{
    /* a trailing echo keeps a last line without a newline off the next marker */
    return xasprintf("for f in %s; do [ -f \"$f\" ] || continue; printf '\\036%%s\\n' \"$f\"; "
                     "cat -- \"$f\" || exit 1; echo; done; exit 0",
                     globs);
}

enum verdict_kind verdict_set(struct verdict *v, enum verdict_kind kind, const char *fmt, ...)
{
    free(v->reason);
    v->reason = NULL;
    v->kind = kind;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        v->reason = xvasprintf(fmt, ap);
        va_end(ap);
    }
    return kind;
}

void verdict_free(struct verdict *v)
{
    free(v->reason);
    *v = (struct verdict){0};
}

char *gcap_why(const struct gcap *c)
{
    const char *src = c->err && *c->err ? c->err : c->out ? c->out : "";
    while (*src == '\n' || *src == ' ') src++;
    size_t len = strcspn(src, "\n");
    if (len > 300) len = 300;
    return len ? xasprintf("exited %d: %.*s", c->status, (int)len, src) : xasprintf("exited %d", c->status);
}

void gfiles_parse(const char *out, struct gfiles *files)
{
    *files = (struct gfiles){0};
    const char *p = out ? out : "";
    while ((p = strchr(p, GFILE_MARK))) {
        if (p != out && p[-1] != '\n') {
            p++;
            continue;
        }
        const char *nl = strchr(p, '\n');
        if (!nl) break;
        const char *body = nl + 1, *end = body;
        while ((end = strchr(end, GFILE_MARK)) && end[-1] != '\n') end++;
        if (!end) end = body + strlen(body);
        struct gfile *f = APPEND(files->v, files->n, files->cap);
        f->path = xstrndup(p + 1, (size_t)(nl - p - 1));
        f->text = xstrndup(body, (size_t)(end - body));
        p = end;
    }
}

const struct gfile *gfiles_get(const struct gfiles *files, const char *path)
{
    for (size_t i = 0; i < files->n; i++)
        if (streq(files->v[i].path, path)) return &files->v[i];
    return NULL;
}

void gfiles_free(struct gfiles *files)
{
    for (size_t i = 0; i < files->n; i++) {
        free(files->v[i].path);
        free(files->v[i].text);
    }
    free(files->v);
    *files = (struct gfiles){0};
}

bool next_line(const char **p, const char **line, size_t *len)
{
    if (!*p || !**p) return false;
    *line = *p;
    *len = strcspn(*p, "\n");
    *p += *len;
    if (**p == '\n') (*p)++;
    return true;
}

void reason_item(struct sbuf *b, size_t *count, size_t max, const char *fmt, ...)
{
    if ((*count)++ >= max) {
        if (*count == max + 1) sbuf_puts(b, ", ...");
        return;
    }
    if (*count > 1) sbuf_puts(b, ", ");
    va_list ap;
    va_start(ap, fmt);
    char *s = xvasprintf(fmt, ap);
    va_end(ap);
    sbuf_puts(b, s);
    free(s);
}

char *os_release_value(const char *text, const char *key)
{
    size_t kl = strlen(key);
    const char *p = text, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        while (len && (*line == ' ' || *line == '\t')) line++, len--;
        if (len <= kl || strncmp(line, key, kl) || line[kl] != '=') continue;
        const char *v = line + kl + 1, *end = line + len;
        struct sbuf b = {0};
        sbuf_puts(&b, "");
        char quote = 0;
        for (; v < end; v++) {
            if (!quote && (*v == '"' || *v == '\'')) quote = *v;
            else if (quote && *v == quote) quote = 0;
            else if (quote != '\'' && *v == '\\' && v + 1 < end) sbuf_append(&b, ++v, 1);
            else if (!quote && (*v == ' ' || *v == '\t' || *v == '#')) break;
            else sbuf_append(&b, v, 1);
        }
        return sbuf_steal(&b);
    }
    return NULL;
}

static enum pkg_family family_of_word(const char *w, size_t n)
{
    static const char *const deb[] = {"debian", "ubuntu", "raspbian", "devuan", "kali", "linuxmint", "pop", "pureos"};
    static const char *const rpm[] = {"fedora", "rhel", "centos", "rocky", "almalinux", "ol", "amzn", "suse", "sles",
                                      "sled", "opensuse", "mariner", "azurelinux", "photon", "openeuler", "mageia"};
    for (size_t i = 0; i < ARRAY_SIZE(deb); i++)
        if (strlen(deb[i]) == n && !strncmp(deb[i], w, n)) return FAMILY_DEB;
    for (size_t i = 0; i < ARRAY_SIZE(rpm); i++)
        if (strlen(rpm[i]) == n && !strncmp(rpm[i], w, n)) return FAMILY_RPM;
    if (n > 9 && !strncmp(w, "opensuse-", 9)) return FAMILY_RPM;
    return FAMILY_OTHER;
}

enum pkg_family family_from_os_release(const char *id, const char *id_like)
{
    /* ID first: a derivative's own family beats what it is like */
    const char *lists[] = {id, id_like};
    for (size_t k = 0; k < ARRAY_SIZE(lists); k++)
        for (const char *p = lists[k]; p && *p;) {
            p += strspn(p, " \t");
            size_t n = strcspn(p, " \t");
            enum pkg_family f = n ? family_of_word(p, n) : FAMILY_OTHER;
            if (f != FAMILY_OTHER) return f;
            p += n;
        }
    return FAMILY_OTHER;
}

enum verdict_kind decide_package_database(enum pkg_family fam, const char *id, const struct gcap *list,
                                          struct verdict *v)
{
    const char *tool = fam == FAMILY_DEB ? "dpkg" : "rpm", *kind = fam == FAMILY_DEB ? "deb" : "rpm";
    _cleanup_free_ char *why = gcap_why(list);
    if (list->status == 3)
        return verdict_set(v, VERDICT_FAIL, "%s is %s-based but its %s database is missing (%s)", id, kind, tool, why);
    if (list->status == 127)
        return verdict_set(v, VERDICT_FAIL, "%s is %s-based but %s is not installed (%s)", id, kind, tool, why);
    if (list->status != 0)
        return verdict_set(v, VERDICT_FAIL, "%s is %s-based but its %s database cannot be read: %s", id, kind, tool, why);
    /* rpm reports a damaged database on stderr and may still exit 0 */
    const char *err = strstr(list->err, "error:");
    if (err)
        return verdict_set(v, VERDICT_FAIL, "%s is %s-based but its %s database is damaged: %.*s", id, kind, tool,
                           (int)strcspn(err, "\n"), err);
    size_t n = 0;
    const char *p = list->out, *line;
    size_t len;
    while (next_line(&p, &line, &len))
        if (len) n++;
    if (!n) return verdict_set(v, VERDICT_FAIL, "%s is %s-based but its %s database lists no installed package", id, kind, tool);
    return verdict_set(v, VERDICT_PASS, "%s database: %zu installed package(s)", tool, n);
}

bool policy_in_list(const struct ynode *list, const char *value)
{
    if (!list) return false;
    if (list->kind == YN_SCALAR) return streq(list->scalar, value);
    for (size_t i = 0; list->kind == YN_SEQ && i < list->n; i++)
        if (list->items[i]->kind == YN_SCALAR && streq(list->items[i]->scalar, value)) return true;
    return false;
}

char *policy_list_text(const struct ynode *list)
{
    struct sbuf b = {0};
    sbuf_puts(&b, "");
    for (size_t i = 0; list && list->kind == YN_SEQ && i < list->n; i++)
        sbuf_printf(&b, "%s%s", i ? ", " : "", list->items[i]->scalar ? list->items[i]->scalar : "?");
    if (list && list->kind == YN_SCALAR) sbuf_puts(&b, list->scalar);
    return sbuf_steal(&b);
}

/* ---- security ---- */

struct account {
    char *name, *pw, *uid, *home, *shell;
    const char *src;        /* the passwd file */
    char *shadow;           /* shadow's password field, NULL without an entry */
    const char *shadow_src;
};

struct accounts {
    struct account *v;
    size_t n, cap;
    char *store[4]; /* the split copies the fields point into */
    size_t nstore;
};

/* Splits a colon-separated line in place into at most max fields; returns the count. */
static size_t split_colon(char *line, char **f, size_t max)
{
    size_t n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == ':') *p = 0, f[n++] = p + 1;
    return n;
}

static struct account *account_find(struct accounts *a, const char *name)
{
    for (size_t i = 0; i < a->n; i++)
        if (streq(a->v[i].name, name)) return &a->v[i];
    return NULL;
}

static void accounts_free(struct accounts *a)
{
    free(a->v);
    for (size_t i = 0; i < a->nstore; i++) free(a->store[i]);
    *a = (struct accounts){0};
}

/* passwd files first (the first entry of a name wins, as NSS's order does), then shadow. */
static void accounts_parse(const struct gfiles *files, struct accounts *a)
{
    *a = (struct accounts){0};
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < files->n && a->nstore < ARRAY_SIZE(a->store); i++) {
            const struct gfile *gf = &files->v[i];
            if (!endswith(gf->path, pass ? "/shadow" : "/passwd")) continue;
            char *copy = a->store[a->nstore++] = xstrdup(gf->text);
            for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *f[7];
                size_t nf = split_colon(l, f, 7);
                if (!*f[0] || *f[0] == '#' || *f[0] == '+' || *f[0] == '-' || nf < 2) continue;
                if (pass) {
                    struct account *acc = account_find(a, f[0]);
                    if (acc && !acc->shadow) acc->shadow = f[1], acc->shadow_src = gf->path;
                    continue;
                }
                if (nf < 7 || account_find(a, f[0])) continue;
                *APPEND(a->v, a->n, a->cap) = (struct account){
                    .name = f[0], .pw = f[1], .uid = f[2], .home = f[5], .shell = f[6], .src = gf->path};
            }
        }
}

/* An empty shell field means /bin/sh (passwd(5)); these shells refuse a session. */
static bool login_shell(const struct account *acc)
{
    const char *sh = *acc->shell ? acc->shell : "/bin/sh";
    const char *base = strrchr(sh, '/') ? strrchr(sh, '/') + 1 : sh;
    static const char *const refuse[] = {"nologin", "false", "true", "sync", "shutdown", "halt"};
    for (size_t i = 0; i < ARRAY_SIZE(refuse); i++)
        if (streq(base, refuse[i])) return false;
    return true;
}

/* The password field that applies (passwd's, or shadow's when passwd says "x") and where it is. */
static const char *effective_password(const struct account *acc, const char **src)
{
    *src = acc->src;
    if (!streq(acc->pw, "x")) return acc->pw;
    *src = acc->shadow_src;
    return acc->shadow ? acc->shadow : "*"; /* "x" without a shadow entry: no password at all */
}

/* A crypt(3) hash a password can match: "$id$..." or 13-character DES. Locked ("!..."),
 * disabled ("*"), empty and anything else match no password. */
static bool usable_hash(const char *pw)
{
    if (*pw == '$') return strlen(pw) > 3;
    if (strlen(pw) != 13) return false;
    for (const char *p = pw; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '/') return false;
    return true;
}

static bool have_passwd(const struct gfiles *files)
{
    return gfiles_get(files, "/etc/passwd") != NULL;
}

enum verdict_kind decide_login_users(const struct gfiles *files, const struct ynode *allow, const char *provisioned,
                                     struct verdict *v)
{
    if (!have_passwd(files)) return verdict_set(v, VERDICT_NOTHING, "there is no /etc/passwd");
    struct accounts a;
    accounts_parse(files, &a);
    struct sbuf bad = {0};
    size_t n = 0;
    for (size_t i = 0; i < a.n; i++) {
        const struct account *acc = &a.v[i];
        if (!login_shell(acc) || policy_in_list(allow, acc->name)) continue;
        if (provisioned && streq(acc->name, provisioned)) continue;
        reason_item(&bad, &n, 8, "%s (%s)", acc->name, *acc->shell ? acc->shell : "empty shell field: /bin/sh");
    }
    if (n) verdict_set(v, VERDICT_FAIL, "account(s) with a login shell not in the policy: %s", bad.s);
    else verdict_set(v, VERDICT_PASS, "%zu account(s), none with a login shell outside the policy", a.n);
    sbuf_free(&bad);
    accounts_free(&a);
    return v->kind;
}

enum verdict_kind decide_empty_passwords(const struct gfiles *files, struct verdict *v)
{
    if (!have_passwd(files)) return verdict_set(v, VERDICT_NOTHING, "there is no /etc/passwd");
    struct accounts a;
    accounts_parse(files, &a);
    struct sbuf bad = {0};
    size_t n = 0;
    for (size_t i = 0; i < a.n; i++) {
        const char *src;
        if (!*effective_password(&a.v[i], &src)) reason_item(&bad, &n, 8, "%s (%s)", a.v[i].name, src);
    }
    if (n) verdict_set(v, VERDICT_FAIL, "account(s) with an empty password: %s", bad.s);
    else verdict_set(v, VERDICT_PASS, "no account of %zu has an empty password", a.n);
    sbuf_free(&bad);
    accounts_free(&a);
    return v->kind;
}

enum verdict_kind decide_password_hashes(const struct gfiles *files, const struct ynode *allow, struct verdict *v)
{
    if (!have_passwd(files)) return verdict_set(v, VERDICT_NOTHING, "there is no /etc/passwd");
    struct accounts a;
    accounts_parse(files, &a);
    struct sbuf bad = {0};
    size_t n = 0;
    for (size_t i = 0; i < a.n; i++) {
        const char *src, *pw = effective_password(&a.v[i], &src);
        if (!usable_hash(pw) || policy_in_list(allow, a.v[i].name)) continue;
        /* the hash itself stays out of the report: only its scheme */
        const char *end = *pw == '$' ? strchr(pw + 1, '$') : NULL;
        int scheme = end ? (int)(end - pw + 1) : 0;
        reason_item(&bad, &n, 8, "%s (%s, %.*s%s hash)", a.v[i].name, src, scheme, pw, scheme ? "" : "DES");
    }
    if (n)
        verdict_set(v, VERDICT_FAIL, "account(s) with a usable password hash the policy does not list "
                                     "(security.password_allow): %s", bad.s);
    else verdict_set(v, VERDICT_PASS, "no account of %zu holds a usable password hash outside the policy", a.n);
    sbuf_free(&bad);
    accounts_free(&a);
    return v->kind;
}

/* Adds "key is X, policy allows Y" for each policy key whose value in text ("key value"
 * lines, as sshd -T prints) is not allowed; keys text lacks go to unknown when given. */
static void judge_ssh_values(const char *label, const char *text, const struct ynode *want, bool root, struct sbuf *bad,
                             size_t *nbad, struct sbuf *unknown, size_t *nunknown)
{
    for (size_t i = 0; want && want->kind == YN_MAP && i < want->n; i += 2) {
        const char *key = want->items[i]->scalar;
        /* PermitRootLogin means nothing for another user's login */
        if (!root && !strcasecmp(key, "permitrootlogin")) continue;
        size_t kl = strlen(key);
        _cleanup_free_ char *value = NULL;
        const char *p = text, *line;
        size_t len;
        while (!value && next_line(&p, &line, &len))
            if (len > kl && !strncasecmp(line, key, kl) && line[kl] == ' ') value = xstrndup(line + kl + 1, len - kl - 1);
        if (!value && unknown) {
            reason_item(unknown, nunknown, 8, "%s", key);
            continue;
        }
        if (value && policy_in_list(want->items[i + 1], value)) continue;
        _cleanup_free_ char *allowed = policy_list_text(want->items[i + 1]);
        (*nbad)++;
        if (*nbad <= 6)
            sbuf_printf(bad, "%s%s: %s is \"%s\", policy allows %s", *nbad > 1 ? "; " : "", label, key,
                        value ? value : "(not set)", allowed);
    }
}

char **sshd_test_users(const struct gfiles *files, size_t max)
{
    struct accounts a;
    accounts_parse(files, &a);
    char **users = xcalloc(max + 3, sizeof *users);
    size_t n = 0;
    users[n++] = xstrdup("root");
    for (size_t i = 0; i < a.n && n < max + 1; i++)
        if (!streq(a.v[i].name, "root") && login_shell(&a.v[i])) users[n++] = xstrdup(a.v[i].name);
    /* Match User blocks for everyone but root still show with a user no Match names */
    if (n == 1) users[n++] = xstrdup("kiln-user");
    accounts_free(&a);
    return users;
}

enum verdict_kind decide_sshd(char *const *users, const struct gcap *out, size_t n, const struct ynode *want,
                              struct verdict *v)
{
    struct sbuf bad = {0};
    size_t nbad = 0;
    for (size_t i = 0; i < n; i++) {
        if (out[i].status != 0) {
            _cleanup_free_ char *why = gcap_why(&out[i]);
            sbuf_free(&bad);
            return verdict_set(v, VERDICT_FAIL, "cannot read the effective sshd configuration for user %s (sshd -T -C): %s",
                               users[i], why);
        }
        _cleanup_free_ char *label = xasprintf("sshd -T for user %s", users[i]);
        judge_ssh_values(label, out[i].out, want, streq(users[i], "root"), &bad, &nbad, NULL, NULL);
    }
    if (nbad) verdict_set(v, VERDICT_FAIL, "%s", bad.s);
    else verdict_set(v, VERDICT_PASS, "sshd's effective settings for %zu user(s) match the policy", n);
    sbuf_free(&bad);
    return v->kind;
}

/* What a dropbear command line means in sshd -T's terms (dropbear(8)); options that take an
 * argument take the rest of their word or the next one. */
static char *dropbear_settings(const char *argv_text)
{
    bool no_pass = false, no_root_pass = false, no_root = false, blank = false;
    _cleanup_free_ char *copy = xstrdup(argv_text);
    char *args[256];
    size_t argc = 0;
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l && argc < ARRAY_SIZE(args); l = strtok_r(NULL, "\n", &save))
        args[argc++] = l;
    for (size_t i = 1; i < argc; i++) {
        const char *a = args[i];
        if (a[0] != '-') continue;
        for (size_t j = 1; a[j]; j++) {
            if (strchr("AbcDGIKPprTW", a[j])) {
                if (!a[j + 1]) i++; /* the value is the next word */
                break;
            }
            if (a[j] == 's') no_pass = true;
            else if (a[j] == 'g') no_root_pass = true;
            else if (a[j] == 'w') no_root = true;
            else if (a[j] == 'B') blank = true;
        }
    }
    return xasprintf("permitrootlogin %s\npasswordauthentication %s\npermitemptypasswords %s\n"
                     "kbdinteractiveauthentication no\npubkeyauthentication yes\n",
                     no_root ? "no" : no_pass || no_root_pass ? "prohibit-password" : "yes", no_pass ? "no" : "yes",
                     blank && !no_pass ? "yes" : "no");
}

enum verdict_kind decide_dropbear(const struct gfiles *procs, const struct ynode *want, struct verdict *v)
{
    if (!procs->n) return verdict_set(v, VERDICT_NOTHING, "no dropbear process runs");
    struct sbuf bad = {0}, unknown = {0};
    size_t nbad = 0, nunknown = 0;
    for (size_t i = 0; i < procs->n; i++) {
        _cleanup_free_ char *settings = dropbear_settings(procs->v[i].text);
        _cleanup_free_ char *cmdline = xstrdup(procs->v[i].text);
        for (char *p = cmdline; *p; p++)
            if (*p == '\n') *p = ' ';
        _cleanup_free_ char *label = xasprintf("dropbear (pid %s: %s)", procs->v[i].path, strstrip(cmdline));
        sbuf_free(&unknown);
        nunknown = 0;
        judge_ssh_values(label, settings, want, true, &bad, &nbad, &unknown, &nunknown);
    }
    if (nbad) verdict_set(v, VERDICT_FAIL, "%s", bad.s);
    else if (nunknown)
        verdict_set(v, VERDICT_SKIP, "dropbear has no setting matching sshd's %s (policy security.sshd): cannot judge it",
                    unknown.s);
    else verdict_set(v, VERDICT_PASS, "%zu dropbear process(es) run with settings the policy allows", procs->n);
    sbuf_free(&bad);
    sbuf_free(&unknown);
    return v->kind;
}

/* The base64 key blob of an authorized_keys line (sshd(8) AUTHORIZED_KEYS FILE FORMAT:
 * [options] keytype base64 [comment]); type and comment point into line. */
static bool key_line(const char *line, const char **type, size_t *type_len, const char **blob, size_t *blob_len,
                     const char **comment)
{
    const char *p = line + strspn(line, " \t");
    if (!*p || *p == '#') return false;
    for (int pass = 0; pass < 2; pass++) {
        size_t n = strcspn(p, " \t");
        bool is_type = (startswith(p, "ssh-") || startswith(p, "ecdsa-") || startswith(p, "sk-")) && n > 4;
        if (is_type) {
            *type = p, *type_len = n;
            p += n;
            p += strspn(p, " \t");
            *blob = p, *blob_len = strcspn(p, " \t");
            if (!*blob_len) return false;
            p += *blob_len;
            *comment = p + strspn(p, " \t");
            return true;
        }
        if (pass) return false;
        /* skip the options field: a comma list whose quoted values may hold blanks */
        bool quoted = false;
        for (; *p && (quoted || (*p != ' ' && *p != '\t')); p++) {
            if (*p == '\\' && p[1]) p++;
            else if (*p == '"') quoted = !quoted;
        }
        p += strspn(p, " \t");
    }
    return false;
}

enum verdict_kind decide_authorized_keys(const struct gfiles *files, const char *kiln_pubkey, struct verdict *v)
{
    const char *kb = kiln_pubkey ? strchr(kiln_pubkey, ' ') : NULL;
    kb = kb ? kb + 1 : "";
    size_t kbl = strcspn(kb, " \t\n");
    size_t kiln_found = 0, n = 0, keys = 0;
    struct sbuf bad = {0};
    for (size_t i = 0; i < files->n; i++) {
        const char *p = files->v[i].text, *line;
        size_t len;
        while (next_line(&p, &line, &len)) {
            _cleanup_free_ char *l = xstrndup(line, len);
            const char *type, *blob, *comment;
            size_t tl, bl;
            if (!key_line(l, &type, &tl, &blob, &bl, &comment)) continue;
            keys++;
            if (kbl && bl == kbl && !strncmp(blob, kb, kbl)) {
                kiln_found++;
                continue;
            }
            reason_item(&bad, &n, 6, "%s: %.*s %s", files->v[i].path, (int)tl, type,
                        *comment ? comment : "(no comment)");
        }
    }
    if (n)
        verdict_set(v, VERDICT_FAIL, "%zu authorized key(s) besides the one kiln provisioned, shipped with the image "
                                     "or added at boot: %s", n, bad.s);
    else if (!kiln_found)
        verdict_set(v, VERDICT_SKIP, "the key kiln logged in with is in none of the %zu authorized_keys file(s) read: the "
                                     "SSH server takes keys from elsewhere (AuthorizedKeysCommand?), so they cannot be judged",
                    files->n);
    else verdict_set(v, VERDICT_PASS, "%zu authorized_keys file(s) hold only the key kiln provisioned", files->n);
    sbuf_free(&bad);
    return v->kind;
}

/* Appends path (shell-quoted) to b unless it is there already. */
static void add_path(struct sbuf *b, const char *path)
{
    _cleanup_free_ char *q = shell_quote(path);
    _cleanup_free_ char *padded = xasprintf(" %s ", q);
    _cleanup_free_ char *hay = xasprintf(" %s ", b->s ? b->s : "");
    if (strstr(hay, padded)) return;
    sbuf_printf(b, "%s%s", b->len ? " " : "", q);
}

char *authorized_keys_paths(const struct gfiles *files, const char *sshd_t)
{
    struct accounts a;
    accounts_parse(files, &a);
    /* dropbear and sshd's default read ~/.ssh/authorized_keys; sshd's AuthorizedKeysFile may add more */
    _cleanup_free_ char *patterns = xstrdup(".ssh/authorized_keys .ssh/authorized_keys2");
    const char *p = sshd_t, *line;
    size_t len;
    while (next_line(&p, &line, &len))
        if (len > 19 && !strncasecmp(line, "authorizedkeysfile ", 19)) {
            char *more = xasprintf("%s %.*s", patterns, (int)(len - 19), line + 19);
            free(patterns);
            patterns = more;
        }
    struct sbuf out = {0};
    sbuf_puts(&out, "");
    for (size_t i = 0; i < a.n; i++) {
        const struct account *acc = &a.v[i];
        _cleanup_free_ char *pats = xstrdup(patterns);
        for (char *save = NULL, *pat = strtok_r(pats, " \t", &save); pat; pat = strtok_r(NULL, " \t", &save)) {
            if (streq(pat, "none")) continue;
            struct sbuf path = {0};
            sbuf_puts(&path, "");
            for (const char *c = pat; *c; c++) {
                if (*c != '%' || !c[1]) {
                    sbuf_append(&path, c, 1);
                    continue;
                }
                c++;
                if (*c == 'h') sbuf_puts(&path, acc->home);
                else if (*c == 'u') sbuf_puts(&path, acc->name);
                else if (*c == 'U') sbuf_puts(&path, acc->uid);
                else sbuf_append(&path, c, 1);
            }
            /* after expansion, a relative path is taken from the home directory */
            if (*path.s == '/') add_path(&out, path.s);
            else if (*acc->home == '/') {
                _cleanup_free_ char *abs = xasprintf("%s%s%s", acc->home, endswith(acc->home, "/") ? "" : "/", path.s);
                add_path(&out, abs);
            }
            sbuf_free(&path);
        }
    }
    accounts_free(&a);
    return sbuf_steal(&out);
}

/* "SHA256  PATH" lines (sha256sum's output). */
struct hashed {
    char hash[65];
    char *path;
};

static size_t parse_hashes(const char *out, struct hashed **list)
{
    size_t n = 0, cap = 0;
    *list = NULL;
    const char *p = out, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        if (len < 67 || strspn(line, "0123456789abcdef") != 64 || line[64] != ' ') continue;
        const char *path = line + 64 + strspn(line + 64, " *");
        size_t pl = len - (size_t)(path - line);
        bool dup = false; /* a file listed twice (a HostKey line and the glob) counts once */
        for (size_t i = 0; i < n && !dup; i++)
            dup = !strncmp((*list)[i].hash, line, 64) && strlen((*list)[i].path) == pl && !strncmp((*list)[i].path, path, pl);
        if (dup) continue;
        struct hashed *h = APPEND(*list, n, cap);
        memcpy(h->hash, line, 64);
        h->hash[64] = 0;
        h->path = xstrndup(path, pl);
    }
    return n;
}

static void hashes_free(struct hashed *list, size_t n)
{
    for (size_t i = 0; i < n; i++) free(list[i].path);
    free(list);
}

/* Two nodes' sha256sum listings, and the files of a whose content b has too. */
struct hash_pair {
    struct hashed *a, *b;
    size_t na, nb, shared;
    struct sbuf list; /* the shared ones as reason_item lists them (b's path when it differs) */
};

static void hash_pair_compare(const struct gcap *ga, const struct gcap *gb, struct hash_pair *h)
{
    *h = (struct hash_pair){0};
    h->na = parse_hashes(ga->out, &h->a);
    h->nb = parse_hashes(gb->out, &h->b);
    for (size_t i = 0; i < h->na; i++)
        for (size_t j = 0; j < h->nb; j++)
            if (streq(h->a[i].hash, h->b[j].hash)) {
                if (streq(h->a[i].path, h->b[j].path)) reason_item(&h->list, &h->shared, 6, "%s", h->a[i].path);
                else reason_item(&h->list, &h->shared, 6, "%s (%s on the other)", h->a[i].path, h->b[j].path);
                break;
            }
}

static void hash_pair_free(struct hash_pair *h)
{
    sbuf_free(&h->list);
    hashes_free(h->a, h->na);
    hashes_free(h->b, h->nb);
}

enum verdict_kind decide_host_keys(const char *name_a, const struct gcap *a, const char *fp_a, const char *name_b,
                                   const struct gcap *b, const char *fp_b, struct verdict *v)
{
    const struct gcap *caps[] = {a, b};
    const char *names[] = {name_a, name_b};
    for (int i = 0; i < 2; i++)
        if (caps[i]->status != 0) {
            _cleanup_free_ char *why = gcap_why(caps[i]);
            return verdict_set(v, VERDICT_FAIL, "cannot list the host key files on %s: %s", names[i], why);
        }
    struct hash_pair h;
    hash_pair_compare(a, b, &h);
    if (h.shared)
        verdict_set(v, VERDICT_FAIL, "%s and %s, booted from the same image, have the same host key file(s) %s: "
                                     "host keys are baked into the image", name_a, name_b, h.list.s);
    else if (fp_a && fp_b && streq(fp_a, fp_b))
        verdict_set(v, VERDICT_FAIL, "%s and %s, booted from the same image, present the same host key %s: "
                                     "host keys are baked into the image", name_a, name_b, fp_a);
    else if (!fp_a || !fp_b)
        verdict_set(v, VERDICT_FAIL, "cannot read the host keys the nodes presented");
    else if (!h.na || !h.nb)
        verdict_set(v, VERDICT_PASS, "no host key files found on %s; the presented keys differ (%s, %s)",
                    !h.na ? name_a : name_b, fp_a, fp_b);
    else
        verdict_set(v, VERDICT_PASS, "%zu and %zu host key file(s), none shared; presented keys %s, %s", h.na, h.nb, fp_a,
                    fp_b);
    hash_pair_free(&h);
    return v->kind;
}

enum verdict_kind decide_private_keys(const char *name_a, const struct gcap *a, const char *name_b,
                                      const struct gcap *b, struct verdict *v)
{
    const struct gcap *caps[] = {a, b};
    const char *names[] = {name_a, name_b};
    for (int i = 0; i < 2; i++)
        if (caps[i]->status != 0) {
            _cleanup_free_ char *why = gcap_why(caps[i]);
            return verdict_set(v, VERDICT_FAIL, "cannot search %s for private keys: %s", names[i], why);
        }
    struct hash_pair h;
    hash_pair_compare(a, b, &h);
    if (h.shared)
        verdict_set(v, VERDICT_FAIL, "%zu private key(s) are the same on %s and %s, booted from the same image, "
                                     "so they were baked into it: %s", h.shared, name_a, name_b, h.list.s);
    else verdict_set(v, VERDICT_PASS, "%zu and %zu private key file(s), none the same on both nodes", h.na, h.nb);
    hash_pair_free(&h);
    return v->kind;
}

enum verdict_kind decide_path_list(const struct gcap *find, const struct ynode *allow, bool by_prefix,
                                   const char *what, struct verdict *v)
{
    if (find->status != 0) {
        /* a file that vanished during the walk is no finding; anything else hid part of the tree */
        const char *p = find->err, *line;
        size_t len;
        while (next_line(&p, &line, &len)) {
            if (!len) continue;
            _cleanup_free_ char *l = xstrndup(line, len);
            if (!strstr(l, "No such file or directory"))
                return verdict_set(v, VERDICT_FAIL, "find could not search the whole root filesystem (exited %d): %s",
                                   find->status, l);
        }
    }
    struct sbuf bad = {0};
    size_t n = 0, total = 0;
    const char *p = find->out, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        if (!len) continue;
        total++;
        _cleanup_free_ char *l = xstrndup(line, len);
        bool ok = false;
        for (size_t i = 0; allow && allow->kind == YN_SEQ && i < allow->n && !ok; i++) {
            const char *al = allow->items[i]->scalar;
            ok = al && (by_prefix ? startswith(l, al) : streq(l, al));
        }
        if (!ok) reason_item(&bad, &n, 8, "%s", l);
    }
    if (n) verdict_set(v, VERDICT_FAIL, "%zu %s: %s", n, what, bad.s);
    else verdict_set(v, VERDICT_PASS, "%zu path(s) found, all allowed", total);
    sbuf_free(&bad);
    return v->kind;
}

enum verdict_kind decide_sysctls(const struct gcap *values, const struct ynode *want, struct verdict *v)
{
    if (values->status != 0) {
        _cleanup_free_ char *why = gcap_why(values);
        return verdict_set(v, VERDICT_FAIL, "cannot read the sysctls under /proc/sys: %s", why);
    }
    struct sbuf bad = {0};
    size_t nbad = 0, nkeys = 0;
    for (size_t i = 0; want && want->kind == YN_MAP && i < want->n; i += 2) {
        const char *key = want->items[i]->scalar;
        nkeys++;
        size_t kl = strlen(key);
        struct sbuf val = {0};
        sbuf_puts(&val, "");
        const char *p = values->out, *line;
        size_t len;
        bool seen = false;
        while (!seen && next_line(&p, &line, &len)) {
            if (len < kl + 1 || strncmp(line, key, kl) || line[kl] != '\t') continue;
            seen = true;
            /* multi-valued sysctls (kernel.printk) compare with single blanks */
            for (size_t k = kl + 1; k < len; k++) {
                bool blank = line[k] == ' ' || line[k] == '\t';
                if (blank && (!val.len || val.s[val.len - 1] == ' ')) continue;
                sbuf_append(&val, blank ? " " : &line[k], 1);
            }
        }
        if (val.len && val.s[val.len - 1] == ' ') val.s[--val.len] = 0;
        if (!policy_in_list(want->items[i + 1], val.s)) {
            _cleanup_free_ char *allowed = policy_list_text(want->items[i + 1]);
            if (nbad++ < 8)
                sbuf_printf(&bad, "%s%s = %s (policy: %s)", nbad > 1 ? "; " : "", key, *val.s ? val.s : "missing", allowed);
        }
        sbuf_free(&val);
    }
    if (nbad) verdict_set(v, VERDICT_FAIL, "%zu sysctl(s) off policy: %s", nbad, bad.s);
    else verdict_set(v, VERDICT_PASS, "%zu sysctl(s) as the policy says", nkeys);
    sbuf_free(&bad);
    return v->kind;
}

/* apt's StringToBool and dnf's/zypper's boolean options agree on these words. */
static int parse_bool(const char *s, size_t n)
{
    static const char *const yes[] = {"1", "yes", "true", "on", "with", "enable", "enabled"};
    static const char *const no[] = {"0", "no", "false", "off", "without", "disable", "disabled"};
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
        if (strlen(yes[i]) == n && !strncasecmp(s, yes[i], n)) return 1;
    for (size_t i = 0; i < ARRAY_SIZE(no); i++)
        if (strlen(no[i]) == n && !strncasecmp(s, no[i], n)) return 0;
    return -1;
}

/* Options that let apt install what no trusted key signed (sources.list(5), apt.conf(5)). */
static const char *const apt_insecure_options[] = {"trusted", "allow-insecure", "allow-weak", "allow-downgrade-to-insecure"};

static const char *const apt_insecure_config[] = {"APT::Get::AllowUnauthenticated", "Acquire::AllowInsecureRepositories",
                                                  "Acquire::AllowWeakRepositories",
                                                  "Acquire::AllowDowngradeToInsecureRepositories"};

static bool apt_insecure_option(const char *name, size_t n)
{
    for (size_t i = 0; i < ARRAY_SIZE(apt_insecure_options); i++)
        if (strlen(apt_insecure_options[i]) == n && !strncasecmp(name, apt_insecure_options[i], n)) return true;
    return false;
}

/* One-line style: "deb [ opt=value ... ] uri suite [component...]"; returns the entries. */
static size_t apt_one_line(const struct gfile *f, struct sbuf *bad, size_t *nbad)
{
    size_t entries = 0, lineno = 0;
    const char *p = f->text, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        lineno++;
        _cleanup_free_ char *l = xstrndup(line, len);
        char *hash = strchr(l, '#');
        if (hash) *hash = 0;
        char *s = l + strspn(l, " \t");
        size_t tl = strcspn(s, " \t");
        if (!((tl == 3 && !strncmp(s, "deb", 3)) || (tl == 7 && !strncmp(s, "deb-src", 7)))) continue;
        s += tl;
        s += strspn(s, " \t");
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close) continue; /* apt rejects the line */
            *close = 0;
            for (char *save = NULL, *o = strtok_r(s + 1, " \t", &save); o; o = strtok_r(NULL, " \t", &save)) {
                size_t nl = strcspn(o, "+-=");
                const char *eq = strchr(o, '=');
                if (!eq || !apt_insecure_option(o, nl) || parse_bool(eq + 1, strlen(eq + 1)) != 1) continue;
                reason_item(bad, nbad, 6, "%s:%zu: %s", f->path, lineno, o);
            }
            s = close + 1;
            s += strspn(s, " \t");
        }
        if (*s) entries++;
    }
    return entries;
}

/* deb822 style (.sources): stanzas of "Field: value" lines, "Enabled: no" turning one off. */
static size_t apt_deb822(const struct gfile *f, struct sbuf *bad, size_t *nbad)
{
    size_t entries = 0, lineno = 0, start = 0, nfound = 0;
    bool types = false, disabled = false;
    char found[4][96];
    const char *p = f->text, *line;
    size_t len;
    for (bool more = true; more;) {
        more = next_line(&p, &line, &len);
        lineno++;
        bool blank = !more || strspn(line, " \t") == len;
        if (blank) {
            if (types && !disabled) {
                entries++;
                for (size_t i = 0; i < nfound; i++) reason_item(bad, nbad, 6, "%s:%zu: %s", f->path, start, found[i]);
            }
            types = disabled = false;
            nfound = 0;
            start = 0;
            continue;
        }
        if (*line == '#' || *line == ' ' || *line == '\t') continue;
        if (!start) start = lineno;
        const char *colon = memchr(line, ':', len);
        if (!colon) continue;
        size_t nl = (size_t)(colon - line);
        const char *val = colon + 1;
        while (val < line + len && (*val == ' ' || *val == '\t')) val++;
        size_t vl = (size_t)(line + len - val);
        while (vl && (val[vl - 1] == ' ' || val[vl - 1] == '\t' || val[vl - 1] == '\r')) vl--;
        if (nl == 5 && !strncasecmp(line, "Types", 5)) types = true;
        else if (nl == 7 && !strncasecmp(line, "Enabled", 7)) disabled = parse_bool(val, vl) == 0;
        else if (apt_insecure_option(line, nl) && parse_bool(val, vl) == 1 && nfound < ARRAY_SIZE(found))
            snprintf(found[nfound++], sizeof found[0], "%.*s: %.*s", (int)nl, line, (int)MIN(vl, 40), val);
    }
    return entries;
}

enum verdict_kind decide_apt_repos(const struct gfiles *sources, const struct gcap *dump, struct verdict *v)
{
    if (dump->status != 0) {
        _cleanup_free_ char *why = gcap_why(dump);
        return verdict_set(v, VERDICT_FAIL, "cannot read apt's configuration (apt-config dump): %s", why);
    }
    struct sbuf bad = {0};
    size_t nbad = 0, entries = 0;
    /* apt-config dump: 'Name::Sub "value";', every apt.conf file and APT_CONFIG merged */
    const char *p = dump->out, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        size_t kl = strcspn(line, " ");
        if (kl >= len || line[kl + 1] != '"') continue;
        const char *val = line + kl + 2, *q = memchr(val, '"', len - kl - 2);
        if (!q) continue;
        for (size_t i = 0; i < ARRAY_SIZE(apt_insecure_config); i++) {
            size_t ol = strlen(apt_insecure_config[i]);
            /* also Binary::<program>::<option>, which applies to that program */
            bool match = kl >= ol && !strncasecmp(line + kl - ol, apt_insecure_config[i], ol) &&
                         (kl == ol || (kl > ol + 2 && !strncmp(line + kl - ol - 2, "::", 2)));
            if (match && parse_bool(val, (size_t)(q - val)) == 1)
                reason_item(&bad, &nbad, 6, "%.*s \"%.*s\" (apt.conf)", (int)kl, line, (int)(q - val), val);
        }
    }
    for (size_t i = 0; i < sources->n; i++)
        entries += endswith(sources->v[i].path, ".sources") ? apt_deb822(&sources->v[i], &bad, &nbad)
                                                             : apt_one_line(&sources->v[i], &bad, &nbad);
    if (nbad) verdict_set(v, VERDICT_FAIL, "apt accepts unsigned packages: %s", bad.s);
    else if (!entries)
        verdict_set(v, VERDICT_NOTHING, "apt has no repository (%zu sources file(s), no enabled deb or deb-src entry)",
                    sources->n);
    else verdict_set(v, VERDICT_PASS, "%zu apt repository entr%s, all signed", entries, entries == 1 ? "y" : "ies");
    sbuf_free(&bad);
    return v->kind;
}

struct ini_section {
    char name[128];
    int gpgcheck; /* -1: not set */
    int enabled;  /* -1: not set */
    size_t line;
};

/* Sections of a dnf/yum/zypper INI file with their gpgcheck (or dnf5's pkg_gpgcheck) and enabled. */
static size_t ini_sections(const char *text, struct ini_section *out, size_t max)
{
    size_t n = 0, lineno = 0;
    const char *p = text, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        lineno++;
        while (len && (*line == ' ' || *line == '\t')) line++, len--;
        while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r')) len--;
        if (!len || *line == '#' || *line == ';') continue;
        if (*line == '[') {
            const char *close = memchr(line, ']', len);
            if (!close || n == max) continue;
            out[n] = (struct ini_section){.gpgcheck = -1, .enabled = -1, .line = lineno};
            snprintf(out[n].name, sizeof out[n].name, "%.*s", (int)(close - line - 1), line + 1);
            n++;
            continue;
        }
        const char *eq = memchr(line, '=', len);
        if (!eq || !n) continue;
        size_t kl = (size_t)(eq - line);
        while (kl && (line[kl - 1] == ' ' || line[kl - 1] == '\t')) kl--;
        const char *val = eq + 1;
        while (val < line + len && (*val == ' ' || *val == '\t')) val++;
        int b = parse_bool(val, (size_t)(line + len - val));
        if ((kl == 8 && !strncasecmp(line, "gpgcheck", 8)) || (kl == 12 && !strncasecmp(line, "pkg_gpgcheck", 12)))
            out[n - 1].gpgcheck = b < 0 ? 0 : b; /* dnf refuses other words; read them as off */
        else if (kl == 7 && !strncasecmp(line, "enabled", 7))
            out[n - 1].enabled = b;
    }
    return n;
}

/* The main configuration that applies to a repository file, and its [main] gpgcheck. */
static const char *const rpm_main_confs[] = {"/etc/dnf/dnf.conf", "/etc/yum.conf", "/etc/tdnf/tdnf.conf"};

static int main_gpgcheck(const struct gfile *f)
{
    struct ini_section s[64];
    size_t n = ini_sections(f->text, s, ARRAY_SIZE(s));
    for (size_t i = 0; i < n; i++)
        if (streq(s[i].name, "main")) return s[i].gpgcheck;
    return -1;
}

char *rpm_repo_dirs(const struct gfiles *main_conf)
{
    for (size_t i = 0; i < ARRAY_SIZE(rpm_main_confs); i++) {
        const struct gfile *f = gfiles_get(main_conf, rpm_main_confs[i]);
        if (!f) continue;
        const char *p = f->text, *line;
        size_t len;
        while (next_line(&p, &line, &len)) {
            while (len && (*line == ' ' || *line == '\t')) line++, len--;
            if (len < 8 || strncasecmp(line, "reposdir", 8)) continue;
            const char *eq = memchr(line, '=', len);
            if (!eq) continue;
            struct sbuf dirs = {0};
            _cleanup_free_ char *val = xstrndup(eq + 1, len - (size_t)(eq + 1 - line));
            for (char *save = NULL, *d = strtok_r(val, " \t,\r", &save); d; d = strtok_r(NULL, " \t,\r", &save)) {
                _cleanup_free_ char *q = shell_quote(d);
                sbuf_printf(&dirs, "%s%s/*.repo", dirs.len ? " " : "", q);
            }
            if (dirs.len) return sbuf_steal(&dirs);
        }
        break; /* the first main configuration that exists is the one in use */
    }
    return xstrdup("/etc/yum.repos.d/*.repo /etc/yum/repos.d/*.repo /etc/distro.repos.d/*.repo");
}

enum verdict_kind decide_rpm_repos(const struct gfiles *files, struct verdict *v)
{
    /* dnf, yum and tdnf leave gpgcheck off unless [main] or the repository turns it on;
     * zypper (zypp.conf) checks unless told not to */
    const struct gfile *main_f = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(rpm_main_confs) && !main_f; i++) main_f = gfiles_get(files, rpm_main_confs[i]);
    int dnf_default = main_f ? main_gpgcheck(main_f) : -1;
    const struct gfile *zypp = gfiles_get(files, "/etc/zypp/zypp.conf");
    int zypp_default = zypp ? main_gpgcheck(zypp) : -1;
    struct sbuf bad = {0};
    size_t nbad = 0, repos = 0;
    for (size_t i = 0; i < files->n; i++) {
        const struct gfile *f = &files->v[i];
        bool is_zypp = startswith(f->path, "/etc/zypp/");
        struct ini_section s[256];
        size_t n = ini_sections(f->text, s, ARRAY_SIZE(s));
        for (size_t k = 0; k < n; k++) {
            if (streq(s[k].name, "main")) continue;
            repos++;
            int def = is_zypp ? (zypp_default < 0 ? 1 : zypp_default) : (dnf_default < 0 ? 0 : dnf_default);
            if ((s[k].gpgcheck < 0 ? def : s[k].gpgcheck) == 1) continue;
            const char *state = s[k].enabled == 0 ? ", disabled" : "";
            if (s[k].gpgcheck == 0)
                reason_item(&bad, &nbad, 6, "%s:%zu: [%s] gpgcheck=0%s", f->path, s[k].line, s[k].name, state);
            else
                reason_item(&bad, &nbad, 6, "%s:%zu: [%s] has no gpgcheck and %s leaves it off%s", f->path, s[k].line,
                            s[k].name, is_zypp ? "/etc/zypp/zypp.conf" : main_f ? main_f->path : "dnf's default", state);
        }
    }
    if (nbad) verdict_set(v, VERDICT_FAIL, "a repository does not check package signatures: %s", bad.s);
    else if (!repos)
        verdict_set(v, VERDICT_NOTHING, "no package repository is defined (/etc/yum.repos.d, /etc/zypp/repos.d, "
                                        "dnf.conf)");
    else verdict_set(v, VERDICT_PASS, "%zu repositor%s, all checking package signatures", repos, repos == 1 ? "y" : "ies");
    sbuf_free(&bad);
    return v->kind;
}

/* ---- network ---- */

enum verdict_kind decide_nics(const struct gcap *c, struct verdict *v, size_t *count)
{
    *count = 0;
    if (c->status != 0) {
        _cleanup_free_ char *why = gcap_why(c);
        return verdict_set(v, VERDICT_FAIL, "cannot list the NICs: %s", why);
    }
    const char *p = c->out, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        if (!len) continue;
        _cleanup_free_ char *l = xstrndup(line, len);
        char name[64], state[32], addr[128] = "";
        int carrier = 0;
        int k = sscanf(l, "%63s %31s %d %127s", name, state, &carrier, addr);
        if (k < 3) return verdict_set(v, VERDICT_FAIL, "cannot read a NIC's state from \"%s\"", l);
        (*count)++;
        if (!carrier || !streq(state, "up")) return verdict_set(v, VERDICT_FAIL, "%s is %s (carrier %d)", name, state, carrier);
        if (k < 4 || !*addr) return verdict_set(v, VERDICT_FAIL, "%s is up but has no global address", name);
    }
    /* kiln reached the node over a network, so a guest showing no NIC is wrong, not empty */
    if (!*count) return verdict_set(v, VERDICT_FAIL, "no network interface backed by a device");
    return verdict_set(v, VERDICT_PASS, "%zu NIC(s) up with an address", *count);
}

enum verdict_kind decide_default_route(const struct gcap *route, struct verdict *v)
{
    if (route->status != 0) {
        _cleanup_free_ char *why = gcap_why(route);
        return verdict_set(v, VERDICT_FAIL, "cannot list the routes (ip route show default): %s", why);
    }
    _cleanup_free_ char *r = xstrdup(route->out);
    if (!*strstrip(r)) return verdict_set(v, VERDICT_FAIL, "no default route (ip route show default is empty)");
    return verdict_set(v, VERDICT_PASS, "default route: %s", r);
}

enum verdict_kind decide_resolve(const char *name, const struct gcap *answer, const char *resolv_conf, struct verdict *v)
{
    _cleanup_free_ char *a = xstrdup(answer->out);
    if (answer->status == 0 && *strstrip(a)) return verdict_set(v, VERDICT_PASS, "%s -> %s", name, a);
    if (answer->status == 127)
        return verdict_set(v, VERDICT_FAIL, "cannot resolve %s: the guest has neither getent nor nslookup", name);
    /* the nameserver lines tell a resolver left over from the build from one that does not answer */
    struct sbuf ns = {0};
    const char *p = resolv_conf ? resolv_conf : "", *line;
    size_t len;
    while (next_line(&p, &line, &len))
        if (len > 11 && !strncmp(line, "nameserver", 10) && (line[10] == ' ' || line[10] == '\t'))
            sbuf_printf(&ns, "%s%.*s", ns.len ? " " : "", (int)(len - 11), line + 11);
    verdict_set(v, VERDICT_FAIL, "cannot resolve %s (resolv.conf: %s)", name, ns.len ? ns.s : "no nameserver");
    sbuf_free(&ns);
    return v->kind;
}

/* The first name in an /etc/hostname text (hostname(5): comments and blank lines allowed). */
static char *static_hostname(const char *text)
{
    const char *p = text, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        _cleanup_free_ char *l = xstrndup(line, len);
        char *h = strchr(l, '#');
        if (h) *h = 0;
        if (*strstrip(l)) return xstrdup(strstrip(l));
    }
    return NULL;
}

/* A host name the kernel and systemd accept: labels of letters, digits and '-' (not at either
 * end), each 1..63 characters (RFC 1123 2.1), 64 in all (HOST_NAME_MAX on Linux); NULL or why not. */
static const char *hostname_invalid(const char *h)
{
    size_t n = strlen(h);
    if (n > 64) return "longer than 64 characters";
    for (const char *l = h; *l;) {
        size_t len = strcspn(l, ".");
        if (!len) return "an empty label";
        if (len > 63) return "a label longer than 63 characters";
        if (l[0] == '-' || l[len - 1] == '-') return "a label starting or ending with '-'";
        for (size_t i = 0; i < len; i++)
            if (!isalnum((unsigned char)l[i]) && l[i] != '-') return "a character other than letters, digits, '-' and '.'";
        l += len;
        if (*l == '.') l++;
    }
    return NULL;
}

static bool hostname_placeholder(const char *h)
{
    return !*h || streq(h, "localhost") || streq(h, "localhost.localdomain") || streq(h, "(none)");
}

enum verdict_kind decide_hostname(const struct gcap *kernel, const struct gcap *etc, struct verdict *v)
{
    if (kernel->status != 0) {
        _cleanup_free_ char *why = gcap_why(kernel);
        return verdict_set(v, VERDICT_FAIL, "cannot read the hostname (/proc/sys/kernel/hostname): %s", why);
    }
    _cleanup_free_ char *h = xstrdup(kernel->out);
    strstrip(h);
    _cleanup_free_ char *file = etc->status == 0 ? static_hostname(etc->out) : NULL;
    /* an invalid name in the file is ignored at boot: the machine runs with a fallback */
    const char *bad = file ? hostname_invalid(file) : NULL;
    if (bad)
        return verdict_set(v, VERDICT_FAIL, "/etc/hostname says \"%s\", which is not a valid host name (%s); the hostname is \"%s\"",
                           file, bad, h);
    if (hostname_placeholder(h)) {
        if (file && strcasecmp(file, h))
            return verdict_set(v, VERDICT_FAIL, "the hostname is \"%s\" but /etc/hostname says \"%s\"", h, file);
        return verdict_set(v, VERDICT_FAIL, "the hostname is \"%s\"", h);
    }
    if (etc->status == 3)
        return verdict_set(v, VERDICT_NOTHING, "there is no /etc/hostname to hold \"%s\" (set at run time: DHCP, cloud-init)", h);
    if (etc->status != 0) {
        _cleanup_free_ char *why = gcap_why(etc);
        return verdict_set(v, VERDICT_FAIL, "cannot read /etc/hostname: %s", why);
    }
    if (!file) return verdict_set(v, VERDICT_NOTHING, "/etc/hostname names no host (the hostname \"%s\" is set at run time)", h);
    /* host names compare without case (RFC 4343) */
    if (strcasecmp(file, h)) return verdict_set(v, VERDICT_FAIL, "the hostname is \"%s\" but /etc/hostname says \"%s\"", h, file);
    return verdict_set(v, VERDICT_PASS, "hostname %s, as /etc/hostname says", h);
}

enum verdict_kind decide_mtu(const struct gcap *c, long want, struct verdict *v)
{
    if (c->status != 0) {
        _cleanup_free_ char *why = gcap_why(c);
        return verdict_set(v, VERDICT_FAIL, "cannot read the NICs' MTU: %s", why);
    }
    size_t n = 0;
    const char *p = c->out, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        if (!len) continue;
        _cleanup_free_ char *l = xstrndup(line, len);
        char name[64];
        long mtu = 0;
        if (sscanf(l, "%63s %ld", name, &mtu) != 2) return verdict_set(v, VERDICT_FAIL, "cannot read an MTU from \"%s\"", l);
        n++;
        if (mtu != want) return verdict_set(v, VERDICT_FAIL, "%s has MTU %ld, the policy says %ld", name, mtu, want);
    }
    if (!n) return verdict_set(v, VERDICT_NOTHING, "no NIC backed by a device (/sys/class/net/*/device)");
    return verdict_set(v, VERDICT_PASS, "%zu NIC(s) with MTU %ld", n, want);
}

/* ---- kernel ---- */

/* The words of a kernel command line that start with one of the prefixes, space-separated
 * ("" for none). */
static char *cmdline_words(const char *cmdline, const char *const *prefixes)
{
    struct sbuf b = {0};
    _cleanup_free_ char *c = xstrdup(cmdline ? cmdline : "");
    for (char *save = NULL, *w = strtok_r(c, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
        for (const char *const *p = prefixes; *p; p++)
            if (startswith(w, *p)) {
                sbuf_printf(&b, "%s%s", b.len ? " " : "", w);
                break;
            }
    return b.s ? sbuf_steal(&b) : xstrdup("");
}

enum verdict_kind decide_cpu_count(const struct gcap *count, const char *offline, const char *cmdline, int given,
                                   struct verdict *v, long *n)
{
    *n = -1;
    _cleanup_free_ char *o = xstrdup(count->out);
    if (count->status != 0 || !parse_long(strstrip(o), n)) {
        _cleanup_free_ char *why = gcap_why(count);
        return verdict_set(v, VERDICT_FAIL, "cannot count the processors in /proc/cpuinfo: %s", why);
    }
    if (*n == given) return verdict_set(v, VERDICT_PASS, "%ld processors, as provisioned", *n);
    /* what keeps the others away: CPUs the kernel holds offline, and the options that do it */
    static const char *const opts[] = {"maxcpus=", "nr_cpus=", "nosmp", "possible_cpus=", NULL};
    _cleanup_free_ char *words = cmdline_words(cmdline, opts), *off = xstrdup(offline ? offline : "");
    strstrip(off);
    return verdict_set(v, VERDICT_FAIL, "/proc/cpuinfo lists %ld processors, %d were provisioned%s%s%s%s", *n, given,
                       *off ? "; offline: " : "", off, *words ? "; kernel command line: " : "", words);
}

enum verdict_kind decide_memory(const struct gcap *memtotal, const char *crash_bytes, const char *cmdline, double given_mb,
                                struct verdict *v, double *mib)
{
    *mib = -1;
    long kib = 0;
    _cleanup_free_ char *o = xstrdup(memtotal->out);
    if (memtotal->status != 0 || !parse_long(strstrip(o), &kib)) {
        _cleanup_free_ char *why = gcap_why(memtotal);
        return verdict_set(v, VERDICT_FAIL, "cannot read MemTotal from /proc/meminfo: %s", why);
    }
    *mib = (double)kib / 1024.0;
    if (*mib <= given_mb && *mib >= 0.75 * given_mb)
        return verdict_set(v, VERDICT_PASS, "MemTotal is %.0f MiB of %.0f MiB provisioned", *mib, given_mb);
    /* where the rest went: a crash kernel's reservation, options that cap memory */
    long crash = 0;
    _cleanup_free_ char *c = xstrdup(crash_bytes ? crash_bytes : "");
    struct sbuf why = {0};
    if (parse_long(strstrip(c), &crash) && crash > 0)
        sbuf_printf(&why, "; %ld MiB reserved for a crash kernel (/sys/kernel/kexec_crash_size)", crash >> 20);
    static const char *const opts[] = {"mem=", "crashkernel=", "memmap=", "hugepages=", NULL};
    _cleanup_free_ char *words = cmdline_words(cmdline, opts);
    if (*words) sbuf_printf(&why, "; kernel command line: %s", words);
    verdict_set(v, VERDICT_FAIL, "MemTotal is %.0f MiB, %.0f MiB were provisioned (expected 75%%..100%%)%s", *mib, given_mb,
                why.s ? why.s : "");
    sbuf_free(&why);
    return v->kind;
}

enum verdict_kind decide_vdso(const struct gcap *helper, const struct gcap *dmesg, const char *clocksource,
                              const char *cmdline, bool tcg, int cpus, struct verdict *v)
{
    if (helper->status == 0) return verdict_set(v, VERDICT_PASS, "clock_gettime stays in the vDSO (clock source %s)", clocksource);
    if (strstr(helper->out, "vdso=absent"))
        return verdict_set(v, VERDICT_FAIL, "no vDSO is mapped into processes (vdso=0 on the kernel command line?)");
    if (!strstr(helper->out, "vdso=")) {
        _cleanup_free_ char *why = gcap_why(helper);
        return verdict_set(v, VERDICT_FAIL, "the vDSO probe did not run: %s", why);
    }
    if (dmesg->status != 0) {
        _cleanup_free_ char *why = gcap_why(dmesg);
        return verdict_set(v, VERDICT_FAIL, "clock_gettime enters the kernel (clock source \"%s\") and the kernel log, "
                                            "which would say why, cannot be read: %s", clocksource, why);
    }
    /* Under TCG with several vCPUs the kernel finds the TSCs unsynchronised and falls back
     * to hpet, which has no vDSO path: that is the emulator, not the image (KVM gives
     * kvm-clock). Only a clock source the image chose itself is its fault. */
    const char *unstable = strstr(dmesg->out, "Marking TSC unstable");
    bool forced = cmdline && (startswith(cmdline, "clocksource=") || strstr(cmdline, " clocksource="));
    if (tcg && unstable && !forced)
        return verdict_set(v, VERDICT_SKIP, "clock source is %s because the emulator's TSCs are unsynchronised (%.*s); "
                                            "the vDSO cannot be judged under TCG with %d vCPUs",
                           clocksource, (int)strcspn(unstable, "\n"), unstable, cpus);
    return verdict_set(v, VERDICT_FAIL, "clock_gettime enters the kernel: the vDSO falls back to a system call with clock source \"%s\"",
                       clocksource);
}

enum verdict_kind decide_cgroup_v2(const struct gcap *filesystems, const struct gcap *mounts, bool systemd,
                                   struct verdict *v)
{
    if (filesystems->status != 0) {
        _cleanup_free_ char *why = gcap_why(filesystems);
        return verdict_set(v, VERDICT_FAIL, "cannot read /proc/filesystems: %s", why);
    }
    bool cgroup2 = false;
    const char *p = filesystems->out, *line;
    size_t len;
    while (next_line(&p, &line, &len))
        if (len >= 7 && !strncmp(line + len - 7, "cgroup2", 7) && (len == 7 || line[len - 8] == '\t' || line[len - 8] == ' '))
            cgroup2 = true;
    if (!cgroup2) return verdict_set(v, VERDICT_FAIL, "the kernel does not support cgroup2 (/proc/filesystems)");
    if (!systemd) return verdict_set(v, VERDICT_PASS, "cgroup2 supported (no systemd to mount it)");
    if (mounts->status != 0) {
        _cleanup_free_ char *why = gcap_why(mounts);
        return verdict_set(v, VERDICT_FAIL, "cannot read /proc/mounts: %s", why);
    }
    const char *type = NULL;
    size_t tl = 0;
    p = mounts->out;
    while (next_line(&p, &line, &len)) {
        /* "SOURCE TARGET TYPE OPTIONS ..." */
        _cleanup_free_ char *l = xstrndup(line, len);
        char target[256], fstype[64];
        if (sscanf(l, "%*s %255s %63s", target, fstype) == 2 && streq(target, "/sys/fs/cgroup")) {
            type = strstr(line, fstype);
            tl = strlen(fstype);
        }
    }
    if (!type || tl != 7 || strncmp(type, "cgroup2", 7))
        return verdict_set(v, VERDICT_FAIL, "/sys/fs/cgroup is \"%.*s\", expected cgroup2 (unified hierarchy)", (int)tl,
                           type ? type : "not mounted");
    return verdict_set(v, VERDICT_PASS, "/sys/fs/cgroup is cgroup2");
}

enum verdict_kind decide_module_cycle(const char *module, const struct gcap *load, const struct gcap *unload,
                                      struct verdict *v)
{
    if (load->status != 0) {
        _cleanup_free_ char *why = gcap_why(load);
        return verdict_set(v, VERDICT_FAIL, "module %s does not load: %s", module, why);
    }
    if (unload->status != 0) {
        _cleanup_free_ char *why = gcap_why(unload);
        return verdict_set(v, VERDICT_FAIL, "module %s loaded but does not unload: %s", module, why);
    }
    return verdict_set(v, VERDICT_PASS, "module %s loaded and unloaded", module);
}

enum verdict_kind decide_entropy(const struct gcap *read, struct verdict *v)
{
    if (read->status == 124)
        return verdict_set(v, VERDICT_FAIL, "reading 32 bytes from /dev/random did not finish within 10 s (RNG not initialised)");
    if (read->status != 0) {
        _cleanup_free_ char *why = gcap_why(read);
        return verdict_set(v, VERDICT_FAIL, "cannot read /dev/random: %s", why);
    }
    long n = -1;
    _cleanup_free_ char *o = xstrdup(read->out);
    if (!parse_long(strstrip(o), &n) || n != 32)
        return verdict_set(v, VERDICT_FAIL, "reading 32 bytes from /dev/random gave %s bytes", o);
    return verdict_set(v, VERDICT_PASS, "32 bytes read from /dev/random");
}

enum verdict_kind decide_boot_finished(const struct gcap *analyze, const struct gcap *jobs, int waited_s, struct verdict *v)
{
    if (analyze->status == 0 && strstr(analyze->out, "Startup finished"))
        return verdict_set(v, VERDICT_PASS, "the boot finished");
    if (jobs->status != 0) {
        _cleanup_free_ char *why = gcap_why(analyze), *jwhy = gcap_why(jobs);
        return verdict_set(v, VERDICT_FAIL, "systemd-analyze time did not report (%s), and the jobs cannot be listed: %s", why, jwhy);
    }
    /* "ID UNIT TYPE STATE": the running jobs hold the boot, the waiting ones wait for them */
    struct sbuf running = {0};
    size_t nrun = 0, nwait = 0;
    const char *p = jobs->out, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        _cleanup_free_ char *l = xstrndup(line, len);
        char unit[256], type[64], state[64];
        if (sscanf(l, "%*s %255s %63s %63s", unit, type, state) != 3) continue;
        if (streq(state, "running")) reason_item(&running, &nrun, 4, "%s (%s)", unit, type);
        else nwait++;
    }
    if (nrun)
        verdict_set(v, VERDICT_FAIL, "the boot did not finish within %d s: %zu job(s) running: %s; %zu waiting", waited_s,
                    nrun, running.s, nwait);
    else {
        _cleanup_free_ char *why = gcap_why(analyze);
        verdict_set(v, VERDICT_FAIL, "systemd-analyze time did not report and no job is running: %s", why);
    }
    sbuf_free(&running);
    return v->kind;
}

enum verdict_kind decide_time_sync(const struct gcap *probe, bool require_sync, struct verdict *v, int *synced)
{
    *synced = -1;
    if (probe->status != 0) {
        _cleanup_free_ char *why = gcap_why(probe);
        return verdict_set(v, VERDICT_FAIL, "cannot ask the time service whether the clock is synchronised: %s", why);
    }
    struct sbuf services = {0};
    const char *p = probe->out, *line, *sync = NULL, *via = "";
    size_t len, n = 0, vial = 0;
    while (next_line(&p, &line, &len)) {
        if (startswith(line, "service=")) reason_item(&services, &n, 8, "%.*s", (int)(len - 8), line + 8);
        if (startswith(line, "sync=")) {
            sync = line + 5;
            const char *w = strstr(line, " via=");
            if (w && w < line + len) via = w + 5, vial = (size_t)(line + len - via);
        }
    }
    if (!n) return verdict_set(v, VERDICT_FAIL, "no time synchronisation service (chrony, systemd-timesyncd, ntpd) is running");
    *synced = sync && startswith(sync, "yes") ? 1 : sync && startswith(sync, "no") ? 0 : -1;
    if (require_sync && *synced == 0)
        verdict_set(v, VERDICT_FAIL, "the clock is not NTP-synchronised after 30 s (%s, asked through %.*s)", services.s,
                    (int)vial, via);
    else if (require_sync && *synced < 0)
        verdict_set(v, VERDICT_SKIP, "the policy requires a synchronised clock, but nothing on the guest can tell "
                                     "(%s runs; no chronyc, timedatectl or ntpq)", services.s);
    else
        verdict_set(v, VERDICT_PASS, "time service %s; synchronised: %s", services.s,
                    *synced > 0 ? "yes" : *synced == 0 ? "no" : "cannot tell");
    sbuf_free(&services);
    return v->kind;
}

double time_drift_bound(int synced, bool tcg, double bound, double unsynced_tcg_bound)
{
    /* Without a time source the clock is what the boot set: under TCG that is the emulated
     * RTC (one-second resolution) read after tick-lagged early boot, measured at 0.5-1.1 s
     * behind the host. That bounds the emulator, not the image, so it gets the looser bound;
     * a synchronised clock, or any clock on KVM, gets the tight one. */
    return synced <= 0 && tcg ? unsynced_tcg_bound : bound;
}

/* ---- storage ---- */

/* The fields of the fstab(5) lines that are not comments, as "SPEC FILE TYPE OPTIONS" strings. */
static size_t fstab_entries(const char *text, char ***out)
{
    size_t n = 0, cap = 0;
    *out = NULL;
    const char *p = text, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        _cleanup_free_ char *l = xstrndup(line, len);
        char *s = strstrip(l);
        if (!*s || *s == '#') continue;
        *APPEND(*out, n, cap) = xstrdup(s);
    }
    return n;
}

enum verdict_kind decide_fstab(const struct gcap *fstab, struct verdict *v)
{
    if (fstab->status == 3) return verdict_set(v, VERDICT_NOTHING, "there is no /etc/fstab");
    if (fstab->status != 0) {
        _cleanup_free_ char *why = gcap_why(fstab);
        return verdict_set(v, VERDICT_FAIL, "cannot read /etc/fstab: %s", why);
    }
    char **e;
    size_t n = fstab_entries(fstab->out, &e);
    static const char *const unstable[] = {"/dev/sd", "/dev/vd", "/dev/xvd", "/dev/hd", "/dev/nvme", "/dev/mmcblk"};
    struct sbuf lines = {0};
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < ARRAY_SIZE(unstable); k++)
            if (startswith(e[i], unstable[k])) {
                reason_item(&lines, &bad, 4, "\"%s\"", e[i]);
                break;
            }
    if (bad) verdict_set(v, VERDICT_FAIL, "/etc/fstab mounts by kernel device name, which can change between boots: %s", lines.s);
    else if (!n) verdict_set(v, VERDICT_NOTHING, "/etc/fstab has no entries");
    else verdict_set(v, VERDICT_PASS, "%zu fstab entr%s, none by kernel device name", n, n == 1 ? "y" : "ies");
    sbuf_free(&lines);
    strv_free(e, n);
    return v->kind;
}

enum verdict_kind decide_fs_errors(const struct gcap *counts, const struct gcap *dmesg, struct verdict *v)
{
    if (counts->status != 0) {
        _cleanup_free_ char *why = gcap_why(counts);
        return verdict_set(v, VERDICT_FAIL, "cannot read the ext4 error counters: %s", why);
    }
    const char *p = counts->out, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        _cleanup_free_ char *l = xstrndup(line, len);
        char dev[128];
        long n = 0;
        if (!*l) continue;
        if (sscanf(l, "%127s %ld", dev, &n) != 2) return verdict_set(v, VERDICT_FAIL, "cannot read an ext4 error count from \"%s\"", l);
        if (n > 0)
            return verdict_set(v, VERDICT_FAIL, "ext4 on %s has recorded %ld error(s) (/sys/fs/ext4/%s/errors_count)", dev, n, dev);
    }
    if (dmesg->status != 0) {
        _cleanup_free_ char *why = gcap_why(dmesg);
        return verdict_set(v, VERDICT_FAIL, "cannot read the kernel log (dmesg): %s", why);
    }
    static const char *const bad[] = {"EXT4-fs error", "EXT4-fs warning", "BTRFS error", "BTRFS critical",
                                      "Remounting filesystem read-only"};
    static const char *const xfs[] = {"Corruption", "Internal error", "metadata I/O error"};
    struct sbuf found = {0};
    size_t nfound = 0;
    p = dmesg->out;
    while (next_line(&p, &line, &len)) {
        _cleanup_free_ char *l = xstrndup(line, len);
        bool hit = false;
        for (size_t i = 0; i < ARRAY_SIZE(bad) && !hit; i++) hit = strstr(l, bad[i]) != NULL;
        /* "XFS (vda1): Corruption ..." */
        const char *x = strstr(l, "XFS (");
        const char *close = x ? strstr(x, "): ") : NULL;
        for (size_t i = 0; close && i < ARRAY_SIZE(xfs) && !hit; i++) hit = startswith(close + 3, xfs[i]);
        if (hit) reason_item(&found, &nfound, 3, "%s", strstrip(l));
    }
    if (nfound) verdict_set(v, VERDICT_FAIL, "kernel log reports filesystem errors: %s", found.s);
    else verdict_set(v, VERDICT_PASS, "no ext4 error counted, no filesystem error in the kernel log");
    sbuf_free(&found);
    return v->kind;
}

enum verdict_kind decide_swap(const struct gcap *swaps, const struct gcap *fstab, const char *resolved, const char *policy,
                              struct verdict *v, double *total_mib)
{
    *total_mib = 0;
    if (swaps->status != 0) {
        _cleanup_free_ char *why = gcap_why(swaps);
        return verdict_set(v, VERDICT_FAIL, "cannot read /proc/swaps: %s", why);
    }
    if (fstab->status != 0 && fstab->status != 3) {
        _cleanup_free_ char *why = gcap_why(fstab);
        return verdict_set(v, VERDICT_FAIL, "cannot read /etc/fstab: %s", why);
    }
    /* /proc/swaps: a header, then "Filename Type Size Used Priority" */
    size_t active = 0;
    /* the active devices' names, each between spaces */
    struct sbuf names = {0};
    const char *p = swaps->out, *line;
    size_t len;
    bool header = true;
    while (next_line(&p, &line, &len)) {
        if (header) {
            header = false;
            continue;
        }
        _cleanup_free_ char *l = xstrndup(line, len);
        char name[256];
        double size = 0;
        if (!*strstrip(l)) continue;
        if (sscanf(l, "%255s %*s %lf", name, &size) != 2) {
            sbuf_free(&names);
            return verdict_set(v, VERDICT_FAIL, "cannot read /proc/swaps line \"%s\"", l);
        }
        sbuf_printf(&names, " %s ", name);
        *total_mib += size / 1024.0;
        active++;
    }
    /* swap entries of fstab that boot activates (noauto ones wait to be asked for); one that
     * /proc/swaps shows neither as written nor as the device it resolves to is named */
    size_t listed = 0, nmissing = 0;
    struct sbuf missing = {0};
    char **e = NULL;
    size_t n = fstab->status == 0 ? fstab_entries(fstab->out, &e) : 0;
    const char *active_names = names.s ? names.s : "";
    for (size_t i = 0; i < n; i++) {
        char spec[256] = "", type[64] = "", opts[512] = "";
        if (sscanf(e[i], "%255s %*s %63s %511s", spec, type, opts) < 2 || !streq(type, "swap")) continue;
        _cleanup_free_ char *padded = xasprintf(",%s,", opts);
        if (strstr(padded, ",noauto,")) continue;
        listed++;
        _cleanup_free_ char *needle = xasprintf(" %s ", spec);
        if (strstr(active_names, needle)) continue;
        /* "SPEC PATH" lines: what the spec resolved to on the guest */
        char *target = NULL;
        const char *p2 = resolved ? resolved : "", *rl;
        size_t rlen;
        while (!target && next_line(&p2, &rl, &rlen)) {
            size_t sl = strlen(spec);
            if (rlen > sl + 1 && !strncmp(rl, spec, sl) && rl[sl] == ' ') target = xasprintf(" %.*s ", (int)(rlen - sl - 1), rl + sl + 1);
        }
        bool known = resolved || spec[0] == '/';
        if (known && (!target || !strstr(active_names, target))) reason_item(&missing, &nmissing, 4, "%s", spec);
        free(target);
    }
    strv_free(e, n);
    sbuf_free(&names);
    if (listed > active || nmissing) {
        verdict_set(v, VERDICT_FAIL, "/etc/fstab lists %zu swap device(s) but %zu are active (/proc/swaps)%s%s", listed, active,
                    nmissing ? "; not active: " : "", nmissing ? missing.s : "");
        sbuf_free(&missing);
        return v->kind;
    }
    sbuf_free(&missing);
    if (streq(policy, "required") && !active) return verdict_set(v, VERDICT_FAIL, "no swap is active; the policy requires swap");
    if (streq(policy, "forbidden") && active)
        return verdict_set(v, VERDICT_FAIL, "%zu swap device(s) active (%.0f MiB); the policy forbids swap", active, *total_mib);
    if (!streq(policy, "any") && !streq(policy, "required") && !streq(policy, "forbidden"))
        return verdict_set(v, VERDICT_FAIL, "policy: storage.swap is \"%s\", expected any, required or forbidden", policy);
    return verdict_set(v, VERDICT_PASS, "%zu swap device(s) active, %zu listed in /etc/fstab", active, listed);
}

enum verdict_kind decide_disk_unused(const char *dev, const char *what, const struct gcap *use, struct verdict *v)
{
    if (use->status != 0) {
        _cleanup_free_ char *why = gcap_why(use);
        return verdict_set(v, VERDICT_FAIL, "cannot tell whether /dev/%s (%s) is in use: %s", dev, what, why);
    }
    struct sbuf users = {0};
    size_t n = 0;
    const char *p = use->out, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        /* "mounted DEV MOUNTPOINT", "swap DEV", "held DEV HOLDER" */
        _cleanup_free_ char *l = xstrndup(line, len);
        char kind[16], node[128], arg[512] = "";
        if (sscanf(l, "%15s %127s %511s", kind, node, arg) < 2) continue;
        if (streq(kind, "mounted")) reason_item(&users, &n, 4, "%s mounted at %s", node, arg);
        else if (streq(kind, "swap")) reason_item(&users, &n, 4, "%s is active swap", node);
        else if (streq(kind, "held")) reason_item(&users, &n, 4, "%s held by %s", node, arg);
    }
    if (n)
        verdict_set(v, VERDICT_FAIL, "/dev/%s (%s) was given to the VM empty but the image took it: %s", dev, what, users.s);
    else verdict_set(v, VERDICT_PASS, "/dev/%s is not in use", dev);
    sbuf_free(&users);
    return v->kind;
}

/* ---- packages ---- */

enum verdict_kind decide_package_db(enum pkg_family fam, const struct gcap *check, const struct gcap *deps,
                                    struct verdict *v)
{
    _cleanup_free_ char *out = xstrdup(check->out);
    strstrip(out);
    if (fam == FAMILY_DEB) {
        if (*out) return verdict_set(v, VERDICT_FAIL, "dpkg --audit reports half-installed or unconfigured packages: %s", out);
        if (check->status != 0) {
            _cleanup_free_ char *why = gcap_why(check);
            return verdict_set(v, VERDICT_FAIL, "dpkg --audit failed: %s", why);
        }
        return verdict_set(v, VERDICT_PASS, "dpkg --audit reports nothing");
    }
    if (check->status != 0) {
        _cleanup_free_ char *why = gcap_why(check);
        return verdict_set(v, VERDICT_FAIL, "the rpm database does not verify (rpmdb --verifydb): %s", why);
    }
    /* rpm -Va --nofiles: "Unsatisfied dependencies for P:" then one indented line each */
    _cleanup_free_ char *dout = xstrdup(deps->out);
    if (deps->status != 0 && *strstrip(dout)) {
        for (char *p = dout; *p; p++)
            if (*p == '\n' || *p == '\t') *p = ' ';
        return verdict_set(v, VERDICT_FAIL, "installed packages miss dependencies (rpm -Va --nofiles): %.400s", dout);
    }
    if (deps->status != 0) {
        _cleanup_free_ char *why = gcap_why(deps);
        return verdict_set(v, VERDICT_FAIL, "cannot check the installed packages' dependencies (rpm -Va --nofiles): %s", why);
    }
    return verdict_set(v, VERDICT_PASS, "the rpm database verifies and every dependency is installed");
}

/* What each verify flag means (rpm(8) VERIFY OPTIONS; dpkg --verify prints the same format). */
static const char *verify_flag(char c)
{
    switch (c) {
    case 'S': return "size";
    case 'M': return "mode";
    case '5': return "digest";
    case 'D': return "device";
    case 'L': return "link";
    case 'U': return "owner";
    case 'G': return "group";
    case 'P': return "capabilities";
    default: return NULL;
    }
}

enum verdict_kind decide_package_files(enum pkg_family fam, const struct gcap *verify, const char *mountpoints,
                                       struct verdict *v)
{
    const char *tool = fam == FAMILY_DEB ? "dpkg --verify" : "rpm -Va";
    /* rpm exits 1 when it lists a difference; anything else, or dpkg's non-zero, is an error */
    if (verify->status != 0 && !(fam == FAMILY_RPM && verify->status == 1 && *verify->out)) {
        _cleanup_free_ char *why = gcap_why(verify);
        return verdict_set(v, VERDICT_FAIL, "%s failed: %s", tool, why);
    }
    _cleanup_free_ char *mounts = xasprintf("\n%s\n", mountpoints ? mountpoints : "");
    struct sbuf list = {0};
    size_t bad = 0, lines = 0;
    const char *p = verify->out, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        if (!len) continue;
        _cleanup_free_ char *l = xstrndup(line, len);
        /* "FLAGS [ATTR] PATH": 9 flags (or "missing"), an attribute letter (c config, d doc,
         * g ghost, l license, r readme) or a blank, then the path */
        size_t fl = strcspn(l, " ");
        const char *rest = l + fl + strspn(l + fl, " ");
        char attr = ' ';
        if (rest[0] && rest[0] != '/' && rest[1] == ' ') attr = rest[0], rest += 1 + strspn(rest + 1, " ");
        bool missing = fl == 7 && !strncmp(l, "missing", 7);
        if (*rest != '/' || (!missing && (fl != 9 || strspn(l, ".SM5DLUGTP?") != 9))) {
            verdict_set(v, VERDICT_FAIL, "cannot read %s's line \"%s\"", tool, l);
            sbuf_free(&list);
            return v->kind;
        }
        lines++;
        /* configuration files are meant to change; ghost files are made at run time */
        if (attr == 'c' || attr == 'g') continue;
        /* a mount point shows the mounted filesystem's root, not the packaged directory */
        _cleanup_free_ char *needle = xasprintf("\n%s\n", rest);
        if (strstr(mounts, needle)) continue;
        struct sbuf what = {0};
        if (missing) sbuf_puts(&what, "missing");
        for (size_t i = 0; !missing && i < fl; i++)
            if (verify_flag(l[i])) sbuf_printf(&what, "%s%s", what.len ? ", " : "", verify_flag(l[i]));
        if (what.len) reason_item(&list, &bad, 6, "%s (%s)", rest, what.s);
        sbuf_free(&what);
    }
    if (bad) verdict_set(v, VERDICT_FAIL, "%zu packaged file(s) changed since installation: %s", bad, list.s);
    else verdict_set(v, VERDICT_PASS, "%s: %zu line(s), only configuration files, ghost files, mount points or times differ", tool, lines);
    sbuf_free(&list);
    return v->kind;
}

enum verdict_kind decide_vulnerable_packages(enum pkg_family fam, const struct gcap *installed, const struct ynode *adv,
                                             struct verdict *v, size_t *matched)
{
    *matched = 0;
    if (installed->status != 0) {
        _cleanup_free_ char *why = gcap_why(installed);
        return verdict_set(v, VERDICT_FAIL, "cannot list the installed packages: %s", why);
    }
    const char *famname = fam == FAMILY_DEB ? "deb" : "rpm";
    size_t bad = 0, packages = 0;
    struct sbuf list = {0};
    /* deb: "STATUS NAME VERSION" (dpkg's db:Status-Abbrev); rpm: "NAME [EPOCH:]VERSION-RELEASE" */
    const char *p = installed->out, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        _cleanup_free_ char *l = xstrndup(line, len);
        char st[8] = "ii", name[256], ver[256];
        int n = fam == FAMILY_DEB ? sscanf(l, "%7s %255s %255s", st, name, ver) : sscanf(l, "%255s %255s", name, ver);
        if (n != (fam == FAMILY_DEB ? 3 : 2)) continue;
        /* dpkg: not-installed and config-files-only states hold no code */
        if (st[1] == 'n' || st[1] == 'c') continue;
        packages++;
        for (size_t i = 0; adv && adv->kind == YN_SEQ && i < adv->n; i++) {
            const struct ynode *a = adv->items[i];
            const struct ynode *pk = y_get(a, "package"), *fx = y_get(a, "fixed"), *id = y_get(a, "id"), *fm = y_get(a, "family");
            if (!pk || !fx || pk->kind != YN_SCALAR || fx->kind != YN_SCALAR || !streq(pk->scalar, name)) continue;
            if (fm && fm->kind == YN_SCALAR && !streq(fm->scalar, famname)) continue;
            (*matched)++;
            int c = fam == FAMILY_DEB ? version_cmp_deb(ver, fx->scalar) : version_cmp_rpm(ver, fx->scalar);
            if (c < 0 && bad++ < 6)
                sbuf_printf(&list, "%s%s %s < %s (%s)", bad > 1 ? "; " : "", name, ver, fx->scalar,
                            id && id->kind == YN_SCALAR ? id->scalar : "advisory");
        }
    }
    if (!packages) verdict_set(v, VERDICT_FAIL, "the package list is empty: the %s database answered with no installed package", famname);
    else if (bad) verdict_set(v, VERDICT_FAIL, "%zu installed package(s) have known vulnerabilities: %s", bad, list.s);
    else verdict_set(v, VERDICT_PASS, "%zu advisor%s matched among %zu installed package(s), none vulnerable", *matched,
                     *matched == 1 ? "y" : "ies", packages);
    sbuf_free(&list);
    return v->kind;
}

/* ---- provisioning ---- */

enum verdict_kind decide_failed_units(const struct gcap *units, const struct gcap *journals, size_t njournals,
                                      struct verdict *v)
{
    if (units->status != 0) {
        _cleanup_free_ char *why = gcap_why(units);
        return verdict_set(v, VERDICT_FAIL, "cannot list the failed units (systemctl list-units --state=failed): %s", why);
    }
    struct sbuf reason = {0};
    size_t count = 0;
    const char *p = units->out, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        /* "UNIT LOAD ACTIVE SUB DESCRIPTION" */
        size_t ul = strcspn(line, " \t");
        if (!ul || ul > len) continue;
        if (++count > 3) continue;
        sbuf_printf(&reason, "%s%.*s", count > 1 ? "; " : "", (int)ul, line);
        const struct gcap *j = count <= njournals ? &journals[count - 1] : NULL;
        if (j && j->status != 0) {
            _cleanup_free_ char *why = gcap_why(j);
            sbuf_printf(&reason, " (journal unreadable: %s)", why);
        } else if (j) {
            _cleanup_free_ char *text = xstrdup(j->out);
            char *jt = strstrip(text);
            for (char *c = jt; *c; c++)
                if (*c == '\n') *c = '|';
            if (*jt) sbuf_printf(&reason, " (journal: %s)", jt);
        }
    }
    if (count) verdict_set(v, VERDICT_FAIL, "%zu failed unit(s): %s%s", count, reason.s, count > 3 ? " ..." : "");
    else verdict_set(v, VERDICT_PASS, "no failed unit");
    sbuf_free(&reason);
    return v->kind;
}

/* The length of the kernel parameter at p (p at its first character): up to whitespace
 * outside double quotes, as the kernel's next_arg splits its command line. */
static size_t kparam_len(const char *p)
{
    bool quoted = false;
    size_t i = 0;
    for (; p[i] && (quoted || !isspace((unsigned char)p[i])); i++)
        if (p[i] == '"') quoted = !quoted;
    return i;
}

/* The first parameter of cmdline that equals word (prefix: that begins with it), or NULL; its
 * length in *len. */
static const char *kparam_find(const char *cmdline, const char *word, size_t wlen, bool prefix, size_t *len)
{
    for (const char *p = cmdline;;) {
        while (isspace((unsigned char)*p)) p++;
        if (!*p) return NULL;
        size_t n = kparam_len(p);
        if (prefix ? n >= wlen && !strncmp(p, word, wlen) : n == wlen && !strncmp(p, word, n)) return *len = n, p;
        p += n;
    }
}

enum verdict_kind decide_kernel_cmdline(const char *cmdline, const char *want, const char *want_from, struct verdict *v)
{
    _cleanup_free_ char *line = xstrdup(cmdline);
    char *c = strstrip(line);
    size_t n;
    for (const char *w = want ? want : ""; *w;) {
        while (isspace((unsigned char)*w)) w++;
        size_t wn = kparam_len(w);
        if (wn && !kparam_find(c, w, wn, false, &n))
            return verdict_set(v, VERDICT_FAIL, "/proc/cmdline lacks \"%.*s\" from %s; it is: %s", (int)wn, w, want_from, c);
        w += wn;
    }
    /* ttyS: 8250/16550 UARTs (x86 and most boards), ttyAMA: ARM's PL011 (arm64 virt), hvc: hypervisor consoles */
    static const char *const serial[] = {"console=ttyS", "console=ttyAMA", "console=hvc"};
    for (size_t i = 0; i < ARRAY_SIZE(serial); i++) {
        const char *p = kparam_find(c, serial[i], strlen(serial[i]), true, &n);
        if (p) return verdict_set(v, VERDICT_PASS, "serial console %.*s", (int)n, p);
    }
    /* a console= inside a quoted parameter: a boot loader passed words as one quoted argument */
    for (const char *p = c; *p; p += n) {
        while (isspace((unsigned char)*p)) p++;
        n = kparam_len(p);
        const char *q = memchr(p, '"', n);
        const char *con = q ? strstr(p, "console=") : NULL;
        if (con && con < p + n)
            return verdict_set(v, VERDICT_FAIL, "/proc/cmdline has no serial console: the kernel reads %.*s as one "
                                                "parameter (quoted), so its console= is none; it is: %s", (int)n, p, c);
    }
    return verdict_set(v, VERDICT_FAIL, "/proc/cmdline has no serial console (console=ttyS0 or hvc0); it is: %s", c);
}

/* ---- lifecycle ---- */

enum verdict_kind decide_clean_shutdown(const char *console, bool systemd, const struct gcap *journal, bool persistent,
                                        struct verdict *v)
{
    if (console) return verdict_set(v, VERDICT_FAIL, "console during shutdown and boot: %s", console);
    if (!systemd) return verdict_set(v, VERDICT_PASS, "the console through shutdown and boot is clean (no systemd journal)");
    if (journal->status != 0) {
        _cleanup_free_ char *why = gcap_why(journal);
        if (!persistent)
            return verdict_set(v, VERDICT_NOTHING, "the journal is not kept across boots (no /var/log/journal), so the "
                                                   "last shutdown's messages are gone (%s); the console was clean", why);
        return verdict_set(v, VERDICT_FAIL, "cannot read the previous boot's journal (journalctl -b -1): %s", why);
    }
    static const char *const bad[] = {"A stop job is running", "Failed unmounting", "timed out. Killing",
                                      "blocked for more than"};
    struct sbuf found = {0};
    size_t n = 0;
    const char *p = journal->out, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        _cleanup_free_ char *l = xstrndup(line, len);
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
            if (strstr(l, bad[i])) {
                reason_item(&found, &n, 3, "%s", strstrip(l));
                break;
            }
    }
    if (n) verdict_set(v, VERDICT_FAIL, "the last shutdown was not clean: %s", found.s);
    else verdict_set(v, VERDICT_PASS, "console and the previous boot's journal show a clean shutdown");
    sbuf_free(&found);
    return v->kind;
}

enum verdict_kind decide_generalized(const struct gcap *history, const struct gcap *logs, const struct gcap *cloud,
                                     struct verdict *v)
{
    const struct gcap *caps[] = {history, logs, cloud};
    static const char *const what[] = {"shell history", "log files", "cloud-init instances"};
    for (size_t i = 0; i < ARRAY_SIZE(caps); i++)
        if (caps[i]->status != 0) {
            _cleanup_free_ char *why = gcap_why(caps[i]);
            return verdict_set(v, VERDICT_FAIL, "cannot look for %s: %s", what[i], why);
        }
    static const char *const found[] = {"shell history left in the image", "log files from before this boot (left by the build)",
                                        "cloud-init data of another instance"};
    for (size_t i = 0; i < ARRAY_SIZE(caps); i++) {
        struct sbuf list = {0};
        size_t n = 0;
        const char *p = caps[i]->out, *line;
        size_t len;
        while (next_line(&p, &line, &len))
            if (len) reason_item(&list, &n, 5, "%.*s", (int)len, line);
        if (n) {
            verdict_set(v, VERDICT_FAIL, "%s: %s", found[i], list.s);
            sbuf_free(&list);
            return v->kind;
        }
    }
    return verdict_set(v, VERDICT_PASS, "no shell history, build-time log or foreign cloud-init data");
}

/* ---- update ---- */

/* The loader entry of name-version in a listing: "NAME-VERSION.conf" or with systemd-boot's
 * boot counter "NAME-VERSION+LEFT[-DONE].conf" (Automatic Boot Assessment); *left gets LEFT,
 * -1 for no counter (blessed). NULL when none. */
static char *entry_of(const char *entries, const char *name, const char *version, long *left)
{
    _cleanup_free_ char *base = xasprintf("%s-%s", name, version);
    size_t bl = strlen(base);
    const char *p = entries ? entries : "", *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        while (len && (line[len - 1] == '\r' || line[len - 1] == ' ')) len--;
        if (len < bl + 5 || strncmp(line, base, bl) || strncmp(line + len - 5, ".conf", 5)) continue;
        const char *rest = line + bl, *end = line + len - 5;
        if (rest == end) return *left = -1, xstrndup(line, len);
        if (*rest != '+') continue;
        char *e;
        long l = strtol(rest + 1, &e, 10);
        if (e == rest + 1 || (e != end && (*e != '-' || strspn(e + 1, "0123456789") != (size_t)(end - e - 1) || e + 1 == end)))
            continue;
        *left = l;
        return xstrndup(line, len);
    }
    return NULL;
}

/* IMAGE_VERSION of os-release text, allocated; "(none)" when absent. */
static char *image_version(const char *os_release)
{
    char *v = os_release ? os_release_value(os_release, "IMAGE_VERSION") : NULL;
    return v ? v : xstrdup("(none)");
}

/* The value of KEY= on a kernel command line, allocated, or NULL. */
static char *cmdline_value(const char *cmdline, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = cmdline ? cmdline : ""; *p;) {
        p += strspn(p, " \t\n");
        size_t n = strcspn(p, " \t\n");
        if (n > kl && !strncmp(p, key, kl) && p[kl] == '=') return xstrndup(p + kl + 1, n - kl - 1);
        p += n;
    }
    return NULL;
}

static const struct update_failure *failure_of(const char *machine, const char *target, const struct update_failure *f, size_t n)
{
    const struct update_failure *last = NULL;
    for (size_t i = 0; i < n; i++)
        if (streq(f[i].machine, machine) && streq(f[i].target, target)) last = &f[i];
    return last;
}

enum verdict_kind decide_update_applied(const char *name, const char *want, const char *roothash, const struct update_facts *f,
                                        struct verdict *v)
{
    _cleanup_free_ char *running = image_version(f->os_release);
    if (!streq(running, want))
        return verdict_set(v, VERDICT_FAIL, "/etc/os-release says IMAGE_VERSION=%s after the update, not %s", running, want);
    _cleanup_free_ char *usrhash = cmdline_value(f->cmdline, "usrhash");
    if (!usrhash || !streq(usrhash, roothash))
        return verdict_set(v, VERDICT_FAIL, "/proc/cmdline has usrhash=%s, not %s's root hash %s (its update.json)",
                           usrhash ? usrhash : "(none)", want, roothash);
    long left;
    _cleanup_free_ char *e = entry_of(f->entries, name, want, &left);
    if (!e) return verdict_set(v, VERDICT_FAIL, "no loader entry %s-%s.conf on the ESP", name, want);
    if (left >= 0)
        return verdict_set(v, VERDICT_FAIL, "%s runs but its entry %s still counts tries: it was not blessed (boot-complete.target "
                                            "not reached, or systemd-bless-boot did not run)", want, e);
    return verdict_set(v, VERDICT_PASS, "runs %s with usrhash=%s from the blessed entry %s", want, roothash, e);
}

enum verdict_kind decide_update_rolled_back(const char *name, const char *from, const char *bad, const struct update_facts *f,
                                            const char *machine, const struct update_failure *fails, size_t nfails, bool paused,
                                            const char *pause_reason, struct verdict *v)
{
    _cleanup_free_ char *running = image_version(f->os_release);
    if (!streq(running, from))
        return verdict_set(v, VERDICT_FAIL, "the machine runs %s, not %s: it did not fall back from %s", running, from, bad);
    long left;
    _cleanup_free_ char *e = entry_of(f->entries, name, bad, &left);
    if (e && left != 0) return verdict_set(v, VERDICT_FAIL, "%s's entry %s still has tries left (or is blessed)", bad, e);
    const struct update_failure *x = failure_of(machine, bad, fails, nfails);
    if (!x) return verdict_set(v, VERDICT_FAIL, "the server recorded no failure of %s from machine %s", bad, machine);
    if (x->errorcode != 20)
        return verdict_set(v, VERDICT_FAIL, "the server recorded machine %s's failure of %s with error code %d, not 20 (rollback)",
                           machine, bad, x->errorcode);
    if (!paused) return verdict_set(v, VERDICT_FAIL, "the rollout of %s did not pause after the failure", bad);
    return verdict_set(v, VERDICT_PASS, "fell back to %s (%s: %s), error 20 recorded, rollout paused: %s", from, bad,
                       e ? e : "entry removed", pause_reason ? pause_reason : "");
}

enum verdict_kind decide_update_refused(const char *name, const char *from, const char *bad, int want_code,
                                        const struct update_facts *f, const char *machine, const struct update_failure *fails,
                                        size_t nfails, struct verdict *v)
{
    _cleanup_free_ char *running = image_version(f->os_release);
    if (!streq(running, from)) return verdict_set(v, VERDICT_FAIL, "the machine runs %s, not %s", running, from);
    long left;
    _cleanup_free_ char *e = entry_of(f->entries, name, bad, &left);
    if (e) return verdict_set(v, VERDICT_FAIL, "the loader entry %s points at the refused %s", e, bad);
    const struct update_failure *x = failure_of(machine, bad, fails, nfails);
    if (!x) return verdict_set(v, VERDICT_FAIL, "the server recorded no failure of %s from machine %s", bad, machine);
    if (x->errorcode != want_code)
        return verdict_set(v, VERDICT_FAIL, "machine %s reported error code %d for %s, not %d", machine, x->errorcode, bad, want_code);
    return verdict_set(v, VERDICT_PASS, "%s refused with error %d, no entry points at it, still on %s", bad, want_code, from);
}

enum verdict_kind decide_update_opted_out(const char *name, const char *from, const char *offered, const struct update_facts *f,
                                          const char *updater_log, struct verdict *v)
{
    _cleanup_free_ char *running = image_version(f->os_release);
    if (!streq(running, from)) return verdict_set(v, VERDICT_FAIL, "the machine runs %s, not %s, with auto: false", running, from);
    long left;
    _cleanup_free_ char *e = entry_of(f->entries, name, offered, &left);
    if (e) return verdict_set(v, VERDICT_FAIL, "with auto: false the updater wrote the entry %s", e);
    _cleanup_free_ char *said = xasprintf("offered %s (auto: false, not applied)", offered);
    if (!updater_log || !strstr(updater_log, said))
        return verdict_set(v, VERDICT_SKIP, "the updater's log does not say %s was offered (\"%s\"): the check did not happen", offered,
                           said);
    return verdict_set(v, VERDICT_PASS, "%s offered, not applied (auto: false), still on %s", offered, from);
}
