/*
 * commit.c - a mutating command's edit becomes a commit as the bot: edit
 * at the branch head, commit, validate the whole inventory, move the
 * branch by compare-and-swap (or push), and redo the edit on the new head
 * when someone else got there first.  See botint.h.
 */
#include "bot/botint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "git/repo.h"
#include "model/inventory.h"

/* ---- committing ----------------------------------------------------------- */

/* Requested-via is one line of safe characters. */
static void
clean_via(char *out, size_t n, const char *via)
{
	size_t i = 0;

	for (; via && *via && i + 1 < n; via++)
		out[i++] = (strchr(" #._:-@/", *via) || (*via >= 'a' && *via <= 'z') ||
		    (*via >= 'A' && *via <= 'Z') || (*via >= '0' && *via <= '9')) ? *via : '?';
	out[i] = '\0';
	if (!i)
		snprintf(out, n, "shell");
}

/*
 * The subject, a body paragraph when there is one (a revert names the
 * commit it reverts as git revert does, so the trust ladder finds it; a
 * health action carries its finding), then the trailers.  The body is one
 * line of printable ASCII: nothing in it can open another paragraph or
 * pass for a trailer of the last one.
 */
static char *
commit_message(struct bot *b, const char *subject, const char *revert)
{
	char via[100], body[300];
	size_t i = 0;

	clean_via(via, sizeof(via), b->rq->via);
	body[0] = '\0';
	if (revert && *revert)
		snprintf(body, sizeof(body), "This reverts commit %s.", revert);
	else if (b->rq->health && b->rq->reason) {
		const char *p;

		for (p = b->rq->reason; *p && i + 1 < sizeof(body); p++)
			body[i++] = (*p >= ' ' && *p < 0x7f) ? *p : '?';
		body[i] = '\0';
	}
	return xasprintf("%s\n\n%s%sRequested-by: %s\nRequested-via: %s\n", subject, body,
	    body[0] ? "\n\n" : "", b->user, via);
}

/* The first problems of an inventory that does not validate, for chat. */
static void
say_diags(struct buf *b, const struct diags *d)
{
	size_t i;

	for (i = 0; i < d->n && i < 5; i++)
		buf_printf(b, "  %s:%d: %s\n", d->v[i].file, d->v[i].line, d->v[i].message);
	if (d->n > 5)
		buf_printf(b, "  ... and %zu more\n", d->n - 5);
}

static void
jitter(unsigned attempt)
{
	struct timespec ts;
	unsigned ms = 1 + (unsigned)(rand() % (int)(2 + 4 * (attempt < 10 ? attempt : 10)));

	ts.tv_sec = 0;
	ts.tv_nsec = (long)ms * 1000000L;
	nanosleep(&ts, NULL);
}

/*
 * Run a mutating handler against the branch head until its commit lands:
 * edit, commit as the bot, validate, compare-and-swap (or push).  Every
 * refusal happens before anything moves.  *prev is the inventory of the
 * last try's head (owned by the caller): a redo loads only what changed.
 */
static int
bot_commit_with(struct bot *b, const struct command *c, char **av, size_t ac,
    struct model **prev)
{
	struct repo_ident who = { b->cfg->bot_name, b->cfg->bot_email };
	struct repo_auth auth;
	unsigned attempt;
	char s7[8];

	config_repo_auth(b->cfg, &auth);
	for (attempt = 0; attempt < BOT_MAX_TRIES; attempt++) {
		struct mut mu;
		struct diags d = { NULL, 0, 0 };
		struct model *after = NULL;
		char head[41], *msg;
		int rc;

		memset(&mu, 0, sizeof(mu));
		if (b->cfg->remote && repo_fetch(b->repo, b->cfg->remote, b->cfg->branch, &auth) != OK)
			return bot_fail(b, "fetching from the remote");
		if (repo_resolve(b->repo, b->ref, head) != OK)
			return bot_fail(b, "reading the branch");
		mu.head = head;
		/* A redo reuses what did not change since the last try. */
		rc = inventory_load_from(&mu.m, &d, b->repo, head, *prev);
		model_free(*prev);
		*prev = mu.m;
		if (rc != OK) {
			if (rc != ERR_INVALID) {
				diags_dispose(&d);
				return bot_fail(b, "loading the inventory");
			}
			bot_refuse(b, "the inventory at %.7s does not validate, so the bot will not add to "
			    "it; fix these first:", head);
			say_diags(&b->ans->text, &d);
			diags_dispose(&d);
			return ERR_DENIED;
		}
		buf_reset(&b->ans->text);
		rc = c->edit(b, &mu, av, ac);
		if (rc != OK || mu.nothing) {
			if (rc != OK && b->ans->code == 0)
				bot_refuse(b, "%s", err_last());
			bot_mut_dispose(&mu);
			return rc;
		}
		msg = commit_message(b, mu.subject.data, mu.revert);
		if (mu.revert[0]) {
			const char *sha = mu.revert;

			rc = repo_revert(b->repo, head, sha, &who, msg, mu.commit);
			if (rc == ERR_CONFLICT || rc == ERR_INVALID) {
				free(msg);
				bot_mut_dispose(&mu);
				return bot_refuse(b, "%.7s cannot be reverted on top of %.7s: %s", sha, head,
				    err_last());
			}
			if (rc == OK && repo_each_changed_path(b->repo, head, mu.commit,
			    bot_touches_policy, NULL) != 0) {
				free(msg);
				bot_mut_dispose(&mu);
				return bot_refuse(b, "reverting %.7s would change policy.yaml; the bot never "
				    "commits policy changes (a person must)", sha);
			}
		} else {
			struct repo_change ch[BOT_MAX_CHANGES];
			size_t i;

			for (i = 0; i < mu.n; i++) {
				if (bot_touches_policy(NULL, mu.ch[i].path) && !bot_edits_policy(c)) {
					free(msg);
					bot_mut_dispose(&mu);
					return bot_refuse(b, "the bot never commits policy changes");
				}
				ch[i].path = mu.ch[i].path;
				ch[i].data = mu.ch[i].data;
				ch[i].len = mu.ch[i].len;
			}
			rc = repo_commit(b->repo, head, ch, mu.n, &who, msg, mu.commit);
		}
		free(msg);
		if (rc != OK) {
			bot_mut_dispose(&mu);
			return bot_fail(b, "writing the commit");
		}
		/* The whole inventory must still validate, as the controller will
		 * check it: refuse here rather than commit a broken tree. */
		if ((rc = inventory_load_from(&after, &d, b->repo, mu.commit, mu.m)) != OK) {
			if (rc == ERR_INVALID) {
				bot_refuse(b, "`%s` would leave the inventory invalid, so nothing was "
				    "committed:", b->rq->text);
				say_diags(&b->ans->text, &d);
			} else {
				bot_fail(b, "validating the commit");
			}
			diags_dispose(&d);
			bot_mut_dispose(&mu);
			return rc == ERR_INVALID ? ERR_DENIED : ERR;
		}
		model_free(after);
		diags_dispose(&d);
		/* The last check before the branch moves (HA: still the leader). */
		if (b->rq->fence && (rc = b->rq->fence(b->cfg, b->rq->fence_token)) != OK) {
			bot_mut_dispose(&mu);
			return bot_fail(b, "checking that this controller still leads");
		}
		if (b->cfg->remote) {
			rc = repo_push(b->repo, b->cfg->remote, mu.commit, b->cfg->branch, &auth);
			if (rc == OK)    /* the local branch follows (a fetch may beat us to it) */
				(void)repo_update_ref(b->repo, b->ref, head, mu.commit, "firebreak: bot");
		} else {
			rc = repo_update_ref(b->repo, b->ref, head, mu.commit, "firebreak: bot");
		}
		if (rc == OK) {
			snprintf(b->ans->commit, sizeof(b->ans->commit), "%s", mu.commit);
			bot_say(b, "committed %s: %s\n", bot_short_sha(mu.commit, s7), mu.subject.data);
			/* A checked-out branch: its work tree follows, or says why not. */
			if (!b->cfg->remote && repo_sync_worktree(b->repo, b->cfg->branch) != OK)
				bot_say(b, "note: %s: %s\n", b->cfg->repo, err_last());
			bot_mut_dispose(&mu);
			return OK;
		}
		bot_mut_dispose(&mu);
		if (rc != ERR_CONFLICT)
			return bot_fail(b, b->cfg->remote ? "pushing" : "moving the branch");
		/* Someone else moved the branch: redo the edit on the new head. */
		jitter(attempt);
	}
	return bot_refuse(b, "the branch kept moving (%d tries); try again", BOT_MAX_TRIES);
}

int
bot_commit(struct bot *b, const struct command *c, char **av, size_t ac)
{
	struct model *prev = NULL;
	int rc = bot_commit_with(b, c, av, ac, &prev);

	model_free(prev);
	return rc;
}
