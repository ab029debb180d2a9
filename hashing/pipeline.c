/* The hashing run over a whole extract (include/wyelink/pipeline.h).
 *
 * Rows are read in batches of BATCH; three batches rotate: while one is
 * written (in input order, by one thread) and the next is read (by one
 * thread), every thread maps, normalises and encodes the current one. Each
 * row's record depends on the row alone, so the output is the same for any
 * number of threads. Nothing here ever holds a value from the extract
 * outside the batches' arenas and the encoder's caches, which are wiped. */
#include <errno.h>
#include <jansson.h>
#include <omp.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "wyelink/csvin.h"
#include "wyelink/encoder.h"
#include "wyelink/pipeline.h"
#include "wyelink/version.h"

#define BATCH 8192 /* rows per parallel batch */
/* Per-thread row counters sit a cache line apart: counters of two threads
 * in one line would pass it between the cores on every row. */
#define SHAPED_STRIDE 8
#define ID_PREFETCH 8 /* rows */

/* ---- the tally and the lists ---- */

static void tally_add(wye_hash_tally *t, uint8_t status, uint8_t reason)
{
    if (status == WYE_NORM_PRESENT) {
        t->present++;
    } else if (status == WYE_NORM_INVALID) {
        t->invalid++;
        t->reason[reason < WYE_NR_COUNT ? reason : 0]++;
    } else {
        t->missing++;
    }
}

static void tally_merge(wye_hash_tally *into, const wye_hash_tally *t)
{
    into->present += t->present;
    into->missing += t->missing;
    into->invalid += t->invalid;
    for (int r = 0; r < WYE_NR_COUNT; r++)
        into->reason[r] += t->reason[r];
}

/* Make room for one more item in a list of *n, capacity *cap. */
static int list_grow(void **list, size_t *cap, size_t n, size_t item)
{
    if (n < *cap)
        return WYE_OK;
    size_t c = *cap ? 2 * *cap : 256;
    void *l = realloc(*list, c * item);
    if (!l)
        return WYE_ENOMEM;
    *list = l;
    *cap = c;
    return WYE_OK;
}

/* ---- duplicate local ids: a set of 64-bit keys of the ids ---- */

typedef struct idset {
    uint64_t *slot; /* 0 = empty */
    size_t cap, n;
} idset;

/* 1 if x was already present, 0 if added, WYE_ENOMEM. */
static int idset_add(idset *s, uint64_t x)
{
    x = x ? x : 1;
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1u << 16;
        uint64_t *t = calloc(cap, sizeof *t);
        if (!t)
            return WYE_ENOMEM;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slot[i])
                continue;
            size_t k = (size_t)(s->slot[i] & (cap - 1));
            while (t[k])
                k = (k + 1) & (cap - 1);
            t[k] = s->slot[i];
        }
        free(s->slot);
        s->slot = t;
        s->cap = cap;
    }
    size_t k = (size_t)(x & (s->cap - 1));
    while (s->slot[k]) {
        if (s->slot[k] == x)
            return 1;
        k = (k + 1) & (s->cap - 1);
    }
    s->slot[k] = x;
    s->n++;
    return 0;
}

/* A little-endian 64-bit key of 8 bytes, never 0 (the empty slot). */
static uint64_t id_key(const uint8_t *b)
{
    uint64_t key = 0;
    for (int k = 0; k < 8; k++)
        key |= (uint64_t)b[k] << (8 * k);
    return key ? key : 1;
}

/* ---- a batch of rows, copied out of the reader ---- */

typedef struct batch {
    size_t n;
    uint64_t line[BATCH];
    size_t nf[BATCH], first[BATCH]; /* fields of row i: [first, first + nf) */
    uint8_t malformed[BATCH];
    uint8_t invalid[BATCH][WYE_MAX_FIELDS]; /* reason of each invalid field, else 0 */
    size_t *foff, *flen;
    const char **fptr;
    size_t nfields, fcap;
    char *arena;
    size_t used, cap;
    /* results of the parallel step */
    uint8_t verdict[BATCH];
    const char *lid[BATCH];
    size_t lidlen[BATCH];
    uint64_t idkey[BATCH]; /* of rows with verdict WYE_ROW_OK */
    uint8_t *recs;         /* BATCH records when encoding */
} batch;

static int batch_room(batch *b, const wye_csv_row *row, size_t bytes)
{
    if (b->nfields + row->nfields > b->fcap) {
        size_t cap = b->fcap ? b->fcap : 4096;
        while (cap < b->nfields + row->nfields)
            cap *= 2;
        size_t *o = realloc(b->foff, cap * sizeof *o);
        if (o)
            b->foff = o;
        size_t *l = realloc(b->flen, cap * sizeof *l);
        if (l)
            b->flen = l;
        const char **p = realloc(b->fptr, cap * sizeof *p);
        if (p)
            b->fptr = p;
        if (!o || !l || !p)
            return WYE_ENOMEM;
        b->fcap = cap;
    }
    if (b->used + bytes > b->cap) {
        size_t cap = b->cap ? b->cap : 1u << 20;
        while (cap < b->used + bytes)
            cap *= 2;
        char *a = realloc(b->arena, cap);
        if (!a)
            return WYE_ENOMEM;
        b->arena = a;
        b->cap = cap;
    }
    return WYE_OK;
}

static int batch_add(batch *b, const wye_csv_row *row)
{
    size_t bytes = 0;
    for (size_t i = 0; i < row->nfields; i++)
        bytes += row->len[i] + 1;
    int rc = batch_room(b, row, bytes);
    if (rc)
        return rc;
    b->line[b->n] = row->line;
    b->malformed[b->n] = row->malformed != 0;
    b->nf[b->n] = row->nfields;
    b->first[b->n] = b->nfields;
    for (size_t i = 0; i < row->nfields; i++) {
        b->foff[b->nfields] = b->used;
        b->flen[b->nfields] = row->len[i];
        memcpy(b->arena + b->used, row->field[i], row->len[i] + 1);
        b->used += row->len[i] + 1;
        b->nfields++;
    }
    b->n++;
    return WYE_OK;
}

static void batch_reset(batch *b)
{
    /* The arena held identifiers: wipe what was used. */
    if (b->arena)
        sodium_memzero(b->arena, b->used);
    b->n = b->nfields = b->used = 0;
}

static void batch_free(batch *b)
{
    batch_reset(b);
    free(b->foff);
    free(b->flen);
    free(b->fptr);
    free(b->arena);
    free(b->recs);
}

/* ---- taps: a stream's size and BLAKE2b-256, taken as it passes ----
 * Taken as the bytes pass, no large file is read again after the run (a
 * serial pass that cost as much as a fifth of the run on 2 cores). */

typedef struct in_tap {
    crypto_generichash_state st; /* 64-byte aligned: the run is allocated so */
    uint64_t bytes;
    bool ended;     /* the end of the input was reached */
    wye_source src; /* where the bytes come from */
} in_tap;

static ssize_t in_tap_read(void *ctx, void *buf, size_t n)
{
    in_tap *t = ctx;
    ssize_t got = t->src.read(t->src.ctx, buf, n);
    if (got < 0)
        return got;
    if (got == 0 && n)
        t->ended = true;
    crypto_generichash_update(&t->st, buf, (size_t)got);
    t->bytes += (uint64_t)got;
    return got;
}

/* The local map's tap holds bytes not yet hashed and written: the map is
 * written a few bytes at a time, and each hash update costs as much as
 * hashing a hundred bytes. */
typedef struct out_tap {
    crypto_generichash_state st;
    uint64_t bytes;
    wye_sink sink;
    size_t wlen;
    uint8_t wbuf[1 << 16];
} out_tap;

/* Hash and write what out_tap_put holds. */
static int out_tap_flush(out_tap *t)
{
    if (!t->wlen)
        return WYE_OK;
    crypto_generichash_update(&t->st, t->wbuf, t->wlen);
    size_t n = t->wlen;
    t->wlen = 0;
    return t->sink.write(t->sink.ctx, t->wbuf, n);
}

static int out_tap_put(out_tap *t, const void *buf, size_t n)
{
    int rc;
    if (t->wlen + n > sizeof t->wbuf && (rc = out_tap_flush(t)))
        return rc;
    if (n > sizeof t->wbuf) {
        if ((rc = t->sink.write(t->sink.ctx, buf, n)))
            return rc;
        crypto_generichash_update(&t->st, buf, n);
    } else {
        memcpy(t->wbuf + t->wlen, buf, n);
        t->wlen += n;
    }
    t->bytes += n;
    return WYE_OK;
}

/* The local map's local_id column, quoted as RFC 4180 needs. */
static int put_csv_field(out_tap *t, const char *s, size_t n)
{
    bool quote = n && (s[0] == ' ' || s[n - 1] == ' ');
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote)
        return out_tap_put(t, s, n);
    int rc = out_tap_put(t, "\"", 1);
    for (size_t i = 0; i < n && !rc; i++) {
        if (s[i] == '"')
            rc = out_tap_put(t, "\"", 1);
        if (!rc)
            rc = out_tap_put(t, s + i, 1);
    }
    return rc ? rc : out_tap_put(t, "\"", 1);
}

/* ---- the run ---- */

typedef struct run {
    in_tap in;          /* the input, as it is read */
    out_tap map;        /* the local map, as it is written */
    const wye_hash_settings *s;
    wye_hash_result *res;
    wye_encoder *enc;   /* NULL: a tally alone */
    size_t rs;          /* record size (0 without an encoder) */
    uint8_t idk[crypto_shorthash_KEYBYTES]; /* id keys without an encoder */
    wye_encoder_cache **caches; /* per thread */
    wye_fields **fields;        /* per thread */
    wye_hash_tally (*tf)[WYE_MAX_FIELDS], (*ta)[WYE_MAX_ATTRS]; /* per thread */
    wye_code_tally **codes;     /* per thread */
    uint64_t *shaped;   /* per thread, SHAPED_STRIDE apart */
    unsigned threads;
    wye_csvin *r;
    wye_encwriter *w;
    batch b[3];         /* being read, encoded and written, in rotation */
    size_t rej_cap, inv_cap;
    idset ids;
    uint64_t rows_in;   /* rows read so far (by the reading thread) */
    bool eof, cancelled;
    wye_diag read_diag;
} run;

static int fail(run *c, wye_hash_stage stage, int rc)
{
    c->res->stage = stage;
    return rc;
}

static int note_reject(run *c, uint64_t line, wye_row_verdict v)
{
    wye_hash_result *res = c->res;
    res->rows_rejected++;
    res->rejected_by[v]++;
    if (res->nrejected == WYE_HASH_LIST_MAX)
        return WYE_OK;
    int rc = list_grow((void **)&res->rejected, &c->rej_cap, res->nrejected,
                       sizeof *res->rejected);
    if (rc)
        return rc;
    res->rejected[res->nrejected++] = (wye_hash_rejected){line, (uint8_t)v};
    return WYE_OK;
}

static int note_invalid(run *c, uint64_t line, unsigned field, unsigned why)
{
    wye_hash_result *res = c->res;
    res->invalid_total++;
    if (res->ninvalid == WYE_HASH_LIST_MAX)
        return WYE_OK;
    int rc = list_grow((void **)&res->invalid, &c->inv_cap, res->ninvalid,
                       sizeof *res->invalid);
    if (rc)
        return rc;
    res->invalid[res->ninvalid++] = (wye_hash_invalid){line, (uint8_t)field, (uint8_t)why};
    return WYE_OK;
}

/* Read up to BATCH rows into b (one thread). */
static int read_batch(run *c, batch *b)
{
    wye_csv_row row;
    int more = 1, rc = WYE_OK;
    while (b->n < BATCH && (more = wye_csvin_next(c->r, &row, &c->read_diag)) == 1)
        if ((rc = batch_add(b, &row)))
            return rc;
    if (more < 0)
        return more;
    if (more == 0)
        c->eof = true;
    for (size_t i = 0; i < b->nfields; i++)
        b->fptr[i] = b->arena + b->foff[i];
    c->rows_in += b->n;
    const wye_hash_settings *s = c->s;
    if (s->progress && s->progress(s->progress_ctx, wye_csvin_bytes_read(c->r), s->input_size,
                                   c->rows_in) != 0)
        c->cancelled = true;
    return WYE_OK;
}

/* Map, normalise and encode row i of b (any thread). */
static int encode_row(run *c, batch *b, size_t i, int t)
{
    const wye_protocol *p = c->s->protocol;
    const size_t nf = wye_protocol_nfields(p), na = wye_protocol_nattrs(p);
    wye_fields *f = c->fields[t];
    wye_csv_row row = {b->line[i], 0, b->nf[i], b->fptr + b->first[i], b->flen + b->first[i],
                       b->malformed[i]};
    wye_row_verdict v = wye_colmap_extract(c->s->map, &row, &c->s->extract_date, f, &b->lid[i],
                                           &b->lidlen[i]);
    b->verdict[i] = (uint8_t)v;
    memset(b->invalid[i], 0, sizeof b->invalid[i]);
    if (v != WYE_ROW_FIELD_COUNT && v != WYE_ROW_MALFORMED) {
        c->shaped[(size_t)t * SHAPED_STRIDE]++;
        for (size_t k = 0; k < nf; k++) {
            tally_add(&c->tf[t][k], f->status[k], f->reason[k]);
            if (f->status[k] == WYE_NORM_INVALID)
                b->invalid[i][k] = f->reason[k] ? f->reason[k] : (uint8_t)WYE_NR_COUNT;
        }
        for (size_t k = 0; k < na; k++)
            tally_add(&c->ta[t][k], f->attr_status[k], f->attr_reason[k]);
        int rc = wye_code_tally_row(c->codes[t], &row);
        if (rc)
            return rc;
    }
    if (v != WYE_ROW_OK)
        return WYE_OK;
    if (!c->enc) {
        /* No pseudonym without the keys: a keyed hash of the id under a
         * key of this run finds the same repeats. */
        uint8_t h[crypto_shorthash_BYTES];
        crypto_shorthash(h, (const uint8_t *)b->lid[i], b->lidlen[i], c->idk);
        b->idkey[i] = id_key(h);
        return WYE_OK;
    }
    uint8_t *rec = b->recs + i * c->rs;
    int rc = wye_encoder_encode(c->enc, c->caches[t], f, b->lid[i], b->lidlen[i], rec);
    /* A record's key in the set of ids seen: its pseudonym's first 8 bytes. */
    b->idkey[i] = id_key(rec);
    return rc;
}

/* A row to keep: its record and its local-map line. */
static int write_record(run *c, batch *b, size_t i)
{
    char hex[2 * WYE_PSEUDONYM_BYTES + 2];
    const uint8_t *rec = b->recs + i * c->rs;
    int rc = wye_encwriter_add(c->w, rec);
    if (rc)
        return rc;
    wye_hex(rec, WYE_PSEUDONYM_BYTES, hex);
    hex[2 * WYE_PSEUDONYM_BYTES] = '\n';
    if ((rc = put_csv_field(&c->map, b->lid[i], b->lidlen[i])) ||
        (rc = out_tap_put(&c->map, ",", 1)) || (rc = out_tap_put(&c->map, hex, sizeof hex - 1)))
        return rc;
    return WYE_OK;
}

/* Write b in input order (one thread): invalid values, duplicates, rejects,
 * records, local map. */
static int write_batch(run *c, batch *b)
{
    wye_hash_result *res = c->res;
    for (size_t i = 0; i < b->n; i++) {
        /* The set of ids seen is megabytes: start loading the slot of a row
         * a few ahead, so its lookup does not wait on memory. */
        size_t ahead = i + ID_PREFETCH;
        if (ahead < b->n && b->verdict[ahead] == WYE_ROW_OK && c->ids.cap)
            __builtin_prefetch(&c->ids.slot[b->idkey[ahead] & (c->ids.cap - 1)]);
        res->rows_read++;
        for (unsigned k = 0; k < WYE_MAX_FIELDS; k++) {
            if (b->invalid[i][k]) {
                int rc = note_invalid(c, b->line[i], k, b->invalid[i][k]);
                if (rc)
                    return rc;
            }
        }
        wye_row_verdict v = (wye_row_verdict)b->verdict[i];
        if (v == WYE_ROW_OK) {
            int dup = idset_add(&c->ids, b->idkey[i]);
            if (dup < 0)
                return dup;
            if (dup)
                v = WYE_ROW_DUPLICATE_ID;
        }
        int rc = v != WYE_ROW_OK ? note_reject(c, b->line[i], v)
                 : c->enc        ? write_record(c, b, i)
                                 : WYE_OK;
        if (rc)
            return rc;
        if (v == WYE_ROW_OK)
            res->rows_encoded++;
    }
    if (c->enc)
        sodium_memzero(b->recs, b->n * c->rs);
    return WYE_OK;
}

/* One round: write the previous batch and read the next (one thread each)
 * while every thread (those too, when they are done) encodes the current
 * one. */
static int round_trip(run *c, batch *bp, bool have_prev, batch *bc, batch *bn, int *read_rc)
{
    int io_rc = WYE_OK, enc_rc = WYE_OK, r_rc = WYE_OK;
    const long n = (long)bc->n;
#pragma omp parallel num_threads((int)c->threads)
    {
        const int t = omp_get_thread_num();
#pragma omp sections nowait
        {
#pragma omp section
            if (have_prev) {
                io_rc = write_batch(c, bp);
                batch_reset(bp);
            }
#pragma omp section
            if (!c->eof)
                r_rc = read_batch(c, bn);
        }
        int my_rc = WYE_OK;
#pragma omp for schedule(dynamic, 64) nowait
        for (long i = 0; i < n; i++)
            if (!my_rc)
                my_rc = encode_row(c, bc, (size_t)i, t);
        if (my_rc) {
#pragma omp critical
            enc_rc = enc_rc ? enc_rc : my_rc;
        }
    }
    if (io_rc || enc_rc)
        return io_rc ? io_rc : enc_rc;
    *read_rc = r_rc;
    return r_rc;
}

/* The whole input through the rounds. A read error is also left in
 * *read_rc. */
static int pipeline(run *c, int *read_rc)
{
    int cur = 0, prev = 2;
    bool have_prev = false;
    int rc = read_batch(c, &c->b[0]);
    if (rc) {
        *read_rc = rc;
        return rc;
    }
    for (;;) {
        batch *bc = &c->b[cur], *bp = &c->b[prev], *bn = &c->b[(cur + 1) % 3];
        bool have_cur = bc->n > 0;
        if (!have_cur && !have_prev)
            return WYE_OK;
        if (c->cancelled)
            return WYE_ECANCELLED;
        if ((rc = round_trip(c, bp, have_prev, bc, bn, read_rc)))
            return rc;
        have_prev = have_cur;
        prev = cur;
        cur = (cur + 1) % 3;
    }
}

static int check_settings(const wye_hash_settings *s)
{
    if (!s || !s->protocol || !s->map)
        return WYE_EINVAL;
    if (s->secret && (!s->agency || !s->recipient || !s->encoded.write || !s->local_map.write))
        return WYE_EINVAL;
    return WYE_OK;
}

/* The encoder (with a secret) or the key of the ids (without). */
static int make_keys(run *c)
{
    const wye_hash_settings *s = c->s;
    if (!s->secret) {
        randombytes_buf(c->idk, sizeof c->idk);
        return WYE_OK;
    }
    uint8_t *pk = sodium_malloc(32);
    if (!pk)
        return WYE_ENOMEM;
    int rc = wye_pseudonym_key(s->agency, pk);
    if (rc == WYE_OK)
        rc = wye_encoder_new(s->protocol, s->secret, pk, &c->enc);
    sodium_free(pk);
    if (rc == WYE_OK)
        c->rs = wye_encoder_record_size(c->enc);
    return rc;
}

/* The local map's header and the encoded file's. */
static int start_outputs(run *c)
{
    const wye_hash_settings *s = c->s;
    crypto_generichash_init(&c->map.st, NULL, 0, WYE_HASH_DIGEST_BYTES);
    c->map.sink = s->local_map;
    int rc = out_tap_put(&c->map, "local_id,record\n", 16);
    if (rc)
        return fail(c, WYE_HASH_STAGE_LOCAL_MAP, rc);
    wye_encfile_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.format_version = WYE_ENCFILE_VERSION;
    wye_protocol_fingerprint(s->protocol, meta.fingerprint);
    wye_secret_key_id(s->secret, meta.key_id);
    snprintf(meta.agency, sizeof meta.agency, "%s", wye_party_public_part(s->agency)->name);
    meta.created = s->created;
    char date[16];
    snprintf(date, sizeof date, "%04d-%02d-%02d", s->extract_date.year, s->extract_date.month,
             s->extract_date.day);
    memcpy(meta.extract_date, date, sizeof meta.extract_date);
    meta.record_size = (uint32_t)c->rs;
    if ((rc = wye_encwriter_open(s->encoded, &meta, s->agency, s->recipient, &c->w)) ||
        (rc = wye_encwriter_set_compression(c->w, s->compress ? WYE_ENC_RLE : WYE_ENC_STORED)))
        return fail(c, WYE_HASH_STAGE_START, rc);
    return WYE_OK;
}

/* Per-thread state and the batches' records. */
static int start_threads(run *c)
{
    c->threads = c->s->threads ? c->s->threads : (unsigned)omp_get_num_procs();
    c->res->threads = c->threads;
    const unsigned nt = c->threads;
    c->caches = calloc(nt, sizeof *c->caches);
    c->fields = calloc(nt, sizeof *c->fields);
    c->tf = calloc(nt, sizeof *c->tf);
    c->ta = calloc(nt, sizeof *c->ta);
    c->shaped = calloc((size_t)nt * SHAPED_STRIDE, sizeof *c->shaped);
    c->codes = calloc(nt, sizeof *c->codes);
    if (!c->caches || !c->fields || !c->tf || !c->ta || !c->shaped || !c->codes)
        return WYE_ENOMEM;
    for (int k = 0; k < 3 && c->enc; k++)
        if (!(c->b[k].recs = malloc((size_t)BATCH * c->rs)))
            return WYE_ENOMEM;
    for (unsigned t = 0; t < nt; t++) {
        int rc;
        if (c->enc && (rc = wye_encoder_cache_new(&c->caches[t])))
            return rc;
        if (!(c->fields[t] = malloc(sizeof *c->fields[t])))
            return WYE_ENOMEM;
        if ((rc = wye_code_tally_new(c->s->map, &c->codes[t])))
            return rc;
    }
    return WYE_OK;
}

/* The threads' code tallies as one, finished (the result's). */
static int gather_codes(run *c)
{
    wye_code_tally *all;
    int rc = wye_code_tally_new(c->s->map, &all);
    for (unsigned t = 0; rc == WYE_OK && t < c->threads; t++)
        rc = wye_code_tally_merge(all, c->codes[t]);
    if (rc == WYE_OK)
        rc = wye_code_tally_finish(all);
    if (rc) {
        wye_code_tally_free(all);
        return rc;
    }
    c->res->codes = all;
    return WYE_OK;
}

/* Run the pipeline and gather the per-thread tallies. */
static int run_rows(run *c, wye_diag *diag)
{
    wye_hash_result *res = c->res;
    int read_rc = WYE_OK;
    int rc = pipeline(c, &read_rc);
    int crc = gather_codes(c);
    if (crc && !rc && !read_rc)
        return fail(c, WYE_HASH_STAGE_SETUP, crc);
    for (unsigned t = 0; t < c->threads; t++) {
        for (size_t k = 0; k < WYE_MAX_FIELDS; k++)
            tally_merge(&res->field[k], &c->tf[t][k]);
        for (size_t k = 0; k < WYE_MAX_ATTRS; k++)
            tally_merge(&res->attr[k], &c->ta[t][k]);
        res->rows_shaped += c->shaped[(size_t)t * SHAPED_STRIDE];
    }
    if (read_rc) {
        if (diag)
            *diag = c->read_diag;
        return fail(c, WYE_HASH_STAGE_READ, read_rc);
    }
    if (rc == WYE_ECANCELLED)
        return fail(c, WYE_HASH_STAGE_READ, rc);
    if (rc)
        return fail(c, WYE_HASH_STAGE_WRITE, rc);
    res->blank_lines = wye_csvin_blank_lines(c->r);
    res->read_all = true;
    return WYE_OK;
}

/* Close the encoded file and the local map, keeping their digests. */
static int finish_outputs(run *c)
{
    wye_hash_result *res = c->res;
    int rc = wye_encwriter_close_digest(c->w, res->encoded_digest, &res->encoded_bytes);
    c->w = NULL;
    if (rc)
        return fail(c, WYE_HASH_STAGE_FINISH, rc);
    if ((rc = out_tap_flush(&c->map)))
        return fail(c, WYE_HASH_STAGE_LOCAL_MAP, rc);
    crypto_generichash_final(&c->map.st, res->local_map_digest, sizeof res->local_map_digest);
    res->local_map_bytes = c->map.bytes;
    return WYE_OK;
}

static void run_free(run *c)
{
    /* The local map's buffer held local ids, whether or not the run got as
     * far as writing them out. */
    sodium_memzero(c->map.wbuf, sizeof c->map.wbuf);
    sodium_memzero(c->idk, sizeof c->idk);
    wye_encwriter_abort(c->w);
    wye_csvin_free(c->r);
    for (unsigned t = 0; t < c->threads; t++) {
        if (c->caches)
            wye_encoder_cache_free(c->caches[t]);
        if (c->fields && c->fields[t]) {
            sodium_memzero(c->fields[t], sizeof *c->fields[t]);
            free(c->fields[t]);
        }
        if (c->codes)
            wye_code_tally_free(c->codes[t]);
    }
    free(c->codes);
    free(c->caches);
    free(c->fields);
    free(c->tf);
    free(c->ta);
    free(c->shaped);
    wye_encoder_free(c->enc);
    for (int k = 0; k < 3; k++)
        batch_free(&c->b[k]);
    free(c->ids.slot);
    free(c);
}

static int run_steps(run *c, wye_source input, wye_diag *diag)
{
    const wye_hash_settings *s = c->s;
    int rc;
    if ((rc = make_keys(c)))
        return fail(c, WYE_HASH_STAGE_KEYS, rc);
    c->in.src = input;
    crypto_generichash_init(&c->in.st, NULL, 0, WYE_HASH_DIGEST_BYTES);
    if ((rc = wye_csvin_open((wye_source){in_tap_read, &c->in}, wye_colmap_encoding(s->map),
                             &c->r, diag)))
        return fail(c, WYE_HASH_STAGE_HEADER, rc);
    if ((rc = wye_colmap_bind(s->map, c->r, diag)))
        return fail(c, WYE_HASH_STAGE_BIND, rc);
    if (c->enc && (rc = start_outputs(c)))
        return rc;
    if ((rc = start_threads(c)))
        return fail(c, WYE_HASH_STAGE_SETUP, rc);
    if ((rc = run_rows(c, diag)))
        return rc;
    return c->enc ? finish_outputs(c) : WYE_OK;
}

void wye_hash_default_settings(wye_hash_settings *s)
{
    memset(s, 0, sizeof *s);
}

int wye_hash_run(wye_source input, const wye_hash_settings *settings, wye_hash_result *res,
                 wye_diag *diag)
{
    if (!res)
        return WYE_EINVAL;
    memset(res, 0, sizeof *res);
    wye_diag_clear(diag);
    if (check_settings(settings) || !input.read) {
        res->stage = WYE_HASH_STAGE_SETUP;
        return WYE_EINVAL;
    }
    if (wye_crypto_init() != WYE_OK) {
        res->stage = WYE_HASH_STAGE_SETUP;
        return WYE_ECRYPTO;
    }
    run *c = aligned_alloc(_Alignof(run), sizeof *c); /* the taps' BLAKE2b states */
    if (!c) {
        res->stage = WYE_HASH_STAGE_SETUP;
        return WYE_ENOMEM;
    }
    memset(c, 0, sizeof *c);
    c->s = settings;
    c->res = res;
    int rc = run_steps(c, input, diag);
    res->input_bytes = c->in.bytes;
    if (c->in.ended) { /* the whole input went through */
        crypto_generichash_final(&c->in.st, res->input_digest, sizeof res->input_digest);
        res->input_complete = true;
    }
    int e = errno; /* for the caller's message on WYE_EIO */
    run_free(c);
    errno = e;
    return rc;
}

void wye_hash_result_clear(wye_hash_result *res)
{
    if (!res)
        return;
    free(res->rejected);
    free(res->invalid);
    wye_code_tally_free(res->codes);
    memset(res, 0, sizeof *res);
}

/* ---- the summary JSON ---- */

static json_t *tally_json(const wye_hash_tally *t, bool mapped)
{
    json_t *o = json_object(), *r = json_object();
    json_object_set_new(o, "mapped", json_boolean(mapped));
    json_object_set_new(o, "present", json_integer((json_int_t)t->present));
    json_object_set_new(o, "missing", json_integer((json_int_t)t->missing));
    json_object_set_new(o, "invalid", json_integer((json_int_t)t->invalid));
    for (int k = 1; k < WYE_NR_COUNT; k++)
        if (t->reason[k])
            json_object_set_new(r, wye_norm_reason_text((wye_norm_reason)k),
                                json_integer((json_int_t)t->reason[k]));
    json_object_set_new(o, "invalid_reasons", r);
    return o;
}

static void set_string(json_t *o, const char *key, const char *value)
{
    if (value)
        json_object_set_new(o, key, json_string(value));
}

static void set_count(json_t *o, const char *key, uint64_t n)
{
    json_object_set_new(o, key, json_integer((json_int_t)n));
}

static json_t *summary_lists(const wye_hash_result *res, const wye_protocol *p, json_t *root)
{
    json_t *rej = json_object(), *rows = json_array(), *inv = json_array();
    for (int v = 1; v < WYE_ROW_COUNT; v++)
        if (res->rejected_by[v])
            set_count(rej, wye_row_verdict_text((wye_row_verdict)v), res->rejected_by[v]);
    json_object_set_new(root, "rejected_by_reason", rej);
    for (size_t i = 0; i < res->nrejected; i++) {
        json_t *r = json_object();
        set_count(r, "line", res->rejected[i].line);
        set_string(r, "reason", wye_row_verdict_text((wye_row_verdict)res->rejected[i].reason));
        json_array_append_new(rows, r);
    }
    json_object_set_new(root, "rejected_rows", rows);
    json_object_set_new(root, "rejected_rows_complete",
                        json_boolean(res->nrejected == res->rows_rejected));
    for (size_t i = 0; i < res->ninvalid; i++) {
        json_t *r = json_object();
        set_count(r, "line", res->invalid[i].line);
        set_string(r, "field", wye_protocol_field(p, res->invalid[i].field)->name);
        set_string(r, "reason", wye_norm_reason_text((wye_norm_reason)res->invalid[i].reason));
        json_array_append_new(inv, r);
    }
    json_object_set_new(root, "invalid_values", inv);
    json_object_set_new(root, "invalid_values_complete",
                        json_boolean(res->ninvalid == res->invalid_total));
    return root;
}

static const char *status_name(uint8_t st)
{
    return st == WYE_NORM_PRESENT ? "present" : st == WYE_NORM_MISSING ? "missing" : "invalid";
}

/* One code of a value column: its rows and what it gives. */
static json_t *code_json(const wye_code_count *k)
{
    json_t *o = json_object();
    set_string(o, "code", k->code);
    set_count(o, "rows", k->rows);
    json_object_set_new(o, "in_map", json_boolean(k->in_map));
    set_string(o, "gives", status_name(k->status));
    if (k->status == WYE_NORM_PRESENT)
        set_string(o, "value", k->value);
    else if (k->status == WYE_NORM_INVALID)
        set_string(o, "reason", wye_norm_reason_text((wye_norm_reason)k->reason));
    return o;
}

/* The value columns: the codes met (as colmap.h's rule lets them out) and
 * the constant attributes. */
static json_t *value_columns_json(const wye_code_tally *t)
{
    json_t *a = json_array();
    for (size_t i = 0; i < wye_code_tally_ncolumns(t); i++) {
        const wye_code_column *c = wye_code_tally_column(t, i);
        json_t *o = json_object();
        set_string(o, "column", c->column);
        set_string(o, c->attribute ? "attribute" : "field", c->target);
        if (c->constant) {
            set_string(o, "constant", c->constant);
            json_array_append_new(a, o);
            continue;
        }
        json_object_set_new(o, "map_values", json_boolean(c->has_values));
        set_count(o, "empty", c->empty);
        json_t *codes = json_array(), *hidden = json_object();
        for (size_t k = 0; k < c->ncodes; k++)
            json_array_append_new(codes, code_json(&c->codes[k]));
        json_object_set_new(o, "codes", codes);
        set_count(hidden, "codes", c->hidden_codes);
        set_count(hidden, "present", c->hidden_rows[WYE_NORM_PRESENT]);
        set_count(hidden, "missing", c->hidden_rows[WYE_NORM_MISSING]);
        set_count(hidden, "invalid", c->hidden_rows[WYE_NORM_INVALID]);
        json_object_set_new(o, "codes_not_shown", hidden);
        json_object_set_new(o, "too_many_codes", json_boolean(c->too_many));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *summary_json(const wye_hash_result *res, const wye_hash_summary_info *info)
{
    const wye_protocol *p = info->protocol;
    json_t *root = json_object(), *fields = json_object(), *attrs = json_object();
    set_string(root, "format", "wyelink-hash-summary");
    json_object_set_new(root, "version", json_integer(1));
    set_string(root, "input", info->input);
    set_string(root, "encoded_file", info->encoded_file);
    set_string(root, "local_map", info->local_map);
    set_string(root, "agency", info->agency);
    set_string(root, "protocol", wye_protocol_name(p));
    set_string(root, "fingerprint", info->fingerprint);
    set_string(root, "key_id", info->key_id);
    set_string(root, "extract_date", info->extract_date);
    set_count(root, "rows_read", res->rows_read);
    set_count(root, "rows_encoded", res->rows_encoded);
    set_count(root, "rows_rejected", res->rows_rejected);
    set_count(root, "blank_lines", res->blank_lines);
    summary_lists(res, p, root);
    set_count(root, "rows_with_fields_counted", res->rows_shaped);
    for (size_t i = 0; i < wye_protocol_nfields(p); i++)
        json_object_set_new(fields, wye_protocol_field(p, i)->name,
                            tally_json(&res->field[i], wye_colmap_field_mapped(info->map, i)));
    for (size_t i = 0; i < wye_protocol_nattrs(p); i++)
        json_object_set_new(attrs, wye_protocol_attr(p, i)->name,
                            tally_json(&res->attr[i], wye_colmap_attr_mapped(info->map, i)));
    json_object_set_new(root, "fields", fields);
    json_object_set_new(root, "attributes", attrs);
    if (res->codes)
        json_object_set_new(root, "value_columns", value_columns_json(res->codes));
    return root;
}

int wye_hash_write_summary(const wye_hash_result *res, const wye_hash_summary_info *info,
                           FILE *f)
{
    if (!res || !info || !info->protocol || !info->map || !f)
        return WYE_EINVAL;
    json_t *root = summary_json(res, info);
    if (!root)
        return WYE_ENOMEM;
    int rc = WYE_OK;
    errno = 0;
    if (json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 || fputc('\n', f) == EOF)
        rc = wye_io_write_error(errno); /* a full disk is WYE_ENOSPC */
    json_decref(root);
    return rc;
}
