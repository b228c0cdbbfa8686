/*
 * graphite.c - the `graphite` health source: Graphite's render API.
 *
 *   health:
 *     source: {type: graphite, url: "http://127.0.0.1:8080", timeout: 10,
 *              batch: 100, parallel: 4}
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

#include "providers/health/hsource.h"

#define GRAPHITE_BATCH_DEFAULT 100
#define GRAPHITE_PARALLEL_DEFAULT 4

struct graphite {
	char *url;                /* owns; without a trailing '/' */
	char *describe;           /* owns */
	unsigned timeout, batch, parallel;
};

static const char *const graphite_keys[] = { "url", "timeout", "batch", "parallel", NULL };

static void
graphite_close(void *st)
{
	struct graphite *g = st;

	if (!g)
		return;
	free(g->url);
	free(g->describe);
	free(g);
}

static int
opt_u(unsigned *out, const struct ynode *cfg, const char *key, unsigned dflt, unsigned max)
{
	const struct ynode *n = ynode_get(cfg, key);
	uint64_t v;

	*out = dflt;
	if (!n)
		return OK;
	if (n->type != YNODE_SCALAR || parse_u64(&v, n->str, 1, max) != OK)
		return err_set(ERR_INVALID, "line %d: health.source (graphite): '%s' is a whole "
		    "number (1..%u)", n->line, key, max);
	*out = (unsigned)v;
	return OK;
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
	if ((rc = health_common_parse(&g->url, &g->timeout, cfg, "graphite")) != OK ||
	    (rc = opt_u(&g->batch, cfg, "batch", GRAPHITE_BATCH_DEFAULT, 1000)) != OK ||
	    (rc = opt_u(&g->parallel, cfg, "parallel", GRAPHITE_PARALLEL_DEFAULT, 16)) != OK) {
		graphite_close(g);
		return rc;
	}
	g->describe = xasprintf("graphite %s", g->url);
	*out = g;
	return OK;
}

static const char *
graphite_describe(void *st)
{
	return ((struct graphite *)st)->describe;
}

static unsigned
graphite_timeout(void *st)
{
	return ((struct graphite *)st)->timeout;
}

/* ---- the answer ------------------------------------------------------------ */

int
health_graphite_parse(struct health_series *out, size_t n, const char *body, size_t len)
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
		idx = health_ref_index(target, n);
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

/* ---- asking ----------------------------------------------------------------- */

static int
graphite_fetch(void *st, const struct health_request *rq, struct health_answer *out)
{
	struct graphite *g = st;
	size_t nb = rq->n ? (rq->n + g->batch - 1) / g->batch : 0, b, i;
	struct health_http *h = xcalloc(nb ? nb : 1, sizeof(*h));
	unsigned timeout = rq->timeout ? rq->timeout : g->timeout;

	for (b = 0; b < nb; b++) {
		struct buf form = BUF_INIT;

		h[b].first = b * g->batch;
		h[b].count = rq->n - h[b].first < g->batch ? rq->n - h[b].first : g->batch;
		h[b].url = xasprintf("%s/render", g->url);
		buf_printf(&form, "format=json&from=-%us&until=now", rq->over);
		for (i = h[b].first; i < h[b].first + h[b].count; i++) {
			char *t = xasprintf("alias(%s,\"fb%zu\")", rq->exprs[i], i - h[b].first), *enc;

			enc = health_urlencode(t);
			buf_printf(&form, "&target=%s", enc);
			free(enc);
			free(t);
		}
		h[b].post = buf_steal(&form);
	}
	health_http_run(h, nb, g->parallel, timeout);
	out->requests = (unsigned)nb;
	for (b = 0; b < nb; b++) {
		struct health_series *part = out->v + h[b].first;

		if (!h[b].error[0] && health_graphite_parse(part, h[b].count, h[b].body.data ?
		    h[b].body.data : "", h[b].body.len) != OK)
			snprintf(h[b].error, sizeof(h[b].error), "%s", err_last());
		if (h[b].error[0]) {
			/* Nothing of a failed request is believed. */
			memset(part, 0, h[b].count * sizeof(*part));
			out->failed++;
			if (!out->error[0])
				snprintf(out->error, sizeof(out->error), "%s", h[b].error);
		}
	}
	health_http_dispose(h, nb);
	return OK;
}

static const struct health_ops graphite_ops = {
	graphite_open, graphite_fetch, graphite_describe, graphite_timeout, graphite_close,
};

const struct health_provider health_graphite = {
	HEALTH_PROVIDER_ABI, "graphite", &graphite_ops,
};
