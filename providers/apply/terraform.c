/*
 * terraform.c - the `terraform` apply provider: Terraform applies exactly
 * the saved plan that was reviewed (DESIGN.md "Reaching the world: apply
 * providers").
 *
 *   apply:
 *     - type: terraform
 *       kinds: [dns]                     # default [dns]: what terraform/route53 renders
 *       dir: terraform/route53           # within the release (the default)
 *       binary: terraform                # a path, or a name looked up in PATH at start-up
 *       cli_config: /etc/firebreak/terraformrc    # TF_CLI_CONFIG_FILE: provider mirror,
 *                                                 # credentials helpers
 *       provider_file: /etc/firebreak/route53-provider.tf.json   # copied beside the
 *                                                 # rendered files: region, endpoints, backend
 *       state_dir: /var/lib/firebreak/terraform   # default <state>/terraform
 *       timeout: 900                     # seconds for each run (plan, apply, drift)
 *
 * PLAN (prepare()), for a plan touching its kinds, before anyone decides
 * it: in a private copy of the target release's `dir` (the rendered
 * files, provider_file, and -- unless provider_file names a backend of
 * its own -- a local backend keeping the state in state_dir), `terraform
 * init`, then `terraform plan -input=false -detailed-exitcode
 * -out=<state>/tfplans/<id>.tfplan`, then `terraform show -json` of that
 * file: its summary (N to add, change, destroy; each resource and action)
 * is posted with the plan, and the file's SHA-256 joins the plan hash
 * that an approval binds to.
 *
 * APPLY (start()): the saved plan is renamed out of the way first (so no
 * later run, after a failure or a restart, can ever find it again), its
 * SHA-256 is checked against the approved one, and `terraform apply
 * -input=false <that file>` runs in a fresh copy initialised with the
 * plan's lock file -- never a fresh plan.  "Saved plan is stale" (the
 * state changed since), a file that changed or is gone, or nothing
 * prepared at all (a re-run) answer APPLY_STALE: nothing was applied,
 * and the controller makes a new plan and posts it anew.
 *
 * DRIFT (drift()): `terraform plan -detailed-exitcode -lock=false` of the
 * current release, changing nothing; exit 2 means Route53 differs from
 * the release, and the summary says which resources Terraform would
 * change back.
 *
 * Terraform's state lives where the user's configuration says, by default
 * in state_dir (<state>/terraform/terraform.tfstate); firebreak never
 * edits it.  Records that exist in Route53 but not in the state are the
 * user's to `terraform import` (README).
 *
 * Every run is a chain of child processes (init, plan, show, apply) that
 * the loop drives through the usual fd/timeout/step; nothing blocks.  The
 * child's environment is PATH, HOME, LANG, the controller's own AWS_* and
 * TF_* variables, TF_CLI_CONFIG_FILE (cli_config) and TF_IN_AUTOMATION;
 * nothing else.  Its output reaches chat only through tfreport.c (no
 * ANSI codes, no control characters, capped).
 */
#include "providers/apply/apply.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "base/crypto.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/proc.h"
#include "providers/apply/tfreport.h"

#define TF_TIMEOUT_DEFAULT 900
#define TF_TIMEOUT_MAX 86400
#define TF_ENV_MAX 48              /* AWS_* and TF_* variables passed on */
#define TF_PLAN_MAX (256u << 20)   /* bytes of a saved plan we hash */
#define TF_OUTPUT_CAP (256 * 1024) /* output kept of init, plan, apply */
#define TF_KEEP_DAYS 30            /* an unapplied saved plan older than this goes */
#define TF_BACKEND_FILE "firebreak_backend.tf.json"

extern char **environ;

struct tf_cfg {
	unsigned kinds;
	char *dir;                /* owns; "terraform/route53" */
	char *binary;             /* owns; absolute */
	char *cli_config;         /* owns, or NULL */
	char *provider_file;      /* owns, or NULL */
	char *provider_name;      /* owns; its base name in the copy, or NULL */
	int user_backend;         /* provider_file configures a backend */
	char *state_dir;          /* owns, or NULL: <state>/terraform */
	unsigned timeout_s;
	char **env;               /* owns; "NAME=value", NULL-terminated */
};

enum tf_mode { TF_PREPARE, TF_APPLY, TF_DRIFT };
enum tf_stage { TF_INIT, TF_PLAN, TF_SHOW, TF_APPLYING, TF_END };

struct tf_run {
	const struct tf_cfg *cfg;
	enum tf_mode mode;
	enum tf_stage stage;
	struct proc *p;           /* the running step, or NULL */
	char *work;               /* owns; the private copy, removed at finish */
	char *plan;               /* owns; the saved plan (prepare: written;
	                           * apply: applied; drift: in work) */
	char *lock;               /* owns; the lock file kept beside the plan */
	char *plan_id;            /* owns */
	double deadline;          /* log_now() seconds */
	int plan_exit;            /* terraform plan's exit status */
	int rc;                   /* the outcome once stage == TF_END */
	struct buf reason;
	struct apply_found found;
};

static const char *const stage_names[] = { "init", "plan", "show", "apply", "" };

/* ---- configuration --------------------------------------------------------- */

static void
cfg_close(void *st)
{
	struct tf_cfg *c = st;
	size_t i;

	if (!c)
		return;
	free(c->dir);
	free(c->binary);
	free(c->cli_config);
	free(c->provider_file);
	free(c->provider_name);
	free(c->state_dir);
	for (i = 0; c->env && c->env[i]; i++)
		free(c->env[i]);
	free(c->env);
	free(c);
}

/* A string value of `key`, or NULL (absent); ERR_INVALID when not one. */
static int
string_of(const char **out, const struct ynode *cfg, const char *key)
{
	const struct ynode *n = ynode_get(cfg, key);

	*out = NULL;
	if (!n)
		return OK;
	if (n->type != YNODE_SCALAR || strlen(n->str) != n->len || n->len == 0 || n->len > 1024)
		return err_set(ERR_INVALID, "apply terraform: %s (line %d): expected a string",
		    key, n->line);
	*out = n->str;
	return OK;
}

static int
line_of(const struct ynode *cfg, const char *key)
{
	const struct ynode *n = ynode_get(cfg, key);

	return n ? n->line : cfg->line;
}

/* An absolute path to a readable regular file. */
static int
file_key(char **out, const struct ynode *cfg, const char *key)
{
	const char *v;
	struct stat st;
	int rc;

	*out = NULL;
	if ((rc = string_of(&v, cfg, key)) != OK || !v)
		return rc;
	if (v[0] != '/')
		return err_set(ERR_INVALID, "apply terraform: %s (line %d): expected an absolute "
		    "path, got \"%.80s\"", key, line_of(cfg, key), v);
	errno = 0;
	if (stat(v, &st) != 0 || !S_ISREG(st.st_mode) || access(v, R_OK) != 0)
		return err_set(ERR_INVALID, "apply terraform: %s (line %d): cannot read %s: %s",
		    key, line_of(cfg, key), v, errno ? strerror(errno) : "not a regular file");
	*out = xstrdup(v);
	return OK;
}

/* `binary`: an absolute path, or a name found in the controller's PATH now. */
static int
parse_binary(struct tf_cfg *c, const struct ynode *cfg)
{
	const char *v, *path, *p;
	int rc;

	if ((rc = string_of(&v, cfg, "binary")) != OK)
		return rc;
	if (!v)
		v = "terraform";
	if (strchr(v, '/')) {
		if (v[0] != '/')
			return err_set(ERR_INVALID, "apply terraform: binary (line %d): a path must be "
			    "absolute, got \"%.80s\"", line_of(cfg, "binary"), v);
		if (access(v, X_OK) != 0)
			return err_set(ERR_NOTFOUND, "apply terraform: binary (line %d): %s: %s",
			    line_of(cfg, "binary"), v, strerror(errno));
		c->binary = xstrdup(v);
		return OK;
	}
	path = getenv("PATH");
	for (p = path; p && *p;) {
		size_t n = strcspn(p, ":");
		char *cand;

		if (n > 0 && p[0] == '/') {
			cand = xasprintf("%.*s/%s", (int)n, p, v);
			if (access(cand, X_OK) == 0) {
				struct stat st;

				if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
					c->binary = cand;
					return OK;
				}
			}
			free(cand);
		}
		p += n;
		if (*p == ':')
			p++;
	}
	return err_set(ERR_NOTFOUND, "apply terraform: binary (line %d): \"%.80s\" is not in "
	    "PATH (%.300s); install Terraform or give its absolute path", line_of(cfg, "binary"),
	    v, path ? path : "unset");
}

/* `dir`: a relative path inside the release. */
static int
parse_dir(struct tf_cfg *c, const struct ynode *cfg)
{
	const char *v;
	size_t n;
	int rc;

	if ((rc = string_of(&v, cfg, "dir")) != OK)
		return rc;
	if (!v)
		v = "terraform/route53";
	n = strlen(v);
	while (n > 1 && v[n - 1] == '/')
		n--;
	c->dir = xstrndup(v, n);
	if (!fs_path_safe(c->dir))
		return err_set(ERR_INVALID, "apply terraform: dir (line %d): expected a relative "
		    "path inside the release, like terraform/route53, got \"%.80s\"",
		    line_of(cfg, "dir"), v);
	return OK;
}

/*
 * provider_file: JSON (a .tf.json) whose base name joins the copy; a
 * `terraform.backend` in it means the user keeps the state elsewhere.
 */
static int
parse_provider_file(struct tf_cfg *c, const struct ynode *cfg)
{
	struct buf b = BUF_INIT;
	json_error_t je;
	json_t *root, *tf, *be;
	const char *base;
	int rc;

	if ((rc = file_key(&c->provider_file, cfg, "provider_file")) != OK || !c->provider_file)
		return rc;
	base = strrchr(c->provider_file, '/') + 1;
	if (!str_has_suffix(base, ".tf.json") || !fs_path_safe(base) ||
	    strcmp(base, TF_BACKEND_FILE) == 0)
		return err_set(ERR_INVALID, "apply terraform: provider_file (line %d): expected a "
		    "file named *.tf.json (Terraform's JSON syntax), got %s",
		    line_of(cfg, "provider_file"), base);
	c->provider_name = xstrdup(base);
	if ((rc = fs_read(&b, c->provider_file, 1u << 20)) != OK) {
		buf_dispose(&b);
		return err_set(rc, "apply terraform: provider_file (line %d): %s",
		    line_of(cfg, "provider_file"), err_last());
	}
	root = json_loadb(b.data ? b.data : "", b.len, JSON_REJECT_DUPLICATES, &je);
	buf_dispose(&b);
	if (!json_is_object(root)) {
		rc = err_set(ERR_INVALID, "apply terraform: provider_file (line %d): %s is not a "
		    "JSON object (line %d: %s)", line_of(cfg, "provider_file"), c->provider_file,
		    je.line, root ? "not an object" : je.text);
		json_decref(root);
		return rc;
	}
	tf = json_object_get(root, "terraform");
	if (json_is_array(tf)) {
		size_t i;
		json_t *v;

		json_array_foreach(tf, i, v)
			if (json_object_get(v, "backend"))
				c->user_backend = 1;
	} else if ((be = json_object_get(tf, "backend")) && !json_is_null(be)) {
		c->user_backend = 1;
	}
	json_decref(root);
	return OK;
}

static int
parse_timeout(struct tf_cfg *c, const struct ynode *cfg)
{
	const struct ynode *n = ynode_get(cfg, "timeout");
	uint64_t v;

	c->timeout_s = TF_TIMEOUT_DEFAULT;
	if (!n)
		return OK;
	if (n->type != YNODE_SCALAR || n->quoted || parse_u64(&v, n->str, 1, TF_TIMEOUT_MAX) != OK)
		return err_set(ERR_INVALID, "apply terraform: timeout (line %d): expected a whole "
		    "number of seconds from 1 to %d", n->line, TF_TIMEOUT_MAX);
	c->timeout_s = (unsigned)v;
	return OK;
}

/*
 * The child's environment beyond proc's fixed PATH, HOME and LANG: the
 * controller's AWS_* and TF_* variables (credentials, profiles, Terraform's
 * own settings), then TF_CLI_CONFIG_FILE and TF_IN_AUTOMATION, which win.
 */
static void
build_env(struct tf_cfg *c)
{
	size_t n = 0, i;

	c->env = xcalloc(TF_ENV_MAX + 3, sizeof(*c->env));
	for (i = 0; environ && environ[i] && n < TF_ENV_MAX; i++) {
		const char *e = environ[i];
		size_t nl = strcspn(e, "=");
		int ok = e[nl] == '=' && nl > 0;
		size_t j;

		if (!(strncmp(e, "AWS_", 4) == 0 || strncmp(e, "TF_", 3) == 0))
			continue;
		for (j = 0; ok && j < nl; j++)
			ok = (e[j] >= 'A' && e[j] <= 'Z') || (e[j] >= 'a' && e[j] <= 'z') ||
			    (e[j] >= '0' && e[j] <= '9') || e[j] == '_';
		if (!ok || (nl == 18 && strncmp(e, "TF_CLI_CONFIG_FILE", 18) == 0 && c->cli_config) ||
		    (nl == 16 && strncmp(e, "TF_IN_AUTOMATION", 16) == 0))
			continue;
		c->env[n++] = xstrdup(e);
	}
	if (c->cli_config)
		c->env[n++] = xasprintf("TF_CLI_CONFIG_FILE=%s", c->cli_config);
	c->env[n++] = xstrdup("TF_IN_AUTOMATION=1");
}

static int
tf_open(void **out, const struct ynode *cfg)
{
	static const char *const known[] = { "kinds", "dir", "binary", "cli_config",
		"provider_file", "state_dir", "timeout", NULL };
	struct tf_cfg *c;
	const char *sd;
	int rc;

	*out = NULL;
	if ((rc = apply_check_keys(cfg, "terraform", known)) != OK)
		return rc;
	c = xcalloc(1, sizeof(*c));
	if ((rc = ynode_get(cfg, "kinds") ? apply_kinds_parse(&c->kinds, ynode_get(cfg, "kinds"),
	    "apply terraform: kinds") : OK) != OK ||
	    (rc = parse_dir(c, cfg)) != OK ||
	    (rc = parse_binary(c, cfg)) != OK ||
	    (rc = file_key(&c->cli_config, cfg, "cli_config")) != OK ||
	    (rc = parse_provider_file(c, cfg)) != OK ||
	    (rc = parse_timeout(c, cfg)) != OK ||
	    (rc = string_of(&sd, cfg, "state_dir")) != OK)
		goto fail;
	if (!ynode_get(cfg, "kinds"))
		c->kinds = APPLY_KIND_BIT(KIND_DNS);
	if (sd && sd[0] != '/') {
		rc = err_set(ERR_INVALID, "apply terraform: state_dir (line %d): expected an "
		    "absolute path", line_of(cfg, "state_dir"));
		goto fail;
	}
	if (sd && c->user_backend) {
		rc = err_set(ERR_INVALID, "apply terraform: state_dir (line %d): provider_file %s "
		    "configures a backend of its own, which says where the state is; leave "
		    "state_dir out", line_of(cfg, "state_dir"), c->provider_file);
		goto fail;
	}
	c->state_dir = sd ? xstrdup(sd) : NULL;
	build_env(c);
	*out = c;
	return OK;
fail:
	cfg_close(c);
	return rc;
}

static int
tf_wants(void *st, const struct plan *p)
{
	const struct tf_cfg *c = st;

	return apply_plan_touches(p, c->kinds);
}

/* ---- the private copy ----------------------------------------------------------- */

/* <state>/tfplans, made 0700 (saved plans can hold secrets of the
 * provider's configuration). */
static char *
plans_dir(const struct apply_info *in)
{
	char *d = xasprintf("%s/tfplans", in->state_dir);

	if (fs_mkdir_p(d, 0700) != OK) {
		free(d);
		return NULL;
	}
	return d;
}

/* Leftovers: copies of runs whose process is gone (a kill), and saved
 * plans nobody applied within TF_KEEP_DAYS (their plans were superseded
 * or discarded).  Best effort. */
static void
sweep(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	time_t now = time(NULL);

	if (!d)
		return;
	while ((e = readdir(d))) {
		char *path;
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, e->d_name);
		if (strncmp(e->d_name, "work.tmp.", 9) == 0 && fs_tmp_stale(e->d_name))
			fs_rm_rf(path);
		else if (strncmp(e->d_name, "work.", 5) != 0 && lstat(path, &st) == 0 &&
		    S_ISREG(st.st_mode) && now - st.st_mtime > TF_KEEP_DAYS * 86400)
			unlink(path);
		free(path);
	}
	closedir(d);
}

/*
 * A fresh private copy of the release's `dir` under `plans`: the
 * rendered files, provider_file and, unless that names a backend, a
 * local backend keeping the state in state_dir.
 */
static int
make_copy(char **out, const struct tf_cfg *c, const struct apply_info *in, const char *plans)
{
	static unsigned long seq;
	const struct artifacts *a = in->target_art;
	size_t dl = strlen(c->dir), i, files = 0;
	char *work = xasprintf("%s/work.tmp.%ld.%lu", plans, (long)getpid(), ++seq);
	int rc;

	*out = NULL;
	fs_rm_rf(work);
	if ((rc = fs_mkdir_p(work, 0700)) != OK)
		goto fail;
	for (i = 0; a && i < a->n; i++) {
		const char *p = a->v[i].path;

		if (strncmp(p, c->dir, dl) != 0 || p[dl] != '/')
			continue;
		if (c->provider_name && strcmp(p + dl + 1, c->provider_name) == 0) {
			rc = err_set(ERR_CONFLICT, "terraform: provider_file %s has the name of a "
			    "rendered file (%s); rename it", c->provider_file, p);
			goto fail;
		}
		if ((rc = fs_write_under(work, p + dl + 1, a->v[i].data, a->v[i].len, 0600)) != OK)
			goto fail;
		files++;
	}
	if (files == 0) {
		rc = err_set(ERR_NOTFOUND, "terraform: the release has nothing under %s/ (no "
		    "dns/ zone renders there?)", c->dir);
		goto fail;
	}
	if (c->provider_file) {
		struct buf b = BUF_INIT;

		/* Read again at every run: the user may change it any time. */
		if ((rc = fs_read(&b, c->provider_file, 1u << 20)) == OK)
			rc = fs_write_under(work, c->provider_name, b.data ? b.data : "", b.len, 0600);
		buf_dispose(&b);
		if (rc != OK) {
			rc = err_set(rc, "terraform: provider_file: %s", err_last());
			goto fail;
		}
	}
	if (!c->user_backend) {
		char *sd = c->state_dir ? xstrdup(c->state_dir) :
		    xasprintf("%s/terraform", in->state_dir);
		json_t *j = json_pack("{s:{s:{s:{s:s}}}}", "terraform", "backend", "local", "path",
		    "");
		char *state = xasprintf("%s/terraform.tfstate", sd), *text;

		json_object_set_new(json_object_get(json_object_get(json_object_get(j, "terraform"),
		    "backend"), "local"), "path", json_string(state));
		text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
		rc = fs_mkdir_p(sd, 0700);
		if (rc == OK)
			rc = fs_write_under(work, TF_BACKEND_FILE, text, strlen(text), 0600);
		free(text);
		free(state);
		free(sd);
		json_decref(j);
		if (rc != OK)
			goto fail;
	}
	*out = work;
	return OK;
fail:
	fs_rm_rf(work);
	free(work);
	return rc;
}

/* ---- the run ---------------------------------------------------------------------- */

static int
remaining_ms(const struct tf_run *r)
{
	double left = r->deadline - log_now();

	return left <= 0.001 ? 1 : (int)(left * 1000.0);
}

/* Start `terraform ARGS...` in the copy. */
static int
run_step(struct tf_run *r, enum tf_stage stage, const char *const args[])
{
	const char *argv[16];
	struct proc_opts o;
	size_t n = 0;
	int rc;

	argv[n++] = r->cfg->binary;
	while (*args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	memset(&o, 0, sizeof(o));
	o.env = (const char *const *)r->cfg->env;
	o.cwd = r->work;
	o.timeout_ms = (unsigned)remaining_ms(r);
	o.output_cap = stage == TF_SHOW ? TF_SHOW_MAX : TF_OUTPUT_CAP;
	r->stage = stage;
	if ((rc = proc_start(&r->p, argv, &o)) != OK)
		return err_set(rc, "terraform %s: %s", stage_names[stage], err_last());
	return OK;
}

static void
run_end(struct tf_run *r, int rc)
{
	r->rc = rc;
	r->stage = TF_END;
}

/* A step that failed to start, or ended badly: its words, then Terraform's. */
static void
step_failed(struct tf_run *r, const struct proc_result *res)
{
	buf_printf(&r->reason, "terraform %s ", stage_names[r->stage]);
	proc_result_describe(&r->reason, res);
	if (!res->timed_out)
		buf_printf(&r->reason, " after %.1f s", res->seconds);
	buf_puts(&r->reason, ":\n");
	tf_errors(&r->reason, res->output.data ? res->output.data : "", res->output.len);
}

static int
begin_plan(struct tf_run *r)
{
	char out[4200];
	const char *prep[] = { "plan", "-input=false", "-no-color", "-detailed-exitcode",
		"-lock-timeout=60s", out, NULL };
	const char *drift[] = { "plan", "-input=false", "-no-color", "-detailed-exitcode",
		"-lock=false", out, NULL };

	snprintf(out, sizeof(out), "-out=%s", r->plan);
	return run_step(r, TF_PLAN, r->mode == TF_DRIFT ? drift : prep);
}

static int
begin_show(struct tf_run *r)
{
	const char *args[] = { "show", "-json", "-no-color", r->plan, NULL };

	return run_step(r, TF_SHOW, args);
}

static int
begin_apply(struct tf_run *r)
{
	const char *args[] = { "apply", "-input=false", "-no-color", "-lock-timeout=60s",
		r->plan, NULL };

	return run_step(r, TF_APPLYING, args);
}

/* Copy a small file (the dependency lock) from one place to another. */
static int
copy_file(const char *from, const char *to)
{
	struct buf b = BUF_INIT;
	int rc = fs_read(&b, from, 1u << 20);

	if (rc == OK)
		rc = fs_write_atomic(to, b.data ? b.data : "", b.len);
	buf_dispose(&b);
	return rc;
}

/* The SHA-256 of a saved plan, as 64 hex digits. */
static int
file_sha256(char out[2 * CRYPTO_SHA256_LEN + 1], const char *path)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char d[CRYPTO_SHA256_LEN];
	struct buf b = BUF_INIT;
	size_t i;
	int rc = fs_read(&b, path, TF_PLAN_MAX);

	if (rc == OK) {
		crypto_sha256(d, b.data ? b.data : "", b.len);
		for (i = 0; i < CRYPTO_SHA256_LEN; i++) {
			out[2 * i] = hex[d[i] >> 4];
			out[2 * i + 1] = hex[d[i] & 15];
		}
		out[2 * CRYPTO_SHA256_LEN] = '\0';
	}
	buf_dispose(&b);
	return rc;
}

/* One step ended: judge it and start the next, or end the run. */
static void
advance(struct tf_run *r)
{
	struct proc_result res;
	const char *out;
	int rc = OK, code;

	proc_finish(&res, r->p);
	r->p = NULL;
	out = res.output.data ? res.output.data : "";
	code = res.exited && !res.timed_out && !res.cancelled ? res.code : -1;
	switch (r->stage) {
	case TF_INIT:
		if (code != 0) {
			step_failed(r, &res);
			run_end(r, ERR);
			break;
		}
		rc = r->mode == TF_APPLY ? begin_apply(r) : begin_plan(r);
		break;
	case TF_PLAN:
		/* -detailed-exitcode: 0 no changes, 2 changes, 1 an error. */
		if (code != 0 && code != 2) {
			step_failed(r, &res);
			run_end(r, ERR);
			break;
		}
		r->plan_exit = code;
		if (r->mode == TF_PREPARE) {
			char *lock = xasprintf("%s/.terraform.lock.hcl", r->work);

			if (access(lock, R_OK) == 0)
				copy_file(lock, r->lock);
			free(lock);
		}
		rc = begin_show(r);
		break;
	case TF_SHOW: {
		struct tf_counts n;
		struct buf sum = BUF_INIT;
		char digest[2 * CRYPTO_SHA256_LEN + 1];

		if (code != 0 || res.dropped) {
			if (res.dropped)
				buf_printf(&r->reason, "terraform show -json wrote more than %u bytes; the "
				    "plan is too large to summarise\n", TF_SHOW_MAX);
			else
				step_failed(r, &res);
			run_end(r, ERR);
			break;
		}
		if (tf_summary(&sum, &n, out, res.output.len) != OK) {
			buf_printf(&r->reason, "terraform: %s\n", err_last());
			buf_dispose(&sum);
			run_end(r, ERR);
			break;
		}
		r->found.changes = r->plan_exit == 2;
		r->found.differ = n.resources;
		if (r->mode == TF_DRIFT) {
			if (r->plan_exit == 2) {
				buf_printf(&r->reason, "terraform: %zu resource%s in the world differ%s from "
				    "the current release; Terraform would change %s back:\n", n.resources,
				    n.resources == 1 ? "" : "s", n.resources == 1 ? "s" : "",
				    n.resources == 1 ? "it" : "them");
				buf_append(&r->reason, sum.data, sum.len);
				run_end(r, ERR_CONFLICT);
			} else {
				buf_puts(&r->reason, "terraform: the world is what the current release says "
				    "(terraform plan: no changes)");
				run_end(r, OK);
			}
			buf_dispose(&sum);
			break;
		}
		if (file_sha256(digest, r->plan) != OK) {
			buf_printf(&r->reason, "terraform: reading the saved plan: %s\n", err_last());
			buf_dispose(&sum);
			run_end(r, ERR);
			break;
		}
		r->found.digest = xstrdup(digest);
		buf_append(&r->reason, sum.data, sum.len);
		buf_printf(&r->reason, "saved plan %s/%s.tfplan, sha256 %.16s...\n",
		    "tfplans", r->plan_id, digest);
		buf_dispose(&sum);
		run_end(r, OK);
		break;
	}
	case TF_APPLYING:
		if (code == 0) {
			buf_puts(&r->reason, "terraform apply: ");
			if (!tf_line(&r->reason, out, res.output.len, "Apply complete!"))
				buf_puts(&r->reason, "done");
			buf_printf(&r->reason, " (%.1f s)", res.seconds);
			run_end(r, OK);
		} else if (tf_says_stale(out, res.output.len)) {
			buf_puts(&r->reason, "terraform apply: the saved plan is stale (Terraform's state "
			    "changed since it was made); nothing was applied, and it is never applied "
			    "again: a new plan follows\n");
			run_end(r, APPLY_STALE);
		} else {
			step_failed(r, &res);
			run_end(r, ERR);
		}
		break;
	case TF_END:
		break;
	}
	if (rc != OK) {
		buf_printf(&r->reason, "%s\n", err_last());
		run_end(r, ERR);
	}
	proc_result_dispose(&res);
}

static void
run_free(struct tf_run *r)
{
	if (r->work) {
		fs_rm_rf(r->work);
		free(r->work);
	}
	free(r->plan);
	free(r->lock);
	free(r->plan_id);
	buf_dispose(&r->reason);
	free(r->found.digest);
	free(r);
}

static struct tf_run *
run_new(const struct tf_cfg *c, enum tf_mode mode, const struct apply_info *in)
{
	struct tf_run *r = xcalloc(1, sizeof(*r));

	r->cfg = c;
	r->mode = mode;
	r->plan_id = xstrdup(in->plan_id ? in->plan_id : "drift");
	r->deadline = log_now() + c->timeout_s;
	return r;
}

/* A run that ended before any step (nothing to do, or stale): its
 * outcome is known now, and step() says done at once. */
static int
ended(void **run, struct tf_run *r, int rc)
{
	run_end(r, rc);
	*run = r;
	return OK;
}

static int
begin(void **run, const struct tf_cfg *c, const struct apply_info *in, enum tf_mode mode)
{
	const char *init[] = { "init", "-input=false", "-no-color", NULL };
	struct tf_run *r;
	char *plans;
	int rc;

	*run = NULL;
	if (!in->state_dir || !in->target_art)
		return err_set(ERR_INVALID, "apply terraform: the caller gave no state directory "
		    "or release");
	if (!(plans = plans_dir(in)))
		return err_set(ERR, "apply terraform: %s", err_last());
	sweep(plans);
	r = run_new(c, mode, in);
	if (mode == TF_DRIFT) {
		rc = make_copy(&r->work, c, in, plans);
		if (rc == OK)
			r->plan = xasprintf("%s/drift.tfplan", r->work);
	} else {
		r->plan = xasprintf("%s/%s.tfplan", plans, r->plan_id);
		r->lock = xasprintf("%s/%s.lock.hcl", plans, r->plan_id);
		if (mode == TF_PREPARE) {
			unlink(r->plan);
			unlink(r->lock);
		}
		rc = mode == TF_APPLY ? OK : make_copy(&r->work, c, in, plans);
	}
	free(plans);
	if (rc != OK) {
		rc = err_set(rc, "apply terraform: %s", err_last());
		run_free(r);
		return rc;
	}
	if (mode == TF_APPLY) {
		/* Exactly the reviewed file, once. */
		char digest[2 * CRYPTO_SHA256_LEN + 1];
		char *taken = xasprintf("%s.applying", r->plan);

		if (!in->prepared) {
			buf_printf(&r->reason, "terraform: no saved plan was reviewed for plan %s (a "
			    "re-run plans anew); nothing was applied: a new plan follows\n", r->plan_id);
			free(taken);
			return ended(run, r, APPLY_STALE);
		}
		/* Out of the way before anything else: whatever happens next
		 * (a failure, a kill), no run finds this file again. */
		if (rename(r->plan, taken) != 0) {
			buf_printf(&r->reason, "terraform: the saved plan tfplans/%s.tfplan is gone "
			    "(%s); nothing was applied: a new plan follows\n", r->plan_id,
			    strerror(errno));
			free(taken);
			return ended(run, r, APPLY_STALE);
		}
		free(r->plan);
		r->plan = taken;
		if (file_sha256(digest, r->plan) != OK || strcmp(digest, in->prepared) != 0) {
			buf_printf(&r->reason, "terraform: the saved plan tfplans/%s.tfplan is not the "
			    "one approved (its SHA-256 is %.16s..., the approved %.16s...); nothing was "
			    "applied: a new plan follows\n", r->plan_id, digest, in->prepared);
			unlink(r->plan);
			return ended(run, r, APPLY_STALE);
		}
		plans = plans_dir(in);
		rc = plans ? make_copy(&r->work, c, in, plans) : ERR;
		free(plans);
		if (rc != OK) {
			buf_printf(&r->reason, "terraform: %s\n", err_last());
			unlink(r->plan);
			return ended(run, r, ERR);
		}
		{
			/* The providers the plan was made with. */
			char *lock = xasprintf("%s/.terraform.lock.hcl", r->work);

			if (access(r->lock, R_OK) == 0)
				copy_file(r->lock, lock);
			free(lock);
		}
	}
	if ((rc = run_step(r, TF_INIT, init)) != OK) {
		rc = err_set(rc, "apply %s", err_last());
		if (mode == TF_APPLY)
			unlink(r->plan);
		run_free(r);
		return rc;
	}
	*run = r;
	return OK;
}

static int
tf_start(void **run, void *st, const struct apply_info *in)
{
	return begin(run, st, in, TF_APPLY);
}

static int
tf_prepare(void **run, void *st, const struct apply_info *in)
{
	return begin(run, st, in, TF_PREPARE);
}

static int
tf_drift(void **run, void *st, const struct apply_info *in)
{
	return begin(run, st, in, TF_DRIFT);
}

static int
tf_fd(void *run)
{
	struct tf_run *r = run;

	return r->p ? proc_fd(r->p) : -1;
}

static int
tf_timeout_ms(void *run)
{
	struct tf_run *r = run;

	return r->p ? proc_timeout_ms(r->p) : 0;
}

static int
tf_step(void *run)
{
	struct tf_run *r = run;

	while (r->p && proc_poll(r->p))
		advance(r);
	return r->stage == TF_END;
}

static void
tf_cancel(void *run)
{
	struct tf_run *r = run;

	if (r->p)
		proc_cancel(r->p);
}

static int
tf_finish_found(char **reason, struct apply_found *found, void *run)
{
	struct tf_run *r = run;
	int rc;

	memset(found, 0, sizeof(*found));
	if (r->stage != TF_END) {
		/* Stopped early (shutdown): whatever runs is killed. */
		struct proc_result res;

		if (r->p) {
			proc_finish(&res, r->p);
			r->p = NULL;
			step_failed(r, &res);
			proc_result_dispose(&res);
		}
		run_end(r, ERR);
	}
	if (r->mode == TF_APPLY || (r->mode == TF_PREPARE && r->rc != OK)) {
		/* Used once, whatever came of it; or of no use. */
		unlink(r->plan);
		if (r->lock)
			unlink(r->lock);
	}
	while (r->reason.len && r->reason.data[r->reason.len - 1] == '\n')
		r->reason.data[--r->reason.len] = '\0';
	rc = r->rc;
	*reason = buf_steal(&r->reason);
	*found = r->found;
	memset(&r->found, 0, sizeof(r->found));
	run_free(r);
	return rc;
}

static int
tf_finish(char **reason, void *run)
{
	struct apply_found found;
	int rc = tf_finish_found(reason, &found, run);

	free(found.digest);
	return rc;
}

static const struct apply_ops tf_ops = {
	.open = tf_open,
	.wants = tf_wants,
	.start = tf_start,
	.fd = tf_fd,
	.timeout_ms = tf_timeout_ms,
	.step = tf_step,
	.cancel = tf_cancel,
	.finish = tf_finish,
	.close = cfg_close,
	.drift = tf_drift,
	.prepare = tf_prepare,
	.finish_found = tf_finish_found,
};

const struct apply_provider apply_terraform = {
	.abi = APPLY_PROVIDER_ABI,
	.name = "terraform",
	.ops = &tf_ops,
};
