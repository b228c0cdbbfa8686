/*
 * bot.c - the chat bot's commands.  See bot.h.
 *
 * Every command is one line of the table below: its name, the policy
 * `commands` key that governs it, its syntax, a line of help, an example,
 * what it does (read, mutate, decide) and its handler.  `help` is printed
 * from the table, so the table is the documentation.
 *
 * A mutating handler never writes anything itself: given the inventory
 * at the branch head it produces new file contents (or a commit, for
 * revert) and a subject line.  bot_commit() turns that into a commit as
 * the bot, validates the whole inventory at it, and moves the branch by
 * compare-and-swap; when the branch moved meanwhile it runs the handler
 * again on the new head, so a command is never applied to a stale file.
 */
#include "bot/bot.h"

#include <stddef.h>
#include <strings.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/names.h"
#include "bot/edit.h"
#include "git/repo.h"
#include "git/trailers.h"
#include "model/inventory.h"
#include "model/model.h"
#include "model/policy.h"
#include "model/ydoc.h"
#include "state/ctlclient.h"
#include "state/state.h"

#define BOT_MAX_TEXT 1000      /* bytes of one command line */
#define BOT_MAX_ARGS 8
#define BOT_MAX_TRIES 64       /* compare-and-swap or push races before giving up */
#define BOT_HISTORY_DEFAULT 10
#define BOT_HISTORY_MAX 100
#define BOT_MAX_CHANGES 4

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
	int may_approve;             /* not IRC, or IRC with allow_approve: true */
};

/* One attempt at a mutating command, against one head. */
struct mut {
	const char *head;
	struct model *m;             /* the inventory at head */
	struct buf subject;          /* the commit's first line */
	struct repo_change ch[BOT_MAX_CHANGES];
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

static const struct command commands[];
static const size_t ncommands;

/* ---- answers ----------------------------------------------------------- */

static void say(struct bot *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
say(struct bot *b, const char *fmt, ...)
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
static int refuse(struct bot *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
refuse(struct bot *b, const char *fmt, ...)
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

/* The environment failed us (git, the state directory): exit 3. */
static int
fail(struct bot *b, const char *what)
{
	buf_reset(&b->ans->text);
	buf_printf(&b->ans->text, "%s: %s\n", what, err_last());
	b->ans->code = 3;
	return ERR;
}

static const char *
short_sha(const char *sha, char out[8])
{
	snprintf(out, 8, "%.7s", sha);
	return out;
}

/* ---- parsing the command line ------------------------------------------- */

/* Valid UTF-8 without control characters (C0, DEL, C1; a tab counts as
 * a space). */
static int
text_ok(const char *s, size_t len)
{
	size_t i = 0, k;
	uint32_t cp;

	while (i < len) {
		if (!(k = utf8_decode((const unsigned char *)s + i, len - i, &cp)))
			return 0;
		if ((cp < 0x20 && cp != '\t') || (cp >= 0x7f && cp < 0xa0))
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
static int
tokenize(const char *text, char **store, char **av, size_t *ac, char *why, size_t whylen)
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
	if (!text_ok(text, len)) {
		snprintf(why, whylen, "a command is one line of UTF-8 text without control "
		    "characters");
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

/* ---- the inventory -------------------------------------------------------- */

/* Parse `path` at commit `sha` into *root (owns) and its text into src. */
static int
load_yaml(struct bot *b, const char *sha, const char *path, struct buf *src, struct ynode **root)
{
	int line = 0, col = 0, rc;

	*root = NULL;
	if ((rc = repo_read_file(src, b->repo, sha, path, INVENTORY_MAX_FILE)) != OK)
		return rc;
	if ((rc = ydoc_parse(root, src->data ? src->data : "", src->len, NULL, &line, &col)) != OK)
		return err_set(ERR_INVALID, "%s:%d:%d: %s", path, line, col, err_last());
	return OK;
}

/* Record a new content for `path` (taken over): the commit will carry it. */
static int
mut_write(struct mut *mu, const char *path, char *data, size_t len)
{
	size_t i;

	for (i = 0; i < mu->n; i++)
		if (strcmp(mu->ch[i].path, path) == 0) {
			free((char *)mu->ch[i].data);
			mu->ch[i].data = data;
			mu->ch[i].len = len;
			return OK;
		}
	if (mu->n == BOT_MAX_CHANGES) {
		free(data);
		return err_set(ERR_TOOBIG, "one command changes at most %d files",
		    BOT_MAX_CHANGES);
	}
	mu->ch[mu->n].path = xstrdup(path);
	mu->ch[mu->n].data = data;
	mu->ch[mu->n++].len = len;
	return OK;
}

static void
mut_dispose(struct mut *mu)
{
	size_t i;

	for (i = 0; i < mu->n; i++) {
		free((char *)mu->ch[i].path);
		free((char *)mu->ch[i].data);    /* mut_write() gave it to us */
	}
	buf_dispose(&mu->subject);
	memset(mu, 0, sizeof(*mu));     /* mu->m belongs to bot_commit() */
}

/*
 * Set scalars at `paths` (each a NULL-terminated key list) in file `path`
 * at the head, one after the other, as one change of the commit.
 */
static int
mut_set(struct bot *b, struct mut *mu, const char *path, const char *const *keys[],
    const char *const *values, size_t n)
{
	struct buf src = BUF_INIT;
	char *doc = NULL, *next;
	size_t len, nextlen, i;
	int rc;

	if ((rc = repo_read_file(&src, b->repo, mu->head, path, INVENTORY_MAX_FILE)) != OK) {
		buf_dispose(&src);
		return rc;
	}
	len = src.len;
	doc = buf_steal(&src);
	if (!doc)
		doc = xstrdup("");
	for (i = 0; i < n; i++) {
		size_t depth = 0;

		while (keys[i][depth])
			depth++;
		if ((rc = edit_set_scalar(&next, &nextlen, doc, len, keys[i], depth, values[i])) != OK) {
			free(doc);
			return err_set(ERR_INVALID, "%s: %s", path, err_last());
		}
		free(doc);
		doc = next;
		len = nextlen;
	}
	return mut_write(mu, path, doc, len);
}

/* Names of a model's entities, for did-you-mean. */
static const char *
suggest(const char *word, const void *base, size_t n, size_t size, size_t name_off)
{
	const char **names = xcalloc(n ? n : 1, sizeof(*names));
	const char *hit;
	size_t i;

	for (i = 0; i < n; i++)
		names[i] = *(const char *const *)((const char *)base + i * size + name_off);
	hit = did_you_mean(word, names, n);
	free(names);
	return hit;
}

#define SUGGEST(word, arr, n, type) \
	suggest((word), (arr), (n), sizeof(type), offsetof(type, name))

/* The host a command names: an fqdn, or a unique first label ("web-03"). */
static const struct host *
find_host(struct bot *b, struct mut *mu, const char *name)
{
	const struct host *h = NULL;
	size_t i, k = strlen(name), hits = 0;

	if (valid_fqdn(name) && (h = model_host(mu->m, name)))
		return h;
	for (i = 0; i < mu->m->nhosts && k; i++)
		if (strncmp(mu->m->hosts[i].fqdn, name, k) == 0 && mu->m->hosts[i].fqdn[k] == '.') {
			h = &mu->m->hosts[i];
			hits++;
		}
	if (hits == 1)
		return h;
	if (hits > 1)
		refuse(b, "'%s' matches %zu hosts; give the full name", name, hits);
	else if (!valid_fqdn(name) && strchr(name, '.'))
		refuse(b, "'%s' is not a host name (lowercase labels like web-03.example.com)", name);
	else {
		const char **names = xcalloc(mu->m->nhosts ? mu->m->nhosts : 1, sizeof(*names));
		const char *dym;

		for (i = 0; i < mu->m->nhosts; i++)
			names[i] = mu->m->hosts[i].fqdn;
		dym = mu->m->nhosts <= 10000 ? did_you_mean(name, names, mu->m->nhosts) : NULL;
		refuse(b, "there is no host '%s' (hosts/%s.yaml)%s%s%s", name, name,
		    dym ? "; did you mean " : "", dym ? dym : "", dym ? "?" : "");
		free(names);
	}
	return NULL;
}

static const char *
state_name(enum host_state s)
{
	static const char *const names[] = { "active", "drained", "spare", "decommissioned" };

	return names[s];
}

static const struct role *
find_role(struct bot *b, struct mut *mu, const char *name)
{
	const struct role *r = valid_role(name) ? model_role(mu->m, name) : NULL;
	const char *dym;

	if (r)
		return r;
	dym = SUGGEST(name, mu->m->roles, mu->m->nroles, struct role);
	refuse(b, "there is no role '%s' (roles/%s.yaml)%s%s%s", name,
	    valid_role(name) ? name : "...", dym ? "; did you mean " : "", dym ? dym : "",
	    dym ? "?" : "");
	return NULL;
}

/* ---- mutating commands ----------------------------------------------------- */

/* The environments a service's default version reaches: those of the
 * hosts whose role receives it, minus the environments with an override. */
static void
default_envs(struct buf *out, const struct model *m, const struct service *s)
{
	struct strlist envs = { NULL, NULL, 0 };
	size_t i, j;

	for (i = 0; i < m->nhosts; i++) {
		const struct host *h = &m->hosts[i];
		const struct role *r;
		const char *env;
		int receives = 0, seen = 0;

		if (!h->role || h->state == HOST_SPARE || h->state == HOST_DECOMMISSIONED)
			continue;
		r = &m->roles[h->role_idx];
		for (j = 0; j < r->services.n && !receives; j++)
			receives = strcmp(r->services.v[j], s->name) == 0;
		if (!receives)
			continue;
		env = model_host_env(m, h);
		for (j = 0; j < s->nenvs && !seen; j++)
			seen = strcmp(s->envs[j].env, env) == 0;
		for (j = 0; j < envs.n && !seen; j++)
			seen = strcmp(envs.v[j], env) == 0;
		if (!seen)
			strlist_push(&envs, env, 0);
	}
	xqsort(envs.v, envs.n, sizeof(*envs.v), str_cmp_ptr);
	for (i = 0; i < envs.n; i++)
		buf_printf(out, "%s%s", i ? ", " : "", envs.v[i]);
	if (!envs.n)
		buf_puts(out, "default");
	strlist_dispose(&envs);
}

static int
edit_deploy(struct bot *b, struct mut *mu, char **av, size_t ac)
{
	const char *svc = av[0], *ver = av[1], *env = ac > 2 ? av[2] : NULL, *now;
	const struct service *s = valid_service(svc) ? model_service(mu->m, svc) : NULL;
	const char *const kv[] = { "version", NULL };
	const char *const ke[] = { "environments", env, NULL };
	const char *const *keys[1];
	char path[300];
	size_t i;

	if (!s) {
		const char *dym = SUGGEST(svc, mu->m->services, mu->m->nservices, struct service);

		return refuse(b, "there is no service '%s' (services/%s.yaml)%s%s%s", svc,
		    valid_service(svc) ? svc : "...", dym ? "; did you mean " : "", dym ? dym : "",
		    dym ? "?" : "");
	}
	if (!valid_version(ver))
		return refuse(b, "'%s' is not a version: letters, digits and . _ + ~ - "
		    "(at most 64), like 1.4.3", ver);
	if (env && !valid_env(env))
		return refuse(b, "'%s' is not an environment name ([a-z][a-z0-9_]*)", env);
	/* What the command would change: the override of ENV (none yet:
	 * adding one is a change, even to the default's version, since it
	 * pins ENV from now on), or the default version. */
	now = env ? NULL : s->version;
	for (i = 0; env && i < s->nenvs; i++)
		if (strcmp(s->envs[i].env, env) == 0)
			now = s->envs[i].version;
	buf_printf(&mu->subject, "deploy %s %s (", svc, ver);
	if (env)
		buf_puts(&mu->subject, env);
	else
		default_envs(&mu->subject, mu->m, s);
	buf_putc(&mu->subject, ')');
	if (now && strcmp(now, ver) == 0) {
		say(b, "%s is already at %s%s%s; nothing to do\n", svc, ver, env ? " in " : "",
		    env ? env : "");
		mu->nothing = 1;
		return OK;
	}
	snprintf(path, sizeof(path), "services/%s.yaml", svc);
	keys[0] = env ? ke : kv;
	return mut_set(b, mu, path, keys, &ver, 1);
}

/* drain and undrain: between active and drained. */
static int
edit_state(struct bot *b, struct mut *mu, const char *verb, const char *host,
    enum host_state from, enum host_state to)
{
	static const char *const ks[] = { "state", NULL };
	const char *const *keys[1] = { ks };
	const char *value = state_name(to);
	const struct host *h = find_host(b, mu, host);
	char path[300];

	if (!h)
		return ERR_DENIED;
	if (h->state != from) {
		if (h->state == to) {
			say(b, "%s is already %s; nothing to do\n", h->fqdn, state_name(to));
			mu->nothing = 1;
			return OK;
		}
		return refuse(b, "%s is %s; %s applies to %s hosts", h->fqdn, state_name(h->state),
		    verb, state_name(from));
	}
	buf_printf(&mu->subject, "%s %s", verb, h->fqdn);
	snprintf(path, sizeof(path), "hosts/%s.yaml", h->fqdn);
	return mut_set(b, mu, path, keys, &value, 1);
}

static int
edit_drain(struct bot *b, struct mut *mu, char **av, size_t ac)
{
	(void)ac;
	return edit_state(b, mu, "drain", av[0], HOST_ACTIVE, HOST_DRAINED);
}

static int
edit_undrain(struct bot *b, struct mut *mu, char **av, size_t ac)
{
	(void)ac;
	return edit_state(b, mu, "undrain", av[0], HOST_DRAINED, HOST_ACTIVE);
}

static int
edit_provision(struct bot *b, struct mut *mu, char **av, size_t ac)
{
	static const char *const kr[] = { "role", NULL }, *const ks[] = { "state", NULL },
	    *const ke[] = { "environment", NULL };
	const char *const *keys[3] = { kr, ks, ke };
	const char *values[3];
	const struct host *h = find_host(b, mu, av[0]);
	const struct role *r;
	const char *env = ac > 2 ? av[2] : NULL;
	char path[300];

	if (!h)
		return ERR_DENIED;
	if (!(r = find_role(b, mu, av[1])))
		return ERR_DENIED;
	if (h->state != HOST_SPARE)
		return refuse(b, "%s is %s, not spare; provision takes a host from the spare pool "
		    "(decommission returns one to it)", h->fqdn, state_name(h->state));
	if (env && !valid_env(env))
		return refuse(b, "'%s' is not an environment name ([a-z][a-z0-9_]*)", env);
	values[0] = r->name;
	values[1] = "active";
	values[2] = env;
	buf_printf(&mu->subject, "provision %s as %s", h->fqdn, r->name);
	if (env)
		buf_printf(&mu->subject, " (%s)", env);
	snprintf(path, sizeof(path), "hosts/%s.yaml", h->fqdn);
	return mut_set(b, mu, path, keys, values, env ? 3 : 2);
}

static int
edit_decommission(struct bot *b, struct mut *mu, char **av, size_t ac)
{
	static const char *const ks[] = { "state", NULL };
	const char *const *keys[1] = { ks };
	const char *value = "spare";
	const struct host *h = find_host(b, mu, av[0]);
	char path[300];

	(void)ac;
	if (!h)
		return ERR_DENIED;
	if (h->state == HOST_SPARE) {
		say(b, "%s is already spare; nothing to do\n", h->fqdn);
		mu->nothing = 1;
		return OK;
	}
	if (h->state == HOST_DECOMMISSIONED)
		return refuse(b, "%s is decommissioned; only a person can bring it back, by editing "
		    "hosts/%s.yaml", h->fqdn, h->fqdn);
	buf_printf(&mu->subject, "decommission %s", h->fqdn);
	snprintf(path, sizeof(path), "hosts/%s.yaml", h->fqdn);
	return mut_set(b, mu, path, keys, &value, 1);
}

/* A host name as a record value: labels of letters, digits, '-' and '_',
 * with or without the final dot. */
static int
hostname_ok(const char *s)
{
	size_t i, label = 0, n = strlen(s);

	if (n == 0 || n > 254)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_') {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return 1;
}

/* Numbers separated by single spaces, then a host name: "10 mx1.example.com.". */
static int
prefixed_host_ok(const char *s, int numbers)
{
	while (numbers--) {
		uint64_t v;
		const char *sp = strchr(s, ' ');
		char tmp[8];

		if (!sp || sp == s || (size_t)(sp - s) >= sizeof(tmp))
			return 0;
		memcpy(tmp, s, (size_t)(sp - s));
		tmp[sp - s] = '\0';
		if (parse_u64(&v, tmp, 0, 65535) != OK)
			return 0;
		s = sp + 1;
	}
	return hostname_ok(s);
}

static const char *
record_value_problem(const char *type, const char *v)
{
	if (strcmp(type, "A") == 0)
		return valid_ipv4(v) ? NULL : "an A record's value is an IPv4 address, like 10.0.1.5";
	if (strcmp(type, "AAAA") == 0)
		return valid_ipv6(v) ? NULL : "an AAAA record's value is an IPv6 address";
	if (strcmp(type, "CNAME") == 0 || strcmp(type, "NS") == 0 || strcmp(type, "PTR") == 0)
		return hostname_ok(v) ? NULL : "the value is a host name, like statuspage.example.net.";
	if (strcmp(type, "MX") == 0)
		return prefixed_host_ok(v, 1) ? NULL :
		    "an MX value is a priority and a host, quoted: \"10 mx1.example.com.\"";
	if (strcmp(type, "SRV") == 0)
		return prefixed_host_ok(v, 3) ? NULL :
		    "an SRV value is priority, weight, port and target, quoted: "
		    "\"10 5 5060 sip.example.com.\"";
	if (strlen(v) > 255)
		return "the value is longer than 255 bytes";
	return NULL;
}

/*
 * The zone a record goes in: ZONE when given; else the zone NAME ends
 * in ("status.example.com"); else the only zone.  *rel is the name
 * relative to the zone (owns).
 */
static const struct zone *
pick_zone(struct bot *b, struct mut *mu, const char *name, const char *zarg, char **rel)
{
	const struct model *m = mu->m;
	const struct zone *z = NULL;
	size_t i;

	*rel = NULL;
	if (zarg) {
		const char *dym;

		if (valid_zone(zarg) && (z = model_zone(m, zarg))) {
			*rel = xstrdup(name);
			return z;
		}
		dym = SUGGEST(zarg, m->zones, m->nzones, struct zone);
		refuse(b, "there is no zone '%s' (dns/%s.yaml)%s%s%s", zarg,
		    valid_zone(zarg) ? zarg : "...", dym ? "; did you mean " : "", dym ? dym : "",
		    dym ? "?" : "");
		return NULL;
	}
	for (i = 0; i < m->nzones; i++) {
		size_t zl = strlen(m->zones[i].name), nl = strlen(name);

		if (strcmp(name, m->zones[i].name) == 0) {
			*rel = xstrdup("@");
			return &m->zones[i];
		}
		if (nl > zl + 1 && name[nl - zl - 1] == '.' &&
		    strcmp(name + nl - zl, m->zones[i].name) == 0 &&
		    (!z || strlen(z->name) < zl)) {
			z = &m->zones[i];
			free(*rel);
			*rel = xstrndup(name, nl - zl - 1);
		}
	}
	if (z)
		return z;
	if (m->nzones == 1) {
		*rel = xstrdup(name);
		return &m->zones[0];
	}
	if (m->nzones == 0)
		refuse(b, "there are no DNS zones (dns/*.yaml) to add records to");
	else {
		struct buf zs = BUF_INIT;

		for (i = 0; i < m->nzones; i++)
			buf_printf(&zs, "%s%s", i ? ", " : "", m->zones[i].name);
		refuse(b, "which zone? name it after the value: %s", zs.data);
		buf_dispose(&zs);
	}
	return NULL;
}

/* Record type in capitals, validated; NULL with a refusal. */
static const char *
record_type(struct bot *b, char *t)
{
	char *p;

	for (p = t; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	if (!valid_record_type(t)) {
		refuse(b, "'%s' is not a record type (A AAAA CAA CNAME MX NS PTR SRV TXT)", t);
		return NULL;
	}
	return t;
}

/* The index of the first record `name`/`type` in a zone file's records. */
static long
record_index(const struct ynode *root, const char *name, const char *type)
{
	const struct ynode *recs = ynode_get(root, "records");
	size_t i;

	for (i = 0; recs && recs->type == YNODE_SEQ && i < recs->n; i++) {
		const struct ynode *n = ynode_get(recs->items[i], "name"),
		    *t = ynode_get(recs->items[i], "type");

		if (n && t && n->type == YNODE_SCALAR && t->type == YNODE_SCALAR &&
		    strcmp(n->str, name) == 0 && strcmp(t->str, type) == 0)
			return (long)i;
	}
	return -1;
}

static int
edit_dns(struct bot *b, struct mut *mu, int add, char **av, size_t ac)
{
	static const char *const records[] = { "records" };
	const char *type, *value = add ? av[2] : NULL, *why;
	const char *zarg = ac > (add ? 3u : 2u) ? av[add ? 3 : 2] : NULL;
	const struct zone *z;
	struct buf src = BUF_INIT;
	struct ynode *root = NULL;
	char path[300], *rel = NULL, *out = NULL;
	size_t outlen = 0;
	long idx;
	int rc;

	if (!(type = record_type(b, av[1])))
		return ERR_DENIED;
	if (!(z = pick_zone(b, mu, av[0], zarg, &rel)))
		return ERR_DENIED;
	if (!valid_record_name(rel)) {
		rc = refuse(b, "'%s' is not a record name in %s (labels of a-z 0-9 - _, \"@\" for "
		    "the apex)", rel, z->name);
		goto out;
	}
	if (add && (why = record_value_problem(type, value))) {
		rc = refuse(b, "'%s': %s", value, why);
		goto out;
	}
	snprintf(path, sizeof(path), "dns/%s.yaml", z->name);
	if ((rc = load_yaml(b, mu->head, path, &src, &root)) != OK) {
		rc = refuse(b, "%s", err_last());
		goto out;
	}
	idx = record_index(root, rel, type);
	if (add) {
		struct edit_pair pairs[3] = { { "name", rel, NULL, 0 }, { "type", type, NULL, 0 },
			{ "value", value, NULL, 0 } };

		if (idx >= 0) {
			rc = refuse(b, "%s %s already exists in %s; `dns rm %s %s %s` first", rel, type,
			    z->name, rel, type, z->name);
			goto out;
		}
		rc = edit_seq_append(&out, &outlen, src.data, src.len, records, 1, pairs, 3);
		buf_printf(&mu->subject, "dns add %s %s %s (%s)", rel, type, value, z->name);
	} else {
		if (idx < 0) {
			rc = refuse(b, "there is no %s record '%s' in %s", type, rel, z->name);
			goto out;
		}
		rc = edit_seq_remove(&out, &outlen, src.data, src.len, records, 1, (size_t)idx);
		buf_printf(&mu->subject, "dns rm %s %s (%s)", rel, type, z->name);
	}
	if (rc != OK) {
		rc = err_set(ERR_INVALID, "%s: %s", path, err_last());
		goto out;
	}
	rc = mut_write(mu, path, out, outlen);
out:
	free(rel);
	ynode_free(root);
	buf_dispose(&src);
	return rc;
}

static int
edit_dns_add(struct bot *b, struct mut *mu, char **av, size_t ac)
{
	return edit_dns(b, mu, 1, av, ac);
}

static int
edit_dns_rm(struct bot *b, struct mut *mu, char **av, size_t ac)
{
	return edit_dns(b, mu, 0, av, ac);
}

/* Does the commit change policy.yaml? (callback) */
static int
touches_policy(void *ctx, const char *path)
{
	(void)ctx;
	return strcmp(path, "policy.yaml") == 0;
}

static int
subject_of(void *ctx, const struct repo_log_entry *e)
{
	buf_puts(ctx, e->subject);
	return 1;
}

static int
edit_revert(struct bot *b, struct mut *mu, char **av, size_t ac)
{
	char s7[8];
	const char *p;
	int rc;

	(void)ac;
	for (p = av[0]; *p; p++)
		if (!strchr("0123456789abcdefABCDEF", *p))
			break;
	if (*p || strlen(av[0]) < 4 || strlen(av[0]) > 40)
		return refuse(b, "'%s' is not a commit id (4 to 40 hex digits)", av[0]);
	if ((rc = repo_expand_sha(b->repo, av[0], mu->revert)) != OK)
		return refuse(b, "%s", err_last());
	if (!repo_is_ancestor(b->repo, mu->revert, mu->head))
		return refuse(b, "%.7s is not on %s", mu->revert, b->cfg->branch);
	buf_printf(&mu->subject, "revert %s \"", short_sha(mu->revert, s7));
	if (repo_log(b->repo, mu->revert, 1, subject_of, &mu->subject) < 0)
		return fail(b, "reading the commit");
	buf_putc(&mu->subject, '"');
	return OK;
}

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

static char *
commit_message(struct bot *b, const char *subject)
{
	char via[100];

	clean_via(via, sizeof(via), b->rq->via);
	return xasprintf("%s\n\nRequested-by: %s\nRequested-via: %s\n", subject, b->user, via);
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
			return fail(b, "fetching from the remote");
		if (repo_resolve(b->repo, b->ref, head) != OK)
			return fail(b, "reading the branch");
		mu.head = head;
		/* A redo reuses what did not change since the last try. */
		rc = inventory_load_from(&mu.m, &d, b->repo, head, *prev);
		model_free(*prev);
		*prev = mu.m;
		if (rc != OK) {
			if (rc != ERR_INVALID) {
				diags_dispose(&d);
				return fail(b, "loading the inventory");
			}
			refuse(b, "the inventory at %.7s does not validate, so the bot will not add to "
			    "it; fix these first:", head);
			say_diags(&b->ans->text, &d);
			diags_dispose(&d);
			return ERR_DENIED;
		}
		buf_reset(&b->ans->text);
		rc = c->edit(b, &mu, av, ac);
		if (rc != OK || mu.nothing) {
			if (rc != OK && b->ans->code == 0)
				refuse(b, "%s", err_last());
			mut_dispose(&mu);
			return rc;
		}
		msg = commit_message(b, mu.subject.data);
		if (mu.revert[0]) {
			const char *sha = mu.revert;

			rc = repo_revert(b->repo, head, sha, &who, msg, mu.commit);
			if (rc == ERR_CONFLICT || rc == ERR_INVALID) {
				free(msg);
				mut_dispose(&mu);
				return refuse(b, "%.7s cannot be reverted on top of %.7s: %s", sha, head,
				    err_last());
			}
			if (rc == OK && repo_each_changed_path(b->repo, head, mu.commit,
			    touches_policy, NULL) != 0) {
				free(msg);
				mut_dispose(&mu);
				return refuse(b, "reverting %.7s would change policy.yaml; the bot never "
				    "commits policy changes (a person must)", sha);
			}
		} else {
			size_t i;

			for (i = 0; i < mu.n; i++)
				if (touches_policy(NULL, mu.ch[i].path)) {
					free(msg);
					mut_dispose(&mu);
					return refuse(b, "the bot never commits policy changes");
				}
			rc = repo_commit(b->repo, head, mu.ch, mu.n, &who, msg, mu.commit);
		}
		free(msg);
		if (rc != OK) {
			mut_dispose(&mu);
			return fail(b, "writing the commit");
		}
		/* The whole inventory must still validate, as the controller will
		 * check it: refuse here rather than commit a broken tree. */
		if ((rc = inventory_load_from(&after, &d, b->repo, mu.commit, mu.m)) != OK) {
			if (rc == ERR_INVALID) {
				refuse(b, "`%s` would leave the inventory invalid, so nothing was "
				    "committed:", b->rq->text);
				say_diags(&b->ans->text, &d);
			} else {
				fail(b, "validating the commit");
			}
			diags_dispose(&d);
			mut_dispose(&mu);
			return rc == ERR_INVALID ? ERR_DENIED : ERR;
		}
		model_free(after);
		diags_dispose(&d);
		if (b->cfg->remote) {
			rc = repo_push(b->repo, b->cfg->remote, mu.commit, b->cfg->branch, &auth);
			if (rc == OK)    /* the local branch follows (a fetch may beat us to it) */
				(void)repo_update_ref(b->repo, b->ref, head, mu.commit, "firebreak: bot");
		} else {
			rc = repo_update_ref(b->repo, b->ref, head, mu.commit, "firebreak: bot");
		}
		if (rc == OK) {
			snprintf(b->ans->commit, sizeof(b->ans->commit), "%s", mu.commit);
			say(b, "committed %s: %s\n", short_sha(mu.commit, s7), mu.subject.data);
			/* A checked-out branch: its work tree follows, or says why not. */
			if (!b->cfg->remote && repo_sync_worktree(b->repo, b->cfg->branch, head,
			    mu.commit) != OK)
				say(b, "note: %s: %s; `git -C %s reset --keep %.7s` brings it up to "
				    "date\n", b->cfg->repo, err_last(), b->cfg->repo, mu.commit);
			mut_dispose(&mu);
			return OK;
		}
		mut_dispose(&mu);
		if (rc != ERR_CONFLICT)
			return fail(b, b->cfg->remote ? "pushing" : "moving the branch");
		/* Someone else moved the branch: redo the edit on the new head. */
		jitter(attempt);
	}
	return refuse(b, "the branch kept moving (%d tries); try again", BOT_MAX_TRIES);
}

static int
bot_commit(struct bot *b, const struct command *c, char **av, size_t ac)
{
	struct model *prev = NULL;
	int rc = bot_commit_with(b, c, av, ac, &prev);

	model_free(prev);
	return rc;
}

/* ---- reading commands ------------------------------------------------------ */

static int
history_line(void *ctx, const struct repo_log_entry *e)
{
	struct buf *out = ctx;
	char when[32], *by = trailer_get(e->message, "Requested-by"),
	    *via = trailer_get(e->message, "Requested-via");
	time_t t = (time_t)e->time;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	buf_printf(out, "%.7s %s  %.72s  (", e->sha, when, e->subject);
	if (by)
		buf_printf(out, "%s via %s)\n", by, via ? via : "?");
	else
		buf_printf(out, "%s, by hand)\n", e->author);
	free(by);
	free(via);
	return 0;
}

static int
run_history(struct bot *b, char **av, size_t ac)
{
	uint64_t n = BOT_HISTORY_DEFAULT;
	char head[41];

	if (ac && parse_u64(&n, av[0], 1, BOT_HISTORY_MAX) != OK)
		return refuse(b, "history takes a count from 1 to %d, not '%s'", BOT_HISTORY_MAX,
		    av[0]);
	if (repo_resolve(b->repo, b->ref, head) != OK)
		return fail(b, "reading the branch");
	if (repo_log(b->repo, head, (size_t)n, history_line, &b->ans->text) < 0)
		return fail(b, "reading the history");
	return OK;
}

/* A stored plan, briefly: its line and its changes. */
static void
plan_brief(struct buf *out, json_t *j, int changes)
{
	json_t *ch = json_object_get(j, "changes"), *v;
	const char *outcome = json_string_value(json_object_get(j, "outcome"));
	const char *id = json_string_value(json_object_get(j, "id"));
	size_t i;

	buf_printf(out, "plan %s for %.7s: %s, %s, %zu change%s\n", id ? id : "?",
	    json_string_value(json_object_get(j, "target")) ?
	    json_string_value(json_object_get(j, "target")) : "?",
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
brief_open(void *ctx, const char *file, json_t *j)
{
	struct open_plans *o = ctx;
	const char *outcome = json_string_value(json_object_get(j, "outcome"));

	(void)file;
	if (outcome && strcmp(outcome, "open") == 0) {
		plan_brief(o->out, j, 1);
		o->n++;
	}
	return 0;
}

static int
run_plan(struct bot *b, char **av, size_t ac)
{
	struct open_plans ob = { &b->ans->text, 0 };
	char path[4096];
	uint64_t v;

	if (ac) {
		json_t *j;

		if (parse_u64(&v, av[0], 1, 1ull << 62) != OK)
			return refuse(b, "'%s' is not a plan id (a number)", av[0]);
		snprintf(path, sizeof(path), "%s/plans/%s.json", b->cfg->state, av[0]);
		if (!(j = json_load_file(path, JSON_REJECT_DUPLICATES, NULL)))
			return refuse(b, "there is no plan %s", av[0]);
		plan_brief(&b->ans->text, j, 1);
		json_decref(j);
		return OK;
	}
	state_each_plan(b->cfg->state, brief_open, &ob);
	if (!ob.n)
		say(b, "no plan is waiting for approval\n");
	return OK;
}

static int
run_status(struct bot *b, char **av, size_t ac)
{
	(void)av;
	(void)ac;
	if (ctl_status(&b->ans->text, b->cfg->state) != OK)
		return fail(b, "status");
	return OK;
}

static int
run_decide(struct bot *b, int approve, const char *id)
{
	char *msg = NULL;
	uint64_t v;
	int rc;

	if (!b->user)
		return refuse(b, "you are not mapped to a firebreak user (identities in policy.yaml: "
		    "\"%s\"), so you may only run help, plan, status and history",
		    b->rq->identity ? b->rq->identity : "?");
	if (!b->may_approve)
		return refuse(b, "approving over IRC is off: IRC nicks are not authenticated (set "
		    "allow_approve: true on the irc chat entry to turn it on); approve in Slack or "
		    "with `firebreak approve`");
	if (parse_u64(&v, id, 1, 1ull << 62) != OK)
		return refuse(b, "'%s' is not a plan id (a number)", id);
	rc = ctl_decide(&msg, b->cfg->state, approve, id, b->user);
	if (rc == ERR_NOTFOUND)
		rc = b->rq->decide_offline ? b->rq->decide_offline(b->cfg, approve, id, b->user,
		    &msg) : err_set(ERR, "no controller is running on %s", b->cfg->state);
	if (rc == OK)
		say(b, "%s\n", msg ? msg : "done");
	else if (rc == ERR_DENIED || rc == ERR_CONFLICT || rc == ERR_NOTFOUND)
		refuse(b, "%s", msg ? msg : err_last());
	else {
		buf_reset(&b->ans->text);
		buf_printf(&b->ans->text, "%s\n", msg ? msg : err_last());
		b->ans->code = 3;
	}
	free(msg);
	return rc;
}

static int
run_approve(struct bot *b, char **av, size_t ac)
{
	(void)ac;
	return run_decide(b, 1, av[0]);
}

static int
run_discard(struct bot *b, char **av, size_t ac)
{
	(void)ac;
	return run_decide(b, 0, av[0]);
}

/* May this person run command c (before its arguments are looked at)? */
static int
may_run(struct bot *b, const struct command *c)
{
	size_t k;

	switch (c->kind) {
	case CMD_READ:
		return 1;
	case CMD_MUTATE:
		return b->user && policy_may_run(b->policy, b->user, c->acl);
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

static void
usage_line(struct buf *out, const struct command *c)
{
	buf_printf(out, "%s%s%s", c->name, c->syntax[0] ? " " : "", c->syntax);
}

static const struct command *
find_command(char **av, size_t ac, size_t *words)
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

static int
run_help(struct bot *b, char **av, size_t ac)
{
	size_t i, words, width = 0;

	if (ac) {
		const struct command *c = find_command(av, ac, &words);

		if (!c && ac == 1 && strcmp(av[0], "dns") == 0) {
			char dns[] = "dns", add[] = "add", *two[2] = { dns, add };

			c = find_command(two, 2, &words);
		}
		if (!c)
			return refuse(b, "there is no command '%s'; `help` lists them", av[0]);
		buf_puts(&b->ans->text, "");
		usage_line(&b->ans->text, c);
		say(b, "\n  %s\n  example: %s\n", c->help, c->example);
		if (!may_run(b, c))
			say(b, "  (you may not run it: %s)\n", !b->user ? "you are not mapped to a "
			    "firebreak user" : c->kind == CMD_DECIDE ? "you are not an approver" :
			    "see commands in policy.yaml");
		return OK;
	}
	for (i = 0; i < ncommands; i++) {
		struct buf u = BUF_INIT;

		usage_line(&u, &commands[i]);
		if (u.len > width)
			width = u.len;
		buf_dispose(&u);
	}
	say(b, "what you%s may run:\n", b->user ? "" : " (not mapped to a firebreak user)");
	for (i = 0; i < ncommands; i++) {
		struct buf u = BUF_INIT;

		if (!may_run(b, &commands[i]))
			continue;
		usage_line(&u, &commands[i]);
		say(b, "  %-*s  %s\n", (int)width, u.data, commands[i].help);
		buf_dispose(&u);
	}
	say(b, "`help COMMAND` shows its syntax and an example.\n");
	return OK;
}

/* ---- the table ---------------------------------------------------------------- */

static const struct command commands[] = {
	{ "help", NULL, "[COMMAND]", "what you may run, or one command's syntax",
	  "help deploy", CMD_READ, 0, 2, run_help, NULL },
	{ "deploy", "deploy", "SERVICE VERSION [ENV]",
	  "set a service's version pin (ENV: that environment's override)",
	  "deploy app 1.4.3", CMD_MUTATE, 2, 3, NULL, edit_deploy },
	{ "drain", "drain", "HOST", "take a host out of round-robin DNS and backends",
	  "drain web-03.example.com", CMD_MUTATE, 1, 1, NULL, edit_drain },
	{ "undrain", "drain", "HOST", "put a drained host back into service",
	  "undrain web-03.example.com", CMD_MUTATE, 1, 1, NULL, edit_undrain },
	{ "provision", "provision", "HOST ROLE [ENV]", "take a spare host into service with a role",
	  "provision web-09.example.com web", CMD_MUTATE, 2, 3, NULL, edit_provision },
	{ "decommission", "provision", "HOST", "return a host to the spare pool",
	  "decommission web-09.example.com", CMD_MUTATE, 1, 1, NULL, edit_decommission },
	{ "dns add", "dns", "NAME TYPE VALUE [ZONE]", "add a DNS record (quote values with spaces)",
	  "dns add status CNAME statuspage.example.net.", CMD_MUTATE, 3, 4, NULL, edit_dns_add },
	{ "dns rm", "dns", "NAME TYPE [ZONE]", "remove a DNS record",
	  "dns rm status CNAME", CMD_MUTATE, 2, 3, NULL, edit_dns_rm },
	{ "plan", NULL, "[ID]", "the plans waiting for approval, or one plan",
	  "plan 17", CMD_READ, 0, 1, run_plan, NULL },
	{ "approve", NULL, "ID", "apply a plan that waits for approval",
	  "approve 17", CMD_DECIDE, 1, 1, run_approve, NULL },
	{ "discard", NULL, "ID", "drop a plan that waits for approval",
	  "discard 17", CMD_DECIDE, 1, 1, run_discard, NULL },
	{ "status", NULL, "", "the last applied commit, open plans, what is pending",
	  "status", CMD_READ, 0, 0, run_status, NULL },
	{ "revert", "revert", "SHA", "a new commit that undoes an earlier one",
	  "revert a1b2c3d", CMD_MUTATE, 1, 1, NULL, edit_revert },
	{ "history", NULL, "[N]", "recent changes and who asked for them",
	  "history 5", CMD_READ, 0, 1, run_history, NULL },
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
	rc = load_yaml(b, b->applied, "policy.yaml", &src, &b->policy_root);
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

	if (tokenize(b->rq->text, &store, av, &ac, why, sizeof(why)) != OK) {
		free(store);
		return refuse(b, "%s", why);
	}
	if (!ac) {
		free(store);
		return run_help(b, av, 0);
	}
	if (!(c = find_command(av, ac, &words))) {
		const char *names[sizeof(commands) / sizeof(*commands) + 1], *dym;
		size_t i;

		for (i = 0; i < ncommands; i++)
			names[i] = commands[i].name;
		dym = text_ok(av[0], strlen(av[0])) && strlen(av[0]) < 40 ?
		    did_you_mean(av[0], names, ncommands) : NULL;
		if (strcmp(av[0], "dns") == 0)
			rc = refuse(b, "usage: dns add NAME TYPE VALUE [ZONE] | dns rm NAME TYPE [ZONE]");
		else
			rc = refuse(b, "unknown command '%.40s'%s%s%s; `help` lists what you may run",
			    av[0], dym ? " (did you mean " : "", dym ? dym : "", dym ? "?)" : "");
		free(store);
		return rc;
	}
	ac -= words;
	if (ac < c->minargs || ac > c->maxargs) {
		struct buf u = BUF_INIT;

		usage_line(&u, c);
		rc = refuse(b, "usage: %s (example: %s)", u.data, c->example);
		buf_dispose(&u);
		free(store);
		return rc;
	}
	if (!may_run(b, c)) {
		if (!b->user)
			rc = refuse(b, "you are not mapped to a firebreak user (identities in "
			    "policy.yaml: \"%s\"), so you may only run help, plan, status and history",
			    b->rq->identity ? b->rq->identity : "?");
		else if (c->kind == CMD_DECIDE)
			rc = refuse(b, "%s is not an approver (approvers in policy.yaml)", b->user);
		else
			rc = refuse(b, "%s may not run %s (commands.%s in policy.yaml)", b->user,
			    c->name, c->acl);
		free(store);
		return rc;
	}
	rc = c->kind == CMD_MUTATE ? bot_commit(b, c, av + words, ac) :
	    c->run(b, av + words, ac);
	free(store);
	return rc;
}

/* Does the irc chat entry the command came through (or, not knowing, the
 * first irc entry) say allow_approve: true? */
static int
irc_may_approve(const struct config *cfg, int entry)
{
	size_t i;

	for (i = 0; cfg->chat && cfg->chat->type == YNODE_SEQ && i < cfg->chat->n; i++) {
		const struct ynode *t = ynode_get(cfg->chat->items[i], "type"),
		    *a = ynode_get(cfg->chat->items[i], "allow_approve");

		if (entry >= 0 && (size_t)entry != i)
			continue;
		if (t && t->type == YNODE_SCALAR && strcmp(t->str, "irc") == 0)
			return a && a->type == YNODE_SCALAR && !a->quoted && strcmp(a->str, "true") == 0;
	}
	return 0;
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
		fail(&b, "opening the repository");
		return ans->code;
	}
	if (load_policy(&b) != OK) {
		fail(&b, "reading the applied policy");
		goto out;
	}
	if (rq->user)
		b.user = rq->user;
	else if (rq->identity)
		b.user = policy_identity(b.policy, rq->identity);
	/* IRC nicks can be taken by anyone: approving from there is off
	 * unless the irc chat entry says allow_approve: true. */
	b.may_approve = !rq->identity || strncmp(rq->identity, "irc:", 4) != 0 ||
	    irc_may_approve(cfg, rq->chat_entry);
	if (b.user)
		snprintf(ans->user, sizeof(ans->user), "%s", b.user);
	dispatch(&b);
out:
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
