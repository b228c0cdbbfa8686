/*
 * ladder.c - the trust ladder in chat (DESIGN.md "Trust ladder"): `trust`
 * shows the table (state/trust.h), `trust promote TYPE` and `trust demote
 * TYPE` move a change type or an action one step in policy.yaml.
 *
 *   change type:  approve  <->  observe  <->  auto
 *   action:       off      <->  observe  <->  auto
 *
 * These are the only bot commits that touch policy.yaml.  Their plans are
 * never auto-applied: a change to policy.yaml always needs an approver of
 * policy (model/policy.c decides every policy change "approve", and no
 * list may make it auto), and the person who asked cannot approve it
 * alone unless policy says self_approve.  See botint.h.
 */
#include "bot/botint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/edit.h"
#include "model/policy.h"
#include "state/trust.h"

static const char *const types[] = {
	"enc.add", "enc.modify", "enc.delete", "dns.add", "dns.modify", "dns.delete",
	"pin.add", "pin.modify", "pin.delete",
};

int
bot_run_trust(struct bot *b, char **av, size_t ac)
{
	struct trust_table t;
	size_t i;

	(void)av;
	(void)ac;
	if (trust_load(&t, b->cfg->state, b->policy) != OK)
		return bot_fail(b, "reading the trust ladder");
	bot_say(b, "the trust ladder (policy.yaml of the applied commit; observe plans agreed = "
	    "approved unchanged, disagreed = discarded, superseded by another plan or reverted):\n");
	trust_format(&b->ans->text, &t);
	for (i = 0; i < t.n; i++)
		if (t.rows[i].suggest_promote) {
			trust_promotion_line(&b->ans->text, &t.rows[i]);
			buf_putc(&b->ans->text, '\n');
		}
	trust_table_dispose(&t);
	return OK;
}

/* ---- editing policy.yaml ---------------------------------------------------- */

/* Is s the item list `key` of the policy root: its index of `value`, or -1. */
static long
item_index(const struct ynode *root, const char *key, const char *value)
{
	const struct ynode *l = ynode_get(root, key);
	size_t i;

	for (i = 0; l && l->type == YNODE_SEQ && i < l->n; i++)
		if (l->items[i]->type == YNODE_SCALAR && strcmp(l->items[i]->str, value) == 0)
			return (long)i;
	return -1;
}

/*
 * Append scalar `value` (a change type: plain-safe) to the list `key` of
 * the root mapping, in the list's own style: `[a, b]` gets `, value` before
 * its bracket (`[]` becomes `[value]`); a block list gets a `- value` line
 * after its last item, indented like it; a missing or null key becomes
 * `key: [value]` on a new line at the end.  Checked by parsing the result
 * again: the list has the value added and nothing else changed.
 */
static int
list_append(char **out, size_t *outlen, const char *doc, size_t len, const char *key,
    const char *value)
{
	struct ynode *root = NULL, *after = NULL;
	const struct ynode *l;
	struct buf b = BUF_INIT;
	int line, col, rc;

	*out = NULL;
	if ((rc = ydoc_parse(&root, doc, len, NULL, &line, &col)) != OK || root->type != YNODE_MAP) {
		ynode_free(root);
		return err_set(ERR_INVALID, "policy.yaml does not parse as a mapping");
	}
	l = ynode_get(root, key);
	if (!l) {
		buf_append(&b, doc, len);
		if (len && doc[len - 1] != '\n')
			buf_putc(&b, '\n');
		buf_printf(&b, "%s: [%s]\n", key, value);
	} else if (l->type == YNODE_SCALAR && ynode_scalar_kind(l) == YSCALAR_NULL) {
		/* `key:` with nothing, `key: ~` or `key: null`: the value goes
		 * where the null is (right after the colon when it is empty). */
		const struct ynode *k = NULL;
		size_t i, at;

		for (i = 0; i < root->n; i++)
			if (root->items[i] == l)
				k = root->keys[i];
		at = k ? k->end : len;
		while (at < len && doc[at] != ':')
			at++;
		if (at >= len) {
			ynode_free(root);
			return err_set(ERR_INVALID, "policy.yaml: '%s' is not a list this bot can edit",
			    key);
		}
		at++;
		if (l->len && l->start >= at && l->end > l->start) {
			buf_append(&b, doc, l->start);
			buf_printf(&b, "[%s]", value);
			buf_append(&b, doc + l->end, len - l->end);
		} else {
			buf_append(&b, doc, at);
			buf_printf(&b, " [%s]", value);
			buf_append(&b, doc + at, len - at);
		}
	} else if (l->type == YNODE_SEQ && l->end > l->start && doc[l->end - 1] == ']') {
		size_t close = l->end - 1;

		buf_append(&b, doc, close);
		buf_printf(&b, "%s%s", l->n ? ", " : "", value);
		buf_append(&b, doc + close, len - close);
	} else if (l->type == YNODE_SEQ && l->n) {
		/* After the last item's line (its comment stays with it), one
		 * more line with the first item's indentation and dash. */
		size_t eol = l->items[l->n - 1]->end, bol = l->items[0]->start;

		while (eol < len && doc[eol] != '\n')
			eol++;
		while (bol > 0 && doc[bol - 1] != '\n')
			bol--;
		buf_append(&b, doc, eol);
		buf_putc(&b, '\n');
		buf_append(&b, doc + bol, l->items[0]->start - bol);
		buf_puts(&b, value);
		buf_append(&b, doc + eol, len - eol);
	} else {
		ynode_free(root);
		return err_set(ERR_INVALID, "policy.yaml: '%s' is not a list this bot can edit", key);
	}
	/* Check: parses, the list gained exactly `value`, the rest is equal. */
	rc = ydoc_parse(&after, b.data, b.len, NULL, &line, &col);
	if (rc == OK) {
		const struct ynode *la = ynode_get(after, key);
		size_t i;

		rc = la && la->type == YNODE_SEQ && la->n >= 1 &&
		    strcmp(la->items[la->n - 1]->str ? la->items[la->n - 1]->str : "", value) == 0 ?
		    OK : ERR_INVALID;
		for (i = 0; rc == OK && i < root->n; i++) {
			const struct ynode *k = root->keys[i];

			if (strcmp(k->str, key) != 0 && !ynode_equal(root->items[i],
			    ynode_get(after, k->str)))
				rc = ERR_INVALID;
		}
		if (rc == OK && l && l->type == YNODE_SEQ) {
			for (i = 0; i < l->n; i++)
				if (i >= la->n || !ynode_equal(l->items[i], la->items[i]))
					rc = ERR_INVALID;
			if (la->n != l->n + 1)
				rc = ERR_INVALID;
		}
	}
	ynode_free(root);
	ynode_free(after);
	if (rc != OK) {
		buf_dispose(&b);
		return err_set(ERR_INVALID, "policy.yaml: adding %s to '%s' would not read back as "
		    "intended; edit it by hand", value, key);
	}
	*outlen = b.len;
	*out = buf_steal(&b);
	return OK;
}

/* Remove `value` from list `key` (edit.h), in place. */
static int
list_remove(char **doc, size_t *len, const char *key, const char *value)
{
	const char *path[] = { key };
	struct ynode *root = NULL;
	char *out = NULL;
	size_t outlen = 0;
	long idx;
	int line, col, rc;

	if ((rc = ydoc_parse(&root, *doc, *len, NULL, &line, &col)) != OK)
		return err_set(ERR_INVALID, "policy.yaml does not parse");
	idx = item_index(root, key, value);
	ynode_free(root);
	if (idx < 0)
		return OK;
	if ((rc = edit_seq_remove(&out, &outlen, *doc, *len, path, 1, (size_t)idx)) != OK)
		return err_set(rc, "policy.yaml: %s", err_last());
	free(*doc);
	*doc = out;
	*len = outlen;
	return OK;
}

static int
list_add(char **doc, size_t *len, const char *key, const char *value)
{
	char *out = NULL;
	size_t outlen = 0;
	int rc = list_append(&out, &outlen, *doc, *len, key, value);

	if (rc != OK)
		return rc;
	free(*doc);
	*doc = out;
	*len = outlen;
	return OK;
}

static int
is_type(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(*types); i++)
		if (strcmp(s, types[i]) == 0)
			return 1;
	return 0;
}

/* One step up (dir = 1) or down (-1) for TYPE, as a change of policy.yaml. */
static int
edit_trust(struct bot *b, struct mut *mu, const char *name, int dir)
{
	static const char *const type_levels[] = { "approve", "observe", "auto" };
	struct buf src = BUF_INIT;
	struct ynode *root = NULL;
	char *doc = NULL;
	size_t len = 0;
	int from, to, rc, action = strcmp(name, POLICY_ACTION_DRAIN) == 0;
	const char *const *levels = action ? NULL : type_levels;

	if (!action && !is_type(name)) {
		if (strncmp(name, "policy.", 7) == 0)
			return bot_refuse(b, "%s cannot be promoted: a change to policy.yaml always "
			    "needs an approver of policy", name);
		return bot_refuse(b, "'%.40s' is not a change type or action (enc|dns|pin . "
		    "add|modify|delete, or health.drain)", name);
	}
	rc = bot_load_yaml(b, mu->head, "policy.yaml", &src, &root);
	if (rc == ERR_NOTFOUND) {
		rc = OK;
		buf_puts(&src, "");
	}
	if (rc != OK) {
		buf_dispose(&src);
		return bot_refuse(b, "%s", err_last());
	}
	if (action)
		from = (int)policy_action_level(mu->m->policy, name);
	else
		from = item_index(root, "auto", name) >= 0 ? 2 :
		    item_index(root, "observe", name) >= 0 ? 1 : 0;
	ynode_free(root);
	to = from + dir;
	if (to < 0 || to > 2) {
		bot_say(b, "%s is already %s; nothing to do\n", name, action ?
		    action_level_name((enum action_level)from) : levels[from]);
		mu->nothing = 1;
		buf_dispose(&src);
		return OK;
	}
	len = src.len;
	doc = buf_steal(&src);
	if (!doc)
		doc = xstrdup("");
	if (action) {
		const char *path[] = { "actions", name };
		char *out = NULL;
		size_t outlen = 0;

		rc = edit_set_scalar(&out, &outlen, doc, len, path, 2,
		    action_level_name((enum action_level)to));
		if (rc == OK) {
			free(doc);
			doc = out;
			len = outlen;
		} else {
			rc = err_set(rc, "policy.yaml: %s", err_last());
		}
	} else {
		/* Out of the list it is in, into the one it goes to. */
		if (from > 0)
			rc = list_remove(&doc, &len, from == 2 ? "auto" : "observe", name);
		if (rc == OK && to > 0)
			rc = list_add(&doc, &len, to == 2 ? "auto" : "observe", name);
	}
	if (rc != OK) {
		free(doc);
		return bot_refuse(b, "%s", err_last());
	}
	buf_printf(&mu->subject, "trust %s %s (%s -> %s)", dir > 0 ? "promote" : "demote", name,
	    action ? action_level_name((enum action_level)from) : levels[from],
	    action ? action_level_name((enum action_level)to) : levels[to]);
	mu->ch[0].path = xstrdup("policy.yaml");
	mu->ch[0].data = doc;
	mu->ch[0].len = len;
	mu->n = 1;
	return OK;
}

int
bot_edits_policy(const struct command *c)
{
	return c->edit == bot_edit_trust_promote || c->edit == bot_edit_trust_demote;
}

int
bot_edit_trust_promote(struct bot *b, struct mut *mu, char **av, size_t ac)
{
	(void)ac;
	return edit_trust(b, mu, av[0], 1);
}

int
bot_edit_trust_demote(struct bot *b, struct mut *mu, char **av, size_t ac)
{
	(void)ac;
	return edit_trust(b, mu, av[0], -1);
}
