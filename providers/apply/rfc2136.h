/*
 * rfc2136.h - the two halves of the rfc2136 apply provider: rfc2136.c
 * (the configuration and the parent's side of an apply: which zones,
 * the fork, the outcome) and rfc2136_child.c (the apply itself, in the
 * forked child: transfers, comparison, updates, the report).  Only those
 * two files include this header.  See rfc2136.c for what the provider
 * does.
 *
 * Layer: providers/apply (base, model, plan, its own folder, ldns).
 */
#ifndef FIREBREAK_RFC2136_H
#define FIREBREAK_RFC2136_H

#include "providers/apply/apply.h"
#include "providers/apply/dnsrec.h"
#include "providers/apply/dnswire.h"

#define R2_TIMEOUT_DEFAULT 60
#define R2_TIMEOUT_MAX 86400
#define R2_MAX_RRSET_DEFAULT 100
#define R2_ZONES_MAX 1000
#define R2_REPORT_MAX (48 * 1024)    /* bytes of the child's report */
#define R2_DIFF_LINES 40             /* RRsets listed per zone */
#define R2_RESULT "@rfc2136 "

struct r2_cfg {
	unsigned kinds;
	char *host, *port;        /* owns */
	char *server;             /* owns; as configured, for messages */
	char *key_name;           /* owns; "firebreak-key." */
	char *alg_name;           /* owns; "hmac-sha256" */
	char *secret_file;        /* owns */
	char **zones;             /* owns; NULL: every zone of the release */
	size_t nzones;
	unsigned timeout_s;
	unsigned max_rrset;
};

/* One zone of an apply, in the child. */
struct r2_zone {
	char *name;                       /* owns (the job does) */
	const struct artifact *base, *target;   /* borrowed; base may be NULL */
	ldns_rdf *rdf;
	struct dnsrecs base_recs, target_recs, live;
	ldns_rr *soa;
	size_t apex_ns;
	double t_read;                    /* seconds to read and compare it */
};

struct r2_job {
	const struct r2_cfg *cfg;
	struct tsigkey key;               /* the secret as read at start() */
	struct r2_zone *z;
	size_t nz;
	char *zone_list;                  /* "example.com, example.net" */
	int drift_only;                   /* compare the zones with the release
	                                   * (each zone's base is its target) */
	int after_restart;                /* finishing an apply a stop cut
	                                   * short (APPLY_AFTER_RESTART): an
	                                   * RRset at the target is not drift */
	int reconcile;                    /* `reconcile`: every zone, and what
	                                   * differs from BASE is overwritten */
};

/*
 * The whole apply of j's zones, in the forked child (a proc_fn): writes
 * the report to stdout, its last line R2_RESULT "ok", "failed" or
 * "drift N" (N record sets differ), and returns 0 only for ok.  With j->drift_only, only the
 * first phase: read and compare, send nothing.  Never returns into the loop:
 * proc_fork() _exits with its value.
 */
int r2_child(void *arg);

#endif
