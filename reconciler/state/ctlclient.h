/*
 * ctlclient.h - the client side of the control socket: how the CLI and
 * the bot reach the controller that owns a state directory, without
 * linking the controller (DESIGN.md "Layout": bot and controller never
 * include each other).
 *
 * Layer: state.  The socket is <state>/run/control.sock: one request line
 * per connection ("approve ID USER", "discard ID USER", "retry ID USER",
 * "reconcile KIND USER", "drift", "status"), one
 * answer ("ok ...", "refused ...", "error ..."), then the server closes.
 * The server (controller/ctlsock.c) is the other half of this protocol.
 */
#ifndef FIREBREAK_CTLCLIENT_H
#define FIREBREAK_CTLCLIENT_H

#include <stddef.h>

#include "base/util.h"

#define CTL_SOCKET_DIR "run"            /* 0700, under the state directory */
#define CTL_SOCKET_NAME "control.sock"
#define CTL_MAX_REQUEST 1024            /* bytes of one request line */
#define CTL_MAX_REPLY 65536

/* <state>/run/control.sock into out (n bytes).  ERR_TOOBIG when it does
 * not fit a sockaddr_un. */
int ctl_socket_path(char *out, size_t n, const char *state_dir);

/*
 * Send one request line to the running controller and put its answer in
 * *reply (owns).  OK when the controller answered; ERR_NOTFOUND when none
 * is running (nothing listens on the socket); ERR otherwise.  Waits at
 * most `timeout_ms` for the answer (an approve runs the release switch).
 */
int ctl_ask(char **reply, const char *state_dir, const char *request, int timeout_ms);

/*
 * Approve or discard plan `id` as policy user `user` through the running
 * controller.  *msg (owns) says what happened.  OK: done (or already
 * was); ERR_DENIED: refused (not allowed, stale, no such plan); ERR: the
 * controller failed; ERR_NOTFOUND: no controller is running (*msg NULL;
 * the caller may act on the state directory itself); ERR_INVALID: a user
 * or id that cannot be sent.
 */
int ctl_decide(char **msg, const char *state_dir, int approve, const char *id,
    const char *user);

/*
 * `retry ID` (verb "retry") or `reconcile KIND` ("reconcile") as policy
 * user `user` through the running controller, which checks who may.
 * Returns as ctl_decide() does.
 */
int ctl_rerun(char **msg, const char *state_dir, const char *verb, const char *arg,
    const char *user);

/* `drift`: the running controller's last readings of the world, appended
 * to out.  ERR_NOTFOUND when no controller runs. */
int ctl_drift(struct buf *out, const char *state_dir);

/*
 * `rollout resume ID` (resume 1) or `rollout abort ID` as `user`, through
 * the running controller (rollouts run there; with none running there is
 * nothing to resume: ERR_NOTFOUND, *msg says so).  Codes as ctl_decide's.
 */
int ctl_rollout(char **msg, const char *state_dir, int resume, const char *id,
    const char *user);

/*
 * `status`: the running controller's answer; when none runs, what the
 * state directory says (applied commit, open plans, undelivered chat
 * posts, the last chat error).  Appends to out.
 */
int ctl_status(struct buf *out, const char *state_dir);

#endif
