/* Fuzz harness for the column-map parser (hashing/colmap.c).
 *
 * libFuzzer:  clang -fsanitize=fuzzer,address,undefined -DWYE_LIBFUZZER ...
 * Otherwise:  fuzz_colmap CORPUS_DIR replays every file of the folder; a
 * seed named ok_* must parse, bad_* must be refused with WYE_EJSON and
 * version_* with WYE_EVERSION, so the corpus is also a table of verdicts.
 *
 * Invariants (a failure aborts): a refusal fills the diagnostic with a
 * printable reason; a parsed map maps at least one field, and binding it to
 * a header made of its own column names succeeds, then extracting a row of
 * empty cells gives every field missing and the verdict "empty row". */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_replay.h"
#include "wyelink/colmap.h"
#include "wyelink/io.h"

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "fuzz_colmap: invariant failed: %s (line %d)\n", #cond,    \
                    __LINE__);                                                         \
            abort();                                                                   \
        }                                                                              \
    } while (0)

/* The default protocol's fields and attributes (protocols/default.json), and
 * address and other_id (so that lists of columns can be fuzzed). */
static const char protocol_json[] =
    "{\"format\":\"wyelink-protocol\",\"version\":1,\"name\":\"fuzz\",\"filter_bits\":256,"
    "\"fields\":["
    "{\"name\":\"given_name\",\"kdf_id\":1,\"record_bits\":50,"
    "\"tokenisers\":[{\"type\":\"qgram\"}]},"
    "{\"name\":\"other_given_names\",\"kdf_id\":1,\"record_bits\":20,"
    "\"tokenisers\":[{\"type\":\"qgram\"}]},"
    "{\"name\":\"family_name\",\"kdf_id\":1,\"record_bits\":50,"
    "\"tokenisers\":[{\"type\":\"qgram\"}]},"
    "{\"name\":\"former_family_name\",\"kdf_id\":1,\"field_filter_bits\":64,"
    "\"field_filter_k\":10,\"tokenisers\":[{\"type\":\"qgram\"}]},"
    "{\"name\":\"date_of_birth\",\"kdf_id\":2,\"record_bits\":40,"
    "\"tokenisers\":[{\"type\":\"date_parts\"}]},"
    "{\"name\":\"sex\",\"kdf_id\":3,\"record_bits\":10,\"tokenisers\":[{\"type\":\"whole\"}]},"
    "{\"name\":\"postcode\",\"kdf_id\":4,\"record_bits\":30,"
    "\"tokenisers\":[{\"type\":\"qgram\"}]},"
    "{\"name\":\"nhs_number\",\"kdf_id\":5,\"exact_digest\":true,"
    "\"tokenisers\":[{\"type\":\"whole\"}]},"
    "{\"name\":\"address\",\"kdf_id\":6,\"field_filter_bits\":64,"
    "\"field_filter_k\":10,\"tokenisers\":[{\"type\":\"qgram\"}]},"
    "{\"name\":\"other_id\",\"kdf_id\":7,\"exact_digest\":true,"
    "\"tokenisers\":[{\"type\":\"whole\"}]}],"
    "\"attributes\":[{\"name\":\"age_band\",\"source\":\"age_band\","
    "\"values\":[\"16-17\",\"18-24\",\"25+\"]},"
    "{\"name\":\"sex\",\"source\":\"sex\",\"values\":[\"F\",\"M\",\"X\"]},"
    "{\"name\":\"service_type\",\"source\":\"column\","
    "\"values\":[\"refuge\",\"outreach\",\"helpline\",\"advocacy\",\"other\"]}]}";

static wye_protocol *proto;

static void init(void)
{
    if (proto)
        return;
    wye_diag d;
    CHECK(wye_protocol_parse(protocol_json, sizeof protocol_json - 1, &proto, &d) == WYE_OK);
}

static void printable(const char *s)
{
    CHECK(strlen(s) > 0);
    for (; *s; s++)
        CHECK((unsigned char)*s >= 0x20);
}

/* The code tally of one empty row: every value column met one empty cell
 * and nothing else; only the map's own codes are shown, at 0 rows. */
static void tally_empty_row(const wye_colmap *m, const wye_csv_row *row)
{
    wye_code_tally *t;
    CHECK(wye_code_tally_new(m, &t) == WYE_OK);
    CHECK(wye_code_tally_row(t, row) == WYE_OK);
    CHECK(wye_code_tally_finish(t) == WYE_OK);
    for (size_t i = 0; i < wye_code_tally_ncolumns(t); i++) {
        const wye_code_column *c = wye_code_tally_column(t, i);
        CHECK(c && c->target);
        CHECK(c->constant ? !c->column && c->attribute : c->column && c->empty == 1);
        CHECK(c->hidden_codes == 0 && !c->too_many);
        for (size_t k = 0; k < c->ncodes; k++)
            CHECK(c->codes[k].in_map && c->codes[k].rows == 0);
    }
    CHECK(!wye_code_tally_column(t, wye_code_tally_ncolumns(t)));
    wye_code_tally_free(t);
}

/* Bind the map to a header of its own names (taken from the JSON) plus the
 * local id, and extract an empty row. */
static void bind_self(wye_colmap *m, const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *root = json_loadb((const char *)data, size, 0, &je);
    CHECK(root);
    wye_membuf hdr = {0};
    wye_sink sink = wye_sink_memory(&hdr);
    const char *lid = json_string_value(json_object_get(root, "local_id"));
    CHECK(lid);
    size_t ncols = 1;
    /* quote every name: "" doubles a quote */
#define PUT_NAME(s)                                                                    \
    do {                                                                               \
        CHECK(sink.write(sink.ctx, "\"", 1) == WYE_OK);                                \
        for (const char *q = (s); *q; q++) {                                           \
            if (*q == '"')                                                             \
                CHECK(sink.write(sink.ctx, "\"", 1) == WYE_OK);                        \
            CHECK(sink.write(sink.ctx, q, 1) == WYE_OK);                               \
        }                                                                              \
        CHECK(sink.write(sink.ctx, "\"", 1) == WYE_OK);                                \
    } while (0)
    PUT_NAME(lid);
    /* every column name, once ("column" is a name or a list of names) */
    const char *names[64 * 8];
    size_t nnames = 0;
    json_t *cols = json_object_get(root, "columns"), *c;
    size_t i;
    json_array_foreach(cols, i, c) {
        json_t *col = json_object_get(c, "column"), *one;
        size_t k;
        if (!col) {
            CHECK(json_object_get(c, "value")); /* a constant attribute: no column */
            continue;
        }
        if (json_is_string(col)) {
            names[nnames++] = json_string_value(col);
            continue;
        }
        CHECK(json_is_array(col) && json_array_size(col) <= 8);
        json_array_foreach(col, k, one) {
            CHECK(json_is_string(one));
            names[nnames++] = json_string_value(one);
        }
    }
    for (size_t n = 0; n < nnames; n++) {
        bool seen = !strcmp(names[n], lid);
        for (size_t j = 0; j < n && !seen; j++)
            seen = !strcmp(names[n], names[j]);
        if (seen)
            continue; /* the same column may feed two things: one header cell */
        CHECK(sink.write(sink.ctx, ",", 1) == WYE_OK);
        PUT_NAME(names[n]);
        ncols++;
    }
    CHECK(sink.write(sink.ctx, "\n\"\"", 3) == WYE_OK); /* "" so the row is not blank */
    for (size_t k = 1; k < ncols; k++)
        CHECK(sink.write(sink.ctx, ",", 1) == WYE_OK);
    CHECK(sink.write(sink.ctx, "\n", 1) == WYE_OK);
    json_decref(root);

    wye_memsource ms = {hdr.data, hdr.size, 0};
    wye_csvin *r;
    wye_diag d;
    /* names with spaces at the ends are trimmed in the header but not in the
     * map: such a map cannot bind, which is fine */
    if (wye_csvin_open(wye_source_memory(&ms), WYE_CSV_UTF8, &r, &d) == WYE_OK) {
        if (wye_colmap_bind(m, r, &d) == WYE_OK) {
            wye_csv_row row;
            CHECK(wye_csvin_next(r, &row, &d) == 1);
            wye_fields f;
            const char *id;
            size_t idlen;
            const wye_date ex = {2024, 3, 31};
            CHECK(wye_colmap_extract(m, &row, &ex, &f, &id, &idlen) == WYE_ROW_EMPTY);
            for (size_t k = 0; k < wye_protocol_nfields(proto); k++)
                CHECK(f.status[k] == WYE_NORM_MISSING);
            tally_empty_row(m, &row);
        } else {
            printable(d.reason);
        }
        wye_csvin_free(r);
    }
    free(hdr.data);
}

static int parse(const uint8_t *data, size_t size)
{
    wye_colmap *m = NULL;
    wye_diag d;
    int rc = wye_colmap_parse((const char *)data, size, proto, &m, &d);
    if (rc == WYE_OK) {
        CHECK(m);
        bool any = false;
        for (size_t i = 0; i < wye_protocol_nfields(proto); i++)
            any = any || wye_colmap_field_mapped(m, i);
        CHECK(any);
        CHECK(wye_colmap_encoding(m) == WYE_CSV_UTF8 ||
              wye_colmap_encoding(m) == WYE_CSV_WINDOWS1252);
        bind_self(m, data, size);
        wye_colmap_free(m);
    } else {
        CHECK(!m);
        CHECK(rc == WYE_EJSON || rc == WYE_EVERSION || rc == WYE_ENOMEM);
        printable(d.reason);
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    parse(data, size);
    return 0;
}

#ifndef WYE_LIBFUZZER
int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_colmap CORPUS_DIR\n");
        return 2;
    }
    init();
    static const wye_fuzz_verdict verdicts[] = {
        {"ok_", WYE_OK}, {"bad_", WYE_EJSON}, {"version_", WYE_EVERSION}};
    int status = wye_fuzz_replay(argv[1], 1u << 22, parse, verdicts,
                                 sizeof verdicts / sizeof verdicts[0]);
    wye_protocol_free(proto);
    return status;
}
#endif
