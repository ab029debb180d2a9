/* The data-quality summary as `wyelink hash` and `wyelink map check` print
 * it: one function, so the two print the same summary of the same extract
 * and map (hashing/COLUMNMAP.md section 4).
 *
 * It prints counts, line numbers, column, field and attribute names, fixed
 * reasons, and the codes of value columns that the code tally lets out
 * (colmap.h: met at least WYE_CODE_SHOW_MIN times, or written in the map),
 * never another value from the extract. */
#ifndef WYELINK_QUALITY_PRINT_H
#define WYELINK_QUALITY_PRINT_H

#include <stdbool.h>
#include <stdio.h>

#include "wyelink/colmap.h"
#include "wyelink/pipeline.h"
#include "wyelink/protocol.h"

#define WYE_QUALITY_EXAMPLES 3 /* line numbers shown per reason */

typedef struct wye_quality_view {
    const char *input;          /* the extract's path, as it may be shown */
    const wye_protocol *protocol;
    const wye_colmap *map;
    const wye_hash_result *res; /* a run that read every row */
    const char *extract_date;   /* YYYY-MM-DD */
    const char *encoded_label;  /* "rows encoded" (hash), "rows encodable" (map check) */
    bool summary_json;          /* the lists by line went to a summary JSON */
} wye_quality_view;

/* Print the summary of v to out. */
void wye_quality_print(FILE *out, const wye_quality_view *v);

/* The warning for a map that reads two-digit years (wye_colmap_two_digit_years)
 * when no --extract-date was given: they pivot on today, extract_date. */
void wye_quality_warn_two_digit_years(const char *cmd, const char *map,
                                      const char *extract_date);

#endif
