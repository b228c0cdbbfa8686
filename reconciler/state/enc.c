/*
 * enc.c - see enc.h.  Kept apart from state.c so the `firebreak` front
 * binary can link it without libgit2, jansson or OpenSSL.
 */
#include "state/enc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/names.h"

unsigned
enc_bucket(const char *fqdn, size_t len)
{
	return hash_fnv1a(fqdn, len) & 0xff;
}

int
enc_path(char *out, size_t n, const char *state_dir, const char *fqdn)
{
	int k = snprintf(out, n, "%s/current/enc/%02x/%s.yaml", state_dir,
	    enc_bucket(fqdn, strlen(fqdn)), fqdn);

	if (k < 0 || (size_t)k >= n)
		return err_set(ERR_TOOBIG, "path too long");
	return OK;
}

int
enc_open(int *fd, const char *state_dir, const char *fqdn)
{
	char path[4096], cur[4096];
	struct stat st;
	int rc;

	*fd = -1;
	/* A name that is no fqdn cannot be in any release; never let it
	 * become a path. */
	if (!valid_fqdn(fqdn))
		return err_set(ERR_INVALID, "'%s' is not a valid fqdn", fqdn);
	/* A staged rollout's canary host first (state/rollouts.h): one open()
	 * through the release's `nodes` link, which dangles when nothing is
	 * staged. */
	{
		int k = snprintf(path, sizeof(path), "%s/current/nodes/%s.yaml", state_dir, fqdn);

		if (k < 0 || (size_t)k >= sizeof(path))
			return err_set(ERR_TOOBIG, "path too long");
		if ((*fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0)
			return OK;
	}
	if ((rc = enc_path(path, sizeof(path), state_dir, fqdn)) != OK)
		return rc;
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd >= 0)
		return OK;
	if (errno != ENOENT && errno != ENOTDIR)
		return err_set(ERR, "%s: %s", path, strerror(errno));
	/* Only on the miss path: say whether the release itself is missing. */
	snprintf(cur, sizeof(cur), "%s/current", state_dir);
	if (stat(cur, &st) != 0)
		return err_set(ERR, "%s has no current release (run firebreak apply first)",
		    state_dir);
	return err_set(ERR_NOTFOUND, "no node '%s' in the current release", fqdn);
}

int
enc_copy(int in, int out)
{
	char chunk[16384];
	ssize_t n;

	while ((n = read(in, chunk, sizeof(chunk))) != 0) {
		const char *p = chunk;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_set(ERR, "reading the ENC document: %s", strerror(errno));
		}
		while (n > 0) {
			ssize_t w = write(out, p, (size_t)n);

			if (w < 0) {
				if (errno == EINTR)
					continue;
				return err_set(ERR, "writing the ENC document: %s", strerror(errno));
			}
			p += w;
			n -= w;
		}
	}
	return OK;
}
