/*
 * tsigkey.h - a TSIG key (RFC 8945) for the rfc2136 provider: its name,
 * algorithm and secret, and the reader of the secret file's content (the
 * bare base64 secret, or the block `tsig-keygen` writes).  The secret is
 * never put in a message; tsigkey_dispose() wipes it.
 *
 * Layer: providers/apply (includes base).
 */
#ifndef FIREBREAK_TSIGKEY_H
#define FIREBREAK_TSIGKEY_H

#include <stddef.h>

#include "base/util.h"

/* A TSIG key: hmac-sha256 or hmac-sha512 only (ldns 1.8.3 misspells the
 * names of the others). */
struct tsigkey {
	char *name;               /* owns; "firebreak-key.", lowercase */
	const char *alg;          /* static: "hmac-sha256." or "hmac-sha512." */
	size_t maclen;            /* 32 or 64 */
	char *secret;             /* owns; base64 (wiped by tsigkey_dispose) */
};

/* "hmac-sha256" or "hmac-sha512" -> alg and maclen; ERR_INVALID else. */
int tsigkey_algorithm(struct tsigkey *k, const char *name);
void tsigkey_dispose(struct tsigkey *k);

/*
 * The base64 secret out of a secret file's content: either the bare
 * secret, or the block `tsig-keygen` writes (key "NAME" { algorithm ALG;
 * secret "..."; };), whose name and algorithm must then be the key's.
 * *out owns the secret.  ERR_INVALID (the message never holds the
 * secret) when it is neither, or is not base64 of at least 16 bytes.
 */
int tsigkey_parse_secret(char **out, const struct tsigkey *k, const char *text);

#endif
