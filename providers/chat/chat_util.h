/*
 * chat_util.h - what the chat backends share: reading their config
 * mapping, secret files, text made safe for a transport, and one bounded
 * HTTP POST (libcurl) for the HTTP backends (slack, webhook).
 *
 * Only providers include this header; the core reaches backends through
 * chat.h and the registry alone.
 *
 * Layer: providers/chat.
 */
#ifndef FIREBREAK_CHAT_UTIL_H
#define FIREBREAK_CHAT_UTIL_H

#include <stddef.h>

#include "base/util.h"
#include "model/ydoc.h"
#include "providers/chat/chat.h"

/*
 * Refuse a config that is not a mapping of scalars-or-whatever with only
 * the keys in `allowed` (NULL-terminated; "type" is always allowed).
 * ERR_INVALID naming the unknown key.
 */
int chat_cfg_keys(const struct ynode *cfg, const char *const *allowed);

/*
 * The string value of `key` (borrows from cfg).  Absent or null: *out =
 * NULL and OK unless `required` (then ERR_INVALID).  Not a scalar, empty,
 * or holding control characters: ERR_INVALID naming the key.
 */
int chat_cfg_str(const char **out, const struct ynode *cfg, const char *key,
    int required);

/*
 * Read a secret from the file named by config key `key` (a token, a
 * password) through the one reader, secret_read() with SECRET_TOKEN: at
 * most SECRET_MAX bytes, trailing whitespace trimmed, non-empty, mode
 * open to owner and group only, printable ASCII without spaces (so it
 * cannot inject a header or an IRC command).  Any refusal is ERR_INVALID
 * (the provider's entry is wrong) with secret_read()'s message prefixed
 * with the key.  *out owns the secret; free it with chat_secret_free(),
 * which wipes it.
 */
int chat_read_secret(char **out, const char *path, const char *key);
void chat_secret_free(char *secret);

/* The longest prefix of s[0..len) that is at most `max` bytes and does not
 * end inside a UTF-8 sequence. */
size_t chat_utf8_cut(const char *s, size_t len, size_t max);

/*
 * Append `s` to `b` as one line of at most `max` bytes: CR, LF and TAB
 * become spaces, every other control character (C0, DEL) is dropped, and
 * the cut falls on a UTF-8 boundary.  Returns how many bytes of `s` were
 * consumed (less than strlen(s) when it was cut), so a caller can wrap.
 */
size_t chat_put_oneline(struct buf *b, const char *s, size_t max);

/*
 * Append s[0..n) to b as chat markup text, never letting b->len pass
 * `limit` and never splitting an escape or a UTF-8 sequence; control
 * characters other than LF and TAB are dropped.  Returns how many bytes
 * of s went in (so a caller can go on in a next block).
 *   CHAT_MD_ENTITIES  & < > become &amp; &lt; &gt; (Slack's mrkdwn: so
 *                     "<!channel>" in a commit subject pings no one)
 *   CHAT_MD_CODE      a backtick followed by another gets a zero-width
 *                     space after it, so text cannot close a ``` block
 *   CHAT_MD_MENTIONS  '@' followed by a letter or digit gets a zero-width
 *                     space after it (Mattermost's @channel, @all, @here)
 */
enum { CHAT_MD_ENTITIES = 1u << 0, CHAT_MD_CODE = 1u << 1, CHAT_MD_MENTIONS = 1u << 2 };
size_t chat_md_append(struct buf *b, const char *s, size_t n, size_t limit,
    unsigned flags);

/*
 * An HTTP client for one backend: one libcurl handle, reused so the
 * connection stays warm.  Timeouts: connect 5 s, whole request 10 s; no
 * redirects; http and https only; no proxy unless `proxy` is given (the
 * environment's http_proxy is not consulted: no surprises); the response
 * body is capped at 1 MiB.
 */
struct chat_http;

int chat_http_open(struct chat_http **out, const char *proxy);
void chat_http_close(struct chat_http *h);

struct chat_http_result {
	long status;              /* HTTP status, 0 when there was no answer */
	unsigned retry_after;     /* Retry-After in seconds, 0 when absent */
	struct buf body;          /* the response body (owns; cap 1 MiB) */
};

/*
 * POST `body` (JSON) to `url` with the extra `headers` (NULL-terminated,
 * "Name: value"; may hold a secret: never logged).  OK when an HTTP
 * answer came back, whatever its status (res->status says); ERR_AGAIN for
 * a network failure or timeout; ERR for a response over the cap.  `what`
 * names the backend in err_last() ("slack", "webhook"); the URL is not
 * named, since a webhook URL is a secret.  The caller disposes res->body.
 */
int chat_http_post(struct chat_http *h, const char *what, const char *url,
    const char *const *headers, const char *body, size_t len,
    struct chat_http_result *res);

/* "http://" or "https://" followed by printable ASCII without spaces. */
int chat_url_ok(const char *url);

/*
 * The origin of an http(s) URL: "scheme://host[:port]", the scheme and
 * host lowercased, a default port (80, 443) left out.  ERR_INVALID for a
 * URL chat_url_ok() refuses, one with userinfo ("user@host": a classic way
 * to make a URL read as another host), an empty host, or an origin longer
 * than `n` - 1 bytes.
 */
int chat_url_origin(char *out, size_t n, const char *url);

/* 1 when `url` is an http(s) URL on the same origin as `origin_url`. */
int chat_url_same_origin(const char *url, const char *origin_url);

/*
 * Answer a Slack or Mattermost command through its response_url (they
 * share the format: {"response_type":"ephemeral","text":...}; text of
 * more than one line goes in a code block, which keeps columns).  Only
 * the person who asked sees it.  OK when the server answered 2xx; ERR
 * (err_last() says why, never the URL's path, which is a credential).
 * Blocks up to chat_http's timeouts: run it in a child.
 */
int chat_reply_post(const char *url, const char *text);

/* An immediate JSON answer to a slash command (chat_reply_json's format). */
void chat_ack_json(struct chat_http_reply *rep, unsigned status, const char *text);

#endif
