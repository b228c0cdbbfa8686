/*
 * fuzz_ircline.c - IRC lines from the server (providers/chat/irc_line.h):
 * irc_parse_line with its IRCv3 tags, then what irc.c does with a
 * PRIVMSG: irc_command_text for the bot's nick; and the name checks and
 * the case mapping the identity rules rest on.
 *
 * Input: the line (without CR LF; it ends at a NUL, as irc.c's reader
 * cuts it), optionally followed by a line "--" and our nick.
 *
 * Invariants, beyond "no crash, no leak, no undefined behaviour":
 *   - every part points into the line (or is ""), at most 15 parameters,
 *     a command whenever the line holds anything after tags and prefix;
 *   - an account is there only when the tag passes irc_account_ok, and
 *     account_bad says when a tag was refused;
 *   - a command for the bot is valid UTF-8 without control characters,
 *     trimmed, at most IRC_COMMAND_MAX bytes, and was addressed to our
 *     nick (formatting codes aside); a refusal says why; ignoring leaves nothing;
 *   - the case mapping is an equivalence: irc_casecmp(x, x) == 0 and
 *     symmetric.
 */
#include "fuzz.h"

#include "providers/chat/irc_line.h"

/* The text without IRC's formatting codes (bold, reset, reverse, italic,
 * underline; colour ^C with up to two digits, a comma and two more): a
 * client may format the nick it addresses. */
static char *
unformatted(const char *s)
{
	char *o = xmalloc(strlen(s) + 1), *d = o;

	while (*s) {
		if (strchr("\x02\x0f\x16\x1d\x1f", *s)) {
			s++;
		} else if (*s == 0x03) {
			s++;
			if (*s >= '0' && *s <= '9') {
				s += 1 + (s[1] >= '0' && s[1] <= '9');
				if (s[0] == ',' && s[1] >= '0' && s[1] <= '9')
					s += 2 + (s[2] >= '0' && s[2] <= '9');
			}
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
	return o;
}

static int
inside(const char *p, const char *line, size_t len)
{
	return p && ((p >= line && p <= line + len) || *p == '\0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	char *line, *copy, *nick = NULL, *out = NULL;
	const char *why = NULL, *me = "firebreak";
	struct irc_msg m;
	size_t len, nlen, i;
	uint32_t cp;
	int rc;

	line = fuzz_take_part(&in, &len);
	if (fuzz_more(&in)) {
		nick = fuzz_take_part(&in, &nlen);
		if (irc_nick_ok(nick, 30))
			me = nick;
	}
	len = strlen(line);
	if (len > IRC_IN_MAX)
		goto done;
	copy = xstrdup(line);
	irc_parse_line(line, &m);
	FUZZ_CHECK(m.n >= 0 && m.n <= 15, "%d parameters", m.n);
	FUZZ_CHECK(inside(m.nick, line, len), "nick outside the line");
	FUZZ_CHECK(!m.cmd || (inside(m.cmd, line, len) && m.cmd[0]), "command outside the line");
	for (i = 0; i < (size_t)m.n; i++)
		FUZZ_CHECK(inside(m.arg[i], line, len), "parameter %zu outside the line", i);
	FUZZ_CHECK(!m.account || (irc_account_ok(m.account) && !m.account_bad &&
	    inside(m.account, line, len)), "account '%s'", m.account ? m.account : "");
	FUZZ_CHECK(m.cmd || m.n == 0, "parameters without a command");
	if (copy[0] == '@' && strchr(copy, ' ')) {
		size_t at = 1, end = (size_t)(strchr(copy, ' ') - copy), t;
		int has = 0;

		while (at < end) {   /* is there a tag named exactly "account"? */
			for (t = at; t < end && copy[t] != ';'; t++)
				;
			has |= t - at >= 7 && strncmp(copy + at, "account", 7) == 0 &&
			    (at + 7 == t || copy[at + 7] == '=');
			at = t + 1;
		}
		FUZZ_CHECK(!has || m.account || m.account_bad,
		    "an account tag neither taken nor refused: %s", copy);
		FUZZ_CHECK(has || (!m.account && !m.account_bad), "an account without a tag: %s",
		    copy);
	}

	FUZZ_CHECK(irc_casecmp(m.nick, m.nick) == 0, "a nick differs from itself");
	if (m.cmd)
		FUZZ_CHECK((irc_casecmp(m.nick, m.cmd) == 0) == (irc_casecmp(m.cmd, m.nick) == 0),
		    "the case mapping is not symmetric");

	if (m.n >= 1) {
		const char *text = m.arg[m.n - 1];

		irc_channel_ok(m.arg[0]);
		irc_cap_has(text, "account-tag");
		rc = irc_command_text(&out, &why, text, me);
		if (rc == IRC_TEXT_COMMAND) {
			size_t n = strlen(out), k;

			FUZZ_CHECK(out && n <= IRC_COMMAND_MAX, "command of %zu bytes", n);
			FUZZ_CHECK(n > 0 && out[0] != ' ' && out[n - 1] != ' ', "not trimmed: '%s'", out);
			for (i = 0; i < n; i += k) {
				k = utf8_decode((const unsigned char *)out + i, n - i, &cp);
				FUZZ_CHECK(k && cp >= 0x20 && cp != 0x7f && !(cp >= 0x80 && cp < 0xa0),
				    "command holds U+%04X", cp);
			}
			char *plain = unformatted(text);

			FUZZ_CHECK(irc_ncasecmp(plain, me, strlen(me)) == 0,
			    "a command not addressed to %s: %s", me, text);
			free(plain);
		} else if (rc == IRC_TEXT_REFUSE) {
			FUZZ_CHECK(why && why[0] && !out, "a refusal without a reason");
		} else {
			FUZZ_CHECK(rc == IRC_TEXT_IGNORE && !out, "rc %d", rc);
		}
	}
	free(out);
	free(copy);
done:
	free(line);
	free(nick);
	return 0;
}
