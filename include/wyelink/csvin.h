/* wyelink: a streaming CSV reader for agency extracts (hashing/COLUMNMAP.md,
 * "Input file").
 *
 * Reads RFC 4180 CSV through libcsv from a wye_source, one record at a time,
 * in constant memory: quoted fields may hold commas, doubled quotes and line
 * breaks; lines end with LF, CRLF or CR; a UTF-8 byte-order mark is skipped;
 * blank lines are skipped (and counted); spaces around unquoted fields are
 * trimmed. The first record is the header, which is required. Quoting is
 * strict (libcsv CSV_STRICT): a record with a stray quote is returned marked
 * malformed, so one bad row is reported instead of silently swallowing the
 * rows after it.
 *
 * Text is UTF-8. Invalid UTF-8 (or a NUL byte) is an error naming the
 * physical line that holds it, unless the input is declared Windows-1252, in
 * which case every byte is transcoded to UTF-8 (0x80-0x9F as Windows-1252,
 * the five bytes it leaves undefined as U+0081.. C1 controls, as WHATWG
 * does). A file that starts with a UTF-8 byte-order mark is read as UTF-8
 * whatever was declared.
 *
 * Each record reports the physical line where it starts (1-based): a quoted
 * field holding line breaks advances the line count, so the record after it
 * reports its own first line.
 *
 * Limits (an error naming the record's first line, since a record this large
 * is almost always an unterminated quote): WYE_CSV_FIELD_MAX bytes per field,
 * WYE_CSV_RECORD_MAX bytes per record, WYE_CSV_FIELDS_MAX fields per record.
 *
 * Errors are sticky: after one, every call returns the same code.
 * Ownership: the reader is the caller's (wye_csvin_free, NULL allowed); the
 * source must outlive it. Strings handed out belong to the reader.
 * Thread safety: a reader belongs to one thread at a time.
 */
#ifndef WYELINK_CSVIN_H
#define WYELINK_CSVIN_H

#include <stddef.h>
#include <stdint.h>

#include "wyelink/error.h"
#include "wyelink/io.h"

#define WYE_CSV_FIELD_MAX (64u * 1024u)
#define WYE_CSV_RECORD_MAX (1024u * 1024u)
#define WYE_CSV_FIELDS_MAX 4096u

typedef enum wye_csv_encoding {
    WYE_CSV_UTF8 = 0,
    WYE_CSV_WINDOWS1252 = 1,
} wye_csv_encoding;

/* One record. Valid until the next call on the reader. */
typedef struct wye_csv_row {
    uint64_t line;            /* physical line where the record starts */
    uint64_t number;          /* 1 for the first record after the header */
    size_t nfields;           /* may differ from the header's count */
    const char *const *field; /* NUL-terminated UTF-8, no NUL inside */
    const size_t *len;        /* byte length of each field */
    int malformed;            /* 1: the record broke the quoting rules (a quote
                                 inside an unquoted field, or text after a
                                 closing quote); it has no fields and the rest
                                 of its last physical line was skipped */
} wye_csv_row;

typedef struct wye_csvin wye_csvin;

/* Open a reader and read the header record.
 * Errors: WYE_ECSV (no header row, a limit exceeded, an unterminated quoted
 * field; diag says which line), WYE_EUTF8 (diag names the line), WYE_EIO or
 * another code returned by the source, WYE_ENOMEM, WYE_EINVAL. */
WYE_API int wye_csvin_open(wye_source src, wye_csv_encoding enc, wye_csvin **out,
                           wye_diag *diag);
WYE_API void wye_csvin_free(wye_csvin *r);

/* The header: column count and each column's name, trimmed of spaces. */
WYE_API size_t wye_csvin_ncolumns(const wye_csvin *r);
WYE_API const char *wye_csvin_column_name(const wye_csvin *r, size_t i);
/* Index of the column called name (exact match), -1 if none, -2 if the
 * header holds that name more than once. */
WYE_API int wye_csvin_find(const wye_csvin *r, const char *name);

/* Next record: 1 and *row, 0 at the end of the input, or a negative code as
 * wye_csvin_open (diag filled). */
WYE_API int wye_csvin_next(wye_csvin *r, wye_csv_row *row, wye_diag *diag);

/* Bytes read from the source so far (for a progress bar). */
WYE_API uint64_t wye_csvin_bytes_read(const wye_csvin *r);
/* Blank lines skipped so far. */
WYE_API uint64_t wye_csvin_blank_lines(const wye_csvin *r);

#endif
