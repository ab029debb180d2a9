/* Fuzz harness for the encoded-file reader (protocols/encfile.c).
 *
 * libFuzzer:  clang -fsanitize=fuzzer,address,undefined -DWYE_LIBFUZZER ...
 * Otherwise:  fuzz_encfile CORPUS_DIR replays every file of the folder. A
 * seed's name says the verdict it must get: ok_*, format_*, version_*,
 * truncated_*, corrupt_*, recipient_*, untrusted_*, signature_*; so the corpus
 * is also a table of verdicts. fuzz_encfile --make-corpus DIR writes the seeds
 * (the keys are fixed, so the seeds stay valid; the stream keys are random,
 * so remaking them changes their bytes, not their verdicts).
 *
 * The reader opens as a fixed linkage unit trusting a fixed agency "police".
 * Whatever the input, the reader must return one of its documented codes and
 * hand out only whole records; a failure aborts. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_replay.h"
#include "wyelink/encfile.h"
#include "wyelink/io.h"

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "fuzz_encfile: invariant failed: %s (line %d)\n", #cond, \
                    __LINE__);                                                        \
            abort();                                                                  \
        }                                                                             \
    } while (0)

static wye_party *lu, *police, *gp;
static wye_trust *trust;

/* A party whose keys are fixed by tag, via a secret file in a temp folder. */
static wye_party *fixed_party(const char *dir, const char *name, const char *role, uint8_t tag)
{
    uint8_t seed[32], pk[32], sk[64], box[32];
    for (int i = 0; i < 32; i++) {
        seed[i] = (uint8_t)(tag + i);
        box[i] = (uint8_t)((tag ^ 0x5a) + 3 * i);
    }
    crypto_sign_seed_keypair(pk, sk, seed);
    char s64[100], b64[60], path[256];
    sodium_bin2base64(s64, sizeof s64, sk, 64, sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(b64, sizeof b64, box, 32, sodium_base64_VARIANT_ORIGINAL);
    snprintf(path, sizeof path, "%s/%s-%u.key", dir, name, tag);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    fprintf(f,
            "{\"kind\":\"wyelink-party-secret\",\"version\":1,\"name\":\"%s\",\"role\":\"%s\","
            "\"sign_sk\":\"%s\",\"box_sk\":\"%s\"}",
            name, role, s64, b64);
    fclose(f);
    CHECK(chmod(path, 0600) == 0);
    wye_party *p = NULL;
    CHECK(wye_party_load(path, &p) == WYE_OK);
    unlink(path);
    return p;
}

static void init(void)
{
    if (lu)
        return;
    CHECK(wye_crypto_init() == WYE_OK);
    char dir[] = "/tmp/wye_fuzz_encfile_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    lu = fixed_party(dir, "linkage-unit", "linkage-unit", 1);
    police = fixed_party(dir, "police", "agency", 2);
    gp = fixed_party(dir, "gp", "agency", 3);
    rmdir(dir);
    CHECK(wye_trust_new(&trust) == WYE_OK);
    CHECK(wye_trust_add(trust, wye_party_public_part(police)) == WYE_OK);
}

static int check_one(const uint8_t *data, size_t size)
{
    init();
    wye_memsource ms = {data, size, 0};
    wye_encreader *r = (wye_encreader *)&r; /* must be reset to NULL on failure */
    int rc = wye_encreader_open(wye_source_memory(&ms), lu, trust, &r);
    if (rc != WYE_OK) {
        CHECK(r == NULL);
        CHECK(rc == WYE_EFORMAT || rc == WYE_EVERSION || rc == WYE_ETRUNCATED ||
              rc == WYE_ERECIPIENT || rc == WYE_ECORRUPT || rc == WYE_EUNTRUSTED ||
              rc == WYE_ENOMEM);
        return rc;
    }
    const wye_encfile_meta *m = wye_encreader_meta(r);
    CHECK(m->record_size >= 1 && m->record_size <= (1u << 20));
    CHECK(memchr(m->agency, 0, sizeof m->agency) && memchr(m->extract_date, 0, 11));
    CHECK(wye_trust_find(trust, m->signer_pk) != NULL);
    const uint8_t *rec;
    uint64_t n = 0;
    uint8_t sum = 0;
    while ((rc = wye_encreader_next(r, &rec)) == 1) {
        sum ^= rec[0] ^ rec[m->record_size - 1]; /* the whole record is readable */
        n++;
    }
    (void)sum;
    if (rc == 0) {
        CHECK(m->records == n);
        CHECK(wye_encreader_next(r, &rec) == 0);
    } else {
        CHECK(rc == WYE_ETRUNCATED || rc == WYE_ECORRUPT || rc == WYE_ESIGNATURE ||
              rc == WYE_ENOMEM || rc == WYE_EIO);
        CHECK(wye_encreader_next(r, &rec) == rc); /* sticky */
    }
    wye_encreader_free(r);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_one(data, size);
    return 0;
}

#ifndef WYE_LIBFUZZER
static wye_membuf make_file(const wye_party *signer, const wye_party *to, unsigned n)
{
    wye_membuf b = {0};
    wye_encfile_meta m;
    memset(&m, 0, sizeof m);
    memset(m.fingerprint, 0xfb, sizeof m.fingerprint);
    memset(m.key_id, 0x1d, sizeof m.key_id);
    strcpy(m.agency, wye_party_public_part(signer)->name);
    m.created = 1700000000;
    strcpy(m.extract_date, "2023-03-31");
    m.record_size = 24;
    wye_encwriter *w;
    CHECK(wye_encwriter_open(wye_sink_memory(&b), &m, signer, wye_party_public_part(to), &w) ==
          WYE_OK);
    uint8_t rec[24];
    for (unsigned i = 0; i < n; i++) {
        memset(rec, (int)(i & 0xff), sizeof rec);
        rec[0] = (uint8_t)(i * 37);
        CHECK(wye_encwriter_add(w, rec) == WYE_OK);
    }
    CHECK(wye_encwriter_close(w) == WYE_OK);
    return b;
}

static void put(const char *dir, const char *name, const uint8_t *data, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(data, 1, size, f) == size && fclose(f) == 0);
}

static int make_corpus(const char *dir)
{
    init();
    wye_membuf b0 = make_file(police, lu, 0), b = make_file(police, lu, 40);
    put(dir, "ok_empty", b0.data, b0.size);
    put(dir, "ok_40_records", b.data, b.size);
    put(dir, "truncated_header", b.data, 100);
    put(dir, "truncated_metadata", b.data, 200);
    put(dir, "truncated_trailer", b.data, b.size - 10);
    put(dir, "format_text", (const uint8_t *)"local_id,record\n", 16);
    uint8_t *c = malloc(b.size);
    memcpy(c, b.data, b.size);
    c[9] = 1;
    put(dir, "version_257", c, b.size);
    memcpy(c, b.data, b.size);
    c[200] ^= 4;
    put(dir, "corrupt_metadata", c, b.size);
    memcpy(c, b.data, b.size);
    c[b.size - 1] ^= 1;
    put(dir, "corrupt_trailer", c, b.size);
    memcpy(c, b.data, b.size);
    c[60] ^= 0x10;
    put(dir, "corrupt_sealed_key", c, b.size);
    free(c);
    wye_membuf g = make_file(gp, lu, 3), r = make_file(police, gp, 3);
    put(dir, "untrusted_gp", g.data, g.size);
    put(dir, "recipient_gp", r.data, r.size);
    free(b0.data);
    free(b.data);
    free(g.data);
    free(r.data);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--make-corpus"))
        return make_corpus(argv[2]);
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_encfile CORPUS_DIR | --make-corpus DIR\n");
        return 2;
    }
    static const wye_fuzz_verdict verdicts[] = {{"ok_", WYE_OK},
                                                {"format_", WYE_EFORMAT},
                                                {"version_", WYE_EVERSION},
                                                {"truncated_", WYE_ETRUNCATED},
                                                {"corrupt_", WYE_ECORRUPT},
                                                {"recipient_", WYE_ERECIPIENT},
                                                {"untrusted_", WYE_EUNTRUSTED},
                                                {"signature_", WYE_ESIGNATURE}};
    return wye_fuzz_replay(argv[1], 1 << 24, check_one, verdicts,
                           sizeof verdicts / sizeof verdicts[0]);
}
#endif
