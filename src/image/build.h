/* `kiln build`: spec → rootfs (cached) → customized, generalized tree → ESP + root filesystem
 * images → GPT disk → raw / qcow2 / VHD / tar + manifest.json. The stages are a table in
 * build.c; what they share is image/build_int.h. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "image/spec.h"

/* What a build reports while it runs; the library prints nothing, the caller (cmd/build.c)
 * turns each event into its line. */
enum build_event_kind {
    BUILD_STAGE_BEGIN, /* stage, index of count */
    BUILD_STAGE_END,   /* stage, index of count, seconds; text: what it made, or NULL */
    BUILD_INFO,        /* stage; text: something the spec asked for, done */
    BUILD_NOTE,        /* stage; text: the spec asked for something the image does differently */
    BUILD_WARNING,     /* stage (NULL: the image as a whole); text: what is wrong and what to do */
    BUILD_ERROR,       /* stage, text; for a failed command also output (its last lines, or NULL
                        * when the log cannot be read) and path (the whole build log) */
    BUILD_DONE,        /* seconds: the whole build; path: OUT/NAME-VERSION, what every output's name starts with */
    BUILD_LOG_KEPT,    /* the build failed; path: where its log was copied */
    BUILD_PROGRESS,    /* stage; text: what the stage is doing now, one line. step: a new phase
                        * or a finished piece (a line of its own where no line is rewritten);
                        * else a live update, reported often (on every line the package manager
                        * prints, every few MiB written or hashed). done, total: bytes (0 and 0:
                        * none; total 0: not known); seconds: since that phase or piece began */
};

struct build_event {
    enum build_event_kind kind;
    const char *stage;
    int index, count;  /* 1-based position among the stages this spec runs */
    double seconds;
    const char *text;
    const char *output; /* several lines, each ending in '\n' */
    const char *path;   /* BUILD_DONE: the outputs' OUT/NAME-VERSION; BUILD_LOG_KEPT: the kept log */
    bool step;          /* BUILD_PROGRESS */
    uint64_t done, total;
};

struct build_opts {
    const char *out_dir;
    bool no_cache;        /* --refresh / --no-cache: rebuild the package tree even when a cached one matches */
    int only_output;      /* -1: the spec's outputs; else one enum image_output */
    long source_date_epoch; /* SOURCE_DATE_EPOCH (seconds), or -1: the build's start time */
    void (*on_event)(const struct build_event *e, void *userdata); /* NULL: nothing is reported */
    void *userdata;
};

/* Builds s into o->out_dir. Every artifact is staged and renamed into place, the manifest
 * last; a failed build leaves only NAME-VERSION.build.log there. Runs the package manager as
 * root. Returns 0, -EPERM (not root), -EINTR (interrupted), -ENOTDIR (o->out_dir cannot be
 * made: nothing ran, no log is kept) or -EIO (a stage failed). A BUILD_ERROR event says why. */
int image_build(const struct image_spec *s, const struct build_opts *o);
