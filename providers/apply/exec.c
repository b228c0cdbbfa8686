/*
 * exec.c - the `exec` apply provider: run a program after the release
 * switch, for plans touching its kinds.
 *
 *   apply:
 *     - type: exec
 *       kinds: [dns]                      # default: every kind
 *       argv: [/usr/local/bin/tf-apply, "{release}/terraform/route53"]
 *       timeout: 600                      # seconds, default 600
 *       env: {AWS_PROFILE: route53}       # added to the fixed environment
 *
 * Each argv element may hold the placeholders {release} (the release
 * directory's absolute path), {plan} (the plan id) and {commit} (the
 * target's sha); they are replaced literally and nothing else in the
 * element is interpreted: no shell, no globbing, no variables.  The same
 * three values are in the environment as FIREBREAK_RELEASE, FIREBREAK_PLAN
 * and FIREBREAK_COMMIT.  A non-zero exit, a signal or the timeout fails
 * the apply, with the tail of the program's output as the reason.
 *
 * A run after a restart (apply.h: APPLY_AFTER_RESTART) is the same run
 * again, with FIREBREAK_RESTARTED=1 in the environment (and
 * FIREBREAK_RERUN=1 when this program itself had started for the plan
 * and was cut short), for a tool that must know.
 */
#include "providers/apply/apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/proc.h"

#define EXEC_ARGV_MAX 64
#define EXEC_ARG_MAX 4096
#define EXEC_ENV_MAX 32
#define EXEC_TIMEOUT_DEFAULT 600
#define EXEC_TIMEOUT_MAX 86400
#define EXEC_REASON_TAIL 1500     /* bytes of output a failure quotes */

struct exec_cfg {
	char **argv;              /* owns; templates, NULL-terminated */
	size_t argc;
	char **env;               /* owns; "NAME=value", NULL-terminated */
	size_t nenv;
	unsigned kinds;
	unsigned timeout_s;
};

struct exec_run {
	struct proc *p;
	char *prog;               /* owns; argv[0], for the reason */
};

static const char *const placeholders[] = { "{release}", "{plan}", "{commit}" };

static void
exec_close(void *st)
{
	struct exec_cfg *c = st;
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->argc; i++)
		free(c->argv[i]);
	for (i = 0; i < c->nenv; i++)
		free(c->env[i]);
	free(c->argv);
	free(c->env);
	free(c);
}

/* A word in braces that is not one of ours is a typo in the config (say
 * "{relase}"), caught here rather than passed to a tool literally. */
static int
check_placeholders(const char *s, size_t idx, int line)
{
	const char *p = s, *q;
	size_t i, n;

	while ((p = strchr(p, '{'))) {
		for (q = p + 1; (*q >= 'a' && *q <= 'z') || *q == '_'; q++)
			;
		if (*q == '}' && q > p + 1) {
			int known = 0;

			n = (size_t)(q - p) + 1;
			for (i = 0; i < sizeof(placeholders) / sizeof(*placeholders); i++)
				known |= strlen(placeholders[i]) == n &&
				    strncmp(p, placeholders[i], n) == 0;
			if (!known)
				return err_set(ERR_INVALID, "apply exec: argv[%zu] (line %d): unknown "
				    "placeholder %.*s; known: {release}, {plan}, {commit}",
				    idx, line, (int)n, p);
		}
		p++;
	}
	return OK;
}

static int
parse_argv(struct exec_cfg *c, const struct ynode *n)
{
	size_t i;
	int rc;

	if (!n)
		return err_set(ERR_INVALID, "apply exec: argv is required: the program and "
		    "its arguments, e.g. [/usr/local/bin/tf-apply, \"{release}/terraform/route53\"]");
	if (n->type != YNODE_SEQ || n->n == 0)
		return err_set(ERR_INVALID, "apply exec: argv (line %d): expected a non-empty "
		    "list of strings, got %s", n->line, ynode_type_name(n));
	if (n->n > EXEC_ARGV_MAX)
		return err_set(ERR_INVALID, "apply exec: argv (line %d): more than %d elements",
		    n->line, EXEC_ARGV_MAX);
	c->argv = xcalloc(n->n + 1, sizeof(*c->argv));
	for (i = 0; i < n->n; i++) {
		const struct ynode *it = n->items[i];

		if (it->type != YNODE_SCALAR)
			return err_set(ERR_INVALID, "apply exec: argv[%zu] (line %d): expected a "
			    "string, got %s", i, it->line, ynode_type_name(it));
		if (strlen(it->str) != it->len || it->len > EXEC_ARG_MAX)
			return err_set(ERR_INVALID, "apply exec: argv[%zu] (line %d): NUL byte or "
			    "longer than %d bytes", i, it->line, EXEC_ARG_MAX);
		if ((rc = check_placeholders(it->str, i, it->line)) != OK)
			return rc;
		c->argv[c->argc++] = xstrdup(it->str);
	}
	if (c->argv[0][0] != '/')
		return err_set(ERR_INVALID, "apply exec: argv[0] (line %d): the program must be "
		    "an absolute path (there is no PATH search), got \"%.80s\"",
		    n->items[0]->line, c->argv[0]);
	if (strchr(c->argv[0], '{'))
		return err_set(ERR_INVALID, "apply exec: argv[0] (line %d): the program may not "
		    "hold a placeholder", n->items[0]->line);
	return OK;
}

static int
parse_timeout(struct exec_cfg *c, const struct ynode *n)
{
	uint64_t v;

	c->timeout_s = EXEC_TIMEOUT_DEFAULT;
	if (!n)
		return OK;
	if (n->type != YNODE_SCALAR || n->quoted ||
	    parse_u64(&v, n->str, 1, EXEC_TIMEOUT_MAX) != OK)
		return err_set(ERR_INVALID, "apply exec: timeout (line %d): expected a whole "
		    "number of seconds from 1 to %d", n->line, EXEC_TIMEOUT_MAX);
	c->timeout_s = (unsigned)v;
	return OK;
}

static int
env_name_ok(const char *s)
{
	size_t i;

	if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (i = 1; s[i]; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

static int
parse_env(struct exec_cfg *c, const struct ynode *n)
{
	size_t i;

	c->env = xcalloc(EXEC_ENV_MAX + 1, sizeof(*c->env));
	if (!n)
		return OK;
	if (n->type != YNODE_MAP)
		return err_set(ERR_INVALID, "apply exec: env (line %d): expected a mapping of "
		    "NAME: value, got %s", n->line, ynode_type_name(n));
	if (n->n > EXEC_ENV_MAX)
		return err_set(ERR_INVALID, "apply exec: env (line %d): more than %d variables",
		    n->line, EXEC_ENV_MAX);
	for (i = 0; i < n->n; i++) {
		const struct ynode *k = n->keys[i], *v = n->items[i];

		if (k->type != YNODE_SCALAR || !env_name_ok(k->str) ||
		    strncmp(k->str, "FIREBREAK_", 10) == 0)
			return err_set(ERR_INVALID, "apply exec: env (line %d): bad variable name "
			    "\"%.40s\" (want [A-Za-z_][A-Za-z0-9_]*, not FIREBREAK_*)", k->line,
			    k->type == YNODE_SCALAR ? k->str : "");
		if (v->type != YNODE_SCALAR || strlen(v->str) != v->len || v->len > EXEC_ARG_MAX)
			return err_set(ERR_INVALID, "apply exec: env.%s (line %d): expected a string",
			    k->str, v->line);
		c->env[c->nenv++] = xasprintf("%s=%s", k->str, v->str);
	}
	return OK;
}

static int
exec_open(void **out, const struct ynode *cfg)
{
	static const char *const known[] = { "kinds", "argv", "timeout", "env", NULL };
	struct exec_cfg *c;
	int rc;

	*out = NULL;
	if ((rc = apply_check_keys(cfg, "exec", known)) != OK)
		return rc;
	c = xcalloc(1, sizeof(*c));
	if ((rc = parse_argv(c, ynode_get(cfg, "argv"))) != OK ||
	    (rc = apply_kinds_parse(&c->kinds, ynode_get(cfg, "kinds"), "apply exec: kinds")) != OK ||
	    (rc = parse_timeout(c, ynode_get(cfg, "timeout"))) != OK ||
	    (rc = parse_env(c, ynode_get(cfg, "env"))) != OK) {
		exec_close(c);
		return rc;
	}
	*out = c;
	return OK;
}

static int
exec_wants(void *st, const struct plan *p)
{
	const struct exec_cfg *c = st;

	return apply_plan_touches(p, c->kinds);
}

/* Replace each placeholder by its value; everything else is copied. */
static char *
expand(const char *tmpl, const char *const values[3])
{
	struct buf b = BUF_INIT;
	const char *s = tmpl;
	size_t i, n;

	while (*s) {
		int hit = 0;

		if (*s == '{')
			for (i = 0; i < 3 && !hit; i++) {
				n = strlen(placeholders[i]);
				if (strncmp(s, placeholders[i], n) == 0) {
					buf_puts(&b, values[i]);
					s += n;
					hit = 1;
				}
			}
		if (!hit)
			buf_putc(&b, *s++);
	}
	return buf_steal(&b);
}

static int
exec_start(void **run, void *st, const struct apply_info *in)
{
	const struct exec_cfg *c = st;
	const char *values[3];
	char **argv, **env;
	struct proc_opts o = { 0 };
	struct exec_run *r;
	struct proc *p;
	size_t i, ne = 0;
	int rc;

	*run = NULL;
	values[0] = in->release;
	values[1] = in->plan_id;
	values[2] = in->commit;
	argv = xcalloc(c->argc + 1, sizeof(*argv));
	for (i = 0; i < c->argc; i++)
		argv[i] = expand(c->argv[i], values);
	env = xcalloc(c->nenv + 6, sizeof(*env));
	for (i = 0; i < c->nenv; i++)
		env[ne++] = c->env[i];
	env[ne++] = xasprintf("FIREBREAK_RELEASE=%s", in->release);
	env[ne++] = xasprintf("FIREBREAK_PLAN=%s", in->plan_id);
	env[ne++] = xasprintf("FIREBREAK_COMMIT=%s", in->commit);
	if (in->flags & APPLY_AFTER_RESTART)
		env[ne++] = xstrdup("FIREBREAK_RESTARTED=1");
	if (in->flags & APPLY_RERUN)
		env[ne++] = xstrdup("FIREBREAK_RERUN=1");
	o.env = (const char *const *)env;
	o.timeout_ms = c->timeout_s * 1000u;
	rc = proc_start(&p, (const char *const *)argv, &o);
	if (rc != OK) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", err_last());
		err_set(rc, "apply exec: %s", msg);
	} else {
		r = xcalloc(1, sizeof(*r));
		r->p = p;
		r->prog = xstrdup(argv[0]);
		*run = r;
	}
	for (i = 0; i < c->argc; i++)
		free(argv[i]);
	free(argv);
	for (i = c->nenv; i < ne; i++)
		free(env[i]);
	free(env);
	return rc;
}

static int
exec_fd(void *run)
{
	return proc_fd(((struct exec_run *)run)->p);
}

static int
exec_timeout_ms(void *run)
{
	return proc_timeout_ms(((struct exec_run *)run)->p);
}

static int
exec_step(void *run)
{
	return proc_poll(((struct exec_run *)run)->p);
}

static void
exec_cancel(void *run)
{
	proc_cancel(((struct exec_run *)run)->p);
}

/*
 * The last EXEC_REASON_TAIL bytes of output, from a line start when there
 * is one, not starting inside a UTF-8 sequence, without trailing blank
 * lines, and with control characters (other than newline and tab) as '?':
 * it goes to chat and to the log.
 */
static void
put_tail(struct buf *b, const struct proc_result *r)
{
	const char *d = r->output.data;
	size_t len = r->output.len, start = 0, i;

	while (len > 0 && (d[len - 1] == '\n' || d[len - 1] == '\r' || d[len - 1] == ' ' ||
	    d[len - 1] == '\t'))
		len--;
	if (len == 0) {
		buf_puts(b, "(no output)");
		return;
	}
	if (len > EXEC_REASON_TAIL) {
		const char *nl;

		start = len - EXEC_REASON_TAIL;
		nl = memchr(d + start, '\n', len - start);
		if (nl && nl + 1 < d + len)
			start = (size_t)(nl + 1 - d);
	}
	while (start < len && ((unsigned char)d[start] & 0xC0) == 0x80)
		start++;
	if (start > 0 || r->dropped)
		buf_puts(b, "...\n");
	for (i = start; i < len; i++) {
		unsigned char ch = (unsigned char)d[i];

		buf_putc(b, (ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f ? '?' : (char)ch);
	}
}

static int
exec_finish(char **reason, void *run)
{
	struct exec_run *r = run;
	struct proc_result res;
	struct buf b = BUF_INIT;
	int rc;

	proc_finish(&res, r->p);
	rc = proc_result_ok(&res) ? OK : ERR;
	buf_printf(&b, "%s ", r->prog);
	proc_result_describe(&b, &res);
	if (!res.timed_out)
		buf_printf(&b, " after %.1f s", res.seconds);
	if (rc != OK) {
		buf_puts(&b, ":\n");
		put_tail(&b, &res);
	}
	*reason = buf_steal(&b);
	proc_result_dispose(&res);
	free(r->prog);
	free(r);
	return rc;
}

static long
exec_group(void *run)
{
	return proc_pid(((struct exec_run *)run)->p);
}

static const struct apply_ops exec_ops = {
	.open = exec_open,
	.wants = exec_wants,
	.start = exec_start,
	.fd = exec_fd,
	.timeout_ms = exec_timeout_ms,
	.step = exec_step,
	.cancel = exec_cancel,
	.finish = exec_finish,
	.close = exec_close,
	.group = exec_group,
};

const struct apply_provider apply_exec = {
	.abi = APPLY_PROVIDER_ABI,
	.name = "exec",
	.ops = &exec_ops,
};
