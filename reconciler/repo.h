/*
 * repo.h - the only door to libgit2.  Everything firebreak reads from the
 * inventory repository it reads from git objects at a commit, never from a
 * work tree, so what is planned is exactly what was committed.
 */
#ifndef FIREBREAK_REPO_H
#define FIREBREAK_REPO_H

#include <stddef.h>

#include "util.h"

#define REPO_SHA_LEN 40

struct repo;

/* Open a repository (bare or not).  ERR_NOTFOUND when there is none. */
int repo_open(struct repo **out, const char *path);
void repo_free(struct repo *r);

/*
 * Resolve a revision (branch, tag, sha, "HEAD", "main~1") to a commit sha
 * written into out[41].  ERR_NOTFOUND, with the rev in err_last(), when it
 * names no commit.
 */
int repo_resolve(struct repo *r, const char *rev, char out[REPO_SHA_LEN + 1]);

/*
 * Call `fn` for each blob in the commit's tree directly under `dir` (""
 * is the root), in git's order (sorted by name).  `name` is the entry
 * name; `data` is borrowed for the call only; `oid` is the 20-byte blob
 * id.  Subtrees and other entries are passed with data NULL and len 0 and
 * is_blob 0, so the caller can complain about them.  A missing `dir` is
 * not an error (no calls).  `fn` returning non-zero stops the walk and
 * that value is returned.
 */
typedef int (*repo_file_fn)(void *ctx, const char *name, const unsigned char *oid,
    int is_blob, const char *data, size_t len);
/* Asked before a blob is read: 0 means the caller already has it (from
 * the oid), so it is neither read nor passed to `fn`.  NULL: read all. */
typedef int (*repo_want_fn)(void *ctx, const char *name, const unsigned char *oid);
int repo_each_file(struct repo *r, const char *sha, const char *dir,
    size_t max_blob, repo_want_fn want, repo_file_fn fn, void *ctx);
/* The same for entries [from, to) of the directory only, so two threads
 * (each with its own handle, repo_reopen) can split a big directory. */
int repo_each_file_range(struct repo *r, const char *sha, const char *dir,
    size_t max_blob, size_t from, size_t to, repo_want_fn want, repo_file_fn fn, void *ctx);
/* The number of entries in `dir` at the commit (0 when it is missing). */
int repo_count_entries(struct repo *r, const char *sha, const char *dir, size_t *n);

/* A second handle on the same repository, for another thread: libgit2
 * objects must not be shared between threads. */
int repo_reopen(struct repo **out, const struct repo *r);

/*
 * Fetch `branch` from `url` into the local refs/heads/<branch> (forced: the
 * remote is the source of truth).  Blocking; ERR_AGAIN when the remote
 * cannot be reached, with the reason in err_last().
 */
int repo_fetch(struct repo *r, const char *url, const char *branch);

/* The commit's subject line and author name (each owns; NULL on failure). */
int repo_commit_info(struct repo *r, const char *sha, char **subject, char **author);

/*
 * A unified diff of two buffers (NULL = absent) with git's headers, for
 * `path`, appended to `out`.  Uses libgit2's git_patch_from_buffers.
 */
int repo_diff_buffers(struct buf *out, const char *path,
    const char *old, size_t oldlen, const char *newb, size_t newlen);

#endif
