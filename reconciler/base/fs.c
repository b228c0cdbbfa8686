/*
 * fs.c - see fs.h.
 */
#include "base/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
fs_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
fs_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = OK;

	if (fd < 0)
		return err_set(ERR, "%s: %s", path, strerror(errno));
	if (fsync(fd) != 0 && errno != EINVAL)
		rc = err_set(ERR, "fsync %s: %s", path, strerror(errno));
	close(fd);
	return rc;
}

/* Temporaries of one process differ by this counter (threads included). */
static _Atomic unsigned long tmp_seq;

/* The one mirror of this process (fs_set_mirror), or none. */
static struct fs_mirror mirror;

int
fs_write_atomic(const char *path, const void *data, size_t len)
{
	return fs_write_atomic_mode(path, data, len, 0600);
}

int
fs_write_atomic_mode(const char *path, const void *data, size_t len, unsigned mode)
{
	char tmp[4096], dir[4096];
	const char *slash = strrchr(path, '/');
	int fd, n, tries = 0, e;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) >= sizeof(dir))
		return err_set(ERR_TOOBIG, "path too long: %.200s", path);
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	/* A unique name, created exclusively: a file or a symlink someone
	 * left at that name is never written through.  EEXIST can only be a
	 * leftover of a dead process that had our pid: take the next name. */
	for (;;) {
		n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%lu", path, (long)getpid(),
		    atomic_fetch_add(&tmp_seq, 1));
		if (n < 0 || (size_t)n >= sizeof(tmp))
			return err_set(ERR_TOOBIG, "path too long: %.200s", path);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, (mode_t)mode);
		if (fd >= 0)
			break;
		if (errno != EEXIST || ++tries >= 100)
			return err_set(ERR, "%s: %s", tmp, strerror(errno));
	}
	/* The umask took bits away; give back exactly `mode`. */
	if (fchmod(fd, (mode_t)mode) != 0 || fs_write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		e = errno;
		close(fd);
		unlink(tmp);
		return err_set(ERR, "writing %s: %s", tmp, strerror(e));
	}
	if (close(fd) != 0) {
		e = errno;
		unlink(tmp);
		return err_set(ERR, "writing %s: %s", tmp, strerror(e));
	}
	/* A mirrored state (an HA leader's) hears of the write first: it may
	 * refuse it (a deposed leader), and then nothing changes here. */
	if (mirror.put && (n = mirror.put(mirror.ctx, path, data, len)) != OK) {
		unlink(tmp);
		return n;
	}
	if (rename(tmp, path) != 0) {
		e = errno;
		unlink(tmp);
		return err_set(ERR, "rename %s: %s", path, strerror(e));
	}
	return fs_fsync_dir(dir);
}

void
fs_set_mirror(const struct fs_mirror *m)
{
	if (m)
		mirror = *m;
	else
		memset(&mirror, 0, sizeof(mirror));
}

int
fs_mirror_put(const char *path, const void *data, size_t len)
{
	return mirror.put ? mirror.put(mirror.ctx, path, data, len) : OK;
}

int
fs_mirror_del(const char *path)
{
	return mirror.del ? mirror.del(mirror.ctx, path) : OK;
}

int
fs_tmp_stale(const char *name)
{
	const char *t = NULL, *p, *dot;
	char num[24];
	size_t len;
	uint64_t pid, seq;

	for (p = name; (p = strstr(p, ".tmp.")); p++)
		t = p;
	if (!t)
		return 0;
	t += 5;
	/* "<pid>.<n>", or "<pid>" as older versions named them. */
	dot = strchr(t, '.');
	len = dot ? (size_t)(dot - t) : strlen(t);
	if (len >= sizeof(num))
		return 0;
	memcpy(num, t, len);
	num[len] = '\0';
	if (parse_u64(&pid, num, 1, INT_MAX) != OK ||
	    (dot && parse_u64(&seq, dot + 1, 0, UINT64_MAX) != OK))
		return 0;
	return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

int
fs_write_new(const char *path, const void *data, size_t len, unsigned mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, (mode_t)mode);
	int e;

	if (fd < 0)
		return err_set(ERR, "%s: %s", path, strerror(errno));
	if (fchmod(fd, (mode_t)mode) != 0 || fs_write_all(fd, data, len) != 0) {
		e = errno;
		close(fd);
		unlink(path);
		return err_set(ERR, "writing %s: %s", path, strerror(e));
	}
	if (close(fd) != 0) {
		e = errno;
		unlink(path);
		return err_set(ERR, "writing %s: %s", path, strerror(e));
	}
	return OK;
}

int
fs_read(struct buf *out, const char *path, size_t cap)
{
	char chunk[16384];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t total = 0;
	int rc = OK;

	if (fd < 0)
		return err_set(errno == ENOENT ? ERR_NOTFOUND : ERR, "%s: %s", path,
		    strerror(errno));
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = err_set(ERR, "%s: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		total += (size_t)n;
		if (cap && total > cap) {
			rc = err_set(ERR_TOOBIG, "%s: more than %zu bytes", path, cap);
			break;
		}
		buf_append(out, chunk, (size_t)n);
	}
	close(fd);
	return rc;
}

int
fs_chmod_dir(const char *path, unsigned mode)
{
	struct stat st;
	mode_t want;

	if (stat(path, &st) != 0)
		return err_set(errno == ENOENT ? ERR_NOTFOUND : ERR, "%s: %s", path,
		    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(ERR, "%s is not a directory", path);
	want = (mode_t)mode | (st.st_mode & S_ISGID);
	if ((st.st_mode & 07777) != want && chmod(path, want) != 0)
		return err_set(errno == EPERM ? ERR_DENIED : ERR, "chmod %04o %s: %s",
		    (unsigned)want, path, strerror(errno));
	return OK;
}

int
fs_mkdir_p(const char *path, unsigned mode)
{
	char tmp[4096];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof(tmp))
		return err_set(ERR_INVALID, "bad directory path");
	memcpy(tmp, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, (mode_t)mode) == 0) {
			int rc = fs_chmod_dir(tmp, mode);

			if (rc != OK)
				return rc;
		} else if (errno != EEXIST) {
			return err_set(ERR, "mkdir %s: %s", tmp, strerror(errno));
		}
		if (i < n)
			tmp[i] = '/';
	}
	return OK;
}

static int
rm_rf_at(int dirfd, const char *name)
{
	struct stat st;
	int fd, rc = OK;
	DIR *d;
	struct dirent *e;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? OK : err_set(ERR, "%s: %s", name, strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT)
			return err_set(ERR, "unlink %s: %s", name, strerror(errno));
		return OK;
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_set(ERR, "%s: %s", name, strerror(errno));
	if (!(d = fdopendir(fd))) {
		close(fd);
		return err_set(ERR, "%s: %s", name, strerror(errno));
	}
	while (rc == OK && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			rc = rm_rf_at(fd, e->d_name);
	closedir(d);
	if (rc == OK && unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
		rc = err_set(ERR, "rmdir %s: %s", name, strerror(errno));
	return rc;
}

int
fs_rm_rf(const char *path)
{
	return rm_rf_at(AT_FDCWD, path);
}

int
fs_path_safe(const char *p)
{
	const char *c;

	if (!*p || *p == '/' || strstr(p, "..") || strstr(p, "//"))
		return 0;
	for (c = p; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || strchr("._-/", *c)))
			return 0;
	return 1;
}

int
fs_write_under(const char *dir, const char *rel, const void *data, size_t len, unsigned mode)
{
	char path[4096];
	char *slash;
	int n, rc;

	if (!fs_path_safe(rel))
		return err_set(ERR_INVALID, "refusing to write the path '%s'", rel);
	n = snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (n < 0 || (size_t)n >= sizeof(path))
		return err_set(ERR_TOOBIG, "path too long: %s/%s", dir, rel);
	slash = strrchr(path, '/');
	*slash = '\0';
	/* Directories open to whom the file is: x where the file has r. */
	rc = fs_mkdir_p(path, mode | ((mode & 0444) >> 2));
	*slash = '/';
	return rc == OK ? fs_write_new(path, data, len, mode) : rc;
}
