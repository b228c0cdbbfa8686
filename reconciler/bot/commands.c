/*
 * commands.c - the chat bot's command table, the command line's words,
 * who may run what, and one command run end to end (bot_run).  See
 * bot.h and botint.h.
 *
 * Every command is one line of the table below: its name, the policy
 * `commands` key that governs it, its syntax, a line of help, an example,
 * what it does (read, mutate, decide) and its handler.  `help` is printed
 * from the table, so the table is the documentation.
 */
#include "bot/botint.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "git/repo.h"
#include "model/inventory.h"
#include "model/policy.h"
#include "state/state.h"

static const struct command commands[];
static const size_t ncommands;

/* ---- answers ----------------------------------------------------------- */

void
bot_say(struct bot *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s) {
		buf_puts(&b->ans->text, s);
		free(s);
	}
}

/* A refusal: the answer is only this, and nothing changes. */
int
bot_refuse(struct bot *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	buf_reset(&b->ans->text);
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	buf_puts(&b->ans->text, s ? s : "refused");
	buf_putc(&b->ans->text, '\n');
	free(s);
	b->ans->code = 1;
	return ERR_DENIED;
}

int
bot_refuse_unmapped(struct bot *b)
{
	const char *id = b->rq->identity ? b->rq->identity : "?";

	if (b->rq->unverified)
		return bot_refuse(b, "%s is not an identity the chat server vouches for (anyone "
		    "can take a nick), so you may only run help, plan, status and history; log in "
		    "to your services account and map its identity in policy.yaml", id);
	return bot_refuse(b, "you are not mapped to a firebreak user (identities in policy.yaml: "
	    "\"%s\"), so you may only run help, plan, status and history", id);
}

/* The environment failed us (git, the state directory): exit 3. */
int
bot_fail(struct bot *b, const char *what)
{
	buf_reset(&b->ans->text);
	buf_printf(&b->ans->text, "%s: %s\n", what, err_last());
	b->ans->code = 3;
	return ERR;
}

const char *
bot_short_sha(const char *sha, char out[8])
{
	snprintf(out, 8, "%.7s", sha);
	return out;
}

/* ---- parsing the command line ------------------------------------------- */

/* Valid UTF-8 without control characters (C0, DEL, C1; a tab counts as
 * a space), line breaks in disguise (U+2028, U+2029) or bidi embeddings,
 * overrides and isolates (U+202A-U+202E, U+2066-U+2069): a command ends
 * up in commit messages and chat, which must say what they seem to.  The
 * Slack and Mattermost parsers refused these already; IRC and the shell
 * did not (seen while writing fuzz_ircline's oracle). */
int
bot_text_ok(const char *s, size_t len)
{
	size_t i = 0, k;
	uint32_t cp;

	while (i < len) {
		if (!(k = utf8_decode((const unsigned char *)s + i, len - i, &cp)))
			return 0;
		if ((cp < 0x20 && cp != '\t') || (cp >= 0x7f && cp < 0xa0) || cp == 0x2028 ||
		    cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
			return 0;
		i += k;
	}
	return 1;
}

/* Is s[i..] an opening or closing quote: '"' or a typographic one (chat
 * clients turn "x" into “x”)?  Returns its length, or 0. */
static size_t
quote_at(const char *s, int closing)
{
	if (*s == '"')
		return 1;
	if ((unsigned char)s[0] == 0xe2 && (unsigned char)s[1] == 0x80 &&
	    (unsigned char)s[2] == (closing ? 0x9d : 0x9c))
		return 3;
	if (closing && (unsigned char)s[0] == 0xe2 && (unsigned char)s[1] == 0x80 &&
	    (unsigned char)s[2] == 0x9c)
		return 3;
	return 0;
}

/*
 * Split a command line into words: spaces separate, "double quotes" (or
 * typographic ones) keep spaces inside one word.  The words point into
 * `store` (owns).  ERR_INVALID with a message for the person.
 */
int
bot_tokenize(const char *text, char **store, char **av, size_t *ac, char *why, size_t whylen)
{
	size_t len = strlen(text), n = 0;
	char *w, *p;
	const char *s = text;

	*ac = 0;
	*store = NULL;
	if (len > BOT_MAX_TEXT) {
		snprintf(why, whylen, "that command is too long (%zu bytes; at most %d)", len,
		    BOT_MAX_TEXT);
		return ERR_INVALID;
	}
	if (!bot_text_ok(text, len)) {
		snprintf(why, whylen, "a command is one line of UTF-8 text without control "
		    "characters or bidirectional overrides");
		return ERR_INVALID;
	}
	*store = p = xmalloc(len + 1);
	while (*s) {
		size_t q;

		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		if (n == BOT_MAX_ARGS) {
			snprintf(why, whylen, "too many words (at most %d)", BOT_MAX_ARGS);
			return ERR_INVALID;
		}
		w = p;
		if ((q = quote_at(s, 0))) {
			s += q;
			while (*s && !quote_at(s, 1))
				*p++ = *s++;
			if (!*s) {
				snprintf(why, whylen, "a quote is not closed");
				return ERR_INVALID;
			}
			s += quote_at(s, 1);
		} else {
			while (*s && *s != ' ' && *s != '\t')
				*p++ = *s++;
		}
		*p++ = '\0';
		av[n++] = w;
	}
	*ac = n;
	return OK;
}

/* May this person run command c (before its arguments are looked at)? */
int
bot_may_run(struct bot *b, const struct command *c)
{
	size_t k;

	switch (c->kind) {
	case CMD_READ:
		return 1;
	case CMD_MUTATE:
		return b->user && (policy_may_run(b->policy, b->user, c->acl) ||
		    (bot_edits_policy(c) && policy_may_approve(b->policy, b->user, KIND_POLICY)));
	case CMD_DECIDE:
		if (!b->user)
			return 0;
		for (k = 0; k <= KIND_POLICY; k++)
			if (policy_may_approve(b->policy, b->user, (enum change_kind)k))
				return 1;
		return 0;
	}
	return 0;
}

void
bot_usage_line(struct buf *out, const struct command *c)
{
	buf_printf(out, "%s%s%s", c->name, c->syntax[0] ? " " : "", c->syntax);
}

const struct command *
bot_find_command(char **av, size_t ac, size_t *words)
{
	size_t i;

	for (i = 0; i < ncommands; i++) {
		const char *sp = strchr(commands[i].name, ' ');

		if (sp) {
			size_t n = (size_t)(sp - commands[i].name);

			if (ac >= 2 && strlen(av[0]) == n && strncmp(av[0], commands[i].name, n) == 0 &&
			    strcmp(av[1], sp + 1) == 0) {
				*words = 2;
				return &commands[i];
			}
		} else if (ac >= 1 && strcmp(av[0], commands[i].name) == 0) {
			*words = 1;
			return &commands[i];
		}
	}
	return NULL;
}

int
bot_run_help(struct bot *b, char **av, size_t ac)
{
	size_t i, words, width = 0;

	if (ac) {
		const struct command *c = bot_find_command(av, ac, &words);

		if (!c && ac == 1 && strcmp(av[0], "dns") == 0) {
			char dns[] = "dns", add[] = "add", *two[2] = { dns, add };

			c = bot_find_command(two, 2, &words);
		}
		if (!c)
			return bot_refuse(b, "there is no command '%s'; `help` lists them", av[0]);
		buf_puts(&b->ans->text, "");
		bot_usage_line(&b->ans->text, c);
		bot_say(b, "\n  %s\n  example: %s\n", c->help, c->example);
		if (!bot_may_run(b, c))
			bot_say(b, "  (you may not run it: %s)\n", !b->user ? "you are not mapped to a "
			    "firebreak user" : c->kind == CMD_DECIDE ? "you are not an approver" :
			    "see commands in policy.yaml");
		return OK;
	}
	for (i = 0; i < ncommands; i++) {
		struct buf u = BUF_INIT;

		bot_usage_line(&u, &commands[i]);
		if (u.len > width)
			width = u.len;
		buf_dispose(&u);
	}
	bot_say(b, "what you%s may run:\n", b->user ? "" : " (not mapped to a firebreak user)");
	for (i = 0; i < ncommands; i++) {
		struct buf u = BUF_INIT;

		if (!bot_may_run(b, &commands[i]))
			continue;
		bot_usage_line(&u, &commands[i]);
		bot_say(b, "  %-*s  %s\n", (int)width, u.data, commands[i].help);
		buf_dispose(&u);
	}
	bot_say(b, "`help COMMAND` shows its syntax and an example.\n");
	return OK;
}

/* ---- the table ---------------------------------------------------------------- */

static const struct command commands[] = {
	{ "help", NULL, "[COMMAND]", "what you may run, or one command's syntax",
	  "help deploy", CMD_READ, 0, 2, bot_run_help, NULL },
	{ "deploy", "deploy", "SERVICE VERSION [ENV]",
	  "set a service's version pin (ENV: that environment's override)",
	  "deploy app 1.4.3", CMD_MUTATE, 2, 3, NULL, bot_edit_deploy },
	{ "drain", "drain", "HOST", "take a host out of round-robin DNS and backends",
	  "drain web-03.example.com", CMD_MUTATE, 1, 1, NULL, bot_edit_drain },
	{ "undrain", "drain", "HOST", "put a drained host back into service",
	  "undrain web-03.example.com", CMD_MUTATE, 1, 1, NULL, bot_edit_undrain },
	{ "provision", "provision", "HOST ROLE [ENV]", "take a spare host into service with a role",
	  "provision web-09.example.com web", CMD_MUTATE, 2, 3, NULL, bot_edit_provision },
	{ "decommission", "provision", "HOST", "return a host to the spare pool",
	  "decommission web-09.example.com", CMD_MUTATE, 1, 1, NULL, bot_edit_decommission },
	{ "dns add", "dns", "NAME TYPE VALUE [ZONE]", "add a DNS record (quote values with spaces)",
	  "dns add status CNAME statuspage.example.net.", CMD_MUTATE, 3, 4, NULL, bot_edit_dns_add },
	{ "dns rm", "dns", "NAME TYPE [ZONE]", "remove a DNS record",
	  "dns rm status CNAME", CMD_MUTATE, 2, 3, NULL, bot_edit_dns_rm },
	{ "plan", NULL, "[ID]", "the plans waiting for approval, or one plan",
	  "plan 17", CMD_READ, 0, 1, bot_run_plan, NULL },
	{ "approve", NULL, "ID", "apply a plan that waits for approval",
	  "approve 17", CMD_DECIDE, 1, 1, bot_run_approve, NULL },
	{ "discard", NULL, "ID", "drop a plan that waits for approval",
	  "discard 17", CMD_DECIDE, 1, 1, bot_run_discard, NULL },
	{ "rollout resume", NULL, "ID", "run a stopped rollout's failed hosts again and go on "
	  "(or past a gate)", "rollout resume 17", CMD_DECIDE, 1, 1, bot_run_rollout_resume, NULL },
	{ "rollout abort", NULL, "ID", "skip the rest of a rollout", "rollout abort 17",
	  CMD_DECIDE, 1, 1, bot_run_rollout_abort, NULL },
	{ "rollout", NULL, "[ID]", "Puppet runs of a plan, per host (the newest rollout without ID)",
	  "rollout 17", CMD_READ, 0, 1, bot_run_rollout, NULL },
	{ "status", NULL, "", "the last applied commit, open plans, what is pending",
	  "status", CMD_READ, 0, 0, bot_run_status, NULL },
	{ "revert", "revert", "SHA", "a new commit that undoes an earlier one",
	  "revert a1b2c3d", CMD_MUTATE, 1, 1, NULL, bot_edit_revert },
	{ "history", NULL, "[N]", "recent changes and who asked for them",
	  "history 5", CMD_READ, 0, 1, bot_run_history, NULL },
	{ "trust promote", "trust", "TYPE", "one step up in policy.yaml (approve -> observe -> "
	  "auto; an action off -> observe -> auto); needs an approver of policy",
	  "trust promote dns.modify", CMD_MUTATE, 1, 1, NULL, bot_edit_trust_promote },
	{ "trust demote", "trust", "TYPE", "one step down in policy.yaml; needs an approver of "
	  "policy", "trust demote dns.modify", CMD_MUTATE, 1, 1, NULL, bot_edit_trust_demote },
	{ "trust", NULL, "", "the trust ladder: per change type and action, how often what "
	  "was observed was agreed with, and what auto-applied was reverted",
	  "trust", CMD_READ, 0, 0, bot_run_trust, NULL },
	{ "retry", NULL, "ID", "run a failed plan's apply providers again (Terraform plans anew)",
	  "retry 17", CMD_DECIDE, 1, 1, bot_run_retry, NULL },
	{ "drift", NULL, "", "the world (DNS servers, Route53) against the current release",
	  "drift", CMD_READ, 0, 0, bot_run_drift, NULL },
	{ "reconcile", NULL, "KIND", "apply the current release to the world again, "
	  "overwriting what differs", "reconcile dns", CMD_DECIDE, 1, 1, bot_run_reconcile, NULL },
};
static const size_t ncommands = sizeof(commands) / sizeof(*commands);

/* ---- running one command ------------------------------------------------------- */

/* The policy of the last applied commit (an empty one before any). */
static int
load_policy(struct bot *b)
{
	struct buf src = BUF_INIT;
	struct diags d = { NULL, 0, 0 };
	int rc;

	if ((rc = state_read_applied(b->cfg->state, b->applied)) != OK)
		return rc;
	if (!b->applied[0]) {
		b->policy = policy_empty();
		return OK;
	}
	rc = bot_load_yaml(b, b->applied, "policy.yaml", &src, &b->policy_root);
	if (rc == ERR_NOTFOUND) {
		b->policy = policy_empty();
		rc = OK;
	} else if (rc == OK) {
		b->policy = policy_parse(b->policy_root, "policy.yaml", &d);
	}
	diags_dispose(&d);
	buf_dispose(&src);
	return rc;
}

static int
dispatch(struct bot *b)
{
	char *store = NULL, *av[BOT_MAX_ARGS], why[160];
	const struct command *c;
	size_t ac, words = 0;
	int rc;

	if (bot_tokenize(b->rq->text, &store, av, &ac, why, sizeof(why)) != OK) {
		free(store);
		return bot_refuse(b, "%s", why);
	}
	if (!ac) {
		free(store);
		return bot_run_help(b, av, 0);
	}
	if (!(c = bot_find_command(av, ac, &words))) {
		const char *names[sizeof(commands) / sizeof(*commands) + 1], *dym;
		size_t i;

		for (i = 0; i < ncommands; i++)
			names[i] = commands[i].name;
		dym = bot_text_ok(av[0], strlen(av[0])) && strlen(av[0]) < 40 ?
		    did_you_mean(av[0], names, ncommands) : NULL;
		/* At most 40 bytes of the word, cut between characters (found by
		 * fuzz_botcmd: "%.40s" cut one in two, and the answer was not UTF-8). */
		if (strcmp(av[0], "dns") == 0)
			rc = bot_refuse(b, "usage: dns add NAME TYPE VALUE [ZONE] | dns rm NAME TYPE [ZONE]");
		else
			rc = bot_refuse(b, "unknown command '%.*s'%s%s%s; `help` lists what you may run",
			    utf8_prefix(av[0], 40), av[0], dym ? " (did you mean " : "", dym ? dym : "", dym ? "?)" : "");
		free(store);
		return rc;
	}
	ac -= words;
	if (ac < c->minargs || ac > c->maxargs) {
		struct buf u = BUF_INIT;

		bot_usage_line(&u, c);
		rc = bot_refuse(b, "usage: %s (example: %s)", u.data, c->example);
		buf_dispose(&u);
		free(store);
		return rc;
	}
	if (b->rq->health) {
		/* firebreak's own health action: `drain HOST` only, allowed by
		 * the applied policy's actions (not by commands:). */
		enum action_level lv = policy_action_level(b->policy, POLICY_ACTION_DRAIN);

		if (strcmp(c->name, "drain") != 0)
			rc = bot_refuse(b, "a health action may only run drain");
		else if (lv != ACTION_AUTO)
			rc = bot_refuse(b, "health.drain is %s in the applied policy.yaml (actions); "
			    "only auto commits a drain", action_level_name(lv));
		else
			rc = bot_commit(b, c, av + words, ac);
		free(store);
		return rc;
	}
	if (!bot_may_run(b, c)) {
		if (!b->user)
			rc = bot_refuse_unmapped(b);
		else if (c->kind == CMD_DECIDE)
			rc = bot_refuse(b, "%s is not an approver (approvers in policy.yaml)", b->user);
		else
			rc = bot_refuse(b, "%s may not run %s (commands.%s in policy.yaml)", b->user,
			    c->name, c->acl);
		free(store);
		return rc;
	}
	rc = c->kind == CMD_MUTATE ? bot_commit(b, c, av + words, ac) :
	    c->run(b, av + words, ac);
	free(store);
	return rc;
}

int
bot_run(const struct config *cfg, const struct bot_request *rq, struct bot_answer *ans)
{
	struct bot b;

	memset(ans, 0, sizeof(*ans));
	memset(&b, 0, sizeof(b));
	b.cfg = cfg;
	b.rq = rq;
	b.ans = ans;
	snprintf(b.ref, sizeof(b.ref), "refs/heads/%s", cfg->branch);
	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	if (repo_open(&b.repo, cfg->repo) != OK) {
		bot_fail(&b, "opening the repository");
		return ans->code;
	}
	if (load_policy(&b) != OK) {
		bot_fail(&b, "reading the applied policy");
		goto out;
	}
	/* Only an identity the chat platform vouches for maps to a user: a
	 * bare IRC nick can be taken by anyone. */
	if (rq->health)
		b.user = POLICY_HEALTH_USER;
	else if (rq->user && policy_user_reserved(rq->user))
		b.user = NULL;          /* only the health action acts as it */
	else if (rq->user)
		b.user = rq->user;
	else if (rq->identity && !rq->unverified)
		b.user = policy_identity(b.policy, rq->identity);
	if (b.user && !rq->health && policy_user_reserved(b.user))
		b.user = NULL;
	b.may_approve = !rq->no_approve;
	if (b.user)
		snprintf(ans->user, sizeof(ans->user), "%s", b.user);
	dispatch(&b);
out:
	/* Answers quote what was asked ("'%.40s' is not a kind"): a cut
	 * character must not reach the chat (utf8_repair). */
	utf8_repair(ans->text.data, ans->text.len);
	policy_free(b.policy);
	ynode_free(b.policy_root);
	repo_free(b.repo);
	return ans->code;
}

void
bot_answer_dispose(struct bot_answer *a)
{
	buf_dispose(&a->text);
}
