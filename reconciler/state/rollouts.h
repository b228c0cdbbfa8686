/*
 * rollouts.h - a rollout's durable record (DESIGN.md "Rollout"), and the
 * staged release store that holds hosts outside a canary back.
 *
 * Layer: state.  The controller (controller/rollout.c) writes records;
 * the bot and the CLI only read them.
 *
 *   <state>/rollouts/<id>.json   the record (a rollout's id is its plan's):
 *                                status, the hosts in order with their
 *                                group (0 the canary, k the k-th batch),
 *                                state, attempts, timings and last result
 *   <state>/rollouts/<id>.log    while the rollout is not over: one line
 *                                per host event since the record was
 *                                last written (write(2) with O_APPEND;
 *                                fdatasync at each batch's end)
 *
 * Why a journal: a host's start and end are two events each, and 1,000
 * hosts at 50 at a time must cost well under 2 ms each; rewriting a
 * 150 KB record with fsync per event would not.  A journal line is
 * written before the host's run starts ("running", attempt n) and when it
 * ends (its result); the record is rewritten at every change of the
 * rollout's own state (a batch ends, it stops, resumes, ends), which also
 * empties the journal.  Every line carries a sequence number and the
 * record the last one it includes, so a kill between the record's rename
 * and the journal's truncation replays nothing twice.  A kill -9 loses
 * nothing written (the page cache outlives the process); a power failure
 * may lose the lines since the last batch end, and those hosts then run
 * again -- a Puppet run converges, so running twice is safe, and each
 * host has one state, so nothing is counted twice.
 *
 * After a restart a host whose journal says "running" has no result: it
 * is pending again, and runs again (its attempt is not counted as a
 * retry).
 */
#ifndef FIREBREAK_ROLLOUTS_H
#define FIREBREAK_ROLLOUTS_H

#include <stddef.h>
#include <stdint.h>

#include "base/util.h"

struct json_t;
struct state;

enum rh_state {
	RH_PENDING, RH_RUNNING, RH_UNCHANGED, RH_CHANGED, RH_FAILED, RH_UNREACHABLE, RH_SKIPPED,
	RH__COUNT
};
/* "pending", "running", ... as `rollout ID` shows them. */
const char *rh_state_name(enum rh_state s);
int rh_state_parse(enum rh_state *out, const char *s);
/* Has the host's run ended (in any way but skipped)? */
#define RH_ENDED(s) ((s) >= RH_UNCHANGED && (s) <= RH_UNREACHABLE)
#define RH_BAD(s) ((s) == RH_FAILED || (s) == RH_UNREACHABLE)

/* What a rollout is doing. */
enum ro_status {
	RO_WAITING,        /* the release switched; apply providers still run */
	RO_RUNNING,        /* the canary or a batch is running */
	RO_GATE,           /* the canary passed; a gate holds it (why says which) */
	RO_STOPPED,        /* more failures than max_failures: waits for resume or abort */
	RO_DONE,
	RO_ABORTED,
	RO_SUPERSEDED,
	RO__COUNT
};
const char *ro_status_name(enum ro_status s);
#define RO_OVER(s) ((s) >= RO_DONE)

struct ro_host {
	char *fqdn;               /* owns */
	unsigned group;           /* 0: canary; k: batch k */
	enum rh_state state;
	unsigned attempts;        /* runs started (retries of a busy host count) */
	double started;           /* unix time the last run started, or 0 */
	double seconds;           /* the last run's wall time */
	int code;                 /* the last exit status, -1 none or a signal */
	char *how;                /* owns, or NULL: "exited with status 4" */
	char *tail;               /* owns, or NULL: the output's tail (printable) */
	char *line;               /* owns, or NULL: one line of it, for chat */
	char *note;               /* owns, or NULL: why skipped, "busy: retry 2 of 3" */
	double retry_at;          /* in memory only: a busy host's next try (log_now) */
};

struct ro_record {
	char id[24];              /* the plan's id */
	char target[41];          /* the plan's commit */
	char *subject;            /* owns, or NULL: the commit's subject */
	enum ro_status status;
	char *why;                /* owns, or NULL: why stopped / aborted / waiting */
	unsigned group;           /* the group running or next */
	unsigned ngroups;         /* canary (always group 0, maybe empty) + batches */
	int staged;               /* the canary ran with the others held back */
	int promoted;             /* every host gets the new release now */
	int gate_passed;          /* a person resumed past the gates */
	unsigned long failures;   /* failed hosts since the start or the last resume */
	unsigned long max_failures;
	unsigned parallel;
	char *superseded_by;      /* owns, or NULL */
	double created, ended;    /* unix times */
	struct ro_host *hosts;    /* owns; in run order */
	size_t nhosts;
	struct json_t *announce;  /* owns, or NULL: messages written ahead, not yet
	                           * queued: [{post, summary, body}] */
	uint64_t seq;             /* the last journal line the record includes */
	int jfd;                  /* the journal, open for appending, or -1 */
};

void ro_record_free(struct ro_record *r);

/*
 * Write the record (rollouts/<id>.json, atomically, 0600) and empty its
 * journal; an over rollout's journal is removed, which is what tells
 * retention and restarts it is over.  OK or the error.
 */
int ro_record_save(const char *state_dir, struct ro_record *r);

/* Append host i's state to the journal (no fsync; see above). */
int ro_journal_host(const char *state_dir, struct ro_record *r, size_t i);
/* fdatasync the journal (a batch's end). */
void ro_journal_sync(struct ro_record *r);

/*
 * Read rollouts/<id>.json and replay its journal.  *out owns.
 * ERR_NOTFOUND when there is no rollout of that id; ERR_INVALID for a bad
 * id or a record that does not parse.
 */
int ro_record_load(struct ro_record **out, const char *state_dir, const char *id);

/* The ids of the rollouts that are not over (a journal exists), in
 * increasing order, into ids (at most max); returns how many. */
size_t ro_active_ids(const char *state_dir, unsigned long *ids, size_t max);

/* The newest rollout's id into out (""), for `rollout` without an id. */
int ro_latest_id(const char *state_dir, char out[24]);

/* The record as JSON (owns), for the plan's JSON and page. */
struct json_t *ro_record_json(const struct ro_record *r);

/* Per-host state counts: n[RH__COUNT]. */
void ro_record_counts(const struct ro_record *r, size_t n[RH__COUNT]);

/* `rollout ID` as text: a summary line, then each host with its state,
 * group, timing and, for a failure, its one line. */
void ro_record_text(struct buf *out, const struct ro_record *r);

/* The staged release store is in state.h (state_apply_staged and friends). */

#endif
