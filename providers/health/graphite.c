/*
 * graphite.c - the `graphite` health source: Graphite's render API.
 *
 *   health:
 *     source: {type: graphite, url: "http://127.0.0.1:8080", timeout: 10,
 *              batch: 100, group: 500, parallel: 4}
 *
 * A template Graphite can say for many hosts at once (PATH or
 * sumSeries|averageSeries|minSeries|maxSeries(PATH), {host_short} one
 * whole node of PATH: health_graphite_batchable) is asked as
 * groupByNode(PATH{web-01,web-02,...}, NODE, "sumSeries") (or
 * aliasByNode(PATH{...}, NODE) for a bare path): up to `group` hosts of
 * one role in one target, named by their node in the answer.  The same
 * numbers as asking per host; graphite-web parses one expression instead
 * of `group` (its pyparsing grammar costs ~3 ms of CPU per target: per
 * host, 1,000 hosts are 3 s of graphite-web's CPU; grouped, 0.3 s).
 * Every other template is asked per host:
 *
 * One evaluation is a handful of POSTs to <url>/render, each holding
 * `batch` targets (target= repeated), format=json, from=-<over>s,
 * until=now, with at most `parallel` in flight: 1,000 hosts are ten
 * requests, not a thousand.  Each target is the host's expanded query
 * wrapped in alias(..., "fb<k>") (k: its place in the request), so the
 * answer names its host whatever the query's functions make of the
 * series' names, and one request's answer can only speak of the hosts
 * that request asked about; a target
 * that matches nothing is simply absent from the answer (no data).  The
 * form body is URL-encoded once, here; the values put into the query are
 * validated names (the caller's job).
 */
#include "providers/health/health.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "providers/health/hsource.h"

#define GRAPHITE_BATCH_DEFAULT 100
#define GRAPHITE_GROUP_DEFAULT 500
#define GRAPHITE_PARALLEL_DEFAULT 4

struct graphite {
	struct health_endpoint ep;   /* first: its describe and timeout ops */
	unsigned batch, group, parallel;
};

static const char *const graphite_keys[] = { "url", "timeout", "batch", "group", "parallel",
	NULL };

static void
graphite_close(void *st)
{
	struct graphite *g = st;

	if (!g)
		return;
	health_endpoint_dispose(&g->ep);
	free(g);
}

static int
graphite_open(void **out, const struct ynode *cfg)
{
	struct graphite *g;
	int rc;

	*out = NULL;
	if ((rc = health_check_keys(cfg, "graphite", graphite_keys)) != OK)
		return rc;
	g = xcalloc(1, sizeof(*g));
	if ((rc = health_common_parse(&g->ep, cfg, "graphite")) != OK ||
	    (rc = health_opt_u(&g->batch, cfg, "graphite", "batch", GRAPHITE_BATCH_DEFAULT,
	    1000)) != OK ||
	    (rc = health_opt_u(&g->group, cfg, "graphite", "group", GRAPHITE_GROUP_DEFAULT,
	    5000)) != OK ||
	    (rc = health_opt_u(&g->parallel, cfg, "graphite", "parallel",
	    GRAPHITE_PARALLEL_DEFAULT, 16)) != OK) {
		graphite_close(g);
		return rc;
	}
	*out = g;
	return OK;
}

/* ---- the answer ------------------------------------------------------------ */

/* The host a series names: "fb<k>", or one of `names` (NULL: fb<k>). */
static long
series_index(const char *target, size_t n, const char *const *names)
{
	size_t i;

	if (!names)
		return health_ref_index(target, n);
	for (i = 0; i < n; i++)
		if (strcmp(names[i], target) == 0)
			return (long)i;
	return -1;
}

int
health_graphite_parse_named(struct health_series *out, size_t n, const char *const *names,
    const char *body, size_t len)
{
	json_error_t je;
	json_t *root, *s;
	size_t i, points = 0;
	int rc = OK;

	if (!health_json_depth_ok(body, len, HEALTH_JSON_DEPTH))
		return err_set(ERR_INVALID, "malformed answer (nested deeper than %d)",
		    HEALTH_JSON_DEPTH);
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!root || !json_is_array(root)) {
		json_decref(root);
		return err_set(ERR_INVALID, "malformed answer (not a list of series)");
	}
	json_array_foreach(root, i, s) {
		json_t *dps = json_object_get(s, "datapoints"), *dp;
		const char *target = json_string_value(json_object_get(s, "target"));
		double best_ts = 0;
		int have_ts = 0;
		long idx;
		size_t k;

		if (!json_is_object(s) || !target || !json_is_array(dps)) {
			rc = err_set(ERR_INVALID, "malformed answer (a series without target or "
			    "datapoints)");
			break;
		}
		idx = series_index(target, n, names);
		json_array_foreach(dps, k, dp) {
			json_t *v = json_array_get(dp, 0), *ts = json_array_get(dp, 1);
			double dv, dts;

			if (!json_is_array(dp) || json_array_size(dp) != 2 || !json_is_number(ts) ||
			    !(json_is_null(v) || json_is_number(v))) {
				rc = err_set(ERR_INVALID, "malformed answer (a datapoint is not "
				    "[value|null, timestamp])");
				goto out;
			}
			if (++points > HEALTH_MAX_POINTS) {
				rc = err_set(ERR_TOOBIG, "an answer of more than %u points",
				    HEALTH_MAX_POINTS);
				goto out;
			}
			if (idx < 0 || json_is_null(v))
				continue;
			dv = json_number_value(v);
			dts = json_number_value(ts);
			health_series_add(&out[idx], dv);
			if (out[idx].n && (!have_ts || dts >= best_ts)) {
				/* The latest point's value; equal timestamps (two
				 * series of one host): the later one listed. */
				best_ts = dts;
				have_ts = 1;
				out[idx].last = dv;
			}
		}
	}
out:
	json_decref(root);
	return rc;
}

int
health_graphite_parse(struct health_series *out, size_t n, const char *body, size_t len)
{
	return health_graphite_parse_named(out, n, NULL, body, len);
}

/* ---- many hosts in one expression ------------------------------------------ */

int
health_graphite_batchable(const char *tmpl, unsigned *node, char agg[16])
{
	static const char *const aggs[] = { "sumSeries", "averageSeries", "minSeries",
		"maxSeries" };
	static const char ph[] = "{host_short}";
	const char *path = tmpl, *at, *p;
	size_t plen = strlen(tmpl), i;
	unsigned dots = 0;
	int glob = 0;

	agg[0] = '\0';
	for (i = 0; i < sizeof(aggs) / sizeof(*aggs); i++) {
		size_t al = strlen(aggs[i]);

		if (strncmp(tmpl, aggs[i], al) == 0 && tmpl[al] == '(' && plen > al + 2 &&
		    tmpl[plen - 1] == ')') {
			snprintf(agg, 16, "%s", aggs[i]);
			path = tmpl + al + 1;
			plen -= al + 2;
			break;
		}
	}
	if (!plen || !(at = strstr(path, ph)) || (size_t)(at - path) + sizeof(ph) - 1 > plen ||
	    (at != path && at[-1] != '.') ||
	    ((size_t)(at - path) + sizeof(ph) - 1 < plen && at[sizeof(ph) - 1] != '.'))
		return 0;
	for (p = path; p < path + plen; ) {
		if (p == at) {
			p += sizeof(ph) - 1;
			continue;
		}
		if (strncmp(p, "{role}", 6) == 0 && p + 6 <= path + plen) {
			p += 6;
			continue;
		}
		if (*p == '*' || *p == '?' || *p == '[' || *p == ']')
			glob = 1;
		else if (*p == '.')
			dots += p < at;
		else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return 0;      /* braces, commas, quotes, spaces, functions: ask per host */
		p++;
	}
	if (glob && !agg[0])
		return 0;              /* several series per host: only an aggregation says how */
	*node = dots;
	return 1;
}

/* ---- asking ----------------------------------------------------------------- */

/* The form of one request: the window, then the targets. */
static void
form_start(struct buf *form, unsigned over)
{
	buf_printf(form, "format=json&from=-%us&until=now", over);
}

static void
form_target(struct buf *form, const char *target)
{
	char *enc = health_urlencode(target);

	buf_printf(form, "&target=%s", enc);
	free(enc);
}

/*
 * The grouped requests of a batchable template: per role, chunks of up
 * to `group` hosts with distinct short names, each one target
 * groupByNode(PATH{a,b,...}, node, "AGG") or aliasByNode(...).  Hosts
 * left over (a short name twice in a chunk) are marked in `rest`.
 */
static size_t
plan_grouped(struct graphite *g, const struct health_request *rq, unsigned node,
    const char *agg, struct health_http **hs, size_t nh, unsigned char *rest)
{
	const char *path = rq->tmpl;
	size_t plen = strlen(rq->tmpl), i, j, k;
	unsigned char *done = xcalloc(rq->n + 1, 1);

	if (agg[0]) {
		path += strlen(agg) + 1;
		plen -= strlen(agg) + 2;
	}
	for (i = 0; i < rq->n; i++) {
		struct health_http *h;
		struct buf expr = BUF_INIT, list = BUF_INIT, form = BUF_INIT, t = BUF_INIT;
		const char *p;

		if (done[i])
			continue;
		if (!valid_fqdn(rq->hosts[i]) || !valid_role(rq->roles[i])) {
			done[i] = rest[i] = 1;
			continue;
		}
		*hs = xrealloc(*hs, (nh + 1) * sizeof(**hs));
		h = &(*hs)[nh++];
		memset(h, 0, sizeof(*h));
		h->idx = xcalloc(g->group, sizeof(*h->idx));
		h->names = xcalloc(g->group, sizeof(*h->names));
		/* This host's role, and the next hosts of it, up to `group`. */
		for (j = i; j < rq->n && h->count < g->group; j++) {
			size_t sl = strcspn(rq->hosts[j], ".");
			int dup = 0;

			if (done[j] || strcmp(rq->roles[j], rq->roles[i]) != 0)
				continue;
			/* Only names that cannot say anything in a path go in braces
			 * (the caller validated them; this is the line of defence
			 * that keeps a glob's commas and braces ours). */
			if (!valid_fqdn(rq->hosts[j]) || !valid_role(rq->roles[j])) {
				done[j] = 1;
				rest[j] = 1;
				continue;
			}
			for (k = 0; k < h->count && !dup; k++)
				dup = strlen(h->names[k]) == sl && strncmp(h->names[k], rq->hosts[j], sl) == 0;
			done[j] = 1;
			if (dup) {
				rest[j] = 1;
				continue;
			}
			h->idx[h->count] = j;
			h->names[h->count++] = xstrndup(rq->hosts[j], sl);
		}
		for (k = 0; k < h->count; k++)
			buf_printf(&list, "%s%s", k ? "," : "", h->names[k]);
		for (p = path; p < path + plen; ) {
			if (strncmp(p, "{host_short}", 12) == 0) {
				buf_printf(&expr, h->count > 1 ? "{%s}" : "%s", list.data);
				p += 12;
			} else if (strncmp(p, "{role}", 6) == 0) {
				buf_puts(&expr, rq->roles[i]);
				p += 6;
			} else {
				buf_putc(&expr, *p++);
			}
		}
		if (agg[0])
			buf_printf(&t, "groupByNode(%s,%u,\"%s\")", expr.data, node, agg);
		else
			buf_printf(&t, "aliasByNode(%s,%u)", expr.data, node);
		h->url = xasprintf("%s/render", g->ep.url);
		form_start(&form, rq->over);
		form_target(&form, t.data);
		h->post = buf_steal(&form);
		buf_dispose(&expr);
		buf_dispose(&list);
		buf_dispose(&t);
	}
	free(done);
	return nh;
}

static int
graphite_fetch(void *st, const struct health_request *rq, struct health_answer *out)
{
	struct graphite *g = st;
	struct health_http *h = NULL;
	unsigned char *rest = xcalloc(rq->n + 1, 1);
	size_t nh = 0, b, i;
	unsigned timeout = rq->timeout ? rq->timeout : g->ep.timeout, node;
	char agg[16];

	if (rq->tmpl && rq->hosts && rq->roles && health_graphite_batchable(rq->tmpl, &node, agg))
		nh = plan_grouped(g, rq, node, agg, &h, 0, rest);
	else
		memset(rest, 1, rq->n);
	/* Every other host: its own target, `batch` of them per request. */
	for (i = 0; i < rq->n; ) {
		struct health_http *r;
		struct buf form = BUF_INIT;

		if (!rest[i]) {
			i++;
			continue;
		}
		h = xrealloc(h, (nh + 1) * sizeof(*h));
		r = &h[nh++];
		memset(r, 0, sizeof(*r));
		r->idx = xcalloc(g->batch, sizeof(*r->idx));
		r->url = xasprintf("%s/render", g->ep.url);
		form_start(&form, rq->over);
		for (; i < rq->n && r->count < g->batch; i++) {
			char *t;

			if (!rest[i])
				continue;
			t = xasprintf("alias(%s,\"fb%zu\")", rq->exprs[i], r->count);
			form_target(&form, t);
			free(t);
			r->idx[r->count++] = i;
		}
		r->post = buf_steal(&form);
	}
	free(rest);
	health_http_run(h, nh, g->parallel, timeout);
	out->requests = (unsigned)nh;
	for (b = 0; b < nh; b++) {
		struct health_series *part = xcalloc(h[b].count + 1, sizeof(*part));

		if (!h[b].error[0] && health_graphite_parse_named(part, h[b].count,
		    (const char *const *)h[b].names, h[b].body.data ? h[b].body.data : "",
		    h[b].body.len) != OK)
			snprintf(h[b].error, sizeof(h[b].error), "%s", err_last());
		if (h[b].error[0]) {
			/* Nothing of a failed request is believed: its hosts have no data. */
			out->failed++;
			if (!out->error[0])
				snprintf(out->error, sizeof(out->error), "%s", h[b].error);
		} else {
			for (i = 0; i < h[b].count; i++)
				out->v[h[b].idx[i]] = part[i];
		}
		free(part);
	}
	health_http_dispose(h, nh);
	return OK;
}

static const struct health_ops graphite_ops = {
	graphite_open, graphite_fetch, health_endpoint_describe, health_endpoint_timeout,
	graphite_close,
};

const struct health_provider health_graphite = {
	HEALTH_PROVIDER_ABI, "graphite", &graphite_ops,
};
