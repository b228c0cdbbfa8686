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

struct ynode;

/* A problem at node `n` of a YAML file (its line and column; 0 0 when
 * n is NULL). */
void diags_at(struct diags *d, const char *file, const struct ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Each key of mapping `map` not among keys[0..n) is a problem at that key:
 * "unknown key 'K' in WHAT (did you mean 'X'?)", the hint when one is near. */
void diags_unknown_keys(struct diags *d, const char *file, const struct ynode *map,
    const char *const *keys, size_t n, const char *what);

#endif
