/* Internal to testdata/: the generator's random numbers, name lists and
 * dates, shared by synth.c and synth_lists.c. Not a public interface. */
#ifndef WYELINK_SYNTH_INTERNAL_H
#define WYELINK_SYNTH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
} synth_list;

typedef struct synth_lists {
    synth_list female, male, surname;
    char *nick_text;
    const char **nick;   /* nicknames, grouped by name */
    uint32_t nnick;
    char *out_text;
    const char **out_local, **out_all; /* outward codes */
    uint32_t nlocal, nall;
} synth_lists;

int synth_lists_load(synth_lists *l);
void synth_lists_free(synth_lists *l);
/* Index of a weighted draw from l. */
uint32_t synth_list_draw(const synth_list *l, synth_rng *r);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t synth_days_from_civil(int y, unsigned m, unsigned d);
void synth_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d);
unsigned synth_days_in_month(int y, unsigned m);

#endif
