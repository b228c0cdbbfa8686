/*
 * ircwatch - an IRC client for the e2e tests: joins a channel and records
 * every line the server sends, byte for byte (CRLF included), so a test
 * can check what others in the channel would see.
 *
 *	ircwatch -s HOST:PORT -n NICK -c CHANNEL -o LOG [-r READYFILE]
 *	         [-w NOTICES] [-t SECONDS]
 *
 * Creates READYFILE once the server confirmed the JOIN; answers PING;
 * exits 0 after NOTICES notices to the channel (default: run until the
 * timeout, 20 s, which exits 1).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int fd = -1;

static void
say(const char *line)
{
	ssize_t n = (ssize_t)strlen(line);

	if (write(fd, line, (size_t)n) != n) {
		perror("ircwatch: write");
		exit(1);
	}
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	const char *server = NULL, *nick = NULL, *chan = NULL, *logpath = NULL, *ready = NULL;
	int want = -1, got = 0, c, joined = 0;
	double deadline, timeout = 20;
	char host[256], *colon, buf[16384], mark[300];
	size_t have = 0;
	struct addrinfo hints, *res;
	FILE *log;

	while ((c = getopt(argc, argv, "s:n:c:o:r:w:t:")) != -1) {
		switch (c) {
		case 's': server = optarg; break;
		case 'n': nick = optarg; break;
		case 'c': chan = optarg; break;
		case 'o': logpath = optarg; break;
		case 'r': ready = optarg; break;
		case 'w': want = (int)strtol(optarg, NULL, 10); break;
		case 't': timeout = strtod(optarg, NULL); break;
		default: return 2;
		}
	}
	if (!server || !nick || !chan || !logpath || !(colon = strrchr(server, ':')))
		return 2;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - server), server);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return 1;
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
		perror("ircwatch: connect");
		return 1;
	}
	freeaddrinfo(res);
	if (!(log = fopen(logpath, "w")))
		return 1;
	snprintf(mark, sizeof(mark), "NICK %s\r\nUSER watch 0 * :watcher\r\n", nick);
	say(mark);
	snprintf(mark, sizeof(mark), " NOTICE %s :", chan);
	deadline = now() + timeout;
	while (now() < deadline && (want < 0 || got < want)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char *nl;
		ssize_t r;

		if (poll(&p, 1, 100) <= 0)
			continue;
		r = read(fd, buf + have, sizeof(buf) - have);
		if (r <= 0)
			break;
		have += (size_t)r;
		while ((nl = memchr(buf, '\n', have))) {
			size_t len = (size_t)(nl - buf) + 1;
			char line[sizeof(buf) + 1];

			memcpy(line, buf, len);
			line[len] = '\0';
			fwrite(line, 1, len, log);
			fflush(log);
			memmove(buf, buf + len, have - len);
			have -= len;
			if (strncmp(line, "PING ", 5) == 0) {
				line[1] = 'O';
				if (write(fd, line, len) < 0)
					return 1;
			} else if (!joined && strstr(line, " 001 ")) {
				char join[300];

				snprintf(join, sizeof(join), "JOIN %s\r\n", chan);
				say(join);
			} else if (!joined && strstr(line, " 366 ")) {
				joined = 1;
				if (ready) {
					FILE *f = fopen(ready, "w");

					if (f)
						fclose(f);
				}
			} else if (strstr(line, mark)) {
				got++;
			}
		}
		if (have == sizeof(buf))
			have = 0;
	}
	fclose(log);
	return want < 0 || got >= want ? 0 : 1;
}
