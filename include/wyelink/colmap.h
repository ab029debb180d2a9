/* wyelink: column maps, which say how an agency's CSV columns feed the
 * protocol's fields and attributes (hashing/COLUMNMAP.md), and the step that
 * turns one CSV row into normalised values (wye_fields) and a verdict on
 * whether the row can be linked.
 *
 * A map is parsed against a protocol: every field and attribute it names must
 * be in the protocol, and each may be fed by one column only (or, for the
 * address and other_id fields, by one list of 2 to WYE_COLMAP_MAX_JOIN
 * columns whose cells are joined with spaces). It is then bound to a CSV
 * header: every column it names must be there, once.
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

#endif
