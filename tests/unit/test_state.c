/*
 * test_state.c - the state directory's plan bookkeeping: plan ids from a
 * durable counter (monotonic across reopen and crashes, recovered when
 * missing, refused when corrupt), the release `current` points at never
 * rewritten, the index of open plans (what it holds, what readers read),
 * and retention of closed plans (by count, by age, bounded, never an open
 * plan or the current release).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/fs.h"
#include "model/artifact.h"
#include "plan/plan.h"
#include "state/enc.h"
#include "state/state.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DAY 86400LL

struct fixture {
	char dir[64];         /* the state directory (made by the test) */
	struct state *st;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_state.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	state_close(f->st);
	fs_rm_rf(f->dir);
	free(f);
	return 0;
}

static void
reopen(struct fixture *f)
{
	state_close(f->st);
	f->st = NULL;
	assert_int_equal(state_open(&f->st, f->dir, 1), OK);
}

static void
put(const struct fixture *f, const char *rel, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
	assert_int_equal(fs_write_atomic(path, text, strlen(text)), OK);
}

static char *
slurp(const struct fixture *f, const char *rel)
{
	char path[256];
	struct buf b = BUF_INIT;

	snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
	if (fs_read(&b, path, 1 << 20) != OK) {
		buf_dispose(&b);
		return NULL;
	}
	return b.data ? buf_steal(&b) : xstrdup("");
}

static int
exists(const struct fixture *f, const char *rel)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
	return lstat(path, &st) == 0;
}

static void
reserve_expect(struct fixture *f, const char *want)
{
	char id[24];

	assert_int_equal(state_reserve_plan_id(f->st, id), OK);
	assert_string_equal(id, want);
}

/* A plan with no diff: enough for the store (target, id, decision). */
static struct plan *
mkplan(const char *id, const char *base, const char *target)
{
	struct plan *p = xcalloc(1, sizeof(*p));

	snprintf(p->id, sizeof(p->id), "%s", id);
	snprintf(p->base, sizeof(p->base), "%s", base);
	snprintf(p->target, sizeof(p->target), "%s", target);
	p->decision = DECISION_AUTO;
	return p;
}

static void
save(struct fixture *f, const char *id, const char *target, const char *outcome,
    uint64_t announce)
{
	struct plan *p = mkplan(id, "", target);

	assert_int_equal(state_save_plan(f->st, p, outcome, NULL, announce), OK);
	plan_free(p);
}

static void
apply(struct fixture *f, const char *id, const char *base, const char *target, int want)
{
	struct plan *p = mkplan(id, base, target);
	struct artifacts art = { NULL, 0, 0 };

	artifacts_add(&art, xstrdup("enc/web-01.example.com.yaml"), xstrdup("classes: []\n"), 12,
	    KIND_ENC);
	artifacts_add(&art, xstrdup("hiera/pins/production.yaml"), xstrdup("a: '1'\n"), 7,
	    KIND_PIN);
	assert_int_equal(artifacts_sort(&art), OK);
	assert_int_equal(state_apply(f->st, p, &art), want);
	artifacts_dispose(&art);
	plan_free(p);
}

/* ---- plan ids ---- */

static void
test_ids_monotonic_across_reopen(void **state)
{
	struct fixture *f = *state;
	char *seq;

	reopen(f);
	reserve_expect(f, "1");
	save(f, "1", SHA_A, "invalid", 0);
	reserve_expect(f, "2");
	reopen(f);
	reserve_expect(f, "3");
	seq = slurp(f, "plan-seq");
	assert_string_equal(seq, "3\n");
	free(seq);
}

/* An id handed out is on disk before the caller has it: a crash between
 * reserving and using it (no plan file, no release) never gives it again. */
static void
test_id_reserved_then_crash(void **state)
{
	struct fixture *f = *state;
	char id[24];

	reopen(f);
	reserve_expect(f, "1");
	apply(f, "1", "", SHA_A, OK);
	save(f, "1", SHA_A, "applied", 0);
	reserve_expect(f, "2");
	/* "kill -9": nothing of plan 2 was written. */
	reopen(f);
	assert_int_equal(state_peek_plan_id(f->dir, id), OK);
	assert_string_equal(id, "3");
	reserve_expect(f, "3");
}

/* The defect: ids came from listing plans/, so a removed plan file gave
 * its id (and so its release directory, the current one) out again. */
static void
test_removed_plan_file_not_reused(void **state)
{
	struct fixture *f = *state;
	char path[256], *commit;

	reopen(f);
	reserve_expect(f, "1");
	apply(f, "1", "", SHA_A, OK);
	save(f, "1", SHA_A, "applied", 0);
	snprintf(path, sizeof(path), "%s/plans/1.json", f->dir);
	assert_int_equal(unlink(path), 0);
	reopen(f);
	reserve_expect(f, "2");
	commit = slurp(f, "current/COMMIT");
	assert_string_equal(commit, SHA_A "\n");
	free(commit);
}

static void
test_corrupt_counter_refused(void **state)
{
	struct fixture *f = *state;
	char id[24], *seq;

	reopen(f);
	state_close(f->st);
	f->st = NULL;
	put(f, "plan-seq", "seventeen\n");
	assert_int_equal(state_open(&f->st, f->dir, 1), ERR_INVALID);
	assert_null(f->st);
	assert_non_null(strstr(err_last(), "/plan-seq: not a plan counter ('seventeen')"));
	assert_int_equal(state_peek_plan_id(f->dir, id), ERR_INVALID);
	/* Nothing was written over it. */
	seq = slurp(f, "plan-seq");
	assert_string_equal(seq, "seventeen\n");
	free(seq);
}

/* A state directory from before the counter: recovered from the highest
 * id stored, never "1". */
static void
test_missing_counter_recovered(void **state)
{
	struct fixture *f = *state;
	char *seq;

	reopen(f);
	state_close(f->st);
	f->st = NULL;
	{
		char path[256];

		snprintf(path, sizeof(path), "%s/plan-seq", f->dir);
		assert_int_equal(unlink(path), 0);
	}
	put(f, "plans/3.json", "{\"id\": \"3\", \"outcome\": \"applied\"}\n");
	put(f, "plans/41.json", "{\"id\": \"41\", \"outcome\": \"invalid\"}\n");
	put(f, "plans/notes.txt", "not a plan\n");
	reopen(f);
	seq = slurp(f, "plan-seq");
	assert_string_equal(seq, "41\n");
	free(seq);
	reserve_expect(f, "42");
}

/* With every plan file gone, the releases still hold ids. */
static void
test_missing_counter_from_releases(void **state)
{
	struct fixture *f = *state;
	char path[256];

	reopen(f);
	put(f, "plan-seq", "6\n");
	reopen(f);
	reserve_expect(f, "7");
	apply(f, "7", "", SHA_A, OK);
	state_close(f->st);
	f->st = NULL;
	snprintf(path, sizeof(path), "%s/plan-seq", f->dir);
	assert_int_equal(unlink(path), 0);
	reopen(f);
	reserve_expect(f, "8");
}

/* A counter behind what is stored (restored from a backup) skips ids
 * whose plan or release exists. */
static void
test_counter_behind_skips(void **state)
{
	struct fixture *f = *state;

	reopen(f);
	put(f, "plans/2.json", "{\"id\": \"2\", \"outcome\": \"applied\"}\n");
	put(f, "plans/3.json", "{\"id\": \"3\", \"outcome\": \"applied\"}\n");
	put(f, "plan-seq", "1\n");
	reopen(f);
	reserve_expect(f, "4");
}

/* Whatever the ids say, the release readers use is not rewritten. */
static void
test_current_release_never_rewritten(void **state)
{
	struct fixture *f = *state;
	char *commit;

	reopen(f);
	apply(f, "5", "", SHA_A, OK);
	apply(f, "5", SHA_A, SHA_B, ERR_CONFLICT);
	assert_non_null(strstr(err_last(), "release 5 is the current release"));
	commit = slurp(f, "current/COMMIT");
	assert_string_equal(commit, SHA_A "\n");
	free(commit);
	commit = slurp(f, "applied");
	assert_string_equal(commit, SHA_A "\n");
	free(commit);
}

/* Release 4 shares release 3's unchanged bucket 3-84; a plan numbered 3
 * again (ids reused, as they were) must not rebuild that bucket under the
 * current release's feet. */
static void
test_current_bucket_never_rewritten(void **state)
{
	struct fixture *f = *state;
	char *doc, link[256], path[256];
	ssize_t n;

	reopen(f);
	apply(f, "3", "", SHA_A, OK);
	apply(f, "4", SHA_A, SHA_B, OK);
	snprintf(path, sizeof(path), "%s/current/enc/84", f->dir);
	n = readlink(path, link, sizeof(link) - 1);
	assert_true(n > 0);
	link[n] = '\0';
	assert_string_equal(link, "../../../buckets/3-84");
	{
		/* Shared by hard-linking release 3's symlink: no new inode
		 * per unchanged bucket (256 of them made a 1,000-host
		 * release switch take 120-190 ms on this VM's disk). */
		struct stat a, b;

		snprintf(path, sizeof(path), "%s/releases/3/enc/84", f->dir);
		assert_int_equal(lstat(path, &a), 0);
		snprintf(path, sizeof(path), "%s/releases/4/enc/84", f->dir);
		assert_int_equal(lstat(path, &b), 0);
		assert_true(S_ISLNK(b.st_mode));
		assert_true(a.st_ino == b.st_ino);
	}
	/* Planned from the empty tree: every bucket is written anew. */
	apply(f, "3", "", SHA_A, ERR_CONFLICT);
	assert_non_null(strstr(err_last(), "bucket 3-84 belongs to the current release 4"));
	doc = slurp(f, "current/enc/84/web-01.example.com.yaml");
	assert_string_equal(doc, "classes: []\n");
	free(doc);
	doc = slurp(f, "current/COMMIT");
	assert_string_equal(doc, SHA_B "\n");
	free(doc);
}

/* ---- the index of open plans ---- */

struct seen {
	char ids[16][24];
	uint64_t announce[16];
	size_t n;
};

static int
see(void *ctx, const char *file, json_t *plan, uint64_t announce)
{
	struct seen *s = ctx;

	(void)file;
	assert_true(s->n < 16);
	snprintf(s->ids[s->n], sizeof(s->ids[s->n]), "%s",
	    json_string_value(json_object_get(plan, "id")));
	s->announce[s->n++] = announce;
	return 0;
}

static void
test_index_follows_outcomes(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	char *idx;

	reopen(f);
	save(f, "1", SHA_A, "applied", 0);
	save(f, "2", SHA_A, "open", 0);
	save(f, "3", SHA_B, "applying", 0);
	save(f, "4", SHA_B, "invalid", 17);
	memset(&s, 0, sizeof(s));
	assert_int_equal(state_each_open(f->dir, see, &s), OK);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.ids[0], "2");
	assert_string_equal(s.ids[1], "3");
	assert_string_equal(s.ids[2], "4");
	assert_int_equal(s.announce[2], 17);
	idx = slurp(f, "open-plans.json");
	assert_string_equal(idx, "{\"plans\":{"
	    "\"2\":{\"announce\":0,\"outcome\":\"open\",\"target\":\"" SHA_A "\"},"
	    "\"3\":{\"announce\":0,\"outcome\":\"applying\",\"target\":\"" SHA_B "\"},"
	    "\"4\":{\"announce\":17,\"outcome\":\"invalid\",\"target\":\"" SHA_B "\"}},"
	    "\"version\":1}");
	free(idx);
	/* Closing, announcing. */
	save(f, "2", SHA_A, "discarded", 0);
	save(f, "3", SHA_B, "applied", 21);
	assert_int_equal(state_announced(f->st, "4"), OK);
	memset(&s, 0, sizeof(s));
	assert_int_equal(state_each_open(f->dir, see, &s), OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], "3");
	assert_int_equal(s.announce[0], 21);
	assert_int_equal(state_announced(f->st, "3"), OK);
	memset(&s, 0, sizeof(s));
	assert_int_equal(state_each_open(f->dir, see, &s), OK);
	assert_int_equal(s.n, 0);
	/* It survives a reopen. */
	save(f, "5", SHA_A, "open", 0);
	reopen(f);
	memset(&s, 0, sizeof(s));
	assert_int_equal(state_each_open(f->dir, see, &s), OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], "5");
}

/* Readers open the index and the plans it names, nothing else: a FIFO
 * (which would block a reader forever) and garbage among the closed
 * plans change nothing. */
static void
test_readers_read_only_the_index(void **state)
{
	struct fixture *f = *state;
	char path[256];
	struct seen s;

	reopen(f);
	save(f, "1", SHA_A, "applied", 0);
	save(f, "2", SHA_A, "open", 0);
	snprintf(path, sizeof(path), "%s/plans/1.json", f->dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	put(f, "plans/3.json", "{not json");
	memset(&s, 0, sizeof(s));
	assert_int_equal(state_each_open(f->dir, see, &s), OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], "2");
	/* Reopening (recovery, the counter) does not read them either; the
	 * garbage's id is taken. */
	reopen(f);
	reserve_expect(f, "4");
}

/* A plan the index names whose file is a FIFO is skipped, not waited on. */
static void
test_indexed_fifo_skipped(void **state)
{
	struct fixture *f = *state;
	char path[256];
	struct seen s;
	json_t *j = NULL;

	reopen(f);
	save(f, "2", SHA_A, "open", 0);
	snprintf(path, sizeof(path), "%s/plans/2.json", f->dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(state_each_open(f->dir, see, &s), OK);
	assert_int_equal(s.n, 0);
	assert_int_equal(state_load_plan(&j, f->dir, "2"), ERR_INVALID);
	assert_null(j);
	assert_int_equal(state_load_plan(&j, f->dir, "../2"), ERR_INVALID);
	assert_int_equal(state_load_plan(&j, f->dir, "9"), ERR_NOTFOUND);
}

static void
test_corrupt_index_refused(void **state)
{
	struct fixture *f = *state;
	struct seen s;

	reopen(f);
	state_close(f->st);
	f->st = NULL;
	put(f, "open-plans.json", "{\"version\": 1, \"plans\": [1, 2]}");
	assert_int_equal(state_open(&f->st, f->dir, 1), ERR_INVALID);
	assert_non_null(strstr(err_last(), "/open-plans.json: not a plan index"));
	memset(&s, 0, sizeof(s));
	assert_int_equal(state_each_open(f->dir, see, &s), ERR_INVALID);
	assert_int_equal(s.n, 0);
}

/* A state directory from before the index: built from plans/ once. */
static void
test_missing_index_rebuilt(void **state)
{
	struct fixture *f = *state;
	char path[256];
	struct seen s;

	reopen(f);
	save(f, "1", SHA_A, "applied", 0);
	save(f, "2", SHA_A, "open", 0);
	state_close(f->st);
	f->st = NULL;
	snprintf(path, sizeof(path), "%s/open-plans.json", f->dir);
	assert_int_equal(unlink(path), 0);
	/* A reader before any writer: walks plans/ (the old way). */
	memset(&s, 0, sizeof(s));
	assert_int_equal(state_each_open(f->dir, see, &s), OK);
	assert_int_equal(s.n, 2);
	reopen(f);
	assert_true(exists(f, "open-plans.json"));
	memset(&s, 0, sizeof(s));
	assert_int_equal(state_each_open(f->dir, see, &s), OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], "2");
}

/* ---- retention ---- */

static void
age(const struct fixture *f, const char *id, long long secs_ago, long long now)
{
	char path[256];
	struct timespec ts[2];

	snprintf(path, sizeof(path), "%s/plans/%s.json", f->dir, id);
	ts[0].tv_sec = ts[1].tv_sec = (time_t)(now - secs_ago);
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* Plans 1..n stored closed ("applied"), ids reserved in order. */
static void
closed_plans(struct fixture *f, int n)
{
	char id[24];
	int i;

	for (i = 1; i <= n; i++) {
		assert_int_equal(state_reserve_plan_id(f->st, id), OK);
		save(f, id, SHA_A, "applied", 0);
	}
}

static char *
plan_list(const struct fixture *f, int upto)
{
	struct buf b = BUF_INIT;
	char rel[64];
	int i;

	for (i = 1; i <= upto; i++) {
		snprintf(rel, sizeof(rel), "plans/%d.json", i);
		if (exists(f, rel))
			buf_printf(&b, "%s%d", b.len ? " " : "", i);
	}
	return b.data ? buf_steal(&b) : xstrdup("");
}

static void
retain(struct fixture *f, unsigned days, unsigned long plans, long long now, size_t want_plans,
    int want_more)
{
	struct state_retention r = { days, plans, 2, STATE_RETAIN_SCAN, STATE_RETAIN_DELETE };
	struct state_retained done;

	assert_int_equal(state_retain(f->st, &r, now, &done), OK);
	assert_int_equal(done.plans, want_plans);
	assert_int_equal(done.more, want_more);
}

static void
test_retention_by_count(void **state)
{
	struct fixture *f = *state;
	long long now = (long long)time(NULL);
	char *list;

	reopen(f);
	closed_plans(f, 10);
	save(f, "4", SHA_B, "open", 0);
	{
		char dir[256];

		snprintf(dir, sizeof(dir), "%s/threads", f->dir);
		assert_int_equal(fs_mkdir_p(dir, 0700), OK);
	}
	put(f, "threads/3.0", "ts-3\n");
	put(f, "threads/4.1", "ts-4\n");
	/* Keep the newest 3 ids (8, 9, 10) and the open plan 4. */
	retain(f, 36500, 3, now, 6, 0);
	list = plan_list(f, 12);
	assert_string_equal(list, "4 8 9 10");
	free(list);
	assert_false(exists(f, "threads/3.0"));
	assert_true(exists(f, "threads/4.1"));
	/* Nothing more to do; then plan 4 closes and goes next time. */
	retain(f, 36500, 3, now, 0, 0);
	save(f, "4", SHA_B, "superseded", 0);
	retain(f, 36500, 3, now, 1, 0);
	list = plan_list(f, 12);
	assert_string_equal(list, "8 9 10");
	free(list);
	assert_false(exists(f, "threads/4.1"));
	/* A new plan pushes the oldest kept one out. */
	closed_plans(f, 1);
	retain(f, 36500, 3, now, 1, 0);
	list = plan_list(f, 12);
	assert_string_equal(list, "9 10 11");
	free(list);
}

static void
test_retention_by_age(void **state)
{
	struct fixture *f = *state;
	long long now = (long long)time(NULL);
	char *list;

	reopen(f);
	closed_plans(f, 6);
	age(f, "1", 200 * DAY, now);
	age(f, "2", 91 * DAY, now);
	age(f, "3", 90 * DAY, now);
	age(f, "4", 89 * DAY, now);
	age(f, "5", 95 * DAY, now);    /* older, but behind a younger one */
	retain(f, 90, 10000, now, 3, 0);
	list = plan_list(f, 6);
	assert_string_equal(list, "4 5 6");
	free(list);
	/* Two days later plan 4 is old too, and 5 goes with it. */
	retain(f, 90, 10000, now + 2 * DAY, 2, 0);
	list = plan_list(f, 6);
	assert_string_equal(list, "6");
	free(list);
}

/* The current release's plan and directory stay; an older release of a
 * deleted plan goes with it. */
static void
test_retention_keeps_current_release(void **state)
{
	struct fixture *f = *state;
	long long now = (long long)time(NULL);
	char *list;

	reopen(f);
	reserve_expect(f, "1");
	apply(f, "1", "", SHA_A, OK);
	save(f, "1", SHA_A, "applied", 0);
	reserve_expect(f, "2");
	apply(f, "2", SHA_A, SHA_B, OK);
	save(f, "2", SHA_B, "applied", 0);
	closed_plans(f, 3);     /* 3, 4, 5 */
	age(f, "1", 100 * DAY, now);
	age(f, "2", 100 * DAY, now);
	retain(f, 90, 1, now, 3, 0);
	list = plan_list(f, 6);
	assert_string_equal(list, "2 5");
	free(list);
	assert_false(exists(f, "releases/1"));
	assert_true(exists(f, "releases/2"));
	{
		char *commit = slurp(f, "current/COMMIT");

		assert_string_equal(commit, SHA_B "\n");
		free(commit);
	}
}

/* One pass deletes at most delete_max plans and says there is more. */
static void
test_retention_bounded(void **state)
{
	struct fixture *f = *state;
	long long now = (long long)time(NULL);
	struct state_retention r = { 36500, 1, 1, 100, 2 };
	struct state_retained done;
	char *list;

	reopen(f);
	closed_plans(f, 6);
	assert_int_equal(state_retain(f->st, &r, now, &done), OK);
	assert_int_equal(done.plans, 2);
	assert_int_equal(done.more, 1);
	list = plan_list(f, 6);
	assert_string_equal(list, "3 4 5 6");
	free(list);
	reopen(f);
	assert_int_equal(state_retain(f->st, &r, now, &done), OK);
	assert_int_equal(state_retain(f->st, &r, now, &done), OK);
	assert_int_equal(done.plans, 1);
	assert_int_equal(done.more, 0);
	list = plan_list(f, 6);
	assert_string_equal(list, "6");
	free(list);
}

/* A staged apply: the canary host reads the new release through the
 * overlay, everyone else the previous one; `applied` is the new commit and
 * a reopen (recovery) keeps it so; promotion switches everyone. */
static void
apply_docs(struct fixture *f, const char *id, const char *base, const char *target,
    const char *ver, int staged)
{
	struct plan *p = mkplan(id, base, target);
	struct artifacts art = { NULL, 0, 0 };
	const char *fq[] = { "web-01.example.com" }, *env[] = { "production" };
	char doc[64], pin[64];

	snprintf(doc, sizeof(doc), "classes: [v%s]\n", ver);
	snprintf(pin, sizeof(pin), "a: '%s'\n", ver);
	artifacts_add(&art, xstrdup("enc/web-01.example.com.yaml"), xstrdup(doc), strlen(doc),
	    KIND_ENC);
	artifacts_add(&art, xstrdup("enc/web-02.example.com.yaml"), xstrdup(doc), strlen(doc),
	    KIND_ENC);
	artifacts_add(&art, xstrdup("hiera/pins/production.yaml"), xstrdup(pin), strlen(pin),
	    KIND_PIN);
	assert_int_equal(artifacts_sort(&art), OK);
	if (staged)
		assert_int_equal(state_apply_staged(f->st, p, &art, fq, env, 1), OK);
	else
		assert_int_equal(state_apply(f->st, p, &art), OK);
	artifacts_dispose(&art);
	plan_free(p);
}

static char *
enc_doc(struct fixture *f, const char *fqdn)
{
	struct buf b = BUF_INIT;
	char tmp[64];
	int fd;
	ssize_t n;

	assert_int_equal(enc_open(&fd, f->dir, fqdn), OK);
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		buf_append(&b, tmp, (size_t)n);
	close(fd);
	return buf_steal(&b);
}

static void
test_staged_canary_then_promote(void **state)
{
	struct fixture *f = *state;
	char *s;

	reopen(f);
	apply_docs(f, "1", "", SHA_A, "1", 0);
	apply_docs(f, "2", "", SHA_B, "2", 1);   /* no diff: write every bucket */
	s = slurp(f, "current/COMMIT");
	assert_string_equal(s, SHA_A "\n");
	free(s);
	s = slurp(f, "applied");
	assert_string_equal(s, SHA_B "\n");
	free(s);
	s = enc_doc(f, "web-01.example.com");
	assert_string_equal(s, "classes: [v2]\n");
	free(s);
	s = enc_doc(f, "web-02.example.com");
	assert_string_equal(s, "classes: [v1]\n");
	free(s);
	s = slurp(f, "current/hiera/nodes/web-01.example.com.yaml");
	assert_string_equal(s, "a: '2'\n");
	free(s);
	s = slurp(f, "current/hiera/pins/production.yaml");
	assert_string_equal(s, "a: '1'\n");
	free(s);
	/* A restart keeps the staging: applied is not rewritten to current's. */
	reopen(f);
	assert_int_equal(state_staged(f->dir), 2);
	s = slurp(f, "applied");
	assert_string_equal(s, SHA_B "\n");
	free(s);
	assert_int_equal(state_promote(f->st), OK);
	assert_int_equal(state_staged(f->dir), 0);
	s = enc_doc(f, "web-02.example.com");
	assert_string_equal(s, "classes: [v2]\n");
	free(s);
	s = slurp(f, "current/COMMIT");
	assert_string_equal(s, SHA_B "\n");
	free(s);
}

/* A staging whose commit never reached `applied` did not happen. */
static void
test_staged_uncommitted_dropped(void **state)
{
	struct fixture *f = *state;
	char *s;

	reopen(f);
	apply_docs(f, "1", "", SHA_A, "1", 0);
	apply_docs(f, "2", "", SHA_B, "2", 1);   /* no diff: write every bucket */
	put(f, "applied", SHA_A "\n");      /* as if killed before the commit point */
	reopen(f);
	assert_int_equal(state_staged(f->dir), 0);
	s = enc_doc(f, "web-01.example.com");
	assert_string_equal(s, "classes: [v1]\n");
	free(s);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		T(test_ids_monotonic_across_reopen),
		T(test_id_reserved_then_crash),
		T(test_removed_plan_file_not_reused),
		T(test_corrupt_counter_refused),
		T(test_missing_counter_recovered),
		T(test_missing_counter_from_releases),
		T(test_counter_behind_skips),
		T(test_current_release_never_rewritten),
		T(test_staged_canary_then_promote),
		T(test_staged_uncommitted_dropped),
		T(test_current_bucket_never_rewritten),
		T(test_index_follows_outcomes),
		T(test_readers_read_only_the_index),
		T(test_indexed_fifo_skipped),
		T(test_corrupt_index_refused),
		T(test_missing_index_rebuilt),
		T(test_retention_by_count),
		T(test_retention_by_age),
		T(test_retention_keeps_current_release),
		T(test_retention_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
