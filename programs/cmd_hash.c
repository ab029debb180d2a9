/* wyelink hash: the agency's hashing client (hashing/COLUMNMAP.md,
 * protocols/ENCODING.md).
 *
 * The run itself is the library's (wye_hash_run, hashing/pipeline.c); this
 * file reads the options, loads the keys, protocol and map, writes the
 * outputs through temporary files, prints the messages and the data-quality
 * summary, and appends the audit entry. Nothing printed, logged or audited
 * ever holds a value from the extract: only line numbers, column and field
 * names, counts and fixed reasons. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "profiles.h"
#include "quality_print.h"
#include "wyelink/audit.h"
#include "wyelink/colmap.h"
#include "wyelink/encfile.h"
#include "wyelink/io.h"
#include "wyelink/keys.h"
#include "wyelink/normalise.h"
#include "wyelink/pipeline.h"
#include "wyelink/protocol.h"

#define CMD "hash"
#define PROGRESS_MIN_BYTES (16u << 20)

static const char usage_text[] =
    "usage: wyelink hash --input CSV --map MAP.json --secret FILE --key AGENCY.key\n"
    "                    --to LINKAGE_UNIT.pub --out FILE.wye --local-map MAP.csv\n"
    "                    [--protocol P.json] [--summary-json FILE]\n"
    "                    [--extract-date YYYY-MM-DD] [--threads N] [--compress]\n"
    "                    [--quiet] [--audit-log FILE]\n"
    "\n"
    "Agency: encode an extract for linkage. Reads the CSV through the column map,\n"
    "normalises each identifier, hashes it into keyed Bloom filters with the linkage\n"
    "secret (protocols/ENCODING.md) and writes the encoded file, signed with the\n"
    "agency's key and sealed so only the linkage unit can read it. Also writes the\n"
    "local map (local_id,record), which stays at the agency and turns the linkage\n"
    "unit's results back into your own records. Prints the data-quality summary\n"
    "that 'wyelink map check' prints (check the map with it first; it needs no\n"
    "keys): rows read and encoded, rejected rows by reason with their first line\n"
    "numbers (every one in --summary-json), per field present/missing/invalid with\n"
    "reasons, the codes of the value columns (a code only if it occurs at least 5\n"
    "times or is in the map), and what the fields the map leaves out would add.\n"
    "It never prints another value from the extract.\n"
    "\n"
    "A row is rejected (reported, counted, not encoded) if its quoting is broken,\n"
    "it has the wrong number of fields, no local id, a local id already seen,\n"
    "nothing at all, no name and no NHS number (unless it has another id with a\n"
    "date of birth or an address), or a name but no date of birth, postcode,\n"
    "address, other id or NHS number.\n"
    "\n"
    "The outputs (encoded file, local map, summary JSON) are put in place together,\n"
    "after the audit entry is appended, or not at all: a failed or cancelled run\n"
    "leaves the previous ones as they were.\n"
    "\n"
    "   --input FILE         the agency's CSV extract (never modified)\n"
    "   --map FILE           the column map (hashing/COLUMNMAP.md)\n"
    "   --protocol FILE|NAME the linkage protocol: a file, or a built-in profile\n"
    "                        ('wyelink protocol list'; default: default)\n"
    "   --secret FILE        the opened linkage secret ('-' = standard input)\n"
    "   --key FILE           the agency's secret key file ('-' = standard input);\n"
    "                        signs the encoded file and the audit entry\n"
    "   --to FILE            the linkage unit's public key file\n"
    "   --out FILE           the encoded file to write\n"
    "   --local-map FILE     the local map to write (keep it here)\n"
    "   --summary-json FILE  also write the data-quality summary as JSON\n"
    "   --extract-date DATE  the day the extract was taken (default: today, UTC; not\n"
    "                        in the future); dates of birth after it are invalid,\n"
    "                        two-digit years pivot on it, age bands use it\n"
    "   --threads N          threads to use, 0 = all cores (default 0); the output\n"
    "                        is the same for any N\n"
    "   --compress           deflate the encoded records (zlib Z_RLE): a file about a\n"
    "                        quarter smaller, written about twice as slowly\n"
    "   --quiet              no progress bar and no summary on standard output\n"
    "   --audit-log FILE     audit log to append to (else $WYELINK_AUDIT_LOG, else\n"
    "                        wyelink-audit.log), signed by the agency's key; checked\n"
    "                        before the work\n"
    "\n" WYE_CLI_EXIT_HELP "130 cancelled (SIGINT or SIGTERM): no output written.\n";

/* ---- options ---- */

typedef struct opts {
    const char *input, *map, *protocol, *secret, *key, *to, *out, *local_map, *summary,
        *extract_date, *audit_log;
    uint64_t threads;
    bool quiet, compress;
} opts;

enum { O_INPUT = 256, O_MAP, O_PROTOCOL, O_SECRET, O_KEY, O_TO, O_OUT, O_LOCAL_MAP,
       O_SUMMARY, O_EXTRACT, O_THREADS, O_QUIET, O_COMPRESS, O_AUDIT };

static int parse_opts(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {
        {"input", required_argument, NULL, O_INPUT},
        {"map", required_argument, NULL, O_MAP},
        {"protocol", required_argument, NULL, O_PROTOCOL},
        {"secret", required_argument, NULL, O_SECRET},
        {"key", required_argument, NULL, O_KEY},
        {"to", required_argument, NULL, O_TO},
        {"out", required_argument, NULL, O_OUT},
        {"local-map", required_argument, NULL, O_LOCAL_MAP},
        {"summary-json", required_argument, NULL, O_SUMMARY},
        {"extract-date", required_argument, NULL, O_EXTRACT},
        {"threads", required_argument, NULL, O_THREADS},
        {"quiet", no_argument, NULL, O_QUIET},
        {"compress", no_argument, NULL, O_COMPRESS},
        {"audit-log", required_argument, NULL, O_AUDIT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->protocol = WYE_PROTOCOL_DEFAULT; /* built in (profiles.h) */
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case O_INPUT: o->input = optarg; break;
        case O_MAP: o->map = optarg; break;
        case O_PROTOCOL: o->protocol = optarg; break;
        case O_SECRET: o->secret = optarg; break;
        case O_KEY: o->key = optarg; break;
        case O_TO: o->to = optarg; break;
        case O_OUT: o->out = optarg; break;
        case O_LOCAL_MAP: o->local_map = optarg; break;
        case O_SUMMARY: o->summary = optarg; break;
        case O_EXTRACT: o->extract_date = optarg; break;
        case O_QUIET: o->quiet = true; break;
        case O_COMPRESS: o->compress = true; break;
        case O_AUDIT: o->audit_log = optarg; break;
        case O_THREADS:
            if (wye_cli_parse_u64(CMD, "--threads", optarg, 0, 1024, &o->threads))
                return WYE_EXIT_USAGE;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return -1;
        default:
            return wye_cli_bad_option(CMD, argv);
        }
    }
    if (optind < argc)
        return wye_cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!o->input || !o->map || !o->secret || !o->key || !o->to || !o->out || !o->local_map)
        return wye_cli_usage_error(CMD, "--input, --map, --secret, --key, --to, --out and "
                                        "--local-map are required");
    if (!o->protocol)
        return wye_cli_usage_error(CMD, "--protocol is required");
    if (!strcmp(o->secret, "-") && !strcmp(o->key, "-"))
        return wye_cli_usage_error(CMD, "--secret and --key cannot both be standard input");
    return WYE_EXIT_OK;
}

/* An output must never replace an input (outputs are renamed into place). */
static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (!a || !b || !strcmp(a, "-") || !strcmp(b, "-"))
        return false;
    if (!strcmp(a, b))
        return true;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* No output, and not the audit log (appended to), may be an input: inputs
 * are never modified. Nor may two of them be one file. */
static int check_paths(const opts *o)
{
    const char *const ins[] = {o->input, o->map, o->protocol, o->secret, o->key, o->to};
    const char *outs[] = {o->out, o->local_map, o->summary, wye_cli_audit_path(o->audit_log)};
    static const char *const names[] = {"--out", "--local-map", "--summary-json",
                                        "--audit-log"};
    for (size_t i = 0; i < 4; i++) {
        int status = wye_cli_refuse_same_file(CMD, names[i], outs[i], ins, 6);
        if (status)
            return status;
        for (size_t j = i + 1; outs[i] && j < 4; j++)
            if (same_file(outs[i], outs[j]))
                return wye_cli_usage_error(CMD, "'%s' is named as two outputs",
                                           wye_cli_path_shown(outs[i]));
    }
    return WYE_EXIT_OK;
}

/* ---- the encoded file's sink ----
 * Every 32 MiB it asks the kernel to start writing what it has (Linux
 * sync_file_range, without waiting), so that the fsync before the file is
 * renamed into place (wye_atomic_commit) finds little left to write: on
 * 1,000,000 records (335 MB) that fsync took 0.20 s of a 3.5 s run. */
#define WRITEBACK_BYTES (32u << 20)

typedef struct out_sink {
    FILE *f;
    uint64_t since; /* bytes since the last writeback request */
} out_sink;

static int sink_atomic_write(void *ctx, const void *buf, size_t n)
{
    out_sink *o = ctx;
    if (fwrite(buf, 1, n, o->f) != n)
        return wye_io_write_error(errno); /* a full disk is WYE_ENOSPC */
    o->since += n;
#ifdef SYNC_FILE_RANGE_WRITE
    if (o->since >= WRITEBACK_BYTES) {
        o->since = 0;
        if (fflush(o->f) != 0)
            return wye_io_write_error(errno);
        (void)sync_file_range(fileno(o->f), 0, 0, SYNC_FILE_RANGE_WRITE); /* a hint */
    }
#endif
    return WYE_OK;
}

/* ---- the run ---- */

typedef struct ctx {
    opts o;
    wye_protocol *p;
    wye_colmap *m;
    wye_secret *secret;
    wye_party *party;
    wye_party_public to;
    FILE *in;
    out_sink out_sink;
    wye_outset *set;     /* the outputs, put in place together or not at all */
    wye_atomic *out_a, *map_a, *sum_a; /* members of set */
    wye_hash_result res;
    wye_diag diag;
    wye_progress pg;
    wye_date extract;
    char fingerprint[2 * WYE_FINGERPRINT_BYTES + 1];
    char key_id[2 * WYE_KEY_ID_BYTES + 1];
    char extract_text[11];
    char agency[WYE_PARTY_NAME_MAX];
    wye_cli_audit au;    /* the audit entry, appended if the agency's key loaded */
    bool log_refused;    /* the audit log cannot take this agency's entry */
    int code;            /* the WYE_E* code of the failure, for the audit entry */
    char inbuf[1 << 16];
} ctx;

/* ---- the summary ---- */

static void print_summary(const ctx *c)
{
    wye_quality_view v = {wye_cli_path_shown(c->o.input), c->p, c->m, &c->res, c->extract_text,
                          "rows encoded", c->o.summary != NULL};
    wye_quality_print(stdout, &v);
}

static int write_summary_json(ctx *c)
{
    const opts *o = &c->o;
    wye_hash_summary_info info = {c->p,
                                  c->m,
                                  wye_cli_path_shown(o->input),
                                  wye_cli_path_shown(o->out),
                                  wye_cli_path_shown(o->local_map),
                                  c->agency,
                                  c->fingerprint,
                                  c->key_id,
                                  c->extract_text};
    return wye_hash_write_summary(&c->res, &info, wye_atomic_file(c->sum_a));
}

/* Failure messages; each remembers the code for the audit entry. */
static int cli_fail(ctx *c, const char *what, int rc)
{
    c->code = rc;
    return wye_cli_fail(CMD, what, rc);
}

static int cli_fail_diag(ctx *c, const char *what, int rc, const wye_diag *d)
{
    c->code = rc;
    return wye_cli_fail_diag(CMD, what, rc, d);
}

/* A path is never echoed if it looks like key material (a secret passed
 * where its file was expected). */
static int fail_file(ctx *c, const char *what, const char *path, int rc)
{
    char msg[1200];
    snprintf(msg, sizeof msg, "%s '%s'", what, wye_cli_path_shown(path));
    return cli_fail(c, msg, rc);
}

static int fail_file_diag(ctx *c, const char *what, const char *path, int rc,
                          const wye_diag *d)
{
    char msg[1200];
    snprintf(msg, sizeof msg, "%s '%s'", what, wye_cli_path_shown(path));
    return cli_fail_diag(c, msg, rc, d);
}

/* The extract date: given (a real day, not after tomorrow: any time zone's
 * today is allowed) or today (UTC). */
static int set_extract_date(ctx *c)
{
    return wye_cli_extract_date(CMD, c->o.extract_date, &c->extract, c->extract_text);
}

/* The agency's key and the linkage unit's public key, each of its role. */
static int load_parties(ctx *c)
{
    const opts *o = &c->o;
    int rc;
    errno = 0;
    if ((rc = wye_party_load(o->key, &c->party)))
        return fail_file(c, "cannot load the key", o->key, rc);
    const wye_party_public *me = wye_party_public_part(c->party);
    if (strcmp(me->role, "agency")) {
        fprintf(stderr, "wyelink %s: '%s' has role '%s', not 'agency'\n", CMD,
                wye_cli_path_shown(o->key), me->role);
        /* not the agency's key: it signs nothing, not even an audit entry */
        wye_party_free(c->party);
        c->party = NULL;
        c->code = WYE_EINVAL;
        return WYE_EXIT_FAIL;
    }
    snprintf(c->agency, sizeof c->agency, "%s", me->name);
    errno = 0;
    if ((rc = wye_public_load(o->to, &c->to)))
        return fail_file(c, "cannot load the public key", o->to, rc);
    if (strcmp(c->to.role, "linkage-unit")) {
        fprintf(stderr, "wyelink %s: '%s' has role '%s', not 'linkage-unit'\n", CMD,
                wye_cli_path_shown(o->to), c->to.role);
        c->code = WYE_EINVAL;
        return WYE_EXIT_FAIL;
    }
    return WYE_EXIT_OK;
}

static int load_inputs(ctx *c)
{
    const opts *o = &c->o;
    wye_diag d;
    int rc;
    if (wye_crypto_init() != WYE_OK)
        return cli_fail(c, "cannot initialise libsodium", WYE_ECRYPTO);
    int status = set_extract_date(c);
    if (status)
        return status;
    errno = 0;
    if ((rc = wye_cli_protocol_load(o->protocol, &c->p, &d)))
        return fail_file_diag(c, "cannot load the protocol", o->protocol, rc, &d);
    errno = 0;
    if ((rc = wye_colmap_load(o->map, c->p, &c->m, &d)))
        return fail_file_diag(c, "cannot load the column map", o->map, rc, &d);
    if (!o->extract_date && wye_colmap_two_digit_years(c->m))
        wye_quality_warn_two_digit_years(CMD, wye_cli_path_shown(o->map), c->extract_text);
    if ((status = load_parties(c)))
        return status;
    errno = 0;
    if ((rc = wye_secret_load(o->secret, &c->secret)))
        return fail_file(c, "cannot load the linkage secret", o->secret, rc);
    uint8_t fp[WYE_FINGERPRINT_BYTES], kid[WYE_KEY_ID_BYTES];
    wye_protocol_fingerprint(c->p, fp);
    wye_secret_key_id(c->secret, kid);
    wye_hex(fp, sizeof fp, c->fingerprint);
    wye_hex(kid, sizeof kid, c->key_id);
    if (c->au.e && c->au.rc == WYE_OK)
        c->au.rc = wye_audit_entry_protocol(c->au.e, fp, kid);
    return WYE_EXIT_OK;
}

/* Before anything is written: finish the set of outputs an interrupted run
 * was putting in place, and remove stale temporary files of a killed one. */
static int recover_outputs(ctx *c)
{
    const char *outs[] = {c->o.out, c->o.local_map, c->o.summary};
    for (size_t i = 0; i < 3; i++) {
        errno = 0;
        int rc = outs[i] ? wye_output_recover(outs[i]) : WYE_OK;
        if (rc)
            return fail_file(c, "cannot clean up after an interrupted run at", outs[i], rc);
    }
    return WYE_EXIT_OK;
}

/* The encoded file, the local map and the summary JSON: one set. */
static int open_outputs(ctx *c)
{
    const opts *o = &c->o;
    int rc;
    if ((rc = wye_outset_new(&c->set)))
        return cli_fail(c, "cannot start", rc);
    errno = 0;
    if ((rc = wye_outset_open(c->set, o->out, 0600, &c->out_a)))
        return fail_file(c, "cannot write", o->out, rc);
    errno = 0;
    if ((rc = wye_outset_open(c->set, o->local_map, 0600,
                              &c->map_a)))
        return fail_file(c, "cannot write", o->local_map, rc);
    errno = 0;
    if (o->summary && (rc = wye_outset_open(c->set, o->summary,
                                            0644, &c->sum_a)))
        return fail_file(c, "cannot write", o->summary, rc);
    c->out_sink = (out_sink){wye_atomic_file(c->out_a), 0};
    return WYE_EXIT_OK;
}

/* SIGINT or SIGTERM: stop (wye_hash_run returns WYE_ECANCELLED). */
static int progress(void *ctx_, uint64_t done, uint64_t total, uint64_t rows)
{
    (void)total;
    ctx *c = ctx_;
    wye_progress_update_items(&c->pg, done, rows);
    return wye_cli_cancelled() != 0;
}

static int cancelled(ctx *c)
{
    c->code = WYE_ECANCELLED;
    return wye_cli_fail(CMD, "stopped, nothing written", WYE_ECANCELLED);
}

/* The message for a failed wye_hash_run, naming the file at fault. */
static int run_failed(ctx *c, int rc)
{
    const opts *o = &c->o;
    char msg[1400];
    /* a write the signal interrupted is the signal's doing */
    if (rc == WYE_ECANCELLED || wye_cli_cancelled())
        return cancelled(c);
    switch (c->res.stage) {
    case WYE_HASH_STAGE_HEADER:
        return fail_file_diag(c, "cannot read", o->input, rc, &c->diag);
    case WYE_HASH_STAGE_BIND:
        if (rc == WYE_EDUPLICATE) { /* the reason says it all, column name included */
            fprintf(stderr, "wyelink %s: column map '%s' does not fit '%s': %s\n", CMD,
                    wye_cli_path_shown(o->map), wye_cli_path_shown(o->input), c->diag.reason);
            c->code = rc;
            return WYE_EXIT_FAIL;
        }
        snprintf(msg, sizeof msg, "column map '%s' does not fit '%s'", wye_cli_path_shown(o->map),
                 wye_cli_path_shown(o->input));
        return cli_fail_diag(c, msg, rc, &c->diag);
    case WYE_HASH_STAGE_START:
        return fail_file(c, "cannot start the encoded file", o->out, rc);
    case WYE_HASH_STAGE_READ:
        if (rc == WYE_ENOMEM)
            return cli_fail(c, "cannot read the input", rc);
        return fail_file_diag(c, "cannot read", o->input, rc, &c->diag);
    case WYE_HASH_STAGE_WRITE:
        return fail_file(c, "cannot write", o->out, rc);
    case WYE_HASH_STAGE_FINISH:
        return fail_file(c, "cannot finish", o->out, rc);
    case WYE_HASH_STAGE_LOCAL_MAP:
        return fail_file(c, "cannot write", o->local_map, rc);
    case WYE_HASH_STAGE_KEYS:
        return cli_fail(c, "cannot derive the hashing keys", rc);
    default:
        return cli_fail(c, "cannot start", rc);
    }
}

/* Hash the opened input into the opened outputs. */
static int hash_input(ctx *c, uint64_t size)
{
    const opts *o = &c->o;
    wye_hash_settings hs;
    wye_hash_default_settings(&hs);
    hs.protocol = c->p;
    hs.map = c->m;
    hs.extract_date = c->extract;
    hs.threads = (unsigned)o->threads;
    hs.input_size = size;
    hs.progress = progress;
    hs.progress_ctx = c;
    hs.secret = c->secret;
    hs.agency = c->party;
    hs.recipient = &c->to;
    hs.created = (int64_t)time(NULL);
    hs.compress = o->compress;
    hs.encoded = (wye_sink){sink_atomic_write, &c->out_sink};
    hs.local_map = wye_sink_file(wye_atomic_file(c->map_a));
    wye_progress_start(&c->pg, "hashing", size, PROGRESS_MIN_BYTES, o->quiet);
    wye_progress_unit(&c->pg, "rows");
    int rc = wye_hash_run(wye_source_file(c->in), &hs, &c->res, &c->diag);
    wye_progress_end(&c->pg);
    if (rc)
        return run_failed(c, rc);
    if (c->res.rows_encoded == 0) {
        fprintf(stderr, "wyelink %s: '%s': no row could be encoded (%llu read, %llu "
                        "rejected)\n",
                CMD, wye_cli_path_shown(o->input), (unsigned long long)c->res.rows_read,
                (unsigned long long)c->res.rows_rejected);
        c->code = WYE_EFORMAT;
        return WYE_EXIT_FAIL;
    }
    return WYE_EXIT_OK;
}

/* Every byte of every output final and on disk, nothing renamed yet: the
 * audit entry is appended next, and only then are they put in place. */
static int prepare_outputs(ctx *c)
{
    const opts *o = &c->o;
    int rc;
    errno = 0;
    if (o->summary && (rc = write_summary_json(c)))
        return fail_file(c, "cannot write", o->summary, rc);
    if (wye_cli_cancelled())
        return cancelled(c);
    errno = 0;
    if ((rc = wye_outset_prepare(c->set)))
        return cli_fail(c, "cannot finish writing the outputs", rc);
    return WYE_EXIT_OK;
}

static int run_hash(ctx *c)
{
    const opts *o = &c->o;
    int status = recover_outputs(c);
    if (status || (status = load_inputs(c)))
        return status;
    /* Before the work: a log that cannot take this agency's entry would
     * cost the run (an unaudited output is not kept). */
    if (wye_cli_audit_precheck(CMD, wye_cli_audit_path(o->audit_log), c->party)) {
        c->log_refused = true;
        return WYE_EXIT_FAIL;
    }
    if (wye_cli_cancelled())
        return cancelled(c);
    errno = 0;
    c->in = fopen(o->input, "rb");
    if (!c->in)
        return fail_file(c, "cannot open", o->input, WYE_EIO);
    setvbuf(c->in, c->inbuf, _IOFBF, sizeof c->inbuf);
    struct stat st;
    uint64_t size = fstat(fileno(c->in), &st) == 0 ? (uint64_t)st.st_size : 0;
    if ((status = open_outputs(c)) || (status = hash_input(c, size)))
        return status;
    return prepare_outputs(c);
}

/* Put the outputs in place, all together, once the entry is in the log. */
static int commit_outputs(ctx *c)
{
    errno = 0;
    int rc = wye_outset_commit(c->set);
    c->set = NULL;
    if (rc)
        return cli_fail(c, "cannot put the outputs in place", rc);
    return WYE_EXIT_OK;
}

static void cleanup(ctx *c)
{
    wye_outset_abort(c->set); /* the previous outputs stay as they were */
    if (c->in)
        fclose(c->in);
    wye_hash_result_clear(&c->res);
    wye_colmap_free(c->m);
    wye_protocol_free(c->p);
    wye_secret_free(c->secret);
    wye_party_free(c->party);
    wye_audit_entry_free(c->au.e); /* a run that never reached the key */
}

/* The inputs of the entry: each file's digest, or its path alone when it
 * cannot be read; the extract's digest as it was read, if it was read
 * through. */
static void audit_inputs(ctx *c)
{
    const opts *o = &c->o;
    const char *ins[] = {o->input, o->map, o->protocol, o->to};
    const char *in_names[] = {"input_missing", "map_missing", "protocol_missing", "to_missing"};
    for (size_t i = 0; i < 4; i++) {
        if (i == 2 && wye_cli_protocol_is_builtin(ins[i])) {
            wye_cli_audit_param(&c->au, "protocol", ins[i]); /* built in: no file */
        } else if (access(ins[i], R_OK) != 0) {
            /* a failed run: path only */
            wye_cli_audit_param_path(&c->au, in_names[i], ins[i]);
        } else if (c->au.e && c->au.rc == WYE_OK) {
            if (i == 0 && c->res.input_complete)
                c->au.rc = wye_audit_entry_input_digest(c->au.e, ins[i], c->res.input_bytes,
                                                        c->res.input_digest);
            else
                c->au.rc = wye_audit_entry_input(c->au.e, ins[i]);
        }
    }
}

/* The digest of a prepared output, read from its temporary file, recorded
 * under its final name. */
static int audit_prepared(ctx *c, const char *path, const wye_atomic *a)
{
    uint8_t d[WYE_DIGEST_FILE_BYTES];
    struct stat st;
    const char *tmp = wye_atomic_temp_path(a);
    int rc = wye_file_digest(tmp, d);
    if (rc == WYE_OK && stat(tmp, &st) != 0)
        rc = WYE_EIO;
    return rc ? rc : wye_audit_entry_output_digest(c->au.e, path, (uint64_t)st.st_size, d);
}

/* A run that succeeded prepared every output in full: the digests of the
 * encoded file and the local map, taken as they were written, are those of
 * the files. */
static void audit_outputs(ctx *c)
{
    const opts *o = &c->o;
    if (!c->au.e || c->au.rc != WYE_OK)
        return;
    c->au.rc = wye_audit_entry_output_digest(c->au.e, o->out, c->res.encoded_bytes,
                                             c->res.encoded_digest);
    if (c->au.rc == WYE_OK)
        c->au.rc = wye_audit_entry_output_digest(c->au.e, o->local_map, c->res.local_map_bytes,
                                                 c->res.local_map_digest);
    if (c->au.rc == WYE_OK && o->summary)
        c->au.rc = audit_prepared(c, o->summary, c->sum_a);
}

/* Every run that got as far as the agency's key is audited, failed or not;
 * an unaudited output is not kept. */
static int audit_run(ctx *c, int status)
{
    const opts *o = &c->o;
    char threads[24];
    snprintf(threads, sizeof threads, "%u", c->res.threads);
    wye_cli_audit_param(&c->au, "extract_date", c->extract_text);
    wye_cli_audit_param(&c->au, "threads", threads);
    wye_cli_audit_param(&c->au, "agency", c->agency);
    audit_inputs(c);
    if (status == WYE_EXIT_OK)
        audit_outputs(c);
    wye_cli_audit_count(&c->au, "rows_read", c->res.rows_read);
    wye_cli_audit_count(&c->au, "rows_encoded", c->res.rows_encoded);
    wye_cli_audit_count(&c->au, "rows_rejected", c->res.rows_rejected);
    wye_cli_audit_count(&c->au, "duplicate_local_ids",
                        c->res.rejected_by[WYE_ROW_DUPLICATE_ID]);
    int done = wye_cli_audit_finish(CMD, &c->au, wye_cli_audit_path(o->audit_log), c->party,
                                    status == WYE_EXIT_OK ? WYE_OK : c->code, status);
    /* An output without its entry is not kept: the set is aborted (by
     * cleanup) and the previous outputs stay. */
    return done == WYE_EXIT_OK ? commit_outputs(c) : done;
}

int wye_cmd_hash(int argc, char **argv)
{
    ctx *c = calloc(1, sizeof *c);
    if (!c)
        return wye_cli_fail(CMD, "cannot start", WYE_ENOMEM);
    int status = parse_opts(argc, argv, &c->o);
    if (status == 0)
        status = check_paths(&c->o);
    if (status) {
        free(c);
        return status < 0 ? WYE_EXIT_OK : status;
    }
    const opts *o = &c->o;
    wye_cli_signals_install();
    wye_cli_audit_start(&c->au, CMD);
    wye_cli_audit_param_path(&c->au, "input", o->input);
    /* the secret: a path only, no digest of a secret */
    wye_cli_audit_param_path(&c->au, "secret", o->secret);
    wye_cli_audit_param_path(&c->au, "key", o->key);

    status = run_hash(c);
    if (status != WYE_EXIT_OK && !c->code)
        c->code = WYE_EIO;
    if (c->code == WYE_ECANCELLED)
        status = WYE_EXIT_CANCELLED;
    if (c->party && !c->log_refused)
        status = audit_run(c, status);
    /* The data lead needs the summary most when nothing could be encoded. */
    if (c->res.read_all && !o->quiet)
        print_summary(c);
    cleanup(c);
    free(c);
    return status;
}
