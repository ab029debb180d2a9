/* The synthetic generator (testdata/synth.c, wyelink synth). */
#include <jansson.h>
#include <math.h>

#include "synthtest.h"

static const double targets[NAG] = {2000, 1400, 310, 1100, 230, 190, 180};

/* ---------------------------------------------------------------- maps */

typedef struct mapinfo {
    json_t *root;
    const char *local_id;
    const char *dob_col, *dob_fmt;
    const char *sex_col;
    json_t *sex_values;
    const char *pc_col, *nhs_col;
} mapinfo;

static void map_info(unsigned a, mapinfo *m)
{
    memset(m, 0, sizeof *m);
    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(wye_synth_column_map(a, &text, &len), WYE_OK);
    cr_assert_eq(strlen(text), len);
    json_error_t err;
    m->root = json_loadb(text, len, 0, &err);
    free(text);
    cr_assert_not_null(m->root, "map of %s is not JSON: %s", wye_synth_agency_name(a), err.text);
    m->local_id = json_string_value(json_object_get(m->root, "local_id"));
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(m->root, "columns"), i, c) {
        const char *col = json_string_value(json_object_get(c, "column"));
        const char *field = json_string_value(json_object_get(c, "field"));
        if (!field)
            continue;
        if (!strcmp(field, "date_of_birth")) {
            m->dob_col = col;
            m->dob_fmt = json_string_value(json_object_get(c, "date_format"));
        } else if (!strcmp(field, "sex")) {
            m->sex_col = col;
            m->sex_values = json_object_get(c, "values");
        } else if (!strcmp(field, "postcode")) {
            m->pc_col = col;
        } else if (!strcmp(field, "nhs_number")) {
            m->nhs_col = col;
        }
    }
}

/* YYYYMMDD of a date in one of the map formats, 0 if empty or unparsable. */
static long parse_dob(const char *s, const char *fmt)
{
    unsigned d = 0, m = 0, y = 0;
    char mon[4] = {0};
    static const char *months = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (!*s)
        return 0;
    if (!strcmp(fmt, "DD/MM/YYYY") && sscanf(s, "%2u/%2u/%4u", &d, &m, &y) == 3) {
    } else if (!strcmp(fmt, "YYYY-MM-DD") && sscanf(s, "%4u-%2u-%2u", &y, &m, &d) == 3) {
    } else if (!strcmp(fmt, "DD.MM.YYYY") && sscanf(s, "%2u.%2u.%4u", &d, &m, &y) == 3) {
    } else if (!strcmp(fmt, "YYYYMMDD") && sscanf(s, "%4u%2u%2u", &y, &m, &d) == 3) {
    } else if (!strcmp(fmt, "DD/MM/YY") && sscanf(s, "%2u/%2u/%2u", &d, &m, &y) == 3) {
        y += y <= 23 ? 2000 : 1900; /* extract date 2023-03-31; nobody is over 95 */
    } else if (!strcmp(fmt, "DD-Mon-YYYY") && sscanf(s, "%2u-%3c-%4u", &d, mon, &y) == 3) {
        const char *p = strstr(months, mon);
        m = p ? (unsigned)(p - months) / 3 + 1 : 0;
    } else {
        return 0;
    }
    return (long)y * 10000 + m * 100 + d;
}

static void normalise_pc(const char *in, char *out)
{
    size_t n = 0;
    for (; *in && n < 15; in++)
        if (*in != ' ')
            out[n++] = (char)(*in >= 'a' && *in <= 'z' ? *in - 32 : *in);
    out[n] = '\0';
}

static void digits_only(const char *in, char *out)
{
    size_t n = 0;
    for (; *in && n < 15; in++)
        if (*in >= '0' && *in <= '9')
            out[n++] = *in;
    out[n] = '\0';
}

/* ---------------------------------------------------------------- truth */

typedef struct truth_row {
    unsigned agency;
    char *local_id;
    long person;
    size_t row; /* row in the agency's table */
} truth_row;

typedef struct parsed {
    table t[NAG];
    table truth;
    truth_row *tr;
    size_t ntr;
} parsed;

static void parse_all(const generated *g, parsed *p)
{
    for (int a = 0; a < NAG; a++)
        table_parse(&p->t[a], g->csv[a].data, g->csv[a].size);
    table_parse(&p->truth, g->truth.data, g->truth.size);
    cr_assert_eq(p->truth.nf[0], 3);
    cr_assert_str_eq(p->truth.rows[0][0], "agency");
    cr_assert_str_eq(p->truth.rows[0][1], "local_id");
    cr_assert_str_eq(p->truth.rows[0][2], "person");
    p->ntr = p->truth.n - 1;
    p->tr = calloc(p->ntr, sizeof *p->tr);
    for (size_t i = 0; i < p->ntr; i++) {
        char **r = p->truth.rows[i + 1];
        cr_assert_eq(p->truth.nf[i + 1], 3);
        int a = wye_synth_agency_index(r[0]);
        cr_assert_geq(a, 0);
        p->tr[i].agency = (unsigned)a;
        p->tr[i].local_id = r[1];
        p->tr[i].person = atol(r[2]);
    }
    /* Truth rows come in each agency's row order. */
    size_t k = 0;
    for (unsigned a = 0; a < NAG; a++)
        for (size_t r = 1; r < p->t[a].n; r++, k++) {
            cr_assert_lt(k, p->ntr);
            cr_assert_eq(p->tr[k].agency, a);
            p->tr[k].row = r;
        }
}

static void parsed_free(parsed *p)
{
    for (int a = 0; a < NAG; a++)
        table_free(&p->t[a]);
    table_free(&p->truth);
    free(p->tr);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---------------------------------------------------------------- tests */

Test(testdata, same_seed_same_bytes_any_threads)
{
    generated a, b, c;
    generate(&a, 7, 1, 1, 1);
    generate(&b, 7, 1, 1, 2);
    generate(&c, 8, 1, 1, 2);
    for (int k = 0; k < NAG; k++) {
        cr_assert_eq(a.csv[k].size, b.csv[k].size, "agency %d", k);
        cr_assert(!memcmp(a.csv[k].data, b.csv[k].data, a.csv[k].size), "agency %d", k);
        cr_assert(c.csv[k].size != a.csv[k].size ||
                      memcmp(a.csv[k].data, c.csv[k].data, a.csv[k].size),
                  "seed 8 repeats seed 7 for agency %d", k);
    }
    cr_assert_eq(a.truth.size, b.truth.size);
    cr_assert(!memcmp(a.truth.data, b.truth.data, a.truth.size));
    gen_free(&a);
    gen_free(&b);
    gen_free(&c);
}

Test(testdata, cli_same_bytes_and_files)
{
    char *d = temp_dir();
    const char *w = wyelink_exe();
    cr_assert_eq(run("'%s' synth --seed 3 --out '%s/a' --quiet", w, d), 0);
    cr_assert_eq(run("'%s' synth --seed 3 --threads 1 --out '%s/b' > '%s/b.out'", w, d, d), 0);
    cr_assert_eq(run("'%s' synth --seed 4 --out '%s/c' --quiet", w, d), 0);
    char p[700], q[700];
    for (unsigned a = 0; a <= NAG; a++) {
        for (int kind = 0; kind < 2; kind++) {
            if (a == NAG && kind == 1)
                continue;
            const char *name = a == NAG ? "truth" : wye_synth_agency_name(a);
            const char *ext = a == NAG ? ".csv" : kind ? ".map.json" : ".csv";
            snprintf(p, sizeof p, "%s/a/%s%s", d, name, ext);
            snprintf(q, sizeof q, "%s/b/%s%s", d, name, ext);
            size_t n1, n2;
            char *x = slurp(p, &n1), *y = slurp(q, &n2);
            cr_assert_not_null(x, "missing %s%s", name, ext);
            cr_assert_not_null(y);
            cr_assert(n1 == n2 && !memcmp(x, y, n1), "%s%s differs between runs", name, ext);
            free(y);
            if (!kind) {
                snprintf(q, sizeof q, "%s/c/%s%s", d, name, ext);
                y = slurp(q, &n2);
                cr_assert(n1 != n2 || memcmp(x, y, n1), "%s%s same for seeds 3 and 4", name,
                          ext);
                free(y);
            }
            free(x);
        }
    }
    /* The summary on stdout holds counts only. */
    size_t n;
    snprintf(p, sizeof p, "%s/b.out", d);
    char *out = slurp(p, &n);
    cr_assert_not_null(out);
    cr_assert(strstr(out, "police") && strstr(out, "truth.csv"));
    free(out);
    remove_dir(d);
}

Test(testdata, volumes_within_15_percent_of_targets)
{
    wye_synth_settings s;
    wye_synth_default_settings(&s);
    wye_synth *g = NULL;
    cr_assert_eq(wye_synth_new(&s, &g), WYE_OK);
    for (unsigned a = 0; a < NAG; a++)
        cr_assert(fabs(wye_synth_expected_records(g, a) / targets[a] - 1) < 0.01,
                  "model of %s is off its target", wye_synth_agency_name(a));
    wye_synth_free(g);
    for (uint64_t seed = 1; seed <= 4; seed++) {
        generated x;
        generate(&x, seed, 1, 1, 0);
        for (unsigned a = 0; a < NAG; a++)
            cr_assert(fabs((double)x.rows[a] / targets[a] - 1) <= 0.15,
                      "seed %llu: %s has %llu rows, target %.0f", (unsigned long long)seed,
                      wye_synth_agency_name(a), (unsigned long long)x.rows[a], targets[a]);
        gen_free(&x);
    }
    /* Linear in the scale. */
    generated y;
    generate(&y, 1, 3, 1, 0);
    for (unsigned a = 0; a < NAG; a++)
        cr_assert(fabs((double)y.rows[a] / (3 * targets[a]) - 1) <= 0.10, "%s at scale 3",
                  wye_synth_agency_name(a));
    gen_free(&y);
}

Test(testdata, truth_covers_every_row_once)
{
    generated g;
    generate(&g, 11, 1, 1, 0);
    parsed p;
    parse_all(&g, &p);
    size_t total = 0;
    for (unsigned a = 0; a < NAG; a++) {
        mapinfo m;
        map_info(a, &m);
        int id = table_col(&p.t[a], m.local_id);
        cr_assert_geq(id, 0);
        cr_assert_eq(p.t[a].n - 1, g.rows[a]);
        char **ids = malloc((p.t[a].n + 1) * sizeof *ids);
        for (size_t r = 1; r < p.t[a].n; r++)
            ids[r - 1] = p.t[a].rows[r][id];
        qsort(ids, p.t[a].n - 1, sizeof *ids, cmp_str);
        for (size_t r = 1; r + 1 < p.t[a].n; r++)
            cr_assert(strcmp(ids[r - 1], ids[r]), "%s repeats a local id",
                      wye_synth_agency_name(a));
        free(ids);
        json_decref(m.root);
        total += p.t[a].n - 1;
    }
    cr_assert_eq(p.ntr, total);
    for (size_t i = 0; i < p.ntr; i++) {
        mapinfo m;
        map_info(p.tr[i].agency, &m);
        const table *t = &p.t[p.tr[i].agency];
        int id = table_col(t, m.local_id);
        cr_assert_str_eq(p.tr[i].local_id, t->rows[p.tr[i].row][id]);
        cr_assert_geq(p.tr[i].person, 0);
        cr_assert_lt((uint64_t)p.tr[i].person, g.persons);
        json_decref(m.root);
    }
    parsed_free(&p);
    gen_free(&g);
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

Test(testdata, overlaps_and_repeats_in_range)
{
    generated g;
    generate(&g, 5, 2, 1, 0);
    parsed p;
    parse_all(&g, &p);
    /* agencies[person] as a bit set; records per agency. */
    uint8_t *in = calloc(g.persons, 1);
    for (size_t i = 0; i < p.ntr; i++)
        in[p.tr[i].person] |= (uint8_t)(1u << p.tr[i].agency);
    size_t persons[NAG] = {0}, both_mp = 0, both_mi = 0, both_ag = 0, single = 0, seen = 0;
    for (uint64_t q = 0; q < g.persons; q++) {
        if (!in[q])
            continue;
        seen++;
        for (unsigned a = 0; a < NAG; a++)
            persons[a] += (in[q] >> a) & 1;
        single += !(in[q] & (in[q] - 1));
        if (in[q] & (1u << WYE_SYNTH_MARAC)) {
            both_mp += !!(in[q] & (1u << WYE_SYNTH_POLICE));
            both_mi += !!(in[q] & (1u << WYE_SYNTH_IDVA));
        }
        if (in[q] & (1u << WYE_SYNTH_ASC))
            both_ag += !!(in[q] & (1u << WYE_SYNTH_GP));
    }
    cr_assert_eq(seen, g.persons, "every person has a record");
    double marac_police = (double)both_mp / persons[WYE_SYNTH_MARAC];
    double marac_idva = (double)both_mi / persons[WYE_SYNTH_MARAC];
    double asc_gp = (double)both_ag / persons[WYE_SYNTH_ASC];
    double one = (double)single / seen;
    cr_assert(marac_police >= 0.75 && marac_police <= 0.95, "MARAC in police %.3f", marac_police);
    cr_assert(marac_idva >= 0.60 && marac_idva <= 0.85, "MARAC in IDVA %.3f", marac_idva);
    cr_assert(asc_gp >= 0.65 && asc_gp <= 0.90, "ASC in GP %.3f", asc_gp);
    cr_assert(one >= 0.50 && one <= 0.75, "known to one agency only %.3f", one);
    /* Repeats: police most of all. */
    double police_ratio = (double)g.rows[WYE_SYNTH_POLICE] / persons[WYE_SYNTH_POLICE];
    cr_assert(police_ratio >= 1.25 && police_ratio <= 1.6, "police records per person %.3f",
              police_ratio);
    for (unsigned a = 1; a < NAG; a++) {
        double r = (double)g.rows[a] / persons[a];
        cr_assert(r >= 1.02 && r < police_ratio, "%s records per person %.3f",
                  wye_synth_agency_name(a), r);
    }
    /* Mostly women, adult ages. */
    size_t women = 0, rows = 0;
    long *dobs = malloc(p.ntr * sizeof *dobs);
    size_t nd = 0;
    for (unsigned a = 0; a < NAG; a++) {
        mapinfo m;
        map_info(a, &m);
        int sc = table_col(&p.t[a], m.sex_col), dc = table_col(&p.t[a], m.dob_col);
        for (size_t r = 1; r < p.t[a].n; r++) {
            const char *v = json_string_value(json_object_get(m.sex_values, p.t[a].rows[r][sc]));
            women += v && !strcmp(v, "F");
            rows++;
            long d = parse_dob(p.t[a].rows[r][dc], m.dob_fmt);
            if (d)
                dobs[nd++] = d;
        }
        json_decref(m.root);
    }
    cr_assert(women > rows * 3 / 4, "women %zu of %zu", women, rows);
    qsort(dobs, nd, sizeof *dobs, cmp_long);
    long median = dobs[nd / 2];
    cr_assert(median >= 19800101 && median <= 19950101, "median date of birth %ld", median);
    cr_assert(dobs[nd - 1] <= 20230331, "a birth after the extract date");
    free(dobs);
    free(in);
    parsed_free(&p);
    gen_free(&g);
}

/* NHS numbers: only GP and ASC hold them; all pass modulus 11 except the
 * mistyped share, and one person's valid numbers agree. */
static void nhs_counts(uint64_t seed, double level, size_t *present, size_t *invalid,
                       size_t *missing)
{
    generated g;
    generate(&g, seed, 5, level, 0);
    parsed p;
    parse_all(&g, &p);
    char (*valid_of)[11] = calloc(g.persons, 11);
    for (size_t i = 0; i < p.ntr; i++) {
        unsigned a = p.tr[i].agency;
        mapinfo m;
        map_info(a, &m);
        if (a != WYE_SYNTH_GP && a != WYE_SYNTH_ASC) {
            cr_assert_null(m.nhs_col, "%s has an NHS number", wye_synth_agency_name(a));
            json_decref(m.root);
            continue;
        }
        cr_assert_not_null(m.nhs_col);
        int c = table_col(&p.t[a], m.nhs_col);
        cr_assert_geq(c, 0);
        char d[16];
        digits_only(p.t[a].rows[p.tr[i].row][c], d);
        json_decref(m.root);
        if (!d[0]) {
            missing[a == WYE_SYNTH_ASC]++;
            continue;
        }
        cr_assert_eq(strlen(d), 10);
        present[a == WYE_SYNTH_ASC]++;
        if (!wye_synth_nhs_valid(d)) {
            invalid[a == WYE_SYNTH_ASC]++;
            continue;
        }
        char *v = valid_of[p.tr[i].person];
        if (!v[0])
            memcpy(v, d, 11);
        else
            cr_assert_str_eq(v, d, "two valid NHS numbers for one person");
    }
    free(valid_of);
    parsed_free(&p);
    gen_free(&g);
}

Test(testdata, nhs_numbers_valid_except_mistyped_share)
{
    size_t present[2] = {0}, invalid[2] = {0}, missing[2] = {0};
    nhs_counts(2, 1, present, invalid, missing);
    /* GP mistypes 0.5%, ASC 2% (binomial bounds at these counts). */
    cr_assert(present[0] > 5000 && present[1] > 1000);
    double gp = (double)invalid[0] / present[0], asc = (double)invalid[1] / present[1];
    cr_assert(gp >= 0.002 && gp <= 0.01, "GP invalid share %.4f", gp);
    cr_assert(asc >= 0.008 && asc <= 0.04, "ASC invalid share %.4f", asc);
    cr_assert(missing[1] > missing[0] * present[1] / present[0], "ASC misses more than GP");

    size_t p0[2] = {0}, i0[2] = {0}, m0[2] = {0};
    nhs_counts(2, 0, p0, i0, m0);
    cr_assert_eq(i0[0] + i0[1], 0, "no mistyped NHS number in clean data");
    cr_assert_eq(m0[0] + m0[1], 0, "no missing NHS number in clean data");
    /* The check itself: a known-valid and a one-digit-off number. */
    cr_assert(wye_synth_nhs_valid("9434765919"));
    cr_assert(!wye_synth_nhs_valid("9434765918"));
    cr_assert(!wye_synth_nhs_valid("9434765191"));
}

/* Clean data (error level 0): every record of a person carries the same
 * date of birth, sex, postcode; realistic data does not. */
static double disagreement(uint64_t seed, double level, bool strict)
{
    generated g;
    generate(&g, seed, 1, level, 0);
    parsed p;
    parse_all(&g, &p);
    long *dob = calloc(g.persons, sizeof *dob);
    char (*pc)[16] = calloc(g.persons, 16);
    char *sex = calloc(g.persons, 1);
    size_t compared = 0, differ = 0;
    for (size_t i = 0; i < p.ntr; i++) {
        unsigned a = p.tr[i].agency;
        long q = p.tr[i].person;
        mapinfo m;
        map_info(a, &m);
        char **row = p.t[a].rows[p.tr[i].row];
        long d = parse_dob(row[table_col(&p.t[a], m.dob_col)], m.dob_fmt);
        char pcn[16];
        normalise_pc(row[table_col(&p.t[a], m.pc_col)], pcn);
        const char *sv =
            json_string_value(json_object_get(m.sex_values, row[table_col(&p.t[a], m.sex_col)]));
        char s = sv ? sv[0] : '?';
        json_decref(m.root);
        if (strict) {
            cr_assert_neq(d, 0, "clean data has every date of birth");
            cr_assert(pcn[0], "clean data has every postcode");
            cr_assert_neq(s, '?', "clean data has every sex");
        }
        if (!dob[q]) {
            dob[q] = d;
            memcpy(pc[q], pcn, 16);
            sex[q] = s;
            continue;
        }
        compared++;
        bool diff = dob[q] != d || strcmp(pc[q], pcn) || sex[q] != s;
        differ += diff;
        if (strict)
            cr_assert(!diff, "records of one person differ in clean data");
    }
    free(dob);
    free(pc);
    free(sex);
    parsed_free(&p);
    gen_free(&g);
    return compared ? (double)differ / compared : 0;
}

Test(testdata, clean_data_agrees_realistic_data_varies)
{
    cr_assert_eq(disagreement(3, 0, true), 0);
    double d = disagreement(3, 1, false);
    cr_assert(d > 0.10 && d < 0.60, "share of record pairs that differ %.3f", d);
}

/* Every map is valid JSON with the agreed schema, and its columns exist. */
Test(testdata, maps_valid_and_columns_in_header)
{
    generated g;
    generate(&g, 1, 0.2, 1, 0);
    static const char *const fields[] = {"given_name", "other_given_names", "family_name",
                                         "former_family_name", "date_of_birth", "sex",
                                         "postcode", "nhs_number", NULL};
    static const char *const formats[] = {"DD/MM/YYYY", "YYYY-MM-DD", "DD-Mon-YYYY",
                                          "DD/MM/YY", "YYYYMMDD", "DD.MM.YYYY", NULL};
    int splits_fs = 0, splits_scf = 0, services = 0;
    for (unsigned a = 0; a < NAG; a++) {
        table t;
        table_parse(&t, g.csv[a].data, g.csv[a].size);
        for (size_t r = 1; r < t.n; r++)
            cr_assert_eq(t.nf[r], t.nf[0], "%s row %zu has %zu fields, header %zu",
                         wye_synth_agency_name(a), r, t.nf[r], t.nf[0]);
        mapinfo m;
        map_info(a, &m);
        json_t *o = m.root;
        cr_assert_str_eq(json_string_value(json_object_get(o, "format")), "wyelink-column-map");
        cr_assert_eq(json_integer_value(json_object_get(o, "version")), 1);
        cr_assert_str_eq(json_string_value(json_object_get(o, "agency")),
                         wye_synth_agency_name(a));
        const char *enc = json_string_value(json_object_get(o, "encoding"));
        cr_assert_str_eq(enc, wye_synth_encoding(a));
        cr_assert(!strcmp(enc, "utf-8") || !strcmp(enc, "windows-1252"));
        cr_assert_geq(table_col(&t, m.local_id), 0, "local_id column of %s",
                      wye_synth_agency_name(a));
        json_t *c;
        size_t i;
        json_array_foreach(json_object_get(o, "columns"), i, c) {
            const char *col = json_string_value(json_object_get(c, "column"));
            cr_assert_not_null(col);
            cr_assert_geq(table_col(&t, col), 0, "%s: column '%s' not in the header",
                          wye_synth_agency_name(a), col);
            const char *field = json_string_value(json_object_get(c, "field"));
            const char *split = json_string_value(json_object_get(c, "split"));
            const char *attr = json_string_value(json_object_get(c, "attribute"));
            cr_assert_eq(!!field + !!split + !!attr, 1, "exactly one of field/split/attribute");
            if (field) {
                bool known = false;
                for (int f = 0; fields[f]; f++)
                    known |= !strcmp(fields[f], field);
                cr_assert(known, "unknown field %s", field);
            }
            if (split) {
                splits_fs += !strcmp(split, "forename_surname");
                splits_scf += !strcmp(split, "surname_comma_forename");
                cr_assert(!strcmp(split, "forename_surname") ||
                          !strcmp(split, "surname_comma_forename"));
            }
            if (attr) {
                cr_assert_str_eq(attr, "service_type");
                cr_assert(a == WYE_SYNTH_WMWA || a == WYE_SYNTH_IDVA);
                services++;
            }
            json_t *df = json_object_get(c, "date_format");
            if (df) {
                bool known = false;
                for (int f = 0; formats[f]; f++)
                    known |= !strcmp(formats[f], json_string_value(df));
                cr_assert(known);
            }
            json_t *vals = json_object_get(c, "values");
            if (vals) {
                const char *k;
                json_t *v;
                json_object_foreach(vals, k, v) {
                    cr_assert(json_is_string(v) || json_is_null(v));
                    if (field && !strcmp(field, "sex") && json_is_string(v))
                        cr_assert(!strcmp(json_string_value(v), "F") ||
                                  !strcmp(json_string_value(v), "M"));
                }
                /* Every code written in the column is in the map. */
                int col_i = table_col(&t, col);
                for (size_t r = 1; r < t.n; r++)
                    cr_assert(json_object_get(vals, t.rows[r][col_i]),
                              "%s: a code in column '%s' is not in its map",
                              wye_synth_agency_name(a), col);
            }
        }
        json_decref(o);
        table_free(&t);
    }
    cr_assert_geq(splits_fs, 1, "an agency with one 'Forename Surname' column");
    cr_assert_geq(splits_scf, 1, "an agency with one 'SURNAME, Forename' column");
    cr_assert_eq(services, 2);
    gen_free(&g);
}

/* hashing/maps/ holds exactly what the generator writes. */
Test(testdata, repository_maps_equal_generated)
{
    const char *root = getenv("WYELINK_SOURCE_ROOT");
    cr_assert_not_null(root);
    for (unsigned a = 0; a < NAG; a++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/hashing/maps/%s.json", root, wye_synth_agency_name(a));
        size_t n;
        char *file = slurp(path, &n);
        cr_assert_not_null(file, "missing %s", path);
        char *gen = NULL;
        size_t len = 0;
        cr_assert_eq(wye_synth_column_map(a, &gen, &len), WYE_OK);
        cr_assert(n == len && !memcmp(file, gen, n), "%s differs from wyelink synth's map", path);
        free(file);
        free(gen);
    }
}

/* Layout details real extracts have: quoting, line ends, BOM, encoding. */
Test(testdata, csv_layout_details)
{
    generated g;
    generate(&g, 1, 5, 1, 0);
    const wye_membuf *gp = &g.csv[WYE_SYNTH_GP], *asc = &g.csv[WYE_SYNTH_ASC],
                     *hous = &g.csv[WYE_SYNTH_HOUSING], *pol = &g.csv[WYE_SYNTH_POLICE];
    cr_assert(memmem(gp->data, gp->size, "\r\n", 2), "GP uses CRLF");
    cr_assert(!memmem(pol->data, pol->size, "\r", 1), "police uses LF");
    cr_assert(!memcmp(asc->data, "\xEF\xBB\xBF", 3), "ASC starts with a BOM");
    cr_assert(memmem(hous->data, hous->size, "\"\"DA\"\"", 6), "a doubled quote in housing");
    cr_assert(memmem(asc->data, asc->size, ", ", 2), "quoted commas in ASC names");
    /* Housing is Windows-1252: an accented letter is one byte. */
    bool cp1252 = false;
    for (size_t i = 0; i + 1 < hous->size && !cp1252; i++)
        cp1252 = hous->data[i] >= 0xC0 && hous->data[i + 1] < 0x80;
    cr_assert(cp1252, "no Windows-1252 letter in housing");
    /* Mc/Mac and O' names, double-barrelled names, and withheld postcodes. */
    bool mc = false, o = false, dbl = false;
    for (unsigned a = 0; a < NAG; a++) {
        const wye_membuf *b = &g.csv[a];
        mc |= memmem(b->data, b->size, ",Mc", 3) || memmem(b->data, b->size, ",Mac", 4);
        o |= memmem(b->data, b->size, ",O'", 3) != NULL;
        for (size_t i = 1; i + 1 < b->size && !dbl; i++)
            dbl = b->data[i] == '-' && b->data[i - 1] >= 'a' && b->data[i - 1] <= 'z' &&
                  b->data[i + 1] >= 'A' && b->data[i + 1] <= 'Z';
    }
    cr_assert(mc && o && dbl);
    cr_assert(memmem(g.csv[WYE_SYNTH_WMWA].data, g.csv[WYE_SYNTH_WMWA].size, ",WITHHELD,", 10));
    gen_free(&g);
}

Test(testdata, extract_date_moves_ages)
{
    wye_synth_settings s;
    wye_synth_default_settings(&s);
    s.extract_date = 20100630;
    wye_synth *g = NULL;
    cr_assert_eq(wye_synth_new(&s, &g), WYE_OK);
    wye_membuf csv = {0}, truth = {0};
    cr_assert_eq(wye_synth_write_agency(g, WYE_SYNTH_MARAC, wye_sink_memory(&csv),
                                        wye_sink_memory(&truth), NULL, NULL, NULL),
                 WYE_OK);
    wye_synth_free(g);
    table t;
    table_parse(&t, csv.data, csv.size);
    int c = table_col(&t, "Victim DOB");
    for (size_t r = 1; r < t.n; r++) {
        long d = parse_dob(t.rows[r][c], "DD.MM.YYYY");
        if (d)
            cr_assert(d <= 20100630 && d >= 19100101, "date of birth %ld", d);
    }
    cr_assert(memmem(csv.data, csv.size, "MARAC/2010/", 11));
    table_free(&t);
    free(csv.data);
    free(truth.data);

    s.extract_date = 20230230;
    cr_assert_eq(wye_synth_new(&s, &g), WYE_ERANGE);
    s.extract_date = 20230331;
    s.scale = 0;
    cr_assert_eq(wye_synth_new(&s, &g), WYE_ERANGE);
    cr_assert_null(wye_synth_agency_name(NAG));
    cr_assert_eq(wye_synth_agency_index("nosuch"), -1);
    cr_assert_eq(wye_synth_agency_index("housing"), WYE_SYNTH_HOUSING);
}

Test(testdata, cli_options)
{
    char *d = temp_dir();
    const char *w = wyelink_exe();
    cr_assert_eq(run("'%s' synth --out '%s/x' --agencies police,marac --scale 0.5 --quiet", w, d),
                 0);
    char p[700];
    snprintf(p, sizeof p, "%s/x/gp.csv", d);
    cr_assert_neq(access(p, F_OK), 0, "gp.csv written without being asked for");
    snprintf(p, sizeof p, "%s/x/marac.map.json", d);
    cr_assert_eq(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/x/truth.csv", d);
    size_t n;
    char *t = slurp(p, &n);
    cr_assert_not_null(t);
    cr_assert(strstr(t, "\npolice,") && strstr(t, "\nmarac,") && !strstr(t, "\ngp,"));
    free(t);
    cr_assert_eq(run("'%s' synth --out '%s/y' --agencies police,nosuch 2>/dev/null", w, d), 2);
    cr_assert_eq(run("'%s' synth --out '%s/y' --extract-date 2023-02-30 2>/dev/null", w, d), 2);
    cr_assert_eq(run("'%s' synth --out '%s/y' --extract-date 31/03/2023 2>/dev/null", w, d), 2);
    cr_assert_eq(run("'%s' synth --out '%s/y' --scale 0 2>/dev/null", w, d), 2);
    cr_assert_eq(run("'%s' synth 2>/dev/null", w), 2);
    snprintf(p, sizeof p, "%s/y", d);
    cr_assert_neq(access(p, F_OK), 0, "a failed run left a folder");
    cr_assert_eq(run("'%s' synth --out /dev/null/x --quiet 2>/dev/null", w), 1);
    remove_dir(d);
}
