/* The updater's state on disk (struct upd_state, state.h) and the lock that makes one run at a
 * time its only reader and writer. The state lives on the root partition
 * (/var/lib/kiln-updater/state), which every version shares: the run that installs N+1 writes
 * it before the reboot, and N's updater reads it again after a fallback boot. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "state.h"

/* Takes the exclusive flock(2) on lock_path (created 0600; blocks while another run holds it)
 * and only then reads state_path into *s: a run that waited for another one (the timer's run
 * beside kiln-updater-now) must see what that one saved, or it would save its stale copy over
 * an install the other recorded. A missing file is the initial state; an unreadable or
 * damaged one (*damaged set) too. Returns the lock's fd (close it to release the lock) or
 * -errno of open/flock. */
int upd_store_open(const char *lock_path, const char *state_path, struct upd_state *s, bool *damaged);
/* Writes data to path durably: a temporary file beside it, fsync'd, renamed over path, and
 * the directory fsync'd, so a crash or a forced reset leaves the old or the new contents,
 * never an empty file, and a reboot right after sees the new ones. 0 or -errno. */
int upd_write_durable(const char *path, const char *data, size_t len, unsigned mode);
/* The state as upd_state_format's text, written with upd_write_durable (the directory is
 * created when missing). 0 or -errno. */
int upd_store_save(const char *state_path, const struct upd_state *s);
