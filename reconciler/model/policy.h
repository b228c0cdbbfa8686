/*
 * policy.h - policy.yaml: what auto-applies, what only observes, limits
 * that force approval, who approves which kind, who may run which chat
 * command, groups and chat identities.  DESIGN.md "Change types and policy".
 *
 * The policy that governs a plan is always the one of the last applied
 * commit; a missing policy.yaml is the empty policy: nothing is auto,
 * nobody may approve or run a mutating command.
 *
 * Layer: model (includes git, base).
 */
#ifndef FIREBREAK_POLICY_H
#define FIREBREAK_POLICY_H

#include <stdint.h>

#include "model/artifact.h"
#include "model/diag.h"
#include "model/ydoc.h"

/* Decisions, ordered from least to most strict: a plan takes the maximum. */
enum decision { DECISION_NOOP, DECISION_AUTO, DECISION_OBSERVE, DECISION_APPROVE,
	DECISION_INVALID };
const char *decision_name(enum decision d);

enum change_action { ACTION_ADD, ACTION_MODIFY, ACTION_DELETE };
const char *action_name(enum change_action a);

struct policy_entry {          /* a key with a list of names: approvers, commands, groups */
	char *key;
	struct strlist names;
};

struct policy_limit {
	char *type;                /* "dns.delete" */
	uint64_t max;
};

struct policy_identity {
	char *id;                  /* "slack:U024BE7LH" */
	char *user;
};

/* What an automatic action may do (policy.yaml `actions:`), like a change
 * type's auto / observe: off (the default), observe (say "would"), auto. */
enum action_level { ACTION_OFF, ACTION_OBSERVE, ACTION_AUTO };
const char *action_level_name(enum action_level l);

/* The actions policy.yaml may name: "health.drain". */
#define POLICY_ACTION_DRAIN "health.drain"
/* The policy user health actions run as.  Reserved: no chat identity may
 * map to it, and the shell's --as cannot name it (policy_user_reserved). */
#define POLICY_HEALTH_USER "firebreak-health"

struct policy_action {
	char *name;                /* "health.drain" */
	enum action_level level;
	int line;
};

struct policy {
	struct strlist autos;              /* change types */
	struct strlist observes;
	struct policy_limit *limits;   size_t nlimits;
	struct policy_entry *approvers; size_t napprovers;
	struct policy_entry *commands;  size_t ncommands;
	struct policy_entry *groups;    size_t ngroups;
	struct policy_identity *identities; size_t nidentities;
	int self_approve;
	struct policy_action *actions;  size_t nactions;
};

/* Parse policy.yaml's root node; problems go to `d` under `file`.  Always
 * returns a policy (owns), possibly partial when `d` grew. */
struct policy *policy_parse(const struct ynode *root, const char *file, struct diags *d);
struct policy *policy_empty(void);
void policy_free(struct policy *p);

/* The decision for one change of this kind and action (limits aside). */
enum decision policy_decide(const struct policy *p, enum change_kind kind,
    enum change_action action);
/* The limit for a change type; returns 1 and sets *max when one is set. */
int policy_limit(const struct policy *p, const char *type, uint64_t *max);

/* Does `user` belong to `name`: the user itself, "*" (any identified user)
 * or a group containing it. */
int policy_user_in(const struct policy *p, const char *user, const char *name);
/* May `user` approve changes of `kind` (approvers[kind] or approvers["*"])? */
int policy_may_approve(const struct policy *p, const char *user, enum change_kind kind);
/* Who may approve changes of `kind`: the names in approvers[kind] then
 * approvers["*"], groups expanded (one level, as policy_user_in), each
 * once, in that order; "*" (any identified user) stays "*".  Appends to
 * *out (owns its strings). */
void policy_approvers(struct strlist *out, const struct policy *p, enum change_kind kind);
/* May `user` run the mutating chat command `cmd` (commands[cmd])? */
int policy_may_run(const struct policy *p, const char *user, const char *cmd);
/* The policy user for a platform id ("slack:U024BE7LH"), or NULL (borrows). */
const char *policy_identity(const struct policy *p, const char *platform_id);

/* The level of an action ("health.drain"); ACTION_OFF when not listed. */
enum action_level policy_action_level(const struct policy *p, const char *action);
/* Is `user` a name only firebreak itself may act as (firebreak-health)? */
int policy_user_reserved(const char *user);

/* Canonical compact JSON of each top-level key, for the plan's policy
 * changes: adds objects named by key to the artifact. */
void policy_objects(const struct ynode *root, struct artifact *a);

#endif
