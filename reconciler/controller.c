/*
 * controller.c - the long-running reconciler.  See controller.h.
 */
#include "controller.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bot.h"
#include "fs.h"
#include "log.h"
#include "outbox.h"
#include "http.h"
#include "../providers/apply.h"
#include "../providers/chat.h"
#include "../providers/slack_in.h"
#include "pipeline.h"
#include "plan.h"
#include "policy.h"
#include "proc.h"
#include "repo.h"
#include "state.h"

#define CTL_SOCKET "control.sock"
#define CTL_MAX_REQUEST 1024
#define BOT_RUNNING 4            /* bot commands running at once */
#define BOT_QUEUED 64            /* waiting beyond those; more are refused */
#define BOT_TIMEOUT_MS 120000
#define FETCH_TIMEOUT_MS 60000
#define BOT_HOLD_SECONDS 2.0     /* a new head waits this long for a running
                                  * command to announce its commit first */

/* One chat command, run as `firebreak-core chat ... --json` (a child:
 * the loop never waits for git, and a crash stays in the child). */
struct botjob {
	struct proc *proc;           /* NULL while queued */
	int backend;                 /* IRC: the outbox backend to answer on, else -1 */
	char *to;                    /* IRC: the nick that asked */
	char *identity, *via, *text, *reply_url;
	int reply_only;              /* only post `text` to reply_url (`firebreak-core reply`) */
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
	int bootstrap_apply;
	int ifd, sfd, lfd;
	char last_error[512];
	/* Apply providers (config `apply:`), and the one apply running. */
	const struct apply_provider **aps;
	void **apst;
	size_t naps;
	struct plan *hook_plan;        /* owned while its hooks run */
	size_t hook_next;              /* the next provider to consider */
	void *hook_run;                /* the running provider's run, or NULL */
	size_t hook_idx;
	int hook_failed;
	int dirty;                     /* a ref moved while hooks ran */
	struct http *http;
	int fetch_now;
	double dirty_since;
	/* The bot. */
	struct botjob *jobs[BOT_RUNNING + BOT_QUEUED];
	size_t njobs;
	char self[4096];               /* this program, for the bot's children */
	char *slack_secret, *mm_token; /* inbound secrets, or NULL */
	int slack_http;                /* the slack entry's api_url is http:// (a test
	                                * stand-in): its response_urls may be too */
	struct replay *replay;
	struct proc *fetch_proc;       /* `firebreak-core fetch` running, or NULL */
	/* Metrics. */
	unsigned long by_decision[DECISION_INVALID + 1];
	unsigned long applies_ok, applies_failed;
	double last_applied_at;
	unsigned long lat_buckets[8], lat_count;
	double lat_sum;
};

/* Commit-to-plan latency buckets, in seconds (Prometheus histogram). */
static const double lat_bounds[8] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5 };

/* ---- messages ---------------------------------------------------------- */

/* Post to every chat of the config through the outbox (stored first). */
static void
notify(struct ctl *c, const struct plan *p, const char *summary, const char *body,
    int actions)
{
	if (!c->ob)
		return;
	struct outbox_msg m;

	memset(&m, 0, sizeof(m));
	/* A plan's messages thread under its commit: a bot command's
	 * announcement of that commit starts the thread, the plan follows. */
	m.plan_id = p ? p->id : NULL;
	m.thread = p ? p->target : NULL;
	m.summary = summary;
	m.body = body;
	m.actions = actions;
	m.only = -1;
	if (outbox_send(c->ob, &m) != OK)
		snprintf(c->last_error, sizeof(c->last_error), "outbox: %s", err_last());
}

/* The summary line with the outcome in words, and the plan text. */
static void
notify_plan(struct ctl *c, const struct plan *p, const char *outcome, int actions)
{
	struct buf sum = BUF_INIT, body = BUF_INIT;

	plan_summary(&sum, p);
	buf_printf(&sum, "%s", outcome);
	plan_format_text(&body, p, 8000);
	if (actions)
		buf_printf(&body, "\napprove %s | discard %s\n", p->id, p->id);
	notify(c, p, sum.data, body.data, actions);
	buf_dispose(&sum);
	buf_dispose(&body);
}

static void
log_event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
log_event(const char *fmt, ...)
{
	va_list ap;

	fputs("firebreak: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- applying ------------------------------------------------------------ */

/* Rewrite a stored plan's outcome in place (the plan is only JSON here). */
static int
rewrite_outcome(const char *file, json_t *j, const char *outcome, const char *by)
{
	char *s;
	int rc;

	json_object_set_new(j, "outcome", json_string(outcome));
	if (by)
		json_object_set_new(j, "decided_by", json_string(by));
	s = json_dumps(j, JSON_INDENT(2));
	rc = fs_write_atomic(file, s, strlen(s));
	free(s);
	return rc;
}

static int
save_outcome(struct state *st, const struct plan *p, const char *outcome, const char *by)
{
	json_t *o = json_pack("{s:s}", "outcome", outcome);
	char *extra;
	int rc;

	if (by)
		json_object_set_new(o, "decided_by", json_string(by));
	extra = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	rc = state_save_plan(st, p, extra);
	free(extra);
	return rc;
}

static void hooks_continue(struct ctl *c);
static void bot_close(struct ctl *c);

/*
 * Switch the release to the plan's target and make it the new base; then
 * run the apply providers that want the plan, one after another, as child
 * processes the loop watches.  Takes the plan (owns it from here on).
 * `said` is the outcome for chat (NULL: say nothing, for a noop).
 */
static int
ctl_apply(struct ctl *c, struct plan *p, struct snapshot *target, const char *by,
    const char *said)
{
	double t = log_now();
	int rc;

	/* Recorded before the switch: a crash between the two leaves a plan
	 * marked applying whose target is or is not the applied commit, and
	 * the restart says which (recover_plans). */
	save_outcome(c->st, p, "applying", by);
	if ((rc = state_apply(c->st, p, &target->art)) != OK) {
		snprintf(c->last_error, sizeof(c->last_error), "apply of plan %s: %s", p->id,
		    err_last());
		save_outcome(c->st, p, "failed", by);
		log_event("plan %s for %.7s: apply failed: %s", p->id, p->target, err_last());
		if (said)
			notify_plan(c, p, " but the release switch failed", 0);
		c->applies_failed++;
		plan_free(p);
		return rc;
	}
	log_timing("release", t);
	snapshot_dispose(&c->base);
	c->base = *target;
	memset(target, 0, sizeof(*target));
	c->last_applied_at = (double)time(NULL);
	log_event("plan %s for %.7s: released%s%s", p->id, p->target, by ? " by " : "",
	    by ? by : "");
	if (said)
		notify_plan(c, p, said, 0);
	c->hook_plan = p;
	c->hook_next = 0;
	c->hook_failed = 0;
	hooks_continue(c);
	return OK;
}

/* Start the next apply provider that wants the plan, or finish. */
static void
hooks_continue(struct ctl *c)
{
	struct plan *p = c->hook_plan;
	char release[4096];

	snprintf(release, sizeof(release), "%s/releases/%s", c->cfg->state, p->id);
	while (!c->hook_failed && c->hook_next < c->naps) {
		size_t i = c->hook_next++;
		struct apply_info info = { release, p->id, p->target, p };

		if (!c->aps[i]->ops->wants(c->apst[i], p))
			continue;
		if (c->aps[i]->ops->start(&c->hook_run, c->apst[i], &info) == OK) {
			c->hook_idx = i;
			log_event("plan %s: apply %s started", p->id, c->aps[i]->name);
			return;
		}
		c->hook_failed = 1;
		snprintf(c->last_error, sizeof(c->last_error), "plan %s: apply %s: %s", p->id,
		    c->aps[i]->name, err_last());
		{
			char *line = xasprintf("plan %s: apply %s could not start: %s", p->id,
			    c->aps[i]->name, err_last());

			notify(c, p, line, "", 0);
			free(line);
		}
	}
	save_outcome(c->st, p, c->hook_failed ? "failed" : "applied", NULL);
	if (c->hook_failed)
		c->applies_failed++;
	else
		c->applies_ok++;
	log_event("plan %s for %.7s: %s", p->id, p->target, c->hook_failed ? "failed" : "applied");
	plan_free(p);
	c->hook_plan = NULL;
}

/* The running provider made progress (its fd or its timeout). */
static void
hooks_step(struct ctl *c)
{
	const struct apply_provider *ap = c->aps[c->hook_idx];
	char *reason = NULL;

	if (!c->hook_run || !ap->ops->step(c->hook_run))
		return;
	if (ap->ops->finish(&reason, c->hook_run) != OK) {
		char *line = xasprintf("plan %s: apply %s failed: %s", c->hook_plan->id, ap->name,
		    reason ? reason : "");

		c->hook_failed = 1;
		snprintf(c->last_error, sizeof(c->last_error), "%s", line);
		log_event("%s", line);
		notify(c, c->hook_plan, line, reason, 0);
		free(line);
	}
	free(reason);
	c->hook_run = NULL;
	hooks_continue(c);
}

/* ---- reconciling ----------------------------------------------------------- */

static void
drop_open(struct ctl *c)
{
	plan_free(c->open);
	c->open = NULL;
	snapshot_dispose(&c->open_target);
}

/* Plan the branch head against the applied commit and act on the decision. */
static void
reconcile(struct ctl *c)
{
	struct snapshot target;
	struct plan *p = NULL;
	char head[41], id[24];
	double t0 = log_now();

	if (repo_resolve(c->repo, c->ref, head) != OK) {
		snprintf(c->last_error, sizeof(c->last_error), "%s", err_last());
		return;
	}
	if (strcmp(head, c->head) == 0)
		return;
	snprintf(c->head, sizeof(c->head), "%s", head);
	if (strcmp(head, c->base.sha) == 0) {
		/* Back at the applied commit: nothing is pending any more. */
		if (c->open) {
			save_outcome(c->st, c->open, "superseded", NULL);
			drop_open(c);
		}
		return;
	}
	state_next_plan_id(c->st, id);
	if (pipeline_plan(&p, c->repo, id, &c->base, head, &target) != OK) {
		snprintf(c->last_error, sizeof(c->last_error), "planning %.7s: %s", head,
		    err_last());
		log_event("planning %.7s failed: %s", head, err_last());
		return;
	}
	log_timing("commit to plan", t0);
	{
		double dt = log_now() - t0;
		size_t b;

		for (b = 0; b < 8; b++)
			if (dt <= lat_bounds[b])
				c->lat_buckets[b]++;
		c->lat_count++;
		c->lat_sum += dt;
	}
	log_event("plan %s for %.7s: %s", p->id, p->target, decision_name(p->decision));
	/* A newer commit supersedes a plan still waiting. */
	if (c->open) {
		struct buf b = BUF_INIT;

		save_outcome(c->st, c->open, "superseded", NULL);
		buf_printf(&b, "plan %s superseded by plan %s", c->open->id, p->id);
		notify(c, c->open, b.data, "", 0);
		buf_dispose(&b);
		drop_open(c);
	}
	c->by_decision[p->decision]++;
	switch (p->decision) {
	case DECISION_INVALID:
		save_outcome(c->st, p, "invalid", NULL);
		notify_plan(c, p, " (the last good release stays current)", 0);
		plan_free(p);
		return;
	case DECISION_NOOP:
		/* Nothing changes for anyone: move the base along quietly. */
		ctl_apply(c, p, &target, NULL, NULL);
		snapshot_dispose(&target);
		return;
	case DECISION_AUTO:
		ctl_apply(c, p, &target, NULL, "-applied");
		snapshot_dispose(&target);
		return;
	case DECISION_OBSERVE:
	case DECISION_APPROVE:
		if (!c->base.sha[0] && c->bootstrap_apply) {
			ctl_apply(c, p, &target, "--bootstrap-apply", " (bootstrap: applied)");
			snapshot_dispose(&target);
			return;
		}
		save_outcome(c->st, p, "open", NULL);
		notify_plan(c, p, p->decision == DECISION_OBSERVE ?
		    " (observe: would apply; approve to apply)" : " (waiting for an approver)", 1);
		c->open = p;
		c->open_target = target;
		return;
	}
}

/* ---- approvals ----------------------------------------------------------------- */

/* Read a stored plan's JSON (owns) or NULL. */
static json_t *
load_plan_json(const char *state_dir, const char *id)
{
	char path[4096];
	uint64_t v;

	if (parse_u64(&v, id, 1, 1ul << 62) != OK)
		return NULL;
	snprintf(path, sizeof(path), "%s/plans/%s.json", state_dir, id);
	return json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
}

struct own_walk {
	const char *base, *user, *bot_email;
	size_t commits, own;
	int reached;
};

static int
own_step(void *ctx, const struct repo_log_entry *e)
{
	struct own_walk *w = ctx;
	char *by;

	if (w->base && strcmp(e->sha, w->base) == 0) {
		w->reached = 1;
		return 1;
	}
	w->commits++;
	by = strcmp(e->author_email, w->bot_email) == 0 ? bot_trailer(e->message, "Requested-by") :
	    NULL;
	if (by && strcmp(by, w->user) == 0)
		w->own++;
	free(by);
	return 0;
}

/* Is every commit from base (exclusive) to target a bot commit `user` asked for? */
static int
only_own_commits(struct ctl *c, const char *base, const char *target, const char *user)
{
	struct own_walk w = { base && *base ? base : NULL, user, c->cfg->bot_email, 0, 0, 0 };

	repo_log(c->repo, target, 10000, own_step, &w);
	return w.commits > 0 && w.own == w.commits;
}

/*
 * The one decision procedure, for the running controller (warm base and
 * open plan) and for the CLI on a stopped controller's state (cold).
 */
static int
decide(struct ctl *c, int approve, const char *id, const char *user, char **msg)
{
	json_t *stored = load_plan_json(c->cfg->state, id);
	const char *outcome, *base, *target, *hash;
	struct snapshot tsnap;
	struct plan *p = NULL;
	char head[41];
	int rc = OK;

	*msg = NULL;
	if (!stored) {
		*msg = xasprintf("there is no plan %s", id);
		return ERR_NOTFOUND;
	}
	outcome = json_string_value(json_object_get(stored, "outcome"));
	base = json_string_value(json_object_get(stored, "base"));
	target = json_string_value(json_object_get(stored, "target"));
	hash = json_string_value(json_object_get(stored, "hash"));
	if (!outcome || !target || !hash) {
		*msg = xasprintf("plan %s is not readable", id);
		rc = ERR;
		goto out;
	}
	/* A double click: the second approve applies nothing. */
	if (strcmp(outcome, "open") != 0) {
		*msg = xasprintf("plan %s is already %s; nothing to do", id, outcome);
		goto out;
	}
	if (approve && c->hook_plan) {
		*msg = xasprintf("plan %s's apply is still running; try again", c->hook_plan->id);
		rc = ERR_CONFLICT;
		goto out;
	}
	/* Authorised by the policy of the applied commit: one approver of
	 * every kind the plan touches that is not auto.  Discarding a plan is
	 * deciding it too. */
	{
		json_t *needs = json_object_get(stored, "approvals_needed"), *v;
		size_t i;

		json_array_foreach(needs, i, v) {
			enum change_kind kind;

			if (!json_is_string(v) || kind_parse(&kind, json_string_value(v)) != OK)
				continue;
			if (!c->base.model || !policy_may_approve(c->base.model->policy, user, kind)) {
				*msg = xasprintf("%s may not %s %s changes (see approvers in "
				    "policy.yaml)", user, approve ? "approve" : "discard",
				    kind_name(kind));
				rc = ERR_DENIED;
				goto out;
			}
		}
	}
	/* A plan that only carries the approver's own bot commands needs a
	 * second person, unless policy says self_approve: true. */
	if (approve && c->base.model && !c->base.model->policy->self_approve &&
	    only_own_commits(c, base, target, user)) {
		*msg = xasprintf("plan %s only carries %s's own commands; someone else must "
		    "approve it (self_approve is off in policy.yaml)", id, user);
		rc = ERR_DENIED;
		goto out;
	}
	if (!approve) {
		if (c->open && strcmp(c->open->id, id) == 0) {
			save_outcome(c->st, c->open, "discarded", user);
			drop_open(c);
		} else {
			char path[4096];

			snprintf(path, sizeof(path), "%s/plans/%s.json", c->cfg->state, id);
			rc = rewrite_outcome(path, stored, "discarded", user);
		}
		*msg = xasprintf("plan %s discarded by %s", id, user);
		/* Said in the plan's thread, like every other outcome. */
		if (rc == OK && c->ob) {
			struct outbox_msg m;

			memset(&m, 0, sizeof(m));
			m.plan_id = id;
			m.thread = target;
			m.summary = *msg;
			m.only = -1;
			if (outbox_send(c->ob, &m) != OK)
				snprintf(c->last_error, sizeof(c->last_error), "outbox: %s", err_last());
		}
		goto out;
	}
	/* Stale: the base is no longer applied, or the head moved on. */
	if (repo_resolve(c->repo, c->ref, head) != OK) {
		*msg = xasprintf("%s", err_last());
		rc = ERR;
		goto out;
	}
	if (strcmp(base ? base : "", c->base.sha) != 0 || strcmp(target, head) != 0) {
		const char *fresh = c->open && strcmp(c->open->target, head) == 0 ? c->open->id : NULL;

		*msg = fresh ? xasprintf("plan %s is stale; the fresh plan is %s", id, fresh) :
		    xasprintf("plan %s is stale (%.7s is now applied, %.7s is the head)", id,
		    c->base.sha[0] ? c->base.sha : "nothing", head);
		rc = ERR_CONFLICT;
		goto out;
	}
	if (c->open && strcmp(c->open->id, id) == 0) {
		p = c->open;
		tsnap = c->open_target;
		c->open = NULL;
		memset(&c->open_target, 0, sizeof(c->open_target));
	} else if ((rc = pipeline_plan(&p, c->repo, id, &c->base, target, &tsnap)) != OK) {
		*msg = xasprintf("replanning: %s", err_last());
		goto out;
	}
	/* What is applied is exactly what was reviewed. */
	if (strcmp(p->hash, hash) != 0 || p->decision == DECISION_INVALID) {
		*msg = xasprintf("plan %s no longer renders what was reviewed; it is stale", id);
		rc = ERR_CONFLICT;
	} else {
		char *said = xasprintf(", approved by %s: applied", user);

		*msg = xasprintf("plan %s applied (%.7s), approved by %s", id, p->target, user);
		rc = ctl_apply(c, p, &tsnap, user, said);
		p = NULL;
		free(said);
		if (rc != OK) {
			free(*msg);
			*msg = xasprintf("plan %s: apply failed: %s", id, err_last());
		}
	}
	snapshot_dispose(&tsnap);
	plan_free(p);
out:
	json_decref(stored);
	return rc;
}

/* ---- the control socket ------------------------------------------------------ */

static int
socket_path(char *out, size_t n, const char *state_dir)
{
	struct sockaddr_un sa;
	int k = snprintf(out, n, "%s/%s", state_dir, CTL_SOCKET);

	if (k < 0 || (size_t)k >= n || (size_t)k >= sizeof(sa.sun_path))
		return err_set(ERR_TOOBIG, "state directory path too long for a socket");
	return OK;
}

static void
status_text(struct ctl *c, struct buf *b)
{
	buf_printf(b, "applied: %s\n", c->base.sha[0] ? c->base.sha : "(nothing yet)");
	buf_printf(b, "head: %s\n", c->head[0] ? c->head : "(unknown)");
	if (c->open)
		buf_printf(b, "open: plan %s for %.7s (%s)\n", c->open->id, c->open->target,
		    decision_name(c->open->decision));
	else
		buf_puts(b, "open: none\n");
	buf_printf(b, "outbox: %zu\n", c->ob ? outbox_depth(c->ob) : 0);
	if (c->ob && outbox_last_error(c->ob))
		buf_printf(b, "chat error: %s\n", outbox_last_error(c->ob));
	buf_printf(b, "last error: %s\n", c->last_error[0] ? c->last_error : "none");
}

/* One request per connection: "approve ID USER", "discard ID USER", "status". */
static void
serve_client(struct ctl *c, int fd)
{
	char req[CTL_MAX_REQUEST + 1], verb[16], id[32], user[80];
	struct buf out = BUF_INIT;
	ssize_t n;
	char *msg = NULL;
	int rc;

	n = read(fd, req, CTL_MAX_REQUEST);
	if (n <= 0)
		return;
	req[n] = '\0';
	req[strcspn(req, "\r\n")] = '\0';
	if (sscanf(req, "%15s %31s %79s", verb, id, user) == 3 &&
	    (strcmp(verb, "approve") == 0 || strcmp(verb, "discard") == 0) && valid_user(user)) {
		rc = decide(c, verb[0] == 'a', id, user, &msg);
		buf_printf(&out, "%s %s\n", rc == OK ? "ok" : rc == ERR_DENIED || rc == ERR_CONFLICT ||
		    rc == ERR_NOTFOUND ? "refused" : "error", msg ? msg : "");
		free(msg);
	} else if (strcmp(req, "status") == 0) {
		buf_puts(&out, "ok ");
		status_text(c, &out);
	} else {
		buf_puts(&out, "refused unknown request (approve ID USER | discard ID USER | status)\n");
	}
	if (write(fd, out.data, out.len) < 0)
		log_event("control socket: %s", strerror(errno));
	buf_dispose(&out);
}

int
controller_ask(const char *state_dir, const char *request, char **reply)
{
	struct sockaddr_un sa;
	struct buf b = BUF_INIT;
	char path[sizeof(sa.sun_path)], chunk[4096];
	ssize_t n;
	int fd, rc;

	*reply = NULL;
	if ((rc = socket_path(path, sizeof(path), state_dir)) != OK)
		return rc;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return err_set(ERR, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return err_set(ERR_NOTFOUND, "no controller is running on %s", state_dir);
	}
	if (write(fd, request, strlen(request)) < 0 || shutdown(fd, SHUT_WR) != 0) {
		close(fd);
		return err_set(ERR, "control socket: %s", strerror(errno));
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(&b, chunk, (size_t)n) != OK || b.len > 65536)
			break;
	close(fd);
	*reply = buf_steal(&b);
	return OK;
}

/* ---- start-up --------------------------------------------------------------- */

/* The git directory whose refs we watch: REPO/.git or REPO (bare). */
static char *
git_dir(const char *repo)
{
	char *p = xasprintf("%s/.git", repo);
	struct stat st;

	if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
		return p;
	free(p);
	return xstrdup(repo);
}

static int
ctl_open(struct ctl *c, const struct config *cfg)
{
	struct diags d = { NULL, 0, 0 };
	char applied[41], path[4096];
	char *gd, *dir;
	int rc;

	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	c->ifd = c->sfd = c->lfd = -1;
	snprintf(c->ref, sizeof(c->ref), "refs/heads/%s", cfg->branch);
	if ((rc = repo_open(&c->repo, cfg->repo)) != OK)
		return rc;
	if ((rc = state_open(&c->st, cfg->state, 1)) != OK)
		return rc;
	if ((rc = state_read_applied(cfg->state, applied)) != OK)
		return rc;
	rc = snapshot_load(&c->base, c->repo, applied, &d);
	diags_dispose(&d);
	if (rc != OK)
		return err_set(rc, "loading the applied commit %.7s: %s", applied, err_last());
	if (cfg->chat && (rc = outbox_open(&c->ob, cfg->state, cfg->chat)) != OK)
		return err_set(rc, "%s: %s", cfg->path, err_last());
	if (cfg->apply && cfg->apply->type == YNODE_SEQ && cfg->apply->n) {
		size_t i;

		c->aps = xcalloc(cfg->apply->n, sizeof(*c->aps));
		c->apst = xcalloc(cfg->apply->n, sizeof(*c->apst));
		for (i = 0; i < cfg->apply->n; i++) {
			const struct ynode *e = cfg->apply->items[i], *t = ynode_get(e, "type");

			if (!t || !(c->aps[i] = apply_find(t->str)))
				return err_set(ERR_INVALID, "%s:%d: apply[%zu]: no apply provider '%s'",
				    cfg->path, e->line, i, t ? t->str : "");
			if ((rc = c->aps[i]->ops->open(&c->apst[i], e)) != OK)
				return err_set(rc, "%s: %s", cfg->path, err_last());
			c->naps = i + 1;
		}
	}
	/* The refs: a commit or a push moves refs/heads/<branch> (a file,
	 * replaced by rename) or rewrites packed-refs. */
	gd = git_dir(cfg->repo);
	if ((c->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
		return err_set(ERR, "inotify: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/%s", gd, c->ref);
	dir = xstrndup(path, (size_t)(strrchr(path, '/') - path));
	if (inotify_add_watch(c->ifd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE |
	    IN_DELETE) < 0 || inotify_add_watch(c->ifd, gd, IN_CLOSE_WRITE | IN_MOVED_TO) < 0)
		rc = err_set(ERR, "watching %s: %s", dir, strerror(errno));
	free(dir);
	free(gd);
	return rc;
}

/*
 * Plans a stopped controller left in the middle: one marked applying
 * reached the release if its target is the applied commit (else it did
 * not: failed, and the first reconcile plans the head again); one still
 * open is superseded by the plan the first reconcile makes.
 */
static int
recover_one(void *ctx, const char *file, json_t *j)
{
	struct ctl *c = ctx;
	const char *outcome = json_string_value(json_object_get(j, "outcome"));
	const char *target = json_string_value(json_object_get(j, "target"));
	const char *id = json_string_value(json_object_get(j, "id")), *now = NULL;

	/* Released but its hooks cut short: "interrupted" (run them by hand);
	 * with no hooks configured the release was the apply. */
	if (outcome && strcmp(outcome, "applying") == 0)
		now = !target || strcmp(target, c->base.sha) != 0 ? "failed" :
		    c->naps ? "interrupted" : "applied";
	else if (outcome && strcmp(outcome, "open") == 0)
		now = "superseded";
	if (now && rewrite_outcome(file, j, now, NULL) == OK)
		log_event("plan %s: %s after a restart", id ? id : "?", now);
	return 0;
}

static void
recover_plans(struct ctl *c)
{
	state_each_plan(c->cfg->state, recover_one, c);
}

static int
ctl_listen(struct ctl *c)
{
	struct sockaddr_un sa;
	char path[sizeof(sa.sun_path)];
	int rc;

	if ((rc = socket_path(path, sizeof(path), c->cfg->state)) != OK)
		return rc;
	/* We hold the state lock, so a socket left here is a dead one's. */
	unlink(path);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
	    bind(c->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || chmod(path, 0600) != 0 ||
	    listen(c->lfd, 8) != 0)
		return err_set(ERR, "control socket %s: %s", path, strerror(errno));
	return OK;
}

static void
ctl_close(struct ctl *c)
{
	char path[4096];

	if (c->lfd >= 0 && socket_path(path, sizeof(path), c->cfg->state) == OK)
		unlink(path);
	if (c->lfd >= 0)
		close(c->lfd);
	if (c->ifd >= 0)
		close(c->ifd);
	if (c->sfd >= 0)
		close(c->sfd);
	drop_open(c);
	if (c->hook_run) {
		char *reason = NULL;

		c->aps[c->hook_idx]->ops->cancel(c->hook_run);
		c->aps[c->hook_idx]->ops->finish(&reason, c->hook_run);
		free(reason);
	}
	plan_free(c->hook_plan);
	for (size_t i = 0; i < c->naps; i++)
		c->aps[i]->ops->close(c->apst[i]);
	free(c->aps);
	free(c->apst);
	http_stop(c->http);
	bot_close(c);
	snapshot_dispose(&c->base);
	outbox_close(c->ob);
	state_close(c->st);
	repo_free(c->repo);
}

/* ---- the bot's commands from chat ------------------------------------------- */

static void
job_free(struct botjob *j)
{
	if (!j)
		return;
	if (j->proc) {
		struct proc_result r;

		proc_finish(&r, j->proc);
		proc_result_dispose(&r);
	}
	free(j->to);
	free(j->identity);
	free(j->via);
	free(j->text);
	free(j->reply_url);
	free(j);
}

/* Queue a command; runs when one of BOT_RUNNING slots is free.  0 when
 * the queue is full (the caller says "busy"). */
static int
bot_enqueue(struct ctl *c, const char *identity, const char *via, const char *text,
    const char *reply_url, int backend, const char *to)
{
	struct botjob *j;

	if (c->njobs == sizeof(c->jobs) / sizeof(*c->jobs) || !c->self[0])
		return 0;
	j = xcalloc(1, sizeof(*j));
	j->identity = xstrdup(identity);
	j->via = xstrdup(via);
	j->text = xstrdup(text);
	j->reply_url = reply_url ? xstrdup(reply_url) : NULL;
	j->backend = backend;
	j->to = to ? xstrdup(to) : NULL;
	c->jobs[c->njobs++] = j;
	log_event("chat: %s via %s: %s", identity, via, text);
	return 1;
}

static void
bot_start(struct ctl *c, struct botjob *j)
{
	const char *argv[20];
	struct proc_opts o;
	char entry[16];
	size_t n = 0;

	argv[n++] = c->self;
	if (j->reply_only) {
		argv[n++] = "reply";
		argv[n++] = "--url";
		argv[n++] = j->reply_url;
		argv[n++] = "--";
		argv[n++] = j->text;
		goto start;
	}
	argv[n++] = "chat";
	argv[n++] = "--config";
	argv[n++] = c->cfg->path;
	argv[n++] = "--identity";
	argv[n++] = j->identity;
	argv[n++] = "--via";
	argv[n++] = j->via;
	argv[n++] = "--json";
	if (j->backend >= 0) {
		snprintf(entry, sizeof(entry), "%d", j->backend);
		argv[n++] = "--chat-entry";
		argv[n++] = entry;
	}
	if (j->reply_url) {
		argv[n++] = "--reply-url";
		argv[n++] = j->reply_url;
	}
	argv[n++] = "--";
	argv[n++] = j->text;
start:
	argv[n] = NULL;
	memset(&o, 0, sizeof(o));
	o.timeout_ms = BOT_TIMEOUT_MS;
	if (proc_start(&j->proc, argv, &o) != OK) {
		log_event("chat: cannot start %s: %s", c->self, err_last());
		j->proc = NULL;
	}
}

/* Answer on the IRC backend the command came from: "carol: ...". */
static void
bot_answer_irc(struct ctl *c, const struct botjob *j, const char *text)
{
	struct outbox_msg m;
	size_t first = strcspn(text, "\n");
	char *summary = xstrndup(text, first);

	memset(&m, 0, sizeof(m));
	m.summary = summary;
	m.body = text[first] ? text + first + 1 : NULL;
	m.only = j->backend;
	m.to = j->to;
	if (outbox_send(c->ob, &m) != OK)
		log_event("chat: answering %s: %s", j->to, err_last());
	free(summary);
}

/* A command ended: announce its commit to every chat (the plan for it
 * then threads under that message), and answer IRC in its channel (the
 * child answered Slack and Mattermost through their response_url). */
static void
bot_finished(struct ctl *c, struct botjob *j, struct proc_result *r)
{
	const char *line = r->output.data ? strstr(r->output.data, "{\"code\"") : NULL;
	json_t *ans = line ? json_loads(line, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
	const char *text = json_string_value(json_object_get(ans, "text"));
	const char *commit = json_string_value(json_object_get(ans, "commit"));
	const char *user = json_string_value(json_object_get(ans, "user"));

	if (j->reply_only) {
		if (!proc_result_ok(r))
			log_event("chat: answering through response_url failed: %.*s",
			    (int)strcspn(r->output.data ? r->output.data : "", "\n"),
			    r->output.data ? r->output.data : "");
		return;
	}
	if (!ans || !text) {
		struct buf why = BUF_INIT;
		const char *out = r->output.data ? r->output.data : "";
		char *t;

		proc_result_describe(&why, r);
		log_event("chat: `%s` from %s failed: %s: %.*s", j->text, j->identity, why.data,
		    (int)strcspn(out, "\n"), out);
		t = xasprintf("`%s` failed (%s); the controller's log says why", j->text,
		    why.data);
		/* Whoever was told "on it" hears how it ended. */
		if (j->backend >= 0 && c->ob)
			bot_answer_irc(c, j, t);
		else if (j->reply_url && c->njobs < sizeof(c->jobs) / sizeof(*c->jobs)) {
			struct botjob *rj = xcalloc(1, sizeof(*rj));

			rj->reply_only = 1;
			rj->backend = -1;
			rj->reply_url = xstrdup(j->reply_url);
			rj->text = xstrdup(t);
			rj->identity = xstrdup(j->identity);
			rj->via = xstrdup(j->via);
			c->jobs[c->njobs++] = rj;
		}
		free(t);
		buf_dispose(&why);
		json_decref(ans);
		return;
	}
	if (commit && strlen(commit) == 40 && c->ob) {
		struct outbox_msg m;
		char *summary = xasprintf("%s (%s): %.*s", user && *user ? user : j->identity,
		    j->via, (int)strcspn(text, "\n"), text);

		memset(&m, 0, sizeof(m));
		m.thread = commit;
		m.summary = summary;
		m.only = -1;
		if (outbox_send(c->ob, &m) != OK)
			log_event("chat: announcing %.7s: %s", commit, err_last());
		free(summary);
	} else if (j->backend >= 0 && c->ob) {
		bot_answer_irc(c, j, text);
	}
	json_decref(ans);
}

/* Start what may start, collect what ended.  Never blocks. */
static void
bot_step(struct ctl *c)
{
	size_t i, running = 0;

	for (i = 0; i < c->njobs; ) {
		struct botjob *j = c->jobs[i];
		struct proc_result r;

		if (j->proc && proc_poll(j->proc)) {
			proc_finish(&r, j->proc);
			j->proc = NULL;
			bot_finished(c, j, &r);
			proc_result_dispose(&r);
			job_free(j);
			memmove(&c->jobs[i], &c->jobs[i + 1], (c->njobs - i - 1) * sizeof(*c->jobs));
			c->njobs--;
			continue;
		}
		i++;
	}
	for (i = 0; i < c->njobs; i++)
		running += c->jobs[i]->proc != NULL;
	for (i = 0; i < c->njobs && running < BOT_RUNNING; i++)
		if (!c->jobs[i]->proc) {
			bot_start(c, c->jobs[i]);
			if (!c->jobs[i]->proc) {
				struct proc_result r;

				memset(&r, 0, sizeof(r));
				bot_finished(c, c->jobs[i], &r);
				job_free(c->jobs[i]);
				memmove(&c->jobs[i], &c->jobs[i + 1],
				    (c->njobs - i - 1) * sizeof(*c->jobs));
				c->njobs--;
				i--;
				continue;
			}
			running++;
		}
}

/* Is a chat command queued or running that may yet announce a commit
 * (a new head waits for it; an answer on its way to a response_url does
 * not hold anything up)? */
static int
bot_may_commit(const struct ctl *c)
{
	size_t i;

	for (i = 0; i < c->njobs; i++)
		if (!c->jobs[i]->reply_only)
			return 1;
	return 0;
}

/* Commands addressed to the bot in IRC. */
static void
bot_irc_intake(struct ctl *c)
{
	struct chat_inbound in;
	int idx;

	while (c->ob && (idx = outbox_recv(c->ob, &in)) >= 0) {
		char *identity = xasprintf("irc:%s", in.user), *via = xasprintf("irc %s", in.where);
		struct botjob tmp;

		if (!bot_enqueue(c, identity, via, in.text, NULL, idx, in.user)) {
			memset(&tmp, 0, sizeof(tmp));
			tmp.backend = idx;
			tmp.to = in.user;
			bot_answer_irc(c, &tmp, "busy: too many commands are waiting; try again");
		}
		free(identity);
		free(via);
		chat_inbound_dispose(&in);
	}
}

/* Requested-via for Slack and Mattermost: "slack #ops".  The channel
 * name is display text (slack_in checked it has no control characters;
 * the bot keeps only safe characters of it in the trailer). */
static char *
via_of(const char *platform, const struct chat_request *rq)
{
	return xasprintf("%s #%s", platform, rq->channel_name ? rq->channel_name :
	    rq->channel_id ? rq->channel_id : "?");
}

static void
reply_json(struct http_reply *rep, unsigned status, const char *text)
{
	rep->status = status;
	rep->content_type = "application/json";
	chat_reply_json(&rep->body, text, 0);
}

/*
 * POST /slack/command, /slack/actions, /mattermost/command.  Verified,
 * then queued, then acknowledged at once: Slack wants an answer within 3
 * seconds, and the git work happens afterwards in a child that answers
 * through response_url.
 */
static void
http_forward(void *ctx, const struct http_request *req, struct http_reply *rep)
{
	struct ctl *c = ctx;
	struct chat_request rq;
	const char *platform;
	char *identity, *via, *ack;
	int rc, slack = strncmp(req->path, "/slack/", 7) == 0;

	memset(&rq, 0, sizeof(rq));
	if (slack) {
		const char *ts = http_request_header(req, "X-Slack-Request-Timestamp");
		const char *sig = http_request_header(req, "X-Slack-Signature");

		platform = "slack";
		/* Slack's certificate probe: answer 200, do nothing. */
		if (req->body_len < 256 && strstr(req->body, "ssl_check=1")) {
			rep->status = 200;
			return;
		}
		if (slack_verify(c->slack_secret, c->slack_secret ? strlen(c->slack_secret) : 0,
		    ts, sig, req->body, req->body_len, (long long)time(NULL)) != OK) {
			log_event("http: %s refused: %s", req->path, err_last());
			rep->status = 401;
			buf_puts(&rep->body, "invalid request signature\n");
			return;
		}
		rc = strcmp(req->path, "/slack/actions") == 0 ?
		    slack_action_parse(&rq, req->body, req->body_len) :
		    slack_command_parse(&rq, req->body, req->body_len);
		/* A replay of a request we acted on (the same trigger, or the
		 * same signature) is refused like a bad signature. */
		if (rc == OK && replay_check(c->replay, rq.trigger_id ? rq.trigger_id : sig,
		    (long long)time(NULL))) {
			log_event("http: %s refused: %s", req->path, err_last());
			chat_request_dispose(&rq);
			rep->status = 401;
			buf_puts(&rep->body, "replayed request\n");
			return;
		}
	} else {
		platform = "mattermost";
		rc = mattermost_command_parse(&rq, c->mm_token, c->mm_token ? strlen(c->mm_token) : 0,
		    http_request_header(req, "Authorization"), req->body, req->body_len);
		if (rc == ERR_DENIED) {
			log_event("http: %s refused: %s", req->path, err_last());
			rep->status = 401;
			buf_puts(&rep->body, "invalid token\n");
			return;
		}
	}
	if (rc != OK) {
		char *why = xasprintf("firebreak could not read that request: %s", err_last());

		reply_json(rep, 400, why);
		free(why);
		return;
	}
	/* Slack answers through https only (an http:// api_url is a test
	 * stand-in, whose response_url may be http:// too). */
	if (slack && rq.response_url && strncmp(rq.response_url, "https://", 8) != 0 &&
	    !c->slack_http) {
		log_event("http: %s: ignoring a response_url that is not https", req->path);
		free(rq.response_url);
		rq.response_url = NULL;
	}
	identity = xasprintf("%s:%s", platform, rq.user_id);
	via = via_of(platform, &rq);
	if (!bot_enqueue(c, identity, via, rq.text, rq.response_url, -1, NULL))
		reply_json(rep, 200, "busy: too many commands are waiting; try again in a minute");
	else if (strcmp(req->path, "/slack/actions") == 0)
		rep->status = 200;   /* the button's result comes in the plan's thread */
	else {
		ack = xasprintf("on it: %s", rq.text[0] ? rq.text : "help");
		reply_json(rep, 200, ack);
		free(ack);
	}
	free(identity);
	free(via);
	chat_request_dispose(&rq);
}

/* The inbound secrets: Slack's signing secret (the slack chat entry's
 * signing_secret_file) and Mattermost's slash command token (the webhook
 * entry's command_token_file). */
static int
bot_open(struct ctl *c)
{
	const struct ynode *chat = c->cfg->chat;
	ssize_t n;
	size_t i;
	int rc;

	n = readlink("/proc/self/exe", c->self, sizeof(c->self) - 1);
	c->self[n > 0 ? n : 0] = '\0';
	c->replay = replay_new(4096);
	for (i = 0; chat && chat->type == YNODE_SEQ && i < chat->n; i++) {
		const struct ynode *t = ynode_get(chat->items[i], "type");
		const struct ynode *f = NULL;
		char **slot = NULL;

		if (t && strcmp(t->str, "slack") == 0) {
			const struct ynode *api = ynode_get(chat->items[i], "api_url");

			c->slack_http |= api && api->type == YNODE_SCALAR &&
			    strncmp(api->str, "http://", 7) == 0;
			f = ynode_get(chat->items[i], "signing_secret_file"), slot = &c->slack_secret;
		}
		else if (t && strcmp(t->str, "webhook") == 0)
			f = ynode_get(chat->items[i], "command_token_file"), slot = &c->mm_token;
		if (!f || f->type != YNODE_SCALAR || *slot)
			continue;
		if ((rc = config_read_secret(slot, f->str)) != OK)
			return err_set(rc, "%s:%d: %s", c->cfg->path, f->line, err_last());
	}
	return OK;
}

static void
bot_close(struct ctl *c)
{
	size_t i;

	for (i = 0; i < c->njobs; i++)
		job_free(c->jobs[i]);
	c->njobs = 0;
	if (c->fetch_proc) {
		struct proc_result r;

		proc_finish(&r, c->fetch_proc);
		proc_result_dispose(&r);
		c->fetch_proc = NULL;
	}
	replay_free(c->replay);
	if (c->slack_secret)
		explicit_bzero(c->slack_secret, strlen(c->slack_secret));
	if (c->mm_token)
		explicit_bzero(c->mm_token, strlen(c->mm_token));
	free(c->slack_secret);
	free(c->mm_token);
}

/* ---- fetching from the remote ----------------------------------------------- */

static void
fetch_start(struct ctl *c)
{
	const char *argv[] = { c->self, "fetch", "--config", c->cfg->path, NULL };
	struct proc_opts o;

	memset(&o, 0, sizeof(o));
	o.timeout_ms = FETCH_TIMEOUT_MS;
	if (!c->self[0] || proc_start(&c->fetch_proc, argv, &o) != OK) {
		snprintf(c->last_error, sizeof(c->last_error), "fetch: %s", err_last());
		c->fetch_proc = NULL;
	}
}

static void
fetch_step(struct ctl *c)
{
	struct proc_result r;

	if (!proc_poll(c->fetch_proc))
		return;
	proc_finish(&r, c->fetch_proc);
	c->fetch_proc = NULL;
	if (!proc_result_ok(&r)) {
		struct buf why = BUF_INIT;

		proc_result_describe(&why, &r);
		snprintf(c->last_error, sizeof(c->last_error), "fetch %s: %.*s", why.data,
		    (int)strcspn(r.output.data ? r.output.data : "", "\n"),
		    r.output.data ? r.output.data : "");
		log_event("%s", c->last_error);
		buf_dispose(&why);
	}
	proc_result_dispose(&r);
	c->dirty = 1;
}

/* ---- HTTP --------------------------------------------------------------------- */

static char *
http_plan(void *ctx, const char *id)
{
	struct ctl *c = ctx;
	struct buf b = BUF_INIT;
	char path[4096];
	uint64_t v;

	if (parse_u64(&v, id, 1, 1ul << 62) != OK)
		return NULL;
	snprintf(path, sizeof(path), "%s/plans/%s.json", c->cfg->state, id);
	if (fs_read(&b, path, 64u << 20) != OK) {
		buf_dispose(&b);
		return NULL;
	}
	return buf_steal(&b);
}

static void
http_metrics(void *ctx, struct buf *out)
{
	struct ctl *c = ctx;
	size_t i;

	buf_puts(out, "# HELP firebreak_plans_total Plans made, by decision.\n"
	    "# TYPE firebreak_plans_total counter\n");
	for (i = 0; i <= DECISION_INVALID; i++)
		buf_printf(out, "firebreak_plans_total{decision=\"%s\"} %lu\n",
		    decision_name((enum decision)i), c->by_decision[i]);
	buf_printf(out, "# HELP firebreak_applies_total Applies, by result.\n"
	    "# TYPE firebreak_applies_total counter\n"
	    "firebreak_applies_total{result=\"ok\"} %lu\n"
	    "firebreak_applies_total{result=\"failed\"} %lu\n", c->applies_ok, c->applies_failed);
	buf_puts(out, "# HELP firebreak_commit_to_plan_seconds From a new head to its plan.\n"
	    "# TYPE firebreak_commit_to_plan_seconds histogram\n");
	for (i = 0; i < 8; i++)
		buf_printf(out, "firebreak_commit_to_plan_seconds_bucket{le=\"%g\"} %lu\n",
		    lat_bounds[i], c->lat_buckets[i]);
	buf_printf(out, "firebreak_commit_to_plan_seconds_bucket{le=\"+Inf\"} %lu\n"
	    "firebreak_commit_to_plan_seconds_sum %.6f\n"
	    "firebreak_commit_to_plan_seconds_count %lu\n", c->lat_count, c->lat_sum, c->lat_count);
	buf_printf(out, "# HELP firebreak_outbox_depth Chat messages not yet delivered.\n"
	    "# TYPE firebreak_outbox_depth gauge\nfirebreak_outbox_depth %zu\n",
	    c->ob ? outbox_depth(c->ob) : 0);
	buf_printf(out, "# HELP firebreak_last_applied_timestamp_seconds When the last apply happened.\n"
	    "# TYPE firebreak_last_applied_timestamp_seconds gauge\n"
	    "firebreak_last_applied_timestamp_seconds %.0f\n", c->last_applied_at);
}

static void
http_push(void *ctx, const char *source)
{
	struct ctl *c = ctx;

	log_event("push hook from %s", source);
	c->fetch_now = 1;
}

static void
http_log(void *ctx, const char *line)
{
	(void)ctx;
	log_event("http: %s", line);
}

int
controller_run(const struct config *cfg, const struct controller_opts *opts)
{
	struct ctl c;
	sigset_t mask;
	double next_fetch = 0;
	int rc, running = 1;

	if ((rc = ctl_open(&c, cfg)) != OK || (rc = ctl_listen(&c)) != OK ||
	    (rc = bot_open(&c)) != OK) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", err_last());
		ctl_close(&c);
		return err_set(rc, "%s", msg);
	}
	if (cfg->listen) {
		struct http_config hc = { cfg->listen, cfg->hook_secret,
		    cfg->hook_secret ? strlen(cfg->hook_secret) : 0, 0 };
		struct http_handlers hh = { &c, http_plan, http_metrics, http_push, http_forward,
			http_log };

		if ((rc = http_start(&c.http, &hc, &hh)) != OK) {
			char msg[1024];

			snprintf(msg, sizeof(msg), "%s", err_last());
			ctl_close(&c);
			return err_set(rc, "%s", msg);
		}
		log_event("listening on http://%s", cfg->listen);
	}
	c.bootstrap_apply = opts && opts->bootstrap_apply;
	recover_plans(&c);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	c.sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	log_event("running on %s (%s), state %s, applied %.7s", cfg->repo, cfg->branch,
	    cfg->state, c.base.sha[0] ? c.base.sha : "nothing");
	reconcile(&c);
	if (c.ob)
		outbox_run(c.ob);
	while (running) {
		struct pollfd pfd[6 + 8 + BOT_RUNNING];
		int nfd = 0, fds[8], timeout = 1000, due;
		size_t i, nob = c.ob ? outbox_fds(c.ob, fds, 8) : 0;

		pfd[nfd].fd = c.ifd;
		pfd[nfd++].events = POLLIN;
		pfd[nfd].fd = c.sfd;
		pfd[nfd++].events = POLLIN;
		pfd[nfd].fd = c.lfd;
		pfd[nfd++].events = POLLIN;
		if (c.http) {
			pfd[nfd].fd = http_fd(c.http);
			pfd[nfd++].events = POLLIN;
			if ((due = http_timeout_ms(c.http)) >= 0 && due < timeout)
				timeout = due;
		}
		if (c.hook_run) {
			const struct apply_ops *ops = c.aps[c.hook_idx]->ops;

			pfd[nfd].fd = ops->fd(c.hook_run);
			pfd[nfd++].events = POLLIN;
			if ((due = ops->timeout_ms(c.hook_run)) >= 0 && due < timeout)
				timeout = due;
		}
		for (i = 0; i < nob; i++) {
			pfd[nfd].fd = fds[i];
			pfd[nfd++].events = POLLIN;
		}
		if (c.fetch_proc) {
			if ((pfd[nfd].fd = proc_fd(c.fetch_proc)) >= 0)
				pfd[nfd++].events = POLLIN;
			if ((due = proc_timeout_ms(c.fetch_proc)) >= 0 && due < timeout)
				timeout = due;
		}
		for (i = 0; i < c.njobs; i++)
			if (c.jobs[i]->proc && nfd < (int)(sizeof(pfd) / sizeof(*pfd))) {
				if ((pfd[nfd].fd = proc_fd(c.jobs[i]->proc)) >= 0)
					pfd[nfd++].events = POLLIN;
				if ((due = proc_timeout_ms(c.jobs[i]->proc)) >= 0 && due < timeout)
					timeout = due;
			}
		/* A new head held back for a running command (below). */
		if (c.dirty && bot_may_commit(&c) && timeout > 50)
			timeout = 50;
		if (c.ob && (due = outbox_next_due(c.ob)) >= 0 && due * 1000 < timeout)
			timeout = due * 1000;
		if (poll(pfd, (nfds_t)nfd, timeout) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents & POLLIN)
			running = 0;
		if (pfd[0].revents & POLLIN) {
			char evbuf[4096];

			/* Coalesce a burst: drain every event, reconcile once. */
			while (read(c.ifd, evbuf, sizeof(evbuf)) > 0)
				;
			if (!c.dirty)
				c.dirty_since = log_now();
			c.dirty = 1;
		}
		if (cfg->remote && log_now() >= next_fetch)
			c.fetch_now = 1;
		if (c.fetch_now && !c.fetch_proc) {
			/* A push hook or the poll timer: fetch the branch, in a child
			 * (a remote that hangs must not stop the loop); the ref it
			 * moves wakes inotify.  A push into a local repository is seen
			 * by inotify anyway. */
			c.fetch_now = 0;
			if (cfg->remote) {
				next_fetch = log_now() + cfg->poll_seconds;
				fetch_start(&c);
			}
			c.dirty = 1;
		}
		if (c.fetch_proc)
			fetch_step(&c);
		/* Both step without blocking; calling them on every wake-up is
		 * cheaper than telling their fds from their timeouts. */
		if (c.hook_run)
			hooks_step(&c);
		bot_step(&c);
		/* Never two reconciles at once: a commit waits for the hooks.  And
		 * while a chat command runs, its commit waits (briefly) for the
		 * command to announce it, so the plan lands in that thread. */
		if (c.dirty && !c.hook_plan && (!bot_may_commit(&c) ||
		    log_now() - c.dirty_since > BOT_HOLD_SECONDS)) {
			c.dirty = 0;
			reconcile(&c);
		}
		if (pfd[2].revents & POLLIN) {
			int fd = accept4(c.lfd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0) {
				serve_client(&c, fd);
				close(fd);
			}
		}
		if (c.http)
			http_run(c.http);
		if (c.ob) {
			outbox_tick(c.ob);
			bot_irc_intake(&c);
			bot_step(&c);
			outbox_run(c.ob);
		}
	}
	log_event("stopping");
	ctl_close(&c);
	return OK;
}

/* Open and close one provider of a `chat:` or `apply:` list entry. */
static int
check_entry(const struct config *cfg, const char *list, size_t i, const struct ynode *e)
{
	const struct ynode *t = ynode_get(e, "type");
	void *st = NULL;
	int rc;

	if (strcmp(list, "chat") == 0) {
		const struct chat_provider *cp = t ? chat_find(t->str) : NULL;

		if (!cp)
			return err_set(ERR_INVALID, "%s:%d:%d: chat[%zu]: no chat provider '%s' "
			    "(console, slack, webhook, irc)", cfg->path, e->line, e->col, i,
			    t ? t->str : "");
		if ((rc = cp->ops->open(&st, e)) != OK)
			return err_set(rc, "%s:%d:%d: chat[%zu] %s: %s", cfg->path, e->line, e->col,
			    i, cp->name, err_last());
		cp->ops->close(st);
		return OK;
	} else {
		const struct apply_provider *ap = t ? apply_find(t->str) : NULL;

		if (!ap)
			return err_set(ERR_INVALID, "%s:%d:%d: apply[%zu]: no apply provider '%s' "
			    "(exec)", cfg->path, e->line, e->col, i, t ? t->str : "");
		if ((rc = ap->ops->open(&st, e)) != OK)
			return err_set(rc, "%s:%d:%d: apply[%zu] %s: %s", cfg->path, e->line,
			    e->col, i, ap->name, err_last());
		ap->ops->close(st);
		return OK;
	}
}

int
controller_check(const struct config *cfg)
{
	size_t i;
	int rc;

	for (i = 0; cfg->chat && i < cfg->chat->n; i++)
		if ((rc = check_entry(cfg, "chat", i, cfg->chat->items[i])) != OK)
			return rc;
	for (i = 0; cfg->apply && i < cfg->apply->n; i++)
		if ((rc = check_entry(cfg, "apply", i, cfg->apply->items[i])) != OK)
			return rc;
	return OK;
}

int
controller_decide(const struct config *cfg, int approve, const char *id, const char *user,
    char **msg)
{
	struct ctl c;
	int rc;

	*msg = NULL;
	if ((rc = ctl_open(&c, cfg)) != OK) {
		*msg = xasprintf("%s", err_last());
		ctl_close(&c);
		return rc;
	}
	rc = decide(&c, approve, id, user, msg);
	/* The operator's shell waits for the apply hooks to finish. */
	while (c.hook_run) {
		struct pollfd pfd;
		const struct apply_ops *ops = c.aps[c.hook_idx]->ops;

		pfd.fd = ops->fd(c.hook_run);
		pfd.events = POLLIN;
		if (poll(&pfd, pfd.fd >= 0 ? 1 : 0, ops->timeout_ms(c.hook_run)) < 0 && errno != EINTR)
			break;
		hooks_step(&c);
	}
	if (c.ob)
		outbox_run(c.ob);
	ctl_close(&c);
	return rc;
}

int
controller_request(const struct config *cfg, int approve, const char *id, const char *user,
    char **msg)
{
	char *reply = NULL, *req;
	int rc;

	*msg = NULL;
	if (!valid_user(user))
		return (*msg = xasprintf("'%s' is not a valid user name", user)), ERR_INVALID;
	if (strpbrk(id, " \t\r\n") || !*id)
		return (*msg = xasprintf("'%s' is not a plan id", id)), ERR_INVALID;
	req = xasprintf("%s %s %s\n", approve ? "approve" : "discard", id, user);
	rc = controller_ask(cfg->state, req, &reply);
	free(req);
	if (rc == OK) {
		const char *text = strchr(reply, ' ') ? strchr(reply, ' ') + 1 : reply;

		*msg = xstrndup(text, strcspn(text, "\n"));
		rc = strncmp(reply, "ok", 2) == 0 ? OK :
		    strncmp(reply, "refused", 7) == 0 ? ERR_DENIED : ERR;
		free(reply);
		return rc;
	}
	if (rc != ERR_NOTFOUND)
		return (*msg = xasprintf("%s", err_last())), rc;
	return controller_decide(cfg, approve, id, user, msg);
}

/* Open plans, undelivered messages and the last chat error, from the
 * files a stopped controller left. */
struct open_plans {
	struct buf *out;
	size_t n;
};

static int
list_open(void *ctx, const char *file, json_t *j)
{
	struct open_plans *o = ctx;
	const char *outcome = json_string_value(json_object_get(j, "outcome"));

	(void)file;
	if (outcome && strcmp(outcome, "open") == 0) {
		buf_printf(o->out, "open: plan %s for %.7s (%s)\n",
		    json_string_value(json_object_get(j, "id")),
		    json_string_value(json_object_get(j, "target")),
		    json_string_value(json_object_get(j, "decision")));
		o->n++;
	}
	return 0;
}

static void
status_from_files(const char *state, struct buf *out)
{
	struct open_plans o = { out, 0 };
	char path[4096];
	struct buf err = BUF_INIT;
	size_t pending = 0;
	DIR *d;
	struct dirent *e;

	state_each_plan(state, list_open, &o);
	if (!o.n)
		buf_puts(out, "open: none\n");
	snprintf(path, sizeof(path), "%s/outbox", state);
	if ((d = opendir(path))) {
		while ((e = readdir(d)))
			pending += str_has_suffix(e->d_name, ".json");
		closedir(d);
	}
	buf_printf(out, "outbox: %zu undelivered post%s\n", pending, pending == 1 ? "" : "s");
	snprintf(path, sizeof(path), "%s/outbox/last-error", state);
	if (fs_read(&err, path, 4096) == OK && err.len)
		buf_printf(out, "chat error: %.*s\n", (int)strcspn(err.data, "\n"), err.data);
	buf_dispose(&err);
}

int
controller_status(const struct config *cfg, struct buf *out)
{
	char *reply = NULL, applied[41];
	int rc;

	rc = controller_ask(cfg->state, "status\n", &reply);
	if (rc == OK) {
		buf_puts(out, strncmp(reply, "ok ", 3) == 0 ? reply + 3 : reply);
		free(reply);
		return OK;
	}
	/* No controller: what the state directory says. */
	if ((rc = state_read_applied(cfg->state, applied)) != OK)
		return rc;
	buf_printf(out, "controller: not running\napplied: %s\n", applied[0] ? applied :
	    "(nothing yet)");
	status_from_files(cfg->state, out);
	return OK;
}
