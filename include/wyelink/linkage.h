/* wyelink: the whole linkage of a record set (linker/LINKING.md).
 *
 * Blocking gives candidate pairs; each is compared (wye_fs_pattern) and the
 * pattern counts estimate the Fellegi-Sunter model by EM; the thresholds
 * are chosen from the model (or given); a second pass keeps the pairs at or
 * above the possible-match threshold; clustering turns matches into
 * persons. Work is split into the blocking parts, run on OpenMP threads and
 * merged in part order, so every result is the same for any thread count.
 *
 * Outputs (written by the caller to files of its choosing):
 *   persons  "agency,record,person": every record, singletons included;
 *            record is the record's pseudonym in hex, person a number from 1
 *   pairs    "agency_a,record_a,agency_b,record_b,score,decision": every
 *            pair at or above the possible-match threshold; decision is
 *            "match" (linked), "possible" (between the two thresholds) or
 *            "conflict" (scored as a match but kept apart because the
 *            records' clusters disagree)
 *   summary  JSON: the inputs (per file: agency, BLAKE2b digest and size,
 *            signing key id, linkage-secret key id, extract date, creation
 *            time), records per agency, unique persons, persons by number of
 *            agencies, overlaps between agencies, thresholds and how they
 *            were chosen, the model, blocking and clustering figures.
 *            Counts of records and persons below 5 read "<5" unless
 *            exact_small_counts.
 * No output holds anything but pseudonyms, agency names, counts and
 * scores.
 *
 * Ownership: wye_link_run returns a result owned by the caller, freed with
 * wye_linkage_free (NULL allowed); it borrows the record set, which must
 * outlive it. Thread safety: a result is immutable; writers may run from
 * any thread.
 */
#ifndef WYELINK_LINKAGE_H
#define WYELINK_LINKAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "wyelink/blocking.h"
#include "wyelink/cluster.h"
#include "wyelink/error.h"
#include "wyelink/fsscore.h"
#include "wyelink/records.h"

/* Progress: stage names "blocking", "candidates" (pass 1), "model",
 * "scoring" (pass 2), "clustering", each reported at least at its start and
 * end; called from one thread at a time. Return 0 to go on, non-zero to stop
 * the run: wye_link_run then returns WYE_ECANCELLED soon after (at the next
 * part of a pass, or the end of the current step). */
typedef int (*wye_progress_fn)(void *ctx, const char *stage, uint64_t done, uint64_t total);

typedef struct wye_link_params {
    wye_blocking_params blocking;
    wye_fs_params fs;
    /* Thresholds on the match weight (log2 likelihood ratio). Automatic
     * unless *_given: the weight at which the posterior match probability,
     * with the prior taken over all pairs of records, reaches
     * match_posterior (matches) or possible_posterior (possible matches). */
    bool match_given, possible_given;
    double match, possible;
    double match_posterior;    /* default 0.5 */
    double possible_posterior; /* default 0.05 */
    /* Clustering: two records of one agency in one person must score at
     * least within_weight between them (direct evidence); no two records
     * in one person may score below conflict_weight. */
    double within_weight;      /* default 5 (32:1 for the same person) */
    double conflict_weight;    /* default -5 (32:1 for different people) */
    size_t max_cluster;        /* default 1000 */
    uint64_t u_samples;        /* random pairs u is estimated from; default 4e6
                                  (fewer when there are fewer pairs, but at
                                  least 100,000) */
    /* When the protocol has no field filter, score the record-level filter
     * as a comparison of its own (fs.record_dice) whatever fs.record_dice
     * says: without it such a protocol would be scored on its exact digests
     * alone. Default true; false leaves fs.record_dice as given. */
    bool record_dice_auto;
    unsigned threads;          /* 0 = all cores */
    wye_progress_fn progress;
    void *progress_ctx;
} wye_link_params;

/* Fill p with the defaults. */
WYE_API void wye_link_default_params(wye_link_params *p);

typedef struct wye_linkage wye_linkage;

typedef struct wye_link_stats {
    uint64_t records;
    uint64_t all_pairs;        /* n(n-1)/2 */
    uint64_t candidates;       /* pairs compared */
    uint64_t kept;             /* pairs at or above the possible threshold */
    uint64_t matches, possibles, conflicts;
    uint64_t persons;
    double match, possible;    /* thresholds used (weights) */
    double within, conflict;   /* clustering thresholds used (weights) */
    bool match_auto, possible_auto;
    double lambda_candidates;  /* EM's share of matches among the candidates */
    double expected_matches;   /* lambda_candidates * candidates */
    double prior;              /* expected_matches / all_pairs */
    uint64_t u_samples;        /* random pairs u was estimated from */
    wye_fs_em_result em;
    wye_cluster_stats cluster;
    /* wall time of each step (not in any output file: they vary) */
    double seconds_blocking, seconds_candidates, seconds_model, seconds_scoring,
        seconds_clustering;
} wye_link_stats;

/* Link the records of a finished set s. WYE_EINVAL for bad parameters or an
 * unfinished set, WYE_ENOTFOUND when the protocol gives nothing to compare
 * or block on, WYE_ECANCELLED when the progress callback asked to stop,
 * WYE_ENOMEM. diag (may be NULL) says which step failed. */
WYE_API int wye_link_run(const wye_recset *s, const wye_link_params *p, wye_linkage **out,
                         wye_diag *diag);
WYE_API void wye_linkage_free(wye_linkage *l);

WYE_API const wye_link_stats *wye_linkage_stats(const wye_linkage *l);
/* How the thresholds were chosen, one sentence (also in the summary). */
WYE_API const char *wye_linkage_how(const wye_linkage *l);
/* Person number (from 1) of record i. */
WYE_API uint32_t wye_linkage_person(const wye_linkage *l, size_t i);
/* The model (estimated) and the blocks; owned by l. */
WYE_API const wye_fs *wye_linkage_model(const wye_linkage *l);
/* The fitted model level by level, for reports (the summary's "model"):
 * every level each comparison uses, comparison by comparison. The expected
 * matches, prior and EM figures are in wye_link_stats. */
typedef struct wye_link_model_level {
    const char *comparison; /* a field's name, or "record_filter"; owned by l */
    const char *level;      /* "exact", "high", ... (static) */
    double m, u;            /* P(level | match), P(level | non-match) */
    double weight;          /* log2(m / u) */
} wye_link_model_level;
WYE_API size_t wye_linkage_model_nlevels(const wye_linkage *l);
/* Level k (0-based) into *out; WYE_ENOTFOUND beyond the last. */
WYE_API int wye_linkage_model_level(const wye_linkage *l, size_t k, wye_link_model_level *out);
WYE_API const wye_blocks *wye_linkage_blocks(const wye_linkage *l);
/* Kept pairs, sorted by (a, b); decision 0 match, 1 possible, 2 conflict. */
typedef struct wye_link_pair {
    uint32_t a, b;
    double score;
    int decision;
} wye_link_pair;
WYE_API size_t wye_linkage_npairs(const wye_linkage *l);
WYE_API const wye_link_pair *wye_linkage_pair(const wye_linkage *l, size_t k);
/* "match", "possible", "conflict". */
WYE_API const char *wye_link_decision_name(int decision);

/* Writers; WYE_EIO if writing fails. */
WYE_API int wye_linkage_write_persons(const wye_linkage *l, FILE *f);
WYE_API int wye_linkage_write_pairs(const wye_linkage *l, FILE *f);
WYE_API int wye_linkage_write_summary(const wye_linkage *l, FILE *f, bool exact_small_counts);

#endif
