/* wyelink: the agency's hashing run over a whole extract (hashing/COLUMNMAP.md,
 * protocols/ENCODING.md).
 *
 * wye_hash_run reads the extract's CSV in batches; each batch is mapped and
 * normalised (and, with a secret, encoded) in parallel on OpenMP threads, one
 * token cache per thread, then written in input order by one thread, so
 * every output is byte-identical for any thread count. Rows that cannot be
 * linked are counted and listed by line and reason, never encoded. The
 * result holds the data-quality tally: rows read, encoded and rejected (by
 * reason, and the first WYE_HASH_LIST_MAX rejected rows by line), and for
 * each protocol field and attribute how many rows had it present, missing or
 * invalid (by reason, and the first WYE_HASH_LIST_MAX invalid values by line
 * and field), and what the map's value columns met (a wye_code_tally: the
 * codes of the sex column and of each attribute read from a column).
 *
 * Without a secret (settings.secret NULL) the run only reads, normalises and
 * tallies: it needs no key and writes nothing (a check of a column map
 * against an extract). Local ids seen twice are found all the same.
 *
 * With a secret it also writes, as the rows pass:
 *   encoded    the encoded file (protocols/FORMAT.md), signed by the agency
 *              and sealed to the linkage unit
 *   local_map  "local_id,record\n", then one line per encoded row: its local
 *              id (quoted as RFC 4180 needs) and the record's pseudonym in hex
 * and takes the size and BLAKE2b-256 of the input and of both outputs as the
 * bytes pass, so no file is read again for the audit entry.
 *
 * Nothing the run returns, and no diag, holds a value from the extract: only
 * line numbers, column and field names, counts and fixed reasons; and, in the
 * code tally, the codes of value columns that the rule of colmap.h lets out
 * (met at least WYE_CODE_SHOW_MIN times, or written in the map).
 *
 * Ownership: the run borrows everything in the settings; the lists in the
 * result are owned by it and freed by wye_hash_result_clear.
 * Thread safety: runs are independent; the progress callback is called from
 * one thread at a time (not always the same one).
 */
#ifndef WYELINK_PIPELINE_H
#define WYELINK_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "wyelink/colmap.h"
#include "wyelink/encfile.h"
#include "wyelink/error.h"
#include "wyelink/io.h"
#include "wyelink/keys.h"
#include "wyelink/normalise.h"
#include "wyelink/protocol.h"

#define WYE_HASH_LIST_MAX 100000 /* rejected rows, invalid values listed */
#define WYE_HASH_DIGEST_BYTES 32 /* BLAKE2b-256, as the audit log records */

/* Progress: done of total bytes of the input read (total 0 = unknown), and
 * the rows read so far. Return 0 to go on; anything else cancels the run,
 * which then stops within a batch and returns WYE_ECANCELLED. */
typedef int (*wye_hash_progress_fn)(void *ctx, uint64_t done, uint64_t total, uint64_t rows);

typedef struct wye_hash_settings {
    const wye_protocol *protocol;
    wye_colmap *map;          /* bound to the input's header by the run */
    wye_date extract_date;    /* dates after it are invalid; pivots, age bands */
    unsigned threads;         /* 0 = all cores */
    uint64_t input_size;      /* bytes, for progress only (0 = unknown) */
    wye_hash_progress_fn progress; /* may be NULL */
    void *progress_ctx;
    /* Encoding: all NULL (and the sinks unset) for a tally alone. */
    const wye_secret *secret;          /* the linkage secret */
    const wye_party *agency;           /* signs; its pseudonym key */
    const wye_party_public *recipient; /* the linkage unit */
    int64_t created;          /* the encoded file's creation time (Unix) */
    bool compress;            /* deflate the records (WYE_ENC_RLE) */
    wye_sink encoded, local_map;
} wye_hash_settings;

/* Fill s with the defaults: everything zero, threads 0 (all cores). */
WYE_API void wye_hash_default_settings(wye_hash_settings *s);

/* Where a run failed, so a caller can name the file at fault. */
typedef enum wye_hash_stage {
    WYE_HASH_STAGE_NONE = 0,   /* it did not fail */
    WYE_HASH_STAGE_SETUP,      /* memory or settings */
    WYE_HASH_STAGE_KEYS,       /* deriving the hashing keys */
    WYE_HASH_STAGE_HEADER,     /* reading the input's header (diag) */
    WYE_HASH_STAGE_BIND,       /* the map does not fit the header (diag) */
    WYE_HASH_STAGE_START,      /* starting the encoded file */
    WYE_HASH_STAGE_READ,       /* reading a row of the input (diag) */
    WYE_HASH_STAGE_WRITE,      /* writing a record or a local-map line */
    WYE_HASH_STAGE_FINISH,     /* finishing the encoded file */
    WYE_HASH_STAGE_LOCAL_MAP,  /* finishing the local map */
} wye_hash_stage;

/* One field's or attribute's rows by status (over the rows with the right
 * number of fields), and the invalid ones by wye_norm_reason. */
typedef struct wye_hash_tally {
    uint64_t present, missing, invalid;
    uint64_t reason[WYE_NR_COUNT];
} wye_hash_tally;

typedef struct wye_hash_rejected {
    uint64_t line;   /* of the row's first physical line, from 1 */
    uint8_t reason;  /* wye_row_verdict */
} wye_hash_rejected;

typedef struct wye_hash_invalid {
    uint64_t line;
    uint8_t field;   /* protocol field index */
    uint8_t reason;  /* wye_norm_reason (WYE_NR_COUNT: none given) */
} wye_hash_invalid;

typedef struct wye_hash_result {
    wye_hash_stage stage;     /* where the run failed */
    bool read_all;            /* every row was read: the tally is complete */
    unsigned threads;         /* threads used */
    uint64_t rows_read, rows_encoded, rows_rejected;
    uint64_t rows_shaped;     /* rows whose fields were counted */
    uint64_t blank_lines;
    uint64_t rejected_by[WYE_ROW_COUNT]; /* by wye_row_verdict */
    wye_hash_tally field[WYE_MAX_FIELDS], attr[WYE_MAX_ATTRS];
    wye_hash_rejected *rejected; /* the first WYE_HASH_LIST_MAX, in input order */
    size_t nrejected;
    wye_hash_invalid *invalid;   /* the first WYE_HASH_LIST_MAX, in input order */
    size_t ninvalid;
    uint64_t invalid_total;
    wye_code_tally *codes;       /* finished; NULL if the run stopped before the rows */
    /* The input as read: whole when input_complete. */
    uint64_t input_bytes;
    uint8_t input_digest[WYE_HASH_DIGEST_BYTES];
    bool input_complete;
    /* The outputs as written (a run that returned WYE_OK with a secret). */
    uint64_t encoded_bytes, local_map_bytes;
    uint8_t encoded_digest[WYE_HASH_DIGEST_BYTES];
    uint8_t local_map_digest[WYE_HASH_DIGEST_BYTES];
} wye_hash_result;

/* Run over the CSV that input yields, as settings say, filling *res (which
 * is overwritten first: clear a used one before, with wye_hash_result_clear;
 * it holds the counts so far whatever the run returns). A row that cannot be linked is not an error.
 * Errors (res->stage says where): WYE_EINVAL (settings incomplete),
 * WYE_ENOMEM, WYE_ECRYPTO; the reader's errors with diag (line, field,
 * reason): WYE_EIO, WYE_ECSV, WYE_EUTF8, WYE_ERANGE, WYE_EFORMAT; the map's
 * WYE_ECOLUMN or WYE_EDUPLICATE with diag; the sinks' errors, passed through
 * (WYE_ENOSPC for a full disk); WYE_ECANCELLED when the progress callback
 * asked. On any error the sinks may hold part of an output, which
 * the caller discards. */
WYE_API int wye_hash_run(wye_source input, const wye_hash_settings *settings,
                         wye_hash_result *res, wye_diag *diag);

/* Free the lists of res and clear it (NULL allowed). */
WYE_API void wye_hash_result_clear(wye_hash_result *res);

/* What the summary JSON says of the run besides the tally; paths and names
 * are copied as given (NULL: the key is left out). */
typedef struct wye_hash_summary_info {
    const wye_protocol *protocol;
    const wye_colmap *map;
    const char *input, *encoded_file, *local_map, *agency;
    const char *fingerprint, *key_id, *extract_date; /* hex, hex, YYYY-MM-DD */
} wye_hash_summary_info;

/* Write the data-quality summary as JSON ("wyelink-hash-summary" version 1,
 * hashing/COLUMNMAP.md section 4) with a final newline. WYE_ENOMEM,
 * WYE_ENOSPC, WYE_EIO. */
WYE_API int wye_hash_write_summary(const wye_hash_result *res,
                                   const wye_hash_summary_info *info, FILE *f);

#endif
