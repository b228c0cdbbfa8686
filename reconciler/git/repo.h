/*
 * repo.h - the only door to libgit2.  Everything firebreak reads from the
 * inventory repository it reads from git objects at a commit, never from a
 * work tree, so what is planned is exactly what was committed.
 *
 * Layer: git (includes base).
 */
#ifndef FIREBREAK_REPO_H
#define FIREBREAK_REPO_H

#include <stddef.h>

#include "base/util.h"

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
 * Sizes are checked before work (DESIGN.md "Security rules"): a blob's
 * size comes from its object header, and a blob over the caller's cap is
 * never inflated; a folder (a git tree) is read only when its header says
 * it is of a sane size, and refused with ERR_TOOBIG, naming the folder,
 * when it holds more than REPO_TREE_MAX_ENTRIES entries.  The 100k-host
 * bench inventory's hosts/ has 100,000.
 */
#define REPO_TREE_MAX_ENTRIES 1000000u

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
 * Credentials for fetch and push; every field borrowed, any may be NULL.
 * https: username + password (a token).  ssh: username (default: the
 * URL's, else "git"), ssh_key (private key file), ssh_pubkey (NULL:
 * none), passphrase.  Each kind is offered once per operation: a remote
 * that turns it down gets ERR_DENIED, not a loop.  Passwords and
 * passphrases never appear in err_last().
 */
struct repo_auth {
	const char *username, *password, *ssh_key, *ssh_pubkey, *passphrase;
};

/*
 * Fetch `branch` from `url` into the local refs/heads/<branch> (forced: the
 * remote is the source of truth), with `auth` (NULL: none).  The URL is
 * used as given (git's url.<base>.insteadOf is not applied).  Blocking;
 * ERR_AGAIN when the remote cannot be reached, ERR_DENIED when it turned
 * the credentials down, with the reason in err_last().
 */
int repo_fetch(struct repo *r, const char *url, const char *branch,
    const struct repo_auth *auth);

/*
 * A unified diff of two buffers (NULL = absent) with git's headers, for
 * `path`, appended to `out`.  Uses libgit2's git_patch_from_buffers.
 */
int repo_diff_buffers(struct buf *out, const char *path,
    const char *old, size_t oldlen, const char *newb, size_t newlen);

/* ---- writing: the chat bot commits inventory edits as itself ---- */

/*
 * One file's bytes at commit `sha`, appended to `out` (a cap on `out` is
 * honoured: ERR_TOOBIG).  ERR_NOTFOUND when the path is absent,
 * ERR_INVALID when it is not a regular file (a directory, a symlink, a
 * submodule) or a bad path, ERR_TOOBIG when it is over `max` bytes (0: no
 * limit).
 */
int repo_read_file(struct buf *out, struct repo *r, const char *sha, const char *path,
    size_t max);

/* An author and committer (borrowed).  Neither may hold '<', '>' or a
 * control character; the name may not be empty. */
struct repo_ident {
	const char *name, *email;
};

/*
 * One file to write (data, len: borrowed) or delete (data NULL) at a path
 * like "hosts/web-01.example.com.yaml".  Directories are created as
 * needed, and a directory the change empties disappears from the tree.  A
 * file keeps its executable bit when it is rewritten.
 */
struct repo_change {
	const char *path;
	const char *data;
	size_t len;
};

/*
 * Write a new commit whose parent is `parent` (a full sha; "" or NULL: a
 * root commit on the empty tree) and whose tree is the parent's with the
 * `n` `changes` applied; `who` is author and committer, now; `message` is
 * stored exactly as given (not empty).  Moves no ref.  *out = the new sha.
 * ERR_INVALID for a bad path (empty, absolute, an empty, "." or ".."
 * component, a ".git" component in any case, a control character), the
 * same path twice, one path inside another (replacing a file by a
 * directory takes two commits), a file written where a directory is or
 * under a file, a directory deleted, or a bad `who`.  Deleting a path that
 * does not exist: ERR_NOTFOUND; so is a `parent` that names no commit.
 */
int repo_commit(struct repo *r, const char *parent, const struct repo_change *changes,
    size_t n, const struct repo_ident *who, const char *message,
    char out[REPO_SHA_LEN + 1]);

/*
 * Compare-and-swap: move `ref` (under "refs/", e.g. "refs/heads/main")
 * from `expected` (a full sha, or "" / NULL meaning the ref must not exist
 * yet) to the commit `sha`, with `reflog` as the reflog message (may be
 * NULL).  ERR_CONFLICT when the ref is somewhere else, is missing, exists
 * when it should not, or another writer holds its lock: all mean "someone
 * else moved it, redo".  Safe against other processes (git itself, other
 * firebreak processes) doing the same at the same moment: the check and
 * the write happen under git's own ref lock.  ERR_INVALID for a bad ref
 * name or sha, ERR_NOTFOUND when `sha` names no commit.
 */
int repo_update_ref(struct repo *r, const char *ref, const char *expected, const char *sha,
    const char *reflog);

/*
 * A new commit on `onto` that reverts commit `sha` (like `git revert
 * --no-edit`, as a commit whose parent is `onto`), author and committer
 * `who`, `message` as given (NULL: git's "Revert \"<subject>\"\n\nThis
 * reverts commit <sha>.\n").  Moves no ref; *out = the new sha.
 * ERR_CONFLICT when it does not apply cleanly onto `onto` (err_last()
 * names the first conflicting path), or when it would change nothing (it
 * is reverted already); ERR_INVALID for a merge commit or a root commit;
 * ERR_NOTFOUND when `sha` or `onto` names no commit.
 */
int repo_revert(struct repo *r, const char *onto, const char *sha,
    const struct repo_ident *who, const char *message, char out[REPO_SHA_LEN + 1]);

/*
 * Call `fn` once for each path that differs between the trees of commits
 * `from` ("" or NULL: the empty tree) and `to`: files (blobs, symlinks
 * included) only, full paths, in path order, no rename detection (a rename
 * is both its paths).  `path` is borrowed for the call.  `fn` returning
 * non-zero stops the walk and that value is returned.
 */
int repo_each_changed_path(struct repo *r, const char *from, const char *to,
    int (*fn)(void *ctx, const char *path), void *ctx);

/* A commit as the log shows it; the strings are borrowed for the call. */
struct repo_log_entry {
	char sha[REPO_SHA_LEN + 1];
	const char *message;      /* the whole message */
	const char *subject;      /* its first paragraph on one line (git's summary) */
	const char *author, *author_email;
	const char *committer, *committer_email;
	long long time;           /* author time, seconds since the epoch */
	unsigned nparents;
};

/*
 * Walk first parents from commit `sha`, newest first, at most `max`
 * commits (0: none).  `fn` returning non-zero stops the walk and that
 * value is returned.
 */
int repo_log(struct repo *r, const char *sha, size_t max,
    int (*fn)(void *ctx, const struct repo_log_entry *e), void *ctx);

/*
 * Expand an abbreviated or full hex sha (4 to 40 hex digits, either case,
 * nothing else: never a revision expression) to the full sha of the
 * commit it names (an annotated tag is peeled).  ERR_NOTFOUND when it
 * names no commit, ERR_INVALID when it is not hex or is ambiguous (err_last()
 * says which).
 */
int repo_expand_sha(struct repo *r, const char *hex, char out[REPO_SHA_LEN + 1]);

/* 1 when `ancestor` is `sha` or one of its ancestors, else 0 (both full
 * shas; any error: 0). */
int repo_is_ancestor(struct repo *r, const char *ancestor, const char *sha);

/*
 * Push commit `sha` to refs/heads/<branch> at `url` (a path, file://,
 * ssh://, https:// or git:// URL), never forced, with `auth` (NULL: none).
 * OK when the remote took it (or already had it there).  ERR_CONFLICT when
 * it is not a fast-forward of the remote branch (fetch, rebase, redo), or
 * the remote refused it (err_last() has the remote's reason).  ERR_AGAIN
 * when the remote cannot be reached, ERR_DENIED when it turned the
 * credentials down.  A local repository (a path or file:// URL; it must
 * be bare) is updated directly with a compare-and-swap under its ref lock,
 * so a push racing another cannot undo it (libgit2's own local transport
 * writes the ref unchecked); like libgit2's, it runs none of the remote's
 * hooks.  The URL is used as given, as for repo_fetch.
 */
int repo_push(struct repo *r, const char *url, const char *sha, const char *branch,
    const struct repo_auth *auth);

/*
 * After the bot moved `branch`: when the repository is not bare and has
 * `branch` checked out, bring its index and work tree to the commit the
 * branch holds now, as git's receive.denyCurrentBranch=updateInstead
 * does, so a person committing there next does not undo the bot's
 * commits.  The work tree's base is the commit whose tree its index holds
 * (the branch head or one of its last 1000 first-parent ancestors).
 * Concurrent calls (several bot processes) are serialised by a flock()
 * on <gitdir>/firebreak-worktree.lock, and each goes to the head it reads
 * under that lock, so the last one leaves the work tree at the last head.
 * Safe: a file changed locally is never overwritten; when the update must
 * change one, nothing is touched.  OK when the work tree is at the head
 * (already or now), and, doing nothing, for a bare repository or another
 * branch checked out.  ERR_CONFLICT when it was left alone: err_last()
 * says why (local changes to a path the update changes, with a command
 * that brings it up; a merge in progress; an index at none of those
 * commits; git holding the index lock); ERR on a failure to read.
 */
int repo_sync_worktree(struct repo *r, const char *branch);

#endif
