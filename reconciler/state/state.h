/*
 * state.h - the state directory (DESIGN.md "State directory"):
 *
 *   <state>/applied            last applied commit (fs_write_atomic)
 *   <state>/current            symlink -> releases/<id>, swapped with rename()
 *   <state>/releases/<id>/     one per apply: COMMIT, PLAN, policy.yaml,
 *                              terraform/route53/<zone>.tf.json, hiera/pins/<env>.yaml,
 *                              enc/<bb> -> ../../../buckets/<id>-<bb>
 *   <state>/buckets/<id>-<bb>/ immutable: the ENC documents whose fqdn hashes
 *                              (FNV-1a, low byte, two hex digits) to bb
 *   <state>/plans/<id>.json    every plan, with its outcome
 *   <state>/lock               flock()ed by every writer
 *
 * File modes are set exactly (see the table in state.c), never left to
 * the umask.
 *
 * A release shares every bucket it did not change with the one before it,
 * so a one-host change writes one bucket (hard links to the unchanged
 * documents plus the new one) and 256 symlinks, not 100k files; `firebreak
 * enc` opens one path whatever the inventory's size; and readers resolve
 * `current` once per open, so the switch is atomic for every reader.
 */
#ifndef FIREBREAK_STATE_H
#define FIREBREAK_STATE_H

#include <stddef.h>

#include "model/artifact.h"
#include "plan/plan.h"

#define STATE_KEEP_RELEASES 5

/*
 * Who may read what (DESIGN.md "Security rules"; the table in state.c
 * says which directory is which).  Private: the controller's user only
 * (plans, outbox, threads).  Shared: also the group Puppet runs in
 * (releases and buckets, which `firebreak enc` and Hiera read), never
 * others.
 */
#define STATE_MODE_PRIVATE      0600
#define STATE_MODE_PRIVATE_DIR  0700
#define STATE_MODE_SHARED       0640
#define STATE_MODE_SHARED_DIR   0750

struct state;

/*
 * Open (and with `create`, make) a state directory and take its writer
 * lock (blocking).  Finishes what a crash interrupted: a swapped `current`
 * whose commit `applied` does not yet say is taken as applied.
 * ERR_NOTFOUND when it does not exist and !create.
 */
int state_open(struct state **out, const char *dir, int create);
void state_close(struct state *s);

/* Read the applied commit without opening (no lock: it is replaced
 * atomically).  out[0] == '\0' when nothing was applied yet. */
int state_read_applied(const char *dir, char out[41]);

/* The id the next recorded plan gets (max existing + 1). */
void state_next_plan_id(struct state *s, char out[24]);

/* Store plans/<id>.json: the plan with `extra` JSON fields (outcome). */
int state_save_plan(struct state *s, const struct plan *p, const char *extra_json);

/*
 * Make the plan's target current: write release <plan id> from `target`
 * (sharing unchanged buckets with the current release when it is the
 * plan's base), sync, swap `current`, write `applied`, and drop releases
 * beyond the last STATE_KEEP_RELEASES.  On failure nothing changes for
 * readers.
 */
int state_apply(struct state *s, const struct plan *p, const struct artifacts *target);

/*
 * Call fn for every stored plan (<dir>/plans/<id>.json that parses), in no
 * particular order, with the file's path and its JSON (both borrowed for
 * the call).  fn returning non-zero stops the walk.  A missing plans/
 * directory is no plans.
 */
struct json_t;
int state_each_plan(const char *dir, int (*fn)(void *ctx, const char *file,
    struct json_t *plan), void *ctx);

#endif
