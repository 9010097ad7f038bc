/* kiln shell IMAGE [-- COMMAND...]: boots an image as kiln run's qemu platform does and gives
 * an SSH session into it (mkosi qemu + mkosi ssh in one verb); the VM ends with the session. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/common.h"
#include "image/imagecheck.h"
#include "node/console.h"
#include "node/keys.h"
#include "node/ssh_cli.h"
#include "platform/platform.h"
#include "run/workdir.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/strv.h"
#include "util/timeutil.h"
#include "util/util.h"

struct shell_opts {
    const char *image, *kernel, *initrd, *append, *firmware, *accel, *user, *key;
    long memory_mb, cpus, boot_timeout_s;
    bool uefi, verbose;
    char *const *cmd; /* the words after --; ncmd 0: an interactive login shell */
    size_t ncmd;
};

/* The options as the runbook's platform.<type> mapping of a driver that boots images
 * (PLATFORM_CAP_BOOTS_IMAGE), written as JSON (a YAML flow mapping libyaml reads, with every
 * string quoted by jansson), for the driver's own parser. Paths are made absolute here: the
 * driver resolves relative ones against the runbook's directory. */
static char *boot_section(const struct shell_opts *o)
{
    json_t *q = json_object();
    const struct {
        const char *key, *path;
    } files[] = {{"image", o->image}, {"kernel", o->kernel}, {"initrd", o->initrd}};
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        if (!files[i].path) continue;
        _cleanup_free_ char *abs = realpath(files[i].path, NULL);
        json_object_set_new(q, files[i].key, json_string(abs ? abs : files[i].path));
    }
    if (o->append) json_object_set_new(q, "append", json_string(o->append));
    if (o->firmware || o->uefi) json_object_set_new(q, "firmware", json_string(o->uefi ? "uefi" : o->firmware));
    if (o->accel) json_object_set_new(q, "accel", json_string(o->accel));
    if (o->memory_mb) json_object_set_new(q, "memory_mb", json_integer(o->memory_mb));
    if (o->cpus) json_object_set_new(q, "cpus", json_integer(o->cpus));
    if (o->boot_timeout_s) json_object_set_new(q, "boot_timeout_s", json_integer(o->boot_timeout_s));
    char *text = json_dumps(q, JSON_COMPACT);
    json_decref(q);
    return text;
}

/* Runs ssh in kiln's own process group (unlike proc_spawn's children), so that with a terminal
 * it is in the foreground and may read it and set it raw; it dies with kiln (PDEATHSIG). Waits
 * for it, ending it when kiln is told to stop. Its exit status (128+N for signal N; 127 when
 * there is no ssh; 130 when kiln was interrupted). */
static int run_ssh(char **argv)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return fprintf(stderr, "kiln shell: fork: %s\n", strerror(errno)), EXIT_FAIL;
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(EXIT_INTERRUPTED);
        execvp(argv[0], argv);
        fprintf(stderr, "kiln shell: cannot run %s: %s (apt-get install openssh-client)\n", argv[0], strerror(errno));
        _exit(127);
    }
    int st = 0;
    bool stopping = false;
    for (;;) {
        int r = proc_wait(pid, 200, &st);
        if (r == 0) break;
        if (r != -ETIMEDOUT) return fprintf(stderr, "kiln shell: waiting for ssh: %s\n", strerror(-r)), EXIT_FAIL;
        if (kiln_interrupted && !stopping) {
            kill(pid, SIGTERM);
            stopping = true;
        }
    }
    if (kiln_interrupted) return EXIT_INTERRUPTED;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Everything one session starts; ended by shell_end on every path. */
struct shell {
    struct kiln_runbook rb;
    struct kiln_platform_ctx pctx;
    struct kiln_patterns *pats;
    struct kiln_env *env;
    char *work;
    bool plat_ready;
};

static void shell_end(struct shell *s)
{
    if (s->env) {
        s->pctx.ops->destroy(&s->pctx, s->env);
        env_free(s->env);
    }
    if (s->plat_ready && s->pctx.ops->fini) s->pctx.ops->fini(&s->pctx);
    proc_kill_all();
    if (s->work) rm_rf(s->work);
    free(s->work);
    free(s->pctx.run_dir);
    free(s->pctx.key_path);
    free(s->pctx.pubkey);
    free(s->pctx.accel);
    patterns_free(s->pats);
    if (s->rb.platform.conf) s->pctx.ops->free_conf(s->rb.platform.conf);
    free(s->rb.platform.admin_private_key_file);
}

/* Boots one node of s's platform and waits for its SSH, as kiln run deploys an environment.
 * 0, or the exit status after printing why. */
static int shell_boot(struct shell *s, const struct shell_opts *o)
{
    const char *tmpenv = getenv("TMPDIR");
    struct workdir_owner me = {.name = "shell", .platform = (char *)s->pctx.ops->name, .started = wall_s()};
    int r = workdir_create(tmpenv && *tmpenv ? tmpenv : "/tmp", &me, &s->work);
    if (r < 0) return fprintf(stderr, "kiln shell: cannot create a work directory: %s; set TMPDIR\n", strerror(-r)), EXIT_FAIL;
    /* the node's console and qemu logs: they go with the work directory */
    s->pctx.run_dir = path_join(s->work, "run");
    s->pctx.work_dir = s->work;
    if (mkdir(s->pctx.run_dir, 0700) < 0 && errno != EEXIST)
        return fprintf(stderr, "kiln shell: %s: %s\n", s->pctx.run_dir, strerror(errno)), EXIT_FAIL;
    _cleanup_free_ char *err = NULL;
    if (node_keys_prepare(o->key ? s->rb.platform.admin_private_key_file : NULL, s->work, &s->pctx.key_path,
                          &s->pctx.pubkey, &err) < 0)
        return fprintf(stderr, "kiln shell: no key for the node: %s\n", err), EXIT_FAIL;
    const struct kiln_platform *ops = s->pctx.ops;
    s->plat_ready = true; /* fini undoes a failed init too */
    if (ops->init(&s->pctx, &err) < 0)
        return fprintf(stderr, "kiln shell: the %s platform cannot start: %s\n", ops->name, err), EXIT_FAIL;
    /* the KVM probe may take a while: a SIGINT during it boots nothing */
    if (kiln_interrupted) return fprintf(stderr, "kiln shell: interrupted before the boot\n"), EXIT_INTERRUPTED;
    struct kiln_req need = {.nodes = 1}, spec;
    _cleanup_free_ char *why = NULL;
    if (!ops->capable(&s->pctx, &need, &why)) return fprintf(stderr, "kiln shell: %s\n", why), EXIT_FAIL;
    ops->spec_for(&s->pctx, &need, &spec);
    s->env = xcalloc(1, sizeof *s->env);
    s->env->name = xstrdup("shell");
    s->env->spec = spec;
    fprintf(stderr, "kiln shell: booting %s (%s, %d MiB, %d cpu)\n", o->image ? o->image : o->kernel,
            s->pctx.accel ? s->pctx.accel : "-", spec.memory_mb, spec.cpus);
    double t0 = now_s();
    r = ops->deploy(&s->pctx, s->env, &why);
    if (kiln_interrupted) return fprintf(stderr, "kiln shell: interrupted while booting\n"), EXIT_INTERRUPTED;
    if (r < 0) return fprintf(stderr, "kiln shell: boot failed: %s\n", why), EXIT_FAIL;
    struct kiln_node *n = s->env->nodes[0];
    fprintf(stderr, "kiln shell: %s@%s:%d answers SSH after %.0f s\n", n->user, n->host, n->port, now_s() - t0);
    return 0;
}

/* The ssh session into the booted node; its exit status. */
static int shell_ssh(const struct shell *s, const struct shell_opts *o)
{
    _cleanup_free_ char *known_hosts = path_join(s->work, "known_hosts");
    size_t argc;
    char **argv = ssh_cli_argv(s->env->nodes[0], known_hosts, !o->ncmd && isatty(0), o->cmd, o->ncmd, &argc);
    if (o->verbose) {
        _cleanup_free_ char *line = ssh_cli_line(argv, argc);
        fprintf(stderr, "kiln shell: %s\n", line);
    }
    int rc = run_ssh(argv);
    strv_free(argv, argc);
    return rc;
}

static int shell_session(struct shell_opts *o)
{
    struct shell s = {.rb = {.name = "shell", .concurrency = 1}};
    /* the first platform in the table that boots an image file */
    s.pctx.ops = platform_find_caps(PLATFORM_CAP_BOOTS_IMAGE);
    s.rb.platform.type = (char *)s.pctx.ops->name;
    s.rb.platform.admin_username = (char *)(o->user ? o->user : "root");
    s.pctx.rb = &s.rb;
    int rc = EXIT_USAGE;
    struct diags d = {0};
    _cleanup_free_ char *text = boot_section(o);
    struct ynode *conf = yaml_load_string("kiln shell's options", text, strlen(text), &d);
    if (conf) s.pctx.ops->parse_conf(conf, &d, &s.rb.platform.conf);
    ynode_free(conf);
    _cleanup_free_ char *pat_path = patterns_path(NULL);
    if (!d.n) s.pats = patterns_load(pat_path, NULL, 0, &d);
    s.pctx.patterns = s.pats;
    if (o->key) s.rb.platform.admin_private_key_file = realpath(o->key, NULL);
    if (d.n) {
        cmd_print_diags(&d);
        goto out;
    }
    proc_install_signal_handlers();
    rc = shell_boot(&s, o);
    if (!rc) rc = shell_ssh(&s, o);
out:
    diags_free(&d);
    shell_end(&s);
    return rc;
}

int cmd_shell(int argc, char **argv)
{
    struct shell_opts o = {0};
    const struct cmd_opt opts[] = {
        {0, "kernel", "FILE", CMD_STR, &o.kernel, .help = "boot this kernel directly (then IMAGE is optional)"},
        {0, "initrd", "FILE", CMD_STR, &o.initrd, .needs = "kernel", .help = "the initrd for --kernel"},
        {0, "append", "ARGS", CMD_STR, &o.append, .needs = "kernel", .empty_ok = true, .help = "the kernel command line for --kernel"},
        {0, "firmware", "bios|uefi", CMD_STR, &o.firmware,
         .help = "the firmware (default: uefi for an IMAGE with an EFI system\npartition and no BIOS boot partition, as kiln build\nmakes; else bios)"},
        {0, "uefi", NULL, CMD_FLAG, &o.uefi, .help = "the same as --firmware uefi"},
        {0, "memory", "MIB", CMD_LONG, &o.memory_mb, 64, 1L << 20, .help = "the guest's memory (default: 1024)"},
        {0, "cpus", "N", CMD_LONG, &o.cpus, 1, 1024, .help = "the guest's CPUs (default: 2)"},
        {0, "accel", "auto|kvm|tcg", CMD_STR, &o.accel, .help = "how qemu runs the guest (default: auto, KVM when it\nworks)"},
        {0, "boot-timeout", "S", CMD_LONG, &o.boot_timeout_s, 1, 86400,
         .help = "how long SSH may take to answer (default: 300)"},
        {'u', "user", "NAME", CMD_STR, &o.user, .help = "the account to log in as (default: root)"},
        {'i', "key", "FILE", CMD_STR, &o.key,
         .help = "a private key the image accepts (default: a fresh key\nkiln provisions through cloud-init and the SMBIOS\ncredential)"},
        {0, "verbose", NULL, CMD_FLAG, &o.verbose, .help = "print the platform's log and the ssh command line"},
        {0},
    };
    const struct cmd_verb v = {
        "shell",
        "IMAGE [options] [-- COMMAND...]\n--kernel FILE [--initrd FILE] [--append ARGS] [options] [-- COMMAND...]",
        "Boots IMAGE (raw, qcow2 or VHD) in a VM as kiln run's qemu platform does (same\n"
        "provisioning of the key, same boot timeout and early failure when the guest booted with no\n"
        "network) and opens an SSH session into it with OpenSSH's ssh; COMMAND runs instead of a\n"
        "login shell, without a terminal. The VM is ended when the session ends, on SIGINT or\n"
        "SIGTERM, and on every error. As mkosi qemu followed by mkosi ssh.",
        opts, 0, 1, "IMAGE",
        .exits = "0 COMMAND (or the login shell) exited 0; else its exit status as ssh gives it\n"
                 "(255: ssh could not connect), or 1 the VM did not boot to SSH (the reason is\n"
                 "printed), 2 usage or a missing input, 130 interrupted",
    };
    /* the first -- ends kiln's options: what follows is COMMAND, options of its own included */
    int cut = argc;
    for (int i = 1; i < argc && cut == argc; i++)
        if (streq(argv[i], "--")) cut = i;
    int nargs, rc = cmd_parse(&v, cut, argv, &nargs);
    if (rc != CMD_GO) return rc;
    if (cut < argc) {
        o.cmd = argv + cut + 1;
        o.ncmd = (size_t)(argc - cut - 1);
        if (!o.ncmd) return cmd_usage_error("shell", "-- is followed by no COMMAND");
    }
    if (nargs) o.image = argv[1];
    if (!o.image && !o.kernel) return cmd_usage_error("shell", "no IMAGE given (or --kernel FILE)");
    if (o.image && o.kernel) return cmd_usage_error("shell", "IMAGE and --kernel exclude each other: boot one");
    if (o.uefi && o.firmware && !streq(o.firmware, "uefi"))
        return cmd_usage_error("shell", "--uefi and --firmware %s contradict each other", o.firmware);
    const char *const inputs[] = {o.image, o.kernel, o.initrd, o.key};
    for (size_t i = 0; i < ARRAY_SIZE(inputs); i++)
        if (inputs[i] && (rc = cmd_input("shell", inputs[i], "give an existing file")) != 0) return rc;
    /* an IMAGE that cannot boot is refused before a VM starts (a text file waited out the
     * whole boot timeout), and one that boots only through UEFI gets UEFI */
    struct kiln_image_facts f;
    _cleanup_free_ char *why = NULL;
    int ir = o.image ? kiln_image_check(o.image, &f, &why) : 0;
    if (ir < 0) {
        fprintf(stderr, "kiln shell: %s: %s; give a disk image with a partition table (raw, qcow2 or VHD, as kiln build "
                        "writes), or --kernel FILE\n", o.image, why);
        return EXIT_USAGE;
    }
    if (o.image && f.uefi_only && !o.uefi && o.firmware && !streq(o.firmware, "uefi"))
        return cmd_usage_error("shell", "%s boots only through UEFI (an EFI system partition, no BIOS boot partition): "
                                        "--firmware %s cannot boot it", o.image, o.firmware);
    if (o.image && f.uefi_only && !o.uefi && !o.firmware) {
        fprintf(stderr, "kiln shell: %s boots only through UEFI (an EFI system partition, no BIOS boot partition): booting "
                        "it with UEFI\n", o.image);
        o.uefi = true;
    }
    if (!o.verbose) log_set_level(LOG_WARN);
    return shell_session(&o);
}
