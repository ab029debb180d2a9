/* Statistical disclosure control (DISCLOSURE.md): small counts suppressed,
 * the others rounded to 5, and an audit that solves everything published as
 * integer constraints, adding secondary suppressions until no suppressed
 * count can be narrowed.
 *
 * The model: every published count is a cell, a sum of non-negative integer
 * variables. For the summary the variables are the persons known to exactly
 * each combination of agencies (2^n - 1 of them: every table about
 * agencies is a sum of these), the records of each agency, and one per
 * profile count; structural rows say what is true by construction (an
 * agency has at least as many records as persons, a person counted under
 * a value is not missing, ...). Each cell gets the bounds its published
 * form allows: "<5" [0,4], 5 [5,7], r [r-2,r+2], "suppressed" [5,inf). */
#include "wyelink/disclosure.h"

#include <lpsolve/lp_lib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ST_EXACT, ST_ROUNDED, ST_SMALL, ST_SECONDARY };
/* How a tree's counts are read: exact (to be published), published under
 * this rule, or published under another rule (integers taken as exact). */
enum { MODE_EXACT, MODE_RULE, MODE_OTHER };
/* Which counts are given up first to protect another (lowest first). */
enum { PRIO_DETAIL = 0, PRIO_PROFILE = 1, PRIO_AGENCY = 2, PRIO_HEADLINE = 3 };

#define INF 1e30

typedef struct term {
    uint32_t var;
    int32_t coef;
} term;

typedef struct cell {
    json_t *parent; /* object (key) or array (idx) holding the value */
    char *key;
    size_t idx;
    char path[112];
    int64_t exact; /* -1: only the published form is known */
    int state;
    int64_t shown;
    bool fixed;    /* published already: cannot change */
    bool pinned;   /* the same count as a fixed one: published already */
    int prio;
    int64_t floor; /* a priori least value (1 where structure implies it) */
    size_t t0, nt;
    uint32_t col;  /* the cell's own column in the program (1-based) */
    bool lo_ok, hi_ok, done;
} cell;

typedef struct srow {
    size_t t0, nt;
    int type; /* EQ, GE, LE */
    double rhs;
} srow;

typedef struct model {
    cell *cells;
    size_t ncells, capcells;
    term *terms;
    size_t nterms, capterms;
    srow *rows;
    size_t nrows, caprows;
    uint32_t nvars;
    bool oom;
    /* summary layout */
    size_t na;
    char **agency;
    uint32_t rec0;        /* first records variable */
    size_t c_records[WYE_DISCLOSURE_MAX_AGENCIES];
    bool have_records[WYE_DISCLOSURE_MAX_AGENCIES];
    long c_pp[WYE_DISCLOSURE_MAX_AGENCIES]; /* persons_per_agency cells, -1 if none */
    long c_total, c_unique, c_largest;     /* -1 if none */
    /* profile variables, to link each agency's profile to the overall one */
    struct prof {
        const char *attr, *value; /* borrowed from the tree; value NULL = missing */
        int agency;               /* -1 = overall */
        uint32_t var;
    } *prof;
    size_t nprof, capprof;
} model;

static void *grow(void *p, size_t *cap, size_t need, size_t size, bool *oom)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(p, n * size);
    if (!q) {
        *oom = true;
        return NULL;
    }
    *cap = n;
    return q;
}

static void add_term(model *m, uint32_t var, int32_t coef)
{
    term *t = grow(m->terms, &m->capterms, m->nterms + 1, sizeof *t, &m->oom);
    if (!t)
        return;
    m->terms = t;
    m->terms[m->nterms++] = (term){var, coef};
}

static uint32_t new_var(model *m)
{
    return m->nvars++;
}

/* ---- reading a count ---------------------------------------------------- */

static int64_t round_base(int64_t v)
{
    return (v + WYE_DISCLOSURE_BASE / 2) / WYE_DISCLOSURE_BASE * WYE_DISCLOSURE_BASE;
}

/* Read the value at parent/key (or parent[idx]) in the given mode into c. */
static int read_count(cell *c, const json_t *v, int mode, wye_diag *d)
{
    c->exact = -1;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        int64_t x = json_integer_value(v);
        if (mode == MODE_EXACT) {
            c->exact = x;
        } else if (mode == MODE_OTHER) {
            c->state = ST_EXACT;
            c->shown = x;
        } else if (x >= WYE_DISCLOSURE_BASE && x % WYE_DISCLOSURE_BASE == 0) {
            c->state = ST_ROUNDED;
            c->shown = x;
        } else {
            wye_diag_set(d, 0, c->path, "not a count published by the rule");
            return WYE_EJSON;
        }
        return WYE_OK;
    }
    if (mode != MODE_EXACT && json_is_string(v)) {
        if (!strcmp(json_string_value(v), WYE_DISCLOSURE_SMALL)) {
            c->state = ST_SMALL;
            return WYE_OK;
        }
        if (mode == MODE_RULE && !strcmp(json_string_value(v), WYE_DISCLOSURE_SUPPRESSED)) {
            c->state = ST_SECONDARY;
            return WYE_OK;
        }
    }
    wye_diag_set(d, 0, c->path, "not a whole number of 0 or more");
    return WYE_EJSON;
}

/* Start a cell for the count at parent/key or parent[idx]; its terms follow
 * (add_term) until the next cell. Returns the cell's index, or -1. */
static long new_cell(model *m, json_t *parent, const char *key, size_t idx, const char *path,
                     int mode, int prio, wye_diag *d, int *rc)
{
    cell *cs = grow(m->cells, &m->capcells, m->ncells + 1, sizeof *cs, &m->oom);
    if (!cs) {
        *rc = WYE_ENOMEM;
        return -1;
    }
    m->cells = cs;
    cell *c = &m->cells[m->ncells];
    memset(c, 0, sizeof *c);
    snprintf(c->path, sizeof c->path, "%s", path);
    c->parent = parent;
    c->idx = idx;
    c->prio = prio;
    c->fixed = mode != MODE_EXACT;
    if (key && !(c->key = strdup(key))) {
        *rc = WYE_ENOMEM;
        return -1;
    }
    json_t *v = key ? json_object_get(parent, key) : json_array_get(parent, idx);
    if ((*rc = read_count(c, v, mode, d)) != WYE_OK) {
        free(c->key);
        return -1;
    }
    c->t0 = m->nterms;
    m->ncells++;
    return (long)(m->ncells - 1);
}

static void end_cell(model *m, long c)
{
    m->cells[c].nt = m->nterms - m->cells[c].t0;
}

/* A cell over one new variable; returns the variable (or UINT32_MAX). */
static uint32_t var_cell(model *m, json_t *parent, const char *key, const char *path, int mode,
                         int prio, wye_diag *d, int *rc)
{
    long c = new_cell(m, parent, key, 0, path, mode, prio, d, rc);
    if (c < 0)
        return UINT32_MAX;
    uint32_t v = new_var(m);
    add_term(m, v, 1);
    end_cell(m, c);
    return v;
}

/* Structural rows: terms added after begin_row, closed by end_row. */
static size_t begin_row(model *m)
{
    return m->nterms;
}

static void end_row(model *m, size_t t0, int type, double rhs)
{
    srow *r = grow(m->rows, &m->caprows, m->nrows + 1, sizeof *r, &m->oom);
    if (!r)
        return;
    m->rows = r;
    m->rows[m->nrows++] = (srow){t0, m->nterms - t0, type, rhs};
}

/* Copy the terms of cell c into the current row with factor f. */
static void add_cell_terms(model *m, size_t c, int32_t f)
{
    size_t t0 = m->cells[c].t0, nt = m->cells[c].nt;
    for (size_t k = 0; k < nt; k++)
        add_term(m, m->terms[t0 + k].var, m->terms[t0 + k].coef * f);
}

static void free_model(model *m)
{
    for (size_t i = 0; i < m->ncells; i++)
        free(m->cells[i].key);
    free(m->cells);
    free(m->terms);
    free(m->rows);
    for (size_t a = 0; a < m->na; a++)
        free(m->agency[a]);
    free(m->agency);
    free(m->prof);
}


/* ---- the summary's model ------------------------------------------------ */

enum { SUM_SUPERSET, SUM_EXACTLY, SUM_SIZE };

/* Add coef times the persons of every combination S of agencies (a bit mask
 * from 1) that holds all of T (SUM_SUPERSET), is T (SUM_EXACTLY) or has k
 * agencies (SUM_SIZE, k in T). The persons of S are variable S - 1. */
static void add_sum(model *m, uint32_t t, int kind, int32_t coef)
{
    uint32_t full = (1u << m->na) - 1;
    if (kind == SUM_EXACTLY) {
        add_term(m, t - 1, coef);
        return;
    }
    for (uint32_t s = 1; s <= full; s++)
        if (kind == SUM_SUPERSET ? (s & t) == t : (uint32_t)__builtin_popcount(s) == t)
            add_term(m, s - 1, coef);
}

static int agency_index(const model *m, const char *name)
{
    for (size_t a = 0; a < m->na; a++)
        if (!strcmp(m->agency[a], name))
            return (int)a;
    return -1;
}

/* The agencies of an "agencies" array as a bit mask; 0 if any is unknown. */
static uint32_t agency_mask(const model *m, const json_t *list)
{
    uint32_t t = 0;
    size_t i;
    json_t *v;
    if (!json_is_array(list) || !json_array_size(list))
        return 0;
    json_array_foreach(list, i, v) {
        int a = json_is_string(v) ? agency_index(m, json_string_value(v)) : -1;
        if (a < 0)
            return 0;
        t |= 1u << a;
    }
    return t;
}

static int summary_agencies(model *m, json_t *s, int mode, wye_diag *d)
{
    json_t *recs = json_object_get(s, "records");
    if (!json_is_object(recs) || !json_object_size(recs)) {
        wye_diag_set(d, 0, "records", "missing: not a linkage summary");
        return WYE_EJSON;
    }
    if (json_object_size(recs) > WYE_DISCLOSURE_MAX_AGENCIES) {
        wye_diag_set(d, 0, "records", "more than %d agencies", WYE_DISCLOSURE_MAX_AGENCIES);
        return WYE_ERANGE;
    }
    m->na = json_object_size(recs);
    if (!(m->agency = calloc(m->na, sizeof *m->agency)))
        return WYE_ENOMEM;
    m->rec0 = (uint32_t)((1u << m->na) - 1);
    m->nvars = m->rec0 + (uint32_t)m->na;
    const char *k;
    json_t *v;
    size_t a = 0;
    int rc = WYE_OK;
    char path[112];
    json_object_foreach(recs, k, v) {
        if (!(m->agency[a] = strdup(k)))
            return WYE_ENOMEM;
        snprintf(path, sizeof path, "records.%s", k);
        long c = new_cell(m, recs, k, 0, path, mode, PRIO_AGENCY, d, &rc);
        if (c < 0)
            return rc;
        add_term(m, m->rec0 + (uint32_t)a, 1);
        end_cell(m, c);
        m->c_records[a] = (size_t)c;
        m->have_records[a] = true;
        a++;
    }
    if (json_object_get(s, "records_total")) {
        long c = m->c_total =
            new_cell(m, s, "records_total", 0, "records_total", mode, PRIO_HEADLINE, d, &rc);
        if (c < 0)
            return rc;
        for (a = 0; a < m->na; a++)
            add_term(m, m->rec0 + (uint32_t)a, 1);
        end_cell(m, c);
    }
    return WYE_OK;
}

/* Cells for the keys of object o (each a count) under prefix, each the sum
 * given by mask_of(key). */
static int persons_cells(model *m, json_t *s, int mode, wye_diag *d)
{
    int rc = WYE_OK;
    char path[112];
    const char *k;
    json_t *v;
    if (json_object_get(s, "unique_persons")) {
        long c = m->c_unique = new_cell(m, s, "unique_persons", 0, "unique_persons", mode, PRIO_HEADLINE, d,
                          &rc);
        if (c < 0)
            return rc;
        add_sum(m, 0, SUM_SUPERSET, 1);
        end_cell(m, c);
    }
    json_t *pa = json_object_get(s, "persons_per_agency");
    json_object_foreach(pa, k, v) {
        int a = agency_index(m, k);
        snprintf(path, sizeof path, "persons_per_agency.%s", k);
        if (a < 0) {
            wye_diag_set(d, 0, path, "agency not in records");
            return WYE_EJSON;
        }
        long c = m->c_pp[a] = new_cell(m, pa, k, 0, path, mode, PRIO_AGENCY, d, &rc);
        if (c < 0)
            return rc;
        add_sum(m, 1u << a, SUM_SUPERSET, 1);
        end_cell(m, c);
    }
    json_t *bn = json_object_get(s, "persons_by_number_of_agencies");
    json_object_foreach(bn, k, v) {
        char *end;
        unsigned long n = strtoul(k, &end, 10);
        snprintf(path, sizeof path, "persons_by_number_of_agencies.%s", k);
        if (*end || n < 1 || n > m->na) {
            wye_diag_set(d, 0, path, "not a number of agencies");
            return WYE_EJSON;
        }
        long c = new_cell(m, bn, k, 0, path, mode, PRIO_DETAIL, d, &rc);
        if (c < 0)
            return rc;
        add_sum(m, (uint32_t)n, SUM_SIZE, 1);
        end_cell(m, c);
    }
    return WYE_OK;
}

/* "overlaps" (persons known to all the listed agencies, and maybe others)
 * or "intersections" (persons known to exactly the listed agencies). */
static int combination_cells(model *m, json_t *s, const char *name, int kind, int mode,
                             wye_diag *d)
{
    json_t *list = json_object_get(s, name), *o;
    size_t i;
    int rc = WYE_OK;
    char path[112];
    json_array_foreach(list, i, o) {
        snprintf(path, sizeof path, "%s[%zu].persons", name, i);
        uint32_t t = agency_mask(m, json_object_get(o, "agencies"));
        if (!t || !json_object_get(o, "persons")) {
            wye_diag_set(d, 0, path, "agencies not in records");
            return WYE_EJSON;
        }
        long c = new_cell(m, o, "persons", 0, path, mode, PRIO_DETAIL, d, &rc);
        if (c < 0)
            return rc;
        add_sum(m, t, kind, 1);
        end_cell(m, c);
    }
    return WYE_OK;
}

static void add_prof(model *m, const char *attr, const char *value, int agency, uint32_t var)
{
    struct prof *p = grow(m->prof, &m->capprof, m->nprof + 1, sizeof *p, &m->oom);
    if (!p)
        return;
    m->prof = p;
    m->prof[m->nprof++] = (struct prof){attr, value, agency, var};
}

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* The profiles of the persons known to agency (or all, agency -1): for
 * each attribute, a variable per value and one for "missing"; each value
 * and missing together are at most the persons, and all together at least
 * the persons (a person is missing or has a value). */
static int profile_cells(model *m, json_t *prof, int agency, const char *prefix, int mode,
                         wye_diag *d)
{
    const char *attr, *val;
    json_t *o, *v;
    int rc = WYE_OK;
    char path[112];
    uint32_t pop = agency < 0 ? 0 : 1u << agency;
    json_object_foreach(prof, attr, o) {
        json_t *vals = json_object_get(o, "values");
        snprintf(path, sizeof path, "%s.%s.missing", prefix, attr);
        uint32_t miss = var_cell(m, o, "missing", path, mode, PRIO_PROFILE, d, &rc);
        if (miss == UINT32_MAX)
            return rc;
        add_prof(m, attr, NULL, agency, miss);
        json_object_foreach(vals, val, v) {
            snprintf(path, sizeof path, "%s.%s.values.%s", prefix, attr, val);
            uint32_t x = var_cell(m, vals, val, path, mode, PRIO_PROFILE, d, &rc);
            if (x == UINT32_MAX)
                return rc;
            add_prof(m, attr, val, agency, x);
        }
        /* sum of values + missing - persons >= 0 */
        size_t all = begin_row(m);
        for (size_t k = 0; k < m->nprof; k++)
            if (m->prof[k].agency == agency && !strcmp(m->prof[k].attr, attr))
                add_term(m, m->prof[k].var, 1);
        add_sum(m, pop, SUM_SUPERSET, -1);
        end_row(m, all, GE, 0);
        for (size_t k = 0; k < m->nprof; k++) {
            if (m->prof[k].agency != agency || strcmp(m->prof[k].attr, attr) || !m->prof[k].value)
                continue;
            size_t r = begin_row(m); /* value + missing - persons <= 0 */
            add_term(m, m->prof[k].var, 1);
            add_term(m, miss, 1);
            add_sum(m, pop, SUM_SUPERSET, -1);
            end_row(m, r, LE, 0);
        }
    }
    return m->oom ? WYE_ENOMEM : WYE_OK;
}

/* Each agency's profile against the overall one: a value seen at one agency
 * is seen overall; a value seen overall is seen at some agency; a person
 * missing overall is missing at each of their agencies. */
static void link_profiles(model *m)
{
    size_t n = m->nprof;
    for (size_t k = 0; k < n; k++) {
        const struct prof *o = &m->prof[k];
        if (o->agency >= 0)
            continue;
        bool any = false;
        for (size_t j = 0; j < n; j++) {
            const struct prof *p = &m->prof[j];
            if (p->agency < 0 || strcmp(p->attr, o->attr) || !same(p->value, o->value))
                continue;
            any = true;
            if (o->value) { /* agency's <= overall */
                size_t r = begin_row(m);
                add_term(m, p->var, 1);
                add_term(m, o->var, -1);
                end_row(m, r, LE, 0);
            }
        }
        if (!any)
            continue;
        size_t all = begin_row(m); /* overall <= sum of the agencies' */
        add_term(m, o->var, 1);
        for (size_t j = 0; j < n; j++) {
            const struct prof *p = &m->prof[j];
            if (p->agency >= 0 && !strcmp(p->attr, o->attr) && same(p->value, o->value))
                add_term(m, p->var, -1);
        }
        end_row(m, all, LE, 0);
    }
}

static int summary_model(model *m, json_t *s, int mode, int imode, wye_diag *d)
{
    int rc;
    if ((rc = summary_agencies(m, s, mode, d)) || (rc = persons_cells(m, s, mode, d)) ||
        (rc = combination_cells(m, s, "overlaps", SUM_SUPERSET, mode, d)) ||
        (rc = combination_cells(m, s, "intersections", SUM_EXACTLY, imode, d)))
        return rc;
    json_t *prof = json_object_get(s, "persons_by_attribute");
    if (prof && (rc = profile_cells(m, prof, -1, "persons_by_attribute", mode, d)))
        return rc;
    json_t *pa = json_object_get(s, "persons_by_attribute_per_agency");
    const char *k;
    json_t *v;
    char prefix[112];
    json_object_foreach(pa, k, v) {
        int a = agency_index(m, k);
        snprintf(prefix, sizeof prefix, "persons_by_attribute_per_agency.%s", k);
        if (a < 0) {
            wye_diag_set(d, 0, prefix, "agency not in records");
            return WYE_EJSON;
        }
        if ((rc = profile_cells(m, v, a, prefix, mode, d)))
            return rc;
    }
    link_profiles(m);
    /* records of an agency >= its persons */
    for (size_t a = 0; a < m->na; a++) {
        size_t r = begin_row(m);
        add_term(m, m->rec0 + (uint32_t)a, 1);
        add_sum(m, 1u << a, SUM_SUPERSET, -1);
        end_row(m, r, GE, 0);
    }
    json_t *links = json_object_get(s, "links");
    json_t *lg = json_object_get(links, "largest_person_records");
    if (lg) {
        uint32_t x = var_cell(m, links, "largest_person_records", "links.largest_person_records",
                              mode, PRIO_PROFILE, d, &rc);
        if (x == UINT32_MAX)
            return rc;
        m->c_largest = (long)m->ncells - 1;
    }
    /* Each merge joins two clusters: merges = records - persons, a count
     * of people in disguise, so it is published by the rule too. */
    if (json_object_get(links, "merges")) {
        long c = new_cell(m, links, "merges", 0, "links.merges", mode, PRIO_DETAIL, d, &rc);
        if (c < 0)
            return rc;
        for (size_t a = 0; a < m->na; a++)
            add_term(m, m->rec0 + (uint32_t)a, 1);
        add_sum(m, 0, SUM_SUPERSET, -1);
        end_cell(m, c);
    }
    return m->oom ? WYE_ENOMEM : WYE_OK;
}

/* ---- data-quality summaries ---------------------------------------------- */

/* A cell over an existing variable. */
static long cell_on(model *m, json_t *parent, const char *key, const char *path, int prio,
                    uint32_t var, wye_diag *d, int *rc)
{
    long c = new_cell(m, parent, key, 0, path, MODE_EXACT, prio, d, rc);
    if (c >= 0) {
        add_term(m, var, 1);
        end_cell(m, c);
    }
    return c;
}

/* Replace the reasons object o[key] by one that lists the reasons with at
 * least 5 rows and folds the others into "other reasons" (always present:
 * that a reason is listed must not tell that it occurred). */
static int fold_reasons(json_t *o, const char *key)
{
    json_t *old = json_object_get(o, key), *nw = json_object();
    json_int_t other = 0;
    const char *k;
    json_t *v;
    if (!nw)
        return WYE_ENOMEM;
    json_object_foreach(old, k, v) {
        json_int_t x = json_integer_value(v);
        if (!json_is_integer(v) || x < 0) {
            json_decref(nw);
            return WYE_EJSON;
        }
        if (x >= WYE_DISCLOSURE_BASE)
            json_object_set_new(nw, k, json_integer(x));
        else
            other += x;
    }
    json_object_set_new(nw, "other reasons", json_integer(other));
    return json_object_set_new(o, key, nw) ? WYE_ENOMEM : WYE_OK;
}

/* Cells for a reasons object; adds a row: the reasons sum to var total
 * (when they do). */
static int reason_cells(model *m, json_t *o, const char *key, const char *prefix, uint32_t total,
                        int64_t total_exact, wye_diag *d)
{
    json_t *rs = json_object_get(o, key), *v;
    const char *k;
    char path[112];
    int rc = WYE_OK;
    int64_t sum = 0;
    uint32_t first = m->nvars; /* the reasons' variables are consecutive */
    json_object_foreach(rs, k, v) {
        snprintf(path, sizeof path, "%s.%s", prefix, k);
        long c = cell_on(m, rs, k, path, PRIO_PROFILE, new_var(m), d, &rc);
        if (c < 0)
            return rc;
        sum += m->cells[c].exact;
    }
    if (sum == total_exact) {
        size_t r = begin_row(m);
        for (uint32_t x = first; x < m->nvars; x++)
            add_term(m, x, 1);
        add_term(m, total, -1);
        end_row(m, r, EQ, 0);
    }
    return WYE_OK;
}

/* Present, missing and invalid for each mapped field or attribute of group
 * (fields or attributes); each sums to the rows counted. */
static int tally_cells(model *m, json_t *q, const char *group, uint32_t counted,
                       int64_t counted_exact, wye_diag *d)
{
    json_t *g = json_object_get(q, group), *t;
    const char *name;
    char path[112];
    int rc;
    json_object_foreach(g, name, t) {
        if (!json_is_true(json_object_get(t, "mapped"))) {
            /* no column: nothing about people to publish */
            json_object_set_new(g, name, json_pack("{sb}", "mapped", 0));
            continue;
        }
        json_object_del(t, "invalid_reasons_complete");
        static const char *const parts[] = {"present", "missing", "invalid"};
        uint32_t var[3];
        int64_t sum = 0;
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s.%s.%s", group, name, parts[i]);
            var[i] = new_var(m);
            long c = cell_on(m, t, parts[i], path, PRIO_PROFILE, var[i], d, &rc);
            if (c < 0)
                return rc;
            sum += m->cells[c].exact;
        }
        if (sum == counted_exact) {
            size_t r = begin_row(m);
            for (int i = 0; i < 3; i++)
                add_term(m, var[i], 1);
            add_term(m, counted, -1);
            end_row(m, r, EQ, 0);
        }
        if (json_object_get(t, "invalid_reasons")) {
            if ((rc = fold_reasons(t, "invalid_reasons")) != WYE_OK)
                return rc;
            snprintf(path, sizeof path, "%s.%s.invalid_reasons", group, name);
            if ((rc = reason_cells(m, t, "invalid_reasons", path, var[2],
                                   m->cells[m->ncells - 1].exact, d)))
                return rc;
        }
    }
    return WYE_OK;
}

/* The variable of the agency's records in the summary when rows_encoded is
 * that same count, else a new one. */
static uint32_t encoded_var(model *m, const json_t *q, int64_t encoded)
{
    const char *name = json_string_value(json_object_get(q, "agency"));
    int a = name ? agency_index(m, name) : -1;
    if (a < 0 || !m->have_records[a])
        return new_var(m);
    const cell *c = &m->cells[m->c_records[a]];
    bool equal = c->exact >= 0 ? c->exact == encoded
                 : c->state == ST_SMALL ? encoded < WYE_DISCLOSURE_BASE
                 : c->state == ST_SECONDARY ? encoded >= WYE_DISCLOSURE_BASE
                 : c->state == ST_EXACT ? c->shown == encoded
                                        : llabs(c->shown - encoded) <= WYE_DISCLOSURE_BASE / 2;
    return equal ? m->rec0 + (uint32_t)a : new_var(m);
}

static int quality_model(model *m, json_t *q, wye_diag *d)
{
    const char *format = json_string_value(json_object_get(q, "format"));
    if (!json_is_object(q) || !format || strcmp(format, "wyelink-hash-summary") ||
        (json_object_get(q, "disclosure") && !wye_disclosure_is_exact(q))) {
        wye_diag_set(d, 0, "format", "not an exact wyelink-hash-summary");
        return WYE_EJSON;
    }
    static const char *const drop[] = {"input", "encoded_file", "local_map", "rejected_rows",
                                       "rejected_rows_complete", "invalid_values",
                                       "invalid_values_complete", "blank_lines"};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
        json_object_del(q, drop[i]);
    int rc = WYE_OK;
    json_t *enc = json_object_get(q, "rows_encoded");
    uint32_t R = new_var(m), J = new_var(m), C = new_var(m);
    uint32_t E = encoded_var(m, q, json_integer_value(enc));
    /* rows encoded are the agency's records in the summary: given up last */
    long cr = cell_on(m, q, "rows_read", "rows_read", PRIO_PROFILE, R, d, &rc);
    long ce = cr < 0 ? -1 : cell_on(m, q, "rows_encoded", "rows_encoded", PRIO_AGENCY, E, d, &rc);
    long cj = ce < 0 ? -1
                     : cell_on(m, q, "rows_rejected", "rows_rejected", PRIO_PROFILE, J, d, &rc);
    long cc = cj < 0 ? -1
                     : cell_on(m, q, "rows_with_fields_counted", "rows_with_fields_counted",
                               PRIO_PROFILE, C, d, &rc);
    if (cc < 0)
        return rc;
    const cell *c = m->cells;
    if (c[cr].exact == c[ce].exact + c[cj].exact) {
        size_t r = begin_row(m);
        add_term(m, R, 1);
        add_term(m, E, -1);
        add_term(m, J, -1);
        end_row(m, r, EQ, 0);
    }
    if (c[cc].exact == c[cr].exact) {
        size_t r = begin_row(m);
        add_term(m, C, 1);
        add_term(m, R, -1);
        end_row(m, r, EQ, 0);
    }
    int64_t counted = c[cc].exact, rejected = c[cj].exact;
    if ((rc = fold_reasons(q, "rejected_by_reason")) ||
        (rc = reason_cells(m, q, "rejected_by_reason", "rejected_by_reason", J, rejected, d)) ||
        (rc = tally_cells(m, q, "fields", C, counted, d)) ||
        (rc = tally_cells(m, q, "attributes", C, counted, d)))
        return rc;
    return m->oom ? WYE_ENOMEM : WYE_OK;
}

/* ---- the audit ------------------------------------------------------------ */

typedef struct audit {
    model *m;
    lprec *lp;
    const wye_disclosure_params *p;
    wye_disclosure_stats *st;
    wye_diag *d;
    int ncols;
    REAL *val; /* scratch of ncols + 1 */
    int *idx;
} audit;

static int col_of_var(uint32_t v)
{
    return (int)v + 1;
}

static void bounds_of(const cell *c, double *lo, double *hi)
{
    switch (c->state) {
    case ST_EXACT:
        *lo = *hi = (double)c->shown;
        break;
    case ST_ROUNDED:
        /* 3 and 4 are shown as <5, so 5 stands for 5..7 */
        *lo = c->shown == WYE_DISCLOSURE_BASE ? WYE_DISCLOSURE_BASE
                                               : (double)(c->shown - WYE_DISCLOSURE_BASE / 2);
        *hi = (double)(c->shown + WYE_DISCLOSURE_BASE / 2);
        break;
    case ST_SMALL:
        *lo = 0;
        *hi = WYE_DISCLOSURE_BASE - 1;
        break;
    default:
        /* "suppressed" may hide a small count too: it says nothing */
        *lo = 0;
        *hi = INF;
    }
}

static void set_cell_bounds(audit *a, const cell *c)
{
    double lo, hi;
    bounds_of(c, &lo, &hi);
    set_bounds(a->lp, (int)c->col, lo, hi >= INF ? get_infinite(a->lp) : hi);
}

/* A cell that is one variable bounds that variable's column; any other has
 * a column of its own, tied to its sum by an equality row. */
static bool own_column(const model *m, const cell *c)
{
    return !(c->nt == 1 && m->terms[c->t0].coef == 1);
}

static int build_program(audit *a)
{
    model *m = a->m;
    size_t extra = 0, maxt = 1;
    for (size_t i = 0; i < m->ncells; i++) {
        extra += own_column(m, &m->cells[i]);
        maxt = m->cells[i].nt + 1 > maxt ? m->cells[i].nt + 1 : maxt;
    }
    for (size_t i = 0; i < m->nrows; i++)
        maxt = m->rows[i].nt > maxt ? m->rows[i].nt : maxt;
    a->ncols = (int)(m->nvars + extra);
    size_t n = (size_t)a->ncols + 1 > maxt ? (size_t)a->ncols + 1 : maxt;
    /* settle_in_bulk puts one entry per small cell in an objective, and
     * cells can share a column (fuzz_records found it writing past n) */
    if (m->ncells + 1 > n)
        n = m->ncells + 1;
    a->val = malloc(n * sizeof *a->val);
    a->idx = malloc(n * sizeof *a->idx);
    if (!a->val || !a->idx || !(a->lp = make_lp(0, a->ncols)))
        return WYE_ENOMEM;
    set_verbose(a->lp, NEUTRAL);
    set_break_at_first(a->lp, TRUE); /* feasibility: any solution will do */
    set_timeout(a->lp, (long)ceil(a->p->solve_seconds));
    set_add_rowmode(a->lp, TRUE);
    uint32_t next = m->nvars + 1;
    for (size_t i = 0; i < m->ncells; i++) {
        cell *c = &m->cells[i];
        if (!own_column(m, c)) {
            c->col = (uint32_t)col_of_var(m->terms[c->t0].var);
            continue;
        }
        c->col = next++;
        int k = 0;
        for (size_t t = 0; t < c->nt; t++, k++) {
            a->idx[k] = col_of_var(m->terms[c->t0 + t].var);
            a->val[k] = m->terms[c->t0 + t].coef;
        }
        a->idx[k] = (int)c->col;
        a->val[k++] = -1;
        if (!add_constraintex(a->lp, k, a->val, a->idx, EQ, 0))
            return WYE_ENOMEM;
    }
    for (size_t i = 0; i < m->nrows; i++) {
        const srow *r = &m->rows[i];
        for (size_t t = 0; t < r->nt; t++) {
            a->idx[t] = col_of_var(m->terms[r->t0 + t].var);
            a->val[t] = m->terms[r->t0 + t].coef;
        }
        if (!add_constraintex(a->lp, (int)r->nt, a->val, a->idx, r->type, r->rhs))
            return WYE_ENOMEM;
    }
    set_add_rowmode(a->lp, FALSE);
    for (int j = 1; j <= a->ncols; j++)
        set_int(a->lp, j, TRUE);
    for (size_t i = 0; i < m->ncells; i++)
        set_cell_bounds(a, &m->cells[i]);
    return WYE_OK;
}

/* After an integer solve: every small count at its floor or at 4 in the
 * solution can take that value; note it, so it need not be solved for. */
static void harvest(audit *a)
{
    REAL *x;
    if (!get_ptr_variables(a->lp, &x))
        return;
    for (size_t i = 0; i < a->m->ncells; i++) {
        cell *c = &a->m->cells[i];
        if (c->state != ST_SMALL)
            continue;
        double v = x[c->col - 1];
        if (v <= (double)c->floor + 0.5)
            c->lo_ok = true;
        if (v >= WYE_DISCLOSURE_BASE - 1.5)
            c->hi_ok = true;
    }
}

/* Whether some whole-number solution has cell i within [lo, hi]: 1 yes,
 * 0 no, or a negative code (the solver failed or ran out of time: taken as
 * no by the caller, which then suppresses more). */
static int feasible(audit *a, size_t i, double lo, double hi)
{
    cell *c = &a->m->cells[i];
    double olo, ohi;
    bounds_of(c, &olo, &ohi);
    set_obj_fnex(a->lp, 0, NULL, NULL);
    set_bounds(a->lp, (int)c->col, lo, hi >= INF ? get_infinite(a->lp) : hi);
    default_basis(a->lp); /* no state carried over from another solve */
    int r = solve(a->lp);
    a->st->solves++;
    if (r == OPTIMAL || r == SUBOPTIMAL)
        harvest(a);
    set_cell_bounds(a, c);
    return r == OPTIMAL || r == SUBOPTIMAL ? 1 : r == INFEASIBLE ? 0 : WYE_ERANGE;
}

/* Settle many small counts at once: push the sum of those not yet known
 * to reach their top (or floor) there, and harvest the whole-number
 * solution; again while that settles more. */
static void settle_in_bulk(audit *a)
{
    model *m = a->m;
    for (int dir = 0; dir < 2; dir++) {
        for (int round = 0; round < 8; round++) {
            int k = 0;
            size_t before = 0;
            for (size_t i = 0; i < m->ncells; i++) {
                const cell *c = &m->cells[i];
                if (c->state != ST_SMALL || (dir ? c->hi_ok : c->lo_ok))
                    continue;
                a->idx[k] = (int)c->col;
                a->val[k++] = 1;
                before++;
            }
            if (!k)
                break;
            set_obj_fnex(a->lp, k, a->val, a->idx);
            if (dir)
                set_maxim(a->lp);
            else
                set_minim(a->lp);
            default_basis(a->lp);
            int r = solve(a->lp);
            a->st->solves++;
            if (r != OPTIMAL && r != SUBOPTIMAL)
                break;
            harvest(a);
            size_t after = 0;
            for (size_t i = 0; i < m->ncells; i++) {
                const cell *c = &m->cells[i];
                after += c->state == ST_SMALL && !(dir ? c->hi_ok : c->lo_ok);
            }
            if (after == before)
                break;
        }
    }
}

/* The least and greatest value of cell i in the relaxed program (real
 * numbers): a range no narrower than the whole-number one. *hi is INF when
 * unbounded. With duals on, the reduced costs are left in the solver. */
static int relaxed(audit *a, size_t i, bool maximise, double *out)
{
    int col = (int)a->m->cells[i].col;
    REAL one = 1;
    for (int j = 1; j <= a->ncols; j++)
        set_int(a->lp, j, FALSE);
    set_obj_fnex(a->lp, 1, &one, &col);
    if (maximise)
        set_maxim(a->lp);
    else
        set_minim(a->lp);
    default_basis(a->lp); /* no state carried over from another solve */
    int r = solve(a->lp);
    a->st->solves++;
    *out = r == UNBOUNDED ? INF : get_objective(a->lp);
    for (int j = 1; j <= a->ncols; j++)
        set_int(a->lp, j, TRUE);
    return r == OPTIMAL || r == UNBOUNDED ? WYE_OK : WYE_ERANGE;
}

static bool same_terms(const model *m, const cell *x, const cell *y)
{
    if (x->nt != y->nt)
        return false;
    for (size_t t = 0; t < x->nt; t++)
        if (m->terms[x->t0 + t].var != m->terms[y->t0 + t].var ||
            m->terms[x->t0 + t].coef != m->terms[y->t0 + t].coef)
            return false;
    return true;
}

/* Suppress cell j and every cell that is the same count. */
static void suppress(audit *a, size_t j)
{
    model *m = a->m;
    for (size_t i = 0; i < m->ncells; i++) {
        cell *c = &m->cells[i];
        if (i != j && (c->fixed || c->pinned || (c->state != ST_ROUNDED && c->state != ST_SMALL) ||
                       !same_terms(m, c, &m->cells[j])))
            continue;
        c->state = ST_SECONDARY;
        c->done = false;
        set_cell_bounds(a, c);
        a->st->secondary++;
    }
}

/* Whether cell j may be suppressed to protect another: a published count
 * (rounded first; a small one, shown as suppressed instead of <5, when no
 * rounded one helps) that is not fixed. */
static bool candidate(const cell *c, int state)
{
    return !c->fixed && !c->pinned && c->state == state;
}

static bool better(const model *m, long best, size_t j)
{
    if (best < 0)
        return true;
    const cell *b = &m->cells[best], *c = &m->cells[j];
    return c->prio < b->prio || (c->prio == b->prio && c->shown < b->shown);
}

static bool touches(const model *m, size_t t0, size_t nt, const bool *var)
{
    for (size_t t = 0; t < nt; t++)
        if (var[m->terms[t0 + t].var])
            return true;
    return false;
}

static void reach(const model *m, size_t t0, size_t nt, bool *var)
{
    for (size_t t = 0; t < nt; t++)
        var[m->terms[t0 + t].var] = true;
}

/* The nearest candidate to cell i, breadth first over the variables that
 * cells and structural rows tie together: the best of the first ring that
 * has a rounded one, else a small one; -1 if none. */
static long nearest_candidate(const model *m, size_t i)
{
    bool *seen = calloc(m->ncells + 1, 1), *var = calloc(m->nvars + 1, 1);
    bool *ring = calloc(m->ncells + 1, 1);
    long best = -1;
    if (seen && var && ring) {
        seen[i] = true;
        reach(m, m->cells[i].t0, m->cells[i].nt, var);
        for (bool grew = true; best < 0 && grew;) {
            grew = false;
            for (size_t r = 0; r < m->nrows; r++)
                if (touches(m, m->rows[r].t0, m->rows[r].nt, var))
                    reach(m, m->rows[r].t0, m->rows[r].nt, var);
            long small = -1;
            for (size_t j = 0; j < m->ncells; j++) {
                const cell *c = &m->cells[j];
                ring[j] = !seen[j] && touches(m, c->t0, c->nt, var);
                if (!ring[j])
                    continue;
                grew = true;
                if (candidate(c, ST_ROUNDED) && better(m, best, j))
                    best = (long)j;
                if (candidate(c, ST_SMALL) && better(m, small, j))
                    small = (long)j;
            }
            for (size_t j = 0; j < m->ncells; j++)
                if (ring[j]) {
                    seen[j] = true;
                    reach(m, m->cells[j].t0, m->cells[j].nt, var);
                }
            if (best < 0)
                best = small;
        }
    }
    free(seen);
    free(var);
    free(ring);
    return best;
}

/* The count to suppress next when cell i is narrowed: among the counts
 * whose bounds limit cell i in the relaxed program (non-zero reduced cost),
 * the least important and smallest rounded one, else a small one (cell i
 * itself included), shown as suppressed instead of <5; failing that (the
 * narrowing comes from whole numbers alone), the nearest by shared
 * variables. A narrowed small count is first itself shown as suppressed:
 * it then needs 5 possible values, not all of 0 to 4, and nothing larger
 * is hidden. -1 if none can be. */
static long choose_secondary(audit *a, size_t i)
{
    model *m = a->m;
    long best = -1, small = -1;
    if (candidate(&m->cells[i], ST_SMALL))
        return (long)i; /* "suppressed" in place of "<5" hides the least */
    set_presolve(a->lp, PRESOLVE_SENSDUALS, get_presolveloops(a->lp));
    for (int dir = 0; dir < 2; dir++) {
        double v;
        REAL *duals, *from, *till;
        if (relaxed(a, i, dir == 1, &v) != WYE_OK || v >= INF ||
            !get_ptr_sensitivity_rhs(a->lp, &duals, &from, &till))
            continue;
        int nrows = get_Nrows(a->lp);
        for (size_t j = 0; j < m->ncells; j++) {
            const cell *c = &m->cells[j];
            if (fabs(duals[nrows + (int)c->col - 1]) <= 1e-9)
                continue;
            if (candidate(c, ST_ROUNDED) && better(m, best, j))
                best = (long)j;
            if (candidate(c, ST_SMALL) && better(m, small, j))
                small = (long)j;
        }
    }
    set_presolve(a->lp, PRESOLVE_NONE, get_presolveloops(a->lp));
    if (best < 0)
        best = small;
    return best >= 0 ? best : nearest_candidate(m, i);
}

/* 0 if cell i keeps its whole range, 1 if narrowed. A small count must be
 * able to be its floor (0, or 1 where its meaning implies one) and 4; a
 * suppressed larger count must keep 5 values or more. */
static int narrowed(audit *a, size_t i)
{
    cell *c = &a->m->cells[i];
    if (c->state == ST_SMALL) {
        if (!c->lo_ok && feasible(a, i, 0, (double)c->floor) != 1)
            return 1;
        if (!c->hi_ok && feasible(a, i, WYE_DISCLOSURE_BASE - 1, WYE_DISCLOSURE_BASE - 1) != 1)
            return 1;
        c->lo_ok = c->hi_ok = true;
        return 0;
    }
    double lo, hi;
    if (relaxed(a, i, false, &lo) || relaxed(a, i, true, &hi))
        return 1;
    lo = ceil(lo - 1e-6);
    hi = hi >= INF ? lo + WYE_DISCLOSURE_BASE - 1 : floor(hi + 1e-6);
    if (hi - lo < WYE_DISCLOSURE_BASE - 1)
        return 1;
    return feasible(a, i, lo, lo) != 1 || feasible(a, i, hi, hi) != 1;
}

static int check_cell(audit *a, size_t i)
{
    for (;;) {
        if (!narrowed(a, i)) {
            a->m->cells[i].done = true;
            return WYE_OK;
        }
        long j = choose_secondary(a, i);
        if (j < 0) {
            wye_diag_set(a->d, 0, a->m->cells[i].path,
                         "a suppressed count can be worked out from what is published");
            return WYE_EFORMAT;
        }
        suppress(a, (size_t)j);
    }
}

static int run_audit(model *m, const wye_disclosure_params *p, wye_disclosure_stats *st,
                     wye_diag *d)
{
    audit a = {.m = m, .p = p, .st = st, .d = d};
    int rc = build_program(&a);
    if (!rc) {
        /* The truth satisfies every constraint: if nothing does, the trees
         * contradict each other (or the model is wrong). */
        set_obj_fnex(a.lp, 0, NULL, NULL);
        int r = solve(a.lp);
        st->solves++;
        if (r != OPTIMAL && r != SUBOPTIMAL) {
            wye_diag_set(d, 0, "", "the counts contradict each other");
            rc = WYE_EFORMAT;
        } else {
            harvest(&a);
            settle_in_bulk(&a);
        }
    }
    for (bool again = true; !rc && again;) {
        again = false;
        for (size_t i = 0; !rc && i < m->ncells; i++) {
            cell *c = &m->cells[i];
            if ((c->state == ST_SMALL || c->state == ST_SECONDARY) && !c->done) {
                rc = check_cell(&a, i);
                again = true;
            }
        }
    }
    free(a.val);
    free(a.idx);
    if (a.lp)
        delete_lp(a.lp);
    return rc;
}

/* ---- publishing ------------------------------------------------------------ */

void wye_disclosure_default_params(wye_disclosure_params *p)
{
    memset(p, 0, sizeof *p);
    p->solve_seconds = 10;
}

int wye_disclosure_is_exact(const json_t *tree)
{
    const char *dsc = json_string_value(json_object_get(tree, "disclosure"));
    const char *sc = json_string_value(json_object_get(tree, "small_counts"));
    return (dsc && !strcmp(dsc, WYE_DISCLOSURE_EXACT)) || (!dsc && sc && !strcmp(sc, "exact"));
}

/* How a summary's counts are to be read. */
static int summary_mode(const json_t *s)
{
    const char *dsc = json_string_value(json_object_get(s, "disclosure"));
    if (wye_disclosure_is_exact(s))
        return MODE_EXACT;
    return dsc && !strcmp(dsc, WYE_DISCLOSURE_RULE) ? MODE_RULE : MODE_OTHER;
}

/* The first published form of each count still to be published: by the
 * rule, or the form of the published count it equals. */
static void initial_states(model *m, bool exact)
{
    for (size_t i = 0; i < m->ncells; i++) {
        cell *c = &m->cells[i];
        if (c->fixed)
            continue;
        c->shown = exact ? c->exact : round_base(c->exact);
        c->state = exact ? ST_EXACT : c->exact < WYE_DISCLOSURE_BASE ? ST_SMALL : ST_ROUNDED;
        for (size_t j = 0; !exact && j < m->ncells; j++)
            if (m->cells[j].fixed && same_terms(m, c, &m->cells[j])) {
                c->state = m->cells[j].state;
                c->shown = m->cells[j].shown;
                c->pinned = true;
                break;
            }
    }
}

/* What the attacker may assume from a count's meaning: each agency listed
 * sent at least one record, so knows at least one person (added where
 * true, or where the records are published as 5 or more), and the largest
 * person has at least one record. Such a count's floor is 1. */
static void implied_rows(model *m)
{
    bool any_records = false;
    for (size_t a = 0; a < m->na; a++) {
        const cell *rc = m->have_records[a] ? &m->cells[m->c_records[a]] : NULL;
        bool some = rc && (rc->exact >= 1 || rc->state == ST_ROUNDED ||
                           (rc->state == ST_EXACT && rc->shown >= 1));
        any_records |= some;
        if (!some)
            continue;
        m->cells[m->c_records[a]].floor = 1;
        if (m->c_pp[a] >= 0)
            m->cells[m->c_pp[a]].floor = 1;
        size_t r = begin_row(m);
        add_sum(m, 1u << a, SUM_SUPERSET, 1);
        end_row(m, r, GE, 1);
    }
    if (any_records && m->c_largest >= 0) {
        m->cells[m->c_largest].floor = 1;
        size_t r = begin_row(m);
        add_cell_terms(m, (size_t)m->c_largest, 1);
        end_row(m, r, GE, 1);
    }
}

static int write_back(model *m)
{
    for (size_t i = 0; i < m->ncells; i++) {
        const cell *c = &m->cells[i];
        if (c->fixed)
            continue;
        json_t *v = c->state == ST_SMALL       ? json_string(WYE_DISCLOSURE_SMALL)
                    : c->state == ST_SECONDARY ? json_string(WYE_DISCLOSURE_SUPPRESSED)
                                               : json_integer((json_int_t)c->shown);
        int bad = !v || (c->key ? json_object_set_new(c->parent, c->key, v)
                                : json_array_set_new(c->parent, c->idx, v));
        if (bad)
            return WYE_ENOMEM;
    }
    return WYE_OK;
}

/* Set key to v in o just after the key `after` (or at the end), keeping
 * the order of the others (the trees are written with JSON_PRESERVE_ORDER). */
static int set_after(json_t *o, const char *after, const char *key, json_t *v)
{
    if (!v)
        return WYE_ENOMEM;
    if (json_object_get(o, key) || !json_object_get(o, after))
        return json_object_set_new(o, key, v) ? WYE_ENOMEM : WYE_OK;
    json_t *copy = json_object();
    const char *k;
    json_t *x;
    int bad = !copy;
    json_object_foreach(o, k, x) {
        bad |= !copy || json_object_set(copy, k, x);
        if (!strcmp(k, after))
            bad |= !copy || json_object_set(copy, key, v);
    }
    json_decref(v);
    if (bad || json_object_clear(o) || json_object_update(o, copy)) {
        json_decref(copy);
        return WYE_ENOMEM;
    }
    json_decref(copy);
    return WYE_OK;
}

static int mark(json_t *tree, bool exact, const char *after)
{
    int rc = set_after(tree, after, "disclosure",
                       json_string(exact ? WYE_DISCLOSURE_EXACT : WYE_DISCLOSURE_RULE));
    if (!rc && json_object_get(tree, "small_counts"))
        rc = json_object_set_new(tree, "small_counts",
                                 json_string(exact ? "exact: internal use only, not for publication"
                                                   : "counts below 5 shown as <5, others rounded "
                                                     "to the nearest 5, and counts that would "
                                                     "reveal a small one shown as suppressed "
                                                     "(linker/DISCLOSURE.md)"))
                 ? WYE_ENOMEM
                 : WYE_OK;
    return rc;
}

int wye_disclosure_publish(json_t *summary, json_t *const *quality, size_t nquality,
                           const wye_disclosure_params *p, wye_disclosure_stats *st,
                           wye_diag *diag)
{
    wye_disclosure_params dp;
    wye_disclosure_stats dst;
    if (!p) {
        wye_disclosure_default_params(&dp);
        p = &dp;
    }
    if (!st)
        st = &dst;
    memset(st, 0, sizeof *st);
    wye_diag_clear(diag);
    if ((!summary && !nquality) || (nquality && !quality) || (summary && !json_is_object(summary)))
        return WYE_EINVAL;
    model m = {.c_total = -1, .c_unique = -1, .c_largest = -1};
    for (size_t a = 0; a < WYE_DISCLOSURE_MAX_AGENCIES; a++)
        m.c_pp[a] = -1;
    int rc = WYE_OK, mode = summary ? summary_mode(summary) : MODE_EXACT;
    if (summary) {
        /* intersections added to a published summary by wyelink report */
        json_t *ie = json_object_get(summary, "intersections_exact");
        int imode = json_is_true(ie) ? MODE_EXACT : mode;
        rc = summary_model(&m, summary, mode, imode, diag);
        if (!rc && ie)
            json_object_del(summary, "intersections_exact");
    }
    for (size_t q = 0; !rc && q < nquality; q++)
        rc = quality_model(&m, quality[q], diag);
    if (!rc && m.oom)
        rc = WYE_ENOMEM;
    if (!rc) {
        initial_states(&m, p->exact);
        implied_rows(&m);
        for (size_t i = 0; i < m.ncells; i++)
            st->cells += !m.cells[i].fixed;
    }
    if (!rc && m.oom)
        rc = WYE_ENOMEM;
    if (!rc && !p->exact)
        rc = run_audit(&m, p, st, diag);
    if (!rc)
        rc = write_back(&m);
    for (size_t i = 0; !rc && i < m.ncells; i++)
        st->small += !m.cells[i].fixed && m.cells[i].state == ST_SMALL;
    if (!rc && summary && mode == MODE_EXACT)
        rc = mark(summary, p->exact, "small_counts");
    for (size_t q = 0; !rc && q < nquality; q++)
        rc = mark(quality[q], p->exact, "version");
    free_model(&m);
    return rc;
}

int wye_disclosure_apply(const json_t *exact_summary, const wye_disclosure_params *p,
                         json_t **published, wye_diag *diag)
{
    *published = NULL;
    if (!json_is_object(exact_summary))
        return WYE_EINVAL;
    if (!wye_disclosure_is_exact(exact_summary)) {
        wye_diag_set(diag, 0, "small_counts", "the summary's counts are not exact");
        return WYE_EJSON;
    }
    json_t *copy = json_deep_copy(exact_summary);
    if (!copy)
        return WYE_ENOMEM;
    int rc = wye_disclosure_publish(copy, NULL, 0, p, NULL, diag);
    if (rc) {
        json_decref(copy);
        return rc;
    }
    *published = copy;
    return WYE_OK;
}

/* Advance idx (k agency numbers, increasing) to the next combination of k
 * of n in lexicographic order; 0 after the last. */
static int next_combination(unsigned *idx, unsigned k, unsigned n)
{
    unsigned i = k;
    while (i-- > 0)
        if (idx[i] < n - k + i) {
            idx[i]++;
            for (unsigned j = i + 1; j < k; j++)
                idx[j] = idx[j - 1] + 1;
            return 1;
        }
    return 0;
}

json_t *wye_disclosure_intersections(const char *const *agency, size_t n, const uint64_t *count)
{
    json_t *list = n && n <= WYE_DISCLOSURE_MAX_AGENCIES ? json_array() : NULL;
    int bad = !list;
    for (unsigned size = 1; !bad && size <= n; size++) {
        unsigned idx[WYE_DISCLOSURE_MAX_AGENCIES];
        for (unsigned i = 0; i < size; i++)
            idx[i] = i;
        do {
            uint32_t m = 0;
            json_t *ag = json_array();
            for (unsigned i = 0; i < size; i++) {
                m |= 1u << idx[i];
                bad |= json_array_append_new(ag, json_string(agency[idx[i]]));
            }
            bad |= json_array_append_new(list, json_pack("{s:o,s:I}", "agencies", ag, "persons",
                                                         (json_int_t)count[m]));
        } while (!bad && next_combination(idx, size, (unsigned)n));
    }
    if (bad) {
        json_decref(list);
        return NULL;
    }
    return list;
}
