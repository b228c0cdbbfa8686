/*
 * test_terraform.c - the terraform apply provider without Terraform:
 * its configuration (each bad entry names its key and line), what it
 * makes of Terraform's output for chat (tfreport.c: the plan's summary,
 * error blocks, ANSI codes and control bytes), and whole runs against a
 * fake `terraform` (a script written into a temporary directory) that
 * writes a saved plan, shows it, applies it or calls it stale: exactly
 * the reviewed file is applied, once; a changed or missing file, or none
 * prepared, is APPLY_STALE; the child's environment holds only PATH,
 * HOME, LANG, AWS_* and TF_*.  tests/e2e/tf_apply.bats runs the real one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "cases.h"
#include "providers/apply/apply.h"
#include "providers/apply/tfreport.h"

static char tmp[256];

static struct ynode *
yaml(const char *text)
{
	struct ynode *n = NULL;
	int line, col;

	assert_int_equal(ydoc_parse(&n, text, strlen(text), &YDOC_DEFAULT_LIMITS, &line, &col), OK);
	return n;
}

static char *
path_in(const char *name)
{
	return xasprintf("%s/%s", tmp, name);
}

static void
write_text(const char *name, const char *text, unsigned mode)
{
	char *p = path_in(name);

	unlink(p);
	assert_int_equal(fs_write_new(p, text, strlen(text), mode), OK);
	free(p);
}

static char *
read_text(const char *path)
{
	struct buf b = BUF_INIT;

	if (fs_read(&b, path, 1u << 20) != OK) {
		buf_dispose(&b);
		return NULL;
	}
	if (!b.data)
		return xstrdup("");
	return buf_steal(&b);
}

/* The content of a file in the temporary directory, or NULL. */
static char *
read_in(const char *name)
{
	char *p = path_in(name), *t = read_text(p);

	free(p);
	return t;
}

/*
 * A fake terraform: `init` says so; `plan -out=F` writes F (its content
 * from $tmp/plan.content) and exits with $tmp/plan.exit; `show -json F`
 * prints $tmp/show.json; `apply F` records F's content in $tmp/applied and
 * prints $tmp/apply.out, exiting with $tmp/apply.exit.  Every call appends
 * its arguments and environment to $tmp/calls.
 */
static const char fake_terraform[] =
	"#!/bin/sh\n"
	"d=$(dirname \"$0\")\n"
	"{ echo \"== $*\"; env | sort; } >>\"$d/calls\"\n"
	"case $1 in\n"
	"init) echo 'Terraform has been successfully initialized!'; exit 0 ;;\n"
	"plan) for a; do case $a in -out=*) cp \"$d/plan.content\" \"${a#-out=}\" ;; esac; done\n"
	"      cat \"$d/plan.out\" 2>/dev/null; exit $(cat \"$d/plan.exit\") ;;\n"
	"show) cat \"$d/show.json\"; exit 0 ;;\n"
	"apply) for a; do f=$a; done; cat \"$f\" >>\"$d/applied\"\n"
	"      cat \"$d/apply.out\"; exit $(cat \"$d/apply.exit\") ;;\n"
	"esac\n"
	"exit 9\n";

static const char show_json[] =
	"{\"format_version\":\"1.2\",\"resource_changes\":["
	"{\"address\":\"aws_route53_record.api_example_com_A\",\"change\":{\"actions\":[\"create\"],"
	"\"before\":null,\"after\":{\"name\":\"api.example.com\",\"records\":[\"10.0.5.5\"]}}},"
	"{\"address\":\"aws_route53_record.www_example_com_A\",\"change\":{\"actions\":[\"update\"],"
	"\"before\":{\"name\":\"www.example.com\",\"records\":[\"10.9.9.9\"],\"ttl\":300,\"id\":\"x\"},"
	"\"after\":{\"name\":\"www.example.com\",\"records\":[\"10.0.1.5\",\"10.0.1.6\"],\"ttl\":300},"
	"\"after_unknown\":{\"id\":true}}},"
	"{\"address\":\"aws_route53_record.old_example_com_A\",\"change\":{\"actions\":[\"delete\"]}},"
	"{\"address\":\"aws_route53_record.mx\",\"change\":{\"actions\":[\"delete\",\"create\"]}},"
	"{\"address\":\"aws_route53_record.same\",\"change\":{\"actions\":[\"no-op\"]}},"
	"{\"address\":\"data.aws_route53_zone.z\",\"change\":{\"actions\":[\"read\"]}}]}";

static int
setup_tmp(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/fb-tf-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	write_text("terraform", fake_terraform, 0755);
	write_text("plan.content", "the saved plan, version 1\n", 0644);
	write_text("plan.exit", "2\n", 0644);
	write_text("show.json", show_json, 0644);
	write_text("apply.out", "\x1b[32mApply complete! Resources: 1 added, 1 changed, 2 destroyed.\x1b[0m\n",
	    0644);
	write_text("apply.exit", "0\n", 0644);
	write_text("provider.tf.json", "{\"provider\": {\"aws\": {\"region\": \"us-east-1\"}}}\n", 0644);
	return 0;
}

static int
teardown_tmp(void **state)
{
	(void)state;
	return fs_rm_rf(tmp) == OK ? 0 : -1;
}

/* ---- configuration ----------------------------------------------------------- */

struct open_case {
	const char *name;
	const char *cfg;              /* "%s" is the temporary directory */
	int rc;
	const char *msg;
};

static const struct open_case open_cases[] = {
	{ "the documented entry", "type: terraform\nkinds: [dns]\ndir: terraform/route53\n"
	  "binary: %s/terraform\nprovider_file: %s/provider.tf.json\ntimeout: 900\n", OK, NULL },
	{ "everything has a default but the binary", "binary: %s/terraform\n", OK, NULL },
	{ "a binary not in PATH", "binary: no-such-terraform-here\n", ERR_NOTFOUND,
	  "binary (line 1): \"no-such-terraform-here\" is not in PATH" },
	{ "a relative binary path", "binary: bin/terraform\n", ERR_INVALID,
	  "binary (line 1): a path must be absolute" },
	{ "a binary that is not there", "binary: %s/nope\n", ERR_NOTFOUND, "binary (line 1): " },
	{ "dir outside the release", "binary: %s/terraform\ndir: ../etc\n", ERR_INVALID,
	  "dir (line 2): expected a relative path inside the release" },
	{ "dir absolute", "binary: %s/terraform\ndir: /etc\n", ERR_INVALID, "dir (line 2)" },
	{ "cli_config relative", "binary: %s/terraform\ncli_config: terraformrc\n", ERR_INVALID,
	  "cli_config (line 2): expected an absolute path" },
	{ "cli_config missing", "binary: %s/terraform\ncli_config: %s/nope.rc\n", ERR_INVALID,
	  "cli_config (line 2): cannot read " },
	{ "provider_file not .tf.json", "binary: %s/terraform\nprovider_file: %s/plan.content\n",
	  ERR_INVALID, "provider_file (line 2): expected a file named *.tf.json" },
	{ "provider_file not JSON", "binary: %s/terraform\nprovider_file: %s/bad.tf.json\n",
	  ERR_INVALID, "provider_file (line 2): " },
	{ "state_dir relative", "binary: %s/terraform\nstate_dir: tfstate\n", ERR_INVALID,
	  "state_dir (line 2): expected an absolute path" },
	{ "state_dir with a backend of the user's", "binary: %s/terraform\n"
	  "provider_file: %s/backend.tf.json\nstate_dir: /var/lib/x\n", ERR_INVALID,
	  "configures a backend of its own" },
	{ "timeout zero", "binary: %s/terraform\ntimeout: 0\n", ERR_INVALID,
	  "timeout (line 2): expected a whole number of seconds from 1 to 86400" },
	{ "timeout quoted", "binary: %s/terraform\ntimeout: \"60\"\n", ERR_INVALID, "timeout (line 2)" },
	{ "an unknown key", "binary: %s/terraform\nworkspace: prod\n", ERR_INVALID,
	  "unknown key \"workspace\" (line 2)" },
	{ "kinds not kinds", "binary: %s/terraform\nkinds: [zones]\n", ERR_INVALID,
	  "kinds[0] (line 2)" },
};

/* The case's YAML with every "%s" the temporary directory. */
static char *
fill(const char *fmt)
{
	struct buf b = BUF_INIT;
	const char *p;

	for (p = fmt; *p; p++) {
		if (p[0] == '%' && p[1] == 's') {
			buf_puts(&b, tmp);
			p++;
		} else {
			buf_putc(&b, *p);
		}
	}
	return buf_steal(&b);
}

static void
test_open(void **state)
{
	const struct open_case *c = *state;
	const struct apply_provider *ap = apply_find("terraform");
	char *text;
	struct ynode *cfg;
	void *st = (void *)1;
	int rc;

	assert_int_equal(setup_tmp(NULL), 0);
	write_text("bad.tf.json", "{\"provider\": ", 0644);
	write_text("backend.tf.json", "{\"terraform\": {\"backend\": {\"s3\": {}}}}", 0644);
	text = fill(c->cfg);
	cfg = yaml(text);
	rc = ap->ops->open(&st, cfg);
	if (rc != c->rc)
		fail_msg("open: %d (%s), want %d", rc, err_last(), c->rc);
	if (rc == OK) {
		struct plan p;

		assert_non_null(st);
		/* The default kinds are [dns]. */
		memset(&p, 0, sizeof(p));
		p.decision = DECISION_AUTO;
		p.counts[KIND_PIN][ACTION_MODIFY] = 1;
		assert_int_equal(ap->ops->wants(st, &p), 0);
		p.counts[KIND_DNS][ACTION_ADD] = 1;
		assert_int_equal(ap->ops->wants(st, &p), 1);
		ap->ops->close(st);
	} else {
		assert_null(st);
		if (!strstr(err_last(), c->msg) || !strstr(err_last(), "apply terraform"))
			fail_msg("err_last() = \"%s\", want \"%s\" in it", err_last(), c->msg);
	}
	ynode_free(cfg);
	free(text);
	teardown_tmp(NULL);
}

/* ---- what Terraform says, for chat ---------------------------------------------- */

struct clean_case {
	const char *name;
	const char *in;
	const char *want;
};

static const struct clean_case clean_cases[] = {
	{ "colours go", "\x1b[1m\x1b[31mError:\x1b[0m x", "Error: x" },
	{ "a title sequence goes", "a\x1b]0;owned\x07" "b", "ab" },
	{ "an OSC ended by ST goes", "a\x1b]8;;http://x\x1b\\b", "ab" },
	{ "control bytes become ?", "a\bb\x01" "c\x7f", "a?b?c?" },
	{ "CR goes, newline and tab stay", "a\r\nb\tc", "a\nb\tc" },
	{ "bad UTF-8 becomes ?", "a\xff\xfe" "b", "a??b" },
	{ "a C1 control becomes ?", "a\xc2\x9b" "31mb", "a?31mb" },
	{ "UTF-8 stays", "caf\xc3\xa9 \xe2\x94\x82", "caf\xc3\xa9 \xe2\x94\x82" },
	{ "an escape cut at the end goes", "ab\x1b[3", "ab" },
};

static void
test_clean(void **state)
{
	const struct clean_case *c = *state;
	struct buf b = BUF_INIT;

	tf_clean(&b, c->in, strlen(c->in));
	assert_string_equal(b.data ? b.data : "", c->want);
	buf_dispose(&b);
}

struct errors_case {
	const char *name;
	const char *out;
	const char *want;
};

static const struct errors_case errors_cases[] = {
	{ "an API error names its resource",
	  "aws_route53_record.api: Creating...\n\n"
	  "Error: creating Route53 Record: InvalidChangeBatch: [Tried to create resource record set]\n\n"
	  "  with aws_route53_record.api_example_com_A,\n"
	  "  on example.com.tf.json line 67, in resource.aws_route53_record.api_example_com_A:\n"
	  "  67:       },\n\n",
	  "Error: creating Route53 Record: InvalidChangeBatch: [Tried to create resource record set] "
	  "(with aws_route53_record.api_example_com_A)\n" },
	{ "an explanation is kept",
	  "\nError: Saved plan is stale\n\nThe given plan file can no longer be applied because the "
	  "state was changed by\nanother operation after the plan was created.\n",
	  "Error: Saved plan is stale\n  The given plan file can no longer be applied because the "
	  "state was changed by\n  another operation after the plan was created.\n" },
	{ "boxes and colours (no -no-color) are read too",
	  "\x1b[31m\xe2\x95\xb7\x1b[0m\n\x1b[31m\xe2\x94\x82\x1b[0m \x1b[1m\x1b[31mError: \x1b[0m\x1b[0m"
	  "\x1b[1mInvalid provider configuration\x1b[0m\n\x1b[31m\xe2\x94\x82\x1b[0m \n"
	  "\x1b[31m\xe2\x95\xb5\x1b[0m\n",
	  "Error: Invalid provider configuration\n" },
	{ "warnings are not errors",
	  "Warning: Deprecated attribute\n\nsomething\n\nError: boom\n",
	  "Error: boom\n" },
	{ "no error block: the tail",
	  "line one\nline two\n\n", "line one\nline two\n" },
	{ "no output", "", "(no output)\n" },
};

static void
test_errors(void **state)
{
	const struct errors_case *c = *state;
	struct buf b = BUF_INIT;

	tf_errors(&b, c->out, strlen(c->out));
	assert_string_equal(b.data ? b.data : "", c->want);
	buf_dispose(&b);
}

static void
test_errors_capped(void **state)
{
	struct buf in = BUF_INIT, out = BUF_INIT;
	int i;

	(void)state;
	for (i = 0; i < 25; i++)
		buf_printf(&in, "Error: number %d %0900d\n\n", i, 0);
	tf_errors(&out, in.data, in.len);
	assert_non_null(strstr(out.data, "Error: number 9 "));
	assert_null(strstr(out.data, "Error: number 10 "));
	assert_non_null(strstr(out.data, "... and 15 more errors\n"));
	assert_true(out.len < TF_ERRORS_MAX * (TF_ERROR_BYTES + 100));
	buf_dispose(&in);
	buf_dispose(&out);
}

static void
test_stale_and_line(void **state)
{
	static const char out[] = "x\n\x1b[1mApply complete! Resources: 1 added.\x1b[0m\n";
	struct buf b = BUF_INIT;

	(void)state;
	assert_true(tf_says_stale("Error: Saved plan is stale\n", 26));
	assert_false(tf_says_stale("Error: Saved plan is fresh\n", 26));
	assert_false(tf_line(&b, out, 2, "Apply complete!"));
	assert_true(tf_line(&b, out, sizeof(out) - 1, "Apply complete!"));
	assert_string_equal(b.data, "Apply complete! Resources: 1 added.");
	buf_dispose(&b);
}

static void
test_summary(void **state)
{
	struct buf b = BUF_INIT;
	struct tf_counts n;

	(void)state;
	assert_int_equal(tf_summary(&b, &n, show_json, strlen(show_json)), OK);
	assert_string_equal(b.data,
	    "Plan: 2 to add, 1 to change, 2 to destroy.\n"
	    "  + aws_route53_record.api_example_com_A: create\n"
	    "  ~ aws_route53_record.www_example_com_A: update (records [\"10.9.9.9\"] -> "
	    "[\"10.0.1.5\",\"10.0.1.6\"])\n"
	    "  - aws_route53_record.old_example_com_A: delete\n"
	    "  -/+ aws_route53_record.mx: replace\n");
	assert_int_equal(n.resources, 4);
	buf_reset(&b);
	assert_int_equal(tf_summary(&b, &n, "{\"format_version\":\"1.2\"}", 24), OK);
	assert_string_equal(b.data, "No changes.\n");
	assert_int_equal(n.resources, 0);
	buf_reset(&b);
	assert_int_equal(tf_summary(&b, NULL, "{\"a\":1}", 7), ERR_INVALID);
	assert_int_equal(tf_summary(&b, NULL, "not json", 8), ERR_INVALID);
	assert_int_equal(tf_summary(&b, NULL, "{\"format_version\":\"1\",\"resource_changes\":5}",
	    43), ERR_INVALID);
	assert_int_equal(b.len, 0);
	buf_dispose(&b);
}

static void
test_summary_capped(void **state)
{
	struct buf in = BUF_INIT, b = BUF_INIT;
	struct tf_counts n;
	int i;

	(void)state;
	buf_puts(&in, "{\"format_version\":\"1.2\",\"resource_changes\":[");
	for (i = 0; i < 100; i++)
		buf_printf(&in, "%s{\"address\":\"r.\\u001b[2Jx%d\",\"change\":{\"actions\":[\"create\"]}}",
		    i ? "," : "", i);
	buf_puts(&in, "]}");
	assert_int_equal(tf_summary(&b, &n, in.data, in.len), OK);
	assert_int_equal(n.add, 100);
	assert_non_null(strstr(b.data, "  + r.x39: create\n  ... and 60 more\n"));
	assert_null(strchr(b.data, '\x1b'));
	buf_dispose(&in);
	buf_dispose(&b);
}

/* ---- whole runs against the fake ------------------------------------------------ */

static struct artifacts release;

static void
make_release(void)
{
	struct artifacts *a = &release;

	memset(a, 0, sizeof(*a));
	artifacts_add(a, xstrdup("enc/web-01.example.com.yaml"), xstrdup("classes: []\n"), 12,
	    KIND_ENC);
	artifacts_add(a, xstrdup("terraform/route53/example.com.tf.json"), xstrdup("{}\n"), 3,
	    KIND_DNS);
	assert_int_equal(artifacts_sort(a), OK);
}

static void *
open_fake(void)
{
	const struct apply_provider *ap = apply_find("terraform");
	char *text = xasprintf("binary: %s/terraform\nprovider_file: %s/provider.tf.json\n"
	    "cli_config: %s/plan.content\ntimeout: 60\n", tmp, tmp, tmp);
	struct ynode *cfg = yaml(text);
	void *st = NULL;

	assert_int_equal(ap->ops->open(&st, cfg), OK);
	ynode_free(cfg);
	free(text);
	return st;
}

static int
drive(char **reason, struct apply_found *found, void *st, const struct apply_info *in,
    int (*begin)(void **, void *, const struct apply_info *))
{
	const struct apply_provider *ap = apply_find("terraform");
	void *run;
	int rc = begin(&run, st, in);

	if (rc != OK) {
		*reason = xstrdup(err_last());
		return rc;
	}
	while (!ap->ops->step(run))
		usleep(5000);
	if (found)
		return ap->ops->finish_found(reason, found, run);
	return ap->ops->finish(reason, run);
}

static void
test_prepare_then_apply(void **state)
{
	const struct apply_provider *ap = apply_find("terraform");
	struct apply_info in = { .plan_id = "7", .commit = "0123456789abcdef0123456789abcdef01234567",
		.target_art = &release, .state_dir = tmp };
	struct apply_found found;
	char *reason = NULL, *planfile, *calls, *applied;
	void *st;

	(void)state;
	assert_int_equal(setup_tmp(NULL), 0);
	planfile = path_in("tfplans/7.tfplan");
	in.state_dir = tmp;
	make_release();
	st = open_fake();
	assert_int_equal(drive(&reason, &found, st, &in, ap->ops->prepare), OK);
	assert_non_null(strstr(reason, "Plan: 2 to add, 1 to change, 2 to destroy.\n"));
	assert_non_null(strstr(reason, "saved plan tfplans/7.tfplan, sha256 "));
	assert_int_equal(found.changes, 1);
	/* The digest is the saved file's SHA-256 (`sha256sum` of its content). */
	assert_string_equal(found.digest,
	    "e3203781f9b4b38615a1daa4f73070d2bd73873607bfe933ad385742d81d93e9");
	assert_true(access(planfile, F_OK) == 0);
	free(reason);
	/* The copy held the rendered dir, the provider file and a backend in
	 * <state>/terraform; the environment only what it may. */
	calls = read_in("calls");
	assert_non_null(strstr(calls, "== plan -input=false -no-color -detailed-exitcode"));
	assert_non_null(strstr(calls, "TF_IN_AUTOMATION=1\n"));
	assert_non_null(strstr(calls, "TF_CLI_CONFIG_FILE="));
	assert_non_null(strstr(calls, "\nPATH=/usr/local/bin:/usr/bin:/bin\n"));
	assert_non_null(strstr(calls, "\nAWS_FB_TEST=yes\n"));
	assert_null(strstr(calls, "FB_SECRET_TEST"));
	free(calls);
	/* Applying: exactly the reviewed file, and it is gone afterwards. */
	in.release = tmp;
	in.prepared = found.digest;
	assert_int_equal(drive(&reason, NULL, st, &in, ap->ops->start), OK);
	assert_non_null(strstr(reason, "terraform apply: Apply complete! Resources: 1 added, 1 changed, "
	    "2 destroyed. ("));
	applied = read_in("applied");
	assert_string_equal(applied, "the saved plan, version 1\n");
	assert_true(access(planfile, F_OK) != 0);
	free(reason);
	free(applied);
	/* Once: the same approval again finds no file, and applies nothing. */
	assert_int_equal(drive(&reason, NULL, st, &in, ap->ops->start), APPLY_STALE);
	assert_non_null(strstr(reason, "the saved plan tfplans/7.tfplan is gone"));
	applied = read_in("applied");
	assert_string_equal(applied, "the saved plan, version 1\n");
	free(reason);
	free(applied);
	free(found.digest);
	free(planfile);
	ap->ops->close(st);
	artifacts_dispose(&release);
	teardown_tmp(NULL);
}

static void
test_stale_cases(void **state)
{
	const struct apply_provider *ap = apply_find("terraform");
	struct apply_info in = { .plan_id = "8", .commit = "0123456789abcdef0123456789abcdef01234567",
		.target_art = &release, .state_dir = tmp };
	struct apply_found found;
	char *reason = NULL, *planfile, *applied;
	void *st;
	FILE *f;

	(void)state;
	assert_int_equal(setup_tmp(NULL), 0);
	planfile = path_in("tfplans/8.tfplan");
	make_release();
	st = open_fake();
	/* Nothing prepared (a re-run): a new plan, nothing applied. */
	in.release = tmp;
	assert_int_equal(drive(&reason, NULL, st, &in, ap->ops->start), APPLY_STALE);
	assert_non_null(strstr(reason, "no saved plan was reviewed for plan 8"));
	free(reason);
	/* A file that changed after the review. */
	in.release = NULL;
	assert_int_equal(drive(&reason, &found, st, &in, ap->ops->prepare), OK);
	free(reason);
	f = fopen(planfile, "a");
	fputs("tampered", f);
	fclose(f);
	in.release = tmp;
	in.prepared = found.digest;
	assert_int_equal(drive(&reason, NULL, st, &in, ap->ops->start), APPLY_STALE);
	assert_non_null(strstr(reason, "is not the one approved"));
	assert_true(access(planfile, F_OK) != 0);
	free(reason);
	free(found.digest);
	/* Terraform's own "Saved plan is stale". */
	in.release = NULL;
	in.prepared = NULL;
	assert_int_equal(drive(&reason, &found, st, &in, ap->ops->prepare), OK);
	free(reason);
	write_text("apply.out", "\nError: Saved plan is stale\n\nThe given plan file can no longer "
	    "be applied.\n", 0644);
	write_text("apply.exit", "1\n", 0644);
	in.release = tmp;
	in.prepared = found.digest;
	assert_int_equal(drive(&reason, NULL, st, &in, ap->ops->start), APPLY_STALE);
	assert_non_null(strstr(reason, "the saved plan is stale"));
	assert_true(access(planfile, F_OK) != 0);
	free(reason);
	free(found.digest);
	/* Another failure: the exit status and Terraform's error lines. */
	in.release = NULL;
	in.prepared = NULL;
	assert_int_equal(drive(&reason, &found, st, &in, ap->ops->prepare), OK);
	free(reason);
	write_text("apply.out", "\nError: creating Route53 Record: \x1b[31mdenied\x1b[0m\n\n"
	    "  with aws_route53_record.x,\n", 0644);
	in.release = tmp;
	in.prepared = found.digest;
	assert_int_equal(drive(&reason, NULL, st, &in, ap->ops->start), ERR);
	assert_non_null(strstr(reason, "terraform apply exited with status 1 after "));
	assert_non_null(strstr(reason, "Error: creating Route53 Record: denied (with "
	    "aws_route53_record.x)"));
	assert_null(strchr(reason, '\x1b'));
	free(reason);
	free(found.digest);
	applied = read_in("applied");
	/* Only the last two reached `terraform apply` at all. */
	assert_int_equal((int)(strstr(applied, "the saved plan, version 1\nthe saved plan, "
	    "version 1\n") == applied), 1);
	free(applied);
	free(planfile);
	ap->ops->close(st);
	artifacts_dispose(&release);
	teardown_tmp(NULL);
}

static void
test_plan_fails_and_drift(void **state)
{
	const struct apply_provider *ap = apply_find("terraform");
	struct apply_info in = { .plan_id = "9", .commit = "0123456789abcdef0123456789abcdef01234567",
		.target_art = &release, .state_dir = tmp };
	struct apply_found found;
	char *reason = NULL;
	void *st;

	(void)state;
	assert_int_equal(setup_tmp(NULL), 0);
	make_release();
	st = open_fake();
	write_text("plan.exit", "1\n", 0644);
	write_text("plan.out", "\nError: No valid credential sources found\n", 0644);
	assert_int_equal(drive(&reason, &found, st, &in, ap->ops->prepare), ERR);
	assert_non_null(strstr(reason, "terraform plan exited with status 1 after "));
	assert_non_null(strstr(reason, "Error: No valid credential sources found"));
	assert_null(found.digest);
	free(reason);
	/* Drift: exit 2 is a difference, exit 0 none. */
	write_text("plan.exit", "2\n", 0644);
	write_text("plan.out", "", 0644);
	in.plan_id = "drift";
	assert_int_equal(drive(&reason, &found, st, &in, ap->ops->drift), ERR_CONFLICT);
	assert_int_equal(found.differ, 4);
	assert_non_null(strstr(reason, "terraform: 4 resources in the world differ from the "
	    "current release; Terraform would change them back:\nPlan: 2 to add"));
	free(reason);
	write_text("plan.exit", "0\n", 0644);
	write_text("show.json", "{\"format_version\":\"1.2\"}", 0644);
	assert_int_equal(drive(&reason, &found, st, &in, ap->ops->drift), OK);
	assert_int_equal(found.differ, 0);
	free(reason);
	/* Neither left a copy or a saved plan behind. */
	{
		char *d = path_in("tfplans");
		DIR *dir = opendir(d);
		struct dirent *e;
		int left = 0;

		assert_non_null(dir);
		while ((e = readdir(dir)))
			left += e->d_name[0] != '.';
		closedir(dir);
		assert_int_equal(left, 0);
		free(d);
	}
	ap->ops->close(st);
	artifacts_dispose(&release);
	teardown_tmp(NULL);
}

int
main(void)
{
	struct CMUnitTest tests[64];
	size_t n = 0;

	setenv("AWS_FB_TEST", "yes", 1);
	setenv("FB_SECRET_TEST", "no", 1);
	CASES(test_open, open_cases);
	CASES(test_clean, clean_cases);
	CASES(test_errors, errors_cases);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_errors_capped);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_stale_and_line);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_summary);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_summary_capped);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_prepare_then_apply);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_stale_cases);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_plan_fails_and_drift);
	return _cmocka_run_group_tests("terraform", tests, n, NULL, NULL);
}
