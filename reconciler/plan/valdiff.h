/*
 * valdiff.h - what changed between two values of a plan's change (its
 * "before" and "after", JSON), path by path: the difference a person
 * reads, where the plan JSON holds two whole documents.
 *
 *   {"classes": [a, b], "parameters": {"backends": [w1, w2], "maxconn": 2000}}
 *   {"classes": [a, b, nginx], "parameters": {"backends": [w1], "maxconn": 4000}}
 * gives
 *   + classes: nginx
 *   - parameters.backends: w2
 *   ~ parameters.maxconn: 2000 -> 4000
 * (in the order of the paths, keys sorted byte-wise).
 *
 * Objects are compared key by key (keys in byte order); arrays element by
 * element along their longest common subsequence, so a removed or added
 * element is named and a reordering shows as one; a value on one side
 * only is listed leaf by leaf (an added ENC document is its classes and
 * parameters, one a line).  A scalar element of an array is listed under
 * the array's path ("classes: + nginx"); an object element under its
 * index in its array ("records[2].ttl").  A top-level null is "absent"
 * (the plan's "before" of an add); a null inside a value is a value.
 *
 * Presentation only: the plan JSON (DESIGN.md "Plans") is unchanged; the
 * plan page shows this instead of two one-line documents.  Pure: no I/O.
 *
 * Layer: plan (includes renderers, model, git, base).
 */
#ifndef FIREBREAK_VALDIFF_H
#define FIREBREAK_VALDIFF_H

#include <jansson.h>
#include <stddef.h>

#define VALDIFF_PATH_MAX 400     /* bytes of a path kept; longer ends in "..." */
#define VALDIFF_TEXT_MAX 4096    /* bytes of a value's text kept; longer ends in "..." */
#define VALDIFF_LCS_MAX 250000   /* cells of an array's LCS table; bigger arrays go by index */

enum valdiff_op {
	VALDIFF_ADD,      /* only in after: `after` is set */
	VALDIFF_DEL,      /* only in before: `before` is set */
	VALDIFF_SET       /* changed in place: both are set */
};

struct valdiff_entry {
	enum valdiff_op op;
	char *path;       /* owns; "" for the value itself, "parameters.backends",
	                   * "records[2].ttl", "params[\"a.b\"]" */
	char *before;     /* owns, or NULL: the value as text (valdiff_text) */
	char *after;      /* owns, or NULL */
	int cut;          /* a value's text was cut at VALDIFF_TEXT_MAX */
};

struct valdiff {
	struct valdiff_entry *v;
	size_t n;
	size_t omitted;   /* entries past `max`, counted but not kept */
};
#define VALDIFF_INIT { NULL, 0, 0 }

/*
 * The difference from `before` to `after` (either NULL or JSON null:
 * absent), at most `max` entries kept in *out (the rest counted in
 * out->omitted).  *out must be VALDIFF_INIT or disposed; it owns what it
 * gets.  Equal values give no entries.  Never fails.  `before` and
 * `after` are borrowed and not changed (jansson walks objects through
 * non-const pointers).
 */
void valdiff_build(struct valdiff *out, json_t *before, json_t *after, size_t max);
void valdiff_dispose(struct valdiff *d);

/*
 * A value as a person reads it (owns): a string bare when it cannot be
 * mistaken for anything else (not empty, no control character, no
 * leading or trailing blank, not a number, true, false or null, not
 * starting with a quote or bracket), else compact JSON; other values as
 * compact JSON.
 */
char *valdiff_text(const json_t *v);

#endif
