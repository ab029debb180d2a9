/* wyelink: the encoded file (protocols/FORMAT.md).
 *
 * What leaves an agency: a header naming the format version and the
 * recipient, a symmetric key sealed to the linkage unit, then an
 * authenticated encrypted stream (crypto_secretstream) holding the metadata,
 * the records as one zlib stream and a trailer with the record count and the
 * agency's Ed25519 signature over everything before it.
 *
 * Both directions stream: memory use does not grow with the record count.
 * Records are fixed-size blobs whose layout the protocol fixes (wye_layout).
 *
 * Errors a reader tells apart: WYE_EVERSION (unknown format version),
 * WYE_EFORMAT (not an encoded file), WYE_ERECIPIENT (sealed to another key),
 * WYE_ECORRUPT (any altered byte), WYE_ETRUNCATED (ends early),
 * WYE_EUNTRUSTED (signer not trusted), WYE_ESIGNATURE (bad signature),
 * WYE_EPROTOCOL / WYE_EKEYID (with wye_encfile_check).
 *
 * Thread safety: a writer or reader belongs to one thread at a time.
 */
#ifndef WYELINK_ENCFILE_H
#define WYELINK_ENCFILE_H

#include <stddef.h>
#include <stdint.h>

#include "wyelink/error.h"
#include "wyelink/io.h"
#include "wyelink/keys.h"
#include "wyelink/protocol.h"

typedef struct wye_encfile_meta {
    uint32_t format_version;
    uint8_t fingerprint[WYE_FINGERPRINT_BYTES];
    uint8_t key_id[WYE_KEY_ID_BYTES];
    char agency[WYE_PARTY_NAME_MAX];
    uint8_t signer_pk[WYE_SIGN_PK_BYTES];
    int64_t created;          /* Unix seconds, UTC */
    char extract_date[11];    /* YYYY-MM-DD the extract was taken */
    uint32_t record_size;     /* bytes per record */
    uint64_t records;         /* known to a reader after the trailer */
} wye_encfile_meta;

typedef struct wye_encwriter wye_encwriter;

/* Start a file: meta's fingerprint, key_id, agency, created, extract_date
 * and record_size are written; signer_pk is taken from signer. */
WYE_API int wye_encwriter_open(wye_sink sink, const wye_encfile_meta *meta,
                               const wye_party *signer,
                               const wye_party_public *recipient,
                               wye_encwriter **out);
/* How the writer deflates the records; any choice makes the same format
 * (version 1: one zlib stream), which every reader reads alike.
 * WYE_ENC_STORED: stored blocks, no compression: the fastest (the filters
 * are near-random bits, so compression gains little). WYE_ENC_RLE: zlib level
 * 1 with Z_RLE, which shrinks the runs of zero bytes of missing fields:
 * about a quarter smaller, about three times the writer's CPU time. */
typedef enum wye_enc_compression { WYE_ENC_STORED = 0, WYE_ENC_RLE = 1 } wye_enc_compression;
/* Choose the compression (default WYE_ENC_STORED); only before the first
 * record (WYE_EINVAL after). */
WYE_API int wye_encwriter_set_compression(wye_encwriter *w, wye_enc_compression c);
/* Append one record of meta->record_size bytes. */
WYE_API int wye_encwriter_add(wye_encwriter *w, const uint8_t *record);
/* Write the trailer (count, signature) and free w. */
WYE_API int wye_encwriter_close(wye_encwriter *w);
/* As wye_encwriter_close, and on success give the size of everything written
 * and its unkeyed BLAKE2b-256 (the digest an audit entry records for a file),
 * taken as it was written. w is freed whatever the outcome. */
#define WYE_ENCFILE_DIGEST_BYTES 32
WYE_API int wye_encwriter_close_digest(wye_encwriter *w,
                                       uint8_t digest[WYE_ENCFILE_DIGEST_BYTES],
                                       uint64_t *bytes);
/* Free w without finishing (the output is then unusable); NULL allowed. */
WYE_API void wye_encwriter_abort(wye_encwriter *w);

typedef struct wye_encreader wye_encreader;

/* Open a file sealed to recipient; the signer must be in trusted
 * (WYE_EUNTRUSTED otherwise, checked before any record is returned). */
WYE_API int wye_encreader_open(wye_source source, const wye_party *recipient,
                               const wye_trust *trusted, wye_encreader **out);
WYE_API const wye_encfile_meta *wye_encreader_meta(const wye_encreader *r);
/* Next record: 1 and *record (valid until the next call), 0 at the verified
 * end of the file (signature and count checked), or a negative error. Until
 * 0 is returned nothing read may be trusted. */
WYE_API int wye_encreader_next(wye_encreader *r, const uint8_t **record);
WYE_API void wye_encreader_free(wye_encreader *r);

/* Compare a file's metadata with the protocol and key id the caller expects:
 * WYE_EPROTOCOL or WYE_EKEYID when they differ. */
WYE_API int wye_encfile_check(const wye_encfile_meta *m,
                              const uint8_t fingerprint[WYE_FINGERPRINT_BYTES],
                              const uint8_t key_id[WYE_KEY_ID_BYTES]);

#endif
