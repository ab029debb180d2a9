/* wyelink audit: verify, show and trace audit logs (protocols/AUDIT.md).
 *
 * verify proves a log intact with the library's verifier; show and trace read
 * the documented line format directly (jansson), as any IG tool could. */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "wyelink/audit.h"
#include "wyelink/io.h"
#include "wyelink/keys.h"

#define LOG_LINE_MAX ((size_t)1 << 20)
#define SHORT_DIGEST 12

static const char top_usage[] =
    "usage: wyelink audit <subcommand> [options]\n"
    "\n"
    "Information Governance's view of the signed, hash-chained audit logs that\n"
    "every wyelink run appends to (format: protocols/AUDIT.md).\n"
    "\n"
    "subcommands:\n"
    "   verify LOG --signer PARTY.pub   prove a log untampered; name the first bad entry\n"
    "   show LOG [filters] [--json]     a timeline of who ran what, with which files\n"
    "   trace --linkage LOG --agency LOG...\n"
    "                                   match each encoded file a linkage used to the\n"
    "                                   agency run that produced it\n"
    "\n"
    "Run 'wyelink audit <subcommand> --help' for its options.\n"
    "\n" WYE_CLI_EXIT_HELP;

static const char verify_usage[] =
    "usage: wyelink audit verify LOG --signer PARTY.pub\n"
    "\n"
    "Check every entry of LOG: its signature by the party whose public file is\n"
    "given, its sequence number and its link to the entry before. Detects an\n"
    "edited, deleted, inserted or reordered entry (naming the first bad line) and\n"
    "a truncated tail (an interrupted write or a cut log: the entries before it\n"
    "still verify). Prints the number of entries and the last entry's hash:\n"
    "keep them to notice later if whole entries are removed from the end.\n"
    "\n"
    "options:\n"
    "  --signer FILE   the party's public key file (.pub); required\n"
    "  -h, --help      this help\n"
    "\n"
    "Exit status: 0 the log is intact, 1 it is not (or cannot be read; the\n"
    "message says what and why), 2 misuse (bad or missing option).\n";

static const char show_usage[] =
    "usage: wyelink audit show LOG [--since DATE] [--until DATE] [--command C]\n"
    "                              [--party P] [--json]\n"
    "\n"
    "A timeline of the entries in LOG, one row each: sequence number, UTC time,\n"
    "party, command, input and output files by the first 12 hex digits of their\n"
    "BLAKE2b digest, counts and outcome. show does not verify the log: run\n"
    "'wyelink audit verify' for that. Lines that are not entries are listed as such.\n"
    "\n"
    "options:\n"
    "  --since DATE    only entries at or after DATE (YYYY-MM-DD, a whole UTC day,\n"
    "                  or YYYY-MM-DDTHH:MM:SSZ)\n"
    "  --until DATE    only entries at or before DATE (same forms; a day is inclusive)\n"
    "  --command C     only entries of command C (e.g. hash, link, 'keys create')\n"
    "  --party P       only entries signed by party P (its name)\n"
    "  --json          print the matching entries as JSON lines, unchanged\n"
    "  -h, --help      this help\n"
    "\n" WYE_CLI_EXIT_HELP;

static const char trace_usage[] =
    "usage: wyelink audit trace --linkage LOG --agency LOG [--agency LOG]...\n"
    "\n"
    "For every 'link' entry in the linkage unit's log and each encoded file it\n"
    "read (a path ending in .wye, or a file some agency entry wrote), find the\n"
    "successful agency entry that wrote a file with the same BLAKE2b digest.\n"
    "Flags NO PRODUCER (no agency run wrote those bytes), OTHER PROTOCOL (written\n"
    "under another protocol fingerprint than the linkage used) and OTHER KEY ID\n"
    "(another linkage secret). Each log must also be consistent on its own\n"
    "(entries chained and signed by the key they name); proving whose key that is\n"
    "is 'wyelink audit verify'.\n"
    "\n"
    "options:\n"
    "  --linkage LOG   the linkage unit's audit log; required\n"
    "  --agency LOG    an agency's audit log; at least one, repeatable\n"
    "  -h, --help      this help\n"
    "\n"
    "Exit status: 0 every encoded input traced to its producer, 1 something was\n"
    "flagged (or a log cannot be read; the message says what and why),\n"
    "2 misuse (bad or missing option).\n";

/* ---- reading logs --------------------------------------------------------- */

/* A source over a file that also hashes each complete line, so verify can
 * print the last entry's hash without reading the log twice. */
typedef struct hashing_file {
    FILE *f;
    crypto_generichash_state line;
    uint8_t last[crypto_generichash_BYTES];
    bool have_last;
} hashing_file;

static ssize_t hashing_read(void *ctx, void *buf, size_t n)
{
    hashing_file *h = ctx;
    size_t got = fread(buf, 1, n, h->f);
    if (got == 0 && ferror(h->f))
        return WYE_EIO;
    const unsigned char *p = buf, *end = p + got;
    while (p < end) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
        const unsigned char *stop = nl ? nl : end;
        crypto_generichash_update(&h->line, p, (size_t)(stop - p));
        if (!nl)
            break;
        crypto_generichash_final(&h->line, h->last, sizeof h->last);
        crypto_generichash_init(&h->line, NULL, 0, sizeof h->last);
        h->have_last = true;
        p = nl + 1;
    }
    return (ssize_t)got;
}

/* Verify path against pk. Returns WYE_OK / WYE_EAUDIT with res filled, or
 * another error (the log cannot be read). */
static int verify_file(const char *path, const uint8_t pk[WYE_SIGN_PK_BYTES],
                       wye_audit_result *res, uint8_t last[crypto_generichash_BYTES],
                       bool *have_last)
{
    hashing_file h = {.f = fopen(path, "rb")};
    if (!h.f)
        return errno == ENOENT ? WYE_ENOTFOUND : WYE_EIO;
    crypto_generichash_init(&h.line, NULL, 0, sizeof h.last);
    int rc = wye_audit_verify((wye_source){hashing_read, &h}, pk, res);
    fclose(h.f);
    if (last)
        memcpy(last, h.last, sizeof h.last);
    if (have_last)
        *have_last = h.have_last;
    return rc;
}

typedef struct log_line {
    uint64_t line;
    char *raw; /* the line as read, without its newline */
    json_t *o; /* NULL if the line is not an entry */
} log_line;

typedef struct audit_log {
    const char *path;
    log_line *lines;
    size_t n;
} audit_log;

static void log_free(audit_log *l)
{
    for (size_t i = 0; i < l->n; i++) {
        json_decref(l->lines[i].o);
        free(l->lines[i].raw);
    }
    free(l->lines);
    l->lines = NULL;
    l->n = 0;
}

/* Every line of the log, parsed; a line that is not a JSON object with the
 * members show and trace use is kept with o == NULL. */
static int log_load(const char *path, audit_log *l)
{
    memset(l, 0, sizeof *l);
    l->path = path;
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? WYE_ENOTFOUND : WYE_EIO;
    char *buf = NULL;
    size_t cap = 0, alloc = 0;
    ssize_t got;
    uint64_t lineno = 0;
    int rc = WYE_OK;
    while ((got = getline(&buf, &cap, f)) > 0) {
        lineno++;
        size_t len = (size_t)got;
        bool whole = buf[len - 1] == '\n';
        if (whole)
            len--;
        if (l->n == alloc) {
            size_t na = alloc ? 2 * alloc : 64;
            log_line *p = realloc(l->lines, na * sizeof *p);
            if (!p) {
                rc = WYE_ENOMEM;
                break;
            }
            l->lines = p;
            alloc = na;
        }
        json_t *o = NULL;
        if (whole && len <= LOG_LINE_MAX) {
            o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
            if (o && (!json_is_object(o) || !json_is_integer(json_object_get(o, "seq")) ||
                      !json_is_string(json_object_get(o, "time")) ||
                      !json_is_string(json_object_get(o, "command")))) {
                json_decref(o);
                o = NULL;
            }
        }
        char *raw = strndup(buf, len);
        if (!raw) {
            json_decref(o);
            rc = WYE_ENOMEM;
            break;
        }
        l->lines[l->n++] = (log_line){lineno, raw, o};
    }
    if (rc == WYE_OK && ferror(f))
        rc = WYE_EIO;
    free(buf);
    fclose(f);
    if (rc != WYE_OK)
        log_free(l);
    return rc;
}

static const char *str_at(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *or_q(const char *s) { return s ? s : "?"; }

/* ---- verify --------------------------------------------------------------- */

static int cmd_verify(int argc, char **argv)
{
    const char *cmd = "audit verify", *signer = NULL;
    static const struct option opts[] = {
        {"signer", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            signer = optarg;
            break;
        case 'h':
            fputs(verify_usage, stdout);
            return WYE_EXIT_OK;
        default:
            return wye_cli_bad_option(cmd, argv);
        }
    }
    if (optind >= argc)
        return wye_cli_usage_error(cmd, "the log to verify is missing");
    if (optind + 1 < argc)
        return wye_cli_usage_error(cmd, "one log at a time ('%s' is extra)", argv[optind + 1]);
    if (!signer)
        return wye_cli_usage_error(cmd, "option '--signer' is required");
    const char *path = argv[optind];
    int rc = wye_crypto_init();
    if (rc != WYE_OK)
        return wye_cli_fail(cmd, "cannot start libsodium", rc);
    wye_party_public pub;
    char what[1200];
    if ((rc = wye_public_load(signer, &pub)) != WYE_OK) {
        snprintf(what, sizeof what, "cannot read public key '%s'", signer);
        return wye_cli_fail(cmd, what, rc);
    }
    wye_audit_result res;
    uint8_t last[crypto_generichash_BYTES];
    bool have_last = false;
    rc = verify_file(path, pub.sign_pk, &res, last, &have_last);
    if (rc != WYE_OK && rc != WYE_EAUDIT) {
        snprintf(what, sizeof what, "cannot verify '%s'", path);
        return wye_cli_fail(cmd, what, rc);
    }
    char id[17];
    wye_public_key_id(&pub, id);
    if (rc == WYE_OK) {
        char hex[2 * crypto_generichash_BYTES + 1] = "-";
        if (have_last && res.entries)
            wye_hex(last, sizeof last, hex);
        printf("%s: intact, %llu entries signed by %s (key id %s)\nlast entry hash %s\n", path,
               (unsigned long long)res.entries, pub.name, id, hex);
        if (res.reason[0])
            printf("note: %s\n", res.reason);
        return WYE_EXIT_OK;
    }
    printf("%s: NOT INTACT: %s\n", path, res.reason);
    if (res.first_bad)
        printf("first bad line: %llu; %llu entries before it verified (signer %s, key id %s)\n",
               (unsigned long long)res.first_bad, (unsigned long long)res.entries, pub.name,
               id);
    else
        printf("truncated tail: the %llu entries before it verified (signer %s, key id %s)\n",
               (unsigned long long)res.entries, pub.name, id);
    snprintf(what, sizeof what, "'%s'", path);
    return wye_cli_fail(cmd, what, WYE_EAUDIT);
}

/* ---- show ----------------------------------------------------------------- */

/* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ" into a full UTC time string;
 * a bare day becomes its first (or, with end_of_day, last) second. */
static bool parse_when(const char *s, bool end_of_day, char out[21])
{
    static const char pat[] = "dddd-dd-ddTdd:dd:ddZ";
    size_t n = strlen(s);
    if (n != 10 && n != sizeof pat - 1)
        return false;
    for (size_t i = 0; i < n; i++)
        if (pat[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != pat[i])
            return false;
    int mon = (s[5] - '0') * 10 + (s[6] - '0'), day = (s[8] - '0') * 10 + (s[9] - '0');
    if (mon < 1 || mon > 12 || day < 1 || day > 31)
        return false;
    if (n == 10) {
        snprintf(out, 21, "%.10sT%s", s, end_of_day ? "23:59:59Z" : "00:00:00Z");
        return true;
    }
    int hh = (s[11] - '0') * 10 + (s[12] - '0'), mm = (s[14] - '0') * 10 + (s[15] - '0'),
        ss = (s[17] - '0') * 10 + (s[18] - '0');
    if (hh > 23 || mm > 59 || ss > 60)
        return false;
    memcpy(out, s, 21);
    return true;
}

/* Short digests of a file list, comma-separated, into out. */
static void files_cell(json_t *a, char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    size_t i;
    json_t *f;
    if (!json_is_array(a) || json_array_size(a) == 0) {
        snprintf(out, n, "-");
        return;
    }
    json_array_foreach(a, i, f)
    {
        const char *d = str_at(f, "blake2b", NULL);
        int w = snprintf(out + used, n - used, "%s%.*s", i ? "," : "", SHORT_DIGEST, or_q(d));
        if (w < 0 || (size_t)w >= n - used)
            break;
        used += (size_t)w;
    }
}

static void counts_cell(json_t *o, char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    const char *k;
    json_t *v;
    if (!json_is_object(o) || json_object_size(o) == 0) {
        snprintf(out, n, "-");
        return;
    }
    json_object_foreach(o, k, v)
    {
        int w = snprintf(out + used, n - used, "%s%s=%lld", used ? " " : "", k,
                         json_is_integer(v) ? (long long)json_integer_value(v) : -1LL);
        if (w < 0 || (size_t)w >= n - used)
            break;
        used += (size_t)w;
    }
}

static void outcome_cell(json_t *o, char *out, size_t n)
{
    json_t *code = json_object_get(o, "code");
    if (!json_is_integer(code)) {
        snprintf(out, n, "?");
        return;
    }
    if (json_integer_value(code) == 0)
        snprintf(out, n, "ok");
    else if (json_integer_value(code) == WYE_ECANCELLED)
        snprintf(out, n, "cancelled"); /* SIGINT or SIGTERM: not a failure of the tool */
    else
        snprintf(out, n, "error %lld: %s", (long long)json_integer_value(code),
                 or_q(str_at(o, "message", NULL)));
}

static int cmd_show(int argc, char **argv)
{
    const char *cmd = "audit show", *command = NULL, *party = NULL;
    char since[21] = "", until[21] = "";
    bool json = false;
    static const struct option opts[] = {
        {"since", required_argument, NULL, 's'}, {"until", required_argument, NULL, 'u'},
        {"command", required_argument, NULL, 'c'}, {"party", required_argument, NULL, 'p'},
        {"json", no_argument, NULL, 'j'},          {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (!parse_when(optarg, false, since))
                return wye_cli_usage_error(
                    cmd, "option '--since' takes YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
            break;
        case 'u':
            if (!parse_when(optarg, true, until))
                return wye_cli_usage_error(
                    cmd, "option '--until' takes YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
            break;
        case 'c':
            command = optarg;
            break;
        case 'p':
            party = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            fputs(show_usage, stdout);
            return WYE_EXIT_OK;
        default:
            return wye_cli_bad_option(cmd, argv);
        }
    }
    if (optind >= argc)
        return wye_cli_usage_error(cmd, "the log to show is missing");
    if (optind + 1 < argc)
        return wye_cli_usage_error(cmd, "one log at a time ('%s' is extra)", argv[optind + 1]);
    const char *path = argv[optind];
    audit_log l;
    int rc = log_load(path, &l);
    if (rc != WYE_OK) {
        char what[1100];
        snprintf(what, sizeof what, "cannot read '%s'", path);
        return wye_cli_fail(cmd, what, rc);
    }
    /* The table: cells first, then columns as wide as their widest cell. */
    enum { NCOL = 8 };
    static const char *const head[NCOL] = {"seq", "time (UTC)", "party", "command",
                                           "inputs", "outputs", "counts", "outcome"};
    char *(*rows)[NCOL] = calloc(l.n + 1, sizeof *rows);
    size_t nrows = 0, width[NCOL];
    if (!rows) {
        log_free(&l);
        return wye_cli_fail(cmd, "cannot build the table", WYE_ENOMEM);
    }
    for (int k = 0; k < NCOL; k++)
        width[k] = strlen(head[k]);
    uint64_t shown = 0, skipped = 0;
    for (size_t i = 0; i < l.n; i++) {
        json_t *o = l.lines[i].o;
        char cell[NCOL][1024];
        if (!o) {
            skipped++;
            if (json)
                wye_cli_note(cmd, "'%s' line %llu is not an entry", path,
                             (unsigned long long)l.lines[i].line);
            else {
                snprintf(cell[0], sizeof cell[0], "-");
                snprintf(cell[1], sizeof cell[1],
                         "line %llu is not an entry (damaged, or an interrupted write)",
                         (unsigned long long)l.lines[i].line);
                rows[nrows][0] = strdup(cell[0]);
                rows[nrows][1] = strdup(cell[1]);
                nrows++;
            }
            continue;
        }
        const char *t = str_at(o, "time", NULL), *cm = str_at(o, "command", NULL),
                   *pn = str_at(o, "signer", "name");
        if ((since[0] && strcmp(t, since) < 0) || (until[0] && strcmp(t, until) > 0) ||
            (command && strcmp(cm, command) != 0) || (party && (!pn || strcmp(pn, party) != 0)))
            continue;
        shown++;
        if (json) {
            puts(l.lines[i].raw);
            continue;
        }
        snprintf(cell[0], sizeof cell[0], "%lld",
                 (long long)json_integer_value(json_object_get(o, "seq")));
        snprintf(cell[1], sizeof cell[1], "%s", t);
        snprintf(cell[2], sizeof cell[2], "%s", or_q(pn));
        snprintf(cell[3], sizeof cell[3], "%s", cm);
        files_cell(json_object_get(o, "inputs"), cell[4], sizeof cell[4]);
        files_cell(json_object_get(o, "outputs"), cell[5], sizeof cell[5]);
        counts_cell(json_object_get(o, "counts"), cell[6], sizeof cell[6]);
        outcome_cell(json_object_get(o, "outcome"), cell[7], sizeof cell[7]);
        for (int k = 0; k < NCOL; k++) {
            rows[nrows][k] = strdup(cell[k]);
            if (rows[nrows][k] && strlen(cell[k]) > width[k])
                width[k] = strlen(cell[k]);
        }
        nrows++;
    }
    if (!json) {
        for (int k = 0; k < NCOL; k++)
            printf("%-*s%s", k + 1 < NCOL ? (int)width[k] : 0, head[k],
                   k + 1 < NCOL ? "  " : "\n");
        for (size_t r = 0; r < nrows; r++) {
            if (!rows[r][2]) { /* a line that is not an entry */
                printf("%-*s  %s\n", (int)width[0], or_q(rows[r][0]), or_q(rows[r][1]));
                continue;
            }
            for (int k = 0; k < NCOL; k++)
                printf("%-*s%s", k + 1 < NCOL ? (int)width[k] : 0, or_q(rows[r][k]),
                       k + 1 < NCOL ? "  " : "\n");
        }
        printf("%llu entries shown (%llu lines in the log, %llu not entries)\n",
               (unsigned long long)shown, (unsigned long long)l.n, (unsigned long long)skipped);
    }
    for (size_t r = 0; r < nrows; r++)
        for (int k = 0; k < NCOL; k++)
            free(rows[r][k]);
    free(rows);
    log_free(&l);
    return WYE_EXIT_OK;
}

/* ---- trace ---------------------------------------------------------------- */

/* Check a log on its own: chained and signed by the key its first entry
 * names. Prints a line and returns false if it is not. Entries on lines
 * before *usable_to (0 = all) may be used. */
static bool self_consistent(const char *cmd, audit_log *l, uint64_t *usable_to)
{
    *usable_to = 0;
    uint8_t pk[WYE_SIGN_PK_BYTES];
    const char *pkhex = NULL;
    for (size_t i = 0; i < l->n && !pkhex; i++)
        pkhex = l->lines[i].o ? str_at(l->lines[i].o, "signer", "pk") : NULL;
    if (!pkhex) {
        if (l->n == 0)
            return true; /* an empty log is consistent, and holds nothing */
        printf("FLAG %s: no entry in the log\n", l->path);
        return false;
    }
    size_t got = 0;
    if (sodium_hex2bin(pk, sizeof pk, pkhex, strlen(pkhex), NULL, &got, NULL) != 0 ||
        got != sizeof pk) {
        printf("FLAG %s: line 1: member 'signer' is malformed\n", l->path);
        *usable_to = 1;
        return false;
    }
    wye_audit_result res;
    int rc = verify_file(l->path, pk, &res, NULL, NULL);
    if (rc == WYE_OK)
        return true;
    if (rc != WYE_EAUDIT) {
        wye_cli_note(cmd, "cannot verify '%s': %s", l->path, wye_strerror(rc));
        *usable_to = 1;
        return false;
    }
    printf("FLAG %s: not intact: %s\n", l->path, res.reason);
    *usable_to = res.first_bad;
    return false;
}

typedef struct producer {
    const char *digest;
    const char *log;
    json_t *entry;
} producer;

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int cmd_trace(int argc, char **argv)
{
    const char *cmd = "audit trace", *linkage = NULL;
    static const struct option opts[] = {
        {"linkage", required_argument, NULL, 'l'},
        {"agency", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char **agencies = calloc((size_t)argc + 1, sizeof *agencies);
    if (!agencies)
        return wye_cli_fail(cmd, "cannot start", WYE_ENOMEM);
    size_t nag = 0;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (linkage) {
                free(agencies);
                return wye_cli_usage_error(cmd, "option '--linkage' is given twice");
            }
            linkage = optarg;
            break;
        case 'a':
            agencies[nag++] = optarg;
            break;
        case 'h':
            free(agencies);
            fputs(trace_usage, stdout);
            return WYE_EXIT_OK;
        default:
            free(agencies);
            return wye_cli_bad_option(cmd, argv);
        }
    }
    int status = WYE_EXIT_OK;
    if (optind < argc)
        status = wye_cli_usage_error(cmd, "'%s' is extra (logs go with --linkage or --agency)",
                                     argv[optind]);
    else if (!linkage)
        status = wye_cli_usage_error(cmd, "option '--linkage' is required");
    else if (nag == 0)
        status = wye_cli_usage_error(cmd, "option '--agency' is required (at least one)");
    if (status != WYE_EXIT_OK) {
        free(agencies);
        return status;
    }
    int rc = wye_crypto_init();
    if (rc != WYE_OK) {
        free(agencies);
        return wye_cli_fail(cmd, "cannot start libsodium", rc);
    }

    audit_log *logs = calloc(nag + 1, sizeof *logs);
    producer *prod = NULL;
    size_t nprod = 0, cap = 0;
    uint64_t flagged = 0, traced = 0, links = 0;
    if (!logs) {
        free(agencies);
        return wye_cli_fail(cmd, "cannot start", WYE_ENOMEM);
    }
    /* logs[0] is the linkage unit's; then the agencies'. */
    for (size_t i = 0; i <= nag; i++) {
        const char *path = i == 0 ? linkage : agencies[i - 1];
        if ((rc = log_load(path, &logs[i])) != WYE_OK) {
            char what[1100];
            snprintf(what, sizeof what, "cannot read '%s'", path);
            status = wye_cli_fail(cmd, what, rc);
            goto out;
        }
        uint64_t usable_to;
        if (!self_consistent(cmd, &logs[i], &usable_to))
            flagged++;
        if (usable_to) /* drop everything from the first bad line on */
            for (size_t k = 0; k < logs[i].n; k++)
                if (logs[i].lines[k].line >= usable_to) {
                    json_decref(logs[i].lines[k].o);
                    logs[i].lines[k].o = NULL;
                }
        if (i == 0)
            continue;
        for (size_t k = 0; k < logs[i].n; k++) {
            json_t *o = logs[i].lines[k].o;
            json_t *code = o ? json_object_get(json_object_get(o, "outcome"), "code") : NULL;
            if (!o || !json_is_integer(code) || json_integer_value(code) != 0)
                continue; /* a failed run produced nothing */
            size_t j;
            json_t *f;
            json_array_foreach(json_object_get(o, "outputs"), j, f)
            {
                const char *d = str_at(f, "blake2b", NULL);
                if (!d)
                    continue;
                if (nprod == cap) {
                    size_t nc = cap ? 2 * cap : 64;
                    producer *p = realloc(prod, nc * sizeof *p);
                    if (!p) {
                        status = wye_cli_fail(cmd, "cannot index the agency logs", WYE_ENOMEM);
                        goto out;
                    }
                    prod = p;
                    cap = nc;
                }
                prod[nprod++] = (producer){d, path, o};
            }
        }
    }

    for (size_t k = 0; k < logs[0].n; k++) {
        json_t *o = logs[0].lines[k].o;
        if (!o || strcmp(str_at(o, "command", NULL), "link") != 0)
            continue;
        links++;
        const char *lproto = str_at(o, "protocol", NULL), *lkid = str_at(o, "key_id", NULL);
        printf("link seq %lld at %s by %s (protocol %.12s):\n",
               (long long)json_integer_value(json_object_get(o, "seq")),
               str_at(o, "time", NULL), or_q(str_at(o, "signer", "name")),
               lproto ? lproto : "none");
        size_t j;
        json_t *f;
        json_array_foreach(json_object_get(o, "inputs"), j, f)
        {
            const char *path = or_q(str_at(f, "path", NULL)), *d = str_at(f, "blake2b", NULL);
            /* Prefer a producer under the linkage's protocol, then a hash run. */
            const producer *best = NULL;
            int best_score = -1;
            for (size_t p = 0; d && p < nprod; p++) {
                if (strcmp(prod[p].digest, d) != 0)
                    continue;
                int score = (same_str(str_at(prod[p].entry, "protocol", NULL), lproto) ? 2 : 0) +
                            (strcmp(str_at(prod[p].entry, "command", NULL), "hash") ? 0 : 1);
                if (score > best_score) {
                    best = &prod[p];
                    best_score = score;
                }
            }
            if (!best && !ends_with(path, ".wye")) {
                printf("  %-40s %.12s  not an encoded file (not traced)\n", path, or_q(d));
                continue;
            }
            traced++;
            if (!best) {
                printf("  %-40s %.12s  FLAG NO PRODUCER: no agency entry wrote these bytes\n",
                       path, or_q(d));
                flagged++;
                continue;
            }
            json_t *e = best->entry;
            const char *pproto = str_at(e, "protocol", NULL), *pkid = str_at(e, "key_id", NULL);
            printf("  %-40s %.12s  <- %s seq %lld %s at %s (%s)", path, d,
                   or_q(str_at(e, "signer", "name")),
                   (long long)json_integer_value(json_object_get(e, "seq")),
                   str_at(e, "command", NULL), str_at(e, "time", NULL), best->log);
            if (lproto && !same_str(pproto, lproto)) {
                printf("  FLAG OTHER PROTOCOL: written under %.12s\n", pproto ? pproto : "none");
                flagged++;
            } else if (lkid && !same_str(pkid, lkid)) {
                printf("  FLAG OTHER KEY ID: written under %s\n", pkid ? pkid : "none");
                flagged++;
            } else {
                printf("  ok\n");
            }
        }
    }
    if (links == 0)
        printf("no link entry in '%s'\n", linkage);
    printf("%llu encoded inputs traced in %llu link entries, %llu flagged\n",
           (unsigned long long)traced, (unsigned long long)links, (unsigned long long)flagged);
    status = flagged ? WYE_EXIT_FAIL : WYE_EXIT_OK;
out:
    for (size_t i = 0; i <= nag; i++)
        log_free(&logs[i]);
    free(logs);
    free(prod);
    free(agencies);
    return status;
}

/* ---- dispatch ------------------------------------------------------------- */

int wye_cmd_audit(int argc, char **argv)
{
    if (argc < 2)
        return wye_cli_usage_error(argv[0], "a subcommand is needed: verify, show or trace");
    const char *sub = argv[1];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        fputs(top_usage, stdout);
        return WYE_EXIT_OK;
    }
    if (sub[0] == '-')
        return wye_cli_usage_error(argv[0], "option '%s' is unknown (a subcommand comes first)",
                                   sub);
    if (!strcmp(sub, "verify"))
        return cmd_verify(argc - 1, argv + 1);
    if (!strcmp(sub, "show"))
        return cmd_show(argc - 1, argv + 1);
    if (!strcmp(sub, "trace"))
        return cmd_trace(argc - 1, argv + 1);
    return wye_cli_usage_error(argv[0], "'%s' is not a subcommand (verify, show, trace)", sub);
}
