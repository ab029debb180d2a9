/* wyelink report: the research team's report of a linkage, one HTML page and
 * its tables as CSV, every count published by the disclosure rule. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "commands.h"
#include "wyelink/disclosure.h"
#include "wyelink/io.h"
#include "wyelink/report.h"

#define MAX_QUALITY 64

static void usage(void)
{
    printf("usage: wyelink report --result DIR --out REPORT.html [--quality Q.json]...\n"
           "                      [--csv-dir DIR] [--exact-small-counts] [--quiet]\n"
           "                      [--key FILE [--audit-log FILE]]\n"
           "\n"
           "Makes the research team's report of a linkage: one self-contained HTML page\n"
           "(no script, no external file; charts in SVG; prints to PDF) with the headline\n"
           "(unique persons, records and persons per agency), the overlaps between\n"
           "agencies (UpSet chart, persons by number of agencies, pairs), profiles, linkage\n"
           "diagnostics, data quality per agency and provenance; and the same tables as\n"
           "CSV files. Every count of persons or records follows the disclosure rule\n"
           "(linker/DISCLOSURE.md): below 5 shown as <5, others rounded to the nearest 5,\n"
           "and counts that would let a small one be worked out shown as suppressed.\n"
           "No identifier or pseudonym is written.\n"
           "\n"
           "  --result DIR          wyelink link's output folder: summary.json (required),\n"
           "                        persons.csv (for the UpSet chart, when summary.json has\n"
           "                        no intersections) and pairs.csv (for the scores)\n"
           "  --quality FILE        an agency's data-quality summary (wyelink hash\n"
           "                        --summary-json); once per agency\n"
           "  --out FILE            the HTML page to write\n"
           "  --csv-dir DIR         folder for the tables as CSV (created; default: the\n"
           "                        page's name without .html, followed by -tables)\n"
           "  --exact-small-counts  internal use only: exact counts, every table marked so\n"
           "                        (needs a summary.json with exact counts)\n"
           "  --quiet               print nothing on success\n"
           "  --key FILE            a party's key (the linkage unit's): append an audit entry\n"
           "                        signed with it (inputs and outputs with their digests,\n"
           "                        the disclosure counts)\n"
           "  --audit-log FILE      with --key: the audit log to append to (default\n"
           "                        $WYELINK_AUDIT_LOG or wyelink-audit.log)\n"
           "  -h, --help            this help\n"
           "\n"
           "A summary.json published under an older rule is accepted only if nothing\n"
           "suppressed in it can be worked out; otherwise re-run wyelink link.\n"
           "\n" WYE_CLI_EXIT_HELP);
}

typedef struct opts {
    const char *result, *out, *csv_dir, *key, *log;
    const char *quality[MAX_QUALITY];
    int nquality;
    bool exact, quiet;
} opts;

static int load_json(const char *cmd, const char *path, json_t **out)
{
    char *text = NULL;
    size_t len = 0;
    char what[1100];
    int rc = wye_read_file(path, 64u << 20, &text, &len);
    if (rc) {
        snprintf(what, sizeof what, "cannot read '%s'", path);
        return wye_cli_fail(cmd, what, rc);
    }
    json_error_t e;
    *out = json_loadb(text, len, 0, &e);
    free(text);
    if (!*out) {
        wye_diag d;
        wye_diag_set(&d, (uint64_t)e.line, NULL, "not JSON");
        snprintf(what, sizeof what, "in '%s'", path);
        return wye_cli_fail_diag(cmd, what, WYE_EJSON, &d);
    }
    return WYE_EXIT_OK;
}

/* Feed a CSV file of the result to fn; a missing file is not an error
 * (*found false). */
static int read_result_csv(const char *cmd, const char *dir, const char *name, bool *found,
                           int (*fn)(void *ctx, wye_source src, wye_diag *d), void *ctx,
                           wye_cli_audit *au)
{
    char path[4200], what[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    *found = f != NULL;
    if (!f)
        return errno == ENOENT ? WYE_EXIT_OK : wye_cli_fail(cmd, "cannot open a result file",
                                                              WYE_EIO);
    wye_diag d;
    wye_diag_clear(&d);
    int rc = fn(ctx, wye_source_file(f), &d);
    fclose(f);
    if (rc) {
        snprintf(what, sizeof what, "in '%s'", path);
        return wye_cli_fail_diag(cmd, what, rc, &d);
    }
    if (au)
        wye_cli_audit_input(au, path);
    return WYE_EXIT_OK;
}

static int persons_fn(void *ctx, wye_source src, wye_diag *d)
{
    return wye_report_intersections(ctx, src, d);
}

static int pairs_fn(void *ctx, wye_source src, wye_diag *d)
{
    return wye_report_read_pairs(ctx, src, d);
}

/* Write one output through a temporary file: the page (table < 0) or a
 * table as CSV. */
static int write_out(const char *cmd, wye_report *r, const char *path, long table,
                     wye_cli_audit *au)
{
    wye_atomic *a = NULL;
    int rc = wye_atomic_open(path, 0644, 0, &a);
    if (!rc) {
        wye_sink s = wye_sink_file(wye_atomic_file(a));
        rc = table < 0 ? wye_report_write_html(r, &s) : wye_report_write_csv(r, (size_t)table, &s);
        if (rc)
            wye_atomic_abort(a);
        else
            rc = wye_atomic_commit(a);
    }
    if (rc) {
        char what[4300];
        snprintf(what, sizeof what, "cannot write '%s'", path);
        return wye_cli_fail(cmd, what, rc);
    }
    if (au)
        wye_cli_audit_output(au, path);
    return WYE_EXIT_OK;
}

/* Publish the summary (with the intersections) and the quality summaries
 * together, then hand them to the report. */
static int publish(const char *cmd, const opts *o, json_t *summary, json_t **q, wye_report *r,
                   wye_cli_audit *au)
{
    if (o->exact && !wye_disclosure_is_exact(summary))
        return wye_cli_usage_error(cmd, "--exact-small-counts needs a summary.json with exact "
                                        "counts (wyelink link --exact-small-counts)");
    wye_disclosure_params p;
    wye_disclosure_default_params(&p);
    p.exact = o->exact;
    wye_disclosure_stats st;
    wye_diag d;
    int rc = wye_disclosure_publish(summary, q, (size_t)o->nquality, &p, &st, &d);
    if (rc)
        return wye_cli_fail_diag(cmd, "cannot publish the counts safely", rc, &d);
    if (au) {
        wye_cli_audit_count(au, "counts_published", st.cells);
        wye_cli_audit_count(au, "counts_below_5", st.small);
        wye_cli_audit_count(au, "counts_suppressed", st.secondary);
        wye_cli_audit_param(au, "exact_small_counts", o->exact ? "yes" : "no");
    }
    if ((rc = wye_report_set_summary(r, summary)))
        return wye_cli_fail(cmd, "summary.json is not a linkage summary", rc);
    for (int i = 0; i < o->nquality; i++)
        if ((rc = wye_report_add_quality(r, q[i])))
            return wye_cli_fail(cmd, "cannot add a data-quality summary", rc);
    if (!o->quiet)
        printf("counts: %zu published, %zu shown as <5, %zu suppressed so that none can be "
               "worked out%s\n",
               st.cells, st.small, st.secondary, o->exact ? " (exact: internal use only)" : "");
    return WYE_EXIT_OK;
}

static int make_report(const char *cmd, const opts *o, wye_cli_audit *au)
{
    json_t *summary = NULL, *q[MAX_QUALITY] = {0};
    wye_report *r = NULL;
    char path[4200];
    bool found;
    snprintf(path, sizeof path, "%s/summary.json", o->result);
    int st = load_json(cmd, path, &summary);
    if (!st && au)
        wye_cli_audit_input(au, path);
    for (int i = 0; !st && i < o->nquality; i++) {
        st = load_json(cmd, o->quality[i], &q[i]);
        if (!st && au)
            wye_cli_audit_input(au, o->quality[i]);
    }
    if (!st && wye_report_new(&r))
        st = wye_cli_fail(cmd, "cannot start", WYE_ENOMEM);
    if (!st && !json_object_get(summary, "intersections"))
        st = read_result_csv(cmd, o->result, "persons.csv", &found, persons_fn, summary, au);
    if (!st)
        st = publish(cmd, o, summary, q, r, au);
    if (!st)
        st = read_result_csv(cmd, o->result, "pairs.csv", &found, pairs_fn, r, au);
    if (!st)
        st = write_out(cmd, r, o->out, -1, au);
    if (!st && mkdir(o->csv_dir, 0755) != 0 && errno != EEXIST)
        st = wye_cli_fail(cmd, "cannot create the CSV folder", WYE_EIO);
    size_t n = st ? 0 : wye_report_ntables(r);
    for (size_t i = 0; !st && i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", o->csv_dir, wye_report_table_file(r, i));
        st = write_out(cmd, r, path, (long)i, au);
    }
    if (!st && !o->quiet)
        printf("wrote %s and %zu tables in %s/\n", o->out, n, o->csv_dir);
    wye_report_free(r);
    json_decref(summary);
    for (int i = 0; i < o->nquality; i++)
        json_decref(q[i]);
    return st;
}

int wye_cmd_report(int argc, char **argv)
{
    const char *cmd = "report";
    opts o = {0};
    char csv_dir[4096];
    enum { O_EXACT = 256, O_CSV, O_AUDIT };
    static const struct option lo[] = {
        {"result", required_argument, 0, 'r'},    {"quality", required_argument, 0, 'q'},
        {"out", required_argument, 0, 'o'},       {"csv-dir", required_argument, 0, O_CSV},
        {"exact-small-counts", no_argument, 0, O_EXACT},
        {"quiet", no_argument, 0, 'Q'},           {"key", required_argument, 0, 'k'},
        {"audit-log", required_argument, 0, O_AUDIT}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "h", lo, NULL)) != -1;) {
        switch (c) {
        case 'r': o.result = optarg; break;
        case 'o': o.out = optarg; break;
        case O_CSV: o.csv_dir = optarg; break;
        case O_EXACT: o.exact = true; break;
        case 'Q': o.quiet = true; break;
        case 'k': o.key = optarg; break;
        case O_AUDIT: o.log = optarg; break;
        case 'q':
            if (o.nquality == MAX_QUALITY)
                return wye_cli_usage_error(cmd, "at most %d --quality options", MAX_QUALITY);
            o.quality[o.nquality++] = optarg;
            break;
        case 'h': usage(); return WYE_EXIT_OK;
        default: return wye_cli_bad_option(cmd, argv);
        }
    }
    if (optind < argc)
        return wye_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!o.result || !o.out)
        return wye_cli_usage_error(cmd, "--result and --out are required");
    if (o.log && !o.key)
        return wye_cli_usage_error(cmd, "--audit-log needs --key (the key that signs the entry)");
    if (!o.csv_dir) {
        size_t len = strlen(o.out);
        if (len > 5 && !strcmp(o.out + len - 5, ".html"))
            len -= 5;
        if (len + sizeof "-tables" > sizeof csv_dir)
            return wye_cli_usage_error(cmd, "--out is too long");
        snprintf(csv_dir, sizeof csv_dir, "%.*s-tables", (int)len, o.out);
        o.csv_dir = csv_dir;
    }
    if (!o.key)
        return make_report(cmd, &o, NULL);
    wye_party *party = NULL;
    int rc = wye_party_load(o.key, &party);
    if (rc) {
        char what[4200];
        snprintf(what, sizeof what, "cannot load key '%s'", o.key);
        return wye_cli_fail(cmd, what, rc);
    }
    wye_cli_audit au;
    wye_cli_audit_start(&au, "report");
    int status = make_report(cmd, &o, &au);
    status = wye_cli_audit_finish(cmd, &au, wye_cli_audit_path(o.log), party, WYE_OK, status);
    wye_party_free(party);
    return status;
}
