/* bench_privacy: attack the encodings of one or more protocols and measure
 * the linkage quality each gives (protocols/PRIVACY.md has the threat model,
 * the attacks and the results; bench/privacy/run_privacy.py runs the whole
 * table).
 *
 *   bench_privacy [--seed N] [--scale F] [--names DIR] [--threads N]
 *                 [--no-freq] [--no-graph] [--sim qgram|reencode|both]
 *                 [--f1] [--f1-only] [--record-dice never|always|auto]
 *                 [--febrl4 DIR] PROTOCOL.json...
 *
 * For each protocol: synthetic records (wyelink synth, seed N, all seven
 * agencies) are read through the agencies' column maps and encoded with the
 * real encoder under a fixed test secret; the attacker's public sample is
 * another synthetic population (seed N + 1000, the same public lists). It
 * prints, per protocol, the share of records and of distinct names
 * re-identified by each attack (for graph matching also, on a second line,
 * the share matched to their own person and the chance baselines of both
 * figures: PRIVACY.md section 1), and with --f1 the pairwise F1 of linking the
 * encoded records with the linker's defaults (automatic thresholds); with
 * --febrl4 DIR also of FEBRL4 (DIR/dataset4a.csv vs dataset4b.csv, names and
 * date of birth, bench/quality/maps/febrl.map.json). --record-dice auto adds
 * the record-level filter as a comparison when the protocol has no field
 * filter (wye_fs_params.record_dice; `wyelink link` does the same,
 * wye_link_params.record_dice_auto).
 * Output holds counts and shares only. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "priv.h"
#include "wyelink/linkage.h"
#include "wyelink/records.h"
#include "wyelink/synth.h"

#ifndef PRIV_NAMES_DIR
#define PRIV_NAMES_DIR "testdata/names"
#endif
#ifndef PRIV_FEBRL_MAP
#define PRIV_FEBRL_MAP "bench/quality/maps/febrl.map.json"
#endif

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct pt {
    uint64_t p, t;
} pt;

static int cmp_pt(const void *a, const void *b)
{
    const pt *x = a, *y = b;
    if (x->p != y->p)
        return x->p < y->p ? -1 : 1;
    return x->t < y->t ? -1 : x->t > y->t;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pairs_of(const uint64_t *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j] == v[i])
            j++;
        s += (double)(j - i) * (double)(j - i - 1) / 2;
        i = j;
    }
    return s;
}

/* Pairwise precision, recall and F1 as wyelink eval computes them; rows the
 * hashing client rejected are persons of their own. */
static int f1_of(const priv_data *d, const uint32_t *pred, double *prec, double *rec, double *f1)
{
    size_t n = d->n + d->nrej;
    pt *v = malloc((n + 1) * sizeof *v);
    uint64_t *a = malloc((n + 1) * sizeof *a), *b = malloc((n + 1) * sizeof *b);
    if (!v || !a || !b) {
        free(v);
        free(a);
        free(b);
        return -1;
    }
    for (size_t i = 0; i < d->n; i++)
        v[i] = (pt){pred[i], d->person[i]};
    for (size_t k = 0; k < d->nrej; k++)
        v[d->n + k] = (pt){(1ull << 40) + k, d->rej_person[k]};
    for (size_t i = 0; i < n; i++)
        a[i] = v[i].p, b[i] = v[i].t;
    qsort(v, n, sizeof *v, cmp_pt);
    qsort(a, n, sizeof *a, cmp_u64);
    qsort(b, n, sizeof *b, cmp_u64);
    double correct = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].p == v[i].p && v[j].t == v[i].t)
            j++;
        correct += (double)(j - i) * (double)(j - i - 1) / 2;
        i = j;
    }
    double predicted = pairs_of(a, n), truth = pairs_of(b, n);
    *prec = predicted > 0 ? correct / predicted : 1;
    *rec = truth > 0 ? correct / truth : 1;
    *f1 = *prec + *rec > 0 ? 2 * *prec * *rec / (*prec + *rec) : 0;
    free(v);
    free(a);
    free(b);
    return 0;
}

/* Link the encoded records with the linker's defaults, as `wyelink link`. */
static int link_f1(const priv_data *d, unsigned threads, int record_dice, double *prec,
                   double *rec, double *f1)
{
    wye_recset *s = NULL;
    int rc = wye_recset_new(d->p, NULL, &s);
    wye_diag diag;
    for (size_t i = 0; !rc && i < d->n;) {
        size_t j = i;
        while (j < d->n && d->agency[j] == d->agency[i])
            j++;
        char label[64];
        snprintf(label, sizeof label, "%s.wye", wye_synth_agency_name(d->agency[i]));
        rc = wye_recset_add_records(s, wye_synth_agency_name(d->agency[i]), label, NULL,
                                    d->enc + i * d->rsize, j - i, &diag);
        i = j;
    }
    if (!rc)
        rc = wye_recset_finish(s, threads);
    wye_link_params lp;
    wye_link_default_params(&lp);
    lp.threads = threads;
    /* record_dice: 0 never, 1 always, 2 when no field has a field filter */
    bool any_ff = false;
    for (size_t f = 0; f < wye_protocol_nfields(d->p); f++)
        any_ff = any_ff || wye_protocol_field(d->p, f)->field_filter_bits > 0;
    lp.fs.record_dice = record_dice == 1 || (record_dice == 2 && !any_ff);
    lp.record_dice_auto = record_dice == 2; /* as wyelink link; never = off */
    wye_linkage *l = NULL;
    if (!rc)
        rc = wye_link_run(s, &lp, &l, &diag);
    uint32_t *pred = NULL;
    if (!rc) {
        pred = malloc((d->n + 1) * sizeof *pred);
        if (!pred)
            rc = WYE_ENOMEM;
        for (size_t i = 0; pred && i < d->n; i++)
            pred[i] = wye_linkage_person(l, i);
    }
    if (!rc && f1_of(d, pred, prec, rec, f1))
        rc = WYE_ENOMEM;
    free(pred);
    wye_linkage_free(l);
    wye_recset_free(s);
    return rc;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_privacy [--seed N] [--scale F] [--names DIR] [--threads N]\n"
            "                     [--no-freq] [--no-graph] [--sim qgram|reencode|both]\n"
            "                     [--f1] [--f1-only] [--record-dice never|always|auto]\n"
            "                     [--febrl4 DIR]\n"
            "                     PROTOCOL.json...\n");
}

static void print_score(const char *proto, const char *attack, const priv_score *s)
{
    printf("%s\t%s\trecords %.4f (%zu/%zu)\tnames %.4f (%zu/%zu)\tfull %.4f\tguessed %zu\n",
           proto, attack, priv_share(s->reid, s->records), s->reid, s->records,
           priv_share(s->names_reid, s->names), s->names_reid, s->names,
           priv_share(s->reid_full, s->records), s->guessed);
    if (s->graph)
        printf("%s\t%s\tidentity %.4f (%zu/%zu)\tchance: identity %.4f names %.4f\n", proto,
               attack, priv_share(s->ident, s->records), s->ident, s->records,
               s->records ? s->chance_ident / (double)s->records : 0.0,
               s->records ? s->chance_reid / (double)s->records : 0.0);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    uint64_t seed = 1;
    double scale = 1.0;
    const char *names = PRIV_NAMES_DIR;
    unsigned threads = 0;
    bool do_freq = true, do_graph = true, do_f1 = false;
    int sims = 3, record_dice = 0;
    const char *febrl4 = NULL;
    static const struct option opts[] = {
        {"seed", required_argument, NULL, 's'},   {"scale", required_argument, NULL, 'S'},
        {"names", required_argument, NULL, 'n'},  {"threads", required_argument, NULL, 't'},
        {"no-freq", no_argument, NULL, 'F'},      {"no-graph", no_argument, NULL, 'G'},
        {"sim", required_argument, NULL, 'm'},    {"f1", no_argument, NULL, '1'},
        {"f1-only", no_argument, NULL, 'o'},      {"help", no_argument, NULL, 'h'},
        {"record-dice", required_argument, NULL, 'r'},
        {"febrl4", required_argument, NULL, '4'},
        {NULL, 0, NULL, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's': seed = strtoull(optarg, NULL, 10); break;
        case 'S': scale = strtod(optarg, NULL); break;
        case 'n': names = optarg; break;
        case 't': threads = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'F': do_freq = false; break;
        case 'G': do_graph = false; break;
        case '1': do_f1 = true; break;
        case 'o': do_f1 = true, do_freq = do_graph = false; break;
        case 'm':
            sims = strcmp(optarg, "qgram") == 0      ? 1
                   : strcmp(optarg, "reencode") == 0 ? 2
                   : strcmp(optarg, "both") == 0     ? 3
                                                     : 0;
            if (!sims) {
                usage();
                return 2;
            }
            break;
        case 'r':
            record_dice = strcmp(optarg, "never") == 0    ? 0
                          : strcmp(optarg, "always") == 0 ? 1
                          : strcmp(optarg, "auto") == 0   ? 2
                                                          : -1;
            if (record_dice < 0) {
                usage();
                return 2;
            }
            break;
        case '4': febrl4 = optarg; break;
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
    }
    if (optind >= argc || !(scale > 0)) {
        usage();
        return 2;
    }
    priv_public pub;
    int rc = priv_public_load(names, &pub);
    if (rc) {
        fprintf(stderr, "bench_privacy: cannot load the name lists from '%s': %s\n", names,
                wye_strerror(rc));
        return 1;
    }
    wye_secret *secret = NULL, *mine = NULL;
    if ((rc = priv_secret_fixed(0x10, &secret)) || (rc = priv_secret_fixed(0x77, &mine))) {
        fprintf(stderr, "bench_privacy: cannot make the test secrets: %s\n", wye_strerror(rc));
        return 1;
    }
    int status = 0;
    for (int a = optind; a < argc; a++) {
        const char *path = argv[a];
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        wye_protocol *p = NULL;
        wye_diag diag;
        if ((rc = wye_protocol_load(path, &p, &diag))) {
            fprintf(stderr, "bench_privacy: '%s': %s: %s\n", path, diag.field, diag.reason);
            status = 1;
            continue;
        }
        priv_data E, S;
        double t0 = now();
        rc = priv_data_synth(p, seed, scale, WYE_SYNTH_ALL_AGENCIES, 0, &E);
        if (!rc)
            rc = priv_data_encode(&E, secret);
        if (!rc)
            rc = priv_data_synth(p, seed + 1000, scale, WYE_SYNTH_ALL_AGENCIES, 1u << 30, &S);
        if (rc) {
            fprintf(stderr, "bench_privacy: '%s': cannot make the data: %s\n", path,
                    wye_strerror(rc));
            status = 1;
            wye_protocol_free(p);
            continue;
        }
        printf("%s\tdata\trecords %zu\tsample %zu\t(%.1f s)\n", base, E.n, S.n, now() - t0);
        if (do_f1) {
            double pr, re, f1;
            t0 = now();
            rc = link_f1(&E, threads, record_dice, &pr, &re, &f1);
            if (rc)
                fprintf(stderr, "bench_privacy: '%s': linking failed: %s\n", path,
                        wye_strerror(rc));
            else
                printf("%s\tf1\tF1 %.4f\tprecision %.4f\trecall %.4f\t(%.1f s)\n", base, f1, pr,
                       re, now() - t0);
        }
        if (do_f1 && !rc && febrl4) {
            char a4[4096], b4[4096];
            snprintf(a4, sizeof a4, "%s/dataset4a.csv", febrl4);
            snprintf(b4, sizeof b4, "%s/dataset4b.csv", febrl4);
            const char *files[2] = {a4, b4};
            priv_data F;
            double pr, re, f1;
            t0 = now();
            rc = priv_data_files(p, files, PRIV_FEBRL_MAP, 2, "2008-01-01", &F);
            if (!rc)
                rc = priv_data_encode(&F, secret);
            if (!rc)
                rc = link_f1(&F, threads, record_dice, &pr, &re, &f1);
            if (rc)
                fprintf(stderr, "bench_privacy: '%s': FEBRL4 failed: %s\n", path,
                        wye_strerror(rc));
            else
                printf("%s\tfebrl4\tF1 %.4f\tprecision %.4f\trecall %.4f\t(%.1f s)\n", base, f1,
                       pr, re, now() - t0);
            priv_data_free(&F);
        }
        if (do_freq && !rc) {
            priv_freq_report fr;
            t0 = now();
            rc = priv_attack_freq(&E, &S, &pub, NULL, &fr);
            if (rc) {
                fprintf(stderr, "bench_privacy: '%s': frequency attack failed: %s\n", path,
                        wye_strerror(rc));
            } else {
                for (size_t k = 0; k < fr.n; k++) {
                    char label[96];
                    snprintf(label, sizeof label, "freq: %s%s", fr.t[k].name,
                             fr.t[k].names ? "" : " (not a name)");
                    print_score(base, label, &fr.t[k].s);
                    if (fr.t[k].learned)
                        printf("%s\tfreq: %s\ttokens learned %zu\n", base, fr.t[k].name,
                               fr.t[k].learned);
                }
                printf("%s\tfreq\t(%.1f s)\n", base, now() - t0);
            }
        }
        bool has_ff = false;
        for (size_t f = 0; f < wye_protocol_nfields(p); f++)
            has_ff = has_ff || wye_protocol_field(p, f)->field_filter_bits > 0;
        bool has_rec = wye_protocol_layout(p)->filter_bytes > 0;
        for (int view = 0; do_graph && !rc && view < 2; view++) {
            if ((view == 0 && !has_rec) || (view == 1 && !has_ff))
                continue;
            for (int sm = 1; !rc && sm <= 2; sm++) {
                if (!(sims & sm))
                    continue;
                for (int ov = 100; ov >= 50 && !rc; ov -= 50) {
                    /* the plaintext population: E's records, or half of
                     * them and as many of another population's */
                    size_t *ix = malloc((E.n + 1) * sizeof *ix),
                           *jx = malloc((E.n + 1) * sizeof *jx);
                    if (!ix || !jx) {
                        free(ix);
                        free(jx);
                        rc = WYE_ENOMEM;
                        break;
                    }
                    size_t m = 0, k = 0;
                    uint64_t r = 0x1234567ull + seed;
                    for (size_t i = 0; i < E.n; i++) {
                        r = r * 6364136223846793005ull + 1442695040888963407ull;
                        if (ov == 100 || (r >> 33) % 2 == 0)
                            ix[m++] = i;
                    }
                    for (size_t j = 0; j < S.n && m + k < E.n; j++) {
                        r = r * 6364136223846793005ull + 1442695040888963407ull;
                        if ((r >> 33) % 2 == 0)
                            jx[k++] = j;
                    }
                    priv_data P;
                    rc = priv_data_pick(&E, ix, m, &S, jx, k, &P);
                    free(ix);
                    free(jx);
                    if (rc)
                        break;
                    priv_graph_opts go;
                    priv_graph_default_opts(&go);
                    go.sim = sm == 1 ? PRIV_SIM_QGRAM : PRIV_SIM_REENCODE;
                    go.attacker_secret = mine;
                    go.threads = threads;
                    go.fields = view == 1;
                    priv_score s;
                    t0 = now();
                    rc = priv_attack_graph(&E, &P, &go, &s);
                    priv_data_free(&P);
                    if (rc) {
                        fprintf(stderr, "bench_privacy: '%s': graph attack failed: %s\n", path,
                                wye_strerror(rc));
                        break;
                    }
                    char label[96];
                    snprintf(label, sizeof label, "graph %s %s %d%% overlap (%.0f s)",
                             view ? "field-filters" : "record-filter",
                             sm == 1 ? "qgram" : "reencode", ov, now() - t0);
                    print_score(base, label, &s);
                }
            }
        }
        if (rc)
            status = 1;
        priv_data_free(&E);
        priv_data_free(&S);
        wye_protocol_free(p);
    }
    wye_secret_free(secret);
    wye_secret_free(mine);
    priv_public_free(&pub);
    return status;
}
