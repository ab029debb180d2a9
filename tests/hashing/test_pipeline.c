/* wye_hash_run (hashing/pipeline.c) through the library alone: the tally
 * without a secret equals the tally of an encoding run, the outputs and
 * digests of 1 and 3 threads agree, the digests are those of the bytes, a
 * progress callback cancels, failures name their stage, and the summary
 * JSON leaves out what it is not given. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashtest.h"
#include "wyelink/colmap.h"
#include "wyelink/encfile.h"
#include "wyelink/io.h"
#include "wyelink/pipeline.h"

static const char map_json[] =
    "{\"format\":\"wyelink-column-map\",\"version\":1,\"agency\":\"police\","
    "\"local_id\":\"Ref\",\"columns\":["
    "{\"column\":\"Forename\",\"field\":\"given_name\"},"
    "{\"column\":\"Surname\",\"field\":\"family_name\"},"
    "{\"column\":\"DOB\",\"field\":\"date_of_birth\",\"date_format\":\"DD/MM/YYYY\"},"
    "{\"column\":\"Sex\",\"field\":\"sex\"},"
    "{\"column\":\"Postcode\",\"field\":\"postcode\"},"
    "{\"column\":\"NHS\",\"field\":\"nhs_number\"},"
    "{\"column\":\"Service\",\"attribute\":\"service_type\"}]}";

static const char csv_small[] =
    "Ref,Forename,Surname,DOB,Sex,Postcode,NHS,Service,Notes\n"
    "A1,Zebulonia,Quillfeather,17/08/1991,F,HR1 2AB,943 476 5919,refuge,none\n"
    "A2,Marigoldine,Thistlewaite,03/02/1985,Female,WR13 4YH,,outreach,\"a note\n"
    "over two lines, with a comma\"\n"
    "A3,Ottoline,,,,,,,\n"                                 /* line 5: a name only */
    "A4,,,01/01/1970,M,,,,\n"                              /* line 6: no name */
    "A1,Zebulonia,Quillfeather,17/08/1991,F,HR1 2AB,,,\n" /* line 7: duplicate id */
    ",Persephonia,Blackwoodley,05/05/1975,F,,,,\n"         /* line 8: no local id */
    "A9,Euphrasia\n"                                        /* line 9: 2 fields */
    "A10,Araminta,Fennimore,31/02/1990,X,ZZ99 3VZ,4010232138,shelter,\n"
    "A11,Clementhia,Wolstenholme,09/09/1999,U,SW1A 2AA,4010232137,,\n"
    "\n"
    "A12,Georgiana-Mae,O'Shaughnessy,29/02/2000,F,EC1A1BB,,helpline,\n"
    "A13,Lavinia,\"Brookshaw\"x,01/01/1980,F,,,,\n"; /* line 14: malformed quoting */

static wye_protocol *proto;
static wye_colmap *map;
static wye_secret *secret;
static wye_party *agency, *lu;

static void setup(void)
{
    cr_assert_eq(wye_crypto_init(), WYE_OK);
    proto = ht_shipped_protocol();
    wye_diag d;
    cr_assert_eq(wye_colmap_parse(map_json, sizeof map_json - 1, proto, &map, &d), WYE_OK);
    secret = ht_secret();
    cr_assert_eq(wye_party_create("police", "agency", &agency), WYE_OK);
    cr_assert_eq(wye_party_create("lu", "linkage-unit", &lu), WYE_OK);
}

static void teardown(void)
{
    wye_colmap_free(map);
    wye_protocol_free(proto);
    wye_secret_free(secret);
    wye_party_free(agency);
    wye_party_free(lu);
}

TestSuite(pipeline, .init = setup, .fini = teardown);

typedef struct outputs {
    wye_membuf enc, lmap;
} outputs;

static void settings_for(wye_hash_settings *s, outputs *o, unsigned threads)
{
    wye_hash_default_settings(s);
    s->protocol = proto;
    s->map = map;
    s->extract_date = (wye_date){2024, 3, 31};
    s->threads = threads;
    if (o) {
        memset(o, 0, sizeof *o);
        s->secret = secret;
        s->agency = agency;
        s->recipient = wye_party_public_part(lu);
        s->created = 1700000000;
        s->encoded = wye_sink_memory(&o->enc);
        s->local_map = wye_sink_memory(&o->lmap);
    }
}

static int run_text(const char *csv, size_t len, const wye_hash_settings *s, wye_hash_result *r,
                    wye_diag *d)
{
    wye_memsource ms = {(const uint8_t *)csv, len, 0};
    return wye_hash_run(wye_source_memory(&ms), s, r, d);
}

static void expect_digest(const uint8_t *data, size_t n, const uint8_t *digest)
{
    uint8_t d[32];
    crypto_generichash(d, sizeof d, data, n, NULL, 0);
    cr_expect_arr_eq(d, digest, 32);
}

/* Everything but the outputs and digests. */
static void expect_same_tally(const wye_hash_result *a, const wye_hash_result *b)
{
    cr_expect_eq(a->rows_read, b->rows_read);
    cr_expect_eq(a->rows_encoded, b->rows_encoded);
    cr_expect_eq(a->rows_rejected, b->rows_rejected);
    cr_expect_eq(a->rows_shaped, b->rows_shaped);
    cr_expect_eq(a->blank_lines, b->blank_lines);
    cr_expect_arr_eq(a->rejected_by, b->rejected_by, sizeof a->rejected_by);
    cr_expect_arr_eq(a->field, b->field, sizeof a->field);
    cr_expect_arr_eq(a->attr, b->attr, sizeof a->attr);
    cr_assert_eq(a->nrejected, b->nrejected);
    for (size_t i = 0; i < a->nrejected; i++) {
        cr_expect_eq(a->rejected[i].line, b->rejected[i].line);
        cr_expect_eq(a->rejected[i].reason, b->rejected[i].reason);
    }
    /* the value columns' codes: the same counts and spellings */
    size_t nc = wye_code_tally_ncolumns(a->codes);
    cr_assert_eq(nc, wye_code_tally_ncolumns(b->codes));
    cr_expect_gt(nc, 0);
    for (size_t i = 0; i < nc; i++) {
        const wye_code_column *x = wye_code_tally_column(a->codes, i),
                              *y = wye_code_tally_column(b->codes, i);
        cr_assert_eq(x->ncodes, y->ncodes);
        cr_expect_eq(x->empty, y->empty);
        cr_expect_eq(x->hidden_codes, y->hidden_codes);
        cr_expect_arr_eq(x->hidden_rows, y->hidden_rows, sizeof x->hidden_rows);
        for (size_t k = 0; k < x->ncodes; k++) {
            cr_expect_str_eq(x->codes[k].code, y->codes[k].code);
            cr_expect_eq(x->codes[k].rows, y->codes[k].rows);
        }
    }
    cr_assert_eq(a->ninvalid, b->ninvalid);
    cr_expect_eq(a->invalid_total, b->invalid_total);
    for (size_t i = 0; i < a->ninvalid; i++) {
        cr_expect_eq(a->invalid[i].line, b->invalid[i].line);
        cr_expect_eq(a->invalid[i].field, b->invalid[i].field);
        cr_expect_eq(a->invalid[i].reason, b->invalid[i].reason);
    }
}

Test(pipeline, encoding_run_counts_and_digests)
{
    wye_hash_settings s;
    outputs o;
    settings_for(&s, &o, 2);
    wye_hash_result r;
    wye_diag d;
    cr_assert_eq(run_text(csv_small, sizeof csv_small - 1, &s, &r, &d), WYE_OK);
    cr_expect_eq(r.stage, WYE_HASH_STAGE_NONE);
    cr_expect(r.read_all);
    cr_expect_eq(r.threads, 2);
    cr_expect_eq(r.rows_read, 11);
    cr_expect_eq(r.rows_encoded, 4);
    cr_expect_eq(r.rows_rejected, 7);
    cr_expect_eq(r.rows_shaped, 9);
    cr_expect_eq(r.blank_lines, 1);
    cr_expect_eq(r.rejected_by[WYE_ROW_DUPLICATE_ID], 1);
    static const struct {
        uint64_t line;
        wye_row_verdict why;
    } want[] = {{5, WYE_ROW_NAME_ONLY},    {6, WYE_ROW_NO_NAME},     {7, WYE_ROW_DUPLICATE_ID},
                {8, WYE_ROW_NO_LOCAL_ID},  {9, WYE_ROW_FIELD_COUNT}, {10, WYE_ROW_NAME_ONLY},
                {14, WYE_ROW_MALFORMED}};
    cr_assert_eq(r.nrejected, 7);
    for (size_t i = 0; i < 7; i++) {
        cr_expect_eq(r.rejected[i].line, want[i].line, "row %zu", i);
        cr_expect_eq(r.rejected[i].reason, want[i].why, "row %zu", i);
    }
    cr_expect_eq(r.invalid_total, 3);
    cr_expect_eq(r.ninvalid, 3);
    cr_expect_eq(r.invalid[0].line, 10);
    /* the digests are those of the bytes that passed */
    cr_expect(r.input_complete);
    cr_expect_eq(r.input_bytes, sizeof csv_small - 1);
    expect_digest((const uint8_t *)csv_small, sizeof csv_small - 1, r.input_digest);
    cr_expect_eq(r.encoded_bytes, o.enc.size);
    expect_digest(o.enc.data, o.enc.size, r.encoded_digest);
    cr_expect_eq(r.local_map_bytes, o.lmap.size);
    expect_digest(o.lmap.data, o.lmap.size, r.local_map_digest);
    cr_expect(o.lmap.size > 16 && memcmp(o.lmap.data, "local_id,record\nA1,", 19) == 0);

    /* the encoded file holds the four records, for the linkage unit */
    wye_memsource ms = {o.enc.data, o.enc.size, 0};
    wye_trust *t;
    cr_assert_eq(wye_trust_new(&t), WYE_OK);
    cr_assert_eq(wye_trust_add(t, wye_party_public_part(agency)), WYE_OK);
    wye_encreader *er;
    cr_assert_eq(wye_encreader_open(wye_source_memory(&ms), lu, t, &er), WYE_OK);
    cr_expect_eq(wye_encreader_meta(er)->created, 1700000000);
    cr_expect_eq(memcmp(wye_encreader_meta(er)->extract_date, "2024-03-31", 10), 0);
    const uint8_t *rec;
    int n = 0, rc;
    while ((rc = wye_encreader_next(er, &rec)) == 1)
        n++;
    cr_expect_eq(rc, 0);
    cr_expect_eq(n, 4);
    wye_encreader_free(er);
    wye_trust_free(t);
    wye_hash_result_clear(&r);
    cr_expect_null(r.rejected);
    free(o.enc.data);
    free(o.lmap.data);
}

/* Without a secret: no key, no output, and the same tally (duplicates too). */
Test(pipeline, tally_without_a_secret)
{
    wye_hash_settings s;
    outputs o;
    settings_for(&s, &o, 2);
    wye_hash_result enc, tally;
    cr_assert_eq(run_text(csv_small, sizeof csv_small - 1, &s, &enc, NULL), WYE_OK);
    settings_for(&s, NULL, 2);
    cr_assert_eq(run_text(csv_small, sizeof csv_small - 1, &s, &tally, NULL), WYE_OK);
    expect_same_tally(&enc, &tally);
    cr_expect_eq(tally.rejected_by[WYE_ROW_DUPLICATE_ID], 1);
    cr_expect_eq(tally.encoded_bytes, 0);
    cr_expect_eq(tally.local_map_bytes, 0);
    cr_expect(tally.input_complete);
    wye_hash_result_clear(&enc);
    wye_hash_result_clear(&tally);
    free(o.enc.data);
    free(o.lmap.data);
}

/* Rows over several batches, with repeated ids. */
static char *big_csv(unsigned rows, size_t *len)
{
    wye_membuf b = {0};
    wye_sink sk = wye_sink_memory(&b);
    const char head[] = "Ref,Forename,Surname,DOB,Sex,Postcode,NHS,Service,Notes\n";
    cr_assert_eq(sk.write(sk.ctx, head, sizeof head - 1), WYE_OK);
    uint64_t x = 88172645463325252ull;
    for (unsigned i = 0; i < rows; i++) {
        char line[256];
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int n = snprintf(line, sizeof line, "R%u,Anne%u,Jones%u,%02u/%02u/%u,%s,HR%u %uAB,,,\n",
                         i % 7000 == 3 ? 3u : i, (unsigned)(x % 50), (unsigned)(x >> 8) % 90,
                         1 + (unsigned)(x >> 16) % 28, 1 + (unsigned)(x >> 24) % 12,
                         1940 + (unsigned)(x >> 32) % 60, (x >> 40) % 3 ? "F" : "M",
                         (unsigned)(x >> 44) % 10, (unsigned)(x >> 48) % 10);
        cr_assert_eq(sk.write(sk.ctx, line, (size_t)n), WYE_OK);
    }
    *len = b.size;
    return (char *)b.data;
}

Test(pipeline, threads_agree)
{
    size_t len;
    char *csv = big_csv(20000, &len);
    wye_hash_settings s;
    outputs o1, o3;
    wye_hash_result r1, r3;
    settings_for(&s, &o1, 1);
    cr_assert_eq(run_text(csv, len, &s, &r1, NULL), WYE_OK);
    settings_for(&s, &o3, 3);
    cr_assert_eq(run_text(csv, len, &s, &r3, NULL), WYE_OK);
    expect_same_tally(&r1, &r3);
    cr_expect_eq(r1.rows_encoded, 20000 - 2);
    cr_expect_eq(r1.rejected_by[WYE_ROW_DUPLICATE_ID], 2);
    cr_expect_eq(r3.threads, 3);
    cr_assert_eq(o1.lmap.size, o3.lmap.size);
    cr_expect_eq(memcmp(o1.lmap.data, o3.lmap.data, o1.lmap.size), 0);
    cr_expect_arr_eq(r1.local_map_digest, r3.local_map_digest, 32);
    cr_expect_eq(r1.encoded_bytes, r3.encoded_bytes);
    wye_hash_result_clear(&r1);
    wye_hash_result_clear(&r3);
    free(o1.enc.data);
    free(o1.lmap.data);
    free(o3.enc.data);
    free(o3.lmap.data);
    free(csv);
}

typedef struct counter {
    unsigned calls, cancel_at;
    uint64_t last, total, rows;
} counter;

static int count_progress(void *ctx, uint64_t done, uint64_t total, uint64_t rows)
{
    counter *c = ctx;
    cr_expect_geq(done, c->last, "progress goes forward");
    cr_expect_geq(rows, c->rows, "rows go forward");
    c->last = done;
    c->total = total;
    c->rows = rows;
    return ++c->calls == c->cancel_at;
}

Test(pipeline, progress_and_cancel)
{
    size_t len;
    char *csv = big_csv(40000, &len);
    wye_hash_settings s;
    outputs o;
    settings_for(&s, &o, 2);
    s.input_size = len;
    counter k = {0, 0, 0, 0, 0};
    s.progress = count_progress;
    s.progress_ctx = &k;
    wye_hash_result r;
    cr_assert_eq(run_text(csv, len, &s, &r, NULL), WYE_OK);
    cr_expect_geq(k.calls, 5, "one call per batch of 8192 rows");
    cr_expect_eq(k.last, len);
    cr_expect_eq(k.total, len);
    cr_expect_eq(k.rows, 40000, "the rows read, for a rate in rows per second");
    wye_hash_result_clear(&r);
    free(o.enc.data);
    free(o.lmap.data);

    /* asked to stop after the second batch: no more is read */
    counter stop = {0, 2, 0, 0, 0};
    settings_for(&s, &o, 2);
    s.progress = count_progress;
    s.progress_ctx = &stop;
    cr_assert_eq(run_text(csv, len, &s, &r, NULL), WYE_ECANCELLED);
    cr_expect_eq(stop.calls, 2);
    cr_expect(!r.read_all);
    cr_expect(!r.input_complete);
    cr_expect_lt(r.rows_read, 40000);
    cr_expect_eq(r.encoded_bytes, 0, "no finished output");
    wye_hash_result_clear(&r);
    free(o.enc.data);
    free(o.lmap.data);
    free(csv);
}

static int failing_write(void *ctx, const void *buf, size_t n)
{
    (void)ctx, (void)buf, (void)n;
    return WYE_EIO;
}

static int full_disk(void *ctx, const void *buf, size_t n)
{
    size_t *left = ctx;
    (void)buf;
    if (n > *left)
        return WYE_ENOSPC;
    *left -= n;
    return WYE_OK;
}

Test(pipeline, failures_name_their_stage)
{
    wye_hash_settings s;
    outputs o;
    wye_hash_result r;
    wye_diag d;
    /* a column of the map is not in the header */
    static const char nocol[] = "Ref,Forename,Family,DOB,Sex,Postcode,NHS,Service\n"
                                "A1,Zebulonia,Quillfeather,17/08/1991,F,,,\n";
    settings_for(&s, NULL, 1);
    cr_expect_eq(run_text(nocol, sizeof nocol - 1, &s, &r, &d), WYE_ECOLUMN);
    cr_expect_eq(r.stage, WYE_HASH_STAGE_BIND);
    cr_expect_str_eq(d.field, "Surname");
    cr_expect_eq(r.threads, 0, "no thread started");
    /* bad utf-8 on line 3: what was read is counted */
    static const char utf8[] = "Ref,Forename,Surname,DOB,Sex,Postcode,NHS,Service,Notes\n"
                               "A1,Zebulonia,Quillfeather,17/08/1991,F,,,,\n"
                               "A2,Zebul\xE9,,,,,,,\n";
    cr_expect_eq(run_text(utf8, sizeof utf8 - 1, &s, &r, &d), WYE_EUTF8);
    cr_expect_eq(r.stage, WYE_HASH_STAGE_READ);
    cr_expect_eq(d.line, 3);
    cr_expect(!r.read_all);
    wye_hash_result_clear(&r); /* it holds the code tally of what was read */
    /* an encoded file that cannot be written */
    settings_for(&s, &o, 1);
    s.encoded = (wye_sink){failing_write, NULL};
    cr_expect_eq(run_text(csv_small, sizeof csv_small - 1, &s, &r, &d), WYE_EIO);
    cr_expect_eq(r.stage, WYE_HASH_STAGE_START);
    /* a disk that fills up mid-run: its code comes through */
    size_t left = 3000;
    size_t len;
    char *csv = big_csv(20000, &len);
    settings_for(&s, &o, 2);
    s.encoded = (wye_sink){full_disk, &left};
    cr_expect_eq(run_text(csv, len, &s, &r, &d), WYE_ENOSPC);
    cr_expect_eq(r.stage, WYE_HASH_STAGE_WRITE);
    free(csv);
    free(o.enc.data);
    free(o.lmap.data);
    wye_hash_result_clear(&r);
    /* settings without the keys an encoding run needs */
    settings_for(&s, &o, 1);
    s.agency = NULL;
    cr_expect_eq(run_text(csv_small, sizeof csv_small - 1, &s, &r, &d), WYE_EINVAL);
    cr_expect_eq(r.stage, WYE_HASH_STAGE_SETUP);
    wye_hash_result_clear(&r);
    free(o.enc.data);
    free(o.lmap.data);
}

Test(pipeline, summary_json_leaves_out_what_it_is_not_given)
{
    wye_hash_settings s;
    settings_for(&s, NULL, 1);
    wye_hash_result r;
    cr_assert_eq(run_text(csv_small, sizeof csv_small - 1, &s, &r, NULL), WYE_OK);
    wye_hash_summary_info info = {proto, map, "x.csv", NULL, NULL, NULL, NULL, NULL,
                                  "2024-03-31"};
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    cr_assert_not_null(f);
    cr_assert_eq(wye_hash_write_summary(&r, &info, f), WYE_OK);
    fclose(f);
    json_t *j = json_loads(text, 0, NULL);
    cr_assert_not_null(j);
    cr_expect_str_eq(json_string_value(json_object_get(j, "input")), "x.csv");
    cr_expect_null(json_object_get(j, "encoded_file"));
    cr_expect_null(json_object_get(j, "key_id"));
    cr_expect_eq(json_integer_value(json_object_get(j, "rows_encoded")), 4);
    cr_expect_eq(json_array_size(json_object_get(j, "rejected_rows")), 7);
    cr_expect(json_is_true(json_object_get(j, "rejected_rows_complete")));
    json_t *nhs = json_object_get(json_object_get(j, "fields"), "nhs_number");
    cr_expect_eq(json_integer_value(json_object_get(nhs, "invalid")), 1);
    /* the value columns, in map order; no code here is met 5 times */
    json_t *vc = json_object_get(j, "value_columns");
    cr_assert_eq(json_array_size(vc), 2);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(vc, 0), "field")), "sex");
    cr_expect_str_eq(
        json_string_value(json_object_get(json_array_get(vc, 1), "attribute")), "service_type");
    for (size_t i = 0; i < 2; i++)
        cr_expect_eq(json_array_size(json_object_get(json_array_get(vc, i), "codes")), 0);
    json_decref(j);
    free(text);
    wye_hash_result_clear(&r);
}
