/*
 * slack_in.c - inbound Slack and Mattermost requests: form bodies, Slack's
 * request signature, replays, slash commands and button presses.  See
 * slack_in.h.  Pure functions over the bytes the HTTP layer received.
 */
#include "providers/chat/slack_in.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/crypto.h"
#include "model/ydoc.h"

#define ID_MAX 64
#define DISPLAY_MAX 256
#define URL_MAX 2048
#define TRIGGER_MAX 256
#define TS_MAX 32
#define PLAN_ID_DIGITS 19
#define SLACK_TS_DIGITS 12    /* Unix seconds: good until the year 33658 */

/* ---- UTF-8 ---- */

static int
utf8_valid(const char *s, size_t n)
{
	size_t i = 0, k;
	uint32_t cp;

	while (i < n) {
		if ((k = utf8_decode((const unsigned char *)s + i, n - i, &cp)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

/*
 * Characters a command line must not hold: C0 and C1 controls and DEL
 * (a CR or LF would forge a commit trailer or a second chat line), the
 * line and paragraph separators, and the bidi controls that make text
 * read differently from what it is (CVE-2021-42574, "Trojan Source").
 */
static int
forbidden_char(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
	    (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

/* Valid UTF-8 without a forbidden character. */
static int
text_clean(const char *s, size_t n)
{
	size_t i = 0, k;
	uint32_t cp;

	while (i < n) {
		if ((k = utf8_decode((const unsigned char *)s + i, n - i, &cp)) == 0)
			return 0;
		if (forbidden_char(cp))
			return 0;
		i += k;
	}
	return 1;
}

/* ---- forms ---- */


/*
 * Decode s[0..n) into *out (owns, NUL-terminated).  Returns NULL, or why
 * it is refused (and then *out is NULL).
 */
static const char *
form_decode(char **out, const char *s, size_t n)
{
	char *d = xmalloc(n + 1);
	const char *why = NULL;
	size_t i, j = 0;

	*out = NULL;
	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi = -1, lo = -1;

			if (n - i >= 3) {      /* s[i + 1] and s[i + 2] exist */
				hi = hex_digit(s[i + 1]);
				lo = hex_digit(s[i + 2]);
			}
			if (hi < 0 || lo < 0) {
				why = "a '%' not followed by two hex digits";
				goto out;
			}
			c = hi << 4 | lo;
			i += 2;
		}
		if (c == 0) {
			why = "a NUL byte";
			goto out;
		}
		d[j++] = (char)c;
	}
	d[j] = '\0';
	if (!utf8_valid(d, j)) {
		why = "invalid UTF-8";
		goto out;
	}
	*out = d;
	d = NULL;
out:
	free(d);
	return why;
}

/* A key is named in a message only when it is plainly a field name. */
static int
safe_key(const char *k)
{
	size_t i;

	for (i = 0; k[i]; i++)
		if (i >= 32 || !((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') ||
		    (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return 0;
	return i > 0;
}

int
form_parse(struct form *f, const char *body, size_t len)
{
	const char *p, *end;
	int rc = OK;

	ASSERT(f && (body || len == 0));
	memset(f, 0, sizeof(*f));
	if (len > FORM_MAX_BODY)
		return err_set(ERR_TOOBIG, "form body of %zu bytes is over %d", len, FORM_MAX_BODY);
	f->keys = xcalloc(FORM_MAX_FIELDS, sizeof(*f->keys));
	f->vals = xcalloc(FORM_MAX_FIELDS, sizeof(*f->vals));
	if (len == 0)          /* body may be NULL: no pointer arithmetic on it */
		return OK;
	p = body;
	end = body + len;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *fe = amp ? amp : end, *eq, *why;
		char *key, *val;

		if (fe == p) {         /* "&&": an empty field */
			p = fe + 1;
			continue;
		}
		if (f->n == FORM_MAX_FIELDS) {
			rc = err_set(ERR_TOOBIG, "form has more than %d fields", FORM_MAX_FIELDS);
			goto out;
		}
		eq = memchr(p, '=', (size_t)(fe - p));
		if ((why = form_decode(&key, p, (size_t)((eq ? eq : fe) - p))) != NULL) {
			rc = err_set(ERR_INVALID, "form field %zu: name holds %s", f->n + 1, why);
			goto out;
		}
		if (eq)
			why = form_decode(&val, eq + 1, (size_t)(fe - eq - 1));
		else
			val = xstrdup("");
		if (why) {
			if (safe_key(key))
				rc = err_set(ERR_INVALID, "form field %s holds %s", key, why);
			else
				rc = err_set(ERR_INVALID, "form field %zu holds %s", f->n + 1, why);
			free(key);
			goto out;
		}
		f->keys[f->n] = key;
		f->vals[f->n] = val;
		f->n++;
		p = amp ? amp + 1 : end;
	}
out:
	if (rc != OK)
		form_dispose(f);
	return rc;
}

const char *
form_get(const struct form *f, const char *key)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->keys[i], key) == 0)
			return f->vals[i];
	return NULL;
}

static size_t
form_count(const struct form *f, const char *key)
{
	size_t i, n = 0;

	for (i = 0; i < f->n; i++)
		n += strcmp(f->keys[i], key) == 0;
	return n;
}

void
form_dispose(struct form *f)
{
	size_t i;

	if (!f)
		return;
	for (i = 0; i < f->n; i++) {
		free(f->keys[i]);
		free(f->vals[i]);
	}
	free(f->keys);
	free(f->vals);
	memset(f, 0, sizeof(*f));
}

/* ---- Slack's signature ---- */

int
slack_verify(const char *secret, size_t secret_len, const char *ts_header,
    const char *sig_header, const void *body, size_t len, long long now)
{
	char mac[2 * CRYPTO_SHA256_LEN + 1];
	uint64_t ts;
	size_t tl, i, n;
	long long skew;
	char *base;
	int same;

	ASSERT(body || len == 0);
	if (!secret || secret_len == 0)
		return err_set(ERR_DENIED, "no Slack signing secret is configured");
	if (!ts_header)
		return err_set(ERR_DENIED, "no X-Slack-Request-Timestamp header");
	if (!sig_header)
		return err_set(ERR_DENIED, "no X-Slack-Signature header");
	tl = strlen(ts_header);
	if (tl == 0 || tl > SLACK_TS_DIGITS ||
	    parse_u64(&ts, ts_header, 0, UINT64_C(999999999999)) != OK)
		return err_set(ERR_DENIED, "X-Slack-Request-Timestamp is not Unix seconds "
		    "(1 to %d digits)", SLACK_TS_DIGITS);
	/* Both sides are in [0, 10^12) once now >= 0: no overflow. */
	skew = now < 0 ? -1 : (long long)ts > now ? (long long)ts - now : now - (long long)ts;
	if (skew < 0 || skew > SLACK_SIG_WINDOW)
		return err_set(ERR_DENIED, "stale request: X-Slack-Request-Timestamp is %lld s "
		    "away from our clock (at most %d)", skew < 0 ? -1LL : skew, SLACK_SIG_WINDOW);
	if (strlen(sig_header) != 3 + 2 * CRYPTO_SHA256_LEN || strncmp(sig_header, "v0=", 3) != 0)
		return err_set(ERR_DENIED, "X-Slack-Signature is not v0= and %d hex digits",
		    2 * CRYPTO_SHA256_LEN);
	for (i = 3; sig_header[i]; i++)
		if (!((sig_header[i] >= '0' && sig_header[i] <= '9') ||
		    (sig_header[i] >= 'a' && sig_header[i] <= 'f')))
			return err_set(ERR_DENIED, "X-Slack-Signature is not v0= and %d "
			    "lowercase hex digits", 2 * CRYPTO_SHA256_LEN);
	if (len > SIZE_MAX - tl - 8)
		return err_set(ERR_DENIED, "request body too large to verify");

	n = 3 + tl + 1 + len;
	base = xmalloc(n + 1);
	memcpy(base, "v0:", 3);
	memcpy(base + 3, ts_header, tl);
	base[3 + tl] = ':';
	if (len)
		memcpy(base + 4 + tl, body, len);
	crypto_hmac_sha256_hex(mac, secret, secret_len, base, n);
	free(base);
	/* The whole hex string, byte for byte, as Slack's SDKs compare it. */
	same = crypto_equal(mac, sig_header + 3, 2 * CRYPTO_SHA256_LEN);
	explicit_bzero(mac, sizeof(mac));
	if (!same)
		return err_set(ERR_DENIED, "X-Slack-Signature does not match the body");
	return OK;
}

/* ---- replays ---- */

struct replay_slot {
	unsigned char h[32];   /* SHA-256 of the key */
	long long t;           /* when it was recorded */
};

struct replay {
	struct replay_slot *s;   /* a ring, oldest at head */
	size_t cap, head, n;
};

struct replay *
replay_new(size_t cap)
{
	struct replay *r;

	ASSERT(cap > 0 && cap <= SIZE_MAX / sizeof(struct replay_slot));
	r = xcalloc(1, sizeof(*r));
	r->s = xcalloc(cap, sizeof(*r->s));
	r->cap = cap;
	return r;
}

void
replay_free(struct replay *r)
{
	if (!r)
		return;
	free(r->s);
	free(r);
}

static int
aged_out(long long t, long long now)
{
	return now > t && now - t > SLACK_REPLAY_KEEP;
}

int
replay_check(struct replay *r, const char *key, long long now)
{
	unsigned char h[32];
	struct replay_slot *slot;
	size_t i;

	ASSERT(r && key && now >= 0);
	/* Arrival order is time order unless the clock stepped back; then a
	 * younger key stuck behind an older one just stays a little longer. */
	while (r->n > 0 && aged_out(r->s[r->head].t, now)) {
		r->head = (r->head + 1) % r->cap;
		r->n--;
	}
	crypto_sha256(h, key, strlen(key));
	for (i = 0; i < r->n; i++) {
		slot = &r->s[(r->head + i) % r->cap];
		if (memcmp(slot->h, h, sizeof(h)) == 0 && !aged_out(slot->t, now)) {
			err_set(ERR_DENIED, "replayed request (seen %lld s ago)", now - slot->t);
			return 1;
		}
	}
	if (r->n == r->cap) {
		err_set(ERR_DENIED, "replay cache full: %zu requests in the last %d s",
		    r->cap, SLACK_REPLAY_KEEP);
		return 1;
	}
	slot = &r->s[(r->head + r->n) % r->cap];
	memcpy(slot->h, h, sizeof(h));
	slot->t = now;
	r->n++;
	return 0;
}

/* ---- requests ---- */

void
chat_request_dispose(struct chat_request *r)
{
	if (!r)
		return;
	free(r->platform);
	free(r->user_id);
	free(r->user_name);
	free(r->channel_id);
	free(r->channel_name);
	free(r->text);
	free(r->response_url);
	free(r->trigger_id);
	free(r->thread_ts);
	memset(r, 0, sizeof(*r));
}

/* [A-Za-z0-9._-]{1,64} */
static int
id_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (i >= ID_MAX || !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return 0;
	return i > 0;
}

/* Printable ASCII without spaces, 1 to max bytes. */
static int
token_ok(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (i >= max || (unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return i > 0;
}

static int
url_ok(const char *s, int https_only)
{
	if (strncmp(s, "https://", 8) != 0 && (https_only || strncmp(s, "http://", 7) != 0))
		return 0;
	return token_ok(s, URL_MAX);
}

/* Slack's message timestamps: "1531420618.000200". */
static int
ts_ok(const char *s)
{
	size_t i = 0, a, b;

	while (s[i] >= '0' && s[i] <= '9')
		i++;
	a = i;
	if (s[i++] != '.')
		return 0;
	while (s[i] >= '0' && s[i] <= '9')
		i++;
	b = i - a - 1;
	return s[i] == '\0' && a > 0 && b > 0 && i <= TS_MAX;
}

/* The plan id a button carries: 1 to 19 decimal digits. */
static int
plan_id_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (i >= PLAN_ID_DIGITS || s[i] < '0' || s[i] > '9')
			return 0;
	return i > 0;
}

/*
 * The fields every request has, checked (see slack_in.h), copied into r.
 * A NULL or empty optional value is absent.  `text` is NULL for a button
 * (its caller builds it).
 */
struct fields {
	const char *user_id, *user_name, *channel_id, *channel_name;
	const char *text, *response_url, *trigger_id, *thread_ts;
};

static int
fill(struct chat_request *r, const struct fields *v, const char *platform, int https_only)
{
	const char *t;
	size_t n;

	if (!v->user_id || !*v->user_id)
		return err_set(ERR_INVALID, "missing user_id");
	if (!id_ok(v->user_id))
		return err_set(ERR_INVALID, "user_id is not [A-Za-z0-9._-]{1,%d}", ID_MAX);
	if (!v->channel_id || !*v->channel_id)
		return err_set(ERR_INVALID, "missing channel_id");
	if (!id_ok(v->channel_id))
		return err_set(ERR_INVALID, "channel_id is not [A-Za-z0-9._-]{1,%d}", ID_MAX);
	if (v->user_name && *v->user_name && (strlen(v->user_name) > DISPLAY_MAX ||
	    !text_clean(v->user_name, strlen(v->user_name))))
		return err_set(ERR_INVALID, "user_name is over %d bytes or holds a control "
		    "character", DISPLAY_MAX);
	if (v->channel_name && *v->channel_name && (strlen(v->channel_name) > DISPLAY_MAX ||
	    !text_clean(v->channel_name, strlen(v->channel_name))))
		return err_set(ERR_INVALID, "channel_name is over %d bytes or holds a control "
		    "character", DISPLAY_MAX);
	if (v->text) {
		n = strlen(v->text);
		if (n > CHAT_TEXT_MAX)
			return err_set(ERR_INVALID, "text is %zu bytes, over %d", n, CHAT_TEXT_MAX);
		if (!utf8_valid(v->text, n))
			return err_set(ERR_INVALID, "text is not valid UTF-8");
		if (!text_clean(v->text, n))
			return err_set(ERR_INVALID, "text holds a control, line separator or "
			    "bidi character");
	}
	if (v->response_url && *v->response_url && !url_ok(v->response_url, https_only))
		return err_set(ERR_INVALID, "response_url is not an %s URL of at most %d "
		    "printable characters", https_only ? "https" : "http(s)", URL_MAX);
	if (v->trigger_id && *v->trigger_id && !token_ok(v->trigger_id, TRIGGER_MAX))
		return err_set(ERR_INVALID, "trigger_id is not 1 to %d printable characters",
		    TRIGGER_MAX);
	if (v->thread_ts && !ts_ok(v->thread_ts))
		return err_set(ERR_INVALID, "message ts is not digits.digits");

	r->platform = xstrdup(platform);
	r->user_id = xstrdup(v->user_id);
	r->user_name = xstrdup(v->user_name && *v->user_name ? v->user_name : v->user_id);
	r->channel_id = xstrdup(v->channel_id);
	r->channel_name = xstrdup(v->channel_name && *v->channel_name ?
	    v->channel_name : v->channel_id);
	if (v->text) {
		t = v->text;
		n = strlen(t);
		while (n > 0 && *t == ' ')
			t++, n--;
		while (n > 0 && t[n - 1] == ' ')
			n--;
		r->text = xstrndup(t, n);
	}
	if (v->response_url && *v->response_url)
		r->response_url = xstrdup(v->response_url);
	if (v->trigger_id && *v->trigger_id)
		r->trigger_id = xstrdup(v->trigger_id);
	if (v->thread_ts)
		r->thread_ts = xstrdup(v->thread_ts);
	return OK;
}

static const char *const command_fields[] = {
	"user_id", "user_name", "channel_id", "channel_name", "text", "response_url",
	"trigger_id", "token", NULL
};

/* A parsed slash command form into *out (zeroed on failure). */
static int
command_from_form(struct chat_request *out, const struct form *f, const char *platform,
    int https_only)
{
	struct fields v;
	size_t i;
	int rc;

	for (i = 0; command_fields[i]; i++)
		if (form_count(f, command_fields[i]) > 1)
			return err_set(ERR_INVALID, "form field %s appears more than once",
			    command_fields[i]);
	memset(&v, 0, sizeof(v));
	v.user_id = form_get(f, "user_id");
	v.user_name = form_get(f, "user_name");
	v.channel_id = form_get(f, "channel_id");
	v.channel_name = form_get(f, "channel_name");
	v.text = form_get(f, "text");
	if (!v.text)
		v.text = "";
	v.response_url = form_get(f, "response_url");
	v.trigger_id = form_get(f, "trigger_id");
	if ((rc = fill(out, &v, platform, https_only)) != OK)
		chat_request_dispose(out);
	return rc;
}

int
slack_command_parse(struct chat_request *out, const char *body, size_t len)
{
	struct form f;
	int rc;

	ASSERT(out);
	memset(out, 0, sizeof(*out));
	if ((rc = form_parse(&f, body, len)) != OK)
		return rc;
	rc = command_from_form(out, &f, "slack", 0);
	form_dispose(&f);
	return rc;
}

/*
 * obj[key] as a string in *out (borrowed from obj): NULL when obj is not
 * an object, or the key is absent or null.  ERR_INVALID naming `what`
 * when it is something else.  (A string cannot hold a NUL: json_loads()
 * refuses \u0000 without JSON_ALLOW_NUL.)
 */
static int
jstr(const char **out, const json_t *obj, const char *key, const char *what)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	*out = NULL;
	if (!v || json_is_null(v))
		return OK;
	if (!json_is_string(v))
		return err_set(ERR_INVALID, "payload %s is not a string", what);
	*out = json_string_value(v);
	return OK;
}

int
slack_action_parse(struct chat_request *out, const char *body, size_t len)
{
	const json_t *user, *channel, *container, *message, *actions, *a0;
	const char *type, *action_id, *value, *s;
	struct fields v;
	json_error_t jerr;
	json_t *root = NULL;
	struct form f;
	int rc;

	ASSERT(out);
	memset(out, 0, sizeof(*out));
	memset(&v, 0, sizeof(v));
	if ((rc = form_parse(&f, body, len)) != OK)
		return rc;
	if (form_count(&f, "payload") != 1) {
		rc = err_set(ERR_INVALID, "form field payload is missing or repeated");
		goto out;
	}
	/* jansson's message can quote the input: only the position is ours to log. */
	root = json_loads(form_get(&f, "payload"), JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		rc = err_set(ERR_INVALID, "payload is not JSON (line %d, column %d)",
		    jerr.line, jerr.column);
		goto out;
	}
	if (!json_is_object(root)) {
		rc = err_set(ERR_INVALID, "payload is not a JSON object");
		goto out;
	}
	if ((rc = jstr(&type, root, "type", "type")) != OK)
		goto out;
	if (!type || strcmp(type, "block_actions") != 0) {
		rc = err_set(ERR_INVALID, "payload type is not block_actions");
		goto out;
	}
	user = json_object_get(root, "user");
	channel = json_object_get(root, "channel");
	container = json_object_get(root, "container");
	message = json_object_get(root, "message");
	if ((rc = jstr(&v.user_id, user, "id", "user.id")) != OK ||
	    (rc = jstr(&v.user_name, user, "username", "user.username")) != OK)
		goto out;
	if (!v.user_name && (rc = jstr(&v.user_name, user, "name", "user.name")) != OK)
		goto out;
	if ((rc = jstr(&v.channel_id, channel, "id", "channel.id")) != OK ||
	    (rc = jstr(&v.channel_name, channel, "name", "channel.name")) != OK)
		goto out;
	if (!v.channel_id &&
	    (rc = jstr(&v.channel_id, container, "channel_id", "container.channel_id")) != OK)
		goto out;
	if ((rc = jstr(&v.response_url, root, "response_url", "response_url")) != OK ||
	    (rc = jstr(&v.trigger_id, root, "trigger_id", "trigger_id")) != OK)
		goto out;
	if ((rc = jstr(&s, message, "thread_ts", "message.thread_ts")) != OK)
		goto out;
	if (!s && (rc = jstr(&s, message, "ts", "message.ts")) != OK)
		goto out;
	if (!s && (rc = jstr(&s, container, "thread_ts", "container.thread_ts")) != OK)
		goto out;
	if (!s && (rc = jstr(&s, container, "message_ts", "container.message_ts")) != OK)
		goto out;
	v.thread_ts = s;

	actions = json_object_get(root, "actions");
	if (!json_is_array(actions) || json_array_size(actions) != 1) {
		rc = err_set(ERR_INVALID, "payload actions is not an array of one action");
		goto out;
	}
	a0 = json_array_get(actions, 0);
	if (!json_is_object(a0)) {
		rc = err_set(ERR_INVALID, "payload actions[0] is not an object");
		goto out;
	}
	if ((rc = jstr(&action_id, a0, "action_id", "actions[0].action_id")) != OK ||
	    (rc = jstr(&value, a0, "value", "actions[0].value")) != OK)
		goto out;
	if (!action_id || (strcmp(action_id, "approve") != 0 && strcmp(action_id, "discard") != 0)) {
		rc = err_set(ERR_INVALID, "actions[0].action_id is not approve or discard");
		goto out;
	}
	if (!value || !plan_id_ok(value)) {
		rc = err_set(ERR_INVALID, "actions[0].value is not a plan id (1 to %d digits)",
		    PLAN_ID_DIGITS);
		goto out;
	}
	if ((rc = fill(out, &v, "slack", 0)) != OK)
		goto out;
	out->text = xasprintf("%s %s", action_id, value);
out:
	if (rc != OK)
		chat_request_dispose(out);
	json_decref(root);
	form_dispose(&f);
	return rc;
}

int
mattermost_command_parse(struct chat_request *out, const char *token, size_t token_len,
    const char *auth_header, const char *body, size_t len)
{
	const char *field;
	struct form f;
	int rc;

	ASSERT(out);
	memset(out, 0, sizeof(*out));
	if (!token || token_len == 0)
		return err_set(ERR_DENIED, "no Mattermost slash command token is configured");
	if (auth_header) {
		const char *p = auth_header;
		size_t n;

		if (strncasecmp(p, "Token", 5) != 0 || p[5] != ' ')
			return err_set(ERR_DENIED, "Authorization is not \"Token <token>\"");
		for (p += 5; *p == ' '; p++)
			;
		for (n = strlen(p); n > 0 && p[n - 1] == ' '; n--)
			;
		if (n == 0 || !crypto_token_equal(p, n, token, token_len))
			return err_set(ERR_DENIED, "Authorization token does not match");
	}
	if ((rc = form_parse(&f, body, len)) != OK)
		return rc;
	if (form_count(&f, "token") > 1) {
		rc = err_set(ERR_INVALID, "form field token appears more than once");
		goto out;
	}
	field = form_get(&f, "token");
	if (!field && !auth_header) {
		rc = err_set(ERR_DENIED, "no token: neither an Authorization header nor a "
		    "token field");
		goto out;
	}
	if (field && !crypto_token_equal(field, strlen(field), token, token_len)) {
		rc = err_set(ERR_DENIED, "token field does not match");
		goto out;
	}
	rc = command_from_form(out, &f, "mattermost", 0);
out:
	form_dispose(&f);
	return rc;
}

/* ---- replies ---- */

void
chat_reply_json(struct buf *out, const char *text, int in_channel)
{
	static const char ellipsis[] = "\xe2\x80\xa6";
	struct buf t = BUF_INIT, j = BUF_INIT;
	const unsigned char *s = (const unsigned char *)(text ? text : "");
	size_t n = strlen((const char *)s), i = 0, k;
	uint32_t cp;

	while (i < n) {
		const char *rep = (const char *)s + i;
		size_t rl;

		k = utf8_decode(s + i, n - i, &cp);
		rl = k;
		if (k == 0)
			rep = "\xef\xbf\xbd", rl = 3, k = 1;
		else if (cp == '&')
			rep = "&amp;", rl = 5;
		else if (cp == '<')
			rep = "&lt;", rl = 4;
		else if (cp == '>')
			rep = "&gt;", rl = 4;
		else if (cp == '@' && i + 1 < n && ((s[i + 1] >= 'a' && s[i + 1] <= 'z') ||
		    (s[i + 1] >= 'A' && s[i + 1] <= 'Z') || (s[i + 1] >= '0' && s[i + 1] <= '9')))
			rep = "@\xe2\x80\x8b", rl = 4;
		else if ((cp < 0x20 && cp != '\n' && cp != '\t') || (cp >= 0x7f && cp <= 0x9f))
			rep = "", rl = 0;
		if (t.len + rl > CHAT_REPLY_MAX - (sizeof(ellipsis) - 1)) {
			buf_append(&t, ellipsis, sizeof(ellipsis) - 1);
			break;
		}
		buf_append(&t, rep, rl);
		i += k;
	}
	buf_puts(&j, in_channel ? "{\"response_type\":\"in_channel\",\"text\":" :
	    "{\"response_type\":\"ephemeral\",\"text\":");
	json_emit_string(&j, t.data ? t.data : "", t.len);
	buf_putc(&j, '}');
	buf_append(out, j.data, j.len);
	buf_dispose(&t);
	buf_dispose(&j);
}
