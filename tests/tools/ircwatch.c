/*
 * ircwatch - an IRC client for the e2e tests: joins a channel and records
 * every line the server sends, byte for byte (CRLF included), so a test
 * can check what others in the channel would see; and says lines there,
 * so a test can address the bot as a person would.
 *
 *	ircwatch -s HOST:PORT -n NICK -c CHANNEL -o LOG [-r READYFILE]
 *	         [-w NOTICES] [-a PREFIX] [-t SECONDS] [-j NICK] [-m TEXT]...
 *	         [-L ACCOUNT:PASSWORD | -N TEXT [-J]]
 *
 * Creates READYFILE once the server confirmed the JOIN; answers PING.
 *
 * Logging in to a services account (before joining, unless -J):
 * -L ACCOUNT:PASSWORD logs in by SASL PLAIN while registering (CAP LS 302,
 * CAP REQ :sasl, AUTHENTICATE PLAIN, the base64 of "ACCOUNT\0ACCOUNT\0
 * PASSWORD", CAP END after 903), so the nick may differ from the account;
 * a server without SASL, or a refusal (902, 904-908, CAP NAK), exits 1
 * with the server's line on stderr.  -N TEXT says TEXT to NickServ once
 * registered ("REGISTER PASSWORD EMAIL", "IDENTIFY ACCOUNT PASSWORD") and
 * waits for the server to say we are logged in (900); without it by the
 * timeout, exits 1 with NickServ's last notice on stderr.  -J (with -N
 * and -c): join first, then say TEXT, so the channel sees the login
 * happen (IRCv3 account-notify); the -m lines wait for the login.  With
 * -L or -N, -c is optional: without it, ircwatch leaves (exit 0) once
 * logged in.
 *
 * -m TEXT (repeatable, up to 16): once joined, say each TEXT in the
 * channel as "PRIVMSG CHANNEL :TEXT", in order, a quarter of a second
 * apart (so the server's flood control does not hold them back).  TEXT
 * may hold any byte but CR, LF and NUL (formatting codes, \x01 for CTCP).
 * -j NICK: say them only once NICK is in the channel (in the NAMES list at
 * our join, or joining after), so the bot cannot miss them.
 *
 * With -w NOTICES, exits 0 once that many notices to the channel arrived
 * and every -m line was said (with -m, counting only those from the first
 * line said on: the bot's answers), or 1 at the timeout (20 s).  With -m and no -w, exits 0 as
 * soon as the lines are said.  -a PREFIX: count only the notices whose
 * text starts with PREFIX ("carol: ": the answers to carol).  With neither, records until the timeout
 * and exits 0.  Exits 1 when the -m lines could not all be said (no JOIN,
 * or -j's nick never came).  Leaves with QUIT and waits for the server to
 * close, so what was said is not lost to a reset.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

/* QUIT, then read until the server hangs up (2 s at most): closing with
 * unread input would reset the connection, and the server could drop
 * what we said last. */
static void
bye(FILE *log)
{
	static const char quit[] = "QUIT :done\r\n";
	char sink[4096];
	int i;

	/* The server may be gone already: no complaint then. */
	if (write(fd, quit, sizeof(quit) - 1) < 0) {
		close(fd);
		return;
	}
	shutdown(fd, SHUT_WR);
	for (i = 0; i < 20; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 100) <= 0)
			continue;
		if ((r = read(fd, sink, sizeof(sink))) <= 0)
			break;
		fwrite(sink, 1, (size_t)r, log);
	}
	close(fd);
}

/* Is `nick` one of the names in a 353 (NAMES) line, past its " :"? */
static int
in_names(const char *line, const char *nick)
{
	const char *p = strstr(line + 1, " :"), *e;
	size_t n = strlen(nick);

	if (!p)
		return 0;
	for (p += 2; *p; p = e) {
		while (*p == ' ')
			p++;
		while (*p && strchr("@+%&~", *p))
			p++;
		for (e = p; *e && *e != ' ' && *e != '\r' && *e != '\n'; e++)
			;
		if ((size_t)(e - p) == n && strncasecmp(p, nick, n) == 0)
			return 1;
		if (!*e || *e == '\r' || *e == '\n')
			break;
	}
	return 0;
}

/* Is `line` ":NICK!... JOIN CHANNEL" (or "JOIN :CHANNEL")? */
static int
is_join(const char *line, const char *nick, const char *chan)
{
	size_t n = strlen(nick), cl = strlen(chan);
	const char *j;

	if (line[0] != ':' || strncasecmp(line + 1, nick, n) != 0 || line[1 + n] != '!')
		return 0;
	if (!(j = strstr(line, " JOIN ")))
		return 0;
	j += 6;
	if (*j == ':')
		j++;
	return strncasecmp(j, chan, cl) == 0 && strchr(" \r\n", j[cl]) != NULL;
}

/* Standard base64 (RFC 4648, padded) of `n` bytes into `out`, which
 * holds 4 * ((n + 2) / 3) + 1 bytes. */
static void
base64(char *out, const unsigned char *in, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		*out++ = tab[in[i] >> 2];
		*out++ = tab[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		*out++ = tab[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
		*out++ = tab[in[i + 2] & 63];
	}
	if (n - i == 1) {
		*out++ = tab[in[i] >> 2];
		*out++ = tab[(in[i] & 3) << 4];
		*out++ = '=';
		*out++ = '=';
	} else if (n - i == 2) {
		*out++ = tab[in[i] >> 2];
		*out++ = tab[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		*out++ = tab[(in[i + 1] & 15) << 2];
		*out++ = '=';
	}
	*out = '\0';
}

/* The IRC command of `line` (past its tags and prefix), and its length. */
static const char *
command_of(const char *line, size_t *len)
{
	const char *p = line;

	if (*p == '@')
		p = strchr(p, ' ') ? strchr(p, ' ') + 1 : p + strlen(p);
	if (*p == ':')
		p = strchr(p, ' ') ? strchr(p, ' ') + 1 : p + strlen(p);
	*len = strcspn(p, " \r\n");
	return p;
}

static int
is_command(const char *line, const char *cmd)
{
	size_t n;
	const char *c = command_of(line, &n);

	return n == strlen(cmd) && strncmp(c, cmd, n) == 0;
}

/* Does the CAP list at the end of `line` (past " :") name `cap`, alone or
 * as "cap=values"? */
static int
cap_listed(const char *line, const char *cap)
{
	const char *p = strstr(line, " :"), *e;
	size_t n = strlen(cap);

	if (!p)
		return 0;
	for (p += 2; *p; p = e) {
		while (*p == ' ')
			p++;
		e = p + strcspn(p, " \r\n");
		if ((size_t)(e - p) >= n && strncmp(p, cap, n) == 0 &&
		    ((size_t)(e - p) == n || p[n] == '='))
			return 1;
		if (!*e || *e == '\r' || *e == '\n')
			break;
	}
	return 0;
}

/* Give up on logging in: what the server said, on stderr. */
static void
login_failed(const char *what, const char *line)
{
	fprintf(stderr, "ircwatch: %s: %.*s\n", what, (int)strcspn(line, "\r\n"), line);
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
	const char *wait_nick = NULL, *msgs[16], *prefix = NULL;
	const char *sasl = NULL, *nickserv = NULL;
	int want = -1, got = 0, c, joined = 0, present = 0, rc;
	int registered = 0, logged_in = 0, join_sent = 0, failed = 0, join_first = 0, ns_sent = 0;
	char ns_said[512] = "";
	size_t nmsgs = 0, said = 0;
	double deadline, timeout = 20, next_say = 0;
	char host[256], *colon, buf[16384], mark[300];
	size_t have = 0;
	struct addrinfo hints, *res;
	FILE *log;

	while ((c = getopt(argc, argv, "s:n:c:o:r:w:t:j:m:a:L:N:J")) != -1) {
		switch (c) {
		case 's': server = optarg; break;
		case 'n': nick = optarg; break;
		case 'c': chan = optarg; break;
		case 'o': logpath = optarg; break;
		case 'r': ready = optarg; break;
		case 'w': want = (int)strtol(optarg, NULL, 10); break;
		case 't': timeout = strtod(optarg, NULL); break;
		case 'j': wait_nick = optarg; break;
		case 'a': prefix = optarg; break;
		case 'L': sasl = optarg; break;
		case 'N': nickserv = optarg; break;
		case 'J': join_first = 1; break;
		case 'm':
			if (nmsgs == sizeof(msgs) / sizeof(msgs[0]) || strpbrk(optarg, "\r\n") ||
			    strlen(optarg) > 400) {
				fprintf(stderr, "ircwatch: -m: at most 16 lines of 400 bytes, "
				    "without CR or LF\n");
				return 2;
			}
			msgs[nmsgs++] = optarg;
			break;
		default: return 2;
		}
	}
	if (!server || !nick || !logpath || !(colon = strrchr(server, ':')) ||
	    (!chan && !sasl && !nickserv) || (sasl && nickserv) || (!chan && nmsgs) ||
	    (join_first && (!nickserv || !chan)))
		return 2;
	/* -L's 100 bytes keep the base64 answer under 400 bytes: one
	 * AUTHENTICATE line, never the continuation lines of longer ones. */
	if ((sasl && (!strchr(sasl, ':') || strlen(sasl) > 100 || strpbrk(sasl, "\r\n"))) ||
	    (nickserv && (strlen(nickserv) > 400 || strpbrk(nickserv, "\r\n")))) {
		fprintf(stderr, "ircwatch: -L ACCOUNT:PASSWORD (100 bytes at most), "
		    "-N TEXT (400), without CR or LF\n");
		return 2;
	}
	present = wait_nick == NULL;
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
	/* With -L, CAP LS first: the server holds the registration until
	 * CAP END, which we send once SASL succeeded. */
	snprintf(mark, sizeof(mark), "%sNICK %s\r\nUSER watch 0 * :watcher\r\n",
	    sasl ? "CAP LS 302\r\n" : "", nick);
	say(mark);
	snprintf(mark, sizeof(mark), " NOTICE %s :", chan ? chan : "");
	deadline = now() + timeout;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char *nl;
		ssize_t r;

		if (failed)
			break;
		if (!chan && logged_in && registered)
			break;      /* only logging in: done */
		if (said == nmsgs && ((want >= 0 && got >= want) || (want < 0 && nmsgs)))
			break;
		if (now() >= deadline)
			break;
		/* Join once registered and, with -L or -N (without -J), logged in. */
		if (chan && registered && !join_sent &&
		    (logged_in || join_first || (!sasl && !nickserv))) {
			char join[300];

			snprintf(join, sizeof(join), "JOIN %s\r\n", chan);
			say(join);
			join_sent = 1;
			continue;
		}
		/* -J: log in once in the channel with -j's nick, so that it
		 * sees the login happen. */
		if (join_first && joined && present && !ns_sent) {
			char ns[512];

			snprintf(ns, sizeof(ns), "PRIVMSG NickServ :%s\r\n", nickserv);
			say(ns);
			ns_sent = 1;
			continue;
		}
		/* Say the next line once joined, the other nick is there and,
		 * with -L or -N, we are logged in. */
		if (joined && present && said < nmsgs && now() >= next_say &&
		    (logged_in || (!sasl && !nickserv))) {
			char line[512];

			snprintf(line, sizeof(line), "PRIVMSG %s :%s\r\n", chan, msgs[said++]);
			say(line);
			next_say = now() + 0.25;
			if (said == 1)
				got = 0;    /* count the answers from here */
			continue;
		}
		if (poll(&p, 1, 50) <= 0)
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
			} else if (!registered && is_command(line, "001")) {
				registered = 1;
				if (nickserv && !join_first) {
					char ns[512];

					snprintf(ns, sizeof(ns), "PRIVMSG NickServ :%s\r\n", nickserv);
					say(ns);
					ns_sent = 1;
				}
			} else if (is_command(line, "900")) {
				logged_in = 1;
			} else if (sasl && !logged_in && is_command(line, "CAP")) {
				if (strstr(line, " LS * :")) {
					/* more of the list to come */
				} else if (strstr(line, " LS ") && cap_listed(line, "sasl")) {
					say("CAP REQ :sasl\r\n");
				} else if (strstr(line, " ACK ") && cap_listed(line, "sasl")) {
					say("AUTHENTICATE PLAIN\r\n");
				} else if (strstr(line, " LS ") || strstr(line, " NAK ")) {
					login_failed("the server offers no SASL", line);
					failed = 1;
				}
			} else if (sasl && is_command(line, "AUTHENTICATE")) {
				/* "AUTHENTICATE +": send "account\0account\0password" */
				unsigned char plain[210];
				char b64[300], out[320];
				size_t al = (size_t)(strchr(sasl, ':') - sasl), pl = strlen(sasl) - al - 1;

				memcpy(plain, sasl, al);
				plain[al] = '\0';
				memcpy(plain + al + 1, sasl, al);
				plain[2 * al + 1] = '\0';
				memcpy(plain + 2 * al + 2, sasl + al + 1, pl);
				base64(b64, plain, 2 * al + 2 + pl);
				snprintf(out, sizeof(out), "AUTHENTICATE %s\r\n", b64);
				say(out);
			} else if (sasl && is_command(line, "903")) {
				say("CAP END\r\n");
			} else if (sasl && (is_command(line, "902") || is_command(line, "904") ||
			    is_command(line, "905") || is_command(line, "906") ||
			    is_command(line, "907") || is_command(line, "908"))) {
				login_failed("SASL login refused", line);
				failed = 1;
			} else if (nickserv && !logged_in && strncasecmp(line, ":NickServ!", 10) == 0 &&
			    is_command(line, "NOTICE")) {
				snprintf(ns_said, sizeof(ns_said), "%.500s", line);
			} else if (!present && strstr(line, " 353 ") && in_names(line, wait_nick)) {
				present = 1;
			} else if (!present && is_join(line, wait_nick, chan)) {
				present = 1;
			} else if (!joined && strstr(line, " 366 ")) {
				joined = 1;
				if (ready) {
					FILE *f = fopen(ready, "w");

					if (f)
						fclose(f);
				}
			} else if (strstr(line, mark)) {
				const char *text = strstr(line, mark) + strlen(mark);

				if (!prefix || strncmp(text, prefix, strlen(prefix)) == 0)
					got++;
			}
		}
		if (have == sizeof(buf))
			have = 0;
	}
	if (failed)
		rc = 1;                  /* the login was refused */
	else if ((sasl || nickserv) && !logged_in) {
		rc = 1;
		login_failed(nickserv ? "NickServ did not log us in; it said" :
		    "no login by the timeout", ns_said[0] ? ns_said : "(nothing)");
	} else if (said < nmsgs)
		rc = 1;                  /* never joined, or the nick never came */
	else if (want >= 0)
		rc = got >= want ? 0 : 1;
	else
		rc = 0;
	bye(log);
	fclose(log);
	return rc;
}
