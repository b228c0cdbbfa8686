/*
 * fuzz_planjson.c - plan JSON read back from the state directory.
 *
 * Stored plans (<state>/plans/<id>.json, read by state_load_plan) and the
 * open-plan index (<state>/open-plans.json, by state_each_open) are read
 * by the HTML page of GET /plans/<id> (http_plan_html, its own jansson
 * calls), the bot's `plan ID` and `plan` (bot/queries.c), and `status` on
 * a stopped controller (state/ctlclient.c).  This target writes the input
 * into a state directory of its own and drives all of them; approve and
 * restart recovery read the same fields but act on them, so they are left
 * to the e2e tests.
 *
 * Input: the plan (plans/7.json), optionally followed by a line "--" and
 * the index (without one there is no index, and the readers walk plans/).
 *
 * Invariants, beyond "no crash, no leak, no undefined behaviour":
 *   - http_plan_html gives OK or ERR_INVALID; its page is valid UTF-8 and
 *     every '<' in it opens one of the page's own tags (nothing from the
 *     plan is markup);
 *   - the bot's answers have code 0 or 1 (3 naming the stored file when it
 *     is not a plan or an index), are valid UTF-8, and never say "(null)"
 *     (unless the plan does).
 */
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "base/fs.h"
#include "bot/botint.h"
#include "controller/http.h"

static char state_dir[64];
static char plan_path[128];
static char index_path[128];
static pid_t owner;

static void
cleanup(void)
{
	if (state_dir[0] && owner == getpid())
		fs_rm_rf(state_dir);
}

static void
setup(void)
{
	char path[128];

	fuzz_tmpdir(state_dir, sizeof(state_dir));
	owner = getpid();
	atexit(cleanup);
	snprintf(path, sizeof(path), "%s/plans", state_dir);
	if (fs_mkdir_p(path, 0700) != OK)
		abort();
	snprintf(plan_path, sizeof(plan_path), "%s/plans/7.json", state_dir);
	snprintf(index_path, sizeof(index_path), "%s/open-plans.json", state_dir);
}

static int
utf8_ok(const char *s, size_t len)
{
	size_t i = 0, k;
	uint32_t cp;

	while (i < len) {
		if (!(k = utf8_decode((const unsigned char *)s + i, len - i, &cp)))
			return 0;
		i += k;
	}
	return 1;
}

/* The page's own tags; anything else after a '<' came from the plan. */
static int
own_tag(const char *p)
{
	static const char *const tags[] = { "!DOCTYPE", "html", "head", "meta", "title", "style",
	    "body", "h1", "h2", "h3", "p", "a", "pre", "span", "table", "thead", "tbody", "tr",
	    "td", "th", "ul", "li", "code", "details", "summary" };
	size_t i, n;

	if (*p == '/')
		p++;
	for (i = 0; i < sizeof(tags) / sizeof(*tags); i++) {
		n = strlen(tags[i]);
		if (strncmp(p, tags[i], n) == 0 && (p[n] == '>' || p[n] == ' '))
			return 1;
	}
	return 0;
}

/* Does the input itself say "null)" (as "(null)" or "\u0028null)")? */
static int input_says_null;

static void
check_answer(struct bot_answer *ans, const char *what)
{
	/* 3 (the environment) only for a stored file that is not what it
	 * should be, and the answer names it. */
	FUZZ_CHECK(ans->code == 0 || ans->code == 1 || (ans->code == 3 && ans->text.data &&
	    (strstr(ans->text.data, "plans/7.json") || strstr(ans->text.data, "open-plans.json"))),
	    "%s: code %d: %s", what, ans->code, ans->text.data);
	FUZZ_CHECK(utf8_ok(ans->text.data ? ans->text.data : "", ans->text.len),
	    "%s: answer is not UTF-8", what);
	FUZZ_CHECK(input_says_null || !ans->text.data || !strstr(ans->text.data, "(null)"),
	    "%s: %s", what, ans->text.data);
}

/* Write `len` bytes to `path` (0600), or remove it when data is NULL. */
static void
put_file(const char *path, const char *data, size_t len)
{
	int fd;

	if (!data) {
		FUZZ_CHECK(unlink(path) == 0 || errno == ENOENT, "%s: %s", path, strerror(errno));
		return;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd >= 0, "%s: %s", path, strerror(errno));
	FUZZ_CHECK(write(fd, data, len) == (ssize_t)len, "short write");
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct bot_request rq = { .user = "alice", .via = "fuzz", .text = "plan" };
	char seven[] = "7", *av[1] = { seven }, *plan, *index = NULL;
	struct fuzz_in in = { data, size };
	struct buf page = BUF_INIT;
	struct bot_answer ans;
	struct config cfg;
	struct bot b;
	size_t plen, ilen = 0;
	const char *p;
	int rc;

	if (!state_dir[0])
		setup();
	if (size > (1u << 20))
		return 0;
	input_says_null = memmem(data, size, "null)", 5) != NULL;
	plan = fuzz_take_part(&in, &plen);
	if (fuzz_more(&in))
		index = fuzz_take_part(&in, &ilen);

	/* The page.  jansson reads a C string: the stored file ends at a NUL. */
	rc = http_plan_html(&page, plan);
	FUZZ_CHECK(rc == OK || rc == ERR_INVALID, "rc %d", rc);
	if (rc == OK) {
		FUZZ_CHECK(utf8_ok(page.data, page.len), "the page is not UTF-8");
		for (p = page.data; (p = strchr(p, '<')); p++)
			FUZZ_CHECK(own_tag(p + 1), "markup from the plan: %.60s", p);
	}
	buf_dispose(&page);

	/* The same bytes as a stored plan, and the open-plan index (none: the
	 * readers walk plans/), read by the bot and by status. */
	put_file(plan_path, plan, plen);
	put_file(index_path, index, ilen);
	memset(&cfg, 0, sizeof(cfg));
	cfg.state = state_dir;
	memset(&b, 0, sizeof(b));
	b.cfg = &cfg;
	b.rq = &rq;
	b.user = "alice";

	memset(&ans, 0, sizeof(ans));
	b.ans = &ans;
	bot_run_plan(&b, av, 1);
	check_answer(&ans, "plan 7");
	bot_answer_dispose(&ans);

	memset(&ans, 0, sizeof(ans));
	bot_run_plan(&b, av, 0);
	check_answer(&ans, "plan");
	bot_answer_dispose(&ans);

	memset(&ans, 0, sizeof(ans));
	bot_run_status(&b, av, 0);
	check_answer(&ans, "status");
	bot_answer_dispose(&ans);
	free(plan);
	free(index);
	return 0;
}
