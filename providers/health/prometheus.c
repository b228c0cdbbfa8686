/*
 * prometheus.c - the `prometheus` health source: Prometheus's HTTP API,
 * /api/v1/query.
 *
 *   health:
 *     source: {type: prometheus, url: "http://127.0.0.1:9090", timeout: 10,
 *              batch: 50, parallel: 4}
 *
 * One query asks about `batch` hosts: each host's expanded expression is
 * labelled with label_replace(E, "fb_host", "fb<k>", "", "") (k: its place
 * in the request), the labelled expressions are joined with `or` (their
 * label sets differ by fb_host, so none hides another), and the whole is
 * a subquery over the window at the default resolution:
 *
 *   (label_replace(E0, ...) or label_replace(E1, ...) ...)[300s:]
 *
 * which /api/v1/query answers as a matrix: every host's points over the
 * window, as Graphite's render gives them.  The form body is URL-encoded
 * once, here; the values put into the expressions are validated names.
 */
#include "providers/health/health.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/health/hsource.h"

#define PROM_BATCH_DEFAULT 50
#define PROM_PARALLEL_DEFAULT 4

struct prom {
	struct health_endpoint ep;   /* first: its describe and timeout ops */
	unsigned batch, parallel;
};

static const char *const prom_keys[] = { "url", "timeout", "batch", "parallel", NULL };

static void
prom_close(void *st)
{
	struct prom *p = st;

	if (!p)
		return;
	health_endpoint_dispose(&p->ep);
	free(p);
}

static int
prom_open(void **out, const struct ynode *cfg)
{
	struct prom *p;
	int rc;

	*out = NULL;
	if ((rc = health_check_keys(cfg, "prometheus", prom_keys)) != OK)
		return rc;
	p = xcalloc(1, sizeof(*p));
	if ((rc = health_common_parse(&p->ep, cfg, "prometheus")) != OK ||
	    (rc = health_opt_u(&p->batch, cfg, "prometheus", "batch", PROM_BATCH_DEFAULT,
	    500)) != OK ||
	    (rc = health_opt_u(&p->parallel, cfg, "prometheus", "parallel",
	    PROM_PARALLEL_DEFAULT, 16)) != OK) {
		prom_close(p);
		return rc;
	}
	*out = p;
	return OK;
}

/* ---- the answer ------------------------------------------------------------ */

/* One [TS, "V"] pair into the series; the timestamp orders "last". */
static int
add_pair(struct health_series *s, double *best_ts, int *have, const json_t *pair)
{
	const json_t *ts = json_array_get(pair, 0);
	const char *v = json_string_value(json_array_get(pair, 1));
	double dv;

	if (!json_is_array(pair) || json_array_size(pair) != 2 || !json_is_number(ts) || !v)
		return err_set(ERR_INVALID, "malformed answer (a sample is not [time, \"value\"])");
	if (!strcmp(v, "NaN") || !strcmp(v, "+Inf") || !strcmp(v, "-Inf") || !strcmp(v, "Inf"))
		return OK;
	if (health_number_parse(&dv, v) != OK)
		return err_set(ERR_INVALID, "malformed answer (a value is not a number)");
	if (!s)
		return OK;
	health_series_add(s, dv);
	if (!*have || json_number_value(ts) >= *best_ts) {
		*best_ts = json_number_value(ts);
		*have = 1;
		s->last = dv;
	}
	return OK;
}

int
health_prometheus_parse(struct health_series *out, size_t n, const char *body, size_t len)
{
	json_error_t je;
	json_t *root;
	json_t *data, *result, *r;
	const char *status, *type;
	size_t i, points = 0;
	int rc = OK;

	if (!health_json_depth_ok(body, len, HEALTH_JSON_DEPTH))
		return err_set(ERR_INVALID, "malformed answer (nested deeper than %d)",
		    HEALTH_JSON_DEPTH);
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	status = json_string_value(json_object_get(root, "status"));
	data = json_object_get(root, "data");
	type = json_string_value(json_object_get(data, "resultType"));
	result = json_object_get(data, "result");
	if (!root || !status || strcmp(status, "success") != 0 || !type || !json_is_array(result) ||
	    (strcmp(type, "matrix") != 0 && strcmp(type, "vector") != 0)) {
		json_decref(root);
		return err_set(ERR_INVALID, "malformed answer (not a successful vector or matrix)");
	}
	json_array_foreach(result, i, r) {
		json_t *metric = json_object_get(r, "metric"), *values = json_object_get(r, "values");
		json_t *value = json_object_get(r, "value"), *pair;
		long idx = health_ref_index(json_string_value(json_object_get(metric, "fb_host")), n);
		struct health_series *s = idx >= 0 ? &out[idx] : NULL;
		double best = 0;
		int have = 0;
		size_t k;

		if (!json_is_object(r) || !json_is_object(metric) ||
		    (values ? !json_is_array(values) : !value)) {
			rc = err_set(ERR_INVALID, "malformed answer (a series without metric or values)");
			break;
		}
		if (!values) {
			if (++points > HEALTH_MAX_POINTS || (rc = add_pair(s, &best, &have, value)) != OK) {
				if (rc == OK)
					rc = err_set(ERR_TOOBIG, "an answer of more than %u points",
					    HEALTH_MAX_POINTS);
				break;
			}
			continue;
		}
		json_array_foreach(values, k, pair) {
			if (++points > HEALTH_MAX_POINTS) {
				rc = err_set(ERR_TOOBIG, "an answer of more than %u points",
				    HEALTH_MAX_POINTS);
				goto out;
			}
			if ((rc = add_pair(s, &best, &have, pair)) != OK)
				goto out;
		}
	}
out:
	json_decref(root);
	return rc;
}

/* ---- asking ----------------------------------------------------------------- */

static int
prom_fetch(void *st, const struct health_request *rq, struct health_answer *out)
{
	struct prom *p = st;
	size_t nb = rq->n ? (rq->n + p->batch - 1) / p->batch : 0, b, i;
	struct health_http *h = xcalloc(nb ? nb : 1, sizeof(*h));
	unsigned timeout = rq->timeout ? rq->timeout : p->ep.timeout;

	for (b = 0; b < nb; b++) {
		struct buf q = BUF_INIT;
		char *enc;

		h[b].first = b * p->batch;
		h[b].count = rq->n - h[b].first < p->batch ? rq->n - h[b].first : p->batch;
		h[b].url = xasprintf("%s/api/v1/query", p->ep.url);
		buf_puts(&q, "(");
		for (i = 0; i < h[b].count; i++)
			buf_printf(&q, "%slabel_replace(%s, \"fb_host\", \"fb%zu\", \"\", \"\")",
			    i ? " or " : "", rq->exprs[h[b].first + i], i);
		buf_printf(&q, ")[%us:]", rq->over);
		enc = health_urlencode(q.data);
		h[b].post = xasprintf("query=%s&timeout=%us", enc, timeout);
		free(enc);
		buf_dispose(&q);
	}
	health_http_run(h, nb, p->parallel, timeout);
	out->requests = (unsigned)nb;
	for (b = 0; b < nb; b++) {
		struct health_series *part = out->v + h[b].first;

		if (!h[b].error[0] && health_prometheus_parse(part, h[b].count, h[b].body.data ?
		    h[b].body.data : "", h[b].body.len) != OK)
			snprintf(h[b].error, sizeof(h[b].error), "%s", err_last());
		if (h[b].error[0]) {
			memset(part, 0, h[b].count * sizeof(*part));
			out->failed++;
			if (!out->error[0])
				snprintf(out->error, sizeof(out->error), "%s", h[b].error);
		}
	}
	health_http_dispose(h, nb);
	return OK;
}

static const struct health_ops prom_ops = {
	prom_open, prom_fetch, health_endpoint_describe, health_endpoint_timeout, prom_close,
};

const struct health_provider health_prometheus = {
	HEALTH_PROVIDER_ABI, "prometheus", &prom_ops,
};
