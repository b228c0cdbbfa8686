/*
 * rfc2136_child.c - the rfc2136 provider's apply, run in a forked child
 * (see rfc2136.c for the whole story and rfc2136.h for the split): for
 * every zone first the checks (both releases' records, max_rrset, the
 * live zone by AXFR, drift against the base), then per zone the UPDATE
 * messages and the transfer that verifies them; the report goes to
 * stdout, where the parent's finish() reads it.  ldns blocks: that is
 * why this runs here and not in the controller's loop.
 */
#include "providers/apply/rfc2136.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

/* ---- the child: reporting ------------------------------------------------- */

struct report {
	struct buf text;
	int failed, drift;
	size_t differ;                    /* record sets that drifted */
};

static void
report_line(struct report *r, const char *zone, const char *server, const char *msg)
{
	buf_printf(&r->text, "%s on %s: %s\n", zone, server, msg);
}

/* Everything on stdout in one go, capped, and the result line last. */
static int
report_end(struct report *r)
{
	struct buf out = BUF_INIT;
	size_t len = r->text.len, off = 0;
	const char *what = r->drift ? "drift" : r->failed ? "failed" : "ok";

	if (len > R2_REPORT_MAX) {
		len = R2_REPORT_MAX;
		while (len > 0 && r->text.data[len - 1] != '\n')
			len--;
	}
	buf_append(&out, r->text.data ? r->text.data : "", len);
	if (len < r->text.len)
		buf_puts(&out, "... (report shortened)\n");
	if (r->drift)
		buf_printf(&out, R2_RESULT "%s %zu\n", what, r->differ);
	else
		buf_printf(&out, R2_RESULT "%s\n", what);
	while (off < out.len) {
		ssize_t w = write(1, out.data + off, out.len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	buf_dispose(&out);
	buf_dispose(&r->text);
	return r->failed || r->drift ? 1 : 0;
}

/* ---- the child: one zone ---------------------------------------------------- */

static int
read_release(struct dnsrecs *out, size_t *apex_ns, const char *zone, const struct artifact *a)
{
	if (!a) {
		memset(out, 0, sizeof(*out));
		*apex_ns = 0;
		return OK;
	}
	return dnsrec_from_tfjson(out, apex_ns, zone, a->data, a->len);
}

static int
axfr_zone(struct dnsrecs *out, ldns_rr **soa, const struct r2_job *j, const struct r2_zone *z,
    double deadline)
{
	struct dnsconn conn;
	int rc;

	if ((rc = dnsconn_open(&conn, j->cfg->host, j->cfg->port, j->cfg->server, deadline)) != OK)
		return rc;
	rc = dnswire_axfr(out, soa, &conn, z->rdf, &j->key);
	dnsconn_close(&conn);
	return rc;
}

/* Does an RRset of the target pass max_rrset?  Names the first. */
static int
check_rrsets(const struct r2_zone *z, unsigned max)
{
	size_t i = 0, e;

	while (i < z->target_recs.n) {
		for (e = i + 1; e < z->target_recs.n &&
		    strcmp(z->target_recs.v[e].owner, z->target_recs.v[i].owner) == 0 &&
		    z->target_recs.v[e].type == z->target_recs.v[i].type; e++)
			;
		if (e - i > max) {
			struct buf t = BUF_INIT;

			dnsrec_show_type(&t, z->target_recs.v[i].type);
			err_set(ERR_TOOBIG, "%s %s would hold %zu records, more than max_rrset (%u): "
			    "the server refuses an RRset that large (BIND: max-records-per-type); "
			    "split the round-robin or raise both limits", z->target_recs.v[i].owner,
			    t.data, e - i, max);
			buf_dispose(&t);
			return ERR_TOOBIG;
		}
		i = e;
	}
	return OK;
}

/* Phase 1 for one zone: both releases, limits, the live zone, drift. */
static void
prepare_zone(struct report *rep, struct r2_job *j, struct r2_zone *z, double deadline)
{
	const char *srv = j->cfg->server;
	struct dnsdiff d;
	size_t ignored;
	char *msg;

	/* Reading for drift compares with one release: read it once. */
	if (read_release(&z->base_recs, &ignored, z->name, z->base) != OK ||
	    (!j->drift_only &&
	    read_release(&z->target_recs, &z->apex_ns, z->name, z->target) != OK)) {
		msg = xasprintf("the release's terraform/route53/%s.tf.json cannot be read: %s; "
		    "nothing was sent", z->name, err_last());
		report_line(rep, z->name, srv, msg);
		free(msg);
		rep->failed = 1;
		return;
	}
	if (check_rrsets(z, j->cfg->max_rrset) != OK) {
		msg = xasprintf("%s; nothing was sent", err_last());
		report_line(rep, z->name, srv, msg);
		free(msg);
		rep->failed = 1;
		return;
	}
	if (axfr_zone(&z->live, &z->soa, j, z, deadline) != OK) {
		msg = xasprintf("reading the zone by AXFR failed: %s; nothing was sent", err_last());
		report_line(rep, z->name, srv, msg);
		free(msg);
		rep->failed = 1;
		return;
	}
	if (j->reconcile) {
		/* Whatever the zone holds now is overwritten: say what. */
		dnsrec_diff(&d, &z->live, &z->target_recs);
		if (d.n > 0) {
			buf_printf(&rep->text, "%s: reconcile: %zu record set%s differ%s from the "
			    "release (serial %u); they are overwritten:\n", z->name, d.n,
			    d.n == 1 ? "" : "s", d.n == 1 ? "s" : "", dnswire_soa_serial(z->soa));
			dnsdiff_format(&rep->text, &d, &z->live, &z->target_recs, "live", "release",
			    R2_DIFF_LINES);
		}
		dnsdiff_dispose(&d);
		return;
	}
	/* After a restart an RRset may be at the target already: drift is
	 * only what matches neither side. */
	if (j->after_restart)
		dnsrec_diff_neither(&d, &z->live, &z->base_recs, &z->target_recs);
	else
		dnsrec_diff(&d, &z->live, &z->base_recs);
	if (d.n == 0 && j->drift_only)
		buf_printf(&rep->text, "%s: as the release says (%zu record%s, serial %u)\n",
		    z->name, z->live.n, z->live.n == 1 ? "" : "s", dnswire_soa_serial(z->soa));
	if (d.n > 0) {
		msg = xasprintf("the zone has drifted: %zu record set%s differ%s from what the "
		    "%s release says%s (serial %u)%s", d.n, d.n == 1 ? "" : "s", d.n == 1 ? "s" : "",
		    j->drift_only ? "current" : "last applied",
		    j->after_restart ? " and from the one being applied" : "",
		    dnswire_soa_serial(z->soa), j->drift_only ? "" : "; nothing was sent");
		report_line(rep, z->name, srv, msg);
		free(msg);
		dnsdiff_format(&rep->text, &d, &z->live, &z->base_recs, "live", "expected",
		    R2_DIFF_LINES);
		rep->drift = 1;
		rep->differ += d.n;
	}
	dnsdiff_dispose(&d);
}

/* The zone changed under us: read it again and post what differs. */
static void
report_race(struct report *rep, struct r2_job *j, struct r2_zone *z, size_t sent,
    size_t nmsg, double deadline, const char *rcode)
{
	struct dnsrecs now;
	ldns_rr *soa = NULL;
	struct dnsdiff d;
	const struct dnsrecs *want = sent ? &z->target_recs : &z->base_recs;
	char *msg;

	msg = xasprintf("the server refused UPDATE %zu of %zu: its SOA prerequisite failed (%s): "
	    "someone changed the zone since firebreak read it; %zu message%s had been applied",
	    sent + 1, nmsg, rcode, sent, sent == 1 ? "" : "s");
	report_line(rep, z->name, j->cfg->server, msg);
	free(msg);
	rep->drift = 1;
	if (axfr_zone(&now, &soa, j, z, deadline) != OK) {
		buf_printf(&rep->text, "  (reading it again failed too: %s)\n", err_last());
		return;
	}
	dnsrec_diff(&d, &now, want);
	rep->differ += d.n;
	buf_printf(&rep->text, "  the zone now (serial %u) against %s:\n", dnswire_soa_serial(soa),
	    sent ? "the release being applied" : "the last applied release");
	dnsdiff_format(&rep->text, &d, &now, want, "live", "expected", R2_DIFF_LINES);
	dnsdiff_dispose(&d);
	dnsrecs_dispose(&now);
	ldns_rr_free(soa);
}

/* Phase 2 and 3 for one zone. */
static void
apply_zone(struct report *rep, struct r2_job *j, struct r2_zone *z, double deadline)
{
	const char *srv = j->cfg->server;
	struct dnsconn conn = { -1, 0, NULL };
	struct dnsdiff d;
	struct dnsops ops;
	struct dnsrecs after = { 0 };
	ldns_rr *soa = ldns_rr_clone(z->soa), *after_soa = NULL;
	size_t *cuts = NULL, nmsg, m, start = 0;
	uint32_t serial0 = dnswire_soa_serial(z->soa);
	double t_update = 0, t_verify = 0;
	char tmp[16], *msg;
	int rcode;

	dnsrec_diff(&d, &z->live, &z->target_recs);
	dnsrec_ops(&ops, &d, &z->live, &z->target_recs);
	if (ops.n == 0) {
		buf_printf(&rep->text, "%s: no change (serial %u)\n", z->name, serial0);
		goto out;
	}
	nmsg = dnswire_pack(&cuts, &ops, DNSWIRE_UPDATE_BUDGET);
	t_update = log_now();
	if (dnsconn_open(&conn, j->cfg->host, j->cfg->port, srv, deadline) != OK) {
		msg = xasprintf("cannot connect to send the update: %s; nothing was sent", err_last());
		goto fail;
	}
	for (m = 0; m < nmsg; start = cuts[m++]) {
		if (dnswire_update(&rcode, &conn, z->rdf, soa, ops.v + start, cuts[m] - start,
		    &j->key) != OK) {
			msg = xasprintf("UPDATE %zu of %zu failed: %s; %zu message%s had been applied",
			    m + 1, nmsg, err_last(), m, m == 1 ? "" : "s");
			goto fail;
		}
		if (rcode == LDNS_RCODE_NXRRSET || rcode == LDNS_RCODE_YXRRSET) {
			report_race(rep, j, z, m, nmsg, deadline, dnswire_rcode_name(rcode, tmp));
			goto out;
		}
		if (rcode != LDNS_RCODE_NOERROR) {
			msg = xasprintf("the server refused UPDATE %zu of %zu: %s%s; %zu message%s had "
			    "been applied", m + 1, nmsg, dnswire_rcode_name(rcode, tmp),
			    rcode == LDNS_RCODE_REFUSED ? " (the key may not update the zone, or the "
			    "server's own checks refused a record: its log says which; BIND refuses an "
			    "MX or SRV whose target in the zone has no address)" : "", m,
			    m == 1 ? "" : "s");
			goto fail;
		}
		/* The SOA the next message must find: the server bumped it. */
		ldns_rr_free(soa);
		soa = NULL;
		if (dnswire_soa(&soa, &conn, z->rdf, &j->key) != OK) {
			msg = xasprintf("reading the SOA after UPDATE %zu of %zu failed: %s", m + 1,
			    nmsg, err_last());
			goto fail;
		}
	}
	dnsconn_close(&conn);
	t_verify = log_now();
	t_update = t_verify - t_update;
	/* Done when the zone is what the release says, not when sent. */
	if (axfr_zone(&after, &after_soa, j, z, deadline) != OK) {
		msg = xasprintf("the update was sent (%zu message%s) but reading the zone again "
		    "failed: %s", nmsg, nmsg == 1 ? "" : "s", err_last());
		goto fail;
	}
	dnsdiff_dispose(&d);
	dnsrec_diff(&d, &after, &z->target_recs);
	if (d.n > 0) {
		msg = xasprintf("after the update (%zu message%s, serial %u) the zone still differs "
		    "from the release in %zu record set%s", nmsg, nmsg == 1 ? "" : "s",
		    dnswire_soa_serial(after_soa), d.n, d.n == 1 ? "" : "s");
		report_line(rep, z->name, srv, msg);
		free(msg);
		dnsdiff_format(&rep->text, &d, &after, &z->target_recs, "live", "expected",
		    R2_DIFF_LINES);
		rep->failed = 1;
		goto out;
	}
	t_verify = log_now() - t_verify;
	buf_printf(&rep->text, "%s: %zu record%s changed (%zu added, %zu removed) in %zu UPDATE "
	    "message%s, serial %u -> %u; %.2f s (read and compare %.2f, update %.2f, verify "
	    "%.2f)\n", z->name, ops.n, ops.n == 1 ? "" : "s", ops.nadd, ops.ndel, nmsg,
	    nmsg == 1 ? "" : "s", serial0, dnswire_soa_serial(after_soa),
	    z->t_read + t_update + t_verify, z->t_read, t_update, t_verify);
	goto out;
fail:
	report_line(rep, z->name, srv, msg);
	free(msg);
	rep->failed = 1;
out:
	dnsconn_close(&conn);
	dnsdiff_dispose(&d);
	dnsops_dispose(&ops);
	dnsrecs_dispose(&after);
	free(cuts);
	if (soa)
		ldns_rr_free(soa);
	if (after_soa)
		ldns_rr_free(after_soa);
}

/* The child's whole apply (proc_fork): never returns into the loop. */
int
r2_child(void *arg)
{
	struct r2_job *j = arg;
	struct report rep = { BUF_INIT, 0, 0, 0 };
	double deadline = log_now() + (j->cfg->timeout_s > 2 ? j->cfg->timeout_s - 1.0 :
	    j->cfg->timeout_s * 0.8);
	size_t i;

	for (i = 0; i < j->nz; i++) {
		j->z[i].rdf = ldns_dname_new_frm_str(j->z[i].name);
		ASSERT(j->z[i].rdf);
		double t0 = log_now();

		prepare_zone(&rep, j, &j->z[i], deadline);
		j->z[i].t_read = log_now() - t0;
	}
	if (j->drift_only)
		return report_end(&rep);
	if (rep.failed || rep.drift) {
		if (j->nz > 1)
			buf_printf(&rep.text, "nothing was sent to any zone (%s)\n", j->zone_list);
		return report_end(&rep);
	}
	for (i = 0; i < j->nz; i++) {
		if (j->z[i].apex_ns)
			buf_printf(&rep.text, "%s: the release's apex NS records are not applied "
			    "(the server's NS set is not firebreak's)\n", j->z[i].name);
		apply_zone(&rep, j, &j->z[i], deadline);
	}
	/* No cleanup: the child _exits, and its memory goes with it. */
	return report_end(&rep);
}

