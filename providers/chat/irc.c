/*
 * irc.c - IRC: NOTICEs to one channel, and the commands people address to
 * the bot there.
 *
 *	chat:
 *	  - {type: irc, server: "127.0.0.1:6667", nick: firebreak, channel: "#ops",
 *	     password_file: /etc/firebreak/irc-pass,      # optional: PASS
 *	     allow_approve: false,                        # optional, default false
 *	     trust_nicks: false}                          # optional, default false
 *
 * Who asked: an IRC nick is not an identity, since anyone can take one.
 * firebreak asks the server (CAP LS 302) for account-tag, extended-join
 * and account-notify; a command from someone logged in to a services
 * account the server vouches for comes with the identity
 * "irc-account:NAME" (from the message's account tag, or, on a server
 * without account-tag, from what extended-join and account-notify said
 * about members who joined after us).  Anyone else is "irc:NICK", which
 * the core lets run read-only commands only -- unless this entry says
 * trust_nicks: true, which is unsafe on any network without nick
 * protection (say so where you set it).  allow_approve: true lets
 * approve / discard come from IRC at all (off by default).  Both are
 * plain true or false, so that a typo or another spelling fails at
 * start-up instead of silently meaning something.
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
#include "providers/chat/irc_line.h"

#define IRC_LINE_MAX 512          /* with CRLF (RFC 1459, 2812) */
#define IRC_OUT_MAX (64 * 1024)   /* unsent bytes before we give up */
#define IRC_NOTICES_MAX 5
#define IRC_NICK_MAX 30
#define IRC_CHANNEL_MAX 50
#define IRC_BACKOFF_MAX 60
#define IRC_RELAY_RESERVE 80      /* "!~user@host " around the nick */
#define IRC_INBOUND_MAX 32        /* commands waiting for recv() */
#define IRC_ACCOUNTS_MAX 512      /* channel members whose account we track */

enum irc_state { IRC_DOWN, IRC_CONNECTING, IRC_REGISTERING, IRC_JOINING, IRC_READY };

/* IRCv3 capabilities we ask for: what lets the server vouch for accounts. */
enum { CAP_ACCOUNT_TAG = 1u << 0, CAP_EXTENDED_JOIN = 1u << 1, CAP_ACCOUNT_NOTIFY = 1u << 2 };

/* A channel member's services account, as extended-join and
 * account-notify tell it (used only when account-tag is not there). */
struct member {
	char nick[IRC_PEER_NICK_MAX + 1];
	char account[IRC_ACCOUNT_MAX + 1];   /* "" : logged in to none */
};

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
	struct chat_command inq[IRC_INBOUND_MAX];   /* a ring: inq_n from inq_head */
	size_t inq_head, inq_n;
	unsigned caps;                /* CAP_* the server acknowledged */
	unsigned cap_offered;         /* CAP_* its CAP LS listed */
	int cap_done;                 /* CAP END sent (or the server has no CAP) */
	int trust_nicks;              /* config: a bare nick is an identity (unsafe) */
	int allow_approve;            /* config: approve / discard from IRC */
	struct member *members;       /* IRC_ACCOUNTS_MAX; only with extended-join
	                               * and account-notify */
	size_t nmembers;
	unsigned long refused;        /* commands refused (bad text, bad nick) */
	unsigned long dropped;        /* commands dropped: the queue was full */
	double noted_at;              /* when the last refusal was logged */
};

static void irc_fail(struct irc *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

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
		chat_command_dispose(&c->inq[c->inq_head]);
		c->inq_head = (c->inq_head + 1) % IRC_INBOUND_MAX;
		c->inq_n--;
	}
	chat_secret_free(c->password);
	free(c->members);
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
cfg_true(const struct ynode *cfg, const char *key)
{
	const struct ynode *v = ynode_get(cfg, key);

	return v && v->type == YNODE_SCALAR && strcmp(v->str, "true") == 0;
}

static int
irc_open(void **out, const struct ynode *cfg)
{
	static const char *const keys[] = { "server", "nick", "channel", "password_file",
		"allow_approve", "trust_nicks", NULL };
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
	    (rc = cfg_bool_ok(cfg, "allow_approve")) != OK ||
	    (rc = cfg_bool_ok(cfg, "trust_nicks")) != OK)
		return rc;
	if (!(colon = strrchr(server, ':')) || colon == server ||
	    parse_u64(&port, colon + 1, 1, 65535) != OK)
		return err_set(ERR_INVALID, "server: must be host:port, not '%s'", server);
	if (!irc_nick_ok(nick, IRC_NICK_MAX))
		return err_set(ERR_INVALID, "nick: '%s' is not a valid IRC nick "
		    "(letters, digits, -[]\\`_^{|}, at most %d)", nick, IRC_NICK_MAX);
	if (!irc_channel_ok(channel))
		return err_set(ERR_INVALID, "channel: '%s' is not a valid IRC channel "
		    "(#name, no spaces or commas, at most %d)", channel, IRC_CHANNEL_MAX);
	c = xcalloc(1, sizeof(*c));
	c->fd = -1;
	c->allow_approve = cfg_true(cfg, "allow_approve");
	c->trust_nicks = cfg_true(cfg, "trust_nicks");
	c->members = xcalloc(IRC_ACCOUNTS_MAX, sizeof(*c->members));
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
	/* Ask what the server offers first: a server with CAP holds the
	 * registration until CAP END; one without answers 421 or ignores it,
	 * and registers us as before. */
	c->caps = c->cap_offered = 0;
	c->cap_done = 0;
	c->nmembers = 0;
	irc_send(c, "CAP LS 302");
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

/* ---- accounts: who the server vouches for ---- */

static struct member *
member_find(struct irc *c, const char *nick)
{
	size_t i;

	for (i = 0; i < c->nmembers; i++)
		if (irc_casecmp(c->members[i].nick, nick) == 0)
			return &c->members[i];
	return NULL;
}

static void
member_forget(struct irc *c, const char *nick)
{
	struct member *m = member_find(c, nick);

	if (m)
		*m = c->members[--c->nmembers];
}

/* `account` is "*" or empty for none; a malformed one counts as none. */
static void
member_set(struct irc *c, const char *nick, const char *account)
{
	struct member *m = member_find(c, nick);

	if (!irc_nick_ok(nick, IRC_PEER_NICK_MAX))
		return;
	if (!m) {
		if (c->nmembers == IRC_ACCOUNTS_MAX)
			return;          /* untracked: their commands count as bare nicks */
		m = &c->members[c->nmembers++];
		snprintf(m->nick, sizeof(m->nick), "%s", nick);
	}
	snprintf(m->account, sizeof(m->account), "%s",
	    account && irc_account_ok(account) ? account : "");
}

/*
 * The services account the server vouches `nick` is logged in to, or
 * NULL.  With account-tag, the message's own tag says it (its absence
 * means none); failing that, extended-join and account-notify together
 * keep a map, which knows members who joined after we did.
 */
static const char *
account_of(struct irc *c, const struct irc_msg *m)
{
	const struct member *mb;

	if (c->caps & CAP_ACCOUNT_TAG)
		return m->account;
	if ((c->caps & (CAP_EXTENDED_JOIN | CAP_ACCOUNT_NOTIFY)) !=
	    (CAP_EXTENDED_JOIN | CAP_ACCOUNT_NOTIFY))
		return NULL;
	mb = member_find(c, m->nick);
	return mb && mb->account[0] ? mb->account : NULL;
}

/* CAP LS / ACK / NAK while registering: ask for what lets the server
 * vouch for accounts, once the whole list is in (302 splits it over lines
 * marked "*"), then end the negotiation. */
static void
cap_line(struct irc *c, const struct irc_msg *m)
{
	static const struct { const char *name; unsigned bit; } want[] = {
		{ "account-tag", CAP_ACCOUNT_TAG },
		{ "extended-join", CAP_EXTENDED_JOIN },
		{ "account-notify", CAP_ACCOUNT_NOTIFY },
	};
	const char *sub = m->n >= 2 ? m->arg[1] : "", *list = m->n >= 3 ? m->arg[m->n - 1] : "";
	int more = m->n >= 4 && strcmp(m->arg[2], "*") == 0;
	size_t i;

	if (strcmp(sub, "LS") == 0 && !c->cap_done) {
		for (i = 0; i < sizeof(want) / sizeof(*want); i++)
			if (irc_cap_has(list, want[i].name))
				c->cap_offered |= want[i].bit;
		if (more)
			return;
		if (c->cap_offered) {
			struct buf req = BUF_INIT;

			for (i = 0; i < sizeof(want) / sizeof(*want); i++)
				if (c->cap_offered & want[i].bit)
					buf_printf(&req, "%s%s", req.len ? " " : "", want[i].name);
			irc_send(c, "CAP REQ :%s", req.data);
			buf_dispose(&req);
		} else {
			irc_send(c, "CAP END");
			c->cap_done = 1;
		}
	} else if (strcmp(sub, "ACK") == 0) {
		for (i = 0; i < sizeof(want) / sizeof(*want); i++)
			if (irc_cap_has(list, want[i].name))
				c->caps |= want[i].bit;
		if (!c->cap_done && !more)
			irc_send(c, "CAP END");
		c->cap_done |= !more;
	} else if (strcmp(sub, "NAK") == 0 && !c->cap_done) {
		irc_send(c, "CAP END");
		c->cap_done = 1;
	}
	irc_flush(c);
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

/*
 * A PRIVMSG to `target`: queue it when it is a command for us.  Who asked
 * is a services account when the server vouches for one
 * ("irc-account:carol"), else the bare nick ("irc:carol"), which anyone
 * can take: the core lets it run read-only commands only, unless this
 * entry says trust_nicks: true.
 */
static void
inbound(struct irc *c, const struct irc_msg *m, const char *target, const char *text)
{
	struct chat_command *cmd;
	const char *why, *account;
	char *line, reason[64];
	int r;

	if (irc_casecmp(target, c->channel) != 0)
		return;              /* a private message, or another channel */
	r = irc_command_text(&line, &why, text, c->nick);
	if (r == IRC_TEXT_IGNORE)
		return;
	if (!irc_nick_ok(m->nick, IRC_PEER_NICK_MAX)) {
		free(line);
		c->refused++;
		/* Not a nick we can name in a log line either. */
		inbound_note(c, "a malformed nick", "was refused: the nick is malformed");
		return;
	}
	if (r == IRC_TEXT_REFUSE) {
		c->refused++;
		snprintf(reason, sizeof(reason), "was refused: %s", why);
		inbound_note(c, m->nick, reason);
		return;
	}
	if (c->inq_n == IRC_INBOUND_MAX) {
		free(line);
		c->dropped++;
		inbound_note(c, m->nick, "was dropped: 32 are waiting already");
		return;
	}
	account = account_of(c, m);
	cmd = &c->inq[(c->inq_head + c->inq_n) % IRC_INBOUND_MAX];
	cmd->identity = account ? xasprintf("irc-account:%s", account) :
	    xasprintf("irc:%s", m->nick);
	cmd->via = xasprintf("irc %s", c->channel);
	cmd->text = line;
	cmd->reply_to = xstrdup(m->nick);
	cmd->flags = (account || c->trust_nicks ? CHAT_CMD_VERIFIED : 0) |
	    (c->allow_approve ? CHAT_CMD_MAY_APPROVE : 0);
	c->inq_n++;
}

static int
irc_recv(void *st, struct chat_command *in)
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

	irc_parse_line(line, &m);
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
	} else if (strcmp(m.cmd, "CAP") == 0) {
		cap_line(c, &m);
	} else if (strcmp(m.cmd, "PRIVMSG") == 0 && m.n >= 2) {
		inbound(c, &m, m.arg[0], m.arg[1]);
	} else if (strcmp(m.cmd, "JOIN") == 0 && irc_casecmp(m.nick, c->nick) == 0 &&
	    m.n >= 1 && irc_casecmp(m.arg[0], c->channel) == 0) {
		if (c->state != IRC_READY)
			log_event("irc", "%s:%s: joined %s as %s%s", c->host, c->port,
			    c->channel, c->nick, c->caps & CAP_ACCOUNT_TAG ? " (account-tag)" :
			    (c->caps & CAP_EXTENDED_JOIN) && (c->caps & CAP_ACCOUNT_NOTIFY) ?
			    " (extended-join, account-notify)" : " (no account support: nicks only)");
		c->state = IRC_READY;
		c->backoff = 1;
		c->nmembers = 0;
	} else if (strcmp(m.cmd, "JOIN") == 0 && m.n >= 1 &&
	    irc_casecmp(m.arg[0], c->channel) == 0) {
		/* extended-join: "JOIN #ops account :realname" */
		member_set(c, m.nick, (c->caps & CAP_EXTENDED_JOIN) && m.n >= 2 ? m.arg[1] : NULL);
	} else if (strcmp(m.cmd, "ACCOUNT") == 0 && m.n >= 1) {
		if (member_find(c, m.nick))
			member_set(c, m.nick, m.arg[0]);
	} else if ((strcmp(m.cmd, "PART") == 0 || strcmp(m.cmd, "QUIT") == 0) &&
	    irc_casecmp(m.nick, c->nick) != 0) {
		member_forget(c, m.nick);
	} else if (strcmp(m.cmd, "NICK") == 0 && irc_casecmp(m.nick, c->nick) != 0 && m.n >= 1) {
		struct member *mb = member_find(c, m.nick);

		if (mb && irc_nick_ok(m.arg[0], IRC_PEER_NICK_MAX))
			snprintf(mb->nick, sizeof(mb->nick), "%s", m.arg[0]);
		else if (mb)
			member_forget(c, m.nick);
	} else if (strcmp(m.cmd, "NICK") == 0 && irc_casecmp(m.nick, c->nick) == 0 && m.n >= 1) {
		snprintf(c->nick, sizeof(c->nick), "%s", m.arg[0]);
	} else if (strcmp(m.cmd, "KICK") == 0 && m.n >= 2 &&
	    irc_casecmp(m.arg[0], c->channel) == 0 && irc_casecmp(m.arg[1], c->nick) != 0) {
		member_forget(c, m.arg[1]);
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
	if (m->to && irc_nick_ok(m->to, IRC_PEER_NICK_MAX)) {
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
