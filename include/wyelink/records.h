/* wyelink: the linkage unit's records in memory (linker/LINKING.md).
 *
 * The linker reads each agency's encoded file (wye_recfile_read), checking
 * its signer against the trusted keys and its protocol fingerprint against
 * the protocol in use, then gathers the files into one record set
 * (wye_recset), which checks that every file was hashed with the same
 * linkage secret (key id) and comes from a different agency. The set keeps
 * each file's header (agency, signer, creation time, extract date) and the
 * digest of its bytes as read, for reports and the audit trail. Records keep
 * the byte layout the protocol fixes (wye_layout); the set numbers them
 * 0..n-1, file by file in the order the files were added.
 *
 * Errors name the file (its label) and what differs, never a record's
 * content: fingerprints, key ids and agency names are not identifiers.
 *
 * Ownership: a wye_recfile is owned by the caller until given to
 * wye_recset_add_file, which always takes it (and frees it on error). The
 * protocol given to wye_recfile_read / wye_recset_new is borrowed and must
 * outlive them. The view returned by wye_recset_view points into the set.
 * Thread safety: wye_recfile_read may run on several files at once; a set is
 * built by one thread, and once wye_recset_finish has returned it is
 * immutable and its view may be read by any number of threads.
 */
#ifndef WYELINK_RECORDS_H
#define WYELINK_RECORDS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wyelink/dice.h"
#include "wyelink/encfile.h"
#include "wyelink/error.h"
#include "wyelink/io.h"
#include "wyelink/keys.h"
#include "wyelink/protocol.h"

#define WYE_LABEL_MAX 256 /* a file label kept for messages, incl. NUL */

/* One agency's encoded file, read and verified. */
typedef struct wye_recfile wye_recfile;

/* Read a whole encoded file from src, sealed to recipient and signed by a
 * key in trusted, with protocol p. label (usually the path) is kept for
 * messages. Errors: those of the encoded-file reader (WYE_EFORMAT,
 * WYE_EVERSION, WYE_ERECIPIENT, WYE_ECORRUPT, WYE_ETRUNCATED,
 * WYE_EUNTRUSTED, WYE_ESIGNATURE, WYE_EIO), WYE_EPROTOCOL (fingerprint
 * differs from p's: diag says both), WYE_EFORMAT (record size differs from
 * p's layout), WYE_ERANGE (more than 2^31 records), WYE_ENOMEM. diag->field
 * is "file" and diag->reason starts with the label. */
WYE_API int wye_recfile_read(wye_source src, const char *label, const wye_protocol *p,
                             const wye_party *recipient, const wye_trust *trusted,
                             wye_recfile **out, wye_diag *diag);
/* The file's metadata (agency, fingerprint, key id, signer, creation time,
 * extract date, record count). */
WYE_API const wye_encfile_meta *wye_recfile_meta(const wye_recfile *f);
WYE_API const char *wye_recfile_label(const wye_recfile *f);
/* The unkeyed BLAKE2b-256 of every byte read from the source, to its end
 * (the whole file: what wye_file_digest and an audit entry give for it),
 * taken in the same pass as the records were verified; its size into *bytes
 * (may be NULL). Owned by f. */
#define WYE_RECFILE_DIGEST_BYTES 32
WYE_API const uint8_t *wye_recfile_digest(const wye_recfile *f, uint64_t *bytes);
/* NULL is allowed. */
WYE_API void wye_recfile_free(wye_recfile *f);

/* The records of a finished set, for blocking, scoring and reports.
 * Plain data pointing into the set. Record i lives in a slot of `stride`
 * bytes (a multiple of 64, so a record starts on a cache line): the
 * record's layout bytes, then at pop_off the popcounts (uint32) of its
 * record-level filter and of each field filter, so that comparing two
 * records touches nothing but their two slots. */
typedef struct wye_recview {
    size_t n;                      /* records */
    size_t nagencies;              /* files (one agency each) */
    const uint8_t *base;           /* slot of record i: base + i * stride */
    size_t stride;
    size_t pop_off;                /* popcounts in a slot: [0] record-level
                                      filter, [1 + fpop_col[f]] field f */
    int fpop_col[WYE_MAX_FIELDS];  /* -1 when field f has no field filter */
    const uint16_t *agency;        /* agency[i]: the file record i came from */
    const size_t *agency_first;    /* first record of each agency; [nagencies] = n */
    const wye_protocol *protocol;
    const wye_layout *layout;
    const wye_dice_kernel *kernel; /* the Dice kernel to compare with */
} wye_recview;

/* Record i's bytes (its layout). */
static inline const uint8_t *wye_rec(const wye_recview *v, size_t i)
{
    return v->base + i * v->stride;
}

/* Popcount of record i's record-level filter. */
static inline uint32_t wye_rec_rpop(const wye_recview *v, size_t i)
{
    uint32_t x;
    memcpy(&x, wye_rec(v, i) + v->pop_off, sizeof x);
    return x;
}

/* Popcount of record i's filter of field f (which must have one). */
static inline uint32_t wye_rec_fpop(const wye_recview *v, size_t i, size_t f)
{
    uint32_t x;
    memcpy(&x, wye_rec(v, i) + v->pop_off + 4 * (1 + (size_t)v->fpop_col[f]), sizeof x);
    return x;
}

typedef struct wye_recset wye_recset;

/* An empty set for protocol p, comparing with kernel k (NULL = the best
 * for this CPU). WYE_ENOMEM, WYE_EINVAL. */
WYE_API int wye_recset_new(const wye_protocol *p, const wye_dice_kernel *k, wye_recset **out);
/* NULL is allowed. */
WYE_API void wye_recset_free(wye_recset *s);

/* Add a file read with wye_recfile_read (ownership taken, also on error).
 * WYE_EPROTOCOL if its fingerprint differs from the set's protocol,
 * WYE_EKEYID if its key id differs from the first file's (diag names both
 * files and both ids), WYE_EDUPLICATE if another file of the set comes from
 * the same agency (diag: "two inputs are from agency 'A': 'first' and
 * 'second'"), WYE_ESTATE after wye_recset_finish,
 * WYE_ERANGE beyond 65,535 files or 2^31 records. */
WYE_API int wye_recset_add_file(wye_recset *s, wye_recfile *f, wye_diag *diag);

/* Add n records of one agency held in memory (n * record_size bytes,
 * copied), as if read from a file labelled label with this key id (NULL =
 * not checked). For tests and tools that hold records already. Same errors
 * as wye_recset_add_file; WYE_EINVAL for a bad agency name. */
WYE_API int wye_recset_add_records(wye_recset *s, const char *agency, const char *label,
                                   const uint8_t key_id[WYE_KEY_ID_BYTES],
                                   const uint8_t *records, size_t n, wye_diag *diag);

/* Index the set (popcounts; `threads` OpenMP threads, 0 = all cores); after
 * this no file may be added. WYE_ENOMEM, WYE_ESTATE if called twice. */
WYE_API int wye_recset_finish(wye_recset *s, unsigned threads);

/* The view of a finished set; NULL before wye_recset_finish. */
WYE_API const wye_recview *wye_recset_view(const wye_recset *s);
/* Agency name, file label and key id of file (agency) a. */
WYE_API const char *wye_recset_agency(const wye_recset *s, size_t a);
WYE_API const char *wye_recset_label(const wye_recset *s, size_t a);
WYE_API const uint8_t *wye_recset_key_id(const wye_recset *s);
/* File a's header as read (agency, signer_pk, created, extract_date...), or
 * NULL if a is out of range or its records were added from memory. */
WYE_API const wye_encfile_meta *wye_recset_meta(const wye_recset *s, size_t a);
/* File a's digest (WYE_RECFILE_DIGEST_BYTES, as wye_recfile_digest) and size
 * into *bytes (may be NULL), or NULL as for wye_recset_meta. Owned by s. */
WYE_API const uint8_t *wye_recset_digest(const wye_recset *s, size_t a, uint64_t *bytes);

#endif
