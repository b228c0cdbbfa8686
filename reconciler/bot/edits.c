/*
 * edits.c - the mutating commands' handlers: given the inventory at the
 * branch head, each produces new file contents (through the
 * comment-preserving editor, edit.h) or a commit (revert) and a subject
 * line; it never writes anything itself.  commit.c turns that into a
 * commit.  See botint.h.
 */
#include "bot/botint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "bot/edit.h"
#include "git/repo.h"
#include "model/inventory.h"
#include "model/model.h"

/* ---- the inventory -------------------------------------------------------- */

/* Parse `path` at commit `sha` into *root (owns) and its text into src. */
int
bot_load_yaml(struct bot *b, const char *sha, const char *path, struct buf *src, struct ynode **root)
{
	int line = 0, col = 0, rc;

	*root = NULL;
	if ((rc = repo_read_file(src, b->repo, sha, path, INVENTORY_MAX_FILE)) != OK)
		return rc;
	if ((rc = ydoc_parse(root, src->data ? src->data : "", src->len, NULL, &line, &col)) != OK)
		return err_set(ERR_INVALID, "%s:%d:%d: %s", path, line, col, err_last());
	return OK;
}

/* Record a new content for `path` (taken over): the commit will carry it. */
static int
mut_write(struct mut *mu, const char *path, char *data, size_t len)
{
	size_t i;

	for (i = 0; i < mu->n; i++)
		if (strcmp(mu->ch[i].path, path) == 0) {
			free(mu->ch[i].data);
			mu->ch[i].data = data;
			mu->ch[i].len = len;
			return OK;
		}
	if (mu->n == BOT_MAX_CHANGES) {
		free(data);
		return err_set(ERR_TOOBIG, "one command changes at most %d files",
		    BOT_MAX_CHANGES);
	}
	mu->ch[mu->n].path = xstrdup(path);
	mu->ch[mu->n].data = data;
	mu->ch[mu->n++].len = len;
	return OK;
}

void
bot_mut_dispose(struct mut *mu)
{
	size_t i;

	for (i = 0; i < mu->n; i++) {
		free(mu->ch[i].path);
		free(mu->ch[i].data);    /* mut_write() gave it to us */
	}
	buf_dispose(&mu->subject);
	memset(mu, 0, sizeof(*mu));     /* mu->m belongs to bot_commit() */
}

/*
 * Set scalars at `paths` (each a NULL-terminated key list) in file `path`
 * at the head, one after the other, as one change of the commit.
 */
static int
mut_set(struct bot *b, struct mut *mu, const char *path, const char *const *keys[],
    const char *const *values, size_t n)
{
	struct buf src = BUF_INIT;
	char *doc = NULL, *next;
	size_t len, nextlen, i;
	int rc;

	if ((rc = repo_read_file(&src, b->repo, mu->head, path, INVENTORY_MAX_FILE)) != OK) {
		buf_dispose(&src);
		return rc;
	}
	len = src.len;
	doc = buf_steal(&src);
	if (!doc)
		doc = xstrdup("");
	for (i = 0; i < n; i++) {
		size_t depth = 0;

		while (keys[i][depth])
			depth++;
		if ((rc = edit_set_scalar(&next, &nextlen, doc, len, keys[i], depth, values[i])) != OK) {
			free(doc);
			return err_set(ERR_INVALID, "%s: %s", path, err_last());
		}
		free(doc);
		doc = next;
		len = nextlen;
	}
	return mut_write(mu, path, doc, len);
}

/* Names of a model's entities, for did-you-mean. */
static const char *
suggest(const char *word, const void *base, size_t n, size_t size, size_t name_off)
{
	const char **names = xcalloc(n ? n : 1, sizeof(*names));
	const char *hit;
	size_t i;

	for (i = 0; i < n; i++)
		names[i] = *(const char *const *)((const char *)base + i * size + name_off);
	hit = did_you_mean(word, names, n);
	free(names);
	return hit;
}

#define SUGGEST(word, arr, n, type) \
	suggest((word), (arr), (n), sizeof(type), offsetof(type, name))

/* The host a command names: an fqdn, or a unique first label ("web-03"). */
static const struct host *
find_host(struct bot *b, struct mut *mu, const char *name)
{
	const struct host *h = NULL;
	size_t i, k = strlen(name), hits = 0;

	if (valid_fqdn(name) && (h = model_host(mu->m, name)))
		return h;
	for (i = 0; i < mu->m->nhosts && k; i++)
		if (strncmp(mu->m->hosts[i].fqdn, name, k) == 0 && mu->m->hosts[i].fqdn[k] == '.') {
			h = &mu->m->hosts[i];
			hits++;
		}
	if (hits == 1)
		return h;
	if (hits > 1)
		bot_refuse(b, "'%s' matches %zu hosts; give the full name", name, hits);
	else if (!valid_fqdn(name) && strchr(name, '.'))
		bot_refuse(b, "'%s' is not a host name (lowercase labels like web-03.example.com)", name);
	else {
		const char **names = xcalloc(mu->m->nhosts ? mu->m->nhosts : 1, sizeof(*names));
		const char *dym;

		for (i = 0; i < mu->m->nhosts; i++)
			names[i] = mu->m->hosts[i].fqdn;
		dym = mu->m->nhosts <= 10000 ? did_you_mean(name, names, mu->m->nhosts) : NULL;
		bot_refuse(b, "there is no host '%s' (hosts/%s.yaml)%s%s%s", name, name,
		    dym ? "; did you mean " : "", dym ? dym : "", dym ? "?" : "");
		free(names);
	}
	return NULL;
}

static const char *
state_name(enum host_state s)
{
	static const char *const names[] = { "active", "drained", "spare", "decommissioned" };

	return names[s];
}

static const struct role *
find_role(struct bot *b, struct mut *mu, const char *name)
{
	const struct role *r = valid_role(name) ? model_role(mu->m, name) : NULL;
	const char *dym;

	if (r)
		return r;
	dym = SUGGEST(name, mu->m->roles, mu->m->nroles, struct role);
	bot_refuse(b, "there is no role '%s' (roles/%s.yaml)%s%s%s", name,
	    valid_role(name) ? name : "...", dym ? "; did you mean " : "", dym ? dym : "",
	    dym ? "?" : "");
	return NULL;
}

/* ---- mutating commands ----------------------------------------------------- */

/* The environments a service's default version reaches: those of the
 * hosts whose role receives it, minus the environments with an override. */
static void
default_envs(struct buf *out, const struct model *m, const struct service *s)
{
	struct strlist envs = { NULL, NULL, 0 };
	size_t i, j;

	for (i = 0; i < m->nhosts; i++) {
		const struct host *h = &m->hosts[i];
		const struct role *r;
		const char *env;
		int receives = 0, seen = 0;

		if (!h->role || h->state == HOST_SPARE || h->state == HOST_DECOMMISSIONED)
			continue;
		r = &m->roles[h->role_idx];
		for (j = 0; j < r->services.n && !receives; j++)
			receives = strcmp(r->services.v[j], s->name) == 0;
		if (!receives)
			continue;
		env = model_host_env(m, h);
		for (j = 0; j < s->nenvs && !seen; j++)
			seen = strcmp(s->envs[j].env, env) == 0;
		for (j = 0; j < envs.n && !seen; j++)
			seen = strcmp(envs.v[j], env) == 0;
		if (!seen)
			strlist_push(&envs, env, 0);
	}
	xqsort(envs.v, envs.n, sizeof(*envs.v), str_cmp_ptr);
	for (i = 0; i < envs.n; i++)
		buf_printf(out, "%s%s", i ? ", " : "", envs.v[i]);
	if (!envs.n)
		buf_puts(out, "default");
	strlist_dispose(&envs);
}

int
bot_edit_deploy(struct bot *b, struct mut *mu, char **av, size_t ac)
{
	const char *svc = av[0], *ver = av[1], *env = ac > 2 ? av[2] : NULL, *now;
	const struct service *s = valid_service(svc) ? model_service(mu->m, svc) : NULL;
	const char *const kv[] = { "version", NULL };
	const char *const ke[] = { "environments", env, NULL };
	const char *const *keys[1];
	char path[300];
	size_t i;

	if (!s) {
		const char *dym = SUGGEST(svc, mu->m->services, mu->m->nservices, struct service);

		return bot_refuse(b, "there is no service '%s' (services/%s.yaml)%s%s%s", svc,
		    valid_service(svc) ? svc : "...", dym ? "; did you mean " : "", dym ? dym : "",
		    dym ? "?" : "");
	}
	if (!valid_version(ver))
		return bot_refuse(b, "'%s' is not a version: letters, digits and . _ + ~ - "
		    "(at most 64), like 1.4.3", ver);
	if (env && !valid_env(env))
		return bot_refuse(b, "'%s' is not an environment name ([a-z][a-z0-9_]*)", env);
	/* What the command would change: the override of ENV (none yet:
	 * adding one is a change, even to the default's version, since it
	 * pins ENV from now on), or the default version. */
	now = env ? NULL : s->version;
	for (i = 0; env && i < s->nenvs; i++)
		if (strcmp(s->envs[i].env, env) == 0)
			now = s->envs[i].version;
	buf_printf(&mu->subject, "deploy %s %s (", svc, ver);
	if (env)
		buf_puts(&mu->subject, env);
	else
		default_envs(&mu->subject, mu->m, s);
	buf_putc(&mu->subject, ')');
	if (now && strcmp(now, ver) == 0) {
		bot_say(b, "%s is already at %s%s%s; nothing to do\n", svc, ver, env ? " in " : "",
		    env ? env : "");
		mu->nothing = 1;
		return OK;
	}
	snprintf(path, sizeof(path), "services/%s.yaml", svc);
	keys[0] = env ? ke : kv;
	return mut_set(b, mu, path, keys, &ver, 1);
}

/* drain and undrain: between active and drained. */
static int
edit_state(struct bot *b, struct mut *mu, const char *verb, const char *host,
    enum host_state from, enum host_state to)
{
	static const char *const ks[] = { "state", NULL };
	const char *const *keys[1] = { ks };
	const char *value = state_name(to);
	const struct host *h = find_host(b, mu, host);
	char path[300];

	if (!h)
		return ERR_DENIED;
	if (h->state != from) {
		if (h->state == to) {
			bot_say(b, "%s is already %s; nothing to do\n", h->fqdn, state_name(to));
			mu->nothing = 1;
			return OK;
		}
		return bot_refuse(b, "%s is %s; %s applies to %s hosts", h->fqdn, state_name(h->state),
		    verb, state_name(from));
	}
	buf_printf(&mu->subject, "%s %s", verb, h->fqdn);
	snprintf(path, sizeof(path), "hosts/%s.yaml", h->fqdn);
	return mut_set(b, mu, path, keys, &value, 1);
}

/*
 * The health action's limits, checked again at the head it commits on
 * (a person may have drained another host since the controller looked):
 * of the role's active and drained hosts at most max_drained may be
 * drained, and never the last active one.
 */
static int
health_limits(struct bot *b, struct mut *mu, const char *name)
{
	const struct host *h = valid_fqdn(name) ? model_host(mu->m, name) : NULL;
	size_t i, active = 0, drained = 0, max;

	if (!b->cfg->health)
		return bot_refuse(b, "there is no health: block in the controller's config");
	if (!h || h->state != HOST_ACTIVE || !h->role)
		return OK;     /* edit_state says what is wrong, or that nothing is to do */
	for (i = 0; i < mu->m->nhosts; i++) {
		const struct host *o = &mu->m->hosts[i];

		if (!o->role || strcmp(o->role, h->role) != 0)
			continue;
		active += o->state == HOST_ACTIVE;
		drained += o->state == HOST_DRAINED;
	}
	max = health_max_drained(&b->cfg->health->max_drained, active + drained);
	if (drained + 1 > max)
		return bot_refuse(b, "would drain %s, but max_drained holds it back (%zu of %zu "
		    "drained)", h->fqdn, drained, active + drained);
	if (active <= 1)
		return bot_refuse(b, "would drain %s, but it is the last active host of role %s",
		    h->fqdn, h->role);
	return OK;
}

int
bot_edit_drain(struct bot *b, struct mut *mu, char **av, size_t ac)
{
	(void)ac;
	if (b->rq->health && health_limits(b, mu, av[0]) != OK)
		return ERR_DENIED;
	return edit_state(b, mu, "drain", av[0], HOST_ACTIVE, HOST_DRAINED);
}

int
bot_edit_undrain(struct bot *b, struct mut *mu, char **av, size_t ac)
{
	(void)ac;
	return edit_state(b, mu, "undrain", av[0], HOST_DRAINED, HOST_ACTIVE);
}

int
bot_edit_provision(struct bot *b, struct mut *mu, char **av, size_t ac)
{
	static const char *const kr[] = { "role", NULL }, *const ks[] = { "state", NULL },
	    *const ke[] = { "environment", NULL };
	const char *const *keys[3] = { kr, ks, ke };
	const char *values[3];
	const struct host *h = find_host(b, mu, av[0]);
	const struct role *r;
	const char *env = ac > 2 ? av[2] : NULL;
	char path[300];

	if (!h)
		return ERR_DENIED;
	if (!(r = find_role(b, mu, av[1])))
		return ERR_DENIED;
	if (h->state != HOST_SPARE)
		return bot_refuse(b, "%s is %s, not spare; provision takes a host from the spare pool "
		    "(decommission returns one to it)", h->fqdn, state_name(h->state));
	if (env && !valid_env(env))
		return bot_refuse(b, "'%s' is not an environment name ([a-z][a-z0-9_]*)", env);
	values[0] = r->name;
	values[1] = "active";
	values[2] = env;
	buf_printf(&mu->subject, "provision %s as %s", h->fqdn, r->name);
	if (env)
		buf_printf(&mu->subject, " (%s)", env);
	snprintf(path, sizeof(path), "hosts/%s.yaml", h->fqdn);
	return mut_set(b, mu, path, keys, values, env ? 3 : 2);
}

int
bot_edit_decommission(struct bot *b, struct mut *mu, char **av, size_t ac)
{
	static const char *const ks[] = { "state", NULL };
	const char *const *keys[1] = { ks };
	const char *value = "spare";
	const struct host *h = find_host(b, mu, av[0]);
	char path[300];

	(void)ac;
	if (!h)
		return ERR_DENIED;
	if (h->state == HOST_SPARE) {
		bot_say(b, "%s is already spare; nothing to do\n", h->fqdn);
		mu->nothing = 1;
		return OK;
	}
	if (h->state == HOST_DECOMMISSIONED)
		return bot_refuse(b, "%s is decommissioned; only a person can bring it back, by editing "
		    "hosts/%s.yaml", h->fqdn, h->fqdn);
	buf_printf(&mu->subject, "decommission %s", h->fqdn);
	snprintf(path, sizeof(path), "hosts/%s.yaml", h->fqdn);
	return mut_set(b, mu, path, keys, &value, 1);
}

/* A host name as a record value: labels of letters, digits, '-' and '_',
 * with or without the final dot. */
static int
hostname_ok(const char *s)
{
	size_t i, label = 0, n = strlen(s);

	if (n == 0 || n > 254)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_') {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return 1;
}

/* Numbers separated by single spaces, then a host name: "10 mx1.example.com.". */
static int
prefixed_host_ok(const char *s, int numbers)
{
	while (numbers--) {
		uint64_t v;
		const char *sp = strchr(s, ' ');
		char tmp[8];

		if (!sp || sp == s || (size_t)(sp - s) >= sizeof(tmp))
			return 0;
		memcpy(tmp, s, (size_t)(sp - s));
		tmp[sp - s] = '\0';
		if (parse_u64(&v, tmp, 0, 65535) != OK)
			return 0;
		s = sp + 1;
	}
	return hostname_ok(s);
}

static const char *
record_value_problem(const char *type, const char *v)
{
	if (strcmp(type, "A") == 0)
		return valid_ipv4(v) ? NULL : "an A record's value is an IPv4 address, like 10.0.1.5";
	if (strcmp(type, "AAAA") == 0)
		return valid_ipv6(v) ? NULL : "an AAAA record's value is an IPv6 address";
	if (strcmp(type, "CNAME") == 0 || strcmp(type, "NS") == 0 || strcmp(type, "PTR") == 0)
		return hostname_ok(v) ? NULL : "the value is a host name, like statuspage.example.net.";
	if (strcmp(type, "MX") == 0)
		return prefixed_host_ok(v, 1) ? NULL :
		    "an MX value is a priority and a host, quoted: \"10 mx1.example.com.\"";
	if (strcmp(type, "SRV") == 0)
		return prefixed_host_ok(v, 3) ? NULL :
		    "an SRV value is priority, weight, port and target, quoted: "
		    "\"10 5 5060 sip.example.com.\"";
	if (strlen(v) > 255)
		return "the value is longer than 255 bytes";
	return NULL;
}

/*
 * The zone a record goes in: ZONE when given; else the zone NAME ends
 * in ("status.example.com"); else the only zone.  *rel is the name
 * relative to the zone (owns).
 */
static const struct zone *
pick_zone(struct bot *b, struct mut *mu, const char *name, const char *zarg, char **rel)
{
	const struct model *m = mu->m;
	const struct zone *z = NULL;
	size_t i;

	*rel = NULL;
	if (zarg) {
		const char *dym;

		if (valid_zone(zarg) && (z = model_zone(m, zarg))) {
			*rel = xstrdup(name);
			return z;
		}
		dym = SUGGEST(zarg, m->zones, m->nzones, struct zone);
		bot_refuse(b, "there is no zone '%s' (dns/%s.yaml)%s%s%s", zarg,
		    valid_zone(zarg) ? zarg : "...", dym ? "; did you mean " : "", dym ? dym : "",
		    dym ? "?" : "");
		return NULL;
	}
	for (i = 0; i < m->nzones; i++) {
		size_t zl = strlen(m->zones[i].name), nl = strlen(name);

		if (strcmp(name, m->zones[i].name) == 0) {
			*rel = xstrdup("@");
			return &m->zones[i];
		}
		if (nl > zl + 1 && name[nl - zl - 1] == '.' &&
		    strcmp(name + nl - zl, m->zones[i].name) == 0 &&
		    (!z || strlen(z->name) < zl)) {
			z = &m->zones[i];
			free(*rel);
			*rel = xstrndup(name, nl - zl - 1);
		}
	}
	if (z)
		return z;
	if (m->nzones == 1) {
		*rel = xstrdup(name);
		return &m->zones[0];
	}
	if (m->nzones == 0)
		bot_refuse(b, "there are no DNS zones (dns/*.yaml) to add records to");
	else {
		struct buf zs = BUF_INIT;

		for (i = 0; i < m->nzones; i++)
			buf_printf(&zs, "%s%s", i ? ", " : "", m->zones[i].name);
		bot_refuse(b, "which zone? name it after the value: %s", zs.data);
		buf_dispose(&zs);
	}
	return NULL;
}

/* Record type in capitals, validated; NULL with a refusal. */
static const char *
record_type(struct bot *b, char *t)
{
	char *p;

	for (p = t; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	if (!valid_record_type(t)) {
		bot_refuse(b, "'%s' is not a record type (A AAAA CAA CNAME MX NS PTR SRV TXT)", t);
		return NULL;
	}
	return t;
}

/* The index of the first record `name`/`type` in a zone file's records. */
static long
record_index(const struct ynode *root, const char *name, const char *type)
{
	const struct ynode *recs = ynode_get(root, "records");
	size_t i;

	for (i = 0; recs && recs->type == YNODE_SEQ && i < recs->n; i++) {
		const struct ynode *n = ynode_get(recs->items[i], "name"),
		    *t = ynode_get(recs->items[i], "type");

		if (n && t && n->type == YNODE_SCALAR && t->type == YNODE_SCALAR &&
		    strcmp(n->str, name) == 0 && strcmp(t->str, type) == 0)
			return (long)i;
	}
	return -1;
}

static int
edit_dns(struct bot *b, struct mut *mu, int add, char **av, size_t ac)
{
	static const char *const records[] = { "records" };
	const char *type, *value = add ? av[2] : NULL, *why;
	const char *zarg = ac > (add ? 3u : 2u) ? av[add ? 3 : 2] : NULL;
	const struct zone *z;
	struct buf src = BUF_INIT;
	struct ynode *root = NULL;
	char path[300], *rel = NULL, *out = NULL;
	size_t outlen = 0;
	long idx;
	int rc;

	if (!(type = record_type(b, av[1])))
		return ERR_DENIED;
	if (!(z = pick_zone(b, mu, av[0], zarg, &rel)))
		return ERR_DENIED;
	if (!valid_record_name(rel)) {
		rc = bot_refuse(b, "'%s' is not a record name in %s (labels of a-z 0-9 - _, \"@\" for "
		    "the apex)", rel, z->name);
		goto out;
	}
	if (add && (why = record_value_problem(type, value))) {
		rc = bot_refuse(b, "'%s': %s", value, why);
		goto out;
	}
	snprintf(path, sizeof(path), "dns/%s.yaml", z->name);
	if ((rc = bot_load_yaml(b, mu->head, path, &src, &root)) != OK) {
		rc = bot_refuse(b, "%s", err_last());
		goto out;
	}
	idx = record_index(root, rel, type);
	if (add) {
		struct edit_pair pairs[3] = { { "name", rel, NULL, 0 }, { "type", type, NULL, 0 },
			{ "value", value, NULL, 0 } };

		if (idx >= 0) {
			rc = bot_refuse(b, "%s %s already exists in %s; `dns rm %s %s %s` first", rel, type,
			    z->name, rel, type, z->name);
			goto out;
		}
		rc = edit_seq_append(&out, &outlen, src.data, src.len, records, 1, pairs, 3);
		buf_printf(&mu->subject, "dns add %s %s %s (%s)", rel, type, value, z->name);
	} else {
		if (idx < 0) {
			rc = bot_refuse(b, "there is no %s record '%s' in %s", type, rel, z->name);
			goto out;
		}
		rc = edit_seq_remove(&out, &outlen, src.data, src.len, records, 1, (size_t)idx);
		buf_printf(&mu->subject, "dns rm %s %s (%s)", rel, type, z->name);
	}
	if (rc != OK) {
		rc = err_set(ERR_INVALID, "%s: %s", path, err_last());
		goto out;
	}
	rc = mut_write(mu, path, out, outlen);
out:
	free(rel);
	ynode_free(root);
	buf_dispose(&src);
	return rc;
}

int
bot_edit_dns_add(struct bot *b, struct mut *mu, char **av, size_t ac)
{
	return edit_dns(b, mu, 1, av, ac);
}

int
bot_edit_dns_rm(struct bot *b, struct mut *mu, char **av, size_t ac)
{
	return edit_dns(b, mu, 0, av, ac);
}

/* Does the commit change policy.yaml? (callback) */
int
bot_touches_policy(void *ctx, const char *path)
{
	(void)ctx;
	return strcmp(path, "policy.yaml") == 0;
}

static int
subject_of(void *ctx, const struct repo_log_entry *e)
{
	buf_puts(ctx, e->subject);
	return 1;
}

int
bot_edit_revert(struct bot *b, struct mut *mu, char **av, size_t ac)
{
	char s7[8];
	const char *p;
	int rc;

	(void)ac;
	for (p = av[0]; *p; p++)
		if (!strchr("0123456789abcdefABCDEF", *p))
			break;
	if (*p || strlen(av[0]) < 4 || strlen(av[0]) > 40)
		return bot_refuse(b, "'%s' is not a commit id (4 to 40 hex digits)", av[0]);
	if ((rc = repo_expand_sha(b->repo, av[0], mu->revert)) != OK)
		return bot_refuse(b, "%s", err_last());
	if (!repo_is_ancestor(b->repo, mu->revert, mu->head))
		return bot_refuse(b, "%.7s is not on %s", mu->revert, b->cfg->branch);
	buf_printf(&mu->subject, "revert %s \"", bot_short_sha(mu->revert, s7));
	if (repo_log(b->repo, mu->revert, 1, subject_of, &mu->subject) < 0)
		return bot_fail(b, "reading the commit");
	buf_putc(&mu->subject, '"');
	return OK;
}
