/*
 * log.c - see log.h.
 */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int timings;

size_t
log_escape(char *out, size_t cap, const char *s, size_t n)
{
	size_t o = 0, i;

	if (!cap)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[5];
		size_t k;

		if (c == '\n')
			k = 2, memcpy(esc, "\\n", 2);
		else if (c == '\r')
			k = 2, memcpy(esc, "\\r", 2);
		else if (c < 0x20 || c == 0x7f)
			k = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", c);
		else
			k = 1, esc[0] = (char)c;
		if (o + k + 1 > cap)
			break;
		memcpy(out + o, esc, k);
		o += k;
	}
	out[o] = '\0';
	return o;
}

void
log_event(const char *component, const char *fmt, ...)
{
	char raw[LOG_LINE_MAX], line[LOG_LINE_MAX + 64];
	va_list ap;
	int n;
	size_t o;

	va_start(ap, fmt);
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	o = (size_t)snprintf(line, sizeof(line), "firebreak: %s%s", component ? component : "",
	    component ? ": " : "");
	o += log_escape(line + o, LOG_LINE_MAX - o, raw, strlen(raw));
	if ((size_t)n >= sizeof(raw) || o + 1 >= LOG_LINE_MAX)
		o += (size_t)snprintf(line + o, sizeof(line) - o, "...");
	line[o++] = '\n';
	/* One write: lines from the daemon and its children do not interleave. */
	if (write(STDERR_FILENO, line, o) < 0)
		return;
}

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
