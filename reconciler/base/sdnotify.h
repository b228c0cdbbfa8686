/*
 * sdnotify.h - telling systemd how the controller is doing (Type=notify):
 * READY=1 once it serves, STATUS= with the applied commit, WATCHDOG=1
 * pings from the event loop, STOPPING=1 when it stops.
 *
 * Layer: base (includes base only; links libsystemd's sd_notify).
 *
 * Every call is a no-op when NOTIFY_SOCKET is not set (a shell, a test,
 * another service manager), so the controller never needs to know whether
 * systemd runs it.  A message that cannot be sent is dropped: systemd is
 * told how things are, never asked, and the controller must not stop
 * because the manager went away.
 *
 * The watchdog: when the unit sets WatchdogSec=, systemd passes
 * WATCHDOG_USEC (and WATCHDOG_PID, which sd_watchdog_enabled() checks is
 * this process), and kills and restarts a service that stays silent that
 * long.  The pings come from the event loop itself, at half the interval,
 * so a loop that hangs (a blocking call, a livelock) stops pinging and is
 * restarted; no helper thread pings on its behalf.
 */
#ifndef FIREBREAK_SDNOTIFY_H
#define FIREBREAK_SDNOTIFY_H

/* Longest STATUS= text sent (the rest is cut). */
#define SDNOTIFY_STATUS_MAX 256

struct sdwatchdog {
	double every;   /* seconds between pings: half of WATCHDOG_USEC; 0: off */
	double next;    /* monotonic time (log_now()) of the next ping */
};

/* "READY=1" with "STATUS=<status>" (status may be NULL). */
void sdnotify_ready(const char *status);

/* "STATUS=<status>" (control bytes become spaces; cut at
 * SDNOTIFY_STATUS_MAX). */
void sdnotify_status(const char *status);

/* "STOPPING=1": a clean stop has begun. */
void sdnotify_stopping(void);

/* Read WATCHDOG_USEC (sd_watchdog_enabled): on when it is set for this
 * process, and the first ping is due at once. */
void sdnotify_watchdog_init(struct sdwatchdog *w);

/* Lower *timeout_ms (a poll() timeout, -1: none) to the time left until
 * the next ping is due.  Nothing when the watchdog is off. */
void sdnotify_watchdog_timeout(const struct sdwatchdog *w, int *timeout_ms);

/* Send "WATCHDOG=1" if a ping is due, and plan the next one. */
void sdnotify_watchdog_tick(struct sdwatchdog *w);

#endif
