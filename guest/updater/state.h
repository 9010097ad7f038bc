/* The updater's decisions as a pure state machine: no I/O, no clock, no randomness of its own
 * (the caller passes the time and a random number), so every transition is unit-tested
 * (tests/unit/test_updater.c). main.c performs the actions it asks for and feeds back what
 * happened. The persisted part (struct upd_state) is what survives a reboot.
 *
 * Omaha event types and results are those of the Omaha v3 protocol as Flatcar's update_engine
 * and Nebraska use them; the error codes are kiln's own (docs/updates.md). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UPD_VERSION_MAX 64

/* Omaha <event eventtype=...> */
enum upd_event_type {
    UPD_EV_UPDATE_COMPLETE = 3,      /* with result SUCCESS_REBOOT: the new version runs and is blessed */
    UPD_EV_DOWNLOAD_STARTED = 13,
    UPD_EV_DOWNLOAD_FINISHED = 14,   /* downloaded and verified (signature, digests, verity root hash) */
    UPD_EV_INSTALLED = 800,          /* boot entry written: the next boot tries the new slot */
};
/* Omaha <event eventresult=...> */
enum upd_event_result { UPD_RES_ERROR = 0, UPD_RES_SUCCESS = 1, UPD_RES_SUCCESS_REBOOT = 2 };

/* errorcode of a failure event (eventtype 3, eventresult 0) */
enum upd_error {
    UPD_ERR_NONE = 0,
    UPD_ERR_DOWNLOAD = 10,     /* a payload file could not be fetched (HTTP, network, timeout) */
    UPD_ERR_TOO_LARGE = 11,    /* a file is larger than its slot partition, the ESP, or what update.json says */
    UPD_ERR_DIGEST = 12,       /* a file's sha256 is not the one update.json (or the Omaha response) gives */
    UPD_ERR_SIGNATURE = 13,    /* update.json is unsigned, signed by an untrusted key, or altered */
    UPD_ERR_VERITY = 14,       /* the /usr image does not hash to the signed verity root hash */
    UPD_ERR_MANIFEST = 15,     /* update.json is malformed or names another image, version or architecture */
    UPD_ERR_WRITE = 16,        /* the inactive slot or the ESP could not be written */
    UPD_ERR_BOOT_ENTRY = 17,   /* the boot entry could not be written */
    UPD_ERR_ROLLBACK = 20,     /* the new version used up its boot tries unblessed: the machine fell back */
};

enum upd_phase {
    UPD_IDLE,      /* nothing pending: check when next_check comes */
    UPD_INSTALLED, /* the other slot holds `pending` and a counted boot entry points at it */
};

struct upd_config {
    bool auto_apply;          /* updates.auto: false = check and report, never apply */
    bool reboot;              /* reboot once installed (else the next reboot switches) */
    int64_t interval_s;       /* between successful checks */
    int64_t jitter_s;         /* up to this much added to every wait */
    int64_t backoff_base_s;   /* the first wait after an error, doubling per consecutive error */
    int64_t backoff_max_s;
};

struct upd_state {
    enum upd_phase phase;
    char pending[UPD_VERSION_MAX];  /* the version installed into the other slot */
    char previous[UPD_VERSION_MAX]; /* the version that installed it (the fallback) */
    char failed[UPD_VERSION_MAX];   /* the last version that failed: never installed again */
    char boot_id[40];               /* the boot that installed `pending` (a later boot decides) */
    unsigned errors;                /* consecutive failed checks or installs */
    int64_t next_check;             /* unix seconds */
};

enum upd_action {
    UPD_ACT_NONE,     /* wait for next_check */
    UPD_ACT_CHECK,    /* send an update check (with any events) */
    UPD_ACT_INSTALL,  /* download, verify and install `version` into the other slot */
    UPD_ACT_REBOOT,   /* reboot into the new slot */
};

struct upd_event {
    enum upd_event_type type;
    enum upd_event_result result;
    enum upd_error code;
    char previous[UPD_VERSION_MAX]; /* previousversion=, or "" */
};

/* What one step asks the caller to do: report these events, then perform the action. */
struct upd_out {
    enum upd_action action;
    char version[UPD_VERSION_MAX]; /* for INSTALL */
    struct upd_event events[3];
    size_t nevents;
};

/* Called on every run before anything else: boot_id is this boot's
 * (/proc/sys/kernel/random/boot_id), running the version in /usr/lib/os-release, blessed
 * whether its boot entry is blessed (no counter left). Settles a pending update once a later
 * boot than the installing one runs: complete when the new version runs blessed, ROLLBACK
 * when the machine runs anything else (its tries were used up). Until the new version is
 * blessed nothing is decided. */
void upd_on_boot(struct upd_state *s, const char *boot_id, const char *running, bool blessed, struct upd_out *out);
/* The timer fired at now: CHECK when next_check has come (or force), else NONE. */
void upd_on_timer(const struct upd_state *s, int64_t now, bool force, struct upd_out *out);
/* The server answered: offered is the version offered ("" for noupdate). INSTALL when it is
 * newer than running, not the failed one, and auto is on; else NONE. Schedules the next check. */
void upd_on_check(struct upd_state *s, const struct upd_config *c, const char *running, const char *offered, int64_t now,
                  uint32_t rnd, struct upd_out *out);
/* The check itself failed (network, HTTP, malformed response): back off. */
void upd_on_check_failed(struct upd_state *s, const struct upd_config *c, int64_t now, uint32_t rnd, struct upd_out *out);
/* The install of version ended: code UPD_ERR_NONE (the slot is written and verified and the
 * entry written) or the error. Success reports INSTALLED and REBOOTs per policy; failure
 * reports the error and backs off. */
void upd_on_install(struct upd_state *s, const struct upd_config *c, const char *running, const char *version,
                    enum upd_error code, const char *boot_id, int64_t now, uint32_t rnd, struct upd_out *out);
/* When to check next: interval (ok) or the back-off for `errors` consecutive errors, plus
 * rnd % (jitter + 1). */
int64_t upd_next_check(const struct upd_config *c, unsigned errors, int64_t now, uint32_t rnd);
/* Whether version a is newer than b (strverscmp order, as systemd-boot sorts entries). */
bool upd_newer(const char *a, const char *b);
/* Configuration text (updater.conf: "key=value" lines, # comments; keys server, channel, auto,
 * reboot, interval, jitter, backoff_base, backoff_max) applied over c, *server and *channel
 * (replaced, allocated): the image's /etc/kiln/updater.conf first, then the provisioning
 * override /run/kiln/updater.conf, each key of the later one winning. -EINVAL with *bad_line
 * (1-based) at the first line that is not a known key with a valid value; nothing of that
 * text is applied then. */
int upd_config_apply(const char *text, struct upd_config *c, char **server, char **channel, int *bad_line);
/* The state as "key=value" lines and back; parse rejects unknown keys and oversized values. */
char *upd_state_format(const struct upd_state *s);
int upd_state_parse(const char *text, struct upd_state *s);
