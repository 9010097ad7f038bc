/* Writes into an image tree stay in the tree, whatever symlinks it holds. Each case points a
 * symlink in the tree at a real place on this host (a canary directory under /tmp, or /run)
 * and checks the write landed inside the tree and the host place is untouched. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "util/fs.h"
#include "util/inroot.h"
#include "util/util.h"

static char tree[] = "/tmp/kiln-inroot-tree-XXXXXX";
static char host[] = "/tmp/kiln-inroot-host-XXXXXX"; /* stands for the build host's files */

static char *at(const char *base, const char *rel) { return path_join(base, rel); }

static void put(const char *base, const char *rel, const char *text)
{
    _cleanup_free_ char *p = at(base, rel);
    _cleanup_free_ char *dir = path_dirname(p);
    mkdir_p(dir, 0755);
    write_file_atomic(p, text, strlen(text), 0644);
}

static void link_in(const char *rel, const char *target)
{
    _cleanup_free_ char *p = at(tree, rel);
    _cleanup_free_ char *dir = path_dirname(p);
    mkdir_p(dir, 0755);
    if (symlink(target, p) < 0) perror(p);
}

static char *content(const char *path)
{
    char *t = NULL;
    size_t n;
    return read_file(path, 1 << 20, &t, &n) == 0 ? t : xstrdup("(absent)");
}

static bool is_symlink(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

int main(void)
{
    if (!mkdtemp(tree) || !mkdtemp(host)) return 1;
    int root = open(tree, O_PATH | O_DIRECTORY | O_CLOEXEC);

    /* the case: var/run -> /run, a file for /var/run/X */
    _cleanup_free_ char *x = xasprintf("kiln-inroot-%d", (int)getpid());
    _cleanup_free_ char *dst = xasprintf("/var/run/%s", x);
    _cleanup_free_ char *on_host = xasprintf("/run/%s", x);
    _cleanup_free_ char *in_tree = xasprintf("%s/run/%s", tree, x);
    link_in("var/run", "/run");
    is_int(inroot_write(root, dst, "hi\n", 3, 0640, (uid_t)-1, (gid_t)-1), -ENOENT,
           "var/run -> /run with no run/ in the tree: an error");
    ok(access(on_host, F_OK) < 0, "and nothing on the host's /run");
    _cleanup_free_ char *run = at(tree, "run");
    mkdir(run, 0755);
    is_int(inroot_write(root, dst, "hi\n", 3, 0640, (uid_t)-1, (gid_t)-1), 0, "var/run -> /run, tree has run/: written");
    _cleanup_free_ char *got = content(in_tree);
    is_str(got, "hi\n", "X is the tree's run/X");
    ok(access(on_host, F_OK) < 0, "not the host's /run/X");
    struct stat st;
    ok(stat(in_tree, &st) == 0 && (st.st_mode & 07777) == 0640, "mode applied");
    _cleanup_free_ char *hp = inroot_host_path(root, dst);
    is_str(hp, in_tree, "inroot_host_path resolves var/run/X to the tree's run/X");

    /* a relative symlink that climbs out: ".." stops at the tree's root */
    put(host, "etc/esc-canary", "host\n");
    _cleanup_free_ char *climb = xasprintf("../../../../../..%s/etc", host);
    link_in("opt/esc", climb);
    _cleanup_free_ char *host_etc = at(host, "etc");
    _cleanup_free_ char *tree_host_etc = xasprintf("%s%s", tree, host_etc);
    mkdir_p(tree_host_etc, 0755);
    is_int(inroot_write(root, "opt/esc/esc-canary", "image\n", 6, 0644, (uid_t)-1, (gid_t)-1), 0,
           "write through ../../.. symlink");
    _cleanup_free_ char *canary = at(host, "etc/esc-canary");
    _cleanup_free_ char *c1 = content(canary);
    is_str(c1, "host\n", "the host file the symlink climbs to is untouched");
    _cleanup_free_ char *inside = at(tree_host_etc, "esc-canary");
    _cleanup_free_ char *c2 = content(inside);
    is_str(c2, "image\n", "the write landed at the same path inside the tree");

    /* a symlink as the file itself is replaced, not followed */
    _cleanup_free_ char *hostname_target = at(host, "etc/hostname");
    put(host, "etc/hostname", "buildhost\n");
    link_in("etc/hostname", hostname_target);
    is_int(inroot_write(root, "etc/hostname", "box\n", 4, 0644, (uid_t)-1, (gid_t)-1), 0, "write over a symlink");
    _cleanup_free_ char *hn = at(tree, "etc/hostname");
    _cleanup_free_ char *c3 = content(hostname_target);
    is_str(c3, "buildhost\n", "the file it pointed to is untouched");
    ok(!is_symlink(hn), "the link was replaced by a file");

    char longname[4 + 255 + 1] = "etc/";
    memset(longname + 4, 'n', 255);
    longname[4 + 255] = 0;
    is_int(inroot_write(root, longname, "", 0, 0644, (uid_t)-1, (gid_t)-1), 0, "a 255-byte name is written (short temp name)");

    /* directories made through symlinks stay in the tree */
    link_in("srv", "/srv-in-image");
    _cleanup_free_ char *sim = at(tree, "srv-in-image");
    mkdir(sim, 0755);
    is_int(inroot_mkdir_p(root, "srv/a/b", 0700), 0, "mkdir -p through /srv -> /srv-in-image");
    _cleanup_free_ char *ab = at(tree, "srv-in-image/a/b");
    ok(stat(ab, &st) == 0 && S_ISDIR(st.st_mode), "made as srv-in-image/a/b in the tree");

    /* a copy from a file descriptor, and reads follow in-tree absolute links */
    put(tree, "usr/lib/os-release", "ID=image\n");
    link_in("etc/os-release", "/usr/lib/os-release");
    char *text = NULL;
    size_t len;
    ok(inroot_read(root, "etc/os-release", 1 << 20, &text, &len) == 0 && streq(text, "ID=image\n"),
       "etc/os-release -> /usr/lib/os-release reads the tree's, not the host's");
    free(text);
    is_int(inroot_read(root, "etc/os-release", 4, &text, &len), -EFBIG, "read bound");
    int src = open(canary, O_RDONLY | O_CLOEXEC);
    is_int(inroot_copy(root, "/var/run/copied", src, 0600, (uid_t)-1, (gid_t)-1), 0, "copy through var/run");
    close(src);
    _cleanup_free_ char *copied = at(tree, "run/copied");
    _cleanup_free_ char *c4 = content(copied);
    is_str(c4, "host\n", "copied into the tree's run/");

    /* removal by pattern never follows a link out of the tree */
    put(host, "home/.bash_history", "host history\n");
    link_in("home/evil", host_etc);     /* absolute: in the tree it means TREE/<host>/etc */
    _cleanup_free_ char *host_home = at(host, "home");
    link_in("home/evil2", host_home);   /* TREE/<host>/home does not exist */
    put(tree, "home/ops/.bash_history", "ops\n");
    put(tree, "var/tmp/a", "a");
    put(tree, "var/tmp/.keep", "k");
    _cleanup_free_ char *host_log = at(host, "secret.log");
    put(host, "secret.log", "host log\n");
    link_in("var/log/a.log", host_log);
    is_int(inroot_rm_glob(root, "home/*/.bash_history"), 1, "home/*/.bash_history: one match in the tree");
    _cleanup_free_ char *hh = at(host, "home/.bash_history");
    ok(access(hh, F_OK) == 0, "the host's file behind home/evil2 is still there");
    _cleanup_free_ char *ops = at(tree, "home/ops/.bash_history");
    ok(access(ops, F_OK) < 0, "the tree's was removed");
    is_int(inroot_rm_glob(root, "var/log/*.log"), 1, "var/log/*.log matches the link");
    ok(access(host_log, F_OK) == 0, "the host file it pointed to is still there");
    _cleanup_free_ char *alog = at(tree, "var/log/a.log");
    ok(!is_symlink(alog), "the link is gone");
    is_int(inroot_rm_glob(root, "var/tmp/*"), 1, "var/tmp/* removes a, not .keep (as glob(3))");
    _cleanup_free_ char *keep = at(tree, "var/tmp/.keep");
    ok(access(keep, F_OK) == 0, ".keep stays");
    is_int(inroot_rm_glob(root, "var/../etc/*"), -EINVAL, "'..' in a pattern refused");
    link_in("gone", host);
    is_int(inroot_rm_glob(root, "gone"), 1, "a link to a host directory is removed as a link");
    ok(access(canary, F_OK) == 0, "the directory behind it is untouched");

    /* the fallback walk refuses links instead of following them */
    int fd = inroot_open_walk(root, "var/run/copied", O_RDONLY, 0);
    is_int(fd, -ELOOP, "walk: var/run is a symlink: -ELOOP");
    fd = inroot_open_walk(root, "etc/hostname", O_RDONLY, 0);
    ok(fd >= 0, "walk: a plain path opens");
    if (fd >= 0) close(fd);
    is_int(inroot_open_walk(root, "etc/../etc/hostname", O_RDONLY, 0), -EXDEV, "walk: '..' refused");
    is_int(inroot_open_walk(root, "etc/os-release", O_RDONLY, 0), -ELOOP, "walk: a final symlink refused");

    /* beneath: for sources the user keeps in a directory; links out of it are refused */
    int hostfd = open(host, O_PATH | O_DIRECTORY | O_CLOEXEC);
    _cleanup_free_ char *lnk = at(host, "shadow-link");
    if (symlink("/etc/shadow", lnk) < 0) perror(lnk);
    _cleanup_free_ char *lnk2 = at(host, "up-link");
    if (symlink("../../etc/passwd", lnk2) < 0) perror(lnk2);
    is_int(inroot_open_beneath(hostfd, "shadow-link", O_RDONLY), -EXDEV, "beneath: an absolute link out refused");
    is_int(inroot_open_beneath(hostfd, "up-link", O_RDONLY), -EXDEV, "beneath: a climbing link refused");
    fd = inroot_open_beneath(hostfd, "etc/esc-canary", O_RDONLY);
    ok(fd >= 0, "beneath: a file in the directory opens");
    if (fd >= 0) close(fd);
    close(hostfd);

    close(root);
    rm_rf(tree);
    rm_rf(host);
    return tap_done();
}
