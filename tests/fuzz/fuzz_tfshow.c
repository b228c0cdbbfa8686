/*
 * fuzz_tfshow.c - Terraform's output as the terraform apply provider reads
 * it for chat (providers/apply/tfreport.h): a saved plan's `terraform show
 * -json` (tf_summary), and a failed run's output (tf_errors, tf_line,
 * tf_says_stale).
 *
 * Input: the JSON, a line "--", then the output text.
 *
 * Invariants, beyond "no crash, no leak, no undefined behaviour":
 *   - nothing either writes holds an ESC or another control character
 *     but newline and tab, and it is valid UTF-8 (it goes to chat);
 *   - a refused summary writes nothing; an accepted one starts with
 *     "Plan: " or "No changes." and lists at most TF_SUMMARY_LINES
 *     resources (and a line saying how many more), never more than it
 *     counted;
 *   - the errors are bounded: at most TF_ERRORS_MAX blocks of
 *     TF_ERROR_BYTES, or the tail.
 */
#include "fuzz.h"

#include "base/util.h"
#include "providers/apply/tfreport.h"

static void
check_text(const struct buf *b, const char *what)
{
	size_t i = 0, k;
	uint32_t cp;

	while (i < b->len) {
		const unsigned char c = (unsigned char)b->data[i];

		FUZZ_CHECK(c >= 0x20 || c == '\n' || c == '\t', "%s: control byte 0x%02x at %zu",
		    what, c, i);
		FUZZ_CHECK(c != 0x7f, "%s: DEL at %zu", what, i);
		k = utf8_decode((const unsigned char *)b->data + i, b->len - i, &cp);
		FUZZ_CHECK(k > 0, "%s: invalid UTF-8 at %zu", what, i);
		FUZZ_CHECK(cp < 0x80 || cp >= 0xa0, "%s: C1 control at %zu", what, i);
		i += k;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct buf sum = BUF_INIT, err = BUF_INIT, line = BUF_INIT;
	struct tf_counts n;
	size_t jl, tl, listed = 0;
	char *json = fuzz_take_part(&in, &jl), *text = fuzz_take_part(&in, &tl);
	const char *p;
	int rc;

	rc = tf_summary(&sum, &n, json, jl);
	if (rc != OK) {
		FUZZ_CHECK(sum.len == 0, "a refused summary wrote %zu bytes", sum.len);
	} else {
		FUZZ_CHECK(strncmp(sum.data, "Plan: ", 6) == 0 || strcmp(sum.data, "No changes.\n") == 0,
		    "summary starts with \"%.20s\"", sum.data);
		for (p = sum.data; (p = strstr(p, "\n  ")); p++)
			listed++;
		FUZZ_CHECK(listed <= TF_SUMMARY_LINES + 1, "%zu lines listed", listed);
		FUZZ_CHECK(listed <= n.resources + 1, "%zu lines for %zu resources", listed,
		    n.resources);
		check_text(&sum, "summary");
	}
	tf_errors(&err, text, tl);
	check_text(&err, "errors");
	FUZZ_CHECK(err.len <= TF_ERRORS_MAX * (TF_ERROR_BYTES + 300) + TF_TAIL_BYTES + 100,
	    "errors: %zu bytes", err.len);
	tf_line(&line, text, tl, "Apply complete!");
	check_text(&line, "line");
	(void)tf_says_stale(text, tl);
	buf_dispose(&sum);
	buf_dispose(&err);
	buf_dispose(&line);
	free(json);
	free(text);
	return 0;
}
