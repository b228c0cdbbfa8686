/*
 * hooksig.h - is a push hook really from our git server?  DESIGN.md
 * "Security rules": inbound HTTP is authenticated, compared in constant time.
 *
 *   GitHub   X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>
 *   Gitea    X-Gitea-Signature:   <hex HMAC-SHA256(secret, raw body)>
 *   GitLab   X-Gitlab-Token:      <the secret itself>
 *
 * A hook only makes the controller fetch, which is idempotent, so a
 * replayed hook costs one fetch; none of the three signs a timestamp.
 *
 * Layer: controller (includes state and below, provider interfaces).
 */
#ifndef FIREBREAK_HOOKSIG_H
#define FIREBREAK_HOOKSIG_H

#include <stddef.h>

#include "base/util.h"

enum hooksig_source { HOOKSIG_NONE, HOOKSIG_GITHUB, HOOKSIG_GITEA, HOOKSIG_GITLAB };

/* The request's header values (borrowed; NULL when absent). */
struct hooksig_headers {
	const char *hub_signature_256;   /* X-Hub-Signature-256 */
	const char *gitea_signature;     /* X-Gitea-Signature */
	const char *gitlab_token;        /* X-Gitlab-Token */
};

/*
 * Verify a hook against `secret` (borrowed, secret_len bytes).  The first
 * header present, in the order GitHub, Gitea, GitLab, decides; the others
 * are not consulted.  Returns OK and sets *which (may be NULL) when it
 * verifies; ERR_DENIED otherwise (no secret configured, no header, a
 * malformed value, a mismatch), with err_last() saying which of those,
 * never a MAC or the secret.
 */
int hooksig_verify(enum hooksig_source *which, const char *secret, size_t secret_len,
    const struct hooksig_headers *h, const void *body, size_t len);

const char *hooksig_source_name(enum hooksig_source s);   /* "github", ... */

#endif
