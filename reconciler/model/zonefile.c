/*
 * zonefile.c - RFC 1035 master files for `firebreak import zone`; see
 * zonefile.h for what is read and what comes out.
 *
 * Two steps per entry.  read_entry() cuts the input into fields: an
 * entry is one line, or several when a '(' is open; ';' starts a comment
 * outside quotes; a quoted string is one field and may not span lines.
 * Then the entry is read as a directive ($ORIGIN, $TTL) or a record:
 * [owner] [ttl] [class] type rdata, ttl and class in either order, a
 * line that begins with a blank having no owner (the previous one's).
 * Each supported type's rdata is turned into the inventory's value
 * form here, so what the caller writes is what the route53 renderer
 * and the rfc2136 provider read back.
 *
 * One parser, one file, a little past the usual length: the fields, the
 * names and each type's rdata share the parse state and the messages,
 * and reading it top to bottom is reading the grammar.
 */
#include "model/zonefile.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/names.h"

struct field {
	const char *p;
	size_t len;
	int quoted;
};

struct zparse {
	const char *file, *data, *zone;
	size_t len, pos;
	int line;                   /* the line at pos */
	unsigned flags;
	char *origin;               /* owns; absolute, no final dot ("" for the root) */
	uint32_t dflt_ttl, last_ttl;
	int has_dflt, has_last;
	char *prev_owner;           /* owns */
	struct buf *warn;
	/* the entry being read */
	struct field f[ZONEFILE_MAX_FIELDS];
	size_t n;
	int eline;                  /* where it began */
	int blank_owner;
};

static int
fail(struct zparse *z, int line, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(struct zparse *z, int line, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(code, "%s:%d: %s", z->file, line, msg);
}

/* A field for messages: at most 60 bytes, control bytes as '?'. */
static const char *
show(const struct field *f, char tmp[64])
{
	size_t i, n = f->len > 60 ? 60 : f->len;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)f->p[i];

		tmp[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	tmp[n] = '\0';
	return tmp;
}

static int
ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* ---- fields -------------------------------------------------------------- */

/* 1: an entry in z->f[0..n); 0: the end of the input; < 0: an error. */
static int
read_entry(struct zparse *z)
{
	const char *d = z->data;
	size_t start = z->pos;
	int paren = 0, paren_line = 0;

	z->n = 0;
	z->eline = z->line;
	z->blank_owner = z->pos < z->len && (d[z->pos] == ' ' || d[z->pos] == '\t');
	if (z->pos >= z->len)
		return 0;
	for (;;) {
		unsigned char c;

		if (z->pos - start > ZONEFILE_MAX_ENTRY)
			return fail(z, z->eline, ERR_TOOBIG, "an entry longer than %d bytes",
			    ZONEFILE_MAX_ENTRY);
		if (z->pos >= z->len) {
			if (paren)
				return fail(z, paren_line, ERR_INVALID, "'(' is never closed");
			break;
		}
		c = (unsigned char)d[z->pos];
		if (c == '\n') {
			z->line++;
			z->pos++;
			if (!paren)
				break;
			continue;
		}
		if (c == '\r' && z->pos + 1 < z->len && d[z->pos + 1] == '\n') {
			z->pos++;
			continue;
		}
		if (c == ' ' || c == '\t') {
			z->pos++;
			continue;
		}
		if (ctl(c))
			return fail(z, z->line, ERR_INVALID, "a control character (0x%02x)", c);
		if (c == ';') {
			while (z->pos < z->len && d[z->pos] != '\n')
				z->pos++;
			continue;
		}
		if (c == '(') {
			if (paren)
				return fail(z, z->line, ERR_INVALID, "'(' inside '(' (opened on line %d)",
				    paren_line);
			paren = 1;
			paren_line = z->line;
			z->pos++;
			continue;
		}
		if (c == ')') {
			if (!paren)
				return fail(z, z->line, ERR_INVALID, "')' without '('");
			paren = 0;
			z->pos++;
			continue;
		}
		if (z->n == ZONEFILE_MAX_FIELDS)
			return fail(z, z->eline, ERR_TOOBIG, "more than %d fields in one entry",
			    ZONEFILE_MAX_FIELDS);
		if (c == '"') {
			size_t s = ++z->pos;

			while (z->pos < z->len && d[z->pos] != '"') {
				c = (unsigned char)d[z->pos];
				if (c == '\n' || (c == '\\' && z->pos + 1 < z->len &&
				    d[z->pos + 1] == '\n'))
					return fail(z, z->line, ERR_INVALID, "a quoted string runs "
					    "past the end of its line");
				if (ctl(c))
					return fail(z, z->line, ERR_INVALID, "a control character "
					    "(0x%02x) in a quoted string", c);
				z->pos += c == '\\' ? 2 : 1;
			}
			if (z->pos >= z->len)
				return fail(z, z->line, ERR_INVALID, "a quoted string is never closed");
			z->f[z->n].p = d + s;
			z->f[z->n].len = z->pos - s;
			z->f[z->n++].quoted = 1;
			z->pos++;
			continue;
		}
		{
			size_t s = z->pos;

			while (z->pos < z->len) {
				c = (unsigned char)d[z->pos];
				if (c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '(' ||
				    c == ')' || c == '"' || (c == '\r' && z->pos + 1 < z->len &&
				    d[z->pos + 1] == '\n'))
					break;
				if (ctl(c))
					return fail(z, z->line, ERR_INVALID, "a control character "
					    "(0x%02x)", c);
				if (c == '\\') {
					if (z->pos + 1 >= z->len || d[z->pos + 1] == '\n' ||
					    ctl((unsigned char)d[z->pos + 1]))
						return fail(z, z->line, ERR_INVALID, "a '\\' at the end "
						    "of a field");
					z->pos++;
				}
				z->pos++;
			}
			z->f[z->n].p = d + s;
			z->f[z->n].len = z->pos - s;
			z->f[z->n++].quoted = 0;
		}
	}
	return 1;
}

/* A field equal to `word`, ignoring case. */
static int
is_word(const struct field *f, const char *word)
{
	return !f->quoted && f->len == strlen(word) && strncasecmp(f->p, word, f->len) == 0;
}

/* A field as a C string, into tmp of `cap` bytes; NULL if it does not fit. */
static const char *
cstr(const struct field *f, char *tmp, size_t cap)
{
	if (f->len >= cap)
		return NULL;
	memcpy(tmp, f->p, f->len);
	tmp[f->len] = '\0';
	return tmp;
}

/*
 * A <character-string>'s bytes (RFC 1035 5.1: \DDD is a byte, \X is X),
 * appended to b; *n is how many.  ERR_INVALID for a bad \DDD.
 */
static int
decode_string(struct buf *b, size_t *n, const struct field *f)
{
	size_t i;

	*n = 0;
	for (i = 0; i < f->len; i++) {
		char c = f->p[i];

		if (c == '\\' && i + 1 < f->len) {
			if (f->p[i + 1] >= '0' && f->p[i + 1] <= '9') {
				unsigned v = 0, k;

				for (k = 1; k <= 3; k++) {
					if (i + k >= f->len || f->p[i + k] < '0' || f->p[i + k] > '9')
						return ERR_INVALID;
					v = v * 10 + (unsigned)(f->p[i + k] - '0');
				}
				if (v > 255)
					return ERR_INVALID;
				c = (char)v;
				i += 3;
			} else {
				c = f->p[++i];
			}
		}
		buf_putc(b, c);
		(*n)++;
	}
	return OK;
}

/* ---- names and numbers ------------------------------------------------------ */

static int
name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
	    c == '*';
}

/*
 * A domain name field, relative to the origin, into *out (owns;
 * lowercase, no final dot, "" for the root).  Escapes and characters
 * outside [A-Za-z0-9-_*] are refused: no inventory name can hold them.
 */
static int
parse_name(struct zparse *z, char **out, const struct field *f, const char *what)
{
	char tmp[64], *s;
	size_t i, len, lab = 0;

	*out = NULL;
	if (f->quoted || f->len == 0)
		return fail(z, z->eline, ERR_INVALID, "%s: expected a domain name, not a quoted "
		    "string", what);
	if (f->len == 1 && f->p[0] == '@') {
		*out = xstrdup(z->origin);
		return OK;
	}
	if (f->len == 1 && f->p[0] == '.') {
		*out = xstrdup("");
		return OK;
	}
	if (f->p[f->len - 1] == '.')
		s = xstrndup(f->p, f->len - 1);
	else if (z->origin[0])
		s = xasprintf("%.*s.%s", (int)f->len, f->p, z->origin);
	else
		s = xstrndup(f->p, f->len);
	len = strlen(s);
	for (i = 0; i <= len; i++) {
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] - 'A' + 'a');
		if (s[i] == '.' || s[i] == '\0') {
			if (lab == 0 || lab > 63)
				break;
			lab = 0;
			continue;
		}
		if (!name_char(s[i]))
			break;
		lab++;
	}
	if (i <= len || len > 253) {
		free(s);
		return fail(z, z->eline, ERR_INVALID, "%s '%s' is not a name firebreak can hold "
		    "(labels of letters, digits, '-', '_' and '*', no escapes)", what, show(f, tmp));
	}
	*out = s;
	return OK;
}

/* A TTL: seconds, or BIND's units (1w2d3h4m5s). */
static int
parse_ttl(uint32_t *out, const struct field *f)
{
	uint64_t total = 0, cur = 0;
	size_t i;
	int digits = 0, units = 0;

	if (f->quoted || f->len == 0 || f->p[0] < '0' || f->p[0] > '9')
		return ERR_INVALID;
	for (i = 0; i < f->len; i++) {
		char c = f->p[i];
		uint64_t mul = 0;

		if (c >= '0' && c <= '9') {
			cur = cur * 10 + (uint64_t)(c - '0');
			if (cur > ZONEFILE_TTL_MAX)
				return ERR_INVALID;
			digits = 1;
			continue;
		}
		switch (c | 0x20) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		case 'w': mul = 604800; break;
		default: return ERR_INVALID;
		}
		if (!digits)
			return ERR_INVALID;
		total += cur * mul;
		if (total > ZONEFILE_TTL_MAX)
			return ERR_INVALID;
		cur = 0;
		digits = 0;
		units = 1;
	}
	if (digits) {
		if (units && f->len > 0)
			return ERR_INVALID;     /* "1h30": a number after a unit */
		total += cur;
	}
	if (total > ZONEFILE_TTL_MAX)
		return ERR_INVALID;
	*out = (uint32_t)total;
	return OK;
}

static int
parse_num(struct zparse *z, unsigned long *out, const struct field *f, unsigned long max,
    const char *type, const char *what)
{
	char tmp[32], shown[64];
	uint64_t v;

	if (f->quoted || !cstr(f, tmp, sizeof(tmp)) || parse_u64(&v, tmp, 0, max) != OK)
		return fail(z, z->eline, ERR_INVALID, "%s: %s '%s' is not a number from 0 to %lu",
		    type, what, show(f, shown), max);
	*out = (unsigned long)v;
	return OK;
}

/* A target name as the inventory writes it: absolute, final dot. */
static int
put_target(struct zparse *z, struct buf *b, const struct field *f, const char *type)
{
	char *n;
	int rc;

	if ((rc = parse_name(z, &n, f, type)) != OK)
		return rc;
	buf_printf(b, "%s.", n);
	free(n);
	return OK;
}

/* Text for the inventory: UTF-8, no control character. */
static int
text_ok(struct zparse *z, const char *s, size_t n, const char *type)
{
	size_t i = 0, k;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return fail(z, z->eline, ERR_INVALID, "%s: a control character (0x%02x) in "
			    "the text, which dns/ files cannot hold", type, c);
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((k = utf8_decode((const unsigned char *)s + i, n - i, NULL)) == 0)
			return fail(z, z->eline, ERR_INVALID, "%s: text that is not UTF-8, which "
			    "dns/ files (YAML) cannot hold", type);
		i += k;
	}
	return OK;
}

/* ---- records ------------------------------------------------------------------- */

static const char *const supported[] = {
	"A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SRV", "TXT",
};
/* What a DNSSEC signer keeps (the rfc2136 provider's dnsrec_managed()). */
static const char *const signer[] = {
	"RRSIG", "NSEC", "NSEC3", "NSEC3PARAM", "DNSKEY", "CDS", "CDNSKEY", "TYPE65534",
};

static int
arity(struct zparse *z, size_t got, size_t want, const char *type)
{
	if (got != want)
		return fail(z, z->eline, ERR_INVALID, "%s takes %zu field%s, not %zu", type, want,
		    want == 1 ? "" : "s", got);
	return OK;
}

/* The value of a record of a supported type, from its rdata fields. */
static int
rdata_value(struct zparse *z, struct buf *b, const char *type, const struct field *r, size_t n)
{
	char tmp[64], shown[64];
	unsigned long a, c, d;
	int rc;

	if (strcmp(type, "A") == 0 || strcmp(type, "AAAA") == 0) {
		int v6 = type[1] == 'A';
		unsigned char bin[16];
		char text[INET6_ADDRSTRLEN];

		if ((rc = arity(z, n, 1, type)) != OK)
			return rc;
		if (r[0].quoted || !cstr(&r[0], tmp, sizeof(tmp)) ||
		    inet_pton(v6 ? AF_INET6 : AF_INET, tmp, bin) != 1 ||
		    !inet_ntop(v6 ? AF_INET6 : AF_INET, bin, text, sizeof(text)) ||
		    !(v6 ? valid_ipv6(text) : valid_ipv4(text)))
			return fail(z, z->eline, ERR_INVALID, "%s: '%s' is not an IPv%c address", type,
			    show(&r[0], shown), v6 ? '6' : '4');
		buf_puts(b, text);
		return OK;
	}
	if (strcmp(type, "CNAME") == 0 || strcmp(type, "NS") == 0 || strcmp(type, "PTR") == 0) {
		if ((rc = arity(z, n, 1, type)) != OK)
			return rc;
		return put_target(z, b, &r[0], type);
	}
	if (strcmp(type, "MX") == 0) {
		if ((rc = arity(z, n, 2, type)) != OK ||
		    (rc = parse_num(z, &a, &r[0], 65535, type, "preference")) != OK)
			return rc;
		buf_printf(b, "%lu ", a);
		return put_target(z, b, &r[1], type);
	}
	if (strcmp(type, "SRV") == 0) {
		if ((rc = arity(z, n, 4, type)) != OK ||
		    (rc = parse_num(z, &a, &r[0], 65535, type, "priority")) != OK ||
		    (rc = parse_num(z, &c, &r[1], 65535, type, "weight")) != OK ||
		    (rc = parse_num(z, &d, &r[2], 65535, type, "port")) != OK)
			return rc;
		buf_printf(b, "%lu %lu %lu ", a, c, d);
		return put_target(z, b, &r[3], type);
	}
	if (strcmp(type, "CAA") == 0) {
		struct buf v = BUF_INIT;
		size_t i, vn;

		if ((rc = arity(z, n, 3, type)) != OK ||
		    (rc = parse_num(z, &a, &r[0], 255, type, "flags")) != OK)
			return rc;
		if (r[1].quoted || r[1].len == 0 || r[1].len > 15)
			return fail(z, z->eline, ERR_INVALID, "CAA: bad tag '%s'", show(&r[1], shown));
		for (i = 0; i < r[1].len; i++)
			if (!((r[1].p[i] >= 'a' && r[1].p[i] <= 'z') || (r[1].p[i] >= 'A' &&
			    r[1].p[i] <= 'Z') || (r[1].p[i] >= '0' && r[1].p[i] <= '9')))
				return fail(z, z->eline, ERR_INVALID, "CAA: bad tag '%s'",
				    show(&r[1], shown));
		if (decode_string(&v, &vn, &r[2]) != OK) {
			buf_dispose(&v);
			return fail(z, z->eline, ERR_INVALID, "CAA: a bad \\DDD escape");
		}
		if ((rc = text_ok(z, v.data ? v.data : "", vn, type)) != OK) {
			buf_dispose(&v);
			return rc;
		}
		buf_printf(b, "%lu ", a);
		for (i = 0; i < r[1].len; i++)
			buf_putc(b, (char)(r[1].p[i] | 0x20));
		buf_puts(b, " \"");
		for (i = 0; i < vn; i++) {
			if (v.data[i] == '"' || v.data[i] == '\\')
				buf_putc(b, '\\');
			buf_putc(b, v.data[i]);
		}
		buf_putc(b, '"');
		buf_dispose(&v);
		return OK;
	}
	/* TXT: the text itself, its strings joined. */
	{
		size_t i, k, total = 0, start;
		int uneven = 0;

		if (n == 0)
			return fail(z, z->eline, ERR_INVALID, "TXT needs at least one string");
		start = b->len;
		for (i = 0; i < n; i++) {
			if (decode_string(b, &k, &r[i]) != OK)
				return fail(z, z->eline, ERR_INVALID, "TXT: a bad \\DDD escape");
			if (k > 255)
				return fail(z, z->eline, ERR_INVALID, "TXT: a string of %zu bytes (at "
				    "most 255)", k);
			if (i + 1 < n && k != 255)
				uneven = 1;
			total += k;
		}
		if (total == 0)
			return fail(z, z->eline, ERR_INVALID, "TXT: empty text, which dns/ files "
			    "cannot hold");
		if (total > ZONEFILE_MAX_VALUE)
			return fail(z, z->eline, ERR_TOOBIG, "TXT: %zu bytes of text (dns/ files hold "
			    "at most %d)", total, ZONEFILE_MAX_VALUE);
		if ((rc = text_ok(z, b->data + start, total, type)) != OK)
			return rc;
		if (uneven && z->warn)
			buf_printf(z->warn, "%s:%d: warning: TXT: %zu strings joined into one text; "
			    "firebreak splits text only at 255 bytes, so the record's strings will "
			    "differ on the wire\n", z->file, z->eline, n);
		return OK;
	}
}

static int
is_in(const char *type, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(type, list[i]) == 0)
			return 1;
	return 0;
}

static int
in_zone(const char *name, const char *zone)
{
	size_t nl = strlen(name), zl = strlen(zone);

	return nl == zl ? strcmp(name, zone) == 0 :
	    nl > zl && name[nl - zl - 1] == '.' && strcmp(name + nl - zl, zone) == 0;
}

static int
directive(struct zparse *z)
{
	char tmp[64];
	int rc;

	if (is_word(&z->f[0], "$ORIGIN")) {
		char *o;

		if (z->n != 2)
			return fail(z, z->eline, ERR_INVALID, "$ORIGIN takes one name");
		if ((rc = parse_name(z, &o, &z->f[1], "$ORIGIN")) != OK)
			return rc;
		free(z->origin);
		z->origin = o;
		return OK;
	}
	if (is_word(&z->f[0], "$TTL")) {
		if (z->n != 2 || parse_ttl(&z->dflt_ttl, &z->f[1]) != OK)
			return fail(z, z->eline, ERR_INVALID, "$TTL takes one TTL (seconds, or "
			    "units as 1h30m) of at most %u", ZONEFILE_TTL_MAX);
		z->has_dflt = 1;
		return OK;
	}
	if (is_word(&z->f[0], "$INCLUDE") || is_word(&z->f[0], "$GENERATE"))
		return fail(z, z->eline, ERR_INVALID, "%s is not supported: import reads one file; "
		    "expand it first (named-compilezone -o - ZONE FILE)", show(&z->f[0], tmp));
	return fail(z, z->eline, ERR_INVALID, "unknown directive '%s'", show(&z->f[0], tmp));
}

static int
record(struct zparse *z, struct zrecs *out)
{
	char *owner = NULL, tmp[64], type[16];
	struct buf v = BUF_INIT;
	uint32_t ttl = 0;
	size_t i = 0, k, zl;
	int has_ttl = 0, has_class = 0, rc;
	struct zrec *r;

	if (z->blank_owner) {
		if (!z->prev_owner)
			return fail(z, z->eline, ERR_INVALID, "no owner name, and no record before "
			    "this one to take it from");
		owner = xstrdup(z->prev_owner);
	} else {
		if ((rc = parse_name(z, &owner, &z->f[0], "owner")) != OK)
			return rc;
		i = 1;
	}
	for (k = 0; k < 2 && i < z->n; k++) {
		const struct field *f = &z->f[i];

		if (!has_ttl && !f->quoted && f->len && f->p[0] >= '0' && f->p[0] <= '9') {
			if (parse_ttl(&ttl, f) != OK) {
				rc = fail(z, z->eline, ERR_INVALID, "bad TTL '%s' (seconds, or units as "
				    "1h30m, at most %u)", show(f, tmp), ZONEFILE_TTL_MAX);
				goto out;
			}
			has_ttl = 1;
			i++;
		} else if (!has_class && (is_word(f, "IN") || is_word(f, "CLASS1"))) {
			has_class = 1;
			i++;
		} else if (!has_class && (is_word(f, "CH") || is_word(f, "CHAOS") ||
		    is_word(f, "HS") || is_word(f, "HESIOD") || is_word(f, "CS") ||
		    (!f->quoted && f->len > 5 && strncasecmp(f->p, "CLASS", 5) == 0))) {
			rc = fail(z, z->eline, ERR_INVALID, "class %s: only IN records can be "
			    "imported", show(f, tmp));
			goto out;
		} else {
			break;
		}
	}
	if (i >= z->n) {
		rc = fail(z, z->eline, ERR_INVALID, "a record without a type");
		goto out;
	}
	if (z->f[i].quoted || z->f[i].len == 0 || z->f[i].len >= sizeof(type)) {
		rc = fail(z, z->eline, ERR_INVALID, "'%s' is not a record type", show(&z->f[i], tmp));
		goto out;
	}
	for (k = 0; k < z->f[i].len; k++) {
		char c = z->f[i].p[k];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-')) {
			rc = fail(z, z->eline, ERR_INVALID, "'%s' is not a record type",
			    show(&z->f[i], tmp));
			goto out;
		}
		type[k] = (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
	}
	type[k] = '\0';
	if (type[0] >= '0' && type[0] <= '9') {
		rc = fail(z, z->eline, ERR_INVALID, "bad TTL '%s'", show(&z->f[i], tmp));
		goto out;
	}
	i++;
	if (!has_ttl) {
		if (z->has_dflt) {
			ttl = z->dflt_ttl;
		} else if (z->has_last) {
			ttl = z->last_ttl;
		} else {
			rc = fail(z, z->eline, ERR_INVALID, "no TTL, and no $TTL or record before "
			    "this one to take it from");
			goto out;
		}
	}
	z->last_ttl = ttl;
	z->has_last = 1;
	free(z->prev_owner);
	z->prev_owner = xstrdup(owner);
	if (!in_zone(owner, z->zone)) {
		rc = fail(z, z->eline, ERR_INVALID, "%s%s is outside zone %s", owner,
		    owner[0] ? "" : ".", z->zone);
		goto out;
	}
	if (strcmp(type, "SOA") == 0) {
		if (strcmp(owner, z->zone) != 0) {
			rc = fail(z, z->eline, ERR_INVALID, "an SOA below the zone's apex");
			goto out;
		}
		out->soa++;
		rc = OK;
		goto out;
	}
	if (strcmp(type, "NS") == 0 && strcmp(owner, z->zone) == 0) {
		out->apex_ns++;
		rc = OK;
		goto out;
	}
	if (is_in(type, signer, sizeof(signer) / sizeof(*signer))) {
		out->dnssec++;
		rc = OK;
		goto out;
	}
	if (!is_in(type, supported, sizeof(supported) / sizeof(*supported))) {
		if (z->flags & ZONEFILE_SKIP_UNSUPPORTED) {
			if (z->warn)
				buf_printf(z->warn, "%s:%d: warning: %s. %s skipped: dns/ files hold "
				    "A AAAA CAA CNAME MX NS PTR SRV TXT only\n", z->file, z->eline,
				    owner, type);
			out->skipped++;
			rc = OK;
			goto out;
		}
		rc = fail(z, z->eline, ERR_INVALID, "%s. %s: dns/ files hold A AAAA CAA CNAME MX NS "
		    "PTR SRV TXT only (--skip-unsupported leaves such records out, and the "
		    "rfc2136 provider would then delete them)", owner, type);
		goto out;
	}
	if (ttl == 0) {
		rc = fail(z, z->eline, ERR_INVALID, "%s. %s: TTL 0, which dns/ files cannot hold "
		    "(at least 1)", owner, type);
		goto out;
	}
	zl = strlen(z->zone);
	{
		char *rel = strcmp(owner, z->zone) == 0 ? xstrdup("@") :
		    xstrndup(owner, strlen(owner) - zl - 1);

		if (!valid_record_name(rel)) {
			rc = fail(z, z->eline, ERR_INVALID, "%s. is not a record name dns/ files can "
			    "hold (lowercase labels, '_', a leading '*')", owner);
			free(rel);
			goto out;
		}
		if ((rc = rdata_value(z, &v, type, z->f + i, z->n - i)) != OK) {
			free(rel);
			goto out;
		}
		if (out->n == ZONEFILE_MAX_RECORDS) {
			free(rel);
			rc = fail(z, z->eline, ERR_TOOBIG, "more than %d records", ZONEFILE_MAX_RECORDS);
			goto out;
		}
		if (out->n == out->alloc) {
			out->alloc = out->alloc ? out->alloc * 2 : 64;
			out->v = xrealloc(out->v, out->alloc * sizeof(*out->v));
		}
		r = &out->v[out->n++];
		memset(r, 0, sizeof(*r));
		r->name = owner;
		owner = NULL;
		r->rel = rel;
		memcpy(r->type, type, strlen(type) + 1);
		r->ttl = ttl;
		r->value = buf_steal(&v);
		r->line = z->eline;
	}
	rc = OK;
out:
	free(owner);
	buf_dispose(&v);
	return rc;
}

int
zonefile_parse(struct zrecs *out, const char *zone, const char *file, const char *data,
    size_t len, unsigned flags, struct buf *warn)
{
	struct zparse *z;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len > ZONEFILE_MAX_BYTES)
		return err_set(ERR_TOOBIG, "%s: %zu bytes (at most %u)", file, len,
		    ZONEFILE_MAX_BYTES);
	if (!valid_zone(zone))
		return err_set(ERR_INVALID, "'%s' is not a zone name (lowercase, no final dot)",
		    zone);
	z = xcalloc(1, sizeof(*z));
	z->file = file;
	z->data = data;
	z->len = len;
	z->zone = zone;
	z->line = 1;
	z->flags = flags;
	z->warn = warn;
	z->origin = xstrdup(zone);
	if (memchr(data, '\0', len)) {
		const char *nul = memchr(data, '\0', len);
		size_t i;
		int line = 1;

		for (i = 0; data + i < nul; i++)
			line += data[i] == '\n';
		rc = fail(z, line, ERR_INVALID, "a NUL byte");
		goto out;
	}
	for (;;) {
		rc = read_entry(z);
		if (rc <= 0)
			break;
		if (z->n == 0)
			continue;
		if (!z->blank_owner && !z->f[0].quoted && z->f[0].p[0] == '$')
			rc = directive(z);
		else
			rc = record(z, out);
		if (rc != OK)
			break;
	}
out:
	free(z->origin);
	free(z->prev_owner);
	free(z);
	if (rc != OK) {
		zrecs_dispose(out);
		return rc;
	}
	return OK;
}

void
zrecs_dispose(struct zrecs *z)
{
	size_t i;

	for (i = 0; i < z->n; i++) {
		free(z->v[i].name);
		free(z->v[i].rel);
		free(z->v[i].value);
	}
	free(z->v);
	memset(z, 0, sizeof(*z));
}
