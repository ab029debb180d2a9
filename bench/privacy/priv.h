/* Privacy attacks on wyelink's encodings (protocols/PRIVACY.md).
 *
 * Bench code shared by bench/privacy/bench_privacy.c and the guard test
 * tests/privacy/test_privacy.c; not part of the library. It plays an
 * honest-but-curious linkage unit: it holds encoded records and the public
 * protocol, never the linkage secret, plus public knowledge (the UK name
 * frequency lists under testdata/names, a sample population drawn from
 * public lists, and for the graph attack a plaintext population that
 * overlaps the encoded one). The plaintext truth is used only to score the
 * attacks. Nothing here prints; results are counts.
 *
 * Ownership: every *_free accepts NULL or a zeroed struct; the protocol
 * given to priv_data_* is borrowed and must outlive the data.
 * Thread safety: functions work on their own arguments only.
 */
#ifndef WYELINK_BENCH_PRIV_H
#define WYELINK_BENCH_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wyelink/encoder.h"
#include "wyelink/keys.h"
#include "wyelink/protocol.h"

/* ---- data ---------------------------------------------------------------- */

/* Records with their normalised values (the plaintext), the ground truth
 * and, once encoded, the encoded bytes. */
typedef struct priv_data {
    const wye_protocol *p;
    size_t n;
    wye_fields *f;       /* n records' normalised values */
    uint32_t *person;    /* truth: the person each record belongs to */
    uint8_t *agency;     /* the synth agency index of each record */
    uint8_t *enc;        /* n * rsize encoded bytes, NULL until encoded */
    size_t rsize;        /* the protocol's record size */
    size_t nrej;         /* rows the hashing client would not encode */
    uint32_t *rej_person; /* their persons (for evaluating a linkage) */
} priv_data;

/* Generate `wyelink synth` data in memory (seed, scale, agencies: a mask of
 * 1u << WYE_SYNTH_*, error level 1, extract date 2023-03-31), read each
 * agency's CSV through its column map and keep the rows the hashing client
 * encodes (the persons of the others go to rej_person). person_base is
 * added to every person number (to keep two populations' persons apart).
 * Returns WYE_OK or a WYE_E* code. */
int priv_data_synth(const wye_protocol *p, uint64_t seed, double scale, unsigned agencies,
                    uint32_t person_base, priv_data *d);
/* Read nfiles CSV extracts (agency index = position in csv[]) through one
 * column map file, with dates judged at extract_date (YYYY-MM-DD); the
 * person of a row is the number in its local id (FEBRL's "rec-1070-dup-0"
 * is person 1070). */
int priv_data_files(const wye_protocol *p, const char *const *csv, const char *map, size_t nfiles,
                    const char *extract_date, priv_data *d);
/* A new data set of records idx[0..m) of a followed by records jdx[0..k) of
 * b (b may be NULL when k is 0); the encoded bytes are not copied. */
int priv_data_pick(const priv_data *a, const size_t *idx, size_t m, const priv_data *b,
                   const size_t *jdx, size_t k, priv_data *out);
void priv_data_free(priv_data *d);

/* Encode every record with the real encoder under secret s (the pseudonym
 * key is fixed: pseudonyms play no part in the attacks). */
int priv_data_encode(priv_data *d, const wye_secret *s);

/* A linkage secret made of the bytes fill, fill+1, ..., fill+31 (through a
 * secret file in a fresh temporary folder, which is removed). */
int priv_secret_fixed(uint8_t fill, wye_secret **out);

/* The 0-based age band attribute value (as encoded: 0 missing, v+1 =
 * values[v]) and the sex attribute of record i, or 0 when the protocol has no
 * such attribute. */
unsigned priv_attr(const priv_data *d, size_t i, const char *source_name);

/* ---- public knowledge ---------------------------------------------------- */

/* A list of normalised values with weights, merged by value, sorted by
 * weight (descending, ties by value). */
typedef struct priv_list {
    size_t n;
    char (*v)[WYE_NORM_MAX];
    double *w;
    double total;
} priv_list;

typedef struct priv_public {
    priv_list female, male, given, surnames; /* given = female + male */
} priv_public;

/* Load given_female.csv, given_male.csv and surnames.csv (name,weight) from
 * dir, normalising each name as the hashing client does. */
int priv_public_load(const char *dir, priv_public *pub);
void priv_public_free(priv_public *pub);

/* ---- scoring ------------------------------------------------------------- */

/* How an attack did. A record is re-identified when the attack's guess for
 * its given name or its family name equals the record's true value; a name
 * (a distinct given-name or family-name value of the records) is
 * re-identified when it was guessed correctly for at least one record. */
typedef struct priv_score {
    size_t records;      /* records attacked */
    size_t guessed;      /* records the attack made a guess for */
    size_t reid;         /* records with a name guessed exactly */
    size_t reid_full;    /* records with both names guessed exactly */
    size_t names;        /* distinct name values among the records */
    size_t names_reid;   /* of those, guessed exactly at least once */
    /* Graph matching only (0 otherwise): */
    bool graph;
    size_t ident;        /* records matched to a plaintext record of the same
                            person: re-identified exactly (PRIVACY.md 1) */
    /* Expected records re-identified by chance, if each encoded record were
     * matched to a plaintext record drawn uniformly from those its clear
     * attributes (sex, age band) allow, as the attack's matching does:
     * by a name hit, and by identity. Exact expectations from the data. */
    double chance_reid, chance_ident;
} priv_score;

/* Score guesses of the values of fields fi[0..nf): guess[nf * i + k] is the
 * guess for field fi[k] of record i (NULL = no guess). A record counts as
 * re-identified when any of its guesses is exact; `names` counts distinct
 * values of each field apart. */
int priv_score_fields(const priv_data *d, size_t nf, const int *fi, const char *const *guess,
                      priv_score *out);
/* The same for given_name and family_name: guess[2 * i], guess[2 * i + 1]. */
int priv_score_guesses(const priv_data *d, const char *const *guess, priv_score *out);
double priv_share(size_t a, size_t b);

/* ---- attack 1: frequency and pattern mining ------------------------------- */

#define PRIV_MAX_TARGETS 24

/* One attack on one part of the encoded record. */
typedef struct priv_target {
    char name[64];       /* e.g. "given_name filter: frequency" */
    priv_score s;
    size_t learned;      /* pattern mining: tokens whose bit positions it found */
    bool names;          /* the target's values are names (else dates, ...) */
} priv_target;

typedef struct priv_freq_report {
    size_t n;
    priv_target t[PRIV_MAX_TARGETS];
    size_t best;         /* index of the target with most records re-identified */
} priv_freq_report;

typedef struct priv_freq_opts {
    unsigned max_tokens;  /* pattern mining: tokens to learn at most (default 400) */
    size_t min_records;   /* smallest partition mined (default 12) */
    double eps;           /* support tolerance (default 0.1) */
} priv_freq_opts;

void priv_freq_default_opts(priv_freq_opts *o);

/* Run every frequency and pattern-mining attack the protocol's encodings
 * allow against the encoded records of E: whole-value frequency alignment of
 * each field filter and exact digest against public frequencies, and
 * pattern mining of the record-level filter and of each name field filter.
 * sample: the attacker's own plaintext sample (public knowledge) from which
 * token frequencies of all fields are estimated. */
int priv_attack_freq(const priv_data *E, const priv_data *sample, const priv_public *pub,
                     const priv_freq_opts *o, priv_freq_report *out);

/* ---- attack 2: graph matching ------------------------------------------- */

typedef enum priv_sim {
    PRIV_SIM_QGRAM = 1,    /* plaintext side: Dice of the protocol's tokens */
    PRIV_SIM_REENCODE = 2, /* plaintext side: encoded by the attacker under its
                              own secret with the public protocol */
} priv_sim;

typedef struct priv_graph_opts {
    priv_sim sim;
    const wye_secret *attacker_secret; /* for PRIV_SIM_REENCODE */
    bool fields;          /* compare the field filters (all of them as one bit
                             string) instead of the record-level filter */
    unsigned rounds;      /* refinement rounds (default 4) */
    unsigned threads;     /* 0 = all cores */
} priv_graph_opts;

void priv_graph_default_opts(priv_graph_opts *o);

/* Match the similarity graph of E's record-level filters (or field filters,
 * with opts->fields) with the similarity graph of the plaintext population P,
 * and guess each encoded record's names as those of the plaintext record it
 * was matched to. WYE_ENOTFOUND if the protocol has no such filter. */
int priv_attack_graph(const priv_data *E, const priv_data *P, const priv_graph_opts *o,
                      priv_score *out);

#endif
