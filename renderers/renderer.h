/*
 * renderer.h - what every renderer is: a pure function from a validated
 * model to artifacts.  No I/O, no globals, no clock: the same model gives
 * byte-identical output (sorted keys, stable order, LF, final newline).
 *
 * Adding a renderer is one new file exporting one `struct renderer` and
 * one line in renderers/registry.c; the core never names a renderer.
 *
 * Layer: renderers (includes model and base only: a renderer is a pure
 * function over the model, no I/O).
 */
#ifndef FIREBREAK_RENDERER_H
#define FIREBREAK_RENDERER_H

#include "model/artifact.h"
#include "model/model.h"

#define RENDERER_ABI 2

/*
 * What was rendered before: the base model and its artifacts.  Entities
 * the loader marked reused (same blob as in this base) let a renderer copy
 * its earlier output instead of rendering it again, when nothing else the
 * output depends on changed; the result is byte-identical either way.
 */
struct render_prev {
	const struct model *model;      /* borrowed */
	struct artifacts *art;          /* borrowed; sorted; its artifacts' storage
	                                 * may become shared (artifact_share) */
};

struct renderer {
	unsigned abi;          /* RENDERER_ABI */
	const char *name;      /* "puppet_enc", "route53", "pins" */
	/* Adds this renderer's artifacts to `out`.  Returns OK, or a negative
	 * code with err_last() set (the model was validated, so failure means
	 * a limit was hit, not bad input).  `prev` may be NULL. */
	int (*render)(struct artifacts *out, const struct model *in,
	    const struct render_prev *prev);
};

extern const struct renderer *const renderer_registry[];  /* NULL-terminated */

/* Run every registered renderer, then artifacts_sort().  `prev` may be NULL. */
int render_all(struct artifacts *out, const struct model *in, const struct render_prev *prev);

/* Share prev's artifact at `path` (and its objects) into out; NULL when
 * prev has none.  For renderers reusing unchanged output.  `hint` (may be
 * NULL) is a cursor into prev's sorted set: a renderer that asks in path
 * order finds each artifact where the last one ended, without a search. */
struct artifact *render_reuse(struct artifacts *out, const struct render_prev *prev,
    const char *path, size_t *hint);

#endif
