/*
 * state.c - the state directory and the release store.  See state.h.
 */
#include "state/state.h"

#include <dirent.h>
#include <jansson.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/names.h"
#include "state/enc.h"
#include "state/stateint.h"

#define NBUCKETS 256

/*
 * Who may read what in the state directory, in one place.  Every mode is
 * set exactly, never left to the umask: a shell user's 022 would make
 * plans world-readable, a unit's 077 would lock Puppet out of the
 * releases.  state_open() gives each directory below its mode (those
 * already there too, so an older state directory is closed up); the
 * writers use the same constants (state.h) for what they create.
 *
 *   <state>/           0750        Puppet's group passes through to current
 *   releases/ buckets/ 0750, 0640  what `firebreak enc` and Hiera read: the
 *                                  group Puppet runs in reads, others never
 *   current            a symlink   (a link has no mode of its own)
 *   applied            0640        a commit id
 *   lock               0600
 *   plans/             0700, 0600  every plan: the diffs, who asked
 *   outbox/ (dead/)    0700, 0600  chat messages not yet delivered
 *   threads/           0700, 0600  chat thread references
 *   run/               0700        the control socket (controller/ctlsock.c)
 *
 * outbox/ and threads/ are made by the outbox (state/outbox.c) when a
 * controller first runs, run/ by the controller; here they are only
 * closed up when they exist.
 */
static const struct {
	const char *name;        /* "" is the state directory itself */
	unsigned mode;
	int make;                /* made by state_open() */
} state_dirs[] = {
	{ "", STATE_MODE_SHARED_DIR, 1 },
	{ "releases", STATE_MODE_SHARED_DIR, 1 },
	{ "buckets", STATE_MODE_SHARED_DIR, 1 },
	{ "plans", STATE_MODE_PRIVATE_DIR, 1 },
	{ "outbox", STATE_MODE_PRIVATE_DIR, 0 },
	{ "outbox/dead", STATE_MODE_PRIVATE_DIR, 0 },
	{ "threads", STATE_MODE_PRIVATE_DIR, 0 },
	{ "run", STATE_MODE_PRIVATE_DIR, 0 },
};

/* snprintf into a fixed buffer, refusing truncation. */
int
state_path_fmt(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(out, n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= n)
		return err_set(ERR_TOOBIG, "path too long");
	return OK;
}

static int
read_sha(const char *path, char out[41])
{
	struct buf b = BUF_INIT;
	int rc;

	out[0] = '\0';
	rc = fs_read(&b, path, 128);
	if (rc == ERR_NOTFOUND) {
		buf_dispose(&b);
		return OK;
	}
	if (rc == OK) {
		size_t n = b.len;

		while (n && (b.data[n - 1] == '\n' || b.data[n - 1] == ' '))
			n--;
		if (n != 40 || strspn(b.data, "0123456789abcdef") < 40)
			rc = err_set(ERR_INVALID, "%s does not hold a commit id", path);
		else {
			memcpy(out, b.data, 40);
			out[40] = '\0';
		}
	}
	buf_dispose(&b);
	return rc;
}

int
state_read_applied(const char *dir, char out[41])
{
	char path[4096];
	int rc;

	if ((rc = state_path_fmt(path, sizeof(path), "%s/applied", dir)) != OK)
		return rc;
	return read_sha(path, out);
}

/* The release id `current` points at, or 0 when there is none. */
unsigned long
state_current_release(const struct state *s)
{
	char target[256];
	ssize_t n = readlinkat(s->dirfd, "current", target, sizeof(target) - 1);
	uint64_t id;

	if (n <= 0)
		return 0;
	target[n] = '\0';
	if (strncmp(target, "releases/", 9) != 0 || parse_u64(&id, target + 9, 1, 1ul << 62) != OK)
		return 0;
	return (unsigned long)id;
}


static void unstage(struct state *s);

/* Finish an interrupted apply: the swap of `current` is the commit point
 * (of a staged apply, the write of `applied`: see state_apply_staged). */
static int
recover(struct state *s)
{
	char path[4096], cur[41], applied[41];
	unsigned long rel = state_current_release(s);
	DIR *d;
	struct dirent *e;
	int rc;

	unlinkat(s->dirfd, "current.tmp", 0);
	if ((rc = state_path_fmt(path, sizeof(path), "%s/releases", s->dir)) != OK)
		return rc;
	if ((d = opendir(path))) {
		while ((e = readdir(d)))
			if (strncmp(e->d_name, ".tmp-", 5) == 0) {
				char tmp[4096];

				if (state_path_fmt(tmp, sizeof(tmp), "%s/releases/%s", s->dir, e->d_name) == OK)
					fs_rm_rf(tmp);
			}
		closedir(d);
	}
	if (!rel)
		return OK;
	if ((rc = state_path_fmt(path, sizeof(path), "%s/releases/%lu/COMMIT", s->dir, rel)) != OK)
		return rc;
	if ((rc = read_sha(path, cur)) != OK)
		return rc;
	if ((rc = state_read_applied(s->dir, applied)) != OK)
		return rc;
	/* A staged rollout: `applied` is the staged release's commit while
	 * `current` stays behind.  A staging whose commit never reached
	 * `applied` did not happen; one whose release became current is
	 * over. */
	{
		unsigned long staged = state_staged_release(s);
		char sc[41] = "";

		if (staged) {
			if (state_path_fmt(path, sizeof(path), "%s/releases/%lu/COMMIT", s->dir,
			    staged) == OK)
				(void)read_sha(path, sc);
			if (staged != rel && sc[0] && strcmp(sc, applied) == 0)
				return OK;
			unstage(s);
		}
	}
	if (cur[0] && strcmp(cur, applied) != 0) {
		char line[42];

		if ((rc = state_path_fmt(path, sizeof(path), "%s/applied", s->dir)) != OK)
			return rc;
		snprintf(line, sizeof(line), "%s\n", cur);
		return fs_write_atomic_mode(path, line, 41, STATE_MODE_SHARED);
	}
	return OK;
}

int
state_open(struct state **out, const char *dir, int create)
{
	struct state *s;
	char path[4096];
	size_t i;
	int rc;

	*out = NULL;
	if (create) {
		if ((rc = fs_mkdir_p(dir, STATE_MODE_SHARED_DIR)) != OK)
			return rc;
	}
	s = xcalloc(1, sizeof(*s));
	s->dir = xstrdup(dir);
	s->lockfd = -1;
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		rc = err_set(errno == ENOENT ? ERR_NOTFOUND : ERR, "state directory %s: %s",
		    dir, strerror(errno));
		goto fail;
	}
	for (i = 0; i < sizeof(state_dirs) / sizeof(*state_dirs); i++) {
		if ((rc = state_path_fmt(path, sizeof(path), "%s/%s", dir, state_dirs[i].name)) != OK ||
		    (state_dirs[i].make && (rc = fs_mkdir_p(path, state_dirs[i].mode)) != OK))
			goto fail;
		/* Another user's (an operator's shell on a shared directory)
		 * is its owner's to set. */
		rc = fs_chmod_dir(path, state_dirs[i].mode);
		if (rc != OK && rc != ERR_NOTFOUND && rc != ERR_DENIED)
			goto fail;
	}
	s->lockfd = openat(s->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->lockfd < 0 || fchmod(s->lockfd, 0600) != 0 || flock(s->lockfd, LOCK_EX) != 0) {
		rc = err_set(ERR, "locking %s/lock: %s", dir, strerror(errno));
		goto fail;
	}
	if ((rc = recover(s)) != OK || (rc = state_index_load(s)) != OK || (rc = state_seq_load(s)) != OK)
		goto fail;
	*out = s;
	return OK;
fail:
	state_close(s);
	return rc;
}

void
state_close(struct state *s)
{
	if (!s)
		return;
	if (s->lockfd >= 0)
		close(s->lockfd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	json_decref(s->index);
	free(s->dir);
	free(s);
}

/* ---- the release store ---------------------------------------------- */

/* "enc/<fqdn>.yaml": the bucket hashes the fqdn alone, as enc_path() does. */
static unsigned
artifact_bucket(const char *path)
{
	return enc_bucket(path + 4, strlen(path) - 9);
}

static int
is_enc(const char *path)
{
	return strncmp(path, "enc/", 4) == 0 && !strchr(path + 4, '/');
}

static int
changed_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct file_diff *)elem)->path);
}

static int
path_changed(const struct plan *p, const char *path)
{
	return p->diff && xbsearch(path, p->diff->files, p->diff->nfiles,
	    sizeof(*p->diff->files), changed_cmp) != NULL;
}

/* Hard-link from/rel to to/rel, making to's parent directories. */
static int
link_from(const char *from, const char *to, const char *rel)
{
	char src[4096], dst[4096];
	char *slash;
	int rc;

	if (!fs_path_safe(rel) ||
	    (rc = state_path_fmt(src, sizeof(src), "%s/%s", from, rel)) != OK ||
	    (rc = state_path_fmt(dst, sizeof(dst), "%s/%s", to, rel)) != OK)
		return ERR_INVALID;
	slash = strrchr(dst, '/');
	*slash = '\0';
	rc = fs_mkdir_p(dst, STATE_MODE_SHARED_DIR);
	*slash = '/';
	if (rc != OK)
		return rc;
	return link(src, dst) == 0 ? OK : err_set(ERR, "link %s: %s", dst, strerror(errno));
}

/* ERR_CONFLICT when the current release's enc/<bb> is bucket <id>-<bb>. */
static int
bucket_in_use(const struct state *s, const char *id, unsigned b)
{
	char path[64], target[256], want[128];
	unsigned long cur = state_current_release(s);
	ssize_t n;

	if (!cur)
		return OK;
	snprintf(path, sizeof(path), "releases/%lu/enc/%02x", cur, b);
	n = readlinkat(s->dirfd, path, target, sizeof(target) - 1);
	if (n <= 0)
		return OK;
	target[n] = '\0';
	if (state_path_fmt(want, sizeof(want), "../../../buckets/%s-%02x", id, b) != OK ||
	    strcmp(target, want) != 0)
		return OK;
	return err_set(ERR_CONFLICT, "bucket %s-%02x belongs to the current release %lu; "
	    "refusing to rewrite it", id, b, cur);
}

/*
 * Build the enc/ directory of a new release in `reldir`: a symlink per
 * non-empty bucket, reusing the previous release's bucket when nothing in
 * it changed.  `prev` is the previous release dir or NULL (write all).
 */
static int
write_enc(const struct state *s, const struct plan *p, const struct artifacts *target,
    const char *reldir, const char *prev)
{
	unsigned char changed[NBUCKETS], present[NBUCKETS];
	unsigned char *bucket_of = NULL;
	char path[4096], link_target[512], prevbucket[4096], prevlink[4096];
	size_t i;
	unsigned b;
	int rc = OK;

	memset(changed, prev ? 0 : 1, sizeof(changed));
	memset(present, 0, sizeof(present));
	for (i = 0; prev && p->diff && i < p->diff->nfiles; i++) {
		const struct file_diff *f = &p->diff->files[i];

		if (is_enc(f->path))
			changed[artifact_bucket(f->path)] = 1;
	}
	if (target->n)
		bucket_of = xmalloc(target->n);
	for (i = 0; i < target->n; i++)
		if (is_enc(target->v[i].path)) {
			bucket_of[i] = (unsigned char)artifact_bucket(target->v[i].path);
			present[bucket_of[i]] = 1;
		}
	if ((rc = state_path_fmt(path, sizeof(path), "%s/enc", reldir)) != OK ||
	    (rc = fs_mkdir_p(path, STATE_MODE_SHARED_DIR)) != OK)
		goto out;
	for (b = 0; b < NBUCKETS && rc == OK; b++) {
		char bucketdir[4096];
		int have_prev = 0;

		if (!present[b])
			continue;
		if (prev) {
			ssize_t n;

			if ((rc = state_path_fmt(prevlink, sizeof(prevlink), "%s/enc/%02x", prev,
			    b)) != OK)
				break;
			n = readlink(prevlink, link_target, sizeof(link_target) - 1);
			if (n > 0) {
				link_target[n] = '\0';
				have_prev = 1;
				if ((rc = state_path_fmt(prevbucket, sizeof(prevbucket), "%s/enc/%s",
				    prev, link_target)) != OK)
					break;
			}
		}
		if (!changed[b] && have_prev) {
			/* Unchanged: share the previous release's bucket.  Its
			 * symlink is hard-linked, not made anew (the target is
			 * relative, and both releases sit at the same depth): a
			 * link() adds no inode, and a new inode costs ~0.5 ms on
			 * some disks, 256 of them a release switch. */
			if ((rc = state_path_fmt(path, sizeof(path), "%s/enc/%02x", reldir, b)) != OK)
				break;
			if (linkat(AT_FDCWD, prevlink, AT_FDCWD, path, 0) != 0 &&
			    symlink(link_target, path) != 0)
				rc = err_set(ERR, "symlink %s: %s", path, strerror(errno));
			continue;
		}
		if ((rc = state_path_fmt(bucketdir, sizeof(bucketdir), "%s/buckets/%s-%02x",
		    s->dir, p->id, b)) != OK)
			break;
		/* A bucket left by an apply that crashed under the same id; never
		 * one the current release reads. */
		if ((rc = bucket_in_use(s, p->id, b)) != OK)
			break;
		fs_rm_rf(bucketdir);
		if (mkdir(bucketdir, STATE_MODE_SHARED_DIR) != 0) {
			rc = err_set(ERR, "mkdir %s: %s", bucketdir, strerror(errno));
			break;
		}
		if ((rc = fs_chmod_dir(bucketdir, STATE_MODE_SHARED_DIR)) != OK)
			break;
		for (i = 0; i < target->n && rc == OK; i++) {
			const struct artifact *a = &target->v[i];
			char dst[4096], src[4096];

			if (!is_enc(a->path) || bucket_of[i] != b)
				continue;
			if (!fs_path_safe(a->path)) {
				rc = err_set(ERR_INVALID, "refusing to write artifact path '%s'", a->path);
				break;
			}
			if ((rc = state_path_fmt(dst, sizeof(dst), "%s/%s", bucketdir, a->path + 4)) != OK)
				break;
			if (have_prev && !path_changed(p, a->path) &&
			    state_path_fmt(src, sizeof(src), "%s/%s", prevbucket, a->path + 4) == OK &&
			    link(src, dst) == 0)
				continue;
			rc = fs_write_new(dst, a->data, a->len, STATE_MODE_SHARED);
		}
		if (rc != OK)
			break;
		if ((rc = state_path_fmt(link_target, sizeof(link_target), "../../../buckets/%s-%02x",
		    p->id, b)) != OK ||
		    (rc = state_path_fmt(path, sizeof(path), "%s/enc/%02x", reldir, b)) != OK)
			break;
		if (symlink(link_target, path) != 0)
			rc = err_set(ERR, "symlink %s: %s", path, strerror(errno));
	}
out:
	free(bucket_of);
	return rc;
}

static int
release_cmp(const void *x, const void *y)
{
	unsigned long a = *(const unsigned long *)x, b = *(const unsigned long *)y;

	return (a > b) - (a < b);
}

/* The release ids in releases/, sorted (*out owns). */
static size_t
release_ids(const struct state *s, unsigned long **out)
{
	char path[4096];
	unsigned long *ids = NULL;
	size_t n = 0, alloc = 0;
	DIR *d;
	struct dirent *e;

	*out = NULL;
	if (state_path_fmt(path, sizeof(path), "%s/releases", s->dir) != OK || !(d = opendir(path)))
		return 0;
	while ((e = readdir(d))) {
		uint64_t v;

		if (e->d_name[0] == '0' || parse_u64(&v, e->d_name, 1, PLAN_ID_MAX) != OK)
			continue;
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 16;
			ids = xrealloc(ids, alloc * sizeof(*ids));
		}
		ids[n++] = (unsigned long)v;
	}
	closedir(d);
	xqsort(ids, n, sizeof(*ids), release_cmp);
	*out = ids;
	return n;
}

/* Drop the buckets no release in releases/ names. */
void
state_gc_buckets(const struct state *s)
{
	char path[4096], target[512];
	unsigned long *ids;
	size_t n = release_ids(s, &ids), i;
	char **used = NULL;
	size_t nused = 0;
	DIR *d;
	struct dirent *e;

	for (i = 0; i < n; i++) {
		unsigned b;

		for (b = 0; b < NBUCKETS; b++) {
			ssize_t k;

			if (state_path_fmt(path, sizeof(path), "%s/releases/%lu/enc/%02x", s->dir,
			    ids[i], b) != OK)
				continue;
			k = readlink(path, target, sizeof(target) - 1);
			if (k <= 0)
				continue;
			target[k] = '\0';
			used = xrealloc(used, (nused + 1) * sizeof(*used));
			used[nused++] = xstrdup(strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
		}
	}
	xqsort(used, nused, sizeof(*used), str_cmp_ptr);
	if (state_path_fmt(path, sizeof(path), "%s/buckets", s->dir) == OK && (d = opendir(path))) {
		while ((e = readdir(d))) {
			const char *name = e->d_name;

			if (name[0] == '.')
				continue;
			if (xbsearch(&name, used, nused, sizeof(*used), str_cmp_ptr))
				continue;
			if (state_path_fmt(path, sizeof(path), "%s/buckets/%s", s->dir, name) == OK)
				fs_rm_rf(path);
		}
		closedir(d);
	}
	for (i = 0; i < nused; i++)
		free(used[i]);
	free(used);
	free(ids);
}

/* Keep the newest releases (and always the current one) and the buckets
 * they use; drop the rest. */
static void
gc(const struct state *s)
{
	char path[4096];
	unsigned long *ids, cur = state_current_release(s), staged = state_staged_release(s);
	size_t n = release_ids(s, &ids), i;

	for (i = 0; i + STATE_KEEP_RELEASES < n; i++)
		if (ids[i] != cur && ids[i] != staged &&
		    state_path_fmt(path, sizeof(path), "%s/releases/%lu", s->dir, ids[i]) == OK)
			fs_rm_rf(path);
	free(ids);
	state_gc_buckets(s);
}

/* The release staged (held back from all but a canary): `staged` is a
 * symlink to stages/<id>; 0 when there is none. */
static unsigned long
staged_id_at(int dirfd)
{
	char target[256];
	ssize_t n = readlinkat(dirfd, "staged", target, sizeof(target) - 1);
	uint64_t id;

	if (n <= 0)
		return 0;
	target[n] = '\0';
	if (strncmp(target, "stages/", 7) != 0 || parse_u64(&id, target + 7, 1, PLAN_ID_MAX) != OK)
		return 0;
	return (unsigned long)id;
}

unsigned long
state_staged(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	unsigned long id;

	if (fd < 0)
		return 0;
	id = staged_id_at(fd);
	close(fd);
	return id;
}

unsigned long
state_staged_release(const struct state *s)
{
	return staged_id_at(s->dirfd);
}

/* The overlay goes: the `staged` link first (readers stop using it), then
 * every stage directory. */
static void
unstage(struct state *s)
{
	char path[4096];

	unlinkat(s->dirfd, "staged", 0);
	unlinkat(s->dirfd, "staged.tmp", 0);
	(void)fs_fsync_dir(s->dir);
	if (state_path_fmt(path, sizeof(path), "%s/stages", s->dir) == OK)
		fs_rm_rf(path);
}

/*
 * Every release links to the overlay of a staged rollout, so Puppet's
 * paths never change: `firebreak enc` reads <current>/nodes/<fqdn>.yaml
 * first, Hiera's node level is <current>/hiera/nodes/<certname>.yaml.
 * Without a staging both links dangle, and a lookup costs one failed
 * open().  Releases written before rollouts existed get them when a
 * staging first needs them.
 */
static int
overlay_links(const char *reldir)
{
	char path[4096];
	int rc;

	if ((rc = state_path_fmt(path, sizeof(path), "%s/nodes", reldir)) != OK)
		return rc;
	if (symlink("../../staged/enc", path) != 0 && errno != EEXIST)
		return err_set(ERR, "symlink %s: %s", path, strerror(errno));
	if ((rc = state_path_fmt(path, sizeof(path), "%s/hiera", reldir)) != OK ||
	    (rc = fs_mkdir_p(path, STATE_MODE_SHARED_DIR)) != OK ||
	    (rc = state_path_fmt(path, sizeof(path), "%s/hiera/nodes", reldir)) != OK)
		return rc;
	if (symlink("../../../staged/hiera", path) != 0 && errno != EEXIST)
		return err_set(ERR, "symlink %s: %s", path, strerror(errno));
	return OK;
}

/* Write releases/<plan id> from `target`, not yet current. */
static int
release_write(struct state *s, const struct plan *p, const struct artifacts *target)
{
	char tmpdir[4096], reldir[4096], prev[4096], path[4096], line[64];
	char prevcommit[41] = "";
	unsigned long cur = state_current_release(s), staged = state_staged_release(s);
	unsigned long from = staged ? staged : cur;
	const char *prevp = NULL;
	size_t i;
	int rc;

	if (p->decision == DECISION_INVALID)
		return err_set(ERR_INVALID, "plan %s is invalid and cannot be applied", p->id);
	if ((rc = state_path_fmt(tmpdir, sizeof(tmpdir), "%s/releases/.tmp-%s", s->dir, p->id)) != OK ||
	    (rc = state_path_fmt(reldir, sizeof(reldir), "%s/releases/%s", s->dir, p->id)) != OK)
		return rc;
	if (from) {
		if ((rc = state_path_fmt(prev, sizeof(prev), "%s/releases/%lu", s->dir, from)) != OK ||
		    (rc = state_path_fmt(path, sizeof(path), "%s/COMMIT", prev)) != OK)
			return rc;
		/* Share buckets only with the release the plan was made against
		 * (the applied one: staged, or else current). */
		if (read_sha(path, prevcommit) == OK && p->base[0] &&
		    strcmp(prevcommit, p->base) == 0)
			prevp = prev;
	}
	/* Plan ids are never reused, but should a release of this id exist,
	 * the one readers are using is not ours to replace. */
	if ((cur && strtoul(p->id, NULL, 10) == cur) || (staged && strtoul(p->id, NULL, 10) == staged))
		return err_set(ERR_CONFLICT, "release %s is the %s release; refusing to rewrite it",
		    p->id, strtoul(p->id, NULL, 10) == cur ? "current" : "staged");
	fs_rm_rf(tmpdir);
	fs_rm_rf(reldir);
	if ((rc = fs_mkdir_p(tmpdir, STATE_MODE_SHARED_DIR)) != OK)
		goto fail;
	for (i = 0; i < target->n; i++) {
		const struct artifact *a = &target->v[i];

		if (is_enc(a->path))
			continue;
		/* Zone files are megabytes at 100k hosts: link what did not change. */
		if (prevp && !path_changed(p, a->path) && link_from(prevp, tmpdir, a->path) == OK)
			continue;
		if ((rc = fs_write_under(tmpdir, a->path, a->data, a->len, STATE_MODE_SHARED)) != OK)
			goto fail;
	}
	if ((rc = write_enc(s, p, target, tmpdir, prevp)) != OK || (rc = overlay_links(tmpdir)) != OK)
		goto fail;
	snprintf(line, sizeof(line), "%s\n", p->target);
	if ((rc = fs_write_under(tmpdir, "COMMIT", line, strlen(line), STATE_MODE_SHARED)) != OK)
		goto fail;
	snprintf(line, sizeof(line), "%s\n", p->id);
	if ((rc = fs_write_under(tmpdir, "PLAN", line, strlen(line), STATE_MODE_SHARED)) != OK)
		goto fail;
	/* One sync for the whole release instead of one per file: nothing
	 * refers to it until the swap below. */
	if (syncfs(s->dirfd) != 0) {
		rc = err_set(ERR, "syncfs %s: %s", s->dir, strerror(errno));
		goto fail;
	}
	if (rename(tmpdir, reldir) != 0) {
		rc = err_set(ERR, "rename %s: %s", tmpdir, strerror(errno));
		goto fail;
	}
	if ((rc = state_path_fmt(path, sizeof(path), "%s/releases", s->dir)) != OK)
		return rc;
	return fs_fsync_dir(path);
fail:
	fs_rm_rf(tmpdir);
	return rc;
}

static int
write_applied(struct state *s, const char *sha)
{
	char path[4096], line[64];
	int rc;

	if ((rc = state_path_fmt(path, sizeof(path), "%s/applied", s->dir)) != OK)
		return rc;
	snprintf(line, sizeof(line), "%s\n", sha);
	return fs_write_atomic_mode(path, line, strlen(line), STATE_MODE_SHARED);
}

/* Point `current` at releases/<id>: the commit point of an apply. */
static int
switch_current(struct state *s, const char *id)
{
	char path[4096];
	int rc;

	if ((rc = state_path_fmt(path, sizeof(path), "releases/%s", id)) != OK)
		return rc;
	unlinkat(s->dirfd, "current.tmp", 0);
	if (symlinkat(path, s->dirfd, "current.tmp") != 0 ||
	    renameat(s->dirfd, "current.tmp", s->dirfd, "current") != 0)
		return err_set(ERR, "switching %s/current: %s", s->dir, strerror(errno));
	return fs_fsync_dir(s->dir);
}

int
state_apply(struct state *s, const struct plan *p, const struct artifacts *target)
{
	int rc;

	if ((rc = release_write(s, p, target)) != OK || (rc = switch_current(s, p->id)) != OK ||
	    (rc = write_applied(s, p->target)) != OK)
		return rc;
	/* Everyone reads this release now: a staging is over. */
	if (state_staged_release(s))
		unstage(s);
	gc(s);
	return OK;
}

/* Build stages/<id> for the canary hosts and point `staged` at it. */
static int
stage(struct state *s, const char *id, const char *const *fqdns, const char *const *envs,
    size_t n)
{
	char tmp[4096], dir[4096], src[4096], dst[4096], rel[64];
	unsigned long old = state_staged_release(s);
	size_t i;
	int rc;

	if ((rc = state_path_fmt(dir, sizeof(dir), "%s/stages/%s", s->dir, id)) != OK ||
	    (rc = state_path_fmt(tmp, sizeof(tmp), "%s/stages/.tmp-%s", s->dir, id)) != OK)
		return rc;
	fs_rm_rf(tmp);
	if ((rc = fs_mkdir_p(tmp, STATE_MODE_SHARED_DIR)) != OK ||
	    (rc = state_path_fmt(src, sizeof(src), "%s/stages", s->dir)) != OK ||
	    (rc = fs_chmod_dir(src, STATE_MODE_SHARED_DIR)) != OK ||
	    (rc = state_path_fmt(dst, sizeof(dst), "%s/enc", tmp)) != OK ||
	    (rc = fs_mkdir_p(dst, STATE_MODE_SHARED_DIR)) != OK ||
	    (rc = state_path_fmt(dst, sizeof(dst), "%s/hiera", tmp)) != OK ||
	    (rc = fs_mkdir_p(dst, STATE_MODE_SHARED_DIR)) != OK)
		goto fail;
	for (i = 0; i < n; i++) {
		if (!valid_fqdn(fqdns[i]) || (envs[i] && !valid_env(envs[i]))) {
			rc = err_set(ERR_INVALID, "staging: '%.80s' is not a valid host", fqdns[i]);
			goto fail;
		}
		/* The new release's own files, hard-linked: the canary reads
		 * exactly what everyone will. */
		if ((rc = state_path_fmt(src, sizeof(src), "%s/releases/%s/enc/%02x/%s.yaml", s->dir,
		    id, enc_bucket(fqdns[i], strlen(fqdns[i])), fqdns[i])) != OK ||
		    (rc = state_path_fmt(dst, sizeof(dst), "%s/enc/%s.yaml", tmp, fqdns[i])) != OK)
			goto fail;
		if (link(src, dst) != 0 && errno != ENOENT) {
			rc = err_set(ERR, "link %s: %s", dst, strerror(errno));
			goto fail;
		}
		if (!envs[i])
			continue;
		if ((rc = state_path_fmt(src, sizeof(src), "%s/releases/%s/hiera/pins/%s.yaml", s->dir,
		    id, envs[i])) != OK ||
		    (rc = state_path_fmt(dst, sizeof(dst), "%s/hiera/%s.yaml", tmp, fqdns[i])) != OK)
			goto fail;
		if (link(src, dst) != 0 && errno != ENOENT) {
			rc = err_set(ERR, "link %s: %s", dst, strerror(errno));
			goto fail;
		}
	}
	if (syncfs(s->dirfd) != 0) {
		rc = err_set(ERR, "syncfs %s: %s", s->dir, strerror(errno));
		goto fail;
	}
	if ((unsigned long)strtoul(id, NULL, 10) == old) {
		/* Re-making the overlay in use: the new one goes beside it. */
		char aside[4096];

		if ((rc = state_path_fmt(aside, sizeof(aside), "%s/stages/.old-%s", s->dir, id)) != OK)
			goto fail;
		fs_rm_rf(aside);
		if (rename(dir, aside) != 0 && errno != ENOENT) {
			rc = err_set(ERR, "rename %s: %s", dir, strerror(errno));
			goto fail;
		}
		if (rename(tmp, dir) != 0) {
			rc = err_set(ERR, "rename %s: %s", tmp, strerror(errno));
			goto fail;
		}
		fs_rm_rf(aside);
		return OK;
	}
	fs_rm_rf(dir);
	if (rename(tmp, dir) != 0) {
		rc = err_set(ERR, "rename %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if ((rc = state_path_fmt(rel, sizeof(rel), "stages/%s", id)) != OK)
		return rc;
	unlinkat(s->dirfd, "staged.tmp", 0);
	if (symlinkat(rel, s->dirfd, "staged.tmp") != 0 ||
	    renameat(s->dirfd, "staged.tmp", s->dirfd, "staged") != 0)
		return err_set(ERR, "switching %s/staged: %s", s->dir, strerror(errno));
	if ((rc = fs_fsync_dir(s->dir)) != OK)
		return rc;
	if (old) {
		if (state_path_fmt(dir, sizeof(dir), "%s/stages/%lu", s->dir, old) == OK)
			fs_rm_rf(dir);
	}
	return OK;
fail:
	fs_rm_rf(tmp);
	return rc;
}

int
state_apply_staged(struct state *s, const struct plan *p, const struct artifacts *target,
    const char *const *fqdns, const char *const *envs, size_t n)
{
	unsigned long cur = state_current_release(s);
	char path[4096];
	int rc;

	if ((rc = release_write(s, p, target)) != OK)
		return rc;
	/* The release everyone else keeps reading must link to the overlay. */
	if (cur && ((rc = state_path_fmt(path, sizeof(path), "%s/releases/%lu", s->dir, cur)) != OK ||
	    (rc = overlay_links(path)) != OK))
		return rc;
	if (!cur)
		return err_set(ERR_INVALID, "nothing is current yet: a first release is not staged");
	if ((rc = stage(s, p->id, fqdns, envs, n)) != OK)
		return rc;
	/* The commit point: the next plan is made against this commit. */
	if ((rc = write_applied(s, p->target)) != OK)
		return rc;
	gc(s);
	return OK;
}

int
state_restage(struct state *s, const char *id, const char *const *fqdns, const char *const *envs,
    size_t n)
{
	if (state_staged_release(s) != strtoul(id, NULL, 10))
		return err_set(ERR_NOTFOUND, "release %s is not staged", id);
	return stage(s, id, fqdns, envs, n);
}

int
state_promote(struct state *s)
{
	unsigned long id = state_staged_release(s);
	char num[24];
	int rc;

	if (!id)
		return OK;
	snprintf(num, sizeof(num), "%lu", id);
	if (state_current_release(s) != id && (rc = switch_current(s, num)) != OK)
		return rc;
	unstage(s);
	gc(s);
	return OK;
}
