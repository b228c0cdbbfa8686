/*
 * loop.c - `firebreak run`: the controller's one thread and one poll()
 * loop over inotify (the repository's refs), a signalfd, the control
 * socket, the HTTP listener, the chat outbox and the children it runs
 * (apply providers, chat commands, fetches).  See controller.h.
 */
#include "controller/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "base/proc.h"
#include "base/sdnotify.h"
#include "controller/http.h"
#include "git/repo.h"
#include "providers/apply/apply.h"
#include "providers/chat/chat.h"
#include "state/ctlclient.h"
#include "state/outbox.h"
#include "state/state.h"

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

int
ctl_open(struct ctl *c, const struct config *cfg, int start)
{
	struct diags d = { NULL, 0, 0 };
	char applied[41], path[4096];
	char *gd, *dir;
	int rc;

	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	c->ifd = c->sfd = c->lfd = -1;
	for (size_t i = 0; i < CTL_MAX_CONNS; i++)
		c->conns[i].fd = -1;
	snprintf(c->ref, sizeof(c->ref), "refs/heads/%s", cfg->branch);
	/* The state lock first: at a start, what a killed controller's apply
	 * left running is stopped before anything slow. */
	if ((rc = state_open(&c->st, cfg->state, 1)) != OK)
		return rc;
	if (start)
		ctl_stop_leftovers(c);
	if ((rc = repo_open(&c->repo, cfg->repo)) != OK)
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
	if ((rc = ctl_rollout_open(c)) != OK)
		return rc;
	/* Before this process's outbox delivers anything: a reserved post not
	 * queued yet is then known to be unsent (outbox_queued()). */
	ctl_recover_plans(c, 0);
	if ((rc = ctl_health_open(c)) != OK || (rc = ctl_mout_open(c)) != OK)
		return rc;
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

void
ctl_close(struct ctl *c)
{
	ctlsock_close(c);
	if (c->ifd >= 0)
		close(c->ifd);
	if (c->sfd >= 0)
		close(c->sfd);
	ctl_drop_open(c);
	ctl_world_close(c);
	json_decref(c->carried);
	if (c->hook_run) {
		char *reason = NULL;

		c->aps[c->hook_idx]->ops->cancel(c->hook_run);
		c->aps[c->hook_idx]->ops->finish(&reason, c->hook_run);
		free(reason);
	}
	plan_free(c->hook_plan);
	json_decref(c->hook_rec);
	ctl_rollout_close(c);
	snapshot_dispose(&c->hook_base);
	for (size_t i = 0; i < c->naps; i++)
		c->aps[i]->ops->close(c->apst[i]);
	free(c->aps);
	free(c->apst);
	http_stop(c->http);
	ctl_health_close(c);
	ctl_mout_close(c);
	jobs_close(c);
	if (c->fetch_proc) {
		struct proc_result r;

		proc_finish(&r, c->fetch_proc);
		proc_result_dispose(&r);
		c->fetch_proc = NULL;
	}
	ctl_chat_close(c);
	snapshot_dispose(&c->base);
	outbox_close(c->ob);
	state_close(c->st);
	repo_free(c->repo);
}

/* ---- fetching from the remote ----------------------------------------------- */

void
ctl_fetch_start(struct ctl *c)
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

void
ctl_fetch_step(struct ctl *c)
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
		log_event(NULL, "%s", c->last_error);
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
	/* The plan's rollout, per host, goes with it (its own record). */
	{
		json_t *ro = ctl_rollout_json(c->cfg->state, id), *j;
		char *text;

		if (ro && (j = json_loadb(b.data, b.len, 0, NULL))) {
			json_object_set_new(j, "rollout", ro);
			ro = NULL;
			if ((text = json_dumps(j, JSON_COMPACT))) {
				buf_dispose(&b);
				json_decref(j);
				return text;
			}
			json_decref(j);
		}
		json_decref(ro);
	}
	return buf_steal(&b);
}

static void
http_push(void *ctx, const char *source)
{
	struct ctl *c = ctx;

	log_event(NULL, "push hook from %s", source);
	c->fetch_now = 1;
}

static void
http_log(void *ctx, const char *line)
{
	(void)ctx;
	log_event(NULL, "http: %s", line);
}

/* systemd's STATUS= (base/sdnotify.h): the applied commit, sent again
 * whenever it changes (a reconcile, an approval, a finished apply).
 * `told` holds the commit last sent. */
static void
notify_applied(const struct ctl *c, char told[41])
{
	const char *now = c->base.sha[0] ? c->base.sha : "-";
	char status[SDNOTIFY_STATUS_MAX];

	if (strcmp(told, now) == 0)
		return;
	snprintf(told, 41, "%s", now);
	if (c->base.sha[0])
		snprintf(status, sizeof(status), "applied %s on %s", c->base.sha, c->cfg->branch);
	else
		snprintf(status, sizeof(status), "nothing applied yet on %s", c->cfg->branch);
	sdnotify_status(status);
}

int
controller_run(const struct config *cfg, const struct controller_opts *opts)
{
	return cfg->ha ? ctl_ha_run(cfg, opts) : ctl_run(cfg, opts, NULL);
}

/* Without `ha`, the one controller; with it, one term of this instance
 * as the leader or as a follower (ha.c).  See ctl.h. */
int
ctl_run(const struct config *cfg, const struct controller_opts *opts, struct hactl *ha)
{
	struct ctl c;
	sigset_t mask;
	double next_fetch = 0, turn;
	struct timespec turn_cpu;
	struct sdwatchdog wd;
	char told[41] = "";
	int rc, running = 1, leading = !ha || ctl_ha_leading(ha);

	/* A follower has no control socket: the shell's requests go to the
	 * leader through etcd (controller_ha_ask). */
	/* A leader's state writes go to etcd from the first (recovery's). */
	if (ha && leading)
		ctl_ha_mirror(ha, 1);
	if ((rc = ctl_open(&c, cfg, leading)) != OK || (leading && (rc = ctl_listen(&c)) != OK) ||
	    (rc = ctl_chat_open(&c)) != OK || (ha && (c.ha = ha) && (rc = ctl_ha_begin(&c)) != OK)) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", err_last());
		ctl_ha_end(&c);
		ctl_close(&c);
		if (ha && leading) {
			log_event(NULL, "ha: cannot lead: %s", msg);
			return CTL_ROLE;
		}
		return err_set(rc, "%s", msg);
	}
	if (cfg->listen) {
		struct http_config hc = { cfg->listen, cfg->hook_secret,
		    cfg->hook_secret ? strlen(cfg->hook_secret) : 0, 0, c.route_paths,
		    ctl_ha_http_fd(ha) };
		struct http_handlers hh = { &c, http_plan, ctl_metrics, http_push, ctl_chat_http,
			http_log };

		if ((rc = http_start(&c.http, &hc, &hh)) != OK) {
			char msg[1024];

			snprintf(msg, sizeof(msg), "%s", err_last());
			ctl_close(&c);
			return err_set(rc, "%s", msg);
		}
		log_event(NULL, "listening on http://%s", cfg->listen);
	}
	c.bootstrap_apply = opts && opts->bootstrap_apply;
	ctl_world_open(&c);
	if (leading) {
		if (ha)
			ctl_ha_reopen(&c);   /* open plans keep their ids across a failover */
		/* May start finishing an apply a stop cut short: the loop drives it. */
		ctl_recover_plans(&c, 1);
		/* A new plan owed by a plan that ended before it was made. */
		ctl_renew_recover(&c);
		/* A rollout a stop or a kill cut short goes on (before the outbox
		 * delivers: its written-ahead messages are queued once); one whose
		 * apply providers that recovery is running again begins when they
		 * end. */
		ctl_rollout_resume_after_restart(&c);
		if (!c.hook_plan)
			ctl_retain(&c);
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	c.sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	log_event(NULL, "running on %s (%s), state %s, applied %.7s%s", cfg->repo, cfg->branch,
	    cfg->state, c.base.sha[0] ? c.base.sha : "nothing", !ha ? "" : leading ?
	    " as the leader" : " as a follower");
	rc = OK;
	/* Never two applies at once: the head waits for a finishing one. */
	if (leading && c.hook_plan) {
		c.dirty = 1;
		c.dirty_since = log_now();
	} else if (leading) {
		ctl_reconcile(&c);
	}
	/* Ready once the first reconcile ran (or, when a cut-short apply is
	 * being finished first, once the loop that drives it starts); with
	 * `ha`, once this instance follows or leads (again at each change of
	 * role, which systemd takes as the same news). */
	notify_applied(&c, told);
	sdnotify_ready(NULL);
	sdnotify_watchdog_init(&wd);
	if (c.ob && leading)
		outbox_run(c.ob);
	if (ha)
		ctl_ha_after_turn(&c, leading);
	while (running) {
		struct pollfd pfd[6 + 8 + BOT_RUNNING + 1 + CTL_MAX_CONNS + ROLLOUT_PARALLEL_MAX + 2 + 2];
		int nfd = 0, fds[8], timeout = 1000, due;
		size_t i, nob = c.ob ? outbox_fds(c.ob, fds, 8) : 0;

		pfd[nfd].fd = c.ifd;
		pfd[nfd++].events = POLLIN;
		pfd[nfd].fd = c.sfd;
		pfd[nfd++].events = POLLIN;
		if (c.http) {
			pfd[nfd].fd = http_fd(c.http);
			pfd[nfd++].events = POLLIN;
			if ((due = http_timeout_ms(c.http)) >= 0 && due < timeout)
				timeout = due;
		}
		nfd += (int)ctl_hooks_pollfds(&c, pfd + nfd, 1, &timeout);
		for (i = 0; i < nob; i++) {
			pfd[nfd].fd = fds[i];
			pfd[nfd++].events = POLLIN;
		}
		if (leading)
			nfd += (int)ctl_rollout_pollfds(&c, pfd + nfd, ROLLOUT_PARALLEL_MAX, &timeout);
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
		if (c.dirty && jobs_may_commit(&c) && timeout > 50)
			timeout = 50;
		if (c.ob && leading && (due = outbox_next_due(c.ob)) >= 0 && due * 1000 < timeout)
			timeout = due * 1000;
		nfd += (int)ctlsock_pollfds(&c, pfd + nfd, sizeof(pfd) / sizeof(*pfd) - (size_t)nfd,
		    &timeout);
		if (leading) {
			nfd += (int)ctl_world_pollfds(&c, pfd + nfd, sizeof(pfd) / sizeof(*pfd) -
			    (size_t)nfd, &timeout);
			nfd += (int)ctl_health_pollfds(&c, pfd + nfd, sizeof(pfd) / sizeof(*pfd) -
			    (size_t)nfd, &timeout);
		}
		nfd += (int)ctl_mout_pollfds(&c, pfd + nfd, sizeof(pfd) / sizeof(*pfd) - (size_t)nfd,
		    &timeout);
		if (ha)
			ctl_ha_pollfds(&c, &timeout);
		sdnotify_watchdog_timeout(&wd, &timeout);
		if (poll(pfd, (nfds_t)nfd, timeout) < 0 && errno != EINTR) {
			/* Not a clean stop: systemd's Restart=on-failure must see it. */
			rc = err_set(ERR, "poll: %s", strerror(errno));
			log_event(NULL, "stopping: %s", err_last());
			ctl_ha_end(&c);
			ctl_close(&c);
			return rc;
		}
		turn = log_now();
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &turn_cpu);
		/* Every turn of the loop pings; a loop stuck anywhere stops. */
		sdnotify_watchdog_tick(&wd);
		if (pfd[1].revents & POLLIN)
			running = 0;
		/* First of all, a leader whose lease may be gone (it was paused,
		 * say) stops before it does anything else. */
		if (ha && running && !ctl_ha_turn(&c, leading)) {
			rc = CTL_ROLE;
			break;
		}
		if (!leading) {
			/* A follower: its release follows etcd (ctl_ha_turn), it
			 * serves HTTP and hears chat, and acts on nothing. */
			if (pfd[0].revents & POLLIN) {
				char evbuf[4096];

				while (read(c.ifd, evbuf, sizeof(evbuf)) > 0)
					;
			}
			if (c.fetch_now && !c.fetch_proc && cfg->remote) {
				c.fetch_now = 0;
				ctl_fetch_start(&c);
			}
			if (c.fetch_proc)
				ctl_fetch_step(&c);
			ctl_mout_step(&c);
			if (c.http)
				http_run(c.http);
			if (c.ob) {
				outbox_tick(c.ob);
				ctl_chat_irc(&c);
			}
			continue;
		}
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
				ctl_fetch_start(&c);
			}
			c.dirty = 1;
		}
		if (c.fetch_proc)
			ctl_fetch_step(&c);
		/* Both step without blocking; calling them on every wake-up is
		 * cheaper than telling their fds from their timeouts. */
		if (ctl_hooks_busy(&c))
			ctl_hooks_step(&c);
		ctl_world_step(&c);
		ctl_rollout_step(&c);
		jobs_step(&c);
		/* Never two reconciles at once: a commit waits for the hooks.  And
		 * while a chat command runs, its commit waits (briefly) for the
		 * command to announce it, so the plan lands in that thread. */
		if (c.dirty && !c.hook_plan && !c.prep_plan && !c.rerun_due && (!jobs_may_commit(&c) ||
		    log_now() - c.dirty_since > BOT_HOLD_SECONDS)) {
			c.dirty = 0;
			ctl_reconcile(&c);
		}
		/* Retention catching up, a bounded pass per wake-up. */
		if (c.retain_more && !c.hook_plan)
			ctl_retain(&c);
		ctlsock_step(&c);
		ctl_health_step(&c);
		ctl_mout_step(&c);
		if (c.http)
			http_run(c.http);
		if (c.ob) {
			outbox_tick(c.ob);
			ctl_chat_irc(&c);
			jobs_step(&c);
			outbox_run(c.ob);
		}
		notify_applied(&c, told);
		if (log_now() - turn > c.turn_max)
			c.turn_max = log_now() - turn;
		/* A rollout's turns: from its start, not the commit's turn that
		 * planned and switched before it (logged when it is over). */
		if (c.ro) {
			double spent = log_now() - (turn > c.ro_turn_from ? turn : c.ro_turn_from);

			if (spent > c.ro_turn_max)
				c.ro_turn_max = spent;
		}
		{
			struct timespec now;
			double cpu;

			clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
			cpu = (double)(now.tv_sec - turn_cpu.tv_sec) +
			    (double)(now.tv_nsec - turn_cpu.tv_nsec) / 1e9;
			if (cpu > c.turn_cpu_max)
				c.turn_cpu_max = cpu;
		}
		if (ha)
			ctl_ha_after_turn(&c, leading);
	}
	log_event(NULL, rc == CTL_ROLE ? "ha: %s" : "stopping", leading ? "stops leading" :
	    "leads now");
	/* A change of role (CTL_ROLE) runs the loop again at once. */
	if (rc != CTL_ROLE)
		sdnotify_stopping();
	/* A leader's commands that never started go to the next leader. */
	if (ha && leading)
		ctl_ha_requeue(&c);
	ctl_ha_end(&c);
	ctl_close(&c);
	return rc;
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
			    "(exec, rfc2136, terraform)", cfg->path, e->line, e->col, i,
			    t ? t->str : "");
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
