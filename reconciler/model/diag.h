/*
 * diag.h - diagnostics: every problem found in the inventory, each with
 * its file, line and column, collected rather than stopping at the first
 * (a person fixes them all in one go); and did-you-mean for names.
 *
 * Layer: model (includes base/ only).  Everything that reads the
 * inventory or the config reports through a struct diags.
 */
#ifndef FIREBREAK_DIAG_H
#define FIREBREAK_DIAG_H

#include <stddef.h>

#include "base/util.h"

struct diag {
	char *file;      /* owns; repository-relative path */
	int line, col;   /* 1-based; 0 when the problem is the whole file */
	char *message;   /* owns */
};

struct diags {
	struct diag *v;  /* owns */
	size_t n, alloc;
};

/* Append one problem; control characters in the message are escaped
 * (\n, \x01), so a value quoted from the repository cannot forge a line. */
void diags_add(struct diags *d, const char *file, int line, int col,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void diags_sort(struct diags *d);      /* by file, line, column, message */
void diags_dispose(struct diags *d);   /* frees what d owns; d is empty after */

/* The closest candidate within edit distance 2, or NULL (borrows). */
const char *did_you_mean(const char *word, const char *const *candidates, size_t n);

#endif
