/* The stages of `wyelink hash`, timed apart (bench/RESULTS.md, "Hashing"):
 *   read    CSV reader alone (csvin: libcsv, UTF-8 checks, line numbers)
 *   encode  column map + normalisation + encoding, 1 and 2 threads (OpenMP,
 *           one token/value cache per thread), rows already in memory
 *   write   the encoded-file writer alone (zlib, secretstream, BLAKE2b + Ed25519)
 *           over the encoded records, to memory
 * so a figure of the whole command can be attributed.
 *
 * usage: bench_hash_stages CSV MAP.json SECRET AGENCY.key LINKAGE_UNIT.key
 *        [EXTRACT-DATE]   (protocol: the built-in default)
 * Prints one line per stage: rows, seconds, rows per second. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "wyelink/colmap.h"
#include "wyelink/csvin.h"
#include "wyelink/encfile.h"
#include "wyelink/encoder.h"
#include "wyelink/keys.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_hash_stages: %s: %s\n", what, wye_strerror(rc));
    exit(1);
}

typedef struct {
    size_t n, cap;
    wye_csv_row *rows;
} table;

/* Keep every row (copies) so the encode stage runs without I/O. */
static void keep(table *t, const wye_csv_row *r)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 1u << 16;
        t->rows = realloc(t->rows, t->cap * sizeof *t->rows);
        if (!t->rows)
            die("memory", WYE_ENOMEM);
    }
    wye_csv_row *c = &t->rows[t->n++];
    *c = *r;
    char **f = malloc((r->nfields ? r->nfields : 1) * sizeof *f);
    size_t *l = malloc((r->nfields ? r->nfields : 1) * sizeof *l);
    if (!f || !l)
        die("memory", WYE_ENOMEM);
    for (size_t i = 0; i < r->nfields; i++) {
        f[i] = strdup(r->field[i]);
        l[i] = r->len[i];
    }
    c->field = (const char *const *)f;
    c->len = l;
}

/* This VM's speed drifts by up to a half from one half hour to the next
 * (the host's doing): the same libsodium work timed next to each run tells
 * which speed the run had, so runs of different hours can be compared. */
static void yardstick(void)
{
    const size_t n = 64u << 20;
    uint8_t *buf = calloc(n, 1), h[32], key[32] = {1}, nonce[24] = {0};
    uint8_t *ct = malloc(n + 16);
    if (!buf || !ct)
        die("yardstick", WYE_ENOMEM);
    double a = now();
    crypto_generichash(h, sizeof h, buf, n, NULL, 0);
    double b = now();
    crypto_aead_xchacha20poly1305_ietf_encrypt(ct, NULL, buf, n, NULL, 0, NULL, nonce, key);
    double c = now();
    printf("yardstick: libsodium BLAKE2b %.0f MB/s, XChaCha20-Poly1305 %.0f MB/s (64 MiB each)\n",
           n / 1e6 / (b - a), n / 1e6 / (c - b));
    free(buf);
    free(ct);
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: bench_hash_stages CSV MAP.json SECRET AGENCY.key "
                        "LINKAGE_UNIT.key [EXTRACT-DATE]\n");
        return 2;
    }
    wye_date extract = {2023, 3, 31};
    if (argc > 6 && wye_date_parse_iso(argv[6], &extract))
        die("extract date", WYE_EFORMAT);
    int rc;
    wye_diag d;
    wye_protocol *p;
    if ((rc = wye_protocol_load(WYE_DEFAULT_PROTOCOL, &p, &d)))
        die("protocol", rc);
    wye_colmap *m;
    if ((rc = wye_colmap_load(argv[2], p, &m, &d)))
        die("map", rc);
    wye_secret *s;
    if ((rc = wye_secret_load(argv[3], &s)))
        die("secret", rc);
    wye_party *agency, *lu;
    if ((rc = wye_party_load(argv[4], &agency)) || (rc = wye_party_load(argv[5], &lu)))
        die("key", rc);
    uint8_t pk[32];
    wye_encoder *e;
    if ((rc = wye_pseudonym_key(agency, pk)) || (rc = wye_encoder_new(p, s, pk, &e)))
        die("encoder", rc);

    /* read */
    FILE *f = fopen(argv[1], "rb");
    if (!f)
        die(argv[1], WYE_EIO);
    table t = {0};
    wye_csvin *r;
    double t0 = now();
    if ((rc = wye_csvin_open(wye_source_file(f), wye_colmap_encoding(m), &r, &d)))
        die("csv", rc);
    if ((rc = wye_colmap_bind(m, r, &d)))
        die("bind", rc);
    wye_csv_row row;
    size_t nread = 0;
    while ((rc = wye_csvin_next(r, &row, &d)) == 1)
        nread++;
    if (rc < 0)
        die("csv", rc);
    double t1 = now();
    printf("read    %zu rows  %.3f s  %.0f rows/s\n", nread, t1 - t0, nread / (t1 - t0));
    wye_csvin_free(r);
    rewind(f);
    if ((rc = wye_csvin_open(wye_source_file(f), wye_colmap_encoding(m), &r, &d)))
        die("csv", rc);
    while (wye_csvin_next(r, &row, &d) == 1)
        keep(&t, &row);
    wye_csvin_free(r);
    fclose(f);

    /* encode, 1 and 2 threads */
    size_t rs = wye_encoder_record_size(e);
    uint8_t *recs = malloc(t.n * rs);
    uint8_t *ok = malloc(t.n);
    if (!recs || !ok)
        die("memory", WYE_ENOMEM);
    size_t nok = 0;
    for (int nt = 1; nt <= 2; nt++) {
        wye_encoder_cache *caches[2] = {NULL, NULL};
        for (int k = 0; k < nt; k++)
            if ((rc = wye_encoder_cache_new(&caches[k])))
                die("cache", rc);
        double a = now();
        nok = 0;
#pragma omp parallel num_threads(nt) reduction(+ : nok)
        {
            wye_encoder_cache *c = caches[omp_get_thread_num()];
            wye_fields fl;
#pragma omp for schedule(dynamic, 256)
            for (long i = 0; i < (long)t.n; i++) {
                const char *id;
                size_t il;
                ok[i] = wye_colmap_extract(m, &t.rows[i], &extract, &fl, &id, &il) == WYE_ROW_OK;
                if (ok[i] && wye_encoder_encode(e, c, &fl, id, il, recs + (size_t)i * rs) == 0)
                    nok++;
            }
        }
        double b = now();
        printf("encode  %zu rows  %.3f s  %.0f rows/s  (%d thread%s, %zu encoded)\n", t.n, b - a,
               t.n / (b - a), nt, nt > 1 ? "s" : "", nok);
        for (int k = 0; k < nt; k++)
            wye_encoder_cache_free(caches[k]);
    }

    /* write */
    wye_membuf out = {0};
    wye_encfile_meta meta;
    memset(&meta, 0, sizeof meta);
    wye_protocol_fingerprint(p, meta.fingerprint);
    wye_secret_key_id(s, meta.key_id);
    snprintf(meta.agency, sizeof meta.agency, "%s", wye_party_public_part(agency)->name);
    meta.record_size = (uint32_t)rs;
    memcpy(meta.extract_date, "2023-03-31", 10);
    wye_encwriter *w;
    double a = now();
    if ((rc = wye_encwriter_open(wye_sink_memory(&out), &meta, agency,
                                 wye_party_public_part(lu), &w)))
        die("writer", rc);
    for (size_t i = 0; i < t.n; i++)
        if (ok[i] && (rc = wye_encwriter_add(w, recs + i * rs)))
            die("writer", rc);
    if ((rc = wye_encwriter_close(w)))
        die("writer", rc);
    double b = now();
    printf("write   %zu records  %.3f s  %.0f records/s  (%zu bytes from %zu)\n", nok, b - a,
           nok / (b - a), out.size, nok * rs);
    yardstick();
    return 0;
}
