/*
 * test_secret.c - the one reader of secret files (base/secret.h): what it
 * returns, and each refusal with its exact code and a message that names
 * the file and never holds the secret.  An empty file crashed the config's
 * old reader (issue 12, defect 4); it is the first refusal here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cases.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/secret.h"

static char dir[] = "/tmp/fb-test-secret-XXXXXX";

/* Write dir/name with exactly `mode` (the umask is not asked). */
static char *
put(const char *name, const char *data, size_t len, mode_t mode)
{
	char *path;
	int fd;

	path = xasprintf("%s/%s", dir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fs_write_all(fd, data, len), 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

struct read_case {
	const char *name;
	const char *data;
	size_t len;               /* 0: strlen(data) */
	mode_t mode;
	unsigned flags;
	int rc;
	const char *want;         /* the secret (rc OK), or a piece of err_last() */
};

#define TOKEN_RULE "holds a character that is not printable ASCII"

static const struct read_case read_cases[] = {
	{ "a token with its newline", "xoxb-123\n", 0, 0600, SECRET_TOKEN, OK, "xoxb-123" },
	{ "group-readable is fine", "s3cret\n", 0, 0640, SECRET_LINE, OK, "s3cret" },
	{ "owner read-only is fine", "s3cret", 0, 0400, 0, OK, "s3cret" },
	{ "trailing spaces, tabs and CRLFs are trimmed", "s3cret \t\r\n\r\n", 0, 0600,
	  SECRET_TOKEN, OK, "s3cret" },
	{ "a line may hold spaces", "correct horse battery\n", 0, 0600, SECRET_LINE, OK,
	  "correct horse battery" },
	{ "without a flag, lines are kept (a TSIG key block)", "key \"k\" {\n\tsecret \"x\";\n};\n",
	  0, 0600, 0, OK, "key \"k\" {\n\tsecret \"x\";\n};" },
	{ "empty", "", 0, 0600, 0, ERR_INVALID, "is empty" },
	{ "empty with a token flag", "", 0, 0600, SECRET_TOKEN, ERR_INVALID, "is empty" },
	{ "only whitespace", " \n\t\r\n", 0, 0600, SECRET_LINE, ERR_INVALID, "is empty" },
	{ "world-readable", "s3cret\n", 0, 0644, 0, ERR_DENIED,
	  "is readable by others (mode 0644)" },
	{ "world-readable, owner none", "s3cret\n", 0, 0004, 0, ERR_DENIED,
	  "is readable by others (mode 0004)" },
	{ "world-writable", "s3cret\n", 0, 0602, 0, ERR_DENIED,
	  "is writable by others (mode 0602)" },
	{ "empty and world-readable: the mode is said first", "", 0, 0666, 0, ERR_DENIED,
	  "is readable by others" },
	{ "two lines where one is wanted", "s3cret\nmore\n", 0, 0600, SECRET_LINE, ERR_INVALID,
	  "holds more than one line" },
	{ "a CR inside a token", "s3c\rret\n", 0, 0600, SECRET_TOKEN, ERR_INVALID,
	  "holds more than one line" },
	{ "a space inside a token", "s3c ret\n", 0, 0600, SECRET_TOKEN, ERR_INVALID, TOKEN_RULE },
	{ "a tab inside a token", "s3c\tret", 0, 0600, SECRET_TOKEN, ERR_INVALID, TOKEN_RULE },
	{ "non-ASCII in a token", "s3cr\xc3\xa9t", 0, 0600, SECRET_TOKEN, ERR_INVALID,
	  TOKEN_RULE },
	{ "a DEL in a token", "s3c\x7fret", 0, 0600, SECRET_TOKEN, ERR_INVALID, TOKEN_RULE },
	{ "a NUL byte", "s3c\0ret", 7, 0600, 0, ERR_INVALID, "holds a NUL byte" },
};

static void
test_read(void **state)
{
	const struct read_case *c = *state;
	char *path = put("secret", c->data, c->len ? c->len : strlen(c->data), c->mode);
	char *out = (char *)1;
	int rc = secret_read(&out, path, c->flags);

	assert_int_equal(rc, c->rc);
	if (c->rc == OK) {
		assert_non_null(out);
		assert_string_equal(out, c->want);
	} else {
		assert_null(out);
		assert_non_null(strstr(err_last(), c->want));
		/* Every refusal names the file, none shows the secret. */
		assert_non_null(strstr(err_last(), path));
		assert_null(strstr(err_last(), "s3c"));
	}
	secret_free(out);
	free(path);
}

static void
test_missing(void **state)
{
	char *path = xasprintf("%s/nonexistent", dir);
	char *out = (char *)1;

	(void)state;
	assert_int_equal(secret_read(&out, path, 0), ERR_NOTFOUND);
	assert_null(out);
	assert_non_null(strstr(err_last(), path));
	assert_non_null(strstr(err_last(), "No such file or directory"));
	free(path);
}

static void
test_too_big(void **state)
{
	char big[SECRET_MAX + 1];
	char *path, *out = (char *)1;

	(void)state;
	memset(big, 'a', sizeof(big));
	path = put("big", big, sizeof(big), 0600);
	assert_int_equal(secret_read(&out, path, SECRET_TOKEN), ERR_TOOBIG);
	assert_null(out);
	assert_non_null(strstr(err_last(), "is more than 4096 bytes"));
	free(path);
	/* Exactly the limit is a secret. */
	path = put("big", big, SECRET_MAX, 0600);
	assert_int_equal(secret_read(&out, path, SECRET_TOKEN), OK);
	assert_int_equal(strlen(out), SECRET_MAX);
	secret_free(out);
	free(path);
}

static void
test_directory(void **state)
{
	char *path = xasprintf("%s/adir", dir), *out = (char *)1;

	(void)state;
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(secret_read(&out, path, 0), ERR_INVALID);
	assert_null(out);
	assert_non_null(strstr(err_last(), "is not a regular file"));
	rmdir(path);
	free(path);
}

/* A FIFO must be refused at once, not read (which would wait forever). */
static void
test_fifo(void **state)
{
	char *path = xasprintf("%s/fifo", dir), *out = (char *)1;

	(void)state;
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(secret_read(&out, path, 0), ERR_INVALID);
	assert_null(out);
	assert_non_null(strstr(err_last(), "is not a regular file"));
	unlink(path);
	free(path);
}

static void
test_device(void **state)
{
	char *out = (char *)1;

	(void)state;
	assert_int_equal(secret_read(&out, "/dev/null", 0), ERR_INVALID);
	assert_null(out);
	assert_string_equal(err_last(), "/dev/null is not a regular file");
}

/* A symlink is followed: the mode that counts is the target's. */
static void
test_symlink(void **state)
{
	char *good = put("target", "s3cret\n", 7, 0600);
	char *link = xasprintf("%s/link", dir), *out = NULL;

	(void)state;
	unlink(link);
	assert_int_equal(symlink(good, link), 0);
	assert_int_equal(secret_read(&out, link, SECRET_TOKEN), OK);
	assert_string_equal(out, "s3cret");
	secret_free(out);
	assert_int_equal(chmod(good, 0644), 0);
	assert_int_equal(secret_read(&out, link, SECRET_TOKEN), ERR_DENIED);
	assert_null(out);
	unlink(link);
	free(link);
	free(good);
}

/* Open a file its reader may not open: ERR and "Permission denied". */
static int
read_unreadable(const char *path)
{
	char *out = (char *)1;

	return secret_read(&out, path, 0) == ERR && !out &&
	    strstr(err_last(), "cannot read") && strstr(err_last(), "Permission denied");
}

/* Root may open anything, so as root the read runs in a child that has
 * become nobody (65534). */
static void
test_unreadable(void **state)
{
	char *path = put("locked", "s3cret\n", 7, 0000);
	pid_t pid;
	int status;

	(void)state;
	if (geteuid() != 0) {
		assert_true(read_unreadable(path));
		free(path);
		return;
	}
	assert_int_equal(chmod(dir, 0711), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(setgid(65534) == 0 && setuid(65534) == 0 && read_unreadable(path) ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(chmod(dir, 0700), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	free(path);
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
	struct CMUnitTest tests[64];
	size_t n = 0;

	CASES(test_read, read_cases);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_missing);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_too_big);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_directory);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_fifo);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_device);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_symlink);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_unreadable);
	return _cmocka_run_group_tests("secret", tests, n, setup, teardown);
}
