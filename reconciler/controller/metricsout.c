/*
 * metricsout.c - firebreak's own counters to Graphite, as plaintext lines
 * (DESIGN.md "Metrics and drift").  See ctl.h.
 *
 * The counters are exactly those of /metrics: every `interval` seconds
 * ctl_metrics() renders them, and each sample line becomes one Graphite
 * line, so a counter added to /metrics reaches Graphite without a second
 * list to keep in step:
 *
 *   firebreak_would_act_total{action="health.drain"} 3
 *     -> <prefix>.would_act.health.drain 3 <now>
 *   firebreak_plans_total{decision="auto"} 7
 *     -> <prefix>.plans.auto 7 <now>
 *
 * (the "firebreak_" prefix and a "_total" suffix dropped, each label's
 * value appended as path nodes, characters outside [A-Za-z0-9_.-] made
 * '_'); histogram buckets are left out (their _sum and _count go).
 *
 * Nothing here may stall the loop: the socket is non-blocking (connect
 * included), the loop polls it for writing only while lines wait, and a
 * server that is away costs a bounded queue (`queue` lines, the oldest
 * dropped first and counted) and a reconnect every 1, 2, 4 ... 60 s.
 */
#include "controller/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

#define MOUT_BACKOFF_MAX 60.0

struct mout {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char *prefix;
	unsigned interval;
	size_t max_lines;
	int fd;
	int connecting;
	double next_send, next_connect, backoff;
	/* The queue: whole lines in one buffer, `off` bytes of it sent. */
	struct buf q;
	size_t off, lines;
	unsigned long sent, dropped, connects;
};

int
ctl_mout_open(struct ctl *c)
{
	const struct metrics_config *mc = c->cfg->metrics;
	struct addrinfo hints, *res = NULL;
	struct mout *m;
	char host[300];
	const char *colon;
	int rc;

	if (!mc || !mc->graphite)
		return OK;
	colon = strrchr(mc->graphite, ':');
	snprintf(host, sizeof(host), "%.*s", (int)(colon - mc->graphite), mc->graphite);
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	/* Resolved once, here, at the start: a lookup later could block. */
	if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0 || !res)
		return err_set(ERR, "%s: metrics.graphite %s: %s", c->cfg->path, mc->graphite,
		    gai_strerror(rc));
	m = xcalloc(1, sizeof(*m));
	memcpy(&m->addr, res->ai_addr, res->ai_addrlen);
	m->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	m->prefix = xstrdup(mc->prefix);
	m->interval = mc->interval;
	m->max_lines = mc->queue;
	m->fd = -1;
	m->backoff = 1.0;
	m->next_send = log_now() + 1.0;
	c->mout = m;
	log_event("metrics", "counters to graphite %s every %u s as %s.*", mc->graphite,
	    m->interval, m->prefix);
	return OK;
}

static void
drop_conn(struct mout *m, const char *why)
{
	if (m->fd >= 0) {
		close(m->fd);
		log_event("metrics", "graphite: %s; reconnecting in %.0f s", why, m->backoff);
	}
	m->fd = -1;
	m->connecting = 0;
	/* A line cut in the middle is sent again whole. */
	m->off = 0;
	m->next_connect = log_now() + m->backoff;
	m->backoff = m->backoff * 2 > MOUT_BACKOFF_MAX ? MOUT_BACKOFF_MAX : m->backoff * 2;
}

void
ctl_mout_close(struct ctl *c)
{
	struct mout *m = c->mout;

	if (!m)
		return;
	if (m->fd >= 0)
		close(m->fd);
	buf_dispose(&m->q);
	free(m->prefix);
	free(m);
	c->mout = NULL;
}

/* Drop the oldest whole lines until at most max remain. */
static void
trim(struct mout *m)
{
	size_t cut = 0;

	while (m->lines > m->max_lines) {
		const char *nl = memchr(m->q.data + cut, '\n', m->q.len - cut);

		if (!nl)
			break;
		cut = (size_t)(nl - m->q.data) + 1;
		m->lines--;
		m->dropped++;
	}
	if (!cut)
		return;
	/* Part of the first line on the wire already: the connection would
	 * carry half a line, so it is dropped and the rest sent again. */
	if (m->off && m->off < cut && m->fd >= 0)
		drop_conn(m, "queue full");
	m->off = m->off > cut ? m->off - cut : 0;
	memmove(m->q.data, m->q.data + cut, m->q.len - cut);
	m->q.len -= cut;
	m->q.data[m->q.len] = '\0';
}

/* One /metrics sample line into a Graphite line, appended to the queue. */
static void
queue_sample(struct mout *m, const char *line, size_t len, long long now)
{
	const char *sp, *brace, *p, *end = line + len;
	char name[200];
	size_t n;

	if (len == 0 || line[0] == '#')
		return;
	if (!(sp = memrchr(line, ' ', len)))
		return;
	brace = memchr(line, '{', (size_t)(sp - line));
	n = (size_t)((brace ? brace : sp) - line);
	if (n >= sizeof(name) || n < 1)
		return;
	memcpy(name, line, n);
	name[n] = '\0';
	if (str_has_suffix(name, "_bucket"))
		return;
	if (str_has_suffix(name, "_total"))
		name[n - 6] = '\0';
	buf_printf(&m->q, "%s.%s", m->prefix, strncmp(name, "firebreak_", 10) == 0 ? name + 10 :
	    name);
	/* Label values, in order, as path nodes. */
	for (p = brace; p && p < sp; ) {
		const char *q = memchr(p, '"', (size_t)(sp - p)), *e;

		if (!q)
			break;
		e = memchr(q + 1, '"', (size_t)(sp - q - 1));
		if (!e)
			break;
		buf_putc(&m->q, '.');
		for (q++; q < e; q++)
			buf_putc(&m->q, (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
			    (*q >= '0' && *q <= '9') || *q == '_' || *q == '.' || *q == '-' ? *q : '_');
		p = e + 1;
	}
	buf_printf(&m->q, " %.*s %lld\n", (int)(end - sp - 1), sp + 1, now);
	m->lines++;
}

static void
collect(struct ctl *c, struct mout *m)
{
	struct buf text = BUF_INIT;
	const char *p, *nl;
	long long now = (long long)time(NULL);

	ctl_metrics(c, &text);
	for (p = text.data; p && *p; p = nl + 1) {
		if (!(nl = strchr(p, '\n')))
			break;
		queue_sample(m, p, (size_t)(nl - p), now);
	}
	buf_dispose(&text);
	trim(m);
}

static void
try_connect(struct mout *m)
{
	int fd = socket(m->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	m->connects++;
	if (fd < 0) {
		m->next_connect = log_now() + m->backoff;
		return;
	}
	if (connect(fd, (struct sockaddr *)&m->addr, m->addrlen) == 0) {
		m->fd = fd;
		m->connecting = 0;
		return;
	}
	if (errno == EINPROGRESS) {
		m->fd = fd;
		m->connecting = 1;
		return;
	}
	close(fd);
	m->fd = -1;
	drop_conn(m, strerror(errno));
}

static void
flush(struct mout *m)
{
	while (m->fd >= 0 && !m->connecting && m->off < m->q.len) {
		ssize_t w = send(m->fd, m->q.data + m->off, m->q.len - m->off, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			drop_conn(m, strerror(errno));
			return;
		}
		m->off += (size_t)w;
	}
	if (m->off && m->off == m->q.len) {
		m->sent += m->lines;
		m->lines = 0;
		m->off = 0;
		buf_reset(&m->q);
	}
}

size_t
ctl_mout_pollfds(struct ctl *c, struct pollfd *pfd, size_t max, int *timeout)
{
	struct mout *m = c->mout;
	double now = log_now(), next;
	int ms;

	if (!m)
		return 0;
	next = m->next_send;
	if (m->fd < 0 && m->q.len && m->next_connect < next)
		next = m->next_connect;
	ms = next <= now ? 0 : (int)((next - now) * 1000.0) + 1;
	if (ms < *timeout)
		*timeout = ms;
	if (m->fd >= 0 && max && (m->connecting || m->off < m->q.len)) {
		pfd[0].fd = m->fd;
		pfd[0].events = POLLOUT;
		return 1;
	}
	return 0;
}

void
ctl_mout_step(struct ctl *c)
{
	struct mout *m = c->mout;
	double now = log_now();

	if (!m)
		return;
	if (now >= m->next_send) {
		m->next_send = now + m->interval;
		collect(c, m);
	}
	if (m->fd >= 0 && m->connecting) {
		struct pollfd p = { m->fd, POLLOUT, 0 };
		int err = 0;
		socklen_t len = sizeof(err);

		if (poll(&p, 1, 0) <= 0)
			return;
		if (getsockopt(m->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
			drop_conn(m, strerror(err ? err : errno));
			return;
		}
		m->connecting = 0;
		m->backoff = 1.0;
		log_event("metrics", "graphite: connected");
	}
	if (m->fd < 0 && m->q.len && now >= m->next_connect)
		try_connect(m);
	flush(m);
}

void
ctl_mout_metrics(struct ctl *c, struct buf *out)
{
	struct mout *m = c->mout;

	if (!m)
		return;
	buf_printf(out, "# HELP firebreak_graphite_lines_total Lines for Graphite, by fate.\n"
	    "# TYPE firebreak_graphite_lines_total counter\n"
	    "firebreak_graphite_lines_total{result=\"sent\"} %lu\n"
	    "firebreak_graphite_lines_total{result=\"dropped\"} %lu\n"
	    "# HELP firebreak_graphite_queue Lines waiting for Graphite.\n"
	    "# TYPE firebreak_graphite_queue gauge\nfirebreak_graphite_queue %zu\n",
	    m->sent, m->dropped, m->lines);
}
