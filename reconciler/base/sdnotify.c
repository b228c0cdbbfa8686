/*
 * sdnotify.c - see sdnotify.h.
 */
#include "base/sdnotify.h"

#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "base/log.h"

/* sd_notify() itself returns 0 without NOTIFY_SOCKET; its errors (the
 * manager gone, a full socket buffer) are not ours to act on. */
static void
send_state(const char *state)
{
	(void)sd_notify(0, state);
}

/* "STATUS=" + status with control bytes as spaces (a newline would
 * start another assignment), cut to SDNOTIFY_STATUS_MAX bytes. */
static void
status_line(char *out, size_t cap, const char *prefix, const char *status)
{
	size_t n = (size_t)snprintf(out, cap, "%sSTATUS=", prefix), i;

	if (n >= cap)
		n = cap - 1;
	for (i = 0; status[i] && i < SDNOTIFY_STATUS_MAX && n + 1 < cap; i++)
		out[n++] = (unsigned char)status[i] < 0x20 || status[i] == 0x7f ? ' ' : status[i];
	out[n] = '\0';
}

void
sdnotify_ready(const char *status)
{
	char msg[SDNOTIFY_STATUS_MAX + 32];

	if (!status) {
		send_state("READY=1");
		return;
	}
	status_line(msg, sizeof(msg), "READY=1\n", status);
	send_state(msg);
}

void
sdnotify_status(const char *status)
{
	char msg[SDNOTIFY_STATUS_MAX + 32];

	status_line(msg, sizeof(msg), "", status);
	send_state(msg);
}

void
sdnotify_stopping(void)
{
	send_state("STOPPING=1");
}

void
sdnotify_watchdog_init(struct sdwatchdog *w)
{
	uint64_t usec = 0;

	w->every = 0;
	w->next = 0;
	/* > 0 only when WATCHDOG_USEC is set (and WATCHDOG_PID, if set, is
	 * this process); 0 keeps the variables for our children to ignore. */
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		w->every = (double)usec / 2e6;
		w->next = log_now();
	}
}

void
sdnotify_watchdog_timeout(const struct sdwatchdog *w, int *timeout_ms)
{
	double left;
	int ms;

	if (w->every <= 0)
		return;
	left = w->next - log_now();
	ms = left <= 0 ? 0 : (int)(left * 1000.0) + 1;
	if (*timeout_ms < 0 || ms < *timeout_ms)
		*timeout_ms = ms;
}

void
sdnotify_watchdog_tick(struct sdwatchdog *w)
{
	double now;

	if (w->every <= 0 || (now = log_now()) < w->next)
		return;
	send_state("WATCHDOG=1");
	w->next = now + w->every;
}
