/*
 * test_fs.c - how base/fs.c makes files (issue 12, defect 9): modes are
 * exactly what the caller names whatever the umask, temporaries are
 * created exclusively under a unique name and removed on failure, and
 * fs_tmp_stale() knows a dead process's temporary from a live one's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fs.h"

static char dir[] = "/tmp/fb-test-fs-XXXXXX";

static char *
at(const char *rel)
{
	return xasprintf("%s/%s", dir, rel);
}

static unsigned
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return (unsigned)(st.st_mode & 07777);
}

static char *
slurp(const char *path)
{
	struct buf b = BUF_INIT;

	assert_int_equal(fs_read(&b, path, 1 << 20), OK);
	return b.data ? buf_steal(&b) : xstrdup("");
}

/* Names in `dir` holding ".tmp.", one a line. */
static char *
temporaries(const char *d)
{
	struct buf b = BUF_INIT;
	DIR *dp = opendir(d);
	struct dirent *e;

	assert_non_null(dp);
	while ((e = readdir(dp)))
		if (strstr(e->d_name, ".tmp."))
			buf_printf(&b, "%s\n", e->d_name);
	closedir(dp);
	return b.data ? buf_steal(&b) : xstrdup("");
}

static void
test_atomic_modes(void **state)
{
	char *p = at("plan.json"), *q = at("applied"), *s;
	mode_t old;

	(void)state;
	old = umask(022);
	assert_int_equal(fs_write_atomic(p, "{}\n", 3), OK);
	assert_int_equal(mode_of(p), 0600);
	/* Rewriting an existing 0644 file makes it 0600 too. */
	assert_int_equal(chmod(p, 0644), 0);
	assert_int_equal(fs_write_atomic(p, "{1}\n", 4), OK);
	assert_int_equal(mode_of(p), 0600);
	s = slurp(p);
	assert_string_equal(s, "{1}\n");
	free(s);
	/* A umask that would take the group's bits does not. */
	umask(077);
	assert_int_equal(fs_write_atomic_mode(q, "x\n", 2, 0640), OK);
	assert_int_equal(mode_of(q), 0640);
	umask(old);
	s = temporaries(dir);
	assert_string_equal(s, "");
	free(s);
	free(p);
	free(q);
}

/* Whatever sits at a temporary's name is never written through nor
 * replaced: this process's first 50 names are symlinks to a victim (the
 * earlier tests used a handful of them), and the write takes a later one. */
static void
test_atomic_tmp_exclusive(void **state)
{
	char *p = at("excl"), *victim = at("victim"), *planted, *s;
	unsigned long n;

	(void)state;
	assert_int_equal(fs_write_atomic(victim, "keep\n", 5), OK);
	for (n = 0; n < 50; n++) {
		planted = xasprintf("%s.tmp.%ld.%lu", p, (long)getpid(), n);
		assert_int_equal(symlink(victim, planted), 0);
		free(planted);
	}
	assert_int_equal(fs_write_atomic(p, "new\n", 4), OK);
	s = slurp(p);
	assert_string_equal(s, "new\n");
	free(s);
	assert_int_equal(mode_of(p), 0600);
	s = slurp(victim);
	assert_string_equal(s, "keep\n");
	free(s);
	for (n = 0; n < 50; n++) {
		planted = xasprintf("%s.tmp.%ld.%lu", p, (long)getpid(), n);
		assert_int_equal(unlink(planted), 0);   /* each still there */
		free(planted);
	}
	free(p);
	free(victim);
}

/* A failure removes the temporary: the rename over a directory fails. */
static void
test_atomic_failure_leaves_nothing(void **state)
{
	char *d = at("sub"), *p = at("sub/target"), *s;

	(void)state;
	assert_int_equal(fs_mkdir_p(p, 0700), OK);     /* target is a directory */
	assert_int_equal(fs_write_atomic(p, "x", 1), ERR);
	assert_non_null(strstr(err_last(), "rename"));
	s = temporaries(d);
	assert_string_equal(s, "");
	free(s);
	free(d);
	free(p);
}

static void
test_write_new_and_under(void **state)
{
	char *p = at("rel/enc/ab/web-01.example.com.yaml"), *top = at("rel");
	char *e = at("rel/enc"), *f = at("rel/enc/ab");
	mode_t old;

	(void)state;
	old = umask(077);
	assert_int_equal(fs_write_under(top, "enc/ab/web-01.example.com.yaml", "a\n", 2, 0640),
	    OK);
	assert_int_equal(mode_of(p), 0640);
	assert_int_equal(mode_of(e), 0750);
	assert_int_equal(mode_of(f), 0750);
	/* O_EXCL: an existing file is not overwritten. */
	assert_int_equal(fs_write_new(p, "b\n", 2, 0640), ERR);
	assert_non_null(strstr(err_last(), "File exists"));
	umask(022);
	assert_int_equal(fs_write_under(top, "x/y", "a", 1, 0600), OK);
	free(p);
	p = at("rel/x");
	assert_int_equal(mode_of(p), 0700);
	umask(old);
	free(p);
	free(top);
	free(e);
	free(f);
}

static void
test_mkdir_modes(void **state)
{
	char *a = at("m"), *b = at("m/n/o"), *n = at("m/n");
	mode_t old;

	(void)state;
	old = umask(077);
	assert_int_equal(mkdir(a, 0755), 0);
	assert_int_equal(chmod(a, 0755 | S_ISGID), 0);
	assert_int_equal(fs_mkdir_p(b, 0750), OK);
	umask(old);
	/* Made here: exactly 0750 (with the setgid bit handed down). */
	assert_int_equal(mode_of(n), 02750);
	assert_int_equal(mode_of(b), 02750);
	/* Already there: left alone. */
	assert_int_equal(mode_of(a), 02755);
	/* fs_chmod_dir sets it exactly, keeping setgid. */
	assert_int_equal(fs_chmod_dir(a, 0700), OK);
	assert_int_equal(mode_of(a), 02700);
	free(a);
	a = at("nope");
	assert_int_equal(fs_chmod_dir(a, 0700), ERR_NOTFOUND);
	free(a);
	free(b);
	free(n);
}

static void
test_tmp_stale(void **state)
{
	char name[128];
	pid_t dead = fork();
	int status;

	(void)state;
	assert_true(dead >= 0);
	if (dead == 0)
		_exit(0);
	assert_int_equal(waitpid(dead, &status, 0), dead);
	snprintf(name, sizeof(name), "7.json.tmp.%ld.3", (long)dead);
	assert_int_equal(fs_tmp_stale(name), 1);
	snprintf(name, sizeof(name), "/s/outbox/7.json.tmp.%ld", (long)dead);   /* older form */
	assert_int_equal(fs_tmp_stale(name), 1);
	snprintf(name, sizeof(name), "7.json.tmp.%ld.3", (long)getpid());
	assert_int_equal(fs_tmp_stale(name), 0);
	assert_int_equal(fs_tmp_stale("7.json"), 0);
	assert_int_equal(fs_tmp_stale("7.json.tmp."), 0);
	assert_int_equal(fs_tmp_stale("7.json.tmp.x"), 0);
	snprintf(name, sizeof(name), "7.json.tmp.%ld.x", (long)dead);
	assert_int_equal(fs_tmp_stale(name), 0);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	return fs_rm_rf(dir) == OK ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_atomic_modes),
		cmocka_unit_test(test_atomic_tmp_exclusive),
		cmocka_unit_test(test_atomic_failure_leaves_nothing),
		cmocka_unit_test(test_write_new_and_under),
		cmocka_unit_test(test_mkdir_modes),
		cmocka_unit_test(test_tmp_stale),
	};

	return cmocka_run_group_tests_name("fs", tests, setup, teardown);
}
