/*
 * cli.c - the firebreak command line: one binary (firebreak-core; the
 * libc-only front `firebreak` in main.c execs it), subcommands.  This file
 * holds what every subcommand shares: options, errors and exit codes,
 * opening the repository and the config, and the table of subcommands.
 * See cli.h.
 *
 * The cli files are the only ones that print to stdout or call exit().
 * Exit codes: 0 ok, 1 the input is wrong (invalid inventory, refused
 * command), 2 usage, 3 environment (repository or state missing, I/O).
 */
#include "cli/cli.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "git/repo.h"

static const char usage_text[] =
"usage: firebreak <command> [options]\n"
"\n"
"  check  --repo R [--rev X] [--format text|json]\n"
"         validate the inventory at X; exit 1 with file:line errors\n"
"  render --repo R [--rev X] --out D\n"
"         render the artifacts of X into directory D\n"
"  plan   --repo R [--state S] [--from A] [--to B] [--format text|json]\n"
"         the plan from A (default: the state's applied commit, else the\n"
"         empty tree) to B (default: HEAD)\n"
"  apply  --repo R --state S [--to X] [--format text|json]\n"
"         plan against the state's applied commit and apply it\n"
"  enc    [--state S | --repo R [--rev X]] FQDN\n"
"         the node's Puppet ENC document\n"
"  run    --config C [-n] [--bootstrap-apply]\n"
"         the controller, in the foreground (-n: check the config and exit)\n"
"  approve|discard --config C --as USER PLAN_ID\n"
"         act on a plan waiting for an approver\n"
"  status --config C\n"
"         applied commit, open plans, outbox (with ha: the leader, each\n"
"         instance's applied commit and lag)\n"
"  rollout --config C [--as USER] [resume|abort] [ID]\n"
"         a rollout's Puppet runs per host; resume or abort it\n"
"  drift  --config C\n"
"         read the world (the apply providers that can) and compare it with\n"
"         the current release; exit 1 when it drifted\n"
"  retry  --config C --as USER PLAN_ID\n"
"         run a failed plan's apply providers again (Terraform plans anew)\n"
"  reconcile --config C --as USER KIND\n"
"         apply the current release to the world again (KIND: dns, ...)\n"
"  chat   --config C --as USER \"COMMAND\"\n"
"         a chat command from the shell (`chat --config C --as U help` lists them)\n"
"  trust  --config C [--as USER promote|demote TYPE]\n"
"         the trust ladder's table, or a policy commit one step up or down\n"
"  health --config C [--check NAME] [--host FQDN]\n"
"         evaluate health checks once, now, and print each host's result\n"
"\n"
"\n"
"With `ha:` in the config, --no-ha makes approve, discard, status, chat,\n"
"rollout and run act on this instance's state directory alone, without etcd\n"
"(plan C; README \"High availability\" says when, and what it costs).\n"
"\n"
"Exit codes: 0 ok, 1 the input is wrong, 2 usage, 3 environment.\n";

int cli_no_ha;

_Noreturn void
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("firebreak: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(firebreak --help for usage)\n", stderr);
	exit(EXIT_USAGE);
}

_Noreturn void
die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("firebreak: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

/* What an internal error code means for the exit status. */
int
exit_for(int rc)
{
	switch (rc) {
	case ERR_INVALID:
	case ERR_DENIED:
	case ERR_CONFLICT:
	case ERR_TOOBIG:
		return EXIT_INPUT;
	default:
		return EXIT_ENV;
	}
}

/* --name value or --name=value, for the names the command accepts. */
/* Is `name` one of the space-separated words of `list`? */
static int
word_in(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while (n && (p = strstr(p, name))) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

void
parse_opts(struct opts *o, int argc, char **argv, const char *accepted, int max_args)
{
	static const struct { const char *name; size_t off; } valued[] = {
		{ "repo", offsetof(struct opts, repo) },
		{ "rev", offsetof(struct opts, rev) },
		{ "out", offsetof(struct opts, out) },
		{ "state", offsetof(struct opts, state) },
		{ "from", offsetof(struct opts, from) },
		{ "to", offsetof(struct opts, to) },
		{ "format", offsetof(struct opts, format) },
		{ "config", offsetof(struct opts, config) },
		{ "as", offsetof(struct opts, as) },
		{ "identity", offsetof(struct opts, identity) },
		{ "via", offsetof(struct opts, via) },
		{ "reply-to", offsetof(struct opts, reply_to) },
		{ "chat-entry", offsetof(struct opts, chat_entry) },
		{ "reason", offsetof(struct opts, reason) },
		{ "check", offsetof(struct opts, check) },
		{ "host", offsetof(struct opts, host) },
		{ "ha-fence", offsetof(struct opts, ha_fence) },
	};
	static const struct { const char *name; size_t off; } flags[] = {
		{ "json", offsetof(struct opts, json) },
		{ "bootstrap-apply", offsetof(struct opts, bootstrap_apply) },
		{ "unverified", offsetof(struct opts, unverified) },
		{ "no-approve", offsetof(struct opts, no_approve) },
		{ "health-action", offsetof(struct opts, health_action) },
	};
	int i;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *eq;
		char name[32];
		size_t k;
		int found = 0;

		if (strcmp(a, "--") == 0) {
			for (i++; i < argc; i++) {
				if (o->nargs >= max_args)
					usage_error("too many arguments");
				o->args[o->nargs++] = argv[i];
			}
			break;
		}
		if (strcmp(a, "--timings") == 0) {
			log_set_timings(1);
			continue;
		}
		if (strcmp(a, "--no-ha") == 0) {
			/* Plan C: this instance's state alone (README "High
			 * availability"); load_config() forgets `ha:`. */
			cli_no_ha = 1;
			continue;
		}
		if (strcmp(a, "-n") == 0 && word_in(accepted, "-n")) {
			o->check_only = 1;
			continue;
		}
		if (strncmp(a, "--", 2) != 0) {
			if (o->nargs >= max_args)
				usage_error("unexpected argument '%s'", a);
			o->args[o->nargs++] = a;
			continue;
		}
		eq = strchr(a, '=');
		k = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		if (k == 0 || k >= sizeof(name))
			usage_error("unknown option '%.40s'", a);
		memcpy(name, a + 2, k);
		name[k] = '\0';
		if (!word_in(accepted, name))
			usage_error("unknown option '--%s' for this command", name);
		for (k = 0; k < sizeof(flags) / sizeof(*flags); k++)
			if (strcmp(name, flags[k].name) == 0) {
				if (eq)
					usage_error("--%s takes no value", name);
				*(int *)((char *)o + flags[k].off) = 1;
				found = 1;
			}
		for (k = 0; !found && k < sizeof(valued) / sizeof(*valued); k++)
			if (strcmp(name, valued[k].name) == 0) {
				const char *val = NULL;

				if (eq)
					val = eq + 1;
				else if (i + 1 < argc)
					val = argv[++i];
				else
					usage_error("option '--%s' needs a value", name);
				*(const char **)((char *)o + valued[k].off) = val;
				found = 1;
			}
		if (!found)
			usage_error("unknown option '--%s'", name);
	}
	if (o->format && strcmp(o->format, "text") != 0 && strcmp(o->format, "json") != 0)
		usage_error("--format is text or json, not '%s'", o->format);
}

int
want_json(const struct opts *o)
{
	return o->format && strcmp(o->format, "json") == 0;
}

struct repo *
open_repo(const char *path)
{
	struct repo *r;

	if (!path)
		usage_error("--repo is required");
	if (repo_open(&r, path) != OK)
		die(EXIT_ENV, "%s", err_last());
	return r;
}

void
resolve(struct repo *r, const char *rev, char out[41])
{
	if (repo_resolve(r, rev, out) != OK)
		die(EXIT_INPUT, "%s", err_last());
}

void
print_diags(FILE *f, const struct diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		const struct diag *g = &d->v[i];

		if (g->line > 0)
			fprintf(f, "%s:%d:%d: %s\n", g->file, g->line, g->col > 0 ? g->col : 1,
			    g->message);
		else
			fprintf(f, "%s: %s\n", g->file, g->message);
	}
}

/* ---- the controller and its shell commands ------------------------------ */

struct config *
load_config(const char *path)
{
	struct config *cfg = NULL;
	struct diags d = { NULL, 0, 0 };
	int rc;

	if (!path)
		usage_error("--config is required");
	rc = config_load(&cfg, path, &d);
	if (rc == ERR_INVALID) {
		print_diags(stderr, &d);
		die(EXIT_INPUT, "%zu problem%s in %s", d.n, d.n == 1 ? "" : "s", path);
	}
	if (rc != OK)
		die(EXIT_ENV, "%s", err_last());
	diags_dispose(&d);
	if (cli_no_ha)
		config_drop_ha(cfg);
	return cfg;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "check", cmd_check },
		{ "render", cmd_render },
		{ "plan", cmd_plan },
		{ "apply", cmd_apply },
		{ "enc", cmd_enc },
		{ "run", cmd_run },
		{ "approve", cmd_approve },
		{ "rollout", cmd_rollout },
		{ "discard", cmd_discard },
		{ "status", cmd_status },
		{ "drift", cmd_drift },
		{ "retry", cmd_retry },
		{ "reconcile", cmd_reconcile },
		{ "chat", cmd_chat },
		{ "trust", cmd_trust },
		{ "health", cmd_health },
		{ "fetch", cmd_fetch },
		{ "reply", cmd_reply },
	};
	size_t i;
	int rc;

	if (argc < 2)
		usage_error("no command given");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(*cmds); i++)
		if (strcmp(argv[1], cmds[i].name) == 0) {
			rc = cmds[i].fn(argc - 2, argv + 2);
			if (fflush(stdout) != 0)
				die(EXIT_ENV, "writing output: %s", strerror(errno));
			return rc;
		}
	usage_error("unknown command '%s'", argv[1]);
}
