/*
 * crypto.c - HMAC-SHA256, SHA-256 and constant-time comparisons.  See
 * crypto.h.
 */
#include "base/crypto.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "base/util.h"

void
crypto_sha256(unsigned char out[CRYPTO_SHA256_LEN], const void *p, size_t n)
{
	static const unsigned char empty[1];
	unsigned int len = 0;
	int rc;

	rc = EVP_Digest(p ? p : empty, n, out, &len, EVP_sha256(), NULL);
	ASSERT(rc == 1 && len == CRYPTO_SHA256_LEN);
}

void
crypto_hmac_sha256(unsigned char out[CRYPTO_SHA256_LEN], const void *key, size_t keylen,
    const void *data, size_t len)
{
	static const unsigned char empty[1];
	unsigned char *r;
	unsigned int n = 0;

	/* HMAC() takes an int key length and refuses NULL data. */
	ASSERT(keylen <= 0x7fffffff);
	r = HMAC(EVP_sha256(), key ? key : empty, (int)keylen, data ? data : empty, len, out, &n);
	ASSERT(r != NULL && n == CRYPTO_SHA256_LEN);
}

void
crypto_hmac_sha256_hex(char out[2 * CRYPTO_SHA256_LEN + 1], const void *key, size_t keylen,
    const void *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[CRYPTO_SHA256_LEN];
	size_t i;

	crypto_hmac_sha256(mac, key, keylen, data, len);
	for (i = 0; i < CRYPTO_SHA256_LEN; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[2 * CRYPTO_SHA256_LEN] = '\0';
	explicit_bzero(mac, sizeof(mac));
}

int
crypto_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

int
crypto_hex_mac_equal(const char *hex, const unsigned char mac[CRYPTO_SHA256_LEN])
{
	unsigned char got[CRYPTO_SHA256_LEN];
	size_t i;

	if (strlen(hex) != 2 * CRYPTO_SHA256_LEN)
		return 0;
	for (i = 0; i < CRYPTO_SHA256_LEN; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return 0;
		got[i] = (unsigned char)(hi << 4 | lo);
	}
	return crypto_equal(got, mac, CRYPTO_SHA256_LEN);
}

int
crypto_token_equal(const void *got, size_t got_len, const void *want, size_t want_len)
{
	unsigned char a[CRYPTO_SHA256_LEN], b[CRYPTO_SHA256_LEN];
	int same;

	crypto_sha256(a, got, got_len);
	crypto_sha256(b, want, want_len);
	same = crypto_equal(a, b, sizeof(a));
	explicit_bzero(b, sizeof(b));
	return same;
}
