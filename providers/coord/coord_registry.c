/*
 * coord_registry.c - the coordinator backends, by name; and the helpers
 * every backend's results share.  See coord.h.
 */
#include "providers/coord/coord.h"

#include <stdlib.h>
#include <string.h>

extern const struct coord_provider coord_etcd;

static const struct coord_provider *const coord_registry[] = { &coord_etcd };

static int
coord_provider_ok(const struct coord_provider *p)
{
	const struct coord_ops *o = p->ops;

	return p->abi == COORD_PROVIDER_ABI && p->name && o && o->open && o->close && o->grant &&
	    o->revoke && o->keepalive_start && o->keepalive_poll && o->timeout_ms && o->txn &&
	    o->range;
}

const struct coord_provider *
coord_find(const char *name)
{
	for (size_t i = 0; i < sizeof(coord_registry) / sizeof(*coord_registry); i++) {
		ASSERT(coord_provider_ok(coord_registry[i]));
		if (strcmp(coord_registry[i]->name, name) == 0)
			return coord_registry[i];
	}
	return NULL;
}

void
coord_kvs_dispose(struct coord_kvs *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++) {
		free(k->v[i].key);
		free(k->v[i].val);
	}
	free(k->v);
	memset(k, 0, sizeof(*k));
}

void
coord_txn_result_dispose(struct coord_txn_result *r)
{
	for (size_t i = 0; i < sizeof(r->gets) / sizeof(*r->gets); i++)
		coord_kvs_dispose(&r->gets[i]);
	r->ngets = 0;
}
