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
 * other.
 *
 * Layout:
 *	<state>/outbox/<post>.json      one outbox_post(): the text, and the
 *	                                backends still to deliver it to
 *	<state>/outbox/<id>.sending     marker while message <id> is in flight
 *	<state>/outbox/seq              ids are reserved in blocks: never reused
 *	<state>/outbox/last-error       the last failure, for `status`
 *	<state>/outbox/dead/<id>.json   messages a backend refused for good
 *	<state>/threads/<plan>.<n>      backend n's reference of the plan's
 *	                                first message (Slack: its ts)
 *
 * Once-only delivery: a post writes one file for all backends (so a crash
 * cannot leave some of them without it), and a delivery rewrites it
 * without that backend (unlinked when none is left) right after the
 * backend said OK.  The one window left is a crash after the service took
 * a message and before that rewrite: the message is sent again after the
 * restart.  The console backend closes even that window (it finds the
 * message's id in its file and does not write it twice); for the others
 * the outbox logs that a message "may have been delivered" (the .sending
 * marker says so) and sends it again: a duplicate rather than a loss.  A
 * power failure (not a kill) can lose the marker; the rest is fsynced.
 *
 * One process at a time: the controller, or a CLI holding the state lock.
 */
#ifndef FIREBREAK_OUTBOX_H
#define FIREBREAK_OUTBOX_H

#include <stddef.h>

#include "util.h"
#include "ydoc.h"

struct outbox;
struct chat_provider;

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

/*
 * Store one message for every backend and return; nothing is sent here.
 * plan_id (NULL, or [A-Za-z0-9._-]{1,64}): the plan it is about, so its
 * messages thread together; summary: one line; body (may be NULL): the
 * changes by kind, then the diff from its first "diff --git " line; url
 * (NULL or an http(s) URL): the full plan; actions: offer approve/discard.
 * Text is stored as valid UTF-8 (invalid bytes become '?'), the summary
 * on one line, the body cut at 64 KiB (no backend shows more).  OK once
 * the message is on disk (fsynced); ERR_INVALID for a bad plan id or URL.
 */
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
