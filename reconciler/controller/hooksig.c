/*
 * hooksig.c - push hook signatures.  See hooksig.h.
 */
#include "controller/hooksig.h"

#include "base/crypto.h"

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

int
hooksig_verify(enum hooksig_source *which, const char *secret, size_t secret_len,
    const struct hooksig_headers *h, const void *body, size_t len)
{
	unsigned char mac[CRYPTO_SHA256_LEN];
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
		if (!crypto_token_equal(h->gitlab_token, strlen(h->gitlab_token), secret, secret_len))
			return err_set(ERR_DENIED, "X-Gitlab-Token does not match");
		if (which)
			*which = HOOKSIG_GITLAB;
		return OK;
	} else {
		return err_set(ERR_DENIED, "no X-Hub-Signature-256, X-Gitea-Signature "
		    "or X-Gitlab-Token header");
	}
	crypto_hmac_sha256(mac, secret, secret_len, body, len);
	if (!crypto_hex_mac_equal(sig, mac))
		return err_set(ERR_DENIED, "%s signature does not match the body",
		    src == HOOKSIG_GITHUB ? "X-Hub-Signature-256" : "X-Gitea-Signature");
	if (which)
		*which = src;
	return OK;
}
