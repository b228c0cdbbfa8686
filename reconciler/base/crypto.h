/*
 * crypto.h - the base layer's cryptography: HMAC-SHA256, SHA-256, and
 * comparisons whose time does not depend on the secret compared.
 *
 * Layer: base (includes only base/).  Used by the push-hook verifier
 * (controller/hooksig), Slack's request signing and Mattermost's token
 * (providers/chat/slack_in), and the replay cache's digests.  Nothing
 * here allocates or fails: OpenSSL's one-shot calls cannot fail for
 * these inputs, and an impossible failure aborts through ASSERT.
 */
#ifndef FIREBREAK_CRYPTO_H
#define FIREBREAK_CRYPTO_H

#include <stddef.h>

#define CRYPTO_SHA256_LEN 32

/* SHA-256 of p[0..n). */
void crypto_sha256(unsigned char out[CRYPTO_SHA256_LEN], const void *p, size_t n);

/* HMAC-SHA256(key, data), raw and as 64 lowercase hex digits + NUL.  A
 * NULL key or data with length 0 is the empty string. */
void crypto_hmac_sha256(unsigned char out[CRYPTO_SHA256_LEN], const void *key,
    size_t keylen, const void *data, size_t len);
void crypto_hmac_sha256_hex(char out[2 * CRYPTO_SHA256_LEN + 1], const void *key,
    size_t keylen, const void *data, size_t len);

/* 1 when a[0..n) equals b[0..n), in time that depends only on n. */
int crypto_equal(const void *a, const void *b, size_t n);

/*
 * Compare a hex MAC someone sent (either case, exactly 64 digits) with
 * the one we computed, in time independent of where they differ.
 * Returns 1 when equal.
 */
int crypto_hex_mac_equal(const char *hex, const unsigned char mac[CRYPTO_SHA256_LEN]);

/*
 * Does `got` (got_len bytes) equal the secret `want`?  Compared through
 * SHA-256 digests of both, so the time depends on neither's content nor
 * length (a token sent in a header is compared whole, not byte by byte).
 */
int crypto_token_equal(const void *got, size_t got_len, const void *want, size_t want_len);

#endif
