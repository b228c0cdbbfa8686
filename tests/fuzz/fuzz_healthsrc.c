/*
 * fuzz_healthsrc.c - health sources' answers (providers/health/hsource.h):
 * Graphite's render JSON and Prometheus's /api/v1/query answer, as hostile
 * bodies.
 *
 * Input: "graphite" or "prometheus" (one line), a line "--", then the body.
 * Four hosts are asked about (fb0..fb3).
 *
 * Invariants, beyond "no crash, no leak, no undefined behaviour":
 *   - OK: every host with points has finite sum, min <= last <= max;
 *     a host without points is all zeros;
 *   - a refusal says why (err_last() is not empty);
 *   - parsing the same body twice gives the same series.
 */
#include "fuzz.h"

#include <math.h>

#include "providers/health/hsource.h"

#define HOSTS 4

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct health_series a[HOSTS], b[HOSTS];
	size_t kl, bl, i;
	char *kind = fuzz_take_part(&in, &kl), *body = fuzz_take_part(&in, &bl);
	int prom = strcmp(kind, "prometheus") == 0, rc, rc2;

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	rc = prom ? health_prometheus_parse(a, HOSTS, body, bl) :
	    health_graphite_parse(a, HOSTS, body, bl);
	if (rc != OK)
		FUZZ_CHECK(err_last()[0], "a refusal without a reason");
	rc2 = prom ? health_prometheus_parse(b, HOSTS, body, bl) :
	    health_graphite_parse(b, HOSTS, body, bl);
	FUZZ_CHECK(rc == rc2, "two parses disagree: %d, %d", rc, rc2);
	for (i = 0; rc == OK && i < HOSTS; i++) {
		const struct health_series *s = &a[i];

		FUZZ_CHECK(memcmp(&a[i], &b[i], sizeof(a[i])) == 0, "host %zu differs", i);
		if (!s->n) {
			FUZZ_CHECK(s->sum == 0 && s->min == 0 && s->max == 0 && s->last == 0,
			    "host %zu has values without points", i);
			continue;
		}
		FUZZ_CHECK(isfinite(s->sum) && isfinite(s->min) && isfinite(s->max) &&
		    isfinite(s->last), "host %zu: a value that is not finite", i);
		FUZZ_CHECK(s->min <= s->last && s->last <= s->max, "host %zu: last %g outside "
		    "[%g, %g]", i, s->last, s->min, s->max);
	}
	free(kind);
	free(body);
	return 0;
}
