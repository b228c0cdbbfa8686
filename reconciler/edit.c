/*
 * edit.c - see edit.h.
 */
#include "edit.h"

#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "ydoc.h"

/* The text a value is written as. */
static void
value_text(struct buf *b, const char *value, int plain_ok)
{
	/* A version stays plain where it was plain: firebreak reads versions
	 * as their source text, and people write them that way. */
	if (plain_ok && valid_version(value))
		buf_puts(b, value);
	else
		yemit_string(b, value, strlen(value));
}

/* The byte just after the line holding the last byte of node `n`. */
static size_t
end_of_last_line(const struct ynode *n, const char *doc, size_t len)
{
	size_t p;

	while (n->type != YNODE_SCALAR && n->n > 0)
		n = n->items[n->n - 1];
	p = n->end;
	while (p < len && doc[p] != '\n')
		p++;
	return p < len ? p + 1 : len;
}

/* Lines "key: value" for path[i..depth) at `indent`, nested by two. */
static void
new_lines(struct buf *b, int indent, const char *const *path, size_t i, size_t depth,
    const char *value)
{
	size_t j;
	int k;

	for (j = i; j < depth; j++) {
		for (k = 0; k < indent + 2 * (int)(j - i); k++)
			buf_putc(b, ' ');
		yemit_string(b, path[j], strlen(path[j]));
		buf_putc(b, ':');
		if (j + 1 == depth) {
			buf_putc(b, ' ');
			value_text(b, value, 1);
		}
		buf_putc(b, '\n');
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
	buf_append(out, doc, from);
	buf_append(out, text, tlen);
	buf_append(out, doc + to, len - to);
}

int
edit_set_scalar(char **out, size_t *outlen, const char *doc, size_t len,
    const char *const *path, size_t depth, const char *value)
{
	struct ynode *root = NULL, *node, *child, *check = NULL;
	struct buf text = BUF_INIT, res = BUF_INIT;
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
			 * goes right there, indented under its key. */
			buf_putc(&text, '\n');
			new_lines(&text, node->keys[0]->col - 1 + 2, path, i + 1, depth, value);
			at = child->start;
			while (at < len && doc[at] != '\n')
				at++;
			splice(&res, doc, len, child->start, at < len ? at + 1 : len, text.data,
			    text.len);
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
				buf_putc(&text, '\n');
			new_lines(&text, indent, path, i, depth, value);
			splice(&res, doc, len, at, at, text.data, text.len);
		}
		goto verify;
	}
	/* The value is there: replace its bytes. */
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
	splice(&res, doc, len, node->start, node->end, text.data, text.len);
verify:
	/* What we wrote must read back as exactly that value. */
	if (ydoc_parse(&check, res.data, res.len, NULL, &line, &col) != OK) {
		rc = err_set(ERR, "the edit does not parse (%d:%d: %s)", line, col, err_last());
		goto done;
	}
	node = check;
	for (i = 0; i < depth && node; i++)
		node = ynode_get(node, path[i]);
	if (!node || node->type != YNODE_SCALAR || strcmp(node->str, value) != 0) {
		rc = err_set(ERR, "the edit does not read back as the value");
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
