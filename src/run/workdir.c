#include "run/workdir.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/proc.h"
#include "util/util.h"

#define OWNER_FILE "owner"
#define OWNER_MAX (64 * 1024)
#define UNOWNED_GRACE_S 60

int workdir_create(const char *tmp, struct workdir_owner *o, char **path)
{
    o->pid = getpid();
    int r = proc_start_time(o->pid, &o->start);
    if (r < 0) return r;
    char *dir = path_join(tmp, WORKDIR_PREFIX "XXXXXX");
    if (!mkdtemp(dir)) { /* mode 0700 */
        int e = errno;
        free(dir);
        return -e;
    }
    json_t *j = json_pack("{s:I, s:I, s:s, s:s, s:s, s:I}", "pid", (json_int_t)o->pid, "start",
                          (json_int_t)o->start, "run_dir", o->run_dir ? o->run_dir : "", "name",
                          o->name ? o->name : "", "platform", o->platform ? o->platform : "", "started",
                          (json_int_t)o->started);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    _cleanup_free_ char *owner = path_join(dir, OWNER_FILE);
    r = text ? write_file_atomic(owner, text, strlen(text), 0600) : -ENOMEM;
    free(text);
    if (r < 0) {
        rm_rf(dir);
        free(dir);
        return r;
    }
    *path = dir;
    return 0;
}

static bool read_owner(const char *dir, struct workdir_owner *o)
{
    _cleanup_free_ char *path = path_join(dir, OWNER_FILE);
    _cleanup_free_ char *text = NULL;
    size_t len;
    if (read_file(path, OWNER_MAX, &text, &len) < 0) return false;
    json_t *j = json_loadb(text, len, 0, NULL);
    json_int_t pid = 0, start = 0, started = 0;
    const char *run_dir = NULL, *name = NULL, *platform = NULL;
    bool ok = j && json_unpack(j, "{s:I, s:I, s?s, s?s, s?s, s?I}", "pid", &pid, "start", &start, "run_dir",
                               &run_dir, "name", &name, "platform", &platform, "started", &started) == 0 &&
              pid > 0 && pid <= INT32_MAX && start >= 0;
    if (ok) {
        *o = (struct workdir_owner){.pid = (pid_t)pid, .start = (unsigned long long)start, .started = started,
                                    .run_dir = run_dir && run_dir[0] == '/' ? xstrdup(run_dir) : NULL,
                                    .name = name && *name ? xstrdup(name) : NULL,
                                    .platform = platform && *platform ? xstrdup(platform) : NULL};
    }
    json_decref(j);
    return ok;
}

static void owner_clear(struct workdir_owner *o)
{
    free(o->run_dir);
    free(o->name);
    free(o->platform);
    *o = (struct workdir_owner){0};
}

static bool owner_alive(const struct workdir_owner *o)
{
    unsigned long long start;
    return proc_start_time(o->pid, &start) == 0 && start == o->start;
}

size_t workdir_sweep(const char *tmp, struct workdir_owner **out)
{
    *out = NULL;
    DIR *d = opendir(tmp);
    if (!d) return 0;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!startswith(e->d_name, WORKDIR_PREFIX)) continue;
        _cleanup_free_ char *dir = path_join(tmp, e->d_name);
        struct stat st;
        /* only real directories of this user: never follow a link someone else planted */
        if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) continue;
        struct workdir_owner o = {0};
        if (read_owner(dir, &o)) {
            if (owner_alive(&o)) {
                owner_clear(&o);
                continue;
            }
        } else if (time(NULL) - st.st_mtime < UNOWNED_GRACE_S) {
            continue;
        }
        if (rm_rf(dir) < 0) {
            owner_clear(&o);
            continue;
        }
        *APPEND(*out, n, cap) = o;
    }
    closedir(d);
    return n;
}

void workdir_owners_free(struct workdir_owner *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) owner_clear(&v[i]);
    free(v);
}
