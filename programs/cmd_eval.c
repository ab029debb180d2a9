/* wyelink eval: pairwise precision, recall and F1 of a linkage against the
 * ground truth, and the predicted and true numbers of unique persons. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "wyelink/eval.h"
#include "wyelink/io.h"

#define MAX_MAPS 64

static void usage(void)
{
    printf("usage: wyelink eval --persons FILE --truth FILE --local-map AGENCY=FILE ...\n"
           "                    [--json FILE] [--quiet] [--key FILE [--audit-log FILE]]\n"
           "\n"
           "Scores a linkage against the ground truth: pairwise precision, recall and F1\n"
           "over all pairs of records, within and across agencies, and the predicted and\n"
           "true numbers of unique persons. Only counts are printed, never a value.\n"
           "\n"
           "  --persons FILE           persons.csv from wyelink link (agency,record,person)\n"
           "  --truth FILE             truth.csv from wyelink synth (agency,local_id,person)\n"
           "  --local-map AGENCY=FILE  an agency's local map from wyelink hash\n"
           "                           (local_id,record); once per agency. Only the\n"
           "                           agencies given are evaluated\n"
           "  --json FILE              also write the result as JSON\n"
           "  --quiet                  print nothing on success (with --json)\n"
           "  --key FILE               a party's key (the linkage unit's): append an audit\n"
           "                           entry signed with it (inputs and outputs with their\n"
           "                           digests, the counts); without it no entry is written\n"
           "  --audit-log FILE         with --key: the audit log to append to (default\n"
           "                           $WYELINK_AUDIT_LOG or wyelink-audit.log)\n"
           "  -h, --help               this help\n"
           "\n"
           "precision = correct pairs / predicted pairs (1 if none predicted), recall =\n"
           "correct pairs / true pairs (1 if none), F1 their harmonic mean. A truth row the\n"
           "hashing client did not encode, or a record missing from persons.csv, counts as\n"
           "a person of its own.\n"
           "\n" WYE_CLI_EXIT_HELP);
}

static int read_one(const char *cmd, const char *path, wye_eval *e, int kind, const char *agency,
                    wye_cli_audit *au)
{
    FILE *f = fopen(path, "rb");
    char what[1100];
    snprintf(what, sizeof what, "cannot open '%s'", path);
    if (!f)
        return wye_cli_fail(cmd, what, WYE_EIO);
    wye_diag d;
    wye_diag_clear(&d);
    int rc = kind == 0   ? wye_eval_read_truth(e, wye_source_file(f), &d)
             : kind == 1 ? wye_eval_read_local_map(e, agency, wye_source_file(f), &d)
                         : wye_eval_read_persons(e, wye_source_file(f), &d);
    fclose(f);
    if (rc) {
        snprintf(what, sizeof what, "in '%s'", path);
        return wye_cli_fail_diag(cmd, what, rc, &d);
    }
    if (au)
        wye_cli_audit_input(au, path);
    return WYE_EXIT_OK;
}

/* The result's counts by name, as the JSON and the audit entry give them. */
#define NCOUNTS 12
typedef struct named_count {
    const char *k;
    uint64_t v;
} named_count;

static void result_counts(const wye_eval_result *r, named_count out[NCOUNTS])
{
    const named_count c[NCOUNTS] = {
        {"records", r->records},
        {"true_persons", r->true_persons},
        {"predicted_persons", r->predicted_persons},
        {"true_pairs", r->true_pairs},
        {"predicted_pairs", r->predicted_pairs},
        {"correct_pairs", r->correct_pairs},
        {"not_encoded", r->not_encoded},
        {"not_linked", r->not_linked},
        {"map_rows_unknown", r->map_rows_unknown},
        {"person_rows_unknown", r->person_rows_unknown},
        {"person_rows_ignored", r->person_rows_ignored},
        {"truth_rows_ignored", r->truth_rows_ignored},
    };
    memcpy(out, c, sizeof c);
}

static int write_json(const char *cmd, const char *path, const wye_eval_result *r)
{
    json_t *o = json_object();
    if (!o)
        return wye_cli_fail(cmd, "cannot build the JSON result", WYE_ENOMEM);
    named_count counts[NCOUNTS];
    result_counts(r, counts);
    int bad = 0;
    for (size_t i = 0; i < NCOUNTS; i++)
        bad |= json_object_set_new(o, counts[i].k, json_integer((json_int_t)counts[i].v));
    bad |= json_object_set_new(o, "precision", json_real(r->precision));
    bad |= json_object_set_new(o, "recall", json_real(r->recall));
    bad |= json_object_set_new(o, "f1", json_real(r->f1));
    char *text = bad ? NULL : json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                                                JSON_REAL_PRECISION(10));
    json_decref(o);
    if (!text)
        return wye_cli_fail(cmd, "cannot build the JSON result", WYE_ENOMEM);
    wye_atomic *a = NULL;
    int rc = wye_atomic_open(path, 0600, 0, &a);
    if (!rc) {
        FILE *f = wye_atomic_file(a);
        if (fputs(text, f) == EOF || fputc('\n', f) == EOF) {
            wye_atomic_abort(a);
            rc = WYE_EIO;
        } else {
            rc = wye_atomic_commit(a);
        }
    }
    free(text);
    if (rc) {
        char what[1100];
        snprintf(what, sizeof what, "cannot write '%s'", path);
        return wye_cli_fail(cmd, what, rc);
    }
    return WYE_EXIT_OK;
}

/* Read the inputs, score, print and write the JSON; au (or NULL) is the
 * audit entry being built. */
static int evaluate(const char *cmd, const char *persons, const char *truth, int nmaps,
                    const char *const *map_agency, const char *const *map_path, const char *json,
                    bool quiet, wye_cli_audit *au)
{
    wye_eval *e = NULL;
    int rc = wye_eval_new(&e);
    if (rc)
        return wye_cli_fail(cmd, "cannot start", rc);
    int status = read_one(cmd, truth, e, 0, NULL, au);
    for (int i = 0; i < nmaps && !status; i++)
        status = read_one(cmd, map_path[i], e, 1, map_agency[i], au);
    if (!status)
        status = read_one(cmd, persons, e, 2, NULL, au);
    wye_eval_result r;
    if (!status && (rc = wye_eval_compute(e, &r)))
        status = wye_cli_fail(cmd, "cannot compute the result", rc);
    wye_eval_free(e);
    if (status)
        return status;

    if (r.map_rows_unknown)
        wye_cli_note(cmd, "warning: %llu local-map rows are not in the truth (wrong truth or map?)",
                     (unsigned long long)r.map_rows_unknown);
    if (r.person_rows_unknown)
        wye_cli_note(cmd, "warning: %llu persons rows name a record that no local map has",
                     (unsigned long long)r.person_rows_unknown);
    if (!quiet) {
        printf("evaluation against the ground truth (all pairs, within and across agencies)\n");
        printf("  records evaluated   %12llu  (%d agencies)\n", (unsigned long long)r.records,
               nmaps);
        printf("  true persons        %12llu\n", (unsigned long long)r.true_persons);
        printf("  predicted persons   %12llu\n", (unsigned long long)r.predicted_persons);
        printf("  true pairs          %12llu\n", (unsigned long long)r.true_pairs);
        printf("  predicted pairs     %12llu\n", (unsigned long long)r.predicted_pairs);
        printf("  correct pairs       %12llu\n", (unsigned long long)r.correct_pairs);
        printf("  precision           %12.4f\n", r.precision);
        printf("  recall              %12.4f\n", r.recall);
        printf("  F1                  %12.4f\n", r.f1);
        if (r.not_encoded)
            printf("  not encoded         %12llu  (rows the hashing client did not encode; "
                   "each counted as its own person)\n",
                   (unsigned long long)r.not_encoded);
        if (r.not_linked)
            printf("  not in persons.csv  %12llu  (each counted as its own person)\n",
                   (unsigned long long)r.not_linked);
        if (r.truth_rows_ignored)
            printf("  truth rows skipped  %12llu  (agencies without --local-map)\n",
                   (unsigned long long)r.truth_rows_ignored);
        if (r.person_rows_ignored)
            printf("  persons rows skipped%12llu  (agencies without --local-map)\n",
                   (unsigned long long)r.person_rows_ignored);
    }
    if (au) {
        named_count counts[NCOUNTS];
        result_counts(&r, counts);
        for (size_t i = 0; i < NCOUNTS; i++)
            wye_cli_audit_count(au, counts[i].k, counts[i].v);
        char f1[32];
        snprintf(f1, sizeof f1, "%.4f", r.f1);
        wye_cli_audit_param(au, "f1", f1);
    }
    if (json) {
        int st = write_json(cmd, json, &r);
        if (st == WYE_EXIT_OK && au)
            wye_cli_audit_output(au, json);
        return st;
    }
    return WYE_EXIT_OK;
}

int wye_cmd_eval(int argc, char **argv)
{
    const char *cmd = "eval";
    const char *persons = NULL, *truth = NULL, *json = NULL, *key = NULL, *log = NULL;
    const char *map_agency[MAX_MAPS], *map_path[MAX_MAPS];
    char map_names[MAX_MAPS][128];
    int nmaps = 0;
    bool quiet = false;
    static const struct option opts[] = {
        {"persons", required_argument, 0, 'p'}, {"truth", required_argument, 0, 't'},
        {"local-map", required_argument, 0, 'm'}, {"json", required_argument, 0, 'j'},
        {"quiet", no_argument, 0, 'q'},         {"help", no_argument, 0, 'h'},
        {"key", required_argument, 0, 'k'},     {"audit-log", required_argument, 0, 'a'},
        {0, 0, 0, 0},
    };
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "hq", opts, NULL)) != -1;) {
        switch (c) {
        case 'p': persons = optarg; break;
        case 't': truth = optarg; break;
        case 'j': json = optarg; break;
        case 'q': quiet = true; break;
        case 'k': key = optarg; break;
        case 'a': log = optarg; break;
        case 'm': {
            const char *eq = strchr(optarg, '=');
            size_t len = eq ? (size_t)(eq - optarg) : 0;
            if (!eq || !len || !eq[1] || len >= sizeof map_names[0])
                return wye_cli_usage_error(cmd, "--local-map wants AGENCY=FILE");
            if (nmaps == MAX_MAPS)
                return wye_cli_usage_error(cmd, "at most %d --local-map options", MAX_MAPS);
            memcpy(map_names[nmaps], optarg, len);
            map_names[nmaps][len] = '\0';
            for (int i = 0; i < nmaps; i++)
                if (!strcmp(map_names[i], map_names[nmaps]))
                    return wye_cli_usage_error(cmd, "--local-map names agency '%s' twice",
                                               map_names[nmaps]);
            map_agency[nmaps] = map_names[nmaps];
            map_path[nmaps] = eq + 1;
            nmaps++;
            break;
        }
        case 'h': usage(); return WYE_EXIT_OK;
        default: return wye_cli_bad_option(cmd, argv);
        }
    }
    if (optind < argc)
        return wye_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!persons || !truth || !nmaps)
        return wye_cli_usage_error(cmd, "--persons, --truth and at least one --local-map are "
                                        "required");
    if (log && !key)
        return wye_cli_usage_error(cmd, "--audit-log needs --key (the key that signs the entry)");
    if (!key)
        return evaluate(cmd, persons, truth, nmaps, map_agency, map_path, json, quiet, NULL);

    /* Audited: the entry records the run whatever its outcome. */
    wye_party *party = NULL;
    int rc = wye_party_load(key, &party);
    if (rc) {
        char what[1100];
        snprintf(what, sizeof what, "cannot load key '%s'", key);
        return wye_cli_fail(cmd, what, rc);
    }
    wye_cli_audit au;
    wye_cli_audit_start(&au, "eval");
    int status = evaluate(cmd, persons, truth, nmaps, map_agency, map_path, json, quiet, &au);
    status = wye_cli_audit_finish(cmd, &au, wye_cli_audit_path(log), party, WYE_OK, status);
    wye_party_free(party);
    return status;
}


