/*
 * planpage.c - the HTML page of GET /plans/<id> (http_plan_html, part of
 * the http module: see http.h).  Its own file because the page is most of
 * what the listener does with a plan, and http.c is the listener.
 *
 * The page is built from the stored plan's JSON, which is untrusted (a
 * committer writes its subject, hosts' names, values): every text goes
 * through http_html_escape, and the one stylesheet is allowed by the CSP
 * by its hash, so nothing from a plan can be markup, script or style.
 *
 * It is read all day from chat links, on laptops and phones: a change
 * shows what changed path by path (plan/valdiff.h), never two whole
 * documents on one line; long values wrap, or are cut with the whole
 * value one click away (<details>); at 700 px and below the tables
 * become one card per row.  The page stops at HTTP_MAX_HTML.
 *
 * Layer: controller (includes state, plan, renderers, model, git, base).
 */
#include "controller/http.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/valdiff.h"

#define HTTP_VALUE_MAX 200        /* bytes of a value shown before it folds into <details> */
#define HTTP_VALUE_FOLDED 120     /* bytes of a folded value shown */
#define HTTP_VALDIFF_MAX 40       /* lines of a change's difference shown */

/*
 * The page's one stylesheet.  The Content-Security-Policy allows exactly
 * this text (by its hash) and nothing else: no script, no image, no
 * external anything, so hostile plan content cannot do more than be
 * displayed even if an escape were missed.
 */
const char http_page_style[] =
	"*{box-sizing:border-box}"
	"html{-webkit-text-size-adjust:100%}"
	"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1f2328;"
	"background:#fff;margin:0 auto;padding:1em 1.5em 3em;max-width:96em;overflow-wrap:anywhere}"
	"h1{font-size:1.6em;margin:.2em 0}"
	"h2{font-size:1.15em;margin:1.6em 0 .5em;padding-bottom:.25em;border-bottom:1px solid #d8dee4}"
	"h3{font-size:1em;margin:1.2em 0 .3em}"
	"a{color:#0969da}"
	"code,pre{font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}"
	"pre{white-space:pre-wrap;margin:0}"
	"p.summary{font-size:1.1em;margin:.2em 0 1em}"
	"table{border-collapse:collapse;margin:.5em 0;max-width:100%}"
	"th,td{border:1px solid #d0d7de;padding:.3em .6em;text-align:left;vertical-align:top}"
	"th{background:#f6f8fa;font-weight:600}"
	"table.details th{width:13em}"
	"table.changes,table.rollout{width:100%}"
	"table.changes{table-layout:fixed}"
	"table.changes th:nth-child(1){width:9em}"
	"table.changes th:nth-child(2){width:22%}"
	"table.changes th:nth-child(3){width:6.5em}"
	"ul.vd{list-style:none;margin:0;padding:0}"
	"ul.vd li{padding:0 .3em;border-radius:3px}"
	"ul.vd li+li{margin-top:1px}"
	".path{font-weight:600}"
	".sign{font-weight:bold}"
	"details{display:inline-block;max-width:100%;vertical-align:top}"
	"details code{word-break:break-all}"
	"summary{cursor:pointer}"
	"pre.diff{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:.5em .7em;"
	"margin:.3em 0 1em}"
	".add{color:#116329;background:#dafbe1}"
	".del{color:#82071e;background:#ffebe9}"
	".hunk{color:#0a7f8c}"
	".meta{font-weight:bold}"
	".d-auto{color:#116329}.d-approve,.d-invalid{color:#82071e}.d-observe{color:#9a6700}"
	".note{color:#57606a}"
	/* A phone: the details stay a table of two narrow columns; the
	 * changes, the rollout and the providers become one card a row, each
	 * cell on its own line, the cells that are only a number or a word
	 * saying what they are. */
	"@media (max-width:700px){"
	"body{padding:.7em .8em 2em}"
	"table.details th{width:7.5em}"
	".changes,.changes tbody,.changes tr,.changes td,"
	".rollout,.rollout tbody,.rollout tr,.rollout td,"
	".providers,.providers tbody,.providers tr,.providers td{display:block;width:auto!important}"
	".changes,.rollout,.providers{border:0}"
	".changes thead,.rollout thead,.providers tr:first-child{display:none}"
	".changes tr,.rollout tr,.providers tr{border:1px solid #d0d7de;border-radius:6px;"
	"margin:.5em 0;padding:.3em .6em}"
	".changes td,.rollout td,.providers td{border:0;padding:.1em 0}"
	".changes td:nth-child(3)::before{content:'decision: ';color:#57606a}"
	".rollout td:nth-child(2)::before{content:'group: ';color:#57606a}"
	".rollout td:nth-child(3)::before{content:'state: ';color:#57606a}"
	".rollout td:nth-child(4)::before{content:'attempts: ';color:#57606a}"
	".rollout td:nth-child(5)::before{content:'seconds: ';color:#57606a}"
	".rollout td:nth-child(6)::before{content:'exit: ';color:#57606a}"
	".providers td:nth-child(2)::before{content:'state: ';color:#57606a}"
	".providers td:nth-child(3)::before{content:'runs: ';color:#57606a}"
	"}";

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

/*
 * A value's text: whole when short; folded into a <details> when long
 * (the first HTTP_VALUE_FOLDED bytes, the rest one click away, no
 * script), with a word when even the text we had was cut.
 */
static void
put_text(struct buf *b, const char *s, int cut, const char *cls)
{
	size_t n = strlen(s);

	if (n <= HTTP_VALUE_MAX) {
		buf_puts(b, "<code");
		if (cls)
			buf_printf(b, " class=\"%s\"", cls);
		buf_puts(b, ">");
		http_html_escape(b, s, n);
		buf_puts(b, "</code>");
	} else {
		buf_puts(b, "<details");
		if (cls)
			buf_printf(b, " class=\"%s\"", cls);
		buf_puts(b, "><summary><code>");
		http_html_escape(b, s, (size_t)utf8_prefix(s, HTTP_VALUE_FOLDED));
		buf_printf(b, "...</code> <span class=\"note\">(%zu bytes)</span></summary><code>", n);
		http_html_escape(b, s, n);
		buf_puts(b, "</code></details>");
	}
	if (cut)
		buf_puts(b, " <span class=\"note\">(cut: the whole value is in the JSON)</span>");
}

static void
put_value(struct buf *b, const json_t *v)
{
	char *s;

	if (!v || json_is_null(v)) {
		buf_puts(b, "<span class=\"note\">(none)</span>");
		return;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s)
		return;
	put_text(b, s, 0, NULL);
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

/* A stored field's name as a label: "decided_by" reads "decided by"
 * (and wraps between its words on a phone). */
static void
put_label(struct buf *b, const char *key)
{
	size_t start = b->len, i;

	esc_oneline(b, key, 64);
	for (i = start; i < b->len; i++)
		if (b->data[i] == '_')
			b->data[i] = ' ';
}

/* Who approved which kind ("approvals": {"dns": "alice"}); "none yet"
 * when the plan needs an approver and has none. */
static void
put_approvals(struct buf *b, json_t *given, int needs)
{
	const char *kind;
	json_t *who;
	int first = 1;

	if (!json_is_object(given) || json_object_size(given) == 0) {
		if (needs)
			buf_puts(b, "<tr><th>approvals</th><td class=\"note\">none yet</td></tr>\n");
		return;
	}
	buf_puts(b, "<tr><th>approvals</th><td>");
	json_object_foreach(given, kind, who) {
		buf_puts(b, first ? "" : ", ");
		esc_oneline(b, kind, 64);
		buf_puts(b, " by ");
		esc_oneline(b, json_is_string(who) ? json_string_value(who) : "?", 64);
		first = 0;
	}
	buf_puts(b, "</td></tr>\n");
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
	put_approvals(b, json_object_get(root, "approvals"), json_is_array(needs) &&
	    json_array_size(needs) > 0);
	json_object_foreach(root, key, v) {
		if (known_field(key) || json_is_object(v) || json_is_array(v))
			continue;
		buf_puts(b, "<tr><th>");
		put_label(b, key);
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

/*
 * What a change changed, path by path (plan/valdiff.h): a line per
 * path, "+"/"-" on a green or red ground, a value changed in place as
 * old -> new.  At most HTTP_VALDIFF_MAX lines; the rest are counted.
 */
static void
put_change_diff(struct buf *b, json_t *before, json_t *after)
{
	struct valdiff d = VALDIFF_INIT;
	size_t i;

	valdiff_build(&d, before, after, HTTP_VALDIFF_MAX);
	if (d.n == 0) {
		buf_puts(b, "<span class=\"note\">(no difference in value)</span>");
		valdiff_dispose(&d);
		return;
	}
	buf_puts(b, "<ul class=\"vd\">");
	for (i = 0; i < d.n; i++) {
		const struct valdiff_entry *e = &d.v[i];

		buf_printf(b, "<li class=\"%s\">", e->op == VALDIFF_ADD ? "add" :
		    e->op == VALDIFF_DEL ? "del" : "set");
		if (e->path[0]) {
			buf_puts(b, "<code class=\"path\">");
			esc(b, e->path);
			buf_puts(b, "</code>: ");
		}
		if (e->op == VALDIFF_SET) {
			put_text(b, e->before, 0, "del");
			buf_puts(b, " \xE2\x86\x92 ");   /* U+2192 RIGHTWARDS ARROW */
			put_text(b, e->after, 0, "add");
			if (e->cut)
				buf_puts(b, " <span class=\"note\">(cut: the whole value is in the "
				    "JSON)</span>");
		} else {
			/* U+2212 MINUS SIGN: as wide as the plus. */
			buf_puts(b, e->op == VALDIFF_ADD ? "<span class=\"sign\">+</span> " :
			    "<span class=\"sign\">\xE2\x88\x92</span> ");
			put_text(b, e->op == VALDIFF_ADD ? e->after : e->before, e->cut, NULL);
		}
		buf_puts(b, "</li>");
	}
	if (d.omitted)
		buf_printf(b, "<li class=\"note\">and %zu more; the whole change is in the JSON</li>",
		    d.omitted);
	buf_puts(b, "</ul>");
	valdiff_dispose(&d);
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
	    "<th>decision</th><th>change</th></tr></thead>\n<tbody>\n");
	for (i = 0; i < n; i++) {
		const json_t *c = json_array_get(changes, i);
		const char *type = jstr(c, "type"), *obj = jstr(c, "object"), *note = jstr(c, "note");

		if (b->len > HTTP_MAX_HTML) {
			buf_printf(b, "</tbody></table>\n<p class=\"note\">The page stops here, at change "
			    "%zu of %zu; every change is in the JSON.</p>\n", i + 1, n);
			return;
		}
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
		put_change_diff(b, json_object_get(c, "before"), json_object_get(c, "after"));
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
		json_int_t line = json_integer_value(json_object_get(e, "line"));
		json_int_t col = json_integer_value(json_object_get(e, "column"));

		buf_puts(b, "<li><code>");
		esc(b, file ? file : "?");
		/* Line and column are 1-based; 0 is "the whole line" or "the
		 * whole file", and is left out. */
		if (line > 0)
			buf_printf(b, ":%lld", (long long)line);
		if (line > 0 && col > 0)
			buf_printf(b, ":%lld", (long long)col);
		buf_puts(b, "</code> ");
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
	buf_printf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>plan ", http_page_style);
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

