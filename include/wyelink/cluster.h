/* wyelink: clustering scored pairs into persons without chaining
 * (linker/LINKING.md).
 *
 * Plain connected components on matching pairs chain unrelated people into
 * one cluster through single weak links. Here links are taken strongest
 * first, and two clusters merge only if the merged cluster stays coherent:
 * every pair of its records (not just the pairs that were candidates) must
 * score at least `cannot`, and two records of the same agency must score at
 * least `within` (a duplicate inside one agency needs direct evidence, not
 * evidence through a third record). Records of different agencies may be
 * joined through a third record as long as they do not conflict. Within-
 * and across-agency duplicates are found in this one pass.
 *
 * The result depends only on the pairs, their scores and the score
 * function, never on thread count or timing: links are taken in a fixed
 * order (score descending, then record numbers ascending).
 *
 * Ownership: the caller owns every array passed in and out.
 * Thread safety: wye_cluster uses no shared state; the score function is
 * called from the calling thread only.
 */
#ifndef WYELINK_CLUSTER_H
#define WYELINK_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "wyelink/error.h"

/* A scored pair of records, a < b. */
typedef struct wye_edge {
    uint32_t a, b;
    double score;
} wye_edge;

/* The score of any pair of records (a != b), for the coherence checks. */
typedef double (*wye_score_fn)(void *ctx, uint32_t a, uint32_t b);

typedef struct wye_cluster_params {
    double match;    /* only pairs scoring at least this are links */
    double within;   /* same-agency records in one cluster score at least this */
    double cannot;   /* any two records in one cluster score at least this */
    size_t max_size; /* no cluster grows beyond this many records (0 = no cap) */
} wye_cluster_params;

typedef struct wye_cluster_stats {
    uint64_t links;         /* pairs at or above the match score */
    uint64_t merges;        /* links that joined two clusters */
    uint64_t refused;       /* links refused: the merged cluster would conflict */
    uint64_t refused_size;  /* links refused by max_size */
    uint64_t checks;        /* pair scores computed for coherence */
    uint64_t clusters;      /* resulting persons (singletons included) */
    uint64_t largest;       /* records in the largest cluster */
} wye_cluster_stats;

/* Cluster n records. agency[i] is record i's agency; edges (any order,
 * nedges entries, a < b < n) are the scored pairs. person[i] receives a
 * person number 0..clusters-1, numbered in order of each person's lowest
 * record. st may be NULL. WYE_EINVAL for an edge out of range, WYE_ENOMEM. */
WYE_API int wye_cluster(size_t n, const uint16_t *agency, const wye_edge *edges, size_t nedges,
                        const wye_cluster_params *cp, wye_score_fn score, void *ctx,
                        uint32_t *person, wye_cluster_stats *st);

#endif
