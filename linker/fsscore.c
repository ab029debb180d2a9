/* Fellegi-Sunter scoring: comparison levels, patterns, EM, weights. */
#include "wyelink/fsscore.h"

#include <assert.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Probabilities never reach 0 or 1, so every weight is finite. */
#define P_FLOOR 1e-9
/* A small prior count per level in the M step (keeps rare levels off 0). */
#define EM_PRIOR 1e-3
/* The least m of a disagreement in a fitted model: however rarely the
 * matches in the data disagree, recording errors and changes happen in any
 * real extract, so one disagreement never counts more than log2(1000) =
 * 10 bits against a match. */
#define M_DISAGREE_MIN 1e-3

struct wye_fs {
    const wye_protocol *p;
    const wye_layout *lay;
    wye_fs_params prm;
    size_t nc;
    wye_fs_comparison c[WYE_FS_MAX_COMPARISONS];
    /* A pattern is a mixed-radix number with one digit per comparison and
     * only the levels the comparison uses as digits (a digest comparison
     * has three: missing, disagree, exact), so the pattern space stays
     * small as comparisons are added. */
    uint32_t mult[WYE_FS_MAX_COMPARISONS];  /* place values */
    uint32_t radix[WYE_FS_MAX_COMPARISONS]; /* levels used */
    uint32_t step[WYE_FS_MAX_COMPARISONS][WYE_FS_MAX_LEVELS]; /* level's digit * mult */
    uint8_t level_of[WYE_FS_MAX_COMPARISONS][WYE_FS_MAX_LEVELS]; /* digit -> level */
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
    wye_fs_fit_result fit; /* the last wye_fs_fit's diagnostics */
    /* the level frequencies among the random pairs, before unmix_u */
    double urand[WYE_FS_MAX_COMPARISONS][WYE_FS_MAX_LEVELS];
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
    p->tf_max_gain = 2.0;
    p->attributes = true;
    p->age_band = true;
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
            unsigned l = fs->level_of[c][r / fs->mult[c]];
            r %= fs->mult[c];
            w += lr[c][l];
            if (l == WYE_FS_EXACT)
                extra += fs->maxadj[c];
        }
        fs->weight[pat] = w;
        fs->bound[pat] = w + extra;
    }
}

/* The attributes that describe the person, as comparisons of their own.
 * The age band follows from the date of birth: it is compared only where
 * the dates differ (a typo in one of them keeps the band, another person
 * mostly has another), so it is given_by the date of birth's comparison. */
static int add_attributes(wye_fs *fs)
{
    const wye_protocol *p = fs->p;
    for (size_t a = 0; a < wye_protocol_nattrs(p); a++) {
        const wye_attr_spec *as = wye_protocol_attr(p, a);
        if (as->source != WYE_ATTR_SEX && !(as->source == WYE_ATTR_AGE_BAND && fs->prm.age_band))
            continue;
        if (fs->nc == WYE_FS_MAX_COMPARISONS)
            return WYE_ERANGE;
        wye_fs_comparison *c = &fs->c[fs->nc++];
        snprintf(c->name, sizeof c->name, "%s", as->name);
        c->kind = WYE_FS_ATTR;
        c->field = (int)a;
        c->given_by = -1;
        c->level_used[WYE_FS_MISSING] = c->level_used[WYE_FS_DISAGREE] = true;
        c->level_used[WYE_FS_EXACT] = true;
        c->nlevels = WYE_FS_EXACT + 1;
        if (as->source != WYE_ATTR_AGE_BAND)
            continue;
        for (size_t k = 0; k + 1 < fs->nc; k++)
            if (fs->c[k].field >= 0 && fs->c[k].kind != WYE_FS_ATTR &&
                wye_protocol_field(p, (size_t)fs->c[k].field)->type == WYE_TYPE_DATE &&
                !strcmp(fs->c[k].name, "date_of_birth"))
                c->given_by = (int)k;
    }
    return WYE_OK;
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
    if (!(prm->band_exact <= 1.0 && prm->band_close <= prm->band_exact && prm->tf_max_gain >= 0 &&
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
        c->given_by = -1;
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
    if (rc == WYE_OK && prm->attributes)
        rc = add_attributes(fs);
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
            c->given_by = -1;
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
        uint32_t d = 0;
        for (unsigned l = 0; l < fs->c[c].nlevels; l++)
            if (fs->c[c].level_used[l]) {
                fs->level_of[c][d] = (uint8_t)l;
                fs->step[c][l] = d++ * (uint32_t)np;
            }
        fs->radix[c] = d;
        np *= d;
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
                      : fs->c[c].kind == WYE_FS_DIGEST || fs->c[c].kind == WYE_FS_ATTR
                          ? 0
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
    return fs->level_of[c][(pattern / fs->mult[c]) % fs->radix[c]];
}

uint32_t wye_fs_make_pattern(const wye_fs *fs, const unsigned *levels)
{
    uint32_t pat = 0;
    for (size_t c = 0; c < fs->nc; c++) {
        assert(levels[c] < fs->c[c].nlevels && fs->c[c].level_used[levels[c]]);
        pat += fs->step[c][levels[c]];
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
    uint8_t levels[WYE_FS_MAX_COMPARISONS];
    for (size_t ci = 0; ci < fs->nc; ci++) {
        const wye_fs_comparison *c = &fs->c[ci];
        unsigned level = WYE_FS_MISSING;
        if (c->kind == WYE_FS_ATTR) {
            uint8_t xa = ra[lay->attr_off + (size_t)c->field];
            uint8_t xb = rb[lay->attr_off + (size_t)c->field];
            if (xa && xb && (c->given_by < 0 || levels[c->given_by] != WYE_FS_EXACT))
                level = xa == xb ? WYE_FS_EXACT : WYE_FS_DISAGREE;
            levels[ci] = (uint8_t)level;
            pat += fs->step[ci][level];
            continue;
        }
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
            levels[ci] = (uint8_t)level;
            pat += fs->step[ci][level];
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
        levels[ci] = (uint8_t)level;
        pat += fs->step[ci][level];
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

/* Whether record r has comparison c's value. */
static bool has_value(const wye_fs *fs, const wye_fs_comparison *c, const uint8_t *r)
{
    if (c->kind == WYE_FS_ATTR)
        return r[fs->lay->attr_off + (size_t)c->field] != 0;
    return presence(fs->lay, r) >> c->field & 1u;
}

static uint64_t value_hash(const wye_fs *fs, const wye_fs_comparison *c, const uint8_t *r)
{
    const wye_layout *lay = fs->lay;
    const uint8_t *p;
    size_t n;
    if (c->kind == WYE_FS_ATTR) {
        p = r + lay->attr_off + (size_t)c->field;
        n = 1;
    } else if (c->kind == WYE_FS_FILTER) {
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
    for (size_t ci = 0; ci < nc; ci++) {
        const wye_fs_comparison *c = &fs->c[ci];
        if (c->kind == WYE_FS_RECORD)
            continue;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            const uint8_t *r = wye_rec(v, i);
            bool has = has_value(fs, c, r);
            hv[i] = has ? value_hash(fs, c, r) : 0;
            if (has)
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
        double lim = fs->prm.tf_max, gain = fs->prm.tf_max_gain < lim ? fs->prm.tf_max_gain : lim;
#pragma omp parallel for schedule(static) num_threads(nt)
        for (size_t i = 0; i < n; i++) {
            if (!has_value(fs, c, wye_rec(v, i)))
                continue;
            double pv = (double)count_of(sorted, m, hv[i]) / (double)m;
            double a = log2(avg / pv);
            adj[i * nc + ci] = (float)(a > gain ? gain : a < -lim ? -lim : a);
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
            if (wye_fs_level(fs, pat, c) != WYE_FS_EXACT)
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
                    local[c][wye_fs_level(fs, pat, c)]++;
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

/* ---- fitting the model (fsscore.h, "fitting the model") ------------------ */

void wye_fs_default_fit_params(wye_fs_fit_params *p)
{
    memset(p, 0, sizeof *p);
    p->u_samples = 4000000;
    p->max_records_per_agency = 3.0;
    p->min_anchor_matches = 20.0;
    p->max_false_share = 0.002;
}

const wye_fs_fit_result *wye_fs_fit_info(const wye_fs *fs)
{
    return &fs->fit;
}

/* The anchors: each exact digest on its own, and the name fields (those
 * compared across) together; then, as secondary anchors, the other field
 * filters. Blocking puts every pair that agrees exactly on one in a block
 * of its own: a digest's blocks, the MinHash bands of names or addresses
 * whose filters are equal, equal postcodes. */
static unsigned find_anchors(const wye_fs *fs, unsigned *mask, wye_fs_fit_anchor *an)
{
    unsigned k = 0, names = 0;
    for (size_t c = 0; c < fs->nc; c++) {
        const wye_fs_comparison *co = &fs->c[c];
        if ((co->kind == WYE_FS_DIGEST || co->kind == WYE_FS_FILTER_DIGEST) &&
            k < WYE_FS_MAX_ANCHORS - 1) {
            mask[k] = 1u << c;
            snprintf(an[k++].name, sizeof an->name, "%s", co->name);
        }
        if (co->ncross)
            names |= 1u << c;
    }
    for (size_t c = 0; c < fs->nc; c++)
        if (fs->c[c].kind == WYE_FS_FILTER && !fs->c[c].ncross &&
            k < WYE_FS_MAX_ANCHORS - (names != 0)) {
            mask[k] = 1u << c;
            an[k].secondary = true;
            snprintf(an[k++].name, sizeof an->name, "%s", fs->c[c].name);
        }
    if (names) {
        mask[k] = names;
        char *s = an[k].name;
        size_t left = sizeof an->name;
        for (size_t c = 0; c < fs->nc && left > 1; c++)
            if (names >> c & 1u) {
                int w = snprintf(s, left, "%s%s", s == an[k].name ? "" : "+", fs->c[c].name);
                size_t adv = w < 0 ? 0 : (size_t)w < left ? (size_t)w : left - 1;
                s += adv;
                left -= adv;
            }
        k++;
    }
    return k;
}

typedef struct patcount {
    uint32_t pattern;
    uint8_t level[WYE_FS_MAX_COMPARISONS];
    double count;
} patcount;

/* Evidence an anchor's pairs need outside it, in bits: see enough_evidence. */
#define ANCHOR_MIN_BITS 16.0

/* Whether the pairs pc (which agree on the comparisons of mask) hold enough
 * other evidence for EM to tell matches from non-matches: the bits that
 * exact agreement on the other comparisons gives by chance, log2(1 / u),
 * weighted by how often each is present, must add up to ANCHOR_MIN_BITS
 * (a non-match looks like a match on all of them once in 65,536 pairs).
 * With less (the names with only a postcode and sex besides) the mixture is
 * barely identified, and EM can call most of the pairs matches. */
static bool enough_evidence(const wye_fs *fs, const patcount *pc, size_t npc, unsigned mask,
                            double total)
{
    double bits = 0;
    for (size_t c = 0; c < fs->nc; c++) {
        if (mask >> c & 1u)
            continue;
        double present = 0;
        for (size_t i = 0; i < npc; i++)
            present += pc[i].level[c] ? pc[i].count : 0;
        bits += present / total * -log2(fs->urand[c][WYE_FS_EXACT]);
    }
    return bits >= ANCHOR_MIN_BITS;
}

/* EM with u fixed on the pairs (patterns pc) that agree exactly on every
 * comparison of mask: m of the other comparisons and the share of matches
 * among these pairs. Adds the expected matched pairs at each level of each
 * comparison outside mask to acc. */
static void em_anchor(const wye_fs *fs, const patcount *pc, size_t npc, unsigned mask,
                      double acc[][WYE_FS_MAX_LEVELS], wye_fs_fit_anchor *an)
{
    static const double m0[WYE_FS_MAX_LEVELS] = {0, 0.02, 0.04, 0.08, 0.84, 0.02};
    double m[WYE_FS_MAX_COMPARISONS][WYE_FS_MAX_LEVELS] = {{0}};
    double lu[WYE_FS_MAX_COMPARISONS][WYE_FS_MAX_LEVELS] = {{0}};
    double am[WYE_FS_MAX_COMPARISONS][WYE_FS_MAX_LEVELS];
    double total = 0;
    for (size_t i = 0; i < npc; i++)
        total += pc[i].count;
    an->pairs = (uint64_t)total;
    if (total == 0)
        return;
    an->weak = !enough_evidence(fs, pc, npc, mask, total);
    /* the comparisons EM fits: outside mask */
    size_t cs[WYE_FS_MAX_COMPARISONS], ncs = 0;
    for (size_t c = 0; c < fs->nc; c++) {
        if (mask >> c & 1u)
            continue;
        cs[ncs++] = c;
        double sm = 0;
        for (unsigned l = 1; l < WYE_FS_MAX_LEVELS; l++)
            if (fs->c[c].level_used[l]) {
                sm += m0[l];
                lu[c][l] = log(fs->u[c][l]);
            }
        for (unsigned l = 1; l < WYE_FS_MAX_LEVELS; l++)
            m[c][l] = fs->c[c].level_used[l] ? m0[l] / sm : 0;
    }
    double lambda = 0.5;
    unsigned it;
    for (it = 1; it <= fs->prm.em_max_iter; it++) {
        double lm[WYE_FS_MAX_COMPARISONS][WYE_FS_MAX_LEVELS] = {{0}};
        for (size_t k = 0; k < ncs; k++)
            for (unsigned l = 1; l < WYE_FS_MAX_LEVELS; l++)
                lm[cs[k]][l] = m[cs[k]][l] > 0 ? log(m[cs[k]][l]) - lu[cs[k]][l] : 0;
        memset(am, 0, sizeof am);
        double sg = 0, lodds = log(lambda / (1.0 - lambda));
        for (size_t i = 0; i < npc; i++) {
            double x = lodds;
            const uint8_t *lv = pc[i].level;
            for (size_t k = 0; k < ncs; k++)
                x += lm[cs[k]][lv[cs[k]]]; /* 0 for missing */
            double cg = pc[i].count / (1.0 + exp(-x));
            sg += cg;
            for (size_t k = 0; k < ncs; k++)
                am[cs[k]][lv[cs[k]]] += cg;
        }
        double nl = sg / total, change = fabs(nl - lambda);
        lambda = nl < P_FLOOR ? P_FLOOR : nl > 1 - P_FLOOR ? 1 - P_FLOOR : nl;
        for (size_t k = 0; k < ncs; k++) {
            size_t c = cs[k];
            double sm = 0;
            unsigned used = 0;
            for (unsigned l = 1; l < WYE_FS_MAX_LEVELS; l++)
                if (fs->c[c].level_used[l]) {
                    sm += am[c][l];
                    used++;
                }
            for (unsigned l = 1; l < WYE_FS_MAX_LEVELS; l++) {
                if (!fs->c[c].level_used[l])
                    continue;
                double nm = (am[c][l] + EM_PRIOR) / (sm + EM_PRIOR * used);
                nm = nm < P_FLOOR ? P_FLOOR : nm;
                if (fabs(nm - m[c][l]) > change)
                    change = fabs(nm - m[c][l]);
                m[c][l] = nm;
            }
        }
        /* all pairs matches (or none): EM creeps towards the bound */
        bool bound = lambda > 1 - 1e-6 || lambda < 1e-6;
        if (change < fs->prm.em_tol || (bound && change < 1e-6))
            break;
    }
    an->converged = it <= fs->prm.em_max_iter;
    an->iterations = an->converged ? it : fs->prm.em_max_iter;
    an->matches = lambda * total;
    /* the last E step's expected matched pairs, by level */
    for (size_t k = 0; k < ncs; k++)
        for (unsigned l = 1; l < WYE_FS_MAX_LEVELS; l++)
            acc[cs[k]][l] += am[cs[k]][l];
}

/* The prior over all pairs: the lambda at which the expected number of
 * matches, the sum of the candidates' posterior match probabilities (pairs
 * that are not candidates counted as non-matches), is lambda x all pairs:
 * the fixed point of EM for lambda alone, m and u held, which maximises
 * the likelihood sum c_i log(lambda L_i + 1 - lambda) + (N - candidates)
 * log(1 - lambda) (L_i = 2^weight). The likelihood is concave, so its
 * derivative is found 0 by bisection (on log lambda). */
static double solve_prior(const wye_fs *fs, const patcount *pc, size_t npc, double all_pairs)
{
    double cand = 0;
    for (size_t i = 0; i < npc; i++)
        cand += pc[i].count;
    double lo = log(1e-12), hi = log(0.5);
    for (int it = 0; it < 100; it++) {
        double mid = 0.5 * (lo + hi), lam = exp(mid), d = -(all_pairs - cand) / (1.0 - lam);
        for (size_t i = 0; i < npc; i++) {
            double l1 = exp2(fs->weight[pc[i].pattern]) - 1.0;
            d += pc[i].count * l1 / (lam * l1 + 1.0);
        }
        if (d > 0)
            lo = mid;
        else
            hi = mid;
    }
    return exp(0.5 * (lo + hi));
}

/* What the data allow: at most k records of one person in each agency, so
 * at most k x the smaller agency's records matching pairs between two
 * agencies and (k - 1) / 2 x an agency's records within it. */
static double max_matches(const wye_recview *v, double k)
{
    double b = 0;
    for (size_t a = 0; a < v->nagencies; a++) {
        double na = (double)(v->agency_first[a + 1] - v->agency_first[a]);
        b += (k - 1.0) / 2.0 * na;
        for (size_t c = a + 1; c < v->nagencies; c++) {
            double nc = (double)(v->agency_first[c + 1] - v->agency_first[c]);
            b += k * (na < nc ? na : nc);
        }
    }
    return b;
}

/* Add a reason to r's and mark it implausible. */
__attribute__((format(printf, 2, 3))) static void implausible(wye_fs_fit_result *r,
                                                              const char *fmt, ...)
{
    size_t len = strlen(r->reason);
    if (len && len + 2 < sizeof r->reason) {
        memcpy(r->reason + len, "; ", 3);
        len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason + len, sizeof r->reason - len, fmt, ap);
    va_end(ap);
    r->implausible = true;
}

/* Flag what no right model would say. */
static void check_fit(const wye_fs *fs, const wye_fs_fit_params *prm, wye_fs_fit_result *r)
{
    if (r->expected_matches > r->max_matches)
        implausible(r,
                    "the model expects %.0f matches, more than the %.0f that %g records of a "
                    "person in each agency allow",
                    r->expected_matches, r->max_matches, prm->max_records_per_agency);
    for (size_t c = 0; c < fs->nc; c++) {
        if (!r->anchored[c])
            continue;
        if (fs->m[c][WYE_FS_EXACT] <= fs->u[c][WYE_FS_EXACT])
            implausible(r, "exact agreement on %s counts against a match", fs->c[c].name);
        if (fs->m[c][WYE_FS_DISAGREE] >= fs->u[c][WYE_FS_DISAGREE])
            implausible(r, "disagreement on %s counts for a match", fs->c[c].name);
    }
    for (unsigned k = 0; k < r->nanchors; k++)
        if (r->anchor[k].used && !r->anchor[k].converged)
            implausible(r, "EM on the pairs agreeing on %s did not converge", r->anchor[k].name);
    if (r->em.iterations && !r->em.converged)
        implausible(r, "EM over the candidate pairs did not converge");
}

/* m of every comparison by EM over all candidates, u kept (the fit when no
 * anchor has enough matches); the prior from EM's share of matches among
 * the candidates. */
static int fit_unanchored(wye_fs *fs, const uint64_t *counts, wye_fs_fit_result *r)
{
    double u[WYE_FS_MAX_COMPARISONS][WYE_FS_MAX_LEVELS];
    memcpy(u, fs->u, sizeof u);
    int rc = wye_fs_estimate(fs, counts, &r->em);
    if (rc == WYE_EINVAL) {
        /* too little variation to estimate: keep the starting model */
        memset(&r->em, 0, sizeof r->em);
        rc = WYE_OK;
    }
    memcpy(fs->u, u, sizeof u);
    compute_weights(fs);
    r->expected_matches = fs->lambda * (double)r->candidates;
    r->prior = r->expected_matches / (double)r->all_pairs;
    return rc;
}

/* m from the anchors' pooled expected matched pairs; a comparison with too
 * few of them (one that is part of every anchor with matches, such as the
 * names when no date of birth is held) takes m from EM over all
 * candidates. The prior by solve_prior. */
static double level_sum(const wye_fs *fs, size_t c, const double *acc)
{
    double tot = 0;
    for (unsigned l = 1; l < WYE_FS_MAX_LEVELS; l++)
        tot += fs->c[c].level_used[l] ? acc[l] : 0;
    return tot;
}

static int fit_anchored(wye_fs *fs, const uint64_t *counts, const patcount *pc, size_t npc,
                        double acc[][WYE_FS_MAX_LEVELS], const double acc2[][WYE_FS_MAX_LEVELS],
                        double min, wye_fs_fit_result *r)
{
    bool all = true;
    for (size_t c = 0; c < fs->nc; c++) {
        if (level_sum(fs, c, acc[c]) < min && level_sum(fs, c, acc2[c]) >= min)
            memcpy(acc[c], acc2[c], sizeof acc[c]);
        r->anchored[c] = level_sum(fs, c, acc[c]) >= min;
        all = all && (r->anchored[c] || !r->compared[c]); /* one never made needs no m */
    }
    if (!all) {
        double u[WYE_FS_MAX_COMPARISONS][WYE_FS_MAX_LEVELS];
        memcpy(u, fs->u, sizeof u);
        int rc = wye_fs_estimate(fs, counts, &r->em);
        memcpy(fs->u, u, sizeof u);
        if (rc == WYE_EINVAL)
            memset(&r->em, 0, sizeof r->em); /* keep the starting m */
        else if (rc != WYE_OK)
            return rc;
    }
    for (size_t c = 0; c < fs->nc; c++) {
        double tot = 0;
        unsigned used = 0;
        for (unsigned l = 1; l < WYE_FS_MAX_LEVELS; l++)
            if (fs->c[c].level_used[l]) {
                tot += acc[c][l];
                used++;
            }
        if (!r->compared[c])
            memcpy(fs->m[c], fs->u[c], sizeof fs->m[c]); /* weight 0 */
        if (!r->anchored[c])
            continue;
        for (unsigned l = 1; l < WYE_FS_MAX_LEVELS; l++) {
            if (!fs->c[c].level_used[l])
                continue;
            double m = (acc[c][l] + EM_PRIOR) / (tot + EM_PRIOR * used);
            fs->m[c][l] = m < P_FLOOR ? P_FLOOR : m;
        }
        if (fs->m[c][WYE_FS_DISAGREE] < M_DISAGREE_MIN) {
            double scale = (1.0 - M_DISAGREE_MIN) / (1.0 - fs->m[c][WYE_FS_DISAGREE]);
            for (unsigned l = 2; l < WYE_FS_MAX_LEVELS; l++)
                fs->m[c][l] *= scale;
            fs->m[c][WYE_FS_DISAGREE] = M_DISAGREE_MIN;
        }
    }
    compute_weights(fs);
    r->prior = solve_prior(fs, pc, npc, (double)r->all_pairs);
    r->expected_matches = r->prior * (double)r->all_pairs;
    if (all) {
        r->em.pairs = r->candidates;
        r->em.converged = true;
        for (unsigned k = 0; k < r->nanchors; k++)
            if (r->anchor[k].used) {
                if (r->anchor[k].iterations > r->em.iterations)
                    r->em.iterations = r->anchor[k].iterations;
                r->em.converged = r->em.converged && r->anchor[k].converged;
            }
    }
    return WYE_OK;
}

/* The candidates' patterns that agree exactly on every comparison of mask. */
static size_t select_exact(const wye_fs *fs, const patcount *pc, size_t npc, unsigned mask,
                           patcount *out)
{
    size_t k = 0;
    for (size_t i = 0; i < npc; i++) {
        bool all = true;
        for (size_t c = 0; c < fs->nc && all; c++)
            all = !(mask >> c & 1u) || pc[i].level[c] == WYE_FS_EXACT;
        if (all)
            out[k++] = pc[i];
    }
    return k;
}

/* One round of the fit with u as it is: m on the anchors (or by EM over
 * all candidates), then the prior. sub is scratch for npc patterns.
 * *anchored says whether some anchor was used. */
static int fit_round(wye_fs *fs, const uint64_t *counts, const patcount *pc, size_t npc,
                     patcount *sub, const wye_fs_fit_params *prm, wye_fs_fit_result *r,
                     bool *anchored)
{
    unsigned mask[WYE_FS_MAX_ANCHORS];
    /* expected matched pairs by comparison and level, pooled over the
     * anchors (acc) and the secondary anchors (acc2) */
    double acc[WYE_FS_MAX_COMPARISONS][WYE_FS_MAX_LEVELS] = {{0}};
    double acc2[WYE_FS_MAX_COMPARISONS][WYE_FS_MAX_LEVELS] = {{0}};
    bool any = false;
    memset(r->anchor, 0, sizeof r->anchor);
    memset(r->anchored, 0, sizeof r->anchored);
    memset(&r->em, 0, sizeof r->em);
    r->nanchors = find_anchors(fs, mask, r->anchor);
    for (unsigned k = 0; k < r->nanchors; k++) {
        wye_fs_fit_anchor *an = &r->anchor[k];
        double a[WYE_FS_MAX_COMPARISONS][WYE_FS_MAX_LEVELS] = {{0}};
        size_t ns = select_exact(fs, pc, npc, mask[k], sub);
        em_anchor(fs, sub, ns, mask[k], a, an);
        an->used = ns && !an->weak && an->matches >= prm->min_anchor_matches;
        for (size_t c = 0; an->used && c < fs->nc; c++)
            for (unsigned l = 0; l < WYE_FS_MAX_LEVELS; l++)
                (an->secondary ? acc2 : acc)[c][l] += a[c][l];
        any = any || (an->used && !an->secondary);
    }
    int rc = any ? fit_anchored(fs, counts, pc, npc, acc,
                                (const double(*)[WYE_FS_MAX_LEVELS])acc2, prm->min_anchor_matches, r)
                 : fit_unanchored(fs, counts, r);
    r->prior = r->prior > 0.5 ? 0.5 : r->prior < 1e-12 ? 1e-12 : r->prior;
    fs->lambda = r->prior;
    *anchored = any;
    return rc;
}

/* Random pairs are a mixture too: lambda of them matches, whose agreement
 * is m. Where chance agreement is rare (a date of birth, an NHS number) and
 * the data small, the matches among the random pairs are a large part of
 * the agreeing ones, and u read off them is too large (at 5,000 records,
 * five times for the date of birth). u = (f - lambda m) / (1 - lambda),
 * from the raw frequencies f, no less than one draw in all of them. Only
 * for an anchored fit: m from EM over all candidates can be far enough off
 * to take all agreement out of u. */
static void unmix_u(wye_fs *fs, const double f[][WYE_FS_MAX_LEVELS], uint64_t samples)
{
    double lam = fs->lambda, floor = 1.0 / (double)(samples + 1);
    for (size_t c = 0; c < fs->nc; c++) {
        double sum = 0;
        for (unsigned l = 1; l < WYE_FS_MAX_LEVELS; l++) {
            if (!fs->c[c].level_used[l])
                continue;
            double u = (f[c][l] - lam * fs->m[c][l]) / (1.0 - lam);
            fs->u[c][l] = u < floor ? floor : u;
            sum += fs->u[c][l];
        }
        for (unsigned l = 1; l < WYE_FS_MAX_LEVELS; l++)
            fs->u[c][l] /= fs->c[c].level_used[l] ? sum : 1.0;
    }
    compute_weights(fs);
}

static int cmp_double_desc(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? 1 : a > b ? -1 : 0;
}

int wye_fs_weight_for_false_share(const wye_fs *fs, const double *scores, size_t n,
                                  double max_share, double *out)
{
    if (!fs || !out || (n && !scores) || !(max_share > 0))
        return WYE_EINVAL;
    *out = -INFINITY;
    bool anchored = false;
    for (unsigned k = 0; k < fs->fit.nanchors; k++)
        anchored = anchored || (fs->fit.anchor[k].used && !fs->fit.anchor[k].secondary);
    if (!anchored || n == 0)
        return WYE_OK;
    double *sc = malloc(n * sizeof *sc);
    if (!sc)
        return WYE_ENOMEM;
    memcpy(sc, scores, n * sizeof *sc);
    qsort(sc, n, sizeof *sc, cmp_double_desc);
    double lo = log2((1.0 - fs->lambda) / fs->lambda), nonmatch = 0, best = sc[0];
    for (size_t i = 0; i < n;) {
        double w = sc[i];
        for (; i < n && sc[i] == w; i++)
            nonmatch += 1.0 / (1.0 + exp2(w - lo));
        if (nonmatch <= max_share * (double)i)
            best = i == n ? -INFINITY : w;
    }
    free(sc);
    *out = best;
    return WYE_OK;
}

/* Rounds of the fit: u is unmixed with each round's m and prior, until the
 * prior settles. */
#define FIT_ROUNDS 4

int wye_fs_fit(wye_fs *fs, const wye_recview *v, const uint64_t *counts,
               const wye_fs_fit_params *params, wye_fs_fit_result *res)
{
    wye_fs_fit_params prm;
    if (params)
        prm = *params;
    else
        wye_fs_default_fit_params(&prm);
    if (!fs || !v || !counts || !(prm.max_records_per_agency >= 1.0) || prm.u_samples == 0 ||
        !(prm.min_anchor_matches >= 0) || !(prm.max_false_share > 0))
        return WYE_EINVAL;
    wye_fs_fit_result *r = &fs->fit;
    memset(r, 0, sizeof *r);
    r->all_pairs = (uint64_t)v->n * (v->n ? v->n - 1 : 0) / 2;
    r->max_matches = max_matches(v, prm.max_records_per_agency);
    r->max_false_share = prm.max_false_share;
    size_t npc = 0;
    for (uint32_t pat = 0; pat < fs->npatterns; pat++)
        npc += counts[pat] != 0;
    patcount *pc = malloc((npc + 1) * sizeof *pc), *sub = malloc((npc + 1) * sizeof *sub);
    if (!pc || !sub) {
        free(pc);
        free(sub);
        return WYE_ENOMEM;
    }
    npc = 0;
    for (uint32_t pat = 0; pat < fs->npatterns; pat++)
        if (counts[pat]) {
            pc[npc] = (patcount){.pattern = pat, .count = (double)counts[pat]};
            for (size_t c = 0; c < fs->nc; c++) {
                pc[npc].level[c] = (uint8_t)wye_fs_level(fs, pat, c);
                r->compared[c] = r->compared[c] || pc[npc].level[c] != WYE_FS_MISSING;
            }
            npc++;
            r->candidates += counts[pat];
        }
    int rc = WYE_OK;
    if (r->candidates) {
        /* no more draws than there are pairs (and at least 100,000) */
        uint64_t samples = prm.u_samples;
        if (samples > r->all_pairs && r->all_pairs > 100000)
            samples = r->all_pairs;
        else if (samples > 100000 && r->all_pairs <= 100000)
            samples = 100000;
        r->u_samples = samples;
        rc = wye_fs_u_from_random(fs, v, samples, prm.seed, prm.threads);
        memcpy(fs->urand, fs->u, sizeof fs->urand);
        bool anchored = false;
        for (unsigned round = 0; rc == WYE_OK; round++) {
            double before = r->prior;
            rc = fit_round(fs, counts, pc, npc, sub, &prm, r, &anchored);
            if (!anchored || round + 1 == FIT_ROUNDS ||
                fabs(r->prior - before) <= 1e-3 * r->prior)
                break;
            unmix_u(fs, (const double(*)[WYE_FS_MAX_LEVELS])fs->urand, samples);
        }
        r->expected_matches = r->prior * (double)r->all_pairs;
        r->lambda_candidates = r->expected_matches / (double)r->candidates;
        check_fit(fs, &prm, r);
    } else {
        r->prior = fs->lambda;
    }
    free(pc);
    free(sub);
    if (rc == WYE_OK)
        rc = wye_fs_tf_build(fs, v, prm.threads);
    if (res)
        *res = *r;
    return rc;
}

int wye_fs_write_model(const wye_fs *fs, FILE *f)
{
    const wye_fs_fit_result *r = &fs->fit;
    int bad = 0;
    for (unsigned k = 0; k < r->nanchors; k++) {
        const wye_fs_fit_anchor *an = &r->anchor[k];
        bad |= fprintf(f, "  anchor %s%s: %llu pairs, %.0f matches expected%s%s\n", an->name,
                       an->secondary ? " (secondary)" : "", (unsigned long long)an->pairs,
                       an->matches,
                       an->used   ? ""
                       : an->weak ? ", not used: too little other evidence"
                                  : ", not used: too few",
                       an->used && !an->converged ? ", EM not converged" : "") < 0;
    }
    bad |= fprintf(f, "  expected matches %.0f (at most %.0f possible), prior %.3g\n",
                   r->expected_matches, r->max_matches, r->prior) < 0;
    for (size_t c = 0; c < fs->nc; c++) {
        const wye_fs_comparison *co = &fs->c[c];
        bad |= fprintf(f, "  %s%s:", co->name,
                       !r->candidates || r->anchored[c] ? ""
                       : !r->compared[c]                ? " (never compared)"
                                                        : " (m by EM over all candidates)") < 0;
        for (unsigned l = 1; l < co->nlevels; l++)
            if (co->level_used[l])
                bad |= fprintf(f, " %s m %.3g u %.3g (%+.2f)", wye_fs_level_name(l), fs->m[c][l],
                               fs->u[c][l], log2(fs->m[c][l] / fs->u[c][l])) < 0;
        bad |= fputc('\n', f) == EOF;
    }
    if (r->implausible)
        bad |= fprintf(f, "  implausible: %s\n", r->reason) < 0;
    return bad ? WYE_EIO : WYE_OK;
}
