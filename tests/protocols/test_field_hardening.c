/* Field-filter hardening in the protocol schema ("field_hardening",
 * PROTOCOL.md): parsing, refusals, canonical form and layout, and the
 * backward compatibility the key must keep: a protocol without it (every
 * protocol written before it existed) keeps its canonical form and its
 * fingerprint exactly. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wyelink/io.h"
#include "wyelink/protocol.h"

/* Fingerprints of the round-1 privacy variants (protocols/variants), taken
 * with the build before field_hardening existed (commit 4aca001). */
static const struct {
    const char *file, *fp;
} round1[] = {
    {"ff-bal-xor.json", "33bd436acd6cef5603ae36ad9403f54f75b22bf9c9d71aefe6899c9eea4081c6"},
    {"ff-bal.json", "7334976f5a7a517f913d894249669b3211e79f9b788c024d34de8b88fbbbd777"},
    {"ff-diff4.json", "765c86bbf2486a4243f891996add76f1cc19180ec9e804e9fbed58484795805e"},
    {"ff-diff8.json", "7601cf3809c7b67fd1878d8380695468fdfe59e4b5247ad880040db9f6a97f19"},
    {"ff-none.json", "78453a13b5ca60f2fd8020e72caec6c0a5fc22ab79357870263990ddef38f4f8"},
    {"ff-salt-bal.json", "43a38e19b5620779bef39dab7b048ffb142f75556ea7f21a3ba6e191fd026c8f"},
    {"ff-salt-diff4.json", "dcade07a0260e54502f0b20afa3619112535b1b800fd17aa908e3a4bd5063493"},
    {"ff-salt-xor.json", "a4f3f1cd238fbc30bd0a0f8b1a735f5ef6505c181fb63d145be9cb8529f994a2"},
    {"ff-salt.json", "4b762bf8a1d969cc602dc2d159a521ab65304048e121f4f66cb9e73f01c523fe"},
    {"ff-saltdob.json", "1cd38e25357eb3fb63dc75616f35e39d848c9c8eeb7898d94ba3054f88adaf60"},
    {"ff-xor.json", "e7d88588f6774f4a3e8737ac5d70e7941e29a26b314037e4336e39294dcb7869"},
    {"rec-bal-xor.json", "f6c22d81e4130c09f44e6e9a37159a4dc48233cc1a005abd9bfe4abb9b60bdfc"},
    {"rec-bal.json", "009fa4d69f7807fc6a98f6833a1298a818de1834386ee7db3d4035ef13abd4af"},
    {"rec-diff4.json", "42cd1506a525addedcf3d4f04c1388470425ef1ef2a83131648013e72dbd12a1"},
    {"rec-diff8.json", "1c334992f30328fc6c6d85f700fced2d3fedf650b57cbadc297cc86f6b0b590b"},
    {"rec-none.json", "ca4918a668505682d47f5b0bfc80061403afdaa352d92bef1c702422b2dc7c5c"},
    {"rec-salt-bal.json", "9b795c2cefbd4c107eb0c5107fc5550044db60b683ed037f75ffd065446a4b46"},
    {"rec-salt-diff4.json", "67fc7ff6ff25c41c50580cd90bc4225d78828c644a07569ac1456bc08db68a19"},
    {"rec-salt-xor.json", "5e6719a964352d0857467743bb5669c95081f0a20453b8f499519878156aa275"},
    {"rec-salt.json", "6463117281496372c719f128f1079c1c80986f8400db1564825fb158274f8703"},
    {"rec-saltdob.json", "1974b142876b5c849f74a60dc557f42b9bd1a9c0ddb26ff2d4fa9979efee2980"},
    {"rec-xor.json", "67fd109e6e2f1d06c311dbdadf18a04c77e6b0d6f08f4dd351378d9673ad2f06"},
};

static const char *root(void)
{
    const char *r = getenv("WYELINK_SOURCE_ROOT");
    cr_assert_not_null(r, "WYELINK_SOURCE_ROOT is not set");
    return r;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

#define BASE(fh)                                                                          \
    "{\"format\":\"wyelink-protocol\",\"version\":1,\"name\":\"fh\",\"filter_bits\":1024," \
    "\"fields\":[{\"name\":\"given_name\",\"kdf_id\":1,\"record_bits\":150,"                \
    "\"field_filter_bits\":256,\"field_filter_k\":30,"                                      \
    "\"tokenisers\":[{\"type\":\"qgram\",\"q\":2,\"padding\":true}]},"                     \
    "{\"name\":\"postcode\",\"kdf_id\":4,\"record_bits\":100,"                              \
    "\"field_filter_bits\":FFB,\"field_filter_k\":30,"                                      \
    "\"tokenisers\":[{\"type\":\"qgram\",\"q\":2,\"padding\":true}]},"                     \
    "{\"name\":\"date_of_birth\",\"kdf_id\":2,\"record_bits\":120,"                        \
    "\"tokenisers\":[{\"type\":\"date_parts\"}]}]" fh "}"

/* BASE with the postcode filter's length set to ffb. */
static char *text(const char *fh, unsigned ffb)
{
    static char buf[4096];
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, BASE("%s"), fh);
    char *at = strstr(tmpl, "FFB");
    cr_assert_not_null(at);
    snprintf(buf, sizeof buf, "%.*s%u%s", (int)(at - tmpl), tmpl, ffb, at + 3);
    return buf;
}

static int parse(const char *t, wye_protocol **p, wye_diag *d)
{
    return wye_protocol_parse(t, strlen(t), p, d);
}

static void canonical_fp(const char *t, char **canon, char fp[65])
{
    wye_protocol *p = NULL;
    wye_diag d;
    cr_assert_eq(parse(t, &p, &d), WYE_OK, "key '%s': %s", d.field, d.reason);
    cr_assert_eq(wye_protocol_canonical(p, canon), WYE_OK);
    uint8_t f[WYE_FINGERPRINT_BYTES];
    wye_protocol_fingerprint(p, f);
    hex(f, sizeof f, fp);
    wye_protocol_free(p);
}

Test(field_hardening, round1_variants_keep_their_fingerprints)
{
    cr_assert_geq(sodium_init(), 0);
    for (size_t i = 0; i < sizeof round1 / sizeof round1[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/protocols/variants/%s", root(), round1[i].file);
        wye_protocol *p = NULL;
        wye_diag d;
        cr_assert_eq(wye_protocol_load(path, &p, &d), WYE_OK, "%s", round1[i].file);
        cr_expect_not(wye_protocol_field_hardened(p), "%s", round1[i].file);
        uint8_t f[WYE_FINGERPRINT_BYTES];
        char fp[65];
        wye_protocol_fingerprint(p, f);
        hex(f, sizeof f, fp);
        cr_expect_str_eq(fp, round1[i].fp, "%s", round1[i].file);
        wye_protocol_free(p);
    }
}

Test(field_hardening, absent_or_all_off_is_the_same_protocol)
{
    char *c0, *c1, *c2, fp0[65], fp1[65], fp2[65];
    canonical_fp(text("", 256), &c0, fp0);
    canonical_fp(text(",\"field_hardening\":{}", 256), &c1, fp1);
    canonical_fp(text(",\"field_hardening\":{\"salting\":false,\"xor_fold\":false,"
                      "\"diffusion\":false}",
                      256),
                 &c2, fp2);
    cr_expect_str_eq(c1, c0);
    cr_expect_str_eq(c2, c0);
    cr_expect_str_eq(fp1, fp0);
    cr_expect_str_eq(fp2, fp0);
    cr_expect_null(strstr(c0, "field_hardening"), "not in the canonical form when off");
    free(c0);
    free(c1);
    free(c2);
}

Test(field_hardening, canonical_form_and_layout)
{
    char *t = strdup(text(",\"field_hardening\":{\"diffusion\":{\"t\":3},\"xor_fold\":true,"
                          "\"salting\":{\"field\":\"date_of_birth\",\"part\":\"year\"}}",
                          256));
    cr_assert_not_null(t);
    char *c, fp[65];
    canonical_fp(t, &c, fp);
    cr_expect_not_null(strstr(c, ",\"field_hardening\":{\"diffusion\":{\"t\":3},\"salting\":"
                                 "{\"field\":\"date_of_birth\",\"part\":\"year\"},\"xor_fold\":"
                                 "true},\"fields\":"),
                       "%s", c);
    /* the canonical form is itself a protocol with the same fingerprint */
    char *c2, fp2[65];
    canonical_fp(c, &c2, fp2);
    cr_expect_str_eq(c2, c);
    cr_expect_str_eq(fp2, fp);
    /* another setting, another fingerprint; part defaults to whole */
    char *c3, fp3[65];
    canonical_fp(text(",\"field_hardening\":{\"salting\":{\"field\":\"date_of_birth\"}}", 256),
                 &c3, fp3);
    cr_expect_str_neq(fp3, fp);
    cr_expect_not_null(strstr(c3, "\"part\":\"whole\""));
    free(c);
    free(c2);
    free(c3);

    wye_protocol *p = NULL;
    wye_diag d;
    cr_assert_eq(parse(t, &p, &d), WYE_OK);
    const wye_field_hardening *h = wye_protocol_field_hardening(p);
    cr_expect(h->salting && h->xor_fold && h->diffusion);
    cr_expect_eq(h->diffusion_t, 3);
    cr_expect_eq(h->salt_part, WYE_SALT_YEAR);
    cr_expect_str_eq(h->salt_field, "date_of_birth");
    const wye_layout *l = wye_protocol_layout(p);
    cr_expect_eq(l->field_filter_bytes[0], 16, "folded: 128 bits stored");
    cr_expect_eq(l->field_filter_bytes[1], 16);
    cr_expect_eq(l->field_filter_off[1], l->field_filter_off[0] + 16);
    cr_expect_eq(l->record_size, 24 + 128 + 32);
    cr_expect_eq(wye_protocol_field(p, 0)->field_filter_bits, 256, "the raw length is kept");
    /* the record-level hardening is untouched */
    cr_expect_not(wye_protocol_hardening(p)->salting);
    cr_expect_eq(wye_protocol_filter_bits(p), 1024);
    wye_protocol_free(p);
    free(t);
}

static void refused(const char *t, const char *key)
{
    wye_protocol *p = NULL;
    wye_diag d;
    cr_expect_eq(parse(t, &p, &d), WYE_EJSON, "%s", key);
    cr_expect_str_eq(d.field, key);
    cr_expect_null(p);
}

Test(field_hardening, refusals)
{
    refused(text(",\"field_hardening\":true", 256), "field_hardening");
    refused(text(",\"field_hardening\":{\"balancing\":true}", 256), "field_hardening.balancing");
    refused(text(",\"field_hardening\":{\"salting\":true}", 256), "field_hardening.salting");
    refused(text(",\"field_hardening\":{\"salting\":{\"field\":\"nhs_number\"}}", 256),
            "field_hardening.salting.field");
    refused(text(",\"field_hardening\":{\"salting\":{\"field\":\"given_name\",\"part\":"
                 "\"year\"}}",
                 256),
            "field_hardening.salting.part");
    refused(text(",\"field_hardening\":{\"xor_fold\":true}", 192), "field_hardening.xor_fold");
    refused(text(",\"field_hardening\":{\"diffusion\":true}", 256), "field_hardening.diffusion");
    refused(text(",\"field_hardening\":{\"diffusion\":{\"t\":0}}", 256),
            "field_hardening.diffusion.t");
    refused(text(",\"field_hardening\":{\"diffusion\":{\"t\":65}}", 256),
            "field_hardening.diffusion.t");
    refused(text(",\"field_hardening\":{\"diffusion\":{\"t\":2,\"bits\":256}}", 256),
            "field_hardening.diffusion.bits");
    /* a folded 128-bit filter keeps 64 bits: t 64 is still allowed */
    wye_protocol *p = NULL;
    wye_diag d;
    cr_expect_eq(parse(text(",\"field_hardening\":{\"xor_fold\":true,\"diffusion\":{\"t\":64}}",
                            128),
                       &p, &d),
                 WYE_OK);
    wye_protocol_free(p);
    /* no field filter to harden */
    const char *nf = "{\"format\":\"wyelink-protocol\",\"version\":1,\"name\":\"x\","
                     "\"filter_bits\":1024,\"fields\":[{\"name\":\"given_name\",\"kdf_id\":1,"
                     "\"record_bits\":150,\"tokenisers\":[{\"type\":\"whole\"}]}],"
                     "\"field_hardening\":{\"xor_fold\":true}}";
    refused(nf, "field_hardening");
}
