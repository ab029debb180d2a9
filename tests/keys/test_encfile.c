/* protocols/encfile.c: round trips, and every corruption class refused with
 * its own error code. Some files are built by hand from FORMAT.md (spec_write
 * below), both to check that the format is what the spec says and to make
 * files the writer refuses to make (a forged signature, a wrong count). */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "wyelink/encfile.h"
#include "wyelink/version.h"

#define HEADER 148
#define REC 64

static wye_party *police, *gp, *lu, *mallory_police;
static wye_trust *trust;

static void setup(void)
{
    cr_assert_eq(wye_crypto_init(), WYE_OK);
    cr_assert_eq(wye_party_create("police", "agency", &police), WYE_OK);
    cr_assert_eq(wye_party_create("gp", "agency", &gp), WYE_OK);
    cr_assert_eq(wye_party_create("linkage-unit", "linkage-unit", &lu), WYE_OK);
    /* Another key pair that claims to be the police. */
    cr_assert_eq(wye_party_create("police", "agency", &mallory_police), WYE_OK);
    cr_assert_eq(wye_trust_new(&trust), WYE_OK);
    cr_assert_eq(wye_trust_add(trust, wye_party_public_part(police)), WYE_OK);
    cr_assert_eq(wye_trust_add(trust, wye_party_public_part(gp)), WYE_OK);
}

static void teardown(void)
{
    wye_party_free(police);
    wye_party_free(gp);
    wye_party_free(lu);
    wye_party_free(mallory_police);
    wye_trust_free(trust);
}

TestSuite(encfile, .init = setup, .fini = teardown);

static wye_encfile_meta test_meta(void)
{
    wye_encfile_meta m;
    memset(&m, 0, sizeof m);
    for (int i = 0; i < WYE_FINGERPRINT_BYTES; i++)
        m.fingerprint[i] = (uint8_t)(0xa0 + i);
    for (int i = 0; i < WYE_KEY_ID_BYTES; i++)
        m.key_id[i] = (uint8_t)(0x10 + i);
    strcpy(m.agency, "police");
    m.created = 1700000000;
    strcpy(m.extract_date, "2023-03-31");
    m.record_size = REC;
    return m;
}

/* Record i: partly compressible, different for every i. */
static void make_record(uint64_t i, uint8_t *r)
{
    memset(r, 0, REC);
    memcpy(r, &i, sizeof i);
    uint64_t x = i * 0x9e3779b97f4a7c15ull;
    for (int k = 8; k < 24; k++) {
        x ^= x >> 29;
        x *= 0xbf58476d1ce4e5b9ull;
        r[k] = (uint8_t)(x >> 56);
    }
    r[REC - 1] = (uint8_t)(i % 7);
}

/* A writer of signer's file to `to`, into b. */
static wye_encwriter *open_writer(wye_membuf *b, const wye_party *signer, const wye_party *to)
{
    wye_encfile_meta m = test_meta();
    strcpy(m.agency, wye_party_public_part(signer)->name);
    wye_encwriter *w;
    cr_assert_eq(wye_encwriter_open(wye_sink_memory(b), &m, signer, wye_party_public_part(to),
                                    &w),
                 WYE_OK);
    return w;
}

static wye_membuf write_file_c(const wye_party *signer, const wye_party *to, uint64_t n,
                               wye_enc_compression comp)
{
    wye_membuf b = {0};
    wye_encwriter *w = open_writer(&b, signer, to);
    cr_assert_eq(wye_encwriter_set_compression(w, comp), WYE_OK);
    uint8_t r[REC];
    for (uint64_t i = 0; i < n; i++) {
        make_record(i, r);
        cr_assert_eq(wye_encwriter_add(w, r), WYE_OK);
    }
    cr_assert_eq(wye_encwriter_close(w), WYE_OK);
    return b;
}

/* The writer's default: stored blocks. */
static wye_membuf write_file(const wye_party *signer, const wye_party *to, uint64_t n)
{
    return write_file_c(signer, to, n, WYE_ENC_STORED);
}

/* Read everything: the first error, or WYE_OK with *count records seen
 * (each compared with make_record). */
static int read_all(const uint8_t *data, size_t size, const wye_party *as,
                    const wye_trust *t, uint64_t *count)
{
    wye_memsource ms = {data, size, 0};
    wye_encreader *r;
    int rc = wye_encreader_open(wye_source_memory(&ms), as, t, &r);
    if (rc != WYE_OK)
        return rc;
    uint64_t n = 0;
    const uint8_t *rec;
    uint8_t want[REC];
    while ((rc = wye_encreader_next(r, &rec)) == 1) {
        make_record(n, want);
        cr_assert_eq(memcmp(rec, want, REC), 0, "record %llu differs", (unsigned long long)n);
        n++;
    }
    if (rc == 0) {
        cr_assert_eq(wye_encreader_meta(r)->records, n);
        /* Sticky end: asking again still says 0. */
        cr_assert_eq(wye_encreader_next(r, &rec), 0);
    }
    wye_encreader_free(r);
    if (count)
        *count = n;
    return rc;
}

static void round_trip(uint64_t n)
{
    wye_membuf b = write_file(police, lu, n);
    cr_assert_eq(memcmp(b.data, "WYEENC\r\n\x02\0\0\0", 12), 0);
    wye_memsource ms = {b.data, b.size, 0};
    wye_encreader *r;
    cr_assert_eq(wye_encreader_open(wye_source_memory(&ms), lu, trust, &r), WYE_OK);
    const wye_encfile_meta *m = wye_encreader_meta(r);
    wye_encfile_meta want = test_meta();
    cr_assert_eq(m->format_version, WYE_ENCFILE_VERSION);
    cr_assert_eq(memcmp(m->fingerprint, want.fingerprint, WYE_FINGERPRINT_BYTES), 0);
    cr_assert_eq(memcmp(m->key_id, want.key_id, WYE_KEY_ID_BYTES), 0);
    cr_assert_str_eq(m->agency, "police");
    cr_assert_eq(memcmp(m->signer_pk, wye_party_public_part(police)->sign_pk, 32), 0);
    cr_assert_eq(m->created, 1700000000);
    cr_assert_str_eq(m->extract_date, "2023-03-31");
    cr_assert_eq(m->record_size, REC);
    wye_encreader_free(r);
    uint64_t got = 0;
    cr_assert_eq(read_all(b.data, b.size, lu, trust, &got), WYE_OK);
    cr_assert_eq(got, n);
    free(b.data);
}

Test(encfile, round_trip_0_records) { round_trip(0); }
Test(encfile, round_trip_1_record) { round_trip(1); }
Test(encfile, round_trip_100000_records) { round_trip(100000); }

Test(encfile, compressed_on_request_and_read_back_alike)
{
    wye_membuf rle = write_file_c(police, lu, 20000, WYE_ENC_RLE);
    wye_membuf stored = write_file(police, lu, 20000);
    /* 40 random bytes of 64 per record: Z_RLE must save most of the rest;
     * stored blocks keep every byte. */
    cr_assert_lt(rle.size, (size_t)20000 * REC * 3 / 4, "size %zu", rle.size);
    cr_assert_gt(stored.size, (size_t)20000 * REC, "size %zu", stored.size);
    uint64_t n1 = 0, n2 = 0;
    cr_assert_eq(read_all(rle.data, rle.size, lu, trust, &n1), WYE_OK);
    cr_assert_eq(read_all(stored.data, stored.size, lu, trust, &n2), WYE_OK);
    cr_assert_eq(n1, 20000);
    cr_assert_eq(n2, 20000);
    free(rle.data);
    free(stored.data);
}

Test(encfile, close_gives_the_digest_of_the_whole_file)
{
    wye_membuf b = {0};
    wye_encwriter *w = open_writer(&b, police, lu);
    uint8_t r[REC];
    for (uint64_t i = 0; i < 5000; i++) {
        make_record(i, r);
        cr_assert_eq(wye_encwriter_add(w, r), WYE_OK);
    }
    uint8_t d[WYE_ENCFILE_DIGEST_BYTES], want[32];
    uint64_t bytes = 0;
    cr_assert_eq(wye_encwriter_close_digest(w, d, &bytes), WYE_OK);
    cr_assert_eq(bytes, b.size);
    crypto_generichash(want, sizeof want, b.data, b.size, NULL, 0);
    cr_assert_eq(memcmp(d, want, 32), 0);
    free(b.data);
}

Test(encfile, compression_chosen_only_before_the_first_record)
{
    wye_membuf b = {0};
    wye_encwriter *w = open_writer(&b, police, lu);
    cr_assert_eq(wye_encwriter_set_compression(w, (wye_enc_compression)7), WYE_EINVAL);
    uint8_t r[REC];
    make_record(0, r);
    cr_assert_eq(wye_encwriter_add(w, r), WYE_OK);
    cr_assert_eq(wye_encwriter_set_compression(w, WYE_ENC_RLE), WYE_EINVAL);
    cr_assert_eq(wye_encwriter_close(w), WYE_OK);
    uint64_t n = 0;
    cr_assert_eq(read_all(b.data, b.size, lu, trust, &n), WYE_OK);
    cr_assert_eq(n, 1);
    free(b.data);
}

/* The code a bit flip at offset off must give. */
static int flip_expect(size_t off)
{
    if (off < 8)
        return WYE_EFORMAT;
    if (off < 12)
        return WYE_EVERSION;
    if (off < 44)
        return WYE_ERECIPIENT; /* names someone else */
    return WYE_ECORRUPT;       /* sealed key, stream header, every message */
}

Test(encfile, every_flipped_bit_refused_with_its_code)
{
    wye_membuf b = write_file(police, lu, 3000);
    size_t offs[] = {0, 3, 7, 8, 9, 11, 12, 30, 43, 44, 60, 123, 124, 140, 147, 148, 150,
                     170, 326, 327, 328, 400, 1000, 5000, 20000, 70000, b.size / 2,
                     b.size - 93, b.size - 90, b.size - 70, b.size - 2, b.size - 1};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        if (offs[i] >= b.size)
            continue;
        for (int bit = 0; bit < 8; bit += 7) {
            b.data[offs[i]] ^= (uint8_t)(1u << bit);
            int rc = read_all(b.data, b.size, lu, trust, NULL);
            b.data[offs[i]] ^= (uint8_t)(1u << bit);
            cr_assert_eq(rc, flip_expect(offs[i]), "offset %zu bit %d: got %d (%s)", offs[i],
                         bit, rc, wye_strerror(rc));
        }
    }
    cr_assert_eq(read_all(b.data, b.size, lu, trust, NULL), WYE_OK);
    free(b.data);
}

Test(encfile, truncation_refused_at_every_kind_of_offset)
{
    wye_membuf b = write_file(police, lu, 3000);
    size_t lens[] = {0, 1, 7, 8, 11, 12, 100, 147, 148, 149, 148 + 179, 148 + 180, 1000,
                     b.size / 2, b.size - 93, b.size - 92, b.size - 1};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        int rc = read_all(b.data, lens[i], lu, trust, NULL);
        cr_assert_eq(rc, WYE_ETRUNCATED, "length %zu of %zu: got %d", lens[i], b.size, rc);
    }
    free(b.data);
}

Test(encfile, appended_bytes_refused)
{
    wye_membuf b = write_file(police, lu, 10);
    cr_assert_eq(wye_sink_memory(&b).write(&b, "x", 1), WYE_OK);
    cr_assert_eq(read_all(b.data, b.size, lu, trust, NULL), WYE_ECORRUPT);
    free(b.data);
}

Test(encfile, not_an_encoded_file)
{
    const char *text = "local_id,record\n1,2\n";
    cr_assert_eq(read_all((const uint8_t *)text, strlen(text), lu, trust, NULL), WYE_EFORMAT);
    cr_assert_eq(read_all((const uint8_t *)"WYE", 3, lu, trust, NULL), WYE_ETRUNCATED);
    cr_assert_eq(read_all((const uint8_t *)"WYX", 3, lu, trust, NULL), WYE_EFORMAT);
}

Test(encfile, unknown_version)
{
    wye_membuf b = write_file(police, lu, 5);
    uint8_t bad[] = {0, 3, 255};
    for (size_t i = 0; i < sizeof bad; i++) {
        b.data[8] = bad[i];
        cr_assert_eq(read_all(b.data, b.size, lu, trust, NULL), WYE_EVERSION);
        /* Checked before anything else after the magic: even with no body. */
        cr_assert_eq(read_all(b.data, 12, lu, trust, NULL), WYE_EVERSION);
    }
    /* A known version that is not the file's: the header is authenticated. */
    b.data[8] = 1;
    cr_assert_eq(read_all(b.data, b.size, lu, trust, NULL), WYE_ECORRUPT);
    free(b.data);
}

Test(encfile, wrong_recipient)
{
    wye_membuf b = write_file(police, lu, 5);
    cr_assert_eq(read_all(b.data, b.size, gp, trust, NULL), WYE_ERECIPIENT);
    free(b.data);
}

Test(encfile, untrusted_signer_refused_before_any_record)
{
    wye_membuf b = write_file(gp, lu, 5);
    wye_trust *only_police;
    cr_assert_eq(wye_trust_new(&only_police), WYE_OK);
    cr_assert_eq(wye_trust_add(only_police, wye_party_public_part(police)), WYE_OK);
    wye_memsource ms = {b.data, b.size, 0};
    wye_encreader *r = (wye_encreader *)1;
    cr_assert_eq(wye_encreader_open(wye_source_memory(&ms), lu, only_police, &r),
                 WYE_EUNTRUSTED);
    cr_assert_null(r);
    wye_trust_free(only_police);
    free(b.data);
}

Test(encfile, another_key_claiming_to_be_the_agency)
{
    wye_membuf b = write_file(mallory_police, lu, 5);
    cr_assert_eq(read_all(b.data, b.size, lu, trust, NULL), WYE_EUNTRUSTED);
    free(b.data);
}

Test(encfile, trusted_key_under_another_name)
{
    /* gp's key is trusted, but only as "gp". */
    wye_membuf b = {0};
    wye_encfile_meta m = test_meta();
    strcpy(m.agency, "police");
    wye_encwriter *w;
    cr_assert_eq(wye_encwriter_open(wye_sink_memory(&b), &m, gp, wye_party_public_part(lu), &w),
                 WYE_EINVAL, "the writer refuses to sign as another name");
    free(b.data);
}

Test(encfile, writer_refuses_bad_metadata)
{
    wye_membuf b = {0};
    wye_encwriter *w;
    wye_encfile_meta m = test_meta();
    m.record_size = 0;
    cr_assert_eq(wye_encwriter_open(wye_sink_memory(&b), &m, police, wye_party_public_part(lu),
                                    &w), WYE_EINVAL);
    m.record_size = (1u << 20) + 1;
    cr_assert_eq(wye_encwriter_open(wye_sink_memory(&b), &m, police, wye_party_public_part(lu),
                                    &w), WYE_EINVAL);
    m = test_meta();
    strcpy(m.extract_date, "31/03/2023");
    cr_assert_eq(wye_encwriter_open(wye_sink_memory(&b), &m, police, wye_party_public_part(lu),
                                    &w), WYE_EINVAL);
    cr_assert_eq(b.size, 0, "nothing written");
    free(b.data);
}

Test(encfile, check_compares_fingerprint_then_key_id)
{
    wye_encfile_meta m = test_meta();
    uint8_t fp[WYE_FINGERPRINT_BYTES], id[WYE_KEY_ID_BYTES];
    memcpy(fp, m.fingerprint, sizeof fp);
    memcpy(id, m.key_id, sizeof id);
    cr_assert_eq(wye_encfile_check(&m, fp, id), WYE_OK);
    fp[31] ^= 1;
    cr_assert_eq(wye_encfile_check(&m, fp, id), WYE_EPROTOCOL);
    fp[31] ^= 1;
    id[0] ^= 0x80;
    cr_assert_eq(wye_encfile_check(&m, fp, id), WYE_EKEYID);
}

/* ---- files made by hand from FORMAT.md ---------------------------------- */

typedef struct spec_opts {
    const wye_party *sign_with; /* key that signs */
    const uint8_t *claim_pk;    /* signer pk written in the metadata */
    int64_t count_delta;        /* added to the true record count */
    uint32_t version;           /* 1: Ed25519ph; 2: Ed25519 over BLAKE2b-512 */
} spec_opts;

/* What is signed, as FORMAT.md describes it: version 1 the header and the
 * plaintexts (Ed25519ph), version 2 the header and the ciphertexts. */
typedef struct spec_sig {
    uint32_t version;
    crypto_sign_state ph;
    crypto_generichash_blake2b_state b2;
} spec_sig;

static void sig_header(spec_sig *g, const uint8_t *h, size_t n)
{
    if (g->version == 1)
        crypto_sign_update(&g->ph, h, n);
    else
        crypto_generichash_blake2b_update(&g->b2, h, n);
}

static void sig_message(spec_sig *g, const uint8_t *pt, size_t ptlen, const uint8_t *ct,
                        size_t ctlen)
{
    if (g->version == 1)
        crypto_sign_update(&g->ph, pt, ptlen);
    else
        crypto_generichash_blake2b_update(&g->b2, ct, ctlen);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* An encoded file per FORMAT.md: n records, all data in one message. */
static wye_membuf spec_write(uint64_t n, spec_opts o)
{
    wye_membuf b = {0};
    wye_sink s = wye_sink_memory(&b);
    uint8_t h[HEADER], key[32];
    memcpy(h, "WYEENC\r\n", 8);
    put32(h + 8, o.version);
    memcpy(h + 12, wye_party_public_part(lu)->box_pk, 32);
    crypto_secretstream_xchacha20poly1305_keygen(key);
    cr_assert_eq(crypto_box_seal(h + 44, key, 32, h + 12), 0);
    crypto_secretstream_xchacha20poly1305_state st;
    crypto_secretstream_xchacha20poly1305_init_push(&st, h + 124, key);
    cr_assert_eq(s.write(s.ctx, h, HEADER), WYE_OK);
    spec_sig sg = {.version = o.version};
    if (o.version == 1)
        crypto_sign_init(&sg.ph);
    else
        crypto_generichash_blake2b_init(&sg.b2, NULL, 0, 32);
    sig_header(&sg, h, HEADER);

    /* The records, deflated, in one buffer. */
    uLong raw = (uLong)(n * REC);
    uint8_t *recs = malloc(raw + 1);
    for (uint64_t i = 0; i < n; i++)
        make_record(i, recs + i * REC);
    uLongf zlen = compressBound(raw);
    uint8_t *z = malloc(zlen);
    cr_assert_eq(compress(z, &zlen, recs, raw), Z_OK);
    cr_assert_leq(zlen, 65536);

    uint8_t meta[158] = {0};
    wye_encfile_meta m = test_meta();
    memcpy(meta, m.fingerprint, 32);
    memcpy(meta + 32, m.key_id, 8);
    memcpy(meta + 40, "police", 6);
    memcpy(meta + 104, o.claim_pk, 32);
    uint64_t created = (uint64_t)m.created;
    for (int i = 0; i < 8; i++)
        meta[136 + i] = (uint8_t)(created >> (8 * i));
    memcpy(meta + 144, m.extract_date, 10);
    put32(meta + 154, REC);

    uint8_t pt[4 + 65536 + 72], ct[4 + 65536 + 72 + 17];
    unsigned long long ctlen;
    /* message 0: metadata; next is the data message */
    put32(pt, (uint32_t)(4 + zlen + 17));
    memcpy(pt + 4, meta, 158);
    crypto_secretstream_xchacha20poly1305_push(&st, ct, &ctlen, pt, 4 + 158, h, HEADER, 0);
    cr_assert_eq(ctlen, 179);
    sig_message(&sg, pt, 4 + 158, ct, ctlen);
    s.write(s.ctx, ct, ctlen);
    /* message 1: the deflate stream; next is the trailer */
    put32(pt, 4 + 72 + 17);
    memcpy(pt + 4, z, zlen);
    crypto_secretstream_xchacha20poly1305_push(&st, ct, &ctlen, pt, 4 + zlen, NULL, 0, 0);
    sig_message(&sg, pt, 4 + zlen, ct, ctlen);
    s.write(s.ctx, ct, ctlen);
    /* final: count and signature */
    put32(pt, 0);
    uint64_t count = n + (uint64_t)o.count_delta;
    for (int i = 0; i < 8; i++)
        pt[4 + i] = (uint8_t)(count >> (8 * i));
    if (o.version == 1) {
        crypto_sign_update(&sg.ph, pt, 12);
        crypto_sign_final_create(&sg.ph, pt + 12, NULL, wye_party_sign_sk(o.sign_with));
    } else { /* BLAKE2b-256 of the bytes so far, then the count */
        uint8_t msg[40];
        crypto_generichash_blake2b_final(&sg.b2, msg, 32);
        memcpy(msg + 32, pt + 4, 8);
        crypto_sign_detached(pt + 12, NULL, msg, sizeof msg, wye_party_sign_sk(o.sign_with));
    }
    crypto_secretstream_xchacha20poly1305_push(
        &st, ct, &ctlen, pt, 4 + 72, NULL, 0, crypto_secretstream_xchacha20poly1305_TAG_FINAL);
    s.write(s.ctx, ct, ctlen);
    free(recs);
    free(z);
    return b;
}

/* Both versions the reader knows: version 1 (Ed25519ph) files stay readable. */
Test(encfile, file_made_from_the_spec_reads_back)
{
    for (uint32_t v = 1; v <= 2; v++) {
        spec_opts o = {police, wye_party_public_part(police)->sign_pk, 0, v};
        wye_membuf b = spec_write(500, o);
        uint64_t n = 0;
        cr_assert_eq(read_all(b.data, b.size, lu, trust, &n), WYE_OK, "version %u", v);
        cr_assert_eq(n, 500);
        wye_memsource ms = {b.data, b.size, 0};
        wye_encreader *r;
        cr_assert_eq(wye_encreader_open(wye_source_memory(&ms), lu, trust, &r), WYE_OK);
        cr_assert_eq(wye_encreader_meta(r)->format_version, v);
        wye_encreader_free(r);
        free(b.data);
    }
}

Test(encfile, forged_signature_claiming_the_agency_key)
{
    /* Metadata names the police's real key; another key signs. */
    for (uint32_t v = 1; v <= 2; v++) {
        spec_opts o = {mallory_police, wye_party_public_part(police)->sign_pk, 0, v};
        wye_membuf b = spec_write(50, o);
        cr_assert_eq(read_all(b.data, b.size, lu, trust, NULL), WYE_ESIGNATURE, "version %u", v);
        free(b.data);
    }
}

Test(encfile, signed_count_that_does_not_match_the_records)
{
    for (uint32_t v = 1; v <= 2; v++) {
        spec_opts o = {police, wye_party_public_part(police)->sign_pk, 1, v};
        wye_membuf b = spec_write(50, o);
        cr_assert_eq(read_all(b.data, b.size, lu, trust, NULL), WYE_ECORRUPT, "version %u", v);
        free(b.data);
    }
}

/* Records larger than a message, and records of one byte. */
static void round_trip_size(uint32_t size, unsigned n)
{
    wye_membuf b = {0};
    wye_encfile_meta m = test_meta();
    m.record_size = size;
    wye_encwriter *w;
    cr_assert_eq(wye_encwriter_open(wye_sink_memory(&b), &m, police, wye_party_public_part(lu),
                                    &w),
                 WYE_OK);
    uint8_t *rec = malloc(size);
    for (unsigned i = 0; i < n; i++) {
        for (uint32_t k = 0; k < size; k++)
            rec[k] = (uint8_t)((k * 31 + i * 7) ^ (k >> 5));
        cr_assert_eq(wye_encwriter_add(w, rec), WYE_OK);
    }
    cr_assert_eq(wye_encwriter_close(w), WYE_OK);
    wye_memsource ms = {b.data, b.size, 0};
    wye_encreader *r;
    cr_assert_eq(wye_encreader_open(wye_source_memory(&ms), lu, trust, &r), WYE_OK);
    const uint8_t *got;
    unsigned i = 0;
    int rc;
    while ((rc = wye_encreader_next(r, &got)) == 1) {
        for (uint32_t k = 0; k < size; k++)
            rec[k] = (uint8_t)((k * 31 + i * 7) ^ (k >> 5));
        cr_assert_eq(memcmp(got, rec, size), 0, "record %u", i);
        i++;
    }
    cr_assert_eq(rc, 0);
    cr_assert_eq(i, n);
    wye_encreader_free(r);
    free(rec);
    free(b.data);
}

Test(encfile, round_trip_large_and_tiny_records)
{
    round_trip_size(200000, 7);   /* each record spans several messages */
    round_trip_size(1u << 20, 2); /* the largest allowed */
    round_trip_size(1, 150000);
}
