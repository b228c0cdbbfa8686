/*
 * chat.h - the chat interface (DESIGN.md "Posting plans to chat", "Chat
 * commands"): console, slack, webhook (Slack- and Mattermost-compatible),
 * irc.  Each is one file exporting one `struct chat_provider`, listed once
 * in providers/chat/chat_registry.c; the core finds backends by name and
 * never includes a backend's own header.  Adding a chat platform, outbound
 * and inbound, is one file plus one table line.
 *
 * Outbound, messages reach a provider only through the outbox
 * (reconciler/state/outbox.c), which stores each message in the state
 * directory before the first try, retries with backoff, survives restarts
 * and deletes a message once its provider took it.
 *
 * Inbound, a provider turns what its platform sends into a struct
 * chat_command, having checked who sent it: either over a connection it
 * keeps (CHAT_CAN_RECV: IRC, read in tick(), handed over by recv()), or
 * over the controller's HTTP listener (CHAT_CAN_HTTP: the routes the
 * provider declares, e.g. Slack's /slack/command; the controller hands
 * each request to http() and never looks inside it).  The provider alone
 * knows its platform's authentication (signatures, tokens, replay
 * windows, which identities its server vouches for); the core gets an
 * identity, a trust level and the command text.
 *
 * Layer: providers/chat (includes base, model, plan and this folder).
 */
#ifndef FIREBREAK_CHAT_H
#define FIREBREAK_CHAT_H

#include <stddef.h>

#include "base/util.h"
#include "model/ydoc.h"

/* 2: chat_message.to, chat_ops.recv.  3: chat_command, routes/http/ack/reply. */
#define CHAT_PROVIDER_ABI 3

enum { CHAT_CAN_POST = 1u << 0, CHAT_CAN_RECV = 1u << 1, CHAT_CAN_HTTP = 1u << 2 };

/* What the core posts.  Providers lay it out within their own budget
 * (Slack: about 12,000 characters across blocks; IRC: a few NOTICE lines
 * of at most 512 bytes, CR/LF stripped). */
struct chat_message {
	const char *id;          /* the outbox id: unique, stable across retries */
	const char *plan_id;     /* the plan it is about, or NULL */
	const char *thread;      /* the provider's reference of the first message
	                          * of this one's thread (Slack: its ts), or NULL:
	                          * this one starts the thread */
	const char *summary;     /* one line: `plan 17 for a1b2c3d "..." by alice: ... -> auto-applied` */
	const char *body;        /* the rest: changes by kind with counts, then the
	                          * diff; may be cut to fit */
	const char *url;         /* the full plan (GET /plans/17), or NULL */
	int actions;             /* offer approve/discard for plan_id (buttons on Slack) */
	const char *to;          /* who asked, when this answers someone (IRC: a
	                          * nick, addressed as "carol: ..."), or NULL */
};

/* What the provider vouches for about a command's sender. */
enum {
	CHAT_CMD_VERIFIED = 1u << 0,     /* the platform authenticated `identity`: the
	                                  * core maps it through policy `identities`;
	                                  * without this the sender may run read-only
	                                  * commands only (an IRC nick) */
	CHAT_CMD_MAY_APPROVE = 1u << 1,  /* approve / discard may come from here */
	CHAT_CMD_QUIET = 1u << 2,        /* a button press: acknowledge with an empty
	                                  * 200; the result goes to the plan's thread */
};

/*
 * One command addressed to the bot.  The provider has checked it: the
 * sender's authenticity as far as its platform allows (flags say how far),
 * text that is valid UTF-8 without control characters, at most 1000 bytes,
 * the address ("firebreak:") taken off and surrounding spaces trimmed.
 * Every string is owned; chat_command_dispose() frees them and zeroes it.
 */
struct chat_command {
	char *identity;   /* "<platform>:<immutable id>": "slack:U024BE7LH",
	                   * "mattermost:8x3k...", "irc-account:carol" (a services
	                   * account the IRC server vouches for), "irc:carol" (a
	                   * bare nick: anyone can take it) */
	char *via;        /* where it was said, for Requested-via: "slack #ops" */
	char *text;       /* the command: "deploy app 1.4.3"; a button: "approve 17" */
	char *reply_to;   /* where the answer goes: for a provider with a reply op,
	                   * an address it checked (Slack's response_url); else the
	                   * person to address in the channel (an IRC nick); or NULL */
	unsigned flags;   /* CHAT_CMD_* */
};

/* Free what c owns and zero it; accepts a zeroed (or NULL) one. */
void chat_command_dispose(struct chat_command *c);

/* One HTTP request to a route a provider declared; everything borrowed. */
struct chat_http_request {
	const char *path;             /* "/slack/command" */
	const char *body;             /* the raw body, NUL-terminated, len bytes */
	size_t len;
	/* A request header's value (case-insensitive name), or NULL. */
	const char *(*header)(const void *hctx, const char *name);
	const void *hctx;
	long long now;                /* the caller's clock, Unix seconds */
};

/* What goes back to that request.  The provider fills status (default
 * 200), content_type (a static string; NULL: text/plain) and body (owned
 * by the reply; the caller disposes it). */
struct chat_http_reply {
	unsigned status;
	const char *content_type;
	struct buf body;
};

/* http()'s outcomes. */
enum { CHAT_HTTP_ANSWERED = 0, CHAT_HTTP_COMMAND = 1 };

struct chat_ops {
	/*
	 * Open from the provider's config mapping (borrowed; e.g. {type: slack,
	 * token_file: ..., channel: ...}).  Reads secret files here; never logs
	 * them.  *out owns the provider's state.  ERR_INVALID with err_last()
	 * naming the key for a bad config.
	 */
	int (*open)(void **out, const struct ynode *cfg);
	/*
	 * Deliver one message.  OK when the chat service took it; *thread_out
	 * (owns, may stay NULL) is the reference later messages of the same
	 * thread go under.  ERR_AGAIN when it may work later (network, 5xx,
	 * 429), with *retry_after seconds when the service said (Retry-After),
	 * else 0; any other code is permanent (bad token, channel not found).
	 */
	int (*post)(void *st, const struct chat_message *m, char **thread_out,
	    unsigned *retry_after);
	/* A descriptor to watch for reading, or -1 (IRC's socket). */
	int (*fd)(void *st);
	/* Called when fd is readable and once a second: PING/PONG, reconnects
	 * with backoff.  Never blocks for long. */
	void (*tick)(void *st);
	/*
	 * Inbound commands (CHAT_CAN_RECV providers; NULL otherwise): move the
	 * next one into *cmd and return 1, or return 0 when none is waiting
	 * (*cmd zeroed).  Called after tick(), which is what reads them.
	 */
	int (*recv)(void *st, struct chat_command *cmd);
	/*
	 * The HTTP routes (POST) this instance answers, NULL-terminated and
	 * static, or NULL when it takes no requests (a webhook entry without a
	 * command token).  CHAT_CAN_HTTP providers; NULL otherwise.
	 */
	const char *const *(*routes)(void *st);
	/*
	 * One request to one of those routes, verified and parsed.
	 * CHAT_HTTP_COMMAND: *cmd is filled, the caller queues it and answers
	 * with ack().  CHAT_HTTP_ANSWERED: *rep is the whole answer (a refused
	 * signature 401, a malformed body 400, a platform's probe 200) and
	 * there is no command.  Never blocks; no secret in rep or err_last().
	 */
	int (*http)(void *st, const struct chat_http_request *rq, struct chat_command *cmd,
	    struct chat_http_reply *rep);
	/* The immediate answer to a command taken from http(): `text` in the
	 * platform's reply format (e.g. Slack's ephemeral JSON). */
	void (*ack)(void *st, const struct chat_command *cmd, const char *text,
	    struct chat_http_reply *rep);
	/*
	 * Answer a command through cmd->reply_to, later (a chat command runs
	 * for seconds; the platform's HTTP request was acknowledged long ago).
	 * Blocks (run it in a child, never in the controller's loop).  Checks
	 * reply_to again: only an address this instance would accept in http().
	 * NULL: answers go through post(), to this backend only, with
	 * chat_message.to = reply_to (IRC).
	 */
	int (*reply)(void *st, const char *reply_to, const char *text);
	void (*close)(void *st);
};

struct chat_provider {
	unsigned abi;                 /* CHAT_PROVIDER_ABI */
	const char *name;             /* "slack", "irc", "webhook", "console" */
	unsigned caps;                /* CHAT_CAN_POST | CHAT_CAN_RECV */
	const struct chat_ops *ops;
};

/* The provider of that name, or NULL.  Checks it with chat_provider_ok(). */
const struct chat_provider *chat_find(const char *name);

/* 1 when p is built against this ABI and has every op the outbox calls
 * unconditionally (open, post, close; recv when it says CHAT_CAN_RECV;
 * routes, http and ack when it says CHAT_CAN_HTTP). */
int chat_provider_ok(const struct chat_provider *p);

#endif
