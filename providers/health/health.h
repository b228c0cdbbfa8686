/*
 * health.h - health sources: where the controller's health checks read
 * their numbers (DESIGN.md "Health checks and actions", `health.source`).
 * Each source is one file exporting one `struct health_provider`, listed
 * once in health_registry.c; the core finds a source by name and never
 * includes a source's own file.
 *
 * One evaluation asks one check's question about many hosts at once: the
 * request holds one query per host (the check's template, expanded and
 * validated by the caller), and the answer holds, per host, the summary
 * of the series the source returned over the window (how many points,
 * their sum, min, max and last value; nulls dropped).  A host whose
 * series is missing, empty or nulls only has n == 0: no data.  So does
 * every host of a request that failed (connection refused, a timeout, an
 * HTTP error, an answer that is not what the source's API returns): a
 * failure is never a pass.
 *
 * Everything a source returns is hostile: bodies are read up to
 * HEALTH_BODY_MAX, JSON is parsed with JSON_REJECT_DUPLICATES and a depth
 * limit, and no byte of an answer reaches chat or the log (the error
 * text is ours: "HTTP 500", "timed out after 10 s", "malformed answer").
 *
 * A source's `fetch` blocks (libcurl); the controller never calls it in
 * its own process: health_start() runs it in a forked child (base/proc.h
 * proc_fork) whose compact result the loop reads from a pipe, so a slow
 * or hanging source never stalls the loop.  health_run() does the same
 * blocking, for the CLI and the bench.
 *
 *	hp = health_find("graphite");           at start-up
 *	hp->ops->open(&st, source_cfg);          validates {type, url, timeout, ...}
 *	health_start(&run, hp, st, &req);        every `every` seconds
 *	... poll health_fd(run), at most health_timeout_ms(run) ms; each wake-up:
 *	if (health_step(run)) health_finish(&ans, run);
 *	hp->ops->close(st);                      at shutdown
 *
 * Layer: providers (includes base, model, plan and its own folder).
 */
#ifndef FIREBREAK_HEALTH_H
#define FIREBREAK_HEALTH_H

#include <stddef.h>

#include "base/util.h"
#include "model/ydoc.h"

#define HEALTH_PROVIDER_ABI 1
#define HEALTH_BODY_MAX (16u << 20)     /* bytes of one answer */
#define HEALTH_JSON_DEPTH 16            /* nesting of an answer we accept */
#define HEALTH_MAX_HOSTS 100000         /* hosts of one evaluation */
#define HEALTH_MAX_POINTS 1000000       /* points of one answer, all series */
#define HEALTH_ERROR_MAX 160            /* bytes of an error text */

/* One evaluation: the same check over many hosts.  Borrowed by the source
 * for the call (and copied into the child). */
struct health_request {
	size_t n;
	const char *const *exprs;   /* the query for each host, expanded */
	unsigned over;              /* the window, in seconds */
	unsigned timeout;           /* seconds for the whole evaluation; 0: the source's */
	/* Optional (NULL: the source asks per host): the template the exprs
	 * came from and each host's fqdn and role (validated names), so a
	 * source may ask about many hosts with one expression where its query
	 * language can say the same thing (graphite.c). */
	const char *tmpl;
	const char *const *hosts;
	const char *const *roles;
};

/* The series a source returned for one host, reduced.  n == 0: no data. */
struct health_series {
	size_t n;                   /* points (nulls dropped) */
	double sum, min, max, last; /* last: the latest point's value */
};

struct health_answer {
	size_t n;                   /* == the request's n */
	struct health_series *v;    /* owns; one per host, in request order */
	unsigned requests;          /* HTTP requests made */
	unsigned failed;            /* of which failed: their hosts have no data */
	char error[HEALTH_ERROR_MAX];   /* the first failure, in our words, or "" */
};

struct health_ops {
	/*
	 * Open from the `health.source` mapping (borrowed: {type, url,
	 * timeout, ...}; `type` is the caller's).  *out owns the source's
	 * state.  ERR_INVALID with err_last() naming the key and its line.
	 * Touches no network.
	 */
	int (*open)(void **out, const struct ynode *cfg);
	/*
	 * Ask the source, blocking (only ever in a child or the CLI): fill
	 * out->v[0..rq->n) (allocated and zeroed by the caller) and the
	 * counts.  Returns OK even when requests failed (that is data:
	 * out->failed); a negative code only when nothing could be tried.
	 */
	int (*fetch)(void *st, const struct health_request *rq, struct health_answer *out);
	/* The source for messages: "graphite http://127.0.0.1:8080" (borrowed). */
	const char *(*describe)(void *st);
	/* The source's own timeout, in seconds (for the child's deadline). */
	unsigned (*timeout)(void *st);
	void (*close)(void *st);
};

struct health_provider {
	unsigned abi;               /* HEALTH_PROVIDER_ABI */
	const char *name;           /* "graphite" */
	const struct health_ops *ops;
};

/* The source of that name, or NULL.  Checks ABI and required ops. */
const struct health_provider *health_find(const char *name);
/* The names, for messages: "graphite, prometheus". */
const char *health_names(void);

/* ---- running an evaluation without blocking the loop ---- */

struct health_run;

/*
 * Start one evaluation in a forked child (proc_fork): the child calls
 * hp->ops->fetch and writes the answer to its pipe.  *out owns the run
 * until health_finish().  ERR when the child cannot be started.
 */
int health_start(struct health_run **out, const struct health_provider *hp, void *st,
    const struct health_request *rq);
int health_fd(const struct health_run *r);           /* poll for reading; -1: none */
int health_timeout_ms(const struct health_run *r);   /* >= 0 */
/* Read what the child wrote; 1 when it ended (call health_finish), else 0. */
int health_step(struct health_run *r);
/*
 * The answer (out owns its v; dispose with health_answer_dispose), and free
 * the run (a child still running is killed).  A child that died, timed out
 * or wrote something we cannot read gives every host no data, failed ==
 * requests == 1 and the reason in out->error.  Always fills *out.
 */
void health_finish(struct health_answer *out, struct health_run *r);
/* Blocking: the same in this process (the CLI, tests, the bench). */
int health_run(struct health_answer *out, const struct health_provider *hp, void *st,
    const struct health_request *rq);
void health_answer_dispose(struct health_answer *a);

/* ---- for sources and their callers ---- */

/*
 * The one checked parser of numbers in health: an optional sign, digits,
 * an optional fraction and exponent, nothing else (no hex, inf or nan),
 * finite.  ERR_INVALID otherwise.
 */
int health_number_parse(double *out, const char *s);

/* Add one point to a series. */
void health_series_add(struct health_series *s, double v);

/* Refuse keys a source does not know; `known` NULL-terminated ("type" is
 * always allowed).  ERR_INVALID naming the key and its line. */
int health_check_keys(const struct ynode *cfg, const char *source, const char *const known[]);

/*
 * What an HTTP source (graphite, prometheus) keeps first in its state, so
 * that health_endpoint_describe() and health_endpoint_timeout() serve as
 * its ops.
 * health_common_parse() fills it from the block: `url` (http:// or
 * https://, no user:password@, no spaces or control characters, at most
 * 512 bytes, without a trailing '/'), `timeout` (seconds, 1..300; default
 * 10), and the description "<source> <url>".
 */
struct health_endpoint {
	char *url;                /* owns */
	char *describe;           /* owns */
	unsigned timeout;
};

int health_common_parse(struct health_endpoint *h, const struct ynode *cfg, const char *source);
void health_endpoint_dispose(struct health_endpoint *h);
const char *health_endpoint_describe(void *st);
unsigned health_endpoint_timeout(void *st);
/* An optional whole-number key of the block (1..max), `dflt` when absent. */
int health_opt_u(unsigned *out, const struct ynode *cfg, const char *source, const char *key,
    unsigned dflt, unsigned max);

#endif
