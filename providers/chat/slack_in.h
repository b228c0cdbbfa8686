/*
 * slack_in.h - the inbound half of chat: Slack and Mattermost slash
 * commands and Slack's interactivity (the Approve / Discard buttons that
 * slack.c posts), as a pure library.  The controller's HTTP layer hands
 * over the raw body and the header values; nothing here does I/O, reads
 * a clock or keeps global state.
 *
 * DESIGN.md "Security rules": inbound HTTP is authenticated (Slack's
 * signing secret with a 5-minute window, Mattermost's token), compared in
 * constant time, and secrets never reach a log: no error message here
 * names a secret, a token or a MAC.  Everything a request says is
 * untrusted and bounded; error messages never quote request bytes that
 * were not validated first (no log injection through err_last()).
 *
 * The order for Slack is: slack_verify() on the raw body, then
 * slack_command_parse() or slack_action_parse(), then replay_check() with
 * the request's trigger_id (or, lacking one, its X-Slack-Signature).
 *
 * Layer: providers/chat (includes base, model, plan and this folder).
 */
#ifndef FIREBREAK_SLACK_IN_H
#define FIREBREAK_SLACK_IN_H

#include <stddef.h>

#include "base/util.h"

/*
 * application/x-www-form-urlencoded.  Fields are separated by '&' (empty
 * ones, as in "a=1&&b=2", are skipped); a field without '=' is a key with
 * an empty value.  In keys and values '+' is a space and %XX (either
 * case) is a byte.  ERR_INVALID for a '%' not followed by two hex digits,
 * a NUL byte (raw or %00), or a key or value that is not valid UTF-8;
 * ERR_TOOBIG for a body over FORM_MAX_BODY bytes or more than
 * FORM_MAX_FIELDS fields.  Duplicate keys are kept in order; form_get()
 * returns the first (the chat parsers below refuse duplicates of the
 * fields they read, so that no two parsers can disagree on a value).
 *
 * The keys and values are owned by f (NUL-terminated); form_dispose()
 * frees them and leaves f empty.  On failure f is empty and needs no
 * dispose (disposing it is harmless).
 */
#define FORM_MAX_FIELDS 64
#define FORM_MAX_BODY (256 * 1024)

struct form {
	char **keys, **vals;   /* owns: n each */
	size_t n;
};
int form_parse(struct form *f, const char *body, size_t len);
const char *form_get(const struct form *f, const char *key);   /* borrows; first value or NULL */
void form_dispose(struct form *f);                              /* accepts NULL */

/*
 * Slack's request signing
 * (https://api.slack.com/authentication/verifying-requests-from-slack):
 * the basestring "v0:" + X-Slack-Request-Timestamp + ":" + the raw body,
 * HMAC-SHA256 keyed with the signing secret, sent as X-Slack-Signature
 * "v0=" + 64 lowercase hex digits.  `ts_header` and `sig_header` are the
 * header values (borrowed; NULL when absent), `now` is the caller's clock
 * in Unix seconds.
 *
 * Returns OK, or ERR_DENIED with err_last() saying which check failed: no
 * secret configured, a header missing, a timestamp that is not 1 to 12
 * plain decimal digits (no sign, no spaces, no junk), a stale request
 * (|now - ts| > SLACK_SIG_WINDOW), a signature that is not "v0=" and 64
 * lowercase hex digits, or one that does not match.  The signature is
 * compared as Slack's own SDKs do, byte for byte ("V0=" or upper-case hex
 * is refused), in constant time.
 */
#define SLACK_SIG_WINDOW 300
int slack_verify(const char *secret, size_t secret_len, const char *ts_header,
    const char *sig_header, const void *body, size_t len, long long now);

/*
 * Replays.  A signed request stays valid for as long as its timestamp is
 * within SLACK_SIG_WINDOW of our clock, and Slack's clock may be up to
 * that much ahead of ours: a request first seen at t can pass
 * slack_verify() until t + 2 * SLACK_SIG_WINDOW.  So a key is remembered
 * for SLACK_REPLAY_KEEP seconds, not one window, or a replay in the
 * second window would get through both checks.
 *
 * replay_check() returns 1 (refuse) when `key` was recorded at most
 * SLACK_REPLAY_KEEP seconds before `now`; otherwise it records the key
 * and returns 0.  Keys are stored as SHA-256 digests, so memory is fixed
 * at about 40 bytes a slot whatever the keys' lengths.
 *
 * When all `cap` slots hold keys that are still remembered, replay_check()
 * refuses every new key (returns 1, err_last() says the cache is full)
 * instead of forgetting the oldest: forgetting one would let exactly that
 * request be replayed while its signature is still good.  Refusing costs
 * availability only under a flood of cap distinct signed requests within
 * SLACK_REPLAY_KEEP seconds (SLACK_REPLAY_CAP is far beyond what a team
 * types), and it heals itself as keys age out.  A clock that steps back
 * only makes keys stay longer.  `now` must not be negative (ASSERT).
 *
 * replay_new() owns the result (cap > 0, ASSERT); replay_free() accepts NULL.
 */
#define SLACK_REPLAY_KEEP (2 * SLACK_SIG_WINDOW)
#define SLACK_REPLAY_CAP 4096
struct replay;
struct replay *replay_new(size_t cap);
int replay_check(struct replay *r, const char *key, long long now);
void replay_free(struct replay *r);

/*
 * What a slash command or a button says, whatever the platform.  Every
 * string is owned by the struct; chat_request_dispose() frees them and
 * leaves it zeroed (it accepts NULL and a zeroed struct).  The parsers
 * leave *out zeroed on failure.
 */
struct chat_request {
	char *platform;      /* "slack" or "mattermost" */
	char *user_id;       /* immutable platform user id (U024BE7LH): the only thing to authorise on */
	char *user_name;     /* display only, never for authorisation; the user id when not sent */
	char *channel_id;    /* C0123ABC; Mattermost: 26 characters */
	char *channel_name;  /* display only; the channel id when not sent */
	char *text;          /* the command line, trimmed: "deploy app 1.4.3"; a button: "approve 17" */
	char *response_url;  /* where to answer, or NULL */
	char *trigger_id;    /* or NULL */
	char *thread_ts;     /* a button's message thread, or NULL (always NULL for a command) */
};
void chat_request_dispose(struct chat_request *r);

/*
 * Field rules shared by the parsers (ERR_INVALID naming the field):
 *   user_id, channel_id   required, [A-Za-z0-9._-]{1,64}
 *   user_name,
 *   channel_name          optional, at most 256 bytes, no control characters
 *   text                  optional (absent is ""), at most CHAT_TEXT_MAX bytes
 *                         before trimming, then trimmed of surrounding ASCII
 *                         spaces; refused when it holds a C0 or C1 control
 *                         character, DEL, U+2028/U+2029 (line breaks in
 *                         disguise) or a bidi embedding/override/isolate
 *                         (U+202A-U+202E, U+2066-U+2069): the text ends up in
 *                         commit messages and chat, which must say what they seem to
 *   response_url          optional (empty is absent); "http://" or "https://"
 *                         (the controller accepts a Slack http:// URL only
 *                         when the slack entry's api_url is http://: tests and
 *                         compatible servers); printable ASCII,
 *                         at most 2048 bytes
 *   trigger_id            optional (empty is absent); printable ASCII without
 *                         spaces, at most 256 bytes
 * A field the parser reads that appears twice in the form is ERR_INVALID.
 */
#define CHAT_TEXT_MAX 1000

/*
 * A Slack slash command body, after slack_verify().  The `token` field
 * (Slack's deprecated verification token) is ignored.  OK, or ERR_INVALID
 * / ERR_TOOBIG (from form_parse) naming the missing or bad field.  Slack's
 * occasional "ssl_check=1" probe has no user_id and so is ERR_INVALID:
 * the HTTP layer should answer that one 200 without calling here.
 */
int slack_command_parse(struct chat_request *out, const char *body, size_t len);

/*
 * A Slack interactivity body, after slack_verify(): the form field
 * `payload` (exactly once) holding JSON (duplicate keys refused) of type
 * "block_actions" with user.id (and user.username, else user.name, for
 * display), channel.id and channel.name (else container.channel_id),
 * response_url, trigger_id, and exactly one action whose action_id is
 * "approve" or "discard" and whose value is the plan id, 1 to 19 decimal
 * digits.  text becomes "approve 17" / "discard 17"; thread_ts is
 * message.thread_ts, else message.ts, else container.thread_ts, else
 * container.message_ts (digits, one '.', digits), or NULL.  Anything
 * else (other payload types, other action ids, non-digit values, a string
 * field that is not a string) is ERR_INVALID.
 */
int slack_action_parse(struct chat_request *out, const char *body, size_t len);

/*
 * A Mattermost slash command
 * (https://developers.mattermost.com/integrate/slash-commands/custom/):
 * a form body with token, user_id, user_name, channel_id, channel_name,
 * text, response_url, trigger_id.  Mattermost also sends the token as
 * "Authorization: Token <token>"; `auth_header` is that header's value
 * (borrowed; NULL when absent).  Every token offered (header and field)
 * must equal the configured `token` (token_len bytes), and at least one
 * must be offered; the comparison is in constant time and independent of
 * the tokens' lengths.  ERR_DENIED when none is configured, none is
 * offered, the header is not "Token <token>" (scheme in any case), or one
 * does not match; then ERR_INVALID / ERR_TOOBIG as for Slack.  A header
 * that does not match is refused before the body is parsed.
 */
int mattermost_command_parse(struct chat_request *out, const char *token, size_t token_len,
    const char *auth_header, const char *body, size_t len);

/*
 * Append to `out` the JSON of an immediate acknowledgement or a
 * response_url reply, which Slack and Mattermost share:
 *	{"response_type":"ephemeral"|"in_channel","text":"..."}
 * The text is made safe for both: & < > become &amp; &lt; &gt; (Slack's
 * mrkdwn, so "<!channel>" pings no one; Mattermost's Markdown shows the
 * entities as the characters), '@' before a letter or digit gets a
 * zero-width space after it (Mattermost's @channel, @all, @here), control
 * characters other than LF and TAB are dropped, invalid UTF-8 becomes
 * U+FFFD, and the escaped text is cut at CHAT_REPLY_MAX bytes on a
 * character boundary with "..." (U+2026) appended.  The JSON is built
 * aside and appended in one piece: when `out` has a cap it would pass,
 * `out` is left as it was.
 */
#define CHAT_REPLY_MAX 12000
void chat_reply_json(struct buf *out, const char *text, int in_channel);

#endif
