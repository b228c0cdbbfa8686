/*
 * names.c - see names.h.
 */
#include "base/names.h"

#include <arpa/inet.h>
#include <string.h>

static int
is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* One DNS label: [a-z0-9]([a-z0-9-]*[a-z0-9])?, 1..63 bytes; `extra`
 * chars are also allowed anywhere (e.g. "_" in record names). */
static int
label_ok(const char *s, size_t n, const char *extra)
{
	size_t i;

	if (n == 0 || n > 63)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (is_lower(c) || is_digit(c) || (extra && c && strchr(extra, c)))
			continue;
		if (c == '-' && i > 0 && i + 1 < n)
			continue;
		return 0;
	}
	return 1;
}

static int
labels_ok(const char *s, int min_labels, const char *extra)
{
	size_t len = strlen(s);
	int labels = 0;
	const char *p = s;

	if (len == 0 || len > 253)
		return 0;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		if (!label_ok(p, n, extra))
			return 0;
		labels++;
		if (!dot)
			break;
		p = dot + 1;
	}
	return labels >= min_labels;
}

int
valid_fqdn(const char *s)
{
	return labels_ok(s, 2, NULL);
}

int
valid_zone(const char *s)
{
	return labels_ok(s, 2, NULL);
}

static int
ident_ok(const char *s, const char *more, size_t max)
{
	size_t i;

	if (!is_lower(s[0]))
		return 0;
	for (i = 1; s[i]; i++)
		if (!(is_lower(s[i]) || is_digit(s[i]) || strchr(more, s[i])))
			return 0;
	return i <= max;
}

int
valid_role(const char *s)
{
	return ident_ok(s, "_-", 63);
}

int
valid_service(const char *s)
{
	return ident_ok(s, "_-", 63);
}

int
valid_env(const char *s)
{
	return ident_ok(s, "_", 63);
}

int
valid_user(const char *s)
{
	return ident_ok(s, "_.-", 64);
}

int
valid_class(const char *s)
{
	const char *p = s;
	size_t len = strlen(s);

	if (len == 0 || len > 200)
		return 0;
	if (p[0] == ':' && p[1] == ':')
		p += 2;
	for (;;) {
		if (!is_lower(*p))
			return 0;
		while (is_lower(*p) || is_digit(*p) || *p == '_')
			p++;
		if (*p == '\0')
			return 1;
		if (p[0] != ':' || p[1] != ':')
			return 0;
		p += 2;
	}
}

int
valid_hiera_key(const char *s)
{
	const char *p = s;

	if (strlen(s) > 200)
		return 0;
	for (;;) {
		const char *q = p;

		while (is_lower(*p) || is_digit(*p) || *p == '_')
			p++;
		if (p == q)
			return 0;
		if (*p == '\0')
			return 1;
		if (p[0] != ':' || p[1] != ':')
			return 0;
		p += 2;
	}
}

int
valid_version(const char *s)
{
	size_t i;

	if (!(is_lower(s[0]) || is_digit(s[0]) || (s[0] >= 'A' && s[0] <= 'Z')))
		return 0;
	for (i = 1; s[i]; i++)
		if (!(is_lower(s[i]) || is_digit(s[i]) || (s[i] >= 'A' && s[i] <= 'Z') ||
		    strchr("._+~-", s[i])))
			return 0;
	return i <= 64;
}

int
valid_ipv4(const char *s)
{
	struct in_addr a;
	const char *p;

	if (strlen(s) > 15 || inet_pton(AF_INET, s, &a) != 1)
		return 0;
	/* inet_pton takes "010.0.0.1" on some libcs; refuse leading zeros. */
	for (p = s; *p; p++)
		if (*p == '0' && (p == s || p[-1] == '.') && is_digit(p[1]))
			return 0;
	return 1;
}

int
valid_ipv6(const char *s)
{
	struct in6_addr a;

	return strlen(s) <= 45 && inet_pton(AF_INET6, s, &a) == 1;
}

int
valid_record_name(const char *s)
{
	if (strcmp(s, "@") == 0)
		return 1;
	if (s[0] == '*') {
		if (s[1] == '\0')
			return 1;
		if (s[1] != '.')
			return 0;
		s += 2;
	}
	return labels_ok(s, 1, "_");
}

static const char *const record_types[] = {
	"A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SRV", "TXT",
};

int
valid_record_type(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(record_types) / sizeof(record_types[0]); i++)
		if (strcmp(s, record_types[i]) == 0)
			return 1;
	return 0;
}

int
valid_zone_id(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || is_digit(s[i])))
			return 0;
	return i >= 1 && i <= 32;
}

int
valid_param_key(const char *s)
{
	size_t i;

	if (!(is_lower(s[0]) || s[0] == '_'))
		return 0;
	for (i = 1; s[i]; i++)
		if (!(is_lower(s[i]) || is_digit(s[i]) || s[i] == '_' ||
		    (s[i] >= 'A' && s[i] <= 'Z')))
			return 0;
	return i <= 128;
}

