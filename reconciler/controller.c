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

#include "fs.h"
#include "log.h"
#include "outbox.h"
#include "http.h"
#include "../providers/apply.h"
#include "../providers/chat.h"
#include "pipeline.h"
#include "plan.h"
#include "policy.h"
#include "repo.h"
#include "state.h"

#define CTL_SOCKET "control.sock"
#define CTL_MAX_REQUEST 1024

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
	if (outbox_post(c->ob, p ? p->id : NULL, summary, body, NULL, actions) != OK)
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
static void
recover_plans(struct ctl *c)
{
	char path[4096];
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "%s/plans", c->cfg->state);
	if (!(d = opendir(path)))
		return;
	while ((e = readdir(d))) {
		char file[4096 + 256];
		const char *outcome, *target, *now = NULL;
		json_t *j;

		if (!str_has_suffix(e->d_name, ".json"))
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		if (!(j = json_load_file(file, JSON_REJECT_DUPLICATES, NULL)))
			continue;
		outcome = json_string_value(json_object_get(j, "outcome"));
		target = json_string_value(json_object_get(j, "target"));
		/* Released but its hooks cut short: "interrupted" (run them by
		 * hand); with no hooks configured the release was the apply. */
		if (outcome && strcmp(outcome, "applying") == 0)
			now = !target || strcmp(target, c->base.sha) != 0 ? "failed" :
			    c->naps ? "interrupted" : "applied";
		else if (outcome && strcmp(outcome, "open") == 0)
			now = "superseded";
		if (now && rewrite_outcome(file, j, now, NULL) == OK)
			log_event("plan %.*s: %s after a restart", (int)(strlen(e->d_name) - 5),
			    e->d_name, now);
		json_decref(j);
	}
	closedir(d);
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
	snapshot_dispose(&c->base);
	outbox_close(c->ob);
	state_close(c->st);
	repo_free(c->repo);
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

	if ((rc = ctl_open(&c, cfg)) != OK || (rc = ctl_listen(&c)) != OK) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", err_last());
		ctl_close(&c);
		return err_set(rc, "%s", msg);
	}
	if (cfg->listen) {
		struct http_config hc = { cfg->listen, cfg->hook_secret,
		    cfg->hook_secret ? strlen(cfg->hook_secret) : 0, 0 };
		struct http_handlers hh = { &c, http_plan, http_metrics, http_push, NULL, http_log };

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
		struct pollfd pfd[5 + 8];
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
			c.dirty = 1;
		}
		if (cfg->remote && log_now() >= next_fetch)
			c.fetch_now = 1;
		if (c.fetch_now) {
			/* A push hook or the poll timer: fetch the branch (a push
			 * into a local repository is seen by inotify anyway). */
			c.fetch_now = 0;
			if (cfg->remote) {
				next_fetch = log_now() + cfg->poll_seconds;
				if (repo_fetch(c.repo, cfg->remote, cfg->branch) != OK) {
					snprintf(c.last_error, sizeof(c.last_error), "%s", err_last());
					log_event("%s", err_last());
				}
			}
			c.dirty = 1;
		}
		/* Both step without blocking; calling them on every wake-up is
		 * cheaper than telling their fds from their timeouts. */
		if (c.hook_run)
			hooks_step(&c);
		/* Never two reconciles at once: a commit waits for the hooks. */
		if (c.dirty && !c.hook_plan) {
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
