/* Fellegi-Sunter scoring: comparison levels of known pairs, weights from
 * given probabilities, and EM recovering known m and u from simulated
 * agreement patterns. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "fixture.h"
#include "wyelink/fsscore.h"
#include "wyelink/linkage.h"
#include "wyelink/records.h"

static wye_protocol *proto;
static wye_fs *fs;

/* The model of the first five comparisons (the fields; attributes are
 * tested on their own below). */
static void setup(void)
{
    proto = fx_default_protocol();
    cr_assert(proto, "cannot load protocols/archive/wyelink-da-default-1.json (WYELINK_SOURCE_ROOT)");
    wye_fs_params prm;
    wye_fs_default_params(&prm);
    prm.attributes = false;
    cr_assert_eq(wye_fs_new(proto, &prm, &fs), WYE_OK);
}

static void teardown(void)
{
    wye_fs_free(fs);
    wye_protocol_free(proto);
}

TestSuite(fsscore, .init = setup, .fini = teardown);

static size_t comparison(const char *name)
{
    for (size_t c = 0; c < wye_fs_ncomparisons(fs); c++)
        if (!strcmp(wye_fs_comparison_at(fs, c)->name, name))
            return c;
    cr_assert_fail("no comparison %s", name);
    return 0;
}

Test(fsscore, comparisons_of_the_default_protocol)
{
    /* former_family_name is an alternate of family_name, sex has neither a
     * field filter nor a digest */
    cr_assert_eq(wye_fs_ncomparisons(fs), 5);
    const char *names[] = {"given_name", "family_name", "date_of_birth", "postcode",
                           "nhs_number"};
    const wye_fs_kind kinds[] = {WYE_FS_FILTER, WYE_FS_FILTER, WYE_FS_DIGEST, WYE_FS_FILTER,
                                 WYE_FS_DIGEST};
    for (size_t c = 0; c < 5; c++) {
        cr_assert_str_eq(wye_fs_comparison_at(fs, c)->name, names[c]);
        cr_assert_eq(wye_fs_comparison_at(fs, c)->kind, kinds[c]);
    }
    /* the name fields share kdf_id 1 and filter geometry: given and family
     * are compared across with each other (a swap), family also with its
     * alternate former_family_name */
    const wye_fs_comparison *gc = wye_fs_comparison_at(fs, 0), *fc = wye_fs_comparison_at(fs, 1);
    cr_assert_eq(gc->ncross, 1);
    cr_assert_eq(gc->cross[0], wye_protocol_field_index(proto, "family_name"));
    cr_assert(gc->cross_swap[0]);
    cr_assert_eq(fc->ncross, 2);
    cr_assert_eq(fc->cross[0], wye_protocol_field_index(proto, "given_name"));
    cr_assert(fc->cross_swap[0]);
    cr_assert_eq(fc->cross[1], wye_protocol_field_index(proto, "former_family_name"));
    cr_assert(!fc->cross_swap[1]);
    cr_assert_eq(wye_fs_comparison_at(fs, 3)->ncross, 0);
    /* a pattern has one digit per comparison, as many values as levels
     * used: 6 for names, 3 for digests, 5 for the postcode */
    cr_assert_eq(wye_fs_npatterns(fs), 6 * 6 * 3 * 5 * 3);
    /* by default the attributes that describe the person follow: the age
     * band (left out where the dates of birth agree) and sex */
    wye_fs *all;
    cr_assert_eq(wye_fs_new(proto, NULL, &all), WYE_OK);
    cr_assert_eq(wye_fs_ncomparisons(all), 7);
    const wye_fs_comparison *ab = wye_fs_comparison_at(all, 5), *sx = wye_fs_comparison_at(all, 6);
    cr_assert_str_eq(ab->name, "age_band");
    cr_assert_eq(ab->kind, WYE_FS_ATTR);
    cr_assert_eq(ab->given_by, 2, "the age band follows from the date of birth");
    cr_assert_str_eq(sx->name, "sex");
    cr_assert_eq(sx->kind, WYE_FS_ATTR);
    cr_assert_eq(sx->given_by, -1);
    cr_assert(sx->level_used[WYE_FS_DISAGREE] && sx->level_used[WYE_FS_EXACT] &&
              !sx->level_used[WYE_FS_PARTIAL] && !sx->level_used[WYE_FS_CLOSE]);
    cr_assert_eq(wye_fs_npatterns(all), 6 * 6 * 3 * 5 * 3 * 3 * 3);
    wye_fs_free(all);
}

/* A set of records made from people under protocol p, one agency; record
 * i's first attribute (the age band) is attr0[i] when attr0 is given. */
static wye_recset *make_set_attr(const wye_protocol *p, const fx_person *people, size_t n,
                                 const uint8_t *attr0)
{
    const wye_layout *lay = wye_protocol_layout(p);
    uint8_t *buf = calloc(n, lay->record_size);
    for (size_t i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%zu", i);
        fx_encode(p, &people[i], id, buf + i * lay->record_size);
        if (attr0)
            buf[i * lay->record_size + lay->attr_off] = attr0[i];
    }
    wye_recset *s;
    cr_assert_eq(wye_recset_new(p, NULL, &s), WYE_OK);
    cr_assert_eq(wye_recset_add_records(s, "police", "police.wye", NULL, buf, n, NULL), WYE_OK);
    cr_assert_eq(wye_recset_finish(s, 1), WYE_OK);
    free(buf);
    return s;
}

/* The same with both attributes of the default protocols that describe
 * the person: age band (attribute 0) and sex (attribute 1), 0 = missing. */
static wye_recset *make_set_attr2(const wye_protocol *p, const fx_person *people, size_t n,
                                  const uint8_t *band, const uint8_t *sex)
{
    const wye_layout *lay = wye_protocol_layout(p);
    uint8_t *buf = calloc(n, lay->record_size);
    for (size_t i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%zu", i);
        fx_encode(p, &people[i], id, buf + i * lay->record_size);
        buf[i * lay->record_size + lay->attr_off] = band[i];
        buf[i * lay->record_size + lay->attr_off + 1] = sex[i];
    }
    wye_recset *s;
    cr_assert_eq(wye_recset_new(p, NULL, &s), WYE_OK);
    cr_assert_eq(wye_recset_add_records(s, "police", "police.wye", NULL, buf, n, NULL), WYE_OK);
    cr_assert_eq(wye_recset_finish(s, 1), WYE_OK);
    free(buf);
    return s;
}

static size_t comparison_of(const wye_fs *m, const char *name);

static wye_recset *make_set_p(const wye_protocol *p, const fx_person *people, size_t n)
{
    return make_set_attr(p, people, n, NULL);
}

/* The same under the default protocol of these tests. */
static wye_recset *make_set(const fx_person *people, size_t n)
{
    return make_set_p(proto, people, n);
}

Test(fsscore, levels_of_known_pairs)
{
    const fx_person p[] = {
        /* 0 */ {"SARAH", NULL, "JONES", NULL, "19900102", "F", "WR1 2AB", "9434765919"},
        /* 1 the same */
        {"SARAH", NULL, "JONES", NULL, "19900102", "F", "WR1 2AB", "9434765919"},
        /* 2 given and family swapped, other DOB, no postcode, other NHS */
        {"JONES", NULL, "SARAH", NULL, "19900201", "F", NULL, "4010232137"},
        /* 3 back to her former family name, which is 0's family name */
        {"SARAH", NULL, "PRICE", "JONES", NULL, "F", "HR4 9ZZ", NULL},
        /* 4 nothing in common */
        {"XAVIERA", NULL, "QUIGLEY", NULL, "19610707", "F", "SY1 1AA", "4010232137"},
        /* 5 a typo in the given name */
        {"SARHA", NULL, "JONES", NULL, "19900102", "F", "WR1 2AB", NULL},
        /* 6 given name equal to 0's family name, but not swapped */
        {"JONES", NULL, "CLAY", NULL, "19900102", "F", NULL, NULL},
    };
    wye_recset *s = make_set(p, 7);
    const wye_recview *v = wye_recset_view(s);
    size_t g = comparison("given_name"), f = comparison("family_name"),
           d = comparison("date_of_birth"), pc = comparison("postcode"),
           nhs = comparison("nhs_number");
    uint32_t pat = wye_fs_pattern(fs, v, 0, 1);
    for (size_t c = 0; c < 5; c++)
        cr_assert_eq(wye_fs_level(fs, pat, c), WYE_FS_EXACT, "identical records, comparison %zu", c);
    pat = wye_fs_pattern(fs, v, 0, 2);
    cr_assert_eq(wye_fs_level(fs, pat, g), WYE_FS_CROSS);
    /* the swap counts once: in the given name's comparison */
    cr_assert_eq(wye_fs_level(fs, pat, f), WYE_FS_MISSING);
    cr_assert_eq(wye_fs_level(fs, pat, d), WYE_FS_DISAGREE);
    cr_assert_eq(wye_fs_level(fs, pat, pc), WYE_FS_MISSING);
    cr_assert_eq(wye_fs_level(fs, pat, nhs), WYE_FS_DISAGREE);
    pat = wye_fs_pattern(fs, v, 0, 3);
    cr_assert_eq(wye_fs_level(fs, pat, g), WYE_FS_EXACT);
    cr_assert_eq(wye_fs_level(fs, pat, f), WYE_FS_CROSS, "family name against former");
    cr_assert_eq(wye_fs_level(fs, pat, d), WYE_FS_MISSING);
    cr_assert_eq(wye_fs_level(fs, pat, nhs), WYE_FS_MISSING);
    /* the comparison is symmetric */
    cr_assert_eq(wye_fs_pattern(fs, v, 3, 0), pat);
    pat = wye_fs_pattern(fs, v, 0, 4);
    cr_assert_eq(wye_fs_level(fs, pat, g), WYE_FS_DISAGREE);
    cr_assert_eq(wye_fs_level(fs, pat, f), WYE_FS_DISAGREE);
    cr_assert_eq(wye_fs_level(fs, pat, d), WYE_FS_DISAGREE);
    /* one name equal to the other's other name is a coincidence, not a swap */
    pat = wye_fs_pattern(fs, v, 0, 6);
    cr_assert_eq(wye_fs_level(fs, pat, g), WYE_FS_DISAGREE);
    cr_assert_eq(wye_fs_level(fs, pat, f), WYE_FS_DISAGREE);
    /* a typo: the level is the band of the field filters' Dice */
    pat = wye_fs_pattern(fs, v, 0, 5);
    const wye_layout *lay = v->layout;
    int gi = wye_protocol_field_index(proto, "given_name");
    double dice = wye_dice(v->kernel, (const uint64_t *)(const void *)(wye_rec(v, 0) + lay->field_filter_off[gi]),
                           (const uint64_t *)(const void *)(wye_rec(v, 5) + lay->field_filter_off[gi]),
                           lay->field_filter_bytes[gi] / 8);
    cr_assert(dice > 0.5 && dice < 0.95, "typo Dice %g", dice);
    unsigned want = dice >= 0.75 ? WYE_FS_CLOSE : WYE_FS_PARTIAL;
    cr_assert_eq(wye_fs_level(fs, pat, g), want);
    cr_assert_eq(wye_fs_level(fs, pat, nhs), WYE_FS_MISSING);
    wye_recset_free(s);
}

Test(fsscore, levels_of_sex_and_age_band)
{
    /* sex: F = 1, M = 2 (values F, M, X); age bands 2 = 18-24, 3 = 25-34 */
    const fx_person p[] = {
        /* 0 */ {"SARAH", NULL, "JONES", NULL, "19990102", "F", NULL, NULL},
        /* 1 the same date of birth */
        {"SARAH", NULL, "JONES", NULL, "19990102", "F", NULL, NULL},
        /* 2 another date, the same band */
        {"SARAH", NULL, "JONES", NULL, "19990201", "M", NULL, NULL},
        /* 3 another date in another band */
        {"SARAH", NULL, "JONES", NULL, "19900102", NULL, NULL, NULL},
        /* 4 no date of birth, so no age band */
        {"SARAH", NULL, "JONES", NULL, NULL, "F", NULL, NULL},
    };
    const uint8_t band[] = {2, 2, 2, 3, 0};
    const uint8_t sex[] = {1, 1, 2, 0, 1};
    wye_recset *s = make_set_attr2(proto, p, 5, band, sex);
    const wye_recview *v = wye_recset_view(s);
    wye_fs *m;
    cr_assert_eq(wye_fs_new(proto, NULL, &m), WYE_OK);
    size_t ab = comparison_of(m, "age_band"), sx = comparison_of(m, "sex");
    size_t d = comparison_of(m, "date_of_birth");
    uint32_t pat = wye_fs_pattern(m, v, 0, 1);
    cr_assert_eq(wye_fs_level(m, pat, d), WYE_FS_EXACT);
    cr_assert_eq(wye_fs_level(m, pat, ab), WYE_FS_MISSING, "the band adds nothing to the date");
    cr_assert_eq(wye_fs_level(m, pat, sx), WYE_FS_EXACT);
    pat = wye_fs_pattern(m, v, 0, 2);
    cr_assert_eq(wye_fs_level(m, pat, d), WYE_FS_DISAGREE);
    cr_assert_eq(wye_fs_level(m, pat, ab), WYE_FS_EXACT);
    cr_assert_eq(wye_fs_level(m, pat, sx), WYE_FS_DISAGREE);
    pat = wye_fs_pattern(m, v, 2, 3);
    cr_assert_eq(wye_fs_level(m, pat, ab), WYE_FS_DISAGREE);
    cr_assert_eq(wye_fs_level(m, pat, sx), WYE_FS_MISSING, "one record has no sex");
    pat = wye_fs_pattern(m, v, 0, 4);
    cr_assert_eq(wye_fs_level(m, pat, ab), WYE_FS_MISSING);
    cr_assert_eq(wye_fs_level(m, pat, sx), WYE_FS_EXACT);
    /* weights by level, as for any comparison */
    double mm[WYE_FS_MAX_LEVELS] = {0, 0.01, 0, 0, 0.99, 0};
    double uu[WYE_FS_MAX_LEVELS] = {0, 0.3, 0, 0, 0.7, 0};
    cr_assert_eq(wye_fs_set(m, sx, mm, uu), WYE_OK);
    double w1 = wye_fs_weight(m, wye_fs_pattern(m, v, 0, 2)); /* sex disagrees */
    unsigned lv[WYE_FS_MAX_COMPARISONS];
    for (size_t c = 0; c < wye_fs_ncomparisons(m); c++)
        lv[c] = wye_fs_level(m, wye_fs_pattern(m, v, 0, 2), c);
    lv[sx] = WYE_FS_MISSING;
    cr_assert(fabs(w1 - wye_fs_weight(m, wye_fs_make_pattern(m, lv)) - log2(0.01 / 0.3)) < 1e-12);
    /* attributes off: the comparisons of the fields alone */
    wye_fs_params prm;
    wye_fs_default_params(&prm);
    prm.age_band = false;
    wye_fs *m2;
    cr_assert_eq(wye_fs_new(proto, &prm, &m2), WYE_OK);
    cr_assert_eq(wye_fs_ncomparisons(m2), 6);
    cr_assert_str_eq(wye_fs_comparison_at(m2, 5)->name, "sex");
    wye_fs_free(m2);
    wye_fs_free(m);
    wye_recset_free(s);
}

Test(fsscore, weight_is_sum_of_log_ratios)
{
    double m[WYE_FS_MAX_LEVELS] = {0, 0.05, 0.05, 0.1, 0.75, 0.05};
    double u[WYE_FS_MAX_LEVELS] = {0, 0.9, 0.05, 0.02, 0.02, 0.01};
    for (size_t c = 0; c < wye_fs_ncomparisons(fs); c++)
        cr_assert_eq(wye_fs_set(fs, c, m, u), WYE_OK);
    cr_assert_eq(wye_fs_set_lambda(fs, 0.01), WYE_OK);
    unsigned lv[5] = {WYE_FS_EXACT, WYE_FS_CROSS, WYE_FS_MISSING, WYE_FS_PARTIAL,
                      WYE_FS_DISAGREE};
    uint32_t pat = wye_fs_make_pattern(fs, lv);
    for (size_t c = 0; c < 5; c++)
        cr_assert_eq(wye_fs_level(fs, pat, c), lv[c]);
    double want = log2(0.75 / 0.02) + log2(0.05 / 0.01) + 0 + log2(0.05 / 0.05) +
                  log2(0.05 / 0.9);
    cr_assert(fabs(wye_fs_weight(fs, pat) - want) < 1e-12);
    /* thresholds: the posterior at the weight chosen for p is p */
    double w = wye_fs_weight_for_posterior(fs, 0.5);
    cr_assert(fabs(w - log2(99.0)) < 1e-12);
    cr_assert(fabs(wye_fs_posterior(fs, w) - 0.5) < 1e-12);
    cr_assert(fabs(wye_fs_posterior(fs, wye_fs_weight_for_posterior(fs, 0.05)) - 0.05) < 1e-12);
    double bad[WYE_FS_MAX_LEVELS] = {0, 0, 0.5, 0.5, 0.5, 0.5};
    cr_assert_eq(wye_fs_set(fs, 0, bad, u), WYE_EINVAL);
}

static uint64_t rs = 12345;
static double urand(void)
{
    rs = rs * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rs >> 11) / 9007199254740992.0;
}

static unsigned draw(const double *p, const bool *used)
{
    double x = urand(), acc = 0;
    unsigned last = 1;
    for (unsigned l = 1; l < WYE_FS_MAX_LEVELS; l++) {
        if (!used[l])
            continue;
        acc += p[l];
        last = l;
        if (x < acc)
            return l;
    }
    return last;
}

/* Patterns drawn from a known model; EM, which never sees the classes,
 * must recover m, u and lambda. */
Test(fsscore, em_recovers_known_probabilities)
{
    const size_t nc = wye_fs_ncomparisons(fs);
    double m[5][WYE_FS_MAX_LEVELS] = {
        {0, 0.03, 0.07, 0.12, 0.73, 0.05}, /* given name */
        {0, 0.05, 0.05, 0.08, 0.70, 0.12}, /* family name */
        {0, 0.08, 0, 0, 0.92, 0},          /* date of birth */
        {0, 0.30, 0.05, 0.05, 0.60, 0},    /* postcode */
        {0, 0.03, 0, 0, 0.97, 0},          /* NHS number */
    };
    double u[5][WYE_FS_MAX_LEVELS] = {
        {0, 0.85, 0.08, 0.03, 0.03, 0.01},
        {0, 0.88, 0.06, 0.02, 0.02, 0.02},
        {0, 0.90, 0, 0, 0.10, 0},
        {0, 0.93, 0.04, 0.02, 0.01, 0},
        {0, 0.999, 0, 0, 0.001, 0},
    };
    const double missing[5] = {0.02, 0.05, 0.15, 0.3, 0.6};
    const double lambda = 0.08;
    uint64_t *counts = calloc(wye_fs_npatterns(fs), sizeof *counts);
    for (int i = 0; i < 400000; i++) {
        bool match = urand() < lambda;
        unsigned lv[5];
        for (size_t c = 0; c < nc; c++) {
            const wye_fs_comparison *co = wye_fs_comparison_at(fs, c);
            lv[c] = urand() < missing[c] ? WYE_FS_MISSING
                                          : draw(match ? m[c] : u[c], co->level_used);
        }
        counts[wye_fs_make_pattern(fs, lv)]++;
    }
    wye_fs_em_result res;
    cr_assert_eq(wye_fs_estimate(fs, counts, &res), WYE_OK);
    cr_assert(res.converged, "EM did not converge in %u iterations", res.iterations);
    cr_assert_eq(res.pairs, 400000);
    cr_assert(fabs(wye_fs_lambda(fs) - lambda) < 0.005, "lambda %g", wye_fs_lambda(fs));
    for (size_t c = 0; c < nc; c++) {
        const wye_fs_comparison *co = wye_fs_comparison_at(fs, c);
        for (unsigned l = 1; l < co->nlevels; l++) {
            if (!co->level_used[l])
                continue;
            cr_assert(fabs(wye_fs_m(fs, c, l) - m[c][l]) < 0.015, "m %s %s: %g, want %g",
                      co->name, wye_fs_level_name(l), wye_fs_m(fs, c, l), m[c][l]);
            cr_assert(fabs(wye_fs_u(fs, c, l) - u[c][l]) < 0.01, "u %s %s: %g, want %g",
                      co->name, wye_fs_level_name(l), wye_fs_u(fs, c, l), u[c][l]);
        }
    }
    /* deterministic: the same counts give the same model */
    double w1 = wye_fs_weight(fs, 7);
    cr_assert_eq(wye_fs_estimate(fs, counts, NULL), WYE_OK);
    cr_assert_eq(wye_fs_weight(fs, 7), w1);
    free(counts);
}

/* ---- salted filters and the record-level fallback ---- */

static wye_protocol *variant(const char *file)
{
    const char *root = getenv("WYELINK_SOURCE_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/protocols/variants/%s", root ? root : ".", file);
    wye_protocol *p = NULL;
    wye_diag d;
    cr_assert_eq(wye_protocol_load(path, &p, &d), WYE_OK, "%s", file);
    return p;
}


static size_t comparison_of(const wye_fs *m, const char *name)
{
    for (size_t c = 0; c < wye_fs_ncomparisons(m); c++)
        if (!strcmp(wye_fs_comparison_at(m, c)->name, name))
            return c;
    cr_assert_fail("no comparison %s", name);
    return 0;
}

static const fx_person salted_people[] = {
    /* 0 */ {"SARAH", NULL, "JONES", NULL, "19900102", "F", "WR1 2AB", NULL},
    /* 1 the same person without a date of birth: another salt group */
    {"SARAH", NULL, "JONES", NULL, NULL, "F", "WR1 2AB", NULL},
    /* 2 the same, another day of the same year: the digests differ */
    {"SARAH", NULL, "JONES", NULL, "19900201", "F", "WR1 2AB", NULL},
    /* 3 the same record */
    {"SARAH", NULL, "JONES", NULL, "19900102", "F", "WR1 2AB", NULL},
};

Test(fsscore, salted_field_filters_and_fallback)
{
    /* field filters salted with the year of birth, record-level filter not:
     * the record-level Dice is a fallback comparison */
    wye_protocol *p = variant("fh-salt.r-bal.json");
    wye_fs *m;
    cr_assert_eq(wye_fs_new(p, NULL, &m), WYE_OK);
    size_t g = comparison_of(m, "given_name"), pc = comparison_of(m, "postcode"),
           r = comparison_of(m, "record_filter");
    cr_assert(wye_fs_comparison_at(m, r)->fallback);
    cr_assert_eq(wye_fs_comparison_at(m, r)->kind, WYE_FS_RECORD);
    wye_recset *s = make_set_p(p, salted_people, 4);
    const wye_recview *v = wye_recset_view(s);
    /* one record without the salt field: its salted filters are not
     * comparable (missing, not a disagreement); the fallback is scored */
    uint32_t pat = wye_fs_pattern(m, v, 0, 1);
    cr_assert_eq(wye_fs_level(m, pat, g), WYE_FS_MISSING);
    cr_assert_eq(wye_fs_level(m, pat, pc), WYE_FS_MISSING);
    cr_assert_neq(wye_fs_level(m, pat, r), WYE_FS_MISSING);
    cr_assert_eq(wye_fs_pattern(m, v, 1, 0), pat, "symmetric");
    /* both have it but the dates differ: names compared, and the fallback
     * too (the years may differ) */
    pat = wye_fs_pattern(m, v, 0, 2);
    cr_assert_eq(wye_fs_level(m, pat, g), WYE_FS_EXACT);
    cr_assert_neq(wye_fs_level(m, pat, r), WYE_FS_MISSING);
    /* same date: one salt group, no fallback */
    pat = wye_fs_pattern(m, v, 0, 3);
    cr_assert_eq(wye_fs_level(m, pat, g), WYE_FS_EXACT);
    cr_assert_eq(wye_fs_level(m, pat, r), WYE_FS_MISSING);
    wye_recset_free(s);
    wye_fs_free(m);
    wye_protocol_free(p);

    /* both salted by the same field: no fallback, and the record-level
     * filter is not compared across salt groups either */
    p = variant("fh-salt.r-salt-xor.json");
    cr_assert_eq(wye_fs_new(p, NULL, &m), WYE_OK);
    for (size_t c = 0; c < wye_fs_ncomparisons(m); c++)
        cr_assert_neq(wye_fs_comparison_at(m, c)->kind, WYE_FS_RECORD);
    wye_fs_free(m);
    wye_fs_params prm;
    wye_fs_default_params(&prm);
    prm.record_dice = true;
    cr_assert_eq(wye_fs_new(p, &prm, &m), WYE_OK);
    r = comparison_of(m, "record_filter");
    cr_assert_not(wye_fs_comparison_at(m, r)->fallback);
    s = make_set_p(p, salted_people, 4);
    v = wye_recset_view(s);
    cr_assert_eq(wye_fs_level(m, wye_fs_pattern(m, v, 0, 1), r), WYE_FS_MISSING);
    cr_assert_neq(wye_fs_level(m, wye_fs_pattern(m, v, 0, 2), r), WYE_FS_MISSING);
    wye_recset_free(s);
    wye_fs_free(m);
    wye_protocol_free(p);

    /* unsalted protocols are scored as before: no fallback comparison */
    for (size_t c = 0; c < wye_fs_ncomparisons(fs); c++)
        cr_assert_neq(wye_fs_comparison_at(fs, c)->kind, WYE_FS_RECORD);
}

Test(fsscore, link_scores_the_record_filter_without_field_filters)
{
    /* rec-none: record-level filter and two digests, no field filter */
    wye_protocol *p = variant("rec-none.json");
    fx_person people[40];
    char given[40][16], family[40][16], dob[40][9];
    for (size_t i = 0; i < 40; i++) {
        snprintf(given[i], 16, "NAME%c%c", (char)('A' + i % 20), (char)('A' + i / 20));
        snprintf(family[i], 16, "FAM%c", (char)('A' + i % 20));
        snprintf(dob[i], 9, "19%02zu0%zu1%zu", 50 + i % 20, 1 + i % 9, i % 10);
        people[i] = (fx_person){given[i], NULL, family[i], NULL, dob[i], "F", NULL, NULL};
    }
    wye_recset *s = make_set_p(p, people, 40);
    for (int autom = 0; autom < 2; autom++) {
        wye_link_params lp;
        wye_link_default_params(&lp);
        cr_assert(lp.record_dice_auto, "on by default");
        lp.record_dice_auto = autom;
        lp.threads = 1;
        lp.blocking.exhaustive = true;
        wye_linkage *l = NULL;
        cr_assert_eq(wye_link_run(s, &lp, &l, NULL), WYE_OK);
        const wye_fs *m = wye_linkage_model(l);
        bool rec = false;
        for (size_t c = 0; c < wye_fs_ncomparisons(m); c++)
            rec = rec || wye_fs_comparison_at(m, c)->kind == WYE_FS_RECORD;
        cr_assert_eq(rec, autom, "record-level comparison when automatic: %d", autom);
        wye_linkage_free(l);
    }
    wye_recset_free(s);
    wye_protocol_free(p);
}

Test(fsscore, salted_protocol_links_deterministically)
{
    /* salted field filters with the record-level fallback: the same
     * persons for 1 and 2 threads */
    wye_protocol *p = variant("fh-salt.r-bal.json");
    enum { N = 300 };
    static fx_person people[N];
    static char given[N][16], family[N][16], dob[N][9];
    for (size_t i = 0; i < N; i++) {
        size_t who = i % 120; /* 120 people, some seen two or three times */
        snprintf(given[i], 16, "G%c%c%c", (char)('A' + who % 7), (char)('A' + who / 7 % 5),
                 (char)('K' + who % 3));
        snprintf(family[i], 16, "F%c%cX", (char)('A' + who % 11), (char)('A' + who / 11));
        snprintf(dob[i], 9, "19%02zu%02zu%02zu", 40 + who % 50, 1 + who % 12, 1 + who % 28);
        people[i] = (fx_person){given[i], NULL, family[i], NULL, i % 7 == 3 ? NULL : dob[i],
                                "F", NULL, NULL};
    }
    wye_recset *s = make_set_p(p, people, N);
    uint32_t person[2][N];
    for (unsigned t = 0; t < 2; t++) {
        wye_link_params lp;
        wye_link_default_params(&lp);
        lp.threads = t + 1;
        wye_linkage *l = NULL;
        cr_assert_eq(wye_link_run(s, &lp, &l, NULL), WYE_OK);
        for (size_t i = 0; i < N; i++)
            person[t][i] = wye_linkage_person(l, i);
        wye_linkage_free(l);
    }
    cr_assert_arr_eq(person[0], person[1], sizeof person[0]);
    wye_recset_free(s);
    wye_protocol_free(p);
}

/* summary.json's profiles: unique persons by each attribute value their
 * records carry, a person counted under every value it shows, "missing"
 * for persons with none. */
Test(fsscore, summary_counts_persons_by_attribute)
{
    static const fx_person who[] = {
        {"AMELIA", NULL, "WARD", NULL, "19910817", "F", "HR1 2AB", NULL},
        {"BRONWEN", NULL, "PRICE", NULL, "19700304", "F", "HR4 9QT", NULL},
        {"CARYS", NULL, "LLOYD", NULL, "19850612", "F", "WR5 1DD", NULL},
        {"DELYTH", NULL, "MORGAN", NULL, "19601120", "F", "SY1 3EF", NULL},
    };
    /* A twice (18-24 both), B once (25-34), C twice (18-24, then 25-34),
     * D once without an age band */
    static const int person[] = {0, 0, 1, 2, 2, 3};
    static const uint8_t band[] = {2, 2, 3, 2, 3, 0}; /* age_band is attribute 0 */
    enum { N = sizeof person / sizeof person[0] };
    fx_person recs[N];
    for (size_t i = 0; i < N; i++)
        recs[i] = who[person[i]];
    wye_recset *s = make_set_attr(proto, recs, N, band);
    wye_link_params lp;
    wye_link_default_params(&lp);
    lp.threads = 1;
    lp.blocking.exhaustive = true;
    lp.match = 5, lp.match_given = true;
    lp.possible = 2, lp.possible_given = true;
    wye_linkage *l = NULL;
    cr_assert_eq(wye_link_run(s, &lp, &l, NULL), WYE_OK);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_eq(wye_linkage_write_summary(l, f, true), WYE_OK);
    fclose(f);
    json_t *j = json_loads(text, 0, NULL);
    cr_assert_not_null(j, "%s", text);
    cr_assert_eq(json_integer_value(json_object_get(j, "unique_persons")), 4, "%s", text);
    json_t *ab = json_object_get(json_object_get(j, "persons_by_attribute"), "age_band");
    json_t *v = json_object_get(ab, "values");
    cr_expect_eq(json_integer_value(json_object_get(v, "18-24")), 2, "%s", text);
    cr_expect_eq(json_integer_value(json_object_get(v, "25-34")), 2, "%s", text);
    cr_expect_eq(json_integer_value(json_object_get(v, "35-44")), 0, "%s", text);
    cr_expect_eq(json_integer_value(json_object_get(ab, "missing")), 1, "%s", text);
    json_decref(j);
    free(text);
    wye_linkage_free(l);
    wye_recset_free(s);
}
