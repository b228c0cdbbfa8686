/*
 * cmd_inventory.c - the subcommands that read the inventory repository
 * itself: check, render, plan, apply (the operator's one-shot) and enc
 * (from a repository; `enc --state` is answered by the front, main.c).
 */
#include "cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "git/repo.h"
#include "model/inventory.h"
#include "plan/pipeline.h"
#include "plan/plan.h"
#include "state/enc.h"
#include "state/state.h"

/* ---- check ------------------------------------------------------------ */

/*
 * BIND 9.18 refuses an RRset of more than 100 records (max-records-per-type)
 * and the rfc2136 provider's max_rrset (default 100) fails such an apply
 * before sending anything: say so when the inventory is checked.  Counts
 * what the route53 renderer merges into one record set: a role's
 * round-robin name in a zone (its active hosts there with an ip) and the
 * zone file's own records of that name and type.
 */
#define CHECK_RRSET_MAX 100

static size_t
zone_values(const struct zone *z, const char *name, const char *type)
{
	size_t i, n = 0;

	for (i = 0; i < z->nrecords; i++)
		if (strcmp(z->records[i].name, name) == 0 && strcmp(z->records[i].type, type) == 0)
			n += z->records[i].values.n;
	return n;
}

static void
warn_rrset(const char *name, const struct zone *z, const char *type, size_t n)
{
	fprintf(stderr, "warning: %s%s%s %s would hold %zu records: BIND refuses more than %d "
	    "in one record set (max-records-per-type), and the rfc2136 provider's max_rrset "
	    "(default %d) fails the apply\n", strcmp(name, "@") ? name : "",
	    strcmp(name, "@") ? "." : "", z->name, type, n, CHECK_RRSET_MAX, CHECK_RRSET_MAX);
}

static void
warn_big_rrsets(const struct model *m)
{
	size_t *count, i, j, z;

	if (m->nroles == 0 || m->nzones == 0)
		return;
	count = xcalloc(m->nroles * m->nzones, sizeof(*count));
	for (i = 0; i < m->nhosts; i++) {
		const struct host *h = &m->hosts[i];

		if (h->state == HOST_ACTIVE && h->ip && h->role && h->zone_idx < m->nzones)
			count[h->role_idx * m->nzones + h->zone_idx]++;
	}
	for (i = 0; i < m->nroles; i++)
		for (z = 0; z < m->nzones; z++)
			for (j = 0; count[i * m->nzones + z] && j < m->roles[i].dns.n; j++) {
				const char *name = m->roles[i].dns.v[j];
				size_t n = count[i * m->nzones + z] + zone_values(&m->zones[z], name, "A");

				if (n > CHECK_RRSET_MAX)
					warn_rrset(name, &m->zones[z], "A", n);
			}
	for (z = 0; z < m->nzones; z++)
		for (i = 0; i < m->zones[z].nrecords; i++) {
			const struct record *rec = &m->zones[z].records[i];
			size_t n = zone_values(&m->zones[z], rec->name, rec->type), k;
			int first = 1, role = 0;

			/* Once per (name, type), and not again for a round-robin. */
			for (k = 0; k < i; k++)
				if (strcmp(m->zones[z].records[k].name, rec->name) == 0 &&
				    strcmp(m->zones[z].records[k].type, rec->type) == 0)
					first = 0;
			for (k = 0; k < m->nroles && strcmp(rec->type, "A") == 0; k++)
				for (j = 0; j < m->roles[k].dns.n; j++)
					if (count[k * m->nzones + z] &&
					    strcmp(m->roles[k].dns.v[j], rec->name) == 0)
						role = 1;
			if (first && !role && n > CHECK_RRSET_MAX)
				warn_rrset(rec->name, &m->zones[z], rec->type, n);
		}
	free(count);
}

int
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
		warn_big_rrsets(m);
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
int
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

		rc = fs_write_under(tmp, a->path, a->data, a->len, 0644);
	}
	if (rc == OK) {
		char line[64];

		snprintf(line, sizeof(line), "%s\n", sha);
		rc = fs_write_under(tmp, RENDER_MARK, line, strlen(line), 0644);
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

int
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
	/* No configuration, so no bot identity: no commit's trailers are
	 * believed, and each plan names its commit's author. */
	rc = pipeline_plan(&p, r, NULL, id, &base, to, &target);
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

int
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
	if ((rc = pipeline_plan(&p, r, NULL, id, &base, to, &target)) != OK)
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

int
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
