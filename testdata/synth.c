/* The synthetic multi-agency generator (include/wyelink/synth.h,
 * testdata/README.md): its settings and life, and the writing of one
 * agency's extract and truth. The parts live beside it (synth_internal.h):
 * the population in synth_population.c, the errors in synth_errors.c, the
 * layouts in synth_layouts.c and the name lists in synth_lists.c.
 *
 * Each person, each record and each agency's row order has its own random
 * stream keyed by (seed, purpose, ids), so a person is regenerated wherever
 * needed instead of stored, and nothing depends on the order of writing. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "synth_internal.h"
#include "wyelink/synth.h"

static const char *const agency_names[NA] = {"police", "gp",   "asc",    "wmwa",
                                             "marac",  "idva", "housing"};

void wye_synth_default_settings(wye_synth_settings *s)
{
    memset(s, 0, sizeof *s);
    s->seed = 1;
    s->scale = 1.0;
    s->extract_date = WYE_SYNTH_DEFAULT_EXTRACT_DATE;
    s->error_level = 1.0;
}

const char *wye_synth_agency_name(unsigned agency)
{
    return agency < NA ? agency_names[agency] : NULL;
}

int wye_synth_agency_index(const char *name)
{
    for (int a = 0; name && a < NA; a++)
        if (!strcmp(name, agency_names[a]))
            return a;
    return -1;
}

int wye_synth_new(const wye_synth_settings *s, wye_synth **out)
{
    if (!s || !out)
        return WYE_EINVAL;
    *out = NULL;
    if (!(s->scale > 0 && s->scale <= WYE_SYNTH_MAX_SCALE) ||
        !(s->error_level >= 0 && s->error_level <= WYE_SYNTH_MAX_ERROR_LEVEL))
        return WYE_ERANGE;
    int ey = (int)(s->extract_date / 10000);
    unsigned em = s->extract_date / 100 % 100, ed = s->extract_date % 100;
    if (ey < 1950 || ey > 2100 || em < 1 || em > 12 || ed < 1 ||
        ed > synth_days_in_month(ey, em))
        return WYE_ERANGE;

    wye_synth *g = calloc(1, sizeof *g);
    if (!g)
        return WYE_ENOMEM;
    g->s = *s;
    g->ey = ey;
    g->em = em;
    g->ed = ed;
    g->eday = synth_days_from_civil(ey, em, ed);
    int rc = synth_lists_load(&g->lists);
    if (rc) {
        free(g);
        return rc;
    }

    synth_population_plan(g);
    synth_rates_scale(g->r, s->error_level);
    *out = g;
    return WYE_OK;
}

void wye_synth_free(wye_synth *g)
{
    if (!g)
        return;
    synth_lists_free(&g->lists);
    free(g);
}

uint64_t wye_synth_persons(const wye_synth *g)
{
    return g ? g->npersons : 0;
}

double wye_synth_expected_records(const wye_synth *g, unsigned agency)
{
    return g && agency < NA ? g->expected[agency] : 0;
}

/* ---------------------------------------------------------------- writing */

/* Every (person, repeat) of agency a as p << 5 | repeat, in the seed's
 * shuffled order: the rows of one person are not next to each other. *ent
 * (n entries, owned by the caller) is counted per block of persons first so
 * that both passes run in parallel. */
static int agency_entries(const wye_synth *g, int a, int nt, uint64_t **ent, size_t *n)
{
    const uint64_t block = 1 << 16, nblocks = (g->npersons + block - 1) / block;
    size_t *start = calloc(nblocks + 1, sizeof *start);
    if (!start)
        return WYE_ENOMEM;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (uint64_t b = 0; b < nblocks; b++) {
        size_t c = 0;
        for (uint64_t p = b * block; p < (b + 1) * block && p < g->npersons; p++) {
            membership m;
            synth_membership(g, p, &m);
            c += m.nrec[a];
        }
        start[b + 1] = c;
    }
    for (uint64_t b = 0; b < nblocks; b++)
        start[b + 1] += start[b];
    const size_t count = start[nblocks];
    uint64_t *e = malloc((count ? count : 1) * sizeof *e);
    if (!e) {
        free(start);
        return WYE_ENOMEM;
    }
#pragma omp parallel for schedule(static) num_threads(nt)
    for (uint64_t b = 0; b < nblocks; b++) {
        size_t j = start[b];
        for (uint64_t p = b * block; p < (b + 1) * block && p < g->npersons; p++) {
            membership m;
            synth_membership(g, p, &m);
            for (unsigned k = 0; k < m.nrec[a]; k++)
                e[j++] = p << 5 | k;
        }
    }
    free(start);
    synth_rng r;
    synth_rng_init(&r, g->s.seed, STREAM_SHUFFLE, (uint64_t)a, 0);
    for (size_t i = count; i > 1; i--) {
        size_t j = (size_t)synth_below(&r, i);
        uint64_t t = e[i - 1];
        e[i - 1] = e[j];
        e[j] = t;
    }
    *ent = e;
    *n = count;
    return WYE_OK;
}

int wye_synth_write_agency(const wye_synth *g, unsigned agency, wye_sink csv, wye_sink truth,
                           wye_synth_progress_fn progress, void *progress_ctx, uint64_t *rows)
{
    if (!g || agency >= NA || !csv.write || !truth.write)
        return WYE_EINVAL;
    if (rows)
        *rows = 0;
    const int a = (int)agency;
    const int nt = g->s.threads ? (int)g->s.threads : omp_get_max_threads();
    uint64_t *ent;
    size_t n;
    int rc = agency_entries(g, a, nt, &ent, &n);
    if (rc)
        return rc;

    const bool cp1252 = strcmp(wye_synth_encoding(agency), "utf-8") != 0;
    out head = {.cp1252 = cp1252};
    synth_write_header(&head, a);
    rc = head.err ? head.err : csv.write(csv.ctx, head.buf, head.n);
    free(head.buf);

    /* Chunks of rows are formatted in parallel and written in order, so the
     * bytes do not depend on the number of threads. */
    const size_t chunk = 4096, nchunks = (n + chunk - 1) / chunk;
#pragma omp parallel num_threads(nt)
    {
        out oc = {.cp1252 = cp1252}, ot = {0};
#pragma omp for ordered schedule(static, 1)
        for (size_t k = 0; k < nchunks; k++) {
            const size_t end = (k + 1) * chunk < n ? (k + 1) * chunk : n;
            oc.n = ot.n = 0;
            for (size_t i = k * chunk; i < end; i++) {
                uint64_t p = ent[i] >> 5;
                unsigned rep = (unsigned)(ent[i] & 31);
                membership m;
                person x;
                record rec;
                synth_membership(g, p, &m);
                synth_make_person(g, p, &m, &x);
                synth_make_record(g, a, &x, rep, &rec);
                synth_write_row(&oc, g, a, &x, rep, &rec, i, n);
                synth_write_truth(&ot, g, a, p, i, n);
            }
#pragma omp ordered
            {
                if (!rc)
                    rc = oc.err ? oc.err : ot.err;
                if (!rc && oc.n)
                    rc = csv.write(csv.ctx, oc.buf, oc.n);
                if (!rc && ot.n)
                    rc = truth.write(truth.ctx, ot.buf, ot.n);
                if (!rc && progress)
                    progress(progress_ctx, end);
            }
        }
        free(oc.buf);
        free(ot.buf);
    }
    free(ent);
    if (!rc && rows)
        *rows = n;
    return rc;
}
