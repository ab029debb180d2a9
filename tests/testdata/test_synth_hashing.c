/* The generated extracts read by the hashing client's own CSV reader and
 * column maps (hashing/csvin.c, hashing/colmap.c) under the default
 * protocol: every map parses and binds, every row maps, the only rows that
 * cannot be linked are the deliberately thin ones (many in the charity's), and clean data
 * normalises to the same values for every record of a person. */
#include "synthhash.h"

Test(testdata, extracts_read_by_hashing_client)
{
    wye_protocol *p = load_protocol();
    generated g;
    generate(&g, 9, 2, 1, 0);
    int svc = -1;
    for (size_t i = 0; i < wye_protocol_nattrs(p); i++)
        if (!strcmp(wye_protocol_attr(p, i)->name, "service_type"))
            svc = (int)i;
    for (unsigned a = 0; a < NAG; a++) {
        counts c;
        read_agency(p, &g, a, &c, NULL, NULL);
        const char *name = wye_synth_agency_name(a);
        /* Only rows with a name and nothing else to link on are refused. */
        for (int v = 0; v < WYE_ROW_COUNT; v++)
            if (v != WYE_ROW_OK && v != WYE_ROW_NAME_ONLY)
                cr_assert_eq(c.verdict[v], 0, "%s: %llu rows '%s'", name,
                             (unsigned long long)c.verdict[v],
                             wye_row_verdict_text((wye_row_verdict)v));
        /* The charity's sparse extract has many (a name and perhaps a sex
         * and age band: about an eighth of its rows); the others few. */
        const uint64_t thin = c.verdict[WYE_ROW_NAME_ONLY];
        if (a == WYE_SYNTH_WMWA)
            cr_assert(thin * 20 >= c.rows && thin * 5 <= c.rows, "%s: %llu thin rows of %llu",
                      name, (unsigned long long)thin, (unsigned long long)c.rows);
        else
            cr_assert_leq(thin * 50, c.rows, "%s: %llu thin rows", name,
                          (unsigned long long)thin);
        /* Invalid values: mistyped NHS numbers, withheld postcodes, impossible
         * dates; each a small share. */
        for (size_t i = 0; i < wye_protocol_nfields(p); i++)
            cr_assert_leq(c.invalid[i] * 20, c.rows, "%s: %llu invalid %s", name,
                          (unsigned long long)c.invalid[i], wye_protocol_field(p, i)->name);
        for (size_t i = 0; i < wye_protocol_nattrs(p); i++)
            cr_assert_eq(c.attr_invalid[i], 0, "%s: invalid %s values", name,
                         wye_protocol_attr(p, i)->name);
        (void)svc;
    }
    gen_free(&g);
    wye_protocol_free(p);
}

typedef struct same_ctx {
    const wye_protocol *p;
    const long *person;   /* by truth row */
    uint64_t offset[NAG]; /* first truth row of each agency */
    char (*seen)[WYE_MAX_FIELDS][WYE_NORM_MAX];
    uint64_t compared;
} same_ctx;

static void check_same(void *ctx, unsigned a, uint64_t row, const wye_fields *f)
{
    same_ctx *s = ctx;
    long q = s->person[s->offset[a] + row];
    for (size_t i = 0; i < wye_protocol_nfields(s->p); i++) {
        cr_assert_neq(f->status[i], WYE_NORM_INVALID, "%s: invalid %s in clean data",
                      wye_synth_agency_name(a), wye_protocol_field(s->p, i)->name);
        if (f->status[i] != WYE_NORM_PRESENT)
            continue;
        char *v = s->seen[q][i];
        if (!v[0]) {
            strcpy(v, f->value[i]);
            continue;
        }
        s->compared++;
        cr_assert_str_eq(v, f->value[i], "%s: %s differs from another record of the person",
                         wye_synth_agency_name(a), wye_protocol_field(s->p, i)->name);
    }
}

Test(testdata, clean_extracts_normalise_alike)
{
    wye_protocol *p = load_protocol();
    generated g;
    generate(&g, 9, 1, 0, 0);
    table t;
    table_parse(&t, g.truth.data, g.truth.size);
    long *person = malloc(t.n * sizeof *person);
    for (size_t i = 1; i < t.n; i++)
        person[i - 1] = atol(t.rows[i][2]);
    same_ctx s = {.p = p, .person = person};
    for (unsigned a = 1; a < NAG; a++)
        s.offset[a] = s.offset[a - 1] + g.rows[a - 1];
    s.seen = calloc(g.persons, sizeof *s.seen);
    for (unsigned a = 0; a < NAG; a++) {
        counts c;
        read_agency(p, &g, a, &c, check_same, &s);
        cr_assert_eq(c.verdict[WYE_ROW_OK], c.rows, "%s: a clean row was refused",
                     wye_synth_agency_name(a));
    }
    cr_assert_gt(s.compared, 5000);
    free(s.seen);
    free(person);
    table_free(&t);
    gen_free(&g);
    wye_protocol_free(p);
}
