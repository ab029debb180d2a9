/* wyelink synth: synthetic extracts of seven agencies, their column maps and
 * the ground truth, in one folder. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "commands.h"
#include "wyelink/io.h"
#include "wyelink/synth.h"

static void usage(void)
{
    printf("usage: wyelink synth --out DIR [--seed N] [--scale F] [--agencies LIST]\n"
           "                     [--extract-date YYYY-MM-DD] [--error-level F]\n"
           "                     [--threads N] [--quiet]\n"
           "\n"
           "Generates a synthetic population of domestic-abuse victims and the extracts\n"
           "that seven agencies hold of them, each in the agency's own CSV layout, with\n"
           "errors at rates that differ by agency. At scale 1 (one county's year): police\n"
           "about 2,000 records, GP 1,400, ASC 310, WMWA 1,100, MARAC 230, IDVA 190,\n"
           "housing 180. Writes into DIR (created if missing):\n"
           "  AGENCY.csv        the extract (police, gp, asc, wmwa, marac, idva, housing)\n"
           "  AGENCY.map.json   its column map, for wyelink hash --map\n"
           "  truth.csv         agency,local_id,person: which rows are one person\n"
           "The same options give the same bytes.\n"
           "\n"
           "  --out DIR                 output folder\n"
           "  --seed N                  random seed (default 1)\n"
           "  --scale F                 1 = one county's year; records grow linearly\n"
           "                            (default 1; 1850 gives about 10 million records)\n"
           "  --agencies LIST           comma-separated agencies to write (default all)\n"
           "  --extract-date YYYY-MM-DD the date the extracts were taken (default\n"
           "                            2023-03-31); ages and two-digit years are relative\n"
           "                            to it: pass the same date to wyelink hash\n"
           "  --error-level F           multiplies every error rate: 0 = clean records,\n"
           "                            1 = realistic (default), up to 5\n"
           "  --threads N               threads (0 = all cores, the default); the output\n"
           "                            is the same for any number\n"
           "  --quiet                   no progress bar and no summary\n"
           "  -h, --help                this help\n"
           "\n" WYE_CLI_EXIT_HELP);
}

typedef struct progress_ctx {
    wye_progress *bar;
    uint64_t before;
} progress_ctx;

static void on_progress(void *ctx, uint64_t rows)
{
    progress_ctx *p = ctx;
    wye_progress_update(p->bar, p->before + rows);
}

static int parse_date(const char *s, uint32_t *out)
{
    unsigned y, m, d;
    int n = 0;
    if (strlen(s) != 10 || sscanf(s, "%4u-%2u-%2u%n", &y, &m, &d, &n) != 3 || n != 10 ||
        s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    *out = y * 10000 + m * 100 + d;
    return 0;
}

int wye_cmd_synth(int argc, char **argv)
{
    const char *cmd = "synth";
    const char *outdir = NULL, *agencies = NULL;
    bool quiet = false;
    wye_synth_settings set;
    wye_synth_default_settings(&set);
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},          {"seed", required_argument, 0, 's'},
        {"scale", required_argument, 0, 'S'},        {"agencies", required_argument, 0, 'a'},
        {"extract-date", required_argument, 0, 'd'}, {"error-level", required_argument, 0, 'e'},
        {"threads", required_argument, 0, 't'},      {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},               {0, 0, 0, 0},
    };
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "ho:q", opts, NULL)) != -1;) {
        uint64_t u;
        switch (c) {
        case 'o': outdir = optarg; break;
        case 's':
            if (wye_cli_parse_u64(cmd, "--seed", optarg, 0, UINT64_MAX, &u))
                return WYE_EXIT_USAGE;
            set.seed = u;
            break;
        case 'S':
            if (wye_cli_parse_double(cmd, "--scale", optarg, 0.001, WYE_SYNTH_MAX_SCALE,
                                     &set.scale))
                return WYE_EXIT_USAGE;
            break;
        case 'a': agencies = optarg; break;
        case 'd':
            if (parse_date(optarg, &set.extract_date))
                return wye_cli_usage_error(cmd, "--extract-date must be YYYY-MM-DD");
            break;
        case 'e':
            if (wye_cli_parse_double(cmd, "--error-level", optarg, 0,
                                     WYE_SYNTH_MAX_ERROR_LEVEL, &set.error_level))
                return WYE_EXIT_USAGE;
            break;
        case 't':
            if (wye_cli_parse_u64(cmd, "--threads", optarg, 0, 1024, &u))
                return WYE_EXIT_USAGE;
            set.threads = (unsigned)u;
            break;
        case 'q': quiet = true; break;
        case 'h': usage(); return WYE_EXIT_OK;
        default: return wye_cli_bad_option(cmd, argv);
        }
    }
    if (optind < argc)
        return wye_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!outdir)
        return wye_cli_usage_error(cmd, "--out DIR is required");

    unsigned mask = agencies ? 0 : WYE_SYNTH_ALL_AGENCIES;
    if (agencies) {
        char list[256];
        if (strlen(agencies) >= sizeof list)
            return wye_cli_usage_error(cmd, "--agencies list is too long");
        strcpy(list, agencies);
        for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            int a = wye_synth_agency_index(tok);
            if (a < 0)
                return wye_cli_usage_error(cmd,
                                           "unknown agency '%s' in --agencies (known: police, "
                                           "gp, asc, wmwa, marac, idva, housing)",
                                           tok);
            mask |= 1u << a;
        }
        if (!mask)
            return wye_cli_usage_error(cmd, "--agencies names no agency");
    }

    wye_synth *g = NULL;
    int rc = wye_synth_new(&set, &g);
    if (rc == WYE_ERANGE) /* the other settings were range-checked above */
        return wye_cli_usage_error(cmd, "--extract-date is out of range (years 1950-2100)");
    if (rc)
        return wye_cli_fail(cmd, "cannot set up the generator", rc);

    size_t plen = strlen(outdir) + 32;
    char *path = malloc(plen);
    if (!path) {
        wye_synth_free(g);
        return wye_cli_fail(cmd, "cannot allocate memory", WYE_ENOMEM);
    }
    struct stat st;
    bool made = mkdir(outdir, 0700) == 0;
    if ((!made && errno != EEXIST) || stat(outdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        if (!made && errno == EEXIST)
            errno = ENOTDIR;
        snprintf(path, plen, "cannot create the folder '%s'", outdir);
        rc = wye_cli_fail(cmd, path, WYE_EIO);
        free(path);
        wye_synth_free(g);
        return rc;
    }
    wye_atomic *truth = NULL, *csv = NULL;
    uint64_t rows[WYE_SYNTH_NAGENCIES] = {0}, total = 0;
    double expected = 0;
    for (unsigned a = 0; a < WYE_SYNTH_NAGENCIES; a++)
        if (mask & (1u << a))
            expected += wye_synth_expected_records(g, a);
    wye_progress bar;
    wye_progress_start(&bar, "generating", (uint64_t)expected, 200000, quiet);
    progress_ctx pc = {&bar, 0};
    char what[1100];
    snprintf(path, plen, "%s/truth.csv", outdir);
    snprintf(what, sizeof what, "cannot write '%s'", path);
    if ((rc = wye_atomic_open(path, 0600, 0, &truth)))
        goto fail;
    wye_sink ts = wye_sink_file(wye_atomic_file(truth));
    if ((rc = ts.write(ts.ctx, WYE_SYNTH_TRUTH_HEADER, strlen(WYE_SYNTH_TRUTH_HEADER))))
        goto fail;
    for (unsigned a = 0; a < WYE_SYNTH_NAGENCIES; a++) {
        if (!(mask & (1u << a)))
            continue;
        const char *name = wye_synth_agency_name(a);
        snprintf(path, plen, "%s/%s.csv", outdir, name);
        snprintf(what, sizeof what, "cannot write '%s'", path);
        if ((rc = wye_atomic_open(path, 0600, 0, &csv)))
            goto fail;
        rc = wye_synth_write_agency(g, a, wye_sink_file(wye_atomic_file(csv)), ts,
                                    on_progress, &pc, &rows[a]);
        if (rc)
            goto fail;
        rc = wye_atomic_commit(csv);
        csv = NULL;
        if (rc)
            goto fail;
        pc.before += rows[a];
        total += rows[a];

        char *json = NULL;
        size_t len = 0;
        snprintf(path, plen, "%s/%s.map.json", outdir, name);
        snprintf(what, sizeof what, "cannot write '%s'", path);
        if ((rc = wye_synth_column_map(a, &json, &len)))
            goto fail;
        wye_atomic *m = NULL;
        if ((rc = wye_atomic_open(path, 0600, 0, &m))) {
            free(json);
            goto fail;
        }
        wye_sink ms = wye_sink_file(wye_atomic_file(m));
        rc = ms.write(ms.ctx, json, len);
        free(json);
        if (rc) {
            wye_atomic_abort(m);
            goto fail;
        }
        if ((rc = wye_atomic_commit(m)))
            goto fail;
    }
    snprintf(path, plen, "%s/truth.csv", outdir);
    snprintf(what, sizeof what, "cannot write '%s'", path);
    rc = wye_atomic_commit(truth);
    truth = NULL;
    if (rc)
        goto fail;
    wye_progress_end(&bar);

    if (!quiet) {
        printf("synthetic extracts in %s: %llu persons, %llu records\n", outdir,
               (unsigned long long)wye_synth_persons(g), (unsigned long long)total);
        for (unsigned a = 0; a < WYE_SYNTH_NAGENCIES; a++)
            if (mask & (1u << a))
                printf("  %-8s %10llu rows  %s.csv, %s.map.json\n", wye_synth_agency_name(a),
                       (unsigned long long)rows[a], wye_synth_agency_name(a),
                       wye_synth_agency_name(a));
        printf("  %-8s %10llu rows  truth.csv\n", "truth", (unsigned long long)total);
    }
    free(path);
    wye_synth_free(g);
    return WYE_EXIT_OK;

fail:
    wye_progress_end(&bar);
    wye_atomic_abort(csv);
    wye_atomic_abort(truth);
    free(path);
    wye_synth_free(g);
    return wye_cli_fail(cmd, what, rc);
}
