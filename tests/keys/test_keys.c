/* protocols/keys.c and `wyelink keys`: known answers, round trips, the
 * permission check, refusals, and that no secret leaves its own file. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wyelink/io.h"
#include "wyelink/keys.h"

static char dir[64];

static void setup(void)
{
    strcpy(dir, "/tmp/wye_test_keys_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(wye_crypto_init(), WYE_OK);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(keys, .init = setup, .fini = teardown);

static const char *path(const char *name)
{
    static char buf[4][256];
    static int i;
    i = (i + 1) % 4;
    int w = snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    cr_assert(w > 0 && w < (int)sizeof buf[i]);
    return buf[i];
}

static void write_file(const char *p, const char *text, mode_t mode)
{
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    cr_assert_eq(chmod(p, mode), 0);
}

static char *b64(const uint8_t *in, size_t n)
{
    size_t need = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(need);
    sodium_bin2base64(s, need, in, n, sodium_base64_VARIANT_ORIGINAL);
    return s;
}

static void hex_eq(const uint8_t *got, size_t n, const char *want)
{
    char h[129];
    wye_hex(got, n, h);
    cr_assert_str_eq(h, want);
}

/* A linkage-secret file holding 00 01 .. 1f. */
static const char *fixed_secret_file(void)
{
    uint8_t k[32];
    for (int i = 0; i < 32; i++)
        k[i] = (uint8_t)i;
    char *s = b64(k, 32), text[512];
    snprintf(text, sizeof text,
             "{\"kind\": \"wyelink-linkage-secret\", \"version\": 1, "
             "\"key_id\": \"0b9b996efd5817a9\", \"secret\": \"%s\"}\n",
             s);
    free(s);
    const char *p = path("fixed.secret");
    write_file(p, text, 0600);
    return p;
}

/* A party secret file whose Ed25519 seed is 00 01 .. 1f. */
static const char *fixed_party_file(const char *name, const char *sign_sk_b64_override)
{
    uint8_t seed[32], pk[32], sk[64], box[32];
    for (int i = 0; i < 32; i++) {
        seed[i] = (uint8_t)i;
        box[i] = (uint8_t)(0x40 + i);
    }
    crypto_sign_seed_keypair(pk, sk, seed);
    char *s = b64(sk, 64), *b = b64(box, 32), text[1024];
    snprintf(text, sizeof text,
             "{\"kind\":\"wyelink-party-secret\",\"version\":1,\"name\":\"%s\","
             "\"role\":\"agency\",\"sign_sk\":\"%s\",\"box_sk\":\"%s\"}",
             name, sign_sk_b64_override ? sign_sk_b64_override : s, b);
    free(s);
    free(b);
    const char *p = path("fixed.key");
    unlink(p);
    write_file(p, text, 0600);
    return p;
}

/* ---- known answers ------------------------------------------------------ */
/* Values computed independently with Python's hashlib.blake2b from the
 * definitions in KEYS.md (crypto_kdf is BLAKE2b with the subkey id as salt
 * and the context as personalisation). They must never change. */

Test(keys, key_id_and_field_keys_known_answers)
{
    wye_secret *s;
    cr_assert_eq(wye_secret_load(fixed_secret_file(), &s), WYE_OK);
    uint8_t id[WYE_KEY_ID_BYTES], k[32];
    wye_secret_key_id(s, id);
    hex_eq(id, sizeof id, "0b9b996efd5817a9");
    cr_assert_eq(wye_secret_derive(s, 1, k), WYE_OK);
    hex_eq(k, 32, "a9cf6811d408dc7ae70b1dcb35673fc3d1e769f866ba5ea6fcf93df441b308f1");
    cr_assert_eq(wye_secret_derive(s, WYE_KDF_DIGEST, k), WYE_OK);
    hex_eq(k, 32, "015e8f524a9a8fcc16f4d3b66a7b7a082b1148495cada14fc9974551341beb3b");
    wye_secret_free(s);
}

Test(keys, pseudonym_known_answers)
{
    wye_party *p;
    cr_assert_eq(wye_party_load(fixed_party_file("police", NULL), &p), WYE_OK);
    uint8_t key[32], ps[WYE_PSEUDONYM_BYTES];
    cr_assert_eq(wye_pseudonym_key(p, key), WYE_OK);
    hex_eq(key, 32, "b40079b87a86210f41dd978ddc2c8a584d4417c1ab875a2810b74e7b81e9e88c");
    wye_pseudonym(key, "12345", 5, ps);
    hex_eq(ps, sizeof ps, "17bd851e3d69bbd0338ded84b657ef18");
    /* Stable, and different for another local id. */
    uint8_t ps2[WYE_PSEUDONYM_BYTES];
    wye_pseudonym(key, "12346", 5, ps2);
    cr_assert_neq(memcmp(ps, ps2, sizeof ps), 0);
    wye_party_free(p);
}

Test(keys, public_key_id_is_blake2b_prefix)
{
    wye_party *p;
    cr_assert_eq(wye_party_load(fixed_party_file("police", NULL), &p), WYE_OK);
    uint8_t h[32];
    crypto_generichash(h, 32, wye_party_public_part(p)->sign_pk, 32, NULL, 0);
    char want[17], got[17];
    wye_hex(h, 8, want);
    wye_public_key_id(wye_party_public_part(p), got);
    cr_assert_str_eq(got, want);
    wye_party_free(p);
}

/* ---- round trips -------------------------------------------------------- */

Test(keys, party_round_trip_and_modes)
{
    wye_party *p, *q;
    cr_assert_eq(wye_party_create("gp-practice_1", "agency", &p), WYE_OK);
    cr_assert_eq(wye_party_save(p, path("gp.key"), path("gp.pub")), WYE_OK);
    struct stat st;
    cr_assert_eq(stat(path("gp.key"), &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(stat(path("gp.pub"), &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0644);
    cr_assert_eq(wye_party_load(path("gp.key"), &q), WYE_OK);
    cr_assert_eq(memcmp(wye_party_public_part(p), wye_party_public_part(q),
                        sizeof(wye_party_public)), 0);
    cr_assert_eq(memcmp(wye_party_sign_sk(p), wye_party_sign_sk(q), WYE_SIGN_SK_BYTES), 0);
    cr_assert_eq(memcmp(wye_party_box_sk(p), wye_party_box_sk(q), WYE_BOX_SK_BYTES), 0);
    wye_party_public pub;
    cr_assert_eq(wye_public_load(path("gp.pub"), &pub), WYE_OK);
    cr_assert_eq(memcmp(&pub, wye_party_public_part(p), sizeof pub), 0);
    cr_assert_str_eq(pub.role, "agency");
    /* Never overwritten. */
    cr_assert_eq(wye_party_save(q, path("gp.key"), path("other.pub")), WYE_EEXIST);
    cr_assert_eq(access(path("other.pub"), F_OK), -1);
    wye_party_free(p);
    wye_party_free(q);
}

Test(keys, bad_names_and_roles)
{
    wye_party *p = (wye_party *)1;
    cr_assert_eq(wye_party_create("a b", "agency", &p), WYE_EINVAL);
    cr_assert_null(p);
    cr_assert_eq(wye_party_create("../x", "agency", &p), WYE_EINVAL);
    cr_assert_eq(wye_party_create(".hidden", "agency", &p), WYE_EINVAL);
    cr_assert_eq(wye_party_create("", "agency", &p), WYE_EINVAL);
    cr_assert_eq(wye_party_create("police", "admin", &p), WYE_EINVAL);
    char longname[70];
    memset(longname, 'a', 64);
    longname[64] = 0;
    cr_assert_eq(wye_party_create(longname, "agency", &p), WYE_EINVAL);
    longname[63] = 0;
    cr_assert_eq(wye_party_create(longname, "custodian", &p), WYE_OK);
    wye_party_free(p);
}

Test(keys, secret_round_trip)
{
    wye_secret *s, *t;
    cr_assert_eq(wye_secret_create(&s), WYE_OK);
    cr_assert_eq(wye_secret_save(s, path("l.secret")), WYE_OK);
    struct stat st;
    cr_assert_eq(stat(path("l.secret"), &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(wye_secret_save(s, path("l.secret")), WYE_EEXIST);
    cr_assert_eq(wye_secret_load(path("l.secret"), &t), WYE_OK);
    uint8_t a[32], b[32], ia[8], ib[8];
    wye_secret_key_id(s, ia);
    wye_secret_key_id(t, ib);
    cr_assert_eq(memcmp(ia, ib, 8), 0);
    cr_assert_eq(wye_secret_derive(s, 7, a), WYE_OK);
    cr_assert_eq(wye_secret_derive(t, 7, b), WYE_OK);
    cr_assert_eq(memcmp(a, b, 32), 0);
    cr_assert_eq(wye_secret_derive(t, 8, b), WYE_OK);
    cr_assert_neq(memcmp(a, b, 32), 0);
    wye_secret_free(s);
    wye_secret_free(t);
}

Test(keys, secret_from_standard_input)
{
    const char *p = fixed_secret_file();
    int saved = dup(0);
    int fd = open(p, O_RDONLY);
    cr_assert_geq(fd, 0);
    dup2(fd, 0);
    close(fd);
    wye_secret *s = NULL;
    int rc = wye_secret_load("-", &s);
    dup2(saved, 0);
    close(saved);
    cr_assert_eq(rc, WYE_OK);
    uint8_t id[8];
    wye_secret_key_id(s, id);
    hex_eq(id, 8, "0b9b996efd5817a9");
    wye_secret_free(s);
}

typedef struct sealed_world {
    wye_party *custodian, *police, *gp;
    wye_secret *secret;
} sealed_world;

static sealed_world make_world(void)
{
    sealed_world w;
    cr_assert_eq(wye_party_create("custodian", "custodian", &w.custodian), WYE_OK);
    cr_assert_eq(wye_party_create("police", "agency", &w.police), WYE_OK);
    cr_assert_eq(wye_party_create("gp", "agency", &w.gp), WYE_OK);
    cr_assert_eq(wye_secret_create(&w.secret), WYE_OK);
    cr_assert_eq(wye_secret_seal(w.secret, w.custodian, wye_party_public_part(w.police),
                                 path("police.sealed")),
                 WYE_OK);
    return w;
}

static void free_world(sealed_world *w)
{
    wye_party_free(w->custodian);
    wye_party_free(w->police);
    wye_party_free(w->gp);
    wye_secret_free(w->secret);
}

Test(keys, sealed_round_trip)
{
    sealed_world w = make_world();
    wye_secret *o;
    cr_assert_eq(wye_secret_unseal(path("police.sealed"), w.police,
                                   wye_party_public_part(w.custodian), &o),
                 WYE_OK);
    uint8_t a[32], b[32];
    cr_assert_eq(wye_secret_derive(w.secret, 1, a), WYE_OK);
    cr_assert_eq(wye_secret_derive(o, 1, b), WYE_OK);
    cr_assert_eq(memcmp(a, b, 32), 0);
    wye_secret_free(o);
    free_world(&w);
}

Test(keys, sealed_to_someone_else)
{
    sealed_world w = make_world();
    wye_secret *o = (wye_secret *)1;
    cr_assert_eq(wye_secret_unseal(path("police.sealed"), w.gp,
                                   wye_party_public_part(w.custodian), &o),
                 WYE_ERECIPIENT);
    cr_assert_null(o);
    free_world(&w);
}

Test(keys, sealed_by_another_custodian)
{
    sealed_world w = make_world();
    wye_party *other;
    cr_assert_eq(wye_party_create("custodian", "custodian", &other), WYE_OK);
    wye_secret *o;
    cr_assert_eq(wye_secret_unseal(path("police.sealed"), w.police,
                                   wye_party_public_part(other), &o),
                 WYE_ESIGNATURE);
    wye_party_free(other);
    free_world(&w);
}

/* Replace the value of "member" in a JSON file's text. */
static void edit_member(const char *p, const char *member, const char *value)
{
    char *text;
    size_t len;
    cr_assert_eq(wye_read_file(p, 1 << 16, &text, &len), WYE_OK);
    char key[64];
    snprintf(key, sizeof key, "\"%s\": \"", member);
    char *at = strstr(text, key);
    cr_assert_not_null(at, "member %s", member);
    at += strlen(key);
    char *end = strchr(at, '"');
    FILE *f = fopen(p, "wb");
    fwrite(text, 1, (size_t)(at - text), f);
    fputs(value, f);
    fputs(end, f);
    fclose(f);
    free(text);
}

Test(keys, sealed_altered)
{
    sealed_world w = make_world();
    /* A sealed blob made for someone else, pasted into the police's file. */
    cr_assert_eq(wye_secret_seal(w.secret, w.custodian, wye_party_public_part(w.gp),
                                 path("gp.sealed")),
                 WYE_OK);
    char *text;
    size_t len;
    cr_assert_eq(wye_read_file(path("gp.sealed"), 1 << 16, &text, &len), WYE_OK);
    char *s = strstr(text, "\"sealed\": \"") + 11;
    *strchr(s, '"') = 0;
    edit_member(path("police.sealed"), "sealed", s);
    free(text);
    wye_secret *o;
    cr_assert_eq(wye_secret_unseal(path("police.sealed"), w.police,
                                   wye_party_public_part(w.custodian), &o),
                 WYE_ECORRUPT);
    free_world(&w);
}

Test(keys, sealed_re_sealed_by_its_recipient_is_refused)
{
    /* The gp opens its secret and seals it to the police with its own key,
     * under the custodian's name: the signature is the custodian's over the
     * gp's box key, so it fails. Built by hand from KEYS.md. */
    sealed_world w = make_world();
    uint8_t plain[96], sealed[144];
    /* a genuine custodian signature, but for the gp */
    cr_assert_eq(wye_secret_seal(w.secret, w.custodian, wye_party_public_part(w.gp),
                                 path("gp.sealed")),
                 WYE_OK);
    char *text;
    size_t len;
    cr_assert_eq(wye_read_file(path("gp.sealed"), 1 << 16, &text, &len), WYE_OK);
    char *s = strstr(text, "\"sealed\": \"") + 11;
    *strchr(s, '"') = 0;
    uint8_t ct[144];
    size_t got;
    cr_assert_eq(sodium_base642bin(ct, sizeof ct, s, strlen(s), NULL, &got, NULL,
                                   sodium_base64_VARIANT_ORIGINAL), 0);
    free(text);
    cr_assert_eq(crypto_box_seal_open(plain, ct, sizeof ct, wye_party_public_part(w.gp)->box_pk,
                                      wye_party_box_sk(w.gp)), 0);
    cr_assert_eq(crypto_box_seal(sealed, plain, sizeof plain,
                                 wye_party_public_part(w.police)->box_pk), 0);
    char *b = malloc(sodium_base64_ENCODED_LEN(144, sodium_base64_VARIANT_ORIGINAL));
    sodium_bin2base64(b, sodium_base64_ENCODED_LEN(144, sodium_base64_VARIANT_ORIGINAL), sealed,
                      144, sodium_base64_VARIANT_ORIGINAL);
    edit_member(path("police.sealed"), "sealed", b);
    free(b);
    wye_secret *o;
    cr_assert_eq(wye_secret_unseal(path("police.sealed"), w.police,
                                   wye_party_public_part(w.custodian), &o),
                 WYE_ESIGNATURE);
    free_world(&w);
}

/* ---- refusals ----------------------------------------------------------- */

Test(keys, permission_check)
{
    wye_party *p, *q = (wye_party *)1;
    cr_assert_eq(wye_party_create("police", "agency", &p), WYE_OK);
    cr_assert_eq(wye_party_save(p, path("p.key"), path("p.pub")), WYE_OK);
    cr_assert_eq(chmod(path("p.key"), 0640), 0);
    cr_assert_eq(wye_party_load(path("p.key"), &q), WYE_EPERM);
    cr_assert_null(q);
    cr_assert_eq(chmod(path("p.key"), 0604), 0);
    cr_assert_eq(wye_party_load(path("p.key"), &q), WYE_EPERM);
    cr_assert_eq(chmod(path("p.key"), 0400), 0);
    cr_assert_eq(wye_party_load(path("p.key"), &q), WYE_OK);
    wye_party_free(q);
    wye_party_free(p);

    const char *s = fixed_secret_file();
    wye_secret *t = (wye_secret *)1;
    cr_assert_eq(chmod(s, 0640), 0);
    cr_assert_eq(wye_secret_load(s, &t), WYE_EPERM);
    cr_assert_null(t);
    cr_assert_eq(chmod(s, 0620), 0);
    cr_assert_eq(wye_secret_load(s, &t), WYE_EPERM);
}

Test(keys, missing_file)
{
    wye_party *p;
    wye_secret *s;
    wye_party_public pub;
    cr_assert_eq(wye_party_load(path("nope.key"), &p), WYE_ENOTFOUND);
    cr_assert_eq(wye_secret_load(path("nope.secret"), &s), WYE_ENOTFOUND);
    cr_assert_eq(wye_public_load(path("nope.pub"), &pub), WYE_ENOTFOUND);
}

Test(keys, one_kind_never_taken_for_another)
{
    wye_party *p;
    cr_assert_eq(wye_party_create("police", "agency", &p), WYE_OK);
    cr_assert_eq(wye_party_save(p, path("p.key"), path("p.pub")), WYE_OK);
    wye_secret *s;
    wye_party *q;
    wye_party_public pub;
    cr_assert_eq(wye_secret_load(path("p.key"), &s), WYE_EJSON);
    cr_assert_eq(wye_party_load(fixed_secret_file(), &q), WYE_EJSON);
    cr_assert_eq(wye_public_load(path("p.key"), &pub), WYE_EJSON);
    cr_assert_eq(chmod(path("p.pub"), 0600), 0);
    cr_assert_eq(wye_party_load(path("p.pub"), &q), WYE_EJSON);
    wye_party_free(p);
}

Test(keys, unknown_key_file_version)
{
    write_file(path("v2.secret"),
               "{\"kind\": \"wyelink-linkage-secret\", \"version\": 2, \"key_id\": \"00\", "
               "\"secret\": \"AA==\"}",
               0600);
    wye_secret *s;
    cr_assert_eq(wye_secret_load(path("v2.secret"), &s), WYE_EVERSION);
    wye_party_public pub;
    const char *v2 = "{\"kind\":\"wyelink-party-public\",\"version\":2}";
    cr_assert_eq(wye_public_parse(v2, strlen(v2), &pub), WYE_EVERSION);
}

Test(keys, edited_secret_files_refused)
{
    /* Stored key id not the secret's. */
    const char *p = fixed_secret_file();
    edit_member(p, "key_id", "0b9b996efd5817a8");
    wye_secret *s;
    cr_assert_eq(wye_secret_load(p, &s), WYE_EJSON);
    /* A signing key whose public half is not its seed's. */
    uint8_t bad[64] = {1};
    char *b = b64(bad, 64);
    wye_party *q;
    cr_assert_eq(wye_party_load(fixed_party_file("police", b), &q), WYE_EJSON);
    free(b);
    /* Short base64. */
    cr_assert_eq(wye_party_load(fixed_party_file("police", "AAAA"), &q), WYE_EJSON);
    /* A bad name. */
    cr_assert_eq(wye_party_load(fixed_party_file("../police", NULL), &q), WYE_EJSON);
}

Test(keys, trust_folder)
{
    mkdir(path("trust"), 0700);
    const char *names[] = {"police", "gp", "asc"};
    wye_party *p[3];
    char k[64], pub[64];
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(wye_party_create(names[i], "agency", &p[i]), WYE_OK);
        snprintf(k, sizeof k, "trust/%s.key", names[i]);
        snprintf(pub, sizeof pub, "trust/%s.pub", names[i]);
        cr_assert_eq(wye_party_save(p[i], path(k), path(pub)), WYE_OK);
    }
    write_file(path("trust/README"), "not a key\n", 0644);
    wye_trust *t;
    cr_assert_eq(wye_trust_load_dir(path("trust"), &t), WYE_OK);
    for (int i = 0; i < 3; i++) {
        const wye_party_public *f = wye_trust_find(t, wye_party_public_part(p[i])->sign_pk);
        cr_assert_not_null(f);
        cr_assert_str_eq(f->name, names[i]);
    }
    uint8_t other[32] = {0};
    cr_assert_null(wye_trust_find(t, other));
    wye_trust_free(t);
    /* A .pub that does not parse fails the whole folder: nothing is skipped. */
    write_file(path("trust/broken.pub"), "{}", 0644);
    cr_assert_eq(wye_trust_load_dir(path("trust"), &t), WYE_EJSON);
    cr_assert_eq(wye_trust_load_dir(path("no-such-folder"), &t), WYE_ENOTFOUND);
    for (int i = 0; i < 3; i++)
        wye_party_free(p[i]);
}

/* A bad .pub is named: the file, not the folder (the message of `link`). */
Test(keys, trust_folder_names_the_bad_file)
{
    mkdir(path("trust"), 0700);
    wye_party *gp;
    cr_assert_eq(wye_party_create("gp", "agency", &gp), WYE_OK);
    cr_assert_eq(wye_party_save(gp, path("gp.key"), path("trust/gp.pub")), WYE_OK);
    write_file(path("trust/zz-broken.pub"), "{\"kind\": \"wyelink-party-public\"}", 0644);
    wye_trust *t = (wye_trust *)1;
    wye_diag d;
    cr_assert_eq(wye_trust_load(path("trust"), &t, &d), WYE_EJSON);
    cr_assert_null(t);
    cr_assert_str_eq(d.field, "file");
    cr_assert(strstr(d.reason, "'zz-broken.pub'"), "%s", d.reason);
    cr_assert_null(strstr(d.reason, "gp.pub"), "%s", d.reason);
    wye_party_free(gp);
}

/* Two different keys under one party name: the second is a look-alike and
 * the folder is refused, both files named; the same key twice is one party. */
Test(keys, trust_folder_refuses_two_keys_under_one_name)
{
    mkdir(path("trust"), 0700);
    wye_party *gp, *fake;
    cr_assert_eq(wye_party_create("gp", "agency", &gp), WYE_OK);
    cr_assert_eq(wye_party_create("gp", "agency", &fake), WYE_OK);
    cr_assert_eq(wye_party_save(gp, path("gp.key"), path("trust/gp.pub")), WYE_OK);
    cr_assert_eq(wye_party_save(gp, path("gp2.key"), path("trust/gp-copy.pub")), WYE_OK);
    wye_trust *t;
    wye_diag d;
    cr_assert_eq(wye_trust_load(path("trust"), &t, &d), WYE_OK);
    wye_trust_free(t);
    cr_assert_eq(wye_party_save(fake, path("fake.key"), path("trust/new-gp.pub")), WYE_OK);
    cr_assert_eq(wye_trust_load(path("trust"), &t, &d), WYE_EDUPLICATE);
    cr_assert_null(t);
    cr_assert(strstr(d.reason, "'gp-copy.pub'") && strstr(d.reason, "'new-gp.pub'") &&
                  strstr(d.reason, "'gp'"),
              "%s", d.reason);
    cr_assert_eq(wye_trust_load_dir(path("trust"), &t), WYE_EDUPLICATE);
    /* and in a set built by hand */
    cr_assert_eq(wye_trust_new(&t), WYE_OK);
    cr_assert_eq(wye_trust_add(t, wye_party_public_part(gp)), WYE_OK);
    cr_assert_eq(wye_trust_add(t, wye_party_public_part(gp)), WYE_OK);
    cr_assert_eq(wye_trust_add(t, wye_party_public_part(fake)), WYE_EDUPLICATE);
    cr_assert_null(wye_trust_find(t, wye_party_public_part(fake)->sign_pk));
    wye_trust_free(t);
    wye_party_free(gp);
    wye_party_free(fake);
}

/* ---- the command -------------------------------------------------------- */

/* Run `wyelink ARGS` with stdout and stderr appended to files in dir (so the
 * leak search below reads them too); returns the exit status. */
static int wyelink(const char *args)
{
    const char *exe = getenv("WYELINK");
    cr_assert_not_null(exe, "WYELINK is not set");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s >>cli.stdout 2>>cli.stderr", dir, exe, args);
    int st = system(cmd);
    cr_assert(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static char *read_text(const char *name)
{
    char *t;
    size_t len;
    cr_assert_eq(wye_read_file(path(name), 1 << 22, &t, &len), WYE_OK, "%s", name);
    return t;
}

/* The full key-distribution dance through the command, as the parties would
 * run it, each party with its own audit log. */
static void dance(void)
{
    const char *parties[][2] = {{"custodian", "custodian"},
                                {"police", "agency"},
                                {"gp", "agency"},
                                {"lu", "linkage-unit"}};
    char args[1024];
    for (int i = 0; i < 4; i++) {
        snprintf(args, sizeof args, "keys create --name %s --role %s --out %s --audit-log %s/audit.log",
                 parties[i][0], parties[i][1], parties[i][0], parties[i][0]);
        cr_assert_eq(wyelink(args), 0, "%s", args);
    }
    cr_assert_eq(wyelink("keys secret --out custodian/linkage.secret --key custodian/custodian.key"
                         " --audit-log custodian/audit.log"),
                 0);
    const char *agencies[] = {"police", "gp"};
    for (int i = 0; i < 2; i++) {
        snprintf(args, sizeof args,
                 "keys seal --secret custodian/linkage.secret --custodian-key "
                 "custodian/custodian.key --to %s/%s.pub --out %s/linkage.sealed "
                 "--audit-log custodian/audit.log",
                 agencies[i], agencies[i], agencies[i]);
        cr_assert_eq(wyelink(args), 0, "%s", args);
        snprintf(args, sizeof args,
                 "keys open --sealed %s/linkage.sealed --key %s/%s.key --custodian "
                 "custodian/custodian.pub --out %s/linkage.secret --audit-log %s/audit.log",
                 agencies[i], agencies[i], agencies[i], agencies[i], agencies[i]);
        cr_assert_eq(wyelink(args), 0, "%s", args);
    }
    const char *shown[] = {"custodian/custodian.key", "custodian/custodian.pub",
                           "custodian/linkage.secret", "police/linkage.sealed",
                           "police/linkage.secret", "gp/gp.key", "lu/lu.key"};
    for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++) {
        snprintf(args, sizeof args, "keys show %s", shown[i]);
        cr_assert_eq(wyelink(args), 0, "%s", args);
    }
}

Test(keys, command_distributes_the_secret)
{
    dance();
    wye_secret *c, *p, *g;
    cr_assert_eq(wye_secret_load(path("custodian/linkage.secret"), &c), WYE_OK);
    cr_assert_eq(wye_secret_load(path("police/linkage.secret"), &p), WYE_OK);
    cr_assert_eq(wye_secret_load(path("gp/linkage.secret"), &g), WYE_OK);
    uint8_t a[32], b[32];
    wye_secret_derive(c, 5, a);
    wye_secret_derive(p, 5, b);
    cr_assert_eq(memcmp(a, b, 32), 0);
    wye_secret_derive(g, 5, b);
    cr_assert_eq(memcmp(a, b, 32), 0);
    struct stat st;
    cr_assert_eq(stat(path("police/linkage.secret"), &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(stat(path("police/police.key"), &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    /* Every party's run was audited in its own log. */
    const char *logs[] = {"custodian/audit.log", "police/audit.log", "gp/audit.log",
                          "lu/audit.log"};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(stat(path(logs[i]), &st), 0, "%s", logs[i]);
        cr_assert_gt(st.st_size, 0);
    }
    char *out = read_text("cli.stdout");
    uint8_t id[8];
    char hex[17];
    wye_secret_key_id(c, id);
    wye_hex(id, 8, hex);
    cr_assert_not_null(strstr(out, hex), "the key id is shown");
    cr_assert_not_null(strstr(out, "sealed linkage secret"));
    free(out);
    wye_secret_free(c);
    wye_secret_free(p);
    wye_secret_free(g);
}

/* Does the file hold needle (n bytes)? */
static int contains(const char *file, const uint8_t *needle, size_t n)
{
    char *t;
    size_t len;
    cr_assert_eq(wye_read_file(file, 1 << 24, &t, &len), WYE_OK, "%s", file);
    int found = 0;
    for (size_t i = 0; !found && n <= len && i <= len - n; i++)
        found = memcmp(t + i, needle, n) == 0;
    free(t);
    return found;
}

typedef struct secret_form {
    const char *what;
    uint8_t bytes[128];
    size_t n;
    const char *own[3]; /* the files allowed to hold it */
} secret_form;

static void add_forms(secret_form *f, size_t *nf, const char *what, const uint8_t *raw, size_t n,
                      const char *own0, const char *own1, const char *own2)
{
    char b[200], h[200];
    sodium_bin2base64(b, sizeof b, raw, n, sodium_base64_VARIANT_ORIGINAL);
    wye_hex(raw, n, h);
    /* raw; base64 without its padding; hex; and the raw first half, which
     * catches a partial copy. */
    const uint8_t *forms[] = {raw, (const uint8_t *)b, (const uint8_t *)h, raw};
    size_t lens[] = {n, strcspn(b, "="), 2 * n, n / 2};
    for (int i = 0; i < 4; i++) {
        secret_form *s = &f[(*nf)++];
        s->what = what;
        memcpy(s->bytes, forms[i], lens[i]);
        s->n = lens[i];
        s->own[0] = own0;
        s->own[1] = own1;
        s->own[2] = own2;
    }
}

static void walk(const char *rel, char files[][256], size_t *n)
{
    char full[512];
    snprintf(full, sizeof full, "%s/%s", dir, rel);
    DIR *d = opendir(full);
    cr_assert_not_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char r[256], p[768];
        int w = snprintf(r, sizeof r, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        cr_assert(w > 0 && w < (int)sizeof r);
        snprintf(p, sizeof p, "%s/%s", dir, r);
        struct stat st;
        cr_assert_eq(lstat(p, &st), 0);
        if (S_ISDIR(st.st_mode))
            walk(r, files, n);
        else if (*n < 64)
            memcpy(files[(*n)++], r, sizeof r);
        else
            cr_assert_fail("more files than expected");
    }
    closedir(d);
}

Test(keys, no_secret_in_any_other_file)
{
    dance();
    static secret_form forms[64];
    size_t nf = 0;
    const char *parties[] = {"custodian", "police", "gp", "lu"};
    for (int i = 0; i < 4; i++) {
        char key[64];
        snprintf(key, sizeof key, "%s/%s.key", parties[i], parties[i]);
        wye_party *p;
        cr_assert_eq(wye_party_load(path(key), &p), WYE_OK);
        /* the seed (the Ed25519 secret proper) and the X25519 secret key */
        add_forms(forms, &nf, key, wye_party_sign_sk(p), 32, strdup(key), NULL, NULL);
        add_forms(forms, &nf, key, wye_party_box_sk(p), 32, strdup(key), NULL, NULL);
        wye_party_free(p);
    }
    wye_secret *s;
    cr_assert_eq(wye_secret_load(path("custodian/linkage.secret"), &s), WYE_OK);
    /* The raw secret is not reachable through the API (only derived keys),
     * so read it back from the file's base64. */
    char *text = read_text("custodian/linkage.secret");
    char *b = strstr(text, "\"secret\": \"") + 11;
    *strchr(b, '"') = 0;
    uint8_t raw[32];
    size_t got;
    cr_assert_eq(sodium_base642bin(raw, 32, b, strlen(b), NULL, &got, NULL,
                                   sodium_base64_VARIANT_ORIGINAL), 0);
    free(text);
    add_forms(forms, &nf, "linkage secret", raw, 32, "custodian/linkage.secret",
              "police/linkage.secret", "gp/linkage.secret");
    wye_secret_free(s);

    static char files[64][256];
    size_t n = 0;
    walk("", files, &n);
    cr_assert_geq(n, 16, "every output was written (%zu files)", n);
    for (size_t f = 0; f < n; f++) {
        for (size_t i = 0; i < nf; i++) {
            int own = 0;
            for (int k = 0; k < 3; k++)
                own |= forms[i].own[k] && !strcmp(forms[i].own[k], files[f]);
            if (!own)
                cr_assert(!contains(path(files[f]), forms[i].bytes, forms[i].n),
                          "%s holds a form of the secret of %s", files[f], forms[i].what);
        }
    }
}

Test(keys, command_refusals)
{
    dance();
    /* Misuse: exit 2. */
    cr_assert_eq(wyelink("keys"), 2);
    cr_assert_eq(wyelink("keys nosuch"), 2);
    cr_assert_eq(wyelink("keys --no-such-option"), 2);
    cr_assert_eq(wyelink("keys create --name 'a b' --role agency --out x"), 2);
    cr_assert_eq(wyelink("keys create --name x --role admin --out x"), 2);
    cr_assert_eq(wyelink("keys create --name x --out x"), 2);
    cr_assert_eq(wyelink("keys seal --secret - --custodian-key - --to police/police.pub --out y"),
                 2);
    cr_assert_eq(wyelink("keys show"), 2);
    /* Failures: exit 1. */
    cr_assert_eq(wyelink("keys create --name police --role agency --out police"), 1,
                 "never overwritten");
    cr_assert_eq(wyelink("keys open --sealed police/linkage.sealed --key lu/lu.key --custodian "
                         "custodian/custodian.pub --out lu/linkage.secret --audit-log lu/audit.log"),
                 1, "the linkage unit never opens the secret");
    cr_assert_eq(wyelink("keys open --sealed police/linkage.sealed --key gp/gp.key --custodian "
                         "custodian/custodian.pub --out gp/x.secret --audit-log gp/audit.log"),
                 1, "sealed to the police, not the gp");
    cr_assert_eq(wyelink("keys seal --secret custodian/linkage.secret --custodian-key "
                         "custodian/custodian.key --to lu/lu.pub --out lu/linkage.sealed "
                         "--audit-log custodian/audit.log"),
                 1, "never sealed to the linkage unit");
    cr_assert_eq(chmod(path("police/linkage.secret"), 0644), 0);
    cr_assert_eq(wyelink("keys show police/linkage.secret"), 1, "group-readable secret");
    cr_assert_eq(access(path("lu/linkage.secret"), F_OK), -1);
    cr_assert_eq(access(path("lu/linkage.sealed"), F_OK), -1);
    cr_assert_eq(access(path("gp/x.secret"), F_OK), -1);
    char *err = read_text("cli.stderr");
    cr_assert_not_null(strstr(err, "sealed to another recipient"));
    cr_assert_not_null(strstr(err, "readable by group or others"));
    free(err);
    /* Secrets from standard input. */
    cr_assert_eq(wyelink("keys seal --secret - --custodian-key custodian/custodian.key --to "
                         "police/police.pub --out police/again.sealed --audit-log "
                         "custodian/audit.log <custodian/linkage.secret"),
                 0);
}

Test(keys, command_help_at_every_level)
{
    const char *subs[] = {"", "create ", "secret ", "seal ", "open ", "show "};
    char args[128];
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        snprintf(args, sizeof args, "keys %s--help", subs[i]);
        cr_assert_eq(wyelink(args), 0, "%s", args);
        snprintf(args, sizeof args, "keys %s-h", subs[i]);
        cr_assert_eq(wyelink(args), 0, "%s", args);
        snprintf(args, sizeof args, "keys %s--no-such-option", subs[i]);
        cr_assert_eq(wyelink(args), 2, "%s", args);
    }
    char *out = read_text("cli.stdout");
    cr_assert_not_null(strstr(out, "usage: wyelink keys create"));
    cr_assert_not_null(strstr(out, "usage: wyelink keys open"));
    cr_assert_not_null(strstr(out, "Exit status"));
    free(out);
    char *err = read_text("cli.stderr");
    cr_assert_not_null(strstr(err, "no-such-option"));
    free(err);
}
