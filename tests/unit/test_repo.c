/*
 * test_repo.c - the write side of the door to libgit2: commits built from
 * file changes, compare-and-swap ref moves (raced by eight processes),
 * reverts, changed paths, the log, sha expansion, reading one file, and
 * pushes (to a local bare repository, through git daemon, and to a server
 * that turns every password down).
 *
 * Every repository is real and made by the git CLI, which is also the
 * judge: what firebreak writes must be exactly what `git` then shows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cases.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/proc.h"
#include "git/repo.h"

#define GIT "/usr/bin/git"
#define EMPTY_TREE "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

static const struct repo_ident bot = { "Firebreak Bot", "bot@firebreak.example" };

/* ---- running git ---- */

/* The date the CLI's commits carry (GIT_AUTHOR_DATE and committer). */
static char git_date[64] = "1700000000 +0000";

/*
 * Run `git -C dir args...` with a fixed identity, no user or system
 * config, and return its output (owned).  Fails the test unless it exits
 * with `want` (0: success; -1: any failure).
 */
static char *
git_run(int want, const char *dir, const char *const *args)
{
	char adate[96], cdate[96];
	const char *env[] = {
		"GIT_AUTHOR_NAME=Ada Author", "GIT_AUTHOR_EMAIL=ada@example.com",
		"GIT_COMMITTER_NAME=Ada Author", "GIT_COMMITTER_EMAIL=ada@example.com",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", adate, cdate, NULL,
	};
	const char *argv[40];
	struct proc_opts o;
	struct proc_result res;
	size_t n = 0, i;

	snprintf(adate, sizeof(adate), "GIT_AUTHOR_DATE=%s", git_date);
	snprintf(cdate, sizeof(cdate), "GIT_COMMITTER_DATE=%s", git_date);
	argv[n++] = GIT;
	argv[n++] = "-C";
	argv[n++] = dir;
	for (i = 0; args[i]; i++) {
		assert_true(n < sizeof(argv) / sizeof(argv[0]) - 1);
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	memset(&o, 0, sizeof(o));
	o.env = env;
	o.timeout_ms = 30000;
	assert_int_equal(proc_run(&res, argv, &o), OK);
	if (want == -1 ? proc_result_ok(&res) : !(res.exited && res.code == want)) {
		print_error("git");
		for (i = 3; argv[i]; i++)
			print_error(" %s", argv[i]);
		print_error(": exit %d\n%s\n", res.exited ? res.code : -res.signo,
		    res.output.data ? res.output.data : "");
		fail();
	}
	return buf_steal(&res.output) ?: xstrdup("");
}

#define GIT_OUT(dir, ...) git_run(0, dir, (const char *const[]){ __VA_ARGS__, NULL })

/* Run git for its effect. */
#define GIT_DO(dir, ...) free(GIT_OUT(dir, __VA_ARGS__))

/* The first line of git's output, into out[41] (a sha, mostly). */
static void
git_line(char *out, size_t size, const char *dir, const char *const *args)
{
	char *s = git_run(0, dir, args);
	size_t n = strcspn(s, "\n");

	assert_true(n < size);
	memcpy(out, s, n);
	out[n] = '\0';
	free(s);
}

#define GIT_LINE(out, dir, ...) \
	git_line(out, sizeof(out), dir, (const char *const[]){ __VA_ARGS__, NULL })

/* Write dir/rel (making directories). */
static void
put(const char *dir, const char *rel, const char *content)
{
	char path[512], *slash;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	slash = strrchr(path, '/');
	*slash = '\0';
	assert_int_equal(fs_mkdir_p(path, 0755), OK);
	*slash = '/';
	assert_int_equal(fs_write_atomic(path, content, strlen(content)), OK);
}

/* Commit everything in the work tree with the CLI; the new sha into out. */
static void
cli_commit(char out[REPO_SHA_LEN + 1], const char *dir, const char *message)
{
	GIT_DO(dir, "add", "-A");
	GIT_DO(dir, "commit", "-q", "--allow-empty", "-m", message);
	git_line(out, REPO_SHA_LEN + 1, dir, (const char *const[]){ "rev-parse", "HEAD", NULL });
}

/* ---- the fixture: a work repository with one commit ---- */

struct fx {
	char dir[64];          /* a fresh temporary directory */
	char work[96];         /* dir/work: non-bare, branch main */
	char bare[96];         /* dir/remote.git, made by tests that push */
	char c1[REPO_SHA_LEN + 1];
	struct repo *r;
};

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	char path[256];

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_repo.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->work, sizeof(f->work), "%s/work", f->dir);
	snprintf(f->bare, sizeof(f->bare), "%s/remote.git", f->dir);
	snprintf(git_date, sizeof(git_date), "1700000000 +0000");
	GIT_DO(f->dir, "init", "-q", "-b", "main", "work");
	put(f->work, "README", "hello\n");
	put(f->work, "hosts/web-01.example.com.yaml", "role: web\n");
	put(f->work, "hosts/web-02.example.com.yaml", "role: web\n");
	put(f->work, "roles/web.yaml", "classes: []\n");
	put(f->work, "bin/tool.sh", "#!/bin/sh\n");
	snprintf(path, sizeof(path), "%s/bin/tool.sh", f->work);
	assert_int_equal(chmod(path, 0755), 0);
	cli_commit(f->c1, f->work, "initial");
	assert_int_equal(repo_open(&f->r, f->work), OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	repo_free(f->r);
	fs_rm_rf(f->dir);
	free(f);
	return 0;
}

static void
assert_main_is(struct fx *f, const char *sha)
{
	char now[REPO_SHA_LEN + 1];

	GIT_LINE(now, f->work, "rev-parse", "refs/heads/main");
	assert_string_equal(now, sha);
}

/* Collect names or paths into a buffer, one a line. */
static int
collect_path(void *ctx, const char *path)
{
	struct buf *b = ctx;

	assert_int_equal(buf_printf(b, "%s\n", path), OK);
	return 0;
}

static int
collect_file(void *ctx, const char *name, const unsigned char *oid, int is_blob,
    const char *data, size_t len)
{
	(void)oid;
	(void)is_blob;
	(void)data;
	(void)len;
	return collect_path(ctx, name);
}

/* ---- repo_commit ---- */

/* Add, modify, delete in subdirectories; git sees exactly that. */
static void
test_commit_edits(void **state)
{
	struct fx *f = *state;
	static const char msg[] = "bot: edit hosts\n\nAsked by @ada in #ops.\n";
	const struct repo_change ch[] = {
		{ "hosts/web-03.example.com.yaml", "role: db\n", 9 },
		{ "hosts/web-01.example.com.yaml", "role: api\n", 10 },
		{ "roles/web.yaml", NULL, 0 },     /* the only file: roles/ goes */
		{ "dns/zones/example.com.yaml", "zone_id: Z1\n", 12 },
		{ "bin/tool.sh", "#!/bin/sh\nexit 0\n", 17 },
	};
	char sha[REPO_SHA_LEN + 1], got[REPO_SHA_LEN + 1], *s, *body, want[256];
	struct buf b = BUF_INIT;
	long long t;

	assert_int_equal(repo_commit(f->r, f->c1, ch, 5, &bot, msg, sha), OK);
	assert_int_equal(strlen(sha), REPO_SHA_LEN);
	assert_main_is(f, f->c1);   /* no ref moved */

	s = GIT_OUT(f->work, "diff-tree", "-r", "--no-renames", "--name-status", f->c1, sha);
	assert_string_equal(s,
	    "M\tbin/tool.sh\n"
	    "A\tdns/zones/example.com.yaml\n"
	    "M\thosts/web-01.example.com.yaml\n"
	    "A\thosts/web-03.example.com.yaml\n"
	    "D\troles/web.yaml\n");
	free(s);
	s = GIT_OUT(f->work, "ls-tree", "-r", "--name-only", sha);
	assert_string_equal(s,
	    "README\nbin/tool.sh\ndns/zones/example.com.yaml\n"
	    "hosts/web-01.example.com.yaml\nhosts/web-02.example.com.yaml\n"
	    "hosts/web-03.example.com.yaml\n");
	free(s);
	s = GIT_OUT(f->work, "ls-tree", "--name-only", sha);
	assert_string_equal(s, "README\nbin\ndns\nhosts\n");
	free(s);
	s = GIT_OUT(f->work, "ls-tree", sha, "bin/tool.sh");   /* still executable */
	assert_true(strncmp(s, "100755 blob ", 12) == 0);
	free(s);
	s = GIT_OUT(f->work, "show", "--stat", "--format=%an|%ae|%cn|%ce|%P", sha);
	snprintf(want, sizeof(want), "Firebreak Bot|bot@firebreak.example|Firebreak Bot|"
	    "bot@firebreak.example|%s\n", f->c1);
	assert_true(strncmp(s, want, strlen(want)) == 0);
	assert_non_null(strstr(s, " 5 files changed, 4 insertions(+), 2 deletions(-)\n"));
	free(s);
	s = GIT_OUT(f->work, "show", sha, "--format=", "--", "hosts/web-01.example.com.yaml");
	assert_non_null(strstr(s, "-role: web\n+role: api\n"));
	free(s);
	s = GIT_OUT(f->work, "show", "--no-patch", "--format=%at %ct", sha);
	t = strtoll(s, NULL, 10);
	assert_true(t > (long long)time(NULL) - 60 && t <= (long long)time(NULL));
	free(s);

	/* The message exactly, as the commit object holds it. */
	s = GIT_OUT(f->work, "cat-file", "commit", sha);
	body = strstr(s, "\n\n");
	assert_non_null(body);
	assert_string_equal(body + 2, msg);
	free(s);
	GIT_DO(f->work, "fsck", "--strict", "--no-progress");

	/* What was written is what this handle reads next (no stale cache). */
	assert_int_equal(repo_each_file(f->r, sha, "hosts", 0, NULL, collect_file, &b), OK);
	assert_string_equal(b.data, "web-01.example.com.yaml\nweb-02.example.com.yaml\n"
	    "web-03.example.com.yaml\n");
	buf_reset(&b);
	assert_int_equal(repo_update_ref(f->r, "refs/heads/main", f->c1, sha, "bot: edit"), OK);
	assert_int_equal(repo_resolve(f->r, "main", got), OK);
	assert_string_equal(got, sha);
	assert_int_equal(repo_read_file(&b, f->r, got, "hosts/web-01.example.com.yaml", 0), OK);
	assert_string_equal(b.data, "role: api\n");
	buf_dispose(&b);
}

/* Directories are created several levels deep and removed when emptied,
 * also when the emptied one is inside another. */
static void
test_commit_nested_dirs(void **state)
{
	struct fx *f = *state;
	const struct repo_change add[] = {
		{ "a/b/c/d.yaml", "x\n", 2 },
		{ "a/b-c.yaml", "y\n", 2 },
		{ "a/b/e.yaml", "z\n", 2 },
	};
	const struct repo_change del[] = {
		{ "a/b/c/d.yaml", NULL, 0 },
		{ "a/b/e.yaml", NULL, 0 },
	};
	char one[REPO_SHA_LEN + 1], two[REPO_SHA_LEN + 1];
	char *s;

	assert_int_equal(repo_commit(f->r, f->c1, add, 3, &bot, "add", one), OK);
	s = GIT_OUT(f->work, "ls-tree", "-r", "--name-only", one, "a");
	assert_string_equal(s, "a/b-c.yaml\na/b/c/d.yaml\na/b/e.yaml\n");
	free(s);
	assert_int_equal(repo_commit(f->r, one, del, 2, &bot, "del", two), OK);
	s = GIT_OUT(f->work, "ls-tree", "-r", "-t", two, "a");
	assert_non_null(strstr(s, "\ta/b-c.yaml\n"));
	assert_null(strstr(s, "a/b\n"));    /* a/b emptied: gone, not an empty tree */
	free(s);
	s = GIT_OUT(f->work, "ls-tree", "-r", "-t", "--name-only", two);
	assert_string_equal(s, "README\na\na/b-c.yaml\nbin\nbin/tool.sh\nhosts\n"
	    "hosts/web-01.example.com.yaml\nhosts/web-02.example.com.yaml\nroles\nroles/web.yaml\n");
	free(s);
	GIT_DO(f->work, "fsck", "--strict", "--no-progress");
}

/* "" and NULL parent: a root commit on the empty tree. */
static void
test_commit_root(void **state)
{
	struct fx *f = *state;
	const struct repo_change ch[] = {
		{ "hosts/a.example.com.yaml", "role: web\n", 10 },
		{ "empty", "", 0 },
	};
	char sha[REPO_SHA_LEN + 1], tree[64], *s;

	assert_int_equal(repo_commit(f->r, "", ch, 2, &bot, "first", sha), OK);
	s = GIT_OUT(f->work, "cat-file", "commit", sha);
	assert_null(strstr(s, "\nparent "));
	assert_true(strncmp(s, "tree ", 5) == 0);
	free(s);
	s = GIT_OUT(f->work, "ls-tree", "-r", "--name-only", sha);
	assert_string_equal(s, "empty\nhosts/a.example.com.yaml\n");
	free(s);

	assert_int_equal(repo_commit(f->r, NULL, NULL, 0, &bot, "nothing", sha), OK);
	GIT_LINE(tree, f->work, "show", "--no-patch", "--format=%T %P|", sha);
	assert_string_equal(tree, EMPTY_TREE " |");
}

struct bad_commit {
	const char *name;
	struct repo_change ch[3];
	size_t n;
	const char *parent;        /* NULL: the fixture's commit */
	const char *who_name;      /* NULL: the bot */
	const char *who_email;
	const char *message;       /* NULL: "msg" */
	int want;
	const char *err;           /* a part of err_last() */
};

static const struct bad_commit bad_commits[] = {
	{ "absolute path", { { "/etc/passwd", "x", 1 } }, 1, NULL, NULL, NULL, NULL,
	  ERR_INVALID, "absolute" },
	{ "dot-dot component", { { "hosts/../../x", "x", 1 } }, 1, NULL, NULL, NULL, NULL,
	  ERR_INVALID, "'..' not allowed" },
	{ "dot-dot alone", { { "..", "x", 1 } }, 1, NULL, NULL, NULL, NULL,
	  ERR_INVALID, "'..'" },
	{ "dot component", { { "./README", "x", 1 } }, 1, NULL, NULL, NULL, NULL,
	  ERR_INVALID, "'.' not allowed" },
	{ "empty component", { { "hosts//a.yaml", "x", 1 } }, 1, NULL, NULL, NULL, NULL,
	  ERR_INVALID, "empty path component" },
	{ "trailing slash", { { "hosts/", "x", 1 } }, 1, NULL, NULL, NULL, NULL,
	  ERR_INVALID, "empty path component" },
	{ "empty path", { { "", "x", 1 } }, 1, NULL, NULL, NULL, NULL,
	  ERR_INVALID, "empty path" },
	{ "no path", { { NULL, "x", 1 } }, 1, NULL, NULL, NULL, NULL,
	  ERR_INVALID, "empty path" },
	{ ".git component", { { ".git/config", "x", 1 } }, 1, NULL, NULL, NULL, NULL,
	  ERR_INVALID, "'.git' not allowed" },
	{ ".git in any case, deep", { { "a/.GiT/hooks/post-checkout", "x", 1 } }, 1,
	  NULL, NULL, NULL, NULL, ERR_INVALID, "'.GiT' not allowed" },
	{ ".git deleted", { { "hosts/.git", NULL, 0 } }, 1, NULL, NULL, NULL, NULL,
	  ERR_INVALID, "not allowed" },
	{ "control character", { { "hosts/a\nb.yaml", "x", 1 } }, 1, NULL, NULL, NULL, NULL,
	  ERR_INVALID, "control character" },
	{ "delete a missing file", { { "hosts/nope.yaml", NULL, 0 } }, 1, NULL, NULL, NULL,
	  NULL, ERR_NOTFOUND, "no file hosts/nope.yaml to delete" },
	{ "delete in a missing directory", { { "nodir/x.yaml", NULL, 0 } }, 1, NULL, NULL,
	  NULL, NULL, ERR_NOTFOUND, "no file nodir/x.yaml" },
	{ "delete under a file", { { "README/x", NULL, 0 } }, 1, NULL, NULL, NULL, NULL,
	  ERR_NOTFOUND, "no file README/x" },
	{ "delete a directory", { { "hosts", NULL, 0 } }, 1, NULL, NULL, NULL, NULL,
	  ERR_INVALID, "not a file" },
	{ "delete on a root commit", { { "README", NULL, 0 } }, 1, "", NULL, NULL, NULL,
	  ERR_NOTFOUND, "no file README" },
	{ "write over a directory", { { "hosts", "x", 1 } }, 1, NULL, NULL, NULL, NULL,
	  ERR_INVALID, "hosts is a directory" },
	{ "write under a file", { { "README/x.yaml", "x", 1 } }, 1, NULL, NULL, NULL, NULL,
	  ERR_INVALID, "README is a file" },
	{ "write under a file, deeper", { { "bin/tool.sh/a/b", "x", 1 } }, 1, NULL, NULL,
	  NULL, NULL, ERR_INVALID, "bin/tool.sh is a file" },
	{ "same path twice", { { "a.yaml", "x", 1 }, { "a.yaml", "y", 1 } }, 2, NULL, NULL,
	  NULL, NULL, ERR_INVALID, "a.yaml changed twice" },
	{ "write and delete one path", { { "README", "x", 1 }, { "README", NULL, 0 } }, 2,
	  NULL, NULL, NULL, NULL, ERR_INVALID, "changed twice" },
	{ "file and directory at once", { { "new", "x", 1 }, { "new-b", "y", 1 },
	  { "new/c", "z", 1 } }, 3, NULL, NULL, NULL, NULL, ERR_INVALID,
	  "new and new/c in one commit" },
	{ "file replaced by a directory", { { "README", NULL, 0 }, { "README/x", "y", 1 } }, 2,
	  NULL, NULL, NULL, NULL, ERR_INVALID, "README and README/x" },
	{ "newline in the name", { { "a", "x", 1 } }, 1, NULL, "Bot\nparent 0000", NULL, NULL,
	  ERR_INVALID, "identity" },
	{ "angle bracket in the email", { { "a", "x", 1 } }, 1, NULL, NULL, "a>b@x", NULL,
	  ERR_INVALID, "identity" },
	{ "empty name", { { "a", "x", 1 } }, 1, NULL, "", NULL, NULL,
	  ERR_INVALID, "identity" },
	{ "empty message", { { "a", "x", 1 } }, 1, NULL, NULL, NULL, "",
	  ERR_INVALID, "empty commit message" },
	{ "unknown parent", { { "a", "x", 1 } }, 1, "0123456789012345678901234567890123456789",
	  NULL, NULL, NULL, ERR_NOTFOUND, "no commit 0123456789012345678901234567890123456789" },
	{ "parent not a sha", { { "a", "x", 1 } }, 1, "main", NULL, NULL, NULL,
	  ERR_INVALID, "'main' is not a commit id" },
	{ "parent abbreviated", { { "a", "x", 1 } }, 1, "0123456", NULL, NULL, NULL,
	  ERR_INVALID, "not a commit id" },
};

static void
test_bad_commit(void **state)
{
	const struct bad_commit *c = *state;
	struct fx *f;
	struct repo_ident who;
	char sha[REPO_SHA_LEN + 1] = "junk", *s;

	setup((void **)&f);
	who.name = c->who_name ? c->who_name : bot.name;
	who.email = c->who_email ? c->who_email : bot.email;
	assert_int_equal(repo_commit(f->r, c->parent ? c->parent : f->c1, c->ch, c->n, &who,
	    c->message ? c->message : "msg", sha), c->want);
	if (!strstr(err_last(), c->err))
		fail_msg("err_last() is \"%s\", wanted \"%s\" in it", err_last(), c->err);
	assert_string_equal(sha, "");
	assert_main_is(f, f->c1);
	/* Checked before anything is written: the store holds only the
	 * fixture's commit, its 4 trees and 4 blobs. */
	s = GIT_OUT(f->work, "count-objects", "-v");
	assert_non_null(strstr(s, "count: 9\n"));
	free(s);
	teardown((void **)&f);
}

/* ---- repo_update_ref ---- */

static void
test_update_ref(void **state)
{
	struct fx *f = *state;
	const struct repo_change a = { "a", "a\n", 2 }, b = { "b", "b\n", 2 };
	char c2[REPO_SHA_LEN + 1], c3[REPO_SHA_LEN + 1], path[256], *s;

	assert_int_equal(repo_commit(f->r, f->c1, &a, 1, &bot, "two", c2), OK);
	assert_int_equal(repo_commit(f->r, f->c1, &b, 1, &bot, "three", c3), OK);

	/* From the right place: moves, with the reflog message. */
	assert_int_equal(repo_update_ref(f->r, "refs/heads/main", f->c1, c2, "bot: two"), OK);
	assert_main_is(f, c2);
	s = GIT_OUT(f->work, "reflog", "show", "--format=%gs", "-n1", "refs/heads/main");
	assert_string_equal(s, "bot: two\n");
	free(s);

	/* From a stale place: refused, untouched. */
	assert_int_equal(repo_update_ref(f->r, "refs/heads/main", f->c1, c3, "x"), ERR_CONFLICT);
	assert_main_is(f, c2);
	/* Must not exist, but does. */
	assert_int_equal(repo_update_ref(f->r, "refs/heads/main", "", c3, "x"), ERR_CONFLICT);
	assert_int_equal(repo_update_ref(f->r, "refs/heads/main", NULL, c3, "x"), ERR_CONFLICT);
	assert_main_is(f, c2);
	/* Must not exist, and does not: created. */
	assert_int_equal(repo_update_ref(f->r, "refs/heads/bot/new", "", c3, "new"), OK);
	s = GIT_OUT(f->work, "rev-parse", "bot/new");
	assert_true(strncmp(s, c3, REPO_SHA_LEN) == 0);
	free(s);
	/* Expected somewhere, but missing. */
	assert_int_equal(repo_update_ref(f->r, "refs/heads/gone", f->c1, c3, "x"), ERR_CONFLICT);
	GIT_DO(f->work, "show-ref", "--verify", "-q", "refs/heads/bot/new");

	/* Another writer holds the lock (as git does while it writes). */
	snprintf(path, sizeof(path), "%s/.git/refs/heads/main.lock", f->work);
	assert_int_equal(fs_write_atomic(path, "", 0), OK);
	assert_int_equal(repo_update_ref(f->r, "refs/heads/main", c2, c3, "x"), ERR_CONFLICT);
	assert_int_equal(unlink(path), 0);
	assert_main_is(f, c2);

	/* Packed refs are compared and moved the same way. */
	GIT_DO(f->work, "pack-refs", "--all");
	assert_int_equal(repo_update_ref(f->r, "refs/heads/main", f->c1, c3, "x"), ERR_CONFLICT);
	assert_int_equal(repo_update_ref(f->r, "refs/heads/main", c2, c3, "bot: three"), OK);
	assert_main_is(f, c3);

	/* Bad input. */
	assert_int_equal(repo_update_ref(f->r, "HEAD", c3, c2, "x"), ERR_INVALID);
	assert_int_equal(repo_update_ref(f->r, "refs/heads/a..b", "", c2, "x"), ERR_INVALID);
	assert_int_equal(repo_update_ref(f->r, "refs/heads/main", "c3", c2, "x"), ERR_INVALID);
	assert_int_equal(repo_update_ref(f->r, "refs/heads/main", c3, "main", "x"), ERR_INVALID);
	assert_int_equal(repo_update_ref(f->r, "refs/heads/main", c3,
	    "0123456789012345678901234567890123456789", "x"), ERR_NOTFOUND);
	assert_main_is(f, c3);
	GIT_DO(f->work, "fsck", "--strict", "--no-progress");
}

/*
 * Eight processes commit at once, each "resolve, commit, compare-and-swap;
 * on conflict redo": the branch ends with exactly eight new commits in a
 * line and every file there.  With `bare` set the same goes through
 * repo_push to that repository instead of repo_update_ref.
 */
#define RACERS 8

static int
race_child(const char *work, const char *bare, int i, int go, int report)
{
	struct repo *r = NULL, *rb = NULL;
	char head[REPO_SHA_LEN + 1], sha[REPO_SHA_LEN + 1], path[64], data[64], msg[64];
	struct repo_change ch;
	unsigned conflicts = 0;
	char c;
	int rc;

	/* Everyone starts together: the parent closes the pipe. */
	if (read(go, &c, 1) != 0)
		return 2;
	if (repo_open(&r, work) != OK || (bare && repo_open(&rb, bare) != OK))
		return 3;
	snprintf(path, sizeof(path), "race/child-%d.txt", i);
	snprintf(data, sizeof(data), "child %d\n", i);
	snprintf(msg, sizeof(msg), "child %d", i);
	ch.path = path;
	ch.data = data;
	ch.len = strlen(data);
	for (;;) {
		if (conflicts > 100000)
			return 7;
		if (repo_resolve(rb ? rb : r, "refs/heads/main", head) != OK)
			return 4;
		if (repo_commit(r, head, &ch, 1, &bot, msg, sha) != OK)
			return 5;
		if (bare)
			rc = repo_push(r, bare, sha, "main", NULL);
		else
			rc = repo_update_ref(r, "refs/heads/main", head, sha, msg);
		if (rc == OK)
			break;
		if (rc != ERR_CONFLICT)
			return 6;
		conflicts++;
	}
	repo_free(rb);
	repo_free(r);
	return write(report, &conflicts, sizeof(conflicts)) == sizeof(conflicts) ? 0 : 8;
}

static void
race(struct fx *f, const char *bare)
{
	const char *judge = bare ? bare : f->work;
	pid_t pids[RACERS];
	int go[2], rep[2], i, status;
	unsigned n, conflicts = 0;
	char range[128], *s, *p, want[1024];
	size_t lines = 0;

	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(rep), 0);
	for (i = 0; i < RACERS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			close(go[1]);
			close(rep[0]);
			_exit(race_child(f->work, bare, i, go[0], rep[1]));
		}
	}
	close(go[0]);
	close(rep[1]);
	usleep(50000);
	close(go[1]);
	for (i = 0; i < RACERS; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	while (read(rep[0], &n, sizeof(n)) == sizeof(n))
		conflicts += n;
	close(rep[0]);
	print_message("# %d racers %s, %u conflicts redone\n", RACERS,
	    bare ? "pushing" : "moving the ref", conflicts);

	snprintf(range, sizeof(range), "%s..main", f->c1);
	s = GIT_OUT(judge, "rev-list", "--count", range);
	assert_string_equal(s, "8\n");
	free(s);
	/* A line: every new commit has exactly one parent, the one before. */
	s = GIT_OUT(judge, "rev-list", "--parents", range);
	for (p = s; *p; p = strchr(p, '\n') + 1, lines++)
		assert_int_equal(strcspn(p, "\n"), 2 * REPO_SHA_LEN + 1);
	assert_int_equal(lines, RACERS);
	free(s);
	s = GIT_OUT(judge, "rev-list", "--first-parent", "--count", range);
	assert_string_equal(s, "8\n");
	free(s);
	s = GIT_OUT(judge, "ls-tree", "-r", "--name-only", "main", "race");
	want[0] = '\0';
	for (i = 0; i < RACERS; i++)
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "race/child-%d.txt\n", i);
	assert_string_equal(s, want);
	free(s);
	GIT_DO(judge, "fsck", "--strict", "--no-progress");
}

static void
test_update_ref_race(void **state)
{
	race(*state, NULL);
}

static void make_bare(struct fx *f);

/* Pushes to one local bare repository race the same way: none is lost. */
static void
test_push_race(void **state)
{
	struct fx *f = *state;

	make_bare(f);
	race(f, f->bare);
	assert_main_is(f, f->c1);   /* the work repository's branch never moved */
}

/* ---- repo_revert ---- */

/* c2 changes web-01 and adds web-09; c3 changes README. */
static void
revert_history(struct fx *f, char c2[REPO_SHA_LEN + 1], char c3[REPO_SHA_LEN + 1])
{
	put(f->work, "hosts/web-01.example.com.yaml", "role: api\n");
	put(f->work, "hosts/web-09.example.com.yaml", "role: db\n");
	cli_commit(c2, f->work, "web-01 becomes api");
	put(f->work, "README", "hello again\n");
	cli_commit(c3, f->work, "readme");
}

static void
test_revert_clean(void **state)
{
	struct fx *f = *state;
	char c2[REPO_SHA_LEN + 1], c3[REPO_SHA_LEN + 1], sha[REPO_SHA_LEN + 1];
	char want[256], ours[REPO_SHA_LEN + 1], theirs[REPO_SHA_LEN + 1], *s, *body;

	revert_history(f, c2, c3);
	assert_int_equal(repo_revert(f->r, c3, c2, &bot, NULL, sha), OK);
	assert_main_is(f, c3);   /* no ref moved */
	s = GIT_OUT(f->work, "diff-tree", "-r", "--name-status", c3, sha);
	assert_string_equal(s, "M\thosts/web-01.example.com.yaml\n"
	    "D\thosts/web-09.example.com.yaml\n");
	free(s);
	s = GIT_OUT(f->work, "show", sha, "--format=", "--", "hosts/web-01.example.com.yaml");
	assert_non_null(strstr(s, "-role: api\n+role: web\n"));
	free(s);
	s = GIT_OUT(f->work, "show", "--no-patch", "--format=%P|%an|%ae|%cn|%ce", sha);
	snprintf(want, sizeof(want), "%s|Firebreak Bot|bot@firebreak.example|Firebreak Bot|"
	    "bot@firebreak.example\n", c3);
	assert_string_equal(s, want);
	free(s);
	s = GIT_OUT(f->work, "cat-file", "commit", sha);
	body = strstr(s, "\n\n");
	snprintf(want, sizeof(want), "Revert \"web-01 becomes api\"\n\nThis reverts commit %s.\n",
	    c2);
	assert_string_equal(body + 2, want);
	free(s);
	/* The same tree as `git revert` makes. */
	GIT_DO(f->work, "revert", "--no-edit", c2);
	GIT_LINE(theirs, f->work, "rev-parse", "HEAD^{tree}");
	snprintf(want, sizeof(want), "%s^{tree}", sha);
	GIT_LINE(ours, f->work, "rev-parse", want);
	assert_string_equal(ours, theirs);

	/* A message of our own, exactly. */
	assert_int_equal(repo_revert(f->r, c3, c2, &bot, "bot: undo c2 for @ada", sha), OK);
	s = GIT_OUT(f->work, "cat-file", "commit", sha);
	assert_string_equal(strstr(s, "\n\n") + 2, "bot: undo c2 for @ada");
	free(s);
	GIT_DO(f->work, "fsck", "--strict", "--no-progress");
}

static void
test_revert_conflict(void **state)
{
	struct fx *f = *state;
	char c2[REPO_SHA_LEN + 1], c3[REPO_SHA_LEN + 1], c4[REPO_SHA_LEN + 1];
	char sha[REPO_SHA_LEN + 1] = "junk", undo[REPO_SHA_LEN + 1];

	revert_history(f, c2, c3);
	put(f->work, "hosts/web-01.example.com.yaml", "role: db\n");
	cli_commit(c4, f->work, "web-01 becomes db");
	assert_int_equal(repo_revert(f->r, c4, c2, &bot, NULL, sha), ERR_CONFLICT);
	assert_non_null(strstr(err_last(), "does not apply cleanly"));
	assert_non_null(strstr(err_last(), "hosts/web-01.example.com.yaml"));
	assert_string_equal(sha, "");
	assert_main_is(f, c4);

	/* Reverting what is reverted already changes nothing: refused too. */
	assert_int_equal(repo_revert(f->r, c3, c2, &bot, NULL, undo), OK);
	assert_int_equal(repo_revert(f->r, undo, c2, &bot, NULL, sha), ERR_CONFLICT);
	assert_non_null(strstr(err_last(), "changes nothing"));
	assert_main_is(f, c4);
}

static void
test_revert_refused(void **state)
{
	struct fx *f = *state;
	char c2[REPO_SHA_LEN + 1], c3[REPO_SHA_LEN + 1], side[REPO_SHA_LEN + 1];
	char merge[REPO_SHA_LEN + 1], sha[REPO_SHA_LEN + 1];

	revert_history(f, c2, c3);
	GIT_DO(f->work, "checkout", "-q", "-b", "side", f->c1);
	put(f->work, "side.txt", "side\n");
	cli_commit(side, f->work, "side");
	GIT_DO(f->work, "checkout", "-q", "main");
	GIT_DO(f->work, "merge", "-q", "--no-ff", "-m", "merge side", "side");
	GIT_LINE(merge, f->work, "rev-parse", "HEAD");

	assert_int_equal(repo_revert(f->r, merge, merge, &bot, NULL, sha), ERR_INVALID);
	assert_non_null(strstr(err_last(), "merge commit"));
	assert_int_equal(repo_revert(f->r, merge, f->c1, &bot, NULL, sha), ERR_INVALID);
	assert_non_null(strstr(err_last(), "root commit"));
	assert_int_equal(repo_revert(f->r, merge, "0123456789012345678901234567890123456789",
	    &bot, NULL, sha), ERR_NOTFOUND);
	assert_int_equal(repo_revert(f->r, "0123456789012345678901234567890123456789", c2,
	    &bot, NULL, sha), ERR_NOTFOUND);
	assert_int_equal(repo_revert(f->r, merge, "HEAD~1", &bot, NULL, sha), ERR_INVALID);
	assert_int_equal(repo_revert(f->r, merge, c2, &bot, "", sha), ERR_INVALID);
	/* A side commit reached through the merge reverts like any other. */
	assert_int_equal(repo_revert(f->r, merge, side, &bot, NULL, sha), OK);
	assert_main_is(f, merge);
}

/* ---- repo_each_changed_path ---- */

static int
stop_at_second(void *ctx, const char *path)
{
	int *n = ctx;

	(void)path;
	return ++*n == 2 ? 5 : 0;
}

static void
test_changed_paths(void **state)
{
	struct fx *f = *state;
	char c2[REPO_SHA_LEN + 1], c3[REPO_SHA_LEN + 1], path[256], *s;
	struct buf b = BUF_INIT;
	int n = 0;

	/* A rename, a modification, a deletion, an addition, a mode change. */
	GIT_DO(f->work, "mv", "hosts/web-02.example.com.yaml", "hosts/web-20.example.com.yaml");
	put(f->work, "README", "changed\n");
	GIT_DO(f->work, "rm", "-q", "roles/web.yaml");
	put(f->work, "dns/a.yaml", "zone_id: Z\n");
	snprintf(path, sizeof(path), "%s/bin/tool.sh", f->work);
	assert_int_equal(chmod(path, 0644), 0);
	cli_commit(c2, f->work, "many");

	assert_int_equal(repo_each_changed_path(f->r, f->c1, c2, collect_path, &b), OK);
	assert_string_equal(b.data, "README\nbin/tool.sh\ndns/a.yaml\n"
	    "hosts/web-02.example.com.yaml\nhosts/web-20.example.com.yaml\nroles/web.yaml\n");
	s = GIT_OUT(f->work, "diff", "--no-renames", "--name-only", f->c1, c2);
	assert_string_equal(b.data, s);
	free(s);

	/* The other way round: the same paths. */
	buf_reset(&b);
	assert_int_equal(repo_each_changed_path(f->r, c2, f->c1, collect_path, &b), OK);
	assert_string_equal(b.data, "README\nbin/tool.sh\ndns/a.yaml\n"
	    "hosts/web-02.example.com.yaml\nhosts/web-20.example.com.yaml\nroles/web.yaml\n");

	/* From the empty tree: every file. */
	buf_reset(&b);
	assert_int_equal(repo_each_changed_path(f->r, "", c2, collect_path, &b), OK);
	s = GIT_OUT(f->work, "ls-tree", "-r", "--name-only", c2);
	assert_string_equal(b.data, s);
	free(s);
	buf_reset(&b);
	assert_int_equal(repo_each_changed_path(f->r, NULL, f->c1, collect_path, &b), OK);
	assert_string_equal(b.data, "README\nbin/tool.sh\nhosts/web-01.example.com.yaml\n"
	    "hosts/web-02.example.com.yaml\nroles/web.yaml\n");

	/* Nothing changed: no calls. */
	buf_reset(&b);
	assert_int_equal(repo_each_changed_path(f->r, c2, c2, collect_path, &b), OK);
	assert_int_equal(b.len, 0);

	/* A file that becomes a directory: both paths. */
	GIT_DO(f->work, "rm", "-q", "README");
	put(f->work, "README/x", "x\n");
	cli_commit(c3, f->work, "dir");
	buf_reset(&b);
	assert_int_equal(repo_each_changed_path(f->r, c2, c3, collect_path, &b), OK);
	assert_string_equal(b.data, "README\nREADME/x\n");

	/* fn stops the walk. */
	assert_int_equal(repo_each_changed_path(f->r, f->c1, c2, stop_at_second, &n), 5);
	assert_int_equal(n, 2);

	assert_int_equal(repo_each_changed_path(f->r, "nope", c2, collect_path, &b), ERR_INVALID);
	assert_int_equal(repo_each_changed_path(f->r, f->c1,
	    "0123456789012345678901234567890123456789", collect_path, &b), ERR_NOTFOUND);
	buf_dispose(&b);
}

/* ---- repo_log ---- */

struct log_seen {
	size_t n, stop_at;
	char sha[8][REPO_SHA_LEN + 1];
	char message[8][128];
	char author[8][64];
	char email[8][64];
	char committer[8][64];
	char cemail[8][64];
	long long time[8];
	unsigned nparents[8];
};

static int
collect_log(void *ctx, const struct repo_log_entry *e)
{
	struct log_seen *s = ctx;

	assert_true(s->n < 8);
	snprintf(s->sha[s->n], sizeof(s->sha[0]), "%s", e->sha);
	snprintf(s->message[s->n], sizeof(s->message[0]), "%s", e->message);
	snprintf(s->author[s->n], sizeof(s->author[0]), "%s", e->author);
	snprintf(s->email[s->n], sizeof(s->email[0]), "%s", e->author_email);
	snprintf(s->committer[s->n], sizeof(s->committer[0]), "%s", e->committer);
	snprintf(s->cemail[s->n], sizeof(s->cemail[0]), "%s", e->committer_email);
	s->time[s->n] = e->time;
	s->nparents[s->n] = e->nparents;
	s->n++;
	return s->n == s->stop_at ? 9 : 0;
}

static void
test_log(void **state)
{
	struct fx *f = *state;
	char c2[REPO_SHA_LEN + 1], side[REPO_SHA_LEN + 1], merge[REPO_SHA_LEN + 1];
	char c3[REPO_SHA_LEN + 1];
	struct log_seen seen;

	snprintf(git_date, sizeof(git_date), "1700000100 +0200");
	put(f->work, "a", "a\n");
	GIT_DO(f->work, "add", "-A");
	GIT_DO(f->work, "commit", "-q", "--author=Bea Writer <bea@example.com>",
	    "-m", "second", "-m", "with a body");
	GIT_LINE(c2, f->work, "rev-parse", "HEAD");
	snprintf(git_date, sizeof(git_date), "1700000200 +0000");
	GIT_DO(f->work, "checkout", "-q", "-b", "side", f->c1);
	put(f->work, "side", "s\n");
	cli_commit(side, f->work, "on the side");
	GIT_DO(f->work, "checkout", "-q", "main");
	snprintf(git_date, sizeof(git_date), "1700000300 +0000");
	GIT_DO(f->work, "merge", "-q", "--no-ff", "-m", "merge side", "side");
	GIT_LINE(merge, f->work, "rev-parse", "HEAD");
	snprintf(git_date, sizeof(git_date), "1700000400 +0000");
	put(f->work, "b", "b\n");
	cli_commit(c3, f->work, "third");

	memset(&seen, 0, sizeof(seen));
	assert_int_equal(repo_log(f->r, c3, 10, collect_log, &seen), OK);
	assert_int_equal(seen.n, 4);   /* first parents only: not the side commit */
	assert_string_equal(seen.sha[0], c3);
	assert_string_equal(seen.sha[1], merge);
	assert_string_equal(seen.sha[2], c2);
	assert_string_equal(seen.sha[3], f->c1);
	assert_int_equal(seen.nparents[0], 1);
	assert_int_equal(seen.nparents[1], 2);
	assert_int_equal(seen.nparents[2], 1);
	assert_int_equal(seen.nparents[3], 0);
	assert_string_equal(seen.message[2], "second\n\nwith a body\n");
	assert_string_equal(seen.message[1], "merge side\n");
	assert_string_equal(seen.author[2], "Bea Writer");
	assert_string_equal(seen.email[2], "bea@example.com");
	/* Author and committer apart: the bot's trailers are believed only
	 * when both are the bot (trailer_is_bot_commit). */
	assert_string_equal(seen.committer[2], "Ada Author");
	assert_string_equal(seen.cemail[2], "ada@example.com");
	assert_int_equal(seen.time[2], 1700000100);
	assert_string_equal(seen.author[0], "Ada Author");
	assert_string_equal(seen.email[0], "ada@example.com");
	assert_int_equal(seen.time[0], 1700000400);
	assert_int_equal(seen.time[3], 1700000000);

	/* At most max. */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(repo_log(f->r, c3, 2, collect_log, &seen), OK);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.sha[1], merge);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(repo_log(f->r, c3, 0, collect_log, &seen), OK);
	assert_int_equal(seen.n, 0);

	/* fn stops the walk, and its value comes back. */
	memset(&seen, 0, sizeof(seen));
	seen.stop_at = 1;
	assert_int_equal(repo_log(f->r, c3, 10, collect_log, &seen), 9);
	assert_int_equal(seen.n, 1);

	/* The side branch walks on its own first parents. */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(repo_log(f->r, side, 10, collect_log, &seen), OK);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.sha[1], f->c1);

	assert_int_equal(repo_log(f->r, "HEAD", 10, collect_log, &seen), ERR_INVALID);
	assert_int_equal(repo_log(f->r, "0123456789012345678901234567890123456789", 10,
	    collect_log, &seen), ERR_NOTFOUND);
}

/* ---- repo_expand_sha, repo_is_ancestor ---- */

static void
test_expand_sha(void **state)
{
	struct fx *f = *state;
	char out[REPO_SHA_LEN + 1], abbrev[REPO_SHA_LEN + 1], blob[REPO_SHA_LEN + 1];
	char c2[REPO_SHA_LEN + 1];
	size_t i;
	int rc;
	static const char *const not_hex[] = {
		"", "abc", "HEAD", "main", "g123456", "c0ffee~1", "c0ffee^", "-c0ffee",
		"c0ffee ", " c0ffee", "c0ffee\n", "@{-1}", ":/initial",
		"00000000000000000000000000000000000000000",   /* 41 digits */
	};

	put(f->work, "x", "x\n");
	cli_commit(c2, f->work, "two");
	assert_int_equal(repo_expand_sha(f->r, f->c1, out), OK);
	assert_string_equal(out, f->c1);
	for (i = 4; i <= REPO_SHA_LEN; i += 3) {
		snprintf(abbrev, sizeof(abbrev), "%.*s", (int)i, c2);
		memset(out, 0, sizeof(out));
		rc = repo_expand_sha(f->r, abbrev, out);
		if (rc == OK) {
			assert_string_equal(out, c2);
		} else {   /* 4 digits may be shared with another object */
			assert_int_equal(rc, ERR_INVALID);
			assert_true(i < 7);
			assert_non_null(strstr(err_last(), "ambiguous"));
			assert_string_equal(out, "");
		}
	}
	/* Either case in, lower case out. */
	snprintf(abbrev, sizeof(abbrev), "%.10s", c2);
	for (i = 0; abbrev[i]; i++)
		if (abbrev[i] >= 'a' && abbrev[i] <= 'f')
			abbrev[i] = (char)(abbrev[i] - 'a' + 'A');
	assert_int_equal(repo_expand_sha(f->r, abbrev, out), OK);
	assert_string_equal(out, c2);

	for (i = 0; i < sizeof(not_hex) / sizeof(not_hex[0]); i++) {
		snprintf(out, sizeof(out), "junk");
		if (repo_expand_sha(f->r, not_hex[i], out) != ERR_INVALID)
			fail_msg("'%s' was not refused as not hex", not_hex[i]);
		assert_non_null(strstr(err_last(), "not a commit id"));
		assert_string_equal(out, "");
	}
	assert_int_equal(repo_expand_sha(f->r, NULL, out), ERR_INVALID);

	/* Hex that names nothing, or something that is not a commit. */
	assert_int_equal(repo_expand_sha(f->r, "0123456789abcdef0123456789abcdef01234567", out),
	    ERR_NOTFOUND);
	GIT_LINE(blob, f->work, "rev-parse", "HEAD:x");
	snprintf(abbrev, sizeof(abbrev), "%.12s", blob);
	assert_int_equal(repo_expand_sha(f->r, abbrev, out), ERR_NOTFOUND);
	assert_non_null(strstr(err_last(), "names a blob, not a commit"));
	/* An annotated tag is peeled to its commit. */
	GIT_DO(f->work, "tag", "-a", "-m", "release", "v1", f->c1);
	GIT_LINE(blob, f->work, "rev-parse", "v1");
	assert_string_not_equal(blob, f->c1);
	assert_int_equal(repo_expand_sha(f->r, blob, out), OK);
	assert_string_equal(out, f->c1);
}

/* Make commits until two share their first four hex digits. */
static void
test_expand_sha_ambiguous(void **state)
{
	struct fx *f = *state;
	static char seen[65536][REPO_SHA_LEN + 1];
	char sha[REPO_SHA_LEN + 1], msg[32], prefix[5], out[REPO_SHA_LEN + 1];
	unsigned i, key;

	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 20000; i++) {
		snprintf(msg, sizeof(msg), "n%u", i);
		assert_int_equal(repo_commit(f->r, NULL, NULL, 0, &bot, msg, sha), OK);
		key = (unsigned)strtoul((char[5]){ sha[0], sha[1], sha[2], sha[3], 0 }, NULL, 16);
		if (seen[key][0])
			break;
		memcpy(seen[key], sha, sizeof(sha));
	}
	assert_true(i < 20000);
	snprintf(prefix, sizeof(prefix), "%.4s", sha);
	assert_int_equal(repo_expand_sha(f->r, prefix, out), ERR_INVALID);
	assert_non_null(strstr(err_last(), "ambiguous"));
	/* The full shas still expand, each to itself. */
	assert_int_equal(repo_expand_sha(f->r, sha, out), OK);
	assert_string_equal(out, sha);
	assert_int_equal(repo_expand_sha(f->r, seen[key], out), OK);
	assert_string_equal(out, seen[key]);
}

static void
test_is_ancestor(void **state)
{
	struct fx *f = *state;
	char c2[REPO_SHA_LEN + 1], side[REPO_SHA_LEN + 1], merge[REPO_SHA_LEN + 1];
	char other[REPO_SHA_LEN + 1];

	put(f->work, "a", "a\n");
	cli_commit(c2, f->work, "two");
	GIT_DO(f->work, "checkout", "-q", "-b", "side", f->c1);
	put(f->work, "s", "s\n");
	cli_commit(side, f->work, "side");
	GIT_DO(f->work, "checkout", "-q", "main");
	GIT_DO(f->work, "merge", "-q", "--no-ff", "-m", "merge", "side");
	GIT_LINE(merge, f->work, "rev-parse", "HEAD");
	assert_int_equal(repo_commit(f->r, NULL, NULL, 0, &bot, "unrelated", other), OK);

	assert_int_equal(repo_is_ancestor(f->r, f->c1, merge), 1);
	assert_int_equal(repo_is_ancestor(f->r, c2, merge), 1);
	assert_int_equal(repo_is_ancestor(f->r, side, merge), 1);   /* second parent */
	assert_int_equal(repo_is_ancestor(f->r, merge, merge), 1);
	assert_int_equal(repo_is_ancestor(f->r, merge, c2), 0);
	assert_int_equal(repo_is_ancestor(f->r, side, c2), 0);
	assert_int_equal(repo_is_ancestor(f->r, c2, side), 0);
	assert_int_equal(repo_is_ancestor(f->r, other, merge), 0);
	assert_int_equal(repo_is_ancestor(f->r, "main", merge), 0);
	assert_int_equal(repo_is_ancestor(f->r, f->c1, "HEAD"), 0);
	assert_int_equal(repo_is_ancestor(f->r, "0123456789012345678901234567890123456789",
	    "0123456789012345678901234567890123456789"), 0);
}

/* ---- repo_read_file ---- */

static void
test_read_file(void **state)
{
	struct fx *f = *state;
	struct buf b = BUF_INIT, capped = BUF_INIT;
	char c2[REPO_SHA_LEN + 1];

	assert_int_equal(buf_puts(&b, "before|"), OK);
	assert_int_equal(repo_read_file(&b, f->r, f->c1, "hosts/web-01.example.com.yaml", 0), OK);
	assert_string_equal(b.data, "before|role: web\n");   /* appended */
	buf_reset(&b);
	assert_int_equal(repo_read_file(&b, f->r, f->c1, "README", 6), OK);   /* exactly max */
	assert_string_equal(b.data, "hello\n");
	buf_reset(&b);
	assert_int_equal(repo_read_file(&b, f->r, f->c1, "README", 5), ERR_TOOBIG);
	assert_non_null(strstr(err_last(), "README is 6 bytes, over the limit of 5"));
	assert_int_equal(b.len, 0);
	capped.cap = 4;
	assert_int_equal(repo_read_file(&capped, f->r, f->c1, "README", 0), ERR_TOOBIG);

	assert_int_equal(repo_read_file(&b, f->r, f->c1, "hosts/nope.yaml", 0), ERR_NOTFOUND);
	assert_int_equal(repo_read_file(&b, f->r, f->c1, "nodir/nope.yaml", 0), ERR_NOTFOUND);
	assert_int_equal(repo_read_file(&b, f->r, f->c1, "README/x", 0), ERR_NOTFOUND);
	assert_int_equal(repo_read_file(&b, f->r, f->c1, "hosts", 0), ERR_INVALID);
	assert_non_null(strstr(err_last(), "not a regular file"));
	assert_int_equal(repo_read_file(&b, f->r, f->c1, "../x", 0), ERR_INVALID);
	assert_int_equal(repo_read_file(&b, f->r, f->c1, "/README", 0), ERR_INVALID);
	assert_int_equal(repo_read_file(&b, f->r, f->c1, "hosts//web-01.example.com.yaml", 0),
	    ERR_INVALID);
	assert_int_equal(repo_read_file(&b, f->r, "main", "README", 0), ERR_INVALID);
	assert_int_equal(repo_read_file(&b, f->r, "0123456789012345678901234567890123456789",
	    "README", 0), ERR_NOTFOUND);

	/* A symlink is no file to the inventory. */
	{
		char link[256];

		snprintf(link, sizeof(link), "%s/link", f->work);
		assert_int_equal(symlink("README", link), 0);
	}
	cli_commit(c2, f->work, "link");
	assert_int_equal(repo_read_file(&b, f->r, c2, "link", 0), ERR_INVALID);
	assert_int_equal(b.len, 0);
	buf_dispose(&b);
	buf_dispose(&capped);
}

/* ---- sizes are checked before work (issue 12, defect 6) ---- */

/* This process's resident memory now, in KiB (/proc/self/statm). */
static long
rss_now_kb(void)
{
	struct buf b = BUF_INIT;
	unsigned long size = 0, resident = 0;

	assert_int_equal(fs_read(&b, "/proc/self/statm", 4096), OK);
	assert_int_equal(sscanf(b.data, "%lu %lu", &size, &resident), 2);
	buf_dispose(&b);
	return (long)(resident * (unsigned long)sysconf(_SC_PAGESIZE) / 1024);
}

#define BIG_BLOB (64u << 20)

static int
expect_big(void *ctx, const char *name, const unsigned char *oid, int is_blob,
    const char *data, size_t len)
{
	int *seen = ctx;

	(void)oid;
	if (strcmp(name, "big.example.com.yaml") != 0)
		return 0;
	/* Passed by its size alone, with no data: it was not read. */
	*seen = is_blob && !data && len == BIG_BLOB;
	return 0;
}

/*
 * In a child (so its peak memory is its own): refuse the 64 MiB blob at
 * `sha` both ways.  Exits 0 when each refusal was exact.
 */
static void
refuse_big_blob(struct fx *f, const char *sha)
{
	struct buf b = BUF_INIT;
	int seen = 0, ok;

	ok = repo_read_file(&b, f->r, sha, "hosts/big.example.com.yaml", 1u << 20) ==
	    ERR_TOOBIG && b.len == 0 &&
	    strstr(err_last(), "hosts/big.example.com.yaml is 67108864 bytes, over the "
	    "limit of 1048576") != NULL;
	ok = ok && repo_each_file(f->r, sha, "hosts", 1u << 20, NULL, expect_big, &seen) == OK &&
	    seen;
	_exit(ok ? 0 : 1);
}

/*
 * A 64 MiB host file (of zeros: a few KiB in git) is refused from its
 * object header, before it is inflated: the child that refuses it never
 * grows by anything near 64 MiB.  Loose, and again packed.
 */
static void
test_big_blob_not_inflated(void **state)
{
	struct fx *f = *state;
	char path[256], sha[REPO_SHA_LEN + 1];
	int fd, round;

	snprintf(path, sizeof(path), "%s/hosts/big.example.com.yaml", f->work);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, BIG_BLOB), 0);
	close(fd);
	cli_commit(sha, f->work, "a big host file");
	assert_int_equal(unlink(path), 0);
	for (round = 0; round < 2; round++) {
		struct rusage ru;
		long before;
		int status;
		pid_t pid;

		if (round == 1)
			GIT_DO(f->work, "repack", "-a", "-d", "-q");
		before = rss_now_kb();
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			refuse_big_blob(f, sha);
		assert_int_equal(wait4(pid, &status, 0, &ru), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		/* Inflating it would take 64 MiB; reading a header, nothing. */
		assert_true(ru.ru_maxrss < before + (32 << 10));
	}
}

/* Write `len` bytes to dir/name and store them as a git tree object,
 * whatever they hold (--literally); its id into out. */
static void
raw_tree(char out[REPO_SHA_LEN + 1], struct fx *f, const char *name, const void *data,
    size_t len)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	assert_int_equal(fs_write_atomic(path, data, len), OK);
	git_line(out, REPO_SHA_LEN + 1, f->work, (const char *const[]){ "hash-object", "-t",
	    "tree", "-w", "--literally", path, NULL });
	unlink(path);
}

/* One tree entry "<mode> <name>\0<20-byte id>" appended to b. */
static void
tree_entry(struct buf *b, const char *mode, const char *name, const char *hex)
{
	size_t i;

	assert_int_equal(buf_printf(b, "%s %s", mode, name), OK);
	assert_int_equal(buf_putc(b, '\0'), OK);
	for (i = 0; i < 40; i += 2)
		assert_int_equal(buf_putc(b, (char)(hex_digit(hex[i]) * 16 + hex_digit(hex[i + 1]))),
		    OK);
}

/* A commit whose root holds README and `hosts` -> the tree `hosts_id`. */
static void
commit_with_hosts(char out[REPO_SHA_LEN + 1], struct fx *f, const char *hosts_id)
{
	struct buf b = BUF_INIT;
	char readme[REPO_SHA_LEN + 1], root[REPO_SHA_LEN + 1];

	GIT_LINE(readme, f->work, "rev-parse", "HEAD:README");
	tree_entry(&b, "100644", "README", readme);
	tree_entry(&b, "40000", "hosts", hosts_id);
	raw_tree(root, f, "root", b.data, b.len);
	buf_dispose(&b);
	git_line(out, REPO_SHA_LEN + 1, f->work, (const char *const[]){ "commit-tree", root,
	    "-m", "hosts", NULL });
}

#define EMPTY_BLOB "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"

/* A hosts/ of `n` entries f0000000.. (all the empty blob). */
static void
commit_with_n_hosts(char out[REPO_SHA_LEN + 1], struct fx *f, size_t n)
{
	struct buf b = BUF_INIT;
	char name[32], hosts[REPO_SHA_LEN + 1];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%07zu", i);
		tree_entry(&b, "100644", name, EMPTY_BLOB);
	}
	raw_tree(hosts, f, "hosts", b.data, b.len);
	buf_dispose(&b);
	commit_with_hosts(out, f, hosts);
}

/* A folder of more than REPO_TREE_MAX_ENTRIES entries is refused, named;
 * one of exactly that many is read. */
static void
test_tree_too_many_entries(void **state)
{
	struct fx *f = *state;
	struct buf b = BUF_INIT;
	char sha[REPO_SHA_LEN + 1];
	size_t n = 0;

	GIT_DO(f->work, "hash-object", "-w", "--stdin");   /* the empty blob */
	commit_with_n_hosts(sha, f, REPO_TREE_MAX_ENTRIES + 1);
	assert_int_equal(repo_each_file(f->r, sha, "hosts", 0, NULL, collect_file, &b),
	    ERR_TOOBIG);
	assert_string_equal(err_last(), "hosts/: 1000001 entries, more than the 1000000 "
	    "a folder may hold");
	assert_int_equal(b.len, 0);
	assert_int_equal(repo_count_entries(f->r, sha, "hosts", &n), ERR_TOOBIG);
	assert_int_equal(repo_read_file(&b, f->r, sha, "hosts/f0000001", 0), ERR_TOOBIG);
	assert_string_equal(err_last(), "hosts/: 1000001 entries, more than the 1000000 "
	    "a folder may hold");
	/* The root is fine: README reads. */
	assert_int_equal(repo_read_file(&b, f->r, sha, "README", 0), OK);
	assert_string_equal(b.data, "hello\n");

	commit_with_n_hosts(sha, f, REPO_TREE_MAX_ENTRIES);
	assert_int_equal(repo_count_entries(f->r, sha, "hosts", &n), OK);
	assert_int_equal(n, REPO_TREE_MAX_ENTRIES);
	buf_reset(&b);
	assert_int_equal(repo_read_file(&b, f->r, sha, "hosts/f0999999", 0), OK);
	assert_int_equal(b.len, 0);
	buf_dispose(&b);
}

/*
 * A folder whose tree object is bigger than any tree of that many entries
 * needs is refused from its header, before libgit2 parses it: 64 MB of
 * zeros is no tree, and parsing it would fail differently (ERR).
 */
static void
test_tree_too_big_to_parse(void **state)
{
	struct fx *f = *state;
	struct buf b = BUF_INIT;
	size_t len = (size_t)REPO_TREE_MAX_ENTRIES * 64 + 1;
	char *zeros = xcalloc(1, len);
	char hosts[REPO_SHA_LEN + 1], sha[REPO_SHA_LEN + 1], msg[160];

	raw_tree(hosts, f, "zeros", zeros, len);
	free(zeros);
	commit_with_hosts(sha, f, hosts);
	snprintf(msg, sizeof(msg), "hosts/: a git tree of %zu bytes, more than the %zu a "
	    "folder may take (1000000 entries)", len, len - 1);
	assert_int_equal(repo_each_file(f->r, sha, "hosts", 0, NULL, collect_file, &b),
	    ERR_TOOBIG);
	assert_string_equal(err_last(), msg);
	assert_int_equal(repo_read_file(&b, f->r, sha, "hosts/x.yaml", 0), ERR_TOOBIG);
	assert_string_equal(err_last(), msg);
	/* The same tree as a commit's root. */
	GIT_LINE(sha, f->work, "commit-tree", hosts, "-m", "zeros");
	assert_int_equal(repo_each_file(f->r, sha, "", 0, NULL, collect_file, &b), ERR_TOOBIG);
	snprintf(msg, sizeof(msg), "/: a git tree of %zu bytes, more than the "
	    "%zu a folder may take (1000000 entries)", len, len - 1);
	assert_string_equal(err_last(), msg);
	assert_int_equal(b.len, 0);
	buf_dispose(&b);
}

/* ---- pushing ---- */

static void
make_bare(struct fx *f)
{
	GIT_DO(f->dir, "clone", "-q", "--bare", f->work, f->bare);
}

static void
assert_remote_main_is(struct fx *f, const char *branch, const char *sha)
{
	char now[REPO_SHA_LEN + 1], ref[128];

	snprintf(ref, sizeof(ref), "refs/heads/%s", branch);
	GIT_LINE(now, f->bare, "rev-parse", ref);
	assert_string_equal(now, sha);
}

static void
assert_no_push_refs(struct fx *f)
{
	char *s = GIT_OUT(f->work, "for-each-ref", "refs/firebreak/");

	assert_string_equal(s, "");
	free(s);
}

static void
test_push_local(void **state)
{
	struct fx *f = *state;
	const struct repo_change a = { "hosts/new.example.com.yaml", "role: web\n", 10 };
	const struct repo_change b = { "b", "b\n", 2 }, d = { "d", "d\n", 2 };
	char c2[REPO_SHA_LEN + 1], c3[REPO_SHA_LEN + 1], c4[REPO_SHA_LEN + 1];
	char other[REPO_SHA_LEN + 1], theirs[REPO_SHA_LEN + 1], head[REPO_SHA_LEN + 1];
	char url[160], clone[160], *s;

	make_bare(f);
	assert_int_equal(repo_commit(f->r, f->c1, &a, 1, &bot, "bot: add", c2), OK);
	assert_int_equal(repo_commit(f->r, c2, &b, 1, &bot, "bot: b", c3), OK);
	assert_int_equal(repo_commit(f->r, f->c1, &b, 1, &bot, "bot: other", other), OK);

	/* Fast-forward: taken, and the remote has every object. */
	assert_int_equal(repo_push(f->r, f->bare, c2, "main", NULL), OK);
	assert_remote_main_is(f, "main", c2);
	GIT_DO(f->bare, "fsck", "--strict", "--no-progress");
	s = GIT_OUT(f->bare, "show", "main:hosts/new.example.com.yaml");
	assert_string_equal(s, "role: web\n");
	free(s);
	/* Again: nothing to do. */
	assert_int_equal(repo_push(f->r, f->bare, c2, "main", NULL), OK);
	/* Not a fast-forward: refused, the remote unchanged. */
	assert_int_equal(repo_push(f->r, f->bare, other, "main", NULL), ERR_CONFLICT);
	assert_non_null(strstr(err_last(), "non-fast-forward"));
	assert_remote_main_is(f, "main", c2);
	/* Going back is not a fast-forward either. */
	assert_int_equal(repo_push(f->r, f->bare, f->c1, "main", NULL), ERR_CONFLICT);
	assert_remote_main_is(f, "main", c2);
	/* file:// and a new branch. */
	snprintf(url, sizeof(url), "file://%s", f->bare);
	assert_int_equal(repo_push(f->r, url, other, "bot/other", NULL), OK);
	assert_remote_main_is(f, "bot/other", other);
	assert_int_equal(repo_push(f->r, url, c3, "main", NULL), OK);
	assert_remote_main_is(f, "main", c3);
	GIT_DO(f->bare, "fsck", "--strict", "--no-progress");

	/* Someone else pushed a commit we do not have: refused.  The bot's
	 * way out: fetch, redo on the new head, push. */
	snprintf(clone, sizeof(clone), "%s/clone", f->dir);
	GIT_DO(f->dir, "clone", "-q", f->bare, clone);
	put(clone, "theirs", "t\n");
	cli_commit(theirs, clone, "theirs");
	GIT_DO(clone, "push", "-q", "origin", "main");
	assert_int_equal(repo_commit(f->r, c3, &d, 1, &bot, "bot: d", c4), OK);
	assert_int_equal(repo_push(f->r, f->bare, c4, "main", NULL), ERR_CONFLICT);
	assert_non_null(strstr(err_last(), "fetch first"));
	assert_remote_main_is(f, "main", theirs);
	assert_int_equal(repo_fetch(f->r, f->bare, "main", NULL), OK);
	assert_int_equal(repo_resolve(f->r, "refs/heads/main", head), OK);
	assert_string_equal(head, theirs);
	assert_int_equal(repo_commit(f->r, head, &d, 1, &bot, "bot: d", c4), OK);
	assert_int_equal(repo_push(f->r, f->bare, c4, "main", NULL), OK);
	assert_remote_main_is(f, "main", c4);
	GIT_DO(f->bare, "fsck", "--strict", "--no-progress");

	/* Unreachable, or not a repository to push to. */
	assert_int_equal(repo_push(f->r, "/nonexistent/remote.git", c3, "main", NULL), ERR_AGAIN);
	assert_int_equal(repo_push(f->r, clone, c3, "main", NULL), ERR_CONFLICT);
	assert_non_null(strstr(err_last(), "not a bare repository"));
	/* Bad input. */
	assert_int_equal(repo_push(f->r, f->bare, c3, "a..b", NULL), ERR_INVALID);
	assert_int_equal(repo_push(f->r, f->bare, c3, "main:refs/heads/x", NULL), ERR_INVALID);
	assert_int_equal(repo_push(f->r, f->bare, c3, "", NULL), ERR_INVALID);
	assert_int_equal(repo_push(f->r, f->bare, "main", "main", NULL), ERR_INVALID);
	assert_int_equal(repo_push(f->r, "", c3, "main", NULL), ERR_INVALID);
	assert_no_push_refs(f);
}

/* A free TCP port on 127.0.0.1 (free a moment ago). */
static int
free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(s >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	close(s);
	return ntohs(a.sin_port);
}

static int
can_connect(int port)
{
	struct sockaddr_in a;
	int s = socket(AF_INET, SOCK_STREAM, 0), ok;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(s);
	return ok;
}

/* git daemon serving f->dir with pushes allowed; stopped by daemon_stop. */
static struct proc *
daemon_start(struct fx *f, int *port)
{
	const char *env[] = { "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", NULL };
	char listen[64], portarg[32], base[160];
	const char *argv[] = { GIT, "daemon", "--reuseaddr", listen, portarg, base,
		"--export-all", "--enable=receive-pack", "--informative-errors", f->dir, NULL };
	struct proc_opts o;
	struct proc *p = NULL;
	int i;

	*port = free_port();
	snprintf(listen, sizeof(listen), "--listen=127.0.0.1");
	snprintf(portarg, sizeof(portarg), "--port=%d", *port);
	snprintf(base, sizeof(base), "--base-path=%s", f->dir);
	memset(&o, 0, sizeof(o));
	o.env = env;
	o.timeout_ms = 120000;
	assert_int_equal(proc_start(&p, argv, &o), OK);
	for (i = 0; i < 200 && !can_connect(*port); i++) {
		assert_int_equal(proc_poll(p), 0);
		usleep(25000);
	}
	assert_true(i < 200);
	return p;
}

static void
daemon_stop(struct proc *p)
{
	struct proc_result res;

	proc_cancel(p);
	while (!proc_poll(p))
		usleep(10000);
	proc_finish(&res, p);
	proc_result_dispose(&res);
}

/* Through libgit2's smart protocol: git://. */
static void
test_push_daemon(void **state)
{
	struct fx *f = *state;
	const struct repo_change a = { "a", "a\n", 2 }, b = { "b", "b\n", 2 };
	char c2[REPO_SHA_LEN + 1], c3[REPO_SHA_LEN + 1], other[REPO_SHA_LEN + 1];
	char url[160], hook[256];
	struct proc *d;
	int port;

	make_bare(f);
	d = daemon_start(f, &port);
	snprintf(url, sizeof(url), "git://127.0.0.1:%d/remote.git", port);
	assert_int_equal(repo_commit(f->r, f->c1, &a, 1, &bot, "bot: a", c2), OK);
	assert_int_equal(repo_commit(f->r, c2, &b, 1, &bot, "bot: b", c3), OK);
	assert_int_equal(repo_commit(f->r, f->c1, &b, 1, &bot, "bot: other", other), OK);

	assert_int_equal(repo_push(f->r, url, c2, "main", NULL), OK);
	assert_remote_main_is(f, "main", c2);
	assert_no_push_refs(f);
	assert_int_equal(repo_push(f->r, url, other, "main", NULL), ERR_CONFLICT);
	assert_remote_main_is(f, "main", c2);
	assert_no_push_refs(f);
	assert_int_equal(repo_push(f->r, url, other, "bot/other", NULL), OK);
	assert_remote_main_is(f, "bot/other", other);

	/* The remote says no (a hook): its reason comes back. */
	snprintf(hook, sizeof(hook), "%s/hooks/pre-receive", f->bare);
	assert_int_equal(fs_write_atomic(hook, "#!/bin/sh\necho 'main is frozen' >&2\nexit 1\n",
	    44), OK);
	assert_int_equal(chmod(hook, 0755), 0);
	assert_int_equal(repo_push(f->r, url, c3, "main", NULL), ERR_CONFLICT);
	assert_non_null(strstr(err_last(), "the remote refused refs/heads/main"));
	assert_non_null(strstr(err_last(), "pre-receive hook declined"));
	assert_remote_main_is(f, "main", c2);
	assert_no_push_refs(f);
	assert_int_equal(unlink(hook), 0);
	assert_int_equal(repo_push(f->r, url, c3, "main", NULL), OK);
	assert_remote_main_is(f, "main", c3);
	GIT_DO(f->bare, "fsck", "--strict", "--no-progress");

	/* A fetch through the same daemon (no credentials). */
	GIT_DO(f->work, "update-ref", "-d", "refs/heads/bot/other");
	assert_int_equal(repo_fetch(f->r, url, "bot/other", NULL), OK);
	{
		char got[REPO_SHA_LEN + 1];

		assert_int_equal(repo_resolve(f->r, "refs/heads/bot/other", got), OK);
		assert_string_equal(got, other);
	}
	daemon_stop(d);

	/* Nobody listens now.  (A push here would be ERR_AGAIN too, but
	 * libgit2 1.5.1 leaks the git:// stream of a push that cannot
	 * connect; test_network_unreachable pushes over https and ssh.) */
	assert_int_equal(repo_fetch(f->r, url, "main", NULL), ERR_AGAIN);
}

/*
 * An HTTP server that answers every request 401: the credentials are
 * offered, turned down, and the operation ends (no loop), with neither
 * password nor passphrase in the message.  The server notes each request
 * on a pipe: 'A' with the expected Basic credentials, 'a' with others,
 * 'U' with none.
 */
static pid_t
start_401(int *port, int *notes)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int ls, p[2], i;
	pid_t pid;

	ls = socket(AF_INET, SOCK_STREAM, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(ls, 16), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static const char reply[] = "HTTP/1.1 401 Unauthorized\r\n"
		    "WWW-Authenticate: Basic realm=\"firebreak\"\r\n"
		    "Content-Length: 0\r\nConnection: close\r\n\r\n";

		close(p[0]);
		for (i = 0; i < 50; i++) {
			char req[8192];
			size_t n = 0;
			ssize_t r;
			int c = accept(ls, NULL, NULL);

			if (c < 0)
				_exit(1);
			while (n < sizeof(req) - 1 && (r = read(c, req + n, sizeof(req) - 1 - n)) > 0) {
				n += (size_t)r;
				req[n] = '\0';
				if (strstr(req, "\r\n\r\n"))
					break;
			}
			req[n] = '\0';
			if (write(p[1], strstr(req, "Authorization: Basic YWRhOnMzY3JldC10b2tlbg==\r\n") ?
			    "A" : strstr(req, "Authorization:") ? "a" : "U", 1) != 1)
				_exit(1);
			if (write(c, reply, sizeof(reply) - 1) < 0)
				_exit(1);
			close(c);
		}
		_exit(0);
	}
	close(ls);
	close(p[1]);
	*notes = p[0];
	return pid;
}

static void
stop_401(pid_t pid, int notes, char *seen, size_t size)
{
	ssize_t n;
	size_t got = 0;

	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	while (got < size - 1 && (n = read(notes, seen + got, size - 1 - got)) > 0)
		got += (size_t)n;
	seen[got] = '\0';
	close(notes);
}

static void
test_auth_turned_down(void **state)
{
	struct fx *f = *state;
	const struct repo_auth auth = { "ada", "s3cret-token", NULL, NULL, "my-passphrase" };
	char url[160], seen[64];
	int port, notes;
	pid_t pid;

	/* Fetch: offered once, turned down, given up. */
	pid = start_401(&port, &notes);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/remote.git", port);
	assert_int_equal(repo_fetch(f->r, url, "main", &auth), ERR_DENIED);
	assert_null(strstr(err_last(), "s3cret"));
	assert_non_null(strstr(err_last(), "turned the credentials down"));
	stop_401(pid, notes, seen, sizeof(seen));
	assert_string_equal(seen, "UA");   /* asked, offered once, done */

	/* Push: the same, and the temporary reference is gone. */
	pid = start_401(&port, &notes);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/remote.git", port);
	assert_int_equal(repo_push(f->r, url, f->c1, "main", &auth), ERR_DENIED);
	assert_null(strstr(err_last(), "s3cret"));
	stop_401(pid, notes, seen, sizeof(seen));
	assert_string_equal(seen, "UA");
	assert_no_push_refs(f);

	/* No credentials configured: asked for, none given. */
	pid = start_401(&port, &notes);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/remote.git", port);
	assert_int_equal(repo_fetch(f->r, url, "main", NULL), ERR_DENIED);
	assert_non_null(strstr(err_last(), "not configured"));
	stop_401(pid, notes, seen, sizeof(seen));
	assert_string_equal(seen, "U");

	/* A password in the URL stays out of the message too. */
	pid = start_401(&port, &notes);
	snprintf(url, sizeof(url), "http://bob:hunter2@127.0.0.1:%d/remote.git", port);
	assert_int_equal(repo_fetch(f->r, url, "main", NULL), ERR_DENIED);
	assert_null(strstr(err_last(), "hunter2"));
	stop_401(pid, notes, seen, sizeof(seen));
	assert_string_equal(seen, "Ua");   /* the URL's own, once */
}

static void
test_network_unreachable(void **state)
{
	struct fx *f = *state;
	char url[96];
	int port = free_port();

	snprintf(url, sizeof(url), "https://127.0.0.1:%d/remote.git", port);
	assert_int_equal(repo_push(f->r, url, f->c1, "main", NULL), ERR_AGAIN);
	assert_int_equal(repo_fetch(f->r, url, "main", NULL), ERR_AGAIN);
	snprintf(url, sizeof(url), "ssh://git@127.0.0.1:%d/remote.git", port);
	assert_int_equal(repo_push(f->r, url, f->c1, "main", NULL), ERR_AGAIN);
	assert_no_push_refs(f);
}

#define FIXTURE_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		FIXTURE_TEST(test_commit_edits),
		FIXTURE_TEST(test_commit_nested_dirs),
		FIXTURE_TEST(test_commit_root),
		FIXTURE_TEST(test_update_ref),
		FIXTURE_TEST(test_update_ref_race),
		FIXTURE_TEST(test_revert_clean),
		FIXTURE_TEST(test_revert_conflict),
		FIXTURE_TEST(test_revert_refused),
		FIXTURE_TEST(test_changed_paths),
		FIXTURE_TEST(test_log),
		FIXTURE_TEST(test_expand_sha),
		FIXTURE_TEST(test_expand_sha_ambiguous),
		FIXTURE_TEST(test_is_ancestor),
		FIXTURE_TEST(test_read_file),
		FIXTURE_TEST(test_big_blob_not_inflated),
		FIXTURE_TEST(test_tree_too_many_entries),
		FIXTURE_TEST(test_tree_too_big_to_parse),
		FIXTURE_TEST(test_push_local),
		FIXTURE_TEST(test_push_race),
		FIXTURE_TEST(test_push_daemon),
		FIXTURE_TEST(test_auth_turned_down),
		FIXTURE_TEST(test_network_unreachable),
	};
	struct CMUnitTest tests[sizeof(fixed) / sizeof(fixed[0]) +
	    sizeof(bad_commits) / sizeof(bad_commits[0])];
	size_t n = 0, i;

	CASES(test_bad_commit, bad_commits);
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		tests[n++] = fixed[i];
	return _cmocka_run_group_tests("repo", tests, n, NULL, NULL);
}
