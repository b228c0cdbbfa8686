/*
 * test_health.c - the health sources' parsers (Graphite's render JSON,
 * Prometheus's query answer) over hostile bodies, and the rules of a check:
 * the condition, the window, the query template (no injection), max_drained.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"
#include "providers/health/health.h"
#include "providers/health/hsource.h"
#include "state/healthcfg.h"

/* ---- graphite ----------------------------------------------------------- */

struct parse_case {
	const char *name;
	const char *body;
	size_t n;
	int rc;
	/* expected per host: points, sum, last (for the first two hosts) */
	size_t pts[2];
	double sum[2], last[2];
};

static const struct parse_case graphite_cases[] = {
	{ "two hosts, nulls dropped, last is the latest point",
	  "[{\"target\":\"fb0\",\"datapoints\":[[1,10],[null,20],[3,30]]},"
	  "{\"target\":\"fb1\",\"datapoints\":[[5,10]]}]", 2, OK, { 2, 1 }, { 4, 5 }, { 3, 5 } },
	{ "empty answer: no data for anyone", "[]", 2, OK, { 0, 0 }, { 0, 0 }, { 0, 0 } },
	{ "only nulls: no data", "[{\"target\":\"fb0\",\"datapoints\":[[null,1],[null,2]]}]", 2, OK,
	  { 0, 0 }, { 0, 0 }, { 0, 0 } },
	{ "out-of-order points: last by timestamp",
	  "[{\"target\":\"fb0\",\"datapoints\":[[7,30],[1,10]]}]", 1, OK, { 2, 0 }, { 8, 0 }, { 7, 0 } },
	{ "a series for a host not asked about is ignored",
	  "[{\"target\":\"fb9\",\"datapoints\":[[1,1]]},{\"target\":\"web-01\",\"datapoints\":[[1,1]]},"
	  "{\"target\":\"fb01\",\"datapoints\":[[1,1]]}]", 2, OK, { 0, 0 }, { 0, 0 }, { 0, 0 } },
	{ "two series of one host are pooled",
	  "[{\"target\":\"fb0\",\"datapoints\":[[1,1]]},{\"target\":\"fb0\",\"datapoints\":[[2,2]]}]",
	  1, OK, { 2, 0 }, { 3, 0 }, { 2, 0 } },
	{ "not JSON", "[{\"target\": \"fb0\", \"datapoints\": [[1, 2]", 1, ERR_INVALID, { 0 }, { 0 },
	  { 0 } },
	{ "an object, not a list", "{\"target\":\"fb0\"}", 1, ERR_INVALID, { 0 }, { 0 }, { 0 } },
	{ "a datapoint that is a string", "[{\"target\":\"fb0\",\"datapoints\":[[\"1\",2]]}]", 1,
	  ERR_INVALID, { 0 }, { 0 }, { 0 } },
	{ "a datapoint of three", "[{\"target\":\"fb0\",\"datapoints\":[[1,2,3]]}]", 1, ERR_INVALID,
	  { 0 }, { 0 }, { 0 } },
	{ "duplicate keys are refused", "[{\"target\":\"fb0\",\"target\":\"fb1\",\"datapoints\":[]}]",
	  2, ERR_INVALID, { 0 }, { 0 }, { 0 } },
	{ "a target that is not a string", "[{\"target\":7,\"datapoints\":[]}]", 1, ERR_INVALID,
	  { 0 }, { 0 }, { 0 } },
	{ "nested too deep", "[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]", 1, ERR_INVALID, { 0 },
	  { 0 }, { 0 } },
};

static void
test_graphite(void **state)
{
	const struct parse_case *c = *state;
	struct health_series v[2];
	size_t i;

	memset(v, 0, sizeof(v));
	assert_int_equal(health_graphite_parse(v, c->n, c->body, strlen(c->body)), c->rc);
	if (c->rc != OK)
		return;
	for (i = 0; i < c->n && i < 2; i++) {
		assert_int_equal(v[i].n, c->pts[i]);
		if (!c->pts[i])
			continue;
		assert_true(fabs(v[i].sum - c->sum[i]) < 1e-9);
		assert_true(fabs(v[i].last - c->last[i]) < 1e-9);
	}
}

/* ---- prometheus --------------------------------------------------------- */

static const struct parse_case prom_cases[] = {
	{ "a matrix, NaN dropped",
	  "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
	  "{\"metric\":{\"fb_host\":\"fb0\",\"job\":\"x\"},\"values\":[[1,\"1\"],[2,\"NaN\"],[3,\"2.5\"]]},"
	  "{\"metric\":{\"fb_host\":\"fb1\"},\"values\":[[1,\"+Inf\"]]}]}}", 2, OK, { 2, 0 },
	  { 3.5, 0 }, { 2.5, 0 } },
	{ "a vector", "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
	  "{\"metric\":{\"fb_host\":\"fb1\"},\"value\":[1,\"4\"]}]}}", 2, OK, { 0, 1 }, { 0, 4 },
	  { 0, 4 } },
	{ "no result: no data", "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\","
	  "\"result\":[]}}", 1, OK, { 0 }, { 0 }, { 0 } },
	{ "status error", "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"x\"}", 1,
	  ERR_INVALID, { 0 }, { 0 }, { 0 } },
	{ "a scalar result", "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
	  "\"result\":[1,\"1\"]}}", 1, ERR_INVALID, { 0 }, { 0 }, { 0 } },
	{ "a value that is no number", "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
	  "\"result\":[{\"metric\":{\"fb_host\":\"fb0\"},\"value\":[1,\"0x10\"]}]}}", 1, ERR_INVALID,
	  { 0 }, { 0 }, { 0 } },
	{ "a series without fb_host is ignored", "{\"status\":\"success\",\"data\":{\"resultType\":"
	  "\"vector\",\"result\":[{\"metric\":{},\"value\":[1,\"1\"]}]}}", 1, OK, { 0 }, { 0 }, { 0 } },
};

static void
test_prometheus(void **state)
{
	const struct parse_case *c = *state;
	struct health_series v[2];
	size_t i;

	memset(v, 0, sizeof(v));
	assert_int_equal(health_prometheus_parse(v, c->n, c->body, strlen(c->body)), c->rc);
	if (c->rc != OK)
		return;
	for (i = 0; i < c->n && i < 2; i++) {
		assert_int_equal(v[i].n, c->pts[i]);
		if (!c->pts[i])
			continue;
		assert_true(fabs(v[i].sum - c->sum[i]) < 1e-9);
		assert_true(fabs(v[i].last - c->last[i]) < 1e-9);
	}
}

/* ---- the condition -------------------------------------------------------- */

struct cond_case {
	const char *name;
	const char *text;
	int rc;
	enum health_func func;
	enum health_op op;
	double value;
	const char *back;
};

static const struct cond_case cond_cases[] = {
	{ "avg < 50", "avg < 50", OK, HEALTH_AVG, HEALTH_LT, 50, "avg < 50" },
	{ "no spaces", "min<=0.5", OK, HEALTH_MIN, HEALTH_LE, 0.5, "min <= 0.5" },
	{ "negative, exponent", "max >= -1e3", OK, HEALTH_MAX, HEALTH_GE, -1000, "max >= -1000" },
	{ "last >", " last > 2 ", OK, HEALTH_LAST, HEALTH_GT, 2, "last > 2" },
	{ "sum", "sum < 10", OK, HEALTH_SUM, HEALTH_LT, 10, "sum < 10" },
	{ "unknown function", "mean < 50", ERR_INVALID, 0, 0, 0, NULL },
	{ "no operator", "avg 50", ERR_INVALID, 0, 0, 0, NULL },
	{ "equality is not offered", "avg == 50", ERR_INVALID, 0, 0, 0, NULL },
	{ "hex", "avg < 0x10", ERR_INVALID, 0, 0, 0, NULL },
	{ "nan", "avg < nan", ERR_INVALID, 0, 0, 0, NULL },
	{ "inf", "avg < inf", ERR_INVALID, 0, 0, 0, NULL },
	{ "trailing words", "avg < 50 over 5min", ERR_INVALID, 0, 0, 0, NULL },
	{ "overflow", "avg < 1e999", ERR_INVALID, 0, 0, 0, NULL },
	{ "empty", "", ERR_INVALID, 0, 0, 0, NULL },
};

static void
test_cond(void **state)
{
	const struct cond_case *c = *state;
	struct health_cond hc;
	char back[64];

	assert_int_equal(health_cond_parse(&hc, c->text), c->rc);
	if (c->rc != OK)
		return;
	assert_int_equal(hc.func, c->func);
	assert_int_equal(hc.op, c->op);
	assert_true(hc.value == c->value);
	health_cond_format(back, sizeof(back), &hc);
	assert_string_equal(back, c->back);
}

static void
test_cond_holds(void **state)
{
	struct health_cond c;

	(void)state;
	assert_int_equal(health_cond_parse(&c, "avg < 50"), OK);
	assert_true(health_cond_holds(&c, 49.9));
	assert_false(health_cond_holds(&c, 50));
	assert_int_equal(health_cond_parse(&c, "avg <= 50"), OK);
	assert_true(health_cond_holds(&c, 50));
	assert_true(health_func_value(HEALTH_AVG, 4, 10, 1, 4, 3) == 2.5);
	assert_true(health_func_value(HEALTH_LAST, 4, 10, 1, 4, 3) == 3);
	assert_true(health_func_value(HEALTH_SUM, 4, 10, 1, 4, 3) == 10);
}

/* ---- durations ----------------------------------------------------------- */

struct dur_case {
	const char *name;
	const char *text;
	int rc;
	unsigned secs;
};

static const struct dur_case dur_cases[] = {
	{ "bare seconds", "300", OK, 300 },
	{ "s", "300s", OK, 300 },
	{ "min", "5min", OK, 300 },
	{ "m", "5m", OK, 300 },
	{ "h", "2h", OK, 7200 },
	{ "d", "1d", OK, 86400 },
	{ "too short", "5s", ERR_INVALID, 0 },
	{ "too long", "8d", ERR_INVALID, 0 },
	{ "a space", "5 min", ERR_INVALID, 0 },
	{ "unknown unit", "5w", ERR_INVALID, 0 },
	{ "negative", "-5min", ERR_INVALID, 0 },
	{ "empty", "", ERR_INVALID, 0 },
};

static void
test_duration(void **state)
{
	const struct dur_case *c = *state;
	unsigned v = 0;

	assert_int_equal(health_duration_parse(&v, c->text, HEALTH_OVER_MIN, HEALTH_OVER_MAX), c->rc);
	if (c->rc == OK)
		assert_int_equal(v, c->secs);
}

/* ---- the template ------------------------------------------------------- */

struct expand_case {
	const char *name;
	const char *tmpl, *host, *role;
	int rc;
	const char *out;
};

static const struct expand_case expand_cases[] = {
	{ "host_short", "sumSeries(canary.{host_short}.received)", "web-03.example.com", "web", OK,
	  "sumSeries(canary.web-03.received)" },
	{ "host and role", "x.{role}.{host}", "db-01.example.com", "db", OK,
	  "x.db.db-01.example.com" },
	{ "graphite braces stay", "canary.{a,b}.{host_short}", "web-01.example.com", "web", OK,
	  "canary.{a,b}.web-01" },
	{ "an unknown placeholder stays", "{hostname}.{host_short}", "web-01.example.com", "web", OK,
	  "{hostname}.web-01" },
	{ "a host with URL syntax is refused", "{host}", "web&target=x.example.com", "web",
	  ERR_INVALID, NULL },
	{ "a host with a quote is refused", "{host}", "web\".example.com", "web", ERR_INVALID, NULL },
	{ "a role with a paren is refused", "{role}", "web-01.example.com", "web)", ERR_INVALID, NULL },
	{ "an uppercase host is refused", "{host}", "WEB.example.com", "web", ERR_INVALID, NULL },
};

static void
test_expand(void **state)
{
	const struct expand_case *c = *state;
	struct buf b = BUF_INIT;

	assert_int_equal(health_expand(&b, c->tmpl, c->host, c->role), c->rc);
	if (c->rc == OK)
		assert_string_equal(b.data, c->out);
	else
		assert_int_equal(b.len, 0);
	buf_dispose(&b);
}

static void
test_urlencode(void **state)
{
	char *e = health_urlencode("alias(sumSeries(a.{b}.c),\"fb0\")&x=1 %");

	(void)state;
	/* Once: every byte that means something in a form is escaped. */
	assert_string_equal(e, "alias%28sumSeries%28a.%7Bb%7D.c%29%2C%22fb0%22%29%26x%3D1%20%25");
	free(e);
}

/* ---- grouping hosts in one Graphite expression ---------------------------- */

struct batch_case {
	const char *name;
	const char *tmpl;
	int ok;
	unsigned node;
	const char *agg;
};

static const struct batch_case batch_cases[] = {
	{ "sumSeries of a path", "sumSeries(canary.{host_short}.received)", 1, 1, "sumSeries" },
	{ "a bare path", "canary.{host_short}.received", 1, 1, "" },
	{ "first node", "{host_short}.cpu", 1, 0, "" },
	{ "last node, with a role", "app.{role}.{host_short}", 1, 2, "" },
	{ "a glob under an aggregation", "averageSeries(canary.{host_short}.*.ok)", 1, 1,
	  "averageSeries" },
	{ "a glob without one: several series per host", "canary.{host_short}.*", 0, 0, "" },
	{ "another function", "scale(canary.{host_short}.x,2)", 0, 0, "" },
	{ "nested", "sumSeries(scale(canary.{host_short}.x,2))", 0, 0, "" },
	{ "the fqdn (several nodes)", "canary.{host}.x", 0, 0, "" },
	{ "part of a node", "canary.host-{host_short}.x", 0, 0, "" },
	{ "a brace glob", "sumSeries(canary.{a,b}.{host_short})", 0, 0, "" },
	{ "no host", "sumSeries(canary.x)", 0, 0, "" },
};

static void
test_batchable(void **state)
{
	const struct batch_case *c = *state;
	unsigned node = 99;
	char agg[16];

	assert_int_equal(health_graphite_batchable(c->tmpl, &node, agg), c->ok);
	if (!c->ok)
		return;
	assert_int_equal(node, c->node);
	assert_string_equal(agg, c->agg);
}

static void
test_named(void **state)
{
	static const char *const names[] = { "web-01", "web-02" };
	static const char body[] = "[{\"target\":\"web-02\",\"datapoints\":[[4,1]]},"
	    "{\"target\":\"fb0\",\"datapoints\":[[1,1]]},{\"target\":\"web-03\",\"datapoints\":[[1,1]]}]";
	struct health_series v[2];

	(void)state;
	memset(v, 0, sizeof(v));
	assert_int_equal(health_graphite_parse_named(v, 2, names, body, strlen(body)), OK);
	assert_int_equal(v[0].n, 0);
	assert_int_equal(v[1].n, 1);
	assert_true(v[1].last == 4);
}

/* ---- max_drained ----------------------------------------------------------- */

static void
test_max_drained(void **state)
{
	struct health_limit pct = { 20, 1 }, half = { 50, 1 }, two = { 2, 0 };

	(void)state;
	assert_int_equal(health_max_drained(&pct, 4), 1);    /* 0.8 rounds down, at least 1 */
	assert_int_equal(health_max_drained(&pct, 10), 2);
	assert_int_equal(health_max_drained(&pct, 14), 2);   /* 2.8 rounds down */
	assert_int_equal(health_max_drained(&half, 5), 2);
	assert_int_equal(health_max_drained(&two, 10), 2);
	assert_int_equal(health_max_drained(&pct, 0), 1);
}

/* ---- numbers -------------------------------------------------------------- */

static void
test_numbers(void **state)
{
	double v;

	(void)state;
	assert_int_equal(health_number_parse(&v, "1.5e2"), OK);
	assert_true(v == 150);
	assert_int_equal(health_number_parse(&v, "-.5"), OK);
	assert_true(v == -0.5);
	assert_int_equal(health_number_parse(&v, "."), ERR_INVALID);
	assert_int_equal(health_number_parse(&v, "1e"), ERR_INVALID);
	assert_int_equal(health_number_parse(&v, " 1"), ERR_INVALID);
	assert_int_equal(health_number_parse(&v, "Infinity"), ERR_INVALID);
	assert_int_equal(health_number_parse(&v, "NaN"), ERR_INVALID);
	assert_int_equal(health_number_parse(&v, "1e400"), ERR_INVALID);
	assert_int_equal(health_ref_index("fb3", 4), 3);
	assert_int_equal(health_ref_index("fb4", 4), -1);
	assert_int_equal(health_ref_index("fb03", 4), -1);
	assert_int_equal(health_ref_index("fb", 4), -1);
	assert_int_equal(health_ref_index("fb-1", 4), -1);
	assert_int_equal(health_ref_index(NULL, 4), -1);
}

int
main(void)
{
	struct CMUnitTest tests[128];
	size_t n = 0;

	CASES(test_graphite, graphite_cases);
	CASES(test_prometheus, prom_cases);
	CASES(test_cond, cond_cases);
	CASES(test_duration, dur_cases);
	CASES(test_expand, expand_cases);
	CASES(test_batchable, batch_cases);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_named);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_cond_holds);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_urlencode);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_max_drained);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_numbers);
	return _cmocka_run_group_tests("health", tests, n, NULL, NULL);
}
