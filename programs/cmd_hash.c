/* wyelink hash: the agency's hashing client (hashing/COLUMNMAP.md,
 * protocols/ENCODING.md).
 *
 * Reads the extract in batches; each batch is mapped, normalised and encoded
 * in parallel (OpenMP, one token cache per thread), then written in input
 * order by this thread, so the output is byte-identical for any thread
 * count. Rows that cannot be linked are reported by line and reason and are
 * not encoded. Nothing printed, logged or audited ever holds a value from
 * the extract: only line numbers, column and field names, counts and fixed
 * reasons. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <omp.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "profiles.h"
#include "wyelink/audit.h"
#include "wyelink/colmap.h"
#include "wyelink/csvin.h"
#include "wyelink/encfile.h"
#include "wyelink/encoder.h"
#include "wyelink/io.h"
#include "wyelink/keys.h"
#include "wyelink/normalise.h"
#include "wyelink/protocol.h"
#include "wyelink/version.h"

#define CMD "hash"
#define BATCH 8192               /* rows per parallel batch */
/* Per-thread row counters sit a cache line apart: counters of two threads
 * in one line would pass it between the cores on every row. */
#define SHAPED_STRIDE 8
#define REJECT_LIST_MAX 100000   /* rejected rows listed by line in the JSON */
#define REJECT_PRINT_MAX 20      /* ... and on stdout */
#define PROGRESS_MIN_BYTES (16u << 20)

static const char usage_text[] =
    "usage: wyelink hash --input CSV --map MAP.json --secret FILE --key AGENCY.key\n"
    "                    --to LINKAGE_UNIT.pub --out FILE.wye --local-map MAP.csv\n"
    "                    [--protocol P.json] [--summary-json FILE]\n"
    "                    [--extract-date YYYY-MM-DD] [--threads N] [--compress]\n"
    "                    [--quiet] [--audit-log FILE]\n"
    "\n"
    "Agency: encode an extract for linkage. Reads the CSV through the column map,\n"
    "normalises each identifier, hashes it into keyed Bloom filters with the linkage\n"
    "secret (protocols/ENCODING.md) and writes the encoded file, signed with the\n"
    "agency's key and sealed so only the linkage unit can read it. Also writes the\n"
    "local map (local_id,record), which stays at the agency and turns the linkage\n"
    "unit's results back into your own records. Prints a data-quality summary:\n"
    "rows read and encoded, per field present/missing/invalid with reasons, and\n"
    "rejected rows by line number. It never prints a value from the extract.\n"
    "\n"
    "A row is rejected (reported, counted, not encoded) if its quoting is broken,\n"
    "it has the wrong number of fields, no local id, a local id already seen,\n"
    "nothing at all, no name and no NHS number (unless it has another id with a\n"
    "date of birth or an address), or a name but no date of birth, postcode,\n"
    "address, other id or NHS number.\n"
    "\n"
    "   --input FILE         the agency's CSV extract (never modified)\n"
    "   --map FILE           the column map (hashing/COLUMNMAP.md)\n"
    "   --protocol FILE|NAME the linkage protocol: a file, or a built-in profile\n"
    "                        ('wyelink protocol list'; default: default)\n"
    "   --secret FILE        the opened linkage secret ('-' = standard input)\n"
    "   --key FILE           the agency's secret key file ('-' = standard input);\n"
    "                        signs the encoded file and the audit entry\n"
    "   --to FILE            the linkage unit's public key file\n"
    "   --out FILE           the encoded file to write (replaced atomically)\n"
    "   --local-map FILE     the local map to write (replaced atomically; keep it here)\n"
    "   --summary-json FILE  also write the data-quality summary as JSON\n"
    "   --extract-date DATE  the day the extract was taken (default: today, UTC; not\n"
    "                        in the future); dates of birth after it are invalid,\n"
    "                        two-digit years pivot on it, age bands use it\n"
    "   --threads N          threads to use, 0 = all cores (default 0); the output\n"
    "                        is the same for any N\n"
    "   --compress           deflate the encoded records (zlib Z_RLE): a file about a\n"
    "                        quarter smaller, written about twice as slowly\n"
    "   --quiet              no progress bar and no summary on standard output\n"
    "   --audit-log FILE     audit log to append to (else $WYELINK_AUDIT_LOG, else\n"
    "                        wyelink-audit.log), signed by the agency's key\n"
    "\n" WYE_CLI_EXIT_HELP;

/* ---- options ---- */

typedef struct opts {
    const char *input, *map, *protocol, *secret, *key, *to, *out, *local_map, *summary,
        *extract_date, *audit_log;
    uint64_t threads;
    bool quiet, compress;
} opts;

enum { O_INPUT = 256, O_MAP, O_PROTOCOL, O_SECRET, O_KEY, O_TO, O_OUT, O_LOCAL_MAP,
       O_SUMMARY, O_EXTRACT, O_THREADS, O_QUIET, O_COMPRESS, O_AUDIT };

static int parse_opts(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {
        {"input", required_argument, NULL, O_INPUT},
        {"map", required_argument, NULL, O_MAP},
        {"protocol", required_argument, NULL, O_PROTOCOL},
        {"secret", required_argument, NULL, O_SECRET},
        {"key", required_argument, NULL, O_KEY},
        {"to", required_argument, NULL, O_TO},
        {"out", required_argument, NULL, O_OUT},
        {"local-map", required_argument, NULL, O_LOCAL_MAP},
        {"summary-json", required_argument, NULL, O_SUMMARY},
        {"extract-date", required_argument, NULL, O_EXTRACT},
        {"threads", required_argument, NULL, O_THREADS},
        {"quiet", no_argument, NULL, O_QUIET},
        {"compress", no_argument, NULL, O_COMPRESS},
        {"audit-log", required_argument, NULL, O_AUDIT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->protocol = WYE_PROTOCOL_DEFAULT; /* built in (profiles.h) */
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case O_INPUT: o->input = optarg; break;
        case O_MAP: o->map = optarg; break;
        case O_PROTOCOL: o->protocol = optarg; break;
        case O_SECRET: o->secret = optarg; break;
        case O_KEY: o->key = optarg; break;
        case O_TO: o->to = optarg; break;
        case O_OUT: o->out = optarg; break;
        case O_LOCAL_MAP: o->local_map = optarg; break;
        case O_SUMMARY: o->summary = optarg; break;
        case O_EXTRACT: o->extract_date = optarg; break;
        case O_QUIET: o->quiet = true; break;
        case O_COMPRESS: o->compress = true; break;
        case O_AUDIT: o->audit_log = optarg; break;
        case O_THREADS:
            if (wye_cli_parse_u64(CMD, "--threads", optarg, 0, 1024, &o->threads))
                return WYE_EXIT_USAGE;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return -1;
        default:
            return wye_cli_bad_option(CMD, argv);
        }
    }
    if (optind < argc)
        return wye_cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!o->input || !o->map || !o->secret || !o->key || !o->to || !o->out || !o->local_map)
        return wye_cli_usage_error(CMD, "--input, --map, --secret, --key, --to, --out and "
                                        "--local-map are required");
    if (!o->protocol)
        return wye_cli_usage_error(CMD, "--protocol is required");
    if (!strcmp(o->secret, "-") && !strcmp(o->key, "-"))
        return wye_cli_usage_error(CMD, "--secret and --key cannot both be standard input");
    return WYE_EXIT_OK;
}

/* An output must never replace an input (outputs are renamed into place). */
static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (!a || !b || !strcmp(a, "-") || !strcmp(b, "-"))
        return false;
    if (!strcmp(a, b))
        return true;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static int check_paths(const opts *o)
{
    const char *ins[] = {o->input, o->map, o->protocol, o->secret, o->key, o->to};
    const char *outs[] = {o->out, o->local_map, o->summary};
    for (size_t i = 0; i < 3; i++) {
        for (size_t j = 0; outs[i] && j < 6; j++)
            if (same_file(outs[i], ins[j]))
                return wye_cli_usage_error(CMD, "output '%s' would replace an input", outs[i]);
        for (size_t j = i + 1; outs[i] && j < 3; j++)
            if (same_file(outs[i], outs[j]))
                return wye_cli_usage_error(CMD, "'%s' is named as two outputs", outs[i]);
    }
    return WYE_EXIT_OK;
}

/* ---- statistics ---- */

typedef struct tally {
    uint64_t present, missing, invalid;
    uint64_t reason[WYE_NR_COUNT];
} tally;

typedef struct stats {
    uint64_t rows_read, rows_encoded, rows_rejected, rows_shaped;
    uint64_t verdict[WYE_ROW_COUNT];
    tally field[WYE_MAX_FIELDS], attr[WYE_MAX_ATTRS];
    uint64_t *rej_line;
    uint8_t *rej_why;
    size_t nrej, rej_cap;
    /* invalid values by line and field (listed up to REJECT_LIST_MAX) */
    uint64_t *inv_line, ninv_total;
    uint8_t *inv_field, *inv_why;
    size_t ninv, inv_cap;
} stats;

static void tally_add(tally *t, uint8_t status, uint8_t reason)
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

static void tally_merge(tally *into, const tally *t)
{
    into->present += t->present;
    into->missing += t->missing;
    into->invalid += t->invalid;
    for (int r = 0; r < WYE_NR_COUNT; r++)
        into->reason[r] += t->reason[r];
}

static int note_reject(stats *s, uint64_t line, wye_row_verdict v)
{
    s->rows_rejected++;
    s->verdict[v]++;
    if (s->nrej == REJECT_LIST_MAX)
        return WYE_OK;
    if (s->nrej == s->rej_cap) {
        size_t cap = s->rej_cap ? 2 * s->rej_cap : 256;
        uint64_t *l = realloc(s->rej_line, cap * sizeof *l);
        if (!l)
            return WYE_ENOMEM;
        s->rej_line = l;
        uint8_t *w = realloc(s->rej_why, cap);
        if (!w)
            return WYE_ENOMEM;
        s->rej_why = w;
        s->rej_cap = cap;
    }
    s->rej_line[s->nrej] = line;
    s->rej_why[s->nrej] = (uint8_t)v;
    s->nrej++;
    return WYE_OK;
}

static int note_invalid(stats *s, uint64_t line, unsigned field, unsigned why)
{
    s->ninv_total++;
    if (s->ninv == REJECT_LIST_MAX)
        return WYE_OK;
    if (s->ninv == s->inv_cap) {
        size_t cap = s->inv_cap ? 2 * s->inv_cap : 256;
        uint64_t *l = realloc(s->inv_line, cap * sizeof *l);
        if (!l)
            return WYE_ENOMEM;
        s->inv_line = l;
        uint8_t *f = realloc(s->inv_field, cap);
        if (!f)
            return WYE_ENOMEM;
        s->inv_field = f;
        uint8_t *w = realloc(s->inv_why, cap);
        if (!w)
            return WYE_ENOMEM;
        s->inv_why = w;
        s->inv_cap = cap;
    }
    s->inv_line[s->ninv] = line;
    s->inv_field[s->ninv] = (uint8_t)field;
    s->inv_why[s->ninv] = (uint8_t)why;
    s->ninv++;
    return WYE_OK;
}

/* ---- duplicate local ids: a set of 64-bit pseudonym prefixes ---- */

typedef struct idset {
    uint64_t *slot; /* 0 = empty */
    size_t cap, n;
} idset;

#define ID_PREFETCH 8 /* rows */

/* A record's key in the set of ids seen: its pseudonym's first 8 bytes. */
static uint64_t id_key(const uint8_t *rec)
{
    uint64_t key = 0;
    for (int k = 0; k < 8; k++)
        key |= (uint64_t)rec[k] << (8 * k);
    return key ? key : 1;
}

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
    uint8_t *recs;
} batch;

static int batch_add(batch *b, const wye_csv_row *row)
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
    size_t bytes = 0;
    for (size_t i = 0; i < row->nfields; i++)
        bytes += row->len[i] + 1;
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

/* ---- writing ---- */

/* ---- taps: a file's size and BLAKE2b-256, taken as it is read or written ----
 * The audit entry records the digests of the input, the encoded file (from
 * its writer, wye_encwriter_close_digest) and the local map. Taken as the
 * bytes pass, no large file is read again after the run (a serial pass that
 * cost as much as a fifth of the run on 2 cores). */

typedef struct tap {
    crypto_generichash_state st; /* 64-byte aligned: ctx is allocated so */
    uint64_t bytes;
    bool ended;     /* reading: the end of the input was reached */
    FILE *f;        /* writing: where the bytes go */
    wye_source src; /* reading: where they come from (the file, as a source) */
    /* writing: bytes not yet hashed and written. The local map is written a
     * few bytes at a time, and each hash update costs as much as hashing a
     * hundred bytes. */
    size_t wlen;
    uint8_t wbuf[1 << 16];
} tap;

static void tap_init(tap *t, FILE *f)
{
    t->wlen = 0;
    crypto_generichash_init(&t->st, NULL, 0, WYE_AUDIT_DIGEST_BYTES);
    t->bytes = 0;
    t->ended = false;
    t->f = f;
    t->src = wye_source_file(f);
}

static ssize_t tap_read(void *ctx, void *buf, size_t n)
{
    tap *t = ctx;
    ssize_t got = t->src.read(t->src.ctx, buf, n);
    if (got < 0)
        return got;
    if (got == 0 && n)
        t->ended = true;
    crypto_generichash_update(&t->st, buf, (size_t)got);
    t->bytes += (uint64_t)got;
    return got;
}

/* Hash and write what tap_put holds; 0 or -1. */
static int tap_flush(tap *t)
{
    if (!t->wlen)
        return 0;
    crypto_generichash_update(&t->st, t->wbuf, t->wlen);
    size_t n = t->wlen;
    t->wlen = 0;
    return fwrite(t->wbuf, 1, n, t->f) == n ? 0 : -1;
}

static int tap_put(tap *t, const void *buf, size_t n)
{
    if (t->wlen + n > sizeof t->wbuf && tap_flush(t))
        return -1;
    if (n > sizeof t->wbuf) {
        if (fwrite(buf, 1, n, t->f) != n)
            return -1;
        crypto_generichash_update(&t->st, buf, n);
    } else {
        memcpy(t->wbuf + t->wlen, buf, n);
        t->wlen += n;
    }
    t->bytes += n;
    return 0;
}

/* The local map's local_id column, quoted as RFC 4180 needs. */
static int write_csv_field(tap *t, const char *s, size_t n)
{
    bool quote = n && (s[0] == ' ' || s[n - 1] == ' ');
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote)
        return tap_put(t, s, n);
    if (tap_put(t, "\"", 1))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' && tap_put(t, "\"", 1))
            return -1;
        if (tap_put(t, s + i, 1))
            return -1;
    }
    return tap_put(t, "\"", 1);
}


/* The encoded file's sink. Every 32 MiB it asks the kernel to start writing
 * what it has (Linux sync_file_range, without waiting), so that the fsync
 * before the file is renamed into place (wye_atomic_commit) finds little
 * left to write: on 1,000,000 records (335 MB) that fsync took 0.20 s of a
 * 3.5 s run. */
#define WRITEBACK_BYTES (32u << 20)

typedef struct out_sink {
    FILE *f;
    uint64_t since; /* bytes since the last writeback request */
} out_sink;

static int sink_atomic_write(void *ctx, const void *buf, size_t n)
{
    out_sink *o = ctx;
    if (fwrite(buf, 1, n, o->f) != n)
        return WYE_EIO;
    o->since += n;
#ifdef SYNC_FILE_RANGE_WRITE
    if (o->since >= WRITEBACK_BYTES) {
        o->since = 0;
        if (fflush(o->f) != 0)
            return WYE_EIO;
        (void)sync_file_range(fileno(o->f), 0, 0, SYNC_FILE_RANGE_WRITE); /* a hint */
    }
#endif
    return WYE_OK;
}

/* ---- the summary ---- */

static json_t *tally_json(const tally *t, bool mapped)
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

typedef struct run_info {
    const opts *o;
    const wye_protocol *p;
    const wye_colmap *m;
    const stats *s;
    uint64_t blank_lines;
    char fingerprint[2 * WYE_FINGERPRINT_BYTES + 1];
    char key_id[2 * WYE_KEY_ID_BYTES + 1];
    char extract[11];
    char agency[WYE_PARTY_NAME_MAX];
    unsigned threads;
} run_info;

static json_t *summary_json(const run_info *ri)
{
    const stats *s = ri->s;
    json_t *root = json_object(), *fields = json_object(), *attrs = json_object();
    json_t *rej = json_object(), *rows = json_array();
    json_object_set_new(root, "format", json_string("wyelink-hash-summary"));
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "input", json_string(ri->o->input));
    json_object_set_new(root, "encoded_file", json_string(ri->o->out));
    json_object_set_new(root, "local_map", json_string(ri->o->local_map));
    json_object_set_new(root, "agency", json_string(ri->agency));
    json_object_set_new(root, "protocol", json_string(wye_protocol_name(ri->p)));
    json_object_set_new(root, "fingerprint", json_string(ri->fingerprint));
    json_object_set_new(root, "key_id", json_string(ri->key_id));
    json_object_set_new(root, "extract_date", json_string(ri->extract));
    json_object_set_new(root, "rows_read", json_integer((json_int_t)s->rows_read));
    json_object_set_new(root, "rows_encoded", json_integer((json_int_t)s->rows_encoded));
    json_object_set_new(root, "rows_rejected", json_integer((json_int_t)s->rows_rejected));
    json_object_set_new(root, "blank_lines", json_integer((json_int_t)ri->blank_lines));
    for (int v = 1; v < WYE_ROW_COUNT; v++)
        if (s->verdict[v])
            json_object_set_new(rej, wye_row_verdict_text((wye_row_verdict)v),
                                json_integer((json_int_t)s->verdict[v]));
    json_object_set_new(root, "rejected_by_reason", rej);
    for (size_t i = 0; i < s->nrej; i++) {
        json_t *r = json_object();
        json_object_set_new(r, "line", json_integer((json_int_t)s->rej_line[i]));
        json_object_set_new(r, "reason",
                            json_string(wye_row_verdict_text((wye_row_verdict)s->rej_why[i])));
        json_array_append_new(rows, r);
    }
    json_object_set_new(root, "rejected_rows", rows);
    json_object_set_new(root, "rejected_rows_complete",
                        json_boolean(s->nrej == s->rows_rejected));
    json_t *inv = json_array();
    for (size_t i = 0; i < s->ninv; i++) {
        json_t *r = json_object();
        json_object_set_new(r, "line", json_integer((json_int_t)s->inv_line[i]));
        json_object_set_new(r, "field",
                            json_string(wye_protocol_field(ri->p, s->inv_field[i])->name));
        json_object_set_new(r, "reason",
                            json_string(wye_norm_reason_text((wye_norm_reason)s->inv_why[i])));
        json_array_append_new(inv, r);
    }
    json_object_set_new(root, "invalid_values", inv);
    json_object_set_new(root, "invalid_values_complete", json_boolean(s->ninv == s->ninv_total));
    json_object_set_new(root, "rows_with_fields_counted",
                        json_integer((json_int_t)s->rows_shaped));
    for (size_t i = 0; i < wye_protocol_nfields(ri->p); i++)
        json_object_set_new(fields, wye_protocol_field(ri->p, i)->name,
                            tally_json(&s->field[i], wye_colmap_field_mapped(ri->m, i)));
    for (size_t i = 0; i < wye_protocol_nattrs(ri->p); i++)
        json_object_set_new(attrs, wye_protocol_attr(ri->p, i)->name,
                            tally_json(&s->attr[i], wye_colmap_attr_mapped(ri->m, i)));
    json_object_set_new(root, "fields", fields);
    json_object_set_new(root, "attributes", attrs);
    return root;
}

static void print_tally(const char *name, const tally *t, bool mapped)
{
    if (!mapped) {
        printf("  %-20s (no column in the map)\n", name);
        return;
    }
    printf("  %-20s %10llu %10llu %10llu\n", name, (unsigned long long)t->present,
           (unsigned long long)t->missing, (unsigned long long)t->invalid);
    for (int k = 1; k < WYE_NR_COUNT; k++)
        if (t->reason[k])
            printf("  %-20s   invalid: %s: %llu\n", "", wye_norm_reason_text((wye_norm_reason)k),
                   (unsigned long long)t->reason[k]);
}

static void print_summary(const run_info *ri)
{
    const stats *s = ri->s;
    printf("%s: data-quality summary (protocol %s, extract date %s)\n", ri->o->input,
           wye_protocol_name(ri->p), ri->extract);
    printf("  rows read      %llu\n", (unsigned long long)s->rows_read);
    printf("  rows encoded   %llu\n", (unsigned long long)s->rows_encoded);
    printf("  rows rejected  %llu\n", (unsigned long long)s->rows_rejected);
    for (int v = 1; v < WYE_ROW_COUNT; v++)
        if (s->verdict[v])
            printf("    %s: %llu\n", wye_row_verdict_text((wye_row_verdict)v),
                   (unsigned long long)s->verdict[v]);
    if (ri->blank_lines)
        printf("  blank lines skipped  %llu\n", (unsigned long long)ri->blank_lines);
    printf("\n  %-20s %10s %10s %10s\n", "field", "present", "missing", "invalid");
    for (size_t i = 0; i < wye_protocol_nfields(ri->p); i++)
        print_tally(wye_protocol_field(ri->p, i)->name, &s->field[i],
                    wye_colmap_field_mapped(ri->m, i));
    if (wye_protocol_nattrs(ri->p))
        printf("\n  %-20s %10s %10s %10s\n", "attribute", "present", "missing", "invalid");
    for (size_t i = 0; i < wye_protocol_nattrs(ri->p); i++)
        print_tally(wye_protocol_attr(ri->p, i)->name, &s->attr[i],
                    wye_colmap_attr_mapped(ri->m, i));
    if (s->ninv_total) {
        printf("\n  invalid values (line, field: reason)\n");
        size_t n = s->ninv < REJECT_PRINT_MAX ? s->ninv : REJECT_PRINT_MAX;
        for (size_t i = 0; i < n; i++)
            printf("    line %llu, %s: %s\n", (unsigned long long)s->inv_line[i],
                   wye_protocol_field(ri->p, s->inv_field[i])->name,
                   wye_norm_reason_text((wye_norm_reason)s->inv_why[i]));
        if (s->ninv_total > n)
            printf("    ... and %llu more%s\n", (unsigned long long)(s->ninv_total - n),
                   ri->o->summary ? " (listed in the summary JSON)" : " (use --summary-json)");
    }
    if (s->rows_rejected) {
        printf("\n  rejected rows (line: reason)\n");
        size_t n = s->nrej < REJECT_PRINT_MAX ? s->nrej : REJECT_PRINT_MAX;
        for (size_t i = 0; i < n; i++)
            printf("    line %llu: %s\n", (unsigned long long)s->rej_line[i],
                   wye_row_verdict_text((wye_row_verdict)s->rej_why[i]));
        if (s->rows_rejected > n)
            printf("    ... and %llu more%s\n", (unsigned long long)(s->rows_rejected - n),
                   ri->o->summary ? " (listed in the summary JSON)" : " (use --summary-json)");
    }
    fflush(stdout);
}

static int write_summary_json(const run_info *ri, wye_atomic **out)
{
    json_t *root = summary_json(ri);
    if (!root)
        return WYE_ENOMEM;
    int rc = wye_atomic_open(ri->o->summary, 0644, 0, out);
    if (rc == WYE_OK) {
        FILE *f = wye_atomic_file(*out);
        if (json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 || fputc('\n', f) == EOF)
            rc = WYE_EIO;
    }
    json_decref(root);
    return rc;
}

/* ---- the run ---- */

typedef struct ctx {
    opts o;
    wye_protocol *p;
    wye_colmap *m;
    wye_secret *secret;
    wye_party *party;
    wye_party_public to;
    wye_encoder *enc;
    wye_encoder_cache **caches;
    unsigned threads;
    FILE *in;
    tap in_tap;          /* digest of the input, taken as it is read */
    tap map_tap;         /* digest of the local map, taken as it is written */
    out_sink out_sink;   /* the encoded file's sink */
    uint8_t out_digest[WYE_ENCFILE_DIGEST_BYTES]; /* of the encoded file, by its writer */
    uint64_t out_bytes;
    wye_csvin *r;
    wye_atomic *out_a, *map_a, *sum_a;
    wye_encwriter *w;
    batch b[3];          /* being read, encoded and written, in rotation */
    stats s;
    tally (*tf)[WYE_MAX_FIELDS], (*ta)[WYE_MAX_ATTRS]; /* per thread */
    uint64_t *shaped;    /* per thread, SHAPED_STRIDE apart */
    wye_fields **fields; /* per thread */
    bool eof;
    wye_diag read_diag;
    wye_progress pg;
    idset ids;
    wye_date extract;
    run_info ri;
    wye_cli_audit au;    /* the audit entry, appended if the agency's key loaded */
    int code;           /* the WYE_E* code of the failure, for the audit entry */
    bool read_all;      /* the whole input was read: the summary is complete */
    char inbuf[1 << 16];
} ctx;

/* Failure messages; each remembers the code for the audit entry. */
static int cli_fail(ctx *c, const char *what, int rc)
{
    c->code = rc;
    return wye_cli_fail(CMD, what, rc);
}

static int cli_fail_diag(ctx *c, const char *what, int rc, const wye_diag *d)
{
    c->code = rc;
    return wye_cli_fail_diag(CMD, what, rc, d);
}

static int fail_file(ctx *c, const char *what, const char *path, int rc)
{
    char msg[1200];
    snprintf(msg, sizeof msg, "%s '%s'", what, path);
    return cli_fail(c, msg, rc);
}

static int fail_file_diag(ctx *c, const char *what, const char *path, int rc,
                          const wye_diag *d)
{
    char msg[1200];
    snprintf(msg, sizeof msg, "%s '%s'", what, path);
    return cli_fail_diag(c, msg, rc, d);
}

static int load_inputs(ctx *c)
{
    const opts *o = &c->o;
    wye_diag d;
    int rc;
    if (wye_crypto_init() != WYE_OK)
        return cli_fail(c, "cannot initialise libsodium", WYE_ECRYPTO);
    time_t now = time(NULL) + 86400; /* tomorrow: any time zone's today is allowed */
    struct tm tm;
    gmtime_r(&now, &tm);
    wye_date tomorrow = {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday};
    if (o->extract_date) {
        if (wye_date_parse_iso(o->extract_date, &c->extract) != WYE_OK)
            return wye_cli_usage_error(CMD, "--extract-date must be a real day as YYYY-MM-DD");
        if (wye_date_cmp(&c->extract, &tomorrow) > 0)
            return wye_cli_usage_error(CMD, "--extract-date is in the future");
    } else {
        now = time(NULL);
        gmtime_r(&now, &tm);
        c->extract = (wye_date){tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday};
    }
    snprintf(c->ri.extract, sizeof c->ri.extract, "%04d-%02d-%02d", c->extract.year,
             c->extract.month, c->extract.day);
    errno = 0;
    if ((rc = wye_cli_protocol_load(o->protocol, &c->p, &d)))
        return fail_file_diag(c, "cannot load the protocol", o->protocol, rc, &d);
    errno = 0;
    if ((rc = wye_colmap_load(o->map, c->p, &c->m, &d)))
        return fail_file_diag(c, "cannot load the column map", o->map, rc, &d);
    errno = 0;
    if ((rc = wye_party_load(o->key, &c->party)))
        return fail_file(c, "cannot load the key", o->key, rc);
    const wye_party_public *me = wye_party_public_part(c->party);
    if (strcmp(me->role, "agency")) {
        fprintf(stderr, "wyelink %s: '%s' has role '%s', not 'agency'\n", CMD, o->key, me->role);
        /* not the agency's key: it signs nothing, not even an audit entry */
        wye_party_free(c->party);
        c->party = NULL;
        c->code = WYE_EINVAL;
        return WYE_EXIT_FAIL;
    }
    snprintf(c->ri.agency, sizeof c->ri.agency, "%s", me->name);
    errno = 0;
    if ((rc = wye_public_load(o->to, &c->to)))
        return fail_file(c, "cannot load the public key", o->to, rc);
    if (strcmp(c->to.role, "linkage-unit")) {
        fprintf(stderr, "wyelink %s: '%s' has role '%s', not 'linkage-unit'\n", CMD, o->to,
                c->to.role);
        c->code = WYE_EINVAL;
        return WYE_EXIT_FAIL;
    }
    errno = 0;
    if ((rc = wye_secret_load(o->secret, &c->secret)))
        return fail_file(c, "cannot load the linkage secret", o->secret, rc);
    uint8_t fp[WYE_FINGERPRINT_BYTES], kid[WYE_KEY_ID_BYTES];
    wye_protocol_fingerprint(c->p, fp);
    wye_secret_key_id(c->secret, kid);
    wye_hex(fp, sizeof fp, c->ri.fingerprint);
    wye_hex(kid, sizeof kid, c->ri.key_id);
    if (c->au.e && c->au.rc == WYE_OK)
        c->au.rc = wye_audit_entry_protocol(c->au.e, fp, kid);

    uint8_t *pk = sodium_malloc(32);
    if (!pk)
        return cli_fail(c, "cannot derive the pseudonym key", WYE_ENOMEM);
    rc = wye_pseudonym_key(c->party, pk);
    if (rc == WYE_OK)
        rc = wye_encoder_new(c->p, c->secret, pk, &c->enc);
    sodium_free(pk);
    if (rc)
        return cli_fail(c, "cannot derive the hashing keys", rc);
    return WYE_EXIT_OK;
}

static int open_outputs(ctx *c)
{
    const opts *o = &c->o;
    int rc;
    errno = 0;
    if ((rc = wye_atomic_open(o->out, 0600, 0, &c->out_a)))
        return fail_file(c, "cannot write", o->out, rc);
    errno = 0;
    if ((rc = wye_atomic_open(o->local_map, 0600, 0, &c->map_a)))
        return fail_file(c, "cannot write", o->local_map, rc);
    tap_init(&c->map_tap, wye_atomic_file(c->map_a));
    if (tap_put(&c->map_tap, "local_id,record\n", 16))
        return fail_file(c, "cannot write", o->local_map, WYE_EIO);

    wye_encfile_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.format_version = WYE_ENCFILE_VERSION;
    wye_protocol_fingerprint(c->p, meta.fingerprint);
    wye_secret_key_id(c->secret, meta.key_id);
    snprintf(meta.agency, sizeof meta.agency, "%s", c->ri.agency);
    meta.created = (int64_t)time(NULL);
    memcpy(meta.extract_date, c->ri.extract, sizeof meta.extract_date);
    meta.record_size = (uint32_t)wye_encoder_record_size(c->enc);
    c->out_sink = (out_sink){wye_atomic_file(c->out_a), 0};
    wye_sink sink = {sink_atomic_write, &c->out_sink};
    if ((rc = wye_encwriter_open(sink, &meta, c->party, &c->to, &c->w)) ||
        (rc = wye_encwriter_set_compression(c->w, o->compress ? WYE_ENC_RLE : WYE_ENC_STORED)))
        return fail_file(c, "cannot start the encoded file", o->out, rc);
    return WYE_EXIT_OK;
}

/* Read up to BATCH rows into b (this thread only). */
static int read_batch(ctx *c, batch *b)
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
    wye_progress_update(&c->pg, wye_csvin_bytes_read(c->r));
    return WYE_OK;
}

/* Map, normalise and encode row i of b (any thread). */
static int encode_row(ctx *c, batch *b, size_t i, int t)
{
    const size_t rs = wye_encoder_record_size(c->enc);
    const size_t nf = wye_protocol_nfields(c->p), na = wye_protocol_nattrs(c->p);
    wye_fields *f = c->fields[t];
    wye_csv_row row = {b->line[i], 0, b->nf[i], b->fptr + b->first[i], b->flen + b->first[i],
                       b->malformed[i]};
    wye_row_verdict v = wye_colmap_extract(c->m, &row, &c->extract, f, &b->lid[i], &b->lidlen[i]);
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
    }
    if (v != WYE_ROW_OK)
        return WYE_OK;
    return wye_encoder_encode(c->enc, c->caches[t], f, b->lid[i], b->lidlen[i],
                              b->recs + i * rs);
}

/* Write b in input order (this thread only): duplicates, rejects, records,
 * local map. */
static int write_batch(ctx *c, batch *b)
{
    const size_t rs = wye_encoder_record_size(c->enc);
    char hex[2 * WYE_PSEUDONYM_BYTES + 2];
    for (size_t i = 0; i < b->n; i++) {
        /* The set of ids seen is megabytes: start loading the slot of a row
         * a few ahead, so its lookup does not wait on memory. */
        size_t ahead = i + ID_PREFETCH;
        if (ahead < b->n && b->verdict[ahead] == WYE_ROW_OK && c->ids.cap)
            __builtin_prefetch(&c->ids.slot[id_key(b->recs + ahead * rs) & (c->ids.cap - 1)]);
        c->s.rows_read++;
        for (unsigned k = 0; k < WYE_MAX_FIELDS; k++) {
            if (b->invalid[i][k]) {
                int rc = note_invalid(&c->s, b->line[i], k, b->invalid[i][k]);
                if (rc)
                    return rc;
            }
        }
        wye_row_verdict v = (wye_row_verdict)b->verdict[i];
        const uint8_t *rec = b->recs + i * rs;
        if (v == WYE_ROW_OK) {
            int dup = idset_add(&c->ids, id_key(rec));
            if (dup < 0)
                return dup;
            if (dup)
                v = WYE_ROW_DUPLICATE_ID;
        }
        if (v != WYE_ROW_OK) {
            int rc = note_reject(&c->s, b->line[i], v);
            if (rc)
                return rc;
            continue;
        }
        int rc = wye_encwriter_add(c->w, rec);
        if (rc)
            return rc;
        wye_hex(rec, WYE_PSEUDONYM_BYTES, hex);
        hex[2 * WYE_PSEUDONYM_BYTES] = '\n';
        if (write_csv_field(&c->map_tap, b->lid[i], b->lidlen[i]) ||
            tap_put(&c->map_tap, ",", 1) || tap_put(&c->map_tap, hex, sizeof hex - 1))
            return WYE_EIO;
        c->s.rows_encoded++;
    }
    sodium_memzero(b->recs, b->n * rs);
    return WYE_OK;
}

/* The pipeline. In each round one thread writes the previous batch and one
 * (or the same) reads the next, while every thread (those too, when they are
 * done) encodes the current batch. Each row's record depends on the row alone
 * and batches are written in order, so the output is the same for any
 * number of threads. */
static int pipeline(ctx *c, int *read_rc)
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
        if (r_rc) {
            *read_rc = r_rc;
            return r_rc;
        }
        have_prev = have_cur;
        prev = cur;
        cur = (cur + 1) % 3;
    }
}

static int run_hash(ctx *c)
{
    const opts *o = &c->o;
    int status = load_inputs(c);
    if (status)
        return status;
    c->ri.p = c->p;
    c->ri.m = c->m;
    errno = 0;
    c->in = fopen(o->input, "rb");
    if (!c->in)
        return fail_file(c, "cannot open", o->input, WYE_EIO);
    setvbuf(c->in, c->inbuf, _IOFBF, sizeof c->inbuf);
    struct stat st;
    uint64_t size = fstat(fileno(c->in), &st) == 0 ? (uint64_t)st.st_size : 0;
    wye_diag d;
    tap_init(&c->in_tap, c->in);
    int rc = wye_csvin_open((wye_source){tap_read, &c->in_tap}, wye_colmap_encoding(c->m),
                            &c->r, &d);
    if (rc)
        return fail_file_diag(c, "cannot read", o->input, rc, &d);
    if ((rc = wye_colmap_bind(c->m, c->r, &d))) {
        char msg[1400];
        snprintf(msg, sizeof msg, "column map '%s' does not fit '%s'", o->map, o->input);
        return cli_fail_diag(c, msg, rc, &d);
    }
    if ((status = open_outputs(c)))
        return status;

    c->threads = o->threads ? (unsigned)o->threads : (unsigned)omp_get_num_procs();
    const unsigned nt = c->threads;
    c->caches = calloc(nt, sizeof *c->caches);
    c->fields = calloc(nt, sizeof *c->fields);
    c->tf = calloc(nt, sizeof *c->tf);
    c->ta = calloc(nt, sizeof *c->ta);
    c->shaped = calloc((size_t)nt * SHAPED_STRIDE, sizeof *c->shaped);
    if (!c->caches || !c->fields || !c->tf || !c->ta || !c->shaped)
        return cli_fail(c, "cannot start", WYE_ENOMEM);
    for (int k = 0; k < 3; k++)
        if (!(c->b[k].recs = malloc((size_t)BATCH * wye_encoder_record_size(c->enc))))
            return cli_fail(c, "cannot start", WYE_ENOMEM);
    for (unsigned t = 0; t < nt; t++) {
        if ((rc = wye_encoder_cache_new(&c->caches[t])))
            return cli_fail(c, "cannot start", rc);
        if (!(c->fields[t] = malloc(sizeof *c->fields[t])))
            return cli_fail(c, "cannot start", WYE_ENOMEM);
    }

    wye_progress_start(&c->pg, "hashing", size, PROGRESS_MIN_BYTES, o->quiet);
    int read_rc = WYE_OK;
    rc = pipeline(c, &read_rc);
    wye_progress_end(&c->pg);
    for (unsigned t = 0; t < nt; t++) {
        for (size_t k = 0; k < WYE_MAX_FIELDS; k++)
            tally_merge(&c->s.field[k], &c->tf[t][k]);
        for (size_t k = 0; k < WYE_MAX_ATTRS; k++)
            tally_merge(&c->s.attr[k], &c->ta[t][k]);
        c->s.rows_shaped += c->shaped[(size_t)t * SHAPED_STRIDE];
    }
    if (read_rc == WYE_ENOMEM)
        return cli_fail(c, "cannot read the input", read_rc);
    if (read_rc)
        return fail_file_diag(c, "cannot read", o->input, read_rc, &c->read_diag);
    if (rc)
        return fail_file(c, "cannot write", o->out, rc);
    c->ri.blank_lines = wye_csvin_blank_lines(c->r);
    c->read_all = true;

    if (c->s.rows_encoded == 0) {
        fprintf(stderr, "wyelink %s: '%s': no row could be encoded (%llu read, %llu "
                        "rejected)\n",
                CMD, o->input, (unsigned long long)c->s.rows_read,
                (unsigned long long)c->s.rows_rejected);
        c->code = WYE_EFORMAT;
        return WYE_EXIT_FAIL;
    }
    rc = wye_encwriter_close_digest(c->w, c->out_digest, &c->out_bytes);
    c->w = NULL;
    if (rc)
        return fail_file(c, "cannot finish", o->out, rc);
    if (o->summary && (rc = write_summary_json(&c->ri, &c->sum_a)))
        return fail_file(c, "cannot write", o->summary, rc);
    /* The local map first: without the encoded file it is harmless. */
    if (tap_flush(&c->map_tap)) /* cleanup removes the temporary file */
        return fail_file(c, "cannot write", o->local_map, WYE_EIO);
    rc = wye_atomic_commit(c->map_a);
    c->map_a = NULL;
    if (rc)
        return fail_file(c, "cannot write", o->local_map, rc);
    rc = wye_atomic_commit(c->out_a);
    c->out_a = NULL;
    if (rc)
        return fail_file(c, "cannot write", o->out, rc);
    if (c->sum_a) {
        rc = wye_atomic_commit(c->sum_a);
        c->sum_a = NULL;
        if (rc)
            return fail_file(c, "cannot write", o->summary, rc);
    }
    return WYE_EXIT_OK;
}

static void cleanup(ctx *c)
{
    /* The local map's buffer held local ids, whether or not the run got as
     * far as writing them out. */
    sodium_memzero(c->map_tap.wbuf, sizeof c->map_tap.wbuf);
    wye_encwriter_abort(c->w);
    wye_atomic_abort(c->out_a);
    wye_atomic_abort(c->map_a);
    wye_atomic_abort(c->sum_a);
    wye_csvin_free(c->r);
    if (c->in)
        fclose(c->in);
    for (unsigned t = 0; t < c->threads; t++) {
        if (c->caches)
            wye_encoder_cache_free(c->caches[t]);
        if (c->fields && c->fields[t]) {
            sodium_memzero(c->fields[t], sizeof *c->fields[t]);
            free(c->fields[t]);
        }
    }
    free(c->caches);
    free(c->fields);
    free(c->tf);
    free(c->ta);
    free(c->shaped);
    wye_encoder_free(c->enc);
    for (int k = 0; k < 3; k++)
        batch_free(&c->b[k]);
    free(c->s.rej_line);
    free(c->s.inv_line);
    free(c->s.inv_field);
    free(c->s.inv_why);
    free(c->s.rej_why);
    free(c->ids.slot);
    wye_colmap_free(c->m);
    wye_protocol_free(c->p);
    wye_secret_free(c->secret);
    wye_party_free(c->party);
    wye_audit_entry_free(c->au.e); /* a run that never reached the key */
}

int wye_cmd_hash(int argc, char **argv)
{
    ctx *c = aligned_alloc(_Alignof(ctx), sizeof *c); /* the taps' BLAKE2b states */
    if (!c)
        return wye_cli_fail(CMD, "cannot start", WYE_ENOMEM);
    memset(c, 0, sizeof *c);
    int status = parse_opts(argc, argv, &c->o);
    if (status == 0)
        status = check_paths(&c->o);
    if (status) {
        free(c);
        return status < 0 ? WYE_EXIT_OK : status;
    }
    const opts *o = &c->o;
    c->ri.o = o;
    c->ri.s = &c->s;
    wye_cli_audit_start(&c->au, CMD);
    wye_cli_audit_param_path(&c->au, "input", o->input);
    /* the secret: a path only, no digest of a secret */
    wye_cli_audit_param_path(&c->au, "secret", o->secret);
    wye_cli_audit_param_path(&c->au, "key", o->key);

    status = run_hash(c);
    if (status != WYE_EXIT_OK && !c->code)
        c->code = WYE_EIO;

    /* Every run that got as far as the agency's key is audited, failed or
     * not; an unaudited output is not kept. */
    if (c->party) {
        char threads[24];
        snprintf(threads, sizeof threads, "%u", c->threads);
        wye_cli_audit_param(&c->au, "extract_date", c->ri.extract);
        wye_cli_audit_param(&c->au, "threads", threads);
        wye_cli_audit_param(&c->au, "agency", c->ri.agency);
        const char *ins[] = {o->input, o->map, o->protocol, o->to};
        const char *in_names[] = {"input_missing", "map_missing", "protocol_missing",
                                  "to_missing"};
        for (size_t i = 0; i < 4; i++) {
            if (i == 2 && wye_cli_protocol_is_builtin(ins[i])) {
                wye_cli_audit_param(&c->au, "protocol", ins[i]); /* built in: no file */
            } else if (access(ins[i], R_OK) != 0) {
                /* a failed run: path only */
                wye_cli_audit_param_path(&c->au, in_names[i], ins[i]);
            } else if (c->au.e && c->au.rc == WYE_OK) {
                uint8_t d[WYE_AUDIT_DIGEST_BYTES];
                if (i == 0 && c->in_tap.ended) { /* the whole input went through */
                    crypto_generichash_final(&c->in_tap.st, d, sizeof d);
                    c->au.rc =
                        wye_audit_entry_input_digest(c->au.e, ins[i], c->in_tap.bytes, d);
                } else {
                    c->au.rc = wye_audit_entry_input(c->au.e, ins[i]);
                }
            }
        }
        /* A run that succeeded wrote every output in full: the digests taken
         * as they were written are those of the files. */
        if (status == WYE_EXIT_OK && c->au.e && c->au.rc == WYE_OK) {
            c->au.rc =
                wye_audit_entry_output_digest(c->au.e, o->out, c->out_bytes, c->out_digest);
            if (c->au.rc == WYE_OK) {
                uint8_t d[WYE_AUDIT_DIGEST_BYTES];
                crypto_generichash_final(&c->map_tap.st, d, sizeof d);
                c->au.rc =
                    wye_audit_entry_output_digest(c->au.e, o->local_map, c->map_tap.bytes, d);
            }
            if (c->au.rc == WYE_OK && o->summary)
                c->au.rc = wye_audit_entry_output(c->au.e, o->summary);
        }
        wye_cli_audit_count(&c->au, "rows_read", c->s.rows_read);
        wye_cli_audit_count(&c->au, "rows_encoded", c->s.rows_encoded);
        wye_cli_audit_count(&c->au, "rows_rejected", c->s.rows_rejected);
        wye_cli_audit_count(&c->au, "duplicate_local_ids", c->s.verdict[WYE_ROW_DUPLICATE_ID]);
        int done = wye_cli_audit_finish(CMD, &c->au, wye_cli_audit_path(o->audit_log), c->party,
                                        status == WYE_EXIT_OK ? WYE_OK : c->code, status);
        if (done != status && status == WYE_EXIT_OK) { /* outputs without an entry */
            unlink(o->out);
            unlink(o->local_map);
            if (o->summary)
                unlink(o->summary);
        }
        status = done;
    }
    /* The data lead needs the summary most when nothing could be encoded. */
    if (c->read_all && !o->quiet)
        print_summary(&c->ri);
    cleanup(c);
    free(c);
    return status;
}
