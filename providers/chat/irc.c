/*
 * irc.c - IRC: NOTICEs to one channel, and the commands people address to
 * the bot there.
 *
 *	chat:
 *	  - {type: irc, server: "127.0.0.1:6667", nick: firebreak, channel: "#ops",
 *	     password_file: /etc/firebreak/irc-pass,      # optional: PASS
 *	     allow_approve: false}                        # optional, default false
 *
 * allow_approve is not used here: IRC nicks can be taken by anyone, so the
 * core accepts `approve` from IRC only when this says true (it reads the
 * key itself, from the config or outbox_backend_cfg()).  It is checked
 * here, plain true or false only, so that a typo or another spelling fails
 * at start-up instead of silently meaning something.
 *
 * The connection lives in tick(): a non-blocking connect (10 s), then
 * PASS/NICK/USER, the welcome (001), JOIN and the server's echo of our
 * JOIN; only then may post() send.  A nick in use (433) gets a "_" and is
 * tried again.  PING is answered with PONG; when the server is silent for
 * two minutes we PING it, and after three we give up on the connection.
 * A lost connection (EOF, ERROR, timeouts, a refused JOIN) is retried
 * after 1 s, doubling to at most 60 s, and set back to 1 s once joined.
 * post() while not joined is ERR_AGAIN, with a retry hint for when the
 * next attempt should have finished.
 *
 * A message becomes at most five NOTICE lines: the summary, the first
 * lines of the body (the changes by kind, not the diff), and a last line
 * with "approve 17 / discard 17" and the link.  CR, LF and TAB become
 * spaces and every other control character (IRC's colour and bold codes
 * among them) is dropped, so no text can end a line and start a command.
 * Each line we send is at most 512 bytes with its CRLF, and leaves room
 * for the ":nick!user@host " prefix the server puts in front when it
 * relays the line, so the copy others receive is not cut either.
 *
 * A message that answers someone (chat_message.to) has their nick in front
 * of each line, "carol: ...", as people address each other on IRC.
 *
 * Inbound: a PRIVMSG to our channel whose text starts with our current
 * nick and ':' or ',' ("firebreak: deploy app 1.4.3", "FireBreak, status";
 * nicks compare in RFC 1459's case mapping) is a command; anything else
 * said in the channel, private messages and CTCP (ACTION and the like) are
 * ignored.  IRC's formatting codes (bold, colour, reverse, italic,
 * underline, reset) are stripped; a command holding any other control
 * character, invalid UTF-8 or more than 400 bytes is refused whole rather
 * than guessed at, as is one from a nick outside RFC 2812's syntax.  At
 * most 32 commands wait for recv(); more are dropped.  Refusals and drops
 * are counted and logged, at most one line a second, naming the nick (a
 * checked name) but never the text.
 *
 * IRC has no delivery receipt: a message counts as delivered once it is
 * written to the socket.  One that the kernel accepted just before the
 * connection died is lost; the outbox cannot tell.  DNS resolution of a
 * host name blocks (getaddrinfo); use an address where that matters.
 */
#include "providers/chat/chat.h"
#include "providers/chat/chat_util.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"

#define IRC_LINE_MAX 512          /* with CRLF (RFC 1459, 2812) */
#define IRC_IN_MAX 8192           /* IRCv3 tags may precede the 512 */
#define IRC_OUT_MAX (64 * 1024)   /* unsent bytes before we give up */
#define IRC_NOTICES_MAX 5
#define IRC_NICK_MAX 30
#define IRC_CHANNEL_MAX 50
#define IRC_BACKOFF_MAX 60
#define IRC_RELAY_RESERVE 80      /* "!~user@host " around the nick */
#define IRC_PEER_NICK_MAX 32      /* others' nicks, when they address us */
#define IRC_INBOUND_MAX 32        /* commands waiting for recv() */
#define IRC_COMMAND_MAX 400       /* bytes of one command */

enum irc_state { IRC_DOWN, IRC_CONNECTING, IRC_REGISTERING, IRC_JOINING, IRC_READY };

struct irc {
	char *host, *port;
	char *channel;
	char *password;               /* a secret, or NULL */
	char nick_base[IRC_NICK_MAX + 1];
	char nick[IRC_NICK_MAX + 1];
	int fd;
	enum irc_state state;
	double next_try;              /* IRC_DOWN: connect again then */
	double deadline;              /* connecting, registering, joining: give up then */
	unsigned backoff;             /* seconds before the next reconnect */
	double last_rx;
	int ping_sent;
	char in[IRC_IN_MAX];
	size_t in_len;
	int in_skip;                  /* dropping an overlong line up to its LF */
	struct buf out;
	char why[256];                /* why we are not connected */
	struct chat_inbound inq[IRC_INBOUND_MAX];   /* a ring: inq_n from inq_head */
	size_t inq_head, inq_n;
	unsigned long refused;        /* commands refused (bad text, bad nick) */
	unsigned long dropped;        /* commands dropped: the queue was full */
	double noted_at;              /* when the last refusal was logged */
};

static void irc_fail(struct irc *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A nick of at most `max` bytes in RFC 2812's syntax. */
static int
nick_ok(const char *n, size_t max)
{
	size_t i, len = strlen(n);

	if (len == 0 || len > max)
		return 0;
	for (i = 0; i < len; i++) {
		char ch = n[i];
		int letter = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
		int special = strchr("[]\\`_^{|}", ch) != NULL;
		int rest = (ch >= '0' && ch <= '9') || ch == '-';

		if (!(letter || special || (i > 0 && rest)))
			return 0;
	}
	return 1;
}

/* RFC 1459's case mapping: []\~ are the upper case of {}|^. */
static int
irc_lower(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A' + 'a';
	switch (ch) {
	case '[': return '{';
	case ']': return '}';
	case '\\': return '|';
	case '~': return '^';
	default: return ch;
	}
}

/* Compare the first n bytes of a and b (or up to a NUL) in that mapping:
 * 0 when equal. */
static int
irc_ncasecmp(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int x = irc_lower((unsigned char)a[i]), y = irc_lower((unsigned char)b[i]);

		if (x != y)
			return x - y;
		if (!x)
			return 0;
	}
	return 0;
}

static int
irc_casecmp(const char *a, const char *b)
{
	return irc_ncasecmp(a, b, (size_t)-1);
}

static int
channel_ok(const char *ch)
{
	size_t i, len = strlen(ch);

	if (len < 2 || len > IRC_CHANNEL_MAX || (ch[0] != '#' && ch[0] != '&'))
		return 0;
	for (i = 1; i < len; i++)
		if ((unsigned char)ch[i] <= 0x20 || ch[i] == ',' || ch[i] == ':' ||
		    ch[i] == 0x7f)
			return 0;
	return 1;
}

static void
irc_close(void *st)
{
	struct irc *c = st;

	if (!c)
		return;
	if (c->fd >= 0) {
		double until = log_now() + 2.0;
		char sink[4096];

		/* Say goodbye, then let the server read everything we sent
		 * before the socket goes: closing with unread input makes the
		 * kernel reset the connection, and the server may then drop our
		 * last NOTICEs unread. */
		if (c->state >= IRC_REGISTERING) {
			buf_puts(&c->out, "QUIT :firebreak stopping\r\n");
			while (c->out.len && log_now() < until) {
				struct pollfd p = { .fd = c->fd, .events = POLLOUT };
				ssize_t n;

				if (poll(&p, 1, 100) <= 0)
					continue;
				n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
				if (n < 0 && errno != EAGAIN && errno != EINTR)
					break;
				if (n > 0) {
					memmove(c->out.data, c->out.data + n, c->out.len - (size_t)n);
					c->out.len -= (size_t)n;
				}
			}
			shutdown(c->fd, SHUT_WR);
			while (log_now() < until) {
				struct pollfd p = { .fd = c->fd, .events = POLLIN };
				ssize_t n;

				if (poll(&p, 1, 100) <= 0)
					continue;
				n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);
				if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
					break;
			}
		}
		close(c->fd);
	}
	while (c->inq_n) {
		chat_inbound_dispose(&c->inq[c->inq_head]);
		c->inq_head = (c->inq_head + 1) % IRC_INBOUND_MAX;
		c->inq_n--;
	}
	chat_secret_free(c->password);
	free(c->host);
	free(c->port);
	free(c->channel);
	buf_dispose(&c->out);
	free(c);
}

/*
 * Plain `true` or `false`, or absent/null.  Not YAML 1.1's other spellings
 * (yes, on, True): every reader of the key, the bot's too, then agrees on
 * what it says, and a security switch is written one way only.
 */
static int
cfg_bool_ok(const struct ynode *cfg, const char *key)
{
	const struct ynode *v = ynode_get(cfg, key);

	if (!v || (v->type == YNODE_SCALAR && ynode_scalar_kind(v) == YSCALAR_NULL))
		return OK;
	if (v->type != YNODE_SCALAR || ynode_scalar_kind(v) != YSCALAR_BOOL)
		return err_set(ERR_INVALID, "%s: must be true or false, not %s", key,
		    ynode_type_name(v));
	if (strcmp(v->str, "true") != 0 && strcmp(v->str, "false") != 0)
		return err_set(ERR_INVALID, "%s: write true or false, not '%s'", key, v->str);
	return OK;
}

static int
irc_open(void **out, const struct ynode *cfg)
{
	static const char *const keys[] = { "server", "nick", "channel", "password_file",
		"allow_approve", NULL };
	const char *server, *nick, *channel, *pwfile, *colon;
	struct irc *c;
	uint64_t port;
	int rc;

	*out = NULL;
	if ((rc = chat_cfg_keys(cfg, keys)) != OK ||
	    (rc = chat_cfg_str(&server, cfg, "server", 1)) != OK ||
	    (rc = chat_cfg_str(&nick, cfg, "nick", 1)) != OK ||
	    (rc = chat_cfg_str(&channel, cfg, "channel", 1)) != OK ||
	    (rc = chat_cfg_str(&pwfile, cfg, "password_file", 0)) != OK ||
	    (rc = cfg_bool_ok(cfg, "allow_approve")) != OK)
		return rc;
	if (!(colon = strrchr(server, ':')) || colon == server ||
	    parse_u64(&port, colon + 1, 1, 65535) != OK)
		return err_set(ERR_INVALID, "server: must be host:port, not '%s'", server);
	if (!nick_ok(nick, IRC_NICK_MAX))
		return err_set(ERR_INVALID, "nick: '%s' is not a valid IRC nick "
		    "(letters, digits, -[]\\`_^{|}, at most %d)", nick, IRC_NICK_MAX);
	if (!channel_ok(channel))
		return err_set(ERR_INVALID, "channel: '%s' is not a valid IRC channel "
		    "(#name, no spaces or commas, at most %d)", channel, IRC_CHANNEL_MAX);
	c = xcalloc(1, sizeof(*c));
	c->fd = -1;
	c->state = IRC_DOWN;
	c->backoff = 1;
	/* "[::1]:6667" */
	if (server[0] == '[' && colon > server + 1 && colon[-1] == ']')
		c->host = xstrndup(server + 1, (size_t)(colon - server - 2));
	else
		c->host = xstrndup(server, (size_t)(colon - server));
	c->port = xstrdup(colon + 1);
	c->channel = xstrdup(channel);
	snprintf(c->nick_base, sizeof(c->nick_base), "%s", nick);
	snprintf(c->nick, sizeof(c->nick), "%s", nick);
	snprintf(c->why, sizeof(c->why), "not connected yet");
	if (pwfile && (rc = chat_read_secret(&c->password, pwfile, "password_file")) != OK) {
		irc_close(c);
		return rc;
	}
	*out = c;
	return OK;
}

/* Queue raw protocol text and send what the socket takes now. */
static int
irc_flush(struct irc *c)
{
	while (c->out.len) {
		ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			irc_fail(c, "send: %s", strerror(errno));
			return ERR_AGAIN;
		}
		memmove(c->out.data, c->out.data + n, c->out.len - (size_t)n);
		c->out.len -= (size_t)n;
		c->out.data[c->out.len] = '\0';
	}
	if (c->out.len > IRC_OUT_MAX) {
		irc_fail(c, "the server is not reading (%zu bytes unsent)", c->out.len);
		return ERR_AGAIN;
	}
	return OK;
}

static void
irc_send(struct irc *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
irc_send(struct irc *c, const char *fmt, ...)
{
	char line[IRC_LINE_MAX + 1];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	/* Our own commands are short; cut rather than overflow. */
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)(sizeof(line) - 3);
	line[n++] = '\r';
	line[n++] = '\n';
	buf_append(&c->out, line, (size_t)n);
}

static void
irc_fail(struct irc *c, const char *fmt, ...)
{
	va_list ap;

	char *p;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	/* It may quote the server: nothing that could drive a terminal. */
	for (p = c->why; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = IRC_DOWN;
	buf_reset(&c->out);
	c->in_len = 0;
	c->in_skip = 0;
	c->next_try = log_now() + c->backoff;
	log_event("irc", "%s:%s: %s; reconnecting in %u s", c->host, c->port, c->why,
	    c->backoff);
	c->backoff = c->backoff * 2 > IRC_BACKOFF_MAX ? IRC_BACKOFF_MAX : c->backoff * 2;
}

static void
irc_connect(struct irc *c)
{
	struct addrinfo hints, *res = NULL, *ai;
	int rc, fd = -1, e = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(c->host, c->port, &hints, &res)) != 0) {
		irc_fail(c, "resolving: %s", gai_strerror(rc));
		return;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS)
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		irc_fail(c, "connect: %s", strerror(e ? e : ECONNREFUSED));
		return;
	}
	c->fd = fd;
	c->state = IRC_CONNECTING;
	c->deadline = log_now() + 10;
}

static void
irc_register(struct irc *c)
{
	if (c->password)
		irc_send(c, "PASS %s", c->password);
	irc_send(c, "NICK %s", c->nick);
	irc_send(c, "USER firebreak 0 * :firebreak");
	c->state = IRC_REGISTERING;
	c->deadline = log_now() + 30;
	c->last_rx = log_now();
	c->ping_sent = 0;
	irc_flush(c);
}

/* Split one line into prefix nick, command and up to 4 params (the last
 * may be the trailing one).  Modifies the line. */
struct irc_msg {
	const char *nick;
	const char *cmd;
	const char *arg[4];
	int n;
};

static void
irc_parse(char *line, struct irc_msg *m)
{
	char *p = line, *sp;

	memset(m, 0, sizeof(*m));
	m->nick = "";
	if (*p == '@') {                 /* IRCv3 tags */
		if (!(sp = strchr(p, ' ')))
			return;
		p = sp + 1;
	}
	if (*p == ':') {
		m->nick = ++p;
		if (!(sp = strchr(p, ' ')))
			return;
		*sp = '\0';
		p[strcspn(p, "!@")] = '\0';
		p = sp + 1;
	}
	while (*p == ' ')
		p++;
	m->cmd = p;
	if ((sp = strchr(p, ' ')))
		*sp = '\0', p = sp + 1;
	else
		return;
	while (*p && m->n < 4) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (*p == ':') {
			m->arg[m->n++] = p + 1;
			break;
		}
		m->arg[m->n++] = p;
		if (!(sp = strchr(p, ' ')))
			break;
		*sp = '\0';
		p = sp + 1;
	}
}

/* ---- inbound ---- */


/* Up to `max` ASCII digits at s: how many. */
static size_t
digits(const char *s, size_t max)
{
	size_t i;

	for (i = 0; i < max && s[i] >= '0' && s[i] <= '9'; i++)
		;
	return i;
}

enum { IN_IGNORE, IN_COMMAND, IN_REFUSE };

/*
 * What a channel message's text is to us: IN_COMMAND with *out (owns) the
 * command; IN_IGNORE when it is not addressed to `nick` (or CTCP, or
 * empty once the address is off); IN_REFUSE, with *why, when it is but
 * holds what we do not take.
 */
static int
inbound_text(char **out, const char **why, const char *raw, const char *nick)
{
	const unsigned char *p = (const unsigned char *)raw;
	size_t n = strlen(raw), i = 0, k, nl = strlen(nick), start, end;
	struct buf b = BUF_INIT;
	int rc = IN_IGNORE, bad = 0;

	*out = NULL;
	*why = NULL;
	if (p[0] == 0x01)                /* CTCP: ACTION, VERSION, PING ... */
		return IN_IGNORE;
	while (i < n) {
		unsigned char ch = p[i];

		switch (ch) {
		case 0x02: case 0x0f: case 0x16: case 0x1d: case 0x1f:
			i++;                     /* bold, reset, reverse, italic, underline */
			continue;
		case 0x03:                       /* colour: ^C, ^CNN, ^CNN,NN */
			i++;
			if ((k = digits(raw + i, 2))) {
				i += k;
				if (raw[i] == ',' && (k = digits(raw + i + 1, 2)))
					i += 1 + k;
			}
			continue;
		default:
			break;
		}
		if (ch < 0x20 || ch == 0x7f) {
			if (!*why)
				*why = "a control character";
			bad = 1;
			i++;
			continue;
		}
		if (!(k = utf8_decode(p + i, n - i, NULL))) {
			if (!*why)
				*why = "invalid UTF-8";
			bad = 1;
			i++;
			continue;
		}
		buf_append(&b, raw + i, k);
		i += k;
	}
	/* "firebreak: ..." or "firebreak, ...", the nick in any case. */
	if (b.len <= nl || irc_ncasecmp(b.data, nick, nl) != 0 ||
	    (b.data[nl] != ':' && b.data[nl] != ','))
		goto out;
	for (start = nl + 1; start < b.len && b.data[start] == ' '; start++)
		;
	for (end = b.len; end > start && b.data[end - 1] == ' '; end--)
		;
	if (bad) {
		rc = IN_REFUSE;
	} else if (end - start > IRC_COMMAND_MAX) {
		*why = "more than 400 bytes";
		rc = IN_REFUSE;
	} else if (end > start) {
		*out = xstrndup(b.data + start, end - start);
		rc = IN_COMMAND;
	}
out:
	buf_dispose(&b);
	if (rc != IN_REFUSE)
		*why = NULL;
	return rc;
}

/* Log a refused or dropped command, at most one line a second: a
 * flood must not fill the log.  The counters keep the full tally. */
static void
inbound_note(struct irc *c, const char *nick, const char *why)
{
	double now = log_now();

	if (c->noted_at && now - c->noted_at < 1.0)
		return;
	c->noted_at = now;
	log_event("irc", "%s:%s: a command from %s in %s %s (%lu refused, %lu dropped "
	    "so far)", c->host, c->port, nick, c->channel, why, c->refused, c->dropped);
}

/* A PRIVMSG `text` from `nick` to `target`: queue it when it is a command
 * for us. */
static void
inbound(struct irc *c, const char *nick, const char *target, const char *text)
{
	struct chat_inbound *in;
	const char *why;
	char *cmd, reason[64];
	int r;

	if (irc_casecmp(target, c->channel) != 0)
		return;              /* a private message, or another channel */
	r = inbound_text(&cmd, &why, text, c->nick);
	if (r == IN_IGNORE)
		return;
	if (!nick_ok(nick, IRC_PEER_NICK_MAX)) {
		free(cmd);
		c->refused++;
		/* Not a nick we can name in a log line either. */
		inbound_note(c, "a malformed nick", "was refused: the nick is malformed");
		return;
	}
	if (r == IN_REFUSE) {
		c->refused++;
		snprintf(reason, sizeof(reason), "was refused: %s", why);
		inbound_note(c, nick, reason);
		return;
	}
	if (c->inq_n == IRC_INBOUND_MAX) {
		free(cmd);
		c->dropped++;
		inbound_note(c, nick, "was dropped: 32 are waiting already");
		return;
	}
	in = &c->inq[(c->inq_head + c->inq_n) % IRC_INBOUND_MAX];
	in->user = xstrdup(nick);
	in->where = xstrdup(c->channel);
	in->text = cmd;
	c->inq_n++;
}

static int
irc_recv(void *st, struct chat_inbound *in)
{
	struct irc *c = st;

	memset(in, 0, sizeof(*in));
	if (!c->inq_n)
		return 0;
	*in = c->inq[c->inq_head];
	memset(&c->inq[c->inq_head], 0, sizeof(c->inq[c->inq_head]));
	c->inq_head = (c->inq_head + 1) % IRC_INBOUND_MAX;
	c->inq_n--;
	return 1;
}

static void
irc_line(struct irc *c, char *line)
{
	struct irc_msg m;

	irc_parse(line, &m);
	if (!m.cmd)
		return;
	if (strcmp(m.cmd, "PING") == 0) {
		irc_send(c, "PONG :%.400s", m.n ? m.arg[m.n - 1] : "");
	} else if (strcmp(m.cmd, "PONG") == 0) {
		c->ping_sent = 0;
	} else if (strcmp(m.cmd, "ERROR") == 0) {
		irc_fail(c, "server said: %.200s", m.n ? m.arg[m.n - 1] : "ERROR");
	} else if (strcmp(m.cmd, "001") == 0 && c->state == IRC_REGISTERING) {
		if (m.n >= 1)   /* the server may have cut or changed our nick */
			snprintf(c->nick, sizeof(c->nick), "%s", m.arg[0]);
		irc_send(c, "JOIN %s", c->channel);
		c->state = IRC_JOINING;
		c->deadline = log_now() + 30;
	} else if ((strcmp(m.cmd, "433") == 0 || strcmp(m.cmd, "436") == 0 ||
	    strcmp(m.cmd, "437") == 0) && c->state == IRC_REGISTERING) {
		size_t n = strlen(c->nick);

		if (n >= IRC_NICK_MAX) {
			irc_fail(c, "nick %s and its variants are in use", c->nick_base);
			return;
		}
		c->nick[n] = '_';
		c->nick[n + 1] = '\0';
		irc_send(c, "NICK %s", c->nick);
	} else if (strcmp(m.cmd, "432") == 0) {
		irc_fail(c, "the server refuses the nick %s", c->nick);
	} else if (strcmp(m.cmd, "PRIVMSG") == 0 && m.n >= 2) {
		inbound(c, m.nick, m.arg[0], m.arg[1]);
	} else if (strcmp(m.cmd, "JOIN") == 0 && irc_casecmp(m.nick, c->nick) == 0 &&
	    m.n >= 1 && irc_casecmp(m.arg[0], c->channel) == 0) {
		if (c->state != IRC_READY)
			log_event("irc", "%s:%s: joined %s as %s", c->host, c->port,
			    c->channel, c->nick);
		c->state = IRC_READY;
		c->backoff = 1;
	} else if (strcmp(m.cmd, "NICK") == 0 && irc_casecmp(m.nick, c->nick) == 0 && m.n >= 1) {
		snprintf(c->nick, sizeof(c->nick), "%s", m.arg[0]);
	} else if (strcmp(m.cmd, "KICK") == 0 && m.n >= 2 &&
	    irc_casecmp(m.arg[0], c->channel) == 0 && irc_casecmp(m.arg[1], c->nick) == 0) {
		irc_send(c, "JOIN %s", c->channel);
		c->state = IRC_JOINING;
		c->deadline = log_now() + 30;
	} else if (c->state == IRC_JOINING && (strcmp(m.cmd, "403") == 0 ||
	    strcmp(m.cmd, "405") == 0 || strcmp(m.cmd, "471") == 0 ||
	    strcmp(m.cmd, "473") == 0 || strcmp(m.cmd, "474") == 0 ||
	    strcmp(m.cmd, "475") == 0 || strcmp(m.cmd, "477") == 0)) {
		struct buf why = BUF_INIT;

		chat_put_oneline(&why, m.n ? m.arg[m.n - 1] : "", 120);
		irc_fail(c, "cannot join %s (%s %s)", c->channel, m.cmd, why.data ? why.data : "");
		buf_dispose(&why);
	} else if (strcmp(m.cmd, "404") == 0) {
		log_event("irc", "%s:%s: cannot send to %s", c->host, c->port, c->channel);
	}
}

/* Read what there is; handle each whole line. */
static void
irc_read(struct irc *c)
{
	for (;;) {
		ssize_t n;
		char *nl;

		if (c->fd < 0)
			return;
		n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				irc_fail(c, "recv: %s", strerror(errno));
			return;
		}
		if (n == 0) {
			irc_fail(c, "the server closed the connection");
			return;
		}
		c->last_rx = log_now();
		c->ping_sent = 0;
		c->in_len += (size_t)n;
		while (c->fd >= 0 && (nl = memchr(c->in, '\n', c->in_len))) {
			size_t len = (size_t)(nl - c->in);
			/* A NUL inside a line is a protocol error: skip the line. */
			int has_nul = memchr(c->in, '\0', len) != NULL;

			*nl = '\0';
			if (len && c->in[len - 1] == '\r')
				c->in[len - 1] = '\0';
			if (!c->in_skip && !has_nul)
				irc_line(c, c->in);
			c->in_skip = 0;
			if (c->fd < 0)
				return;
			memmove(c->in, nl + 1, c->in_len - len - 1);
			c->in_len -= len + 1;
		}
		if (c->in_len == sizeof(c->in)) {
			/* A line longer than any server sends: drop it. */
			c->in_len = 0;
			c->in_skip = 1;
		}
	}
}

static void
irc_tick(void *st)
{
	struct irc *c = st;
	double now = log_now();

	if (c->state == IRC_DOWN) {
		if (now < c->next_try)
			return;
		irc_connect(c);
		/* On loopback the connect may be done already: go on. */
	}
	if (c->state == IRC_CONNECTING) {
		struct pollfd p = { .fd = c->fd, .events = POLLOUT };
		int err = 0;
		socklen_t len = sizeof(err);

		if (poll(&p, 1, 0) == 1) {
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
				err = errno;
			if (err) {
				irc_fail(c, "connect: %s", strerror(err));
				return;
			}
			irc_register(c);
		} else if (now > c->deadline) {
			irc_fail(c, "connect: timed out");
			return;
		}
	}
	if (c->state < IRC_REGISTERING)
		return;
	irc_read(c);
	if (c->fd < 0)
		return;
	now = log_now();
	if ((c->state == IRC_REGISTERING || c->state == IRC_JOINING) && now > c->deadline) {
		irc_fail(c, "%s: timed out", c->state == IRC_REGISTERING ? "registering" : "joining");
		return;
	}
	if (now - c->last_rx > 180) {
		irc_fail(c, "no answer from the server for 3 minutes");
		return;
	}
	if (now - c->last_rx > 120 && !c->ping_sent) {
		irc_send(c, "PING :firebreak");
		c->ping_sent = 1;
	}
	irc_flush(c);
}

static int
irc_fd(void *st)
{
	return ((struct irc *)st)->fd;
}

/* Append one NOTICE with `text` cut to `max` bytes (with an ellipsis when
 * cut), addressed "to: " when `to` is a nick. */
static void
notice(struct irc *c, const char *to, const char *text, size_t max)
{
	struct buf line = BUF_INIT;
	size_t used;

	buf_printf(&line, "NOTICE %s :", c->channel);
	if (to)
		buf_printf(&line, "%s: ", to);
	used = chat_put_oneline(&line, text, max);
	if (text[used]) {
		/* Cut: make room for "..." on a character boundary. */
		size_t keep = chat_utf8_cut(line.data, line.len, line.len > 3 ? line.len - 3 : 0);

		line.len = keep;
		line.data[keep] = '\0';
		buf_puts(&line, "...");
	}
	buf_puts(&line, "\r\n");
	buf_append(&c->out, line.data, line.len);
	buf_dispose(&line);
}

static int
irc_post(void *st, const struct chat_message *m, char **thread_out, unsigned *retry_after)
{
	struct irc *c = st;
	const char *body = m->body ? m->body : "", *p, *end, *to = NULL;
	struct buf foot = BUF_INIT;
	size_t max, slots, nlines = 0, shown = 0;
	int rc;

	*thread_out = NULL;
	*retry_after = 0;
	if (c->state != IRC_READY) {
		double now = log_now();

		/* Come back when the connection should be up again. */
		*retry_after = c->state == IRC_DOWN && c->next_try > now ?
		    (unsigned)(c->next_try - now) + 2 : 1;
		return err_set(ERR_AGAIN, "irc: not in %s: %s", c->channel,
		    c->state == IRC_DOWN ? c->why : "connecting");
	}
	/* "NOTICE #chan :" + text + CRLF, plus the relay prefix, within 512. */
	max = IRC_LINE_MAX - 2 - strlen("NOTICE  :") - strlen(c->channel) -
	    strlen(c->nick) - IRC_RELAY_RESERVE;
	/* The outbox checked `to`; a name that is no nick (a Slack user id
	 * sent here by mistake is one) is left out rather than sent. */
	if (m->to && nick_ok(m->to, IRC_PEER_NICK_MAX)) {
		to = m->to;
		max -= strlen(to) + 2;
	}

	if (m->actions && m->plan_id)
		buf_printf(&foot, "approve %s / discard %s", m->plan_id, m->plan_id);
	if (m->url)
		buf_printf(&foot, "%sfull plan: %s", foot.len ? " \xe2\x80\x94 " : "", m->url);

	notice(c, to, m->summary ? m->summary : "", max);
	/* The body's lines up to the diff: the changes by kind. */
	if (strncmp(body, "diff --git ", 11) == 0)
		end = body;
	else if ((end = strstr(body, "\ndiff --git ")))
		end++;
	else
		end = body + strlen(body);
	for (p = body; p < end; ) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		size_t i;

		for (i = 0; p + i < e && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'); i++)
			;
		if (p + i < e)
			nlines++;
		p = nl ? nl + 1 : end;
	}
	slots = IRC_NOTICES_MAX - 1 - (foot.len ? 1 : 0);
	for (p = body; p < end && shown < slots; ) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		char *one = xstrndup(p, (size_t)(e - p));
		size_t i;

		for (i = 0; one[i] == ' ' || one[i] == '\t' || one[i] == '\r'; i++)
			;
		if (one[i]) {
			if (shown + 1 == slots && nlines > slots) {
				char *more = xasprintf("... and %zu more lines", nlines - shown);

				notice(c, to, more, max);
				free(more);
			} else {
				notice(c, to, one, max);
			}
			shown++;
		}
		free(one);
		p = nl ? nl + 1 : end;
	}
	if (foot.len)
		notice(c, to, foot.data, max);
	buf_dispose(&foot);
	rc = irc_flush(c);
	if (rc != OK)
		return err_set(ERR_AGAIN, "irc: %s", c->why);
	return OK;
}

static const struct chat_ops irc_ops = {
	.open = irc_open,
	.post = irc_post,
	.fd = irc_fd,
	.tick = irc_tick,
	.recv = irc_recv,
	.close = irc_close,
};

const struct chat_provider chat_irc = {
	.abi = CHAT_PROVIDER_ABI,
	.name = "irc",
	.caps = CHAT_CAN_POST | CHAT_CAN_RECV,
	.ops = &irc_ops,
};
