/*
 * http.h - the controller's HTTP listener (libmicrohttpd), driven by the
 * controller's one event loop: no thread of its own.  The loop polls
 * http_fd() for reading (one descriptor: MHD's epoll set), sleeps at most
 * http_timeout_ms(), and calls http_run() after every wake-up.
 *
 *   GET  /healthz          200 "ok\n"
 *   GET  /metrics          200, Prometheus text from handlers.metrics
 *   GET  /plans/<id>.json  the stored plan JSON, or 404
 *   GET  /plans/<id>       an HTML page: summary, changes, coloured diff
 *   POST /hooks/push       hooksig-verified: 202 and handlers.push, else 401
 *   POST <forward>         the paths in http_config.forward (the chat
 *                          providers' routes: /slack/command, ...) go to
 *                          handlers.forward, which hands them to the
 *                          provider that declared them
 *   anything else          404; a known path with the wrong method 405
 *
 * Plan ids are decimal digits and nothing else.  Request bodies are
 * capped (413 beyond).  http.c knows nothing of the controller: what it
 * serves comes through struct http_handlers.
 *
 * Layer: controller (includes base only: the handlers are the controller's;
 * planpage.c, the page, also includes plan/valdiff.h).
 */
#ifndef FIREBREAK_HTTP_H
#define FIREBREAK_HTTP_H

#include <stddef.h>

#include "base/util.h"

#define HTTP_DEFAULT_LISTEN "127.0.0.1:8088"
#define HTTP_MAX_BODY (1024 * 1024)
#define HTTP_MAX_HTML (16 * 1024 * 1024)   /* a plan page beyond this is cut */
#define HTTP_ID_MAX 20                      /* digits in a plan id */

/* One request, as a handler sees it.  Everything borrowed for the call. */
struct http_request {
	const char *method;
	const char *path;          /* without the query string */
	const char *body;          /* NUL-terminated, body_len bytes (may hold NULs) */
	size_t body_len;
	void *conn;                /* for http_request_header() */
};

/* A request header's value (case-insensitive name), or NULL. */
const char *http_request_header(const struct http_request *r, const char *name);

/* What a forwarded route answers.  `body` is owned by the reply and
 * freed by http.c. */
struct http_reply {
	unsigned status;           /* default 200 */
	const char *content_type;  /* static string; default text/plain; charset=utf-8 */
	struct buf body;
};

struct http_handlers {
	void *ctx;
	/* The stored plan's JSON for a decimal id (owns), or NULL: 404. */
	char *(*plan_json)(void *ctx, const char *id);
	/* Append the Prometheus text exposition to `out`. */
	void (*metrics)(void *ctx, struct buf *out);
	/* A verified push hook arrived: fetch soon.  `source` is "github",
	 * "gitea" or "gitlab". */
	void (*push)(void *ctx, const char *source);
	/*
	 * A POST to one of http_config.forward's paths: fill `rep`.  NULL:
	 * such routes are 404.
	 */
	void (*forward)(void *ctx, const struct http_request *req, struct http_reply *rep);
	/* One line about a notable request (refused hook, 413); may be NULL.
	 * Never carries a secret. */
	void (*log)(void *ctx, const char *line);
};

struct http_config {
	const char *listen;        /* "host:port", "[v6]:port"; NULL: HTTP_DEFAULT_LISTEN;
	                            * port 0 picks a free one (tests) */
	const char *hook_secret;   /* borrowed; NULL or empty: every push hook is 401 */
	size_t hook_secret_len;
	size_t max_body;           /* 0: HTTP_MAX_BODY */
	const char *const *forward; /* NULL-terminated POST paths for handlers.forward
	                            * (borrowed; must outlive the listener), or NULL */
	int fd;                    /* > 0: a socket http_listen() made, listened on
	                            * instead of `listen` (borrowed: it stays open
	                            * after http_stop, so connections that come
	                            * between two listeners wait in its backlog);
	                            * 0: bind `listen` */
};

/* Bind and listen on `listen` (as http_start does): *fd (owns) for
 * http_config.fd, to keep one socket across several listeners (an HA
 * instance's terms). */
int http_listen(int *fd, const char *listen);

struct http;

/*
 * Bind and start listening.  `cfg` and `h` are copied (the strings they
 * point to, including the secret, are borrowed and must outlive the
 * listener).  *out owns.  ERR_INVALID for a bad address, ERR when it
 * cannot be bound (err_last() names the address and why).
 */
int http_start(struct http **out, const struct http_config *cfg, const struct http_handlers *h);
void http_stop(struct http *s);

int http_port(const struct http *s);       /* the bound port */
int http_fd(const struct http *s);          /* poll for POLLIN; borrowed */
int http_timeout_ms(const struct http *s);  /* -1: no deadline; else >= 0 */
void http_run(struct http *s);              /* never blocks */

/* "host:port" -> host and port; "[::1]:80" -> "::1", 80.  `host` gets
 * at most hostlen - 1 bytes.  ERR_INVALID when malformed. */
int http_parse_listen(const char *s, char *host, size_t hostlen, unsigned *port);

/* Append text HTML-escaped (& < > " '), control characters other than
 * newline and tab as U+FFFD. */
void http_html_escape(struct buf *b, const char *s, size_t n);

/* The HTML page for a plan's JSON (untrusted content), in planpage.c.
 * ERR_INVALID when it is not a plan object. */
int http_plan_html(struct buf *out, const char *json);

/* The page's one stylesheet, in a <style> element that the listener's
 * Content-Security-Policy allows by its SHA-256 (and nothing else). */
extern const char http_page_style[];

#endif
