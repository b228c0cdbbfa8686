/*
 * webhook.c - a Slack- or Mattermost-compatible incoming webhook.
 *
 *	chat:
 *	  - {type: webhook, url: "https://chat.example.com/hooks/xyz",
 *	     flavor: slack,                  # or mattermost (default slack)
 *	     proxy: "http://proxy:3128",     # optional; default: none
 *	     command_token_file: /etc/firebreak/mm-token,   # optional: Mattermost's
 *	                                     # slash command token, for the bot
 *	     response_url_origin: "https://chat.example.com"}   # optional; see below
 *
 * Inbound (with command_token_file): POST /mattermost/command, a
 * Mattermost slash command, checked against the token in constant time
 * (slack_in.c), refused when its trigger_id was seen before (a replay;
 * Mattermost sends a fresh one with every command, and a request without
 * one is refused, since it could not be checked), and handed to the core
 * as a command by "mattermost:<user id>".  The answer goes later to the
 * request's response_url, which must be on the Mattermost server itself:
 * the origin (scheme, host, port) of `url`, or response_url_origin when
 * the incoming hook lives elsewhere.  A request naming another origin is
 * acted on, but its answer is not sent there: a token that leaked must
 * not turn firebreak into a client for arbitrary URLs (loopback
 * included).
 *
 * A message is one POST of {"text": ...} (Content-Type: application/json)
 * holding the summary, the body (changes, then the diff) in a ``` block,
 * "approve 17 / discard 17" when the plan waits for an approver, and the
 * link to the full plan; about 4,000 characters in all, the body cut to
 * fit.  Incoming webhooks cannot thread and have no buttons.
 *
 * The two flavours differ in how text is made inert: Slack's mrkdwn
 * needs & < > escaped (else "<!channel>" in a commit subject pings
 * everyone); Mattermost renders Markdown, where an entity in a code block
 * shows literally, and pings on "@channel", so there '@' before a word
 * gets a zero-width space instead.
 *
 * The webhook URL is a secret (the path is the credential): it is never
 * logged or put in an error message.  2xx delivered the message; 408, 429
 * (with Retry-After), 5xx and network failures are ERR_AGAIN; any other
 * status is permanent.
 */
#include "providers/chat/chat.h"
#include "providers/chat/chat_util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "providers/chat/slack_in.h"

#define WEBHOOK_BUDGET 4000
#define WEBHOOK_SUMMARY_MAX 1000

enum { FLAVOR_SLACK, FLAVOR_MATTERMOST };

struct webhook {
	char *url;          /* a secret */
	int flavor;
	struct chat_http *http;
	char *token;        /* Mattermost's command token (a secret), or NULL */
	char *reply_origin; /* where response_urls may point */
	struct replay *replay;
};

static void
webhook_close(void *st)
{
	struct webhook *w = st;

	if (!w)
		return;
	chat_secret_free(w->url);
	chat_secret_free(w->token);
	free(w->reply_origin);
	replay_free(w->replay);
	chat_http_close(w->http);
	free(w);
}

static int
webhook_open(void **out, const struct ynode *cfg)
{
	static const char *const keys[] = { "url", "flavor", "proxy", "command_token_file",
	    "response_url_origin", NULL };
	const char *url, *flavor, *proxy, *token_file, *origin;
	char reply_origin[300];
	char *token = NULL;
	struct webhook *w;
	int rc;

	*out = NULL;
	if ((rc = chat_cfg_keys(cfg, keys)) != OK ||
	    (rc = chat_cfg_str(&url, cfg, "url", 1)) != OK ||
	    (rc = chat_cfg_str(&flavor, cfg, "flavor", 0)) != OK ||
	    (rc = chat_cfg_str(&proxy, cfg, "proxy", 0)) != OK ||
	    (rc = chat_cfg_str(&token_file, cfg, "command_token_file", 0)) != OK ||
	    (rc = chat_cfg_str(&origin, cfg, "response_url_origin", 0)) != OK)
		return rc;
	if (!chat_url_ok(url))
		return err_set(ERR_INVALID, "url: must be an http:// or https:// URL");
	if (chat_url_origin(reply_origin, sizeof(reply_origin), origin ? origin : url) != OK)
		return err_set(ERR_INVALID, "%s: %s", origin ? "response_url_origin" : "url",
		    err_last());
	if (flavor && strcmp(flavor, "slack") != 0 && strcmp(flavor, "mattermost") != 0)
		return err_set(ERR_INVALID, "flavor: must be slack or mattermost, not '%s'", flavor);
	if (proxy && strchr(proxy, ' '))
		return err_set(ERR_INVALID, "proxy: must be a URL");
	if (token_file &&
	    (rc = chat_read_secret(&token, token_file, "command_token_file")) != OK)
		return rc;
	w = xcalloc(1, sizeof(*w));
	w->token = token;
	w->reply_origin = xstrdup(reply_origin);
	w->replay = replay_new(SLACK_REPLAY_CAP);
	w->url = xstrdup(url);
	w->flavor = flavor && strcmp(flavor, "mattermost") == 0 ? FLAVOR_MATTERMOST : FLAVOR_SLACK;
	if ((rc = chat_http_open(&w->http, proxy)) != OK) {
		webhook_close(w);
		return rc;
	}
	*out = w;
	return OK;
}

/* The "text" of the payload (owns). */
static char *
build_text(const struct webhook *w, const struct chat_message *m)
{
	unsigned prose = w->flavor == FLAVOR_SLACK ? CHAT_MD_ENTITIES : CHAT_MD_MENTIONS;
	unsigned code = (w->flavor == FLAVOR_SLACK ? CHAT_MD_ENTITIES : 0) | CHAT_MD_CODE;
	const char *summary = m->summary ? m->summary : "";
	const char *body = m->body ? m->body : "";
	struct buf t = BUF_INIT, foot = BUF_INIT;
	size_t blen = strlen(body), limit, got, i, start;

	/* The footer first, so the body knows what is left for it. */
	if (m->actions && m->plan_id)
		buf_printf(&foot, "\napprove %s / discard %s", m->plan_id, m->plan_id);
	if (m->url) {
		buf_putc(&foot, '\n');
		if (w->flavor == FLAVOR_SLACK && chat_url_ok(m->url) && !strpbrk(m->url, "<>|&"))
			buf_printf(&foot, "<%s|full plan>", m->url);
		else
			chat_md_append(&foot, m->url, strlen(m->url), foot.len + 2100, prose);
	}

	start = t.len;
	chat_md_append(&t, summary, strlen(summary), WEBHOOK_SUMMARY_MAX, prose);
	for (i = start; i < t.len; i++)
		if (t.data[i] == '\n' || t.data[i] == '\t')
			t.data[i] = ' ';
	while (blen && body[blen - 1] == '\n')
		blen--;
	if (blen) {
		limit = WEBHOOK_BUDGET - foot.len - 8;   /* "\n```" and the closing "\n```" */
		buf_puts(&t, "\n```\n");
		start = t.len;
		if (t.len < limit) {
			got = chat_md_append(&t, body, blen, limit, code);
			if (got < blen) {
				/* Cut at the last whole line, and say so. */
				char *nl = t.len > start ? memrchr(t.data + start, '\n', t.len - start) : NULL;

				if (nl) {
					t.len = (size_t)(nl - t.data);
					t.data[t.len] = '\0';
				}
				buf_puts(&t, "\n\xe2\x80\xa6 (cut to fit)");
			}
		}
		buf_puts(&t, "\n```");
	}
	buf_append(&t, foot.data ? foot.data : "", foot.len);
	buf_dispose(&foot);
	return buf_steal(&t);
}

static int
webhook_post(void *st, const struct chat_message *m, char **thread_out,
    unsigned *retry_after)
{
	struct webhook *w = st;
	static const char *const headers[] = { "Content-Type: application/json; charset=utf-8",
	    NULL };
	struct chat_http_result res;
	json_t *root, *text;
	char *payload, *t;
	int rc;

	*thread_out = NULL;
	*retry_after = 0;
	t = build_text(w, m);
	text = json_string(t);
	free(t);
	if (!text)
		return err_set(ERR_INVALID, "webhook: the message is not valid UTF-8");
	root = json_pack("{s:o}", "text", text);
	payload = root ? json_dumps(root, JSON_COMPACT) : NULL;
	json_decref(root);
	if (!payload)
		return err_set(ERR, "webhook: cannot encode the message");
	rc = chat_http_post(w->http, "webhook", w->url, headers, payload, strlen(payload), &res);
	free(payload);
	if (rc != OK)
		goto out;
	if (res.status >= 200 && res.status < 300) {
		rc = OK;
	} else if (res.status == 429 || res.status == 408 || res.status >= 500) {
		*retry_after = res.retry_after;
		rc = err_set(ERR_AGAIN, "webhook: HTTP %ld", res.status);
	} else {
		/* Slack answers a word (channel_not_found, invalid_token);
		 * show a bounded, printable piece of it. */
		struct buf why = BUF_INIT;

		chat_put_oneline(&why, res.body.data ? res.body.data : "", 100);
		rc = err_set(ERR, "webhook: HTTP %ld%s%s", res.status, why.len ? ": " : "",
		    why.len ? why.data : "");
		buf_dispose(&why);
	}
out:
	buf_dispose(&res.body);
	return rc;
}

/* ---- inbound: Mattermost slash commands ---- */

static const char *const *
webhook_routes(void *st)
{
	static const char *const routes[] = { "/mattermost/command", NULL };
	struct webhook *w = st;

	return w->token ? routes : NULL;
}

static int
webhook_http(void *st, const struct chat_http_request *rq, struct chat_command *cmd,
    struct chat_http_reply *rep)
{
	struct webhook *w = st;
	struct chat_request r;
	int rc;

	memset(cmd, 0, sizeof(*cmd));
	rc = mattermost_command_parse(&r, w->token, w->token ? strlen(w->token) : 0,
	    rq->header(rq->hctx, "Authorization"), rq->body, rq->len);
	if (rc == ERR_DENIED) {
		log_event("mattermost", "%s refused: %s", rq->path, err_last());
		rep->status = 401;
		buf_puts(&rep->body, "invalid token\n");
		return CHAT_HTTP_ANSWERED;
	}
	if (rc == OK && !r.trigger_id) {
		chat_request_dispose(&r);
		rc = err_set(ERR_INVALID, "trigger_id: missing (needed to refuse replays)");
	}
	if (rc != OK) {
		char *why = xasprintf("firebreak could not read that request: %s", err_last());

		chat_ack_json(rep, 400, why);
		free(why);
		return CHAT_HTTP_ANSWERED;
	}
	if (replay_check(w->replay, r.trigger_id, rq->now)) {
		log_event("mattermost", "%s refused: %s", rq->path, err_last());
		chat_request_dispose(&r);
		rep->status = 401;
		buf_puts(&rep->body, "replayed request\n");
		return CHAT_HTTP_ANSWERED;
	}
	if (r.response_url && !chat_url_same_origin(r.response_url, w->reply_origin)) {
		log_event("mattermost", "%s: not answering through a response_url outside %s",
		    rq->path, w->reply_origin);
		free(r.response_url);
		r.response_url = NULL;
	}
	cmd->identity = xasprintf("mattermost:%s", r.user_id);
	cmd->via = xasprintf("mattermost #%s", r.channel_name ? r.channel_name : r.channel_id);
	cmd->text = xstrdup(r.text);
	cmd->reply_to = r.response_url;
	r.response_url = NULL;
	cmd->flags = CHAT_CMD_VERIFIED | CHAT_CMD_MAY_APPROVE;
	chat_request_dispose(&r);
	return CHAT_HTTP_COMMAND;
}

static void
webhook_ack(void *st, const struct chat_command *cmd, const char *text,
    struct chat_http_reply *rep)
{
	(void)st;
	(void)cmd;
	chat_ack_json(rep, 200, text);
}

static int
webhook_reply(void *st, const char *reply_to, const char *text)
{
	struct webhook *w = st;

	if (!chat_url_same_origin(reply_to, w->reply_origin))
		return err_set(ERR_DENIED, "mattermost: a response_url outside %s",
		    w->reply_origin);
	return chat_reply_post(reply_to, text);
}

static const struct chat_ops webhook_ops = {
	.open = webhook_open,
	.post = webhook_post,
	.fd = NULL,
	.tick = NULL,
	.routes = webhook_routes,
	.http = webhook_http,
	.ack = webhook_ack,
	.reply = webhook_reply,
	.close = webhook_close,
};

const struct chat_provider chat_webhook = {
	.abi = CHAT_PROVIDER_ABI,
	.name = "webhook",
	.caps = CHAT_CAN_POST | CHAT_CAN_HTTP,
	.ops = &webhook_ops,
};
