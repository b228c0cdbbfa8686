/*
 * fuzz.h - what the fuzz targets share: an invariant check that crashes
 * (so libFuzzer keeps the input and the replay names it), and a reader
 * that splits one input into the several values a target needs.
 *
 * Each target is one file, fuzz_<name>.c, defining
 * LLVMFuzzerTestOneInput; it is linked with libFuzzer by `make fuzz`
 * (tests/fuzz/fuzz.mk) and with tests/fuzz/replay.c by `make test`.
 * A target returns 0 for every input it handled, whatever the parser
 * said; a broken invariant is FUZZ_CHECK's abort().
 */
#ifndef FIREBREAK_FUZZ_H
#define FIREBREAK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: invariant broken: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

/*
 * A fresh directory for a target's files: $TMPDIR/firebreak-fuzz-XXXXXX,
 * or under /tmp when TMPDIR is unset, relative or too long.  The campaign
 * (campaign.sh) points TMPDIR at a tmpfs: a target that writes a file per
 * input runs several times faster there than on a disk where each new
 * inode costs half a millisecond.  Aborts when it cannot make one.
 */
static inline void
fuzz_tmpdir(char *out, size_t n)
{
	const char *t = getenv("TMPDIR");

	if (!t || t[0] != '/' || strlen(t) + sizeof("/firebreak-fuzz-XXXXXX") > n ||
	    (size_t)snprintf(out, n, "%s/firebreak-fuzz-XXXXXX", t) >= n || !mkdtemp(out)) {
		if ((size_t)snprintf(out, n, "/tmp/firebreak-fuzz-XXXXXX") >= n || !mkdtemp(out))
			abort();
	}
}

/*
 * A cursor over the input.  fuzz_take_part() returns the bytes up to the
 * next separator line "\n--\n" (or the rest), as a NUL-terminated copy
 * (malloc'ed; the caller frees) with its length, so a corpus entry stays
 * readable text: the parts of a multi-value input are separated by a line
 * "--".
 */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline char *
fuzz_take_part(struct fuzz_in *in, size_t *len)
{
	static const char sep[] = "\n--\n";
	size_t i, k = in->n;
	char *s;

	for (i = 0; i + sizeof(sep) - 1 <= in->n; i++)
		if (memcmp(in->p + i, sep, sizeof(sep) - 1) == 0) {
			k = i;
			break;
		}
	s = malloc(k + 1);
	if (!s)
		abort();
	memcpy(s, in->p, k);
	s[k] = '\0';
	*len = k;
	if (k < in->n) {
		in->p += k + sizeof(sep) - 1;
		in->n -= k + sizeof(sep) - 1;
	} else {
		in->p += k;
		in->n = 0;
	}
	return s;
}

/* Is there a part left (possibly empty after a final separator)? */
static inline int
fuzz_more(const struct fuzz_in *in)
{
	return in->n > 0;
}

#endif
