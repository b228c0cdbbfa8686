/*
 * validate.h - diagnostics (every problem, each with file:line:column),
 * did-you-mean, and the cross-file checks.  The name patterns are in
 * names.h.
 */
#ifndef FIREBREAK_VALIDATE_H
#define FIREBREAK_VALIDATE_H

#include <stddef.h>

#include "names.h"
#include "util.h"

struct model;

struct diag {
	char *file;      /* owns; repository-relative path */
	int line, col;   /* 1-based; 0 when the problem is the whole file */
	char *message;   /* owns */
};

struct diags {
	struct diag *v;
	size_t n, alloc;
};

void diags_add(struct diags *d, const char *file, int line, int col,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void diags_sort(struct diags *d);      /* by file, line, column, message */
void diags_dispose(struct diags *d);

/* The closest candidate within edit distance 2, or NULL (borrows). */
const char *did_you_mean(const char *word, const char *const *candidates, size_t n);

/*
 * Cross-file checks over a model whose files each parsed: roles that
 * exist, IPs used once among active hosts, DNS names that do not collide
 * (a CNAME beside another record of the same name).  Appends to `d`.
 */
void validate_model(struct diags *d, const struct model *m);

/*
 * The same, for a model loaded against `base` (valid, or NULL): when only
 * a few hosts changed and the roles and zones did not, only what those
 * hosts bring is checked; any doubt runs validate_model(), so `d` gets
 * exactly what validate_model() would add.
 */
void validate_model_from(struct diags *d, const struct model *m, const struct model *base);

#endif
