/*
 * ydoc.c - bounded YAML parsing into a tree with source marks, and the
 * deterministic YAML/JSON emitters the renderers and plans use.  See ydoc.h.
 */
#include "model/ydoc.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

const struct ydoc_limits YDOC_DEFAULT_LIMITS = { 1u << 20, 32, 100000 };

/*
 * libyaml checks UTF-8 too, but its message names a byte offset; checking
 * first lets us say which line and column, and also refuse control
 * characters that have no business in an inventory.
 */
static int
check_utf8(const unsigned char *s, size_t len, int *line, int *col, int *ascii)
{
	size_t i = 0;
	int l = 1, c = 1;

	*ascii = 1;
	/* libyaml skips a byte order mark without counting it. */
	if (len >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf) {
		i = 3;
		*ascii = 0;
	}
	while (i < len) {
		unsigned char ch = s[i];
		size_t need = 0, k;
		unsigned cp;

		if (ch < 0x80) {
			if (ch == '\n') {
				l++;
				c = 1;
				i++;
				continue;
			}
			if (ch < 0x20 && ch != '\t' && ch != '\r')
				goto bad_ctl;
			if (ch == 0x7f)
				goto bad_ctl;
			i++;
			c++;
			continue;
		}
		*ascii = 0;
		if (ch >= 0xc2 && ch <= 0xdf) {
			need = 1;
			cp = ch & 0x1f;
		} else if (ch >= 0xe0 && ch <= 0xef) {
			need = 2;
			cp = ch & 0x0f;
		} else if (ch >= 0xf0 && ch <= 0xf4) {
			need = 3;
			cp = ch & 0x07;
		} else
			goto bad;
		for (k = 1; k <= need; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
				goto bad;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			goto bad;
		i += need + 1;
		c++;
	}
	return OK;
bad:
	*line = l;
	*col = c;
	return err_set(ERR_INVALID, "not valid UTF-8 (byte 0x%02x)", s[i]);
bad_ctl:
	*line = l;
	*col = c;
	return err_set(ERR_INVALID, "control character 0x%02x is not allowed", s[i]);
}

/*
 * libyaml's marks count characters: `index` is the number of code points
 * before the mark (a BOM not counted), `column` the code points since the
 * line's start.  The editor needs byte offsets.  Marks arrive in nearly
 * ascending order, so one cursor that walks forward (or, rarely, back)
 * from the last mark converts them all in O(n) over the document; an
 * ASCII document (the common case) needs no walk at all.
 */
struct bytemap {
	const unsigned char *s;
	size_t len;
	int ascii;
	size_t ci, bi;            /* the cursor: code point ci starts at byte bi */
};

static void
bytemap_init(struct bytemap *m, const char *data, size_t len, int ascii)
{
	m->s = (const unsigned char *)data;
	m->len = len;
	m->ascii = ascii;
	m->ci = 0;
	m->bi = len >= 3 && m->s[0] == 0xef && m->s[1] == 0xbb && m->s[2] == 0xbf ? 3 : 0;
}

/* The byte offset of code point `index` (the input is valid UTF-8). */
static size_t
bytemap_at(struct bytemap *m, size_t index)
{
	if (m->ascii)
		return index <= m->len ? index : m->len;
	while (m->ci < index && m->bi < m->len) {
		m->bi++;
		while (m->bi < m->len && (m->s[m->bi] & 0xc0) == 0x80)
			m->bi++;
		m->ci++;
	}
	while (m->ci > index) {
		m->bi--;
		while ((m->s[m->bi] & 0xc0) == 0x80)
			m->bi--;
		m->ci--;
	}
	return m->bi;
}

static struct ynode *
node_new(enum ynode_type type, const yaml_mark_t *m, struct bytemap *bm)
{
	struct ynode *n = xcalloc(1, sizeof(*n));

	n->type = type;
	n->line = (int)m->line + 1;
	n->col = (int)m->column + 1;
	n->start = bm ? bytemap_at(bm, m->index) : 0;
	return n;
}

void
ynode_free(struct ynode *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->n; i++) {
		ynode_free(n->items[i]);
		if (n->keys)
			ynode_free(n->keys[i]);
	}
	free(n->items);
	free(n->keys);
	free(n->str);
	free(n);
}

/* Append a child to a collection, growing its arrays by doubling. */
static void
node_push(struct ynode *parent, struct ynode *key, struct ynode *val)
{
	size_t n = parent->n;

	/* Grow at powers of two: n is the count before the push. */
	if ((n & (n - 1)) == 0) {
		size_t cap = n ? n * 2 : 2;

		parent->items = xrealloc(parent->items, cap * sizeof(*parent->items));
		if (parent->type == YNODE_MAP)
			parent->keys = xrealloc(parent->keys, cap * sizeof(*parent->keys));
	}
	parent->items[n] = val;
	if (parent->type == YNODE_MAP)
		parent->keys[n] = key;
	parent->n = n + 1;
}

static int
keys_cmp(const void *a, const void *b)
{
	const struct ynode *x = *(const struct ynode *const *)a;
	const struct ynode *y = *(const struct ynode *const *)b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->str, y->str, n);

	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

static int ieq(const char *s, const char *lit);

/*
 * A key as the value it resolves to.  Keys that spell one value
 * differently (~ and null; yes and true; 16, 0x10 and 020) are one key to
 * Psych and every YAML 1.1 reader, which silently keeps the last, so they
 * are duplicates here too (found by fuzz_ydoc: `{~: 1, null: 2}` rendered
 * an ENC document with two `~:` keys).  Strings, and numbers too long to
 * compute, are their bytes.
 */
struct key_value {
	char tag;                 /* 's' string, 'n' null, 'b' bool, 'i' int, 'f' float */
	const char *s;
	size_t len;
	char buf[48];
};

static void
key_value(struct key_value *kv, const struct ynode *k)
{
	unsigned long long v = 0;
	const char *p = k->str;
	unsigned base = 10;
	int neg = 0, n;

	kv->tag = 's';
	kv->s = k->str;
	kv->len = k->len;
	switch (ynode_scalar_kind(k)) {
	case YSCALAR_NULL:
		kv->tag = 'n';
		kv->len = 0;
		return;
	case YSCALAR_BOOL:
		kv->tag = 'b';
		kv->s = ieq(p, "true") || ieq(p, "yes") || ieq(p, "on") ? "t" : "f";
		kv->len = 1;
		return;
	case YSCALAR_INT:
		if (*p == '-' || *p == '+')
			neg = *p++ == '-';
		if (p[0] == '0' && (p[1] == 'x' || p[1] == 'b')) {
			base = p[1] == 'x' ? 16 : 2;
			p += 2;
		} else if (p[0] == '0' && p[1]) {
			base = 8;
		}
		for (; *p; p++) {
			int d = hex_digit(*p);

			if (*p == '_' || *p == ',')
				continue;
			if (d < 0 || (unsigned)d >= base || v > (ULLONG_MAX - (unsigned)d) / base)
				return;   /* an 8 in octal (Psych: a string), or too long */
			v = v * base + (unsigned)d;
		}
		n = snprintf(kv->buf, sizeof(kv->buf), "%s%llu", neg && v ? "-" : "", v);
		break;
	case YSCALAR_FLOAT: {
		char digits[48];
		size_t j = 0;
		double d;

		if (*p == '-' || *p == '+')
			neg = *p++ == '-';
		if (*p == '.' && ieq(p + 1, "inf")) {
			n = snprintf(kv->buf, sizeof(kv->buf), "%sinf", neg ? "-" : "");
			break;
		}
		for (; *p && j + 1 < sizeof(digits); p++)
			if (*p != '_' && *p != ',')
				digits[j++] = *p;
		digits[j] = '\0';
		if (*p || ieq(digits, ".nan"))
			return;   /* too long to compute, or NaN: no NaN equals another */
		d = strtod(digits, NULL);
		n = snprintf(kv->buf, sizeof(kv->buf), "%a", neg ? -d : d);
		break;
	}
	default:
		return;
	}
	if (n < 0 || (size_t)n >= sizeof(kv->buf))
		return;
	kv->tag = ynode_scalar_kind(k) == YSCALAR_INT ? 'i' : 'f';
	kv->s = kv->buf;
	kv->len = (size_t)n;
}

static int
key_value_cmp(const void *a, const void *b)
{
	struct key_value x, y;
	size_t n;
	int c;

	key_value(&x, *(const struct ynode *const *)a);
	key_value(&y, *(const struct ynode *const *)b);
	if (x.tag != y.tag)
		return x.tag < y.tag ? -1 : 1;
	n = x.len < y.len ? x.len : y.len;
	if ((c = memcmp(x.s, y.s, n)) != 0)
		return c;
	return x.len < y.len ? -1 : x.len > y.len;
}

/* Returns the second occurrence of a duplicated key, or NULL. */
static const struct ynode *
find_duplicate_key(const struct ynode *map)
{
	const struct ynode **v, *dup = NULL;
	size_t i, j;

	if (map->n <= 16) {
		for (i = 1; i < map->n; i++)
			for (j = 0; j < i; j++)
				if (key_value_cmp(&map->keys[i], &map->keys[j]) == 0)
					return map->keys[i];
		return NULL;
	}
	v = xmalloc(map->n * sizeof(*v));
	memcpy(v, map->keys, map->n * sizeof(*v));
	xqsort(v, map->n, sizeof(*v), key_value_cmp);
	for (i = 1; i < map->n && !dup; i++)
		if (key_value_cmp(&v[i - 1], &v[i]) == 0)
			dup = v[i]->line > v[i - 1]->line ? v[i] : v[i - 1];
	free(v);
	return dup;
}

struct parse_ctx {
	struct ynode *stack[64];
	struct ynode *pending_key[64];
	unsigned depth;
	size_t nodes;
};

int
ydoc_parse(struct ynode **out, const char *data, size_t len,
    const struct ydoc_limits *lim, int *line, int *col)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct parse_ctx cx;
	struct ynode *root = NULL, *node;
	struct bytemap bm;
	int rc = OK, done = 0, docs = 0, ascii;
	unsigned i;

	*out = NULL;
	*line = *col = 0;
	if (!lim)
		lim = &YDOC_DEFAULT_LIMITS;
	if (len > lim->max_bytes) {
		*line = 1;
		*col = 1;
		return err_set(ERR_TOOBIG, "file is %zu bytes, over the limit of %zu",
		    len, lim->max_bytes);
	}
	if ((rc = check_utf8((const unsigned char *)data, len, line, col, &ascii)) != OK)
		return rc;
	bytemap_init(&bm, data, len, ascii);
	memset(&cx, 0, sizeof(cx));
	if (!yaml_parser_initialize(&parser))
		return err_set(ERR, "cannot initialise the YAML parser");
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);

	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			*line = (int)parser.problem_mark.line + 1;
			*col = (int)parser.problem_mark.column + 1;
			if (parser.context)
				rc = err_set(ERR_INVALID, "YAML syntax error: %s %s",
				    parser.problem ? parser.problem : "error", parser.context);
			else
				rc = err_set(ERR_INVALID, "YAML syntax error: %s",
				    parser.problem ? parser.problem : "error");
			goto fail;
		}
		node = NULL;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				*line = (int)ev.start_mark.line + 1;
				*col = (int)ev.start_mark.column + 1;
				rc = err_set(ERR_INVALID, "more than one YAML document in the file");
				goto fail_ev;
			}
			break;
		case YAML_ALIAS_EVENT:
			*line = (int)ev.start_mark.line + 1;
			*col = (int)ev.start_mark.column + 1;
			rc = err_set(ERR_INVALID, "YAML aliases (*%s) are not allowed",
			    (const char *)ev.data.alias.anchor);
			goto fail_ev;
		case YAML_SCALAR_EVENT:
			if (ev.data.scalar.tag && !ev.data.scalar.plain_implicit &&
			    !ev.data.scalar.quoted_implicit) {
				*line = (int)ev.start_mark.line + 1;
				*col = (int)ev.start_mark.column + 1;
				rc = err_set(ERR_INVALID, "YAML tags (%s) are not allowed",
				    (const char *)ev.data.scalar.tag);
				goto fail_ev;
			}
			/* An escape ("\0", "\x00") can put a NUL in a value:
			 * no C string, JSON reader or Puppet holds one. */
			if (memchr(ev.data.scalar.value, '\0', ev.data.scalar.length)) {
				*line = (int)ev.start_mark.line + 1;
				*col = (int)ev.start_mark.column + 1;
				rc = err_set(ERR_INVALID, "a value cannot hold a NUL character (\\0)");
				goto fail_ev;
			}
			node = node_new(YNODE_SCALAR, &ev.start_mark, &bm);
			node->str = xstrndup((const char *)ev.data.scalar.value,
			    ev.data.scalar.length);
			node->len = ev.data.scalar.length;
			node->quoted = ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE &&
			    ev.data.scalar.style != YAML_ANY_SCALAR_STYLE;
			node->end = bytemap_at(&bm, ev.end_mark.index);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT: {
			const yaml_char_t *tag = ev.type == YAML_SEQUENCE_START_EVENT ?
			    ev.data.sequence_start.tag : ev.data.mapping_start.tag;
			int implicit = ev.type == YAML_SEQUENCE_START_EVENT ?
			    ev.data.sequence_start.implicit : ev.data.mapping_start.implicit;

			if (tag && !implicit) {
				*line = (int)ev.start_mark.line + 1;
				*col = (int)ev.start_mark.column + 1;
				rc = err_set(ERR_INVALID, "YAML tags (%s) are not allowed",
				    (const char *)tag);
				goto fail_ev;
			}
			node = node_new(ev.type == YAML_SEQUENCE_START_EVENT ?
			    YNODE_SEQ : YNODE_MAP, &ev.start_mark, &bm);
			break;
		}
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT: {
			struct ynode *top;
			const struct ynode *dup;

			ASSERT(cx.depth > 0);
			top = cx.stack[--cx.depth];
			top->end = bytemap_at(&bm, ev.end_mark.index);
			if (top->type == YNODE_MAP && (dup = find_duplicate_key(top))) {
				*line = dup->line;
				*col = dup->col;
				rc = err_set(ERR_INVALID, "duplicate key '%s'", dup->str);
				ynode_free(top);
				goto fail_ev;
			}
			node = top;
			goto attach;
		}
		default:
			break;
		}
		if (!node) {
			yaml_event_delete(&ev);
			continue;
		}
		if (++cx.nodes > lim->max_nodes) {
			*line = node->line;
			*col = node->col;
			rc = err_set(ERR_TOOBIG, "more than %zu YAML nodes", lim->max_nodes);
			ynode_free(node);
			goto fail_ev;
		}
		if (node->type != YNODE_SCALAR) {
			if (cx.depth >= lim->max_depth || cx.depth >= 63) {
				*line = node->line;
				*col = node->col;
				rc = err_set(ERR_TOOBIG, "nested deeper than %u levels",
				    lim->max_depth);
				ynode_free(node);
				goto fail_ev;
			}
			cx.pending_key[cx.depth] = NULL;
			cx.stack[cx.depth++] = node;
			yaml_event_delete(&ev);
			continue;
		}
attach:
		if (cx.depth == 0) {
			root = node;
		} else {
			struct ynode *parent = cx.stack[cx.depth - 1];

			if (parent->type == YNODE_SEQ) {
				node_push(parent, NULL, node);
			} else if (!cx.pending_key[cx.depth - 1]) {
				if (node->type != YNODE_SCALAR) {
					*line = node->line;
					*col = node->col;
					rc = err_set(ERR_INVALID, "a mapping key must be a plain value, not %s",
					    ynode_type_name(node));
					ynode_free(node);
					goto fail_ev;
				}
				cx.pending_key[cx.depth - 1] = node;
			} else {
				node_push(parent, cx.pending_key[cx.depth - 1], node);
				cx.pending_key[cx.depth - 1] = NULL;
			}
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	if (!root || (root->type == YNODE_SCALAR && !root->quoted && root->len == 0)) {
		yaml_mark_t m = { 0, 0, 0 };

		ynode_free(root);
		root = node_new(YNODE_MAP, &m, NULL);
	}
	*out = root;
	return OK;

fail_ev:
	yaml_event_delete(&ev);
fail:
	yaml_parser_delete(&parser);
	for (i = 0; i < cx.depth; i++) {
		ynode_free(cx.pending_key[i]);
		/* Children already attached are freed with their parent; only the
		 * bottom of the stack owns the rest. */
	}
	if (cx.depth > 0) {
		/* Open collections are linked only by the stack: free each one
		 * that is not already a child of the one below it. */
		for (i = cx.depth; i-- > 0;)
			ynode_free(cx.stack[i]);
	}
	ynode_free(root);
	return rc;
}

struct ynode *
ynode_get(const struct ynode *map, const char *key)
{
	size_t i, klen;

	if (!map || map->type != YNODE_MAP)
		return NULL;
	klen = strlen(key);
	for (i = 0; i < map->n; i++)
		if (map->keys[i]->len == klen && memcmp(map->keys[i]->str, key, klen) == 0)
			return map->items[i];
	return NULL;
}

static int
listed(const char *k, const char *const *list)
{
	for (; list && *list; list++)
		if (strcmp(k, *list) == 0)
			return 1;
	return 0;
}

const struct ynode *
ynode_unknown_key(const struct ynode *map, const char *const *known, const char *const *more)
{
	size_t i;

	for (i = 0; map && map->type == YNODE_MAP && i < map->n; i++)
		if (strcmp(map->keys[i]->str, "type") != 0 && !listed(map->keys[i]->str, known) &&
		    !listed(map->keys[i]->str, more))
			return map->keys[i];
	return NULL;
}

void
ynode_keys_join(struct buf *b, const char *first, const char *const *known)
{
	const char *sep = *first ? ", " : "";

	buf_puts(b, first);
	for (; known && *known; known++, sep = ", ")
		buf_printf(b, "%s%s", sep, *known);
}

static int
ieq(const char *s, const char *lit)
{
	return strcasecmp(s, lit) == 0;
}

static int
is_int(const char *s)
{
	size_t i = 0;

	if (s[i] == '-' || s[i] == '+')
		i++;
	if (s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'b')) {
		int hex = s[i + 1] == 'x';

		i += 2;
		if (!s[i])
			return 0;
		for (; s[i]; i++)
			if (!(s[i] == '_' || (hex ? strchr("0123456789abcdefABCDEF", s[i]) != NULL
			    : (s[i] == '0' || s[i] == '1'))))
				return 0;
		return 1;
	}
	if (s[i] < '0' || s[i] > '9')
		return 0;
	for (i++; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == ','))
			return 0;
	return 1;
}

static int
is_float(const char *s)
{
	size_t i = 0;
	int digits = 0;

	if (s[i] == '-' || s[i] == '+')
		i++;
	if (s[i] == '.' && (ieq(s + i + 1, "inf")))
		return 1;
	if (i == 0 && s[0] == '.' && ieq(s + 1, "nan"))
		return 1;
	while ((s[i] >= '0' && s[i] <= '9') || (digits && (s[i] == '_' || s[i] == ','))) {
		digits = 1;
		i++;
	}
	if (s[i] != '.')
		return 0;
	i++;
	while (s[i] >= '0' && s[i] <= '9')
		i++;
	if (s[i] == 'e' || s[i] == 'E') {
		i++;
		if (s[i] != '-' && s[i] != '+')
			return 0;
		i++;
		if (s[i] < '0' || s[i] > '9')
			return 0;
		while (s[i] >= '0' && s[i] <= '9')
			i++;
	}
	return s[i] == '\0';
}

/*
 * Ruby's Psych (what Puppet reads the ENC with) resolves plain scalars per
 * YAML 1.1: yes/no/on/off are booleans, 1.5 is a float, 010 is octal.
 */
enum yscalar_kind
ynode_scalar_kind(const struct ynode *n)
{
	const char *s = n->str;
	char c;

	if (n->quoted)
		return YSCALAR_STR;
	if (n->len == 0)
		return YSCALAR_NULL;
	c = s[0];
	/* Dispatch on the first byte: most scalars are names, and this is on
	 * the render path of every host. */
	if (n->len <= 5 && strchr("~nNtTfFyYoO", c)) {
		if (strcmp(s, "~") == 0 || ieq(s, "null"))
			return YSCALAR_NULL;
		if (ieq(s, "true") || ieq(s, "false") || ieq(s, "yes") || ieq(s, "no") ||
		    ieq(s, "on") || ieq(s, "off"))
			return YSCALAR_BOOL;
		return YSCALAR_STR;
	}
	if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.'))
		return YSCALAR_STR;
	if (strlen(s) != n->len)
		return YSCALAR_STR;
	if (is_int(s))
		return YSCALAR_INT;
	if (is_float(s))
		return YSCALAR_FLOAT;
	return YSCALAR_STR;
}

const char *
ynode_type_name(const struct ynode *n)
{
	if (!n)
		return "nothing";
	switch (n->type) {
	case YNODE_SEQ:
		return "a list";
	case YNODE_MAP:
		return "a mapping";
	case YNODE_SCALAR:
		break;
	}
	switch (ynode_scalar_kind(n)) {
	case YSCALAR_NULL:
		return "null";
	case YSCALAR_BOOL:
		return "a boolean";
	case YSCALAR_INT:
		return "a number";
	case YSCALAR_FLOAT:
		return "a number";
	case YSCALAR_STR:
		break;
	}
	return "a string";
}

struct ynode *
ynode_dup(const struct ynode *n)
{
	struct ynode *d;
	size_t i;

	if (!n)
		return NULL;
	d = xmalloc(sizeof(*d));
	*d = *n;
	d->items = NULL;
	d->keys = NULL;
	d->str = n->str ? xstrndup(n->str, n->len) : NULL;
	if (n->n) {
		d->items = xmalloc(n->n * sizeof(*d->items));
		for (i = 0; i < n->n; i++)
			d->items[i] = ynode_dup(n->items[i]);
		if (n->keys) {
			d->keys = xmalloc(n->n * sizeof(*d->keys));
			for (i = 0; i < n->n; i++)
				d->keys[i] = ynode_dup(n->keys[i]);
		}
	}
	return d;
}

struct ynode *
ynode_new_scalar(const char *s, int quoted)
{
	struct ynode *n = xcalloc(1, sizeof(*n));

	n->type = YNODE_SCALAR;
	n->str = xstrdup(s);
	n->len = strlen(s);
	n->quoted = quoted;
	return n;
}

int
ynode_equal(const struct ynode *a, const struct ynode *b)
{
	size_t i;

	if (a->type != b->type || a->n != b->n)
		return 0;
	if (a->type == YNODE_SCALAR)
		return a->len == b->len && memcmp(a->str, b->str, a->len) == 0 &&
		    ynode_scalar_kind(a) == ynode_scalar_kind(b);
	for (i = 0; i < a->n; i++) {
		if (a->keys && !ynode_equal(a->keys[i], b->keys[i]))
			return 0;
		if (!ynode_equal(a->items[i], b->items[i]))
			return 0;
	}
	return 1;
}

/* ---- emitters ---------------------------------------------------------- */

enum { ESC_YAML, ESC_JSON, ESC_TERRAFORM };

/*
 * YAML readers refuse C1 control characters (U+0080-U+009F), U+FFFE and
 * U+FFFF as raw text, and read U+0085, U+2028 and U+2029 (line breaks to
 * YAML 1.1) in a quoted scalar as a folded space.  Returns the length in
 * bytes of such a character at s (its code point in *cp), else 0.  Found
 * by fuzz_ydoc: a value "\x90" became an ENC document that libyaml, and
 * so Puppet, could not read.
 */
static size_t
yaml_unsafe_char(const char *s, const char *end, unsigned *cp)
{
	const unsigned char *u = (const unsigned char *)s;

	if (u[0] == 0xc2 && end - s >= 2 && u[1] >= 0x80 && u[1] <= 0x9f) {
		*cp = u[1];
		return 2;
	}
	if (u[0] == 0xe2 && end - s >= 3 && u[1] == 0x80 && (u[2] == 0xa8 || u[2] == 0xa9)) {
		*cp = 0x2028u + (u[2] - 0xa8u);
		return 3;
	}
	if (u[0] == 0xef && end - s >= 3 && u[1] == 0xbf && (u[2] == 0xbe || u[2] == 0xbf)) {
		*cp = 0xfffeu + (u[2] - 0xbeu);
		return 3;
	}
	return 0;
}

/*
 * A double-quoted string with backslash escapes, for YAML, JSON and
 * Terraform JSON alike: they differ only in how other control characters
 * are written (YAML "\x01", JSON "\u0001") and in Terraform's template
 * sequences ("${" -> "$${", "%{" -> "%%{").  Runs of plain bytes are
 * copied at once: this is on the render path of every host.
 */
static void
emit_escaped(struct buf *b, const char *s, size_t len, int how)
{
	const char *run = s, *end = s + len;
	char esc[8];

	buf_putc(b, '"');
	for (; s < end; s++) {
		unsigned char c = (unsigned char)*s;
		const char *rep;
		unsigned cp;
		size_t w = 0;

		if (how == ESC_TERRAFORM && (c == '$' || c == '%') && s + 1 < end && s[1] == '{')
			rep = c == '$' ? "$$" : "%%";
		else if (how == ESC_YAML && c >= 0xc2 && (w = yaml_unsafe_char(s, end, &cp))) {
			snprintf(esc, sizeof(esc), "\\u%04x", cp);
			rep = esc;
		} else if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
			continue;
		else if (c == '"')
			rep = "\\\"";
		else if (c == '\\')
			rep = "\\\\";
		else if (c == '\n')
			rep = "\\n";
		else if (c == '\t')
			rep = "\\t";
		else if (c == '\r')
			rep = "\\r";
		else {
			snprintf(esc, sizeof(esc), how == ESC_YAML ? "\\x%02x" : "\\u%04x", c);
			rep = esc;
		}
		buf_append(b, run, (size_t)(s - run));
		buf_puts(b, rep);
		if (w)
			s += w - 1;
		run = s + 1;
	}
	buf_append(b, run, (size_t)(s - run));
	buf_putc(b, '"');
}

void
yemit_quoted(struct buf *b, const char *s, size_t len)
{
	emit_escaped(b, s, len, ESC_YAML);
}

/*
 * Plain is safe when the text cannot be read back as anything but this
 * string: a conservative character set, no leading indicator, and not a
 * word or number that YAML 1.1 would resolve to another type.
 */
static int
plain_safe(const char *s, size_t len)
{
	struct ynode probe;
	size_t i;

	if (len == 0 || strlen(s) != len)
		return 0;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	    (s[0] >= '0' && s[0] <= '9') || s[0] == '_' || s[0] == '/'))
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
		    c == '/' || c == '@' || c == '+'))
			if (!(c == ':' && i + 1 < len && s[i + 1] == ':') &&
			    !(c == ':' && i > 0 && s[i - 1] == ':'))
				return 0;
	}
	if (s[len - 1] == ':')
		return 0;
	memset(&probe, 0, sizeof(probe));
	probe.type = YNODE_SCALAR;
	probe.str = (char *)(uintptr_t)s;
	probe.len = len;
	if (ynode_scalar_kind(&probe) != YSCALAR_STR)
		return 0;
	/* Psych also reads dates, times and sexagesimal numbers. */
	if (s[0] >= '0' && s[0] <= '9') {
		for (i = 0; i < len; i++)
			if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
				break;
		if (i == len || s[i] == '-' || s[i] == ':' || s[i] == '_')
			return 0;
	}
	return 1;
}

void
yemit_string(struct buf *b, const char *s, size_t len)
{
	if (plain_safe(s, len))
		buf_append(b, s, len);
	else
		yemit_quoted(b, s, len);
}

/* A scalar as written: plain non-strings keep their plain text (their
 * type), strings are plain when that is unambiguous, else quoted. */
static void
emit_scalar(struct buf *b, const struct ynode *n)
{
	enum yscalar_kind k = ynode_scalar_kind(n);

	if (k == YSCALAR_NULL)
		buf_puts(b, "~");
	else if (k != YSCALAR_STR)
		buf_append(b, n->str, n->len);
	else
		yemit_string(b, n->str, n->len);
}

static void
indent_to(struct buf *b, int indent)
{
	int i;

	for (i = 0; i < indent; i++)
		buf_putc(b, ' ');
}

static int
index_cmp(const void *x, const void *y, void *ctx)
{
	const struct ynode *map = ctx;
	size_t a = *(const size_t *)x, b = *(const size_t *)y;
	int c = keys_cmp(&map->keys[a], &map->keys[b]);

	return c ? c : (a > b) - (a < b);
}

/* The map's entry indices in key order (owns).  Keys are unique. */
static size_t *
sorted_order(const struct ynode *map)
{
	size_t *ix = xmalloc((map->n ? map->n : 1) * sizeof(*ix));
	size_t i;
	int sorted = 1;

	for (i = 0; i < map->n; i++) {
		ix[i] = i;
		if (i > 0 && keys_cmp(&map->keys[i - 1], &map->keys[i]) > 0)
			sorted = 0;
	}
	if (!sorted)
		qsort_r(ix, map->n, sizeof(*ix), index_cmp, (void *)(uintptr_t)map);
	return ix;
}

static void emit_block(struct buf *b, const struct ynode *n, int indent, int inline_first);

void
yemit_value(struct buf *b, const struct ynode *n, int indent)
{
	if (n->type == YNODE_SCALAR) {
		buf_putc(b, ' ');
		emit_scalar(b, n);
		buf_putc(b, '\n');
	} else if (n->n == 0) {
		buf_puts(b, n->type == YNODE_MAP ? " {}\n" : " []\n");
	} else {
		buf_putc(b, '\n');
		emit_block(b, n, indent, 0);
	}
}

/*
 * libyaml (and so Psych and Puppet) reads an implicit key `k: v` only
 * when k is at most 1024 characters; a longer one is written as an
 * explicit key, `? k` then `: v` on the next line (found by fuzz_ydoc: a
 * long key in a host's params made an ENC document nobody could read).
 * An escaped byte takes at most 4, so keys shorter than this are safe.
 */
#define YAML_MAX_IMPLICIT_KEY 1000
#define SHORT_KEY (YAML_MAX_IMPLICIT_KEY / 4 - 2)

static void
emit_key(struct buf *b, const struct ynode *k, int indent)
{
	struct buf t = BUF_INIT;

	if (k->len < SHORT_KEY) {
		emit_scalar(b, k);
		buf_putc(b, ':');
		return;
	}
	emit_scalar(&t, k);
	if (t.len <= YAML_MAX_IMPLICIT_KEY) {
		buf_append(b, t.data, t.len);
		buf_putc(b, ':');
	} else {
		buf_puts(b, "? ");
		buf_append(b, t.data, t.len);
		buf_putc(b, '\n');
		indent_to(b, indent);
		buf_putc(b, ':');
	}
	buf_dispose(&t);
}

/* A non-empty collection at `indent`; when inline_first, the first line
 * continues a "- " already written. */
static void
emit_block(struct buf *b, const struct ynode *n, int indent, int inline_first)
{
	size_t i;

	if (n->type == YNODE_MAP) {
		size_t *ix = sorted_order(n);

		for (i = 0; i < n->n; i++) {
			if (i > 0 || !inline_first)
				indent_to(b, indent);
			emit_key(b, n->keys[ix[i]], indent);
			yemit_value(b, n->items[ix[i]], indent + 2);
		}
		free(ix);
		return;
	}
	for (i = 0; i < n->n; i++) {
		const struct ynode *it = n->items[i];

		if (i > 0 || !inline_first)
			indent_to(b, indent);
		buf_putc(b, '-');
		if (it->type != YNODE_SCALAR && it->n > 0) {
			buf_putc(b, ' ');
			emit_block(b, it, indent + 2, 1);
		} else {
			yemit_value(b, it, indent + 2);
		}
	}
}

void
json_emit_string(struct buf *b, const char *s, size_t len)
{
	emit_escaped(b, s, len, ESC_JSON);
}

void
json_emit_tf_string(struct buf *b, const char *s, size_t len)
{
	emit_escaped(b, s, len, ESC_TERRAFORM);
}

/*
 * Is s a JSON number as written (no leading zeros, no '+', no '_') that
 * jansson reads back?  It refuses an integer beyond long long and a real
 * that overflows a double (found by fuzz_ydoc: a host param 2222...2
 * made plan_to_json abort), so those are written as strings.
 */
static int
json_number(const char *s)
{
	int real = 0;
	size_t i = 0;

	if (s[i] == '-')
		i++;
	if (s[i] == '0')
		i++;
	else if (s[i] >= '1' && s[i] <= '9')
		while (s[i] >= '0' && s[i] <= '9')
			i++;
	else
		return 0;
	if (s[i] == '.') {
		i++;
		real = 1;
		if (s[i] < '0' || s[i] > '9')
			return 0;
		while (s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (s[i] == 'e' || s[i] == 'E') {
		i++;
		real = 1;
		if (s[i] == '+' || s[i] == '-')
			i++;
		if (s[i] < '0' || s[i] > '9')
			return 0;
		while (s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (s[i] != '\0')
		return 0;
	errno = 0;
	if (real) {
		double d = strtod(s, NULL);

		return !(errno == ERANGE && d != 0);
	}
	(void)strtoll(s, NULL, 10);
	return errno != ERANGE;
}

void
yemit_json(struct buf *b, const struct ynode *n)
{
	size_t i;

	if (n->type == YNODE_SCALAR) {
		switch (ynode_scalar_kind(n)) {
		case YSCALAR_NULL:
			buf_puts(b, "null");
			return;
		case YSCALAR_BOOL:
			buf_puts(b, (n->str[0] == 't' || n->str[0] == 'T' || n->str[0] == 'y' ||
			    n->str[0] == 'Y' || ((n->str[0] == 'o' || n->str[0] == 'O') &&
			    (n->str[1] == 'n' || n->str[1] == 'N'))) ? "true" : "false");
			return;
		case YSCALAR_INT:
		case YSCALAR_FLOAT:
			if (json_number(n->str)) {
				buf_append(b, n->str, n->len);
				return;
			}
			break;
		case YSCALAR_STR:
			break;
		}
		json_emit_string(b, n->str, n->len);
		return;
	}
	if (n->type == YNODE_SEQ) {
		buf_putc(b, '[');
		for (i = 0; i < n->n; i++) {
			if (i)
				buf_putc(b, ',');
			yemit_json(b, n->items[i]);
		}
		buf_putc(b, ']');
		return;
	}
	{
		size_t *ix = sorted_order(n);

		buf_putc(b, '{');
		for (i = 0; i < n->n; i++) {
			if (i)
				buf_putc(b, ',');
			json_emit_string(b, n->keys[ix[i]]->str, n->keys[ix[i]]->len);
			buf_putc(b, ':');
			yemit_json(b, n->items[ix[i]]);
		}
		buf_putc(b, '}');
		free(ix);
	}
}

/* ---- string lists ---- */

void
strlist_push(struct strlist *l, const char *s, int line)
{
	/* Grow at powers of two: n is the count before the push. */
	if ((l->n & (l->n - 1)) == 0) {
		size_t cap = l->n ? l->n * 2 : 2;

		l->v = xrealloc(l->v, cap * sizeof(*l->v));
		l->lines = xrealloc(l->lines, cap * sizeof(*l->lines));
	}
	l->v[l->n] = xstrdup(s);
	l->lines[l->n] = line;
	l->n++;
}

void
strlist_copy(struct strlist *dst, const struct strlist *src)
{
	size_t i;

	memset(dst, 0, sizeof(*dst));
	for (i = 0; i < src->n; i++)
		strlist_push(dst, src->v[i], src->lines ? src->lines[i] : 0);
}

void
strlist_dispose(struct strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->lines);
	memset(l, 0, sizeof(*l));
}
