/*
 * cmd_chat.c - chat commands from the shell (`firebreak chat --as USER
 * ...`), and the controller's children that run the ones from Slack,
 * Mattermost and IRC and answer through the chat provider they came from.
 */
#include "cli/cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "bot/bot.h"
#include "controller/controller.h"
#include "model/policy.h"
#include "providers/chat/chat.h"

/*
 * The provider of the config's chat[entry], opened (its secrets read) for
 * one answer.  Dies with exit 1 when the entry does not exist or cannot
 * answer by itself.
 */
static const struct chat_provider *
open_entry(void **st, const struct config *cfg, const char *entry)
{
	const struct chat_provider *p;
	const struct ynode *e, *t;
	uint64_t v;

	if (parse_u64(&v, entry, 0, 1000) != OK || !cfg->chat || cfg->chat->type != YNODE_SEQ ||
	    v >= cfg->chat->n)
		usage_error("--chat-entry is the index of an entry of the config's chat list");
	e = cfg->chat->items[v];
	t = ynode_get(e, "type");
	if (!t || !(p = chat_find(t->str)) || !p->ops->reply)
		die(EXIT_INPUT, "%s: chat[%s] cannot answer a command by itself", cfg->path, entry);
	if (p->ops->open(st, e) != OK)
		die(EXIT_INPUT, "%s:%d: chat[%s] %s: %s", cfg->path, e->line, entry, p->name,
		    err_last());
	return p;
}

/* Answer through chat[entry]'s reply op (Slack's and Mattermost's
 * response_url); the provider checks reply_to again.  Exit 0 or 3. */
static int
reply_through(const struct config *cfg, const char *entry, const char *reply_to,
    const char *text)
{
	void *st = NULL;
	const struct chat_provider *p = open_entry(&st, cfg, entry);
	int rc = p->ops->reply(st, reply_to, text);

	if (rc != OK)
		fprintf(stderr, "firebreak: chat[%s] %s: %s\n", entry, p->name, err_last());
	p->ops->close(st);
	return rc == OK ? EXIT_OK : EXIT_ENV;
}

/*
 * A chat command from the shell: `--as USER` names a policy user (the
 * shell is for operators who can already write the state directory).
 * The controller runs the same for what arrives from Slack, Mattermost
 * and IRC: `--identity PLATFORM:ID --via WHERE --json`, `--unverified`
 * when the platform does not vouch for the identity (a bare IRC nick),
 * `--no-approve` when approving may not come from there, and
 * `--chat-entry N --reply-to R` when chat[N]'s provider answers by itself.
 */
int
cmd_chat(int argc, char **argv)
{
	struct opts o;
	struct config *cfg;
	struct bot_request rq;
	struct bot_answer ans;
	struct buf text = BUF_INIT;
	int i, rc;

	parse_opts(&o, argc, argv, "config as identity via json unverified no-approve reply-to "
	    "chat-entry health-action reason ha-fence", 16);
	if (!o.reply_to != !o.chat_entry)
		usage_error("--reply-to and --chat-entry go together");
	if (o.health_action ? (o.as || o.identity) : !o.as == !o.identity)
		usage_error("chat needs --as USER (or --identity PLATFORM:ID) and a command");
	if (o.reason && !o.health_action)
		usage_error("--reason goes with --health-action");
	if (o.as && !valid_user(o.as))
		die(EXIT_INPUT, "'%s' is not a valid user name", o.as);
	if (o.as && policy_user_reserved(o.as))
		die(EXIT_INPUT, "'%s' is reserved for firebreak's own health actions", o.as);
	if (o.identity && (strlen(o.identity) > 200 || !strchr(o.identity, ':')))
		usage_error("--identity is PLATFORM:ID, like slack:U024BE7LH");
	for (i = 0; i < o.nargs; i++)
		buf_printf(&text, "%s%s", i ? " " : "", o.args[i]);
	cfg = load_config(o.config);
	memset(&rq, 0, sizeof(rq));
	rq.user = o.as;
	rq.identity = o.identity;
	rq.unverified = o.unverified;
	rq.no_approve = o.no_approve;
	rq.via = o.via ? o.via : "shell";
	rq.health = o.health_action;
	rq.reason = o.reason;
	rq.text = text.data ? text.data : "";
	rq.decide_offline = decide_anywhere;
	/* The controller's child, with `ha:`: commit only while the leader
	 * that started it leads (controller_ha_fence). */
	if (o.ha_fence && cfg->ha) {
		rq.fence = controller_ha_fence;
		rq.fence_token = o.ha_fence;
	}
	rc = bot_run(cfg, &rq, &ans);
	if (o.json) {
		json_t *j = json_pack("{s:i, s:s, s:s, s:s}", "code", rc, "commit", ans.commit,
		    "user", ans.user, "text", ans.text.data ? ans.text.data : "");
		char *dump = j ? json_dumps(j, JSON_COMPACT) : NULL;

		if (dump)
			printf("%s\n", dump);
		free(dump);
		json_decref(j);
	} else if (ans.text.len) {
		fputs(ans.text.data, rc == 0 ? stdout : stderr);
	}
	if (o.reply_to)
		reply_through(cfg, o.chat_entry, o.reply_to, ans.text.data ? ans.text.data : "");
	bot_answer_dispose(&ans);
	buf_dispose(&text);
	config_free(cfg);
	return rc == 0 ? EXIT_OK : rc == 1 ? EXIT_INPUT : EXIT_ENV;
}

/*
 * `trust --config C` prints the trust ladder's table; `trust --config C
 * --as USER promote|demote TYPE` makes the policy commit, as the chat
 * commands do (the same handlers, through bot_run).
 */
int
cmd_trust(int argc, char **argv)
{
	struct opts o;
	struct config *cfg;
	struct bot_request rq;
	struct bot_answer ans;
	struct buf text = BUF_INIT;
	int i, rc;

	parse_opts(&o, argc, argv, "config as", 2);
	if (o.nargs && !o.as)
		usage_error("trust promote|demote TYPE needs --as USER");
	if (o.nargs && (o.nargs != 2 || (strcmp(o.args[0], "promote") != 0 &&
	    strcmp(o.args[0], "demote") != 0)))
		usage_error("trust [--as USER promote|demote TYPE]");
	if (o.as && (!valid_user(o.as) || policy_user_reserved(o.as)))
		die(EXIT_INPUT, "'%s' is not a user name you may act as", o.as);
	buf_puts(&text, "trust");
	for (i = 0; i < o.nargs; i++)
		buf_printf(&text, " %s", o.args[i]);
	cfg = load_config(o.config);
	memset(&rq, 0, sizeof(rq));
	rq.user = o.as;
	rq.via = "shell";
	rq.text = text.data;
	rq.decide_offline = decide_anywhere;
	rc = bot_run(cfg, &rq, &ans);
	if (ans.text.len)
		fputs(ans.text.data, rc == 0 ? stdout : stderr);
	bot_answer_dispose(&ans);
	buf_dispose(&text);
	config_free(cfg);
	return rc == 0 ? EXIT_OK : rc == 1 ? EXIT_INPUT : EXIT_ENV;
}

/* `reply --config C --chat-entry N --reply-to R TEXT`: the controller's
 * child that tells someone how a command ended when the command itself
 * could not (it died). */
int
cmd_reply(int argc, char **argv)
{
	struct opts o;
	struct config *cfg;
	struct buf text = BUF_INIT;
	int i;

	parse_opts(&o, argc, argv, "config chat-entry reply-to", 16);
	if (!o.chat_entry || !o.reply_to)
		usage_error("reply needs --config C --chat-entry N --reply-to R and a text");
	for (i = 0; i < o.nargs; i++)
		buf_printf(&text, "%s%s", i ? " " : "", o.args[i]);
	cfg = load_config(o.config);
	i = reply_through(cfg, o.chat_entry, o.reply_to, text.data ? text.data : "");
	buf_dispose(&text);
	config_free(cfg);
	return i;
}
