/*
 * cmd_health.c - `firebreak health --config C [--check NAME] [--host
 * FQDN] [--format json]`: evaluate the configured health checks once, now,
 * against the applied commit's hosts (active and drained), and print each
 * host's result.  For an operator writing a query ("does it see my
 * hosts?"), and for the bench.  It acts on nothing: no chat, no episodes,
 * no drain.  Exit 0 when every host passes, 1 when one fails or has no
 * data, 3 when the source or the state cannot be read.
 */
#include "cli/cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "git/repo.h"
#include "model/inventory.h"
#include "model/model.h"
#include "providers/health/health.h"
#include "state/state.h"

static int
any_drained(void *ctx, const char *fqdn)
{
	(void)ctx;
	(void)fqdn;
	return 1;
}

int
cmd_health(int argc, char **argv)
{
	struct opts o;
	struct config *cfg;
	const struct health_provider *hp;
	struct model *m = NULL;
	struct diags d = { NULL, 0, 0 };
	struct repo *r;
	char applied[41];
	void *src = NULL;
	size_t i, k;
	int worst = EXIT_OK, seen = 0;
	json_t *all = json_array();

	parse_opts(&o, argc, argv, "config check host format", 0);
	cfg = load_config(o.config);
	if (!cfg->health)
		die(EXIT_INPUT, "%s has no health: block", o.config);
	if (o.check && !healthcfg_check(cfg->health, o.check))
		die(EXIT_INPUT, "there is no health check '%s' in %s", o.check, o.config);
	if (state_read_applied(cfg->state, applied) != OK)
		die(EXIT_ENV, "%s", err_last());
	if (!applied[0])
		die(EXIT_ENV, "nothing is applied yet in %s: no hosts to check", cfg->state);
	r = open_repo(cfg->repo);
	if (inventory_load(&m, &d, r, applied) != OK)
		die(EXIT_ENV, "loading the applied commit %.7s: %s", applied, err_last());
	hp = health_find(cfg->health->source_type);
	if (!hp || hp->ops->open(&src, cfg->health->source) != OK)
		die(EXIT_INPUT, "%s: health.source: %s", o.config, err_last());
	for (k = 0; k < cfg->health->nchecks; k++) {
		const struct health_check *c = &cfg->health->checks[k];
		struct strlist hosts = { NULL, NULL, 0 }, roles = { NULL, NULL, 0 };
		struct health_request rq;
		struct health_answer ans;
		const char **exprs;
		struct buf *bufs;
		double t0;

		if (o.check && strcmp(o.check, c->name) != 0)
			continue;
		health_hosts(&hosts, &roles, c, m, any_drained, NULL);
		exprs = xcalloc(hosts.n + 1, sizeof(*exprs));
		bufs = xcalloc(hosts.n + 1, sizeof(*bufs));
		memset(&rq, 0, sizeof(rq));
		for (i = 0; i < hosts.n; i++) {
			if (o.host && strcmp(o.host, hosts.v[i]) != 0)
				continue;
			if (health_expand(&bufs[rq.n], c->query, hosts.v[i], roles.v[i]) != OK)
				continue;
			/* Hosts of the request in the order of their queries. */
			if (rq.n != i) {
				char *t = hosts.v[rq.n];

				hosts.v[rq.n] = hosts.v[i];
				hosts.v[i] = t;
				t = roles.v[rq.n];
				roles.v[rq.n] = roles.v[i];
				roles.v[i] = t;
			}
			exprs[rq.n] = bufs[rq.n].data;
			rq.n++;
		}
		rq.exprs = exprs;
		rq.over = c->over;
		rq.tmpl = c->query;
		rq.hosts = (const char *const *)hosts.v;
		rq.roles = (const char *const *)roles.v;
		t0 = log_now();
		if (health_run(&ans, hp, src, &rq) != OK)
			die(EXIT_ENV, "%s: %s", hp->ops->describe(src), err_last());
		fprintf(stderr, "firebreak: %s over %zu host%s: %.3f s, %u request%s, %u failed%s%s\n",
		    c->name, rq.n, rq.n == 1 ? "" : "s", log_now() - t0, ans.requests,
		    ans.requests == 1 ? "" : "s", ans.failed, ans.error[0] ? ": " : "", ans.error);
		for (i = 0; i < rq.n; i++) {
			char line[300];
			double v;
			enum health_verdict hv = health_judge(c, &ans.v[i], &v);

			seen++;
			health_finding(line, sizeof(line), c, hv, v);
			if (hv != HEALTH_PASS && worst == EXIT_OK)
				worst = EXIT_INPUT;
			if (want_json(&o))
				json_array_append_new(all, json_pack("{s:s, s:s, s:s, s:f, s:I, s:s}",
				    "check", c->name, "host", hosts.v[i], "result", hv == HEALTH_PASS ?
				    "pass" : hv == HEALTH_FAIL ? "fail" : "no_data", "value", v,
				    "points", (json_int_t)ans.v[i].n, "finding", line));
			else
				printf("%s %s %s\n", hosts.v[i], hv == HEALTH_PASS ? "pass" :
				    hv == HEALTH_FAIL ? "FAIL" : "no-data", line);
		}
		if (ans.failed && worst != EXIT_ENV)
			worst = EXIT_ENV;
		health_answer_dispose(&ans);
		for (i = 0; i < hosts.n; i++)
			buf_dispose(&bufs[i]);
		free(bufs);
		free(exprs);
		strlist_dispose(&hosts);
		strlist_dispose(&roles);
	}
	if (want_json(&o)) {
		char *s = json_dumps(all, JSON_INDENT(2));

		printf("%s\n", s ? s : "[]");
		free(s);
	}
	json_decref(all);
	if (o.host && !seen)
		die(EXIT_INPUT, "no check looks at host '%s'", o.host);
	hp->ops->close(src);
	model_free(m);
	repo_free(r);
	diags_dispose(&d);
	config_free(cfg);
	return worst;
}
