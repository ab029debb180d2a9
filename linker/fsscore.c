/* Fellegi-Sunter scoring: comparison levels, patterns, EM, weights. */
#include "wyelink/fsscore.h"

#include <assert.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Probabilities never reach 0 or 1, so every weight is finite. */
#define P_FLOOR 1e-9
/* A small prior count per level in the M step (keeps rare levels off 0). */
#define EM_PRIOR 1e-3

struct wye_fs {
    const wye_protocol *p;
    const wye_layout *lay;
    wye_fs_params prm;
    size_t nc;
    wye_fs_comparison c[WYE_FS_MAX_COMPARISONS];
    uint32_t mult[WYE_FS_MAX_COMPARISONS]; /* mixed-radix place values */
    uint32_t npatterns;
    double m[WYE_FS_MAX_COMPARISONS][WYE_FS_MAX_LEVELS];
    double u[WYE_FS_MAX_COMPARISONS][WYE_FS_MAX_LEVELS];
    double lambda;
    double *weight; /* by pattern */
    double *bound;  /* by pattern: weight plus the largest possible adjustments */
    double maxadj[WYE_FS_MAX_COMPARISONS]; /* largest adjustment of any record */
    float *tfadj;   /* tfadj[i * nc + c]: adjustment of record i's value */
    /* need[c][3 s + k]: least common count reaching band k (exact, close,
     * partial) at popcount sum s; cross_need[c][s] likewise for cross_min.
     * Integer tests equal to comparing wye_dice_coeff with the band. */
    uint32_t *need[WYE_FS_MAX_COMPARISONS];
    uint32_t *cross_need[WYE_FS_MAX_COMPARISONS];
    bool popcnt;    /* use the popcount instruction */
    /* Salting: the presence bit of the salt field of the record-level
     * filter and of the field filters (0 = not salted). Two records of
     * which only one has the salt field are in different salt groups, so
     * their salted filters are not comparable: that comparison is left
     * out (missing) rather than counted as a disagreement. */
    unsigned rec_salt_bit, ff_salt_bit;
    int ff_salt_digest; /* the field-filter salt field, if it has a digest; else -1 */
    size_t tf_n;
};

void wye_fs_default_params(wye_fs_params *p)
{
    memset(p, 0, sizeof *p);
    p->band_exact = 0.95;
    p->band_close = 0.75;
    p->band_partial = 0.5;
    p->cross_min = 0.75;
    p->cross = true;
    p->record_dice = false;
    p->alternates[0][0] = "former_family_name";
    p->alternates[0][1] = "family_name";
    p->tf = true;
    p->tf_max = 6.0;
    p->em_max_iter = 1000;
    p->em_tol = 1e-10;
}

const char *wye_fs_level_name(unsigned level)
{
    static const char *const names[] = {"missing", "disagree", "partial",
                                        "close",   "exact",    "cross"};
    return level < WYE_FS_MAX_LEVELS ? names[level] : "unknown";
}

#define NALT 4

static bool is_alternate(const wye_fs_params *prm, const char *name)
{
    for (size_t i = 0; i < NALT; i++)
        if (prm->alternates[i][0] && strcmp(prm->alternates[i][0], name) == 0)
            return true;
    return false;
}

static bool is_alternate_of(const wye_fs_params *prm, const char *alt, const char *field)
{
    for (size_t i = 0; i < NALT; i++)
        if (prm->alternates[i][0] && prm->alternates[i][1] &&
            strcmp(prm->alternates[i][0], alt) == 0 && strcmp(prm->alternates[i][1], field) == 0)
            return true;
    return false;
}

/* Two fields' filters are comparable when a token sets the same bits in
 * both: same key, tokenisers, length and bits per value. */
static bool comparable(const wye_field_spec *a, const wye_field_spec *b)
{
    if (a->kdf_id != b->kdf_id || a->type != b->type ||
        a->field_filter_bits != b->field_filter_bits || a->field_filter_k != b->field_filter_k ||
        a->ntokenisers != b->ntokenisers || a->field_filter_bits == 0)
        return false;
    for (unsigned t = 0; t < a->ntokenisers; t++)
        if (a->tok[t].type != b->tok[t].type || a->tok[t].q != b->tok[t].q ||
            a->tok[t].padding != b->tok[t].padding)
            return false;
    return true;
}

/* The least common count c whose Dice wye_dice_coeff(c, sum, 0) = 2c/sum
 * reaches t; sum + 1 (more than any count) when none does. */
static uint32_t least_count(size_t sum, double t)
{
    /* 2c/sum rises with c: binary search over [0, sum + 1] */
    size_t lo = 0, hi = sum + 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (wye_dice_coeff((uint32_t)mid, (uint32_t)sum, 0) >= t)
            hi = mid;
        else
            lo = mid + 1;
    }
    return (uint32_t)lo;
}

static void init_probabilities(wye_fs *fs)
{
    /* Starting point for EM: matches mostly agree, non-matches mostly not. */
    static const double m0[WYE_FS_MAX_LEVELS] = {0, 0.02, 0.04, 0.08, 0.84, 0.02};
    static const double u0[WYE_FS_MAX_LEVELS] = {0, 0.84, 0.1, 0.03, 0.02, 0.01};
    for (size_t c = 0; c < fs->nc; c++) {
        double sm = 0, su = 0;
        for (unsigned l = 1; l < WYE_FS_MAX_LEVELS; l++)
            if (fs->c[c].level_used[l]) {
                sm += m0[l];
                su += u0[l];
            }
        for (unsigned l = 0; l < WYE_FS_MAX_LEVELS; l++) {
            fs->m[c][l] = fs->c[c].level_used[l] && l ? m0[l] / sm : 0;
            fs->u[c][l] = fs->c[c].level_used[l] && l ? u0[l] / su : 0;
        }
    }
    fs->lambda = 0.05;
}

static void compute_weights(wye_fs *fs)
{
    double lr[WYE_FS_MAX_COMPARISONS][WYE_FS_MAX_LEVELS];
    for (size_t c = 0; c < fs->nc; c++)
        for (unsigned l = 0; l < WYE_FS_MAX_LEVELS; l++)
            lr[c][l] = l && fs->c[c].level_used[l] ? log2(fs->m[c][l] / fs->u[c][l]) : 0.0;
    for (uint32_t pat = 0; pat < fs->npatterns; pat++) {
        double w = 0, extra = 0;
        uint32_t r = pat;
        for (size_t c = fs->nc; c-- > 0;) {
            unsigned l = r / fs->mult[c];
            r %= fs->mult[c];
            w += lr[c][l];
            if (l == WYE_FS_EXACT)
                extra += fs->maxadj[c];
        }
        fs->weight[pat] = w;
        fs->bound[pat] = w + extra;
    }
}

int wye_fs_new(const wye_protocol *p, const wye_fs_params *params, wye_fs **out)
{
    if (!p || !out)
        return WYE_EINVAL;
    *out = NULL;
    wye_fs *fs = calloc(1, sizeof *fs);
    if (!fs)
        return WYE_ENOMEM;
    fs->p = p;
    fs->lay = wye_protocol_layout(p);
    if (params)
        fs->prm = *params;
    else
        wye_fs_default_params(&fs->prm);
    const wye_fs_params *prm = &fs->prm;
    if (!(prm->band_exact <= 1.0 && prm->band_close <= prm->band_exact &&
          prm->band_partial <= prm->band_close && prm->band_partial >= 0.0 &&
          prm->cross_min >= 0.0 && prm->cross_min <= 1.0)) {
        free(fs);
        return WYE_EINVAL;
    }
    size_t nf = wye_protocol_nfields(p);
    int rc = WYE_OK;
    for (size_t f = 0; f < nf; f++) {
        const wye_field_spec *fsp = wye_protocol_field(p, f);
        bool filt = fsp->field_filter_bits > 0, dig = fsp->exact_digest;
        if ((!filt && !dig) || is_alternate(prm, fsp->name))
            continue;
        if (fs->nc == WYE_FS_MAX_COMPARISONS) {
            rc = WYE_ERANGE;
            break;
        }
        wye_fs_comparison *c = &fs->c[fs->nc++];
        snprintf(c->name, sizeof c->name, "%s", fsp->name);
        c->field = (int)f;
        c->kind = filt && dig ? WYE_FS_FILTER_DIGEST : filt ? WYE_FS_FILTER : WYE_FS_DIGEST;
        c->level_used[WYE_FS_MISSING] = c->level_used[WYE_FS_DISAGREE] = true;
        c->level_used[WYE_FS_EXACT] = true;
        if (filt)
            c->level_used[WYE_FS_PARTIAL] = c->level_used[WYE_FS_CLOSE] = true;
        if (filt && prm->cross && fsp->type == WYE_TYPE_NAME) {
            for (size_t g = 0; g < nf; g++) {
                const wye_field_spec *gs = wye_protocol_field(p, g);
                if (g == f || !comparable(fsp, gs))
                    continue;
                if (is_alternate_of(prm, gs->name, fsp->name))
                    c->cross_swap[c->ncross] = false;
                else if (!is_alternate(prm, gs->name))
                    c->cross_swap[c->ncross] = true; /* another compared field */
                else
                    continue; /* the alternate of some other field */
                c->cross[c->ncross++] = (int)g;
            }
        }
        if (c->ncross)
            c->level_used[WYE_FS_CROSS] = true;
        c->nlevels = c->ncross ? WYE_FS_CROSS + 1 : WYE_FS_EXACT + 1;
    }
    const wye_hardening *hr = wye_protocol_hardening(p);
    const wye_field_hardening *hf = wye_protocol_field_hardening(p);
    int si = hr->salting ? wye_protocol_field_index(p, hr->salt_field) : -1;
    fs->rec_salt_bit = si >= 0 ? 1u << si : 0;
    si = hf->salting ? wye_protocol_field_index(p, hf->salt_field) : -1;
    fs->ff_salt_bit = si >= 0 ? 1u << si : 0;
    fs->ff_salt_digest = si >= 0 && wye_protocol_field(p, (size_t)si)->exact_digest ? si : -1;
    bool fallback = fs->nc > 0 && !prm->record_dice && fs->ff_salt_bit &&
                    fs->rec_salt_bit != fs->ff_salt_bit;
    if (rc == WYE_OK && (fs->nc == 0 || prm->record_dice || fallback) && fs->lay->filter_bytes) {
        if (fs->nc == WYE_FS_MAX_COMPARISONS) {
            rc = WYE_ERANGE;
        } else {
            wye_fs_comparison *c = &fs->c[fs->nc++];
            snprintf(c->name, sizeof c->name, "record_filter");
            c->field = -1;
            c->kind = WYE_FS_RECORD;
            c->fallback = fallback;
            for (unsigned l = 0; l <= WYE_FS_EXACT; l++)
                c->level_used[l] = true;
            c->nlevels = WYE_FS_EXACT + 1;
        }
    }
    if (rc == WYE_OK && fs->nc == 0)
        rc = WYE_ENOTFOUND;
    uint64_t np = 1;
    for (size_t c = 0; rc == WYE_OK && c < fs->nc; c++) {
        fs->mult[c] = (uint32_t)np;
        np *= fs->c[c].nlevels;
        if (np > WYE_FS_MAX_PATTERNS)
            rc = WYE_ERANGE;
    }
    if (rc == WYE_OK) {
        fs->npatterns = (uint32_t)np;
        fs->weight = malloc(np * sizeof *fs->weight);
        fs->bound = malloc(np * sizeof *fs->bound);
        if (!fs->weight || !fs->bound)
            rc = WYE_ENOMEM;
    }
    if (rc != WYE_OK) {
        wye_fs_free(fs);
        return rc;
    }
    for (size_t c = 0; rc == WYE_OK && c < fs->nc; c++) {
        size_t bits = fs->c[c].kind == WYE_FS_RECORD ? fs->lay->filter_bytes * 8
                      : fs->c[c].kind == WYE_FS_DIGEST ? 0
                                                        : fs->lay->field_filter_bytes[fs->c[c].field] * 8;
        if (!bits)
            continue;
        size_t len = 2 * bits + 1;
        fs->need[c] = malloc(3 * len * sizeof *fs->need[c]);
        fs->cross_need[c] = malloc(len * sizeof *fs->cross_need[c]);
        if (!fs->need[c] || !fs->cross_need[c]) {
            rc = WYE_ENOMEM;
            break;
        }
        for (size_t sum = 0; sum < len; sum++) {
            fs->need[c][3 * sum] = least_count(sum, prm->band_exact);
            fs->need[c][3 * sum + 1] = least_count(sum, prm->band_close);
            fs->need[c][3 * sum + 2] = least_count(sum, prm->band_partial);
            fs->cross_need[c][sum] = least_count(sum, prm->cross_min);
        }
    }
    if (rc != WYE_OK) {
        wye_fs_free(fs);
        return rc;
    }
    __builtin_cpu_init();
    fs->popcnt = !prm->portable && __builtin_cpu_supports("popcnt");
    init_probabilities(fs);
    compute_weights(fs);
    *out = fs;
    return WYE_OK;
}

void wye_fs_free(wye_fs *fs)
{
    if (!fs)
        return;
    free(fs->weight);
    free(fs->bound);
    free(fs->tfadj);
    for (size_t c = 0; c < WYE_FS_MAX_COMPARISONS; c++) {
        free(fs->need[c]);
        free(fs->cross_need[c]);
    }
    free(fs);
}

size_t wye_fs_ncomparisons(const wye_fs *fs)
{
    return fs->nc;
}

const wye_fs_comparison *wye_fs_comparison_at(const wye_fs *fs, size_t c)
{
    return c < fs->nc ? &fs->c[c] : NULL;
}

uint32_t wye_fs_npatterns(const wye_fs *fs)
{
    return fs->npatterns;
}

unsigned wye_fs_level(const wye_fs *fs, uint32_t pattern, size_t c)
{
    assert(c < fs->nc);
    return (pattern / fs->mult[c]) % fs->c[c].nlevels;
}

uint32_t wye_fs_make_pattern(const wye_fs *fs, const unsigned *levels)
{
    uint32_t pat = 0;
    for (size_t c = 0; c < fs->nc; c++) {
        assert(levels[c] < fs->c[c].nlevels);
        pat += levels[c] * fs->mult[c];
    }
    return pat;
}

/* ---- comparing two records ---------------------------------------------- */

static inline unsigned presence(const wye_layout *lay, const uint8_t *r)
{
    return (unsigned)r[lay->presence_off] | (unsigned)r[lay->presence_off + 1] << 8;
}

static inline const uint64_t *field_filter(const wye_layout *lay, const uint8_t *r, size_t f)
{
    return (const uint64_t *)(const void *)(r + lay->field_filter_off[f]);
}

static inline uint32_t pop64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (uint32_t)((x * 0x0101010101010101ull) >> 56);
}

/* |A and B| of two field filters; hw selects the popcount instruction (in
 * the popcnt build of the comparison) or the portable count. Both give the
 * same integer. */
static inline __attribute__((always_inline)) uint32_t and_count(const uint64_t *x,
                                                                const uint64_t *y, size_t words,
                                                                bool hw)
{
    uint32_t c = 0;
    for (size_t w = 0; w < words; w++)
        c += hw ? (uint32_t)__builtin_popcountll(x[w] & y[w]) : pop64(x[w] & y[w]);
    return c;
}

/* Level of a count against the band tables of comparison c (popcount sum s). */
static inline unsigned band_level(const wye_fs *fs, size_t ci, uint32_t cnt, size_t s)
{
    const uint32_t *t = fs->need[ci] + s * 3;
    return cnt >= t[0] ? WYE_FS_EXACT : cnt >= t[1] ? WYE_FS_CLOSE
                                      : cnt >= t[2] ? WYE_FS_PARTIAL
                                                    : WYE_FS_DISAGREE;
}

static inline __attribute__((always_inline)) uint32_t
pattern_core(const wye_fs *fs, const wye_recview *v, size_t a, size_t b, bool hw)
{
    const wye_layout *lay = v->layout;
    const uint8_t *ra = wye_rec(v, a), *rb = wye_rec(v, b);
    unsigned pa = presence(lay, ra), pb = presence(lay, rb);
    /* the popcounts sit in the slot, 4-byte aligned */
    const uint32_t *popa = (const uint32_t *)(const void *)(ra + v->pop_off) + 1;
    const uint32_t *popb = (const uint32_t *)(const void *)(rb + v->pop_off) + 1;
    uint32_t pat = 0;
    unsigned swapped = 0; /* fields already counted in another's swap */
    for (size_t ci = 0; ci < fs->nc; ci++) {
        const wye_fs_comparison *c = &fs->c[ci];
        unsigned level = WYE_FS_MISSING;
        if (c->kind == WYE_FS_RECORD) {
            bool apart = (pa ^ pb) & fs->ff_salt_bit;
            if (!apart && c->fallback && fs->ff_salt_digest >= 0 && (pa & pb & fs->ff_salt_bit))
                apart = memcmp(ra + lay->digest_off[fs->ff_salt_digest],
                               rb + lay->digest_off[fs->ff_salt_digest], WYE_DIGEST_BYTES) != 0;
            if (popa[-1] && popb[-1] && !((pa ^ pb) & fs->rec_salt_bit) &&
                (!c->fallback || apart)) {
                const uint64_t *fa = (const uint64_t *)(const void *)(ra + lay->filter_off);
                const uint64_t *fb = (const uint64_t *)(const void *)(rb + lay->filter_off);
                uint32_t cnt = wye_dice_and_count(v->kernel, fa, fb, lay->filter_bytes / 8);
                level = band_level(fs, ci, cnt, (size_t)popa[-1] + popb[-1]);
            }
            pat += level * fs->mult[ci];
            continue;
        }
        size_t f = (size_t)c->field;
        unsigned bit = 1u << f;
        if ((pa & bit) && (pb & bit)) {
            if (c->kind != WYE_FS_FILTER &&
                memcmp(ra + lay->digest_off[f], rb + lay->digest_off[f], WYE_DIGEST_BYTES) == 0) {
                level = WYE_FS_EXACT;
            } else if (c->kind == WYE_FS_DIGEST) {
                level = WYE_FS_DISAGREE;
            } else if ((pa ^ pb) & fs->ff_salt_bit) {
                level = WYE_FS_MISSING; /* different salt groups */
            } else {
                size_t words = lay->field_filter_bytes[f] / 8;
                uint32_t fa = popa[v->fpop_col[f]], fb = popb[v->fpop_col[f]];
                uint32_t cnt = and_count(field_filter(lay, ra, f), field_filter(lay, rb, f), words, hw);
                level = band_level(fs, ci, cnt, (size_t)fa + fb);
                if (c->kind == WYE_FS_FILTER_DIGEST && level == WYE_FS_EXACT)
                    level = WYE_FS_CLOSE; /* the digests differ */
                if (level < WYE_FS_CLOSE && (swapped & bit)) {
                    /* the swap was counted once, by the earlier comparison */
                    level = WYE_FS_MISSING;
                } else if (level < WYE_FS_CLOSE && c->ncross) {
                    bool cross = false;
                    for (unsigned k = 0; k < c->ncross && !cross; k++) {
                        size_t g = (size_t)c->cross[k];
                        unsigned gb = 1u << g;
                        uint32_t ga = popa[v->fpop_col[g]], gbp = popb[v->fpop_col[g]];
                        /* a_f against b_g, and a_g against b_f; the popcounts
                         * rule most out before any bit is compared */
                        bool ok1 = false, ok2 = false;
                        if ((pb & gb) && (fa < gbp ? fa : gbp) >= fs->cross_need[ci][(size_t)fa + gbp])
                            ok1 = and_count(field_filter(lay, ra, f), field_filter(lay, rb, g), words, hw) >=
                                  fs->cross_need[ci][(size_t)fa + gbp];
                        if (c->cross_swap[k] && !ok1)
                            continue; /* a swap needs both ways */
                        if ((pa & gb) && (ga < fb ? ga : fb) >= fs->cross_need[ci][(size_t)ga + fb])
                            ok2 = and_count(field_filter(lay, ra, g), field_filter(lay, rb, f), words, hw) >=
                                  fs->cross_need[ci][(size_t)ga + fb];
                        cross = c->cross_swap[k] ? (ok1 && ok2) : (ok1 || ok2);
                        if (cross && c->cross_swap[k])
                            swapped |= gb;
                    }
                    if (cross)
                        level = WYE_FS_CROSS;
                }
            }
        }
        pat += level * fs->mult[ci];
    }
    return pat;
}

static uint32_t pattern_portable(const wye_fs *fs, const wye_recview *v, size_t a, size_t b)
{
    return pattern_core(fs, v, a, b, false);
}

__attribute__((target("popcnt"))) static uint32_t pattern_popcnt(const wye_fs *fs,
                                                                 const wye_recview *v, size_t a,
                                                                 size_t b)
{
    return pattern_core(fs, v, a, b, true);
}

uint32_t wye_fs_pattern(const wye_fs *fs, const wye_recview *v, size_t a, size_t b)
{
    return fs->popcnt ? pattern_popcnt(fs, v, a, b) : pattern_portable(fs, v, a, b);
}

/* ---- the model's parameters --------------------------------------------- */

int wye_fs_set(wye_fs *fs, size_t c, const double *m, const double *u)
{
    if (!fs || c >= fs->nc || !m || !u)
        return WYE_EINVAL;
    for (unsigned l = 1; l < fs->c[c].nlevels; l++)
        if (fs->c[c].level_used[l] && !(m[l] > 0 && m[l] <= 1 && u[l] > 0 && u[l] <= 1))
            return WYE_EINVAL;
    for (unsigned l = 1; l < fs->c[c].nlevels; l++)
        if (fs->c[c].level_used[l]) {
            fs->m[c][l] = m[l];
            fs->u[c][l] = u[l];
        }
    compute_weights(fs);
    return WYE_OK;
}

int wye_fs_set_lambda(wye_fs *fs, double lambda)
{
    if (!fs || !(lambda > 0 && lambda < 1))
        return WYE_EINVAL;
    fs->lambda = lambda;
    return WYE_OK;
}

double wye_fs_m(const wye_fs *fs, size_t c, unsigned level)
{
    return c < fs->nc && level < WYE_FS_MAX_LEVELS ? fs->m[c][level] : 0.0;
}

double wye_fs_u(const wye_fs *fs, size_t c, unsigned level)
{
    return c < fs->nc && level < WYE_FS_MAX_LEVELS ? fs->u[c][level] : 0.0;
}

double wye_fs_lambda(const wye_fs *fs)
{
    return fs->lambda;
}

double wye_fs_weight(const wye_fs *fs, uint32_t pattern)
{
    assert(pattern < fs->npatterns);
    return fs->weight[pattern];
}

double wye_fs_posterior(const wye_fs *fs, double weight)
{
    return 1.0 / (1.0 + (1.0 - fs->lambda) / fs->lambda * exp2(-weight));
}

double wye_fs_weight_for_posterior(const wye_fs *fs, double p)
{
    return log2(p / (1.0 - p)) + log2((1.0 - fs->lambda) / fs->lambda);
}

/* ---- EM ----------------------------------------------------------------- */

typedef struct obs {
    uint8_t level[WYE_FS_MAX_COMPARISONS];
    double count;
} obs;

int wye_fs_estimate(wye_fs *fs, const uint64_t *counts, wye_fs_em_result *res)
{
    if (!fs || !counts)
        return WYE_EINVAL;
    size_t nobs = 0;
    uint64_t total = 0;
    for (uint32_t pat = 0; pat < fs->npatterns; pat++)
        if (counts[pat]) {
            nobs++;
            total += counts[pat];
        }
    if (nobs == 0)
        return WYE_EINVAL;
    obs *o = malloc(nobs * sizeof *o);
    if (!o)
        return WYE_ENOMEM;
    size_t k = 0;
    bool seen[WYE_FS_MAX_COMPARISONS][WYE_FS_MAX_LEVELS] = {{false}};
    for (uint32_t pat = 0; pat < fs->npatterns; pat++) {
        if (!counts[pat])
            continue;
        for (size_t c = 0; c < fs->nc; c++) {
            o[k].level[c] = (uint8_t)wye_fs_level(fs, pat, c);
            seen[c][o[k].level[c]] = true;
        }
        o[k].count = (double)counts[pat];
        k++;
    }
    unsigned varying = 0;
    for (size_t c = 0; c < fs->nc; c++) {
        unsigned levels = 0;
        for (unsigned l = 1; l < WYE_FS_MAX_LEVELS; l++)
            levels += seen[c][l];
        varying += levels >= 2;
    }
    if (varying < 2 && fs->nc >= 2) {
        free(o);
        return WYE_EINVAL;
    }
    init_probabilities(fs);
    /* u starts at the observed level frequencies: nearly all pairs are
     * non-matches. */
    for (size_t c = 0; c < fs->nc; c++) {
        double freq[WYE_FS_MAX_LEVELS] = {0}, sum = 0;
        for (size_t i = 0; i < nobs; i++)
            if (o[i].level[c]) {
                freq[o[i].level[c]] += o[i].count;
                sum += o[i].count;
            }
        unsigned used = 0;
        for (unsigned l = 1; l < WYE_FS_MAX_LEVELS; l++)
            used += fs->c[c].level_used[l];
        for (unsigned l = 1; l < WYE_FS_MAX_LEVELS; l++)
            if (fs->c[c].level_used[l])
                fs->u[c][l] = (freq[l] + 1.0) / (sum + used);
    }
    double am[WYE_FS_MAX_COMPARISONS][WYE_FS_MAX_LEVELS];
    double au[WYE_FS_MAX_COMPARISONS][WYE_FS_MAX_LEVELS];
    unsigned it = 0;
    bool converged = false;
    double ll = 0;
    double lm[WYE_FS_MAX_COMPARISONS][WYE_FS_MAX_LEVELS];
    double lu[WYE_FS_MAX_COMPARISONS][WYE_FS_MAX_LEVELS];
    for (it = 1; it <= fs->prm.em_max_iter; it++) {
        for (size_t c = 0; c < fs->nc; c++)
            for (unsigned l = 1; l < WYE_FS_MAX_LEVELS; l++) {
                lm[c][l] = fs->c[c].level_used[l] ? log(fs->m[c][l]) : 0;
                lu[c][l] = fs->c[c].level_used[l] ? log(fs->u[c][l]) : 0;
            }
        memset(am, 0, sizeof am);
        memset(au, 0, sizeof au);
        double sg = 0;
        ll = 0;
        double llam = log(fs->lambda), l1lam = log(1.0 - fs->lambda);
        for (size_t i = 0; i < nobs; i++) {
            double xm = llam, xu = l1lam;
            for (size_t c = 0; c < fs->nc; c++) {
                unsigned l = o[i].level[c];
                if (l) {
                    xm += lm[c][l];
                    xu += lu[c][l];
                }
            }
            double mx = xm > xu ? xm : xu;
            double lse = mx + log(exp(xm - mx) + exp(xu - mx));
            double g = exp(xm - lse);
            ll += o[i].count * lse;
            double cg = o[i].count * g, cu = o[i].count * (1.0 - g);
            sg += cg;
            for (size_t c = 0; c < fs->nc; c++) {
                unsigned l = o[i].level[c];
                if (l) {
                    am[c][l] += cg;
                    au[c][l] += cu;
                }
            }
        }
        double change = 0;
        double lam = sg / (double)total;
        if (lam < P_FLOOR)
            lam = P_FLOOR;
        if (lam > 1 - P_FLOOR)
            lam = 1 - P_FLOOR;
        change = fabs(lam - fs->lambda);
        fs->lambda = lam;
        for (size_t c = 0; c < fs->nc; c++) {
            double sm = 0, su = 0;
            unsigned used = 0;
            for (unsigned l = 1; l < WYE_FS_MAX_LEVELS; l++)
                if (fs->c[c].level_used[l]) {
                    sm += am[c][l];
                    su += au[c][l];
                    used++;
                }
            for (unsigned l = 1; l < WYE_FS_MAX_LEVELS; l++) {
                if (!fs->c[c].level_used[l])
                    continue;
                double nm = (am[c][l] + EM_PRIOR) / (sm + EM_PRIOR * used);
                double nu = (au[c][l] + EM_PRIOR) / (su + EM_PRIOR * used);
                nm = nm < P_FLOOR ? P_FLOOR : nm;
                nu = nu < P_FLOOR ? P_FLOOR : nu;
                if (fabs(nm - fs->m[c][l]) > change)
                    change = fabs(nm - fs->m[c][l]);
                if (fabs(nu - fs->u[c][l]) > change)
                    change = fabs(nu - fs->u[c][l]);
                fs->m[c][l] = nm;
                fs->u[c][l] = nu;
            }
        }
        if (change < fs->prm.em_tol) {
            converged = true;
            break;
        }
    }
    free(o);
    /* The two classes are interchangeable to EM: call "match" the one whose
     * exact agreement is likelier. */
    double score = 0;
    for (size_t c = 0; c < fs->nc; c++)
        score += log(fs->m[c][WYE_FS_EXACT] / fs->u[c][WYE_FS_EXACT]);
    if (score < 0) {
        for (size_t c = 0; c < fs->nc; c++)
            for (unsigned l = 0; l < WYE_FS_MAX_LEVELS; l++) {
                double t = fs->m[c][l];
                fs->m[c][l] = fs->u[c][l];
                fs->u[c][l] = t;
            }
        fs->lambda = 1.0 - fs->lambda;
    }
    compute_weights(fs);
    if (res) {
        res->iterations = converged ? it : fs->prm.em_max_iter;
        res->converged = converged;
        res->pairs = total;
        res->lambda = fs->lambda;
        res->log_likelihood = ll;
    }
    return WYE_OK;
}

/* ---- term frequencies ---------------------------------------------------- */

static uint64_t value_hash(const wye_fs *fs, const wye_fs_comparison *c, const uint8_t *r)
{
    const wye_layout *lay = fs->lay;
    const uint8_t *p;
    size_t n;
    if (c->kind == WYE_FS_FILTER) {
        p = r + lay->field_filter_off[c->field];
        n = lay->field_filter_bytes[c->field];
    } else {
        p = r + lay->digest_off[c->field];
        n = WYE_DIGEST_BYTES;
    }
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* Number of entries equal to key in the sorted array. */
static size_t count_of(const uint64_t *s, size_t n, uint64_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t first = lo;
    hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid] <= key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - first;
}

int wye_fs_tf_build(wye_fs *fs, const wye_recview *v, unsigned threads)
{
    if (!fs || !v)
        return WYE_EINVAL;
    free(fs->tfadj);
    fs->tfadj = NULL;
    fs->tf_n = 0;
    memset(fs->maxadj, 0, sizeof fs->maxadj);
    if (!fs->prm.tf || v->n == 0) {
        compute_weights(fs);
        return WYE_OK;
    }
    size_t n = v->n, nc = fs->nc;
    float *adj = calloc(n * nc, sizeof *adj);
    uint64_t *hv = malloc(n * sizeof *hv);
    uint64_t *sorted = malloc(n * sizeof *sorted);
    if (!adj || !hv || !sorted) {
        free(adj);
        free(hv);
        free(sorted);
        return WYE_ENOMEM;
    }
    int nt = threads ? (int)threads : omp_get_num_procs();
    const wye_layout *lay = fs->lay;
    for (size_t ci = 0; ci < nc; ci++) {
        const wye_fs_comparison *c = &fs->c[ci];
        if (c->kind == WYE_FS_RECORD)
            continue;
        unsigned bit = 1u << c->field;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            const uint8_t *r = wye_rec(v, i);
            unsigned pres = (unsigned)r[lay->presence_off] | (unsigned)r[lay->presence_off + 1] << 8;
            hv[i] = (pres & bit) ? value_hash(fs, c, r) : 0;
            if (pres & bit)
                sorted[m++] = hv[i];
        }
        if (m < 2)
            continue;
        qsort(sorted, m, sizeof *sorted, cmp_u64);
        /* average agreement rate of two random records that have the field:
         * sum over values of p^2 */
        double avg = 0;
        for (size_t s0 = 0, e; s0 < m; s0 = e) {
            for (e = s0 + 1; e < m && sorted[e] == sorted[s0]; e++)
                ;
            double pv = (double)(e - s0) / (double)m;
            avg += pv * pv;
        }
        double lim = fs->prm.tf_max;
#pragma omp parallel for schedule(static) num_threads(nt)
        for (size_t i = 0; i < n; i++) {
            const uint8_t *r = wye_rec(v, i);
            unsigned pres = (unsigned)r[lay->presence_off] | (unsigned)r[lay->presence_off + 1] << 8;
            if (!(pres & bit))
                continue;
            double pv = (double)count_of(sorted, m, hv[i]) / (double)m;
            double a = log2(avg / pv);
            adj[i * nc + ci] = (float)(a > lim ? lim : a < -lim ? -lim : a);
        }
    }
    free(hv);
    free(sorted);
    fs->tfadj = adj;
    fs->tf_n = n;
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < nc; c++)
            if (adj[i * nc + c] > fs->maxadj[c])
                fs->maxadj[c] = adj[i * nc + c];
    compute_weights(fs);
    return WYE_OK;
}

double wye_fs_score(const wye_fs *fs, const wye_recview *v, size_t a, size_t b, uint32_t *pattern)
{
    uint32_t pat = wye_fs_pattern(fs, v, a, b);
    if (pattern)
        *pattern = pat;
    return wye_fs_score_pattern(fs, pat, a, b);
}

double wye_fs_score_bound(const wye_fs *fs, uint32_t pattern)
{
    assert(pattern < fs->npatterns);
    return fs->bound[pattern];
}

double wye_fs_score_pattern(const wye_fs *fs, uint32_t pat, size_t a, size_t b)
{
    assert(pat < fs->npatterns);
    double w = fs->weight[pat];
    if (fs->tfadj && a < fs->tf_n && b < fs->tf_n) {
        for (size_t c = 0; c < fs->nc; c++) {
            if ((pat / fs->mult[c]) % fs->c[c].nlevels != WYE_FS_EXACT)
                continue;
            float x = fs->tfadj[a * fs->nc + c], y = fs->tfadj[b * fs->nc + c];
            w += x < y ? x : y; /* the more common of the two values */
        }
    }
    return w;
}

/* ---- u from random pairs ------------------------------------------------- */

#define U_CHUNK 65536

int wye_fs_u_from_random(wye_fs *fs, const wye_recview *v, uint64_t samples, uint64_t seed,
                         unsigned threads)
{
    if (!fs || !v || v->n < 2 || samples == 0)
        return WYE_EINVAL;
    size_t nchunks = (size_t)((samples + U_CHUNK - 1) / U_CHUNK);
    uint64_t(*cnt)[WYE_FS_MAX_LEVELS] = calloc(fs->nc, sizeof *cnt);
    if (!cnt)
        return WYE_ENOMEM;
    int nt = threads ? (int)threads : omp_get_num_procs();
    uint64_t n = v->n;
#pragma omp parallel num_threads(nt)
    {
        uint64_t local[WYE_FS_MAX_COMPARISONS][WYE_FS_MAX_LEVELS] = {{0}};
#pragma omp for schedule(static)
        for (size_t ch = 0; ch < nchunks; ch++) {
            /* each chunk its own stream, so the draw does not depend on
             * which thread runs it */
            uint64_t st = seed ^ (0x9e3779b97f4a7c15ull * (ch + 1));
            uint64_t todo = samples - (uint64_t)ch * U_CHUNK;
            if (todo > U_CHUNK)
                todo = U_CHUNK;
            for (uint64_t k = 0; k < todo; k++) {
                uint64_t z = (st += 0x9e3779b97f4a7c15ull);
                z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
                z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
                z ^= z >> 31;
                uint64_t a = ((z & 0xffffffffu) * n) >> 32; /* n < 2^32 */
                uint64_t b = ((z >> 32) * (n - 1)) >> 32;
                if (b >= a)
                    b++;
                uint32_t pat = wye_fs_pattern(fs, v, a, b);
                for (size_t c = 0; c < fs->nc; c++)
                    local[c][(pat / fs->mult[c]) % fs->c[c].nlevels]++;
            }
        }
        for (size_t c = 0; c < fs->nc; c++)
            for (unsigned l = 0; l < WYE_FS_MAX_LEVELS; l++) {
#pragma omp atomic
                cnt[c][l] += local[c][l];
            }
    }
    for (size_t c = 0; c < fs->nc; c++) {
        uint64_t tot = 0;
        unsigned used = 0;
        for (unsigned l = 1; l < WYE_FS_MAX_LEVELS; l++)
            if (fs->c[c].level_used[l]) {
                tot += cnt[c][l];
                used++;
            }
        for (unsigned l = 1; l < WYE_FS_MAX_LEVELS; l++)
            if (fs->c[c].level_used[l])
                fs->u[c][l] = ((double)cnt[c][l] + 1.0) / ((double)tot + used);
    }
    free(cnt);
    compute_weights(fs);
    return WYE_OK;
}
