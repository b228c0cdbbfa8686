/*
 * slack.c - Slack's Web API: chat.postMessage with a bot token.
 *
 *	chat:
 *	  - {type: slack, token_file: /etc/firebreak/slack-token,
 *	     signing_secret_file: /etc/firebreak/slack-secret,   # for inbound; checked here
 *	     channel: "#ops", api_url: "https://slack.com/api",  # api_url: tests, compatible servers
 *	     proxy: "http://proxy:3128"}                         # optional; default: none
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

#define SLACK_BUDGET 12000        /* characters across all blocks */
#define SLACK_SECTION_MAX 3000    /* Block Kit's limit for a section's text */
#define SLACK_SUMMARY_MAX 2900

struct slack {
	char *auth;        /* "Authorization: Bearer <token>" (a secret) */
	char *channel;
	char *endpoint;    /* {api_url}/chat.postMessage */
	struct chat_http *http;
};

static void
slack_close(void *st)
{
	struct slack *s = st;

	if (!s)
		return;
	chat_secret_free(s->auth);
	free(s->channel);
	free(s->endpoint);
	chat_http_close(s->http);
	free(s);
}

static int
slack_open(void **out, const struct ynode *cfg)
{
	static const char *const keys[] = { "token_file", "signing_secret_file",
	    "channel", "api_url", "proxy", NULL };
	const char *token_file, *secret_file, *channel, *api, *proxy;
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
	    (rc = chat_cfg_str(&proxy, cfg, "proxy", 0)) != OK)
		return rc;
	if (!api)
		api = "https://slack.com/api";
	if (!chat_url_ok(api))
		return err_set(ERR_INVALID, "api_url: must be an http:// or https:// URL");
	if (proxy && strchr(proxy, ' '))
		return err_set(ERR_INVALID, "proxy: must be a URL");
	if ((rc = chat_read_secret(&token, token_file, "token_file")) != OK)
		return rc;
	/* The signing secret verifies inbound requests (the HTTP listener's
	 * business); an unreadable one is a config error all the same, and
	 * better found at start-up. */
	if (secret_file) {
		if ((rc = chat_read_secret(&secret, secret_file, "signing_secret_file")) != OK) {
			chat_secret_free(token);
			return rc;
		}
		chat_secret_free(secret);
	}
	s = xcalloc(1, sizeof(*s));
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

static const struct chat_ops slack_ops = {
	.open = slack_open,
	.post = slack_post,
	.fd = NULL,
	.tick = NULL,
	.close = slack_close,
};

const struct chat_provider chat_slack = {
	.abi = CHAT_PROVIDER_ABI,
	.name = "slack",
	.caps = CHAT_CAN_POST,
	.ops = &slack_ops,
};
