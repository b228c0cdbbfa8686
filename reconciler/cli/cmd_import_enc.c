/*
 * cmd_import_enc.c - `firebreak import enc --script PATH --nodes FILE`:
 * run a team's existing ENC for every node they list and write the
 * hosts/ and roles/ that render the same documents (see importint.h for
 * the check before writing, cmd_import.c for the usage text).
 *
 * The script runs as Puppet runs it: PATH split on spaces, the node's
 * name appended, no shell (base/proc.h), one node at a time with a
 * timeout; its stdout is the document, its stderr goes to a private file
 * and is quoted when it fails.  A failing node stops the import before
 * anything is written, naming the node.
 *
 * Hosts share a role when their documents carry the same `role`
 * parameter (the usual role/profile ENC), else when they have the same
 * classes.  A role gets the classes every member has (in the first
 * member's order), the parameters every member has with the value most
 * of them have (the first member's on a tie), and the most common
 * environment; each host keeps what differs: extra classes, parameters
 * the role lacks or overrides, its own environment.  A role whose hosts
 * all list exactly another imported role's hosts as `backends` gets
 * `backends_of:` it (infer_backends()).  Rendering gives the
 * classes as a set (a host's extras come after its role's), the
 * parameters with `role` set to the role's name, and the environment
 * (production when the document had none).
 */
#include "cli/importint.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/names.h"
#include "base/proc.h"
#include "model/artifact.h"
#include "model/encdoc.h"

#define ENC_NODES_BYTES (16u << 20)
#define ENC_ARGV_MAX 32
#define ENC_TIMEOUT_MS 60000
#define ENC_OUTPUT_CAP (1u << 20)
#define ENC_SHOW 600              /* bytes of a failing script's stderr shown */

struct enode {
	char *fqdn;               /* owns */
	int line;                 /* in the nodes file */
	struct encdoc d;          /* owns */
	const char *const *classes;   /* d's: no repeats */
	size_t nclasses;
	const struct ynode *params;   /* d's; a map or NULL */
	const char *env;          /* d's; NULL: production */
	char *key;                /* owns; the group key */
	size_t group;
};

struct egroup {
	char *key;                /* borrowed from the first member */
	char *role;               /* owns */
	size_t *members;          /* owns; indices into nodes, in fqdn order */
	size_t n;
	const char **classes;     /* owns the array; borrows */
	size_t nclasses;
	const struct ynode **pkeys, **pvals;   /* borrowed; the role's params */
	size_t np;
	const char *env;          /* borrowed; NULL: production */
	const char *backends_of;  /* borrowed; the role whose hosts `backends` lists */
};

static char *tmpdir;          /* the scripts' stderr, removed at exit */
static char *errpath;
static char *script_words;    /* --script split in place; argv points into it */

static void
cleanup(void)
{
	if (errpath)
		unlink(errpath);
	if (tmpdir)
		rmdir(tmpdir);
}

static void
read_nodes(struct enode **out, size_t *n, const char *file)
{
	struct strlist l;
	struct buf b = BUF_INIT;
	size_t i;
	int rc;

	if ((rc = fs_read(&b, file, ENC_NODES_BYTES)) != OK)
		die(rc == ERR_TOOBIG ? EXIT_INPUT : EXIT_ENV, "--nodes %s: %s", file, err_last());
	if ((rc = nodelist_parse(&l, file, b.data ? b.data : "", b.len)) != OK)
		die(exit_for(rc), "%s; nothing was written", err_last());
	*n = l.n;
	*out = xcalloc(l.n, sizeof(**out));
	for (i = 0; i < l.n; i++) {
		(*out)[i].fqdn = l.v[i];
		(*out)[i].line = l.lines[i];
		l.v[i] = NULL;
	}
	strlist_dispose(&l);
	buf_dispose(&b);
}

/* PATH split on spaces, as Puppet splits external_nodes; argv[0] made
 * absolute (there is no PATH search). */
static size_t
script_argv(const char **argv, const char *script)
{
	char *copy, *tok, *save = NULL, *abs;
	size_t n = 0;

	copy = script_words = xstrdup(script);

	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (n == ENC_ARGV_MAX - 2)
			usage_error("--script: more than %d words", ENC_ARGV_MAX - 2);
		argv[n++] = tok;
	}
	if (n == 0)
		usage_error("--script names no program");
	abs = realpath(argv[0], NULL);
	if (!abs)
		die(EXIT_ENV, "--script %s: %s", argv[0], strerror(errno));
	argv[0] = abs;
	return n;
}

/* The tail of the script's stderr, printable, for a message (owns). */
static char *
stderr_tail(void)
{
	struct buf b = BUF_INIT;
	char *s;
	size_t off;

	if (fs_read(&b, errpath, 1u << 20) != OK || b.len == 0) {
		buf_dispose(&b);
		return xstrdup("");
	}
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == ' '))
		b.data[--b.len] = '\0';
	off = b.len > ENC_SHOW ? b.len - ENC_SHOW : 0;
	s = xasprintf(": %s%s", off ? "..." : "", b.data + off);
	buf_dispose(&b);
	return utf8_scrub(s);
}

static int
has_class(const char *const *v, size_t n, const char *c)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], c) == 0)
			return 1;
	return 0;
}

/* The document's classes, parameters and environment, checked. */
static void
read_doc(struct enode *nd, const char *out, size_t len)
{
	if (encdoc_parse(&nd->d, out, len) != OK)
		die(EXIT_INPUT, "node %s: the script's output: %s; nothing was written", nd->fqdn,
		    err_last());
	nd->classes = nd->d.classes;
	nd->nclasses = nd->d.nclasses;
	nd->params = nd->d.params;
	nd->env = nd->d.env && strcmp(nd->d.env, "production") != 0 ? nd->d.env : NULL;
}

/* Run the script for one node. */
static void
run_node(struct enode *nd, const char **argv, size_t argc)
{
	struct proc_opts po = { 0 };
	struct proc_result res;
	int rc;

	argv[argc] = nd->fqdn;
	argv[argc + 1] = NULL;
	po.timeout_ms = ENC_TIMEOUT_MS;
	po.output_cap = ENC_OUTPUT_CAP + 1;
	po.stderr_path = errpath;
	if ((rc = proc_run(&res, argv, &po)) != OK)
		die(EXIT_ENV, "the ENC script cannot run: %s; nothing was written", err_last());
	if (!proc_result_ok(&res)) {
		struct buf how = BUF_INIT;
		char *tail = stderr_tail();

		proc_result_describe(&how, &res);
		die(EXIT_INPUT, "the ENC script failed for node %s (%s)%s; nothing was written",
		    nd->fqdn, how.data, tail);
	}
	if (res.dropped || res.output.len > ENC_OUTPUT_CAP)
		die(EXIT_INPUT, "node %s: the script printed more than %u bytes; nothing was written",
		    nd->fqdn, ENC_OUTPUT_CAP);
	read_doc(nd, res.output.data ? res.output.data : "", res.output.len);
	proc_result_dispose(&res);
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
node_cmp(const void *a, const void *b)
{
	return strcmp(((const struct enode *)a)->fqdn, ((const struct enode *)b)->fqdn);
}

/* The `role` parameter when it names a role, else NULL. */
static const char *
role_param(const struct enode *nd)
{
	const struct ynode *r = nd->params ? ynode_get(nd->params, "role") : NULL;

	if (!r)
		return NULL;
	if (r->type != YNODE_SCALAR || ynode_scalar_kind(r) != YSCALAR_STR ||
	    strlen(r->str) != r->len || !valid_role(r->str))
		die(EXIT_INPUT, "node %s: parameter role is '%.80s', not a role name firebreak "
		    "accepts ([a-z][a-z0-9_-]*): firebreak's ENC sets role to the host's role; "
		    "nothing was written", nd->fqdn, r->type == YNODE_SCALAR ?
		    utf8_scrub(r->str) : ynode_type_name(r));
	return r->str;
}

static char *
group_key(const struct enode *nd)
{
	const char *r = role_param(nd);
	struct buf b = BUF_INIT;
	const char **v;
	size_t i;

	if (r)
		return xasprintf("r:%s", r);
	v = xcalloc(nd->nclasses ? nd->nclasses : 1, sizeof(*v));
	memcpy(v, nd->classes, nd->nclasses * sizeof(*v));
	xqsort(v, nd->nclasses, sizeof(*v), str_cmp);
	buf_puts(&b, "c:");
	for (i = 0; i < nd->nclasses; i++)
		buf_printf(&b, "%s%s", i ? "," : "", v[i]);
	free(v);
	return buf_steal(&b);
}

/* A role name for a group without a role parameter: "role::web" gives
 * web; else the last segment of its last class; else "node".  Made
 * unique with -2, -3, ... */
static char *
derive_role(const struct enode *nd, const struct egroup *g, size_t ng)
{
	const char *pick = NULL;
	char *base, *name;
	size_t i, k;
	int dup;

	for (i = 0; i < nd->nclasses && !pick; i++)
		if (strncmp(nd->classes[i], "role::", 6) == 0)
			pick = nd->classes[i] + 6;
	if (!pick && nd->nclasses) {
		pick = strrchr(nd->classes[nd->nclasses - 1], ':');
		pick = pick ? pick + 1 : nd->classes[nd->nclasses - 1];
	}
	base = xstrdup(pick && *pick ? pick : "node");
	for (k = 0; base[k]; k++)
		if (base[k] == ':')
			base[k] = '_';
	if (!valid_role(base)) {
		free(base);
		base = xstrdup("node");
	}
	name = xstrdup(base);
	for (k = 2;; k++) {
		for (dup = 0, i = 0; i < ng && !dup; i++)
			dup = g[i].role && strcmp(g[i].role, name) == 0;
		if (!dup)
			break;
		free(name);
		name = xasprintf("%.56s-%zu", base, k);
	}
	free(base);
	return name;
}

struct vote {
	char *json;               /* owns; the value as compact JSON (keys sorted) */
	size_t member;            /* its index in the group */
};

static int
vote_cmp(const void *x, const void *y)
{
	const struct vote *a = x, *b = y;
	int c = strcmp(a->json, b->json);

	return c ? c : (a->member > b->member) - (a->member < b->member);
}

/*
 * Most common value of key k among the group's members (all have it),
 * the earliest member's on a tie.  Values are counted by their compact
 * JSON, sorted: n log n for a role of many hosts, where comparing every
 * pair would be n squared.  (JSON may call two spellings one value, say
 * yes and true; then a host whose spelling differs keeps its own, which
 * renders the same.)
 */
static const struct ynode *
common_value(const struct egroup *g, const struct enode *nodes, const struct ynode *k)
{
	struct vote *v = xcalloc(g->n, sizeof(*v));
	struct buf b = BUF_INIT;
	size_t i, j, best = 0, bestn = 0;

	for (i = 0; i < g->n; i++) {
		buf_reset(&b);
		yemit_json(&b, ynode_get(nodes[g->members[i]].params, k->str));
		v[i].json = xstrndup(b.data ? b.data : "", b.len);
		v[i].member = i;
	}
	xqsort(v, g->n, sizeof(*v), vote_cmp);
	for (i = 0; i < g->n; i = j) {
		for (j = i + 1; j < g->n && strcmp(v[j].json, v[i].json) == 0; j++)
			;
		/* v[i] is the run's earliest member */
		if (j - i > bestn || (j - i == bestn && v[i].member < best)) {
			best = v[i].member;
			bestn = j - i;
		}
	}
	for (i = 0; i < g->n; i++)
		free(v[i].json);
	free(v);
	buf_dispose(&b);
	return ynode_get(nodes[g->members[best]].params, k->str);
}

static void
shape_group(struct egroup *g, const struct enode *nodes)
{
	const struct enode *first = &nodes[g->members[0]];
	size_t i, j, n, bestn = 0;

	for (i = 0; i < first->nclasses; i++) {
		for (j = 1; j < g->n && has_class(nodes[g->members[j]].classes,
		    nodes[g->members[j]].nclasses, first->classes[i]); j++)
			;
		if (j < g->n)
			continue;
		g->classes = xrealloc(g->classes, (g->nclasses + 1) * sizeof(*g->classes));
		g->classes[g->nclasses++] = first->classes[i];
	}
	for (i = 0; first->params && i < first->params->n; i++) {
		const struct ynode *k = first->params->keys[i];

		if (strcmp(k->str, "role") == 0)
			continue;
		for (j = 1; j < g->n && nodes[g->members[j]].params &&
		    ynode_get(nodes[g->members[j]].params, k->str); j++)
			;
		if (j < g->n)
			continue;
		g->pkeys = xrealloc(g->pkeys, (g->np + 1) * sizeof(*g->pkeys));
		g->pvals = xrealloc(g->pvals, (g->np + 1) * sizeof(*g->pvals));
		g->pkeys[g->np] = k;
		g->pvals[g->np++] = common_value(g, nodes, k);
	}
	for (i = 0; i < g->n; i++) {
		const char *e = nodes[g->members[i]].env;

		for (n = 0, j = 0; j < g->n; j++) {
			const char *f = nodes[g->members[j]].env;

			n += (!e && !f) || (e && f && strcmp(e, f) == 0);
		}
		if (n > bestn) {
			g->env = e;
			bestn = n;
		}
	}
}

/* Is fqdn one of the imported nodes (sorted by fqdn)? */
static int
imported(const struct enode *nodes, size_t nn, const char *fqdn)
{
	size_t lo = 0, hi = nn;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(nodes[mid].fqdn, fqdn);

		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/*
 * A role whose hosts all say `backends: [...]`, the same list, naming
 * exactly the hosts of another imported role (and the checkout, `m0`,
 * has no other host of that role) fronts it: `backends_of:` renders that
 * list from the inventory, so it follows drains and new hosts.
 */
static void
infer_backends(struct egroup *g, size_t ng, const struct enode *nodes, size_t nn,
    const struct model *m0)
{
	size_t j, k, t, i;

	for (j = 0; j < ng; j++) {
		const struct ynode *v = NULL;

		for (k = 0; k < g[j].np && strcmp(g[j].pkeys[k]->str, "backends") != 0; k++)
			;
		if (k == g[j].np || (v = g[j].pvals[k])->type != YNODE_SEQ || v->n == 0)
			continue;
		for (i = 0; i < v->n; i++)
			if (v->items[i]->type != YNODE_SCALAR ||
			    ynode_scalar_kind(v->items[i]) != YSCALAR_STR)
				break;
		if (i < v->n)
			continue;
		for (i = 0; i < g[j].n; i++)
			if (!import_same(v, ynode_get(nodes[g[j].members[i]].params, "backends")))
				break;
		if (i < g[j].n)
			continue;
		for (t = 0; t < ng; t++) {
			if (g[t].n != v->n)
				continue;
			/* Members are in fqdn order; the rendered list is sorted. */
			for (i = 0; i < v->n && strcmp(v->items[i]->str,
			    nodes[g[t].members[i]].fqdn) == 0; i++)
				;
			if (i < v->n)
				continue;
			for (i = 0; m0 && i < m0->nhosts; i++)
				if (m0->hosts[i].role && strcmp(m0->hosts[i].role, g[t].role) == 0 &&
				    !imported(nodes, nn, m0->hosts[i].fqdn))
					break;
			if (m0 && i < m0->nhosts)
				continue;
			g[j].backends_of = g[t].role;
			memmove(&g[j].pkeys[k], &g[j].pkeys[k + 1], (g[j].np - k - 1) *
			    sizeof(*g[j].pkeys));
			memmove(&g[j].pvals[k], &g[j].pvals[k + 1], (g[j].np - k - 1) *
			    sizeof(*g[j].pvals));
			g[j].np--;
			break;
		}
	}
}

/* `params:` with the entries of a map, as a block (sorted keys). */
static void
emit_params(struct buf *b, const struct ynode *const *keys, const struct ynode *const *vals,
    size_t n)
{
	struct ynode map;

	if (n == 0)
		return;
	memset(&map, 0, sizeof(map));
	map.type = YNODE_MAP;
	map.keys = (struct ynode **)(uintptr_t)keys;
	map.items = (struct ynode **)(uintptr_t)vals;
	map.n = n;
	buf_puts(b, "params:");
	yemit_value(b, &map, 2);
}

static void
emit_classes(struct buf *b, const char *const *v, size_t n)
{
	size_t i;

	buf_puts(b, "classes: [");
	for (i = 0; i < n; i++) {
		if (i)
			buf_puts(b, ", ");
		yemit_string(b, v[i], strlen(v[i]));
	}
	buf_puts(b, "]\n");
}

static char *
role_text(const struct egroup *g, const struct enode *nodes, const char *script)
{
	struct buf b = BUF_INIT;
	size_t i;

	buf_printf(&b, "# roles/%s.yaml: imported by `firebreak import enc` from %s,\n# shared "
	    "by ", g->role, script);
	for (i = 0; i < g->n && i < 4; i++)
		buf_printf(&b, "%s%s", i ? ", " : "", nodes[g->members[i]].fqdn);
	if (g->n > 4)
		buf_printf(&b, " and %zu more", g->n - 4);
	buf_puts(&b, ".\n");
	emit_classes(&b, g->classes, g->nclasses);
	if (g->env)
		buf_printf(&b, "environment: %s\n", g->env);
	if (g->backends_of)
		buf_printf(&b, "backends_of: %s   # parameter `backends`: its active hosts\n",
		    g->backends_of);
	emit_params(&b, g->pkeys, g->pvals, g->np);
	return buf_steal(&b);
}

static char *
host_text(const struct enode *nd, const struct egroup *g, const char *script)
{
	const struct ynode **keys = NULL, **vals = NULL;
	const char **extra = NULL;
	struct buf b = BUF_INIT;
	size_t i, j, nk = 0, nx = 0;

	buf_printf(&b, "# hosts/%s.yaml: imported by `firebreak import enc` from %s.\n",
	    nd->fqdn, script);
	buf_printf(&b, "role: %s\nstate: active\n", g->role);
	if ((nd->env || g->env) && !(nd->env && g->env && strcmp(nd->env, g->env) == 0))
		buf_printf(&b, "environment: %s\n", nd->env ? nd->env : "production");
	for (i = 0; i < nd->nclasses; i++)
		if (!has_class(g->classes, g->nclasses, nd->classes[i])) {
			extra = xrealloc(extra, (nx + 1) * sizeof(*extra));
			extra[nx++] = nd->classes[i];
		}
	if (nx)
		emit_classes(&b, extra, nx);
	for (i = 0; nd->params && i < nd->params->n; i++) {
		const struct ynode *k = nd->params->keys[i], *v = nd->params->items[i];

		if (strcmp(k->str, "role") == 0 ||
		    (g->backends_of && strcmp(k->str, "backends") == 0))
			continue;
		for (j = 0; j < g->np && strcmp(g->pkeys[j]->str, k->str) != 0; j++)
			;
		if (j < g->np && import_same(g->pvals[j], v))
			continue;
		keys = xrealloc(keys, (nk + 1) * sizeof(*keys));
		vals = xrealloc(vals, (nk + 1) * sizeof(*vals));
		keys[nk] = k;
		vals[nk++] = v;
	}
	emit_params(&b, keys, vals, nk);
	free(keys);
	free(vals);
	free(extra);
	return buf_steal(&b);
}

/* Does the rendered document say what the script said? */
static int
same_document(const struct enode *nd, const struct egroup *g, const struct artifact *a)
{
	struct ynode *doc = NULL;
	const struct ynode *c, *p, *e;
	const char **want = NULL, **got = NULL;
	size_t i, nwant = nd->nclasses, ngot = 0, skipped = 0;
	int line, col, ok = 0;

	if (!a || ydoc_parse(&doc, a->data, a->len, &YDOC_DEFAULT_LIMITS, &line, &col) != OK)
		return 0;
	c = ynode_get(doc, "classes");
	p = ynode_get(doc, "parameters");
	e = ynode_get(doc, "environment");
	if (!c || c->type != YNODE_SEQ || !e || e->type != YNODE_SCALAR ||
	    strcmp(e->str, nd->env ? nd->env : "production") != 0)
		goto out;
	want = xcalloc(nwant + 1, sizeof(*want));
	memcpy(want, nd->classes, nwant * sizeof(*want));
	got = xcalloc(c->n + 1, sizeof(*got));
	for (i = 0; i < c->n; i++)
		got[ngot++] = c->items[i]->str;
	xqsort(want, nwant, sizeof(*want), str_cmp);
	xqsort(got, ngot, sizeof(*got), str_cmp);
	if (nwant != ngot)
		goto out;
	for (i = 0; i < ngot; i++)
		if (strcmp(want[i], got[i]) != 0)
			goto out;
	for (i = 0; p && p->type == YNODE_MAP && i < p->n; i++) {
		const struct ynode *v = nd->params ? ynode_get(nd->params, p->keys[i]->str) : NULL;

		if (strcmp(p->keys[i]->str, "role") == 0 && !v) {
			/* firebreak adds the role's name */
			if (strcmp(p->items[i]->str, g->role) != 0)
				goto out;
			skipped++;
			continue;
		}
		if (!v || !import_same(v, p->items[i]))
			goto out;
	}
	ok = (p ? p->n : 0) - skipped == (nd->params ? nd->params->n : 0);
out:
	free(want);
	free(got);
	ynode_free(doc);
	return ok;
}

int
import_enc(int argc, char **argv)
{
	struct opts o;
	struct enode *nodes;
	struct egroup *g = NULL;
	struct wfiles w, over = { NULL, 0, 0 };
	struct model *m = NULL, *m0 = NULL;
	struct artifacts art;
	const char *av[ENC_ARGV_MAX];
	const char *dir;
	char *shown_script;
	size_t nn, ng = 0, i, j, ac, noroleparam = 0;

	parse_opts(&o, argc, argv, "repo script nodes force", 0);
	if (!o.script || !o.nodes)
		usage_error("import enc: --script PATH and --nodes FILE are both required");
	dir = o.repo ? o.repo : ".";
	read_nodes(&nodes, &nn, o.nodes);
	ac = script_argv(av, o.script);
	/* Named in the files' comments: one line of printable text. */
	shown_script = utf8_scrub(xstrdup(o.script));
	wtree_read(&w, dir);
	{
		/* Where the script's stderr is kept for its error message. */
		const char *t = getenv("TMPDIR");

		tmpdir = xasprintf("%s/firebreak-import.XXXXXX", t && t[0] == '/' ? t : "/tmp");
	}
	if (!mkdtemp(tmpdir))
		die(EXIT_ENV, "mkdtemp: %s", strerror(errno));
	errpath = xasprintf("%s/stderr", tmpdir);
	atexit(cleanup);

	qsort(nodes, nn, sizeof(*nodes), node_cmp);
	for (i = 0; i < nn; i++) {
		run_node(&nodes[i], av, ac);
		nodes[i].key = group_key(&nodes[i]);
		noroleparam += !(nodes[i].params && ynode_get(nodes[i].params, "role"));
	}
	/* Groups: "r:" keys name their role; the others get one derived. */
	for (i = 0; i < nn; i++) {
		for (j = 0; j < ng && strcmp(g[j].key, nodes[i].key) != 0; j++)
			;
		if (j == ng) {
			g = xrealloc(g, (ng + 1) * sizeof(*g));
			memset(&g[ng], 0, sizeof(*g));
			g[ng].key = nodes[i].key;
			if (strncmp(nodes[i].key, "r:", 2) == 0)
				g[ng].role = xstrdup(nodes[i].key + 2);
			ng++;
		}
		g[j].members = xrealloc(g[j].members, (g[j].n + 1) * sizeof(*g[j].members));
		g[j].members[g[j].n++] = i;
		nodes[i].group = j;
	}
	for (j = 0; j < ng; j++)
		if (!g[j].role)
			g[j].role = derive_role(&nodes[g[j].members[0]], g, ng);
	for (j = 0; j < ng; j++)
		shape_group(&g[j], nodes);
	{
		struct diags d0 = { NULL, 0, 0 };

		if (import_model(&m0, &d0, &w, NULL, NULL) != OK)
			m0 = NULL;      /* the check after will say what is wrong */
		diags_dispose(&d0);
	}
	infer_backends(g, ng, nodes, nn, m0);
	for (j = 0; j < ng; j++) {
		char *path = xasprintf("roles/%s.yaml", g[j].role);
		char *t;

		t = role_text(&g[j], nodes, shown_script);
		import_refuse_existing(dir, path, o.force);
		wfiles_put(&over, path, t, strlen(t));
		free(path);
	}
	for (i = 0; i < nn; i++) {
		char *path = xasprintf("hosts/%s.yaml", nodes[i].fqdn);
		char *t = host_text(&nodes[i], &g[nodes[i].group], shown_script);

		import_refuse_existing(dir, path, o.force);
		wfiles_put(&over, path, t, strlen(t));
		free(path);
	}

	import_render(&m, &art, &w, &over, NULL, "the imported inventory");
	for (i = 0; i < nn; i++) {
		char *path = xasprintf("enc/%s.yaml", nodes[i].fqdn);

		if (!same_document(&nodes[i], &g[nodes[i].group], artifacts_find(&art, path)))
			die(EXIT_INPUT, "node %s: the imported inventory would render a document "
			    "other than the script's (a bug in import, or a role in the checkout "
			    "that --force replaced only in part); nothing was written",
			    nodes[i].fqdn);
		free(path);
	}
	import_write(dir, &over);
	if (noroleparam)
		fprintf(stderr, "note: %zu document%s had no `role` parameter; firebreak's ENC "
		    "gives every host `role: <its role>`\n", noroleparam, noroleparam == 1 ? "" : "s");
	printf("imported %zu node%s from %s into %zu role%s\n", nn, nn == 1 ? "" : "s", o.script,
	    ng, ng == 1 ? "" : "s");
	for (i = 0; i < over.n; i++)
		printf("wrote %s/%s\n", dir, over.v[i].path);
	if (FREE_AT_EXIT) {
		for (j = 0; j < ng; j++) {
			free(g[j].role);
			free(g[j].members);
			free(g[j].classes);
			free(g[j].pkeys);
			free(g[j].pvals);
		}
		free(g);
		for (i = 0; i < nn; i++) {
			free(nodes[i].fqdn);
			encdoc_dispose(&nodes[i].d);
			free(nodes[i].key);
		}
		free(nodes);
		free((void *)(uintptr_t)av[0]);
		free(script_words);
		free(shown_script);
		artifacts_dispose(&art);
		model_free(m);
		model_free(m0);
		wfiles_dispose(&w);
		wfiles_dispose(&over);
	}
	return EXIT_OK;
}
