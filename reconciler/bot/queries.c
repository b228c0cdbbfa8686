/*
 * queries.c - the commands that read (history, plan, status) and the
 * ones that decide a plan (approve, discard: through the controller's
 * control socket).  See botint.h.
 */
#include "bot/botint.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "git/repo.h"
#include "git/trailers.h"
#include "state/ctlclient.h"
#include "state/rollouts.h"
#include "state/state.h"

/* ---- reading commands ------------------------------------------------------ */

struct history {
	struct buf *out;
	struct repo_ident bot;
};

/* A commit the bot made names who asked and how; any other, its author
 * "by hand", whatever trailers its message carries (trailer_of_bot). */
static int
history_line(void *ctx, const struct repo_log_entry *e)
{
	struct history *h = ctx;
	struct buf *out = h->out;
	char when[32], *by = trailer_of_bot(e, &h->bot, "Requested-by"),
	    *via = trailer_of_bot(e, &h->bot, "Requested-via");
	time_t t = (time_t)e->time;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	/* Whole characters of the subject: anyone writes it. */
	buf_printf(out, "%.7s %s  %.*s  (", e->sha, when, utf8_prefix(e->subject, 72), e->subject);
	if (by)
		buf_printf(out, "%s via %s)\n", by, via ? via : "?");
	else
		buf_printf(out, "%s, by hand)\n", e->author);
	free(by);
	free(via);
	return 0;
}

int
bot_run_history(struct bot *b, char **av, size_t ac)
{
	struct history h = { &b->ans->text, { b->cfg->bot_name, b->cfg->bot_email } };
	uint64_t n = BOT_HISTORY_DEFAULT;
	char head[41];

	if (ac && parse_u64(&n, av[0], 1, BOT_HISTORY_MAX) != OK)
		return bot_refuse(b, "history takes a count from 1 to %d, not '%s'", BOT_HISTORY_MAX,
		    av[0]);
	if (repo_resolve(b->repo, b->ref, head) != OK)
		return bot_fail(b, "reading the branch");
	if (repo_log(b->repo, head, (size_t)n, history_line, &h) < 0)
		return bot_fail(b, "reading the history");
	return OK;
}

/* A stored plan, briefly: its line and its changes. */
static void
plan_brief(struct buf *out, json_t *j, int changes)
{
	json_t *ch = json_object_get(j, "changes"), *v;
	const char *outcome = json_string_value(json_object_get(j, "outcome"));
	const char *id = json_string_value(json_object_get(j, "id"));
	const char *target = json_string_value(json_object_get(j, "target"));
	size_t i;

	/* A stored plan is read as untrusted: whole characters of its target
	 * (found by fuzz_planjson: "%.7s" cut one, and the answer was not UTF-8). */
	buf_printf(out, "plan %s for %.*s: %s, %s, %zu change%s\n", id ? id : "?",
	    target ? utf8_prefix(target, 7) : 1, target ? target : "?",
	    json_string_value(json_object_get(j, "decision")) ?
	    json_string_value(json_object_get(j, "decision")) : "?",
	    outcome ? outcome : "?", json_array_size(ch), json_array_size(ch) == 1 ? "" : "s");
	json_array_foreach(ch, i, v) {
		if (!changes)
			break;
		if (i == 20) {
			buf_printf(out, "  ... and %zu more\n", json_array_size(ch) - 20);
			break;
		}
		buf_printf(out, "  %s %s\n", json_string_value(json_object_get(v, "type")) ?
		    json_string_value(json_object_get(v, "type")) : "?",
		    json_string_value(json_object_get(v, "object")) ?
		    json_string_value(json_object_get(v, "object")) : "?");
	}
	if (outcome && strcmp(outcome, "open") == 0 && id)
		buf_printf(out, "  approve %s | discard %s\n", id, id);
}

struct open_plans {
	struct buf *out;
	size_t n;
};

static int
brief_open(void *ctx, const char *file, json_t *j, uint64_t announce)
{
	struct open_plans *o = ctx;
	const char *outcome = json_string_value(json_object_get(j, "outcome"));

	(void)file;
	(void)announce;
	if (outcome && strcmp(outcome, "open") == 0) {
		plan_brief(o->out, j, 1);
		o->n++;
	}
	return 0;
}

int
bot_run_plan(struct bot *b, char **av, size_t ac)
{
	struct open_plans ob = { &b->ans->text, 0 };
	uint64_t v;

	if (ac) {
		json_t *j;
		int rc;

		if (parse_u64(&v, av[0], 1, 1ull << 62) != OK)
			return bot_refuse(b, "'%s' is not a plan id (a number)", av[0]);
		if ((rc = state_load_plan(&j, b->cfg->state, av[0])) == ERR_NOTFOUND)
			return bot_refuse(b, "there is no plan %s", av[0]);
		if (rc != OK)
			return bot_fail(b, "plan");
		plan_brief(&b->ans->text, j, 1);
		json_decref(j);
		return OK;
	}
	/* The index names the open plans: the closed ones are never read. */
	if (state_each_open(b->cfg->state, brief_open, &ob) != OK)
		return bot_fail(b, "plan");
	if (!ob.n)
		bot_say(b, "no plan is waiting for approval\n");
	return OK;
}

int
bot_run_status(struct bot *b, char **av, size_t ac)
{
	(void)av;
	(void)ac;
	if (ctl_status(&b->ans->text, b->cfg->state) != OK)
		return bot_fail(b, "status");
	return OK;
}

/*
 * The controller's answer to a request (takes msg): said when done;
 * refused when it was not allowed, conflicts, or is `also` or `also2`
 * (the codes that mean a wrong request for this command; 0: none); otherwise an error (exit 3).
 */
static int
answer(struct bot *b, int rc, char *msg, int also, int also2)
{
	if (rc == OK)
		bot_say(b, "%s\n", msg ? msg : "done");
	else if (rc == ERR_DENIED || rc == ERR_CONFLICT || (rc && (rc == also || rc == also2)))
		bot_refuse(b, "%s", msg ? msg : err_last());
	else {
		buf_reset(&b->ans->text);
		buf_printf(&b->ans->text, "%s\n", msg ? msg : err_last());
		b->ans->code = 3;
	}
	free(msg);
	return rc;
}

static int
run_decide(struct bot *b, int approve, const char *id)
{
	char *msg = NULL;
	uint64_t v;
	int rc;

	if (!b->user)
		return bot_refuse_unmapped(b);
	if (!b->may_approve)
		return bot_refuse(b, "approving from %s is off (allow_approve on its chat entry "
		    "turns it on); approve in Slack or with `firebreak approve`", b->rq->via);
	if (parse_u64(&v, id, 1, 1ull << 62) != OK)
		return bot_refuse(b, "'%s' is not a plan id (a number)", id);
	rc = ctl_decide(&msg, b->cfg->state, approve, id, b->user);
	if (rc == ERR_NOTFOUND)
		rc = b->rq->decide_offline ? b->rq->decide_offline(b->cfg, approve, id, b->user,
		    &msg) : err_set(ERR, "no controller is running on %s", b->cfg->state);
	return answer(b, rc, msg, ERR_NOTFOUND, 0);
}

int
bot_run_approve(struct bot *b, char **av, size_t ac)
{
	(void)ac;
	return run_decide(b, 1, av[0]);
}

int
bot_run_discard(struct bot *b, char **av, size_t ac)
{
	(void)ac;
	return run_decide(b, 0, av[0]);
}

/* ---- rollouts ------------------------------------------------------------------ */

int
bot_run_rollout(struct bot *b, char **av, size_t ac)
{
	struct ro_record *r = NULL;
	char id[24];
	uint64_t v;
	int rc;

	if (ac) {
		if (parse_u64(&v, av[0], 1, 1ull << 62) != OK)
			return bot_refuse(b, "'%s' is not a rollout id (a plan id)", av[0]);
		snprintf(id, sizeof(id), "%s", av[0]);
	} else if (ro_latest_id(b->cfg->state, id) != OK) {
		bot_say(b, "no rollout yet\n");
		return OK;
	}
	rc = ro_record_load(&r, b->cfg->state, id);
	if (rc == ERR_NOTFOUND)
		return bot_refuse(b, "there is no rollout %s (a plan that changed no host's "
		    "documents has none)", id);
	if (rc != OK)
		return bot_fail(b, "rollout");
	ro_record_text(&b->ans->text, r);
	ro_record_free(r);
	return OK;
}

static int
run_rollout_act(struct bot *b, int resume, const char *id)
{
	char *msg = NULL;
	uint64_t v;
	int rc;

	if (!b->user)
		return bot_refuse_unmapped(b);
	if (!b->may_approve)
		return bot_refuse(b, "acting on rollouts from %s is off (allow_approve on its chat "
		    "entry turns it on)", b->rq->via);
	if (parse_u64(&v, id, 1, 1ull << 62) != OK)
		return bot_refuse(b, "'%s' is not a rollout id (a plan id)", id);
	rc = ctl_rollout(&msg, b->cfg->state, resume, id, b->user);
	return answer(b, rc, msg, ERR_INVALID, 0);
}

int
bot_run_rollout_resume(struct bot *b, char **av, size_t ac)
{
	(void)ac;
	return run_rollout_act(b, 1, av[0]);
}

int
bot_run_rollout_abort(struct bot *b, char **av, size_t ac)
{
	(void)ac;
	return run_rollout_act(b, 0, av[0]);
}

/* retry and reconcile: the running controller checks who may and acts. */
static int
run_rerun(struct bot *b, const char *verb, const char *arg)
{
	char *msg = NULL;
	int rc;

	if (!b->user)
		return bot_refuse_unmapped(b);
	if (!b->may_approve)
		return bot_refuse(b, "%s from %s is off, as approving is (allow_approve on its chat "
		    "entry turns it on)", verb, b->rq->via);
	rc = ctl_rerun(&msg, b->cfg->state, verb, arg, b->user);
	if (rc == ERR_NOTFOUND && !msg)
		return bot_refuse(b, "no controller is running on %s: %s needs it (firebreak run)",
		    b->cfg->state, verb);
	return answer(b, rc, msg, ERR_NOTFOUND, ERR_INVALID);
}

int
bot_run_retry(struct bot *b, char **av, size_t ac)
{
	uint64_t v;

	(void)ac;
	if (parse_u64(&v, av[0], 1, 1ull << 62) != OK)
		return bot_refuse(b, "'%s' is not a plan id (a number)", av[0]);
	return run_rerun(b, "retry", av[0]);
}

int
bot_run_reconcile(struct bot *b, char **av, size_t ac)
{
	enum change_kind k;

	(void)ac;
	if (kind_parse(&k, av[0]) != OK)
		return bot_refuse(b, "'%.40s' is not a kind: reconcile enc, dns, pin or policy", av[0]);
	return run_rerun(b, "reconcile", av[0]);
}

int
bot_run_drift(struct bot *b, char **av, size_t ac)
{
	int rc;

	(void)av;
	(void)ac;
	rc = ctl_drift(&b->ans->text, b->cfg->state);
	if (rc == ERR_NOTFOUND)
		return bot_refuse(b, "no controller is running on %s; `firebreak drift --config "
		    "%s` reads the world from the shell", b->cfg->state, b->cfg->path);
	if (rc != OK)
		return bot_fail(b, "drift");
	return OK;
}
