/* The encoder: tokens, an independent recomputation of the keyed hashing
 * rules of ENCODING.md, known-answer records for the default protocol, the
 * hardening steps (of the record-level filter and of the field filters),
 * and the cache's invisibility.
 *
 * The known answers use the fixed secret 00 01 .. 1f and the pseudonym key
 * 20 21 .. 3f. If one of them changes, the encoding has changed: that is a
 * new protocol version (PROTOCOL.md section 4), never an update of the
 * pinned value. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "hashtest.h"
#include "wyelink/encoder.h"

static wye_protocol *proto;
static wye_secret *secret;
static uint8_t pkey[32];

static void setup(void)
{
    proto = ht_default_protocol();
    secret = ht_secret();
    for (int i = 0; i < 32; i++)
        pkey[i] = (uint8_t)(32 + i);
}

static void teardown(void)
{
    wye_protocol_free(proto);
    wye_secret_free(secret);
}

TestSuite(encoder, .init = setup, .fini = teardown);

static int fi(const wye_protocol *p, const char *name)
{
    int i = wye_protocol_field_index(p, name);
    cr_assert_geq(i, 0, "%s", name);
    return i;
}

static void put(wye_fields *f, const wye_protocol *p, const char *name, const char *v)
{
    int i = fi(p, name);
    f->status[i] = WYE_NORM_PRESENT;
    snprintf(f->value[i], WYE_NORM_MAX, "%s", v);
}

/* ---- tokens ---- */

typedef struct {
    char s[1024];
} joined;

static void join(void *ctx, const uint8_t *tok, size_t n)
{
    joined *j = ctx;
    size_t o = strlen(j->s);
    o += (size_t)snprintf(j->s + o, sizeof j->s - o, "%s%u:", o ? " " : "", tok[0]);
    snprintf(j->s + o, sizeof j->s - o, "%.*s", (int)(n - 1), (const char *)tok + 1);
}

static void expect_tokens(const wye_protocol *p, const char *field, const char *value,
                          const char *want)
{
    joined j = {{0}};
    size_t n = wye_encoder_tokens(p, (size_t)fi(p, field), value, join, &j);
    cr_expect_str_eq(j.s, want, "%s '%s'", field, value);
    size_t spaces = 0;
    for (const char *c = want; *c; c++)
        spaces += *c == ' ';
    cr_expect_eq(n, *want ? spaces + 1 : 0);
}

Test(encoder, tokens_default)
{
    expect_tokens(proto, "given_name", "JO", "1:_J 1:JO 1:O_");
    expect_tokens(proto, "given_name", "ANNA", "1:_A 1:AN 1:NN 1:NA 1:A_");
    expect_tokens(proto, "given_name", "ANAN", "1:_A 1:AN 1:NA 1:N_"); /* distinct only */
    expect_tokens(proto, "family_name", "VAN DYKE", "1:_V 1:VA 1:AN 1:ND 1:DY 1:YK 1:KE 1:E_");
    expect_tokens(proto, "other_given_names", "MARY ANN", "1:MA 1:AR 1:RY 1:YA 1:AN 1:NN");
    expect_tokens(proto, "other_given_names", "J", "1:J");
    expect_tokens(proto, "date_of_birth", "19910817", "4:D17 4:M08 4:Y1991");
    expect_tokens(proto, "sex", "F", "3:F");
    expect_tokens(proto, "postcode", "HR1 2AB", "1:_H 1:HR 1:R1 1:12 1:2A 1:AB 1:B_");
    expect_tokens(proto, "nhs_number", "9434765919", "3:9434765919");
}

Test(encoder, tokens_soundex_positional)
{
    wye_protocol *p = ht_protocol(
        "{\"format\":\"wyelink-protocol\",\"version\":1,\"name\":\"t\",\"filter_bits\":64,"
        "\"fields\":[{\"name\":\"family_name\",\"kdf_id\":1,\"record_bits\":20,"
        "\"tokenisers\":[{\"type\":\"soundex\"},{\"type\":\"positional_qgram\",\"q\":3}]}]}");
    expect_tokens(p, "family_name", "ROBERT", "5:R163 2:ROB:0 2:OBE:1 2:BER:2 2:ERT:3");
    expect_tokens(p, "family_name", "RUPERT RUBIN",
                  "5:R163 5:R150 2:RUP:0 2:UPE:1 2:PER:2 2:ERT:3 2:RTR:4 2:TRU:5 2:RUB:6 "
                  "2:UBI:7 2:BIN:8");
    expect_tokens(p, "family_name", "ASHCRAFT", "5:A261 2:ASH:0 2:SHC:1 2:HCR:2 2:CRA:3 "
                                                "2:RAF:4 2:AFT:5");
    expect_tokens(p, "family_name", "PFISTER LEE TYMCZAK",
                  "5:P236 5:L000 5:T522 2:PFI:0 2:FIS:1 2:IST:2 2:STE:3 2:TER:4 2:ERL:5 "
                  "2:RLE:6 2:LEE:7 2:EET:8 2:ETY:9 2:TYM:10 2:YMC:11 2:MCZ:12 2:CZA:13 "
                  "2:ZAK:14");
    expect_tokens(p, "family_name", "JACKSON GUTIERREZ LLOYD",
                  "5:J250 5:G362 5:L300 2:JAC:0 2:ACK:1 2:CKS:2 2:KSO:3 2:SON:4 2:ONG:5 "
                  "2:NGU:6 2:GUT:7 2:UTI:8 2:TIE:9 2:IER:10 2:ERR:11 2:RRE:12 2:REZ:13 "
                  "2:EZL:14 2:ZLL:15 2:LLO:16 2:LOY:17 2:OYD:18");
    wye_protocol_free(p);
}

/* ---- an independent recomputation of ENCODING.md 4.2 ---- */

/* Positions of one token: BLAKE2b-512 keyed with the field key over
 * purpose || block (u16 LE) || salt_len || salt || tag || text; 16-bit LE
 * values mod L. */
static void ref_bits(uint64_t kdf_id, char purpose, const char *salt, uint8_t tag,
                     const char *text, unsigned k, unsigned L, uint8_t *filter)
{
    uint8_t key[32], msg[256], out[64];
    cr_assert_eq(wye_secret_derive(secret, kdf_id, key), WYE_OK);
    for (unsigned j = 0, done = 0; done < k; j++) {
        size_t n = 0;
        msg[n++] = (uint8_t)purpose;
        msg[n++] = (uint8_t)j;
        msg[n++] = (uint8_t)(j >> 8);
        msg[n++] = (uint8_t)strlen(salt);
        memcpy(msg + n, salt, strlen(salt));
        n += strlen(salt);
        msg[n++] = tag;
        memcpy(msg + n, text, strlen(text));
        n += strlen(text);
        crypto_generichash(out, 64, msg, n, key, 32);
        for (unsigned i = 0; i < 32 && done < k; i++, done++) {
            unsigned pos = (out[2 * i] | (unsigned)out[2 * i + 1] << 8) % L;
            filter[pos / 8] |= (uint8_t)(1u << (pos % 8));
        }
    }
}

/* A q-gram field's grams (tag 1, no salt) with kr positions each in the
 * 1024-bit record filter and kf in its own 256-bit filter at ff_off: both
 * as rec holds them. */
static void expect_grams(const uint8_t *rec, const wye_layout *lay, size_t ff_off,
                         uint64_t kdf_id, const char *const *grams, int n, unsigned kr,
                         unsigned kf)
{
    uint8_t want[128] = {0};
    for (int i = 0; i < n; i++)
        ref_bits(kdf_id, 'R', "", 1, grams[i], kr, 1024, want);
    cr_expect_arr_eq(rec + lay->filter_off, want, 128);
    memset(want, 0, 32);
    for (int i = 0; i < n; i++)
        ref_bits(kdf_id, 'F', "", 1, grams[i], kf, 256, want);
    cr_expect_arr_eq(rec + ff_off, want, 32);
}

/* An exact digest: BLAKE2b-128 keyed with KDF id 1003 over u32le(kdf_id) ||
 * value, its first 8 bytes as rec holds them at off. */
static void expect_digest(const uint8_t *rec, size_t off, uint8_t kdf_id, const char *value)
{
    uint8_t dk[32], msg[4 + 64] = {kdf_id, 0, 0, 0}, d16[16];
    size_t n = strlen(value);
    cr_assert_leq(n, 64);
    memcpy(msg + 4, value, n);
    cr_assert_eq(wye_secret_derive(secret, 1003, dk), WYE_OK);
    crypto_generichash(d16, 16, msg, 4 + n, dk, 32);
    cr_expect_arr_eq(rec + off, d16, 8);
}

Test(encoder, matches_the_written_rules)
{
    wye_encoder *e;
    cr_assert_eq(wye_encoder_new(proto, secret, pkey, &e), WYE_OK);
    const wye_layout *lay = wye_protocol_layout(proto);
    cr_assert_eq(wye_encoder_record_size(e), 296);
    uint8_t rec[296], want[128];

    /* sex F alone: 1 token, k = 20 in the 1024-bit record filter */
    wye_fields f;
    wye_fields_clear(&f);
    put(&f, proto, "sex", "F");
    cr_assert_eq(wye_encoder_encode(e, NULL, &f, "P1", 2, rec), WYE_OK);
    memset(want, 0, sizeof want);
    ref_bits(3, 'R', "", 3, "F", 20, 1024, want);
    cr_expect_arr_eq(rec + lay->filter_off, want, 128);
    uint8_t ps[16];
    crypto_generichash(ps, 16, (const uint8_t *)"P1", 2, pkey, 32);
    cr_expect_arr_eq(rec, ps, 16);
    cr_expect_eq(rec[16] | rec[17] << 8, 1u << fi(proto, "sex"));

    /* given name JO: 3 tokens, k = ceil(150/3) = 50 (two blocks) in the record
     * filter and ceil(30/3) = 10 in its own 256-bit filter */
    wye_fields_clear(&f);
    put(&f, proto, "given_name", "JO");
    cr_assert_eq(wye_encoder_encode(e, NULL, &f, "", 0, rec), WYE_OK);
    const char *grams[] = {"_J", "JO", "O_"};
    expect_grams(rec, lay, lay->field_filter_off[fi(proto, "given_name")], 1, grams, 3, 50, 10);

    /* the date of birth's digest: BLAKE2b-128 keyed with KDF id 1003 over
     * u32le(kdf_id) || value, first 8 bytes */
    wye_fields_clear(&f);
    put(&f, proto, "date_of_birth", "19910817");
    cr_assert_eq(wye_encoder_encode(e, NULL, &f, "", 0, rec), WYE_OK);
    expect_digest(rec, lay->digest_off[fi(proto, "date_of_birth")], 2, "19910817");
    /* a missing NHS number leaves its digest zero */
    uint8_t zero[8] = {0};
    cr_expect_arr_eq(rec + lay->digest_off[fi(proto, "nhs_number")], zero, 8);
    wye_encoder_free(e);
}

Test(encoder, shared_keys_make_fields_comparable)
{
    wye_encoder *e;
    cr_assert_eq(wye_encoder_new(proto, secret, pkey, &e), WYE_OK);
    const wye_layout *lay = wye_protocol_layout(proto);
    uint8_t a[296], b[296];
    wye_fields f;
    wye_fields_clear(&f);
    put(&f, proto, "family_name", "SMITH");
    put(&f, proto, "former_family_name", "JONES");
    cr_assert_eq(wye_encoder_encode(e, NULL, &f, "x", 1, a), WYE_OK);
    wye_fields_clear(&f);
    put(&f, proto, "former_family_name", "SMITH");
    put(&f, proto, "given_name", "JONES");
    cr_assert_eq(wye_encoder_encode(e, NULL, &f, "x", 1, b), WYE_OK);
    cr_expect_arr_eq(a + lay->field_filter_off[fi(proto, "family_name")],
                     b + lay->field_filter_off[fi(proto, "former_family_name")], 32);
    cr_expect_arr_eq(a + lay->field_filter_off[fi(proto, "former_family_name")],
                     b + lay->field_filter_off[fi(proto, "given_name")], 32);
    wye_encoder_free(e);
}

/* ---- known answers for the default protocol ---- */

static void hex_digest(const uint8_t *rec, size_t n, char out[65])
{
    uint8_t h[32];
    crypto_generichash(h, 32, rec, n, NULL, 0);
    sodium_bin2hex(out, 65, h, 32);
}

Test(encoder, known_answers_default_protocol)
{
    wye_encoder *e;
    cr_assert_eq(wye_encoder_new(proto, secret, pkey, &e), WYE_OK);
    uint8_t rec[296];
    char hex[65];
    wye_fields f;

    wye_fields_clear(&f);
    put(&f, proto, "given_name", "JANE");
    put(&f, proto, "other_given_names", "MARY ANN");
    put(&f, proto, "family_name", "SMITH");
    put(&f, proto, "former_family_name", "JONES");
    put(&f, proto, "date_of_birth", "19910817");
    put(&f, proto, "sex", "F");
    put(&f, proto, "postcode", "HR1 2AB");
    put(&f, proto, "nhs_number", "9434765919");
    f.attr[0] = 3, f.attr[1] = 1, f.attr[2] = 1;
    cr_assert_eq(wye_encoder_encode(e, NULL, &f, "P1", 2, rec), WYE_OK);
    hex_digest(rec, sizeof rec, hex);
    cr_expect_str_eq(hex,
                     "3e5c8a5580ebff23348ac8469c75dc2d34395cf8003182fff6b86371ae4c2b49",
                     "record 1");

    wye_fields_clear(&f);
    put(&f, proto, "given_name", "ANN");
    put(&f, proto, "family_name", "LEE");
    put(&f, proto, "date_of_birth", "19800101");
    cr_assert_eq(wye_encoder_encode(e, NULL, &f, "P2", 2, rec), WYE_OK);
    hex_digest(rec, sizeof rec, hex);
    cr_expect_str_eq(hex,
                     "d53e79b2ff0d0c690734c6a1fed7f2f5eed1e63ddbde2bc231dbf01ff4a1d024",
                     "record 2");
    char full[2 * 296 + 1];
    sodium_bin2hex(full, sizeof full, rec, 296);
    cr_expect_str_eq(full,
                     "fff9445642b3a0142a52a56aa280826915000000000000009244c4b850112941"
                     "21e033a8449842147d6456c644ac27021831f95872801c0870268450241222c2"
                     "88d054880f323848444ad7ea9358148422e91b14419a80e03828a9c351010123"
                     "4040241d8cdc890014801dca4585c41a01c19120804ac349c5002708d2498005"
                     "68102ab484e0c00b90d5448ff00992084092c3d2e20091681440090000020001"
                     "40010800008803020a2000082020a04800010000000042ac00c0808a00000010"
                     "0800008000080c80006012002204000402010040080800090000000000000000"
                     "0000000000000000000000000000000000000000000000000000000000000000"
                     "0000000000000000000000000000000000000000000000004491fbb042437e1b"
                     "0000000000000000", "record 2 bytes");

    wye_fields_clear(&f);
    cr_assert_eq(wye_encoder_encode(e, NULL, &f, "", 0, rec), WYE_OK);
    hex_digest(rec, sizeof rec, hex);
    cr_expect_str_eq(hex,
                     "fbadee04864240897a25272417594c769d2cd67212b7071c8a0e02e60e41b58b",
                     "record 3 (nothing present)");
    wye_encoder_free(e);
}

/* ---- hardening ---- */

#define PROTO_H(h)                                                                        \
    "{\"format\":\"wyelink-protocol\",\"version\":1,\"name\":\"h\",\"filter_bits\":1024,"  \
    "\"fields\":[{\"name\":\"given_name\",\"kdf_id\":1,\"record_bits\":150,"                \
    "\"field_filter_bits\":256,\"field_filter_k\":30,"                                      \
    "\"tokenisers\":[{\"type\":\"qgram\",\"q\":2,\"padding\":true}]},"                     \
    "{\"name\":\"date_of_birth\",\"kdf_id\":2,\"record_bits\":120,"                        \
    "\"tokenisers\":[{\"type\":\"date_parts\"}]}],\"hardening\":" h "}"

static size_t popcount(const uint8_t *b, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += (size_t)__builtin_popcount(b[i]);
    return c;
}

static void encode_with(wye_protocol *p, const char *name, const char *dob, uint8_t *rec)
{
    wye_encoder *e;
    cr_assert_eq(wye_encoder_new(p, secret, pkey, &e), WYE_OK);
    wye_fields f;
    wye_fields_clear(&f);
    put(&f, p, "given_name", name);
    if (dob)
        put(&f, p, "date_of_birth", dob);
    cr_assert_eq(wye_encoder_encode(e, NULL, &f, "id", 2, rec), WYE_OK);
    wye_encoder_free(e);
}

Test(encoder, hardening)
{
    wye_protocol *plain = ht_protocol(PROTO_H("{}"));
    wye_protocol *bal = ht_protocol(PROTO_H("{\"balancing\":true}"));
    wye_protocol *fold = ht_protocol(PROTO_H("{\"xor_fold\":true}"));
    wye_protocol *both = ht_protocol(PROTO_H("{\"balancing\":true,\"xor_fold\":true}"));
    wye_protocol *diff = ht_protocol(PROTO_H("{\"diffusion\":{\"t\":3,\"bits\":512}}"));
    wye_protocol *salt = ht_protocol(
        PROTO_H("{\"salting\":{\"field\":\"date_of_birth\",\"part\":\"year\"}}"));
    cr_assert_eq(wye_protocol_filter_bits(bal), 2048);
    cr_assert_eq(wye_protocol_filter_bits(fold), 512);
    cr_assert_eq(wye_protocol_filter_bits(both), 1024);
    cr_assert_eq(wye_protocol_filter_bits(diff), 512);
    uint8_t r0[1024], r1[1024], r2[1024], r3[1024];
    size_t off = wye_protocol_layout(plain)->filter_off;

    /* balancing: exactly half the 2L bits set, whatever the input */
    encode_with(bal, "JANE", NULL, r1);
    cr_expect_eq(popcount(r1 + off, 256), 1024);
    encode_with(bal, "ALEXANDRIA", "19910817", r1);
    cr_expect_eq(popcount(r1 + off, 256), 1024);

    /* xor folding: bit i = raw[i] ^ raw[i + 512] */
    encode_with(plain, "JANE", "19910817", r0);
    encode_with(fold, "JANE", "19910817", r1);
    for (size_t i = 0; i < 64; i++)
        cr_expect_eq(r1[off + i], r0[off + i] ^ r0[off + 64 + i], "byte %zu", i);
    /* field filters are never hardened */
    size_t ffo = wye_protocol_layout(plain)->field_filter_off[0];
    size_t ffo2 = wye_protocol_layout(fold)->field_filter_off[0];
    cr_expect_arr_eq(r1 + ffo2, r0 + ffo, 32);

    /* balancing then folding keeps the length of the raw filter */
    encode_with(both, "JANE", "19910817", r2);
    cr_expect_neq(memcmp(r2 + off, r0 + off, 128), 0);

    /* diffusion: 512 output bits, each a XOR of 3; flipping one input token
     * changes about half of them */
    encode_with(diff, "JANE", "19910817", r1);
    encode_with(diff, "JANE", "19910818", r2);
    size_t changed = 0;
    for (size_t i = 0; i < 64; i++)
        changed += (size_t)__builtin_popcount(r1[off + i] ^ r2[off + i]);
    cr_expect(changed > 0 && changed < 512);
    size_t w = popcount(r1 + off, 64);
    cr_expect(w > 128 && w < 384, "diffused weight %zu", w);

    /* salting by year of birth: same year, same bits; another year, other
     * bits; the field filter is not salted */
    encode_with(salt, "JANE", "19910817", r1);
    encode_with(salt, "JANE", "19910101", r2);
    encode_with(salt, "JANE", "19920817", r3);
    uint8_t a[128], b[128];
    memcpy(a, r1 + off, 128);
    memcpy(b, r2 + off, 128);
    size_t common_same = 0, common_other = 0;
    for (size_t i = 0; i < 128; i++) {
        common_same += (size_t)__builtin_popcount(a[i] & b[i]);
        common_other += (size_t)__builtin_popcount(a[i] & r3[off + i]);
    }
    cr_expect_gt(common_same, common_other + 50, "same year shares the name's bits");
    cr_expect_arr_eq(r1 + ffo, r3 + ffo, 32);
    cr_expect_neq(memcmp(r1 + off, r0 + off, 128), 0, "salting changes the record filter");

    wye_protocol_free(plain);
    wye_protocol_free(bal);
    wye_protocol_free(fold);
    wye_protocol_free(both);
    wye_protocol_free(diff);
    wye_protocol_free(salt);
}

Test(encoder, hardening_known_answers)
{
    static const char *const specs[] = {
        "{\"balancing\":true}",
        "{\"balancing\":true,\"xor_fold\":true}",
        "{\"diffusion\":{\"t\":3,\"bits\":512}}",
        "{\"salting\":{\"field\":\"date_of_birth\",\"part\":\"year\"}}",
    };
    static const char *const want[] = {
        "2de6811cc5eaa61f98644643523551f253245505b9b0af9c3b7fad7587f1bf4b",
        "ccf79963b2d8657cf5b9e7373adc68dfbde6a12ba5e012a8fce883bb2d4b3279",
        "9e24efefc4b7e311e9e29a5d1bd7b82d5f03194955ec8840f89a6fe1bab8be76",
        "5d109b67927f7528c5a551688f846e6bf91e0ca4e5cfb27bbb288ea196cb8ced",
    };
    for (size_t i = 0; i < 4; i++) {
        char json[2048];
        snprintf(json, sizeof json,
                 "{\"format\":\"wyelink-protocol\",\"version\":1,\"name\":\"h\","
                 "\"filter_bits\":1024,\"fields\":[{\"name\":\"given_name\",\"kdf_id\":1,"
                 "\"record_bits\":150,\"field_filter_bits\":256,\"field_filter_k\":30,"
                 "\"tokenisers\":[{\"type\":\"qgram\",\"q\":2,\"padding\":true}]},"
                 "{\"name\":\"date_of_birth\",\"kdf_id\":2,\"record_bits\":120,"
                 "\"tokenisers\":[{\"type\":\"date_parts\"}]}],\"hardening\":%s}",
                 specs[i]);
        wye_protocol *p = ht_protocol(json);
        uint8_t rec[1024];
        encode_with(p, "JANE", "19910817", rec);
        char hex[65];
        hex_digest(rec, wye_protocol_layout(p)->record_size, hex);
        cr_expect_str_eq(hex, want[i], "hardening %s", specs[i]);
        wye_protocol_free(p);
    }
}

/* ---- the cache changes nothing ---- */

Test(encoder, cache_is_invisible)
{
    wye_encoder *e;
    wye_encoder_cache *c;
    cr_assert_eq(wye_encoder_new(proto, secret, pkey, &e), WYE_OK);
    cr_assert_eq(wye_encoder_cache_new(&c), WYE_OK);
    static const char *const names[] = {"ANN", "ANNA", "HANNAH", "JO", "JOANNE", "LEE",
                                        "SMITH", "SMYTHE", "O", "XI", "MARY ANN"};
    uint8_t a[296], b[296];
    for (unsigned i = 0; i < 3000; i++) {
        wye_fields f;
        wye_fields_clear(&f);
        char dob[9], pc[9];
        snprintf(dob, sizeof dob, "19%02u%02u%02u", 40 + i % 60, 1 + i % 12, 1 + i % 28);
        snprintf(pc, sizeof pc, "HR%u %uAB", i % 10, i % 7);
        put(&f, proto, "given_name", names[i % 11]);
        put(&f, proto, "family_name", names[(i / 11) % 11]);
        put(&f, proto, "date_of_birth", dob);
        put(&f, proto, "postcode", pc);
        if (i % 3)
            put(&f, proto, "sex", i % 2 ? "F" : "M");
        char id[16];
        int n = snprintf(id, sizeof id, "R%u", i);
        cr_assert_eq(wye_encoder_encode(e, NULL, &f, id, (size_t)n, a), WYE_OK);
        cr_assert_eq(wye_encoder_encode(e, c, &f, id, (size_t)n, b), WYE_OK);
        cr_assert_arr_eq(a, b, sizeof a, "record %u", i);
    }
    /* the same cache used with another encoder (another protocol) must not
     * serve the first encoder's entries */
    wye_protocol *p2 = ht_protocol(
        "{\"format\":\"wyelink-protocol\",\"version\":1,\"name\":\"t2\",\"filter_bits\":1024,"
        "\"fields\":[{\"name\":\"given_name\",\"kdf_id\":7,\"record_bits\":150,"
        "\"field_filter_bits\":256,\"field_filter_k\":30,"
        "\"tokenisers\":[{\"type\":\"qgram\",\"q\":2,\"padding\":true}]}]}");
    wye_encoder *e2;
    cr_assert_eq(wye_encoder_new(p2, secret, pkey, &e2), WYE_OK);
    for (int round = 0; round < 2; round++) {
        wye_fields f;
        wye_fields_clear(&f);
        put(&f, p2, "given_name", "HANNAH");
        uint8_t x[296], y[296];
        size_t rs = wye_encoder_record_size(e2);
        cr_assert_eq(wye_encoder_encode(e2, NULL, &f, "a", 1, x), WYE_OK);
        cr_assert_eq(wye_encoder_encode(e2, c, &f, "a", 1, y), WYE_OK);
        cr_assert_arr_eq(x, y, rs);
        wye_fields_clear(&f);
        put(&f, proto, "given_name", "HANNAH");
        cr_assert_eq(wye_encoder_encode(e, NULL, &f, "a", 1, x), WYE_OK);
        cr_assert_eq(wye_encoder_encode(e, c, &f, "a", 1, y), WYE_OK);
        cr_assert_arr_eq(x, y, 296);
    }
    wye_encoder_free(e2);
    wye_protocol_free(p2);
    wye_encoder_cache_free(c);
    wye_encoder_free(e);
}

Test(encoder, rejects_bad_attribute)
{
    wye_encoder *e;
    cr_assert_eq(wye_encoder_new(proto, secret, pkey, &e), WYE_OK);
    wye_fields f;
    wye_fields_clear(&f);
    f.attr[1] = 4; /* sex has 3 values: 4 is out of range */
    uint8_t rec[296];
    cr_expect_eq(wye_encoder_encode(e, NULL, &f, "x", 1, rec), WYE_EINVAL);
    wye_encoder_free(e);
    cr_expect_eq(wye_encoder_new(NULL, secret, pkey, &e), WYE_EINVAL);
}

/* ---- field-filter hardening (PROTOCOL.md "field_hardening") ---- */

/* given_name, family_name and former_family_name share key 1 and have
 * comparable 256-bit field filters; date_of_birth is the salt field. */
#define PROTO_FH(fh)                                                                      \
    "{\"format\":\"wyelink-protocol\",\"version\":1,\"name\":\"fh\",\"filter_bits\":1024," \
    "\"fields\":[{\"name\":\"given_name\",\"kdf_id\":1,\"record_bits\":150,"                \
    "\"field_filter_bits\":256,\"field_filter_k\":30,"                                      \
    "\"tokenisers\":[{\"type\":\"qgram\",\"q\":2,\"padding\":true}]},"                     \
    "{\"name\":\"family_name\",\"kdf_id\":1,\"record_bits\":150,"                          \
    "\"field_filter_bits\":256,\"field_filter_k\":30,"                                      \
    "\"tokenisers\":[{\"type\":\"qgram\",\"q\":2,\"padding\":true}]},"                     \
    "{\"name\":\"date_of_birth\",\"kdf_id\":2,\"record_bits\":120,\"exact_digest\":true,"  \
    "\"tokenisers\":[{\"type\":\"date_parts\"}]}],\"field_hardening\":" fh "}"

static void encode_fh(wye_protocol *p, wye_encoder_cache *c, const char *given,
                      const char *family, const char *dob, uint8_t *rec)
{
    wye_encoder *e;
    cr_assert_eq(wye_encoder_new(p, secret, pkey, &e), WYE_OK);
    wye_fields f;
    wye_fields_clear(&f);
    put(&f, p, "given_name", given);
    put(&f, p, "family_name", family);
    if (dob)
        put(&f, p, "date_of_birth", dob);
    cr_assert_eq(wye_encoder_encode(e, c, &f, "id", 2, rec), WYE_OK);
    wye_encoder_free(e);
}

static size_t common_bits(const uint8_t *a, const uint8_t *b, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += (size_t)__builtin_popcount(a[i] & b[i]);
    return c;
}

Test(encoder, field_hardening)
{
    wye_protocol *plain = ht_protocol(PROTO_FH("{}"));
    wye_protocol *salt = ht_protocol(
        PROTO_FH("{\"salting\":{\"field\":\"date_of_birth\",\"part\":\"year\"}}"));
    wye_protocol *fold = ht_protocol(PROTO_FH("{\"xor_fold\":true}"));
    wye_protocol *diff = ht_protocol(PROTO_FH("{\"diffusion\":{\"t\":4}}"));
    const wye_layout *lp = wye_protocol_layout(plain), *ls = wye_protocol_layout(salt),
                     *lf = wye_protocol_layout(fold), *ld = wye_protocol_layout(diff);
    cr_expect_eq(ls->field_filter_bytes[0], 32);
    cr_expect_eq(lf->field_filter_bytes[0], 16, "folding halves the field filters");
    cr_expect_eq(lf->record_size, lp->record_size - 32);
    cr_expect_eq(ld->field_filter_bytes[0], 32, "diffusion keeps their length");
    size_t g = lp->field_filter_off[0], fam = lp->field_filter_off[1];
    uint8_t r0[512], r1[512], r2[512], r3[512];

    /* the record-level filter and digests are untouched by field hardening */
    encode_fh(plain, NULL, "JANE", "SMITH", "19910817", r0);
    encode_fh(salt, NULL, "JANE", "SMITH", "19910817", r1);
    cr_expect_arr_eq(r1 + lp->filter_off, r0 + lp->filter_off, 128);
    cr_expect_arr_eq(r1 + ls->digest_off[2], r0 + lp->digest_off[2], 8);

    /* salting: same name and year, same field filter (whatever the day);
     * another year, unrelated bits; no year, the empty salt */
    cr_expect_neq(memcmp(r1 + g, r0 + g, 32), 0, "salting changes the field filter");
    encode_fh(salt, NULL, "JANE", "SMITH", "19910101", r2);
    cr_expect_arr_eq(r2 + g, r1 + g, 32);
    cr_expect_arr_eq(r2 + fam, r1 + fam, 32);
    encode_fh(salt, NULL, "JANE", "SMITH", "19920817", r3);
    cr_expect_lt(common_bits(r3 + g, r1 + g, 32), popcount(r1 + g, 32) / 2,
                 "another year shares few bits");
    encode_fh(salt, NULL, "JANE", "SMITH", NULL, r3);
    cr_expect_neq(memcmp(r3 + g, r1 + g, 32), 0);
    cr_expect_arr_eq(r3 + g, r0 + g, 32, "no salt field: the empty salt hashes as none");

    /* salted filters stay comparable across fields that share a key (a
     * swapped given and family name sets the same bits) */
    encode_fh(salt, NULL, "SMITH", "JANE", "19910817", r2);
    cr_expect_arr_eq(r2 + g, r1 + fam, 32);
    cr_expect_arr_eq(r2 + fam, r1 + g, 32);

    /* folding: the halves of the plain filter XORed */
    encode_fh(fold, NULL, "JANE", "SMITH", "19910817", r2);
    for (size_t b = 0; b < 16; b++)
        cr_expect_eq(r2[lf->field_filter_off[0] + b], (uint8_t)(r0[g + b] ^ r0[g + 16 + b]));

    /* diffusion: deterministic, shared by comparable fields, and a name
     * one letter apart still shares more bits than an unrelated one */
    encode_fh(diff, NULL, "JANE", "SMITH", "19910817", r1);
    encode_fh(diff, NULL, "SMITH", "JANE", "19910817", r2);
    size_t dg = ld->field_filter_off[0], df = ld->field_filter_off[1];
    cr_expect_arr_eq(r2 + dg, r1 + df, 32);
    cr_expect_neq(memcmp(r1 + dg, r0 + g, 32), 0);
    encode_fh(diff, NULL, "JANET", "SMITH", "19910817", r2);
    encode_fh(diff, NULL, "OLUWASEUN", "SMITH", "19910817", r3);
    size_t w = popcount(r1 + dg, 32);
    cr_expect(w > 40 && w < 128, "diffused weight %zu", w);
    cr_expect_gt(common_bits(r1 + dg, r2 + dg, 32), common_bits(r1 + dg, r3 + dg, 32));

    wye_protocol_free(plain);
    wye_protocol_free(salt);
    wye_protocol_free(fold);
    wye_protocol_free(diff);
}

Test(encoder, field_hardening_cache_is_invisible)
{
    wye_protocol *p = ht_protocol(PROTO_FH(
        "{\"salting\":{\"field\":\"date_of_birth\",\"part\":\"year\"},\"xor_fold\":true,"
        "\"diffusion\":{\"t\":2}}"));
    wye_encoder_cache *c;
    cr_assert_eq(wye_encoder_cache_new(&c), WYE_OK);
    static const char *const names[] = {"ANN", "JO", "SMITH", "MARY ANN", "LEE"};
    for (unsigned i = 0; i < 200; i++) {
        char dob[9];
        snprintf(dob, sizeof dob, "19%02u0101", 50 + i % 7);
        uint8_t a[512], b[512];
        encode_fh(p, NULL, names[i % 5], names[(i / 5) % 5], i % 11 ? dob : NULL, a);
        encode_fh(p, c, names[i % 5], names[(i / 5) % 5], i % 11 ? dob : NULL, b);
        cr_assert_arr_eq(a, b, wye_protocol_layout(p)->record_size, "record %u", i);
    }
    wye_encoder_cache_free(c);
    wye_protocol_free(p);
}

Test(encoder, field_hardening_known_answers)
{
    static const char *const specs[] = {
        "{\"salting\":{\"field\":\"date_of_birth\",\"part\":\"year\"}}",
        "{\"salting\":{\"field\":\"date_of_birth\"}}",
        "{\"xor_fold\":true}",
        "{\"diffusion\":{\"t\":4}}",
        "{\"salting\":{\"field\":\"date_of_birth\",\"part\":\"year\"},\"xor_fold\":true,"
        "\"diffusion\":{\"t\":2}}",
    };
    static const char *const want[] = {
        "c5d833080ce9ca813a020da6ecf4516b1d7b4be9730d90ac3d6c142edaac3ff9",
        "dc245acb0ab5459522810231bb2b1bbfd90610b57196dc359015d029500d54d8",
        "3b019c3b2134bdf133b4f397282228f7650b8f43e2a43e9a7d578ffdd0200011",
        "ba30a6b57b9b0484107a91602257126fe6b74d8173cc11c5b31c494d196bf2b7",
        "4bfdfa901f92712c3d27bbc180228f02462807e0d40fe4456040206eb6cc5ffe",
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        char json[2048];
        snprintf(json, sizeof json, PROTO_FH("%s"), specs[i]);
        wye_protocol *p = ht_protocol(json);
        uint8_t rec[512];
        encode_fh(p, NULL, "JANE", "SMITH", "19910817", rec);
        char hex[65];
        hex_digest(rec, wye_protocol_layout(p)->record_size, hex);
        cr_expect_str_eq(hex, want[i], "field hardening %s", specs[i]);
        wye_protocol_free(p);
    }
}

/* Many distinct short tokens (4-letter names, 2-letter postcode districts)
 * and digested values (dates of birth, NHS numbers): far more than the
 * hot-token and digest caches hold, so their entries are replaced over and
 * over; every record must still match the encoding without a cache. */
Test(encoder, cache_is_invisible_under_eviction)
{
    wye_encoder *e;
    wye_encoder_cache *c;
    cr_assert_eq(wye_encoder_new(proto, secret, pkey, &e), WYE_OK);
    cr_assert_eq(wye_encoder_cache_new(&c), WYE_OK);
    uint8_t a[296], b[296];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (unsigned i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        char given[5], family[5], pc[9];
        for (int k = 0; k < 4; k++) {
            given[k] = (char)('A' + (x >> (5 * k)) % 26);
            family[k] = (char)('A' + (x >> (20 + 5 * k)) % 26);
        }
        given[4] = family[4] = 0;
        snprintf(pc, sizeof pc, "%c%c%u %u%c%c", 'A' + (int)((x >> 40) % 26),
                 'A' + (int)((x >> 45) % 26), (unsigned)(x >> 50) % 10,
                 (unsigned)(x >> 54) % 10, 'A' + (int)((x >> 58) % 26), 'A' + (int)(i % 26));
        char dob[9], nhs[11];
        snprintf(dob, sizeof dob, "19%02u%02u%02u", (unsigned)(x >> 8) % 100,
                 1 + (unsigned)(x >> 16) % 12, 1 + (unsigned)(x >> 24) % 28);
        snprintf(nhs, sizeof nhs, "%010llu", (unsigned long long)(x % 10000000000ull));
        wye_fields f;
        wye_fields_clear(&f);
        put(&f, proto, "given_name", given);
        put(&f, proto, "family_name", family);
        put(&f, proto, "postcode", pc);
        put(&f, proto, "date_of_birth", dob); /* about 33,600 values: the digest */
        put(&f, proto, "nhs_number", nhs);     /* cache fills and replaces */
        char id[16];
        int n = snprintf(id, sizeof id, "R%u", i);
        cr_assert_eq(wye_encoder_encode(e, NULL, &f, id, (size_t)n, a), WYE_OK);
        cr_assert_eq(wye_encoder_encode(e, c, &f, id, (size_t)n, b), WYE_OK);
        cr_assert_arr_eq(a, b, sizeof a, "record %u", i);
    }
    wye_encoder_cache_free(c);
    wye_encoder_free(e);
}

/* ---- the shipped default, wyelink-da-default-2 ---- */

/* Its new fields follow the written rules (an independent recomputation),
 * and whole records of it have pinned known answers. */
Test(encoder, default_2_address_and_other_id)
{
    wye_protocol *p = ht_shipped_protocol();
    cr_assert_str_eq(wye_protocol_name(p), "wyelink-da-default-2");
    const wye_layout *lay = wye_protocol_layout(p);
    wye_encoder *e;
    cr_assert_eq(wye_encoder_new(p, secret, pkey, &e), WYE_OK);
    size_t rs = wye_encoder_record_size(e);
    cr_assert_eq(rs, lay->record_size);
    uint8_t rec[512], want[128];
    cr_assert_leq(rs, sizeof rec);

    /* address 12 HIGH ST: q-grams of 12HIGHST padded, 9 tokens; k =
     * ceil(100/9) = 12 in the record filter, ceil(50/9) = 6 in its own
     * 256-bit filter; key id 6 */
    wye_fields f;
    wye_fields_clear(&f);
    put(&f, p, "address", "12 HIGH ST");
    cr_assert_eq(wye_encoder_encode(e, NULL, &f, "", 0, rec), WYE_OK);
    const char *grams[] = {"_1", "12", "2H", "HI", "IG", "GH", "HS", "ST", "T_"};
    expect_grams(rec, lay, lay->field_filter_off[fi(p, "address")], 6, grams, 9, 12, 6);

    /* other_id: only an exact digest, BLAKE2b-128 keyed with KDF id 1003
     * over u32le(7) || value, first 8 bytes; nothing in any filter */
    wye_fields_clear(&f);
    put(&f, p, "other_id", "AB123456");
    cr_assert_eq(wye_encoder_encode(e, NULL, &f, "", 0, rec), WYE_OK);
    expect_digest(rec, lay->digest_off[fi(p, "other_id")], 7, "AB123456");
    memset(want, 0, sizeof want);
    cr_expect_arr_eq(rec + lay->filter_off, want, 128);

    /* whole records: pinned */
    char hex[65];
    wye_fields_clear(&f);
    put(&f, p, "given_name", "JANE");
    put(&f, p, "family_name", "SMITH");
    put(&f, p, "date_of_birth", "19910817");
    put(&f, p, "sex", "F");
    put(&f, p, "postcode", "HR1 2AB");
    put(&f, p, "address", "FLAT 3 12A MILL RD");
    put(&f, p, "other_id", "5304218");
    f.attr[0] = 3, f.attr[1] = 1, f.attr[2] = 1;
    cr_assert_eq(wye_encoder_encode(e, NULL, &f, "P1", 2, rec), WYE_OK);
    hex_digest(rec, rs, hex);
    cr_expect_str_eq(hex, "85fa38e59f91e40d9aff291de3462de2b7a544056f37e4db4bc5c7720eb1df54",
                     "record 1");
    wye_fields_clear(&f);
    put(&f, p, "given_name", "ANN");
    put(&f, p, "family_name", "LEE");
    put(&f, p, "date_of_birth", "19800101");
    cr_assert_eq(wye_encoder_encode(e, NULL, &f, "P2", 2, rec), WYE_OK);
    hex_digest(rec, rs, hex);
    cr_expect_str_eq(hex, "f48e509a9cc049964821efdcd15896f30061fe170c2278f7882e82fec20fe683",
                     "record 2");
    wye_encoder_free(e);
    wye_protocol_free(p);
}

/* Encode n records, filled by fill, under the protocol json with no cache
 * and with one cache kept across them: every record must be the same. */
static void expect_cache_invisible(const char *json, unsigned n,
                                   void (*fill)(const wye_protocol *p, unsigned i,
                                                wye_fields *f))
{
    wye_protocol *p = ht_protocol(json);
    size_t rs = wye_protocol_layout(p)->record_size;
    wye_encoder *e;
    wye_encoder_cache *c;
    cr_assert_eq(wye_encoder_new(p, secret, pkey, &e), WYE_OK);
    cr_assert_eq(wye_encoder_cache_new(&c), WYE_OK);
    uint8_t a[1024], b[1024];
    cr_assert_leq(rs, sizeof a);
    for (unsigned i = 0; i < n; i++) {
        wye_fields f;
        wye_fields_clear(&f);
        fill(p, i, &f);
        char id[16];
        int k = snprintf(id, sizeof id, "R%u", i);
        cr_assert_eq(wye_encoder_encode(e, NULL, &f, id, (size_t)k, a), WYE_OK);
        cr_assert_eq(wye_encoder_encode(e, c, &f, id, (size_t)k, b), WYE_OK);
        cr_assert_arr_eq(a, b, rs, "%s: record %u", json, i);
    }
    wye_encoder_cache_free(c);
    wye_encoder_free(e);
    wye_protocol_free(p);
}

/* One encoder and one cache over many records, under record-level and
 * field-filter hardening with salts: the value cache's key holds both
 * salts, and a value too long for its key (here, names of 20 to 51
 * characters cross the limit at a length that depends on the salts) is
 * hashed without it. Dates of birth (value cache and digest cache), sex
 * and a digest-only NHS number repeat, so entries are hit as well as
 * filled. Every record must be the one encoded without a cache. */
static void fill_salts_and_long_values(const wye_protocol *p, unsigned i, wye_fields *f)
{
    static const char letters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZ";
    char given[64], family[64], dob[9], nhs[11];
    snprintf(given, sizeof given, "%.*s", 20 + (int)(i % 32), letters + i % 7);
    snprintf(family, sizeof family, "%.*s", 20 + (int)((i / 3) % 32), letters + i % 5);
    snprintf(dob, sizeof dob, "19%02u%02u%02u", 50 + i % 9, 1 + i % 12, 1 + i % 5);
    snprintf(nhs, sizeof nhs, "94347659%02u", i % 13);
    put(f, p, "given_name", given);
    if (i % 4)
        put(f, p, "family_name", family);
    if (i % 7)
        put(f, p, "date_of_birth", dob);
    if (i % 3)
        put(f, p, "sex", i % 2 ? "F" : "M");
    if (i % 5)
        put(f, p, "nhs_number", nhs);
}

Test(encoder, cache_is_invisible_with_salts_and_long_values)
{
    static const char *const specs[][2] = {
        {"{}", "{}"},
        {"{\"salting\":{\"field\":\"date_of_birth\",\"part\":\"year\"}}",
         "{\"salting\":{\"field\":\"date_of_birth\"}}"},
        {"{\"balancing\":true,\"xor_fold\":true}",
         "{\"salting\":{\"field\":\"date_of_birth\",\"part\":\"year\"},\"xor_fold\":true}"},
        {"{\"salting\":{\"field\":\"date_of_birth\"},\"diffusion\":{\"t\":3,\"bits\":512}}",
         "{\"diffusion\":{\"t\":2}}"},
    };
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
        char json[4096];
        snprintf(json, sizeof json,
                 "{\"format\":\"wyelink-protocol\",\"version\":1,\"name\":\"c\","
                 "\"filter_bits\":1024,\"fields\":["
                 "{\"name\":\"given_name\",\"kdf_id\":1,\"record_bits\":150,"
                 "\"field_filter_bits\":256,\"field_filter_k\":30,"
                 "\"tokenisers\":[{\"type\":\"qgram\",\"q\":2,\"padding\":true}]},"
                 "{\"name\":\"family_name\",\"kdf_id\":1,\"record_bits\":150,"
                 "\"field_filter_bits\":256,\"field_filter_k\":30,"
                 "\"tokenisers\":[{\"type\":\"qgram\",\"q\":2,\"padding\":true}]},"
                 "{\"name\":\"date_of_birth\",\"kdf_id\":2,\"record_bits\":120,"
                 "\"exact_digest\":true,\"tokenisers\":[{\"type\":\"date_parts\"}]},"
                 "{\"name\":\"sex\",\"kdf_id\":3,\"record_bits\":20,"
                 "\"tokenisers\":[{\"type\":\"whole\"}]},"
                 "{\"name\":\"nhs_number\",\"kdf_id\":5,\"record_bits\":0,"
                 "\"exact_digest\":true,\"tokenisers\":[{\"type\":\"whole\"}]}],"
                 "\"hardening\":%s,\"field_hardening\":%s}",
                 specs[s][0], specs[s][1]);
        expect_cache_invisible(json, 1500, fill_salts_and_long_values);
    }
}

/* Values of several words (postcodes, addresses, ids) through the caches
 * give the bits of hashing every gram: q-grams with and without padding,
 * words shorter than q, a gram in two words, spaces doubled, long words, and
 * record and field salts. */
static const char *const words[] = {
    "12 HIGH ST", "12 HIGH STREET", "A B", "A B C D", "AA AA", "HR1 1AB", "HR1 1AA",
    "X  Y", "FLAT 3 THE OLD RECTORY ON THE LONG LANE NEAR THE VERY LONG VILLAGE",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZ Q", "Q ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "7 A", "SINGLEWORD", "HIGH ST 12"};
#define NWORDS (sizeof words / sizeof words[0])

static void fill_several_words(const wye_protocol *p, unsigned i, wye_fields *f)
{
    const unsigned nv = NWORDS;
    char dob[9];
    snprintf(dob, sizeof dob, "19%02u0101", 50 + i % 3);
    put(f, p, "date_of_birth", dob);
    put(f, p, "postcode", words[i % nv]);
    put(f, p, "address", words[(i / nv) % nv]);
    put(f, p, "other_id", words[(i + i / nv) % nv]);
}

Test(encoder, cache_is_invisible_for_values_of_several_words)
{
    static const char *const hardening[][2] = {
        {"{}", "{}"},
        {"{\"salting\":{\"field\":\"date_of_birth\",\"part\":\"year\"}}",
         "{\"salting\":{\"field\":\"date_of_birth\"}}"},
    };
    for (size_t h = 0; h < sizeof hardening / sizeof hardening[0]; h++) {
        char json[4096];
        snprintf(json, sizeof json,
                 "{\"format\":\"wyelink-protocol\",\"version\":1,\"name\":\"w\","
                 "\"filter_bits\":1024,\"fields\":["
                 "{\"name\":\"date_of_birth\",\"kdf_id\":2,\"record_bits\":120,"
                 "\"exact_digest\":true,\"tokenisers\":[{\"type\":\"date_parts\"}]},"
                 "{\"name\":\"postcode\",\"kdf_id\":4,\"record_bits\":100,"
                 "\"field_filter_bits\":256,\"field_filter_k\":30,"
                 "\"tokenisers\":[{\"type\":\"qgram\",\"q\":2,\"padding\":true}]},"
                 "{\"name\":\"address\",\"kdf_id\":6,\"record_bits\":100,"
                 "\"field_filter_bits\":512,\"field_filter_k\":50,"
                 "\"tokenisers\":[{\"type\":\"qgram\",\"q\":3,\"padding\":true}]},"
                 "{\"name\":\"other_id\",\"kdf_id\":7,\"record_bits\":60,"
                 "\"field_filter_bits\":128,\"field_filter_k\":20,"
                 "\"tokenisers\":[{\"type\":\"qgram\",\"q\":3,\"padding\":false}]}],"
                 "\"hardening\":%s,\"field_hardening\":%s}",
                 hardening[h][0], hardening[h][1]);
        expect_cache_invisible(json, (unsigned)(3 * NWORDS * NWORDS), fill_several_words);
    }
}
