/* wyelink map check: read an extract through a column map and print the
 * data-quality summary `wyelink hash` would print, before any key or secret
 * exists (hashing/COLUMNMAP.md section 5).
 *
 * The run is the library's tally without a secret (wye_hash_run with no
 * secret): it encodes nothing and writes nothing but the summary JSON, if
 * asked. With the agency's key it appends a signed audit entry, as every
 * command that reads an extract does. Nothing printed, written or audited
 * holds a value from the extract but the codes the code tally lets out
 * (colmap.h). */
#include <errno.h>
#include <getopt.h>
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
#include "wyelink/io.h"
#include "wyelink/keys.h"
#include "wyelink/normalise.h"
#include "wyelink/pipeline.h"
#include "wyelink/protocol.h"

#define CMD "map check"
#define PROGRESS_MIN_BYTES (16u << 20)

static void usage(void)
{
    printf("usage: wyelink map <subcommand> [options]\n"
           "\n"
           "Agency: work on a column map (hashing/COLUMNMAP.md), the file that says which\n"
           "column of the extract holds which identifier and how it is written.\n"
           "\n"
           "subcommands:\n"
           "   check   read the extract through the map and print the data-quality summary\n"
           "           'wyelink hash' would print; needs no key and no secret\n"
           "\n"
           "'wyelink map check --help' explains it.\n"
           "\n" WYE_CLI_EXIT_HELP);
}

static const char check_usage[] =
    "usage: wyelink map check --map MAP.json --input CSV [--protocol FILE|NAME]\n"
    "                         [--summary-json FILE] [--extract-date YYYY-MM-DD]\n"
    "                         [--threads N] [--quiet]\n"
    "                         [--key AGENCY.key [--audit-log FILE]]\n"
    "\n"
    "Agency: check a column map on the real extract before any keys exist. Reads the\n"
    "CSV through the map exactly as 'wyelink hash' does and prints the same\n"
    "data-quality summary: rows read, rows 'hash' would encode and reject (by\n"
    "reason, with a few line numbers), per field and attribute present, missing and\n"
    "invalid with reasons, the codes each value column met (sex, service type) and\n"
    "what each gives, and what the protocol's fields the map leaves out would add.\n"
    "A code is shown only if it occurs at least 5 times or is written in the map: a\n"
    "rare value could identify someone. No other value from the extract is printed.\n"
    "\n"
    "It encodes nothing and writes nothing but the summary JSON: send that to the\n"
    "linkage unit to agree the map before the linkage secret is sealed to you.\n"
    "\n"
    "   --map FILE           the column map (hashing/COLUMNMAP.md)\n"
    "   --input FILE         the agency's CSV extract (never modified)\n"
    "   --protocol FILE|NAME the linkage protocol: a file, or a built-in profile\n"
    "                        ('wyelink protocol list'; default: default)\n"
    "   --summary-json FILE  also write the summary as JSON (the same as hash's, less\n"
    "                        what only hash knows: its outputs, agency and key id)\n"
    "   --extract-date DATE  the day the extract was taken (default: today, UTC; not\n"
    "                        in the future); dates of birth after it are invalid,\n"
    "                        two-digit years pivot on it, age bands use it\n"
    "   --threads N          threads to use, 0 = all cores (default 0)\n"
    "   --quiet              no progress bar and no summary on standard output\n"
    "   --key FILE           the agency's key ('-' = standard input): append an audit\n"
    "                        entry signed with it; without it no entry is written\n"
    "   --audit-log FILE     with --key: the audit log to append to (else\n"
    "                        $WYELINK_AUDIT_LOG, else wyelink-audit.log); checked\n"
    "                        before the extract is read\n"
    "\n"
    "Exit status: 0 the extract was read through the map (even if rows are rejected\n"
    "or values invalid: it is a report), 1 failure (the map does not fit the\n"
    "extract's header, a file cannot be read, ...), 2 misuse (bad or missing\n"
    "option), 130 cancelled (SIGINT or SIGTERM): no output written.\n";

/* ---- options ---- */

typedef struct opts {
    const char *input, *map, *protocol, *summary, *extract_date, *key, *audit_log;
    uint64_t threads;
    bool quiet;
} opts;

enum { O_INPUT = 256, O_MAP, O_PROTOCOL, O_SUMMARY, O_EXTRACT, O_THREADS, O_QUIET, O_KEY,
       O_AUDIT };

static int parse_opts(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {
        {"input", required_argument, NULL, O_INPUT},
        {"map", required_argument, NULL, O_MAP},
        {"protocol", required_argument, NULL, O_PROTOCOL},
        {"summary-json", required_argument, NULL, O_SUMMARY},
        {"extract-date", required_argument, NULL, O_EXTRACT},
        {"threads", required_argument, NULL, O_THREADS},
        {"quiet", no_argument, NULL, O_QUIET},
        {"key", required_argument, NULL, O_KEY},
        {"audit-log", required_argument, NULL, O_AUDIT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->protocol = WYE_PROTOCOL_DEFAULT;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case O_INPUT: o->input = optarg; break;
        case O_MAP: o->map = optarg; break;
        case O_PROTOCOL: o->protocol = optarg; break;
        case O_SUMMARY: o->summary = optarg; break;
        case O_EXTRACT: o->extract_date = optarg; break;
        case O_QUIET: o->quiet = true; break;
        case O_KEY: o->key = optarg; break;
        case O_AUDIT: o->audit_log = optarg; break;
        case O_THREADS:
            if (wye_cli_parse_u64(CMD, "--threads", optarg, 0, 1024, &o->threads))
                return WYE_EXIT_USAGE;
            break;
        case 'h':
            fputs(check_usage, stdout);
            return -1;
        default:
            return wye_cli_bad_option(CMD, argv);
        }
    }
    if (optind < argc)
        return wye_cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!o->input || !o->map)
        return wye_cli_usage_error(CMD, "--map and --input are required");
    if (o->audit_log && !o->key)
        return wye_cli_usage_error(CMD, "--audit-log needs --key (the key that signs the "
                                        "entry)");
    return WYE_EXIT_OK;
}

/* Neither the summary nor the audit log may be an input, nor one file. */
static int check_paths(const opts *o)
{
    const char *const ins[] = {o->input, o->map, o->protocol, o->key};
    const char *log = o->key ? wye_cli_audit_path(o->audit_log) : NULL;
    int status = wye_cli_refuse_same_file(CMD, "--summary-json", o->summary, ins, 4);
    if (!status)
        status = wye_cli_refuse_same_file(CMD, "--audit-log", log, ins, 4);
    if (!status && o->summary && log) {
        const char *both[] = {o->summary};
        if (!strcmp(o->summary, log) ||
            wye_cli_refuse_same_file(CMD, "--audit-log", log, both, 1) != WYE_EXIT_OK)
            return wye_cli_usage_error(CMD, "'%s' is named as two outputs",
                                       wye_cli_path_shown(o->summary));
    }
    return status;
}

/* ---- the run ---- */

typedef struct ctx {
    opts o;
    wye_protocol *p;
    wye_colmap *m;
    wye_party *party;    /* with --key */
    FILE *in;
    wye_outset *set;     /* the summary JSON, put in place after the audit entry */
    wye_atomic *sum_a;
    wye_hash_result res;
    wye_diag diag;
    wye_progress pg;
    wye_date extract;
    char fingerprint[2 * WYE_FINGERPRINT_BYTES + 1];
    char extract_text[11];
    char agency[WYE_PARTY_NAME_MAX];
    wye_cli_audit au;
    bool log_refused;
    int code;            /* the WYE_E* code of the failure, for the audit entry */
    char inbuf[1 << 16];
} ctx;

static int fail(ctx *c, const char *what, int rc)
{
    c->code = rc;
    return wye_cli_fail(CMD, what, rc);
}

static int fail_file(ctx *c, const char *what, const char *path, int rc, const wye_diag *d)
{
    char msg[1200];
    snprintf(msg, sizeof msg, "%s '%s'", what, wye_cli_path_shown(path));
    c->code = rc;
    return d ? wye_cli_fail_diag(CMD, msg, rc, d) : wye_cli_fail(CMD, msg, rc);
}

/* As hash: a real day, not after tomorrow (any time zone's today), else
 * today (UTC). */
static int set_extract_date(ctx *c)
{
    return wye_cli_extract_date(CMD, c->o.extract_date, &c->extract, c->extract_text);
}

/* The agency's key, and its log checked before anything is read. */
static int load_key(ctx *c)
{
    const opts *o = &c->o;
    errno = 0;
    int rc = wye_party_load(o->key, &c->party);
    if (rc)
        return fail_file(c, "cannot load the key", o->key, rc, NULL);
    const wye_party_public *me = wye_party_public_part(c->party);
    if (strcmp(me->role, "agency")) {
        fprintf(stderr, "wyelink %s: '%s' has role '%s', not 'agency'\n", CMD,
                wye_cli_path_shown(o->key), me->role);
        wye_party_free(c->party); /* not the agency's key: it signs nothing */
        c->party = NULL;
        return WYE_EXIT_FAIL;
    }
    snprintf(c->agency, sizeof c->agency, "%s", me->name);
    if (wye_cli_audit_precheck(CMD, wye_cli_audit_path(o->audit_log), c->party)) {
        c->log_refused = true;
        return WYE_EXIT_FAIL;
    }
    return WYE_EXIT_OK;
}

static int load_inputs(ctx *c)
{
    const opts *o = &c->o;
    wye_diag d;
    int status = set_extract_date(c);
    if (status || (o->key && (status = load_key(c))))
        return status;
    errno = 0;
    int rc = wye_cli_protocol_load(o->protocol, &c->p, &d);
    if (rc)
        return fail_file(c, "cannot load the protocol", o->protocol, rc, &d);
    errno = 0;
    if ((rc = wye_colmap_load(o->map, c->p, &c->m, &d)))
        return fail_file(c, "cannot load the column map", o->map, rc, &d);
    if (!o->extract_date && wye_colmap_two_digit_years(c->m))
        wye_quality_warn_two_digit_years(CMD, wye_cli_path_shown(o->map), c->extract_text);
    uint8_t fp[WYE_FINGERPRINT_BYTES];
    wye_protocol_fingerprint(c->p, fp);
    wye_hex(fp, sizeof fp, c->fingerprint);
    /* No key id without a secret, so no protocol block in the entry (it
     * takes both): the protocol is an input (a file's digest, or a built-in
     * profile's name, which the tool version recorded with it fixes). */
    return WYE_EXIT_OK;
}

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

/* A failed run: the map that does not fit the header, or the input. */
static int run_failed(ctx *c, int rc)
{
    const opts *o = &c->o;
    if (rc == WYE_ECANCELLED || wye_cli_cancelled())
        return cancelled(c);
    c->code = rc;
    if (c->res.stage == WYE_HASH_STAGE_BIND) {
        if (rc == WYE_EDUPLICATE) { /* the reason names the column */
            fprintf(stderr, "wyelink %s: column map '%s' does not fit '%s': %s\n", CMD,
                    wye_cli_path_shown(o->map), wye_cli_path_shown(o->input), c->diag.reason);
            return WYE_EXIT_FAIL;
        }
        char msg[1400];
        snprintf(msg, sizeof msg, "column map '%s' does not fit '%s'",
                 wye_cli_path_shown(o->map), wye_cli_path_shown(o->input));
        return wye_cli_fail_diag(CMD, msg, rc, &c->diag);
    }
    if (c->res.stage == WYE_HASH_STAGE_HEADER || c->res.stage == WYE_HASH_STAGE_READ)
        return rc == WYE_ENOMEM ? fail(c, "cannot read the input", rc)
                                : fail_file(c, "cannot read", o->input, rc, &c->diag);
    return fail(c, "cannot check the map", rc);
}

/* Read the whole extract through the map. */
static int check_input(ctx *c)
{
    const opts *o = &c->o;
    errno = 0;
    c->in = fopen(o->input, "rb");
    if (!c->in)
        return fail_file(c, "cannot open", o->input, WYE_EIO, NULL);
    setvbuf(c->in, c->inbuf, _IOFBF, sizeof c->inbuf);
    struct stat st;
    uint64_t size = fstat(fileno(c->in), &st) == 0 ? (uint64_t)st.st_size : 0;
    wye_hash_settings hs;
    wye_hash_default_settings(&hs);
    hs.protocol = c->p;
    hs.map = c->m;
    hs.extract_date = c->extract;
    hs.threads = (unsigned)o->threads;
    hs.input_size = size;
    hs.progress = progress;
    hs.progress_ctx = c;
    wye_progress_start(&c->pg, "checking", size, PROGRESS_MIN_BYTES, o->quiet);
    wye_progress_unit(&c->pg, "rows");
    int rc = wye_hash_run(wye_source_file(c->in), &hs, &c->res, &c->diag);
    wye_progress_end(&c->pg);
    return rc ? run_failed(c, rc) : WYE_EXIT_OK;
}

/* The summary JSON, every byte on disk, not yet in place. */
static int prepare_summary(ctx *c)
{
    const opts *o = &c->o;
    int rc;
    errno = 0;
    if ((rc = wye_output_recover(o->summary)))
        return fail_file(c, "cannot clean up after an interrupted run at", o->summary, rc, NULL);
    if ((rc = wye_outset_new(&c->set)))
        return fail(c, "cannot start", rc);
    errno = 0;
    if ((rc = wye_outset_open(c->set, o->summary, 0644, &c->sum_a)))
        return fail_file(c, "cannot write", o->summary, rc, NULL);
    wye_hash_summary_info info = {c->p, c->m, wye_cli_path_shown(o->input), NULL, NULL, NULL,
                                  c->fingerprint, NULL, c->extract_text};
    errno = 0;
    if ((rc = wye_hash_write_summary(&c->res, &info, wye_atomic_file(c->sum_a))))
        return fail_file(c, "cannot write", o->summary, rc, NULL);
    if (wye_cli_cancelled())
        return cancelled(c);
    errno = 0;
    if ((rc = wye_outset_prepare(c->set)))
        return fail_file(c, "cannot write", o->summary, rc, NULL);
    return WYE_EXIT_OK;
}

static int run_check(ctx *c)
{
    int status = load_inputs(c);
    if (status)
        return status;
    if (wye_cli_cancelled())
        return cancelled(c);
    if ((status = check_input(c)))
        return status;
    return c->o.summary ? prepare_summary(c) : WYE_EXIT_OK;
}

/* The entry: what was read (the extract's digest as it was read), the
 * summary written, the counts. */
static int audit_run(ctx *c, int status)
{
    const opts *o = &c->o;
    wye_cli_audit *au = &c->au;
    char threads[24];
    snprintf(threads, sizeof threads, "%u", c->res.threads);
    wye_cli_audit_param(au, "extract_date", c->extract_text);
    wye_cli_audit_param(au, "threads", threads);
    wye_cli_audit_param(au, "agency", c->agency);
    if (au->e && au->rc == WYE_OK && c->res.input_complete)
        au->rc = wye_audit_entry_input_digest(au->e, o->input, c->res.input_bytes,
                                              c->res.input_digest);
    else
        wye_cli_audit_param_path(au, "input_missing", o->input);
    if (access(o->map, R_OK) == 0)
        wye_cli_audit_input(au, o->map);
    if (wye_cli_protocol_is_builtin(o->protocol))
        wye_cli_audit_param(au, "protocol", o->protocol);
    else if (access(o->protocol, R_OK) == 0)
        wye_cli_audit_input(au, o->protocol);
    if (status == WYE_EXIT_OK && o->summary && au->e && au->rc == WYE_OK) {
        const char *tmp = wye_atomic_temp_path(c->sum_a);
        uint8_t d[WYE_DIGEST_FILE_BYTES];
        struct stat st;
        au->rc = wye_file_digest(tmp, d);
        if (au->rc == WYE_OK)
            au->rc = stat(tmp, &st) == 0 ? wye_audit_entry_output_digest(au->e, o->summary,
                                                                         (uint64_t)st.st_size, d)
                                         : WYE_EIO;
    }
    wye_cli_audit_count(au, "rows_read", c->res.rows_read);
    wye_cli_audit_count(au, "rows_encodable", c->res.rows_encoded);
    wye_cli_audit_count(au, "rows_rejected", c->res.rows_rejected);
    wye_cli_audit_count(au, "duplicate_local_ids", c->res.rejected_by[WYE_ROW_DUPLICATE_ID]);
    return wye_cli_audit_finish(CMD, au, wye_cli_audit_path(o->audit_log), c->party,
                                status == WYE_EXIT_OK ? WYE_OK : c->code, status);
}

static void cleanup(ctx *c)
{
    wye_outset_abort(c->set);
    if (c->in)
        fclose(c->in);
    wye_hash_result_clear(&c->res);
    wye_colmap_free(c->m);
    wye_protocol_free(c->p);
    wye_party_free(c->party);
    wye_audit_entry_free(c->au.e);
}

static int map_check(int argc, char **argv)
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
    if (o->key) {
        wye_cli_audit_start(&c->au, CMD);
        wye_cli_audit_param_path(&c->au, "input", o->input);
        wye_cli_audit_param_path(&c->au, "map", o->map);
        wye_cli_audit_param_path(&c->au, "key", o->key);
    }
    status = run_check(c);
    if (status != WYE_EXIT_OK && !c->code)
        c->code = WYE_EIO;
    if (c->code == WYE_ECANCELLED)
        status = WYE_EXIT_CANCELLED;
    if (c->party && !c->log_refused)
        status = audit_run(c, status);
    if (status == WYE_EXIT_OK && c->set) {
        errno = 0;
        int rc = wye_outset_commit(c->set);
        c->set = NULL;
        if (rc)
            status = fail(c, "cannot put the summary in place", rc);
    }
    if (c->res.read_all && !o->quiet) {
        wye_quality_view v = {wye_cli_path_shown(o->input), c->p, c->m, &c->res,
                              c->extract_text, "rows encodable", o->summary != NULL};
        wye_quality_print(stdout, &v);
    }
    if (c->res.read_all && c->res.rows_encoded == 0)
        wye_cli_note(CMD, "warning: no row of '%s' could be encoded: 'wyelink hash' would "
                          "refuse it",
                     wye_cli_path_shown(o->input));
    cleanup(c);
    free(c);
    return status;
}

int wye_cmd_map(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 0;
    opterr = 0;
    int c;
    /* '+': stop at the subcommand; its options are its own. */
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(); return WYE_EXIT_OK;
        default: return wye_cli_bad_option("map", argv);
        }
    }
    if (optind >= argc)
        return wye_cli_usage_error("map", "needs a subcommand: check");
    if (strcmp(argv[optind], "check"))
        return wye_cli_usage_error("map", "unknown subcommand '%s'", argv[optind]);
    return map_check(argc - optind, argv + optind);
}
