/*
 * fuzz_chatform.c - Slack and Mattermost slash-command bodies
 * (providers/chat/slack_in.h): form_parse, slack_command_parse and
 * mattermost_command_parse over the same bytes, as the controller's HTTP
 * listener hands them over.
 *
 * Input: the body; for Mattermost, a first part (before a line "--") is
 * the Authorization header's value, and the configured token is "tok".
 *
 * Invariants, beyond "no crash, no leak, no undefined behaviour":
 *   - form_parse: OK with at most FORM_MAX_FIELDS fields, every key and
 *     value NUL-free and valid UTF-8; or ERR_INVALID / ERR_TOOBIG and an
 *     empty form;
 *   - a parsed request has the fields the header promises, within their
 *     rules (ids [A-Za-z0-9._-]{1,64}, text trimmed and without control
 *     characters, URLs http(s), ...), or the parser failed with an
 *     ERR_* code, a message, and a zeroed request;
 *   - the form and both parsers agree: a command parses only if its body
 *     is a form.
 */
#include "fuzz.h"

#include "providers/chat/slack_in.h"

static int
utf8_ok(const char *s)
{
	size_t i = 0, n = strlen(s), k;
	uint32_t cp;

	while (i < n) {
		if (!(k = utf8_decode((const unsigned char *)s + i, n - i, &cp)))
			return 0;
		i += k;
	}
	return 1;
}

static int
id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n >= 1 && n <= 64 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") == n;
}

static int
zeroed(const struct chat_request *r)
{
	return !r->platform && !r->user_id && !r->user_name && !r->channel_id &&
	    !r->channel_name && !r->text && !r->response_url && !r->trigger_id && !r->thread_ts;
}

static void
check_request(const struct chat_request *r, int rc, const char *who)
{
	uint32_t cp;
	size_t i, k, n;

	if (rc != OK) {
		FUZZ_CHECK(rc == ERR_INVALID || rc == ERR_TOOBIG || rc == ERR_DENIED, "%s: rc %d",
		    who, rc);
		FUZZ_CHECK(err_last()[0], "%s: no message", who);
		FUZZ_CHECK(zeroed(r), "%s: a failed parse left fields", who);
		return;
	}
	FUZZ_CHECK(r->platform && id_ok(r->user_id) && id_ok(r->channel_id), "%s: ids", who);
	FUZZ_CHECK(r->user_name && utf8_ok(r->user_name) && strlen(r->user_name) <= 256,
	    "%s: user_name", who);
	FUZZ_CHECK(r->channel_name && utf8_ok(r->channel_name) && strlen(r->channel_name) <= 256,
	    "%s: channel_name", who);
	FUZZ_CHECK(r->text && utf8_ok(r->text) && strlen(r->text) <= CHAT_TEXT_MAX, "%s: text", who);
	n = strlen(r->text);
	FUZZ_CHECK(n == 0 || (r->text[0] != ' ' && r->text[n - 1] != ' '), "%s: text not trimmed",
	    who);
	for (i = 0; i < n; i += k) {
		k = utf8_decode((const unsigned char *)r->text + i, n - i, &cp);
		FUZZ_CHECK(k && cp >= 0x20 && cp != 0x7f && !(cp >= 0x80 && cp < 0xa0) &&
		    cp != 0x2028 && cp != 0x2029 && !(cp >= 0x202a && cp <= 0x202e) &&
		    !(cp >= 0x2066 && cp <= 0x2069), "%s: text holds U+%04X", who, cp);
	}
	FUZZ_CHECK(!r->response_url || strncmp(r->response_url, "http://", 7) == 0 ||
	    strncmp(r->response_url, "https://", 8) == 0, "%s: response_url", who);
	FUZZ_CHECK(!r->response_url || strlen(r->response_url) <= 2048, "%s: response_url length",
	    who);
	FUZZ_CHECK(!r->trigger_id || (strlen(r->trigger_id) >= 1 && strlen(r->trigger_id) <= 256 &&
	    !strchr(r->trigger_id, ' ')), "%s: trigger_id", who);
	FUZZ_CHECK(!r->thread_ts, "%s: a command has no thread", who);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct chat_request r;
	struct form f;
	char *auth = NULL, *body;
	size_t blen, i;
	int frc, rc;

	body = fuzz_take_part(&in, &blen);
	if (fuzz_more(&in)) {
		auth = body;   /* a header holds no NUL: the copy ends at the first */
		body = fuzz_take_part(&in, &blen);
	}

	frc = form_parse(&f, body, blen);
	if (frc == OK) {
		FUZZ_CHECK(f.n <= FORM_MAX_FIELDS, "%zu fields", f.n);
		for (i = 0; i < f.n; i++)
			FUZZ_CHECK(utf8_ok(f.keys[i]) && utf8_ok(f.vals[i]), "field %zu not UTF-8", i);
	} else {
		FUZZ_CHECK(frc == ERR_INVALID || frc == ERR_TOOBIG, "form rc %d", frc);
		FUZZ_CHECK(f.n == 0, "a failed form kept fields");
	}
	form_dispose(&f);

	rc = slack_command_parse(&r, body, blen);
	check_request(&r, rc, "slack");
	FUZZ_CHECK(rc != OK || frc == OK, "a command from a body that is no form");
	FUZZ_CHECK(rc != OK || strcmp(r.platform, "slack") == 0, "platform");
	chat_request_dispose(&r);

	rc = mattermost_command_parse(&r, "tok", 3, auth, body, blen);
	check_request(&r, rc, "mattermost");
	FUZZ_CHECK(rc != OK || frc == OK, "a command from a body that is no form");
	FUZZ_CHECK(rc != OK || strcmp(r.platform, "mattermost") == 0, "platform");
	chat_request_dispose(&r);
	FUZZ_CHECK(zeroed(&r), "dispose leaves fields");

	free(auth);
	free(body);
	return 0;
}
