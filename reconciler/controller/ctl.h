/*
 * ctl.h - the controller's inside: the one struct the loop owns, and the
 * functions its files share.  Only files of reconciler/controller/
 * include this header; everything else reaches the controller through
 * controller.h (the CLI) or the control socket (state/ctlclient.h).
 *
 * Layer: controller (includes state, plan, renderers, model, git, base,
 * and provider interfaces).  One thread: nothing here is locked.
 *
 *   loop.c       controller_run: the poll loop, start-up and shutdown, fetch
 *   reconcile.c  a new head -> plan -> decision; outcomes announced once;
 *                what a restart finds in the index
 *   applying.c   an apply: the release switch, the apply providers and their
 *                durable progress, the outcome; finishing one a restart
 *                found cut short
 *   world.c      apply providers outside a new head's apply: preparing a plan
 *                (a saved Terraform plan) before it is decided, re-runs (retry,
 *                reconcile, a stale saved plan planned anew), the drift loop
 *   approve.c    approve / discard (one procedure, warm or cold; approvals
 *                per kind; a stale plan names the fresh one)
 *   ctlsock.c    the control socket's server
 *   jobs.c       chat commands run as children
 *   chatin.c     chat commands coming in (HTTP, IRC)
 *   metrics.c    /metrics
 *   metricsout.c the same counters to Graphite (metrics: graphite)
 *   health.c     health checks, their actions, the trust ladder's notices,
 *                the gate hook for rollouts
 *   http.c       the HTTP listener (knows nothing of struct ctl)
 *   hooksig.c    push hook signatures
 */
#ifndef FIREBREAK_CTL_H
#define FIREBREAK_CTL_H

#include <jansson.h>

#include "base/orphan.h"
#include "controller/controller.h"
#include "plan/pipeline.h"
#include "plan/plan.h"
#include "providers/apply/apply.h"
#include "providers/chat/chat.h"
#include "state/ctlclient.h"

struct pollfd;

#define BOT_RUNNING 4            /* bot commands running at once */
#define BOT_QUEUED 64            /* waiting beyond those; more are refused */
#define BOT_TIMEOUT_MS 120000
#define FETCH_TIMEOUT_MS 60000
#define BOT_HOLD_SECONDS 2.0     /* a new head waits this long for a running
                                  * command to announce its commit first */
#define CTL_LAT_BUCKETS 8
#define CTL_MAX_ROUTES 16          /* HTTP routes of all chat providers */

#define CTL_MAX_CONNS 8           /* control socket clients at once */
#define CTL_CONN_SECONDS 10       /* to send a request, and to read the answer */

struct apply_provider;
struct hactl;
struct hctl;
struct mout;
struct ctl_reading;
struct ctl_rerun_req;
struct orch_provider;
struct rollout;
struct http;
struct http_request;
struct http_reply;
struct outbox;
struct proc;
struct repo;
struct state;

/* One chat command, run as `firebreak-core chat ... --json` (a child:
 * the loop never waits for git, and a crash stays in the child). */
struct botjob {
	struct proc *proc;           /* NULL while queued */
	char *health_host;           /* owns: a health action's drain of this host
	                              * (`chat --health-action`), or NULL */
	char *health_reason;         /* owns: its finding, for the commit's body */
	int backend;                 /* the chat[] entry it came through */
	struct chat_command cmd;     /* owns */
	int reply_only;              /* only answer cmd.text through the backend's
	                              * reply op (`firebreak-core reply`) */
	char claim[65];              /* HA: the inbound event's claim id (hex), so a
	                              * leader whose term ends before the job
	                              * started hands it back; "" none */
};

/* An HTTP route a chat provider declared, and whose it is. */
struct chat_route {
	const char *path;            /* borrowed from the provider (static) */
	int backend;
};

/* One control socket client. */
struct ctlconn {
	int fd;                      /* -1: a free slot */
	double deadline;             /* log_now() seconds */
	char req[CTL_MAX_REQUEST + 1];
	size_t len;
	int writing;                 /* the answer is in `out` */
	struct buf out;
	size_t off;                  /* how much of out is written */
};

struct ctl {
	const struct config *cfg;
	struct repo *repo;
	struct state *st;
	struct outbox *ob;
	struct snapshot base;          /* the applied commit, warm */
	char head[41];                 /* the last head reconciled */
	char ref[300];                 /* refs/heads/<branch> */
	struct plan *open;             /* awaiting an approver, or NULL */
	struct snapshot open_target;
	json_t *carried;               /* owns; approvals of plans a restart
	                                * superseded, by plan hash, or NULL */
	int bootstrap_apply;
	int ifd, sfd, lfd;
	struct ctlconn conns[CTL_MAX_CONNS];
	char last_error[512];
	/* Apply providers (config `apply:`), and the one apply running
	 * (applying.c): from the release switch to the recorded outcome. */
	const struct apply_provider **aps;
	void **apst;
	size_t naps;
	struct plan *hook_plan;        /* owned while its hooks run */
	json_t *hook_rec;              /* owns: hook_plan's record as stored
	                                * (outcome "applying", its providers'
	                                * progress), NULL when none runs */
	struct snapshot hook_base;     /* the release before hook_plan's, kept
	                                * until its hooks end (apply_info) */
	unsigned hook_flags;           /* APPLY_AFTER_RESTART: a restart is
	                                * finishing hook_plan */
	int hook_kick;                 /* hook_plan's providers are to start at
	                                * the loop's next turn (a resume: the
	                                * rest of the start-up sees it first) */
	size_t hook_next;              /* the next provider to consider */
	void *hook_run;                /* the running provider's run, or NULL */
	size_t hook_idx;
	struct orphan hook_orphan;     /* a run a killed controller left, being
	                                * stopped before its provider runs again
	                                * (pid 0: none) */
	double hook_orphan_until;      /* log_now() when to escalate */
	int hook_orphan_killed;        /* SIGKILL sent */
	/* world.c: a new plan's apply providers preparing it before it is
	 * decided (one at a time; planning waits meanwhile). */
	struct plan *prep_plan;        /* owned while it is prepared, or NULL */
	struct snapshot prep_target;
	size_t prep_next, prep_idx;
	void *prep_run;                /* the preparing provider's run, or NULL */
	struct buf prep_failed;        /* why preparing failed */
	int prep_changes;              /* a provider's preparation changes the world */
	char renew_id[24];             /* the owed re-run plan being made (renew.json), or "" */
	unsigned hook_stale;           /* entries whose apply answered APPLY_STALE */
	struct ctl_rerun_req *rerun_due;   /* owns; a re-run to start when idle */
	/* world.c: the drift loop (config drift_seconds) and `drift`. */
	struct ctl_reading *drift;       /* owns; naps entries: the last reading */
	void *drift_run;               /* the reading provider's run, or NULL */
	size_t drift_idx, drift_next;
	double drift_due;              /* log_now() of the next sweep */
	int drift_sweep;               /* a sweep is under way */
	int drift_asked;               /* someone asked: say what is found */
	unsigned long world_gen;       /* bumped when an apply provider starts */
	unsigned long drift_gen;       /* world_gen when the sweep began */
	unsigned long *ap_failures;    /* owns; per entry, for /metrics */
	int retain_more;               /* retention has more to do */
	int dirty;                     /* a ref moved while hooks ran */
	struct http *http;
	int fetch_now;
	double dirty_since;
	/* Rollouts (config `rollout:`; rollout.c): the orchestrator, the one
	 * rollout not over, and the one a release switch is about to start. */
	const struct orch_provider *orch;
	void *orch_st;
	struct rollout *ro, *next_ro;
	int ro_hold;                   /* a cold controller (the CLI): no runs */
	unsigned long ro_results[8];   /* hosts by rh_state, for /metrics */
	/* The bot. */
	struct botjob *jobs[BOT_RUNNING + BOT_QUEUED];
	size_t njobs;
	char self[4096];               /* this program, for the bot's children */
	struct chat_route routes[CTL_MAX_ROUTES];
	const char *route_paths[CTL_MAX_ROUTES + 1];   /* for the HTTP listener */
	size_t nroutes;
	struct proc *fetch_proc;       /* `firebreak-core fetch` running, or NULL */
	/* Metrics. */
	unsigned long by_decision[DECISION_INVALID + 1];
	unsigned long applies_ok, applies_failed;
	double last_applied_at;
	unsigned long lat_buckets[CTL_LAT_BUCKETS], lat_count;
	double lat_sum;
	struct hctl *health;           /* health.c: checks, episodes, gates */
	double turn_max;               /* the longest loop turn (work between two
	                                * polls) since health.c last reset it: wall
	                                * time, and the CPU time this process spent
	                                * in it (the difference is waiting for a core) */
	double turn_cpu_max;
	double ro_turn_from;           /* rollout.c: when the rollout in hand began */
	double ro_turn_max;            /* the longest turn since then (loop.c),
	                                * logged when the rollout is over */
	struct mout *mout;             /* metricsout.c: Graphite plaintext, or NULL */
	struct hactl *ha;              /* ha.c: with `ha:`, borrowed from ctl_ha_run; or NULL */
};

extern const double ctl_lat_bounds[CTL_LAT_BUCKETS];

/* loop.c: open everything the controller needs (repository, state lock,
 * applied commit, outbox, apply providers, inotify); ctl_close undoes
 * whatever ctl_open got to, so it is safe after a failed open.  `start`:
 * the controller's start, which also begins stopping (ctl_stop_leftovers)
 * what a killed controller's apply left running, as soon as it holds the
 * state lock and before the slow part of the start-up. */
int ctl_open(struct ctl *c, const struct config *cfg, int start);
void ctl_close(struct ctl *c);

/* reconcile.c */
/* Post to every chat through the outbox (stored first). */
void ctl_notify(struct ctl *c, const struct plan *p, const char *summary, const char *body,
    int actions);
/*
 * Record plan p's `outcome` (and who decided it), and announce it in the
 * plan's thread exactly once: written ahead with the outcome, queued, the
 * mark cleared (see reconcile.c).  `summary` NULL: nothing to say.  OK or
 * the error of recording (the announcement is queued either way).
 */
int ctl_conclude(struct ctl *c, const struct plan *p, const char *outcome, const char *by,
    const char *summary, const char *body, int actions);
/* The same for a stored plan read back as JSON (borrowed; its outcome
 * and announcement are set in it). */
int ctl_conclude_json(struct ctl *c, json_t *j, const char *outcome, const char *by,
    const char *summary, const char *body, int actions);
/* The write-ahead's steps for a message that is not an outcome (an apply
 * provider's report): ctl_announce_field reserves the post and returns
 * the record's "announce" field (owns; NULL: no chat or no summary), the
 * caller stores it in the plan's record with state_save_*(..., post),
 * then ctl_announce_queue queues it and clears the index's mark. */
json_t *ctl_announce_field(struct ctl *c, uint64_t *post, const char *summary,
    const char *body, int actions);
void ctl_announce_queue(struct ctl *c, const char *plan_id, const char *thread,
    const json_t *ann);
/* Record an outcome that is not announced (an approval's progress). */
int ctl_save_outcome(struct state *st, const struct plan *p, const char *outcome,
    const char *by);
void ctl_drop_open(struct ctl *c);

/* applying.c */
/*
 * Switch the release to p's target and run its apply providers; steals p
 * and the snapshot's contents.  `said`: the outcome's words for chat once
 * the providers are done (" (bootstrap: applied)"), or NULL to say
 * nothing (a noop).  The outcome is announced when the last provider
 * ended, or the first failed: once, written ahead (ctl_conclude).  OK
 * once the release is switched; the error of the switch otherwise (the
 * plan is then failed, and said so).
 */
int ctl_apply(struct ctl *c, struct plan *p, struct snapshot *target, const char *by,
    const char *said);
/* Is an apply (or the stop of a run a killed controller left) in
 * progress, so that the loop must call ctl_hooks_step? */
int ctl_hooks_busy(const struct ctl *c);
/* Lower *timeout (ms) and add the running provider's fd to pfd (at most
 * max); returns how many fds were added. */
size_t ctl_hooks_pollfds(struct ctl *c, struct pollfd *pfd, size_t max, int *timeout);
/* The running apply provider's fd or timeout fired; never blocks. */
void ctl_hooks_step(struct ctl *c);
/*
 * Finish plan j (borrowed), which a stopped or killed controller left
 * applying with its target released: run again the providers that had
 * not finished (after stopping what the dead process left of a run),
 * then conclude and announce it like any other apply.  Nothing blocks:
 * the loop drives it.  Only one at a time: ERR_CONFLICT while an apply
 * runs (the next is found when this one ends).
 */
int ctl_resume(struct ctl *c, json_t *j);
/* SIGTERM the process group of every provider run the index's applying
 * plans say was running, if it still runs; the first becomes hook_orphan,
 * which ctl_resume then waits for instead of signalling it again. */
void ctl_stop_leftovers(struct ctl *c);
/* One status line for the apply in progress (`applying:` or
 * `finishing:`), or nothing. */
void ctl_hooks_status(struct ctl *c, struct buf *b);
/* Run plan p's apply providers (takes p): a re-run's (world.c), whose
 * release is current already; c->hook_base set.  Its record says
 * "applying" from here on, decided `by` (may be NULL), and its outcome is
 * announced when the providers end, with `said` after the summary line as
 * ctl_apply's (NULL: nothing said). */
void ctl_hooks_begin(struct ctl *c, struct plan *p, const char *by, const char *said);
/* Act on a new plan's decision (post it, apply it, or hold it open);
 * takes p and the snapshot's contents. */
void ctl_act(struct ctl *c, struct plan *p, struct snapshot *target);
/* Plan the branch head against the applied commit and act on it. */
void ctl_reconcile(struct ctl *c);
/* Queue every announcement a kill left unqueued (ctl_open does, before
 * anything can deliver from the outbox); with `settle` (the controller's
 * start), also settle the plans a stopped controller left applying or
 * open. */
void ctl_recover_plans(struct ctl *c, int settle);
/* Resume the next plan a restart found applying with its target
 * released, if any (after one such plan ended). */
void ctl_resume_next(struct ctl *c);
/* One bounded pass of retention; sets retain_more when it stopped at a
 * bound.  At start-up, after each apply, and while retain_more. */
void ctl_retain(struct ctl *c);

/* world.c */
/* Load the last drift readings; allocate per-entry state (after ctl_open). */
void ctl_world_open(struct ctl *c);
void ctl_world_close(struct ctl *c);
/*
 * Before plan p is decided: start the apply providers that prepare it
 * (terraform's saved plan).  1: started (takes p and *target; ctl_act
 * follows when they are done, or the plan fails); 0: nothing to prepare.
 */
int ctl_prepare(struct ctl *c, struct plan *p, struct snapshot *target);
void ctl_prep_step(struct ctl *c);
/* Does apply[i] run for plan p?  Fills *info for it. */
int ctl_wants(struct ctl *c, const struct plan *p, size_t i);
void ctl_apply_info(struct ctl *c, const struct plan *p, size_t i, const char *release,
    struct apply_info *info);
/* apply[i] failed for the running plan with code rc (APPLY_STALE too). */
void ctl_hook_failed(struct ctl *c, size_t i, int rc);
/* The running plan's providers are done: a stale saved plan is planned
 * anew when the loop is idle (borrows p).  Called before p's outcome is
 * written, so that the request is durable first (<state>/renew.json): a
 * kill between the outcome ("a new plan follows") and the new plan's own
 * record leaves it for the next start (ctl_renew_recover). */
void ctl_hooks_done(struct ctl *c, const struct plan *p);
/* At start-up, after ctl_recover_plans: a new plan a stopped controller
 * owed (renew.json) and never recorded becomes due again. */
void ctl_renew_recover(struct ctl *c);
/* A re-run plan approved or auto: no release switch, its providers run. */
int ctl_rerun_apply(struct ctl *c, struct plan *p, struct snapshot *target, const char *by,
    const char *said);
/* `retry ID` and `reconcile KIND` for `user`: *msg (owns) says what
 * happened.  OK, ERR_DENIED / ERR_CONFLICT / ERR_NOTFOUND / ERR_INVALID
 * (refused), ERR. */
int ctl_retry(struct ctl *c, const char *id, const char *user, char **msg);
int ctl_reconcile_kind(struct ctl *c, const char *kind, const char *user, char **msg);
/* `drift`: the last readings (and a reading now when there is none). */
void ctl_drift_answer(struct ctl *c, struct buf *out);
/* The loop's turn: start what is due (a re-run, a drift sweep), step the
 * runs.  Never blocks. */
void ctl_world_step(struct ctl *c);
/* The world runs' descriptors and timeout, for poll(). */
size_t ctl_world_pollfds(struct ctl *c, struct pollfd *pfd, size_t max, int *timeout);
/* /metrics lines of world.c (drift records, apply provider failures). */
void ctl_world_metrics(struct ctl *c, struct buf *out);
/* One line for `status`. */
void ctl_world_status(struct ctl *c, struct buf *out);
/*
 * rollout.c: Puppet runs on the hosts a release changed (DESIGN.md
 * "Rollout").  ctl_apply calls ctl_rollout_prepare before the release
 * switch (the record is written; *stage says whether to switch staged,
 * and for which canary hosts), ctl_rollout_switched after it (ok: it
 * happened; the rollout it supersedes is cancelled), and hooks_continue
 * calls ctl_rollout_begin when the apply providers end.  The loop polls
 * ctl_rollout_pollfds and calls ctl_rollout_step on every wake-up.
 */
struct ctl_stage {
	int staged;
	const char **fqdns;            /* owns the array; borrows the strings */
	const char **envs;
	size_t n;
};
int ctl_rollout_open(struct ctl *c);
void ctl_rollout_close(struct ctl *c);
int ctl_rollout_prepare(struct ctl *c, const struct plan *p, const struct snapshot *target,
    struct ctl_stage *stage);
void ctl_stage_dispose(struct ctl_stage *s);
void ctl_rollout_switched(struct ctl *c, const struct plan *p, int ok);
void ctl_rollout_begin(struct ctl *c, const char *plan_id, int providers_failed);
size_t ctl_rollout_pollfds(struct ctl *c, struct pollfd *pfd, size_t max, int *timeout);
void ctl_rollout_step(struct ctl *c);
/* `rollout resume ID` (resume 1) or `rollout abort ID` as policy user
 * `user`: *msg (owns) says what happened.  OK, ERR_DENIED (not allowed),
 * ERR_CONFLICT (nothing to resume or abort), ERR_NOTFOUND. */
int ctl_rollout_command(struct ctl *c, int resume, const char *id, const char *user, char **msg);
/* A cold controller (the CLI's approve): rollouts are recorded, and the
 * running controller runs them. */
void ctl_rollout_hold(struct ctl *c);
/*
 * After a restart, before the outbox delivers: read back every rollout
 * not over and go on with the newest (hosts that were running run again;
 * written-ahead messages are queued; a staged canary's overlay is made
 * again).  Idempotent.  A rollout still waiting for its apply providers
 * begins now, unless c->hook_plan (a recovery running them again) is its
 * plan: then the providers' end begins it.
 */
int ctl_rollout_resume_after_restart(struct ctl *c);
/* The stored rollout of plan `id` as JSON (owns), or NULL. */
json_t *ctl_rollout_json(const char *state_dir, const char *id);

/* approve.c: see controller_decide(). */
int ctl_decide_plan(struct ctl *c, int approve, const char *id, const char *user, char **msg);
/* A restart supersedes the open plan and plans its head again under a new
 * id, with the same hash: ctl_keep_approvals remembers a superseded
 * record's approvals (borrows j), ctl_carry_approvals gives them to the
 * new plan of the same hash. */
void ctl_keep_approvals(struct ctl *c, json_t *j);
void ctl_carry_approvals(struct ctl *c, struct plan *p);

/*
 * ctlsock.c: listen on <state>/run/control.sock (its directory 0700, the
 * peer's uid checked); every client is non-blocking with a deadline of
 * CTL_CONN_SECONDS, so one that connects and sends nothing costs a slot,
 * never the loop.  ctlsock_pollfds adds the listener and the clients to
 * pfd (at most max) and lowers *timeout to the nearest deadline;
 * ctlsock_step accepts, reads, answers, writes and expires without
 * blocking.
 */
int ctl_listen(struct ctl *c);
size_t ctlsock_pollfds(struct ctl *c, struct pollfd *pfd, size_t max, int *timeout);
void ctlsock_step(struct ctl *c);
void ctlsock_close(struct ctl *c);

/* jobs.c */
/* Queue a command from chat[backend]; takes *cmd (zeroes it) and returns
 * 1, or 0 when the queue is full (*cmd untouched; the caller says "busy"). */
int jobs_enqueue(struct ctl *c, struct chat_command *cmd, int backend);
/* Start what may start, collect what ended.  Never blocks. */
void jobs_step(struct ctl *c);
/* Is a command queued or running that may yet announce a commit? */
int jobs_may_commit(const struct ctl *c);
/* Answer `to` in chat[backend]'s channel, through the outbox (IRC). */
void jobs_answer_in_chat(struct ctl *c, int backend, const char *to, const char *text);
void job_free(struct botjob *j);
/* Stop and forget every job (shutdown). */
void jobs_close(struct ctl *c);

/* chatin.c: the routes the chat providers declare (ERR_INVALID when two
 * entries claim one); commands from connected backends; HTTP requests. */
int ctl_chat_open(struct ctl *c);
void ctl_chat_close(struct ctl *c);
void ctl_chat_irc(struct ctl *c);
void ctl_chat_http(void *ctx, const struct http_request *req, struct http_reply *rep);

/* loop.c: the fetch child. */
void ctl_fetch_start(struct ctl *c);
void ctl_fetch_step(struct ctl *c);

/* metrics.c */
void ctl_metrics(void *ctx, struct buf *out);

/*
 * health.c.  ctl_health_open reads <state>/health.json and opens the
 * source (no network); pollfds/step drive the one evaluation child and
 * the schedule without blocking (like ctlsock's).  ctl_health_job_done:
 * the bot's answer to a health drain (commit: 40 hex digits, or NULL and
 * the bot's text).  ctl_ladder_planned: a new plan's commits that revert
 * earlier ones are counted, and said when what they revert was applied
 * without an approver.
 */
int ctl_health_open(struct ctl *c);
void ctl_health_close(struct ctl *c);
size_t ctl_health_pollfds(struct ctl *c, struct pollfd *pfd, size_t max, int *timeout);
void ctl_health_step(struct ctl *c);
void ctl_health_job_done(struct ctl *c, const char *host, const char *commit,
    const char *text);
void ctl_health_metrics(struct ctl *c, struct buf *out);
void ctl_ladder_planned(struct ctl *c, const struct plan *p);

/*
 * The gate hook (DESIGN.md "Rollout": `rollout.gates`): evaluate the named
 * checks for `hosts` (the canary hosts) now, ahead of the schedule, one
 * check after another, and call done(c, ctx, result, reason) once:
 * CTL_GATE_PASS when every check passes for every host; CTL_GATE_FAIL at
 * the first host failing one (reason: "gate canary-data fails for
 * web-01.example.com: canary-data avg 0.0 < 50 over 5min");
 * CTL_GATE_INCONCLUSIVE when a host has no data (unless the check's
 * no_data says pass or fail) or the source failed.  A gate touches no
 * episode and acts on nothing.  Everything is copied.  ERR_NOTFOUND when
 * health checks are not configured or a name is not a check (then done is
 * never called).  ctl_health_gate_cancel forgets the gates of ctx (done
 * is not called for them).
 */
enum ctl_gate { CTL_GATE_PASS, CTL_GATE_FAIL, CTL_GATE_INCONCLUSIVE };
typedef void (*ctl_gate_done)(struct ctl *c, void *ctx, enum ctl_gate result,
    const char *reason);
int ctl_health_gate(struct ctl *c, const char *const *checks, size_t nchecks,
    const char *const *hosts, size_t nhosts, ctl_gate_done done, void *ctx);
void ctl_health_gate_cancel(struct ctl *c, void *ctx);

/* jobs.c: queue the health action's `drain HOST` (`chat --health-action
 * --reason FINDING`); 1 when queued, 0 when the queue is full (the next
 * evaluation tries again).  Its end reaches ctl_health_job_done. */
int jobs_enqueue_health(struct ctl *c, const char *host, const char *finding);

/*
 * metricsout.c: with `metrics: {graphite: HOST:PORT}`, every `interval`
 * seconds the counters of /metrics (ctl_metrics) go to Graphite as
 * plaintext lines "<prefix>.<name>[.<label value>...] <value> <time>" over
 * a non-blocking TCP connection: a bounded queue that drops the oldest
 * lines while the server is away, and reconnects with backoff (1 s
 * doubling to 60 s).  The address is resolved once, at the start.
 */
int ctl_mout_open(struct ctl *c);
void ctl_mout_close(struct ctl *c);
size_t ctl_mout_pollfds(struct ctl *c, struct pollfd *pfd, size_t max, int *timeout);
void ctl_mout_step(struct ctl *c);
void ctl_mout_metrics(struct ctl *c, struct buf *out);

/*
 * ha.c: several controllers, one leader (DESIGN.md "High availability";
 * the design is ha.c's header).  ctl_ha_run is controller_run with `ha:`:
 * it runs ctl_run as a follower until this instance leads, replaces its
 * state files with etcd's, runs ctl_run as the leader until it stops
 * leading, and so on.  ctl_run (loop.c) returns OK when stopped, an error
 * when it cannot start, or CTL_ROLE when the instance's role changed.
 * In the loop: ctl_ha_begin after ctl_open (the leader's mirror, the
 * release at etcd's applied commit), ctl_ha_turn after every poll (0:
 * the role changes: leave the loop), ctl_ha_after_turn before the next
 * poll (the mirror's queue goes out), ctl_ha_end before ctl_close.
 * ctl_ha_commit: the fenced commit point of an apply, before the release
 * switch (OK, or the leader is deposed and nothing may be switched).
 */
#define CTL_ROLE 1
int ctl_run(const struct config *cfg, const struct controller_opts *opts, struct hactl *ha);
int ctl_ha_run(const struct config *cfg, const struct controller_opts *opts);
int ctl_ha_leading(const struct hactl *h);
void ctl_ha_mirror(struct hactl *h, int on);
void ctl_ha_reopen(struct ctl *c);
int ctl_ha_begin(struct ctl *c);
void ctl_ha_end(struct ctl *c);
size_t ctl_ha_pollfds(struct ctl *c, int *timeout);
int ctl_ha_turn(struct ctl *c, int leading);
void ctl_ha_after_turn(struct ctl *c, int leading);
int ctl_ha_commit(struct ctl *c, const struct plan *p);
void ctl_ha_applied(struct ctl *c);
/*
 * May this controller act on the world now (start an apply provider, a
 * rollout's run, a bot command, or record an apply's outcome)?  1 without
 * `ha:`; with it, 1 only while the lease is certainly alive (no successor
 * can exist yet).  A leader that was paused or partitioned in the middle
 * of a loop turn finds 0 here, is deposed, and leaves what it was doing
 * to its successor (which finds it in etcd's journal).  No I/O: call it
 * right before each act.
 */
int ctl_may_act(struct ctl *c);
/* The HTTP socket every term of this instance listens on (borrowed), or
 * 0 (no `listen:`, or no HA). */
int ctl_ha_http_fd(const struct hactl *h);
/* The leader key's create revision while this instance leads (what its
 * bot commands check before they commit: --ha-fence), else 0. */
int64_t ctl_ha_fence(const struct hactl *h);
void ctl_ha_status(struct ctl *c, struct buf *b);
void ctl_ha_metrics(struct ctl *c, struct buf *out);
/*
 * An inbound chat event (an HTTP request to `route` with its body, or,
 * with route NULL, a line cmd heard on backend) claimed in etcd:
 * CTL_HA_MINE (this leader runs it), CTL_HA_FORWARDED (a follower took
 * it and queued it for the leader: acknowledge it), CTL_HA_LOST (another
 * instance took it: answer 200 with nothing), CTL_HA_DOWN (etcd cannot
 * say: nobody can act).
 */
enum { CTL_HA_MINE, CTL_HA_FORWARDED, CTL_HA_LOST, CTL_HA_DOWN };
int ctl_ha_chat_in(struct ctl *c, int backend, const char *route, const char *body,
    size_t len, const struct chat_command *cmd);
/* The claim id of the last event ctl_ha_chat_in() called CTL_HA_MINE
 * (borrowed; for botjob.claim). */
const char *ctl_ha_last_claim(const struct hactl *h);
/* A leader's term ends: hand every chat command it took but never started
 * back to etcd's queue, for the next leader (nothing of it ran). */
void ctl_ha_requeue(struct ctl *c);

/* ctlsock.c: the answer to one control request line (also what the
 * leader answers to a request sent through etcd). */
void ctlsock_answer(struct ctl *c, const char *req, struct buf *out);

#endif
