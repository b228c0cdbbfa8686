/*
 * main.c - the `firebreak` command as Puppet and people run it.
 *
 * Puppet runs `firebreak enc --state S FQDN` on every agent run, and the
 * process start is most of its cost: a binary linked with libgit2 (and
 * through it Kerberos, mbedTLS, libssh2, ...) spends twice as long in the
 * dynamic loader as `cat` spends altogether.  So this front links libc
 * alone, answers that one form itself, and hands every other command, as
 * it was given, to `firebreak-core` beside it (execv, no shell).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "state/enc.h"

enum { EXIT_OK = 0, EXIT_INPUT = 1, EXIT_ENV = 3 };

/* `enc --state S FQDN`, `enc --state=S FQDN` or `enc FQDN --state S`:
 * sets state and fqdn; anything else goes to the core. */
static int
fast_enc_args(int argc, char **argv, const char **state, const char **fqdn)
{
	int i;

	*state = *fqdn = NULL;
	if (argc < 3 || strcmp(argv[1], "enc") != 0)
		return 0;
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--state") == 0 && i + 1 < argc && !*state)
			*state = argv[++i];
		else if (strncmp(argv[i], "--state=", 8) == 0 && !*state)
			*state = argv[i] + 8;
		else if (argv[i][0] != '-' && !*fqdn)
			*fqdn = argv[i];
		else
			return 0;
	}
	return *state && *fqdn && **state;
}

static int
enc_fast(const char *state, const char *fqdn)
{
	int fd, rc = enc_open(&fd, state, fqdn);

	if (rc == ERR_INVALID || rc == ERR_NOTFOUND) {
		/* Puppet quotes the ENC's stdout in its error message. */
		printf("firebreak: %s\n", err_last());
		fflush(stdout);
		fprintf(stderr, "firebreak: %s\n", err_last());
		return EXIT_INPUT;
	}
	if (rc == OK) {
		rc = enc_copy(fd, STDOUT_FILENO);
		close(fd);
	}
	if (rc != OK) {
		fprintf(stderr, "firebreak: %s\n", err_last());
		return EXIT_ENV;
	}
	return EXIT_OK;
}

int
main(int argc, char **argv)
{
	const char *state, *fqdn;
	char self[PATH_MAX], core[PATH_MAX + 32];
	ssize_t n;
	char *slash;

	if (fast_enc_args(argc, argv, &state, &fqdn))
		return enc_fast(state, fqdn);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		fprintf(stderr, "firebreak: cannot find my own path: %s\n", strerror(errno));
		return EXIT_ENV;
	}
	self[n] = '\0';
	slash = strrchr(self, '/');
	snprintf(core, sizeof(core), "%.*s/firebreak-core", (int)(slash - self), self);
	argv[0] = core;
	execv(core, argv);
	fprintf(stderr, "firebreak: cannot run %s: %s\n", core, strerror(errno));
	return EXIT_ENV;
}
