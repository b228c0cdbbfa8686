/*
 * controller.h - `firebreak run`: watch the inventory's branch, plan every
 * new head against the applied commit within milliseconds, apply what the
 * policy trusts, post the rest to chat and wait for an approver.
 *
 * One thread, one poll() loop over inotify (the repository's refs), a
 * signalfd, the control socket (<state>/run/control.sock: the CLI's approve,
 * discard and status reach the running controller there, through
 * state/ctlclient.h) and the chat outbox.  The controller holds the state
 * directory's lock for its whole life: there is never a second writer.
 *
 * Layer: controller.  Its files share controller/ctl.h.
 */
#ifndef FIREBREAK_CONTROLLER_H
#define FIREBREAK_CONTROLLER_H

#include "state/config.h"

struct controller_opts {
	int bootstrap_apply;     /* an empty state applies its first plan */
};

/* Run until SIGTERM or SIGINT.  Returns OK, or an error (err_last()) when
 * it cannot start: repository or state missing, socket in use. */
int controller_run(const struct config *cfg, const struct controller_opts *opts);

/*
 * `firebreak run -n`: open (and close) every chat and apply provider the
 * configuration names, so a bad key or an unreadable secret file is found
 * before the service starts.  Touches neither the state nor the network.
 * ERR_INVALID with err_last() naming the file, line and key.
 */
int controller_check(const struct config *cfg);

/*
 * Approve or discard plan `id` as policy user `user`, on the state
 * directory directly (the controller is not running, or this is the
 * controller itself).  *msg (owns) says what happened.  OK: applied or
 * discarded (or already was: a second approve applies nothing);
 * ERR_DENIED: not allowed; ERR_CONFLICT: stale (the message names the
 * fresh plan); ERR_NOTFOUND: no such open plan.
 */
int controller_decide(const struct config *cfg, int approve, const char *id,
    const char *user, char **msg);

/*
 * With `ha:` (DESIGN.md "High availability"): send one control request
 * line ("approve 17 alice") to whichever instance leads, through etcd,
 * and wait for its answer line ("ok ...", "refused ...", "error ...":
 * *reply owns).  ERR_AGAIN when no leader answered in time.
 */
int controller_ha_ask(const struct config *cfg, const char *line, char **reply);
/* The leader, the applied commit and each instance's release and lag,
 * from etcd, appended to out. */
int controller_ha_status(const struct config *cfg, struct buf *out);
/*
 * The fence of a leader's bot command (`chat --ha-fence REV`, the
 * controller's child): OK when etcd's leader key still has create
 * revision `fence` -- the leader that started the command still leads, so
 * no successor exists -- right before the bot moves the branch.
 * ERR_DENIED when another leader (or none) holds it; ERR_AGAIN when etcd
 * cannot say.  Either way the bot commits nothing.
 */
int controller_ha_fence(const struct config *cfg, const char *fence);

#endif
