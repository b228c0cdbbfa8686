/*
 * healthcfg.c - the `health:` and `metrics:` blocks of the controller
 * config, and the rules of a check.  See healthcfg.h.
 */
#include "state/healthcfg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "model/model.h"
#include "providers/health/health.h"

static const char *const health_keys[] = { "source", "every", "checks", "max_drained",
	"unreachable_after" };
static const char *const check_keys[] = { "name", "roles", "query", "over", "fail_if",
	"no_data", "action", "every" };
static const char *const metrics_keys[] = { "graphite", "prefix", "interval", "queue" };
static const char *const func_names[] = { "avg", "min", "max", "last", "sum" };
static const char *const op_names[] = { "<", "<=", ">", ">=" };

struct hctx {
	struct diags *d;
	const char *file;
};

/* A problem at node n of the configuration file. */
#define bad(x, n, ...) diags_at((x)->d, (x)->file, (n), __VA_ARGS__)

static int
is_null(const struct ynode *n)
{
	return n && n->type == YNODE_SCALAR && ynode_scalar_kind(n) == YSCALAR_NULL;
}

/* A string scalar without NULs, or NULL (with a problem when present but
 * not a string). */
static const char *
scalar(struct hctx *x, const struct ynode *map, const char *key, const char *what)
{
	const struct ynode *n = ynode_get(map, key);

	if (!n || is_null(n))
		return NULL;
	if (n->type != YNODE_SCALAR || strlen(n->str) != n->len) {
		bad(x, n, "'%s.%s' must be a string, not %s", what, key, ynode_type_name(n));
		return NULL;
	}
	return n->str;
}

/* ---- the rules ------------------------------------------------------------ */

const char *
health_func_name(enum health_func f)
{
	ASSERT(f <= HEALTH_SUM);
	return func_names[f];
}

int
health_cond_parse(struct health_cond *out, const char *s)
{
	char fn[8], num[72];
	size_t i, k;
	const char *p = s;

	memset(out, 0, sizeof(*out));
	while (*p == ' ')
		p++;
	for (k = 0; *p >= 'a' && *p <= 'z' && k + 1 < sizeof(fn); p++)
		fn[k++] = *p;
	fn[k] = '\0';
	for (i = 0; i <= HEALTH_SUM && strcmp(fn, func_names[i]) != 0; i++)
		;
	if (i > HEALTH_SUM)
		return err_set(ERR_INVALID, "'%.40s' is not a condition: it starts with avg, min, "
		    "max, last or sum, like \"avg < 50\"", s);
	out->func = (enum health_func)i;
	while (*p == ' ')
		p++;
	if (p[0] == '<' || p[0] == '>') {
		int eq = p[1] == '=';

		out->op = p[0] == '<' ? (eq ? HEALTH_LE : HEALTH_LT) : (eq ? HEALTH_GE : HEALTH_GT);
		p += 1 + eq;
	} else {
		return err_set(ERR_INVALID, "'%.40s': the comparison is one of < <= > >=", s);
	}
	while (*p == ' ')
		p++;
	for (k = 0; *p && *p != ' ' && k + 1 < sizeof(num); p++)
		num[k++] = *p;
	num[k] = '\0';
	while (*p == ' ')
		p++;
	if (*p || health_number_parse(&out->value, num) != OK)
		return err_set(ERR_INVALID, "'%.40s': the condition ends with a number, like "
		    "\"avg < 50\"", s);
	return OK;
}

void
health_cond_format(char *out, size_t n, const struct health_cond *c)
{
	snprintf(out, n, "%s %s %g", func_names[c->func], op_names[c->op], c->value);
}

double
health_func_value(enum health_func f, size_t n, double sum, double min, double max, double last)
{
	switch (f) {
	case HEALTH_AVG:
		return n ? sum / (double)n : 0;
	case HEALTH_MIN:
		return min;
	case HEALTH_MAX:
		return max;
	case HEALTH_LAST:
		return last;
	case HEALTH_SUM:
		return sum;
	}
	return 0;
}

int
health_cond_holds(const struct health_cond *c, double v)
{
	switch (c->op) {
	case HEALTH_LT:
		return v < c->value;
	case HEALTH_LE:
		return v <= c->value;
	case HEALTH_GT:
		return v > c->value;
	case HEALTH_GE:
		return v >= c->value;
	}
	return 0;
}

int
health_duration_parse(unsigned *out, const char *s, unsigned min, unsigned max)
{
	static const struct { const char *unit; unsigned mult; } units[] = {
		{ "", 1 }, { "s", 1 }, { "sec", 1 }, { "m", 60 }, { "min", 60 }, { "h", 3600 },
		{ "d", 86400 },
	};
	char digits[16];
	const char *p = s;
	size_t k = 0, i;
	uint64_t v;

	while (*p >= '0' && *p <= '9' && k + 1 < sizeof(digits))
		digits[k++] = *p++;
	digits[k] = '\0';
	if (!k || parse_u64(&v, digits, 1, 1000000) != OK)
		return err_set(ERR_INVALID, "'%.40s' is not a duration (like 300, 300s, 5min, 1h)",
		    s);
	for (i = 0; i < sizeof(units) / sizeof(*units); i++)
		if (strcmp(p, units[i].unit) == 0)
			break;
	if (i == sizeof(units) / sizeof(*units))
		return err_set(ERR_INVALID, "'%.40s' is not a duration (like 300, 300s, 5min, 1h)",
		    s);
	v *= units[i].mult;
	if (v < min || v > max)
		return err_set(ERR_INVALID, "'%.40s' is outside %u..%u seconds", s, min, max);
	*out = (unsigned)v;
	return OK;
}

int
health_expand(struct buf *out, const char *tmpl, const char *host, const char *role)
{
	static const char *const names[] = { "{host}", "{host_short}", "{role}" };
	const char *p = tmpl;
	size_t short_len;

	if (!host || !valid_fqdn(host) || !role || !valid_role(role))
		return err_set(ERR_INVALID, "not a valid host or role name");
	short_len = strcspn(host, ".");
	while (*p) {
		size_t i;

		for (i = 0; i < 3; i++)
			if (strncmp(p, names[i], strlen(names[i])) == 0)
				break;
		if (i == 0)
			buf_puts(out, host);
		else if (i == 1)
			buf_append(out, host, short_len);
		else if (i == 2)
			buf_puts(out, role);
		else {
			buf_putc(out, *p++);
			continue;
		}
		p += strlen(names[i]);
	}
	return OK;
}

size_t
health_max_drained(const struct health_limit *l, size_t counted)
{
	size_t m = l->percent ? counted * l->value / 100 : l->value;

	return m < 1 ? 1 : m;
}

/* ---- parsing ---------------------------------------------------------------- */

static int
check_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > HEALTH_NAME_MAX || !((s[0] >= 'a' && s[0] <= 'z') ||
	    (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return 0;
	return 1;
}

/* A query template: printable ASCII, bounded, naming the host. */
static int
query_ok(struct hctx *x, const struct ynode *n, const char *q)
{
	const char *p;

	if (strlen(q) > HEALTH_QUERY_MAX) {
		bad(x, n, "a query is at most %d bytes", HEALTH_QUERY_MAX);
		return 0;
	}
	for (p = q; *p; p++)
		if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f) {
			bad(x, n, "a query is printable ASCII on one line");
			return 0;
		}
	if (!strstr(q, "{host}") && !strstr(q, "{host_short}")) {
		bad(x, n, "the query must name the host: {host} or {host_short} (otherwise every "
		    "host gets the same answer)");
		return 0;
	}
	return 1;
}

static void
parse_check(struct hctx *x, struct health_check *c, const struct ynode *m, unsigned every)
{
	const struct ynode *n;
	const char *s;
	char what[96];
	size_t i;

	c->line = m->line;
	c->every = every;
	diags_unknown_keys(x->d, x->file, m, check_keys, sizeof(check_keys) / sizeof(*check_keys),
	    "a health check");
	if ((s = scalar(x, m, "name", "health.checks[]")) && check_name_ok(s))
		c->name = xstrdup(s);
	else
		bad(x, m, "a health check needs a 'name' ([a-z0-9][a-z0-9_.-]{0,63}, like "
		    "canary-data)");
	snprintf(what, sizeof(what), "health check '%s'", c->name ? c->name : "?");
	if ((n = ynode_get(m, "roles")) && n->type == YNODE_SEQ && n->n) {
		for (i = 0; i < n->n; i++)
			if (n->items[i]->type == YNODE_SCALAR && valid_role(n->items[i]->str))
				strlist_push(&c->roles, n->items[i]->str, n->items[i]->line);
			else
				bad(x, n->items[i], "%s: roles are role names", what);
	} else {
		bad(x, n ? n : m, "%s: 'roles' is a non-empty list of roles", what);
	}
	if ((s = scalar(x, m, "query", what)) && query_ok(x, ynode_get(m, "query"), s))
		c->query = xstrdup(s);
	else if (!s)
		bad(x, m, "%s: 'query' is required, like \"sumSeries(canary.{host_short}.received)\"",
		    what);
	if ((s = scalar(x, m, "over", what))) {
		if (health_duration_parse(&c->over, s, HEALTH_OVER_MIN, HEALTH_OVER_MAX) != OK)
			bad(x, ynode_get(m, "over"), "%s: over: %s", what, err_last());
		else
			c->over_text = xstrdup(s);
	} else {
		bad(x, m, "%s: 'over' is required (the window, like 5min)", what);
	}
	if ((s = scalar(x, m, "fail_if", what))) {
		if (health_cond_parse(&c->fail_if, s) != OK)
			bad(x, ynode_get(m, "fail_if"), "%s: fail_if: %s", what, err_last());
	} else {
		bad(x, m, "%s: 'fail_if' is required, like \"avg < 50\"", what);
	}
	c->no_data = HEALTH_NODATA_INCONCLUSIVE;
	if ((s = scalar(x, m, "no_data", what))) {
		if (strcmp(s, "inconclusive") == 0)
			c->no_data = HEALTH_NODATA_INCONCLUSIVE;
		else if (strcmp(s, "fail") == 0)
			c->no_data = HEALTH_NODATA_FAIL;
		else if (strcmp(s, "pass") == 0)
			c->no_data = HEALTH_NODATA_PASS;
		else
			bad(x, ynode_get(m, "no_data"), "%s: no_data is inconclusive, fail or pass",
			    what);
	}
	c->action = HEALTH_ACTION_NONE;
	if ((s = scalar(x, m, "action", what))) {
		if (strcmp(s, "drain") == 0)
			c->action = HEALTH_ACTION_DRAIN;
		else if (strcmp(s, "none") != 0)
			bad(x, ynode_get(m, "action"), "%s: action is drain or none", what);
	}
	if ((s = scalar(x, m, "every", what)) &&
	    health_duration_parse(&c->every, s, 1, 86400) != OK)
		bad(x, ynode_get(m, "every"), "%s: every: %s", what, err_last());
}

void
healthcfg_parse(struct health_config **out, const struct ynode *n, const char *file,
    struct diags *d)
{
	struct hctx x = { d, file };
	struct health_config *h;
	const struct ynode *v, *checks;
	const char *s;
	size_t i, j;

	*out = NULL;
	if (!n || is_null(n))
		return;
	if (n->type != YNODE_MAP) {
		bad(&x, n, "'health' must be a mapping {source, every, checks, max_drained}");
		return;
	}
	h = xcalloc(1, sizeof(*h));
	*out = h;
	diags_unknown_keys(x.d, x.file, n, health_keys, sizeof(health_keys) / sizeof(*health_keys),
	    "health");
	h->every = 60;
	h->unreachable_after = 3;
	h->max_drained.value = 20;
	h->max_drained.percent = 1;
	if ((s = scalar(&x, n, "every", "health")) &&
	    health_duration_parse(&h->every, s, 1, 86400) != OK)
		bad(&x, ynode_get(n, "every"), "health.every: %s", err_last());
	if ((v = ynode_get(n, "unreachable_after"))) {
		uint64_t u;

		if (v->type != YNODE_SCALAR || parse_u64(&u, v->str, 1, 1000) != OK)
			bad(&x, v, "'health.unreachable_after' is a whole number of evaluations (1..1000)");
		else
			h->unreachable_after = (unsigned)u;
	}
	if ((s = scalar(&x, n, "max_drained", "health"))) {
		size_t len = strlen(s), pct = len && s[len - 1] == '%';
		char num[16];
		uint64_t u;

		num[0] = '\0';
		if (len - pct < sizeof(num)) {
			memcpy(num, s, len - pct);
			num[len - pct] = '\0';
		}
		if (!num[0] || parse_u64(&u, num, 1, pct ? 100 : 1000000) != OK) {
			bad(&x, ynode_get(n, "max_drained"), "'health.max_drained' is a share (\"20%%\") "
			    "or a count of hosts (at least 1)");
		} else {
			h->max_drained.value = (unsigned)u;
			h->max_drained.percent = (int)pct;
		}
	}
	v = ynode_get(n, "source");
	if (!v || v->type != YNODE_MAP) {
		bad(&x, v ? v : n, "'health.source' is a mapping {type: %s, url, timeout}",
		    health_names());
	} else {
		const struct health_provider *hp;
		void *st = NULL;

		h->source = v;
		s = scalar(&x, v, "type", "health.source");
		if (!s || !(hp = health_find(s))) {
			bad(&x, v, "'health.source.type' is one of %s", health_names());
		} else {
			h->source_type = xstrdup(s);
			if (hp->ops->open(&st, v) != OK)
				bad(&x, v, "%s", err_last());
			else
				hp->ops->close(st);
		}
	}
	checks = ynode_get(n, "checks");
	if (!checks || checks->type != YNODE_SEQ || checks->n == 0 ||
	    checks->n > HEALTH_MAX_CHECKS) {
		bad(&x, checks ? checks : n, "'health.checks' is a list of 1 to %d checks",
		    HEALTH_MAX_CHECKS);
		return;
	}
	h->checks = xcalloc(checks->n, sizeof(*h->checks));
	for (i = 0; i < checks->n; i++) {
		if (checks->items[i]->type != YNODE_MAP) {
			bad(&x, checks->items[i], "each health check is a mapping {name, roles, "
			    "query, over, fail_if}");
			continue;
		}
		parse_check(&x, &h->checks[h->nchecks], checks->items[i], h->every);
		for (j = 0; h->checks[h->nchecks].name && j < h->nchecks; j++)
			if (h->checks[j].name && strcmp(h->checks[j].name,
			    h->checks[h->nchecks].name) == 0)
				bad(&x, checks->items[i], "health check '%s' is defined twice (also "
				    "line %d)", h->checks[j].name, h->checks[j].line);
		h->nchecks++;
	}
}

void
healthcfg_free(struct health_config *h)
{
	size_t i;

	if (!h)
		return;
	for (i = 0; i < h->nchecks; i++) {
		free(h->checks[i].name);
		strlist_dispose(&h->checks[i].roles);
		free(h->checks[i].query);
		free(h->checks[i].over_text);
	}
	free(h->checks);
	free(h->source_type);
	free(h);
}

const struct health_check *
healthcfg_check(const struct health_config *h, const char *name)
{
	size_t i;

	for (i = 0; h && i < h->nchecks; i++)
		if (h->checks[i].name && strcmp(h->checks[i].name, name) == 0)
			return &h->checks[i];
	return NULL;
}

/* "HOST:PORT": a host of letters, digits, dots, dashes (or [v6]) and a port. */
static int
hostport_ok(const char *s)
{
	const char *colon = strrchr(s, ':'), *p;
	uint64_t port;

	if (!colon || colon == s || strlen(s) > 255 ||
	    parse_u64(&port, colon + 1, 1, 65535) != OK)
		return 0;
	if (s[0] == '[')
		return colon[-1] == ']';
	for (p = s; p < colon; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
			return 0;
	return 1;
}

static int
prefix_ok(const char *s)
{
	size_t n = strlen(s);
	const char *p;

	if (n == 0 || n > 100 || s[0] == '.' || s[n - 1] == '.' || strstr(s, ".."))
		return 0;
	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return 0;
	return 1;
}

void
metricscfg_parse(struct metrics_config **out, const struct ynode *n, const char *file,
    struct diags *d)
{
	struct hctx x = { d, file };
	struct metrics_config *m;
	const struct ynode *v;
	const char *s;
	uint64_t u;

	*out = NULL;
	if (!n || is_null(n))
		return;
	if (n->type != YNODE_MAP) {
		bad(&x, n, "'metrics' must be a mapping {graphite: HOST:PORT, prefix, interval}");
		return;
	}
	diags_unknown_keys(x.d, x.file, n, metrics_keys, sizeof(metrics_keys) / sizeof(*metrics_keys),
	    "metrics");
	m = xcalloc(1, sizeof(*m));
	*out = m;
	m->interval = 10;
	m->queue = 10000;
	if ((s = scalar(&x, n, "graphite", "metrics"))) {
		if (hostport_ok(s))
			m->graphite = xstrdup(s);
		else
			bad(&x, ynode_get(n, "graphite"), "'metrics.graphite' is HOST:PORT, like "
			    "127.0.0.1:2003");
	}
	s = scalar(&x, n, "prefix", "metrics");
	if (s && !prefix_ok(s))
		bad(&x, ynode_get(n, "prefix"), "'metrics.prefix' is a dotted path of letters, "
		    "digits, _ and -, like firebreak");
	m->prefix = xstrdup(s && prefix_ok(s) ? s : "firebreak");
	if ((v = ynode_get(n, "interval"))) {
		if (v->type != YNODE_SCALAR || parse_u64(&u, v->str, 1, 3600) != OK)
			bad(&x, v, "'metrics.interval' is a whole number of seconds (1..3600)");
		else
			m->interval = (unsigned)u;
	}
	if ((v = ynode_get(n, "queue"))) {
		if (v->type != YNODE_SCALAR || parse_u64(&u, v->str, 10, 1000000) != OK)
			bad(&x, v, "'metrics.queue' is a whole number of lines (10..1000000)");
		else
			m->queue = (unsigned)u;
	}
}

void
metricscfg_free(struct metrics_config *m)
{
	if (!m)
		return;
	free(m->graphite);
	free(m->prefix);
	free(m);
}

/* ---- judging ------------------------------------------------------------------- */

enum health_verdict
health_judge(const struct health_check *c, const struct health_series *s, double *value)
{
	*value = 0;
	if (!s || s->n == 0)
		return HEALTH_NODATA;
	*value = health_func_value(c->fail_if.func, s->n, s->sum, s->min, s->max, s->last);
	return health_cond_holds(&c->fail_if, *value) ? HEALTH_FAIL : HEALTH_PASS;
}

/* A value for chat: one decimal below a million, else %g. */
static void
put_value(char *out, size_t n, double v)
{
	if (fabs(v) < 1e6)
		snprintf(out, n, "%.1f", v);
	else
		snprintf(out, n, "%g", v);
}

void
health_finding(char *out, size_t n, const struct health_check *c, enum health_verdict v,
    double value)
{
	char val[40], thr[40];

	put_value(val, sizeof(val), value);
	snprintf(thr, sizeof(thr), "%g", c->fail_if.value);
	if (v == HEALTH_NODATA)
		snprintf(out, n, "%s: no data over %s", c->name, c->over_text);
	else if (v == HEALTH_FAIL)
		snprintf(out, n, "%s %s %s %s %s over %s", c->name, func_names[c->fail_if.func], val,
		    op_names[c->fail_if.op], thr, c->over_text);
	else
		snprintf(out, n, "%s %s %s (fails if %s %s)", c->name, func_names[c->fail_if.func],
		    val, op_names[c->fail_if.op], thr);
}

void
health_hosts(struct strlist *hosts, struct strlist *roles, const struct health_check *c,
    const struct model *m, int (*also)(void *ctx, const char *fqdn), void *ctx)
{
	size_t i, r;

	for (i = 0; m && i < m->nhosts; i++) {
		const struct host *h = &m->hosts[i];

		if (!h->role)
			continue;
		for (r = 0; r < c->roles.n; r++)
			if (strcmp(h->role, c->roles.v[r]) == 0)
				break;
		if (r == c->roles.n)
			continue;
		if (h->state == HOST_ACTIVE || (h->state == HOST_DRAINED && also &&
		    also(ctx, h->fqdn))) {
			strlist_push(hosts, h->fqdn, 0);
			strlist_push(roles, h->role, 0);
		}
	}
}
