/*
 * cmd_import.c - `firebreak import`: adopting an existing setup without
 * retyping it (issue 13).  This file holds `import zone`;
 * cmd_import_enc.c holds `import enc`, import_tree.c what both share
 * (the checkout's files, the check before writing, the writing;
 * importint.h).  The usage text is cli.c's table entry.
 *
 * import zone ZONE reads the zone (by AXFR through the rfc2136 apply
 * provider's read_zone, or from a master file) with model/zonefile.h,
 * leaves out the SOA and the apex NS set, and writes it the way the
 * inventory would have said it, so that rendering gives the zone back:
 *
 *   - an A record set of one address, at the zone's TTL, named like a
 *     host of hosts/ that is active or drained and lies in this zone,
 *     becomes that host's `ip:` (an edit of its file that keeps the rest);
 *   - an A record set at the zone's TTL whose addresses are exactly the
 *     ips of a role's active hosts in this zone (none elsewhere) becomes a
 *     `dns:` name of that role, when the role file has no dns: yet;
 *   - a record set the inventory already renders the same is left to it;
 *   - everything else is a record of dns/ZONE.yaml.
 *
 * The zone's TTL is the one most of its record sets have (the smaller on
 * a tie); the others carry their own.  Nothing is written until the
 * inventory as it will be loads without a problem and its rendered
 * terraform/route53/ZONE.tf.json holds every record set read, exactly.
 */
#include "cli/importint.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/names.h"
#include "bot/edit.h"
#include "model/inventory.h"
#include "model/zonefile.h"
#include "providers/apply/apply.h"
#include "renderers/renderer.h"


/* ---- import zone ------------------------------------------------------------------ */

enum fate { TO_ZONE, TO_HOST, TO_ROLE, RENDERED };

/* One record set read: (name, type) with its values, sorted. */
struct rrset {
	const char *name, *rel, *type;    /* borrowed from the zrecs */
	uint32_t ttl;
	const char **vals;                /* owns the array; borrows the strings */
	size_t nvals;
	int line;
	enum fate fate;
	size_t who;                       /* the host or role index */
};

struct zimport {
	const char *zone, *src;
	struct zrecs recs;
	struct rrset *sets;
	size_t nsets;
	uint32_t ttl;                     /* the zone's */
};

static int
rec_cmp(const void *x, const void *y)
{
	const struct zrec *a = *(const struct zrec *const *)x, *b = *(const struct zrec *const *)y;
	int c = strcmp(a->name, b->name);

	if (!c)
		c = strcmp(a->type, b->type);
	if (!c)
		c = strcmp(a->value, b->value);
	return c ? c : (a->line > b->line) - (a->line < b->line);
}

/* Record sets out of the records; refuses a CNAME beside other data. */
static void
group_sets(struct zimport *zi, struct buf *warn)
{
	struct zrec **ix = xcalloc(zi->recs.n ? zi->recs.n : 1, sizeof(*ix));
	size_t i, j, k;

	for (i = 0; i < zi->recs.n; i++)
		ix[i] = &zi->recs.v[i];
	xqsort(ix, zi->recs.n, sizeof(*ix), rec_cmp);
	zi->sets = xcalloc(zi->recs.n ? zi->recs.n : 1, sizeof(*zi->sets));
	for (i = 0; i < zi->recs.n; i = j) {
		struct rrset *s = &zi->sets[zi->nsets++];

		for (j = i + 1; j < zi->recs.n && strcmp(ix[j]->name, ix[i]->name) == 0 &&
		    strcmp(ix[j]->type, ix[i]->type) == 0; j++)
			;
		s->name = ix[i]->name;
		s->rel = ix[i]->rel;
		s->type = ix[i]->type;
		s->ttl = ix[i]->ttl;
		s->line = ix[i]->line;
		s->vals = xcalloc(j - i, sizeof(*s->vals));
		for (k = i; k < j; k++) {
			if (ix[k]->ttl != s->ttl) {
				buf_printf(warn, "%s:%d: warning: %s %s has records with TTL %u and %u: "
				    "a record set has one TTL; the smaller is kept\n", zi->src,
				    ix[k]->line, ix[k]->name, ix[k]->type, s->ttl, ix[k]->ttl);
				if (ix[k]->ttl < s->ttl)
					s->ttl = ix[k]->ttl;
			}
			if (ix[k]->line < s->line)
				s->line = ix[k]->line;
			if (s->nvals && strcmp(s->vals[s->nvals - 1], ix[k]->value) == 0)
				continue;       /* the same record twice: one record */
			s->vals[s->nvals++] = ix[k]->value;
		}
	}
	for (i = 0; i < zi->nsets; i++)
		if (strcmp(zi->sets[i].type, "CNAME") == 0 &&
		    ((i > 0 && strcmp(zi->sets[i - 1].name, zi->sets[i].name) == 0) ||
		    (i + 1 < zi->nsets && strcmp(zi->sets[i + 1].name, zi->sets[i].name) == 0)))
			die(EXIT_INPUT, "%s:%d: %s has a CNAME beside other records, which DNS does "
			    "not allow; nothing was written", zi->src, zi->sets[i].line,
			    zi->sets[i].name);
	free(ix);
}

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* The TTL most record sets have; the smaller on a tie; 300 for none. */
static uint32_t
common_ttl(const struct zimport *zi)
{
	uint32_t best = 300, *t = xcalloc(zi->nsets ? zi->nsets : 1, sizeof(*t));
	size_t i, j, bestn = 0;

	for (i = 0; i < zi->nsets; i++)
		t[i] = zi->sets[i].ttl;
	xqsort(t, zi->nsets, sizeof(*t), u32_cmp);
	for (i = 0; i < zi->nsets; i = j) {
		for (j = i + 1; j < zi->nsets && t[j] == t[i]; j++)
			;
		if (j - i > bestn) {      /* ascending: a tie keeps the smaller */
			best = t[i];
			bestn = j - i;
		}
	}
	free(t);
	return best;
}

/* Does `zone` own fqdn, among m's zones (which may include it)? */
static int
ours(const struct model *m, const char *fqdn, const char *zone)
{
	size_t fl = strlen(fqdn), zl = strlen(zone), z;

	if (!(fl == zl ? strcmp(fqdn, zone) == 0 :
	    fl > zl && fqdn[fl - zl - 1] == '.' && strcmp(fqdn + fl - zl, zone) == 0))
		return 0;
	z = model_zone_of(m, fqdn);
	return z == MODEL_NO_ZONE || strlen(m->zones[z].name) <= zl;
}

/* A value list as the route53 renderer writes an object's value. */
static char *
vals_json(const char *const *v, size_t n)
{
	struct buf b = BUF_INIT;
	size_t i;

	buf_putc(&b, '[');
	for (i = 0; i < n; i++) {
		if (i)
			buf_putc(&b, ',');
		json_emit_string(&b, v[i], strlen(v[i]));
	}
	buf_putc(&b, ']');
	return buf_steal(&b);
}

static const struct artifact_object *
find_object(const struct artifact *a, const char *name)
{
	size_t lo = 0, hi = a ? a->nobjs : 0;

	/* render_all() sorted the objects by name. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(a->objs[mid].name, name);

		if (c == 0)
			return &a->objs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Is the object what s says (values and TTL)? */
static int
object_is(const struct artifact_object *o, const struct rrset *s)
{
	char *j = vals_json(s->vals, s->nvals), ttl[32];
	int same;

	snprintf(ttl, sizeof(ttl), "ttl %u", s->ttl);
	same = o->value && strcmp(o->value, j) == 0 && o->extra && strcmp(o->extra, ttl) == 0;
	free(j);
	return same;
}

static char *
zone_file_text(const struct zimport *zi, const char *zone_id, const char *how)
{
	struct buf b = BUF_INIT;
	size_t i, j, n = 0;

	for (i = 0; i < zi->nsets; i++)
		n += zi->sets[i].fate == TO_ZONE;
	buf_printf(&b, "# dns/%s.yaml: imported by `firebreak import zone` from %s.\n", zi->zone,
	    how);
	buf_puts(&b, "# The SOA and the apex NS set are the server's (firebreak does not manage "
	    "them).\n");
	if (n < zi->nsets)
		buf_puts(&b, "# Hosts' A records are their hosts/ files' ip:, round-robin sets "
		    "their roles' dns:.\n");
	if (strcmp(zone_id, "NONE") == 0)
		buf_puts(&b, "# zone_id NONE: not a Route53 zone (import with --zone-id ID if it "
		    "is one).\n");
	buf_puts(&b, "zone_id: ");
	yemit_string(&b, zone_id, strlen(zone_id));
	buf_printf(&b, "\nttl: %u\nrecords:%s\n", zi->ttl, n ? "" : " []");
	for (i = 0; i < zi->nsets; i++) {
		const struct rrset *s = &zi->sets[i];

		if (s->fate != TO_ZONE)
			continue;
		buf_puts(&b, "  - {name: ");
		yemit_string(&b, s->rel, strlen(s->rel));
		buf_printf(&b, ", type: %s, ", s->type);
		if (s->nvals == 1) {
			buf_puts(&b, "value: ");
			yemit_string(&b, s->vals[0], strlen(s->vals[0]));
		} else {
			buf_puts(&b, "values: [");
			for (j = 0; j < s->nvals; j++) {
				if (j)
					buf_puts(&b, ", ");
				yemit_string(&b, s->vals[j], strlen(s->vals[j]));
			}
			buf_putc(&b, ']');
		}
		if (s->ttl != zi->ttl)
			buf_printf(&b, ", ttl: %u", s->ttl);
		buf_puts(&b, "}\n");
	}
	return buf_steal(&b);
}

/* Records sorted for the file: the apex first, then by name, then type. */
static int
set_cmp(const void *x, const void *y)
{
	const struct rrset *a = x, *b = y;
	int aa = strcmp(a->rel, "@") == 0, ba = strcmp(b->rel, "@") == 0, c;

	if (aa != ba)
		return ba - aa;
	c = strcmp(a->rel, b->rel);
	return c ? c : strcmp(a->type, b->type);
}

/* --tsig NAME:ALG:FILE or NAME:FILE, as YAML for the provider's cfg. */
static void
tsig_yaml(struct buf *b, const char *spec)
{
	const char *c1 = strchr(spec, ':'), *rest, *alg = "hmac-sha256";
	char *name, *file, *abs;
	size_t al = strlen(alg);

	if (!c1 || c1 == spec || !c1[1])
		usage_error("--tsig is NAME:ALG:SECRETFILE (or NAME:SECRETFILE for hmac-sha256)");
	rest = c1 + 1;
	if (strncmp(rest, "hmac-", 5) == 0 && strchr(rest, ':')) {
		alg = rest;
		al = (size_t)(strchr(rest, ':') - rest);
		rest = strchr(rest, ':') + 1;
	}
	name = xstrndup(spec, (size_t)(c1 - spec));
	file = xstrdup(rest);
	abs = realpath(file, NULL);
	if (!abs)
		die(EXIT_ENV, "--tsig: the secret file %s: %s", file, strerror(errno));
	buf_puts(b, "tsig: {name: ");
	yemit_quoted(b, name, strlen(name));
	buf_puts(b, ", algorithm: ");
	yemit_quoted(b, alg, al);
	buf_puts(b, ", secret_file: ");
	yemit_quoted(b, abs, strlen(abs));
	buf_puts(b, "}\n");
	free(name);
	free(file);
	free(abs);
}

/* The zone as master-file text, by AXFR through the rfc2136 provider. */
static char *
read_axfr(const struct opts *o, const char *zone)
{
	const struct apply_provider *ap = apply_find("rfc2136");
	struct ynode *cfg = NULL;
	struct buf y = BUF_INIT;
	char *text = NULL;
	int line = 0, col = 0, rc;

	if (!ap || !ap->ops->read_zone)
		die(EXIT_ENV, "this build has no provider that reads a zone by AXFR");
	buf_puts(&y, "server: ");
	yemit_quoted(&y, o->from_axfr, strlen(o->from_axfr));
	buf_puts(&y, "\n");
	if (o->tsig)
		tsig_yaml(&y, o->tsig);
	if (ydoc_parse(&cfg, y.data, y.len, &YDOC_DEFAULT_LIMITS, &line, &col) != OK)
		die(EXIT_USAGE, "--from-axfr/--tsig: %s", err_last());
	rc = ap->ops->read_zone(&text, cfg, zone);
	if (rc != OK)
		die(exit_for(rc), "AXFR of %s from %s: %s; nothing was written", zone, o->from_axfr, err_last());
	ynode_free(cfg);
	buf_dispose(&y);
	return text;
}

/*
 * Can the role file take a `dns:` line at its end?  Not when it says
 * dns: already (any value: it is left alone), nor when a line appended
 * would not read as a new key (a file that is one flow mapping).
 */
static int
role_takes_dns(const struct wfile *f)
{
	struct ynode *root = NULL;
	struct buf b = BUF_INIT;
	const struct ynode *d;
	int line, col, ok;

	if (!f || !f->data || ydoc_parse(&root, f->data, f->len, &YDOC_DEFAULT_LIMITS, &line,
	    &col) != OK)
		return 0;
	ok = root->type == YNODE_MAP && ynode_get(root, "dns") == NULL;
	ynode_free(root);
	root = NULL;
	if (!ok)
		return 0;
	buf_append(&b, f->data, f->len);
	if (b.len && b.data[b.len - 1] != '\n')
		buf_putc(&b, '\n');
	buf_puts(&b, "dns: [x]\n");
	ok = ydoc_parse(&root, b.data, b.len, &YDOC_DEFAULT_LIMITS, &line, &col) == OK &&
	    root->type == YNODE_MAP && (d = ynode_get(root, "dns")) && d->type == YNODE_SEQ &&
	    d->n == 1;
	ynode_free(root);
	buf_dispose(&b);
	return ok;
}

struct role_match {
	const char **ips;                 /* owns the array; sorted */
	size_t n;
	int eligible;
};

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A set the inventory renders already: the same, or a conflict. */
static int
rendered(const struct zimport *zi, const struct rrset *s, const struct artifact *a)
{
	char *obj = xasprintf("%s/%s", s->name, s->type);
	const struct artifact_object *o = find_object(a, obj);

	free(obj);
	if (!o)
		return 0;
	if (!object_is(o, s)) {
		char *j = vals_json(s->vals, s->nvals);

		die(EXIT_INPUT, "%s:%d: %s %s is %s (ttl %u) there, but the inventory renders it "
		    "as %s (%s) from hosts/ or roles/: make them agree, then import again; nothing "
		    "was written", zi->src, s->line, s->name, s->type, j, s->ttl, o->value,
		    o->extra ? o->extra : "");
	}
	return 1;
}

/* First: sets the inventory renders already, then hosts' ips.  new_ip[h]
 * is the ip host h is given. */
static void
decide_hosts(struct zimport *zi, const struct model *m, const struct artifact *base,
    const char **new_ip)
{
	size_t i;

	for (i = 0; i < zi->nsets; i++) {
		struct rrset *s = &zi->sets[i];
		const struct host *h;

		if (rendered(zi, s, base)) {
			s->fate = RENDERED;
			continue;
		}
		if (strcmp(s->type, "A") != 0 || s->nvals != 1 || s->ttl != zi->ttl ||
		    !(h = model_host(m, s->name)) || h->ip ||
		    !(h->state == HOST_ACTIVE || h->state == HOST_DRAINED))
			continue;
		s->fate = TO_HOST;
		s->who = (size_t)(h - m->hosts);
		new_ip[s->who] = s->vals[0];
	}
}

/* Then, with the hosts' new ips rendered (`now`): sets that a role's
 * dns: renders already, and round-robin sets that become a dns: name of
 * a role without one. */
static void
decide_roles(struct zimport *zi, const struct model *m, const struct artifact *now,
    const struct wfiles *w, const char **new_ip)
{
	struct role_match *rm = xcalloc(m->nroles ? m->nroles : 1, sizeof(*rm));
	size_t i, r;

	for (i = 0; i < zi->nsets; i++)
		if (zi->sets[i].fate == TO_ZONE && rendered(zi, &zi->sets[i], now))
			zi->sets[i].fate = RENDERED;
	/* Each role's active hosts with an ip, here and elsewhere. */
	for (i = 0; i < m->nhosts; i++) {
		const struct host *h = &m->hosts[i];
		const char *ip = h->ip ? h->ip : new_ip[i];
		struct role_match *x;

		if (!h->role || h->state != HOST_ACTIVE || !ip)
			continue;
		x = &rm[h->role_idx];
		if (!ours(m, h->fqdn, zi->zone)) {
			if (model_zone_of(m, h->fqdn) != MODEL_NO_ZONE)
				x->eligible = -1;       /* a dns: name would render there too */
			continue;
		}
		x->ips = xrealloc(x->ips, (x->n + 1) * sizeof(*x->ips));
		x->ips[x->n++] = ip;
	}
	for (r = 0; r < m->nroles; r++) {
		char *path = xasprintf("roles/%s.yaml", m->roles[r].name);

		xqsort(rm[r].ips, rm[r].n, sizeof(*rm[r].ips), str_cmp);
		rm[r].eligible = rm[r].eligible == 0 && rm[r].n > 0 && m->roles[r].dns.n == 0 &&
		    role_takes_dns(wfiles_find(w, path));
		free(path);
	}
	for (i = 0; i < zi->nsets; i++) {
		struct rrset *s = &zi->sets[i];
		size_t k;

		if (s->fate != TO_ZONE || strcmp(s->type, "A") != 0 || s->ttl != zi->ttl ||
		    strcmp(s->rel, "@") == 0 || model_host(m, s->name))
			continue;
		for (r = 0; r < m->nroles; r++) {
			if (rm[r].eligible != 1 || rm[r].n != s->nvals)
				continue;
			for (k = 0; k < s->nvals && strcmp(rm[r].ips[k], s->vals[k]) == 0; k++)
				;
			if (k == s->nvals) {
				s->fate = TO_ROLE;
				s->who = r;
				break;
			}
		}
	}
	for (r = 0; r < m->nroles; r++)
		free(rm[r].ips);
	free(rm);
}

/* The edited host files (ip:), into over. */
static void
edit_hosts(struct wfiles *over, const struct zimport *zi, const struct model *m,
    const struct wfiles *w)
{
	size_t i;

	for (i = 0; i < zi->nsets; i++) {
		const struct rrset *s = &zi->sets[i];
		static const char *const ip_path[] = { "ip" };
		char *path, *out = NULL;
		const struct wfile *f;
		size_t outlen;

		if (s->fate != TO_HOST)
			continue;
		path = xasprintf("hosts/%s.yaml", m->hosts[s->who].fqdn);
		f = wfiles_find(w, path);
		if (!f || !f->data || edit_set_scalar(&out, &outlen, f->data, f->len, ip_path, 1,
		    s->vals[0]) != OK)
			die(EXIT_INPUT, "%s: cannot add ip: %s (%s); nothing was written", path,
			    s->vals[0], f ? err_last() : "not in the checkout");
		wfiles_put(over, path, out, outlen);
		free(path);
	}
}

/* The edited role files (dns:), into over. */
static void
edit_roles(struct wfiles *over, const struct zimport *zi, const struct model *m,
    const struct wfiles *w)
{
	size_t i, r;

	for (r = 0; r < m->nroles; r++) {
		struct buf b = BUF_INIT;
		const struct wfile *f;
		char *path;
		size_t k = 0;

		for (i = 0; i < zi->nsets; i++) {
			if (zi->sets[i].fate != TO_ROLE || zi->sets[i].who != r)
				continue;
			if (k++ == 0) {
				path = xasprintf("roles/%s.yaml", m->roles[r].name);
				f = wfiles_find(w, path);
				free(path);
				buf_append(&b, f->data, f->len);
				if (b.len && b.data[b.len - 1] != '\n')
					buf_putc(&b, '\n');
				buf_puts(&b, "dns: [");
			} else {
				buf_puts(&b, ", ");
			}
			yemit_string(&b, zi->sets[i].rel, strlen(zi->sets[i].rel));
		}
		if (k == 0)
			continue;
		buf_printf(&b, "]   # imported from zone %s\n", zi->zone);
		path = xasprintf("roles/%s.yaml", m->roles[r].name);
		{
			size_t len = b.len;

			wfiles_put(over, path, buf_steal(&b), len);
		}
		free(path);
	}
}

/* The zone_id of the dns/ZONE.yaml that --force replaces, so a second
 * import keeps it; else "NONE".  *kept owns what it returns. */
static const char *
keep_zone_id(const struct wfile *f, char **kept)
{
	struct ynode *root = NULL;
	const struct ynode *id;
	int line, col;

	*kept = NULL;
	if (!f || !f->data || ydoc_parse(&root, f->data, f->len, &YDOC_DEFAULT_LIMITS, &line,
	    &col) != OK)
		return "NONE";
	id = ynode_get(root, "zone_id");
	if (id && id->type == YNODE_SCALAR && strlen(id->str) == id->len && valid_zone_id(id->str))
		*kept = xstrdup(id->str);
	ynode_free(root);
	return *kept ? *kept : "NONE";
}

static int
import_zone(int argc, char **argv)
{
	struct opts o;
	struct zimport zi;
	struct wfiles w, over = { NULL, 0, 0 };
	struct model *m = NULL, *m1 = NULL, *m2 = NULL;
	struct artifacts art, art1, art2;
	struct buf warn = BUF_INIT, how = BUF_INIT;
	const char *dir, *zone_id;
	char *kept = NULL, **seen;
	const char **new_ip;
	char *text = NULL, *dnspath, *tfpath, *empty_zone, *src = NULL;
	const struct artifact *base, *after;
	size_t len, i, nhost = 0, nrole = 0, nzone = 0, nrend = 0;
	int rc;

	parse_opts(&o, argc, argv, "repo from-axfr from-file tsig zone-id force skip-unsupported",
	    1);
	if (o.nargs != 1)
		usage_error("import zone: which zone? (firebreak import zone ZONE --from-axfr "
		    "SERVER | --from-file FILE)");
	if (!o.from_axfr == !o.from_file)
		usage_error("import zone: give exactly one of --from-axfr SERVER and --from-file FILE");
	if (o.tsig && !o.from_axfr)
		usage_error("import zone: --tsig goes with --from-axfr");
	memset(&zi, 0, sizeof(zi));
	zi.zone = o.args[0];
	if (!valid_zone(zi.zone))
		usage_error("import zone: '%s' is not a zone name (lowercase, without the final dot)",
		    zi.zone);
	zone_id = o.zone_id ? o.zone_id : "NONE";
	dir = o.repo ? o.repo : ".";
	dnspath = xasprintf("dns/%s.yaml", zi.zone);
	tfpath = xasprintf("terraform/route53/%s.tf.json", zi.zone);
	wtree_read(&w, dir);
	import_refuse_existing(dir, dnspath, o.force);
	if (!o.zone_id)
		zone_id = keep_zone_id(wfiles_find(&w, dnspath), &kept);
	if (!valid_zone_id(zone_id))
		usage_error("import zone: --zone-id '%s' is not a Route53 zone id ([A-Z0-9]{1,32})",
		    zone_id);

	if (o.from_file) {
		struct buf b = BUF_INIT;

		if ((rc = fs_read(&b, o.from_file, ZONEFILE_MAX_BYTES)) != OK)
			die(rc == ERR_TOOBIG ? EXIT_INPUT : EXIT_ENV, "%s: %s", o.from_file,
			    err_last());
		len = b.len;
		text = b.data ? buf_steal(&b) : xstrdup("");
		src = xstrdup(o.from_file);
		buf_printf(&how, "the zone file %s", o.from_file);
	} else {
		text = read_axfr(&o, zi.zone);
		len = strlen(text);
		src = xasprintf("AXFR of %s from %s", zi.zone, o.from_axfr);
		buf_printf(&how, "%s by AXFR%s", o.from_axfr, o.tsig ? " (TSIG)" : "");
	}
	/* Named in a comment of the file: one line of printable text. */
	utf8_scrub(how.data);
	zi.src = src;
	rc = zonefile_parse(&zi.recs, zi.zone, src, text, len,
	    o.skip_unsupported ? ZONEFILE_SKIP_UNSUPPORTED : 0, &warn);
	if (rc != OK)
		die(EXIT_INPUT, "%s; nothing was written", err_last());
	group_sets(&zi, &warn);
	zi.ttl = common_ttl(&zi);

	/* What the inventory renders in this zone already: its files with an
	 * empty dns/ZONE.yaml at the zone's TTL. */
	empty_zone = xasprintf("zone_id: %s\nttl: %u\nrecords: []\n", zone_id, zi.ttl);
	wfiles_put(&over, dnspath, empty_zone, strlen(empty_zone));
	import_render(&m, &art, &w, &over, NULL, "the inventory in the checkout");
	base = artifacts_find(&art, tfpath);
	new_ip = xcalloc(m->nhosts ? m->nhosts : 1, sizeof(*new_ip));
	for (i = 0; i < zi.nsets; i++)
		if (!ours(m, zi.sets[i].name, zi.zone)) {
			size_t z = model_zone_of(m, zi.sets[i].name);

			die(EXIT_INPUT, "%s:%d: %s belongs to zone %s (dns/%s.yaml), not %s: firebreak "
			    "keeps each name in its most specific zone; nothing was written", src,
			    zi.sets[i].line, zi.sets[i].name, m->zones[z].name, m->zones[z].name,
			    zi.zone);
		}
	decide_hosts(&zi, m, base, new_ip);
	edit_hosts(&over, &zi, m, &w);
	import_render(&m1, &art1, &w, &over, NULL, "the checkout with the hosts' ips");
	decide_roles(&zi, m, artifacts_find(&art1, tfpath), &w, new_ip);
	edit_roles(&over, &zi, m, &w);
	xqsort(zi.sets, zi.nsets, sizeof(*zi.sets), set_cmp);
	{
		char *zt = zone_file_text(&zi, zone_id, how.data);

		wfiles_put(&over, dnspath, zt, strlen(zt));
	}

	/* The check: the inventory as it will be renders every set read. */
	seen = xcalloc(zi.nsets ? zi.nsets : 1, sizeof(*seen));
	import_render(&m2, &art2, &w, &over, NULL, "the imported inventory");
	after = artifacts_find(&art2, tfpath);
	for (i = 0; i < zi.nsets; i++) {
		const struct rrset *s = &zi.sets[i];
		char *obj = xasprintf("%s/%s", s->name, s->type);
		const struct artifact_object *ob = find_object(after, obj);

		if (!ob || !object_is(ob, s))
			die(EXIT_INPUT, "%s:%d: %s would render as %s (%s), not as read: a bug in "
			    "import; nothing was written", src, s->line, obj, ob ? ob->value : "nothing",
			    ob && ob->extra ? ob->extra : "");
		free(obj);
		nhost += s->fate == TO_HOST;
		nrole += s->fate == TO_ROLE;
		nzone += s->fate == TO_ZONE;
		nrend += s->fate == RENDERED;
	}
	for (i = 0; i < zi.nsets; i++)
		seen[i] = xasprintf("%s/%s", zi.sets[i].name, zi.sets[i].type);
	xqsort(seen, zi.nsets, sizeof(*seen), str_cmp);
	for (i = 0; after && i < after->nobjs; i++) {
		const struct artifact_object *ob = &after->objs[i];
		const char *key = ob->name;

		if (!xbsearch(&key, seen, zi.nsets, sizeof(*seen), str_cmp))
			buf_printf(&warn, "warning: the inventory also renders %s %s in %s, which "
			    "the zone does not have: the first apply adds it\n", ob->name,
			    ob->value ? ob->value : "", zi.zone);
	}
	if (zi.recs.dnssec)
		buf_printf(&warn, "note: %zu DNSSEC record%s (RRSIG, NSEC, DNSKEY, ...) left out: "
		    "the signer keeps them\n", zi.recs.dnssec, zi.recs.dnssec == 1 ? "" : "s");

	import_write(dir, &over);
	if (warn.len)
		fputs(warn.data, stderr);
	printf("imported %s from %s: %zu record set%s (%zu in dns/%s.yaml, %zu host ip%s, "
	    "%zu role dns name%s, %zu already in the inventory); left out: ", zi.zone, how.data,
	    zi.nsets, zi.nsets == 1 ? "" : "s", nzone, zi.zone, nhost, nhost == 1 ? "" : "s",
	    nrole, nrole == 1 ? "" : "s", nrend);
	if (o.from_axfr)
		printf("the SOA and the apex NS set");
	else
		printf("%zu SOA, %zu apex NS", zi.recs.soa, zi.recs.apex_ns);
	printf("%s\n", zi.recs.skipped ? ", and unsupported records (see above)" : "");
	for (i = 0; i < over.n; i++)
		printf("wrote %s/%s\n", dir, over.v[i].path);
	if (FREE_AT_EXIT) {
		for (i = 0; i < zi.nsets; i++)
			free(zi.sets[i].vals);
		free(zi.sets);
		zrecs_dispose(&zi.recs);
		free((void *)new_ip);
		artifacts_dispose(&art);
		artifacts_dispose(&art1);
		artifacts_dispose(&art2);
		model_free(m1);
		model_free(m);
		model_free(m2);
		wfiles_dispose(&w);
		wfiles_dispose(&over);
		buf_dispose(&warn);
		buf_dispose(&how);
		free(text);
		free(src);
		free(dnspath);
		free(tfpath);
		free(kept);
		for (i = 0; i < zi.nsets; i++)
			free(seen[i]);
		free(seen);
	}
	return EXIT_OK;
}

/* `firebreak import --help` is cli.c's table entry, as every command's. */
int
cmd_import(int argc, char **argv)
{
	if (argc < 1)
		usage_error("import: zone or enc? (firebreak import --help)");
	if (strcmp(argv[0], "zone") == 0)
		return import_zone(argc - 1, argv + 1);
	if (strcmp(argv[0], "enc") == 0)
		return import_enc(argc - 1, argv + 1);
	usage_error("import: '%s' is neither zone nor enc (firebreak import --help)", argv[0]);
}
