/*
 * zonefile.h - RFC 1035 master files (section 5.1), read for `firebreak
 * import zone` (from a file the user names, or the text of a zone
 * transfer): $ORIGIN, $TTL, relative names and "@", a blank owner
 * meaning the previous one, parentheses continuing an entry over lines,
 * comments, the class (only IN) optional, TTL and class in either order,
 * TTLs with BIND's units (1h30m).  $INCLUDE and $GENERATE are refused:
 * an import reads one file and nothing it points at.
 *
 * What comes out is what firebreak's schema can hold: each record of a
 * type dns/<zone>.yaml has (A AAAA CAA CNAME MX NS PTR SRV TXT), its
 * value written as the inventory writes it (names absolute with the
 * final dot and lowercase; TXT the text itself, its strings joined; CAA
 * `0 issue "ca.example."`).  The zone's SOA and apex NS set are not
 * firebreak's and are left out (counted), as are the records a DNSSEC
 * signer keeps.  Any other type is an error naming the line, unless the
 * caller asked to skip those (then a warning).
 *
 * The input is hostile: it is bounded (ZONEFILE_MAX_*), every byte is
 * checked (no NUL or control character outside a quoted string's
 * escapes, UTF-8 in TXT and CAA text), and the first problem is reported
 * as "FILE:LINE: what" with nothing returned.
 *
 * Layer: model (includes base only; a pure function of its input).
 */
#ifndef FIREBREAK_ZONEFILE_H
#define FIREBREAK_ZONEFILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/util.h"

#define ZONEFILE_MAX_BYTES (256u << 20)   /* input */
#define ZONEFILE_MAX_RECORDS 500000       /* records, as the rfc2136 provider's DNSREC_MAX */
#define ZONEFILE_MAX_ENTRY 65536          /* bytes of one entry (parentheses included) */
#define ZONEFILE_MAX_FIELDS 512           /* fields of one entry */
#define ZONEFILE_MAX_VALUE 4000           /* bytes of one value, as the inventory allows */
#define ZONEFILE_TTL_MAX 2147483647u      /* RFC 2181 8 */

/* Flags. */
#define ZONEFILE_SKIP_UNSUPPORTED 0x1u    /* skip (and warn about) types the schema lacks */

struct zrec {
	char *name;           /* owns; absolute, lowercase, no final dot */
	char *rel;            /* owns; relative to the zone: "@", "www", "*.dev" */
	char type[8];         /* "A", "MX", ... */
	uint32_t ttl;
	char *value;          /* owns; as dns/<zone>.yaml writes it */
	int line;             /* where the entry began */
};

struct zrecs {
	struct zrec *v;       /* owns; in the order of the input */
	size_t n, alloc;
	size_t soa, apex_ns;  /* left out: firebreak does not manage them */
	size_t dnssec;        /* left out: a signer's records */
	size_t skipped;       /* left out under ZONEFILE_SKIP_UNSUPPORTED */
};

/*
 * Parse data[0..len) as the master file of `zone` (lowercase, no final
 * dot: the initial $ORIGIN).  `file` names the input in messages.
 * Returns OK with *out filled (owns; dispose with zrecs_dispose()), and
 * one line per warning appended to `warn` (may be NULL): "FILE:LINE:
 * warning: ...".  On failure ERR_INVALID or ERR_TOOBIG, err_last() is
 * "FILE:LINE: what", and *out is empty.
 */
int zonefile_parse(struct zrecs *out, const char *zone, const char *file, const char *data,
    size_t len, unsigned flags, struct buf *warn);

void zrecs_dispose(struct zrecs *z);

#endif
