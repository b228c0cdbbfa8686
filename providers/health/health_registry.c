/*
 * health_registry.c - the one table of health sources, and what they
 * share: the child that runs a source's blocking fetch (so the loop never
 * waits for a network), the compact form its answer takes on the pipe,
 * the one checked parser of numbers, and config checks.  Adding a source
 * is one file exporting a `struct health_provider` and one line in the
 * table; these extern declarations are the only place the core names one.
 *
 * The child writes, after fetching:
 *
 *   fb-health 1 <n> <requests> <failed>
 *   E <error text>                 (only when failed > 0; our words)
 *   <i> <points> <sum> <min> <max> <last>    one per host with data
 *   end
 *
 * and the parent reads exactly that, or takes the whole evaluation as
 * failed.  Numbers are written with %.17g, so they round-trip.
 */
#include "providers/health/health.h"

#include <errno.h>
#include <math.h>
#include <float.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/proc.h"
#include "providers/health/hsource.h"

extern const struct health_provider health_graphite;
extern const struct health_provider health_prometheus;

static const struct health_provider *const health_registry[] = {
	&health_graphite,
	&health_prometheus,
	NULL,
};

static int
provider_ok(const struct health_provider *p)
{
	const struct health_ops *o = p->ops;

	return p->abi == HEALTH_PROVIDER_ABI && p->name && o && o->open && o->fetch &&
	    o->describe && o->timeout && o->close;
}

const struct health_provider *
health_find(const char *name)
{
	size_t i;

	for (i = 0; health_registry[i]; i++) {
		ASSERT(provider_ok(health_registry[i]));
		if (name && strcmp(health_registry[i]->name, name) == 0)
			return health_registry[i];
	}
	return NULL;
}

const char *
health_names(void)
{
	return "graphite, prometheus";
}

/* ---- numbers and series ------------------------------------------------ */

int
health_number_parse(double *out, const char *s)
{
	const char *p = s;
	char *end;
	double v;
	int digits = 0;

	if (!s || !*s || strlen(s) > 64)
		return err_set(ERR_INVALID, "not a number");
	if (*p == '-' || *p == '+')
		p++;
	for (; *p >= '0' && *p <= '9'; p++)
		digits++;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits++;
	if (!digits)
		return err_set(ERR_INVALID, "not a number");
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return err_set(ERR_INVALID, "not a number");
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p)
		return err_set(ERR_INVALID, "not a number");
	errno = 0;
	v = strtod(s, &end);
	if (*end || !isfinite(v))
		return err_set(ERR_INVALID, "not a finite number");
	*out = v;
	return OK;
}

void
health_series_add(struct health_series *s, double v)
{
	if (!isfinite(v))
		return;
	if (s->n == 0) {
		s->min = s->max = v;
		s->sum = 0;
	}
	if (v < s->min)
		s->min = v;
	if (v > s->max)
		s->max = v;
	s->sum += v;
	/* A sum past the doubles stays the largest one, never inf. */
	if (!isfinite(s->sum))
		s->sum = s->sum > 0 ? DBL_MAX : -DBL_MAX;
	s->n++;
}

/* ---- config -------------------------------------------------------------- */

int
health_check_keys(const struct ynode *cfg, const char *source, const char *const known[])
{
	const struct ynode *k;
	struct buf b = BUF_INIT;

	if (!cfg || cfg->type != YNODE_MAP)
		return err_set(ERR_INVALID, "health.source (%s): expected a mapping", source);
	if (!(k = ynode_unknown_key(cfg, known, NULL)))
		return OK;
	ynode_keys_join(&b, "type", known);
	err_set(ERR_INVALID, "line %d: health.source (%s): unknown key '%.40s' (known: %s)",
	    k->line, source, k->str, b.data);
	buf_dispose(&b);
	return ERR_INVALID;
}

int
health_common_parse(struct health_endpoint *h, const struct ynode *cfg, const char *source)
{
	const struct ynode *u = ynode_get(cfg, "url"), *t = ynode_get(cfg, "timeout");
	const char *p;
	uint64_t v;
	size_t n;

	memset(h, 0, sizeof(*h));
	h->timeout = 10;
	if (!u || u->type != YNODE_SCALAR || strlen(u->str) != u->len)
		return err_set(ERR_INVALID, "line %d: health.source (%s): 'url' is required, like "
		    "http://127.0.0.1:8080", cfg->line, source);
	n = u->len;
	if (n > 512 || (strncmp(u->str, "http://", 7) != 0 && strncmp(u->str, "https://", 8) != 0))
		return err_set(ERR_INVALID, "line %d: health.source (%s): 'url' must be an http:// "
		    "or https:// URL of at most 512 bytes", u->line, source);
	for (p = u->str; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '@' ||
		    *p == '?' || *p == '#')
			return err_set(ERR_INVALID, "line %d: health.source (%s): 'url' may not hold "
			    "spaces, control characters, credentials (@), a query or a fragment",
			    u->line, source);
	if (t) {
		if (t->type != YNODE_SCALAR || parse_u64(&v, t->str, 1, 300) != OK)
			return err_set(ERR_INVALID, "line %d: health.source (%s): 'timeout' is a whole "
			    "number of seconds (1..300)", t->line, source);
		h->timeout = (unsigned)v;
	}
	while (n && u->str[n - 1] == '/')
		n--;
	h->url = xstrndup(u->str, n);
	h->describe = xasprintf("%s %s", source, h->url);
	return OK;
}

void
health_endpoint_dispose(struct health_endpoint *h)
{
	free(h->url);
	free(h->describe);
	memset(h, 0, sizeof(*h));
}

const char *
health_endpoint_describe(void *st)
{
	return ((struct health_endpoint *)st)->describe;
}

unsigned
health_endpoint_timeout(void *st)
{
	return ((struct health_endpoint *)st)->timeout;
}

int
health_opt_u(unsigned *out, const struct ynode *cfg, const char *source, const char *key,
    unsigned dflt, unsigned max)
{
	const struct ynode *n = ynode_get(cfg, key);
	uint64_t v;

	*out = dflt;
	if (!n)
		return OK;
	if (n->type != YNODE_SCALAR || parse_u64(&v, n->str, 1, max) != OK)
		return err_set(ERR_INVALID, "line %d: health.source (%s): '%s' is a whole "
		    "number (1..%u)", n->line, source, key, max);
	*out = (unsigned)v;
	return OK;
}

/* ---- the child ----------------------------------------------------------- */

struct health_run {
	struct proc *p;
	size_t n;
};

struct child_arg {
	const struct health_provider *hp;
	void *st;
	const struct health_request *rq;
};

static void
put_num(FILE *f, double v)
{
	if (!isfinite(v))
		v = v > 0 ? DBL_MAX : -DBL_MAX;
	fprintf(f, " %.17g", v);
}

/* Runs in the forked child: fetch, then write the compact answer. */
static int
child_main(void *arg)
{
	struct child_arg *ca = arg;
	struct health_answer a;
	size_t i;
	int rc;

	memset(&a, 0, sizeof(a));
	a.n = ca->rq->n;
	a.v = xcalloc(a.n ? a.n : 1, sizeof(*a.v));
	rc = ca->hp->ops->fetch(ca->st, ca->rq, &a);
	if (rc != OK) {
		a.requests = a.failed = 1;
		snprintf(a.error, sizeof(a.error), "%s", err_last());
		memset(a.v, 0, a.n * sizeof(*a.v));
	}
	printf("fb-health 1 %zu %u %u\n", a.n, a.requests, a.failed);
	if (a.failed) {
		char *p;

		/* One line of printable ASCII, whatever the source made of it. */
		for (p = a.error; *p; p++)
			if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f)
				*p = '?';
		printf("E %s\n", a.error[0] ? a.error : "failed");
	}
	for (i = 0; i < a.n; i++) {
		if (!a.v[i].n)
			continue;
		printf("%zu %zu", i, a.v[i].n);
		put_num(stdout, a.v[i].sum);
		put_num(stdout, a.v[i].min);
		put_num(stdout, a.v[i].max);
		put_num(stdout, a.v[i].last);
		putchar('\n');
	}
	printf("end\n");
	rc = fflush(stdout) == 0 ? 0 : 1;
	free(a.v);
	return rc;
}

int
health_start(struct health_run **out, const struct health_provider *hp, void *st,
    const struct health_request *rq)
{
	struct child_arg ca = { hp, st, rq };
	struct health_run *r;
	struct proc_opts o;
	unsigned t = rq->timeout ? rq->timeout : hp->ops->timeout(st);
	int rc;

	*out = NULL;
	memset(&o, 0, sizeof(o));
	/* The source's timeout holds per request; the child as a whole gets
	 * that twice over and a margin (requests run in waves), then it is
	 * killed and every host has no data. */
	o.timeout_ms = (t * 2 + 5) * 1000;
	o.grace_ms = 500;
	o.output_cap = 4096 + rq->n * 128;
	r = xcalloc(1, sizeof(*r));
	r->n = rq->n;
	/* The child reads ca (and the request it points to) from its copy
	 * of this process's memory: nothing is serialised on the way in. */
	if ((rc = proc_fork(&r->p, child_main, &ca, &o)) != OK) {
		free(r);
		return rc;
	}
	*out = r;
	return OK;
}

int
health_fd(const struct health_run *r)
{
	return proc_fd(r->p);
}

int
health_timeout_ms(const struct health_run *r)
{
	int t = proc_timeout_ms(r->p);

	return t < 0 ? 1000 : t;
}

int
health_step(struct health_run *r)
{
	return proc_poll(r->p);
}

static void
all_failed(struct health_answer *a, const char *why)
{
	memset(a->v, 0, a->n * sizeof(*a->v));
	a->requests = a->requests ? a->requests : 1;
	a->failed = a->requests;
	snprintf(a->error, sizeof(a->error), "%s", why);
}

/* Parse one "<i> <points> <sum> <min> <max> <last>" line. */
static int
parse_line(struct health_answer *a, char *line)
{
	char *w[6], *save = NULL, *tok;
	struct health_series s;
	uint64_t i, pts;
	size_t k = 0;

	for (tok = strtok_r(line, " ", &save); tok && k < 6; tok = strtok_r(NULL, " ", &save))
		w[k++] = tok;
	if (k != 6 || tok || parse_u64(&i, w[0], 0, a->n ? a->n - 1 : 0) != OK || i >= a->n ||
	    parse_u64(&pts, w[1], 1, HEALTH_MAX_POINTS) != OK ||
	    health_number_parse(&s.sum, w[2]) != OK || health_number_parse(&s.min, w[3]) != OK ||
	    health_number_parse(&s.max, w[4]) != OK || health_number_parse(&s.last, w[5]) != OK)
		return ERR_INVALID;
	s.n = (size_t)pts;
	a->v[i] = s;
	return OK;
}

static int
parse_output(struct health_answer *a, char *text)
{
	char *line = text, *nl;
	uint64_t n, req, failed;
	int ended = 0, first = 1;

	for (; line && *line; line = nl) {
		if (!(nl = strchr(line, '\n')))
			return ERR_INVALID;
		*nl++ = '\0';
		if (ended)
			return ERR_INVALID;
		if (first) {
			char w[4][24];

			first = 0;
			if (strncmp(line, "fb-health 1 ", 12) != 0 ||
			    sscanf(line + 12, "%23s %23s %23s", w[0], w[1], w[2]) != 3 ||
			    parse_u64(&n, w[0], 0, HEALTH_MAX_HOSTS) != OK || n != a->n ||
			    parse_u64(&req, w[1], 0, 1000000) != OK ||
			    parse_u64(&failed, w[2], 0, req) != OK)
				return ERR_INVALID;
			a->requests = (unsigned)req;
			a->failed = (unsigned)failed;
			continue;
		}
		if (strcmp(line, "end") == 0) {
			ended = 1;
			continue;
		}
		if (line[0] == 'E' && line[1] == ' ') {
			snprintf(a->error, sizeof(a->error), "%s", line + 2);
			continue;
		}
		if (parse_line(a, line) != OK)
			return ERR_INVALID;
	}
	return ended ? OK : ERR_INVALID;
}

void
health_finish(struct health_answer *out, struct health_run *r)
{
	struct proc_result res;

	memset(out, 0, sizeof(*out));
	out->n = r->n;
	out->v = xcalloc(r->n ? r->n : 1, sizeof(*out->v));
	proc_finish(&res, r->p);
	if (res.timed_out) {
		all_failed(out, "the evaluation timed out");
	} else if (!proc_result_ok(&res) || res.dropped || !res.output.data) {
		struct buf why = BUF_INIT;

		proc_result_describe(&why, &res);
		all_failed(out, "the evaluation failed");
		snprintf(out->error, sizeof(out->error), "the evaluation %s", why.data ? why.data : "failed");
		buf_dispose(&why);
	} else if (parse_output(out, res.output.data) != OK) {
		all_failed(out, "the evaluation's answer was unreadable");
	}
	proc_result_dispose(&res);
	free(r);
}

int
health_run(struct health_answer *out, const struct health_provider *hp, void *st,
    const struct health_request *rq)
{
	struct health_run *r;
	struct pollfd pfd;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = health_start(&r, hp, st, rq)) != OK)
		return rc;
	while (!health_step(r)) {
		pfd.fd = health_fd(r);
		pfd.events = POLLIN;
		pfd.revents = 0;
		poll(&pfd, pfd.fd >= 0 ? 1 : 0, health_timeout_ms(r));
	}
	health_finish(out, r);
	return OK;
}

void
health_answer_dispose(struct health_answer *a)
{
	free(a->v);
	memset(a, 0, sizeof(*a));
}

int
health_json_depth_ok(const char *body, size_t len, unsigned max)
{
	unsigned depth = 0;
	int in_str = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		char c = body[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				return 0;
		} else if ((c == ']' || c == '}') && depth) {
			depth--;
		}
	}
	return 1;
}

long
health_ref_index(const char *name, size_t n)
{
	uint64_t v;

	if (!name || name[0] != 'f' || name[1] != 'b' || (name[2] == '0' && name[3]) ||
	    parse_u64(&v, name + 2, 0, HEALTH_MAX_HOSTS) != OK || v >= n)
		return -1;
	return (long)v;
}
