/*
 * fuzz_inventory.c - the inventory loader over a tree of files
 * (model/inventory.h: loader_add, loader_add_other, loader_finish: what
 * inventory_load() offers it from a commit's tree).  fuzz_pipeline.c
 * goes on to render and plan the result.
 *
 * Input: files separated by a line "--"; each starts with its path on
 * its first line ("hosts/web-01.example.com.yaml"), the rest is its
 * content.  A path starting with '!' is offered as a non-file entry (a
 * directory or submodule where a file belongs); "?path" as a file too
 * big to read.
 *
 * Invariants, beyond "no crash, no leak, no undefined behaviour":
 *   - ERR_INVALID comes with problems, each naming a file and saying
 *     something, and OK with none; nothing else is returned;
 *   - a valid model is whole, as the renderers take it: every field they
 *     need is there (a service's version and hiera_key, a zone's id, a
 *     record's name, type and values, an active or drained host's role),
 *     every index points at what it names, and names are sorted and
 *     unique.
 */
#include "fuzz.h"

#include "model/inventory.h"

#define NAMES_SORTED(v, n, field) do { \
	size_t i_; \
	for (i_ = 1; i_ < (n); i_++) \
		FUZZ_CHECK(strcmp((v)[i_ - 1].field, (v)[i_].field) < 0, "%s and %s out of order", \
		    (v)[i_ - 1].field, (v)[i_].field); \
} while (0)

/* What a renderer may rely on in a model loader_finish() called valid. */
static void
check_model(const struct model *m)
{
	size_t i, j;

	NAMES_SORTED(m->hosts, m->nhosts, fqdn);
	NAMES_SORTED(m->roles, m->nroles, name);
	NAMES_SORTED(m->services, m->nservices, name);
	NAMES_SORTED(m->zones, m->nzones, name);
	FUZZ_CHECK(m->policy != NULL, "no policy");
	for (i = 0; i < m->nhosts; i++) {
		const struct host *h = &m->hosts[i];

		FUZZ_CHECK(h->role || (h->state != HOST_ACTIVE && h->state != HOST_DRAINED),
		    "host %s is in service without a role", h->fqdn);
		FUZZ_CHECK(!h->role || (h->role_idx < m->nroles &&
		    strcmp(m->roles[h->role_idx].name, h->role) == 0), "host %s: role index", h->fqdn);
		FUZZ_CHECK(h->zone_idx == MODEL_NO_ZONE || h->zone_idx < m->nzones,
		    "host %s: zone index", h->fqdn);
		FUZZ_CHECK(!h->params || h->params->type == YNODE_MAP, "host %s: params", h->fqdn);
	}
	for (i = 0; i < m->nroles; i++) {
		const struct role *r = &m->roles[i];

		FUZZ_CHECK(!r->backends_of || (r->backends_idx < m->nroles &&
		    strcmp(m->roles[r->backends_idx].name, r->backends_of) == 0),
		    "role %s: backends index", r->name);
		for (j = 0; j < r->services.n; j++)
			FUZZ_CHECK(model_service(m, r->services.v[j]) != NULL,
			    "role %s: service %s has no file", r->name, r->services.v[j]);
	}
	for (i = 0; i < m->nservices; i++) {
		const struct service *s = &m->services[i];

		FUZZ_CHECK(s->version && s->hiera_key, "service %s: version or hiera_key missing",
		    s->name);
		for (j = 0; j < s->nenvs; j++)
			FUZZ_CHECK(s->envs[j].env && s->envs[j].version, "service %s: environment %zu",
			    s->name, j);
	}
	for (i = 0; i < m->nzones; i++) {
		const struct zone *z = &m->zones[i];

		FUZZ_CHECK(z->zone_id != NULL, "zone %s without an id", z->name);
		for (j = 0; j < z->nrecords; j++)
			FUZZ_CHECK(z->records[j].name && z->records[j].type &&
			    z->records[j].values.n > 0, "zone %s: record %zu is not whole", z->name, j);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct loader *l = loader_new();
	struct diags d = { NULL, 0, 0 };
	struct model *m = NULL;
	size_t i;
	int rc;

	while (fuzz_more(&in)) {
		size_t len, pl;
		char *part = fuzz_take_part(&in, &len), *nl = memchr(part, '\n', len);

		pl = nl ? (size_t)(nl - part) : len;
		part[pl] = '\0';   /* a path from a git tree holds no NUL: cut at one */
		if (part[0] == '!')
			loader_add_other(l, part + 1);
		else if (part[0] == '?')
			loader_add(l, part + 1, NULL, 2u * INVENTORY_MAX_FILE);
		else
			loader_add(l, part, nl ? nl + 1 : "", nl ? len - pl - 1 : 0);
		free(part);
	}
	rc = loader_finish(l, &m, &d);
	if (rc == ERR_INVALID) {
		FUZZ_CHECK(m == NULL, "an invalid inventory gave a model");
		FUZZ_CHECK(d.n > 0, "invalid without a problem");
		for (i = 0; i < d.n; i++)
			FUZZ_CHECK(d.v[i].file && d.v[i].file[0] && d.v[i].message &&
			    d.v[i].message[0] && d.v[i].line >= 0 && d.v[i].col >= 0,
			    "a problem without a file or message");
	} else {
		FUZZ_CHECK(rc == OK && m != NULL && d.n == 0, "rc %d with %zu problems", rc, d.n);
		check_model(m);
	}
	model_free(m);
	diags_dispose(&d);
	return 0;
}
