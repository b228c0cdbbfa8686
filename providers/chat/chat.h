/*
 * chat.h - chat backends (DESIGN.md "Posting plans to chat"): console,
 * slack, webhook, irc.  Each is one file exporting one `struct
 * chat_provider`, listed once in providers/chat_registry.c; the core finds
 * backends by name and never includes a backend's own header.
 *
 * Messages reach a provider only through the outbox (reconciler/outbox.c),
 * which stores each message in the state directory before the first try,
 * retries with backoff, survives restarts and deletes a message once its
 * provider took it.  Commands people address to the bot come back the
 * same way (outbox_recv()) from the providers that can receive them
 * (CHAT_CAN_RECV: IRC; Slack's arrive over HTTP instead).
 */
#ifndef FIREBREAK_CHAT_H
#define FIREBREAK_CHAT_H

#include <stddef.h>

#include "base/util.h"
#include "model/ydoc.h"

/* 2: chat_message.to, chat_ops.recv. */
#define CHAT_PROVIDER_ABI 2

enum { CHAT_CAN_POST = 1u << 0, CHAT_CAN_RECV = 1u << 1 };

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

/*
 * One command addressed to the bot (CHAT_CAN_RECV providers).  The
 * provider has checked it: valid UTF-8 without control characters (IRC's
 * formatting codes stripped), at most 400 bytes, the address ("firebreak:")
 * taken off and surrounding spaces trimmed, never empty.
 */
struct chat_inbound {
	char *user;    /* owns: the platform id's second half, so the
	                * identity is "irc:<user>" (IRC: the nick, in RFC
	                * 2812's syntax, at most 32 bytes) */
	char *where;   /* owns: the channel it was said in ("#ops") */
	char *text;    /* owns: the command ("deploy app 1.4.3") */
};

/* Free what *in owns and zero it; accepts a zeroed (or NULL) one. */
void chat_inbound_dispose(struct chat_inbound *in);

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
	 * next one into *in (its strings owned by *in) and return 1, or return
	 * 0 when none is waiting (*in zeroed).  Called after tick(), which is
	 * what reads them.
	 */
	int (*recv)(void *st, struct chat_inbound *in);
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
 * unconditionally (open, post, close; recv when it says CHAT_CAN_RECV). */
int chat_provider_ok(const struct chat_provider *p);

#endif
