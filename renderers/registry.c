/*
 * registry.c - the one table of renderers, and render_all().  Adding a
 * renderer is one file exporting a `struct renderer` and one line here;
 * these extern declarations are the only place the core names a backend.
 */
#include "renderer.h"

extern const struct renderer renderer_puppet_enc;
extern const struct renderer renderer_route53;
extern const struct renderer renderer_pins;

const struct renderer *const renderer_registry[] = {
	&renderer_puppet_enc,
	&renderer_route53,
	&renderer_pins,
	NULL,
};

int
render_all(struct artifacts *out, const struct model *in)
{
	const struct renderer *const *r;
	int rc = OK;

	for (r = renderer_registry; *r; r++) {
		ASSERT((*r)->abi == RENDERER_ABI && (*r)->render);
		if ((rc = (*r)->render(out, in)) != OK)
			goto done;
	}
	rc = artifacts_sort(out);
done:
	return rc;
}
