/* Blocking benchmark: pair completeness and reduction ratio of the
 * candidate pairs, against the ground truth of synthetic data and against
 * exhaustive linkage.
 *
 *   bench_blocking --key LU.key --trust DIR --truth truth.csv
 *       --map AGENCY=LOCALMAP.csv ... [--exhaustive] [--threads N]
 *       [--hamming-bands N] [--hamming-bits N] [--minhash-bands N]
 *       [--minhash-per-field N] [--max-block N] [--no-digests] FILE.wye...
 *
 * Prints, for the blocking parameters given (default: the linker's):
 *   - candidate pairs and the reduction ratio 1 - candidates / all pairs;
 *   - pair completeness against the truth: the share of truly matching
 *     pairs that are candidates, and for each key how many it finds first;
 *   - with --exhaustive, links with blocking, then scores every pair with
 *     that linkage's model and reports the share of the pairs scoring at or
 *     above its match threshold (what exhaustive comparison would call a
 *     match) that blocking makes candidates, and the comparison levels of
 *     the ones it misses.
 * Only counts are printed. */
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wyelink/blocking.h"
#include "wyelink/keys.h"
#include "wyelink/linkage.h"
#include "wyelink/records.h"

#include "../benchtruth.h"

#ifndef WYE_DEFAULT_PROTOCOL
#define WYE_DEFAULT_PROTOCOL "protocols/default.json"
#endif

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct person_of {
    uint32_t rec;
    long person;
} person_of;

static int cmp_person(const void *x, const void *y)
{
    const person_of *a = x, *b = y;
    if (a->person != b->person)
        return a->person < b->person ? -1 : 1;
    return a->rec < b->rec ? -1 : a->rec > b->rec;
}

typedef struct count_ctx {
    uint64_t n;
} count_ctx;

static int count_fn(void *ctx, uint32_t a, uint32_t b)
{
    (void)a;
    (void)b;
    ((count_ctx *)ctx)->n++;
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_blocking --key LU.key --trust DIR --truth truth.csv "
                    "--map AGENCY=FILE ... [options] FILE.wye...\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"trust", required_argument, NULL, 't'},
        {"truth", required_argument, NULL, 'T'},
        {"map", required_argument, NULL, 'm'},
        {"protocol", required_argument, NULL, 'p'},
        {"exhaustive", no_argument, NULL, 'x'},
        {"threads", required_argument, NULL, 'j'},
        {"hamming-bands", required_argument, NULL, 1},
        {"hamming-bits", required_argument, NULL, 2},
        {"minhash-bands", required_argument, NULL, 3},
        {"minhash-per-field", required_argument, NULL, 4},
        {"max-block", required_argument, NULL, 5},
        {"no-digests", no_argument, NULL, 6},
        {NULL, 0, NULL, 0},
    };
    const char *key = NULL, *trust_dir = NULL, *truth = NULL, *proto_path = WYE_DEFAULT_PROTOCOL;
    char *maps[64];
    int nmaps = 0, exhaustive = 0;
    unsigned threads = 0;
    wye_link_params lp;
    wye_link_default_params(&lp);
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k': key = optarg; break;
        case 't': trust_dir = optarg; break;
        case 'T': truth = optarg; break;
        case 'm':
            if (nmaps < 64)
                maps[nmaps++] = optarg;
            break;
        case 'p': proto_path = optarg; break;
        case 'x': exhaustive = 1; break;
        case 'j': threads = (unsigned)atoi(optarg); break;
        case 1: lp.blocking.hamming_bands = (unsigned)atoi(optarg); break;
        case 2: lp.blocking.hamming_bits = (unsigned)atoi(optarg); break;
        case 3: lp.blocking.minhash_bands = (unsigned)atoi(optarg); break;
        case 4: lp.blocking.minhash_per_field = (unsigned)atoi(optarg); break;
        case 5: lp.blocking.max_block = (size_t)atol(optarg); break;
        case 6: lp.blocking.digests = false; break;
        default: usage(); return 2;
        }
    }
    if (!key || !trust_dir || !truth || optind >= argc) {
        usage();
        return 2;
    }
    lp.threads = threads;
    bt_inputs in;
    double t0 = now();
    if (bt_load_records("bench_blocking", key, trust_dir, proto_path, argv + optind, argc - optind,
                        threads, &in))
        return 1;
    wye_recset *set = in.set;
    wye_diag d;
    const wye_recview *v = wye_recset_view(set);
    printf("read %zu records from %d files in %.2f s\n", v->n, argc - optind, now() - t0);

    bt_table truth_table;
    const char **person_str = malloc((v->n + 1) * sizeof *person_str);
    if (!person_str || bt_persons(set, v, truth, maps, nmaps, &truth_table, person_str))
        return 1;
    person_of *po = malloc((v->n + 1) * sizeof *po);
    if (!po)
        return 1;
    long unknown = -1; /* records not in the truth: each a person of its own */
    for (size_t i = 0; i < v->n; i++)
        po[i] = (person_of){(uint32_t)i, person_str[i] ? atol(person_str[i]) : unknown--};
    qsort(po, v->n, sizeof *po, cmp_person);

    /* blocking */
    t0 = now();
    wye_blocks *b;
    if (wye_blocks_build(v, &lp.blocking, threads, &b))
        return 1;
    double tb = now() - t0;
    t0 = now();
    uint64_t cand = 0;
    size_t np = wye_blocks_nparts(b);
    int nt = threads ? (int)threads : omp_get_num_procs();
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) reduction(+ : cand)
    for (size_t p = 0; p < np; p++) {
        count_ctx cc = {0};
        wye_blocks_pairs(b, p, count_fn, &cc);
        cand += cc.n;
    }
    double tp = now() - t0;
    uint64_t all = (uint64_t)v->n * (v->n - 1) / 2;
    printf("blocking: %zu keys, built in %.2f s, %llu candidate pairs enumerated in %.2f s\n",
           wye_blocks_nkeys(b), tb, (unsigned long long)cand, tp);
    printf("reduction ratio %.6f (%llu of %llu pairs)\n", 1.0 - (double)cand / (double)all,
           (unsigned long long)cand, (unsigned long long)all);
    /* completeness against the truth */
    uint64_t tpairs = 0, found = 0;
    for (size_t s = 0, e; s < v->n; s = e) {
        for (e = s + 1; e < v->n && po[e].person == po[s].person; e++)
            ;
        for (size_t x = s; x < e; x++)
            for (size_t y = x + 1; y < e; y++) {
                tpairs++;
                found += wye_blocks_is_candidate(b, po[x].rec, po[y].rec);
            }
    }
    printf("pair completeness against the truth: %.5f (%llu of %llu true pairs are "
           "candidates)\n",
           tpairs ? (double)found / (double)tpairs : 1.0, (unsigned long long)found,
           (unsigned long long)tpairs);
    for (size_t k = 0; k < wye_blocks_nkeys(b); k++) {
        const wye_block_key_stats *ks = wye_blocks_key(b, k);
        printf("  key %-22s %8llu blocks %12llu pairs %4llu dropped\n", ks->name,
               (unsigned long long)ks->blocks, (unsigned long long)ks->pairs,
               (unsigned long long)ks->dropped);
    }

    if (exhaustive) {
        /* Link with blocking; then score every pair with that linkage's
         * model and count the pairs at or above its match threshold that
         * blocking did not make candidates. */
        wye_linkage *lb;
        t0 = now();
        if (wye_link_run(set, &lp, &lb, &d))
            return 1;
        double t1 = now() - t0;
        const wye_link_stats *sb = wye_linkage_stats(lb);
        const wye_fs *fs = wye_linkage_model(lb);
        uint32_t npat = wye_fs_npatterns(fs);
        uint64_t *missed_pat = calloc(npat, sizeof *missed_pat);
        uint64_t xm = 0, xm_cand = 0;
        t0 = now();
#pragma omp parallel num_threads(nt)
        {
            uint64_t *mp = calloc(npat, sizeof *mp);
            uint64_t m1 = 0, m2 = 0;
#pragma omp for schedule(dynamic, 64)
            for (size_t i = 0; i < v->n; i++) {
                for (size_t j = i + 1; j < v->n; j++) {
                    uint32_t pat;
                    pat = wye_fs_pattern(fs, v, i, j);
                    if (wye_fs_score_bound(fs, pat) < sb->match)
                        continue;
                    if (wye_fs_score_pattern(fs, pat, i, j) < sb->match)
                        continue;
                    m1++;
                    bool cand = wye_blocks_is_candidate(b, (uint32_t)i, (uint32_t)j);
                    m2 += cand;
                    if (!cand)
                        mp[pat]++;
                }
            }
#pragma omp critical
            {
                xm += m1;
                xm_cand += m2;
                for (uint32_t k = 0; k < npat; k++)
                    missed_pat[k] += mp[k];
            }
            free(mp);
        }
        printf("blocked linkage: %.1f s, match threshold %.3f\n", t1, sb->match);
        printf("every pair scored with its model in %.1f s: %llu pairs at or above the "
               "threshold\n",
               now() - t0, (unsigned long long)xm);
        printf("pair completeness against exhaustive: %.5f (%llu of them are candidates)\n",
               xm ? (double)xm_cand / (double)xm : 1.0, (unsigned long long)xm_cand);
        printf("patterns of the pairs blocking missed (count: levels per comparison):\n");
        for (int top = 0; top < 12; top++) {
            uint32_t best = 0;
            for (uint32_t k = 1; k < npat; k++)
                if (missed_pat[k] > missed_pat[best])
                    best = k;
            if (!missed_pat[best])
                break;
            printf("  %8llu:", (unsigned long long)missed_pat[best]);
            for (size_t c = 0; c < wye_fs_ncomparisons(fs); c++)
                printf(" %s=%s", wye_fs_comparison_at(fs, c)->name,
                       wye_fs_level_name(wye_fs_level(fs, best, c)));
            printf("\n");
            missed_pat[best] = 0;
        }
        free(missed_pat);
        wye_linkage_free(lb);
    }
    wye_blocks_free(b);
    free(po);
    bt_inputs_free(&in);
    return 0;
}
