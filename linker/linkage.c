/* The linkage pipeline: candidates, EM, thresholds, kept pairs, clusters,
 * and the writers of its results. */
#include "wyelink/linkage.h"

#include <assert.h>
#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wyelink/disclosure.h"
#include "wyelink/version.h"

struct wye_linkage {
    const wye_recset *s;
    const wye_recview *v;
    wye_link_params p;
    wye_fs *fs;
    wye_blocks *blocks;
    wye_link_stats st;
    uint32_t *person;
    wye_link_pair *pairs;
    size_t npairs;
    char how[512];
    struct patvec *store; /* pass 1 patterns, one per part */
    size_t nstore;
};

void wye_link_default_params(wye_link_params *p)
{
    memset(p, 0, sizeof *p);
    wye_blocking_default_params(&p->blocking);
    wye_fs_default_params(&p->fs);
    p->match_posterior = 0.5;
    p->possible_posterior = 0.05;
    p->within_weight = 5.0;
    p->conflict_weight = -5.0;
    p->max_cluster = 1000;
    p->u_samples = 4000000;
    p->record_dice_auto = true;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void free_store(wye_linkage *l);

void wye_linkage_free(wye_linkage *l)
{
    if (!l)
        return;
    wye_fs_free(l->fs);
    wye_blocks_free(l->blocks);
    free_store(l);
    free(l->person);
    free(l->pairs);
    free(l);
}

/* ---- pass 1: pattern counts -------------------------------------------- */

#define PATTERN_STORE_MAX ((uint64_t)2 << 30) /* bytes */

/* The patterns of one part's candidates, in the order the part produces
 * them: pass 2 walks the same pairs in the same order and reads them back
 * instead of comparing the records again (2 bytes a candidate when the model
 * has at most 65,536 patterns, else 4). */
typedef struct patvec {
    void *p;
    size_t n, cap;
    int wide;
    int err;
} patvec;

static inline void patvec_push(patvec *v, uint32_t pat)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 4096;
        void *q = realloc(v->p, cap * (v->wide ? 4 : 2));
        if (!q) {
            v->err = WYE_ENOMEM;
            return;
        }
        v->p = q;
        v->cap = cap;
    }
    if (v->wide)
        ((uint32_t *)v->p)[v->n++] = pat;
    else
        ((uint16_t *)v->p)[v->n++] = (uint16_t)pat;
}

static void free_store(wye_linkage *l)
{
    for (size_t k = 0; l->store && k < l->nstore; k++)
        free(l->store[k].p);
    free(l->store);
    l->store = NULL;
    l->nstore = 0;
}

static inline uint32_t patvec_get(const patvec *v, size_t k)
{
    return v->wide ? ((const uint32_t *)v->p)[k] : ((const uint16_t *)v->p)[k];
}

typedef struct count_ctx {
    const wye_fs *fs;
    const wye_recview *v;
    uint64_t *hist;
    uint64_t pairs;
    patvec *pv; /* the current part's patterns */
} count_ctx;

static int count_pair(void *ctx, uint32_t a, uint32_t b)
{
    count_ctx *c = ctx;
    uint32_t pat = wye_fs_pattern(c->fs, c->v, a, b);
    c->hist[pat]++;
    c->pairs++;
    if (!c->pv)
        return 0;
    patvec_push(c->pv, pat);
    return c->pv->err;
}

/* ---- pass 2: kept pairs ------------------------------------------------- */

typedef struct keep_ctx {
    const wye_fs *fs;
    const wye_recview *v;
    double min;
    const patvec *pv; /* the part's patterns from pass 1 */
    size_t k;
    wye_edge *e;
    size_t n, cap;
    int err;
} keep_ctx;

static int keep_pair(void *ctx, uint32_t a, uint32_t b)
{
    keep_ctx *c = ctx;
    uint32_t pat;
    if (c->pv) {
        assert(c->k < c->pv->n);
        pat = patvec_get(c->pv, c->k++);
    } else {
        pat = wye_fs_pattern(c->fs, c->v, a, b);
    }
    if (wye_fs_score_bound(c->fs, pat) < c->min)
        return 0;
    double w = wye_fs_score_pattern(c->fs, pat, a, b);
    if (w < c->min)
        return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 1024;
        wye_edge *e = realloc(c->e, cap * sizeof *e);
        if (!e)
            return WYE_ENOMEM;
        c->e = e;
        c->cap = cap;
    }
    c->e[c->n++] = (wye_edge){a, b, w};
    return 0;
}

static int cmp_edge_ab(const void *x, const void *y)
{
    const wye_edge *a = x, *b = y;
    if (a->a != b->a)
        return a->a < b->a ? -1 : 1;
    return a->b < b->b ? -1 : a->b > b->b;
}

typedef struct score_ctx {
    const wye_fs *fs;
    const wye_recview *v;
} score_ctx;

static double score_pair(void *ctx, uint32_t a, uint32_t b)
{
    score_ctx *c = ctx;
    return wye_fs_score(c->fs, c->v, a, b, NULL);
}

/* Report progress; true when the caller asks to stop. */
static bool report(const wye_linkage *l, const char *stage, uint64_t done, uint64_t total)
{
    return l->p.progress && l->p.progress(l->p.progress_ctx, stage, done, total) != 0;
}

/* Run fn over every part on nt threads; per-thread contexts are made by the
 * caller. Progress is reported by thread 0 only. After a failure, or once
 * the progress callback asks to stop (WYE_ECANCELLED), the parts not yet
 * started are skipped. */
typedef int (*part_fn)(void *ctx, size_t part);

static int for_parts(wye_linkage *l, const char *stage, int nt, part_fn fn, void **ctxs)
{
    size_t np = wye_blocks_nparts(l->blocks);
    uint64_t total = 0;
    for (size_t k = 0; k < np; k++)
        total += wye_blocks_part_work(l->blocks, k);
    uint64_t done = 0;
    int err = WYE_OK;
#pragma omp parallel num_threads(nt)
    {
        void *ctx = ctxs[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 1)
        for (size_t k = 0; k < np; k++) {
            int r;
#pragma omp atomic read
            r = err;
            if (r != WYE_OK)
                continue;
            r = fn(ctx, k);
            uint64_t w = wye_blocks_part_work(l->blocks, k), d;
#pragma omp atomic capture
            d = done += w;
            if (r == WYE_OK && omp_get_thread_num() == 0 && report(l, stage, d, total))
                r = WYE_ECANCELLED;
            if (r != WYE_OK) {
#pragma omp atomic write
                err = r;
            }
        }
    }
    if (err == WYE_OK && report(l, stage, total, total))
        err = WYE_ECANCELLED;
    return err;
}

typedef struct count_part {
    count_ctx c;
    const wye_blocks *b;
    patvec *store; /* one per part */
} count_part;

static int count_part_fn(void *ctx, size_t part)
{
    count_part *cp = ctx;
    cp->c.pv = cp->store ? &cp->store[part] : NULL;
    return wye_blocks_pairs(cp->b, part, count_pair, &cp->c);
}

typedef struct keep_part {
    const wye_blocks *b;
    const wye_fs *fs;
    const wye_recview *v;
    double min;
    keep_ctx *parts; /* one per part: results merge in part order */
    const patvec *store;
} keep_part;

static int keep_part_fn(void *ctx, size_t part)
{
    keep_part *kp = ctx;
    keep_ctx *kc = &kp->parts[part];
    kc->fs = kp->fs;
    kc->v = kp->v;
    kc->min = kp->min;
    kc->pv = kp->store ? &kp->store[part] : NULL;
    kc->k = 0;
    return wye_blocks_pairs(kp->b, part, keep_pair, kc);
}

/* ---- the steps of a run -------------------------------------------------- */

static bool params_valid(const wye_link_params *p)
{
    return p->match_posterior > 0 && p->match_posterior < 1 && p->possible_posterior > 0 &&
           p->possible_posterior <= p->match_posterior && p->conflict_weight <= p->within_weight &&
           p->u_samples > 0;
}

/* A result for s holding the model's comparisons; no work done yet. */
static int link_new(const wye_recset *s, const wye_recview *v, const wye_link_params *p,
                    wye_linkage **out, wye_diag *diag)
{
    wye_linkage *l = calloc(1, sizeof *l);
    if (!l)
        return WYE_ENOMEM;
    l->s = s;
    l->v = v;
    l->p = *p;
    size_t n = v->n;
    l->st.records = n;
    l->st.all_pairs = (uint64_t)n * (n ? n - 1 : 0) / 2;
    wye_fs_params fsp = p->fs;
    if (p->record_dice_auto) {
        bool any_ff = false;
        for (size_t f = 0; f < wye_protocol_nfields(v->protocol); f++)
            any_ff = any_ff || wye_protocol_layout(v->protocol)->field_filter_bytes[f] > 0;
        fsp.record_dice = fsp.record_dice || !any_ff;
    }
    l->p.fs.record_dice = fsp.record_dice; /* as used, for the report */
    int rc = wye_fs_new(v->protocol, &fsp, &l->fs);
    if (rc != WYE_OK) {
        wye_diag_set(diag, 0, "scoring", "the protocol gives no comparison the model can use");
        wye_linkage_free(l);
        return rc;
    }
    *out = l;
    return WYE_OK;
}

static int link_block(wye_linkage *l, wye_diag *diag)
{
    double t0 = now();
    if (report(l, "blocking", 0, 1))
        return WYE_ECANCELLED;
    int rc = wye_blocks_build(l->v, &l->p.blocking, l->p.threads, &l->blocks);
    if (rc != WYE_OK)
        wye_diag_set(diag, 0, "blocking", "cannot build the blocks");
    else if (report(l, "blocking", 1, 1))
        rc = WYE_ECANCELLED;
    l->st.seconds_blocking = now() - t0;
    return rc;
}

/* Keep pass 1's patterns for pass 2 unless that would take too much memory
 * (exhaustive runs): then pass 2 compares the records again. */
static int plan_store(wye_linkage *l, uint32_t npat)
{
    size_t np = wye_blocks_nparts(l->blocks);
    uint64_t work = 0;
    for (size_t k = 0; k < np; k++)
        work += wye_blocks_part_work(l->blocks, k);
    if (work > PATTERN_STORE_MAX / (npat > 65536 ? 4 : 2))
        return WYE_OK;
    l->nstore = np;
    l->store = calloc(np + 1, sizeof *l->store);
    if (!l->store)
        return WYE_ENOMEM;
    for (size_t k = 0; k < np; k++)
        l->store[k].wide = npat > 65536;
    return WYE_OK;
}

/* Pass 1: compare every candidate and add its pattern to hist (one counter
 * per pattern); each thread counts apart, the sums are merged after. */
static int link_count(wye_linkage *l, int nt, uint64_t *hist)
{
    double t0 = now();
    uint32_t npat = wye_fs_npatterns(l->fs);
    int rc = plan_store(l, npat);
    count_part *cps = calloc((size_t)nt, sizeof *cps);
    void **ctxs = calloc((size_t)nt, sizeof *ctxs);
    if (rc == WYE_OK && (!cps || !ctxs))
        rc = WYE_ENOMEM;
    for (int t = 0; t < nt && rc == WYE_OK; t++) {
        cps[t] = (count_part){.c = {.fs = l->fs, .v = l->v}, .b = l->blocks, .store = l->store};
        cps[t].c.hist = calloc(npat, sizeof *cps[t].c.hist);
        if (!cps[t].c.hist)
            rc = WYE_ENOMEM;
        ctxs[t] = &cps[t];
    }
    if (rc == WYE_OK)
        rc = for_parts(l, "candidates", nt, count_part_fn, ctxs);
    for (int t = 0; cps && t < nt; t++) {
        if (cps[t].c.hist)
            for (uint32_t k = 0; k < npat; k++)
                hist[k] += cps[t].c.hist[k];
        l->st.candidates += cps[t].c.pairs;
        free(cps[t].c.hist);
    }
    free(cps);
    free(ctxs);
    l->st.seconds_candidates = now() - t0;
    return rc;
}

/* The model (LINKING.md, "The model"; fsscore.h, "fitting the model"): u
 * from random pairs, m on anchored candidates with u held, the prior from the
 * fitted model, then term frequencies, all in wye_fs_fit. */
static int link_fit(wye_linkage *l, const uint64_t *hist, wye_diag *diag)
{
    double t0 = now();
    if (report(l, "model", 0, 1))
        return WYE_ECANCELLED;
    wye_fs_fit_params fp;
    wye_fs_default_fit_params(&fp);
    fp.u_samples = l->p.u_samples;
    fp.seed = l->p.blocking.seed;
    fp.threads = l->p.threads;
    wye_fs_fit_result fit;
    int rc = wye_fs_fit(l->fs, l->v, hist, &fp, &fit);
    if (rc != WYE_OK) {
        wye_diag_set(diag, 0, "scoring", "fitting the model failed");
        return rc;
    }
    l->st.em = fit.em;
    l->st.lambda_candidates = fit.lambda_candidates;
    l->st.expected_matches = fit.expected_matches;
    l->st.u_samples = fit.u_samples;
    l->st.prior = fit.prior;
    if (report(l, "model", 1, 1))
        rc = WYE_ECANCELLED;
    l->st.seconds_model = now() - t0;
    return rc;
}

/* The thresholds, given or from the model, and the sentence saying how. */
static void link_thresholds(wye_linkage *l)
{
    const wye_link_params *p = &l->p;
    l->st.match_auto = !p->match_given;
    l->st.possible_auto = !p->possible_given;
    l->st.match = p->match_given ? p->match
                                 : wye_fs_weight_for_posterior(l->fs, p->match_posterior);
    l->st.possible = p->possible_given
                         ? p->possible
                         : wye_fs_weight_for_posterior(l->fs, p->possible_posterior);
    if (l->st.possible > l->st.match)
        l->st.possible = l->st.match;
    l->st.within = p->within_weight;
    l->st.conflict = p->conflict_weight;
}

/* The automatic match threshold rises to the score from which the model
 * expects at most its max_false_share of the kept pairs to be false
 * (fsscore.h); then the sentence saying how the thresholds were set. */
static int link_raise_threshold(wye_linkage *l, const wye_edge *edges, size_t nk)
{
    const wye_link_params *p = &l->p;
    const wye_fs_fit_result *fit = wye_fs_fit_info(l->fs);
    bool raised = false;
    if (!p->match_given) {
        double *ks = malloc((nk + 1) * sizeof *ks), t = -INFINITY;
        for (size_t k = 0; ks && k < nk; k++)
            ks[k] = edges[k].score;
        int rc = ks ? wye_fs_weight_for_false_share(l->fs, ks, nk, fit->max_false_share, &t)
                    : WYE_ENOMEM;
        free(ks);
        if (rc != WYE_OK)
            return rc;
        raised = t > l->st.match;
        if (raised)
            l->st.match = t;
    }
    char mh[200], ph[160];
    if (p->match_given)
        snprintf(mh, sizeof mh, "match %.3f given", l->st.match);
    else if (raised)
        snprintf(mh, sizeof mh, "match %.3f: the score from which the model expects at most "
                 "%g of the pairs to be false matches", l->st.match, fit->max_false_share);
    else
        snprintf(mh, sizeof mh, "match %.3f: the weight at which the posterior match "
                 "probability is %g", l->st.match, p->match_posterior);
    if (p->possible_given)
        snprintf(ph, sizeof ph, "possible %.3f given", l->st.possible);
    else
        snprintf(ph, sizeof ph, "possible %.3f: the weight at which it is %g", l->st.possible,
                 p->possible_posterior);
    snprintf(l->how, sizeof l->how,
             "EM over the %llu candidate pairs expects %.0f matches among them, a prior of "
             "%.3g over all %llu pairs; %s; %s",
             (unsigned long long)l->st.candidates, l->st.expected_matches, l->st.prior,
             (unsigned long long)l->st.all_pairs, mh, ph);
    return WYE_OK;
}

/* Pass 2: the candidates at or above the possible-match threshold, as edges
 * sorted by (a, b); the parts' results are merged in part order. */
static int link_keep(wye_linkage *l, int nt, wye_edge **out, size_t *nout)
{
    double t0 = now();
    size_t np = wye_blocks_nparts(l->blocks);
    keep_part kp = {l->blocks, l->fs, l->v, l->st.possible, calloc(np + 1, sizeof(keep_ctx)),
                    l->store};
    void **ctxs = calloc((size_t)nt, sizeof *ctxs);
    int rc = kp.parts && ctxs ? WYE_OK : WYE_ENOMEM;
    if (rc == WYE_OK) {
        for (int t = 0; t < nt; t++)
            ctxs[t] = &kp;
        rc = for_parts(l, "scoring", nt, keep_part_fn, ctxs);
    }
    free(ctxs);
    size_t nk = 0;
    for (size_t k = 0; kp.parts && k < np; k++)
        nk += kp.parts[k].n;
    wye_edge *edges = rc == WYE_OK ? malloc((nk + 1) * sizeof *edges) : NULL;
    if (rc == WYE_OK && !edges)
        rc = WYE_ENOMEM;
    nk = 0;
    for (size_t k = 0; kp.parts && k < np; k++) {
        if (edges && kp.parts[k].n)
            memcpy(edges + nk, kp.parts[k].e, kp.parts[k].n * sizeof *edges);
        nk += kp.parts[k].n;
        free(kp.parts[k].e);
    }
    free(kp.parts);
    free_store(l); /* patterns are no longer needed */
    if (rc != WYE_OK) {
        free(edges);
        return rc;
    }
    qsort(edges, nk, sizeof *edges, cmp_edge_ab);
    l->st.kept = nk;
    l->st.seconds_scoring = now() - t0;
    *out = edges;
    *nout = nk;
    return WYE_OK;
}

/* Persons from the kept pairs, then each pair's decision. */
static int link_cluster(wye_linkage *l, const wye_edge *edges, size_t nk)
{
    double t0 = now();
    size_t n = l->v->n;
    l->person = malloc((n + 1) * sizeof *l->person);
    l->pairs = malloc((nk + 1) * sizeof *l->pairs);
    if (!l->person || !l->pairs)
        return WYE_ENOMEM;
    wye_cluster_params cp = {
        .match = l->st.match,
        .within = l->st.within,
        .cannot = l->st.conflict,
        .max_size = l->p.max_cluster,
    };
    score_ctx sc = {l->fs, l->v};
    if (report(l, "clustering", 0, 1))
        return WYE_ECANCELLED;
    int rc = wye_cluster(n, l->v->agency, edges, nk, &cp, score_pair, &sc, l->person,
                         &l->st.cluster);
    if (rc != WYE_OK)
        return rc;
    if (report(l, "clustering", 1, 1))
        return WYE_ECANCELLED;
    l->st.persons = l->st.cluster.clusters;
    for (size_t k = 0; k < nk; k++) {
        int d = edges[k].score >= l->st.match
                    ? (l->person[edges[k].a] == l->person[edges[k].b] ? 0 : 2)
                    : 1;
        l->pairs[k] = (wye_link_pair){edges[k].a, edges[k].b, edges[k].score, d};
        l->st.matches += d == 0;
        l->st.possibles += d == 1;
        l->st.conflicts += d == 2;
    }
    l->npairs = nk;
    l->st.seconds_clustering = now() - t0;
    return WYE_OK;
}

int wye_link_run(const wye_recset *s, const wye_link_params *p, wye_linkage **out,
                 wye_diag *diag)
{
    wye_diag_clear(diag);
    if (!s || !p || !out)
        return WYE_EINVAL;
    *out = NULL;
    const wye_recview *v = wye_recset_view(s);
    if (!v || !params_valid(p))
        return WYE_EINVAL;
    wye_linkage *l;
    int rc = link_new(s, v, p, &l, diag);
    if (rc != WYE_OK)
        return rc;
    int nt = p->threads ? (int)p->threads : omp_get_num_procs();
    uint64_t *hist = NULL;
    wye_edge *edges = NULL;
    size_t nk = 0;
    if ((rc = link_block(l, diag)) == WYE_OK &&
        !(hist = calloc(wye_fs_npatterns(l->fs), sizeof *hist)))
        rc = WYE_ENOMEM;
    if (rc == WYE_OK)
        rc = link_count(l, nt, hist);
    if (rc == WYE_OK)
        rc = link_fit(l, hist, diag);
    free(hist);
    if (rc == WYE_OK) {
        link_thresholds(l);
        rc = link_keep(l, nt, &edges, &nk);
    }
    if (rc == WYE_OK)
        rc = link_raise_threshold(l, edges, nk);
    if (rc == WYE_OK)
        rc = link_cluster(l, edges, nk);
    free(edges);
    if (rc != WYE_OK) {
        if (rc == WYE_ECANCELLED)
            wye_diag_set(diag, 0, "linkage", "stopped on request");
        wye_linkage_free(l);
        return rc;
    }
    *out = l;
    return WYE_OK;
}

const wye_link_stats *wye_linkage_stats(const wye_linkage *l)
{
    return &l->st;
}

const char *wye_linkage_how(const wye_linkage *l)
{
    return l->how;
}

uint32_t wye_linkage_person(const wye_linkage *l, size_t i)
{
    return l->person[i] + 1;
}

const wye_fs *wye_linkage_model(const wye_linkage *l)
{
    return l->fs;
}

const wye_blocks *wye_linkage_blocks(const wye_linkage *l)
{
    return l->blocks;
}

size_t wye_linkage_npairs(const wye_linkage *l)
{
    return l->npairs;
}

const wye_link_pair *wye_linkage_pair(const wye_linkage *l, size_t k)
{
    return k < l->npairs ? &l->pairs[k] : NULL;
}

size_t wye_linkage_model_nlevels(const wye_linkage *l)
{
    size_t k = 0;
    for (size_t c = 0; c < wye_fs_ncomparisons(l->fs); c++) {
        const wye_fs_comparison *co = wye_fs_comparison_at(l->fs, c);
        for (unsigned lev = 1; lev < co->nlevels; lev++)
            k += co->level_used[lev];
    }
    return k;
}

int wye_linkage_model_level(const wye_linkage *l, size_t k, wye_link_model_level *out)
{
    if (!l || !out)
        return WYE_EINVAL;
    for (size_t c = 0; c < wye_fs_ncomparisons(l->fs); c++) {
        const wye_fs_comparison *co = wye_fs_comparison_at(l->fs, c);
        for (unsigned lev = 1; lev < co->nlevels; lev++) {
            if (!co->level_used[lev] || k--)
                continue;
            double m = wye_fs_m(l->fs, c, lev), u = wye_fs_u(l->fs, c, lev);
            *out = (wye_link_model_level){co->name, wye_fs_level_name(lev), m, u, log2(m / u)};
            return WYE_OK;
        }
    }
    return WYE_ENOTFOUND;
}

const char *wye_link_decision_name(int decision)
{
    switch (decision) {
    case 0:
        return "match";
    case 1:
        return "possible";
    case 2:
        return "conflict";
    }
    return "unknown";
}

/* ---- writers ------------------------------------------------------------ */

static void pseudonym_hex(const wye_linkage *l, size_t i, char out[2 * WYE_PSEUDONYM_BYTES + 1])
{
    wye_hex(wye_rec(l->v, i) + l->v->layout->pseudonym_off, WYE_PSEUDONYM_BYTES, out);
}

int wye_linkage_write_persons(const wye_linkage *l, FILE *f)
{
    if (fputs("agency,record,person\n", f) == EOF)
        return WYE_EIO;
    char hex[2 * WYE_PSEUDONYM_BYTES + 1];
    for (size_t i = 0; i < l->v->n; i++) {
        pseudonym_hex(l, i, hex);
        if (fprintf(f, "%s,%s,%u\n", wye_recset_agency(l->s, l->v->agency[i]), hex,
                    l->person[i] + 1) < 0)
            return WYE_EIO;
    }
    return ferror(f) ? WYE_EIO : WYE_OK;
}

int wye_linkage_write_pairs(const wye_linkage *l, FILE *f)
{
    if (fputs("agency_a,record_a,agency_b,record_b,score,decision\n", f) == EOF)
        return WYE_EIO;
    char ha[2 * WYE_PSEUDONYM_BYTES + 1], hb[2 * WYE_PSEUDONYM_BYTES + 1];
    for (size_t k = 0; k < l->npairs; k++) {
        const wye_link_pair *p = &l->pairs[k];
        pseudonym_hex(l, p->a, ha);
        pseudonym_hex(l, p->b, hb);
        if (fprintf(f, "%s,%s,%s,%s,%.3f,%s\n", wye_recset_agency(l->s, l->v->agency[p->a]), ha,
                    wye_recset_agency(l->s, l->v->agency[p->b]), hb, p->score,
                    wye_link_decision_name(p->decision)) < 0)
            return WYE_EIO;
    }
    return ferror(f) ? WYE_EIO : WYE_OK;
}

/* A count for sharing: "<5" below 5 unless exact. */
/* Counts go into the tree exact; wye_disclosure_publish then applies the one
 * disclosure rule (DISCLOSURE.md) to the whole summary at once, since a cell
 * is safe only in the light of every other published cell. */
static json_t *count_json(uint64_t c, bool exact)
{
    (void)exact;
    return json_integer((json_int_t)c);
}

static json_t *real(double x)
{
    /* rounded so that the summary reads well and stays byte-stable */
    return json_real(round(x * 1e6) / 1e6);
}

/* Unique persons by each attribute value the records carry in clear
 * (PROTOCOL.md, attributes): for each attribute, the persons with at least
 * one record of each value, and those with none ("missing"). A person counts
 * once per value, and under every value their records show (an age band
 * that differs between extracts, several services). */
/* Persons by each attribute's values: over all persons (agency < 0), or over
 * the persons known to one agency, by the values that agency recorded. A
 * person counts once per value any of the records looked at carries. */
static json_t *profiles_json(const wye_linkage *l, bool exact, long agency)
{
    const wye_recview *v = l->v;
    const wye_protocol *p = v->protocol;
    size_t np = l->st.persons, na = wye_protocol_nattrs(p);
    const uint64_t known = 1ull << 63; /* the person has a record looked at */
    json_t *root = json_object();
    if (!root)
        return NULL;
    for (size_t a = 0; a < na; a++) {
        const wye_attr_spec *as = wye_protocol_attr(p, a);
        size_t nv = as->nvalues + 1; /* 0 = missing */
        /* bit v of mark[person] = a record of the person has value v */
        uint64_t *mark = calloc(np + 1, sizeof *mark);
        if (!mark) {
            json_decref(root);
            return NULL;
        }
        for (size_t i = 0; i < v->n; i++) {
            if (agency >= 0 && v->agency[i] != (unsigned long)agency)
                continue;
            unsigned x = wye_rec(v, i)[v->layout->attr_off + a];
            mark[l->person[i]] |= known;
            if (x < nv && x < 63)
                mark[l->person[i]] |= 1ull << x;
        }
        uint64_t counts[WYE_MAX_ATTR_VALUES + 1] = {0}, missing = 0;
        for (size_t pp = 0; pp < np; pp++) {
            if (!(mark[pp] & known))
                continue;
            if (!((mark[pp] & ~known) >> 1))
                missing++;
            for (size_t x = 1; x < nv && x < 63; x++)
                counts[x] += mark[pp] >> x & 1;
        }
        free(mark);
        json_t *o = json_object(), *vals = json_object();
        for (size_t x = 1; x < nv; x++)
            json_object_set_new(vals, as->values[x - 1], count_json(counts[x], exact));
        json_object_set_new(o, "values", vals);
        json_object_set_new(o, "missing", count_json(missing, exact));
        json_object_set_new(root, as->name, o);
    }
    return root;
}

/* The same profiles for each agency's persons (the report's per-agency
 * tables). */
static json_t *profiles_per_agency_json(const wye_linkage *l, bool exact)
{
    json_t *root = json_object();
    for (size_t a = 0; root && a < l->v->nagencies; a++) {
        json_t *pa = profiles_json(l, exact, (long)a);
        if (!pa) {
            json_decref(root);
            return NULL;
        }
        json_object_set_new(root, wye_recset_agency(l->s, a), pa);
    }
    return root;
}

/* Who knows whom: for each person, the agencies holding a record of them. */
typedef struct tallies {
    uint64_t *by_count;   /* [k]: persons known to k agencies */
    uint64_t *per_agency; /* [a]: persons with a record at agency a */
    uint64_t *overlap;    /* [x * na + y], x < y: persons known to both */
    uint64_t *excl;       /* [mask]: persons known to exactly the agencies of mask
                             (NULL above WYE_DISCLOSURE_MAX_AGENCIES) */
} tallies;

static void tallies_free(tallies *t)
{
    free(t->by_count);
    free(t->per_agency);
    free(t->overlap);
    free(t->excl);
}

static int tally_agencies(const wye_linkage *l, tallies *t)
{
    const wye_recview *v = l->v;
    size_t na = v->nagencies, np = l->st.persons;
    /* the agencies of each person as a bit set (na <= 65535, so in words) */
    size_t words = (na + 63) / 64;
    uint64_t *seen = calloc(np * words + 1, sizeof *seen);
    unsigned *list = malloc((na + 1) * sizeof *list);
    t->by_count = calloc(na + 2, sizeof *t->by_count);
    t->per_agency = calloc(na + 1, sizeof *t->per_agency);
    t->overlap = calloc(na * na + 1, sizeof *t->overlap);
    if (na <= WYE_DISCLOSURE_MAX_AGENCIES)
        t->excl = calloc((size_t)1 << na, sizeof *t->excl);
    int rc = WYE_ENOMEM;
    if (!seen || !list || !t->by_count || !t->per_agency || !t->overlap ||
        (na <= WYE_DISCLOSURE_MAX_AGENCIES && !t->excl))
        goto done;
    for (size_t i = 0; i < v->n; i++)
        seen[(size_t)l->person[i] * words + v->agency[i] / 64] |= 1ull << (v->agency[i] % 64);
    for (size_t pp = 0; pp < np; pp++) {
        size_t k = 0;
        for (size_t a = 0; a < na; a++)
            if (seen[pp * words + a / 64] >> (a % 64) & 1)
                list[k++] = (unsigned)a;
        t->by_count[k]++;
        if (t->excl)
            t->excl[seen[pp * words]]++; /* na <= 12: one word */
        for (size_t x = 0; x < k; x++) {
            t->per_agency[list[x]]++;
            for (size_t y = x + 1; y < k; y++)
                t->overlap[list[x] * na + list[y]]++;
        }
    }
    rc = WYE_OK;
done:
    free(seen);
    free(list);
    return rc;
}

static json_t *time_json(int64_t t)
{
    char buf[32];
    time_t tt = (time_t)t;
    struct tm tm;
    if (t <= 0 || !gmtime_r(&tt, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return json_null();
    return json_string(buf);
}

/* Each input, in agency order: where it came from and when (replays and
 * look-alikes show here: an old extract date, another signing key). */
static json_t *inputs_json(const wye_linkage *l)
{
    json_t *arr = json_array();
    for (size_t a = 0; a < l->v->nagencies; a++) {
        const wye_encfile_meta *m = wye_recset_meta(l->s, a);
        uint64_t bytes = 0;
        const uint8_t *dg = wye_recset_digest(l->s, a, &bytes);
        char hex[2 * WYE_RECFILE_DIGEST_BYTES + 1];
        json_t *o = json_object();
        json_object_set_new(o, "agency", json_string(wye_recset_agency(l->s, a)));
        if (dg)
            wye_hex(dg, WYE_RECFILE_DIGEST_BYTES, hex);
        json_object_set_new(o, "blake2b", dg ? json_string(hex) : json_null());
        json_object_set_new(o, "bytes", dg ? json_integer((json_int_t)bytes) : json_null());
        if (m) {
            wye_party_public signer;
            memcpy(signer.sign_pk, m->signer_pk, sizeof signer.sign_pk);
            wye_public_key_id(&signer, hex);
            json_object_set_new(o, "signer_key_id", json_string(hex));
            wye_hex(m->key_id, WYE_KEY_ID_BYTES, hex);
            json_object_set_new(o, "key_id", json_string(hex));
        } else {
            json_object_set_new(o, "signer_key_id", json_null());
            json_object_set_new(o, "key_id", json_null());
        }
        json_object_set_new(o, "extract_date",
                            m && m->extract_date[0] ? json_string(m->extract_date) : json_null());
        json_object_set_new(o, "created", m ? time_json(m->created) : json_null());
        json_array_append_new(arr, o);
    }
    return arr;
}

/* What was linked: the tool, the protocol, the linkage secret's key id, the
 * inputs. */
static void summary_head(const wye_linkage *l, json_t *root)
{
    const wye_protocol *proto = l->v->protocol;
    uint8_t fp[WYE_FINGERPRINT_BYTES];
    char hex[2 * WYE_FINGERPRINT_BYTES + 1];
    wye_protocol_fingerprint(proto, fp);
    wye_hex(fp, sizeof fp, hex);
    json_object_set_new(root, "tool", json_string("wyelink link"));
    json_object_set_new(root, "version", json_string(wye_version()));
    json_t *pj = json_object();
    json_object_set_new(pj, "name", json_string(wye_protocol_name(proto)));
    json_object_set_new(pj, "fingerprint", json_string(hex));
    json_object_set_new(root, "protocol", pj);
    const uint8_t *kid = wye_recset_key_id(l->s);
    if (kid) {
        wye_hex(kid, WYE_KEY_ID_BYTES, hex);
        json_object_set_new(root, "key_id", json_string(hex));
    }
    json_object_set_new(root, "inputs", inputs_json(l));
    json_object_set_new(root, "small_counts", json_string("exact"));
}

/* Records and persons per agency, persons by number of agencies, overlaps. */
static void summary_counts(const wye_linkage *l, json_t *root, const tallies *t, bool exact)
{
    const wye_recview *v = l->v;
    size_t na = v->nagencies;
    json_t *recs = json_object();
    for (size_t a = 0; a < na; a++)
        json_object_set_new(recs, wye_recset_agency(l->s, a),
                            count_json(v->agency_first[a + 1] - v->agency_first[a], exact));
    json_object_set_new(root, "records", recs);
    json_object_set_new(root, "records_total", count_json(v->n, exact));
    json_object_set_new(root, "unique_persons", count_json(l->st.persons, exact));
    json_t *pa = json_object();
    for (size_t a = 0; a < na; a++)
        json_object_set_new(pa, wye_recset_agency(l->s, a), count_json(t->per_agency[a], exact));
    json_object_set_new(root, "persons_per_agency", pa);
    json_t *bc = json_object();
    for (size_t k = 1; k <= na; k++) {
        char key[24];
        snprintf(key, sizeof key, "%zu", k);
        json_object_set_new(bc, key, count_json(t->by_count[k], exact));
    }
    json_object_set_new(root, "persons_by_number_of_agencies", bc);
    json_t *ov = json_array();
    for (size_t x = 0; x < na; x++)
        for (size_t y = x + 1; y < na; y++) {
            json_t *o = json_object();
            json_t *ag = json_array();
            json_array_append_new(ag, json_string(wye_recset_agency(l->s, x)));
            json_array_append_new(ag, json_string(wye_recset_agency(l->s, y)));
            json_object_set_new(o, "agencies", ag);
            json_object_set_new(o, "persons", count_json(t->overlap[x * na + y], exact));
            json_array_append_new(ov, o);
        }
    json_object_set_new(root, "overlaps", ov);
}

/* Every combination of agencies and the persons known to exactly it (the
 * report's UpSet chart), where there are few enough agencies. */
static int summary_intersections(const wye_linkage *l, json_t *root, const tallies *t)
{
    size_t na = l->v->nagencies;
    if (!t->excl)
        return WYE_OK;
    const char **names = calloc(na + 1, sizeof *names);
    if (!names)
        return WYE_ENOMEM;
    for (size_t a = 0; a < na; a++)
        names[a] = wye_recset_agency(l->s, a);
    json_t *in = wye_disclosure_intersections(names, na, t->excl);
    free(names);
    if (!in)
        return WYE_ENOMEM;
    json_object_set_new(root, "intersections", in);
    return WYE_OK;
}

/* The thresholds and how they were chosen. */
static json_t *thresholds_json(const wye_linkage *l)
{
    json_t *th = json_object();
    json_object_set_new(th, "match", real(l->st.match));
    json_object_set_new(th, "possible", real(l->st.possible));
    json_object_set_new(th, "match_chosen",
                        json_string(l->st.match_auto ? "automatic" : "given"));
    json_object_set_new(th, "possible_chosen",
                        json_string(l->st.possible_auto ? "automatic" : "given"));
    json_object_set_new(th, "match_posterior", real(wye_fs_posterior(l->fs, l->st.match)));
    json_object_set_new(th, "possible_posterior",
                        real(wye_fs_posterior(l->fs, l->st.possible)));
    json_object_set_new(th, "same_agency_at_least", real(l->st.within));
    json_object_set_new(th, "conflict_below", real(l->st.conflict));
    json_object_set_new(th, "how", json_string(l->how));
    return th;
}

/* The fitted model: the match share, the prior and m, u and the weight of
 * every level each comparison uses. */
static json_t *model_json(const wye_linkage *l)
{
    json_t *mj = json_object();
    json_object_set_new(mj, "match_share_of_candidates", real(l->st.lambda_candidates));
    json_object_set_new(mj, "expected_matches", real(l->st.expected_matches));
    json_object_set_new(mj, "prior", json_real(l->st.prior));
    json_object_set_new(mj, "u_from_random_pairs", json_integer((json_int_t)l->st.u_samples));
    json_object_set_new(mj, "em_iterations", json_integer(l->st.em.iterations));
    json_object_set_new(mj, "em_converged", json_boolean(l->st.em.converged));
    json_t *cmp = json_array();
    for (size_t c = 0; c < wye_fs_ncomparisons(l->fs); c++) {
        const wye_fs_comparison *co = wye_fs_comparison_at(l->fs, c);
        json_t *cj = json_object();
        json_object_set_new(cj, "name", json_string(co->name));
        if (co->fallback) /* only then: other reports keep their keys */
            json_object_set_new(cj, "fallback", json_true());
        json_t *lv = json_object();
        for (unsigned lev = 1; lev < co->nlevels; lev++) {
            if (!co->level_used[lev])
                continue;
            json_t *x = json_object();
            double m = wye_fs_m(l->fs, c, lev), u = wye_fs_u(l->fs, c, lev);
            json_object_set_new(x, "m", real(m));
            json_object_set_new(x, "u", real(u));
            json_object_set_new(x, "weight", real(log2(m / u)));
            json_object_set_new(lv, wye_fs_level_name(lev), x);
        }
        json_object_set_new(cj, "levels", lv);
        json_array_append_new(cmp, cj);
    }
    json_object_set_new(mj, "comparisons", cmp);
    return mj;
}

static json_t *blocking_json(const wye_linkage *l)
{
    json_t *bj = json_object();
    json_object_set_new(bj, "mode", json_string(l->p.blocking.exhaustive ? "exhaustive" : "blocks"));
    json_object_set_new(bj, "all_pairs", json_integer((json_int_t)l->st.all_pairs));
    json_object_set_new(bj, "candidate_pairs", json_integer((json_int_t)l->st.candidates));
    json_object_set_new(bj, "reduction_ratio",
                        real(l->st.all_pairs ? 1.0 - (double)l->st.candidates /
                                                         (double)l->st.all_pairs
                                             : 0.0));
    json_t *keys = json_array();
    for (size_t k = 0; k < wye_blocks_nkeys(l->blocks); k++) {
        const wye_block_key_stats *ks = wye_blocks_key(l->blocks, k);
        json_t *kj = json_object();
        json_object_set_new(kj, "key", json_string(ks->name));
        json_object_set_new(kj, "blocks", json_integer((json_int_t)ks->blocks));
        json_object_set_new(kj, "pairs", json_integer((json_int_t)ks->pairs));
        json_object_set_new(kj, "dropped_blocks", json_integer((json_int_t)ks->dropped));
        json_array_append_new(keys, kj);
    }
    json_object_set_new(bj, "keys", keys);
    return bj;
}

static json_t *links_json(const wye_linkage *l, bool exact)
{
    json_t *lj = json_object();
    json_object_set_new(lj, "matches", json_integer((json_int_t)l->st.matches));
    json_object_set_new(lj, "possible", json_integer((json_int_t)l->st.possibles));
    json_object_set_new(lj, "conflicts", json_integer((json_int_t)l->st.conflicts));
    json_object_set_new(lj, "merges", json_integer((json_int_t)l->st.cluster.merges));
    json_object_set_new(lj, "refused_merges", json_integer((json_int_t)l->st.cluster.refused));
    json_object_set_new(lj, "largest_person_records",
                        count_json(l->st.cluster.largest, exact));
    return lj;
}

int wye_linkage_write_summary(const wye_linkage *l, FILE *f, bool exact)
{
    tallies t = {0};
    json_t *root = json_object(), *prof = NULL, *prof_agency = NULL;
    int rc = root ? tally_agencies(l, &t) : WYE_ENOMEM;
    if (rc == WYE_OK && !(prof = profiles_json(l, exact, -1)))
        rc = WYE_ENOMEM;
    if (rc == WYE_OK && !(prof_agency = profiles_per_agency_json(l, exact)))
        rc = WYE_ENOMEM;
    if (rc == WYE_OK) {
        summary_head(l, root);
        summary_counts(l, root, &t, exact);
        json_object_set_new(root, "persons_by_attribute", prof);
        json_object_set_new(root, "persons_by_attribute_per_agency", prof_agency);
        prof = prof_agency = NULL;
        json_object_set_new(root, "thresholds", thresholds_json(l));
        json_object_set_new(root, "model", model_json(l));
        json_object_set_new(root, "blocking", blocking_json(l));
        json_object_set_new(root, "links", links_json(l, exact));
        rc = summary_intersections(l, root, &t);
    }
    if (rc == WYE_OK) {
        wye_disclosure_params dp;
        wye_disclosure_default_params(&dp);
        dp.exact = exact;
        rc = wye_disclosure_publish(root, NULL, 0, &dp, NULL, NULL);
    }
    if (rc == WYE_OK && (json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
                         fputc('\n', f) == EOF))
        rc = WYE_EIO;
    json_decref(root);
    json_decref(prof);
    json_decref(prof_agency);
    tallies_free(&t);
    return rc;
}
