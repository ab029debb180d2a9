/* wyelink: candidate pairs by blocking (linker/LINKING.md).
 *
 * Comparing all n(n-1)/2 pairs does not scale, so only pairs that share a
 * block are compared. Each *blocking key* gives every record a key (or
 * none); records with equal keys form a block:
 *   - an exact digest (date of birth, NHS number): equal values;
 *   - Hamming LSH band: equal bits at `hamming_bits` positions of the
 *     record-level filter, drawn once from a public seed (the filters are
 *     already keyed, so nothing secret is needed);
 *   - equal field filter of a field (postcode): equal values;
 *   - MinHash band: equal min-hashes of the set bits of name field filters
 *     (approximately, names with many q-grams in common), in either order
 *     (given and family name swapped meet too); a second group of bands
 *     over the address the same way.
 * A pair sharing several blocks is produced once, by the first key (in key
 * order) in which it shares a block: the rule needs no global table of
 * pairs seen, so work splits by blocks into *parts* whose results merge
 * by concatenation in part order, whichever thread or machine ran them.
 * Blocks larger than max_block are dropped (counted): they would cost more
 * than they find, and the other keys still cover their pairs.
 *
 * Exhaustive mode produces every pair i < j instead, in parts by rows.
 *
 * Ownership: wye_blocks_build returns an index owned by the caller, freed
 * with wye_blocks_free (NULL allowed); it borrows the view, which must
 * outlive it. Thread safety: after build, wye_blocks_pairs may run on
 * different parts (or the same) from any number of threads at once.
 */
#ifndef WYELINK_BLOCKING_H
#define WYELINK_BLOCKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wyelink/error.h"
#include "wyelink/records.h"

#define WYE_BLOCK_MAX_KEYS 64

typedef struct wye_blocking_params {
    bool exhaustive;         /* every pair; the keys below are ignored */
    bool digests;            /* a key per field with an exact digest */
    unsigned hamming_bands;  /* Hamming LSH keys over the record-level filter */
    unsigned hamming_bits;   /* bits sampled per band (1-64) */
    unsigned minhash_bands;  /* MinHash keys over minhash_fields */
    unsigned minhash_per_field; /* min-hashes of each field per band (1-8) */
    const char *minhash_fields[4]; /* field names with field filters; NULL ends */
    /* A second MinHash group, banded apart from the first (keys
     * "minhash2:N"; default 16 bands of 8 min-hashes of the address): a
     * record without the group's fields has no key. Its hash functions come
     * from a seed of their own, so the other keys are the same with or
     * without it. */
    unsigned minhash2_bands;
    unsigned minhash2_per_field;   /* 1-8 */
    const char *minhash2_fields[4];
    const char *exact_fields[4];   /* a key per field: equal field filters
                                      (default "postcode"); NULL ends */
    size_t max_block;        /* largest block kept (>= 2) */
    uint64_t seed;           /* draws bit positions and hash functions */
} wye_blocking_params;

/* Fill p with the defaults (LINKING.md says how they were chosen). */
WYE_API void wye_blocking_default_params(wye_blocking_params *p);

/* What one blocking key did. */
typedef struct wye_block_key_stats {
    char name[48];          /* e.g. "digest:date_of_birth", "hamming:3" */
    uint64_t records;       /* records that have this key */
    uint64_t blocks;        /* blocks of 2 or more records kept */
    uint64_t dropped;       /* blocks dropped for size */
    uint64_t dropped_records;
    uint64_t pairs;         /* pairs in kept blocks (before removing repeats) */
} wye_block_key_stats;

typedef struct wye_blocks wye_blocks;

/* Build the blocks of the records in v, with `threads` OpenMP threads
 * (0 = all cores). The result is the same for any thread count.
 * WYE_EINVAL for bad parameters, WYE_ENOTFOUND if no key applies to the
 * protocol (e.g. no digests and no record-level filter), WYE_ENOMEM. */
WYE_API int wye_blocks_build(const wye_recview *v, const wye_blocking_params *p,
                             unsigned threads, wye_blocks **out);
WYE_API void wye_blocks_free(wye_blocks *b);

WYE_API size_t wye_blocks_nkeys(const wye_blocks *b);
WYE_API const wye_block_key_stats *wye_blocks_key(const wye_blocks *b, size_t k);
/* Number of parts; the parts together produce each candidate pair once. */
WYE_API size_t wye_blocks_nparts(const wye_blocks *b);
/* Upper bound of the pairs part `part` visits (for progress and planning). */
WYE_API uint64_t wye_blocks_part_work(const wye_blocks *b, size_t part);

/* Called for each candidate pair a < b; a non-zero return stops the walk
 * and is returned by wye_blocks_pairs. */
typedef int (*wye_pair_fn)(void *ctx, uint32_t a, uint32_t b);

/* Produce the candidate pairs of one part, in a fixed order. */
WYE_API int wye_blocks_pairs(const wye_blocks *b, size_t part, wye_pair_fn fn, void *ctx);

/* Whether records a and b share a kept block of any key (exhaustive: always). */
WYE_API bool wye_blocks_is_candidate(const wye_blocks *b, uint32_t a, uint32_t bb);
/* Whether records a and b share a kept block of key k (false for k out of
 * range and in exhaustive mode, which has no keys). For reports on which
 * keys find which pairs. */
WYE_API bool wye_blocks_share_key(const wye_blocks *b, size_t k, uint32_t a, uint32_t bb);

#endif
