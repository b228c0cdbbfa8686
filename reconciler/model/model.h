/*
 * model.h - the inventory of one commit, validated (schema v1, DESIGN.md).
 *
 * A model is only ever handed to renderers after inventory_load() found no
 * error, so renderers may rely on every invariant written here: names match
 * their strict patterns, every host's role exists, arrays are sorted by name,
 * there are no duplicates.  The model owns every pointer inside it.
 *
 * Layer: model (includes git, base).
 */
#ifndef FIREBREAK_MODEL_H
#define FIREBREAK_MODEL_H

#include <stddef.h>

#include "model/ydoc.h"

enum host_state { HOST_ACTIVE, HOST_DRAINED, HOST_SPARE, HOST_DECOMMISSIONED };

/*
 * Every entity remembers the git blob it came from and whether it was
 * taken unchanged from a base model (inventory_load with a base): the
 * renderers then reuse the base's output for what did not change.
 */
struct origin {
	unsigned char oid[20];      /* the blob's id; zero when not from git */
	int reused;                 /* copied from the base model, same blob */
};

struct host {
	char *fqdn;                 /* from the file name hosts/<fqdn>.yaml */
	struct origin origin;
	char *role;                 /* NULL for spare hosts without a role */
	size_t role_idx;            /* index into model.roles; valid when role */
	char *environment;          /* NULL: from the role, else "production" */
	char *ip;                   /* NULL when absent; a valid IPv4 address */
	enum host_state state;
	struct strlist classes;     /* added after the role's, in source order */
	struct ynode *params;       /* a map or NULL */
	size_t zone_idx;            /* longest-suffix zone, or (size_t)-1 */
	int role_line, ip_line;     /* source lines, for messages */
	unsigned *refs;             /* NULL: owns its strings; else shared (host_share) */
};

struct role {
	char *name;
	struct origin origin;
	struct strlist classes;
	struct ynode *params;       /* a map or NULL */
	struct strlist services;    /* version pins this role receives */
	struct strlist dns;         /* round-robin names */
	char *backends_of;          /* a role name or NULL */
	size_t backends_idx;        /* index into model.roles when backends_of */
	char *environment;          /* NULL when not set */
	int backends_line;
};

struct service_env {
	char *env;
	char *version;
};

struct service {
	char *name;
	struct origin origin;
	char *version;              /* source text, always a string */
	struct service_env *envs;   /* sorted by env */
	size_t nenvs;
	char *hiera_key;            /* "<service>::version" unless set */
	int hiera_line;
};

struct record {
	char *name;                 /* relative name as written; "@" is the apex */
	char *type;                 /* A, AAAA, CNAME, MX, TXT, NS, SRV, CAA, PTR */
	unsigned long ttl;          /* 0: the zone's */
	struct strlist values;
	int line;                   /* in the zone file, for messages */
};

struct zone {
	char *name;                 /* from the file name dns/<zone>.yaml */
	struct origin origin;
	char *zone_id;
	unsigned long ttl;          /* default 300 */
	struct record *records;
	size_t nrecords;
};

struct model {
	struct host *hosts;     size_t nhosts;      /* sorted by fqdn */
	struct role *roles;     size_t nroles;      /* sorted by name */
	struct service *services; size_t nservices; /* sorted by name */
	struct zone *zones;     size_t nzones;      /* sorted by name */
	struct policy *policy;  /* owns; an empty policy when policy.yaml is absent */
	char *policy_src;       /* owns; raw policy.yaml bytes, NULL when absent */
	struct ynode *policy_root; /* owns; the parsed policy.yaml, NULL when absent */
	size_t policy_len;
};

#define MODEL_NO_ZONE ((size_t)-1)

void model_free(struct model *m);

/* A copy of a host that shares its strings with src (hosts are immutable
 * once loaded), marked reused; freed when the last sharer is. */
void host_share(struct host *dst, struct host *src);
/* Deep copies into *dst (which they own), marked reused. */
void role_copy(struct role *dst, const struct role *src);
void service_copy(struct service *dst, const struct service *src);
void zone_copy(struct zone *dst, const struct zone *src);

/* Lookups by name (binary search); borrow; NULL when absent. */
const struct host *model_host(const struct model *m, const char *fqdn);
/* The index of the host in m (sorted), or (size_t)-1. */
size_t model_host_index(const struct model *m, const char *fqdn, size_t hint);
const struct role *model_role(const struct model *m, const char *name);
const struct service *model_service(const struct model *m, const char *name);
const struct zone *model_zone(const struct model *m, const char *name);
/* The index of the zone that is the longest suffix of fqdn (a whole-label
 * suffix, or the fqdn itself), or MODEL_NO_ZONE. */
size_t model_zone_of(const struct model *m, const char *fqdn);

/* A host's effective Puppet environment: host's, else role's, else "production". */
const char *model_host_env(const struct model *m, const struct host *h);

#endif
