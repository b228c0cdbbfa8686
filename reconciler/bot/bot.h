/*
 * bot.h - the chat bot's commands (DESIGN.md "Chat commands", "Bot
 * commits"): the same words from Slack, Mattermost, IRC and the shell.
 *
 * One call runs one command line for one person.  Who may run what comes
 * from policy.yaml of the last applied commit (`commands`, `groups`,
 * `identities`, `approvers`, `self_approve`).  A mutating command edits
 * the inventory in place (reconciler/edit.c: comments and layout kept),
 * re-validates the whole inventory, commits as the bot with the person in
 * the trailers, and moves the branch by compare-and-swap, redoing the edit
 * on the new head when someone else got there first.  With a remote, the
 * commit is pushed first and the local branch follows.  Nothing the bot
 * commits touches policy.yaml.
 *
 * Layer: bot (includes state and below; never controller).
 */
#ifndef FIREBREAK_BOT_H
#define FIREBREAK_BOT_H

#include "base/util.h"
#include "state/config.h"

/* Who asks, and from where. */
struct bot_request {
	const char *user;        /* a policy user (`--as`), or NULL: map `identity` */
	const char *identity;    /* "slack:U024BE7LH", "irc-account:carol", or NULL
	                          * (the shell) */
	int unverified;          /* the chat server does not vouch for `identity` (a
	                          * bare IRC nick): read-only commands only */
	int no_approve;          /* approve / discard may not come from where this
	                          * came (IRC without allow_approve) */
	const char *via;         /* "shell", "slack #ops", "irc #ops": Requested-via */
	const char *text;        /* the command line: "deploy app 1.4.3" */
	/*
	 * The controller's health action (controller/health.c, through its
	 * job runner): run as the reserved user firebreak-health, allowed
	 * only `drain HOST`, authorised by policy.yaml's `actions:
	 * {health.drain: auto}` (not by `commands:`), within max_drained at
	 * the head.  `reason` (the check's finding, one line) goes into the
	 * commit message's body.  No chat identity can come to this: it is
	 * only the `--health-action` flag of the controller's own child.
	 */
	int health;
	const char *reason;
	/*
	 * approve / discard go to the running controller through its control
	 * socket.  When none runs, this (may be NULL: then the bot says so)
	 * decides on the state directory instead; the CLI passes the
	 * controller's cold path, which the bot layer cannot name.
	 */
	int (*decide_offline)(const struct config *cfg, int approve, const char *id,
	    const char *user, char **msg);
	/*
	 * Called right before a commit moves the branch (the ref's
	 * compare-and-swap, or the push), or NULL: anything but OK and the
	 * bot commits nothing and says why (the CLI passes an HA leader's
	 * fence check for its children: a deposed leader's command does not
	 * commit).
	 */
	int (*fence)(const struct config *cfg, const char *token);
	const char *fence_token;
};

struct bot_answer {
	int code;                /* 0 done; 1 refused or bad input; 3 environment */
	struct buf text;         /* what to tell the person who asked */
	char commit[41];         /* the commit made, or "" */
	char user[80];           /* the policy user it ran as, or "" (unmapped) */
};

/* The answer is always filled (dispose it); the return value is its code. */
int bot_run(const struct config *cfg, const struct bot_request *rq, struct bot_answer *ans);
void bot_answer_dispose(struct bot_answer *a);

#endif
