/* Fitting the model (wye_fs_fit) on populations whose truth is known.
 *
 * The population is made to be hard in the way that broke EM over all
 * candidates as data grew (issue 15): no NHS numbers, dates of birth and
 * postcodes often missing, common given and family names, people who move
 * and change their family name, and so many records that strangers sharing
 * a date of birth or a name outnumber the true pairs among the candidates
 * many times over. The linkage must keep its precision as the population
 * grows, and the fit must expect about as many matches as there are. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "wyelink/fsscore.h"
#include "wyelink/linkage.h"
#include "wyelink/records.h"

/* ---- a population ---- */

static uint64_t rng;

static uint64_t next(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double unif(void)
{
    return (double)(next() >> 11) / 9007199254740992.0;
}

/* k in [0, n) with weight 1 / (k + a): a few common values, a long tail */
static size_t zipf(size_t n, double a)
{
    double total = log((n + a) / a), x = unif() * total;
    size_t k = (size_t)(a * exp(x) - a);
    return k < n ? k : n - 1;
}

/* A made-up name for number k: syllables, so names share q-grams as real
 * ones do. */
static void name_of(size_t k, unsigned salt, char *out, size_t cap)
{
    static const char *syl[] = {"AN", "BE", "CA", "DO", "EL", "FI", "GA", "HA", "IN", "JO",
                                "KE", "LI", "MA", "NO", "OR", "PE", "RA", "SA", "TE", "VI",
                                "WI", "YA", "ZO", "LU", "MI", "RO", "SE", "TA", "NE", "LA"};
    uint64_t h = fx_mix(k * 2654435761u + salt);
    size_t len = 0, nsyl = 2 + h % 3;
    for (size_t i = 0; i < nsyl && len + 3 < cap; i++) {
        h = fx_mix(h + i);
        memcpy(out + len, syl[h % 30], 2);
        len += 2;
    }
    out[len] = '\0';
}

typedef struct person {
    char given[16], family[16], former[16], dob[9], postcode[24];
    uint8_t sex; /* 1 F, 2 M */
} person;

typedef struct population {
    size_t n;               /* records */
    fx_person *rec;         /* points into the strings below */
    char (*str)[5][24];     /* given, family, former, dob, postcode of each record */
    uint8_t *sex, *band;    /* attributes */
    uint32_t *truth;        /* person of each record */
    size_t agency_first[5]; /* records of agency a: [first[a], first[a+1]) */
    uint64_t true_pairs;
} population;

static void make_person(person *p, size_t i, size_t persons)
{
    p->sex = unif() < 0.85 ? 1 : 2;
    name_of(zipf(300, 4.0), p->sex == 1 ? 11u : 12u, p->given, sizeof p->given);
    name_of(zipf(4000, 8.0), 13u, p->family, sizeof p->family);
    p->former[0] = '\0';
    unsigned day = (unsigned)(next() % 20000); /* about 1950-2004 */
    unsigned y = 1950 + day / 365, dd = day % 365, m = 1 + dd / 31 % 12, d = 1 + dd % 28;
    snprintf(p->dob, sizeof p->dob, "%04u%02u%02u", y, m, d);
    /* a county: about one postcode for every four people */
    size_t pc = next() % (persons / 4 + 1);
    snprintf(p->postcode, sizeof p->postcode, "WR%zu %zuAB", pc / 100 % 1000, pc % 100);
    (void)i;
}

/* One agency's record of p, with that agency's gaps and the usual errors. */
static void make_record(const person *p, unsigned agency, char s[5][24], uint8_t *sex,
                        uint8_t *band)
{
    static const double no_dob[4] = {0.05, 0.45, 0.02, 0.15};
    static const double no_pc[4] = {0.10, 0.45, 0.05, 0.05};
    snprintf(s[0], 24, "%s", p->given);
    snprintf(s[1], 24, "%s", p->family);
    snprintf(s[2], 24, "%s", p->former);
    snprintf(s[3], 24, "%s", p->dob);
    snprintf(s[4], 24, "%s", p->postcode);
    double x = unif();
    if (x < 0.04) /* a typo in the given name */
        s[0][next() % strlen(s[0])] = (char)('A' + next() % 26);
    if (p->sex == 1 && unif() < 0.06) { /* married: a new family name */
        snprintf(s[2], 24, "%s", p->family);
        name_of(zipf(4000, 8.0), 13u, s[1], 24);
    }
    x = unif();
    if (x < 0.02) /* day and month swapped */
        snprintf(s[3], 24, "%.4s%.2s%.2s", p->dob, p->dob + 6, p->dob + 4);
    else if (x < 0.04) /* a day out */
        s[3][7] = s[3][7] == '1' ? '2' : '1';
    if (unif() < 0.2) /* moved */
        snprintf(s[4], 24, "WR%llu %lluAB", (unsigned long long)(next() % 500),
                 (unsigned long long)(next() % 100));
    if (unif() < no_dob[agency])
        s[3][0] = '\0';
    if (unif() < no_pc[agency])
        s[4][0] = '\0';
    *sex = unif() < 0.05 ? 0 : unif() < 0.005 ? (uint8_t)(3 - p->sex) : p->sex;
    /* age band at 2023: 18-24 = 2, ..., 75+ = 8 (0 missing, under 16) */
    *band = 0;
    if (s[3][0]) {
        int age = 2023 - (s[3][0] - '0') * 1000 - (s[3][1] - '0') * 100 -
                  (s[3][2] - '0') * 10 - (s[3][3] - '0');
        static const int lo[] = {16, 18, 25, 35, 45, 55, 65, 75, 1000};
        for (int b = 0; b < 8; b++)
            if (age >= lo[b] && age < lo[b + 1])
                *band = (uint8_t)(b + 1);
    }
}

static void population_make(population *pop, size_t persons, uint64_t seed)
{
    rng = seed;
    person *ps = calloc(persons, sizeof *ps);
    unsigned *nrec = calloc(persons, sizeof *nrec);
    size_t n = 0;
    for (size_t i = 0; i < persons; i++) {
        make_person(&ps[i], i, persons);
        double x = unif();
        nrec[i] = x < 0.45 ? 1 : x < 0.75 ? 2 : x < 0.9 ? 3 : 4;
        n += nrec[i];
        pop->true_pairs += (uint64_t)nrec[i] * (nrec[i] - 1) / 2;
    }
    pop->n = n;
    pop->rec = calloc(n, sizeof *pop->rec);
    pop->str = calloc(n, sizeof *pop->str);
    pop->sex = calloc(n, 1);
    pop->band = calloc(n, 1);
    pop->truth = calloc(n, sizeof *pop->truth);
    /* each record goes to one of four agencies; records are stored agency
     * by agency */
    unsigned *ag = calloc(n, sizeof *ag);
    uint32_t *who = calloc(n, sizeof *who);
    size_t k = 0, count[4] = {0};
    for (size_t i = 0; i < persons; i++)
        for (unsigned r = 0; r < nrec[i]; r++, k++) {
            double x = unif();
            ag[k] = x < 0.45 ? 0 : x < 0.65 ? 1 : x < 0.9 ? 2 : 3;
            who[k] = (uint32_t)i;
            count[ag[k]]++;
        }
    pop->agency_first[0] = 0;
    for (unsigned a = 0; a < 4; a++)
        pop->agency_first[a + 1] = pop->agency_first[a] + count[a];
    size_t at[4];
    memcpy(at, pop->agency_first, sizeof at);
    for (size_t j = 0; j < n; j++) {
        size_t i = at[ag[j]]++;
        make_record(&ps[who[j]], ag[j], pop->str[i], &pop->sex[i], &pop->band[i]);
        pop->truth[i] = who[j];
        char(*s)[24] = pop->str[i];
        pop->rec[i] = (fx_person){s[0], NULL, s[1], s[2][0] ? s[2] : NULL,
                                  s[3][0] ? s[3] : NULL, NULL, s[4][0] ? s[4] : NULL, NULL};
    }
    free(ag);
    free(who);
    free(ps);
    free(nrec);
}

static void population_free(population *pop)
{
    free(pop->rec);
    free(pop->str);
    free(pop->sex);
    free(pop->band);
    free(pop->truth);
}

static wye_recset *population_set(const wye_protocol *p, const population *pop)
{
    static const char *names[4] = {"police", "charity", "gp", "housing"};
    const wye_layout *lay = wye_protocol_layout(p);
    wye_recset *s;
    cr_assert_eq(wye_recset_new(p, NULL, &s), WYE_OK);
    for (unsigned a = 0; a < 4; a++) {
        size_t first = pop->agency_first[a], cnt = pop->agency_first[a + 1] - first;
        uint8_t *buf = calloc(cnt + 1, lay->record_size);
        for (size_t j = 0; j < cnt; j++) {
            char id[24];
            snprintf(id, sizeof id, "r%zu", first + j);
            uint8_t *r = buf + j * lay->record_size;
            fx_encode(p, &pop->rec[first + j], id, r);
            r[lay->attr_off] = pop->band[first + j];
            r[lay->attr_off + 1] = pop->sex[first + j];
        }
        char label[32];
        snprintf(label, sizeof label, "%s.wye", names[a]);
        cr_assert_eq(wye_recset_add_records(s, names[a], label, NULL, buf, cnt, NULL), WYE_OK);
        free(buf);
    }
    cr_assert_eq(wye_recset_finish(s, 2), WYE_OK);
    return s;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* Pairwise precision and recall of the linkage's persons against the truth. */
static void score(const wye_linkage *l, const population *pop, double *precision,
                  double *recall)
{
    /* pairs in the same predicted person, and of those the true ones:
     * sort records by (person, truth) and count within runs */
    size_t n = pop->n;
    uint64_t *key = malloc(n * sizeof *key);
    for (size_t i = 0; i < n; i++)
        key[i] = (uint64_t)wye_linkage_person(l, i) << 32 | pop->truth[i];
    qsort(key, n, sizeof *key, cmp_u64);
    uint64_t linked = 0, right = 0;
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i; j < n && key[j] >> 32 == key[i] >> 32; j++)
            ;
        linked += (uint64_t)(j - i) * (j - i - 1) / 2;
        for (size_t a = i, b; a < j; a = b) {
            for (b = a; b < j && key[b] == key[a]; b++)
                ;
            right += (uint64_t)(b - a) * (b - a - 1) / 2;
        }
    }
    free(key);
    *precision = linked ? (double)right / (double)linked : 1.0;
    *recall = (double)right / (double)pop->true_pairs;
}

typedef struct run {
    double precision, recall, expected, candidates;
    uint64_t records, true_pairs;
    wye_fs_fit_result fit;
} run;

static run link_population(size_t persons, uint64_t seed)
{
    wye_protocol *p = fx_default_protocol();
    cr_assert(p, "cannot load the protocol (WYELINK_SOURCE_ROOT)");
    population pop = {0};
    population_make(&pop, persons, seed);
    wye_recset *s = population_set(p, &pop);
    wye_link_params lp;
    wye_link_default_params(&lp);
    lp.threads = 2;
    wye_linkage *l = NULL;
    cr_assert_eq(wye_link_run(s, &lp, &l, NULL), WYE_OK);
    run r = {0};
    score(l, &pop, &r.precision, &r.recall);
    const wye_link_stats *st = wye_linkage_stats(l);
    r.expected = st->expected_matches;
    r.candidates = (double)st->candidates;
    r.records = pop.n;
    r.true_pairs = pop.true_pairs;
    r.fit = *wye_fs_fit_info(wye_linkage_model(l));
    wye_linkage_free(l);
    wye_recset_free(s);
    population_free(&pop);
    wye_protocol_free(p);
    return r;
}

Test(fit, precision_holds_as_the_population_grows, .timeout = 300)
{
    run small = link_population(2000, 7), big = link_population(20000, 7);
    fprintf(stderr,
            "fit: %llu records: precision %.4f recall %.4f, expected matches %.0f of %llu "
            "true pairs, %.0f candidates; %llu records: precision %.4f recall %.4f, "
            "expected %.0f of %llu, %.0f candidates\n",
            (unsigned long long)small.records, small.precision, small.recall, small.expected,
            (unsigned long long)small.true_pairs, small.candidates,
            (unsigned long long)big.records, big.precision, big.recall, big.expected,
            (unsigned long long)big.true_pairs, big.candidates);
    /* EM over all candidates (the fit before wye_fs_fit) expected 85,622
     * matches at 38,005 records, and its precision fell from 0.972 to 0.823 */
    cr_expect_geq(small.precision, 0.99);
    cr_expect_geq(big.precision, 0.99);
    cr_expect_geq(big.precision, small.precision - 0.005);
    cr_expect_geq(big.recall, 0.8);
    /* the fit expects about as many matches as there are */
    cr_expect(big.expected > 0.7 * (double)big.true_pairs &&
                  big.expected < 1.3 * (double)big.true_pairs,
              "expected %.0f, true %llu", big.expected, (unsigned long long)big.true_pairs);
    cr_expect(!big.fit.implausible, "%s", big.fit.reason);
}

static size_t comparison_of(const wye_fs *m, const char *name)
{
    for (size_t c = 0; c < wye_fs_ncomparisons(m); c++)
        if (!strcmp(wye_fs_comparison_at(m, c)->name, name))
            return c;
    cr_assert_fail("no comparison %s", name);
    return 0;
}

/* What the fit says about itself: the anchors it used, m and u that point
 * the right way, sex as evidence, and a model file for people. */
Test(fit, diagnostics_of_a_sound_fit, .timeout = 120)
{
    wye_protocol *p = fx_default_protocol();
    population pop = {0};
    population_make(&pop, 3000, 11);
    wye_recset *s = population_set(p, &pop);
    const wye_recview *v = wye_recset_view(s);
    wye_link_params lp;
    wye_link_default_params(&lp);
    lp.threads = 1;
    wye_linkage *l = NULL;
    cr_assert_eq(wye_link_run(s, &lp, &l, NULL), WYE_OK);
    const wye_fs *fs = wye_linkage_model(l);
    const wye_fs_fit_result *r = wye_fs_fit_info(fs);
    cr_assert(!r->implausible, "%s", r->reason);
    cr_assert_str_empty(r->reason);
    cr_assert_eq(r->all_pairs, (uint64_t)v->n * (v->n - 1) / 2);
    cr_assert_eq(r->candidates, wye_linkage_stats(l)->candidates);
    cr_assert(r->u_samples >= 100000);
    bool dob = false, names = false;
    for (unsigned k = 0; k < r->nanchors; k++) {
        const wye_fs_fit_anchor *an = &r->anchor[k];
        if (!strcmp(an->name, "date_of_birth"))
            dob = an->used && an->converged && an->matches > 0 && an->matches <= (double)an->pairs;
        if (!strcmp(an->name, "given_name+family_name"))
            names = an->used;
        if (!strcmp(an->name, "nhs_number"))
            cr_assert(!an->used && an->pairs == 0, "no NHS numbers in this population");
    }
    cr_assert(dob && names);
    /* every comparison made is anchored and points the right way */
    for (size_t c = 0; c < wye_fs_ncomparisons(fs); c++) {
        const wye_fs_comparison *co = wye_fs_comparison_at(fs, c);
        cr_assert_eq(r->anchored[c], r->compared[c], "%s", co->name);
        if (!r->compared[c])
            continue;
        cr_assert_gt(wye_fs_m(fs, c, WYE_FS_EXACT), wye_fs_u(fs, c, WYE_FS_EXACT), "%s", co->name);
        cr_assert_lt(wye_fs_m(fs, c, WYE_FS_DISAGREE), wye_fs_u(fs, c, WYE_FS_DISAGREE), "%s",
                     co->name);
    }
    /* 1 in 200 records has the wrong sex, 1 in 4 pairs of strangers differ:
     * a disagreement on sex is strong evidence of two people */
    size_t sx = comparison_of(fs, "sex");
    double wd = log2(wye_fs_m(fs, sx, WYE_FS_DISAGREE) / wye_fs_u(fs, sx, WYE_FS_DISAGREE));
    cr_assert(wd < -4 && wd >= -log2(1000) - 1e-9, "sex disagreement weight %g", wd);
    /* the expected matches against the truth, and the prior from them */
    cr_assert(r->expected_matches > 0.8 * (double)pop.true_pairs &&
                  r->expected_matches < 1.25 * (double)pop.true_pairs,
              "expected %g, true %llu", r->expected_matches, (unsigned long long)pop.true_pairs);
    cr_assert(fabs(r->prior - r->expected_matches / (double)r->all_pairs) < 1e-12);
    cr_assert(fabs(wye_fs_lambda(fs) - r->prior) < 1e-15);
    cr_assert_gt(r->max_matches, r->expected_matches);
    /* the match threshold holds the expected false share: among the kept
     * pairs at or above it, the posterior non-match probabilities add up
     * to at most 0.2% of them */
    size_t nk = wye_linkage_npairs(l);
    double *sc = malloc((nk + 1) * sizeof *sc), t;
    for (size_t k = 0; k < nk; k++)
        sc[k] = wye_linkage_pair(l, k)->score;
    cr_assert_eq(wye_fs_weight_for_false_share(fs, sc, nk, r->max_false_share, &t), WYE_OK);
    cr_assert_eq(r->max_false_share, 0.002);
    cr_assert(isfinite(t));
    cr_assert_geq(wye_linkage_stats(l)->match, t);
    double above = 0, nonmatch = 0;
    for (size_t k = 0; k < nk; k++)
        if (sc[k] >= t) {
            above++;
            nonmatch += 1 - wye_fs_posterior(fs, sc[k]);
        }
    cr_assert(nonmatch <= 0.002 * above, "%g of %g", nonmatch, above);
    /* a looser share gives a threshold no higher */
    double loose;
    cr_assert_eq(wye_fs_weight_for_false_share(fs, sc, nk, 0.05, &loose), WYE_OK);
    cr_assert_leq(loose, t);
    cr_assert_eq(wye_fs_weight_for_false_share(fs, sc, nk, 0, &loose), WYE_EINVAL);
    free(sc);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_eq(wye_fs_write_model(fs, f), WYE_OK);
    fclose(f);
    cr_assert(strstr(text, "  anchor date_of_birth:"), "%s", text);
    cr_assert(strstr(text, "  sex: disagree m "), "%s", text);
    cr_assert(strstr(text, "  nhs_number (never compared):"), "%s", text);
    cr_assert(!strstr(text, "implausible"), "%s", text);
    free(text);
    wye_linkage_free(l);
    wye_recset_free(s);
    population_free(&pop);
    wye_protocol_free(p);
}

/* Each person held twelve times by one agency: far more matches than a
 * few records per person per agency allow. The fit says so, and why. */
Test(fit, implausible_when_the_records_do_not_allow_the_matches)
{
    wye_protocol *p = fx_default_protocol();
    enum { PERSONS = 60, COPIES = 12, N = PERSONS * COPIES };
    fx_person *rec = calloc(N, sizeof *rec);
    char(*str)[3][16] = calloc(N, sizeof *str);
    uint8_t band[N], sex[N];
    rng = 99;
    for (size_t i = 0; i < PERSONS; i++) {
        char g[16], fam[16], dob[9], pc[12];
        name_of(i, 21u, g, sizeof g);
        name_of(i, 22u, fam, sizeof fam);
        snprintf(dob, sizeof dob, "19%02zu%02zu%02zu", 50 + i % 40, 1 + i % 12, 1 + i % 28);
        snprintf(pc, sizeof pc, "HR%zu %zuXY", i % 90, i % 7);
        for (size_t k = 0; k < COPIES; k++) {
            size_t j = i * COPIES + k;
            snprintf(str[j][0], 16, "%s", g);
            snprintf(str[j][1], 16, "%s", fam);
            snprintf(str[j][2], 16, "%s", k % 3 ? pc : "");
            rec[j] = (fx_person){str[j][0], NULL, str[j][1], NULL,
                                 k % 4 ? strdup(dob) : NULL, NULL,
                                 str[j][2][0] ? str[j][2] : NULL, NULL};
            band[j] = 0;
            sex[j] = 1;
        }
    }
    const wye_layout *lay = wye_protocol_layout(p);
    uint8_t *buf = calloc(N, lay->record_size);
    for (size_t j = 0; j < N; j++) {
        char id[16];
        snprintf(id, sizeof id, "r%zu", j);
        fx_encode(p, &rec[j], id, buf + j * lay->record_size);
        buf[j * lay->record_size + lay->attr_off] = band[j];
        buf[j * lay->record_size + lay->attr_off + 1] = sex[j];
    }
    wye_recset *s;
    cr_assert_eq(wye_recset_new(p, NULL, &s), WYE_OK);
    cr_assert_eq(wye_recset_add_records(s, "police", "police.wye", NULL, buf, N, NULL), WYE_OK);
    cr_assert_eq(wye_recset_finish(s, 1), WYE_OK);
    wye_link_params lp;
    wye_link_default_params(&lp);
    lp.threads = 1;
    wye_linkage *l = NULL;
    cr_assert_eq(wye_link_run(s, &lp, &l, NULL), WYE_OK);
    const wye_fs_fit_result *r = wye_fs_fit_info(wye_linkage_model(l));
    /* one agency of 720 records, at most 3 of one person: 720 pairs */
    cr_assert(fabs(r->max_matches - N) < 1e-9, "bound %g", r->max_matches);
    cr_assert_gt(r->expected_matches, r->max_matches);
    cr_assert(r->implausible);
    cr_assert(strstr(r->reason, "the model expects") && strstr(r->reason, "more than the 720 that 3 records"),
              "%s", r->reason);
    /* it still links: the warning is for the people reading the results */
    cr_assert_lt(wye_linkage_stats(l)->persons, N / 2);
    wye_linkage_free(l);
    wye_recset_free(s);
    for (size_t j = 0; j < N; j++)
        free((char *)rec[j].dob);
    free(buf);
    free(rec);
    free(str);
    wye_protocol_free(p);
}

Test(fit, refuses_bad_arguments)
{
    wye_protocol *p = fx_default_protocol();
    wye_fs *fs;
    cr_assert_eq(wye_fs_new(p, NULL, &fs), WYE_OK);
    population pop = {0};
    population_make(&pop, 50, 3);
    wye_recset *s = population_set(p, &pop);
    uint64_t *counts = calloc(wye_fs_npatterns(fs), sizeof *counts);
    wye_fs_fit_params fp;
    wye_fs_default_fit_params(&fp);
    cr_assert_eq(fp.u_samples, 4000000);
    cr_assert_eq(fp.max_records_per_agency, 3.0);
    cr_assert_eq(wye_fs_fit(NULL, wye_recset_view(s), counts, &fp, NULL), WYE_EINVAL);
    cr_assert_eq(wye_fs_fit(fs, wye_recset_view(s), NULL, &fp, NULL), WYE_EINVAL);
    fp.max_records_per_agency = 0.5;
    cr_assert_eq(wye_fs_fit(fs, wye_recset_view(s), counts, &fp, NULL), WYE_EINVAL);
    wye_fs_default_fit_params(&fp);
    fp.max_false_share = 0;
    cr_assert_eq(wye_fs_fit(fs, wye_recset_view(s), counts, &fp, NULL), WYE_EINVAL);
    /* no candidates: the starting model, nothing implausible */
    wye_fs_fit_result res;
    cr_assert_eq(wye_fs_fit(fs, wye_recset_view(s), counts, NULL, &res), WYE_OK);
    cr_assert_eq(res.candidates, 0);
    cr_assert(!res.implausible);
    double score = 30, t = 0;
    cr_assert_eq(wye_fs_weight_for_false_share(fs, &score, 1, 0.002, &t), WYE_OK);
    cr_assert_eq(t, -INFINITY, "no anchor: the posterior is not counted on");
    free(counts);
    wye_fs_free(fs);
    wye_recset_free(s);
    population_free(&pop);
    wye_protocol_free(p);
}
