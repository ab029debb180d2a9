/* wyelink link: the linkage unit links the agencies' encoded files into
 * persons (linker/LINKING.md). Uses the library's public API only.
 *
 * A run, step by step: check that the audit log can take the entry and is
 * no input; complete an output set a crash interrupted; load the trusted
 * keys and the protocol; read and verify the inputs; warn of replays and old
 * extracts; link; write the outputs as one set (nothing renamed yet); append
 * the audit entry with their digests; only then put the set in place. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "profiles.h"
#include "wyelink/audit.h"
#include "wyelink/io.h"
#include "wyelink/fsscore.h"
#include "wyelink/keys.h"
#include "wyelink/linkage.h"
#include "wyelink/protocol.h"
#include "wyelink/records.h"

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
           "that differs is refused, named). Two files of one agency are refused. A\n"
           "warning names an input whose extract (or creation) date is more than a year\n"
           "before the newest input's, and an input the audit log shows was linked\n"
           "before (a replay).\n"
           "\n"
           "Writes into OUTDIR (created if missing), as one set: the three files appear\n"
           "together, after the audit entry recording their digests was appended, or\n"
           "not at all (the previous ones are then kept):\n"
           "  persons.csv   agency,record,person for every record (singletons too)\n"
           "  pairs.csv     agency_a,record_a,agency_b,record_b,score,decision for\n"
           "                matches, possible matches and conflicts\n"
           "  summary.json  the inputs (agency, digest, signing key, extract date,\n"
           "                creation time), records per agency, unique persons, persons\n"
           "                by number of agencies, overlaps, persons by attribute (age\n"
           "                band, sex, service type), thresholds and how they were chosen\n"
           "\n"
           "  --key FILE           the linkage unit's key (signs the audit entry)\n"
           "  --trust DIR          folder of trusted agency public keys (*.pub)\n"
           "  --out DIR            output folder\n"
           "  --protocol FILE|NAME linkage protocol: a file, or a built-in profile\n"
           "                       ('wyelink protocol list'; default: %s)\n"
           "  --exhaustive         compare every pair instead of blocking (small data,\n"
           "                       or measuring blocking)\n"
           "  --threshold X        match weight threshold (default: automatic, the weight\n"
           "                       at which the estimated match probability is 0.5)\n"
           "  --possible X         possible-match threshold (default: automatic, at 0.05)\n"
           "  --threads N          threads (0 = all cores, the default); output is the same\n"
           "                       for any number\n"
           "  --exact-small-counts exact counts in summary.json, for internal use only\n"
           "                       (default: the disclosure rule, linker/DISCLOSURE.md)\n"
           "  --quiet              no progress bar and no summary on stdout\n"
           "  --audit-log FILE     audit log to append to (default $WYELINK_AUDIT_LOG or\n"
           "                       wyelink-audit.log); checked before any work, and never\n"
           "                       one of the inputs\n"
           "  -h, --help           this help\n"
           "\n" WYE_CLI_EXIT_HELP
           "Ctrl-C or SIGTERM stops the run: no output is replaced, a \"cancelled\" entry\n"
           "is appended to the audit log, exit status 130.\n",
           WYE_PROTOCOL_DEFAULT);
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
    *o = (link_opts){.protocol_path = WYE_PROTOCOL_DEFAULT, .threads_arg = "0"};
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

/* Non-zero asks the linkage to stop: a SIGINT or SIGTERM came. */
static int on_progress(void *ctx, const char *stage, uint64_t done, uint64_t total)
{
    progress_state *ps = ctx;
    if (ps->stage != stage) {
        if (ps->stage)
            wye_progress_end(&ps->bar);
        ps->stage = stage;
        wye_progress_start(&ps->bar, stage, total, 1u << 24, ps->quiet);
    }
    wye_progress_update(&ps->bar, done);
    return wye_cli_cancelled();
}

/* Report a failure; returns code, the run's outcome. */
static int fail(const char *what, int code)
{
    wye_cli_fail(CMD, what, code);
    return code;
}

#define NOUT 3
static const char *const out_names[NOUT] = {"persons.csv", "pairs.csv", "summary.json"};

/* One run: what it holds, freed by run_free. */
typedef struct link_run {
    const link_opts *o;
    const char *audit_path;
    wye_party *lu;
    wye_trust *trust;
    wye_protocol *proto;
    wye_recset *set;
    wye_linkage *lk;
    wye_outset *outs; /* prepared, not yet in place */
    wye_cli_audit au;
    progress_state ps;
    char paths[NOUT][4096];
    double t_read, t_write;
} link_run;

static void run_free(link_run *r)
{
    wye_outset_abort(r->outs);
    wye_linkage_free(r->lk);
    wye_recset_free(r->set);
    wye_protocol_free(r->proto);
    wye_trust_free(r->trust);
    wye_party_free(r->lu);
}

/* ---- before any work ------------------------------------------------------ */

/* The output paths; no output and no audit log may be an input (inputs are
 * never modified), and the log must take this party's entry. Returns an
 * exit status. */
static int guard(link_run *r)
{
    const link_opts *o = r->o;
    for (int k = 0; k < NOUT; k++) {
        int w = snprintf(r->paths[k], sizeof r->paths[k], "%s/%s", o->outdir, out_names[k]);
        if (w < 0 || (size_t)w >= sizeof r->paths[k])
            return wye_cli_usage_error(CMD, "the --out folder name is too long");
    }
    size_t n = (size_t)o->nfiles + 2;
    const char **inputs = calloc(n, sizeof *inputs);
    if (!inputs)
        return wye_cli_fail(CMD, "cannot check the outputs", WYE_ENOMEM);
    for (int i = 0; i < o->nfiles; i++)
        inputs[i] = o->files[i];
    inputs[n - 2] = o->key;
    inputs[n - 1] = o->protocol_path;
    int st = wye_cli_refuse_same_file(CMD, o->log ? "--audit-log" : "the audit log",
                                      r->audit_path, inputs, n);
    for (int k = 0; k < NOUT && st == WYE_EXIT_OK; k++)
        st = wye_cli_refuse_same_file(CMD, "--out", r->paths[k], inputs, n);
    free(inputs);
    return st != WYE_EXIT_OK ? st : wye_cli_audit_precheck(CMD, r->audit_path, r->lu);
}

/* Complete an output set that a crash interrupted, and remove stale temp
 * files of the outputs. Returns an exit status. */
static int recover_outputs(link_run *r)
{
    for (int k = 0; k < NOUT; k++) {
        int rc = wye_output_recover(r->paths[k]);
        if (rc != WYE_OK) {
            char what[4200];
            snprintf(what, sizeof what, "cannot recover the earlier outputs '%s'",
                     wye_cli_path_shown(r->paths[k]));
            return wye_cli_fail(CMD, what, rc);
        }
    }
    return WYE_EXIT_OK;
}

/* ---- load and verify the inputs --------------------------------------------- */

/* The entry's parameters; a failure is reported at the end. */
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
}

/* The trusted keys and the protocol. */
static int load_setup(link_run *r)
{
    const link_opts *o = r->o;
    wye_diag diag;
    int rc = wye_trust_load(o->trust_dir, &r->trust, &diag);
    if (rc != WYE_OK) {
        const char *dir = wye_cli_path_shown(o->trust_dir);
        if (diag.reason[0]) /* a file is to blame: name it */
            fprintf(stderr, "wyelink link: in the trust folder '%s': %s: %s\n", dir,
                    diag.reason, wye_strerror(rc));
        else {
            char what[4200];
            snprintf(what, sizeof what, "cannot load trusted keys from '%s'", dir);
            wye_cli_fail(CMD, what, rc);
        }
        return rc;
    }
    if ((rc = wye_cli_protocol_load(o->protocol_path, &r->proto, &diag)) != WYE_OK) {
        char what[4200];
        snprintf(what, sizeof what, "cannot load protocol '%s'",
                 wye_cli_path_shown(o->protocol_path));
        wye_cli_fail_diag(CMD, what, rc, &diag);
    }
    return rc;
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
        const char *label = wye_cli_path_shown(o->files[i]);
        FILE *f = wye_cli_cancelled() ? NULL : fopen(o->files[i], "rb");
        if (wye_cli_cancelled()) {
            frc[i] = WYE_ECANCELLED;
        } else if (!f) {
            frc[i] = WYE_EIO;
            wye_diag_set(&fdiag[i], 0, "file", "'%s' cannot be opened: %s", label,
                         strerror(errno));
        } else {
            frc[i] = wye_recfile_read(wye_source_file(f), label, r->proto, r->lu, r->trust,
                                      &rf[i], &fdiag[i]);
        }
        if (f)
            fclose(f);
        int d;
#pragma omp atomic capture
        d = ++nread;
        if (omp_get_thread_num() == 0)
            wye_progress_update(&r->ps.bar, (uint64_t)d);
    }
    wye_progress_end(&r->ps.bar);
    int rc = wye_cli_cancelled() ? WYE_ECANCELLED : WYE_OK;
    for (int i = 0; i < n && rc == WYE_OK; i++)
        if ((rc = frc[i]) != WYE_OK)
            fprintf(stderr, "wyelink link: %s: %s\n", fdiag[i].reason, wye_strerror(rc));
    free(frc);
    free(fdiag);
    return rc;
}

/* "2023-03-31" (or "none") and a Unix time as "2023-04-01T09:30:00Z" (or
 * "unknown"). */
static const char *extract_shown(const wye_encfile_meta *m)
{
    return m->extract_date[0] ? m->extract_date : "none";
}

static void time_shown(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t <= 0 || !gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, 32, "unknown");
}

#define MAX_INPUT_PARAMS 48 /* of an entry's 64 parameters (AUDIT.md) */

/* The inputs in the entry, in the order given: path, size and digest (of the
 * bytes verified, for a file that was read), and for the first 48 a
 * parameter input.N saying where it came from and when. */
static void audit_inputs(link_run *r, wye_recfile *const *rf)
{
    wye_cli_audit *au = &r->au;
    for (int i = 0; i < r->o->nfiles && au->e && au->rc == WYE_OK; i++) {
        const char *path = r->o->files[i];
        int rc;
        if (!rf[i]) { /* refused: its digest all the same, if it can be read */
            uint8_t dg[WYE_DIGEST_FILE_BYTES];
            struct stat st;
            if (wye_cli_cancelled() || wye_file_digest(path, dg) != WYE_OK ||
                stat(path, &st) != 0)
                continue;
            rc = wye_audit_entry_input_digest(au->e, wye_cli_path_shown(path),
                                              (uint64_t)st.st_size, dg);
        } else {
            uint64_t bytes;
            const uint8_t *dg = wye_recfile_digest(rf[i], &bytes);
            rc = wye_audit_entry_input_digest(au->e, wye_cli_path_shown(path), bytes, dg);
        }
        if (rc == WYE_ENOMEM)
            au->rc = rc;
        if (!rf[i] || i >= MAX_INPUT_PARAMS || rc != WYE_OK)
            continue;
        const wye_encfile_meta *m = wye_recfile_meta(rf[i]);
        wye_party_public signer;
        char name[32], value[256], created[32], kid[17];
        memcpy(signer.sign_pk, m->signer_pk, sizeof signer.sign_pk);
        wye_public_key_id(&signer, kid);
        time_shown(m->created, created);
        snprintf(name, sizeof name, "input.%d", i + 1);
        snprintf(value, sizeof value, "agency=%s extract_date=%s created=%s signer_key_id=%s",
                 m->agency, extract_shown(m), created, kid);
        if (wye_audit_entry_param(au->e, name, value) == WYE_ENOMEM)
            au->rc = WYE_ENOMEM;
    }
}

static int cmp_file_agency(const void *x, const void *y)
{
    const wye_recfile *a = *(wye_recfile *const *)x, *b = *(wye_recfile *const *)y;
    int c = strcmp(wye_recfile_meta(a)->agency, wye_recfile_meta(b)->agency);
    return c ? c : strcmp(wye_recfile_label(a), wye_recfile_label(b));
}

/* Gather the files into one set, in agency order so that the result does
 * not depend on the order they were given in; the set takes each file. */
static int gather_files(link_run *r, wye_recfile **rf)
{
    int n = r->o->nfiles;
    wye_diag diag;
    qsort(rf, (size_t)n, sizeof *rf, cmp_file_agency);
    int rc = wye_recset_new(r->proto, NULL, &r->set);
    if (rc != WYE_OK)
        return fail("cannot hold the records", rc);
    for (int i = 0; i < n; i++) {
        wye_recfile *f = rf[i];
        rf[i] = NULL;
        if ((rc = wye_recset_add_file(r->set, f, &diag)) == WYE_EDUPLICATE) {
            fprintf(stderr, "wyelink link: %s\n", diag.reason); /* says it all */
            return rc;
        } else if (rc != WYE_OK) {
            fprintf(stderr, "wyelink link: %s: %s\n", diag.reason, wye_strerror(rc));
            return rc;
        }
    }
    if ((rc = wye_recset_finish(r->set, r->o->threads)) != WYE_OK)
        return fail("cannot index the records", rc);
    return WYE_OK;
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
    audit_inputs(r, rf);
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

/* ---- replays and old extracts ------------------------------------------------ */

/* The day an input describes: its extract date, else the day it was made;
 * as days since 1970, -1 if unknown. */
static long input_day(const wye_encfile_meta *m, bool *from_extract)
{
    *from_extract = m->extract_date[0] != 0;
    if (!*from_extract)
        return m->created > 0 ? (long)(m->created / 86400) : -1;
    struct tm tm = {0};
    if (sscanf(m->extract_date, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long)(timegm(&tm) / 86400);
}

/* Warn of every input that describes a day more than a year before the
 * newest input's: an old extract, replayed or sent by mistake. */
static void warn_old_inputs(const link_run *r)
{
    const wye_recset *s = r->set;
    size_t na = wye_recset_view(s)->nagencies, newest = 0;
    long top = -1;
    bool ex;
    for (size_t a = 0; a < na; a++) {
        const wye_encfile_meta *m = wye_recset_meta(s, a);
        long d = m ? input_day(m, &ex) : -1;
        if (d > top) {
            top = d;
            newest = a;
        }
    }
    for (size_t a = 0; a < na && top >= 0; a++) {
        const wye_encfile_meta *m = wye_recset_meta(s, a);
        long d = m ? input_day(m, &ex) : -1;
        if (d < 0 || top - d <= 365)
            continue;
        char made[32];
        time_shown(m->created, made);
        made[10] = 0;
        wye_cli_note(CMD,
                     "warning: '%s' (agency '%s') was %s on %s, more than a year before the "
                     "newest input ('%s', agency '%s'): an old extract?",
                     wye_recset_label(s, a), m->agency, ex ? "extracted" : "made",
                     ex ? m->extract_date : made, wye_recset_label(s, newest),
                     wye_recset_agency(s, newest));
    }
}

/* Whether entry o read a file with digest hex. */
static bool entry_read(json_t *o, const char *hex)
{
    json_t *in = json_object_get(o, "inputs"), *x;
    size_t i;
    json_array_foreach(in, i, x)
    {
        const char *d = json_string_value(json_object_get(x, "blake2b"));
        if (d && !strcmp(d, hex))
            return true;
    }
    return false;
}

/* The newest earlier link that read an input. */
typedef struct seen {
    long long seq; /* 0: none */
    char time[32];
} seen;

/* One line of the log: if it is a successful link entry, note it for each
 * input it read. */
static void check_entry(const link_run *r, const char *line, size_t len, seen *sn)
{
    json_t *o = json_loadb(line, len, 0, NULL);
    json_t *oc = json_object_get(json_object_get(o, "outcome"), "code");
    const char *cmd = json_string_value(json_object_get(o, "command"));
    const char *when = json_string_value(json_object_get(o, "time"));
    if (o && cmd && !strcmp(cmd, "link") && json_is_integer(oc) && !json_integer_value(oc)) {
        for (size_t a = 0; a < wye_recset_view(r->set)->nagencies; a++) {
            const uint8_t *dg = wye_recset_digest(r->set, a, NULL);
            char hex[2 * WYE_RECFILE_DIGEST_BYTES + 1];
            if (!dg)
                continue;
            wye_hex(dg, WYE_RECFILE_DIGEST_BYTES, hex);
            if (!entry_read(o, hex))
                continue;
            sn[a].seq = (long long)json_integer_value(json_object_get(o, "seq"));
            snprintf(sn[a].time, sizeof sn[a].time, "%s", when ? when : "an unknown time");
        }
    }
    json_decref(o);
}

/* Warn of each input whose digest an earlier successful link entry of the
 * audit log (checked intact before the work) lists as an input, naming the
 * newest such entry. */
static void warn_replays(const link_run *r)
{
    const wye_recset *s = r->set;
    size_t na = wye_recset_view(s)->nagencies;
    seen *sn = calloc(na + 1, sizeof *sn);
    FILE *f = sn ? fopen(r->audit_path, "rb") : NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while (f && (got = getline(&line, &cap, f)) > 0)
        check_entry(r, line, (size_t)got, sn);
    size_t same = 0; /* inputs linked before by the newest entry that read the first */
    for (size_t a = 0; f && a < na; a++)
        same += sn[a].seq && sn[a].seq == sn[0].seq;
    if (na > 1 && same == na) { /* one line for a run done again */
        wye_cli_note(CMD,
                     "warning: all %zu inputs were linked before, together: entry %lld of the "
                     "audit log, at %s, read the same files",
                     na, sn[0].seq, sn[0].time);
        na = 0;
    }
    for (size_t a = 0; f && a < na; a++)
        if (sn[a].seq)
            wye_cli_note(CMD,
                         "warning: '%s' (agency '%s') was linked before: entry %lld of the "
                         "audit log, at %s, read the same file: a replay?",
                         wye_recset_label(s, a), wye_recset_agency(s, a), sn[a].seq,
                         sn[a].time);
    free(line);
    free(sn);
    if (f)
        fclose(f);
}

/* ---- link, write, audit -------------------------------------------------------- */

/* Block, score, fit and cluster (wye_link_run). */
static int run_linkage(link_run *r)
{
    wye_link_params lp = r->o->lp;
    wye_diag diag;
    r->ps.stage = NULL;
    lp.progress = on_progress;
    lp.progress_ctx = &r->ps;
    int rc = wye_link_run(r->set, &lp, &r->lk, &diag);
    if (r->ps.stage)
        wye_progress_end(&r->ps.bar);
    if (rc != WYE_OK && rc != WYE_ECANCELLED)
        wye_cli_fail_diag(CMD, "linkage failed", rc, &diag);
    return rc;
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
    int rc;
    errno = 0;
    switch (k) {
    case 0: rc = wye_linkage_write_persons(r->lk, f); break;
    case 1: rc = wye_linkage_write_pairs(r->lk, f); break;
    default: rc = wye_linkage_write_summary(r->lk, f, r->o->exact); break;
    }
    return rc == WYE_EIO ? wye_io_write_error(errno) : rc;
}

/* An output's final bytes (in its temp file) into the entry, under its
 * final name. */
static int audit_output(link_run *r, int k, const wye_atomic *at)
{
    uint8_t dg[WYE_DIGEST_FILE_BYTES];
    struct stat st;
    const char *tmp = wye_atomic_temp_path(at);
    int rc = wye_file_digest(tmp, dg);
    if (rc == WYE_OK && stat(tmp, &st) != 0)
        rc = WYE_EIO;
    if (rc == WYE_OK && r->au.e && r->au.rc == WYE_OK)
        r->au.rc = wye_audit_entry_output_digest(r->au.e, wye_cli_path_shown(r->paths[k]),
                                                 (uint64_t)st.st_size, dg);
    return rc;
}

/* Write persons.csv, pairs.csv and summary.json as one output set, every
 * byte final and durable, nothing renamed yet; their digests go into the
 * entry. */
static int prepare_outputs(link_run *r)
{
    char what[4200];
    double t0 = omp_get_wtime();
    int rc = make_dir(r->o->outdir);
    if (rc != WYE_OK) {
        snprintf(what, sizeof what, "cannot create folder '%s'", wye_cli_path_shown(r->o->outdir));
        return fail(what, rc);
    }
    if ((rc = wye_outset_new(&r->outs)) != WYE_OK)
        return fail("cannot start the outputs", rc);
    wye_atomic *at[NOUT] = {NULL};
    int k;
    for (k = 0; k < NOUT && rc == WYE_OK; k++)
        if ((rc = wye_outset_open(r->outs, r->paths[k], 0600, &at[k])) == WYE_OK)
            rc = write_one(r, k, wye_atomic_file(at[k]));
    if (rc != WYE_OK)
        snprintf(what, sizeof what, "cannot write '%s'", wye_cli_path_shown(r->paths[k - 1]));
    else if ((rc = wye_outset_prepare(r->outs)) != WYE_OK)
        snprintf(what, sizeof what, "cannot write the outputs in '%s'",
                 wye_cli_path_shown(r->o->outdir));
    for (k = 0; k < NOUT && rc == WYE_OK; k++)
        if ((rc = audit_output(r, k, at[k])) != WYE_OK)
            snprintf(what, sizeof what, "cannot read back what was written to '%s'",
                     wye_cli_path_shown(r->paths[k]));
    r->t_write = omp_get_wtime() - t0;
    if (rc != WYE_OK) {
        wye_outset_abort(r->outs);
        r->outs = NULL;
        return fail(what, rc);
    }
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

/* The entry was appended (status WYE_EXIT_OK): put the outputs in place.
 * Otherwise drop them: the previous results stay as they were. Returns the
 * exit status. */
static int finish_outputs(link_run *r, int status)
{
    const char *shown = wye_cli_path_shown(r->o->outdir);
    if (status != WYE_EXIT_OK) {
        wye_outset_abort(r->outs);
        r->outs = NULL;
        wye_cli_note(CMD, "no output was replaced: the previous results in '%s' are kept",
                     shown);
        return status;
    }
    double t0 = omp_get_wtime();
    int rc = wye_outset_commit(r->outs);
    r->outs = NULL;
    r->t_write += omp_get_wtime() - t0;
    if (rc == WYE_OK)
        return WYE_EXIT_OK;
    char what[4200];
    snprintf(what, sizeof what, "cannot put the outputs in place in '%s'", shown);
    wye_cli_fail(CMD, what, rc);
    /* the entry appended says they were written: a second one says they
     * were not */
    wye_cli_audit au = {NULL, WYE_OK};
    wye_cli_audit_start(&au, "link");
    wye_cli_audit_param_path(&au, "out", r->o->outdir);
    wye_cli_audit_param(&au, "step", "commit");
    wye_cli_audit_finish(CMD, &au, r->audit_path, r->lu, rc, WYE_EXIT_FAIL);
    return WYE_EXIT_FAIL;
}

/* ---- what the run did, on stdout ------------------------------------------------ */

static void print_inputs(const link_run *r)
{
    const wye_recset *s = r->set;
    printf("inputs (agency, extract date, made, signing key, blake2b, file):\n");
    for (size_t a = 0; a < wye_recset_view(s)->nagencies; a++) {
        const wye_encfile_meta *m = wye_recset_meta(s, a);
        const uint8_t *dg = wye_recset_digest(s, a, NULL);
        if (!m || !dg)
            continue;
        wye_party_public signer;
        char made[32], kid[17], hex[2 * WYE_RECFILE_DIGEST_BYTES + 1];
        memcpy(signer.sign_pk, m->signer_pk, sizeof signer.sign_pk);
        wye_public_key_id(&signer, kid);
        time_shown(m->created, made);
        wye_hex(dg, WYE_RECFILE_DIGEST_BYTES, hex);
        printf("  %-10s %-10s  %s  %s  %.12s  %s\n", m->agency, extract_shown(m), made, kid,
               hex, wye_recset_label(s, a));
    }
}

/* The fitted model (fsscore.h, wye_fs_write_model): anchors, expected
 * matches against their bound, m, u and the weight of each level in use. */
static void print_model(const link_run *r)
{
    const wye_link_stats *st = wye_linkage_stats(r->lk);
    printf("model: m by EM (%u iterations%s), u from %llu random pairs; %.0f matches "
           "expected among the candidates, prior %.3g\n",
           st->em.iterations, st->em.converged ? "" : ", not converged",
           (unsigned long long)st->u_samples, st->expected_matches, st->prior);
    wye_fs_write_model(wye_linkage_model(r->lk), stdout);
}

static void print_summary(const link_run *r)
{
    const wye_link_stats *st = wye_linkage_stats(r->lk);
    printf("linked %llu records from %d agencies into %llu persons\n",
           (unsigned long long)st->records, r->o->nfiles, (unsigned long long)st->persons);
    print_inputs(r);
    printf("candidate pairs: %llu of %llu (%s)\n", (unsigned long long)st->candidates,
           (unsigned long long)st->all_pairs, r->o->exhaustive ? "exhaustive" : "blocking");
    print_model(r);
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

/* ---- the command ---------------------------------------------------------------- */

/* Everything between the checks and the audit entry; the outcome. */
static int run_steps(link_run *r)
{
    int rc = load_setup(r);
    if (rc == WYE_OK)
        rc = load_inputs(r);
    if (rc == WYE_OK) {
        warn_old_inputs(r);
        warn_replays(r);
        rc = run_linkage(r);
    }
    if (rc == WYE_OK)
        rc = prepare_outputs(r);
    if (rc == WYE_OK && wye_cli_cancelled())
        rc = WYE_ECANCELLED; /* the last moment: nothing is in place yet */
    if (rc == WYE_ECANCELLED)
        wye_cli_note(CMD, "cancelled (signal %d): no output was replaced",
                     wye_cli_cancelled());
    if (rc == WYE_OK)
        audit_counts(r);
    return rc;
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
        snprintf(what, sizeof what, "cannot load key '%s'", wye_cli_path_shown(o.key));
        return wye_cli_fail(CMD, what, rc);
    }
    r.audit_path = wye_cli_audit_path(o.log);
    if ((status = guard(&r)) == WYE_EXIT_OK)
        status = recover_outputs(&r);
    if (status != WYE_EXIT_OK) {
        run_free(&r);
        return status;
    }
    /* caught for this run only: `wyelink demo` runs more commands after it */
    struct sigaction old_int, old_term;
    sigaction(SIGINT, NULL, &old_int);
    sigaction(SIGTERM, NULL, &old_term);
    wye_cli_signals_install();
    audit_begin(&r);
    int outcome = run_steps(&r);
    if (outcome != WYE_OK) {
        wye_outset_abort(r.outs);
        r.outs = NULL;
    }
    status = outcome == WYE_OK ? WYE_EXIT_OK : WYE_EXIT_FAIL;
    status = wye_cli_audit_finish(CMD, &r.au, r.audit_path, r.lu, outcome, status);
    if (r.outs)
        status = finish_outputs(&r, status);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (status == WYE_EXIT_OK) {
        const wye_fs_fit_result *fit = wye_fs_fit_info(wye_linkage_model(r.lk));
        if (fit->implausible)
            wye_cli_note(CMD, "warning: the fitted model is implausible: %s", fit->reason);
        if (!o.quiet)
            print_summary(&r);
    }
    run_free(&r);
    return status;
}
