/*
 * test_proc.c - running programs: exit codes, captured output and its cap,
 * the fixed environment, no shell (a `$(rm -rf /)` is one literal
 * argument), no descriptor leaks, timeouts that kill the whole process
 * tree, and the non-blocking interface the controller's loop uses.
 *
 * Programs that must misbehave in particular ways (ignore SIGTERM, leave a
 * child behind, write a flood) are this binary itself, started with a
 * helper mode as argv[1]: no shell script is needed for any of it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/proc.h"

static char self[4096];

/* ---- helper modes (run as the child) ---- */

static void
write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w <= 0)
			_exit(99);
		s += w;
		n -= (size_t)w;
	}
}

static void
sleep_long(void)
{
	for (int i = 0; i < 300; i++)
		usleep(100000);
}

static int
helper(int argc, char **argv)
{
	const char *mode = argv[1] + 2;
	char line[64];
	pid_t pid;

	if (strcmp(mode, "exit") == 0 && argc > 2)
		return (int)strtol(argv[2], NULL, 10);
	if (strcmp(mode, "stderr") == 0) {
		write_all(1, "out\n", 4);
		write_all(2, "err\n", 4);
		return 0;
	}
	if (strcmp(mode, "flood") == 0 && argc > 2) {
		long n = strtol(argv[2], NULL, 10), i;
		char c;

		/* Bytes "0123456789" repeated: the tail is predictable. */
		for (i = 0; i < n; i++) {
			c = (char)('0' + i % 10);
			write_all(1, &c, 1);
		}
		return 0;
	}
	if (strcmp(mode, "fds") == 0) {
		/* Every descriptor above stderr that is open in the child. */
		for (int fd = 3; fd < 1024; fd++)
			if (fcntl(fd, F_GETFD) >= 0) {
				snprintf(line, sizeof(line), "%d\n", fd);
				write_all(1, line, strlen(line));
			}
		return 0;
	}
	if (strcmp(mode, "ignore-term") == 0) {
		signal(SIGTERM, SIG_IGN);
		write_all(1, "ready\n", 6);
		sleep_long();
		return 0;
	}
	if (strcmp(mode, "grandchild-wait") == 0 || strcmp(mode, "grandchild-exit") == 0) {
		pid = fork();
		if (pid == 0) {
			sleep_long();
			_exit(0);
		}
		snprintf(line, sizeof(line), "%d\n", (int)pid);
		write_all(1, line, strlen(line));
		if (strcmp(mode, "grandchild-wait") == 0)
			sleep_long();
		return 0;
	}
	return 98;
}

/* ---- tests ---- */

/* Gone, or a zombie nobody reaped yet (PID 1 in a container may not). */
static int
process_gone(pid_t pid)
{
	char path[64], buf[256];
	double until = log_now() + 3.0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	while (log_now() < until) {
		FILE *f = fopen(path, "r");
		char *rp;

		if (!f)
			return 1;
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
		rp = strrchr(buf, ')');
		if (rp && (rp[2] == 'Z' || rp[2] == 'X'))
			return 1;
		usleep(20000);
	}
	return 0;
}

struct run_case {
	const char *name;
	const char *argv[8];       /* "@" as argv[0]: this binary */
	const char *env[4];
	unsigned timeout_ms;
	int exited, code, signo, timed_out;
	const char *output;        /* exact, or NULL: not checked */
};

static const struct run_case run_cases[] = {
	{ "true exits 0", { "/bin/true" }, { NULL }, 0, 1, 0, 0, 0, "" },
	{ "false exits 1", { "/bin/false" }, { NULL }, 0, 1, 1, 0, 0, "" },
	{ "exit status 3 is reported", { "@", "--exit", "3" }, { NULL }, 0, 1, 3, 0, 0, "" },
	{ "stdout is captured", { "/bin/echo", "hello" }, { NULL }, 0, 1, 0, 0, 0, "hello\n" },
	{ "stderr is captured with stdout", { "@", "--stderr" }, { NULL }, 0, 1, 0, 0, 0,
	  "out\nerr\n" },
	{ "a shell expansion is one literal argument",
	  { "/usr/bin/printf", "[%s]\\n", "$(rm -rf /)", "`id`", "a b;c", "*", "|x>y" },
	  { NULL }, 0, 1, 0, 0, 0, "[$(rm -rf /)]\n[`id`]\n[a b;c]\n[*]\n[|x>y]\n" },
	{ "stdin is /dev/null", { "/usr/bin/readlink", "/proc/self/fd/0" }, { NULL }, 0,
	  1, 0, 0, 0, "/dev/null\n" },
	{ "reading stdin sees end of file at once", { "/bin/cat" }, { NULL }, 2000,
	  1, 0, 0, 0, "" },
	{ "the environment is the fixed set plus extras", { "/usr/bin/env" },
	  { "FOO=bar baz", "EMPTY=", NULL }, 0, 1, 0, 0, 0, NULL },
	{ "an extra PATH replaces the fixed one", { "/usr/bin/printenv", "PATH" },
	  { "PATH=/opt/x", NULL }, 0, 1, 0, 0, 0, "/opt/x\n" },
	{ "no descriptor leaks into the child", { "@", "--fds" }, { NULL }, 0, 1, 0, 0, 0, "" },
	{ "killed by a signal is reported", { "/bin/kill", "-KILL", "0" }, { NULL }, 0,
	  0, 0, SIGKILL, 0, NULL },
	{ "sleep 30 is killed at the timeout", { "/bin/sleep", "30" }, { NULL }, 300,
	  0, 0, SIGTERM, 1, "" },
	{ "SIGTERM ignored: SIGKILL after the grace period", { "@", "--ignore-term" }, { NULL },
	  300, 0, 0, SIGKILL, 1, "ready\n" },
};

static void
test_run_case(void **state)
{
	const struct run_case *c = *state;
	const char *argv[8];
	struct proc_opts o = { 0 };
	struct proc_result r;
	size_t i;
	int fd = -1;

	for (i = 0; i < 8; i++)
		argv[i] = c->argv[i] && strcmp(c->argv[i], "@") == 0 ? self : c->argv[i];
	o.env = c->env[0] ? c->env : NULL;
	o.timeout_ms = c->timeout_ms;
	o.grace_ms = 300;
	if (strstr(c->name, "descriptor")) {
		/* Open descriptors without close-on-exec, low and high. */
		fd = open("/dev/null", O_RDONLY);
		assert_true(fd >= 0);
		assert_int_equal(dup2(fd, 200), 200);
	}
	assert_int_equal(proc_run(&r, argv, &o), OK);
	if (fd >= 0) {
		close(fd);
		close(200);
	}
	assert_int_equal(r.exited, c->exited);
	if (c->exited)
		assert_int_equal(r.code, c->code);
	else
		assert_int_equal(r.signo, c->signo);
	assert_int_equal(r.timed_out, c->timed_out);
	assert_int_equal(proc_result_ok(&r), c->exited && c->code == 0 && !c->timed_out);
	if (c->output)
		assert_string_equal(r.output.data, c->output);
	if (strstr(c->name, "fixed set")) {
		const char *home = getenv("HOME");
		char *want = xasprintf("PATH=/usr/local/bin:/usr/bin:/bin\nHOME=%s\n"
		    "LANG=C.UTF-8\nFOO=bar baz\nEMPTY=\n", home && home[0] == '/' ? home : "/");

		assert_string_equal(r.output.data, want);
		free(want);
	}
	if (c->timed_out)
		assert_true(r.seconds < 5.0);
	assert_int_equal(r.dropped, 0);
	proc_result_dispose(&r);
}

static void
test_output_cap_keeps_tail(void **state)
{
	const char *argv[] = { self, "--flood", "200000", NULL };
	struct proc_opts o = { 0 };
	struct proc_result r;
	size_t i;

	(void)state;
	o.output_cap = 4096;
	assert_int_equal(proc_run(&r, argv, &o), OK);
	assert_true(proc_result_ok(&r));
	assert_int_equal(r.output.len, 4096);
	assert_int_equal(r.dropped, 200000 - 4096);
	/* The last byte written was (199999 % 10) = '9'; the kept tail
	 * starts at offset 200000 - 4096. */
	for (i = 0; i < r.output.len; i++)
		assert_int_equal(r.output.data[i], '0' + (int)((200000 - 4096 + i) % 10));
	proc_result_dispose(&r);
}

static void
test_default_cap(void **state)
{
	const char *argv[] = { self, "--flood", "100000", NULL };
	struct proc_result r;

	(void)state;
	assert_int_equal(proc_run(&r, argv, NULL), OK);
	assert_int_equal(r.output.len, PROC_OUTPUT_CAP);
	assert_int_equal(r.dropped, 100000 - PROC_OUTPUT_CAP);
	proc_result_dispose(&r);
}

static pid_t
first_line_pid(const struct proc_result *r)
{
	return (pid_t)strtol(r->output.data, NULL, 10);
}

static void
test_timeout_kills_tree(void **state)
{
	const char *argv[] = { self, "--grandchild-wait", NULL };
	struct proc_opts o = { 0 };
	struct proc_result r;
	pid_t gc;

	(void)state;
	o.timeout_ms = 300;
	o.grace_ms = 300;
	assert_int_equal(proc_run(&r, argv, &o), OK);
	assert_true(r.timed_out);
	assert_int_equal(r.signo, SIGTERM);
	assert_true(r.seconds < 5.0);
	gc = first_line_pid(&r);
	assert_true(gc > 1);
	assert_true(process_gone(gc));
	proc_result_dispose(&r);
}

static void
test_leftover_child_does_not_hold_us(void **state)
{
	const char *argv[] = { self, "--grandchild-exit", NULL };
	struct proc_result r;
	double t0 = log_now();
	pid_t gc;

	(void)state;
	assert_int_equal(proc_run(&r, argv, NULL), OK);
	assert_true(log_now() - t0 < 5.0);
	assert_true(proc_result_ok(&r));
	gc = first_line_pid(&r);
	assert_true(gc > 1);
	assert_true(process_gone(gc));
	proc_result_dispose(&r);
}

struct start_err_case {
	const char *name;
	const char *argv[3];
	const char *env[2];
	int rc;
};

static const struct start_err_case start_err_cases[] = {
	{ "missing program is ERR_NOTFOUND", { "/nonexistent/prog" }, { NULL }, ERR_NOTFOUND },
	{ "relative program is refused", { "echo", "x" }, { NULL }, ERR_INVALID },
	{ "empty argv is refused", { NULL }, { NULL }, ERR_INVALID },
	{ "bad environment name is refused", { "/bin/true" }, { "1X=y" }, ERR_INVALID },
	{ "environment entry without = is refused", { "/bin/true" }, { "FOO" }, ERR_INVALID },
	{ "a directory is not a program", { "/tmp" }, { NULL }, ERR },
};

static void
test_start_error(void **state)
{
	const struct start_err_case *c = *state;
	struct proc_opts o = { 0 };
	struct proc *p = (struct proc *)1;

	o.env = c->env[0] ? c->env : NULL;
	assert_int_equal(proc_start(&p, c->argv, &o), c->rc);
	assert_null(p);
	assert_true(strlen(err_last()) > 0);
}

/* The loop the controller runs: poll the fd with the handle's timeout. */
static int
drive(struct proc *p, double max_seconds)
{
	double until = log_now() + max_seconds;
	struct pollfd pfd;
	int wakeups = 0;

	while (!proc_poll(p)) {
		if (log_now() > until)
			return -1;
		pfd.fd = proc_fd(p);
		pfd.events = POLLIN;
		pfd.revents = 0;
		assert_true(proc_timeout_ms(p) >= 0);
		assert_true(proc_timeout_ms(p) <= 250);
		poll(&pfd, pfd.fd >= 0 ? 1 : 0, proc_timeout_ms(p));
		wakeups++;
	}
	return wakeups;
}

static void
test_nonblocking(void **state)
{
	const char *argv2[] = { "/bin/sleep", "0.2", NULL };
	struct proc *p;
	struct proc_result r;
	double t0;

	(void)state;
	t0 = log_now();
	assert_int_equal(proc_start(&p, argv2, NULL), OK);
	assert_true(log_now() - t0 < 0.15);       /* start does not wait */
	assert_true(proc_fd(p) >= 3);
	assert_int_equal(proc_poll(p), 0);
	assert_true(drive(p, 5.0) >= 1);
	proc_finish(&r, p);
	assert_true(proc_result_ok(&r));
	assert_true(r.seconds >= 0.15);
	proc_result_dispose(&r);
}

static void
test_cancel(void **state)
{
	const char *argv[] = { "/bin/sleep", "30", NULL };
	struct proc *p;
	struct proc_result r;
	struct buf b = BUF_INIT;

	(void)state;
	assert_int_equal(proc_start(&p, argv, NULL), OK);
	assert_int_equal(proc_poll(p), 0);
	proc_cancel(p);
	assert_true(drive(p, 5.0) >= 0);
	proc_finish(&r, p);
	assert_false(proc_result_ok(&r));
	assert_true(r.cancelled);
	assert_false(r.timed_out);
	assert_int_equal(r.signo, SIGTERM);
	proc_result_describe(&b, &r);
	assert_string_equal(b.data, "cancelled (killed by SIGTERM)");
	buf_dispose(&b);
	proc_result_dispose(&r);
}

static void
test_finish_while_running_kills(void **state)
{
	const char *argv[] = { self, "--grandchild-wait", NULL };
	struct proc *p;
	struct proc_result r;
	pid_t gc = 0;
	double until = log_now() + 3.0;

	(void)state;
	assert_int_equal(proc_start(&p, argv, NULL), OK);
	/* Let it start its grandchild and say so; proc_finish() then must
	 * take the whole group down while it still runs. */
	while (log_now() < until) {
		struct pollfd pfd = { proc_fd(p), POLLIN, 0 };

		poll(&pfd, 1, 50);
		assert_int_equal(proc_poll(p), 0);
		if (log_now() > until - 2.7)
			break;
	}
	proc_finish(&r, p);
	assert_true(r.cancelled);
	assert_int_equal(r.signo, SIGKILL);
	gc = first_line_pid(&r);
	if (gc > 1)
		assert_true(process_gone(gc));
	proc_result_dispose(&r);
}

/* ---- proc_fork: a function of ours in a child ---- */

static int fork_marker = 7;     /* the child sees the parent's memory */

static int
fork_fn(void *arg)
{
	const char *mode = arg;
	char line[64];

	if (strcmp(mode, "memory") == 0) {
		/* stdio may be used, if flushed. */
		printf("marker %d\n", fork_marker);
		fflush(stdout);
		return 5;
	}
	if (strcmp(mode, "fds") == 0) {
		for (int fd = 3; fd < 1024; fd++)
			if (fcntl(fd, F_GETFD) >= 0) {
				snprintf(line, sizeof(line), "%d\n", fd);
				write_all(1, line, strlen(line));
			}
		return 0;
	}
	if (strcmp(mode, "stdin") == 0) {
		char c;
		ssize_t n = read(0, &c, 1);

		snprintf(line, sizeof(line), "read %d\n", (int)n);
		write_all(1, line, strlen(line));
		return 0;
	}
	if (strcmp(mode, "sleep") == 0) {
		write_all(1, "ready\n", 6);
		sleep_long();
		return 0;
	}
	if (strcmp(mode, "negative") == 0)
		return -6;
	return 98;
}

static void
fork_run(struct proc_result *r, const char *mode, unsigned timeout_ms)
{
	struct proc_opts o = { 0 };
	struct proc *p;
	char arg[16];

	o.timeout_ms = timeout_ms;
	snprintf(arg, sizeof(arg), "%s", mode);   /* fork_fn's argument is writable */
	assert_int_equal(proc_fork(&p, fork_fn, arg, &o), OK);
	while (!proc_poll(p)) {
		struct pollfd pfd = { proc_fd(p), POLLIN, 0 };

		poll(&pfd, pfd.fd >= 0 ? 1 : 0, proc_timeout_ms(p));
	}
	proc_finish(r, p);
}

/* The child reads our memory, its value is the exit status, and what our
 * stdout had buffered is not written twice (once by the child). */
static void
test_fork_memory_and_status(void **state)
{
	struct proc_result r;

	(void)state;
	fork_marker = 42;
	setvbuf(stdout, NULL, _IOFBF, 4096);
	printf("UNFLUSHED-PARENT-BYTES");
	fork_run(&r, "memory", 0);
	assert_int_equal(r.exited, 1);
	assert_int_equal(r.code, 5);
	assert_string_equal(r.output.data, "marker 42\n");
	proc_result_dispose(&r);
	fork_run(&r, "negative", 0);
	assert_int_equal(r.code, 1);
	proc_result_dispose(&r);
	printf("\n");
	fflush(stdout);
	setvbuf(stdout, NULL, _IOLBF, 0);
}

/* None of our descriptors reach the child (an open file, a socket),
 * and its stdin is /dev/null. */
static void
test_fork_no_descriptors(void **state)
{
	struct proc_result r;
	int fd = open("/dev/null", O_RDONLY), sv[2];

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fork_run(&r, "fds", 0);
	assert_int_equal(r.code, 0);
	assert_string_equal(r.output.data, "");
	proc_result_dispose(&r);
	fork_run(&r, "stdin", 0);
	assert_string_equal(r.output.data, "read 0\n");
	proc_result_dispose(&r);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

/* The loop blocks SIGTERM for its signalfd and ignores SIGPIPE; the
 * child must not inherit either, or a timeout could not end it. */
static void
test_fork_timeout_with_term_blocked(void **state)
{
	struct proc_result r;
	sigset_t mask, old;

	(void)state;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, &old);
	signal(SIGPIPE, SIG_IGN);
	fork_run(&r, "sleep", 300);
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGPIPE, SIG_DFL);
	assert_true(r.timed_out);
	assert_int_equal(r.exited, 0);
	assert_int_equal(r.signo, SIGTERM);
	assert_string_equal(r.output.data, "ready\n");
	proc_result_dispose(&r);
}

static void
test_fork_env_refused(void **state)
{
	const char *env[] = { "A=b", NULL };
	struct proc_opts o = { 0 };
	struct proc *p = NULL;
	char memory[] = "memory";

	(void)state;
	o.env = env;
	assert_int_equal(proc_fork(&p, fork_fn, memory, &o), ERR_INVALID);
	assert_null(p);
}

struct describe_case {
	const char *name;
	struct proc_result r;
	const char *want;
};

static const struct describe_case describe_cases[] = {
	{ "describe: exit status", { 1, 3, 0, 0, 0, 0, 0, BUF_INIT }, "exited with status 3" },
	{ "describe: killed by a signal", { 0, 0, SIGKILL, 0, 0, 0, 0, BUF_INIT }, "killed by SIGKILL" },
	{ "describe: timed out", { 0, 0, SIGTERM, 1, 0, 0, 2.0, BUF_INIT },
	  "timed out after 2.0 s (killed by SIGTERM)" },
	{ "describe: timed out but exited", { 1, 0, 0, 1, 0, 0, 1.5, BUF_INIT },
	  "timed out after 1.5 s (exited with status 0)" },
};

static void
test_describe(void **state)
{
	const struct describe_case *c = *state;
	struct buf b = BUF_INIT;

	proc_result_describe(&b, &c->r);
	assert_string_equal(b.data, c->want);
	buf_dispose(&b);
}

int
main(int argc, char **argv)
{
	struct CMUnitTest tests[64];
	size_t i, n = 0;
	ssize_t len;

	if (argc > 1 && strncmp(argv[1], "--", 2) == 0)
		return helper(argc, argv);
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0)
		return 2;
	self[len] = '\0';
	for (i = 0; i < sizeof(run_cases) / sizeof(*run_cases); i++) {
		struct CMUnitTest t = { run_cases[i].name, test_run_case, NULL, NULL,
		    (void *)(uintptr_t)&run_cases[i] };

		tests[n++] = t;
	}
	for (i = 0; i < sizeof(start_err_cases) / sizeof(*start_err_cases); i++) {
		struct CMUnitTest t = { start_err_cases[i].name, test_start_error, NULL, NULL,
		    (void *)(uintptr_t)&start_err_cases[i] };

		tests[n++] = t;
	}
	for (i = 0; i < sizeof(describe_cases) / sizeof(*describe_cases); i++) {
		struct CMUnitTest t = { describe_cases[i].name, test_describe, NULL, NULL,
		    (void *)(uintptr_t)&describe_cases[i] };

		tests[n++] = t;
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_output_cap_keeps_tail);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_default_cap);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_timeout_kills_tree);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_leftover_child_does_not_hold_us);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_nonblocking);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_cancel);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_finish_while_running_kills);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_fork_memory_and_status);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_fork_no_descriptors);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_fork_timeout_with_term_blocked);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_fork_env_refused);
	return _cmocka_run_group_tests("proc", tests, n, NULL, NULL);
}
