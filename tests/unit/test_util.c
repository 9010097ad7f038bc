#include <errno.h>

#include "tap.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

int main(void)
{
    is_int(levenshtein("platfrom", "platform"), 2, "levenshtein transposition costs 2");
    is_int(levenshtein("", "abc"), 3, "levenshtein from empty");
    _cleanup_free_ char *q = shell_quote("it's");
    is_str(q, "'it'\\''s'", "shell_quote escapes single quotes");
    _cleanup_free_ char *b = base64_encode("ssh-ed25519 AAAA kiln\n", 22);
    is_str(b, "c3NoLWVkMjU1MTkgQUFBQSBraWxuCg==", "base64 with padding");
    _cleanup_free_ char *b2 = base64_encode("ab", 2);
    is_str(b2, "YWI=", "base64 of two bytes");
    long v;
    ok(parse_long("42", &v) && v == 42, "parse_long accepts 42");
    ok(!parse_long("4x", &v), "parse_long rejects trailing garbage");
    ok(!parse_long("99999999999999999999999", &v), "parse_long rejects overflow");

    secret_add("s3cr3t");
    _cleanup_free_ char *m = secret_mask("token=s3cr3t and again s3cr3t.");
    is_str(m, "token=****** and again ******.", "secrets masked everywhere in a string");
    secret_clear();

    char tmpl[] = "/tmp/kiln-test-XXXXXX";
    ok(mkdtemp(tmpl) != NULL, "mkdtemp");
    _cleanup_free_ char *f = path_join(tmpl, "a/b/c");
    ok(mkdir_p(f, 0755) == 0, "mkdir_p nested");
    _cleanup_free_ char *file = path_join(f, "x.txt");
    ok(write_file_atomic(file, "hello", 5, 0644) == 0, "write_file_atomic");
    char *data;
    size_t len;
    ok(read_file(file, 100, &data, &len) == 0 && len == 5 && streq(data, "hello"), "read back");
    free(data);
    ok(read_file(file, 3, &data, &len) == -EFBIG, "read_file enforces its bound");
    ok(rm_rf(tmpl) == 0 && !file_exists(tmpl), "rm_rf removes the tree");

    char *out = NULL;
    char *argv[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    is_int(proc_run(argv, 5000, &out), 3, "proc_run returns the exit status");
    has(out, "out", "proc_run captures stdout");
    has(out, "err", "proc_run captures stderr");
    free(out);
    char *sleeper[] = {"sleep", "30", NULL};
    is_int(proc_run(sleeper, 200, NULL), -ETIMEDOUT, "proc_run kills on timeout");
    char *missing[] = {"/nonexistent/kiln-tool", NULL};
    ok(proc_run(missing, 1000, NULL) == -ENOENT, "proc_run reports a missing program");
    return tap_done();
}
