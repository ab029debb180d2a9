/* The generator's population (testdata/README.md, "The population").
 *
 * Every person enters through one agency (their cohort) and is known to
 * agencies later in the cohort order with a probability that depends on the
 * cohort: MARAC, IDVA, ASC, housing, WMWA, GP, police. So everyone at MARAC
 * is in the MARAC cohort (and mostly known to police and the IDVA), ASC
 * clients are mostly known to their GP, and police and GP cohorts are mostly
 * known to one agency only. Cohort sizes are solved from the record targets
 * (a triangular system), so the expected number of records of each agency is
 * its target times the scale.
 *
 * A person's membership and truth (names, date of birth, NHS number,
 * postcodes) come from their own random streams, so a person is regenerated
 * wherever needed instead of stored. */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synth_internal.h"

/* Records of each agency at scale 1 (Herefordshire 2022/23). */
static const double target_records[NA] = {2000, 1400, 310, 1100, 230, 190, 180};
/* Mean extra records of one person within an agency (repeat incidents,
 * duplicate registrations, repeat referrals). */
static const double extra_mean[NA] = {0.30, 0.06, 0.10, 0.10, 0.20, 0.05, 0.08};
/* High-risk victims (MARAC and IDVA cohorts) have more police incidents. */
#define POLICE_EXTRA_HIGH_RISK 0.90
/* Cohorts in order: a person is known only to their own agency and to
 * agencies later in this order. */
static const int cohort_order[NA] = {MARAC, IDVA, ASC, HOUS, WMWA, GP, POL};
/* P(also known to agency a | cohort c), for a later than c in the order. */
static const double also_in[NA][NA] = {
    /*           POL   GP    ASC   WMWA  MARAC IDVA  HOUS */
    [POL] = {0},
    [GP] = {0.15, 0, 0, 0, 0, 0, 0},
    [ASC] = {0.25, 0.80, 0, 0.10, 0, 0, 0.05},
    [WMWA] = {0.35, 0.25, 0, 0, 0, 0, 0},
    [MARAC] = {0.88, 0.45, 0.10, 0.50, 0, 0.72, 0.16},
    [IDVA] = {0.65, 0.35, 0.05, 0.45, 0, 0, 0.12},
    [HOUS] = {0.40, 0.30, 0, 0.35, 0, 0, 0},
};
/* Share of women by cohort; a women's-aid charity sees few men. */
static const double female_share[NA] = {0.78, 0.85, 0.70, 0.97, 0.94, 0.93, 0.82};
static const double male_factor[NA] = {1, 1, 1, 0.15, 1, 1, 1};
/* Share of the population living in the county at scale 1; at larger scales
 * the rest of the population is national. */
#define LOCAL_SHARE 0.88
/* Persons currently in a refuge, by cohort (address withheld). */
static const double refuge_share[NA] = {0.02, 0.01, 0.02, 0.18, 0.15, 0.12, 0.10};

/* ---------------------------------------------------------------- model */

static double extra_for(int cohort, int agency)
{
    if (agency == POL && (cohort == MARAC || cohort == IDVA))
        return POLICE_EXTRA_HIGH_RISK;
    return extra_mean[agency];
}

static int cohort_pos(int agency)
{
    for (int k = 0; k < NA; k++)
        if (cohort_order[k] == agency)
            return k;
    return -1;
}

/* P(a person of cohort c is known to agency a), averaged over sex. */
static double inclusion(int c, int a)
{
    if (a == c)
        return 1;
    if (cohort_pos(a) < cohort_pos(c))
        return 0;
    return also_in[c][a] * (female_share[c] + (1 - female_share[c]) * male_factor[a]);
}

void synth_population_plan(wye_synth *g)
{
    /* Solve the cohort sizes from the record targets, in cohort order: the
     * cohorts before c add their members known to c. */
    double n[NA] = {0};
    for (int k = 0; k < NA; k++) {
        int c = cohort_order[k];
        double rec = target_records[c];
        for (int j = 0; j < k; j++) {
            int d = cohort_order[j];
            rec -= n[d] * inclusion(d, c) * (1 + extra_for(d, c));
        }
        n[c] = rec / (1 + extra_for(c, c));
        assert(n[c] > 0);
    }
    uint64_t end = 0;
    for (int k = 0; k < NA; k++) {
        end += (uint64_t)llround(n[cohort_order[k]] * g->s.scale);
        g->cohort_end[k] = end;
    }
    g->npersons = end;
    for (int a = 0; a < NA; a++) {
        double e = 0;
        for (int c = 0; c < NA; c++)
            e += n[c] * inclusion(c, a) * (1 + extra_for(c, a));
        g->expected[a] = e * g->s.scale;
    }
    g->local_share = g->s.scale <= 1 ? LOCAL_SHARE : LOCAL_SHARE / g->s.scale;
}

void synth_membership(const wye_synth *g, uint64_t p, membership *m)
{
    int k = 0;
    while (k < NA - 1 && p >= g->cohort_end[k])
        k++;
    m->cohort = cohort_order[k];
    synth_rng r;
    synth_rng_init(&r, g->s.seed, STREAM_MEMBER, p, 0);
    m->sex = synth_chance(&r, female_share[m->cohort]) ? 'F' : 'M';
    for (int a = 0; a < NA; a++) {
        double u = synth_uniform(&r);
        double pin = a == m->cohort ? 1
                     : cohort_pos(a) < k ? 0
                     : also_in[m->cohort][a] * (m->sex == 'M' ? male_factor[a] : 1);
        m->nrec[a] = 0;
        if (u < pin) {
            double e = extra_for(m->cohort, a), cont = e / (1 + e);
            unsigned n = 1;
            while (n < 31 && synth_chance(&r, cont))
                n++;
            m->nrec[a] = (uint8_t)n;
        }
    }
}

/* ---------------------------------------------------------------- persons */

static const char inward_letters[] = "ABDEFGHJLNPQRSTUWXYZ";

static void make_postcode(const wye_synth *g, synth_rng *r, char out[9])
{
    const synth_lists *l = &g->lists;
    const char *oc = synth_chance(r, g->local_share)
                         ? l->out_local[synth_below(r, l->nlocal)]
                         : l->out_all[synth_below(r, l->nall)];
    size_t k = strlen(oc);
    assert(k <= 4);
    memcpy(out, oc, k);
    out[k] = ' ';
    out[k + 1] = (char)('0' + synth_below(r, 10));
    out[k + 2] = inward_letters[synth_below(r, 20)];
    out[k + 3] = inward_letters[synth_below(r, 20)];
    out[k + 4] = '\0';
}

int wye_synth_nhs_valid(const char digits[10])
{
    unsigned sum = 0;
    for (int i = 0; i < 10; i++)
        if (digits[i] < '0' || digits[i] > '9')
            return 0;
    for (int i = 0; i < 9; i++)
        sum += (unsigned)(digits[i] - '0') * (unsigned)(10 - i);
    unsigned check = 11 - sum % 11;
    if (check == 11)
        check = 0;
    return check != 10 && check == (unsigned)(digits[9] - '0');
}

static void make_nhs(synth_rng *r, char out[11])
{
    for (;;) {
        /* England's ranges start 4xx or 6xx-7xx. */
        unsigned lead = synth_chance(r, 0.5) ? 400 + (unsigned)synth_below(r, 100)
                                             : 600 + (unsigned)synth_below(r, 200);
        put_digits(out, lead, 3);
        put_digits(out + 3, (unsigned)synth_below(r, 1000000), 6);
        out[9] = '0';
        out[10] = '\0';
        unsigned sum = 0;
        for (int i = 0; i < 9; i++)
            sum += (unsigned)(out[i] - '0') * (unsigned)(10 - i);
        unsigned check = (11 - sum % 11) % 11;
        if (check == 10)
            continue;
        out[9] = (char)('0' + check);
        return;
    }
}

/* Age at the extract date: piecewise uniform over bands. */
static const struct { int lo, hi; double w, w_asc; } age_bands[] = {
    {16, 20, .10, .00}, {18, 20, .00, .03}, {20, 25, .14, .04}, {25, 30, .15, .06},
    {30, 35, .14, .07}, {35, 40, .12, .08}, {40, 45, .10, .08}, {45, 50, .08, .09},
    {50, 55, .06, .09}, {55, 60, .04, .09}, {60, 70, .04, .15}, {70, 80, .02, .13},
    {80, 95, .01, .09},
};

void synth_make_person(const wye_synth *g, uint64_t p, const membership *m, person *x)
{
    const synth_lists *l = &g->lists;
    synth_rng r;
    synth_rng_init(&r, g->s.seed, STREAM_PERSON, p, 0);
    memset(x, 0, sizeof *x);
    x->id = p;
    x->cohort = m->cohort;
    x->sex = m->sex;

    /* Date of birth. */
    const bool asc = m->cohort == ASC;
    double tw = 0, u;
    for (size_t i = 0; i < sizeof age_bands / sizeof age_bands[0]; i++)
        tw += asc ? age_bands[i].w_asc : age_bands[i].w;
    u = synth_uniform(&r) * tw;
    size_t band = 0;
    for (; band < sizeof age_bands / sizeof age_bands[0] - 1; band++) {
        double w = asc ? age_bands[band].w_asc : age_bands[band].w;
        if (u < w)
            break;
        u -= w;
    }
    int64_t lo_days = (int64_t)(age_bands[band].lo * 365.25),
            hi_days = (int64_t)(age_bands[band].hi * 365.25);
    int64_t age_days = lo_days + (int64_t)synth_below(&r, (uint64_t)(hi_days - lo_days));
    synth_civil_from_days(g->eday - age_days, &x->by, &x->bm, &x->bd);

    /* Names. */
    x->glist = m->sex == 'F' ? &l->female : &l->male;
    x->given = synth_list_draw(x->glist, &r);
    x->accented = x->glist->accent[x->given] && synth_chance(&r, 0.35);
    double mu = synth_uniform(&r);
    x->nmiddle = mu < 0.45 ? 1 : mu < 0.50 ? 2 : 0;
    for (int i = 0; i < x->nmiddle; i++)
        x->middle[i] = x->glist->names[synth_list_draw(x->glist, &r)];
    x->fam1 = l->surname.names[synth_list_draw(&l->surname, &r)];
    if (synth_chance(&r, 0.03)) {
        const char *second = l->surname.names[synth_list_draw(&l->surname, &r)];
        if (strcmp(second, x->fam1))
            x->fam2 = second;
    }
    if (synth_chance(&r, m->sex == 'F' ? 0.25 : 0.05)) {
        const char *former = l->surname.names[synth_list_draw(&l->surname, &r)];
        if (strcmp(former, x->fam1))
            x->former = former;
    }

    make_nhs(&r, x->nhs);
    make_postcode(g, &r, x->pc[0]);
    make_postcode(g, &r, x->pc[1]);
    x->moved = synth_chance(&r, 0.30);
    x->refuge = synth_chance(&r, refuge_share[m->cohort]);
}
