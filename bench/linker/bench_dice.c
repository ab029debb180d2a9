/* Dice kernel benchmark: all pairs of n random 1024-bit filters, on 1 and 2
 * threads, for every kernel this CPU runs. Prints comparisons per second.
 *
 *   bench_dice [N [BITS [THRESHOLD [KERNEL]]]]   (default 65536 1024 0.9 all)
 *
 * KERNEL is scalar, avx2, avx512 or all.
 *
 * Filters have about half their bits set, so their popcounts are close and
 * nothing is pruned: every pair is compared and counted. Each figure is the
 * best of three runs (one for the slow scalar kernel). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wyelink/dice.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 65536;
    size_t bits = argc > 2 ? strtoull(argv[2], NULL, 10) : 1024;
    double t = argc > 3 ? strtod(argv[3], NULL) : 0.9;
    const char *only = argc > 4 ? argv[4] : "all";
    if (n < 2 || bits < 64 || bits % 64 || !(t >= 0 && t <= 1)) {
        fprintf(stderr, "usage: bench_dice [N [BITS [THRESHOLD [KERNEL]]]]\n");
        return 2;
    }
    size_t words = bits / 64;
    uint64_t *f = malloc(n * words * sizeof *f);
    if (!f)
        return 1;
    uint64_t seed = 42;
    for (size_t i = 0; i < n * words; i++)
        f[i] = splitmix(&seed);
    printf("all pairs of %zu filters of %zu bits, threshold %g: %.3g pairs\n", n, bits, t,
           (double)n * (double)(n - 1) / 2);
    const wye_dice_isa isas[] = {WYE_DICE_SCALAR, WYE_DICE_AVX2, WYE_DICE_AVX512};
    for (size_t ki = 0; ki < 3; ki++) {
        if (strcmp(only, "all") && strcmp(only, wye_dice_isa_name(isas[ki])))
            continue;
        const wye_dice_kernel *k;
        if (wye_dice_kernel_get(isas[ki], &k) != WYE_OK) {
            printf("%-7s not available on this CPU\n", wye_dice_isa_name(isas[ki]));
            continue;
        }
        wye_dice_pack *p;
        if (wye_dice_pack_new(k, f, words, words, n, &p) != WYE_OK)
            return 1;
        for (unsigned threads = 1; threads <= 2; threads++) {
            /* the best of three runs: the machine is shared */
            double best = 1e30;
            wye_dice_stats st = {0};
            size_t nh = 0;
            for (int rep = 0; rep < (isas[ki] == WYE_DICE_SCALAR ? 1 : 3); rep++) {
                wye_dice_hit *h;
                wye_dice_stats s1 = {0};
                double t0 = now();
                if (wye_dice_all_pairs(p, t, threads, &h, &nh, &s1) != WYE_OK)
                    return 1;
                double dt = now() - t0;
                free(h);
                if (dt < best) {
                    best = dt;
                    st = s1;
                }
            }
            printf("%-7s %u thread%s %7.3f s  %8.1f million comparisons/s  (%llu compared, "
                   "%llu pruned, %zu hits)\n",
                   wye_dice_isa_name(isas[ki]), threads, threads > 1 ? "s" : " ", best,
                   (double)st.compared / best / 1e6, (unsigned long long)st.compared,
                   (unsigned long long)st.pruned, nh);
        }
        wye_dice_pack_free(p);
    }
    free(f);
    return 0;
}
