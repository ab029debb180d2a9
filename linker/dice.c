/* Dice kernels: scalar, AVX2 and AVX-512 VPOPCNTDQ, chosen at run time.
 *
 * The kernels only count bits; every decision (Dice value, threshold test)
 * is taken from the integer counts by the same C code, so the three paths
 * agree bit for bit.
 *
 * A pack stores filters sorted by popcount in groups of 8, word-interleaved:
 * word w of the filter in lane l of group g is at groups[(g*words + w)*8 + l].
 * One query word is broadcast and ANDed with the same word of 8 filters at
 * once, so the 8 counts build up in the 8 lanes of one register and never
 * need a horizontal sum: on this project's machine that runs at about 1e9
 * comparisons of 1024-bit filters per second per core, where the one-pair-
 * at-a-time layout with a horizontal reduction manages about half that. */
#include "wyelink/dice.h"

#include <assert.h>
#include <immintrin.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define LANES 8

typedef struct raw_hit {
    uint32_t pos;   /* sorted position of the packed filter */
    uint32_t count; /* |q and filter| */
    uint32_t qi;    /* which query of the scan */
} raw_hit;

typedef struct scan_args {
    const uint64_t *q[2];
    uint32_t qpop[2];
    unsigned nq; /* 1 or 2 */
    const uint64_t *groups;
    size_t words;
    size_t g0, g1;       /* groups [g0, g1) */
    const uint32_t *gmin; /* smallest popcount in each group */
    const uint32_t *cmin; /* least count that can reach, by popcount sum */
} scan_args;

struct wye_dice_kernel {
    wye_dice_isa isa;
    uint32_t (*popcount)(const uint64_t *a, size_t words);
    uint32_t (*and_count)(const uint64_t *a, const uint64_t *b, size_t words);
    /* Count against groups [g0, g1); write raw hits whose count is at least
     * cmin[qpop + gmin[g]] (a lower bound of what a lane needs); returns
     * how many. out has room for (g1 - g0) * LANES * nq hits. */
    size_t (*scan)(const scan_args *a, raw_hit *out);
};

/* ---- scalar ------------------------------------------------------------ */

static inline uint32_t pop64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (uint32_t)((x * 0x0101010101010101ull) >> 56);
}

static uint32_t scalar_popcount(const uint64_t *a, size_t words)
{
    uint32_t c = 0;
    for (size_t w = 0; w < words; w++)
        c += pop64(a[w]);
    return c;
}

static uint32_t scalar_and_count(const uint64_t *a, const uint64_t *b, size_t words)
{
    uint32_t c = 0;
    for (size_t w = 0; w < words; w++)
        c += pop64(a[w] & b[w]);
    return c;
}

static size_t scalar_scan(const scan_args *a, raw_hit *out)
{
    size_t n = 0;
    for (size_t g = a->g0; g < a->g1; g++) {
        const uint64_t *c = a->groups + g * a->words * LANES;
        for (unsigned qi = 0; qi < a->nq; qi++) {
            uint32_t need = a->cmin[a->qpop[qi] + a->gmin[g]];
            for (unsigned l = 0; l < LANES; l++) {
                uint32_t cnt = 0;
                for (size_t w = 0; w < a->words; w++)
                    cnt += pop64(c[w * LANES + l] & a->q[qi][w]);
                if (cnt >= need)
                    out[n++] = (raw_hit){(uint32_t)(g * LANES + l), cnt, qi};
            }
        }
    }
    return n;
}

/* ---- AVX2 --------------------------------------------------------------- */

#define AVX2 __attribute__((target("avx2,popcnt")))

AVX2 static inline __m256i avx2_popcnt_bytes(__m256i v)
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1,
                                         1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m256i lo = _mm256_and_si256(v, low);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
    return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
}

AVX2 static inline uint32_t avx2_hsum(__m256i v)
{
    __m128i s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi64(s, _mm_unpackhi_epi64(s, s));
    return (uint32_t)_mm_cvtsi128_si64(s);
}

/* Byte counters hold at most 8 per word added, so flush every 31 words. */
#define AVX2_FLUSH 31

AVX2 static uint32_t avx2_popcount(const uint64_t *a, size_t words)
{
    __m256i acc = _mm256_setzero_si256(), bytes = _mm256_setzero_si256();
    size_t w = 0, k = 0;
    for (; w + 4 <= words; w += 4) {
        bytes = _mm256_add_epi8(bytes, avx2_popcnt_bytes(_mm256_loadu_si256((const __m256i *)(a + w))));
        if (++k == AVX2_FLUSH) {
            acc = _mm256_add_epi64(acc, _mm256_sad_epu8(bytes, _mm256_setzero_si256()));
            bytes = _mm256_setzero_si256();
            k = 0;
        }
    }
    acc = _mm256_add_epi64(acc, _mm256_sad_epu8(bytes, _mm256_setzero_si256()));
    uint32_t c = avx2_hsum(acc);
    for (; w < words; w++)
        c += (uint32_t)__builtin_popcountll(a[w]);
    return c;
}

AVX2 static uint32_t avx2_and_count(const uint64_t *a, const uint64_t *b, size_t words)
{
    __m256i acc = _mm256_setzero_si256(), bytes = _mm256_setzero_si256();
    size_t w = 0, k = 0;
    for (; w + 4 <= words; w += 4) {
        __m256i x = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(a + w)),
                                     _mm256_loadu_si256((const __m256i *)(b + w)));
        bytes = _mm256_add_epi8(bytes, avx2_popcnt_bytes(x));
        if (++k == AVX2_FLUSH) {
            acc = _mm256_add_epi64(acc, _mm256_sad_epu8(bytes, _mm256_setzero_si256()));
            bytes = _mm256_setzero_si256();
            k = 0;
        }
    }
    acc = _mm256_add_epi64(acc, _mm256_sad_epu8(bytes, _mm256_setzero_si256()));
    uint32_t c = avx2_hsum(acc);
    for (; w < words; w++)
        c += (uint32_t)__builtin_popcountll(a[w] & b[w]);
    return c;
}

/* Lanes 0-3 and 4-7 of a group are two 256-bit halves. */
AVX2 static size_t avx2_scan(const scan_args *a, raw_hit *out)
{
    size_t n = 0;
    const size_t words = a->words;
    const __m256i zero = _mm256_setzero_si256();
    for (size_t g = a->g0; g < a->g1; g++) {
        const uint64_t *c = a->groups + g * words * LANES;
        for (unsigned qi = 0; qi < a->nq; qi++) {
            const uint64_t *q = a->q[qi];
            __m256i acc_lo = zero, acc_hi = zero, b_lo = zero, b_hi = zero;
            unsigned k = 0;
            for (size_t w = 0; w < words; w++) {
                __m256i qv = _mm256_set1_epi64x((long long)q[w]);
                __m256i lo = _mm256_loadu_si256((const __m256i *)(c + w * LANES));
                __m256i hi = _mm256_loadu_si256((const __m256i *)(c + w * LANES + 4));
                b_lo = _mm256_add_epi8(b_lo, avx2_popcnt_bytes(_mm256_and_si256(lo, qv)));
                b_hi = _mm256_add_epi8(b_hi, avx2_popcnt_bytes(_mm256_and_si256(hi, qv)));
                if (++k == AVX2_FLUSH) {
                    acc_lo = _mm256_add_epi64(acc_lo, _mm256_sad_epu8(b_lo, zero));
                    acc_hi = _mm256_add_epi64(acc_hi, _mm256_sad_epu8(b_hi, zero));
                    b_lo = b_hi = zero;
                    k = 0;
                }
            }
            acc_lo = _mm256_add_epi64(acc_lo, _mm256_sad_epu8(b_lo, zero));
            acc_hi = _mm256_add_epi64(acc_hi, _mm256_sad_epu8(b_hi, zero));
            uint32_t need = a->cmin[a->qpop[qi] + a->gmin[g]];
            __m256i nv = _mm256_set1_epi64x((long long)need - 1);
            /* counts are small, so a signed compare is exact */
            int m = _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(acc_lo, nv))) |
                    _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(acc_hi, nv))) << 4;
            if (m) {
                uint64_t cnt[LANES];
                _mm256_storeu_si256((__m256i *)cnt, acc_lo);
                _mm256_storeu_si256((__m256i *)(cnt + 4), acc_hi);
                for (unsigned l = 0; l < LANES; l++)
                    if (m & (1 << l))
                        out[n++] = (raw_hit){(uint32_t)(g * LANES + l), (uint32_t)cnt[l], qi};
            }
        }
    }
    return n;
}

/* ---- AVX-512 VPOPCNTDQ -------------------------------------------------- */

#define AVX512 __attribute__((target("avx512f,avx512vpopcntdq")))

AVX512 static uint32_t avx512_popcount(const uint64_t *a, size_t words)
{
    __m512i acc = _mm512_setzero_si512();
    size_t w = 0;
    for (; w + 8 <= words; w += 8)
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_loadu_si512(a + w)));
    if (w < words) {
        __mmask8 m = (__mmask8)((1u << (words - w)) - 1);
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_maskz_loadu_epi64(m, a + w)));
    }
    return (uint32_t)_mm512_reduce_add_epi64(acc);
}

AVX512 static uint32_t avx512_and_count(const uint64_t *a, const uint64_t *b, size_t words)
{
    __m512i acc = _mm512_setzero_si512();
    size_t w = 0;
    for (; w + 8 <= words; w += 8)
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_and_si512(
                                        _mm512_loadu_si512(a + w), _mm512_loadu_si512(b + w))));
    if (w < words) {
        __mmask8 m = (__mmask8)((1u << (words - w)) - 1);
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_and_si512(
                                        _mm512_maskz_loadu_epi64(m, a + w),
                                        _mm512_maskz_loadu_epi64(m, b + w))));
    }
    return (uint32_t)_mm512_reduce_add_epi64(acc);
}

AVX512 static inline size_t avx512_emit(__m512i acc, uint32_t need, size_t g, unsigned qi,
                                        raw_hit *out, size_t n)
{
    __mmask8 m = _mm512_cmpge_epu64_mask(acc, _mm512_set1_epi64((long long)need));
    if (m) {
        uint64_t cnt[LANES];
        _mm512_storeu_si512(cnt, acc);
        for (unsigned l = 0; l < LANES; l++)
            if (m & (1u << l))
                out[n++] = (raw_hit){(uint32_t)(g * LANES + l), (uint32_t)cnt[l], qi};
    }
    return n;
}

AVX512 static size_t avx512_scan(const scan_args *a, raw_hit *out)
{
    size_t n = 0;
    const size_t words = a->words;
    if (a->nq == 2) {
        const uint64_t *q0 = a->q[0], *q1 = a->q[1];
        for (size_t g = a->g0; g < a->g1; g++) {
            const uint64_t *c = a->groups + g * words * LANES;
            __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
            for (size_t w = 0; w < words; w++) {
                __m512i cv = _mm512_loadu_si512(c + w * LANES);
                acc0 = _mm512_add_epi64(acc0, _mm512_popcnt_epi64(_mm512_and_si512(
                                                  cv, _mm512_set1_epi64((long long)q0[w]))));
                acc1 = _mm512_add_epi64(acc1, _mm512_popcnt_epi64(_mm512_and_si512(
                                                  cv, _mm512_set1_epi64((long long)q1[w]))));
            }
            n = avx512_emit(acc0, a->cmin[a->qpop[0] + a->gmin[g]], g, 0, out, n);
            n = avx512_emit(acc1, a->cmin[a->qpop[1] + a->gmin[g]], g, 1, out, n);
        }
    } else {
        const uint64_t *q0 = a->q[0];
        for (size_t g = a->g0; g < a->g1; g++) {
            const uint64_t *c = a->groups + g * words * LANES;
            __m512i acc0 = _mm512_setzero_si512();
            for (size_t w = 0; w < words; w++)
                acc0 = _mm512_add_epi64(acc0, _mm512_popcnt_epi64(_mm512_and_si512(
                                                  _mm512_loadu_si512(c + w * LANES),
                                                  _mm512_set1_epi64((long long)q0[w]))));
            n = avx512_emit(acc0, a->cmin[a->qpop[0] + a->gmin[g]], g, 0, out, n);
        }
    }
    return n;
}

/* ---- dispatch ----------------------------------------------------------- */

static const wye_dice_kernel kernels[] = {
    {WYE_DICE_SCALAR, scalar_popcount, scalar_and_count, scalar_scan},
    {WYE_DICE_AVX2, avx2_popcount, avx2_and_count, avx2_scan},
    {WYE_DICE_AVX512, avx512_popcount, avx512_and_count, avx512_scan},
};

static bool isa_available(wye_dice_isa isa)
{
    /* libgcc's CPU model also checks that the OS saves the wide registers. */
    __builtin_cpu_init();
    switch (isa) {
    case WYE_DICE_SCALAR:
        return true;
    case WYE_DICE_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
    case WYE_DICE_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq");
    default:
        return false;
    }
}

int wye_dice_kernel_get(wye_dice_isa isa, const wye_dice_kernel **out)
{
    if (!out)
        return WYE_EINVAL;
    if (isa == WYE_DICE_AUTO) {
        isa = isa_available(WYE_DICE_AVX512) ? WYE_DICE_AVX512
              : isa_available(WYE_DICE_AVX2) ? WYE_DICE_AVX2
                                              : WYE_DICE_SCALAR;
    }
    if (isa < WYE_DICE_SCALAR || isa > WYE_DICE_AVX512)
        return WYE_EINVAL;
    if (!isa_available(isa))
        return WYE_ENOTFOUND;
    *out = &kernels[isa - WYE_DICE_SCALAR];
    return WYE_OK;
}

wye_dice_isa wye_dice_kernel_isa(const wye_dice_kernel *k)
{
    return k->isa;
}

const char *wye_dice_isa_name(wye_dice_isa isa)
{
    switch (isa) {
    case WYE_DICE_AUTO:
        return "auto";
    case WYE_DICE_SCALAR:
        return "scalar";
    case WYE_DICE_AVX2:
        return "avx2";
    case WYE_DICE_AVX512:
        return "avx512";
    }
    return "unknown";
}

uint32_t wye_dice_popcount(const wye_dice_kernel *k, const uint64_t *a, size_t words)
{
    return k->popcount(a, words);
}

uint32_t wye_dice_and_count(const wye_dice_kernel *k, const uint64_t *a, const uint64_t *b,
                            size_t words)
{
    return k->and_count(a, b, words);
}

/* ---- the coefficient and the bounds ------------------------------------- */

static double coeff_sum(uint64_t common, uint64_t sum)
{
    return sum ? 2.0 * (double)common / (double)sum : 0.0;
}

double wye_dice_coeff(uint32_t common, uint32_t pa, uint32_t pb)
{
    return coeff_sum(common, (uint64_t)pa + pb);
}

double wye_dice(const wye_dice_kernel *k, const uint64_t *a, const uint64_t *b, size_t words)
{
    return wye_dice_coeff(k->and_count(a, b, words), k->popcount(a, words),
                          k->popcount(b, words));
}

bool wye_dice_can_reach(uint32_t pa, uint32_t pb, double threshold)
{
    return wye_dice_coeff(pa < pb ? pa : pb, pa, pb) >= threshold;
}

/* cmin[s] = the least count c with coeff_sum(c, s) >= t, for s = 0..2*bits;
 * bits + 1 (more than any count) when none. coeff_sum is increasing in c and
 * decreasing in s, so cmin is non-decreasing in s. */
static uint32_t *cmin_table(uint32_t bits, double t)
{
    size_t len = 2 * (size_t)bits + 1;
    uint32_t *cm = malloc(len * sizeof *cm);
    if (!cm)
        return NULL;
    for (size_t s = 0; s < len; s++) {
        uint64_t c = (uint64_t)(t * (double)s / 2.0);
        while (c > 0 && coeff_sum(c - 1, s) >= t)
            c--;
        while (c <= s && coeff_sum(c, s) < t)
            c++;
        cm[s] = c <= bits ? (uint32_t)c : bits + 1;
    }
    return cm;
}

/* ---- packs -------------------------------------------------------------- */

struct wye_dice_pack {
    const wye_dice_kernel *k;
    size_t n, words, ngroups;
    uint32_t bits;
    uint64_t *groups;  /* ngroups * words * LANES, 64-byte aligned */
    uint32_t *order;   /* sorted position -> caller's index */
    uint32_t *pops;    /* popcount by sorted position (pads: the last real one) */
    uint32_t *gmin;    /* smallest popcount per group */
    uint32_t *pop_by_index;
};

void wye_dice_pack_free(wye_dice_pack *p)
{
    if (!p)
        return;
    free(p->groups);
    free(p->order);
    free(p->pops);
    free(p->gmin);
    free(p->pop_by_index);
    free(p);
}

int wye_dice_pack_new(const wye_dice_kernel *k, const uint64_t *filters, size_t stride,
                      size_t words, size_t n, wye_dice_pack **out)
{
    if (!k || !out || (!filters && n) || words == 0 || stride < words ||
        n > UINT32_MAX - LANES || words > UINT32_MAX / 128)
        return WYE_EINVAL;
    *out = NULL;
    wye_dice_pack *p = calloc(1, sizeof *p);
    if (!p)
        return WYE_ENOMEM;
    p->k = k;
    p->n = n;
    p->words = words;
    p->bits = (uint32_t)(words * 64);
    p->ngroups = (n + LANES - 1) / LANES;
    size_t gwords = words * LANES;
    size_t bytes = p->ngroups * gwords * sizeof(uint64_t);
    if (p->ngroups && bytes / p->ngroups / sizeof(uint64_t) != gwords) {
        free(p);
        return WYE_ENOMEM;
    }
    size_t slots = p->ngroups * LANES;
    p->groups = bytes ? aligned_alloc(64, (bytes + 63) & ~(size_t)63) : NULL;
    p->order = malloc((slots + 1) * sizeof *p->order);
    p->pops = malloc((slots + 1) * sizeof *p->pops);
    p->gmin = malloc((p->ngroups + 1) * sizeof *p->gmin);
    p->pop_by_index = malloc((n + 1) * sizeof *p->pop_by_index);
    uint64_t *bucket = calloc((size_t)p->bits + 2, sizeof *bucket);
    if ((bytes && !p->groups) || !p->order || !p->pops || !p->gmin || !p->pop_by_index ||
        !bucket) {
        free(bucket);
        wye_dice_pack_free(p);
        return WYE_ENOMEM;
    }
    /* counting sort by popcount, stable: ties keep the caller's order */
    for (size_t i = 0; i < n; i++) {
        uint32_t c = k->popcount(filters + i * stride, words);
        p->pop_by_index[i] = c;
        bucket[c + 1]++;
    }
    for (uint32_t b = 1; b <= p->bits + 1; b++)
        bucket[b] += bucket[b - 1];
    for (size_t i = 0; i < n; i++)
        p->order[bucket[p->pop_by_index[i]]++] = (uint32_t)i;
    free(bucket);
    if (bytes)
        memset(p->groups, 0, bytes);
    for (size_t pos = 0; pos < n; pos++) {
        const uint64_t *f = filters + (size_t)p->order[pos] * stride;
        uint64_t *g = p->groups + (pos / LANES) * gwords + pos % LANES;
        for (size_t w = 0; w < words; w++)
            g[w * LANES] = f[w];
        p->pops[pos] = p->pop_by_index[p->order[pos]];
    }
    for (size_t pos = n; pos < slots; pos++) {
        p->order[pos] = UINT32_MAX;
        p->pops[pos] = n ? p->pops[n - 1] : 0;
    }
    for (size_t g = 0; g < p->ngroups; g++)
        p->gmin[g] = p->pops[g * LANES];
    *out = p;
    return WYE_OK;
}

size_t wye_dice_pack_size(const wye_dice_pack *p)
{
    return p->n;
}

uint32_t wye_dice_pack_pop(const wye_dice_pack *p, size_t i)
{
    assert(i < p->n);
    return p->pop_by_index[i];
}

/* First sorted position in [lo, hi) whose popcount pb (>= pa, ascending)
 * can no longer reach t with pa: the admissible set is a range because
 * 2 pa / (pa + pb) falls as pb grows. */
static size_t reach_end(const wye_dice_pack *p, size_t lo, size_t hi, uint32_t pa, double t)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (wye_dice_can_reach(pa, p->pops[mid], t))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* First sorted position whose popcount pb can reach t with pa, searching
 * the positions with pb <= pa (ascending: 2 pb / (pa + pb) rises). */
static size_t reach_begin(const wye_dice_pack *p, size_t lo, size_t hi, uint32_t pa, double t)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->pops[mid] <= pa && !wye_dice_can_reach(pa, p->pops[mid], t))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

typedef struct hitvec {
    wye_dice_hit *v;
    size_t n, cap;
} hitvec;

static int hitvec_push(hitvec *h, wye_dice_hit x)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 256;
        wye_dice_hit *v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return WYE_ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n++] = x;
    return WYE_OK;
}

static int raw_reserve(raw_hit **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return WYE_OK;
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    raw_hit *b = realloc(*buf, c * sizeof *b);
    if (!b)
        return WYE_ENOMEM;
    *buf = b;
    *cap = c;
    return WYE_OK;
}

static int cmp_hit(const void *x, const void *y)
{
    const wye_dice_hit *a = x, *b = y;
    if (a->a != b->a)
        return a->a < b->a ? -1 : 1;
    if (a->b != b->b)
        return a->b < b->b ? -1 : 1;
    return 0;
}

/* Queries per chunk of work, and the bytes of packed filters scanned by a
 * chunk's queries before moving on (kept in the core's L2 cache). Both fix
 * the work split, which never depends on the thread count. */
#define CHUNK_QUERIES 64
#define BLOCK_BYTES (192 * 1024)

static int all_pairs_chunk(const wye_dice_pack *p, const uint32_t *cmin, double t,
                           size_t qbeg, size_t qend, hitvec *hv, uint64_t *compared)
{
    size_t end[CHUNK_QUERIES];
    size_t lo = SIZE_MAX, hi = 0;
    for (size_t i = qbeg; i < qend; i++) {
        end[i - qbeg] = reach_end(p, i + 1, p->n, p->pops[i], t);
        if (end[i - qbeg] > i + 1) {
            if (i + 1 < lo)
                lo = i + 1;
            if (end[i - qbeg] > hi)
                hi = end[i - qbeg];
        }
    }
    if (lo >= hi)
        return WYE_OK;
    size_t gwords = p->words * LANES;
    size_t bg = BLOCK_BYTES / (gwords * sizeof(uint64_t));
    if (bg == 0)
        bg = 1;
    /* the chunk's queries, unpacked from their groups into contiguous words */
    uint64_t *qbuf = malloc((qend - qbeg) * p->words * sizeof *qbuf);
    if (!qbuf)
        return WYE_ENOMEM;
    for (size_t pos = qbeg; pos < qend; pos++) {
        const uint64_t *g = p->groups + (pos / LANES) * gwords + pos % LANES;
        for (size_t w = 0; w < p->words; w++)
            qbuf[(pos - qbeg) * p->words + w] = g[w * LANES];
    }
    raw_hit *raw = NULL;
    size_t rawcap = 0;
    int rc = WYE_OK;
    for (size_t b0 = lo / LANES; b0 * LANES < hi && rc == WYE_OK; b0 += bg) {
        size_t b1 = b0 + bg;
        for (size_t i = qbeg; i < qend && rc == WYE_OK; i += 2) {
            /* a pair of queries shares one pass over the groups */
            unsigned nq = i + 1 < qend ? 2 : 1;
            size_t s = i + 1, e = end[i - qbeg];
            if (nq == 2 && end[i + 1 - qbeg] > e)
                e = end[i + 1 - qbeg];
            size_t g0 = s / LANES, g1 = (e + LANES - 1) / LANES;
            if (g0 < b0)
                g0 = b0;
            if (g1 > b1)
                g1 = b1;
            if (g0 >= g1)
                continue;
            for (unsigned qi = 0; qi < nq; qi++) {
                size_t from = i + qi + 1, to = end[i + qi - qbeg];
                if (from < g0 * LANES)
                    from = g0 * LANES;
                if (to > g1 * LANES)
                    to = g1 * LANES;
                if (to > from)
                    *compared += to - from;
            }
            if ((rc = raw_reserve(&raw, &rawcap, (g1 - g0) * LANES * nq)) != WYE_OK)
                break;
            scan_args a = {
                .q = {qbuf + (i - qbeg) * p->words, qbuf + (i + nq - 1 - qbeg) * p->words},
                .qpop = {p->pops[i], p->pops[i + nq - 1]}, .nq = nq, .groups = p->groups,
                .words = p->words, .g0 = g0, .g1 = g1, .gmin = p->gmin, .cmin = cmin,
            };
            size_t nr = p->k->scan(&a, raw);
            for (size_t r = 0; r < nr && rc == WYE_OK; r++) {
                size_t qpos = i + raw[r].qi, pos = raw[r].pos;
                if (pos <= qpos || pos >= end[qpos - qbeg])
                    continue;
                uint32_t pa = p->pops[qpos], pb = p->pops[pos];
                if (wye_dice_coeff(raw[r].count, pa, pb) < t)
                    continue;
                uint32_t ia = p->order[qpos], ib = p->order[pos];
                wye_dice_hit h = {ia < ib ? ia : ib, ia < ib ? ib : ia, raw[r].count, pa + pb};
                rc = hitvec_push(hv, h);
            }
        }
    }
    free(raw);
    free(qbuf);
    return rc;
}

int wye_dice_all_pairs(const wye_dice_pack *p, double threshold, unsigned threads,
                       wye_dice_hit **hits, size_t *nhits, wye_dice_stats *st)
{
    if (!p || !hits || !nhits || !(threshold >= 0.0 && threshold <= 1.0))
        return WYE_EINVAL;
    *hits = NULL;
    *nhits = 0;
    uint32_t *cmin = cmin_table(p->bits, threshold);
    size_t nchunks = (p->n + CHUNK_QUERIES - 1) / CHUNK_QUERIES;
    hitvec *hv = calloc(nchunks + 1, sizeof *hv);
    uint64_t *comp = calloc(nchunks + 1, sizeof *comp);
    if (!cmin || !hv || !comp) {
        free(cmin);
        free(hv);
        free(comp);
        return WYE_ENOMEM;
    }
    int nt = threads ? (int)threads : omp_get_num_procs();
    int err = WYE_OK;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (size_t c = 0; c < nchunks; c++) {
        size_t qb = c * CHUNK_QUERIES, qe = qb + CHUNK_QUERIES;
        if (qe > p->n)
            qe = p->n;
        int rc = all_pairs_chunk(p, cmin, threshold, qb, qe, &hv[c], &comp[c]);
        if (rc != WYE_OK) {
#pragma omp atomic write
            err = rc;
        }
    }
    free(cmin);
    size_t total = 0;
    uint64_t compared = 0;
    for (size_t c = 0; c < nchunks; c++) {
        total += hv[c].n;
        compared += comp[c];
    }
    wye_dice_hit *all = NULL;
    if (err == WYE_OK && total) {
        all = malloc(total * sizeof *all);
        if (!all)
            err = WYE_ENOMEM;
    }
    if (err == WYE_OK) {
        size_t k = 0;
        for (size_t c = 0; c < nchunks; c++) {
            if (hv[c].n)
                memcpy(all + k, hv[c].v, hv[c].n * sizeof *all);
            k += hv[c].n;
        }
        if (total)
            qsort(all, total, sizeof *all, cmp_hit);
    }
    for (size_t c = 0; c < nchunks; c++)
        free(hv[c].v);
    free(hv);
    free(comp);
    if (err != WYE_OK) {
        free(all);
        return err;
    }
    if (st) {
        st->pairs += (uint64_t)p->n * (p->n ? p->n - 1 : 0) / 2;
        st->compared += compared;
        st->pruned += (uint64_t)p->n * (p->n ? p->n - 1 : 0) / 2 - compared;
        st->hits += total;
    }
    *hits = all;
    *nhits = total;
    return WYE_OK;
}

int wye_dice_pack_query(const wye_dice_pack *p, const uint64_t *q, uint32_t qid,
                        double threshold, wye_dice_hit *out, size_t *nout, wye_dice_stats *st)
{
    if (!p || !q || !out || !nout || !(threshold >= 0.0 && threshold <= 1.0))
        return WYE_EINVAL;
    *nout = 0;
    uint32_t qpop = p->k->popcount(q, p->words);
    size_t s = reach_begin(p, 0, p->n, qpop, threshold);
    /* positions with pb <= qpop are all admissible from s on; past them,
     * admissible while 2 qpop / (qpop + pb) reaches */
    size_t le = s;
    while (le < p->n && p->pops[le] <= qpop)
        le++;
    size_t e = reach_end(p, le, p->n, qpop, threshold);
    if (st) {
        st->pairs += p->n;
        st->compared += e - s;
        st->pruned += p->n - (e - s);
    }
    if (s >= e)
        return WYE_OK;
    uint32_t *cmin = cmin_table(p->bits, threshold);
    raw_hit *raw = NULL;
    size_t rawcap = 0;
    size_t g0 = s / LANES, g1 = (e + LANES - 1) / LANES;
    if (!cmin || raw_reserve(&raw, &rawcap, (g1 - g0) * LANES) != WYE_OK) {
        free(cmin);
        free(raw);
        return WYE_ENOMEM;
    }
    scan_args a = {
        .q = {q, q}, .qpop = {qpop, qpop}, .nq = 1, .groups = p->groups, .words = p->words,
        .g0 = g0, .g1 = g1, .gmin = p->gmin, .cmin = cmin,
    };
    size_t nr = p->k->scan(&a, raw);
    size_t n = 0;
    for (size_t r = 0; r < nr; r++) {
        size_t pos = raw[r].pos;
        if (pos < s || pos >= e)
            continue;
        if (wye_dice_coeff(raw[r].count, qpop, p->pops[pos]) < threshold)
            continue;
        out[n++] = (wye_dice_hit){qid, p->order[pos], raw[r].count, qpop + p->pops[pos]};
    }
    free(cmin);
    free(raw);
    qsort(out, n, sizeof *out, cmp_hit);
    if (st)
        st->hits += n;
    *nout = n;
    return WYE_OK;
}
