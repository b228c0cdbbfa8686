/*
 * edit.c - see edit.h.
 *
 * Every edit works on byte ranges taken from the parse (ydoc keeps
 * libyaml's marks), so whatever it does not replace is copied through
 * untouched, and every result is parsed again and compared with what was
 * meant before it is returned.  Two things about the marks shape the code:
 * a block collection "ends" where the next token starts (often after the
 * comments that follow it, or on the next key's line), so the end of an
 * item is found from its last scalar or flow collection instead
 * (node_end()); and a block scalar's range includes its trailing line
 * breaks, which node_end() trims.
 */
#include "bot/edit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "model/ydoc.h"

/* A scalar node over borrowed text, to ask ynode_scalar_kind() about it. */
static enum yscalar_kind
plain_kind(const char *s)
{
	struct ynode probe;

	memset(&probe, 0, sizeof(probe));
	probe.type = YNODE_SCALAR;
	probe.str = (char *)(uintptr_t)s;
	probe.len = strlen(s);
	return ynode_scalar_kind(&probe);
}

/* A word a plain scalar would turn into null or a boolean: YAML 1.1's
 * (what we and Psych read), and the single y/n some readers (Go's yaml.v2)
 * also take. */
static int
plain_is_word(const char *s)
{
	enum yscalar_kind k = plain_kind(s);

	return k == YSCALAR_NULL || k == YSCALAR_BOOL || strcmp(s, "y") == 0 ||
	    strcmp(s, "Y") == 0 || strcmp(s, "n") == 0 || strcmp(s, "N") == 0;
}

/* A number in YAML 1.2's core schema (1e3, 0o17, 0x1f, 1.5, 010), which
 * YAML 1.1 partly reads as a string. */
static int
plain_is_number(const char *s)
{
	const char *p = s;
	int digits = 0;

	if (*p == '-' || *p == '+')
		p++;
	if (p[0] == '0' && (p[1] == 'o' || p[1] == 'x') && p[2] != '\0')
		return strspn(p + 2, p[1] == 'o' ? "01234567" : "0123456789abcdefABCDEF") ==
		    strlen(p + 2);
	for (; *p >= '0' && *p <= '9'; p++)
		digits++;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits++;
	if (!digits)
		return 0;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (*p < '0' || *p > '9')
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

/*
 * The text edit_set_scalar writes a value as.  A version stays plain where
 * it was plain: firebreak reads versions as their source text (a plain 2.0
 * reads back as "2.0"), and people write them that way.  valid_version()
 * keeps out every character that could start a comment, a key, an alias or
 * a flow collection, but not words: a plain `null` would make the field
 * absent and `yes` a boolean, so those are quoted.
 */
static void
value_text(struct buf *b, const char *value, int plain_ok)
{
	if (plain_is_word(value))
		yemit_quoted(b, value, strlen(value));
	else if (plain_ok && valid_version(value))
		buf_puts(b, value);
	else
		yemit_string(b, value, strlen(value));
}

/*
 * A key or value of a new list item.  yemit_string() is plain only for
 * strings YAML 1.1 reads back unchanged; on top of that, anything with a
 * ':' (fine in a block, not in every reader's flow context) or that YAML
 * 1.2 reads as a number or y/n as a boolean is quoted too: the item is
 * usually written inside `{...}`, and zone files are read by more than
 * firebreak.
 */
static void
item_text(struct buf *b, const char *s)
{
	if (strchr(s, ':') || plain_is_word(s) || plain_is_number(s))
		yemit_quoted(b, s, strlen(s));
	else
		yemit_string(b, s, strlen(s));
}

static void
put_spaces(struct buf *b, size_t n)
{
	while (n-- > 0)
		buf_putc(b, ' ');
}

/* The file's line ending, from its first line ("\n" when it has none). */
static const char *
eol_of(const char *doc, size_t len)
{
	const char *nl = memchr(doc, '\n', len);

	return nl && nl > doc && nl[-1] == '\r' ? "\r\n" : "\n";
}

static size_t
line_start(const char *doc, size_t p)
{
	while (p > 0 && doc[p - 1] != '\n')
		p--;
	return p;
}

/* The byte just after the line break of the line holding byte p (len at
 * the end of a file without a final newline). */
static size_t
line_end(const char *doc, size_t len, size_t p)
{
	const char *nl = p < len ? memchr(doc + p, '\n', len - p) : NULL;

	return nl ? (size_t)(nl - doc) + 1 : len;
}

/* A flow collection starts with its bracket.  (The empty map of an empty
 * document covers no bytes, so doc[start] is not read.) */
static int
is_flow(const struct ynode *n, const char *doc)
{
	return n->type != YNODE_SCALAR && n->end > n->start &&
	    (doc[n->start] == '{' || doc[n->start] == '[');
}

/*
 * The byte just after the last character of `n` itself: a scalar's end
 * without the line breaks a block scalar keeps, a flow collection's
 * closing bracket, and for a block collection that of its last entry.
 */
static size_t
node_end(const struct ynode *n, const char *doc)
{
	size_t e;

	while (n->type != YNODE_SCALAR && !is_flow(n, doc) && n->n > 0)
		n = n->items[n->n - 1];
	if (n->type != YNODE_SCALAR)
		return is_flow(n, doc) ? n->end : n->start;
	e = n->end;
	while (e > n->start && strchr(" \t\r\n", doc[e - 1]))
		e--;
	return e;
}

/* From p, past blanks, line breaks and comments: the next token's byte. */
static size_t
skip_space(const char *doc, size_t len, size_t p)
{
	while (p < len) {
		if (doc[p] == '#')
			while (p < len && doc[p] != '\n')
				p++;
		else if (strchr(" \t\r\n", doc[p]))
			p++;
		else
			break;
	}
	return p;
}

/*
 * `at` is the start of the line after an entry.  Own-line comments below
 * it indented at least `col` columns (blank lines between them included)
 * belong with that entry; the position just after the last of them, or
 * `at` when there are none.
 */
static size_t
past_comments(const char *doc, size_t len, size_t at, size_t col)
{
	size_t best = at, p = at, q;

	while (p < len) {
		q = p;
		while (q < len && (doc[q] == ' ' || doc[q] == '\t'))
			q++;
		if (q < len && doc[q] == '#' && q - p >= col)
			best = line_end(doc, len, q);
		else if (!(q == len || doc[q] == '\n' || (doc[q] == '\r' && q + 1 < len &&
		    doc[q + 1] == '\n')))
			break;
		p = line_end(doc, len, q);
	}
	return best;
}

/* One replacement of doc[from, to) by text; a list of them goes in order. */
struct span {
	size_t from, to;
	const char *text;
	size_t tlen;
};

/* The document with the spans (ascending, not overlapping) applied. */
static void
apply(struct buf *out, const char *doc, size_t len, const struct span *sp, size_t n)
{
	size_t i, at = 0;

	for (i = 0; i < n; i++) {
		ASSERT(sp[i].from >= at && sp[i].to >= sp[i].from && sp[i].to <= len);
		buf_append(out, doc + at, sp[i].from - at);
		buf_append(out, sp[i].text, sp[i].tlen);
		at = sp[i].to;
	}
	buf_append(out, doc + at, len - at);
}

/* The byte just after the line holding the last byte of node `n`. */
static size_t
end_of_last_line(const struct ynode *n, const char *doc, size_t len)
{
	return line_end(doc, len, node_end(n, doc));
}

/* Lines "key: value" for path[i..depth) at `indent`, nested by two. */
static void
new_lines(struct buf *b, int indent, const char *const *path, size_t i, size_t depth,
    const char *value, const char *eol)
{
	size_t j;

	for (j = i; j < depth; j++) {
		put_spaces(b, (size_t)indent + 2 * (j - i));
		yemit_string(b, path[j], strlen(path[j]));
		buf_putc(b, ':');
		if (j + 1 == depth) {
			buf_putc(b, ' ');
			value_text(b, value, 1);
		}
		buf_puts(b, eol);
	}
}

/* "k1: {k2: value}" for path[i..depth), for flow mappings. */
static void
new_flow(struct buf *b, const char *const *path, size_t i, size_t depth, const char *value)
{
	yemit_string(b, path[i], strlen(path[i]));
	buf_puts(b, ": ");
	if (i + 1 == depth) {
		value_text(b, value, 1);
		return;
	}
	buf_putc(b, '{');
	new_flow(b, path, i + 1, depth, value);
	buf_putc(b, '}');
}

/* Replace [from, to) of doc with `text` into *out. */
static void
splice(struct buf *out, const char *doc, size_t len, size_t from, size_t to, const char *text,
    size_t tlen)
{
	struct span sp = { from, to, text, tlen };

	apply(out, doc, len, &sp, 1);
}

/* The index of `key` in mapping m, or m->n. */
static size_t
find_key(const struct ynode *m, const char *key)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (m->keys[i]->len == strlen(key) && strcmp(m->keys[i]->str, key) == 0)
			break;
	return i;
}

/*
 * Does `check` (the edited document) read as `root` (the original) but
 * for the value at `path`, which is new or replaced?  Found by fuzz_edit:
 * a key added to a file without a final newline gave the block scalar
 * above it one more line break, and only the new value was checked.
 */
static int
same_but_path(const struct ynode *root, struct ynode *check, const char *const *path,
    size_t depth)
{
	const struct ynode *a = root, *av;
	struct ynode *b = check, *bv;
	size_t i, ka, kb;
	int same;

	for (i = 0; i + 1 < depth; i++) {
		if (!(av = ynode_get(a, path[i])) || av->type != YNODE_MAP)
			break;   /* missing or empty: from here on, all of it is new */
		if (!(bv = ynode_get(b, path[i])) || bv->type != YNODE_MAP)
			return 0;
		a = av;
		b = bv;
	}
	if (b->type != YNODE_MAP || b->n == 0 || (kb = find_key(b, path[i])) == b->n)
		return 0;
	if ((ka = find_key(a, path[i])) < a->n) {
		bv = b->items[kb];
		b->items[kb] = a->items[ka];
		same = ynode_equal(root, check);
		b->items[kb] = bv;
	} else {
		if (kb != b->n - 1)
			return 0;
		b->n--;
		same = ynode_equal(root, check);
		b->n++;
	}
	return same;
}

int
edit_set_scalar(char **out, size_t *outlen, const char *doc, size_t len,
    const char *const *path, size_t depth, const char *value)
{
	struct ynode *root = NULL, *node, *child, *check = NULL;
	struct buf text = BUF_INIT, res = BUF_INIT;
	const char *eol = eol_of(doc, len);
	size_t i, at;
	int line, col, rc;

	*out = NULL;
	*outlen = 0;
	ASSERT(depth > 0);
	if ((rc = ydoc_parse(&root, doc, len, NULL, &line, &col)) != OK)
		return err_set(ERR_INVALID, "%d:%d: %s", line, col, err_last());
	node = root;
	for (i = 0; i < depth; i++) {
		if (node->type != YNODE_MAP) {
			rc = err_set(ERR_INVALID, "'%s' is not a mapping", i ? path[i - 1] : "the file");
			goto done;
		}
		child = ynode_get(node, path[i]);
		if (!child)
			break;
		if (i + 1 < depth && child->type == YNODE_SCALAR &&
		    ynode_scalar_kind(child) == YSCALAR_NULL && child->start == child->end) {
			/* "environments:" with nothing after it: the new block
			 * goes on the lines right below, indented under its key
			 * (a comment after the colon stays). */
			at = line_end(doc, len, child->start);
			if (at == len && len > 0 && doc[len - 1] != '\n')
				buf_puts(&text, eol);
			new_lines(&text, node->keys[0]->col - 1 + 2, path, i + 1, depth, value, eol);
			splice(&res, doc, len, at, at, text.data, text.len);
			goto verify;
		}
		node = child;
	}
	if (i < depth) {
		/* Missing from path[i] on: add to mapping `node`. */
		int flow = node->start < len && doc[node->start] == '{';

		if (flow) {
			size_t close = node->end;

			while (close > node->start && doc[close - 1] != '}')
				close--;
			if (close == node->start) {
				rc = err_set(ERR_INVALID, "cannot find the end of the mapping");
				goto done;
			}
			if (node->n > 0)
				buf_puts(&text, ", ");
			new_flow(&text, path, i, depth, value);
			splice(&res, doc, len, close - 1, close - 1, text.data, text.len);
		} else {
			int indent = node->n > 0 ? node->keys[0]->col - 1 : 0;

			at = node->n > 0 ? end_of_last_line(node->items[node->n - 1], doc, len) : len;
			if (at == len && len > 0 && doc[len - 1] != '\n')
				buf_puts(&text, eol);
			new_lines(&text, indent, path, i, depth, value, eol);
			splice(&res, doc, len, at, at, text.data, text.len);
		}
		goto verify;
	}
	/* The value is there: replace its bytes (a block scalar's without the
	 * line breaks after it). */
	if (node->type != YNODE_SCALAR) {
		rc = err_set(ERR_INVALID, "'%s' is %s, not a single value", path[depth - 1],
		    ynode_type_name(node));
		goto done;
	}
	if (node->start == node->end) {
		buf_putc(&text, ' ');
		value_text(&text, value, 1);
	} else {
		value_text(&text, value, !node->quoted);
	}
	splice(&res, doc, len, node->start, node_end(node, doc), text.data, text.len);
verify:
	/* What we wrote must read back as exactly that value, and as a
	 * string or the number it was written as, never null or a boolean. */
	if (ydoc_parse(&check, res.data, res.len, NULL, &line, &col) != OK) {
		rc = err_set(ERR_INVALID, "the edit does not parse (%d:%d: %s)", line, col,
		    err_last());
		goto done;
	}
	node = check;
	for (i = 0; i < depth && node; i++)
		node = ynode_get(node, path[i]);
	if (!node || node->type != YNODE_SCALAR || strcmp(node->str, value) != 0 ||
	    node->len != strlen(value) || ynode_scalar_kind(node) == YSCALAR_NULL ||
	    ynode_scalar_kind(node) == YSCALAR_BOOL) {
		rc = err_set(ERR_INVALID, "the edit does not read back as the value");
		goto done;
	}
	if (!same_but_path(root, check, path, depth)) {
		rc = err_set(ERR, "the edit changes more than the value");
		goto done;
	}
	*outlen = res.len;
	*out = buf_steal(&res);
	rc = OK;
done:
	ynode_free(root);
	ynode_free(check);
	buf_dispose(&text);
	buf_dispose(&res);
	return rc;
}

/* ---- list items ------------------------------------------------------- */

/* "{k: v, k: [a, b]}" */
static void
pair_value(struct buf *b, const struct edit_pair *p)
{
	size_t i;

	if (p->value) {
		item_text(b, p->value);
		return;
	}
	ASSERT(p->values || p->nvalues == 0);
	buf_putc(b, '[');
	for (i = 0; i < p->nvalues; i++) {
		if (i)
			buf_puts(b, ", ");
		item_text(b, p->values[i]);
	}
	buf_putc(b, ']');
}

static void
flow_item(struct buf *b, const struct edit_pair *pairs, size_t npairs)
{
	size_t i;

	buf_putc(b, '{');
	for (i = 0; i < npairs; i++) {
		if (i)
			buf_puts(b, ", ");
		item_text(b, pairs[i].key);
		buf_puts(b, ": ");
		pair_value(b, &pairs[i]);
	}
	buf_putc(b, '}');
}

/* A block mapping item: `lead` ("  - ") before the first key, `keyind`
 * before the others, each line ended by eol but the last. */
static void
block_item(struct buf *b, const char *lead, size_t leadlen, const char *keyind,
    size_t keyindlen, const char *eol, const struct edit_pair *pairs, size_t npairs)
{
	size_t i;

	buf_append(b, lead, leadlen);
	if (npairs == 0)
		buf_puts(b, "{}");
	for (i = 0; i < npairs; i++) {
		if (i) {
			buf_puts(b, eol);
			buf_append(b, keyind, keyindlen);
		}
		item_text(b, pairs[i].key);
		buf_puts(b, ": ");
		pair_value(b, &pairs[i]);
	}
}

/* Does the (new) item read back as exactly `pairs`, every value a string? */
static int
item_is(const struct ynode *it, const struct edit_pair *pairs, size_t npairs)
{
	size_t i, j;

	if (it->type != YNODE_MAP || it->n != npairs)
		return 0;
	for (i = 0; i < npairs; i++) {
		const struct ynode *k = it->keys[i], *v = it->items[i];

		if (k->len != strlen(pairs[i].key) || strcmp(k->str, pairs[i].key) != 0)
			return 0;
		if (pairs[i].value) {
			if (v->type != YNODE_SCALAR || v->len != strlen(pairs[i].value) ||
			    strcmp(v->str, pairs[i].value) != 0 ||
			    ynode_scalar_kind(v) != YSCALAR_STR)
				return 0;
			continue;
		}
		if (v->type != YNODE_SEQ || v->n != pairs[i].nvalues)
			return 0;
		for (j = 0; j < v->n; j++) {
			const struct ynode *x = v->items[j];

			if (x->type != YNODE_SCALAR || x->len != strlen(pairs[i].values[j]) ||
			    strcmp(x->str, pairs[i].values[j]) != 0 ||
			    ynode_scalar_kind(x) != YSCALAR_STR)
				return 0;
		}
	}
	return 1;
}

/*
 * Walk `path` from the root.  *parent is the deepest mapping reached and
 * *i the number of keys found (depth when the target is there, in
 * *target).  ERR_INVALID when something on the way is not a mapping.
 */
static int
walk(struct ynode *root, const char *const *path, size_t depth, struct ynode **parent,
    struct ynode **target, size_t *i)
{
	struct ynode *node = root, *child;

	*parent = NULL;
	*target = NULL;
	for (*i = 0; *i < depth; (*i)++) {
		if (node->type != YNODE_MAP && *i == 0)
			return err_set(ERR_INVALID, "the file is %s, not a mapping",
			    ynode_type_name(node));
		if (node->type != YNODE_MAP)
			return err_set(ERR_INVALID, "'%s' is %s, not a mapping", path[*i - 1],
			    ynode_type_name(node));
		*parent = node;
		if (!(child = ynode_get(node, path[*i])))
			return OK;
		node = child;
	}
	*target = node;
	return OK;
}

/* The index of `key` in mapping `map`. */
static size_t
key_index(const struct ynode *map, const char *key)
{
	size_t i;

	for (i = 0; i < map->n; i++)
		if (strcmp(map->keys[i]->str, key) == 0 && map->keys[i]->len == strlen(key))
			return i;
	ASSERT(!"key is in the mapping");
	return 0;
}

/* The `-` of item k of block sequence `seq`, or len when it is not found
 * where it must be. */
static size_t
dash_of(const struct ynode *seq, size_t k, const char *doc, size_t len)
{
	size_t p = k == 0 ? seq->start : skip_space(doc, len, node_end(seq->items[k - 1], doc));

	return p < len && doc[p] == '-' ? p : len;
}

/* A blank-only stretch of a line? */
static int
all_blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return 0;
	return 1;
}

/*
 * Which shape the new item takes: one more item of an existing list, a
 * list in place of a null value, or a new key (and the mappings it needs).
 */
enum append_how { APPEND_ITEM, APPEND_FOR_NULL, APPEND_KEY };

/* `found` of path's keys exist; the new key path[found] and the list of one
 * item under it, as flow text (" {k: [{...}]}" nests). */
static void
new_key_flow(struct buf *b, const char *const *path, size_t found, size_t depth,
    const struct edit_pair *pairs, size_t npairs)
{
	size_t j;

	for (j = found; j < depth; j++) {
		item_text(b, path[j]);
		buf_puts(b, j + 1 < depth ? ": {" : ": [");
	}
	flow_item(b, pairs, npairs);
	buf_putc(b, ']');
	for (j = found + 1; j < depth; j++)
		buf_putc(b, '}');
}

/* The same as block lines at `indent`, the list's dash two further in; no
 * line break after the last line. */
static void
new_key_block(struct buf *b, size_t indent, const char *const *path, size_t found,
    size_t depth, const struct edit_pair *pairs, size_t npairs, const char *eol)
{
	size_t j;

	for (j = found; j < depth; j++) {
		put_spaces(b, indent + 2 * (j - found));
		item_text(b, path[j]);
		buf_putc(b, ':');
		buf_puts(b, eol);
	}
	put_spaces(b, indent + 2 * (depth - found));
	buf_puts(b, "- ");
	flow_item(b, pairs, npairs);
}

/*
 * Text inserted at `at` as whole lines: `body` plus a line break, or, at
 * the end of a file that lacks a final newline, a line break plus `body`
 * (so the file still lacks one).
 */
static void
as_lines(struct buf *text, const struct buf *body, const char *doc, size_t len, size_t at,
    const char *eol)
{
	int lacks = at == len && len > 0 && doc[len - 1] != '\n';

	if (lacks)
		buf_puts(text, eol);
	buf_append(text, body->data, body->len);
	if (!lacks)
		buf_puts(text, eol);
}

/* Block sequence `seq` gets one more item after its last one. */
static int
append_block(struct buf *text, size_t *at, const struct ynode *seq, const char *doc,
    size_t len, const char *eol, const struct edit_pair *pairs, size_t npairs)
{
	const struct ynode *last = seq->items[seq->n - 1];
	struct buf body = BUF_INIT, lead = BUF_INIT, keyind = BUF_INIT;
	size_t dash = dash_of(seq, seq->n - 1, doc, len), ls, q;
	int block_map = last->type == YNODE_MAP && !is_flow(last, doc) && last->n > 0;

	if (dash == len)
		return err_set(ERR_INVALID, "cannot find the '-' of the last item");
	ls = line_start(doc, dash);
	if (!all_blank(doc + ls, dash - ls))
		return err_set(ERR_INVALID, "the last item's '-' does not start its line");
	/* The siblings' indentation and dash style, copied: "  - ", "-   ". */
	buf_append(&lead, doc + ls, dash + 1 - ls);
	for (q = dash + 1; q < len && (doc[q] == ' ' || doc[q] == '\t'); q++)
		;
	if (q == last->start) {
		buf_append(&lead, doc + dash + 1, q - dash - 1);
	} else if (block_map && (size_t)last->keys[0]->col - 1 > dash + 1 - ls) {
		/* "-" alone on its line, the keys below: the first key goes on
		 * the dash's line, where the others are. */
		put_spaces(&lead, (size_t)last->keys[0]->col - 1 - (dash + 1 - ls));
	} else {
		buf_putc(&lead, ' ');
	}
	if (block_map) {
		if (last->n >= 2 && all_blank(doc + line_start(doc, last->keys[1]->start),
		    last->keys[1]->start - line_start(doc, last->keys[1]->start)))
			buf_append(&keyind, doc + line_start(doc, last->keys[1]->start),
			    last->keys[1]->start - line_start(doc, last->keys[1]->start));
		else
			put_spaces(&keyind, lead.len);
		block_item(&body, lead.data, lead.len, keyind.data, keyind.len, eol, pairs, npairs);
	} else {
		buf_append(&body, lead.data, lead.len);
		flow_item(&body, pairs, npairs);
	}
	/* After the last item's line(s), its comment and the comments below it
	 * that are indented like the items. */
	*at = past_comments(doc, len, end_of_last_line(last, doc, len), dash - ls);
	as_lines(text, &body, doc, len, *at, eol);
	buf_dispose(&body);
	buf_dispose(&lead);
	buf_dispose(&keyind);
	return OK;
}

int
edit_seq_append(char **out, size_t *outlen, const char *doc, size_t len,
    const char *const *path, size_t depth, const struct edit_pair *pairs, size_t npairs)
{
	struct ynode *root = NULL, *check = NULL, *parent, *target, *cparent, *ctarget, *node;
	struct buf text = BUF_INIT, body = BUF_INIT, res = BUF_INIT;
	struct span sp[2];
	const char *eol = eol_of(doc, len);
	enum append_how how = APPEND_ITEM;
	size_t nsp = 0, found, cfound, oldn = 0, at = 0, j, k;
	int line, col, rc, same;

	*out = NULL;
	*outlen = 0;
	ASSERT(depth > 0 && (pairs || npairs == 0));
	for (j = 0; j < npairs; j++)
		ASSERT(pairs[j].key && (pairs[j].value || pairs[j].values || !pairs[j].nvalues));
	if ((rc = ydoc_parse(&root, doc, len, NULL, &line, &col)) != OK)
		return err_set(ERR_INVALID, "%d:%d: %s", line, col, err_last());
	if ((rc = walk(root, path, depth, &parent, &target, &found)) != OK)
		goto done;
	if (!target) {
		/* Missing from path[found] on: a new key in `parent`. */
		how = APPEND_KEY;
		if (is_flow(parent, doc)) {
			if (parent->n > 0) {
				at = node_end(parent->items[parent->n - 1], doc);
				buf_puts(&text, ", ");
			} else {
				at = parent->start + 1;
			}
			new_key_flow(&text, path, found, depth, pairs, npairs);
		} else {
			size_t indent = parent->n > 0 ? (size_t)parent->keys[0]->col - 1 : 0;

			at = len;
			if (parent->n > 0)
				at = past_comments(doc, len, end_of_last_line(parent->items[parent->n - 1],
				    doc, len), indent + 1);
			new_key_block(&body, indent, path, found, depth, pairs, npairs, eol);
			as_lines(&text, &body, doc, len, at, eol);
		}
		sp[nsp++] = (struct span){ at, at, text.data, text.len };
	} else if (target->type == YNODE_SCALAR && ynode_scalar_kind(target) == YSCALAR_NULL) {
		/* `records:` or `records: ~`: the null goes, a list comes. */
		how = APPEND_FOR_NULL;
		if (is_flow(parent, doc)) {
			if (target->start == target->end && target->start > 0 &&
			    doc[target->start - 1] == ':')
				buf_putc(&text, ' ');
			buf_putc(&text, '[');
			flow_item(&text, pairs, npairs);
			buf_putc(&text, ']');
			sp[nsp++] = (struct span){ target->start, target->end, text.data, text.len };
		} else {
			const struct ynode *key = parent->keys[key_index(parent, path[depth - 1])];

			at = line_end(doc, len, target->end);
			put_spaces(&body, (size_t)key->col - 1 + 2);
			buf_puts(&body, "- ");
			flow_item(&body, pairs, npairs);
			as_lines(&text, &body, doc, len, at, eol);
			sp[nsp++] = (struct span){ target->start, target->end, "", 0 };
			sp[nsp++] = (struct span){ at, at, text.data, text.len };
		}
	} else if (target->type != YNODE_SEQ) {
		rc = err_set(ERR_INVALID, "'%s' is %s, not a list", path[depth - 1],
		    ynode_type_name(target));
		goto done;
	} else if (is_flow(target, doc)) {
		oldn = target->n;
		if (target->n > 0) {
			at = node_end(target->items[target->n - 1], doc);
			buf_puts(&text, ", ");
		} else {
			at = target->start + 1;
		}
		flow_item(&text, pairs, npairs);
		sp[nsp++] = (struct span){ at, at, text.data, text.len };
	} else {
		oldn = target->n;
		if ((rc = append_block(&text, &at, target, doc, len, eol, pairs, npairs)) != OK)
			goto done;
		sp[nsp++] = (struct span){ at, at, text.data, text.len };
	}
	apply(&res, doc, len, sp, nsp);

	/* The new item must read back as the pairs, and all else as before. */
	if (ydoc_parse(&check, res.data, res.len, NULL, &line, &col) != OK) {
		rc = err_set(ERR_INVALID, "the edit does not parse (%d:%d: %s)", line, col,
		    err_last());
		goto done;
	}
	if (walk(check, path, depth, &cparent, &ctarget, &cfound) != OK || !ctarget ||
	    ctarget->type != YNODE_SEQ || ctarget->n != oldn + 1 ||
	    !item_is(ctarget->items[oldn], pairs, npairs)) {
		rc = err_set(ERR_INVALID, "the edit does not read back as the new item");
		goto done;
	}
	switch (how) {
	case APPEND_ITEM:
		ctarget->n--;
		same = ynode_equal(root, check);
		ctarget->n++;
		break;
	case APPEND_FOR_NULL:
		k = key_index(cparent, path[depth - 1]);
		node = cparent->items[k];
		cparent->items[k] = target;
		same = ynode_equal(root, check);
		cparent->items[k] = node;
		break;
	default:
		for (node = check, j = 0; j < found; j++)
			node = ynode_get(node, path[j]);
		same = node && node->type == YNODE_MAP && node->n > 0 &&
		    strcmp(node->keys[node->n - 1]->str, path[found]) == 0;
		if (same) {
			node->n--;
			same = ynode_equal(root, check);
			node->n++;
		}
		break;
	}
	if (!same) {
		rc = err_set(ERR_INVALID, "the edit changes more than the list");
		goto done;
	}
	*outlen = res.len;
	*out = buf_steal(&res);
	rc = OK;
done:
	ynode_free(root);
	ynode_free(check);
	buf_dispose(&text);
	buf_dispose(&body);
	buf_dispose(&res);
	return rc;
}

/* Blanks (not line breaks) from p on: the byte after them. */
static size_t
skip_blanks(const char *doc, size_t len, size_t p)
{
	while (p < len && (doc[p] == ' ' || doc[p] == '\t'))
		p++;
	return p;
}

/* The spans that take item `index` out of flow sequence `seq`. */
static int
remove_flow(struct span *sp, size_t *nsp, const struct ynode *seq, size_t index,
    const char *doc, size_t len)
{
	const struct ynode *item = seq->items[index];
	size_t s = item->start, e = node_end(item, doc), c, to;

	/* One adjoining comma: the one after the item, else the one before. */
	c = skip_space(doc, len, e);
	if (c < len && doc[c] == ',') {
		to = skip_blanks(doc, len, c + 1);
		if (!memchr(doc + e, '#', c - e)) {
			sp[(*nsp)++] = (struct span){ s, to, "", 0 };
		} else {
			sp[(*nsp)++] = (struct span){ s, e, "", 0 };
			sp[(*nsp)++] = (struct span){ c, to, "", 0 };
		}
		return OK;
	}
	if (index == 0) {
		sp[(*nsp)++] = (struct span){ s, e, "", 0 };
		return OK;
	}
	c = skip_space(doc, len, node_end(seq->items[index - 1], doc));
	if (c >= s || doc[c] != ',')
		return err_set(ERR_INVALID, "cannot find the comma before item %zu", index);
	if (!memchr(doc + c, '#', s - c)) {
		sp[(*nsp)++] = (struct span){ c, e, "", 0 };
	} else {
		sp[(*nsp)++] = (struct span){ c, c + 1, "", 0 };
		sp[(*nsp)++] = (struct span){ s, e, "", 0 };
	}
	return OK;
}

int
edit_seq_remove(char **out, size_t *outlen, const char *doc, size_t len,
    const char *const *path, size_t depth, size_t index)
{
	struct ynode *root = NULL, *check = NULL, *parent, *target, *cparent, *ctarget, *item;
	struct buf res = BUF_INIT;
	struct span sp[2];
	size_t nsp = 0, found, cfound, n;
	int line, col, rc, same;

	*out = NULL;
	*outlen = 0;
	ASSERT(depth > 0);
	if ((rc = ydoc_parse(&root, doc, len, NULL, &line, &col)) != OK)
		return err_set(ERR_INVALID, "%d:%d: %s", line, col, err_last());
	if ((rc = walk(root, path, depth, &parent, &target, &found)) != OK)
		goto done;
	if (!target || (target->type == YNODE_SCALAR &&
	    ynode_scalar_kind(target) == YSCALAR_NULL)) {
		rc = err_set(ERR_NOTFOUND, "'%s' has no items", path[found < depth ? found :
		    depth - 1]);
		goto done;
	}
	if (target->type != YNODE_SEQ) {
		rc = err_set(ERR_INVALID, "'%s' is %s, not a list", path[depth - 1],
		    ynode_type_name(target));
		goto done;
	}
	n = target->n;
	if (index >= n) {
		rc = err_set(ERR_NOTFOUND, "'%s' has %zu item%s, no item %zu", path[depth - 1], n,
		    n == 1 ? "" : "s", index);
		goto done;
	}
	item = target->items[index];
	if (is_flow(target, doc)) {
		if ((rc = remove_flow(sp, &nsp, target, index, doc, len)) != OK)
			goto done;
	} else {
		size_t dash = dash_of(target, index, doc, len), ls, le, c;

		if (dash == len) {
			rc = err_set(ERR_INVALID, "cannot find the '-' of item %zu", index);
			goto done;
		}
		ls = line_start(doc, dash);
		if (!all_blank(doc + ls, dash - ls)) {
			rc = err_set(ERR_INVALID, "the '-' of item %zu does not start its line", index);
			goto done;
		}
		le = end_of_last_line(item, doc, len);
		if (le == len && len > 0 && doc[len - 1] != '\n' && ls > 0) {
			/* The last line of a file without a final newline: the
			 * line break before it goes, so the file still lacks one. */
			ls--;
			if (ls > 0 && doc[ls - 1] == '\r')
				ls--;
		}
		if (n == 1) {
			/* The list would be empty, which a block cannot say:
			 * `records: []` instead. */
			const struct ynode *key = parent->keys[key_index(parent, path[depth - 1])];

			c = skip_blanks(doc, len, key->end);
			if (c >= ls || doc[c] != ':') {
				rc = err_set(ERR_INVALID, "cannot find the ':' after '%s'",
				    path[depth - 1]);
				goto done;
			}
			sp[nsp++] = (struct span){ c + 1, c + 1, " []", 3 };
		}
		sp[nsp++] = (struct span){ ls, le, "", 0 };
	}
	apply(&res, doc, len, sp, nsp);

	/* One item fewer, and the old document without it is the new one. */
	if (ydoc_parse(&check, res.data, res.len, NULL, &line, &col) != OK) {
		rc = err_set(ERR_INVALID, "the edit does not parse (%d:%d: %s)", line, col,
		    err_last());
		goto done;
	}
	if (walk(check, path, depth, &cparent, &ctarget, &cfound) != OK || !ctarget ||
	    ctarget->type != YNODE_SEQ || ctarget->n != n - 1) {
		rc = err_set(ERR_INVALID, "the edit does not leave one item fewer");
		goto done;
	}
	memmove(&target->items[index], &target->items[index + 1],
	    (n - index - 1) * sizeof(*target->items));
	target->n--;
	same = ynode_equal(root, check);
	target->n++;
	memmove(&target->items[index + 1], &target->items[index],
	    (n - index - 1) * sizeof(*target->items));
	target->items[index] = item;
	if (!same) {
		rc = err_set(ERR_INVALID, "the edit changes more than the one item");
		goto done;
	}
	*outlen = res.len;
	*out = buf_steal(&res);
	rc = OK;
done:
	ynode_free(root);
	ynode_free(check);
	buf_dispose(&res);
	return rc;
}
