/* Child processes kiln starts (qemu, qemu-img, helpers). Every child is
 * tracked so that all exit paths, including signals, end it: no orphans. */
#pragma once
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

extern volatile sig_atomic_t kiln_interrupted; /* signal number once SIGINT/SIGTERM arrived */

/* Installs SIGINT/SIGTERM handlers: the first sets kiln_interrupted so work
 * unwinds cleanly; a second one kills all tracked children and exits at once. */
void proc_install_signal_handlers(void);
/* Sleeps ms milliseconds in slices of at most 50 ms, returning early once kiln_interrupted is
 * set: 0 after the whole sleep, -EINTR when interrupted (also when it already was). For wait
 * loops, so a SIGINT acts within a slice rather than after the loop's longest delay. */
int proc_sleep(int64_t ms);

/* For tests of what a signal does at one exact point: when $KILN_TEST_PAUSE equals point, the
 * process stops itself there (SIGSTOP) until a test has sent its signal and SIGCONT. Points:
 * "build-hash" (a build about to hash its outputs), "build-publish" (about to move them into
 * the output directory). It goes on once kiln_interrupted is set (a signal sent before SIGCONT
 * may be handled by another thread a moment later), or after 2 s. Without the variable it does
 * nothing. */
void proc_test_pause(const char *point);

/* Starts argv[0] (PATH lookup) in its own process group, with fds for stdin/stdout/stderr
 * (-1 means /dev/null). The child dies with kiln (PDEATHSIG), and so does its process group,
 * whatever kiln dies of: a guardian process, started at the first spawn, kills the group of
 * every child kiln had not reaped once kiln is gone. Returns 0 or -errno; -EPERM
 * (logged) when an argument holds a registered secret: any local user can read argv. */
int proc_spawn(char *const argv[], int in_fd, int out_fd, int err_fd, pid_t *pid);
/* proc_spawn with the child's environment envp ("NAME=value" strings, NULL-terminated; NULL:
 * kiln's own), so a caller gives a child its variables without changing kiln's environment. */
int proc_spawn_env(char *const argv[], char *const envp[], int in_fd, int out_fd, int err_fd, pid_t *pid);
/* A copy of env (NULL: kiln's own environment) with NAME=value in place of any NAME there,
 * for proc_spawn_env. Free with proc_env_free. */
char **proc_env_set(char *const env[], const char *name, const char *value);
void proc_env_free(char **env);
/* Waits up to timeout_ms (-1 forever). 0 and *status on exit, -ETIMEDOUT otherwise. */
int proc_wait(pid_t pid, int timeout_ms, int *status);
/* SIGTERM, then SIGKILL after grace_ms; reaps the child. */
void proc_kill(pid_t pid, int grace_ms);
void proc_kill_all(void);
/* When process pid started, in clock ticks after boot (/proc/PID/stat field 22): with the pid,
 * it names a process even after pids wrap. 0 or -ENOENT (no such process) / -errno. */
int proc_start_time(pid_t pid, unsigned long long *ticks);
/* Runs argv to completion with a timeout; captures stdout+stderr into *output when non-NULL.
 * Returns the exit status (>= 0), or -errno / -ETIMEDOUT. */
int proc_run(char *const argv[], int timeout_ms, char **output);
/* proc_run with the child's environment envp (as proc_spawn_env; NULL: kiln's own). */
int proc_run_env(char *const argv[], char *const envp[], int timeout_ms, char **output);
/* proc_run capturing stdout alone (stderr goes to /dev/null), for output that is data: at most
 * max bytes, and a child that prints more is killed and -E2BIG returned rather than its
 * output cut short. */
int proc_run_stdout(char *const argv[], int timeout_ms, size_t max, char **output);
