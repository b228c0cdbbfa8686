/*
 * main.c - the firebreak command line: one binary, subcommands.
 *
 * The only file that prints to stdout or calls exit().  Exit codes:
 * 0 ok, 1 the input is wrong (invalid inventory, refused command),
 * 2 usage, 3 environment (repository or state missing, I/O).
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "base/util.h"
#include "bot/bot.h"
#include "controller/controller.h"
#include "git/repo.h"
#include "model/inventory.h"
#include "model/validate.h"
#include "plan/pipeline.h"
#include "plan/plan.h"
#include "providers/chat/chat_util.h"
#include "providers/chat/slack_in.h"
#include "state/config.h"
#include "state/ctlclient.h"
#include "state/enc.h"
#include "state/state.h"

enum { EXIT_OK = 0, EXIT_INPUT = 1, EXIT_USAGE = 2, EXIT_ENV = 3 };

/*
 * A command that is about to exit need not free 100k hosts one by one:
 * that costs more than the exit itself.  Sanitizer builds (make SAN=1,
 * which CI runs) free everything, so leaks stay visible.
 */
#if defined(__SANITIZE_ADDRESS__)
#define FREE_AT_EXIT 1
#else
#define FREE_AT_EXIT 0
#endif

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
"         applied commit, open plans, outbox\n"
"  chat   --config C --as USER \"COMMAND\"\n"
"         a chat command from the shell (`chat --config C --as U help` lists them)\n"
"\n"
"Exit codes: 0 ok, 1 the input is wrong, 2 usage, 3 environment.\n";

static _Noreturn void
usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static _Noreturn void
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

static _Noreturn void
die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static _Noreturn void
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
static int
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

/* ---- options ---------------------------------------------------------- */

struct opts {
	const char *repo, *rev, *out, *state, *from, *to, *format, *config, *as;
	const char *identity, *via, *reply_url, *url, *chat_entry;
	int check_only, bootstrap_apply, json;
	const char *args[16];
	int nargs;
};

/* --name value or --name=value, for the names the command accepts. */
static void
parse_opts(struct opts *o, int argc, char **argv, const char *accepted, int max_args)
{
	int i;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *val = NULL, *eq;
		char name[32];
		const char **slot = NULL;

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
		if (strcmp(a, "-n") == 0 && strstr(accepted, "-n")) {
			o->check_only = 1;
			continue;
		}
		if (strcmp(a, "--json") == 0 && strstr(accepted, "json")) {
			o->json = 1;
			continue;
		}
		if (strcmp(a, "--bootstrap-apply") == 0 && strstr(accepted, "bootstrap-apply")) {
			o->bootstrap_apply = 1;
			continue;
		}
		if (strncmp(a, "--", 2) != 0) {
			if (o->nargs >= max_args)
				usage_error("unexpected argument '%s'", a);
			o->args[o->nargs++] = a;
			continue;
		}
		eq = strchr(a, '=');
		snprintf(name, sizeof(name), "%.*s", (int)(eq ? (size_t)(eq - a - 2) : strlen(a + 2)),
		    a + 2);
		if (!strstr(accepted, name) || strlen(name) == 0) {
			usage_error("unknown option '--%s' for this command", name);
		}
		if (strcmp(name, "repo") == 0)
			slot = &o->repo;
		else if (strcmp(name, "rev") == 0)
			slot = &o->rev;
		else if (strcmp(name, "out") == 0)
			slot = &o->out;
		else if (strcmp(name, "state") == 0)
			slot = &o->state;
		else if (strcmp(name, "from") == 0)
			slot = &o->from;
		else if (strcmp(name, "to") == 0)
			slot = &o->to;
		else if (strcmp(name, "format") == 0)
			slot = &o->format;
		else if (strcmp(name, "config") == 0)
			slot = &o->config;
		else if (strcmp(name, "as") == 0)
			slot = &o->as;
		else if (strcmp(name, "identity") == 0)
			slot = &o->identity;
		else if (strcmp(name, "via") == 0)
			slot = &o->via;
		else if (strcmp(name, "reply-url") == 0)
			slot = &o->reply_url;
		else if (strcmp(name, "url") == 0)
			slot = &o->url;
		else if (strcmp(name, "chat-entry") == 0)
			slot = &o->chat_entry;
		else
			usage_error("unknown option '--%s'", name);
		if (eq)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			usage_error("option '--%s' needs a value", name);
		*slot = val;
	}
	if (o->format && strcmp(o->format, "text") != 0 && strcmp(o->format, "json") != 0)
		usage_error("--format is text or json, not '%s'", o->format);
}

static int
want_json(const struct opts *o)
{
	return o->format && strcmp(o->format, "json") == 0;
}

static struct repo *
open_repo(const char *path)
{
	struct repo *r;

	if (!path)
		usage_error("--repo is required");
	if (repo_open(&r, path) != OK)
		die(EXIT_ENV, "%s", err_last());
	return r;
}

static void
resolve(struct repo *r, const char *rev, char out[41])
{
	if (repo_resolve(r, rev, out) != OK)
		die(EXIT_INPUT, "%s", err_last());
}

static void
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

/* ---- check ------------------------------------------------------------ */

static int
cmd_check(int argc, char **argv)
{
	struct opts o;
	struct repo *r;
	struct model *m = NULL;
	struct diags d = { NULL, 0, 0 };
	char sha[41];
	int rc;

	parse_opts(&o, argc, argv, "repo rev format", 0);
	r = open_repo(o.repo);
	resolve(r, o.rev ? o.rev : "HEAD", sha);
	rc = inventory_load(&m, &d, r, sha);
	if (rc != OK && rc != ERR_INVALID)
		die(EXIT_ENV, "%s", err_last());
	if (want_json(&o)) {
		size_t i;

		printf("{\"commit\": \"%s\", \"valid\": %s, \"errors\": [", sha,
		    rc == OK ? "true" : "false");
		for (i = 0; i < d.n; i++) {
			struct buf b = BUF_INIT;

			json_emit_string(&b, d.v[i].file, strlen(d.v[i].file));
			buf_printf(&b, ", \"line\": %d, \"column\": %d, \"message\": ", d.v[i].line,
			    d.v[i].col);
			json_emit_string(&b, d.v[i].message, strlen(d.v[i].message));
			printf("%s{\"file\": %s}", i ? ", " : "", b.data);
			buf_dispose(&b);
		}
		printf("]}\n");
	} else if (rc == OK) {
		printf("ok: %.7s is valid (%zu hosts, %zu roles, %zu services, %zu zones)\n", sha,
		    m->nhosts, m->nroles, m->nservices, m->nzones);
	} else {
		print_diags(stderr, &d);
		fprintf(stderr, "firebreak: %zu problem%s in %.7s\n", d.n, d.n == 1 ? "" : "s", sha);
	}
	model_free(m);
	diags_dispose(&d);
	repo_free(r);
	return rc == OK ? EXIT_OK : EXIT_INPUT;
}

/* ---- render ----------------------------------------------------------- */

#define RENDER_MARK ".firebreak-render"

static int
dir_is_empty(const char *path)
{
	/* rmdir succeeds only on an empty directory: cheap and exact. */
	if (rmdir(path) == 0) {
		if (mkdir(path, 0755) != 0)
			return -1;
		return 1;
	}
	return errno == ENOTEMPTY || errno == EEXIST ? 0 : -1;
}

/*
 * Render into a fresh sibling directory, then swap it in: the output is
 * never half-written, and files of hosts that no longer exist disappear.
 * An existing directory is replaced only when firebreak rendered it.
 */
static int
cmd_render(int argc, char **argv)
{
	struct opts o;
	struct repo *r;
	struct snapshot snap;
	struct diags d = { NULL, 0, 0 };
	struct stat st;
	char sha[41], tmp[4096], old[4096], mark[4096], outdir[4096];
	double t;
	size_t i;
	int rc, replace = 0;

	parse_opts(&o, argc, argv, "repo rev out", 0);
	if (!o.out || !*o.out)
		usage_error("--out is required");
	/* "out/" is "out": the temporary and old directories are siblings. */
	snprintf(outdir, sizeof(outdir), "%s", o.out);
	while (strlen(outdir) > 1 && outdir[strlen(outdir) - 1] == '/')
		outdir[strlen(outdir) - 1] = '\0';
	o.out = outdir;
	r = open_repo(o.repo);
	resolve(r, o.rev ? o.rev : "HEAD", sha);
	rc = snapshot_load(&snap, r, sha, &d);
	if (rc == ERR_INVALID) {
		print_diags(stderr, &d);
		die(EXIT_INPUT, "%zu problem%s in %.7s; nothing rendered", d.n,
		    d.n == 1 ? "" : "s", sha);
	}
	if (rc != OK)
		die(EXIT_ENV, "%s", err_last());
	if (lstat(o.out, &st) == 0) {
		snprintf(mark, sizeof(mark), "%s/%s", o.out, RENDER_MARK);
		if (!S_ISDIR(st.st_mode))
			die(EXIT_INPUT, "%s exists and is not a directory", o.out);
		if (access(mark, F_OK) == 0)
			replace = 1;
		else if (dir_is_empty(o.out) == 1)
			replace = 2;
		else
			die(EXIT_INPUT, "%s is not empty and was not rendered by firebreak; "
			    "refusing to replace it", o.out);
	}
	t = log_now();
	snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", o.out, (long)getpid());
	snprintf(old, sizeof(old), "%s.old-%ld", o.out, (long)getpid());
	fs_rm_rf(tmp);
	if ((rc = fs_mkdir_p(tmp, 0755)) != OK)
		die(EXIT_ENV, "%s", err_last());
	for (i = 0; i < snap.art.n && rc == OK; i++) {
		const struct artifact *a = &snap.art.v[i];

		rc = fs_write_under(tmp, a->path, a->data, a->len);
	}
	if (rc == OK) {
		char line[64];

		snprintf(line, sizeof(line), "%s\n", sha);
		rc = fs_write_under(tmp, RENDER_MARK, line, strlen(line));
	}
	if (rc != OK) {
		fs_rm_rf(tmp);
		die(EXIT_ENV, "%s", err_last());
	}
	if (replace == 1 && rename(o.out, old) != 0)
		die(EXIT_ENV, "rename %s: %s", o.out, strerror(errno));
	if (replace == 2)
		rmdir(o.out);
	if (rename(tmp, o.out) != 0)
		die(EXIT_ENV, "rename %s: %s", tmp, strerror(errno));
	if (replace == 1)
		fs_rm_rf(old);
	log_timing("write", t);
	printf("rendered %zu artifacts of %.7s into %s\n", snap.art.n, sha, o.out);
	if (FREE_AT_EXIT)
		snapshot_dispose(&snap);
	diags_dispose(&d);
	repo_free(r);
	return EXIT_OK;
}

/* ---- plan and apply ----------------------------------------------------- */

static void
print_plan(const struct plan *p, int json)
{
	if (json) {
		char *s = plan_to_json(p, NULL);

		printf("%s\n", s);
		free(s);
	} else {
		struct buf b = BUF_INIT;

		plan_format_text(&b, p, 0);
		fputs(b.data, stdout);
		buf_dispose(&b);
	}
}

/* Load the base snapshot; a base that does not validate cannot govern. */
static void
load_base(struct snapshot *base, struct repo *r, const char *sha)
{
	struct diags d = { NULL, 0, 0 };
	int rc = snapshot_load(base, r, sha, &d);

	if (rc == ERR_INVALID) {
		print_diags(stderr, &d);
		die(EXIT_INPUT, "the base commit %.7s does not validate, so it cannot govern "
		    "a plan", sha);
	}
	if (rc != OK)
		die(EXIT_ENV, "%s", err_last());
	diags_dispose(&d);
}

static int
cmd_plan(int argc, char **argv)
{
	struct opts o;
	struct repo *r;
	struct snapshot base, target;
	struct plan *p;
	char from[41] = "", to[41], id[24] = "0";
	int rc, code;

	parse_opts(&o, argc, argv, "repo state from to format", 0);
	r = open_repo(o.repo);
	if (o.from)
		resolve(r, o.from, from);
	else if (o.state && state_read_applied(o.state, from) != OK)
		die(EXIT_ENV, "%s", err_last());
	resolve(r, o.to ? o.to : "HEAD", to);
	/* A preview: the id this plan would get if it were recorded now. */
	if (o.state && state_peek_plan_id(o.state, id) != OK)
		die(EXIT_ENV, "%s", err_last());
	load_base(&base, r, from);
	rc = pipeline_plan(&p, r, id, &base, to, &target);
	if (rc != OK)
		die(exit_for(rc), "%s", err_last());
	print_plan(p, want_json(&o));
	code = p->decision == DECISION_INVALID ? EXIT_INPUT : EXIT_OK;
	if (FREE_AT_EXIT) {
		plan_free(p);
		snapshot_dispose(&base);
		snapshot_dispose(&target);
		repo_free(r);
	}
	return code;
}

static int
cmd_apply(int argc, char **argv)
{
	struct opts o;
	struct repo *r;
	struct state *s;
	struct snapshot base, target;
	struct plan *p;
	char from[41], to[41], id[24], extra[128];
	double t;
	int rc, json;

	parse_opts(&o, argc, argv, "repo state to format", 0);
	json = want_json(&o);
	if (!o.state)
		usage_error("--state is required");
	r = open_repo(o.repo);
	resolve(r, o.to ? o.to : "HEAD", to);
	if (state_open(&s, o.state, 1) != OK)
		die(EXIT_ENV, "%s", err_last());
	if (state_read_applied(o.state, from) != OK)
		die(EXIT_ENV, "%s", err_last());
	if (strcmp(from, to) == 0) {
		if (json)
			printf("{\"applied\": \"%s\", \"outcome\": \"noop\"}\n", to);
		else
			printf("nothing to apply: %.7s is already applied\n", to);
		state_close(s);
		repo_free(r);
		return EXIT_OK;
	}
	if (state_reserve_plan_id(s, id) != OK)
		die(EXIT_ENV, "%s", err_last());
	load_base(&base, r, from);
	if ((rc = pipeline_plan(&p, r, id, &base, to, &target)) != OK)
		die(exit_for(rc), "%s", err_last());
	if (p->decision == DECISION_INVALID) {
		if (state_save_plan(s, p, "invalid", NULL, 0) != OK)
			die(EXIT_ENV, "%s", err_last());
		print_plan(p, json);
		fprintf(stderr, "firebreak: %.7s does not validate; %s stays applied\n", to,
		    from[0] ? from : "nothing");
		plan_free(p);
		snapshot_dispose(&base);
		state_close(s);
		repo_free(r);
		return EXIT_INPUT;
	}
	/* An operator's explicit act: applied whatever the policy decides. */
	t = log_now();
	rc = state_apply(s, p, &target.art);
	log_timing("release", t);
	if (rc != OK)
		die(exit_for(rc) == EXIT_INPUT ? EXIT_INPUT : EXIT_ENV, "apply failed, nothing "
		    "changed: %s", err_last());
	snprintf(extra, sizeof(extra), "{\"outcome\": \"applied\", \"release\": \"%s\"}", p->id);
	if (state_save_plan(s, p, "applied", extra, 0) != OK)
		die(EXIT_ENV, "%s", err_last());
	if (json) {
		char *j = plan_to_json(p, extra);

		printf("%s\n", j);
		free(j);
	} else {
		print_plan(p, 0);
		printf("applied %.7s as release %s\n", to, p->id);
	}
	if (FREE_AT_EXIT) {
		plan_free(p);
		snapshot_dispose(&base);
		snapshot_dispose(&target);
	}
	state_close(s);
	repo_free(r);
	return EXIT_OK;
}

/* ---- enc ---------------------------------------------------------------- */

/* Puppet quotes the ENC's stdout in its error, so the reason for an
 * unknown node goes to both streams. */
static _Noreturn void
enc_unknown(const char *msg)
{
	printf("firebreak: %s\n", msg);
	fflush(stdout);
	fprintf(stderr, "firebreak: %s\n", msg);
	exit(EXIT_INPUT);
}

static int
enc_from_state(const char *state, const char *fqdn)
{
	int fd, rc = enc_open(&fd, state, fqdn);

	if (rc == ERR_INVALID || rc == ERR_NOTFOUND)
		enc_unknown(err_last());
	if (rc != OK)
		die(EXIT_ENV, "%s", err_last());
	fflush(stdout);
	rc = enc_copy(fd, STDOUT_FILENO);
	close(fd);
	if (rc != OK)
		die(EXIT_ENV, "%s", err_last());
	return EXIT_OK;
}

static int
cmd_enc(int argc, char **argv)
{
	struct opts o;
	const char *fqdn;

	parse_opts(&o, argc, argv, "state repo rev", 1);
	if (o.nargs != 1)
		usage_error("enc needs the node's FQDN");
	fqdn = o.args[0];
	if (!!o.state == !!o.repo)
		usage_error("enc needs exactly one of --state or --repo");
	if (o.state)
		return enc_from_state(o.state, fqdn);
	{
		struct repo *r = open_repo(o.repo);
		struct snapshot snap;
		struct diags d = { NULL, 0, 0 };
		const struct artifact *a;
		char sha[41], path[300], where[400];
		int rc;

		resolve(r, o.rev ? o.rev : "HEAD", sha);
		rc = snapshot_load(&snap, r, sha, &d);
		if (rc == ERR_INVALID) {
			print_diags(stderr, &d);
			die(EXIT_INPUT, "%.7s does not validate", sha);
		}
		if (rc != OK)
			die(EXIT_ENV, "%s", err_last());
		snprintf(path, sizeof(path), "enc/%s.yaml", fqdn);
		snprintf(where, sizeof(where), "no node '%s' in commit %.7s", fqdn, sha);
		if (!valid_fqdn(fqdn) || !(a = artifacts_find(&snap.art, path)))
			enc_unknown(where);
		fwrite(a->data, 1, a->len, stdout);
		snapshot_dispose(&snap);
		repo_free(r);
	}
	return EXIT_OK;
}

/* ---- the controller and its shell commands ------------------------------ */

static struct config *
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
	return cfg;
}

static int
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
static int
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

static int
cmd_approve(int argc, char **argv)
{
	return cmd_decide(1, argc, argv);
}

static int
cmd_discard(int argc, char **argv)
{
	return cmd_decide(0, argc, argv);
}

static int
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

/* Answer a Slack or Mattermost slash command through its response_url:
 * only the person who asked sees it (the commit itself is announced in
 * the channel by the controller). */
static int
reply_to_url(const char *url, const char *text)
{
	static const char *const headers[] = { "Content-Type: application/json", NULL };
	struct chat_http *h = NULL;
	struct chat_http_result res;
	struct buf body = BUF_INIT;

	memset(&res, 0, sizeof(res));
	/* More than one line (help, history, plan): a code block keeps the
	 * columns in Slack and Mattermost. */
	if (strchr(text, '\n') && strchr(text, '\n')[1]) {
		char *fenced = xasprintf("```\n%s```", text);

		chat_reply_json(&body, fenced, 0);
		free(fenced);
	} else {
		chat_reply_json(&body, text, 0);
	}
	int rc = OK;

	if (chat_http_open(&h, NULL) != OK ||
	    chat_http_post(h, "response_url", url, headers, body.data, body.len, &res) != OK)
		rc = ERR, fprintf(stderr, "firebreak: answering through response_url: %s\n",
		    err_last());
	else if (res.status < 200 || res.status > 299)
		rc = ERR, fprintf(stderr, "firebreak: response_url answered HTTP %ld\n", res.status);
	buf_dispose(&res.body);
	buf_dispose(&body);
	chat_http_close(h);
	return rc;
}

/*
 * A chat command from the shell: `--as USER` names a policy user (the
 * shell is for operators who can already write the state directory).
 * The controller runs the same with `--identity PLATFORM:ID --via WHERE
 * --json` for what arrives from Slack, Mattermost and IRC.
 */
static int
cmd_chat(int argc, char **argv)
{
	struct opts o;
	struct config *cfg;
	struct bot_request rq;
	struct bot_answer ans;
	struct buf text = BUF_INIT;
	int i, rc;

	parse_opts(&o, argc, argv, "config as identity via json reply-url chat-entry", 16);
	if (o.reply_url && !chat_url_ok(o.reply_url))
		usage_error("--reply-url is an http(s) URL");
	if (!o.as == !o.identity)
		usage_error("chat needs --as USER (or --identity PLATFORM:ID) and a command");
	if (o.as && !valid_user(o.as))
		die(EXIT_INPUT, "'%s' is not a valid user name", o.as);
	if (o.identity && (strlen(o.identity) > 200 || !strchr(o.identity, ':')))
		usage_error("--identity is PLATFORM:ID, like slack:U024BE7LH");
	for (i = 0; i < o.nargs; i++)
		buf_printf(&text, "%s%s", i ? " " : "", o.args[i]);
	cfg = load_config(o.config);
	memset(&rq, 0, sizeof(rq));
	rq.user = o.as;
	rq.identity = o.identity;
	rq.via = o.via ? o.via : "shell";
	rq.chat_entry = -1;
	if (o.chat_entry) {
		uint64_t v;

		if (parse_u64(&v, o.chat_entry, 0, 1000) != OK)
			usage_error("--chat-entry is the index of an entry of the config's chat list");
		rq.chat_entry = (int)v;
	}
	rq.text = text.data ? text.data : "";
	rq.decide_offline = decide_anywhere;
	rc = bot_run(cfg, &rq, &ans);
	if (o.json) {
		json_t *j = json_pack("{s:i, s:s, s:s, s:s}", "code", rc, "commit", ans.commit,
		    "user", ans.user, "text", ans.text.data ? ans.text.data : "");
		char *dump = j ? json_dumps(j, JSON_COMPACT) : NULL;

		if (dump)
			printf("%s\n", dump);
		free(dump);
		json_decref(j);
	} else if (ans.text.len) {
		fputs(ans.text.data, rc == 0 ? stdout : stderr);
	}
	if (o.reply_url)
		reply_to_url(o.reply_url, ans.text.data ? ans.text.data : "");
	bot_answer_dispose(&ans);
	buf_dispose(&text);
	config_free(cfg);
	return rc == 0 ? EXIT_OK : rc == 1 ? EXIT_INPUT : EXIT_ENV;
}

/*
 * The controller's helpers, run as its children so a hung network never
 * stops its loop: `fetch --config C` fetches the branch from the remote;
 * `reply --url URL TEXT` answers a slash command through its response_url.
 */
static int
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

static int
cmd_reply(int argc, char **argv)
{
	struct opts o;
	struct buf text = BUF_INIT;
	int i;

	parse_opts(&o, argc, argv, "reply-url url", 16);
	if (!o.url || !chat_url_ok(o.url))
		usage_error("reply needs --url URL (http or https) and a text");
	for (i = 0; i < o.nargs; i++)
		buf_printf(&text, "%s%s", i ? " " : "", o.args[i]);
	i = reply_to_url(o.url, text.data ? text.data : "");
	buf_dispose(&text);
	return i == OK ? EXIT_OK : EXIT_ENV;
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
		{ "discard", cmd_discard },
		{ "status", cmd_status },
		{ "chat", cmd_chat },
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
