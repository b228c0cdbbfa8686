/*
 * artifact.h - a rendered artifact set: {path -> bytes}, plus, for each
 * artifact, the semantic objects it carries (a node's classification, a DNS
 * record set, a version pin), so the diff can name what changed without
 * parsing its own output back.
 *
 * Paths are relative ("enc/web-01.example.com.yaml"), made only from names
 * that passed the strict validators.  After artifacts_sort() the set is
 * ordered by path and lookups are binary searches.
 *
 * Layer: model (includes git, base).
 */
#ifndef FIREBREAK_ARTIFACT_H
#define FIREBREAK_ARTIFACT_H

#include <stddef.h>

#include "base/util.h"

/* Change kinds, in the order plans list them. */
enum change_kind { KIND_ENC, KIND_DNS, KIND_PIN, KIND_POLICY, KIND__COUNT };
const char *kind_name(enum change_kind k);            /* "enc", "dns", ... */
int kind_parse(enum change_kind *out, const char *s); /* OK or ERR_INVALID */

struct artifact_object {
	char *name;     /* owns; e.g. "web-01.example.com", "www.example.com/A" */
	char *value;    /* owns; canonical compact JSON of the object's content,
	                 * or NULL: the artifact's whole content, a YAML document
	                 * (artifact_object_json() converts it) */
	char *extra;    /* owns; NULL or a short note that also counts for equality
	                 * but is not part of before/after, e.g. "ttl 300" */
};

struct artifact {
	char *path;                  /* owns */
	char *data;                  /* owns; the file's bytes */
	size_t len;
	enum change_kind kind;
	struct artifact_object *objs;   /* owns; sorted by name after artifacts_sort() */
	size_t nobjs, aobjs;
	unsigned *refs;              /* NULL: owned alone; else shared, see artifact_share() */
};

struct artifacts {
	struct artifact *v;
	size_t n, alloc;
};

/*
 * Add an artifact; steals `path` and `data` (both from xmalloc).  Returns a
 * borrowed pointer to the new entry so the caller can add objects; it is
 * valid until the next artifacts_add().
 */
struct artifact *artifacts_add(struct artifacts *set, char *path, char *data,
    size_t len, enum change_kind kind);
/* Add a semantic object; steals name and value. */
void artifact_add_object(struct artifact *a, char *name, char *value);
/* The same, with an `extra` note (stolen too; may be NULL). */
void artifact_add_object_extra(struct artifact *a, char *name, char *value, char *extra);

/*
 * Add an artifact that shares `src`'s storage (path, bytes, objects):
 * artifacts are immutable once sorted, so a snapshot can reuse what an
 * earlier one rendered without copying it.  The storage is freed when the
 * last artifact sharing it is disposed.  Returns the new entry (borrowed).
 */
struct artifact *artifact_share(struct artifacts *set, struct artifact *src);

/*
 * The object's value as compact JSON (owns): a copy of `value`, or the
 * artifact's YAML document converted.  NULL if that document does not
 * parse, which cannot happen for what firebreak rendered.
 */
char *artifact_object_json(const struct artifact *a, size_t i);

/* Sort by path (and each artifact's objects by name). Returns ERR_CONFLICT
 * with the path in err_last() when two artifacts share a path. */
int artifacts_sort(struct artifacts *set);
/* Binary search after sort; borrows; NULL when absent. */
const struct artifact *artifacts_find(const struct artifacts *set, const char *path);
void artifacts_dispose(struct artifacts *set);

#endif
