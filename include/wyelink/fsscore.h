/* wyelink: Fellegi-Sunter scoring of record pairs (linker/LINKING.md).
 *
 * A pair of records is compared field by field. Each *comparison* gives a
 * level: 0 when either record lacks the field, otherwise a level of
 * agreement. Field filters give Dice bands (disagree, partial, close,
 * exact) and, for fields that share a hashing key with others (the name
 * fields), a "cross" level when the direct comparison falls short but the
 * field agrees across: with an *alternate* of it in the other record (a
 * family name against the other record's former family name, either way
 * round), or with another compared field when the two are swapped (given
 * name against the other's family name *and* family name against the
 * other's given name). A swap is one piece of evidence: it is counted by
 * the first of the two comparisons, and the second is then left out
 * (missing) unless it agrees directly. Exact digests
 * give disagree or agree. The record-level filter's Dice can be a
 * comparison of its own (Dice bands), which is how a protocol without field
 * filters or digests is scored.
 *
 * Salted filters (PROTOCOL.md, "Hardening") of two records whose salt
 * values differ are unrelated bits. A pair of which only one record has
 * the salt field is certainly in two salt groups, so its salted
 * comparisons are left out (missing), not counted as disagreements. When
 * the field filters are salted and the record-level filter is not (or by
 * another field), the record-level Dice is added as a *fallback*
 * comparison, scored only for the pairs whose field filters may lie in
 * different salt groups (see wye_fs_comparison.fallback).
 *
 * The levels of all comparisons form the pair's *pattern*, a mixed-radix
 * number. The model holds for each comparison and level the probabilities
 * m (the level among matching pairs) and u (among non-matching pairs) and
 * the share lambda of matches among the pairs compared; it is estimated from
 * the counts of patterns over the candidate pairs by
 * expectation-maximisation (no labelled data). A missing level contributes
 * nothing. The match weight of a pattern is sum log2(m/u) over its present
 * comparisons; its posterior match probability follows from lambda.
 *
 * Ownership: a model is created by wye_fs_new and freed by wye_fs_free
 * (NULL allowed). The protocol is borrowed and must outlive it.
 * Thread safety: wye_fs_pattern, wye_fs_weight and the other const
 * functions may be called from any number of threads at once; estimating
 * or setting probabilities needs the model to itself.
 */
#ifndef WYELINK_FSSCORE_H
#define WYELINK_FSSCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wyelink/error.h"
#include "wyelink/protocol.h"
#include "wyelink/records.h"

#define WYE_FS_MAX_COMPARISONS 12
#define WYE_FS_MAX_LEVELS 6
#define WYE_FS_MAX_PATTERNS (1u << 22)

/* What a comparison looks at. */
typedef enum wye_fs_kind {
    WYE_FS_FILTER = 1,        /* a field filter: Dice bands (+ cross) */
    WYE_FS_DIGEST = 2,        /* an exact digest: agree or disagree */
    WYE_FS_FILTER_DIGEST = 3, /* both: exact = equal digests, else Dice bands */
    WYE_FS_RECORD = 4,        /* the record-level filter: Dice bands */
} wye_fs_kind;

/* Level numbers. Digest comparisons use MISSING, DISAGREE and EXACT only;
 * CROSS exists only for comparisons with cross partners. */
enum {
    WYE_FS_MISSING = 0,
    WYE_FS_DISAGREE = 1,
    WYE_FS_PARTIAL = 2,
    WYE_FS_CLOSE = 3,
    WYE_FS_EXACT = 4,
    WYE_FS_CROSS = 5,
};

typedef struct wye_fs_comparison {
    char name[WYE_NAME_MAX]; /* the field's name, or "record_filter" */
    wye_fs_kind kind;
    int field;               /* index in the protocol; -1 for the record filter */
    unsigned nlevels;        /* levels 0..nlevels-1 that this comparison uses */
    bool level_used[WYE_FS_MAX_LEVELS];
    unsigned ncross;         /* fields compared across (same kdf_id and filter) */
    int cross[WYE_MAX_FIELDS];
    bool cross_swap[WYE_MAX_FIELDS]; /* true: counts only when swapped both ways */
    /* WYE_FS_RECORD only: a fallback for salted field filters, compared
     * only for pairs whose field filters may lie in different salt groups
     * (the salt field present in one record only, or its exact digests
     * differing), missing for the others. */
    bool fallback;
} wye_fs_comparison;

typedef struct wye_fs_params {
    /* Dice bands: exact >= band_exact > close >= band_close > partial >=
     * band_partial > disagree. */
    double band_exact, band_close, band_partial;
    /* A cross comparison counts when its Dice reaches this and the direct
     * comparison is below close. */
    double cross_min;
    /* Compare fields across their shared key (see above). */
    bool cross;
    /* Add the record-level Dice as a comparison even when the protocol has
     * field filters or digests (it then overlaps them; off by default). */
    bool record_dice;
    /* Alternates: {alternate, field} by protocol name. An alternate is not
     * compared on its own; it is compared across with its field. Default:
     * {"former_family_name", "family_name"}; unused entries are NULL. */
    const char *alternates[4][2];
    /* Term-frequency adjustment of exact agreement (wye_fs_tf_build): a
     * value rarer than average counts for more, a common one for less, by
     * log2(average agreement rate / value's frequency), at most tf_max bits
     * either way. On by default, tf_max 6. */
    bool tf;
    double tf_max;
    /* Count bits with portable C even where the CPU has a popcount
     * instruction (the counts are the same; for tests). */
    bool portable;
    unsigned em_max_iter; /* default 1000 */
    double em_tol;        /* stop when no parameter moves more; default 1e-10 */
} wye_fs_params;

/* Fill p with the defaults (LINKING.md gives them and why). */
WYE_API void wye_fs_default_params(wye_fs_params *p);

typedef struct wye_fs wye_fs;

/* A model for protocol p: comparisons from its fields, probabilities at
 * their starting values. WYE_EINVAL for bad parameters, WYE_ERANGE if the
 * protocol gives more than WYE_FS_MAX_COMPARISONS comparisons or
 * WYE_FS_MAX_PATTERNS patterns, WYE_ENOTFOUND if it gives none, WYE_ENOMEM. */
WYE_API int wye_fs_new(const wye_protocol *p, const wye_fs_params *params, wye_fs **out);
WYE_API void wye_fs_free(wye_fs *fs);

WYE_API size_t wye_fs_ncomparisons(const wye_fs *fs);
WYE_API const wye_fs_comparison *wye_fs_comparison_at(const wye_fs *fs, size_t c);
/* Number of distinct patterns (the product of the comparisons' levels). */
WYE_API uint32_t wye_fs_npatterns(const wye_fs *fs);
/* Level of comparison c in pattern. */
WYE_API unsigned wye_fs_level(const wye_fs *fs, uint32_t pattern, size_t c);
/* The pattern made of these levels (one per comparison). */
WYE_API uint32_t wye_fs_make_pattern(const wye_fs *fs, const unsigned *levels);
/* Short name of a level: "missing", "disagree", "partial", "close",
 * "exact", "cross". */
WYE_API const char *wye_fs_level_name(unsigned level);

/* Compare records a and b of v (a set made with the model's protocol). */
WYE_API uint32_t wye_fs_pattern(const wye_fs *fs, const wye_recview *v, size_t a, size_t b);

typedef struct wye_fs_em_result {
    unsigned iterations;
    bool converged;
    uint64_t pairs;        /* pairs counted */
    double lambda;         /* estimated share of matches among them */
    double log_likelihood; /* natural log, at the end */
} wye_fs_em_result;

/* Estimate m, u and lambda by EM from counts[pattern] (npatterns entries;
 * the pairs compared). Deterministic. WYE_EINVAL if there are no counts or
 * fewer than 2 comparisons vary. res may be NULL. */
WYE_API int wye_fs_estimate(wye_fs *fs, const uint64_t *counts, wye_fs_em_result *res);

/* Set comparison c's probabilities by level (nlevels entries each; the
 * entry for MISSING and unused levels is ignored) and lambda, instead of
 * estimating them. WYE_EINVAL for probabilities outside (0, 1]. */
WYE_API int wye_fs_set(wye_fs *fs, size_t c, const double *m, const double *u);
WYE_API int wye_fs_set_lambda(wye_fs *fs, double lambda);
WYE_API double wye_fs_m(const wye_fs *fs, size_t c, unsigned level);
WYE_API double wye_fs_u(const wye_fs *fs, size_t c, unsigned level);
WYE_API double wye_fs_lambda(const wye_fs *fs);

/* Match weight of a pattern: sum over present comparisons of log2(m/u). */
WYE_API double wye_fs_weight(const wye_fs *fs, uint32_t pattern);
/* Posterior match probability of a weight under the model's lambda. */
WYE_API double wye_fs_posterior(const wye_fs *fs, double weight);
/* The weight at which the posterior equals p (0 < p < 1). */
WYE_API double wye_fs_weight_for_posterior(const wye_fs *fs, double p);

/* Replace u by the level frequencies among `samples` pairs of records of
 * v drawn at random (with a fixed seed, so deterministically, in fixed
 * chunks whatever the thread count): nearly all random pairs are
 * non-matches, and unlike the candidate pairs they are not selected for
 * agreeing, so their agreement rates are the chance agreement u stands
 * for. Each count gets one more (so no u is 0). WYE_EINVAL if v has fewer
 * than 2 records, WYE_ENOMEM. */
WYE_API int wye_fs_u_from_random(wye_fs *fs, const wye_recview *v, uint64_t samples,
                                 uint64_t seed, unsigned threads);

/* Term frequencies of the records in v (made with the model's protocol):
 * how often each record's value of each comparison occurs among the
 * records that have the field. Values are told apart by their encoding
 * (equal filters or equal digests), never read. Needed before wye_fs_score
 * adjusts for them; a no-op when params.tf is off. WYE_ENOMEM. The model
 * then refers to v, which must outlive it or the next call. */
WYE_API int wye_fs_tf_build(wye_fs *fs, const wye_recview *v, unsigned threads);
/* The score of a pair: its pattern's weight plus, for each comparison at
 * the exact level, the term-frequency adjustment of the more common of the
 * two records' values (0 before wye_fs_tf_build). *pattern (may be NULL)
 * receives the pattern. */
WYE_API double wye_fs_score(const wye_fs *fs, const wye_recview *v, size_t a, size_t b,
                            uint32_t *pattern);
/* The same for a pair whose pattern is known already. */
WYE_API double wye_fs_score_pattern(const wye_fs *fs, uint32_t pattern, size_t a, size_t b);
/* No pair with this pattern scores more than this (its weight plus the
 * largest adjustments of any record's values). */
WYE_API double wye_fs_score_bound(const wye_fs *fs, uint32_t pattern);

#endif
