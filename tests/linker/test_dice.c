/* Dice kernels: known answers, every kernel against the scalar one bit for
 * bit, and pruning that never drops a pair at or above the threshold. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "wyelink/dice.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A word whose bits are set with probability about num/16. */
static uint64_t rnd_word(unsigned num)
{
    uint64_t w = 0;
    for (int b = 0; b < 64; b++)
        if ((rnd() & 15) < num)
            w |= 1ull << b;
    return w;
}

static const wye_dice_kernel *kernel(wye_dice_isa isa)
{
    const wye_dice_kernel *k = NULL;
    int rc = wye_dice_kernel_get(isa, &k);
    if (rc == WYE_ENOTFOUND)
        return NULL;
    cr_assert_eq(rc, WYE_OK);
    return k;
}

Test(dice, known_values)
{
    const wye_dice_kernel *k = kernel(WYE_DICE_SCALAR);
    uint64_t a[16] = {0}, b[16] = {0};
    a[0] = 0x0f; /* bits 0-3 */
    b[0] = 0x3c; /* bits 2-5 */
    cr_assert_eq(wye_dice_and_count(k, a, b, 16), 2);
    cr_assert_eq(wye_dice(k, a, b, 16), 0.5);
    /* both empty: no evidence */
    uint64_t z[16] = {0}, o[16], one[16] = {0};
    memset(o, 0xff, sizeof o);
    one[15] = 1ull << 63;
    cr_assert_eq(wye_dice(k, z, z, 16), 0.0);
    cr_assert_eq(wye_dice(k, o, o, 16), 1.0);
    cr_assert_eq(wye_dice(k, o, one, 16), 2.0 / 1025.0);
    cr_assert_eq(wye_dice(k, one, one, 16), 1.0);
    cr_assert_eq(wye_dice(k, z, one, 16), 0.0);
    cr_assert_eq(wye_dice_coeff(3, 4, 5), 6.0 / 9.0);
    cr_assert(wye_dice_can_reach(4, 4, 1.0));
    cr_assert(!wye_dice_can_reach(4, 5, 1.0));
    cr_assert(wye_dice_can_reach(8, 12, 0.8));   /* 16/20 */
    cr_assert(!wye_dice_can_reach(8, 13, 0.8));  /* 16/21 */
    cr_assert_str_eq(wye_dice_isa_name(WYE_DICE_AVX512), "avx512");
    cr_assert_eq(wye_dice_kernel_get((wye_dice_isa)9, &k), WYE_EINVAL);
}

/* Every available kernel counts exactly as the scalar one, for lengths
 * that exercise full vectors, tails and byte-counter flushes. */
Test(dice, kernels_agree_with_scalar)
{
    const wye_dice_kernel *s = kernel(WYE_DICE_SCALAR);
    const wye_dice_isa isas[] = {WYE_DICE_AVX2, WYE_DICE_AVX512, WYE_DICE_AUTO};
    const size_t lens[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 130};
    uint64_t a[130], b[130];
    unsigned tested = 0;
    for (size_t ki = 0; ki < 3; ki++) {
        const wye_dice_kernel *k = kernel(isas[ki]);
        if (!k)
            continue;
        tested++;
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            size_t n = lens[li];
            for (unsigned dens = 0; dens <= 16; dens += 2) {
                for (int rep = 0; rep < 6; rep++) {
                    for (size_t w = 0; w < n; w++) {
                        a[w] = rnd_word(dens);
                        b[w] = rnd_word(16 - dens / 2);
                    }
                    if (rep == 4) { /* one bit against anything */
                        memset(b, 0, n * sizeof *b);
                        b[n - 1] = 1ull << 63;
                    }
                    if (rep == 5) { /* all ones */
                        memset(a, 0xff, n * sizeof *a);
                    }
                    cr_assert_eq(wye_dice_popcount(k, a, n), wye_dice_popcount(s, a, n));
                    cr_assert_eq(wye_dice_popcount(k, b, n), wye_dice_popcount(s, b, n));
                    cr_assert_eq(wye_dice_and_count(k, a, b, n), wye_dice_and_count(s, a, b, n),
                                 "%s, %zu words", wye_dice_isa_name(isas[ki]), n);
                    double dk = wye_dice(k, a, b, n), ds = wye_dice(s, a, b, n);
                    cr_assert(memcmp(&dk, &ds, sizeof dk) == 0);
                }
            }
        }
    }
    cr_assert(tested >= 1);
    /* all-one filters: the byte counters must not overflow */
    memset(a, 0xff, sizeof a);
    for (size_t ki = 0; ki < 3; ki++) {
        const wye_dice_kernel *k = kernel(isas[ki]);
        if (k) {
            cr_assert_eq(wye_dice_popcount(k, a, 130), 130 * 64);
            cr_assert_eq(wye_dice_and_count(k, a, a, 130), 130 * 64);
        }
    }
}

/* n filters of `words` words with popcounts spread out (so that pruning has
 * something to prune), near-duplicates among them (so there are hits). */
static uint64_t *make_filters(size_t n, size_t words)
{
    uint64_t *f = malloc(n * words * sizeof *f);
    cr_assert(f);
    for (size_t i = 0; i < n; i++) {
        if (i % 5 == 4) { /* a copy of the previous filter with a few bits moved */
            memcpy(f + i * words, f + (i - 1) * words, words * sizeof *f);
            for (int k = 0; k < 3; k++)
                f[i * words + rnd() % words] ^= 1ull << (rnd() % 64);
            continue;
        }
        unsigned dens = 1 + (unsigned)(i % 9);
        for (size_t w = 0; w < words; w++)
            f[i * words + w] = rnd_word(dens);
    }
    if (n > 3) {
        memset(f, 0, words * sizeof *f);                 /* all zero */
        memset(f + words, 0xff, words * sizeof *f);      /* all one */
        memset(f + 2 * words, 0, words * sizeof *f);     /* one bit */
        f[2 * words] = 1;
    }
    return f;
}

/* Brute force with the scalar kernel, no pruning. */
static size_t brute(const uint64_t *f, size_t n, size_t words, double t, wye_dice_hit *out)
{
    const wye_dice_kernel *s = kernel(WYE_DICE_SCALAR);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            uint32_t c = wye_dice_and_count(s, f + i * words, f + j * words, words);
            uint32_t pa = wye_dice_popcount(s, f + i * words, words);
            uint32_t pb = wye_dice_popcount(s, f + j * words, words);
            if (wye_dice_coeff(c, pa, pb) >= t)
                out[m++] = (wye_dice_hit){(uint32_t)i, (uint32_t)j, c, pa + pb};
        }
    return m;
}

static void check_all_pairs(size_t n, size_t words, double t)
{
    uint64_t *f = make_filters(n, words);
    wye_dice_hit *want = malloc((n * n / 2 + 1) * sizeof *want);
    size_t nwant = brute(f, n, words, t, want);
    const wye_dice_isa isas[] = {WYE_DICE_SCALAR, WYE_DICE_AVX2, WYE_DICE_AVX512};
    for (size_t ki = 0; ki < 3; ki++) {
        const wye_dice_kernel *k = kernel(isas[ki]);
        if (!k)
            continue;
        wye_dice_pack *p = NULL;
        cr_assert_eq(wye_dice_pack_new(k, f, words, words, n, &p), WYE_OK);
        for (unsigned threads = 1; threads <= 2; threads++) {
            wye_dice_hit *h = NULL;
            size_t nh = 0;
            wye_dice_stats st = {0};
            cr_assert_eq(wye_dice_all_pairs(p, t, threads, &h, &nh, &st), WYE_OK);
            cr_assert_eq(nh, nwant, "%s n=%zu words=%zu t=%g: %zu hits, want %zu",
                         wye_dice_isa_name(isas[ki]), n, words, t, nh, nwant);
            cr_assert(nh == 0 || memcmp(h, want, nh * sizeof *h) == 0);
            cr_assert_eq(st.pairs, (uint64_t)n * (n ? n - 1 : 0) / 2);
            cr_assert_eq(st.compared + st.pruned, st.pairs);
            cr_assert_eq(st.hits, nh);
            if (t >= 0.8 && n >= 100)
                cr_assert(st.pruned > 0, "popcount pruning skipped nothing");
            free(h);
        }
        /* one query against the pack: the same pairs, seen from one side */
        wye_dice_hit *qh = malloc((n + 1) * sizeof *qh);
        for (size_t i = 0; i < n; i += 7) {
            size_t nq = 0;
            cr_assert_eq(wye_dice_pack_query(p, f + i * words, (uint32_t)i, t, qh, &nq, NULL),
                         WYE_OK);
            size_t expect = 0;
            for (size_t w = 0; w < nwant; w++)
                expect += want[w].a == i || want[w].b == i;
            /* the query also meets itself when its Dice with itself reaches t */
            uint32_t pi = wye_dice_pack_pop(p, i);
            expect += wye_dice_coeff(pi, pi, pi) >= t;
            cr_assert_eq(nq, expect, "query %zu", i);
            for (size_t w = 1; w < nq; w++)
                cr_assert(qh[w - 1].b < qh[w].b);
        }
        free(qh);
        wye_dice_pack_free(p);
    }
    free(want);
    free(f);
}

Test(dice, all_pairs_match_brute_force)
{
    check_all_pairs(0, 16, 0.5);
    check_all_pairs(1, 16, 0.5);
    check_all_pairs(9, 16, 0.0); /* every pair, partial group */
    check_all_pairs(300, 16, 0.8);
    check_all_pairs(300, 16, 1.0);
    check_all_pairs(257, 3, 0.7);
    check_all_pairs(211, 33, 0.85);
    check_all_pairs(600, 4, 0.9);
}

Test(dice, rejects_bad_arguments)
{
    const wye_dice_kernel *k = kernel(WYE_DICE_AUTO);
    uint64_t f[4] = {1, 2, 3, 4};
    wye_dice_pack *p = NULL;
    cr_assert_eq(wye_dice_pack_new(k, f, 1, 2, 2, &p), WYE_EINVAL);
    cr_assert_eq(wye_dice_pack_new(k, f, 2, 0, 2, &p), WYE_EINVAL);
    cr_assert_eq(wye_dice_pack_new(k, f, 2, 2, 2, &p), WYE_OK);
    wye_dice_hit *h;
    size_t nh;
    cr_assert_eq(wye_dice_all_pairs(p, 1.5, 1, &h, &nh, NULL), WYE_EINVAL);
    cr_assert_eq(wye_dice_all_pairs(p, -0.1, 1, &h, &nh, NULL), WYE_EINVAL);
    wye_dice_pack_free(p);
    wye_dice_pack_free(NULL);
}
