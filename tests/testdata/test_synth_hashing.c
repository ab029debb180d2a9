/* The generated extracts read by the hashing client's own CSV reader and
 * column maps (hashing/csvin.c, hashing/colmap.c) under the default
 * protocol: every map parses and binds, every row maps, the only rows that
 * cannot be linked are the deliberately thin ones, and clean data
 * normalises to the same values for every record of a person. */
#include "synthtest.h"
#include "wyelink/colmap.h"
#include "wyelink/csvin.h"
#include "wyelink/protocol.h"

static wye_protocol *load_protocol(void)
{
    const char *root = getenv("WYELINK_SOURCE_ROOT");
    cr_assert_not_null(root);
    char path[1024];
    snprintf(path, sizeof path, "%s/protocols/default.json", root);
    wye_protocol *p = NULL;
    wye_diag d;
    cr_assert_eq(wye_protocol_load(path, &p, &d), WYE_OK, "default protocol: %s", d.reason);
    return p;
}

typedef struct counts {
    uint64_t rows, verdict[WYE_ROW_COUNT];
    uint64_t invalid[WYE_MAX_FIELDS], attr_invalid[WYE_MAX_ATTRS];
} counts;

/* Map every row of agency a; call back with its fields and its row number. */
typedef void (*row_fn)(void *ctx, unsigned a, uint64_t row, const wye_fields *f);

static void read_agency(const wye_protocol *p, const generated *g, unsigned a, counts *c,
                        row_fn fn, void *ctx)
{
    char *json = NULL;
    size_t len = 0;
    wye_diag d;
    cr_assert_eq(wye_synth_column_map(a, &json, &len), WYE_OK);
    wye_colmap *m = NULL;
    cr_assert_eq(wye_colmap_parse(json, len, p, &m, &d), WYE_OK, "%s map: %s: %s",
                 wye_synth_agency_name(a), d.field, d.reason);
    free(json);
    wye_memsource ms = {g->csv[a].data, g->csv[a].size, 0};
    wye_csvin *r = NULL;
    cr_assert_eq(wye_csvin_open(wye_source_memory(&ms), wye_colmap_encoding(m), &r, &d), WYE_OK,
                 "%s: line %llu: %s", wye_synth_agency_name(a), (unsigned long long)d.line,
                 d.reason);
    cr_assert_eq(wye_colmap_bind(m, r, &d), WYE_OK, "%s: %s", wye_synth_agency_name(a),
                 d.field);
    wye_date extract = {2023, 3, 31};
    wye_csv_row row;
    int rc;
    memset(c, 0, sizeof *c);
    while ((rc = wye_csvin_next(r, &row, &d)) == 1) {
        wye_fields f;
        const char *id;
        size_t idlen;
        wye_row_verdict v = wye_colmap_extract(m, &row, &extract, &f, &id, &idlen);
        cr_assert_lt((unsigned)v, WYE_ROW_COUNT);
        c->verdict[v]++;
        for (size_t i = 0; i < wye_protocol_nfields(p); i++)
            c->invalid[i] += f.status[i] == WYE_NORM_INVALID;
        for (size_t i = 0; i < wye_protocol_nattrs(p); i++)
            c->attr_invalid[i] += f.attr_status[i] == WYE_NORM_INVALID;
        if (fn)
            fn(ctx, a, c->rows, &f);
        c->rows++;
    }
    cr_assert_eq(rc, 0, "%s: line %llu: %s", wye_synth_agency_name(a),
                 (unsigned long long)d.line, d.reason);
    cr_assert_eq(c->rows, g->rows[a]);
    wye_csvin_free(r);
    wye_colmap_free(m);
}

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
        cr_assert_leq(c.verdict[WYE_ROW_NAME_ONLY] * 50, c.rows, "%s: %llu thin rows", name,
                      (unsigned long long)c.verdict[WYE_ROW_NAME_ONLY]);
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
