/*
 * irc_line.h - IRC's wire format as a pure library: one server line split
 * into its IRCv3 tags, prefix, command and parameters; names checked
 * against RFC 2812's syntax and compared in RFC 1459's case mapping; and a
 * channel message turned into a command for the bot, or not.  No I/O, no
 * clock, no global state: irc.c drives the connection, the fuzz target
 * drives this.
 *
 * Everything a server sends is untrusted: a line is at most IRC_IN_MAX
 * bytes (tags may precede the 512 of RFC 1459), and nothing here reads
 * past its NUL.
 *
 * Layer: providers/chat (includes base only).
 */
#ifndef FIREBREAK_IRC_LINE_H
#define FIREBREAK_IRC_LINE_H

#include <stddef.h>

#include "base/util.h"

#define IRC_IN_MAX 8192           /* one line with its tags */
#define IRC_PEER_NICK_MAX 32      /* others' nicks, when they address us */
#define IRC_ACCOUNT_MAX 64        /* a services account name */
#define IRC_COMMAND_MAX 400       /* bytes of one command for the bot */

/* One parsed line.  Every pointer borrows from the line, which
 * irc_parse_line() modifies (NULs between the parts). */
struct irc_msg {
	const char *nick;         /* the prefix's nick ("" for none) */
	const char *cmd;          /* "PRIVMSG", "001"; NULL for an empty line */
	const char *arg[15];      /* parameters; the last may be the trailing one */
	int n;
	const char *account;      /* the `account` tag, unescaped and checked with
	                           * irc_account_ok(), or NULL: absent or malformed */
	int account_bad;          /* an `account` tag was there but malformed */
};

/*
 * Split `line` (NUL-terminated, without CR LF) in place.  Tags: only the
 * server tag `account` is read (a client-only "+account" or a vendor
 * "x/account" is not it); its value is unescaped as IRCv3 message-tags
 * says (\: ; \s space, \\ backslash, \r, \n, other \X is X, a lone
 * trailing backslash is dropped) in place.  At most 15 parameters.
 */
void irc_parse_line(char *line, struct irc_msg *m);

/* A nick of at most `max` bytes in RFC 2812's syntax. */
int irc_nick_ok(const char *n, size_t max);

/* A services account name we accept: 1 to IRC_ACCOUNT_MAX bytes of
 * letters, digits and -_.[]\`^{|}; "*" (no account) is not one. */
int irc_account_ok(const char *a);

/* #name or &name, 2 to 50 bytes, no space, comma, colon, control byte. */
int irc_channel_ok(const char *ch);

/* RFC 1459's case mapping ([]\~ are the upper case of {}|^): 0 when
 * equal, over at most n bytes (or to a NUL). */
int irc_ncasecmp(const char *a, const char *b, size_t n);
int irc_casecmp(const char *a, const char *b);

/* What a channel message's text is to the bot. */
enum { IRC_TEXT_IGNORE, IRC_TEXT_COMMAND, IRC_TEXT_REFUSE };

/*
 * Is `raw` (a PRIVMSG's text) addressed to `nick` ("firebreak: deploy
 * ...", "FireBreak, status": the nick in the case mapping, then ':' or
 * ',')?  IRC_TEXT_COMMAND with *out (owns) the command, its formatting
 * codes (bold, colour, reverse, italic, underline, reset) stripped and
 * surrounding spaces trimmed; IRC_TEXT_IGNORE when not addressed to us,
 * CTCP, or empty once the address is off; IRC_TEXT_REFUSE, with *why (a
 * static phrase), when it is addressed to us but holds another control
 * character, invalid UTF-8 or more than IRC_COMMAND_MAX bytes.
 */
int irc_command_text(char **out, const char **why, const char *raw, const char *nick);

/*
 * Does a CAP LS / CAP ACK list (space-separated, each maybe "name=value")
 * hold capability `cap`?
 */
int irc_cap_has(const char *list, const char *cap);

#endif
