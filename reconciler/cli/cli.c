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

/* The Makefile passes the version (debian/changelog's). */
#ifndef FIREBREAK_VERSION
#define FIREBREAK_VERSION "unknown"
#endif

/*
 * The subcommands: name, handler, and what `firebreak CMD --help` prints
 * (the synopsis, what it does, its options).  `firebreak --help` lists
 * each visible command's first lines.  man/firebreak.1 says the same at
 * length; tests/e2e/docs.bats checks every name here is in it.
 */
struct cmd {
	const char *name;
	int (*fn)(int, char **);
	int hidden;             /* the controller's own helpers */
	const char *synopsis;   /* after "firebreak " */
	const char *summary;    /* one line, for `firebreak --help` */
	const char *options;    /* the options, for `firebreak CMD --help` */
};

static const struct cmd cmds[] = {
	{ "check", cmd_check, 0,
	  "--repo R [--rev X] [--format text|json]",
	  "validate the inventory at X; exit 1 with file:line errors",
	  "  --repo R        the inventory repository (bare or not)\n"
	  "  --rev X         the commit, branch or tag to check (default HEAD)\n"
	  "  --format F      text (file:line:column: message) or json\n" },
	{ "render", cmd_render, 0,
	  "--repo R [--rev X] --out D",
	  "render the artifacts of X into directory D",
	  "  --repo R        the inventory repository\n"
	  "  --rev X         the commit to render (default HEAD)\n"
	  "  --out D         the directory to write (made if missing)\n" },
	{ "plan", cmd_plan, 0,
	  "--repo R [--state S] [--from A] [--to B] [--format text|json]",
	  "the plan from A (default: the state's applied commit, else the\n"
	  "         empty tree) to B (default: HEAD)",
	  "  --repo R        the inventory repository\n"
	  "  --state S       a state directory: plan from its applied commit\n"
	  "  --from A        the base commit (overrides --state)\n"
	  "  --to B          the target commit (default HEAD)\n"
	  "  --format F      text (summary, changes, diffs) or json\n"
	  "Exit 1 when the target does not validate.\n" },
	{ "apply", cmd_apply, 0,
	  "--repo R --state S [--to X] [--format text|json]",
	  "plan against the state's applied commit and apply it",
	  "  --repo R        the inventory repository\n"
	  "  --state S       the state directory (made if missing)\n"
	  "  --to X          the commit to apply (default HEAD)\n"
	  "  --format F      text or json (the plan applied)\n"
	  "Applies whatever the policy decides (an operator's explicit act);\n"
	  "exit 1, changing nothing, when the target does not validate.\n" },
	{ "enc", cmd_enc, 0,
	  "[--state S | --repo R [--rev X]] FQDN",
	  "the node's Puppet ENC document",
	  "  --state S       read the current release of state directory S (what\n"
	  "                  Puppet's external_nodes runs)\n"
	  "  --repo R        render it from the repository instead\n"
	  "  --rev X         with --repo: the commit (default HEAD)\n"
	  "Exit 1 (a reason on stdout and stderr) for an unknown node.\n" },
	{ "run", cmd_run, 0,
	  "--config C [-n] [--bootstrap-apply]",
	  "the controller, in the foreground (-n: check the config and exit)",
	  "  --config C      the controller configuration (firebreak.yaml(5))\n"
	  "  -n              check the configuration and open every chat and\n"
	  "                  apply provider it names, then exit\n"
	  "  --bootstrap-apply  an empty state applies its first plan at once\n"
	  "  --no-ha         with ha: this instance's state alone, without etcd\n"
	  "Logs go to stderr, one line per event.  Under systemd (Type=notify) it\n"
	  "reports READY=1 after its first reconcile, STATUS= with the applied\n"
	  "commit, and pings the watchdog when WatchdogSec= is set.\n" },
	{ "approve", cmd_approve, 0,
	  "--config C --as USER PLAN_ID",
	  "apply a plan waiting for an approver",
	  "  --config C      the controller configuration\n"
	  "  --as USER       the policy user approving (policy.yaml)\n"
	  "  --no-ha         with ha: this instance's state alone, without etcd\n"
	  "Through the running controller's control socket, or on the state\n"
	  "directory when none runs.\n" },
	{ "discard", cmd_discard, 0,
	  "--config C --as USER PLAN_ID",
	  "drop a plan waiting for an approver",
	  "  --config C      the controller configuration\n"
	  "  --as USER       the policy user discarding (policy.yaml)\n"
	  "  --no-ha         with ha: this instance's state alone, without etcd\n" },
	{ "status", cmd_status, 0,
	  "--config C",
	  "applied commit, open plans, outbox (with ha: the leader, each\n"
	  "         instance's applied commit and lag)",
	  "  --config C      the controller configuration\n"
	  "  --no-ha         this instance's state directory alone, without etcd\n" },
	{ "rollout", cmd_rollout, 0,
	  "--config C [--as USER] [resume|abort] [ID] [--format text|json]",
	  "a rollout's Puppet runs per host; resume or abort it",
	  "  --config C      the controller configuration\n"
	  "  --as USER       the policy user (needed to resume or abort)\n"
	  "  --format F      text or json (also --json)\n"
	  "  --no-ha         with ha: this instance's state alone, without etcd\n"
	  "Without ID: the newest rollout.\n" },
	{ "drift", cmd_drift, 0,
	  "--config C",
	  "read the world (the apply providers that can) and compare it with\n"
	  "         the current release; exit 1 when it drifted",
	  "  --config C      the controller configuration\n"
	  "Exit 0: no drift; 1: drift (each difference printed); 3: a provider\n"
	  "could not read the world.\n" },
	{ "retry", cmd_retry, 0,
	  "--config C --as USER PLAN_ID",
	  "run a failed plan's apply providers again (Terraform plans anew)",
	  "  --config C      the controller configuration\n"
	  "  --as USER       an approver of the kinds the plan changed\n"
	  "Through the running controller; the retry is a plan of its own.\n" },
	{ "reconcile", cmd_reconcile, 0,
	  "--config C --as USER KIND",
	  "apply the current release to the world again (KIND: dns, ...)",
	  "  --config C      the controller configuration\n"
	  "  --as USER       an approver of KIND\n"
	  "Through the running controller; overwrites what drifted.\n" },
	{ "chat", cmd_chat, 0,
	  "--config C --as USER \"COMMAND\"",
	  "a chat command from the shell (`chat --config C --as U help` lists them)",
	  "  --config C      the controller configuration\n"
	  "  --as USER       the policy user asking\n"
	  "  --json          the answer as JSON {code, commit, user, text}\n"
	  "  --no-ha         with ha: this instance's state alone, without etcd\n"
	  "The controller's own options: --identity PLATFORM:ID, --via WHERE,\n"
	  "--unverified, --no-approve, --chat-entry N --reply-to R,\n"
	  "--health-action [--reason TEXT], --ha-fence REV (with ha: commit only while\n"
	  "etcd's leader key has that create revision).\n"
	  "Exit 1 when the command is refused (unknown, bad argument, not allowed).\n" },
	{ "trust", cmd_trust, 0,
	  "--config C [--as USER promote|demote TYPE]",
	  "the trust ladder's table, or a policy commit one step up or down",
	  "  --config C      the controller configuration\n"
	  "  --as USER       the policy user making the policy commit\n" },
	{ "health", cmd_health, 0,
	  "--config C [--check NAME] [--host FQDN] [--format text|json]",
	  "evaluate health checks once, now, and print each host's result",
	  "  --config C      the controller configuration (its health: block)\n"
	  "  --check NAME    only this check\n"
	  "  --host FQDN     only this host\n"
	  "  --format F      text or json\n"
	  "Exit 1 when a host fails a check.\n" },
	{ "import", cmd_import, 0,
	  "{zone ZONE --from-axfr SERVER[:PORT] | zone ZONE --from-file FILE | "
	  "enc --script PATH --nodes FILE} [options]",
	  "write an existing zone or ENC into an inventory checkout",
	  "  --repo DIR      the inventory checkout to write into (default: the\n"
	  "                  current directory); commit the result yourself\n"
	  "  --force         replace dns/ZONE.yaml, hosts/ or roles/ files that exist\n"
	  "  --from-axfr SERVER[:PORT]  zone: read it by AXFR over TCP (port 53)\n"
	  "  --tsig NAME:ALG:FILE  zone: sign the transfer with this key, as the rfc2136\n"
	  "                  provider's tsig: {name, algorithm, secret_file}; ALG is\n"
	  "                  hmac-sha256 or hmac-sha512 (NAME:FILE: hmac-sha256); FILE\n"
	  "                  holds the base64 secret or tsig-keygen's block (0600)\n"
	  "  --from-file FILE  zone: read an RFC 1035 master file ($ORIGIN, $TTL, @,\n"
	  "                  relative names, parentheses, comments)\n"
	  "  --zone-id ID    zone: the Route53 hosted zone id (default: the one of the\n"
	  "                  file --force replaces, else NONE: rfc2136 only)\n"
	  "  --skip-unsupported  zone: leave out types dns/ files cannot hold (default:\n"
	  "                  refuse them, as the rfc2136 provider would delete them)\n"
	  "  --script PATH   enc: the ENC, run once per node as PATH NODE, no shell\n"
	  "                  (split on spaces, as Puppet's external_nodes), 60 s each;\n"
	  "                  its stdout is the node's YAML document\n"
	  "  --nodes FILE    enc: the nodes, one fqdn a line (# comments, blank lines)\n"
	  "zone writes dns/ZONE.yaml without the SOA and the apex NS set; an A record\n"
	  "naming an active or drained host becomes its ip:, an A record set equal to\n"
	  "a role's active hosts the role's dns:.  enc writes hosts/ and roles/: hosts\n"
	  "whose documents share the parameter role (else the same classes) share a\n"
	  "role and keep only their differences; a role whose hosts list another\n"
	  "role's hosts as backends gets backends_of.  Nothing is written unless the\n"
	  "result passes check and renders back what was read; on any error, nothing.\n" },
	{ "fetch", cmd_fetch, 1,
	  "--config C",
	  "fetch the branch from the configured remote (the controller's child)",
	  "  --config C      the controller configuration (its remote:)\n" },
	{ "reply", cmd_reply, 1,
	  "--config C --chat-entry N --reply-to R TEXT",
	  "answer in a chat thread (the controller's child)",
	  "  --config C      the controller configuration\n"
	  "  --chat-entry N  the index of the chat: entry that answers\n"
	  "  --reply-to R    where it answers (the thread or response URL)\n" },
};

static const char exit_codes[] =
"Exit codes: 0 ok, 1 the input is wrong, 2 usage, 3 environment.\n";

static void
usage_all(FILE *f)
{
	size_t i;

	fputs("usage: firebreak <command> [options]\n"
	    "       firebreak <command> --help\n"
	    "       firebreak --version\n\n", f);
	for (i = 0; i < sizeof(cmds) / sizeof(*cmds); i++)
		if (!cmds[i].hidden)
			fprintf(f, "  %-6s %s\n         %s\n", cmds[i].name, cmds[i].synopsis,
			    cmds[i].summary);
	fprintf(f, "\nAny command takes --timings (stage timings on stderr).\n"
	    "With `ha:` in the config, --no-ha makes approve, discard, status, chat,\n"
	    "rollout and run act on this instance's state directory alone, without etcd\n"
	    "(plan C; README \"High availability\" says when, and what it costs).\n%s"
	    "See firebreak(1), firebreak.yaml(5), firebreak-inventory(5).\n", exit_codes);
}

static void
usage_one(FILE *f, const struct cmd *c)
{
	const char *s = c->summary;

	const char *o;
	int notes = 0;

	fprintf(f, "usage: firebreak %s %s\n\n", c->name, c->synopsis);
	/* The summary's continuation lines are indented for the list. */
	while (*s) {
		size_t n = strcspn(s, "\n");

		fprintf(f, "%.*s\n", (int)n, s);
		s += n;
		while (*s == '\n' || *s == ' ')
			s++;
	}
	/* The options (indented lines), then the notes (the others). */
	fputc('\n', f);
	for (o = c->options; *o; o += strcspn(o, "\n") + 1)
		if (*o == ' ')
			fprintf(f, "%.*s\n", (int)strcspn(o, "\n"), o);
		else
			notes = 1;
	fputs("  --timings       stage timings on stderr\n\n", f);
	for (o = c->options; notes && *o; o += strcspn(o, "\n") + 1)
		if (*o != ' ')
			fprintf(f, "%.*s\n", (int)strcspn(o, "\n"), o);
	fprintf(f, "%s%s", notes ? "\n" : "", exit_codes);
}

/* Does argv (before a "--") ask for help? */
static int
wants_help(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

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
		{ "from-axfr", offsetof(struct opts, from_axfr) },
		{ "from-file", offsetof(struct opts, from_file) },
		{ "tsig", offsetof(struct opts, tsig) },
		{ "zone-id", offsetof(struct opts, zone_id) },
		{ "script", offsetof(struct opts, script) },
		{ "nodes", offsetof(struct opts, nodes) },
	};
	static const struct { const char *name; size_t off; } flags[] = {
		{ "json", offsetof(struct opts, json) },
		{ "bootstrap-apply", offsetof(struct opts, bootstrap_apply) },
		{ "unverified", offsetof(struct opts, unverified) },
		{ "no-approve", offsetof(struct opts, no_approve) },
		{ "health-action", offsetof(struct opts, health_action) },
		{ "force", offsetof(struct opts, force) },
		{ "skip-unsupported", offsetof(struct opts, skip_unsupported) },
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
	size_t i;
	int rc;

	if (argc < 2)
		usage_error("no command given");
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("firebreak %s\n", FIREBREAK_VERSION);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		/* `firebreak help CMD` is `firebreak CMD --help`. */
		for (i = 0; argc > 2 && i < sizeof(cmds) / sizeof(*cmds); i++)
			if (strcmp(argv[2], cmds[i].name) == 0) {
				usage_one(stdout, &cmds[i]);
				return EXIT_OK;
			}
		if (argc > 2)
			usage_error("unknown command '%s'", argv[2]);
		usage_all(stdout);
		return EXIT_OK;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(*cmds); i++)
		if (strcmp(argv[1], cmds[i].name) == 0) {
			if (wants_help(argc - 2, argv + 2)) {
				usage_one(stdout, &cmds[i]);
				rc = EXIT_OK;
			} else {
				rc = cmds[i].fn(argc - 2, argv + 2);
			}
			if (fflush(stdout) != 0)
				die(EXIT_ENV, "writing output: %s", strerror(errno));
			return rc;
		}
	usage_error("unknown command '%s'", argv[1]);
}
