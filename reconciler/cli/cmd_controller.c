/*
 * cmd_controller.c - the subcommands around the controller: run, the
 * shell's approve / discard / status (through the running controller's
 * control socket, or on the state directory when none runs), and fetch
 * (the controller's child).
 */
#include "cli/cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "controller/controller.h"
#include "git/repo.h"
#include "plan/pipeline.h"
#include "providers/apply/apply.h"
#include "state/ctlclient.h"
#include "state/rollouts.h"
#include "state/state.h"

int
cmd_run(int argc, char **argv)
{
	struct opts o;
	struct config *cfg;
	struct controller_opts co;

	parse_opts(&o, argc, argv, "config -n bootstrap-apply", 0);
	cfg = load_config(o.config);
	if (o.check_only) {
		if (controller_check(cfg) != OK)
			die(EXIT_INPUT, "%s", err_last());
		printf("ok: %s is a valid configuration\n", o.config);
		config_free(cfg);
		return EXIT_OK;
	}
	co.bootstrap_apply = o.bootstrap_apply;
	if (controller_run(cfg, &co) != OK)
		die(EXIT_ENV, "%s", err_last());
	config_free(cfg);
	return EXIT_OK;
}

/* A control request through etcd to the leader (`ha:`): the answer's
 * "ok ..." / "refused ..." / "error ..." as the control socket's. */
static int
ha_request(const struct config *cfg, const char *line, char **msg)
{
	char *reply = NULL;
	int rc = controller_ha_ask(cfg, line, &reply);

	*msg = NULL;
	if (rc != OK) {
		*msg = xasprintf("no leader answered through etcd: %s (plan C: --no-ha, see the "
		    "README)", err_last());
		return ERR;
	}
	reply[strcspn(reply, "\n")] = '\0';
	if (strncmp(reply, "ok ", 3) == 0) {
		*msg = xstrdup(reply + 3);
		rc = OK;
	} else if (strncmp(reply, "refused ", 8) == 0) {
		*msg = xstrdup(reply + 8);
		rc = ERR_DENIED;
	} else {
		*msg = xstrdup(strncmp(reply, "error ", 6) == 0 ? reply + 6 : reply);
		rc = ERR;
	}
	free(reply);
	return rc;
}

/* approve / discard: through the running controller, else on the state
 * directory under its lock. */
/* Approve or discard through the running controller, or, when none runs,
 * on the state directory itself (the shell works without the daemon). */
int
decide_anywhere(const struct config *cfg, int approve, const char *id, const char *user,
    char **msg)
{
	int rc = ctl_decide(msg, cfg->state, approve, id, user);

	if (rc == ERR_NOTFOUND && cfg->ha) {
		/* No leader here: the leader, wherever it runs, through etcd. */
		char line[256];

		snprintf(line, sizeof(line), "%s %s %s", approve ? "approve" : "discard", id, user);
		return ha_request(cfg, line, msg);
	}
	return rc == ERR_NOTFOUND ? controller_decide(cfg, approve, id, user, msg) : rc;
}

static int
cmd_decide(int approve, int argc, char **argv)
{
	struct opts o;
	struct config *cfg;
	char *msg = NULL;
	int rc;

	parse_opts(&o, argc, argv, "config as", 1);
	if (!o.as || o.nargs != 1)
		usage_error("%s needs --as USER and a plan id", approve ? "approve" : "discard");
	if (!valid_user(o.as))
		die(EXIT_INPUT, "'%s' is not a valid user name", o.as);
	cfg = load_config(o.config);
	rc = decide_anywhere(cfg, approve, o.args[0], o.as, &msg);
	if (rc == OK)
		printf("%s\n", msg);
	else
		fprintf(stderr, "firebreak: %s\n", msg ? msg : err_last());
	free(msg);
	config_free(cfg);
	return rc == OK ? EXIT_OK : rc == ERR_DENIED || rc == ERR_CONFLICT ||
	    rc == ERR_NOTFOUND || rc == ERR_INVALID ? EXIT_INPUT : EXIT_ENV;
}

int
cmd_approve(int argc, char **argv)
{
	return cmd_decide(1, argc, argv);
}

int
cmd_discard(int argc, char **argv)
{
	return cmd_decide(0, argc, argv);
}

/* retry / reconcile: through the running controller, which checks that
 * the user is an approver of the kinds involved. */
static int
cmd_rerun(const char *verb, int argc, char **argv)
{
	struct opts o;
	struct config *cfg;
	char *msg = NULL;
	int rc;

	parse_opts(&o, argc, argv, "config as", 1);
	if (!o.as || o.nargs != 1)
		usage_error("%s needs --as USER and %s", verb, strcmp(verb, "retry") == 0 ?
		    "a plan id" : "a kind (enc, dns, pin, policy)");
	if (!valid_user(o.as))
		die(EXIT_INPUT, "'%s' is not a valid user name", o.as);
	cfg = load_config(o.config);
	rc = ctl_rerun(&msg, cfg->state, verb, o.args[0], o.as);
	if (rc == OK)
		printf("%s\n", msg ? msg : "done");
	else if (rc == ERR_NOTFOUND && !msg)
		fprintf(stderr, "firebreak: no controller is running on %s: %s needs it "
		    "(firebreak run --config %s)\n", cfg->state, verb, o.config);
	else
		fprintf(stderr, "firebreak: %s\n", msg ? msg : err_last());
	free(msg);
	config_free(cfg);
	return rc == OK ? EXIT_OK : rc == ERR_NOTFOUND && !msg ? EXIT_ENV :
	    rc == ERR_DENIED || rc == ERR_CONFLICT || rc == ERR_NOTFOUND || rc == ERR_INVALID ?
	    EXIT_INPUT : EXIT_ENV;
}

int
cmd_retry(int argc, char **argv)
{
	return cmd_rerun("retry", argc, argv);
}

int
cmd_reconcile(int argc, char **argv)
{
	return cmd_rerun("reconcile", argc, argv);
}

int
cmd_status(int argc, char **argv)
{
	struct opts o;
	struct config *cfg;
	struct buf out = BUF_INIT;
	int rc;

	parse_opts(&o, argc, argv, "config", 0);
	cfg = load_config(o.config);
	rc = ctl_status(&out, cfg->state);
	/* The local controller's answer has the HA lines when it leads;
	 * else they come from etcd. */
	if (cfg->ha && !strstr(out.data ? out.data : "", "ha leader:")) {
		buf_printf(&out, "ha instance: %s (a follower, or not running)\n", cfg->ha->name);
		controller_ha_status(cfg, &out);
	}
	if (out.len)
		fputs(out.data, stdout);
	buf_dispose(&out);
	if (rc != OK)
		die(EXIT_ENV, "%s", err_last());
	config_free(cfg);
	return EXIT_OK;
}

/*
 * rollout --config C [--as USER] [resume|abort] [ID]: a rollout's hosts
 * (the newest without ID; from the state directory), or resume / abort
 * through the running controller, authorised as USER.
 */
int
cmd_rollout(int argc, char **argv)
{
	struct opts o;
	struct config *cfg;
	struct ro_record *r = NULL;
	char id[24], *msg = NULL;
	int rc, act = -1;
	uint64_t v;

	parse_opts(&o, argc, argv, "config as format json", 2);
	if (o.nargs >= 1 && (strcmp(o.args[0], "resume") == 0 || strcmp(o.args[0], "abort") == 0))
		act = o.args[0][0] == 'r';
	if (act >= 0 && (o.nargs != 2 || !o.as))
		usage_error("rollout %s needs --as USER and a rollout id", o.args[0]);
	if (act < 0 && o.nargs > 1)
		usage_error("usage: rollout --config C [--as USER] [resume|abort] [ID]");
	cfg = load_config(o.config);
	if (act >= 0) {
		if (!valid_user(o.as))
			die(EXIT_INPUT, "'%s' is not a valid user name", o.as);
		rc = ctl_rollout(&msg, cfg->state, act, o.args[1], o.as);
		if (rc == ERR_NOTFOUND && cfg->ha) {
			char line[256];

			free(msg);
			snprintf(line, sizeof(line), "rollout %s %s %s", act ? "resume" : "abort",
			    o.args[1], o.as);
			rc = ha_request(cfg, line, &msg);
		}
		if (rc == OK)
			printf("%s\n", msg);
		else
			fprintf(stderr, "firebreak: %s\n", msg ? msg : err_last());
		free(msg);
		config_free(cfg);
		return rc == OK ? EXIT_OK : rc == ERR_DENIED || rc == ERR_CONFLICT ||
		    rc == ERR_INVALID ? EXIT_INPUT : EXIT_ENV;
	}
	if (o.nargs == 1) {
		if (parse_u64(&v, o.args[0], 1, 1ull << 62) != OK)
			die(EXIT_INPUT, "'%s' is not a rollout id (a plan id)", o.args[0]);
		snprintf(id, sizeof(id), "%s", o.args[0]);
	} else if (ro_latest_id(cfg->state, id) != OK) {
		printf("no rollout yet\n");
		config_free(cfg);
		return EXIT_OK;
	}
	if ((rc = ro_record_load(&r, cfg->state, id)) != OK)
		die(rc == ERR_NOTFOUND ? EXIT_INPUT : EXIT_ENV, "%s", err_last());
	if (o.json || want_json(&o)) {
		json_t *j = ro_record_json(r);
		char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

		printf("%s\n", text ? text : "{}");
		free(text);
		json_decref(j);
	} else {
		struct buf b = BUF_INIT;

		ro_record_text(&b, r);
		fputs(b.data ? b.data : "", stdout);
		buf_dispose(&b);
	}
	ro_record_free(r);
	config_free(cfg);
	return EXIT_OK;
}

/*
 * `drift --config C`: every apply provider that can read the world
 * compares it with the release now current (the applied commit, loaded
 * from the repository), and changes nothing.  Works beside a running
 * controller (it takes no lock).  Exit 0 when nothing drifted, 1 when
 * something did (each difference printed), 3 when a provider could not
 * read the world.
 */
int
cmd_drift(int argc, char **argv)
{
	struct opts o;
	struct config *cfg;
	struct repo *r;
	struct snapshot snap;
	struct diags d = { NULL, 0, 0 };
	char sha[41], release[4096];
	size_t i, readers = 0;
	int code = EXIT_OK;

	parse_opts(&o, argc, argv, "config as", 0);
	cfg = load_config(o.config);
	if (state_read_applied(cfg->state, sha) != OK)
		die(EXIT_ENV, "%s", err_last());
	if (!sha[0])
		die(EXIT_INPUT, "nothing is applied yet in %s: no release to compare with", cfg->state);
	r = open_repo(cfg->repo);
	if (snapshot_load(&snap, r, sha, &d) != OK)
		die(EXIT_ENV, "loading the applied commit %.7s: %s", sha, err_last());
	snprintf(release, sizeof(release), "%s/current", cfg->state);
	for (i = 0; cfg->apply && i < cfg->apply->n; i++) {
		const struct ynode *e = cfg->apply->items[i], *t = ynode_get(e, "type");
		const struct apply_provider *ap = t ? apply_find(t->str) : NULL;
		struct apply_info in = { .release = release, .plan_id = "drift", .commit = sha,
		    .target_art = &snap.art, .state_dir = cfg->state };
		struct apply_found found;
		char *reason = NULL;
		void *st;
		int rc;

		if (!ap)
			die(EXIT_INPUT, "%s:%d: apply[%zu]: no apply provider '%s'", cfg->path, e->line,
			    i, t ? t->str : "");
		if (!ap->ops->drift)
			continue;
		readers++;
		if (ap->ops->open(&st, e) != OK)
			die(EXIT_INPUT, "%s: apply[%zu] %s: %s", cfg->path, i, ap->name, err_last());
		rc = apply_drift_run(&reason, &found, ap, st, &in);
		if (rc == ERR_CONFLICT && found.differ)
			printf("apply[%zu] %s: drift (%zu record set%s differ%s)\n", i, ap->name,
			    found.differ, found.differ == 1 ? "" : "s", found.differ == 1 ? "s" : "");
		else
			printf("apply[%zu] %s: %s\n", i, ap->name, rc == OK ? "no drift" :
			    rc == ERR_CONFLICT ? "drift" : "could not read the world");
		free(found.digest);
		if (reason && *reason)
			printf("%s\n", reason);
		if (rc == ERR_CONFLICT && code == EXIT_OK)
			code = EXIT_INPUT;
		else if (rc != OK && rc != ERR_CONFLICT)
			code = EXIT_ENV;
		free(reason);
		ap->ops->close(st);
	}
	if (readers == 0)
		printf("no apply provider of %s can read the world (rfc2136 and terraform can)\n",
		    o.config);
	snapshot_dispose(&snap);
	diags_dispose(&d);
	repo_free(r);
	config_free(cfg);
	return code;
}

/*
 * The controller's helpers, run as its children so a hung network never
 * stops its loop: `fetch --config C` fetches the branch from the remote;
 * `reply --url URL TEXT` answers a slash command through its response_url.
 */
int
cmd_fetch(int argc, char **argv)
{
	struct opts o;
	struct config *cfg;
	struct repo *r;
	struct repo_auth auth;
	int rc;

	parse_opts(&o, argc, argv, "config", 0);
	cfg = load_config(o.config);
	if (!cfg->remote)
		die(EXIT_INPUT, "%s names no remote", o.config);
	r = open_repo(cfg->repo);
	config_repo_auth(cfg, &auth);
	rc = repo_fetch(r, cfg->remote, cfg->branch, &auth);
	if (rc != OK)
		fprintf(stderr, "firebreak: %s\n", err_last());
	repo_free(r);
	config_free(cfg);
	return rc == OK ? EXIT_OK : EXIT_ENV;
}
