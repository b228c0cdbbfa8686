/*
 * hooksig.c - push hook signatures.  See hooksig.h.
 */
#include "hooksig.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

const char *
hooksig_source_name(enum hooksig_source s)
{
	switch (s) {
	case HOOKSIG_GITHUB: return "github";
	case HOOKSIG_GITEA:  return "gitea";
	case HOOKSIG_GITLAB: return "gitlab";
	default:             return "none";
	}
}

void
hooksig_hmac_sha256(unsigned char out[HOOKSIG_MAC_LEN], const void *key, size_t keylen,
    const void *data, size_t len)
{
	static const unsigned char empty[1];
	unsigned char *r;
	unsigned int n = 0;

	/* HMAC() takes an int key length and refuses NULL data. */
	ASSERT(keylen <= 0x7fffffff);
	r = HMAC(EVP_sha256(), key ? key : empty, (int)keylen, data ? data : empty, len, out, &n);
	ASSERT(r != NULL && n == HOOKSIG_MAC_LEN);
}

void
hooksig_hmac_sha256_hex(char out[2 * HOOKSIG_MAC_LEN + 1], const void *key, size_t keylen,
    const void *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[HOOKSIG_MAC_LEN];
	size_t i;

	hooksig_hmac_sha256(mac, key, keylen, data, len);
	for (i = 0; i < HOOKSIG_MAC_LEN; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[2 * HOOKSIG_MAC_LEN] = '\0';
}


int
hooksig_hex_equal(const char *hex, const unsigned char mac[HOOKSIG_MAC_LEN])
{
	unsigned char got[HOOKSIG_MAC_LEN];
	size_t i;

	if (strlen(hex) != 2 * HOOKSIG_MAC_LEN)
		return 0;
	for (i = 0; i < HOOKSIG_MAC_LEN; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return 0;
		got[i] = (unsigned char)(hi << 4 | lo);
	}
	return mem_equal_ct(got, mac, HOOKSIG_MAC_LEN);
}

/*
 * GitLab sends the secret itself.  Comparing digests of both sides keeps
 * the time independent of the secret's length as well as its content.
 */
static int
token_equal(const char *token, const char *secret, size_t secret_len)
{
	unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
	unsigned int na = 0, nb = 0;
	int ra, rb;

	ra = EVP_Digest(token, strlen(token), a, &na, EVP_sha256(), NULL);
	rb = EVP_Digest(secret, secret_len, b, &nb, EVP_sha256(), NULL);
	ASSERT(ra == 1 && rb == 1 && na == nb);
	return mem_equal_ct(a, b, na);
}

int
hooksig_verify(enum hooksig_source *which, const char *secret, size_t secret_len,
    const struct hooksig_headers *h, const void *body, size_t len)
{
	unsigned char mac[HOOKSIG_MAC_LEN];
	enum hooksig_source src;
	const char *sig;

	if (which)
		*which = HOOKSIG_NONE;
	if (!secret || secret_len == 0)
		return err_set(ERR_DENIED, "no push hook secret is configured");
	if (h->hub_signature_256) {
		src = HOOKSIG_GITHUB;
		sig = h->hub_signature_256;
		if (strncmp(sig, "sha256=", 7) != 0)
			return err_set(ERR_DENIED, "X-Hub-Signature-256 does not start with sha256=");
		sig += 7;
	} else if (h->gitea_signature) {
		src = HOOKSIG_GITEA;
		sig = h->gitea_signature;
	} else if (h->gitlab_token) {
		if (!token_equal(h->gitlab_token, secret, secret_len))
			return err_set(ERR_DENIED, "X-Gitlab-Token does not match");
		if (which)
			*which = HOOKSIG_GITLAB;
		return OK;
	} else {
		return err_set(ERR_DENIED, "no X-Hub-Signature-256, X-Gitea-Signature "
		    "or X-Gitlab-Token header");
	}
	hooksig_hmac_sha256(mac, secret, secret_len, body, len);
	if (!hooksig_hex_equal(sig, mac))
		return err_set(ERR_DENIED, "%s signature does not match the body",
		    src == HOOKSIG_GITHUB ? "X-Hub-Signature-256" : "X-Gitea-Signature");
	if (which)
		*which = src;
	return OK;
}
