/* Attack 2: graph matching (protocols/PRIVACY.md), after Culnane et al.
 * 2017 and Vidanage et al. 2020.
 *
 * Both sides become similarity graphs: the encoded records by the Dice
 * coefficient of their record-level filters, the attacker's plaintext
 * records either by a Dice coefficient of the protocol's tokens (each
 * weighted by the bits the protocol gives it) or, since the protocol is
 * public, by the Dice coefficient of the attacker's own encoding of them
 * under a secret of its own. The two similarity scales are aligned by
 * quantiles (similarity adjustment) and expressed as z = -log10(1 - q), so
 * that only how unusual a similarity is counts. Nodes are described by
 * features of their neighbourhood (the strongest similarities, how many
 * neighbours pass each level, the same for their best neighbours) and
 * matched one to one by feature distance, within the attribute groups that
 * travel in clear (sex, age band). Then matches that stand out become
 * anchors, and every node is matched again by the cosine of its vector of
 * similarities to the anchors on each side (seed and extend), for a few
 * rounds. Each encoded record's names are guessed as those of the plaintext
 * record it is matched to. */
#include "priv.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

void priv_graph_default_opts(priv_graph_opts *o)
{
    memset(o, 0, sizeof *o);
    o->sim = PRIV_SIM_REENCODE;
    o->rounds = 4;
}

/* ---- similarities ------------------------------------------------------- */

typedef struct wtok {
    uint64_t h;
    float w;
} wtok;

#define MAXSEG 16

typedef struct side {
    size_t n;
    /* filters: segments of the record compared as one bit string */
    const uint8_t *base;
    size_t stride, nseg, off[MAXSEG], words[MAXSEG];
    uint32_t *pop;
    /* token sets */
    wtok *tok;
    size_t *tok_first; /* n + 1 */
    float *tok_sum;
    bool tokens;
    /* attributes in clear */
    uint8_t *sex, *age;
    /* quantiles */
    float *qs;
    size_t nq;
} side;

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static float sim(const side *s, size_t a, size_t b)
{
    if (!s->tokens) {
        if (!s->pop[a] || !s->pop[b])
            return 0;
        uint32_t c = 0;
        for (size_t g = 0; g < s->nseg; g++) {
            const uint8_t *x = s->base + a * s->stride + s->off[g],
                          *y = s->base + b * s->stride + s->off[g];
            for (size_t w = 0; w < s->words[g]; w++)
                c += (uint32_t)__builtin_popcountll(load64(x + 8 * w) & load64(y + 8 * w));
        }
        return 2.0f * (float)c / (float)(s->pop[a] + s->pop[b]);
    }
    const wtok *x = s->tok + s->tok_first[a], *xe = s->tok + s->tok_first[a + 1];
    const wtok *y = s->tok + s->tok_first[b], *ye = s->tok + s->tok_first[b + 1];
    float c = 0;
    while (x < xe && y < ye) {
        if (x->h < y->h) {
            x++;
        } else if (y->h < x->h) {
            y++;
        } else {
            c += x->w < y->w ? x->w : y->w;
            x++, y++;
        }
    }
    float d = s->tok_sum[a] + s->tok_sum[b];
    return d > 0 ? 2.0f * c / d : 0.0f;
}

static int cmp_wtok(const void *a, const void *b)
{
    uint64_t x = ((const wtok *)a)->h, y = ((const wtok *)b)->h;
    return x < y ? -1 : x > y;
}

typedef struct {
    wtok *t;
    size_t n, cap;
    uint32_t kdf;
    float w;
    bool oom;
} tokbuf;

static void emit_wtok(void *ctx, const uint8_t *tok, size_t n)
{
    tokbuf *b = ctx;
    if (b->n == b->cap) {
        size_t nc = b->cap ? 2 * b->cap : 4096;
        wtok *t = realloc(b->t, nc * sizeof *t);
        if (!t) {
            b->oom = true;
            return;
        }
        b->t = t;
        b->cap = nc;
    }
    uint64_t h = 1469598103934665603ull ^ b->kdf;
    for (size_t i = 0; i < n; i++)
        h = (h ^ tok[i]) * 1099511628211ull;
    b->t[b->n].h = h ^ (h >> 31);
    b->t[b->n].w = 0;
    b->n++;
}

/* Token sets of plaintext records: the tokens of every field feeding the
 * record-level filter, each weighted by the bits it sets (ceil(record_bits
 * / tokens of the value)); a token in two fields keeps the larger weight. */
static int side_tokens(side *s, const priv_data *P, bool fields)
{
    const wye_protocol *p = P->p;
    tokbuf b = {0};
    s->tok_first = malloc((P->n + 1) * sizeof *s->tok_first);
    s->tok_sum = malloc((P->n + 1) * sizeof *s->tok_sum);
    if (!s->tok_first || !s->tok_sum)
        return WYE_ENOMEM;
    for (size_t i = 0; i < P->n; i++) {
        s->tok_first[i] = b.n;
        for (size_t f = 0; f < wye_protocol_nfields(p); f++) {
            const wye_field_spec *fs = wye_protocol_field(p, f);
            unsigned bits = fields ? (fs->field_filter_bits ? fs->field_filter_k : 0)
                                   : fs->record_bits;
            if (!bits || P->f[i].status[f] != WYE_NORM_PRESENT)
                continue;
            size_t start = b.n;
            /* the record-level filter: a token keyed like another field
             * sets the same bits; field filters are apart */
            b.kdf = fields ? 0x10000u + (uint32_t)f : fs->kdf_id;
            size_t nt = wye_encoder_tokens(p, f, P->f[i].value[f], emit_wtok, &b);
            if (b.oom) {
                free(b.t);
                return WYE_ENOMEM;
            }
            float w = nt ? (float)((bits + nt - 1) / nt) : 0;
            for (size_t k = start; k < b.n; k++)
                b.t[k].w = w;
        }
        wtok *r = b.t + s->tok_first[i];
        size_t m = b.n - s->tok_first[i], k = 0;
        qsort(r, m, sizeof *r, cmp_wtok);
        for (size_t j = 0; j < m; j++) {
            if (k && r[k - 1].h == r[j].h) {
                if (r[j].w > r[k - 1].w)
                    r[k - 1].w = r[j].w;
            } else {
                r[k++] = r[j];
            }
        }
        b.n = s->tok_first[i] + k;
        float sum = 0;
        for (size_t j = 0; j < k; j++)
            sum += r[j].w;
        s->tok_sum[i] = sum;
    }
    s->tok_first[P->n] = b.n;
    s->tok = b.t;
    s->tokens = true;
    return WYE_OK;
}

/* The bits compared: the record-level filter, or every field filter. */
static int side_filters(side *s, const priv_data *D, bool fields)
{
    const wye_layout *lay = wye_protocol_layout(D->p);
    s->base = D->enc;
    s->stride = D->rsize;
    s->nseg = 0;
    if (!fields) {
        s->off[0] = lay->filter_off;
        s->words[0] = lay->filter_bytes / 8;
        s->nseg = 1;
    } else {
        for (size_t f = 0; f < wye_protocol_nfields(D->p) && s->nseg < MAXSEG; f++)
            if (lay->field_filter_bytes[f]) {
                s->off[s->nseg] = lay->field_filter_off[f];
                s->words[s->nseg++] = lay->field_filter_bytes[f] / 8;
            }
    }
    s->pop = malloc((D->n + 1) * sizeof *s->pop);
    if (!s->pop)
        return WYE_ENOMEM;
    for (size_t i = 0; i < D->n; i++) {
        uint32_t c = 0;
        for (size_t g = 0; g < s->nseg; g++) {
            const uint8_t *x = D->enc + i * D->rsize + s->off[g];
            for (size_t w = 0; w < s->words[g]; w++)
                c += (uint32_t)__builtin_popcountll(load64(x + 8 * w));
        }
        s->pop[i] = c;
    }
    return WYE_OK;
}

static int side_attrs(side *s, const priv_data *D)
{
    s->sex = calloc(D->n + 1, 1);
    s->age = calloc(D->n + 1, 1);
    if (!s->sex || !s->age)
        return WYE_ENOMEM;
    for (size_t a = 0; a < wye_protocol_nattrs(D->p); a++) {
        const wye_attr_spec *sp = wye_protocol_attr(D->p, a);
        uint8_t *dst = sp->source == WYE_ATTR_SEX        ? s->sex
                       : sp->source == WYE_ATTR_AGE_BAND ? s->age
                                                         : NULL;
        if (!dst)
            continue;
        for (size_t i = 0; i < D->n; i++)
            dst[i] = D->f[i].attr[a];
    }
    return WYE_OK;
}

static void side_free(side *s)
{
    free(s->pop);
    free(s->tok);
    free(s->tok_first);
    free(s->tok_sum);
    free(s->sex);
    free(s->age);
    free(s->qs);
}

static uint64_t rng_next(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* The distribution of similarities over random pairs. */
static int side_quantiles(side *s)
{
    s->nq = 200000;
    s->qs = malloc(s->nq * sizeof *s->qs);
    if (!s->qs)
        return WYE_ENOMEM;
    uint64_t r = 0x5eed5eed;
    for (size_t k = 0; k < s->nq; k++) {
        size_t a = rng_next(&r) % s->n, b = rng_next(&r) % s->n;
        if (a == b)
            b = (b + 1) % s->n;
        s->qs[k] = sim(s, a, b);
    }
    qsort(s->qs, s->nq, sizeof *s->qs, cmp_float);
    return WYE_OK;
}

/* z = -log10(1 - q(x)), q the share of random pairs below x. */
static float zval(const side *s, float x)
{
    size_t lo = 0, hi = s->nq;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->qs[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* ties count half */
    size_t lo2 = lo, hi2 = s->nq;
    while (lo2 < hi2) {
        size_t mid = (lo2 + hi2) / 2;
        if (s->qs[mid] <= x)
            lo2 = mid + 1;
        else
            hi2 = mid;
    }
    double below = ((double)lo + (double)lo2) / 2.0;
    double tail = 1.0 - below / (double)s->nq;
    double floor_ = 0.5 / (double)s->nq;
    if (x >= 0.9999f)
        return 7.0f;
    return (float)-log10(tail > floor_ ? tail : floor_);
}

/* ---- neighbourhoods and features ----------------------------------------- */

#define NB_MAX 96
#define TOPK 10
#define NLEV 6
#define NFEAT (TOPK + NLEV + 4)
static const float levels[NLEV] = {1.5f, 2.0f, 2.5f, 3.0f, 3.5f, 4.0f};
#define Z_NEIGH 2.0f

typedef struct nb {
    uint32_t j;
    float z;
} nb;

typedef struct graph {
    size_t n;
    nb *adj;        /* n * NB_MAX, strongest first */
    uint16_t *nadj;
    float *feat;    /* n * NFEAT */
} graph;

static void graph_free(graph *g)
{
    free(g->adj);
    free(g->nadj);
    free(g->feat);
}

static int graph_build(const side *s, unsigned threads, graph *g)
{
    size_t n = s->n;
    g->n = n;
    g->adj = malloc((n * NB_MAX + 1) * sizeof *g->adj);
    g->nadj = calloc(n + 1, sizeof *g->nadj);
    g->feat = calloc(n * NFEAT + 1, sizeof *g->feat);
    if (!g->adj || !g->nadj || !g->feat)
        return WYE_ENOMEM;
    int nt = threads ? (int)threads : omp_get_num_procs();
    int oom = 0;
#pragma omp parallel num_threads(nt) reduction(| : oom)
    {
        float *top = malloc(TOPK * sizeof *top);
        if (!top)
            oom = 1;
#pragma omp for schedule(dynamic, 32)
        for (size_t i = 0; i < n; i++) {
            if (!top)
                continue;
            nb *a = g->adj + i * NB_MAX;
            unsigned na = 0;
            for (int k = 0; k < TOPK; k++)
                top[k] = 0;
            float *f = g->feat + i * NFEAT;
            for (size_t j = 0; j < n; j++) {
                if (j == i)
                    continue;
                float z = zval(s, sim(s, i, j));
                for (int l = 0; l < NLEV; l++)
                    f[TOPK + l] += z >= levels[l];
                if (z > top[TOPK - 1]) {
                    int q = TOPK - 1;
                    while (q > 0 && top[q - 1] < z) {
                        top[q] = top[q - 1];
                        q--;
                    }
                    top[q] = z;
                }
                if (z >= Z_NEIGH && (na < NB_MAX || z > a[na - 1].z)) {
                    unsigned q = na < NB_MAX ? na++ : NB_MAX - 1;
                    while (q > 0 && (a[q - 1].z < z || (a[q - 1].z == z && a[q - 1].j > j))) {
                        a[q] = a[q - 1];
                        q--;
                    }
                    a[q].j = (uint32_t)j;
                    a[q].z = z;
                }
            }
            for (int k = 0; k < TOPK; k++)
                f[k] = top[k];
            for (int l = 0; l < NLEV; l++)
                f[TOPK + l] = log1pf(f[TOPK + l]);
            g->nadj[i] = (uint16_t)na;
        }
        free(top);
    }
    if (oom)
        return WYE_ENOMEM;
    /* two hops: the best neighbours' strength and degree */
    for (size_t i = 0; i < n; i++) {
        float *f = g->feat + i * NFEAT;
        const nb *a = g->adj + i * NB_MAX;
        unsigned m = g->nadj[i] < 5 ? g->nadj[i] : 5;
        float s1 = 0, s2 = 0, s3 = 0;
        for (unsigned k = 0; k < m; k++) {
            const float *h = g->feat + (size_t)a[k].j * NFEAT;
            s1 += h[0];
            s2 += h[TOPK + 3];
            s3 += h[2];
        }
        f[TOPK + NLEV] = m ? s1 / (float)m : 0;
        f[TOPK + NLEV + 1] = m ? s2 / (float)m : 0;
        f[TOPK + NLEV + 2] = m ? s3 / (float)m : 0;
        f[TOPK + NLEV + 3] = log1pf((float)g->nadj[i]);
    }
    return WYE_OK;
}

/* ---- matching ----------------------------------------------------------- */

static bool compatible(const side *e, size_t i, const side *p, size_t j)
{
    if (e->sex[i] && p->sex[j] && e->sex[i] != p->sex[j])
        return false;
    if (e->age[i] && p->age[j] && e->age[i] != p->age[j])
        return false;
    return true;
}

typedef struct cand {
    uint32_t i, j;
    float d;    /* lower is better */
    float conf; /* higher is better */
} cand;

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->d != y->d)
        return x->d < y->d ? -1 : 1;
    if (x->i != y->i)
        return x->i < y->i ? -1 : 1;
    return x->j < y->j ? -1 : x->j > y->j;
}

/* One to one, greedily by d. match[i] = j or -1. */
static void assign(cand *c, size_t nc, size_t ne, size_t np, long *match, float *conf)
{
    qsort(c, nc, sizeof *c, cmp_cand);
    bool *used = calloc(np + 1, 1);
    for (size_t i = 0; i < ne; i++)
        match[i] = -1;
    if (!used)
        return;
    for (size_t k = 0; k < nc; k++) {
        if (match[c[k].i] >= 0 || used[c[k].j])
            continue;
        match[c[k].i] = (long)c[k].j;
        conf[c[k].i] = c[k].conf;
        used[c[k].j] = true;
    }
    free(used);
}

#define MCAND 6

/* Initial matching by feature distance. */
static int match_features(const side *se, const graph *ge, const side *sp, const graph *gp,
                          unsigned threads, long *match, float *conf)
{
    size_t ne = ge->n, np = gp->n;
    float sd[NFEAT];
    for (int d = 0; d < NFEAT; d++) {
        double s = 0, s2 = 0;
        for (size_t i = 0; i < ne; i++)
            s += ge->feat[i * NFEAT + d], s2 += (double)ge->feat[i * NFEAT + d] * ge->feat[i * NFEAT + d];
        for (size_t j = 0; j < np; j++)
            s += gp->feat[j * NFEAT + d], s2 += (double)gp->feat[j * NFEAT + d] * gp->feat[j * NFEAT + d];
        double m = s / (double)(ne + np), v = s2 / (double)(ne + np) - m * m;
        sd[d] = v > 1e-9 ? (float)sqrt(v) : 1.0f;
    }
    cand *c = malloc((ne * MCAND + 1) * sizeof *c);
    if (!c)
        return WYE_ENOMEM;
    int nt = threads ? (int)threads : omp_get_num_procs();
#pragma omp parallel for num_threads(nt) schedule(dynamic, 16)
    for (size_t i = 0; i < ne; i++) {
        cand *ci = c + i * MCAND;
        unsigned m = 0;
        for (size_t j = 0; j < np; j++) {
            if (!compatible(se, i, sp, j))
                continue;
            const float *x = ge->feat + i * NFEAT, *y = gp->feat + j * NFEAT;
            float d = 0;
            for (int k = 0; k < NFEAT; k++)
                d += fabsf(x[k] - y[k]) / sd[k];
            if (m < MCAND || d < ci[m - 1].d) {
                unsigned q = m < MCAND ? m++ : MCAND - 1;
                while (q > 0 && ci[q - 1].d > d) {
                    ci[q] = ci[q - 1];
                    q--;
                }
                ci[q].i = (uint32_t)i;
                ci[q].j = (uint32_t)j;
                ci[q].d = d;
            }
        }
        for (unsigned q = 0; q < MCAND; q++) {
            if (q >= m) {
                ci[q].i = (uint32_t)i;
                ci[q].j = UINT32_MAX;
                ci[q].d = INFINITY;
            }
            ci[q].conf = m > 1 ? ci[1].d - ci[0].d : 0;
        }
    }
    size_t k = 0;
    for (size_t q = 0; q < ne * MCAND; q++)
        if (c[q].j != UINT32_MAX)
            c[k++] = c[q];
    assign(c, k, ne, np, match, conf);
    free(c);
    return WYE_OK;
}

/* Seed and extend: cosine of the vectors of z to the anchors. */
static int match_anchors(const side *se, const graph *ge, const side *sp, const graph *gp,
                         const long *anchor_of, unsigned threads, long *match, float *conf)
{
    size_t ne = ge->n, np = gp->n;
    /* for each P node, its anchor neighbours: anchors are E nodes a with a P
     * partner; for a P node j, the P partners among its neighbours */
    long *pa = malloc((np + 1) * sizeof *pa); /* P node -> E anchor */
    if (!pa)
        return WYE_ENOMEM;
    for (size_t j = 0; j < np; j++)
        pa[j] = -1;
    for (size_t a = 0; a < ne; a++)
        if (anchor_of[a] >= 0)
            pa[anchor_of[a]] = (long)a;
    /* norms */
    float *ne2 = calloc(ne + 1, sizeof *ne2), *np2 = calloc(np + 1, sizeof *np2);
    /* inverted: for each E anchor a, the P nodes j whose neighbour is a's
     * partner, with z */
    size_t *first = calloc(ne + 2, sizeof *first);
    nb *inv = NULL;
    if (!ne2 || !np2 || !first) {
        free(pa);
        free(ne2);
        free(np2);
        free(first);
        return WYE_ENOMEM;
    }
    for (size_t j = 0; j < np; j++) {
        const nb *a = gp->adj + j * NB_MAX;
        for (unsigned k = 0; k < gp->nadj[j]; k++)
            if (pa[a[k].j] >= 0) {
                first[pa[a[k].j] + 1]++;
                np2[j] += a[k].z * a[k].z;
            }
        /* a P node that is itself a partner counts itself at full z */
        if (pa[j] >= 0) {
            first[pa[j] + 1]++;
            np2[j] += 49.0f;
        }
    }
    for (size_t a = 0; a < ne; a++)
        first[a + 1] += first[a];
    inv = malloc((first[ne] + 1) * sizeof *inv);
    size_t *fill = malloc((ne + 1) * sizeof *fill);
    if (!inv || !fill) {
        free(pa);
        free(ne2);
        free(np2);
        free(first);
        free(inv);
        free(fill);
        return WYE_ENOMEM;
    }
    memcpy(fill, first, ne * sizeof *fill);
    for (size_t j = 0; j < np; j++) {
        const nb *a = gp->adj + j * NB_MAX;
        for (unsigned k = 0; k < gp->nadj[j]; k++)
            if (pa[a[k].j] >= 0)
                inv[fill[pa[a[k].j]]++] = (nb){(uint32_t)j, a[k].z};
        if (pa[j] >= 0)
            inv[fill[pa[j]]++] = (nb){(uint32_t)j, 7.0f};
    }
    for (size_t i = 0; i < ne; i++) {
        const nb *a = ge->adj + i * NB_MAX;
        for (unsigned k = 0; k < ge->nadj[i]; k++)
            if (anchor_of[a[k].j] >= 0)
                ne2[i] += a[k].z * a[k].z;
        if (anchor_of[i] >= 0)
            ne2[i] += 49.0f;
    }
    cand *c = malloc((ne * MCAND + 1) * sizeof *c);
    if (!c) {
        free(pa);
        free(ne2);
        free(np2);
        free(first);
        free(inv);
        free(fill);
        return WYE_ENOMEM;
    }
    int nt = threads ? (int)threads : omp_get_num_procs();
    int oom = 0;
#pragma omp parallel num_threads(nt) reduction(| : oom)
    {
        float *acc = calloc(np + 1, sizeof *acc);
        uint32_t *touched = malloc((np + 1) * sizeof *touched);
        if (!acc || !touched)
            oom = 1;
#pragma omp for schedule(dynamic, 16)
        for (size_t i = 0; i < ne; i++) {
            cand *ci = c + i * MCAND;
            for (unsigned q = 0; q < MCAND; q++)
                ci[q] = (cand){(uint32_t)i, UINT32_MAX, INFINITY, 0};
            if (!acc || !touched || ne2[i] <= 0)
                continue;
            size_t nt2 = 0;
            const nb *a = ge->adj + i * NB_MAX;
            for (unsigned k = 0; k <= ge->nadj[i]; k++) {
                size_t anc;
                float z;
                if (k < ge->nadj[i]) {
                    anc = a[k].j;
                    z = a[k].z;
                } else {
                    anc = i;
                    z = 7.0f;
                }
                if (anchor_of[anc] < 0)
                    continue;
                for (size_t q = first[anc]; q < first[anc + 1]; q++) {
                    uint32_t j = inv[q].j;
                    if (acc[j] == 0)
                        touched[nt2++] = j;
                    acc[j] += z * inv[q].z;
                }
            }
            unsigned m = 0;
            float b1 = 0, b2 = 0;
            for (size_t t = 0; t < nt2; t++) {
                uint32_t j = touched[t];
                float cs = acc[j] / sqrtf(ne2[i] * np2[j]);
                acc[j] = 0;
                if (!compatible(se, i, sp, j))
                    continue;
                if (cs > b1) {
                    b2 = b1;
                    b1 = cs;
                } else if (cs > b2) {
                    b2 = cs;
                }
                float d = 1.0f - cs;
                if (m < MCAND || d < ci[m - 1].d ||
                    (d == ci[m - 1].d && j < ci[m - 1].j)) {
                    unsigned q = m < MCAND ? m++ : MCAND - 1;
                    while (q > 0 && (ci[q - 1].d > d || (ci[q - 1].d == d && ci[q - 1].j > j))) {
                        ci[q] = ci[q - 1];
                        q--;
                    }
                    ci[q] = (cand){(uint32_t)i, j, d, 0};
                }
            }
            for (unsigned q = 0; q < MCAND; q++)
                ci[q].conf = b1 - b2;
        }
        free(acc);
        free(touched);
    }
    size_t k = 0;
    for (size_t q = 0; q < ne * MCAND; q++)
        if (c[q].j != UINT32_MAX)
            c[k++] = c[q];
    if (!oom)
        assign(c, k, ne, np, match, conf);
    free(c);
    free(pa);
    free(ne2);
    free(np2);
    free(first);
    free(inv);
    free(fill);
    return oom ? WYE_ENOMEM : WYE_OK;
}

static int cmp_conf_desc(const void *a, const void *b, void *ctx)
{
    const float *conf = ctx;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    if (conf[x] != conf[y])
        return conf[x] > conf[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* The most confident share of matches become anchors. */
static void pick_anchors(const long *match, const float *conf, size_t ne, double share,
                         long *anchor_of)
{
    size_t *ix = malloc((ne + 1) * sizeof *ix), m = 0;
    for (size_t i = 0; i < ne; i++)
        anchor_of[i] = -1;
    if (!ix)
        return;
    for (size_t i = 0; i < ne; i++)
        if (match[i] >= 0)
            ix[m++] = i;
    qsort_r(ix, m, sizeof *ix, cmp_conf_desc, (void *)conf);
    size_t take = (size_t)(share * (double)m);
    for (size_t k = 0; k < take; k++)
        anchor_of[ix[k]] = match[ix[k]];
    free(ix);
}

int priv_attack_graph(const priv_data *E, const priv_data *P, const priv_graph_opts *o,
                      priv_score *out)
{
    memset(out, 0, sizeof *out);
    priv_graph_opts def;
    if (!o) {
        priv_graph_default_opts(&def);
        o = &def;
    }
    if (!E->enc || E->n < 2 || P->n < 2)
        return WYE_EINVAL;
    if (!o->fields && !wye_protocol_layout(E->p)->filter_bytes)
        return WYE_ENOTFOUND;
    if (o->fields) {
        bool any = false;
        for (size_t f = 0; f < wye_protocol_nfields(E->p); f++)
            any = any || wye_protocol_layout(E->p)->field_filter_bytes[f];
        if (!any)
            return WYE_ENOTFOUND;
    }
    side se = {0}, sp = {0};
    graph ge = {0}, gp = {0};
    priv_data P2 = {0};
    long *match = malloc((E->n + 1) * sizeof *match), *anchor = malloc((E->n + 1) * sizeof *anchor);
    float *conf = calloc(E->n + 1, sizeof *conf);
    const char **guess = calloc(2 * E->n + 2, sizeof *guess);
    int rc = match && anchor && conf && guess ? WYE_OK : WYE_ENOMEM;
    se.n = E->n;
    sp.n = P->n;
    if (!rc)
        rc = side_filters(&se, E, o->fields);
    if (!rc)
        rc = side_attrs(&se, E);
    if (!rc)
        rc = side_attrs(&sp, P);
    if (!rc && o->sim == PRIV_SIM_REENCODE) {
        size_t *ix = malloc((P->n + 1) * sizeof *ix);
        if (!ix) {
            rc = WYE_ENOMEM;
        } else {
            for (size_t i = 0; i < P->n; i++)
                ix[i] = i;
            rc = priv_data_pick(P, ix, P->n, NULL, NULL, 0, &P2);
            free(ix);
        }
        if (!rc)
            rc = o->attacker_secret ? priv_data_encode(&P2, o->attacker_secret) : WYE_EINVAL;
        if (!rc)
            rc = side_filters(&sp, &P2, o->fields);
    } else if (!rc) {
        rc = side_tokens(&sp, P, o->fields);
    }
    if (!rc)
        rc = side_quantiles(&se);
    if (!rc)
        rc = side_quantiles(&sp);
    if (!rc)
        rc = graph_build(&se, o->threads, &ge);
    if (!rc)
        rc = graph_build(&sp, o->threads, &gp);
    if (!rc)
        rc = match_features(&se, &ge, &sp, &gp, o->threads, match, conf);
    static const double shares[] = {0.05, 0.2, 0.4, 0.6, 0.7, 0.8};
    for (unsigned r = 0; !rc && r < o->rounds; r++) {
        pick_anchors(match, conf, E->n, shares[r < 6 ? r : 5], anchor);
        long *m2 = malloc((E->n + 1) * sizeof *m2);
        float *c2 = calloc(E->n + 1, sizeof *c2);
        if (!m2 || !c2) {
            free(m2);
            free(c2);
            rc = WYE_ENOMEM;
            break;
        }
        rc = match_anchors(&se, &ge, &sp, &gp, anchor, o->threads, m2, c2);
        /* a node the anchors say nothing about keeps its match */
        for (size_t i = 0; i < E->n; i++)
            if (m2[i] < 0)
                c2[i] = -1;
        bool *used = calloc(P->n + 1, 1);
        if (used) {
            for (size_t i = 0; i < E->n; i++)
                if (m2[i] >= 0)
                    used[m2[i]] = true;
            for (size_t i = 0; i < E->n; i++)
                if (m2[i] < 0 && match[i] >= 0 && !used[match[i]]) {
                    m2[i] = match[i];
                    used[match[i]] = true;
                }
            free(used);
        }
        memcpy(match, m2, E->n * sizeof *match);
        memcpy(conf, c2, E->n * sizeof *conf);
        free(m2);
        free(c2);
    }
    if (!rc) {
        int gf = wye_protocol_field_index(E->p, "given_name");
        int ff = wye_protocol_field_index(E->p, "family_name");
        for (size_t i = 0; i < E->n; i++) {
            if (match[i] < 0)
                continue;
            const wye_fields *pf = &P->f[match[i]];
            if (gf >= 0 && pf->status[gf] == WYE_NORM_PRESENT)
                guess[2 * i] = pf->value[gf];
            if (ff >= 0 && pf->status[ff] == WYE_NORM_PRESENT)
                guess[2 * i + 1] = pf->value[ff];
        }
        rc = priv_score_guesses(E, guess, out);
    }
    if (!rc) {
        /* identity, and the chance baselines of both figures */
        out->graph = true;
        int gf = wye_protocol_field_index(E->p, "given_name");
        int ff = wye_protocol_field_index(E->p, "family_name");
        for (size_t i = 0; i < E->n; i++) {
            if (match[i] >= 0 && P->person[match[i]] == E->person[i])
                out->ident++;
            size_t cand = 0, same = 0, hit = 0;
            const wye_fields *ef = &E->f[i];
            for (size_t j = 0; j < P->n; j++) {
                if (!compatible(&se, i, &sp, j))
                    continue;
                cand++;
                same += P->person[j] == E->person[i];
                const wye_fields *pf = &P->f[j];
                bool g = gf >= 0 && ef->status[gf] == WYE_NORM_PRESENT &&
                         pf->status[gf] == WYE_NORM_PRESENT &&
                         strcmp(ef->value[gf], pf->value[gf]) == 0;
                bool fm = ff >= 0 && ef->status[ff] == WYE_NORM_PRESENT &&
                          pf->status[ff] == WYE_NORM_PRESENT &&
                          strcmp(ef->value[ff], pf->value[ff]) == 0;
                hit += g || fm;
            }
            if (cand) {
                out->chance_reid += (double)hit / (double)cand;
                out->chance_ident += (double)same / (double)cand;
            }
        }
    }
    side_free(&se);
    side_free(&sp);
    graph_free(&ge);
    graph_free(&gp);
    priv_data_free(&P2);
    free(match);
    free(anchor);
    free(conf);
    free(guess);
    return rc;
}
