/*
 * cmd_controller.c - the subcommands around the controller: run, the
 * shell's approve / discard / status (through the running controller's
 * control socket, or on the state directory when none runs), and fetch
 * (the controller's child).
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "controller/controller.h"
#include "git/repo.h"
#include "state/ctlclient.h"

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

/* approve / discard: through the running controller, else on the state
 * directory under its lock. */
/* Approve or discard through the running controller, or, when none runs,
 * on the state directory itself (the shell works without the daemon). */
int
decide_anywhere(const struct config *cfg, int approve, const char *id, const char *user,
    char **msg)
{
	int rc = ctl_decide(msg, cfg->state, approve, id, user);

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
	if (out.len)
		fputs(out.data, stdout);
	buf_dispose(&out);
	if (rc != OK)
		die(EXIT_ENV, "%s", err_last());
	config_free(cfg);
	return EXIT_OK;
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
