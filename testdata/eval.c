/* Evaluating a linkage against ground truth (include/wyelink/eval.h).
 *
 * The truth rows are numbered as read; hash tables map (agency, local_id)
 * and (agency, record) to that number, and person labels to small integers.
 * The metrics then come from sorting one (predicted, true) pair of integers
 * per record: the runs of the sorted list are the cells of the contingency
 * table, whose sizes give the pair counts without enumerating pairs. */
#include <assert.h>
#include <csv.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "wyelink/eval.h"

#define NONE UINT32_MAX
#define MAX_AGENCIES 1024

/* ---------------------------------------------------------------- tables */

/* Keys live in one arena; a table maps a key (bytes) to a uint32 value. */
typedef struct arena {
    char *p;
    size_t n, cap;
} arena;

typedef struct entry {
    uint64_t off;
    uint32_t len;
    uint32_t value;
} entry;

/* One probe reads one slot: the entry and a tag that rules most keys out
 * without touching the entry or the arena. */
typedef struct slot {
    uint32_t entry; /* 0 = empty, else entry index + 1 */
    uint32_t tag;   /* the high half of the key's hash */
} slot;

typedef struct table {
    entry *e;
    uint64_t n, cap;
    slot *slot;
    uint64_t nslots;
} table;

/* The tables are probed at random: with 4 KiB pages nearly every probe of a
 * 10-million-record run misses the TLB. Ask for huge pages (a hint; Linux
 * in "madvise" mode honours it), which halved the run time. */
static void hint_huge(void *p, size_t n)
{
    const uintptr_t page = 4096;
    uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1), e = ((uintptr_t)p + n) & ~(page - 1);
    if (n >= ((size_t)4 << 20) && e > a)
        (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Eight bytes at a time through the splitmix64 finaliser: identifiers that
 * differ only in their last digits must still spread over the table. */
static uint64_t hash_bytes(const void *k, size_t len)
{
    const unsigned char *p = k;
    uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ len;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mix64(h ^ w);
    }
    uint64_t w = 0;
    memcpy(&w, p, len);
    return mix64(h ^ w ^ UINT64_C(0x5555555555555555));
}

static int arena_add(arena *a, const void *k, size_t len, uint64_t *off)
{
    if (a->n + len > a->cap) {
        size_t nc = a->cap ? a->cap : 1 << 16;
        while (nc < a->n + len)
            nc *= 2;
        char *np = realloc(a->p, nc);
        if (!np)
            return WYE_ENOMEM;
        a->p = np;
        a->cap = nc;
        hint_huge(np, nc);
    }
    memcpy(a->p + a->n, k, len);
    *off = a->n;
    a->n += len;
    return WYE_OK;
}

static int table_grow(table *t, const arena *a)
{
    uint64_t ns = t->nslots ? t->nslots * 2 : 1024;
    slot *s = calloc(ns, sizeof *s);
    if (!s)
        return WYE_ENOMEM;
    hint_huge(s, ns * sizeof *s);
    for (uint64_t i = 0; i < t->n; i++) {
        uint64_t full = hash_bytes(a->p + t->e[i].off, t->e[i].len), h = full & (ns - 1);
        while (s[h].entry)
            h = (h + 1) & (ns - 1);
        s[h] = (slot){(uint32_t)(i + 1), (uint32_t)(full >> 32)};
    }
    free(t->slot);
    t->slot = s;
    t->nslots = ns;
    return WYE_OK;
}

/* Find key; if absent and insert is set, add it with value. *found says
 * whether it was there; *value gets its value either way. */
static int table_get(table *t, arena *a, const void *key, uint32_t len, bool insert,
                     uint32_t value, bool *found, uint32_t *out)
{
    *found = false;
    const uint64_t full = hash_bytes(key, len);
    const uint32_t tag = (uint32_t)(full >> 32);
    if (t->nslots) {
        uint64_t h = full & (t->nslots - 1);
        for (; t->slot[h].entry; h = (h + 1) & (t->nslots - 1)) {
            if (t->slot[h].tag != tag)
                continue;
            const entry *x = &t->e[t->slot[h].entry - 1];
            if (x->len == len && !memcmp(a->p + x->off, key, len)) {
                *found = true;
                *out = x->value;
                return WYE_OK;
            }
        }
    }
    if (!insert)
        return WYE_OK;
    if (t->n >= UINT32_MAX - 1)
        return WYE_ENOMEM;
    if ((t->n + 1) * 2 > t->nslots) {
        int rc = table_grow(t, a);
        if (rc)
            return rc;
    }
    if (t->n == t->cap) {
        uint64_t nc = t->cap ? t->cap * 2 : 1024;
        entry *ne = realloc(t->e, nc * sizeof *ne);
        if (!ne)
            return WYE_ENOMEM;
        t->e = ne;
        t->cap = nc;
        hint_huge(ne, nc * sizeof *ne);
    }
    entry x = {0, len, value};
    int rc = arena_add(a, key, len, &x.off);
    if (rc)
        return rc;
    uint64_t h = full & (t->nslots - 1);
    while (t->slot[h].entry)
        h = (h + 1) & (t->nslots - 1);
    t->e[t->n] = x;
    t->slot[h] = (slot){(uint32_t)(++t->n), tag};
    *out = value;
    return WYE_OK;
}

static void table_free(table *t)
{
    free(t->e);
    free(t->slot);
}

/* A growable array of uint32. */
typedef struct u32v {
    uint32_t *v;
    uint64_t n, cap;
} u32v;

static int u32v_push(u32v *a, uint32_t x)
{
    if (a->n == a->cap) {
        uint64_t nc = a->cap ? a->cap * 2 : 1024;
        uint32_t *nv = realloc(a->v, nc * sizeof *nv);
        if (!nv)
            return WYE_ENOMEM;
        a->v = nv;
        a->cap = nc;
    }
    a->v[a->n++] = x;
    return WYE_OK;
}

/* ---------------------------------------------------------------- state */

enum { S_NEW, S_TRUTH, S_PERSONS };

struct wye_eval {
    int state;
    arena keys;
    table agencies;       /* name -> agency index */
    uint32_t nagencies;
    bool has_map[MAX_AGENCIES];
    table by_local;       /* agency index + local_id -> truth row */
    table by_record;      /* agency index + record -> truth row */
    table true_ids, pred_ids; /* person label -> small integer */
    u32v row_agency, row_true, row_pred; /* by truth row */
    uint8_t *row_mapped;  /* by truth row: 1 if the map named it */
    uint64_t mapped_cap;
    uint64_t map_rows_unknown, person_rows_unknown, person_rows_ignored;
};

int wye_eval_new(wye_eval **out)
{
    if (!out)
        return WYE_EINVAL;
    *out = calloc(1, sizeof **out);
    return *out ? WYE_OK : WYE_ENOMEM;
}

void wye_eval_free(wye_eval *e)
{
    if (!e)
        return;
    free(e->keys.p);
    table_free(&e->agencies);
    table_free(&e->by_local);
    table_free(&e->by_record);
    table_free(&e->true_ids);
    table_free(&e->pred_ids);
    free(e->row_agency.v);
    free(e->row_true.v);
    free(e->row_pred.v);
    free(e->row_mapped);
    free(e);
}

/* The key of a value of agency a: 4 bytes of a, then the value. */
static uint32_t agency_key(char *buf, uint32_t a, const char *v, size_t len)
{
    memcpy(buf, &a, 4);
    memcpy(buf + 4, v, len);
    return (uint32_t)(len + 4);
}

/* ---------------------------------------------------------------- CSV */

enum { K_TRUTH, K_MAP, K_PERSONS };

typedef struct reader {
    wye_eval *e;
    int kind;
    uint32_t agency; /* K_MAP */
    const char *names[3];
    int ncols;
    int col[3];      /* index of each needed column in the header */
    uint64_t line;   /* 1 = the header */
    int field;
    bool header_done;
    char val[3][WYE_EVAL_MAX_VALUE + 1];
    size_t len[3];
    bool have[3];
    int err;
    wye_diag *diag;
} reader;

static int fail(reader *r, int code, const char *field, const char *reason)
{
    /* The first error wins, code and diagnostic together: a later one found
     * in the same buffer (libcsv stops short on a malformed quote after a
     * row callback failed) must not pair its code with the first's text. */
    if (!r->err) {
        r->err = code;
        wye_diag_set(r->diag, r->line, field, "%s", reason);
    }
    return r->err;
}

static void on_field(void *data, size_t len, void *ctx)
{
    reader *r = ctx;
    const char *s = data ? data : "";
    if (r->err)
        return;
    if (!r->header_done) {
        if (r->field == 0 && len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) {
            s += 3;
            len -= 3;
        }
        for (int k = 0; k < r->ncols; k++)
            if (strlen(r->names[k]) == len && !memcmp(s, r->names[k], len) && r->col[k] < 0)
                r->col[k] = r->field;
    } else {
        for (int k = 0; k < r->ncols; k++) {
            if (r->col[k] != r->field)
                continue;
            if (len > WYE_EVAL_MAX_VALUE) {
                fail(r, WYE_EFORMAT, r->names[k], "value is too long");
                return;
            }
            memcpy(r->val[k], s, len);
            r->val[k][len] = '\0';
            r->len[k] = len;
            r->have[k] = true;
        }
    }
    r->field++;
}

static int row_truth(reader *r);
static int row_map(reader *r);
static int row_persons(reader *r);

static void on_row(int c, void *ctx)
{
    reader *r = ctx;
    (void)c;
    if (r->err)
        return;
    if (!r->header_done) {
        for (int k = 0; k < r->ncols; k++)
            if (r->col[k] < 0) {
                fail(r, WYE_ECOLUMN, r->names[k], "column is missing from the header");
                return;
            }
        r->header_done = true;
    } else {
        for (int k = 0; k < r->ncols; k++) {
            if (!r->have[k]) {
                fail(r, WYE_EFORMAT, r->names[k], "row has too few columns");
                return;
            }
            if (!r->len[k]) {
                fail(r, WYE_EFORMAT, r->names[k], "value is empty");
                return;
            }
        }
        int rc = r->kind == K_TRUTH ? row_truth(r) : r->kind == K_MAP ? row_map(r) : row_persons(r);
        if (rc && !r->err)
            fail(r, rc, NULL, "out of memory");
        if (r->err)
            return;
    }
    r->line++;
    r->field = 0;
    memset(r->have, 0, sizeof r->have);
}

static int read_csv(reader *r, wye_source src)
{
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0)
        return WYE_ENOMEM;
    for (int k = 0; k < r->ncols; k++)
        r->col[k] = -1;
    r->line = 1;
    char buf[1 << 16];
    for (;;) {
        ssize_t n = src.read(src.ctx, buf, sizeof buf);
        if (n < 0) {
            csv_free(&p);
            return fail(r, (int)n, NULL, "read failed");
        }
        if (n == 0)
            break;
        if (csv_parse(&p, buf, (size_t)n, on_field, on_row, r) != (size_t)n) {
            csv_free(&p);
            return fail(r, WYE_ECSV, NULL, "malformed CSV (a quote out of place)");
        }
        if (r->err) {
            csv_free(&p);
            return r->err;
        }
    }
    if (csv_fini(&p, on_field, on_row, r) != 0) {
        csv_free(&p);
        return fail(r, WYE_ECSV, NULL, "malformed CSV (a quoted field is not closed)");
    }
    csv_free(&p);
    if (r->err)
        return r->err;
    if (!r->header_done)
        return fail(r, WYE_EFORMAT, NULL, "the file has no header row");
    return WYE_OK;
}

/* ---------------------------------------------------------------- rows */

static int find_agency(wye_eval *e, const char *name, size_t len, bool insert, uint32_t *a,
                       bool *found)
{
    uint32_t v;
    int rc = table_get(&e->agencies, &e->keys, name, (uint32_t)len, false, 0, found, &v);
    if (rc)
        return rc;
    if (!*found && insert) {
        if (e->nagencies >= MAX_AGENCIES)
            return WYE_ERANGE;
        rc = table_get(&e->agencies, &e->keys, name, (uint32_t)len, true, e->nagencies, found,
                       &v);
        if (rc)
            return rc;
        e->nagencies++;
    }
    *a = v;
    return WYE_OK;
}

static int row_truth(reader *r)
{
    wye_eval *e = r->e;
    uint32_t a, row = (uint32_t)e->row_agency.n, v, tid;
    bool found;
    int rc = find_agency(e, r->val[0], r->len[0], true, &a, &found);
    if (rc == WYE_ERANGE)
        return fail(r, WYE_EFORMAT, r->names[0], "more than 1024 agencies");
    if (rc)
        return rc;
    char key[WYE_EVAL_MAX_VALUE + 4];
    uint32_t kl = agency_key(key, a, r->val[1], r->len[1]);
    if ((rc = table_get(&e->by_local, &e->keys, key, kl, true, row, &found, &v)))
        return rc;
    if (found)
        return fail(r, WYE_EFORMAT, r->names[1], "this agency and local_id are in the truth twice");
    if ((rc = table_get(&e->true_ids, &e->keys, r->val[2], (uint32_t)r->len[2], true,
                        (uint32_t)e->true_ids.n, &found, &tid)))
        return rc;
    if ((rc = u32v_push(&e->row_agency, a)) || (rc = u32v_push(&e->row_true, tid)) ||
        (rc = u32v_push(&e->row_pred, NONE)))
        return rc;
    return WYE_OK;
}

static int row_map(reader *r)
{
    wye_eval *e = r->e;
    char key[WYE_EVAL_MAX_VALUE + 4];
    uint32_t row, v;
    bool found;
    uint32_t kl = agency_key(key, r->agency, r->val[0], r->len[0]);
    int rc = table_get(&e->by_local, &e->keys, key, kl, false, 0, &found, &row);
    if (rc)
        return rc;
    if (!found) {
        e->map_rows_unknown++;
        return WYE_OK;
    }
    if (e->row_mapped[row])
        return fail(r, WYE_EFORMAT, r->names[0], "this local_id is in the map twice");
    kl = agency_key(key, r->agency, r->val[1], r->len[1]);
    if ((rc = table_get(&e->by_record, &e->keys, key, kl, true, row, &found, &v)))
        return rc;
    if (found)
        return fail(r, WYE_EFORMAT, r->names[1], "this record is in the map twice");
    e->row_mapped[row] = 1;
    return WYE_OK;
}

static int row_persons(reader *r)
{
    wye_eval *e = r->e;
    uint32_t a, row, pid;
    bool found;
    int rc = find_agency(e, r->val[0], r->len[0], false, &a, &found);
    if (rc)
        return rc;
    if (!found || !e->has_map[a]) {
        e->person_rows_ignored++;
        return WYE_OK;
    }
    char key[WYE_EVAL_MAX_VALUE + 4];
    uint32_t kl = agency_key(key, a, r->val[1], r->len[1]);
    if ((rc = table_get(&e->by_record, &e->keys, key, kl, false, 0, &found, &row)))
        return rc;
    if (!found) {
        e->person_rows_unknown++;
        return WYE_OK;
    }
    if (e->row_pred.v[row] != NONE)
        return fail(r, WYE_EFORMAT, r->names[1], "this record is in the persons file twice");
    if ((rc = table_get(&e->pred_ids, &e->keys, r->val[2], (uint32_t)r->len[2], true,
                        (uint32_t)e->pred_ids.n, &found, &pid)))
        return rc;
    e->row_pred.v[row] = pid;
    return WYE_OK;
}

/* ---------------------------------------------------------------- API */

int wye_eval_read_truth(wye_eval *e, wye_source src, wye_diag *diag)
{
    if (!e || !src.read)
        return WYE_EINVAL;
    wye_diag_clear(diag);
    if (e->state != S_NEW) {
        wye_diag_set(diag, 0, NULL, "the truth was read already");
        return WYE_ESTATE;
    }
    reader r = {.e = e, .kind = K_TRUTH, .names = {"agency", "local_id", "person"}, .ncols = 3,
                .diag = diag};
    int rc = read_csv(&r, src);
    if (rc)
        return rc;
    e->mapped_cap = e->row_agency.n;
    e->row_mapped = calloc(e->mapped_cap ? e->mapped_cap : 1, 1);
    if (!e->row_mapped)
        return WYE_ENOMEM;
    e->state = S_TRUTH;
    return WYE_OK;
}

int wye_eval_read_local_map(wye_eval *e, const char *agency, wye_source src, wye_diag *diag)
{
    if (!e || !agency || !src.read)
        return WYE_EINVAL;
    wye_diag_clear(diag);
    if (e->state != S_TRUTH) {
        wye_diag_set(diag, 0, NULL, "local maps are read after the truth, before the persons");
        return WYE_ESTATE;
    }
    size_t len = strlen(agency);
    if (!len || len > WYE_EVAL_MAX_VALUE)
        return WYE_EINVAL;
    uint32_t a;
    bool found;
    int rc = find_agency(e, agency, len, true, &a, &found);
    if (rc == WYE_ERANGE) {
        wye_diag_set(diag, 0, NULL, "more than 1024 agencies");
        return WYE_EFORMAT;
    }
    if (rc)
        return rc;
    if (e->has_map[a]) {
        wye_diag_set(diag, 0, NULL, "this agency's local map was read already");
        return WYE_ESTATE;
    }
    e->has_map[a] = true;
    reader r = {.e = e, .kind = K_MAP, .agency = a, .names = {"local_id", "record"}, .ncols = 2,
                .diag = diag};
    return read_csv(&r, src);
}

int wye_eval_read_persons(wye_eval *e, wye_source src, wye_diag *diag)
{
    if (!e || !src.read)
        return WYE_EINVAL;
    wye_diag_clear(diag);
    if (e->state != S_TRUTH) {
        wye_diag_set(diag, 0, NULL, "the persons are read once, after the truth and the maps");
        return WYE_ESTATE;
    }
    e->state = S_PERSONS;
    reader r = {.e = e, .kind = K_PERSONS, .names = {"agency", "record", "person"}, .ncols = 3,
                .diag = diag};
    return read_csv(&r, src);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t pairs_of(uint64_t n)
{
    return n * (n - (n > 0)) / 2;
}

int wye_eval_compute(const wye_eval *e, wye_eval_result *res)
{
    if (!e || !res)
        return WYE_EINVAL;
    memset(res, 0, sizeof *res);
    if (e->state == S_NEW)
        return WYE_ESTATE;
    const uint64_t nrows = e->row_agency.n;
    uint64_t n = 0;
    for (uint64_t i = 0; i < nrows; i++)
        n += e->has_map[e->row_agency.v[i]];
    uint64_t *cell = malloc((n ? n : 1) * sizeof *cell);
    uint32_t *tcount = calloc(e->true_ids.n ? e->true_ids.n : 1, sizeof *tcount);
    if (!cell || !tcount) {
        free(cell);
        free(tcount);
        return WYE_ENOMEM;
    }
    /* A record the linkage never saw is a predicted person of its own,
     * numbered after the linkage's own persons. */
    uint64_t next = e->pred_ids.n, k = 0;
    for (uint64_t i = 0; i < nrows; i++) {
        if (!e->has_map[e->row_agency.v[i]]) {
            res->truth_rows_ignored++;
            continue;
        }
        uint64_t p = e->row_pred.v[i];
        if (!e->row_mapped[i])
            res->not_encoded++;
        else if (p == NONE)
            res->not_linked++;
        if (p == NONE)
            p = next++;
        uint32_t t = e->row_true.v[i];
        if (!tcount[t]++)
            res->true_persons++;
        cell[k++] = p << 32 | t;
    }
    assert(k == n);
    qsort(cell, n, sizeof *cell, cmp_u64);
    for (uint64_t i = 0; i < n;) {
        uint64_t j = i, p = cell[i] >> 32;
        while (j < n && cell[j] >> 32 == p) { /* one predicted person */
            uint64_t c = j;
            while (c < n && cell[c] == cell[j])
                c++;
            res->correct_pairs += pairs_of(c - j);
            j = c;
        }
        res->predicted_pairs += pairs_of(j - i);
        res->predicted_persons++;
        i = j;
    }
    for (uint64_t t = 0; t < e->true_ids.n; t++)
        res->true_pairs += pairs_of(tcount[t]);
    free(cell);
    free(tcount);

    res->records = n;
    res->precision = res->predicted_pairs
                         ? (double)res->correct_pairs / (double)res->predicted_pairs
                         : 1.0;
    res->recall = res->true_pairs ? (double)res->correct_pairs / (double)res->true_pairs : 1.0;
    res->f1 = res->precision + res->recall > 0
                  ? 2 * res->precision * res->recall / (res->precision + res->recall)
                  : 0.0;
    res->map_rows_unknown = e->map_rows_unknown;
    res->person_rows_unknown = e->person_rows_unknown;
    res->person_rows_ignored = e->person_rows_ignored;
    return WYE_OK;
}
