/*
 * chat_registry.c - the one table of chat backends.  Adding a backend is
 * one new file exporting a `struct chat_provider` plus one line here.
 */
#include "providers/chat/chat.h"

#include <stdlib.h>
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

int
chat_provider_ok(const struct chat_provider *p)
{
	/* A backend built against another ABI, or missing an op the outbox
	 * calls unconditionally, is refused at start-up rather than crashing
	 * on the first message. */
	if (!p || p->abi != CHAT_PROVIDER_ABI || !p->name || !p->ops || !p->ops->open ||
	    !p->ops->post || !p->ops->close)
		return 0;
	if ((p->caps & CHAT_CAN_RECV) && !p->ops->recv)
		return 0;
	if ((p->caps & CHAT_CAN_HTTP) && (!p->ops->routes || !p->ops->http || !p->ops->ack))
		return 0;
	return 1;
}

const struct chat_provider *
chat_find(const char *name)
{
	size_t i;

	for (i = 0; registry[i]; i++)
		if (strcmp(registry[i]->name, name) == 0)
			return chat_provider_ok(registry[i]) ? registry[i] : NULL;
	return NULL;
}

void
chat_command_dispose(struct chat_command *c)
{
	if (!c)
		return;
	free(c->identity);
	free(c->via);
	free(c->text);
	free(c->reply_to);
	memset(c, 0, sizeof(*c));
}
