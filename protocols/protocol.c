/* The linkage protocol: parse and validate a protocol file, compute the
 * record layout, the canonical form and the fingerprint (protocols/PROTOCOL.md).
 *
 * Everything is decided at parse time: a parsed protocol is immutable, so the
 * accessors need no locking. Diagnostics name the JSON key path
 * ("fields[2].tokenisers[0].q") and never echo a value from the file. */
#include "wyelink/protocol.h"

#include <assert.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol_builtin.h"
#include "wyelink/io.h"
#include "wyelink/version.h"

#define FORMAT_NAME "wyelink-protocol"
#define MAX_FILE_BYTES (1u << 20)   /* a protocol is a few kB */
#define MAX_FILTER_BITS 65536u      /* any filter, raw or stored */
#define MAX_Q 5u
#define MAX_KDF_ID 999u
#define MAX_NAME_LEN 64u            /* protocol name, bytes */
#define MAX_DESCRIPTION_LEN 65536u
#define MAX_DIFFUSION_T 64u
#define MAX_AGE 150u
#define PATH_MAX_LEN 64             /* = sizeof wye_diag.field */

struct wye_protocol {
    char name[MAX_NAME_LEN + 1];
    unsigned filter_bits_raw;
    unsigned filter_bits;
    size_t nfields;
    wye_field_spec fields[WYE_MAX_FIELDS];
    size_t nattrs;
    wye_attr_spec attrs[WYE_MAX_ATTRS];
    wye_hardening hardening;
    wye_field_hardening field_hardening;
    wye_layout layout;
    char *canonical;
    uint8_t fingerprint[WYE_FINGERPRINT_BYTES];
};

/* The fixed set of identifier fields: the name fixes the type (and so the
 * normaliser), so two protocols cannot disagree on what "postcode" means. */
static const struct {
    const char *name;
    wye_field_type type;
} known_fields[] = {
    {"given_name", WYE_TYPE_NAME},
    {"other_given_names", WYE_TYPE_NAME},
    {"family_name", WYE_TYPE_NAME},
    {"former_family_name", WYE_TYPE_NAME},
    {"date_of_birth", WYE_TYPE_DATE},
    {"sex", WYE_TYPE_SEX},
    {"postcode", WYE_TYPE_POSTCODE},
    {"nhs_number", WYE_TYPE_NHS},
    {"address", WYE_TYPE_ADDRESS},
    {"other_id", WYE_TYPE_ID},
};
#define NKNOWN_FIELDS (sizeof known_fields / sizeof known_fields[0])

static const char *const tokeniser_names[] = {
    [WYE_TOK_QGRAM] = "qgram",
    [WYE_TOK_POSITIONAL_QGRAM] = "positional_qgram",
    [WYE_TOK_WHOLE] = "whole",
    [WYE_TOK_DATE_PARTS] = "date_parts",
    [WYE_TOK_SOUNDEX] = "soundex",
};
#define NTOKENISER_NAMES (sizeof tokeniser_names / sizeof tokeniser_names[0])

static const char *const source_names[] = {
    [WYE_ATTR_AGE_BAND] = "age_band",
    [WYE_ATTR_SEX] = "sex",
    [WYE_ATTR_COLUMN] = "column",
};
#define NSOURCE_NAMES (sizeof source_names / sizeof source_names[0])

static const char *const salt_part_names[] = {
    [WYE_SALT_WHOLE] = "whole",
    [WYE_SALT_YEAR] = "year",
};

/* ---- diagnostics ---------------------------------------------------- */

/* A schema violation at key path `path`; the reason never quotes the file. */
static int bad(wye_diag *d, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(wye_diag *d, const char *path, const char *fmt, ...)
{
    char reason[sizeof d->reason];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    wye_diag_set(d, 0, path, "%s", reason);
    return WYE_EJSON;
}

/* path + "." + key; an unprintable byte in a key (only ever reached for
 * unknown keys) is shown as '?'. Truncation only shortens the diag. */
static void path_key(char out[PATH_MAX_LEN], const char *path, const char *key)
{
    int n = snprintf(out, PATH_MAX_LEN, "%s%s%s", path, path[0] ? "." : "", key);
    if (n >= PATH_MAX_LEN)
        memcpy(out + PATH_MAX_LEN - 4, "...", 4); /* show that it was cut */
    for (char *c = out; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
            *c = '?';
}

static void path_index(char out[PATH_MAX_LEN], const char *path, size_t i)
{
    int n = snprintf(out, PATH_MAX_LEN, "%s[%zu]", path, i);
    if (n >= PATH_MAX_LEN)
        memcpy(out + PATH_MAX_LEN - 4, "...", 4);
}

/* ---- typed getters ---------------------------------------------------- */

/* Refuse any key of obj not in allowed (NULL-terminated). */
static int check_keys(const json_t *obj, const char *path, const char *const *allowed,
                      wye_diag *d)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(key, *a) == 0)
                ok = true;
        if (!ok) {
            char p[PATH_MAX_LEN];
            path_key(p, path, key);
            return bad(d, p, "unknown key");
        }
    }
    return WYE_OK;
}

static int get_uint(const json_t *obj, const char *path, const char *key, bool required,
                    unsigned def, unsigned min, unsigned max, unsigned *out, wye_diag *d)
{
    char p[PATH_MAX_LEN];
    path_key(p, path, key);
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return bad(d, p, "missing (required)");
        *out = def;
        return WYE_OK;
    }
    if (!json_is_integer(v))
        return bad(d, p, "must be a whole number");
    json_int_t i = json_integer_value(v);
    if (i < (json_int_t)min || i > (json_int_t)max)
        return bad(d, p, "must be from %u to %u", min, max);
    *out = (unsigned)i;
    return WYE_OK;
}

static int get_bool(const json_t *obj, const char *path, const char *key, bool def,
                    bool *out, wye_diag *d)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        *out = def;
        return WYE_OK;
    }
    if (!json_is_boolean(v)) {
        char p[PATH_MAX_LEN];
        path_key(p, path, key);
        return bad(d, p, "must be true or false");
    }
    *out = json_is_true(v);
    return WYE_OK;
}

/* A printable-ASCII string of min..max bytes: canonical bytes then do not
 * depend on how a serialiser escapes non-ASCII text. */
static int check_string(const json_t *v, const char *p, size_t min, size_t max,
                        const char **out, wye_diag *d)
{
    if (!json_is_string(v))
        return bad(d, p, "must be a string");
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n < min || n > max)
        return bad(d, p, "must be %zu to %zu characters long", min, max);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return bad(d, p, "must be printable ASCII");
    *out = s;
    return WYE_OK;
}

static int get_string(const json_t *obj, const char *path, const char *key, bool required,
                      size_t min, size_t max, const char **out, wye_diag *d)
{
    char p[PATH_MAX_LEN];
    path_key(p, path, key);
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v)
        return required ? bad(d, p, "missing (required)") : WYE_OK;
    return check_string(v, p, min, max, out, d);
}

/* Index of s in names[1..n), or -1. */
static int lookup(const char *s, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] && strcmp(s, names[i]) == 0)
            return (int)i;
    return -1;
}

static bool is_identifier(const char *s)
{
    if (!(*s >= 'a' && *s <= 'z'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

/* ---- fields ------------------------------------------------------------ */

static int parse_tokeniser(const json_t *t, const char *path, wye_field_type ftype,
                           wye_tokeniser *out, wye_diag *d)
{
    if (!json_is_object(t))
        return bad(d, path, "must be an object");
    int rc;
    static const char *const keys[] = {"type", "q", "padding", NULL};
    if ((rc = check_keys(t, path, keys, d)))
        return rc;
    const char *type;
    if ((rc = get_string(t, path, "type", true, 1, 32, &type, d)))
        return rc;
    char p[PATH_MAX_LEN];
    path_key(p, path, "type");
    int k = lookup(type, tokeniser_names, NTOKENISER_NAMES);
    if (k < 0)
        return bad(d, p, "must be qgram, positional_qgram, whole, date_parts or soundex");
    out->type = (wye_tokeniser_type)k;
    if (out->type == WYE_TOK_DATE_PARTS && ftype != WYE_TYPE_DATE)
        return bad(d, p, "date_parts applies only to date_of_birth");
    if (out->type == WYE_TOK_SOUNDEX && ftype != WYE_TYPE_NAME)
        return bad(d, p, "soundex applies only to name fields");
    if (out->type == WYE_TOK_QGRAM || out->type == WYE_TOK_POSITIONAL_QGRAM) {
        if ((rc = get_uint(t, path, "q", false, 2, 1, MAX_Q, &out->q, d)))
            return rc;
        if ((rc = get_bool(t, path, "padding", false, &out->padding, d)))
            return rc;
    } else {
        for (const char *const *kk = keys + 1; *kk; kk++)
            if (json_object_get(t, *kk)) {
                path_key(p, path, *kk);
                return bad(d, p, "applies only to q-gram tokenisers");
            }
        out->q = 0;
        out->padding = false;
    }
    return WYE_OK;
}

static int parse_field(const json_t *f, const char *path, unsigned filter_bits,
                       wye_field_spec *out, wye_diag *d)
{
    if (!json_is_object(f))
        return bad(d, path, "must be an object");
    int rc;
    static const char *const keys[] = {"name", "kdf_id", "tokenisers", "record_bits",
                                       "field_filter_bits", "field_filter_k",
                                       "exact_digest", NULL};
    if ((rc = check_keys(f, path, keys, d)))
        return rc;
    char p[PATH_MAX_LEN];
    const char *name;
    if ((rc = get_string(f, path, "name", true, 1, WYE_NAME_MAX - 1, &name, d)))
        return rc;
    size_t k;
    for (k = 0; k < NKNOWN_FIELDS; k++)
        if (strcmp(name, known_fields[k].name) == 0)
            break;
    if (k == NKNOWN_FIELDS) {
        path_key(p, path, "name");
        return bad(d, p, "not a known field (see PROTOCOL.md)");
    }
    snprintf(out->name, sizeof out->name, "%s", name);
    out->type = known_fields[k].type;
    unsigned u;
    if ((rc = get_uint(f, path, "kdf_id", true, 0, 1, MAX_KDF_ID, &u, d)))
        return rc;
    out->kdf_id = u;

    char tp[PATH_MAX_LEN];
    path_key(tp, path, "tokenisers");
    json_t *toks = json_object_get(f, "tokenisers");
    if (!toks)
        return bad(d, tp, "missing (required)");
    if (!json_is_array(toks) || json_array_size(toks) < 1 ||
        json_array_size(toks) > WYE_MAX_TOKENISERS)
        return bad(d, tp, "must be a list of 1 to %d tokenisers", WYE_MAX_TOKENISERS);
    out->ntokenisers = (unsigned)json_array_size(toks);
    for (size_t i = 0; i < out->ntokenisers; i++) {
        path_index(p, tp, i);
        if ((rc = parse_tokeniser(json_array_get(toks, i), p, out->type, &out->tok[i], d)))
            return rc;
        for (size_t j = 0; j < i; j++)
            if (out->tok[j].type == out->tok[i].type && out->tok[j].q == out->tok[i].q &&
                out->tok[j].padding == out->tok[i].padding)
                return bad(d, p, "repeats tokenisers[%zu]", j);
    }

    if ((rc = get_uint(f, path, "record_bits", false, 0, 0, MAX_FILTER_BITS,
                       &out->record_bits, d)))
        return rc;
    if (out->record_bits > filter_bits) {
        path_key(p, path, "record_bits");
        return bad(d, p, "must be at most filter_bits (%u)", filter_bits);
    }
    if ((rc = get_uint(f, path, "field_filter_bits", false, 0, 0, MAX_FILTER_BITS,
                       &out->field_filter_bits, d)))
        return rc;
    if (out->field_filter_bits % 64) {
        path_key(p, path, "field_filter_bits");
        return bad(d, p, "must be a multiple of 64");
    }
    if ((rc = get_uint(f, path, "field_filter_k", out->field_filter_bits > 0, 0, 0,
                       MAX_FILTER_BITS, &out->field_filter_k, d)))
        return rc;
    path_key(p, path, "field_filter_k");
    if (out->field_filter_bits && !out->field_filter_k)
        return bad(d, p, "must be at least 1");
    if (out->field_filter_k > out->field_filter_bits)
        return bad(d, p, out->field_filter_bits ? "must be at most field_filter_bits"
                                                : "must be 0 when field_filter_bits is 0");
    if ((rc = get_bool(f, path, "exact_digest", false, &out->exact_digest, d)))
        return rc;
    if (!out->record_bits && !out->field_filter_bits && !out->exact_digest)
        return bad(d, path, "contributes nothing: set record_bits, field_filter_bits or "
                            "exact_digest");
    return WYE_OK;
}

/* ---- hardening -------------------------------------------------------- */

static int parse_hardening(const json_t *h, wye_protocol *pr, wye_diag *d)
{
    wye_hardening *o = &pr->hardening;
    memset(o, 0, sizeof *o);
    pr->filter_bits = pr->filter_bits_raw;
    if (!h)
        return WYE_OK;
    if (!json_is_object(h))
        return bad(d, "hardening", "must be an object");
    int rc;
    static const char *const keys[] = {"salting", "balancing", "xor_fold", "diffusion", NULL};
    if ((rc = check_keys(h, "hardening", keys, d)))
        return rc;

    json_t *s = json_object_get(h, "salting");
    if (s && !json_is_false(s)) {
        if (!json_is_object(s))
            return bad(d, "hardening.salting", "must be false or an object");
        static const char *const skeys[] = {"field", "part", NULL};
        if ((rc = check_keys(s, "hardening.salting", skeys, d)))
            return rc;
        const char *field, *part;
        if ((rc = get_string(s, "hardening.salting", "field", true, 1, WYE_NAME_MAX - 1,
                             &field, d)))
            return rc;
        int fi = wye_protocol_field_index(pr, field);
        if (fi < 0)
            return bad(d, "hardening.salting.field", "not a field of this protocol");
        if ((rc = get_string(s, "hardening.salting", "part", false, 1, 16, &part, d)))
            return rc;
        int pi = part ? lookup(part, salt_part_names, 2) : WYE_SALT_WHOLE;
        if (pi < 0)
            return bad(d, "hardening.salting.part", "must be whole or year");
        if (pi == WYE_SALT_YEAR && pr->fields[fi].type != WYE_TYPE_DATE)
            return bad(d, "hardening.salting.part", "year applies only to date_of_birth");
        o->salting = true;
        snprintf(o->salt_field, sizeof o->salt_field, "%s", field);
        o->salt_part = pi;
    }
    if ((rc = get_bool(h, "hardening", "balancing", false, &o->balancing, d)))
        return rc;
    if ((rc = get_bool(h, "hardening", "xor_fold", false, &o->xor_fold, d)))
        return rc;

    unsigned len = pr->filter_bits_raw * (o->balancing ? 2u : 1u);
    if (o->xor_fold) {
        if (len % 128)
            return bad(d, "hardening.xor_fold",
                       "needs filter_bits a multiple of 128 (without balancing)");
        len /= 2;
    }

    json_t *df = json_object_get(h, "diffusion");
    if (df && !json_is_false(df)) {
        if (!json_is_object(df))
            return bad(d, "hardening.diffusion", "must be false or an object");
        static const char *const dkeys[] = {"t", "bits", NULL};
        if ((rc = check_keys(df, "hardening.diffusion", dkeys, d)))
            return rc;
        o->diffusion = true;
        if ((rc = get_uint(df, "hardening.diffusion", "t", true, 0, 1,
                           len < MAX_DIFFUSION_T ? len : MAX_DIFFUSION_T, &o->diffusion_t,
                           d)))
            return rc;
        if ((rc = get_uint(df, "hardening.diffusion", "bits", true, 0, 64, MAX_FILTER_BITS,
                           &o->diffusion_bits, d)))
            return rc;
        if (o->diffusion_bits % 64)
            return bad(d, "hardening.diffusion.bits", "must be a multiple of 64");
        len = o->diffusion_bits;
    }
    if ((o->salting || o->balancing || o->xor_fold || o->diffusion) &&
        pr->filter_bits_raw == 0)
        return bad(d, "hardening", "needs a record-level filter (filter_bits > 0)");
    if (len > MAX_FILTER_BITS)
        return bad(d, "hardening", "stored filter longer than %u bits", MAX_FILTER_BITS);
    pr->filter_bits = len;
    return WYE_OK;
}

/* ---- field-filter hardening ------------------------------------------ */

/* "field_hardening": the same salting as "hardening", XOR folding, and
 * diffusion that keeps each filter's length (so only "t"). */
static int parse_field_hardening(const json_t *h, wye_protocol *pr, wye_diag *d)
{
    wye_field_hardening *o = &pr->field_hardening;
    memset(o, 0, sizeof *o);
    if (!h)
        return WYE_OK;
    if (!json_is_object(h))
        return bad(d, "field_hardening", "must be an object");
    int rc;
    static const char *const keys[] = {"salting", "xor_fold", "diffusion", NULL};
    if ((rc = check_keys(h, "field_hardening", keys, d)))
        return rc;
    json_t *s = json_object_get(h, "salting");
    if (s && !json_is_false(s)) {
        if (!json_is_object(s))
            return bad(d, "field_hardening.salting", "must be false or an object");
        static const char *const skeys[] = {"field", "part", NULL};
        if ((rc = check_keys(s, "field_hardening.salting", skeys, d)))
            return rc;
        const char *field, *part;
        if ((rc = get_string(s, "field_hardening.salting", "field", true, 1, WYE_NAME_MAX - 1,
                             &field, d)))
            return rc;
        int fi = wye_protocol_field_index(pr, field);
        if (fi < 0)
            return bad(d, "field_hardening.salting.field", "not a field of this protocol");
        if ((rc = get_string(s, "field_hardening.salting", "part", false, 1, 16, &part, d)))
            return rc;
        int pi = part ? lookup(part, salt_part_names, 2) : WYE_SALT_WHOLE;
        if (pi < 0)
            return bad(d, "field_hardening.salting.part", "must be whole or year");
        if (pi == WYE_SALT_YEAR && pr->fields[fi].type != WYE_TYPE_DATE)
            return bad(d, "field_hardening.salting.part", "year applies only to date_of_birth");
        o->salting = true;
        snprintf(o->salt_field, sizeof o->salt_field, "%s", field);
        o->salt_part = (unsigned)pi;
    }
    if ((rc = get_bool(h, "field_hardening", "xor_fold", false, &o->xor_fold, d)))
        return rc;
    unsigned minlen = 0;
    bool any = false;
    for (size_t i = 0; i < pr->nfields; i++) {
        unsigned b = pr->fields[i].field_filter_bits;
        if (!b)
            continue;
        if (o->xor_fold && b % 128)
            return bad(d, "field_hardening.xor_fold",
                       "needs every field_filter_bits a multiple of 128");
        b = o->xor_fold ? b / 2 : b;
        minlen = !any || b < minlen ? b : minlen;
        any = true;
    }
    json_t *df = json_object_get(h, "diffusion");
    if (df && !json_is_false(df)) {
        if (!json_is_object(df))
            return bad(d, "field_hardening.diffusion", "must be false or an object");
        static const char *const dkeys[] = {"t", NULL};
        if ((rc = check_keys(df, "field_hardening.diffusion", dkeys, d)))
            return rc;
        o->diffusion = true;
        unsigned tmax = minlen < MAX_DIFFUSION_T ? minlen : MAX_DIFFUSION_T;
        if ((rc = get_uint(df, "field_hardening.diffusion", "t", true, 0, 1, tmax ? tmax : 1,
                           &o->diffusion_t, d)))
            return rc;
    }
    if ((o->salting || o->xor_fold || o->diffusion) && !any)
        return bad(d, "field_hardening", "needs a field filter (field_filter_bits > 0)");
    return WYE_OK;
}

/* ---- attributes ------------------------------------------------------- */

/* "A-B" (A <= B) or "A+", whole years 0..MAX_AGE, no leading zeros. */
static bool parse_age(const char **s, unsigned *out)
{
    const char *c = *s;
    if (!(*c >= '0' && *c <= '9') || (c[0] == '0' && c[1] >= '0' && c[1] <= '9'))
        return false;
    unsigned v = 0;
    while (*c >= '0' && *c <= '9') {
        v = v * 10 + (unsigned)(*c++ - '0');
        if (v > MAX_AGE)
            return false;
    }
    *out = v;
    *s = c;
    return true;
}

static bool parse_band(const char *s, unsigned *lo, unsigned *hi)
{
    if (!parse_age(&s, lo))
        return false;
    if (s[0] == '+' && s[1] == '\0') {
        *hi = MAX_AGE + 1; /* open */
        return true;
    }
    if (*s++ != '-' || !parse_age(&s, hi) || *s)
        return false;
    return *lo <= *hi;
}

static int parse_attr(const json_t *a, const char *path, const wye_protocol *pr,
                      wye_attr_spec *out, wye_diag *d)
{
    if (!json_is_object(a))
        return bad(d, path, "must be an object");
    int rc;
    static const char *const keys[] = {"name", "source", "values", NULL};
    if ((rc = check_keys(a, path, keys, d)))
        return rc;
    char p[PATH_MAX_LEN], vp[PATH_MAX_LEN];
    const char *name, *source;
    if ((rc = get_string(a, path, "name", true, 1, WYE_NAME_MAX - 1, &name, d)))
        return rc;
    if (!is_identifier(name)) {
        path_key(p, path, "name");
        return bad(d, p, "must be lowercase letters, digits and '_', starting with a letter");
    }
    snprintf(out->name, sizeof out->name, "%s", name);
    if ((rc = get_string(a, path, "source", true, 1, 16, &source, d)))
        return rc;
    int si = lookup(source, source_names, NSOURCE_NAMES);
    path_key(p, path, "source");
    if (si < 0)
        return bad(d, p, "must be age_band, sex or column");
    out->source = (wye_attr_source)si;
    if (si == WYE_ATTR_AGE_BAND && wye_protocol_field_index(pr, "date_of_birth") < 0)
        return bad(d, p, "age_band needs the date_of_birth field");
    if (si == WYE_ATTR_SEX && wye_protocol_field_index(pr, "sex") < 0)
        return bad(d, p, "sex needs the sex field");

    path_key(vp, path, "values");
    json_t *vals = json_object_get(a, "values");
    if (!vals)
        return bad(d, vp, "missing (required)");
    if (!json_is_array(vals) || json_array_size(vals) < 1 ||
        json_array_size(vals) > WYE_MAX_ATTR_VALUES)
        return bad(d, vp, "must be a list of 1 to %d strings", WYE_MAX_ATTR_VALUES);
    out->nvalues = (unsigned)json_array_size(vals);
    unsigned prev_hi = 0;
    for (size_t i = 0; i < out->nvalues; i++) {
        const char *v = NULL;
        path_index(p, vp, i);
        if ((rc = check_string(json_array_get(vals, i), p, 1, WYE_ATTR_VALUE_MAX - 1, &v, d)))
            return rc;
        size_t n = strlen(v);
        if (v[0] == ' ' || v[n - 1] == ' ')
            return bad(d, p, "must not begin or end with a space");
        for (size_t j = 0; j < i; j++)
            if (strcmp(out->values[j], v) == 0)
                return bad(d, p, "repeats values[%zu]", j);
        if (si == WYE_ATTR_AGE_BAND) {
            unsigned lo, hi;
            if (!parse_band(v, &lo, &hi))
                return bad(d, p, "must be an age band A-B or A+ (whole years, A <= B)");
            if (i > 0 && lo <= prev_hi)
                return bad(d, p, "must start above the previous band's end");
            prev_hi = hi;
        } else if (si == WYE_ATTR_SEX && strcmp(v, "F") && strcmp(v, "M") && strcmp(v, "X")) {
            return bad(d, p, "must be F, M or X");
        }
        snprintf(out->values[i], sizeof out->values[i], "%s", v);
    }
    return WYE_OK;
}

/* ---- layout ----------------------------------------------------------- */

static size_t align8(size_t x)
{
    return (x + 7) & ~(size_t)7;
}

static void compute_layout(wye_protocol *pr)
{
    wye_layout *l = &pr->layout;
    memset(l, 0, sizeof *l);
    size_t off = 0;
    l->pseudonym_off = off;
    off += WYE_PSEUDONYM_BYTES;
    l->presence_off = off;
    off += 2;
    l->attr_off = off;
    off += pr->nattrs;
    off = align8(off);
    l->filter_off = off;
    l->filter_bytes = pr->filter_bits / 8;
    off += l->filter_bytes;
    for (size_t i = 0; i < pr->nfields; i++) {
        if (!pr->fields[i].field_filter_bits)
            continue;
        assert(off % 8 == 0);
        l->field_filter_off[i] = off;
        l->field_filter_bytes[i] =
            pr->fields[i].field_filter_bits / (pr->field_hardening.xor_fold ? 16 : 8);
        off += l->field_filter_bytes[i];
    }
    for (size_t i = 0; i < pr->nfields; i++) {
        if (!pr->fields[i].exact_digest)
            continue;
        l->digest_off[i] = off;
        off += WYE_DIGEST_BYTES;
    }
    l->record_size = align8(off);
}

/* ---- canonical form --------------------------------------------------- */

/* Build the canonical JSON object from the parsed structure (not from the
 * input): every default is written out and the description is left out, so
 * only what changes the encoding changes the fingerprint. */
static json_t *canonical_json(const wye_protocol *pr)
{
    json_t *root = json_object();
    json_t *fields = json_array();
    json_t *attrs = json_array();
    json_t *hard = json_object();
    if (!root || !fields || !attrs || !hard)
        goto fail;
    int e = 0;
    e |= json_object_set_new(root, "format", json_string(FORMAT_NAME));
    e |= json_object_set_new(root, "version", json_integer(WYE_PROTOCOL_SCHEMA_VERSION));
    e |= json_object_set_new(root, "name", json_string(pr->name));
    e |= json_object_set_new(root, "filter_bits", json_integer(pr->filter_bits_raw));
    for (size_t i = 0; i < pr->nfields; i++) {
        const wye_field_spec *f = &pr->fields[i];
        json_t *o = json_object(), *toks = json_array();
        if (!o || !toks) {
            json_decref(o);
            json_decref(toks);
            goto fail;
        }
        for (unsigned t = 0; t < f->ntokenisers; t++) {
            json_t *to = json_object();
            e |= json_array_append_new(toks, to);
            if (!to)
                break;
            e |= json_object_set_new(to, "type", json_string(tokeniser_names[f->tok[t].type]));
            if (f->tok[t].type == WYE_TOK_QGRAM || f->tok[t].type == WYE_TOK_POSITIONAL_QGRAM) {
                e |= json_object_set_new(to, "q", json_integer(f->tok[t].q));
                e |= json_object_set_new(to, "padding", json_boolean(f->tok[t].padding));
            }
        }
        e |= json_object_set_new(o, "name", json_string(f->name));
        e |= json_object_set_new(o, "kdf_id", json_integer(f->kdf_id));
        e |= json_object_set_new(o, "tokenisers", toks);
        e |= json_object_set_new(o, "record_bits", json_integer(f->record_bits));
        e |= json_object_set_new(o, "field_filter_bits", json_integer(f->field_filter_bits));
        e |= json_object_set_new(o, "field_filter_k", json_integer(f->field_filter_k));
        e |= json_object_set_new(o, "exact_digest", json_boolean(f->exact_digest));
        e |= json_array_append_new(fields, o);
    }
    const wye_hardening *h = &pr->hardening;
    if (h->salting) {
        json_t *s = json_object();
        e |= json_object_set_new(hard, "salting", s);
        if (s) {
            e |= json_object_set_new(s, "field", json_string(h->salt_field));
            e |= json_object_set_new(s, "part", json_string(salt_part_names[h->salt_part]));
        }
    } else {
        e |= json_object_set_new(hard, "salting", json_false());
    }
    e |= json_object_set_new(hard, "balancing", json_boolean(h->balancing));
    e |= json_object_set_new(hard, "xor_fold", json_boolean(h->xor_fold));
    if (h->diffusion) {
        json_t *df = json_object();
        e |= json_object_set_new(hard, "diffusion", df);
        if (df) {
            e |= json_object_set_new(df, "t", json_integer(h->diffusion_t));
            e |= json_object_set_new(df, "bits", json_integer(h->diffusion_bits));
        }
    } else {
        e |= json_object_set_new(hard, "diffusion", json_false());
    }
    for (size_t i = 0; i < pr->nattrs; i++) {
        const wye_attr_spec *a = &pr->attrs[i];
        json_t *o = json_object(), *vals = json_array();
        if (!o || !vals) {
            json_decref(o);
            json_decref(vals);
            goto fail;
        }
        for (unsigned v = 0; v < a->nvalues; v++)
            e |= json_array_append_new(vals, json_string(a->values[v]));
        e |= json_object_set_new(o, "name", json_string(a->name));
        e |= json_object_set_new(o, "source", json_string(source_names[a->source]));
        e |= json_object_set_new(o, "values", vals);
        e |= json_array_append_new(attrs, o);
    }
    e |= json_object_set_new(root, "fields", fields);
    e |= json_object_set_new(root, "hardening", hard);
    /* Only when on: protocols without it keep the canonical form (and so
     * the fingerprint) they had before the key existed. */
    const wye_field_hardening *fh = &pr->field_hardening;
    if (wye_protocol_field_hardened(pr)) {
        json_t *fo = json_object();
        e |= json_object_set_new(root, "field_hardening", fo);
        if (fo) {
            if (fh->salting) {
                json_t *s = json_object();
                e |= json_object_set_new(fo, "salting", s);
                if (s) {
                    e |= json_object_set_new(s, "field", json_string(fh->salt_field));
                    e |= json_object_set_new(s, "part",
                                             json_string(salt_part_names[fh->salt_part]));
                }
            } else {
                e |= json_object_set_new(fo, "salting", json_false());
            }
            e |= json_object_set_new(fo, "xor_fold", json_boolean(fh->xor_fold));
            if (fh->diffusion) {
                json_t *df = json_object();
                e |= json_object_set_new(fo, "diffusion", df);
                if (df)
                    e |= json_object_set_new(df, "t", json_integer(fh->diffusion_t));
            } else {
                e |= json_object_set_new(fo, "diffusion", json_false());
            }
        }
    }
    e |= json_object_set_new(root, "attributes", attrs);
    if (e) {
        json_decref(root);
        return NULL;
    }
    return root;
fail:
    json_decref(root);
    json_decref(fields);
    json_decref(attrs);
    json_decref(hard);
    return NULL;
}

/* ---- parse ------------------------------------------------------------ */

static int parse_root(const json_t *root, wye_protocol *pr, wye_diag *d)
{
    int rc;
    if (!json_is_object(root))
        return bad(d, "", "the top level must be an object");
    /* format and version first: a newer schema may have keys we do not know,
     * and must be refused as a version, not as unknown keys. */
    const char *fmt;
    if ((rc = get_string(root, "", "format", true, 1, 64, &fmt, d)))
        return rc;
    if (strcmp(fmt, FORMAT_NAME) != 0)
        return bad(d, "format", "must be " FORMAT_NAME " (not a protocol file)");
    json_t *ver = json_object_get(root, "version");
    if (!ver)
        return bad(d, "version", "missing (required)");
    if (!json_is_integer(ver))
        return bad(d, "version", "must be a whole number");
    if (json_integer_value(ver) != WYE_PROTOCOL_SCHEMA_VERSION) {
        bad(d, "version", "this build reads protocol schema version %d",
            WYE_PROTOCOL_SCHEMA_VERSION);
        return WYE_EVERSION;
    }
    static const char *const keys[] = {"format",      "version", "name",      "description",
                                       "filter_bits", "fields",  "hardening", "attributes",
                                       "field_hardening", NULL};
    if ((rc = check_keys(root, "", keys, d)))
        return rc;
    const char *name;
    if ((rc = get_string(root, "", "name", true, 1, MAX_NAME_LEN, &name, d)))
        return rc;
    snprintf(pr->name, sizeof pr->name, "%s", name);
    /* The description is prose for people: any UTF-8 text, not canonical. */
    json_t *dv = json_object_get(root, "description");
    if (dv && (!json_is_string(dv) || json_string_length(dv) > MAX_DESCRIPTION_LEN))
        return bad(d, "description", "must be a string of at most %u bytes",
                   MAX_DESCRIPTION_LEN);
    if ((rc = get_uint(root, "", "filter_bits", true, 0, 0, MAX_FILTER_BITS,
                       &pr->filter_bits_raw, d)))
        return rc;
    if (pr->filter_bits_raw % 64)
        return bad(d, "filter_bits", "must be a multiple of 64");

    json_t *fields = json_object_get(root, "fields");
    if (!fields)
        return bad(d, "fields", "missing (required)");
    if (!json_is_array(fields) || json_array_size(fields) < 1 ||
        json_array_size(fields) > WYE_MAX_FIELDS)
        return bad(d, "fields", "must be a list of 1 to %d fields", WYE_MAX_FIELDS);
    bool feeds = false;
    for (size_t i = 0; i < json_array_size(fields); i++) {
        char p[PATH_MAX_LEN];
        path_index(p, "fields", i);
        if ((rc = parse_field(json_array_get(fields, i), p, pr->filter_bits_raw,
                              &pr->fields[i], d)))
            return rc;
        if (wye_protocol_field_index(pr, pr->fields[i].name) >= 0) {
            char np[PATH_MAX_LEN];
            path_key(np, p, "name");
            return bad(d, np, "field listed twice");
        }
        pr->nfields = i + 1;
        feeds |= pr->fields[i].record_bits > 0;
    }
    if (pr->filter_bits_raw && !feeds)
        return bad(d, "filter_bits", "no field has record_bits: set filter_bits to 0");

    if ((rc = parse_hardening(json_object_get(root, "hardening"), pr, d)))
        return rc;
    if ((rc = parse_field_hardening(json_object_get(root, "field_hardening"), pr, d)))
        return rc;

    json_t *attrs = json_object_get(root, "attributes");
    if (attrs) {
        if (!json_is_array(attrs) || json_array_size(attrs) > WYE_MAX_ATTRS)
            return bad(d, "attributes", "must be a list of at most %d attributes",
                       WYE_MAX_ATTRS);
        for (size_t i = 0; i < json_array_size(attrs); i++) {
            char p[PATH_MAX_LEN];
            path_index(p, "attributes", i);
            if ((rc = parse_attr(json_array_get(attrs, i), p, pr, &pr->attrs[i], d)))
                return rc;
            for (size_t j = 0; j < i; j++)
                if (strcmp(pr->attrs[j].name, pr->attrs[i].name) == 0) {
                    char np[PATH_MAX_LEN];
                    path_key(np, p, "name");
                    return bad(d, np, "repeats attributes[%zu]", j);
                }
            pr->nattrs = i + 1;
        }
    }
    return WYE_OK;
}

static const char *json_error_reason(const json_error_t *e)
{
    switch (json_error_code(e)) {
    case json_error_out_of_memory: return "out of memory";
    case json_error_premature_end_of_input: return "ends early";
    case json_error_end_of_input_expected: return "text after the end of the JSON value";
    case json_error_invalid_utf8: return "invalid UTF-8";
    case json_error_null_character: return "NUL character";
    case json_error_duplicate_key: return "a key appears twice in one object";
    case json_error_numeric_overflow: return "number too large";
    case json_error_item_not_found: return "item not found";
    case json_error_index_out_of_range: return "index out of range";
    case json_error_wrong_type: return "the top level must be an object";
    default: return "malformed JSON";
    }
}

int wye_protocol_parse(const char *json, size_t len, wye_protocol **out, wye_diag *diag)
{
    if (!out || (!json && len))
        return WYE_EINVAL;
    *out = NULL;
    wye_diag_clear(diag);
    json_error_t err;
    json_t *root = json_loadb(json ? json : "", len, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        if (json_error_code(&err) == json_error_out_of_memory)
            return WYE_ENOMEM;
        wye_diag_set(diag, err.line > 0 ? (uint64_t)err.line : 0, NULL,
                     "%s (column %d)", json_error_reason(&err), err.column);
        return WYE_EJSON;
    }
    wye_protocol *pr = calloc(1, sizeof *pr);
    if (!pr) {
        json_decref(root);
        return WYE_ENOMEM;
    }
    int rc = parse_root(root, pr, diag);
    json_decref(root);
    if (rc == WYE_OK) {
        compute_layout(pr);
        json_t *c = canonical_json(pr);
        pr->canonical = c ? json_dumps(c, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
        json_decref(c);
        if (!pr->canonical)
            rc = WYE_ENOMEM;
    }
    if (rc == WYE_OK)
        crypto_generichash(pr->fingerprint, sizeof pr->fingerprint,
                           (const unsigned char *)pr->canonical, strlen(pr->canonical),
                           NULL, 0);
    if (rc != WYE_OK) {
        wye_protocol_free(pr);
        return rc;
    }
    *out = pr;
    return WYE_OK;
}

int wye_protocol_load(const char *path, wye_protocol **out, wye_diag *diag)
{
    if (!path || !out)
        return WYE_EINVAL;
    *out = NULL;
    wye_diag_clear(diag);
    char *buf;
    size_t len;
    int rc = wye_read_file(path, MAX_FILE_BYTES, &buf, &len);
    if (rc == WYE_ERANGE) {
        wye_diag_set(diag, 0, NULL, "larger than %u bytes", MAX_FILE_BYTES);
        return WYE_EJSON;
    }
    if (rc == WYE_ENOTFOUND)
        return WYE_EIO; /* errno (ENOENT) says why */
    if (rc != WYE_OK)
        return rc;
    rc = wye_protocol_parse(buf, len, out, diag);
    free(buf);
    return rc;
}

size_t wye_protocol_builtin_count(void)
{
    return wye_builtin_nprofiles;
}

const char *wye_protocol_builtin_name(size_t i)
{
    return i < wye_builtin_nprofiles ? wye_builtin_profiles[i].name : NULL;
}

const char *wye_protocol_builtin_source(size_t i)
{
    return i < wye_builtin_nprofiles ? wye_builtin_profiles[i].source : NULL;
}

static int parse_builtin(size_t i, wye_protocol **out, wye_diag *diag)
{
    return wye_protocol_parse(wye_builtin_profiles[i].json, wye_builtin_profiles[i].len, out,
                              diag);
}

int wye_protocol_builtin(const char *name, wye_protocol **out, wye_diag *diag)
{
    if (!name || !out)
        return WYE_EINVAL;
    *out = NULL;
    wye_diag_clear(diag);
    for (size_t i = 0; i < wye_builtin_nprofiles; i++)
        if (strcmp(name, wye_builtin_profiles[i].name) == 0)
            return parse_builtin(i, out, diag);
    /* A profile's own name is found by parsing each (a few kilobytes): the
     * parser is the one authority on what a profile is called. */
    for (size_t i = 0; i < wye_builtin_nprofiles; i++) {
        wye_protocol *p;
        int rc = parse_builtin(i, &p, diag);
        if (rc != WYE_OK)
            return rc;
        if (strcmp(name, p->name) == 0) {
            *out = p;
            return WYE_OK;
        }
        wye_protocol_free(p);
    }
    return WYE_ENOTFOUND;
}

void wye_protocol_free(wye_protocol *p)
{
    if (!p)
        return;
    free(p->canonical);
    free(p);
}

const char *wye_protocol_name(const wye_protocol *p)
{
    return p->name;
}

size_t wye_protocol_nfields(const wye_protocol *p)
{
    return p->nfields;
}

const wye_field_spec *wye_protocol_field(const wye_protocol *p, size_t i)
{
    return i < p->nfields ? &p->fields[i] : NULL;
}

int wye_protocol_field_index(const wye_protocol *p, const char *name)
{
    for (size_t i = 0; i < p->nfields; i++)
        if (strcmp(p->fields[i].name, name) == 0)
            return (int)i;
    return -1;
}

size_t wye_protocol_nattrs(const wye_protocol *p)
{
    return p->nattrs;
}

const wye_attr_spec *wye_protocol_attr(const wye_protocol *p, size_t i)
{
    return i < p->nattrs ? &p->attrs[i] : NULL;
}

const wye_hardening *wye_protocol_hardening(const wye_protocol *p)
{
    return &p->hardening;
}

const wye_field_hardening *wye_protocol_field_hardening(const wye_protocol *p)
{
    return &p->field_hardening;
}

bool wye_protocol_field_hardened(const wye_protocol *p)
{
    const wye_field_hardening *h = &p->field_hardening;
    return h->salting || h->xor_fold || h->diffusion;
}

unsigned wye_protocol_filter_bits_raw(const wye_protocol *p)
{
    return p->filter_bits_raw;
}

unsigned wye_protocol_filter_bits(const wye_protocol *p)
{
    return p->filter_bits;
}

const wye_layout *wye_protocol_layout(const wye_protocol *p)
{
    return &p->layout;
}

void wye_protocol_fingerprint(const wye_protocol *p, uint8_t out[WYE_FINGERPRINT_BYTES])
{
    memcpy(out, p->fingerprint, WYE_FINGERPRINT_BYTES);
}

int wye_protocol_canonical(const wye_protocol *p, char **out)
{
    if (!p || !out)
        return WYE_EINVAL;
    *out = strdup(p->canonical);
    return *out ? WYE_OK : WYE_ENOMEM;
}

int wye_attr_value_index(const wye_attr_spec *a, const char *value)
{
    if (!a || !value)
        return -1;
    for (unsigned i = 0; i < a->nvalues; i++)
        if (strcmp(a->values[i], value) == 0)
            return (int)i;
    return -1;
}
