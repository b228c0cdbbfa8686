/*
 * slackstub - a stand-in for Slack's Web API and for incoming webhooks,
 * for the e2e tests: an HTTP/1.1 server on 127.0.0.1 that records every
 * request as one JSON line and answers like Slack would.
 *
 *	slackstub [-p PORT] [-P PORTFILE] [-o LOG] [-4 N] [-5 N] [-E ERROR]
 *
 *	-p   port to listen on (default 0: any free one)
 *	-P   write the port chosen to this file (when listening), also printed
 *	-o   the request log (default stdout): one JSON object per line,
 *	     {"n", "method", "path", "headers" {lower-case name: value},
 *	      "body" (the raw body as a string), "status", "ts"}
 *	-4   answer the first N requests 429 with Retry-After: 1
 *	-5   answer the next N requests 503
 *	-E   answer every other request 200 {"ok": false, "error": ERROR}
 *
 * Otherwise a path ending in /chat.postMessage gets 200 {"ok": true,
 * "channel": "C0TEST", "ts": "1767225600.0000NN"} (NN counting the
 * requests), and any other path 200 "ok" (what an incoming webhook says).
 * One connection at a time, closed after each answer.  Runs until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX (64 * 1024)
#define BODY_MAX (8 * 1024 * 1024)

static int
write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read one request: head (up to the blank line) and body (Content-Length).
 * Returns the head length, or -1. */
static long
read_request(int fd, char **buf, size_t *len)
{
	size_t cap = HEAD_MAX + BODY_MAX, have = 0, head = 0, want = 0;
	char *b = malloc(cap + 1), *end;

	if (!b)
		return -1;
	for (;;) {
		ssize_t r;

		if (head && have >= head + want)
			break;
		if (have == cap)
			goto fail;
		r = read(fd, b + have, cap - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto fail;
		have += (size_t)r;
		b[have] = '\0';
		if (!head && (end = strstr(b, "\r\n\r\n"))) {
			char *cl, *p;

			head = (size_t)(end - b) + 4;
			for (p = b; p < end; p = strstr(p, "\r\n") + 2) {
				if (strncasecmp(p, "Content-Length:", 15) == 0) {
					cl = p + 15;
					want = strtoul(cl, NULL, 10);
					if (want > BODY_MAX)
						goto fail;
				}
				if (!strstr(p, "\r\n"))
					break;
			}
		}
		if (!head && have > HEAD_MAX)
			goto fail;
	}
	*buf = b;
	*len = head + want;
	b[*len] = '\0';
	return (long)head;
fail:
	free(b);
	return -1;
}

int
main(int argc, char **argv)
{
	const char *portfile = NULL, *logpath = NULL, *error = NULL;
	int port = 0, n429 = 0, n503 = 0, c, lfd, one = 1;
	unsigned long n = 0;
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	FILE *log = stdout;

	while ((c = getopt(argc, argv, "p:P:o:4:5:E:")) != -1) {
		switch (c) {
		case 'p': port = (int)strtol(optarg, NULL, 10); break;
		case 'P': portfile = optarg; break;
		case 'o': logpath = optarg; break;
		case '4': n429 = (int)strtol(optarg, NULL, 10); break;
		case '5': n503 = (int)strtol(optarg, NULL, 10); break;
		case 'E': error = optarg; break;
		default:
			fprintf(stderr, "usage: slackstub [-p PORT] [-P PORTFILE] [-o LOG] "
			    "[-4 N] [-5 N] [-E ERROR]\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (logpath && !(log = fopen(logpath, "a"))) {
		perror(logpath);
		return 1;
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 16) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen) != 0) {
		perror("slackstub: listen");
		return 1;
	}
	port = ntohs(sa.sin_port);
	if (portfile) {
		char tmp[4096];
		FILE *f;

		snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
		if (!(f = fopen(tmp, "w")) || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 ||
		    rename(tmp, portfile) != 0) {
			perror(portfile);
			return 1;
		}
	}
	printf("%d\n", port);
	fflush(stdout);

	for (;;) {
		int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		char *req = NULL, *p, *eol, *line, resp[1024], ts[64] = "", body[256];
		size_t len;
		long head;
		int status;
		json_t *rec, *hdrs;

		if (cfd < 0)
			continue;
		if ((head = read_request(cfd, &req, &len)) < 0) {
			close(cfd);
			continue;
		}
		n++;
		rec = json_object();
		hdrs = json_object();
		/* Request line, then headers. */
		eol = strstr(req, "\r\n");
		*eol = '\0';
		line = req;
		p = strchr(line, ' ');
		if (p) {
			char *q;

			*p++ = '\0';
			q = strchr(p, ' ');
			if (q)
				*q = '\0';
			json_object_set_new(rec, "path", json_string(p));
		}
		json_object_set_new(rec, "method", json_string(line));
		for (p = eol + 2; p < req + head - 2; p = eol + 2) {
			char *colon, *v;

			eol = strstr(p, "\r\n");
			*eol = '\0';
			if (!(colon = strchr(p, ':')))
				continue;
			*colon = '\0';
			for (v = p; *v; v++)
				if (*v >= 'A' && *v <= 'Z')
					*v = (char)(*v - 'A' + 'a');
			v = colon + 1;
			while (*v == ' ')
				v++;
			{
				json_t *hv = json_string(v);

				json_object_set_new(hdrs, p, hv ? hv : json_string("?"));
			}
		}
		json_object_set_new(rec, "n", json_integer((json_int_t)n));
		json_object_set_new(rec, "headers", hdrs);
		{
			json_t *bs = json_stringn(req + head, len - (size_t)head);

			json_object_set_new(rec, "body", bs ? bs : json_string("<not utf-8>"));
		}

		if ((long)n <= n429) {
			status = 429;
			snprintf(body, sizeof(body), "{\"ok\":false,\"error\":\"ratelimited\"}");
			snprintf(resp, sizeof(resp), "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\n");
		} else if ((long)n <= n429 + n503) {
			status = 503;
			snprintf(body, sizeof(body), "upstream unavailable");
			snprintf(resp, sizeof(resp), "HTTP/1.1 503 Service Unavailable\r\n");
		} else if (error) {
			status = 200;
			snprintf(body, sizeof(body), "{\"ok\":false,\"error\":\"%.100s\"}", error);
			snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\n");
		} else {
			status = 200;
			snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\n");
			if (json_is_string(json_object_get(rec, "path")) &&
			    strstr(json_string_value(json_object_get(rec, "path")), "/chat.postMessage")) {
				snprintf(ts, sizeof(ts), "1767225600.%06lu", n);
				snprintf(body, sizeof(body),
				    "{\"ok\":true,\"channel\":\"C0TEST\",\"ts\":\"%s\"}", ts);
			} else {
				snprintf(body, sizeof(body), "ok");
			}
		}
		json_object_set_new(rec, "status", json_integer(status));
		if (ts[0])
			json_object_set_new(rec, "ts", json_string(ts));
		{
			char *text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);

			fprintf(log, "%s\n", text);
			fflush(log);
			free(text);
		}
		json_decref(rec);
		{
			char all[2048];
			int k = snprintf(all, sizeof(all), "%sContent-Type: %s\r\nContent-Length: %zu\r\n"
			    "Connection: close\r\n\r\n%s", resp,
			    body[0] == '{' ? "application/json; charset=utf-8" : "text/plain",
			    strlen(body), body);

			write_all(cfd, all, (size_t)k);
		}
		shutdown(cfd, SHUT_WR);
		close(cfd);
		free(req);
	}
}
