/* The encoder: tokens -> keyed random hashing -> filters, hardening,
 * digests, pseudonym. Every byte it writes is specified in
 * protocols/ENCODING.md and pinned by tests/hashing/test_encoder.c; a change
 * here is a new protocol version, never a silent change. */
#include "wyelink/encoder.h"

#include <assert.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 64                 /* bytes of one keyed BLAKE2b-512 output */
#define PURPOSE_RECORD 0x52      /* 'R': record-level filter */
#define PURPOSE_FIELD 0x46       /* 'F': a field's own filter */
#define MAX_TOKENS 1024          /* per field value; a value yields far fewer */
#define TOKEN_ARENA 16384
#define MAX_MSG (4 + 255 + 1 + WYE_NORM_MAX + 8)

#define CACHE_SLOTS 16384u       /* power of two */
#define CACHE_KEY_MAX 40        /* bytes, a multiple of 8 */
#define CACHE_BLOCKS 2

struct wye_encoder {
    const wye_protocol *p;
    const wye_layout *lay;
    size_t nfields, nattrs;
    /* Keys (sodium_malloc, read-only): one 32-byte key per distinct kdf_id,
     * then the digest, pseudonym keys. */
    uint8_t *keys;
    size_t nkeys;
    int key_slot[WYE_MAX_FIELDS];
    const uint8_t *digest_key, *pseudonym_key;
    unsigned raw_bits;           /* record-level filter before hardening */
    bool raw_pow2;
    const wye_hardening *h;
    int salt_field;              /* -1 when not salting */
    const wye_field_hardening *fh;
    bool ff_hard;                /* any field-filter hardening */
    int ff_salt_field;           /* -1 when field filters are not salted */
    /* Field-filter diffusion: one keyed draw per distinct (folded) length;
     * ff_diff[i] is field i's (NULL without a field filter). */
    uint32_t *ff_draw[WYE_MAX_FIELDS];
    unsigned ff_draw_len[WYE_MAX_FIELDS];
    size_t ff_ndraws;
    const uint32_t *ff_diff[WYE_MAX_FIELDS];
    uint32_t *perm;              /* balancing: out bit j = in bit perm[j] */
    uint32_t *diff;              /* diffusion: diffusion_bits x t input bits */
    unsigned diff_in;            /* diffusion input length */
    uint64_t id;                 /* random: which encoder a cache's entries belong to */
};

typedef struct cache_entry {
    uint64_t tag;                /* hash of the key bytes, 0 = empty */
    uint64_t key[CACHE_KEY_MAX / 8]; /* zero-padded */
    uint8_t klen, nblocks;
    uint8_t out[CACHE_BLOCKS * BLOCK];
} cache_entry;

/* The value cache: a whole canonical value of a name, sex or date field ->
 * the bits it sets in the raw record filter and in its field filter, so a
 * common name or date of birth costs one lookup and two ORs. Sized on first
 * use for the encoder; used only when those bitmaps are small. 65,536 slots:
 * 300,000 police rows hold about 75,000 distinct names and dates of birth,
 * and at 32,768 slots one name lookup in eight missed (simulated on those
 * rows). Postcodes are nearly all distinct and are not cached by value. */
#define VCACHE_SLOTS 65536u      /* power of two */
#define VKEY_MAX 46
#define VBITS_MAX 512            /* bytes of record + field filter bitmaps */

typedef struct vcache_head {
    uint64_t tag;                /* 0 = empty */
    uint8_t klen;
    uint8_t key[VKEY_MAX];
} vcache_head;

/* The hot-token cache, in front of the main one: a token of at most 4 bytes
 * hashed without salt (the q-grams of names and postcodes, the parts of a
 * date) -> its first hash block. Such tokens make up most lookups and there
 * are only a few thousand of them, but in the main cache they lie scattered
 * over megabytes; here they fit in 8,192 entries of 72 bytes (576 KiB), which
 * a core's 1 MiB L2 cache holds. The key is exact: slot, purpose, length and the
 * token's bytes packed into one word. */
#define HOT_BITS 13
#define HOT_SLOTS (1u << HOT_BITS)
#define HOT_TOKEN_MAX 4

typedef struct hot_entry {
    uint64_t key;                 /* 0 = empty; packed keys are odd */
    uint8_t out[BLOCK];
} hot_entry;

/* The digest cache: a short value of a field with an exact digest (a date
 * of birth, an NHS number) -> its digest. Dates of birth repeat across
 * records (a few tens of thousands of distinct ones), and each digest costs
 * a keyed BLAKE2b; direct-mapped, exact key. */
#define DCACHE_BITS 16
#define DCACHE_SLOTS (1u << DCACHE_BITS)
#define DKEY_MAX 22

typedef struct digest_entry {
    uint64_t tag;                 /* 0 = empty */
    uint8_t klen;                 /* 1 (field index) + value length */
    uint8_t key[1 + DKEY_MAX];    /* field index, then the value */
    uint8_t d[WYE_DIGEST_BYTES];
} digest_entry;

struct wye_encoder_cache {
    hot_entry *hot;              /* HOT_SLOTS */
    digest_entry *dig;           /* DCACHE_SLOTS */
    cache_entry *slots;          /* CACHE_SLOTS / 2 sets of two ways */
    uint8_t *mru;                /* per set: the way used last */
    uint64_t owner;              /* id of the encoder the entries belong to */
    uint8_t *vslots;             /* VCACHE_SLOTS x vstride bytes, or NULL */
    size_t vstride, vraw, vff;   /* entry size, record and field bitmap bytes */
};

/* ---- keyed streams (ENCODING.md 4.1) ---- */

typedef struct {
    const uint8_t *key;
    const char *label;
    uint64_t counter;
    uint8_t block[BLOCK];
    unsigned pos;                /* next unread byte of block */
} stream;

static void stream_init(stream *s, const uint8_t *key, const char *label)
{
    s->key = key;
    s->label = label;
    s->counter = 0;
    s->pos = BLOCK;
}

static uint32_t stream_u32(stream *s)
{
    if (s->pos == BLOCK) {
        uint8_t msg[64];
        size_t n = strlen(s->label);
        assert(n + 8 <= sizeof msg);
        memcpy(msg, s->label, n);
        for (int i = 0; i < 8; i++)
            msg[n + (size_t)i] = (uint8_t)(s->counter >> (8 * i));
        crypto_generichash(s->block, BLOCK, msg, n + 8, s->key, 32);
        s->counter++;
        s->pos = 0;
    }
    const uint8_t *b = s->block + s->pos;
    s->pos += 4;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Uniform in [0, bound) by rejection: no modulo bias. */
static uint32_t stream_below(stream *s, uint32_t bound)
{
    uint64_t limit = (1ull << 32) - ((1ull << 32) % bound);
    for (;;) {
        uint32_t r = stream_u32(s);
        if (r < limit)
            return r % bound;
    }
}

/* ---- bits ---- */

/* Diffusion draws (ENCODING.md 5.4, 5.5): from the keyed stream `label`,
 * for each of nrows output bits, t distinct input bits below len. */
static void draw_diffusion(const uint8_t *key, const char *label, uint32_t *tab,
                           unsigned nrows, unsigned t, uint32_t len)
{
    stream s;
    stream_init(&s, key, label);
    for (unsigned j = 0; j < nrows; j++) {
        uint32_t *row = tab + (size_t)j * t;
        for (unsigned c = 0; c < t;) {
            uint32_t x = stream_below(&s, len);
            bool dup = false;
            for (unsigned q = 0; q < c; q++)
                dup = dup || row[q] == x;
            if (!dup)
                row[c++] = x;
        }
    }
    sodium_memzero(&s, sizeof s);
}

static inline void set_bit(uint8_t *b, uint32_t i) { b[i >> 3] |= (uint8_t)(1u << (i & 7)); }
static inline unsigned get_bit(const uint8_t *b, uint32_t i) { return b[i >> 3] >> (i & 7) & 1u; }

/* Diffusion (ENCODING.md 5.4, 5.5): output bit j of dst (zeroed by the
 * caller) is the XOR of the t input bits of row j of tab. */
static void diffuse(const uint8_t *in, const uint32_t *tab, unsigned t, uint32_t nout,
                    uint8_t *dst)
{
    for (uint32_t j = 0; j < nout; j++) {
        const uint32_t *row = tab + (size_t)j * t;
        unsigned x = 0;
        for (unsigned q = 0; q < t; q++)
            x ^= get_bit(in, row[q]);
        if (x)
            set_bit(dst, j);
    }
}

/* dst |= src over n bytes, n a multiple of 8 (filters are whole 64-bit words). */
static inline void or_bytes(uint8_t *dst, const uint8_t *src, size_t n)
{
    assert(n % 8 == 0);
    for (size_t i = 0; i < n; i += 8) {
        uint64_t a, b;
        memcpy(&a, dst + i, 8);
        memcpy(&b, src + i, 8);
        a |= b;
        memcpy(dst + i, &a, 8);
    }
}

/* ---- encoder lifetime ---- */

void wye_fields_clear(wye_fields *f)
{
    memset(f->status, WYE_NORM_MISSING, sizeof f->status);
    memset(f->reason, 0, sizeof f->reason);
    memset(f->attr, 0, sizeof f->attr);
    memset(f->attr_status, WYE_NORM_MISSING, sizeof f->attr_status);
    memset(f->attr_reason, 0, sizeof f->attr_reason);
    for (size_t i = 0; i < WYE_MAX_FIELDS; i++)
        f->value[i][0] = 0;
}

int wye_encoder_new(const wye_protocol *p, const wye_secret *secret,
                    const uint8_t pseudonym_key[32], wye_encoder **out)
{
    if (!p || !secret || !pseudonym_key || !out)
        return WYE_EINVAL;
    *out = NULL;
    if (sodium_init() < 0)
        return WYE_ECRYPTO;
    wye_encoder *e = calloc(1, sizeof *e);
    if (!e)
        return WYE_ENOMEM;
    e->p = p;
    e->lay = wye_protocol_layout(p);
    e->nfields = wye_protocol_nfields(p);
    e->nattrs = wye_protocol_nattrs(p);
    e->h = wye_protocol_hardening(p);
    e->raw_bits = wye_protocol_filter_bits_raw(p);
    e->raw_pow2 = e->raw_bits && !(e->raw_bits & (e->raw_bits - 1));
    e->salt_field = e->h->salting ? wye_protocol_field_index(p, e->h->salt_field) : -1;
    e->fh = wye_protocol_field_hardening(p);
    e->ff_hard = wye_protocol_field_hardened(p);
    e->ff_salt_field = e->fh->salting ? wye_protocol_field_index(p, e->fh->salt_field) : -1;
    randombytes_buf(&e->id, sizeof e->id);
    e->id |= 1; /* a new cache's owner is 0 */

    uint32_t ids[WYE_MAX_FIELDS];
    for (size_t i = 0; i < e->nfields; i++) {
        uint32_t id = wye_protocol_field(p, i)->kdf_id;
        size_t k = 0;
        while (k < e->nkeys && ids[k] != id)
            k++;
        if (k == e->nkeys)
            ids[e->nkeys++] = id;
        e->key_slot[i] = (int)k;
    }
    size_t nbytes = 32 * (e->nkeys + 4);
    e->keys = sodium_malloc(nbytes);
    if (!e->keys) {
        free(e);
        return WYE_ENOMEM;
    }
    int rc = WYE_OK;
    for (size_t k = 0; k < e->nkeys && !rc; k++)
        rc = wye_secret_derive(secret, ids[k], e->keys + 32 * k);
    uint8_t *dk = e->keys + 32 * e->nkeys, *pk = dk + 32, *perm_key = pk + 32,
            *diff_key = perm_key + 32;
    if (!rc)
        rc = wye_secret_derive(secret, WYE_KDF_DIGEST, dk);
    if (!rc && e->h->balancing)
        rc = wye_secret_derive(secret, WYE_KDF_PERMUTATION, perm_key);
    if (!rc && (e->h->diffusion || e->fh->diffusion))
        rc = wye_secret_derive(secret, WYE_KDF_DIFFUSION, diff_key);
    memcpy(pk, pseudonym_key, 32);
    e->digest_key = dk;
    e->pseudonym_key = pk;

    /* The balancing permutation of 2L positions (Fisher-Yates). */
    unsigned len = e->raw_bits;
    if (!rc && e->h->balancing) {
        len *= 2;
        e->perm = malloc(len * sizeof *e->perm);
        if (!e->perm) {
            rc = WYE_ENOMEM;
        } else {
            stream s;
            stream_init(&s, perm_key, "wyelink.balancing.v1");
            for (uint32_t i = 0; i < len; i++)
                e->perm[i] = i;
            for (uint32_t i = len - 1; i > 0; i--) {
                uint32_t j = stream_below(&s, i + 1), t = e->perm[i];
                e->perm[i] = e->perm[j];
                e->perm[j] = t;
            }
            sodium_memzero(&s, sizeof s);
        }
    }
    if (!rc && e->h->xor_fold)
        len /= 2;
    /* The diffusion draw: t distinct input bits for each output bit. */
    if (!rc && e->h->diffusion) {
        unsigned t = e->h->diffusion_t, nb = e->h->diffusion_bits;
        e->diff_in = len;
        assert(t >= 1 && t <= len);
        e->diff = malloc((size_t)nb * t * sizeof *e->diff);
        if (!e->diff) {
            rc = WYE_ENOMEM;
        } else {
            draw_diffusion(diff_key, "wyelink.diffusion.v1", e->diff, nb, t, len);
        }
    }
    /* Field-filter diffusion (ENCODING.md 5.5): for each distinct folded
     * length n, the stream "wyelink.ffdiffusion.v1.<n>" under the diffusion
     * key draws t distinct input bits for each of the n output bits, as
     * above. Fields of one length share the draw, so filters that share a
     * key stay comparable. */
    for (size_t i = 0; !rc && e->fh->diffusion && i < e->nfields; i++) {
        unsigned n = wye_protocol_field(p, i)->field_filter_bits / (e->fh->xor_fold ? 2u : 1u);
        if (!n)
            continue;
        size_t d = 0;
        while (d < e->ff_ndraws && e->ff_draw_len[d] != n)
            d++;
        if (d == e->ff_ndraws) {
            unsigned t = e->fh->diffusion_t;
            assert(t >= 1 && t <= n);
            uint32_t *tab = malloc((size_t)n * t * sizeof *tab);
            if (!tab) {
                rc = WYE_ENOMEM;
                break;
            }
            char label[48];
            snprintf(label, sizeof label, "wyelink.ffdiffusion.v1.%u", n);
            draw_diffusion(diff_key, label, tab, n, t, n);
            e->ff_draw[d] = tab;
            e->ff_draw_len[d] = n;
            e->ff_ndraws++;
        }
        e->ff_diff[i] = e->ff_draw[d];
    }
    sodium_memzero(perm_key, 64); /* only needed to build the tables */
    sodium_mprotect_readonly(e->keys);
    if (rc) {
        wye_encoder_free(e);
        return rc;
    }
    assert(!e->raw_bits || len == wye_protocol_filter_bits(p) || e->h->diffusion);
    *out = e;
    return WYE_OK;
}

void wye_encoder_free(wye_encoder *e)
{
    if (!e)
        return;
    sodium_free(e->keys); /* wipes */
    if (e->perm) {
        sodium_memzero(e->perm, 2 * (size_t)e->raw_bits * sizeof *e->perm);
        free(e->perm);
    }
    if (e->diff) {
        sodium_memzero(e->diff,
                       (size_t)e->h->diffusion_bits * e->h->diffusion_t * sizeof *e->diff);
        free(e->diff);
    }
    for (size_t d = 0; d < e->ff_ndraws; d++) {
        sodium_memzero(e->ff_draw[d], (size_t)e->ff_draw_len[d] * e->fh->diffusion_t *
                                          sizeof *e->ff_draw[d]);
        free(e->ff_draw[d]);
    }
    free(e);
}

size_t wye_encoder_record_size(const wye_encoder *e) { return e->lay->record_size; }

int wye_encoder_cache_new(wye_encoder_cache **out)
{
    wye_encoder_cache *c = calloc(1, sizeof *c);
    if (!c)
        return WYE_ENOMEM;
    c->slots = calloc(CACHE_SLOTS, sizeof *c->slots);
    c->mru = calloc(CACHE_SLOTS / 2, 1);
    c->hot = calloc(HOT_SLOTS, sizeof *c->hot);
    c->dig = calloc(DCACHE_SLOTS, sizeof *c->dig);
    if (!c->slots || !c->mru || !c->hot || !c->dig) {
        free(c->slots);
        free(c->mru);
        free(c->hot);
        free(c->dig);
        free(c);
        return WYE_ENOMEM;
    }
    *out = c;
    return WYE_OK;
}

void wye_encoder_cache_free(wye_encoder_cache *c)
{
    if (!c)
        return;
    sodium_memzero(c->slots, CACHE_SLOTS * sizeof *c->slots);
    sodium_memzero(c->hot, HOT_SLOTS * sizeof *c->hot);
    sodium_memzero(c->dig, DCACHE_SLOTS * sizeof *c->dig);
    free(c->slots);
    free(c->mru);
    free(c->hot);
    free(c->dig);
    if (c->vslots) {
        sodium_memzero(c->vslots, VCACHE_SLOTS * c->vstride);
        free(c->vslots);
    }
    free(c);
}

/* Tie the cache to encoder e: entries made with another encoder (another
 * secret or protocol) are dropped. The value cache is (re)sized for e. */
static void cache_bind(wye_encoder_cache *c, const wye_encoder *e)
{
    if (c->owner == e->id)
        return;
    memset(c->slots, 0, CACHE_SLOTS * sizeof *c->slots);
    memset(c->hot, 0, HOT_SLOTS * sizeof *c->hot);
    memset(c->dig, 0, DCACHE_SLOTS * sizeof *c->dig);
    if (c->vslots) {
        sodium_memzero(c->vslots, VCACHE_SLOTS * c->vstride);
        free(c->vslots);
        c->vslots = NULL;
    }
    c->owner = e->id;
    size_t ff = 0;
    for (size_t i = 0; i < e->nfields; i++) /* raw field filters are cached */
        if (wye_protocol_field(e->p, i)->field_filter_bits / 8 > ff)
            ff = wye_protocol_field(e->p, i)->field_filter_bits / 8;
    size_t raw = e->raw_bits / 8;
    if (raw + ff == 0 || raw + ff > VBITS_MAX)
        return; /* large filters: the token cache alone */
    c->vraw = raw;
    c->vff = ff;
    c->vstride = (sizeof(vcache_head) + raw + ff + 15) & ~(size_t)15;
    c->vslots = calloc(VCACHE_SLOTS, c->vstride); /* NULL: no value cache */
}

/* ---- tokens (ENCODING.md section 3) ---- */

typedef struct {
    uint8_t arena[TOKEN_ARENA];
    size_t used;
    size_t n;
    uint16_t off[MAX_TOKENS], len[MAX_TOKENS];
    uint32_t h[MAX_TOKENS];
} tokens;

static uint32_t fnv32(const uint8_t *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 16777619u;
    return h;
}

/* Add tag + text unless already present (first-seen order). */
static void add_token(tokens *t, uint8_t tag, const char *text, size_t n)
{
    if (t->n == MAX_TOKENS || t->used + n + 1 > TOKEN_ARENA)
        return; /* cannot happen for values of at most WYE_NORM_MAX bytes */
    uint8_t *dst = t->arena + t->used;
    dst[0] = tag;
    memcpy(dst + 1, text, n);
    uint32_t h = fnv32(dst, n + 1);
    for (size_t i = 0; i < t->n; i++)
        if (t->h[i] == h && t->len[i] == n + 1 && !memcmp(t->arena + t->off[i], dst, n + 1))
            return;
    t->off[t->n] = (uint16_t)t->used;
    t->len[t->n] = (uint16_t)(n + 1);
    t->h[t->n] = h;
    t->n++;
    t->used += n + 1;
}

static char soundex_digit(char c)
{
    switch (c) {
    case 'B': case 'F': case 'P': case 'V': return '1';
    case 'C': case 'G': case 'J': case 'K': case 'Q': case 'S': case 'X': case 'Z': return '2';
    case 'D': case 'T': return '3';
    case 'L': return '4';
    case 'M': case 'N': return '5';
    case 'R': return '6';
    case 'H': case 'W': return 'h';
    default: return '0'; /* vowels and Y */
    }
}

/* American Soundex of the word w[0..n) (capitals A-Z). */
static void soundex(const char *w, size_t n, char out[5])
{
    size_t k = 1;
    out[0] = w[0];
    char last = soundex_digit(w[0]);
    for (size_t i = 1; i < n && k < 4; i++) {
        char d = soundex_digit(w[i]);
        if (d == 'h')
            continue; /* H and W do not separate equal codes */
        if (d != '0' && d != last)
            out[k++] = d;
        last = d;
    }
    while (k < 4)
        out[k++] = '0';
    out[4] = 0;
}

static void tokenise(const wye_field_spec *fs, const char *value, tokens *t)
{
    char s[WYE_NORM_MAX + 2 * 4 + 1]; /* the value without spaces, padded */
    t->n = 0;
    t->used = 0;
    for (unsigned ti = 0; ti < fs->ntokenisers; ti++) {
        const wye_tokeniser *tk = &fs->tok[ti];
        uint8_t tag = (uint8_t)tk->type;
        switch (tk->type) {
        case WYE_TOK_QGRAM:
        case WYE_TOK_POSITIONAL_QGRAM: {
            size_t pad = tk->padding ? tk->q - 1 : 0, n = 0;
            for (size_t i = 0; i < pad; i++)
                s[n++] = '_';
            for (const char *c = value; *c; c++)
                if (*c != ' ')
                    s[n++] = *c;
            for (size_t i = 0; i < pad; i++)
                s[n++] = '_';
            if (n < tk->q) {
                add_token(t, tag, s, n);
                break;
            }
            for (size_t i = 0; i + tk->q <= n; i++) {
                if (tk->type == WYE_TOK_QGRAM) {
                    add_token(t, tag, s + i, tk->q);
                } else {
                    char g[16];
                    int m = snprintf(g, sizeof g, "%.*s:%zu", (int)tk->q, s + i, i);
                    add_token(t, tag, g, (size_t)m);
                }
            }
            break;
        }
        case WYE_TOK_WHOLE: {
            size_t n = 0;
            for (const char *c = value; *c; c++)
                if (*c != ' ')
                    s[n++] = *c;
            add_token(t, tag, s, n);
            break;
        }
        case WYE_TOK_DATE_PARTS: {
            if (strlen(value) != 8)
                break;
            char part[6];
            part[0] = 'D', memcpy(part + 1, value + 6, 2);
            add_token(t, tag, part, 3);
            part[0] = 'M', memcpy(part + 1, value + 4, 2);
            add_token(t, tag, part, 3);
            part[0] = 'Y', memcpy(part + 1, value, 4);
            add_token(t, tag, part, 5);
            break;
        }
        case WYE_TOK_SOUNDEX:
            for (const char *w = value; *w;) {
                const char *end = strchr(w, ' ');
                size_t n = end ? (size_t)(end - w) : strlen(w);
                char code[5];
                if (n) {
                    soundex(w, n, code);
                    add_token(t, tag, code, 4);
                }
                w += n + (end != NULL);
            }
            break;
        }
    }
}

size_t wye_encoder_tokens(const wye_protocol *p, size_t field, const char *value,
                          void (*emit)(void *ctx, const uint8_t *tok, size_t n), void *ctx)
{
    const wye_field_spec *fs = wye_protocol_field(p, field);
    if (!fs || !value)
        return 0;
    tokens *t = malloc(sizeof *t);
    if (!t)
        return 0;
    tokenise(fs, value, t);
    for (size_t i = 0; i < t->n && emit; i++)
        emit(ctx, t->arena + t->off[i], t->len[i]);
    size_t n = t->n;
    free(t);
    return n;
}

/* ---- keyed hashing (ENCODING.md 4.2) ---- */

/* The message of block j: purpose, j (uint16 LE), salt length, salt, token. */
static size_t message(uint8_t *msg, uint8_t purpose, unsigned j, const uint8_t *salt,
                      size_t salt_len, const uint8_t *tok, size_t tok_len)
{
    size_t n = 0;
    msg[n++] = purpose;
    msg[n++] = (uint8_t)j;
    msg[n++] = (uint8_t)(j >> 8);
    msg[n++] = (uint8_t)salt_len;
    if (salt_len)
        memcpy(msg + n, salt, salt_len);
    n += salt_len;
    memcpy(msg + n, tok, tok_len);
    return n + tok_len;
}

/* Set the positions of one block, from position `done` on, at most k in
 * all; returns the new count. Positions are u16le (pow2) or u32le mod L. */
static unsigned block_bits(const uint8_t *b, bool pow2, uint32_t L, unsigned done, unsigned k,
                           uint8_t *filter)
{
    if (pow2) {
        unsigned n = k - done < BLOCK / 2 ? k - done : BLOCK / 2;
        for (unsigned i = 0; i < n; i++) {
            uint16_t v;
            memcpy(&v, b + 2 * i, 2);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
            v = (uint16_t)(v << 8 | v >> 8);
#endif
            set_bit(filter, v & (L - 1));
        }
        return done + n;
    }
    unsigned n = k - done < BLOCK / 4 ? k - done : BLOCK / 4;
    for (unsigned i = 0; i < n; i++) {
        uint32_t v = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 |
                     (uint32_t)b[4 * i + 2] << 16 | (uint32_t)b[4 * i + 3] << 24;
        set_bit(filter, v % L);
    }
    return done + n;
}

/* The hot-cache entry of a token of at most HOT_TOKEN_MAX bytes; *hk is its
 * exact key. */
static inline hot_entry *hot_slot(wye_encoder_cache *c, int slot, uint8_t purpose,
                                  const uint8_t *tok, size_t tok_len, uint64_t *hk)
{
    uint64_t k = 1u | (uint64_t)(uint8_t)slot << 8 | (uint64_t)purpose << 16 |
                 (uint64_t)tok_len << 24;
    for (size_t b = 0; b < tok_len; b++)
        k |= (uint64_t)tok[b] << (32 + 8 * b);
    *hk = k;
    return &c->hot[(k * 0x9e3779b97f4a7c15ull) >> (64 - HOT_BITS)];
}

/* Set k positions of a filter of L bits (pow2: L is a power of two) from the
 * keyed hash of a token (ENCODING.md 4.2). */
static void hash_token(const wye_encoder *e, wye_encoder_cache *c, int slot, uint8_t purpose,
                       const uint8_t *salt, size_t salt_len, const uint8_t *tok,
                       size_t tok_len, uint8_t *filter, uint32_t L, bool pow2, unsigned k)
{
    const uint8_t *key = e->keys + 32 * (size_t)slot;
    unsigned per_block = pow2 ? BLOCK / 2 : BLOCK / 4;
    unsigned nblocks = (k + per_block - 1) / per_block;
    hot_entry *hot_fill = NULL; /* a hot entry to fill from the main cache */
    uint64_t hot_key = 0;
    if (c && nblocks == 1 && salt_len == 0 && tok_len <= HOT_TOKEN_MAX) {
        uint64_t hk;
        hot_entry *h = hot_slot(c, slot, purpose, tok, tok_len, &hk);
        if (h->key == hk) {
            unsigned done = block_bits(h->out, pow2, L, 0, k, filter);
            assert(done == k);
            (void)done;
            return;
        }
        /* Two hot tokens may share an entry: the one pushed out is still in
         * the main cache, so a conflict costs a lookup there, not a hash. */
        hot_fill = h;
        hot_key = hk;
    }
    /* ck = key slot, then the message of block 0; block j's message differs
     * only in its block number, so ck (zero-padded to whole words) is the
     * cache key of every block of the token. */
    uint64_t ckw[(MAX_MSG + 1 + 7) / 8];
    uint8_t *ck = (uint8_t *)ckw, *msg = ck + 1;
    ck[0] = (uint8_t)slot;
    size_t mlen = message(msg, purpose, 0, salt, salt_len, tok, tok_len);
    size_t klen = mlen + 1;

    cache_entry *ce = NULL;
    if (c && klen <= CACHE_KEY_MAX) {
        size_t nw = (klen + 7) / 8;
        memset(ck + klen, 0, nw * 8 - klen);
        uint64_t hsh = klen * 0x9e3779b97f4a7c15ull;
        for (size_t i = 0; i < nw; i++) {
            hsh ^= ckw[i];
            hsh *= 0xff51afd7ed558ccdull;
            hsh ^= hsh >> 32;
        }
        hsh ^= hsh >> 33;
        hsh *= 0xc4ceb9fe1a85ec53ull;
        hsh ^= hsh >> 33;
        hsh |= 1;
        /* two ways per set; a miss replaces the way not used last */
        size_t set = (size_t)(hsh >> 20) & (CACHE_SLOTS / 2 - 1);
        cache_entry *w = &c->slots[2 * set];
        int way = -1;
        for (int k2 = 0; k2 < 2 && way < 0; k2++) {
            if (w[k2].tag != hsh || w[k2].klen != klen)
                continue;
            bool same = true;
            for (size_t i = 0; i < nw; i++)
                same = same && w[k2].key[i] == ckw[i];
            if (same)
                way = k2;
        }
        if (way < 0) {
            way = !c->mru[set];
            w[way].tag = hsh;
            w[way].klen = (uint8_t)klen;
            memcpy(w[way].key, ckw, nw * 8);
            w[way].nblocks = 0;
        }
        c->mru[set] = (uint8_t)way;
        ce = &w[way];
    }
    unsigned done = 0, j = 0;
    if (ce) {
        for (; j < nblocks && j < CACHE_BLOCKS; j++) {
            while (ce->nblocks <= j) {
                msg[1] = ce->nblocks; /* < CACHE_BLOCKS: the high byte stays 0 */
                crypto_generichash(ce->out + BLOCK * ce->nblocks, BLOCK, msg, mlen, key, 32);
                ce->nblocks++;
            }
            if (j == 0 && hot_fill) {
                memcpy(hot_fill->out, ce->out, BLOCK);
                hot_fill->key = hot_key;
            }
            done = block_bits(ce->out + BLOCK * j, pow2, L, done, k, filter);
        }
        msg[1] = 0;
    }
    if (j < nblocks) {
        uint8_t block[BLOCK];
        for (; j < nblocks; j++) {
            msg[1] = (uint8_t)j;
            msg[2] = (uint8_t)(j >> 8);
            crypto_generichash(block, BLOCK, msg, mlen, key, 32);
            done = block_bits(block, pow2, L, done, k, filter);
        }
        sodium_memzero(block, sizeof block);
    }
    assert(done == k);
}

/* ---- one record ---- */

/* Set the bits field i's value contributes: into raw (the record-level
 * filter before hardening) and ff (its own filter). */
static void field_bits(const wye_encoder *e, wye_encoder_cache *c, size_t i,
                       const wye_field_spec *fs, const char *value, const uint8_t *salt,
                       size_t salt_len, const uint8_t *fsalt, size_t fsalt_len, uint8_t *raw,
                       uint8_t *ff, tokens *t, size_t *wipe)
{
    tokenise(fs, value, t);
    *wipe = t->used > *wipe ? t->used : *wipe;
    if (!t->n)
        return;
    unsigned kr = (unsigned)((fs->record_bits + t->n - 1) / t->n);
    unsigned kf = (unsigned)((fs->field_filter_k + t->n - 1) / t->n);
    uint32_t fl = fs->field_filter_bits;
    bool fpow2 = fl && !(fl & (fl - 1));
    if (c && salt_len == 0 && fsalt_len == 0) {
        /* Start loading every token's hot-cache entries (hash_token) before
         * the first is used: most are misses in the CPU cache, and this way
         * they overlap. */
        for (size_t j = 0; j < t->n; j++) {
            if (t->len[j] > HOT_TOKEN_MAX)
                continue;
            uint64_t hk;
            const uint8_t *tok = t->arena + t->off[j];
            int slot = e->key_slot[i];
            if (fs->record_bits)
                __builtin_prefetch(hot_slot(c, slot, PURPOSE_RECORD, tok, t->len[j], &hk));
            if (fl)
                __builtin_prefetch(hot_slot(c, slot, PURPOSE_FIELD, tok, t->len[j], &hk));
        }
    }
    for (size_t j = 0; j < t->n; j++) {
        const uint8_t *tok = t->arena + t->off[j];
        if (fs->record_bits)
            hash_token(e, c, e->key_slot[i], PURPOSE_RECORD, salt, salt_len, tok, t->len[j],
                       raw, e->raw_bits, e->raw_pow2, kr);
        if (fl)
            hash_token(e, c, e->key_slot[i], PURPOSE_FIELD, fsalt, fsalt_len, tok, t->len[j],
                       ff, fl, fpow2, kf);
    }
}

/* Field-filter hardening (ENCODING.md 5.5) of field i's raw filter of n
 * bits into dst: XOR folding, then diffusion. raw is changed. */
static void harden_field(const wye_encoder *e, size_t i, uint8_t *raw, size_t n, uint8_t *dst)
{
    if (e->fh->xor_fold) {
        n /= 2;
        for (size_t b = 0; b < n / 8; b++)
            raw[b] ^= raw[n / 8 + b];
    }
    if (e->fh->diffusion) {
        unsigned tt = e->fh->diffusion_t;
        const uint32_t *tab = e->ff_diff[i];
        assert(tab);
        memset(dst, 0, n / 8);
        diffuse(raw, tab, tt, n, dst);
    } else {
        memcpy(dst, raw, n / 8);
    }
}

/* The tag of a cache key (FNV-1a, then mixed): odd, so never the 0 of an
 * empty entry. The caches still compare whole keys; the tag only places and
 * screens them. */
static uint64_t cache_tag(const uint8_t *key, size_t n, uint64_t seed)
{
    uint64_t h = 1469598103934665603ull ^ seed;
    for (size_t b = 0; b < n; b++)
        h = (h ^ key[b]) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h | 1;
}

/* A salt: field `field`'s canonical value, or its first four characters
 * (the year of a date) for WYE_SALT_YEAR; empty when there is no salt field
 * or the value is missing. */
static const uint8_t *salt_of(const wye_fields *f, int field, unsigned part, size_t *len)
{
    *len = 0;
    if (field < 0 || f->status[field] != WYE_NORM_PRESENT)
        return (const uint8_t *)"";
    *len = strlen(f->value[field]);
    if (part == WYE_SALT_YEAR && *len > 4)
        *len = 4;
    return (const uint8_t *)f->value[field];
}

/* The digest-cache slot of field i's value: NULL when the value is too long
 * to cache (or there is no cache); *tag is its key's tag. */
static digest_entry *digest_slot(wye_encoder_cache *c, size_t i, const char *value, size_t vl,
                                 uint64_t *tag)
{
    *tag = 0;
    if (!c || vl > DKEY_MAX)
        return NULL;
    *tag = cache_tag((const uint8_t *)value, vl, i);
    return &c->dig[(*tag * 0x9e3779b97f4a7c15ull) >> (64 - DCACHE_BITS)];
}

/* The keyed exact digest of field i's value (ENCODING.md 4.3), through its
 * digest-cache slot de (digest_slot) when there is one. */
static void exact_digest(const wye_encoder *e, digest_entry *de, uint64_t h, size_t i,
                         const wye_field_spec *fs, const char *value, size_t vl, uint8_t *out)
{
    if (de && de->tag == h && de->klen == 1 + vl && de->key[0] == (uint8_t)i &&
        memcmp(de->key + 1, value, vl) == 0) {
        memcpy(out, de->d, WYE_DIGEST_BYTES);
        return;
    }
    uint8_t msg[4 + WYE_NORM_MAX], d16[16];
    for (int b = 0; b < 4; b++)
        msg[b] = (uint8_t)(fs->kdf_id >> (8 * b));
    memcpy(msg + 4, value, vl);
    crypto_generichash(d16, sizeof d16, msg, 4 + vl, e->digest_key, 32);
    memcpy(out, d16, WYE_DIGEST_BYTES);
    if (de) {
        de->tag = h;
        de->klen = (uint8_t)(1 + vl);
        de->key[0] = (uint8_t)i;
        memcpy(de->key + 1, value, vl);
        memcpy(de->d, d16, WYE_DIGEST_BYTES);
    }
    sodium_memzero(msg, sizeof msg);
    sodium_memzero(d16, sizeof d16);
}

/* A field's cache slots, found before any is used (see wye_encoder_encode). */
typedef struct slots {
    size_t vl;                 /* value length */
    uint8_t *ventry;           /* value-cache entry, or NULL */
    uint64_t vtag, dtag;
    const uint8_t *vkey;       /* its key, in a buffer of the caller's */
    size_t vklen;
    digest_entry *dentry;      /* digest-cache entry, or NULL */
} slots;

/* Find field i's value-cache entry (names, sex and dates) and digest-cache
 * entry, and start loading them into the CPU cache. A value-cache key is
 * appended to keybuf (the caller wipes it). */
static void find_slots(wye_encoder_cache *c, const wye_fields *f, size_t i,
                       const wye_field_spec *fs, const uint8_t *salt, size_t salt_len,
                       const uint8_t *fsalt, size_t fsalt_len, slots *sl, uint8_t *keybuf,
                       size_t *keybuf_used)
{
    sl->vl = strlen(f->value[i]);
    sl->ventry = NULL;
    sl->dentry = NULL;
    if ((fs->record_bits || fs->field_filter_bits) && c && c->vslots &&
        (fs->type == WYE_TYPE_NAME || fs->type == WYE_TYPE_SEX ||
         fs->type == WYE_TYPE_DATE)) {
        /* key: field index, salt length, salt, field salt length, field
         * salt, value */
        size_t klen = 3 + salt_len + fsalt_len + sl->vl;
        if (klen <= VKEY_MAX) {
            uint8_t *key = keybuf + *keybuf_used;
            *keybuf_used += klen;
            assert(*keybuf_used <= WYE_MAX_FIELDS * VKEY_MAX);
            sl->vkey = key;
            key[0] = (uint8_t)i;
            key[1] = (uint8_t)salt_len;
            memcpy(key + 2, salt, salt_len);
            key[2 + salt_len] = (uint8_t)fsalt_len;
            memcpy(key + 3 + salt_len, fsalt, fsalt_len);
            memcpy(key + 3 + salt_len + fsalt_len, f->value[i], sl->vl);
            sl->vklen = klen;
            sl->vtag = cache_tag(key, klen, 0);
            sl->ventry = c->vslots + ((sl->vtag >> 20) & (VCACHE_SLOTS - 1)) * c->vstride;
            for (size_t b = 0; b < c->vstride; b += 64)
                __builtin_prefetch(sl->ventry + b);
        }
    }
    if (fs->exact_digest) {
        sl->dentry = digest_slot(c, i, f->value[i], sl->vl, &sl->dtag);
        if (sl->dentry)
            __builtin_prefetch(sl->dentry);
    }
}

int wye_encoder_encode(const wye_encoder *e, wye_encoder_cache *c, const wye_fields *f,
                       const char *local_id, size_t len, uint8_t *out)
{
    if (!e || !f || !out || (!local_id && len))
        return WYE_EINVAL;
    const wye_layout *lay = e->lay;
    for (size_t a = 0; a < e->nattrs; a++)
        if (f->attr[a] > wye_protocol_attr(e->p, a)->nvalues)
            return WYE_EINVAL;
    memset(out, 0, lay->record_size);

    /* Salts: the salt field's value (or its year), empty when missing; one
     * for the record-level filter, one for the field filters (ENCODING.md
     * 5.1, 5.5). */
    size_t salt_len, fsalt_len;
    const uint8_t *salt = salt_of(f, e->salt_field, e->h->salt_part, &salt_len);
    const uint8_t *fsalt = salt_of(f, e->ff_salt_field, e->fh->salt_part, &fsalt_len);
    if (c)
        cache_bind(c, e);
    /* The caches are megabytes: each lookup is likely a miss. All of this
     * record's are started first, so they overlap one another and the
     * pseudonym's hash instead of following one by one. */
    slots sl[WYE_MAX_FIELDS];
    uint8_t vkeys[WYE_MAX_FIELDS * VKEY_MAX]; /* the value-cache keys: values */
    size_t vkeys_used = 0;
    uint16_t presence = 0;
    for (size_t i = 0; i < e->nfields; i++) {
        if (f->status[i] != WYE_NORM_PRESENT)
            continue;
        presence |= (uint16_t)(1u << i);
        find_slots(c, f, i, wye_protocol_field(e->p, i), salt, salt_len, fsalt, fsalt_len, &sl[i],
                   vkeys, &vkeys_used);
    }
    wye_pseudonym(e->pseudonym_key, local_id ? local_id : "", len, out + lay->pseudonym_off);
    out[lay->presence_off] = (uint8_t)presence;
    out[lay->presence_off + 1] = (uint8_t)(presence >> 8);
    memcpy(out + lay->attr_off, f->attr, e->nattrs);

    /* With field hardening a field filter is built here, then hardened
     * into the record. */
    uint8_t ffraw[65536 / 8];

    uint8_t raw[65536 / 8];
    size_t raw_bytes = e->raw_bits / 8;
    memset(raw, 0, raw_bytes);
    tokens t;
    size_t wipe = 0;
    for (size_t i = 0; i < e->nfields; i++) {
        if (f->status[i] != WYE_NORM_PRESENT)
            continue;
        const wye_field_spec *fs = wye_protocol_field(e->p, i);
        uint8_t *ff = out + lay->field_filter_off[i];
        size_t ffb = fs->field_filter_bits / 8; /* before field hardening */
        if (e->ff_hard && ffb) {
            ff = ffraw;
            memset(ffraw, 0, ffb);
        }
        uint8_t *entry = sl[i].ventry;
        if (entry) {
            vcache_head *hd = (vcache_head *)entry;
            size_t klen = sl[i].vklen;
            if (hd->tag != sl[i].vtag || hd->klen != klen || memcmp(hd->key, sl[i].vkey, klen)) {
                hd->tag = sl[i].vtag;
                hd->klen = (uint8_t)klen;
                memcpy(hd->key, sl[i].vkey, klen);
                uint8_t *bits = entry + sizeof *hd;
                memset(bits, 0, c->vraw + c->vff);
                field_bits(e, c, i, fs, f->value[i], salt, salt_len, fsalt, fsalt_len, bits,
                           bits + c->vraw, &t, &wipe);
            }
            const uint8_t *bits = entry + sizeof *hd;
            or_bytes(raw, bits, raw_bytes);
            or_bytes(ff, bits + c->vraw, ffb);
        } else if (fs->record_bits || fs->field_filter_bits) {
            field_bits(e, c, i, fs, f->value[i], salt, salt_len, fsalt, fsalt_len, raw, ff, &t,
                       &wipe);
        }
        if (e->ff_hard && ffb)
            harden_field(e, i, ffraw, ffb * 8, out + lay->field_filter_off[i]);
        if (fs->exact_digest)
            exact_digest(e, sl[i].dentry, sl[i].dtag, i, fs, f->value[i], sl[i].vl,
                         out + lay->digest_off[i]);
    }
    sodium_memzero(t.arena, wipe);
    sodium_memzero(vkeys, vkeys_used);
    if (e->ff_hard)
        sodium_memzero(ffraw, sizeof ffraw);

    /* Hardening of the record-level filter (ENCODING.md section 5). */
    if (e->raw_bits) {
        uint8_t buf[2 * 65536 / 8];
        size_t buf_used = 0;
        uint8_t *cur = raw;
        size_t bits = e->raw_bits;
        if (e->h->balancing) {
            uint8_t both[2 * 65536 / 8];
            memcpy(both, raw, raw_bytes);
            for (size_t b = 0; b < raw_bytes; b++)
                both[raw_bytes + b] = (uint8_t)~raw[b];
            bits *= 2;
            buf_used = bits / 8;
            memset(buf, 0, buf_used);
            for (uint32_t j = 0; j < bits; j++)
                if (get_bit(both, e->perm[j]))
                    set_bit(buf, j);
            sodium_memzero(both, bits / 8);
            cur = buf;
        }
        if (e->h->xor_fold) {
            bits /= 2;
            for (size_t b = 0; b < bits / 8; b++)
                cur[b] ^= cur[bits / 8 + b];
        }
        uint8_t *dst = out + lay->filter_off;
        if (e->h->diffusion) {
            unsigned tt = e->h->diffusion_t;
            diffuse(cur, e->diff, tt, e->h->diffusion_bits, dst);
        } else {
            memcpy(dst, cur, bits / 8);
        }
        sodium_memzero(buf, buf_used);
    }
    sodium_memzero(raw, raw_bytes);
    return WYE_OK;
}
