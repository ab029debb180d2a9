/* Attack 1: frequency alignment and pattern mining (protocols/PRIVACY.md).
 *
 * Frequency alignment (Christen et al. 2017): an unsalted field filter or
 * exact digest is the same bytes for the same value, so the k-th most
 * frequent encoding is guessed to be the k-th most frequent public value.
 *
 * Pattern mining (after Christen et al. 2018, "Efficient cryptanalysis of
 * Bloom filters"): the bit positions a q-gram sets are set together in every
 * record holding that q-gram, so they form a frequent itemset whose support
 * is the q-gram's frequency. Recursively, for the most frequent token of
 * the attacker's plaintext model in the current partition, the largest
 * itemset of bit positions with that support is found; the token is
 * assigned those positions (checked against the co-occurrence of tokens
 * already found); records and model split on it and the halves are mined
 * on. Then every record is decoded: the public values whose identified
 * tokens are exactly the tokens present in the record are its candidates,
 * and a value is guessed when it carries at least half the candidates'
 * public frequency.
 *
 * The attacker knows the protocol (it is shared with the linkage unit): the
 * fields, tokenisers and which filter each feeds, so it tokenises public
 * values exactly as the encoder does (wye_encoder_tokens). It never holds
 * the secret. */
#include "priv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- bitsets ---------------------------------------------------------- */

static inline size_t nwords(size_t n) { return (n + 63) / 64; }
static inline void bs_set(uint64_t *b, size_t i) { b[i >> 6] |= 1ull << (i & 63); }
static inline bool bs_get(const uint64_t *b, size_t i) { return b[i >> 6] >> (i & 63) & 1; }

static size_t bs_count(const uint64_t *a, size_t w)
{
    size_t c = 0;
    for (size_t i = 0; i < w; i++)
        c += (size_t)__builtin_popcountll(a[i]);
    return c;
}

static size_t bs_and_count(const uint64_t *a, const uint64_t *b, size_t w)
{
    size_t c = 0;
    for (size_t i = 0; i < w; i++)
        c += (size_t)__builtin_popcountll(a[i] & b[i]);
    return c;
}

static inline bool bit8(const uint8_t *b, size_t i) { return b[i >> 3] >> (i & 7) & 1; }

static char rec_sex(const priv_data *d, size_t i)
{
    for (size_t a = 0; a < wye_protocol_nattrs(d->p); a++) {
        const wye_attr_spec *s = wye_protocol_attr(d->p, a);
        if (s->source == WYE_ATTR_SEX && d->f[i].attr[a])
            return s->values[d->f[i].attr[a] - 1][0];
    }
    int sf = wye_protocol_field_index(d->p, "sex");
    if (sf >= 0 && d->f[i].status[sf] == WYE_NORM_PRESENT && d->enc == NULL)
        return d->f[i].value[sf][0];
    return 0;
}

static bool present(const priv_data *d, size_t i, int field)
{
    return field >= 0 && d->f[i].status[field] == WYE_NORM_PRESENT;
}

/* Presence as the linkage unit sees it: the record's presence bits. */
static bool enc_present(const priv_data *d, size_t i, int field)
{
    const wye_layout *lay = wye_protocol_layout(d->p);
    const uint8_t *r = d->enc + i * d->rsize + lay->presence_off;
    unsigned bits = (unsigned)r[0] | (unsigned)r[1] << 8;
    return field >= 0 && (bits >> field & 1);
}

/* ---- public values: which list the attacker aligns a field with -------- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The values of field f in the attacker's sample, weighted by count. */
static int list_from_sample(const priv_data *s, int f, priv_list *out)
{
    memset(out, 0, sizeof *out);
    char **v = malloc((s->n + 1) * sizeof *v);
    if (!v)
        return WYE_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++)
        if (present(s, i, f))
            v[m++] = s->f[i].value[f];
    qsort(v, m, sizeof *v, cmp_str);
    out->v = malloc((m + 1) * sizeof *out->v);
    out->w = malloc((m + 1) * sizeof *out->w);
    if (!out->v || !out->w) {
        free(v);
        free(out->v);
        free(out->w);
        return WYE_ENOMEM;
    }
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && strcmp(v[j], v[i]) == 0)
            j++;
        memcpy(out->v[out->n], v[i], WYE_NORM_MAX);
        out->w[out->n++] = (double)(j - i);
        out->total += (double)(j - i);
        i = j;
    }
    free(v);
    /* sort by weight, descending; ties by value (already value order) */
    size_t n = out->n;
    for (size_t i = 1; i < n; i++) { /* insertion sort is fine: stable */
        double w = out->w[i];
        char tmp[WYE_NORM_MAX];
        memcpy(tmp, out->v[i], WYE_NORM_MAX);
        size_t j = i;
        while (j > 0 && out->w[j - 1] < w) {
            out->w[j] = out->w[j - 1];
            memcpy(out->v[j], out->v[j - 1], WYE_NORM_MAX);
            j--;
        }
        out->w[j] = w;
        memcpy(out->v[j], tmp, WYE_NORM_MAX);
    }
    return WYE_OK;
}

/* The public list for name field `name` and a record of sex `sex`. */
static const priv_list *name_list(const priv_public *pub, const char *name, char sex)
{
    if (strcmp(name, "family_name") == 0 || strcmp(name, "former_family_name") == 0)
        return &pub->surnames;
    if (sex == 'F')
        return &pub->female;
    if (sex == 'M')
        return &pub->male;
    return &pub->given;
}

/* ---- frequency alignment ------------------------------------------------ */

typedef struct {
    const uint8_t *key;
    size_t i;
} keyed;

static size_t g_keylen;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    int c = memcmp(x->key, y->key, g_keylen);
    if (c)
        return c;
    return x->i < y->i ? -1 : x->i > y->i;
}

typedef struct {
    size_t first, count;
} run;

static int cmp_run(const void *a, const void *b)
{
    const run *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Align the encodings (len bytes at off) of records idx[0..m) with list l:
 * the r-th most frequent encoding (if it occurs at least twice) is guessed to
 * be l's r-th value. guess[i] for record i. */
static int align(const priv_data *E, const size_t *idx, size_t m, size_t off, size_t len,
                 const priv_list *l, const char **guess)
{
    keyed *k = malloc((m + 1) * sizeof *k);
    run *r = malloc((m + 1) * sizeof *r);
    if (!k || !r) {
        free(k);
        free(r);
        return WYE_ENOMEM;
    }
    for (size_t j = 0; j < m; j++) {
        k[j].key = E->enc + idx[j] * E->rsize + off;
        k[j].i = idx[j];
    }
    g_keylen = len;
    qsort(k, m, sizeof *k, cmp_keyed);
    size_t nr = 0;
    for (size_t j = 0; j < m;) {
        size_t e = j;
        while (e < m && memcmp(k[e].key, k[j].key, len) == 0)
            e++;
        r[nr].first = j;
        r[nr].count = e - j;
        nr++;
        j = e;
    }
    qsort(r, nr, sizeof *r, cmp_run);
    for (size_t q = 0; q < nr && q < l->n && r[q].count >= 2; q++)
        for (size_t j = 0; j < r[q].count; j++)
            guess[k[r[q].first + j].i] = l->v[q];
    free(k);
    free(r);
    return WYE_OK;
}

/* ---- tokens ------------------------------------------------------------- */

#define TOK_MAX (WYE_NORM_MAX + 8)

typedef struct dict {
    size_t n, cap;
    uint32_t *kdf;
    uint16_t *len;
    uint8_t (*b)[TOK_MAX];
    int32_t *slot;
    size_t nslot; /* power of two */
} dict;

static uint64_t tok_hash(uint32_t kdf, const uint8_t *b, size_t n)
{
    uint64_t h = 1469598103934665603ull ^ kdf;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static void dict_free(dict *d)
{
    free(d->kdf);
    free(d->len);
    free(d->b);
    free(d->slot);
    memset(d, 0, sizeof *d);
}

static int dict_rehash(dict *d, size_t nslot)
{
    int32_t *s = malloc(nslot * sizeof *s);
    if (!s)
        return WYE_ENOMEM;
    for (size_t i = 0; i < nslot; i++)
        s[i] = -1;
    for (size_t t = 0; t < d->n; t++) {
        size_t h = tok_hash(d->kdf[t], d->b[t], d->len[t]) & (nslot - 1);
        while (s[h] >= 0)
            h = (h + 1) & (nslot - 1);
        s[h] = (int32_t)t;
    }
    free(d->slot);
    d->slot = s;
    d->nslot = nslot;
    return WYE_OK;
}

/* The id of token (kdf, b), added if `add`; -1 if absent, -2 on no memory. */
static long dict_id(dict *d, uint32_t kdf, const uint8_t *b, size_t n, bool add)
{
    if (n > TOK_MAX)
        n = TOK_MAX;
    if (!d->nslot && dict_rehash(d, 1024))
        return -2;
    size_t h = tok_hash(kdf, b, n) & (d->nslot - 1);
    while (d->slot[h] >= 0) {
        int32_t t = d->slot[h];
        if (d->kdf[t] == kdf && d->len[t] == n && memcmp(d->b[t], b, n) == 0)
            return t;
        h = (h + 1) & (d->nslot - 1);
    }
    if (!add)
        return -1;
    if (d->n == d->cap) {
        size_t nc = d->cap ? 2 * d->cap : 1024;
        uint32_t *k = realloc(d->kdf, nc * sizeof *k);
        if (!k)
            return -2;
        d->kdf = k;
        uint16_t *l = realloc(d->len, nc * sizeof *l);
        if (!l)
            return -2;
        d->len = l;
        uint8_t(*bb)[TOK_MAX] = realloc(d->b, nc * sizeof *bb);
        if (!bb)
            return -2;
        d->b = bb;
        d->cap = nc;
    }
    size_t t = d->n++;
    d->kdf[t] = kdf;
    d->len[t] = (uint16_t)n;
    memcpy(d->b[t], b, n);
    if (2 * d->n > d->nslot) {
        if (dict_rehash(d, 2 * d->nslot))
            return -2;
    } else {
        d->slot[h] = (int32_t)t;
    }
    return (long)t;
}

typedef struct {
    dict *d;
    uint32_t kdf;
    bool add;
    long ids[512];
    uint16_t ks[512]; /* bits per token of the value it came from */
    size_t n;
    bool oom;
} tok_ctx;

static void emit_tok(void *ctx, const uint8_t *tok, size_t n)
{
    tok_ctx *c = ctx;
    long id = dict_id(c->d, c->kdf, tok, n, c->add);
    if (id == -2)
        c->oom = true;
    if (id >= 0 && c->n < 512)
        c->ids[c->n++] = id;
}

/* ---- the miner -------------------------------------------------------- */

#define MAXPOS 96

/* Which fields feed the filter mined, and the kdf id a token of each is
 * keyed under (0 for a field filter: one field only). */
typedef struct target {
    bool record;  /* the record-level filter, else field `field`'s filter */
    int field;
    size_t off, bits;
} target;


typedef struct miner {
    const wye_protocol *p;
    size_t L;        /* bits of the filter mined */
    size_t nr, W;    /* encoded records mined, words per column */
    size_t *rix;     /* E index of each mined record */
    uint64_t *col;   /* L columns of W words: record j has bit b */
    size_t ns, Ws;   /* sample records, words per token row */
    dict d;
    size_t ninc;     /* tokens with a sample-incidence row */
    uint64_t *inc;   /* ninc rows of Ws words */
    uint32_t *freq;  /* sample frequency of each token with a row */
    uint16_t *kmin, *kmax; /* bits per token over its occurrences in the sample */
    const priv_data *E;    /* for the PRIV_DEBUG check only */
    target tg;
    /* found */
    uint8_t *npos;   /* by token: 0 = not assigned */
    uint16_t (*pos)[MAXPOS];
    size_t nassigned;
    uint32_t *assigned; /* assignment order */
    double eps;
    size_t min_records, max_tokens;
    bool dense;      /* the record-level filter: stricter itemsets */
} miner;

static void miner_free(miner *m)
{
    free(m->rix);
    free(m->col);
    dict_free(&m->d);
    free(m->inc);
    free(m->freq);
    free(m->kmin);
    free(m->kmax);
    free(m->npos);
    free(m->pos);
    free(m->assigned);
}

static uint32_t tok_kdf(const miner *m, const target *t, int f)
{
    return t->record ? wye_protocol_field(m->p, (size_t)f)->kdf_id : 0;
}

static bool feeds(const wye_protocol *p, const target *t, int f)
{
    return t->record ? wye_protocol_field(p, (size_t)f)->record_bits > 0 : f == t->field;
}

/* Tokens of record i of data d (the fields feeding t) into c. */
static void record_tokens(miner *m, const target *t, const priv_data *d, size_t i, tok_ctx *c)
{
    c->n = 0;
    for (size_t f = 0; f < wye_protocol_nfields(m->p); f++) {
        if (!feeds(m->p, t, (int)f) || !present(d, i, (int)f))
            continue;
        const wye_field_spec *fs = wye_protocol_field(m->p, f);
        c->kdf = tok_kdf(m, t, (int)f);
        size_t start = c->n;
        size_t nt = wye_encoder_tokens(m->p, f, d->f[i].value[f], emit_tok, c);
        unsigned bits = t->record ? fs->record_bits : fs->field_filter_k;
        for (size_t k = start; k < c->n; k++)
            c->ks[k] = (uint16_t)(nt ? (bits + nt - 1) / nt : 0);
    }
}

static int miner_init(miner *m, const priv_data *E, const priv_data *S, const target *t,
                      const priv_freq_opts *o)
{
    memset(m, 0, sizeof *m);
    m->p = E->p;
    m->L = t->bits;
    m->eps = o->eps;
    m->min_records = o->min_records;
    m->max_tokens = o->max_tokens;
    m->dense = t->record;
    /* encoded records holding something in the filter */
    m->rix = malloc((E->n + 1) * sizeof *m->rix);
    if (!m->rix)
        return WYE_ENOMEM;
    for (size_t i = 0; i < E->n; i++) {
        if (!t->record && !enc_present(E, i, t->field))
            continue;
        const uint8_t *b = E->enc + i * E->rsize + t->off;
        bool any = false;
        for (size_t k = 0; k < t->bits / 8 && !any; k++)
            any = b[k] != 0;
        if (any)
            m->rix[m->nr++] = i;
    }
    m->W = nwords(m->nr);
    m->col = calloc(m->L * m->W + 1, sizeof *m->col);
    if (!m->col)
        return WYE_ENOMEM;
    for (size_t j = 0; j < m->nr; j++) {
        const uint8_t *b = E->enc + m->rix[j] * E->rsize + t->off;
        for (size_t k = 0; k < m->L; k++)
            if (bit8(b, k))
                bs_set(m->col + k * m->W, j);
    }
    /* the attacker's token model from its sample */
    tok_ctx c = {.d = &m->d, .add = true};
    for (size_t i = 0; i < S->n; i++) {
        record_tokens(m, t, S, i, &c);
        if (c.oom)
            return WYE_ENOMEM;
    }
    m->ns = S->n;
    m->Ws = nwords(S->n);
    m->ninc = m->d.n;
    m->inc = calloc(m->ninc * m->Ws + 1, sizeof *m->inc);
    m->freq = calloc(m->ninc + 1, sizeof *m->freq);
    m->kmin = malloc((m->ninc + 1) * sizeof *m->kmin);
    m->kmax = calloc(m->ninc + 1, sizeof *m->kmax);
    if (!m->inc || !m->freq || !m->kmin || !m->kmax)
        return WYE_ENOMEM;
    for (size_t k = 0; k < m->ninc; k++)
        m->kmin[k] = UINT16_MAX;
    m->E = E;
    m->tg = *t;
    c.add = false;
    for (size_t i = 0; i < S->n; i++) {
        record_tokens(m, t, S, i, &c);
        for (size_t k = 0; k < c.n; k++) {
            uint64_t *row = m->inc + (size_t)c.ids[k] * m->Ws;
            if (c.ks[k] < m->kmin[c.ids[k]])
                m->kmin[c.ids[k]] = c.ks[k];
            if (c.ks[k] > m->kmax[c.ids[k]])
                m->kmax[c.ids[k]] = c.ks[k];
            if (!bs_get(row, i)) {
                bs_set(row, i);
                m->freq[c.ids[k]]++;
            }
        }
    }
    return WYE_OK;
}

static int miner_alloc_assign(miner *m)
{
    size_t n = m->d.n + 1;
    m->npos = calloc(n, 1);
    m->pos = calloc(n, sizeof *m->pos);
    m->assigned = calloc(n, sizeof *m->assigned);
    return m->npos && m->pos && m->assigned ? WYE_OK : WYE_ENOMEM;
}

typedef struct itemset {
    uint16_t pos[MAXPOS];
    unsigned n;
    size_t support;
} itemset;

/* Grow an itemset from the pair (a, b): repeatedly add every candidate set
 * in nearly all records that hold the current itemset. */
static void grow(const miner *m, const uint64_t *R, const uint16_t *cand, size_t nc,
                 uint16_t a, uint16_t b, uint64_t *cur, uint32_t *cnt, itemset *out)
{
    out->n = 0;
    out->pos[out->n++] = a;
    out->pos[out->n++] = b;
    const uint64_t *ca = m->col + (size_t)a * m->W, *cb = m->col + (size_t)b * m->W;
    for (size_t w = 0; w < m->W; w++)
        cur[w] = R[w] & ca[w] & cb[w];
    size_t sup = bs_count(cur, m->W);
    double keep = 1.0 - m->eps * 0.3;
    for (int round = 0; round < 6 && sup > 0; round++) {
        bool added = false;
        for (size_t k = 0; k < nc; k++) {
            uint16_t x = cand[k];
            bool in = false;
            for (unsigned q = 0; q < out->n && !in; q++)
                in = out->pos[q] == x;
            cnt[k] = in ? 0 : (uint32_t)bs_and_count(cur, m->col + (size_t)x * m->W, m->W);
        }
        for (size_t k = 0; k < nc && out->n < MAXPOS; k++) {
            if (cnt[k] && (double)cnt[k] >= keep * (double)sup) {
                out->pos[out->n++] = cand[k];
                added = true;
            }
        }
        if (!added)
            break;
        for (unsigned q = 2; q < out->n; q++) {
            const uint64_t *c = m->col + (size_t)out->pos[q] * m->W;
            for (size_t w = 0; w < m->W; w++)
                cur[w] &= c[w];
        }
        sup = bs_count(cur, m->W);
    }
    out->support = sup;
}

/* Expected support of an itemset in R if its positions were independent. */
static double chance_support(const miner *m, const itemset *s, size_t nR, const uint64_t *R)
{
    double e = (double)nR;
    for (unsigned q = 0; q < s->n; q++)
        e *= (double)bs_and_count(R, m->col + (size_t)s->pos[q] * m->W, m->W) / (double)nR;
    return e;
}

/* ---- discovery: frequent itemsets, without labels ------------------- */

typedef struct found {
    size_t n, cap;
    itemset *s;      /* the itemsets */
    uint64_t *hold;  /* n rows of W words: the records holding each */
} found;

static void found_free(found *f)
{
    free(f->s);
    free(f->hold);
    memset(f, 0, sizeof *f);
}

static int found_add(found *f, const miner *m, const itemset *s)
{
    if (f->n == f->cap) {
        size_t nc = f->cap ? 2 * f->cap : 64;
        itemset *x = realloc(f->s, nc * sizeof *x);
        if (!x)
            return WYE_ENOMEM;
        f->s = x;
        uint64_t *h = realloc(f->hold, nc * m->W * sizeof *h + 8);
        if (!h)
            return WYE_ENOMEM;
        f->hold = h;
        f->cap = nc;
    }
    f->s[f->n] = *s;
    uint64_t *h = f->hold + f->n * m->W;
    for (size_t w = 0; w < m->W; w++)
        h[w] = ~0ull;
    if (m->nr % 64)
        h[m->W - 1] = (1ull << (m->nr % 64)) - 1;
    for (unsigned q = 0; q < s->n; q++) {
        const uint64_t *c = m->col + (size_t)s->pos[q] * m->W;
        for (size_t w = 0; w < m->W; w++)
            h[w] &= c[w];
    }
    f->n++;
    return WYE_OK;
}

typedef struct part {
    uint64_t *R;
    size_t nR;
} part;

typedef struct stack {
    part *p;
    size_t n, cap;
} stack;

static int push(stack *s, uint64_t *R, size_t nR)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 64;
        part *q = realloc(s->p, nc * sizeof *q);
        if (!q)
            return WYE_ENOMEM;
        s->p = q;
        s->cap = nc;
    }
    s->p[s->n].R = R;
    s->p[s->n].nR = nR;
    s->n++;
    return WYE_OK;
}

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

typedef struct scratch {
    uint64_t *tmp, *cur, *sub;
    uint32_t *cnt;
    uint16_t *cand;
    bool *excl;
    double *cp;
    uint64_t *packed; /* L x 8 words */
    uint64_t rng;
} scratch;

/* The most frequent plausible itemset of part R that is not one found
 * before: seeds are the pairs of positions set together in enough records
 * whose co-occurrence is most beyond chance (phi, on a sample of at most
 * 512 records); each grows by every position set in nearly all records
 * holding it. Plausible: at least min_core positions, not what chance
 * alone would give, and no larger than the protocol lets a token be. */
static int discover(const miner *m, const found *fd, const uint64_t *R, size_t nR,
                    unsigned min_core, unsigned max_size, scratch *x, itemset *best)
{
    best->n = 0;
    best->support = 0;
    double floor_ = 0.02 * (double)nR;
    if (floor_ < 8)
        floor_ = 8;
    memset(x->excl, 0, m->L * sizeof *x->excl);
    for (size_t a = 0; a < fd->n; a++)
        if ((double)bs_and_count(fd->hold + a * m->W, R, m->W) >= 0.3 * (double)nR)
            for (unsigned q = 0; q < fd->s[a].n; q++)
                x->excl[fd->s[a].pos[q]] = true;
    size_t nc = 0;
    for (size_t k = 0; k < m->L; k++)
        if (!x->excl[k] && (double)bs_and_count(R, m->col + k * m->W, m->W) >= floor_)
            x->cand[nc++] = (uint16_t)k;
    if (nc < 2)
        return 0;
    memcpy(x->sub, R, m->W * sizeof *x->sub);
    if (nR > 512) {
        double keepp = 512.0 / (double)nR;
        for (size_t w = 0; w < m->W; w++)
            for (int b = 0; b < 64; b++)
                if ((x->sub[w] >> b & 1) && (double)(lcg(&x->rng) % 1000000) / 1e6 > keepp)
                    x->sub[w] &= ~(1ull << b);
    }
    /* the sample's columns, compacted: at most 8 words each */
    size_t idx[512], ni = 0;
    for (size_t w = 0; w < m->W && ni < 512; w++)
        for (uint64_t b = x->sub[w]; b && ni < 512; b &= b - 1)
            idx[ni++] = 64 * w + (size_t)__builtin_ctzll(b);
    double ns = (double)ni;
    if (ni < 4)
        return 0;
    size_t sw = nwords(ni);
    memset(x->packed, 0, nc * sw * sizeof *x->packed);
    for (size_t i = 0; i < nc; i++) {
        const uint64_t *ci = m->col + (size_t)x->cand[i] * m->W;
        uint64_t *pi = x->packed + i * sw;
        for (size_t r = 0; r < ni; r++)
            if (bs_get(ci, idx[r]))
                bs_set(pi, r);
        x->cp[i] = (double)bs_count(pi, sw) / ns;
    }
    double floor_s = floor_ * ns / (double)nR;
    enum { NSEED = 16 };
    double bex[NSEED];
    uint16_t ba[NSEED], bb[NSEED];
    size_t nb = 0;
    for (size_t i = 0; i < nc; i++) {
        const uint64_t *pi = x->packed + i * sw;
        for (size_t j = i + 1; j < nc; j++) {
            double c = (double)bs_and_count(pi, x->packed + j * sw, sw);
            if (c < floor_s)
                continue;
            double den = x->cp[i] * (1 - x->cp[i]) * x->cp[j] * (1 - x->cp[j]);
            double ex = (c / ns - x->cp[i] * x->cp[j]) / sqrt(den > 1e-12 ? den : 1e-12);
            if (nb < NSEED || ex > bex[nb - 1]) {
                size_t q = nb < NSEED ? nb++ : NSEED - 1;
                while (q > 0 && bex[q - 1] < ex) {
                    bex[q] = bex[q - 1];
                    ba[q] = ba[q - 1];
                    bb[q] = bb[q - 1];
                    q--;
                }
                bex[q] = ex;
                ba[q] = x->cand[i];
                bb[q] = x->cand[j];
            }
        }
    }
    itemset s;
    for (size_t q = 0; q < nb; q++) {
        grow(m, R, x->cand, nc, ba[q], bb[q], x->cur, x->cnt, &s);
        if ((double)s.support < floor_ || s.n < min_core || s.n > max_size)
            continue;
        if (chance_support(m, &s, nR, R) * 4.0 > (double)s.support)
            continue;
        bool again = false;
        for (size_t a = 0; a < fd->n && !again; a++) {
            unsigned same = 0;
            for (unsigned i = 0; i < s.n; i++)
                for (unsigned j = 0; j < fd->s[a].n; j++)
                    same += s.pos[i] == fd->s[a].pos[j];
            unsigned mn = s.n < fd->s[a].n ? s.n : fd->s[a].n;
            again = 5 * same >= 4 * mn;
        }
        if (again)
            continue;
        if (s.support > best->support || (s.support == best->support && s.n > best->n))
            *best = s;
    }
    return best->n > 0;
}

static int discover_all(miner *m, found *fd)
{
    unsigned kmin = UINT16_MAX, kmax = 0;
    for (size_t t = 0; t < m->ninc; t++) {
        if (m->kmin[t] == UINT16_MAX || m->freq[t] < 3)
            continue;
        if (m->kmin[t] < kmin)
            kmin = m->kmin[t];
        if (m->kmax[t] > kmax)
            kmax = m->kmax[t];
    }
    if (!kmax)
        return WYE_OK;
    unsigned min_core = m->dense ? 4 : 2;
    if (min_core < kmin / 2)
        min_core = kmin / 2;
    unsigned max_size = (unsigned)(2.5 * kmax + 3);
    if (max_size > MAXPOS)
        max_size = MAXPOS;
    scratch x = {0};
    x.tmp = malloc((m->W + 1) * sizeof *x.tmp);
    x.cur = malloc((m->W + 1) * sizeof *x.cur);
    x.sub = malloc((m->W + 1) * sizeof *x.sub);
    x.cnt = malloc((m->L + 1) * sizeof *x.cnt);
    x.cand = malloc((m->L + 1) * sizeof *x.cand);
    x.excl = malloc((m->L + 1) * sizeof *x.excl);
    x.cp = malloc((m->L + 1) * sizeof *x.cp);
    x.packed = malloc((m->L * 8 + 1) * sizeof *x.packed);
    x.rng = 0x9e3779b97f4a7c15ull;
    stack st = {0};
    uint64_t *R0 = calloc(m->W + 1, sizeof *R0);
    int rc = WYE_OK;
    if (!x.tmp || !x.cur || !x.sub || !x.cnt || !x.cand || !x.excl || !x.cp || !x.packed ||
        !R0) {
        rc = WYE_ENOMEM;
        goto done;
    }
    for (size_t j = 0; j < m->nr; j++)
        bs_set(R0, j);
    if ((rc = push(&st, R0, m->nr)))
        goto done;
    R0 = NULL;
    size_t steps = 0;
    while (st.n && fd->n < m->max_tokens && steps < 4 * m->max_tokens) {
        /* the largest part first */
        size_t big = 0;
        for (size_t k = 1; k < st.n; k++)
            if (st.p[k].nR > st.p[big].nR)
                big = k;
        part pt = st.p[big];
        st.p[big] = st.p[--st.n];
        steps++;
        itemset s;
        if (pt.nR < m->min_records || !discover(m, fd, pt.R, pt.nR, min_core, max_size, &x, &s)) {
            free(pt.R);
            continue;
        }
        if ((rc = found_add(fd, m, &s))) {
            free(pt.R);
            break;
        }
        uint64_t *Rp = malloc((m->W + 1) * sizeof *Rp);
        if (!Rp) {
            free(pt.R);
            rc = WYE_ENOMEM;
            break;
        }
        const uint64_t *h = fd->hold + (fd->n - 1) * m->W;
        for (size_t w = 0; w < m->W; w++) {
            Rp[w] = pt.R[w] & h[w];
            pt.R[w] &= ~h[w];
        }
        if ((rc = push(&st, pt.R, bs_count(pt.R, m->W)))) {
            free(pt.R);
            free(Rp);
            break;
        }
        if ((rc = push(&st, Rp, bs_count(Rp, m->W)))) {
            free(Rp);
            break;
        }
    }
done:
    for (size_t i = 0; i < st.n; i++)
        free(st.p[i].R);
    free(st.p);
    free(R0);
    free(x.tmp);
    free(x.cur);
    free(x.sub);
    free(x.cnt);
    free(x.cand);
    free(x.excl);
    free(x.cp);
    free(x.packed);
    return rc;
}

/* ---- labelling: itemsets to tokens, by frequency and co-occurrence ---- */

#define LCAND 48

typedef struct labeller {
    size_t m;            /* itemsets */
    double *f;           /* frequency of each itemset among the records */
    float *P;            /* m x m: P[a * m + b] = share of a's holders holding b */
    size_t nt;           /* candidate tokens (compact index) */
    uint32_t *tok;       /* compact -> token id */
    double *g;           /* model frequency */
    float *Q;            /* nt x nt: Q[t * nt + u] = share of t's holders holding u */
    uint32_t *cand;      /* m x LCAND compact candidates */
    unsigned *ncand;
    long *pi;            /* itemset -> compact token, or -1 */
    long *owner;         /* compact token -> itemset, or -1 */
} labeller;

static void labeller_free(labeller *l)
{
    free(l->f);
    free(l->P);
    free(l->tok);
    free(l->g);
    free(l->Q);
    free(l->cand);
    free(l->ncand);
    free(l->pi);
    free(l->owner);
}

/* How well itemset a fits token (compact) t, given the labels of the
 * others: frequency, and the co-occurrence with every labelled itemset both
 * ways. */
static double fit(const labeller *l, size_t a, size_t t)
{
    double c = 2.0 * fabs(log(l->f[a] / l->g[t]));
    double d = 0;
    size_t used = 0;
    for (size_t b = 0; b < l->m; b++) {
        if (b == a || l->pi[b] < 0)
            continue;
        size_t u = (size_t)l->pi[b];
        double p1 = l->P[a * l->m + b], q1 = l->Q[t * l->nt + u];
        double p2 = l->P[b * l->m + a], q2 = l->Q[u * l->nt + t];
        if (p1 < 0.01 && q1 < 0.01 && p2 < 0.01 && q2 < 0.01)
            continue;
        d += fabs(p1 - q1) + fabs(p2 - q2);
        used++;
    }
    return c + (used ? 4.0 * d / (double)used : 0.0);
}

static int cmp_dbl_idx(const void *x, const void *y)
{
    const double *a = x, *b = y;
    return a[0] < b[0] ? -1 : a[0] > b[0];
}

static int label_all(miner *m, const found *fd, double margin)
{
    labeller l = {0};
    l.m = fd->n;
    if (!l.m)
        return WYE_OK;
    int rc = WYE_OK;
    size_t m_ = l.m;
    l.f = malloc(m_ * sizeof *l.f);
    l.P = malloc(m_ * m_ * sizeof *l.P);
    l.cand = malloc(m_ * LCAND * sizeof *l.cand);
    l.ncand = calloc(m_, sizeof *l.ncand);
    l.pi = malloc(m_ * sizeof *l.pi);
    long *map = malloc((m->ninc + 1) * sizeof *map);
    double *buf = malloc((m->ninc + 1) * 2 * sizeof *buf);
    if (!l.f || !l.P || !l.cand || !l.ncand || !l.pi || !map || !buf) {
        rc = WYE_ENOMEM;
        goto done;
    }
    for (size_t a = 0; a < m_; a++) {
        size_t ha = bs_count(fd->hold + a * m->W, m->W);
        l.f[a] = (double)(ha ? ha : 1) / (double)m->nr;
        for (size_t b = 0; b < m_; b++)
            l.P[a * m_ + b] = ha ? (float)((double)bs_and_count(fd->hold + a * m->W,
                                                                 fd->hold + b * m->W, m->W) /
                                           (double)ha)
                                 : 0.0f;
    }
    /* candidates: tokens of plausible size, nearest in frequency */
    for (size_t t = 0; t < m->ninc; t++)
        map[t] = -1;
    for (size_t a = 0; a < m_; a++) {
        size_t k = 0;
        for (size_t t = 0; t < m->ninc; t++) {
            if (m->freq[t] < 3 || m->kmin[t] == UINT16_MAX)
                continue;
            double n = fd->s[a].n;
            if (n < 0.5 * m->kmin[t] || n > 2.5 * m->kmax[t] + 3)
                continue;
            double g = (double)m->freq[t] / (double)m->ns;
            double d = fabs(log(l.f[a] / g));
            if (d > log(2.0))
                continue;
            buf[2 * k] = d;
            buf[2 * k + 1] = (double)t;
            k++;
        }
        qsort(buf, k, 2 * sizeof *buf, cmp_dbl_idx);
        for (size_t q = 0; q < k && q < LCAND; q++) {
            size_t t = (size_t)buf[2 * q + 1];
            if (map[t] < 0)
                map[t] = (long)l.nt++;
            l.cand[a * LCAND + q] = (uint32_t)map[t];
        }
        l.ncand[a] = (unsigned)(k < LCAND ? k : LCAND);
    }
    l.tok = malloc((l.nt + 1) * sizeof *l.tok);
    l.g = malloc((l.nt + 1) * sizeof *l.g);
    l.Q = malloc((l.nt * l.nt + 1) * sizeof *l.Q);
    l.owner = malloc((l.nt + 1) * sizeof *l.owner);
    if (!l.tok || !l.g || !l.Q || !l.owner) {
        rc = WYE_ENOMEM;
        goto done;
    }
    for (size_t t = 0; t < m->ninc; t++)
        if (map[t] >= 0)
            l.tok[map[t]] = (uint32_t)t;
    for (size_t t = 0; t < l.nt; t++) {
        l.g[t] = (double)m->freq[l.tok[t]] / (double)m->ns;
        l.owner[t] = -1;
    }
    for (size_t t = 0; t < l.nt; t++) {
        const uint64_t *it = m->inc + (size_t)l.tok[t] * m->Ws;
        double ht = (double)m->freq[l.tok[t]];
        for (size_t u = 0; u < l.nt; u++)
            l.Q[t * l.nt + u] =
                (float)((double)bs_and_count(it, m->inc + (size_t)l.tok[u] * m->Ws, m->Ws) / ht);
    }
    /* start: by frequency, most frequent itemsets first */
    for (size_t a = 0; a < m_; a++)
        l.pi[a] = -1;
    for (size_t a = 0; a < m_; a++)
        for (unsigned q = 0; q < l.ncand[a]; q++) {
            uint32_t t = l.cand[a * LCAND + q];
            if (l.owner[t] < 0) {
                l.pi[a] = t;
                l.owner[t] = (long)a;
                break;
            }
        }
    /* improve: each itemset takes the label that fits it best, swapping
     * with the itemset that had it when that fits both better */
    for (int sweep = 0; sweep < 20; sweep++) {
        bool changed = false;
        for (size_t a = 0; a < m_; a++) {
            double cur = l.pi[a] >= 0 ? fit(&l, a, (size_t)l.pi[a]) : INFINITY;
            long bt = -1;
            double bc = cur;
            for (unsigned q = 0; q < l.ncand[a]; q++) {
                uint32_t t = l.cand[a * LCAND + q];
                if ((long)t == l.pi[a])
                    continue;
                double c = fit(&l, a, t);
                long o = l.owner[t];
                if (o >= 0) {
                    /* a swap: o would take a's label */
                    double oc = fit(&l, (size_t)o, t);
                    double on = l.pi[a] >= 0 ? fit(&l, (size_t)o, (size_t)l.pi[a]) : INFINITY;
                    if (c + on >= cur + oc - 1e-9)
                        continue;
                    c = c + on - oc; /* compare on the joint change */
                }
                if (c < bc - 1e-9) {
                    bc = c;
                    bt = (long)t;
                }
            }
            if (bt < 0)
                continue;
            long o = l.owner[bt], old = l.pi[a];
            if (o >= 0) {
                l.pi[o] = old;
                if (old >= 0)
                    l.owner[old] = o;
            } else if (old >= 0) {
                l.owner[old] = -1;
            }
            l.pi[a] = bt;
            l.owner[bt] = (long)a;
            changed = true;
        }
        if (!changed)
            break;
    }
    /* keep a label only when it fits clearly better than any other */
    for (size_t a = 0; a < m_; a++) {
        if (l.pi[a] < 0)
            continue;
        double c1 = fit(&l, a, (size_t)l.pi[a]), c2 = INFINITY;
        for (unsigned q = 0; q < l.ncand[a]; q++) {
            uint32_t t = l.cand[a * LCAND + q];
            if ((long)t != l.pi[a]) {
                double c = fit(&l, a, t);
                if (c < c2)
                    c2 = c;
            }
        }
        if (c2 - c1 < margin)
            continue;
        uint32_t tid = l.tok[l.pi[a]];
        m->npos[tid] = (uint8_t)fd->s[a].n;
        memcpy(m->pos[tid], fd->s[a].pos, fd->s[a].n * sizeof *fd->s[a].pos);
        m->assigned[m->nassigned++] = tid;
    }
done:
    free(map);
    free(buf);
    labeller_free(&l);
    return rc;
}

/* PRIV_DEBUG only: how many of an itemset's positions are set in every
 * encoded record that truly holds the token (the plaintext is used here and
 * nowhere else in the attack). Prints token text, which comes from the
 * public model, never from a record. */
static void debug_check(miner *m, uint32_t t)
{
    const priv_data *E = m->E;
    uint8_t and_[8192];
    size_t bytes = m->L / 8, holders = 0;
    memset(and_, 0xff, bytes);
    tok_ctx c = {.d = &m->d, .add = false};
    for (size_t j = 0; j < m->nr && holders < 200; j++) {
        record_tokens(m, &m->tg, E, m->rix[j], &c);
        bool has = false;
        for (size_t k = 0; k < c.n && !has; k++)
            has = (uint32_t)c.ids[k] == t;
        if (!has)
            continue;
        holders++;
        const uint8_t *b = E->enc + m->rix[j] * E->rsize + m->tg.off;
        for (size_t k = 0; k < bytes; k++)
            and_[k] &= b[k];
    }
    unsigned ok = 0;
    for (unsigned q = 0; q < m->npos[t]; q++)
        ok += holders && bit8(and_, m->pos[t][q]);
    fprintf(stderr, "labelled %-6.*s k %u-%u size %2u: %u/%u positions right (%zu holders)\n",
            (int)m->d.len[t] - 1, (const char *)m->d.b[t] + 1, m->kmin[t], m->kmax[t],
            m->npos[t], ok, m->npos[t], holders);
}

/* PRIV_DEBUG only: is each itemset found the core of some token (by the
 * plaintext, as in debug_check)? And which frequency rank does it have? */
static void debug_discovery(miner *m, const found *fd)
{
    const priv_data *E = m->E;
    size_t bytes = m->L / 8, nt = m->d.n;
    uint8_t *and_ = malloc(nt * bytes + 1);
    uint32_t *holders = calloc(nt + 1, sizeof *holders);
    if (!and_ || !holders)
        return;
    memset(and_, 0xff, nt * bytes);
    tok_ctx c = {.d = &m->d, .add = false};
    for (size_t j = 0; j < m->nr; j++) {
        record_tokens(m, &m->tg, E, m->rix[j], &c);
        const uint8_t *b = E->enc + m->rix[j] * E->rsize + m->tg.off;
        for (size_t k = 0; k < c.n; k++) {
            uint8_t *a = and_ + (size_t)c.ids[k] * bytes;
            holders[c.ids[k]]++;
            for (size_t q = 0; q < bytes; q++)
                a[q] &= b[q];
        }
    }
    size_t good = 0;
    for (size_t a = 0; a < fd->n; a++) {
        long bt = -1;
        unsigned bo = 0;
        double sup = (double)bs_count(fd->hold + a * m->W, m->W);
        for (size_t t = 0; t < nt; t++) {
            if ((double)holders[t] < 0.5 * sup || (double)holders[t] > 1.5 * sup)
                continue;
            unsigned ok = 0;
            for (unsigned q = 0; q < fd->s[a].n; q++)
                ok += bit8(and_ + t * bytes, fd->s[a].pos[q]);
            if (ok > bo || (ok == bo && bt >= 0 &&
                            fabs((double)holders[t] - sup) < fabs((double)holders[bt] - sup))) {
                bo = ok;
                bt = (long)t;
            }
        }
        bool g = bt >= 0 && 5 * bo >= 4 * fd->s[a].n;
        good += g;
        if (a < 40)
            fprintf(stderr, "itemset %3zu size %2u support %5zu: best token %-6.*s %u/%u (%u holders)\n", a,
                    fd->s[a].n, bs_count(fd->hold + a * m->W, m->W),
                    bt >= 0 ? (int)m->d.len[bt] - 1 : 0, bt >= 0 ? (const char *)m->d.b[bt] + 1 : "",
                    bo, fd->s[a].n, bt >= 0 ? holders[bt] : 0);
    }
    fprintf(stderr, "discovered %zu itemsets, %zu the core of a token\n", fd->n, good);
    free(and_);
    free(holders);
}

static int mine(miner *m)
{
    int rc = miner_alloc_assign(m);
    found fd = {0};
    if (!rc)
        rc = discover_all(m, &fd);
    if (getenv("PRIV_DEBUG"))
        debug_discovery(m, &fd);
    double margin = getenv("PRIV_MARGIN") ? atof(getenv("PRIV_MARGIN")) : 0.05;
    if (!rc)
        rc = label_all(m, &fd, margin);
    if (!rc && getenv("PRIV_DEBUG"))
        for (size_t a = 0; a < m->nassigned; a++)
            debug_check(m, m->assigned[a]);
    found_free(&fd);
    return rc;
}

/* ---- decoding --------------------------------------------------------- */

/* Identified tokens of public values, as bitsets over the assigned tokens. */
typedef struct idset {
    size_t A, AW;        /* assigned tokens, words */
    long *slot;          /* token id -> assigned index, or -1 */
} idset;

static void value_ids(miner *m, const idset *ix, size_t field, uint32_t kdf, const char *v,
                      uint64_t *out)
{
    memset(out, 0, ix->AW * sizeof *out);
    tok_ctx c = {.d = &m->d, .kdf = kdf, .add = false};
    wye_encoder_tokens(m->p, field, v, emit_tok, &c);
    for (size_t k = 0; k < c.n; k++)
        if (ix->slot[c.ids[k]] >= 0)
            bs_set(out, (size_t)ix->slot[c.ids[k]]);
}

typedef struct vlist {
    const priv_list *l;
    uint64_t *ids; /* l->n rows of AW words */
    bool *empty;   /* no identified token */
    double lump;   /* weight of values without identified tokens */
} vlist;

static int vlist_make(miner *m, const idset *ix, const priv_list *l, size_t field, uint32_t kdf,
                      vlist *out)
{
    out->l = l;
    out->ids = calloc(l->n * ix->AW + 1, sizeof *out->ids);
    out->empty = calloc(l->n + 1, sizeof *out->empty);
    out->lump = 0;
    if (!out->ids || !out->empty)
        return WYE_ENOMEM;
    for (size_t i = 0; i < l->n; i++) {
        uint64_t *r = out->ids + i * ix->AW;
        value_ids(m, ix, field, kdf, l->v[i], r);
        out->empty[i] = bs_count(r, ix->AW) == 0;
        if (out->empty[i])
            out->lump += l->w[i] / l->total;
    }
    return WYE_OK;
}

static void vlist_free(vlist *v)
{
    free(v->ids);
    free(v->empty);
}

static bool subset(const uint64_t *a, const uint64_t *b, size_t w)
{
    for (size_t i = 0; i < w; i++)
        if (a[i] & ~b[i])
            return false;
    return true;
}

/* The assigned tokens present in mined record j. */
static void record_present(const miner *m, const idset *ix, size_t j, uint64_t *out)
{
    memset(out, 0, ix->AW * sizeof *out);
    for (size_t a = 0; a < m->nassigned; a++) {
        uint32_t t = m->assigned[a];
        bool all = true;
        for (unsigned k = 0; k < m->npos[t] && all; k++)
            all = bs_get(m->col + (size_t)m->pos[t][k] * m->W, j);
        if (all)
            bs_set(out, a);
    }
}

/* A field filter: the value whose identified tokens are exactly those
 * present, if it carries half the candidates' weight. */
static void decode_field(miner *m, const idset *ix, const priv_data *E, const target *t,
                         const vlist *lists, const int *list_of, const char **guess,
                         uint64_t *P)
{
    for (size_t j = 0; j < m->nr; j++) {
        size_t i = m->rix[j];
        record_present(m, ix, j, P);
        if (bs_count(P, ix->AW) == 0)
            continue;
        const vlist *vl = &lists[list_of[i]];
        double tot = 0, bw = 0;
        long bi = -1;
        for (size_t v = 0; v < vl->l->n; v++) {
            if (vl->empty[v])
                continue;
            const uint64_t *r = vl->ids + v * ix->AW;
            if (memcmp(r, P, ix->AW * sizeof *r) != 0)
                continue;
            double w = vl->l->w[v] / vl->l->total;
            tot += w;
            if (w > bw) {
                bw = w;
                bi = (long)v;
            }
        }
        if (bi >= 0 && bw >= 0.5 * tot)
            guess[i] = vl->l->v[bi];
    }
    (void)E;
    (void)t;
}

#define DEC_CAP 300

/* The record-level filter: pairs (given, family) whose identified name
 * tokens together are exactly those present (a superset is allowed when the
 * record has other given names); each name guessed when its marginal
 * carries half the weight. */
static int decode_record(miner *m, const idset *ix, const priv_data *E, const vlist *given,
                         const int *given_of, const vlist *fam, const char **guess, uint64_t *P)
{
    int gf = wye_protocol_field_index(E->p, "given_name");
    int ff = wye_protocol_field_index(E->p, "family_name");
    int of = wye_protocol_field_index(E->p, "other_given_names");
    uint32_t kdfs[3] = {gf >= 0 ? wye_protocol_field(E->p, (size_t)gf)->kdf_id : 0,
                        ff >= 0 ? wye_protocol_field(E->p, (size_t)ff)->kdf_id : 0,
                        of >= 0 ? wye_protocol_field(E->p, (size_t)of)->kdf_id : 0};
    /* name tokens: assigned tokens keyed like a name field */
    uint64_t *namemask = calloc(ix->AW + 1, sizeof *namemask);
    long *gc = malloc((DEC_CAP + 1) * sizeof *gc), *fc = malloc((DEC_CAP + 1) * sizeof *fc);
    double *gw = malloc((DEC_CAP + 1) * sizeof *gw), *fw = malloc((DEC_CAP + 1) * sizeof *fw);
    double *gm = malloc((DEC_CAP + 1) * sizeof *gm), *fm = malloc((DEC_CAP + 1) * sizeof *fm);
    uint64_t *need = malloc((ix->AW + 1) * sizeof *need), *un = malloc((ix->AW + 1) * sizeof *un);
    int rc = WYE_OK;
    if (!namemask || !gc || !fc || !gw || !fw || !gm || !fm || !need || !un) {
        rc = WYE_ENOMEM;
        goto done;
    }
    for (size_t a = 0; a < m->nassigned; a++) {
        uint32_t k = m->d.kdf[m->assigned[a]];
        if (k == kdfs[0] || k == kdfs[1] || k == kdfs[2])
            bs_set(namemask, a);
    }
    for (size_t j = 0; j < m->nr; j++) {
        size_t i = m->rix[j];
        record_present(m, ix, j, P);
        for (size_t w = 0; w < ix->AW; w++)
            P[w] &= namemask[w];
        if (bs_count(P, ix->AW) == 0)
            continue;
        bool hg = enc_present(E, i, gf), hf = enc_present(E, i, ff), ho = enc_present(E, i, of);
        const vlist *gl = &given[given_of[i]];
        /* candidates: identified tokens within P; index -1 = a value with
         * no identified token (the lump) */
        size_t ng = 0, nf = 0;
        if (hg) {
            gc[ng] = -1, gw[ng++] = gl->lump;
            for (size_t v = 0; v < gl->l->n && ng < DEC_CAP; v++)
                if (!gl->empty[v] && subset(gl->ids + v * ix->AW, P, ix->AW))
                    gc[ng] = (long)v, gw[ng++] = gl->l->w[v] / gl->l->total;
        } else {
            gc[ng] = -2, gw[ng++] = 1;
        }
        if (hf) {
            fc[nf] = -1, fw[nf++] = fam->lump;
            for (size_t v = 0; v < fam->l->n && nf < DEC_CAP; v++)
                if (!fam->empty[v] && subset(fam->ids + v * ix->AW, P, ix->AW))
                    fc[nf] = (long)v, fw[nf++] = fam->l->w[v] / fam->l->total;
        } else {
            fc[nf] = -2, fw[nf++] = 1;
        }
        memset(gm, 0, ng * sizeof *gm);
        memset(fm, 0, nf * sizeof *fm);
        double tot = 0;
        for (size_t a = 0; a < ng; a++) {
            if (gc[a] >= 0)
                memcpy(un, gl->ids + (size_t)gc[a] * ix->AW, ix->AW * sizeof *un);
            else
                memset(un, 0, ix->AW * sizeof *un);
            for (size_t b = 0; b < nf; b++) {
                for (size_t w = 0; w < ix->AW; w++)
                    need[w] = un[w] | (fc[b] >= 0 ? fam->ids[(size_t)fc[b] * ix->AW + w] : 0);
                if (!ho && memcmp(need, P, ix->AW * sizeof *need) != 0)
                    continue;
                double w = gw[a] * fw[b];
                tot += w;
                gm[a] += w;
                fm[b] += w;
            }
        }
        if (tot <= 0)
            continue;
        for (size_t a = 0; a < ng; a++)
            if (gc[a] >= 0 && gm[a] >= 0.5 * tot)
                guess[2 * i] = gl->l->v[gc[a]];
        for (size_t b = 0; b < nf; b++)
            if (fc[b] >= 0 && fm[b] >= 0.5 * tot)
                guess[2 * i + 1] = fam->l->v[fc[b]];
    }
done:
    free(namemask);
    free(gc);
    free(fc);
    free(gw);
    free(fw);
    free(gm);
    free(fm);
    free(need);
    free(un);
    return rc;
}

/* ---- the attack --------------------------------------------------------- */

void priv_freq_default_opts(priv_freq_opts *o)
{
    o->max_tokens = 400;
    o->min_records = 12;
    o->eps = 0.1;
}

static void pick_best(priv_freq_report *r)
{
    r->best = 0;
    for (size_t k = 1; k < r->n; k++)
        if (r->t[k].s.reid > r->t[r->best].s.reid)
            r->best = k;
}

/* Pattern mining of one filter, then decoding into name guesses. */
static int run_mining(const priv_data *E, const priv_data *S, const priv_public *pub,
                      const priv_freq_opts *o, const target *t, priv_target *out)
{
    miner m;
    int rc = miner_init(&m, E, S, t, o);
    if (!rc)
        rc = mine(&m);
    idset ix = {0};
    const char **guess = calloc(2 * E->n + 2, sizeof *guess);
    vlist vl[4] = {{0}};
    int *list_of = malloc((E->n + 1) * sizeof *list_of);
    uint64_t *P = NULL;
    if (!guess || !list_of)
        rc = rc ? rc : WYE_ENOMEM;
    if (!rc) {
        ix.A = m.nassigned;
        ix.AW = nwords(ix.A) ? nwords(ix.A) : 1;
        ix.slot = malloc((m.d.n + 1) * sizeof *ix.slot);
        P = calloc(ix.AW + 1, sizeof *P);
        if (!ix.slot || !P)
            rc = WYE_ENOMEM;
    }
    if (!rc) {
        for (size_t k = 0; k < m.d.n; k++)
            ix.slot[k] = -1;
        for (size_t a = 0; a < m.nassigned; a++)
            ix.slot[m.assigned[a]] = (long)a;
        out->learned = m.nassigned;
    }
    int gf = wye_protocol_field_index(E->p, "given_name");
    int ff = wye_protocol_field_index(E->p, "family_name");
    for (size_t i = 0; !rc && i < E->n; i++) {
        char s = rec_sex(E, i);
        list_of[i] = s == 'F' ? 0 : s == 'M' ? 1 : 2;
    }
    if (!rc && t->record) {
        /* given names in three lists by sex, surnames */
        if (gf >= 0) {
            uint32_t kg = wye_protocol_field(E->p, (size_t)gf)->kdf_id;
            rc = vlist_make(&m, &ix, &pub->female, (size_t)gf, kg, &vl[0]);
            if (!rc)
                rc = vlist_make(&m, &ix, &pub->male, (size_t)gf, kg, &vl[1]);
            if (!rc)
                rc = vlist_make(&m, &ix, &pub->given, (size_t)gf, kg, &vl[2]);
        }
        if (!rc && ff >= 0)
            rc = vlist_make(&m, &ix, &pub->surnames, (size_t)ff,
                            wye_protocol_field(E->p, (size_t)ff)->kdf_id, &vl[3]);
        if (!rc && gf >= 0 && ff >= 0)
            rc = decode_record(&m, &ix, E, vl, list_of, &vl[3], guess, P);
        if (!rc)
            rc = priv_score_guesses(E, guess, &out->s);
        out->names = true;
    } else if (!rc) {
        const char *fname = wye_protocol_field(E->p, (size_t)t->field)->name;
        bool given = strcmp(fname, "given_name") == 0 || strcmp(fname, "other_given_names") == 0;
        const char **g1 = calloc(E->n + 1, sizeof *g1);
        if (!g1)
            rc = WYE_ENOMEM;
        if (!rc && given) {
            rc = vlist_make(&m, &ix, &pub->female, (size_t)t->field, 0, &vl[0]);
            if (!rc)
                rc = vlist_make(&m, &ix, &pub->male, (size_t)t->field, 0, &vl[1]);
            if (!rc)
                rc = vlist_make(&m, &ix, &pub->given, (size_t)t->field, 0, &vl[2]);
        } else if (!rc) {
            rc = vlist_make(&m, &ix, &pub->surnames, (size_t)t->field, 0, &vl[0]);
            for (size_t i = 0; i < E->n; i++)
                list_of[i] = 0;
        }
        if (!rc)
            decode_field(&m, &ix, E, t, vl, list_of, g1, P);
        int fi = t->field;
        if (!rc)
            rc = priv_score_fields(E, 1, &fi, g1, &out->s);
        out->names = true;
        free(g1);
    }
    for (int k = 0; k < 4; k++)
        vlist_free(&vl[k]);
    free(ix.slot);
    free(P);
    free(guess);
    free(list_of);
    miner_free(&m);
    return rc;
}

int priv_attack_freq(const priv_data *E, const priv_data *sample, const priv_public *pub,
                     const priv_freq_opts *o, priv_freq_report *out)
{
    memset(out, 0, sizeof *out);
    priv_freq_opts def;
    if (!o) {
        priv_freq_default_opts(&def);
        o = &def;
    }
    if (!E->enc)
        return WYE_EINVAL;
    const wye_protocol *p = E->p;
    const wye_layout *lay = wye_protocol_layout(p);
    int rc = WYE_OK;
    size_t *idx = malloc((E->n + 1) * sizeof *idx);
    const char **g1 = calloc(E->n + 1, sizeof *g1);
    if (!idx || !g1) {
        free(idx);
        free(g1);
        return WYE_ENOMEM;
    }
    /* 1. whole-value frequency alignment of everything deterministic */
    for (size_t f = 0; f < wye_protocol_nfields(p) && !rc; f++) {
        const wye_field_spec *fs = wye_protocol_field(p, f);
        for (int kind = 0; kind < 2 && !rc; kind++) {
            size_t off, len;
            if (kind == 0 && fs->field_filter_bits) {
                off = lay->field_filter_off[f];
                len = lay->field_filter_bytes[f];
            } else if (kind == 1 && fs->exact_digest) {
                off = lay->digest_off[f];
                len = WYE_DIGEST_BYTES;
            } else {
                continue;
            }
            if (out->n == PRIV_MAX_TARGETS)
                break;
            priv_target *tg = &out->t[out->n++];
            snprintf(tg->name, sizeof tg->name, "%s %s: frequency", fs->name,
                     kind ? "digest" : "filter");
            memset(g1, 0, (E->n + 1) * sizeof *g1);
            bool isname = fs->type == WYE_TYPE_NAME;
            tg->names = isname;
            if (isname) {
                bool given = strcmp(fs->name, "given_name") == 0 ||
                             strcmp(fs->name, "other_given_names") == 0;
                const char sexes[3] = {'F', 'M', 0};
                for (int g = 0; g < (given ? 3 : 1) && !rc; g++) {
                    size_t m = 0;
                    for (size_t i = 0; i < E->n; i++) {
                        if (!enc_present(E, i, (int)f))
                            continue;
                        char s = rec_sex(E, i);
                        if (given && s != sexes[g] && !(g == 2 && s != 'F' && s != 'M'))
                            continue;
                        idx[m++] = i;
                    }
                    rc = align(E, idx, m, off, len, name_list(pub, fs->name, given ? sexes[g] : 0),
                               g1);
                }
            } else {
                priv_list sl;
                rc = list_from_sample(sample, (int)f, &sl);
                size_t m = 0;
                for (size_t i = 0; !rc && i < E->n; i++)
                    if (enc_present(E, i, (int)f))
                        idx[m++] = i;
                if (!rc)
                    rc = align(E, idx, m, off, len, &sl, g1);
                int fi = (int)f;
                if (!rc)
                    rc = priv_score_fields(E, 1, &fi, g1, &tg->s);
                /* the guesses point into sl: score before freeing */
                free(sl.v);
                free(sl.w);
                continue;
            }
            int fi = (int)f;
            if (!rc)
                rc = priv_score_fields(E, 1, &fi, g1, &tg->s);
        }
    }
    /* 2. pattern mining: the record-level filter and each name field filter */
    if (!rc && lay->filter_bytes && out->n < PRIV_MAX_TARGETS) {
        target t = {.record = true, .field = -1, .off = lay->filter_off,
                    .bits = lay->filter_bytes * 8};
        priv_target *tg = &out->t[out->n++];
        snprintf(tg->name, sizeof tg->name, "record filter: pattern mining");
        rc = run_mining(E, sample, pub, o, &t, tg);
    }
    for (size_t f = 0; f < wye_protocol_nfields(p) && !rc; f++) {
        const wye_field_spec *fs = wye_protocol_field(p, f);
        if (!fs->field_filter_bits || fs->type != WYE_TYPE_NAME || out->n == PRIV_MAX_TARGETS)
            continue;
        target t = {.record = false, .field = (int)f, .off = lay->field_filter_off[f],
                    .bits = lay->field_filter_bytes[f] * 8};
        priv_target *tg = &out->t[out->n++];
        snprintf(tg->name, sizeof tg->name, "%s filter: pattern mining", fs->name);
        rc = run_mining(E, sample, pub, o, &t, tg);
    }
    pick_best(out);
    free(idx);
    free(g1);
    return rc;
}
