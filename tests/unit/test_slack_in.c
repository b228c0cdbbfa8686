/*
 * test_slack_in.c - inbound Slack and Mattermost requests: form bodies,
 * Slack's request signature (the example on Slack's "Verifying requests
 * from Slack" page, checked with `openssl dgst -sha256 -hmac`), replays,
 * slash commands (Slack's example body; Mattermost's example from its
 * slash command documentation), block_actions payloads shaped like
 * Slack's reference, and the reply JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/chat/slack_in.h"

/* ---- Slack's documented example ---- */

#define SL_SECRET "8f742231b10e8888abcd99yyyzzz85a5"
#define SL_TS "1531420618"
#define SL_TS_N 1531420618LL
#define SL_MAC "a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
#define SL_SIG "v0=" SL_MAC
#define SL_BODY "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow" \
	"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner" \
	"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F" \
	"commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN" \
	"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
/* The same body with "roadrunner" -> "roadrunnes": one byte. */
#define SL_BODY_1 "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow" \
	"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunnes" \
	"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F" \
	"commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN" \
	"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"

static void
assert_no_secret(const char *secret)
{
	assert_null(strstr(err_last(), SL_MAC));
	assert_null(strstr(err_last(), "a2114d57"));
	if (secret && *secret)
		assert_null(strstr(err_last(), secret));
}

struct verify_case {
	const char *name;
	const char *secret, *ts, *sig, *body;
	long long now;
	int rc;
	const char *why;     /* a word err_last() must hold on failure */
};

static const struct verify_case verify_cases[] = {
	{ "verify: Slack's example at now = ts", SL_SECRET, SL_TS, SL_SIG, SL_BODY, SL_TS_N, OK, NULL },
	{ "verify: ts + 300 is inside the window", SL_SECRET, SL_TS, SL_SIG, SL_BODY,
	  SL_TS_N + 300, OK, NULL },
	{ "verify: ts - 300 is inside the window", SL_SECRET, SL_TS, SL_SIG, SL_BODY,
	  SL_TS_N - 300, OK, NULL },
	{ "verify: ts + 301 is stale", SL_SECRET, SL_TS, SL_SIG, SL_BODY, SL_TS_N + 301,
	  ERR_DENIED, "stale" },
	{ "verify: ts - 301 is stale (from the future)", SL_SECRET, SL_TS, SL_SIG, SL_BODY,
	  SL_TS_N - 301, ERR_DENIED, "stale" },
	{ "verify: a clock before 1970", SL_SECRET, SL_TS, SL_SIG, SL_BODY, -1, ERR_DENIED, "stale" },
	{ "verify: one byte of the body changed", SL_SECRET, SL_TS, SL_SIG, SL_BODY_1, SL_TS_N,
	  ERR_DENIED, "does not match" },
	{ "verify: the body cut by one byte", SL_SECRET, SL_TS, SL_SIG,
	  "token=xyzz0WbapA4vBCDEFasx0q6G", SL_TS_N, ERR_DENIED, "does not match" },
	{ "verify: wrong secret", "8f742231b10e8888abcd99yyyzzz85a6", SL_TS, SL_SIG, SL_BODY,
	  SL_TS_N, ERR_DENIED, "does not match" },
	{ "verify: upper-case hex refused", SL_SECRET, SL_TS,
	  "v0=A2114D57B48EAC39B9AD189DD8316235A7B4A8D21A10BD27519666489C69B503", SL_BODY,
	  SL_TS_N, ERR_DENIED, "lowercase" },
	{ "verify: upper-case V0= refused", SL_SECRET, SL_TS, "V0=" SL_MAC, SL_BODY, SL_TS_N,
	  ERR_DENIED, "v0=" },
	{ "verify: truncated signature", SL_SECRET, SL_TS,
	  "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b50", SL_BODY,
	  SL_TS_N, ERR_DENIED, "v0=" },
	{ "verify: signature with trailing junk", SL_SECRET, SL_TS, SL_SIG "0", SL_BODY,
	  SL_TS_N, ERR_DENIED, "v0=" },
	{ "verify: signature without v0=", SL_SECRET, SL_TS, SL_MAC, SL_BODY, SL_TS_N,
	  ERR_DENIED, "v0=" },
	{ "verify: v1= signature", SL_SECRET, SL_TS, "v1=" SL_MAC, SL_BODY, SL_TS_N,
	  ERR_DENIED, "v0=" },
	{ "verify: last hex digit flipped", SL_SECRET, SL_TS,
	  "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b502", SL_BODY,
	  SL_TS_N, ERR_DENIED, "does not match" },
	{ "verify: empty signature", SL_SECRET, SL_TS, "", SL_BODY, SL_TS_N, ERR_DENIED, "v0=" },
	{ "verify: missing signature header", SL_SECRET, SL_TS, NULL, SL_BODY, SL_TS_N,
	  ERR_DENIED, "X-Slack-Signature" },
	{ "verify: missing timestamp header", SL_SECRET, NULL, SL_SIG, SL_BODY, SL_TS_N,
	  ERR_DENIED, "X-Slack-Request-Timestamp" },
	{ "verify: timestamp with junk", SL_SECRET, "1531420618x", SL_SIG, SL_BODY, SL_TS_N,
	  ERR_DENIED, "Unix seconds" },
	{ "verify: negative timestamp", SL_SECRET, "-1", SL_SIG, SL_BODY, SL_TS_N,
	  ERR_DENIED, "Unix seconds" },
	{ "verify: huge timestamp", SL_SECRET, "99999999999999999999999999", SL_SIG, SL_BODY,
	  SL_TS_N, ERR_DENIED, "Unix seconds" },
	{ "verify: 13-digit timestamp (milliseconds)", SL_SECRET, "1531420618000", SL_SIG,
	  SL_BODY, SL_TS_N, ERR_DENIED, "Unix seconds" },
	{ "verify: timestamp with a leading space", SL_SECRET, " 1531420618", SL_SIG, SL_BODY,
	  SL_TS_N, ERR_DENIED, "Unix seconds" },
	{ "verify: timestamp with a plus sign", SL_SECRET, "+1531420618", SL_SIG, SL_BODY,
	  SL_TS_N, ERR_DENIED, "Unix seconds" },
	{ "verify: timestamp with a fraction", SL_SECRET, "1531420618.5", SL_SIG, SL_BODY,
	  SL_TS_N, ERR_DENIED, "Unix seconds" },
	{ "verify: empty timestamp", SL_SECRET, "", SL_SIG, SL_BODY, SL_TS_N,
	  ERR_DENIED, "Unix seconds" },
	{ "verify: the MAC covers the header as sent (leading zero)", SL_SECRET, "01531420618",
	  SL_SIG, SL_BODY, SL_TS_N, ERR_DENIED, "does not match" },
	{ "verify: no secret configured", "", SL_TS, SL_SIG, SL_BODY, SL_TS_N,
	  ERR_DENIED, "secret" },
};

static void
test_verify(void **state)
{
	const struct verify_case *c = *state;
	int rc;

	rc = slack_verify(c->secret, strlen(c->secret), c->ts, c->sig, c->body,
	    strlen(c->body), c->now);
	assert_int_equal(rc, c->rc);
	if (rc != OK) {
		assert_non_null(strstr(err_last(), c->why));
		assert_no_secret(c->secret);
	}
}

static void
test_verify_null_secret_and_empty_body(void **state)
{
	(void)state;
	assert_int_equal(slack_verify(NULL, 0, SL_TS, SL_SIG, SL_BODY, strlen(SL_BODY), SL_TS_N),
	    ERR_DENIED);
	/* HMAC-SHA256("s3cret", "v0:1531420618:") */
	assert_int_equal(slack_verify("s3cret", 6, SL_TS,
	    "v0=0000000000000000000000000000000000000000000000000000000000000000", NULL, 0,
	    SL_TS_N), ERR_DENIED);
}

/* ---- forms ---- */

struct form_case {
	const char *name;
	const char *body;
	size_t len;          /* 0: strlen(body) */
	int rc;
	size_t n;
	const char *kv[8];   /* expected keys and values, in order */
};

static const struct form_case form_cases[] = {
	{ "form: two fields", "a=1&b=2", 0, OK, 2, { "a", "1", "b", "2" } },
	{ "form: '+' is a space", "text=deploy+app+1.4.3", 0, OK, 1, { "text", "deploy app 1.4.3" } },
	{ "form: %2B is a plus", "text=1%2B1", 0, OK, 1, { "text", "1+1" } },
	{ "form: %2b in lower case", "text=1%2b1", 0, OK, 1, { "text", "1+1" } },
	{ "form: %20 and + together", "t=a%20b+c", 0, OK, 1, { "t", "a b c" } },
	{ "form: a percent-encoded key", "user%5Fid=U1", 0, OK, 1, { "user_id", "U1" } },
	{ "form: '=' inside a value", "a=1=2", 0, OK, 1, { "a", "1=2" } },
	{ "form: duplicate keys kept in order", "a=1&a=2", 0, OK, 2, { "a", "1", "a", "2" } },
	{ "form: empty values", "a=&b=", 0, OK, 2, { "a", "", "b", "" } },
	{ "form: a field without '='", "flag&a=1", 0, OK, 2, { "flag", "", "a", "1" } },
	{ "form: empty fields skipped", "&&a=1&&", 0, OK, 1, { "a", "1" } },
	{ "form: empty key", "=v", 0, OK, 1, { "", "v" } },
	{ "form: empty body", "", 0, OK, 0, { NULL } },
	{ "form: UTF-8 escapes", "t=caf%C3%A9", 0, OK, 1, { "t", "caf\xc3\xa9" } },
	{ "form: raw UTF-8", "t=caf\xc3\xa9", 0, OK, 1, { "t", "caf\xc3\xa9" } },
	{ "form: %00 refused", "t=a%00b", 0, ERR_INVALID, 0, { NULL } },
	{ "form: %00 in a key refused", "a%00=1", 0, ERR_INVALID, 0, { NULL } },
	{ "form: raw NUL refused", "t=a\0b", 5, ERR_INVALID, 0, { NULL } },
	{ "form: %G1 refused", "t=%G1", 0, ERR_INVALID, 0, { NULL } },
	{ "form: %1G refused", "t=%1G", 0, ERR_INVALID, 0, { NULL } },
	{ "form: '%' at the end", "t=abc%", 0, ERR_INVALID, 0, { NULL } },
	{ "form: '%' and one digit at the end", "t=abc%4", 0, ERR_INVALID, 0, { NULL } },
	{ "form: '%' then '&'", "t=%&u=1", 0, ERR_INVALID, 0, { NULL } },
	{ "form: %FF is not UTF-8", "t=%FF", 0, ERR_INVALID, 0, { NULL } },
	{ "form: overlong '/' refused", "t=%C0%AF", 0, ERR_INVALID, 0, { NULL } },
	{ "form: surrogate refused", "t=%ED%A0%80", 0, ERR_INVALID, 0, { NULL } },
	{ "form: cut UTF-8 refused", "t=caf%C3", 0, ERR_INVALID, 0, { NULL } },
	{ "form: past U+10FFFF refused", "t=%F4%90%80%80", 0, ERR_INVALID, 0, { NULL } },
	{ "form: invalid UTF-8 in a key", "%FF=1", 0, ERR_INVALID, 0, { NULL } },
	{ "form: a later bad field fails it all", "a=1&b=2&c=%ZZ", 0, ERR_INVALID, 0, { NULL } },
};

static void
test_form(void **state)
{
	const struct form_case *c = *state;
	struct form f;
	size_t i;
	int rc;

	rc = form_parse(&f, c->body, c->len ? c->len : strlen(c->body));
	assert_int_equal(rc, c->rc);
	if (rc != OK) {
		assert_int_equal(f.n, 0);
		assert_null(f.keys);
		form_dispose(&f);
		return;
	}
	assert_int_equal(f.n, c->n);
	for (i = 0; i < c->n; i++) {
		assert_string_equal(f.keys[i], c->kv[2 * i]);
		assert_string_equal(f.vals[i], c->kv[2 * i + 1]);
	}
	form_dispose(&f);
	assert_int_equal(f.n, 0);
	form_dispose(&f);
}

static void
test_form_get(void **state)
{
	struct form f;

	(void)state;
	assert_int_equal(form_parse(&f, "a=1&b=&a=2&c", 12), OK);
	assert_string_equal(form_get(&f, "a"), "1");
	assert_string_equal(form_get(&f, "b"), "");
	assert_string_equal(form_get(&f, "c"), "");
	assert_null(form_get(&f, "d"));
	assert_null(form_get(&f, "A"));
	form_dispose(&f);
	form_dispose(NULL);
	assert_int_equal(form_parse(&f, NULL, 0), OK);
	assert_int_equal(f.n, 0);
	form_dispose(&f);
}

static void
test_form_limits(void **state)
{
	struct buf b = BUF_INIT;
	struct form f;
	char *big;
	int i;

	(void)state;
	for (i = 0; i < FORM_MAX_FIELDS; i++)
		buf_printf(&b, "%sk%d=%d", i ? "&" : "", i, i);
	assert_int_equal(form_parse(&f, b.data, b.len), OK);
	assert_int_equal(f.n, FORM_MAX_FIELDS);
	assert_string_equal(form_get(&f, "k63"), "63");
	form_dispose(&f);
	buf_puts(&b, "&one=more");
	assert_int_equal(form_parse(&f, b.data, b.len), ERR_TOOBIG);
	assert_int_equal(f.n, 0);
	/* Empty fields do not count. */
	buf_reset(&b);
	for (i = 0; i < FORM_MAX_FIELDS; i++)
		buf_printf(&b, "&&k%d=%d", i, i);
	assert_int_equal(form_parse(&f, b.data, b.len), OK);
	form_dispose(&f);
	buf_dispose(&b);

	big = malloc(FORM_MAX_BODY + 1);
	assert_non_null(big);
	memcpy(big, "t=", 2);
	memset(big + 2, 'a', FORM_MAX_BODY - 1);
	assert_int_equal(form_parse(&f, big, FORM_MAX_BODY), OK);
	assert_int_equal(strlen(form_get(&f, "t")), FORM_MAX_BODY - 2);
	form_dispose(&f);
	assert_int_equal(form_parse(&f, big, FORM_MAX_BODY + 1), ERR_TOOBIG);
	free(big);
}

/* A hostile key is never echoed into err_last() (log injection). */
static void
test_form_message_quotes_no_input(void **state)
{
	struct form f;

	(void)state;
	assert_int_equal(form_parse(&f, "x%0Aevil=%FF", 12), ERR_INVALID);
	assert_null(strstr(err_last(), "evil"));
	assert_null(strchr(err_last(), '\n'));
	assert_int_equal(form_parse(&f, "text=%FF", 8), ERR_INVALID);
	assert_non_null(strstr(err_last(), "text"));
}

/* ---- replays ---- */

static void
test_replay_window(void **state)
{
	struct replay *r = replay_new(SLACK_REPLAY_CAP);
	long long t0 = SL_TS_N;

	(void)state;
	assert_int_equal(replay_check(r, "398738663015.47445629121.803a", t0), 0);
	assert_int_equal(replay_check(r, "398738663015.47445629121.803a", t0), 1);
	assert_non_null(strstr(err_last(), "replayed"));
	assert_int_equal(replay_check(r, "another", t0 + 1), 0);
	/* Past one window the signature may still be good (Slack's clock
	 * ahead of ours), so the key is still remembered... */
	assert_int_equal(replay_check(r, "398738663015.47445629121.803a", t0 + SLACK_SIG_WINDOW + 1), 1);
	assert_int_equal(replay_check(r, "398738663015.47445629121.803a", t0 + SLACK_REPLAY_KEEP), 1);
	/* ...and forgotten after two, when no signature of its time can pass. */
	assert_int_equal(replay_check(r, "398738663015.47445629121.803a", t0 + SLACK_REPLAY_KEEP + 1), 0);
	assert_int_equal(replay_check(r, "398738663015.47445629121.803a", t0 + SLACK_REPLAY_KEEP + 1), 1);
	/* A clock stepping back keeps keys, it does not forget them. */
	assert_int_equal(replay_check(r, "another", t0 - 1000), 1);
	assert_int_equal(replay_check(r, "", t0), 0);
	assert_int_equal(replay_check(r, "", t0), 1);
	replay_free(r);
	replay_free(NULL);
}

static void
test_replay_capacity(void **state)
{
	struct replay *r = replay_new(3);

	(void)state;
	assert_int_equal(replay_check(r, "a", 1000), 0);
	assert_int_equal(replay_check(r, "b", 1300), 0);
	assert_int_equal(replay_check(r, "c", 1300), 0);
	/* Full of live keys: refuse rather than forget one. */
	assert_int_equal(replay_check(r, "d", 1400), 1);
	assert_non_null(strstr(err_last(), "full"));
	/* The refused key was not recorded, the others still are. */
	assert_int_equal(replay_check(r, "a", 1400), 1);
	assert_int_equal(replay_check(r, "c", 1400), 1);
	/* "a" ages out first, making room for exactly one. */
	assert_int_equal(replay_check(r, "d", 1000 + SLACK_REPLAY_KEEP + 1), 0);
	assert_int_equal(replay_check(r, "e", 1000 + SLACK_REPLAY_KEEP + 1), 1);
	assert_non_null(strstr(err_last(), "full"));
	assert_int_equal(replay_check(r, "b", 1000 + SLACK_REPLAY_KEEP + 1), 1);
	/* All aged out: the ring wraps around and takes new keys. */
	assert_int_equal(replay_check(r, "e", 5000), 0);
	assert_int_equal(replay_check(r, "f", 5000), 0);
	assert_int_equal(replay_check(r, "a", 5000), 0);
	assert_int_equal(replay_check(r, "g", 5000), 1);
	assert_int_equal(replay_check(r, "e", 5001), 1);
	replay_free(r);
}

static void
test_replay_full_default_cap(void **state)
{
	struct replay *r = replay_new(SLACK_REPLAY_CAP);
	char key[32];
	int i;

	(void)state;
	for (i = 0; i < SLACK_REPLAY_CAP; i++) {
		snprintf(key, sizeof(key), "trigger-%d", i);
		assert_int_equal(replay_check(r, key, 10000 + i / 10), 0);
	}
	assert_int_equal(replay_check(r, "one-too-many", 10000 + SLACK_REPLAY_CAP / 10), 1);
	assert_int_equal(replay_check(r, "trigger-0", 10000 + SLACK_REPLAY_CAP / 10), 1);
	/* The first ten were recorded at 10000 and age out together. */
	assert_int_equal(replay_check(r, "one-too-many", 10000 + SLACK_REPLAY_KEEP + 1), 0);
	replay_free(r);
}

/* ---- slash commands ---- */

struct cmd_case {
	const char *name;
	const char *body;
	size_t len;          /* 0: strlen(body) */
	int rc;
	const char *why;     /* on failure: a word err_last() holds */
	/* on success: */
	const char *user_id, *user_name, *channel_id, *channel_name, *text;
	const char *response_url, *trigger_id;
};

#define CMD(text) "user_id=U024BE7LH&user_name=alice&channel_id=C0OPS&channel_name=ops" \
	"&text=" text "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1%2F2%2F3" \
	"&trigger_id=13345224609.738474920.8088930838d88f008e0"
#define CMD_OK(name, text, want) { name, CMD(text), 0, OK, NULL, "U024BE7LH", "alice", \
	"C0OPS", "ops", want, "https://hooks.slack.com/commands/1/2/3", \
	"13345224609.738474920.8088930838d88f008e0" }
#define CMD_BAD(name, text, why) { name, CMD(text), 0, ERR_INVALID, why, NULL, NULL, NULL, \
	NULL, NULL, NULL, NULL }

static const struct cmd_case slack_cmd_cases[] = {
	{ "slack command: Slack's example body", SL_BODY, 0, OK, NULL, "U2CERLKJA", "roadrunner",
	  "G8PSS9T3V", "foobar", "",
	  "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN",
	  "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c" },
	CMD_OK("slack command: deploy", "deploy+app+1.4.3", "deploy app 1.4.3"),
	CMD_OK("slack command: surrounding spaces trimmed", "+%20+deploy+app+1.4.3++", "deploy app 1.4.3"),
	CMD_OK("slack command: inner spaces kept", "dns++add", "dns  add"),
	CMD_OK("slack command: only spaces", "+++", ""),
	CMD_OK("slack command: UTF-8 text", "caf%C3%A9", "caf\xc3\xa9"),
	CMD_OK("slack command: a shell-looking argument is just text", "deploy+%24%28rm+-rf+%2F%29+1",
	    "deploy $(rm -rf /) 1"),
	{ "slack command: text absent is empty", "user_id=U1&channel_id=C1", 0, OK, NULL,
	  "U1", "U1", "C1", "C1", "", NULL, NULL },
	{ "slack command: names absent fall back to the ids", "user_id=U1&channel_id=C1&text=help",
	  0, OK, NULL, "U1", "U1", "C1", "C1", "help", NULL, NULL },
	{ "slack command: empty response_url and trigger_id are absent",
	  "user_id=U1&channel_id=C1&text=help&response_url=&trigger_id=", 0, OK, NULL,
	  "U1", "U1", "C1", "C1", "help", NULL, NULL },
	{ "slack command: user_id with dots and dashes", "user_id=a.b_c-d&channel_id=C1", 0, OK,
	  NULL, "a.b_c-d", "a.b_c-d", "C1", "C1", "", NULL, NULL },
	CMD_BAD("slack command: CR refused", "deploy+app%0D1", "text"),
	CMD_BAD("slack command: LF refused", "deploy+app%0ARequested-by%3A+bob", "text"),
	CMD_BAD("slack command: CRLF at the end refused", "deploy%0D%0A", "text"),
	CMD_BAD("slack command: TAB refused", "deploy%09app", "text"),
	CMD_BAD("slack command: ESC refused", "%1B%5B31mred", "text"),
	CMD_BAD("slack command: DEL refused", "a%7F", "text"),
	CMD_BAD("slack command: C1 NEL refused", "a%C2%85b", "text"),
	CMD_BAD("slack command: U+2028 refused", "a%E2%80%A8b", "text"),
	CMD_BAD("slack command: bidi override refused", "deploy+%E2%80%AEppa", "text"),
	CMD_BAD("slack command: bidi isolate refused", "deploy+%E2%81%A6app", "text"),
	CMD_BAD("slack command: NUL via %00 refused", "deploy%00app", "NUL"),
	CMD_BAD("slack command: invalid UTF-8 %FF refused", "deploy%FF", "UTF-8"),
	{ "slack command: missing user_id", "channel_id=C1&text=help", 0, ERR_INVALID, "user_id",
	  NULL, NULL, NULL, NULL, NULL, NULL, NULL },
	{ "slack command: empty user_id", "user_id=&channel_id=C1&text=help", 0, ERR_INVALID,
	  "user_id", NULL, NULL, NULL, NULL, NULL, NULL, NULL },
	{ "slack command: user_id with a space", "user_id=U1+U2&channel_id=C1", 0, ERR_INVALID,
	  "user_id", NULL, NULL, NULL, NULL, NULL, NULL, NULL },
	{ "slack command: user_id with a semicolon", "user_id=U1%3B&channel_id=C1", 0,
	  ERR_INVALID, "user_id", NULL, NULL, NULL, NULL, NULL, NULL, NULL },
	{ "slack command: user_id of 65 characters",
	  "user_id=U1234567890123456789012345678901234567890123456789012345678901234&channel_id=C1",
	  0, ERR_INVALID, "user_id", NULL, NULL, NULL, NULL, NULL, NULL, NULL },
	{ "slack command: user_id twice", "user_id=U1&user_id=U2&channel_id=C1", 0, ERR_INVALID,
	  "more than once", NULL, NULL, NULL, NULL, NULL, NULL, NULL },
	{ "slack command: text twice", "user_id=U1&channel_id=C1&text=help&text=deploy", 0,
	  ERR_INVALID, "more than once", NULL, NULL, NULL, NULL, NULL, NULL, NULL },
	{ "slack command: missing channel_id", "user_id=U1&text=help", 0, ERR_INVALID,
	  "channel_id", NULL, NULL, NULL, NULL, NULL, NULL, NULL },
	{ "slack command: channel_id with a slash", "user_id=U1&channel_id=..%2Fx", 0,
	  ERR_INVALID, "channel_id", NULL, NULL, NULL, NULL, NULL, NULL, NULL },
	{ "slack command: user_name with LF", "user_id=U1&user_name=a%0Ab&channel_id=C1", 0,
	  ERR_INVALID, "user_name", NULL, NULL, NULL, NULL, NULL, NULL, NULL },
	{ "slack command: channel_name with CR", "user_id=U1&channel_name=a%0Db&channel_id=C1", 0,
	  ERR_INVALID, "channel_name", NULL, NULL, NULL, NULL, NULL, NULL, NULL },
	{ "slack command: ftp response_url", "user_id=U1&channel_id=C1&response_url="
	  "ftp%3A%2F%2Fhooks.slack.com%2Fx", 0, ERR_INVALID, "response_url",
	  NULL, NULL, NULL, NULL, NULL, NULL, NULL },
	{ "slack command: javascript: response_url", "user_id=U1&channel_id=C1&response_url="
	  "javascript%3Aalert(1)", 0, ERR_INVALID, "response_url",
	  NULL, NULL, NULL, NULL, NULL, NULL, NULL },
	{ "slack command: response_url with a space", "user_id=U1&channel_id=C1&response_url="
	  "https%3A%2F%2Fa+b", 0, ERR_INVALID, "response_url",
	  NULL, NULL, NULL, NULL, NULL, NULL, NULL },
	{ "slack command: trigger_id with a space", "user_id=U1&channel_id=C1&trigger_id=a+b", 0,
	  ERR_INVALID, "trigger_id", NULL, NULL, NULL, NULL, NULL, NULL, NULL },
	{ "slack command: ssl_check probe", "ssl_check=1&token=xyzz0WbapA4vBCDEFasx0q6G", 0,
	  ERR_INVALID, "user_id", NULL, NULL, NULL, NULL, NULL, NULL, NULL },
	{ "slack command: bad escape", "user_id=U1&channel_id=C1&text=%G1", 0, ERR_INVALID,
	  "text", NULL, NULL, NULL, NULL, NULL, NULL, NULL },
};

static void
check_request(const struct chat_request *r, const struct cmd_case *c, const char *platform)
{
	assert_string_equal(r->platform, platform);
	assert_string_equal(r->user_id, c->user_id);
	assert_string_equal(r->user_name, c->user_name);
	assert_string_equal(r->channel_id, c->channel_id);
	assert_string_equal(r->channel_name, c->channel_name);
	assert_string_equal(r->text, c->text);
	if (c->response_url)
		assert_string_equal(r->response_url, c->response_url);
	else
		assert_null(r->response_url);
	if (c->trigger_id)
		assert_string_equal(r->trigger_id, c->trigger_id);
	else
		assert_null(r->trigger_id);
	assert_null(r->thread_ts);
}

static void
assert_zeroed(const struct chat_request *r)
{
	assert_null(r->platform);
	assert_null(r->user_id);
	assert_null(r->user_name);
	assert_null(r->channel_id);
	assert_null(r->channel_name);
	assert_null(r->text);
	assert_null(r->response_url);
	assert_null(r->trigger_id);
	assert_null(r->thread_ts);
}

static void
test_slack_command(void **state)
{
	const struct cmd_case *c = *state;
	struct chat_request r;
	int rc;

	rc = slack_command_parse(&r, c->body, c->len ? c->len : strlen(c->body));
	assert_int_equal(rc, c->rc);
	if (rc != OK) {
		assert_non_null(strstr(err_last(), c->why));
		assert_zeroed(&r);
		return;
	}
	check_request(&r, c, "slack");
	chat_request_dispose(&r);
	assert_zeroed(&r);
	chat_request_dispose(&r);
	chat_request_dispose(NULL);
}

static void
test_slack_command_lengths(void **state)
{
	struct buf b = BUF_INIT;
	struct chat_request r;
	int i;

	(void)state;
	/* 1000 bytes of text pass, 1001 do not, 2000 do not. */
	buf_puts(&b, "user_id=U1&channel_id=C1&text=");
	for (i = 0; i < CHAT_TEXT_MAX; i++)
		buf_putc(&b, (char)('a' + i % 26));
	assert_int_equal(slack_command_parse(&r, b.data, b.len), OK);
	assert_int_equal(strlen(r.text), CHAT_TEXT_MAX);
	chat_request_dispose(&r);
	buf_putc(&b, 'x');
	assert_int_equal(slack_command_parse(&r, b.data, b.len), ERR_INVALID);
	assert_non_null(strstr(err_last(), "text"));
	for (i = 0; i < 999; i++)
		buf_putc(&b, 'y');
	assert_int_equal(slack_command_parse(&r, b.data, b.len), ERR_INVALID);
	assert_non_null(strstr(err_last(), "2000"));
	assert_zeroed(&r);
	/* 2000 bytes as 1000 spaces around text: the limit is before trimming. */
	buf_reset(&b);
	buf_puts(&b, "user_id=U1&channel_id=C1&text=");
	for (i = 0; i < 600; i++)
		buf_putc(&b, '+');
	buf_puts(&b, "help");
	for (i = 0; i < 600; i++)
		buf_putc(&b, '+');
	assert_int_equal(slack_command_parse(&r, b.data, b.len), ERR_INVALID);
	buf_dispose(&b);
}

/* ---- block_actions payloads ---- */

/* Percent-encode as a browser or Slack would: unreserved bytes as they
 * are, a space as '+', everything else %XX. */
static char *
urlenc(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b = BUF_INIT;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			buf_putc(&b, (char)c);
		} else if (c == ' ') {
			buf_putc(&b, '+');
		} else {
			buf_putc(&b, '%');
			buf_putc(&b, hex[c >> 4]);
			buf_putc(&b, hex[c & 15]);
		}
	}
	return buf_steal(&b);
}

/* Shaped after Slack's block_actions reference and what slack.c posts. */
#define PL_USER "\"user\":{\"id\":\"U045VRZFT\",\"username\":\"brautigan\",\"name\":\"brautigan\"," \
	"\"team_id\":\"T0CAG\"}"
#define PL_HEAD "\"api_app_id\":\"A0CA5\",\"token\":\"Shh_its_a_seekrit\"," \
	"\"container\":{\"type\":\"message\",\"message_ts\":\"1548261231.000200\"," \
	"\"channel_id\":\"C0CA5\",\"is_ephemeral\":false}," \
	"\"trigger_id\":\"12345.98765.abcd2358fdea\"," \
	"\"team\":{\"id\":\"T0CAG\",\"domain\":\"acme-creamery\"}," \
	"\"enterprise\":null,\"is_enterprise_install\":false," \
	"\"channel\":{\"id\":\"C0CA5\",\"name\":\"ops\"}," \
	"\"response_url\":\"https:\\/\\/hooks.slack.com\\/actions\\/T0CAG\\/1234\\/abcd\"," \
	"\"state\":{\"values\":{}}"
#define PL_MSG_THREAD "\"message\":{\"type\":\"message\",\"subtype\":\"bot_message\"," \
	"\"text\":\"plan 17: deploy app 1.4.3 <awaiting approval>\",\"ts\":\"1548261231.000200\"," \
	"\"thread_ts\":\"1548261200.000100\",\"bot_id\":\"B0CA5\",\"blocks\":[" \
	"{\"type\":\"section\",\"block_id\":\"s1\",\"text\":{\"type\":\"mrkdwn\"," \
	"\"text\":\"*plan 17* ```\\n- a\\n+ b\\n```\",\"verbatim\":false}}," \
	"{\"type\":\"actions\",\"block_id\":\"plan\",\"elements\":[" \
	"{\"type\":\"button\",\"action_id\":\"approve\",\"text\":{\"type\":\"plain_text\"," \
	"\"text\":\"Approve\",\"emoji\":true},\"value\":\"17\",\"style\":\"primary\"}," \
	"{\"type\":\"button\",\"action_id\":\"discard\",\"text\":{\"type\":\"plain_text\"," \
	"\"text\":\"Discard\",\"emoji\":true},\"value\":\"17\",\"style\":\"danger\"}]}]}"
#define PL_MSG_TOP "\"message\":{\"type\":\"message\",\"text\":\"plan 17\"," \
	"\"ts\":\"1548261231.000200\"}"
#define PL_ACTION(id, value) "{\"type\":\"button\",\"block_id\":\"plan\",\"action_id\":" id "," \
	"\"text\":{\"type\":\"plain_text\",\"text\":\"Approve\",\"emoji\":true},\"value\":" value "," \
	"\"style\":\"primary\",\"action_ts\":\"1548426417.840180\"}"
#define PAYLOAD(type, msg, actions) "{\"type\":" type "," PL_USER "," PL_HEAD "," msg \
	",\"actions\":" actions "}"
#define PL(actions) PAYLOAD("\"block_actions\"", PL_MSG_THREAD, actions)

struct action_case {
	const char *name;
	const char *payload;   /* JSON, percent-encoded into payload=...; NULL: raw body */
	const char *raw;
	int rc;
	const char *why;
	const char *text, *thread_ts;
};

static const struct action_case action_cases[] = {
	{ "action: approve in a thread", PL("[" PL_ACTION("\"approve\"", "\"17\"") "]"), NULL,
	  OK, NULL, "approve 17", "1548261200.000100" },
	{ "action: discard on a top-level message",
	  PAYLOAD("\"block_actions\"", PL_MSG_TOP, "[" PL_ACTION("\"discard\"", "\"17\"") "]"),
	  NULL, OK, NULL, "discard 17", "1548261231.000200" },
	{ "action: no message, ts from the container",
	  PAYLOAD("\"block_actions\"", "\"message\":null", "[" PL_ACTION("\"approve\"", "\"4\"") "]"),
	  NULL, OK, NULL, "approve 4", "1548261231.000200" },
	{ "action: a 19-digit plan id", PL("[" PL_ACTION("\"approve\"", "\"1234567890123456789\"") "]"),
	  NULL, OK, NULL, "approve 1234567890123456789", "1548261200.000100" },
	{ "action: a 20-digit plan id", PL("[" PL_ACTION("\"approve\"", "\"12345678901234567890\"") "]"),
	  NULL, ERR_INVALID, "value", NULL, NULL },
	{ "action: unknown action_id", PL("[" PL_ACTION("\"approve_all\"", "\"17\"") "]"), NULL,
	  ERR_INVALID, "action_id", NULL, NULL },
	{ "action: action_id in another case", PL("[" PL_ACTION("\"Approve\"", "\"17\"") "]"), NULL,
	  ERR_INVALID, "action_id", NULL, NULL },
	{ "action: action_id not a string", PL("[" PL_ACTION("1", "\"17\"") "]"), NULL,
	  ERR_INVALID, "action_id", NULL, NULL },
	{ "action: value with a letter", PL("[" PL_ACTION("\"approve\"", "\"17a\"") "]"), NULL,
	  ERR_INVALID, "value", NULL, NULL },
	{ "action: negative value", PL("[" PL_ACTION("\"approve\"", "\"-17\"") "]"), NULL,
	  ERR_INVALID, "value", NULL, NULL },
	{ "action: value with a space", PL("[" PL_ACTION("\"approve\"", "\" 17\"") "]"), NULL,
	  ERR_INVALID, "value", NULL, NULL },
	{ "action: value as a command", PL("[" PL_ACTION("\"approve\"", "\"17; discard 18\"") "]"),
	  NULL, ERR_INVALID, "value", NULL, NULL },
	{ "action: empty value", PL("[" PL_ACTION("\"approve\"", "\"\"") "]"), NULL,
	  ERR_INVALID, "value", NULL, NULL },
	{ "action: value a number, not a string", PL("[" PL_ACTION("\"approve\"", "17") "]"), NULL,
	  ERR_INVALID, "value", NULL, NULL },
	{ "action: value with a NUL", PL("[" PL_ACTION("\"approve\"", "\"17\\u0000\"") "]"), NULL,
	  ERR_INVALID, "JSON", NULL, NULL },
	{ "action: two actions", PL("[" PL_ACTION("\"approve\"", "\"17\"") ","
	  PL_ACTION("\"discard\"", "\"17\"") "]"), NULL, ERR_INVALID, "one action", NULL, NULL },
	{ "action: no actions", PL("[]"), NULL, ERR_INVALID, "one action", NULL, NULL },
	{ "action: actions not an array", PL(PL_ACTION("\"approve\"", "\"17\"")), NULL,
	  ERR_INVALID, "one action", NULL, NULL },
	{ "action: view_submission", PAYLOAD("\"view_submission\"", PL_MSG_TOP,
	  "[" PL_ACTION("\"approve\"", "\"17\"") "]"), NULL, ERR_INVALID, "type", NULL, NULL },
	{ "action: legacy interactive_message", PAYLOAD("\"interactive_message\"", PL_MSG_TOP,
	  "[" PL_ACTION("\"approve\"", "\"17\"") "]"), NULL, ERR_INVALID, "type", NULL, NULL },
	{ "action: type not a string", PAYLOAD("7", PL_MSG_TOP,
	  "[" PL_ACTION("\"approve\"", "\"17\"") "]"), NULL, ERR_INVALID, "type", NULL, NULL },
	{ "action: duplicate JSON key",
	  "{\"type\":\"block_actions\",\"type\":\"block_actions\"," PL_USER "," PL_HEAD ","
	  PL_MSG_TOP ",\"actions\":[" PL_ACTION("\"approve\"", "\"17\"") "]}", NULL,
	  ERR_INVALID, "JSON", NULL, NULL },
	{ "action: missing user", "{\"type\":\"block_actions\"," PL_HEAD "," PL_MSG_TOP
	  ",\"actions\":[" PL_ACTION("\"approve\"", "\"17\"") "]}", NULL,
	  ERR_INVALID, "user_id", NULL, NULL },
	{ "action: user id with a NUL", "{\"type\":\"block_actions\",\"user\":{\"id\":\"U1\\u0000x\"},"
	  PL_HEAD "," PL_MSG_TOP ",\"actions\":[" PL_ACTION("\"approve\"", "\"17\"") "]}", NULL,
	  ERR_INVALID, "JSON", NULL, NULL },
	{ "action: user id not an id", "{\"type\":\"block_actions\",\"user\":{\"id\":\"U1 x\"},"
	  PL_HEAD "," PL_MSG_TOP ",\"actions\":[" PL_ACTION("\"approve\"", "\"17\"") "]}", NULL,
	  ERR_INVALID, "user_id", NULL, NULL },
	{ "action: message ts not a ts", PAYLOAD("\"block_actions\"",
	  "\"message\":{\"ts\":\"17\\n\"}", "[" PL_ACTION("\"approve\"", "\"17\"") "]"), NULL,
	  ERR_INVALID, "ts", NULL, NULL },
	{ "action: payload not JSON", "approve 17", NULL, ERR_INVALID, "JSON", NULL, NULL },
	{ "action: payload a JSON array", "[1]", NULL, ERR_INVALID, "object", NULL, NULL },
	{ "action: no payload field", NULL, "type=block_actions", ERR_INVALID, "payload", NULL, NULL },
	{ "action: payload twice", NULL, "payload=%7B%7D&payload=%7B%7D", ERR_INVALID, "payload",
	  NULL, NULL },
	{ "action: a slash command body", NULL, SL_BODY, ERR_INVALID, "payload", NULL, NULL },
};

static void
test_action(void **state)
{
	const struct action_case *c = *state;
	struct chat_request r;
	char *body, *enc;
	int rc;

	if (c->payload) {
		enc = urlenc(c->payload);
		body = xasprintf("payload=%s", enc);
		free(enc);
	} else {
		body = xstrdup(c->raw);
	}
	rc = slack_action_parse(&r, body, strlen(body));
	free(body);
	assert_int_equal(rc, c->rc);
	if (rc != OK) {
		assert_non_null(strstr(err_last(), c->why));
		assert_zeroed(&r);
		return;
	}
	assert_string_equal(r.platform, "slack");
	assert_string_equal(r.user_id, "U045VRZFT");
	assert_string_equal(r.user_name, "brautigan");
	assert_string_equal(r.channel_id, "C0CA5");
	assert_string_equal(r.channel_name, "ops");
	assert_string_equal(r.response_url, "https://hooks.slack.com/actions/T0CAG/1234/abcd");
	assert_string_equal(r.trigger_id, "12345.98765.abcd2358fdea");
	assert_string_equal(r.text, c->text);
	assert_string_equal(r.thread_ts, c->thread_ts);
	chat_request_dispose(&r);
}

/* The minimal payload: no names, no channel object, no message. */
static void
test_action_minimal(void **state)
{
	static const char json[] = "{\"type\":\"block_actions\",\"user\":{\"id\":\"U1\",\"name\":\"al\"},"
	    "\"container\":{\"channel_id\":\"C9\"},\"actions\":[{\"action_id\":\"discard\","
	    "\"value\":\"3\"}]}";
	struct chat_request r;
	char *enc = urlenc(json), *body = xasprintf("payload=%s", enc);

	(void)state;
	assert_int_equal(slack_action_parse(&r, body, strlen(body)), OK);
	assert_string_equal(r.user_id, "U1");
	assert_string_equal(r.user_name, "al");
	assert_string_equal(r.channel_id, "C9");
	assert_string_equal(r.channel_name, "C9");
	assert_string_equal(r.text, "discard 3");
	assert_null(r.response_url);
	assert_null(r.trigger_id);
	assert_null(r.thread_ts);
	chat_request_dispose(&r);
	free(body);
	free(enc);
}

/* ---- Mattermost ---- */

#define MM_TOKEN "nezum4kpu3faiec7r7c5zt6tfy"
/* From Mattermost's slash command documentation, text changed. */
#define MM_FIELDS(text) "channel_id=i3bb9xfyqt8rtbyshmyhgsj16c&channel_name=town-square" \
	"&command=%2Ffirebreak&response_url=http%3A%2F%2F10.0.0.5%3A8065%2Fhooks%2Fcommands" \
	"%2Fzozc1xwxybdedeyz8djwjpngny&team_domain=rrrr&team_id=tsb8crrn5tgqtedpkt81b4tcya" \
	"&text=" text "&trigger_id=NG1kM3lyN2NqYmQxcGNyc2s0Nmo5em0xb2M6azF4NGFxZGp5MzgxM2M4NG03" \
	"NzFlb2M5eG86MTU1MTIwODE5NTQyNzpNRVVDSUhSdWFrdmVGZ0RhTTd6UERoMWVEVndZK2NGbXlSYUxW" \
	"Q054SVRLZGdxTWZBaUVBeGQvOU95NTFOeWxiTWVsRE1ZK0d4S2FzL2Z1TUU2Y0J1bW5JbFBCOXVEVT0%3D" \
	"&user_id=k1x4aqdjy3813c84m771eoc9xo&user_name=tester"
#define MM_TRIGGER "NG1kM3lyN2NqYmQxcGNyc2s0Nmo5em0xb2M6azF4NGFxZGp5MzgxM2M4NG03" \
	"NzFlb2M5eG86MTU1MTIwODE5NTQyNzpNRVVDSUhSdWFrdmVGZ0RhTTd6UERoMWVEVndZK2NGbXlSYUxW" \
	"Q054SVRLZGdxTWZBaUVBeGQvOU95NTFOeWxiTWVsRE1ZK0d4S2FzL2Z1TUU2Y0J1bW5JbFBCOXVEVT0="

struct mm_case {
	const char *name;
	const char *token;        /* configured */
	const char *auth;         /* Authorization header, or NULL */
	const char *body;
	int rc;
	const char *why;
	const char *text;
};

static const struct mm_case mm_cases[] = {
	{ "mattermost: token in the field", MM_TOKEN, NULL,
	  MM_FIELDS("plan") "&token=" MM_TOKEN, OK, NULL, "plan" },
	{ "mattermost: token in the header", MM_TOKEN, "Token " MM_TOKEN,
	  MM_FIELDS("deploy+app+1.4.3"), OK, NULL, "deploy app 1.4.3" },
	{ "mattermost: token in both", MM_TOKEN, "Token " MM_TOKEN,
	  MM_FIELDS("status") "&token=" MM_TOKEN, OK, NULL, "status" },
	{ "mattermost: scheme in lower case", MM_TOKEN, "token " MM_TOKEN,
	  MM_FIELDS("status"), OK, NULL, "status" },
	{ "mattermost: wrong token in the field", MM_TOKEN, NULL,
	  MM_FIELDS("status") "&token=nezum4kpu3faiec7r7c5zt6tfz", ERR_DENIED, "token", NULL },
	{ "mattermost: wrong token in the header", MM_TOKEN, "Token nezum4kpu3faiec7r7c5zt6tfz",
	  MM_FIELDS("status"), ERR_DENIED, "Authorization", NULL },
	{ "mattermost: good header, wrong field", MM_TOKEN, "Token " MM_TOKEN,
	  MM_FIELDS("status") "&token=x", ERR_DENIED, "token field", NULL },
	{ "mattermost: good field, wrong header", MM_TOKEN, "Token x",
	  MM_FIELDS("status") "&token=" MM_TOKEN, ERR_DENIED, "Authorization", NULL },
	{ "mattermost: a prefix of the token", MM_TOKEN, NULL,
	  MM_FIELDS("status") "&token=nezum4kpu3", ERR_DENIED, "token", NULL },
	{ "mattermost: the token and more", MM_TOKEN, NULL,
	  MM_FIELDS("status") "&token=" MM_TOKEN "x", ERR_DENIED, "token", NULL },
	{ "mattermost: empty token field", MM_TOKEN, NULL, MM_FIELDS("status") "&token=",
	  ERR_DENIED, "token", NULL },
	{ "mattermost: Bearer is not Token", MM_TOKEN, "Bearer " MM_TOKEN, MM_FIELDS("status"),
	  ERR_DENIED, "Authorization", NULL },
	{ "mattermost: Token without a space", MM_TOKEN, "Token" MM_TOKEN, MM_FIELDS("status"),
	  ERR_DENIED, "Authorization", NULL },
	{ "mattermost: Token and nothing", MM_TOKEN, "Token ", MM_FIELDS("status"),
	  ERR_DENIED, "Authorization", NULL },
	{ "mattermost: no token at all", MM_TOKEN, NULL, MM_FIELDS("status"),
	  ERR_DENIED, "no token", NULL },
	{ "mattermost: none configured", "", NULL, MM_FIELDS("status") "&token=",
	  ERR_DENIED, "configured", NULL },
	{ "mattermost: none configured, a token offered", "", "Token " MM_TOKEN,
	  MM_FIELDS("status") "&token=" MM_TOKEN, ERR_DENIED, "configured", NULL },
	{ "mattermost: token field twice", MM_TOKEN, NULL,
	  MM_FIELDS("status") "&token=" MM_TOKEN "&token=x", ERR_INVALID, "token", NULL },
	{ "mattermost: a bad header is refused before the body", MM_TOKEN, "Token x", "%ZZ",
	  ERR_DENIED, "Authorization", NULL },
	{ "mattermost: hostile text, LF", MM_TOKEN, "Token " MM_TOKEN,
	  MM_FIELDS("status%0A%40channel"), ERR_INVALID, "text", NULL },
	{ "mattermost: hostile text, NUL", MM_TOKEN, "Token " MM_TOKEN,
	  MM_FIELDS("status%00"), ERR_INVALID, "NUL", NULL },
	{ "mattermost: hostile text, %FF", MM_TOKEN, "Token " MM_TOKEN,
	  MM_FIELDS("status%FF"), ERR_INVALID, "UTF-8", NULL },
};

static void
test_mattermost(void **state)
{
	const struct mm_case *c = *state;
	struct chat_request r;
	int rc;

	rc = mattermost_command_parse(&r, c->token, strlen(c->token), c->auth, c->body,
	    strlen(c->body));
	assert_int_equal(rc, c->rc);
	if (rc != OK) {
		assert_non_null(strstr(err_last(), c->why));
		assert_null(strstr(err_last(), MM_TOKEN));
		assert_null(strstr(err_last(), "nezum"));
		assert_zeroed(&r);
		return;
	}
	assert_string_equal(r.platform, "mattermost");
	assert_string_equal(r.user_id, "k1x4aqdjy3813c84m771eoc9xo");
	assert_string_equal(r.user_name, "tester");
	assert_string_equal(r.channel_id, "i3bb9xfyqt8rtbyshmyhgsj16c");
	assert_string_equal(r.channel_name, "town-square");
	assert_string_equal(r.text, c->text);
	/* Mattermost on a LAN answers over plain http. */
	assert_string_equal(r.response_url,
	    "http://10.0.0.5:8065/hooks/commands/zozc1xwxybdedeyz8djwjpngny");
	assert_string_equal(r.trigger_id, MM_TRIGGER);
	assert_null(r.thread_ts);
	chat_request_dispose(&r);
}

static void
test_mattermost_hostile_long_text(void **state)
{
	struct buf b = BUF_INIT;
	struct chat_request r;
	int i;

	(void)state;
	buf_puts(&b, "token=" MM_TOKEN "&user_id=u1&channel_id=c1&text=");
	for (i = 0; i < 2000; i++)
		buf_putc(&b, 'a');
	assert_int_equal(mattermost_command_parse(&r, MM_TOKEN, strlen(MM_TOKEN), NULL,
	    b.data, b.len), ERR_INVALID);
	assert_non_null(strstr(err_last(), "text"));
	buf_dispose(&b);
}

/* ---- replies ---- */

struct reply_case {
	const char *name;
	const char *text;
	int in_channel;
	const char *json;
};

static const struct reply_case reply_cases[] = {
	{ "reply: ephemeral", "plan 17 approved", 0,
	  "{\"response_type\":\"ephemeral\",\"text\":\"plan 17 approved\"}" },
	{ "reply: in channel", "deploy app 1.4.3: abc1234", 1,
	  "{\"response_type\":\"in_channel\",\"text\":\"deploy app 1.4.3: abc1234\"}" },
	{ "reply: mrkdwn entities", "<!channel> & <@U1> a>b", 0,
	  "{\"response_type\":\"ephemeral\",\"text\":\"&lt;!channel&gt; &amp; &lt;@\xe2\x80\x8b" "U1&gt; a&gt;b\"}" },
	{ "reply: JSON escapes", "a \"b\" \\ c\nd\te", 0,
	  "{\"response_type\":\"ephemeral\",\"text\":\"a \\\"b\\\" \\\\ c\\nd\\te\"}" },
	{ "reply: Mattermost mentions broken", "hi @channel @all x@ @", 1,
	  "{\"response_type\":\"in_channel\",\"text\":\"hi @\xe2\x80\x8b" "channel "
	  "@\xe2\x80\x8b" "all x@ @\"}" },
	{ "reply: controls dropped", "a\rb\x01" "c\x1b[31md\x7f" "e\xc2\x85" "f", 0,
	  "{\"response_type\":\"ephemeral\",\"text\":\"abc[31mdef\"}" },
	{ "reply: invalid UTF-8 replaced", "caf\xe9 \xc3\xa9", 0,
	  "{\"response_type\":\"ephemeral\",\"text\":\"caf\xef\xbf\xbd \xc3\xa9\"}" },
	{ "reply: empty", "", 0, "{\"response_type\":\"ephemeral\",\"text\":\"\"}" },
	{ "reply: NULL is empty", NULL, 0, "{\"response_type\":\"ephemeral\",\"text\":\"\"}" },
};

static void
test_reply(void **state)
{
	const struct reply_case *c = *state;
	struct buf b = BUF_INIT;
	json_error_t jerr;
	json_t *j;

	buf_puts(&b, "prefix:");
	chat_reply_json(&b, c->text, c->in_channel);
	assert_string_equal(b.data + 7, c->json);
	assert_memory_equal(b.data, "prefix:", 7);
	j = json_loads(b.data + 7, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(j);
	json_decref(j);
	buf_dispose(&b);
}

static void
test_reply_long(void **state)
{
	struct buf b = BUF_INIT, in = BUF_INIT;
	json_error_t jerr;
	const char *t;
	json_t *j;
	int i;

	(void)state;
	/* Each '<' grows to four bytes: the cut counts what is sent. */
	for (i = 0; i < 5000; i++)
		buf_puts(&in, "<\xc3\xa9");
	chat_reply_json(&b, in.data, 0);
	j = json_loads(b.data, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(j);
	t = json_string_value(json_object_get(j, "text"));
	assert_non_null(t);
	assert_true(strlen(t) <= CHAT_REPLY_MAX);
	assert_true(strlen(t) > CHAT_REPLY_MAX - 10);
	assert_string_equal(t + strlen(t) - 3, "\xe2\x80\xa6");
	assert_memory_equal(t, "&lt;\xc3\xa9&lt;", 10);
	json_decref(j);
	buf_dispose(&b);
	buf_dispose(&in);

	/* A capped buffer the reply does not fit is left as it was. */
	b.cap = 16;
	buf_puts(&b, "x");
	chat_reply_json(&b, "a reply longer than the cap", 0);
	assert_string_equal(b.data, "x");
	buf_dispose(&b);
}

/* ---- the whole inbound path, as the HTTP layer will run it ---- */

static void
test_slack_flow(void **state)
{
	struct replay *seen = replay_new(SLACK_REPLAY_CAP);
	struct chat_request r;

	(void)state;
	assert_int_equal(slack_verify(SL_SECRET, strlen(SL_SECRET), SL_TS, SL_SIG, SL_BODY,
	    strlen(SL_BODY), SL_TS_N + 5), OK);
	assert_int_equal(slack_command_parse(&r, SL_BODY, strlen(SL_BODY)), OK);
	assert_int_equal(replay_check(seen, r.trigger_id, SL_TS_N + 5), 0);
	chat_request_dispose(&r);
	/* The same request again, a minute later: signature good, replay caught. */
	assert_int_equal(slack_verify(SL_SECRET, strlen(SL_SECRET), SL_TS, SL_SIG, SL_BODY,
	    strlen(SL_BODY), SL_TS_N + 65), OK);
	assert_int_equal(slack_command_parse(&r, SL_BODY, strlen(SL_BODY)), OK);
	assert_int_equal(replay_check(seen, r.trigger_id, SL_TS_N + 65), 1);
	chat_request_dispose(&r);
	replay_free(seen);
}

#define ADD_CASES(arr, fn) \
	for (i = 0; i < sizeof(arr) / sizeof(*(arr)); i++) { \
		struct CMUnitTest t = { (arr)[i].name, fn, NULL, NULL, \
		    (void *)(uintptr_t)&(arr)[i] }; \
		tests[n++] = t; \
	}

int
main(void)
{
	struct CMUnitTest tests[256];
	size_t i, n = 0;

	ADD_CASES(verify_cases, test_verify);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_verify_null_secret_and_empty_body);
	ADD_CASES(form_cases, test_form);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_form_get);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_form_limits);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_form_message_quotes_no_input);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_replay_window);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_replay_capacity);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_replay_full_default_cap);
	ADD_CASES(slack_cmd_cases, test_slack_command);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_slack_command_lengths);
	ADD_CASES(action_cases, test_action);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_action_minimal);
	ADD_CASES(mm_cases, test_mattermost);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_mattermost_hostile_long_text);
	ADD_CASES(reply_cases, test_reply);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_reply_long);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_slack_flow);
	if (n > sizeof(tests) / sizeof(*tests))
		abort();
	return _cmocka_run_group_tests("slack_in", tests, n, NULL, NULL);
}
