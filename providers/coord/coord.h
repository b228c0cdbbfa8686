/*
 * coord.h - a coordinator: the distributed key-value store several
 * controllers elect their leader on and keep their shared truth in
 * (DESIGN.md "High availability").  etcd v3 through its JSON gateway is
 * the one backend (etcd.c); the interface is what firebreak needs of any
 * such store, so another (Consul, ZooKeeper) is one file and one table
 * line.
 *
 * Layer: providers (includes base only).  Only this folder includes
 * <curl/curl.h>; the controller reaches it through this header.
 *
 * Everything a coordinator says is hostile input: answers are size-capped,
 * parsed with duplicate keys refused, every number checked.  Every call
 * has a deadline; the one call that may run beside others (the lease
 * keep-alive) is asynchronous, and the synchronous calls keep it moving
 * while they wait, so a keep-alive never stalls behind a slow request.
 */
#ifndef FIREBREAK_COORD_H
#define FIREBREAK_COORD_H

#include <stddef.h>
#include <stdint.h>

#include "base/util.h"

#define COORD_PROVIDER_ABI 1
#define COORD_ANSWER_MAX (8u << 20)     /* bytes of one answer */
#define COORD_RANGE_PAGE 256            /* keys per range request */
#define COORD_KEY_MAX 512

/* One key and its value (owned by the kvs it is in). */
struct coord_kv {
	char *key;                  /* NUL-terminated; keys are text here */
	unsigned char *val;         /* NUL-terminated too (not counted in len) */
	size_t len;
	int64_t create_rev, mod_rev, version, lease;
};

struct coord_kvs {
	struct coord_kv *v;
	size_t n;
	int64_t rev;                /* the store's revision when read */
};
void coord_kvs_dispose(struct coord_kvs *k);

enum coord_target { COORD_CREATE, COORD_MOD, COORD_VERSION, COORD_VALUE };
enum coord_result_op { COORD_EQ, COORD_NE, COORD_LT, COORD_GT };

/* A comparison of a transaction: key's target <op> num (or val). */
struct coord_cmp {
	const char *key;
	enum coord_target target;
	enum coord_result_op op;
	int64_t num;
	const void *val;
	size_t vlen;
};

enum coord_op_type { COORD_PUT, COORD_DEL, COORD_GET, COORD_GET_PREFIX };

/* An operation of a transaction; everything borrowed. */
struct coord_op {
	enum coord_op_type type;
	const char *key;
	const void *val;
	size_t vlen;
	int64_t lease;              /* PUT: attach to this lease (0: none) */
};

struct coord_txn {
	const struct coord_cmp *cmp;
	size_t ncmp;
	const struct coord_op *ok, *fail;
	size_t nok, nfail;
};

/* What a transaction did: which branch ran, and what each of its GETs
 * read (gets[i] for the i-th GET of that branch, in order). */
struct coord_txn_result {
	int succeeded;
	int64_t rev;
	struct coord_kvs gets[4];
	size_t ngets;
};
void coord_txn_result_dispose(struct coord_txn_result *r);

struct coord_ops {
	/* Endpoints (borrowed for the call; copied), tried in turn: one that
	 * does not answer is skipped for the next.  No network here. */
	int (*open)(void **st, const char *const *endpoints, size_t n);
	void (*close)(void *st);
	/* A lease of ttl seconds: *id, and the TTL granted. */
	int (*grant)(void *st, unsigned ttl, int64_t *id, long *granted, int deadline_ms);
	int (*revoke)(void *st, int64_t id, int deadline_ms);
	/*
	 * Asynchronous keep-alive of lease `id`: keepalive_start() sends one
	 * (OK; ERR_CONFLICT when one is still in flight) and returns at once;
	 * keepalive_poll() makes progress without blocking and returns 1 when
	 * the answer is in: *ttl the seconds left (0: the lease is gone), *rc
	 * OK or the error (etcd unreachable, the deadline passed).
	 */
	int (*keepalive_start)(void *st, int64_t id, int deadline_ms);
	int (*keepalive_poll)(void *st, long *ttl, int *rc);
	/* The poll() timeout the asynchronous work wants (ms), or -1. */
	int (*timeout_ms)(void *st);
	/* One transaction.  A failed comparison is OK with succeeded 0. */
	int (*txn)(void *st, const struct coord_txn *t, struct coord_txn_result *out,
	    int deadline_ms);
	/* Read `key`, or every key starting with it (prefix), all pages, at
	 * most COORD_ANSWER_MAX bytes in all.  *out owns. */
	int (*range)(void *st, const char *key, int prefix, struct coord_kvs *out,
	    int deadline_ms);
};

struct coord_provider {
	unsigned abi;               /* COORD_PROVIDER_ABI */
	const char *name;           /* "etcd" */
	const struct coord_ops *ops;
};

/* The registry: a provider by name, or NULL.  Checks the table's ABI and
 * ops once. */
const struct coord_provider *coord_find(const char *name);

#endif
