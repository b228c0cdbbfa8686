/*
 * crashpoint.h - named instants where a test may kill the process, to
 * prove what a restart does after a kill -9 exactly there (DESIGN.md
 * "State directory": a kill -9 at any instant loses nothing).
 *
 * Layer: base.  The code calls crash_point("after-switch") at each
 * instant that matters; the names are listed below.  What the call does
 * depends on how crashpoint.c was compiled:
 *
 *   - in the library every binary links (and so in every release build),
 *     nothing: the environment is never read and the names are not even
 *     in the binary;
 *   - compiled with -DFIREBREAK_TEST_HOOKS, as only the test build's
 *     $(BUILD)/tests/hooks/firebreak-core is (tests/tools/tools.mk links
 *     that object ahead of the library), the process kills itself with
 *     SIGKILL when the environment variable FIREBREAK_CRASH_AT names the
 *     point: "after-switch", or "during-provider:2" for the second time
 *     the point is reached in this process.  It logs the point first, so
 *     a test can tell its kill from a crash.
 *
 * The points (where each is, and what a restart must do, is in the code
 * that calls it):
 *   before-switch      the plan is recorded applying; the release is not switched
 *   after-switch       the release is switched; no provider has started
 *   during-provider    a provider is recorded running and its process started
 *   provider-ended     a provider's run ended; the record still says running
 *   after-provider-note  a provider is recorded done with its report written
 *                      ahead; the report is not queued
 *   between-providers  a provider is recorded done; the next has not started
 *   before-outcome     the last provider ended; the outcome is not written
 *   after-outcome      the outcome and its announcement are written; the
 *                      message is not queued
 *   after-queue        the message is queued; the index still marks it
 *   after-delivery     a chat service took a message; the outbox does not
 *                      know yet (the one window where a message is sent twice)
 *   after-sent-mark    ... and the outbox marked it sent (not yet fsynced
 *                      out of its post file): not sent again
 *   preparing          a plan's apply provider started preparing it
 *                      (terraform plan); the plan has no record yet
 */
#ifndef FIREBREAK_CRASHPOINT_H
#define FIREBREAK_CRASHPOINT_H

/* Kill this process if the test build's FIREBREAK_CRASH_AT names `name`
 * (a static string); else return at once.  Never returns an error. */
void crash_point(const char *name);

#endif
