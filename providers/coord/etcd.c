/*
 * etcd.c - the etcd v3 coordinator, through etcd's JSON gateway
 * (POST /v3/kv/range, /v3/kv/txn, /v3/lease/grant, /v3/lease/revoke,
 * /v3/lease/keepalive), with libcurl and jansson.  See coord.h.
 *
 * What the gateway's JSON does, and what we do about it:
 *  - keys and values are base64 (decoded here, at most COORD_ANSWER_MAX);
 *  - 64-bit numbers (revisions, lease ids, TTLs, counts) are strings, and
 *    a field equal to its zero value is left out ("count" of an empty
 *    range, "succeeded" of a failed transaction): absent means zero;
 *  - an error is {"error": ..., "code": N, "message": ...} with an HTTP
 *    status other than 200.
 * Answers are capped, parsed with JSON_REJECT_DUPLICATES, and every
 * number goes through one checked parser.
 *
 * All requests share one curl multi handle.  A synchronous call runs the
 * multi until its own transfer ends or its deadline passes, so the
 * asynchronous keep-alive in flight beside it keeps moving; an endpoint
 * that refuses or times out is left for the next one in the list.
 */
#include "providers/coord/coord.h"
#include "providers/coord/etcd_json.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ETCD_ENDPOINTS_MAX 16

struct xfer {
	CURL *e;
	struct buf body;
	int done;
	CURLcode code;
	long status;
	int toobig;
	double deadline;
};

struct etcd {
	char *eps[ETCD_ENDPOINTS_MAX];
	size_t neps, cur;
	CURLM *multi;
	struct xfer ka;             /* the keep-alive in flight (ka.e != NULL) */
	size_t ka_ep;
	char *ka_post;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- transfers ----------------------------------------------------------- */

static size_t
on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct xfer *x = ctx;

	if (x->body.len + size * n > COORD_ANSWER_MAX) {
		x->toobig = 1;
		return 0;
	}
	buf_append(&x->body, p, size * n);
	return size * n;
}

static int
xfer_start(struct etcd *e, struct xfer *x, size_t ep, const char *path, const char *post,
    int deadline_ms)
{
	char url[512];

	memset(x, 0, sizeof(*x));
	if (snprintf(url, sizeof(url), "%s%s", e->eps[ep], path) >= (int)sizeof(url))
		return err_set(ERR_TOOBIG, "etcd: URL too long");
	if (!(x->e = curl_easy_init()))
		return err_set(ERR, "etcd: curl_easy_init failed");
	curl_easy_setopt(x->e, CURLOPT_URL, url);
	curl_easy_setopt(x->e, CURLOPT_POSTFIELDS, post);
	curl_easy_setopt(x->e, CURLOPT_POSTFIELDSIZE, (long)strlen(post));
	curl_easy_setopt(x->e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(x->e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->e, CURLOPT_TIMEOUT_MS, (long)(deadline_ms > 0 ? deadline_ms : 1));
	curl_easy_setopt(x->e, CURLOPT_CONNECTTIMEOUT_MS, (long)(deadline_ms > 0 ? deadline_ms : 1));
	curl_easy_setopt(x->e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->e, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(x->e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(x->e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(x->e, CURLOPT_USERAGENT, "firebreak-ha");
	x->deadline = now_s() + deadline_ms / 1000.0;
	if (curl_multi_add_handle(e->multi, x->e) != CURLM_OK) {
		curl_easy_cleanup(x->e);
		x->e = NULL;
		return err_set(ERR, "etcd: curl_multi_add_handle failed");
	}
	return OK;
}

static void
xfer_end(struct etcd *e, struct xfer *x)
{
	if (x->e) {
		curl_multi_remove_handle(e->multi, x->e);
		curl_easy_cleanup(x->e);
	}
	x->e = NULL;
	buf_dispose(&x->body);
}

/* Drive every transfer without blocking; mark the ones that ended. */
static void
pump(struct etcd *e)
{
	CURLMsg *m;
	int running, left;

	curl_multi_perform(e->multi, &running);
	while ((m = curl_multi_info_read(e->multi, &left))) {
		struct xfer *x = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (!x)
			continue;
		x->done = 1;
		x->code = m->data.result;
		curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &x->status);
	}
}

/* The answer of an ended transfer as JSON (*out owns), or the error. */
static int
xfer_answer(json_t **out, struct xfer *x, const char *what)
{
	json_error_t je;
	json_t *j;

	*out = NULL;
	if (x->toobig)
		return err_set(ERR_TOOBIG, "etcd %s: the answer is over %u bytes", what,
		    COORD_ANSWER_MAX);
	if (x->code != CURLE_OK)
		return err_set(ERR_AGAIN, "etcd %s: %s", what, curl_easy_strerror(x->code));
	j = json_loadb(x->body.data ? x->body.data : "", x->body.len, JSON_REJECT_DUPLICATES, &je);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		return err_set(ERR_INVALID, "etcd %s: HTTP %ld, not a JSON object", what, x->status);
	}
	if (x->status != 200 || json_object_get(j, "error")) {
		const char *msg = json_string_value(json_object_get(j, "message"));
		char clean[200];
		size_t i;

		snprintf(clean, sizeof(clean), "%s", msg ? msg : "no message");
		for (i = 0; clean[i]; i++)
			if ((unsigned char)clean[i] < 0x20 || (unsigned char)clean[i] > 0x7e)
				clean[i] = '?';
		json_decref(j);
		return err_set(x->status >= 500 || x->status == 0 ? ERR_AGAIN : ERR,
		    "etcd %s: HTTP %ld: %s", what, x->status, clean);
	}
	*out = j;
	return OK;
}

/* One request, synchronously, trying each endpoint in turn from the last
 * one that answered; the multi (and so the keep-alive) moves meanwhile. */
static int
call(struct etcd *e, const char *path, const char *post, json_t **out, int deadline_ms)
{
	double end = now_s() + deadline_ms / 1000.0;
	size_t tries;
	int rc = ERR_AGAIN;

	*out = NULL;
	err_set(ERR_AGAIN, "etcd %s: no endpoint answered", path);
	for (tries = 0; tries < e->neps; tries++) {
		size_t ep = (e->cur + tries) % e->neps;
		int left = (int)((end - now_s()) * 1000);
		struct xfer x;

		if (left <= 0)
			break;
		if ((rc = xfer_start(e, &x, ep, path, post, left)) != OK)
			return rc;
		while (!x.done) {
			int ms = (int)((end - now_s()) * 1000), n;

			if (ms <= 0)
				break;
			curl_multi_poll(e->multi, NULL, 0, ms < 50 ? ms : 50, &n);
			pump(e);
		}
		if (!x.done) {
			xfer_end(e, &x);
			rc = err_set(ERR_AGAIN, "etcd %s at %s: no answer within the deadline", path,
			    e->eps[ep]);
			continue;
		}
		rc = xfer_answer(out, &x, path);
		xfer_end(e, &x);
		if (rc == OK || rc != ERR_AGAIN) {
			e->cur = ep;
			return rc;
		}
		/* Refused, unreachable or a 5xx: the next endpoint. */
	}
	return rc;
}

/* ---- the ops ------------------------------------------------------------- */

static int
etcd_open(void **st, const char *const *endpoints, size_t n)
{
	struct etcd *e;
	static int inited;

	if (n == 0 || n > ETCD_ENDPOINTS_MAX)
		return err_set(ERR_INVALID, "etcd: 1 to %d endpoints", ETCD_ENDPOINTS_MAX);
	if (!inited) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		inited = 1;
	}
	e = xcalloc(1, sizeof(*e));
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(endpoints[i]);

		e->eps[i] = xstrndup(endpoints[i], len && endpoints[i][len - 1] == '/' ? len - 1 : len);
	}
	e->neps = n;
	if (!(e->multi = curl_multi_init())) {
		free(e);
		return err_set(ERR, "etcd: curl_multi_init failed");
	}
	*st = e;
	return OK;
}

static void
etcd_close(void *st)
{
	struct etcd *e = st;

	if (!e)
		return;
	xfer_end(e, &e->ka);
	free(e->ka_post);
	curl_multi_cleanup(e->multi);
	for (size_t i = 0; i < e->neps; i++)
		free(e->eps[i]);
	free(e);
}

static int
etcd_grant(void *st, unsigned ttl, int64_t *id, long *granted, int deadline_ms)
{
	char post[64];
	json_t *j;
	int64_t t = 0;
	int rc;

	snprintf(post, sizeof(post), "{\"TTL\":\"%u\"}", ttl);
	if ((rc = call(st, "/v3/lease/grant", post, &j, deadline_ms)) != OK)
		return rc;
	if ((rc = etcd_num_field(id, j, "ID")) == OK && (rc = etcd_num_field(&t, j, "TTL")) == OK &&
	    (*id <= 0 || t <= 0))
		rc = err_set(ERR_INVALID, "etcd: a lease grant without an ID or TTL");
	*granted = (long)t;
	json_decref(j);
	return rc;
}

static int
etcd_revoke(void *st, int64_t id, int deadline_ms)
{
	char post[64];
	json_t *j;
	int rc;

	snprintf(post, sizeof(post), "{\"ID\":\"%lld\"}", (long long)id);
	rc = call(st, "/v3/lease/revoke", post, &j, deadline_ms);
	json_decref(j);
	return rc;
}

static int
etcd_keepalive_start(void *st, int64_t id, int deadline_ms)
{
	struct etcd *e = st;
	char post[64];
	int rc;

	if (e->ka.e)
		return err_set(ERR_CONFLICT, "etcd: a keep-alive is in flight");
	snprintf(post, sizeof(post), "{\"ID\":\"%lld\"}", (long long)id);
	free(e->ka_post);
	e->ka_post = xstrdup(post);
	e->ka_ep = e->cur;
	if ((rc = xfer_start(e, &e->ka, e->ka_ep, "/v3/lease/keepalive", e->ka_post,
	    deadline_ms)) != OK)
		return rc;
	pump(e);
	return OK;
}

static int
etcd_keepalive_poll(void *st, long *ttl, int *rc)
{
	struct etcd *e = st;
	json_t *j, *res;
	int64_t t = 0;

	*ttl = 0;
	*rc = OK;
	if (!e->ka.e)
		return 0;
	pump(e);
	if (!e->ka.done) {
		if (now_s() < e->ka.deadline)
			return 0;
		xfer_end(e, &e->ka);
		*rc = err_set(ERR_AGAIN, "etcd keep-alive: no answer within the deadline");
		e->cur = (e->ka_ep + 1) % e->neps;
		return 1;
	}
	*rc = xfer_answer(&j, &e->ka, "keep-alive");
	xfer_end(e, &e->ka);
	if (*rc != OK) {
		if (*rc == ERR_AGAIN)
			e->cur = (e->ka_ep + 1) % e->neps;
		return 1;
	}
	/* {"result": {"ID": "...", "TTL": "9"}}; an expired lease has no TTL
	 * (zero, left out) or -1. */
	res = json_object_get(j, "result");
	if (!json_is_object(res))
		*rc = err_set(ERR_INVALID, "etcd keep-alive: no result");
	else if ((*rc = etcd_num_field(&t, res, "TTL")) == OK)
		*ttl = t > 0 ? (long)t : 0;
	json_decref(j);
	return 1;
}

static int
etcd_timeout_ms(void *st)
{
	struct etcd *e = st;

	return e->ka.e ? 5 : -1;
}

/* The end of the range of every key with this prefix. */
static char *
prefix_end(const char *key)
{
	size_t n = strlen(key);
	char *end = xstrdup(key);

	while (n > 0) {
		if ((unsigned char)end[n - 1] < 0xff) {
			end[n - 1]++;
			end[n] = '\0';
			return end;
		}
		n--;
	}
	free(end);
	return xstrdup("\0");
}

static void
put_key(json_t *o, const char *name, const void *p, size_t n)
{
	char *s = etcd_b64_encode(p, n);

	json_object_set_new(o, name, json_string(s));
	free(s);
}

static int
etcd_range(void *st, const char *key, int prefix, struct coord_kvs *out, int deadline_ms)
{
	char *end = prefix ? prefix_end(key) : NULL, *from = xstrdup(key);
	double stop = now_s() + deadline_ms / 1000.0;
	int rc = OK;

	memset(out, 0, sizeof(*out));
	for (;;) {
		json_t *q = json_object(), *j;
		char *post;
		int more;

		put_key(q, "key", from, strlen(from));
		if (end) {
			put_key(q, "range_end", end, strlen(end));
			json_object_set_new(q, "limit", json_string("256"));
		}
		post = json_dumps(q, JSON_COMPACT);
		json_decref(q);
		rc = call(st, "/v3/kv/range", post, &j, (int)((stop - now_s()) * 1000));
		free(post);
		if (rc != OK)
			break;
		rc = etcd_kvs_parse(out, j);
		more = json_is_true(json_object_get(j, "more"));
		json_decref(j);
		if (rc != OK || !more || !out->n)
			break;
		/* The next page starts just after the last key read: keys here
		 * are text, so the key followed by byte 1 is the next one. */
		{
			size_t n = strlen(out->v[out->n - 1].key);

			free(from);
			from = xmalloc(n + 2);
			memcpy(from, out->v[out->n - 1].key, n);
			from[n] = '\x01';
			from[n + 1] = '\0';
		}
		if (now_s() >= stop) {
			rc = err_set(ERR_AGAIN, "etcd range: the deadline passed");
			break;
		}
	}
	free(end);
	free(from);
	if (rc != OK)
		coord_kvs_dispose(out);
	return rc;
}

static json_t *
ops_json(const struct coord_op *ops, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *r = json_object(), *w = json_object();
		const struct coord_op *o = &ops[i];

		put_key(r, "key", o->key, strlen(o->key));
		switch (o->type) {
		case COORD_PUT:
			put_key(r, "value", o->val ? o->val : "", o->vlen);
			if (o->lease)
				json_object_set_new(r, "lease", json_sprintf("%lld", (long long)o->lease));
			json_object_set_new(w, "requestPut", r);
			break;
		case COORD_DEL:
			json_object_set_new(w, "requestDeleteRange", r);
			break;
		case COORD_GET_PREFIX: {
			char *end = prefix_end(o->key);

			put_key(r, "range_end", end, strlen(end));
			free(end);
		}
			/* FALLTHROUGH */
		case COORD_GET:
			json_object_set_new(w, "requestRange", r);
			break;
		}
		json_array_append_new(a, w);
	}
	return a;
}

static const char *const target_names[] = { "CREATE", "MOD", "VERSION", "VALUE" };
static const char *const result_names[] = { "EQUAL", "NOT_EQUAL", "LESS", "GREATER" };
static const char *const target_fields[] = { "create_revision", "mod_revision", "version",
	"value" };

static int
etcd_txn(void *st, const struct coord_txn *t, struct coord_txn_result *out, int deadline_ms)
{
	json_t *q = json_object(), *cmp = json_array(), *j;
	size_t i;
	char *post;
	int rc;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < t->ncmp; i++) {
		const struct coord_cmp *c = &t->cmp[i];
		json_t *o = json_object();

		put_key(o, "key", c->key, strlen(c->key));
		json_object_set_new(o, "target", json_string(target_names[c->target]));
		json_object_set_new(o, "result", json_string(result_names[c->op]));
		if (c->target == COORD_VALUE)
			put_key(o, "value", c->val ? c->val : "", c->vlen);
		else
			json_object_set_new(o, target_fields[c->target], json_sprintf("%lld",
			    (long long)c->num));
		json_array_append_new(cmp, o);
	}
	json_object_set_new(q, "compare", cmp);
	json_object_set_new(q, "success", ops_json(t->ok, t->nok));
	json_object_set_new(q, "failure", ops_json(t->fail, t->nfail));
	post = json_dumps(q, JSON_COMPACT);
	json_decref(q);
	if (!post)
		return err_set(ERR, "etcd: cannot encode a transaction");
	rc = call(st, "/v3/kv/txn", post, &j, deadline_ms);
	free(post);
	if (rc != OK)
		return rc;
	rc = etcd_txn_parse(out, j);
	json_decref(j);
	return rc;
}

static const struct coord_ops etcd_ops = {
	etcd_open, etcd_close, etcd_grant, etcd_revoke, etcd_keepalive_start,
	etcd_keepalive_poll, etcd_timeout_ms, etcd_txn, etcd_range,
};

const struct coord_provider coord_etcd = { COORD_PROVIDER_ABI, "etcd", &etcd_ops };
