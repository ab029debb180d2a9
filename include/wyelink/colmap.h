/* wyelink: column maps, which say how an agency's CSV columns feed the
 * protocol's fields and attributes (hashing/COLUMNMAP.md), and the step that
 * turns one CSV row into normalised values (wye_fields) and a verdict on
 * whether the row can be linked.
 *
 * A map is parsed against a protocol: every field and attribute it names must
 * be in the protocol, and each may be fed by one column only (or, for the
 * address and other_id fields, by one list of 2 to WYE_COLMAP_MAX_JOIN
 * columns whose cells are joined with spaces; or, for an attribute read from
 * a column, by a constant: one allowed value for every row). A DD/MM/YY date
 * column may fix the century of two-digit years (two_digit_year_pivot). It
 * is then bound to a CSV header: every column it names must be there, once.
 *
 * Ownership: the map keeps a pointer to the protocol, which must outlive it;
 * the caller frees the map with wye_colmap_free (NULL allowed).
 * Thread safety: parsing and binding belong to one thread; afterwards the
 * map is read-only and wye_colmap_extract may run in many threads at once.
 */
#ifndef WYELINK_COLMAP_H
#define WYELINK_COLMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wyelink/csvin.h"
#include "wyelink/encoder.h"
#include "wyelink/error.h"
#include "wyelink/normalise.h"
#include "wyelink/protocol.h"

#define WYE_COLMAP_VERSION 1
#define WYE_COLMAP_MAX_COLUMNS 64 /* entries in "columns" */
#define WYE_COLMAP_MAX_VALUES 64  /* entries in one "values" object */
#define WYE_COLMAP_NAME_MAX 256   /* column names and codes, bytes incl. NUL */
#define WYE_COLMAP_MAX_JOIN 8     /* columns joined into one field ("column": [...]) */

typedef struct wye_colmap wye_colmap;

/* Parse a column map (JSON text of len bytes) against protocol p.
 * Errors: WYE_EJSON (malformed, or breaks the schema or the protocol: diag's
 * field is the key path such as "columns[2].date_format", or the line for a
 * syntax error), WYE_EVERSION (unknown version), WYE_ENOMEM. */
WYE_API int wye_colmap_parse(const char *json, size_t len, const wye_protocol *p,
                             wye_colmap **out, wye_diag *diag);
/* Read and parse a file (at most 1 MiB). Also WYE_EIO, WYE_ERANGE. */
WYE_API int wye_colmap_load(const char *path, const wye_protocol *p, wye_colmap **out,
                            wye_diag *diag);
WYE_API void wye_colmap_free(wye_colmap *m);

/* The declared input encoding and the informational agency name ("" if
 * none). */
WYE_API wye_csv_encoding wye_colmap_encoding(const wye_colmap *m);
WYE_API const char *wye_colmap_agency(const wye_colmap *m);
/* Whether protocol field i / attribute i is fed by some column (age_band and
 * sex attributes count as fed when their source field is). */
WYE_API bool wye_colmap_field_mapped(const wye_colmap *m, size_t i);
WYE_API bool wye_colmap_attr_mapped(const wye_colmap *m, size_t i);

/* Whether the map reads a DD/MM/YY date column without a
 * two_digit_year_pivot: its two-digit years then pivot on the extract date
 * (protocols/ENCODING.md 2.2), which callers should not leave to a default. */
WYE_API bool wye_colmap_two_digit_years(const wye_colmap *m);

/* Resolve the map's column names against the reader's header.
 * WYE_ECOLUMN if a column is missing, WYE_EDUPLICATE if it appears more than
 * once; diag's line is 1, its field the column name (from the map), its
 * reason says which ("column 'X' appears twice in the header"). */
WYE_API int wye_colmap_bind(wye_colmap *m, const wye_csvin *r, wye_diag *diag);

/* Why a row cannot be encoded. Values are pinned (they index summaries). */
typedef enum wye_row_verdict {
    WYE_ROW_OK = 0,
    WYE_ROW_FIELD_COUNT = 1,   /* not as many fields as the header */
    WYE_ROW_NO_LOCAL_ID = 2,   /* the local id is empty */
    WYE_ROW_EMPTY = 3,         /* every mapped column is empty */
    WYE_ROW_NO_NAME = 4,       /* no given or family name, no NHS number, and
                                  no other id with a date of birth or address */
    WYE_ROW_NAME_ONLY = 5,     /* a name but no date of birth, postcode, address
                                  or other id, and no NHS number */
    WYE_ROW_DUPLICATE_ID = 6,  /* the local id was seen on an earlier row (set by
                                  the caller, which sees every row) */
    WYE_ROW_MALFORMED = 7,     /* the CSV record broke the quoting rules */
    WYE_ROW_COUNT = 8
} wye_row_verdict;

/* A static lowercase description of v. */
WYE_API const char *wye_row_verdict_text(wye_row_verdict v);

/* Map and normalise one row of a bound map: fill f (every protocol field and
 * attribute), point *local_id / *local_len at the trimmed local id inside
 * row, and return the verdict. Dates use extract for validation, two-digit
 * years and age bands. A malformed row gets WYE_ROW_MALFORMED, a row with
 * the wrong number of fields WYE_ROW_FIELD_COUNT; both leave f all missing. */
WYE_API wye_row_verdict wye_colmap_extract(const wye_colmap *m, const wye_csv_row *row,
                                           const wye_date *extract, wye_fields *f,
                                           const char **local_id, size_t *local_len);

/* The linkability rule alone, on normalised values: a row can be linked if
 * it has an NHS number, or a given or family name together with a date of
 * birth, a postcode, an address or another id, or (without a name) another
 * id together with a date of birth or an address (each only if the protocol
 * has the field). Returns WYE_ROW_OK, WYE_ROW_NO_NAME or
 * WYE_ROW_NAME_ONLY. */
WYE_API wye_row_verdict wye_fields_linkable(const wye_protocol *p, const wye_fields *f);

/* ---- code tallies ----
 * What the value columns of a map met: for the sex field and each attribute
 * read from a column, every distinct code (matched as the map matches codes:
 * trimmed, ignoring ASCII case), how many rows had it and what it gives; and
 * each constant attribute. A code is a value from the extract: a rare one
 * could identify someone (a free-text cell), so a tally hands out only the
 * codes met at least WYE_CODE_SHOW_MIN times or written in the map's own
 * "values", and counts the rest without naming them. Everything it held is
 * wiped when it is freed.
 *
 * Use: wye_code_tally_new after wye_colmap_bind, wye_code_tally_row for each
 * row (one tally per thread; merge them), wye_code_tally_finish, then read
 * the columns. The map must outlive the tally.
 * Thread safety: a tally belongs to one thread at a time. */

#define WYE_CODE_SHOW_MIN 5      /* a code met this often (or in the map) is shown */
#define WYE_CODE_TRACK_MAX 4096  /* distinct codes not in the map tracked per column */

typedef struct wye_code_tally wye_code_tally;

typedef struct wye_code_count {
    const char *code;  /* trimmed: the map's spelling, else the one met first */
    uint64_t rows;     /* rows with this code (0: in the map, never met) */
    bool in_map;       /* written in the map's own "values" */
    uint8_t status;    /* wye_norm_status it gives */
    uint8_t reason;    /* wye_norm_reason when WYE_NORM_INVALID */
    const char *value; /* when WYE_NORM_PRESENT: "F", "M", "X" or the attribute's value */
} wye_code_count;

typedef struct wye_code_column {
    const char *column;   /* the map's column; NULL for a constant attribute */
    const char *target;   /* the field (sex) or attribute it feeds */
    bool attribute;
    const char *constant; /* a constant attribute's value, else NULL */
    bool has_values;      /* the map gives its own codes */
    uint64_t empty;       /* rows whose cell was empty */
    size_t ncodes;
    const wye_code_count *codes; /* those shown, most rows first, then by code */
    uint64_t hidden_codes;       /* distinct codes met but not shown (0 if too_many) */
    uint64_t hidden_rows[3];     /* rows of codes not shown, by wye_norm_status */
    bool too_many;        /* more than WYE_CODE_TRACK_MAX distinct codes not in the
                             map: not a code column? none of them is shown */
} wye_code_column;

/* A tally of map m's value columns, with the map's own codes at 0 rows.
 * WYE_EINVAL, WYE_ENOMEM. */
WYE_API int wye_code_tally_new(const wye_colmap *m, wye_code_tally **out);
WYE_API void wye_code_tally_free(wye_code_tally *t);
/* Count one row of the bound map (a malformed row, or one with the wrong
 * number of fields, is not counted). WYE_ENOMEM. */
WYE_API int wye_code_tally_row(wye_code_tally *t, const wye_csv_row *row);
/* Add from's counts to into (tallies of one map, neither finished); each
 * code keeps the spelling met on the earliest line, so the result is the
 * same however the rows were shared out. WYE_EINVAL, WYE_ENOMEM. */
WYE_API int wye_code_tally_merge(wye_code_tally *into, const wye_code_tally *from);
/* Decide what is shown, and wipe the rest; no row can be added after.
 * WYE_EINVAL (already finished), WYE_ENOMEM. */
WYE_API int wye_code_tally_finish(wye_code_tally *t);
/* The value columns in map order, constants included; column i, or NULL
 * before finish or past the end. Owned by t. */
WYE_API size_t wye_code_tally_ncolumns(const wye_code_tally *t);
WYE_API const wye_code_column *wye_code_tally_column(const wye_code_tally *t, size_t i);

#endif
