/*
 * repo.c - libgit2 behind firebreak's own API.  See repo.h.
 */
#include "git/repo.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

struct repo {
	git_repository *git;
	git_odb *odb;            /* for object headers: size and type, not inflated */
	char *path;
};

static int lib_users;

/* libgit2's message for the last failure, with our context in front. */
static int
git_fail(int code, const char *what)
{
	const git_error *e = git_error_last();

	return err_set(code, "%s: %s", what, e && e->message ? e->message : "git error");
}

/* A full 40-digit hex commit id and nothing else into *oid. */
static int
parse_sha(git_oid *oid, const char *sha)
{
	size_t i;

	if (!sha)
		return err_set(ERR_INVALID, "no commit id");
	for (i = 0; i < REPO_SHA_LEN && isxdigit((unsigned char)sha[i]); i++)
		;
	if (i != REPO_SHA_LEN || sha[i] != '\0' || git_oid_fromstr(oid, sha) != 0)
		return err_set(ERR_INVALID, "'%.60s' is not a commit id", sha);
	return OK;
}

/* The commit `sha` names (owned by *out): ERR_INVALID, ERR_NOTFOUND. */
static int
lookup_commit(git_commit **out, struct repo *r, const char *sha)
{
	git_oid oid;
	int rc;

	*out = NULL;
	if ((rc = parse_sha(&oid, sha)) != OK)
		return rc;
	if (git_commit_lookup(out, r->git, &oid) != 0)
		return err_set(ERR_NOTFOUND, "no commit %s in the repository", sha);
	return OK;
}

/* ---- reading objects: sizes are checked before work ---- */

/*
 * A folder is read whole (libgit2 parses a tree at once), so its size is
 * checked from the object header before it is read: at most
 * REPO_TREE_MAX_BYTES, room for REPO_TREE_MAX_ENTRIES entries of 64 bytes
 * (a 36-byte name on average; the 100k-host bench's hosts/ entries have
 * 25-byte names).  A tree bigger than that is no inventory, and parsing
 * it would cost its size in memory and more.
 */
#define REPO_TREE_MAX_BYTES ((size_t)REPO_TREE_MAX_ENTRIES * 64)

/* How a folder is named in messages: "hosts/", or "/" for the top. */
static const char *
folder_name(char *buf, size_t size, const char *dir)
{
	size_t n = dir ? strlen(dir) : 0;

	while (n && dir[n - 1] == '/')
		n--;
	if (n == 0)
		return "/";
	snprintf(buf, size, "%.*s/", (int)(n > 200 ? 200 : n), dir);
	return buf;
}

/*
 * The tree `id` (owned by *out), read only once its header says it is a
 * tree of at most REPO_TREE_MAX_BYTES and kept only when it holds at
 * most REPO_TREE_MAX_ENTRIES entries.  `dir` names it in messages, which
 * read "<folder>: <reason>" ("hosts/: ...", "/: ..." for the top).
 * ERR_TOOBIG for either limit, ERR_INVALID when the object is no tree.
 */
static int
tree_lookup(git_tree **out, struct repo *r, const git_oid *id, const char *dir)
{
	char name[256];
	size_t size, n;
	git_object_t type;

	*out = NULL;
	if (git_odb_read_header(&size, &type, r->odb, id) != 0)
		return git_fail(ERR, folder_name(name, sizeof(name), dir));
	if (type != GIT_OBJECT_TREE)
		return err_set(ERR_INVALID, "%s: not a folder in git",
		    folder_name(name, sizeof(name), dir));
	if (size > REPO_TREE_MAX_BYTES)
		return err_set(ERR_TOOBIG, "%s: a git tree of %zu bytes, more than the %zu "
		    "a folder may take (%u entries)", folder_name(name, sizeof(name), dir), size,
		    REPO_TREE_MAX_BYTES, REPO_TREE_MAX_ENTRIES);
	if (git_tree_lookup(out, r->git, id) != 0)
		return git_fail(ERR, folder_name(name, sizeof(name), dir));
	if ((n = git_tree_entrycount(*out)) > REPO_TREE_MAX_ENTRIES) {
		git_tree_free(*out);
		*out = NULL;
		return err_set(ERR_TOOBIG, "%s: %zu entries, more than the %u a folder may "
		    "hold", folder_name(name, sizeof(name), dir), n, REPO_TREE_MAX_ENTRIES);
	}
	return OK;
}

/*
 * The blob `id` (owned by *out) when the object header says it is at
 * most `max` bytes (0: no limit); *size is its size either way.  A blob
 * over `max` is not read, let alone inflated: *out stays NULL and the
 * result is OK, so the caller can report it from the size alone.
 */
static int
blob_lookup(git_blob **out, size_t *size, struct repo *r, const git_oid *id, size_t max,
    const char *what)
{
	git_object_t type;

	*out = NULL;
	if (git_odb_read_header(size, &type, r->odb, id) != 0)
		return git_fail(ERR, what);
	if (type != GIT_OBJECT_BLOB)
		return err_set(ERR_INVALID, "%.200s is not a file in git", what);
	if (max && *size > max)
		return OK;
	if (git_blob_lookup(out, r->git, id) != 0)
		return git_fail(ERR, what);
	return OK;
}

/* The tree of commit `c` (owned by *out), through tree_lookup(). */
static int
commit_root(git_tree **out, struct repo *r, const git_commit *c)
{
	return tree_lookup(out, r, git_commit_tree_id(c), "");
}

/*
 * The entry at `path` ("hosts/web-01.yaml", "hosts") under `root`, a copy
 * owned by *out.  Each folder on the way is read through tree_lookup(),
 * so its size is checked before it is parsed (git_tree_entry_bypath()
 * would parse it whatever its size).  ERR_NOTFOUND when a component is
 * missing or the one before it is not a folder.
 */
static int
entry_bypath(git_tree_entry **out, struct repo *r, git_tree *root, const char *path)
{
	char buf[4096];
	git_tree *cur = root, *next = NULL;
	const git_tree_entry *e = NULL;
	char *comp, *slash;
	int rc = OK;

	*out = NULL;
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return err_set(ERR_TOOBIG, "path too long: %.200s", path);
	for (comp = buf; rc == OK; comp = slash + 1) {
		while (*comp == '/')
			comp++;
		if ((slash = strchr(comp, '/')))
			*slash = '\0';
		if (!*comp || !(e = git_tree_entry_byname(cur, comp))) {
			rc = err_set(ERR_NOTFOUND, "no %.200s", path);
			break;
		}
		/* The last component (a trailing '/' is none). */
		if (!slash || !slash[1 + strspn(slash + 1, "/")])
			break;
		if (git_tree_entry_type(e) != GIT_OBJECT_TREE) {
			rc = err_set(ERR_NOTFOUND, "no %.200s", path);
			break;
		}
		if ((rc = tree_lookup(&next, r, git_tree_entry_id(e), buf)) != OK)
			break;
		*slash = '/';
		if (cur != root)
			git_tree_free(cur);
		cur = next;
		next = NULL;
	}
	if (rc == OK && git_tree_entry_dup(out, e) != 0)
		rc = git_fail(ERR, path);
	if (cur != root)
		git_tree_free(cur);
	return rc;
}

int
repo_open(struct repo **out, const char *path)
{
	struct repo *r;
	git_repository *g = NULL;

	*out = NULL;
	if (lib_users++ == 0) {
		git_libgit2_init();
		/* Re-hashing every object on read costs a tenth of a load; the
		 * repository is local and git itself does not re-hash on read. */
		git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
		/* Keep big trees (hosts/ of 100k entries is megabytes) in the
		 * object cache: a load looks the same tree up more than once. */
		git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_TREE,
		    (size_t)32 << 20);
	}
	/* No discovery upwards: the path given is the repository. */
	if (git_repository_open_ext(&g, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) != 0) {
		if (--lib_users == 0)
			git_libgit2_shutdown();
		return err_set(ERR_NOTFOUND, "%s: not a git repository", path);
	}
	r = xcalloc(1, sizeof(*r));
	r->git = g;
	r->path = xstrdup(path);
	if (git_repository_odb(&r->odb, g) != 0) {
		int rc = git_fail(ERR, path);

		repo_free(r);
		return rc;
	}
	*out = r;
	return OK;
}

int
repo_reopen(struct repo **out, const struct repo *r)
{
	return repo_open(out, r->path);
}

void
repo_free(struct repo *r)
{
	if (!r)
		return;
	git_odb_free(r->odb);
	git_repository_free(r->git);
	free(r->path);
	free(r);
	if (--lib_users == 0)
		git_libgit2_shutdown();
}

int
repo_resolve(struct repo *r, const char *rev, char out[REPO_SHA_LEN + 1])
{
	git_object *obj = NULL, *commit = NULL;
	int rc = OK;

	if (git_revparse_single(&obj, r->git, rev) != 0)
		return err_set(ERR_NOTFOUND, "no commit '%s' in the repository", rev);
	if (git_object_peel(&commit, obj, GIT_OBJECT_COMMIT) != 0) {
		rc = err_set(ERR_NOTFOUND, "'%s' does not name a commit", rev);
		goto out;
	}
	git_oid_tostr(out, REPO_SHA_LEN + 1, git_object_id(commit));
out:
	git_object_free(commit);
	git_object_free(obj);
	return rc;
}

static int
commit_tree(git_tree **out, struct repo *r, const char *sha)
{
	git_oid oid;
	git_commit *c = NULL;
	int rc;

	if (git_oid_fromstr(&oid, sha) != 0)
		return err_set(ERR_INVALID, "'%s' is not a commit id", sha);
	if (git_commit_lookup(&c, r->git, &oid) != 0)
		return git_fail(ERR_NOTFOUND, sha);
	rc = commit_root(out, r, c);
	git_commit_free(c);
	return rc;
}

int
repo_each_file(struct repo *r, const char *sha, const char *dir, size_t max_blob,
    repo_want_fn want, repo_file_fn fn, void *ctx)
{
	return repo_each_file_range(r, sha, dir, max_blob, 0, SIZE_MAX, want, fn, ctx);
}

/*
 * The tree of `dir` in the commit (owned by *sub or *root), or NULL when
 * there is no such directory.  When `dir` is there but is not a tree,
 * *out is NULL and *other (when given) gets its id.
 */
static int
dir_tree(const git_tree **out, git_tree **root, git_tree **sub, struct repo *r,
    const char *sha, const char *dir, git_oid *other, int *is_other)
{
	git_tree_entry *te = NULL;
	int rc;

	*out = NULL;
	*root = *sub = NULL;
	if (is_other)
		*is_other = 0;
	if ((rc = commit_tree(root, r, sha)) != OK)
		return rc;
	if (!dir || !*dir) {
		*out = *root;
		return OK;
	}
	if ((rc = entry_bypath(&te, r, *root, dir)) != OK)
		return rc == ERR_NOTFOUND ? OK : rc;
	if (git_tree_entry_type(te) == GIT_OBJECT_TREE) {
		if ((rc = tree_lookup(sub, r, git_tree_entry_id(te), dir)) == OK)
			*out = *sub;
	} else if (is_other) {
		*is_other = 1;
		git_oid_cpy(other, git_tree_entry_id(te));
	}
	git_tree_entry_free(te);
	return rc;
}

int
repo_count_entries(struct repo *r, const char *sha, const char *dir, size_t *n)
{
	const git_tree *tree;
	git_tree *root, *sub;
	int rc = dir_tree(&tree, &root, &sub, r, sha, dir, NULL, NULL);

	*n = rc == OK && tree ? git_tree_entrycount(tree) : 0;
	git_tree_free(sub);
	git_tree_free(root);
	return rc;
}

int
repo_each_file_range(struct repo *r, const char *sha, const char *dir, size_t max_blob,
    size_t from, size_t to, repo_want_fn want, repo_file_fn fn, void *ctx)
{
	git_tree *root = NULL, *sub = NULL;
	const git_tree *tree;
	git_oid other;
	size_t i, n;
	int rc, is_other;

	if ((rc = dir_tree(&tree, &root, &sub, r, sha, dir, &other, &is_other)) != OK || !tree) {
		/* A file where the directory should be is the caller's to report. */
		if (rc == OK && is_other)
			rc = fn(ctx, dir, other.id, 0, NULL, 0);
		goto out;
	}
	n = git_tree_entrycount(tree);
	if (to < n)
		n = to;
	for (i = from; i < n && rc == OK; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(tree, i);
		const char *name = git_tree_entry_name(e);
		git_blob *blob = NULL;
		size_t size;

		/* Symlinks are blobs to git; to us they are not files. */
		if (git_tree_entry_type(e) != GIT_OBJECT_BLOB ||
		    git_tree_entry_filemode(e) == GIT_FILEMODE_LINK) {
			rc = fn(ctx, name, git_tree_entry_id(e)->id, 0, NULL, 0);
			continue;
		}
		if (want && !want(ctx, name, git_tree_entry_id(e)->id))
			continue;
		if ((rc = blob_lookup(&blob, &size, r, git_tree_entry_id(e), max_blob, name)) != OK)
			break;
		if (!blob)
			/* Too big to look at (and not read): the caller reports it
			 * from len alone. */
			rc = fn(ctx, name, git_tree_entry_id(e)->id, 1, NULL, size);
		else
			rc = fn(ctx, name, git_tree_entry_id(e)->id, 1,
			    (const char *)git_blob_rawcontent(blob), size);
		git_blob_free(blob);
	}
out:
	git_tree_free(sub);
	git_tree_free(root);
	return rc;
}

/* ---- remotes: credentials, fetch, push ---- */

enum { NET_TRIED_USER = 1, NET_TRIED_PASS = 2, NET_TRIED_KEY = 4 };

/* What one fetch or push shares with libgit2's callbacks. */
struct net {
	const struct repo_auth *auth;   /* borrowed; may be NULL */
	const char *url;
	unsigned tried;                 /* NET_TRIED_*: each kind is offered once */
	int denied;                     /* we gave up on credentials */
	char rejected[256];             /* the remote's reason for refusing our ref */
};

/*
 * libgit2 asks again after the remote turns credentials down; offering the
 * same ones again would loop for ever, so each kind is offered once and
 * the second request for it ends the operation.
 */
static int
net_credentials(git_credential **out, const char *url, const char *url_user,
    unsigned int allowed, void *payload)
{
	struct net *n = payload;
	const struct repo_auth *a = n->auth;
	const char *user;

	(void)url;
	if (a && a->username && *a->username)
		user = a->username;
	else
		user = url_user && *url_user ? url_user : "git";
	if (a && a->ssh_key && (allowed & GIT_CREDENTIAL_SSH_KEY) && !(n->tried & NET_TRIED_KEY)) {
		n->tried |= NET_TRIED_KEY;
		return git_credential_ssh_key_new(out, user, a->ssh_pubkey, a->ssh_key,
		    a->passphrase ? a->passphrase : "");
	}
	if (a && a->password && (allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) &&
	    !(n->tried & NET_TRIED_PASS)) {
		n->tried |= NET_TRIED_PASS;
		return git_credential_userpass_plaintext_new(out, user, a->password);
	}
	/* ssh asks for the user name alone first when the URL has none. */
	if ((allowed & GIT_CREDENTIAL_USERNAME) && !(n->tried & NET_TRIED_USER)) {
		n->tried |= NET_TRIED_USER;
		return git_credential_username_new(out, user);
	}
	n->denied = 1;
	git_error_set_str(GIT_ERROR_NET, n->tried & (NET_TRIED_PASS | NET_TRIED_KEY) ?
	    "the remote turned the credentials down" :
	    "the remote wants credentials that are not configured");
	return GIT_EAUTH;
}

/* Called once per pushed ref; `status` is NULL when the remote took it. */
static int
net_ref_status(const char *refname, const char *status, void *payload)
{
	struct net *n = payload;

	if (status && !n->rejected[0])
		snprintf(n->rejected, sizeof(n->rejected), "%s: %s", refname, status);
	return 0;
}

/* Overwrite every occurrence of `secret` in msg with stars. */
static void
scrub(char *msg, const char *secret, size_t n)
{
	char *p = msg;

	if (!secret || n == 0)
		return;
	while ((p = memmem(p, strlen(p), secret, n)) != NULL) {
		memset(p, '*', n);
		p += n;
	}
}

/*
 * A message about a remote fit for err_last(): no password, passphrase
 * or URL user info in it (libgit2 or the remote might echo them), and one
 * line whatever the remote sent.
 */
static void
net_clean(char *msg, const struct net *n)
{
	const char *at, *start, *slash;
	char *p;

	if (n->auth) {
		if (n->auth->password)
			scrub(msg, n->auth->password, strlen(n->auth->password));
		if (n->auth->passphrase)
			scrub(msg, n->auth->passphrase, strlen(n->auth->passphrase));
	}
	if (n->url && (start = strstr(n->url, "://")) != NULL) {
		start += 3;
		at = strchr(start, '@');
		slash = strchr(start, '/');
		if (at && (!slash || at < slash))
			scrub(msg, start, (size_t)(at - start));
	}
	for (p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

static int
net_fail(int code, const char *what, const struct net *n)
{
	const git_error *e = git_error_last();
	char msg[768];

	snprintf(msg, sizeof(msg), "%s: %s", what, e && e->message ? e->message : "git error");
	net_clean(msg, n);
	return err_set(code, "%s", msg);
}

/* What a failed fetch or push means to the caller. */
static int
net_code(int e, const struct net *n)
{
	if (n->denied || e == GIT_EAUTH)
		return ERR_DENIED;
	if (e == GIT_ENONFASTFORWARD)
		return ERR_CONFLICT;
	return ERR_AGAIN;
}

static void
net_init(struct net *n, git_remote_callbacks *cb, const char *url, const struct repo_auth *auth)
{
	memset(n, 0, sizeof(*n));
	n->auth = auth;
	n->url = url;
	cb->credentials = net_credentials;
	cb->push_update_reference = net_ref_status;
	cb->payload = n;
}

/*
 * An anonymous remote for `url`, as given: url.<base>.insteadOf is not
 * applied (the URL is firebreak's own configuration), which also keeps
 * libgit2 1.5 from leaking a regex match per config entry on every call.
 */
static int
remote_new(git_remote **out, struct repo *r, const char *url)
{
	git_remote_create_options o;

	git_remote_create_options_init(&o, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	o.repository = r->git;
	o.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF;
	return git_remote_create_with_opts(out, url, &o);
}

/* "refs/heads/<branch>" into ref, checked: a branch from a config or a
 * chat must not turn into a different refspec. */
static int
branch_ref(char *ref, size_t size, const char *branch)
{
	int n, valid = 0;

	if (!branch || !*branch)
		return err_set(ERR_INVALID, "no branch name");
	n = snprintf(ref, size, "refs/heads/%s", branch);
	if (n < 0 || (size_t)n >= size)
		return err_set(ERR_INVALID, "branch name too long");
	if (git_reference_name_is_valid(&valid, ref) != 0 || !valid)
		return err_set(ERR_INVALID, "'%.100s' is not a valid branch name", branch);
	return OK;
}

/*
 * Our ref writers in one repository are serialised: bot commands and the
 * controller's own fetch run as separate processes, and a fetch that
 * finds a ref's lock file taken by another writer fails outright (libgit2
 * does not wait).  An flock(2) on a file in the git directory (released
 * when the process dies, so a killed fetch never leaves it held) makes
 * the second writer wait instead.  People's own git commands do not take
 * it: a fetch that meets one of theirs is retried (repo_fetch).
 */
static int
writers_lock(struct repo *r)
{
	char *path = xasprintf("%s/firebreak-fetch.lock", git_repository_path(r->git));
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	free(path);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) != 0)
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	return fd;
}

static void
nap_ms(int ms)
{
	struct timespec ts = { 0, (long)ms * 1000000L };

	nanosleep(&ts, NULL);
}

int
repo_fetch(struct repo *r, const char *url, const char *branch, const struct repo_auth *auth)
{
	git_remote *remote = NULL;
	git_fetch_options opts;
	git_strarray specs;
	struct net net;
	char ref[400], spec[820], *list[1];
	int e, rc, lock, attempt;

	if ((rc = branch_ref(ref, sizeof(ref), branch)) != OK)
		return rc;
	snprintf(spec, sizeof(spec), "+%s:%s", ref, ref);
	git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
	net_init(&net, &opts.callbacks, url, auth);
	if (remote_new(&remote, r, url) != 0)
		return net_fail(ERR_INVALID, "remote", &net);
	opts.prune = GIT_FETCH_NO_PRUNE;
	opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	list[0] = spec;
	specs.strings = list;
	specs.count = 1;
	for (attempt = 0; ; attempt++) {
		const git_error *ge;

		lock = writers_lock(r);
		e = git_remote_fetch(remote, &specs, &opts, "firebreak: fetch");
		if (lock >= 0)
			close(lock);
		ge = git_error_last();
		/* libgit2 reports another writer's lock file as a plain
		 * failure (-1), so it is known only by its message. */
		if (e == 0 || attempt == 20 || !ge || !ge->message ||
		    !strstr(ge->message, "lock"))
			break;
		nap_ms(10 + 10 * attempt);
	}
	if (e != 0)
		rc = net_fail(net_code(e, &net), "fetching from the remote", &net);
	git_remote_free(remote);
	return rc;
}

/*
 * The directory of a local remote (a path or a file:// URL), or NULL for
 * a network one.  "host:path" is ssh to git, as is anything with "://"
 * but file.  A file:// URL with escapes is left to libgit2.
 */
static const char *
local_path(const char *url)
{
	const char *colon, *slash;

	if (strncmp(url, "file://", 7) == 0)
		return url[7] == '/' && !strchr(url, '%') ? url + 7 : NULL;
	if (strstr(url, "://"))
		return NULL;
	colon = strchr(url, ':');
	slash = strchr(url, '/');
	if (colon && (!slash || colon < slash))
		return NULL;
	return url;
}

/*
 * Push to a repository on this machine.  libgit2's local transport moves
 * the remote ref with a forced write after checking fast-forward without
 * a lock, so a push racing ours (git, another firebreak) could be undone.
 * Here the pack goes into the remote's object store first and the ref then
 * moves by compare-and-swap under the remote's own ref lock.
 */
static int
push_local(struct repo *r, const char *path, const git_oid *oid, const char *dst)
{
	git_repository *remote = NULL;
	git_reference *ref = NULL;
	git_revwalk *walk = NULL;
	git_packbuilder *pb = NULL;
	git_buf objects = { NULL, 0, 0 };
	git_oid cur;
	char *packdir = NULL;
	int e, have, rc = OK;

	if (git_repository_open_ext(&remote, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) != 0)
		return git_fail(ERR_AGAIN, "pushing: cannot open the remote repository");
	if (!git_repository_is_bare(remote)) {
		/* A push would leave its checked-out work tree behind, as git
		 * itself refuses to (receive.denyCurrentBranch). */
		rc = err_set(ERR_CONFLICT, "pushing: the remote refused %s: not a bare repository", dst);
		goto out;
	}
	e = git_reference_name_to_id(&cur, remote, dst);
	if (e != 0 && e != GIT_ENOTFOUND) {
		rc = git_fail(ERR_AGAIN, dst);
		goto out;
	}
	have = e == 0;
	if (have && git_oid_equal(&cur, oid))
		goto out;
	if (have && git_graph_descendant_of(r->git, oid, &cur) != 1) {
		char hex[REPO_SHA_LEN + 1];

		git_oid_tostr(hex, sizeof(hex), &cur);
		rc = err_set(ERR_CONFLICT, "pushing: non-fast-forward: the remote's %s is at %s, "
		    "which is not an ancestor (fetch first)", dst, hex);
		goto out;
	}
	if (git_revwalk_new(&walk, r->git) != 0 || git_revwalk_push(walk, oid) != 0 ||
	    (have && git_revwalk_hide(walk, &cur) != 0) ||
	    git_packbuilder_new(&pb, r->git) != 0 || git_packbuilder_insert_walk(pb, walk) != 0) {
		rc = git_fail(ERR, "pushing: packing the commits");
		goto out;
	}
	if (git_packbuilder_object_count(pb) > 0) {
		if (git_repository_item_path(&objects, remote, GIT_REPOSITORY_ITEM_OBJECTS) != 0) {
			rc = git_fail(ERR_AGAIN, "pushing");
			goto out;
		}
		packdir = xasprintf("%s%spack", objects.ptr,
		    objects.size && objects.ptr[objects.size - 1] == '/' ? "" : "/");
		if (git_packbuilder_write(pb, packdir, 0, NULL, NULL) != 0) {
			rc = git_fail(ERR_AGAIN, "pushing: writing the pack");
			goto out;
		}
	}
	if (have)
		e = git_reference_create_matching(&ref, remote, dst, oid, 1, &cur, "firebreak: push");
	else
		e = git_reference_create(&ref, remote, dst, oid, 0, "firebreak: push");
	if (e == GIT_EMODIFIED || e == GIT_ELOCKED || e == GIT_EEXISTS || e == GIT_ENOTFOUND)
		rc = git_fail(ERR_CONFLICT, "pushing: the remote branch moved meanwhile");
	else if (e != 0)
		rc = git_fail(ERR_AGAIN, "pushing");
out:
	free(packdir);
	git_buf_dispose(&objects);
	git_packbuilder_free(pb);
	git_revwalk_free(walk);
	git_reference_free(ref);
	git_repository_free(remote);
	return rc;
}

static unsigned push_seq;

/*
 * Push through libgit2's transports.  A push refspec's source must be a
 * reference name in libgit2 1.5, so the commit gets a reference of its
 * own for the push, removed afterwards whatever happened.
 */
static int
push_remote(struct repo *r, const char *url, const git_oid *oid, const char *dst,
    const struct repo_auth *auth)
{
	git_remote *remote = NULL;
	git_reference *tmp = NULL;
	git_push_options opts;
	git_strarray specs;
	struct net net;
	char name[96], spec[512], *list[1];
	int e, rc = OK;

	snprintf(name, sizeof(name), "refs/firebreak/push-%ld-%u", (long)getpid(),
	    __atomic_add_fetch(&push_seq, 1, __ATOMIC_RELAXED));
	snprintf(spec, sizeof(spec), "%s:%s", name, dst);
	git_push_options_init(&opts, GIT_PUSH_OPTIONS_VERSION);
	net_init(&net, &opts.callbacks, url, auth);
	if (remote_new(&remote, r, url) != 0)
		return net_fail(ERR_INVALID, "remote", &net);
	if (git_reference_create(&tmp, r->git, name, oid, 0, NULL) != 0) {
		git_remote_free(remote);
		return git_fail(ERR, "pushing: a reference to push from");
	}
	git_reference_free(tmp);
	list[0] = spec;
	specs.strings = list;
	specs.count = 1;
	if ((e = git_remote_push(remote, &specs, &opts)) != 0) {
		rc = net_fail(net_code(e, &net), "pushing", &net);
	} else if (net.rejected[0]) {
		net_clean(net.rejected, &net);
		rc = err_set(ERR_CONFLICT, "pushing: the remote refused %s", net.rejected);
	}
	git_remote_free(remote);
	/* After rc: removing resets libgit2's last error.  A reference left
	 * behind would only cost a name, never a wrong push. */
	git_reference_remove(r->git, name);
	return rc;
}

int
repo_push(struct repo *r, const char *url, const char *sha, const char *branch,
    const struct repo_auth *auth)
{
	git_commit *c = NULL;
	git_oid oid;
	const char *path;
	char dst[400];
	int rc;

	if (!url || !*url)
		return err_set(ERR_INVALID, "pushing: no remote URL");
	if ((rc = branch_ref(dst, sizeof(dst), branch)) != OK ||
	    (rc = lookup_commit(&c, r, sha)) != OK)
		return rc;
	git_oid_cpy(&oid, git_commit_id(c));
	git_commit_free(c);
	if ((path = local_path(url)) != NULL)
		return push_local(r, path, &oid, dst);
	return push_remote(r, url, &oid, dst, auth);
}
int
repo_diff_buffers(struct buf *out, const char *path, const char *old, size_t oldlen,
    const char *newb, size_t newlen)
{
	git_patch *patch = NULL;
	git_buf text;
	git_diff_options opts;
	int rc = OK;

	/* Diffs need the library, not a repository: keep it initialised. */
	if (!lib_users++)
		git_libgit2_init();
	memset(&text, 0, sizeof(text));
	git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
	opts.context_lines = 3;
	if (git_patch_from_buffers(&patch, old, oldlen, old ? path : NULL,
	    newb, newlen, newb ? path : NULL, &opts) != 0)
		return git_fail(ERR, "diff");
	if (git_patch_to_buf(&text, patch) != 0) {
		rc = git_fail(ERR, "diff");
		goto out;
	}
	rc = buf_append(out, text.ptr, text.size);
out:
	git_buf_dispose(&text);
	git_patch_free(patch);
	return rc;
}

/* ---- writing ---- */

#define REPO_PATH_MAX 4096

/*
 * A path inside the tree as git stores it: relative, "/"-separated, no
 * empty, "." or ".." component, nothing named .git in any case (checked
 * out on a case-insensitive file system it would be the repository's own
 * directory), no control character.
 */
static int
check_path(const char *path)
{
	const char *p, *slash;
	size_t n;

	if (!path || !*path)
		return err_set(ERR_INVALID, "empty path");
	if (strlen(path) > REPO_PATH_MAX)
		return err_set(ERR_INVALID, "path longer than %d bytes", REPO_PATH_MAX);
	if (*path == '/')
		return err_set(ERR_INVALID, "'%.200s': absolute path", path);
	for (p = path; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return err_set(ERR_INVALID, "a path with a control character");
	for (p = path;; p = slash + 1) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0)
			return err_set(ERR_INVALID, "'%.200s': empty path component", path);
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') ||
		    (n == 4 && strncasecmp(p, ".git", 4) == 0))
			return err_set(ERR_INVALID, "'%.200s': path component '%.*s' not allowed",
			    path, (int)n, p);
		if (!slash)
			return OK;
	}
}

/* A signature for `who`, now.  libgit2 would take a newline in a name
 * and write it into the commit header. */
static int
make_sig(git_signature **out, const struct repo_ident *who)
{
	const char *s[2];
	size_t i;

	*out = NULL;
	if (!who || !who->name || !*who->name || !who->email)
		return err_set(ERR_INVALID, "commit identity without a name or email");
	s[0] = who->name;
	s[1] = who->email;
	for (i = 0; i < 2; i++)
		for (const char *p = s[i]; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>')
				return err_set(ERR_INVALID, "commit identity: '<', '>' and control "
				    "characters are not allowed");
	if (git_signature_now(out, who->name, who->email) != 0)
		return git_fail(ERR_INVALID, "commit identity");
	return OK;
}

/* The commit `sha` names and its tree (both owned). */
static int
commit_and_tree(git_commit **c, git_tree **tree, struct repo *r, const char *sha)
{
	int rc;

	*tree = NULL;
	if ((rc = lookup_commit(c, r, sha)) != OK)
		return rc;
	if ((rc = commit_root(tree, r, *c)) != OK) {
		git_commit_free(*c);
		*c = NULL;
	}
	return rc;
}

int
repo_read_file(struct buf *out, struct repo *r, const char *sha, const char *path, size_t max)
{
	git_commit *c = NULL;
	git_tree *tree = NULL;
	git_tree_entry *te = NULL;
	git_blob *blob = NULL;
	size_t size;
	int rc;

	if ((rc = check_path(path)) != OK || (rc = commit_and_tree(&c, &tree, r, sha)) != OK)
		return rc;
	if ((rc = entry_bypath(&te, r, tree, path)) != OK) {
		if (rc == ERR_NOTFOUND)
			rc = err_set(ERR_NOTFOUND, "no file %.200s at %.12s", path, sha);
		goto out;
	}
	/* Symlinks are blobs to git; to the inventory they are not files. */
	if (git_tree_entry_type(te) != GIT_OBJECT_BLOB ||
	    git_tree_entry_filemode(te) == GIT_FILEMODE_LINK) {
		rc = err_set(ERR_INVALID, "%.200s is not a regular file", path);
		goto out;
	}
	if ((rc = blob_lookup(&blob, &size, r, git_tree_entry_id(te), max, path)) != OK)
		goto out;
	if (!blob)
		rc = err_set(ERR_TOOBIG, "%.200s is %zu bytes, over the limit of %zu", path,
		    size, max);
	else
		rc = buf_append(out, git_blob_rawcontent(blob), size);
out:
	git_blob_free(blob);
	git_tree_entry_free(te);
	git_tree_free(tree);
	git_commit_free(c);
	return rc;
}

static int
cmp_change_path(const void *a, const void *b)
{
	const struct repo_change *x = *(const struct repo_change *const *)a;
	const struct repo_change *y = *(const struct repo_change *const *)b;

	return strcmp(x->path, y->path);
}

/*
 * Check one change against the parent tree (NULL: empty) and fill in its
 * update but for the blob id.  git_tree_create_updated neither turns a
 * file into a directory nor the other way, nor reports a missing file to
 * delete by a code of its own, so those are found here first.
 */
static int
plan_change(git_tree_update *u, git_tree *base, const struct repo_change *ch)
{
	git_tree_entry *te = NULL;
	char *dir;
	int e, rc = OK;

	u->path = ch->path;
	e = base ? git_tree_entry_bypath(&te, base, ch->path) : GIT_ENOTFOUND;
	if (!ch->data) {
		u->action = GIT_TREE_UPDATE_REMOVE;
		if (e != 0)
			rc = err_set(ERR_NOTFOUND, "no file %.200s to delete", ch->path);
		else if (git_tree_entry_type(te) != GIT_OBJECT_BLOB)
			rc = err_set(ERR_INVALID, "%.200s is not a file: only files are deleted",
			    ch->path);
		git_tree_entry_free(te);
		return rc;
	}
	u->action = GIT_TREE_UPDATE_UPSERT;
	u->filemode = GIT_FILEMODE_BLOB;
	if (e == 0) {
		if (git_tree_entry_type(te) != GIT_OBJECT_BLOB)
			rc = err_set(ERR_INVALID, "%.200s is a directory, not a file", ch->path);
		else if (git_tree_entry_filemode(te) == GIT_FILEMODE_BLOB_EXECUTABLE)
			u->filemode = GIT_FILEMODE_BLOB_EXECUTABLE;
		git_tree_entry_free(te);
	} else if (base && strchr(ch->path, '/')) {
		/* A new file: no directory on its way may be a file. */
		char *slash;

		dir = xstrdup(ch->path);
		for (slash = strchr(dir, '/'); slash && rc == OK; slash = strchr(slash + 1, '/')) {
			*slash = '\0';
			if (git_tree_entry_bypath(&te, base, dir) != 0) {
				*slash = '/';
				break;
			}
			if (git_tree_entry_type(te) != GIT_OBJECT_TREE)
				rc = err_set(ERR_INVALID, "%.200s: %.200s is a file, not a directory",
				    ch->path, dir);
			git_tree_entry_free(te);
			te = NULL;
			*slash = '/';
		}
		free(dir);
	}
	return rc;
}

/* Good paths, none twice, none inside another; sorts `ch` by path. */
static int
check_batch(const struct repo_change **ch, size_t n)
{
	size_t i, j, len;
	int rc;

	for (i = 0; i < n; i++)
		if ((rc = check_path(ch[i]->path)) != OK)
			return rc;
	xqsort(ch, n, sizeof(*ch), cmp_change_path);
	for (i = 0; i + 1 < n; i++)
		if (strcmp(ch[i]->path, ch[i + 1]->path) == 0)
			return err_set(ERR_INVALID, "%.200s changed twice in one commit",
			    ch[i]->path);
	/* Everything under "a/" sorts after "a" but maybe not next to it
	 * ("a-b" comes between), so look on while the prefix is shared. */
	for (i = 0; i < n; i++) {
		len = strlen(ch[i]->path);
		for (j = i + 1; j < n && strncmp(ch[j]->path, ch[i]->path, len) == 0; j++)
			if (ch[j]->path[len] == '/')
				return err_set(ERR_INVALID, "%.200s and %.200s in one commit: a file "
				    "cannot also be a directory", ch[i]->path, ch[j]->path);
	}
	return OK;
}

int
repo_commit(struct repo *r, const char *parent, const struct repo_change *changes, size_t n,
    const struct repo_ident *who, const char *message, char out[REPO_SHA_LEN + 1])
{
	git_commit *pc = NULL;
	git_tree *base = NULL, *tree = NULL;
	git_signature *sig = NULL;
	git_tree_update *ups = NULL;
	const struct repo_change **sorted = NULL;
	const git_commit *parents[1];
	git_oid tree_id, id;
	size_t i;
	int rc;

	out[0] = '\0';
	if (!message || !*message)
		return err_set(ERR_INVALID, "empty commit message");
	if (n && !changes)
		return err_set(ERR_INVALID, "no changes given");
	if ((rc = make_sig(&sig, who)) != OK)
		return rc;
	if (parent && *parent && (rc = commit_and_tree(&pc, &base, r, parent)) != OK)
		goto out;
	/* Everything is checked before anything is written. */
	sorted = xcalloc(n ? n : 1, sizeof(*sorted));
	ups = xcalloc(n ? n : 1, sizeof(*ups));
	for (i = 0; i < n; i++)
		sorted[i] = &changes[i];
	if ((rc = check_batch(sorted, n)) != OK)
		goto out;
	for (i = 0; i < n; i++)
		if ((rc = plan_change(&ups[i], base, sorted[i])) != OK)
			goto out;
	for (i = 0; i < n; i++)
		if (sorted[i]->data && git_blob_create_from_buffer(&ups[i].id, r->git,
		    sorted[i]->len ? sorted[i]->data : "", sorted[i]->len) != 0) {
			rc = git_fail(ERR, sorted[i]->path);
			goto out;
		}
	/* It also drops a directory the changes leave empty. */
	if (git_tree_create_updated(&tree_id, r->git, base, n, ups) != 0 ||
	    git_tree_lookup(&tree, r->git, &tree_id) != 0) {
		rc = git_fail(ERR, "writing the tree");
		goto out;
	}
	parents[0] = pc;
	if (git_commit_create(&id, r->git, NULL, sig, sig, NULL, message, tree, pc ? 1 : 0,
	    parents) != 0) {
		rc = git_fail(ERR, "writing the commit");
		goto out;
	}
	git_oid_tostr(out, REPO_SHA_LEN + 1, &id);
out:
	free(sorted);
	free(ups);
	git_tree_free(tree);
	git_tree_free(base);
	git_commit_free(pc);
	git_signature_free(sig);
	return rc;
}

int
repo_update_ref(struct repo *r, const char *ref, const char *expected, const char *sha,
    const char *reflog)
{
	git_reference *moved = NULL;
	git_commit *c = NULL;
	git_oid from;
	int e, rc, lock, valid = 0;

	if (!ref || strncmp(ref, "refs/", 5) != 0 || git_reference_name_is_valid(&valid, ref) != 0 ||
	    !valid)
		return err_set(ERR_INVALID, "'%.200s' is not a reference name", ref ? ref : "");
	if (expected && *expected && (rc = parse_sha(&from, expected)) != OK)
		return rc;
	if ((rc = lookup_commit(&c, r, sha)) != OK)
		return rc;
	/*
	 * Both take the ref's lock file (the one git itself takes) and compare
	 * under it: two writers cannot both win.  A lock already held means
	 * another writer is moving it this instant.  Our own writers also hold
	 * the fetch lock, so a fetch never finds the ref locked by us.
	 */
	lock = writers_lock(r);
	if (expected && *expected)
		e = git_reference_create_matching(&moved, r->git, ref, git_commit_id(c), 1, &from,
		    reflog);
	else
		e = git_reference_create(&moved, r->git, ref, git_commit_id(c), 0, reflog);
	if (lock >= 0)
		close(lock);
	git_reference_free(moved);
	git_commit_free(c);
	switch (e) {
	case 0:
		return OK;
	case GIT_EMODIFIED:
	case GIT_ELOCKED:
	case GIT_EEXISTS:
	case GIT_ENOTFOUND:
		return git_fail(ERR_CONFLICT, ref);
	default:
		return git_fail(ERR, ref);
	}
}

/* The first conflicting path of the index, for the message. */
static void
first_conflict(char *out, size_t size, git_index *index)
{
	git_index_conflict_iterator *it = NULL;
	const git_index_entry *anc, *ours, *theirs;

	snprintf(out, size, "?");
	if (git_index_conflict_iterator_new(&it, index) != 0)
		return;
	if (git_index_conflict_next(&anc, &ours, &theirs, it) == 0) {
		const git_index_entry *e = ours ? ours : theirs ? theirs : anc;

		if (e && e->path)
			snprintf(out, size, "%s", e->path);
	}
	git_index_conflict_iterator_free(it);
}

int
repo_revert(struct repo *r, const char *onto, const char *sha, const struct repo_ident *who,
    const char *message, char out[REPO_SHA_LEN + 1])
{
	git_commit *base = NULL, *rev = NULL;
	git_tree *base_tree = NULL, *tree = NULL;
	git_index *index = NULL;
	git_signature *sig = NULL;
	const git_commit *parents[1];
	git_oid tree_id, id;
	char *msg = NULL, path[256];
	int rc;

	out[0] = '\0';
	if (message && !*message)
		return err_set(ERR_INVALID, "empty commit message");
	if ((rc = make_sig(&sig, who)) != OK)
		return rc;
	if ((rc = commit_and_tree(&base, &base_tree, r, onto)) != OK ||
	    (rc = lookup_commit(&rev, r, sha)) != OK)
		goto out;
	if (git_commit_parentcount(rev) != 1) {
		rc = err_set(ERR_INVALID, "%.12s is a %s commit: not reverted", sha,
		    git_commit_parentcount(rev) ? "merge" : "root");
		goto out;
	}
	if (git_revert_commit(&index, r->git, rev, base, 0, NULL) != 0) {
		rc = git_fail(ERR, "reverting");
		goto out;
	}
	if (git_index_has_conflicts(index)) {
		first_conflict(path, sizeof(path), index);
		rc = err_set(ERR_CONFLICT, "reverting %.12s does not apply cleanly onto %.12s "
		    "(conflict in %s)", sha, onto, path);
		goto out;
	}
	if (git_index_write_tree_to(&tree_id, index, r->git) != 0 ||
	    git_tree_lookup(&tree, r->git, &tree_id) != 0) {
		rc = git_fail(ERR, "writing the tree");
		goto out;
	}
	/* git revert stops here too ("nothing to commit"): an empty commit
	 * would say something was undone when nothing was. */
	if (git_oid_equal(&tree_id, git_tree_id(base_tree))) {
		rc = err_set(ERR_CONFLICT, "reverting %.12s changes nothing on %.12s "
		    "(already reverted?)", sha, onto);
		goto out;
	}
	if (!message) {
		const char *subject = git_commit_summary(rev);

		msg = xasprintf("Revert \"%s\"\n\nThis reverts commit %s.\n",
		    subject ? subject : "", sha);
	}
	parents[0] = base;
	if (git_commit_create(&id, r->git, NULL, sig, sig, NULL, message ? message : msg, tree,
	    1, parents) != 0) {
		rc = git_fail(ERR, "writing the commit");
		goto out;
	}
	git_oid_tostr(out, REPO_SHA_LEN + 1, &id);
out:
	free(msg);
	git_index_free(index);
	git_tree_free(tree);
	git_tree_free(base_tree);
	git_commit_free(rev);
	git_commit_free(base);
	git_signature_free(sig);
	return rc;
}

static int
is_file_mode(git_filemode_t m)
{
	return m == GIT_FILEMODE_BLOB || m == GIT_FILEMODE_BLOB_EXECUTABLE || m == GIT_FILEMODE_LINK;
}

int
repo_each_changed_path(struct repo *r, const char *from, const char *to,
    int (*fn)(void *ctx, const char *path), void *ctx)
{
	git_commit *fc = NULL, *tc = NULL;
	git_tree *ft = NULL, *tt = NULL;
	git_diff *diff = NULL;
	git_diff_options opts;
	const char *last = NULL;
	size_t i, n;
	int rc;

	if (from && *from && (rc = commit_and_tree(&fc, &ft, r, from)) != OK)
		return rc;
	if ((rc = commit_and_tree(&tc, &tt, r, to)) != OK)
		goto out;
	git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
	/* A file that turns into a symlink is one path, not two deltas. */
	opts.flags |= GIT_DIFF_INCLUDE_TYPECHANGE;
	if (git_diff_tree_to_tree(&diff, r->git, ft, tt, &opts) != 0) {
		rc = git_fail(ERR, "comparing the trees");
		goto out;
	}
	n = git_diff_num_deltas(diff);
	for (i = 0; i < n && rc == OK; i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		const char *path = d->new_file.path ? d->new_file.path : d->old_file.path;

		if (!is_file_mode(d->old_file.mode) && !is_file_mode(d->new_file.mode))
			continue;
		if (last && strcmp(last, path) == 0)
			continue;
		last = path;
		rc = fn(ctx, path);
	}
out:
	git_diff_free(diff);
	git_tree_free(tt);
	git_tree_free(ft);
	git_commit_free(tc);
	git_commit_free(fc);
	return rc;
}

int
repo_log(struct repo *r, const char *sha, size_t max,
    int (*fn)(void *ctx, const struct repo_log_entry *e), void *ctx)
{
	git_commit *c = NULL, *next = NULL;
	struct repo_log_entry e;
	size_t i;
	int rc;

	if ((rc = lookup_commit(&c, r, sha)) != OK)
		return rc;
	for (i = 0; i < max && c && rc == OK; i++) {
		const git_signature *a = git_commit_author(c), *cm = git_commit_committer(c);

		git_oid_tostr(e.sha, sizeof(e.sha), git_commit_id(c));
		e.message = git_commit_message(c);
		e.subject = git_commit_summary(c) ? git_commit_summary(c) : "";
		e.author = a->name ? a->name : "";
		e.author_email = a->email ? a->email : "";
		e.committer = cm->name ? cm->name : "";
		e.committer_email = cm->email ? cm->email : "";
		e.time = (long long)a->when.time;
		e.nparents = git_commit_parentcount(c);
		rc = fn(ctx, &e);
		next = NULL;
		if (rc == OK && i + 1 < max && e.nparents > 0 && git_commit_parent(&next, c, 0) != 0)
			rc = git_fail(ERR, "reading a parent commit");
		git_commit_free(c);
		c = next;
	}
	git_commit_free(c);
	return rc;
}

int
repo_expand_sha(struct repo *r, const char *hex, char out[REPO_SHA_LEN + 1])
{
	git_object *obj = NULL, *commit = NULL;
	git_oid oid;
	size_t len = 0;
	int e, rc = OK;

	out[0] = '\0';
	if (hex)
		while (isxdigit((unsigned char)hex[len]) && len <= REPO_SHA_LEN)
			len++;
	if (!hex || hex[len] != '\0' || len < 4 || len > REPO_SHA_LEN)
		return err_set(ERR_INVALID, "'%.60s' is not a commit id (4 to 40 hex digits)",
		    hex ? hex : "");
	if (git_oid_fromstrn(&oid, hex, len) != 0)
		return err_set(ERR_INVALID, "'%s' is not a commit id", hex);
	e = git_object_lookup_prefix(&obj, r->git, &oid, len, GIT_OBJECT_ANY);
	if (e == GIT_EAMBIGUOUS)
		return err_set(ERR_INVALID, "'%s' is ambiguous: more digits, please", hex);
	if (e != 0)
		return err_set(ERR_NOTFOUND, "no commit %s in the repository", hex);
	if (git_object_peel(&commit, obj, GIT_OBJECT_COMMIT) != 0)
		rc = err_set(ERR_NOTFOUND, "%s names a %s, not a commit", hex,
		    git_object_type2string(git_object_type(obj)));
	else
		git_oid_tostr(out, REPO_SHA_LEN + 1, git_object_id(commit));
	git_object_free(commit);
	git_object_free(obj);
	return rc;
}

int
repo_is_ancestor(struct repo *r, const char *ancestor, const char *sha)
{
	git_commit *a = NULL, *c = NULL;
	int yes = 0;

	if (lookup_commit(&a, r, ancestor) == OK && lookup_commit(&c, r, sha) == OK)
		yes = git_oid_equal(git_commit_id(a), git_commit_id(c)) ||
		    git_graph_descendant_of(r->git, git_commit_id(c), git_commit_id(a)) == 1;
	git_commit_free(c);
	git_commit_free(a);
	return yes;
}

/* How far behind the branch a work tree may be found and brought along. */
#define SYNC_MAX_BEHIND 1000

/* The first path a safe checkout will not overwrite (owns), for the note. */
static int
sync_conflict(git_checkout_notify_t why, const char *path, const git_diff_file *baseline,
    const git_diff_file *target, const git_diff_file *workdir, void *payload)
{
	char **first = payload, *p;

	(void)why;
	(void)baseline;
	(void)target;
	(void)workdir;
	if (!*first && path) {
		/* Any file name can be committed; the note goes to chat on one
		 * line. */
		*first = xstrdup(path);
		for (p = *first; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	}
	return 0;   /* go on: libgit2 then refuses the whole checkout */
}

/*
 * Under the lock: the branch head `head`; the commit among its first
 * SYNC_MAX_BEHIND first-parent ancestors whose tree the index holds (the
 * work tree's base) into *base; ERR_CONFLICT when there is none.
 */
static int
sync_find_base(git_commit **base, git_index *idx, git_commit *head,
    const char *branch)
{
	git_commit *c = NULL, *next = NULL;
	git_oid itree;
	size_t i;
	int rc = OK;

	*base = NULL;
	if (git_index_read(idx, 1) != 0)
		return git_fail(ERR, "reading the work tree's index");
	if (git_index_has_conflicts(idx))
		return err_set(ERR_CONFLICT, "the work tree is in the middle of a merge; left alone");
	/* With the index's cached tree ids this writes nothing new unless
	 * something is staged (then only loose trees, which gc drops). */
	if (git_index_write_tree(&itree, idx) != 0)
		return git_fail(ERR, "reading the work tree's index");
	if (git_commit_dup(&c, head) != 0)
		return git_fail(ERR, "reading the branch head");
	for (i = 0; i < SYNC_MAX_BEHIND && c; i++) {
		if (git_oid_equal(git_commit_tree_id(c), &itree)) {
			*base = c;
			return OK;
		}
		next = NULL;
		if (git_commit_parentcount(c) > 0 && git_commit_parent(&next, c, 0) != 0)
			rc = git_fail(ERR, "reading a parent commit");
		git_commit_free(c);
		c = next;
		if (rc != OK)
			return rc;
	}
	git_commit_free(c);
	return err_set(ERR_CONFLICT, "the work tree's index is not at %s or any of its last %d "
	    "commits (are changes staged there?); left alone", branch, SYNC_MAX_BEHIND);
}

int
repo_sync_worktree(struct repo *r, const char *branch)
{
	git_reference *headref = NULL;
	git_commit *hc = NULL, *bc = NULL;
	git_tree *bt = NULL;
	git_index *idx = NULL;
	git_checkout_options opts;
	git_oid hid;
	char want[300], lockpath[4096], *first = NULL;
	int rc = OK, e, fd;

	if (git_repository_is_bare(r->git))
		return OK;
	if (snprintf(want, sizeof(want), "refs/heads/%s", branch) >= (int)sizeof(want))
		return err_set(ERR_INVALID, "branch name too long");
	/* HEAD names the branch (attached), or this is someone else's branch. */
	if (git_reference_lookup(&headref, r->git, "HEAD") != 0 ||
	    git_reference_type(headref) != GIT_REFERENCE_SYMBOLIC ||
	    strcmp(git_reference_symbolic_target(headref), want) != 0) {
		git_reference_free(headref);
		return OK;
	}
	git_reference_free(headref);
	/*
	 * Several bot processes commit at once, and each syncs after its own
	 * compare-and-swap.  Syncing each to its own commit lets an older
	 * sync land after a newer one (the index ends a step behind HEAD), so
	 * every sync takes this lock and brings the work tree to whatever the
	 * branch holds NOW, from whatever commit its index is at: the last
	 * sync to run follows the last move of the branch.  A flock() is
	 * released by the kernel however its holder dies.
	 */
	if (snprintf(lockpath, sizeof(lockpath), "%sfirebreak-worktree.lock",
	    git_repository_path(r->git)) >= (int)sizeof(lockpath))
		return err_set(ERR, "repository path too long");
	if ((fd = open(lockpath, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644)) < 0)
		return err_set(ERR, "%s: %s", lockpath, strerror(errno));
	while (flock(fd, LOCK_EX) != 0)
		if (errno != EINTR) {
			rc = err_set(ERR, "%s: %s", lockpath, strerror(errno));
			goto out;
		}
	if (git_reference_name_to_id(&hid, r->git, want) != 0 ||
	    git_commit_lookup(&hc, r->git, &hid) != 0) {
		rc = git_fail(ERR, "reading the branch");
		goto out;
	}
	if (git_repository_index(&idx, r->git) != 0) {
		rc = git_fail(ERR, "opening the work tree's index");
		goto out;
	}
	if ((rc = sync_find_base(&bc, idx, hc, branch)) != OK)
		goto out;
	if (git_oid_equal(git_commit_id(bc), git_commit_id(hc)) ||
	    git_oid_equal(git_commit_tree_id(bc), git_commit_tree_id(hc)))
		goto out;   /* there already */
	if (git_commit_tree(&bt, bc) != 0) {
		rc = git_fail(ERR, "reading the work tree's tree");
		goto out;
	}
	git_checkout_options_init(&opts, GIT_CHECKOUT_OPTIONS_VERSION);
	/* Safe: a file changed in the work tree since its base commit is
	 * never overwritten; if the update must change one, nothing at all is
	 * touched (libgit2 checks every path before it writes any). */
	opts.checkout_strategy = GIT_CHECKOUT_SAFE;
	opts.baseline = bt;
	opts.notify_flags = GIT_CHECKOUT_NOTIFY_CONFLICT;
	opts.notify_cb = sync_conflict;
	opts.notify_payload = &first;
	e = git_checkout_tree(r->git, (const git_object *)hc, &opts);
	if (e == GIT_ECONFLICT || e == GIT_EMERGECONFLICT || (e != 0 && first)) {
		char b7[8], h7[8];

		git_oid_tostr(b7, sizeof(b7), git_commit_id(bc));
		git_oid_tostr(h7, sizeof(h7), git_commit_id(hc));
		rc = err_set(ERR_CONFLICT, "the work tree was left at %s (%s is at %s): %s has "
		    "local changes; after setting them aside, `git read-tree -u -m %s %s` brings "
		    "it up", b7, branch, h7, first ? first : "a file", b7, branch);
	} else if (e == GIT_ELOCKED) {
		rc = git_fail(ERR_CONFLICT, "updating the work tree (is git running there?)");
	} else if (e != 0) {
		rc = git_fail(ERR, "updating the work tree");
	}
out:
	free(first);
	git_tree_free(bt);
	git_index_free(idx);
	git_commit_free(bc);
	git_commit_free(hc);
	close(fd);   /* releases the lock */
	return rc;
}
