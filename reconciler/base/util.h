/*
 * util.h - error codes, the last-error message, allocation that aborts on
 * exhaustion, a growable byte buffer with a hard cap, and checked number
 * parsing.  Every other module builds on these; none of them does I/O.
 *
 * Layer: base (includes base only).
 */
#ifndef FIREBREAK_UTIL_H
#define FIREBREAK_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum {
	OK = 0,
	ERR = -1,
	ERR_NOTFOUND = -2,
	ERR_CONFLICT = -3,
	ERR_DENIED = -4,
	ERR_TOOBIG = -5,
	ERR_INVALID = -6,
	ERR_AGAIN = -7,     /* temporary: try again later */
};

/*
 * err_set() records a one-line message for the caller to read back with
 * err_last(); it returns `code` so a failure path can be one statement:
 *	return err_set(ERR_NOTFOUND, "no host %s", fqdn);
 */
int err_set(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const char *err_last(void);   /* borrows: valid until the next err_set() */

/* Programming errors abort, in release builds too. */
#define ASSERT(c) do { if (!(c)) util_assert_fail(#c, __FILE__, __LINE__); } while (0)
_Noreturn void util_assert_fail(const char *what, const char *file, int line);

void *xmalloc(size_t n);                 /* owns; aborts on exhaustion */
void *xcalloc(size_t n, size_t size);    /* owns; zeroed */
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);            /* owns */
char *xstrndup(const char *s, size_t n); /* owns; NUL-terminated */
char *xasprintf(const char *fmt, ...)    /* owns */
	__attribute__((format(printf, 1, 2)));

/*
 * A growable buffer.  `data` is always NUL-terminated (so text can be used
 * as a C string) and owned by the buffer.  A buffer with a non-zero `cap`
 * refuses to grow past it: the append returns ERR_TOOBIG and leaves the
 * buffer as it was.  buf_dispose() frees the contents, not the struct.
 */
struct buf {
	char *data;
	size_t len;
	size_t alloc;
	size_t cap;    /* 0: unbounded (only for data we produce ourselves) */
};
#define BUF_INIT { NULL, 0, 0, 0 }

int  buf_append(struct buf *b, const void *p, size_t n);
int  buf_puts(struct buf *b, const char *s);
int  buf_putc_slow(struct buf *b, char c);
/* One byte: the common case inline, growing out of line. */
static inline int
buf_putc(struct buf *b, char c)
{
	if (b->len + 1 < b->alloc) {
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
		return OK;
	}
	return buf_putc_slow(b, c);
}
int  buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);           /* len = 0, keeps the memory */
char *buf_steal(struct buf *b);          /* owns: the caller frees; b is reset */
void buf_dispose(struct buf *b);

/*
 * Parse an unsigned decimal number in [min, max] that spans all of s
 * (no sign, no spaces, no trailing text).  Returns OK or ERR_INVALID.
 */
int parse_u64(uint64_t *out, const char *s, uint64_t min, uint64_t max);

/* Length-aware helpers over NUL-terminated strings. */
int str_has_suffix(const char *s, const char *suffix);
int str_cmp_ptr(const void *a, const void *b);  /* qsort over char * */

/* qsort and bsearch that accept an empty (NULL) array, which the C
 * library's versions may not (UBSan rightly complains). */
void xqsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));
void *xbsearch(const void *key, const void *base, size_t n, size_t size,
    int (*cmp)(const void *, const void *));

/*
 * The length of the well-formed UTF-8 sequence at s[0..n) (n > 0), with
 * its code point in *cp (may be NULL), or 0 when it is not one: a stray
 * continuation byte, an overlong form, a surrogate, past U+10FFFF, or cut
 * short.  Everything from git, YAML, chat and HTTP is checked with this.
 */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/*
 * The length of the longest prefix of the string s of at most max bytes
 * that does not end inside a UTF-8 sequence: "%.*s" with it shows at most
 * max bytes of whole characters, where "%.7s" could cut one in two (found
 * by the fuzz targets, in chat answers and the plan page).
 */
int utf8_prefix(const char *s, size_t max);

/*
 * Make the string s safe to show in place: every byte that does not begin
 * a valid UTF-8 character, and every control character, becomes '?'.
 * For text a library quotes from its input (jansson's error messages
 * quote the bytes near the error).  Returns s.
 */
char *utf8_scrub(char *s);

/*
 * Make the n bytes at s valid UTF-8 in place: every byte that does not
 * begin a valid UTF-8 character becomes '?'; control characters stay.
 * For messages assembled with "%.40s" or cut to a buffer's size, which
 * may split a character of the text they quote (fuzz_botcmd found one in
 * a chat answer): every error message (err_set) and every bot answer
 * goes through it, so chat never gets text its JSON cannot carry.
 */
void utf8_repair(char *s, size_t n);

/* The value of a hex digit (either case), or -1. */
int hex_digit(char c);

/*
 * How many threads a stage may use: 2 (these machines have two cores),
 * or FIREBREAK_THREADS from the environment (1 turns threading off, for
 * measuring and debugging).  Read once.
 */
int util_threads(void);

/* FNV-1a, 32-bit: the release store's fan-out hash (see state.c). */
uint32_t hash_fnv1a(const char *s, size_t n);

#endif
