/*
 * jobs.c - the chat commands the controller runs for people, each as a
 * child (`firebreak-core chat ... --json`): the loop never waits for git,
 * and a crash stays in the child.  BOT_RUNNING run at once, BOT_QUEUED
 * more wait.  See ctl.h.
 */
#include "controller/ctl.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/proc.h"
#include "state/outbox.h"

/* ---- the bot's commands from chat ------------------------------------------- */

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
	free(j->to);
	free(j->identity);
	free(j->via);
	free(j->text);
	free(j->reply_url);
	free(j);
}

/* Queue a command; runs when one of BOT_RUNNING slots is free.  0 when
 * the queue is full (the caller says "busy"). */
int
jobs_enqueue(struct ctl *c, const char *identity, const char *via, const char *text,
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
	log_event(NULL, "chat: %s via %s: %s", identity, via, text);
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
		log_event(NULL, "chat: cannot start %s: %s", c->self, err_last());
		j->proc = NULL;
	}
}

/* Answer on the IRC backend the command came from: "carol: ...". */
void
jobs_answer_irc(struct ctl *c, const struct botjob *j, const char *text)
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
		log_event(NULL, "chat: answering %s: %s", j->to, err_last());
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
			log_event(NULL, "chat: answering through response_url failed: %.*s",
			    (int)strcspn(r->output.data ? r->output.data : "", "\n"),
			    r->output.data ? r->output.data : "");
		return;
	}
	if (!ans || !text) {
		struct buf why = BUF_INIT;
		const char *out = r->output.data ? r->output.data : "";
		char *t;

		proc_result_describe(&why, r);
		log_event(NULL, "chat: `%s` from %s failed: %s: %.*s", j->text, j->identity, why.data,
		    (int)strcspn(out, "\n"), out);
		t = xasprintf("`%s` failed (%s); the controller's log says why", j->text,
		    why.data);
		/* Whoever was told "on it" hears how it ended. */
		if (j->backend >= 0 && c->ob)
			jobs_answer_irc(c, j, t);
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
			log_event(NULL, "chat: announcing %.7s: %s", commit, err_last());
		free(summary);
	} else if (j->backend >= 0 && c->ob) {
		jobs_answer_irc(c, j, text);
	}
	json_decref(ans);
}

/* Start what may start, collect what ended.  Never blocks. */
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
