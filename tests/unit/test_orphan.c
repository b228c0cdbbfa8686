/*
 * test_orphan.c - naming a process beyond its pid (pid, start time, boot
 * id), telling whether it still runs (a zombie does not), and stopping
 * its process group; what a restarted controller does to the runs a
 * killed one left (base/orphan.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/orphan.h"
#include "base/util.h"

/* A child leading its own process group, sleeping until killed. */
static pid_t
sleeper(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		setpgid(0, 0);
		for (;;)
			pause();
	}
	setpgid(pid, pid);
	return pid;
}

static void
test_self(void **state)
{
	struct orphan o;

	(void)state;
	assert_int_equal(orphan_identify(&o, (long)getpid()), OK);
	assert_int_equal(o.pid, (long)getpid());
	assert_true(o.start > 0);
	assert_int_equal(strlen(o.boot), 36);
	assert_int_equal(orphan_alive(&o), 1);
}

static void
test_no_such_process(void **state)
{
	struct orphan o;

	(void)state;
	/* Above any pid_max Linux allows (2^22). */
	assert_int_equal(orphan_identify(&o, 5000000), ERR_NOTFOUND);
	assert_int_equal(orphan_identify(&o, 1), ERR_NOTFOUND);
	assert_int_equal(orphan_identify(&o, 0), ERR_NOTFOUND);
}

/* A pid reused by another process is another start time; a record from
 * before a reboot is another boot: neither names the process there now. */
static void
test_another_process(void **state)
{
	struct orphan o, other;

	(void)state;
	assert_int_equal(orphan_identify(&o, (long)getpid()), OK);
	other = o;
	other.start++;
	assert_int_equal(orphan_alive(&other), 0);
	assert_int_equal(orphan_signal(&other, 0), ERR_NOTFOUND);
	other = o;
	other.boot[0] = other.boot[0] == '0' ? '1' : '0';
	assert_int_equal(orphan_alive(&other), 0);
	other = o;
	other.boot[0] = '\0';
	assert_int_equal(orphan_alive(&other), 0);
}

/* Signalled while it runs; a zombie (ended, not reaped: what a killed
 * controller's child is under an init that does not reap) is not alive. */
static void
test_signal_and_zombie(void **state)
{
	struct orphan o;
	pid_t pid = sleeper();
	int st;

	(void)state;
	assert_int_equal(orphan_identify(&o, (long)pid), OK);
	assert_int_equal(orphan_alive(&o), 1);
	assert_int_equal(orphan_signal(&o, SIGTERM), OK);
	/* Ended but not reaped yet: wait without reaping. */
	for (int i = 0; i < 200; i++) {
		siginfo_t si;

		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT | WNOHANG) == 0 && si.si_pid == pid)
			break;
		usleep(10000);
	}
	assert_int_equal(orphan_alive(&o), 0);
	assert_int_equal(orphan_signal(&o, SIGKILL), ERR_NOTFOUND);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	assert_int_equal(orphan_alive(&o), 0);
}

/* The leader ended, a member of its group lives on: orphan_kill_rest
 * ends it (the member holds a pipe's write end: EOF says it is gone). */
static void
test_kill_rest(void **state)
{
	struct orphan o;
	int pfd[2], st;
	pid_t leader;
	char c;

	(void)state;
	assert_int_equal(pipe(pfd), 0);
	leader = fork();
	assert_true(leader >= 0);
	if (leader == 0) {
		setpgid(0, 0);
		close(pfd[0]);
		if (fork() == 0) {
			for (;;)
				pause();
		}
		_exit(0);
	}
	setpgid(leader, leader);
	close(pfd[1]);
	assert_int_equal(orphan_identify(&o, (long)leader), OK);
	assert_int_equal(waitpid(leader, &st, 0), leader);
	assert_int_equal(orphan_alive(&o), 0);
	orphan_kill_rest(&o);
	{
		struct pollfd p = { pfd[0], POLLIN, 0 };

		assert_int_equal(poll(&p, 1, 5000), 1);
		assert_int_equal(read(pfd[0], &c, 1), 0);
	}
	close(pfd[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self),
		cmocka_unit_test(test_no_such_process),
		cmocka_unit_test(test_another_process),
		cmocka_unit_test(test_signal_and_zombie),
		cmocka_unit_test(test_kill_rest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
