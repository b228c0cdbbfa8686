/*
 * measure.c - time a command and record its peak memory, because GNU time
 * is not always installed.
 *
 *	measure [-n REPEAT] [-l LOOPS] [-m best|median] [-q] -- argv...
 *
 * Runs argv (looked up in PATH) REPEAT times (default 1); each repetition
 * runs it LOOPS times back to back (default 1) and counts as one sample of
 * (wall time / LOOPS).  The child's stdin is /dev/null and its stdout goes
 * to /dev/null; its stderr is ours unless -q.  The result is one line:
 *
 *	seconds=0.123456 maxrss_mb=45.6 runs=3 loops=1 stat=best
 *
 * `seconds` is the best (default) or the median sample, per call;
 * `maxrss_mb` the largest ru_maxrss any call reported (wait4), in MiB.
 * If any call exits non-zero or is killed, measure stops, prints
 * `failed=<what>` on stdout and the reason on stderr, and exits 1.
 *
 * fork + execvp, no shell: each argument reaches the program as it is.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_ENV = 3 };

#define MAX_REPEAT 1000
#define MAX_LOOPS 1000000

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
parse_count(long *out, const char *s, long min, long max)
{
	char *end;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * Run argv once; 0 when it exited 0.  *maxrss_kb gets its ru_maxrss.
 * `devnull` is an O_CLOEXEC descriptor for /dev/null.
 */
static int
run_once(char *const *argv, int devnull, int quiet, long *maxrss_kb)
{
	struct rusage ru;
	pid_t pid;
	int st;

	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "measure: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls until exec. */
		if (dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0
		    || (quiet && dup2(devnull, 2) < 0))
			_exit(126);
		execvp(argv[0], argv);
		_exit(errno == ENOENT ? 127 : 126);
	}
	while (wait4(pid, &st, 0, &ru) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "measure: wait4: %s\n", strerror(errno));
			return -1;
		}
	}
	*maxrss_kb = ru.ru_maxrss;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st)) {
		fprintf(stderr, "measure: %s exited %d%s\n", argv[0], WEXITSTATUS(st),
		    WEXITSTATUS(st) == 127 ? " (not found?)" : "");
		printf("failed=exit%d\n", WEXITSTATUS(st));
	} else {
		fprintf(stderr, "measure: %s killed by signal %d\n", argv[0],
		    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
		printf("failed=signal%d\n", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	}
	return -1;
}

static void
usage(void)
{
	fputs("usage: measure [-n REPEAT] [-l LOOPS] [-m best|median] [-q] -- argv...\n", stderr);
	exit(EXIT_USAGE);
}

int
main(int argc, char **argv)
{
	long repeat = 1, loops = 1, rss_kb, max_rss_kb = 0;
	int median = 0, quiet = 0, devnull, i;
	double *samples, value;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "-n") == 0) {
			if (parse_count(&repeat, v, 1, MAX_REPEAT) < 0)
				usage();
			i++;
		} else if (strcmp(a, "-l") == 0) {
			if (parse_count(&loops, v, 1, MAX_LOOPS) < 0)
				usage();
			i++;
		} else if (strcmp(a, "-m") == 0 && v != NULL) {
			if (strcmp(v, "best") == 0)
				median = 0;
			else if (strcmp(v, "median") == 0)
				median = 1;
			else
				usage();
			i++;
		} else if (strcmp(a, "-q") == 0) {
			quiet = 1;
		} else {
			usage();
		}
	}
	if (i >= argc)
		usage();

	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0) {
		fprintf(stderr, "measure: /dev/null: %s\n", strerror(errno));
		return EXIT_ENV;
	}
	samples = calloc((size_t)repeat, sizeof *samples);
	if (samples == NULL) {
		fputs("measure: out of memory\n", stderr);
		return EXIT_FAIL;
	}
	/* Our own stdout must not be buffered into the child's copy at fork. */
	fflush(stdout);
	for (long r = 0; r < repeat; r++) {
		double t0 = now_seconds();

		for (long l = 0; l < loops; l++) {
			if (run_once(&argv[i], devnull, quiet, &rss_kb) < 0) {
				free(samples);
				close(devnull);
				return EXIT_FAIL;
			}
			if (rss_kb > max_rss_kb)
				max_rss_kb = rss_kb;
		}
		samples[r] = (now_seconds() - t0) / (double)loops;
	}
	qsort(samples, (size_t)repeat, sizeof *samples, cmp_double);
	if (!median)
		value = samples[0];
	else if (repeat % 2)
		value = samples[repeat / 2];
	else
		value = (samples[repeat / 2 - 1] + samples[repeat / 2]) / 2;
	printf("seconds=%.6f maxrss_mb=%.1f runs=%ld loops=%ld stat=%s\n",
	    value, (double)max_rss_kb / 1024.0, repeat, loops, median ? "median" : "best");
	free(samples);
	close(devnull);
	return EXIT_OK;
}
