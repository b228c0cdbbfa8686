/*
 * hsource.h - what the health sources of this folder share: the parsers
 * of their answers (pure functions over hostile bytes, which the unit and
 * fuzz tests call directly) and the HTTP driver that runs one
 * evaluation's requests in parallel.  Each parser fills the series of the
 * hosts an answer names; a series that names no host of the request is
 * ignored.  Layer: providers/health (only this folder and the tests
 * include it).
 */
#ifndef FIREBREAK_HSOURCE_H
#define FIREBREAK_HSOURCE_H

#include <stddef.h>

#include "providers/health/health.h"

/*
 * Graphite's render API, format=json: a list of {"target": NAME,
 * "datapoints": [[VALUE|null, TIMESTAMP], ...]} where NAME is the alias
 * the request gave ("fb<i>": host i of out[0..n)).  Nulls are dropped;
 * "last" is the value of the point with the highest timestamp.  OK, or
 * ERR_INVALID when the answer is not that shape (then nothing in out is
 * trusted by the caller), ERR_TOOBIG beyond HEALTH_MAX_POINTS.
 */
int health_graphite_parse(struct health_series *out, size_t n, const char *body, size_t len);
/* The same where series are named by `names[i]` (a host's short name: the
 * node groupByNode and aliasByNode name a series by) instead of "fb<i>". */
int health_graphite_parse_named(struct health_series *out, size_t n, const char *const *names,
    const char *body, size_t len);

/*
 * Can Graphite answer `tmpl` for many hosts with one expression?  When the
 * template is PATH or AGG(PATH) (AGG one of sumSeries, averageSeries,
 * minSeries, maxSeries), {host_short} is one whole node of PATH and
 * {host} is not used, returns 1 with *node the index of that node and
 * *agg the aggregation ("" for a bare PATH, which must then have no
 * wildcard: one series per host).  The caller then asks
 * groupByNode(PATH', node, "AGG") or aliasByNode(PATH', node), PATH' with
 * {host_short} as a brace list of the hosts: the same series, by host,
 * for a hundred hosts at the cost Graphite's parser spends on one.
 */
int health_graphite_batchable(const char *tmpl, unsigned *node, char agg[16]);

/*
 * Prometheus's /api/v1/query answer: {"status": "success", "data":
 * {"resultType": "matrix"|"vector", "result": [{"metric": {"fb_host":
 * "<i>", ...}, "values": [[TS, "V"], ...]} | {..., "value": [TS, "V"]}]}}.
 * Values "NaN", "+Inf" and "-Inf" are dropped like Graphite's nulls.
 * Anything else (status "error", a scalar or string result, a value that
 * is not a number) is ERR_INVALID.
 */
int health_prometheus_parse(struct health_series *out, size_t n, const char *body, size_t len);

/* Does the JSON text nest at most `max` arrays and objects deep (strings
 * skipped)?  Checked before jansson parses an answer. */
int health_json_depth_ok(const char *body, size_t len, unsigned max);

/* The reference names hosts by: "fb<i>" -> i, when i < n; else -1. */
long health_ref_index(const char *name, size_t n);

/*
 * One HTTP POST of an evaluation (application/x-www-form-urlencoded).
 * The driver fills `body` (at most HEALTH_BODY_MAX bytes), `status` (the
 * HTTP code, 0 when none came) and `error` (our words, "" on a 200).
 */
struct health_http {
	char *url;                  /* owns */
	char *post;                 /* owns */
	size_t first, count;        /* the hosts it asks about: first..first+count */
	size_t *idx;                /* owns: or these `count` hosts, when not NULL */
	char **names;               /* owns: what the answer names them (NULL: fb<k>) */
	struct buf body;
	long status;
	char error[HEALTH_ERROR_MAX];
};

/* Run the requests, at most `parallel` at once, each within `timeout`
 * seconds (libcurl's multi interface; blocking: only in the child). */
void health_http_run(struct health_http *rq, size_t n, unsigned parallel, unsigned timeout);
void health_http_dispose(struct health_http *rq, size_t n);
/* Form-encode s (owns the result). */
char *health_urlencode(const char *s);

#endif
