/*
 * test_outbox.c - the durable chat queue: messages are stored before they
 * are sent, retried with backoff in order, delivered once, survive a
 * restart, and go to dead/ when a backend refuses them for good; they
 * thread by key and may go to one backend only.  A fake backend (through
 * outbox_open_with) fails on cue; the console backend writes a real file.
 *
 * And the IRC backend against a fake server on a loopback socket that this
 * file plays itself (no thread: the provider never blocks, so the test
 * alternates tick() and reading or writing the server's side): the
 * commands people address to the bot come out of recv() and
 * outbox_recv(), and answers are addressed to the asker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cases.h"
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "providers/chat/chat.h"
#include "state/outbox.h"

/* ---- a fake backend that fails on cue ---- */

#define FAKE_MAX 64

struct delivery {
	char id[32];
	char plan[80];
	char thread[80];      /* "" when the message started its thread */
	char summary[512];
	char to[80];          /* "" when it answers no one */
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
	snprintf(d->to, sizeof(d->to), "%s", m->to ? m->to : "");
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

/* A post reserved ahead (what a plan's outcome record carries): sent once
 * after a "crash" that came before it was queued; sending it again while it
 * is queued (a crash after queueing) is a no-op; its id is never handed
 * out again; a post never reserved is refused. */
static void
test_reserved_post(void **state)
{
	struct fixture *f = *state;
	struct outbox_msg m;
	uint64_t post, other;

	fake_reset(NULL, 0, 0);
	open_with(f, FAKE_CFG);
	assert_int_equal(outbox_reserve(f->ob, &post), OK);
	assert_true(post > 0);
	assert_int_equal(outbox_queued(f->ob, post), 0);
	/* The process dies before queueing it; the next one queues it. */
	open_with(f, FAKE_CFG);
	assert_int_equal(outbox_reserve(f->ob, &other), OK);
	assert_true(other > post);
	memset(&m, 0, sizeof(m));
	m.plan_id = "4";
	m.summary = "plan 4 applied";
	m.only = -1;
	m.post = post;
	assert_int_equal(outbox_send(f->ob, &m), OK);
	assert_int_equal(outbox_queued(f->ob, post), 1);
	/* Dies after queueing it: the next process finds it queued. */
	open_with(f, FAKE_CFG);
	assert_int_equal(outbox_queued(f->ob, post), 1);
	assert_int_equal(outbox_send(f->ob, &m), OK);
	assert_int_equal(outbox_depth(f->ob), 1);
	assert_int_equal(outbox_run(f->ob), 1);
	assert_int_equal(fake.ngot, 1);
	assert_string_equal(fake.got[0].summary, "plan 4 applied");
	assert_int_equal(outbox_queued(f->ob, post), 0);
	/* Its message id is newer than the reservation: sending order. */
	assert_true(strtoull(fake.got[0].id, NULL, 10) > other);
	m.post = (uint64_t)1 << 40;
	assert_int_equal(outbox_send(f->ob, &m), ERR_INVALID);
	assert_non_null(strstr(err_last(), "was never reserved"));
	assert_int_equal(outbox_depth(f->ob), 0);
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
	char dead[160], dead_old[160], live[160];

	fake_reset(NULL, 0, 0);
	open_with(f, FAKE_CFG);
	/* fs_write_atomic's "<name>.tmp.<pid>.<n>", and the older "<name>.tmp.<pid>". */
	snprintf(dead, sizeof(dead), "%s/outbox/3.json.tmp.2147483646.0", f->state);
	snprintf(dead_old, sizeof(dead_old), "%s/outbox/5.json.tmp.2147483646", f->state);
	snprintf(live, sizeof(live), "%s/outbox/4.json.tmp.%ld.7", f->state, (long)getpid());
	assert_int_equal(fs_write_new(dead, "{", 1, 0600), OK);
	assert_int_equal(fs_write_new(dead_old, "{", 1, 0600), OK);
	assert_int_equal(fs_write_new(live, "{", 1, 0600), OK);
	open_with(f, FAKE_CFG);
	assert_int_equal(access(dead, F_OK), -1);
	assert_int_equal(access(dead_old, F_OK), -1);
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
	{ "irc allow_approve not a boolean", "chat:\n  - {type: irc, server: \"h:1\", nick: fb, "
	  "channel: \"#ops\", allow_approve: maybe}\n",
	  "chat[0] irc: allow_approve: must be true or false, not a string" },
	{ "irc allow_approve quoted", "chat:\n  - {type: irc, server: \"h:1\", nick: fb, "
	  "channel: \"#ops\", allow_approve: \"true\"}\n",
	  "chat[0] irc: allow_approve: must be true or false, not a string" },
	{ "irc allow_approve a list", "chat:\n  - {type: irc, server: \"h:1\", nick: fb, "
	  "channel: \"#ops\", allow_approve: [yes]}\n",
	  "chat[0] irc: allow_approve: must be true or false, not a list" },
	{ "irc allow_approve yes", "chat:\n  - {type: irc, server: \"h:1\", nick: fb, "
	  "channel: \"#ops\", allow_approve: yes}\n",
	  "chat[0] irc: allow_approve: write true or false, not 'yes'" },
	{ "irc allow_approve True", "chat:\n  - {type: irc, server: \"h:1\", nick: fb, "
	  "channel: \"#ops\", allow_approve: True}\n",
	  "chat[0] irc: allow_approve: write true or false, not 'True'" },
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

/* ---- thread keys, one backend, the new fields on disk ---- */

static struct outbox_msg
msg(const char *plan_id, const char *thread, const char *summary, int only, const char *to)
{
	struct outbox_msg m = {
		.plan_id = plan_id, .thread = thread, .summary = summary, .body = NULL,
		.url = NULL, .actions = 0, .only = only, .to = to,
	};

	return m;
}

/* Two messages with the same key and no plan thread together; the first
 * one's reference is threads/<key>.<backend>; other keys stay apart. */
static void
test_thread_key(void **state)
{
	struct fixture *f = *state;
	struct outbox_msg m;
	char path[160], *text;

	fake_reset(NULL, 0, 0);
	open_with(f, FAKE_CFG);
	m = msg(NULL, "cmd-7", "you asked for status", -1, NULL);
	assert_int_equal(outbox_send(f->ob, &m), OK);
	m = msg(NULL, "cmd-8", "someone else asked", -1, NULL);
	assert_int_equal(outbox_send(f->ob, &m), OK);
	m = msg(NULL, "cmd-7", "and here is more", -1, NULL);
	assert_int_equal(outbox_send(f->ob, &m), OK);
	/* A plan's message may join another thread than its plan's. */
	m = msg("9", "cmd-7", "plan 9 for your deploy", -1, NULL);
	m.actions = 1;
	assert_int_equal(outbox_send(f->ob, &m), OK);
	assert_int_equal(outbox_run(f->ob), 4);
	assert_string_equal(fake.got[0].thread, "");
	assert_string_equal(fake.got[1].thread, "");
	assert_string_equal(fake.got[2].thread, "ts-1");
	assert_string_equal(fake.got[3].thread, "ts-1");
	assert_string_equal(fake.got[3].plan, "9");
	assert_int_equal(fake.got[3].actions, 1);
	snprintf(path, sizeof(path), "%s/threads/cmd-7.0", f->state);
	text = read_file(path);
	assert_string_equal(text, "ts-1");
	free(text);
	snprintf(path, sizeof(path), "%s/threads/cmd-8.0", f->state);
	text = read_file(path);
	assert_string_equal(text, "ts-2");
	free(text);
	/* Plan 9 started no thread of its own. */
	snprintf(path, sizeof(path), "%s/threads/9.0", f->state);
	assert_int_equal(access(path, F_OK), -1);
}

/* `only` delivers to that backend and leaves the others alone. */
static void
test_only_one_backend(void **state)
{
	struct fixture *f = *state;
	struct outbox_msg m;
	char cfg[256], path[160], dir[160], *text;

	snprintf(path, sizeof(path), "%s/chat.log", f->dir);
	snprintf(cfg, sizeof(cfg), "chat:\n  - {type: fake}\n  - {type: console, path: \"%s\"}\n",
	    path);
	fake_reset(NULL, 0, 0);
	open_with(f, cfg);
	m = msg(NULL, NULL, "for the console", 1, "carol");
	assert_int_equal(outbox_send(f->ob, &m), OK);
	assert_int_equal(outbox_depth(f->ob), 1);
	m = msg(NULL, NULL, "for the fake", 0, "dave");
	assert_int_equal(outbox_send(f->ob, &m), OK);
	assert_int_equal(outbox_depth(f->ob), 2);
	assert_int_equal(outbox_run(f->ob), 2);
	assert_int_equal(fake.ngot, 1);
	assert_string_equal(fake.got[0].summary, "for the fake");
	assert_string_equal(fake.got[0].to, "dave");
	text = read_file(path);
	assert_string_equal(text, "for the console [msg 1]\n");
	free(text);
	snprintf(dir, sizeof(dir), "%s/outbox", f->state);
	assert_int_equal(count_files(dir, ".json"), 0);
	/* -1 is still everyone. */
	m = msg(NULL, NULL, "for all", -1, NULL);
	assert_int_equal(outbox_send(f->ob, &m), OK);
	assert_int_equal(outbox_depth(f->ob), 2);
	assert_int_equal(outbox_run(f->ob), 2);
	assert_int_equal(fake.ngot, 2);
	assert_string_equal(fake.got[1].to, "");
}

/* thread, only and to are on disk and survive close/open. */
static void
test_new_fields_persist(void **state)
{
	struct fixture *f = *state;
	static const int down[] = { OK, ERR_AGAIN };
	struct outbox_msg m;
	char cfg[256], path[160], *text;

	snprintf(path, sizeof(path), "%s/chat.log", f->dir);
	snprintf(cfg, sizeof(cfg), "chat:\n  - {type: fake}\n  - {type: console, path: \"%s\"}\n",
	    path);
	fake_reset(down, 2, 0);
	open_with(f, cfg);
	m = msg(NULL, "q-1", "first answer", 0, "carol");
	assert_int_equal(outbox_send(f->ob, &m), OK);
	m = msg("12", "q-1", "second answer", 0, "carol");
	assert_int_equal(outbox_send(f->ob, &m), OK);
	assert_int_equal(outbox_run(f->ob), 1);
	assert_int_equal(outbox_depth(f->ob), 1);
	snprintf(path, sizeof(path), "%s/outbox/2.json", f->state);
	text = read_file(path);
	assert_non_null(strstr(text, "\"version\":2"));
	assert_non_null(strstr(text, "\"plan_id\":\"12\""));
	assert_non_null(strstr(text, "\"thread\":\"q-1\""));
	assert_non_null(strstr(text, "\"only\":0"));
	assert_non_null(strstr(text, "\"to\":\"carol\""));
	/* Only the one backend is pending. */
	assert_non_null(strstr(text, "\"pending\":[{\"attempts\":1,\"id\":2,\"provider\":0,"
	    "\"type\":\"fake\"}]"));
	free(text);

	fake_reset(NULL, 0, 0);
	open_with(f, cfg);
	assert_int_equal(outbox_depth(f->ob), 1);
	assert_int_equal(outbox_run(f->ob), 1);
	assert_int_equal(fake.ngot, 1);
	assert_string_equal(fake.got[0].summary, "second answer");
	assert_string_equal(fake.got[0].to, "carol");
	assert_string_equal(fake.got[0].plan, "12");
	assert_string_equal(fake.got[0].thread, "ts-1");
	/* The console never heard of either. */
	snprintf(path, sizeof(path), "%s/chat.log", f->dir);
	assert_int_equal(access(path, F_OK), -1);
}

/* A version 1 file (before thread/only/to) loads: its thread is its
 * plan's, it goes to every backend it lists, it answers no one. */
static void
test_old_format_loads(void **state)
{
	static const char old[] =
	    "{\"actions\":true,\"body\":null,\"created\":1767225600,\"id\":5,"
	    "\"pending\":[{\"attempts\":2,\"id\":5,\"provider\":0,\"type\":\"fake\"},"
	    "{\"attempts\":0,\"id\":6,\"provider\":1,\"type\":\"console\"}],"
	    "\"plan_id\":\"9\",\"summary\":\"plan 9 applied\","
	    "\"url\":\"http://127.0.0.1:8088/plans/9\",\"version\":1}";
	struct fixture *f = *state;
	char cfg[256], path[160], log_path[160], *text;

	snprintf(log_path, sizeof(log_path), "%s/chat.log", f->dir);
	snprintf(cfg, sizeof(cfg), "chat:\n  - {type: fake}\n  - {type: console, path: \"%s\"}\n",
	    log_path);
	fake_reset(NULL, 0, 0);
	open_with(f, cfg);
	snprintf(path, sizeof(path), "%s/outbox/5.json", f->state);
	assert_int_equal(fs_write_atomic(path, old, strlen(old)), OK);
	snprintf(path, sizeof(path), "%s/threads/9.0", f->state);
	assert_int_equal(fs_write_atomic(path, "ts-old", 6), OK);
	open_with(f, cfg);
	assert_int_equal(outbox_depth(f->ob), 2);
	assert_int_equal(outbox_run(f->ob), 2);
	assert_int_equal(fake.ngot, 1);
	assert_string_equal(fake.got[0].summary, "plan 9 applied");
	assert_string_equal(fake.got[0].plan, "9");
	assert_string_equal(fake.got[0].thread, "ts-old");
	assert_string_equal(fake.got[0].to, "");
	assert_int_equal(fake.got[0].actions, 1);
	text = read_file(log_path);
	assert_string_equal(text, "plan 9 applied \xe2\x80\x94 approve 9 / discard 9 \xe2\x80\x94 "
	    "http://127.0.0.1:8088/plans/9 [msg 6]\n");
	free(text);
	/* New ids start above the old file's. */
	assert_int_equal(outbox_post(f->ob, NULL, "new", NULL, NULL, 0), OK);
	assert_int_equal(outbox_run(f->ob), 2);
	assert_true(strtoull(fake.got[1].id, NULL, 10) > 6);
}

/* What the core reads about its backends. */
static void
test_backend_info(void **state)
{
	struct fixture *f = *state;

	fake_reset(NULL, 0, 0);
	open_with(f, "chat:\n  - {type: fake}\n  - {type: console, path: /dev/null}\n");
	assert_int_equal(outbox_backend_count(f->ob), 2);
	assert_string_equal(outbox_backend_type(f->ob, 0), "fake");
	assert_string_equal(outbox_backend_type(f->ob, 1), "console");
	assert_null(outbox_backend_type(f->ob, 2));
	assert_null(outbox_backend_type(f->ob, -1));
	/* Neither takes HTTP requests nor answers by itself. */
	assert_null(outbox_routes(f->ob, 0));
	assert_null(outbox_routes(f->ob, 1));
	assert_null(outbox_routes(f->ob, 7));
	assert_int_equal(outbox_replies_itself(f->ob, 0), 0);
	assert_int_equal(outbox_replies_itself(f->ob, -1), 0);
	/* The copy outlives the caller's config. */
	ynode_free(f->cfg);
	f->cfg = NULL;
	assert_string_equal(outbox_backend_type(f->ob, 0), "fake");
	/* The fake cannot receive: nothing comes in. */
	{
		struct chat_command in = { NULL, NULL, NULL, NULL, 0 };

		assert_int_equal(outbox_recv(f->ob, &in), -1);
		assert_null(in.identity);
	}
}

/* A backend that says it receives but has no recv op is refused, as is
 * one of another ABI. */
static void
test_provider_checks(void **state)
{
	static const struct chat_ops no_recv = {
		.open = fake_open, .post = fake_post, .close = fake_close,
	};
	static const struct chat_provider deaf = {
		.abi = CHAT_PROVIDER_ABI, .name = "deaf", .caps = CHAT_CAN_POST | CHAT_CAN_RECV,
		.ops = &no_recv,
	};
	static const struct chat_provider old_abi = {
		.abi = 1, .name = "old", .caps = CHAT_CAN_POST, .ops = &fake_ops,
	};
	static const struct chat_provider *const table[] = { &deaf, &old_abi, NULL };
	struct fixture *f = *state;
	struct outbox *ob = NULL;

	(void)f;
	assert_int_equal(chat_provider_ok(&fake_provider), 1);
	assert_int_equal(chat_provider_ok(&deaf), 0);
	assert_int_equal(chat_provider_ok(&old_abi), 0);
	assert_int_equal(chat_provider_ok(NULL), 0);
	f->cfg = yaml("chat:\n  - {type: deaf}\n");
	assert_int_equal(outbox_open_with(&ob, f->state, ynode_get(f->cfg, "chat"), table),
	    ERR_INVALID);
	assert_null(ob);
	assert_non_null(strstr(err_last(), "unknown type 'deaf'"));
	/* IRC receives, and has what that takes. */
	assert_true(chat_find("irc")->caps & CHAT_CAN_RECV);
	assert_non_null(chat_find("irc")->ops->recv);
}

/* ---- refusals of outbox_send, table-driven ---- */

struct bad_send {
	const char *name;
	struct outbox_msg m;
};

static const struct bad_send bad_sends[] = {
	{ "thread key with a slash", { .thread = "a/b", .summary = "x", .only = -1 } },
	{ "thread key starting with a dot", { .thread = ".x", .summary = "x", .only = -1 } },
	{ "thread key too long", { .thread = "0123456789012345678901234567890123456789"
	  "01234567890123456789012345", .summary = "x", .only = -1 } },
	{ "only past the last backend", { .summary = "x", .only = 1 } },
	{ "only below -1", { .summary = "x", .only = -2 } },
	{ "to without only", { .summary = "x", .only = -1, .to = "carol" } },
	{ "to with a space", { .summary = "x", .only = 0, .to = "carol x" } },
	{ "to with a newline", { .summary = "x", .only = 0, .to = "carol\r\nQUIT" } },
	{ "empty to", { .summary = "x", .only = 0, .to = "" } },
};

static void
test_bad_send(void **state)
{
	const struct bad_send *c = *state;
	struct fixture *f;

	setup((void **)&f);
	fake_reset(NULL, 0, 0);
	open_with(f, FAKE_CFG);
	assert_int_equal(outbox_send(f->ob, &c->m), ERR_INVALID);
	assert_int_equal(outbox_depth(f->ob), 0);
	teardown((void **)&f);
}

/* ---- IRC: a fake server on a loopback socket ---- */

struct ircsrv {
	int lfd, fd;          /* listening; the accepted client, or -1 */
	int port;
	char in[16384];       /* what the client sent, not yet taken */
	size_t len;
	/* What drives the client: the provider itself, or an outbox. */
	const struct chat_provider *p;
	void *st;
	struct outbox *ob;
};

static void
srv_start(struct ircsrv *s)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->lfd, 4), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &alen), 0);
	s->port = ntohs(a.sin_port);
}

/* Close the server's side first: the client's close() then finds the
 * connection gone instead of waiting for the server to hang up. */
static void
srv_stop(struct ircsrv *s)
{
	if (s->fd >= 0)
		close(s->fd);
	close(s->lfd);
	s->fd = s->lfd = -1;
	if (s->ob)
		outbox_close(s->ob);
	else if (s->st)
		s->p->ops->close(s->st);
	s->ob = NULL;
	s->st = NULL;
}

static void
srv_tick(struct ircsrv *s)
{
	if (s->ob)
		outbox_tick(s->ob);
	else
		s->p->ops->tick(s->st);
}

static void
srv_say(struct ircsrv *s, const char *line)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "%s\r\n", line);
	assert_true(s->fd >= 0);
	assert_int_equal(write(s->fd, b.data, b.len), (ssize_t)b.len);
	buf_dispose(&b);
}

/*
 * Tick the client until it has sent a line starting with `prefix` (the
 * lines before it are skipped); copy it to out (CRLF off).  Fails after
 * five seconds.
 */
static void
srv_expect(struct ircsrv *s, const char *prefix, char *out, size_t outsz)
{
	double deadline = log_now() + 5;

	while (log_now() < deadline) {
		char *nl;
		ssize_t n;

		srv_tick(s);
		if (s->fd < 0) {
			struct pollfd p = { .fd = s->lfd, .events = POLLIN };

			if (poll(&p, 1, 20) == 1)
				s->fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			continue;
		}
		while ((nl = memchr(s->in, '\n', s->len))) {
			size_t len = (size_t)(nl - s->in) + 1;
			int match = strncmp(s->in, prefix, strlen(prefix)) == 0;

			if (match && out) {
				size_t k = len - 1;

				if (k && s->in[k - 1] == '\r')
					k--;
				assert_true(k < outsz);
				memcpy(out, s->in, k);
				out[k] = '\0';
			}
			memmove(s->in, s->in + len, s->len - len);
			s->len -= len;
			if (match)
				return;
		}
		{
			struct pollfd p = { .fd = s->fd, .events = POLLIN };

			if (poll(&p, 1, 20) != 1)
				continue;
		}
		n = read(s->fd, s->in + s->len, sizeof(s->in) - s->len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		assert_true(n > 0);
		s->len += (size_t)n;
	}
	fail_msg("the client did not send a line starting with \"%s\"", prefix);
}

/* Welcome (the client sent NICK and USER already), then the JOIN. */
static void
srv_welcome(struct ircsrv *s, const char *nick)
{
	char line[600], join[200];

	snprintf(line, sizeof(line), ":irc.test 001 %s :Welcome", nick);
	srv_say(s, line);
	srv_expect(s, "JOIN ", line, sizeof(line));
	assert_string_equal(line, "JOIN #ops");
	snprintf(join, sizeof(join), ":%s!fb@127.0.0.1 JOIN #ops", nick);
	srv_say(s, join);
}

/* Connect, register, join: the server side of the handshake. */
static void
srv_handshake(struct ircsrv *s, const char *nick)
{
	char line[600], join[200];

	srv_expect(s, "NICK ", line, sizeof(line));
	assert_string_equal(line + 5, nick);
	srv_expect(s, "USER ", NULL, 0);
	snprintf(line, sizeof(line), ":irc.test 001 %s :Welcome", nick);
	srv_say(s, line);
	srv_expect(s, "JOIN ", line, sizeof(line));
	assert_string_equal(line, "JOIN #ops");
	snprintf(join, sizeof(join), ":%s!fb@127.0.0.1 JOIN #ops", nick);
	srv_say(s, join);
}

/* Start the fake server and open the irc provider itself on it. */
static void
irc_open_on(struct ircsrv *s, struct ynode **cfg, const char *nick, const char *extra)
{
	char text[300];

	srv_start(s);
	snprintf(text, sizeof(text), "{type: irc, server: \"127.0.0.1:%d\", nick: \"%s\", "
	    "channel: \"#ops\"%s}\n", s->port, nick, extra ? extra : "");
	*cfg = yaml(text);
	s->p = chat_find("irc");
	assert_non_null(s->p);
	assert_int_equal(s->p->ops->open(&s->st, *cfg), OK);
}

/* ... and go through the handshake of a server without CAP. */
static void
irc_up(struct ircsrv *s, struct ynode **cfg, const char *nick, const char *extra)
{
	irc_open_on(s, cfg, nick, extra);
	srv_handshake(s, nick);
}

/* The next command, ticking until one comes (five seconds at most). */
static int
irc_next(struct ircsrv *s, struct chat_command *in)
{
	double deadline = log_now() + 5;

	do {
		srv_tick(s);
		if (s->p->ops->recv(s->st, in))
			return 1;
		poll(NULL, 0, 10);
	} while (log_now() < deadline);
	return 0;
}

struct inbound_case {
	const char *name;
	const char *line;     /* what the server relays */
	const char *user;     /* what recv() gives, or NULL: nothing */
	const char *text;
};

#define CMD400 "0123456789012345678901234567890123456789012345678901234567890123456789" \
	"0123456789012345678901234567890123456789012345678901234567890123456789" \
	"0123456789012345678901234567890123456789012345678901234567890123456789" \
	"0123456789012345678901234567890123456789012345678901234567890123456789" \
	"0123456789012345678901234567890123456789012345678901234567890123456789" \
	"01234567890123456789012345678901234567890123456789"
#define NICK32 "a234567890123456789012345678901x"

static const struct inbound_case inbound_cases[] = {
	{ "nick: command", ":carol!c@host PRIVMSG #ops :firebreak: deploy app 1.4.3",
	  "carol", "deploy app 1.4.3" },
	{ "nick, command, any case, trimmed", ":dave!d@host PRIVMSG #ops :FireBreak,   status  ",
	  "dave", "status" },
	{ "no space after the colon", ":dave!d@host PRIVMSG #ops :firebreak:status", "dave", "status" },
	{ "channel in another case", ":eve!e@host PRIVMSG #OPS :firebreak: plan 17", "eve", "plan 17" },
	{ "formatting codes stripped",
	  ":carol!c@host PRIVMSG #ops :\x02" "firebreak\x02: \x03" "04,01deploy\x03 app "
	  "\x1f" "1.4.3\x1f\x0f \x1d" "prod\x1d \x16x\x16 \x03" "12y \x03" "5,z",
	  "carol", "deploy app 1.4.3 prod x y ,z" },
	{ "UTF-8 is fine", ":carol!c@host PRIVMSG #ops :firebreak: help d\xc3\xa9ploie \xe2\x9c\x93",
	  "carol", "help d\xc3\xa9ploie \xe2\x9c\x93" },
	{ "400 bytes is fine", ":carol!c@host PRIVMSG #ops :firebreak: " CMD400, "carol", CMD400 },
	{ "a 32-byte nick with specials", ":" NICK32 "!x@h PRIVMSG #ops :firebreak: status",
	  NICK32, "status" },
	{ "nick with specials", ":[c]\\a`r_o^l{|}-9!x@h PRIVMSG #ops :firebreak: status",
	  "[c]\\a`r_o^l{|}-9", "status" },
	/* Ignored: not for us. */
	{ "not addressed", ":carol!c@host PRIVMSG #ops :hello firebreak: status", NULL, NULL },
	{ "nick without : or ,", ":carol!c@host PRIVMSG #ops :firebreak status", NULL, NULL },
	{ "a longer nick", ":carol!c@host PRIVMSG #ops :firebreaker: status", NULL, NULL },
	{ "CTCP ACTION", ":carol!c@host PRIVMSG #ops :\x01" "ACTION firebreak: status\x01",
	  NULL, NULL },
	{ "another channel", ":carol!c@host PRIVMSG #dev :firebreak: status", NULL, NULL },
	{ "a private message", ":carol!c@host PRIVMSG firebreak :firebreak: status", NULL, NULL },
	{ "a NOTICE", ":carol!c@host NOTICE #ops :firebreak: status", NULL, NULL },
	{ "nothing after the address", ":carol!c@host PRIVMSG #ops :firebreak:   ", NULL, NULL },
	/* Refused: for us, but not taken. */
	{ "a control character", ":carol!c@host PRIVMSG #ops :firebreak: status\x07", NULL, NULL },
	{ "a tab", ":carol!c@host PRIVMSG #ops :firebreak: deploy\tapp 1", NULL, NULL },
	{ "CTCP inside", ":carol!c@host PRIVMSG #ops :firebreak: \x01PING 1\x01", NULL, NULL },
	{ "invalid UTF-8", ":carol!c@host PRIVMSG #ops :firebreak: d\xc3\x28ploy", NULL, NULL },
	{ "overlong UTF-8", ":carol!c@host PRIVMSG #ops :firebreak: \xc0\xaf" "etc", NULL, NULL },
	{ "a surrogate", ":carol!c@host PRIVMSG #ops :firebreak: \xed\xa0\x80", NULL, NULL },
	{ "401 bytes", ":carol!c@host PRIVMSG #ops :firebreak: " CMD400 "x", NULL, NULL },
	{ "a server as the sender", ":irc.test PRIVMSG #ops :firebreak: status", NULL, NULL },
	{ "a nick starting with a digit", ":9lives!x@h PRIVMSG #ops :firebreak: status",
	  NULL, NULL },
	{ "a 33-byte nick", ":" NICK32 "3!x@h PRIVMSG #ops :firebreak: status", NULL, NULL },
};

/* One line from the server, then a sentinel command: whatever recv()
 * gives before the sentinel is what the line produced. */
static void
test_irc_inbound(void **state)
{
	const struct inbound_case *c = *state;
	struct chat_command in;
	struct ynode *cfg = NULL;
	struct ircsrv s;

	irc_up(&s, &cfg, "firebreak", NULL);
	srv_say(&s, c->line);
	srv_say(&s, ":zed!z@host PRIVMSG #ops :firebreak: sentinel");
	assert_int_equal(irc_next(&s, &in), 1);
	if (c->user) {
		char id[64];

		snprintf(id, sizeof(id), "irc:%s", c->user);
		assert_string_equal(in.identity, id);
		assert_string_equal(in.reply_to, c->user);
		assert_string_equal(in.via, "irc #ops");
		assert_string_equal(in.text, c->text);
		/* A bare nick: anyone can take it. */
		assert_int_equal(in.flags, 0);
		chat_command_dispose(&in);
		assert_null(in.identity);
		assert_int_equal(irc_next(&s, &in), 1);
	}
	assert_string_equal(in.reply_to, "zed");
	assert_string_equal(in.text, "sentinel");
	chat_command_dispose(&in);
	assert_int_equal(s.p->ops->recv(s.st, &in), 0);
	assert_null(in.identity);
	assert_null(in.text);
	srv_stop(&s);
	ynode_free(cfg);
}

/* Addressed to our current nick, in RFC 1459's case mapping: after a
 * rename the old nick is someone else's. */
static void
test_irc_inbound_nick(void **state)
{
	struct chat_command in;
	struct ynode *cfg = NULL;
	struct ircsrv s;

	(void)state;
	irc_up(&s, &cfg, "bot[1]", NULL);
	srv_say(&s, ":carol!c@host PRIVMSG #ops :BOT{1}: status");
	assert_int_equal(irc_next(&s, &in), 1);
	assert_string_equal(in.text, "status");
	chat_command_dispose(&in);
	srv_say(&s, ":bot[1]!fb@127.0.0.1 NICK :fb2");
	srv_say(&s, ":carol!c@host PRIVMSG #ops :bot[1]: old nick");
	srv_say(&s, ":carol!c@host PRIVMSG #ops :fb2, new nick");
	assert_int_equal(irc_next(&s, &in), 1);
	assert_string_equal(in.text, "new nick");
	chat_command_dispose(&in);
	srv_stop(&s);
	ynode_free(cfg);
}

/* At most 32 wait; the rest are dropped, not queued without end. */
static void
test_irc_inbound_queue_cap(void **state)
{
	struct chat_command in;
	struct ynode *cfg = NULL;
	struct ircsrv s;
	char line[128];
	int i, n = 0;

	(void)state;
	irc_up(&s, &cfg, "firebreak", NULL);
	for (i = 1; i <= 40; i++) {
		snprintf(line, sizeof(line), ":carol!c@host PRIVMSG #ops :firebreak: status %d", i);
		srv_say(&s, line);
	}
	/* A PING after them: once it is answered, all 40 were read. */
	srv_say(&s, "PING :after");
	srv_expect(&s, "PONG ", line, sizeof(line));
	assert_string_equal(line, "PONG :after");
	while (s.p->ops->recv(s.st, &in)) {
		n++;
		snprintf(line, sizeof(line), "status %d", n);
		assert_string_equal(in.text, line);
		chat_command_dispose(&in);
	}
	assert_int_equal(n, 32);
	/* Room again. */
	srv_say(&s, ":carol!c@host PRIVMSG #ops :firebreak: later");
	assert_int_equal(irc_next(&s, &in), 1);
	assert_string_equal(in.text, "later");
	chat_command_dispose(&in);
	srv_stop(&s);
	ynode_free(cfg);
}

/* An answer is addressed to the asker on each of its lines; a `to` that
 * is no nick is left out. */
static void
test_irc_post_to(void **state)
{
	struct chat_message m;
	struct ynode *cfg = NULL;
	struct ircsrv s;
	char line[600], *thread = NULL;
	unsigned retry = 0;

	(void)state;
	irc_up(&s, &cfg, "firebreak", NULL);
	/* The JOIN echo makes the client ready at its next tick. */
	srv_tick(&s);
	memset(&m, 0, sizeof(m));
	m.id = "1";
	m.summary = "plan 18 for abc1234 \"deploy app 1.4.3\" by carol -> approve";
	m.body = "pins (1 change)\n  ~ pin.modify app\n";
	m.plan_id = "18";
	m.actions = 1;
	m.to = "carol";
	assert_int_equal(s.p->ops->post(s.st, &m, &thread, &retry), OK);
	assert_null(thread);
	srv_expect(&s, "NOTICE ", line, sizeof(line));
	assert_string_equal(line, "NOTICE #ops :carol: plan 18 for abc1234 \"deploy app 1.4.3\" "
	    "by carol -> approve");
	srv_expect(&s, "NOTICE ", line, sizeof(line));
	assert_string_equal(line, "NOTICE #ops :carol: pins (1 change)");
	srv_expect(&s, "NOTICE ", line, sizeof(line));
	assert_string_equal(line, "NOTICE #ops :carol:   ~ pin.modify app");
	srv_expect(&s, "NOTICE ", line, sizeof(line));
	assert_string_equal(line, "NOTICE #ops :carol: approve 18 / discard 18");
	memset(&m, 0, sizeof(m));
	m.id = "2";
	m.summary = "done";
	m.to = "U024BE7LH x";
	assert_int_equal(s.p->ops->post(s.st, &m, &thread, &retry), OK);
	srv_expect(&s, "NOTICE ", line, sizeof(line));
	assert_string_equal(line, "NOTICE #ops :done");
	srv_stop(&s);
	ynode_free(cfg);
}

/* The whole way: outbox_recv() gives the command and the backend's index;
 * outbox_send() with only and to answers there, addressed. */
static void
test_irc_through_outbox(void **state)
{
	struct fixture *f = *state;
	struct chat_command in;
	struct outbox_msg m;
	struct ircsrv s;
	char cfg[400], log_path[160], line[600], *text;
	double deadline;
	int idx = -1;

	srv_start(&s);
	snprintf(log_path, sizeof(log_path), "%s/chat.log", f->dir);
	snprintf(cfg, sizeof(cfg), "chat:\n  - {type: console, path: \"%s\"}\n"
	    "  - {type: irc, server: \"127.0.0.1:%d\", nick: firebreak, channel: \"#ops\", "
	    "allow_approve: true}\n", log_path, s.port);
	f->cfg = yaml(cfg);
	assert_int_equal(outbox_open(&s.ob, f->state, ynode_get(f->cfg, "chat")), OK);
	assert_string_equal(outbox_backend_type(s.ob, 1), "irc");
	assert_int_equal(outbox_replies_itself(s.ob, 1), 0);
	srv_handshake(&s, "firebreak");
	srv_say(&s, ":carol!c@host PRIVMSG #ops :firebreak: status");
	deadline = log_now() + 5;
	while (idx < 0 && log_now() < deadline) {
		outbox_tick(s.ob);
		idx = outbox_recv(s.ob, &in);
	}
	assert_int_equal(idx, 1);
	assert_string_equal(in.identity, "irc:carol");
	assert_string_equal(in.reply_to, "carol");
	assert_string_equal(in.via, "irc #ops");
	assert_string_equal(in.text, "status");
	/* allow_approve: true on the entry; the nick is still not vouched for. */
	assert_int_equal(in.flags, CHAT_CMD_MAY_APPROVE);
	chat_command_dispose(&in);
	/* Nothing more: -1, and *in zeroed. */
	assert_int_equal(outbox_recv(s.ob, &in), -1);
	assert_null(in.identity);
	m = msg(NULL, "cmd-1", "last applied a1b2c3d; no open plans", idx, "carol");
	assert_int_equal(outbox_send(s.ob, &m), OK);
	assert_int_equal(outbox_depth(s.ob), 1);
	deadline = log_now() + 5;
	while (outbox_depth(s.ob) && log_now() < deadline) {
		outbox_tick(s.ob);
		outbox_run(s.ob);
	}
	assert_int_equal(outbox_depth(s.ob), 0);
	srv_expect(&s, "NOTICE ", line, sizeof(line));
	assert_string_equal(line, "NOTICE #ops :carol: last applied a1b2c3d; no open plans");
	/* The console was not told. */
	assert_int_equal(access(log_path, F_OK), -1);
	/* Now to everyone. */
	assert_int_equal(outbox_post(s.ob, NULL, "to all", NULL, NULL, 0), OK);
	assert_int_equal(outbox_run(s.ob), 2);
	srv_expect(&s, "NOTICE ", line, sizeof(line));
	assert_string_equal(line, "NOTICE #ops :to all");
	text = read_file(log_path);
	assert_string_equal(text, "to all [msg 2]\n");
	free(text);
	srv_stop(&s);
}

/*
 * Identity over IRC (issue: a nick is not an identity).  The server
 * vouches for a services account through the capabilities the client
 * asks for; the handshake: CAP LS 302 -> the server's list -> CAP REQ for
 * what it has of account-tag, extended-join, account-notify -> ACK ->
 * CAP END, then the usual registration.
 */
static void
irc_up_caps(struct ircsrv *s, struct ynode **cfg, const char *extra, const char *offered,
    const char *want_req, int ack)
{
	char line[600];

	irc_open_on(s, cfg, "firebreak", extra);
	srv_expect(s, "CAP ", line, sizeof(line));
	assert_string_equal(line, "CAP LS 302");
	snprintf(line, sizeof(line), ":irc.test CAP * LS :%s", offered);
	srv_say(s, line);
	if (want_req) {
		srv_expect(s, "CAP ", line, sizeof(line));
		assert_string_equal(line, want_req);
		snprintf(line, sizeof(line), ":irc.test CAP * %s :%s", ack ? "ACK" : "NAK",
		    want_req + strlen("CAP REQ :"));
		srv_say(s, line);
	}
	srv_expect(s, "CAP ", line, sizeof(line));
	assert_string_equal(line, "CAP END");
	srv_welcome(s, "firebreak");
}

struct who_case {
	const char *name;
	const char *extra;        /* config keys */
	const char *offered;      /* CAP LS */
	const char *req;          /* the CAP REQ expected, or NULL */
	int ack;
	const char *before[3];    /* lines the server sends first */
	const char *line;         /* the command */
	const char *identity;     /* what recv() says */
	unsigned flags;
};

static const struct who_case who_cases[] = {
	{ "account-tag: the server vouches for carol", NULL,
	  "multi-prefix account-tag sasl=PLAIN", "CAP REQ :account-tag", 1, { NULL },
	  "@time=2026-01-01T00:00:00Z;account=carol :carol!c@h PRIVMSG #ops :firebreak: status",
	  "irc-account:carol", CHAT_CMD_VERIFIED },
	{ "account-tag: no tag is no account", NULL, "account-tag", "CAP REQ :account-tag", 1,
	  { NULL }, ":carol!c@h PRIVMSG #ops :firebreak: status", "irc:carol", 0 },
	{ "account-tag: the account, not the nick, names the person", NULL, "account-tag",
	  "CAP REQ :account-tag", 1, { NULL },
	  "@account=alice :carol!c@h PRIVMSG #ops :firebreak: status", "irc-account:alice",
	  CHAT_CMD_VERIFIED },
	{ "a client-only +account tag is not the server's", NULL, "account-tag message-tags",
	  "CAP REQ :account-tag", 1, { NULL },
	  "@+account=alice :carol!c@h PRIVMSG #ops :firebreak: status", "irc:carol", 0 },
	{ "a vendor tag is not it either", NULL, "account-tag", "CAP REQ :account-tag", 1, { NULL },
	  "@example.com/account=alice :carol!c@h PRIVMSG #ops :firebreak: status", "irc:carol", 0 },
	{ "a malformed account counts as none", NULL, "account-tag", "CAP REQ :account-tag", 1,
	  { NULL }, "@account=al\\sice :carol!c@h PRIVMSG #ops :firebreak: status", "irc:carol", 0 },
	{ "an escaped tag value is unescaped first", NULL, "account-tag", "CAP REQ :account-tag",
	  1, { NULL }, "@account=c\\arol :carol!c@h PRIVMSG #ops :firebreak: status",
	  "irc-account:carol", CHAT_CMD_VERIFIED },
	{ "a tag the server never agreed to send is ignored", NULL, "multi-prefix", NULL, 0,
	  { NULL }, "@account=alice :carol!c@h PRIVMSG #ops :firebreak: status", "irc:carol", 0 },
	{ "a NAK'd account-tag is ignored", NULL, "account-tag", "CAP REQ :account-tag", 0,
	  { NULL }, "@account=alice :carol!c@h PRIVMSG #ops :firebreak: status", "irc:carol", 0 },
	{ "extended-join and account-notify: the join says the account", NULL,
	  "extended-join account-notify", "CAP REQ :extended-join account-notify", 1,
	  { ":carol!c@h JOIN #ops carol :Carol C", NULL },
	  ":carol!c@h PRIVMSG #ops :firebreak: status", "irc-account:carol", CHAT_CMD_VERIFIED },
	{ "extended-join: joined logged out", NULL, "extended-join account-notify",
	  "CAP REQ :extended-join account-notify", 1, { ":carol!c@h JOIN #ops * :Carol", NULL },
	  ":carol!c@h PRIVMSG #ops :firebreak: status", "irc:carol", 0 },
	{ "account-notify: logged out since", NULL, "extended-join account-notify",
	  "CAP REQ :extended-join account-notify", 1,
	  { ":carol!c@h JOIN #ops carol :Carol", ":carol!c@h ACCOUNT *", NULL },
	  ":carol!c@h PRIVMSG #ops :firebreak: status", "irc:carol", 0 },
	{ "a nick change keeps the account; the old nick is someone else", NULL,
	  "extended-join account-notify", "CAP REQ :extended-join account-notify", 1,
	  { ":carol!c@h JOIN #ops carol :Carol", ":carol!c@h NICK :caz", NULL },
	  ":carol!x@h PRIVMSG #ops :firebreak: status", "irc:carol", 0 },
	{ "someone who left and came back without a join record", NULL,
	  "extended-join account-notify", "CAP REQ :extended-join account-notify", 1,
	  { ":carol!c@h JOIN #ops carol :Carol", ":carol!c@h QUIT :bye", NULL },
	  ":carol!c@h PRIVMSG #ops :firebreak: status", "irc:carol", 0 },
	{ "extended-join without account-notify cannot follow logouts", NULL, "extended-join",
	  "CAP REQ :extended-join", 1, { ":carol!c@h JOIN #ops carol :Carol", NULL },
	  ":carol!c@h PRIVMSG #ops :firebreak: status", "irc:carol", 0 },
	{ "trust_nicks: true makes the nick an identity (unsafe)", ", trust_nicks: true",
	  "multi-prefix", NULL, 0, { NULL }, ":carol!c@h PRIVMSG #ops :firebreak: status",
	  "irc:carol", CHAT_CMD_VERIFIED },
	{ "allow_approve: true lets approvals come", ", allow_approve: true", "account-tag",
	  "CAP REQ :account-tag", 1, { NULL },
	  "@account=carol :carol!c@h PRIVMSG #ops :firebreak: approve 3", "irc-account:carol",
	  CHAT_CMD_VERIFIED | CHAT_CMD_MAY_APPROVE },
};

static void
test_irc_who(void **state)
{
	const struct who_case *c = *state;
	struct chat_command in;
	struct ynode *cfg = NULL;
	struct ircsrv s;
	size_t i;

	irc_up_caps(&s, &cfg, c->extra, c->offered, c->req, c->ack);
	for (i = 0; c->before[i]; i++)
		srv_say(&s, c->before[i]);
	srv_say(&s, c->line);
	assert_int_equal(irc_next(&s, &in), 1);
	assert_string_equal(in.identity, c->identity);
	assert_int_equal(in.flags, c->flags);
	/* The answer is addressed to the nick that asked. */
	assert_string_equal(in.reply_to, "carol");
	chat_command_dispose(&in);
	srv_stop(&s);
	ynode_free(cfg);
}

/* CAP LS 302 over several lines: the request waits for the last one. */
static void
test_irc_cap_multiline(void **state)
{
	struct chat_command in;
	struct ynode *cfg = NULL;
	struct ircsrv s;
	char line[600];

	(void)state;
	irc_open_on(&s, &cfg, "firebreak", NULL);
	srv_expect(&s, "CAP ", line, sizeof(line));
	srv_say(&s, ":irc.test CAP * LS * :multi-prefix extended-join");
	srv_say(&s, ":irc.test CAP * LS :account-notify account-tag");
	srv_expect(&s, "CAP ", line, sizeof(line));
	assert_string_equal(line, "CAP REQ :account-tag extended-join account-notify");
	srv_say(&s, ":irc.test CAP * ACK :account-tag extended-join account-notify");
	srv_expect(&s, "CAP ", line, sizeof(line));
	assert_string_equal(line, "CAP END");
	srv_welcome(&s, "firebreak");
	srv_say(&s, "@account=dave :dave!d@h PRIVMSG #ops :firebreak: status");
	assert_int_equal(irc_next(&s, &in), 1);
	assert_string_equal(in.identity, "irc-account:dave");
	chat_command_dispose(&in);
	srv_stop(&s);
	ynode_free(cfg);
}

#define FIXTURE_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		FIXTURE_TEST(test_console_line),
		FIXTURE_TEST(test_console_no_duplicate_after_crash),
		FIXTURE_TEST(test_reopen_delivers_pending),
		FIXTURE_TEST(test_ids_never_reused),
		FIXTURE_TEST(test_reserved_post),
		FIXTURE_TEST(test_threads_per_plan),
		FIXTURE_TEST(test_fan_out),
		FIXTURE_TEST(test_backend_removed),
		FIXTURE_TEST(test_corrupt_file_set_aside),
		FIXTURE_TEST(test_stale_tmp_removed),
		FIXTURE_TEST(test_text_cleaned),
		FIXTURE_TEST(test_no_chat),
		FIXTURE_TEST(test_thread_key),
		FIXTURE_TEST(test_only_one_backend),
		FIXTURE_TEST(test_new_fields_persist),
		FIXTURE_TEST(test_old_format_loads),
		FIXTURE_TEST(test_backend_info),
		FIXTURE_TEST(test_provider_checks),
		FIXTURE_TEST(test_irc_through_outbox),
		cmocka_unit_test(test_irc_inbound_nick),
		cmocka_unit_test(test_irc_inbound_queue_cap),
		cmocka_unit_test(test_irc_post_to),
		cmocka_unit_test(test_irc_cap_multiline),
		cmocka_unit_test(test_registry),
	};
	struct CMUnitTest tests[sizeof(fixed) / sizeof(fixed[0]) + sizeof(retry_cases) /
	    sizeof(retry_cases[0]) + sizeof(bad_posts) / sizeof(bad_posts[0]) +
	    sizeof(bad_configs) / sizeof(bad_configs[0]) + sizeof(bad_sends) /
	    sizeof(bad_sends[0]) + sizeof(inbound_cases) / sizeof(inbound_cases[0]) +
	    sizeof(who_cases) / sizeof(who_cases[0])];
	size_t n = 0, i;

	CASES(test_retry, retry_cases);
	CASES(test_bad_post, bad_posts);
	CASES(test_bad_config, bad_configs);
	CASES(test_bad_send, bad_sends);
	CASES(test_irc_inbound, inbound_cases);
	CASES(test_irc_who, who_cases);
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		tests[n++] = fixed[i];
	/* The outbox logs one line per retry or dead letter on stderr; the
	 * TAP output is on stdout. */
	return _cmocka_run_group_tests("outbox", tests, n, NULL, NULL);
}
