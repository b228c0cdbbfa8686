/*
 * repo.c - libgit2 behind firebreak's own API.  See repo.h.
 */
#include "repo.h"

#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct repo {
	git_repository *git;
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
	rc = git_commit_tree(out, c) == 0 ? OK : git_fail(ERR, "reading the commit's tree");
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
	if (git_tree_entry_bypath(&te, *root, dir) != 0)
		return OK;
	if (git_tree_entry_type(te) == GIT_OBJECT_TREE) {
		if (git_tree_lookup(sub, r->git, git_tree_entry_id(te)) != 0)
			rc = git_fail(ERR, dir);
		else
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
		git_object_size_t size;

		/* Symlinks are blobs to git; to us they are not files. */
		if (git_tree_entry_type(e) != GIT_OBJECT_BLOB ||
		    git_tree_entry_filemode(e) == GIT_FILEMODE_LINK) {
			rc = fn(ctx, name, git_tree_entry_id(e)->id, 0, NULL, 0);
			continue;
		}
		if (want && !want(ctx, name, git_tree_entry_id(e)->id))
			continue;
		if (git_blob_lookup(&blob, r->git, git_tree_entry_id(e)) != 0) {
			rc = git_fail(ERR, name);
			break;
		}
		size = git_blob_rawsize(blob);
		if (max_blob && size > max_blob)
			/* Too big to look at: the caller reports it from len alone. */
			rc = fn(ctx, name, git_tree_entry_id(e)->id, 1, NULL, (size_t)size);
		else
			rc = fn(ctx, name, git_tree_entry_id(e)->id, 1,
			    (const char *)git_blob_rawcontent(blob), (size_t)size);
		git_blob_free(blob);
	}
out:
	git_tree_free(sub);
	git_tree_free(root);
	return rc;
}

int
repo_fetch(struct repo *r, const char *url, const char *branch)
{
	git_remote *remote = NULL;
	git_fetch_options opts;
	git_strarray specs;
	char spec[512], *list[1];
	int n, rc = OK;

	n = snprintf(spec, sizeof(spec), "+refs/heads/%s:refs/heads/%s", branch, branch);
	if (n < 0 || (size_t)n >= sizeof(spec))
		return err_set(ERR_INVALID, "branch name too long");
	if (git_remote_create_anonymous(&remote, r->git, url) != 0)
		return git_fail(ERR_INVALID, "remote");
	git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
	opts.prune = GIT_FETCH_NO_PRUNE;
	opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	list[0] = spec;
	specs.strings = list;
	specs.count = 1;
	if (git_remote_fetch(remote, &specs, &opts, "firebreak: fetch") != 0)
		rc = git_fail(ERR_AGAIN, "fetching from the remote");
	git_remote_free(remote);
	return rc;
}

int
repo_commit_info(struct repo *r, const char *sha, char **subject, char **author)
{
	git_oid oid;
	git_commit *c = NULL;
	const char *summary;

	*subject = *author = NULL;
	if (git_oid_fromstr(&oid, sha) != 0 || git_commit_lookup(&c, r->git, &oid) != 0)
		return git_fail(ERR_NOTFOUND, sha);
	summary = git_commit_summary(c);
	*subject = xstrdup(summary ? summary : "");
	*author = xstrdup(git_commit_author(c)->name ? git_commit_author(c)->name : "");
	git_commit_free(c);
	return OK;
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
