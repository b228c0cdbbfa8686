/*
 * fuzz_etcd.c - etcd's JSON gateway answers as the HA coordinator reads
 * them (providers/coord/etcd_json.h): a range's key-values, a
 * transaction's result, base64 and the 64-bit numbers that come as
 * strings.  The input is the answer's body, parsed as etcd.c parses it
 * (JSON_REJECT_DUPLICATES), then read both as a range and as a
 * transaction; a second part, if any, is decoded as base64.
 *
 * Invariants, beyond "no crash, no leak, no undefined behaviour":
 *   - a range read OK holds keys of 1 to COORD_KEY_MAX bytes without a
 *     NUL, values NUL-terminated at their length, revisions >= 0;
 *   - a transaction read OK holds at most as many ranges as it has room
 *     for, each like the above; an error leaves nothing behind;
 *   - base64 that decodes encodes back to the same text.
 */
#include "fuzz.h"

#include <jansson.h>

#include "providers/coord/etcd_json.h"

static void
check_kvs(const struct coord_kvs *k)
{
	size_t i;

	FUZZ_CHECK(k->rev >= 0, "revision %lld", (long long)k->rev);
	for (i = 0; i < k->n; i++) {
		const struct coord_kv *d = &k->v[i];
		size_t kl = strlen(d->key);

		FUZZ_CHECK(kl > 0 && kl <= COORD_KEY_MAX, "key of %zu bytes", kl);
		FUZZ_CHECK(d->val && d->val[d->len] == '\0', "value not terminated");
		FUZZ_CHECK(d->create_rev >= 0 && d->mod_rev >= 0 && d->version >= 0,
		    "negative revision");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	size_t blen, xlen;
	char *body = fuzz_take_part(&in, &blen), *b64 = fuzz_take_part(&in, &xlen);
	json_t *j = json_loadb(body, blen, JSON_REJECT_DUPLICATES, NULL);

	if (j) {
		struct coord_kvs k;
		struct coord_txn_result t;
		size_t i;

		memset(&k, 0, sizeof(k));
		if (etcd_kvs_parse(&k, j) == OK)
			check_kvs(&k);
		else
			FUZZ_CHECK(err_last()[0], "refused without a reason");
		coord_kvs_dispose(&k);
		if (etcd_txn_parse(&t, j) == OK) {
			FUZZ_CHECK(t.ngets <= sizeof(t.gets) / sizeof(*t.gets), "%zu ranges", t.ngets);
			for (i = 0; i < t.ngets; i++)
				check_kvs(&t.gets[i]);
			coord_txn_result_dispose(&t);
		} else {
			FUZZ_CHECK(t.ngets == 0 && !t.gets[0].v, "a refused answer left ranges");
		}
		json_decref(j);
	}
	if (xlen == strlen(b64)) {
		unsigned char *dec;
		size_t dl;

		if (etcd_b64_decode(&dec, &dl, b64) == OK) {
			char *enc = etcd_b64_encode(dec, dl);

			FUZZ_CHECK(strlen(enc) == xlen, "'%s' decodes and encodes to '%s'", b64, enc);
			free(enc);
			free(dec);
		}
	}
	free(body);
	free(b64);
	return 0;
}
