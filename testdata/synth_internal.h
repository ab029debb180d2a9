/* Internal to testdata/: what the generator's files share. Not a public
 * interface.
 *   synth.c             settings, the generator's life, writing an agency
 *   synth_population.c  who exists: cohorts, membership, each person's truth
 *   synth_errors.c      the error rates and one record's values with errors
 *   synth_layouts.c     each agency's CSV layout, its rows and column map
 *   synth_lists.c       the embedded name and postcode lists, calendar dates
 */
#ifndef WYELINK_SYNTH_INTERNAL_H
#define WYELINK_SYNTH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wyelink/synth.h"

/* xoshiro256** (Blackman and Vigna), seeded through splitmix64 from a key of
 * up to four words, so that every person, record and agency has its own
 * stream and the output does not depend on the order of generation. */
typedef struct synth_rng {
    uint64_t s[4];
} synth_rng;

static inline uint64_t synth_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static inline void synth_rng_init(synth_rng *r, uint64_t seed, uint64_t stream, uint64_t a,
                                  uint64_t b)
{
    const uint64_t golden = UINT64_C(0x9e3779b97f4a7c15);
    uint64_t x = synth_mix64(seed + golden);
    x = synth_mix64(x ^ synth_mix64(stream + 2 * golden));
    x = synth_mix64(x ^ synth_mix64(a + 3 * golden));
    x = synth_mix64(x ^ synth_mix64(b + 4 * golden));
    for (int i = 0; i < 4; i++) {
        x += golden;
        r->s[i] = synth_mix64(x);
    }
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
        r->s[0] = 1;
}

static inline uint64_t synth_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t synth_next(synth_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = synth_rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = synth_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static inline double synth_uniform(synth_rng *r)
{
    return (double)(synth_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n); n > 0. The bias (n / 2^64) is far below anything the
 * generator could show. */
static inline uint64_t synth_below(synth_rng *r, uint64_t n)
{
    return synth_next(r) % n;
}

static inline bool synth_chance(synth_rng *r, double p)
{
    return synth_uniform(r) < p;
}

/* A weighted list of names parsed from an embedded CSV "name,weight". */
typedef struct synth_list {
    char *text;          /* owned copy of the CSV, names point into it */
    const char **names;
    uint64_t *cum;       /* cumulative weights */
    uint32_t n;
    /* For given-name lists: nicknames of names[i] are nick[nick_start[i] ..
     * nick_start[i] + nick_count[i]); accent[i] is the name with its
     * diacritics (UTF-8) or NULL. */
    uint32_t *nick_start;
    uint16_t *nick_count;
    const char **accent;
    /* Given-name lists: cumulative weights raised to the power 5/4, for
     * people born before the lists' years (synth_lists.c). */
    uint64_t *cum_old;
} synth_list;

typedef struct synth_lists {
    synth_list female, male, surname;
    char *nick_text;
    const char **nick;   /* nicknames, grouped by name */
    uint32_t nnick;
    char *out_text;
    const char **out_local, **out_all; /* outward codes */
    uint32_t nlocal, nall;
    /* The Welsh-border surnames common in the county: indices into
     * surname, with cumulative national weights. */
    uint32_t border[24];
    uint64_t border_cum[24];
    uint32_t nborder;
} synth_lists;

int synth_lists_load(synth_lists *l);
void synth_lists_free(synth_lists *l);
/* Index of a weighted draw from l, or (old) from its sharpened weights. */
uint32_t synth_list_draw(const synth_list *l, synth_rng *r);
uint32_t synth_list_draw_old(const synth_list *l, synth_rng *r);
/* Index into l->surname of a draw from the county's border surnames. */
uint32_t synth_border_draw(const synth_lists *l, synth_rng *r);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t synth_days_from_civil(int y, unsigned m, unsigned d);
void synth_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d);
unsigned synth_days_in_month(int y, unsigned m);

/* ---------------------------------------------------------------- model */

/* Short names of the agencies, for the tables indexed by agency. */
enum { POL = WYE_SYNTH_POLICE, GP = WYE_SYNTH_GP, ASC = WYE_SYNTH_ASC, WMWA = WYE_SYNTH_WMWA,
       MARAC = WYE_SYNTH_MARAC, IDVA = WYE_SYNTH_IDVA, HOUS = WYE_SYNTH_HOUSING, NA = 7 };

/* The purposes of the random streams: see synth_rng_init. */
enum { STREAM_MEMBER = 1, STREAM_PERSON = 2, STREAM_RECORD = 3, STREAM_SHUFFLE = 4,
       STREAM_HOUSE = 5 };

/* Error and variation rates by agency (synth_errors.c). */
typedef struct rates {
    double typo_given, typo_family, nickname, nick_pref, former_used, former_col, rename_seen,
        swap, dbl_var, prefix_var, accent_drop, middle_drop, dob_missing, dob_jan1, dob_swap,
        dob_typo, pc_missing, pc_old, pc_typo, pc_format, sex_missing, nhs_missing, nhs_typo,
        case_var, title, withheld, name_only;
} rates;

/* dst[a] = agency a's rates at error level lv. */
void synth_rates_scale(rates dst[NA], double lv);

struct wye_synth {
    wye_synth_settings s;
    int ey;
    unsigned em, ed;
    int64_t eday;             /* extract date as a day number */
    uint64_t cohort_end[NA];  /* persons [end[k-1], end[k]) are cohort_order[k] */
    uint64_t npersons;
    double expected[NA];
    double local_share;
    rates r[NA];              /* scaled by the error level */
    synth_lists lists;
};

/* ---------------------------------------------------------------- persons */

/* Fills the cohort sizes, expected records and local share of g from
 * g->s.scale (synth_population.c). */
void synth_population_plan(wye_synth *g);

/* How a person is related to the person before them (their anchor), who
 * lives at the same address (synth_population.c, "households"). */
enum { KIN_NONE = 0, KIN_TWIN, KIN_PARTNER, KIN_CHILD, KIN_SIBLING, KIN_COUNT };

/* Cohort, sex, household and the number of records in each agency of
 * person p. */
typedef struct membership {
    int cohort;
    char sex;
    uint8_t kin;     /* KIN_*: p is this to p - 1 */
    uint8_t nrec[NA];
} membership;

void synth_membership(const wye_synth *g, uint64_t p, membership *m);

/* The truth about one person, from which each of their records is drawn. */
typedef struct person {
    uint64_t id;
    int cohort;
    char sex;
    int by;
    unsigned bm, bd;
    const synth_list *glist;
    uint32_t given;
    bool accented;
    const char *middle[2];
    int nmiddle;
    const char *fam1, *fam2; /* fam2: the second half of a double-barrelled name */
    const char *former;      /* NULL: no other family name */
    const char *nick;        /* a nickname the person goes by, or NULL */
    /* renamed: the person left a partner on rename_day and went back from
     * former (the partner's name) to fam1; records after it use fam1. */
    bool renamed;
    int64_t rename_day;
    int kin;                 /* KIN_*: related to person id - 1 */
    char nhs[11];
    char pc[2][9];           /* current, previous */
    bool moved, refuge;
} person;

void synth_make_person(const wye_synth *g, uint64_t p, const membership *m, person *x);

/* ---------------------------------------------------------------- text */

/* A small string builder on a fixed buffer (values are short; longer
 * inputs are cut, never overflowed). */
typedef struct sbuf {
    char s[192];
    size_t n;
} sbuf;

static inline void sb_set(sbuf *b, const char *s)
{
    b->n = strlen(s);
    if (b->n >= sizeof b->s)
        b->n = sizeof b->s - 1;
    memcpy(b->s, s, b->n);
    b->s[b->n] = '\0';
}

static inline void sb_cat(sbuf *b, const char *s)
{
    size_t k = strlen(s);
    if (b->n + k >= sizeof b->s)
        k = sizeof b->s - 1 - b->n;
    memcpy(b->s + b->n, s, k);
    b->n += k;
    b->s[b->n] = '\0';
}

static inline bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static inline char to_lower(char c)
{
    return is_upper(c) ? (char)(c + 32) : c;
}

static inline char to_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
}

/* Upper case, including the Latin-1 letters of the accent table. */
static inline void sb_upper(sbuf *b)
{
    for (size_t i = 0; i < b->n; i++) {
        unsigned char c = (unsigned char)b->s[i];
        if (c == 0xC3 && i + 1 < b->n) {
            unsigned char d = (unsigned char)b->s[i + 1];
            if (d >= 0xA0 && d <= 0xBE && d != 0xB7)
                b->s[i + 1] = (char)(d - 0x20);
            i++;
        } else {
            b->s[i] = to_upper((char)c);
        }
    }
}

static inline void sb_lower(sbuf *b)
{
    for (size_t i = 0; i < b->n; i++) {
        unsigned char c = (unsigned char)b->s[i];
        if (c == 0xC3 && i + 1 < b->n) {
            unsigned char d = (unsigned char)b->s[i + 1];
            if (d >= 0x80 && d <= 0x9E && d != 0x97)
                b->s[i + 1] = (char)(d + 0x20);
            i++;
        } else {
            b->s[i] = to_lower((char)c);
        }
    }
}

/* Writes v in width decimal digits at p; returns the end. */
static inline char *put_digits(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/* ---------------------------------------------------------------- records */

/* The identifying values of one record, before the agency's layout. */
typedef struct record {
    sbuf given, middle, family, former;
    bool dob_missing;
    int by;
    unsigned bm, bd;
    bool sex_missing;
    char sex;
    sbuf postcode; /* empty = missing */
    bool withheld;
    char nhs[11];
    bool nhs_missing;
    bool name_only;    /* a helpline contact: a name, sex and age band only */
    int64_t event_day; /* the incident, referral or approach */
    unsigned choice;   /* a free draw for the agency's own columns */
    unsigned choice2;
} record;

/* Record rep (0, 1, ...) of person x in agency a (synth_errors.c). */
void synth_make_record(const wye_synth *g, int a, const person *x, unsigned rep, record *rec);

/* ---------------------------------------------------------------- output */

/* A growing memory buffer with a sticky error: one chunk of rows is
 * formatted into it, then handed to the sink in row order. */
typedef struct out {
    char *buf;
    size_t n, cap;
    int err;
    bool cp1252; /* convert the UTF-8 of field values to Windows-1252 */
} out;

/* The header line of agency a's extract, one row of it and the row's line of
 * the truth file (synth_layouts.c). row is the row's index of nrows. */
void synth_write_header(out *o, int a);
void synth_write_row(out *o, const wye_synth *g, int a, const person *x, unsigned rep,
                     const record *rec, uint64_t row, uint64_t nrows);
void synth_write_truth(out *o, const wye_synth *g, int a, uint64_t p, uint64_t row,
                       uint64_t nrows);

#endif
