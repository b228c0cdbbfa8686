/*
 * dnswire.c - TCP, TSIG, AXFR, UPDATE.  See dnswire.h.
 *
 * What ldns 1.8.3 does not check, and this file does: ldns_pkt_tsig_verify
 * takes the algorithm from the reply (so a reply could pick a weaker one)
 * and never looks at the key name, the TSIG error field or the time
 * signed; ldns_wire2pkt accepts a TSIG anywhere in the additional
 * section, and a second one replaces the first; a zone transfer through
 * ldns_axfr_next verifies no signature at all.  So every reply is walked
 * first (dnswire_scan), its TSIG fields are compared with ours, and only
 * then is ldns asked for the MAC, over the previous MAC for each later
 * message of a transfer (RFC 8945 5.3.1).  Every message of a transfer
 * must be signed: RFC 8945 lets a client accept up to 99 unsigned ones in
 * between, BIND signs each, and an unsigned message in the middle of a
 * zone is a message anyone on the path could have written.
 */
#include "providers/apply/dnswire.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"

/* ---- the connection ---------------------------------------------------------- */

static int
ms_left(const struct dnsconn *c)
{
	double ms = (c->deadline - log_now()) * 1000.0;

	return ms <= 0 ? 0 : ms > 1e9 ? 1000000000 : (int)ms + 1;
}

/* Wait until fd is ready for `events`, or the deadline.  ERR on timeout. */
static int
wait_fd(struct dnsconn *c, short events, const char *what)
{
	struct pollfd pfd;
	int r, left;

	for (;;) {
		if ((left = ms_left(c)) == 0)
			return err_set(ERR, "timed out %s", what);
		pfd.fd = c->fd;
		pfd.events = events;
		pfd.revents = 0;
		r = poll(&pfd, 1, left);
		if (r > 0)
			return OK;
		if (r < 0 && errno != EINTR)
			return err_set(ERR, "poll: %s", strerror(errno));
	}
}

int
dnsconn_open(struct dnsconn *c, const char *host, const char *port, const char *label,
    double deadline)
{
	struct addrinfo hints, *res = NULL, *ai;
	int rc, e = 0, soe;
	socklen_t sl;

	c->fd = -1;
	c->deadline = deadline;
	c->server = label;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		return err_set(ERR, "cannot resolve %s: %s", host, gai_strerror(rc));
	rc = ERR;
	for (ai = res; ai; ai = ai->ai_next) {
		c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (c->fd < 0) {
			e = errno;
			continue;
		}
		if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS && wait_fd(c, POLLOUT, "connecting") == OK &&
		    (sl = sizeof(soe), getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soe, &sl) == 0) &&
		    (errno = soe) == 0)) {
			rc = OK;
			break;
		}
		e = errno ? errno : ETIMEDOUT;
		close(c->fd);
		c->fd = -1;
	}
	freeaddrinfo(res);
	if (rc != OK)
		return err_set(ERR, "cannot connect: %s", strerror(e ? e : ECONNREFUSED));
	return OK;
}

void
dnsconn_close(struct dnsconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* One message with its two-byte length (RFC 1035 4.2.2). */
static int
conn_send(struct dnsconn *c, const uint8_t *msg, size_t len)
{
	uint8_t *all;
	size_t off = 0;
	int rc = OK;

	if (len > DNSWIRE_MSG_MAX)
		return err_set(ERR_TOOBIG, "a message of %zu bytes", len);
	all = xmalloc(len + 2);
	all[0] = (uint8_t)(len >> 8);
	all[1] = (uint8_t)len;
	memcpy(all + 2, msg, len);
	while (off < len + 2) {
		ssize_t w = send(c->fd, all + off, len + 2 - off, MSG_NOSIGNAL);

		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((rc = wait_fd(c, POLLOUT, "sending")) != OK)
				break;
			continue;
		}
		rc = err_set(ERR, "sending: %s", strerror(errno));
		break;
	}
	free(all);
	return rc;
}

static int
read_exact(struct dnsconn *c, uint8_t *buf, size_t n, size_t *got_total)
{
	size_t off = 0;
	int rc;

	while (off < n) {
		ssize_t r = recv(c->fd, buf + off, n - off, 0);

		if (r > 0) {
			off += (size_t)r;
			*got_total += (size_t)r;
			continue;
		}
		if (r == 0)
			return err_set(ERR, "the server closed the connection after %zu bytes",
			    *got_total);
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if ((rc = wait_fd(c, POLLIN, "waiting for the server")) != OK)
				return rc;
			continue;
		}
		return err_set(ERR, "reading: %s", strerror(errno));
	}
	return OK;
}

/* One message: buf holds DNSWIRE_MSG_MAX bytes.  *total counts what this
 * connection delivered, for messages about a transfer cut short. */
static int
conn_recv(struct dnsconn *c, uint8_t *buf, size_t *len, size_t *total)
{
	uint8_t pre[2];
	int rc;

	if ((rc = read_exact(c, pre, 2, total)) != OK)
		return rc;
	*len = ((size_t)pre[0] << 8) | pre[1];
	if (*len < LDNS_HEADER_SIZE)
		return err_set(ERR_INVALID, "a message of %zu bytes", *len);
	return read_exact(c, buf, *len, total);
}

/* ---- structure ----------------------------------------------------------------- */

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

/* Skip a (possibly compressed) name at *pos.  A pointer must point
 * backwards, to before the name that holds it: no loops. */
static int
skip_name(const uint8_t *w, size_t len, size_t *pos)
{
	size_t p = *pos, total = 0;

	for (;;) {
		uint8_t l;

		if (p >= len)
			return ERR_INVALID;
		l = w[p];
		if ((l & 0xC0) == 0xC0) {
			size_t target;

			if (p + 1 >= len)
				return ERR_INVALID;
			target = ((size_t)(l & 0x3F) << 8) | w[p + 1];
			if (target >= *pos)
				return ERR_INVALID;
			*pos = p + 2;
			return OK;
		}
		if (l & 0xC0)
			return ERR_INVALID;       /* extended label types */
		p++;
		if (l == 0) {
			*pos = p;
			return OK;
		}
		total += (size_t)l + 1;
		if (total > 255 || p + l > len)
			return ERR_INVALID;
		p += l;
	}
}

int
dnswire_scan(size_t *tsig_at, const uint8_t *w, size_t len)
{
	size_t pos = LDNS_HEADER_SIZE, i, nrr, last = 0;
	size_t ntsig = 0, tsig_pos = 0;
	unsigned qd, an, ns, ar;

	*tsig_at = 0;
	if (len < LDNS_HEADER_SIZE)
		return err_set(ERR_INVALID, "a message shorter than its header");
	qd = rd16(w + 4);
	an = rd16(w + 6);
	ns = rd16(w + 8);
	ar = rd16(w + 10);
	for (i = 0; i < qd; i++) {
		if (skip_name(w, len, &pos) != OK || pos + 4 > len)
			return err_set(ERR_INVALID, "question %zu runs past the message", i);
		pos += 4;
	}
	nrr = (size_t)an + ns + ar;
	for (i = 0; i < nrr; i++) {
		uint16_t type, rdlen;

		last = pos;
		if (skip_name(w, len, &pos) != OK || pos + 10 > len)
			return err_set(ERR_INVALID, "record %zu runs past the message", i);
		type = rd16(w + pos);
		rdlen = rd16(w + pos + 8);
		pos += 10;
		if (pos + rdlen > len)
			return err_set(ERR_INVALID, "record %zu runs past the message", i);
		pos += rdlen;
		if (type == LDNS_RR_TYPE_TSIG) {
			ntsig++;
			tsig_pos = last;
			if (i < (size_t)an + ns)
				return err_set(ERR_INVALID, "a TSIG record outside the additional "
				    "section");
		}
	}
	if (pos != len)
		return err_set(ERR_INVALID, "%zu bytes after the last record", len - pos);
	if (ntsig > 1 || (ntsig == 1 && tsig_pos != last))
		return err_set(ERR_INVALID, "a TSIG record that is not the message's last, or "
		    "more than one");
	*tsig_at = ntsig ? tsig_pos : 0;
	return OK;
}

/* ---- checking a reply ---------------------------------------------------------- */

const char *
dnswire_rcode_name(int rcode, char tmp[16])
{
	static const char *const tsig_errs[] = { "BADSIG", "BADKEY", "BADTIME", "BADMODE",
		"BADNAME", "BADALG", "BADTRUNC", "BADCOOKIE" };
	ldns_lookup_table *lt;

	if (rcode >= 16 && rcode < 16 + 8)
		return tsig_errs[rcode - 16];
	lt = ldns_lookup_by_id(ldns_rcodes, rcode);
	if (lt && lt->name)
		return lt->name;
	snprintf(tmp, 16, "RCODE%d", rcode & 0xffff);
	return tmp;
}

void
dnsreply_dispose(struct dnsreply *r)
{
	if (r->pkt)
		ldns_pkt_free(r->pkt);
	if (r->mac)
		ldns_rdf_deep_free(r->mac);
	memset(r, 0, sizeof(*r));
}

static uint64_t
tsig_time(const ldns_rdf *rdf)
{
	const uint8_t *d = ldns_rdf_data(rdf);
	uint64_t t = 0;
	int i;

	if (ldns_rdf_size(rdf) != 6)
		return 0;
	for (i = 0; i < 6; i++)
		t = t << 8 | d[i];
	return t;
}

int
dnswire_check(struct dnsreply *out, const uint8_t *w, size_t len, uint16_t id, int opcode,
    const struct tsigkey *k, const ldns_rdf *prior, int timers_only, time_t now)
{
	ldns_rdf *keyname = NULL, *alg = NULL;
	ldns_pkt *pkt = NULL;
	ldns_rr *t;
	size_t tsig_at;
	int rc = OK, err;

	memset(out, 0, sizeof(*out));
	if ((rc = dnswire_scan(&tsig_at, w, len)) != OK)
		return err_set(rc, "a malformed reply: %s", err_last());
	if (ldns_wire2pkt(&pkt, w, len) != LDNS_STATUS_OK || !pkt)
		return err_set(ERR_INVALID, "a malformed reply (ldns cannot parse it)");
	if (ldns_pkt_id(pkt) != id || !ldns_pkt_qr(pkt) || (int)ldns_pkt_get_opcode(pkt) != opcode) {
		rc = err_set(ERR_INVALID, "a reply to another request (id, opcode or flags)");
		goto out;
	}
	out->rcode = (int)ldns_pkt_get_rcode(pkt);
	t = ldns_pkt_tsig(pkt);
	if (!k->name) {
		/* Asked without a key: a signature we cannot check is no
		 * better than none, and a server has no key to sign with. */
		if (t)
			rc = err_set(ERR_INVALID, "a signed reply to an unsigned request");
		goto out;
	}
	if (!t) {
		/* An error may come unsigned (a server that does not know our
		 * key cannot sign); the caller fails on its rcode anyway. */
		if (out->rcode != LDNS_RCODE_NOERROR)
			goto out;
		rc = err_set(ERR_DENIED, "an unsigned reply (no TSIG record): refused");
		goto out;
	}
	if (ldns_rr_rd_count(t) != 7) {
		rc = err_set(ERR_INVALID, "a malformed TSIG record");
		goto out;
	}
	err = ldns_rdf2native_int16(ldns_rr_rdf(t, 5));
	if (err != 0) {
		char a[16], b[16];

		int kl = (int)strlen(k->name) - 1;

		rc = err_set(ERR_DENIED, "%s (TSIG error %s)%s%.*s%s%.*s", dnswire_rcode_name(out->rcode, a),
		    dnswire_rcode_name(err, b),
		    err == 17 ? ": the server does not know key \"" :
		    err == 16 ? ": the server's secret for key \"" :
		    err == 18 ? ": the server's clock and ours differ by more than the fudge" : "",
		    err == 16 || err == 17 ? kl : 0, k->name,
		    err == 17 ? "\" with algorithm " : err == 16 ? "\" is not the one in the "
		    "secret file" : "", err == 17 ? (int)strlen(k->alg) - 1 : 0, k->alg);
		goto out;
	}
	keyname = ldns_dname_new_frm_str(k->name);
	alg = ldns_dname_new_frm_str(k->alg);
	if (!keyname || !alg || ldns_dname_compare(ldns_rr_owner(t), keyname) != 0 ||
	    ldns_dname_compare(ldns_rr_rdf(t, 0), alg) != 0) {
		rc = err_set(ERR_DENIED, "a reply signed with another key or algorithm");
		goto out;
	}
	{
		uint64_t ts = tsig_time(ldns_rr_rdf(t, 1));
		uint16_t fudge = ldns_rdf2native_int16(ldns_rr_rdf(t, 2));
		int64_t skew = (int64_t)ts - (int64_t)now;

		if (skew < -(int64_t)fudge || skew > (int64_t)fudge) {
			rc = err_set(ERR_DENIED, "a reply signed %lld s away from our clock (fudge "
			    "%u): check both clocks", (long long)skew, (unsigned)fudge);
			goto out;
		}
	}
	if (ldns_rdf_size(ldns_rr_rdf(t, 3)) != k->maclen + 2 ||
	    ldns_rdf2native_int16(ldns_rr_rdf(t, 4)) != id ||
	    !ldns_pkt_tsig_verify_next(pkt, w, len, k->name, k->secret, prior, timers_only)) {
		rc = err_set(ERR_DENIED, "a reply whose TSIG signature does not verify");
		goto out;
	}
	out->is_signed = 1;
	out->mac = ldns_rdf_clone(ldns_rr_rdf(t, 3));
out:
	if (keyname)
		ldns_rdf_deep_free(keyname);
	if (alg)
		ldns_rdf_deep_free(alg);
	if (rc != OK) {
		ldns_pkt_free(pkt);
		memset(out, 0, sizeof(*out));
		return rc;
	}
	out->pkt = pkt;
	return OK;
}

/* ---- requests ------------------------------------------------------------------- */

/* Sign pkt, put it on the wire and send it; *mac owns the request's MAC. */
static int
send_signed(struct dnsconn *c, ldns_pkt *pkt, const struct tsigkey *k, ldns_rdf **mac)
{
	uint8_t *wire = NULL;
	size_t len = 0;
	int rc;

	*mac = NULL;
	if (!k->name)
		goto unsigned_send;     /* a transfer asked for without a key */
	if (ldns_pkt_tsig_sign(pkt, k->name, k->secret, DNSWIRE_FUDGE, k->alg, NULL) !=
	    LDNS_STATUS_OK || !ldns_pkt_tsig(pkt))
		return err_set(ERR, "cannot sign the request (is the secret base64?)");
unsigned_send:
	if (ldns_pkt2wire(&wire, pkt, &len) != LDNS_STATUS_OK)
		return err_set(ERR, "cannot put the request on the wire");
	if (len > DNSWIRE_MSG_MAX) {
		free(wire);
		return err_set(ERR_TOOBIG, "a request of %zu bytes (at most %d)", len,
		    DNSWIRE_MSG_MAX);
	}
	rc = conn_send(c, wire, len);
	free(wire);
	if (rc == OK && k->name)
		*mac = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(pkt), 3));
	return rc;
}

/* Read and check one reply. */
static int
recv_reply(struct dnsreply *r, struct dnsconn *c, uint8_t *buf, size_t *total, uint16_t id,
    int opcode, const struct tsigkey *k, const ldns_rdf *prior, int timers_only)
{
	size_t len;
	int rc;

	if ((rc = conn_recv(c, buf, &len, total)) != OK)
		return rc;
	return dnswire_check(r, buf, len, id, opcode, k, prior, timers_only, time(NULL));
}

static ldns_pkt *
query_new(const ldns_rdf *zone, ldns_rr_type type)
{
	ldns_pkt *q = ldns_pkt_query_new(ldns_rdf_clone(zone), type, LDNS_RR_CLASS_IN, 0);

	ASSERT(q);
	ldns_pkt_set_random_id(q);
	return q;
}

int
dnswire_axfr_records(struct axfr *x, const ldns_pkt *pkt)
{
	ldns_rr_list *an = ldns_pkt_answer(pkt);
	size_t i, n = ldns_rr_list_rr_count(an);
	int rc;

	for (i = 0; i < n; i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		ldns_rdf *owner = ldns_rr_owner(rr);

		if (x->done)
			return err_set(ERR_INVALID, "records after the closing SOA");
		if (++x->nrr > DNSREC_MAX)
			return err_set(ERR_TOOBIG, "more than %d records", DNSREC_MAX);
		if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
			return err_set(ERR_INVALID, "a record of another class than IN");
		if (ldns_dname_compare(owner, x->zone) != 0 && !ldns_dname_is_subdomain(owner, x->zone))
			return err_set(ERR_INVALID, "a record outside the zone");
		if (!x->soa) {
			if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA ||
			    ldns_dname_compare(owner, x->zone) != 0)
				return err_set(ERR_INVALID, "the transfer does not begin with the "
				    "zone's SOA");
			x->soa = ldns_rr_clone(rr);
			continue;
		}
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA) {
			/* The closing SOA: the same as the first, and the last
			 * record of its message (RFC 5936 2.2). */
			if (i + 1 != n || ldns_rr_compare(rr, x->soa) != 0)
				return err_set(ERR_INVALID, "an SOA in the middle of the transfer, "
				    "or a closing SOA unlike the first (the zone changed while it "
				    "was read)");
			x->done = 1;
			continue;
		}
		if (dnsrec_managed(rr, x->zone) && (rc = dnsrecs_add(x->out, ldns_rr_clone(rr))) != OK)
			return rc;
	}
	x->first = 0;
	return OK;
}

int
dnswire_axfr(struct dnsrecs *out, ldns_rr **soa, struct dnsconn *c, const ldns_rdf *zone,
    const struct tsigkey *k)
{
	struct axfr x;
	struct dnsreply r = { 0 };
	ldns_pkt *q = query_new(zone, LDNS_RR_TYPE_AXFR);
	ldns_rdf *prior = NULL;
	uint8_t *buf = xmalloc(DNSWIRE_MSG_MAX);
	uint16_t id = ldns_pkt_id(q);
	size_t total = 0, nmsg = 0;
	char tmp[16];
	int rc;

	memset(out, 0, sizeof(*out));
	*soa = NULL;
	memset(&x, 0, sizeof(x));
	x.zone = zone;
	x.out = out;
	x.first = 1;
	if ((rc = send_signed(c, q, k, &prior)) != OK)
		goto out;
	while (!x.done) {
		if ((rc = recv_reply(&r, c, buf, &total, id, LDNS_PACKET_QUERY, k, prior,
		    nmsg > 0)) != OK) {
			if (rc == ERR && nmsg > 0)
				err_set(ERR_INVALID, "the transfer was cut short after %zu messages "
				    "(%zu records, no closing SOA): %s", nmsg, x.nrr, err_last());
			rc = rc == ERR && nmsg > 0 ? ERR_INVALID : rc;
			goto out;
		}
		if (r.rcode != LDNS_RCODE_NOERROR) {
			rc = err_set(ERR_DENIED, "the transfer was refused: %s%s",
			    dnswire_rcode_name(r.rcode, tmp), r.is_signed ? "" : " (unsigned)");
			goto out;
		}
		if (nmsg == 0 && ldns_pkt_qdcount(r.pkt) > 0) {
			ldns_rr *qq = ldns_rr_list_rr(ldns_pkt_question(r.pkt), 0);

			if (ldns_dname_compare(ldns_rr_owner(qq), zone) != 0 ||
			    ldns_rr_get_type(qq) != LDNS_RR_TYPE_AXFR) {
				rc = err_set(ERR_INVALID, "a reply to another question");
				goto out;
			}
		}
		if (ldns_pkt_ancount(r.pkt) == 0 && nmsg == 0) {
			rc = err_set(ERR_INVALID, "an empty transfer (no SOA)");
			goto out;
		}
		if ((rc = dnswire_axfr_records(&x, r.pkt)) != OK)
			goto out;
		ldns_rdf_deep_free(prior);
		prior = r.mac;
		r.mac = NULL;
		dnsreply_dispose(&r);
		nmsg++;
	}
	dnsrecs_sort(out);
	*soa = x.soa;
	x.soa = NULL;
out:
	dnsreply_dispose(&r);
	if (prior)
		ldns_rdf_deep_free(prior);
	if (x.soa)
		ldns_rr_free(x.soa);
	ldns_pkt_free(q);
	free(buf);
	if (rc != OK)
		dnsrecs_dispose(out);
	return rc;
}

int
dnswire_soa(ldns_rr **soa, struct dnsconn *c, const ldns_rdf *zone, const struct tsigkey *k)
{
	struct dnsreply r = { 0 };
	ldns_pkt *q = query_new(zone, LDNS_RR_TYPE_SOA);
	ldns_rdf *mac = NULL;
	uint8_t *buf = xmalloc(DNSWIRE_MSG_MAX);
	size_t total = 0, i;
	char tmp[16];
	int rc;

	*soa = NULL;
	if ((rc = send_signed(c, q, k, &mac)) != OK ||
	    (rc = recv_reply(&r, c, buf, &total, ldns_pkt_id(q), LDNS_PACKET_QUERY, k, mac, 0)) != OK)
		goto out;
	if (r.rcode != LDNS_RCODE_NOERROR) {
		rc = err_set(ERR_DENIED, "the SOA query was answered %s",
		    dnswire_rcode_name(r.rcode, tmp));
		goto out;
	}
	for (i = 0; i < ldns_rr_list_rr_count(ldns_pkt_answer(r.pkt)); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(r.pkt), i);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA &&
		    ldns_dname_compare(ldns_rr_owner(rr), zone) == 0) {
			*soa = ldns_rr_clone(rr);
			break;
		}
	}
	if (!*soa)
		rc = err_set(ERR_INVALID, "the SOA query's answer holds no SOA");
out:
	dnsreply_dispose(&r);
	if (mac)
		ldns_rdf_deep_free(mac);
	ldns_pkt_free(q);
	free(buf);
	return rc;
}

size_t
dnswire_op_size(const struct dnsop *op)
{
	return ldns_rdf_size(ldns_rr_owner(op->rec->rr)) + 10 + op->rec->rdlen;
}

size_t
dnswire_pack(size_t **cuts, const struct dnsops *o, size_t budget)
{
	size_t g, e, i, n = 0, cur = 0, gsize;

	*cuts = xcalloc(o->n + 1, sizeof(**cuts));
	for (g = 0; g < o->n; g = e) {
		for (e = g + 1; e < o->n && strcmp(o->v[e].rec->owner, o->v[g].rec->owner) == 0; e++)
			;
		for (gsize = 0, i = g; i < e; i++)
			gsize += dnswire_op_size(&o->v[i]);
		if (cur > 0 && cur + gsize > budget) {
			(*cuts)[n++] = g;
			cur = 0;
		}
		if (gsize <= budget) {
			cur += gsize;
			continue;
		}
		/* A name larger than a message: its deletes go first anyway. */
		for (i = g; i < e; i++) {
			size_t s = dnswire_op_size(&o->v[i]);

			if (cur > 0 && cur + s > budget) {
				(*cuts)[n++] = i;
				cur = 0;
			}
			cur += s;
		}
	}
	if (cur > 0)
		(*cuts)[n++] = o->n;
	return n;
}

int
dnswire_update(int *rcode, struct dnsconn *c, const ldns_rdf *zone, const ldns_rr *soa,
    const struct dnsop *ops, size_t n, const struct tsigkey *k)
{
	ldns_rr_list *pr = ldns_rr_list_new(), *up = ldns_rr_list_new();
	struct dnsreply r = { 0 };
	ldns_rdf *mac = NULL;
	ldns_pkt *u = NULL;
	ldns_rr *rr;
	uint8_t *buf = xmalloc(DNSWIRE_MSG_MAX);
	size_t total = 0, i;
	int pass, rc;

	*rcode = -1;
	/* "RRset exists (value dependent)": the SOA as read, TTL 0. */
	rr = ldns_rr_clone(soa);
	ldns_rr_set_ttl(rr, 0);
	ldns_rr_list_push_rr(pr, rr);
	for (pass = 1; pass >= 0; pass--)
		for (i = 0; i < n; i++) {
			if (ops[i].del != pass)
				continue;
			rr = ldns_rr_clone(ops[i].rec->rr);
			if (ops[i].del) {
				ldns_rr_set_class(rr, LDNS_RR_CLASS_NONE);
				ldns_rr_set_ttl(rr, 0);
			}
			ldns_rr_list_push_rr(up, rr);
		}
	u = ldns_update_pkt_new(ldns_rdf_clone(zone), LDNS_RR_CLASS_IN, pr, up, NULL);
	ASSERT(u);
	/* ldns sets RD, which is part of UPDATE's must-be-zero field. */
	ldns_pkt_set_rd(u, false);
	ldns_pkt_set_random_id(u);
	if ((rc = send_signed(c, u, k, &mac)) != OK)
		goto out;
	if ((rc = recv_reply(&r, c, buf, &total, ldns_pkt_id(u), LDNS_PACKET_UPDATE, k, mac, 0)) != OK)
		goto out;
	*rcode = r.rcode;
out:
	dnsreply_dispose(&r);
	if (mac)
		ldns_rdf_deep_free(mac);
	if (u)
		ldns_pkt_free(u);
	ldns_rr_list_deep_free(pr);
	ldns_rr_list_deep_free(up);
	free(buf);
	return rc;
}

uint32_t
dnswire_soa_serial(const ldns_rr *soa)
{
	if (ldns_rr_rd_count(soa) < 3)
		return 0;
	return ldns_rdf2native_int32(ldns_rr_rdf(soa, 2));
}
