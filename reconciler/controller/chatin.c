/*
 * chatin.c - chat commands coming in, through the chat provider interface
 * (providers/chat/chat.h): HTTP requests to the routes the configured
 * providers declare, and commands the connected ones (IRC) heard.  The
 * controller never looks inside a platform's request: the provider
 * verifies it and hands over a command, which is queued as a job
 * (jobs.c).  See ctl.h.
 */
#include "controller/ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "controller/http.h"
#include "providers/chat/chat.h"
#include "state/outbox.h"

#define BUSY_TEXT "busy: too many commands are waiting; try again in a minute"

int
ctl_chat_open(struct ctl *c)
{
	size_t i, k, n = c->ob ? outbox_backend_count(c->ob) : 0;
	ssize_t len;

	len = readlink("/proc/self/exe", c->self, sizeof(c->self) - 1);
	c->self[len > 0 ? len : 0] = '\0';
	c->nroutes = 0;
	for (i = 0; i < n; i++) {
		const char *const *r = outbox_routes(c->ob, (int)i);

		for (; r && *r; r++) {
			for (k = 0; k < c->nroutes; k++)
				if (strcmp(c->routes[k].path, *r) == 0)
					return err_set(ERR_INVALID, "%s: chat[%d] and chat[%zu] both "
					    "take %s; keep the inbound setting (signing_secret_file, "
					    "command_token_file) on one of them", c->cfg->path,
					    c->routes[k].backend, i, *r);
			if (c->nroutes == CTL_MAX_ROUTES)
				return err_set(ERR_TOOBIG, "%s: more than %d chat routes", c->cfg->path,
				    CTL_MAX_ROUTES);
			c->routes[c->nroutes].path = *r;
			c->routes[c->nroutes].backend = (int)i;
			c->route_paths[c->nroutes++] = *r;
		}
	}
	c->route_paths[c->nroutes] = NULL;
	return OK;
}

void
ctl_chat_close(struct ctl *c)
{
	c->nroutes = 0;
	c->route_paths[0] = NULL;
}

/* Commands addressed to the bot on a connected backend (IRC). */
void
ctl_chat_irc(struct ctl *c)
{
	struct chat_command cmd;
	int idx;

	while (c->ob && (idx = outbox_recv(c->ob, &cmd)) >= 0) {
		/* With HA, a line every instance heard is answered once. */
		if (c->ha && ctl_ha_chat_in(c, idx, NULL, NULL, 0, &cmd) != CTL_HA_MINE) {
			chat_command_dispose(&cmd);
			continue;
		}
		if (!jobs_enqueue(c, &cmd, idx))
			jobs_answer_in_chat(c, idx, cmd.reply_to, "busy: too many commands are "
			    "waiting; try again");
		chat_command_dispose(&cmd);
	}
}

static const char *
header_of(const void *hctx, const char *name)
{
	return http_request_header(hctx, name);
}

/*
 * A POST to a route a provider declared: it verifies and parses, then the
 * command is queued and acknowledged at once (Slack wants an answer
 * within 3 seconds; the git work happens afterwards in a child).
 */
void
ctl_chat_http(void *ctx, const struct http_request *req, struct http_reply *rep)
{
	struct ctl *c = ctx;
	struct chat_http_request rq;
	struct chat_http_reply out = { 0, NULL, BUF_INIT };
	struct chat_command cmd;
	int idx = -1;
	size_t i;

	for (i = 0; i < c->nroutes; i++)
		if (strcmp(c->routes[i].path, req->path) == 0)
			idx = c->routes[i].backend;
	if (idx < 0 || !c->ob) {
		rep->status = 404;
		buf_puts(&rep->body, "not found\n");
		return;
	}
	memset(&rq, 0, sizeof(rq));
	rq.path = req->path;
	rq.body = req->body;
	rq.len = req->body_len;
	rq.header = header_of;
	rq.hctx = req;
	rq.now = (long long)time(NULL);
	if (outbox_http(c->ob, idx, &rq, &cmd, &out) == CHAT_HTTP_COMMAND) {
		char *ack = xasprintf("on it: %s", cmd.text[0] ? cmd.text : "help");
		/* jobs_enqueue() takes the command; the ack needs only its flags. */
		struct chat_command seen = { NULL, NULL, NULL, NULL, cmd.flags };
		int ha = c->ha ? ctl_ha_chat_in(c, idx, req->path, req->body, req->body_len, &cmd) :
		    CTL_HA_MINE;

		buf_dispose(&out.body);
		memset(&out, 0, sizeof(out));
		if (ha == CTL_HA_LOST || ha == CTL_HA_DOWN) {
			/* Another instance took it (answered 200, nothing else), or
			 * nobody can say who did. */
			out.status = ha == CTL_HA_LOST ? 200 : 503;
			free(ack);
			chat_command_dispose(&cmd);
			goto reply;
		}
		{
			int taken = ha == CTL_HA_FORWARDED || jobs_enqueue(c, &cmd, idx);

			if (taken && ha == CTL_HA_MINE && c->ha)
				snprintf(c->jobs[c->njobs - 1]->claim, sizeof(c->jobs[0]->claim), "%s",
				    ctl_ha_last_claim(c->ha));
			outbox_ack(c->ob, idx, &seen, taken ? ack : BUSY_TEXT, &out);
		}
		free(ack);
		chat_command_dispose(&cmd);
	}
reply:
	rep->status = out.status ? out.status : 200;
	rep->content_type = out.content_type;
	rep->body = out.body;
}
