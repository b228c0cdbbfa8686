/*
 * diag.c - diagnostics and did-you-mean.  See diag.h.
 */
#include "model/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/ydoc.h"

static void
diags_vadd(struct diags *d, const char *file, int line, int col, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

static void
diags_vadd(struct diags *d, const char *file, int line, int col, const char *fmt, va_list ap)
{
	struct diag *g;
	char msg[512];

	struct buf clean = BUF_INIT;
	size_t i;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* Messages quote values from the repository: a newline in one must
	 * not start a line that reads like another diagnostic. */
	for (i = 0; msg[i]; i++) {
		unsigned char c = (unsigned char)msg[i];

		if (c == '\n')
			buf_puts(&clean, "\\n");
		else if (c == '\r')
			buf_puts(&clean, "\\r");
		else if (c < 0x20 || c == 0x7f)
			buf_printf(&clean, "\\x%02x", c);
		else
			buf_putc(&clean, (char)c);
	}
	if (d->n == d->alloc) {
		d->alloc = d->alloc ? d->alloc * 2 : 16;
		d->v = xrealloc(d->v, d->alloc * sizeof(*d->v));
	}
	g = &d->v[d->n++];
	g->file = xstrdup(file);
	g->line = line;
	g->col = col;
	g->message = buf_steal(&clean);
}

void
diags_add(struct diags *d, const char *file, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diags_vadd(d, file, line, col, fmt, ap);
	va_end(ap);
}

void
diags_at(struct diags *d, const char *file, const struct ynode *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diags_vadd(d, file, n ? n->line : 0, n ? n->col : 0, fmt, ap);
	va_end(ap);
}

void
diags_unknown_keys(struct diags *d, const char *file, const struct ynode *map,
    const char *const *keys, size_t n, const char *what)
{
	size_t i, j;

	for (i = 0; map && map->type == YNODE_MAP && i < map->n; i++) {
		const char *k = map->keys[i]->str, *hint;

		for (j = 0; j < n && strcmp(k, keys[j]) != 0; j++)
			;
		if (j < n)
			continue;
		hint = did_you_mean(k, keys, n);
		diags_at(d, file, map->keys[i], "unknown key '%s' in %s%s%s%s", k, what,
		    hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
	}
}

static int
diag_cmp(const void *x, const void *y)
{
	const struct diag *a = x, *b = y;
	int c = strcmp(a->file, b->file);

	if (c)
		return c;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return strcmp(a->message, b->message);
}

void
diags_sort(struct diags *d)
{
	if (d->n > 1)
		xqsort(d->v, d->n, sizeof(*d->v), diag_cmp);
}

void
diags_dispose(struct diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].message);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

/* Levenshtein distance, capped: the words here are short keys. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[65], prev;

	if (la > 64 || lb > 64)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t best = prev + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

const char *
did_you_mean(const char *word, const char *const *candidates, size_t n)
{
	const char *best = NULL;
	size_t i, bestd = 3;

	for (i = 0; i < n; i++) {
		size_t d = edit_distance(word, candidates[i]);

		if (d < bestd) {
			bestd = d;
			best = candidates[i];
		}
	}
	return best;
}
