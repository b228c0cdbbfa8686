/*
 * inventory.h - load a commit's inventory (schema v1) into a model,
 * reporting every problem with file:line:column.
 *
 * The loader is fed files one by one (from git objects by
 * inventory_load(), or from memory by tests), then finished: only a
 * commit with no problem at all yields a model.
 *
 * Layer: model (includes git, base).
 */
#ifndef FIREBREAK_INVENTORY_H
#define FIREBREAK_INVENTORY_H

#include <stddef.h>

#include "model/model.h"
#include "model/validate.h"

struct repo;
struct loader;

#define INVENTORY_MAX_FILE (1u << 20)   /* bytes per YAML file */

struct loader *loader_new(void);
/*
 * Reuse entities of `base` (borrowed; hosts become shared with it, see
 * host_share) whose file has the same blob id: loader_reuse() then copies them instead of
 * parsing, and marks them reused so renderers can reuse their output.
 */
void loader_set_base(struct loader *l, struct model *base);
/* Returns 1 when the file at `path` with blob `oid` was taken from the
 * base (do not offer it again), 0 when it must be read and offered. */
int loader_reuse(struct loader *l, const char *path, const unsigned char *oid);
/* The blob id of the next file offered (copied), for reuse next time. */
void loader_set_oid(struct loader *l, const unsigned char *oid);

/* Offer one file by its repository path; files outside the schema's
 * directories are ignored.  data NULL with len > 0: too big to read. */
void loader_add(struct loader *l, const char *path, const char *data, size_t len);
/* Offer a non-file entry (a directory, a submodule) at `path`. */
void loader_add_other(struct loader *l, const char *path);
/*
 * Finish: cross-file checks, then either *out = the model (owns) and OK,
 * or *out = NULL, problems appended to `d` (sorted) and ERR_INVALID.
 * The loader is freed either way.
 */
int loader_finish(struct loader *l, struct model **out, struct diags *d);

/* Load the inventory of commit `sha` (a full sha) from git objects.
 * ERR_INVALID with `d` filled, or an environment error in err_last(). */
int inventory_load(struct model **out, struct diags *d, struct repo *r, const char *sha);
/* The same, reusing what did not change since `base` (may be NULL). */
int inventory_load_from(struct model **out, struct diags *d, struct repo *r, const char *sha,
    struct model *base);

#endif
