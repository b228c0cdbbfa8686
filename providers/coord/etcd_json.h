/*
 * etcd_json.h - etcd v3's JSON gateway as it answers, read (etcd.c does
 * the requests): keys and values in base64, 64-bit numbers as strings, a
 * field equal to its zero value left out (absent is zero: the "succeeded"
 * of a failed transaction, the "kvs" of an empty range).  Pure functions
 * over parsed JSON, so tests/fuzz/fuzz_etcd.c can reach them.
 *
 * Layer: providers/coord (includes base and its own folder, and
 * <jansson.h>).
 */
#ifndef FIREBREAK_ETCD_JSON_H
#define FIREBREAK_ETCD_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "providers/coord/coord.h"

/* Canonical padded base64 of data (owns). */
char *etcd_b64_encode(const void *data, size_t n);
/* Decode s (owns *out, NUL-terminated beyond *len).  ERR_INVALID for
 * anything but canonical padded base64. */
int etcd_b64_decode(unsigned char **out, size_t *len, const char *s);
/* obj's number field `name`: absent is 0; a JSON integer or a decimal
 * string within int64 ("-N" only for a TTL of -1 and the like). */
int etcd_num_field(int64_t *out, const json_t *obj, const char *name);
/* Append a range answer's key-values to out (its revision from the
 * header).  On an error out holds what was read so far: the caller
 * disposes of it. */
int etcd_kvs_parse(struct coord_kvs *out, const json_t *j);
/* A transaction's answer (out zeroed first; disposed of on an error):
 * succeeded, the header's revision, and the ranges among its responses
 * (at most as many as out->gets holds). */
int etcd_txn_parse(struct coord_txn_result *out, const json_t *j);

#endif
