/*
 * outbox.h - the durable queue between the controller and chat
 * (DESIGN.md "Posting plans to chat", "State directory").
 *
 * Every message is written to <state>/outbox/ before anything is sent, and
 * removed only once its chat service took it; so a message survives chat
 * being down, a restart and a kill -9.  Each configured chat backend (the
 * config's `chat:` list) has its own queue, delivered oldest first: a
 * backend's later messages wait behind one that failed, so a plan's
 * result never arrives before the plan.  Backends do not wait for each
 * other.  A message goes to every backend, or to one (the answer to a
 * command someone gave there).
 *
 * The other way, commands people address to the bot on a backend that
 * can receive them (IRC) come out of outbox_recv(); they are not stored:
 * one the process dies holding is lost, as if it had not been heard.
 *
 * Layout:
 *	<state>/outbox/<post>.json      one outbox_send(): the text, and the
 *	                                backends still to deliver it to
 *	<state>/outbox/<id>.sending     marker while message <id> is in flight
 *	<state>/outbox/<id>.sent        ... renamed so the instant its service
 *	                                took it (holding the thread reference
 *	                                it returned, if it starts a thread)
 *	<state>/outbox/seq              ids are reserved in blocks: never reused
 *	<state>/outbox/last-error       the last failure, for `status`
 *	<state>/outbox/dead/<id>.json   messages a backend refused for good
 *	<state>/threads/<key>.<n>       backend n's reference of the first
 *	                                message of thread <key> (Slack: its
 *	                                ts); the key is the plan id unless
 *	                                the message names another
 *
 * Once-only delivery: a post writes one file for all backends (so a crash
 * cannot leave some of them without it), and a delivery rewrites it
 * without that backend (unlinked when none is left) right after the
 * backend said OK.  That rewrite is fsynced, which takes milliseconds, so
 * the instant the backend says OK the message's .sending marker is
 * renamed to .sent first (no fsync: a kill -9 does not undo what the
 * kernel has); a restart that finds a .sent mark drops the message
 * without sending it again ("was delivered before a restart").  The one
 * window left is a kill between the service's answer and that rename (a
 * few microseconds): the .sending marker then says the message "may have
 * been delivered", and it is sent again: a duplicate rather than a loss.
 * No sender can close that window alone (the service would have to take
 * an idempotency key); the console backend does (it finds the message's
 * id in its file and does not write it twice).  A power failure (not a
 * kill) can lose either marker: a .sent lost means one more duplicate,
 * never a loss; the rest is fsynced.
 *
 * One process at a time: the controller, or a CLI holding the state lock.
 *
 * Layer: state (includes model, base).
 */
#ifndef FIREBREAK_OUTBOX_H
#define FIREBREAK_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "base/util.h"
#include "model/ydoc.h"

struct outbox;
struct chat_provider;
struct chat_command;
struct chat_http_request;
struct chat_http_reply;

/*
 * Open the backends named by `chat_list` (borrowed: the config's `chat:`,
 * a list of mappings each with a `type`; NULL or an empty list: no chat)
 * and load the messages still pending in <state_dir>/outbox/.  Nothing is
 * sent or connected here (IRC connects in outbox_tick()).  *out owns the
 * outbox.  ERR_INVALID for a bad config, with err_last() starting with the
 * entry's "line:col: chat[i] <type>: " so the caller can prefix its file
 * name; ERR for I/O.
 */
int outbox_open(struct outbox **out, const char *state_dir, const struct ynode *chat_list);

/* One message to send; every pointer is borrowed for the call. */
struct outbox_msg {
	const char *plan_id;   /* the plan it is about (approve/discard act on
	                        * it), or NULL; [A-Za-z0-9._-]{1,64}, not
	                        * starting with '.' */
	const char *thread;    /* the thread key, same syntax; NULL: plan_id.
	                        * Messages with the same key thread together:
	                        * the first one's backend reference (Slack's ts)
	                        * becomes threads/<key>.<n>.  NULL with no
	                        * plan_id: a message of its own */
	const char *summary;   /* one line */
	const char *body;      /* the changes by kind, then the diff from its
	                        * first "diff --git " line; or NULL */
	const char *url;       /* the full plan (http or https), or NULL */
	int actions;           /* offer approve/discard for plan_id */
	int only;              /* -1: every backend; else the index of one in
	                        * the `chat:` list (an answer to someone who
	                        * asked there: outbox_recv()'s return) */
	const char *to;        /* with `only`: who asked (the inbound's user:
	                        * the IRC nick), so the backend can address
	                        * them ("carol: ..."); 1 to 64 letters, digits
	                        * and ._-[]\`^{|}; or NULL */
	uint64_t post;         /* 0: a new post; else one from outbox_reserve(),
	                        * and sending it again while it is queued is a
	                        * no-op (see outbox_reserve()) */
};

/*
 * Store one message for its backends and return; nothing is sent here.
 * Text is stored as valid UTF-8 (invalid bytes become '?'), the summary
 * on one line, the body cut at 64 KiB (no backend shows more).  OK once
 * the message is on disk (fsynced), or at once when there is no backend;
 * ERR_INVALID for a bad plan id, thread key, URL or `to`, an `only` that
 * names no backend, or `to` without `only`.
 */
int outbox_send(struct outbox *ob, const struct outbox_msg *m);

/*
 * Reserve a post id for a message to be sent later, perhaps by the next
 * process after a crash: the caller stores it with what the message
 * announces (write-ahead), then sends with outbox_msg.post set to it.  The
 * id is durable (outbox/seq) and never handed out again.  *post is 0 when
 * there is no backend (nothing would be sent).
 */
int outbox_reserve(struct outbox *ob, uint64_t *post);

/*
 * Is post `post` still waiting for a backend?  What a restart asks of a
 * reserved post whose sending a kill may have cut short: queued (don't
 * send it again) or not (send it).  Only exact before this process's
 * first outbox_run(): after that, a post delivered is a post gone.
 */
int outbox_queued(const struct outbox *ob, uint64_t post);

/* outbox_send() to every backend, threaded by plan_id. */
int outbox_post(struct outbox *ob, const char *plan_id, const char *summary,
    const char *body, const char *url, int actions);

/*
 * Try every message that is due.  OK from a backend deletes it (and
 * records the plan's thread reference when this message started it);
 * ERR_AGAIN backs it off (1 s, 2 s, 4 s ... 5 min, or the service's
 * Retry-After); any other error moves it to outbox/dead/ and becomes
 * outbox_last_error().  Each try is bounded by its backend's timeouts, and
 * one call stops starting new tries after about a second (what is left is
 * still due: outbox_next_due() says 0).  Returns how many were delivered.
 */
int outbox_run(struct outbox *ob);

/* Seconds until the next message is due: 0 now, -1 when none is
 * pending.  For the event loop's timeout. */
int outbox_next_due(const struct outbox *ob);

/* Up to `max` descriptors the backends want watched for reading (IRC's
 * socket); returns how many.  Call outbox_tick() when one is readable. */
size_t outbox_fds(struct outbox *ob, int *fds, size_t max);

/* Each backend's housekeeping (PING/PONG, reconnects); call when a
 * descriptor is readable and about once a second.  Never blocks long. */
void outbox_tick(struct outbox *ob);

/*
 * The next command someone addressed to the bot on any backend that can
 * receive them (taking turns, so one busy backend does not starve the
 * others): the backend's index (>= 0), with *in filled (its strings owned
 * by *in: chat_command_dispose() them), or -1 when none is waiting (*in
 * zeroed).  Commands are read by outbox_tick(); call this after it.
 * Answer with outbox_send() with `only` set to the index and `to` to
 * in->reply_to.
 */
int outbox_recv(struct outbox *ob, struct chat_command *in);

/* How many backends the `chat:` list opened. */
size_t outbox_backend_count(const struct outbox *ob);

/* Backend idx's type ("console", "slack", "webhook", "irc"), or NULL when
 * there is no such backend.  Borrows (static). */
const char *outbox_backend_type(const struct outbox *ob, int idx);

/*
 * Inbound HTTP, through the chat provider interface (chat.h): backend
 * idx's routes (NULL-terminated, borrowed; NULL when it takes none), one
 * request handed to it (what chat_ops.http returns: CHAT_HTTP_COMMAND
 * with *cmd filled, or CHAT_HTTP_ANSWERED with *rep the whole answer),
 * and the immediate answer to a command it gave (chat_ops.ack).
 */
const char *const *outbox_routes(const struct outbox *ob, int idx);
int outbox_http(struct outbox *ob, int idx, const struct chat_http_request *rq,
    struct chat_command *cmd, struct chat_http_reply *rep);
void outbox_ack(struct outbox *ob, int idx, const struct chat_command *cmd, const char *text,
    struct chat_http_reply *rep);

/* 1 when backend idx answers a command through its own reply op (in a
 * child: Slack's and Mattermost's response_url), 0 when answers go
 * through outbox_send() to that backend with `to` set (IRC). */
int outbox_replies_itself(const struct outbox *ob, int idx);

/* Messages pending, counting one per backend. */
size_t outbox_depth(const struct outbox *ob);

/* Messages moved to outbox/dead/ (ever, as found on disk at open, plus
 * since). */
size_t outbox_dead(const struct outbox *ob);

/* The last failure (a retry or a dead letter), kept across restarts in
 * outbox/last-error; NULL when there never was one.  Borrows. */
const char *outbox_last_error(const struct outbox *ob);

void outbox_close(struct outbox *ob);

/*
 * Test hooks.  outbox_open_with() finds backends in `providers` (a
 * NULL-terminated table, borrowed for the outbox's life) instead of the
 * registry; outbox_test_set_clock() replaces the monotonic clock (seconds)
 * that due times are measured with.
 */
int outbox_open_with(struct outbox **out, const char *state_dir,
    const struct ynode *chat_list, const struct chat_provider *const *providers);
void outbox_test_set_clock(struct outbox *ob, double (*now)(void));

#endif
