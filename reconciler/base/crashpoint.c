/*
 * crashpoint.c - see crashpoint.h.  Without FIREBREAK_TEST_HOOKS (every
 * build but the test build's hooks binary) crash_point() is empty: a
 * release binary cannot be made to kill itself by its environment.
 */
#include "base/crashpoint.h"

#ifdef FIREBREAK_TEST_HOOKS

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"

#define CRASH_NAMES 16

/* How many times each point was reached, by name (a handful of points). */
static struct {
	const char *name;
	unsigned long hits;
} seen[CRASH_NAMES];

static unsigned long
hit(const char *name)
{
	size_t i;

	for (i = 0; i < CRASH_NAMES && seen[i].name; i++)
		if (strcmp(seen[i].name, name) == 0)
			return ++seen[i].hits;
	if (i == CRASH_NAMES)
		return 0;
	seen[i].name = name;
	return seen[i].hits = 1;
}

void
crash_point(const char *name)
{
	const char *want = getenv("FIREBREAK_CRASH_AT");
	size_t n = strlen(name);
	unsigned long k = hit(name), nth = 1;
	uint64_t v;

	if (!want || strncmp(want, name, n) != 0 || (want[n] != '\0' && want[n] != ':'))
		return;
	if (want[n] == ':') {
		if (parse_u64(&v, want + n + 1, 1, 1000000) != OK)
			return;
		nth = (unsigned long)v;
	}
	if (k != nth)
		return;
	log_event(NULL, "crash point %s: killing this process (FIREBREAK_CRASH_AT)", want);
	kill(getpid(), SIGKILL);
	for (;;)
		pause();
}

#else

void
crash_point(const char *name)
{
	(void)name;
}

#endif
