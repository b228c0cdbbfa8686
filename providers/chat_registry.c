/*
 * chat_registry.c - the one table of chat backends.  Adding a backend is
 * one new file exporting a `struct chat_provider` plus one line here.
 */
#include "chat.h"

#include <string.h>

extern const struct chat_provider chat_console;
extern const struct chat_provider chat_slack;
extern const struct chat_provider chat_webhook;
extern const struct chat_provider chat_irc;

static const struct chat_provider *const registry[] = {
	&chat_console,
	&chat_slack,
	&chat_webhook,
	&chat_irc,
	NULL,
};

const struct chat_provider *
chat_find(const char *name)
{
	size_t i;

	for (i = 0; registry[i]; i++) {
		const struct chat_provider *p = registry[i];

		if (strcmp(p->name, name) != 0)
			continue;
		/* A backend built against another ABI, or missing an op the
		 * outbox calls unconditionally, is refused at start-up rather
		 * than crashing on the first message. */
		if (p->abi != CHAT_PROVIDER_ABI || !p->ops || !p->ops->open ||
		    !p->ops->post || !p->ops->close)
			return NULL;
		return p;
	}
	return NULL;
}
