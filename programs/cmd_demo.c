/* wyelink demo: every role end to end on synthetic data, in one folder.
 *
 * It runs the same command functions a person would type, in the order the
 * parties would: the key custodian, each agency, the linkage unit, then IG.
 * Each step is printed before it runs so the demo doubles as a walkthrough. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "profiles.h"
#include "wyelink/io.h"

static const char *const agencies[] = {"police", "gp", "asc", "wmwa", "marac", "idva", "housing"};
#define NAGENCIES (sizeof agencies / sizeof agencies[0])

static bool verbose;

/* Run one command function with a NULL-terminated list of arguments. */
static int run(const char *title, int (*cmd)(int, char **), ...)
{
    char *argv[64];
    int argc = 0;
    va_list ap;
    va_start(ap, cmd);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL && argc < 63;)
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    if (title)
        printf("== %s\n", title);
    if (verbose) {
        printf("   $ wyelink");
        for (int i = 0; i < argc; i++)
            printf(" %s", argv[i]);
        printf("\n");
    }
    fflush(stdout);
    optind = 0; /* full re-initialisation of getopt for the next command */
    int rc = cmd(argc, argv);
    fflush(stdout);
    return rc;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* snprintf that treats truncation as fatal: a path cut short would write
 * somewhere unintended. The demo folder name is the only variable part. */
__attribute__((format(printf, 3, 4))) static void pathf(char *buf, size_t n,
                                                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= n) {
        fprintf(stderr, "wyelink demo: the --out folder name is too long\n");
        exit(WYE_EXIT_FAIL);
    }
}

static char *cat(char *buf, size_t n, const char *a, const char *b, const char *c)
{
    pathf(buf, n, "%s%s%s", a, b, c ? c : "");
    return buf;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: wyelink demo [--out DIR] [--seed N] [--scale F] [--protocol FILE|NAME]\n"
            "                    [--verbose]\n"
            "\n"
            "Runs every role end to end on synthetic data, in DIR (default demo/):\n"
            "  1. the key custodian creates key pairs for every party and the linkage\n"
            "     secret, and seals the secret to each agency;\n"
            "  2. synthetic extracts are generated for seven agencies, with ground truth;\n"
            "  3. each agency checks its column map on its extract, opens its sealed\n"
            "     secret and hashes the extract;\n"
            "  4. the linkage unit links the encoded files into persons;\n"
            "  5. IG verifies every audit log and traces each encoded file to its producer;\n"
            "  6. the result is evaluated against the ground truth.\n"
            "\n"
            "  --out DIR        folder for everything the demo writes (created; default demo)\n"
            "  --seed N         synthetic data seed (default 1)\n"
            "  --scale F        synthetic data scale, 1 = one county's year (default 1)\n"
            "  --protocol FILE|NAME\n"
            "                   linkage protocol: a file, or a built-in profile\n"
            "                   ('wyelink protocol list'; default: %s)\n"
            "  --verbose        print each command as it runs\n"
            "\n" WYE_CLI_EXIT_HELP,
            WYE_PROTOCOL_DEFAULT);
}

int wye_cmd_demo(int argc, char **argv)
{
    const char *cmd = "demo";
    const char *out = "demo", *seed = "1", *scale = "1", *protocol = WYE_PROTOCOL_DEFAULT;
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},      {"seed", required_argument, 0, 's'},
        {"scale", required_argument, 0, 'S'},    {"protocol", required_argument, 0, 'p'},
        {"verbose", no_argument, 0, 'v'},        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    opterr = 0;
    verbose = false;
    for (int c; (c = getopt_long(argc, argv, "ho:v", opts, NULL)) != -1;) {
        uint64_t u;
        double d;
        switch (c) {
        case 'o': out = optarg; break;
        case 's':
            if (wye_cli_parse_u64(cmd, "--seed", optarg, 0, UINT32_MAX, &u))
                return WYE_EXIT_USAGE;
            seed = optarg;
            break;
        case 'S':
            if (wye_cli_parse_double(cmd, "--scale", optarg, 0.01, 10000, &d))
                return WYE_EXIT_USAGE;
            scale = optarg;
            break;
        case 'p': protocol = optarg; break;
        case 'v': verbose = true; break;
        case 'h': usage(stdout); return WYE_EXIT_OK;
        default: return wye_cli_bad_option(cmd, argv);
        }
    }
    if (optind < argc)
        return wye_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    /* Refuse a bad protocol before any key or extract is made. */
    wye_protocol *proto;
    wye_diag diag;
    int rc = wye_cli_protocol_load(protocol, &proto, &diag);
    if (rc != WYE_OK) {
        char what[256];
        snprintf(what, sizeof what, "cannot load the protocol '%s'", protocol);
        return wye_cli_fail_diag(cmd, what, rc, &diag);
    }
    wye_protocol_free(proto);

    char d_keys[512], d_data[512], d_lu[512], d_trust[512], d_res[512], p[1024], q[1024],
        r[1024], s[1024], t[1024], u[1024], v[1024];
    cat(d_keys, sizeof d_keys, out, "/keys", NULL);
    cat(d_data, sizeof d_data, out, "/data", NULL);
    cat(d_lu, sizeof d_lu, out, "/linkage-unit", NULL);
    cat(d_trust, sizeof d_trust, out, "/linkage-unit/trust", NULL);
    cat(d_res, sizeof d_res, out, "/linkage-unit/result", NULL);
    if (make_dir(out) || make_dir(d_keys) || make_dir(d_lu) || make_dir(d_trust))
        return wye_cli_fail(cmd, "cannot create the demo folders", WYE_EIO);

    /* 1. Keys. A rerun in the same folder reuses what exists. */
    printf("== 1. key custodian: key pairs for every party and the linkage secret\n");
    const char *parties[NAGENCIES + 2];
    const char *roles[NAGENCIES + 2];
    for (size_t i = 0; i < NAGENCIES; i++) {
        parties[i] = agencies[i];
        roles[i] = "agency";
    }
    parties[NAGENCIES] = "linkage-unit";
    roles[NAGENCIES] = "linkage-unit";
    parties[NAGENCIES + 1] = "custodian";
    roles[NAGENCIES + 1] = "custodian";
    for (size_t i = 0; i < NAGENCIES + 2; i++) {
        pathf(p, sizeof p, "%s/%s", d_keys, parties[i]);
        pathf(q, sizeof q, "%s/%s.key", p, parties[i]);
        /* One audit log per party: the linkage unit's lives with its results. */
        if (!strcmp(parties[i], "linkage-unit"))
            pathf(r, sizeof r, "%s/linkage-unit.audit.log", d_lu);
        else
            pathf(r, sizeof r, "%s/%s.audit.log", p, parties[i]);
        if (access(q, F_OK) == 0)
            continue;
        make_dir(p);
        if (run(NULL, wye_cmd_keys, "keys", "create", "--name", parties[i], "--role", roles[i],
                "--out", p, "--audit-log", r, (char *)NULL))
            return WYE_EXIT_FAIL;
    }
    char custodian_key[1024], custodian_pub[1024], secret[1024], cust_log[1024];
    pathf(custodian_key, sizeof custodian_key, "%s/custodian/custodian.key", d_keys);
    pathf(custodian_pub, sizeof custodian_pub, "%s/custodian/custodian.pub", d_keys);
    pathf(secret, sizeof secret, "%s/custodian/linkage.secret", d_keys);
    pathf(cust_log, sizeof cust_log, "%s/custodian/custodian.audit.log", d_keys);
    if (access(secret, F_OK) != 0 &&
        run(NULL, wye_cmd_keys, "keys", "secret", "--out", secret, "--key", custodian_key,
            "--audit-log", cust_log, (char *)NULL))
        return WYE_EXIT_FAIL;
    for (size_t i = 0; i < NAGENCIES; i++) {
        pathf(p, sizeof p, "%s/%s/%s.pub", d_keys, agencies[i], agencies[i]);
        pathf(q, sizeof q, "%s/%s/linkage.sealed", d_keys, agencies[i]);
        if (access(q, F_OK) == 0)
            continue;
        if (run(NULL, wye_cmd_keys, "keys", "seal", "--secret", secret, "--custodian-key",
                custodian_key, "--to", p, "--out", q, "--audit-log", cust_log, (char *)NULL))
            return WYE_EXIT_FAIL;
        /* The linkage unit trusts each agency's public key. */
        pathf(r, sizeof r, "%s/%s.pub", d_trust, agencies[i]);
        char *text = NULL;
        size_t len = 0;
        FILE *f;
        if (wye_read_file(p, 1 << 16, &text, &len) != WYE_OK || !(f = fopen(r, "wb")))
            return wye_cli_fail(cmd, "cannot copy a public key to the trust folder", WYE_EIO);
        fwrite(text, 1, len, f);
        fclose(f);
        free(text);
    }

    /* 2. Synthetic extracts. */
    if (run("2. synthetic extracts for seven agencies (with ground truth)", wye_cmd_synth,
            "synth", "--seed", seed, "--scale", scale, "--out", d_data, "--quiet", (char *)NULL))
        return WYE_EXIT_FAIL;

    /* 3. Each agency: check the map on the extract, open the sealed secret,
     * hash the extract. */
    printf("== 3. each agency checks its column map, opens its sealed secret and hashes its "
           "extract\n");
    char lu_pub[1024], lu_key[1024], lu_log[1024];
    pathf(lu_pub, sizeof lu_pub, "%s/linkage-unit/linkage-unit.pub", d_keys);
    pathf(lu_key, sizeof lu_key, "%s/linkage-unit/linkage-unit.key", d_keys);
    pathf(lu_log, sizeof lu_log, "%s/linkage-unit.audit.log", d_lu);
    static char wye_files[NAGENCIES][1024];
    for (size_t i = 0; i < NAGENCIES; i++) {
        const char *a = agencies[i];
        pathf(p, sizeof p, "%s/%s", d_keys, a);
        pathf(q, sizeof q, "%s/linkage.sealed", p);
        pathf(r, sizeof r, "%s/linkage.secret", p);
        pathf(s, sizeof s, "%s/%s.key", p, a);
        pathf(t, sizeof t, "%s/%s.audit.log", p, a);
        pathf(u, sizeof u, "%s/%s.csv", d_data, a);
        pathf(v, sizeof v, "%s/%s.map.json", d_data, a);
        pathf(wye_files[i], sizeof wye_files[i], "%s/%s.wye", p, a);
        char local_map[1024], summary[1024], check[1024];
        pathf(local_map, sizeof local_map, "%s/%s.local-map.csv", p, a);
        pathf(summary, sizeof summary, "%s/%s.quality.json", p, a);
        pathf(check, sizeof check, "%s/%s.map-check.json", p, a);
        printf("-- %s\n", a);
        /* The map checked on the extract first, as a data lead does before
         * any secret is sealed to them; the linkage unit is sent its summary. */
        if (run(NULL, wye_cmd_map, "map", "check", "--input", u, "--map", v, "--protocol",
                protocol, "--extract-date", "2023-03-31", "--summary-json", check, "--key", s,
                "--audit-log", t, "--quiet", (char *)NULL))
            return WYE_EXIT_FAIL;
        if (access(r, F_OK) != 0 &&
            run(NULL, wye_cmd_keys, "keys", "open", "--sealed", q, "--key", s, "--custodian",
                custodian_pub, "--out", r, "--audit-log", t, (char *)NULL))
            return WYE_EXIT_FAIL;
        if (run(NULL, wye_cmd_hash, "hash", "--input", u, "--map", v, "--protocol", protocol,
                "--secret", r, "--key", s, "--to", lu_pub, "--out", wye_files[i],
                "--local-map", local_map, "--summary-json", summary, "--extract-date",
                "2023-03-31", "--audit-log", t, (char *)NULL))
            return WYE_EXIT_FAIL;
    }

    /* 4. The linkage unit. */
    if (run("4. linkage unit links the encoded files", wye_cmd_link, "link", "--key", lu_key,
            "--trust", d_trust, "--out", d_res, "--protocol", protocol, "--audit-log", lu_log,
            wye_files[0],
            wye_files[1], wye_files[2], wye_files[3], wye_files[4], wye_files[5], wye_files[6],
            (char *)NULL))
        return WYE_EXIT_FAIL;

    /* 4b. The report the research team publishes (every count through the
     * disclosure rule), with the agencies' data-quality summaries. */
    char report[1100], qual[NAGENCIES][1100];
    pathf(report, sizeof report, "%s/report.html", d_lu);
    for (size_t i = 0; i < NAGENCIES; i++)
        pathf(qual[i], sizeof qual[i], "%s/%s/%s.quality.json", d_keys, agencies[i], agencies[i]);
    if (run("4b. linkage unit writes the report", wye_cmd_report, "report", "--result", d_res,
            "--out", report, "--quality", qual[0], "--quality", qual[1], "--quality", qual[2],
            "--quality", qual[3], "--quality", qual[4], "--quality", qual[5], "--quality",
            qual[6], "--key", lu_key, "--audit-log", lu_log, (char *)NULL))
        return WYE_EXIT_FAIL;

    /* 5. Information Governance. */
    printf("== 5. IG verifies every audit log and traces each encoded file\n");
    for (size_t i = 0; i < NAGENCIES + 2; i++) {
        pathf(p, sizeof p, "%s/%s/%s.audit.log", d_keys, parties[i], parties[i]);
        pathf(q, sizeof q, "%s/%s/%s.pub", d_keys, parties[i], parties[i]);
        if (access(p, F_OK) != 0)
            continue;
        if (run(NULL, wye_cmd_audit, "audit", "verify", p, "--signer", q, (char *)NULL))
            return WYE_EXIT_FAIL;
    }
    if (run(NULL, wye_cmd_audit, "audit", "verify", lu_log, "--signer", lu_pub, (char *)NULL))
        return WYE_EXIT_FAIL;
    char alog[NAGENCIES][1024];
    for (size_t i = 0; i < NAGENCIES; i++)
        pathf(alog[i], sizeof alog[i], "%s/%s/%s.audit.log", d_keys, agencies[i], agencies[i]);
    if (run(NULL, wye_cmd_audit, "audit", "trace", "--linkage", lu_log, "--agency", alog[0],
            "--agency", alog[1], "--agency", alog[2], "--agency", alog[3], "--agency", alog[4],
            "--agency", alog[5], "--agency", alog[6], (char *)NULL))
        return WYE_EXIT_FAIL;

    /* 6. Evaluation against the ground truth (only possible on synthetic data),
     * run and audited as the linkage unit (after IG's checks above, which it
     * does not change: an entry appended later verifies in the same way). */
    char persons[1024], truth[1024], m[NAGENCIES][1100];
    pathf(persons, sizeof persons, "%s/persons.csv", d_res);
    pathf(truth, sizeof truth, "%s/truth.csv", d_data);
    for (size_t i = 0; i < NAGENCIES; i++)
        pathf(m[i], sizeof m[i], "%s=%s/%s/%s.local-map.csv", agencies[i], d_keys,
                 agencies[i], agencies[i]);
    if (run("6. evaluation against the ground truth", wye_cmd_eval, "eval", "--persons",
            persons, "--truth", truth, "--local-map", m[0], "--local-map", m[1], "--local-map",
            m[2], "--local-map", m[3], "--local-map", m[4], "--local-map", m[5], "--local-map",
            m[6], "--key", lu_key, "--audit-log", lu_log, (char *)NULL))
        return WYE_EXIT_FAIL;
    printf("== done: everything is under %s/\n", out);
    return WYE_EXIT_OK;
}
