#include "gallery/catalog.h"

#include <errno.h>
#include <inttypes.h>

#include "util/util.h"

bool catalog_safe_name(const char *s)
{
    /* ".." anywhere, not only as the whole name: the same rule as the update protocol's names */
    if (!s || !*s || strlen(s) > 128 || strstr(s, "..")) return false;
    for (const char *p = s; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+~-", *p)) return false;
    return s[0] != '.' && s[0] != '-';
}

static bool hex_of(const char *s, size_t n, bool upper)
{
    if (!s || strlen(s) != n) return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (upper ? (*s >= 'A' && *s <= 'F') : (*s >= 'a' && *s <= 'f')))) return false;
    return true;
}

/* "2027-01-31T00:00:00Z", as format_utc writes it */
static bool utc_time(const char *s)
{
    static const char pat[] = "dddd-dd-ddTdd:dd:ddZ";
    if (!s || strlen(s) != sizeof pat - 1) return false;
    for (size_t i = 0; pat[i]; i++)
        if (pat[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != pat[i]) return false;
    return true;
}

/* Only the keys named, each present, and the optional one (NULL: none) if there: a file kiln
 * signed has exactly these ("arch" came later: files kiln signed before lack it). */
static int keys_exactly(json_t *o, const char *where, const char *const *keys, const char *optional, char **reterr)
{
    if (!json_is_object(o)) return err_setf(reterr, -EINVAL, "%s is not an object", where);
    size_t n = 0;
    for (; keys[n]; n++)
        if (!json_object_get(o, keys[n])) return err_setf(reterr, -EINVAL, "%s has no \"%s\"", where, keys[n]);
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        bool known = optional && streq(k, optional);
        for (size_t i = 0; i < n; i++) known |= streq(k, keys[i]);
        if (!known) return err_setf(reterr, -EINVAL, "%s has an unknown key \"%s\"", where, k);
    }
    return 0;
}

/* An "arch" in o, where there is one, is a name (the arch table's spelling: "x86_64"). */
static int arch_ok(json_t *o, const char *where, char **reterr)
{
    json_t *a = json_object_get(o, "arch");
    if (a && !catalog_safe_name(json_string_value(a)))
        return err_setf(reterr, -EINVAL, "%s: \"arch\" is not an architecture's name", where);
    return 0;
}

static const char *str(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static json_t *load(const char *data, size_t len, size_t max, const char *what, char **reterr)
{
    if (len > max) {
        err_setf(reterr, -EINVAL, "%s is %zu bytes, more than the %zu kiln reads", what, len, max);
        return NULL;
    }
    json_error_t je;
    /* duplicate keys would let two readers see two different values */
    json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) err_setf(reterr, -EINVAL, "%s is not valid JSON: %s (line %d, column %d)", what, je.text, je.line, je.column);
    return j;
}

int catalog_parse_index(const char *data, size_t len, json_t **out, char **reterr)
{
    json_t *j = load(data, len, CATALOG_INDEX_MAX, "the index", reterr);
    if (!j) return -EINVAL;
    static const char *const top[] = {"schema", "gallery", "serial", "previous_sha256", "updated", "images", NULL};
    static const char *const item[] = {"name", "version", "channels", "entry_sha256", NULL};
    int r = keys_exactly(j, "the index", top, NULL, reterr);
    json_t *serial = json_object_get(j, "serial"), *prev = json_object_get(j, "previous_sha256");
    json_t *images = json_object_get(j, "images");
    if (r == 0 && !streq(str(j, "schema"), CATALOG_INDEX_SCHEMA))
        r = err_setf(reterr, -EINVAL, "the index's schema is not %s", CATALOG_INDEX_SCHEMA);
    if (r == 0 && !hex_of(str(j, "gallery"), 32, false)) r = err_setf(reterr, -EINVAL, "the index's \"gallery\" is not 32 hex digits");
    if (r == 0 && (!json_is_integer(serial) || json_integer_value(serial) < 0 ||
                   (uint64_t)json_integer_value(serial) > CATALOG_SERIAL_MAX))
        r = err_setf(reterr, -EINVAL, "the index's \"serial\" is not an integer from 0 to 2^53");
    if (r == 0 && json_integer_value(serial) == 0 && !json_is_null(prev))
        r = err_setf(reterr, -EINVAL, "index serial 0 has a previous_sha256 (only later ones do)");
    if (r == 0 && json_integer_value(serial) > 0 && !hex_of(json_string_value(prev), 64, false))
        r = err_setf(reterr, -EINVAL, "the index's \"previous_sha256\" is not a sha256 (64 lower-case hex digits)");
    if (r == 0 && !utc_time(str(j, "updated"))) r = err_setf(reterr, -EINVAL, "the index's \"updated\" is not a UTC time");
    if (r == 0 && !json_is_array(images)) r = err_setf(reterr, -EINVAL, "the index's \"images\" is not a list");
    size_t i;
    json_t *e;
    json_array_foreach(images, i, e) {
        if (r < 0) break;
        char where[48];
        snprintf(where, sizeof where, "images[%zu]", i);
        if ((r = keys_exactly(e, where, item, "arch", reterr)) < 0 || (r = arch_ok(e, where, reterr)) < 0) break;
        const char *name = str(e, "name"), *version = str(e, "version");
        if (!catalog_safe_name(name) || !catalog_safe_name(version)) {
            r = err_setf(reterr, -EINVAL, "%s: name and version must use letters, digits, '.', '_', '+', '~', '-'", where);
            break;
        }
        if (!hex_of(str(e, "entry_sha256"), 64, false)) {
            r = err_setf(reterr, -EINVAL, "%s (%s %s): entry_sha256 is not a sha256", where, name, version);
            break;
        }
        json_t *chans = json_object_get(e, "channels"), *c;
        size_t k;
        if (!json_is_array(chans) || !json_array_size(chans)) r = err_setf(reterr, -EINVAL, "%s (%s %s): no channels", where, name, version);
        json_array_foreach(chans, k, c) {
            if (r < 0) break;
            if (!catalog_safe_name(json_string_value(c))) r = err_setf(reterr, -EINVAL, "%s (%s %s): channels[%zu] is not a name", where, name, version, k);
            for (size_t m = 0; r == 0 && m < k; m++)
                if (streq(json_string_value(json_array_get(chans, m)), json_string_value(c)))
                    r = err_setf(reterr, -EINVAL, "%s (%s %s): channel %s is listed twice", where, name, version, json_string_value(c));
        }
        /* earlier items are valid: their names are strings */
        for (size_t m = 0; r == 0 && m < i; m++) {
            json_t *o = json_array_get(images, m);
            if (streq(str(o, "name"), name) && streq(str(o, "version"), version))
                r = err_setf(reterr, -EINVAL, "%s: %s %s is listed twice", where, name, version);
        }
    }
    if (r < 0) {
        json_decref(j);
        return r;
    }
    *out = j;
    return 0;
}

int catalog_parse_entry(const char *data, size_t len, json_t **out, char **reterr)
{
    json_t *j = load(data, len, CATALOG_ENTRY_MAX, "the entry", reterr);
    if (!j) return -EINVAL;
    static const char *const top[] = {"schema",      "name",       "version",         "channel", "published",
                                      "support_end", "supersedes", "manifest_sha256", "run",     "files",
                                      NULL};
    static const char *const file[] = {"file", "sha256", "signed_by", NULL};
    int r = keys_exactly(j, "the entry", top, "arch", reterr);
    if (r == 0) r = arch_ok(j, "the entry", reterr);
    json_t *sup = json_object_get(j, "supersedes"), *files = json_object_get(j, "files");
    if (r == 0 && !streq(str(j, "schema"), CATALOG_ENTRY_SCHEMA))
        r = err_setf(reterr, -EINVAL, "the entry's schema is not %s", CATALOG_ENTRY_SCHEMA);
    if (r == 0 && (!catalog_safe_name(str(j, "name")) || !catalog_safe_name(str(j, "version")) ||
                   !catalog_safe_name(str(j, "channel"))))
        r = err_setf(reterr, -EINVAL, "the entry's name, version and channel must use letters, digits, '.', '_', '+', '~', '-'");
    if (r == 0 && !(json_is_null(sup) || catalog_safe_name(json_string_value(sup))))
        r = err_setf(reterr, -EINVAL, "the entry's \"supersedes\" is neither a version nor null");
    if (r == 0 && (!utc_time(str(j, "published")) || !utc_time(str(j, "support_end"))))
        r = err_setf(reterr, -EINVAL, "the entry's \"published\" and \"support_end\" must be UTC times");
    if (r == 0 && !hex_of(str(j, "manifest_sha256"), 64, false)) r = err_setf(reterr, -EINVAL, "the entry's manifest_sha256 is not a sha256");
    json_t *run = json_object_get(j, "run");
    if (r == 0 && !(json_is_null(run) || (json_is_object(run) && hex_of(str(run, "results_sha256"), 64, false))))
        r = err_setf(reterr, -EINVAL, "the entry's \"run\" is neither null nor a run with its results_sha256");
    if (r == 0 && (!json_is_array(files) || !json_array_size(files))) r = err_setf(reterr, -EINVAL, "the entry lists no files");
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f) {
        if (r < 0) break;
        char where[48];
        snprintf(where, sizeof where, "files[%zu]", i);
        if ((r = keys_exactly(f, where, file, NULL, reterr)) < 0) break;
        if (!catalog_safe_name(str(f, "file")) || !hex_of(str(f, "sha256"), 64, false) || !hex_of(str(f, "signed_by"), 16, true))
            r = err_setf(reterr, -EINVAL, "%s needs a plain file name, a sha256 and a 16-digit key id", where);
    }
    if (r < 0) {
        json_decref(j);
        return r;
    }
    *out = j;
    return 0;
}

char *catalog_dump(const json_t *j)
{
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text) return NULL;
    char *s = xasprintf("%s\n", text);
    free(text);
    return s;
}

char *catalog_index_name(uint64_t serial) { return xasprintf("%010" PRIu64 ".json", serial); }

bool catalog_index_serial(const char *name, uint64_t *serial)
{
    uint64_t v = 0;
    const char *p = name;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > CATALOG_SERIAL_MAX / 10) return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (p == name || v > CATALOG_SERIAL_MAX || !streq(p, ".json")) return false;
    _cleanup_free_ char *canon = catalog_index_name(v);
    if (!streq(canon, name)) return false;
    *serial = v;
    return true;
}
