/*
 * jobs.c - the chat commands the controller runs for people, each as a
 * child (`firebreak-core chat ... --json`): the loop never waits for git,
 * and a crash stays in the child.  BOT_RUNNING run at once, BOT_QUEUED
 * more wait.  See ctl.h.
 *
 * Who hears the answer depends on the backend the command came through:
 * one whose provider answers by itself (Slack's and Mattermost's
 * response_url) is answered by the child, through that provider's reply
 * op; any other (IRC) through the outbox, in its channel, addressed to the
 * asker.  A command that made a commit is announced to every chat, and
 * the plan for it threads under that announcement.
 */
#include "controller/ctl.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/proc.h"
#include "providers/chat/chat.h"
#include "state/outbox.h"

void
job_free(struct botjob *j)
{
	if (!j)
		return;
	if (j->proc) {
		struct proc_result r;

		proc_finish(&r, j->proc);
		proc_result_dispose(&r);
	}
	chat_command_dispose(&j->cmd);
	free(j->health_host);
	free(j->health_reason);
	free(j);
}

static int
jobs_full(const struct ctl *c)
{
	return c->njobs == sizeof(c->jobs) / sizeof(*c->jobs);
}

int
jobs_enqueue(struct ctl *c, struct chat_command *cmd, int backend)
{
	struct botjob *j;

	if (jobs_full(c) || !c->self[0])
		return 0;
	j = xcalloc(1, sizeof(*j));
	j->cmd = *cmd;
	memset(cmd, 0, sizeof(*cmd));
	j->backend = backend;
	c->jobs[c->njobs++] = j;
	log_event(NULL, "chat: %s%s via %s: %s", j->cmd.identity,
	    j->cmd.flags & CHAT_CMD_VERIFIED ? "" : " (unverified)", j->cmd.via, j->cmd.text);
	return 1;
}

int
jobs_enqueue_health(struct ctl *c, const char *host, const char *finding)
{
	struct botjob *j;

	if (jobs_full(c) || !c->self[0])
		return 0;
	j = xcalloc(1, sizeof(*j));
	j->health_host = xstrdup(host);
	j->backend = -1;
	j->cmd.text = xasprintf("drain %s", host);
	j->cmd.via = xstrdup("health");
	j->cmd.identity = xstrdup(POLICY_HEALTH_USER);
	j->health_reason = xstrdup(finding);
	c->jobs[c->njobs++] = j;
	log_event(NULL, "health: drain %s (%s)", host, finding);
	return 1;
}

/* Does this job's answer go through its provider's reply op (a child)? */
static int
replies_itself(const struct ctl *c, const struct botjob *j)
{
	return c->ob && outbox_replies_itself(c->ob, j->backend);
}

static void
job_start(struct ctl *c, struct botjob *j)
{
	const char *argv[26];
	struct proc_opts o;
	char entry[16], fence[24];
	size_t n = 0;

	snprintf(entry, sizeof(entry), "%d", j->backend);
	argv[n++] = c->self;
	if (j->reply_only) {
		argv[n++] = "reply";
		argv[n++] = "--config";
		argv[n++] = c->cfg->path;
		argv[n++] = "--chat-entry";
		argv[n++] = entry;
		argv[n++] = "--reply-to";
		argv[n++] = j->cmd.reply_to;
		argv[n++] = "--";
		argv[n++] = j->cmd.text;
		goto start;
	}
	argv[n++] = "chat";
	argv[n++] = "--config";
	argv[n++] = c->cfg->path;
	/* HA: the child commits only while this leader's term lasts. */
	if (c->ha && ctl_ha_fence(c->ha) > 0) {
		snprintf(fence, sizeof(fence), "%lld", (long long)ctl_ha_fence(c->ha));
		argv[n++] = "--ha-fence";
		argv[n++] = fence;
	}
	if (j->health_host) {
		/* firebreak's own health action: no identity, no chat entry. */
		argv[n++] = "--health-action";
		argv[n++] = "--reason";
		argv[n++] = j->health_reason;
		argv[n++] = "--via";
		argv[n++] = j->cmd.via;
		argv[n++] = "--json";
		argv[n++] = "--";
		argv[n++] = j->cmd.text;
		goto start;
	}
	argv[n++] = "--identity";
	argv[n++] = j->cmd.identity;
	argv[n++] = "--via";
	argv[n++] = j->cmd.via;
	argv[n++] = "--json";
	if (!(j->cmd.flags & CHAT_CMD_VERIFIED))
		argv[n++] = "--unverified";
	if (!(j->cmd.flags & CHAT_CMD_MAY_APPROVE))
		argv[n++] = "--no-approve";
	if (j->backend >= 0 && j->cmd.reply_to && replies_itself(c, j)) {
		argv[n++] = "--chat-entry";
		argv[n++] = entry;
		argv[n++] = "--reply-to";
		argv[n++] = j->cmd.reply_to;
	}
	argv[n++] = "--";
	argv[n++] = j->cmd.text;
start:
	argv[n] = NULL;
	memset(&o, 0, sizeof(o));
	o.timeout_ms = BOT_TIMEOUT_MS;
	if (proc_start(&j->proc, argv, &o) != OK) {
		log_event(NULL, "chat: cannot start %s: %s", c->self, err_last());
		j->proc = NULL;
	}
}

void
jobs_answer_in_chat(struct ctl *c, int backend, const char *to, const char *text)
{
	struct outbox_msg m;
	size_t first = strcspn(text, "\n");
	char *summary = xstrndup(text, first);

	if (!c->ob)
		return;
	memset(&m, 0, sizeof(m));
	m.summary = summary;
	m.body = text[first] ? text + first + 1 : NULL;
	m.only = backend;
	m.to = to;
	if (outbox_send(c->ob, &m) != OK)
		log_event(NULL, "chat: answering %s: %s", to ? to : "?", err_last());
	free(summary);
}

/* Tell whoever was told "on it" how a command ended that gave no answer
 * of its own (the child died, or could not start). */
static void
answer_failure(struct ctl *c, struct botjob *j, const char *text)
{
	struct botjob *rj;

	if (j->backend < 0 || !j->cmd.reply_to)
		return;
	if (!replies_itself(c, j)) {
		jobs_answer_in_chat(c, j->backend, j->cmd.reply_to, text);
		return;
	}
	if (jobs_full(c))
		return;
	rj = xcalloc(1, sizeof(*rj));
	rj->reply_only = 1;
	rj->backend = j->backend;
	rj->cmd.reply_to = xstrdup(j->cmd.reply_to);
	rj->cmd.text = xstrdup(text);
	c->jobs[c->njobs++] = rj;
}

/* A command ended: announce its commit to every chat (the plan for it
 * then threads under that message), or answer the asker where the child
 * did not. */
static void
job_finished(struct ctl *c, struct botjob *j, struct proc_result *r)
{
	const char *line = r->output.data ? strstr(r->output.data, "{\"code\"") : NULL;
	json_t *ans = line ? json_loads(line, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
	const char *text = json_string_value(json_object_get(ans, "text"));
	const char *commit = json_string_value(json_object_get(ans, "commit"));
	const char *user = json_string_value(json_object_get(ans, "user"));

	if (j->health_host) {
		if (!ans || !text)
			log_event(NULL, "health: `%s` failed: %.*s", j->cmd.text,
			    (int)strcspn(r->output.data ? r->output.data : "", "\n"),
			    r->output.data ? r->output.data : "");
		ctl_health_job_done(c, j->health_host, commit, text);
	}
	if (j->reply_only) {
		if (!proc_result_ok(r))
			log_event(NULL, "chat: answering through chat[%d] failed: %.*s", j->backend,
			    (int)strcspn(r->output.data ? r->output.data : "", "\n"),
			    r->output.data ? r->output.data : "");
		json_decref(ans);
		return;
	}
	if (!ans || !text) {
		struct buf why = BUF_INIT;
		const char *out = r->output.data ? r->output.data : "";
		char *t;

		proc_result_describe(&why, r);
		log_event(NULL, "chat: `%s` from %s failed: %s: %.*s", j->cmd.text, j->cmd.identity,
		    why.data, (int)strcspn(out, "\n"), out);
		t = xasprintf("`%s` failed (%s); the controller's log says why", j->cmd.text,
		    why.data);
		answer_failure(c, j, t);
		free(t);
		buf_dispose(&why);
		json_decref(ans);
		return;
	}
	if (commit && strlen(commit) == 40 && c->ob) {
		struct outbox_msg m;
		char *summary = xasprintf("%s (%s): %.*s", user && *user ? user : j->cmd.identity,
		    j->cmd.via, (int)strcspn(text, "\n"), text);

		memset(&m, 0, sizeof(m));
		m.thread = commit;
		m.summary = summary;
		m.only = -1;
		if (outbox_send(c->ob, &m) != OK)
			log_event(NULL, "chat: announcing %.7s: %s", commit, err_last());
		free(summary);
	} else if (j->backend >= 0 && !j->health_host && !replies_itself(c, j)) {
		jobs_answer_in_chat(c, j->backend, j->cmd.reply_to, text);
	}
	json_decref(ans);
}

static void
job_remove(struct ctl *c, size_t i)
{
	job_free(c->jobs[i]);
	memmove(&c->jobs[i], &c->jobs[i + 1], (c->njobs - i - 1) * sizeof(*c->jobs));
	c->njobs--;
}

void
jobs_step(struct ctl *c)
{
	size_t i, running = 0;

	for (i = 0; i < c->njobs; ) {
		struct botjob *j = c->jobs[i];
		struct proc_result r;

		if (j->proc && proc_poll(j->proc)) {
			proc_finish(&r, j->proc);
			j->proc = NULL;
			job_finished(c, j, &r);
			proc_result_dispose(&r);
			job_remove(c, i);
			continue;
		}
		i++;
	}
	for (i = 0; i < c->njobs; i++)
		running += c->jobs[i]->proc != NULL;
	for (i = 0; i < c->njobs && running < BOT_RUNNING; i++) {
		if (c->jobs[i]->proc)
			continue;
		/* A bot command commits: only a leader that certainly leads
		 * starts one (HA; a deposed one leaves the queue to die with
		 * its term). */
		if (!ctl_may_act(c))
			break;
		job_start(c, c->jobs[i]);
		if (!c->jobs[i]->proc) {
			struct proc_result r;

			memset(&r, 0, sizeof(r));
			job_finished(c, c->jobs[i], &r);
			job_remove(c, i);
			i--;
			continue;
		}
		running++;
	}
}

int
jobs_may_commit(const struct ctl *c)
{
	size_t i;

	for (i = 0; i < c->njobs; i++)
		if (!c->jobs[i]->reply_only)
			return 1;
	return 0;
}

void
jobs_close(struct ctl *c)
{
	size_t i;

	for (i = 0; i < c->njobs; i++)
		job_free(c->jobs[i]);
	c->njobs = 0;
}
