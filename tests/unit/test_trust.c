/*
 * test_trust.c - the trust ladder's table from its log (state/trust.h):
 * which outcomes agree, which disagree, what a restart's re-plan is,
 * auto-applied plans and their reverts, actions, and when a promotion is
 * due.  Each case writes plan outcomes as the state store does and reads
 * the table back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fs.h"
#include "model/diag.h"
#include "model/policy.h"
#include "state/state.h"
#include "state/trust.h"

struct fx {
	char dir[64];
	struct state *st;
	struct policy *pol;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct ynode *root = NULL;
	struct diags d = { NULL, 0, 0 };
	static const char pol[] = "auto: [pin.modify]\nobserve: [dns.add, dns.delete]\n"
	    "actions: {health.drain: observe}\n";
	int line, col;

	snprintf(f->dir, sizeof(f->dir), "/tmp/fb-trust.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(state_open(&f->st, f->dir, 1), OK);
	assert_int_equal(ydoc_parse(&root, pol, strlen(pol), NULL, &line, &col), OK);
	f->pol = policy_parse(root, "policy.yaml", &d);
	assert_int_equal(d.n, 0);
	ynode_free(root);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	state_close(f->st);
	fs_rm_rf(f->dir);
	policy_free(f->pol);
	free(f);
	return 0;
}

/* One outcome of plan `id` as the store writes it. */
static void
outcome(struct fx *f, const char *id, const char *hash, const char *decision,
    const char *type, const char *type_decision, const char *outcome, const char *by)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s}]}", "id", id, "hash", hash,
	    "decision", decision, "outcome", outcome, "target", "t", "changes", "type", type,
	    "decision", type_decision);

	if (by)
		json_object_set_new(j, "decided_by", json_string(by));
	trust_note_record(f->st, j);
	json_decref(j);
}

static const struct trust_row *
row(struct trust_table *t, struct fx *f, const char *name)
{
	assert_int_equal(trust_load(t, f->dir, f->pol), OK);
	return trust_row(t, name);
}

static void
test_agree_disagree(void **state)
{
	struct fx *f = *state;
	struct trust_table t;
	const struct trust_row *r;

	/* approved: open, applying by alice, applied (by no one: still alice's). */
	outcome(f, "1", "h1", "observe", "dns.add", "observe", "open", NULL);
	outcome(f, "1", "h1", "observe", "dns.add", "observe", "applying", "alice");
	outcome(f, "1", "h1", "observe", "dns.add", "observe", "applied", NULL);
	/* discarded */
	outcome(f, "2", "h2", "observe", "dns.add", "observe", "discarded", "bob");
	/* superseded by a different plan */
	outcome(f, "3", "h3", "observe", "dns.add", "observe", "superseded", NULL);
	outcome(f, "4", "h4", "observe", "dns.add", "observe", "open", NULL);
	/* a restart: superseded, then the same hash planned again (neither) */
	outcome(f, "4", "h4", "observe", "dns.add", "observe", "superseded", NULL);
	outcome(f, "5", "h4", "observe", "dns.add", "observe", "applying", "alice");
	/* bootstrap applies are nobody's agreement */
	outcome(f, "6", "h6", "observe", "dns.add", "observe", "applying", "--bootstrap-apply");
	r = row(&t, f, "dns.add");
	assert_non_null(r);
	assert_string_equal(r->level, "observe");
	assert_int_equal(r->observed, 5);     /* 1, 2, 3, 5, 6; not 4 */
	assert_int_equal(r->agreed, 2);       /* 1, 5 */
	assert_int_equal(r->disagreed, 2);    /* 2, 3 */
	assert_false(r->suggest_promote);
	trust_table_dispose(&t);
}

static void
test_promotion_due(void **state)
{
	struct fx *f = *state;
	struct trust_table t;
	const struct trust_row *r;
	char id[8], hash[8];
	int i;

	for (i = 1; i <= 19; i++) {
		snprintf(id, sizeof(id), "%d", i);
		snprintf(hash, sizeof(hash), "h%d", i);
		outcome(f, id, hash, "observe", "dns.add", "observe", "applied", "alice");
	}
	r = row(&t, f, "dns.add");
	assert_int_equal(r->agreed, 19);
	assert_false(r->suggest_promote);
	trust_table_dispose(&t);
	outcome(f, "20", "h20", "observe", "dns.add", "observe", "applied", "alice");
	r = row(&t, f, "dns.add");
	assert_true(r->suggest_promote);
	assert_false(r->suggested);
	{
		struct buf b = BUF_INIT;

		trust_promotion_line(&b, r);
		assert_string_equal(b.data, "dns.add: 20 of 20 observed plans were approved unchanged "
		    "\xe2\x80\x94 `trust promote dns.add` to auto-apply it");
		buf_dispose(&b);
	}
	trust_table_dispose(&t);
	assert_int_equal(trust_note_suggested(f->st, "dns.add"), OK);
	r = row(&t, f, "dns.add");
	assert_true(r->suggested);
	trust_table_dispose(&t);
	/* One disagreement and the suggestion is no longer due. */
	outcome(f, "21", "h21", "observe", "dns.add", "observe", "discarded", "bob");
	r = row(&t, f, "dns.add");
	assert_false(r->suggest_promote);
	trust_table_dispose(&t);
}

static void
test_auto_and_reverts(void **state)
{
	struct fx *f = *state;
	struct trust_table t;
	const struct trust_row *r;

	outcome(f, "1", "h1", "auto", "pin.modify", "auto", "applying", NULL);
	outcome(f, "1", "h1", "auto", "pin.modify", "auto", "applied", NULL);
	outcome(f, "2", "h2", "auto", "pin.modify", "auto", "applied", NULL);
	/* an approve plan with an auto change: a person applied it, not auto */
	outcome(f, "3", "h3", "approve", "pin.modify", "auto", "applied", "alice");
	assert_int_equal(trust_note_revert(f->st, "aaaa", "bbbb", "2"), OK);
	r = row(&t, f, "pin.modify");
	assert_int_equal(r->auto_applied, 2);
	assert_int_equal(r->reverted, 1);
	assert_true(r->suggest_demote);
	assert_true(trust_revert_known(&t, "bbbb"));
	assert_false(trust_revert_known(&t, "aaaa"));
	trust_table_dispose(&t);
}

static void
test_action_rows(void **state)
{
	struct fx *f = *state;
	struct trust_table t;
	const struct trust_row *r;
	json_t *j;

	trust_note_action(f->st, "health.drain", "1", "observed");
	trust_note_action(f->st, "health.drain", "1", "agreed");
	trust_note_action(f->st, "health.drain", "2", "observed");
	trust_note_action(f->st, "health.drain", "2", "disagreed");
	trust_note_action(f->st, "health.drain", "3", "observed");
	/* The action's own plan counts for the action, not for its types. */
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s}]}", "id", "9", "hash", "h9",
	    "decision", "auto", "outcome", "applied", "target", "t", "action", "health.drain",
	    "changes", "type", "dns.modify", "decision", "auto");
	trust_note_record(f->st, j);
	json_decref(j);
	r = row(&t, f, "health.drain");
	assert_string_equal(r->level, "observe");
	assert_int_equal(r->observed, 3);
	assert_int_equal(r->agreed, 1);
	assert_int_equal(r->disagreed, 1);
	assert_int_equal(r->auto_applied, 1);
	assert_null(trust_row(&t, "dns.modify"));
	trust_table_dispose(&t);
}

static void
test_torn_line(void **state)
{
	struct fx *f = *state;
	struct trust_table t;
	const struct trust_row *r;
	char path[128];
	FILE *fp;

	outcome(f, "1", "h1", "observe", "dns.add", "observe", "applied", "alice");
	snprintf(path, sizeof(path), "%s/trust.log", f->dir);
	fp = fopen(path, "a");
	fputs("{\"plan\":\"2\",\"outcome\":\"disc", fp);   /* a crash mid-write */
	fclose(fp);
	r = row(&t, f, "dns.add");
	assert_int_equal(r->observed, 1);
	assert_int_equal(r->agreed, 1);
	trust_table_dispose(&t);
}

static void
test_reverted_sha(void **state)
{
	char sha[41];

	(void)state;
	assert_true(trust_reverted_sha("Revert \"x\"\n\nThis reverts commit "
	    "0123456789abcdef0123456789abcdef01234567.\n", sha));
	assert_string_equal(sha, "0123456789abcdef0123456789abcdef01234567");
	assert_false(trust_reverted_sha("This reverts commit 0123.\n", sha));
	assert_false(trust_reverted_sha("This reverts commit "
	    "0123456789ABCDEF0123456789abcdef01234567.\n", sha));
	assert_false(trust_reverted_sha("This reverts commit "
	    "0123456789abcdef0123456789abcdef012345678.\n", sha));
	assert_false(trust_reverted_sha(NULL, sha));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_agree_disagree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_promotion_due, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auto_and_reverts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_action_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_line, setup, teardown),
		cmocka_unit_test(test_reverted_sha),
	};

	return cmocka_run_group_tests_name("trust", tests, NULL, NULL);
}
