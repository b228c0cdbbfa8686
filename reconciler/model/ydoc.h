/*
 * ydoc.h - a YAML document as a small tree of nodes that remember where
 * they came from (line and column, 1-based), built with libyaml's parser.
 *
 * Everything read from the inventory repository is hostile, so the parser
 * is bounded: a size limit on the input, a depth limit, a node-count limit,
 * exactly one document, no aliases (no billion laughs), no tags, no
 * duplicate keys, UTF-8 only.  Scalars keep their source text and whether
 * they were plain or quoted: a plain `8` is an integer to Puppet, a quoted
 * "8" a string, and re-emitting the same style keeps that meaning.
 *
 * Positions: every line:col this module gives (in nodes and in errors)
 * counts lines from 1 and columns in characters (UTF-8 code points) from
 * 1, as editors show them; a leading byte order mark is not a column.
 * Byte offsets (ynode.start/end) are bytes into the input, BOM included.
 *
 * Layer: model (includes git, base).
 */
#ifndef FIREBREAK_YDOC_H
#define FIREBREAK_YDOC_H

#include <stddef.h>

#include "base/util.h"

enum ynode_type { YNODE_SCALAR, YNODE_SEQ, YNODE_MAP };

/* How a plain scalar resolves (YAML 1.1 core types, as Ruby's Psych reads them). */
enum yscalar_kind { YSCALAR_STR, YSCALAR_NULL, YSCALAR_BOOL, YSCALAR_INT, YSCALAR_FLOAT };

struct ynode {
	enum ynode_type type;
	int line, col;            /* of the node's first character, 1-based; col
	                           * counts characters (code points), as an
	                           * editor shows them, not bytes */
	size_t start, end;        /* byte range of the node in the source: bytes,
	                           * not libyaml's character index */
	/* scalar */
	char *str;                /* owns; decoded value */
	size_t len;
	int quoted;               /* 1 if written '...', "..." or as a block scalar */
	/* sequence: items; map: keys[i] -> items[i], in source order */
	struct ynode **items;     /* owns */
	struct ynode **keys;      /* owns (maps only) */
	size_t n;
};

struct ydoc_limits {
	size_t max_bytes;         /* input size */
	unsigned max_depth;
	size_t max_nodes;
};
extern const struct ydoc_limits YDOC_DEFAULT_LIMITS;  /* 1 MiB, depth 32, 100k nodes */

/*
 * Parse `len` bytes.  On success *out is the root node (owns; a document
 * that is empty or only comments gives an empty map).  On failure *out is
 * NULL, the return is ERR_INVALID or ERR_TOOBIG, and *line / *col / the
 * err_last() message say where and what (the message names no file: the
 * caller knows it).
 */
int ydoc_parse(struct ynode **out, const char *data, size_t len,
    const struct ydoc_limits *lim, int *line, int *col);
void ynode_free(struct ynode *n);

/* Map lookup by key; borrows.  NULL when absent or n is not a map. */
struct ynode *ynode_get(const struct ynode *map, const char *key);

/*
 * A configuration block's key check: the first key of mapping `map` that
 * is neither "type" nor in one of the NULL-terminated lists `known` and
 * `more` (either may be NULL), or NULL when every key is known.  The caller words the
 * error (each block names itself its own way); ynode_keys_join() lists
 * `first` and then the known keys for it, ", "-separated.
 */
const struct ynode *ynode_unknown_key(const struct ynode *map, const char *const *known,
    const char *const *more);
void ynode_keys_join(struct buf *b, const char *first, const char *const *known);

/* How a scalar resolves; quoted scalars are always strings. */
enum yscalar_kind ynode_scalar_kind(const struct ynode *n);
const char *ynode_type_name(const struct ynode *n);   /* "a string", "a list", ... */

/* A deep copy (owns). */
struct ynode *ynode_dup(const struct ynode *n);
/* A new scalar (owns); quoted = 1 forces a string. */
struct ynode *ynode_new_scalar(const char *s, int quoted);
/* Deep structural equality (style-aware for scalars via their resolved kind). */
int ynode_equal(const struct ynode *a, const struct ynode *b);

/*
 * Emit a value as YAML in block style at the given indent, keys sorted
 * bytewise, with a trailing newline.  Scalars that are safe plain keep
 * their plain form; everything else is double-quoted with escapes.
 * `n` as a map/seq value is written after "key:" by the caller; this
 * writes " value\n" for scalars and empty collections, or "\n" and the
 * nested block otherwise.
 */
void yemit_value(struct buf *b, const struct ynode *n, int indent);
/* A YAML double-quoted string (always safe for any bytes). */
void yemit_quoted(struct buf *b, const char *s, size_t len);
/* A key or string scalar: plain when unambiguous, else double-quoted. */
void yemit_string(struct buf *b, const char *s, size_t len);

/* Emit a value as compact JSON (keys sorted), for plans. */
void yemit_json(struct buf *b, const struct ynode *n);
/* A JSON string literal with escapes. */
void json_emit_string(struct buf *b, const char *s, size_t len);
/* The same, also doubling Terraform's template sequences ("${" -> "$${",
 * "%{" -> "%%{") so a value in Terraform JSON is never interpolated. */
void json_emit_tf_string(struct buf *b, const char *s, size_t len);

/*
 * A list of strings read from a YAML sequence, each with the line it came
 * from (for messages).  strlist_push copies s; strlist_dispose frees what
 * the list owns and leaves it empty.
 */
struct strlist {
	char **v;       /* owns each string */
	int *lines;     /* owns; the source line of each, for messages */
	size_t n;
};
void strlist_push(struct strlist *l, const char *s, int line);
void strlist_copy(struct strlist *dst, const struct strlist *src);
void strlist_dispose(struct strlist *l);

#endif
