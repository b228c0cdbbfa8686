/*
 * registry.c - the one table of renderers, and render_all().  Adding a
 * renderer is one file exporting a `struct renderer` and one line here;
 * these extern declarations are the only place the core names a backend.
 */
#include <string.h>

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

struct artifact *
render_reuse(struct artifacts *out, const struct render_prev *prev, const char *path,
    size_t *hint)
{
	struct artifact *old = NULL;
	size_t i;

	if (!prev || !prev->art)
		return NULL;
	if (hint && *hint < prev->art->n && strcmp(prev->art->v[*hint].path, path) == 0) {
		old = &prev->art->v[*hint];
	} else {
		const struct artifact *found = artifacts_find(prev->art, path);

		if (!found)
			return NULL;
		i = (size_t)(found - prev->art->v);
		old = &prev->art->v[i];
	}
	if (hint)
		*hint = (size_t)(old - prev->art->v) + 1;
	return artifact_share(out, old);
}

int
render_all(struct artifacts *out, const struct model *in, const struct render_prev *prev)
{
	const struct renderer *const *r;
	int rc = OK;

	for (r = renderer_registry; *r; r++) {
		ASSERT((*r)->abi == RENDERER_ABI && (*r)->render);
		if ((rc = (*r)->render(out, in, prev)) != OK)
			goto done;
	}
	rc = artifacts_sort(out);
done:
	return rc;
}
