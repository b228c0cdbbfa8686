/*
 * http.c - the controller's HTTP listener.  See http.h.
 *
 * libmicrohttpd runs in "external polling" mode with epoll: it has no
 * thread of its own, and its whole socket set is one epoll descriptor the
 * controller's poll() loop watches beside inotify, timers and child
 * pipes.  Handlers run inside http_run(), on the loop's thread, so they
 * may touch controller state without locks; they must be quick.
 *
 * We bind the listening socket ourselves (and hand it to MHD) so a busy
 * port gives a one-line error naming the address, and port 0 works for
 * tests.
 */
#include "controller/http.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "controller/hooksig.h"

#define HTTP_CONN_LIMIT 64
#define HTTP_PER_IP_LIMIT 32
#define HTTP_CONN_TIMEOUT 30      /* seconds of silence before a connection is dropped */

#define CT_TEXT "text/plain; charset=utf-8"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CT_JSON "application/json"
#define CT_HTML "text/html; charset=utf-8"

struct http {
	struct MHD_Daemon *d;
	struct http_handlers h;
	struct http_config cfg;
	int port;
	char csp[256];
};

/* Per request: the body as it arrives. */
struct http_req_state {
	struct buf body;
	int too_big;
};

struct route {
	const char *method;        /* GET routes answer HEAD too */
	const char *path;
	int prefix;                /* path is a prefix; the handler checks the rest */
	void (*serve)(struct http *s, const struct http_request *req, struct http_reply *rep);
};

/* ---- routes ---- */

const char *
http_request_header(const struct http_request *r, const char *name)
{
	return MHD_lookup_connection_value((struct MHD_Connection *)r->conn, MHD_HEADER_KIND, name);
}

static void
reply_text(struct http_reply *rep, unsigned status, const char *text)
{
	rep->status = status;
	rep->content_type = CT_TEXT;
	buf_reset(&rep->body);
	buf_puts(&rep->body, text);
}

static void
note(struct http *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
note(struct http *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!s->h.log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	s->h.log(s->h.ctx, line);
}

static void
serve_healthz(struct http *s, const struct http_request *req, struct http_reply *rep)
{
	(void)s;
	(void)req;
	reply_text(rep, 200, "ok\n");
}

static void
serve_metrics(struct http *s, const struct http_request *req, struct http_reply *rep)
{
	(void)req;
	rep->status = 200;
	rep->content_type = CT_METRICS;
	if (s->h.metrics)
		s->h.metrics(s->h.ctx, &rep->body);
}

/* /plans/<digits> or /plans/<digits>.json; anything else is not a plan. */
static int
plan_id(const char *rest, char id[HTTP_ID_MAX + 1], int *json)
{
	size_t n = strspn(rest, "0123456789");

	if (n == 0 || n > HTTP_ID_MAX)
		return 0;
	if (rest[n] == '\0')
		*json = 0;
	else if (strcmp(rest + n, ".json") == 0)
		*json = 1;
	else
		return 0;
	memcpy(id, rest, n);
	id[n] = '\0';
	return 1;
}

static void
serve_plan(struct http *s, const struct http_request *req, struct http_reply *rep)
{
	char id[HTTP_ID_MAX + 1];
	char *json;
	int want_json;

	if (!plan_id(req->path + strlen("/plans/"), id, &want_json) || !s->h.plan_json ||
	    !(json = s->h.plan_json(s->h.ctx, id))) {
		reply_text(rep, 404, "no such plan\n");
		return;
	}
	if (want_json) {
		rep->status = 200;
		rep->content_type = CT_JSON;
		buf_puts(&rep->body, json);
		if (rep->body.len == 0 || rep->body.data[rep->body.len - 1] != '\n')
			buf_putc(&rep->body, '\n');
	} else if (http_plan_html(&rep->body, json) == OK) {
		rep->status = 200;
		rep->content_type = CT_HTML;
	} else {
		note(s, "http: plan %s: %s", id, err_last());
		reply_text(rep, 500, "the stored plan cannot be read\n");
	}
	free(json);
}

static void
serve_push(struct http *s, const struct http_request *req, struct http_reply *rep)
{
	struct hooksig_headers hh;
	enum hooksig_source src;

	hh.hub_signature_256 = http_request_header(req, "X-Hub-Signature-256");
	hh.gitea_signature = http_request_header(req, "X-Gitea-Signature");
	hh.gitlab_token = http_request_header(req, "X-Gitlab-Token");
	if (hooksig_verify(&src, s->cfg.hook_secret, s->cfg.hook_secret_len, &hh, req->body,
	    req->body_len) != OK) {
		note(s, "http: push hook refused: %s", err_last());
		reply_text(rep, 401, "signature verification failed\n");
		return;
	}
	reply_text(rep, 202, "accepted\n");
	if (s->h.push)
		s->h.push(s->h.ctx, hooksig_source_name(src));
}

/* Routes the controller answers itself: the chat bot's endpoints. */
static void
serve_forward(struct http *s, const struct http_request *req, struct http_reply *rep)
{
	if (!s->h.forward) {
		reply_text(rep, 404, "not found\n");
		return;
	}
	s->h.forward(s->h.ctx, req, rep);
}

static const struct route routes[] = {
	{ "GET",  "/healthz",    0, serve_healthz },
	{ "GET",  "/metrics",    0, serve_metrics },
	{ "GET",  "/plans/",     1, serve_plan },
	{ "POST", "/hooks/push", 0, serve_push },
};

static int
route_path_matches(const struct route *r, const char *path)
{
	return r->prefix ? strncmp(path, r->path, strlen(r->path)) == 0 : strcmp(path, r->path) == 0;
}

static int
method_matches(const char *want, const char *got)
{
	return strcmp(want, got) == 0 || (strcmp(want, "GET") == 0 && strcmp(got, "HEAD") == 0);
}

/*
 * Dispatch: the first route whose path and method match serves; a path
 * that some route has but not with this method is 405 with Allow.
 */
static void
dispatch(struct http *s, const struct http_request *req, struct http_reply *rep,
    struct buf *allow)
{
	size_t i;

	for (i = 0; i < sizeof(routes) / sizeof(*routes); i++) {
		if (!route_path_matches(&routes[i], req->path))
			continue;
		if (method_matches(routes[i].method, req->method)) {
			routes[i].serve(s, req, rep);
			return;
		}
		buf_printf(allow, "%s%s%s", allow->len ? ", " : "", routes[i].method,
		    strcmp(routes[i].method, "GET") == 0 ? ", HEAD" : "");
	}
	/* The chat providers' routes (POST), forwarded to the controller. */
	for (i = 0; s->cfg.forward && s->cfg.forward[i]; i++) {
		if (strcmp(req->path, s->cfg.forward[i]) != 0)
			continue;
		if (strcmp(req->method, "POST") == 0) {
			serve_forward(s, req, rep);
			return;
		}
		buf_printf(allow, "%sPOST", allow->len ? ", " : "");
		break;
	}
	if (allow->len)
		reply_text(rep, 405, "method not allowed\n");
	else
		reply_text(rep, 404, "not found\n");
}

/* ---- MHD glue ---- */

static enum MHD_Result
respond(struct http *s, struct MHD_Connection *c, struct http_reply *rep, const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len = rep->body.len;
	char *data = buf_steal(&rep->body);

	resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    rep->content_type ? rep->content_type : CT_TEXT);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (rep->content_type && strcmp(rep->content_type, CT_HTML) == 0) {
		MHD_add_response_header(resp, "Content-Security-Policy", s->csp);
		MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
		MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	}
	if (allow && *allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, rep->status ? rep->status : 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
respond_text(struct http *s, struct MHD_Connection *c, unsigned status, const char *text)
{
	struct http_reply rep = { 0, NULL, BUF_INIT };

	reply_text(&rep, status, text);
	return respond(s, c, &rep, NULL);
}

static size_t
max_body(const struct http *s)
{
	return s->cfg.max_body ? s->cfg.max_body : HTTP_MAX_BODY;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct http *s = cls;
	struct http_req_state *st = *con_cls;
	struct http_request req;
	struct http_reply rep = { 0, NULL, BUF_INIT };
	struct buf allow = BUF_INIT;
	enum MHD_Result ret;

	(void)version;
	if (!st) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		uint64_t v;

		st = xcalloc(1, sizeof(*st));
		st->body.cap = max_body(s);
		*con_cls = st;
		/* A declared length over the cap is refused before a byte of
		 * it is read. */
		if (cl && (parse_u64(&v, cl, 0, UINT64_MAX) != OK || v > max_body(s))) {
			st->too_big = 1;
			note(s, "http: %s %.100s: body over %zu bytes refused", method, url,
			    max_body(s));
			return respond_text(s, c, 413, "request body too large\n");
		}
		return MHD_YES;
	}
	if (*upload_size) {
		if (!st->too_big && buf_append(&st->body, upload_data, *upload_size) != OK) {
			/* A chunked body that grew past the cap: MHD cannot answer
			 * in the middle of a body, so close the connection. */
			st->too_big = 1;
			note(s, "http: %s %.100s: body over %zu bytes, connection closed", method,
			    url, max_body(s));
			return MHD_NO;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (st->too_big)
		return respond_text(s, c, 413, "request body too large\n");
	req.method = method;
	req.path = url;
	req.body = st->body.data ? st->body.data : "";
	req.body_len = st->body.len;
	req.conn = c;
	dispatch(s, &req, &rep, &allow);
	ret = respond(s, c, &rep, allow.data);
	buf_dispose(&rep.body);
	buf_dispose(&allow);
	return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_req_state *st = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (st) {
		buf_dispose(&st->body);
		free(st);
		*con_cls = NULL;
	}
}

/*
 * Paths are taken as sent, never %-decoded: no route needs an escape, and
 * decoding would turn "/plans/17%00.json" into "/plans/17" or "%2e%2e"
 * into "..".  Anything escaped is simply not found.
 */
static size_t
on_unescape(void *cls, struct MHD_Connection *c, char *uri)
{
	(void)cls;
	(void)c;
	return strlen(uri);
}

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http *s = cls;
	char line[512];
	size_t n;

	if (!s->h.log)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	s->h.log(s->h.ctx, line);
}

/* ---- start, stop, the loop ---- */

int
http_parse_listen(const char *s, char *host, size_t hostlen, unsigned *port)
{
	const char *colon, *h = s;
	size_t hl;
	uint64_t p;

	if (!s)
		return err_set(ERR_INVALID, "listen: empty address");
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			return err_set(ERR_INVALID, "listen \"%.80s\": want [address]:port", s);
		h = s + 1;
		hl = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return err_set(ERR_INVALID, "listen \"%.80s\": want host:port "
			    "(an IPv6 address in brackets)", s);
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= hostlen)
		return err_set(ERR_INVALID, "listen \"%.80s\": bad host", s);
	if (parse_u64(&p, colon + 1, 0, 65535) != OK)
		return err_set(ERR_INVALID, "listen \"%.80s\": port must be 0 to 65535", s);
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (unsigned)p;
	return OK;
}

static int
bind_listen(int *out, int *port_out, const char *listen_addr)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[256], port[8];
	unsigned p;
	int fd = -1, rc, e = 0, one = 1;

	*out = -1;
	if ((rc = http_parse_listen(listen_addr, host, sizeof(host), &p)) != OK)
		return rc;
	snprintf(port, sizeof(port), "%u", p);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		return err_set(ERR_INVALID, "listen %s: %s", listen_addr, gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return err_set(ERR, "listen %s: %s", listen_addr, strerror(e ? e : EADDRNOTAVAIL));
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
			close(fd);
			return err_set(ERR, "listen %s: getsockname: %s", listen_addr, strerror(errno));
		}
		*port_out = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
	}
	*out = fd;
	return OK;
}

int
http_listen(int *fd, const char *listen_addr)
{
	int port;

	return bind_listen(fd, &port, listen_addr ? listen_addr : HTTP_DEFAULT_LISTEN);
}

/* The CSP: nothing but our own stylesheet, allowed by its hash. */
static void
make_csp(char *out, size_t n)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	unsigned int mdlen = 0;
	int r;

	r = EVP_Digest(http_page_style, strlen(http_page_style), md, &mdlen, EVP_sha256(), NULL);
	ASSERT(r == 1);
	EVP_EncodeBlock(b64, md, (int)mdlen);
	snprintf(out, n, "default-src 'none'; style-src 'sha256-%s'; base-uri 'none'; "
	    "form-action 'none'; frame-ancestors 'none'", (const char *)b64);
}

int
http_start(struct http **out, const struct http_config *cfg, const struct http_handlers *h)
{
	struct http *s;
	int fd, port = 0, rc;

	*out = NULL;
	if (!MHD_is_feature_supported(MHD_FEATURE_EPOLL))
		return err_set(ERR, "libmicrohttpd was built without epoll");
	if (cfg->fd > 0) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		/* MHD closes what it is given: a duplicate, so the socket (and
		 * its backlog) outlives this listener. */
		if ((fd = fcntl(cfg->fd, F_DUPFD_CLOEXEC, 3)) < 0)
			return err_set(ERR, "listen: dup: %s", strerror(errno));
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
			port = ntohs(ss.ss_family == AF_INET6 ?
			    ((struct sockaddr_in6 *)&ss)->sin6_port :
			    ((struct sockaddr_in *)&ss)->sin_port);
	} else if ((rc = bind_listen(&fd, &port, cfg->listen ? cfg->listen :
	    HTTP_DEFAULT_LISTEN)) != OK) {
		return rc;
	}
	s = xcalloc(1, sizeof(*s));
	s->cfg = *cfg;
	s->h = *h;
	s->port = port;
	make_csp(s->csp, sizeof(s->csp));
	s->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    on_request, s,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,    /* first, or MHD complains */
	    MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONN_TIMEOUT,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_LIMIT,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_PER_IP_LIMIT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
	    MHD_OPTION_UNESCAPE_CALLBACK, on_unescape, NULL,
	    MHD_OPTION_END);
	if (!s->d) {
		close(fd);
		free(s);
		return err_set(ERR, "listen %s: libmicrohttpd did not start",
		    cfg->listen ? cfg->listen : HTTP_DEFAULT_LISTEN);
	}
	*out = s;
	return OK;
}

void
http_stop(struct http *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);   /* closes the listening socket too */
	free(s);
}

int
http_port(const struct http *s)
{
	return s->port;
}

int
http_fd(const struct http *s)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD);

	return i ? i->epoll_fd : -1;
}

int
http_timeout_ms(const struct http *s)
{
	MHD_UNSIGNED_LONG_LONG t;

	if (MHD_get_timeout(s->d, &t) != MHD_YES)
		return -1;
	return t > INT_MAX ? INT_MAX : (int)t;
}

void
http_run(struct http *s)
{
	MHD_run(s->d);
}
