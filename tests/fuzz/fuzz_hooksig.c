/*
 * fuzz_hooksig.c - push-hook bodies and signatures: hooksig_verify
 * (controller/hooksig.h), which is what POST /hooks/push reads (the
 * three headers and the raw body; http.c only hands them over).
 *
 * Input: parts separated by lines "--": the secret, then the
 * X-Hub-Signature-256, X-Gitea-Signature and X-Gitlab-Token values ("-":
 * the header is absent), then the body.
 *
 * Invariants, beyond "no crash, no leak, no undefined behaviour":
 *   - OK only when the first header present is the right one for the
 *     body: GitHub "sha256=" + HMAC hex, Gitea the HMAC hex (either case),
 *     GitLab the secret itself; and never without a secret;
 *   - a refusal is ERR_DENIED with a message that quotes neither the
 *     secret nor the MAC (a secret the message holds anyway, because it
 *     is words of the message itself, is not a leak: the message is the
 *     same with another secret);
 *   - the right GitHub signature for the same body is accepted.
 */
#include "fuzz.h"

#include <strings.h>

#include "base/crypto.h"
#include "controller/hooksig.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	char *secret, *hub, *gitea, *gitlab, *body, mac[2 * CRYPTO_SHA256_LEN + 1], good[80];
	size_t slen, n, blen;
	struct hooksig_headers h;
	enum hooksig_source which = HOOKSIG_NONE;
	int rc, ok;

	secret = fuzz_take_part(&in, &slen);
	hub = fuzz_take_part(&in, &n);
	gitea = fuzz_take_part(&in, &n);
	gitlab = fuzz_take_part(&in, &n);
	body = fuzz_take_part(&in, &blen);
	h.hub_signature_256 = strcmp(hub, "-") ? hub : NULL;
	h.gitea_signature = strcmp(gitea, "-") ? gitea : NULL;
	h.gitlab_token = strcmp(gitlab, "-") ? gitlab : NULL;
	crypto_hmac_sha256_hex(mac, secret, slen, body, blen);

	rc = hooksig_verify(&which, slen ? secret : NULL, slen, &h, body, blen);
	if (h.hub_signature_256)
		ok = strncmp(hub, "sha256=", 7) == 0 && strcasecmp(hub + 7, mac) == 0;
	else if (h.gitea_signature)
		ok = strcasecmp(gitea, mac) == 0;
	else if (h.gitlab_token)
		ok = strlen(gitlab) == slen && memcmp(gitlab, secret, slen) == 0;
	else
		ok = 0;
	if (rc == OK) {
		FUZZ_CHECK(slen > 0 && ok, "accepted a bad hook");
		FUZZ_CHECK(which == (h.hub_signature_256 ? HOOKSIG_GITHUB : h.gitea_signature ?
		    HOOKSIG_GITEA : HOOKSIG_GITLAB), "source %d", which);
		FUZZ_CHECK(hooksig_source_name(which) != NULL, "no name");
	} else {
		FUZZ_CHECK(rc == ERR_DENIED && err_last()[0] && !strstr(err_last(), mac), "rc %d: %s",
		    rc, err_last());
		if (slen >= 8 && memmem(err_last(), strlen(err_last()), secret, slen)) {
			/* The secret is in the message: a leak, unless the message
			 * says the same with another secret (a secret that happens
			 * to be words of the message, " sha256=" say). */
			char *said = xstrdup(err_last()), *other = xmalloc(slen + 1);
			size_t i;

			for (i = 0; i < slen; i++)
				other[i] = secret[i] == 'Z' ? 'Y' : 'Z';
			other[slen] = '\0';
			h.hub_signature_256 = strcmp(hub, "-") ? hub : NULL;
			hooksig_verify(&which, other, slen, &h, body, blen);
			FUZZ_CHECK(strcmp(said, err_last()) == 0, "the secret is in the refusal: %s", said);
			free(other);
			free(said);
		}
	}

	snprintf(good, sizeof(good), "sha256=%s", mac);
	h.hub_signature_256 = good;
	rc = hooksig_verify(&which, slen ? secret : NULL, slen, &h, body, blen);
	FUZZ_CHECK((rc == OK) == (slen > 0), "the right signature: rc %d (%s)", rc, err_last());

	free(secret);
	free(hub);
	free(gitea);
	free(gitlab);
	free(body);
	return 0;
}
