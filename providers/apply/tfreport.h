/*
 * tfreport.h - what the terraform apply provider says about Terraform's
 * output: the summary of a saved plan (from `terraform show -json`), and
 * the error lines of a run that failed.  Pure functions over bytes
 * Terraform wrote (no I/O), bounded, and safe for chat: no ANSI escape
 * sequence or control character survives, lines are cut, the whole is
 * capped.  Used by terraform.c only (and the unit and fuzz tests).
 *
 * Layer: providers/apply (includes base only).
 */
#ifndef FIREBREAK_TFREPORT_H
#define FIREBREAK_TFREPORT_H

#include <stddef.h>

#include "base/util.h"

#define TF_SHOW_MAX (32u << 20)     /* bytes of `terraform show -json` we read */
#define TF_SUMMARY_LINES 40         /* resources listed; then "... and N more" */
#define TF_VALUE_MAX 120            /* bytes of one attribute value shown */
#define TF_ERRORS_MAX 10            /* error blocks quoted */
#define TF_ERROR_BYTES 600          /* bytes of one error block */
#define TF_TAIL_BYTES 1500          /* output quoted when no error line is found */

/* Counted as Terraform's own "Plan: N to add, N to change, N to destroy." */
struct tf_counts {
	size_t add, change, destroy;
	size_t resources;            /* resources with an action (not no-op or read) */
};

/*
 * The summary of a plan in `terraform show -json` format (json, len
 * bytes), appended to out: Terraform's "Plan: N to add, N to change, N to
 * destroy." line (or "No changes."), then one line per resource with an
 * action ("  + aws_route53_record.www_example_com_A: create"), an update
 * with the attributes it changes (before -> after, compact JSON, cut at
 * TF_VALUE_MAX).  *counts (may be NULL) gets the numbers.  ERR_INVALID
 * (out unchanged) when the JSON is not a plan Terraform wrote.
 */
int tf_summary(struct buf *out, struct tf_counts *counts, const char *json, size_t len);

/*
 * Terraform's output (text, len bytes, as the program wrote it) for chat:
 * each "Error: ..." block (its message and explanation, the resource it
 * names as "(with X)"), at most TF_ERRORS_MAX; when there is none, the
 * last TF_TAIL_BYTES of the output.  ANSI escape sequences are removed,
 * other control characters (but newline) become '?', invalid UTF-8 '?'.
 */
void tf_errors(struct buf *out, const char *text, size_t len);

/* 1 when the output says the saved plan is stale ("Saved plan is stale"). */
int tf_says_stale(const char *text, size_t len);

/* The line starting with `prefix` ("Apply complete!"), cleaned, appended
 * to out; 0 when there is none. */
int tf_line(struct buf *out, const char *text, size_t len, const char *prefix);

/* Append text[0..len) to out cleaned for chat (see tf_errors). */
void tf_clean(struct buf *out, const char *text, size_t len);

#endif
