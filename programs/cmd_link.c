/* wyelink link: the linkage unit links the agencies' encoded files into
 * persons (linker/LINKING.md). Uses the library's public API only. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "commands.h"
#include "wyelink/audit.h"
#include "wyelink/io.h"
#include "wyelink/keys.h"
#include "wyelink/linkage.h"
#include "wyelink/protocol.h"
#include "wyelink/records.h"

#ifndef WYE_DEFAULT_PROTOCOL
#define WYE_DEFAULT_PROTOCOL "protocols/default.json"
#endif

#define CMD "link"

static void usage(void)
{
    printf("usage: wyelink link --key LU.key --trust DIR --out OUTDIR [options] FILE.wye...\n"
           "\n"
           "Links the encoded files of one or more agencies into persons, deduplicating\n"
           "within and across agencies (one file: within that agency), without ever\n"
           "seeing an identifier. Each file is opened with the linkage unit's key; its\n"
           "signer must be one of the agency keys in the trust folder, and every file\n"
           "must carry the same protocol fingerprint and linkage-secret key id (a file\n"
           "that differs is refused, named).\n"
           "\n"
           "Writes into OUTDIR (created if missing), each file atomically:\n"
           "  persons.csv   agency,record,person for every record (singletons too)\n"
           "  pairs.csv     agency_a,record_a,agency_b,record_b,score,decision for\n"
           "                matches, possible matches and conflicts\n"
           "  summary.json  records per agency, unique persons, persons by number of\n"
           "                agencies, overlaps, persons by attribute (age band, sex,\n"
           "                service type), thresholds and how they were chosen\n"
           "\n"
           "  --key FILE           the linkage unit's key (signs the audit entry)\n"
           "  --trust DIR          folder of trusted agency public keys (*.pub)\n"
           "  --out DIR            output folder\n"
           "  --protocol FILE      linkage protocol (default %s)\n"
           "  --exhaustive         compare every pair instead of blocking (small data,\n"
           "                       or measuring blocking)\n"
           "  --threshold X        match weight threshold (default: automatic, the weight\n"
           "                       at which the estimated match probability is 0.5)\n"
           "  --possible X         possible-match threshold (default: automatic, at 0.05)\n"
           "  --threads N          threads (0 = all cores, the default); output is the same\n"
           "                       for any number\n"
           "  --exact-small-counts show counts below 5 in summary.json (default \"<5\")\n"
           "  --quiet              no progress bar and no summary on stdout\n"
           "  --audit-log FILE     audit log to append to (default $WYELINK_AUDIT_LOG or\n"
           "                       wyelink-audit.log)\n"
           "  -h, --help           this help\n"
           "\n" WYE_CLI_EXIT_HELP,
           WYE_DEFAULT_PROTOCOL);
}

enum {
    OPT_KEY = 256,
    OPT_TRUST,
    OPT_OUT,
    OPT_PROTOCOL,
    OPT_EXHAUSTIVE,
    OPT_THRESHOLD,
    OPT_POSSIBLE,
    OPT_THREADS,
    OPT_EXACT,
    OPT_QUIET,
    OPT_AUDIT,
};

typedef struct progress_state {
    wye_progress bar;
    const char *stage;
    bool quiet;
} progress_state;

static void on_progress(void *ctx, const char *stage, uint64_t done, uint64_t total)
{
    progress_state *ps = ctx;
    if (ps->stage != stage) {
        if (ps->stage)
            wye_progress_end(&ps->bar);
        ps->stage = stage;
        wye_progress_start(&ps->bar, stage, total, 1u << 24, ps->quiet);
    }
    wye_progress_update(&ps->bar, done);
}

static int cmp_file_agency(const void *x, const void *y)
{
    const wye_recfile *a = *(wye_recfile *const *)x, *b = *(wye_recfile *const *)y;
    int c = strcmp(wye_recfile_meta(a)->agency, wye_recfile_meta(b)->agency);
    return c ? c : strcmp(wye_recfile_label(a), wye_recfile_label(b));
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return WYE_OK;
        errno = ENOTDIR;
    }
    return WYE_EIO;
}

typedef int (*writer_fn)(const wye_linkage *l, FILE *f, bool exact);

static int w_persons(const wye_linkage *l, FILE *f, bool exact)
{
    (void)exact;
    return wye_linkage_write_persons(l, f);
}

static int w_pairs(const wye_linkage *l, FILE *f, bool exact)
{
    (void)exact;
    return wye_linkage_write_pairs(l, f);
}

static int w_summary(const wye_linkage *l, FILE *f, bool exact)
{
    return wye_linkage_write_summary(l, f, exact);
}

int wye_cmd_link(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, OPT_KEY},
        {"trust", required_argument, NULL, OPT_TRUST},
        {"out", required_argument, NULL, OPT_OUT},
        {"protocol", required_argument, NULL, OPT_PROTOCOL},
        {"exhaustive", no_argument, NULL, OPT_EXHAUSTIVE},
        {"threshold", required_argument, NULL, OPT_THRESHOLD},
        {"possible", required_argument, NULL, OPT_POSSIBLE},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"exact-small-counts", no_argument, NULL, OPT_EXACT},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"audit-log", required_argument, NULL, OPT_AUDIT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *key = NULL, *trust_dir = NULL, *outdir = NULL, *log = NULL;
    const char *protocol_path = WYE_DEFAULT_PROTOCOL;
    const char *threshold_arg = NULL, *possible_arg = NULL, *threads_arg = "0";
    bool exhaustive = false, exact = false, quiet = false;
    wye_link_params lp;
    wye_link_default_params(&lp);
    uint64_t threads = 0;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_KEY: key = optarg; break;
        case OPT_TRUST: trust_dir = optarg; break;
        case OPT_OUT: outdir = optarg; break;
        case OPT_PROTOCOL: protocol_path = optarg; break;
        case OPT_EXHAUSTIVE: exhaustive = true; break;
        case OPT_THRESHOLD:
            threshold_arg = optarg;
            if (wye_cli_parse_double(CMD, "--threshold", optarg, -1000, 1000, &lp.match))
                return WYE_EXIT_USAGE;
            lp.match_given = true;
            break;
        case OPT_POSSIBLE:
            possible_arg = optarg;
            if (wye_cli_parse_double(CMD, "--possible", optarg, -1000, 1000, &lp.possible))
                return WYE_EXIT_USAGE;
            lp.possible_given = true;
            break;
        case OPT_THREADS:
            threads_arg = optarg;
            if (wye_cli_parse_u64(CMD, "--threads", optarg, 0, 1024, &threads))
                return WYE_EXIT_USAGE;
            break;
        case OPT_EXACT: exact = true; break;
        case OPT_QUIET: quiet = true; break;
        case OPT_AUDIT: log = optarg; break;
        case 'h': usage(); return WYE_EXIT_OK;
        default: return wye_cli_bad_option(CMD, argv);
        }
    }
    if (!key || !trust_dir || !outdir)
        return wye_cli_usage_error(CMD, "--key, --trust and --out are required");
    int nfiles = argc - optind;
    if (nfiles < 1)
        return wye_cli_usage_error(CMD, "give the encoded files to link");
    if (lp.match_given && lp.possible_given && lp.possible > lp.match)
        return wye_cli_usage_error(CMD, "--possible must not be above --threshold");
    char **files = argv + optind;
    lp.blocking.exhaustive = exhaustive;
    lp.threads = (unsigned)threads;

    int rc = wye_crypto_init();
    if (rc != WYE_OK)
        return wye_cli_fail(CMD, "cannot initialise libsodium", rc);
    int status = WYE_EXIT_FAIL;
    wye_party *lu = NULL;
    wye_trust *trust = NULL;
    wye_protocol *proto = NULL;
    wye_recset *set = NULL;
    wye_linkage *lk = NULL;
    wye_recfile **rf = NULL;
    wye_cli_audit au = {NULL, WYE_OK};
    int outcome = WYE_OK;
    char what[WYE_LABEL_MAX + 64];
    wye_diag diag;
    wye_diag_clear(&diag);

    if ((rc = wye_party_load(key, &lu)) != WYE_OK) {
        snprintf(what, sizeof what, "cannot load key '%s'", key);
        return wye_cli_fail(CMD, what, rc);
    }
    const char *audit_path = wye_cli_audit_path(log);
    wye_cli_audit_start(&au, "link");
    wye_cli_audit_param_path(&au, "protocol", protocol_path);
    wye_cli_audit_param_path(&au, "trust", trust_dir);
    wye_cli_audit_param_path(&au, "out", outdir);
    wye_cli_audit_param(&au, "exhaustive", exhaustive ? "yes" : "no");
    wye_cli_audit_param(&au, "threads", threads_arg);
    if (threshold_arg)
        wye_cli_audit_param(&au, "threshold", threshold_arg);
    if (possible_arg)
        wye_cli_audit_param(&au, "possible", possible_arg);
    wye_cli_audit_param(&au, "exact_small_counts", exact ? "yes" : "no");
    /* an input that cannot be digested is reported when it is read */
    for (int i = 0; i < nfiles && au.e && au.rc == WYE_OK; i++)
        if (wye_audit_entry_input(au.e, files[i]) == WYE_ENOMEM)
            au.rc = WYE_ENOMEM;

    if ((rc = wye_trust_load_dir(trust_dir, &trust)) != WYE_OK) {
        snprintf(what, sizeof what, "cannot load trusted keys from '%s'", trust_dir);
        wye_cli_fail(CMD, what, rc);
        outcome = rc;
        goto done;
    }
    if ((rc = wye_protocol_load(protocol_path, &proto, &diag)) != WYE_OK) {
        snprintf(what, sizeof what, "cannot load protocol '%s'", protocol_path);
        wye_cli_fail_diag(CMD, what, rc, &diag);
        outcome = rc;
        goto done;
    }

    /* read the files, several at once */
    rf = calloc((size_t)nfiles, sizeof *rf);
    int *frc = calloc((size_t)nfiles, sizeof *frc);
    wye_diag *fdiag = calloc((size_t)nfiles, sizeof *fdiag);
    if (!rf || !frc || !fdiag) {
        free(frc);
        free(fdiag);
        rc = WYE_ENOMEM;
        wye_cli_fail(CMD, "cannot read the files", rc);
        outcome = rc;
        goto done;
    }
    int nt = threads ? (int)threads : omp_get_num_procs();
    double t_start = omp_get_wtime();
    progress_state ps = {.quiet = quiet};
    wye_progress_start(&ps.bar, "reading", (uint64_t)nfiles, 8, quiet);
    int nread = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int i = 0; i < nfiles; i++) {
        FILE *f = fopen(files[i], "rb");
        if (!f) {
            frc[i] = WYE_EIO;
            wye_diag_set(&fdiag[i], 0, "file", "'%s' cannot be opened: %s", files[i],
                         strerror(errno));
        } else {
            frc[i] = wye_recfile_read(wye_source_file(f), files[i], proto, lu, trust, &rf[i],
                                      &fdiag[i]);
            fclose(f);
        }
        int d;
#pragma omp atomic capture
        d = ++nread;
        if (omp_get_thread_num() == 0)
            wye_progress_update(&ps.bar, (uint64_t)d);
    }
    wye_progress_end(&ps.bar);
    for (int i = 0; i < nfiles; i++) {
        if (frc[i] != WYE_OK) {
            rc = frc[i];
            fprintf(stderr, "wyelink link: %s: %s\n", fdiag[i].reason, wye_strerror(rc));
            outcome = rc;
            break;
        }
    }
    free(frc);
    free(fdiag);
    if (outcome != WYE_OK)
        goto done;

    /* the files in agency order, so the result does not depend on the order
     * they were given in */
    qsort(rf, (size_t)nfiles, sizeof *rf, cmp_file_agency);
    if ((rc = wye_recset_new(proto, NULL, &set)) != WYE_OK) {
        wye_cli_fail(CMD, "cannot hold the records", rc);
        outcome = rc;
        goto done;
    }
    for (int i = 0; i < nfiles; i++) {
        wye_recfile *f = rf[i];
        rf[i] = NULL;
        if ((rc = wye_recset_add_file(set, f, &diag)) != WYE_OK) {
            fprintf(stderr, "wyelink link: %s: %s\n", diag.reason, wye_strerror(rc));
            outcome = rc;
            goto done;
        }
    }
    if ((rc = wye_recset_finish(set, (unsigned)threads)) != WYE_OK) {
        wye_cli_fail(CMD, "cannot index the records", rc);
        outcome = rc;
        goto done;
    }
    double t_read = omp_get_wtime() - t_start;
    if (au.e && au.rc == WYE_OK) {
        uint8_t fp[WYE_FINGERPRINT_BYTES];
        wye_protocol_fingerprint(proto, fp);
        const uint8_t *kid = wye_recset_key_id(set);
        uint8_t zero[WYE_KEY_ID_BYTES] = {0};
        au.rc = wye_audit_entry_protocol(au.e, fp, kid ? kid : zero);
    }

    /* link */
    ps.stage = NULL;
    lp.progress = on_progress;
    lp.progress_ctx = &ps;
    if ((rc = wye_link_run(set, &lp, &lk, &diag)) != WYE_OK) {
        wye_cli_fail_diag(CMD, "linkage failed", rc, &diag);
        outcome = rc;
        goto done;
    }
    if (ps.stage)
        wye_progress_end(&ps.bar);

    /* outputs */
    double t_write = omp_get_wtime();
    if ((rc = make_dir(outdir)) != WYE_OK) {
        snprintf(what, sizeof what, "cannot create folder '%s'", outdir);
        wye_cli_fail(CMD, what, rc);
        outcome = rc;
        goto done;
    }
    static const char *const names[] = {"persons.csv", "pairs.csv", "summary.json"};
    static const writer_fn writers[] = {w_persons, w_pairs, w_summary};
    char paths[3][4096];
    wye_atomic *at[3] = {NULL, NULL, NULL};
    for (int k = 0; k < 3; k++) {
        int w = snprintf(paths[k], sizeof paths[k], "%s/%s", outdir, names[k]);
        if (w < 0 || (size_t)w >= sizeof paths[k]) {
            rc = WYE_ERANGE;
        } else if ((rc = wye_atomic_open(paths[k], 0600, 0, &at[k])) == WYE_OK) {
            rc = writers[k](lk, wye_atomic_file(at[k]), exact);
        }
        if (rc != WYE_OK) {
            snprintf(what, sizeof what, "cannot write '%s'", paths[k]);
            wye_cli_fail(CMD, what, rc);
            for (int j = 0; j <= k; j++)
                wye_atomic_abort(at[j]);
            outcome = rc;
            goto done;
        }
    }
    /* every file was written in full before any is renamed into place */
    for (int k = 0; k < 3; k++) {
        rc = wye_atomic_commit(at[k]);
        at[k] = NULL;
        if (rc != WYE_OK) {
            snprintf(what, sizeof what, "cannot write '%s'", paths[k]);
            wye_cli_fail(CMD, what, rc);
            for (int j = k + 1; j < 3; j++)
                wye_atomic_abort(at[j]);
            outcome = rc;
            goto done;
        }
        if (au.e && au.rc == WYE_OK)
            au.rc = wye_audit_entry_output(au.e, paths[k]);
    }

    t_write = omp_get_wtime() - t_write;
    const wye_link_stats *st = wye_linkage_stats(lk);
    const wye_fs_fit_result *fit = wye_fs_fit_info(wye_linkage_model(lk));
    if (fit->implausible)
        fprintf(stderr, "wyelink link: warning: the fitted model is implausible: %s\n",
                fit->reason);
    wye_cli_audit_count(&au, "records", st->records);
    wye_cli_audit_count(&au, "files", (uint64_t)nfiles);
    wye_cli_audit_count(&au, "candidate_pairs", st->candidates);
    wye_cli_audit_count(&au, "matches", st->matches);
    wye_cli_audit_count(&au, "possible_matches", st->possibles);
    wye_cli_audit_count(&au, "conflicts", st->conflicts);
    wye_cli_audit_count(&au, "persons", st->persons);
    char num[64];
    snprintf(num, sizeof num, "%.3f", st->match);
    wye_cli_audit_param(&au, "match_threshold_used", num);
    snprintf(num, sizeof num, "%.3f", st->possible);
    wye_cli_audit_param(&au, "possible_threshold_used", num);

    if (!quiet) {
        printf("linked %llu records from %d agencies into %llu persons\n",
               (unsigned long long)st->records, nfiles, (unsigned long long)st->persons);
        printf("candidate pairs: %llu of %llu (%s)\n", (unsigned long long)st->candidates,
               (unsigned long long)st->all_pairs, exhaustive ? "exhaustive" : "blocking");
        printf("model: m by EM (%u iterations%s), u from %llu random pairs\n",
               st->em.iterations, st->em.converged ? "" : ", not converged",
               (unsigned long long)st->u_samples);
        wye_fs_write_model(wye_linkage_model(lk), stdout);
        printf("thresholds: %s\n", wye_linkage_how(lk));
        printf("pairs: %llu matches, %llu possible, %llu conflicts kept apart\n",
               (unsigned long long)st->matches, (unsigned long long)st->possibles,
               (unsigned long long)st->conflicts);
        printf("time: reading %.1f s, blocks %.1f s, pass 1 %.1f s, model %.1f s, pass 2 "
               "%.1f s, clustering %.1f s, writing %.1f s\n",
               t_read, st->seconds_blocking, st->seconds_candidates, st->seconds_model,
               st->seconds_scoring, st->seconds_clustering, t_write);
        printf("wrote %s, %s and %s\n", paths[0], paths[1], paths[2]);
    }
    status = WYE_EXIT_OK;

done:
    if (rf)
        for (int i = 0; i < nfiles; i++)
            wye_recfile_free(rf[i]);
    free(rf);
    status = wye_cli_audit_finish(CMD, &au, audit_path, lu, outcome, status);
    wye_linkage_free(lk);
    wye_recset_free(set);
    wye_protocol_free(proto);
    wye_trust_free(trust);
    wye_party_free(lu);
    return status;
}
