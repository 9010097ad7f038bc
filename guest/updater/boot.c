/* Boot entry text (boot.h). */
#include "boot.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growable string; on allocation failure it stays NULL and the result is NULL. */
struct str {
    char *s;
    size_t len, cap;
    bool oom;
};

static void put(struct str *b, const char *p, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void puts_(struct str *b, const char *p) { put(b, p, strlen(p)); }

static char *done(struct str *b)
{
    if (b->oom) {
        free(b->s);
        return NULL;
    }
    return b->s ? b->s : strdup("");
}

char *boot_cmdline_get(const char *cmdline, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = cmdline; *p;) {
        while (isspace((unsigned char)*p)) p++;
        const char *e = p;
        while (*e && !isspace((unsigned char)*e)) e++;
        if ((size_t)(e - p) > kl && !strncmp(p, key, kl) && p[kl] == '=') return strndup(p + kl + 1, (size_t)(e - p) - kl - 1);
        p = e;
    }
    return NULL;
}

char *boot_cmdline_for_slot(const char *cmdline, const char *usrhash, const char *data_partuuid, const char *hash_partuuid)
{
    static const char *const keys[] = {"usrhash", "systemd.verity_usr_data", "systemd.verity_usr_hash"};
    const char *vals[3] = {usrhash, data_partuuid, hash_partuuid};
    bool seen[3] = {false};
    struct str b = {0};
    for (const char *p = cmdline; *p;) {
        while (isspace((unsigned char)*p)) p++;
        const char *e = p;
        while (*e && !isspace((unsigned char)*e)) e++;
        size_t n = (size_t)(e - p);
        if (!n) break;
        bool replaced = false;
        for (int i = 0; i < 3; i++) {
            size_t kl = strlen(keys[i]);
            if (n > kl && !strncmp(p, keys[i], kl) && p[kl] == '=') {
                if (b.len) puts_(&b, " ");
                puts_(&b, keys[i]);
                puts_(&b, i ? "=PARTUUID=" : "=");
                puts_(&b, vals[i]);
                seen[i] = replaced = true;
            }
        }
        bool drop = (n > 7 && !strncmp(p, "initrd=", 7)) || (n > 11 && !strncmp(p, "BOOT_IMAGE=", 11));
        if (!replaced && !drop) {
            if (b.len) puts_(&b, " ");
            put(&b, p, n);
        }
        p = e;
    }
    if (!seen[0] || !seen[1] || !seen[2]) {
        free(b.s);
        return NULL;
    }
    return done(&b);
}

char *boot_entry_name(const char *name, const char *version, int tries)
{
    char *s = NULL;
    return asprintf(&s, "%s-%s+%d.conf", name, version, tries) < 0 ? NULL : s;
}

char *boot_entry_text(const char *name, const char *version, const char *options)
{
    char *s = NULL;
    if (asprintf(&s, "title %s %s\nversion %s\nlinux /%s/%s/linux\ninitrd /%s/%s/initrd\noptions %s\n", name, version,
                 version, name, version, name, version, options) < 0)
        return NULL;
    return s;
}

/* Where "+LEFT[-DONE]" starts before ".conf", or NULL. */
static const char *counter(const char *filename)
{
    size_t n = strlen(filename);
    if (n < 5 || strcmp(filename + n - 5, ".conf")) return NULL;
    const char *end = filename + n - 5, *plus = NULL;
    for (const char *p = filename; p < end; p++)
        if (*p == '+') plus = p;
    if (!plus || plus + 1 == end) return NULL;
    const char *p = plus + 1;
    while (p < end && isdigit((unsigned char)*p)) p++;
    if (p == plus + 1) return NULL;
    if (p < end && *p == '-') {
        const char *q = ++p;
        while (p < end && isdigit((unsigned char)*p)) p++;
        if (p == q) return NULL;
    }
    return p == end ? plus : NULL;
}

bool boot_entry_blessed(const char *filename)
{
    return counter(filename) == NULL;
}

char *boot_entry_id(const char *filename)
{
    const char *c = counter(filename);
    if (!c) return strdup(filename);
    char *s = NULL;
    return asprintf(&s, "%.*s.conf", (int)(c - filename), filename) < 0 ? NULL : s;
}

char *boot_entry_get(const char *text, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n'), *end = nl ? nl : p + strlen(p);
        while (p < end && isspace((unsigned char)*p)) p++;
        if ((size_t)(end - p) > kl && !strncmp(p, key, kl) && isspace((unsigned char)p[kl])) {
            const char *v = p + kl;
            while (v < end && isspace((unsigned char)*v)) v++;
            const char *ve = end;
            while (ve > v && isspace((unsigned char)ve[-1])) ve--;
            return strndup(v, (size_t)(ve - v));
        }
        p = nl ? nl + 1 : end;
    }
    return NULL;
}

bool boot_entry_uses(const char *text, const char *partuuid)
{
    char *opts = boot_entry_get(text, "options");
    char *data = opts ? boot_cmdline_get(opts, "systemd.verity_usr_data") : NULL;
    bool r = data && !strncmp(data, "PARTUUID=", 9) && !strcasecmp(data + 9, partuuid);
    free(opts);
    free(data);
    return r;
}

/* "NAME/DIR" when path is /NAME/DIR/FILE with plain components, else NULL. */
static char *kernel_dir_of(const char *path, const char *name)
{
    size_t nl = strlen(name);
    if (!path || path[0] != '/' || strncmp(path + 1, name, nl) || path[1 + nl] != '/') return NULL;
    const char *dir = path + 2 + nl, *slash = strchr(dir, '/');
    if (!slash || slash == dir || strchr(slash + 1, '/') || !slash[1]) return NULL;
    if ((slash - dir == 1 && dir[0] == '.') || (slash - dir == 2 && !strncmp(dir, "..", 2))) return NULL;
    if (!strcmp(slash + 1, ".") || !strcmp(slash + 1, "..")) return NULL;
    return strndup(path + 1, (size_t)(slash - path - 1));
}

char *boot_entry_kernel_dir(const char *text, const char *name)
{
    char *linux_ = boot_entry_get(text, "linux"), *initrd = boot_entry_get(text, "initrd");
    char *a = kernel_dir_of(linux_, name), *b = kernel_dir_of(initrd, name);
    char *r = a && b && !strcmp(a, b) ? a : NULL;
    if (r != a) free(a);
    free(b), free(linux_), free(initrd);
    return r;
}

char *boot_loader_conf(const char *text, const char *name)
{
    struct str b = {0};
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n'), *end = nl ? nl : p + strlen(p);
        const char *q = p;
        while (q < end && isspace((unsigned char)*q)) q++;
        if (!((size_t)(end - q) >= 7 && !strncmp(q, "default", 7) && (q + 7 == end || isspace((unsigned char)q[7])))) {
            put(&b, p, (size_t)(end - p));
            puts_(&b, "\n");
        }
        p = nl ? nl + 1 : end;
    }
    char *line = NULL;
    if (asprintf(&line, "default %s-*\n", name) < 0) {
        free(b.s);
        return NULL;
    }
    puts_(&b, line);
    free(line);
    return done(&b);
}
