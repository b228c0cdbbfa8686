/*
 * edit.h - comment-preserving YAML edits (DESIGN.md "Bot commits").
 *
 * The chat bot changes one value in a file people also edit by hand, so
 * the edit must not touch anything else: a scalar is replaced in place, by
 * its byte range from libyaml's marks, and a missing key is added as one
 * new line at the end of its mapping, indented like its siblings (or, in a
 * flow mapping, as one more `key: value` before the closing brace).  Every
 * other byte of the file, comments and layout included, is kept.
 */
#ifndef FIREBREAK_EDIT_H
#define FIREBREAK_EDIT_H

#include <stddef.h>

#include "util.h"

/*
 * Set the scalar at `path` (keys from the root mapping, e.g. {"version"}
 * or {"environments", "staging"}) to `value`.  Missing mappings on the way
 * are created.  The value is written plain when the old one was plain and
 * the new one reads back as the same string, else double-quoted.  On
 * success *out (owns, NUL-terminated) and *outlen hold the new document,
 * which parses to the old one with that one value changed.  ERR_INVALID
 * (err_last() says why) when the document does not parse, or the path
 * runs through something that is not a mapping.
 */
int edit_set_scalar(char **out, size_t *outlen, const char *doc, size_t len,
    const char *const *path, size_t depth, const char *value);

#endif
