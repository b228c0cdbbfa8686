/*
 * log.h - one line per event on stderr, and stage timings for --timings.
 */
#ifndef FIREBREAK_LOG_H
#define FIREBREAK_LOG_H

/* Monotonic seconds. */
double log_now(void);

/* Turn stage timings on (the CLI's --timings). */
void log_set_timings(int on);

/* When timings are on: "timing: <stage> <ms> ms" on stderr. */
void log_timing(const char *stage, double since);

#endif
