/*
 * rfc2136.c - the `rfc2136` apply provider: bring an authoritative DNS
 * server's zones to what the release says, by DNS UPDATE (RFC 2136)
 * signed with TSIG (RFC 8945), checked against a zone transfer before
 * and after (DESIGN.md "Reaching the world: apply providers").
 *
 *   apply:
 *     - type: rfc2136
 *       kinds: [dns]                    # default: every kind
 *       server: "127.0.0.1:53"          # the zones' primary; TCP; host[:port], [v6]:port
 *       tsig: {name: firebreak-key, algorithm: hmac-sha256, secret_file: /etc/firebreak/tsig.key}
 *       zones: [example.com]            # default: every zone the release renders
 *       timeout: 60                     # seconds for the whole apply
 *       max_rrset: 100                  # records one RRset may hold (BIND 9.18's default)
 *
 * Firebreak manages EVERY record of a configured zone except its SOA and
 * its apex NS set (and the records a DNSSEC signer keeps): what the
 * release does not list is deleted.
 *
 * One apply, for the zones whose rendered terraform/route53/<zone>.tf.json
 * differs between the previous release (BASE) and the plan's (TARGET):
 *   1. for every zone, before anything is sent anywhere: read both
 *      releases' records, check no RRset of the target passes max_rrset,
 *      read the zone by AXFR (signed, every message verified, complete),
 *      and compare the live records with BASE.  Any difference is drift:
 *      nothing is sent to any zone and the apply fails with the drift
 *      listed.  An unreadable zone fails the same way.
 *   2. per zone, the difference live -> TARGET as UPDATE messages below
 *      64 KiB, each with the prerequisite "the SOA is exactly this" (the
 *      one read, then the one read back after each message), deletes
 *      before adds, a name's changes in one message when they fit.  A
 *      refused prerequisite (someone changed the zone) stops the zone:
 *      the zone is read again and the difference posted as drift.
 *   3. per zone, AXFR again: the zone must now equal TARGET.
 *
 * After a restart (apply.h: APPLY_AFTER_RESTART) the apply being finished
 * may have sent some of its UPDATEs already, or all of them: in step 1 an
 * RRset that equals TARGET's is then not drift, only one that equals
 * neither side is; step 2 sends what is left (nothing, if the first run
 * got through).  A run a killed controller left running is stopped by the
 * restart first (apply_ops.group: the forked child's process group), so
 * two runs never send at once.
 *
 * ldns blocks, so all of it runs in a forked child (proc_fork): the
 * child has the parent's artifacts in its copy of memory, writes its
 * report on stdout with a last line "@rfc2136 ok|failed|drift", and
 * finish() turns that into the outcome.  The TSIG secret file is read at
 * open() (a bad one stops the controller from starting) and again at
 * every apply (a key rotated in place is used without a restart; one
 * deleted since fails that apply, naming the file, the zones and the
 * server).
 */
#include "providers/apply/apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/names.h"
#include "base/proc.h"
#include "base/secret.h"
#include "providers/apply/dnsrec.h"
#include "providers/apply/dnswire.h"
#include "providers/apply/rfc2136.h"

struct r2_run {
	struct proc *p;                   /* NULL: nothing to do */
	char *note;                       /* owns; the reason when p is NULL */
};

static void
cfg_close(void *st)
{
	struct r2_cfg *c = st;
	size_t i;

	if (!c)
		return;
	free(c->host);
	free(c->port);
	free(c->server);
	free(c->key_name);
	free(c->alg_name);
	free(c->secret_file);
	for (i = 0; i < c->nzones; i++)
		free(c->zones[i]);
	free(c->zones);
	free(c);
}

/* ---- configuration -------------------------------------------------------- */

static const struct ynode *
scalar(const struct ynode *map, const char *key)
{
	const struct ynode *n = ynode_get(map, key);

	return n && n->type == YNODE_SCALAR && strlen(n->str) == n->len ? n : NULL;
}

static int
host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '.' || c == '-';
}

/* "host", "host:port", "[v6]:port", "[v6]". */
static int
parse_server(struct r2_cfg *c, const struct ynode *cfg)
{
	const struct ynode *n = ynode_get(cfg, "server");
	const char *s, *colon;
	uint64_t port = 53;
	size_t hl, i;

	if (!n)
		return err_set(ERR_INVALID, "apply rfc2136: server is required: the zones' primary, "
		    "e.g. \"127.0.0.1:53\"");
	if (!scalar(cfg, "server") || n->len == 0 || n->len > 300)
		return err_set(ERR_INVALID, "apply rfc2136: server (line %d): expected "
		    "\"host:port\"", n->line);
	s = n->str;
	if (s[0] == '[') {
		const char *e = strchr(s, ']');

		if (!e || e == s + 1)
			return err_set(ERR_INVALID, "apply rfc2136: server (line %d): bad IPv6 "
			    "address", n->line);
		c->host = xstrndup(s + 1, (size_t)(e - s - 1));
		colon = e[1] == ':' ? e + 1 : NULL;
		if (e[1] && !colon)
			return err_set(ERR_INVALID, "apply rfc2136: server (line %d): expected "
			    "[address]:port", n->line);
		for (i = 0; c->host[i]; i++)
			if (!strchr("0123456789abcdefABCDEF:.", c->host[i]))
				return err_set(ERR_INVALID, "apply rfc2136: server (line %d): bad "
				    "IPv6 address", n->line);
	} else {
		colon = strchr(s, ':');
		hl = colon ? (size_t)(colon - s) : n->len;
		if (hl == 0 || hl > 253)
			return err_set(ERR_INVALID, "apply rfc2136: server (line %d): expected "
			    "\"host:port\"", n->line);
		for (i = 0; i < hl; i++)
			if (!host_char(s[i]))
				return err_set(ERR_INVALID, "apply rfc2136: server (line %d): bad "
				    "host name or address", n->line);
		c->host = xstrndup(s, hl);
	}
	if (colon && parse_u64(&port, colon + 1, 1, 65535) != OK)
		return err_set(ERR_INVALID, "apply rfc2136: server (line %d): bad port", n->line);
	c->port = xasprintf("%u", (unsigned)port);
	c->server = xstrdup(s);
	return OK;
}

/* A TSIG key name: DNS labels of [A-Za-z0-9_-]. */
static int
key_name_ok(const char *s)
{
	size_t i, lab = 0, len = strlen(s);

	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i <= len; i++) {
		char c = s[i];

		if (c == '.' || c == '\0') {
			if ((lab == 0 && !(c == '\0' && i == len && i > 0 && s[i - 1] == '.')) ||
			    lab > 63)
				return 0;
			lab = 0;
			continue;
		}
		if (!(host_char(c) || c == '_') || c == '.')
			return 0;
		lab++;
	}
	return 1;
}

static int
parse_tsig(struct r2_cfg *c, const struct ynode *cfg)
{
	static const char *const known[] = { "name", "algorithm", "secret_file", NULL };
	const struct ynode *t = ynode_get(cfg, "tsig"), *n;
	struct tsigkey k = { 0 };
	size_t i, j;

	if (!t)
		return err_set(ERR_INVALID, "apply rfc2136: tsig is required: {name, algorithm, "
		    "secret_file} (updates and transfers are always signed)");
	if (t->type != YNODE_MAP)
		return err_set(ERR_INVALID, "apply rfc2136: tsig (line %d): expected a mapping "
		    "{name, algorithm, secret_file}", t->line);
	for (i = 0; i < t->n; i++) {
		for (j = 0; known[j] && strcmp(known[j], t->keys[i]->str) != 0; j++)
			;
		if (!known[j])
			return err_set(ERR_INVALID, "apply rfc2136: tsig: unknown key \"%.40s\" "
			    "(line %d); known: name, algorithm, secret_file", t->keys[i]->str,
			    t->keys[i]->line);
	}
	if (!(n = scalar(t, "name")) || !key_name_ok(n->str))
		return err_set(ERR_INVALID, "apply rfc2136: tsig.name (line %d): expected the "
		    "key's name as the server knows it (DNS labels)", n ? n->line : t->line);
	{
		size_t len = strlen(n->str);

		c->key_name = xasprintf("%s%s", n->str, len && n->str[len - 1] == '.' ? "" : ".");
		for (i = 0; c->key_name[i]; i++)
			if (c->key_name[i] >= 'A' && c->key_name[i] <= 'Z')
				c->key_name[i] = (char)(c->key_name[i] - 'A' + 'a');
	}
	n = scalar(t, "algorithm");
	c->alg_name = xstrdup(n ? n->str : "hmac-sha256");
	if ((ynode_get(t, "algorithm") && !n) || tsigkey_algorithm(&k, c->alg_name) != OK)
		return err_set(ERR_INVALID, "apply rfc2136: tsig.algorithm (line %d): expected "
		    "hmac-sha256 or hmac-sha512", ynode_get(t, "algorithm")->line);
	if (!(n = scalar(t, "secret_file")) || n->str[0] != '/')
		return err_set(ERR_INVALID, "apply rfc2136: tsig.secret_file (line %d): expected "
		    "the absolute path of the file holding the key's secret", n ? n->line : t->line);
	c->secret_file = xstrdup(n->str);
	return OK;
}

static int
parse_zones(struct r2_cfg *c, const struct ynode *cfg)
{
	const struct ynode *n = ynode_get(cfg, "zones");
	size_t i, j;

	if (!n)
		return OK;
	if (n->type != YNODE_SEQ || n->n == 0 || n->n > R2_ZONES_MAX)
		return err_set(ERR_INVALID, "apply rfc2136: zones (line %d): expected a list of "
		    "zone names (leave it out for every zone in dns/)", n->line);
	c->zones = xcalloc(n->n, sizeof(*c->zones));
	for (i = 0; i < n->n; i++) {
		const struct ynode *z = n->items[i];

		if (z->type != YNODE_SCALAR || strlen(z->str) != z->len || !valid_zone(z->str))
			return err_set(ERR_INVALID, "apply rfc2136: zones[%zu] (line %d): expected a "
			    "zone name in lowercase, without the final dot", i, z->line);
		for (j = 0; j < c->nzones; j++)
			if (strcmp(c->zones[j], z->str) == 0)
				return err_set(ERR_INVALID, "apply rfc2136: zones[%zu] (line %d): %s "
				    "is listed twice", i, z->line, z->str);
		c->zones[c->nzones++] = xstrdup(z->str);
	}
	return OK;
}

static int
parse_number(unsigned *out, const struct ynode *cfg, const char *key, unsigned dflt,
    unsigned max)
{
	const struct ynode *n = ynode_get(cfg, key);
	uint64_t v;

	*out = dflt;
	if (!n)
		return OK;
	if (n->type != YNODE_SCALAR || n->quoted || parse_u64(&v, n->str, 1, max) != OK)
		return err_set(ERR_INVALID, "apply rfc2136: %s (line %d): expected a whole number "
		    "from 1 to %u", key, n->line, max);
	*out = (unsigned)v;
	return OK;
}

/*
 * The secret file, through the one reader of secret files (base/secret.h:
 * refused when missing, not a regular file, readable or writable by
 * others than its owner and group, empty or too big; the messages name
 * the file, never the content), then as a TSIG key (tsigkey.h).
 */
static int
read_secret(char **out, const struct r2_cfg *c)
{
	struct tsigkey k = { 0 };
	char *text = NULL;
	int rc;

	*out = NULL;
	if ((rc = secret_read(&text, c->secret_file, 0)) != OK)
		return err_set(rc, "tsig.secret_file: %s", err_last());
	k.name = c->key_name;
	tsigkey_algorithm(&k, c->alg_name);
	if ((rc = tsigkey_parse_secret(out, &k, text)) != OK)
		rc = err_set(rc, "tsig.secret_file: %s: %s", c->secret_file, err_last());
	secret_free(text);
	return rc;
}

static int
r2_open(void **out, const struct ynode *cfg)
{
	static const char *const known[] = { "kinds", "server", "tsig", "zones", "timeout",
		"max_rrset", NULL };
	struct r2_cfg *c;
	char *secret = NULL;
	int rc;

	*out = NULL;
	if ((rc = apply_check_keys(cfg, "rfc2136", known)) != OK)
		return rc;
	c = xcalloc(1, sizeof(*c));
	if ((rc = apply_kinds_parse(&c->kinds, ynode_get(cfg, "kinds"), "apply rfc2136: kinds")) != OK ||
	    (rc = parse_server(c, cfg)) != OK ||
	    (rc = parse_tsig(c, cfg)) != OK ||
	    (rc = parse_zones(c, cfg)) != OK ||
	    (rc = parse_number(&c->timeout_s, cfg, "timeout", R2_TIMEOUT_DEFAULT, R2_TIMEOUT_MAX)) != OK ||
	    (rc = parse_number(&c->max_rrset, cfg, "max_rrset", R2_MAX_RRSET_DEFAULT, 65535)) != OK)
		goto fail;
	if ((rc = read_secret(&secret, c)) != OK) {
		rc = err_set(rc, "apply rfc2136: %s", err_last());
		goto fail;
	}
	explicit_bzero(secret, strlen(secret));
	free(secret);
	*out = c;
	return OK;
fail:
	cfg_close(c);
	return rc;
}

static int
r2_wants(void *st, const struct plan *p)
{
	const struct r2_cfg *c = st;

	return apply_plan_touches(p, c->kinds);
}

/* ---- the parent ---------------------------------------------------------------- */

static const struct artifact *
zone_artifact(const struct artifacts *set, const char *zone)
{
	char path[300];
	int n;

	if (!set)
		return NULL;
	n = snprintf(path, sizeof(path), "terraform/route53/%s.tf.json", zone);
	if (n < 0 || (size_t)n >= sizeof(path))
		return NULL;
	return artifacts_find(set, path);
}

static int
same_artifact(const struct artifact *a, const struct artifact *b)
{
	if (!a || !b)
		return a == b;
	return a->len == b->len && (a->data == b->data || memcmp(a->data, b->data, a->len) == 0);
}

/* The zones of this apply: configured (or every one the target renders)
 * whose file differs between the releases.  ERR_NOTFOUND naming a
 * configured zone the target does not render. */
static int
job_zones(struct r2_job *j, const struct r2_cfg *c, const struct apply_info *in)
{
	static const char pre[] = "terraform/route53/", suf[] = ".tf.json";
	const struct artifacts *t = in->target_art;
	struct buf list = BUF_INIT;
	size_t i, cap = c->zones ? c->nzones : t->n;

	j->z = xcalloc(cap ? cap : 1, sizeof(*j->z));
	for (i = 0; i < cap; i++) {
		const char *name;
		char *own = NULL;
		struct r2_zone *z;

		if (c->zones) {
			name = c->zones[i];
		} else {
			const char *p = t->v[i].path;
			size_t pl = strlen(p);

			if (strncmp(p, pre, sizeof(pre) - 1) != 0 || pl <= sizeof(pre) - 1 + sizeof(suf) - 1 ||
			    strcmp(p + pl - (sizeof(suf) - 1), suf) != 0)
				continue;
			own = xstrndup(p + sizeof(pre) - 1, pl - (sizeof(pre) - 1) - (sizeof(suf) - 1));
			name = own;
			if (!valid_zone(name)) {
				free(own);
				continue;
			}
		}
		z = &j->z[j->nz];
		z->target = zone_artifact(t, name);
		z->base = j->drift_only || j->reconcile ? z->target : zone_artifact(in->base_art, name);
		if (!z->target) {
			err_set(ERR_NOTFOUND, "%s on %s: zone %s is configured (zones:) but the release "
			    "renders no terraform/route53/%s.tf.json (no dns/%s.yaml); nothing was sent",
			    name, c->server, name, name, name);
			free(own);
			buf_dispose(&list);
			return ERR_NOTFOUND;
		}
		/* A zone the plan did not change is left alone (drift there is
		 * found by `firebreak drift`, not by every unrelated apply). */
		if (!j->drift_only && !j->reconcile && in->base_art && same_artifact(z->base, z->target)) {
			free(own);
			continue;
		}
		z->name = own ? own : xstrdup(name);
		buf_printf(&list, "%s%s", j->nz ? ", " : "", z->name);
		j->nz++;
	}
	j->zone_list = buf_steal(&list);
	return OK;
}

static void
job_free(struct r2_job *j)
{
	size_t i;

	for (i = 0; i < j->nz; i++)
		free(j->z[i].name);
	free(j->z);
	free(j->zone_list);
	tsigkey_dispose(&j->key);
}

static int
begin(void **run, const struct r2_cfg *c, const struct apply_info *in, int drift_only)
{
	struct r2_job j;
	struct proc_opts o = { 0 };
	struct r2_run *r;
	int rc;

	*run = NULL;
	memset(&j, 0, sizeof(j));
	j.cfg = c;
	j.drift_only = drift_only;
	j.after_restart = !drift_only && (in->flags & APPLY_AFTER_RESTART);
	j.reconcile = !drift_only && in->reconcile;
	if (!in->target_art)
		return err_set(ERR_INVALID, "apply rfc2136: the caller gave no release artifacts");
	if ((rc = job_zones(&j, c, in)) != OK)
		goto out;
	r = xcalloc(1, sizeof(*r));
	if (j.nz == 0) {
		r->note = xstrdup(drift_only ? "rfc2136: the release renders no configured zone" :
		    "rfc2136: no configured zone changed; nothing to send");
		*run = r;
		goto out;
	}
	j.key.name = xstrdup(c->key_name);
	tsigkey_algorithm(&j.key, c->alg_name);
	if ((rc = read_secret(&j.key.secret, c)) != OK) {
		rc = err_set(rc, "%s on %s: %s%s", j.zone_list, c->server, err_last(),
		    drift_only ? "" : "; nothing was sent");
		free(r);
		goto out;
	}
	o.timeout_ms = c->timeout_s * 1000u;
	o.output_cap = R2_REPORT_MAX + 4096;
	/* The child works on its copy of j, the artifacts and the config. */
	if ((rc = proc_fork(&r->p, r2_child, &j, &o)) != OK) {
		rc = err_set(rc, "apply rfc2136: %s", err_last());
		free(r);
		goto out;
	}
	*run = r;
out:
	job_free(&j);
	return rc;
}

static int
r2_start(void **run, void *st, const struct apply_info *in)
{
	return begin(run, st, in, 0);
}

static int
r2_drift(void **run, void *st, const struct apply_info *in)
{
	return begin(run, st, in, 1);
}

static int
r2_fd(void *run)
{
	struct r2_run *r = run;

	return r->p ? proc_fd(r->p) : -1;
}

static int
r2_timeout_ms(void *run)
{
	struct r2_run *r = run;

	return r->p ? proc_timeout_ms(r->p) : 0;
}

static int
r2_step(void *run)
{
	struct r2_run *r = run;

	return r->p ? proc_poll(r->p) : 1;
}

static void
r2_cancel(void *run)
{
	struct r2_run *r = run;

	if (r->p)
		proc_cancel(r->p);
}

/* Printable text for chat: control bytes other than newline and tab as '?'. */
static void
put_printable(struct buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		buf_putc(b, (ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f ? '?' : (char)ch);
	}
}

static int
r2_finish_found(char **reason, struct apply_found *found, void *run)
{
	struct r2_run *r = run;
	struct proc_result res;
	struct buf b = BUF_INIT;
	const char *d, *last;
	size_t len;
	int rc = ERR;

	*reason = NULL;
	memset(found, 0, sizeof(*found));
	if (!r->p) {
		*reason = r->note;
		free(r);
		return OK;
	}
	proc_finish(&res, r->p);
	d = res.output.data;
	len = res.output.len;
	while (len > 0 && d[len - 1] == '\n')
		len--;
	for (last = d + len; last > d && last[-1] != '\n'; last--)
		;
	if ((size_t)(d + len - last) > sizeof(R2_RESULT) - 1 &&
	    strncmp(last, R2_RESULT, sizeof(R2_RESULT) - 1) == 0) {
		const char *what = last + sizeof(R2_RESULT) - 1;
		size_t wl = (size_t)(d + len - what);

		if (wl == 2 && strncmp(what, "ok", 2) == 0 && proc_result_ok(&res))
			rc = OK;
		else if (wl > 6 && strncmp(what, "drift ", 6) == 0) {
			char n[24];
			uint64_t v;

			rc = ERR_CONFLICT;
			snprintf(n, sizeof(n), "%.*s", (int)(wl - 6 < 23 ? wl - 6 : 23), what + 6);
			if (parse_u64(&v, n, 0, SIZE_MAX) == OK)
				found->differ = (size_t)v;
		}
		len = (size_t)(last - d);
		while (len > 0 && d[len - 1] == '\n')
			len--;
		put_printable(&b, d, len);
	} else {
		/* No report: the child crashed or timed out. */
		buf_puts(&b, "rfc2136: the apply ");
		proc_result_describe(&b, &res);
		buf_puts(&b, " before it reported");
		if (len) {
			buf_puts(&b, ":\n");
			put_printable(&b, len > 2000 ? d + len - 2000 : d, len > 2000 ? 2000 : len);
		}
	}
	*reason = buf_steal(&b);
	proc_result_dispose(&res);
	free(r);
	return rc;
}

static long
r2_group(void *run)
{
	struct r2_run *r = run;

	return r->p ? proc_pid(r->p) : 0;
}

static int
r2_finish(char **reason, void *run)
{
	struct apply_found found;

	return r2_finish_found(reason, &found, run);
}

/* ---- reading a zone for `firebreak import zone` -------------------------------- */

/*
 * The zone by AXFR, here and now (the CLI has no loop to keep going),
 * signed when cfg has a tsig entry and unsigned otherwise (a server that
 * allows transfers by address).  Only the records dnsrec_managed() keeps
 * come back, as ldns writes them: the importer reads that text with the
 * same parser as a zone file.
 */
static int
r2_read_zone(char **out, const struct ynode *cfg, const char *zone)
{
	static const char *const known[] = { "server", "tsig", "timeout", NULL };
	struct r2_cfg *c = xcalloc(1, sizeof(*c));
	struct tsigkey k = { 0 };
	struct dnsrecs recs = { 0 };
	struct dnsconn conn = { -1, 0, NULL };
	struct buf b = BUF_INIT;
	ldns_rr *soa = NULL;
	ldns_rdf *rdf = NULL;
	size_t i;
	int rc;

	*out = NULL;
	if ((rc = apply_check_keys(cfg, "rfc2136", known)) != OK ||
	    (rc = parse_server(c, cfg)) != OK ||
	    (ynode_get(cfg, "tsig") && (rc = parse_tsig(c, cfg)) != OK) ||
	    (rc = parse_number(&c->timeout_s, cfg, "timeout", R2_TIMEOUT_DEFAULT, R2_TIMEOUT_MAX)) != OK)
		goto out;
	if (!valid_zone(zone)) {
		rc = err_set(ERR_INVALID, "'%s' is not a zone name", zone);
		goto out;
	}
	if (c->key_name) {
		k.name = xstrdup(c->key_name);
		tsigkey_algorithm(&k, c->alg_name);
		if ((rc = read_secret(&k.secret, c)) != OK)
			goto out;
	}
	rdf = ldns_dname_new_frm_str(zone);
	ASSERT(rdf);
	if ((rc = dnsconn_open(&conn, c->host, c->port, c->server,
	    log_now() + c->timeout_s)) != OK)
		goto out;
	rc = dnswire_axfr(&recs, &soa, &conn, rdf, &k);
	dnsconn_close(&conn);
	if (rc != OK)
		goto out;
	for (i = 0; i < recs.n; i++) {
		char *t = ldns_rr2str(recs.v[i].rr);

		ASSERT(t);
		buf_puts(&b, t);
		if (b.len == 0 || b.data[b.len - 1] != '\n')
			buf_putc(&b, '\n');
		free(t);
	}
	*out = b.data ? buf_steal(&b) : xstrdup("");
out:
	buf_dispose(&b);
	dnsrecs_dispose(&recs);
	if (soa)
		ldns_rr_free(soa);
	if (rdf)
		ldns_rdf_deep_free(rdf);
	tsigkey_dispose(&k);
	cfg_close(c);
	return rc;
}

static const struct apply_ops r2_ops = {
	.open = r2_open,
	.wants = r2_wants,
	.start = r2_start,
	.fd = r2_fd,
	.timeout_ms = r2_timeout_ms,
	.step = r2_step,
	.cancel = r2_cancel,
	.finish = r2_finish,
	.close = cfg_close,
	.drift = r2_drift,
	.group = r2_group,
	.finish_found = r2_finish_found,
	.read_zone = r2_read_zone,
};

const struct apply_provider apply_rfc2136 = {
	.abi = APPLY_PROVIDER_ABI,
	.name = "rfc2136",
	.ops = &r2_ops,
};
