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
 * give disagree or agree. Attributes sent in clear that say something
 * about the person (sex; the age band) give disagree or agree too; the
 * age band is left out (missing) when the dates of birth agree exactly,
 * since it follows from them. The record-level filter's Dice can be a
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
 * the share lambda of matches among the pairs compared. wye_fs_fit
 * estimates them without labelled data (linker/LINKING.md, "The model"):
 * u from random pairs, m by expectation-maximisation with u fixed on the
 * candidate pairs that agree exactly on an anchor (a date of birth, an
 * identifier, the whole name), lambda from the expected number of matches
 * over all pairs, checked against what is possible. A missing level
 * contributes nothing. The match weight of a pattern is sum log2(m/u) over
 * its present comparisons; its posterior match probability follows from
 * lambda.
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
#include <stdio.h>

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
    WYE_FS_ATTR = 5,          /* an attribute (sex, age band): agree or disagree */
} wye_fs_kind;

/* Level numbers. Digest and attribute comparisons use MISSING, DISAGREE
 * and EXACT only; CROSS exists only for comparisons with cross partners. */
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
    int field;               /* index in the protocol's fields (WYE_FS_ATTR: in
                                its attributes); -1 for the record filter */
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
    /* WYE_FS_ATTR only: the comparison this one follows from (the age
     * band's date of birth), or -1. When that comparison is exact this one
     * adds nothing and is missing. */
    int given_by;
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
     * less and tf_max_gain bits more. On by default, tf_max 6, tf_max_gain
     * 2: strangers who share a rare value are few, but as the data grow
     * they are many, and a large gain for rarity linked them (at 540,000
     * synthetic records, a gain of up to 6 bits made 1.9 times the false
     * matches of 2 for 0.3% more recall: bench/quality/FIT.md). */
    bool tf;
    double tf_max;
    double tf_max_gain;
    /* Compare the attributes that describe the person: those of source
     * sex and, if age_band, of source age_band (PROTOCOL.md,
     * "Attributes"). Both on by default. */
    bool attributes;
    bool age_band;
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
/* Number of distinct patterns (the product of the numbers of levels each
 * comparison uses). */
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

/* ---- fitting the model ----------------------------------------------------
 *
 * EM over all candidate pairs (wye_fs_estimate) fails as data grow: the
 * candidates are chosen for agreeing, their non-matches outnumber their
 * matches more with every record added, and the two classes EM finds drift
 * from "same person or not" to "shares a date of birth or not". wye_fs_fit
 * therefore estimates each part where it can be estimated without bias:
 *   u       from random pairs (wye_fs_u_from_random), for every comparison
 *           and level;
 *   m       by EM with u fixed, on the candidates that agree exactly on an
 *           *anchor*: each exact digest (date of birth, NHS number, ...) and
 *           the name fields together. Blocking makes every pair that agrees
 *           exactly on an anchor a candidate, so among those pairs the
 *           non-matches' other comparisons are distributed as among random
 *           pairs (u), and EM only has to find the matches. A comparison's m
 *           pools the anchors it is not part of. A comparison that is part
 *           of every anchor (the names, when no date of birth is held) is
 *           fitted on the pairs agreeing exactly on another field filter
 *           (postcode, address), and failing that by EM over all
 *           candidates;
 *   lambda  the expected number of matches over all pairs, the sum of the
 *           fitted model's posterior match probabilities over the
 *           candidates (pairs that are not candidates count as
 *           non-matches), solved for the prior it implies.
 * The fit is then checked: more expected matches than records allow (a
 * person has at most max_records_per_agency records in each agency), an
 * exact agreement that counts against a match or a disagreement that
 * counts for one, or EM that did not converge make it implausible, with
 * the reason. */

#define WYE_FS_MAX_ANCHORS 8
#define WYE_FS_REASON_MAX 256

typedef struct wye_fs_fit_params {
    uint64_t u_samples; /* random pairs for u; default 4e6, no more than there
                           are pairs, at least 100,000 */
    uint64_t seed;      /* of the random pairs */
    unsigned threads;   /* 0 = all cores */
    /* The plausibility bound: matches between two agencies <= this x the
     * smaller one's records, within one agency <= (this - 1) / 2 x its
     * records. Default 3. */
    double max_records_per_agency;
    /* An anchor is used when EM expects at least this many matches among
     * its pairs. Default 20. */
    double min_anchor_matches;
    /* The share of false matches the model may expect among the pairs at
     * or above the match threshold (wye_fs_weight_for_false_share). Default
     * 0.002. */
    double max_false_share;
} wye_fs_fit_params;

WYE_API void wye_fs_default_fit_params(wye_fs_fit_params *p);

typedef struct wye_fs_fit_anchor {
    char name[2 * WYE_NAME_MAX + 8]; /* "date_of_birth", "given_name+family_name" */
    uint64_t pairs;   /* candidates agreeing exactly on it */
    double matches;   /* matches EM expects among them */
    unsigned iterations;
    bool converged;
    bool used;        /* enough matches and evidence to fit m from */
    /* Too little other evidence among its pairs to tell matches apart (the
     * other comparisons' exact agreement, weighted by how often they are
     * present, gives less than 16 bits): not used. */
    bool weak;
    /* A field filter's exact agreement (postcode, address): people at one
     * address are often related, so its pairs fit only the comparisons no
     * other anchor can (the names, when no date of birth is held). */
    bool secondary;
} wye_fs_fit_anchor;

typedef struct wye_fs_fit_result {
    uint64_t candidates; /* pairs in the pattern counts */
    uint64_t all_pairs;  /* n(n-1)/2 */
    uint64_t u_samples;  /* random pairs u came from */
    unsigned nanchors;
    wye_fs_fit_anchor anchor[WYE_FS_MAX_ANCHORS];
    /* per comparison: m fitted on anchors (else by EM over all candidates,
     * or, for a comparison no candidate pair makes, m = u) */
    bool anchored[WYE_FS_MAX_COMPARISONS];
    bool compared[WYE_FS_MAX_COMPARISONS]; /* present in some candidate pair */
    wye_fs_em_result em;       /* EM over all candidates, when some comparison
                                  needed it (else iterations 0, and converged
                                  tells whether every anchor's EM converged) */
    double expected_matches;   /* over all pairs */
    double lambda_candidates;  /* expected_matches / candidates */
    double prior;              /* the model's lambda: expected_matches / all_pairs */
    double max_matches;        /* the plausibility bound on expected_matches */
    double max_false_share;    /* as given (wye_fs_weight_for_false_share) */
    bool implausible;
    char reason[WYE_FS_REASON_MAX]; /* why, when implausible; else "" */
} wye_fs_fit_result;

/* Fit the model to record set v from counts[pattern] (npatterns entries),
 * the pattern counts of the candidate pairs, as described above, then
 * build the term frequencies (wye_fs_tf_build). With no candidates the
 * model keeps its starting probabilities. res (may be NULL) receives the
 * diagnostics, which the model also keeps (wye_fs_fit_info). The model
 * refers to v afterwards, as after wye_fs_tf_build. Deterministic for any
 * thread count. WYE_EINVAL for bad arguments, WYE_ENOMEM. */
WYE_API int wye_fs_fit(wye_fs *fs, const wye_recview *v, const uint64_t *counts,
                       const wye_fs_fit_params *params, wye_fs_fit_result *res);
/* The least score t at which the fitted model expects at most max_share of
 * the pairs scoring t or more, among the n scores given, to be non-matches
 * (the sum of their posterior non-match probabilities over their number):
 * a match threshold that holds precision as the data grow, where strangers
 * who agree by chance multiply faster than the matches, and the posterior
 * threshold alone lets more of them in. The scores must include every pair
 * that could be a match (those at or above the possible-match threshold).
 * *out is -INFINITY when any score would do, and when the last fit used no
 * anchor (its posterior is then not calibrated enough to count on).
 * WYE_EINVAL for bad arguments, WYE_ENOMEM. */
WYE_API int wye_fs_weight_for_false_share(const wye_fs *fs, const double *scores, size_t n,
                                          double max_share, double *out);
/* The diagnostics of the last wye_fs_fit (all zero before one). */
WYE_API const wye_fs_fit_result *wye_fs_fit_info(const wye_fs *fs);
/* Write the fitted model for people to read: the anchors and what EM
 * found on each, the expected matches and the bound, then m, u and the
 * weight of every level of every comparison (and which comparisons were
 * not anchored), and the reason when the fit is implausible. Lines start
 * with two spaces. WYE_EIO if writing fails. */
WYE_API int wye_fs_write_model(const wye_fs *fs, FILE *f);

#endif
