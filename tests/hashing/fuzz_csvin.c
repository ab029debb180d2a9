/* Fuzz harness for the CSV reader (hashing/csvin.c) and, through it, the
 * column map's row extraction, the normalisers and the encoder.
 *
 * libFuzzer:  clang -fsanitize=fuzzer,address,undefined -DWYE_LIBFUZZER ...
 * Otherwise:  fuzz_csvin CORPUS_DIR replays every file of the folder. A seed
 * named ok_* must read to the end without error, bad_utf8_* must fail with
 * WYE_EUTF8 and bad_csv_* with WYE_ECSV (as UTF-8); so the corpus is also a
 * table of verdicts. Every input is read as UTF-8 and as Windows-1252.
 *
 * Invariants (a failure aborts): fields hold no NUL and their lengths are
 * right; records start on increasing lines; Windows-1252 never fails on
 * encoding and yields valid UTF-8; when the header fits the harness's column
 * map, every canonical value has its field's form and every row encodes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_replay.h"
#include "wyelink/colmap.h"
#include "wyelink/csvin.h"
#include "wyelink/encoder.h"
#include "wyelink/io.h"
#include "wyelink/keys.h"
#include "wyelink/normalise.h"

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "fuzz_csvin: invariant failed: %s (line %d)\n", #cond,     \
                    __LINE__);                                                         \
            abort();                                                                   \
        }                                                                              \
    } while (0)

static const char protocol_json[] =
    "{\"format\":\"wyelink-protocol\",\"version\":1,\"name\":\"fuzz\",\"filter_bits\":512,"
    "\"fields\":["
    "{\"name\":\"given_name\",\"kdf_id\":1,\"record_bits\":100,\"field_filter_bits\":128,"
    "\"field_filter_k\":20,\"tokenisers\":[{\"type\":\"qgram\",\"q\":2,\"padding\":true},"
    "{\"type\":\"soundex\"}]},"
    "{\"name\":\"other_given_names\",\"kdf_id\":1,\"record_bits\":30,"
    "\"tokenisers\":[{\"type\":\"positional_qgram\",\"q\":3}]},"
    "{\"name\":\"family_name\",\"kdf_id\":1,\"record_bits\":100,"
    "\"tokenisers\":[{\"type\":\"qgram\",\"q\":2,\"padding\":true}]},"
    "{\"name\":\"date_of_birth\",\"kdf_id\":2,\"record_bits\":60,\"exact_digest\":true,"
    "\"tokenisers\":[{\"type\":\"date_parts\"}]},"
    "{\"name\":\"sex\",\"kdf_id\":3,\"record_bits\":10,\"tokenisers\":[{\"type\":\"whole\"}]},"
    "{\"name\":\"postcode\",\"kdf_id\":4,\"record_bits\":60,"
    "\"tokenisers\":[{\"type\":\"qgram\",\"q\":2}]},"
    "{\"name\":\"nhs_number\",\"kdf_id\":5,\"exact_digest\":true,"
    "\"tokenisers\":[{\"type\":\"whole\"}]}],"
    "\"hardening\":{\"balancing\":true},"
    "\"attributes\":[{\"name\":\"age_band\",\"source\":\"age_band\","
    "\"values\":[\"0-15\",\"16-39\",\"40+\"]},"
    "{\"name\":\"sex\",\"source\":\"sex\",\"values\":[\"F\",\"M\"]},"
    "{\"name\":\"service\",\"source\":\"column\",\"values\":[\"a\",\"b\"]}]}";

static const char map_json[] =
    "{\"format\":\"wyelink-column-map\",\"version\":1,\"local_id\":\"id\",\"columns\":["
    "{\"column\":\"name\",\"split\":\"surname_comma_forename\"},"
    "{\"column\":\"dob\",\"field\":\"date_of_birth\",\"date_format\":\"DD/MM/YY\"},"
    "{\"column\":\"sex\",\"field\":\"sex\",\"values\":{\"f\":\"F\",\"m\":\"M\",\"?\":null}},"
    "{\"column\":\"pc\",\"field\":\"postcode\"},"
    "{\"column\":\"nhs\",\"field\":\"nhs_number\"},"
    "{\"column\":\"svc\",\"attribute\":\"service\"}]}";

static wye_protocol *proto;
static wye_colmap *map;
static wye_encoder *enc;
static wye_encoder_cache *cache;

static void init(void)
{
    if (proto)
        return;
    wye_diag d;
    CHECK(wye_crypto_init() == WYE_OK);
    CHECK(wye_protocol_parse(protocol_json, sizeof protocol_json - 1, &proto, &d) == WYE_OK);
    CHECK(wye_colmap_parse(map_json, sizeof map_json - 1, proto, &map, &d) == WYE_OK);
    wye_secret *s;
    CHECK(wye_secret_create(&s) == WYE_OK);
    uint8_t pk[32] = {7};
    CHECK(wye_encoder_new(proto, s, pk, &enc) == WYE_OK);
    wye_secret_free(s);
    CHECK(wye_encoder_cache_new(&cache) == WYE_OK);
}

static int valid_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k;
        if (c < 0x80)
            k = 0;
        else if (c >= 0xC2 && c <= 0xDF)
            k = 1;
        else if (c >= 0xE0 && c <= 0xEF)
            k = 2;
        else if (c >= 0xF0 && c <= 0xF4)
            k = 3;
        else
            return 0;
        if (i + k >= n && k)
            return 0;
        for (size_t j = 1; j <= k; j++)
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
        i += k + 1;
    }
    return 1;
}

static void check_canonical(const wye_fields *f)
{
    for (size_t i = 0; i < wye_protocol_nfields(proto); i++) {
        if (f->status[i] != WYE_NORM_PRESENT) {
            CHECK(f->value[i][0] == 0);
            continue;
        }
        const char *v = f->value[i];
        size_t n = strlen(v);
        CHECK(n > 0 && n < WYE_NORM_MAX);
        switch (wye_protocol_field(proto, i)->type) {
        case WYE_TYPE_NAME:
            CHECK(v[0] != ' ' && v[n - 1] != ' ' && !strstr(v, "  "));
            for (size_t k = 0; k < n; k++)
                CHECK((v[k] >= 'A' && v[k] <= 'Z') || v[k] == ' ');
            break;
        case WYE_TYPE_DATE: {
            CHECK(n == 8);
            int y = atoi((char[]){v[0], v[1], v[2], v[3], 0});
            int m = atoi((char[]){v[4], v[5], 0}), d = atoi((char[]){v[6], v[7], 0});
            CHECK(wye_date_valid(y, m, d));
            break;
        }
        case WYE_TYPE_SEX:
            CHECK(n == 1 && strchr("FMX", v[0]));
            break;
        case WYE_TYPE_POSTCODE:
            CHECK(n >= 6 && n <= 8 && v[n - 4] == ' ');
            break;
        case WYE_TYPE_NHS:
            CHECK(n == 10 && wye_nhs_check_digit_ok(v));
            break;
        case WYE_TYPE_ADDRESS:
            CHECK(v[0] != ' ' && v[n - 1] != ' ' && !strstr(v, "  "));
            for (size_t k = 0; k < n; k++)
                CHECK((v[k] >= 'A' && v[k] <= 'Z') || (v[k] >= '0' && v[k] <= '9') || v[k] == ' ');
            break;
        case WYE_TYPE_ID:
            for (size_t k = 0; k < n; k++)
                CHECK((v[k] >= 'A' && v[k] <= 'Z') || (v[k] >= '0' && v[k] <= '9'));
            break;
        }
    }
}

/* Read everything; returns the final code (0 at a clean end). */
static int read_all(const uint8_t *data, size_t size, wye_csv_encoding enc_in)
{
    wye_memsource m = {data, size, 0};
    wye_csvin *r;
    wye_diag d;
    int rc = wye_csvin_open(wye_source_memory(&m), enc_in, &r, &d);
    if (rc)
        return rc;
    bool bound = wye_colmap_bind(map, r, &d) == WYE_OK;
    wye_csv_row row;
    uint64_t last = 0, number = 0;
    const wye_date extract = {2024, 3, 31};
    uint8_t rec[4096];
    CHECK(wye_encoder_record_size(enc) <= sizeof rec);
    while ((rc = wye_csvin_next(r, &row, &d)) == 1) {
        CHECK(row.line > last);
        CHECK(row.number == ++number);
        last = row.line;
        for (size_t i = 0; i < row.nfields; i++) {
            CHECK(strlen(row.field[i]) == row.len[i]);
            if (enc_in == WYE_CSV_WINDOWS1252)
                CHECK(valid_utf8((const uint8_t *)row.field[i], row.len[i]));
        }
        if (bound) {
            wye_fields f;
            const char *id;
            size_t idlen;
            wye_row_verdict v = wye_colmap_extract(map, &row, &extract, &f, &id, &idlen);
            CHECK((unsigned)v < WYE_ROW_COUNT);
            check_canonical(&f);
            if (v == WYE_ROW_OK)
                CHECK(wye_encoder_encode(enc, cache, &f, id, idlen, rec) == WYE_OK);
        }
    }
    CHECK(wye_csvin_next(r, &row, &d) == rc); /* sticky, or still at the end */
    wye_csvin_free(r);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    read_all(data, size, WYE_CSV_UTF8);
    int rc = read_all(data, size, WYE_CSV_WINDOWS1252);
    /* as Windows-1252 only a UTF-8 BOM can bring back UTF-8 checking */
    if (size < 3 || memcmp(data, "\xEF\xBB\xBF", 3))
        CHECK(rc != WYE_EUTF8);
    return 0;
}

#ifndef WYE_LIBFUZZER
/* A seed: every invariant as under libFuzzer, then its verdict as UTF-8. */
static int check(const uint8_t *data, size_t size)
{
    LLVMFuzzerTestOneInput(data, size);
    return read_all(data, size, WYE_CSV_UTF8);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_csvin CORPUS_DIR\n");
        return 2;
    }
    init();
    static const wye_fuzz_verdict verdicts[] = {
        {"ok_", WYE_OK}, {"bad_utf8_", WYE_EUTF8}, {"bad_csv_", WYE_ECSV}};
    int status = wye_fuzz_replay(argv[1], 1u << 24, check, verdicts,
                                 sizeof verdicts / sizeof verdicts[0]);
    wye_encoder_cache_free(cache);
    wye_encoder_free(enc);
    wye_colmap_free(map);
    wye_protocol_free(proto);
    return status;
}
#endif
