/*
 * enc.h - where a node's ENC document lives in the current release.
 *
 * Puppet runs `firebreak enc` on every agent run, with no timeout, so this
 * path must cost the same at 1k and 100k hosts and must not load the
 * inventory: the document is one open() away.  Releases fan the documents
 * out into 256 buckets by the FNV-1a hash of the fqdn (see state.h).
 *
 * Layer: state (includes plan, renderers, model, git, base and the provider
 * interfaces); this one only base, since the libc-only front links it.
 */
#ifndef FIREBREAK_ENC_H
#define FIREBREAK_ENC_H

#include <stddef.h>

#include "base/util.h"

/* The bucket (0..255) of an fqdn of `len` bytes. */
unsigned enc_bucket(const char *fqdn, size_t len);

/* "<state>/current/enc/<bb>/<fqdn>.yaml" into out; ERR_TOOBIG when it
 * does not fit.  The fqdn must already have passed valid_fqdn(). */
int enc_path(char *out, size_t n, const char *state_dir, const char *fqdn);

/*
 * Open the node's document in the current release of `state_dir` (a
 * staged rollout's canary host: its overlay, <current>/nodes/<fqdn>.yaml):
 * *fd is an open descriptor (the caller closes it) and OK; ERR_INVALID
 * when fqdn is not a valid name; ERR_NOTFOUND when the release has no
 * such node; ERR when there is no current release or I/O failed (the
 * message says which).
 */
int enc_open(int *fd, const char *state_dir, const char *fqdn);

/* Copy everything from `in` to `out`.  OK or ERR with the message. */
int enc_copy(int in, int out);

#endif
