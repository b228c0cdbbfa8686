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
#define HTTP_ID_MAX 20            /* digits in a plan id */
#define HTTP_VALUE_MAX 200        /* bytes of a change's before/after shown */

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

/*
 * The page's one stylesheet.  The Content-Security-Policy allows exactly
 * this text (by its hash) and nothing else: no script, no image, no
 * external anything, so hostile plan content cannot do more than be
 * displayed even if an escape were missed.
 */
static const char page_style[] =
	"body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1f2328}"
	"code,pre{font:13px/1.35 ui-monospace,SFMono-Regular,Menlo,monospace}"
	"table{border-collapse:collapse;margin:.5em 0}"
	"th,td{border:1px solid #d0d7de;padding:.2em .6em;text-align:left;vertical-align:top}"
	"pre.diff{background:#f6f8fa;border:1px solid #d0d7de;padding:.5em;overflow-x:auto}"
	".add{color:#116329;background:#dafbe1}"
	".del{color:#82071e;background:#ffebe9}"
	".hunk{color:#0a7f8c}"
	".meta{font-weight:bold}"
	".d-auto{color:#116329}.d-approve,.d-invalid{color:#82071e}.d-observe{color:#9a6700}"
	".note{color:#57606a}";

/* ---- escaping ---- */

void
http_html_escape(struct buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '&': buf_puts(b, "&amp;"); break;
		case '<': buf_puts(b, "&lt;"); break;
		case '>': buf_puts(b, "&gt;"); break;
		case '"': buf_puts(b, "&quot;"); break;
		case '\'': buf_puts(b, "&#39;"); break;
		case '\n': case '\t': buf_putc(b, (char)c); break;
		default:
			if (c < 0x20 || c == 0x7f)
				buf_puts(b, "\xEF\xBF\xBD");   /* U+FFFD */
			else
				buf_putc(b, (char)c);
		}
	}
}

static void
esc(struct buf *b, const char *s)
{
	http_html_escape(b, s, strlen(s));
}

/* One line of at most `max` bytes (a commit subject, an author). */
static void
esc_oneline(struct buf *b, const char *s, size_t max)
{
	size_t n = strcspn(s, "\r\n");

	if (n > max) {
		/* Do not cut inside a UTF-8 sequence. */
		while (n > max || (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80))
			n--;
		http_html_escape(b, s, n);
		buf_puts(b, "...");
		return;
	}
	http_html_escape(b, s, n);
}

/* ---- the plan page ---- */

static const char *
jstr(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void
put_summary(struct buf *b, json_t *root)
{
	const char *id = jstr(root, "id"), *target = jstr(root, "target");
	const char *subject = jstr(root, "subject"), *author = jstr(root, "author");
	const char *decision = jstr(root, "decision");
	json_t *summary = json_object_get(root, "summary");
	const json_t *errors = json_object_get(root, "errors");
	const char *key;
	json_t *v;
	int first = 1;

	buf_puts(b, "plan ");
	esc(b, id);
	buf_puts(b, " for ");
	/* A short sha; a stored plan is untrusted, so cut between characters
	 * (found by fuzz_planjson: the page was not UTF-8). */
	if (target)
		http_html_escape(b, target, (size_t)utf8_prefix(target, 7));
	if (subject) {
		buf_puts(b, " &quot;");
		esc_oneline(b, subject, 72);
		buf_puts(b, "&quot;");
	}
	if (author) {
		buf_puts(b, " by ");
		esc_oneline(b, author, 40);
	}
	buf_puts(b, ": ");
	if (decision && strcmp(decision, "invalid") == 0 && json_is_array(errors)) {
		size_t n = json_array_size(errors);

		buf_printf(b, "%zu error%s", n, n == 1 ? "" : "s");
	} else {
		if (json_is_object(summary))
			json_object_foreach(summary, key, v)
				if (json_is_integer(v)) {
					buf_printf(b, "%s%lld ", first ? "" : ", ",
					    (long long)json_integer_value(v));
					esc(b, key);
					first = 0;
				}
		if (first)
			buf_puts(b, "no changes");
	}
	buf_puts(b, " -&gt; ");
	esc(b, decision ? decision : "?");
}

/* A decision as a class name: only the known words, anything else none. */
static const char *
decision_class(const char *d)
{
	static const char *const known[] = { "noop", "auto", "observe", "approve", "invalid" };
	size_t i;

	for (i = 0; d && i < sizeof(known) / sizeof(*known); i++)
		if (strcmp(d, known[i]) == 0)
			return known[i];
	return NULL;
}

static void
put_decision_cell(struct buf *b, const char *d)
{
	const char *cls = decision_class(d);

	if (cls)
		buf_printf(b, "<td class=\"d-%s\">", cls);
	else
		buf_puts(b, "<td>");
	esc(b, d ? d : "");
	buf_puts(b, "</td>");
}

static void
put_value(struct buf *b, const json_t *v)
{
	char *s;
	size_t n;

	if (!v || json_is_null(v)) {
		buf_puts(b, "<span class=\"note\">(none)</span>");
		return;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s)
		return;
	n = strlen(s);
	buf_puts(b, "<code>");
	if (n > HTTP_VALUE_MAX) {
		while (n > HTTP_VALUE_MAX || (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80))
			n--;
		http_html_escape(b, s, n);
		buf_puts(b, "...");
	} else {
		http_html_escape(b, s, n);
	}
	buf_puts(b, "</code>");
	free(s);
}

/* Fields the page shows in their own place; any other scalar field (the
 * outcome the controller stored, say) goes in the details table. */
static int
known_field(const char *k)
{
	static const char *const known[] = { "id", "base", "target", "decision", "changes",
		"artifacts", "errors", "summary", "approvals_needed", "blast_radius", "hash",
		"subject", "author" };
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(*known); i++)
		if (strcmp(k, known[i]) == 0)
			return 1;
	return 0;
}

static void
put_details(struct buf *b, json_t *root)
{
	const char *base = jstr(root, "base"), *target = jstr(root, "target");
	const json_t *blast = json_object_get(root, "blast_radius");
	const json_t *needs = json_object_get(root, "approvals_needed");
	const char *key;
	json_t *v;
	size_t i;

	buf_puts(b, "<table class=\"details\">\n<tr><th>decision</th>");
	put_decision_cell(b, jstr(root, "decision"));
	buf_puts(b, "</tr>\n<tr><th>base</th><td><code>");
	esc(b, base ? base : "(empty tree)");
	buf_puts(b, "</code></td></tr>\n<tr><th>target</th><td><code>");
	esc(b, target ? target : "");
	buf_puts(b, "</code></td></tr>\n");
	if (json_is_object(blast)) {
		json_int_t h = json_integer_value(json_object_get(blast, "hosts"));
		json_int_t r = json_integer_value(json_object_get(blast, "records"));

		buf_printf(b, "<tr><th>blast radius</th><td>%lld host%s, %lld record%s</td></tr>\n",
		    (long long)h, h == 1 ? "" : "s", (long long)r, r == 1 ? "" : "s");
	}
	if (json_is_array(needs) && json_array_size(needs) > 0) {
		buf_puts(b, "<tr><th>needs an approver for</th><td>");
		for (i = 0; i < json_array_size(needs); i++) {
			const char *k = json_string_value(json_array_get(needs, i));

			if (i)
				buf_puts(b, ", ");
			esc(b, k ? k : "?");
		}
		buf_puts(b, "</td></tr>\n");
	}
	json_object_foreach(root, key, v) {
		if (known_field(key) || json_is_object(v) || json_is_array(v))
			continue;
		buf_puts(b, "<tr><th>");
		esc_oneline(b, key, 64);
		buf_puts(b, "</th><td>");
		if (json_is_string(v))
			esc_oneline(b, json_string_value(v), 400);
		else
			put_value(b, v);
		buf_puts(b, "</td></tr>\n");
	}
	buf_puts(b, "</table>\n");
}

/*
 * The apply: whether it is still going (and whether a restart is
 * finishing it), and each apply provider's state (applying.c's journal).
 */
static void
put_apply(struct buf *b, const json_t *root)
{
	const char *outcome = jstr(root, "outcome");
	const json_t *provs = json_object_get(root, "providers");
	json_int_t resumed = json_integer_value(json_object_get(root, "resumed"));
	const json_t *e;
	size_t i;

	if (outcome && strcmp(outcome, "applying") == 0)
		buf_printf(b, "<p class=\"applying\">%s</p>\n", resumed > 0 ?
		    "This plan's release is current and its apply is being finished after a restart "
		    "(a stop cut it short): the apply providers that had not finished run again." :
		    "This plan is being applied.");
	else if (resumed > 0)
		buf_puts(b, "<p class=\"note\">Its apply was finished after a restart.</p>\n");
	if (!json_is_array(provs) || json_array_size(provs) == 0)
		return;
	buf_puts(b, "<h2>apply providers</h2>\n<table class=\"providers\">\n"
	    "<tr><th>provider</th><th>state</th><th>runs</th><th>reason</th></tr>\n");
	json_array_foreach(provs, i, e) {
		const char *name = jstr(e, "name"), *state = jstr(e, "state");
		const char *reason = jstr(e, "reason");

		buf_puts(b, "<tr><td>");
		esc(b, name ? name : "?");
		buf_puts(b, "</td><td>");
		esc(b, state ? state : "?");
		buf_printf(b, "</td><td>%lld</td><td>", (long long)json_integer_value(json_object_get(e,
		    "runs")));
		if (reason) {
			/* Line by line: the escape turns control bytes, newlines
			 * included, into U+FFFD. */
			buf_puts(b, "<pre>");
			while (*reason) {
				size_t n = strcspn(reason, "\n");

				http_html_escape(b, reason, n);
				reason += n;
				if (*reason == '\n') {
					buf_putc(b, '\n');
					reason++;
				}
			}
			buf_puts(b, "</pre>");
		}
		buf_puts(b, "</td></tr>\n");
	}
	buf_puts(b, "</table>\n");
}

static void
put_changes(struct buf *b, const json_t *changes)
{
	size_t i, n = json_is_array(changes) ? json_array_size(changes) : 0;

	buf_printf(b, "<h2>changes (%zu)</h2>\n", n);
	if (n == 0) {
		buf_puts(b, "<p class=\"note\">none</p>\n");
		return;
	}
	buf_puts(b, "<table class=\"changes\">\n<thead><tr><th>type</th><th>object</th>"
	    "<th>decision</th><th>before</th><th>after</th></tr></thead>\n<tbody>\n");
	for (i = 0; i < n; i++) {
		const json_t *c = json_array_get(changes, i);
		const char *type = jstr(c, "type"), *obj = jstr(c, "object"), *note = jstr(c, "note");

		buf_puts(b, "<tr><td><code>");
		esc(b, type ? type : "");
		buf_puts(b, "</code></td><td><code>");
		esc(b, obj ? obj : "");
		buf_puts(b, "</code>");
		if (note) {
			buf_puts(b, " <span class=\"note\">");
			esc_oneline(b, note, 200);
			buf_puts(b, "</span>");
		}
		buf_puts(b, "</td>");
		put_decision_cell(b, jstr(c, "decision"));
		buf_puts(b, "<td>");
		put_value(b, json_object_get(c, "before"));
		buf_puts(b, "</td><td>");
		put_value(b, json_object_get(c, "after"));
		buf_puts(b, "</td></tr>\n");
	}
	buf_puts(b, "</tbody></table>\n");
}

static void
put_errors(struct buf *b, const json_t *errors)
{
	size_t i, n = json_is_array(errors) ? json_array_size(errors) : 0;

	if (n == 0)
		return;
	buf_printf(b, "<h2>errors (%zu)</h2>\n<ul class=\"errors\">\n", n);
	for (i = 0; i < n; i++) {
		const json_t *e = json_array_get(errors, i);
		const char *file = jstr(e, "file"), *msg = jstr(e, "message");

		buf_puts(b, "<li><code>");
		esc(b, file ? file : "?");
		buf_printf(b, ":%lld:%lld</code> ",
		    (long long)json_integer_value(json_object_get(e, "line")),
		    (long long)json_integer_value(json_object_get(e, "column")));
		esc(b, msg ? msg : "");
		buf_puts(b, "</li>\n");
	}
	buf_puts(b, "</ul>\n");
}

static const char *
line_class(const char *l, size_t n)
{
	if (n >= 4 && (strncmp(l, "+++ ", 4) == 0 || strncmp(l, "--- ", 4) == 0))
		return "meta";
	if (n >= 1 && l[0] == '+')
		return "add";
	if (n >= 1 && l[0] == '-')
		return "del";
	if (n >= 2 && strncmp(l, "@@", 2) == 0)
		return "hunk";
	if ((n >= 5 && strncmp(l, "diff ", 5) == 0) || (n >= 6 && strncmp(l, "index ", 6) == 0) ||
	    (n >= 9 && strncmp(l, "new file ", 9) == 0) ||
	    (n >= 13 && strncmp(l, "deleted file ", 13) == 0))
		return "meta";
	return NULL;
}

/* The plan's rollout: its state, then one row per host with its group,
 * state, attempts, time and, for a failure, the tail of its output. */
static void
put_rollout(struct buf *b, const json_t *ro)
{
	const json_t *hosts = json_object_get(ro, "hosts");
	const char *status = jstr(ro, "status"), *why = jstr(ro, "why");
	size_t i, n = json_is_array(hosts) ? json_array_size(hosts) : 0;

	if (!json_is_object(ro))
		return;
	buf_printf(b, "<h2>rollout (%zu host%s)</h2>\n<p class=\"rollout\">", n, n == 1 ? "" : "s");
	esc(b, status ? status : "?");
	if (why) {
		buf_puts(b, ": ");
		esc_oneline(b, why, 400);
	}
	buf_puts(b, "</p>\n<table class=\"rollout\">\n<thead><tr><th>host</th><th>group</th>"
	    "<th>state</th><th>attempts</th><th>seconds</th><th>exit</th><th>output</th></tr>"
	    "</thead>\n<tbody>\n");
	for (i = 0; i < n; i++) {
		const json_t *h = json_array_get(hosts, i);
		const char *host = jstr(h, "host"), *state = jstr(h, "state"), *tail = jstr(h, "tail");
		const char *note = jstr(h, "note");
		const json_t *ex = json_object_get(h, "exit"), *sec = json_object_get(h, "seconds");
		json_int_t g = json_integer_value(json_object_get(h, "group"));

		if (b->len > HTTP_MAX_HTML) {
			buf_puts(b, "</tbody></table>\n<p class=\"note\">The page stops here; every host is "
			    "in the JSON.</p>\n");
			return;
		}
		buf_puts(b, "<tr><td><code>");
		esc(b, host ? host : "?");
		buf_puts(b, "</code></td><td>");
		if (g == 0)
			buf_puts(b, "canary");
		else
			buf_printf(b, "batch %lld", (long long)g);
		buf_puts(b, "</td><td>");
		esc(b, state ? state : "?");
		buf_printf(b, "</td><td>%lld</td><td>", (long long)json_integer_value(json_object_get(h,
		    "attempts")));
		if (json_is_number(sec))
			buf_printf(b, "%.1f", json_number_value(sec));
		buf_puts(b, "</td><td>");
		if (json_is_integer(ex))
			buf_printf(b, "%lld", (long long)json_integer_value(ex));
		buf_puts(b, "</td><td>");
		if (note) {
			buf_puts(b, "<span class=\"note\">");
			esc_oneline(b, note, 200);
			buf_puts(b, "</span>");
		}
		if (tail && tail[0] && state && (strcmp(state, "failed") == 0 ||
		    strcmp(state, "unreachable") == 0)) {
			buf_puts(b, "<pre class=\"diff\">");
			esc(b, tail);
			buf_puts(b, "</pre>");
		}
		buf_puts(b, "</td></tr>\n");
	}
	buf_puts(b, "</tbody></table>\n");
}

/* Returns 0 when the page hit HTTP_MAX_HTML and the rest was left out. */
static int
put_diff_text(struct buf *b, const char *d, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *l = d + i, *nl = memchr(l, '\n', len - i);
		size_t n = nl ? (size_t)(nl - l) : len - i;
		const char *cls = line_class(l, n);

		if (b->len > HTTP_MAX_HTML)
			return 0;
		if (cls)
			buf_printf(b, "<span class=\"%s\">", cls);
		http_html_escape(b, l, n);
		if (cls)
			buf_puts(b, "</span>");
		buf_putc(b, '\n');
		i += n + 1;
	}
	return 1;
}

static void
put_artifacts(struct buf *b, const json_t *arts, const char *id)
{
	size_t i, n = json_is_array(arts) ? json_array_size(arts) : 0;

	if (n == 0)
		return;
	buf_printf(b, "<h2>diff (%zu file%s)</h2>\n", n, n == 1 ? "" : "s");
	for (i = 0; i < n; i++) {
		const json_t *a = json_array_get(arts, i);
		const char *path = jstr(a, "path"), *status = jstr(a, "status");
		const json_t *diff = json_object_get(a, "diff");

		buf_puts(b, "<h3><code>");
		esc(b, path ? path : "?");
		buf_puts(b, "</code> <span class=\"note\">");
		esc(b, status ? status : "");
		buf_puts(b, "</span></h3>\n<pre class=\"diff\">");
		if (json_is_string(diff) &&
		    !put_diff_text(b, json_string_value(diff), json_string_length(diff))) {
			buf_puts(b, "</pre>\n<p class=\"note\">The page stops here; the whole plan is "
			    "in <a href=\"");
			esc(b, id);
			buf_puts(b, ".json\">JSON</a>.</p>\n");
			return;
		}
		buf_puts(b, "</pre>\n");
	}
}

int
http_plan_html(struct buf *out, const char *json)
{
	json_error_t jerr;
	json_t *root;
	const char *id;

	root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
	/* The id also goes into a link: digits only, like every plan id. */
	if (!root || !json_is_object(root) || !(id = jstr(root, "id")) || !id[0] ||
	    id[strspn(id, "0123456789")] != '\0' || strlen(id) > HTTP_ID_MAX) {
		json_decref(root);
		return err_set(ERR_INVALID, "not a plan: %s", root ? "no decimal id" : jerr.text);
	}
	buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>plan ");
	esc(out, id);
	buf_printf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>plan ", page_style);
	esc(out, id);
	buf_puts(out, "</h1>\n<p class=\"summary\">");
	put_summary(out, root);
	buf_puts(out, "</p>\n");
	put_details(out, root);
	put_apply(out, root);
	buf_puts(out, "<p><a href=\"");
	esc(out, id);
	buf_puts(out, ".json\">the plan as JSON</a></p>\n");
	put_errors(out, json_object_get(root, "errors"));
	put_rollout(out, json_object_get(root, "rollout"));
	put_changes(out, json_object_get(root, "changes"));
	put_artifacts(out, json_object_get(root, "artifacts"), id);
	buf_puts(out, "</body>\n</html>\n");
	json_decref(root);
	return OK;
}

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

	r = EVP_Digest(page_style, strlen(page_style), md, &mdlen, EVP_sha256(), NULL);
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
