/* wyelink: the synthetic multi-agency data generator (testdata/README.md).
 *
 * A synthetic population of domestic-abuse victims and the extracts that
 * seven agencies hold of them (police, GP, adult social care, West Mercia
 * Women's Aid, MARAC, IDVA, housing), each in the agency's own CSV layout
 * with its column map, plus the ground truth: which rows are one person.
 * Records carry the errors real extracts carry, at rates that differ by
 * agency (typos, nicknames, former family names and a name changed after a
 * partner is left, swapped names, missing, day/month-swapped and mistyped
 * dates of birth, moved and withheld postcodes, missing sex, mistyped NHS
 * numbers, a charity's sparse rows). The population holds the hard cases:
 * different people with one name or one date of birth, and households at one
 * address with one family name (twins, partners, adult children, siblings),
 * who are different persons in the truth.
 *
 * Everything is a function of the settings: the same seed, scale, extract
 * date and error level give the same bytes, on any machine, for any order in
 * which the agencies are written. The generator keeps one small table per
 * name list and, while writing an agency, 8 bytes per record of that agency;
 * the rows themselves are streamed to a sink.
 *
 * Ownership: wye_synth_new returns a generator owned by the caller, freed
 * with wye_synth_free (NULL allowed). Thread safety: a generator is not
 * changed by writing, so different agencies may be written from different
 * threads at once; one sink belongs to one thread.
 */
#ifndef WYELINK_SYNTH_H
#define WYELINK_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "wyelink/error.h"
#include "wyelink/io.h"

/* The agencies, in the order they are written and listed. */
enum {
    WYE_SYNTH_POLICE = 0,
    WYE_SYNTH_GP = 1,
    WYE_SYNTH_ASC = 2,
    WYE_SYNTH_WMWA = 3,
    WYE_SYNTH_MARAC = 4,
    WYE_SYNTH_IDVA = 5,
    WYE_SYNTH_HOUSING = 6,
};
#define WYE_SYNTH_NAGENCIES 7
#define WYE_SYNTH_ALL_AGENCIES 0x7Fu /* a bit per agency: 1u << WYE_SYNTH_* */

/* Default extract date (the end of the 2022/23 assessment year), YYYYMMDD. */
#define WYE_SYNTH_DEFAULT_EXTRACT_DATE 20230331u

/* Called now and then while rows are written, with the rows written so far
 * by this call of wye_synth_write_agency. Must not call back into the
 * generator. */
typedef void (*wye_synth_progress_fn)(void *ctx, uint64_t rows_done);

typedef struct wye_synth_settings {
    uint64_t seed;
    /* 1.0 = one county's year (police about 2,000 records, 5,410 records in
     * all); records grow linearly. Must be > 0 and <= WYE_SYNTH_MAX_SCALE. */
    double scale;
    /* The date the extracts were taken, YYYYMMDD: ages, two-digit years and
     * event dates are relative to it. Years 1950..2100. */
    uint32_t extract_date;
    /* Multiplies every error and variation rate: 1 = realistic (default),
     * 0 = clean (every record of a person carries the same details; the
     * population, households and shared names included, is the same).
     * 0..WYE_SYNTH_MAX_ERROR_LEVEL. */
    double error_level;
    /* Threads that format rows (OpenMP; 0 = all cores). The bytes written
     * are the same for any number. */
    unsigned threads;
} wye_synth_settings;

#define WYE_SYNTH_MAX_SCALE 100000.0
#define WYE_SYNTH_MAX_ERROR_LEVEL 5.0

/* Seed 1, scale 1, WYE_SYNTH_DEFAULT_EXTRACT_DATE, error level 1, all
 * cores. */
WYE_API void wye_synth_default_settings(wye_synth_settings *s);

/* The agency's name ("police", "gp", "asc", "wmwa", "marac", "idva",
 * "housing"), or NULL for an index out of range. Static storage. */
WYE_API const char *wye_synth_agency_name(unsigned agency);

/* The index of the agency called name, or -1. */
WYE_API int wye_synth_agency_index(const char *name);

typedef struct wye_synth wye_synth;

/* Build the population model for the settings. Errors: WYE_EINVAL (out
 * must not be NULL), WYE_ERANGE (a setting out of range), WYE_ENOMEM. */
WYE_API int wye_synth_new(const wye_synth_settings *s, wye_synth **out);
WYE_API void wye_synth_free(wye_synth *g);

/* The number of synthetic persons (most are in one agency only; a person
 * in no agency never exists). */
WYE_API uint64_t wye_synth_persons(const wye_synth *g);

/* The expected number of records of agency a at this scale (the targets
 * the model is calibrated to: 2000, 1400, 310, 1100, 230, 190, 180 at
 * scale 1). 0 for an agency out of range. */
WYE_API double wye_synth_expected_records(const wye_synth *g, unsigned agency);

/* The agency's column map (hashing/COLUMNMAP.md) as a new NUL-terminated
 * JSON text, freed by the caller with free(); *len (may be NULL) gets its
 * length. Errors: WYE_EINVAL (agency out of range), WYE_ENOMEM. */
WYE_API int wye_synth_column_map(unsigned agency, char **json, size_t *len);

/* The character encoding the agency's CSV is written in: "utf-8" or
 * "windows-1252" (as in its column map). NULL for an agency out of range. */
WYE_API const char *wye_synth_encoding(unsigned agency);

/* The header line of the ground truth, "agency,local_id,person\n". */
#define WYE_SYNTH_TRUTH_HEADER "agency,local_id,person\n"

/* Write agency's extract (CSV with its header row) to csv, and one truth
 * row "agency,local_id,person" per CSV row to truth (no header: write
 * WYE_SYNTH_TRUTH_HEADER once first). *rows (may be NULL) gets the number
 * of rows written. progress may be NULL.
 * Errors: WYE_EINVAL (agency out of range), WYE_ENOMEM, or the first error
 * a sink returned (nothing more is written after it). */
WYE_API int wye_synth_write_agency(const wye_synth *g, unsigned agency, wye_sink csv,
                                   wye_sink truth, wye_synth_progress_fn progress,
                                   void *progress_ctx, uint64_t *rows);

/* The modulus-11 check of a 10-digit NHS number given as 10 ASCII digits
 * (no spaces): 1 if valid, 0 if not (including a check digit of 10). */
WYE_API int wye_synth_nhs_valid(const char digits[10]);

#endif
