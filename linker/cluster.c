/* Clustering without chaining: strongest links first, merge only coherent
 * clusters. */
#include "wyelink/cluster.h"

#include <stdlib.h>

typedef struct uf {
    uint32_t *parent, *size, *next, *tail; /* members: a list from the root */
} uf;

static uint32_t find(uf *u, uint32_t x)
{
    while (u->parent[x] != x) {
        u->parent[x] = u->parent[u->parent[x]];
        x = u->parent[x];
    }
    return x;
}

static int cmp_edge(const void *x, const void *y)
{
    const wye_edge *a = x, *b = y;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    if (a->a != b->a)
        return a->a < b->a ? -1 : 1;
    if (a->b != b->b)
        return a->b < b->b ? -1 : 1;
    return 0;
}

#define NONE UINT32_MAX

int wye_cluster(size_t n, const uint16_t *agency, const wye_edge *edges, size_t nedges,
                const wye_cluster_params *cp, wye_score_fn score, void *ctx, uint32_t *person,
                wye_cluster_stats *st)
{
    if ((n && (!agency || !person)) || (nedges && !edges) || !cp || !score ||
        n > UINT32_MAX - 1)
        return WYE_EINVAL;
    wye_cluster_stats s = {0};
    size_t nl = 0;
    for (size_t e = 0; e < nedges; e++) {
        if (edges[e].a >= edges[e].b || edges[e].b >= n)
            return WYE_EINVAL;
        nl += edges[e].score >= cp->match;
    }
    uf u = {0};
    wye_edge *links = malloc((nl + 1) * sizeof *links);
    u.parent = malloc((n + 1) * sizeof *u.parent);
    u.size = malloc((n + 1) * sizeof *u.size);
    u.next = malloc((n + 1) * sizeof *u.next);
    u.tail = malloc((n + 1) * sizeof *u.tail);
    int rc = WYE_OK;
    if (!links || !u.parent || !u.size || !u.next || !u.tail) {
        rc = WYE_ENOMEM;
        goto done;
    }
    nl = 0;
    for (size_t e = 0; e < nedges; e++)
        if (edges[e].score >= cp->match)
            links[nl++] = edges[e];
    qsort(links, nl, sizeof *links, cmp_edge);
    for (uint32_t i = 0; i < n; i++) {
        u.parent[i] = i;
        u.size[i] = 1;
        u.next[i] = NONE;
        u.tail[i] = i;
    }
    s.links = nl;
    for (size_t e = 0; e < nl; e++) {
        uint32_t ra = find(&u, links[e].a), rb = find(&u, links[e].b);
        if (ra == rb)
            continue;
        if (cp->max_size && (size_t)u.size[ra] + u.size[rb] > cp->max_size) {
            s.refused_size++;
            continue;
        }
        /* every pair across the two clusters must be coherent */
        int ok = 1;
        for (uint32_t x = ra; x != NONE && ok; x = u.next[x]) {
            for (uint32_t y = rb; y != NONE; y = u.next[y]) {
                uint32_t lo = x < y ? x : y, hi = x < y ? y : x;
                double sc;
                if (lo == links[e].a && hi == links[e].b) {
                    sc = links[e].score;
                } else {
                    sc = score(ctx, lo, hi);
                    s.checks++;
                }
                if (sc < cp->cannot || (agency[x] == agency[y] && sc < cp->within)) {
                    ok = 0;
                    break;
                }
            }
        }
        if (!ok) {
            s.refused++;
            continue;
        }
        /* union by size; the lists are concatenated */
        if (u.size[ra] < u.size[rb]) {
            uint32_t t = ra;
            ra = rb;
            rb = t;
        }
        u.parent[rb] = ra;
        u.size[ra] += u.size[rb];
        u.next[u.tail[ra]] = rb;
        u.tail[ra] = u.tail[rb];
        s.merges++;
    }
    /* persons numbered in order of their lowest record */
    for (uint32_t i = 0; i < n; i++)
        u.next[i] = NONE; /* reused: person number of each root */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = find(&u, i);
        if (u.next[r] == NONE) {
            u.next[r] = (uint32_t)s.clusters++;
            if (u.size[r] > s.largest)
                s.largest = u.size[r];
        }
        person[i] = u.next[r];
    }
done:
    free(links);
    free(u.parent);
    free(u.size);
    free(u.next);
    free(u.tail);
    if (st && rc == WYE_OK)
        *st = s;
    return rc;
}
