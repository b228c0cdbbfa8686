/*
 * test_outbox.c - the durable chat queue: messages are stored before they
 * are sent, retried with backoff in order, delivered once, survive a
 * restart, and go to dead/ when a backend refuses them for good.  A fake
 * backend (through outbox_open_with) fails on cue; the console backend
 * writes a real file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../providers/chat.h"
#include "../../reconciler/fs.h"
#include "../../reconciler/outbox.h"

/* ---- a fake backend that fails on cue ---- */

#define FAKE_MAX 64

struct delivery {
	char id[32];
	char plan[80];
	char thread[80];      /* "" when the message started its thread */
	char summary[512];
	int actions;
};

static struct {
	int script[16];       /* what post() returns, in turn; then OK */
	size_t nscript, pos;
	unsigned retry_after;
	struct delivery got[FAKE_MAX];
	size_t ngot;
	int opened, closed;
} fake;

static int
fake_open(void **out, const struct ynode *cfg)
{
	(void)cfg;
	fake.opened++;
	*out = &fake;
	return OK;
}

static int
fake_post(void *st, const struct chat_message *m, char **thread_out, unsigned *retry_after)
{
	int rc = fake.pos < fake.nscript ? fake.script[fake.pos] : OK;
	struct delivery *d;

	(void)st;
	fake.pos++;
	*thread_out = NULL;
	*retry_after = 0;
	if (rc == ERR_AGAIN) {
		*retry_after = fake.retry_after;
		return err_set(ERR_AGAIN, "fake: try later");
	}
	if (rc != OK)
		return err_set(rc, "fake: refused");
	assert_true(fake.ngot < FAKE_MAX);
	d = &fake.got[fake.ngot++];
	snprintf(d->id, sizeof(d->id), "%s", m->id);
	snprintf(d->plan, sizeof(d->plan), "%s", m->plan_id ? m->plan_id : "");
	snprintf(d->thread, sizeof(d->thread), "%s", m->thread ? m->thread : "");
	snprintf(d->summary, sizeof(d->summary), "%s", m->summary);
	d->actions = m->actions;
	if (!m->thread)
		*thread_out = xasprintf("ts-%s", m->id);
	return OK;
}

static void
fake_close(void *st)
{
	(void)st;
	fake.closed++;
}

static const struct chat_ops fake_ops = {
	.open = fake_open, .post = fake_post, .fd = NULL, .tick = NULL, .close = fake_close,
};
static const struct chat_provider fake_provider = {
	.abi = CHAT_PROVIDER_ABI, .name = "fake", .caps = CHAT_CAN_POST, .ops = &fake_ops,
};
extern const struct chat_provider chat_console, chat_slack, chat_webhook, chat_irc;
static const struct chat_provider *const test_providers[] = {
	&fake_provider, &chat_console, &chat_slack, &chat_webhook, &chat_irc, NULL,
};

static void
fake_reset(const int *script, size_t n, unsigned retry_after)
{
	memset(&fake, 0, sizeof(fake));
	if (n)
		memcpy(fake.script, script, n * sizeof(*script));
	fake.nscript = n;
	fake.retry_after = retry_after;
}

/* ---- a clock the tests move ---- */

static double fake_clock;

static double
clock_now(void)
{
	return fake_clock;
}

/* ---- fixtures ---- */

struct fixture {
	char dir[64];         /* a fresh temporary directory */
	char state[96];       /* dir/state */
	struct ynode *cfg;
	struct outbox *ob;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_outbox.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	fake_clock = 1000;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	outbox_close(f->ob);
	ynode_free(f->cfg);
	fs_rm_rf(f->dir);
	free(f);
	return 0;
}

static struct ynode *
yaml(const char *text)
{
	struct ynode *root = NULL;
	int line, col;

	assert_int_equal(ydoc_parse(&root, text, strlen(text), NULL, &line, &col), OK);
	return root;
}

/* Open (or reopen) the outbox on the fixture's state with this config. */
static void
open_with(struct fixture *f, const char *config)
{
	outbox_close(f->ob);
	f->ob = NULL;
	ynode_free(f->cfg);
	f->cfg = yaml(config);
	assert_int_equal(outbox_open_with(&f->ob, f->state, ynode_get(f->cfg, "chat"),
	    test_providers), OK);
	outbox_test_set_clock(f->ob, clock_now);
}

static size_t
count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (str_has_suffix(e->d_name, suffix))
			n++;
	closedir(d);
	return n;
}

static char *
read_file(const char *path)
{
	struct buf b = BUF_INIT;

	assert_int_equal(fs_read(&b, path, 1 << 20), OK);
	return buf_steal(&b);
}

static const char FAKE_CFG[] = "chat:\n  - {type: fake}\n";

/* ---- retries, table-driven ---- */

struct step {
	double advance;       /* move the clock first */
	int delivered;        /* outbox_run() returns */
	size_t depth;         /* then pending */
	int next_due;         /* then outbox_next_due() */
};

struct retry_case {
	const char *name;
	int script[8];
	size_t nscript;
	unsigned retry_after;
	int posts;
	struct step steps[6];
	size_t nsteps;
	size_t dead;
};

static const struct retry_case retry_cases[] = {
	{ "delivered at the first try", { OK }, 1, 0, 1,
	  { { 0, 1, 0, -1 } }, 1, 0 },
	{ "ERR_AGAIN keeps it and delivers it later, once", { ERR_AGAIN, OK }, 2, 0, 1,
	  { { 0, 0, 1, 1 }, { 0.5, 0, 1, 1 }, { 0.5, 1, 0, -1 }, { 60, 0, 0, -1 } }, 4, 0 },
	{ "backoff doubles: 1 s, 2 s, 4 s", { ERR_AGAIN, ERR_AGAIN, ERR_AGAIN, OK }, 4, 0, 1,
	  { { 0, 0, 1, 1 }, { 1, 0, 1, 2 }, { 2, 0, 1, 4 }, { 3, 0, 1, 1 }, { 1, 1, 0, -1 } },
	  5, 0 },
	{ "Retry-After is honoured", { ERR_AGAIN, OK }, 2, 7, 1,
	  { { 0, 0, 1, 7 }, { 6, 0, 1, 1 }, { 1, 1, 0, -1 } }, 3, 0 },
	{ "later messages wait behind a failing one", { ERR_AGAIN, OK, OK }, 3, 0, 2,
	  { { 0, 0, 2, 1 }, { 1, 2, 0, -1 } }, 2, 0 },
	{ "a permanent error goes to dead/", { ERR_DENIED }, 1, 0, 1,
	  { { 0, 0, 0, -1 } }, 1, 1 },
	{ "a dead letter does not hold up the next", { ERR_INVALID, OK }, 2, 0, 2,
	  { { 0, 1, 0, -1 } }, 1, 1 },
};

static void
test_retry(void **state)
{
	const struct retry_case *c = *state;
	struct fixture *f;
	char deaddir[160];
	size_t i;
	int p;

	setup((void **)&f);
	fake_reset(c->script, c->nscript, c->retry_after);
	open_with(f, FAKE_CFG);
	for (p = 0; p < c->posts; p++) {
		char summary[32];

		snprintf(summary, sizeof(summary), "message %d", p + 1);
		assert_int_equal(outbox_post(f->ob, "7", summary, NULL, NULL, 0), OK);
	}
	assert_int_equal(outbox_depth(f->ob), (size_t)c->posts);
	assert_int_equal(outbox_next_due(f->ob), 0);
	for (i = 0; i < c->nsteps; i++) {
		fake_clock += c->steps[i].advance;
		assert_int_equal(outbox_run(f->ob), c->steps[i].delivered);
		assert_int_equal(outbox_depth(f->ob), c->steps[i].depth);
		assert_int_equal(outbox_next_due(f->ob), c->steps[i].next_due);
	}
	/* Each message that was not refused arrived exactly once, in order. */
	assert_int_equal(fake.ngot, (size_t)c->posts - c->dead);
	for (i = 1; i < fake.ngot; i++)
		assert_true(strtoull(fake.got[i - 1].id, NULL, 10) <
		    strtoull(fake.got[i].id, NULL, 10));
	assert_int_equal(outbox_dead(f->ob), c->dead);
	snprintf(deaddir, sizeof(deaddir), "%s/outbox/dead", f->state);
	assert_int_equal(count_files(deaddir, ".json"), c->dead);
	if (c->dead) {
		assert_non_null(outbox_last_error(f->ob));
		assert_non_null(strstr(outbox_last_error(f->ob), "fake: refused"));
	}
	if (outbox_depth(f->ob) == 0) {
		char dir[160];

		snprintf(dir, sizeof(dir), "%s/outbox", f->state);
		assert_int_equal(count_files(dir, ".json"), 0);
		assert_int_equal(count_files(dir, ".sending"), 0);
	}
	teardown((void **)&f);
}

/* ---- the console backend, for real ---- */

static void
test_console_line(void **state)
{
	struct fixture *f = *state;
	char cfg[256], path[160], *text;

	snprintf(path, sizeof(path), "%s/chat.log", f->dir);
	snprintf(cfg, sizeof(cfg), "chat:\n  - {type: console, path: \"%s\"}\n", path);
	open_with(f, cfg);
	assert_int_equal(outbox_post(f->ob, "17",
	    "plan 17 for a1b2c3d \"drain\r\nweb-02\x1b[31m\" by alice: 1 dns.modify -> approve",
	    "dns (1 change)\n  ~ dns.modify www\n", "http://127.0.0.1:8088/plans/17", 1), OK);
	assert_int_equal(outbox_run(f->ob), 1);
	text = read_file(path);
	assert_string_equal(text,
	    "plan 17 for a1b2c3d \"drain  web-02[31m\" by alice: 1 dns.modify -> approve"
	    " \xe2\x80\x94 approve 17 / discard 17 \xe2\x80\x94 http://127.0.0.1:8088/plans/17"
	    " [msg 1]\n");
	free(text);
	assert_int_equal(outbox_depth(f->ob), 0);
}

/* A crash after the console wrote the line but before the outbox forgot
 * the message: the re-send finds the id in the file and writes nothing. */
static void
test_console_no_duplicate_after_crash(void **state)
{
	struct fixture *f = *state;
	char cfg[256], path[160], *text;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/chat.log", f->dir);
	snprintf(cfg, sizeof(cfg), "chat:\n  - {type: console, path: \"%s\"}\n", path);
	open_with(f, cfg);
	assert_int_equal(outbox_post(f->ob, NULL, "hello", NULL, NULL, 0), OK);
	/* What the console wrote before the "crash". */
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("earlier line [msg 10]\nhello [msg 1]\n", fp);
	fclose(fp);
	open_with(f, cfg);
	assert_int_equal(outbox_depth(f->ob), 1);
	assert_int_equal(outbox_run(f->ob), 1);
	text = read_file(path);
	assert_string_equal(text, "earlier line [msg 10]\nhello [msg 1]\n");
	free(text);
}

/* ---- restarts ---- */

static void
test_reopen_delivers_pending(void **state)
{
	struct fixture *f = *state;
	static const int down[] = { ERR_AGAIN };
	char path[160], *text;

	fake_reset(down, 1, 0);
	open_with(f, FAKE_CFG);
	assert_int_equal(outbox_post(f->ob, "3", "first", NULL, NULL, 1), OK);
	assert_int_equal(outbox_post(f->ob, "3", "second", NULL, NULL, 0), OK);
	assert_int_equal(outbox_run(f->ob), 0);
	/* The attempt is on disk. */
	snprintf(path, sizeof(path), "%s/outbox/1.json", f->state);
	text = read_file(path);
	assert_non_null(strstr(text, "\"attempts\":1"));
	free(text);

	/* "Crash" while message 1 was in flight: close without delivering,
	 * leave its marker (and a stray one), start again. */
	outbox_close(f->ob);
	f->ob = NULL;
	snprintf(path, sizeof(path), "%s/outbox/1.sending", f->state);
	assert_int_equal(fs_write_atomic(path, "", 0), OK);
	snprintf(path, sizeof(path), "%s/outbox/77.sending", f->state);
	assert_int_equal(fs_write_atomic(path, "", 0), OK);
	fake_reset(NULL, 0, 0);
	open_with(f, FAKE_CFG);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/outbox/1.sending", f->state);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(outbox_depth(f->ob), 2);
	assert_int_equal(outbox_next_due(f->ob), 0);
	assert_int_equal(outbox_run(f->ob), 2);
	assert_int_equal(fake.ngot, 2);
	assert_string_equal(fake.got[0].summary, "first");
	assert_int_equal(fake.got[0].actions, 1);
	assert_string_equal(fake.got[1].summary, "second");
	/* The second threads under the first. */
	assert_string_equal(fake.got[0].thread, "");
	assert_string_equal(fake.got[1].thread, "ts-1");
	assert_int_equal(access(path, F_OK), -1);

	/* Nothing is delivered twice after another restart. */
	fake_reset(NULL, 0, 0);
	open_with(f, FAKE_CFG);
	assert_int_equal(outbox_depth(f->ob), 0);
	assert_int_equal(outbox_run(f->ob), 0);
	assert_int_equal(fake.ngot, 0);
}

static void
test_ids_never_reused(void **state)
{
	struct fixture *f = *state;
	unsigned long long first;

	fake_reset(NULL, 0, 0);
	open_with(f, FAKE_CFG);
	assert_int_equal(outbox_post(f->ob, NULL, "a", NULL, NULL, 0), OK);
	assert_int_equal(outbox_run(f->ob), 1);
	first = strtoull(fake.got[0].id, NULL, 10);
	open_with(f, FAKE_CFG);
	fake_reset(NULL, 0, 0);
	assert_int_equal(outbox_post(f->ob, NULL, "b", NULL, NULL, 0), OK);
	assert_int_equal(outbox_run(f->ob), 1);
	assert_true(strtoull(fake.got[0].id, NULL, 10) > first);
}

static void
test_threads_per_plan(void **state)
{
	struct fixture *f = *state;
	char path[160], *text;

	fake_reset(NULL, 0, 0);
	open_with(f, FAKE_CFG);
	assert_int_equal(outbox_post(f->ob, "5", "plan 5", NULL, NULL, 1), OK);
	assert_int_equal(outbox_post(f->ob, "6", "plan 6", NULL, NULL, 1), OK);
	assert_int_equal(outbox_post(f->ob, "5", "plan 5 applied", NULL, NULL, 0), OK);
	assert_int_equal(outbox_post(f->ob, NULL, "no plan", NULL, NULL, 0), OK);
	assert_int_equal(outbox_run(f->ob), 4);
	assert_string_equal(fake.got[0].thread, "");
	assert_string_equal(fake.got[1].thread, "");
	assert_string_equal(fake.got[2].thread, "ts-1");
	assert_string_equal(fake.got[3].thread, "");
	snprintf(path, sizeof(path), "%s/threads/5.0", f->state);
	text = read_file(path);
	assert_string_equal(text, "ts-1");
	free(text);
	/* A thread outlives a restart. */
	open_with(f, FAKE_CFG);
	fake_reset(NULL, 0, 0);
	assert_int_equal(outbox_post(f->ob, "6", "plan 6 superseded", NULL, NULL, 0), OK);
	assert_int_equal(outbox_run(f->ob), 1);
	assert_string_equal(fake.got[0].thread, "ts-2");
}

/* Every backend gets its own copy, with its own id. */
static void
test_fan_out(void **state)
{
	struct fixture *f = *state;
	char cfg[256], path[160], *text;

	snprintf(path, sizeof(path), "%s/chat.log", f->dir);
	snprintf(cfg, sizeof(cfg), "chat:\n  - {type: fake}\n  - {type: console, path: \"%s\"}\n",
	    path);
	fake_reset((const int[]){ ERR_AGAIN }, 1, 0);
	open_with(f, cfg);
	assert_int_equal(outbox_post(f->ob, NULL, "both", NULL, NULL, 0), OK);
	assert_int_equal(outbox_depth(f->ob), 2);
	/* The console does not wait for the failing fake. */
	assert_int_equal(outbox_run(f->ob), 1);
	assert_int_equal(outbox_depth(f->ob), 1);
	text = read_file(path);
	assert_string_equal(text, "both [msg 2]\n");
	free(text);
	fake_clock += 1;
	assert_int_equal(outbox_run(f->ob), 1);
	assert_string_equal(fake.got[0].id, "1");
	assert_int_equal(outbox_depth(f->ob), 0);
}

/* A pending message whose backend left the config is not sent elsewhere. */
static void
test_backend_removed(void **state)
{
	struct fixture *f = *state;
	char cfg[256], path[160];

	fake_reset((const int[]){ ERR_AGAIN }, 1, 0);
	open_with(f, FAKE_CFG);
	assert_int_equal(outbox_post(f->ob, NULL, "orphan", NULL, NULL, 0), OK);
	assert_int_equal(outbox_run(f->ob), 0);
	snprintf(path, sizeof(path), "%s/chat.log", f->dir);
	snprintf(cfg, sizeof(cfg), "chat:\n  - {type: console, path: \"%s\"}\n", path);
	open_with(f, cfg);
	assert_int_equal(outbox_depth(f->ob), 0);
	assert_int_equal(outbox_dead(f->ob), 1);
	assert_non_null(strstr(outbox_last_error(f->ob), "no longer in the config"));
	assert_int_equal(access(path, F_OK), -1);
}

static void
test_corrupt_file_set_aside(void **state)
{
	struct fixture *f = *state;
	char path[160];

	fake_reset(NULL, 0, 0);
	open_with(f, FAKE_CFG);
	snprintf(path, sizeof(path), "%s/outbox/99.json", f->state);
	assert_int_equal(fs_write_atomic(path, "{not json", 9), OK);
	open_with(f, FAKE_CFG);
	assert_int_equal(outbox_depth(f->ob), 0);
	assert_int_equal(outbox_dead(f->ob), 1);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/outbox/dead/99.corrupt", f->state);
	assert_int_equal(access(path, F_OK), 0);
	/* New ids start above what was found. */
	assert_int_equal(outbox_post(f->ob, NULL, "after", NULL, NULL, 0), OK);
	assert_int_equal(outbox_run(f->ob), 1);
	assert_true(strtoull(fake.got[0].id, NULL, 10) > 99);
}

/* A temporary file of a dead writer is removed; a live one's is not. */
static void
test_stale_tmp_removed(void **state)
{
	struct fixture *f = *state;
	char dead[160], live[160];

	fake_reset(NULL, 0, 0);
	open_with(f, FAKE_CFG);
	snprintf(dead, sizeof(dead), "%s/outbox/3.json.tmp.2147483646", f->state);
	snprintf(live, sizeof(live), "%s/outbox/4.json.tmp.%ld", f->state, (long)getpid());
	assert_int_equal(fs_write_new(dead, "{", 1), OK);
	assert_int_equal(fs_write_new(live, "{", 1), OK);
	open_with(f, FAKE_CFG);
	assert_int_equal(access(dead, F_OK), -1);
	assert_int_equal(access(live, F_OK), 0);
	assert_int_equal(outbox_depth(f->ob), 0);
}

static void
test_text_cleaned(void **state)
{
	struct fixture *f = *state;

	fake_reset(NULL, 0, 0);
	open_with(f, FAKE_CFG);
	assert_int_equal(outbox_post(f->ob, NULL, "bad \xff\xfe utf-8\nand \xc3\xa9", NULL, NULL, 0), OK);
	assert_int_equal(outbox_run(f->ob), 1);
	assert_string_equal(fake.got[0].summary, "bad ?? utf-8 and \xc3\xa9");
}

static void
test_no_chat(void **state)
{
	struct fixture *f = *state;

	open_with(f, "repo: x\n");
	assert_int_equal(outbox_post(f->ob, "1", "nobody listens", NULL, NULL, 0), OK);
	assert_int_equal(outbox_depth(f->ob), 0);
	assert_int_equal(outbox_next_due(f->ob), -1);
	assert_int_equal(outbox_run(f->ob), 0);
	assert_null(outbox_last_error(f->ob));
}

/* ---- refusals, table-driven ---- */

struct bad_post {
	const char *name;
	const char *plan_id;
	const char *url;
};

static const struct bad_post bad_posts[] = {
	{ "plan id with a slash", "../x", NULL },
	{ "plan id with a space", "1 2", NULL },
	{ "empty plan id", "", NULL },
	{ "url not http", NULL, "javascript:alert(1)" },
	{ "url with a space", NULL, "http://x/a b" },
	{ "url with a newline", NULL, "http://x/\nPRIVMSG" },
};

static void
test_bad_post(void **state)
{
	const struct bad_post *c = *state;
	struct fixture *f;

	setup((void **)&f);
	fake_reset(NULL, 0, 0);
	open_with(f, FAKE_CFG);
	assert_int_equal(outbox_post(f->ob, c->plan_id, "x", NULL, c->url, 0), ERR_INVALID);
	assert_int_equal(outbox_depth(f->ob), 0);
	teardown((void **)&f);
}

struct bad_config {
	const char *name;
	const char *yaml;
	const char *message;      /* a piece of err_last() */
};

static const struct bad_config bad_configs[] = {
	{ "chat is not a list", "chat: {type: console}\n", "1:7: chat: must be a list" },
	{ "entry without a type", "chat:\n  - {path: x}\n", "2:5: chat[0]: must be a mapping with a type" },
	{ "unknown type", "chat:\n  - {type: telex}\n", "chat[0]: unknown type 'telex'" },
	{ "console without a path", "chat:\n  - {type: console}\n", "chat[0] console: path: missing" },
	{ "console with an unknown key", "chat:\n  - {type: console, path: x, colour: red}\n",
	  "chat[0] console: unknown key 'colour'" },
	{ "slack token file missing",
	  "chat:\n  - {type: slack, token_file: /nonexistent/token, channel: \"#ops\"}\n",
	  "2:5: chat[0] slack: token_file: cannot read /nonexistent/token" },
	{ "slack without a channel", "chat:\n  - {type: slack, token_file: /dev/null}\n",
	  "chat[0] slack: channel: missing" },
	{ "slack api_url not http", "chat:\n  - {type: slack, token_file: /dev/null, "
	  "channel: x, api_url: \"file:///etc\"}\n", "api_url: must be an http" },
	{ "webhook url not http", "chat:\n  - {type: webhook, url: \"ftp://x\"}\n",
	  "chat[0] webhook: url: must be an http" },
	{ "webhook unknown flavor", "chat:\n  - {type: webhook, url: \"http://x\", flavor: teams}\n",
	  "flavor: must be slack or mattermost" },
	{ "irc without a port", "chat:\n  - {type: irc, server: localhost, nick: fb, channel: \"#ops\"}\n",
	  "chat[0] irc: server: must be host:port" },
	{ "irc nick with a space", "chat:\n  - {type: irc, server: \"h:1\", nick: \"a b\", channel: \"#ops\"}\n",
	  "nick: 'a b' is not a valid IRC nick" },
	{ "irc channel with a comma", "chat:\n  - {type: irc, server: \"h:1\", nick: fb, channel: \"#a,#b\"}\n",
	  "channel: '#a,#b' is not a valid IRC channel" },
	{ "second entry named", "chat:\n  - {type: fake}\n  - {type: console}\n",
	  "3:5: chat[1] console: path: missing" },
};

static void
test_bad_config(void **state)
{
	const struct bad_config *c = *state;
	struct fixture *f;
	struct outbox *ob = NULL;

	setup((void **)&f);
	fake_reset(NULL, 0, 0);
	f->cfg = yaml(c->yaml);
	assert_int_equal(outbox_open_with(&ob, f->state, ynode_get(f->cfg, "chat"),
	    test_providers), ERR_INVALID);
	assert_null(ob);
	if (!strstr(err_last(), c->message))
		fail_msg("err_last() is \"%s\", wanted a piece \"%s\"", err_last(), c->message);
	/* A backend opened before the failure is closed again. */
	assert_int_equal(fake.opened, fake.closed);
	teardown((void **)&f);
}

/* The registry finds the four backends and nothing else. */
static void
test_registry(void **state)
{
	static const char *const names[] = { "console", "slack", "webhook", "irc" };
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		const struct chat_provider *p = chat_find(names[i]);

		assert_non_null(p);
		assert_string_equal(p->name, names[i]);
		assert_int_equal(p->abi, CHAT_PROVIDER_ABI);
	}
	assert_null(chat_find("fake"));
	assert_null(chat_find(""));
}

#define CASES(fn, table) \
	do { \
		for (size_t i_ = 0; i_ < sizeof(table) / sizeof(table[0]); i_++) { \
			tests[n].name = table[i_].name; \
			tests[n].test_func = fn; \
			tests[n].setup_func = NULL; \
			tests[n].teardown_func = NULL; \
			tests[n].initial_state = (void *)&table[i_]; \
			n++; \
		} \
	} while (0)

#define FIXTURE_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		FIXTURE_TEST(test_console_line),
		FIXTURE_TEST(test_console_no_duplicate_after_crash),
		FIXTURE_TEST(test_reopen_delivers_pending),
		FIXTURE_TEST(test_ids_never_reused),
		FIXTURE_TEST(test_threads_per_plan),
		FIXTURE_TEST(test_fan_out),
		FIXTURE_TEST(test_backend_removed),
		FIXTURE_TEST(test_corrupt_file_set_aside),
		FIXTURE_TEST(test_stale_tmp_removed),
		FIXTURE_TEST(test_text_cleaned),
		FIXTURE_TEST(test_no_chat),
		cmocka_unit_test(test_registry),
	};
	struct CMUnitTest tests[sizeof(fixed) / sizeof(fixed[0]) + sizeof(retry_cases) /
	    sizeof(retry_cases[0]) + sizeof(bad_posts) / sizeof(bad_posts[0]) +
	    sizeof(bad_configs) / sizeof(bad_configs[0])];
	size_t n = 0, i;

	CASES(test_retry, retry_cases);
	CASES(test_bad_post, bad_posts);
	CASES(test_bad_config, bad_configs);
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		tests[n++] = fixed[i];
	/* The outbox logs one line per retry or dead letter on stderr; the
	 * TAP output is on stdout. */
	return _cmocka_run_group_tests("outbox", tests, n, NULL, NULL);
}
