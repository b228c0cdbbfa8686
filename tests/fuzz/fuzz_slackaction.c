/*
 * fuzz_slackaction.c - Slack's interactivity bodies (the Approve and
 * Discard buttons): slack_action_parse (providers/chat/slack_in.h).
 *
 * Input: an input starting with '{' is the payload JSON, sent as the
 * form body "payload=<percent-encoded JSON>" (so the fuzzer works on the
 * JSON directly); anything else is the raw form body.
 *
 * Invariants, beyond "no crash, no leak, no undefined behaviour": a
 * parsed action is "approve N" or "discard N" (N 1 to 19 digits) from a
 * valid user and channel id, with a thread (when there is one) of digits,
 * one '.', digits; a failure is ERR_INVALID or ERR_TOOBIG with a message
 * and a zeroed request.
 */
#include "fuzz.h"

#include "providers/chat/slack_in.h"

static int
id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n >= 1 && n <= 64 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") == n;
}

static int
ts_ok(const char *s)
{
	size_t a = strspn(s, "0123456789"), b;

	if (a == 0 || s[a] != '.')
		return 0;
	b = strspn(s + a + 1, "0123456789");
	return b > 0 && s[a + 1 + b] == '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	struct chat_request r;
	struct buf body = BUF_INIT;
	size_t i, n;
	int rc;

	if (size && data[0] == '{') {
		buf_puts(&body, "payload=");
		for (i = 0; i < size; i++) {
			unsigned char c = data[i];

			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
				buf_putc(&body, (char)c);
			} else {
				buf_putc(&body, '%');
				buf_putc(&body, hex[c >> 4]);
				buf_putc(&body, hex[c & 15]);
			}
		}
	} else {
		buf_append(&body, data, size);
	}
	rc = slack_action_parse(&r, body.data ? body.data : "", body.len);
	if (rc != OK) {
		FUZZ_CHECK(rc == ERR_INVALID || rc == ERR_TOOBIG, "rc %d", rc);
		FUZZ_CHECK(err_last()[0], "no message");
		FUZZ_CHECK(!r.platform && !r.user_id && !r.text && !r.thread_ts && !r.response_url,
		    "a failed parse left fields");
	} else {
		FUZZ_CHECK(strcmp(r.platform, "slack") == 0, "platform %s", r.platform);
		FUZZ_CHECK(id_ok(r.user_id) && id_ok(r.channel_id), "ids");
		FUZZ_CHECK(r.text && (strncmp(r.text, "approve ", 8) == 0 ||
		    strncmp(r.text, "discard ", 8) == 0), "text '%s'", r.text);
		n = strspn(r.text + 8, "0123456789");
		FUZZ_CHECK(n >= 1 && n <= 19 && r.text[8 + n] == '\0', "plan id in '%s'", r.text);
		FUZZ_CHECK(!r.thread_ts || ts_ok(r.thread_ts), "thread '%s'", r.thread_ts);
		FUZZ_CHECK(!r.response_url || strncmp(r.response_url, "http://", 7) == 0 ||
		    strncmp(r.response_url, "https://", 8) == 0, "response_url");
	}
	chat_request_dispose(&r);
	buf_dispose(&body);
	return 0;
}
