/* Clustering: no chaining through weak links, transitive joins across
 * agencies when nothing conflicts, stronger evidence inside an agency,
 * deterministic numbering. */
#include <criterion/criterion.h>

#include "wyelink/cluster.h"

/* A full score matrix for small tests. */
typedef struct mat {
    size_t n;
    double s[16][16];
} mat;

static double mat_score(void *ctx, uint32_t a, uint32_t b)
{
    mat *m = ctx;
    return m->s[a][b];
}

static void set(mat *m, uint32_t a, uint32_t b, double s)
{
    m->s[a][b] = m->s[b][a] = s;
}

static const wye_cluster_params cp = {.match = 10, .within = 15, .cannot = -5, .max_size = 0};

/* Edges: every pair scoring at least 0 (as a linkage would keep). */
static size_t edges_of(const mat *m, wye_edge *e)
{
    size_t k = 0;
    for (uint32_t a = 0; a < m->n; a++)
        for (uint32_t b = a + 1; b < m->n; b++)
            if (m->s[a][b] >= 0)
                e[k++] = (wye_edge){a, b, m->s[a][b]};
    return k;
}

Test(cluster, weak_links_do_not_chain)
{
    /* 0-1-2-3-4-5: each neighbour pair a weak match, every other pair of
     * this path strongly different people */
    mat m = {.n = 6};
    for (uint32_t a = 0; a < 6; a++)
        for (uint32_t b = 0; b < 6; b++)
            m.s[a][b] = -30;
    double w[5] = {12, 11, 13, 10.5, 11.5};
    for (uint32_t a = 0; a < 5; a++)
        set(&m, a, a + 1, w[a]);
    uint16_t ag[6] = {0, 1, 2, 3, 4, 5};
    wye_edge e[64];
    size_t ne = edges_of(&m, e);
    uint32_t person[6];
    wye_cluster_stats st;
    cr_assert_eq(wye_cluster(6, ag, e, ne, &cp, mat_score, &m, person, &st), WYE_OK);
    /* strongest first: 2-3 (13), then 0-1 (12); 4-5 (11.5) ; 1-2 (11) would
     * join {0,1} and {2,3} but 0-2 scores -30; 3-4 likewise */
    uint32_t want[6] = {0, 0, 1, 1, 2, 2};
    cr_assert_arr_eq(person, want, sizeof want);
    cr_assert_eq(st.clusters, 3);
    cr_assert_eq(st.merges, 3);
    cr_assert_eq(st.refused, 2);
    cr_assert_eq(st.largest, 2);
    /* plain connected components would have made one person of all six */
}

Test(cluster, joins_through_a_third_record_without_conflict)
{
    /* police (0) matches GP (1) and charity (2); GP and charity score below
     * the match threshold (missing fields) but do not conflict */
    mat m = {.n = 4};
    set(&m, 0, 1, 25);
    set(&m, 0, 2, 18);
    set(&m, 1, 2, -2);
    set(&m, 0, 3, -20);
    set(&m, 1, 3, -20);
    set(&m, 2, 3, -20);
    uint16_t ag[4] = {0, 1, 2, 0};
    wye_edge e[16];
    size_t ne = edges_of(&m, e);
    uint32_t person[4];
    cr_assert_eq(wye_cluster(4, ag, e, ne, &cp, mat_score, &m, person, NULL), WYE_OK);
    uint32_t want[4] = {0, 0, 0, 1};
    cr_assert_arr_eq(person, want, sizeof want);
}

Test(cluster, same_agency_needs_direct_evidence)
{
    /* 0 and 2 are both police records; each matches GP record 1, but their
     * own score (12) is below the within-agency threshold (15) */
    mat m = {.n = 3};
    set(&m, 0, 1, 20);
    set(&m, 1, 2, 19);
    set(&m, 0, 2, 12);
    uint16_t ag[3] = {0, 1, 0};
    wye_edge e[8];
    size_t ne = edges_of(&m, e);
    uint32_t person[3];
    wye_cluster_stats st;
    cr_assert_eq(wye_cluster(3, ag, e, ne, &cp, mat_score, &m, person, &st), WYE_OK);
    uint32_t want[3] = {0, 0, 1};
    cr_assert_arr_eq(person, want, sizeof want);
    cr_assert_eq(st.refused, 2); /* 1-2 and then 0-2 */
    /* with strong direct evidence the duplicate joins */
    set(&m, 0, 2, 16);
    ne = edges_of(&m, e);
    cr_assert_eq(wye_cluster(3, ag, e, ne, &cp, mat_score, &m, person, &st), WYE_OK);
    uint32_t want2[3] = {0, 0, 0};
    cr_assert_arr_eq(person, want2, sizeof want2);
}

Test(cluster, order_of_edges_does_not_matter)
{
    mat m = {.n = 8};
    for (uint32_t a = 0; a < 8; a++)
        for (uint32_t b = a + 1; b < 8; b++)
            set(&m, a, b, (double)((a * 7 + b * 13) % 23) - 8);
    uint16_t ag[8] = {0, 1, 2, 0, 1, 2, 0, 1};
    wye_edge e[64], r[64];
    size_t ne = edges_of(&m, e);
    for (size_t k = 0; k < ne; k++)
        r[k] = e[ne - 1 - k];
    uint32_t p1[8], p2[8];
    cr_assert_eq(wye_cluster(8, ag, e, ne, &cp, mat_score, &m, p1, NULL), WYE_OK);
    cr_assert_eq(wye_cluster(8, ag, r, ne, &cp, mat_score, &m, p2, NULL), WYE_OK);
    cr_assert_arr_eq(p1, p2, sizeof p1);
    /* persons are numbered in order of their lowest record */
    cr_assert_eq(p1[0], 0);
    uint32_t next = 1;
    for (size_t i = 1; i < 8; i++) {
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= p1[j] == p1[i];
        if (!seen)
            cr_assert_eq(p1[i], next++);
    }
}

Test(cluster, max_size_and_bad_edges)
{
    mat m = {.n = 4};
    for (uint32_t a = 0; a < 4; a++)
        for (uint32_t b = a + 1; b < 4; b++)
            set(&m, a, b, 30);
    uint16_t ag[4] = {0, 1, 2, 3};
    wye_edge e[16];
    size_t ne = edges_of(&m, e);
    uint32_t person[4];
    wye_cluster_params small = cp;
    small.max_size = 2;
    wye_cluster_stats st;
    cr_assert_eq(wye_cluster(4, ag, e, ne, &small, mat_score, &m, person, &st), WYE_OK);
    cr_assert_eq(st.largest, 2);
    cr_assert(st.refused_size > 0);
    wye_edge bad = {2, 1, 40};
    cr_assert_eq(wye_cluster(4, ag, &bad, 1, &cp, mat_score, &m, person, NULL), WYE_EINVAL);
    bad = (wye_edge){1, 4, 40};
    cr_assert_eq(wye_cluster(4, ag, &bad, 1, &cp, mat_score, &m, person, NULL), WYE_EINVAL);
}
