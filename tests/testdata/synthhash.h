/* The generated extracts read through the hashing client's CSV reader and
 * column maps under the default protocol: shared by the suites that check
 * what the generator writes as a linker would see it. */
#ifndef WYELINK_SYNTHHASH_H
#define WYELINK_SYNTHHASH_H

#include "synthtest.h"
#include "wyelink/colmap.h"
#include "wyelink/csvin.h"
#include "wyelink/protocol.h"

static inline wye_protocol *load_protocol(void)
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

static inline void read_agency(const wye_protocol *p, const generated *g, unsigned a, counts *c,
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

#endif
