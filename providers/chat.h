/*
 * chat.h - chat backends (DESIGN.md "Posting plans to chat"): console,
 * slack, webhook, irc.  Each is one file exporting one `struct
 * chat_provider`, listed once in providers/chat_registry.c; the core finds
 * backends by name and never includes a backend's own header.
 *
 * Messages reach a provider only through the outbox (reconciler/outbox.c),
 * which stores each message in the state directory before the first try,
 * retries with backoff, survives restarts and deletes a message once its
 * provider took it.
 */
#ifndef FIREBREAK_CHAT_H
#define FIREBREAK_CHAT_H

#include <stddef.h>

#include "../reconciler/util.h"
#include "../reconciler/ydoc.h"

#define CHAT_PROVIDER_ABI 1

enum { CHAT_CAN_POST = 1u << 0, CHAT_CAN_RECV = 1u << 1 };

/* What the core posts.  Providers lay it out within their own budget
 * (Slack: about 12,000 characters across blocks; IRC: a few NOTICE lines
 * of at most 512 bytes, CR/LF stripped). */
struct chat_message {
	const char *id;          /* the outbox id: unique, stable across retries */
	const char *plan_id;     /* the plan it is about, or NULL */
	const char *thread;      /* the provider's reference of the plan's first
	                          * message (Slack: its ts), or NULL: this one starts
	                          * the thread */
	const char *summary;     /* one line: `plan 17 for a1b2c3d "..." by alice: ... -> auto-applied` */
	const char *body;        /* the rest: changes by kind with counts, then the
	                          * diff; may be cut to fit */
	const char *url;         /* the full plan (GET /plans/17), or NULL */
	int actions;             /* offer approve/discard for plan_id (buttons on Slack) */
};

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
	 * plan thread under.  ERR_AGAIN when it may work later (network, 5xx,
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
	void (*close)(void *st);
};

struct chat_provider {
	unsigned abi;                 /* CHAT_PROVIDER_ABI */
	const char *name;             /* "slack", "irc", "webhook", "console" */
	unsigned caps;                /* CHAT_CAN_POST | CHAT_CAN_RECV */
	const struct chat_ops *ops;
};

/* The provider of that name, or NULL.  Checks ABI and required ops. */
const struct chat_provider *chat_find(const char *name);

#endif
