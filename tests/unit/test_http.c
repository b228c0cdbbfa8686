/*
 * test_http.c - the HTTP listener, driven the way the controller drives
 * it: one thread, the listener's descriptor polled together with libcurl's
 * (curl_multi_poll with an extra fd), http_run() after every wake-up.
 * Statuses, content types, security headers, the plan page's escaping of
 * a hostile plan, the push hook's 401/202, and the body cap's 413.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <dirent.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"
#include "controller/hooksig.h"
#include "controller/http.h"

#define SECRET "It's a Secret to Everybody"
#define PUSH_BODY "{\"ref\":\"refs/heads/main\"}"
#define PUSH_MAC "6a42699496d8c4fb346af1c930df527931a321e28ada69dbc5ee82f438517fd2"

static const char plan17[] =
	"{\n  \"id\": \"17\",\n  \"base\": \"a29dbea9a29dbea9a29dbea9a29dbea9a29dbea9\",\n"
	"  \"target\": \"d55800f2d55800f2d55800f2d55800f2d55800f2\",\n  \"decision\": \"approve\",\n"
	"  \"changes\": [{\"type\": \"dns.modify\", \"artifact\": \"terraform/route53/example.com.tf.json\","
	" \"object\": \"www.example.com/A\", \"before\": [\"10.0.1.5\", \"10.0.1.6\"],"
	" \"after\": [\"10.0.1.5\"], \"decision\": \"approve\"}],\n"
	"  \"artifacts\": [{\"path\": \"terraform/route53/example.com.tf.json\", \"status\": \"modified\","
	" \"diff\": \"diff --git a/x b/x\\n--- a/x\\n+++ b/x\\n@@ -1,2 +1 @@\\n \\\"10.0.1.5\\\",\\n"
	"-\\\"10.0.1.6\\\"\\n\"}],\n"
	"  \"errors\": [],\n  \"summary\": {\"dns.modify\": 1},\n  \"approvals_needed\": [\"dns\"],\n"
	"  \"blast_radius\": {\"hosts\": 0, \"records\": 1},\n  \"hash\": \"ab\",\n"
	"  \"subject\": \"drain web-02.example.com\",\n  \"author\": \"Alice Example\",\n"
	"  \"outcome\": \"waiting\"\n}";

/* Everything a committer controls, trying to get out of its text. */
static const char plan66[] =
	"{\"id\": \"66\", \"base\": null, \"target\": \"<b>1234567890\", \"decision\": \"approve\","
	" \"subject\": \"<script>alert(1)</script>\", \"author\": \"Mallory\\\" onmouseover=\\\"x\","
	" \"changes\": ["
	"  {\"type\": \"dns.add\", \"artifact\": \"a\", \"object\": \"<img src=x onerror=alert(1)>\","
	"   \"before\": null, \"after\": [\"</code><script>x</script>\"], \"decision\": \"approve\"},"
	"  {\"type\": \"enc.<u>modify\", \"artifact\": \"b\", \"object\": \"a&b\", \"before\": {\"k\": \"'\"},"
	"   \"after\": 1, \"decision\": \"\\\"><x>\", \"note\": \"<i>n</i>\"}],"
	" \"artifacts\": [{\"path\": \"enc/</pre><script>.yaml\", \"status\": \"<s>added\","
	"   \"diff\": \"diff --git a/x b/x\\n--- a/x\\n+++ b/x\\n@@ -1 +1 @@\\n-old <b>bold</b>\\n"
	"+new &amp; \\u001b[31mred\\n context\\r\\n\"}],"
	" \"errors\": [{\"file\": \"<f>\", \"line\": 3, \"column\": 1, \"message\": \"<m>\"}],"
	" \"summary\": {\"<k>\": 1}, \"approvals_needed\": [\"<n>\"],"
	" \"outcome\": \"<i>applied</i>\", \"<key>\": \"v\"}";

struct ctx {
	int pushes;
	char source[16];
	int logs;
};

static char *
cb_plan_json(void *c, const char *id)
{
	(void)c;
	if (strcmp(id, "17") == 0)
		return xstrdup(plan17);
	if (strcmp(id, "66") == 0)
		return xstrdup(plan66);
	if (strcmp(id, "77") == 0)
		return xstrdup("[\"not a plan\"]");
	return NULL;
}

static void
cb_metrics(void *c, struct buf *out)
{
	(void)c;
	buf_puts(out, "# TYPE firebreak_plans_total counter\n"
	    "firebreak_plans_total{decision=\"auto\"} 3\n");
}

static void
cb_push(void *c, const char *source)
{
	struct ctx *x = c;

	x->pushes++;
	snprintf(x->source, sizeof(x->source), "%s", source);
}

static void
cb_log(void *c, const char *line)
{
	struct ctx *x = c;

	x->logs++;
	/* Never a secret in a log line. */
	assert_null(strstr(line, SECRET));
}

static struct ctx ctx;
static struct http *srv;

static int
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A forwarded route (what a chat provider declares) echoes its path and
 * body, so a case sees that it arrived, whole. */
static void
cb_forward(void *c, const struct http_request *req, struct http_reply *rep)
{
	(void)c;
	rep->status = 200;
	buf_printf(&rep->body, "%s %.*s", req->path, (int)req->body_len, req->body);
}

static const char *const chat_routes[] = { "/chat/in", "/chat/other", NULL };

static int
setup(void **state)
{
	struct http_config cfg = { .listen = "127.0.0.1:0", .hook_secret = SECRET,
	    .hook_secret_len = strlen(SECRET), .forward = chat_routes };
	struct http_handlers h = { &ctx, cb_plan_json, cb_metrics, cb_push, cb_forward, cb_log };

	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (http_start(&srv, &cfg, &h) != OK) {
		fprintf(stderr, "http_start: %s\n", err_last());
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	http_stop(srv);
	curl_global_cleanup();
	return 0;
}

/* ---- a client ---- */

struct resp {
	CURLcode rc;
	long status;
	char ctype[128];
	struct buf headers;
	struct buf body;
};

static size_t
on_body(char *p, size_t size, size_t n, void *u)
{
	buf_append(u, p, size * n);
	return size * n;
}

struct upload {
	size_t left;
};

static size_t
on_read(char *p, size_t size, size_t n, void *u)
{
	struct upload *up = u;
	size_t k = size * n < up->left ? size * n : up->left;

	memset(p, 'x', k);
	up->left -= k;
	return k;
}

struct req {
	const char *method;
	const char *path;
	const char *headers[4];
	const char *body;          /* NULL: none */
	size_t body_len;           /* 0 with body: strlen */
	size_t chunked;            /* a chunked upload of this many bytes */
};

/* One request, with the server stepped in the same loop. */
static void
fetch(struct resp *r, const struct req *q)
{
	char url[512];
	struct curl_slist *hl = NULL;
	struct upload up = { q->chunked };
	CURL *e = curl_easy_init();
	CURLM *m = curl_multi_init();
	CURLMsg *msg;
	char *body = NULL;
	int running = 1, left;
	size_t i;

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", http_port(srv), q->path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, &r->headers);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 10L);
	for (i = 0; i < 4 && q->headers[i]; i++)
		hl = curl_slist_append(hl, q->headers[i]);
	if (q->chunked) {
		hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(e, CURLOPT_READDATA, &up);
	} else if (q->body) {
		size_t n = q->body_len ? q->body_len : strlen(q->body);

		body = xmalloc(n + 1);
		if (q->body_len) {
			memset(body, 'y', n);
			memcpy(body, q->body, strlen(q->body));
		} else {
			memcpy(body, q->body, n);
		}
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
	}
	if (strcmp(q->method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, q->method);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
	curl_multi_add_handle(m, e);
	while (running) {
		struct curl_waitfd w = { http_fd(srv), CURL_WAIT_POLLIN, 0 };
		int t = http_timeout_ms(srv);

		curl_multi_perform(m, &running);
		if (!running)
			break;
		assert_true(w.fd >= 0);
		curl_multi_poll(m, &w, 1, t < 0 || t > 100 ? 100 : t, NULL);
		http_run(srv);
	}
	while ((msg = curl_multi_info_read(m, &left)))
		if (msg->msg == CURLMSG_DONE)
			r->rc = msg->data.result;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
	{
		char *ct = NULL;

		curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ct);
		snprintf(r->ctype, sizeof(r->ctype), "%s", ct ? ct : "");
	}
	if (!r->body.data)
		buf_puts(&r->body, "");
	if (!r->headers.data)
		buf_puts(&r->headers, "");
	curl_multi_remove_handle(m, e);
	curl_easy_cleanup(e);
	curl_multi_cleanup(m);
	curl_slist_free_all(hl);
	free(body);
	/* Let the server finish the connection (on_completed). */
	http_run(srv);
}

static void
resp_dispose(struct resp *r)
{
	buf_dispose(&r->body);
	buf_dispose(&r->headers);
}

/* ---- table: status, type, body ---- */

struct route_case {
	const char *name;
	struct req q;
	long status;
	const char *ctype;        /* exact, or NULL */
	const char *body;         /* exact, or NULL */
	const char *header;       /* a response header line that must be there, or NULL */
	int pushes;               /* push callbacks this request must cause */
};

#define GET(p) { "GET", p, { NULL }, NULL, 0, 0 }
#define TEXT "text/plain; charset=utf-8"

static const struct route_case route_cases[] = {
	{ "healthz", GET("/healthz"), 200, TEXT, "ok\n", "X-Content-Type-Options: nosniff", 0 },
	{ "healthz with a query string", GET("/healthz?x=1"), 200, TEXT, "ok\n", NULL, 0 },
	{ "HEAD healthz", { "HEAD", "/healthz", { NULL }, NULL, 0, 0 }, 200, TEXT, "", NULL, 0 },
	{ "POST healthz is 405", { "POST", "/healthz", { NULL }, "x", 0, 0 }, 405, TEXT, NULL,
	  "Allow: GET, HEAD", 0 },
	{ "DELETE healthz is 405", { "DELETE", "/healthz", { NULL }, NULL, 0, 0 }, 405, NULL, NULL,
	  "Allow: GET, HEAD", 0 },
	{ "metrics", GET("/metrics"), 200, "text/plain; version=0.0.4; charset=utf-8",
	  "# TYPE firebreak_plans_total counter\nfirebreak_plans_total{decision=\"auto\"} 3\n",
	  NULL, 0 },
	{ "plan json", GET("/plans/17.json"), 200, "application/json", NULL, NULL, 0 },
	{ "plan page", GET("/plans/17"), 200, "text/html; charset=utf-8", NULL,
	  "Content-Security-Policy: default-src 'none'; style-src 'sha256-", 0 },
	{ "plan page has no-referrer", GET("/plans/17"), 200, NULL, NULL,
	  "Referrer-Policy: no-referrer", 0 },
	{ "unknown plan page", GET("/plans/99"), 404, TEXT, "no such plan\n", NULL, 0 },
	{ "unknown plan json", GET("/plans/99.json"), 404, NULL, NULL, NULL, 0 },
	{ "plans without id", GET("/plans/"), 404, NULL, NULL, NULL, 0 },
	{ "plans list is not a route", GET("/plans"), 404, NULL, NULL, NULL, 0 },
	{ "id with letters", GET("/plans/17a"), 404, NULL, NULL, NULL, 0 },
	{ "negative id", GET("/plans/-1"), 404, NULL, NULL, NULL, 0 },
	{ "id with a dot path", GET("/plans/../../etc/passwd"), 404, NULL, NULL, NULL, 0 },
	{ "id with encoded dots", GET("/plans/%2e%2e%2f%2e%2e%2fetc%2fpasswd"), 404, NULL, NULL,
	  NULL, 0 },
	{ "id with encoded NUL", GET("/plans/17%00.json"), 404, NULL, NULL, NULL, 0 },
	{ "escapes are not decoded", GET("/health%7a"), 404, NULL, NULL, NULL, 0 },
	{ "id then slash", GET("/plans/17/"), 404, NULL, NULL, NULL, 0 },
	{ "double json suffix", GET("/plans/17.json.json"), 404, NULL, NULL, NULL, 0 },
	{ "uppercase suffix", GET("/plans/17.JSON"), 404, NULL, NULL, NULL, 0 },
	{ "html suffix", GET("/plans/17.html"), 404, NULL, NULL, NULL, 0 },
	{ "21-digit id", GET("/plans/123456789012345678901"), 404, NULL, NULL, NULL, 0 },
	{ "stored plan that is not a plan", GET("/plans/77"), 500, NULL, NULL, NULL, 0 },
	{ "POST to a plan is 405", { "POST", "/plans/17", { NULL }, "", 0, 0 }, 405, NULL, NULL,
	  "Allow: GET, HEAD", 0 },
	{ "unknown path", GET("/nope"), 404, TEXT, "not found\n", NULL, 0 },
	{ "root", GET("/"), 404, NULL, NULL, NULL, 0 },
	{ "no provider declared /slack/command: 404", { "POST", "/slack/command", { NULL },
	  "a=b", 0, 0 }, 404, NULL, NULL, NULL, 0 },
	{ "a declared route is forwarded, body whole", { "POST", "/chat/in", { NULL }, "a=b&c=d",
	  0, 0 }, 200, NULL, "/chat/in a=b&c=d", NULL, 0 },
	{ "every declared route", { "POST", "/chat/other", { NULL }, "x", 0, 0 }, 200, NULL,
	  "/chat/other x", NULL, 0 },
	{ "a declared route takes POST only", GET("/chat/in"), 405, NULL, NULL, "Allow: POST", 0 },
	{ "a prefix of a declared route is not it", { "POST", "/chat/i", { NULL }, "x", 0, 0 },
	  404, NULL, NULL, NULL, 0 },
	{ "a longer path is not it", { "POST", "/chat/in/x", { NULL }, "x", 0, 0 }, 404, NULL,
	  NULL, NULL, 0 },
	{ "push: github good signature", { "POST", "/hooks/push",
	  { "X-Hub-Signature-256: sha256=" PUSH_MAC, "X-GitHub-Event: push" }, PUSH_BODY, 0, 0 },
	  202, TEXT, "accepted\n", NULL, 1 },
	{ "push: gitea good signature", { "POST", "/hooks/push",
	  { "X-Gitea-Signature: " PUSH_MAC }, PUSH_BODY, 0, 0 }, 202, NULL, NULL, NULL, 1 },
	{ "push: gitlab good token", { "POST", "/hooks/push",
	  { "X-Gitlab-Token: " SECRET }, PUSH_BODY, 0, 0 }, 202, NULL, NULL, NULL, 1 },
	{ "push: header names are case-insensitive", { "POST", "/hooks/push",
	  { "x-hub-signature-256: sha256=" PUSH_MAC }, PUSH_BODY, 0, 0 }, 202, NULL, NULL, NULL, 1 },
	{ "push: body changed", { "POST", "/hooks/push",
	  { "X-Hub-Signature-256: sha256=" PUSH_MAC }, "{\"ref\":\"refs/heads/evil\"}", 0, 0 },
	  401, TEXT, NULL, NULL, 0 },
	{ "push: gitlab wrong token", { "POST", "/hooks/push",
	  { "X-Gitlab-Token: guess" }, PUSH_BODY, 0, 0 }, 401, NULL, NULL, NULL, 0 },
	{ "push: no signature", { "POST", "/hooks/push", { NULL }, PUSH_BODY, 0, 0 }, 401, NULL,
	  NULL, NULL, 0 },
	{ "push: GET is 405", GET("/hooks/push"), 405, NULL, NULL, "Allow: POST", 0 },
	{ "push: body over 1 MiB is 413", { "POST", "/hooks/push",
	  { "X-Hub-Signature-256: sha256=" PUSH_MAC }, "{", HTTP_MAX_BODY + 1, 0 }, 413, NULL, NULL,
	  NULL, 0 },
	{ "push: body over 1 MiB without Expect is 413", { "POST", "/hooks/push",
	  { "X-Hub-Signature-256: sha256=" PUSH_MAC, "Expect:" }, "{", 2 * HTTP_MAX_BODY, 0 }, 413,
	  NULL, NULL, NULL, 0 },
	{ "GET with a body over 1 MiB is 413", { "GET", "/healthz", { NULL }, "x",
	  HTTP_MAX_BODY + 10, 0 }, 413, NULL, NULL, NULL, 0 },
};

static void
test_route(void **state)
{
	const struct route_case *c = *state;
	struct resp r;
	int before = ctx.pushes;

	fetch(&r, &c->q);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, c->status);
	if (c->ctype)
		assert_string_equal(r.ctype, c->ctype);
	if (c->body)
		assert_string_equal(r.body.data, c->body);
	if (c->header && !strstr(r.headers.data, c->header))
		fail_msg("no \"%s\" in:\n%s", c->header, r.headers.data);
	assert_int_equal(ctx.pushes - before, c->pushes);
	resp_dispose(&r);
}

static void
test_plan_json_is_stored_text(void **state)
{
	struct req q = GET("/plans/17.json");
	struct resp r;
	char *want = xasprintf("%s\n", plan17);

	(void)state;
	fetch(&r, &q);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, want);
	free(want);
	resp_dispose(&r);
}

static void
test_push_source(void **state)
{
	struct req q = { "POST", "/hooks/push", { "X-Gitlab-Token: " SECRET }, "{}", 0, 0 };
	struct resp r;

	(void)state;
	fetch(&r, &q);
	assert_int_equal(r.status, 202);
	assert_string_equal(ctx.source, "gitlab");
	resp_dispose(&r);
}

/* A chunked body has no length to refuse up front: past the cap the
 * connection is dropped (or 413), and the hook never fires. */
static void
test_chunked_over_cap(void **state)
{
	struct req q = { "POST", "/hooks/push", { "X-Hub-Signature-256: sha256=" PUSH_MAC },
		NULL, 0, 3 * HTTP_MAX_BODY };
	struct req ok = GET("/healthz");
	struct resp r;
	int before = ctx.pushes;

	(void)state;
	fetch(&r, &q);
	assert_true(r.rc != CURLE_OK || r.status == 413);
	assert_int_equal(ctx.pushes, before);
	resp_dispose(&r);
	/* and the server still serves */
	fetch(&r, &ok);
	assert_int_equal(r.status, 200);
	resp_dispose(&r);
}

static void
test_chunked_under_cap(void **state)
{
	struct req q = { "POST", "/hooks/push", { "X-Gitlab-Token: " SECRET }, NULL, 0, 1000 };
	struct resp r;

	(void)state;
	fetch(&r, &q);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 202);
	resp_dispose(&r);
}

static void
test_body_at_cap(void **state)
{
	struct buf body = BUF_INIT;
	char hex[2 * CRYPTO_SHA256_LEN + 1], hdr[128];
	struct req q = { "POST", "/hooks/push", { hdr }, NULL, 0, 0 };
	struct resp r;
	size_t i;

	(void)state;
	for (i = 0; i < HTTP_MAX_BODY; i++)
		buf_putc(&body, (char)('a' + i % 26));
	crypto_hmac_sha256_hex(hex, SECRET, strlen(SECRET), body.data, body.len);
	snprintf(hdr, sizeof(hdr), "X-Gitea-Signature: %s", hex);
	q.body = body.data;
	fetch(&r, &q);
	assert_int_equal(r.status, 202);
	resp_dispose(&r);
	buf_dispose(&body);
}

/* ---- the hostile plan page ---- */

static int
allowed(const char *s, size_t n, const char *const *set)
{
	for (; *set; set++)
		if (strlen(*set) == n && strncmp(s, *set, n) == 0)
			return 1;
	return 0;
}

/*
 * Every '<' in the page opens one of our own tags, whose attributes are
 * ours: so no text from the plan became markup.
 */
static void
assert_only_our_markup(const char *page, const char *id)
{
	static const char *const tags[] = { "!DOCTYPE", "html", "head", "meta", "title", "style",
		"body", "h1", "h2", "h3", "p", "table", "thead", "tbody", "tr", "th", "td", "code",
		"span", "a", "pre", "ul", "li", "details", "summary", NULL };
	static const char *const attrs[] = { "lang", "charset", "name", "content", "class", "href",
		NULL };
	const char *p = page;

	while ((p = strchr(p, '<'))) {
		size_t n;

		p++;
		if (*p == '/')
			p++;
		n = strspn(p, "!ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
		if (!allowed(p, n, tags))
			fail_msg("unexpected tag <%.20s", p);
		p += n;
		for (;;) {
			p += strspn(p, " ");
			if (*p == '>')
				break;
			if (strncmp(p, "html>", 5) == 0) {   /* <!DOCTYPE html> */
				p += 4;
				continue;
			}
			n = strspn(p, "abcdefghijklmnopqrstuvwxyz-");
			if (!allowed(p, n, attrs) || p[n] != '=' || p[n + 1] != '"')
				fail_msg("unexpected attribute %.30s", p);
			if (strncmp(p, "href", 4) == 0) {
				char want[64];

				snprintf(want, sizeof(want), "href=\"%s.json\"", id);
				assert_true(strncmp(p, want, strlen(want)) == 0);
			}
			p = strchr(p + n + 2, '"');
			assert_non_null(p);
			p++;
		}
	}
}

static void
test_hostile_plan_page(void **state)
{
	struct req q = GET("/plans/66");
	struct resp r;
	const char *page;

	(void)state;
	fetch(&r, &q);
	assert_int_equal(r.status, 200);
	page = r.body.data;
	assert_only_our_markup(page, "66");
	assert_null(strchr(page, '\033'));
	assert_null(strchr(page, '\r'));
	assert_non_null(strstr(page, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(page, "Mallory&quot; onmouseover=&quot;x"));
	assert_non_null(strstr(page, "&lt;img src=x onerror=alert(1)&gt;"));
	assert_non_null(strstr(page, "&lt;/code&gt;&lt;script&gt;x&lt;/script&gt;"));
	assert_non_null(strstr(page, "a&amp;b"));
	assert_non_null(strstr(page, "{&quot;k&quot;:&quot;&#39;&quot;}"));
	assert_non_null(strstr(page, "<td>&quot;&gt;&lt;x&gt;</td>"));   /* no class */
	assert_non_null(strstr(page, "&lt;i&gt;applied&lt;/i&gt;"));
	assert_non_null(strstr(page, "<th>&lt;key&gt;</th>"));
	assert_non_null(strstr(page, "enc/&lt;/pre&gt;&lt;script&gt;.yaml"));
	assert_non_null(strstr(page, "<code>&lt;f&gt;:3:1</code> &lt;m&gt;"));
	/* The diff, coloured, escaped. */
	assert_non_null(strstr(page, "<span class=\"meta\">diff --git a/x b/x</span>\n"
	    "<span class=\"meta\">--- a/x</span>\n<span class=\"meta\">+++ b/x</span>\n"
	    "<span class=\"hunk\">@@ -1 +1 @@</span>\n"
	    "<span class=\"del\">-old &lt;b&gt;bold&lt;/b&gt;</span>\n"
	    "<span class=\"add\">+new &amp;amp; \xEF\xBF\xBD[31mred</span>\n"
	    " context\xEF\xBF\xBD\n</pre>"));
	resp_dispose(&r);
}

static void
test_plan_page_content(void **state)
{
	struct req q = GET("/plans/17");
	struct resp r;
	const char *page;

	(void)state;
	fetch(&r, &q);
	page = r.body.data;
	assert_only_our_markup(page, "17");
	assert_non_null(strstr(page, "<p class=\"summary\">plan 17 for d55800f &quot;drain "
	    "web-02.example.com&quot; by Alice Example: 1 dns.modify -&gt; approve</p>"));
	assert_non_null(strstr(page, "<tr><td><code>dns.modify</code></td><td><code>"
	    "www.example.com/A</code></td><td class=\"d-approve\">approve</td>"));
	assert_non_null(strstr(page, "<tr><th>blast radius</th><td>0 hosts, 1 record</td></tr>"));
	assert_non_null(strstr(page, "<tr><th>needs an approver for</th><td>dns</td></tr>"));
	assert_non_null(strstr(page, "<tr><th>outcome</th><td>waiting</td></tr>"));
	assert_non_null(strstr(page, "<span class=\"del\">-&quot;10.0.1.6&quot;</span>"));
	resp_dispose(&r);
}

/*
 * A change shows what changed path by path (plan/valdiff.h), not the two
 * whole documents on one line; a long value folds into <details> with
 * the whole of it inside; keys from the plan are escaped like any text;
 * approvals say who approved which kind.
 */
static void
test_plan_page_path_by_path(void **state)
{
	static const char enc_plan[] =
		"{\"id\": \"8\", \"target\": \"d55800f2\", \"decision\": \"approve\","
		" \"approvals_needed\": [\"dns\", \"enc\"], \"approvals\": {\"dns\": \"alice\", \"enc\": \"<bob>\"},"
		" \"changes\": ["
		"  {\"type\": \"enc.modify\", \"artifact\": \"enc/lb-01.example.com.yaml\","
		"   \"object\": \"lb-01.example.com\", \"decision\": \"auto\","
		"   \"before\": {\"classes\": [\"profile::base\"], \"parameters\": {\"backends\": [\"web-01.example.com\","
		"     \"web-02.example.com\"], \"maxconn\": 2000, \"<b>\": 1}},"
		"   \"after\": {\"classes\": [\"profile::base\", \"nginx\"], \"parameters\": {\"backends\":"
		"     [\"web-01.example.com\"], \"maxconn\": 4000, \"<b>\": 2}}},"
		"  {\"type\": \"pin.modify\", \"artifact\": \"hiera/pins/production.yaml\", \"object\": \"k\","
		"   \"decision\": \"auto\", \"before\": \"1\", \"after\": \"%s\"}]}";
	struct buf b = BUF_INIT;
	char *plan, longv[301];

	(void)state;
	memset(longv, 'x', 300);
	longv[300] = '\0';
	plan = xasprintf(enc_plan, longv);
	assert_int_equal(http_plan_html(&b, plan), OK);
	assert_only_our_markup(b.data, "8");
	assert_non_null(strstr(b.data, "<th>type</th><th>object</th><th>decision</th><th>change</th>"));
	assert_non_null(strstr(b.data, "<td class=\"d-auto\">auto</td><td><ul class=\"vd\">"
	    "<li class=\"add\"><code class=\"path\">classes</code>: <span class=\"sign\">+</span> "
	    "<code>nginx</code></li>"
	    "<li class=\"set\"><code class=\"path\">parameters[&quot;&lt;b&gt;&quot;]</code>: "
	    "<code class=\"del\">1</code> \xE2\x86\x92 <code class=\"add\">2</code></li>"
	    "<li class=\"del\"><code class=\"path\">parameters.backends</code>: "
	    "<span class=\"sign\">\xE2\x88\x92</span> <code>web-02.example.com</code></li>"
	    "<li class=\"set\"><code class=\"path\">parameters.maxconn</code>: "
	    "<code class=\"del\">2000</code> \xE2\x86\x92 <code class=\"add\">4000</code></li>"
	    "</ul></td></tr>"));
	/* Not the whole documents. */
	assert_null(strstr(b.data, "&quot;classes&quot;"));
	assert_null(strstr(b.data, "web-01.example.com"));
	/* The long value: its head, its size, and the whole of it. */
	assert_non_null(strstr(b.data, "<details class=\"add\"><summary><code>xxxxxxxxxx"));
	assert_non_null(strstr(b.data, "...</code> <span class=\"note\">(300 bytes)</span></summary>"
	    "<code>"));
	assert_non_null(strstr(b.data, longv));
	assert_non_null(strstr(b.data, "<tr><th>approvals</th><td>dns by alice, enc by &lt;bob&gt;"
	    "</td></tr>"));
	buf_dispose(&b);
	free(plan);
}

/* A plan that needs an approver and has none says so. */
static void
test_plan_page_no_approval_yet(void **state)
{
	struct req q = GET("/plans/17");
	struct resp r;

	(void)state;
	fetch(&r, &q);
	assert_non_null(strstr(r.body.data, "<tr><th>approvals</th><td class=\"note\">none yet</td>"
	    "</tr>"));
	/* The dns.modify: the address that went. */
	assert_non_null(strstr(r.body.data, "<li class=\"del\"><span class=\"sign\">\xE2\x88\x92</span> "
	    "<code>10.0.1.6</code></li>"));
	resp_dispose(&r);
}

/* The CSP allows our stylesheet by its hash: check the hash is right. */
static void
test_csp_hash_matches_style(void **state)
{
	struct req q = GET("/plans/17");
	struct resp r;
	const char *s, *e, *h;
	unsigned char md[EVP_MAX_MD_SIZE], b64[128];
	unsigned int mdlen;
	char want[200];

	(void)state;
	fetch(&r, &q);
	s = strstr(r.body.data, "<style>");
	e = strstr(r.body.data, "</style>");
	assert_non_null(s);
	assert_non_null(e);
	s += 7;
	EVP_Digest(s, (size_t)(e - s), md, &mdlen, EVP_sha256(), NULL);
	EVP_EncodeBlock(b64, md, (int)mdlen);
	snprintf(want, sizeof(want), "style-src 'sha256-%s';", (const char *)b64);
	h = strstr(r.headers.data, "Content-Security-Policy: ");
	assert_non_null(h);
	assert_non_null(strstr(h, want));
	resp_dispose(&r);
}

static void
test_plan_html_refuses_non_plans(void **state)
{
	static const char *const bad[] = { "", "[]", "{}", "{\"id\": 17}",
		"{\"id\": \"javascript:alert(1)\"}", "{\"id\": \"\"}", "{\"id\": \"1\", \"id\": \"2\"}",
		NULL };
	struct buf b = BUF_INIT;
	size_t i;

	(void)state;
	for (i = 0; bad[i]; i++) {
		assert_int_equal(http_plan_html(&b, bad[i]), ERR_INVALID);
		buf_reset(&b);
	}
	assert_int_equal(http_plan_html(&b, "{\"id\": \"5\"}"), OK);
	assert_non_null(strstr(b.data, "plan 5 for : no changes -&gt; ?"));
	/* Found by fuzz_planjson: the short target was cut inside a
	 * character, and the page was not UTF-8
	 * (tests/fuzz/corpus/planjson/crash-target-cut-utf8). */
	buf_reset(&b);
	assert_int_equal(http_plan_html(&b, "{\"id\": \"5\", \"target\": \"0f89e6\u035e0a9\"}"), OK);
	assert_non_null(strstr(b.data, "plan 5 for 0f89e6: no changes"));
	buf_dispose(&b);
}

static void
test_escape(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	http_html_escape(&b, "<a href='x'>&\"\x01\n\t\x7f\xc3\xa9", 20);
	assert_string_equal(b.data, "&lt;a href=&#39;x&#39;&gt;&amp;&quot;\xEF\xBF\xBD\n\t"
	    "\xEF\xBF\xBD\xc3\xa9");
	buf_dispose(&b);
}

struct listen_case {
	const char *name;
	const char *in;
	int rc;
	const char *host;
	unsigned port;
};

static const struct listen_case listen_cases[] = {
	{ "listen: default", "127.0.0.1:8088", OK, "127.0.0.1", 8088 },
	{ "listen: any", "0.0.0.0:80", OK, "0.0.0.0", 80 },
	{ "listen: name", "localhost:9000", OK, "localhost", 9000 },
	{ "listen: ipv6", "[::1]:8088", OK, "::1", 8088 },
	{ "listen: port 0", "127.0.0.1:0", OK, "127.0.0.1", 0 },
	{ "listen: no port", "127.0.0.1", ERR_INVALID, NULL, 0 },
	{ "listen: empty port", "127.0.0.1:", ERR_INVALID, NULL, 0 },
	{ "listen: port too big", "127.0.0.1:65536", ERR_INVALID, NULL, 0 },
	{ "listen: signed port", "127.0.0.1:+80", ERR_INVALID, NULL, 0 },
	{ "listen: bare ipv6", "::1:8088", ERR_INVALID, NULL, 0 },
	{ "listen: empty host", ":8088", ERR_INVALID, NULL, 0 },
	{ "listen: unclosed bracket", "[::1:8088", ERR_INVALID, NULL, 0 },
	{ "listen: empty", "", ERR_INVALID, NULL, 0 },
};

static void
test_listen(void **state)
{
	const struct listen_case *c = *state;
	char host[64];
	unsigned port = 1;

	assert_int_equal(http_parse_listen(c->in, host, sizeof(host), &port), c->rc);
	if (c->rc == OK) {
		assert_string_equal(host, c->host);
		assert_int_equal(port, c->port);
	}
}

static void
test_port_in_use(void **state)
{
	char addr[64];
	struct http_config cfg = { .listen = addr, .hook_secret = SECRET,
	    .hook_secret_len = strlen(SECRET) };
	struct http_handlers h = { NULL, NULL, NULL, NULL, NULL, NULL };
	struct http *s2 = (struct http *)1;

	(void)state;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", http_port(srv));
	assert_int_equal(http_start(&s2, &cfg, &h), ERR);
	assert_null(s2);
	assert_non_null(strstr(err_last(), addr));
	assert_non_null(strstr(err_last(), "in use"));
}

static void
test_no_secret_refuses_hooks_and_no_fd_leak(void **state)
{
	struct http_config cfg = { .listen = "127.0.0.1:0" };
	struct http_handlers h = { &ctx, NULL, NULL, cb_push, NULL, NULL };
	struct http *saved = srv, *s2;
	struct req q = { "POST", "/hooks/push", { "X-Gitlab-Token: " }, "{}", 0, 0 };
	struct req m = GET("/metrics");
	struct req p = GET("/plans/17");
	struct resp r;
	int fds = open_fds(), before = ctx.pushes;

	(void)state;
	assert_int_equal(http_start(&s2, &cfg, &h), OK);
	assert_true(http_port(s2) > 0);
	srv = s2;
	fetch(&r, &q);
	assert_int_equal(r.status, 401);
	resp_dispose(&r);
	fetch(&r, &m);    /* no metrics callback: an empty exposition */
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "");
	resp_dispose(&r);
	fetch(&r, &p);    /* no plan callback: 404 */
	assert_int_equal(r.status, 404);
	resp_dispose(&r);
	srv = saved;
	http_stop(s2);
	assert_int_equal(ctx.pushes, before);
	assert_int_equal(open_fds(), fds);
}

int
main(void)
{
	struct CMUnitTest tests[128];
	size_t i, n = 0;

	for (i = 0; i < sizeof(route_cases) / sizeof(*route_cases); i++) {
		struct CMUnitTest t = { route_cases[i].name, test_route, NULL, NULL,
		    (void *)(uintptr_t)&route_cases[i] };

		tests[n++] = t;
	}
	for (i = 0; i < sizeof(listen_cases) / sizeof(*listen_cases); i++) {
		struct CMUnitTest t = { listen_cases[i].name, test_listen, NULL, NULL,
		    (void *)(uintptr_t)&listen_cases[i] };

		tests[n++] = t;
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_plan_json_is_stored_text);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_push_source);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_chunked_over_cap);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_chunked_under_cap);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_body_at_cap);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_hostile_plan_page);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_plan_page_content);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_csp_hash_matches_style);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_plan_html_refuses_non_plans);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_plan_page_path_by_path);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_plan_page_no_approval_yet);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_escape);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_port_in_use);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_no_secret_refuses_hooks_and_no_fd_leak);
	return _cmocka_run_group_tests("http", tests, n, setup, teardown);
}
