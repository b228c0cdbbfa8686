/*
 * fuzz_slackverify.c - Slack's request signing: slack_verify
 * (providers/chat/slack_in.h) over hostile headers and bodies.
 *
 * Input: four parts separated by lines "--": the signing secret, the
 * X-Slack-Request-Timestamp value, the X-Slack-Signature value, the body.
 * A header part "-" is an absent header.  The clock is the timestamp
 * (when it is digits) plus the secret's length (mod 601) minus 300, so both sides
 * of the window are reached.
 *
 * Invariants, beyond "no crash, no leak, no undefined behaviour":
 *   - OK only for exactly "v0=" + the HMAC-SHA256 of "v0:ts:body" in
 *     lowercase hex, a non-empty secret and a timestamp of 1 to 12 digits
 *     within SLACK_SIG_WINDOW of the clock; every refusal is ERR_DENIED
 *     with a message that quotes neither secret nor MAC;
 *   - the right signature for the same request is accepted exactly when
 *     the timestamp and secret are good.
 */
#include "fuzz.h"

#include "base/crypto.h"
#include "providers/chat/slack_in.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	char *secret, *ts, *sig, *body, mac[2 * CRYPTO_SHA256_LEN + 1], good[3 + sizeof(mac)];
	size_t slen, tlen, glen, blen, dig;
	struct buf base = BUF_INIT;
	long long now = 1531420618, tsv = -1;
	int rc, ts_good;

	secret = fuzz_take_part(&in, &slen);
	ts = fuzz_take_part(&in, &tlen);
	sig = fuzz_take_part(&in, &glen);
	body = fuzz_take_part(&in, &blen);
	tlen = strlen(ts);     /* a header holds no NUL: it ends at the first */
	glen = strlen(sig);
	dig = strspn(ts, "0123456789");
	ts_good = dig >= 1 && dig <= 12 && dig == tlen;
	if (ts_good) {
		tsv = strtoll(ts, NULL, 10);
		now = tsv + (long long)(slen % 601) - 300;
		if (now < 0)
			now = 0;   /* a clock before 1970 is refused: not this oracle's case */
	}
	rc = slack_verify(slen ? secret : NULL, slen, strcmp(ts, "-") ? ts : NULL,
	    strcmp(sig, "-") ? sig : NULL, body, blen, now);

	buf_printf(&base, "v0:%s:", ts);
	buf_append(&base, body, blen);
	crypto_hmac_sha256_hex(mac, secret, slen, base.data, base.len);
	snprintf(good, sizeof(good), "v0=%s", mac);
	ts_good = ts_good && (tsv - now <= SLACK_SIG_WINDOW && now - tsv <= SLACK_SIG_WINDOW);
	if (rc == OK)
		FUZZ_CHECK(slen > 0 && ts_good && strcmp(sig, good) == 0 && glen == strlen(good),
		    "accepted a bad signature");
	else
		FUZZ_CHECK(rc == ERR_DENIED && err_last()[0] && !strstr(err_last(), mac) &&
		    (slen < 8 || !memmem(err_last(), strlen(err_last()), secret, slen)), "rc %d: %s", rc, err_last());

	rc = slack_verify(slen ? secret : NULL, slen, ts, good, body, blen, now);
	FUZZ_CHECK((rc == OK) == (slen > 0 && ts_good), "the right signature: rc %d (%s)", rc,
	    err_last());

	buf_dispose(&base);
	free(secret);
	free(ts);
	free(sig);
	free(body);
	return 0;
}
