/*
 * etcd_json.c - see etcd_json.h.
 */
#include "providers/coord/etcd_json.h"

#include <stdlib.h>
#include <string.h>

/* ---- base64 -------------------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
etcd_b64_encode(const void *data, size_t n)
{
	const unsigned char *p = data;
	char *out = xmalloc(4 * ((n + 2) / 3) + 1), *o = out;
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		*o++ = b64[p[i] >> 2];
		*o++ = b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		*o++ = b64[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		*o++ = b64[p[i + 2] & 63];
	}
	if (i < n) {
		*o++ = b64[p[i] >> 2];
		if (i + 1 < n) {
			*o++ = b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
			*o++ = b64[(p[i + 1] & 15) << 2];
		} else {
			*o++ = b64[(p[i] & 3) << 4];
			*o++ = '=';
		}
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int
b64_val(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

int
etcd_b64_decode(unsigned char **out, size_t *len, const char *s)
{
	size_t n = strlen(s), i, o = 0;
	unsigned char *d;

	*out = NULL;
	if (n % 4)
		return err_set(ERR_INVALID, "etcd: a value is not base64");
	d = xmalloc(n / 4 * 3 + 1);
	for (i = 0; i < n; i += 4) {
		int a = b64_val(s[i]), b = b64_val(s[i + 1]), c, e;
		int last = i + 4 == n;

		c = s[i + 2] == '=' && last ? -2 : b64_val(s[i + 2]);
		e = s[i + 3] == '=' && last ? -2 : b64_val(s[i + 3]);
		if (a < 0 || b < 0 || c == -1 || e == -1 || (c == -2 && e != -2)) {
			free(d);
			return err_set(ERR_INVALID, "etcd: a value is not base64");
		}
		d[o++] = (unsigned char)((a << 2) | (b >> 4));
		if (c >= 0)
			d[o++] = (unsigned char)(((b & 15) << 4) | (c >> 2));
		if (e >= 0)
			d[o++] = (unsigned char)(((c & 3) << 6) | e);
	}
	d[o] = '\0';
	*out = d;
	*len = o;
	return OK;
}

/* ---- numbers: strings in etcd's JSON; absent is zero ------------------------ */

int
etcd_num_field(int64_t *out, const json_t *obj, const char *name)
{
	const json_t *v = json_object_get(obj, name);
	uint64_t u;

	*out = 0;
	if (!v)
		return OK;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = json_integer_value(v);
		return OK;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);

		if (s[0] == '-') {
			/* TTL -1: an expired or unknown lease. */
			if (parse_u64(&u, s + 1, 0, (uint64_t)INT64_MAX) != OK)
				return err_set(ERR_INVALID, "etcd: '%s' is not a number", name);
			*out = -(int64_t)u;
			return OK;
		}
		if (parse_u64(&u, s, 0, (uint64_t)INT64_MAX) != OK)
			return err_set(ERR_INVALID, "etcd: '%s' is not a number", name);
		*out = (int64_t)u;
		return OK;
	}
	return err_set(ERR_INVALID, "etcd: '%s' is neither a number nor a string", name);
}

/* A revision or a version: never negative (a "-1" is refused: a compare
 * against it in a transaction would mean nothing etcd ever said). */
static int
etcd_rev_field(int64_t *out, const json_t *obj, const char *name)
{
	int rc = etcd_num_field(out, obj, name);

	if (rc == OK && *out < 0) {
		*out = 0;
		return err_set(ERR_INVALID, "etcd: '%s' is negative", name);
	}
	return rc;
}

int
etcd_kvs_parse(struct coord_kvs *out, const json_t *j)
{
	const json_t *kvs = json_object_get(j, "kvs"), *h = json_object_get(j, "header"), *kv;
	size_t i, base = out->n;
	int rc;

	if (h && (rc = etcd_rev_field(&out->rev, h, "revision")) != OK)
		return rc;
	if (!kvs)
		return OK;
	if (!json_is_array(kvs))
		return err_set(ERR_INVALID, "etcd: 'kvs' is not a list");
	out->v = xrealloc(out->v, (out->n + json_array_size(kvs)) * sizeof(*out->v));
	json_array_foreach(kvs, i, kv) {
		struct coord_kv *d = &out->v[base + i];
		const char *k = json_string_value(json_object_get(kv, "key"));
		const char *v = json_string_value(json_object_get(kv, "value"));
		unsigned char *key;
		size_t klen;

		memset(d, 0, sizeof(*d));
		out->n = base + i + 1;
		if (!json_is_object(kv) || !k)
			return err_set(ERR_INVALID, "etcd: a key-value without a key");
		if ((rc = etcd_b64_decode(&key, &klen, k)) != OK)
			return rc;
		if (klen == 0 || klen > COORD_KEY_MAX || memchr(key, '\0', klen)) {
			free(key);
			return err_set(ERR_INVALID, "etcd: a key that is empty, too long or not text");
		}
		d->key = (char *)key;
		if (v) {
			if ((rc = etcd_b64_decode(&d->val, &d->len, v)) != OK)
				return rc;
		} else {
			d->val = (unsigned char *)xstrdup("");
		}
		if ((rc = etcd_rev_field(&d->create_rev, kv, "create_revision")) != OK ||
		    (rc = etcd_rev_field(&d->mod_rev, kv, "mod_revision")) != OK ||
		    (rc = etcd_rev_field(&d->version, kv, "version")) != OK ||
		    (rc = etcd_num_field(&d->lease, kv, "lease")) != OK)
			return rc;
	}
	return OK;
}

int
etcd_txn_parse(struct coord_txn_result *out, const json_t *j)
{
	const json_t *resps, *r;
	size_t i;
	int rc, k;

	memset(out, 0, sizeof(*out));
	/* A failed comparison leaves "succeeded" out (false is its zero). */
	out->succeeded = json_is_true(json_object_get(j, "succeeded"));
	if ((rc = etcd_rev_field(&out->rev, json_object_get(j, "header"), "revision")) != OK)
		goto done;
	resps = json_object_get(j, "responses");
	if (resps && !json_is_array(resps)) {
		rc = err_set(ERR_INVALID, "etcd txn: 'responses' is not a list");
		goto done;
	}
	k = 0;
	json_array_foreach(resps, i, r) {
		const json_t *rr = json_object_get(r, "response_range");

		if (!rr)
			continue;
		if (k == (int)(sizeof(out->gets) / sizeof(*out->gets)))
			break;
		if ((rc = etcd_kvs_parse(&out->gets[k++], rr)) != OK)
			break;
	}
	out->ngets = (size_t)k;
done:
	if (rc != OK)
		coord_txn_result_dispose(out);
	return rc;
}
