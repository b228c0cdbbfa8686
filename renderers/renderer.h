/*
 * renderer.h - what every renderer is: a pure function from a validated
 * model to artifacts.  No I/O, no globals, no clock: the same model gives
 * byte-identical output (sorted keys, stable order, LF, final newline).
 *
 * Adding a renderer is one new file exporting one `struct renderer` and
 * one line in renderers/registry.c; the core never names a renderer.
 */
#ifndef FIREBREAK_RENDERER_H
#define FIREBREAK_RENDERER_H

#include "../reconciler/artifact.h"
#include "../reconciler/model.h"

#define RENDERER_ABI 1

struct renderer {
	unsigned abi;          /* RENDERER_ABI */
	const char *name;      /* "puppet_enc", "route53", "pins" */
	/* Adds this renderer's artifacts to `out`.  Returns OK, or a negative
	 * code with err_last() set (the model was validated, so failure means
	 * a limit was hit, not bad input). */
	int (*render)(struct artifacts *out, const struct model *in);
};

extern const struct renderer *const renderer_registry[];  /* NULL-terminated */

/* Run every registered renderer, then artifacts_sort(). */
int render_all(struct artifacts *out, const struct model *in);

#endif
