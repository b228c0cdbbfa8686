/*
 * ctlsock.c - the server side of the control socket (the client is
 * state/ctlclient.c): the shell's approve, discard and status reach the
 * running controller here.  See ctl.h.
 */
#include "controller/ctl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "base/names.h"
#include "plan/plan.h"
#include "state/ctlclient.h"
#include "state/outbox.h"

static void
status_text(struct ctl *c, struct buf *b)
{
	buf_printf(b, "applied: %s\n", c->base.sha[0] ? c->base.sha : "(nothing yet)");
	buf_printf(b, "head: %s\n", c->head[0] ? c->head : "(unknown)");
	if (c->open)
		buf_printf(b, "open: plan %s for %.7s (%s)\n", c->open->id, c->open->target,
		    decision_name(c->open->decision));
	else
		buf_puts(b, "open: none\n");
	ctl_hooks_status(c, b);
	ctl_world_status(c, b);
	buf_printf(b, "outbox: %zu\n", c->ob ? outbox_depth(c->ob) : 0);
	if (c->ob && outbox_last_error(c->ob))
		buf_printf(b, "chat error: %s\n", outbox_last_error(c->ob));
	buf_printf(b, "last error: %s\n", c->last_error[0] ? c->last_error : "none");
	if (c->ha)
		ctl_ha_status(c, b);
}

/* The answer to one request line (NUL-terminated, without its newline). */
void
ctlsock_answer(struct ctl *c, const char *req, struct buf *out)
{
	char verb[16], id[32], user[80], extra[2], what[16];
	char *msg = NULL;
	int rc;

	if (sscanf(req, "rollout %15s %31s %79s %1s", what, id, user, extra) == 3 &&
	    (strcmp(what, "resume") == 0 || strcmp(what, "abort") == 0) && valid_user(user)) {
		rc = ctl_rollout_command(c, what[0] == 'r', id, user, &msg);
		buf_printf(out, "%s %s\n", rc == OK ? "ok" : rc == ERR_DENIED || rc == ERR_CONFLICT ||
		    rc == ERR_NOTFOUND ? "refused" : "error", msg ? msg : "");
		free(msg);
	} else if (sscanf(req, "%15s %31s %79s %1s", verb, id, user, extra) == 3 &&
	    (strcmp(verb, "approve") == 0 || strcmp(verb, "discard") == 0) && valid_user(user)) {
		rc = ctl_decide_plan(c, verb[0] == 'a', id, user, &msg);
		buf_printf(out, "%s %s\n", rc == OK ? "ok" : rc == ERR_DENIED || rc == ERR_CONFLICT ||
		    rc == ERR_NOTFOUND ? "refused" : "error", msg ? msg : "");
		free(msg);
	} else if (sscanf(req, "%15s %31s %79s %1s", verb, id, user, extra) == 3 &&
	    (strcmp(verb, "retry") == 0 || strcmp(verb, "reconcile") == 0) && valid_user(user)) {
		rc = strcmp(verb, "retry") == 0 ? ctl_retry(c, id, user, &msg) :
		    ctl_reconcile_kind(c, id, user, &msg);
		buf_printf(out, "%s %s\n", rc == OK ? "ok" : rc == ERR_DENIED || rc == ERR_CONFLICT ||
		    rc == ERR_NOTFOUND || rc == ERR_INVALID ? "refused" : "error", msg ? msg : "");
		free(msg);
	} else if (strcmp(req, "status") == 0) {
		buf_puts(out, "ok ");
		status_text(c, out);
	} else if (strcmp(req, "drift") == 0) {
		buf_puts(out, "ok ");
		ctl_drift_answer(c, out);
	} else {
		buf_puts(out, "refused unknown request (approve ID USER | discard ID USER | retry ID "
		    "USER | reconcile KIND USER | drift | rollout resume|abort ID USER | status)\n");
	}
}

static void
conn_close(struct ctlconn *k)
{
	if (k->fd >= 0)
		close(k->fd);
	buf_dispose(&k->out);
	memset(k, 0, sizeof(*k));
	k->fd = -1;
}

/*
 * Is the peer allowed?  The socket's directory is 0700 already; the
 * peer's uid is checked as well, so a socket reached some other way (a
 * descriptor passed on, a directory whose mode was loosened by hand) still
 * answers only our own user and root.
 */
static int
peer_ok(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0 || len != sizeof(cr))
		return 0;
	return cr.uid == geteuid() || cr.uid == 0;
}

/* Accept whoever is waiting, without blocking: each gets a slot and a
 * deadline, or is closed at once when every slot is taken. */
static void
accept_all(struct ctl *c)
{
	for (;;) {
		int fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		size_t i;

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_event(NULL, "control socket: accept: %s", strerror(errno));
			return;
		}
		if (!peer_ok(fd)) {
			log_event(NULL, "control socket: refused a client of another user");
			close(fd);
			continue;
		}
		for (i = 0; i < CTL_MAX_CONNS && c->conns[i].fd >= 0; i++)
			;
		if (i == CTL_MAX_CONNS) {
			log_event(NULL, "control socket: %d clients already; refusing one",
			    CTL_MAX_CONNS);
			close(fd);
			continue;
		}
		c->conns[i].fd = fd;
		c->conns[i].deadline = log_now() + CTL_CONN_SECONDS;
		c->conns[i].len = 0;
		c->conns[i].off = 0;
		c->conns[i].writing = 0;
	}
}

/* Read what has come; answer once a whole line (or the end) is in. */
static void
conn_read(struct ctl *c, struct ctlconn *k)
{
	ssize_t n;
	char *nl;

	while ((n = read(k->fd, k->req + k->len, CTL_MAX_REQUEST - k->len)) > 0)
		k->len += (size_t)n;
	k->req[k->len] = '\0';
	nl = memchr(k->req, '\n', k->len);
	if (!nl && n != 0 && k->len < CTL_MAX_REQUEST)
		return;                  /* more to come (EAGAIN) */
	if (nl)
		*nl = '\0';
	if (!nl && k->len == CTL_MAX_REQUEST) {
		buf_puts(&k->out, "refused request too long\n");
	} else {
		k->req[strcspn(k->req, "\r")] = '\0';
		ctlsock_answer(c, k->req, &k->out);
	}
	k->writing = 1;
	k->deadline = log_now() + CTL_CONN_SECONDS;
}

/* Write what the socket takes; close when all is out. */
static void
conn_write(struct ctlconn *k)
{
	while (k->off < k->out.len) {
		ssize_t n = write(k->fd, k->out.data + k->off, k->out.len - k->off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			break;
		}
		k->off += (size_t)n;
	}
	conn_close(k);
}

size_t
ctlsock_pollfds(struct ctl *c, struct pollfd *pfd, size_t max, int *timeout)
{
	double now = log_now();
	size_t i, n = 0;

	if (c->lfd >= 0 && n < max) {
		pfd[n].fd = c->lfd;
		pfd[n++].events = POLLIN;
	}
	for (i = 0; i < CTL_MAX_CONNS && n < max; i++) {
		struct ctlconn *k = &c->conns[i];
		int left;

		if (k->fd < 0)
			continue;
		pfd[n].fd = k->fd;
		pfd[n++].events = k->writing ? POLLOUT : POLLIN;
		left = k->deadline > now ? (int)((k->deadline - now) * 1000) + 1 : 0;
		if (left < *timeout)
			*timeout = left;
	}
	return n;
}

void
ctlsock_step(struct ctl *c)
{
	double now = log_now();
	size_t i;

	if (c->lfd >= 0)
		accept_all(c);
	for (i = 0; i < CTL_MAX_CONNS; i++) {
		struct ctlconn *k = &c->conns[i];

		if (k->fd < 0)
			continue;
		if (now >= k->deadline) {
			/* A client that sends nothing (or reads nothing) loses its
			 * slot; it never holds up the loop. */
			log_event(NULL, "control socket: a client %s within %d s; closed",
			    k->writing ? "did not read its answer" : "sent no request",
			    CTL_CONN_SECONDS);
			conn_close(k);
			continue;
		}
		if (!k->writing)
			conn_read(c, k);
		if (k->fd >= 0 && k->writing)
			conn_write(k);
	}
}

/*
 * <state>/run, 0700 and ours, holds the socket: its mode is right before
 * the socket exists (a chmod after bind leaves a window), and a socket
 * file's own mode is not honoured everywhere.
 */
static int
socket_dir(const char *state)
{
	char dir[4096];
	struct stat st;
	int k = snprintf(dir, sizeof(dir), "%s/%s", state, CTL_SOCKET_DIR);

	if (k < 0 || (size_t)k >= sizeof(dir))
		return err_set(ERR_TOOBIG, "state directory path too long");
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return err_set(ERR, "creating %s: %s", dir, strerror(errno));
	if (lstat(dir, &st) != 0)
		return err_set(ERR, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return err_set(ERR, "%s is not a directory owned by this user; remove it", dir);
	if ((st.st_mode & 07777) != 0700 && chmod(dir, 0700) != 0)
		return err_set(ERR, "chmod 0700 %s: %s", dir, strerror(errno));
	return OK;
}

int
ctl_listen(struct ctl *c)
{
	struct sockaddr_un sa;
	char path[sizeof(sa.sun_path)];
	int rc;

	if ((rc = ctl_socket_path(path, sizeof(path), c->cfg->state)) != OK ||
	    (rc = socket_dir(c->cfg->state)) != OK)
		return rc;
	/* We hold the state lock, so a socket left here is a dead one's. */
	unlink(path);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
	    bind(c->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(c->lfd, 16) != 0)
		return err_set(ERR, "control socket %s: %s", path, strerror(errno));
	return OK;
}

void
ctlsock_close(struct ctl *c)
{
	char path[4096];
	size_t i;

	for (i = 0; i < CTL_MAX_CONNS; i++)
		if (c->conns[i].fd >= 0)
			conn_close(&c->conns[i]);
	if (c->lfd >= 0 && ctl_socket_path(path, sizeof(path), c->cfg->state) == OK)
		unlink(path);
	if (c->lfd >= 0)
		close(c->lfd);
	c->lfd = -1;
}
