/* Tests for protocols/protocol.c and the `wyelink protocol` command. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wyelink/io.h"
#include "wyelink/protocol.h"

/* Known-answer vectors: the fingerprints of the first default protocol,
 * wyelink-da-default-1 (kept as protocols/archive/wyelink-da-default-1.json;
 * most tests below use it, since its layout is pinned here), and of the
 * shipped protocols/default.json. Every agency and the linkage unit must
 * agree on them, forever. If one fails, a protocol's encoding has changed:
 * that is a NEW protocol (give it a new name, keep the old one readable),
 * never an edit of these constants. See protocols/PROTOCOL.md, "Versioning". */
#define V1_FINGERPRINT "9d2d57262716014cfd1f5621e369b82e7f6bc7d72c83fff80a8dd60329b50681"
#define V1_PATH "protocols/archive/wyelink-da-default-1.json"
#define DEFAULT_FINGERPRINT "9aeb652e12f0341fab36d596401fbe863e72271daecd395467a30afd86315e58"
#define DEFAULT_NAME "wyelink-da-default-2"

static char dir[] = "/tmp/wye_test_protocol_XXXXXX";
static char *default_text;
static size_t default_len;

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_geq(sodium_init(), 0);
    const char *root = getenv("WYELINK_SOURCE_ROOT");
    cr_assert_not_null(root, "WYELINK_SOURCE_ROOT is not set");
    char path[4096];
    snprintf(path, sizeof path, "%s/" V1_PATH, root);
    cr_assert_eq(wye_read_file(path, 1 << 20, &default_text, &default_len), WYE_OK);
}

static void teardown(void)
{
    free(default_text);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(protocol, .init = setup, .fini = teardown);

/* ---- helpers ---------------------------------------------------------- */

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static wye_protocol *parse_ok(const char *text)
{
    wye_protocol *p = NULL;
    wye_diag d;
    int rc = wye_protocol_parse(text, strlen(text), &p, &d);
    cr_assert_eq(rc, WYE_OK, "parse failed: %d key '%s' line %llu: %s", rc, d.field,
                 (unsigned long long)d.line, d.reason);
    return p;
}

static void fingerprint_hex(const char *text, char out[65])
{
    wye_protocol *p = parse_ok(text);
    uint8_t fp[WYE_FINGERPRINT_BYTES];
    wye_protocol_fingerprint(p, fp);
    hex(fp, sizeof fp, out);
    wye_protocol_free(p);
}

static json_t *default_json(void)
{
    json_error_t e;
    json_t *j = json_loadb(default_text, default_len, 0, &e);
    cr_assert_not_null(j);
    return j;
}

/* Serialise j (consumed) and parse it; returns the code, fills d. */
static int parse_json(json_t *j, wye_diag *d, wye_protocol **out)
{
    char *s = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    cr_assert_not_null(s);
    wye_protocol *p = NULL;
    int rc = wye_protocol_parse(s, strlen(s), &p, d);
    free(s);
    if (out)
        *out = p;
    else
        wye_protocol_free(p);
    return rc;
}

/* The object at a simple path like "fields[2].tokenisers[0]" ("" = root). */
static json_t *at(json_t *root, const char *path)
{
    json_t *j = root;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *tok = strtok(buf, "."); tok; tok = strtok(NULL, ".")) {
        char *br = strchr(tok, '[');
        if (br)
            *br = '\0';
        j = json_object_get(j, tok);
        cr_assert_not_null(j, "test path %s", path);
        while (br) {
            j = json_array_get(j, strtoul(br + 1, NULL, 10));
            cr_assert_not_null(j, "test path %s", path);
            br = strchr(br + 1, '[');
        }
    }
    return j;
}

static void expect_refused(json_t *j, int code, const char *key)
{
    wye_diag d;
    int rc = parse_json(j, &d, NULL);
    cr_expect_eq(rc, code, "for key %s: got %d (%s: %s)", key, rc, d.field, d.reason);
    cr_expect_str_eq(d.field, key, "diag names '%s', want '%s' (%s)", d.field, key, d.reason);
    cr_expect_neq(d.reason[0], '\0', "no reason for %s", key);
}

/* ---- known answer and canonical form ------------------------------------ */

Test(protocol, default_fingerprint_known_answer)
{
    wye_protocol *p = NULL;
    wye_diag d;
    cr_assert_eq(wye_protocol_parse(default_text, default_len, &p, &d), WYE_OK, "%s: %s",
                 d.field, d.reason);
    uint8_t fp[WYE_FINGERPRINT_BYTES];
    char h[65];
    wye_protocol_fingerprint(p, fp);
    hex(fp, sizeof fp, h);
    cr_assert_str_eq(h, V1_FINGERPRINT);

    /* The fingerprint is BLAKE2b-256 of exactly the canonical bytes. */
    char *c;
    cr_assert_eq(wye_protocol_canonical(p, &c), WYE_OK);
    uint8_t want[32];
    crypto_generichash(want, 32, (const uint8_t *)c, strlen(c), NULL, 0);
    cr_assert_eq(memcmp(fp, want, 32), 0);
    cr_assert_eq(strncmp(c, "{\"attributes\":[{\"name\":\"age_band\",", 34), 0,
                 "canonical form is compact with sorted keys");
    cr_assert_null(strchr(c, ' '), "no whitespace in the canonical form");
    cr_assert_null(strstr(c, "description"), "description is not canonical");
    free(c);
    wye_protocol_free(p);
}

Test(protocol, canonical_form_reparses_to_itself)
{
    wye_protocol *p = parse_ok(default_text);
    char *c1, *c2;
    cr_assert_eq(wye_protocol_canonical(p, &c1), WYE_OK);
    wye_protocol *q = parse_ok(c1);
    cr_assert_eq(wye_protocol_canonical(q, &c2), WYE_OK);
    cr_assert_str_eq(c1, c2);
    free(c1);
    free(c2);
    wye_protocol_free(p);
    wye_protocol_free(q);
}

/* Whitespace, key order, omitted defaults and the description do not change
 * the fingerprint. */
static const char *const same_protocol[] = {
    /* everything spelled out */
    "{\"format\":\"wyelink-protocol\",\"version\":1,\"name\":\"t\",\"filter_bits\":128,"
    "\"fields\":[{\"name\":\"family_name\",\"kdf_id\":7,\"tokenisers\":[{\"type\":\"qgram\","
    "\"q\":2,\"padding\":false}],\"record_bits\":30,\"field_filter_bits\":0,"
    "\"field_filter_k\":0,\"exact_digest\":false},{\"name\":\"sex\",\"kdf_id\":3,"
    "\"tokenisers\":[{\"type\":\"whole\"}],\"record_bits\":0,\"exact_digest\":true}],"
    "\"hardening\":{\"salting\":{\"field\":\"sex\",\"part\":\"whole\"},\"balancing\":false,"
    "\"xor_fold\":false,\"diffusion\":false},\"attributes\":[]}",
    /* whitespace and key order */
    "{\n  \"attributes\" : [ ],\n\t\"hardening\": {\"diffusion\": false, \"xor_fold\": false,"
    " \"balancing\": false, \"salting\": {\"part\": \"whole\", \"field\": \"sex\"}},\n"
    "  \"fields\": [ {\"exact_digest\": false, \"field_filter_k\": 0, \"field_filter_bits\": 0,"
    " \"record_bits\": 30, \"tokenisers\": [ {\"padding\": false, \"q\": 2, \"type\": \"qgram\"}"
    " ], \"kdf_id\": 7, \"name\": \"family_name\"},\n {\"exact_digest\": true,"
    " \"record_bits\": 0, \"tokenisers\": [{\"type\": \"whole\"}], \"kdf_id\": 3,"
    " \"name\": \"sex\"} ],\r\n \"filter_bits\": 128, \"name\": \"t\", \"version\": 1,"
    " \"format\": \"wyelink-protocol\"\n}\n",
    /* defaults omitted, a description added */
    "{\"format\":\"wyelink-protocol\",\"version\":1,\"name\":\"t\",\"description\":"
    "\"prose \\u00e9dited freely\",\"filter_bits\":128,\"fields\":[{\"name\":\"family_name\","
    "\"kdf_id\":7,\"tokenisers\":[{\"type\":\"qgram\"}],\"record_bits\":30},{\"name\":\"sex\","
    "\"kdf_id\":3,\"tokenisers\":[{\"type\":\"whole\"}],\"exact_digest\":true}],"
    "\"hardening\":{\"salting\":{\"field\":\"sex\"}}}",
};

Test(protocol, fingerprint_ignores_whitespace_key_order_defaults_and_description)
{
    char first[65], other[65];
    fingerprint_hex(same_protocol[0], first);
    for (size_t i = 1; i < sizeof same_protocol / sizeof same_protocol[0]; i++) {
        fingerprint_hex(same_protocol[i], other);
        cr_expect_str_eq(other, first, "variant %zu", i);
    }
    /* omitting hardening and attributes (all defaults) changes nothing,
     * layout included */
    json_t *bare = default_json();
    json_object_del(bare, "hardening");
    char *bs = json_dumps(bare, 0);
    json_decref(bare);
    wye_protocol *a = parse_ok(default_text), *b = parse_ok(bs);
    free(bs);
    cr_expect_eq(wye_protocol_filter_bits(b), 1024);
    cr_expect_eq(memcmp(wye_protocol_layout(a), wye_protocol_layout(b), sizeof(wye_layout)), 0);
    uint8_t fa[32], fb[32];
    wye_protocol_fingerprint(a, fa);
    wye_protocol_fingerprint(b, fb);
    cr_expect_eq(memcmp(fa, fb, 32), 0);
    wye_protocol_free(a);
    wye_protocol_free(b);
    /* the default protocol pretty-printed with reversed key order */
    json_t *j = default_json();
    char *s = json_dumps(j, JSON_INDENT(7) | JSON_SORT_KEYS);
    json_decref(j);
    fingerprint_hex(s, other);
    free(s);
    cr_expect_str_eq(other, V1_FINGERPRINT);
}

/* Every semantic change moves the fingerprint. */
Test(protocol, fingerprint_changes_with_every_semantic_change)
{
    static const char *const edits[][2] = {
        {"name", "\"other-name\""},
        {"filter_bits", "2048"},
        {"fields[0].kdf_id", "9"},
        {"fields[0].record_bits", "151"},
        {"fields[0].field_filter_bits", "320"},
        {"fields[0].field_filter_k", "31"},
        {"fields[0].exact_digest", "true"},
        {"fields[0].tokenisers[0].q", "3"},
        {"fields[0].tokenisers[0].padding", "false"},
        {"fields[0].tokenisers[0].type", "\"positional_qgram\""},
        {"hardening.balancing", "true"},
        {"hardening.xor_fold", "true"},
        {"hardening.salting", "{\"field\":\"date_of_birth\",\"part\":\"year\"}"},
        {"hardening.diffusion", "{\"t\":3,\"bits\":1024}"},
        {"attributes[2].values[4]", "\"unknown\""},
        {"attributes[2].source", "\"column\""}, /* no-op control: must stay equal */
    };
    const size_t n = sizeof edits / sizeof edits[0];
    char seen[sizeof edits / sizeof edits[0]][65];
    for (size_t i = 0; i < n; i++) {
        json_t *root = default_json();
        char parent[128];
        snprintf(parent, sizeof parent, "%s", edits[i][0]);
        char *dot = strrchr(parent, '.');
        const char *key = dot ? dot + 1 : parent;
        json_t *val = json_loads(edits[i][1], JSON_DECODE_ANY, NULL);
        cr_assert_not_null(val);
        char *br = strchr(key, '[');
        if (br) { /* array element */
            size_t idx = strtoul(br + 1, NULL, 10);
            *br = '\0';
            json_t *obj = dot ? (*dot = '\0', at(root, parent)) : root;
            json_array_set_new(json_object_get(obj, key), idx, val);
        } else {
            json_t *obj = dot ? (*dot = '\0', at(root, parent)) : root;
            json_object_set_new(obj, key, val);
        }
        char *s = json_dumps(root, 0);
        json_decref(root);
        fingerprint_hex(s, seen[i]);
        free(s);
        if (i == n - 1)
            cr_expect_str_eq(seen[i], V1_FINGERPRINT);
        else
            cr_expect_str_neq(seen[i], V1_FINGERPRINT, "edit %s", edits[i][0]);
        for (size_t k = 0; k < i && i < n - 1; k++)
            cr_expect_str_neq(seen[i], seen[k], "edits %s and %s", edits[i][0], edits[k][0]);
    }
    /* field order changes the layout, so it is semantic */
    json_t *root = default_json();
    json_t *fields = json_object_get(root, "fields");
    json_t *f0 = json_incref(json_array_get(fields, 0));
    json_array_remove(fields, 0);
    json_array_append_new(fields, f0);
    char *s = json_dumps(root, 0), h[65];
    json_decref(root);
    fingerprint_hex(s, h);
    free(s);
    cr_expect_str_neq(h, V1_FINGERPRINT);
}

/* ---- the default protocol, field by field --------------------------------- */

Test(protocol, default_fields_and_accessors)
{
    wye_protocol *p = parse_ok(default_text);
    cr_assert_str_eq(wye_protocol_name(p), "wyelink-da-default-1");
    cr_assert_eq(wye_protocol_nfields(p), 8);
    static const struct {
        const char *name;
        wye_field_type type;
        unsigned kdf, tok, q, pad, rb, ffb, ffk, dig;
    } want[] = {
        {"given_name", WYE_TYPE_NAME, 1, WYE_TOK_QGRAM, 2, 1, 150, 256, 30, 0},
        {"other_given_names", WYE_TYPE_NAME, 1, WYE_TOK_QGRAM, 2, 0, 60, 0, 0, 0},
        {"family_name", WYE_TYPE_NAME, 1, WYE_TOK_QGRAM, 2, 1, 150, 256, 30, 0},
        {"former_family_name", WYE_TYPE_NAME, 1, WYE_TOK_QGRAM, 2, 1, 0, 256, 30, 0},
        {"date_of_birth", WYE_TYPE_DATE, 2, WYE_TOK_DATE_PARTS, 0, 0, 120, 0, 0, 1},
        {"sex", WYE_TYPE_SEX, 3, WYE_TOK_WHOLE, 0, 0, 20, 0, 0, 0},
        {"postcode", WYE_TYPE_POSTCODE, 4, WYE_TOK_QGRAM, 2, 1, 100, 256, 30, 0},
        {"nhs_number", WYE_TYPE_NHS, 5, WYE_TOK_WHOLE, 0, 0, 0, 0, 0, 1},
    };
    for (size_t i = 0; i < 8; i++) {
        const wye_field_spec *f = wye_protocol_field(p, i);
        cr_assert_str_eq(f->name, want[i].name);
        cr_expect_eq(f->type, want[i].type, "%s", f->name);
        cr_expect_eq(f->kdf_id, want[i].kdf, "%s", f->name);
        cr_expect_eq(f->ntokenisers, 1, "%s", f->name);
        cr_expect_eq(f->tok[0].type, (wye_tokeniser_type)want[i].tok, "%s", f->name);
        cr_expect_eq(f->tok[0].q, want[i].q, "%s", f->name);
        cr_expect_eq(f->tok[0].padding, want[i].pad, "%s", f->name);
        cr_expect_eq(f->record_bits, want[i].rb, "%s", f->name);
        cr_expect_eq(f->field_filter_bits, want[i].ffb, "%s", f->name);
        cr_expect_eq(f->field_filter_k, want[i].ffk, "%s", f->name);
        cr_expect_eq(f->exact_digest, want[i].dig, "%s", f->name);
        cr_expect_eq(wye_protocol_field_index(p, want[i].name), (int)i);
    }
    cr_expect_eq(wye_protocol_field_index(p, "shoe_size"), -1);
    cr_expect_null(wye_protocol_field(p, 8));
    cr_expect_eq(wye_protocol_filter_bits_raw(p), 1024);
    cr_expect_eq(wye_protocol_filter_bits(p), 1024);
    const wye_hardening *h = wye_protocol_hardening(p);
    cr_expect(!h->salting && !h->balancing && !h->xor_fold && !h->diffusion);
    cr_expect_eq(wye_protocol_nattrs(p), 3);
    cr_expect_null(wye_protocol_attr(p, 3));
    wye_protocol_free(p);
}

Test(protocol, default_layout_pinned)
{
    wye_protocol *p = parse_ok(default_text);
    const wye_layout *l = wye_protocol_layout(p);
    cr_expect_eq(l->pseudonym_off, 0);
    cr_expect_eq(l->presence_off, 16);
    cr_expect_eq(l->attr_off, 18);  /* 3 attribute bytes: 18..20 */
    cr_expect_eq(l->filter_off, 24); /* padded to 8 */
    cr_expect_eq(l->filter_bytes, 128);
    static const size_t ffo[8] = {152, 0, 184, 216, 0, 0, 248, 0};
    static const size_t ffb[8] = {32, 0, 32, 32, 0, 0, 32, 0};
    static const size_t dgo[8] = {0, 0, 0, 0, 280, 0, 0, 288};
    for (size_t i = 0; i < 8; i++) {
        cr_expect_eq(l->field_filter_off[i], ffo[i], "field %zu", i);
        cr_expect_eq(l->field_filter_bytes[i], ffb[i], "field %zu", i);
        cr_expect_eq(l->digest_off[i], dgo[i], "field %zu", i);
    }
    cr_expect_eq(l->record_size, 296);
    wye_protocol_free(p);
}

/* Layout with 7 attributes (padding 25 -> 32), no record-level filter and
 * balancing of another protocol. */
Test(protocol, layout_padding_and_no_record_filter)
{
    const char *text =
        "{\"format\":\"wyelink-protocol\",\"version\":1,\"name\":\"l\",\"filter_bits\":0,"
        "\"fields\":[{\"name\":\"nhs_number\",\"kdf_id\":5,\"tokenisers\":[{\"type\":\"whole\"}],"
        "\"exact_digest\":true},{\"name\":\"postcode\",\"kdf_id\":4,\"tokenisers\":[{\"type\":"
        "\"qgram\",\"q\":3}],\"field_filter_bits\":64,\"field_filter_k\":10}],\"attributes\":["
        "{\"name\":\"a1\",\"source\":\"column\",\"values\":[\"x\"]},"
        "{\"name\":\"a2\",\"source\":\"column\",\"values\":[\"x\"]},"
        "{\"name\":\"a3\",\"source\":\"column\",\"values\":[\"x\"]},"
        "{\"name\":\"a4\",\"source\":\"column\",\"values\":[\"x\"]},"
        "{\"name\":\"a5\",\"source\":\"column\",\"values\":[\"x\"]},"
        "{\"name\":\"a6\",\"source\":\"column\",\"values\":[\"x\"]},"
        "{\"name\":\"a7\",\"source\":\"column\",\"values\":[\"x\"]}]}";
    wye_protocol *p = parse_ok(text);
    const wye_layout *l = wye_protocol_layout(p);
    cr_expect_eq(l->attr_off, 18);
    cr_expect_eq(l->filter_off, 32);
    cr_expect_eq(l->filter_bytes, 0);
    cr_expect_eq(l->field_filter_off[0], 0);
    cr_expect_eq(l->field_filter_bytes[0], 0);
    cr_expect_eq(l->field_filter_off[1], 32);
    cr_expect_eq(l->field_filter_bytes[1], 8);
    cr_expect_eq(l->digest_off[0], 40);
    cr_expect_eq(l->digest_off[1], 0);
    cr_expect_eq(l->record_size, 48);
    cr_expect_eq(wye_protocol_filter_bits(p), 0);
    wye_protocol_free(p);
}

/* Stored length = L, x2 with balancing, /2 with XOR folding, = bits with
 * diffusion; salting does not change it. Also the layout follows. */
Test(protocol, stored_filter_bits_for_every_hardening_combination)
{
    for (unsigned m = 0; m < 16; m++) {
        bool salt = m & 1, bal = m & 2, xf = m & 4, dif = m & 8;
        json_t *root = default_json();
        json_t *h = json_object_get(root, "hardening");
        json_object_set_new(h, "salting",
                            salt ? json_pack("{s:s,s:s}", "field", "date_of_birth", "part", "year")
                                 : json_false());
        json_object_set_new(h, "balancing", json_boolean(bal));
        json_object_set_new(h, "xor_fold", json_boolean(xf));
        json_object_set_new(h, "diffusion",
                            dif ? json_pack("{s:i,s:i}", "t", 3, "bits", 768) : json_false());
        wye_protocol *p;
        wye_diag d;
        cr_assert_eq(parse_json(root, &d, &p), WYE_OK, "combination %u: %s: %s", m, d.field,
                     d.reason);
        unsigned want = 1024;
        if (bal)
            want *= 2;
        if (xf)
            want /= 2;
        if (dif)
            want = 768;
        cr_expect_eq(wye_protocol_filter_bits_raw(p), 1024, "combination %u", m);
        cr_expect_eq(wye_protocol_filter_bits(p), want, "combination %u", m);
        const wye_hardening *hh = wye_protocol_hardening(p);
        cr_expect_eq(hh->salting, salt);
        cr_expect_eq(hh->balancing, bal);
        cr_expect_eq(hh->xor_fold, xf);
        cr_expect_eq(hh->diffusion, dif);
        if (salt) {
            cr_expect_str_eq(hh->salt_field, "date_of_birth");
            cr_expect_eq(hh->salt_part, WYE_SALT_YEAR);
        }
        if (dif) {
            cr_expect_eq(hh->diffusion_t, 3);
            cr_expect_eq(hh->diffusion_bits, 768);
        }
        const wye_layout *l = wye_protocol_layout(p);
        cr_expect_eq(l->filter_bytes, want / 8, "combination %u", m);
        cr_expect_eq(l->field_filter_off[0], 24 + want / 8, "combination %u", m);
        cr_expect_eq(l->record_size, 296 - 128 + want / 8, "combination %u", m);
        wye_protocol_free(p);
    }
}

Test(protocol, attribute_value_lookup)
{
    wye_protocol *p = parse_ok(default_text);
    const wye_attr_spec *age = wye_protocol_attr(p, 0), *sex = wye_protocol_attr(p, 1),
                        *svc = wye_protocol_attr(p, 2);
    cr_assert_str_eq(age->name, "age_band");
    cr_assert_eq(age->source, WYE_ATTR_AGE_BAND);
    cr_assert_eq(age->nvalues, 8);
    cr_expect_eq(wye_attr_value_index(age, "16-17"), 0);
    cr_expect_eq(wye_attr_value_index(age, "25-34"), 2);
    cr_expect_eq(wye_attr_value_index(age, "75+"), 7);
    cr_expect_eq(wye_attr_value_index(age, "75"), -1);
    cr_expect_eq(wye_attr_value_index(age, ""), -1);
    cr_assert_str_eq(sex->name, "sex");
    cr_assert_eq(sex->source, WYE_ATTR_SEX);
    cr_expect_eq(wye_attr_value_index(sex, "F"), 0);
    cr_expect_eq(wye_attr_value_index(sex, "X"), 2);
    cr_expect_eq(wye_attr_value_index(sex, "f"), -1, "values are case-sensitive");
    cr_assert_str_eq(svc->name, "service_type");
    cr_assert_eq(svc->source, WYE_ATTR_COLUMN);
    cr_expect_eq(wye_attr_value_index(svc, "refuge"), 0);
    cr_expect_eq(wye_attr_value_index(svc, "other"), 4);
    cr_expect_eq(wye_attr_value_index(svc, "refuge "), -1);
    cr_expect_eq(wye_attr_value_index(svc, NULL), -1);
    wye_protocol_free(p);
}

/* ---- schema violations ------------------------------------------------ */

static void set(json_t *root, const char *parent, const char *key, const char *value)
{
    json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
    cr_assert_not_null(v, "test value %s", value);
    cr_assert_eq(json_object_set_new(at(root, parent), key, v), 0);
}

static void del(json_t *root, const char *parent, const char *key)
{
    cr_assert_eq(json_object_del(at(root, parent), key), 0, "test key %s", key);
}

/* One edit of the default protocol and the key path the diag must name. */
typedef struct {
    const char *parent, *key, *value; /* value NULL = delete the key */
    const char *diag;
} violation;

static const violation violations[] = {
    {"", "colour", "1", "colour"},
    {"", "format", "\"wyelink-protokol\"", "format"},
    {"", "format", "1", "format"},
    {"", "version", "\"1\"", "version"},
    {"", "version", "1.0", "version"},
    {"", "version", NULL, "version"},
    {"", "name", NULL, "name"},
    {"", "name", "\"\"", "name"},
    {"", "name", "\"caf\\u00e9\"", "name"},
    {"", "name", "\"a\\nb\"", "name"},
    {"", "description", "7", "description"},
    {"", "filter_bits", "1000", "filter_bits"},
    {"", "filter_bits", "-64", "filter_bits"},
    {"", "filter_bits", "131072", "filter_bits"},
    {"", "filter_bits", NULL, "filter_bits"},
    {"", "fields", "[]", "fields"},
    {"", "fields", "{}", "fields"},
    {"", "fields", NULL, "fields"},
    {"", "hardening", "[]", "hardening"},
    {"", "attributes", "{}", "attributes"},
    {"fields[2]", "colour", "1", "fields[2].colour"},
    {"fields[1]", "name", "\"shoe_size\"", "fields[1].name"},
    {"fields[2]", "name", "\"given_name\"", "fields[2].name"},
    {"fields[0]", "kdf_id", "0", "fields[0].kdf_id"},
    {"fields[0]", "kdf_id", "1000", "fields[0].kdf_id"},
    {"fields[0]", "kdf_id", NULL, "fields[0].kdf_id"},
    {"fields[0]", "record_bits", "1025", "fields[0].record_bits"},
    {"fields[0]", "record_bits", "\"150\"", "fields[0].record_bits"},
    {"fields[0]", "field_filter_bits", "100", "fields[0].field_filter_bits"},
    {"fields[0]", "field_filter_k", NULL, "fields[0].field_filter_k"},
    {"fields[0]", "field_filter_k", "0", "fields[0].field_filter_k"},
    {"fields[0]", "field_filter_k", "257", "fields[0].field_filter_k"},
    {"fields[1]", "field_filter_k", "5", "fields[1].field_filter_k"},
    {"fields[4]", "exact_digest", "1", "fields[4].exact_digest"},
    {"fields[5]", "record_bits", "0", "fields[5]"}, /* sex then contributes nothing */
    {"fields[0]", "tokenisers", "[]", "fields[0].tokenisers"},
    {"fields[0]", "tokenisers", NULL, "fields[0].tokenisers"},
    {"fields[0]", "tokenisers",
     "[{\"type\":\"whole\"},{\"type\":\"soundex\"},{\"type\":\"qgram\"},{\"type\":\"qgram\",\"q\":3},"
     "{\"type\":\"qgram\",\"q\":4}]",
     "fields[0].tokenisers"},
    {"fields[0]", "tokenisers", "[{\"type\":\"qgram\"},{\"type\":\"qgram\",\"q\":2}]",
     "fields[0].tokenisers[1]"},
    {"fields[0]", "tokenisers", "[7]", "fields[0].tokenisers[0]"},
    {"fields[2].tokenisers[0]", "x", "1", "fields[2].tokenisers[0].x"},
    {"fields[2].tokenisers[0]", "q", "9", "fields[2].tokenisers[0].q"},
    {"fields[2].tokenisers[0]", "q", "0", "fields[2].tokenisers[0].q"},
    {"fields[2].tokenisers[0]", "padding", "\"yes\"", "fields[2].tokenisers[0].padding"},
    {"fields[2].tokenisers[0]", "type", "\"trigram\"", "fields[2].tokenisers[0].type"},
    {"fields[2].tokenisers[0]", "type", NULL, "fields[2].tokenisers[0].type"},
    {"fields[0].tokenisers[0]", "type", "\"date_parts\"", "fields[0].tokenisers[0].type"},
    {"fields[6].tokenisers[0]", "type", "\"soundex\"", "fields[6].tokenisers[0].type"},
    {"fields[5].tokenisers[0]", "q", "2", "fields[5].tokenisers[0].q"},
    {"fields[4].tokenisers[0]", "padding", "false", "fields[4].tokenisers[0].padding"},
    {"hardening", "pepper", "true", "hardening.pepper"},
    {"hardening", "salting", "true", "hardening.salting"},
    {"hardening", "salting", "{\"part\":\"year\"}", "hardening.salting.field"},
    {"hardening", "salting", "{\"field\":\"shoe_size\"}", "hardening.salting.field"},
    {"hardening", "salting", "{\"field\":\"postcode\",\"part\":\"year\"}",
     "hardening.salting.part"},
    {"hardening", "salting", "{\"field\":\"sex\",\"part\":\"month\"}", "hardening.salting.part"},
    {"hardening", "salting", "{\"field\":\"sex\",\"x\":1}", "hardening.salting.x"},
    {"hardening", "balancing", "1", "hardening.balancing"},
    {"hardening", "xor_fold", "\"true\"", "hardening.xor_fold"},
    {"hardening", "diffusion", "true", "hardening.diffusion"},
    {"hardening", "diffusion", "{\"bits\":1024}", "hardening.diffusion.t"},
    {"hardening", "diffusion", "{\"t\":0,\"bits\":1024}", "hardening.diffusion.t"},
    {"hardening", "diffusion", "{\"t\":3}", "hardening.diffusion.bits"},
    {"hardening", "diffusion", "{\"t\":3,\"bits\":1000}", "hardening.diffusion.bits"},
    {"hardening", "diffusion", "{\"t\":3,\"bits\":0}", "hardening.diffusion.bits"},
    {"hardening", "diffusion", "{\"t\":3,\"bits\":64,\"seed\":1}", "hardening.diffusion.seed"},
    {"attributes[0]", "colour", "\"red\"", "attributes[0].colour"},
    {"attributes[0]", "name", "\"Age\"", "attributes[0].name"},
    {"attributes[1]", "name", "\"age_band\"", "attributes[1].name"},
    {"attributes[2]", "source", "\"free_text\"", "attributes[2].source"},
    {"attributes[2]", "source", NULL, "attributes[2].source"},
    {"attributes[2]", "values", "[]", "attributes[2].values"},
    {"attributes[2]", "values", NULL, "attributes[2].values"},
    {"attributes[2]", "values", "[\"a\",\"a\"]", "attributes[2].values[1]"},
    {"attributes[2]", "values", "[\"a\",3]", "attributes[2].values[1]"},
    {"attributes[2]", "values", "[\"\"]", "attributes[2].values[0]"},
    {"attributes[2]", "values", "[\" refuge\"]", "attributes[2].values[0]"},
    {"attributes[2]", "values", "[\"abcdefghijklmnopqrstuvwx\"]", "attributes[2].values[0]"},
    {"attributes[1]", "values", "[\"F\",\"Q\"]", "attributes[1].values[1]"},
    {"attributes[0]", "values", "[\"16-17\",\"18-\"]", "attributes[0].values[1]"},
    {"attributes[0]", "values", "[\"16-20\",\"18-24\"]", "attributes[0].values[1]"},
    {"attributes[0]", "values", "[\"75+\",\"80-90\"]", "attributes[0].values[1]"},
    {"attributes[0]", "values", "[\"24-18\"]", "attributes[0].values[0]"},
    {"attributes[0]", "values", "[\"016-17\"]", "attributes[0].values[0]"},
    {"attributes[0]", "values", "[\"16-200\"]", "attributes[0].values[0]"},
    {"attributes[0]", "values", "[\"adult\"]", "attributes[0].values[0]"},
};

Test(protocol, every_schema_violation_is_refused_naming_the_key)
{
    for (size_t i = 0; i < sizeof violations / sizeof violations[0]; i++) {
        const violation *v = &violations[i];
        json_t *root = default_json();
        if (v->value)
            set(root, v->parent, v->key, v->value);
        else
            del(root, v->parent, v->key);
        expect_refused(root, WYE_EJSON, v->diag);
    }
}

Test(protocol, structural_violations)
{
    json_t *root;
    char name[32];
    /* 17 fields */
    root = default_json();
    json_t *fields = json_object_get(root, "fields");
    while (json_array_size(fields) < WYE_MAX_FIELDS + 1)
        json_array_append(fields, json_array_get(fields, 0));
    expect_refused(root, WYE_EJSON, "fields");
    /* 9 attributes */
    root = default_json();
    json_t *attrs = json_object_get(root, "attributes");
    for (int i = 0; json_array_size(attrs) < WYE_MAX_ATTRS + 1; i++) {
        snprintf(name, sizeof name, "extra%d", i);
        json_array_append_new(attrs, json_pack("{s:s,s:s,s:[s]}", "name", name, "source",
                                               "column", "values", "x"));
    }
    expect_refused(root, WYE_EJSON, "attributes");
    /* 33 values */
    root = default_json();
    json_t *vals = json_object_get(at(root, "attributes[2]"), "values");
    for (int i = 0; json_array_size(vals) < WYE_MAX_ATTR_VALUES + 1; i++) {
        snprintf(name, sizeof name, "v%d", i);
        json_array_append_new(vals, json_string(name));
    }
    expect_refused(root, WYE_EJSON, "attributes[2].values");
    /* a record-level filter nobody feeds */
    root = default_json();
    size_t k;
    json_t *f;
    json_array_foreach(json_object_get(root, "fields"), k, f) {
        json_object_set_new(f, "record_bits", json_integer(0));
        json_object_set_new(f, "exact_digest", json_true());
    }
    expect_refused(root, WYE_EJSON, "filter_bits");
    /* XOR folding needs a length that halves into whole 64-bit words */
    root = default_json();
    set(root, "", "filter_bits", "960");
    set(root, "hardening", "xor_fold", "true");
    expect_refused(root, WYE_EJSON, "hardening.xor_fold");
    /* ... which balancing provides */
    root = default_json();
    set(root, "", "filter_bits", "960");
    set(root, "hardening", "xor_fold", "true");
    set(root, "hardening", "balancing", "true");
    wye_protocol *p;
    wye_diag d;
    cr_expect_eq(parse_json(root, &d, &p), WYE_OK, "%s: %s", d.field, d.reason);
    cr_expect_eq(wye_protocol_filter_bits(p), 960);
    wye_protocol_free(p);
    /* attributes drawn from fields the protocol lacks */
    root = default_json();
    json_array_remove(json_object_get(root, "fields"), 4); /* date_of_birth */
    expect_refused(root, WYE_EJSON, "attributes[0].source");
    /* hardening without a record-level filter */
    root = json_loads("{\"format\":\"wyelink-protocol\",\"version\":1,\"name\":\"n\","
                      "\"filter_bits\":0,\"fields\":[{\"name\":\"sex\",\"kdf_id\":1,"
                      "\"tokenisers\":[{\"type\":\"whole\"}],\"exact_digest\":true}],"
                      "\"hardening\":{\"balancing\":true}}",
                      0, NULL);
    cr_assert_not_null(root);
    expect_refused(root, WYE_EJSON, "hardening");
    /* the top level */
    root = json_array();
    expect_refused(root, WYE_EJSON, "");
}

Test(protocol, unknown_version_is_a_version_error)
{
    for (int v = 0; v <= 3; v++) {
        if (v == 1)
            continue;
        json_t *root = default_json();
        json_object_set_new(root, "version", json_integer(v));
        expect_refused(root, WYE_EVERSION, "version");
    }
    /* a newer schema's unknown keys are reported as the version, not as keys */
    json_t *root = default_json();
    json_object_set_new(root, "version", json_integer(2));
    json_object_set_new(root, "new_feature", json_true());
    expect_refused(root, WYE_EVERSION, "version");
}

Test(protocol, malformed_json_names_the_line)
{
    static const struct {
        const char *text;
        unsigned line;
    } cases[] = {
        {"{\n\"format\": \"wyelink-protocol\",\n\"version\": 1,,\n}", 3},
        {"{\"a\":1,\n\"a\":2}", 2}, /* duplicate key */
        {"{\"format\":", 1},
        {"", 1},
        {"{} {}", 1},
        {"{\"name\":\"\\u0000\"}", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wye_protocol *p = (wye_protocol *)1;
        wye_diag d;
        cr_expect_eq(wye_protocol_parse(cases[i].text, strlen(cases[i].text), &p, &d),
                     WYE_EJSON, "case %zu", i);
        cr_expect_null(p, "case %zu", i);
        cr_expect_eq(d.line, cases[i].line, "case %zu: line %llu", i,
                     (unsigned long long)d.line);
        cr_expect_neq(d.reason[0], '\0');
    }
    /* not NUL-terminated: the parser reads exactly len bytes */
    wye_protocol *p;
    cr_expect_eq(wye_protocol_parse(default_text, default_len - 2, &p, NULL), WYE_EJSON);
    char *copy = malloc(default_len);
    memcpy(copy, default_text, default_len);
    cr_expect_eq(wye_protocol_parse(copy, default_len, &p, NULL), WYE_OK);
    wye_protocol_free(p);
    free(copy);
    cr_expect_eq(wye_protocol_parse(NULL, 0, &p, NULL), WYE_EJSON);
    cr_expect_eq(wye_protocol_parse("{}", 2, NULL, NULL), WYE_EINVAL);
    wye_protocol_free(NULL);
}

/* Diagnostics never carry a value from the file, even a bad one. */
Test(protocol, diag_never_quotes_a_value)
{
    static const char *const values[][3] = {
        {"attributes[2]", "values", "[\"Jane Smith 1975-04-02 WR1 2AB\"]"},
        {"fields[0]", "name", "\"Jane_Smith\""},
        {"hardening", "salting", "{\"field\":\"Jane_Smith\"}"},
        {"fields[0].tokenisers[0]", "type", "\"Jane_Smith\""},
        {"", "format", "\"Jane Smith\""},
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        json_t *root = default_json();
        set(root, values[i][0], values[i][1], values[i][2]);
        wye_diag d;
        cr_expect_eq(parse_json(root, &d, NULL), WYE_EJSON);
        cr_expect_null(strstr(d.reason, "Jane"), "case %zu: %s", i, d.reason);
        cr_expect_null(strstr(d.field, "Jane"), "case %zu: %s", i, d.field);
    }
}

Test(protocol, load_reads_files_and_reports_io_errors)
{
    char path[512];
    snprintf(path, sizeof path, "%s/p.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fwrite(default_text, 1, default_len, f);
    fclose(f);
    wye_protocol *p;
    wye_diag d;
    cr_assert_eq(wye_protocol_load(path, &p, &d), WYE_OK);
    uint8_t fp[32];
    char h[65];
    wye_protocol_fingerprint(p, fp);
    hex(fp, 32, h);
    cr_expect_str_eq(h, V1_FINGERPRINT);
    wye_protocol_free(p);
    snprintf(path, sizeof path, "%s/missing.json", dir);
    cr_expect_eq(wye_protocol_load(path, &p, &d), WYE_EIO);
    cr_expect_null(p);
}

/* ---- the command ------------------------------------------------------ */

/* Run wyelink with args; stdout and stderr go to files in dir; returns the
 * exit status and the two outputs (freed by the caller). */
static int run(char **out, char **err, const char *a1, const char *a2, const char *a3)
{
    const char *w = getenv("WYELINK");
    cr_assert_not_null(w, "WYELINK is not set");
    char op[512], ep[512];
    snprintf(op, sizeof op, "%s/stdout", dir);
    snprintf(ep, sizeof ep, "%s/stderr", dir);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        int o = open(op, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(127);
        execl(w, w, "protocol", a1, a2, a3, (char *)NULL);
        _exit(127);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st));
    cr_assert_eq(wye_read_file(op, 1 << 20, out, NULL), WYE_OK);
    cr_assert_eq(wye_read_file(ep, 1 << 20, err, NULL), WYE_OK);
    return WEXITSTATUS(st);
}

Test(protocol, cli_check_fingerprint_and_canonical)
{
    char path[4096], *out, *err;
    snprintf(path, sizeof path, "%s/" V1_PATH, getenv("WYELINK_SOURCE_ROOT"));
    cr_assert_eq(run(&out, &err, "check", path, NULL), 0, "stderr: %s", err);
    cr_expect_not_null(strstr(out, "fingerprint: " V1_FINGERPRINT "\n"), "%s", out);
    cr_expect_not_null(strstr(out, "protocol:    wyelink-da-default-1\n"), "%s", out);
    cr_expect_not_null(strstr(out, "record size: 296 bytes"), "%s", out);
    cr_expect_not_null(strstr(out, "1024 bits raw, 1024 bits stored"), "%s", out);
    cr_expect_not_null(strstr(out, "field filter hardening: none\n"), "%s", out);
    cr_expect_str_eq(err, "");
    free(out);
    free(err);

    cr_assert_eq(run(&out, &err, "fingerprint", path, NULL), 0);
    cr_expect_str_eq(out, V1_FINGERPRINT "\n");
    free(out);
    free(err);

    cr_assert_eq(run(&out, &err, "canonical", path, NULL), 0);
    wye_protocol *p = parse_ok(default_text);
    char *c;
    cr_assert_eq(wye_protocol_canonical(p, &c), WYE_OK);
    size_t n = strlen(c);
    cr_expect_eq(strlen(out), n + 1);
    cr_expect_eq(strncmp(out, c, n), 0);
    free(c);
    wye_protocol_free(p);
    free(out);
    free(err);
}

Test(protocol, cli_check_broken_file_names_file_and_key)
{
    char path[512], *out, *err;
    snprintf(path, sizeof path, "%s/broken.json", dir);
    json_t *root = default_json();
    set(root, "fields[2].tokenisers[0]", "q", "9");
    cr_assert_eq(json_dump_file(root, path, JSON_INDENT(2)), 0);
    json_decref(root);
    cr_assert_eq(run(&out, &err, "check", path, NULL), 1);
    cr_expect_str_eq(out, "");
    cr_expect_not_null(strstr(err, path), "%s", err);
    cr_expect_not_null(strstr(err, "key 'fields[2].tokenisers[0].q'"), "%s", err);
    cr_expect_not_null(strstr(err, "must be from 1 to 5"), "%s", err);
    free(out);
    free(err);

    snprintf(path, sizeof path, "%s/nowhere.json", dir);
    cr_assert_eq(run(&out, &err, "check", path, NULL), 1);
    cr_expect_not_null(strstr(err, "nowhere.json"), "%s", err);
    cr_expect_not_null(strstr(err, "No such file"), "%s", err);
    free(out);
    free(err);
}

Test(protocol, cli_usage)
{
    char *out, *err;
    cr_expect_eq(run(&out, &err, "--help", NULL, NULL), 0);
    cr_expect_eq(strncmp(out, "usage: wyelink protocol", 23), 0);
    free(out);
    free(err);
    cr_expect_eq(run(&out, &err, "check", "--help", NULL), 0);
    cr_expect_eq(strncmp(out, "usage: wyelink protocol check", 29), 0);
    cr_expect_not_null(strstr(out, "Exit status"));
    free(out);
    free(err);
    cr_expect_eq(run(&out, &err, "fingerprint", "--frobnicate", "x"), 2);
    cr_expect_not_null(strstr(err, "--frobnicate"), "%s", err);
    free(out);
    free(err);
    cr_expect_eq(run(&out, &err, "fingerprint", NULL, NULL), 2);
    free(out);
    free(err);
    cr_expect_eq(run(&out, &err, "sign", "x", NULL), 2);
    cr_expect_not_null(strstr(err, "unknown subcommand"), "%s", err);
    free(out);
    free(err);
    cr_expect_eq(run(&out, &err, NULL, NULL, NULL), 2);
    free(out);
    free(err);
}

/* The shipped default is a known protocol: its fingerprint and name are
 * pinned, and the first default stays in the archive, byte for byte
 * readable, for files encoded under it. */
Test(protocol, shipped_default_is_pinned)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/protocols/default.json", getenv("WYELINK_SOURCE_ROOT"));
    wye_protocol *p;
    wye_diag d;
    cr_assert_eq(wye_protocol_load(path, &p, &d), WYE_OK, "%s: %s", d.field, d.reason);
    uint8_t fp[WYE_FINGERPRINT_BYTES];
    char h[65];
    wye_protocol_fingerprint(p, fp);
    hex(fp, sizeof fp, h);
    cr_expect_str_eq(h, DEFAULT_FINGERPRINT);
    cr_expect_str_eq(wye_protocol_name(p), DEFAULT_NAME);
    wye_protocol_free(p);
}

/* `protocol check` shows the field filters' hardening and their stored length. */
Test(protocol, cli_check_shows_field_hardening)
{
    char path[4096], *out, *err;
    snprintf(path, sizeof path, "%s/protocols/variants/fh-salt-xor.r-none.json",
             getenv("WYELINK_SOURCE_ROOT"));
    cr_assert_eq(run(&out, &err, "check", path, NULL), 0, "stderr: %s", err);
    cr_expect_not_null(
        strstr(out, "field filter hardening: salting(date_of_birth,year) xor_fold\n"), "%s", out);
    cr_expect_not_null(strstr(out, "field_filter 256 bits k 30 (stored 128 bits)"), "%s", out);
    free(out);
    free(err);
}
