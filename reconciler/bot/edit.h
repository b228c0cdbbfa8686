/*
 * edit.h - comment-preserving YAML edits (DESIGN.md "Bot commits").
 *
 * The chat bot changes one value in a file people also edit by hand, so
 * the edit must not touch anything else: a scalar is replaced in place, by
 * its byte range from libyaml's marks, and a missing key is added as one
 * new line at the end of its mapping, indented like its siblings (or, in a
 * flow mapping, as one more `key: value` before the closing brace).  Every
 * other byte of the file, comments and layout included, is kept.  The DNS
 * commands add and remove list items the same way (edit_seq_append,
 * edit_seq_remove).  Every edit is parsed again and checked before it is
 * returned.
 *
 * Layer: bot (includes state and below; never controller).
 */
#ifndef FIREBREAK_EDIT_H
#define FIREBREAK_EDIT_H

#include <stddef.h>

#include "base/util.h"

/*
 * Set the scalar at `path` (keys from the root mapping, e.g. {"version"}
 * or {"environments", "staging"}) to `value`.  Missing mappings on the way
 * are created, on new lines with the file's line ending.  The value is
 * written plain when the old one was plain and the new one is
 * version-like text ([0-9A-Za-z][0-9A-Za-z._+~-]*: nothing that can start
 * a comment, a key or a collection); a word YAML reads as null or a
 * boolean (null, ~, yes, true, off, y, ...) is always double-quoted; the
 * rest goes through yemit_string() (plain only when unambiguous, else
 * double-quoted with escapes).  On success *out (owns, NUL-terminated) and
 * *outlen hold the new document, which parses to the old one with that one
 * value changed.  ERR_INVALID (err_last() says why) when the document does
 * not parse, the path runs through something that is not a mapping, or
 * the check fails (the edit does not parse or read back as the value: a
 * shape this editor cannot edit in place, such as an empty value inside a
 * flow mapping), as for edit_seq_append.
 *
 * All three functions work on byte offsets (ydoc converts libyaml's
 * character marks), so any UTF-8 text before or after the edit point is
 * copied through unchanged.
 */
int edit_set_scalar(char **out, size_t *outlen, const char *doc, size_t len,
    const char *const *path, size_t depth, const char *value);

/* One key of a new mapping entry: a scalar `value`, or (value NULL) a flow
 * list of `nvalues` strings.  All pointers borrow. */
struct edit_pair {
	const char *key;
	const char *value;
	const char *const *values;
	size_t nvalues;
};

/*
 * Append a mapping made of `pairs` (in that order) to the end of the
 * sequence at `path` (keys from the root, e.g. {"records"}), in the file's
 * own style: after the last item, as the same kind of item as the existing
 * ones (a flow mapping `- {name: status, type: CNAME, value: x.}` on its own
 * line with the siblings' indentation and dash style; or a block mapping
 * item with its keys indented like the previous item's keys; in a flow
 * sequence `[...]`, `, {...}` after the last item; an empty `[]` becomes
 * `[{...}]`).  A missing key, or a null value (`records:` with nothing),
 * gets a block sequence with one flow-mapping item; missing mappings on the
 * way are created.  Comments after the last item (on its line, or own-line
 * comments below it indented at least like the items) stay with that item:
 * the new item goes after them.  New lines use the file's line ending; a
 * file without a final newline keeps ending without one.
 *
 * Keys and values are written plain only when that reads back as the same
 * string in any YAML reader (no indicators, no ':', no word or number that
 * YAML 1.1 or 1.2 resolves to another type), else double-quoted with
 * escapes.  The result is re-parsed and checked: it must parse, the
 * sequence must have one more item, that item must read back as `pairs`
 * (every value a string), and everything else must be unchanged.
 *
 * On success *out (owns, NUL-terminated) and *outlen hold the new document.
 * ERR_INVALID (err_last() says why) when the document does not parse,
 * something on the path is not a mapping, the target is not a sequence,
 * or the check fails.
 */
int edit_seq_append(char **out, size_t *outlen, const char *doc, size_t len,
    const char *const *path, size_t depth, const struct edit_pair *pairs, size_t npairs);

/*
 * Remove item `index` (0-based) of the sequence at `path`.  In a block
 * sequence its whole lines go: from the start of the line of its `-`
 * through the end of the line of its last byte (a comment on those lines
 * goes with it; own-line comments above and below it stay).  In a flow
 * sequence the item and one adjoining comma (the one after it, else the one
 * before it) go, with the blanks after that comma.  If that leaves a block
 * sequence empty, ` []` is written after the key's colon, so the key still
 * reads as an empty list.  Re-parsed and checked: one item fewer, everything
 * else unchanged.  On success *out (owns) and *outlen hold the new document.
 * ERR_NOTFOUND when index is out of range (a missing or null key is an
 * empty list); ERR_INVALID when the document does not parse, something on
 * the path is not a mapping, the target is not a sequence, or the check
 * fails.
 */
int edit_seq_remove(char **out, size_t *outlen, const char *doc, size_t len,
    const char *const *path, size_t depth, size_t index);

#endif
