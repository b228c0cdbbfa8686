/*
 * diff.h - the difference between two artifact sets: per-file unified
 * diffs (libgit2's git_patch_from_buffers, through repo.c) and the
 * semantic changes, each typed <kind>.<action> and naming its artifact
 * and object with the before and after values.
 *
 * Layer: plan (includes renderers, model, git, base).
 */
#ifndef FIREBREAK_DIFF_H
#define FIREBREAK_DIFF_H

#include <stddef.h>

#include "model/artifact.h"
#include "model/policy.h"

enum file_status { FILE_ADDED, FILE_MODIFIED, FILE_DELETED };
const char *file_status_name(enum file_status s);   /* "added", ... */

struct file_diff {
	char *path;               /* owns */
	enum file_status status;
	char *diff;               /* owns; unified diff text */
};

struct change {
	enum change_kind kind;
	enum change_action action;
	char *artifact;           /* owns */
	char *object;             /* owns */
	char *before, *after;     /* owns; compact JSON text, NULL for null */
	char *note;               /* owns; e.g. "ttl 300 -> 60", or NULL */
	enum decision decision;   /* set by the plan */
};

struct diff {
	struct file_diff *files;  size_t nfiles;
	struct change *changes;   size_t nchanges;   /* by kind, artifact, object */
};

/* Compare two sorted sets (base may be empty).  *out owns its contents. */
int diff_build(struct diff **out, const struct artifacts *base,
    const struct artifacts *target);
void diff_free(struct diff *d);

#endif
