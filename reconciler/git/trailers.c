/*
 * trailers.c - commit message trailers.  See trailers.h.
 */
#include "git/trailers.h"

#include <string.h>
#include <strings.h>

char *
trailer_get(const char *message, const char *key)
{
	const char *para = message, *p, *found = NULL;
	size_t klen = strlen(key);

	if (!message)
		return NULL;
	/* The last paragraph: after the last blank line with text after it. */
	for (p = message; (p = strstr(p, "\n\n")); p++) {
		const char *q = p;

		while (*q == '\n')
			q++;
		if (*q)
			para = q;
	}
	for (p = para; *p; ) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);

		if (n > klen + 2 && strncasecmp(p, key, klen) == 0 && p[klen] == ':' && p[klen + 1] == ' ')
			found = p;
		p += n + (eol ? 1 : 0);
	}
	if (!found)
		return NULL;
	found += klen + 2;
	return xstrndup(found, strcspn(found, "\n"));
}
