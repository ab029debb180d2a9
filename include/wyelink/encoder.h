/* wyelink: the encoder, from normalised field values to one encoded record
 * (protocols/ENCODING.md sections 3-6, layout in protocols/PROTOCOL.md).
 *
 * Tokens are hashed with keyed BLAKE2b (libsodium crypto_generichash) under
 * each field's key, derived from the linkage secret with the field's kdf_id;
 * every bit position is drawn from that keyed hash (random hashing, not
 * double hashing). A field with n tokens sets k = ceil(bits / n) positions
 * per token. Then the record-level filter is hardened as the protocol says
 * (salting, balancing, XOR folding, diffusion), so are the field filters
 * (the protocol's field_hardening: salting, XOR folding, diffusion), exact
 * digests are added and the record gets its pseudonym.
 *
 * The same protocol, secret, pseudonym key and input always give the same
 * bytes, on any machine and with any number of threads: a change of these
 * bytes is a new protocol version (tests/hashing/test_encoder.c pins them).
 *
 * Ownership: the encoder keeps a pointer to the protocol (which must outlive
 * it) and copies of derived keys in sodium_malloc memory, wiped by
 * wye_encoder_free. A wye_encoder_cache belongs to one thread.
 * Thread safety: after wye_encoder_new an encoder is read-only:
 * wye_encoder_encode may run in many threads at once, each with its own cache
 * (or none). A cache remembers the encoder it was last used with and drops
 * its entries when used with another.
 */
#ifndef WYELINK_ENCODER_H
#define WYELINK_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "wyelink/error.h"
#include "wyelink/keys.h"
#include "wyelink/normalise.h"
#include "wyelink/protocol.h"

/* One record's normalised values, by protocol field and attribute index. */
typedef struct wye_fields {
    uint8_t status[WYE_MAX_FIELDS];  /* wye_norm_status */
    uint8_t reason[WYE_MAX_FIELDS];  /* wye_norm_reason when INVALID */
    char value[WYE_MAX_FIELDS][WYE_NORM_MAX]; /* canonical value when PRESENT */
    uint8_t attr[WYE_MAX_ATTRS];     /* 0 = missing, v + 1 = values[v] */
    uint8_t attr_status[WYE_MAX_ATTRS]; /* wye_norm_status */
    uint8_t attr_reason[WYE_MAX_ATTRS]; /* wye_norm_reason when INVALID */
} wye_fields;

/* Set every field and attribute of f missing. */
WYE_API void wye_fields_clear(wye_fields *f);

typedef struct wye_encoder wye_encoder;

/* Derive every key the protocol needs from the linkage secret and copy the
 * agency's pseudonym key (wye_pseudonym_key).
 * Errors: WYE_ENOMEM, WYE_ECRYPTO, WYE_EINVAL. */
WYE_API int wye_encoder_new(const wye_protocol *p, const wye_secret *secret,
                            const uint8_t pseudonym_key[32], wye_encoder **out);
WYE_API void wye_encoder_free(wye_encoder *e);
/* Bytes per encoded record (the protocol layout's record_size). */
WYE_API size_t wye_encoder_record_size(const wye_encoder *e);

/* A per-thread cache of token -> keyed hash output. It changes only speed,
 * never output. Entries are wiped when the cache is freed. */
typedef struct wye_encoder_cache wye_encoder_cache;
WYE_API int wye_encoder_cache_new(wye_encoder_cache **out);
WYE_API void wye_encoder_cache_free(wye_encoder_cache *c);

/* Encode one record into out (record_size bytes): the pseudonym of
 * local_id (len bytes), presence bits, attribute bytes, filters and digests.
 * Fields whose status is not PRESENT contribute nothing. cache may be NULL.
 * Errors: WYE_EINVAL (e.g. an attribute byte out of range). */
WYE_API int wye_encoder_encode(const wye_encoder *e, wye_encoder_cache *cache,
                               const wye_fields *f, const char *local_id, size_t len,
                               uint8_t *out);

/* The tokens the protocol makes of field i's canonical value, as the encoder
 * hashes them (ENCODING.md section 3): each token is written to out as a
 * tag byte (the tokeniser type) followed by its text, and the function calls
 * emit(ctx, token, token_len) once per distinct token in first-seen order.
 * Returns the number of distinct tokens. For tests and tools. */
WYE_API size_t wye_encoder_tokens(const wye_protocol *p, size_t field, const char *value,
                                  void (*emit)(void *ctx, const uint8_t *tok, size_t n),
                                  void *ctx);

#endif
