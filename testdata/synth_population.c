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

/* Households: a person may be related to the person before them in the same
 * cohort (their anchor) and live at the same address with the same family
 * name: a twin (same date of birth), a partner who took the anchor's name, an
 * adult child or a sibling. They are different persons in the truth, the
 * case a linker must never merge. Shares of persons, by kind (KIN_*). */
static const double kin_share[KIN_COUNT] = {0, 0.010, 0.025, 0.015, 0.010};
/* Women who have another family name, and the share of those who left the
 * partner whose name they used during the extract year (renamed). */
#define FORMER_SHARE_F 0.25
#define FORMER_SHARE_M 0.05
#define RENAMED_SHARE 0.40
/* People who go by a nickname (when their name has one). */
#define NICK_SHARE 0.20
/* People of the county whose surname is a Welsh-border one. */
#define BORDER_SHARE 0.12
/* Born before the name lists' years: drawn from the sharpened list. */
#define OLD_NAMES_BEFORE 1996

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

/* The household draw of person p: uniform in [0, 1). */
static double kin_draw(const wye_synth *g, uint64_t p)
{
    synth_rng r;
    synth_rng_init(&r, g->s.seed, STREAM_HOUSE, p, 0);
    return synth_uniform(&r);
}

/* The kind of relative p is of p - 1 (KIN_NONE if none). A person whose own
 * draw makes them a relative is never an anchor, so there are no chains and
 * an anchor's details never depend on another person's. */
static int kin_of(const wye_synth *g, uint64_t p, int k)
{
    double total = 0;
    for (int i = 1; i < KIN_COUNT; i++)
        total += kin_share[i];
    if (p == 0 || (k > 0 && p - 1 < g->cohort_end[k - 1]))
        return KIN_NONE; /* the first of a cohort */
    double u = kin_draw(g, p);
    if (u >= total || kin_draw(g, p - 1) < total)
        return KIN_NONE;
    int kind = 1;
    for (double c = kin_share[1]; kind < KIN_COUNT - 1 && u >= c; c += kin_share[kind])
        kind++;
    return kind;
}

void synth_membership(const wye_synth *g, uint64_t p, membership *m)
{
    int k = 0;
    while (k < NA - 1 && p >= g->cohort_end[k])
        k++;
    m->cohort = cohort_order[k];
    m->kin = (uint8_t)kin_of(g, p, k);
    /* A women's-aid charity's clients are women: no partners there. */
    if (m->kin == KIN_PARTNER && m->cohort == WMWA)
        m->kin = KIN_SIBLING;
    synth_rng r;
    synth_rng_init(&r, g->s.seed, STREAM_MEMBER, p, 0);
    m->sex = synth_chance(&r, female_share[m->cohort]) ? 'F' : 'M';
    if (m->kin == KIN_PARTNER) { /* the anchor's sex is their first draw */
        synth_rng ra;
        synth_rng_init(&ra, g->s.seed, STREAM_MEMBER, p - 1, 0);
        m->sex = synth_chance(&ra, female_share[m->cohort]) ? 'M' : 'F';
    }
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

static void make_postcode(const wye_synth *g, synth_rng *r, bool local, char out[9])
{
    const synth_lists *l = &g->lists;
    const char *oc = local ? l->out_local[synth_below(r, l->nlocal)]
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

/* Age at the extract date in days, from the bands. */
static int64_t draw_age_days(synth_rng *r, bool asc)
{
    double tw = 0, u;
    const size_t nb = sizeof age_bands / sizeof age_bands[0];
    for (size_t i = 0; i < nb; i++)
        tw += asc ? age_bands[i].w_asc : age_bands[i].w;
    u = synth_uniform(r) * tw;
    size_t band = 0;
    for (; band < nb - 1; band++) {
        double w = asc ? age_bands[band].w_asc : age_bands[band].w;
        if (u < w)
            break;
        u -= w;
    }
    int64_t lo_days = (int64_t)(age_bands[band].lo * 365.25),
            hi_days = (int64_t)(age_bands[band].hi * 365.25);
    return lo_days + (int64_t)synth_below(r, (uint64_t)(hi_days - lo_days));
}

static uint32_t draw_given(const person *x, synth_rng *r)
{
    return x->by < OLD_NAMES_BEFORE ? synth_list_draw_old(x->glist, r)
                                    : synth_list_draw(x->glist, r);
}

/* A person's own details, from their own stream; no household yet. */
static void make_own(const wye_synth *g, uint64_t p, const membership *m, person *x)
{
    const synth_lists *l = &g->lists;
    synth_rng r;
    synth_rng_init(&r, g->s.seed, STREAM_PERSON, p, 0);
    memset(x, 0, sizeof *x);
    x->id = p;
    x->cohort = m->cohort;
    x->sex = m->sex;
    x->kin = m->kin;

    int64_t age_days = draw_age_days(&r, m->cohort == ASC);
    synth_civil_from_days(g->eday - age_days, &x->by, &x->bm, &x->bd);
    const bool local = synth_chance(&r, g->local_share);

    /* Names. */
    x->glist = m->sex == 'F' ? &l->female : &l->male;
    x->given = draw_given(x, &r);
    x->accented = x->glist->accent[x->given] && synth_chance(&r, 0.35);
    if (x->glist->nick_count[x->given] && synth_chance(&r, NICK_SHARE))
        x->nick = l->nick[x->glist->nick_start[x->given] +
                          synth_below(&r, x->glist->nick_count[x->given])];
    double mu = synth_uniform(&r);
    x->nmiddle = mu < 0.45 ? 1 : mu < 0.50 ? 2 : 0;
    for (int i = 0; i < x->nmiddle; i++)
        x->middle[i] = x->glist->names[draw_given(x, &r)];
    x->fam1 = local && synth_chance(&r, BORDER_SHARE)
                  ? l->surname.names[synth_border_draw(l, &r)]
                  : l->surname.names[synth_list_draw(&l->surname, &r)];
    if (synth_chance(&r, 0.03)) {
        const char *second = l->surname.names[synth_list_draw(&l->surname, &r)];
        if (strcmp(second, x->fam1))
            x->fam2 = second;
    }
    if (synth_chance(&r, m->sex == 'F' ? FORMER_SHARE_F : FORMER_SHARE_M)) {
        const char *former = l->surname.names[synth_list_draw(&l->surname, &r)];
        if (strcmp(former, x->fam1))
            x->former = former;
    }
    if (x->former && synth_chance(&r, RENAMED_SHARE)) {
        x->renamed = true;
        x->rename_day = g->eday - (int64_t)synth_below(&r, 365);
    }

    make_nhs(&r, x->nhs);
    make_postcode(g, &r, local, x->pc[0]);
    make_postcode(g, &r, synth_chance(&r, g->local_share), x->pc[1]);
    x->moved = synth_chance(&r, 0.30);
    x->refuge = synth_chance(&r, refuge_share[m->cohort]);
}

/* Date of birth of a relative: the anchor's shifted by years (+-half a
 * year), kept between 16 and 95 at the extract date. */
static void kin_dob(const wye_synth *g, const person *anchor, synth_rng *r, int years,
                    person *x)
{
    int64_t d = synth_days_from_civil(anchor->by, anchor->bm, anchor->bd) +
                (int64_t)(years * 365.25) + (int64_t)synth_below(r, 365) - 182;
    const int64_t youngest = g->eday - (int64_t)(16 * 365.25) - 1,
                  oldest = g->eday - (int64_t)(95 * 365.25);
    if (d > youngest)
        d = youngest - (int64_t)synth_below(r, 365);
    if (d < oldest)
        d = oldest + (int64_t)synth_below(r, 365);
    synth_civil_from_days(d, &x->by, &x->bm, &x->bd);
}

/* A relative of anchor: the anchor's family name and address, their own
 * given name (never the anchor's) and, but for a twin, their own date of
 * birth. A partner took the anchor's name: their own is their former one. */
static void make_kin(const wye_synth *g, const person *anchor, person *x)
{
    synth_rng r;
    synth_rng_init(&r, g->s.seed, STREAM_HOUSE, x->id, 1);
    const char *own = x->fam1;
    int kind = x->kin;
    switch (kind) {
    case KIN_TWIN:
        x->by = anchor->by;
        x->bm = anchor->bm;
        x->bd = anchor->bd;
        break;
    case KIN_PARTNER:
        kin_dob(g, anchor, &r, (int)synth_below(&r, 15) - 6, x);
        break;
    case KIN_CHILD: {
        int gap = 18 + (int)synth_below(&r, 17);
        if (anchor->by + gap + 16 <= g->ey) {
            kin_dob(g, anchor, &r, gap, x);
            break;
        }
        kind = KIN_SIBLING; /* the anchor is too young to have an adult child */
    }
    /* fall through */
    default: {
        int gap = 1 + (int)synth_below(&r, 8);
        kin_dob(g, anchor, &r, synth_chance(&r, 0.5) ? gap : -gap, x);
        break;
    }
    }
    x->kin = kind;
    x->fam1 = anchor->fam1;
    x->fam2 = anchor->fam2;
    x->former = kind == KIN_PARTNER && x->sex == 'F' && strcmp(own, x->fam1) ? own : NULL;
    x->renamed = false;
    while (!strcmp(x->glist->names[x->given], anchor->glist->names[anchor->given])) {
        x->given = (x->given + 1 + (uint32_t)synth_below(&r, 20)) % x->glist->n;
        x->accented = false;
        x->nick = NULL;
    }
    memcpy(x->pc, anchor->pc, sizeof x->pc);
    x->moved = anchor->moved;
    x->refuge = kind != KIN_PARTNER && anchor->refuge;
}

void synth_make_person(const wye_synth *g, uint64_t p, const membership *m, person *x)
{
    make_own(g, p, m, x);
    if (m->kin == KIN_NONE)
        return;
    membership ma;
    person anchor;
    synth_membership(g, p - 1, &ma);
    assert(ma.kin == KIN_NONE && ma.cohort == m->cohort);
    make_own(g, p - 1, &ma, &anchor);
    make_kin(g, &anchor, x);
}
