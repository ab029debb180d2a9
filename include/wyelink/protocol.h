/* wyelink: the linkage protocol (protocols/PROTOCOL.md).
 *
 * A protocol file (JSON) says which identifier fields are encoded, how each
 * is normalised and tokenised, how tokens become Bloom-filter bits, which
 * hardening applies, and which non-identifying attributes may travel with a
 * record. Two encoded files are comparable only if their protocols have the
 * same fingerprint: a BLAKE2b-256 digest of the protocol's canonical form.
 *
 * The parsed protocol also fixes the byte layout of one encoded record
 * (wye_layout), shared by the hashing client that writes records and the
 * linker that reads them.
 *
 * Ownership: wye_protocol_parse/_load/_builtin return a protocol owned by the
 * caller, freed with wye_protocol_free. Pointers returned by accessors point
 * into the protocol and live as long as it.
 * Thread safety: a parsed protocol is immutable; all accessors may be called
 * from any number of threads at once.
 */
#ifndef WYELINK_PROTOCOL_H
#define WYELINK_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wyelink/error.h"

#define WYE_MAX_FIELDS 16
#define WYE_MAX_TOKENISERS 4
#define WYE_MAX_ATTRS 8
#define WYE_MAX_ATTR_VALUES 32
#define WYE_NAME_MAX 32          /* field/attribute name incl. NUL */
#define WYE_ATTR_VALUE_MAX 24    /* attribute value incl. NUL */
#define WYE_FINGERPRINT_BYTES 32 /* BLAKE2b-256 of the canonical form */
#define WYE_KEY_ID_BYTES 8       /* identifies a linkage secret */
#define WYE_PSEUDONYM_BYTES 16   /* a record's pseudonym */
#define WYE_DIGEST_BYTES 8       /* a keyed exact digest of one field */

/* What kind of value a field holds; selects its normaliser. */
typedef enum wye_field_type {
    WYE_TYPE_NAME = 1,     /* a personal name or names */
    WYE_TYPE_DATE = 2,     /* a date, normalised to YYYYMMDD */
    WYE_TYPE_SEX = 3,      /* F, M or X (other/indeterminate) */
    WYE_TYPE_POSTCODE = 4, /* a UK postcode, "OUTWARD INWARD" */
    WYE_TYPE_NHS = 5,      /* a 10-digit NHS number with valid check digit */
    WYE_TYPE_ADDRESS = 6,  /* a street address line: letters, digits, spaces */
    WYE_TYPE_ID = 7,       /* another identifier (e.g. a social security or
                              local person number): letters and digits */
} wye_field_type;

typedef enum wye_tokeniser_type {
    WYE_TOK_QGRAM = 1,            /* character q-grams, optionally padded */
    WYE_TOK_POSITIONAL_QGRAM = 2, /* q-grams tagged with their position */
    WYE_TOK_WHOLE = 3,            /* the whole normalised value, one token */
    WYE_TOK_DATE_PARTS = 4,       /* day, month and year as three tokens */
    WYE_TOK_SOUNDEX = 5,          /* the Soundex code of each name part */
} wye_tokeniser_type;

typedef struct wye_tokeniser {
    wye_tokeniser_type type;
    unsigned q;   /* gram length, for the q-gram tokenisers */
    bool padding; /* pad with q-1 '_' each side, for q-grams */
} wye_tokeniser;

typedef struct wye_field_spec {
    char name[WYE_NAME_MAX]; /* given_name, family_name, date_of_birth, ... */
    wye_field_type type;
    uint32_t kdf_id;         /* pinned KDF subkey id of this field's key */
    unsigned ntokenisers;
    wye_tokeniser tok[WYE_MAX_TOKENISERS];
    /* Bits this field sets in the record-level filter, whatever the value's
     * length: k = ceil(record_bits / ntokens) positions per token. 0 = the
     * field does not feed the record-level filter. */
    unsigned record_bits;
    /* Length in bits (multiple of 64) of the field's own filter; 0 = none. */
    unsigned field_filter_bits;
    /* Bits the field sets in its own filter, as record_bits above. */
    unsigned field_filter_k;
    /* Whether the record carries a keyed exact digest of the value. */
    bool exact_digest;
} wye_field_spec;

/* Hardening of the record-level filter, applied in this order:
 * salting (while hashing), balancing, XOR folding, diffusion. */
typedef struct wye_hardening {
    /* Every hash key of the record is mixed with this field's normalised
     * value (a stable attribute, e.g. year of birth), so the same name in
     * different salt groups sets unrelated bits. */
    bool salting;
    char salt_field[WYE_NAME_MAX]; /* a field name */
    enum { WYE_SALT_WHOLE = 0, WYE_SALT_YEAR = 1 } salt_part;
    /* The filter is followed by its complement and the 2L bits are
     * permuted with a keyed permutation: every filter has weight L. */
    bool balancing;
    /* The filter's two halves are XORed: the length halves. */
    bool xor_fold;
    /* Each output bit is the XOR of diffusion_t input bits chosen by a keyed
     * draw (Armknecht et al. 2023); output length diffusion_bits. */
    bool diffusion;
    unsigned diffusion_t;
    unsigned diffusion_bits;
} wye_hardening;

/* Hardening of the field filters (the protocol's "field_hardening"; all
 * off when absent, and then a protocol encodes exactly as before the key
 * existed). It applies to every field filter alike, so fields that share a
 * key stay comparable with each other, in this order: salting (while
 * hashing), XOR folding, diffusion. Exact digests are never hardened. */
typedef struct wye_field_hardening {
    /* Every field-filter hash key is mixed with this field's normalised
     * value (salt_part: WYE_SALT_WHOLE or WYE_SALT_YEAR): the same name in
     * two salt groups sets unrelated bits, and identical field filters need
     * the same name and the same salt. */
    bool salting;
    char salt_field[WYE_NAME_MAX];
    unsigned salt_part;
    /* Each field filter's two halves are XORed: its stored length halves. */
    bool xor_fold;
    /* Each stored bit is the XOR of diffusion_t bits of the (folded) filter
     * chosen by a keyed draw, one draw per filter length; the length is
     * kept. */
    bool diffusion;
    unsigned diffusion_t;
} wye_field_hardening;

/* Where an attribute's value comes from. */
typedef enum wye_attr_source {
    WYE_ATTR_AGE_BAND = 1, /* from date_of_birth at the extract date */
    WYE_ATTR_SEX = 2,      /* from the sex field */
    WYE_ATTR_COLUMN = 3,   /* an agency column named in the column map */
} wye_attr_source;

/* A non-identifying attribute an agency may send with each record.
 * For WYE_ATTR_AGE_BAND each value is "A-B" or "A+" (whole years). */
typedef struct wye_attr_spec {
    char name[WYE_NAME_MAX];
    wye_attr_source source;
    unsigned nvalues;
    char values[WYE_MAX_ATTR_VALUES][WYE_ATTR_VALUE_MAX];
} wye_attr_spec;

/* Byte layout of one encoded record. All offsets are from the record's
 * first byte; filters start on 8-byte boundaries. */
typedef struct wye_layout {
    size_t record_size;
    size_t pseudonym_off;  /* WYE_PSEUDONYM_BYTES */
    size_t presence_off;   /* uint16 little-endian: bit i = field i present */
    size_t attr_off;       /* one byte per attribute: 0 missing, v+1 = values[v] */
    size_t filter_off;     /* record-level filter (after hardening) */
    size_t filter_bytes;   /* 0 if no field feeds it */
    size_t field_filter_off[WYE_MAX_FIELDS];   /* per field */
    size_t field_filter_bytes[WYE_MAX_FIELDS]; /* 0 = no field filter; after
                                                  field hardening (halved by
                                                  XOR folding) */
    size_t digest_off[WYE_MAX_FIELDS];         /* WYE_DIGEST_BYTES; valid if
                                                  exact_digest; all zero
                                                  when the field is missing */
} wye_layout;

typedef struct wye_protocol wye_protocol;

/* Parse a protocol from JSON text (len bytes, need not be NUL-terminated).
 * Errors: WYE_EJSON (malformed or breaks the schema; diag names the key),
 * WYE_EVERSION (unknown schema version), WYE_ENOMEM. */
WYE_API int wye_protocol_parse(const char *json, size_t len, wye_protocol **out,
                               wye_diag *diag);
/* Read and parse a protocol file. Also WYE_EIO. */
WYE_API int wye_protocol_load(const char *path, wye_protocol **out, wye_diag *diag);
/* NULL is allowed. */
WYE_API void wye_protocol_free(wye_protocol *p);

/* Built-in profiles. The shipped protocol files (protocols/default.json and
 * every earlier default in protocols/archive/) are compiled into the library,
 * byte for byte, and parsed by wye_protocol_parse like a file: a built-in
 * profile has exactly the fingerprint of the file it was built from. */

/* The name of the default built-in profile (protocols/default.json). */
#define WYE_PROTOCOL_DEFAULT "default"

/* How many profiles are built in; index 0 is the default. */
WYE_API size_t wye_protocol_builtin_count(void);
/* The i-th built-in profile's name (WYE_PROTOCOL_DEFAULT, or an archived
 * profile's own name, e.g. "wyelink-da-default-1") and the file it was built
 * from, relative to the source tree ("protocols/default.json"). Static
 * strings; NULL when i >= wye_protocol_builtin_count(). */
WYE_API const char *wye_protocol_builtin_name(size_t i);
WYE_API const char *wye_protocol_builtin_source(size_t i);
/* Parse the built-in profile called name: a name above, or a built-in
 * profile's own name (its "name" key; "wyelink-da-default-2" is the
 * default). Errors: WYE_ENOTFOUND (no built-in profile of that name),
 * WYE_ENOMEM, WYE_EINVAL (NULL argument); WYE_EJSON and WYE_EVERSION as
 * wye_protocol_parse, which the tests rule out for every shipped profile. */
WYE_API int wye_protocol_builtin(const char *name, wye_protocol **out, wye_diag *diag);

WYE_API const char *wye_protocol_name(const wye_protocol *p);
WYE_API size_t wye_protocol_nfields(const wye_protocol *p);
WYE_API const wye_field_spec *wye_protocol_field(const wye_protocol *p, size_t i);
/* Index of the field called name, or -1. */
WYE_API int wye_protocol_field_index(const wye_protocol *p, const char *name);
WYE_API size_t wye_protocol_nattrs(const wye_protocol *p);
WYE_API const wye_attr_spec *wye_protocol_attr(const wye_protocol *p, size_t i);
WYE_API const wye_hardening *wye_protocol_hardening(const wye_protocol *p);
/* The field-filter hardening (all false when the protocol has none). */
WYE_API const wye_field_hardening *wye_protocol_field_hardening(const wye_protocol *p);
/* Whether any field-filter hardening is on. */
WYE_API bool wye_protocol_field_hardened(const wye_protocol *p);
/* Length in bits of the record-level filter before hardening (multiple of 64). */
WYE_API unsigned wye_protocol_filter_bits_raw(const wye_protocol *p);
/* Length in bits of the stored record-level filter, after hardening. */
WYE_API unsigned wye_protocol_filter_bits(const wye_protocol *p);
WYE_API const wye_layout *wye_protocol_layout(const wye_protocol *p);

/* The fingerprint: BLAKE2b-256 of the canonical form. */
WYE_API void wye_protocol_fingerprint(const wye_protocol *p,
                                      uint8_t out[WYE_FINGERPRINT_BYTES]);
/* The canonical form (compact JSON, sorted keys, defaults filled in) as a
 * new NUL-terminated string freed by the caller with free(). */
WYE_API int wye_protocol_canonical(const wye_protocol *p, char **out);

/* Index of value in attribute a's allowed values, or -1. */
WYE_API int wye_attr_value_index(const wye_attr_spec *a, const char *value);

#endif
