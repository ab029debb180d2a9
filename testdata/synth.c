/* The synthetic multi-agency generator (include/wyelink/synth.h,
 * testdata/README.md).
 *
 * Population model. Every person enters through one agency (their cohort) and
 * is known to agencies later in the cohort order with a probability that
 * depends on the cohort: MARAC, IDVA, ASC, housing, WMWA, GP, police. So
 * everyone at MARAC is in the MARAC cohort (and mostly known to police and
 * the IDVA), ASC clients are mostly known to their GP, and police and GP
 * cohorts are mostly known to one agency only. Cohort sizes are solved from
 * the record targets (a triangular system), so the expected number of
 * records of each agency is its target times the scale.
 *
 * Each person, each record and each agency's row order has its own random
 * stream keyed by (seed, purpose, ids), so a person is regenerated wherever
 * needed instead of stored, and nothing depends on the order of writing. */
#include <assert.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth_internal.h"
#include "wyelink/synth.h"

enum { POL = WYE_SYNTH_POLICE, GP = WYE_SYNTH_GP, ASC = WYE_SYNTH_ASC, WMWA = WYE_SYNTH_WMWA,
       MARAC = WYE_SYNTH_MARAC, IDVA = WYE_SYNTH_IDVA, HOUS = WYE_SYNTH_HOUSING, NA = 7 };

enum { STREAM_MEMBER = 1, STREAM_PERSON = 2, STREAM_RECORD = 3, STREAM_SHUFFLE = 4 };

static const char *const agency_names[NA] = {"police", "gp",   "asc",    "wmwa",
                                             "marac",  "idva", "housing"};

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

/* Error and variation rates by agency, at error level 1. */
typedef struct rates {
    double typo_given, typo_family, nickname, former_used, former_col, swap, dbl_var,
        prefix_var, accent_drop, middle_drop, dob_missing, dob_swap, dob_typo, pc_missing,
        pc_old, pc_typo, pc_format, sex_missing, nhs_missing, nhs_typo, case_var, title,
        withheld;
} rates;

static const rates agency_rates[NA] = {
    [POL] = {.typo_given = .03, .typo_family = .03, .nickname = .10, .former_used = .35,
             .swap = .015, .dbl_var = .35, .prefix_var = .25, .accent_drop = .8,
             .middle_drop = .5, .dob_missing = .05, .dob_swap = .02, .dob_typo = .02,
             .pc_missing = .06, .pc_old = .40, .pc_typo = .02, .pc_format = .10,
             .sex_missing = .02, .withheld = .5},
    [GP] = {.typo_given = .008, .typo_family = .008, .nickname = .01, .former_used = .45,
            .former_col = .7, .swap = .002, .dbl_var = .10, .prefix_var = .05,
            .accent_drop = .1, .middle_drop = .1, .dob_missing = .002, .dob_swap = .003,
            .dob_typo = .003, .pc_missing = .005, .pc_old = .50, .pc_typo = .005,
            .pc_format = .02, .sex_missing = .003, .nhs_missing = .01, .nhs_typo = .005,
            .withheld = .3},
    [ASC] = {.typo_given = .02, .typo_family = .02, .nickname = .03, .former_used = .30,
             .swap = .01, .dbl_var = .20, .prefix_var = .15, .accent_drop = .3,
             .middle_drop = .4, .dob_missing = .01, .dob_swap = .01, .dob_typo = .01,
             .pc_missing = .02, .pc_old = .35, .pc_typo = .01, .pc_format = .05,
             .sex_missing = .005, .nhs_missing = .06, .nhs_typo = .02, .withheld = .5},
    [WMWA] = {.typo_given = .03, .typo_family = .03, .nickname = .12, .former_used = .15,
              .swap = .01, .dbl_var = .30, .prefix_var = .20, .accent_drop = .4,
              .middle_drop = .75, .dob_missing = .06, .dob_swap = .02, .dob_typo = .02,
              .pc_missing = .08, .pc_old = .25, .pc_typo = .02, .pc_format = .10,
              .sex_missing = .04, .case_var = .03, .title = .02, .withheld = .9},
    [MARAC] = {.typo_given = .03, .typo_family = .03, .nickname = .06, .former_used = .25,
               .swap = .01, .dbl_var = .30, .prefix_var = .20, .accent_drop = .5,
               .dob_missing = .03, .dob_swap = .02, .dob_typo = .01, .pc_missing = .05,
               .pc_old = .30, .pc_typo = .02, .pc_format = .05, .sex_missing = .01,
               .withheld = .8},
    [IDVA] = {.typo_given = .02, .typo_family = .02, .nickname = .08, .former_used = .15,
              .former_col = .6, .swap = .005, .dbl_var = .20, .prefix_var = .15,
              .accent_drop = .4, .dob_missing = .04, .dob_swap = .01, .dob_typo = .01,
              .pc_missing = .06, .pc_old = .30, .pc_typo = .01, .pc_format = .05,
              .sex_missing = .02, .case_var = .10, .withheld = .8},
    [HOUS] = {.typo_given = .03, .typo_family = .03, .nickname = .04, .former_used = .20,
              .former_col = .5, .swap = .01, .dbl_var = .30, .prefix_var = .20,
              .accent_drop = .2, .dob_missing = .03, .dob_swap = .02, .dob_typo = .02,
              .pc_missing = .02, .pc_old = .15, .pc_typo = .02, .pc_format = .05,
              .sex_missing = .02, .withheld = .6},
};

struct wye_synth {
    wye_synth_settings s;
    int ey;
    unsigned em, ed;
    int64_t eday;             /* extract date as a day number */
    uint64_t cohort_end[NA];  /* persons [end[k-1], end[k]) are cohort_order[k] */
    uint64_t npersons;
    double expected[NA];
    double local_share;
    rates r[NA];              /* scaled by the error level */
    synth_lists lists;
};

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

void wye_synth_default_settings(wye_synth_settings *s)
{
    memset(s, 0, sizeof *s);
    s->seed = 1;
    s->scale = 1.0;
    s->extract_date = WYE_SYNTH_DEFAULT_EXTRACT_DATE;
    s->error_level = 1.0;
}

const char *wye_synth_agency_name(unsigned agency)
{
    return agency < NA ? agency_names[agency] : NULL;
}

int wye_synth_agency_index(const char *name)
{
    for (int a = 0; name && a < NA; a++)
        if (!strcmp(name, agency_names[a]))
            return a;
    return -1;
}

static double clamp01(double x)
{
    return x < 0 ? 0 : x > 1 ? 1 : x;
}

int wye_synth_new(const wye_synth_settings *s, wye_synth **out)
{
    if (!s || !out)
        return WYE_EINVAL;
    *out = NULL;
    if (!(s->scale > 0 && s->scale <= WYE_SYNTH_MAX_SCALE) ||
        !(s->error_level >= 0 && s->error_level <= WYE_SYNTH_MAX_ERROR_LEVEL))
        return WYE_ERANGE;
    int ey = (int)(s->extract_date / 10000);
    unsigned em = s->extract_date / 100 % 100, ed = s->extract_date % 100;
    if (ey < 1950 || ey > 2100 || em < 1 || em > 12 || ed < 1 ||
        ed > synth_days_in_month(ey, em))
        return WYE_ERANGE;

    wye_synth *g = calloc(1, sizeof *g);
    if (!g)
        return WYE_ENOMEM;
    g->s = *s;
    g->ey = ey;
    g->em = em;
    g->ed = ed;
    g->eday = synth_days_from_civil(ey, em, ed);
    int rc = synth_lists_load(&g->lists);
    if (rc) {
        free(g);
        return rc;
    }

    /* Solve the cohort sizes from the record targets, in cohort order. */
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
        end += (uint64_t)llround(n[cohort_order[k]] * s->scale);
        g->cohort_end[k] = end;
    }
    g->npersons = end;
    for (int a = 0; a < NA; a++) {
        double e = 0;
        for (int c = 0; c < NA; c++)
            e += n[c] * inclusion(c, a) * (1 + extra_for(c, a));
        g->expected[a] = e * s->scale;
    }
    g->local_share = s->scale <= 1 ? LOCAL_SHARE : LOCAL_SHARE / s->scale;

    const double lv = s->error_level;
    for (int a = 0; a < NA; a++) {
        const double *src = (const double *)&agency_rates[a];
        double *dst = (double *)&g->r[a];
        for (size_t i = 0; i < sizeof(rates) / sizeof(double); i++)
            dst[i] = clamp01(src[i] * lv);
        /* An agency with a former-name column fills it when it knows the
         * name: not an error, so not scaled down to nothing. */
        g->r[a].former_col = agency_rates[a].former_col;
    }
    *out = g;
    return WYE_OK;
}

void wye_synth_free(wye_synth *g)
{
    if (!g)
        return;
    synth_lists_free(&g->lists);
    free(g);
}

uint64_t wye_synth_persons(const wye_synth *g)
{
    return g ? g->npersons : 0;
}

double wye_synth_expected_records(const wye_synth *g, unsigned agency)
{
    return g && agency < NA ? g->expected[agency] : 0;
}

/* Cohort, sex and the number of records in each agency of person p. */
typedef struct membership {
    int cohort;
    char sex;
    uint8_t nrec[NA];
} membership;

static void person_membership(const wye_synth *g, uint64_t p, membership *m)
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

typedef struct person {
    uint64_t id;
    int cohort;
    char sex;
    int by;
    unsigned bm, bd;
    const synth_list *glist;
    uint32_t given;
    bool accented;
    const char *middle[2];
    int nmiddle;
    const char *fam1, *fam2; /* fam2: the second half of a double-barrelled name */
    const char *former;      /* NULL: no other family name */
    char nhs[11];
    char pc[2][9];           /* current, previous */
    bool moved, refuge;
} person;

static char *put_digits(char *p, unsigned v, int width);

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

static void make_person(const wye_synth *g, uint64_t p, const membership *m, person *x)
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

/* ---------------------------------------------------------------- text */

/* A small string builder on a fixed buffer (values are short; longer
 * inputs are cut, never overflowed). */
typedef struct sbuf {
    char s[192];
    size_t n;
} sbuf;

static void sb_set(sbuf *b, const char *s)
{
    b->n = strlen(s);
    if (b->n >= sizeof b->s)
        b->n = sizeof b->s - 1;
    memcpy(b->s, s, b->n);
    b->s[b->n] = '\0';
}

static void sb_cat(sbuf *b, const char *s)
{
    size_t k = strlen(s);
    if (b->n + k >= sizeof b->s)
        k = sizeof b->s - 1 - b->n;
    memcpy(b->s + b->n, s, k);
    b->n += k;
    b->s[b->n] = '\0';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static char to_lower(char c)
{
    return is_upper(c) ? (char)(c + 32) : c;
}

static char to_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
}

/* Upper case, including the Latin-1 letters of the accent table. */
static void sb_upper(sbuf *b)
{
    for (size_t i = 0; i < b->n; i++) {
        unsigned char c = (unsigned char)b->s[i];
        if (c == 0xC3 && i + 1 < b->n) {
            unsigned char d = (unsigned char)b->s[i + 1];
            if (d >= 0xA0 && d <= 0xBE && d != 0xB7)
                b->s[i + 1] = (char)(d - 0x20);
            i++;
        } else {
            b->s[i] = to_upper((char)c);
        }
    }
}

static void sb_lower(sbuf *b)
{
    for (size_t i = 0; i < b->n; i++) {
        unsigned char c = (unsigned char)b->s[i];
        if (c == 0xC3 && i + 1 < b->n) {
            unsigned char d = (unsigned char)b->s[i + 1];
            if (d >= 0x80 && d <= 0x9E && d != 0x97)
                b->s[i + 1] = (char)(d + 0x20);
            i++;
        } else {
            b->s[i] = to_lower((char)c);
        }
    }
}

/* QWERTY neighbours, for substitution typos. */
static const char *const qwerty[26] = {
    "qwsz", "vghn", "xdfv", "serfcx", "wsdr", "drtgvc", "ftyhbv", "gyujnb", "ujko", "huikmn",
    "jiolm", "kop", "njk", "bhjm", "iklp", "ol", "wa", "edft", "awedxz", "rfgy", "yhji", "cfgb",
    "qase", "zsdc", "tghu", "asx",
};

/* One typing error: substitute, delete, insert or transpose, on ASCII
 * letters only (never splitting a UTF-8 sequence). */
static void typo(sbuf *b, synth_rng *r)
{
    size_t pos[192], np = 0;
    for (size_t i = 0; i < b->n; i++)
        if (is_alpha(b->s[i]))
            pos[np++] = i;
    if (np < 3)
        return;
    size_t i = pos[synth_below(r, np)];
    char c = b->s[i], lc = to_lower(c);
    switch (synth_below(r, 4)) {
    case 0: { /* substitute, mostly a neighbouring key */
        const char *nb = qwerty[lc - 'a'];
        char n = synth_chance(r, 0.8) ? nb[synth_below(r, strlen(nb))]
                                      : (char)('a' + synth_below(r, 26));
        if (n == lc)
            n = lc == 'e' ? 'a' : 'e';
        b->s[i] = is_upper(c) ? to_upper(n) : n;
        break;
    }
    case 1: /* delete */
        memmove(b->s + i, b->s + i + 1, b->n - i);
        b->n--;
        break;
    case 2: /* insert: a doubled letter or a neighbouring key */
        if (b->n + 1 < sizeof b->s) {
            const char *nb = qwerty[lc - 'a'];
            char n = synth_chance(r, 0.5) ? lc : nb[synth_below(r, strlen(nb))];
            memmove(b->s + i + 2, b->s + i + 1, b->n - i);
            b->s[i + 1] = n;
            b->n++;
        }
        break;
    default: { /* transpose with the next letter, keeping where the capitals are */
        size_t j = i + 1;
        if (j >= b->n || !is_alpha(b->s[j]) || to_lower(b->s[j]) == lc) {
            char n = lc == 'a' ? 'e' : 'a';
            b->s[i] = is_upper(c) ? to_upper(n) : n;
            break;
        }
        char d = b->s[j];
        b->s[i] = is_upper(c) ? to_upper(d) : to_lower(d);
        b->s[j] = is_upper(d) ? to_upper(c) : to_lower(c);
        break;
    }
    }
}

/* Mc/Mac/O' written another way. */
static void prefix_variant(sbuf *b, synth_rng *r)
{
    sbuf t;
    if (b->n > 3 && b->s[0] == 'O' && b->s[1] == '\'') {
        static const char *const form[] = {"O", "O ", "O'"};
        int k = (int)synth_below(r, 3);
        sb_set(&t, form[k]);
        sb_cat(&t, b->s + 2);
        if (k == 0 || k == 2) /* OBrien / Obrien, O'brien */
            t.s[k == 0 ? 1 : 2] = synth_chance(r, 0.5) ? to_lower(t.s[k == 0 ? 1 : 2])
                                                       : t.s[k == 0 ? 1 : 2];
        *b = t;
    } else if (b->n > 3 && b->s[0] == 'M' && b->s[1] == 'c' && is_upper(b->s[2])) {
        switch (synth_below(r, 3)) {
        case 0: b->s[2] = to_lower(b->s[2]); break; /* Mcleod */
        case 1: sb_set(&t, "Mc "); sb_cat(&t, b->s + 2); *b = t; break;
        default: sb_set(&t, "Mac"); sb_cat(&t, b->s + 2); *b = t; break;
        }
    } else if (b->n > 4 && !strncmp(b->s, "Mac", 3) && is_upper(b->s[3])) {
        switch (synth_below(r, 3)) {
        case 0: b->s[3] = to_lower(b->s[3]); break; /* Macleod */
        case 1: sb_set(&t, "Mac "); sb_cat(&t, b->s + 3); *b = t; break;
        default: sb_set(&t, "Mc"); sb_cat(&t, b->s + 3); *b = t; break;
        }
    }
}

/* ---------------------------------------------------------------- records */

/* The identifying values of one record, before the agency's layout. */
typedef struct record {
    sbuf given, middle, family, former;
    bool dob_missing;
    int by;
    unsigned bm, bd;
    bool sex_missing;
    char sex;
    sbuf postcode; /* empty = missing */
    bool withheld;
    char nhs[11];
    bool nhs_missing;
    int64_t event_day; /* the incident, referral or approach */
    unsigned choice;   /* a free draw for the agency's own columns */
    unsigned choice2;
} record;

static void make_record(const wye_synth *g, int a, const person *x, unsigned rep, record *rec)
{
    const rates *rt = &g->r[a];
    synth_rng r;
    synth_rng_init(&r, g->s.seed, STREAM_RECORD, x->id, (uint64_t)a << 8 | rep);
    memset(rec, 0, sizeof *rec);

    /* Given name: accents kept or not, a nickname, a typo. */
    const char *gname = x->glist->names[x->given];
    if (x->accented && !synth_chance(&r, rt->accent_drop))
        gname = x->glist->accent[x->given];
    if (x->glist->nick_count[x->given] && synth_chance(&r, rt->nickname))
        gname = g->lists.nick[x->glist->nick_start[x->given] +
                              synth_below(&r, x->glist->nick_count[x->given])];
    sb_set(&rec->given, gname);
    if (synth_chance(&r, rt->typo_given))
        typo(&rec->given, &r);
    if (x->nmiddle && !synth_chance(&r, rt->middle_drop)) {
        sb_set(&rec->middle, x->middle[0]);
        if (x->nmiddle > 1) {
            sb_cat(&rec->middle, " ");
            sb_cat(&rec->middle, x->middle[1]);
        }
    }

    /* Family name: the current or the former one, written variously. */
    bool used_former = x->former && synth_chance(&r, rt->former_used);
    if (used_former) {
        sb_set(&rec->family, x->former);
    } else if (x->fam2) {
        unsigned v = synth_chance(&r, rt->dbl_var) ? (unsigned)synth_below(&r, 3) + 1 : 0;
        sb_set(&rec->family, v == 3 ? x->fam2 : x->fam1);
        if (v == 0 || v == 1) {
            sb_cat(&rec->family, v == 0 ? "-" : " ");
            sb_cat(&rec->family, x->fam2);
        }
    } else {
        sb_set(&rec->family, x->fam1);
    }
    if (synth_chance(&r, rt->prefix_var))
        prefix_variant(&rec->family, &r);
    if (synth_chance(&r, rt->typo_family))
        typo(&rec->family, &r);
    if (x->former && !used_former && synth_chance(&r, rt->former_col))
        sb_set(&rec->former, x->former);

    if (synth_chance(&r, rt->swap)) {
        sbuf t = rec->given;
        rec->given = rec->family;
        rec->family = t;
    }

    /* Date of birth. */
    rec->by = x->by;
    rec->bm = x->bm;
    rec->bd = x->bd;
    if (synth_chance(&r, rt->dob_missing)) {
        rec->dob_missing = true;
    } else if (x->bd <= 12 && x->bd != x->bm && synth_chance(&r, rt->dob_swap)) {
        rec->bm = x->bd;
        rec->bd = x->bm;
    } else if (synth_chance(&r, rt->dob_typo)) {
        switch (synth_below(&r, 4)) {
        case 0: rec->by += synth_chance(&r, 0.5) ? 1 : -1; break;
        case 1: rec->by += synth_chance(&r, 0.5) ? 10 : -10; break;
        case 2: rec->bm = rec->bm % 12 + 1; break;
        default: rec->bd = rec->bd % 28 + 1; break;
        }
        unsigned dim = synth_days_in_month(rec->by, rec->bm);
        if (rec->bd > dim)
            rec->bd = dim;
    }

    rec->sex = x->sex;
    rec->sex_missing = synth_chance(&r, rt->sex_missing);

    /* Postcode: withheld in a refuge, the previous one, missing, mistyped. */
    const char *pc = x->pc[0];
    if (x->refuge && synth_chance(&r, rt->withheld)) {
        rec->withheld = true;
        pc = x->moved && a != WMWA ? x->pc[1] : NULL;
    } else if (x->moved && synth_chance(&r, rt->pc_old)) {
        pc = x->pc[1];
    }
    if (pc && synth_chance(&r, rt->pc_missing))
        pc = NULL;
    if (pc) {
        sb_set(&rec->postcode, pc);
        if (synth_chance(&r, rt->pc_typo)) {
            /* A character of the inward code mistyped or two swapped. */
            size_t sp = strcspn(rec->postcode.s, " ");
            char *in = rec->postcode.s + sp + 1;
            if (synth_chance(&r, 0.5)) {
                char t = in[1];
                in[1] = in[2];
                in[2] = t;
                if (in[1] == in[2])
                    in[0] = in[0] == '9' ? '0' : (char)(in[0] + 1);
            } else {
                in[0] = in[0] == '9' ? '0' : (char)(in[0] + 1);
            }
        }
        if (synth_chance(&r, rt->pc_format)) {
            if (synth_chance(&r, 0.5)) { /* no space */
                size_t sp = strcspn(rec->postcode.s, " ");
                memmove(rec->postcode.s + sp, rec->postcode.s + sp + 1, rec->postcode.n - sp);
                rec->postcode.n--;
            } else {
                sb_lower(&rec->postcode);
            }
        }
    }

    /* NHS number. */
    memcpy(rec->nhs, x->nhs, 11);
    rec->nhs_missing = synth_chance(&r, rt->nhs_missing);
    if (synth_chance(&r, rt->nhs_typo)) {
        if (synth_chance(&r, 0.5)) { /* one digit wrong */
            int i = (int)synth_below(&r, 10);
            rec->nhs[i] = (char)('0' + (rec->nhs[i] - '0' + 1 + (int)synth_below(&r, 9)) % 10);
        } else {
            /* Two neighbours swapped. They must differ, and not include the
             * check digit: a swap into it can pass the check by chance. */
            int i = (int)synth_below(&r, 8);
            while (rec->nhs[i] == rec->nhs[i + 1] && i < 7)
                i++;
            if (rec->nhs[i] == rec->nhs[i + 1])
                rec->nhs[i] = rec->nhs[i] == '9' ? '0' : (char)(rec->nhs[i] + 1);
            else {
                char t = rec->nhs[i];
                rec->nhs[i] = rec->nhs[i + 1];
                rec->nhs[i + 1] = t;
            }
        }
    }

    rec->event_day = g->eday - (int64_t)synth_below(&r, 365);
    rec->choice = (unsigned)synth_below(&r, 1000);
    rec->choice2 = (unsigned)synth_below(&r, 1000);
    if (synth_chance(&r, rt->case_var))
        rec->choice2 += 1000; /* the layout writes the names in another case */
    if (synth_chance(&r, rt->title))
        rec->choice2 += 2000; /* the layout adds a title */
}

/* ---------------------------------------------------------------- layouts */

enum date_format { D_DMY_SLASH, D_ISO, D_DMON, D_DMYY, D_COMPACT, D_DOTS };
static const char *const date_format_names[] = {"DD/MM/YYYY", "YYYY-MM-DD",  "DD-Mon-YYYY",
                                                "DD/MM/YY",   "YYYYMMDD",    "DD.MM.YYYY"};

/* What a column holds. */
enum kind {
    K_ID, K_GIVEN, K_GIVEN_ALL, K_MIDDLE, K_FAMILY, K_FORMER, K_FULL_FS, K_FULL_SCF, K_DOB,
    K_SEX, K_POSTCODE, K_NHS_SPACED, K_NHS, K_SERVICE, K_EVENT, K_TITLE, K_CHOICE, K_PRACTICE,
    K_REPEAT, K_COUNT,
};

/* How the column map describes it. */
enum map { M_NONE, M_FIELD, M_MULTIPLE, M_SPLIT, M_ATTR };

typedef struct column {
    const char *name;
    enum kind kind;
    enum map map;
    const char *target;          /* field, split or attribute name */
    const char *const *values;   /* raw, protocol value (NULL = missing), ..., NULL, NULL */
    const char *const *choices;  /* K_CHOICE: NULL-terminated */
} column;

typedef struct layout {
    const char *encoding;
    enum date_format dates;
    bool crlf, quote_all, bom;
    const char *id_prefix;
    unsigned id_width;
    const char *sex_code[3];     /* female, male, missing */
    const char *service_code[3]; /* service types, for K_SERVICE */
    bool upper_family;           /* SMITH in a separate family-name column */
    column cols[12];             /* up to the first without a name */
} layout;

#define V(...) ((const char *const[]){__VA_ARGS__, NULL, NULL})
#define C(...) ((const char *const[]){__VA_ARGS__, NULL})

static const layout layouts[NA] = {
    [POL] = {"utf-8", D_DMY_SLASH, false, false, false, "WM", 8, {"F", "M", "U"}, {0},
             true, {
        {"PersonRef", K_ID, M_NONE, NULL, NULL, NULL},
        {"Surname", K_FAMILY, M_FIELD, "family_name", NULL, NULL},
        {"Forename", K_GIVEN, M_FIELD, "given_name", NULL, NULL},
        {"Middle Names", K_MIDDLE, M_FIELD, "other_given_names", NULL, NULL},
        {"DOB", K_DOB, M_FIELD, "date_of_birth", NULL, NULL},
        {"Gender", K_SEX, M_FIELD, "sex", V("F", "F", "M", "M", "U", NULL), NULL},
        {"Postcode", K_POSTCODE, M_FIELD, "postcode", NULL, NULL},
        {"Occurrence Date", K_EVENT, M_NONE, NULL, NULL, NULL},
        {"Offence", K_CHOICE, M_NONE, NULL, NULL,
         C("Common assault", "Assault occasioning actual bodily harm, s.47",
           "Controlling or coercive behaviour", "Harassment, putting people in fear of violence",
           "Stalking", "Criminal damage", "Threats to kill",
           "Breach of a non-molestation order", "Sexual assault")},
        {"DASH Risk", K_CHOICE, M_NONE, NULL, NULL, C("Standard", "Medium", "High")},
    }},
    [GP] = {"utf-8", D_DMON, true, true, false, "", 7, {"Female", "Male", "Unknown"}, {0},
            false, {
        {"Patient ID", K_ID, M_NONE, NULL, NULL, NULL},
        {"NHS Number", K_NHS_SPACED, M_FIELD, "nhs_number", NULL, NULL},
        {"Title", K_TITLE, M_NONE, NULL, NULL, NULL},
        {"Forename(s)", K_GIVEN_ALL, M_MULTIPLE, "given_name", NULL, NULL},
        {"Surname", K_FAMILY, M_FIELD, "family_name", NULL, NULL},
        {"Previous Surname", K_FORMER, M_FIELD, "former_family_name", NULL, NULL},
        {"Date of Birth", K_DOB, M_FIELD, "date_of_birth", NULL, NULL},
        {"Sex", K_SEX, M_FIELD, "sex", V("Female", "F", "Male", "M", "Unknown", NULL), NULL},
        {"Postcode", K_POSTCODE, M_FIELD, "postcode", NULL, NULL},
        {"Practice Code", K_PRACTICE, M_NONE, NULL, NULL, NULL},
        {"DA Code Date", K_EVENT, M_NONE, NULL, NULL, NULL},
    }},
    [ASC] = {"utf-8", D_ISO, false, false, true, "ASC", 6, {"F", "M", "Not Known"}, {0},
             true, {
        {"Client ID", K_ID, M_NONE, NULL, NULL, NULL},
        {"Name", K_FULL_SCF, M_SPLIT, "surname_comma_forename", NULL, NULL},
        {"Date of Birth", K_DOB, M_FIELD, "date_of_birth", NULL, NULL},
        {"Gender", K_SEX, M_FIELD, "sex", V("F", "F", "M", "M", "Not Known", NULL), NULL},
        {"NHS No", K_NHS, M_FIELD, "nhs_number", NULL, NULL},
        {"Post Code", K_POSTCODE, M_FIELD, "postcode", NULL, NULL},
        {"Referral Date", K_EVENT, M_NONE, NULL, NULL, NULL},
        {"Primary Support Reason", K_CHOICE, M_NONE, NULL, NULL,
         C("Physical Support: Personal Care Support", "Mental Health Support",
           "Learning Disability Support", "Support with Memory and Cognition",
           "Sensory Support: Support for Visual Impairment, Hearing Impairment",
           "Social Support: Substance Misuse Support")},
    }},
    [WMWA] = {"utf-8", D_DMYY, false, false, false, "SU-", 5,
              {"Woman", "Man", "Prefer not to say"}, {"Refuge", "Outreach", "Helpline"}, false,
              {
        {"Service User ID", K_ID, M_NONE, NULL, NULL, NULL},
        {"Full Name", K_FULL_FS, M_SPLIT, "forename_surname", NULL, NULL},
        {"Date of Birth", K_DOB, M_FIELD, "date_of_birth", NULL, NULL},
        {"Gender", K_SEX, M_FIELD, "sex",
         V("Woman", "F", "Man", "M", "Prefer not to say", NULL), NULL},
        {"Postcode", K_POSTCODE, M_FIELD, "postcode", NULL, NULL},
        {"Referral Date", K_EVENT, M_NONE, NULL, NULL, NULL},
        {"Referral Source", K_CHOICE, M_NONE, NULL, NULL,
         C("Self", "Police", "GP", "Children's Services", "Friend, family or neighbour", "IDVA",
           "Housing")},
        {"Service", K_SERVICE, M_ATTR, "service_type",
         V("Refuge", "refuge", "Outreach", "outreach", "Helpline", "helpline"), NULL},
    }},
    [MARAC] = {"utf-8", D_DOTS, false, false, false, "MARAC/", 4,
               {"Female", "Male", "Not known"}, {0}, false, {
        {"Case Ref", K_ID, M_NONE, NULL, NULL, NULL},
        {"Meeting Date", K_EVENT, M_NONE, NULL, NULL, NULL},
        {"Victim Forename", K_GIVEN, M_FIELD, "given_name", NULL, NULL},
        {"Victim Surname", K_FAMILY, M_FIELD, "family_name", NULL, NULL},
        {"Victim DOB", K_DOB, M_FIELD, "date_of_birth", NULL, NULL},
        {"Victim Gender", K_SEX, M_FIELD, "sex",
         V("Female", "F", "Male", "M", "Not known", NULL), NULL},
        {"Victim Postcode", K_POSTCODE, M_FIELD, "postcode", NULL, NULL},
        {"Referring Agency", K_CHOICE, M_NONE, NULL, NULL,
         C("Police", "IDVA", "Health", "Children's Social Care", "Housing", "Probation")},
        {"Repeat Referral", K_REPEAT, M_NONE, NULL, NULL, NULL},
        {"Children in Household", K_COUNT, M_NONE, NULL, NULL, NULL},
    }},
    [IDVA] = {"utf-8", D_COMPACT, false, false, false, "", 5, {"2", "1", "0"},
              {"Community IDVA", "Court IDVA", "Hospital IDVA"}, false, {
        {"Client Number", K_ID, M_NONE, NULL, NULL, NULL},
        {"First Name", K_GIVEN, M_FIELD, "given_name", NULL, NULL},
        {"Last Name", K_FAMILY, M_FIELD, "family_name", NULL, NULL},
        {"Previous Name", K_FORMER, M_FIELD, "former_family_name", NULL, NULL},
        {"D.O.B", K_DOB, M_FIELD, "date_of_birth", NULL, NULL},
        {"Sex", K_SEX, M_FIELD, "sex", V("2", "F", "1", "M", "0", NULL), NULL},
        {"Postcode", K_POSTCODE, M_FIELD, "postcode", NULL, NULL},
        {"Referral Date", K_EVENT, M_NONE, NULL, NULL, NULL},
        {"Risk Level", K_CHOICE, M_NONE, NULL, NULL, C("High", "High", "Medium")},
        {"Service Type", K_SERVICE, M_ATTR, "service_type",
         V("Community IDVA", "advocacy", "Court IDVA", "advocacy", "Hospital IDVA", "advocacy"),
         NULL},
    }},
    [HOUS] = {"windows-1252", D_DMY_SLASH, true, false, false, "HA", 6,
              {"Female", "Male", "Not stated"}, {0}, false, {
        {"Application No", K_ID, M_NONE, NULL, NULL, NULL},
        {"Approach Date", K_EVENT, M_NONE, NULL, NULL, NULL},
        {"Applicant Forename", K_GIVEN, M_FIELD, "given_name", NULL, NULL},
        {"Applicant Surname", K_FAMILY, M_FIELD, "family_name", NULL, NULL},
        {"Former Surname", K_FORMER, M_FIELD, "former_family_name", NULL, NULL},
        {"Date of Birth", K_DOB, M_FIELD, "date_of_birth", NULL, NULL},
        {"Sex", K_SEX, M_FIELD, "sex", V("Female", "F", "Male", "M", "Not stated", NULL), NULL},
        {"Postcode", K_POSTCODE, M_FIELD, "postcode", NULL, NULL},
        {"Reason for Approach", K_CHOICE, M_NONE, NULL, NULL,
         C("Domestic abuse", "Fleeing violence, \"DA\" marker", "Relationship breakdown (violent)",
           "Parental eviction", "End of private tenancy")},
        {"Priority Need", K_CHOICE, M_NONE, NULL, NULL, C("Y", "N")},
    }},
};

static const char *const descriptions[NA] = {
    "synthetic police nominal records (wyelink synth layout)",
    "synthetic GP practice extract (wyelink synth layout)",
    "synthetic adult social care referrals (wyelink synth layout)",
    "synthetic West Mercia Women's Aid service users (wyelink synth layout)",
    "synthetic MARAC cases (wyelink synth layout)",
    "synthetic IDVA service clients (wyelink synth layout)",
    "synthetic housing approaches, Windows-1252 (wyelink synth layout)",
};

static unsigned ncols(const layout *L)
{
    unsigned n = 0;
    while (n < sizeof L->cols / sizeof L->cols[0] && L->cols[n].name)
        n++;
    return n;
}

const char *wye_synth_encoding(unsigned agency)
{
    return agency < NA ? layouts[agency].encoding : NULL;
}

/* ---------------------------------------------------------------- output */

/* A growing memory buffer with a sticky error: one chunk of rows is
 * formatted into it, then handed to the sink in row order. */
typedef struct out {
    char *buf;
    size_t n, cap;
    int err;
    bool cp1252; /* convert the UTF-8 of field values to Windows-1252 */
} out;

static void out_mem(out *o, const char *s, size_t k)
{
    if (o->err || !k)
        return;
    if (o->n + k > o->cap) {
        size_t nc = o->cap ? o->cap : 1 << 16;
        while (nc < o->n + k)
            nc *= 2;
        char *nb = realloc(o->buf, nc);
        if (!nb) {
            o->err = WYE_ENOMEM;
            return;
        }
        o->buf = nb;
        o->cap = nc;
    }
    memcpy(o->buf + o->n, s, k);
    o->n += k;
}

static void out_str(out *o, const char *s)
{
    out_mem(o, s, strlen(s));
}

static void out_u64(out *o, uint64_t v)
{
    char t[24];
    size_t i = sizeof t;
    do {
        t[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    out_mem(o, t + i, sizeof t - i);
}

/* One CSV field, quoted when it must be (or always, for quote_all). */
static void out_field(out *o, const char *s, bool quote_all)
{
    size_t k = strlen(s);
    bool q = quote_all || (k && (s[0] == ' ' || s[k - 1] == ' '));
    for (size_t i = 0; i < k && !q; i++)
        q = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    char t[512];
    size_t n = 0;
    if (q)
        t[n++] = '"';
    for (size_t i = 0; i < k && n + 4 < sizeof t; i++) {
        unsigned char c = (unsigned char)s[i];
        if (o->cp1252 && (c == 0xC2 || c == 0xC3) && i + 1 < k) {
            /* U+0080..U+00FF: Windows-1252 agrees with Latin-1 for the
             * letters the generator writes. */
            t[n++] = (char)(((c & 0x03) << 6) | ((unsigned char)s[++i] & 0x3F));
            continue;
        }
        if (c == '"')
            t[n++] = '"';
        t[n++] = (char)c;
    }
    if (q)
        t[n++] = '"';
    out_mem(o, t, n);
}

static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static char *put_digits(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/* t has room for 12 bytes. (snprintf was a tenth of the run time.) */
static void format_date(char *t, enum date_format f, int y, unsigned m, unsigned d)
{
    unsigned yy = y < 0 ? 0 : y > 9999 ? 9999 : (unsigned)y;
    char *p = t;
    switch (f) {
    case D_DMY_SLASH:
    case D_DMYY:
    case D_DOTS: {
        char sep = f == D_DOTS ? '.' : '/';
        p = put_digits(p, d, 2);
        *p++ = sep;
        p = put_digits(p, m, 2);
        *p++ = sep;
        p = f == D_DMYY ? put_digits(p, yy % 100, 2) : put_digits(p, yy, 4);
        break;
    }
    case D_ISO:
    case D_COMPACT:
        p = put_digits(p, yy, 4);
        if (f == D_ISO)
            *p++ = '-';
        p = put_digits(p, m, 2);
        if (f == D_ISO)
            *p++ = '-';
        p = put_digits(p, d, 2);
        break;
    case D_DMON:
        p = put_digits(p, d, 2);
        *p++ = '-';
        memcpy(p, months[(m - 1) % 12], 3);
        p += 3;
        *p++ = '-';
        p = put_digits(p, yy, 4);
        break;
    }
    *p = '\0';
}

static void out_local_id(out *o, const wye_synth *g, const layout *L, int a, uint64_t row,
                         uint64_t nrows)
{
    unsigned w = 1;
    for (uint64_t v = nrows; v >= 10; v /= 10)
        w++;
    w = w + 1 > L->id_width ? w + 1 : L->id_width;
    uint64_t base = 1;
    for (unsigned i = 1; i < w; i++)
        base *= 10;
    out_str(o, L->id_prefix);
    if (a == MARAC) {
        out_u64(o, (uint64_t)g->ey);
        out_str(o, "/");
    }
    out_u64(o, base + row);
}

static void write_header(out *o, const layout *L)
{
    if (L->bom)
        out_str(o, "\xEF\xBB\xBF");
    for (unsigned c = 0; c < ncols(L); c++) {
        if (c)
            out_str(o, ",");
        out_field(o, L->cols[c].name, L->quote_all);
    }
    out_str(o, L->crlf ? "\r\n" : "\n");
}

static void write_row(out *o, const wye_synth *g, int a, const person *x, unsigned rep,
                      const record *rec, uint64_t row, uint64_t nrows)
{
    const layout *L = &layouts[a];
    const bool alt_case = rec->choice2 % 2000 >= 1000, title = rec->choice2 >= 2000;
    sbuf v, fam;
    char t[32];
    fam = rec->family;
    if (L->upper_family)
        sb_upper(&fam);
    for (unsigned c = 0; c < ncols(L); c++) {
        const column *col = &L->cols[c];
        if (c)
            out_str(o, ",");
        v.n = 0;
        v.s[0] = '\0';
        switch (col->kind) {
        case K_ID:
            if (L->quote_all)
                out_str(o, "\"");
            out_local_id(o, g, L, a, row, nrows);
            if (L->quote_all)
                out_str(o, "\"");
            continue;
        case K_GIVEN:
            v = rec->given;
            if (alt_case)
                sb_upper(&v);
            break;
        case K_GIVEN_ALL:
            v = rec->given;
            if (rec->middle.n) {
                sb_cat(&v, " ");
                sb_cat(&v, rec->middle.s);
            }
            break;
        case K_MIDDLE: v = rec->middle; break;
        case K_FAMILY:
            v = fam;
            if (alt_case)
                sb_upper(&v);
            break;
        case K_FORMER: v = rec->former; break;
        case K_FULL_FS:
            if (title)
                sb_set(&v, x->sex == 'F' ? (rec->choice % 3 == 0   ? "Mrs "
                                            : rec->choice % 3 == 1 ? "Miss "
                                                                   : "Ms ")
                                         : "Mr ");
            sb_cat(&v, rec->given.s);
            if (rec->middle.n) {
                sb_cat(&v, " ");
                sb_cat(&v, rec->middle.s);
            }
            sb_cat(&v, " ");
            sb_cat(&v, rec->family.s);
            if (alt_case)
                sb_lower(&v);
            break;
        case K_FULL_SCF:
            v = fam;
            sb_cat(&v, ", ");
            sb_cat(&v, rec->given.s);
            if (rec->middle.n) {
                sb_cat(&v, " ");
                sb_cat(&v, rec->middle.s);
            }
            break;
        case K_DOB:
            if (!rec->dob_missing) {
                format_date(t, L->dates, rec->by, rec->bm, rec->bd);
                sb_set(&v, t);
            }
            break;
        case K_SEX:
            sb_set(&v, L->sex_code[rec->sex_missing ? 2 : rec->sex == 'F' ? 0 : 1]);
            break;
        case K_POSTCODE:
            v = rec->postcode;
            if (!v.n && rec->withheld && a == WMWA && rec->choice % 4 == 0)
                sb_set(&v, "WITHHELD");
            break;
        case K_NHS_SPACED:
            if (!rec->nhs_missing)
            {
                memcpy(v.s, rec->nhs, 3);
                v.s[3] = ' ';
                memcpy(v.s + 4, rec->nhs + 3, 3);
                v.s[7] = ' ';
                memcpy(v.s + 8, rec->nhs + 6, 4);
                v.s[12] = '\0';
                v.n = 12;
            }
            break;
        case K_NHS:
            if (!rec->nhs_missing)
                sb_set(&v, rec->nhs);
            break;
        case K_SERVICE: {
            unsigned k = x->refuge && a == WMWA ? 0
                         : a == WMWA            ? (rec->choice < 700 ? 1 : 2)
                         : rec->choice < 600    ? 0
                         : rec->choice < 850    ? 1
                                                : 2;
            sb_set(&v, L->service_code[k]);
            break;
        }
        case K_EVENT: {
            int y;
            unsigned m, d;
            synth_civil_from_days(rec->event_day, &y, &m, &d);
            format_date(t, L->dates, y, m, d);
            sb_set(&v, t);
            break;
        }
        case K_TITLE:
            sb_set(&v, x->sex == 'F' ? (rec->choice % 4 == 0   ? "Mrs"
                                        : rec->choice % 4 == 1 ? "Miss"
                                        : rec->choice % 4 == 2 ? "Ms"
                                                               : "Dr")
                                     : (rec->choice % 4 == 3 ? "Dr" : "Mr"));
            break;
        case K_CHOICE: {
            size_t n = 0;
            while (col->choices[n])
                n++;
            sb_set(&v, col->choices[(rec->choice2 % 1000 + c) % n]);
            break;
        }
        case K_PRACTICE:
            memcpy(v.s, "M81", 3);
            put_digits(v.s + 3, rec->choice % 60 + 1, 3);
            v.s[6] = '\0';
            break;
        case K_REPEAT: sb_set(&v, rep ? "Y" : "N"); break;
        case K_COUNT:
            v.s[0] = (char)('0' + rec->choice % 4);
            v.s[1] = '\0';
            break;
        }
        out_field(o, v.s, L->quote_all);
    }
    out_str(o, L->crlf ? "\r\n" : "\n");
}

/* ---------------------------------------------------------------- maps */

static void json_str(wye_membuf *b, const char *s, int *err)
{
    char t[256];
    size_t n = 0;
    t[n++] = '"';
    for (; *s && n + 8 < sizeof t; s++) {
        if (*s == '"' || *s == '\\')
            t[n++] = '\\';
        t[n++] = *s;
    }
    t[n++] = '"';
    wye_sink k = wye_sink_memory(b);
    if (!*err)
        *err = k.write(k.ctx, t, n);
}

static void json_raw(wye_membuf *b, const char *s, int *err)
{
    wye_sink k = wye_sink_memory(b);
    if (!*err)
        *err = k.write(k.ctx, s, strlen(s));
}

int wye_synth_column_map(unsigned agency, char **json, size_t *len)
{
    if (agency >= NA || !json)
        return WYE_EINVAL;
    *json = NULL;
    const layout *L = &layouts[agency];
    wye_membuf b = {0};
    int err = WYE_OK;
    json_raw(&b, "{\n  \"format\": \"wyelink-column-map\",\n  \"version\": 1,\n  \"agency\": ",
             &err);
    json_str(&b, agency_names[agency], &err);
    json_raw(&b, ",\n  \"description\": ", &err);
    json_str(&b, descriptions[agency], &err);
    json_raw(&b, ",\n  \"encoding\": ", &err);
    json_str(&b, L->encoding, &err);
    json_raw(&b, ",\n  \"local_id\": ", &err);
    json_str(&b, L->cols[0].name, &err);
    json_raw(&b, ",\n  \"columns\": [", &err);
    bool first = true;
    for (unsigned c = 0; c < ncols(L); c++) {
        const column *col = &L->cols[c];
        if (col->map == M_NONE)
            continue;
        json_raw(&b, first ? "\n    {\"column\": " : ",\n    {\"column\": ", &err);
        first = false;
        json_str(&b, col->name, &err);
        json_raw(&b,
                 col->map == M_SPLIT  ? ", \"split\": "
                 : col->map == M_ATTR ? ", \"attribute\": "
                                      : ", \"field\": ",
                 &err);
        json_str(&b, col->target, &err);
        if (col->map == M_MULTIPLE)
            json_raw(&b, ", \"multiple\": true", &err);
        if (col->kind == K_DOB) {
            json_raw(&b, ", \"date_format\": ", &err);
            json_str(&b, date_format_names[L->dates], &err);
        }
        if (col->values) {
            json_raw(&b, ", \"values\": {", &err);
            for (size_t i = 0; col->values[2 * i]; i++) {
                if (i)
                    json_raw(&b, ", ", &err);
                json_str(&b, col->values[2 * i], &err);
                json_raw(&b, ": ", &err);
                if (col->values[2 * i + 1])
                    json_str(&b, col->values[2 * i + 1], &err);
                else
                    json_raw(&b, "null", &err);
            }
            json_raw(&b, "}", &err);
        }
        json_raw(&b, "}", &err);
    }
    json_raw(&b, "\n  ]\n}\n", &err);
    if (err) {
        free(b.data);
        return err;
    }
    /* NUL-terminate (not counted in the length). */
    wye_sink k = wye_sink_memory(&b);
    if ((err = k.write(k.ctx, "", 1))) {
        free(b.data);
        return err;
    }
    *json = (char *)b.data;
    if (len)
        *len = b.size - 1;
    return WYE_OK;
}

/* ---------------------------------------------------------------- writing */

int wye_synth_write_agency(const wye_synth *g, unsigned agency, wye_sink csv, wye_sink truth,
                           wye_synth_progress_fn progress, void *progress_ctx, uint64_t *rows)
{
    if (!g || agency >= NA || !csv.write || !truth.write)
        return WYE_EINVAL;
    if (rows)
        *rows = 0;
    const int a = (int)agency;

    /* Every (person, repeat) of this agency, then a shuffle: the rows of one
     * person are not next to each other, and the order is the seed's. */
    const int nt = g->s.threads ? (int)g->s.threads : omp_get_max_threads();
    const uint64_t block = 1 << 16, nblocks = (g->npersons + block - 1) / block;
    size_t *start = calloc(nblocks + 1, sizeof *start);
    if (!start)
        return WYE_ENOMEM;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (uint64_t b = 0; b < nblocks; b++) {
        size_t c = 0;
        for (uint64_t p = b * block; p < (b + 1) * block && p < g->npersons; p++) {
            membership m;
            person_membership(g, p, &m);
            c += m.nrec[a];
        }
        start[b + 1] = c;
    }
    for (uint64_t b = 0; b < nblocks; b++)
        start[b + 1] += start[b];
    const size_t n = start[nblocks];
    uint64_t *ent = malloc((n ? n : 1) * sizeof *ent);
    if (!ent) {
        free(start);
        return WYE_ENOMEM;
    }
#pragma omp parallel for schedule(static) num_threads(nt)
    for (uint64_t b = 0; b < nblocks; b++) {
        size_t j = start[b];
        for (uint64_t p = b * block; p < (b + 1) * block && p < g->npersons; p++) {
            membership m;
            person_membership(g, p, &m);
            for (unsigned k = 0; k < m.nrec[a]; k++)
                ent[j++] = p << 5 | k;
        }
    }
    free(start);
    synth_rng r;
    synth_rng_init(&r, g->s.seed, STREAM_SHUFFLE, (uint64_t)a, 0);
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)synth_below(&r, i);
        uint64_t t = ent[i - 1];
        ent[i - 1] = ent[j];
        ent[j] = t;
    }

    const bool cp1252 = strcmp(layouts[a].encoding, "utf-8") != 0;
    out head = {.cp1252 = cp1252};
    write_header(&head, &layouts[a]);
    int rc = head.err ? head.err : csv.write(csv.ctx, head.buf, head.n);
    free(head.buf);

    /* Chunks of rows are formatted in parallel and written in order, so the
     * bytes do not depend on the number of threads. */
    const size_t chunk = 4096, nchunks = (n + chunk - 1) / chunk;
#pragma omp parallel num_threads(nt)
    {
        out oc = {.cp1252 = cp1252}, ot = {0};
#pragma omp for ordered schedule(static, 1)
        for (size_t k = 0; k < nchunks; k++) {
            const size_t end = (k + 1) * chunk < n ? (k + 1) * chunk : n;
            oc.n = ot.n = 0;
            for (size_t i = k * chunk; i < end; i++) {
                uint64_t p = ent[i] >> 5;
                unsigned rep = (unsigned)(ent[i] & 31);
                membership m;
                person x;
                record rec;
                person_membership(g, p, &m);
                make_person(g, p, &m, &x);
                make_record(g, a, &x, rep, &rec);
                write_row(&oc, g, a, &x, rep, &rec, i, n);
                out_str(&ot, agency_names[a]);
                out_str(&ot, ",");
                out_local_id(&ot, g, &layouts[a], a, i, n);
                out_str(&ot, ",");
                out_u64(&ot, p);
                out_str(&ot, "\n");
            }
#pragma omp ordered
            {
                if (!rc)
                    rc = oc.err ? oc.err : ot.err;
                if (!rc && oc.n)
                    rc = csv.write(csv.ctx, oc.buf, oc.n);
                if (!rc && ot.n)
                    rc = truth.write(truth.ctx, ot.buf, ot.n);
                if (!rc && progress)
                    progress(progress_ctx, end);
            }
        }
        free(oc.buf);
        free(ot.buf);
    }
    free(ent);
    if (!rc && rows)
        *rows = n;
    return rc;
}
