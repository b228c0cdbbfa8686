/*
 * tfreport.c - Terraform's output, read for people.  See tfreport.h.
 *
 * Terraform is a program we run, not an adversary, but what it prints
 * carries text from elsewhere (an API's error message, a record's value
 * from the inventory) and goes to chat: so it is handled like any
 * outside input, bounded at every step and cleaned of terminal escapes.
 */
#include "providers/apply/tfreport.h"

#include <jansson.h>
#include <string.h>

/* ---- cleaning ------------------------------------------------------------ */

/* The length of an ANSI escape sequence at s[0] == ESC (at most n). */
static size_t
escape_len(const unsigned char *s, size_t n)
{
	size_t i;

	if (n < 2)
		return n;
	if (s[1] == '[') {
		/* CSI: parameters, intermediates, one final byte. */
		for (i = 2; i < n && s[i] >= 0x20 && s[i] <= 0x3f; i++)
			;
		return i < n && s[i] >= 0x40 && s[i] <= 0x7e ? i + 1 : i;
	}
	if (s[1] == ']') {
		/* OSC: up to BEL or ESC backslash. */
		for (i = 2; i < n; i++) {
			if (s[i] == 0x07)
				return i + 1;
			if (s[i] == 0x1b && i + 1 < n && s[i + 1] == '\\')
				return i + 2;
		}
		return n;
	}
	return 2;
}

void
tf_clean(struct buf *out, const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, k;
	uint32_t cp;

	while (i < len) {
		if (s[i] == 0x1b) {
			i += escape_len(s + i, len - i);
			continue;
		}
		if (s[i] == '\r') {
			i++;
			continue;
		}
		if (s[i] < 0x80) {
			buf_putc(out, (s[i] < 0x20 && s[i] != '\n' && s[i] != '\t') || s[i] == 0x7f ?
			    '?' : (char)s[i]);
			i++;
			continue;
		}
		if (!(k = utf8_decode(s + i, len - i, &cp)) || (cp >= 0x80 && cp < 0xa0)) {
			buf_putc(out, '?');
			i += k ? k : 1;
			continue;
		}
		buf_append(out, s + i, k);
		i += k;
	}
}

/* ---- lines ------------------------------------------------------------------ */

/* Terraform's diagnostics, with or without their box: "│ Error: x". */
static const char *
unboxed(const char *line, size_t *len)
{
	static const char bar[] = "\xe2\x94\x82";     /* │ */
	static const char top[] = "\xe2\x95\xb7";     /* ╷ */
	static const char bottom[] = "\xe2\x95\xb5";  /* ╵ */

	if (*len >= 3 && (memcmp(line, top, 3) == 0 || memcmp(line, bottom, 3) == 0) &&
	    (*len == 3 || line[3] == ' ')) {
		*len = 0;
		return line;
	}
	if (*len >= 3 && memcmp(line, bar, 3) == 0) {
		line += 3;
		*len -= 3;
		if (*len && *line == ' ') {
			line++;
			(*len)--;
		}
	}
	return line;
}

static int
starts(const char *s, size_t n, const char *prefix)
{
	size_t pl = strlen(prefix);

	return n >= pl && memcmp(s, prefix, pl) == 0;
}

static int
blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return 0;
	return 1;
}

/* "  67:       }," : a line of the configuration Terraform quotes. */
static int
source_line(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && s[i] == ' ')
		i++;
	if (i == n || s[i] < '0' || s[i] > '9')
		return 0;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	return i < n && s[i] == ':';
}

/* Append at most `room` bytes of s, not cutting a UTF-8 sequence. */
static void
put_cut(struct buf *b, const char *s, size_t n, size_t room)
{
	if (n > room) {
		n = room;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		buf_append(b, s, n);
		buf_puts(b, "...");
		return;
	}
	buf_append(b, s, n);
}

struct errblock {
	struct buf text;             /* "Error: message\n  explanation" */
	char with[256];              /* the resource it names, or "" */
	size_t n, more;
	int open;
};

/* The block read so far ends: its message, whose resource, why. */
static void
err_flush(struct buf *out, struct errblock *e)
{
	if (!e->open)
		return;
	if (e->n < TF_ERRORS_MAX) {
		while (e->text.len && e->text.data[e->text.len - 1] == '\n')
			e->text.len--;
		put_cut(out, e->text.data ? e->text.data : "", e->text.len, TF_ERROR_BYTES);
		if (e->with[0])
			buf_printf(out, " (with %s)", e->with);
		buf_putc(out, '\n');
	} else {
		e->more++;
	}
	e->n++;
	buf_reset(&e->text);
	e->with[0] = '\0';
	e->open = 0;
}

/* One line of a diagnostic: its explanation, or whose it is. */
static void
err_line(struct errblock *e, const char *line, size_t n)
{
	if (blank(line, n) || source_line(line, n) || starts(line, n, "  on "))
		return;
	if (starts(line, n, "  with ")) {
		size_t wl = n - 7;

		if (wl && line[7 + wl - 1] == ',')
			wl--;
		if (wl > 200)
			wl = (size_t)utf8_prefix(line + 7, 200);   /* whole characters */
		snprintf(e->with, sizeof(e->with), "%.*s", (int)wl, line + 7);
		return;
	}
	if (e->text.len >= TF_ERROR_BYTES)
		return;
	while (n && (*line == ' ' || *line == '\t')) {
		line++;
		n--;
	}
	buf_puts(&e->text, "\n  ");
	buf_append(&e->text, line, n);
}

void
tf_errors(struct buf *out, const char *text, size_t len)
{
	struct buf clean = BUF_INIT;
	struct errblock e;
	const char *p, *end, *nl;
	size_t start = out->len;

	memset(&e, 0, sizeof(e));
	tf_clean(&clean, text, len);
	p = clean.data ? clean.data : "";
	end = p + clean.len;
	for (; p < end; p = nl + 1) {
		const char *line;
		size_t n;

		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		n = (size_t)(nl - p);
		line = unboxed(p, &n);
		if (starts(line, n, "Error: ") || starts(line, n, "Warning: ")) {
			err_flush(out, &e);
			if (starts(line, n, "Error: ")) {
				e.open = 1;
				buf_append(&e.text, line, n);
			}
		} else if (e.open) {
			err_line(&e, line, n);
		}
	}
	err_flush(out, &e);
	if (e.more)
		buf_printf(out, "... and %zu more error%s\n", e.more, e.more == 1 ? "" : "s");
	if (out->len == start) {
		/* No diagnostics: the end of the output is where it says why. */
		size_t n = clean.len, from;

		while (n > 0 && (clean.data[n - 1] == '\n' || clean.data[n - 1] == ' '))
			n--;
		from = n > TF_TAIL_BYTES ? n - TF_TAIL_BYTES : 0;
		if (from) {
			const char *q = memchr(clean.data + from, '\n', n - from);

			if (q && q + 1 < clean.data + n)
				from = (size_t)(q + 1 - clean.data);
			while (from < n && ((unsigned char)clean.data[from] & 0xc0) == 0x80)
				from++;
			buf_puts(out, "...\n");
		}
		if (n > from)
			buf_append(out, clean.data + from, n - from);
		else
			buf_puts(out, "(no output)");
		buf_putc(out, '\n');
	}
	buf_dispose(&e.text);
	buf_dispose(&clean);
}

int
tf_says_stale(const char *text, size_t len)
{
	static const char needle[] = "Saved plan is stale";

	return len >= sizeof(needle) - 1 && memmem(text, len, needle, sizeof(needle) - 1) != NULL;
}

int
tf_line(struct buf *out, const char *text, size_t len, const char *prefix)
{
	struct buf clean = BUF_INIT;
	const char *p, *end, *nl;
	size_t pl = strlen(prefix);
	int found = 0;

	tf_clean(&clean, text, len);
	p = clean.data ? clean.data : "";
	end = p + clean.len;
	for (; p < end && !found; p = nl + 1) {
		size_t n;
		const char *line;

		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		n = (size_t)(nl - p);
		line = unboxed(p, &n);
		if (n >= pl && memcmp(line, prefix, pl) == 0) {
			put_cut(out, line, n, 300);
			found = 1;
		}
	}
	buf_dispose(&clean);
	return found;
}

/* ---- the plan's summary -------------------------------------------------------- */

/* One value, compact and cut: what a person compares. */
static void
put_value(struct buf *b, const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
	struct buf c = BUF_INIT;

	if (!s) {
		buf_puts(b, "?");
		return;
	}
	tf_clean(&c, s, strlen(s));
	put_cut(b, c.data ? c.data : "", c.len, TF_VALUE_MAX);
	buf_dispose(&c);
	free(s);
}

/* The attributes an update changes: "records [...] -> [...]", sorted by
 * name (Terraform's own object order is not a promise). */
static void
put_changed(struct buf *b, const json_t *before, json_t *after, const json_t *unknown)
{
	const char *keys[64], *k;
	const json_t *v;
	size_t n = 0, i, j, shown = 0;

	if (!json_is_object(before) || !json_is_object(after))
		return;
	json_object_foreach(after, k, v) {
		const json_t *old = json_object_get(before, k);

		if (json_is_true(json_object_get(unknown, k)) || (old && json_equal(old, v)) ||
		    (!old && json_is_null(v)))
			continue;
		if (n < sizeof(keys) / sizeof(*keys))
			keys[n++] = k;
	}
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
			const char *t = keys[j];

			keys[j] = keys[j - 1];
			keys[j - 1] = t;
		}
	for (i = 0; i < n && shown < 4; i++, shown++) {
		const json_t *old = json_object_get(before, keys[i]);

		buf_puts(b, shown ? "; " : " (");
		tf_clean(b, keys[i], strlen(keys[i]) < 60 ? strlen(keys[i]) : 60);
		buf_putc(b, ' ');
		if (old)
			put_value(b, old);
		else
			buf_puts(b, "null");
		buf_puts(b, " -> ");
		put_value(b, json_object_get(after, keys[i]));
	}
	if (n > shown)
		buf_printf(b, "; %zu more", n - shown);
	if (shown)
		buf_putc(b, ')');
}

/* Terraform's action list as a sigil and a word, and what it counts as. */
static const char *
action_of(const json_t *actions, const char **word, struct tf_counts *c)
{
	const char *a0 = json_string_value(json_array_get(actions, 0));
	const char *a1 = json_string_value(json_array_get(actions, 1));
	size_t n = json_array_size(actions);

	if (!a0 || n > 2)
		return NULL;
	if (n == 2 && a1 && ((strcmp(a0, "delete") == 0 && strcmp(a1, "create") == 0) ||
	    (strcmp(a0, "create") == 0 && strcmp(a1, "delete") == 0))) {
		*word = "replace";
		c->add++;
		c->destroy++;
		return strcmp(a0, "delete") == 0 ? "-/+" : "+/-";
	}
	if (n != 1)
		return NULL;
	if (strcmp(a0, "create") == 0) {
		*word = "create";
		c->add++;
		return "+";
	}
	if (strcmp(a0, "update") == 0) {
		*word = "update";
		c->change++;
		return "~";
	}
	if (strcmp(a0, "delete") == 0) {
		*word = "delete";
		c->destroy++;
		return "-";
	}
	if (strcmp(a0, "forget") == 0) {
		*word = "forget (removed from the state, left in the world)";
		return ".";
	}
	return NULL;    /* no-op, read */
}

int
tf_summary(struct buf *out, struct tf_counts *counts, const char *json, size_t len)
{
	struct tf_counts c = { 0, 0, 0, 0 };
	struct buf lines = BUF_INIT;
	json_error_t je;
	json_t *root, *rc, *v;
	size_t i;

	if (len > TF_SHOW_MAX)
		return err_set(ERR_TOOBIG, "terraform show -json wrote more than %u bytes",
		    TF_SHOW_MAX);
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!root || !json_is_object(root) || !json_is_string(json_object_get(root,
	    "format_version"))) {
		json_decref(root);
		return err_set(ERR_INVALID, "terraform show -json did not write a plan (%s)",
		    root ? "no format_version" : "not JSON");
	}
	rc = json_object_get(root, "resource_changes");
	if (rc && !json_is_array(rc)) {
		json_decref(root);
		return err_set(ERR_INVALID, "terraform show -json: resource_changes is not a list");
	}
	json_array_foreach(rc, i, v) {
		const json_t *ch = json_object_get(v, "change");
		const char *addr = json_string_value(json_object_get(v, "address")), *word = NULL;
		const char *sigil = action_of(json_object_get(ch, "actions"), &word, &c);

		if (!sigil || !addr)
			continue;
		c.resources++;
		if (c.resources > TF_SUMMARY_LINES)
			continue;
		buf_printf(&lines, "  %s ", sigil);
		tf_clean(&lines, addr, strlen(addr) < 200 ? strlen(addr) : 200);
		buf_printf(&lines, ": %s", word);
		if (strcmp(word, "update") == 0)
			put_changed(&lines, json_object_get(ch, "before"), json_object_get(ch, "after"),
			    json_object_get(ch, "after_unknown"));
		buf_putc(&lines, '\n');
	}
	if (c.resources > TF_SUMMARY_LINES)
		buf_printf(&lines, "  ... and %zu more\n", c.resources - TF_SUMMARY_LINES);
	if (c.resources)
		buf_printf(out, "Plan: %zu to add, %zu to change, %zu to destroy.\n", c.add, c.change,
		    c.destroy);
	else
		buf_puts(out, "No changes.\n");
	if (lines.len)
		buf_append(out, lines.data, lines.len);
	buf_dispose(&lines);
	json_decref(root);
	if (counts)
		*counts = c;
	return OK;
}
