/*
 * test_sdnotify.c - what base/sdnotify sends on a real unix datagram
 * socket named by NOTIFY_SOCKET (as systemd's would be): the exact bytes
 * of each message, control bytes in a STATUS= made harmless, the length
 * cap, the watchdog's schedule, and silence without NOTIFY_SOCKET or with
 * another process's WATCHDOG_PID.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/sdnotify.h"
#include "cases.h"

static char sockpath[108];
static int sock = -1;

/* A fresh socket for each test, NOTIFY_SOCKET naming it. */
static int
setup(void **state)
{
	struct sockaddr_un a;
	struct timeval tv = { 0, 200000 };

	(void)state;
	snprintf(sockpath, sizeof(sockpath), "/tmp/fb-sdnotify-%ld.sock", (long)getpid());
	unlink(sockpath);
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sockpath);
	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || bind(sock, (struct sockaddr *)&a, sizeof(a)) != 0)
		return -1;
	/* A message that never comes must not hang the test. */
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setenv("NOTIFY_SOCKET", sockpath, 1);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	close(sock);
	unlink(sockpath);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return 0;
}

/* The next message, or "" when none came. */
static const char *
next_message(void)
{
	static char buf[1024];
	ssize_t n = recv(sock, buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

struct status_case {
	const char *name;
	const char *status;
	const char *sent;
};

static const struct status_case status_cases[] = {
	{ "status: plain text is sent as it is", "applied 0123abc on main",
	  "STATUS=applied 0123abc on main" },
	{ "status: a newline cannot start another assignment", "x\nREADY=1",
	  "STATUS=x READY=1" },
	{ "status: other control bytes become spaces", "a\tb\rc\x1b[0md\x7f",
	  "STATUS=a b c [0md " },
	{ "status: empty", "", "STATUS=" },
};

static void
test_status(void **state)
{
	const struct status_case *c = *state;

	sdnotify_status(c->status);
	assert_string_equal(next_message(), c->sent);
}

static void
test_status_is_capped(void **state)
{
	char big[SDNOTIFY_STATUS_MAX * 2 + 1];
	const char *m;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	sdnotify_status(big);
	m = next_message();
	assert_int_equal(strlen(m), strlen("STATUS=") + SDNOTIFY_STATUS_MAX);
}

static void
test_ready_and_stopping(void **state)
{
	(void)state;
	sdnotify_ready(NULL);
	assert_string_equal(next_message(), "READY=1");
	sdnotify_ready("applied 0123abc on main");
	assert_string_equal(next_message(), "READY=1\nSTATUS=applied 0123abc on main");
	sdnotify_stopping();
	assert_string_equal(next_message(), "STOPPING=1");
}

static void
test_watchdog_pings_at_half_the_interval(void **state)
{
	struct sdwatchdog w;
	int timeout = 1000;

	(void)state;
	setenv("WATCHDOG_USEC", "600000000", 1);   /* 600 s: a ping every 300 s */
	sdnotify_watchdog_init(&w);
	assert_true(w.every > 299.0 && w.every < 301.0);
	/* The first ping is due at once: the poll must not wait. */
	sdnotify_watchdog_timeout(&w, &timeout);
	assert_int_equal(timeout, 0);
	sdnotify_watchdog_tick(&w);
	assert_string_equal(next_message(), "WATCHDOG=1");
	/* Not again until 300 s have passed; the poll waits no longer. */
	sdnotify_watchdog_tick(&w);
	assert_string_equal(next_message(), "");
	timeout = -1;
	sdnotify_watchdog_timeout(&w, &timeout);
	assert_true(timeout > 299000 && timeout <= 300001);
	timeout = 1000;
	sdnotify_watchdog_timeout(&w, &timeout);
	assert_int_equal(timeout, 1000);
}

struct off_case {
	const char *name;
	const char *usec, *pid;   /* NULL: unset */
};

static const struct off_case off_cases[] = {
	{ "watchdog: off without WATCHDOG_USEC", NULL, NULL },
	{ "watchdog: off when WATCHDOG_PID names another process", "600000000", "1" },
	{ "watchdog: off with WATCHDOG_USEC=0", "0", NULL },
};

static void
test_watchdog_off(void **state)
{
	const struct off_case *c = *state;
	struct sdwatchdog w;
	int timeout = 1000;

	if (c->usec)
		setenv("WATCHDOG_USEC", c->usec, 1);
	if (c->pid)
		setenv("WATCHDOG_PID", c->pid, 1);
	sdnotify_watchdog_init(&w);
	sdnotify_watchdog_timeout(&w, &timeout);
	assert_int_equal(timeout, 1000);
	sdnotify_watchdog_tick(&w);
	assert_string_equal(next_message(), "");
}

static void
test_silent_without_notify_socket(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	sdnotify_ready("x");
	sdnotify_status("x");
	sdnotify_stopping();
	assert_string_equal(next_message(), "");
}

int
main(void)
{
	struct CMUnitTest tests[32];
	size_t n = 0, i;

	CASES(test_status, status_cases);
	CASES(test_watchdog_off, off_cases);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_status_is_capped);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_ready_and_stopping);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_watchdog_pings_at_half_the_interval);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_silent_without_notify_socket);
	for (i = 0; i < n; i++) {
		tests[i].setup_func = setup;
		tests[i].teardown_func = teardown;
	}
	return _cmocka_run_group_tests("sdnotify", tests, n, NULL, NULL);
}
