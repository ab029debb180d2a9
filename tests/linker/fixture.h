/* Test fixture for the linker suites: records made by hand in the layout a
 * protocol fixes, with a stand-in encoder (q-grams, date parts and whole
 * values hashed with an unkeyed mix) that has the properties the linker
 * relies on: equal values set equal bits, fields sharing a kdf_id and
 * tokeniser set the same bits for the same token, similar values share most
 * bits. It is not the agency encoder and is not secret. */
#ifndef WYELINK_TEST_LINKER_FIXTURE_H
#define WYELINK_TEST_LINKER_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wyelink/protocol.h"

/* One person's identifiers as an agency holds them; NULL = missing. */
typedef struct fx_person {
    const char *given, *other, *family, *former, *dob, *sex, *postcode, *nhs;
} fx_person;

/* The fields of later protocols (fx_encode_extra); NULL = missing. */
typedef struct fx_extra {
    const char *address, *other_id;
} fx_extra;

static inline uint64_t fx_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static inline uint64_t fx_hash(const char *s, size_t n, uint64_t seed)
{
    uint64_t h = 1469598103934665603ull ^ seed;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return fx_mix(h);
}

static inline const char *fx_value(const fx_person *p, const fx_extra *x, const char *field)
{
    if (x && !strcmp(field, "address"))
        return x->address;
    if (x && !strcmp(field, "other_id"))
        return x->other_id;
    if (!strcmp(field, "given_name"))
        return p->given;
    if (!strcmp(field, "other_given_names"))
        return p->other;
    if (!strcmp(field, "family_name"))
        return p->family;
    if (!strcmp(field, "former_family_name"))
        return p->former;
    if (!strcmp(field, "date_of_birth"))
        return p->dob;
    if (!strcmp(field, "sex"))
        return p->sex;
    if (!strcmp(field, "postcode"))
        return p->postcode;
    if (!strcmp(field, "nhs_number"))
        return p->nhs;
    return NULL;
}

/* Tokens of a value as the field's first tokeniser makes them. */
static inline size_t fx_tokens(const wye_field_spec *f, const char *v, char tok[][16], size_t max)
{
    size_t n = 0, len = strlen(v);
    const wye_tokeniser *t = &f->tok[0];
    if (t->type == WYE_TOK_DATE_PARTS && len == 8) {
        snprintf(tok[n++], 16, "D%.2s", v + 6);
        snprintf(tok[n++], 16, "M%.2s", v + 4);
        snprintf(tok[n++], 16, "Y%.4s", v);
        return n;
    }
    if (t->type == WYE_TOK_QGRAM || t->type == WYE_TOK_POSITIONAL_QGRAM) {
        char buf[80];
        unsigned q = t->q ? t->q : 2, pad = t->padding ? q - 1 : 0;
        snprintf(buf, sizeof buf, "%.*s%s%.*s", (int)pad, "____", v, (int)pad, "____");
        size_t bl = strlen(buf);
        for (size_t i = 0; i + q <= bl && n < max; i++)
            snprintf(tok[n++], 16, "%.*s", (int)q, buf + i);
        return n;
    }
    snprintf(tok[n++], 16, "%.15s", v);
    return n;
}

static inline void fx_set_bits(uint8_t *filter, size_t bits, uint64_t kdf, const char *which,
                               char tok[][16], size_t ntok, unsigned budget)
{
    if (!ntok || !bits)
        return;
    unsigned k = (budget + (unsigned)ntok - 1) / (unsigned)ntok;
    for (size_t t = 0; t < ntok; t++)
        for (unsigned j = 0; j < k; j++) {
            uint64_t h = fx_hash(tok[t], strlen(tok[t]), kdf * 1000003u + j) ^
                         fx_hash(which, strlen(which), 7);
            uint64_t pos = fx_mix(h) % bits;
            filter[pos / 8] |= (uint8_t)(1u << (pos % 8));
        }
}

/* Encode p (and x, which may be NULL) into out (layout->record_size
 * bytes) for protocol proto. */
static inline void fx_encode_extra(const wye_protocol *proto, const fx_person *p,
                                   const fx_extra *x, const char *local_id, uint8_t *out)
{
    const wye_layout *lay = wye_protocol_layout(proto);
    memset(out, 0, lay->record_size);
    uint64_t h1 = fx_hash(local_id, strlen(local_id), 1), h2 = fx_hash(local_id, strlen(local_id), 2);
    memcpy(out + lay->pseudonym_off, &h1, 8);
    memcpy(out + lay->pseudonym_off + 8, &h2, 8);
    unsigned presence = 0;
    size_t rbits = lay->filter_bytes * 8;
    for (size_t f = 0; f < wye_protocol_nfields(proto); f++) {
        const wye_field_spec *fs = wye_protocol_field(proto, f);
        const char *v = fx_value(p, x, fs->name);
        if (!v || !*v)
            continue;
        presence |= 1u << f;
        char tok[64][16];
        size_t nt = fx_tokens(fs, v, tok, 64);
        if (fs->record_bits && rbits)
            fx_set_bits(out + lay->filter_off, rbits, fs->kdf_id, "record", tok, nt,
                        fs->record_bits);
        if (fs->field_filter_bits)
            fx_set_bits(out + lay->field_filter_off[f], fs->field_filter_bits, fs->kdf_id,
                        "field", tok, nt, fs->field_filter_k);
        if (fs->exact_digest) {
            uint64_t d = fx_hash(v, strlen(v), 1003 + f) | 1;
            memcpy(out + lay->digest_off[f], &d, 8);
        }
    }
    out[lay->presence_off] = (uint8_t)(presence & 0xff);
    out[lay->presence_off + 1] = (uint8_t)(presence >> 8);
}

/* Encode p into out (layout->record_size bytes) for protocol proto. */
static inline void fx_encode(const wye_protocol *proto, const fx_person *p, const char *local_id,
                             uint8_t *out)
{
    fx_encode_extra(proto, p, NULL, local_id, out);
}

/* A protocol file under the source root; NULL if it does not load. */
static inline wye_protocol *fx_protocol(const char *rel)
{
    const char *root = getenv("WYELINK_SOURCE_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root ? root : ".", rel);
    wye_protocol *p = NULL;
    wye_diag d;
    if (wye_protocol_load(path, &p, &d) != WYE_OK)
        return NULL;
    return p;
}

/* The first default protocol, wyelink-da-default-1 (protocols/archive): the
 * linker tests pin its comparisons and layout, whatever the shipped default
 * becomes. */
static inline wye_protocol *fx_default_protocol(void)
{
    return fx_protocol("protocols/archive/wyelink-da-default-1.json");
}

/* The shipped default (wyelink-da-default-2 and later), which has address
 * and other_id: for the tests of what the linker does with those fields. */
static inline wye_protocol *fx_address_protocol(void)
{
    return fx_protocol("protocols/default.json");
}

#endif
