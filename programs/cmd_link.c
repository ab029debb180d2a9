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

/* What the command line asked for. */
typedef struct link_opts {
    const char *key, *trust_dir, *outdir, *log, *protocol_path;
    const char *threshold_arg, *possible_arg, *threads_arg;
    bool exhaustive, exact, quiet;
    unsigned threads;
    wye_link_params lp;
    char **files;
    int nfiles;
} link_opts;

/* Parse argv into o. Returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, link_opts *o)
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
    *o = (link_opts){.protocol_path = WYE_DEFAULT_PROTOCOL, .threads_arg = "0"};
    wye_link_default_params(&o->lp);
    uint64_t threads = 0;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_KEY: o->key = optarg; break;
        case OPT_TRUST: o->trust_dir = optarg; break;
        case OPT_OUT: o->outdir = optarg; break;
        case OPT_PROTOCOL: o->protocol_path = optarg; break;
        case OPT_EXHAUSTIVE: o->exhaustive = true; break;
        case OPT_THRESHOLD:
            o->threshold_arg = optarg;
            if (wye_cli_parse_double(CMD, "--threshold", optarg, -1000, 1000, &o->lp.match))
                return WYE_EXIT_USAGE;
            o->lp.match_given = true;
            break;
        case OPT_POSSIBLE:
            o->possible_arg = optarg;
            if (wye_cli_parse_double(CMD, "--possible", optarg, -1000, 1000, &o->lp.possible))
                return WYE_EXIT_USAGE;
            o->lp.possible_given = true;
            break;
        case OPT_THREADS:
            o->threads_arg = optarg;
            if (wye_cli_parse_u64(CMD, "--threads", optarg, 0, 1024, &threads))
                return WYE_EXIT_USAGE;
            break;
        case OPT_EXACT: o->exact = true; break;
        case OPT_QUIET: o->quiet = true; break;
        case OPT_AUDIT: o->log = optarg; break;
        case 'h': usage(); return WYE_EXIT_OK;
        default: return wye_cli_bad_option(CMD, argv);
        }
    }
    if (!o->key || !o->trust_dir || !o->outdir)
        return wye_cli_usage_error(CMD, "--key, --trust and --out are required");
    o->nfiles = argc - optind;
    if (o->nfiles < 1)
        return wye_cli_usage_error(CMD, "give the encoded files to link");
    if (o->lp.match_given && o->lp.possible_given && o->lp.possible > o->lp.match)
        return wye_cli_usage_error(CMD, "--possible must not be above --threshold");
    o->files = argv + optind;
    o->lp.blocking.exhaustive = o->exhaustive;
    o->threads = (unsigned)threads;
    o->lp.threads = o->threads;
    return -1;
}

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

/* Report a failure; returns code, the run's outcome. */
static int fail(const char *what, int code)
{
    wye_cli_fail(CMD, what, code);
    return code;
}

static int fail_diag(const char *what, int code, const wye_diag *d)
{
    wye_cli_fail_diag(CMD, what, code, d);
    return code;
}

#define NOUT 3

/* One run: what it holds, freed by run_free. */
typedef struct link_run {
    const link_opts *o;
    wye_party *lu;
    wye_trust *trust;
    wye_protocol *proto;
    wye_recset *set;
    wye_linkage *lk;
    wye_cli_audit au;
    progress_state ps;
    char paths[NOUT][4096];
    double t_read, t_write;
} link_run;

static void run_free(link_run *r)
{
    wye_linkage_free(r->lk);
    wye_recset_free(r->set);
    wye_protocol_free(r->proto);
    wye_trust_free(r->trust);
    wye_party_free(r->lu);
}

/* The entry's parameters and inputs; a failure is reported at the end. */
static void audit_begin(link_run *r)
{
    const link_opts *o = r->o;
    wye_cli_audit *au = &r->au;
    wye_cli_audit_start(au, "link");
    wye_cli_audit_param_path(au, "protocol", o->protocol_path);
    wye_cli_audit_param_path(au, "trust", o->trust_dir);
    wye_cli_audit_param_path(au, "out", o->outdir);
    wye_cli_audit_param(au, "exhaustive", o->exhaustive ? "yes" : "no");
    wye_cli_audit_param(au, "threads", o->threads_arg);
    if (o->threshold_arg)
        wye_cli_audit_param(au, "threshold", o->threshold_arg);
    if (o->possible_arg)
        wye_cli_audit_param(au, "possible", o->possible_arg);
    wye_cli_audit_param(au, "exact_small_counts", o->exact ? "yes" : "no");
    /* an input that cannot be digested is reported when it is read */
    for (int i = 0; i < o->nfiles && au->e && au->rc == WYE_OK; i++)
        if (wye_audit_entry_input(au->e, o->files[i]) == WYE_ENOMEM)
            au->rc = WYE_ENOMEM;
}

/* The trusted keys and the protocol. */
static int load_setup(link_run *r)
{
    const link_opts *o = r->o;
    char what[4200];
    wye_diag diag;
    wye_diag_clear(&diag);
    int rc = wye_trust_load_dir(o->trust_dir, &r->trust);
    if (rc != WYE_OK) {
        snprintf(what, sizeof what, "cannot load trusted keys from '%s'", o->trust_dir);
        wye_cli_fail(CMD, what, rc);
        return rc;
    }
    if ((rc = wye_protocol_load(o->protocol_path, &r->proto, &diag)) != WYE_OK) {
        snprintf(what, sizeof what, "cannot load protocol '%s'", o->protocol_path);
        wye_cli_fail_diag(CMD, what, rc, &diag);
    }
    return rc;
}

static int cmp_file_agency(const void *x, const void *y)
{
    const wye_recfile *a = *(wye_recfile *const *)x, *b = *(wye_recfile *const *)y;
    int c = strcmp(wye_recfile_meta(a)->agency, wye_recfile_meta(b)->agency);
    return c ? c : strcmp(wye_recfile_label(a), wye_recfile_label(b));
}

/* Read and verify every file into rf, several at once; the first failure
 * (in the order given) is reported. */
static int read_files(link_run *r, wye_recfile **rf)
{
    const link_opts *o = r->o;
    int n = o->nfiles;
    int *frc = calloc((size_t)n, sizeof *frc);
    wye_diag *fdiag = calloc((size_t)n, sizeof *fdiag);
    if (!frc || !fdiag) {
        free(frc);
        free(fdiag);
        return fail("cannot read the files", WYE_ENOMEM);
    }
    int nt = o->threads ? (int)o->threads : omp_get_num_procs();
    wye_progress_start(&r->ps.bar, "reading", (uint64_t)n, 8, o->quiet);
    int nread = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int i = 0; i < n; i++) {
        FILE *f = fopen(o->files[i], "rb");
        if (!f) {
            frc[i] = WYE_EIO;
            wye_diag_set(&fdiag[i], 0, "file", "'%s' cannot be opened: %s", o->files[i],
                         strerror(errno));
        } else {
            frc[i] = wye_recfile_read(wye_source_file(f), o->files[i], r->proto, r->lu,
                                      r->trust, &rf[i], &fdiag[i]);
            fclose(f);
        }
        int d;
#pragma omp atomic capture
        d = ++nread;
        if (omp_get_thread_num() == 0)
            wye_progress_update(&r->ps.bar, (uint64_t)d);
    }
    wye_progress_end(&r->ps.bar);
    int rc = WYE_OK;
    for (int i = 0; i < n && rc == WYE_OK; i++)
        if ((rc = frc[i]) != WYE_OK)
            fprintf(stderr, "wyelink link: %s: %s\n", fdiag[i].reason, wye_strerror(rc));
    free(frc);
    free(fdiag);
    return rc;
}

/* Gather the files into one set, in agency order so that the result does
 * not depend on the order they were given in; the set takes each file. */
static int gather_files(link_run *r, wye_recfile **rf)
{
    int n = r->o->nfiles;
    wye_diag diag;
    wye_diag_clear(&diag);
    qsort(rf, (size_t)n, sizeof *rf, cmp_file_agency);
    int rc = wye_recset_new(r->proto, NULL, &r->set);
    if (rc != WYE_OK)
        return fail("cannot hold the records", rc);
    for (int i = 0; i < n; i++) {
        wye_recfile *f = rf[i];
        rf[i] = NULL;
        if ((rc = wye_recset_add_file(r->set, f, &diag)) != WYE_OK) {
            fprintf(stderr, "wyelink link: %s: %s\n", diag.reason, wye_strerror(rc));
            return rc;
        }
    }
    if ((rc = wye_recset_finish(r->set, r->o->threads)) != WYE_OK)
        wye_cli_fail(CMD, "cannot index the records", rc);
    return rc;
}

/* Load and verify the inputs into one record set. */
static int load_inputs(link_run *r)
{
    int n = r->o->nfiles;
    double t0 = omp_get_wtime();
    wye_recfile **rf = calloc((size_t)n, sizeof *rf);
    if (!rf)
        return fail("cannot read the files", WYE_ENOMEM);
    int rc = read_files(r, rf);
    if (rc == WYE_OK)
        rc = gather_files(r, rf);
    for (int i = 0; i < n; i++)
        wye_recfile_free(rf[i]);
    free(rf);
    if (rc != WYE_OK)
        return rc;
    r->t_read = omp_get_wtime() - t0;
    if (r->au.e && r->au.rc == WYE_OK) {
        uint8_t fp[WYE_FINGERPRINT_BYTES];
        wye_protocol_fingerprint(r->proto, fp);
        const uint8_t *kid = wye_recset_key_id(r->set);
        uint8_t zero[WYE_KEY_ID_BYTES] = {0};
        r->au.rc = wye_audit_entry_protocol(r->au.e, fp, kid ? kid : zero);
    }
    return WYE_OK;
}

/* Block, score, fit and cluster (wye_link_run). */
static int run_linkage(link_run *r)
{
    wye_link_params lp = r->o->lp;
    wye_diag diag;
    r->ps.stage = NULL;
    lp.progress = on_progress;
    lp.progress_ctx = &r->ps;
    int rc = wye_link_run(r->set, &lp, &r->lk, &diag);
    if (rc != WYE_OK)
        return fail_diag("linkage failed", rc, &diag);
    if (r->ps.stage)
        wye_progress_end(&r->ps.bar);
    return WYE_OK;
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

static int write_one(const link_run *r, int k, FILE *f)
{
    switch (k) {
    case 0: return wye_linkage_write_persons(r->lk, f);
    case 1: return wye_linkage_write_pairs(r->lk, f);
    default: return wye_linkage_write_summary(r->lk, f, r->o->exact);
    }
}

/* Write persons.csv, pairs.csv and summary.json into the output folder:
 * every file in full before any is renamed into place. */
static int write_outputs(link_run *r)
{
    static const char *const names[NOUT] = {"persons.csv", "pairs.csv", "summary.json"};
    const char *outdir = r->o->outdir;
    char what[4200];
    double t0 = omp_get_wtime();
    int rc = make_dir(outdir);
    if (rc != WYE_OK) {
        snprintf(what, sizeof what, "cannot create folder '%s'", outdir);
        return fail(what, rc);
    }
    wye_atomic *at[NOUT] = {NULL};
    int k;
    for (k = 0; k < NOUT && rc == WYE_OK; k++) {
        int w = snprintf(r->paths[k], sizeof r->paths[k], "%s/%s", outdir, names[k]);
        if (w < 0 || (size_t)w >= sizeof r->paths[k])
            rc = WYE_ERANGE;
        else if ((rc = wye_atomic_open(r->paths[k], 0600, 0, &at[k])) == WYE_OK)
            rc = write_one(r, k, wye_atomic_file(at[k]));
    }
    for (int j = 0; j < NOUT && rc == WYE_OK; j++) {
        rc = wye_atomic_commit(at[j]);
        at[j] = NULL;
        k = j + 1;
        if (rc == WYE_OK && r->au.e && r->au.rc == WYE_OK)
            r->au.rc = wye_audit_entry_output(r->au.e, r->paths[j]);
    }
    for (int j = 0; j < NOUT; j++)
        wye_atomic_abort(at[j]);
    if (rc != WYE_OK) {
        snprintf(what, sizeof what, "cannot write '%s'", r->paths[k - 1]);
        return fail(what, rc);
    }
    r->t_write = omp_get_wtime() - t0;
    return WYE_OK;
}

/* The counts and thresholds of the entry. */
static void audit_counts(link_run *r)
{
    const wye_link_stats *st = wye_linkage_stats(r->lk);
    wye_cli_audit *au = &r->au;
    wye_cli_audit_count(au, "records", st->records);
    wye_cli_audit_count(au, "files", (uint64_t)r->o->nfiles);
    wye_cli_audit_count(au, "candidate_pairs", st->candidates);
    wye_cli_audit_count(au, "matches", st->matches);
    wye_cli_audit_count(au, "possible_matches", st->possibles);
    wye_cli_audit_count(au, "conflicts", st->conflicts);
    wye_cli_audit_count(au, "persons", st->persons);
    char num[64];
    snprintf(num, sizeof num, "%.3f", st->match);
    wye_cli_audit_param(au, "match_threshold_used", num);
    snprintf(num, sizeof num, "%.3f", st->possible);
    wye_cli_audit_param(au, "possible_threshold_used", num);
}

/* What the run did, on stdout. */
static void print_summary(const link_run *r)
{
    const wye_link_stats *st = wye_linkage_stats(r->lk);
    printf("linked %llu records from %d agencies into %llu persons\n",
           (unsigned long long)st->records, r->o->nfiles, (unsigned long long)st->persons);
    printf("candidate pairs: %llu of %llu (%s)\n", (unsigned long long)st->candidates,
           (unsigned long long)st->all_pairs, r->o->exhaustive ? "exhaustive" : "blocking");
    printf("model: m by EM over the candidate pairs (%u iterations%s), u from %llu "
           "random pairs\n",
           st->em.iterations, st->em.converged ? "" : ", not converged",
           (unsigned long long)st->u_samples);
    printf("thresholds: %s\n", wye_linkage_how(r->lk));
    printf("pairs: %llu matches, %llu possible, %llu conflicts kept apart\n",
           (unsigned long long)st->matches, (unsigned long long)st->possibles,
           (unsigned long long)st->conflicts);
    printf("time: reading %.1f s, blocks %.1f s, pass 1 %.1f s, model %.1f s, pass 2 "
           "%.1f s, clustering %.1f s, writing %.1f s\n",
           r->t_read, st->seconds_blocking, st->seconds_candidates, st->seconds_model,
           st->seconds_scoring, st->seconds_clustering, r->t_write);
    printf("wrote %s, %s and %s\n", r->paths[0], r->paths[1], r->paths[2]);
}

int wye_cmd_link(int argc, char **argv)
{
    link_opts o;
    int status = parse_options(argc, argv, &o);
    if (status >= 0)
        return status;
    int rc = wye_crypto_init();
    if (rc != WYE_OK)
        return wye_cli_fail(CMD, "cannot initialise libsodium", rc);
    link_run r = {.o = &o, .au = {NULL, WYE_OK}, .ps = {.quiet = o.quiet}};
    if ((rc = wye_party_load(o.key, &r.lu)) != WYE_OK) {
        char what[4200];
        snprintf(what, sizeof what, "cannot load key '%s'", o.key);
        return wye_cli_fail(CMD, what, rc);
    }
    const char *audit_path = wye_cli_audit_path(o.log);
    audit_begin(&r);
    int outcome = load_setup(&r);
    if (outcome == WYE_OK)
        outcome = load_inputs(&r);
    if (outcome == WYE_OK)
        outcome = run_linkage(&r);
    if (outcome == WYE_OK)
        outcome = write_outputs(&r);
    if (outcome == WYE_OK) {
        audit_counts(&r);
        if (!o.quiet)
            print_summary(&r);
    }
    status = outcome == WYE_OK ? WYE_EXIT_OK : WYE_EXIT_FAIL;
    status = wye_cli_audit_finish(CMD, &r.au, audit_path, r.lu, outcome, status);
    run_free(&r);
    return status;
}
