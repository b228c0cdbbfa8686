/*
 * fuzz_edit.c - the comment-preserving editor (bot/edit.h): set a scalar,
 * append a mapping to a sequence, remove a sequence item, in any document.
 *
 * Input: three parts separated by lines "--":
 *   1. the operation and the key path: "s version", "s environments/qa",
 *      "a records", "r records" (keys separated by '/', at most 4);
 *   2. for s the value; for a the new item's pairs, one a line,
 *      "key=value" or "key[]=v1|v2" (a list); for r the index;
 *   3. the document.
 *
 * The invariant of DESIGN.md "Bot commits": an edit either fails cleanly
 * (a negative code, a message, *out NULL, nothing leaked) or its output
 * parses (ydoc_parse) to the input's values with exactly the intended
 * change: the value at the key path (set), one more item equal to the
 * pairs (append), one item fewer (remove), every other value unchanged;
 * and every comment line of the input (a line whose first non-blank is
 * '#', outside any scalar's text) is still in the output, except on the
 * lines a remove takes out (from the item's `-` to its last byte).
 */
#include "fuzz.h"

#include "bot/edit.h"
#include "model/ydoc.h"

#define MAX_DEPTH 4
#define MAX_PAIRS 8
#define MAX_VALUES 8
#define MAX_DOC (64 * 1024)

/* The expected tree's edited scalar: compared by its text only (a plain
 * version may read back as a number: the editor keeps the old style). */
static const struct ynode *loose;

static int same(const struct ynode *a, const struct ynode *b);

static const struct ynode *
lookup(const struct ynode *map, const struct ynode *key)
{
	size_t i;

	for (i = 0; i < map->n; i++)
		if (same(map->keys[i], key))
			return map->items[i];
	return NULL;
}

/* Equal values; maps as sets of keys. */
static int
same(const struct ynode *a, const struct ynode *b)
{
	size_t i;

	if (a == loose)
		return b->type == YNODE_SCALAR && a->len == b->len &&
		    memcmp(a->str, b->str, a->len) == 0 && ynode_scalar_kind(b) != YSCALAR_NULL &&
		    ynode_scalar_kind(b) != YSCALAR_BOOL;
	if (a->type != b->type || a->n != b->n)
		return 0;
	if (a->type == YNODE_SCALAR)
		return ynode_scalar_kind(a) == ynode_scalar_kind(b) &&
		    (ynode_scalar_kind(a) == YSCALAR_NULL ||
		    (a->len == b->len && memcmp(a->str, b->str, a->len) == 0));
	for (i = 0; i < a->n; i++) {
		const struct ynode *bv = a->type == YNODE_MAP ? lookup(b, a->keys[i]) : b->items[i];

		if (!bv || !same(a->items[i], bv))
			return 0;
	}
	return 1;
}

static void
push(struct ynode *parent, struct ynode *key, struct ynode *val)
{
	parent->items = xrealloc(parent->items, (parent->n + 1) * sizeof(*parent->items));
	if (parent->type == YNODE_MAP) {
		parent->keys = xrealloc(parent->keys, (parent->n + 1) * sizeof(*parent->keys));
		parent->keys[parent->n] = key;
	}
	parent->items[parent->n++] = val;
}

static struct ynode *
new_map(void)
{
	struct ynode *m = ynode_new_scalar("", 0);

	free(m->str);
	m->str = NULL;
	m->len = 0;
	m->type = YNODE_MAP;
	return m;
}

/* The value slot of string key `key` in map m (created, empty, when
 * missing). */
static struct ynode **
slot(struct ynode *m, const char *key)
{
	size_t i, kl = strlen(key);

	for (i = 0; i < m->n; i++)
		if (m->keys[i]->len == kl && memcmp(m->keys[i]->str, key, kl) == 0)
			return &m->items[i];
	push(m, ynode_new_scalar(key, 1), NULL);
	return &m->items[m->n - 1];
}

/*
 * Walk `path` from the root, creating missing mappings as the editor
 * does; *out = the slot of the last key.  0 when something on the way
 * is not a mapping (the edit must fail).
 */
static int
walk(struct ynode *root, char **path, size_t depth, struct ynode ***out)
{
	struct ynode *m = root, **s = NULL;
	size_t i;

	for (i = 0; i < depth; i++) {
		if (m->type != YNODE_MAP)
			return 0;
		s = slot(m, path[i]);
		if (i + 1 < depth) {
			if (!*s || (((*s)->type == YNODE_SCALAR) && ynode_scalar_kind(*s) == YSCALAR_NULL)) {
				ynode_free(*s);
				*s = new_map();
			}
			m = *s;
		}
	}
	*out = s;
	return 1;
}

/* Comment lines (first non-blank '#'), each with its line number. */
struct comments {
	char **v;
	int *line;
	size_t n;
};

/* Is byte `off` inside a scalar's source (a block scalar's "# x" line is
 * its text, not a comment)? */
static int
in_scalar(const struct ynode *n, size_t off)
{
	size_t i;

	if (off < n->start || off >= n->end)
		return 0;
	if (n->type == YNODE_SCALAR)
		return 1;
	for (i = 0; i < n->n; i++)
		if ((n->keys && in_scalar(n->keys[i], off)) || in_scalar(n->items[i], off))
			return 1;
	return 0;
}

static void
comments_of(struct comments *c, const char *doc, size_t len, const struct ynode *tree)
{
	size_t i = 0;
	int line = 1;

	memset(c, 0, sizeof(*c));
	while (i < len) {
		size_t e = i, b = i;

		while (e < len && doc[e] != '\n')
			e++;
		while (b < e && (doc[b] == ' ' || doc[b] == '\t'))
			b++;
		if (b < e && doc[b] == '#' && !in_scalar(tree, b)) {
			size_t n = e - b;

			if (n && doc[b + n - 1] == '\r')
				n--;
			c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
			c->line = xrealloc(c->line, (c->n + 1) * sizeof(*c->line));
			c->v[c->n] = xstrndup(doc + b, n);
			c->line[c->n++] = line;
		}
		i = e + 1;
		line++;
	}
}

static void
comments_dispose(struct comments *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->v[i]);
	free(c->v);
	free(c->line);
}

/* Every comment of `in` outside lines [skip_from, skip_to] is in `out`,
 * as many times as in `in`. */
static void
check_comments(const struct comments *in, const struct comments *out, int skip_from,
    int skip_to)
{
	char *used = xcalloc(out->n + 1, 1);
	size_t i, j;

	for (i = 0; i < in->n; i++) {
		if (in->line[i] >= skip_from && in->line[i] <= skip_to)
			continue;
		for (j = 0; j < out->n; j++)
			if (!used[j] && strcmp(in->v[i], out->v[j]) == 0)
				break;
		FUZZ_CHECK(j < out->n, "comment line %d lost: %s", in->line[i], in->v[i]);
		used[j] = 1;
	}
	free(used);
}

/*
 * Where an item's own lines begin: its `-` (or, in a flow sequence, the
 * '[' or ',' before it), found by going back from the item over blanks
 * and own-line comments.  A remove takes the lines from there (comments
 * between the dash and the item's first key go with it, as edit.h says).
 */
static size_t
dash_before(const char *doc, size_t at)
{
	size_t p = at, ls, fb;

	while (p > 0) {
		char c = doc[p - 1];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			p--;
			continue;
		}
		for (ls = p - 1; ls > 0 && doc[ls - 1] != '\n'; ls--)
			;
		for (fb = ls; fb < p - 1 && (doc[fb] == ' ' || doc[fb] == '\t'); fb++)
			;
		if (doc[fb] == '#') {
			p = ls;
			continue;
		}
		return p - 1;
	}
	return 0;
}

/* The line of byte offset `off` in doc. */
static int
line_at(const char *doc, size_t len, size_t off)
{
	size_t i;
	int line = 1;

	for (i = 0; i < off && i < len; i++)
		line += doc[i] == '\n';
	return line;
}

/* Split s in place at each `sep`; at most `max` pieces into v. */
static size_t
split(char *s, char sep, char **v, size_t max)
{
	size_t n = 0;

	while (n < max) {
		char *e = strchr(s, sep);

		v[n++] = s;
		if (!e)
			break;
		*e = '\0';
		s = e + 1;
	}
	return n;
}

static int
is_null(const struct ynode *n)
{
	return !n || (n->type == YNODE_SCALAR && ynode_scalar_kind(n) == YSCALAR_NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	char *op, *arg, *doc, *path[MAX_DEPTH], *lines[MAX_PAIRS], *out = NULL;
	char *vals[MAX_PAIRS][MAX_VALUES];
	struct edit_pair pairs[MAX_PAIRS];
	size_t oplen, arglen, len, depth, npairs = 0, outlen = 0, i, j;
	struct ynode *root = NULL, *want = NULL, *got = NULL, **s = NULL;
	struct comments cin, cout;
	int line, col, rc, possible, skip_from = 0, skip_to = -1;
	uint64_t index = 0;

	op = fuzz_take_part(&in, &oplen);
	arg = fuzz_take_part(&in, &arglen);
	doc = fuzz_take_part(&in, &len);
	if (oplen < 3 || !strchr("sar", op[0]) || op[1] != ' ' || len > MAX_DOC ||
	    strlen(op) != oplen || strlen(arg) != arglen)
		goto done;
	depth = split(op + 2, '/', path, MAX_DEPTH);
	if (op[0] == 'a') {
		npairs = split(arg, '\n', lines, MAX_PAIRS);
		for (i = 0; i < npairs; i++) {
			char *eq = strchr(lines[i], '=');

			memset(&pairs[i], 0, sizeof(pairs[i]));
			pairs[i].key = lines[i];
			if (!eq) {
				pairs[i].value = "";
				continue;
			}
			*eq = '\0';
			if (eq > lines[i] + 1 && eq[-1] == ']' && eq[-2] == '[') {
				eq[-2] = '\0';
				pairs[i].nvalues = split(eq + 1, '|', vals[i], MAX_VALUES);
				pairs[i].values = (const char *const *)vals[i];
			} else {
				pairs[i].value = eq + 1;
			}
		}
	} else if (op[0] == 'r' && parse_u64(&index, arg, 0, 1000) != OK) {
		goto done;
	}

	switch (op[0]) {
	case 's':
		rc = edit_set_scalar(&out, &outlen, doc, len, (const char *const *)path, depth, arg);
		break;
	case 'a':
		rc = edit_seq_append(&out, &outlen, doc, len, (const char *const *)path, depth, pairs,
		    npairs);
		break;
	default:
		rc = edit_seq_remove(&out, &outlen, doc, len, (const char *const *)path, depth,
		    (size_t)index);
		break;
	}
	if (rc != OK) {
		FUZZ_CHECK(rc < 0 && out == NULL && err_last()[0], "rc %d, out %p", rc, (void *)out);
		goto done;
	}
	FUZZ_CHECK(out != NULL && strlen(out) == outlen, "output length");

	/* What the output must read as: the input with the one change. */
	FUZZ_CHECK(ydoc_parse(&root, doc, len, NULL, &line, &col) == OK,
	    "an edit of a document that does not parse succeeded");
	want = ynode_dup(root);
	possible = walk(want, path, depth, &s);
	FUZZ_CHECK(possible, "an edit through a non-mapping succeeded");
	switch (op[0]) {
	case 's':
		ynode_free(*s);
		*s = ynode_new_scalar(arg, 1);
		loose = *s;
		break;
	case 'a': {
		struct ynode *item = new_map();

		if (is_null(*s)) {
			ynode_free(*s);
			*s = ynode_new_scalar("", 0);
			(*s)->type = YNODE_SEQ;
			free((*s)->str);
			(*s)->str = NULL;
		}
		FUZZ_CHECK((*s)->type == YNODE_SEQ, "appended to %s", ynode_type_name(*s));
		for (i = 0; i < npairs; i++) {
			struct ynode *v;

			if (pairs[i].value) {
				v = ynode_new_scalar(pairs[i].value, 1);
			} else {
				v = ynode_new_scalar("", 0);
				free(v->str);
				v->str = NULL;
				v->type = YNODE_SEQ;
				for (j = 0; j < pairs[i].nvalues; j++)
					push(v, NULL, ynode_new_scalar(pairs[i].values[j], 1));
			}
			push(item, ynode_new_scalar(pairs[i].key, 1), v);
		}
		push(*s, NULL, item);
		break;
	}
	default: {
		const struct ynode *old;

		FUZZ_CHECK(*s && (*s)->type == YNODE_SEQ && index < (*s)->n, "removed item %zu of %s",
		    (size_t)index, ynode_type_name(*s));
		/* The item's own lines may take comments with them. */
		walk(root, path, depth, &s);
		old = (*s)->items[index];
		skip_from = line_at(doc, len, dash_before(doc, old->start));
		skip_to = line_at(doc, len, old->end);
		walk(want, path, depth, &s);
		ynode_free((*s)->items[index]);
		memmove(&(*s)->items[index], &(*s)->items[index + 1],
		    ((*s)->n - index - 1) * sizeof(*(*s)->items));
		(*s)->n--;
		break;
	}
	}
	rc = ydoc_parse(&got, out, outlen, NULL, &line, &col);
	FUZZ_CHECK(rc == OK, "the output does not parse: %d:%d %s\n%s", line, col, err_last(), out);
	FUZZ_CHECK(same(want, got), "the output does not read as the intended change:\n%s", out);

	comments_of(&cin, doc, len, root);
	comments_of(&cout, out, outlen, got);
	check_comments(&cin, &cout, skip_from, skip_to);
	comments_dispose(&cin);
	comments_dispose(&cout);
done:
	loose = NULL;
	ynode_free(root);
	ynode_free(want);
	ynode_free(got);
	free(out);
	free(op);
	free(arg);
	free(doc);
	return 0;
}
