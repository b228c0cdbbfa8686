/*
 * fuzz_pipeline.c - what the pipeline does with a tree of files: the
 * inventory loader (as fuzz_inventory.c drives it), then render every
 * artifact and plan it against a fixed base inventory, both ways.  The
 * same input format as fuzz_inventory; heavier per input, so it runs
 * fewer executions (bench/RESULTS.md).
 *
 * Input: files separated by a line "--"; each starts with its path on
 * its first line ("hosts/web-01.example.com.yaml"), the rest is its
 * content.  A path starting with '!' is offered as a non-file entry (a
 * directory or submodule where a file belongs); "?path" as a file too
 * big to read.
 *
 * Invariants, beyond "no crash, no leak, no undefined behaviour":
 *   - ERR_INVALID comes with problems, each naming a file and saying
 *     something, and OK with none; nothing else is returned;
 *   - a valid inventory renders (the renderers' only failures are limits);
 *   - every plan against the base, valid or not, becomes JSON that the
 *     state directory's readers can load (JSON_REJECT_DUPLICATES), with
 *     the fields DESIGN.md "Plans" names, and its text forms are built
 *     without fault; the plan back is built and summed up.
 */
#include "fuzz.h"

#include <jansson.h>

#include "model/inventory.h"
#include "model/policy.h"
#include "plan/plan.h"
#include "renderers/renderer.h"

static const char *const base_files[][2] = {
	{ "policy.yaml", "auto: [pin.modify, enc.modify]\nobserve: [dns.delete]\n"
	  "limits: {dns.delete: 5, enc.modify: 50}\n"
	  "approvers: {dns: [alice, bob], \"*\": [alice]}\n"
	  "commands: {deploy: [\"*\"], drain: [ops]}\ngroups: {ops: [alice, bob, carol]}\n" },
	{ "roles/web.yaml", "classes: [profile::base, profile::web]\nparams: {nginx_workers: 4}\n"
	  "services: [app]\ndns: [www]\n" },
	{ "roles/lb.yaml", "classes: [profile::lb]\nbackends_of: web\ndns: [lb]\n" },
	{ "services/app.yaml", "version: 1.4.2\nenvironments: {staging: 1.5.0-rc1}\n" },
	{ "dns/example.com.yaml", "zone_id: Z0123456789ABC\nttl: 300\nrecords:\n"
	  "  - {name: mail, type: A, value: 10.0.3.25}\n" },
	{ "hosts/web-01.example.com.yaml", "role: web\nip: 10.0.1.5\n" },
	{ "hosts/web-02.example.com.yaml", "role: web\nip: 10.0.1.6\nstate: drained\n" },
	{ "hosts/lb-01.example.com.yaml", "role: lb\nip: 10.0.0.10\n" },
};

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

struct snap {
	struct model *m;
	struct artifacts art;
};

/* What snapshot_load does after reading the tree: policy.yaml as an
 * artifact, then every renderer. */
static int
finish(struct snap *s, struct loader *l, struct diags *d)
{
	int rc;

	memset(s, 0, sizeof(*s));
	rc = loader_finish(l, &s->m, d);
	if (rc != OK)
		return rc;
	if (s->m->policy_src) {
		struct artifact *a = artifacts_add(&s->art, xstrdup("policy.yaml"),
		    xstrndup(s->m->policy_src, s->m->policy_len), s->m->policy_len, KIND_POLICY);

		policy_objects(s->m->policy_root, a);
	}
	return render_all(&s->art, s->m, NULL);
}

static void
snap_dispose(struct snap *s)
{
	model_free(s->m);
	artifacts_dispose(&s->art);
}

static struct snap base;

static void
load_base(void)
{
	struct loader *l = loader_new();
	struct diags d = { NULL, 0, 0 };
	size_t i;

	for (i = 0; i < sizeof(base_files) / sizeof(*base_files); i++)
		loader_add(l, base_files[i][0], base_files[i][1], strlen(base_files[i][1]));
	FUZZ_CHECK(finish(&base, l, &d) == OK, "the base inventory does not load: %s",
	    d.n ? d.v[0].message : err_last());
}

/* A plan's JSON, as the state directory stores it, read back. */
static void
check_plan(struct plan *p)
{
	static const char *const fields[] = { "id", "base", "target", "decision", "changes",
	    "artifacts", "errors", "outcome" };
	struct buf t = BUF_INIT;
	json_error_t jerr;
	char *s = plan_to_json(p, "{\"outcome\": \"open\"}");
	json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, &jerr);
	size_t i;

	FUZZ_CHECK(j != NULL, "plan JSON does not read back: %s", jerr.text);
	for (i = 0; i < sizeof(fields) / sizeof(*fields); i++)
		FUZZ_CHECK(json_object_get(j, fields[i]) != NULL, "plan JSON has no %s", fields[i]);
	json_decref(j);
	free(s);
	plan_summary(&t, p);
	plan_format_text(&t, p, 4096);
	buf_dispose(&t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct loader *l;
	struct diags d = { NULL, 0, 0 };
	struct snap s;
	struct plan *p = NULL;
	size_t i;
	int rc;

	if (!base.m)
		load_base();
	l = loader_new();
	while (fuzz_more(&in)) {
		size_t len, pl;
		char *part = fuzz_take_part(&in, &len), *nl = memchr(part, '\n', len);

		pl = nl ? (size_t)(nl - part) : len;
		part[pl] = '\0';   /* a path from a git tree holds no NUL: cut at one */
		if (part[0] == '!')
			loader_add_other(l, part + 1);
		else if (part[0] == '?')
			loader_add(l, part + 1, NULL, 2u * INVENTORY_MAX_FILE);
		else
			loader_add(l, part, nl ? nl + 1 : "", nl ? len - pl - 1 : 0);
		free(part);
	}
	rc = finish(&s, l, &d);
	if (rc == ERR_INVALID) {
		FUZZ_CHECK(s.m == NULL, "an invalid inventory gave a model");
		FUZZ_CHECK(d.n > 0, "invalid without a problem");
		for (i = 0; i < d.n; i++)
			FUZZ_CHECK(d.v[i].file && d.v[i].file[0] && d.v[i].message &&
			    d.v[i].message[0] && d.v[i].line >= 0 && d.v[i].col >= 0,
			    "a problem without a file or message");
		p = plan_invalid("7", SHA_A, SHA_B, &d);
		check_plan(p);
		plan_free(p);
		diags_dispose(&d);
		snap_dispose(&s);
		return 0;
	}
	FUZZ_CHECK(rc == OK, "rc %d: %s", rc, err_last());
	FUZZ_CHECK(d.n == 0, "a valid inventory with problems");

	/* Forward, decided by the base's policy; and back, by the input's. */
	FUZZ_CHECK(plan_build(&p, "7", SHA_A, SHA_B, &base.art, &s.art, s.m, base.m->policy) == OK,
	    "plan_build: %s", err_last());
	check_plan(p);
	plan_free(p);
	/* Back: the input's policy deciding (its JSON is built the same way
	 * as forward's, so only the decision and the summary are new). */
	FUZZ_CHECK(plan_build(&p, "8", SHA_B, SHA_A, &s.art, &base.art, base.m, s.m->policy) == OK,
	    "plan_build back: %s", err_last());
	{
		struct buf t = BUF_INIT;

		plan_summary(&t, p);
		buf_dispose(&t);
	}
	plan_free(p);
	snap_dispose(&s);
	return 0;
}
