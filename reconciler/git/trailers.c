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

int
trailer_is_bot_commit(const struct repo_log_entry *e, const struct repo_ident *bot)
{
	return bot && bot->name && bot->email && e->author && e->author_email &&
	    e->committer && e->committer_email &&
	    strcmp(e->author, bot->name) == 0 && strcmp(e->author_email, bot->email) == 0 &&
	    strcmp(e->committer, bot->name) == 0 && strcmp(e->committer_email, bot->email) == 0;
}

char *
trailer_of_bot(const struct repo_log_entry *e, const struct repo_ident *bot, const char *key)
{
	return trailer_is_bot_commit(e, bot) ? trailer_get(e->message, key) : NULL;
}
