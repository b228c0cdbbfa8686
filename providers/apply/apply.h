/*
 * apply.h - apply providers: what runs after a release became current,
 * for plans touching the kinds a provider was configured for (DESIGN.md
 * "Controller configuration", `apply:`).  Each is one file exporting one
 * `struct apply_provider`, listed once in providers/apply_registry.c; the
 * core finds providers by name and never includes a provider's own file.
 *
 * Applying must not stop the controller's one event loop, so a provider
 * runs as a handle the loop drives, like reconciler/proc.h's:
 *
 *	ap = apply_find("exec");             at start-up
 *	ap->ops->open(&st, cfg);             validates the config mapping
 *	if (ap->ops->wants(st, plan)) {      after the release switch
 *		ap->ops->start(&run, st, &info);
 *		... poll ap->ops->fd(run) for reading, at most
 *		    ap->ops->timeout_ms(run) ms; each wake-up:
 *		if (ap->ops->step(run)) ap->ops->finish(&reason, run);
 *	}
 *	ap->ops->close(st);                  at shutdown
 *
 * apply_run() does all of that blocking, for the one-shot CLI.
 *
 * Two optional runs are driven the same way: prepare() before a plan is
 * decided (terraform makes the saved plan an approval binds to; what it
 * found is posted with the plan), and drift() (read the world and compare
 * it with the current release, changing nothing).  A provider with
 * either ends them with finish_found(), which also says what was found.
 *
 * Layer: providers/apply (includes base, model, plan and its own folder); the
 * provider interface the controller includes.
 */
#ifndef FIREBREAK_APPLY_H
#define FIREBREAK_APPLY_H

#include <stddef.h>

#include "base/util.h"
#include "model/artifact.h"
#include "model/ydoc.h"
#include "plan/plan.h"

#define APPLY_PROVIDER_ABI 3

/*
 * A run after a restart (DESIGN.md "State directory"): a controller
 * stopped or killed while a plan's providers ran finishes the plan when
 * it starts again.  It runs each provider of the plan that had not
 * finished -- never one recorded as done -- with these flags in
 * apply_info.flags, having first stopped whatever the dead controller's
 * run of it left running (apply_ops.group):
 *
 *   APPLY_AFTER_RESTART  this plan's apply was cut short by a stop; the
 *                        world may be anywhere between the base and the
 *                        target.  A provider that saved something at plan
 *                        time to apply now (Terraform's plan file) makes
 *                        it anew instead: what it saved may be half
 *                        applied.  One that checks the world against the
 *                        base before changing it must expect parts of the
 *                        target already there.
 *   APPLY_RERUN          this provider itself had started for this plan
 *                        and did not finish (its own work may be half
 *                        done), as opposed to one that had not started.
 *
 * Providers converge the world to the target, so running one again is
 * safe; these say why it is running again, for those that must act on it.
 */
#define APPLY_AFTER_RESTART 0x1u
#define APPLY_RERUN 0x2u

/*
 * What one apply is about.  Everything borrowed, valid until finish():
 * the controller keeps the previous release's snapshot alive while the
 * plan's providers run, so a provider may read both sides.
 */
struct apply_info {
	const char *release;      /* absolute path of the release now current
	                           * (<state>/releases/<id>) */
	const char *plan_id;      /* "17" */
	const char *commit;       /* the plan's target, 40 hex digits */
	const struct plan *plan;
	/* The artifacts of the release that was current before this one
	 * (what the world should look like now, if nobody touched it), or
	 * NULL when nothing was applied before: then every record the world
	 * holds is unexpected. */
	const struct artifacts *base_art;
	/* The artifacts of the plan's target (the release now current). */
	const struct artifacts *target_art;
	unsigned flags;           /* APPLY_AFTER_RESTART, APPLY_RERUN, or 0 */
	/* The controller's state directory (absolute): what a provider keeps
	 * between a plan and its apply lives under it (terraform:
	 * <state>/tfplans/). */
	const char *state_dir;
	/* What this provider's prepare() found for the plan and the approval
	 * is bound to (terraform: its saved plan's SHA-256, hex), or NULL when
	 * nothing was prepared: a provider that prepares then applies nothing
	 * old and answers APPLY_STALE (a re-run after a crash or a retry). */
	const char *prepared;
	/* `reconcile KIND`: bring the world to the target whatever it holds
	 * now; a difference from base_art is overwritten, not refused. */
	int reconcile;
};

/* finish() of an apply: nothing was applied, because what prepare()
 * found no longer holds (terraform: "Saved plan is stale", a saved plan
 * changed or gone, nothing prepared).  The controller makes a new plan and
 * posts it, to be decided as its decision says; never an old one. */
#define APPLY_STALE ERR_AGAIN

/* What a prepare() or drift() run found, besides its text. */
struct apply_found {
	char *digest;             /* owns; prepare: what an approval binds to (hex
	                           * SHA-256 of what apply will use), or NULL */
	int changes;              /* prepare: 1 when applying changes the world */
	size_t differ;            /* drift: records (resources) that differ */
};

struct apply_ops {
	/*
	 * Open from the provider's config mapping (borrowed; e.g. {type: exec,
	 * kinds: [dns], argv: [...], timeout: 600}; `type` is the caller's).
	 * *out owns the provider's state.  ERR_INVALID with err_last() naming
	 * the key (and its line) for a bad config.
	 */
	int (*open)(void **out, const struct ynode *cfg);
	/* 1 when this provider runs for the plan (it touches one of the
	 * configured kinds), else 0. */
	int (*wants)(void *st, const struct plan *p);
	/*
	 * Begin applying; never blocks for long.  *run owns the run until
	 * finish().  A failure to start (the program is missing) returns a
	 * negative code with err_last() set and no run: the apply failed.
	 */
	int (*start)(void **run, void *st, const struct apply_info *in);
	/* A descriptor to poll for reading, or -1 (then only the timeout). */
	int (*fd)(void *run);
	/* The longest the loop may sleep before calling step(), in ms (>= 0). */
	int (*timeout_ms)(void *run);
	/* Make progress without blocking.  1: done, call finish(); 0: not yet. */
	int (*step)(void *run);
	/* Stop early (shutdown): the run ends soon; keep stepping until done. */
	void (*cancel)(void *run);
	/*
	 * The outcome, and free the run (if it had not ended it is stopped
	 * first).  OK when the apply succeeded, ERR when it failed.  *reason
	 * (owns, may be NULL) is text for chat and the log: on failure why,
	 * with the tail of the tool's output; on success a short note.
	 * Printable: control characters other than newline are replaced.
	 */
	int (*finish)(char **reason, void *run);
	void (*close)(void *st);
	/*
	 * Optional (NULL: the provider cannot read the world).  Begin reading
	 * the world and comparing it with in->target_art (the release now
	 * current), changing nothing; in->plan and in->base_art are NULL.
	 * The run is driven and ended like start()'s; its finish() returns OK
	 * when the world is what the release says (the reason says what was
	 * read), ERR_CONFLICT when it drifted (the reason lists each
	 * difference), another negative code when it could not be read.
	 */
	int (*drift)(void **run, void *st, const struct apply_info *in);
	/*
	 * Optional (NULL: the run starts no process).  The process group the
	 * run's work happens in (its leader's pid, > 0; proc_pid() for a
	 * proc.h child), or 0 when there is none yet.  The controller records
	 * it with the plan, so that after a kill -9 the next controller can
	 * stop what this run left running (base/orphan.h) before it runs the
	 * provider again.
	 */
	long (*group)(void *run);
	/*
	 * Optional (NULL: nothing to do before a plan is decided).  For a plan
	 * the provider wants, begin what must come before anyone decides it:
	 * terraform makes the saved plan of the target release.  in->release
	 * is NULL (nothing is switched yet) and in->prepared NULL.  The run
	 * is driven like start()'s and ended with finish_found(): OK with the
	 * reason the text posted with the plan and found->digest what the
	 * approval binds; another code when it could not (the reason says
	 * why, for chat), and then the plan is not applied.
	 */
	int (*prepare)(void **run, void *st, const struct apply_info *in);
	/*
	 * Required with prepare or drift: finish() of a prepare() or drift()
	 * run, with what it found in *found (zeroed first; the caller frees
	 * found->digest).  Returns what finish() would.
	 */
	int (*finish_found)(char **reason, struct apply_found *found, void *run);
	/*
	 * Optional (NULL: the provider cannot read a zone on its own).  Read
	 * `zone` ("example.com") from the world now, blocking: the one-shot
	 * `firebreak import zone`, not the controller's loop.  `cfg`
	 * (borrowed) holds the provider's own keys that reach the world, as
	 * open() reads them (for rfc2136: server, an optional tsig, timeout).
	 * On OK *out (owns) is the zone's records that firebreak manages as
	 * master-file text (model/zonefile.h reads it): one record a line,
	 * absolute names, no SOA and no apex NS.  A refused, unsigned when
	 * signed was asked, or incomplete transfer is an error, never an empty
	 * zone: ERR_DENIED for a refusal, ERR_INVALID for a bad cfg or a
	 * malformed transfer, ERR for the network; err_last() says which.
	 */
	int (*read_zone)(char **out, const struct ynode *cfg, const char *zone);
};

struct apply_provider {
	unsigned abi;                 /* APPLY_PROVIDER_ABI */
	const char *name;             /* "exec" */
	const struct apply_ops *ops;
};

/* The provider of that name, or NULL.  Checks ABI and required ops. */
const struct apply_provider *apply_find(const char *name);

/* Run one apply to the end, blocking (the one-shot `firebreak apply`).
 * Returns what start() or finish() returned; *reason as finish()'s. */
int apply_run(char **reason, const struct apply_provider *ap, void *st,
    const struct apply_info *in);

/* The same for a provider's drift() (which must not be NULL), ended with
 * finish_found(); `found` may be NULL. */
int apply_drift_run(char **reason, struct apply_found *found,
    const struct apply_provider *ap, void *st, const struct apply_info *in);

/* Does the provider serve changes of kind k (a plan touching only k)? */
int apply_serves(const struct apply_provider *ap, void *st, enum change_kind k);

/* ---- for providers ---- */

/* Bits of enum change_kind. */
#define APPLY_KIND_BIT(k) (1u << (k))
#define APPLY_KINDS_ALL ((1u << KIND__COUNT) - 1)

/*
 * Parse `kinds: [enc, dns, pin, policy]` (n may be NULL: all kinds).
 * ERR_INVALID naming `key` for anything else (not a list, an unknown kind,
 * an empty list).
 */
int apply_kinds_parse(unsigned *mask, const struct ynode *n, const char *key);

/* Does the plan change anything of a kind in `mask`? */
int apply_plan_touches(const struct plan *p, unsigned mask);

/*
 * Refuse keys a provider does not know (a typo must not silently mean the
 * default): `known` is NULL-terminated; "type" is always allowed.
 */
int apply_check_keys(const struct ynode *cfg, const char *provider,
    const char *const known[]);

#endif
