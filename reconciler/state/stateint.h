/*
 * stateint.h - what state.c (the directory, the release store), plans.c
 * (plan ids, the index, plan records) and retain.c (retention) share.
 * Only those three include it.  Layer: state.
 */
#ifndef FIREBREAK_STATEINT_H
#define FIREBREAK_STATEINT_H

#include <jansson.h>
#include <stddef.h>

#define PLAN_ID_MAX (1ul << 62)
#define INDEX_FILE_MAX (16u << 20)
#define PLAN_FILE_MAX (64u << 20)

struct state {
	char *dir;
	int lockfd;
	int dirfd;
	unsigned long last_id;     /* the last plan id handed out (plan-seq) */
	json_t *index;             /* open-plans.json's "plans": id -> entry */
};

/* snprintf into a fixed buffer, refusing truncation (ERR_TOOBIG). */
int state_path_fmt(char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The release id `current` points at, or 0 when there is none. */
unsigned long state_current_release(const struct state *s);

/* The release a staged rollout holds back (state.c), or 0. */
unsigned long state_staged_release(const struct state *s);

/* Drop the buckets no release in releases/ names. */
void state_gc_buckets(const struct state *s);

/* Read a regular file of at most `cap` bytes as JSON (*out owns); a FIFO
 * or a device is refused, never waited on.  ERR_NOTFOUND, ERR_INVALID,
 * ERR_TOOBIG, ERR. */
int state_load_json(json_t **out, const char *path, size_t cap);

/* state_open's steps: load (or build from plans/) the index, then the
 * plan counter (or recover it). */
int state_index_load(struct state *s);
int state_seq_load(struct state *s);

#endif
