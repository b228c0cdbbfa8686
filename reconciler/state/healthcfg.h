/*
 * healthcfg.h - the controller config's `health:` and `metrics:` blocks
 * (DESIGN.md "Health checks and actions", "Metrics and drift"), and the
 * small pure rules every reader of them shares: a check's condition
 * ("avg < 50"), its query template, the window, max_drained's counting.
 *
 *   health:
 *     source: {type: graphite, url: "http://127.0.0.1:8080", timeout: 10}
 *     every: 60                     # seconds between evaluations (default 60)
 *     unreachable_after: 3          # failed evaluations before chat hears it
 *     max_drained: "20%"            # or a count; of a role's active + drained hosts
 *     checks:
 *       - name: canary-data
 *         roles: [web]
 *         query: "sumSeries(canary.{host_short}.received)"
 *         over: 5min
 *         fail_if: "avg < 50"
 *         no_data: inconclusive     # | fail | pass
 *         action: drain             # | none (report only; the default)
 *         every: 60                 # this check's own interval (default: health.every)
 *   metrics: {graphite: "127.0.0.1:2003", prefix: firebreak, interval: 10, queue: 10000}
 *
 * Layer: state (includes the health source interface to check `source`).
 */
#ifndef FIREBREAK_HEALTHCFG_H
#define FIREBREAK_HEALTHCFG_H

#include <stddef.h>

#include "base/util.h"
#include "model/diag.h"
#include "model/ydoc.h"

#define HEALTH_MAX_CHECKS 64
#define HEALTH_QUERY_MAX 1024       /* bytes of a query template */
#define HEALTH_NAME_MAX 64          /* a check's name: [a-z0-9][a-z0-9_.-]{0,63} */
#define HEALTH_OVER_MIN 10
#define HEALTH_OVER_MAX (7 * 86400)

enum health_func { HEALTH_AVG, HEALTH_MIN, HEALTH_MAX, HEALTH_LAST, HEALTH_SUM };
enum health_op { HEALTH_LT, HEALTH_LE, HEALTH_GT, HEALTH_GE };
enum health_nodata { HEALTH_NODATA_INCONCLUSIVE, HEALTH_NODATA_FAIL, HEALTH_NODATA_PASS };
enum health_action { HEALTH_ACTION_NONE, HEALTH_ACTION_DRAIN };

/* fail_if: "<func> <op> <number>". */
struct health_cond {
	enum health_func func;
	enum health_op op;
	double value;
};

struct health_check {
	char *name;                 /* owns */
	struct strlist roles;
	char *query;                /* owns; the template */
	unsigned over;              /* seconds */
	char *over_text;            /* owns; as written ("5min"), for messages */
	struct health_cond fail_if;
	enum health_nodata no_data;
	enum health_action action;
	unsigned every;             /* seconds */
	int line;
};

/* max_drained: a share of the role's active + drained hosts, or a count. */
struct health_limit {
	unsigned value;
	int percent;                /* value is a percentage */
};

struct health_config {
	const struct ynode *source; /* borrows the config's tree: {type, url, ...} */
	char *source_type;          /* owns */
	unsigned every;             /* default interval, seconds */
	unsigned unreachable_after; /* consecutive failed evaluations before chat hears */
	struct health_limit max_drained;
	struct health_check *checks;
	size_t nchecks;
};

struct metrics_config {
	char *graphite;             /* owns; "HOST:PORT" */
	char *prefix;               /* owns; dotted path, default "firebreak" */
	unsigned interval;          /* seconds between sends, default 10 */
	unsigned queue;             /* lines kept while the server is away */
};

/*
 * Parse `health:` (n may be NULL: *out NULL) and `metrics:`; problems go to
 * d under `file` with their lines.  *out owns; free with the functions
 * below.  The source's own keys are checked by opening it (no network).
 */
void healthcfg_parse(struct health_config **out, const struct ynode *n, const char *file,
    struct diags *d);
void healthcfg_free(struct health_config *h);
void metricscfg_parse(struct metrics_config **out, const struct ynode *n, const char *file,
    struct diags *d);
void metricscfg_free(struct metrics_config *m);

/* The check named `name`, or NULL (borrows). */
const struct health_check *healthcfg_check(const struct health_config *h, const char *name);

/* "avg < 50" (spaces optional around the operator).  ERR_INVALID with a
 * message. */
int health_cond_parse(struct health_cond *out, const char *s);
/* "avg < 50" back, with the value as %g. */
void health_cond_format(char *out, size_t n, const struct health_cond *c);
const char *health_func_name(enum health_func f);
/* The function's value over a series' summary (n > 0). */
double health_func_value(enum health_func f, size_t n, double sum, double min, double max,
    double last);
/* Does the condition hold for value v (the check fails)? */
int health_cond_holds(const struct health_cond *c, double v);

/* "300", "300s", "5m", "5min", "2h", "1d" -> seconds, within [min, max]. */
int health_duration_parse(unsigned *out, const char *s, unsigned min, unsigned max);

/*
 * Expand a query template for one host into out (appended): {host} the
 * fqdn, {host_short} its first label, {role} the role.  Both values must
 * be valid names (valid_fqdn, valid_role): ERR_INVALID otherwise, and
 * nothing is appended.  Any other text, braces included (Graphite's
 * {a,b} globs), is kept as written.
 */
int health_expand(struct buf *out, const char *tmpl, const char *host, const char *role);

/*
 * How many of a role's hosts may be drained at once: of `counted` (its
 * active + drained hosts), the limit's share rounded down, or its count;
 * at least 1.
 */
size_t health_max_drained(const struct health_limit *l, size_t counted);

/* ---- judging a host ---- */

struct health_series;
struct model;

enum health_verdict { HEALTH_PASS, HEALTH_FAIL, HEALTH_NODATA };

/*
 * A host's verdict from its series (no_data not applied: a series without
 * points is HEALTH_NODATA); *value is the check's function over it.
 */
enum health_verdict health_judge(const struct health_check *c, const struct health_series *s,
    double *value);
/* What chat reads: "canary-data avg 0.0 < 50 over 5min" (failing) or
 * "canary-data avg 72.0 (fails if < 50)" (passing); "canary-data: no data
 * over 5min" for no data. */
void health_finding(char *out, size_t n, const struct health_check *c, enum health_verdict v,
    double value);

/*
 * The hosts a check looks at in model m: of its roles, the active hosts,
 * and the drained ones for which `also(ctx, fqdn)` says yes (the ones a
 * health action drained; NULL: none).  Appends fqdns to *hosts and their
 * roles to *roles (same order).
 */
void health_hosts(struct strlist *hosts, struct strlist *roles, const struct health_check *c,
    const struct model *m, int (*also)(void *ctx, const char *fqdn), void *ctx);

#endif
