/*
 * chatin.c - chat commands coming in: Slack's and Mattermost's HTTP
 * requests and IRC lines, verified and queued as jobs.  See ctl.h.
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
#include "providers/chat/slack_in.h"
#include "state/outbox.h"

/* Commands addressed to the bot in IRC. */
void
ctl_chat_irc(struct ctl *c)
{
	struct chat_inbound in;
	int idx;

	while (c->ob && (idx = outbox_recv(c->ob, &in)) >= 0) {
		char *identity = xasprintf("irc:%s", in.user), *via = xasprintf("irc %s", in.where);
		struct botjob tmp;

		if (!jobs_enqueue(c, identity, via, in.text, NULL, idx, in.user)) {
			memset(&tmp, 0, sizeof(tmp));
			tmp.backend = idx;
			tmp.to = in.user;
			jobs_answer_irc(c, &tmp, "busy: too many commands are waiting; try again");
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
void
ctl_chat_http(void *ctx, const struct http_request *req, struct http_reply *rep)
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
			log_event(NULL, "http: %s refused: %s", req->path, err_last());
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
			log_event(NULL, "http: %s refused: %s", req->path, err_last());
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
			log_event(NULL, "http: %s refused: %s", req->path, err_last());
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
		log_event(NULL, "http: %s: ignoring a response_url that is not https", req->path);
		free(rq.response_url);
		rq.response_url = NULL;
	}
	identity = xasprintf("%s:%s", platform, rq.user_id);
	via = via_of(platform, &rq);
	if (!jobs_enqueue(c, identity, via, rq.text, rq.response_url, -1, NULL))
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
int
ctl_chat_open(struct ctl *c)
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

void
ctl_chat_close(struct ctl *c)
{
	replay_free(c->replay);
	if (c->slack_secret)
		explicit_bzero(c->slack_secret, strlen(c->slack_secret));
	if (c->mm_token)
		explicit_bzero(c->mm_token, strlen(c->mm_token));
	free(c->slack_secret);
	free(c->mm_token);
}
