/* The research team's report: tables (which are also the CSV files) made
 * from the published trees, rendered as one HTML page with inline SVG.
 * Every count comes from a published tree as it stands; the page draws
 * "<5" and "suppressed" as text, never as a bar of a guessed length. */
#include "wyelink/report.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wyelink/disclosure.h"

#define MAX_BINS 120
#define UPSET_MAX 24 /* intersections drawn; the table has them all */

typedef struct rtable {
    char file[96]; /* CSV file name */
    char title[128];
    size_t ncols, nrows, cap;
    char **head;
    char **cell; /* nrows * ncols */
} rtable;

struct wye_report {
    json_t *summary;
    json_t **quality;
    size_t nq;
    bool exact;
    /* scores of pairs.csv, in bins of one unit of weight from lo */
    bool have_scores;
    int lo;
    size_t nbins;
    uint64_t bins[MAX_BINS][3]; /* match, possible, conflict */
    uint64_t clipped;
    rtable *t;
    size_t nt;
    bool built, oom;
};

int wye_report_new(wye_report **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? WYE_OK : WYE_ENOMEM;
}

static void free_tables(wye_report *r)
{
    for (size_t i = 0; i < r->nt; i++) {
        rtable *t = &r->t[i];
        for (size_t c = 0; c < t->ncols; c++)
            free(t->head[c]);
        for (size_t k = 0; k < t->nrows * t->ncols; k++)
            free(t->cell[k]);
        free(t->head);
        free(t->cell);
    }
    free(r->t);
    r->t = NULL;
    r->nt = 0;
    r->built = false;
}

void wye_report_free(wye_report *r)
{
    if (!r)
        return;
    free_tables(r);
    json_decref(r->summary);
    for (size_t i = 0; i < r->nq; i++)
        json_decref(r->quality[i]);
    free(r->quality);
    free(r);
}

int wye_report_set_summary(wye_report *r, json_t *summary)
{
    if (!json_is_object(json_object_get(summary, "records")))
        return WYE_EJSON;
    json_decref(r->summary);
    r->summary = json_incref(summary);
    r->exact = wye_disclosure_is_exact(summary);
    free_tables(r);
    return WYE_OK;
}

int wye_report_add_quality(wye_report *r, json_t *quality)
{
    if (!json_is_object(quality))
        return WYE_EJSON;
    json_t **q = realloc(r->quality, (r->nq + 1) * sizeof *q);
    if (!q)
        return WYE_ENOMEM;
    r->quality = q;
    r->quality[r->nq++] = json_incref(quality);
    r->exact |= wye_disclosure_is_exact(quality);
    free_tables(r);
    return WYE_OK;
}

/* ---- reading the result's CSV files (counts and scores only) ------------ */

/* Read lines from src, calling fn on each after the header; fn returns a
 * WYE_* code. Lines may be long (hex pseudonyms) but never beyond 4 KB. */
static int each_line(wye_source src, const char *header,
                     int (*fn)(void *ctx, char *line, uint64_t no, wye_diag *d), void *ctx,
                     wye_diag *d)
{
    char buf[8192], line[4096];
    size_t len = 0;
    uint64_t no = 0;
    ssize_t n;
    bool over = false;
    for (;;) {
        n = src.read(src.ctx, buf, sizeof buf);
        if (n < 0)
            return (int)n;
        for (ssize_t i = 0; i <= n; i++) {
            bool end = i == n ? n == 0 && len > 0 : buf[i] == '\n';
            if (i == n && !end)
                break;
            if (!end) {
                if (len + 1 < sizeof line)
                    line[len++] = buf[i];
                else
                    over = true;
                continue;
            }
            line[len && line[len - 1] == '\r' ? len - 1 : len] = '\0';
            no++;
            if (over) {
                wye_diag_set(d, no, NULL, "line too long");
                return WYE_EFORMAT;
            }
            int rc = no == 1 ? (strcmp(line, header) ? WYE_EFORMAT : WYE_OK) : fn(ctx, line, no, d);
            if (no == 1 && rc)
                wye_diag_set(d, 1, NULL, "not the expected header");
            if (rc)
                return rc;
            len = 0;
        }
        if (n == 0)
            break;
    }
    if (no == 0) {
        wye_diag_set(d, 1, NULL, "empty file: no header");
        return WYE_EFORMAT;
    }
    return WYE_OK;
}

/* Split line at commas into at most max fields; returns their number. */
static size_t split(char *line, char **f, size_t max)
{
    size_t n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == ',') {
            *p = '\0';
            f[n++] = p + 1;
        }
    return n;
}

static int pair_line(void *ctx, char *line, uint64_t no, wye_diag *d)
{
    wye_report *r = ctx;
    char *f[7];
    if (split(line, f, 7) != 6) {
        wye_diag_set(d, no, NULL, "not 6 fields");
        return WYE_EFORMAT;
    }
    char *end;
    double score = strtod(f[4], &end);
    int k = !strcmp(f[5], "match") ? 0 : !strcmp(f[5], "possible") ? 1
            : !strcmp(f[5], "conflict") ? 2 : -1;
    if (*end || end == f[4] || !isfinite(score) || k < 0) {
        wye_diag_set(d, no, *end || end == f[4] ? "score" : "decision", "not a score and decision");
        return WYE_EFORMAT;
    }
    if (!r->have_scores) {
        r->have_scores = true;
        r->lo = (int)floor(score < -1000 ? -1000 : score > 1000 ? 1000 : score);
    }
    while (score < r->lo && r->nbins < MAX_BINS) { /* grow downwards */
        memmove(r->bins[1], r->bins[0], r->nbins * sizeof r->bins[0]);
        memset(r->bins[0], 0, sizeof r->bins[0]);
        r->lo--;
        r->nbins++;
    }
    double at = floor(score) - r->lo;
    if (at < 0 || at >= MAX_BINS) {
        r->clipped++;
        return WYE_OK;
    }
    size_t b = (size_t)at;
    if (b >= r->nbins) {
        memset(r->bins[r->nbins], 0, (b + 1 - r->nbins) * sizeof r->bins[0]);
        r->nbins = b + 1;
    }
    r->bins[b][k]++;
    return WYE_OK;
}

int wye_report_read_pairs(wye_report *r, wye_source src, wye_diag *diag)
{
    wye_diag_clear(diag);
    r->have_scores = false;
    r->nbins = 0;
    r->clipped = 0;
    free_tables(r);
    return each_line(src, "agency_a,record_a,agency_b,record_b,score,decision", pair_line, r,
                     diag);
}

typedef struct persons_ctx {
    const json_t *records;
    uint32_t *mask; /* by person number */
    size_t cap;
} persons_ctx;

static int person_line(void *ctx, char *line, uint64_t no, wye_diag *d)
{
    persons_ctx *p = ctx;
    char *f[4];
    if (split(line, f, 4) != 3) {
        wye_diag_set(d, no, NULL, "not 3 fields");
        return WYE_EFORMAT;
    }
    int a = 0;
    const char *k;
    json_t *v;
    bool found = false;
    json_object_foreach((json_t *)p->records, k, v) {
        if (!strcmp(k, f[0])) {
            found = true;
            break;
        }
        a++;
    }
    char *end;
    unsigned long long person = strtoull(f[2], &end, 10);
    if (!found || *end || end == f[2] || person == 0 || person > 1000000000ull) {
        wye_diag_set(d, no, found ? "person" : "agency",
                     found ? "not a person number" : "an agency the summary does not have");
        return WYE_EFORMAT;
    }
    if (person >= p->cap) {
        size_t cap = p->cap ? p->cap : 1024;
        while (cap <= person)
            cap *= 2;
        uint32_t *m = realloc(p->mask, cap * sizeof *m);
        if (!m)
            return WYE_ENOMEM;
        memset(m + p->cap, 0, (cap - p->cap) * sizeof *m);
        p->mask = m;
        p->cap = cap;
    }
    p->mask[person] |= 1u << a;
    return WYE_OK;
}

int wye_report_intersections(json_t *summary, wye_source persons_csv, wye_diag *diag)
{
    wye_diag_clear(diag);
    json_t *records = json_object_get(summary, "records");
    if (!json_is_object(records))
        return WYE_EJSON;
    unsigned n = (unsigned)json_object_size(records);
    if (n > WYE_DISCLOSURE_MAX_AGENCIES || n == 0)
        return WYE_ERANGE;
    persons_ctx p = {records, NULL, 0};
    int rc = each_line(persons_csv, "agency,record,person", person_line, &p, diag);
    uint64_t *count = rc ? NULL : calloc((size_t)1 << n, sizeof *count);
    const char *names[WYE_DISCLOSURE_MAX_AGENCIES];
    size_t a = 0;
    const char *k;
    json_t *v, *list = NULL;
    json_object_foreach(records, k, v) names[a++] = k;
    if (!rc && !count)
        rc = WYE_ENOMEM;
    for (size_t i = 0; !rc && i < p.cap; i++)
        count[p.mask[i]]++;
    if (!rc && !(list = wye_disclosure_intersections(names, n, count)))
        rc = WYE_ENOMEM;
    if (!rc && (json_object_set_new(summary, "intersections", list) ||
                (!wye_disclosure_is_exact(summary) &&
                 json_object_set_new(summary, "intersections_exact", json_true()))))
        rc = WYE_ENOMEM;
    free(count);
    free(p.mask);
    return rc;
}

/* ---- tables ---------------------------------------------------------------- */

#define MAX_TABLES 48

static rtable *table(wye_report *r, const char *file, const char *title, size_t ncols, ...)
{
    if (r->oom || r->nt == MAX_TABLES) {
        r->oom = true;
        return NULL;
    }
    rtable *t = &r->t[r->nt];
    memset(t, 0, sizeof *t);
    snprintf(t->file, sizeof t->file, "%s", file);
    for (char *p = t->file; *p; p++) /* an attribute's name becomes a file name */
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            *p = '_';
    snprintf(t->title, sizeof t->title, "%s", title);
    t->ncols = ncols;
    if (!(t->head = calloc(ncols, sizeof *t->head))) {
        r->oom = true;
        return NULL;
    }
    r->nt++;
    va_list ap;
    va_start(ap, ncols);
    for (size_t c = 0; c < ncols; c++)
        r->oom |= !(t->head[c] = strdup(va_arg(ap, const char *)));
    va_end(ap);
    return t;
}

/* Append a row of t->ncols strings (copied); NULL t is ignored. */
static void row_v(wye_report *r, rtable *t, const char *const *v)
{
    if (!t || r->oom)
        return;
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **c = realloc(t->cell, cap * t->ncols * sizeof *c);
        if (!c) {
            r->oom = true;
            return;
        }
        t->cell = c;
        t->cap = cap;
    }
    for (size_t c = 0; c < t->ncols; c++)
        r->oom |= !(t->cell[t->nrows * t->ncols + c] = strdup(v[c] ? v[c] : ""));
    t->nrows++;
}

static void row(wye_report *r, rtable *t, ...)
{
    const char *v[16] = {0};
    va_list ap;
    va_start(ap, t);
    for (size_t c = 0; t && c < t->ncols && c < 16; c++)
        v[c] = va_arg(ap, const char *);
    va_end(ap);
    row_v(r, t, v);
}

/* A JSON value as table text: counts as published ("<5", "suppressed"),
 * numbers, strings. */
static const char *text(const json_t *v, char buf[48])
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        snprintf(buf, 48, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, 48, "%.6g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, 48, "%s", json_is_true(v) ? "yes" : "no");
    else
        buf[0] = '\0';
    return buf;
}

static const char *field(const json_t *o, const char *key, char buf[48])
{
    return text(json_object_get(o, key), buf);
}

static void agency_tables(wye_report *r)
{
    const json_t *s = r->summary;
    char b1[48], b2[48];
    rtable *t = table(r, "headline.csv", "Headline", 2, "measure", "value");
    row(r, t, "unique persons", field(s, "unique_persons", b1));
    row(r, t, "records", field(s, "records_total", b1));
    snprintf(b2, sizeof b2, "%zu", json_object_size(json_object_get(s, "records")));
    row(r, t, "agencies", b2);
    t = table(r, "agencies.csv", "Records and unique persons per agency", 3, "agency", "records",
              "persons");
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(s, "records"), k, v)
        row(r, t, k, text(v, b1), field(json_object_get(s, "persons_per_agency"), k, b2));
    t = table(r, "persons_by_number_of_agencies.csv", "Persons by number of agencies that know them",
              2, "agencies", "persons");
    json_object_foreach(json_object_get(s, "persons_by_number_of_agencies"), k, v)
        row(r, t, k, text(v, b1));
    size_t i;
    json_t *intersections = json_object_get(s, "intersections");
    if (intersections) {
        t = table(r, "intersections.csv",
                  "Persons known to exactly each combination of agencies", 3, "agencies",
                  "number_of_agencies", "persons");
        json_array_foreach(intersections, i, v) {
            char names[512] = "";
            size_t j;
            json_t *a;
            json_array_foreach(json_object_get(v, "agencies"), j, a) {
                size_t len = strlen(names);
                snprintf(names + len, sizeof names - len, "%s%s", j ? " + " : "",
                         json_string_value(a) ? json_string_value(a) : "");
            }
            snprintf(b2, sizeof b2, "%zu", json_array_size(json_object_get(v, "agencies")));
            row(r, t, names, b2, field(v, "persons", b1));
        }
    }
    t = table(r, "overlaps.csv", "Persons known to both of each pair of agencies", 3, "agency_a",
              "agency_b", "persons");
    json_array_foreach(json_object_get(s, "overlaps"), i, v) {
        json_t *ag = json_object_get(v, "agencies");
        row(r, t, json_string_value(json_array_get(ag, 0)),
            json_string_value(json_array_get(ag, 1)), field(v, "persons", b1));
    }
}

/* The agencies' column of a profile row: attribute attr, value val (NULL:
 * missing) of each agency's profile, after cells[0..1]. */
static size_t agency_columns(const json_t *per, const char *attr, const char *val,
                             const char **cells, char (*bufs)[48], size_t max)
{
    const char *k;
    json_t *v;
    size_t c = 2;
    json_object_foreach((json_t *)per, k, v) {
        if (c == max)
            break;
        json_t *a = json_object_get(v, attr);
        cells[c] = val ? text(json_object_get(json_object_get(a, "values"), val), bufs[c])
                       : field(a, "missing", bufs[c]);
        c++;
    }
    return c;
}

/* One table per attribute: a row per value (and "missing"), a column for
 * all agencies and, when the summary has them, one per agency. */
static void profile_tables(wye_report *r)
{
    const json_t *s = r->summary, *all = json_object_get(s, "persons_by_attribute");
    const json_t *per = json_object_get(s, "persons_by_attribute_per_agency");
    const char *attr, *k, *val;
    json_t *o, *v, *x;
    enum { MAXC = 2 + WYE_DISCLOSURE_MAX_AGENCIES };
    json_object_foreach((json_t *)all, attr, o) {
        char file[96], title[128];
        snprintf(file, sizeof file, "profile_%s.csv", attr);
        snprintf(title, sizeof title, "Unique persons by %s", attr);
        for (char *c = title; *c; c++)
            *c = *c == '_' ? ' ' : *c; /* age_band: age band */
        rtable *t = table(r, file, title, 2, "value", "all agencies");
        char **h = t ? realloc(t->head, MAXC * sizeof *h) : NULL;
        if (!h) {
            r->oom = true;
            return;
        }
        t->head = h;
        json_object_foreach((json_t *)per, k, v) {
            if (t->ncols < MAXC)
                r->oom |= !(t->head[t->ncols++] = strdup(k));
        }
        const char *cells[MAXC];
        char bufs[MAXC][48];
        json_object_foreach(json_object_get(o, "values"), val, x) {
            cells[0] = val;
            cells[1] = text(x, bufs[1]);
            agency_columns(per, attr, val, cells, bufs, t->ncols);
            row_v(r, t, cells);
        }
        cells[0] = "missing";
        cells[1] = field(o, "missing", bufs[1]);
        agency_columns(per, attr, NULL, cells, bufs, t->ncols);
        row_v(r, t, cells);
    }
}

static void linkage_tables(wye_report *r)
{
    const json_t *s = r->summary;
    char b1[48], b2[48], b3[48], b4[48];
    rtable *t;
    if (r->have_scores) {
        t = table(r, "scores.csv",
                  "Pairs kept (at or above the possible-match threshold) by match weight", 5,
                  "weight_from", "weight_to", "match", "possible", "conflict");
        for (size_t b = 0; b < r->nbins; b++) {
            snprintf(b1, sizeof b1, "%d", r->lo + (int)b);
            snprintf(b2, sizeof b2, "%d", r->lo + (int)b + 1);
            snprintf(b3, sizeof b3, "%llu", (unsigned long long)r->bins[b][0]);
            snprintf(b4, sizeof b4, "%llu", (unsigned long long)r->bins[b][1]);
            char b5[48];
            snprintf(b5, sizeof b5, "%llu", (unsigned long long)r->bins[b][2]);
            row(r, t, b1, b2, b3, b4, b5);
        }
    }
    t = table(r, "model.csv", "Agreement levels: m, u and weight (log2 m/u) of each comparison",
              5, "comparison", "level", "m", "u", "weight");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(s, "model"), "comparisons"), i, c) {
        const char *lev;
        json_t *l;
        json_object_foreach(json_object_get(c, "levels"), lev, l)
            row(r, t, json_string_value(json_object_get(c, "name")), lev, field(l, "m", b1),
                field(l, "u", b2), field(l, "weight", b3));
    }
    const json_t *th = json_object_get(s, "thresholds"), *bl = json_object_get(s, "blocking");
    const json_t *ln = json_object_get(s, "links"), *md = json_object_get(s, "model");
    t = table(r, "linkage.csv", "Linkage figures", 2, "measure", "value");
    row(r, t, "all pairs of records", field(bl, "all_pairs", b1));
    row(r, t, "candidate pairs compared", field(bl, "candidate_pairs", b1));
    row(r, t, "reduction ratio", field(bl, "reduction_ratio", b1));
    row(r, t, "match threshold (weight)", field(th, "match", b1));
    row(r, t, "possible-match threshold (weight)", field(th, "possible", b1));
    row(r, t, "matches (pairs)", field(ln, "matches", b1));
    row(r, t, "possible matches (pairs)", field(ln, "possible", b1));
    row(r, t, "conflicts (pairs kept apart)", field(ln, "conflicts", b1));
    row(r, t, "merges (records - persons)", field(ln, "merges", b1));
    row(r, t, "records of the largest person", field(ln, "largest_person_records", b1));
    row(r, t, "EM iterations", field(md, "em_iterations", b1));
    row(r, t, "EM converged", field(md, "em_converged", b1));
    row(r, t, "how the thresholds were chosen", field(th, "how", b1));
}

static void quality_tables(wye_report *r)
{
    if (!r->nq)
        return;
    char b1[48], b2[48], b3[48];
    rtable *rows = table(r, "quality_rows.csv", "Rows read, encoded and refused per agency", 5,
                         "agency", "extract_date", "rows_read", "rows_encoded", "rows_refused");
    rtable *fields = table(r, "quality_fields.csv",
                           "Values present, missing and invalid per agency and field", 6,
                           "agency", "kind", "name", "present", "missing", "invalid");
    rtable *why = table(r, "quality_refused.csv", "Rows refused per agency, by reason", 3,
                        "agency", "reason", "rows");
    rtable *inv = table(r, "quality_invalid.csv", "Invalid values per agency and field, by reason",
                        5, "agency", "kind", "name", "reason", "rows");
    for (size_t q = 0; q < r->nq; q++) {
        const json_t *Q = r->quality[q];
        const char *ag = json_string_value(json_object_get(Q, "agency"));
        ag = ag ? ag : "";
        char d[48];
        row(r, rows, ag, field(Q, "extract_date", d), field(Q, "rows_read", b1),
            field(Q, "rows_encoded", b2), field(Q, "rows_rejected", b3));
        const char *k, *name;
        json_t *v, *f;
        json_object_foreach(json_object_get(Q, "rejected_by_reason"), k, v)
            row(r, why, ag, k, text(v, b1));
        static const char *const groups[] = {"fields", "attributes"};
        for (int g = 0; g < 2; g++) {
            json_object_foreach(json_object_get(Q, groups[g]), name, f) {
                bool mapped = json_is_true(json_object_get(f, "mapped"));
                row(r, fields, ag, g ? "attribute" : "field", name,
                    mapped ? field(f, "present", b1) : "no column",
                    mapped ? field(f, "missing", b2) : "", mapped ? field(f, "invalid", b3) : "");
                json_object_foreach(json_object_get(f, "invalid_reasons"), k, v)
                    row(r, inv, ag, g ? "attribute" : "field", name, k, text(v, b1));
            }
        }
    }
}

static void provenance_tables(wye_report *r)
{
    const json_t *s = r->summary, *p = json_object_get(s, "protocol");
    char b[48];
    rtable *t = table(r, "provenance.csv", "Provenance", 2, "item", "value");
    row(r, t, "made by", field(s, "tool", b));
    row(r, t, "tool version", field(s, "version", b));
    row(r, t, "protocol", field(p, "name", b));
    row(r, t, "protocol fingerprint", field(p, "fingerprint", b));
    row(r, t, "linkage-secret key id", field(s, "key_id", b));
    row(r, t, "counts", field(s, "small_counts", b));
    t = table(r, "inputs.csv", "Inputs: each encoded file linked", 5, "agency", "digest",
              "key_id", "extract_date", "created");
    const json_t *in = json_object_get(s, "inputs");
    size_t i;
    json_t *v;
    char b2[48], b3[48], b4[48];
    if (json_array_size(in)) {
        json_array_foreach((json_t *)in, i, v)
            row(r, t, field(v, "agency", b), field(v, "digest", b2), field(v, "key_id", b3),
                field(v, "extract_date", b4), field(v, "created", b));
        return;
    }
    /* older summaries have no list of inputs: the quality summaries say
     * which agency encoded what, when (not the file's digest) */
    for (size_t q = 0; q < r->nq; q++)
        row(r, t, field(r->quality[q], "agency", b), "", field(r->quality[q], "key_id", b3),
            field(r->quality[q], "extract_date", b4), "");
}

static int build_tables(wye_report *r)
{
    if (!r->summary)
        return WYE_ESTATE;
    if (r->built)
        return WYE_OK;
    free_tables(r);
    if (!(r->t = calloc(MAX_TABLES, sizeof *r->t)))
        return WYE_ENOMEM;
    r->oom = false;
    agency_tables(r);
    profile_tables(r);
    linkage_tables(r);
    quality_tables(r);
    provenance_tables(r);
    if (r->oom) {
        free_tables(r);
        return WYE_ENOMEM;
    }
    r->built = true;
    return WYE_OK;
}

static const rtable *find(const wye_report *r, const char *file)
{
    for (size_t i = 0; i < r->nt; i++)
        if (!strcmp(r->t[i].file, file))
            return &r->t[i];
    return NULL;
}

static const char *cell_at(const rtable *t, size_t row, size_t col)
{
    return t->cell[row * t->ncols + col];
}

/* ---- writing ------------------------------------------------------------ */

typedef struct out {
    wye_sink *s;
    int rc;
} out;

__attribute__((format(printf, 2, 3))) static void put(out *o, const char *fmt, ...)
{
    if (o->rc)
        return;
    char stack[512], *p = stack;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(stack, sizeof stack, fmt, ap);
    va_end(ap);
    if (n < 0) {
        o->rc = WYE_EIO;
        return;
    }
    if ((size_t)n >= sizeof stack) {
        if (!(p = malloc((size_t)n + 1))) {
            o->rc = WYE_ENOMEM;
            return;
        }
        va_start(ap, fmt);
        vsnprintf(p, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    o->rc = o->s->write(o->s->ctx, p, (size_t)n);
    if (p != stack)
        free(p);
}

/* Text for HTML (and for CSV fields, quoted when needed). */
static void esc(out *o, const char *s)
{
    for (; s && *s && !o->rc; s++) {
        switch (*s) {
        case '&': put(o, "&amp;"); break;
        case '<': put(o, "&lt;"); break;
        case '>': put(o, "&gt;"); break;
        case '"': put(o, "&quot;"); break;
        case '\'': put(o, "&#39;"); break;
        default: o->rc = o->s->write(o->s->ctx, s, 1);
        }
    }
}

static void csv_field(out *o, const char *s)
{
    if (!strpbrk(s, ",\"\r\n") && s[0] != '#') {
        put(o, "%s", s);
        return;
    }
    put(o, "\"");
    for (; *s && !o->rc; s++)
        o->rc = *s == '"' ? o->s->write(o->s->ctx, "\"\"", 2) : o->s->write(o->s->ctx, s, 1);
    put(o, "\"");
}

size_t wye_report_ntables(wye_report *r)
{
    return build_tables(r) ? 0 : r->nt;
}

const char *wye_report_table_file(wye_report *r, size_t i)
{
    return build_tables(r) || i >= r->nt ? NULL : r->t[i].file;
}

int wye_report_write_csv(wye_report *r, size_t i, wye_sink *sink)
{
    int rc = build_tables(r);
    if (rc)
        return rc;
    if (i >= r->nt)
        return WYE_EINVAL;
    const rtable *t = &r->t[i];
    out o = {sink, WYE_OK};
    if (r->exact)
        put(&o, "# exact counts: internal use only, not for publication\n");
    for (size_t c = 0; c < t->ncols; c++) {
        put(&o, c ? "," : "");
        csv_field(&o, t->head[c]);
    }
    put(&o, "\n");
    for (size_t k = 0; k < t->nrows; k++) {
        for (size_t c = 0; c < t->ncols; c++) {
            put(&o, c ? "," : "");
            csv_field(&o, cell_at(t, k, c));
        }
        put(&o, "\n");
    }
    return o.rc;
}

/* ---- the page ------------------------------------------------------------ */

static bool num(const char *s, double *x)
{
    char *end;
    if (!s || !*s)
        return false;
    *x = strtod(s, &end);
    return !*end && isfinite(*x);
}

/* A count with thousands separators; other text as it is. */
static const char *pretty(const char *s, char buf[64])
{
    size_t n = strlen(s), lead = n && s[0] == '-';
    if (n - lead == 0 || n - lead > 19 || strspn(s + lead, "0123456789") != n - lead)
        return s;
    size_t k = 0;
    if (lead)
        buf[k++] = '-';
    for (size_t i = lead; i < n; i++) {
        buf[k++] = s[i];
        size_t left = n - i - 1;
        if (left && left % 3 == 0)
            buf[k++] = ',';
    }
    buf[k] = '\0';
    return buf;
}

/* A published count in the page: numbers with separators, "<5" and
 * "suppressed" marked as what they are. */
static void count_html(out *o, const char *s)
{
    char b[64];
    if (!strcmp(s, WYE_DISCLOSURE_SUPPRESSED))
        put(o, "<span class=\"sup\">suppressed</span>");
    else if (!strcmp(s, WYE_DISCLOSURE_SMALL))
        put(o, "<span class=\"small\">&lt;5</span>");
    else
        esc(o, pretty(s, b));
}

static void table_html(out *o, const wye_report *r, const rtable *t, bool skip_small)
{
    if (!t)
        return;
    put(o, "<table><caption>");
    esc(o, t->title);
    if (r->exact)
        put(o, " <span class=\"exact\">(exact counts: internal use only)</span>");
    put(o, "</caption><thead><tr>");
    for (size_t c = 0; c < t->ncols; c++) {
        put(o, "<th>");
        esc(o, t->head[c]);
        put(o, "</th>");
    }
    put(o, "</tr></thead><tbody>\n");
    size_t hidden = 0;
    for (size_t k = 0; k < t->nrows; k++) {
        const char *last = cell_at(t, k, t->ncols - 1);
        if (skip_small && !strcmp(last, WYE_DISCLOSURE_SMALL)) {
            hidden++;
            continue;
        }
        put(o, "<tr>");
        for (size_t c = 0; c < t->ncols; c++) {
            put(o, "<td>");
            count_html(o, cell_at(t, k, c));
            put(o, "</td>");
        }
        put(o, "</tr>\n");
    }
    put(o, "</tbody></table>\n");
    if (hidden)
        put(o, "<p class=\"note\">%zu more rows have fewer than 5 each (all rows are in %s).</p>\n",
            hidden, t->file);
}

/* Horizontal bars: one row per label, one or two series; counts that are
 * not numbers ("<5", "suppressed") are written, not drawn. */
static void hbars(out *o, const char *label, size_t n, const char *const *name,
                  const char *const *v1, const char *const *v2, const char *s1, const char *s2)
{
    double max = 1, x;
    for (size_t i = 0; i < n; i++) {
        if (num(v1[i], &x) && x > max)
            max = x;
        if (v2 && num(v2[i], &x) && x > max)
            max = x;
    }
    int rowh = v2 ? 30 : 20, h = (int)n * rowh + (v2 ? 24 : 4), left = 150, span = 480;
    put(o, "<svg class=\"chart\" viewBox=\"0 0 720 %d\" width=\"720\" height=\"%d\" role=\"img\" "
           "aria-label=\"", h, h);
    esc(o, label);
    put(o, "\">\n");
    for (size_t i = 0; i < n; i++) {
        int y = (int)i * rowh + 2;
        put(o, "<text x=\"%d\" y=\"%d\" class=\"lbl\" text-anchor=\"end\">", left - 6,
            y + (v2 ? 18 : 13));
        esc(o, name[i]);
        put(o, "</text>\n");
        for (int sr = 0; sr < (v2 ? 2 : 1); sr++) {
            const char *v = sr ? v2[i] : v1[i];
            int yy = y + sr * 13, bh = v2 ? 12 : 15;
            char b[64];
            double w = num(v, &x) ? x / max * span : 0;
            if (w > 0)
                put(o, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" class=\"s%d\"/>", left,
                    yy, w, bh, sr);
            put(o, "<text x=\"%.1f\" y=\"%d\" class=\"val\">", left + w + 4, yy + bh - 3);
            esc(o, num(v, &x) ? pretty(v, b) : v);
            put(o, "</text>\n");
        }
    }
    if (v2)
        put(o, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" class=\"s0\"/><text x=\"%d\" "
               "y=\"%d\" class=\"val\">%s</text><rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" "
               "class=\"s1\"/><text x=\"%d\" y=\"%d\" class=\"val\">%s</text>\n",
            left, h - 14, left + 14, h - 5, s1, left + 120, h - 14, left + 134, h - 5, s2);
    put(o, "</svg>\n");
}

/* hbars over columns of a table. */
static void table_bars(out *o, const rtable *t, const char *label, size_t c1, size_t c2)
{
    if (!t || !t->nrows)
        return;
    const char **name = calloc(t->nrows * 3, sizeof *name);
    if (!name) {
        o->rc = WYE_ENOMEM;
        return;
    }
    const char **v1 = name + t->nrows, **v2 = v1 + t->nrows;
    for (size_t k = 0; k < t->nrows; k++) {
        name[k] = cell_at(t, k, 0);
        v1[k] = cell_at(t, k, c1);
        v2[k] = c2 ? cell_at(t, k, c2) : NULL;
    }
    hbars(o, label, t->nrows, name, v1, c2 ? v2 : NULL, c2 ? t->head[c1] : "",
          c2 ? t->head[c2] : "");
    free(name);
}

typedef struct bar {
    size_t row;
    double v;
} bar;

static int bar_desc(const void *a, const void *b)
{
    const bar *x = a, *y = b;
    return x->v < y->v ? 1 : x->v > y->v ? -1 : x->row < y->row ? -1 : x->row > y->row;
}

/* UpSet: the largest intersections as columns (bars above, the agencies of
 * each as joined dots below), the persons of each agency at the left. */
static void upset(out *o, const wye_report *r)
{
    const rtable *t = find(r, "intersections.csv"), *ag = find(r, "agencies.csv");
    if (!t || !ag)
        return;
    bar *b = calloc(t->nrows + 1, sizeof *b);
    size_t m = 0, other = 0;
    if (!b) {
        o->rc = WYE_ENOMEM;
        return;
    }
    for (size_t k = 0; k < t->nrows; k++)
        if (num(cell_at(t, k, 2), &b[m].v))
            b[m++].row = k;
        else
            other++;
    qsort(b, m, sizeof *b, bar_desc);
    size_t shown = m < UPSET_MAX ? m : UPSET_MAX, na = ag->nrows;
    other += m - shown;
    double max = shown ? b[0].v : 1;
    int left = 150, cw = shown ? (560 / (int)shown < 26 ? 560 / (int)shown : 26) : 26;
    int top = 150, rowh = 20, h = top + (int)na * rowh + 10;
    put(o, "<svg class=\"chart\" viewBox=\"0 0 720 %d\" width=\"720\" height=\"%d\" role=\"img\" "
           "aria-label=\"UpSet chart: persons known to exactly each combination of agencies\">\n",
        h, h);
    for (size_t a = 0; a < na; a++) {
        int y = top + (int)a * rowh;
        if (a % 2 == 0)
            put(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"band\"/>", left, y,
                cw * (int)shown, rowh);
        put(o, "<text x=\"%d\" y=\"%d\" class=\"lbl\" text-anchor=\"end\">", left - 6, y + 14);
        esc(o, cell_at(ag, a, 0));
        put(o, "</text>\n");
    }
    for (size_t i = 0; i < shown; i++) {
        int x = left + (int)i * cw, bh = (int)(b[i].v / max * (top - 30));
        char v[64];
        put(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"s1\"/>", x + 3,
            top - 6 - bh, cw - 6, bh);
        put(o, "<text x=\"%d\" y=\"%d\" class=\"tiny\" text-anchor=\"middle\">%s</text>\n",
            x + cw / 2, top - 9 - bh, pretty(cell_at(t, b[i].row, 2), v));
        /* the dots: an agency is in the combination if its name is */
        int first = -1, last = -1;
        for (size_t a = 0; a < na; a++) {
            const char *names = cell_at(t, b[i].row, 0), *want = cell_at(ag, a, 0);
            size_t wl = strlen(want);
            bool in = false;
            for (const char *p = names; p && !in; p = strstr(p, " + "), p = p ? p + 3 : NULL)
                in = !strncmp(p, want, wl) && (p[wl] == '\0' || !strncmp(p + wl, " + ", 3));
            int y = top + (int)a * rowh + rowh / 2;
            put(o, "<circle cx=\"%d\" cy=\"%d\" r=\"5\" class=\"%s\"/>", x + cw / 2, y,
                in ? "on" : "off");
            if (in) {
                first = first < 0 ? y : first;
                last = y;
            }
        }
        if (first >= 0 && last > first)
            put(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"join\"/>", x + cw / 2,
                first, x + cw / 2, last);
        put(o, "\n");
    }
    put(o, "</svg>\n");
    if (other)
        put(o, "<p class=\"note\">%zu other combinations are not drawn: fewer than 5 persons "
               "each, suppressed, or smaller than those shown (every combination is in "
               "intersections.csv).</p>\n",
            other);
    free(b);
}

/* The scores of the pairs kept, stacked by decision, with the thresholds. */
static void histogram(out *o, const wye_report *r)
{
    if (!r->have_scores || !r->nbins)
        return;
    const json_t *th = json_object_get(r->summary, "thresholds");
    double match = json_number_value(json_object_get(th, "match"));
    double possible = json_number_value(json_object_get(th, "possible"));
    uint64_t max = 1;
    for (size_t b = 0; b < r->nbins; b++) {
        uint64_t s = r->bins[b][0] + r->bins[b][1] + r->bins[b][2];
        max = s > max ? s : max;
    }
    int left = 50, width = 640, top = 20, hh = 180;
    double bw = (double)width / (double)r->nbins;
    put(o, "<svg class=\"chart\" viewBox=\"0 0 720 240\" width=\"720\" height=\"240\" role=\"img\" "
           "aria-label=\"Pairs kept by match weight, with the thresholds\">\n");
    for (size_t b = 0; b < r->nbins; b++) {
        double y = top + hh;
        for (int k = 0; k < 3; k++) {
            double h = (double)r->bins[b][k] / (double)max * hh;
            if (h <= 0)
                continue;
            y -= h;
            put(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"d%d\"/>",
                left + (double)b * bw, y, bw > 2 ? bw - 1 : bw, h, k);
        }
    }
    put(o, "\n<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n", left, top + hh,
        left + width, top + hh);
    for (size_t b = 0; b <= r->nbins; b += r->nbins > 40 ? 10 : 5)
        put(o, "<text x=\"%.1f\" y=\"%d\" class=\"tiny\" text-anchor=\"middle\">%d</text>",
            left + (double)b * bw, top + hh + 14, r->lo + (int)b);
    put(o, "<text x=\"%d\" y=\"%d\" class=\"tiny\">0</text><text x=\"%d\" y=\"%d\" "
           "class=\"tiny\">%llu</text>\n",
        left - 20, top + hh, left - 40, top + 8, (unsigned long long)max);
    const double at[2] = {possible, match};
    const char *what[2] = {"possible", "match"};
    for (int k = 0; k < 2; k++) {
        double x = left + (at[k] - r->lo) * bw;
        if (x < left || x > left + width)
            continue;
        put(o, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"thr\"/><text x=\"%.1f\" "
               "y=\"%d\" class=\"tiny\">%s %.2f</text>\n",
            x, top - 6, x, top + hh, x + 3, top + 4 + 12 * k, what[k], at[k]);
    }
    put(o, "<text x=\"%d\" y=\"236\" class=\"tiny\" text-anchor=\"middle\">match weight "
           "(log2 likelihood ratio); dark: matches, mid: possible matches, red: conflicts</text>\n",
        left + width / 2);
    put(o, "</svg>\n");
}

/* The weight of each agreement level, from 0: agreement to the right,
 * disagreement to the left. */
static void weights(out *o, const wye_report *r)
{
    const rtable *t = find(r, "model.csv");
    if (!t || !t->nrows)
        return;
    int rowh = 16, h = (int)t->nrows * rowh + 8, mid = 420, scale = 12;
    put(o, "<svg class=\"chart\" viewBox=\"0 0 720 %d\" width=\"720\" height=\"%d\" role=\"img\" "
           "aria-label=\"Weight of each agreement level\">\n<line x1=\"%d\" y1=\"0\" x2=\"%d\" "
           "y2=\"%d\" class=\"axis\"/>\n",
        h, h, mid, mid, h);
    for (size_t k = 0; k < t->nrows; k++) {
        double w = 0;
        num(cell_at(t, k, 4), &w);
        double len = fabs(w) * scale > 280 ? 280 : fabs(w) * scale;
        int y = (int)k * rowh + 4;
        put(o, "<text x=\"190\" y=\"%d\" class=\"lbl\" text-anchor=\"end\">", y + 11);
        esc(o, cell_at(t, k, 0));
        put(o, " ");
        esc(o, cell_at(t, k, 1));
        put(o, "</text><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"11\" class=\"%s\"/>",
            w < 0 ? mid - len : mid, y + 2, len, w < 0 ? "neg" : "s1");
        put(o, "<text x=\"%.1f\" y=\"%d\" class=\"tiny\" text-anchor=\"%s\">%+.1f (m ", 
            w < 0 ? mid - len - 3 : mid + len + 3, y + 11, w < 0 ? "end" : "start", w);
        esc(o, cell_at(t, k, 2));
        put(o, ", u ");
        esc(o, cell_at(t, k, 3));
        put(o, ")</text>\n");
    }
    put(o, "</svg>\n");
}

/* The pairs as an agency-by-agency matrix. */
static void pair_matrix(out *o, const wye_report *r)
{
    const rtable *t = find(r, "overlaps.csv"), *ag = find(r, "agencies.csv");
    if (!t || !ag || !t->nrows)
        return;
    put(o, "<table class=\"matrix\"><caption>Persons known to both agencies of each pair%s"
           "</caption><thead><tr><th></th>",
        r->exact ? " <span class=\"exact\">(exact counts: internal use only)</span>" : "");
    for (size_t a = 0; a < ag->nrows; a++) {
        put(o, "<th>");
        esc(o, cell_at(ag, a, 0));
        put(o, "</th>");
    }
    put(o, "</tr></thead><tbody>\n");
    for (size_t a = 0; a < ag->nrows; a++) {
        put(o, "<tr><th>");
        esc(o, cell_at(ag, a, 0));
        put(o, "</th>");
        for (size_t b = 0; b < ag->nrows; b++) {
            const char *v = a == b ? NULL : "";
            for (size_t k = 0; k < t->nrows && v && !*v; k++) {
                const char *x = cell_at(t, k, 0), *y = cell_at(t, k, 1);
                const char *A = cell_at(ag, a, 0), *B = cell_at(ag, b, 0);
                if ((!strcmp(x, A) && !strcmp(y, B)) || (!strcmp(x, B) && !strcmp(y, A)))
                    v = cell_at(t, k, 2);
            }
            put(o, "<td%s>", v ? "" : " class=\"diag\"");
            count_html(o, v ? v : "");
            put(o, "</td>");
        }
        put(o, "</tr>\n");
    }
    put(o, "</tbody></table>\n");
}

static const char css[] =
    "*{box-sizing:border-box}"
    "body{font-family:'DejaVu Sans',Verdana,Arial,sans-serif;color:#1d2125;margin:0 auto;"
    "max-width:780px;padding:16px 24px;font-size:14px;line-height:1.4}"
    "h1{font-size:22px;margin:4px 0}h2{font-size:18px;margin:28px 0 6px;border-bottom:2px solid "
    "#1f4e79;padding-bottom:2px}h3{font-size:15px;margin:16px 0 4px}"
    ".sub,.note{color:#555;font-size:12px;margin:4px 0}"
    ".cards{display:flex;gap:10px;margin:10px 0;flex-wrap:wrap}"
    ".card{border:1px solid #c9d3dd;border-radius:6px;padding:8px 14px;min-width:150px}"
    ".card .v{font-size:30px;font-weight:bold;color:#1f4e79}.card .k{font-size:12px;color:#444}"
    ".card.main .v{font-size:40px}"
    ".exact{color:#b00020;font-weight:bold}.banner{background:#b00020;color:#fff;padding:6px 10px;"
    "font-weight:bold;border-radius:4px}"
    "table{border-collapse:collapse;margin:8px 0 4px;font-size:12px}"
    "caption{text-align:left;font-weight:bold;padding:2px 0;font-size:13px}"
    "th,td{border-bottom:1px solid #e1e5ea;padding:2px 8px;text-align:right}"
    "th:first-child,td:first-child{text-align:left}thead th{border-bottom:2px solid #9aa7b4}"
    ".matrix td.diag{background:#eef1f4}.small{color:#555}.sup{color:#777;font-style:italic}"
    "svg.chart{max-width:100%;height:auto;display:block;margin:6px 0}"
    "svg text{font-family:'DejaVu Sans',Verdana,Arial,sans-serif}"
    ".lbl{font-size:12px;fill:#1d2125}.val{font-size:11px;fill:#333}.tiny{font-size:10px;"
    "fill:#333}"
    ".s0{fill:#9ec3e6}.s1{fill:#1f4e79}.neg{fill:#c0504d}.band{fill:#f3f5f7}"
    ".on{fill:#1f4e79}.off{fill:#d5dbe1}.join{stroke:#1f4e79;stroke-width:2}"
    ".d0{fill:#1f4e79}.d1{fill:#9ec3e6}.d2{fill:#c0504d}.axis{stroke:#888;stroke-width:1}"
    ".thr{stroke:#e07b00;stroke-width:2;stroke-dasharray:4 3}"
    "section{margin-bottom:12px}"
    "@page{size:A4;margin:14mm}"
    "@media print{body{max-width:none;padding:0;font-size:11px}h2{break-after:avoid}"
    "svg.chart,table,.cards{break-inside:avoid}section{break-inside:auto}}";

static void headline(out *o, const wye_report *r)
{
    const rtable *h = find(r, "headline.csv"), *ag = find(r, "agencies.csv");
    const json_t *p = json_object_get(r->summary, "protocol");
    put(o, "<header>");
    if (r->exact)
        put(o, "<p class=\"banner\">Exact counts: internal use only, not for publication</p>");
    put(o, "<h1>How many different people do the agencies know?</h1><p class=\"sub\">");
    put(o, "A privacy-preserving linkage of %zu agencies' records (protocol ", ag->nrows);
    esc(o, json_string_value(json_object_get(p, "name")));
    put(o, ", wyelink ");
    esc(o, json_string_value(json_object_get(r->summary, "version")));
    put(o, "). ");
    put(o, r->exact ? "Counts are exact." : "Counts below 5 are shown as &lt;5 and the others are "
                                            "rounded to the nearest 5; counts that would reveal a "
                                            "small one are suppressed.");
    put(o, "</p></header>\n<section id=\"headline\"><div class=\"cards\">");
    static const char *const kinds[] = {"unique persons known to any agency",
                                        "records linked", "agencies"};
    for (size_t k = 0; k < h->nrows && k < 3; k++) {
        put(o, "<div class=\"card%s\"><div class=\"v\">", k ? "" : " main");
        count_html(o, cell_at(h, k, 1));
        put(o, "</div><div class=\"k\">%s</div></div>", kinds[k]);
    }
    put(o, "</div>\n<h3>Records and unique persons per agency</h3>\n");
    table_bars(o, ag, "Records and unique persons per agency", 1, 2);
    put(o, "<p class=\"note\">A person counts once per agency that knows them, however many "
           "records that agency holds; the same person may be known to several agencies.</p>\n");
    put(o, "</section>\n");
}

static void sections(out *o, const wye_report *r)
{
    put(o, "<section id=\"overlaps\"><h2>Who is known to which agencies</h2>\n");
    if (find(r, "intersections.csv")) {
        put(o, "<h3>Persons known to exactly each combination of agencies (UpSet)</h3>\n");
        upset(o, r);
    }
    put(o, "<h3>Persons by number of agencies that know them</h3>\n");
    table_bars(o, find(r, "persons_by_number_of_agencies.csv"),
               "Persons by number of agencies that know them", 1, 0);
    pair_matrix(o, r);
    table_html(o, r, find(r, "intersections.csv"), true);
    put(o, "</section>\n<section id=\"profiles\"><h2>Who they are</h2>\n");
    for (size_t i = 0; i < r->nt; i++) {
        const rtable *t = &r->t[i];
        if (strncmp(t->file, "profile_", 8))
            continue;
        put(o, "<h3>");
        esc(o, t->title);
        put(o, "</h3>\n");
        table_bars(o, t, t->title, 1, 0);
        if (t->ncols > 2)
            table_html(o, r, t, false);
    }
    put(o, "<p class=\"note\">A person whose records differ (two age bands, several services) "
           "counts under each; missing: no record of the person has a value.</p>\n");
    put(o, "</section>\n<section id=\"diagnostics\"><h2>Linkage diagnostics</h2>\n");
    if (r->have_scores) {
        put(o, "<h3>Scores of the pairs kept, with the two thresholds</h3>\n");
        histogram(o, r);
    }
    put(o, "<h3>Agreement weights of each comparison (m and u)</h3>\n");
    weights(o, r);
    table_html(o, r, find(r, "linkage.csv"), false);
    put(o, "</section>\n");
    if (r->nq) {
        put(o, "<section id=\"quality\"><h2>Data quality per agency</h2>\n");
        table_html(o, r, find(r, "quality_rows.csv"), false);
        table_html(o, r, find(r, "quality_refused.csv"), false);
        table_html(o, r, find(r, "quality_fields.csv"), false);
        table_html(o, r, find(r, "quality_invalid.csv"), false);
        put(o, "</section>\n");
    }
    put(o, "<section id=\"provenance\"><h2>Provenance</h2>\n");
    table_html(o, r, find(r, "provenance.csv"), false);
    table_html(o, r, find(r, "inputs.csv"), false);
    put(o, "<p class=\"note\">Information Governance can match the fingerprint, key id and each "
           "input's digest to the audit trail (wyelink audit trace). Every table is also a CSV "
           "file beside this page.</p></section>\n");
}

int wye_report_write_html(wye_report *r, wye_sink *sink)
{
    int rc = build_tables(r);
    if (rc)
        return rc;
    out o = {sink, WYE_OK};
    put(&o, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<title>wyelink report: unique persons across agencies</title>"
            "<style>%s</style></head>\n<body>\n",
        css);
    headline(&o, r);
    sections(&o, r);
    put(&o, "<footer class=\"note\">Made by wyelink report. No names, dates of birth, postcodes, "
            "NHS numbers or pseudonyms are in this page: only counts, published by the rule in "
            "linker/DISCLOSURE.md.</footer>\n</body></html>\n");
    return o.rc;
}
