/* wyelink: Dice coefficients of Bloom filters (linker/LINKING.md).
 *
 * The Dice coefficient of two filters A and B is 2|A and B| / (|A| + |B|),
 * where |.| counts set bits. Filters are arrays of 64-bit words (any number
 * of words: a filter of L bits, L a multiple of 64, has L/64 words).
 *
 * Kernels: a portable scalar one, AVX2 (nibble-table popcount) and AVX-512
 * (VPOPCNTDQ), chosen at run time by what the CPU supports. Every kernel
 * computes the same integer counts, and the coefficient is always computed
 * from those counts by wye_dice_coeff, so the kernels agree bit for bit.
 *
 * Pruning: c = |A and B| <= min(|A|, |B|), so a pair whose popcounts give
 * wye_dice_coeff(min, |A|, |B|) < threshold cannot reach the threshold and is
 * skipped without being compared. A pack (wye_dice_pack) sorts its filters
 * by popcount so that skipping is a range cut, not a test per pair.
 *
 * Ownership: kernels are static tables, never freed. A pack copies the
 * filters it is given; free it with wye_dice_pack_free. Hit arrays returned
 * through out-parameters are freed by the caller with free().
 * Thread safety: kernels and a built pack are immutable; any number of
 * threads may use them at once.
 */
#ifndef WYELINK_DICE_H
#define WYELINK_DICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wyelink/error.h"

/* The instruction sets a kernel may use. */
typedef enum wye_dice_isa {
    WYE_DICE_AUTO = 0,   /* the best the CPU supports */
    WYE_DICE_SCALAR = 1, /* portable C */
    WYE_DICE_AVX2 = 2,   /* AVX2, popcount by nibble table */
    WYE_DICE_AVX512 = 3, /* AVX-512F + VPOPCNTDQ */
} wye_dice_isa;

typedef struct wye_dice_kernel wye_dice_kernel;

/* The kernel for isa (WYE_DICE_AUTO: the best available).
 * WYE_ENOTFOUND if this CPU (or its operating system) cannot run it,
 * WYE_EINVAL for an unknown isa. */
WYE_API int wye_dice_kernel_get(wye_dice_isa isa, const wye_dice_kernel **out);
/* The instruction set of k (never WYE_DICE_AUTO). */
WYE_API wye_dice_isa wye_dice_kernel_isa(const wye_dice_kernel *k);
/* "scalar", "avx2", "avx512" or "auto"; "unknown" otherwise. */
WYE_API const char *wye_dice_isa_name(wye_dice_isa isa);

/* Set bits of a filter of `words` 64-bit words. */
WYE_API uint32_t wye_dice_popcount(const wye_dice_kernel *k, const uint64_t *a, size_t words);
/* |a and b|. */
WYE_API uint32_t wye_dice_and_count(const wye_dice_kernel *k, const uint64_t *a,
                                    const uint64_t *b, size_t words);

/* The Dice coefficient from counts: 2 common / (pa + pb), and 0 when both
 * filters are empty. The one place the coefficient is computed. */
WYE_API double wye_dice_coeff(uint32_t common, uint32_t pa, uint32_t pb);
/* Dice of two filters (the kernel's counts, then wye_dice_coeff). */
WYE_API double wye_dice(const wye_dice_kernel *k, const uint64_t *a, const uint64_t *b,
                        size_t words);
/* Whether a pair with these popcounts can reach threshold at all. */
WYE_API bool wye_dice_can_reach(uint32_t pa, uint32_t pb, double threshold);

/* A pair whose Dice reached the threshold. For all-pairs results a < b are
 * indices into the packed filters; for a query, a is the caller's id and b
 * the packed filter. dice = wye_dice_coeff(common, pop_a, pop_b). */
typedef struct wye_dice_hit {
    uint32_t a, b;
    uint32_t common; /* |A and B| */
    uint32_t sum;    /* |A| + |B| */
} wye_dice_hit;

/* Work done by a search. pairs = compared + pruned. */
typedef struct wye_dice_stats {
    uint64_t pairs;    /* pairs in scope */
    uint64_t compared; /* pairs whose filters were compared */
    uint64_t pruned;   /* pairs skipped because their popcounts cannot reach */
    uint64_t hits;     /* pairs at or above the threshold */
} wye_dice_stats;

/* n filters of equal length, copied, sorted by popcount and laid out for
 * the kernel (groups of 8 filters, word-interleaved). */
typedef struct wye_dice_pack wye_dice_pack;

/* Pack n filters of `words` words each; filter i starts at filters + i *
 * stride (stride >= words, in words). WYE_EINVAL if words is 0, stride <
 * words or n > UINT32_MAX - 8; WYE_ENOMEM. */
WYE_API int wye_dice_pack_new(const wye_dice_kernel *k, const uint64_t *filters,
                              size_t stride, size_t words, size_t n, wye_dice_pack **out);
/* NULL is allowed. */
WYE_API void wye_dice_pack_free(wye_dice_pack *p);
WYE_API size_t wye_dice_pack_size(const wye_dice_pack *p);
/* The popcount of packed filter i (in the caller's numbering). */
WYE_API uint32_t wye_dice_pack_pop(const wye_dice_pack *p, size_t i);

/* Every pair i < j of the pack with Dice >= threshold (0 <= threshold <= 1),
 * sorted by (a, b). Work is split in fixed chunks run on `threads` OpenMP
 * threads (0 = all cores); the result is the same for any thread count.
 * *hits (NULL when there are none) is freed by the caller. st may be NULL.
 * WYE_EINVAL for a threshold outside [0, 1], WYE_ENOMEM. */
WYE_API int wye_dice_all_pairs(const wye_dice_pack *p, double threshold, unsigned threads,
                               wye_dice_hit **hits, size_t *nhits, wye_dice_stats *st);

/* One query filter (the pack's length) against every packed filter: hits
 * with Dice >= threshold, a = qid, sorted by b. out must have room for
 * wye_dice_pack_size(p) hits. st may be NULL; its counts are added to.
 * WYE_EINVAL for a threshold outside [0, 1]. */
WYE_API int wye_dice_pack_query(const wye_dice_pack *p, const uint64_t *q, uint32_t qid,
                                double threshold, wye_dice_hit *out, size_t *nout,
                                wye_dice_stats *st);

#endif
