/*
 * orchestrate_registry.c - the one table of orchestrators, and what the
 * backends share: the argv template ({host}), the child process, and
 * reading a result by Puppet's --detailed-exitcodes.  Adding a backend is
 * one file exporting a `struct orch_provider` and one line in the table.
 */
#include "providers/orchestrate/orchestrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/names.h"
#include "base/proc.h"

extern const struct orch_provider orch_ssh;
extern const struct orch_provider orch_exec;

static const struct orch_provider *const orch_registry[] = {
	&orch_ssh,
	&orch_exec,
	NULL,
};

static int
orch_provider_ok(const struct orch_provider *p)
{
	const struct orch_ops *o = p->ops;

	return p->abi == ORCH_PROVIDER_ABI && p->name && o && o->open && o->start && o->fd &&
	    o->timeout_ms && o->step && o->cancel && o->finish && o->close;
}

const struct orch_provider *
orch_find(const char *name)
{
	size_t i;

	for (i = 0; orch_registry[i]; i++) {
		ASSERT(orch_provider_ok(orch_registry[i]));
		if (strcmp(orch_registry[i]->name, name) == 0)
			return orch_registry[i];
	}
	return NULL;
}

const char *
orch_names(void)
{
	static char names[128];
	size_t i, off = 0;

	if (names[0])
		return names;
	for (i = 0; orch_registry[i]; i++) {
		int k = snprintf(names + off, sizeof(names) - off, "%s%s", i ? ", " : "",
		    orch_registry[i]->name);

		if (k < 0 || (size_t)k >= sizeof(names) - off)
			break;
		off += (size_t)k;
	}
	return names;
}

const char *
orch_status_name(enum orch_status s)
{
	switch (s) {
	case ORCH_UNCHANGED: return "unchanged";
	case ORCH_CHANGED: return "changed";
	case ORCH_FAILED: return "failed";
	case ORCH_BUSY: return "busy";
	case ORCH_UNREACHABLE: return "unreachable";
	}
	return "?";
}

void
orch_result_dispose(struct orch_result *r)
{
	if (!r)
		return;
	free(r->how);
	free(r->tail);
	free(r->line);
	memset(r, 0, sizeof(*r));
}

/* ---- templates ---------------------------------------------------------------- */

/*
 * Every '{' must open a placeholder we know and every '}' close one: a
 * typo ("{hots}") or a stray brace is refused rather than passed on
 * literally.  *nhost counts the {host} placeholders.
 */
static int
check_braces(const char *s, const char *who, size_t idx, int line, int *nhost)
{
	const char *p = s;

	while (*p) {
		if (*p == '{') {
			if (strncmp(p, "{host}", 6) != 0)
				return err_set(ERR_INVALID, "%s: argv[%zu] (line %d): unknown or unclosed "
				    "placeholder at \"%.20s\"; the only one is {host}", who, idx, line, p);
			(*nhost)++;
			p += 6;
			continue;
		}
		if (*p == '}')
			return err_set(ERR_INVALID, "%s: argv[%zu] (line %d): a '}' that closes no "
			    "placeholder; the only one is {host}", who, idx, line);
		p++;
	}
	return OK;
}

/* A bare program name is looked up in PROC_PATH once, at open. */
static char *
resolve_program(const char *name)
{
	char path[4096], dirs[] = PROC_PATH, *save = NULL, *d;

	if (strchr(name, '/'))
		return name[0] == '/' ? xstrdup(name) : NULL;
	for (d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		int k = snprintf(path, sizeof(path), "%s/%s", d, name);

		if (k > 0 && (size_t)k < sizeof(path) && access(path, X_OK) == 0)
			return xstrdup(path);
	}
	return NULL;
}

static int
check_keys(const struct ynode *cfg, const char *who, const char *const known[])
{
	static const char *const common[] = { "argv", "timeout", NULL };
	const struct ynode *k;
	struct buf b = BUF_INIT;

	if (!cfg || cfg->type != YNODE_MAP)
		return err_set(ERR_INVALID, "%s: expected a mapping {type, argv, timeout}", who);
	if (!(k = ynode_unknown_key(cfg, common, known)))
		return OK;
	ynode_keys_join(&b, "type, argv, timeout", known);
	err_set(ERR_INVALID, "%s: unknown key \"%.40s\" (line %d); known: %s", who, k->str,
	    k->line, b.data);
	buf_dispose(&b);
	return ERR_INVALID;
}

int
orch_template_parse(struct orch_template *t, const struct ynode *cfg, const char *who,
    const char *const known_keys[])
{
	const struct ynode *n, *to;
	int nhost = 0, rc;
	uint64_t v;
	size_t i;

	memset(t, 0, sizeof(*t));
	if ((rc = check_keys(cfg, who, known_keys)) != OK)
		return rc;
	n = ynode_get(cfg, "argv");
	if (!n)
		return err_set(ERR_INVALID, "%s: argv is required: the program and its arguments, "
		    "with {host} where the host's name goes", who);
	if (n->type != YNODE_SEQ || n->n == 0)
		return err_set(ERR_INVALID, "%s: argv (line %d): expected a non-empty list of "
		    "strings, got %s", who, n->line, ynode_type_name(n));
	if (n->n > ORCH_ARGV_MAX)
		return err_set(ERR_INVALID, "%s: argv (line %d): more than %d elements", who, n->line,
		    ORCH_ARGV_MAX);
	t->argv = xcalloc(n->n + 1, sizeof(*t->argv));
	t->lines = xcalloc(n->n, sizeof(*t->lines));
	for (i = 0; i < n->n; i++) {
		const struct ynode *it = n->items[i];

		if (it->type != YNODE_SCALAR)
			return err_set(ERR_INVALID, "%s: argv[%zu] (line %d): expected a string, got %s",
			    who, i, it->line, ynode_type_name(it));
		if (strlen(it->str) != it->len || it->len > ORCH_ARG_MAX || it->len == 0)
			return err_set(ERR_INVALID, "%s: argv[%zu] (line %d): empty, a NUL byte, or "
			    "longer than %d bytes", who, i, it->line, ORCH_ARG_MAX);
		if ((rc = check_braces(it->str, who, i, it->line, &nhost)) != OK)
			return rc;
		if (i == 0 && nhost)
			return err_set(ERR_INVALID, "%s: argv[0] (line %d): the program may not hold "
			    "{host}", who, it->line);
		t->lines[i] = it->line;
		if (i == 0) {
			if (!(t->argv[0] = resolve_program(it->str)))
				return err_set(ERR_INVALID, "%s: argv[0] (line %d): no program \"%.200s\" "
				    "(a name is looked up in %s; a path must be absolute)", who,
				    it->line, it->str, PROC_PATH);
		} else {
			t->argv[i] = xstrdup(it->str);
		}
		t->argc = i + 1;
	}
	if (!nhost)
		return err_set(ERR_INVALID, "%s: argv (line %d): no element holds {host}, so every "
		    "host would run the same command", who, n->line);
	t->timeout_s = ORCH_TIMEOUT_DEFAULT;
	if ((to = ynode_get(cfg, "timeout"))) {
		if (to->type != YNODE_SCALAR || to->quoted ||
		    parse_u64(&v, to->str, 1, ORCH_TIMEOUT_MAX) != OK)
			return err_set(ERR_INVALID, "%s: timeout (line %d): expected a whole number of "
			    "seconds from 1 to %d", who, to->line, ORCH_TIMEOUT_MAX);
		t->timeout_s = (unsigned)v;
	}
	return OK;
}

void
orch_template_dispose(struct orch_template *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; t->argv && i < t->argc; i++)
		free(t->argv[i]);
	free(t->argv);
	free(t->lines);
	memset(t, 0, sizeof(*t));
}

void
orch_template_close(void *st)
{
	orch_template_dispose(st);
	free(st);
}

int
orch_template_start(void **run, void *st, const char *host)
{
	const struct orch_template *t = st;
	char **argv;
	int rc;

	*run = NULL;
	if (!valid_fqdn(host))
		return err_set(ERR_INVALID, "'%.80s' is not a valid fqdn; it never reaches argv", host);
	argv = orch_template_expand(t, host);
	rc = orch_proc_start(run, argv, host, t->timeout_s);
	orch_argv_free(argv);
	return rc;
}

char **
orch_template_expand(const struct orch_template *t, const char *host)
{
	char **argv = xcalloc(t->argc + 1, sizeof(*argv));
	size_t i;

	for (i = 0; i < t->argc; i++) {
		struct buf b = BUF_INIT;
		const char *s = t->argv[i];

		/* The host is a valid fqdn: letters, digits, '-' and '.', so it
		 * stays inside this one element whatever reads it. */
		while (*s) {
			if (strncmp(s, "{host}", 6) == 0) {
				buf_puts(&b, host);
				s += 6;
			} else {
				buf_putc(&b, *s++);
			}
		}
		argv[i] = b.data ? buf_steal(&b) : xstrdup("");
	}
	return argv;
}

void
orch_argv_free(char **argv)
{
	size_t i;

	for (i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

/* ---- the child ---------------------------------------------------------------- */

struct orch_run {
	struct proc *p;
};

int
orch_proc_start(void **run, char **argv, const char *host, unsigned timeout_s)
{
	struct proc_opts o;
	struct orch_run *r;
	struct proc *p;
	char *env[2];
	int rc;

	*run = NULL;
	if (!valid_fqdn(host))
		return err_set(ERR_INVALID, "'%.80s' is not a valid fqdn; it never reaches argv", host);
	memset(&o, 0, sizeof(o));
	env[0] = xasprintf("FIREBREAK_HOST=%s", host);
	env[1] = NULL;
	o.env = (const char *const *)env;
	o.timeout_ms = timeout_s * 1000u;
	o.output_cap = 16 * 1024;
	rc = proc_start(&p, (const char *const *)argv, &o);
	free(env[0]);
	if (rc != OK)
		return rc;
	r = xcalloc(1, sizeof(*r));
	r->p = p;
	*run = r;
	return OK;
}

int
orch_proc_fd(void *run)
{
	return proc_fd(((struct orch_run *)run)->p);
}

int
orch_proc_timeout_ms(void *run)
{
	return proc_timeout_ms(((struct orch_run *)run)->p);
}

int
orch_proc_step(void *run)
{
	return proc_poll(((struct orch_run *)run)->p);
}

void
orch_proc_cancel(void *run)
{
	proc_cancel(((struct orch_run *)run)->p);
}

/* Is this byte one a line for chat may hold? */
static int
printable(unsigned char ch)
{
	return ch >= 0x20 && ch != 0x7f;
}

void
orch_output_cut(struct orch_result *r, const char *d, size_t len, size_t dropped)
{
	struct buf b = BUF_INIT;
	size_t start = 0, i, ls, le, e;

	/* Trailing blank lines and spaces say nothing. */
	while (len > 0 && (d[len - 1] == '\n' || d[len - 1] == '\r' || d[len - 1] == ' ' ||
	    d[len - 1] == '\t'))
		len--;
	if (len > ORCH_TAIL_MAX) {
		const char *nl;

		start = len - ORCH_TAIL_MAX;
		nl = memchr(d + start, '\n', len - start);
		if (nl && nl + 1 < d + len)
			start = (size_t)(nl + 1 - d);
	}
	while (start < len && ((unsigned char)d[start] & 0xC0) == 0x80)
		start++;
	if (start > 0 || dropped)
		buf_puts(&b, "...\n");
	for (i = start; i < len; i++) {
		unsigned char ch = (unsigned char)d[i];

		buf_putc(&b, ch == '\n' || ch == '\t' || printable(ch) ? (char)ch : '?');
	}
	r->tail = b.data ? buf_steal(&b) : xstrdup("");
	/* The last line with a letter or digit in it, alone on one line:
	 * whatever the host wrote, chat gets one line from it, after our own
	 * prefix, never a line of its own. */
	ls = le = 0;
	for (e = len; e > start;) {
		size_t s0 = e;
		int some = 0;

		while (s0 > start && d[s0 - 1] != '\n')
			s0--;
		for (i = s0; i < e && !some; i++)
			some = (d[i] >= 'A' && d[i] <= 'Z') || (d[i] >= 'a' && d[i] <= 'z') ||
			    (d[i] >= '0' && d[i] <= '9');
		if (some) {
			ls = s0;
			le = e;
			break;
		}
		if (s0 == start)
			break;
		e = s0 - 1;
	}
	for (i = ls; i < le && b.len < ORCH_LINE_MAX; i++) {
		unsigned char ch = (unsigned char)d[i];

		if (ch == '\t' || ch == '\r')
			ch = ' ';
		if (!printable(ch))
			continue;
		/* Escape sequences lose their ESC (above), and their text
		 * ("[31m") is harmless; a UTF-8 sequence is kept whole. */
		if (ch >= 0xC0) {
			size_t k = 1;

			while (i + k < le && ((unsigned char)d[i + k] & 0xC0) == 0x80)
				k++;
			if (b.len + k > ORCH_LINE_MAX)
				break;
			buf_append(&b, d + i, k);
			i += k - 1;
			continue;
		}
		if (ch >= 0x80)
			continue;          /* a stray continuation byte */
		buf_putc(&b, (char)ch);
	}
	while (b.len && b.data[b.len - 1] == ' ')
		b.len--;
	if (b.data)
		b.data[b.len] = '\0';
	r->line = b.data ? buf_steal(&b) : xstrdup("");
}

void
orch_proc_finish(struct orch_result *out, void *run)
{
	struct orch_run *r = run;
	struct proc_result res;
	struct buf how = BUF_INIT;

	memset(out, 0, sizeof(*out));
	proc_finish(&res, r->p);
	free(r);
	proc_result_describe(&how, &res);
	out->how = buf_steal(&how);
	out->timed_out = res.timed_out;
	out->seconds = res.seconds;
	out->code = res.exited && !res.timed_out ? res.code : -1;
	if (res.timed_out)
		out->status = ORCH_UNREACHABLE;
	else if (!res.exited)
		out->status = ORCH_FAILED;
	else
		switch (res.code) {
		case 0: out->status = ORCH_UNCHANGED; break;
		case 2: out->status = ORCH_CHANGED; break;
		case 1: out->status = ORCH_BUSY; break;
		case 255: out->status = ORCH_UNREACHABLE; break;
		default: out->status = ORCH_FAILED; break;
		}
	orch_output_cut(out, res.output.data ? res.output.data : "", res.output.len,
	    res.dropped);
	proc_result_dispose(&res);
}
