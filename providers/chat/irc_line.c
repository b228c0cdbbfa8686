/*
 * irc_line.c - IRC's wire format.  See irc_line.h.
 */
#include "providers/chat/irc_line.h"

#include <stdint.h>
#include <string.h>

/* A nick of at most `max` bytes in RFC 2812's syntax. */
int
irc_nick_ok(const char *n, size_t max)
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
int
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

int
irc_casecmp(const char *a, const char *b)
{
	return irc_ncasecmp(a, b, (size_t)-1);
}

int
irc_channel_ok(const char *ch)
{
	size_t i, len = strlen(ch);

	if (len < 2 || len > 50 || (ch[0] != '#' && ch[0] != '&'))
		return 0;
	for (i = 1; i < len; i++)
		if ((unsigned char)ch[i] <= 0x20 || ch[i] == ',' || ch[i] == ':' ||
		    ch[i] == 0x7f)
			return 0;
	return 1;
}


/* Up to `max` ASCII digits at s: how many. */
static size_t
digits(const char *s, size_t max)
{
	size_t i;

	for (i = 0; i < max && s[i] >= '0' && s[i] <= '9'; i++)
		;
	return i;
}

int
irc_command_text(char **out, const char **why, const char *raw, const char *nick)
{
	const unsigned char *p = (const unsigned char *)raw;
	size_t n = strlen(raw), i = 0, k, nl = strlen(nick), start, end;
	struct buf b = BUF_INIT;
	int rc = IRC_TEXT_IGNORE, bad = 0;
	uint32_t cp;

	*out = NULL;
	*why = NULL;
	if (p[0] == 0x01)                /* CTCP: ACTION, VERSION, PING ... */
		return IRC_TEXT_IGNORE;
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
		if (!(k = utf8_decode(p + i, n - i, &cp))) {
			if (!*why)
				*why = "invalid UTF-8";
			bad = 1;
			i++;
			continue;
		}
		if (cp >= 0x80 && cp < 0xa0) {   /* C1 controls (found by fuzz_ircline) */
			if (!*why)
				*why = "a control character";
			bad = 1;
			i += k;
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
		rc = IRC_TEXT_REFUSE;
	} else if (end - start > IRC_COMMAND_MAX) {
		*why = "more than 400 bytes";
		rc = IRC_TEXT_REFUSE;
	} else if (end > start) {
		*out = xstrndup(b.data + start, end - start);
		rc = IRC_TEXT_COMMAND;
	}
out:
	buf_dispose(&b);
	if (rc != IRC_TEXT_REFUSE)
		*why = NULL;
	return rc;
}

/* Unescape an IRCv3 tag value in place (message-tags: \: ; \s space,
 * \\ backslash, \r CR, \n LF, other \X is X, a lone trailing \ dropped). */
static void
tag_unescape(char *v)
{
	char *o = v;

	for (; *v; v++) {
		if (*v != '\\') {
			*o++ = *v;
			continue;
		}
		switch (*++v) {
		case '\0': *o = '\0'; return;
		case ':': *o++ = ';'; break;
		case 's': *o++ = ' '; break;
		case 'r': *o++ = '\r'; break;
		case 'n': *o++ = '\n'; break;
		default: *o++ = *v; break;
		}
	}
	*o = '\0';
}

/* The tags part, "key=value;key;...", NUL-terminated: find `account`. */
static void
parse_tags(char *tags, struct irc_msg *m)
{
	char *t = tags;

	while (t && *t) {
		char *next = strchr(t, ';'), *eq;

		if (next)
			*next++ = '\0';
		eq = strchr(t, '=');
		if (eq)
			*eq++ = '\0';
		if (strcmp(t, "account") == 0) {
			if (eq) {
				tag_unescape(eq);
				m->account = irc_account_ok(eq) ? eq : NULL;
			}
			m->account_bad = !m->account;
		}
		t = next;
	}
}

void
irc_parse_line(char *line, struct irc_msg *m)
{
	char *p = line, *sp;

	memset(m, 0, sizeof(*m));
	m->nick = "";
	if (*p == '@') {                 /* IRCv3 tags */
		if (!(sp = strchr(p, ' ')))
			return;
		*sp = '\0';
		parse_tags(p + 1, m);
		p = sp + 1;
		while (*p == ' ')
			p++;
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
	if (!*p)
		return;
	m->cmd = p;
	if ((sp = strchr(p, ' ')))
		*sp = '\0', p = sp + 1;
	else
		return;
	while (*p && m->n < (int)(sizeof(m->arg) / sizeof(*m->arg))) {
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

int
irc_account_ok(const char *a)
{
	size_t i, len = strlen(a);

	if (len == 0 || len > IRC_ACCOUNT_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char ch = a[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-_.[]\\`^{|}", ch)))
			return 0;
	}
	return 1;
}

int
irc_cap_has(const char *list, const char *cap)
{
	size_t n = strlen(cap);
	const char *p = list;

	while (p && *p) {
		size_t len;

		while (*p == ' ')
			p++;
		len = strcspn(p, " ");
		if ((len == n || (len > n && p[n] == '=')) && strncmp(p, cap, n) == 0)
			return 1;
		p += len;
	}
	return 0;
}
