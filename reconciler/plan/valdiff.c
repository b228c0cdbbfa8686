/*
 * valdiff.c - the path-wise difference of two JSON values.  See valdiff.h.
 *
 * The walk is recursive over the values (jansson's parser bounds their
 * depth); the path being walked is one growing buffer, cut back on the
 * way out.  An array's elements are compared along their longest common
 * subsequence: a table of at most VALDIFF_LCS_MAX cells (beyond it,
 * elements go index by index), each cell one compare of two digests, the
 * digests computed once an element, so a plan page with big arrays of
 * big objects costs no more than reading them.
 */
#include "plan/valdiff.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"
#include "base/util.h"

struct walk {
	struct valdiff *out;
	size_t max;
	struct buf path;
};

/* ---- text ---- */

/* Does s read as JSON number?  (-?digits[.digits][e[+-]digits]) */
static int
looks_numeric(const char *s)
{
	const char *p = s;

	if (*p == '-' || *p == '+')
		p++;
	if (!(*p >= '0' && *p <= '9') && !(*p == '.' && p[1] >= '0' && p[1] <= '9'))
		return 0;
	p += strspn(p, "0123456789");
	if (*p == '.')
		p += 1 + strspn(p + 1, "0123456789");
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return 0;
		p += strspn(p, "0123456789");
	}
	return *p == '\0';
}

static int
plain_string(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] == ' ' || s[n - 1] == ' ' || strchr("\"'[{", s[0]) || strlen(s) != n)
		return 0;
	if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0 || strcmp(s, "null") == 0 ||
	    looks_numeric(s))
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

char *
valdiff_text(const json_t *v)
{
	char *s;

	if (json_is_string(v) && plain_string(json_string_value(v), json_string_length(v)))
		return xstrdup(json_string_value(v));
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	return s ? s : xstrdup("?");
}

/* At most `max` bytes of whole characters of s (owned, freed), "..." after
 * a cut. */
static char *
capped(char *s, size_t max, int *cut)
{
	size_t n = strlen(s);
	char *r;

	if (n <= max)
		return s;
	n = (size_t)utf8_prefix(s, max);
	r = xmalloc(n + 4);
	memcpy(r, s, n);
	memcpy(r + n, "...", 4);
	free(s);
	if (cut)
		*cut = 1;
	return r;
}

/* ---- the path ---- */

static int
bare_key(const char *k)
{
	size_t n = strlen(k);

	return n > 0 && strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_:-") == n;
}

static size_t
push_key(struct walk *w, const char *k)
{
	size_t old = w->path.len;

	if (bare_key(k)) {
		if (old)
			buf_putc(&w->path, '.');
		buf_puts(&w->path, k);
	} else {
		json_t *j = json_string(k);
		char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;

		buf_printf(&w->path, "[%s]", q ? q : "?");
		free(q);
		json_decref(j);
	}
	return old;
}

static size_t
push_index(struct walk *w, size_t i)
{
	size_t old = w->path.len;

	buf_printf(&w->path, "[%zu]", i);
	return old;
}

static void
pop(struct walk *w, size_t old)
{
	w->path.len = old;
	if (w->path.data)
		w->path.data[old] = '\0';
}

/* ---- entries ---- */

static void
emit(struct walk *w, enum valdiff_op op, const json_t *before, const json_t *after)
{
	struct valdiff *d = w->out;
	struct valdiff_entry *e;

	if (d->n >= w->max) {
		d->omitted++;
		return;
	}
	d->v = xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
	e = &d->v[d->n++];
	memset(e, 0, sizeof(*e));
	e->op = op;
	e->path = capped(xstrdup(w->path.data ? w->path.data : ""), VALDIFF_PATH_MAX, NULL);
	if (before)
		e->before = capped(valdiff_text(before), VALDIFF_TEXT_MAX, &e->cut);
	if (after)
		e->after = capped(valdiff_text(after), VALDIFF_TEXT_MAX, &e->cut);
}

static int
container(json_t *v)
{
	return (json_is_object(v) && json_object_size(v) > 0) ||
	    (json_is_array(v) && json_array_size(v) > 0);
}

/* An object's keys, sorted (owns the array; the keys are borrowed). */
static const char **
sorted_keys(json_t *o, size_t *n)
{
	const char **k = xmalloc((json_object_size(o) + 1) * sizeof(*k));
	const char *key;
	json_t *v;

	*n = 0;
	json_object_foreach(o, key, v)
		k[(*n)++] = key;
	xqsort(k, *n, sizeof(*k), str_cmp_ptr);
	return k;
}

/* A value on one side only, leaf by leaf. */
static void
one_side(struct walk *w, enum valdiff_op op, json_t *v)
{
	size_t i, n, old;

	if (json_is_object(v) && json_object_size(v) > 0) {
		const char **k = sorted_keys(v, &n);

		for (i = 0; i < n; i++) {
			old = push_key(w, k[i]);
			one_side(w, op, json_object_get(v, k[i]));
			pop(w, old);
		}
		free(k);
		return;
	}
	if (json_is_array(v) && json_array_size(v) > 0) {
		for (i = 0; i < json_array_size(v); i++) {
			json_t *e = json_array_get(v, i);

			if (container(e)) {
				old = push_index(w, i);
				one_side(w, op, e);
				pop(w, old);
			} else {
				one_side(w, op, e);
			}
		}
		return;
	}
	emit(w, op, op == VALDIFF_DEL ? v : NULL, op == VALDIFF_ADD ? v : NULL);
}

static void walk_values(struct walk *w, json_t *b, json_t *a);

/* An element of an array on one side only: a scalar under the array's
 * path, anything else under its index. */
static void
one_element(struct walk *w, enum valdiff_op op, json_t *e, size_t i)
{
	size_t old;

	if (!container(e)) {
		one_side(w, op, e);
		return;
	}
	old = push_index(w, i);
	one_side(w, op, e);
	pop(w, old);
}

/*
 * The elements between two matched ones: b[bi..bj) went, a[ai..aj) came.
 * Objects (or arrays) at the same rank of the two runs are one element
 * changed (a record's ttl), walked under the after side's index; the
 * rest are removed or added.
 */
static void
run(struct walk *w, json_t *b, size_t bi, size_t bj, json_t *a, size_t ai,
    size_t aj)
{
	while (bi < bj && ai < aj) {
		json_t *x = json_array_get(b, bi), *y = json_array_get(a, ai);
		size_t old;

		if (!((json_is_object(x) && json_is_object(y)) || (json_is_array(x) &&
		    json_is_array(y))))
			break;
		old = push_index(w, ai);
		walk_values(w, x, y);
		pop(w, old);
		bi++;
		ai++;
	}
	for (; bi < bj; bi++)
		one_element(w, VALDIFF_DEL, json_array_get(b, bi), bi);
	for (; ai < aj; ai++)
		one_element(w, VALDIFF_ADD, json_array_get(a, ai), ai);
}

/* A digest of each of v[from..to): the first 8 bytes of the SHA-256 of
 * its canonical text (keys sorted), so equal values have equal digests
 * and unequal ones, for any practical purpose, do not (owns). */
static uint64_t *
digests(json_t *v, size_t from, size_t to)
{
	uint64_t *d = xcalloc(to - from + 1, sizeof(*d));
	unsigned char md[CRYPTO_SHA256_LEN];
	size_t i;

	for (i = from; i < to; i++) {
		char *s = json_dumps(json_array_get(v, i), JSON_COMPACT | JSON_SORT_KEYS |
		    JSON_ENCODE_ANY);

		crypto_sha256(md, s ? s : "", s ? strlen(s) : 0);
		memcpy(&d[i - from], md, sizeof(*d));
		free(s);
	}
	return d;
}

static void
walk_arrays(struct walk *w, json_t *b, json_t *a)
{
	size_t nb = json_array_size(b), na = json_array_size(a), i, j, pb, pa, lo = 0;
	uint32_t *t;

	/* A common head and tail need no table. */
	while (lo < nb && lo < na && json_equal(json_array_get(b, lo), json_array_get(a, lo)))
		lo++;
	while (nb > lo && na > lo && json_equal(json_array_get(b, nb - 1), json_array_get(a, na - 1))) {
		nb--;
		na--;
	}
	if (nb - lo == 0 || na - lo == 0 || (nb - lo + 1) * (na - lo + 1) > VALDIFF_LCS_MAX) {
		run(w, b, lo, nb, a, lo, na);
		return;
	}
	/* t[i][j]: the LCS of b[i..nb) and a[j..na), i and j from lo.  The
	 * elements are compared by digest, so the table costs one compare a
	 * cell whatever the elements hold. */
	{
		size_t rows = nb - lo + 1, cols = na - lo + 1;
		uint64_t *hb = digests(b, lo, nb), *ha = digests(a, lo, na);

		t = xcalloc(rows * cols, sizeof(*t));
#define T(i, j) t[((i) - lo) * cols + ((j) - lo)]
#define EQ(i, j) (hb[(i) - lo] == ha[(j) - lo])
		for (i = nb; i-- > lo;)
			for (j = na; j-- > lo;)
				T(i, j) = EQ(i, j) ? T(i + 1, j + 1) + 1 :
				    (T(i + 1, j) >= T(i, j + 1) ? T(i + 1, j) : T(i, j + 1));
		i = pb = lo;
		j = pa = lo;
		while (i < nb && j < na) {
			if (EQ(i, j)) {
				run(w, b, pb, i, a, pa, j);
				pb = ++i;
				pa = ++j;
			} else if (T(i + 1, j) >= T(i, j + 1)) {
				i++;
			} else {
				j++;
			}
		}
#undef EQ
#undef T
		free(t);
		free(hb);
		free(ha);
	}
	run(w, b, pb, nb, a, pa, na);
}

static void
walk_objects(struct walk *w, json_t *b, json_t *a)
{
	size_t nb, na, i = 0, j = 0, old;
	const char **kb = sorted_keys(b, &nb), **ka = sorted_keys(a, &na);

	while (i < nb || j < na) {
		int c = i == nb ? 1 : j == na ? -1 : strcmp(kb[i], ka[j]);

		if (c < 0) {
			old = push_key(w, kb[i]);
			one_side(w, VALDIFF_DEL, json_object_get(b, kb[i]));
			i++;
		} else if (c > 0) {
			old = push_key(w, ka[j]);
			one_side(w, VALDIFF_ADD, json_object_get(a, ka[j]));
			j++;
		} else {
			old = push_key(w, kb[i]);
			walk_values(w, json_object_get(b, kb[i]), json_object_get(a, ka[j]));
			i++;
			j++;
		}
		pop(w, old);
	}
	free(kb);
	free(ka);
}

static void
walk_values(struct walk *w, json_t *b, json_t *a)
{
	if (json_equal(b, a))
		return;
	if (json_is_object(b) && json_is_object(a))
		walk_objects(w, b, a);
	else if (json_is_array(b) && json_is_array(a))
		walk_arrays(w, b, a);
	else
		emit(w, VALDIFF_SET, b, a);
}

void
valdiff_build(struct valdiff *out, json_t *before, json_t *after, size_t max)
{
	struct walk w = { out, max, BUF_INIT };

	memset(out, 0, sizeof(*out));
	if (json_is_null(before))
		before = NULL;
	if (json_is_null(after))
		after = NULL;
	if (!before && after)
		one_side(&w, VALDIFF_ADD, after);
	else if (before && !after)
		one_side(&w, VALDIFF_DEL, before);
	else if (before && after)
		walk_values(&w, before, after);
	buf_dispose(&w.path);
}

void
valdiff_dispose(struct valdiff *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < d->n; i++) {
		free(d->v[i].path);
		free(d->v[i].before);
		free(d->v[i].after);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}
