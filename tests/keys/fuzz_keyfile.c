/* Fuzz harness for the key-file parsers (protocols/keys.c): party secret
 * files, public files, linkage-secret files and sealed secrets.
 *
 * libFuzzer:  clang -fsanitize=fuzzer,address,undefined -DWYE_LIBFUZZER ...
 * Otherwise:  fuzz_keyfile CORPUS_DIR replays every file of the folder.
 * fuzz_keyfile --make-corpus DIR writes the seeds.
 *
 * Every input is given to all four loaders (secret files go through a 0600
 * temporary file, as the loaders take paths). Invariants: each returns one
 * of its documented codes, and at most one accepts the input: one kind of
 * file is never taken for another. A seed named KIND_VERDICT_* (KIND one of
 * party, public, secret, sealed; VERDICT one of ok, bad, version, recipient,
 * signature, corrupt) must get that verdict from that loader. */
#include <fcntl.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_replay.h"
#include "wyelink/io.h"
#include "wyelink/keys.h"

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "fuzz_keyfile: invariant failed: %s (line %d)\n", #cond, \
                    __LINE__);                                                        \
            abort();                                                                  \
        }                                                                             \
    } while (0)

static char tmpdir[64], input[128];
static wye_party *police, *custodian;

static void write_bytes(const char *path, const void *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
    CHECK(close(fd) == 0);
}

/* The text of a party secret file whose keys are fixed by tag. */
static void fixed_party_text(const char *name, const char *role, uint8_t tag, char *out,
                             size_t n)
{
    uint8_t seed[32], pk[32], sk[64], box[32];
    for (int i = 0; i < 32; i++) {
        seed[i] = (uint8_t)(tag + i);
        box[i] = (uint8_t)((tag ^ 0x5a) + 3 * i);
    }
    crypto_sign_seed_keypair(pk, sk, seed);
    char s64[100], b64[60];
    sodium_bin2base64(s64, sizeof s64, sk, 64, sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(b64, sizeof b64, box, 32, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, n,
             "{\n  \"kind\": \"wyelink-party-secret\",\n  \"version\": 1,\n  \"name\": \"%s\",\n"
             "  \"role\": \"%s\",\n  \"sign_sk\": \"%s\",\n  \"box_sk\": \"%s\"\n}\n",
             name, role, s64, b64);
}

static wye_party *fixed_party(const char *name, const char *role, uint8_t tag)
{
    char text[1024];
    fixed_party_text(name, role, tag, text, sizeof text);
    write_bytes(input, text, strlen(text));
    wye_party *p = NULL;
    CHECK(wye_party_load(input, &p) == WYE_OK);
    return p;
}

#ifdef WYE_LIBFUZZER
/* libFuzzer has no hook for the end of a run, but exits through exit(). */
static void remove_tmpdir(void)
{
    unlink(input);
    rmdir(tmpdir);
}
#endif

static void init(void)
{
    if (police)
        return;
    CHECK(wye_crypto_init() == WYE_OK);
    strcpy(tmpdir, "/tmp/wye_fuzz_keyfile_XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL);
    snprintf(input, sizeof input, "%s/input", tmpdir);
#ifdef WYE_LIBFUZZER
    CHECK(atexit(remove_tmpdir) == 0);
#endif
    police = fixed_party("police", "agency", 2);
    custodian = fixed_party("custodian", "custodian", 10);
}

typedef struct verdicts {
    int party, public, secret, sealed;
} verdicts;

static verdicts check_one(const uint8_t *data, size_t size)
{
    init();
    verdicts v;
    wye_party_public pub;
    v.public = wye_public_parse((const char *)data, size, &pub);
    if (v.public == WYE_OK) {
        CHECK(memchr(pub.name, 0, sizeof pub.name) && memchr(pub.role, 0, sizeof pub.role));
        CHECK(pub.name[0] && pub.role[0]);
    }
    write_bytes(input, data, size);
    wye_party *p = (wye_party *)&p;
    v.party = wye_party_load(input, &p);
    if (v.party == WYE_OK) {
        const wye_party_public *pp = wye_party_public_part(p);
        CHECK(memchr(pp->name, 0, sizeof pp->name) && pp->name[0]);
        /* The loaded keys work: sign and verify. */
        uint8_t sig[64];
        CHECK(crypto_sign_detached(sig, NULL, (const uint8_t *)"x", 1, wye_party_sign_sk(p)) == 0);
        CHECK(crypto_sign_verify_detached(sig, (const uint8_t *)"x", 1, pp->sign_pk) == 0);
        wye_party_free(p);
    } else {
        CHECK(p == NULL);
    }
    wye_secret *s = (wye_secret *)&s;
    v.secret = wye_secret_load(input, &s);
    CHECK((v.secret == WYE_OK) == (s != NULL));
    wye_secret_free(s);
    s = (wye_secret *)&s;
    v.sealed = wye_secret_unseal(input, police, wye_party_public_part(custodian), &s);
    CHECK((v.sealed == WYE_OK) == (s != NULL));
    wye_secret_free(s);

    int codes[4] = {v.party, v.public, v.secret, v.sealed};
    int accepted = 0;
    for (int i = 0; i < 4; i++) {
        CHECK(codes[i] == WYE_OK || codes[i] == WYE_EJSON || codes[i] == WYE_EVERSION ||
              codes[i] == WYE_ENOMEM || (i == 3 && (codes[i] == WYE_ERECIPIENT ||
                                                    codes[i] == WYE_ESIGNATURE ||
                                                    codes[i] == WYE_ECORRUPT)));
        accepted += codes[i] == WYE_OK;
    }
    CHECK(accepted <= 1);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_one(data, size);
    return 0;
}

#ifndef WYE_LIBFUZZER
static void put(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0);
}

static char *slurp(const char *path)
{
    char *t;
    size_t len;
    CHECK(wye_read_file(path, 1 << 16, &t, &len) == WYE_OK);
    return t;
}

/* text with the first occurrence of from replaced by to, into out. */
static void replace(const char *text, const char *from, const char *to, char *out, size_t n)
{
    const char *at = strstr(text, from);
    CHECK(at != NULL);
    snprintf(out, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
}

static int make_corpus(const char *dir)
{
    init();
    char party[1024], buf[4096], path[256], path2[256];
    fixed_party_text("police", "agency", 2, party, sizeof party);
    put(dir, "party_ok_fixed.key", party);
    replace(party, "\"version\": 1", "\"version\": 2", buf, sizeof buf);
    put(dir, "party_version_2.key", buf);
    replace(party, "police", "../police", buf, sizeof buf);
    put(dir, "party_bad_name.key", buf);
    replace(party, "agency", "admin", buf, sizeof buf);
    put(dir, "party_bad_role.key", buf);
    replace(party, "\"kind\"", "\"kind\": \"x\", \"kind\"", buf, sizeof buf);
    put(dir, "party_bad_duplicate.key", buf);
    replace(party, "police", "pol\\u0069ce", buf, sizeof buf);
    put(dir, "party_bad_escape.key", buf);
    replace(party, "\"version\": 1", "\"version\": 01", buf, sizeof buf);
    put(dir, "party_bad_number.key", buf);
    replace(party, "\"sign_sk\": \"", "\"sign_sk\": \"AAAA", buf, sizeof buf);
    put(dir, "party_bad_sign_sk.key", buf);
    /* A signing key whose public half is not its seed's: change one base64
     * character near the end (inside the public half). */
    {
        char *sk = strstr(party, "\"sign_sk\": \"") + 12;
        char *end = strchr(sk, '"');
        snprintf(buf, sizeof buf, "%s", party);
        char *c = buf + (end - party) - 4;
        *c = *c == 'A' ? 'B' : 'A';
        put(dir, "party_bad_mismatched_pk.key", buf);
    }
    snprintf(buf, sizeof buf, "%.*s", (int)(strlen(party) / 2), party);
    put(dir, "party_bad_truncated.key", buf);
    snprintf(buf, sizeof buf, "%s}", party);
    put(dir, "party_bad_trailing.key", buf);
    put(dir, "party_bad_nested.key", "{\"kind\": {\"a\": \"b\"}}");
    put(dir, "party_bad_empty.key", "");

    /* The public file wye_party_save writes for the fixed party. */
    snprintf(path, sizeof path, "%s/p.key", tmpdir);
    snprintf(path2, sizeof path2, "%s/p.pub", tmpdir);
    CHECK(wye_party_save(police, path, path2) == WYE_OK);
    char *pub = slurp(path2);
    put(dir, "public_ok_police.pub", pub);
    replace(pub, "\"version\": 1", "\"version\": 7", buf, sizeof buf);
    put(dir, "public_version_7.pub", buf);
    replace(pub, "\"box_pk\"", "\"box_pk_\"", buf, sizeof buf);
    put(dir, "public_bad_missing_box_pk.pub", buf);
    replace(pub, "wyelink-party-public", "wyelink-party-secret", buf, sizeof buf);
    put(dir, "public_bad_kind.pub", buf);
    free(pub);
    unlink(path);
    unlink(path2);

    char secret[512];
    uint8_t k[32];
    for (int i = 0; i < 32; i++)
        k[i] = (uint8_t)i;
    char k64[60];
    sodium_bin2base64(k64, sizeof k64, k, 32, sodium_base64_VARIANT_ORIGINAL);
    snprintf(secret, sizeof secret,
             "{\n  \"kind\": \"wyelink-linkage-secret\",\n  \"version\": 1,\n"
             "  \"key_id\": \"0b9b996efd5817a9\",\n  \"secret\": \"%s\"\n}\n",
             k64);
    put(dir, "secret_ok_fixed.secret", secret);
    replace(secret, "0b9b996efd5817a9", "0b9b996efd5817a8", buf, sizeof buf);
    put(dir, "secret_bad_key_id.secret", buf);
    replace(secret, "\"version\": 1", "\"version\": 2", buf, sizeof buf);
    put(dir, "secret_version_2.secret", buf);
    replace(secret, "linkage-secret", "party-secret", buf, sizeof buf);
    put(dir, "secret_bad_kind.secret", buf);

    /* Sealed secrets: to the police, to someone else, by another custodian. */
    write_bytes(input, secret, strlen(secret));
    wye_secret *s;
    CHECK(wye_secret_load(input, &s) == WYE_OK);
    wye_party *gp, *other;
    CHECK(wye_party_create("gp", "agency", &gp) == WYE_OK);
    CHECK(wye_party_create("custodian", "custodian", &other) == WYE_OK);
    snprintf(path, sizeof path, "%s/s1", tmpdir);
    CHECK(wye_secret_seal(s, custodian, wye_party_public_part(police), path) == WYE_OK);
    char *sealed = slurp(path);
    unlink(path);
    put(dir, "sealed_ok_police.sealed", sealed);
    replace(sealed, "\"version\": 1", "\"version\": 3", buf, sizeof buf);
    put(dir, "sealed_version_3.sealed", buf);
    {
        char *b = strstr(sealed, "\"sealed\": \"") + 11;
        snprintf(buf, sizeof buf, "%s", sealed);
        char *c = buf + (b - sealed) + 20;
        *c = *c == 'A' ? 'B' : 'A';
        put(dir, "sealed_corrupt_blob.sealed", buf);
    }
    CHECK(wye_secret_seal(s, custodian, wye_party_public_part(gp), path) == WYE_OK);
    char *t = slurp(path);
    unlink(path);
    put(dir, "sealed_recipient_gp.sealed", t);
    free(t);
    CHECK(wye_secret_seal(s, other, wye_party_public_part(police), path) == WYE_OK);
    t = slurp(path);
    unlink(path);
    put(dir, "sealed_signature_other_custodian.sealed", t);
    free(t);
    free(sealed);
    wye_secret_free(s);
    wye_party_free(gp);
    wye_party_free(other);
    return 0;
}

static int code_of(const char *verdict)
{
    static const struct {
        const char *name;
        int code;
    } v[] = {{"ok_", WYE_OK},
             {"bad_", WYE_EJSON},
             {"version_", WYE_EVERSION},
             {"recipient_", WYE_ERECIPIENT},
             {"signature_", WYE_ESIGNATURE},
             {"corrupt_", WYE_ECORRUPT}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (!strncmp(verdict, v[i].name, strlen(v[i].name)))
            return v[i].code;
    return 1;
}

/* A seed named KIND_VERDICT_*: that loader's verdict. */
static int judge(const char *name, const uint8_t *data, size_t len)
{
    verdicts v = check_one(data, len);
    const char *us = strchr(name, '_');
    int want = us ? code_of(us + 1) : 1;
    int got = !strncmp(name, "party_", 6)    ? v.party
              : !strncmp(name, "public_", 7) ? v.public
              : !strncmp(name, "secret_", 7) ? v.secret
              : !strncmp(name, "sealed_", 7) ? v.sealed
                                             : 1;
    if (want != 1 && got != 1 && got != want) {
        fprintf(stderr, "%s: got %d (%s), want %d\n", name, got, wye_strerror(got), want);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int status = 0;
    if (argc == 3 && !strcmp(argv[1], "--make-corpus")) {
        status = make_corpus(argv[2]);
    } else if (argc != 2) {
        fprintf(stderr, "usage: fuzz_keyfile CORPUS_DIR | --make-corpus DIR\n");
        return 2;
    } else {
        status = wye_fuzz_replay_judged(argv[1], 1 << 20, judge);
    }
    unlink(input);
    rmdir(tmpdir);
    return status;
}
#endif
