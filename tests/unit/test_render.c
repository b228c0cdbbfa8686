/*
 * test_render.c - the three renderers and the registry, byte for byte.
 *
 * Each case builds a small model by hand (the way inventory_load() leaves
 * it: arrays sorted by name, role_idx, backends_idx and zone_idx filled
 * in), runs one renderer (or render_all), and compares whole files and
 * semantic objects with what DESIGN.md says they must be.  Every case is
 * also rendered twice to check the output is deterministic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "renderers/renderer.h"

#define L(...) ((const char *const []){ __VA_ARGS__, NULL })

/* ---- building models ---------------------------------------------------- */

static struct ynode *
yparse(const char *s)
{
	struct ynode *n = NULL;
	int line, col;

	if (!s)
		return NULL;
	assert_int_equal(ydoc_parse(&n, s, strlen(s), NULL, &line, &col), OK);
	return n;
}

static void
push_list(struct strlist *l, const char *const *v)
{
	for (; v && *v; v++)
		strlist_push(l, *v, 1);
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void
t_role(struct model *m, const char *name, const char *const *classes,
    const char *params, const char *env, const char *backends_of,
    const char *const *dns)
{
	struct role *r;

	m->roles = xrealloc(m->roles, (m->nroles + 1) * sizeof(*m->roles));
	r = &m->roles[m->nroles++];
	memset(r, 0, sizeof(*r));
	r->name = xstrdup(name);
	push_list(&r->classes, classes);
	r->params = yparse(params);
	r->environment = dup_or_null(env);
	r->backends_of = dup_or_null(backends_of);
	push_list(&r->dns, dns);
}

static void
t_host(struct model *m, const char *fqdn, const char *role, enum host_state st,
    const char *env, const char *ip, const char *const *classes, const char *params)
{
	struct host *h;

	m->hosts = xrealloc(m->hosts, (m->nhosts + 1) * sizeof(*m->hosts));
	h = &m->hosts[m->nhosts++];
	memset(h, 0, sizeof(*h));
	h->fqdn = xstrdup(fqdn);
	h->role = dup_or_null(role);
	h->state = st;
	h->environment = dup_or_null(env);
	h->ip = dup_or_null(ip);
	push_list(&h->classes, classes);
	h->params = yparse(params);
	h->zone_idx = MODEL_NO_ZONE;
}

/* envs: "env=version" pairs. */
static void
t_service(struct model *m, const char *name, const char *version,
    const char *hiera_key, const char *const *envs)
{
	struct service *s;

	m->services = xrealloc(m->services, (m->nservices + 1) * sizeof(*m->services));
	s = &m->services[m->nservices++];
	memset(s, 0, sizeof(*s));
	s->name = xstrdup(name);
	s->version = xstrdup(version);
	s->hiera_key = hiera_key ? xstrdup(hiera_key) : xasprintf("%s::version", name);
	for (; envs && *envs; envs++) {
		const char *eq = strchr(*envs, '=');

		assert_non_null(eq);
		s->envs = xrealloc(s->envs, (s->nenvs + 1) * sizeof(*s->envs));
		s->envs[s->nenvs].env = xstrndup(*envs, (size_t)(eq - *envs));
		s->envs[s->nenvs].version = xstrdup(eq + 1);
		s->nenvs++;
	}
}

static void
t_zone(struct model *m, const char *name, const char *zone_id, unsigned long ttl)
{
	struct zone *z;

	m->zones = xrealloc(m->zones, (m->nzones + 1) * sizeof(*m->zones));
	z = &m->zones[m->nzones++];
	memset(z, 0, sizeof(*z));
	z->name = xstrdup(name);
	z->zone_id = xstrdup(zone_id);
	z->ttl = ttl;
}

/* A record in the zone added last. */
static void
t_record(struct model *m, const char *name, const char *type, unsigned long ttl,
    const char *const *values)
{
	struct zone *z = &m->zones[m->nzones - 1];
	struct record *r;

	z->records = xrealloc(z->records, (z->nrecords + 1) * sizeof(*z->records));
	r = &z->records[z->nrecords++];
	memset(r, 0, sizeof(*r));
	r->name = xstrdup(name);
	r->type = xstrdup(type);
	r->ttl = ttl;
	push_list(&r->values, values);
}

static int
host_cmp(const void *a, const void *b)
{
	return strcmp(((const struct host *)a)->fqdn, ((const struct host *)b)->fqdn);
}

static int
role_cmp(const void *a, const void *b)
{
	return strcmp(((const struct role *)a)->name, ((const struct role *)b)->name);
}

static int
service_cmp(const void *a, const void *b)
{
	return strcmp(((const struct service *)a)->name, ((const struct service *)b)->name);
}

static int
zone_cmp(const void *a, const void *b)
{
	return strcmp(((const struct zone *)a)->name, ((const struct zone *)b)->name);
}

static int
senv_cmp(const void *a, const void *b)
{
	return strcmp(((const struct service_env *)a)->env, ((const struct service_env *)b)->env);
}

/* The zone whose name is the longest suffix of fqdn at a label boundary. */
static size_t
longest_zone(const struct model *m, const char *fqdn)
{
	size_t i, best = MODEL_NO_ZONE, bestlen = 0, n = strlen(fqdn);

	for (i = 0; i < m->nzones; i++) {
		size_t zl = strlen(m->zones[i].name);

		if (zl > n || strcmp(fqdn + n - zl, m->zones[i].name) != 0)
			continue;
		if (zl < n && fqdn[n - zl - 1] != '.')
			continue;
		if (best == MODEL_NO_ZONE || zl > bestlen) {
			best = i;
			bestlen = zl;
		}
	}
	return best;
}

/* qsort() wants a real pointer even for nothing to sort. */
static void
sort_arr(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

/* What the loader does after reading the files: sort, then resolve. */
static void
t_finish(struct model *m)
{
	size_t i;

	sort_arr(m->hosts, m->nhosts, sizeof(*m->hosts), host_cmp);
	sort_arr(m->roles, m->nroles, sizeof(*m->roles), role_cmp);
	sort_arr(m->services, m->nservices, sizeof(*m->services), service_cmp);
	sort_arr(m->zones, m->nzones, sizeof(*m->zones), zone_cmp);
	for (i = 0; i < m->nservices; i++)
		sort_arr(m->services[i].envs, m->services[i].nenvs,
		    sizeof(*m->services[i].envs), senv_cmp);
	for (i = 0; i < m->nhosts; i++) {
		struct host *h = &m->hosts[i];

		h->zone_idx = longest_zone(m, h->fqdn);
		if (h->role) {
			const struct role *r = model_role(m, h->role);

			assert_non_null(r);
			h->role_idx = (size_t)(r - m->roles);
		}
	}
	for (i = 0; i < m->nroles; i++) {
		struct role *r = &m->roles[i];

		if (r->backends_of) {
			const struct role *b = model_role(m, r->backends_of);

			assert_non_null(b);
			r->backends_idx = (size_t)(b - m->roles);
		}
	}
}

/* ---- the cases ---------------------------------------------------------- */

struct want_file {
	const char *path;
	const char *data;       /* NULL: the artifact must not exist */
};

struct want_obj {
	const char *path;
	const char *name;
	const char *value;
};

struct rcase {
	const char *name;
	void (*build)(struct model *m);
	const char *renderer;   /* a registry name; NULL: render_all() */
	long nartifacts;        /* -1: not checked */
	struct want_file files[6];
	struct want_obj objs[4];
};

/* ENC */

static void
build_enc_classes(struct model *m)
{
	t_role(m, "web", L("profile::base", "profile::web", "profile::base"), NULL, NULL,
	    NULL, NULL);
	t_host(m, "web-01.example.com", "web", HOST_ACTIVE, NULL, "10.0.1.5",
	    L("profile::web", "profile::debug", "profile::debug"), NULL);
}

static void
build_enc_classes_long(struct model *m)
{
	t_role(m, "web", L("a::c1", "a::c2", "a::c3", "a::c4", "a::c5", "a::c6", "a::c7",
	    "a::c8", "a::c9", "a::c10", "a::c3"), NULL, NULL, NULL, NULL);
	t_host(m, "web-01.example.com", "web", HOST_ACTIVE, NULL, NULL,
	    L("a::c2", "b::x", "a::c10", "b::y", "b::x", "a::c1"), NULL);
}

static void
build_enc_env(struct model *m)
{
	t_role(m, "app", NULL, NULL, "staging", NULL, NULL);
	t_role(m, "base", NULL, NULL, NULL, NULL, NULL);
	t_host(m, "a.example.com", "app", HOST_ACTIVE, "qa", NULL, NULL, NULL);
	t_host(m, "b.example.com", "app", HOST_ACTIVE, NULL, NULL, NULL, NULL);
	t_host(m, "c.example.com", "base", HOST_ACTIVE, NULL, NULL, NULL, NULL);
}

static void
build_enc_params(struct model *m)
{
	t_role(m, "web", L("profile::base", "profile::web"),
	    "{nginx_workers: 4, tuning: {b: 2, a: '1'}}", NULL, NULL, NULL);
	t_role(m, "lb", L("profile::lb"),
	    "{backends: [stale], lb_mode: roundrobin, role: overridden}", NULL, "web", NULL);
	t_host(m, "web-10.example.com", "web", HOST_ACTIVE, NULL, NULL, NULL, NULL);
	t_host(m, "web-01.example.com", "web", HOST_ACTIVE, NULL, NULL, NULL,
	    "{nginx_workers: 8}");
	t_host(m, "web-02.example.com", "web", HOST_ACTIVE, NULL, NULL, NULL, NULL);
	t_host(m, "web-03.example.com", "web", HOST_DRAINED, NULL, NULL, NULL, NULL);
	t_host(m, "web-00.example.com", "web", HOST_DECOMMISSIONED, NULL, NULL, NULL, NULL);
	t_host(m, "lb-01.example.com", "lb", HOST_ACTIVE, NULL, NULL, NULL,
	    "{lb_mode: leastconn, extra: \"8\", role: mine}");
}

static void
build_enc_backends_empty(struct model *m)
{
	t_role(m, "web", NULL, NULL, NULL, NULL, NULL);
	t_role(m, "lb", NULL, NULL, NULL, "web", NULL);
	t_host(m, "web-01.example.com", "web", HOST_DRAINED, NULL, NULL, NULL, NULL);
	t_host(m, "lb-01.example.com", "lb", HOST_ACTIVE, NULL, NULL, NULL, NULL);
}

static void
build_enc_spare(struct model *m)
{
	t_role(m, "web", L("profile::web"), "{a: 1}", "staging", NULL, NULL);
	t_host(m, "spare-01.example.com", "web", HOST_SPARE, NULL, NULL,
	    L("profile::debug"), "{x: 1}");
	t_host(m, "spare-02.example.com", NULL, HOST_SPARE, "qa", NULL, NULL, NULL);
}

static void
build_enc_decommissioned(struct model *m)
{
	t_role(m, "web", L("profile::web"), NULL, NULL, NULL, NULL);
	t_host(m, "old-01.example.com", "web", HOST_DECOMMISSIONED, NULL, "10.0.1.9", NULL,
	    NULL);
}

static void
build_enc_types(struct model *m)
{
	t_role(m, "r", NULL, "{port: 8080, port_s: \"8080\", enabled: yes, ratio: 1.5, "
	    "name: web, empty: ~, list: [b, a], ver: \"1.10\"}", NULL, NULL, NULL);
	t_host(m, "h.example.com", "r", HOST_ACTIVE, NULL, NULL, NULL, NULL);
}

/* Route53 */

static void
build_dns_hosts(struct model *m)
{
	t_role(m, "web", NULL, NULL, NULL, NULL, NULL);
	t_zone(m, "example.com", "Z1", 300);
	t_host(m, "web-01.example.com", "web", HOST_ACTIVE, NULL, "10.0.1.5", NULL, NULL);
	t_host(m, "web-03.example.com", "web", HOST_DRAINED, NULL, "10.0.1.7", NULL, NULL);
	t_host(m, "spare-01.example.com", NULL, HOST_SPARE, NULL, "10.0.1.8", NULL, NULL);
	t_host(m, "old-01.example.com", "web", HOST_DECOMMISSIONED, NULL, "10.0.1.9",
	    NULL, NULL);
	t_host(m, "noip.example.com", "web", HOST_ACTIVE, NULL, NULL, NULL, NULL);
	t_host(m, "x.other.org", "web", HOST_ACTIVE, NULL, "10.9.9.9", NULL, NULL);
}

static void
build_dns_suffix(struct model *m)
{
	t_role(m, "web", NULL, NULL, NULL, NULL, NULL);
	t_zone(m, "example.com", "Z1", 300);
	t_zone(m, "dev.example.com", "Z2", 60);
	t_host(m, "a.dev.example.com", "web", HOST_ACTIVE, NULL, "10.0.2.1", NULL, NULL);
	t_host(m, "b.example.com", "web", HOST_ACTIVE, NULL, "10.0.1.1", NULL, NULL);
	t_host(m, "c.notexample.com", "web", HOST_ACTIVE, NULL, "10.0.3.1", NULL, NULL);
}

static void
build_dns_roles(struct model *m)
{
	t_role(m, "web", NULL, NULL, NULL, NULL, L("www", "app"));
	t_zone(m, "example.com", "Z1", 300);
	t_zone(m, "example.net", "Z2", 300);
	t_host(m, "web-01.example.com", "web", HOST_ACTIVE, NULL, "10.0.1.5", NULL, NULL);
	t_host(m, "web-02.example.com", "web", HOST_ACTIVE, NULL, "10.0.1.10", NULL, NULL);
	t_host(m, "web-03.example.com", "web", HOST_DRAINED, NULL, "10.0.1.7", NULL, NULL);
	t_host(m, "web-04.example.net", "web", HOST_DRAINED, NULL, "10.0.2.4", NULL, NULL);
	t_host(m, "web-05.example.com", "web", HOST_ACTIVE, NULL, NULL, NULL, NULL);
}

static void
build_dns_records(struct model *m)
{
	t_zone(m, "example.com", "Z1", 300);
	t_record(m, "@", "MX", 0, L("20 mx2.example.com.", "10 mx1.example.com."));
	t_record(m, "docs", "CNAME", 0, L("web-01.example.com."));
	t_record(m, "@", "TXT", 60, L("v=spf1 -all"));
}

static void
build_dns_labels(struct model *m)
{
	t_role(m, "web", NULL, NULL, NULL, NULL, NULL);
	t_zone(m, "example.com", "Z1", 300);
	t_record(m, "*", "A", 0, L("10.0.0.1"));
	t_record(m, "_dmarc", "TXT", 0, L("v=DMARC1"));
	t_record(m, "a_b", "A", 0, L("10.0.0.3"));
	t_record(m, "x.y", "A", 0, L("10.0.0.6"));
	t_zone(m, "y.example.com", "Z2", 300);
	t_record(m, "x", "A", 0, L("10.0.0.5"));
	t_host(m, "1a.example.com", "web", HOST_ACTIVE, NULL, "10.0.0.2", NULL, NULL);
	t_host(m, "a.b.example.com", "web", HOST_ACTIVE, NULL, "10.0.0.4", NULL, NULL);
}

static void
build_dns_escape(struct model *m)
{
	t_zone(m, "example.com", "Z1", 300);
	t_record(m, "txt", "TXT", 0, L("a${b}c", "100%{x}", "say \"hi\" \\ there",
	    "$ and % alone", "tab\there"));
}

#define A50 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define A254 A50 A50 A50 A50 A50 "aaaa"

/* A DKIM-sized TXT: 254 bytes, then a two-byte character that would make
 * the first string 256 bytes long. */
static void
build_dns_long_txt(struct model *m)
{
	t_zone(m, "example.com", "Z1", 300);
	t_record(m, "dkim", "TXT", 0, L(A254 "\xc3\xa9" "bc"));
}

static void
build_dns_empty(struct model *m)
{
	t_zone(m, "empty.com", "Z9", 300);
}

static void
build_dns_merge(struct model *m)
{
	t_role(m, "web", NULL, NULL, NULL, NULL, L("www"));
	t_zone(m, "example.com", "Z1", 300);
	t_record(m, "www", "A", 60, L("10.0.1.2"));
	t_host(m, "www.example.com", "web", HOST_ACTIVE, NULL, "10.0.1.1", NULL, NULL);
}

/* Pins */

static void
build_pins(struct model *m)
{
	t_role(m, "web", NULL, NULL, NULL, NULL, NULL);
	t_role(m, "canary", NULL, NULL, "canary", NULL, NULL);
	t_service(m, "app", "1.4.2", "profile::app::version", L("staging=1.5.0-rc1"));
	t_service(m, "x", "2.0", NULL, L("qa=2.1"));
	t_service(m, "zz", "1.10", "a::version", NULL);
	t_host(m, "web-01.example.com", "web", HOST_ACTIVE, NULL, NULL, NULL, NULL);
	t_host(m, "web-02.example.com", "web", HOST_DRAINED, "staging", NULL, NULL, NULL);
	t_host(m, "c-01.example.com", "canary", HOST_ACTIVE, NULL, NULL, NULL, NULL);
	t_host(m, "spare-01.example.com", NULL, HOST_SPARE, "dev", NULL, NULL, NULL);
	t_host(m, "old-01.example.com", "web", HOST_DECOMMISSIONED, "old", NULL, NULL, NULL);
}

static void
build_pins_quoted(struct model *m)
{
	t_role(m, "web", NULL, NULL, NULL, NULL, NULL);
	t_service(m, "flag", "true", NULL, NULL);
	t_service(m, "odd", "1.0\"beta", NULL, NULL);
	t_host(m, "web-01.example.com", "web", HOST_ACTIVE, NULL, NULL, NULL, NULL);
}

static void
build_pins_none(struct model *m)
{
	t_role(m, "web", NULL, NULL, NULL, NULL, NULL);
	t_host(m, "web-01.example.com", "web", HOST_ACTIVE, NULL, NULL, NULL, NULL);
}

/* Registry */

static void
build_all(struct model *m)
{
	t_role(m, "web", L("profile::web"), NULL, NULL, NULL, L("www"));
	t_service(m, "app", "1.4.2", NULL, NULL);
	t_zone(m, "example.com", "Z1", 300);
	t_host(m, "web-01.example.com", "web", HOST_ACTIVE, NULL, "10.0.1.5", NULL, NULL);
}

#define A_REC(label, name, ip, ttl, zid) \
	"      \"" label "\": {\n" \
	"        \"name\": \"" name "\",\n" \
	"        \"records\": [\n" \
	"          \"" ip "\"\n" \
	"        ],\n" \
	"        \"ttl\": " ttl ",\n" \
	"        \"type\": \"A\",\n" \
	"        \"zone_id\": \"" zid "\"\n" \
	"      }"
#define TF_HEAD "{\n  \"resource\": {\n    \"aws_route53_record\": {\n"
#define TF_TAIL "\n    }\n  }\n}\n"

static const struct rcase cases[] = {
	{ "enc: role then host classes, without repeats", build_enc_classes, "puppet_enc", 1,
	  { { "enc/web-01.example.com.yaml",
	      "---\n"
	      "classes:\n"
	      "  - profile::base\n"
	      "  - profile::web\n"
	      "  - profile::debug\n"
	      "environment: production\n"
	      "parameters:\n"
	      "  role: web\n" } },
	  { { "enc/web-01.example.com.yaml", "web-01.example.com",
	      "{\"classes\":[\"profile::base\",\"profile::web\",\"profile::debug\"],"
	      "\"environment\":\"production\",\"parameters\":{\"role\":\"web\"}}" } } },

	{ "enc: a long class list loses repeats, keeps order", build_enc_classes_long,
	  "puppet_enc", 1,
	  { { "enc/web-01.example.com.yaml",
	      "---\n"
	      "classes:\n"
	      "  - a::c1\n  - a::c2\n  - a::c3\n  - a::c4\n  - a::c5\n"
	      "  - a::c6\n  - a::c7\n  - a::c8\n  - a::c9\n  - a::c10\n"
	      "  - b::x\n  - b::y\n"
	      "environment: production\n"
	      "parameters:\n"
	      "  role: web\n" } },
	  { { NULL, NULL, NULL } } },

	{ "enc: environment is host's, else role's, else production", build_enc_env,
	  "puppet_enc", 3,
	  { { "enc/a.example.com.yaml",
	      "---\nclasses: []\nenvironment: qa\nparameters:\n  role: app\n" },
	    { "enc/b.example.com.yaml",
	      "---\nclasses: []\nenvironment: staging\nparameters:\n  role: app\n" },
	    { "enc/c.example.com.yaml",
	      "---\nclasses: []\nenvironment: production\nparameters:\n  role: base\n" } },
	  { { "enc/a.example.com.yaml", "a.example.com",
	      "{\"classes\":[],\"environment\":\"qa\",\"parameters\":{\"role\":\"app\"}}" } } },

	{ "enc: host params override role params; role and backends (active, sorted) win",
	  build_enc_params, "puppet_enc", 5,
	  { { "enc/lb-01.example.com.yaml",
	      "---\n"
	      "classes:\n"
	      "  - profile::lb\n"
	      "environment: production\n"
	      "parameters:\n"
	      "  backends:\n"
	      "    - web-01.example.com\n"
	      "    - web-02.example.com\n"
	      "    - web-10.example.com\n"
	      "  extra: \"8\"\n"
	      "  lb_mode: leastconn\n"
	      "  role: lb\n" },
	    { "enc/web-01.example.com.yaml",
	      "---\n"
	      "classes:\n"
	      "  - profile::base\n"
	      "  - profile::web\n"
	      "environment: production\n"
	      "parameters:\n"
	      "  nginx_workers: 8\n"
	      "  role: web\n"
	      "  tuning:\n"
	      "    a: \"1\"\n"
	      "    b: 2\n" },
	    { "enc/web-03.example.com.yaml",          /* drained keeps its ENC */
	      "---\n"
	      "classes:\n"
	      "  - profile::base\n"
	      "  - profile::web\n"
	      "environment: production\n"
	      "parameters:\n"
	      "  nginx_workers: 4\n"
	      "  role: web\n"
	      "  tuning:\n"
	      "    a: \"1\"\n"
	      "    b: 2\n" },
	    { "enc/web-00.example.com.yaml", NULL } },
	  { { "enc/lb-01.example.com.yaml", "lb-01.example.com",
	      "{\"classes\":[\"profile::lb\"],\"environment\":\"production\",\"parameters\":"
	      "{\"backends\":[\"web-01.example.com\",\"web-02.example.com\",\"web-10.example.com\"],"
	      "\"extra\":\"8\",\"lb_mode\":\"leastconn\",\"role\":\"lb\"}}" },
	    { "enc/web-01.example.com.yaml", "web-01.example.com",
	      "{\"classes\":[\"profile::base\",\"profile::web\"],\"environment\":\"production\","
	      "\"parameters\":{\"nginx_workers\":8,\"role\":\"web\",\"tuning\":{\"a\":\"1\",\"b\":2}}}" } } },

	{ "enc: backends is an empty list when no host is active", build_enc_backends_empty,
	  "puppet_enc", 2,
	  { { "enc/lb-01.example.com.yaml",
	      "---\nclasses: []\nenvironment: production\nparameters:\n"
	      "  backends: []\n  role: lb\n" } },
	  { { "enc/lb-01.example.com.yaml", "lb-01.example.com",
	      "{\"classes\":[],\"environment\":\"production\","
	      "\"parameters\":{\"backends\":[],\"role\":\"lb\"}}" } } },

	{ "enc: a spare host has no classes and role spare", build_enc_spare, "puppet_enc", 2,
	  { { "enc/spare-01.example.com.yaml",
	      "---\nclasses: []\nenvironment: production\nparameters:\n  role: spare\n" },
	    { "enc/spare-02.example.com.yaml",
	      "---\nclasses: []\nenvironment: qa\nparameters:\n  role: spare\n" } },
	  { { "enc/spare-01.example.com.yaml", "spare-01.example.com",
	      "{\"classes\":[],\"environment\":\"production\","
	      "\"parameters\":{\"role\":\"spare\"}}" } } },

	{ "enc: a decommissioned host renders nothing", build_enc_decommissioned,
	  "puppet_enc", 0,
	  { { "enc/old-01.example.com.yaml", NULL } },
	  { { NULL, NULL, NULL } } },

	{ "enc: param values keep their YAML types", build_enc_types, "puppet_enc", 1,
	  { { "enc/h.example.com.yaml",
	      "---\n"
	      "classes: []\n"
	      "environment: production\n"
	      "parameters:\n"
	      "  empty: ~\n"
	      "  enabled: yes\n"
	      "  list:\n"
	      "    - b\n"
	      "    - a\n"
	      "  name: web\n"
	      "  port: 8080\n"
	      "  port_s: \"8080\"\n"
	      "  ratio: 1.5\n"
	      "  role: r\n"
	      "  ver: \"1.10\"\n" } },
	  { { "enc/h.example.com.yaml", "h.example.com",
	      "{\"classes\":[],\"environment\":\"production\",\"parameters\":{\"empty\":null,"
	      "\"enabled\":true,\"list\":[\"b\",\"a\"],\"name\":\"web\",\"port\":8080,"
	      "\"port_s\":\"8080\",\"ratio\":1.5,\"role\":\"r\",\"ver\":\"1.10\"}}" } } },

	{ "route53: A records for active and drained hosts in a zone only", build_dns_hosts,
	  "route53", 1,
	  { { "terraform/route53/example.com.tf.json",
	      TF_HEAD
	      A_REC("web-01_example_com_A", "web-01.example.com", "10.0.1.5", "300", "Z1") ",\n"
	      A_REC("web-03_example_com_A", "web-03.example.com", "10.0.1.7", "300", "Z1")
	      TF_TAIL } },
	  { { "terraform/route53/example.com.tf.json", "web-03.example.com/A",
	      "[\"10.0.1.7\"]" } } },

	{ "route53: a host is in the zone that is the longest suffix", build_dns_suffix,
	  "route53", 2,
	  { { "terraform/route53/dev.example.com.tf.json",
	      TF_HEAD
	      A_REC("a_dev_example_com_A", "a.dev.example.com", "10.0.2.1", "60", "Z2")
	      TF_TAIL },
	    { "terraform/route53/example.com.tf.json",
	      TF_HEAD
	      A_REC("b_example_com_A", "b.example.com", "10.0.1.1", "300", "Z1")
	      TF_TAIL } },
	  { { NULL, NULL, NULL } } },

	{ "route53: role dns names per zone over active hosts, values sorted",
	  build_dns_roles, "route53", 2,
	  { { "terraform/route53/example.com.tf.json",
	      TF_HEAD
	      "      \"app_example_com_A\": {\n"
	      "        \"name\": \"app.example.com\",\n"
	      "        \"records\": [\n"
	      "          \"10.0.1.10\",\n"
	      "          \"10.0.1.5\"\n"
	      "        ],\n"
	      "        \"ttl\": 300,\n"
	      "        \"type\": \"A\",\n"
	      "        \"zone_id\": \"Z1\"\n"
	      "      },\n"
	      A_REC("web-01_example_com_A", "web-01.example.com", "10.0.1.5", "300", "Z1") ",\n"
	      A_REC("web-02_example_com_A", "web-02.example.com", "10.0.1.10", "300", "Z1") ",\n"
	      A_REC("web-03_example_com_A", "web-03.example.com", "10.0.1.7", "300", "Z1") ",\n"
	      "      \"www_example_com_A\": {\n"
	      "        \"name\": \"www.example.com\",\n"
	      "        \"records\": [\n"
	      "          \"10.0.1.10\",\n"
	      "          \"10.0.1.5\"\n"
	      "        ],\n"
	      "        \"ttl\": 300,\n"
	      "        \"type\": \"A\",\n"
	      "        \"zone_id\": \"Z1\"\n"
	      "      }"
	      TF_TAIL },
	    { "terraform/route53/example.net.tf.json",
	      TF_HEAD
	      A_REC("web-04_example_net_A", "web-04.example.net", "10.0.2.4", "300", "Z2")
	      TF_TAIL } },
	  { { "terraform/route53/example.com.tf.json", "www.example.com/A",
	      "[\"10.0.1.10\",\"10.0.1.5\"]" },
	    { "terraform/route53/example.com.tf.json", "app.example.com/A",
	      "[\"10.0.1.10\",\"10.0.1.5\"]" } } },

	{ "route53: zone records, @ apex, one or many values, ttl default",
	  build_dns_records, "route53", 1,
	  { { "terraform/route53/example.com.tf.json",
	      TF_HEAD
	      "      \"docs_example_com_CNAME\": {\n"
	      "        \"name\": \"docs.example.com\",\n"
	      "        \"records\": [\n"
	      "          \"web-01.example.com.\"\n"
	      "        ],\n"
	      "        \"ttl\": 300,\n"
	      "        \"type\": \"CNAME\",\n"
	      "        \"zone_id\": \"Z1\"\n"
	      "      },\n"
	      "      \"example_com_MX\": {\n"
	      "        \"name\": \"example.com\",\n"
	      "        \"records\": [\n"
	      "          \"10 mx1.example.com.\",\n"
	      "          \"20 mx2.example.com.\"\n"
	      "        ],\n"
	      "        \"ttl\": 300,\n"
	      "        \"type\": \"MX\",\n"
	      "        \"zone_id\": \"Z1\"\n"
	      "      },\n"
	      "      \"example_com_TXT\": {\n"
	      "        \"name\": \"example.com\",\n"
	      "        \"records\": [\n"
	      "          \"v=spf1 -all\"\n"
	      "        ],\n"
	      "        \"ttl\": 60,\n"
	      "        \"type\": \"TXT\",\n"
	      "        \"zone_id\": \"Z1\"\n"
	      "      }"
	      TF_TAIL } },
	  { { "terraform/route53/example.com.tf.json", "example.com/MX",
	      "[\"10 mx1.example.com.\",\"20 mx2.example.com.\"]" },
	    { "terraform/route53/example.com.tf.json", "docs.example.com/CNAME",
	      "[\"web-01.example.com.\"]" } } },

	{ "route53: labels are one-to-one identifiers", build_dns_labels,
	  "route53", 2,
	  { { "terraform/route53/example.com.tf.json",
	      TF_HEAD
	      A_REC("STAR_example_com_A", "*.example.com", "10.0.0.1", "300", "Z1") ",\n"
	      "      \"Udmarc_example_com_TXT\": {\n"
	      "        \"name\": \"_dmarc.example.com\",\n"
	      "        \"records\": [\n"
	      "          \"v=DMARC1\"\n"
	      "        ],\n"
	      "        \"ttl\": 300,\n"
	      "        \"type\": \"TXT\",\n"
	      "        \"zone_id\": \"Z1\"\n"
	      "      },\n"
	      A_REC("_1a_example_com_A", "1a.example.com", "10.0.0.2", "300", "Z1") ",\n"
	      A_REC("aUb_example_com_A", "a_b.example.com", "10.0.0.3", "300", "Z1") ",\n"
	      A_REC("a_b_example_com_A", "a.b.example.com", "10.0.0.4", "300", "Z1") ",\n"
	      A_REC("x_y_example_com_A", "x.y.example.com", "10.0.0.6", "300", "Z1")
	      TF_TAIL },
	    /* The same name from a parent zone is a validation error (it
	     * belongs to the child zone); rendered alone it gets the same label. */
	    { "terraform/route53/y.example.com.tf.json",
	      TF_HEAD
	      A_REC("x_y_example_com_A", "x.y.example.com", "10.0.0.5", "300", "Z2")
	      TF_TAIL } },
	  { { "terraform/route53/example.com.tf.json", "*.example.com/A",
	      "[\"10.0.0.1\"]" } } },

	{ "route53: a TXT over 255 bytes is split between characters with \"\" (the aws "
	  "provider's way); the semantic object keeps the text", build_dns_long_txt, "route53", 1,
	  { { "terraform/route53/example.com.tf.json",
	      TF_HEAD
	      "      \"dkim_example_com_TXT\": {\n"
	      "        \"name\": \"dkim.example.com\",\n"
	      "        \"records\": [\n"
	      "          \"" A254 "\\\"\\\"\xc3\xa9" "bc\"\n"
	      "        ],\n"
	      "        \"ttl\": 300,\n"
	      "        \"type\": \"TXT\",\n"
	      "        \"zone_id\": \"Z1\"\n"
	      "      }"
	      TF_TAIL } },
	  { { "terraform/route53/example.com.tf.json", "dkim.example.com/TXT",
	      "[\"" A254 "\xc3\xa9" "bc\"]" } } },
	{ "route53: strings escape JSON, ${ and %{; a TXT's quotes and backslashes are "
	  "escaped for Route53", build_dns_escape, "route53", 1,
	  { { "terraform/route53/example.com.tf.json",
	      TF_HEAD
	      "      \"txt_example_com_TXT\": {\n"
	      "        \"name\": \"txt.example.com\",\n"
	      "        \"records\": [\n"
	      "          \"$ and % alone\",\n"
	      "          \"100%%{x}\",\n"
	      "          \"a$${b}c\",\n"
	      "          \"say \\\\\\\"hi\\\\\\\" \\\\\\\\ there\",\n"
	      "          \"tab\\there\"\n"
	      "        ],\n"
	      "        \"ttl\": 300,\n"
	      "        \"type\": \"TXT\",\n"
	      "        \"zone_id\": \"Z1\"\n"
	      "      }"
	      TF_TAIL } },
	  { { "terraform/route53/example.com.tf.json", "txt.example.com/TXT",
	      "[\"$ and % alone\",\"100%{x}\",\"a${b}c\",\"say \\\"hi\\\" \\\\ there\","
	      "\"tab\\there\"]" } } },

	{ "route53: a zone with no records is {}", build_dns_empty, "route53", 1,
	  { { "terraform/route53/empty.com.tf.json", "{}\n" } },
	  { { NULL, NULL, NULL } } },

	{ "route53: one (name, type) from several sources is one record set",
	  build_dns_merge, "route53", 1,
	  { { "terraform/route53/example.com.tf.json",
	      TF_HEAD
	      "      \"www_example_com_A\": {\n"
	      "        \"name\": \"www.example.com\",\n"
	      "        \"records\": [\n"
	      "          \"10.0.1.1\",\n"
	      "          \"10.0.1.2\"\n"
	      "        ],\n"
	      "        \"ttl\": 60,\n"
	      "        \"type\": \"A\",\n"
	      "        \"zone_id\": \"Z1\"\n"
	      "      }"
	      TF_TAIL } },
	  { { "terraform/route53/example.com.tf.json", "www.example.com/A",
	      "[\"10.0.1.1\",\"10.0.1.2\"]" } } },

	{ "pins: one file per environment in use, overrides applied", build_pins, "pins", 5,
	  { { "hiera/pins/production.yaml",
	      "---\n"
	      "\"a::version\": \"1.10\"\n"
	      "\"profile::app::version\": \"1.4.2\"\n"
	      "\"x::version\": \"2.0\"\n" },
	    { "hiera/pins/staging.yaml",
	      "---\n"
	      "\"a::version\": \"1.10\"\n"
	      "\"profile::app::version\": \"1.5.0-rc1\"\n"
	      "\"x::version\": \"2.0\"\n" },
	    { "hiera/pins/qa.yaml",                   /* named only by a service */
	      "---\n"
	      "\"a::version\": \"1.10\"\n"
	      "\"profile::app::version\": \"1.4.2\"\n"
	      "\"x::version\": \"2.1\"\n" },
	    { "hiera/pins/dev.yaml",                  /* a spare host's environment */
	      "---\n"
	      "\"a::version\": \"1.10\"\n"
	      "\"profile::app::version\": \"1.4.2\"\n"
	      "\"x::version\": \"2.0\"\n" },
	    { "hiera/pins/canary.yaml",               /* from the role */
	      "---\n"
	      "\"a::version\": \"1.10\"\n"
	      "\"profile::app::version\": \"1.4.2\"\n"
	      "\"x::version\": \"2.0\"\n" },
	    { "hiera/pins/old.yaml", NULL } },        /* only a decommissioned host's */
	  { { "hiera/pins/staging.yaml", "profile::app::version", "\"1.5.0-rc1\"" },
	    { "hiera/pins/production.yaml", "x::version", "\"2.0\"" } } },

	{ "pins: versions are always quoted strings", build_pins_quoted, "pins", 1,
	  { { "hiera/pins/production.yaml",
	      "---\n"
	      "\"flag::version\": \"true\"\n"
	      "\"odd::version\": \"1.0\\\"beta\"\n" } },
	  { { "hiera/pins/production.yaml", "odd::version", "\"1.0\\\"beta\"" } } },

	{ "pins: no services is an empty hash", build_pins_none, "pins", 1,
	  { { "hiera/pins/production.yaml", "--- {}\n" } },
	  { { NULL, NULL, NULL } } },

	{ "render_all: every renderer, one sorted set", build_all, NULL, 3,
	  { { "enc/web-01.example.com.yaml",
	      "---\nclasses:\n  - profile::web\nenvironment: production\n"
	      "parameters:\n  role: web\n" },
	    { "hiera/pins/production.yaml", "---\n\"app::version\": \"1.4.2\"\n" },
	    { "terraform/route53/example.com.tf.json",
	      TF_HEAD
	      A_REC("web-01_example_com_A", "web-01.example.com", "10.0.1.5", "300", "Z1") ",\n"
	      A_REC("www_example_com_A", "www.example.com", "10.0.1.5", "300", "Z1")
	      TF_TAIL } },
	  { { NULL, NULL, NULL } } },
};

/* ---- running them ------------------------------------------------------- */

static const struct renderer *
find_renderer(const char *name)
{
	const struct renderer *const *r;

	for (r = renderer_registry; *r; r++)
		if (strcmp((*r)->name, name) == 0)
			return *r;
	fail_msg("no renderer %s", name);
	return NULL;
}

static void
render_case(struct artifacts *out, const struct rcase *c, const struct model *m)
{
	memset(out, 0, sizeof(*out));
	if (c->renderer) {
		const struct renderer *r = find_renderer(c->renderer);

		assert_int_equal(r->abi, RENDERER_ABI);
		assert_int_equal(r->render(out, m, NULL), OK);
		assert_int_equal(artifacts_sort(out), OK);
	} else {
		assert_int_equal(render_all(out, m, NULL), OK);
	}
}

static void
run_case(void **state)
{
	const struct rcase *c = *state;
	struct artifacts out, again;
	struct model *m = xcalloc(1, sizeof(*m));
	size_t i, j;

	c->build(m);
	t_finish(m);
	render_case(&out, c, m);
	if (c->nartifacts >= 0)
		assert_int_equal(out.n, (size_t)c->nartifacts);
	for (i = 1; i < out.n; i++)
		assert_true(strcmp(out.v[i - 1].path, out.v[i].path) < 0);
	for (i = 0; i < sizeof(c->files) / sizeof(c->files[0]) && c->files[i].path; i++) {
		const struct artifact *a = artifacts_find(&out, c->files[i].path);

		if (!c->files[i].data) {
			if (a)
				fail_msg("%s should not exist", c->files[i].path);
			continue;
		}
		if (!a)
			fail_msg("%s is missing", c->files[i].path);
		assert_string_equal(a->data, c->files[i].data);
		assert_int_equal(a->len, strlen(c->files[i].data));
	}
	for (i = 0; i < sizeof(c->objs) / sizeof(c->objs[0]) && c->objs[i].path; i++) {
		const struct artifact *a = artifacts_find(&out, c->objs[i].path);

		if (!a)
			fail_msg("%s is missing", c->objs[i].path);
		for (j = 0; j < a->nobjs; j++)
			if (strcmp(a->objs[j].name, c->objs[i].name) == 0)
				break;
		if (j == a->nobjs)
			fail_msg("%s has no object %s", c->objs[i].path, c->objs[i].name);
		{
			char *v = artifact_object_json(a, j);

			assert_non_null(v);
			assert_string_equal(v, c->objs[i].value);
			free(v);
		}
	}

	/* The same model renders the same bytes and objects. */
	render_case(&again, c, m);
	assert_int_equal(again.n, out.n);
	for (i = 0; i < out.n; i++) {
		assert_string_equal(again.v[i].path, out.v[i].path);
		assert_int_equal(again.v[i].len, out.v[i].len);
		assert_memory_equal(again.v[i].data, out.v[i].data, out.v[i].len);
		assert_int_equal(again.v[i].nobjs, out.v[i].nobjs);
		for (j = 0; j < out.v[i].nobjs; j++) {
			assert_string_equal(again.v[i].objs[j].name, out.v[i].objs[j].name);
			if (out.v[i].objs[j].value)
				assert_string_equal(again.v[i].objs[j].value, out.v[i].objs[j].value);
			else
				assert_null(again.v[i].objs[j].value);
		}
	}
	artifacts_dispose(&again);
	artifacts_dispose(&out);
	model_free(m);
}

/* Every semantic object of every ENC matches its YAML's count: one each. */
static void
test_enc_one_object_per_host(void **state)
{
	struct artifacts out = { NULL, 0, 0 };
	struct model *m = xcalloc(1, sizeof(*m));
	size_t i;

	(void)state;
	build_enc_params(m);
	t_finish(m);
	assert_int_equal(find_renderer("puppet_enc")->render(&out, m, NULL), OK);
	for (i = 0; i < out.n; i++) {
		assert_int_equal(out.v[i].kind, KIND_ENC);
		assert_int_equal(out.v[i].nobjs, 1);
	}
	artifacts_dispose(&out);
	model_free(m);
}

int
main(void)
{
	size_t n = sizeof(cases) / sizeof(cases[0]), i;
	struct CMUnitTest *tests = xcalloc(n + 1, sizeof(*tests));
	int rc;

	for (i = 0; i < n; i++) {
		tests[i].name = cases[i].name;
		tests[i].test_func = run_case;
		tests[i].initial_state = (void *)(uintptr_t)&cases[i];
	}
	tests[n].name = "enc: one semantic object per document";
	tests[n].test_func = test_enc_one_object_per_host;
	rc = _cmocka_run_group_tests("render", tests, n + 1, NULL, NULL);
	free(tests);
	return rc;
}
