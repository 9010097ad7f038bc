/* Area security: what an attacker would look for first, and the credentials an image must
 * not ship. Values come from the policy (data/policy.yml, or the runbook's policy: file).
 * Each case captures guest output, then a pure decide_*() function (decide.h) judges it. */
#include <ctype.h>
#include <errno.h>
#include <strings.h>

#include "node/node.h"
#include "platform/platform.h"
#include "suites/decide.h"
#include "util/util.h"
#include "util/yaml.h"

/* ---- accounts ---- */

#define ACCOUNT_FILES "/etc/passwd /etc/shadow /var/lib/extrausers/passwd /var/lib/extrausers/shadow"

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

enum verdict_kind decide_login_users(const struct gfiles *files, const struct ynode *allow, struct verdict *v)
{
    if (!have_passwd(files)) return verdict_set(v, VERDICT_NOTHING, "there is no /etc/passwd");
    struct accounts a;
    accounts_parse(files, &a);
    struct sbuf bad = {0};
    size_t n = 0;
    for (size_t i = 0; i < a.n; i++) {
        const struct account *acc = &a.v[i];
        if (!login_shell(acc) || policy_in_list(allow, acc->name)) continue;
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

/* ---- the SSH server's effective settings ---- */

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

/* ---- credentials an image must not ship ---- */

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

/* Lists the entries of a whose hash b has too; returns how many. */
static size_t shared_hashes(const struct hashed *a, size_t na, const struct hashed *b, size_t nb, struct sbuf *list)
{
    size_t shared = 0;
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            if (streq(a[i].hash, b[j].hash)) {
                if (streq(a[i].path, b[j].path)) reason_item(list, &shared, 6, "%s", a[i].path);
                else reason_item(list, &shared, 6, "%s (%s on the other)", a[i].path, b[j].path);
                break;
            }
    return shared;
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
    struct hashed *ha, *hb;
    size_t na = parse_hashes(a->out, &ha), nb = parse_hashes(b->out, &hb);
    struct sbuf list = {0};
    size_t shared = shared_hashes(ha, na, hb, nb, &list);
    if (shared)
        verdict_set(v, VERDICT_FAIL, "%s and %s, booted from the same image, have the same host key file(s) %s: "
                                     "host keys are baked into the image", name_a, name_b, list.s);
    else if (fp_a && fp_b && streq(fp_a, fp_b))
        verdict_set(v, VERDICT_FAIL, "%s and %s, booted from the same image, present the same host key %s: "
                                     "host keys are baked into the image", name_a, name_b, fp_a);
    else if (!fp_a || !fp_b)
        verdict_set(v, VERDICT_FAIL, "cannot read the host keys the nodes presented");
    else if (!na || !nb)
        verdict_set(v, VERDICT_PASS, "no host key files found on %s; the presented keys differ (%s, %s)",
                    !na ? name_a : name_b, fp_a, fp_b);
    else
        verdict_set(v, VERDICT_PASS, "%zu and %zu host key file(s), none shared; presented keys %s, %s", na, nb, fp_a, fp_b);
    sbuf_free(&list);
    hashes_free(ha, na);
    hashes_free(hb, nb);
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
    struct hashed *ha, *hb;
    size_t na = parse_hashes(a->out, &ha), nb = parse_hashes(b->out, &hb);
    struct sbuf list = {0};
    size_t shared = shared_hashes(ha, na, hb, nb, &list);
    if (shared)
        verdict_set(v, VERDICT_FAIL, "%zu private key(s) are the same on %s and %s, booted from the same image, "
                                     "so they were baked into it: %s", shared, name_a, name_b, list.s);
    else verdict_set(v, VERDICT_PASS, "%zu and %zu private key file(s), none the same on both nodes", na, nb);
    sbuf_free(&list);
    hashes_free(ha, na);
    hashes_free(hb, nb);
    return v->kind;
}

/* ---- file system and kernel ---- */

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

/* ---- package repositories ---- */

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

/* ---- the cases ---- */

/* sshd -T -C stands for a client from outside: RFC 5737's documentation address. */
#define SSHD_TEST_SPEC "host=kiln-client.invalid,addr=203.0.113.1"
#define HAS_SSHD "command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ]"

static int read_accounts(struct kiln_case_ctx *t, struct gfiles *acc)
{
    return guest_read_files(t, NULL, ACCOUNT_FILES, acc);
}

KILN_CASE(verify_sshd_config,
          .area = "security", .priority = 1, .timeout_s = 120,
          .description = "The SSH server's effective settings match the policy for root and each login account "
                         "(sshd -T -C, so Match blocks apply; dropbear's command line)",
          .tags = KILN_TAGS("fast"))
{
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    const struct ynode *want = policy_get(policy, "security", "sshd");
    bool openssh = case_sh(t, HAS_SSHD, NULL) == 0;
    struct verdict v = {0};
    if (openssh) {
        struct gfiles acc;
        if (read_accounts(t, &acc)) return CASE_FAIL;
        char **users = sshd_test_users(&acc, 6);
        gfiles_free(&acc);
        size_t n = 0;
        while (users[n]) n++;
        struct gcap *out = xcalloc(n, sizeof *out);
        int rc = CASE_PASS;
        for (size_t i = 0; i < n && rc == CASE_PASS; i++) {
            _cleanup_free_ char *spec = xasprintf("user=%s," SSHD_TEST_SPEC, users[i]);
            _cleanup_free_ char *q = shell_quote(spec);
            _cleanup_free_ char *cmd = xasprintf("PATH=$PATH:/usr/sbin sshd -T -C %s", q);
            if (guest_capture(t, NULL, cmd, &out[i]) < 0) rc = CASE_FAIL;
        }
        if (rc == CASE_PASS) decide_sshd(users, out, n, want, &v);
        for (size_t i = 0; i < n; i++) {
            gcap_free(&out[i]);
            free(users[i]);
        }
        free(out);
        free(users);
        if (rc != CASE_PASS) return rc;
        if (v.kind != VERDICT_PASS) return case_verdict(t, &v);
    }
    /* dropbear: every process named so (the listener and its sessions), each argv word a line */
    struct gcap procs;
    if (guest_capture(t, NULL, "for p in /proc/[0-9]*; do [ \"$(cat $p/comm 2>/dev/null)\" = dropbear ] || continue; "
                               "printf '\\036%s\\n' \"${p#/proc/}\"; tr '\\0' '\\n' < $p/cmdline; echo; done; exit 0",
                      &procs) < 0)
        return CASE_FAIL;
    struct gfiles db;
    gfiles_parse(procs.out, &db);
    gcap_free(&procs);
    if (db.n) {
        verdict_free(&v);
        decide_dropbear(&db, want, &v);
    }
    gfiles_free(&db);
    if (!openssh && v.kind == VERDICT_PASS && !v.reason) {
        verdict_free(&v);
        return case_skip(t, "no OpenSSH sshd or dropbear found on %s", t->node->name);
    }
    return case_verdict(t, &v);
}

KILN_CASE(verify_no_empty_passwords,
          .area = "security", .priority = 1, .timeout_s = 60,
          .description = "No account has an empty password (/etc/passwd, /etc/shadow, libnss-extrausers' files)",
          .tags = KILN_TAGS("fast"))
{
    struct gfiles acc;
    if (read_accounts(t, &acc)) return CASE_FAIL;
    struct verdict v = {0};
    decide_empty_passwords(&acc, &v);
    gfiles_free(&acc);
    return case_verdict(t, &v);
}

KILN_CASE(verify_no_password_hashes,
          .area = "security", .priority = 1, .timeout_s = 60,
          .description = "No account holds a usable password hash unless the policy lists it (security.password_allow): "
                         "an image ships no passwords",
          .tags = KILN_TAGS("fast"))
{
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    struct gfiles acc;
    if (read_accounts(t, &acc)) return CASE_FAIL;
    struct verdict v = {0};
    decide_password_hashes(&acc, policy_get(policy, "security", "password_allow"), &v);
    gfiles_free(&acc);
    return case_verdict(t, &v);
}

KILN_CASE(verify_no_authorized_keys,
          .area = "security", .priority = 1, .timeout_s = 120,
          .description = "No account has an authorized SSH key other than the one kiln provisioned for this run: "
                         "an image ships no keys",
          .tags = KILN_TAGS("fast"))
{
    struct gfiles acc;
    if (read_accounts(t, &acc)) return CASE_FAIL;
    struct gcap sshd = {0};
    if (case_sh(t, HAS_SSHD, NULL) == 0) {
        if (guest_capture(t, NULL, "PATH=$PATH:/usr/sbin sshd -T -C user=root," SSHD_TEST_SPEC, &sshd) < 0) {
            gfiles_free(&acc);
            return CASE_FAIL;
        }
        if (sshd.status != 0) {
            _cleanup_free_ char *why = gcap_why(&sshd);
            gcap_free(&sshd);
            gfiles_free(&acc);
            return case_fail(t, "cannot read sshd's AuthorizedKeysFile (sshd -T): %s", why);
        }
    }
    _cleanup_free_ char *paths = authorized_keys_paths(&acc, sshd.out);
    gcap_free(&sshd);
    gfiles_free(&acc);
    struct gfiles keys = {0};
    if (*paths && guest_read_files(t, NULL, paths, &keys)) return CASE_FAIL;
    for (size_t i = 0; i < keys.n; i++) case_log(t, "read %s", keys.v[i].path);
    struct verdict v = {0};
    decide_authorized_keys(&keys, t->plat->pubkey, &v);
    gfiles_free(&keys);
    return case_verdict(t, &v);
}

/* The SHA-256 of every host key file sshd is configured with and of the usual OpenSSH and
 * dropbear locations: only hashes leave the guest. */
#define HOST_KEY_LIST                                                                                           \
    "keys=; if " HAS_SSHD "; then c=$(PATH=$PATH:/usr/sbin sshd -T) || exit 1; "                               \
    "keys=$(echo \"$c\" | awk '$1 == \"hostkey\" {print $2}'); fi; "                                          \
    "for f in $keys /etc/ssh/ssh_host_*_key /etc/dropbear/dropbear_*_host_key; do [ -f \"$f\" ] || continue; " \
    "sha256sum \"$f\" || exit 1; done; exit 0"

KILN_CASE(verify_ssh_host_keys_unique,
          .area = "security", .priority = 1, .timeout_s = 120,
          .description = "Two VMs from the same image have different SSH host keys, every type of them (none baked into the image)",
          .tags = KILN_TAGS("fast"),
          .requires = {.nodes = 2})
{
    if (t->env->nnodes < 2) return case_skip(t, "needs two nodes");
    struct kiln_node *na = t->env->nodes[0], *nb = t->env->nodes[1];
    _cleanup_free_ char *fa = node_host_key_fingerprint(na);
    _cleanup_free_ char *fb = node_host_key_fingerprint(nb);
    case_log(t, "%s presents %s; %s presents %s", na->name, fa ? fa : "?", nb->name, fb ? fb : "?");
    struct gcap a, b;
    if (guest_capture(t, na, HOST_KEY_LIST, &a) < 0) return CASE_FAIL;
    if (guest_capture(t, nb, HOST_KEY_LIST, &b) < 0) {
        gcap_free(&a);
        return CASE_FAIL;
    }
    struct verdict v = {0};
    decide_host_keys(na->name, &a, fa, nb->name, &b, fb, &v);
    gcap_free(&a);
    gcap_free(&b);
    return case_verdict(t, &v);
}

/* Files holding private keys: PEM blocks of every kind (OpenSSH, PKCS#1/#8, EC, encrypted;
 * the BEGIN line a whole line, which a binary quoting it is not), PuTTY keys and WireGuard's
 * PrivateKey= lines among text files under 1 MiB (-I where grep has it), plus GnuPG
 * secret key stores and dropbear's binary host keys by name; /usr (the distribution's
 * packages) aside but /usr/local searched. A grep error counts unless it was about files
 * gone since find listed them (grep runs again on those still there); it comes back as a
 * marked line because busybox's find ignores what -exec ... + returns, and runs such a batch
 * only at the top level of its expression (hence two walks). Prints "SHA256  PATH". */
#define PRIVATE_KEY_SEARCH \
    "pat='^-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----[[:space:]]*$|^PuTTY-User-Key-File-[0-9]+:|^[[:space:]]*PrivateKey[[:space:]]*='\n" \
    "I=; grep -qI x /dev/null 2>/dev/null; [ $? -eq 1 ] && I=I\n" \
    "g='grep -l'$I'E -e \"$0\" -- \"$@\" 2>/dev/null; [ $? -le 1 ] && exit 0; p=$0; for f; do shift; [ -e \"$f\" ] && set -- \"$@\" \"$f\"; done; e=$(grep -l'$I'E -e \"$p\" -- \"$@\" 2>&1 >/dev/null); [ $? -le 1 ] || echo \"kiln-grep-failed: $e\"'\n" \
    "x='-path /usr -o -path /proc -o -path /sys -o -path /dev -o -path /run'\n" \
    "s() { find \"$1\" -xdev \\( $x \\) -prune -o -type f -size -1024k -exec sh -c \"$g\" \"$pat\" {} + &&\n" \
    "      find \"$1\" -xdev \\( $x \\) -prune -o -type f \\( -name secring.gpg -o -path '*/private-keys-v1.d/*' -o -name 'dropbear_*_host_key' \\) -print; }\n" \
    "l=$(s /) || exit 1\n" \
    "u=; if [ -d /usr/local ]; then u=$(s /usr/local) || exit 1; fi\n" \
    "case \"$l$u\" in *kiln-grep-failed:*) printf '%s\\n%s\\n' \"$l\" \"$u\" | grep 'kiln-grep-failed:' >&2; exit 1;; esac\n" \
    "printf '%s\\n%s\\n' \"$l\" \"$u\" | while IFS= read -r f; do [ -n \"$f\" ] || continue; sha256sum \"$f\" || exit 1; done\n"

KILN_CASE(verify_no_baked_private_keys,
          .area = "security", .priority = 1, .timeout_s = 600,
          .description = "No private key (SSH, TLS, PuTTY, WireGuard, GnuPG, dropbear) is the same on two VMs from the "
                         "same image: keys are made on each machine, never shipped",
          .tags = KILN_TAGS("fast"),
          .requires = {.nodes = 2})
{
    if (t->env->nnodes < 2) return case_skip(t, "needs two nodes");
    struct kiln_node *na = t->env->nodes[0], *nb = t->env->nodes[1];
    struct gcap a, b;
    if (guest_capture(t, na, PRIVATE_KEY_SEARCH, &a) < 0) return CASE_FAIL;
    if (guest_capture(t, nb, PRIVATE_KEY_SEARCH, &b) < 0) {
        gcap_free(&a);
        return CASE_FAIL;
    }
    struct verdict v = {0};
    decide_private_keys(na->name, &a, nb->name, &b, &v);
    gcap_free(&a);
    gcap_free(&b);
    return case_verdict(t, &v);
}

KILN_CASE(verify_machine_id_unique,
          .area = "security", .priority = 1, .timeout_s = 120,
          .description = "Each VM gets its own /etc/machine-id on first boot",
          .tags = KILN_TAGS("fast"),
          .requires = {.nodes = 2})
{
    if (t->env->nnodes < 2) return case_skip(t, "needs two nodes");
    if (!guest_has_systemd(t)) {
        /* other inits may still keep one (D-Bus, journald-less logging, the rpm test guest) */
        if (case_sh(t, "test -s /etc/machine-id", NULL) != 0)
            return case_skip(t, "no systemd on %s and no /etc/machine-id: nothing uses one", t->node->name);
        case_log(t, "no systemd on %s, but it keeps an /etc/machine-id: checking it", t->node->name);
    }
    char *ids[2] = {0};
    for (int i = 0; i < 2; i++) {
        case_sh_on(t, t->env->nodes[i], "cat /etc/machine-id", &ids[i], NULL);
        if (ids[i]) strstrip(ids[i]);
    }
    int rc = CASE_PASS;
    for (int i = 0; i < 2 && rc == CASE_PASS; i++) {
        size_t len = ids[i] ? strlen(ids[i]) : 0;
        if (len != 32 || strspn(ids[i], "0123456789abcdef") != 32)
            rc = case_fail(t, "%s: /etc/machine-id is \"%s\", expected 32 hex digits", t->env->nodes[i]->name,
                           ids[i] ? ids[i] : "");
    }
    if (rc == CASE_PASS && streq(ids[0], ids[1]))
        rc = case_fail(t, "%s and %s share machine-id %s: the image ships a machine-id", t->env->nodes[0]->name,
                       t->env->nodes[1]->name, ids[0]);
    free(ids[0]);
    free(ids[1]);
    return rc;
}

/* find over the root filesystem; its status and stderr are kept (decide_path_list). */
static int path_list_case(struct kiln_case_ctx *t, const char *find, const char *allow_key, bool by_prefix,
                          const char *what, bool log_list)
{
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    struct gcap c;
    if (guest_capture(t, NULL, find, &c) < 0) return CASE_FAIL;
    if (log_list) case_log(t, "found:\n%s", c.out);
    struct verdict v = {0};
    decide_path_list(&c, policy_get(policy, "security", allow_key), by_prefix, what, &v);
    gcap_free(&c);
    return case_verdict(t, &v);
}

KILN_CASE(verify_no_world_writable,
          .area = "security", .priority = 1, .timeout_s = 300,
          .description = "No world-writable file, and no world-writable directory without the sticky bit, on the root filesystem",
          .tags = KILN_TAGS("fast"))
{
    return path_list_case(t, "find / -xdev \\( \\( -type f -perm -0002 \\) -o \\( -type d -perm -0002 ! -perm -1000 \\) \\) -print",
                          "world_writable_allow", true, "world-writable path(s)", false);
}

KILN_CASE(verify_suid_inventory,
          .area = "security", .priority = 2, .timeout_s = 300,
          .description = "Every set-user-ID and set-group-ID file is on the policy's allowlist",
          .tags = KILN_TAGS("fast"))
{
    return path_list_case(t, "find / -xdev -type f \\( -perm -4000 -o -perm -2000 \\) -print", "suid_allow", false,
                          "SUID/SGID file(s) not on the allowlist", true);
}

KILN_CASE(verify_kernel_hardening,
          .area = "security", .priority = 1, .timeout_s = 120,
          .description = "Kernel hardening sysctls (kptr_restrict, dmesg_restrict, randomize_va_space, ...) match the policy",
          .tags = KILN_TAGS("fast"))
{
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    const struct ynode *want = policy_get(policy, "security", "sysctl");
    struct sbuf keys = {0};
    sbuf_puts(&keys, "");
    for (size_t i = 0; want && want->kind == YN_MAP && i < want->n; i += 2) {
        _cleanup_free_ char *q = shell_quote(want->items[i]->scalar);
        sbuf_printf(&keys, " %s", q);
    }
    /* a sysctl the kernel lacks prints an empty value; one it has but will not show fails */
    _cleanup_free_ char *cmd = xasprintf("for k in%s; do f=/proc/sys/$(echo \"$k\" | tr . /); "
                                         "if [ -e \"$f\" ]; then v=$(cat \"$f\") || exit 1; else v=; fi; "
                                         "printf '%%s\\t%%s\\n' \"$k\" \"$v\"; done", keys.s);
    sbuf_free(&keys);
    struct gcap c;
    if (guest_capture(t, NULL, cmd, &c) < 0) return CASE_FAIL;
    case_log(t, "%s", c.out);
    struct verdict v = {0};
    decide_sysctls(&c, want, &v);
    gcap_free(&c);
    return case_verdict(t, &v);
}

KILN_CASE(verify_repos_signed,
          .area = "security", .priority = 1, .timeout_s = 120,
          .description = "Package repositories require signatures: apt (sources, deb822 .sources, apt.conf options) and "
                         "dnf/yum/zypper (gpgcheck, with the main configuration's default)",
          .tags = KILN_TAGS("fast"))
{
    char id[64];
    enum guest_family fam = guest_family(t, id, sizeof id);
    if (fam == FAMILY_OTHER) return case_skip(t, "%s is neither deb- nor rpm-based: no apt or dnf repositories", id);
    struct verdict v = {0};
    if (fam == FAMILY_DEB) {
        struct gcap dump, src;
        if (guest_capture(t, NULL, "apt-config dump", &dump) < 0) return CASE_FAIL;
        if (dump.status == 127) {
            gcap_free(&dump);
            verdict_set(&v, VERDICT_NOTHING, "%s has no apt (apt-config is not installed)", id);
            return case_verdict(t, &v);
        }
        /* where apt reads its sources, as apt itself resolves Dir::Etc */
        _cleanup_free_ char *files = gfiles_command("\"$SL\" \"$SP\"*.list \"$SP\"*.sources");
        _cleanup_free_ char *cmd = xasprintf(
            "eval \"$(apt-config shell SL Dir::Etc::sourcelist/f SP Dir::Etc::sourceparts/d)\" || exit 1; %s", files);
        if (guest_capture(t, NULL, cmd, &src) < 0) {
            gcap_free(&dump);
            return CASE_FAIL;
        }
        if (src.status != 0) {
            _cleanup_free_ char *why = gcap_why(&src);
            gcap_free(&dump);
            gcap_free(&src);
            return case_fail(t, "cannot read apt's sources: %s", why);
        }
        struct gfiles sources;
        gfiles_parse(src.out, &sources);
        for (size_t i = 0; i < sources.n; i++) case_log(t, "apt sources: %s", sources.v[i].path);
        decide_apt_repos(&sources, &dump, &v);
        gfiles_free(&sources);
        gcap_free(&dump);
        gcap_free(&src);
        return case_verdict(t, &v);
    }
    struct gfiles main_conf, repos;
    if (guest_read_files(t, NULL, "/etc/dnf/dnf.conf /etc/yum.conf /etc/tdnf/tdnf.conf /etc/zypp/zypp.conf", &main_conf))
        return CASE_FAIL;
    _cleanup_free_ char *dirs = rpm_repo_dirs(&main_conf);
    _cleanup_free_ char *globs = xasprintf("%s /etc/zypp/repos.d/*.repo", dirs);
    if (guest_read_files(t, NULL, globs, &repos)) {
        gfiles_free(&main_conf);
        return CASE_FAIL;
    }
    for (size_t i = 0; i < repos.n; i++) {
        case_log(t, "repository file: %s", repos.v[i].path);
        struct gfile *f = APPEND(main_conf.v, main_conf.n, main_conf.cap);
        *f = repos.v[i];
    }
    free(repos.v);
    decide_rpm_repos(&main_conf, &v);
    gfiles_free(&main_conf);
    return case_verdict(t, &v);
}

KILN_CASE(verify_login_users,
          .area = "security", .priority = 1, .timeout_s = 60,
          .description = "Only the policy's accounts have a login shell (an empty shell field is /bin/sh)",
          .tags = KILN_TAGS("fast"))
{
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    struct gfiles acc;
    if (read_accounts(t, &acc)) return CASE_FAIL;
    struct verdict v = {0};
    decide_login_users(&acc, policy_get(policy, "security", "login_users"), &v);
    gfiles_free(&acc);
    return case_verdict(t, &v);
}

KILN_CASE(verify_mac_policy,
          .area = "security", .priority = 2, .timeout_s = 60,
          .description = "The mandatory access control the policy names for this family (AppArmor, SELinux) is active",
          .tags = KILN_TAGS("fast"))
{
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    char id[64];
    enum guest_family fam = guest_family(t, id, sizeof id);
    const char *key = fam == FAMILY_DEB ? "deb" : fam == FAMILY_RPM ? "rpm" : NULL;
    if (!key) return case_skip(t, "%s is neither deb- nor rpm-based: no MAC policy applies", id);
    const struct ynode *want = policy_get(policy, "security", "mac");
    want = y_get(want, key);
    if (!want || want->kind != YN_SCALAR || streq(want->scalar, "none"))
        return case_skip(t, "the policy asks no MAC for %s systems", key);
    _cleanup_free_ char *lsm = NULL;
    case_sh(t, "cat /sys/kernel/security/lsm 2>/dev/null", &lsm);
    case_log(t, "active LSMs: %s", lsm ? lsm : "?");
    const char *mac = want->scalar;
    if (!lsm || !*strstrip(lsm))
        return case_fail(t, "cannot tell whether %s is active: /sys/kernel/security/lsm is missing or empty "
                            "(is securityfs mounted on /sys/kernel/security?)", mac);
    if (!strstr(lsm, mac)) return case_fail(t, "%s is not an active LSM (/sys/kernel/security/lsm: %s)", mac, lsm);
    if (streq(mac, "selinux")) {
        _cleanup_free_ char *enf = NULL;
        case_sh(t, "cat /sys/fs/selinux/enforce 2>/dev/null", &enf);
        if (!enf || !streq(strstrip(enf), "1")) return case_fail(t, "SELinux is not enforcing (/sys/fs/selinux/enforce: %s)", enf ? enf : "missing");
    }
    return CASE_PASS;
}
