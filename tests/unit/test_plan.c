/*
 * test_plan.c - the change classifier and the policy decision: each case
 * plans a base inventory against a target and checks the plan's decision
 * and every change (type, object, decision), as `firebreak plan` shows them.
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

#include "model/inventory.h"
#include "model/policy.h"
#include "plan/plan.h"
#include "renderers/renderer.h"

struct file {
	const char *path;
	const char *data;
};

#define MAXF 10
#define MAXC 24

static const struct file common[] = {
	{ "roles/web.yaml", "classes: [profile::web]\nservices: [app]\ndns: [www]\n" },
	{ "roles/lb.yaml", "classes: [profile::lb]\nbackends_of: web\n" },
	{ "services/app.yaml", "version: 1.4.2\n" },
	{ "dns/example.com.yaml", "zone_id: Z1\nrecords:\n"
	  "  - {name: a1, type: A, value: 10.9.0.1}\n  - {name: a2, type: A, value: 10.9.0.2}\n"
	  "  - {name: a3, type: A, value: 10.9.0.3}\n  - {name: a4, type: A, value: 10.9.0.4}\n"
	  "  - {name: a5, type: A, value: 10.9.0.5}\n  - {name: a6, type: A, value: 10.9.0.6}\n" },
	{ "hosts/web-01.example.com.yaml", "role: web\nip: 10.0.1.5\n" },
	{ "hosts/web-02.example.com.yaml", "role: web\nip: 10.0.1.6\n" },
	{ "hosts/lb-01.example.com.yaml", "role: lb\nip: 10.0.0.10\n" },
};

static const char trusting[] =
	"auto: [pin.modify, enc.modify]\nobserve: [dns.delete]\nlimits: {dns.delete: 5}\n";

struct plan_case {
	const char *name;
	int empty_base;
	const char *base_policy;          /* NULL: no policy.yaml */
	struct file target[MAXF];         /* replaces or adds to common (and policy) */
	const char *target_policy;        /* NULL: same as base */
	const char *decision;
	const char *changes[MAXC];        /* "type object decision" */
	const char *needs;                /* kinds needing an approver, space separated */
};

static const struct plan_case cases[] = {
	{ "no change is noop", 0, trusting, { { NULL, NULL } }, NULL, "noop", { NULL }, "" },
	{ "version bump under trusting policy is auto", 0, trusting,
	  { { "services/app.yaml", "version: 1.4.3\n" } }, NULL, "auto",
	  { "pin.modify app::version auto" }, "" },
	{ "version bump without policy needs approval", 0, NULL,
	  { { "services/app.yaml", "version: 1.4.3\n" } }, NULL, "approve",
	  { "pin.modify app::version approve" }, "pin" },
	{ "drain changes lb backends and round-robin dns", 0, trusting,
	  { { "hosts/web-02.example.com.yaml", "role: web\nip: 10.0.1.6\nstate: drained\n" } },
	  NULL, "approve",
	  { "enc.modify lb-01.example.com auto", "dns.modify www.example.com/A approve" }, "dns" },
	{ "dns delete is observe", 0, trusting,
	  { { "dns/example.com.yaml", "zone_id: Z1\nrecords:\n"
	      "  - {name: a2, type: A, value: 10.9.0.2}\n  - {name: a3, type: A, value: 10.9.0.3}\n"
	      "  - {name: a4, type: A, value: 10.9.0.4}\n  - {name: a5, type: A, value: 10.9.0.5}\n"
	      "  - {name: a6, type: A, value: 10.9.0.6}\n" } },
	  NULL, "observe", { "dns.delete a1.example.com/A observe" }, "dns" },
	{ "a ttl-only change is a dns.modify", 0, trusting,
	  { { "dns/example.com.yaml", "zone_id: Z1\nrecords:\n"
	      "  - {name: a1, type: A, value: 10.9.0.1, ttl: 60}\n"
	      "  - {name: a2, type: A, value: 10.9.0.2}\n  - {name: a3, type: A, value: 10.9.0.3}\n"
	      "  - {name: a4, type: A, value: 10.9.0.4}\n  - {name: a5, type: A, value: 10.9.0.5}\n"
	      "  - {name: a6, type: A, value: 10.9.0.6}\n" } },
	  NULL, "approve", { "dns.modify a1.example.com/A approve" }, "dns" },
	{ "dns deletes above the limit need approval", 0, trusting,
	  { { "dns/example.com.yaml", "zone_id: Z1\n" } }, NULL, "approve",
	  { "dns.delete a1.example.com/A approve", "dns.delete a2.example.com/A approve",
	    "dns.delete a3.example.com/A approve", "dns.delete a4.example.com/A approve",
	    "dns.delete a5.example.com/A approve", "dns.delete a6.example.com/A approve" }, "dns" },
	{ "a policy change always needs approval", 0, "auto: [pin.modify, enc.modify]\n",
	  { { NULL, NULL } }, "auto: [pin.modify, enc.modify, dns.add]\n", "approve",
	  { "policy.modify auto approve" }, "policy" },
	{ "the base policy governs, not the target's", 0, NULL,
	  { { "services/app.yaml", "version: 1.4.3\n" } }, "auto: [pin.modify]\n", "approve",
	  { "pin.modify app::version approve", "policy.add auto approve" }, "pin policy" },
	{ "empty base needs approval for everything", 1, NULL, { { NULL, NULL } }, NULL,
	  "approve",
	  { "enc.add lb-01.example.com approve", "enc.add web-01.example.com approve",
	    "enc.add web-02.example.com approve", "dns.add a1.example.com/A approve",
	    "dns.add a2.example.com/A approve", "dns.add a3.example.com/A approve",
	    "dns.add a4.example.com/A approve", "dns.add a5.example.com/A approve",
	    "dns.add a6.example.com/A approve", "dns.add lb-01.example.com/A approve",
	    "dns.add web-01.example.com/A approve", "dns.add web-02.example.com/A approve",
	    "dns.add www.example.com/A approve", "pin.add app::version approve" }, "enc dns pin" },
	{ "decommission deletes the node and its record", 0, trusting,
	  { { "hosts/web-01.example.com.yaml", "role: web\nip: 10.0.1.5\nstate: decommissioned\n" } },
	  NULL, "approve",
	  { "enc.modify lb-01.example.com auto", "enc.delete web-01.example.com approve",
	    "dns.delete web-01.example.com/A observe", "dns.modify www.example.com/A approve" },
	  "enc dns" },
};

static struct loader *
loader_with(const struct file *over, const char *policy)
{
	struct loader *l = loader_new();
	size_t i, j;

	for (i = 0; i < sizeof(common) / sizeof(*common); i++) {
		int skip = 0;

		for (j = 0; over && j < MAXF && over[j].path; j++)
			skip |= strcmp(over[j].path, common[i].path) == 0;
		if (!skip)
			loader_add(l, common[i].path, common[i].data, strlen(common[i].data));
	}
	for (j = 0; over && j < MAXF && over[j].path; j++)
		loader_add(l, over[j].path, over[j].data, strlen(over[j].data));
	if (policy)
		loader_add(l, "policy.yaml", policy, strlen(policy));
	return l;
}

/* Render plus the policy artifact, as pipeline.c builds a snapshot. */
static void
snapshot(struct model *m, struct artifacts *art)
{
	assert_int_equal(render_all(art, m, NULL), OK);
	if (m->policy_src) {
		struct artifact *a = artifacts_add(art, strdup("policy.yaml"),
		    strndup(m->policy_src, m->policy_len), m->policy_len, KIND_POLICY);

		policy_objects(m->policy_root, a);
	}
	assert_int_equal(artifacts_sort(art), OK);
}

static void
test_plan_case(void **state)
{
	const struct plan_case *c = *state;
	struct model *bm = NULL, *tm = NULL;
	struct artifacts ba = { NULL, 0, 0 }, ta = { NULL, 0, 0 };
	struct diags d = { NULL, 0, 0 };
	struct policy *empty = policy_empty();
	struct plan *p = NULL;
	char needs[64] = "";
	size_t i, n;
	int k;

	if (!c->empty_base) {
		assert_int_equal(loader_finish(loader_with(NULL, c->base_policy), &bm, &d), OK);
		snapshot(bm, &ba);
	}
	assert_int_equal(loader_finish(loader_with(c->target,
	    c->target_policy ? c->target_policy : c->base_policy), &tm, &d), OK);
	snapshot(tm, &ta);
	assert_int_equal(plan_build(&p, "7", bm ? "1111111111111111111111111111111111111111" : NULL,
	    "2222222222222222222222222222222222222222", &ba, &ta, tm,
	    bm ? bm->policy : empty), OK);
	assert_string_equal(decision_name(p->decision), c->decision);
	for (n = 0; n < MAXC && c->changes[n]; n++)
		;
	for (i = 0; i < p->diff->nchanges && i < n; i++) {
		const struct change *ch = &p->diff->changes[i];
		char got[256];

		snprintf(got, sizeof(got), "%s.%s %s %s", kind_name(ch->kind),
		    action_name(ch->action), ch->object, decision_name(ch->decision));
		assert_string_equal(got, c->changes[i]);
	}
	assert_int_equal(p->diff->nchanges, n);
	for (k = 0; k < KIND__COUNT; k++)
		if (p->needs & (1u << k))
			snprintf(needs + strlen(needs), sizeof(needs) - strlen(needs), "%s%s",
			    needs[0] ? " " : "", kind_name((enum change_kind)k));
	assert_string_equal(needs, c->needs);
	plan_free(p);
	artifacts_dispose(&ba);
	artifacts_dispose(&ta);
	model_free(bm);
	model_free(tm);
	policy_free(empty);
}

/* The same inputs give byte-identical plans; the hash binds the content. */
static void
test_plan_deterministic(void **state)
{
	static const struct file bump[] = { { "services/app.yaml", "version: 1.4.3\n" }, { NULL, NULL } };
	static const struct file bump2[] = { { "services/app.yaml", "version: 1.4.4\n" }, { NULL, NULL } };
	struct model *bm = NULL, *t1 = NULL, *t2 = NULL;
	struct artifacts ba = { NULL, 0, 0 }, a1 = { NULL, 0, 0 }, a2 = { NULL, 0, 0 };
	struct diags d = { NULL, 0, 0 };
	struct plan *p1, *p2, *p3;
	char *j1, *j2;

	(void)state;
	loader_finish(loader_with(NULL, trusting), &bm, &d);
	loader_finish(loader_with(bump, trusting), &t1, &d);
	loader_finish(loader_with(bump2, trusting), &t2, &d);
	snapshot(bm, &ba);
	snapshot(t1, &a1);
	snapshot(t2, &a2);
	plan_build(&p1, "3", "1111111111111111111111111111111111111111",
	    "2222222222222222222222222222222222222222", &ba, &a1, t1, bm->policy);
	plan_build(&p2, "3", "1111111111111111111111111111111111111111",
	    "2222222222222222222222222222222222222222", &ba, &a1, t1, bm->policy);
	plan_build(&p3, "3", "1111111111111111111111111111111111111111",
	    "2222222222222222222222222222222222222222", &ba, &a2, t2, bm->policy);
	j1 = plan_to_json(p1, NULL);
	j2 = plan_to_json(p2, NULL);
	assert_string_equal(j1, j2);
	assert_string_equal(p1->hash, p2->hash);
	assert_string_not_equal(p1->hash, p3->hash);
	assert_non_null(strstr(j1, "\"before\": \"1.4.2\""));
	assert_non_null(strstr(j1, "\"after\": \"1.4.3\""));
	free(j1);
	free(j2);
	plan_free(p1);
	plan_free(p2);
	plan_free(p3);
	artifacts_dispose(&ba);
	artifacts_dispose(&a1);
	artifacts_dispose(&a2);
	model_free(bm);
	model_free(t1);
	model_free(t2);
}

/* What apply providers prepared joins the hash, is posted with the plan,
 * and comes back from the stored record: a re-planned plan with it has
 * the same hash, one with another saved plan does not. */
static void
test_plan_prepared(void **state)
{
	static const struct file bump[] = { { "services/app.yaml", "version: 1.4.3\n" }, { NULL, NULL } };
	struct model *bm = NULL, *t1 = NULL;
	struct artifacts ba = { NULL, 0, 0 }, a1 = { NULL, 0, 0 };
	struct diags d = { NULL, 0, 0 };
	struct plan *p1, *p2, *p3;
	struct buf text = BUF_INIT;
	char *j1, bare[PLAN_HASH_LEN + 1];
	json_t *stored;

	(void)state;
	loader_finish(loader_with(NULL, trusting), &bm, &d);
	loader_finish(loader_with(bump, trusting), &t1, &d);
	snapshot(bm, &ba);
	snapshot(t1, &a1);
	plan_build(&p1, "3", "1111111111111111111111111111111111111111",
	    "2222222222222222222222222222222222222222", &ba, &a1, t1, bm->policy);
	plan_build(&p2, "3", "1111111111111111111111111111111111111111",
	    "2222222222222222222222222222222222222222", &ba, &a1, t1, bm->policy);
	plan_build(&p3, "3", "1111111111111111111111111111111111111111",
	    "2222222222222222222222222222222222222222", &ba, &a1, t1, bm->policy);
	memcpy(bare, p1->hash, sizeof(bare));
	plan_add_prep(p1, 1, "terraform", "Plan: 1 to add, 0 to change, 0 to destroy.\n", "aa11");
	assert_string_not_equal(p1->hash, bare);
	plan_format_text(&text, p1, 0);
	assert_non_null(strstr(text.data, "\nterraform (apply[1]):\nPlan: 1 to add, 0 to change, "
	    "0 to destroy.\n"));
	j1 = plan_to_json(p1, "{\"outcome\": \"open\"}");
	stored = json_loads(j1, 0, NULL);
	assert_non_null(stored);
	assert_int_equal(plan_restore(p2, stored), OK);
	assert_string_equal(p2->hash, p1->hash);
	/* Another saved plan: another hash, so a stored approval does not bind it. */
	plan_add_prep(p3, 1, "terraform", "Plan: 1 to add, 0 to change, 0 to destroy.\n", "bb22");
	assert_string_not_equal(p3->hash, p1->hash);
	json_decref(stored);
	free(j1);
	buf_dispose(&text);
	plan_free(p1);
	plan_free(p2);
	plan_free(p3);
	artifacts_dispose(&ba);
	artifacts_dispose(&a1);
	model_free(bm);
	model_free(t1);
}

/* A re-run plan: no changes, its reason in the summary, and its record
 * restores decision, needs and what it runs (the same hash). */
static void
test_plan_rerun(void **state)
{
	struct plan_rerun r, none;
	struct plan *p, *q;
	struct buf sum = BUF_INIT;
	json_t *stored;
	char *j;

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(&none, 0, sizeof(none));
	r.why = xstrdup("retry of plan 17: apply[1] terraform");
	snprintf(r.of, sizeof(r.of), "17");
	snprintf(r.of_base, sizeof(r.of_base), "1111111111111111111111111111111111111111");
	r.entries = 1u << 1;
	r.kinds = 1u << KIND_DNS;
	r.by = xstrdup("bob");
	p = plan_rerun_new("18", "2222222222222222222222222222222222222222", DECISION_APPROVE,
	    1u << KIND_DNS, &r);
	assert_null(r.why);
	plan_add_prep(p, 1, "terraform", "No changes.\n", "cc33");
	p->unfinished = 1u << 1;
	plan_summary(&sum, p);
	assert_string_equal(sum.data, "plan 18 for 2222222: retry of plan 17: apply[1] terraform "
	    "-> approve");
	j = plan_to_json(p, NULL);
	stored = json_loads(j, 0, NULL);
	q = plan_rerun_new("18", "2222222222222222222222222222222222222222", DECISION_NOOP, 0, &none);
	assert_int_equal(plan_restore(q, stored), OK);
	assert_string_equal(q->hash, p->hash);
	assert_int_equal(q->decision, DECISION_APPROVE);
	assert_int_equal(q->needs, 1u << KIND_DNS);
	assert_int_equal(q->rerun->entries, 1u << 1);
	assert_int_equal(q->unfinished, 1u << 1);
	assert_string_equal(q->rerun->by, "bob");
	assert_string_equal(q->rerun->of_base, "1111111111111111111111111111111111111111");
	json_decref(stored);
	/* A malformed record is refused, not half restored. */
	stored = json_loads("{\"rerun\": {\"why\": \"x\", \"entries\": [99]}}", 0, NULL);
	assert_int_equal(plan_restore(q, stored), ERR_INVALID);
	json_decref(stored);
	free(j);
	buf_dispose(&sum);
	plan_free(p);
	plan_free(q);
}

static void
test_policy_acl(void **state)
{
	static const struct file none[] = { { NULL, NULL } };
	struct model *m = NULL;
	struct diags d = { NULL, 0, 0 };
	const struct policy *p;

	(void)state;
	assert_int_equal(loader_finish(loader_with(none,
	    "approvers: {dns: [alice, ops], \"*\": [root]}\n"
	    "commands: {deploy: [\"*\"], drain: [ops]}\n"
	    "groups: {ops: [carol]}\n"
	    "identities: {\"slack:U1\": alice, \"irc:carol\": carol}\n"), &m, &d), OK);
	p = m->policy;
	assert_true(policy_may_approve(p, "alice", KIND_DNS));
	assert_true(policy_may_approve(p, "carol", KIND_DNS));     /* via group */
	assert_false(policy_may_approve(p, "alice", KIND_PIN));
	assert_true(policy_may_approve(p, "root", KIND_POLICY));   /* "*" kind */
	assert_true(policy_may_run(p, "bob", "deploy"));           /* "*" user */
	assert_true(policy_may_run(p, "carol", "drain"));
	assert_false(policy_may_run(p, "alice", "drain"));
	assert_false(policy_may_run(p, "alice", "dns"));           /* not listed: refused */
	assert_string_equal(policy_identity(p, "slack:U1"), "alice");
	assert_null(policy_identity(p, "slack:U2"));
	assert_false(p->self_approve);
	{
		/* Who may approve a kind: the kind's names (groups expanded), then
		 * "*"'s, each once. */
		struct strlist who = { NULL, NULL, 0 };

		policy_approvers(&who, p, KIND_DNS);
		assert_int_equal(who.n, 3);
		assert_string_equal(who.v[0], "alice");
		assert_string_equal(who.v[1], "carol");
		assert_string_equal(who.v[2], "root");
		strlist_dispose(&who);
		policy_approvers(&who, p, KIND_PIN);
		assert_int_equal(who.n, 1);
		assert_string_equal(who.v[0], "root");
		strlist_dispose(&who);
	}
	model_free(m);
}

int
main(void)
{
	struct CMUnitTest tests[32];
	size_t i, n = 0;

	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct CMUnitTest t = { cases[i].name, test_plan_case, NULL, NULL,
		    (void *)(uintptr_t)&cases[i] };

		tests[n++] = t;
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_plan_deterministic);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_plan_prepared);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_plan_rerun);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_policy_acl);
	return _cmocka_run_group_tests("plan", tests, n, NULL, NULL);
}
