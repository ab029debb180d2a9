/* Blocking: keys per record, blocks of equal keys, parts of work, and the
 * first-shared-key rule that makes each candidate pair appear once. */
#include "wyelink/blocking.h"

#include <immintrin.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX
/* Pairs visited per part (blocks are never split). */
#define PART_WORK (1u << 20)

enum { KEY_DIGEST = 1, KEY_HAMMING = 2, KEY_MINHASH = 3, KEY_FILTER = 4 };

typedef struct key_def {
    int type;
    int field;              /* KEY_DIGEST, KEY_FILTER */
    unsigned npos;          /* KEY_HAMMING: sampled bit positions */
    uint32_t pos[64];
    unsigned group;         /* KEY_MINHASH: which group (0 names, 1 the second) */
    unsigned band;          /* KEY_MINHASH: which band of the group's keys */
} key_def;

/* A MinHash group: ranks of each bit position for every hash function
 * (the same for all the group's fields, so that swapped names meet), and
 * every record's key in every band, computed in one pass over its set
 * bits. */
typedef struct mh_group {
    uint32_t *rank;         /* [position * nfunc + function] */
    size_t bits, nfunc, nbands;
    int field[4];
    unsigned nf, per_field;
    uint64_t *key;          /* [band * n + record] */
    uint8_t *ok;            /* record has every field of the group */
} mh_group;

struct wye_blocks {
    const wye_recview *v;
    wye_blocking_params p;
    size_t n, nkeys;
    key_def keys[WYE_BLOCK_MAX_KEYS];
    wye_block_key_stats stats[WYE_BLOCK_MAX_KEYS];
    uint32_t *bid;          /* bid[i * nkeys + k]: block of record i under key k */
    size_t nblocks;
    uint64_t *bstart;       /* first member of each block (nblocks + 1) */
    uint8_t *bkey;          /* key of each block */
    uint32_t *members;
    size_t nparts;
    size_t *part_first;     /* block (or row, exhaustive) where each part starts */
    uint64_t *part_work;
    mh_group mh[2];         /* the names, and the second group */
};

void wye_blocking_default_params(wye_blocking_params *p)
{
    memset(p, 0, sizeof *p);
    p->exhaustive = false;
    p->digests = true;
    p->hamming_bands = 16;
    p->hamming_bits = 24;
    p->minhash_bands = 16;
    p->minhash_per_field = 4;
    p->minhash_fields[0] = "given_name";
    p->minhash_fields[1] = "family_name";
    p->minhash2_bands = 16;
    p->minhash2_per_field = 8;
    p->minhash2_fields[0] = "address";
    p->exact_fields[0] = "postcode";
    p->max_block = 2000;
    p->seed = 0x7779656c696e6b31ull; /* "wyelink1" */
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

void wye_blocks_free(wye_blocks *b)
{
    if (!b)
        return;
    for (unsigned g = 0; g < 2; g++) {
        free(b->mh[g].rank);
        free(b->mh[g].key);
        free(b->mh[g].ok);
    }
    free(b->bid);
    free(b->bstart);
    free(b->bkey);
    free(b->members);
    free(b->part_first);
    free(b->part_work);
    free(b);
}

static inline unsigned presence(const wye_layout *lay, const uint8_t *r)
{
    return (unsigned)r[lay->presence_off] | (unsigned)r[lay->presence_off + 1] << 8;
}

/* The key of record i under key definition d; false if it has none. */
static bool record_key(const wye_blocks *b, const key_def *d, size_t i, uint64_t *key)
{
    const wye_recview *v = b->v;
    const wye_layout *lay = v->layout;
    const uint8_t *r = wye_rec(v, i);
    switch (d->type) {
    case KEY_DIGEST: {
        if (!(presence(lay, r) & (1u << d->field)))
            return false;
        uint64_t x;
        memcpy(&x, r + lay->digest_off[d->field], sizeof x);
        *key = x;
        return x != 0;
    }
    case KEY_HAMMING: {
        if (!wye_rec_rpop(v, i))
            return false;
        const uint64_t *f = (const uint64_t *)(const void *)(r + lay->filter_off);
        uint64_t x = 0;
        for (unsigned j = 0; j < d->npos && j < 64; j++)
            x |= ((f[d->pos[j] >> 6] >> (d->pos[j] & 63)) & 1u) << j;
        *key = x;
        return true;
    }
    case KEY_MINHASH:
        if (!b->mh[d->group].ok[i])
            return false;
        *key = b->mh[d->group].key[(size_t)d->band * b->n + i];
        return true;
    case KEY_FILTER: {
        if (!(presence(lay, r) & (1u << d->field)) || !wye_rec_fpop(v, i, (size_t)d->field))
            return false;
        const uint8_t *f = r + lay->field_filter_off[d->field];
        uint64_t h = 1469598103934665603ull;
        for (size_t k = 0; k < lay->field_filter_bytes[d->field]; k++)
            h = (h ^ f[k]) * 1099511628211ull;
        *key = mix(h);
        return true;
    }
    }
    return false;
}

typedef struct kr {
    uint64_t key;
    uint32_t rec;
} kr;

/* Stable LSD radix sort by key, 16 bits a pass. */
static void radix_sort(kr *a, kr *tmp, size_t n, size_t *count)
{
    uint64_t any = 0;
    for (size_t i = 0; i < n; i++)
        any |= a[i].key;
    for (unsigned shift = 0; shift < 64; shift += 16) {
        if (!((any >> shift) & 0xffff))
            continue; /* every key has zeros here: the order stands */
        memset(count, 0, 65537 * sizeof *count);
        for (size_t i = 0; i < n; i++)
            count[((a[i].key >> shift) & 0xffff) + 1]++;
        for (size_t d = 1; d <= 65536; d++)
            count[d] += count[d - 1];
        for (size_t i = 0; i < n; i++)
            tmp[count[(a[i].key >> shift) & 0xffff]++] = a[i];
        memcpy(a, tmp, n * sizeof *a);
    }
}

typedef struct key_blocks {
    uint32_t *members; /* records of the kept blocks, block after block */
    size_t nmembers;
    uint64_t *start;   /* per block, offset into members; [nb] = nmembers */
    size_t nb;
} key_blocks;

static int build_key(wye_blocks *b, size_t k, kr *arr, kr *tmp, size_t *count,
                     key_blocks *out)
{
    const key_def *d = &b->keys[k];
    wye_block_key_stats *st = &b->stats[k];
    size_t m = 0;
    for (size_t i = 0; i < b->n; i++) {
        uint64_t key;
        if (record_key(b, d, i, &key))
            arr[m++] = (kr){key, (uint32_t)i};
    }
    st->records = m;
    radix_sort(arr, tmp, m, count);
    size_t nb = 0, nmem = 0;
    for (size_t s = 0, e; s < m; s = e) {
        for (e = s + 1; e < m && arr[e].key == arr[s].key; e++)
            ;
        size_t sz = e - s;
        if (sz < 2)
            continue;
        if (sz > b->p.max_block) {
            st->dropped++;
            st->dropped_records += sz;
            continue;
        }
        nb++;
        nmem += sz;
    }
    out->members = malloc((nmem + 1) * sizeof *out->members);
    out->start = malloc((nb + 1) * sizeof *out->start);
    if (!out->members || !out->start)
        return WYE_ENOMEM;
    nb = nmem = 0;
    for (size_t s = 0, e; s < m; s = e) {
        for (e = s + 1; e < m && arr[e].key == arr[s].key; e++)
            ;
        size_t sz = e - s;
        if (sz < 2 || sz > b->p.max_block)
            continue;
        out->start[nb] = nmem;
        for (size_t j = s; j < e; j++) {
            out->members[nmem++] = arr[j].rec;
            b->bid[(size_t)arr[j].rec * b->nkeys + k] = (uint32_t)nb;
        }
        st->pairs += (uint64_t)sz * (sz - 1) / 2;
        nb++;
    }
    out->start[nb] = nmem;
    out->nb = nb;
    out->nmembers = nmem;
    st->blocks = nb;
    return WYE_OK;
}

/* MinHash group g over the fields named (those the protocol gives a field
 * filter; none: no keys), `bands` keys of per_field min-hashes of each
 * field. */
static int define_minhash(wye_blocks *b, unsigned g, const char *const names[4], unsigned bands,
                          unsigned per_field, const char *label, uint64_t *seed)
{
    const wye_recview *v = b->v;
    const wye_layout *lay = v->layout;
    mh_group *m = &b->mh[g];
    int mf[4];
    unsigned nmf = 0;
    size_t mbits = 0;
    for (unsigned i = 0; i < 4 && names[i]; i++) {
        int f = wye_protocol_field_index(v->protocol, names[i]);
        if (f < 0 || !lay->field_filter_bytes[f])
            continue; /* the protocol does not give this field a filter */
        mf[nmf++] = f;
        if (lay->field_filter_bytes[f] * 8 > mbits)
            mbits = lay->field_filter_bytes[f] * 8;
    }
    if (!nmf || !bands)
        return WYE_OK;
    for (unsigned h = 0; h < bands; h++) {
        if (b->nkeys == WYE_BLOCK_MAX_KEYS)
            return WYE_EINVAL;
        key_def *d = &b->keys[b->nkeys];
        d->type = KEY_MINHASH;
        d->group = g;
        d->band = h;
        snprintf(b->stats[b->nkeys].name, sizeof b->stats[0].name, "%s:%u", label, h);
        b->nkeys++;
    }
    /* a random rank for every bit position per hash function: the min-hash
     * of a filter is the least rank among its set bits */
    m->nf = nmf;
    memcpy(m->field, mf, sizeof mf);
    m->per_field = per_field;
    m->nbands = bands;
    m->nfunc = m->nbands * m->per_field;
    m->bits = mbits;
    m->rank = malloc(mbits * m->nfunc * sizeof *m->rank);
    if (!m->rank)
        return WYE_ENOMEM;
    for (size_t j = 0; j < m->nfunc; j++) {
        uint64_t hs = splitmix(seed);
        for (size_t pos = 0; pos < mbits; pos++)
            m->rank[pos * m->nfunc + j] = (uint32_t)(mix(pos ^ hs) >> 32);
    }
    return WYE_OK;
}

static int define_keys(wye_blocks *b)
{
    const wye_recview *v = b->v;
    const wye_blocking_params *p = &b->p;
    const wye_layout *lay = v->layout;
    size_t nf = wye_protocol_nfields(v->protocol);
    uint64_t seed = p->seed;
    if (p->digests) {
        for (size_t f = 0; f < nf; f++) {
            const wye_field_spec *fs = wye_protocol_field(v->protocol, f);
            if (!fs->exact_digest)
                continue;
            if (b->nkeys == WYE_BLOCK_MAX_KEYS)
                return WYE_EINVAL;
            key_def *d = &b->keys[b->nkeys];
            d->type = KEY_DIGEST;
            d->field = (int)f;
            snprintf(b->stats[b->nkeys].name, sizeof b->stats[0].name, "digest:%s", fs->name);
            b->nkeys++;
        }
    }
    int rc = define_minhash(b, 0, p->minhash_fields, p->minhash_bands, p->minhash_per_field,
                            "minhash", &seed);
    /* the second group draws from a seed of its own: the other keys stay
     * as they were without it */
    uint64_t seed2 = p->seed ^ 0x6d696e6861736832ull; /* "minhash2" */
    if (rc == WYE_OK)
        rc = define_minhash(b, 1, p->minhash2_fields, p->minhash2_bands, p->minhash2_per_field,
                            "minhash2", &seed2);
    if (rc != WYE_OK)
        return rc;
    for (unsigned i = 0; i < 4 && p->exact_fields[i]; i++) {
        int f = wye_protocol_field_index(v->protocol, p->exact_fields[i]);
        if (f < 0 || !lay->field_filter_bytes[f])
            continue; /* the protocol does not give this field a filter */
        if (b->nkeys == WYE_BLOCK_MAX_KEYS)
            return WYE_EINVAL;
        key_def *d = &b->keys[b->nkeys];
        d->type = KEY_FILTER;
        d->field = f;
        snprintf(b->stats[b->nkeys].name, sizeof b->stats[0].name, "equal:%s",
                 p->exact_fields[i]);
        b->nkeys++;
    }
    size_t fbits = lay->filter_bytes * 8;
    for (unsigned h = 0; fbits && h < p->hamming_bands; h++) {
        if (b->nkeys == WYE_BLOCK_MAX_KEYS)
            return WYE_EINVAL;
        key_def *d = &b->keys[b->nkeys];
        d->type = KEY_HAMMING;
        d->npos = p->hamming_bits;
        /* distinct positions within a band */
        for (unsigned j = 0; j < d->npos; j++) {
            uint32_t pos;
            bool dup;
            do {
                pos = (uint32_t)(splitmix(&seed) % fbits);
                dup = false;
                for (unsigned q = 0; q < j; q++)
                    dup |= d->pos[q] == pos;
            } while (dup);
            d->pos[j] = pos;
        }
        snprintf(b->stats[b->nkeys].name, sizeof b->stats[0].name, "hamming:%u", h);
        b->nkeys++;
    }
    return b->nkeys ? WYE_OK : WYE_ENOTFOUND;
}

/* best[j] = least rank[pos * nf + j] over the set bits pos of filter f:
 * all hash functions at once. The AVX2 build gives the same integers. */
static void minhash_field(uint32_t *best, const uint32_t *rankt, const uint64_t *f, size_t words,
                          size_t nf)
{
    for (size_t j = 0; j < nf; j++)
        best[j] = UINT32_MAX;
    for (size_t w = 0; w < words; w++)
        for (uint64_t bits = f[w]; bits; bits &= bits - 1) {
            const uint32_t *rank = rankt + (w * 64 + (size_t)__builtin_ctzll(bits)) * nf;
            for (size_t j = 0; j < nf; j++)
                best[j] = rank[j] < best[j] ? rank[j] : best[j];
        }
}

__attribute__((target("avx2,bmi"))) static void minhash_field_avx2(uint32_t *best,
                                                                  const uint32_t *rankt,
                                                                  const uint64_t *f,
                                                                  size_t words, size_t nf)
{
    size_t nv = nf / 8 * 8;
    for (size_t j = 0; j < nf; j++)
        best[j] = UINT32_MAX;
    for (size_t w = 0; w < words; w++)
        for (uint64_t bits = f[w]; bits; bits &= bits - 1) {
            const uint32_t *rank = rankt + (w * 64 + (size_t)__builtin_ctzll(bits)) * nf;
            for (size_t j = 0; j < nv; j += 8) {
                __m256i r = _mm256_loadu_si256((const __m256i *)(rank + j));
                __m256i bb = _mm256_loadu_si256((const __m256i *)(best + j));
                _mm256_storeu_si256((__m256i *)(best + j), _mm256_min_epu32(r, bb));
            }
            for (size_t j = nv; j < nf; j++)
                best[j] = rank[j] < best[j] ? rank[j] : best[j];
        }
}

/* Every record's MinHash key in every band of group g, in one pass over
 * the set bits of the group's filters. */
static int minhash_keys(wye_blocks *b, unsigned g, int nt)
{
    const wye_recview *v = b->v;
    const wye_layout *lay = v->layout;
    mh_group *mg = &b->mh[g];
    size_t n = b->n, nf = mg->nfunc;
    mg->key = malloc((mg->nbands * n + 1) * sizeof *mg->key);
    mg->ok = malloc(n + 1);
    if (!mg->key || !mg->ok)
        return WYE_ENOMEM;
    __builtin_cpu_init();
    bool avx2 = __builtin_cpu_supports("avx2");
#pragma omp parallel for schedule(static) num_threads(nt)
    for (size_t i = 0; i < n; i++) {
        const uint8_t *r = wye_rec(v, i);
        unsigned pres = presence(lay, r);
        uint32_t best[4][WYE_BLOCK_MAX_KEYS * 8];
        bool ok = true;
        for (unsigned m = 0; m < mg->nf && ok; m++) {
            int fld = mg->field[m];
            if (!(pres & (1u << fld)) || !wye_rec_fpop(v, i, (size_t)fld)) {
                ok = false;
                break;
            }
            const uint64_t *f = (const uint64_t *)(const void *)(r + lay->field_filter_off[fld]);
            size_t words = lay->field_filter_bytes[fld] / 8;
            if (avx2)
                minhash_field_avx2(best[m], mg->rank, f, words, nf);
            else
                minhash_field(best[m], mg->rank, f, words, nf);
        }
        mg->ok[i] = ok;
        if (!ok)
            continue;
        for (size_t h = 0; h < mg->nbands; h++) {
            uint64_t sig[4];
            for (unsigned m = 0; m < mg->nf; m++) {
                uint64_t x = 0x6d696e68617368ull;
                for (unsigned q = 0; q < mg->per_field; q++)
                    x = mix(x ^ best[m][h * mg->per_field + q]) + (uint64_t)q;
                sig[m] = x;
            }
            /* the fields' signatures in sorted order: given and family names
             * entered the wrong way round give the same key */
            for (unsigned m = 1; m < mg->nf; m++)
                for (unsigned q = m; q > 0 && sig[q - 1] > sig[q]; q--) {
                    uint64_t t = sig[q];
                    sig[q] = sig[q - 1];
                    sig[q - 1] = t;
                }
            uint64_t x = 0x626c6f636bull;
            for (unsigned m = 0; m < mg->nf; m++)
                x = mix(x ^ sig[m]);
            mg->key[h * n + i] = x;
        }
    }
    return WYE_OK;
}

static int make_parts_exhaustive(wye_blocks *b)
{
    size_t n = b->n;
    size_t cap = 16;
    b->part_first = malloc(cap * sizeof *b->part_first);
    b->part_work = malloc(cap * sizeof *b->part_work);
    if (!b->part_first || !b->part_work)
        return WYE_ENOMEM;
    size_t np = 0, row = 0;
    while (row < n) {
        if (np + 2 > cap) {
            cap *= 2;
            size_t *pf = realloc(b->part_first, cap * sizeof *pf);
            if (pf)
                b->part_first = pf;
            uint64_t *pw = realloc(b->part_work, cap * sizeof *pw);
            if (pw)
                b->part_work = pw;
            if (!pf || !pw)
                return WYE_ENOMEM;
        }
        b->part_first[np] = row;
        uint64_t w = 0;
        while (row < n && w < PART_WORK) {
            w += n - 1 - row;
            row++;
        }
        b->part_work[np++] = w;
    }
    b->part_first[np] = n;
    b->nparts = np;
    return WYE_OK;
}

static bool params_valid(const wye_blocking_params *p)
{
    return p->exhaustive ||
           !(p->max_block < 2 ||
             (p->hamming_bands && (p->hamming_bits < 1 || p->hamming_bits > 64)) ||
             (p->minhash_bands && (p->minhash_per_field < 1 || p->minhash_per_field > 8)) ||
             (p->minhash2_bands && (p->minhash2_per_field < 1 || p->minhash2_per_field > 8)));
}

/* Sort the records into blocks for every key, one key per thread at a time;
 * kb[k] receives key k's blocks. */
static int build_all_keys(wye_blocks *b, int nt, key_blocks *kb)
{
    size_t n = b->n, nk = b->nkeys;
    int err = WYE_OK;
#pragma omp parallel num_threads(nt)
    {
        kr *arr = malloc((n + 1) * sizeof *arr);
        kr *tmp = malloc((n + 1) * sizeof *tmp);
        size_t *count = malloc(65537 * sizeof *count);
        if (!arr || !tmp || !count) {
#pragma omp atomic write
            err = WYE_ENOMEM;
        }
#pragma omp barrier
        if (err == WYE_OK) {
#pragma omp for schedule(dynamic, 1)
            for (size_t k = 0; k < nk; k++) {
                /* each key writes only its own column of bid */
                int r = build_key(b, k, arr, tmp, count, &kb[k]);
                if (r != WYE_OK) {
#pragma omp atomic write
                    err = r;
                }
            }
        }
        free(arr);
        free(tmp);
        free(count);
    }
    return err;
}

/* The blocks of all keys, in key order, cut into parts of consecutive
 * blocks of about PART_WORK pairs each. */
static int join_blocks(wye_blocks *b, const key_blocks *kb)
{
    size_t nk = b->nkeys, nblocks = 0, nmem = 0;
    for (size_t k = 0; k < nk; k++) {
        nblocks += kb[k].nb;
        nmem += kb[k].nmembers;
    }
    b->bstart = malloc((nblocks + 1) * sizeof *b->bstart);
    b->bkey = malloc((nblocks + 1) * sizeof *b->bkey);
    b->members = malloc((nmem + 1) * sizeof *b->members);
    b->part_first = malloc((nblocks + 2) * sizeof *b->part_first);
    b->part_work = malloc((nblocks + 2) * sizeof *b->part_work);
    if (!b->bstart || !b->bkey || !b->members || !b->part_first || !b->part_work)
        return WYE_ENOMEM;
    size_t bi = 0, mi = 0;
    for (size_t k = 0; k < nk; k++) {
        for (size_t j = 0; j < kb[k].nb; j++) {
            b->bstart[bi] = mi + kb[k].start[j];
            b->bkey[bi] = (uint8_t)k;
            bi++;
        }
        if (kb[k].nmembers)
            memcpy(b->members + mi, kb[k].members, kb[k].nmembers * sizeof *b->members);
        mi += kb[k].nmembers;
    }
    b->bstart[bi] = mi;
    b->nblocks = bi;
    size_t np = 0;
    for (size_t s = 0; s < b->nblocks;) {
        uint64_t w = 0;
        b->part_first[np] = s;
        while (s < b->nblocks && w < PART_WORK) {
            uint64_t sz = b->bstart[s + 1] - b->bstart[s];
            w += sz * (sz - 1) / 2;
            s++;
        }
        b->part_work[np++] = w;
    }
    b->part_first[np] = b->nblocks;
    b->nparts = np;
    return WYE_OK;
}

/* The blocks of every key: MinHash keys first (dropped once sorted into
 * blocks), then each key's blocks, then all of them joined. */
static int build_blocks(wye_blocks *b, unsigned threads)
{
    size_t n = b->n, nk = b->nkeys;
    b->bid = malloc((n * nk + 1) * sizeof *b->bid);
    key_blocks *kb = calloc(nk, sizeof *kb);
    if (!b->bid || !kb) {
        free(kb);
        return WYE_ENOMEM;
    }
    for (size_t i = 0; i < n * nk; i++)
        b->bid[i] = NONE;
    int nt = threads ? (int)threads : omp_get_num_procs();
    int err = WYE_OK;
    for (unsigned g = 0; g < 2 && err == WYE_OK; g++)
        if (b->mh[g].nbands)
            err = minhash_keys(b, g, nt);
    if (err == WYE_OK)
        err = build_all_keys(b, nt, kb);
    for (unsigned g = 0; g < 2; g++) {
        free(b->mh[g].key);
        free(b->mh[g].ok);
        b->mh[g].key = NULL;
        b->mh[g].ok = NULL;
    }
    if (err == WYE_OK)
        err = join_blocks(b, kb);
    for (size_t k = 0; k < nk; k++) {
        free(kb[k].members);
        free(kb[k].start);
    }
    free(kb);
    return err;
}

int wye_blocks_build(const wye_recview *v, const wye_blocking_params *p, unsigned threads,
                     wye_blocks **out)
{
    if (!v || !p || !out)
        return WYE_EINVAL;
    *out = NULL;
    if (!params_valid(p))
        return WYE_EINVAL;
    if (v->n > UINT32_MAX - 1)
        return WYE_ERANGE;
    wye_blocks *b = calloc(1, sizeof *b);
    if (!b)
        return WYE_ENOMEM;
    b->v = v;
    b->p = *p;
    b->n = v->n;
    int rc = p->exhaustive ? make_parts_exhaustive(b) : define_keys(b);
    if (rc == WYE_OK && !p->exhaustive)
        rc = build_blocks(b, threads);
    if (rc != WYE_OK) {
        wye_blocks_free(b);
        return rc;
    }
    *out = b;
    return WYE_OK;
}

size_t wye_blocks_nkeys(const wye_blocks *b)
{
    return b->nkeys;
}

const wye_block_key_stats *wye_blocks_key(const wye_blocks *b, size_t k)
{
    return k < b->nkeys ? &b->stats[k] : NULL;
}

size_t wye_blocks_nparts(const wye_blocks *b)
{
    return b->nparts;
}

uint64_t wye_blocks_part_work(const wye_blocks *b, size_t part)
{
    return part < b->nparts ? b->part_work[part] : 0;
}

/* Ask for a record's slot and its row of block ids before they are needed:
 * members of a block are scattered over the whole set, and waiting for
 * memory is most of what comparing them costs. */
static inline void prefetch_record(const wye_blocks *b, uint32_t r)
{
    const uint8_t *p = b->v->base + (size_t)r * b->v->stride;
    for (size_t off = 0; off < b->v->stride; off += 64)
        __builtin_prefetch(p + off);
    const uint32_t *row = b->bid + (size_t)r * b->nkeys;
    for (size_t k = 0; k < b->nkeys; k += 16)
        __builtin_prefetch(row + k);
}

#define PREFETCH_AHEAD 8

int wye_blocks_pairs(const wye_blocks *b, size_t part, wye_pair_fn fn, void *ctx)
{
    if (!b || !fn || part >= b->nparts)
        return WYE_EINVAL;
    if (b->p.exhaustive) {
        for (size_t i = b->part_first[part]; i < b->part_first[part + 1]; i++)
            for (size_t j = i + 1; j < b->n; j++) {
                int r = fn(ctx, (uint32_t)i, (uint32_t)j);
                if (r)
                    return r;
            }
        return WYE_OK;
    }
    const size_t nk = b->nkeys;
    size_t last = b->part_first[part + 1];
    for (size_t blk = b->part_first[part]; blk < last; blk++) {
        const uint32_t *m = b->members + b->bstart[blk];
        size_t sz = b->bstart[blk + 1] - b->bstart[blk];
        size_t k = b->bkey[blk];
        /* the next small block's members arrive while this one is compared */
        if (blk + 1 < last) {
            const uint32_t *mn = b->members + b->bstart[blk + 1];
            size_t szn = b->bstart[blk + 2] - b->bstart[blk + 1];
            for (size_t j = 0; j < szn && j < PREFETCH_AHEAD; j++)
                prefetch_record(b, mn[j]);
        }
        for (size_t j = 0; j < sz && j < PREFETCH_AHEAD; j++)
            prefetch_record(b, m[j]);
        for (size_t x = 0; x < sz; x++) {
            const uint32_t *ra = b->bid + (size_t)m[x] * nk;
            for (size_t y = x + 1; y < sz; y++) {
                if (x == 0 && y + PREFETCH_AHEAD < sz)
                    prefetch_record(b, m[y + PREFETCH_AHEAD]);
                const uint32_t *rb = b->bid + (size_t)m[y] * nk;
                /* produced here only if no earlier key put them together */
                size_t q = 0;
                while (q < k && (ra[q] != rb[q] || ra[q] == NONE))
                    q++;
                if (q < k)
                    continue;
                int r = fn(ctx, m[x], m[y]);
                if (r)
                    return r;
            }
        }
    }
    return WYE_OK;
}

bool wye_blocks_is_candidate(const wye_blocks *b, uint32_t a, uint32_t bb)
{
    if (b->p.exhaustive)
        return a != bb;
    const uint32_t *ra = b->bid + (size_t)a * b->nkeys, *rb = b->bid + (size_t)bb * b->nkeys;
    for (size_t q = 0; q < b->nkeys; q++)
        if (ra[q] == rb[q] && ra[q] != NONE)
            return true;
    return false;
}

bool wye_blocks_share_key(const wye_blocks *b, size_t k, uint32_t a, uint32_t bb)
{
    if (b->p.exhaustive || k >= b->nkeys || a == bb)
        return false;
    uint32_t x = b->bid[(size_t)a * b->nkeys + k], y = b->bid[(size_t)bb * b->nkeys + k];
    return x == y && x != NONE;
}
