/*
 * test_coord.c - the etcd coordinator (providers/coord/etcd.c) against
 * canned answers of etcd's JSON gateway, one per case, from a forked
 * one-request HTTP server on loopback: 64-bit numbers as strings (and
 * the limits of the one number parser), fields equal to their zero value
 * left out (a failed transaction has no "succeeded", an empty range no
 * "kvs" or "count"), base64 keys and values, error answers.  What a real
 * etcd does with the requests is tests/e2e/ha.bats's part.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/util.h"
#include "cases.h"
#include "providers/coord/coord.h"

/* ---- a one-request stub server ---------------------------------------------- */

struct stub {
	pid_t pid;
	char url[64];
};

/* Serve one request on a fresh loopback port with `status` and `body`,
 * in a child; the request itself is read and dropped. */
static void
stub_start(struct stub *s, int status, const char *body)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		char req[65536], head[256];
		size_t got = 0;
		int c = accept(fd, NULL, NULL);

		if (c < 0)
			_exit(1);
		/* Headers, then Content-Length bytes of body. */
		for (;;) {
			ssize_t r = read(c, req + got, sizeof(req) - 1 - got);
			char *end, *cl;

			if (r <= 0)
				break;
			got += (size_t)r;
			req[got] = '\0';
			if (!(end = strstr(req, "\r\n\r\n")))
				continue;
			cl = strcasestr(req, "Content-Length:");
			if (!cl || got >= (size_t)(end + 4 - req) + strtoul(cl + 15, NULL, 10))
				break;
		}
		snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
		    "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, strlen(body));
		if (write(c, head, strlen(head)) < 0 || write(c, body, strlen(body)) < 0)
			_exit(1);
		close(c);
		_exit(0);
	}
	close(fd);
}

static void
stub_wait(struct stub *s)
{
	int st;

	kill(s->pid, SIGKILL);
	waitpid(s->pid, &st, 0);
}

static void *
open_etcd(const struct stub *s)
{
	const struct coord_provider *p = coord_find("etcd");
	const char *eps[1] = { s->url };
	void *st = NULL;

	assert_non_null(p);
	assert_int_equal(p->ops->open(&st, eps, 1), OK);
	return st;
}

/* ---- transactions ------------------------------------------------------------ */

struct txn_case {
	const char *name;
	int status;
	const char *body;
	int rc;
	int succeeded;
	int64_t rev;
	size_t ngets, nkvs;
	int64_t create_rev, lease;
	const char *key, *val;
};

/* "firebreak/main/leader" and "fb-a", base64. */
#define K_LEADER "ZmlyZWJyZWFrL21haW4vbGVhZGVy"
#define V_FBA "ZmItYQ=="

static const struct txn_case txn_cases[] = {
	{ "txn: a failed comparison leaves succeeded out", 200,
	  "{\"header\":{\"cluster_id\":\"14841639068965178418\",\"member_id\":\"10276657743932975437\","
	  "\"revision\":\"41\",\"raft_term\":\"2\"}}", OK, 0, 41, 0, 0, 0, 0, NULL, NULL },
	{ "txn: succeeded, a read in it, every number a string", 200,
	  "{\"header\":{\"revision\":\"9223372036854775807\"},\"succeeded\":true,\"responses\":["
	  "{\"response_put\":{\"header\":{\"revision\":\"12\"}}},"
	  "{\"response_range\":{\"header\":{\"revision\":\"12\"},\"kvs\":[{\"key\":\"" K_LEADER "\","
	  "\"create_revision\":\"4611686018427387904\",\"mod_revision\":\"12\",\"version\":\"1\","
	  "\"value\":\"" V_FBA "\",\"lease\":\"7587862083935830853\"}],\"count\":\"1\"}}]}",
	  OK, 1, INT64_MAX, 1, 1, 4611686018427387904LL, 7587862083935830853LL,
	  "firebreak/main/leader", "fb-a" },
	{ "txn: a read of nothing has no kvs and no count", 200,
	  "{\"header\":{\"revision\":\"3\"},\"succeeded\":true,\"responses\":["
	  "{\"response_range\":{\"header\":{\"revision\":\"3\"}}}]}",
	  OK, 1, 3, 1, 0, 0, 0, NULL, NULL },
	{ "txn: a plain JSON number is taken too", 200,
	  "{\"header\":{\"revision\":77},\"succeeded\":true}", OK, 1, 77, 0, 0, 0, 0, NULL, NULL },
	{ "txn: a revision past int64 is refused", 200,
	  "{\"header\":{\"revision\":\"9223372036854775808\"},\"succeeded\":true}",
	  ERR_INVALID, 0, 0, 0, 0, 0, 0, NULL, NULL },
	{ "txn: a revision that is not a number is refused", 200,
	  "{\"header\":{\"revision\":\"12x\"},\"succeeded\":true}",
	  ERR_INVALID, 0, 0, 0, 0, 0, 0, NULL, NULL },
	{ "txn: a revision that is an object is refused", 200,
	  "{\"header\":{\"revision\":{}},\"succeeded\":true}",
	  ERR_INVALID, 0, 0, 0, 0, 0, 0, NULL, NULL },
	{ "txn: a key that is not base64 is refused", 200,
	  "{\"header\":{\"revision\":\"5\"},\"succeeded\":true,\"responses\":[{\"response_range\":"
	  "{\"kvs\":[{\"key\":\"@@@\",\"create_revision\":\"1\"}]}}]}",
	  ERR_INVALID, 0, 0, 0, 0, 0, 0, NULL, NULL },
	{ "txn: duplicate fields are refused", 200,
	  "{\"header\":{\"revision\":\"5\"},\"succeeded\":true,\"succeeded\":false}",
	  ERR_INVALID, 0, 0, 0, 0, 0, 0, NULL, NULL },
	{ "txn: an error answer (too many operations) is an error", 400,
	  "{\"error\":\"etcdserver: too many operations in txn request\",\"code\":3,"
	  "\"message\":\"etcdserver: too many operations in txn request\"}",
	  ERR, 0, 0, 0, 0, 0, 0, NULL, NULL },
	{ "txn: a 503 (no leader) is for later", 503,
	  "{\"error\":\"etcdserver: no leader\",\"code\":14,\"message\":\"etcdserver: no leader\"}",
	  ERR_AGAIN, 0, 0, 0, 0, 0, 0, NULL, NULL },
};

static void
test_txn(void **state)
{
	const struct txn_case *tc = *state;
	const struct coord_provider *p = coord_find("etcd");
	struct coord_cmp cmp = { "firebreak/main/leader", COORD_CREATE, COORD_EQ, 4, NULL, 0 };
	struct coord_op get = { COORD_GET, "firebreak/main/leader", NULL, 0, 0 };
	struct coord_txn t = { &cmp, 1, &get, &get, 1, 1 };
	struct coord_txn_result r;
	struct stub s;
	void *st;
	int rc;

	stub_start(&s, tc->status, tc->body);
	st = open_etcd(&s);
	rc = p->ops->txn(st, &t, &r, 5000);
	stub_wait(&s);
	p->ops->close(st);
	assert_int_equal(rc, tc->rc);
	if (rc != OK)
		return;
	assert_int_equal(r.succeeded, tc->succeeded);
	assert_true(r.rev == tc->rev);
	assert_int_equal(r.ngets, tc->ngets);
	if (tc->ngets) {
		assert_int_equal(r.gets[0].n, tc->nkvs);
		if (tc->nkvs) {
			assert_true(r.gets[0].v[0].create_rev == tc->create_rev);
			assert_true(r.gets[0].v[0].lease == tc->lease);
			assert_string_equal(r.gets[0].v[0].key, tc->key);
			assert_int_equal(r.gets[0].v[0].len, strlen(tc->val));
			assert_memory_equal(r.gets[0].v[0].val, tc->val, strlen(tc->val));
		}
	}
	coord_txn_result_dispose(&r);
}

/* ---- leases ------------------------------------------------------------------ */

struct grant_case {
	const char *name;
	const char *body;
	int rc;
	int64_t id;
	long ttl;
};

static const struct grant_case grant_cases[] = {
	{ "grant: a 63-bit lease id as a string", "{\"header\":{\"revision\":\"2\"},"
	  "\"ID\":\"7587862083935830853\",\"TTL\":\"2\"}", OK, 7587862083935830853LL, 2 },
	{ "grant: no ID is refused", "{\"header\":{\"revision\":\"2\"},\"TTL\":\"2\"}",
	  ERR_INVALID, 0, 0 },
	{ "grant: a TTL of -1 (no such lease) is refused", "{\"ID\":\"5\",\"TTL\":\"-1\"}",
	  ERR_INVALID, 0, 0 },
};

static void
test_grant(void **state)
{
	const struct grant_case *tc = *state;
	const struct coord_provider *p = coord_find("etcd");
	struct stub s;
	int64_t id = 0;
	long ttl = 0;
	void *st;
	int rc;

	stub_start(&s, 200, tc->body);
	st = open_etcd(&s);
	rc = p->ops->grant(st, 2, &id, &ttl, 5000);
	stub_wait(&s);
	p->ops->close(st);
	assert_int_equal(rc, tc->rc);
	if (rc == OK) {
		assert_true(id == tc->id);
		assert_int_equal(ttl, tc->ttl);
	}
}

/* ---- range ------------------------------------------------------------------- */

static void
test_range_empty(void **state)
{
	const struct coord_provider *p = coord_find("etcd");
	struct coord_kvs kvs;
	struct stub s;
	void *st;

	(void)state;
	/* An empty range: no "kvs", no "count" (their zero values). */
	stub_start(&s, 200, "{\"header\":{\"revision\":\"8\"}}");
	st = open_etcd(&s);
	assert_int_equal(p->ops->range(st, "firebreak/main/state/", 1, &kvs, 5000), OK);
	stub_wait(&s);
	p->ops->close(st);
	assert_int_equal(kvs.n, 0);
	coord_kvs_dispose(&kvs);
}

static void
test_unreachable(void **state)
{
	const struct coord_provider *p = coord_find("etcd");
	struct coord_kvs kvs;
	struct stub s;
	void *st;
	char url[64];

	(void)state;
	/* A port nobody listens on any more: for later, not an error. */
	stub_start(&s, 200, "{}");
	snprintf(url, sizeof(url), "%s", s.url);
	stub_wait(&s);
	{
		const char *eps[1] = { url };

		assert_int_equal(p->ops->open(&st, eps, 1), OK);
	}
	assert_int_equal(p->ops->range(st, "k", 0, &kvs, 2000), ERR_AGAIN);
	p->ops->close(st);
}

int
main(void)
{
	struct CMUnitTest tests[64];
	size_t n = 0;

	signal(SIGPIPE, SIG_IGN);
	CASES(test_txn, txn_cases);
	CASES(test_grant, grant_cases);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_range_empty);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_unreachable);
	return _cmocka_run_group_tests("coord", tests, n, NULL, NULL);
}
