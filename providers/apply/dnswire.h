/*
 * dnswire.h - talking to an authoritative server for the rfc2136
 * provider: one TCP connection with a deadline, TSIG (RFC 8945) on every
 * request and every reply, AXFR (RFC 5936), UPDATE (RFC 2136) and an SOA
 * query.  ldns builds and parses the messages; the checks ldns leaves out
 * are made here (see dnswire_reply()).
 *
 * Layer: providers/apply (includes base and its own folder, and
 * <ldns/ldns.h>).  Everything here blocks until its deadline: it runs in
 * the provider's forked child (proc_fork), never in the controller's loop.
 *
 * Everything a server sends is hostile until its signature checks out,
 * and bounded after: a message is at most 65,535 bytes (its TCP length
 * prefix), a transfer at most DNSREC_MAX records, every name and record
 * of a message is walked within its length before ldns parses it.
 */
#ifndef FIREBREAK_DNSWIRE_H
#define FIREBREAK_DNSWIRE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <ldns/ldns.h>

#include "base/util.h"
#include "providers/apply/dnsrec.h"
#include "providers/apply/tsigkey.h"

#define DNSWIRE_MSG_MAX 65535
/* What an UPDATE may fill: below 64 KiB with room for the header, the
 * zone, the SOA prerequisite and the TSIG record. */
#define DNSWIRE_UPDATE_BUDGET 60000
#define DNSWIRE_FUDGE 300      /* seconds of clock skew TSIG allows (RFC 8945 10) */

struct dnsconn {
	int fd;                   /* -1: closed */
	double deadline;          /* log_now() seconds for everything on it */
	const char *server;       /* borrowed; "127.0.0.1:53", for messages */
};

/* Connect over TCP to host:port (numeric or a name, resolved here).
 * ERR with err_last() saying why (refused, timed out). */
int dnsconn_open(struct dnsconn *c, const char *host, const char *port, const char *label,
    double deadline);
void dnsconn_close(struct dnsconn *c);

/*
 * Walk a DNS message's names and records within len, without ldns.
 * *tsig_at is the offset of its TSIG record, which must be the last
 * record and the only TSIG (RFC 8945 5.1), or 0 when it has none.
 * ERR_INVALID for anything that does not add up (a name or record past
 * the end, a compression pointer forward or onto itself, bytes after the
 * last record, a TSIG elsewhere).
 */
int dnswire_scan(size_t *tsig_at, const uint8_t *w, size_t len);

/* One reply, checked. */
struct dnsreply {
	ldns_pkt *pkt;            /* owns */
	int rcode;                /* LDNS_RCODE_* */
	int is_signed;            /* the TSIG checked out */
	ldns_rdf *mac;            /* owns; this reply's MAC, for the next one */
};

void dnsreply_dispose(struct dnsreply *r);

/*
 * Check one reply in w[0..len) to the request `id` as RFC 8945 says:
 * the structure (dnswire_scan), a response to our id and opcode, then its
 * TSIG: our key's name and algorithm, error 0, time signed within its
 * fudge of `now`, a MAC of the right size that ldns verifies over
 * `prior` (the request's MAC for the first reply; the previous reply's,
 * with timers only, for the next ones of a transfer).  A reply carrying
 * an error (rcode not NOERROR) may come unsigned: its rcode is kept and
 * is_signed is 0.  Returns OK with *out filled; ERR_DENIED for a TSIG
 * the server refused (BADSIG, BADKEY, BADTIME in its TSIG record) or a
 * signature that does not verify or is missing; ERR_INVALID for a
 * malformed reply.  err_last() says which in words.
 */
int dnswire_check(struct dnsreply *out, const uint8_t *w, size_t len, uint16_t id,
    int opcode, const struct tsigkey *k, const ldns_rdf *prior, int timers_only, time_t now);

/*
 * A key whose name is NULL means no TSIG at all (`firebreak import zone`
 * from a server that allows transfers by address): requests go unsigned
 * and a signed reply is refused as malformed.
 *
 * Read the whole zone by AXFR over c: every record of `zone` (an ldns
 * dname) that dnsrec_managed() says is firebreak's goes into *out
 * (owns; sorted), the zone's SOA into *soa (owns).  Every reply must be
 * signed; the transfer must end with the SOA it began with.  Errors: ERR
 * for the connection (closed, timed out), ERR_DENIED for a refusal
 * (REFUSED, NOTAUTH, any rcode) or a TSIG failure, ERR_INVALID for a
 * malformed or incomplete transfer, ERR_TOOBIG past DNSREC_MAX.
 * Nothing is returned on failure: never an empty or partial zone.
 */
int dnswire_axfr(struct dnsrecs *out, ldns_rr **soa, struct dnsconn *c, const ldns_rdf *zone,
    const struct tsigkey *k);

/*
 * The records of one reply of a transfer, already checked (the fuzz
 * target drives this directly).  x->first is set for the first reply.
 */
struct axfr {
	const ldns_rdf *zone;     /* borrowed */
	struct dnsrecs *out;      /* borrowed; managed records are added */
	ldns_rr *soa;             /* owns; the opening SOA */
	size_t nrr;
	int first, done;
};
int dnswire_axfr_records(struct axfr *x, const ldns_pkt *pkt);

/* The zone's SOA by a signed query over c.  *soa owns it. */
int dnswire_soa(ldns_rr **soa, struct dnsconn *c, const ldns_rdf *zone, const struct tsigkey *k);

/* Bytes op takes in an UPDATE, at most (no name compression counted). */
size_t dnswire_op_size(const struct dnsop *op);

/*
 * Cut ops into UPDATE messages of at most `budget` bytes of changes
 * (dnswire_op_size), keeping each owner name's changes in one message
 * when they fit (a name larger than a message is cut between records,
 * its deletes still first).  Returns the number of messages; (*cuts)[m]
 * (owns) is the end index in ops of message m.
 */
size_t dnswire_pack(size_t **cuts, const struct dnsops *o, size_t budget);

/*
 * Send one UPDATE of `zone`: prerequisite "the SOA RRset is exactly
 * `soa`" (RFC 2136 2.4.2, value dependent), then the deletes of ops[0..n)
 * (class NONE) and then its adds, signed; read the signed reply.  OK with
 * *rcode the server's answer (NOERROR, NXRRSET when the SOA changed,
 * REFUSED, ...); ERR, ERR_DENIED or ERR_INVALID as dnswire_check(), and
 * ERR_TOOBIG when the message would pass 65,535 bytes.
 */
int dnswire_update(int *rcode, struct dnsconn *c, const ldns_rdf *zone, const ldns_rr *soa,
    const struct dnsop *ops, size_t n, const struct tsigkey *k);

/* "NOERROR", "REFUSED", "BADSIG" (TSIG errors from 16 up), "RCODE23". */
const char *dnswire_rcode_name(int rcode, char tmp[16]);

/* The SOA's serial. */
uint32_t dnswire_soa_serial(const ldns_rr *soa);

#endif
