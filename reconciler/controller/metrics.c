/*
 * metrics.c - /metrics in Prometheus's text format.  See ctl.h.
 */
#include "controller/ctl.h"

#include <stdio.h>

#include "plan/plan.h"
#include "state/outbox.h"
#include "state/rollouts.h"

void
ctl_metrics(void *ctx, struct buf *out)
{
	struct ctl *c = ctx;
	size_t i;

	buf_puts(out, "# HELP firebreak_plans_total Plans made, by decision.\n"
	    "# TYPE firebreak_plans_total counter\n");
	for (i = 0; i <= DECISION_INVALID; i++)
		buf_printf(out, "firebreak_plans_total{decision=\"%s\"} %lu\n",
		    decision_name((enum decision)i), c->by_decision[i]);
	buf_printf(out, "# HELP firebreak_applies_total Applies, by result.\n"
	    "# TYPE firebreak_applies_total counter\n"
	    "firebreak_applies_total{result=\"ok\"} %lu\n"
	    "firebreak_applies_total{result=\"failed\"} %lu\n", c->applies_ok, c->applies_failed);
	buf_puts(out, "# HELP firebreak_commit_to_plan_seconds From a new head to its plan.\n"
	    "# TYPE firebreak_commit_to_plan_seconds histogram\n");
	for (i = 0; i < CTL_LAT_BUCKETS; i++)
		buf_printf(out, "firebreak_commit_to_plan_seconds_bucket{le=\"%g\"} %lu\n",
		    ctl_lat_bounds[i], c->lat_buckets[i]);
	buf_printf(out, "firebreak_commit_to_plan_seconds_bucket{le=\"+Inf\"} %lu\n"
	    "firebreak_commit_to_plan_seconds_sum %.6f\n"
	    "firebreak_commit_to_plan_seconds_count %lu\n", c->lat_count, c->lat_sum, c->lat_count);
	buf_printf(out, "# HELP firebreak_outbox_depth Chat messages not yet delivered.\n"
	    "# TYPE firebreak_outbox_depth gauge\nfirebreak_outbox_depth %zu\n",
	    c->ob ? outbox_depth(c->ob) : 0);
	buf_puts(out, "# HELP firebreak_rollout_hosts_total Rollout host results.\n"
	    "# TYPE firebreak_rollout_hosts_total counter\n");
	for (i = RH_UNCHANGED; i <= RH_UNREACHABLE; i++)
		buf_printf(out, "firebreak_rollout_hosts_total{result=\"%s\"} %lu\n",
		    rh_state_name((enum rh_state)i), c->ro_results[i]);
	buf_printf(out, "# HELP firebreak_last_applied_timestamp_seconds When the last apply happened.\n"
	    "# TYPE firebreak_last_applied_timestamp_seconds gauge\n"
	    "firebreak_last_applied_timestamp_seconds %.0f\n", c->last_applied_at);
	ctl_health_metrics(c, out);
	ctl_mout_metrics(c, out);
	ctl_world_metrics(c, out);
	if (c->ha)
		ctl_ha_metrics(c, out);
}
