/*
 * botint.h - the chat bot's inside: what its files share.  Only files of
 * reconciler/bot/ (and the bot's unit and fuzz tests) include it; the rest
 * of firebreak runs a command through bot.h.
 *
 * Layer: bot (includes state, plan, model, git, base; never controller:
 * approve and discard reach the controller through state/ctlclient.h).
 *
 *   commands.c  the command table, the words of a command line, who may
 *               run what, and bot_run
 *   edits.c     the mutating handlers: new file contents, never a write
 *   commit.c    an edit becomes a commit as the bot (CAS, push, redo)
 *   queries.c   history, plan, status, drift; approve, discard, retry and
 *               reconcile (through the controller)
 *   ladder.c    trust, trust promote, trust demote
 *   edit.c      the comment-preserving YAML editor (edit.h)
 */
#ifndef FIREBREAK_BOTINT_H
#define FIREBREAK_BOTINT_H

#include <stddef.h>

#include "bot/bot.h"
#include "git/repo.h"
#include "model/diag.h"
#include "model/ydoc.h"

#define BOT_MAX_TEXT 1000      /* bytes of one command line */
#define BOT_MAX_ARGS 8
#define BOT_MAX_TRIES 64       /* compare-and-swap or push races before giving up */
#define BOT_HISTORY_DEFAULT 10
#define BOT_HISTORY_MAX 100
#define BOT_MAX_CHANGES 4

struct model;
struct policy;

enum cmd_kind { CMD_READ, CMD_MUTATE, CMD_DECIDE };

struct bot {
	const struct config *cfg;
	const struct bot_request *rq;
	struct bot_answer *ans;
	struct repo *repo;
	struct policy *policy;       /* of the applied commit */
	struct ynode *policy_root;
	char applied[41];
	char ref[300];
	const char *user;            /* the policy user, or NULL: unmapped */
	int may_approve;             /* approve / discard may come from where this did */
};

/* One file a mutating command writes: path and data are owned (a
 * struct repo_change, which borrows, is made of it for the commit). */
struct mut_change {
	char *path;
	char *data;
	size_t len;
};

/* One attempt at a mutating command, against one head. */
struct mut {
	const char *head;
	struct model *m;             /* the inventory at head */
	struct buf subject;          /* the commit's first line */
	struct mut_change ch[BOT_MAX_CHANGES];
	size_t n;
	char commit[41];             /* a handler that commits itself (revert) */
	char revert[41];             /* revert: the commit it undoes */
	int nothing;                 /* nothing to change; the answer says why */
};

struct command {
	const char *name;            /* "deploy", "dns add" */
	const char *acl;             /* policy `commands` key, for CMD_MUTATE */
	const char *syntax;
	const char *help;
	const char *example;
	enum cmd_kind kind;
	size_t minargs, maxargs;
	int (*run)(struct bot *b, char **av, size_t ac);
	int (*edit)(struct bot *b, struct mut *mu, char **av, size_t ac);
};

/* commands.c: answers.  bot_say appends; bot_refuse replaces the answer
 * with its message and sets code 1 (returns ERR_DENIED); bot_fail says
 * "what: err_last()" with code 3 (returns ERR). */
void bot_say(struct bot *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int bot_refuse(struct bot *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int bot_fail(struct bot *b, const char *what);
/* The refusal for someone who maps to no policy user (read-only only). */
int bot_refuse_unmapped(struct bot *b);
const char *bot_short_sha(const char *sha, char out[8]);

/* Valid UTF-8 without control characters (C0, DEL, C1; a tab counts),
 * U+2028, U+2029 or bidi controls (U+202A-U+202E, U+2066-U+2069). */
int bot_text_ok(const char *s, size_t len);

/*
 * Split a command line into at most BOT_MAX_ARGS words: spaces separate,
 * "double quotes" (or typographic ones) keep spaces inside one word.  The
 * words point into *store (owns, also on failure: free it).  ERR_INVALID
 * with a message for the person in `why`.
 */
int bot_tokenize(const char *text, char **store, char **av, size_t *ac, char *why,
    size_t whylen);

/* May this person run command c (before its arguments are looked at)? */
int bot_may_run(struct bot *b, const struct command *c);
void bot_usage_line(struct buf *out, const struct command *c);
/* The command the first one or two words name (*words says how many), or NULL. */
const struct command *bot_find_command(char **av, size_t ac, size_t *words);
int bot_run_help(struct bot *b, char **av, size_t ac);

/* edits.c */
/* Parse `path` at commit `sha` into *root (owns) and its text into src. */
int bot_load_yaml(struct bot *b, const char *sha, const char *path, struct buf *src,
    struct ynode **root);
void bot_mut_dispose(struct mut *mu);
/* repo_each_changed_path callback: does the path touch policy.yaml? */
int bot_touches_policy(void *ctx, const char *path);
int bot_edit_deploy(struct bot *b, struct mut *mu, char **av, size_t ac);
int bot_edit_drain(struct bot *b, struct mut *mu, char **av, size_t ac);
int bot_edit_undrain(struct bot *b, struct mut *mu, char **av, size_t ac);
int bot_edit_provision(struct bot *b, struct mut *mu, char **av, size_t ac);
int bot_edit_decommission(struct bot *b, struct mut *mu, char **av, size_t ac);
int bot_edit_dns_add(struct bot *b, struct mut *mu, char **av, size_t ac);
int bot_edit_dns_rm(struct bot *b, struct mut *mu, char **av, size_t ac);
int bot_edit_revert(struct bot *b, struct mut *mu, char **av, size_t ac);

/* ladder.c: the trust ladder's table and its policy edits. */
int bot_run_trust(struct bot *b, char **av, size_t ac);
int bot_edit_trust_promote(struct bot *b, struct mut *mu, char **av, size_t ac);
int bot_edit_trust_demote(struct bot *b, struct mut *mu, char **av, size_t ac);
/* Does command c change policy.yaml (trust promote/demote)?  The one
 * exception to "the bot never commits policy changes": its plan needs an
 * approver of policy; it may be run by `commands: trust` and by policy
 * approvers. */
int bot_edits_policy(const struct command *c);

/* commit.c: run c's edit at the branch head until its commit lands. */
int bot_commit(struct bot *b, const struct command *c, char **av, size_t ac);

/* queries.c */
int bot_run_history(struct bot *b, char **av, size_t ac);
int bot_run_plan(struct bot *b, char **av, size_t ac);
int bot_run_status(struct bot *b, char **av, size_t ac);
int bot_run_approve(struct bot *b, char **av, size_t ac);
int bot_run_discard(struct bot *b, char **av, size_t ac);
int bot_run_retry(struct bot *b, char **av, size_t ac);
int bot_run_reconcile(struct bot *b, char **av, size_t ac);
int bot_run_drift(struct bot *b, char **av, size_t ac);
int bot_run_rollout(struct bot *b, char **av, size_t ac);
int bot_run_rollout_resume(struct bot *b, char **av, size_t ac);
int bot_run_rollout_abort(struct bot *b, char **av, size_t ac);

#endif
