/*
 * replay.c - run a fuzz target's corpus without libFuzzer, for `make test`
 * (built with the normal compiler, and with ASan + UBSan under SAN=1).
 *
 *   replay NAME FILE_OR_DIR...
 *
 * Every file (a directory: every regular file in it, sorted) is handed to
 * the target's LLVMFuzzerTestOneInput in a child process of its own, so
 * one crash names its input and LeakSanitizer checks each input at the
 * child's exit.  Prints one TAP line for the whole target: "ok 1 - NAME:
 * N inputs", or "not ok 1 - NAME: FILE: how it died" followed by the tail
 * of the child's output as "# " lines.  An empty corpus is a failure: a
 * target that replays nothing tests nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#define REPLAY_MAX_INPUT (16u << 20)
#define REPLAY_TAIL 8192

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read a whole file into *data (malloc'ed; the caller frees). */
static int
read_file(const char *path, uint8_t **data, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *p = NULL;
	size_t n = 0, alloc = 0;
	ssize_t r;

	if (fd < 0)
		return -1;
	for (;;) {
		if (n == alloc) {
			uint8_t *q;

			alloc = alloc ? alloc * 2 : 4096;
			if (alloc > REPLAY_MAX_INPUT || !(q = realloc(p, alloc)))
				goto fail;
			p = q;
		}
		r = read(fd, p + n, alloc - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*data = p;
	*len = n;
	return 0;
fail:
	close(fd);
	free(p);
	return -1;
}

/*
 * Run one input in a child whose stdout and stderr go to `out` (a temp
 * file).  0 when it returned and exited cleanly.
 */
static int
run_one(const char *path, FILE *out, char *why, size_t whylen)
{
	uint8_t *data;
	size_t len;
	pid_t pid;
	int st;

	if (read_file(path, &data, &len) != 0) {
		snprintf(why, whylen, "cannot read: %s", strerror(errno));
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		free(data);
		return -1;
	}
	if (pid == 0) {
		dup2(fileno(out), 1);
		dup2(fileno(out), 2);
		LLVMFuzzerTestOneInput(data, len);
		free(data);
		exit(0);   /* not _exit: LeakSanitizer checks at exit */
	}
	free(data);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			snprintf(why, whylen, "waitpid: %s", strerror(errno));
			return -1;
		}
	if (WIFSIGNALED(st)) {
		snprintf(why, whylen, "killed by signal %d", WTERMSIG(st));
		return -1;
	}
	if (WEXITSTATUS(st) != 0) {
		snprintf(why, whylen, "exited %d", WEXITSTATUS(st));
		return -1;
	}
	return 0;
}

/* The last REPLAY_TAIL bytes of `out`, as TAP comment lines. */
static void
print_tail(FILE *out)
{
	static char tail[REPLAY_TAIL + 1];
	long end;
	size_t n;
	char *line, *nl;

	fflush(out);
	if (fseek(out, 0, SEEK_END) != 0 || (end = ftell(out)) < 0)
		return;
	fseek(out, end > REPLAY_TAIL ? end - REPLAY_TAIL : 0, SEEK_SET);
	n = fread(tail, 1, REPLAY_TAIL, out);
	tail[n] = '\0';
	for (line = tail; *line; line = nl + 1) {
		if (!(nl = strchr(line, '\n'))) {
			printf("# %s\n", line);
			break;
		}
		*nl = '\0';
		printf("# %s\n", line);
	}
}

/* Global, so that LeakSanitizer in a child sees the list as reachable. */
static char **files;
static size_t nfiles;

int
main(int argc, char **argv)
{
	char why[256];
	size_t i;
	const char *name;
	FILE *out;
	int a;

	if (argc < 3) {
		fprintf(stderr, "usage: %s NAME FILE_OR_DIR...\n", argv[0]);
		return 2;
	}
	name = argv[1];
	for (a = 2; a < argc; a++) {
		struct stat sb;
		DIR *d;
		struct dirent *e;

		if (stat(argv[a], &sb) != 0) {
			printf("1..1\nnot ok 1 - fuzz %s: %s: %s\n", name, argv[a], strerror(errno));
			return 1;
		}
		if (!S_ISDIR(sb.st_mode)) {
			files = realloc(files, (nfiles + 1) * sizeof(*files));
			files[nfiles++] = strdup(argv[a]);
			continue;
		}
		if (!(d = opendir(argv[a]))) {
			printf("1..1\nnot ok 1 - fuzz %s: %s: %s\n", name, argv[a], strerror(errno));
			return 1;
		}
		while ((e = readdir(d))) {
			char path[4096];
			int n;

			if (e->d_name[0] == '.')
				continue;
			n = snprintf(path, sizeof(path), "%s/%s", argv[a], e->d_name);
			if (n < 0 || (size_t)n >= sizeof(path) || stat(path, &sb) != 0 ||
			    !S_ISREG(sb.st_mode))
				continue;
			files = realloc(files, (nfiles + 1) * sizeof(*files));
			files[nfiles++] = strdup(path);
		}
		closedir(d);
	}
	printf("1..1\n");
	if (nfiles == 0) {
		printf("not ok 1 - fuzz %s: no inputs (an empty corpus tests nothing)\n", name);
		return 1;
	}
	qsort(files, nfiles, sizeof(*files), cmp_str);
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	if (!(out = tmpfile())) {
		printf("not ok 1 - fuzz %s: tmpfile: %s\n", name, strerror(errno));
		return 1;
	}
	for (i = 0; i < nfiles; i++) {
		if (ftruncate(fileno(out), 0) != 0 || fseek(out, 0, SEEK_SET) != 0)
			return 1;
		if (run_one(files[i], out, why, sizeof(why)) != 0) {
			printf("not ok 1 - fuzz %s: %s: %s\n", name, files[i], why);
			print_tail(out);
			return 1;
		}
	}
	printf("ok 1 - fuzz %s: %zu inputs\n", name, nfiles);
	for (i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	fclose(out);
	return 0;
}
