/*
 * encdoc.c - the nodes file and an existing ENC's documents, read for
 * `firebreak import enc`; see encdoc.h.
 */
#include "model/encdoc.h"

#include <stdlib.h>
#include <string.h>

#include "base/names.h"

/* At most this much of a name in a message, control bytes as '?'. */
static char *
shown(const char *s, size_t len)
{
	char *c = xstrndup(s, len > 80 ? 80 : len);

	return utf8_scrub(c);
}

static int
is_null(const struct ynode *n)
{
	return n->type == YNODE_SCALAR && ynode_scalar_kind(n) == YSCALAR_NULL;
}

static int
add_class(struct encdoc *d, const struct ynode *c)
{
	size_t i;

	if (c->type != YNODE_SCALAR || strlen(c->str) != c->len || !valid_class(c->str)) {
		char *s = c->type == YNODE_SCALAR ? shown(c->str, c->len) : xstrdup(ynode_type_name(c));
		int rc = err_set(ERR_INVALID, "classes hold '%s' (line %d), which is not a Puppet class "
		    "name", s, c->line);

		free(s);
		return rc;
	}
	for (i = 0; i < d->nclasses; i++)
		if (strcmp(d->classes[i], c->str) == 0)
			return OK;
	d->classes = xrealloc(d->classes, (d->nclasses + 1) * sizeof(*d->classes));
	d->classes[d->nclasses++] = c->str;
	return OK;
}

static int
read_classes(struct encdoc *d, const struct ynode *c)
{
	size_t i;
	int rc;

	if (!c || is_null(c))
		return OK;
	if (c->type == YNODE_SEQ) {
		for (i = 0; i < c->n; i++)
			if ((rc = add_class(d, c->items[i])) != OK)
				return rc;
		return OK;
	}
	if (c->type != YNODE_MAP)
		return err_set(ERR_INVALID, "classes (line %d) is %s, not a list", c->line,
		    ynode_type_name(c));
	for (i = 0; i < c->n; i++) {
		const struct ynode *v = c->items[i];

		if (!is_null(v) && !(v->type == YNODE_MAP && v->n == 0)) {
			char *s = shown(c->keys[i]->str, c->keys[i]->len);

			rc = err_set(ERR_INVALID, "class %s (line %d) has parameters, which firebreak's "
			    "ENC does not give (a parameterised class from an ENC collides with any "
			    "include): move them to Hiera first", s, c->keys[i]->line);
			free(s);
			return rc;
		}
		if ((rc = add_class(d, c->keys[i])) != OK)
			return rc;
	}
	return OK;
}

int
encdoc_parse(struct encdoc *out, const char *text, size_t len)
{
	const struct ynode *root, *p, *e;
	int line = 0, col = 0, rc;
	size_t i;

	memset(out, 0, sizeof(*out));
	if ((rc = ydoc_parse(&out->root, text, len, &YDOC_DEFAULT_LIMITS, &line, &col)) != OK)
		return err_set(rc, "not a YAML document (line %d, column %d: %s)", line, col,
		    err_last());
	root = out->root;
	if (root->type != YNODE_MAP || root->n == 0) {
		rc = err_set(ERR_INVALID, "not an ENC document (a mapping of classes, parameters, "
		    "environment)");
		goto fail;
	}
	for (i = 0; i < root->n; i++) {
		const char *k = root->keys[i]->str;

		if (strcmp(k, "classes") && strcmp(k, "parameters") && strcmp(k, "environment")) {
			char *s = shown(k, root->keys[i]->len);

			rc = err_set(ERR_INVALID, "'%s' (line %d) is not part of an ENC document "
			    "(classes, parameters, environment)", s, root->keys[i]->line);
			free(s);
			goto fail;
		}
	}
	if ((rc = read_classes(out, ynode_get(root, "classes"))) != OK)
		goto fail;
	p = ynode_get(root, "parameters");
	if (p && p->type == YNODE_MAP) {
		for (i = 0; i < p->n; i++)
			if (strlen(p->keys[i]->str) != p->keys[i]->len ||
			    !valid_param_key(p->keys[i]->str)) {
				char *s = shown(p->keys[i]->str, p->keys[i]->len);

				rc = err_set(ERR_INVALID, "parameter '%s' (line %d) is not a Puppet "
				    "variable name ([a-z_][a-zA-Z0-9_]*)", s, p->keys[i]->line);
				free(s);
				goto fail;
			}
		out->params = p->n ? p : NULL;
	} else if (p && !is_null(p)) {
		rc = err_set(ERR_INVALID, "parameters (line %d) is %s, not a mapping", p->line,
		    ynode_type_name(p));
		goto fail;
	}
	e = ynode_get(root, "environment");
	if (e && !is_null(e)) {
		if (e->type != YNODE_SCALAR || strlen(e->str) != e->len || !valid_env(e->str)) {
			char *s = e->type == YNODE_SCALAR ? shown(e->str, e->len) :
			    xstrdup(ynode_type_name(e));

			rc = err_set(ERR_INVALID, "environment '%s' (line %d) is not a Puppet "
			    "environment name", s, e->line);
			free(s);
			goto fail;
		}
		out->env = e->str;
	}
	return OK;
fail:
	encdoc_dispose(out);
	return rc;
}

void
encdoc_dispose(struct encdoc *d)
{
	ynode_free(d->root);
	free(d->classes);
	memset(d, 0, sizeof(*d));
}

static int
index_cmp(const void *a, const void *b, void *ctx)
{
	char **v = ctx;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = strcmp(v[x], v[y]);

	return c ? c : (x > y) - (x < y);
}

int
nodelist_parse(struct strlist *out, const char *file, const char *text, size_t len)
{
	size_t pos = 0, *ix = NULL, i;
	int line = 0, rc = OK;

	memset(out, 0, sizeof(*out));
	if (memchr(text, '\0', len)) {
		const char *nul = memchr(text, '\0', len), *p;

		for (p = text, line = 1; p < nul; p++)
			line += *p == '\n';
		return err_set(ERR_INVALID, "%s:%d: a NUL byte: not a list of host names", file,
		    line);
	}
	while (pos < len) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		char *name;

		pos += n + 1;
		line++;
		while (n && (*s == ' ' || *s == '\t')) {
			s++;
			n--;
		}
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
			n--;
		if (n == 0 || *s == '#')
			continue;
		name = xstrndup(s, n);
		if (n > 253 || !valid_fqdn(name)) {
			char *sh = shown(s, n);

			rc = err_set(ERR_INVALID, "%s:%d: '%s' is not a host name (a lowercase fqdn)",
			    file, line, sh);
			free(sh);
			free(name);
			goto fail;
		}
		if (out->n == ENCDOC_NODES_MAX) {
			free(name);
			rc = err_set(ERR_TOOBIG, "%s:%d: more than %d nodes", file, line,
			    ENCDOC_NODES_MAX);
			goto fail;
		}
		strlist_push(out, name, line);
		free(name);
	}
	if (out->n == 0)
		return err_set(ERR_INVALID, "%s lists no node", file);
	/* Repeats, by sorting indices: the later line is the one named. */
	ix = xcalloc(out->n, sizeof(*ix));
	for (i = 0; i < out->n; i++)
		ix[i] = i;
	qsort_r(ix, out->n, sizeof(*ix), index_cmp, out->v);
	for (i = 1; i < out->n; i++)
		if (strcmp(out->v[ix[i - 1]], out->v[ix[i]]) == 0) {
			rc = err_set(ERR_INVALID, "%s:%d: %s is listed twice (also line %d)", file,
			    out->lines[ix[i]], out->v[ix[i]], out->lines[ix[i - 1]]);
			goto fail;
		}
	free(ix);
	return OK;
fail:
	free(ix);
	strlist_dispose(out);
	return rc;
}
