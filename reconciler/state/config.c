/*
 * config.c - see config.h.
 */
#include "state/config.h"

#include "git/repo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/secret.h"
#include "providers/orchestrate/orchestrate.h"

static const char *const top_keys[] = {
	"repo", "branch", "remote", "poll_seconds", "state", "bot", "listen", "chat",
	"apply", "hook_secret_file", "remote_auth", "retention", "rollout", "drift_seconds",
	"health", "metrics", "ha",
};
static const char *const ha_keys[] = { "etcd", "name", "lease_seconds" };
static const char *const rollout_keys[] = { "orchestrator", "canary", "batch", "parallel",
	"max_failures", "staged", "gates", "retry_backoff" };
static const char *const retention_keys[] = { "days", "plans" };
static const char *const bot_keys[] = { "name", "email" };
static const char *const auth_keys[] = { "username", "password_file", "ssh_key_file",
	"ssh_pubkey_file", "passphrase_file" };

struct cctx {
	struct config *c;
	struct diags *d;
	const char *file;
	char *dir;               /* the file's directory, for relative paths */
};

/* A problem at node n of the configuration file. */
#define bad(x, n, ...) diags_at((x)->d, (x)->file, (n), __VA_ARGS__)

/* A string value (owns), or NULL when absent or null. */
static char *
str(struct cctx *x, const struct ynode *map, const char *key)
{
	const struct ynode *n = ynode_get(map, key);

	if (!n || (n->type == YNODE_SCALAR && ynode_scalar_kind(n) == YSCALAR_NULL))
		return NULL;
	if (n->type != YNODE_SCALAR || strlen(n->str) != n->len) {
		bad(x, n, "'%s' must be a string, not %s", key, ynode_type_name(n));
		return NULL;
	}
	return xstrdup(n->str);
}

/* A path value, made absolute against the config file's directory. */
static char *
path(struct cctx *x, const struct ynode *map, const char *key)
{
	char *p = str(x, map, key), *abs;

	if (!p || p[0] == '/')
		return p;
	abs = xasprintf("%s/%s", x->dir, p);
	free(p);
	return abs;
}

/* A secret from the file named at `key` of map `m`, into *out. */
static void
secret(struct cctx *x, const struct ynode *m, const char *key, char **out)
{
	char *file = path(x, m, key);

	if (!file)
		return;
	/* err_last() names the file and why; never the secret. */
	if (secret_read(out, file, SECRET_LINE) != OK)
		bad(x, ynode_get(m, key), "%s: %s", key, err_last());
	free(file);
}

/* Each `chat:` and `apply:` entry is a mapping with a `type`; the
 * providers check the rest when they open. */
static void
check_list(struct cctx *x, const struct ynode *list, const char *key)
{
	size_t i;

	if (!list)
		return;
	if (list->type != YNODE_SEQ) {
		bad(x, list, "'%s' must be a list of mappings with a 'type'", key);
		return;
	}
	for (i = 0; i < list->n; i++) {
		const struct ynode *it = list->items[i], *t;

		if (it->type != YNODE_MAP || !(t = ynode_get(it, "type")) ||
		    t->type != YNODE_SCALAR)
			bad(x, it, "each entry of '%s' must be a mapping with a 'type'", key);
	}
}

/* An etcd endpoint: http:// or https://, a host (letters, digits, '.',
 * '-', or a bracketed IPv6 address) and a port, nothing after it. */
static int
endpoint_ok(const char *u)
{
	const char *h, *p;
	uint64_t port;

	if (strncmp(u, "http://", 7) == 0)
		h = u + 7;
	else if (strncmp(u, "https://", 8) == 0)
		h = u + 8;
	else
		return 0;
	if (*h == '[') {
		if (!(p = strchr(h, ']')) || p[1] != ':')
			return 0;
		for (const char *q = h + 1; q < p; q++)
			if (!strchr("0123456789abcdefABCDEF:.", *q))
				return 0;
		p++;
	} else {
		if (!(p = strrchr(h, ':')) || p == h)
			return 0;
		for (const char *q = h; q < p; q++)
			if (!(*q >= 'a' && *q <= 'z') && !(*q >= 'A' && *q <= 'Z') &&
			    !(*q >= '0' && *q <= '9') && *q != '.' && *q != '-')
				return 0;
	}
	return parse_u64(&port, p + 1, 1, 65535) == OK && strlen(u) < 200;
}

/* ha: {etcd: [URL...], name: fb-a, lease_seconds: 10}. */
static void
ha(struct cctx *x, const struct ynode *n)
{
	const struct ynode *e, *v;
	struct config_ha *h;
	uint64_t num;

	if (!n || (n->type == YNODE_SCALAR && ynode_scalar_kind(n) == YSCALAR_NULL))
		return;
	if (n->type != YNODE_MAP) {
		bad(x, n, "'ha' must be a mapping {etcd, name, lease_seconds}");
		return;
	}
	diags_unknown_keys(x->d, x->file, n, ha_keys, sizeof(ha_keys) / sizeof(*ha_keys), "ha");
	h = xcalloc(1, sizeof(*h));
	h->line = n->line;
	h->lease_seconds = 10;
	x->c->ha = h;
	if (!(e = ynode_get(n, "etcd")))
		bad(x, n, "'ha.etcd' is required: the etcd endpoints, e.g. [\"http://10.0.0.5:2379\"]");
	else if (e->type != YNODE_SEQ || e->n == 0)
		bad(x, e, "'ha.etcd' must be a non-empty list of endpoint URLs (http://host:port)");
	else if (e->n > HA_ENDPOINTS_MAX)
		bad(x, e, "'ha.etcd' has %zu endpoints; at most %d", e->n, HA_ENDPOINTS_MAX);
	else
		for (size_t i = 0; i < e->n; i++) {
			const struct ynode *u = e->items[i];

			if (u->type != YNODE_SCALAR || strlen(u->str) != u->len || !endpoint_ok(u->str))
				bad(x, u, "'ha.etcd[%zu]' must be an endpoint URL http(s)://host:port "
				    "with nothing after the port", i);
			else
				h->endpoints[h->nendpoints++] = xstrdup(u->str);
		}
	h->name = str(x, n, "name");
	if (!h->name) {
		bad(x, n, "'ha.name' is required: this instance's name, unique among the "
		    "controllers");
	} else {
		size_t len = strlen(h->name), ok = len >= 1 && len <= 64;

		for (size_t i = 0; ok && i < len; i++) {
			char ch = h->name[i];

			ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
		}
		if (!ok)
			bad(x, ynode_get(n, "name"), "'ha.name' must be 1 to 64 letters, digits, "
			    "'.', '_' or '-'");
	}
	if ((v = ynode_get(n, "lease_seconds"))) {
		if (v->type != YNODE_SCALAR || parse_u64(&num, v->str, 1, 3600) != OK)
			bad(x, v, "'ha.lease_seconds' must be a whole number of seconds (1..3600)");
		else
			h->lease_seconds = (unsigned)num;
	}
}

/* retention: {days: 90, plans: 10000}, either key optional. */
static void
retention(struct cctx *x, const struct ynode *n)
{
	const struct ynode *v;
	uint64_t u;

	x->c->retain_days = 90;
	x->c->retain_plans = 10000;
	if (!n || (n->type == YNODE_SCALAR && ynode_scalar_kind(n) == YSCALAR_NULL))
		return;
	if (n->type != YNODE_MAP) {
		bad(x, n, "'retention' must be a mapping {days, plans}");
		return;
	}
	diags_unknown_keys(x->d, x->file, n, retention_keys, 2, "retention");
	if ((v = ynode_get(n, "days"))) {
		if (v->type != YNODE_SCALAR || parse_u64(&u, v->str, 1, 36500) != OK)
			bad(x, v, "'retention.days' must be a whole number of days (1..36500)");
		else
			x->c->retain_days = (unsigned)u;
	}
	if ((v = ynode_get(n, "plans"))) {
		if (v->type != YNODE_SCALAR || parse_u64(&u, v->str, 1, 1000000000) != OK)
			bad(x, v, "'retention.plans' must be a whole number of plans (1..1000000000)");
		else
			x->c->retain_plans = (unsigned long)u;
	}
}

/* A gate names a health check (issue 10): [a-z0-9][a-z0-9_.-]{0,63}. */
static int
gate_name_ok(const char *s)
{
	size_t i;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (i = 1; s[i]; i++)
		if (i >= 64 || !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return 0;
	return 1;
}

static void
rollout_size(struct cctx *x, const struct ynode *r, const char *key, struct radius_size *out,
    unsigned long min)
{
	const struct ynode *v = ynode_get(r, key);

	if (!v)
		return;
	if (v->type != YNODE_SCALAR || radius_size_parse(out, v->str, min) != OK)
		bad(x, v, "'rollout.%s': %s", key, v->type == YNODE_SCALAR ? err_last() :
		    "expected a count of hosts or a percentage such as \"10%\"");
}

static void
rollout_uint(struct cctx *x, const struct ynode *r, const char *key, unsigned long *out,
    unsigned long min, unsigned long max)
{
	const struct ynode *v = ynode_get(r, key);
	uint64_t u;

	if (!v)
		return;
	if (v->type != YNODE_SCALAR || v->quoted || parse_u64(&u, v->str, min, max) != OK)
		bad(x, v, "'rollout.%s' must be a whole number from %lu to %lu", key, min, max);
	else
		*out = (unsigned long)u;
}

/*
 * rollout: {orchestrator: {type, argv, timeout}, canary, batch, parallel,
 * max_failures, staged, gates, retry_backoff}.  The orchestrator is opened
 * (and closed) here: its backend checks the argv template.
 */
static void
rollout(struct cctx *x, const struct ynode *r)
{
	struct config_rollout *ro;
	const struct ynode *o, *t, *v;
	const struct orch_provider *op;
	unsigned long u;
	void *st = NULL;
	size_t i;

	if (!r || (r->type == YNODE_SCALAR && ynode_scalar_kind(r) == YSCALAR_NULL))
		return;
	if (r->type != YNODE_MAP) {
		bad(x, r, "'rollout' must be a mapping {orchestrator, canary, batch, parallel, "
		    "max_failures, staged, gates}");
		return;
	}
	diags_unknown_keys(x->d, x->file, r, rollout_keys, sizeof(rollout_keys) /
	    sizeof(*rollout_keys), "rollout");
	ro = x->c->rollout = xcalloc(1, sizeof(*ro));
	ro->line = r->line;
	ro->canary.n = 1;
	ro->batch.n = 25;
	ro->batch.pct = 1;
	ro->parallel = 10;
	ro->staged = 1;
	ro->retry_backoff = ROLLOUT_BACKOFF_DEFAULT;
	o = ynode_get(r, "orchestrator");
	if (!o || o->type != YNODE_MAP || !(t = ynode_get(o, "type")) || t->type != YNODE_SCALAR) {
		bad(x, o ? o : r, "'rollout.orchestrator' must be a mapping with a 'type' (%s), "
		    "'argv' and 'timeout'", orch_names());
	} else if (!(op = orch_find(t->str))) {
		bad(x, t, "'rollout.orchestrator.type': no orchestrator '%.40s' (%s)", t->str,
		    orch_names());
	} else if (op->ops->open(&st, o) != OK) {
		bad(x, o, "rollout.%s", err_last());
	} else {
		op->ops->close(st);
		ro->orchestrator = o;
		ro->orch_type = t->str;
	}
	rollout_size(x, r, "canary", &ro->canary, 0);
	rollout_size(x, r, "batch", &ro->batch, 1);
	u = ro->parallel;
	rollout_uint(x, r, "parallel", &u, 1, ROLLOUT_PARALLEL_MAX);
	ro->parallel = (unsigned)u;
	rollout_uint(x, r, "max_failures", &ro->max_failures, 0, 1000000);
	u = ro->retry_backoff;
	rollout_uint(x, r, "retry_backoff", &u, 0, 3600);
	ro->retry_backoff = (unsigned)u;
	if ((v = ynode_get(r, "staged"))) {
		if (v->type != YNODE_SCALAR || ynode_scalar_kind(v) != YSCALAR_BOOL)
			bad(x, v, "'rollout.staged' must be true or false");
		else
			ro->staged = strchr("tTyY", v->str[0]) || strcasecmp(v->str, "on") == 0;
	}
	if ((v = ynode_get(r, "gates")) && !(v->type == YNODE_SCALAR &&
	    ynode_scalar_kind(v) == YSCALAR_NULL)) {
		if (v->type != YNODE_SEQ || v->n > ROLLOUT_GATES_MAX) {
			bad(x, v, "'rollout.gates' must be a list of at most %d health check names",
			    ROLLOUT_GATES_MAX);
			return;
		}
		for (i = 0; i < v->n; i++) {
			const struct ynode *g = v->items[i];

			if (g->type != YNODE_SCALAR || strlen(g->str) != g->len || !gate_name_ok(g->str))
				bad(x, g, "'rollout.gates[%zu]': a health check name is "
				    "[a-z0-9][a-z0-9_.-]{0,63}", i);
			else
				strlist_push(&ro->gates, g->str, g->line);
		}
	}
}

int
config_load(struct config **out, const char *file, struct diags *d)
{
	struct buf src = BUF_INIT;
	struct config *c;
	struct cctx x;
	const struct ynode *bot, *n;
	const char *slash;
	int rc, line, col;
	size_t before = d->n;

	*out = NULL;
	if ((rc = fs_read(&src, file, 1u << 20)) != OK) {
		buf_dispose(&src);
		return rc;
	}
	c = xcalloc(1, sizeof(*c));
	c->path = xstrdup(file);
	rc = ydoc_parse(&c->root, src.data, src.len, NULL, &line, &col);
	buf_dispose(&src);
	if (rc != OK) {
		diags_add(d, file, line, col, "%s", err_last());
		config_free(c);
		return ERR_INVALID;
	}
	x.c = c;
	x.d = d;
	x.file = file;
	slash = strrchr(file, '/');
	x.dir = slash ? xstrndup(file, (size_t)(slash - file)) : xstrdup(".");
	if (x.dir[0] == '\0') {
		free(x.dir);
		x.dir = xstrdup("/");
	}
	if (c->root->type != YNODE_MAP) {
		bad(&x, c->root, "the configuration must be a mapping");
		goto done;
	}
	diags_unknown_keys(x.d, x.file, c->root, top_keys, sizeof(top_keys) / sizeof(*top_keys),
	    "the configuration");
	c->repo = path(&x, c->root, "repo");
	c->state = path(&x, c->root, "state");
	c->branch = str(&x, c->root, "branch");
	c->remote = str(&x, c->root, "remote");
	c->listen = str(&x, c->root, "listen");
	if (!c->repo)
		bad(&x, c->root, "'repo' is required (the inventory repository to read)");
	if (!c->state)
		bad(&x, c->root, "'state' is required (the state directory)");
	if (!c->branch)
		c->branch = xstrdup("main");
	else if (strchr(c->branch, '.') == c->branch || strstr(c->branch, "..") ||
	    strpbrk(c->branch, " ~^:?*[\\") || c->branch[0] == '-')
		bad(&x, ynode_get(c->root, "branch"), "'%s' is not a branch name", c->branch);
	c->poll_seconds = 60;
	if ((n = ynode_get(c->root, "poll_seconds"))) {
		uint64_t v;

		if (n->type != YNODE_SCALAR || parse_u64(&v, n->str, 1, 86400) != OK)
			bad(&x, n, "'poll_seconds' must be a whole number of seconds (1..86400)");
		else
			c->poll_seconds = (unsigned)v;
	}
	if ((n = ynode_get(c->root, "drift_seconds"))) {
		uint64_t v;

		if (n->type != YNODE_SCALAR || n->quoted || parse_u64(&v, n->str, 1, 604800) != OK)
			bad(&x, n, "'drift_seconds' must be a whole number of seconds (1..604800); "
			    "leave it out to never read the world on a timer");
		else
			c->drift_seconds = (unsigned)v;
	}
	if ((bot = ynode_get(c->root, "bot")) && bot->type == YNODE_MAP) {
		diags_unknown_keys(x.d, x.file, bot, bot_keys, 2, "bot");
		c->bot_name = str(&x, bot, "name");
		c->bot_email = str(&x, bot, "email");
	} else if (bot && !(bot->type == YNODE_SCALAR && ynode_scalar_kind(bot) == YSCALAR_NULL)) {
		bad(&x, bot, "'bot' must be a mapping {name, email}");
	}
	if (!c->bot_name)
		c->bot_name = xstrdup("firebreak");
	if (!c->bot_email)
		c->bot_email = xstrdup("firebreak@localhost");
	secret(&x, c->root, "hook_secret_file", &c->hook_secret);
	if ((n = ynode_get(c->root, "remote_auth")) && n->type == YNODE_MAP) {
		diags_unknown_keys(x.d, x.file, n, auth_keys, sizeof(auth_keys) / sizeof(*auth_keys),
		    "remote_auth");
		c->remote_user = str(&x, n, "username");
		c->remote_ssh_key = path(&x, n, "ssh_key_file");
		c->remote_ssh_pubkey = path(&x, n, "ssh_pubkey_file");
		secret(&x, n, "password_file", &c->remote_password);
		secret(&x, n, "passphrase_file", &c->remote_passphrase);
		if (c->remote_ssh_key && access(c->remote_ssh_key, R_OK) != 0)
			bad(&x, ynode_get(n, "ssh_key_file"), "cannot read ssh_key_file %s",
			    c->remote_ssh_key);
	} else if (n && !(n->type == YNODE_SCALAR && ynode_scalar_kind(n) == YSCALAR_NULL)) {
		bad(&x, n, "'remote_auth' must be a mapping {username, password_file, "
		    "ssh_key_file, ssh_pubkey_file, passphrase_file}");
	}
	retention(&x, ynode_get(c->root, "retention"));
	ha(&x, ynode_get(c->root, "ha"));
	c->chat = ynode_get(c->root, "chat");
	c->apply = ynode_get(c->root, "apply");
	check_list(&x, c->chat, "chat");
	check_list(&x, c->apply, "apply");
	rollout(&x, ynode_get(c->root, "rollout"));
	healthcfg_parse(&c->health, ynode_get(c->root, "health"), file, d);
	metricscfg_parse(&c->metrics, ynode_get(c->root, "metrics"), file, d);
	/* With health checks, a gate must name one of them. */
	for (size_t i = 0; c->health && c->rollout && i < c->rollout->gates.n; i++)
		if (!healthcfg_check(c->health, c->rollout->gates.v[i]))
			diags_add(d, file, c->rollout->gates.lines[i], 0, "'rollout.gates[%zu]': there is "
			    "no health check '%s' (health.checks)", i, c->rollout->gates.v[i]);
done:
	free(x.dir);
	if (d->n > before) {
		diags_sort(d);
		config_free(c);
		return ERR_INVALID;
	}
	*out = c;
	return OK;
}

void
config_free(struct config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->repo);
	free(c->branch);
	free(c->remote);
	free(c->state);
	free(c->bot_name);
	free(c->bot_email);
	free(c->listen);
	secret_free(c->hook_secret);
	secret_free(c->remote_password);
	secret_free(c->remote_passphrase);
	free(c->remote_user);
	free(c->remote_ssh_key);
	free(c->remote_ssh_pubkey);
	healthcfg_free(c->health);
	metricscfg_free(c->metrics);
	if (c->rollout)
		strlist_dispose(&c->rollout->gates);
	free(c->rollout);
	config_drop_ha(c);
	ynode_free(c->root);
	free(c);
}

void
config_drop_ha(struct config *c)
{
	if (!c || !c->ha)
		return;
	for (size_t i = 0; i < c->ha->nendpoints; i++)
		free(c->ha->endpoints[i]);
	free(c->ha->name);
	free(c->ha);
	c->ha = NULL;
}

void
config_repo_auth(const struct config *c, struct repo_auth *out)
{
	out->username = c->remote_user;
	out->password = c->remote_password;
	out->ssh_key = c->remote_ssh_key;
	out->ssh_pubkey = c->remote_ssh_pubkey;
	out->passphrase = c->remote_passphrase;
}
