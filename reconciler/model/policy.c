/*
 * policy.c - policy.yaml parsing and the questions asked of it.  See policy.h.
 */
#include "model/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"

static const char *const decision_names[] = { "noop", "auto", "observe", "approve", "invalid" };
static const char *const action_names[] = { "add", "modify", "delete" };

/* The mutating chat commands `commands:` may name (dns covers dns add/rm,
 * drain covers undrain, provision covers decommission). */
static const char *const mutating_commands[] = { "deploy", "drain", "provision", "dns", "revert" };

static const char *const policy_keys[] = {
	"auto", "observe", "limits", "approvers", "commands", "groups", "identities",
	"self_approve",
};

const char *
decision_name(enum decision d)
{
	ASSERT(d <= DECISION_INVALID);
	return decision_names[d];
}

const char *
action_name(enum change_action a)
{
	ASSERT(a <= ACTION_DELETE);
	return action_names[a];
}

struct policy *
policy_empty(void)
{
	return xcalloc(1, sizeof(struct policy));
}

static void
entries_free(struct policy_entry *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(e[i].key);
		strlist_dispose(&e[i].names);
	}
	free(e);
}

void
policy_free(struct policy *p)
{
	size_t i;

	if (!p)
		return;
	strlist_dispose(&p->autos);
	strlist_dispose(&p->observes);
	for (i = 0; i < p->nlimits; i++)
		free(p->limits[i].type);
	free(p->limits);
	entries_free(p->approvers, p->napprovers);
	entries_free(p->commands, p->ncommands);
	entries_free(p->groups, p->ngroups);
	for (i = 0; i < p->nidentities; i++) {
		free(p->identities[i].id);
		free(p->identities[i].user);
	}
	free(p->identities);
	free(p);
}

/* "dns.delete" -> kind and action; returns 1 when it is a change type. */
static int
parse_type(const char *s, enum change_kind *kind, enum change_action *action)
{
	const char *dot = strchr(s, '.');
	char k[16];
	int a;

	if (!dot || (size_t)(dot - s) >= sizeof(k))
		return 0;
	memcpy(k, s, (size_t)(dot - s));
	k[dot - s] = '\0';
	if (kind_parse(kind, k) != OK)
		return 0;
	for (a = 0; a <= ACTION_DELETE; a++)
		if (strcmp(dot + 1, action_names[a]) == 0) {
			*action = (enum change_action)a;
			return 1;
		}
	return 0;
}

static const char *const all_types[] = {
	"enc.add", "enc.modify", "enc.delete", "dns.add", "dns.modify", "dns.delete",
	"pin.add", "pin.modify", "pin.delete", "policy.add", "policy.modify", "policy.delete",
};

static int
type_ok(const char *file, struct diags *d, const struct ynode *n)
{
	enum change_kind k;
	enum change_action a;
	const char *hint;

	if (n->type == YNODE_SCALAR && parse_type(n->str, &k, &a))
		return 1;
	if (n->type != YNODE_SCALAR) {
		diags_add(d, file, n->line, n->col, "a change type must be a name like "
		    "dns.delete, not %s", ynode_type_name(n));
		return 0;
	}
	hint = did_you_mean(n->str, all_types, sizeof(all_types) / sizeof(*all_types));
	if (hint)
		diags_add(d, file, n->line, n->col, "'%s' is not a change type (did you mean "
		    "'%s'?)", n->str, hint);
	else
		diags_add(d, file, n->line, n->col, "'%s' is not a change type "
		    "(<enc|dns|pin|policy>.<add|modify|delete>)", n->str);
	return 0;
}

static void
parse_types(const struct ynode *root, const char *key, const char *file, struct diags *d,
    struct strlist *out)
{
	const struct ynode *n = ynode_get(root, key);
	size_t i;

	if (!n || (n->type == YNODE_SCALAR && ynode_scalar_kind(n) == YSCALAR_NULL))
		return;
	if (n->type != YNODE_SEQ) {
		diags_add(d, file, n->line, n->col, "'%s' must be a list of change types, "
		    "not %s", key, ynode_type_name(n));
		return;
	}
	for (i = 0; i < n->n; i++) {
		if (!type_ok(file, d, n->items[i]))
			continue;
		if (strncmp(n->items[i]->str, "policy.", 7) == 0) {
			diags_add(d, file, n->items[i]->line, n->items[i]->col,
			    "'%s' cannot be in '%s': a change to policy.yaml always needs "
			    "an approver of policy", n->items[i]->str, key);
			continue;
		}
		strlist_push(out, n->items[i]->str, n->items[i]->line);
	}
}

/* A user list: names or "*"; one name alone is accepted as a list of one. */
static void
parse_users(const struct ynode *n, const char *file, struct diags *d, struct strlist *out)
{
	size_t i;

	if (n->type == YNODE_SCALAR && ynode_scalar_kind(n) != YSCALAR_NULL) {
		if (strcmp(n->str, "*") == 0 || valid_user(n->str))
			strlist_push(out, n->str, n->line);
		else
			diags_add(d, file, n->line, n->col, "'%s' is not a valid user or group name",
			    n->str);
		return;
	}
	if (n->type != YNODE_SEQ) {
		diags_add(d, file, n->line, n->col, "expected a list of users, not %s",
		    ynode_type_name(n));
		return;
	}
	for (i = 0; i < n->n; i++) {
		const struct ynode *it = n->items[i];

		if (it->type == YNODE_SCALAR && (strcmp(it->str, "*") == 0 || valid_user(it->str)))
			strlist_push(out, it->str, it->line);
		else
			diags_add(d, file, it->line, it->col, "'%s' is not a valid user or group name",
			    it->type == YNODE_SCALAR ? it->str : ynode_type_name(it));
	}
}

/* A mapping of key -> user list; `keyok` checks keys and may report. */
static struct policy_entry *
parse_entries(const struct ynode *root, const char *key, const char *file, struct diags *d,
    size_t *count, int (*keyok)(const struct ynode *, const char *, struct diags *))
{
	const struct ynode *n = ynode_get(root, key);
	struct policy_entry *v;
	size_t i;

	*count = 0;
	if (!n || (n->type == YNODE_SCALAR && ynode_scalar_kind(n) == YSCALAR_NULL))
		return NULL;
	if (n->type != YNODE_MAP) {
		diags_add(d, file, n->line, n->col, "'%s' must be a mapping, not %s", key,
		    ynode_type_name(n));
		return NULL;
	}
	v = xcalloc(n->n ? n->n : 1, sizeof(*v));
	for (i = 0; i < n->n; i++) {
		if (!keyok(n->keys[i], file, d))
			continue;
		v[*count].key = xstrdup(n->keys[i]->str);
		parse_users(n->items[i], file, d, &v[*count].names);
		(*count)++;
	}
	return v;
}

static int
approver_key_ok(const struct ynode *k, const char *file, struct diags *d)
{
	enum change_kind kind;
	static const char *const kinds[] = { "enc", "dns", "pin", "policy", "*" };
	const char *hint;

	if (strcmp(k->str, "*") == 0 || kind_parse(&kind, k->str) == OK)
		return 1;
	hint = did_you_mean(k->str, kinds, 5);
	diags_add(d, file, k->line, k->col, "approvers are keyed by kind (enc, dns, pin, "
	    "policy) or \"*\", not '%s'%s%s%s", k->str, hint ? " (did you mean '" : "",
	    hint ? hint : "", hint ? "'?)" : "");
	return 0;
}

static int
command_key_ok(const struct ynode *k, const char *file, struct diags *d)
{
	size_t i, n = sizeof(mutating_commands) / sizeof(*mutating_commands);
	const char *hint;

	for (i = 0; i < n; i++)
		if (strcmp(k->str, mutating_commands[i]) == 0)
			return 1;
	hint = did_you_mean(k->str, mutating_commands, n);
	diags_add(d, file, k->line, k->col, "'%s' is not a command that changes anything "
	    "(deploy, drain, provision, dns, revert)%s%s%s", k->str,
	    hint ? "; did you mean '" : "", hint ? hint : "", hint ? "'?" : "");
	return 0;
}

static int
group_key_ok(const struct ynode *k, const char *file, struct diags *d)
{
	if (valid_user(k->str))
		return 1;
	diags_add(d, file, k->line, k->col, "'%s' is not a valid group name", k->str);
	return 0;
}

static void
parse_identities(struct policy *p, const struct ynode *root, const char *file,
    struct diags *d)
{
	const struct ynode *n = ynode_get(root, "identities");
	size_t i;

	if (!n || (n->type == YNODE_SCALAR && ynode_scalar_kind(n) == YSCALAR_NULL))
		return;
	if (n->type != YNODE_MAP) {
		diags_add(d, file, n->line, n->col, "'identities' must be a mapping of "
		    "\"platform:id\" to user, not %s", ynode_type_name(n));
		return;
	}
	p->identities = xcalloc(n->n ? n->n : 1, sizeof(*p->identities));
	for (i = 0; i < n->n; i++) {
		const struct ynode *k = n->keys[i], *v = n->items[i];
		const char *colon = strchr(k->str, ':');
		size_t j;
		int ok = colon && colon[1] != '\0';

		/* "<platform>:<id>": the platform is whatever the chat provider
		 * that vouches for the id calls itself (slack, mattermost,
		 * irc-account, ...; a provider added later needs no change
		 * here), the id anything printable without spaces. */
		if (ok) {
			size_t pl = (size_t)(colon - k->str);

			ok = pl >= 2 && pl <= 32 && k->str[0] >= 'a' && k->str[0] <= 'z';
			for (j = 1; ok && j < pl; j++)
				ok = (k->str[j] >= 'a' && k->str[j] <= 'z') ||
				    (k->str[j] >= '0' && k->str[j] <= '9') || k->str[j] == '-';
			for (j = 1; ok && colon[j]; j++)
				if ((unsigned char)colon[j] <= ' ' || colon[j] == 0x7f)
					ok = 0;
		}
		if (!ok) {
			diags_add(d, file, k->line, k->col, "'%s' is not a chat identity "
			    "(platform:id, like slack:U024BE7LH, mattermost:ID, irc-account:NAME)",
			    k->str);
			continue;
		}
		if (v->type != YNODE_SCALAR || !valid_user(v->str)) {
			diags_add(d, file, v->line, v->col, "identity '%s' must map to a user "
			    "name", k->str);
			continue;
		}
		p->identities[p->nidentities].id = xstrdup(k->str);
		p->identities[p->nidentities].user = xstrdup(v->str);
		p->nidentities++;
	}
}

struct policy *
policy_parse(const struct ynode *root, const char *file, struct diags *d)
{
	struct policy *p = policy_empty();
	const struct ynode *n;
	size_t i, j, nk = sizeof(policy_keys) / sizeof(*policy_keys);

	for (i = 0; i < root->n; i++) {
		const char *k = root->keys[i]->str, *hint;

		for (j = 0; j < nk; j++)
			if (strcmp(k, policy_keys[j]) == 0)
				break;
		if (j < nk)
			continue;
		hint = did_you_mean(k, policy_keys, nk);
		diags_add(d, file, root->keys[i]->line, root->keys[i]->col,
		    "unknown key '%s' in the policy%s%s%s", k, hint ? " (did you mean '" : "",
		    hint ? hint : "", hint ? "'?)" : "");
	}
	parse_types(root, "auto", file, d, &p->autos);
	parse_types(root, "observe", file, d, &p->observes);
	for (i = 0; i < p->autos.n; i++)
		for (j = 0; j < p->observes.n; j++)
			if (strcmp(p->autos.v[i], p->observes.v[j]) == 0)
				diags_add(d, file, p->observes.lines[j], 0,
				    "'%s' is both auto and observe", p->observes.v[j]);
	if ((n = ynode_get(root, "limits")) && n->type == YNODE_MAP) {
		p->limits = xcalloc(n->n ? n->n : 1, sizeof(*p->limits));
		for (i = 0; i < n->n; i++) {
			uint64_t max;

			if (!type_ok(file, d, n->keys[i]))
				continue;
			if (n->items[i]->type != YNODE_SCALAR || n->items[i]->quoted ||
			    parse_u64(&max, n->items[i]->str, 0, 1000000000) != OK) {
				diags_add(d, file, n->items[i]->line, n->items[i]->col,
				    "the limit for '%s' must be a whole number", n->keys[i]->str);
				continue;
			}
			p->limits[p->nlimits].type = xstrdup(n->keys[i]->str);
			p->limits[p->nlimits].max = max;
			p->nlimits++;
		}
	} else if (n && !(n->type == YNODE_SCALAR && ynode_scalar_kind(n) == YSCALAR_NULL)) {
		diags_add(d, file, n->line, n->col, "'limits' must be a mapping of change type "
		    "to a number, not %s", ynode_type_name(n));
	}
	p->approvers = parse_entries(root, "approvers", file, d, &p->napprovers,
	    approver_key_ok);
	p->commands = parse_entries(root, "commands", file, d, &p->ncommands, command_key_ok);
	p->groups = parse_entries(root, "groups", file, d, &p->ngroups, group_key_ok);
	parse_identities(p, root, file, d);
	if ((n = ynode_get(root, "self_approve"))) {
		if (n->type != YNODE_SCALAR || ynode_scalar_kind(n) != YSCALAR_BOOL)
			diags_add(d, file, n->line, n->col, "'self_approve' must be true or false");
		else
			p->self_approve = n->str[0] == 't' || n->str[0] == 'T' ||
			    n->str[0] == 'y' || n->str[0] == 'Y' ||
			    ((n->str[0] == 'o' || n->str[0] == 'O') && (n->str[1] == 'n' || n->str[1] == 'N'));
	}
	return p;
}

static int
list_has(const struct strlist *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

enum decision
policy_decide(const struct policy *p, enum change_kind kind, enum change_action action)
{
	char type[32];

	if (kind == KIND_POLICY)
		return DECISION_APPROVE;
	snprintf(type, sizeof(type), "%s.%s", kind_name(kind), action_name(action));
	if (list_has(&p->autos, type))
		return DECISION_AUTO;
	if (list_has(&p->observes, type))
		return DECISION_OBSERVE;
	return DECISION_APPROVE;
}

int
policy_limit(const struct policy *p, const char *type, uint64_t *max)
{
	size_t i;

	for (i = 0; i < p->nlimits; i++)
		if (strcmp(p->limits[i].type, type) == 0) {
			*max = p->limits[i].max;
			return 1;
		}
	return 0;
}

static const struct policy_entry *
entry_find(const struct policy_entry *v, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].key, key) == 0)
			return &v[i];
	return NULL;
}

int
policy_user_in(const struct policy *p, const char *user, const char *name)
{
	const struct policy_entry *g;

	if (strcmp(name, "*") == 0 || strcmp(name, user) == 0)
		return 1;
	/* Groups expand one level: a group names users, not groups. */
	g = entry_find(p->groups, p->ngroups, name);
	return g && list_has(&g->names, user);
}

static int
entry_allows(const struct policy *p, const struct policy_entry *e, const char *user)
{
	size_t i;

	if (!e)
		return 0;
	for (i = 0; i < e->names.n; i++)
		if (policy_user_in(p, user, e->names.v[i]))
			return 1;
	return 0;
}

int
policy_may_approve(const struct policy *p, const char *user, enum change_kind kind)
{
	return entry_allows(p, entry_find(p->approvers, p->napprovers, kind_name(kind)), user) ||
	    entry_allows(p, entry_find(p->approvers, p->napprovers, "*"), user);
}

static void
push_once(struct strlist *out, const char *name)
{
	if (!list_has(out, name))
		strlist_push(out, name, 0);
}

void
policy_approvers(struct strlist *out, const struct policy *p, enum change_kind kind)
{
	const struct policy_entry *es[2] = {
		entry_find(p->approvers, p->napprovers, kind_name(kind)),
		entry_find(p->approvers, p->napprovers, "*"),
	};
	size_t e, i, j;

	for (e = 0; e < 2; e++)
		for (i = 0; es[e] && i < es[e]->names.n; i++) {
			const char *name = es[e]->names.v[i];
			const struct policy_entry *g = strcmp(name, "*") == 0 ? NULL :
			    entry_find(p->groups, p->ngroups, name);

			if (!g) {
				push_once(out, name);
				continue;
			}
			for (j = 0; j < g->names.n; j++)
				push_once(out, g->names.v[j]);
		}
}

int
policy_may_run(const struct policy *p, const char *user, const char *cmd)
{
	return entry_allows(p, entry_find(p->commands, p->ncommands, cmd), user);
}

const char *
policy_identity(const struct policy *p, const char *platform_id)
{
	size_t i;

	for (i = 0; i < p->nidentities; i++)
		if (strcmp(p->identities[i].id, platform_id) == 0)
			return p->identities[i].user;
	return NULL;
}

void
policy_objects(const struct ynode *root, struct artifact *a)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; root && i < root->n; i++) {
		buf_reset(&b);
		yemit_json(&b, root->items[i]);
		artifact_add_object(a, xstrdup(root->keys[i]->str), xstrndup(b.data, b.len));
	}
	buf_dispose(&b);
}
