/*
 * slack.c - Slack's Web API: chat.postMessage with a bot token.
 *
 *	chat:
 *	  - {type: slack, token_file: /etc/firebreak/slack-token,
 *	     signing_secret_file: /etc/firebreak/slack-secret,   # inbound: /slack/command, /slack/actions
 *	     channel: "#ops", api_url: "https://slack.com/api",  # api_url: tests, compatible servers
 *	     response_url_origin: "https://hooks.slack.com",     # optional; see below
 *	     proxy: "http://proxy:3128"}                         # optional; default: none
 *
 * Inbound (with signing_secret_file): POST /slack/command (slash
 * commands) and /slack/actions (the Approve / Discard buttons), verified
 * with the signing secret (slack_in.c: HMAC-SHA256 over the raw body, a
 * 5-minute window, constant time), refused when replayed (the same
 * trigger_id, or signature, within twice the window), parsed, and handed
 * to the core as a command by "slack:<user id>" (Slack vouches for it).
 * Slack's certificate probe (ssl_check=1) is answered 200.  The answer
 * goes later to the request's response_url, which must be on
 * response_url_origin: by default https://hooks.slack.com, or api_url's
 * origin when api_url is set (a compatible server, a test stand-in); a
 * request naming another origin is still acted on, but its answer is not
 * sent there (the commit is announced in the channel all the same).
 *
 * A message is POSTed to {api_url}/chat.postMessage with
 * `Authorization: Bearer <token>` and a JSON body: `channel`, `text` (the
 * summary: what notifications show), `blocks` (Block Kit, below),
 * `thread_ts` for every message after the plan's first, and
 * `unfurl_links`/`unfurl_media` off.  The blocks:
 *
 *	section   *the summary*
 *	section   ```the changes by kind```            (the body up to its first "diff --git")
 *	section   ```the diff```  (as many sections of at most 3,000 characters as fit)
 *	context   "cut to fit" when something was left out
 *	actions   [Approve] [Discard]  action_id approve|discard, value: the plan id
 *	context   <url|full plan>
 *
 * All the text blocks together stay within about 12,000 characters (the
 * budget counts bytes, which is never fewer than Slack's characters).
 * Text is escaped for mrkdwn (& < >), so a commit subject holding
 * "<!channel>" pings no one, and runs of backticks inside the code blocks
 * are broken with a zero-width space so they cannot close the block.
 *
 * The answer: HTTP 200 with {"ok": true, "ts": ...} delivered the message
 * (its ts becomes the plan's thread); {"ok": false, "error": e} is a
 * permanent failure naming e, except ratelimited and Slack's own transient
 * errors (ERR_AGAIN); HTTP 429 is ERR_AGAIN with Retry-After; 5xx and
 * network failures are ERR_AGAIN.  The token is never logged.
 */
#include "providers/chat/chat.h"
#include "providers/chat/chat_util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "providers/chat/slack_in.h"

#define SLACK_BUDGET 12000        /* characters across all blocks */
#define SLACK_SECTION_MAX 3000    /* Block Kit's limit for a section's text */
#define SLACK_SUMMARY_MAX 2900

struct slack {
	char *auth;        /* "Authorization: Bearer <token>" (a secret) */
	char *channel;
	char *endpoint;    /* {api_url}/chat.postMessage */
	struct chat_http *http;
	char *secret;      /* the signing secret, or NULL: no inbound */
	char *reply_origin;   /* where response_urls may point */
	struct replay *replay;
};

static void
slack_close(void *st)
{
	struct slack *s = st;

	if (!s)
		return;
	chat_secret_free(s->auth);
	chat_secret_free(s->secret);
	free(s->reply_origin);
	replay_free(s->replay);
	free(s->channel);
	free(s->endpoint);
	chat_http_close(s->http);
	free(s);
}

static int
slack_open(void **out, const struct ynode *cfg)
{
	static const char *const keys[] = { "token_file", "signing_secret_file",
	    "channel", "api_url", "proxy", "response_url_origin", NULL };
	const char *token_file, *secret_file, *channel, *api, *proxy, *origin;
	char reply_origin[300];
	char *token = NULL, *secret = NULL;
	struct slack *s;
	size_t n;
	int rc;

	*out = NULL;
	if ((rc = chat_cfg_keys(cfg, keys)) != OK ||
	    (rc = chat_cfg_str(&token_file, cfg, "token_file", 1)) != OK ||
	    (rc = chat_cfg_str(&secret_file, cfg, "signing_secret_file", 0)) != OK ||
	    (rc = chat_cfg_str(&channel, cfg, "channel", 1)) != OK ||
	    (rc = chat_cfg_str(&api, cfg, "api_url", 0)) != OK ||
	    (rc = chat_cfg_str(&proxy, cfg, "proxy", 0)) != OK ||
	    (rc = chat_cfg_str(&origin, cfg, "response_url_origin", 0)) != OK)
		return rc;
	if (!origin)
		origin = api ? api : "https://hooks.slack.com";
	if (!api)
		api = "https://slack.com/api";
	if (!chat_url_ok(api))
		return err_set(ERR_INVALID, "api_url: must be an http:// or https:// URL");
	if (chat_url_origin(reply_origin, sizeof(reply_origin), origin) != OK)
		return err_set(ERR_INVALID, "response_url_origin: %s", err_last());
	if (proxy && strchr(proxy, ' '))
		return err_set(ERR_INVALID, "proxy: must be a URL");
	if ((rc = chat_read_secret(&token, token_file, "token_file")) != OK)
		return rc;
	if (secret_file &&
	    (rc = chat_read_secret(&secret, secret_file, "signing_secret_file")) != OK) {
		chat_secret_free(token);
		return rc;
	}
	s = xcalloc(1, sizeof(*s));
	s->secret = secret;
	s->reply_origin = xstrdup(reply_origin);
	s->replay = replay_new(SLACK_REPLAY_CAP);
	s->auth = xasprintf("Authorization: Bearer %s", token);
	chat_secret_free(token);
	s->channel = xstrdup(channel);
	n = strlen(api);
	while (n && api[n - 1] == '/')
		n--;
	s->endpoint = xasprintf("%.*s/chat.postMessage", (int)n, api);
	if ((rc = chat_http_open(&s->http, proxy)) != OK) {
		slack_close(s);
		return rc;
	}
	*out = s;
	return OK;
}

static int
add_block(json_t *blocks, json_t *block)
{
	return json_array_append_new(blocks, block);
}

static json_t *
text_obj(const char *type, const char *text)
{
	json_t *t = json_string(text);

	if (!t)
		return NULL;
	return json_pack("{s:s, s:o}", "type", type, "text", t);
}

static int
add_section(json_t *blocks, const char *mrkdwn)
{
	json_t *t = text_obj("mrkdwn", mrkdwn);

	if (!t)
		return -1;
	return add_block(blocks, json_pack("{s:s, s:o}", "type", "section", "text", t));
}

static int
add_context(json_t *blocks, const char *mrkdwn)
{
	json_t *t = text_obj("mrkdwn", mrkdwn);

	if (!t)
		return -1;
	return add_block(blocks, json_pack("{s:s, s:[o]}", "type", "context", "elements", t));
}

/*
 * Add `text` (len bytes) as preformatted sections of at most
 * SLACK_SECTION_MAX characters, spending at most *budget.  Lines stay
 * whole unless one alone is longer than a section (then it is cut).
 * Returns 1 when not all of the text fitted, 0 when it did, -1 on a JSON
 * failure.
 */
static int
add_code(json_t *blocks, const char *text, size_t len, size_t *budget)
{
	static const char open[] = "```\n", close[] = "\n```";
	size_t pos = 0;
	struct buf chunk = BUF_INIT;
	int rc = 0, truncated = 0;

	while (pos < len) {
		size_t limit, body_start;

		if (*budget < 64)
			break;
		limit = (*budget < SLACK_SECTION_MAX ? *budget : SLACK_SECTION_MAX) -
		    (sizeof(close) - 1);
		buf_reset(&chunk);
		buf_puts(&chunk, open);
		body_start = chunk.len;
		while (pos < len) {
			const char *nl = memchr(text + pos, '\n', len - pos);
			size_t e = nl ? (size_t)(nl - text) : len;
			size_t save = chunk.len, got;

			if (chunk.len > body_start)
				buf_putc(&chunk, '\n');
			got = chat_md_append(&chunk, text + pos, e - pos, limit,
			    CHAT_MD_ENTITIES | CHAT_MD_CODE);
			if (got < e - pos) {
				if (save > body_start) {
					/* The line goes into the next section. */
					chunk.len = save;
					chunk.data[save] = '\0';
					break;
				}
				/* One line longer than a section: cut it. */
				truncated = 1;
			}
			pos = e + 1;
			if (chunk.len >= limit)
				break;
		}
		if (chunk.len == body_start)
			break;
		buf_puts(&chunk, close);
		if (add_section(blocks, chunk.data) != 0) {
			rc = -1;
			goto out;
		}
		*budget = *budget > chunk.len ? *budget - chunk.len : 0;
	}
	rc = pos < len || truncated ? 1 : 0;
out:
	buf_dispose(&chunk);
	return rc;
}

/* A URL usable inside <url|text>: no characters mrkdwn would read. */
static int
link_ok(const char *url)
{
	return chat_url_ok(url) && !strpbrk(url, "<>|&");
}

/* The request body (owns), or NULL with err_last() set. */
static char *
build_payload(const struct slack *s, const struct chat_message *m)
{
	json_t *root = NULL, *blocks = NULL, *v;
	struct buf t = BUF_INIT;
	const char *body = m->body ? m->body : "", *diff;
	size_t budget = SLACK_BUDGET, over_len, diff_len, reserve;
	int cut = 0, r, bad = 0;
	char *out = NULL;

	blocks = json_array();
	/* Summary, bold. */
	buf_putc(&t, '*');
	chat_md_append(&t, m->summary ? m->summary : "", strlen(m->summary ? m->summary : ""),
	    SLACK_SUMMARY_MAX, CHAT_MD_ENTITIES);
	for (size_t i = 0; i < t.len; i++)
		if (t.data[i] == '\n' || t.data[i] == '\t')
			t.data[i] = ' ';
	buf_putc(&t, '*');
	bad |= add_section(blocks, t.data) != 0;
	budget -= t.len;

	/* The overview (changes by kind), then the diff. */
	if (strncmp(body, "diff --git ", 11) == 0)
		diff = body;
	else if ((diff = strstr(body, "\ndiff --git ")))
		diff++;
	over_len = diff ? (size_t)(diff - body) : strlen(body);
	while (over_len && (body[over_len - 1] == '\n' || body[over_len - 1] == ' '))
		over_len--;
	diff_len = diff ? strlen(diff) : 0;
	while (diff_len && diff[diff_len - 1] == '\n')
		diff_len--;
	/* Keep room for the closing context blocks (the cut note, the link). */
	reserve = 200 + (m->url ? strlen(m->url) + 16 : 0);
	budget = budget > reserve ? budget - reserve : 0;
	if (over_len) {
		r = add_code(blocks, body, over_len, &budget);
		bad |= r < 0;
		cut |= r > 0;
	}
	if (diff_len) {
		r = add_code(blocks, diff, diff_len, &budget);
		bad |= r < 0;
		cut |= r > 0;
	}
	if (cut)
		bad |= add_context(blocks, m->url ? "_Cut to fit: the whole plan is behind "
		    "the link below._" : "_Cut to fit._") != 0;

	if (m->actions && m->plan_id) {
		json_t *approve = json_pack("{s:s, s:{s:s, s:s}, s:s, s:s, s:s}",
		    "type", "button", "text", "type", "plain_text", "text", "Approve",
		    "action_id", "approve", "value", m->plan_id, "style", "primary");
		json_t *discard = json_pack("{s:s, s:{s:s, s:s}, s:s, s:s, s:s}",
		    "type", "button", "text", "type", "plain_text", "text", "Discard",
		    "action_id", "discard", "value", m->plan_id, "style", "danger");

		if (!approve || !discard) {
			json_decref(approve);
			json_decref(discard);
			bad = 1;
		} else {
			bad |= add_block(blocks, json_pack("{s:s, s:[o,o]}", "type", "actions",
			    "elements", approve, discard)) != 0;
		}
	}
	if (m->url) {
		buf_reset(&t);
		if (link_ok(m->url)) {
			buf_printf(&t, "<%s|full plan>", m->url);
		} else {
			chat_md_append(&t, m->url, strlen(m->url), 2100, CHAT_MD_ENTITIES);
		}
		bad |= add_context(blocks, t.data) != 0;
	}

	root = json_object();
	bad |= json_object_set_new(root, "channel", json_string(s->channel)) != 0;
	/* The fallback text: what notifications and old clients show. */
	buf_reset(&t);
	chat_md_append(&t, m->summary ? m->summary : "", strlen(m->summary ? m->summary : ""),
	    SLACK_SECTION_MAX, CHAT_MD_ENTITIES);
	bad |= (v = json_string(t.data)) == NULL;
	bad |= json_object_set_new(root, "text", v) != 0;
	bad |= json_object_set_new(root, "blocks", blocks) != 0;
	blocks = NULL;
	bad |= json_object_set_new(root, "unfurl_links", json_false()) != 0;
	bad |= json_object_set_new(root, "unfurl_media", json_false()) != 0;
	if (m->thread)
		bad |= json_object_set_new(root, "thread_ts", json_string(m->thread)) != 0;
	if (bad) {
		err_set(ERR_INVALID, "slack: the message is not valid UTF-8");
		goto done;
	}
	out = json_dumps(root, JSON_COMPACT);
	if (!out)
		err_set(ERR, "slack: cannot encode the message");
done:
	json_decref(root);
	json_decref(blocks);
	buf_dispose(&t);
	return out;
}

/* Slack's error codes are snake_case words; anything else from the
 * network is shown as such, bounded. */
static void
error_word(char *dst, size_t size, const char *src)
{
	size_t i = 0;

	for (; src && *src && i + 1 < size; src++)
		if ((*src >= 'a' && *src <= 'z') || (*src >= '0' && *src <= '9') || *src == '_')
			dst[i++] = *src;
	dst[i] = '\0';
	if (!i)
		snprintf(dst, size, "unknown_error");
}

static int
transient_error(const char *e)
{
	static const char *const again[] = { "ratelimited", "rate_limited",
	    "internal_error", "fatal_error", "service_unavailable", "request_timeout",
	    NULL };
	size_t i;

	for (i = 0; again[i]; i++)
		if (strcmp(e, again[i]) == 0)
			return 1;
	return 0;
}

static int
ts_ok(const char *ts)
{
	size_t n = strlen(ts);

	if (n == 0 || n > 32)
		return 0;
	return strspn(ts, "0123456789.") == n;
}

static int
slack_post(void *st, const struct chat_message *m, char **thread_out,
    unsigned *retry_after)
{
	struct slack *s = st;
	const char *headers[] = { s->auth, "Content-Type: application/json; charset=utf-8",
	    "Accept: application/json", NULL };
	struct chat_http_result res;
	json_t *root = NULL, *ok;
	json_error_t jerr;
	char *payload, word[64];
	int rc;

	*thread_out = NULL;
	*retry_after = 0;
	if (!(payload = build_payload(s, m)))
		return ERR_INVALID;
	rc = chat_http_post(s->http, "slack", s->endpoint, headers, payload,
	    strlen(payload), &res);
	free(payload);
	if (rc != OK)
		goto out;
	if (res.status == 429) {
		*retry_after = res.retry_after;
		rc = err_set(ERR_AGAIN, "slack: rate limited (HTTP 429, retry after %u s)",
		    res.retry_after);
		goto out;
	}
	if (res.status >= 500 || res.status == 408) {
		*retry_after = res.retry_after;
		rc = err_set(ERR_AGAIN, "slack: HTTP %ld", res.status);
		goto out;
	}
	if (res.status != 200) {
		rc = err_set(ERR, "slack: HTTP %ld", res.status);
		goto out;
	}
	root = json_loadb(res.body.data ? res.body.data : "", res.body.len,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (!root || !json_is_object(root)) {
		rc = err_set(ERR, "slack: the answer is not a JSON object");
		goto out;
	}
	ok = json_object_get(root, "ok");
	if (!json_is_true(ok)) {
		error_word(word, sizeof(word), json_string_value(json_object_get(root, "error")));
		if (transient_error(word)) {
			*retry_after = res.retry_after;
			rc = err_set(ERR_AGAIN, "slack: chat.postMessage: %s", word);
		} else {
			rc = err_set(ERR, "slack: chat.postMessage: %s", word);
		}
		goto out;
	}
	/* Only a message that started the thread names it. */
	if (!m->thread) {
		const char *ts = json_string_value(json_object_get(root, "ts"));

		if (ts && ts_ok(ts))
			*thread_out = xstrdup(ts);
	}
	rc = OK;
out:
	json_decref(root);
	buf_dispose(&res.body);
	return rc;
}

/* ---- inbound ---- */

static const char *const *
slack_routes(void *st)
{
	static const char *const routes[] = { "/slack/command", "/slack/actions", NULL };
	struct slack *s = st;

	return s->secret ? routes : NULL;
}

static void
answer_text(struct chat_http_reply *rep, unsigned status, const char *text)
{
	rep->status = status;
	buf_puts(&rep->body, text);
}

/* Is this form body Slack's certificate probe (ssl_check=1)? */
static int
ssl_probe(const char *body, size_t len)
{
	struct form f;
	int probe;

	if (form_parse(&f, body, len) != OK)
		return 0;
	probe = form_get(&f, "ssl_check") && strcmp(form_get(&f, "ssl_check"), "1") == 0 &&
	    !form_get(&f, "user_id");
	form_dispose(&f);
	return probe;
}

static int
slack_http(void *st, const struct chat_http_request *rq, struct chat_command *cmd,
    struct chat_http_reply *rep)
{
	struct slack *s = st;
	const char *ts = rq->header(rq->hctx, "X-Slack-Request-Timestamp");
	const char *sig = rq->header(rq->hctx, "X-Slack-Signature");
	int actions = strcmp(rq->path, "/slack/actions") == 0, rc;
	struct chat_request r;

	memset(cmd, 0, sizeof(*cmd));
	/* Slack's certificate probe: answer 200, do nothing (before the
	 * signature check: whether Slack signs the probe is not documented). */
	if (!actions && rq->len < 256 && ssl_probe(rq->body, rq->len)) {
		rep->status = 200;
		return CHAT_HTTP_ANSWERED;
	}
	if (slack_verify(s->secret, s->secret ? strlen(s->secret) : 0, ts, sig, rq->body, rq->len,
	    rq->now) != OK) {
		log_event("slack", "%s refused: %s", rq->path, err_last());
		answer_text(rep, 401, "invalid request signature\n");
		return CHAT_HTTP_ANSWERED;
	}
	rc = actions ? slack_action_parse(&r, rq->body, rq->len) :
	    slack_command_parse(&r, rq->body, rq->len);
	if (rc != OK) {
		char *why = xasprintf("firebreak could not read that request: %s", err_last());

		chat_ack_json(rep, 400, why);
		free(why);
		return CHAT_HTTP_ANSWERED;
	}
	/* A replay of a request we acted on (the same trigger, or the same
	 * signature) is refused like a bad signature. */
	if (replay_check(s->replay, r.trigger_id ? r.trigger_id : sig, rq->now)) {
		log_event("slack", "%s refused: %s", rq->path, err_last());
		chat_request_dispose(&r);
		answer_text(rep, 401, "replayed request\n");
		return CHAT_HTTP_ANSWERED;
	}
	if (r.response_url && !chat_url_same_origin(r.response_url, s->reply_origin)) {
		log_event("slack", "%s: not answering through a response_url outside %s",
		    rq->path, s->reply_origin);
		free(r.response_url);
		r.response_url = NULL;
	}
	cmd->identity = xasprintf("slack:%s", r.user_id);
	cmd->via = xasprintf("slack #%s", r.channel_name ? r.channel_name : r.channel_id);
	cmd->text = xstrdup(r.text);
	cmd->reply_to = r.response_url;
	r.response_url = NULL;
	cmd->flags = CHAT_CMD_VERIFIED | CHAT_CMD_MAY_APPROVE | (actions ? CHAT_CMD_QUIET : 0);
	chat_request_dispose(&r);
	return CHAT_HTTP_COMMAND;
}

static void
slack_ack(void *st, const struct chat_command *cmd, const char *text, struct chat_http_reply *rep)
{
	(void)st;
	if (cmd->flags & CHAT_CMD_QUIET)
		rep->status = 200;   /* a button's result comes in the plan's thread */
	else
		chat_ack_json(rep, 200, text);
}

static int
slack_reply(void *st, const char *reply_to, const char *text)
{
	struct slack *s = st;

	if (!chat_url_same_origin(reply_to, s->reply_origin))
		return err_set(ERR_DENIED, "slack: a response_url outside %s", s->reply_origin);
	return chat_reply_post(reply_to, text);
}

static const struct chat_ops slack_ops = {
	.open = slack_open,
	.post = slack_post,
	.fd = NULL,
	.tick = NULL,
	.routes = slack_routes,
	.http = slack_http,
	.ack = slack_ack,
	.reply = slack_reply,
	.close = slack_close,
};

const struct chat_provider chat_slack = {
	.abi = CHAT_PROVIDER_ABI,
	.name = "slack",
	.caps = CHAT_CAN_POST | CHAT_CAN_HTTP,
	.ops = &slack_ops,
};
