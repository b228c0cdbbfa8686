/*
 * secret.c - see secret.h.
 *
 * The file is read into one buffer allocated up front, never grown: a
 * realloc would leave a copy of the secret in freed memory, where no wipe
 * can reach it.
 */
#include "base/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
secret_read(char **out, const char *path, unsigned flags)
{
	struct stat st;
	char *b = NULL;
	size_t len = 0, i;
	int fd, rc = OK;

	*out = NULL;
	/* O_NONBLOCK: a FIFO named here must not hang the start-up before
	 * fstat() can say it is no regular file. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return err_set(errno == ENOENT ? ERR_NOTFOUND : ERR, "cannot read %s: %s", path,
		    strerror(errno));
	if (fstat(fd, &st) != 0) {
		rc = err_set(ERR, "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = err_set(ERR_INVALID, "%s is not a regular file", path);
		goto out;
	}
	if (st.st_mode & 0006) {
		rc = err_set(ERR_DENIED, "%s is %s by others (mode %04o): a secret file may be "
		    "open to its owner and group only (chmod o-rwx)", path,
		    (st.st_mode & 0004) ? "readable" : "writable", (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size > SECRET_MAX) {
		rc = err_set(ERR_TOOBIG, "%s is more than %d bytes, too big for a secret file",
		    path, SECRET_MAX);
		goto out;
	}
	/* One byte more than allowed, to see a file that grew since fstat. */
	b = xmalloc(SECRET_MAX + 2);
	for (;;) {
		ssize_t n = read(fd, b + len, SECRET_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = err_set(ERR, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > SECRET_MAX) {
			rc = err_set(ERR_TOOBIG, "%s is more than %d bytes, too big for a secret "
			    "file", path, SECRET_MAX);
			goto out;
		}
	}
	while (len && strchr(" \t\r\n", b[len - 1]))
		b[--len] = '\0';
	b[len] = '\0';
	if (len == 0) {
		rc = err_set(ERR_INVALID, "%s is empty", path);
		goto out;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)b[i];

		if (c == '\0') {
			rc = err_set(ERR_INVALID, "%s holds a NUL byte", path);
			goto out;
		}
		if ((flags & (SECRET_LINE | SECRET_TOKEN)) && (c == '\n' || c == '\r')) {
			rc = err_set(ERR_INVALID, "%s holds more than one line (the secret is "
			    "one line)", path);
			goto out;
		}
		if ((flags & SECRET_TOKEN) && (c <= 0x20 || c >= 0x7f)) {
			rc = err_set(ERR_INVALID, "%s holds a character that is not printable "
			    "ASCII (a token is one line of printable ASCII without spaces)", path);
			goto out;
		}
	}
	*out = b;
	b = NULL;
out:
	if (b) {
		explicit_bzero(b, SECRET_MAX + 2);
		free(b);
	}
	close(fd);
	return rc;
}

void
secret_free(char *secret)
{
	if (!secret)
		return;
	/* What lay past the NUL (trimmed whitespace) was zeroed by the read. */
	explicit_bzero(secret, strlen(secret));
	free(secret);
}
