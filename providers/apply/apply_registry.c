/*
 * apply_registry.c - the one table of apply providers, and what they
 * share: the `kinds:` list, unknown-key checks, and a blocking driver.
 * Adding a provider is one file exporting a `struct apply_provider` and
 * one line in the table; these extern declarations are the only place the
 * core names one.
 */
#include "providers/apply/apply.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

extern const struct apply_provider apply_exec;
extern const struct apply_provider apply_rfc2136;
extern const struct apply_provider apply_terraform;

static const struct apply_provider *const apply_registry[] = {
	&apply_exec,
	&apply_rfc2136,
	&apply_terraform,
	NULL,
};

static int
apply_provider_ok(const struct apply_provider *p)
{
	const struct apply_ops *o = p->ops;

	return p->abi == APPLY_PROVIDER_ABI && p->name && o && o->open && o->wants &&
	    o->start && o->fd && o->timeout_ms && o->step && o->cancel && o->finish && o->close &&
	    (!(o->prepare || o->drift) || o->finish_found);
}

const struct apply_provider *
apply_find(const char *name)
{
	size_t i;

	for (i = 0; apply_registry[i]; i++) {
		/* A provider built against another ABI is a build mistake. */
		ASSERT(apply_provider_ok(apply_registry[i]));
		if (strcmp(apply_registry[i]->name, name) == 0)
			return apply_registry[i];
	}
	return NULL;
}

static int
drive(char **reason, struct apply_found *found, const struct apply_provider *ap, void *st,
    const struct apply_info *in, int (*begin)(void **, void *, const struct apply_info *))
{
	struct apply_found ignored;
	struct pollfd pfd;
	void *run;
	int rc;

	*reason = NULL;
	if ((rc = begin(&run, st, in)) != OK) {
		*reason = xstrdup(err_last());
		return rc;
	}
	while (!ap->ops->step(run)) {
		pfd.fd = ap->ops->fd(run);
		pfd.events = POLLIN;
		pfd.revents = 0;
		poll(&pfd, pfd.fd >= 0 ? 1 : 0, ap->ops->timeout_ms(run));
	}
	if (!ap->ops->finish_found)
		return ap->ops->finish(reason, run);
	rc = ap->ops->finish_found(reason, found ? found : &ignored, run);
	if (!found)
		free(ignored.digest);
	return rc;
}

int
apply_run(char **reason, const struct apply_provider *ap, void *st,
    const struct apply_info *in)
{
	struct pollfd pfd;
	void *run;
	int rc;

	*reason = NULL;
	if ((rc = ap->ops->start(&run, st, in)) != OK) {
		*reason = xstrdup(err_last());
		return rc;
	}
	while (!ap->ops->step(run)) {
		pfd.fd = ap->ops->fd(run);
		pfd.events = POLLIN;
		pfd.revents = 0;
		poll(&pfd, pfd.fd >= 0 ? 1 : 0, ap->ops->timeout_ms(run));
	}
	return ap->ops->finish(reason, run);
}

int
apply_drift_run(char **reason, struct apply_found *found, const struct apply_provider *ap,
    void *st, const struct apply_info *in)
{
	ASSERT(ap->ops->drift);
	if (found)
		memset(found, 0, sizeof(*found));
	return drive(reason, found, ap, st, in, ap->ops->drift);
}

int
apply_serves(const struct apply_provider *ap, void *st, enum change_kind k)
{
	struct plan p;

	/* A plan of one change of kind k: what wants() looks at. */
	memset(&p, 0, sizeof(p));
	p.decision = DECISION_AUTO;
	p.counts[k][ACTION_MODIFY] = 1;
	return ap->ops->wants(st, &p);
}

int
apply_kinds_parse(unsigned *mask, const struct ynode *n, const char *key)
{
	enum change_kind k;
	size_t i;

	*mask = 0;
	if (!n) {
		*mask = APPLY_KINDS_ALL;
		return OK;
	}
	if (n->type != YNODE_SEQ || n->n == 0)
		return err_set(ERR_INVALID, "%s (line %d): expected a non-empty list of "
		    "enc, dns, pin, policy, got %s", key, n->line, ynode_type_name(n));
	for (i = 0; i < n->n; i++) {
		const struct ynode *it = n->items[i];

		if (it->type != YNODE_SCALAR || kind_parse(&k, it->str) != OK)
			return err_set(ERR_INVALID, "%s[%zu] (line %d): expected one of enc, dns, "
			    "pin, policy, got %s%.40s%s", key, i, it->line,
			    it->type == YNODE_SCALAR ? "\"" : ynode_type_name(it),
			    it->type == YNODE_SCALAR ? it->str : "",
			    it->type == YNODE_SCALAR ? "\"" : "");
		*mask |= APPLY_KIND_BIT(k);
	}
	return OK;
}

int
apply_plan_touches(const struct plan *p, unsigned mask)
{
	int k, a;

	if (p->decision == DECISION_INVALID)
		return 0;
	for (k = 0; k < KIND__COUNT; k++)
		if (mask & APPLY_KIND_BIT(k))
			for (a = 0; a < 3; a++)
				if (p->counts[k][a])
					return 1;
	return 0;
}

int
apply_check_keys(const struct ynode *cfg, const char *provider, const char *const known[])
{
	const struct ynode *k;
	struct buf b = BUF_INIT;

	if (!cfg || cfg->type != YNODE_MAP)
		return err_set(ERR_INVALID, "apply %s: expected a mapping", provider);
	if (!(k = ynode_unknown_key(cfg, known, NULL)))
		return OK;
	ynode_keys_join(&b, "type", known);
	err_set(ERR_INVALID, "apply %s: unknown key \"%.40s\" (line %d); known: %s", provider,
	    k->str, k->line, b.data);
	buf_dispose(&b);
	return ERR_INVALID;
}
