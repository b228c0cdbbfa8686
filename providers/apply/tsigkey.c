/*
 * tsigkey.c - TSIG keys and their secret files.  See tsigkey.h.
 */
#include "providers/apply/tsigkey.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

int
tsigkey_algorithm(struct tsigkey *k, const char *name)
{
	if (strcmp(name, "hmac-sha256") == 0) {
		k->alg = "hmac-sha256.";
		k->maclen = 32;
		return OK;
	}
	if (strcmp(name, "hmac-sha512") == 0) {
		k->alg = "hmac-sha512.";
		k->maclen = 64;
		return OK;
	}
	return err_set(ERR_INVALID, "algorithm \"%.40s\": expected hmac-sha256 or hmac-sha512",
	    name);
}

void
tsigkey_dispose(struct tsigkey *k)
{
	free(k->name);
	if (k->secret) {
		explicit_bzero(k->secret, strlen(k->secret));
		free(k->secret);
	}
	memset(k, 0, sizeof(*k));
}

static int
b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '+' || c == '/' || c == '=';
}

/* Is s[0..n) base64 of at least 16 bytes? */
static int
b64_ok(const char *s, size_t n)
{
	unsigned char *bin;
	size_t i, pad = 0;
	int got;

	if (n < 24 || n > 1024 || n % 4 != 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!b64_char(s[i]) || (s[i] == '=' && i < n - 2))
			return 0;
	while (pad < 2 && s[n - 1 - pad] == '=')
		pad++;
	bin = xmalloc(n);
	got = EVP_DecodeBlock(bin, (const unsigned char *)s, (int)n);
	explicit_bzero(bin, n);
	free(bin);
	return got >= 0 && (size_t)got - pad >= 16;
}

/* The next token of a key block: a quoted string (without its quotes),
 * one of "{};", or a word.  *p moves past it; 0 at the end. */
static int
next_tok(const char **p, const char **tok, size_t *len)
{
	const char *s = *p;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	if (!*s)
		return 0;
	if (*s == '"') {
		const char *e = strchr(s + 1, '"');

		if (!e)
			return 0;
		*tok = s + 1;
		*len = (size_t)(e - s - 1);
		*p = e + 1;
		return 1;
	}
	*tok = s;
	if (*s == '{' || *s == '}' || *s == ';') {
		*len = 1;
		*p = s + 1;
		return 1;
	}
	while (*s && !strchr(" \t\r\n{};\"", *s))
		s++;
	*len = (size_t)(s - *tok);
	*p = s;
	return 1;
}

static int
tok_is(const char *tok, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(tok, word, len) == 0;
}

/* Same DNS name, ignoring case and a final dot. */
static int
name_same(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);

	if (alen && a[alen - 1] == '.')
		alen--;
	if (blen && b[blen - 1] == '.')
		blen--;
	return alen == blen && strncasecmp(a, b, alen) == 0;
}

int
tsigkey_parse_secret(char **out, const struct tsigkey *k, const char *text)
{
	const char *p = text, *tok, *secret = NULL;
	size_t len, slen = 0;
	int alg_seen = 0;

	*out = NULL;
	if (!strchr(text, '{')) {
		len = strlen(text);
		while (len && strchr(" \t\r\n", text[len - 1]))
			len--;
		while (len && strchr(" \t\r\n", *p))
			p++, len--;
		if (!b64_ok(p, len))
			return err_set(ERR_INVALID, "expected a base64 secret (of at least 16 bytes) "
			    "or the key block tsig-keygen writes");
		*out = xstrndup(p, len);
		return OK;
	}
	/* key "NAME" { algorithm ALG; secret "B64"; }; */
	if (!next_tok(&p, &tok, &len) || !tok_is(tok, len, "key") || !next_tok(&p, &tok, &len))
		return err_set(ERR_INVALID, "expected a key block: key \"NAME\" { algorithm ...; "
		    "secret \"...\"; };");
	if (!name_same(tok, len, k->name))
		return err_set(ERR_INVALID, "the key block is for key \"%.*s\", not \"%s\"",
		    (int)(len > 64 ? 64 : len), tok, k->name);
	if (!next_tok(&p, &tok, &len) || !tok_is(tok, len, "{"))
		return err_set(ERR_INVALID, "expected '{' after the key's name");
	for (;;) {
		if (!next_tok(&p, &tok, &len))
			return err_set(ERR_INVALID, "the key block does not end");
		if (tok_is(tok, len, "}"))
			break;
		if (tok_is(tok, len, "algorithm")) {
			if (!next_tok(&p, &tok, &len) || !name_same(tok, len, k->alg))
				return err_set(ERR_INVALID, "the key block's algorithm is not %.*s",
				    (int)strlen(k->alg) - 1, k->alg);
			alg_seen = 1;
		} else if (tok_is(tok, len, "secret")) {
			if (!next_tok(&p, &tok, &len))
				return err_set(ERR_INVALID, "the key block's secret is missing");
			secret = tok;
			slen = len;
		} else {
			return err_set(ERR_INVALID, "unknown statement in the key block");
		}
		if (!next_tok(&p, &tok, &len) || !tok_is(tok, len, ";"))
			return err_set(ERR_INVALID, "expected ';' in the key block");
	}
	if (next_tok(&p, &tok, &len) && !tok_is(tok, len, ";"))
		return err_set(ERR_INVALID, "more than one key block");
	if (next_tok(&p, &tok, &len))
		return err_set(ERR_INVALID, "more than one key block");
	if (!alg_seen || !secret || !b64_ok(secret, slen))
		return err_set(ERR_INVALID, "the key block needs an algorithm and a base64 secret "
		    "(of at least 16 bytes)");
	*out = xstrndup(secret, slen);
	return OK;
}

