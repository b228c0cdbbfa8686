/*
 * model.h - the inventory of one commit, validated (schema v1, DESIGN.md).
 *
 * A model is only ever handed to renderers after inventory_load() found no
 * error, so renderers may rely on every invariant written here: names match
 * their strict patterns, every host's role exists, arrays are sorted by name,
 * there are no duplicates.  The model owns every pointer inside it.
 */
#ifndef FIREBREAK_MODEL_H
#define FIREBREAK_MODEL_H

#include <stddef.h>

#include "ydoc.h"

enum host_state { HOST_ACTIVE, HOST_DRAINED, HOST_SPARE, HOST_DECOMMISSIONED };

struct strlist {
	char **v;       /* owns each string */
	int *lines;     /* owns; the source line of each, for messages */
	size_t n;
};

struct host {
	char *fqdn;                 /* from the file name hosts/<fqdn>.yaml */
	char *role;                 /* NULL for spare hosts without a role */
	size_t role_idx;            /* index into model.roles; valid when role */
	char *environment;          /* NULL: from the role, else "production" */
	char *ip;                   /* NULL when absent; a valid IPv4 address */
	enum host_state state;
	struct strlist classes;     /* added after the role's, in source order */
	struct ynode *params;       /* a map or NULL */
	size_t zone_idx;            /* longest-suffix zone, or (size_t)-1 */
	int role_line, ip_line;     /* source lines, for messages */
};

struct role {
	char *name;
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
void strlist_push(struct strlist *l, const char *s, int line);  /* copies s */
void strlist_dispose(struct strlist *l);

/* Lookups by name (binary search); borrow; NULL when absent. */
const struct host *model_host(const struct model *m, const char *fqdn);
const struct role *model_role(const struct model *m, const char *name);
const struct service *model_service(const struct model *m, const char *name);

/* A host's effective Puppet environment: host's, else role's, else "production". */
const char *model_host_env(const struct model *m, const struct host *h);

#endif
