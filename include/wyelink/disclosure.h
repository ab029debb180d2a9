/* wyelink: statistical disclosure control for every count wyelink publishes
 * (linker/DISCLOSURE.md).
 *
 * The rule: a count of persons or records below 5 is shown as "<5"; every
 * other count is rounded to the nearest multiple of 5; and where the
 * published cells, margins and totals, solved together as linear
 * constraints over whole numbers, would still narrow a suppressed count to
 * fewer than 5 possible values, more counts are shown as "suppressed"
 * (secondary suppression) until none can be. Technical counts (pairs,
 * blocks, iterations) are not counts of people and stay exact.
 *
 * The rule works on the JSON trees the tools write (jansson), keeping their
 * keys: only the values of counts change, from integers to rounded integers,
 * "<5" or "suppressed". A tree carries its rule in "disclosure": the
 * WYE_DISCLOSURE_RULE string when published, "exact" when not (internal use
 * only), and "small_counts" says the same in words.
 *
 * The audit (the attacker the rule is checked against) solves small mixed
 * integer programs with lp_solve; see DISCLOSURE.md for the constraints.
 *
 * Ownership: trees are borrowed unless a function says it returns a new one.
 * Thread safety: functions may run concurrently on different trees.
 */
#ifndef WYELINK_DISCLOSURE_H
#define WYELINK_DISCLOSURE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wyelink/error.h"

/* Counts below this are suppressed; every other count is rounded to a
 * multiple of it. */
#define WYE_DISCLOSURE_BASE 5
/* The summary's overlaps are modelled over every combination of agencies
 * (2^n - 1 of them); beyond this many agencies the rule refuses
 * (WYE_ERANGE) rather than publish what it cannot audit. */
#define WYE_DISCLOSURE_MAX_AGENCIES 12
/* The value of "disclosure" in a published tree, and in an exact one. */
#define WYE_DISCLOSURE_RULE "wyelink-sdc-1: below 5 shown as <5, others rounded to 5, " \
                            "secondary suppression"
#define WYE_DISCLOSURE_EXACT "exact"
/* The strings that stand for a count in a published tree. */
#define WYE_DISCLOSURE_SMALL "<5"
#define WYE_DISCLOSURE_SUPPRESSED "suppressed"

typedef struct wye_disclosure_params {
    /* Internal use only: leave every count exact and mark the tree (and so
     * every table made from it) "exact". Default false. */
    bool exact;
    /* Seconds one solve of the audit may take before the cell it checks is
     * treated as unsafe (and more is suppressed). Default 10. */
    double solve_seconds;
} wye_disclosure_params;

typedef struct wye_disclosure_stats {
    size_t cells;      /* counts the rule applied to */
    size_t small;      /* shown as "<5" */
    size_t secondary;  /* shown as "suppressed" */
    size_t solves;     /* integer programs the audit solved */
} wye_disclosure_stats;

/* Fill p with the defaults. */
WYE_API void wye_disclosure_default_params(wye_disclosure_params *p);

/* The published copy of an exact summary (wyelink link's summary.json tree
 * with exact counts, "small_counts": "exact"). *published is a new tree
 * owned by the caller (json_decref). p may be NULL (defaults).
 * WYE_EJSON (diag names the key) when a count is not a whole number >= 0 or
 * the tree is not a summary; WYE_ERANGE beyond WYE_DISCLOSURE_MAX_AGENCIES;
 * WYE_ENOMEM. */
WYE_API int wye_disclosure_apply(const json_t *exact_summary, const wye_disclosure_params *p,
                                 json_t **published, wye_diag *diag);

/* Publish a summary and the agencies' data-quality summaries (wyelink hash
 * --summary-json) together, in place, so that no suppressed count can be
 * worked out from any combination of them.
 *
 * summary may be exact (it is then published as wye_disclosure_apply
 * would, and its counts do not depend on the quality summaries) or already
 * published under this rule (its counts then stay as they are; an
 * "intersections" list with exact counts, added since, is published in
 * the light of them). A summary published otherwise (say, under the old
 * "<5"-only rule) has its integers taken as exact published values: if the
 * audit can then work out a suppressed count, WYE_EFORMAT (diag names it),
 * since what is already published cannot be taken back.
 *
 * Each quality tree (exact) is rewritten to its published form: counts by
 * the rule, the reasons with fewer than 5 rows folded into "other reasons",
 * and no file paths, line numbers or per-value lists. quality may be NULL
 * when nquality is 0; summary may be NULL. st may be NULL.
 * Errors as wye_disclosure_apply. */
WYE_API int wye_disclosure_publish(json_t *summary, json_t *const *quality, size_t nquality,
                                   const wye_disclosure_params *p, wye_disclosure_stats *st,
                                   wye_diag *diag);

/* A summary's "intersections" list, exact: for every combination of the n
 * agencies (names in the order of the summary's "records"), in order of
 * size and then of the agencies, {"agencies": [...], "persons":
 * count[mask]}, bit a of mask standing for agency a; count has 2^n
 * entries. A new array owned by the caller; NULL if n is 0 or above
 * WYE_DISCLOSURE_MAX_AGENCIES, or out of memory. */
WYE_API json_t *wye_disclosure_intersections(const char *const *agency, size_t n,
                                             const uint64_t *count);

/* 1 if tree says its counts are exact ("disclosure" or "small_counts" is
 * "exact"), 0 if not. */
WYE_API int wye_disclosure_is_exact(const json_t *tree);

#endif
