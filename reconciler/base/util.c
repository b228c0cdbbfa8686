/*
 * util.c - see util.h.
 */
#include "base/util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One message per thread: loading and rendering use a second thread. */
static _Thread_local char err_msg[1024];

int
err_set(int code, const char *fmt, ...)
{
	char tmp[sizeof(err_msg)];
	va_list ap;

	/* Through a copy: callers often wrap the last message in a new one
	 * (err_set(rc, "%s: %s", what, err_last())). */
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	utf8_repair(tmp, strlen(tmp));
	memcpy(err_msg, tmp, sizeof(err_msg));
	return code;
}

const char *
err_last(void)
{
	return err_msg[0] ? err_msg : "unknown error";
}

void
util_assert_fail(const char *what, const char *file, int line)
{
	fprintf(stderr, "firebreak: assertion failed: %s (%s:%d)\n", what, file, line);
	abort();
}

static _Noreturn void
oom(size_t n)
{
	fprintf(stderr, "firebreak: out of memory allocating %zu bytes\n", n);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom(n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom(n * size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		oom(n);
	return q;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	ASSERT(n >= 0);
	b.data = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(b.data, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return b.data;
}

static int
buf_grow(struct buf *b, size_t extra)
{
	size_t need, alloc;

	if (extra > SIZE_MAX - b->len - 1)
		return err_set(ERR_TOOBIG, "buffer size overflow");
	need = b->len + extra + 1;
	if (b->cap && need > b->cap + 1)
		return err_set(ERR_TOOBIG, "more than %zu bytes", b->cap);
	if (need <= b->alloc)
		return OK;
	alloc = b->alloc ? b->alloc : 64;
	while (alloc < need)
		alloc = alloc > SIZE_MAX / 2 ? need : alloc * 2;
	b->data = xrealloc(b->data, alloc);
	b->alloc = alloc;
	return OK;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	int rc;

	if ((rc = buf_grow(b, n)) != OK)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return OK;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_putc_slow(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return err_set(ERR, "format error");
	if ((rc = buf_grow(b, (size_t)n)) != OK)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return OK;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *
buf_steal(struct buf *b)
{
	char *p = b->data ? b->data : xstrdup("");

	b->data = NULL;
	b->len = b->alloc = 0;
	return p;
}

void
buf_dispose(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->alloc = 0;
}

int
parse_u64(uint64_t *out, const char *s, uint64_t min, uint64_t max)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return ERR_INVALID;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return ERR_INVALID;
	*out = v;
	return OK;
}

int
str_has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

int
str_cmp_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

uint32_t
hash_fnv1a(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

/*
 * Merge the sorted runs [lo, mid) and [mid, hi) of `base` through `tmp`.
 */
static void
merge_runs(char *base, char *tmp, size_t lo, size_t mid, size_t hi, size_t size,
    int (*cmp)(const void *, const void *))
{
	size_t i = lo, j = mid, k = 0;

	while (i < mid && j < hi) {
		if (cmp(base + j * size, base + i * size) < 0) {
			memcpy(tmp + k * size, base + j * size, size);
			j++;
		} else {
			memcpy(tmp + k * size, base + i * size, size);
			i++;
		}
		k++;
	}
	memcpy(tmp + k * size, base + i * size, (mid - i) * size);
	k += mid - i;
	memcpy(tmp + k * size, base + j * size, (hi - j) * size);
	k += hi - j;
	memcpy(base + lo * size, tmp, k * size);
}

void
xqsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	char *p = base, *tmp;
	size_t runs[17], nruns = 0, i, r;

	/*
	 * Most arrays here arrive sorted, or as a few sorted runs (git lists
	 * trees in name order; each renderer emits its artifacts in order):
	 * finding the runs is one pass, merging a few of them a few more,
	 * both much cheaper than qsort's n log n comparisons on 100k names.
	 */
	if (n < 2)
		return;
	runs[nruns++] = 0;
	for (i = 1; i < n; i++)
		if (cmp(p + (i - 1) * size, p + i * size) > 0) {
			if (nruns == 16) {
				qsort(base, n, size, cmp);
				return;
			}
			runs[nruns++] = i;
		}
	if (nruns == 1)
		return;
	runs[nruns] = n;
	tmp = xmalloc(n * size);
	/* Merge adjacent runs pairwise until one is left. */
	while (nruns > 1) {
		size_t out = 0;

		for (r = 0; r + 1 < nruns; r += 2) {
			merge_runs(p, tmp, runs[r], runs[r + 1], runs[r + 2], size, cmp);
			runs[out++] = runs[r];
		}
		if (r < nruns)
			runs[out++] = runs[r];
		runs[out] = n;
		nruns = out;
	}
	free(tmp);
}

void *
xbsearch(const void *key, const void *base, size_t n, size_t size,
    int (*cmp)(const void *, const void *))
{
	return n ? bsearch(key, base, n, size, cmp) : NULL;
}

int
util_threads(void)
{
	static int n;
	const char *env;
	uint64_t v;

	if (n == 0) {
		env = getenv("FIREBREAK_THREADS");
		n = env && parse_u64(&v, env, 1, 64) == OK ? (int)v : 2;
	}
	return n;
}

int
utf8_prefix(const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n > INT_MAX ? INT_MAX : (int)n;
}

void
utf8_repair(char *s, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		k = utf8_decode((const unsigned char *)s + i, n - i, NULL);
		if (k == 0)
			s[i++] = '?';
		else
			i += k;
	}
}

char *
utf8_scrub(char *s)
{
	size_t n = strlen(s), i = 0, k;
	uint32_t cp;

	while (i < n) {
		k = utf8_decode((const unsigned char *)s + i, n - i, &cp);
		if (k == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
			s[i++] = '?';
			continue;
		}
		i += k;
	}
	return s;
}

size_t
utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t k, i;

	if (c < 0x80) {
		if (cp)
			*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF)
		k = 2, c &= 0x1F, min = 0x80;
	else if (c >= 0xE0 && c <= 0xEF)
		k = 3, c &= 0x0F, min = 0x800;
	else if (c >= 0xF0 && c <= 0xF4)
		k = 4, c &= 0x07, min = 0x10000;
	else
		return 0;
	if (k > n)
		return 0;
	for (i = 1; i < k; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	if (cp)
		*cp = c;
	return k;
}

int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
