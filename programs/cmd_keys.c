/* wyelink keys: parties' key pairs, the linkage secret, sealing it to each
 * agency and opening it there (protocols/KEYS.md).
 *
 * Secrets are taken from files (or standard input, "-"), never from the
 * command line. Every run that holds a party key appends an audit entry
 * signed by that key; the entry names secret files by path only (never a
 * digest of one), public and sealed files by path and digest. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "wyelink/audit.h"
#include "wyelink/io.h"
#include "wyelink/keys.h"

#define AUDIT_OPT 'A'

static void usage_top(FILE *f)
{
    fprintf(f,
            "usage: wyelink keys <subcommand> [options]\n"
            "\n"
            "Key pairs for every party, and the linkage secret that only agencies hold\n"
            "(protocols/KEYS.md). Secrets are read from files (or '-' for standard input),\n"
            "never from the command line, are written with mode 0600 and never overwritten;\n"
            "a secret file that group or others can read is refused.\n"
            "\n"
            "subcommands:\n"
            "   create   make a party's key pair: NAME.key (secret) and NAME.pub (to share)\n"
            "   secret   key custodian: make the linkage secret\n"
            "   seal     key custodian: seal the linkage secret to one agency\n"
            "   open     agency: open the sealed secret from the custodian\n"
            "   show     print a key file's kind, public details and key id\n"
            "\n"
            "'wyelink keys <subcommand> --help' explains each. Every subcommand except show\n"
            "appends an entry to the audit log (--audit-log FILE, else $WYELINK_AUDIT_LOG,\n"
            "else wyelink-audit.log), signed by the party key it uses.\n"
            "\n" WYE_CLI_EXIT_HELP);
}

static const char *const usage_create =
    "usage: wyelink keys create --name NAME --role ROLE --out DIR [--audit-log FILE]\n"
    "\n"
    "Make a new key pair for a party: Ed25519 for signing, X25519 for receiving sealed\n"
    "data. Writes DIR/NAME.key (secret, mode 0600: keep it on this machine) and\n"
    "DIR/NAME.pub (public: give it to the other parties). DIR is created (0700) if\n"
    "missing; existing files are never overwritten.\n"
    "\n"
    "   --name NAME      1-63 characters of A-Z a-z 0-9 _ . - (e.g. police, gp-north)\n"
    "   --role ROLE      agency, linkage-unit or custodian\n"
    "   --out DIR        folder for the two files\n"
    "   --audit-log FILE audit log to append to (signed by the new key)\n";

static const char *const usage_secret =
    "usage: wyelink keys secret --out FILE --key CUSTODIAN.key [--audit-log FILE]\n"
    "\n"
    "Key custodian: make the linkage secret (32 random bytes) and write it to FILE\n"
    "(mode 0600, never overwritten). Prints its key id, which every encoded file made\n"
    "with it carries. The linkage unit must never receive this file.\n"
    "\n"
    "   --out FILE          the new secret file\n"
    "   --key FILE          the custodian's secret key file ('-' = standard input);\n"
    "                       signs the audit entry\n"
    "   --audit-log FILE    audit log to append to\n";

static const char *const usage_seal =
    "usage: wyelink keys seal --secret FILE --custodian-key FILE --to AGENCY.pub\n"
    "                         --out FILE [--audit-log FILE]\n"
    "\n"
    "Key custodian: seal the linkage secret to one agency's public key, signed by the\n"
    "custodian, so that only that agency can open it and it can tell who sealed it.\n"
    "The sealed file holds no secret in clear and may travel by any channel.\n"
    "\n"
    "   --secret FILE         the linkage secret ('-' = standard input)\n"
    "   --custodian-key FILE  the custodian's secret key file\n"
    "   --to FILE             the agency's public file (role agency)\n"
    "   --out FILE            the sealed file to write (never overwritten)\n"
    "   --audit-log FILE      audit log to append to (signed by the custodian)\n";

static const char *const usage_open =
    "usage: wyelink keys open --sealed FILE --key AGENCY.key --custodian CUSTODIAN.pub\n"
    "                         --out FILE [--audit-log FILE]\n"
    "\n"
    "Agency: open the sealed linkage secret with the agency's key, check that the\n"
    "custodian sealed it, and write the secret to FILE (mode 0600, never overwritten).\n"
    "Refused if the file was sealed to another party, or if the signature is not the\n"
    "custodian's.\n"
    "\n"
    "   --sealed FILE      the sealed file from the custodian\n"
    "   --key FILE         the agency's secret key file ('-' = standard input)\n"
    "   --custodian FILE   the custodian's public file\n"
    "   --out FILE         where to write the opened secret\n"
    "   --audit-log FILE   audit log to append to (signed by the agency)\n";

static const char *const usage_show =
    "usage: wyelink keys show FILE\n"
    "\n"
    "Print what FILE is (party secret key, party public key, linkage secret, sealed\n"
    "secret) with its public details: name, role, public keys, the public key's short\n"
    "id, the linkage secret's key id. Never prints secret bytes. A secret file is\n"
    "refused, like everywhere else, if group or others can read it.\n";

static void usage_sub(FILE *f, const char *text)
{
    fprintf(f, "%s\n" WYE_CLI_EXIT_HELP, text);
}

/* ---- shared helpers ----------------------------------------------------- */

static int fail_file(const char *cmd, const char *verb, const char *path, int rc)
{
    char what[1200];
    snprintf(what, sizeof what, "%s '%s'", verb, wye_cli_path_shown(path));
    return wye_cli_fail(cmd, what, rc);
}

static int load_party(const char *cmd, const char *path, const char *want_role, wye_party **out)
{
    errno = 0;
    int rc = wye_party_load(path, out);
    if (rc != WYE_OK)
        return fail_file(cmd, "cannot load the key", path, rc);
    const wye_party_public *p = wye_party_public_part(*out);
    if (want_role && strcmp(p->role, want_role) != 0) {
        fprintf(stderr, "wyelink %s: '%s' has role '%s', not '%s'\n", cmd,
                wye_cli_path_shown(path), p->role, want_role);
        wye_party_free(*out);
        *out = NULL;
        return WYE_EXIT_FAIL;
    }
    return WYE_EXIT_OK;
}

static int load_public(const char *cmd, const char *path, const char *want_role,
                       wye_party_public *out)
{
    errno = 0;
    int rc = wye_public_load(path, out);
    if (rc != WYE_OK)
        return fail_file(cmd, "cannot load the public key", path, rc);
    if (want_role && strcmp(out->role, want_role) != 0) {
        fprintf(stderr, "wyelink %s: '%s' has role '%s', not '%s'\n", cmd,
                wye_cli_path_shown(path), out->role, want_role);
        return WYE_EXIT_FAIL;
    }
    return WYE_EXIT_OK;
}

/* The linkage secret's key id, as a parameter of the entry. */
static void audit_key_id(wye_cli_audit *a, const wye_secret *s)
{
    uint8_t id[WYE_KEY_ID_BYTES];
    char hex[2 * WYE_KEY_ID_BYTES + 1];
    wye_secret_key_id(s, id);
    wye_hex(id, sizeof id, hex);
    wye_cli_audit_param(a, "key_id", hex);
}

/* getopt_long over a subcommand's argv; options are the usual, plus --help
 * and --audit-log. */
#define COMMON_OPTS                                                            \
    {"help", no_argument, NULL, 'h'}, {"audit-log", required_argument, NULL, AUDIT_OPT}

/* Parse a subcommand whose first n options (opts[0..n)) all take a value and
 * are all required, followed by COMMON_OPTS. values[i] receives opts[i]'s
 * value. Returns -1 to go on, or the exit status when --help was asked for or
 * the command line is wrong (reported, naming the option). */
static int parse_required(const char *cmd, int argc, char **argv, const struct option *opts,
                          size_t n, const char *shortopts, const char *usage,
                          const char *required, const char **values, const char **log)
{
    for (size_t i = 0; i < n; i++)
        values[i] = NULL;
    *log = NULL;
    optind = 0;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1;) {
        if (c == 'h') {
            usage_sub(stdout, usage);
            return WYE_EXIT_OK;
        }
        if (c == AUDIT_OPT) {
            *log = optarg;
            continue;
        }
        size_t i = 0;
        while (i < n && opts[i].val != c)
            i++;
        if (i == n)
            return wye_cli_bad_option(cmd, argv);
        values[i] = optarg;
    }
    if (optind < argc)
        return wye_cli_usage_error(cmd, "unexpected argument '%s'",
                                   wye_cli_path_shown(argv[optind]));
    for (size_t i = 0; i < n; i++)
        if (!values[i])
            return wye_cli_usage_error(cmd, "%s", required);
    return -1;
}

/* Before the work: the audit log must not be one of the inputs (it is
 * appended to; inputs are never modified) and must take signer's entry. */
static int audit_guard(const char *cmd, const char *log, const wye_party *signer,
                       const char *const *inputs, size_t n)
{
    const char *path = wye_cli_audit_path(log);
    int st = wye_cli_refuse_same_file(cmd, log ? "--audit-log" : "the audit log", path,
                                      inputs, n);
    return st != WYE_EXIT_OK ? st : wye_cli_audit_precheck(cmd, path, signer);
}

static int join(char *out, size_t n, const char *dir, const char *name, const char *ext)
{
    int w = snprintf(out, n, "%s/%s%s", dir, name, ext);
    return w > 0 && (size_t)w < n;
}

/* ---- create ------------------------------------------------------------- */

static int cmd_create(int argc, char **argv)
{
    const char *cmd = "keys create";
    static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
                                         {"role", required_argument, NULL, 'r'},
                                         {"out", required_argument, NULL, 'o'},
                                         COMMON_OPTS,
                                         {NULL, 0, NULL, 0}};
    const char *v[3], *log;
    int st = parse_required(cmd, argc, argv, opts, 3, "hn:r:o:", usage_create,
                            "--name, --role and --out are required", v, &log);
    if (st >= 0)
        return st;
    const char *name = v[0];
    const char *role = v[1];
    const char *out = v[2];

    wye_party *p;
    int rc = wye_party_create(name, role, &p);
    if (rc == WYE_EINVAL)
        return wye_cli_usage_error(cmd, "--name must be 1-63 characters of A-Z a-z 0-9 _ . - "
                                        "and --role one of agency, linkage-unit, custodian");
    if (rc != WYE_OK)
        return wye_cli_fail(cmd, "cannot make the key pair", rc);
    char key[4096], pub[4096];
    if (!join(key, sizeof key, out, name, ".key") || !join(pub, sizeof pub, out, name, ".pub")) {
        wye_party_free(p);
        return wye_cli_usage_error(cmd, "--out is too long");
    }
    bool made = mkdir(out, 0700) == 0;
    if (!made && errno != EEXIST) {
        int status = fail_file(cmd, "cannot create the folder", out, WYE_EIO);
        wye_party_free(p);
        return status;
    }
    /* After the folder: the log may live in it. */
    int guard = audit_guard(cmd, log, p, NULL, 0);
    if (guard != WYE_EXIT_OK) {
        if (made)
            rmdir(out);
        wye_party_free(p);
        return guard;
    }
    errno = 0;
    rc = wye_party_save(p, key, pub);
    if (rc != WYE_OK) {
        int status = fail_file(cmd, "cannot write the key pair to", out, rc);
        wye_party_free(p);
        return status;
    }
    wye_cli_audit a;
    wye_cli_audit_start(&a, cmd);
    wye_cli_audit_param(&a, "name", name);
    wye_cli_audit_param(&a, "role", role);
    wye_cli_audit_param_path(&a, "secret_key", key); /* path only: no digest of a secret */
    wye_cli_audit_output(&a, pub);
    int status = wye_cli_audit_finish(cmd, &a, wye_cli_audit_path(log), p, WYE_OK, WYE_EXIT_OK);
    if (status != WYE_EXIT_OK) {
        /* An unaudited key pair is not kept. */
        unlink(key);
        unlink(pub);
    } else {
        char id[17];
        wye_public_key_id(wye_party_public_part(p), id);
        printf("wrote %s (secret: keep it here, mode 0600)\n"
               "wrote %s (public: share it)\n"
               "%s %s, public key id %s\n",
               wye_cli_path_shown(key), wye_cli_path_shown(pub), role, name, id);
    }
    wye_party_free(p);
    return status;
}

/* ---- secret ------------------------------------------------------------- */

static int cmd_secret(int argc, char **argv)
{
    const char *cmd = "keys secret";
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                         {"key", required_argument, NULL, 'k'},
                                         COMMON_OPTS,
                                         {NULL, 0, NULL, 0}};
    const char *v[2], *log;
    int st = parse_required(cmd, argc, argv, opts, 2, "ho:k:", usage_secret,
                            "--out and --key are required", v, &log);
    if (st >= 0)
        return st;
    const char *out = v[0];
    const char *keyf = v[1];
    wye_party *cust;
    int status = load_party(cmd, keyf, "custodian", &cust);
    if (status != WYE_EXIT_OK)
        return status;
    const char *ins[] = {keyf};
    if ((status = audit_guard(cmd, log, cust, ins, 1)) != WYE_EXIT_OK) {
        wye_party_free(cust);
        return status;
    }
    wye_cli_audit a;
    wye_cli_audit_start(&a, cmd);
    wye_cli_audit_param_path(&a, "key", keyf);
    wye_cli_audit_param_path(&a, "out", out);
    wye_secret *s;
    int rc = wye_secret_create(&s);
    errno = 0;
    if (rc == WYE_OK && (rc = wye_secret_save(s, out)) != WYE_OK)
        status = fail_file(cmd, "cannot write the secret to", out, rc);
    else if (rc != WYE_OK)
        status = wye_cli_fail(cmd, "cannot make the secret", rc);
    if (rc == WYE_OK)
        audit_key_id(&a, s);
    status = wye_cli_audit_finish(cmd, &a, wye_cli_audit_path(log), cust, rc, status);
    if (rc == WYE_OK && status != WYE_EXIT_OK)
        unlink(out);
    if (rc == WYE_OK && status == WYE_EXIT_OK) {
        uint8_t id[WYE_KEY_ID_BYTES];
        char hex[2 * WYE_KEY_ID_BYTES + 1];
        wye_secret_key_id(s, id);
        wye_hex(id, sizeof id, hex);
        printf("wrote %s (linkage secret, mode 0600: never give it to the linkage unit)\n"
               "key id %s\n",
               wye_cli_path_shown(out), hex);
    }
    wye_secret_free(s);
    wye_party_free(cust);
    return status;
}

/* ---- seal --------------------------------------------------------------- */

static int cmd_seal(int argc, char **argv)
{
    const char *cmd = "keys seal";
    static const struct option opts[] = {{"secret", required_argument, NULL, 's'},
                                         {"custodian-key", required_argument, NULL, 'k'},
                                         {"to", required_argument, NULL, 't'},
                                         {"out", required_argument, NULL, 'o'},
                                         COMMON_OPTS,
                                         {NULL, 0, NULL, 0}};
    const char *v[4], *log;
    int st = parse_required(cmd, argc, argv, opts, 4, "hs:k:t:o:", usage_seal,
                            "--secret, --custodian-key, --to and --out are required", v, &log);
    if (st >= 0)
        return st;
    const char *secret = v[0];
    const char *keyf = v[1];
    const char *to = v[2];
    const char *out = v[3];
    if (!strcmp(secret, "-") && !strcmp(keyf, "-"))
        return wye_cli_usage_error(cmd, "only one of --secret and --custodian-key can be '-'");
    wye_party_public agency;
    int status = load_public(cmd, to, "agency", &agency);
    if (status != WYE_EXIT_OK)
        return status;
    wye_party *cust;
    if ((status = load_party(cmd, keyf, "custodian", &cust)) != WYE_EXIT_OK)
        return status;
    const char *ins[] = {secret, keyf, to};
    if ((status = audit_guard(cmd, log, cust, ins, 3)) != WYE_EXIT_OK) {
        wye_party_free(cust);
        return status;
    }
    wye_cli_audit a;
    wye_cli_audit_start(&a, cmd);
    wye_cli_audit_param_path(&a, "secret", secret);
    wye_cli_audit_param_path(&a, "custodian_key", keyf);
    wye_cli_audit_param(&a, "to_name", agency.name);
    wye_cli_audit_input(&a, to);
    wye_secret *s = NULL;
    errno = 0;
    int rc = wye_secret_load(secret, &s);
    if (rc != WYE_OK) {
        status = fail_file(cmd, "cannot load the secret", secret, rc);
    } else {
        audit_key_id(&a, s);
        errno = 0;
        rc = wye_secret_seal(s, cust, &agency, out);
        if (rc != WYE_OK)
            status = fail_file(cmd, "cannot write the sealed secret to", out, rc);
        else
            wye_cli_audit_output(&a, out);
    }
    status = wye_cli_audit_finish(cmd, &a, wye_cli_audit_path(log), cust, rc, status);
    if (rc == WYE_OK && status != WYE_EXIT_OK)
        unlink(out);
    if (rc == WYE_OK && status == WYE_EXIT_OK)
        printf("wrote %s (linkage secret sealed to agency %s)\n", wye_cli_path_shown(out),
               agency.name);
    wye_secret_free(s);
    wye_party_free(cust);
    return status;
}

/* ---- open --------------------------------------------------------------- */

static int cmd_open(int argc, char **argv)
{
    const char *cmd = "keys open";
    static const struct option opts[] = {{"sealed", required_argument, NULL, 's'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"custodian", required_argument, NULL, 'c'},
                                         {"out", required_argument, NULL, 'o'},
                                         COMMON_OPTS,
                                         {NULL, 0, NULL, 0}};
    const char *v[4], *log;
    int st = parse_required(cmd, argc, argv, opts, 4, "hs:k:c:o:", usage_open,
                            "--sealed, --key, --custodian and --out are required", v, &log);
    if (st >= 0)
        return st;
    const char *sealed = v[0];
    const char *keyf = v[1];
    const char *custf = v[2];
    const char *out = v[3];
    wye_party_public cust;
    int status = load_public(cmd, custf, "custodian", &cust);
    if (status != WYE_EXIT_OK)
        return status;
    /* The linkage unit must never hold the secret: only an agency opens it. */
    wye_party *agency;
    if ((status = load_party(cmd, keyf, "agency", &agency)) != WYE_EXIT_OK)
        return status;
    const char *ins[] = {sealed, keyf, custf};
    if ((status = audit_guard(cmd, log, agency, ins, 3)) != WYE_EXIT_OK) {
        wye_party_free(agency);
        return status;
    }
    wye_cli_audit a;
    wye_cli_audit_start(&a, cmd);
    wye_cli_audit_param_path(&a, "key", keyf);
    wye_cli_audit_param(&a, "custodian_name", cust.name);
    wye_cli_audit_param_path(&a, "out", out);
    wye_cli_audit_input(&a, sealed);
    wye_cli_audit_input(&a, custf);
    wye_secret *s = NULL;
    errno = 0;
    int rc = wye_secret_unseal(sealed, agency, &cust, &s);
    if (rc != WYE_OK) {
        status = fail_file(cmd, "cannot open", sealed, rc);
    } else {
        audit_key_id(&a, s);
        errno = 0;
        rc = wye_secret_save(s, out);
        if (rc != WYE_OK)
            status = fail_file(cmd, "cannot write the secret to", out, rc);
    }
    /* An input that could not be read (e.g. missing) cannot be digested:
     * record the failure all the same, without the inputs. */
    if (a.rc != WYE_OK && rc != WYE_OK) {
        wye_audit_entry_free(a.e);
        wye_cli_audit_start(&a, cmd);
        wye_cli_audit_param_path(&a, "key", keyf);
        wye_cli_audit_param_path(&a, "sealed", sealed);
        wye_cli_audit_param_path(&a, "out", out);
    }
    status = wye_cli_audit_finish(cmd, &a, wye_cli_audit_path(log), agency, rc, status);
    if (rc == WYE_OK && status != WYE_EXIT_OK)
        unlink(out);
    if (rc == WYE_OK && status == WYE_EXIT_OK) {
        uint8_t id[WYE_KEY_ID_BYTES];
        char hex[2 * WYE_KEY_ID_BYTES + 1];
        wye_secret_key_id(s, id);
        wye_hex(id, sizeof id, hex);
        printf("wrote %s (linkage secret, mode 0600), sealed by custodian %s\nkey id %s\n",
               wye_cli_path_shown(out), cust.name, hex);
    }
    wye_secret_free(s);
    wye_party_free(agency);
    return status;
}

/* ---- show --------------------------------------------------------------- */

static void print_b64(const char *label, const uint8_t *b, size_t n)
{
    char out[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(out, sizeof out, b, n, sodium_base64_VARIANT_ORIGINAL);
    printf("%-16s%s\n", label, out);
}

static void print_public(const wye_party_public *p)
{
    char id[17];
    wye_public_key_id(p, id);
    printf("name            %s\nrole            %s\n", p->name, p->role);
    print_b64("sign_pk", p->sign_pk, sizeof p->sign_pk);
    print_b64("box_pk", p->box_pk, sizeof p->box_pk);
    printf("public key id   %s\n", id);
}

/* The kind of a key file, read from secure memory so that a secret file's
 * text never reaches ordinary heap here. */
static int file_kind(const char *path, char *kind, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? WYE_ENOTFOUND : WYE_EIO;
    setvbuf(f, NULL, _IONBF, 0);
    size_t cap = 65536;
    char *buf = sodium_malloc(cap + 1);
    if (!buf) {
        fclose(f);
        return WYE_ENOMEM;
    }
    size_t len = fread(buf, 1, cap, f);
    int bad = ferror(f);
    fclose(f);
    buf[len] = '\0';
    kind[0] = '\0';
    static const char *const kinds[] = {"wyelink-party-secret", "wyelink-party-public",
                                        "wyelink-linkage-secret", "wyelink-sealed-secret"};
    char *at = bad ? NULL : strstr(buf, "\"kind\"");
    for (size_t i = 0; at && i < sizeof kinds / sizeof kinds[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"%s\"", kinds[i]);
        char *k = strstr(at, want);
        if (k && strspn(at + 6, " \t\r\n:") == (size_t)(k - at - 6)) {
            snprintf(kind, n, "%s", kinds[i]);
            break;
        }
    }
    sodium_free(buf);
    if (bad)
        return WYE_EIO;
    return kind[0] ? WYE_OK : WYE_EJSON;
}

static int show_sealed(const char *cmd, const char *path)
{
    char *text;
    size_t len;
    int rc = wye_read_file(path, 65536, &text, &len);
    if (rc != WYE_OK)
        return fail_file(cmd, "cannot read", path, rc);
    json_t *o = json_loadb(text, len, 0, NULL);
    free(text);
    const char *key_id = NULL, *cname = NULL, *rname = NULL;
    if (o)
        json_unpack(o, "{s?s, s?{s?s}, s?{s?s}}", "key_id", &key_id, "custodian", "name",
                    &cname, "recipient", "name", &rname);
    printf("kind            sealed linkage secret (opens only with the recipient's key)\n"
           "recipient       %s\ncustodian       %s\nkey id          %s\n",
           rname ? rname : "?", cname ? cname : "?", key_id ? key_id : "?");
    json_decref(o);
    return WYE_EXIT_OK;
}

static int cmd_show(int argc, char **argv)
{
    const char *cmd = "keys show";
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage_sub(stdout, usage_show); return WYE_EXIT_OK;
        default: return wye_cli_bad_option(cmd, argv);
        }
    }
    if (optind + 1 != argc)
        return wye_cli_usage_error(cmd, "give one FILE");
    const char *path = argv[optind];
    char kind[64];
    errno = 0;
    int rc = file_kind(path, kind, sizeof kind);
    if (rc == WYE_EJSON) {
        fprintf(stderr, "wyelink %s: '%s' is not a wyelink key file\n", cmd,
                wye_cli_path_shown(path));
        return WYE_EXIT_FAIL;
    }
    if (rc != WYE_OK)
        return fail_file(cmd, "cannot read", path, rc);
    if (!strcmp(kind, "wyelink-party-secret")) {
        wye_party *p;
        errno = 0;
        if ((rc = wye_party_load(path, &p)) != WYE_OK)
            return fail_file(cmd, "cannot load", path, rc);
        printf("kind            party secret key (keep private; share the .pub file)\n");
        print_public(wye_party_public_part(p));
        wye_party_free(p);
    } else if (!strcmp(kind, "wyelink-party-public")) {
        wye_party_public p;
        errno = 0;
        if ((rc = wye_public_load(path, &p)) != WYE_OK)
            return fail_file(cmd, "cannot load", path, rc);
        printf("kind            party public key\n");
        print_public(&p);
    } else if (!strcmp(kind, "wyelink-linkage-secret")) {
        wye_secret *s;
        errno = 0;
        if ((rc = wye_secret_load(path, &s)) != WYE_OK)
            return fail_file(cmd, "cannot load", path, rc);
        uint8_t id[WYE_KEY_ID_BYTES];
        char hex[2 * WYE_KEY_ID_BYTES + 1];
        wye_secret_key_id(s, id);
        wye_hex(id, sizeof id, hex);
        printf("kind            linkage secret (agencies and custodian only)\nkey id          %s\n",
               hex);
        wye_secret_free(s);
    } else {
        return show_sealed(cmd, path);
    }
    return WYE_EXIT_OK;
}

/* ---- dispatch ----------------------------------------------------------- */

int wye_cmd_keys(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } subs[] = {{"create", cmd_create}, {"secret", cmd_secret}, {"seal", cmd_seal},
                {"open", cmd_open},     {"show", cmd_show}};
    if (argc < 2)
        return wye_cli_usage_error("keys", "a subcommand is required (create, secret, seal, "
                                           "open, show)");
    const char *sub = argv[1];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        usage_top(stdout);
        return WYE_EXIT_OK;
    }
    if (sub[0] == '-')
        return wye_cli_usage_error("keys", "option '%s' is unknown", wye_cli_path_shown(sub));
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (!strcmp(sub, subs[i].name))
            return subs[i].run(argc - 1, argv + 1);
    return wye_cli_usage_error("keys", "unknown subcommand '%s'", wye_cli_path_shown(sub));
}
