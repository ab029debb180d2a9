/* Where the true pairs a linkage misses go (issue 7): for every true pair
 * whose two records end in different persons, which blocking keys they
 * share, how each comparison scored, and what became of the pair (not a
 * candidate, below the possible-match threshold, possible, conflict); and
 * for the pairs linked wrongly, the same. Also evaluates, without changing
 * the linkage, rules that would accept pairs between the two thresholds.
 *
 *   quality_misses --key LU.key --trust DIR --truth truth.csv
 *       --map AGENCY=LOCALMAP.csv ... [--protocol FILE] [--threads N]
 *       [--exhaustive] [--minhash2-bands N] [--minhash2-per-field N]
 *       FILE.wye...
 *
 * The linkage is wye_link_run with wye_link_default_params, as `wyelink
 * link` runs it (--exhaustive: every pair a candidate). truth.csv is
 * "agency,local_id,person" (as run_quality.py writes it); the local maps
 * are the agencies' "local_id,record" files. True pairs of which a record
 * was not encoded are counted from the truth.
 *
 * Prints only counts, field names, levels and scores: never a local id, a
 * pseudonym or anything of an input row. Pairs are numbered in the order
 * found. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wyelink/blocking.h"
#include "wyelink/keys.h"
#include "wyelink/linkage.h"
#include "wyelink/records.h"

#include "../benchtruth.h"

#ifndef WYE_DEFAULT_PROTOCOL
#define WYE_DEFAULT_PROTOCOL "protocols/default.json"
#endif

typedef struct rec_person {
    uint32_t rec;
    const char *person; /* points into the truth table; NULL unknown */
} rec_person;

static int cmp_rp(const void *x, const void *y)
{
    const rec_person *a = x, *b = y;
    int c = strcmp(a->person, b->person);
    if (c)
        return c;
    return a->rec < b->rec ? -1 : a->rec > b->rec;
}

typedef struct ctx {
    const wye_recview *v;
    const wye_linkage *l;
    const wye_fs *fs;
    const wye_blocks *b;
    const wye_link_stats *st;
    const char **person; /* true person of each record (NULL unknown) */
    double *best, *best2; /* best and second-best kept-pair score of each record */
    uint32_t *partner;   /* the other record of each record's best kept pair */
    uint32_t *nkept;     /* kept pairs (>= possible) of each record */
    uint32_t *csize;     /* records in each predicted person */
    bool quiet;
} ctx;

static const char *decision_of(const ctx *c, uint32_t a, uint32_t b, double *score)
{
    /* kept pairs are sorted by (a, b) */
    size_t lo = 0, hi = wye_linkage_npairs(c->l);
    if (a > b) {
        uint32_t t = a;
        a = b;
        b = t;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const wye_link_pair *p = wye_linkage_pair(c->l, mid);
        if (p->a < a || (p->a == a && p->b < b))
            lo = mid + 1;
        else
            hi = mid;
    }
    const wye_link_pair *p = wye_linkage_pair(c->l, lo);
    if (p && p->a == a && p->b == b) {
        *score = p->score;
        return wye_link_decision_name(p->decision);
    }
    return NULL;
}

/* Record-level Dice of a pair (the filter Hamming blocking samples). */
static double record_dice(const wye_recview *v, uint32_t a, uint32_t b)
{
    const wye_layout *lay = v->layout;
    if (!lay->filter_bytes)
        return 0;
    const uint64_t *fa = (const uint64_t *)(const void *)(wye_rec(v, a) + lay->filter_off);
    const uint64_t *fb = (const uint64_t *)(const void *)(wye_rec(v, b) + lay->filter_off);
    uint32_t cnt = wye_dice_and_count(v->kernel, fa, fb, lay->filter_bytes / 8);
    return wye_dice_coeff(cnt, wye_rec_rpop(v, a), wye_rec_rpop(v, b));
}

/* Dice of a field's filters, or -1 when either record lacks it. */
static double field_dice(const wye_recview *v, size_t f, uint32_t a, uint32_t b)
{
    const wye_layout *lay = v->layout;
    if (!lay->field_filter_bytes[f])
        return -1;
    const uint8_t *ra = wye_rec(v, a), *rb = wye_rec(v, b);
    unsigned pa = ra[lay->presence_off] | (unsigned)ra[lay->presence_off + 1] << 8;
    unsigned pb = rb[lay->presence_off] | (unsigned)rb[lay->presence_off + 1] << 8;
    if (!((pa & pb) >> f & 1))
        return -1;
    uint32_t cnt = wye_dice_and_count(
        v->kernel, (const uint64_t *)(const void *)(ra + lay->field_filter_off[f]),
        (const uint64_t *)(const void *)(rb + lay->field_filter_off[f]),
        lay->field_filter_bytes[f] / 8);
    return wye_dice_coeff(cnt, wye_rec_fpop(v, a, f), wye_rec_fpop(v, b, f));
}

/* One line per pair: what happened to it and why. */
static void describe(const ctx *c, const char *what, size_t num, uint32_t a, uint32_t b)
{
    const wye_fs *fs = c->fs;
    uint32_t pat;
    double score = wye_fs_score(fs, c->v, a, b, &pat);
    double kept;
    const char *dec = decision_of(c, a, b, &kept);
    printf("%s %zu: score %.2f (match %.2f, possible %.2f) %s; ", what, num, score,
           c->st->match, c->st->possible,
           dec ? dec : score >= c->st->possible ? "not a candidate" : "below possible");
    bool cand = wye_blocks_is_candidate(c->b, a, b);
    printf("keys:");
    size_t nk = wye_blocks_nkeys(c->b), shown = 0;
    for (size_t k = 0; k < nk; k++)
        if (wye_blocks_share_key(c->b, k, a, b)) {
            printf("%s%s", shown ? "," : " ", wye_blocks_key(c->b, k)->name);
            shown++;
        }
    if (!shown)
        printf(cand ? " (exhaustive)" : " none");
    printf("; record dice %.3f;", record_dice(c->v, a, b));
    double wsum = 0;
    for (size_t k = 0; k < wye_fs_ncomparisons(fs); k++) {
        const wye_fs_comparison *co = wye_fs_comparison_at(fs, k);
        unsigned lev = wye_fs_level(fs, pat, k);
        double w = lev ? log2(wye_fs_m(fs, k, lev) / wye_fs_u(fs, k, lev)) : 0;
        wsum += w;
        printf(" %s=%s", co->name, wye_fs_level_name(lev));
        if (lev)
            printf("(%+.1f)", w);
        if (co->field >= 0) {
            double d = field_dice(c->v, (size_t)co->field, a, b);
            if (d >= 0)
                printf("[dice %.2f]", d);
        }
    }
    printf("; tf %+.2f", score - wsum);
    double oa = c->partner[a] == b ? c->best2[a] : c->best[a];
    double ob = c->partner[b] == a ? c->best2[b] : c->best[b];
    printf("; other kept pairs %u/%u, best other %.2f/%.2f; persons of %u/%u records\n",
           c->nkept[a] - (dec != NULL), c->nkept[b] - (dec != NULL), oa, ob,
           c->csize[wye_linkage_person(c->l, a) - 1], c->csize[wye_linkage_person(c->l, b) - 1]);
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static void usage(void)
{
    fprintf(stderr, "usage: quality_misses --key LU.key --trust DIR --truth truth.csv "
                    "--map AGENCY=FILE ... [--protocol FILE] [--threads N] [--exhaustive] "
                    "[--minhash2-bands N] [--minhash2-per-field N] FILE.wye...\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"trust", required_argument, NULL, 't'},
        {"truth", required_argument, NULL, 'T'},
        {"map", required_argument, NULL, 'm'},
        {"protocol", required_argument, NULL, 'p'},
        {"threads", required_argument, NULL, 'j'},
        {"exhaustive", no_argument, NULL, 'x'},
        {"minhash2-bands", required_argument, NULL, 1},
        {"minhash2-per-field", required_argument, NULL, 2},
        {NULL, 0, NULL, 0},
    };
    const char *key = NULL, *trust_dir = NULL, *truth = NULL, *proto_path = WYE_DEFAULT_PROTOCOL;
    char *maps[64];
    int nmaps = 0, o;
    wye_link_params lp;
    wye_link_default_params(&lp);
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'k': key = optarg; break;
        case 't': trust_dir = optarg; break;
        case 'T': truth = optarg; break;
        case 'm':
            if (nmaps < 64)
                maps[nmaps++] = optarg;
            break;
        case 'p': proto_path = optarg; break;
        case 'j': lp.threads = (unsigned)atoi(optarg); break;
        case 'x': lp.blocking.exhaustive = true; break;
        case 1: lp.blocking.minhash2_bands = (unsigned)atoi(optarg); break;
        case 2: lp.blocking.minhash2_per_field = (unsigned)atoi(optarg); break;
        default: usage(); return 2;
        }
    }
    if (!key || !trust_dir || !truth || optind >= argc) {
        usage();
        return 2;
    }
    bt_inputs in;
    if (bt_load_records("quality_misses", key, trust_dir, proto_path, argv + optind, argc - optind,
                        lp.threads, &in))
        return 1;
    wye_recset *set = in.set;
    wye_diag d;
    const wye_recview *v = wye_recset_view(set);

    bt_table tt;
    ctx c = {0};
    c.v = v;
    c.person = calloc(v->n + 1, sizeof *c.person);
    rec_person *rp = malloc((v->n + 1) * sizeof *rp);
    if (!c.person || !rp || bt_persons(set, v, truth, maps, nmaps, &tt, c.person))
        return 1;
    size_t nrp = 0;
    for (size_t i = 0; i < v->n; i++)
        if (c.person[i])
            rp[nrp++] = (rec_person){(uint32_t)i, c.person[i]};
    qsort(rp, nrp, sizeof *rp, cmp_rp);
    /* true pairs in the truth, encoded or not */
    uint64_t truth_pairs = 0;
    {
        const char **tp = malloc((tt.n + 1) * sizeof *tp);
        for (size_t i = 0; i < tt.n; i++)
            tp[i] = tt.e[i].value;
        qsort(tp, tt.n, sizeof *tp, cmp_str);
        for (size_t s0 = 0, e; s0 < tt.n; s0 = e) {
            for (e = s0 + 1; e < tt.n && strcmp(tp[e], tp[s0]) == 0; e++)
                ;
            truth_pairs += (uint64_t)(e - s0) * (e - s0 - 1) / 2;
        }
        free(tp);
    }

    wye_linkage *l;
    int rc = wye_link_run(set, &lp, &l, &d);
    if (rc) {
        fprintf(stderr, "quality_misses: linkage failed: %s\n", wye_strerror(rc));
        return 1;
    }
    c.l = l;
    c.fs = wye_linkage_model(l);
    c.b = wye_linkage_blocks(l);
    c.st = wye_linkage_stats(l);
    c.best = malloc((v->n + 1) * sizeof *c.best);
    c.best2 = malloc((v->n + 1) * sizeof *c.best2);
    c.partner = malloc((v->n + 1) * sizeof *c.partner);
    c.nkept = calloc(v->n + 1, sizeof *c.nkept);
    c.csize = calloc(v->n + 1, sizeof *c.csize);
    for (size_t i = 0; i < v->n; i++) {
        c.best[i] = c.best2[i] = -INFINITY;
        c.partner[i] = UINT32_MAX;
        c.csize[wye_linkage_person(l, i) - 1]++;
    }
    size_t np = wye_linkage_npairs(l);
    for (size_t k = 0; k < np; k++) {
        const wye_link_pair *p = wye_linkage_pair(l, k);
        c.nkept[p->a]++;
        c.nkept[p->b]++;
        for (int side = 0; side < 2; side++) {
            uint32_t r = side ? p->b : p->a, o = side ? p->a : p->b;
            if (p->score > c.best[r]) {
                c.best2[r] = c.best[r];
                c.best[r] = p->score;
                c.partner[r] = o;
            } else if (p->score > c.best2[r]) {
                c.best2[r] = p->score;
            }
        }
    }
    printf("records %zu, candidates %llu, kept %zu, match %.3f, possible %.3f, persons %llu\n",
           v->n, (unsigned long long)c.st->candidates, np, c.st->match, c.st->possible,
           (unsigned long long)c.st->persons);

    /* true pairs among the encoded records, and where the missed ones go */
    uint64_t enc_pairs = 0, linked = 0, miss_cand = 0, miss_below = 0, miss_possible = 0,
             miss_conflict = 0, miss_match_other = 0;
    size_t num = 0;
    for (size_t s0 = 0, e; s0 < nrp; s0 = e) {
        for (e = s0 + 1; e < nrp && strcmp(rp[e].person, rp[s0].person) == 0; e++)
            ;
        for (size_t x = s0; x < e; x++)
            for (size_t y = x + 1; y < e; y++) {
                uint32_t a = rp[x].rec, b = rp[y].rec;
                if (a > b) {
                    uint32_t t = a;
                    a = b;
                    b = t;
                }
                enc_pairs++;
                if (wye_linkage_person(l, a) == wye_linkage_person(l, b)) {
                    linked++;
                    continue;
                }
                double sc;
                const char *dec = decision_of(&c, a, b, &sc);
                if (!wye_blocks_is_candidate(c.b, a, b))
                    miss_cand++;
                else if (!dec)
                    miss_below++;
                else if (strcmp(dec, "possible") == 0)
                    miss_possible++;
                else if (strcmp(dec, "conflict") == 0)
                    miss_conflict++;
                else
                    miss_match_other++; /* a match, yet apart: cannot happen */
                describe(&c, "missed", ++num, a, b);
            }
    }
    /* pairs linked wrongly */
    uint64_t false_pairs = 0;
    {
        uint32_t *byp = malloc((v->n + 1) * sizeof *byp);
        size_t *first = calloc(c.st->persons + 2, sizeof *first);
        for (size_t i = 0; i < v->n; i++)
            first[wye_linkage_person(l, i)]++;
        for (size_t q = 1; q <= c.st->persons + 1; q++)
            first[q] += first[q - 1];
        size_t *fill = malloc((c.st->persons + 2) * sizeof *fill);
        memcpy(fill, first, (c.st->persons + 2) * sizeof *fill);
        for (size_t i = 0; i < v->n; i++)
            byp[fill[wye_linkage_person(l, i) - 1]++] = (uint32_t)i;
        size_t fnum = 0;
        for (size_t q = 0; q < c.st->persons; q++)
            for (size_t x = first[q]; x < first[q + 1]; x++)
                for (size_t y = x + 1; y < first[q + 1]; y++) {
                    uint32_t a = byp[x], b = byp[y];
                    if (c.person[a] && c.person[b] && strcmp(c.person[a], c.person[b]) == 0)
                        continue;
                    false_pairs++;
                    if (a > b) {
                        uint32_t t = a;
                        a = b;
                        b = t;
                    }
                    describe(&c, "false", ++fnum, a, b);
                }
        free(byp);
        free(first);
        free(fill);
    }
    printf("true pairs %llu (%llu with both records encoded, %llu not encoded); linked %llu\n",
           (unsigned long long)truth_pairs, (unsigned long long)enc_pairs,
           (unsigned long long)(truth_pairs - enc_pairs), (unsigned long long)linked);
    printf("missed %llu: not a candidate %llu, candidate below possible %llu, possible %llu, "
           "conflict %llu, other %llu\n",
           (unsigned long long)(enc_pairs - linked), (unsigned long long)miss_cand,
           (unsigned long long)miss_below, (unsigned long long)miss_possible,
           (unsigned long long)miss_conflict, (unsigned long long)miss_match_other);
    printf("linked wrongly %llu\n", (unsigned long long)false_pairs);

    /* Grey-zone rule, evaluated on the kept pairs: a pair between the two
     * thresholds is accepted when neither record has any other kept pair
     * (no other candidate at or above possible) and neither is already in
     * a person of several records. */
    uint64_t grey = 0, acc_true = 0, acc_false = 0, acc_unknown = 0;
    for (size_t k = 0; k < np; k++) {
        const wye_link_pair *p = wye_linkage_pair(l, k);
        if (p->decision != 1)
            continue;
        grey++;
        if (c.nkept[p->a] != 1 || c.nkept[p->b] != 1 ||
            c.csize[wye_linkage_person(l, p->a) - 1] != 1 ||
            c.csize[wye_linkage_person(l, p->b) - 1] != 1)
            continue;
        if (!c.person[p->a] || !c.person[p->b])
            acc_unknown++;
        else if (strcmp(c.person[p->a], c.person[p->b]) == 0)
            acc_true++;
        else
            acc_false++;
    }
    printf("grey zone (possible) pairs %llu; sole-candidate rule would accept %llu true, "
           "%llu false, %llu unknown\n",
           (unsigned long long)grey, (unsigned long long)acc_true, (unsigned long long)acc_false,
           (unsigned long long)acc_unknown);
    wye_linkage_free(l);
    free(c.person);
    free(c.best);
    free(c.best2);
    free(c.partner);
    free(c.nkept);
    free(c.csize);
    free(rp);
    bt_inputs_free(&in);
    return 0;
}
