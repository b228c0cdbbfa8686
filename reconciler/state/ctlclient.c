/*
 * ctlclient.c - the control socket's client.  See ctlclient.h.
 */
#include "state/ctlclient.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "base/names.h"
#include "state/state.h"

#define CTL_DECIDE_TIMEOUT_MS 600000   /* an approve waits for the release switch */
#define CTL_STATUS_TIMEOUT_MS 10000

int
ctl_socket_path(char *out, size_t n, const char *state_dir)
{
	struct sockaddr_un sa;
	int k = snprintf(out, n, "%s/%s/%s", state_dir, CTL_SOCKET_DIR, CTL_SOCKET_NAME);

	if (k < 0 || (size_t)k >= n || (size_t)k >= sizeof(sa.sun_path))
		return err_set(ERR_TOOBIG, "state directory path too long for a socket");
	return OK;
}

int
ctl_ask(char **reply, const char *state_dir, const char *request, int timeout_ms)
{
	struct sockaddr_un sa;
	struct buf b = BUF_INIT;
	char path[sizeof(sa.sun_path)], chunk[4096];
	double deadline = log_now() + timeout_ms / 1000.0;
	size_t len = strlen(request), off = 0;
	ssize_t n;
	int fd, rc;

	*reply = NULL;
	if ((rc = ctl_socket_path(path, sizeof(path), state_dir)) != OK)
		return rc;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return err_set(ERR, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return err_set(ERR_NOTFOUND, "no controller is running on %s", state_dir);
	}
	while (off < len) {
		if ((n = write(fd, request + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return err_set(ERR, "control socket: %s", strerror(errno));
		}
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		int left = (int)((deadline - log_now()) * 1000);

		if (left <= 0) {
			rc = err_set(ERR, "the controller did not answer within %d s", timeout_ms / 1000);
			break;
		}
		if (poll(&p, 1, left) < 0 && errno != EINTR) {
			rc = err_set(ERR, "control socket: %s", strerror(errno));
			break;
		}
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if ((n = read(fd, chunk, sizeof(chunk))) < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = OK;
			break;
		}
		if (b.len + (size_t)n > CTL_MAX_REPLY || buf_append(&b, chunk, (size_t)n) != OK) {
			rc = err_set(ERR_TOOBIG, "the controller's answer is over %d bytes",
			    CTL_MAX_REPLY);
			break;
		}
	}
	close(fd);
	if (rc != OK) {
		buf_dispose(&b);
		return rc;
	}
	*reply = buf_steal(&b);
	if (!*reply)
		*reply = xstrdup("");
	return OK;
}

/* "VERB ARG USER": one line out, the first line of the answer back. */
static int
ask_as(char **msg, const char *state_dir, const char *verb, const char *arg, const char *what,
    const char *user)
{
	char *reply = NULL, *req;
	const char *text;
	int rc;

	*msg = NULL;
	if (!valid_user(user))
		return (*msg = xasprintf("'%s' is not a valid user name", user)), ERR_INVALID;
	if (!*arg || strlen(arg) > 31 || strpbrk(arg, " \t\r\n"))
		return (*msg = xasprintf("'%.40s' is not a %s", arg, what)), ERR_INVALID;
	req = xasprintf("%s %s %s\n", verb, arg, user);
	rc = ctl_ask(&reply, state_dir, req, CTL_DECIDE_TIMEOUT_MS);
	free(req);
	if (rc == ERR_NOTFOUND)
		return rc;
	if (rc != OK)
		return (*msg = xasprintf("%s", err_last())), rc;
	text = strchr(reply, ' ') ? strchr(reply, ' ') + 1 : reply;
	*msg = xstrndup(text, strcspn(text, "\n"));
	rc = strncmp(reply, "ok", 2) == 0 ? OK : strncmp(reply, "refused", 7) == 0 ? ERR_DENIED :
	    ERR;
	free(reply);
	return rc;
}

int
ctl_decide(char **msg, const char *state_dir, int approve, const char *id, const char *user)
{
	return ask_as(msg, state_dir, approve ? "approve" : "discard", id, "plan id", user);
}

int
ctl_rerun(char **msg, const char *state_dir, const char *verb, const char *arg,
    const char *user)
{
	ASSERT(strcmp(verb, "retry") == 0 || strcmp(verb, "reconcile") == 0);
	return ask_as(msg, state_dir, verb, arg, strcmp(verb, "retry") == 0 ? "plan id" : "kind", user);
}

int
ctl_drift(struct buf *out, const char *state_dir)
{
	char *reply = NULL;
	int rc = ctl_ask(&reply, state_dir, "drift\n", CTL_STATUS_TIMEOUT_MS);

	if (rc != OK)
		return rc;
	buf_puts(out, strncmp(reply, "ok ", 3) == 0 ? reply + 3 : reply);
	free(reply);
	return OK;
}

int
ctl_rollout(char **msg, const char *state_dir, int resume, const char *id, const char *user)
{
	char *reply = NULL, *req;
	const char *text;
	uint64_t v;
	int rc;

	*msg = NULL;
	if (!valid_user(user))
		return (*msg = xasprintf("'%s' is not a valid user name", user)), ERR_INVALID;
	if (parse_u64(&v, id, 1, 1ull << 62) != OK)
		return (*msg = xasprintf("'%.40s' is not a rollout id (a plan id)", id)), ERR_INVALID;
	req = xasprintf("rollout %s %s %s\n", resume ? "resume" : "abort", id, user);
	rc = ctl_ask(&reply, state_dir, req, CTL_STATUS_TIMEOUT_MS);
	free(req);
	if (rc == ERR_NOTFOUND)
		return (*msg = xasprintf("no controller is running on %s; rollouts run in the "
		    "controller (firebreak run), so there is nothing to %s", state_dir,
		    resume ? "resume" : "abort")), ERR_NOTFOUND;
	if (rc != OK)
		return (*msg = xasprintf("%s", err_last())), rc;
	text = strchr(reply, ' ') ? strchr(reply, ' ') + 1 : reply;
	*msg = xstrndup(text, strcspn(text, "\n"));
	rc = strncmp(reply, "ok", 2) == 0 ? OK : strncmp(reply, "refused", 7) == 0 ? ERR_DENIED :
	    ERR;
	free(reply);
	return rc;
}

/* Open plans, undelivered messages and the last chat error, from the
 * files a stopped controller left. */
struct open_plans {
	struct buf *out;
	size_t n;
};

/* A field that is missing or not a string, as "?" (printf's %s of NULL is
 * undefined; fuzz_planjson found "(null)" in status twice). */
static const char *
or_q(const char *s)
{
	return s ? s : "?";
}

static int
list_open(void *ctx, const char *file, json_t *j, uint64_t announce)
{
	struct open_plans *o = ctx;
	const char *outcome = json_string_value(json_object_get(j, "outcome"));
	const char *id = json_string_value(json_object_get(j, "id")),
	    *target = json_string_value(json_object_get(j, "target")),
	    *decision = json_string_value(json_object_get(j, "decision"));

	(void)file;
	(void)announce;
	/* A field that is missing or not a string is "?": printf's %s of
	 * NULL is undefined (found by fuzz_planjson: "(null)" in status). */
	if (outcome && strcmp(outcome, "open") == 0) {
		buf_printf(o->out, "open: plan %s for %.*s (%s)\n", id ? id : "?",
		    target ? utf8_prefix(target, 7) : 1, target ? target : "?",
		    decision ? decision : "?");
		o->n++;
	} else if (outcome && strcmp(outcome, "applying") == 0) {
		/* A stop cut its apply short: the next start finishes it (or, if
		 * its release never switched, fails it). */
		struct buf what = BUF_INIT;
		json_t *e;
		size_t i;

		json_array_foreach(json_object_get(j, "providers"), i, e) {
			const char *st = json_string_value(json_object_get(e, "state"));

			if (st && (strcmp(st, "running") == 0 || strcmp(st, "pending") == 0))
				buf_printf(&what, "%s%s %s", what.len ? ", " : "",
				    or_q(json_string_value(json_object_get(e, "name"))),
				    strcmp(st, "running") == 0 ? "was running" : "had not started");
		}
		buf_printf(o->out, "unfinished: plan %s for %.7s (%s; the next start finishes it)\n",
		    or_q(json_string_value(json_object_get(j, "id"))),
		    or_q(json_string_value(json_object_get(j, "target"))),
		    what.len ? what.data : "stopped while applying");
		buf_dispose(&what);
	}
	return 0;
}

static void
status_from_files(struct buf *out, const char *state)
{
	struct open_plans o = { out, 0 };
	char path[4096];
	struct buf err = BUF_INIT;
	size_t pending = 0;
	DIR *d;
	struct dirent *e;

	/* The index names the open plans: the closed ones are never read. */
	if (state_each_open(state, list_open, &o) != OK)
		buf_printf(out, "plans: %s\n", err_last());
	else if (!o.n)
		buf_puts(out, "open: none\n");
	snprintf(path, sizeof(path), "%s/outbox", state);
	if ((d = opendir(path))) {
		while ((e = readdir(d)))
			pending += str_has_suffix(e->d_name, ".json");
		closedir(d);
	}
	buf_printf(out, "outbox: %zu undelivered post%s\n", pending, pending == 1 ? "" : "s");
	snprintf(path, sizeof(path), "%s/outbox/last-error", state);
	if (fs_read(&err, path, 4096) == OK && err.len)
		buf_printf(out, "chat error: %.*s\n", (int)strcspn(err.data, "\n"), err.data);
	buf_dispose(&err);
}

int
ctl_status(struct buf *out, const char *state_dir)
{
	char *reply = NULL, applied[41];
	int rc;

	rc = ctl_ask(&reply, state_dir, "status\n", CTL_STATUS_TIMEOUT_MS);
	if (rc == OK) {
		buf_puts(out, strncmp(reply, "ok ", 3) == 0 ? reply + 3 : reply);
		free(reply);
		return OK;
	}
	/* No controller: what the state directory says. */
	if ((rc = state_read_applied(state_dir, applied)) != OK)
		return rc;
	buf_printf(out, "controller: not running\napplied: %s\n", applied[0] ? applied :
	    "(nothing yet)");
	status_from_files(out, state_dir);
	return OK;
}
