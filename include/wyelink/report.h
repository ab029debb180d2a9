/* wyelink: the research team's report of a linkage (wyelink report).
 *
 * One self-contained HTML page (inline CSS and SVG charts, no script, no
 * external file, printable to PDF) and the same tables as CSV files, made
 * from a published summary (wye_disclosure_publish), the agencies'
 * published data-quality summaries and the scores in pairs.csv. Every
 * count shown is a count from those trees as published: the report adds
 * none of its own but the score histogram, a technical count of pairs.
 * Nothing here holds a pseudonym or an identifier: persons.csv and
 * pairs.csv are read for counts and scores only.
 *
 * Sections: headline (unique persons, records and persons per agency),
 * overlaps (UpSet chart of the intersections, persons by number of
 * agencies, pairs), profiles, linkage diagnostics (scores with the two
 * thresholds, m and u of every comparison level, candidate pairs, reduction
 * ratio, links), data quality per agency, provenance.
 *
 * Ownership: a wye_report holds references to the trees given to it
 * (json_incref); free it with wye_report_free (NULL allowed). Thread
 * safety: one report per thread.
 */
#ifndef WYELINK_REPORT_H
#define WYELINK_REPORT_H

#include <jansson.h>
#include <stddef.h>

#include "wyelink/error.h"
#include "wyelink/io.h"

typedef struct wye_report wye_report;

WYE_API int wye_report_new(wye_report **out);
WYE_API void wye_report_free(wye_report *r);

/* The summary to report (required), published or marked exact (then every
 * table says "exact counts: internal use only"). WYE_EJSON if it is not a
 * linkage summary. */
WYE_API int wye_report_set_summary(wye_report *r, json_t *summary);
/* A published (or exact-marked) data-quality summary; in the order given. */
WYE_API int wye_report_add_quality(wye_report *r, json_t *quality);

/* Read pairs.csv (agency_a,record_a,agency_b,record_b,score,decision) for
 * the histogram of scores by decision. WYE_EFORMAT with the line on a row
 * that is not such a row. */
WYE_API int wye_report_read_pairs(wye_report *r, wye_source src, wye_diag *diag);

/* Add to summary the persons known to exactly each combination of its
 * agencies ("intersections", every combination, in order of size and then
 * of the agencies in "records"), counted from persons.csv
 * (agency,record,person), with exact counts; when summary is published,
 * also "intersections_exact": true, so that wye_disclosure_publish
 * publishes them in the light of it. WYE_EFORMAT (line, field) on a row
 * that is not such a row or names an agency the summary does not have;
 * WYE_ERANGE beyond WYE_DISCLOSURE_MAX_AGENCIES. */
WYE_API int wye_report_intersections(json_t *summary, wye_source persons_csv, wye_diag *diag);

/* Write the HTML page. WYE_ESTATE without a summary; WYE_EIO, WYE_ENOMEM. */
WYE_API int wye_report_write_html(wye_report *r, wye_sink *out);

/* The tables, also as CSV: their number, the file name of table i (such as
 * "persons_per_agency.csv"), and table i written as CSV (a header row,
 * then one row per line; an exact report starts with a '#' line saying
 * so). Valid once a summary is set. */
WYE_API size_t wye_report_ntables(wye_report *r);
WYE_API const char *wye_report_table_file(wye_report *r, size_t i);
WYE_API int wye_report_write_csv(wye_report *r, size_t i, wye_sink *out);

#endif
