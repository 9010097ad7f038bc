/* cmd_parse (src/cmd/common.c): the one command-line convention, checked on a table of its own. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/common.h"
#include "model/case.h"
#include "run/select.h"
#include "node/node.h"
#include "node/ssh_cli.h"
#include "util/proc.h"
#include "util/strv.h"
#include "tap.h"
#include "util/fs.h"
#include "util/util.h"

static const char *out, *fmt;
static long count = 3;
static bool flag;
static struct cmd_strs many;
static const char *again_val;
static int again_n;

static bool take_again(const char *verb, const char *opt, const char *val, void *to)
{
    (void)verb, (void)opt, (void)to;
    again_val = val;
    again_n++;
    return true;
}

static const struct cmd_opt opts[] = {
    {'o', "out", "DIR", CMD_STR, &out, .help = "where"},
    {0, "format", "F", CMD_STR, &fmt, .help = "which"},
    {'n', "count", "N", CMD_LONG, &count, 1, 10, .help = "how many"},
    {0, "flag", NULL, CMD_FLAG, &flag, .help = "a flag"},
    {'p', "pin", "KEY", CMD_LIST, &many, .help = "repeatable"},
    {0, "again", "DIR", CMD_FN, NULL, .fn = take_again, .optional = true, .help = "optional value"},
    {0, "far", "X", CMD_STR, NULL, .elsewhere = "kiln t other", .help = "not ours"},
    {0},
};
static const struct cmd_verb verb = {"t", "[options] A [B]", "About.", opts, 1, 2, "A", .exits = "0 ok, 2 usage"};

/* Runs cmd_parse on the words of line (space-separated) with stderr (or stdout) caught in *text. */
static int parse(const char *line, int *n, char ***av, char **text, bool catch_stdout)
{
    out = fmt = again_val = NULL, count = 3, flag = false, again_n = 0;
    free(many.v);
    many = (struct cmd_strs){0};
    static char buf[512];
    static char *argv[32];
    snprintf(buf, sizeof buf, "t %s", line);
    int argc = 0;
    for (char *tok = strtok(buf, " "); tok && argc < 31; tok = strtok(NULL, " ")) argv[argc++] = tok;
    argv[argc] = NULL;
    int fd = catch_stdout ? 1 : 2;
    fflush(catch_stdout ? stdout : stderr);
    char path[] = "/tmp/test_cmd-XXXXXX";
    int tmp = mkstemp(path), saved = dup(fd);
    dup2(tmp, fd);
    int rc = cmd_parse(&verb, argc, argv, n);
    fflush(catch_stdout ? stdout : stderr);
    dup2(saved, fd);
    close(saved);
    close(tmp);
    free(*text);
    *text = NULL;
    read_file(path, 1 << 16, text, NULL);
    unlink(path);
    *av = argv;
    return rc;
}

/* The words /bin/sh makes of line, one a line (none holds a newline here). */
static char *sh_words(const char *line)
{
    _cleanup_free_ char *script = xasprintf("for w in %s; do printf '%%s\\n' \"$w\"; done", line);
    char *const argv[] = {"sh", "-c", script, NULL};
    char *words = NULL;
    return proc_run(argv, 10000, &words) == 0 ? words : (free(words), NULL);
}

/* The ssh command kiln shell runs and kiln run prints for a kept environment. */
static void ssh_command(void)
{
    struct kiln_node n = {.host = "127.0.0.1", .port = 40123, .user = "root", .key_path = "/tmp/kiln-run-a b/id_ed25519"};
    char *cmd[] = {"sh", "-c", "echo hi; exit 3", "it's"};
    size_t argc;
    char **v = ssh_cli_argv(&n, "/w/known_hosts", false, cmd, 4, &argc);
    is_int(argc, 17, "ssh, key, port, five -o options, the destination and one word of command");
    ok(v[argc] == NULL, "argv is NULL-terminated for exec");
    is_str(v[argc - 1], "'sh' '-c' 'echo hi; exit 3' 'it'\\''s'", "each word quoted for the remote shell");
    is_str(v[argc - 2], "root@127.0.0.1", "user@host");
    is_str(v[12], "UserKnownHostsFile=/w/known_hosts", "host keys go to the run's own known_hosts");
    _cleanup_free_ char *line = ssh_cli_line(v, argc);
    has(line, "ssh -i '/tmp/kiln-run-a b/id_ed25519' -p 40123 -o IdentitiesOnly=yes -o BatchMode=yes -o "
              "StrictHostKeyChecking=no -o UserKnownHostsFile=/w/known_hosts -o LogLevel=ERROR root@127.0.0.1 '",
        "the line quotes only the words that need it");
    struct sbuf want = {0};
    for (size_t i = 0; i < argc; i++) sbuf_printf(&want, "%s\n", v[i]);
    _cleanup_free_ char *words = sh_words(line);
    is_str(words, want.s, "a POSIX shell splits the line back into the argv");
    sbuf_free(&want);
    strv_free(v, argc);
    v = ssh_cli_argv(&n, "/w/known_hosts", true, NULL, 0, &argc);
    is_str(v[1], "-t", "an interactive session asks for a terminal");
    is_str(v[argc - 1], "root@127.0.0.1", "and runs no command (a login shell)");
    strv_free(v, argc);
}

/* kiln list's columns stay aligned past a name longer than the old 32-column field
 * (verify_pcr_change_on_boot_component_upgrade is 43) */
static void list_columns(void)
{
    static const struct kiln_case a = {.name = "smoke", .area = "provisioning", .priority = 0, .description = "d1"};
    static const struct kiln_case b = {.name = "verify_pcr_change_on_boot_component_upgrade", .area = "cvm",
                                       .priority = 3, .requires = {.features = FEAT_TPM}, .description = "d2"};
    struct kiln_selected sel[2] = {{.c = &a, .timeout_s = 600}, {.c = &b, .timeout_s = 1200}};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cmd_list_table(f, sel, 2);
    fclose(f);
    char *l1 = buf, *l2 = strchr(l1, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
    ok(strstr(l1, "AREA") - l1 == strstr(l2, "provisioning") - l2 && strstr(l2, "provisioning") - l2 == strstr(l3, "cvm") - l3,
       "AREA starts at one column on every line:\n%s", buf);
    ok(strstr(l1, "DESCRIPTION") - l1 == strstr(l2, "d1") - l2 && strstr(l2, "d1") - l2 == strstr(l3, "d2") - l3,
       "and so does DESCRIPTION");
    ok(strstr(l3, "verify_pcr_change_on_boot_component_upgrade cvm"), "the longest name keeps one space before its area");
    free(buf);
}

int main(void)
{
    ssh_command();
    list_columns();
    int n;
    char **av, *text = NULL;
    is_int(parse("--out=e --format f -n4 a b", &n, &av, &text, false), CMD_GO, "--opt=value, --opt value, -nV");
    ok(out && streq(out, "e") && streq(fmt, "f") && count == 4 && n == 2 && streq(av[1], "a") && streq(av[2], "b"),
       "values and operands in order");
    is_int(parse("--out=d -o e a", &n, &av, &text, false), EXIT_USAGE, "a single-valued option given twice is refused");
    has(text, "kiln t: -o given twice (d and e): give it once", "naming both values (which one was meant cannot be known)");
    is_int(parse("a --flag -p k1 --pin=k2 -pk3", &n, &av, &text, false), CMD_GO, "options after an operand");
    ok(flag && many.n == 3 && streq(many.v[2], "k3") && n == 1, "a repeated option collects every value");
    is_int(parse("-- --out", &n, &av, &text, false), CMD_GO, "-- ends the options");
    ok(n == 1 && streq(av[1], "--out") && !out, "what follows -- is an operand");
    is_int(parse("--ou=x a", &n, &av, &text, false), EXIT_USAGE, "an abbreviation is refused");
    is_str(text, "kiln t: unknown option --ou; did you mean --out?\ntry 'kiln t --help'\n", "and names the option");
    is_int(parse("--frob a", &n, &av, &text, false), EXIT_USAGE, "an unknown option");
    is_str(text, "kiln t: unknown option --frob; the options are: --out DIR, --format F, --count N, --flag, --pin KEY, --again[=DIR]\n"
                 "try 'kiln t --help'\n", "is named, with the options from the table");
    is_int(parse("-z a", &n, &av, &text, false), EXIT_USAGE, "an unknown short option");
    has(text, "kiln t: unknown option -z;", "is named");
    is_int(parse("-n 11 a", &n, &av, &text, false), EXIT_USAGE, "a number out of range");
    is_str(text, "kiln t: -n 11: want a whole number from 1 to 10\ntry 'kiln t --help'\n", "says the range");
    is_int(parse("--count=4x a", &n, &av, &text, false), EXIT_USAGE, "a number with junk");
    has(text, "kiln t: --count 4x: want a whole number from 1 to 10", "is refused whole");
    is_int(parse("a --format", &n, &av, &text, false), EXIT_USAGE, "a missing value");
    has(text, "kiln t: --format needs a value: F, which", "names the option and what it takes");
    is_int(parse("--flag=1 a", &n, &av, &text, false), EXIT_USAGE, "a value for a flag");
    has(text, "kiln t: --flag takes no value", "is refused");
    is_int(parse("--flag", &n, &av, &text, false), EXIT_USAGE, "no operand");
    has(text, "kiln t: no A given", "names the operand");
    is_int(parse("a b c", &n, &av, &text, false), EXIT_USAGE, "too many operands");
    has(text, "kiln t: unexpected argument c", "names the first extra one");
    is_int(parse("--again a", &n, &av, &text, false), CMD_GO, "an optional value left out");
    ok(again_n == 1 && !again_val && n == 1 && streq(av[1], "a"), "is NULL, and the next word stays an operand");
    is_int(parse("--again=d a", &n, &av, &text, false), CMD_GO, "an optional value given with =");
    ok(again_n == 1 && again_val && streq(again_val, "d") && n == 1, "is taken");
    is_int(parse("--again --again=d a", &n, &av, &text, false), EXIT_USAGE, "an optional value's option given twice");
    has(text, "kiln t: --again given twice: give it once", "is refused");
    is_int(parse("a --far=1", &n, &av, &text, false), EXIT_USAGE, "a sibling's option");
    is_str(text, "kiln t: --far belongs to kiln t other\ntry 'kiln t --help'\n", "is named as the sibling's");
    is_int(parse("a --far", &n, &av, &text, false), EXIT_USAGE, "a sibling's option without its value");
    has(text, "kiln t: --far belongs to kiln t other", "is named as the sibling's too");
    is_int(parse("a --fa", &n, &av, &text, false), EXIT_USAGE, "a near miss of a sibling's option");
    has(text, "kiln t: unknown option --fa; did you mean --flag?", "is never pointed at it");
    is_int(parse("--frob --help", &n, &av, &text, true), EXIT_USAGE, "an error before --help is an error");
    is_int(parse("a --help", &n, &av, &text, true), EXIT_OK, "--help exits 0");
    has(text, "usage: kiln t [options] A [B]\nAbout.\n", "the usage line on stdout");
    has(text, "  -o, --out DIR", "an option with its short form");
    has(text, "      --flag                  a flag\n", "a flag, aligned with its help");
    has(text, "  -n, --count N               how many\n", "a valued option, aligned");
    has(text, "exit status: 0 ok, 2 usage", "the exit status");
    has(text, "      --again[=DIR]", "an optional value, with its =");
    ok(!strstr(text, "--far"), "a sibling's option is not in the help");
    is_int(parse("-h", &n, &av, &text, true), EXIT_OK, "-h too (no operand needed)");
    free(text);
    free(many.v);
    return tap_done();
}
