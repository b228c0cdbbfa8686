/*
 * log.c - see log.h.
 */
#include "log.h"

#include <stdio.h>
#include <time.h>

static int timings;

double
log_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
log_set_timings(int on)
{
	timings = on;
}

void
log_timing(const char *stage, double since)
{
	if (timings)
		fprintf(stderr, "timing: %s %.1f ms\n", stage, (log_now() - since) * 1000.0);
}
