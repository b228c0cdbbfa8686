/*
 * log.h - the one log sink: one line per event on stderr (the daemon's
 * journal), and stage timings for --timings.
 *
 * Layer: base.  Every daemon-side message goes through log_event(), never
 * through fprintf(stderr) of its own: a log line quotes things that came
 * from outside (a commit subject, a chat line, a server's error), and the
 * sink escapes their control bytes here, once, so no quoted value can end
 * a line early and forge the next one (journald and grep read lines).
 */
#ifndef FIREBREAK_LOG_H
#define FIREBREAK_LOG_H

#include <stddef.h>

/* The longest line log_event() writes (the rest is cut, with "..."). */
#define LOG_LINE_MAX 2048

/*
 * "firebreak: <component>: <message>" on stderr, as one write(2).
 * `component` ("controller", "outbox", "irc", "http") may be NULL for the
 * controller's own events ("firebreak: <message>").  In the formatted
 * message, CR becomes \r, LF \n, other C0 bytes and DEL \xNN; other bytes
 * pass (UTF-8 reads as it is).
 */
void log_event(const char *component, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append s[0..n) to out (of size cap, always NUL-terminated) with control
 * bytes escaped as log_event() does; returns the length written. */
size_t log_escape(char *out, size_t cap, const char *s, size_t n);

/* Monotonic seconds. */
double log_now(void);

/* Turn stage timings on (the CLI's --timings). */
void log_set_timings(int on);

/* When timings are on: "timing: <stage> <ms> ms" on stderr. */
void log_timing(const char *stage, double since);

#endif
