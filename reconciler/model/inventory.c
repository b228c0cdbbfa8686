/*
 * inventory.c - schema v1 loader and per-file validation.  See inventory.h.
 *
 * Every file is checked on its own (name, size, UTF-8, YAML syntax, keys,
 * types, patterns), then the whole (references, IPs, DNS names).  Problems
 * are collected, never fatal one by one: a reviewer wants the whole list.
 */
#include "model/inventory.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "git/repo.h"
#include "model/policy.h"

struct loader {
	struct model *m;
	struct diags d;
	size_t ahosts, aroles, aservices, azones;
	struct model *base;            /* borrowed; reuse source, or NULL */
	size_t host_hint;              /* cursor into base->hosts */
	unsigned char oid[20];         /* of the file being offered */
	int have_oid;
};

static void
set_origin(struct loader *l, struct origin *o)
{
	if (l->have_oid)
		memcpy(o->oid, l->oid, sizeof(o->oid));
}

/* Where a value came from, for messages. */
struct fctx {
	struct loader *l;
	const char *file;
	int quiet;        /* a stand-in for a broken file: report nothing more */
};

static void
problem(const struct fctx *c, const struct ynode *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
problem(const struct fctx *c, const struct ynode *n, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (c->quiet)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diags_add(&c->l->d, c->file, n ? n->line : 0, n ? n->col : 0, "%s", msg);
}

struct loader *
loader_new(void)
{
	struct loader *l = xcalloc(1, sizeof(*l));

	l->m = xcalloc(1, sizeof(*l->m));
	return l;
}

/* Keys outside `allowed` are problems, with a did-you-mean. */
static void
check_keys(const struct fctx *c, const struct ynode *map, const char *const *allowed,
    size_t n, const char *what)
{
	if (!c->quiet)
		diags_unknown_keys(&c->l->d, c->file, map, allowed, n, what);
}

/*
 * A string field: absent or null gives NULL; a list or mapping is a
 * problem.  Plain numbers are taken as their text ("1.10" stays "1.10").
 */
static const struct ynode *
get_scalar(const struct fctx *c, const struct ynode *map, const char *key)
{
	const struct ynode *n = ynode_get(map, key);

	if (!n)
		return NULL;
	if (n->type != YNODE_SCALAR) {
		problem(c, n, "'%s' must be a single value, not %s", key, ynode_type_name(n));
		return NULL;
	}
	if (ynode_scalar_kind(n) == YSCALAR_NULL)
		return NULL;
	return n;
}

/*
 * Is a required key missing: absent, or there with nothing (`key:`,
 * `key: ~`)?  get_scalar() gives NULL for both, so a check for absence
 * alone let `zone_id: ~` pass and the renderers crash on the NULL (found
 * by fuzz_inventory).
 */
static int
missing(const struct ynode *map, const char *key)
{
	const struct ynode *n = ynode_get(map, key);

	return !n || (n->type == YNODE_SCALAR && ynode_scalar_kind(n) == YSCALAR_NULL);
}

/* A string field that must match `valid`; `what` names the pattern. */
static char *
get_name(const struct fctx *c, const struct ynode *map, const char *key,
    int (*valid)(const char *), const char *what, int *line)
{
	const struct ynode *n = get_scalar(c, map, key);

	if (line)
		*line = n ? n->line : 0;
	if (!n)
		return NULL;
	if (strlen(n->str) != n->len || !valid(n->str)) {
		problem(c, n, "'%s' is not a valid %s for '%s'", n->str, what, key);
		return NULL;
	}
	return xstrdup(n->str);
}

/* A list of names; a single name is not accepted as a list (it is a
 * common mistake to write `classes: profile::web`). */
static void
get_names(const struct fctx *c, const struct ynode *map, const char *key,
    int (*valid)(const char *), const char *what, struct strlist *out)
{
	const struct ynode *n = ynode_get(map, key);
	size_t i;

	if (!n || (n->type == YNODE_SCALAR && ynode_scalar_kind(n) == YSCALAR_NULL))
		return;
	if (n->type != YNODE_SEQ) {
		problem(c, n, "'%s' must be a list, not %s", key, ynode_type_name(n));
		return;
	}
	for (i = 0; i < n->n; i++) {
		const struct ynode *it = n->items[i];

		if (it->type != YNODE_SCALAR || ynode_scalar_kind(it) == YSCALAR_NULL) {
			problem(c, it, "items of '%s' must be names, not %s", key,
			    ynode_type_name(it));
			continue;
		}
		if (strlen(it->str) != it->len || !valid(it->str)) {
			problem(c, it, "'%s' is not a valid %s in '%s'", it->str, what, key);
			continue;
		}
		strlist_push(out, it->str, it->line);
	}
}

/* A parameters mapping: top-level keys must be Puppet variable names. */
static struct ynode *
get_params(const struct fctx *c, struct ynode *map, const char *key)
{
	struct ynode *n = ynode_get(map, key);
	size_t i, j;

	if (!n || (n->type == YNODE_SCALAR && ynode_scalar_kind(n) == YSCALAR_NULL))
		return NULL;
	if (n->type != YNODE_MAP) {
		problem(c, n, "'%s' must be a mapping, not %s", key, ynode_type_name(n));
		return NULL;
	}
	for (i = 0; i < n->n; i++)
		if (!valid_param_key(n->keys[i]->str)) {
			problem(c, n->keys[i], "'%s' is not a valid parameter name",
			    n->keys[i]->str);
			return NULL;
		}
	/* Steal it from the document: detach so freeing the root keeps it. */
	for (j = 0; j < map->n; j++)
		if (map->items[j] == n) {
			map->items[j] = ynode_new_scalar("", 0);
			break;
		}
	return n;
}

static int
get_uint(const struct fctx *c, const struct ynode *map, const char *key,
    unsigned long min, unsigned long max, unsigned long *out)
{
	const struct ynode *n = get_scalar(c, map, key);
	uint64_t v;

	if (!n)
		return 0;
	if (n->quoted || parse_u64(&v, n->str, min, max) != OK) {
		problem(c, n, "'%s' must be a whole number from %lu to %lu, not '%s'",
		    key, min, max, n->str);
		return 0;
	}
	*out = (unsigned long)v;
	return 1;
}

/* "hosts/<name>.yaml" -> "<name>" when it is valid for `valid`. */
static char *
file_stem(const struct fctx *c, const char *name, int (*valid)(const char *),
    const char *what)
{
	size_t n = strlen(name);
	char *stem;

	if (n <= 5 || !str_has_suffix(name, ".yaml")) {
		diags_add(&c->l->d, c->file, 0, 0, "not a .yaml file (the %s directory holds "
		    "only <name>.yaml files)", what);
		return NULL;
	}
	stem = xstrndup(name, n - 5);
	if (!(what[0] == 'h' ? valid_fqdn(stem) : valid(stem))) {
		diags_add(&c->l->d, c->file, 0, 0, "'%s' is not a valid %s name", stem, what);
		free(stem);
		return NULL;
	}
	return stem;
}

static const char *const host_keys[] = {
	"role", "environment", "ip", "state", "classes", "params",
};

static void
load_host(struct loader *l, const struct fctx *c, char *fqdn, struct ynode *root)
{
	struct host h;
	const struct ynode *st;

	memset(&h, 0, sizeof(h));
	h.fqdn = fqdn;
	set_origin(l, &h.origin);
	h.zone_idx = MODEL_NO_ZONE;
	check_keys(c, root, host_keys, sizeof(host_keys) / sizeof(*host_keys), "a host");
	h.state = HOST_ACTIVE;
	if ((st = get_scalar(c, root, "state"))) {
		if (strcmp(st->str, "active") == 0)
			h.state = HOST_ACTIVE;
		else if (strcmp(st->str, "drained") == 0)
			h.state = HOST_DRAINED;
		else if (strcmp(st->str, "spare") == 0)
			h.state = HOST_SPARE;
		else if (strcmp(st->str, "decommissioned") == 0)
			h.state = HOST_DECOMMISSIONED;
		else
			problem(c, st, "state '%s' is not one of active, drained, spare, "
			    "decommissioned", st->str);
	}
	h.role = get_name(c, root, "role", valid_role, "role name", &h.role_line);
	if (!h.role && missing(root, "role") && (h.state == HOST_ACTIVE ||
	    h.state == HOST_DRAINED))
		problem(c, root, "an %s host needs a 'role'",
		    h.state == HOST_ACTIVE ? "active" : "drained");
	h.environment = get_name(c, root, "environment", valid_env, "environment name", NULL);
	h.ip = get_name(c, root, "ip", valid_ipv4, "IPv4 address", &h.ip_line);
	get_names(c, root, "classes", valid_class, "Puppet class name", &h.classes);
	h.params = get_params(c, root, "params");
	if (l->m->nhosts == l->ahosts) {
		l->ahosts = l->ahosts ? l->ahosts * 2 : 64;
		l->m->hosts = xrealloc(l->m->hosts, l->ahosts * sizeof(*l->m->hosts));
	}
	l->m->hosts[l->m->nhosts++] = h;
}

static const char *const role_keys[] = {
	"classes", "params", "services", "dns", "backends_of", "environment",
};

static void
load_role(struct loader *l, const struct fctx *c, char *name, struct ynode *root)
{
	struct role r;

	memset(&r, 0, sizeof(r));
	r.name = name;
	set_origin(l, &r.origin);
	check_keys(c, root, role_keys, sizeof(role_keys) / sizeof(*role_keys), "a role");
	get_names(c, root, "classes", valid_class, "Puppet class name", &r.classes);
	r.params = get_params(c, root, "params");
	get_names(c, root, "services", valid_service, "service name", &r.services);
	get_names(c, root, "dns", valid_record_name, "DNS name", &r.dns);
	r.backends_of = get_name(c, root, "backends_of", valid_role, "role name",
	    &r.backends_line);
	r.environment = get_name(c, root, "environment", valid_env, "environment name", NULL);
	if (l->m->nroles == l->aroles) {
		l->aroles = l->aroles ? l->aroles * 2 : 16;
		l->m->roles = xrealloc(l->m->roles, l->aroles * sizeof(*l->m->roles));
	}
	l->m->roles[l->m->nroles++] = r;
}

static const char *const service_keys[] = { "version", "environments", "hiera_key" };

static int
service_env_cmp(const void *x, const void *y)
{
	return strcmp(((const struct service_env *)x)->env, ((const struct service_env *)y)->env);
}

static void
load_service(struct loader *l, const struct fctx *c, char *name, struct ynode *root)
{
	struct service s;
	const struct ynode *envs;
	size_t i;

	memset(&s, 0, sizeof(s));
	s.name = name;
	set_origin(l, &s.origin);
	check_keys(c, root, service_keys, sizeof(service_keys) / sizeof(*service_keys),
	    "a service");
	s.version = get_name(c, root, "version", valid_version, "version", NULL);
	if (!s.version && missing(root, "version"))
		problem(c, root, "a service needs a 'version'");
	s.hiera_key = get_name(c, root, "hiera_key", valid_hiera_key, "Hiera key",
	    &s.hiera_line);
	if (!s.hiera_key && missing(root, "hiera_key"))
		s.hiera_key = xasprintf("%s::version", name);
	envs = ynode_get(root, "environments");
	if (envs && envs->type != YNODE_MAP &&
	    !(envs->type == YNODE_SCALAR && ynode_scalar_kind(envs) == YSCALAR_NULL))
		problem(c, envs, "'environments' must be a mapping of environment to "
		    "version, not %s", ynode_type_name(envs));
	else if (envs && envs->type == YNODE_MAP) {
		s.envs = xcalloc(envs->n ? envs->n : 1, sizeof(*s.envs));
		for (i = 0; i < envs->n; i++) {
			const struct ynode *k = envs->keys[i], *v = envs->items[i];

			if (!valid_env(k->str)) {
				problem(c, k, "'%s' is not a valid environment name", k->str);
				continue;
			}
			if (v->type != YNODE_SCALAR || ynode_scalar_kind(v) == YSCALAR_NULL ||
			    strlen(v->str) != v->len || !valid_version(v->str)) {
				problem(c, v, "'%s' is not a valid version for environment '%s'",
				    v->type == YNODE_SCALAR ? v->str : ynode_type_name(v), k->str);
				continue;
			}
			s.envs[s.nenvs].env = xstrdup(k->str);
			s.envs[s.nenvs].version = xstrdup(v->str);
			s.nenvs++;
		}
		xqsort(s.envs, s.nenvs, sizeof(*s.envs), service_env_cmp);
	}
	if (l->m->nservices == l->aservices) {
		l->aservices = l->aservices ? l->aservices * 2 : 16;
		l->m->services = xrealloc(l->m->services, l->aservices * sizeof(*l->m->services));
	}
	l->m->services[l->m->nservices++] = s;
}

static const char *const zone_keys[] = { "zone_id", "ttl", "records" };
static const char *const record_keys[] = { "name", "type", "value", "values", "ttl" };

/* Record values: no newlines or quotes that would break out of a record;
 * A and AAAA must be addresses. */
static int
record_value_ok(const char *type, const char *v, size_t len)
{
	size_t i;

	if (len == 0 || len > 4000 || strlen(v) != len)
		return 0;
	if (strcmp(type, "A") == 0)
		return valid_ipv4(v);
	if (strcmp(type, "AAAA") == 0)
		return valid_ipv6(v);
	for (i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return 0;
	return 1;
}

static void
load_record(const struct fctx *c, struct zone *z, const struct ynode *it)
{
	struct record rec;
	const struct ynode *v, *vs;
	char *name, *type;
	size_t i;
	int line;

	memset(&rec, 0, sizeof(rec));
	if (it->type != YNODE_MAP) {
		problem(c, it, "a record must be a mapping with name, type and value(s), "
		    "not %s", ynode_type_name(it));
		return;
	}
	check_keys(c, it, record_keys, sizeof(record_keys) / sizeof(*record_keys), "a record");
	name = get_name(c, it, "name", valid_record_name, "record name", &line);
	type = get_name(c, it, "type", valid_record_type,
	    "record type (A AAAA CAA CNAME MX NS PTR SRV TXT)", NULL);
	if (missing(it, "name"))
		problem(c, it, "a record needs a 'name' ('@' for the zone apex)");
	if (missing(it, "type"))
		problem(c, it, "a record needs a 'type'");
	get_uint(c, it, "ttl", 1, 2147483647ul, &rec.ttl);
	v = ynode_get(it, "value");
	vs = ynode_get(it, "values");
	if (v && vs)
		problem(c, vs, "a record has 'value' or 'values', not both");
	else if (!v && !vs)
		problem(c, it, "a record needs a 'value' or 'values'");
	if (type && v && !vs) {
		if (v->type != YNODE_SCALAR || ynode_scalar_kind(v) == YSCALAR_NULL)
			problem(c, v, "'value' must be a single value, not %s", ynode_type_name(v));
		else if (!record_value_ok(type, v->str, v->len))
			problem(c, v, "'%s' is not a valid %s record value", v->str, type);
		else
			strlist_push(&rec.values, v->str, v->line);
	}
	if (type && vs && !v) {
		if (vs->type != YNODE_SEQ || vs->n == 0)
			problem(c, vs, "'values' must be a non-empty list, not %s",
			    ynode_type_name(vs));
		else
			for (i = 0; i < vs->n; i++) {
				const struct ynode *x = vs->items[i];

				if (x->type != YNODE_SCALAR || ynode_scalar_kind(x) == YSCALAR_NULL)
					problem(c, x, "record values must be single values, not %s",
					    ynode_type_name(x));
				else if (!record_value_ok(type, x->str, x->len))
					problem(c, x, "'%s' is not a valid %s record value", x->str, type);
				else
					strlist_push(&rec.values, x->str, x->line);
			}
	}
	if (type && strcmp(type, "CNAME") == 0 && rec.values.n > 1)
		problem(c, vs, "a CNAME has exactly one value");
	if (!name || !type || rec.values.n == 0) {
		free(name);
		free(type);
		strlist_dispose(&rec.values);
		return;
	}
	rec.name = name;
	rec.type = type;
	rec.line = it->line;
	z->records = xrealloc(z->records, (z->nrecords + 1) * sizeof(*z->records));
	z->records[z->nrecords++] = rec;
}

static void
load_zone(struct loader *l, const struct fctx *c, char *name, struct ynode *root)
{
	struct zone z;
	const struct ynode *recs;
	size_t i;

	memset(&z, 0, sizeof(z));
	z.name = name;
	set_origin(l, &z.origin);
	z.ttl = 300;
	check_keys(c, root, zone_keys, sizeof(zone_keys) / sizeof(*zone_keys), "a zone");
	z.zone_id = get_name(c, root, "zone_id", valid_zone_id, "Route53 zone id", NULL);
	if (missing(root, "zone_id"))
		problem(c, root, "a zone needs a 'zone_id' (the Route53 hosted zone id)");
	get_uint(c, root, "ttl", 1, 2147483647ul, &z.ttl);
	recs = ynode_get(root, "records");
	if (recs && recs->type != YNODE_SEQ &&
	    !(recs->type == YNODE_SCALAR && ynode_scalar_kind(recs) == YSCALAR_NULL))
		problem(c, recs, "'records' must be a list, not %s", ynode_type_name(recs));
	else if (recs && recs->type == YNODE_SEQ)
		for (i = 0; i < recs->n; i++)
			load_record(c, &z, recs->items[i]);
	if (l->m->nzones == l->azones) {
		l->azones = l->azones ? l->azones * 2 : 8;
		l->m->zones = xrealloc(l->m->zones, l->azones * sizeof(*l->m->zones));
	}
	l->m->zones[l->m->nzones++] = z;
}

enum file_kind { FILE_HOST, FILE_ROLE, FILE_SERVICE, FILE_ZONE, FILE_POLICY };

static const struct {
	const char *dir;           /* with the trailing slash */
	const char *what;
	int (*valid)(const char *);
	enum file_kind kind;
} dirs[] = {
	{ "hosts/", "host", valid_fqdn, FILE_HOST },
	{ "roles/", "role", valid_role, FILE_ROLE },
	{ "services/", "service", valid_service, FILE_SERVICE },
	{ "dns/", "zone", valid_zone, FILE_ZONE },
};

void
loader_set_base(struct loader *l, struct model *base)
{
	l->base = base;
	/* Nearly every host is copied from the base: room for them at once
	 * rather than 11 doublings of a 100k-entry array. */
	if (base && base->nhosts > l->ahosts) {
		l->ahosts = base->nhosts;
		l->m->hosts = xrealloc(l->m->hosts, l->ahosts * sizeof(*l->m->hosts));
	}
}

void
loader_set_oid(struct loader *l, const unsigned char *oid)
{
	l->have_oid = oid != NULL;
	if (oid)
		memcpy(l->oid, oid, sizeof(l->oid));
}

/* "hosts/web-01.example.com.yaml" -> "web-01.example.com" in out. */
static int
stem_of(const char *path, size_t dirlen, char *out, size_t n)
{
	size_t len = strlen(path);

	if (len <= dirlen + 5 || !str_has_suffix(path, ".yaml") || len - dirlen - 5 >= n)
		return 0;
	memcpy(out, path + dirlen, len - dirlen - 5);
	out[len - dirlen - 5] = '\0';
	return 1;
}

int
loader_reuse(struct loader *l, const char *path, const unsigned char *oid)
{
	struct model *b = l->base;
	char name[300];

	if (!b)
		return 0;
	if (strncmp(path, "hosts/", 6) == 0 && stem_of(path, 6, name, sizeof(name))) {
		/* Git lists entries in name order, nearly the hosts' order. */
		size_t i = model_host_index(b, name, l->host_hint);
		struct host *h;

		if (i == (size_t)-1)
			return 0;
		l->host_hint = i + 1;
		h = &b->hosts[i];
		if (memcmp(h->origin.oid, oid, 20) != 0)
			return 0;
		if (l->m->nhosts == l->ahosts) {
			l->ahosts = l->ahosts ? l->ahosts * 2 : 64;
			l->m->hosts = xrealloc(l->m->hosts, l->ahosts * sizeof(*l->m->hosts));
		}
		host_share(&l->m->hosts[l->m->nhosts++], h);
		return 1;
	}
	if (strncmp(path, "roles/", 6) == 0 && stem_of(path, 6, name, sizeof(name))) {
		const struct role *r = model_role(b, name);

		if (!r || memcmp(r->origin.oid, oid, 20) != 0)
			return 0;
		if (l->m->nroles == l->aroles) {
			l->aroles = l->aroles ? l->aroles * 2 : 16;
			l->m->roles = xrealloc(l->m->roles, l->aroles * sizeof(*l->m->roles));
		}
		role_copy(&l->m->roles[l->m->nroles++], r);
		return 1;
	}
	if (strncmp(path, "services/", 9) == 0 && stem_of(path, 9, name, sizeof(name))) {
		const struct service *sv = model_service(b, name);

		if (!sv || memcmp(sv->origin.oid, oid, 20) != 0)
			return 0;
		if (l->m->nservices == l->aservices) {
			l->aservices = l->aservices ? l->aservices * 2 : 16;
			l->m->services = xrealloc(l->m->services,
			    l->aservices * sizeof(*l->m->services));
		}
		service_copy(&l->m->services[l->m->nservices++], sv);
		return 1;
	}
	if (strncmp(path, "dns/", 4) == 0 && stem_of(path, 4, name, sizeof(name))) {
		const struct zone *z = model_zone(b, name);

		if (!z || memcmp(z->origin.oid, oid, 20) != 0)
			return 0;
		if (l->m->nzones == l->azones) {
			l->azones = l->azones ? l->azones * 2 : 8;
			l->m->zones = xrealloc(l->m->zones, l->azones * sizeof(*l->m->zones));
		}
		zone_copy(&l->m->zones[l->m->nzones++], z);
		return 1;
	}
	return 0;
}

void
loader_add(struct loader *l, const char *path, const char *data, size_t len)
{
	struct fctx c = { l, path, 0 };
	struct ynode *root = NULL;
	char *stem = NULL;
	size_t i, dl = 0;
	int line, col, rc, found = -1;

	if (strcmp(path, "policy.yaml") == 0) {
		found = FILE_POLICY;
	} else {
		for (i = 0; i < sizeof(dirs) / sizeof(*dirs); i++) {
			dl = strlen(dirs[i].dir);
			if (strncmp(path, dirs[i].dir, dl) == 0) {
				found = (int)i;
				break;
			}
		}
		if (found < 0)
			return;     /* README.md and friends are not ours */
		if (strchr(path + dl, '/')) {
			diags_add(&l->d, path, 0, 0, "%s files live directly in %s, not in "
			    "subdirectories", dirs[found].what, dirs[found].dir);
			return;
		}
		if (!(stem = file_stem(&c, path + dl, dirs[found].valid, dirs[found].what)))
			return;
	}
	if (!data || len > INVENTORY_MAX_FILE) {
		diags_add(&l->d, path, 0, 0, "file is %zu bytes, over the limit of %u",
		    len, INVENTORY_MAX_FILE);
		free(stem);
		return;
	}
	rc = ydoc_parse(&root, data, len, &YDOC_DEFAULT_LIMITS, &line, &col);
	if (rc != OK)
		diags_add(&l->d, path, line, col, "%s", err_last());
	else if (root->type != YNODE_MAP)
		problem(&c, root, "the file must be a mapping of keys to values, not %s",
		    ynode_type_name(root));
	if (rc != OK || root->type != YNODE_MAP) {
		ynode_free(root);
		root = NULL;
		if (found == FILE_POLICY)
			return;
		/* The file exists, only broken: load it as empty so references
		 * to it do not add a misleading "has no file". */
		{
			struct ynode empty;

			memset(&empty, 0, sizeof(empty));
			empty.type = YNODE_MAP;
			root = ynode_dup(&empty);
			c.quiet = 1;
		}
		if (dirs[found].kind == FILE_HOST) {
			ynode_free(root);
			free(stem);
			return;
		}
	}
	if (found == FILE_POLICY) {
		/* Only a hand-made tree object holds a name twice; which one a
		 * checkout shows is anyone's guess, so neither is taken (found
		 * by fuzz_inventory: the first was leaked, the second won). */
		if (l->m->policy_root) {
			diags_add(&l->d, path, 0, 0, "this file appears twice in the tree");
			ynode_free(root);
			return;
		}
		l->m->policy = policy_parse(root, path, &l->d);
		l->m->policy_src = xstrndup(data, len);
		l->m->policy_len = len;
		l->m->policy_root = root;
		return;
	}
	switch (dirs[found].kind) {
	case FILE_HOST:
		load_host(l, &c, stem, root);
		break;
	case FILE_ROLE:
		load_role(l, &c, stem, root);
		break;
	case FILE_SERVICE:
		load_service(l, &c, stem, root);
		break;
	case FILE_ZONE:
		load_zone(l, &c, stem, root);
		break;
	case FILE_POLICY:
		break;
	}
	ynode_free(root);
}

void
loader_add_other(struct loader *l, const char *path)
{
	size_t i;

	if (strcmp(path, "policy.yaml") == 0) {
		diags_add(&l->d, path, 0, 0, "policy.yaml must be a file");
		return;
	}
	for (i = 0; i < sizeof(dirs) / sizeof(*dirs); i++)
		if (strncmp(path, dirs[i].dir, strlen(dirs[i].dir)) == 0) {
			diags_add(&l->d, path, 0, 0, "%s files live directly in %s; this is "
			    "not a regular file", dirs[i].what, dirs[i].dir);
			return;
		}
}

static int
name_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static void
check_refs(struct loader *l)
{
	struct model *m = l->m;
	size_t i, j;
	int same;
	char file[600];

	/* Hosts copied from a base keep its indices when the roles and zones
	 * are the same names in the same order (the usual one-host commit). */
	same = l->base && l->base->nroles == m->nroles && l->base->nzones == m->nzones;
	for (i = 0; same && i < m->nroles; i++)
		same = strcmp(l->base->roles[i].name, m->roles[i].name) == 0;
	for (i = 0; same && i < m->nzones; i++)
		same = strcmp(l->base->zones[i].name, m->zones[i].name) == 0;
	for (i = 0; i < m->nhosts; i++) {
		struct host *h = &m->hosts[i];
		const struct role *r;

		if (same && h->origin.reused)
			continue;
		/* A host's own name is its zone's A record only when it lies
		 * inside a zone; hosts in no zone get none. */
		h->zone_idx = model_zone_of(m, h->fqdn);
		if (!h->role)
			continue;
		if ((r = model_role(m, h->role))) {
			h->role_idx = (size_t)(r - m->roles);
			continue;
		}
		snprintf(file, sizeof(file), "hosts/%s.yaml", h->fqdn);
		diags_add(&l->d, file, h->role_line, 0, "role '%s' has no file roles/%s.yaml",
		    h->role, h->role);
	}
	for (i = 0; i < m->nroles; i++) {
		struct role *r = &m->roles[i];

		snprintf(file, sizeof(file), "roles/%s.yaml", r->name);
		if (r->backends_of) {
			const struct role *b = model_role(m, r->backends_of);

			if (b)
				r->backends_idx = (size_t)(b - m->roles);
			else
				diags_add(&l->d, file, r->backends_line, 0,
				    "backends_of names role '%s', which has no file roles/%s.yaml",
				    r->backends_of, r->backends_of);
		}
		for (j = 0; j < r->services.n; j++)
			if (!model_service(m, r->services.v[j]))
				diags_add(&l->d, file, r->services.lines[j], 0,
				    "service '%s' has no file services/%s.yaml",
				    r->services.v[j], r->services.v[j]);
	}
	for (i = 1; i < m->nservices; i++)
		for (j = 0; j < i; j++)
			if (m->services[i].hiera_key && m->services[j].hiera_key &&
			    strcmp(m->services[i].hiera_key, m->services[j].hiera_key) == 0) {
				snprintf(file, sizeof(file), "services/%s.yaml", m->services[i].name);
				diags_add(&l->d, file, m->services[i].hiera_line, 0,
				    "hiera_key '%s' is also the key of service '%s'",
				    m->services[i].hiera_key, m->services[j].name);
			}
}

/*
 * Only a hand-made tree object holds one name twice, and which of the two
 * a checkout shows is anyone's guess: neither is taken.  `v` holds n
 * entities of `size` bytes, sorted, each starting with its name (found by
 * fuzz_inventory: a host twice rendered two ENC documents at one path).
 */
static void
check_twice(struct loader *l, const void *v, size_t n, size_t size, const char *dir)
{
	const char *p = v;
	char file[600];
	size_t i;

	for (i = 1; i < n; i++)
		if (strcmp(*(char *const *)(p + (i - 1) * size), *(char *const *)(p + i * size)) == 0) {
			snprintf(file, sizeof(file), "%s%s.yaml", dir, *(char *const *)(p + i * size));
			diags_add(&l->d, file, 0, 0, "this file appears twice in the tree");
		}
}

int
loader_finish(struct loader *l, struct model **out, struct diags *d)
{
	struct model *m = l->m;
	size_t i;
	int rc = OK;

	*out = NULL;
	xqsort(m->hosts, m->nhosts, sizeof(*m->hosts), name_cmp);
	xqsort(m->roles, m->nroles, sizeof(*m->roles), name_cmp);
	xqsort(m->services, m->nservices, sizeof(*m->services), name_cmp);
	xqsort(m->zones, m->nzones, sizeof(*m->zones), name_cmp);
	check_twice(l, m->hosts, m->nhosts, sizeof(*m->hosts), "hosts/");
	check_twice(l, m->roles, m->nroles, sizeof(*m->roles), "roles/");
	check_twice(l, m->services, m->nservices, sizeof(*m->services), "services/");
	check_twice(l, m->zones, m->nzones, sizeof(*m->zones), "dns/");
	if (!m->policy)
		m->policy = policy_empty();
	check_refs(l);
	if (l->d.n == 0)
		validate_model_from(&l->d, m, l->base);
	if (l->d.n) {
		diags_sort(&l->d);
		for (i = 0; i < l->d.n; i++) {
			struct diag *g = &l->d.v[i];

			diags_add(d, g->file, g->line, g->col, "%s", g->message);
		}
		model_free(m);
		rc = ERR_INVALID;
	} else {
		*out = m;
	}
	diags_dispose(&l->d);
	free(l);
	return rc;
}

struct walk {
	struct loader *l;
	const char *dir;        /* "hosts/" or "" */
	char path[512];
};

/* Files the base already has, blob for blob, are copied, not read. */
static int
walk_want(void *ctx, const char *name, const unsigned char *oid)
{
	struct walk *w = ctx;

	size_t dl, nl;

	if (!*w->dir)
		return strcmp(name, "policy.yaml") == 0;
	/* memcpy, not snprintf: this runs for each of 100k hosts. */
	dl = strlen(w->dir);
	nl = strlen(name);
	if (dl + nl >= sizeof(w->path))
		return 1;
	memcpy(w->path, w->dir, dl);
	memcpy(w->path + dl, name, nl + 1);
	return !loader_reuse(w->l, w->path, oid);
}

static int
walk_file(void *ctx, const char *name, const unsigned char *oid, int is_blob,
    const char *data, size_t len)
{
	struct walk *w = ctx;
	int n;

	loader_set_oid(w->l, oid);
	n = snprintf(w->path, sizeof(w->path), "%s%s", w->dir, name);
	if (n < 0 || (size_t)n >= sizeof(w->path)) {
		diags_add(&w->l->d, w->dir, 0, 0, "an entry name is too long");
		return 0;
	}
	if (!*w->dir && strcmp(name, "policy.yaml") != 0)
		return 0;
	if (!is_blob)
		loader_add_other(w->l, w->path);
	else
		loader_add(w->l, w->path, data, len);
	return 0;
}

int
inventory_load(struct model **out, struct diags *d, struct repo *r, const char *sha)
{
	return inventory_load_from(out, d, r, sha, NULL);
}

/* The second half of a big directory, walked on its own thread. */
struct half {
	struct walk w;
	struct repo *r;
	const char *sha, *dir;
	size_t from, to;
	int rc;
	char err[1024];
};

static void *
walk_half(void *arg)
{
	struct half *h = arg;

	h->rc = repo_each_file_range(h->r, h->sha, h->dir, INVENTORY_MAX_FILE, h->from, h->to,
	    walk_want, walk_file, &h->w);
	if (h->rc != OK)
		snprintf(h->err, sizeof(h->err), "%s", err_last());
	return NULL;
}

/* Move what a helper loader loaded (hosts only) into `l`, after its own. */
static void
loader_absorb(struct loader *l, struct loader *sub)
{
	size_t i;

	for (i = 0; i < sub->m->nhosts; i++) {
		if (l->m->nhosts == l->ahosts) {
			l->ahosts = l->ahosts ? l->ahosts * 2 : 64;
			l->m->hosts = xrealloc(l->m->hosts, l->ahosts * sizeof(*l->m->hosts));
		}
		l->m->hosts[l->m->nhosts++] = sub->m->hosts[i];
	}
	sub->m->nhosts = 0;
	for (i = 0; i < sub->d.n; i++)
		diags_add(&l->d, sub->d.v[i].file, sub->d.v[i].line, sub->d.v[i].col, "%s",
		    sub->d.v[i].message);
}

/*
 * Walk one directory of the commit into the loader.  hosts/ holds nearly
 * every file of a big inventory, so above a few thousand entries its second
 * half is parsed on a second thread (its own repository handle and loader)
 * while this one parses the first; the halves join in order.
 */
static int
walk_dir(struct walk *w, struct repo *r, const char *sha, const char *dir)
{
	struct half h;
	pthread_t tid;
	size_t n = 0;
	int rc, threaded = 0;

	/* With a base, nearly every host is copied, not parsed: a second
	 * thread would only parse the big tree object a second time. */
	if (strcmp(dir, "hosts") != 0 || util_threads() < 2 || w->l->base ||
	    repo_count_entries(r, sha, dir, &n) != OK || n < 2048)
		return repo_each_file(r, sha, dir, INVENTORY_MAX_FILE, walk_want, walk_file, w);
	memset(&h, 0, sizeof(h));
	h.w.l = loader_new();
	h.w.dir = w->dir;
	loader_set_base(h.w.l, w->l->base);
	h.sha = sha;
	h.dir = dir;
	h.from = n / 2;
	h.to = n;
	if (repo_reopen(&h.r, r) == OK)
		threaded = pthread_create(&tid, NULL, walk_half, &h) == 0;
	rc = repo_each_file_range(r, sha, dir, INVENTORY_MAX_FILE, 0, threaded ? n / 2 : n,
	    walk_want, walk_file, w);
	if (threaded) {
		pthread_join(tid, NULL);
		loader_absorb(w->l, h.w.l);
		if (rc == OK && h.rc != OK)
			rc = err_set(h.rc, "%s", h.err);
	}
	{
		struct model *junk = NULL;
		struct diags none = { NULL, 0, 0 };

		loader_finish(h.w.l, &junk, &none);
		model_free(junk);
		diags_dispose(&none);
	}
	repo_free(h.r);
	return rc;
}

int
inventory_load_from(struct model **out, struct diags *d, struct repo *r, const char *sha,
    struct model *base)
{
	static const char *const walk_dirs[] = { "", "dns/", "hosts/", "roles/", "services/" };
	struct walk w;
	size_t i;
	int rc;

	*out = NULL;
	w.l = loader_new();
	loader_set_base(w.l, base);
	for (i = 0; i < sizeof(walk_dirs) / sizeof(*walk_dirs); i++) {
		char dir[32];

		w.dir = walk_dirs[i];
		snprintf(dir, sizeof(dir), "%s", walk_dirs[i]);
		if (*dir)
			dir[strlen(dir) - 1] = '\0';
		rc = walk_dir(&w, r, sha, dir);
		if (rc == ERR_TOOBIG) {
			/* A folder too big to read (repo.h: REPO_TREE_MAX_ENTRIES)
			 * is the commit's problem, not the machine's: the commit is
			 * invalid, and says where.  repo's message reads
			 * "<folder>: <reason>". */
			const char *msg = err_last(), *sep = strstr(msg, ": ");

			diags_add(&w.l->d, *dir ? walk_dirs[i] : "/", 0, 0, "%s", sep ? sep + 2 : msg);
			if (!*dir)
				break;    /* nothing below the top can be read */
			continue;
		}
		if (rc != OK) {
			struct model *junk = NULL;
			struct diags none = { NULL, 0, 0 };
			char msg[1024];

			/* Keep the git error across the loader's cleanup. */
			snprintf(msg, sizeof(msg), "%s", err_last());
			loader_finish(w.l, &junk, &none);
			model_free(junk);
			diags_dispose(&none);
			return err_set(rc, "%s", msg);
		}
	}
	return loader_finish(w.l, out, d);
}
