/* wyelink: evaluating a linkage against ground truth (testdata/README.md).
 *
 * Pairwise precision, recall and F1 over all pairs of records, within and
 * across agencies, and the predicted and true numbers of unique persons.
 * Pairs are never enumerated: with n(p,t) the records that the linkage put
 * in person p and that truly belong to person t,
 *     correct pairs   = sum over (p,t) of n(p,t)(n(p,t)-1)/2
 *     predicted pairs = sum over p of a(p)(a(p)-1)/2,  a(p) = sum over t of n(p,t)
 *     true pairs      = sum over t of b(t)(b(t)-1)/2,  b(t) = sum over p of n(p,t)
 *     precision = correct / predicted (1 if nothing was predicted),
 *     recall = correct / true (1 if there is nothing to find),
 *     F1 = 2 precision recall / (precision + recall) (0 if both are 0).
 *
 * Inputs, read in this order:
 *  1. the truth, CSV with columns agency,local_id,person (wyelink synth);
 *  2. each agency's local map, CSV local_id,record (wyelink hash);
 *  3. the persons, CSV agency,record,person (wyelink link).
 * Columns are found by name in the header row (a UTF-8 byte-order mark is
 * skipped; other columns are ignored). The records evaluated are the truth
 * rows of the agencies whose local map was read. A truth row whose local_id
 * is not in the agency's map (the hashing client rejected the row) or whose
 * record is not in the persons file counts as a person of its own, so rows
 * that were lost lower the recall; each is counted in the result.
 *
 * Errors name the line and the column, never a value: WYE_ECSV (malformed
 * CSV), WYE_ECOLUMN (a required column is missing from the header),
 * WYE_EFORMAT (an empty value, a value over WYE_EVAL_MAX_VALUE bytes, or a
 * duplicate: the same agency and local_id twice in the truth, the same
 * local_id or record twice in a map, the same record twice in the persons),
 * WYE_ESTATE (called out of order, or one agency's map read twice),
 * WYE_ENOMEM, or the error the source returned.
 *
 * Ownership: wye_eval_new returns an evaluator owned by the caller, freed
 * with wye_eval_free (NULL allowed). Thread safety: one evaluator, one
 * thread.
 */
#ifndef WYELINK_EVAL_H
#define WYELINK_EVAL_H

#include <stdint.h>

#include "wyelink/error.h"
#include "wyelink/io.h"

/* The longest agency, local_id, record or person value, in bytes. */
#define WYE_EVAL_MAX_VALUE 256

typedef struct wye_eval wye_eval;

typedef struct wye_eval_result {
    uint64_t records;           /* truth rows of the agencies with a local map */
    uint64_t true_persons;      /* distinct persons among them, by the truth */
    uint64_t predicted_persons; /* distinct persons by the linkage (lost rows: one each) */
    uint64_t true_pairs, predicted_pairs, correct_pairs;
    double precision, recall, f1;
    uint64_t not_encoded;       /* truth rows missing from their agency's map */
    uint64_t not_linked;        /* mapped records missing from the persons file */
    uint64_t map_rows_unknown;  /* map rows whose local_id is not in the truth */
    uint64_t person_rows_unknown; /* persons rows of a mapped agency whose record
                                     is in no map row */
    uint64_t person_rows_ignored; /* persons rows of agencies without a map */
    uint64_t truth_rows_ignored;  /* truth rows of agencies without a map */
} wye_eval_result;

/* Errors: WYE_EINVAL (out is NULL), WYE_ENOMEM. */
WYE_API int wye_eval_new(wye_eval **out);
WYE_API void wye_eval_free(wye_eval *e);

/* Read the truth (once, first). */
WYE_API int wye_eval_read_truth(wye_eval *e, wye_source src, wye_diag *diag);

/* Read the local map of agency (after the truth, before the persons). */
WYE_API int wye_eval_read_local_map(wye_eval *e, const char *agency, wye_source src,
                                    wye_diag *diag);

/* Read the persons (once, after the maps). */
WYE_API int wye_eval_read_persons(wye_eval *e, wye_source src, wye_diag *diag);

/* Compute the result from what was read (any time after the truth).
 * Errors: WYE_EINVAL, WYE_ESTATE (no truth yet), WYE_ENOMEM. */
WYE_API int wye_eval_compute(const wye_eval *e, wye_eval_result *r);

#endif
