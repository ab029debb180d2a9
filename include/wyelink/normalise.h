/* wyelink: normalisation of identifier values (protocols/ENCODING.md section 2).
 *
 * Each normaliser takes one raw field value (UTF-8, as the CSV reader hands
 * it over, not NUL-terminated) and returns one of three outcomes:
 *   WYE_NORM_PRESENT  the canonical form was written to out;
 *   WYE_NORM_MISSING  the value is empty (after trimming) or a code the
 *                     column map declares "known to be missing";
 *   WYE_NORM_INVALID  the value cannot be used; *why says why.
 * Canonical forms: names are words of ASCII capitals A-Z separated by single
 * spaces; dates are YYYYMMDD; sex is "F", "M" or "X"; postcodes are
 * "OUTWARD INWARD"; NHS numbers are 10 digits; addresses are words of ASCII
 * capitals and digits separated by single spaces, street types abbreviated;
 * other identifiers are ASCII capitals and digits. These forms are part of the
 * protocol: two agencies must produce the same bytes from the same person.
 *
 * A wye_norm_reason is a fixed description that never holds the value, so it
 * may be counted and printed in a data-quality summary.
 *
 * Ownership: callers own every buffer. Thread safety: every function here is
 * pure (no state) and may be called from any number of threads at once.
 */
#ifndef WYELINK_NORMALISE_H
#define WYELINK_NORMALISE_H

#include <stddef.h>
#include <stdint.h>

#include "wyelink/error.h"

/* Size of a buffer that holds any canonical value, including the NUL. */
#define WYE_NORM_MAX 128
/* Raw values longer than this many bytes are invalid (WYE_NR_TOO_LONG). */
#define WYE_NORM_RAW_MAX 256
/* Dates of birth further back than this from the extract date are invalid. */
#define WYE_NORM_MAX_AGE 120

typedef enum wye_norm_status {
    WYE_NORM_PRESENT = 0,
    WYE_NORM_MISSING = 1,
    WYE_NORM_INVALID = 2,
} wye_norm_status;

/* Why a value is invalid. Values are pinned (they index summary tables). */
typedef enum wye_norm_reason {
    WYE_NR_NONE = 0,
    WYE_NR_TOO_LONG = 1,          /* longer than WYE_NORM_RAW_MAX bytes */
    WYE_NR_NAME_NO_LETTERS = 2,   /* no Latin letter at all */
    WYE_NR_NAME_TITLE_ONLY = 3,   /* only a title such as Mrs or Dr */
    WYE_NR_NAME_PLACEHOLDER = 4,  /* UNKNOWN, N/K, NOT KNOWN, ... */
    WYE_NR_DATE_FORMAT = 5,       /* not in the declared date format */
    WYE_NR_DATE_NO_SUCH_DAY = 6,  /* e.g. 31/02 or month 13 */
    WYE_NR_DATE_FUTURE = 7,       /* after the extract date */
    WYE_NR_DATE_TOO_OLD = 8,      /* more than WYE_NORM_MAX_AGE years before it */
    WYE_NR_POSTCODE_FORMAT = 9,   /* not a UK postcode */
    WYE_NR_POSTCODE_PARTIAL = 10, /* an outward code only, e.g. a district */
    WYE_NR_POSTCODE_PSEUDO = 11,  /* an NHS pseudo-postcode (ZZ99 ...) */
    WYE_NR_NHS_FORMAT = 12,       /* not 10 digits (spaces and hyphens aside) */
    WYE_NR_NHS_CHECK = 13,        /* modulus-11 check digit fails */
    WYE_NR_NHS_PLACEHOLDER = 14,  /* all ten digits the same */
    WYE_NR_CODE_UNKNOWN = 15,     /* a code not in the column map's values
                                     (or, for sex, not a default code) */
    WYE_NR_ATTR_NOT_ALLOWED = 16, /* not an allowed value of the attribute */
    WYE_NR_ADDRESS_NO_ALNUM = 17, /* an address without a letter or digit */
    WYE_NR_ADDRESS_PLACEHOLDER = 18, /* UNKNOWN, NO FIXED ABODE, WITHHELD, ... */
    WYE_NR_ID_FORMAT = 19,        /* not letters and digits (spaces and hyphens aside) */
    WYE_NR_ID_PLACEHOLDER = 20,   /* all characters the same, UNKNOWN, ... */
    WYE_NR_COUNT = 21
} wye_norm_reason;

/* A static lowercase description of r ("unknown reason" if out of range). */
WYE_API const char *wye_norm_reason_text(wye_norm_reason r);

/* ---- names ---- */

/* Normalise a name (one or more words). Steps, in order: trim; fold each
 * Latin letter to its ASCII capital base letter(s) (É->E, ß->SS, Æ->AE,
 * Ø->O, ...; combining marks dropped); apostrophes and hyphens join (O'Brien
 * -> OBRIEN, Smith-Jones -> SMITHJONES); spaces, dots, commas, digits and
 * other punctuation separate words; other characters are dropped; leading
 * titles (MR, MRS, DR, ...) and trailing suffixes (JR, SNR, III, ...) are
 * dropped while another word remains; a placeholder (UNKNOWN, N/K, ...) is
 * invalid. out needs WYE_NORM_MAX bytes. */
WYE_API wye_norm_status wye_norm_name(const char *in, size_t len, char out[WYE_NORM_MAX],
                                      wye_norm_reason *why);

/* How a single column holds several name parts. */
typedef enum wye_name_split {
    WYE_SPLIT_NONE = 0,
    WYE_SPLIT_FORENAME_SURNAME = 1,       /* "Jane Mary Smith" */
    WYE_SPLIT_SURNAME_COMMA_FORENAME = 2, /* "SMITH, Jane Mary" */
    WYE_SPLIT_GIVEN_NAMES = 3,            /* "Jane Mary": first is the given
                                             name, the rest other given names */
} wye_name_split;

typedef struct wye_name_parts {
    char given[WYE_NORM_MAX];  /* "" when absent */
    char other[WYE_NORM_MAX];  /* other given names, "" when absent */
    char family[WYE_NORM_MAX]; /* "" when absent */
} wye_name_parts;

/* Split one column into name parts and normalise each.
 * FORENAME_SURNAME: the value is normalised as a whole (wye_norm_name); the
 * last word is the family name, the first the given name, the words between
 * the other given names; a single word is a family name only.
 * SURNAME_COMMA_FORENAME: before the first comma is the family name, after it
 * the given names (first word given, rest other); without a comma the first
 * word is the family name and the rest the given names.
 * GIVEN_NAMES: first word given, the rest other given names.
 * Returns PRESENT if any part is non-empty, else MISSING or INVALID (why). */
WYE_API wye_norm_status wye_norm_name_split(const char *in, size_t len, wye_name_split how,
                                            wye_name_parts *out, wye_norm_reason *why);

/* ---- dates ---- */

typedef struct wye_date {
    int year, month, day;
} wye_date;

typedef enum wye_date_format {
    WYE_DATE_DMY = 1,      /* "DD/MM/YYYY"  17/08/1991 */
    WYE_DATE_ISO = 2,      /* "YYYY-MM-DD"  1991-08-17 */
    WYE_DATE_DMON = 3,     /* "DD-Mon-YYYY" 03-Feb-1985 (month name any case) */
    WYE_DATE_DMY2 = 4,     /* "DD/MM/YY"    17/10/76 (year pivots on the extract date) */
    WYE_DATE_COMPACT = 5,  /* "YYYYMMDD"    19910817 */
    WYE_DATE_DMY_DOT = 6,  /* "DD.MM.YYYY"  17.08.1991 */
} wye_date_format;

/* The format named by name (the column-map spelling above), or 0. */
WYE_API wye_date_format wye_date_format_from_name(const char *name);
/* The column-map spelling of f, or NULL. */
WYE_API const char *wye_date_format_name(wye_date_format f);

/* 1 if y-m-d is a day of the proleptic Gregorian calendar, else 0. */
WYE_API int wye_date_valid(int year, int month, int day);
/* Parse "YYYY-MM-DD" exactly (NUL-terminated). WYE_EFORMAT if it is not a
 * valid day. */
WYE_API int wye_date_parse_iso(const char *s, wye_date *out);
/* <0, 0, >0 as a is before, equal to, after b. */
WYE_API int wye_date_cmp(const wye_date *a, const wye_date *b);
/* Age in whole years on day at of someone born on dob (a 29 February
 * birthday counts from 1 March in common years); negative if at < dob. */
WYE_API int wye_date_age(const wye_date *dob, const wye_date *at);

/* Parse and validate a date of birth in format fmt. Day and month may have
 * one or two digits in the formats with separators; a trailing time of day
 * (" HH:MM" or " HH:MM:SS") is ignored. Two-digit years take the latest
 * century that puts the date on or before extract. The date must be a real
 * day, not after extract, and at most WYE_NORM_MAX_AGE years before it.
 * On PRESENT, *out is the date and canon (may be NULL) holds "YYYYMMDD". */
WYE_API wye_norm_status wye_norm_date(const char *in, size_t len, wye_date_format fmt,
                                      const wye_date *extract, wye_date *out,
                                      char canon[9], wye_norm_reason *why);

/* ---- postcodes, NHS numbers, sex ---- */

/* Validate a UK postcode (any case and spacing) and write "OUTWARD INWARD"
 * into out (at most 8 characters and a NUL). */
WYE_API wye_norm_status wye_norm_postcode(const char *in, size_t len, char out[9],
                                          wye_norm_reason *why);

/* Validate an NHS number: ten digits once spaces and hyphens are removed,
 * the modulus-11 check digit correct, not all digits the same. */
WYE_API wye_norm_status wye_norm_nhs(const char *in, size_t len, char out[11],
                                     wye_norm_reason *why);

/* 1 if the first nine digits of d give check digit d[9] (modulus 11), else 0. */
WYE_API int wye_nhs_check_digit_ok(const char d[10]);

/* Map a sex code with the default table (case-insensitive, trimmed):
 * F, Female, Woman -> "F"; M, Male, Man -> "M"; X, Other -> "X";
 * U, Unknown -> MISSING; anything else INVALID (WYE_NR_CODE_UNKNOWN).
 * out needs 2 bytes. */
WYE_API wye_norm_status wye_norm_sex(const char *in, size_t len, char out[2],
                                     wye_norm_reason *why);

/* ---- addresses, other identifiers ---- */

/* Normalise a street address line (hashing/COLUMNMAP.md, "Addresses").
 * Steps, in order: trim; fold Latin letters to ASCII capital base letters as
 * wye_norm_name does; keep ASCII digits; apostrophes join (St John's ->
 * ST JOHNS); every other character (hyphens, dots, commas, slashes, spaces,
 * other punctuation) separates words; symbols and other scripts are dropped;
 * each word that is a street type, or one of its common spellings, becomes
 * the type's abbreviation (STREET, STR -> ST; ROAD -> RD; AVENUE, AV -> AVE;
 * ...; SAINT -> ST; APARTMENT, APT -> FLAT: the table in normalise.c and
 * COLUMNMAP.md). A whole value that stands for "no address" (UNKNOWN, NFA,
 * NO FIXED ABODE, WITHHELD, ...) is invalid (WYE_NR_ADDRESS_PLACEHOLDER);
 * one without any letter or digit is invalid (WYE_NR_ADDRESS_NO_ALNUM); a
 * canonical form of WYE_NORM_MAX bytes or more is WYE_NR_TOO_LONG. out needs
 * WYE_NORM_MAX bytes. */
WYE_API wye_norm_status wye_norm_address(const char *in, size_t len, char out[WYE_NORM_MAX],
                                         wye_norm_reason *why);

/* Normalise another identifier (a social security, national insurance or
 * local person number): trim; drop spaces, tabs and hyphens; ASCII letters
 * to capitals; any other character makes it invalid (WYE_NR_ID_FORMAT), as
 * does having no letter or digit. Two or more characters all the same
 * (000000) or a placeholder word (UNKNOWN, NONE, NULL, NA, NK, TBC) is
 * invalid (WYE_NR_ID_PLACEHOLDER). out needs WYE_NORM_MAX bytes. */
WYE_API wye_norm_status wye_norm_other_id(const char *in, size_t len, char out[WYE_NORM_MAX],
                                          wye_norm_reason *why);

/* Trim ASCII spaces and tabs (and U+00A0) from both ends of in[0..*len):
 * returns the new start and updates *len. */
WYE_API const char *wye_norm_trim(const char *in, size_t *len);

#endif
