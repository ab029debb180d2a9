/* wyelink protocol: check a protocol file, print its fingerprint or its
 * canonical form (protocols/PROTOCOL.md). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "profiles.h"
#include "wyelink/protocol.h"

#define CMD "protocol"

static void usage(void)
{
    printf("usage: wyelink protocol <subcommand> [FILE|NAME]\n"
           "\n"
           "Check a linkage protocol (protocols/PROTOCOL.md). Two encoded files are\n"
           "comparable only if their protocols have the same fingerprint.\n"
           "\n"
           "subcommands:\n"
           "   check FILE|NAME        validate the protocol; print its name, fields, filter\n"
           "                          lengths, record size and fingerprint\n"
           "   fingerprint FILE|NAME  print the fingerprint (64 hex digits) and nothing else\n"
           "   canonical FILE|NAME    print the canonical form (the bytes that are hashed)\n"
           "   list                   the profiles built into wyelink: the NAME to give,\n"
           "                          the profile's own name and its fingerprint\n"
           "\n"
           "NAME is a built-in profile ('default', or a name 'list' prints); the default\n"
           "is what hash, link and demo use without --protocol. Anything else is a FILE;\n"
           "a file named like a built-in profile is given as ./NAME. FILE '-' reads\n"
           "standard input. 'wyelink protocol <subcommand> --help' explains a subcommand.\n"
           "\n" WYE_CLI_EXIT_HELP);
}

static void usage_sub(const char *sub)
{
    if (!strcmp(sub, "list"))
        printf("usage: wyelink protocol list\n"
               "\n"
               "Print the protocol profiles built into wyelink, one a line: the NAME that\n"
               "--protocol and 'wyelink protocol check' take, the profile's own name and its\n"
               "fingerprint. The first is the default; the others are earlier defaults,\n"
               "kept so that files encoded under them can still be linked.\n");
    else if (!strcmp(sub, "check"))
        printf("usage: wyelink protocol check FILE|NAME\n"
               "\n"
               "Validate the protocol FILE (or built-in profile NAME) against the schema\n"
               "and print its name, its fields (tokenisers, bits per field, field filters,\n"
               "exact digests), the record-level filter length before and after hardening,\n"
               "its attributes, the encoded record size and the fingerprint. On error the\n"
               "message names FILE, the JSON key (e.g. fields[2].tokenisers[0].q) and the\n"
               "reason.\n");
    else if (!strcmp(sub, "fingerprint"))
        printf("usage: wyelink protocol fingerprint FILE|NAME\n"
               "\n"
               "Print the fingerprint of the protocol FILE (or built-in profile NAME): the\n"
               "BLAKE2b-256 digest of its canonical form, as 64 lowercase hex digits.\n");
    else
        printf("usage: wyelink protocol canonical FILE|NAME\n"
               "\n"
               "Print the canonical form of the protocol FILE (or built-in profile NAME):\n"
               "compact JSON with sorted keys and every default written out, without the\n"
               "description. The fingerprint is the BLAKE2b-256 digest of exactly these\n"
               "bytes (without the final newline).\n");
    printf("\n" WYE_CLI_EXIT_HELP);
}

/* Load FILE, or print why not: file, key path or line, and reason. */
static int load(const char *path, wye_protocol **out)
{
    wye_diag d;
    errno = 0;
    int rc = wye_cli_protocol_load(path, out, &d);
    if (rc == WYE_OK)
        return WYE_EXIT_OK;
    if (rc == WYE_EJSON || rc == WYE_EVERSION) {
        fprintf(stderr, "wyelink " CMD ": '%s'", path);
        if (d.line)
            fprintf(stderr, " line %llu", (unsigned long long)d.line);
        if (d.field[0])
            fprintf(stderr, " key '%s'", d.field);
        fprintf(stderr, ": %s", wye_strerror(rc));
        if (d.reason[0])
            fprintf(stderr, ": %s", d.reason);
        fputc('\n', stderr);
        return WYE_EXIT_FAIL;
    }
    char what[512];
    snprintf(what, sizeof what, "cannot read '%s'", path);
    return wye_cli_fail(CMD, what, rc);
}

static void print_hex(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", b[i]);
}

static const char *type_name(wye_field_type t)
{
    switch (t) {
    case WYE_TYPE_NAME: return "name";
    case WYE_TYPE_DATE: return "date";
    case WYE_TYPE_SEX: return "sex";
    case WYE_TYPE_POSTCODE: return "postcode";
    case WYE_TYPE_NHS: return "nhs";
    case WYE_TYPE_ADDRESS: return "address";
    case WYE_TYPE_ID: return "id";
    }
    return "?";
}

static void print_tokeniser(const wye_tokeniser *t)
{
    switch (t->type) {
    case WYE_TOK_QGRAM: printf("qgram(q=%u%s)", t->q, t->padding ? ",padded" : ""); break;
    case WYE_TOK_POSITIONAL_QGRAM:
        printf("positional_qgram(q=%u%s)", t->q, t->padding ? ",padded" : "");
        break;
    case WYE_TOK_WHOLE: printf("whole"); break;
    case WYE_TOK_DATE_PARTS: printf("date_parts"); break;
    case WYE_TOK_SOUNDEX: printf("soundex"); break;
    }
}

static void print_salting(const char *field, unsigned part)
{
    printf(" salting(%s,%s)", field, part == WYE_SALT_YEAR ? "year" : "whole");
}

static void print_check(const char *path, const wye_protocol *p)
{
    uint8_t fp[WYE_FINGERPRINT_BYTES];
    wye_protocol_fingerprint(p, fp);
    const wye_layout *l = wye_protocol_layout(p);
    const wye_hardening *h = wye_protocol_hardening(p);
    if (wye_cli_protocol_is_builtin(path))
        printf("built-in:    %s\n", path);
    else
        printf("file:        %s\n", path);
    printf("protocol:    %s\n", wye_protocol_name(p));
    printf("fingerprint: ");
    print_hex(fp, sizeof fp);
    printf("\n");
    printf("record-level filter: %u bits raw, %u bits stored\n", wye_protocol_filter_bits_raw(p),
           wye_protocol_filter_bits(p));
    printf("hardening:  ");
    if (!h->salting && !h->balancing && !h->xor_fold && !h->diffusion)
        printf(" none");
    if (h->salting)
        print_salting(h->salt_field, h->salt_part);
    if (h->balancing)
        printf(" balancing");
    if (h->xor_fold)
        printf(" xor_fold");
    if (h->diffusion)
        printf(" diffusion(t=%u,bits=%u)", h->diffusion_t, h->diffusion_bits);
    printf("\n");
    const wye_field_hardening *fh = wye_protocol_field_hardening(p);
    printf("field filter hardening:");
    if (!fh->salting && !fh->xor_fold && !fh->diffusion)
        printf(" none");
    if (fh->salting)
        print_salting(fh->salt_field, fh->salt_part);
    if (fh->xor_fold)
        printf(" xor_fold");
    if (fh->diffusion)
        printf(" diffusion(t=%u)", fh->diffusion_t);
    printf("\n");
    printf("fields (%zu):\n", wye_protocol_nfields(p));
    for (size_t i = 0; i < wye_protocol_nfields(p); i++) {
        const wye_field_spec *f = wye_protocol_field(p, i);
        printf("  %-18s %-8s kdf_id %-3u ", f->name, type_name(f->type), f->kdf_id);
        for (unsigned t = 0; t < f->ntokenisers; t++) {
            if (t)
                printf("+");
            print_tokeniser(&f->tok[t]);
        }
        printf(" record_bits %u", f->record_bits);
        if (f->field_filter_bits) {
            printf(" field_filter %u bits k %u", f->field_filter_bits, f->field_filter_k);
            if (fh->xor_fold)
                printf(" (stored %u bits)", f->field_filter_bits / 2);
        }
        if (f->exact_digest)
            printf(" exact_digest");
        printf("\n");
    }
    printf("attributes (%zu):\n", wye_protocol_nattrs(p));
    for (size_t i = 0; i < wye_protocol_nattrs(p); i++) {
        const wye_attr_spec *a = wye_protocol_attr(p, i);
        static const char *const src[] = {"?", "age_band", "sex", "column"};
        printf("  %-18s %-8s", a->name, src[a->source]);
        for (unsigned v = 0; v < a->nvalues; v++)
            printf("%s%s", v ? "," : " ", a->values[v]);
        printf("\n");
    }
    printf("record size: %zu bytes (record-level filter at %zu, %zu bytes)\n", l->record_size,
           l->filter_off, l->filter_bytes);
}

static int run_sub(int argc, char **argv)
{
    const char *sub = argv[0];
    char cmdname[64];
    snprintf(cmdname, sizeof cmdname, CMD " %s", sub);
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 0; /* full reset: commands may run more than once per process */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage_sub(sub); return WYE_EXIT_OK;
        default: return wye_cli_bad_option(cmdname, argv);
        }
    }
    const bool list = !strcmp(sub, "list");
    if (list && argc - optind != 0)
        return wye_cli_usage_error(cmdname, "takes no argument");
    if (!list && argc - optind != 1)
        return wye_cli_usage_error(cmdname, argc - optind ? "takes exactly one FILE or NAME"
                                                          : "needs a protocol FILE or NAME");
    const char *path = argv[optind];
    wye_protocol *p = NULL;
    int rc = list ? wye_cli_protocol_list(stdout, "") : load(path, &p);
    if (rc != WYE_EXIT_OK)
        return rc;
    if (list) {
        /* printed above */
    } else if (!strcmp(sub, "check")) {
        print_check(path, p);
    } else if (!strcmp(sub, "fingerprint")) {
        uint8_t fp[WYE_FINGERPRINT_BYTES];
        wye_protocol_fingerprint(p, fp);
        print_hex(fp, sizeof fp);
        printf("\n");
    } else {
        char *s;
        if ((rc = wye_protocol_canonical(p, &s)) != WYE_OK) {
            wye_protocol_free(p);
            return wye_cli_fail(CMD, "cannot build the canonical form", rc);
        }
        printf("%s\n", s);
        free(s);
    }
    wye_protocol_free(p);
    if (fflush(stdout) != 0)
        return wye_cli_fail(CMD, "cannot write the output", WYE_EIO);
    return WYE_EXIT_OK;
}

int wye_cmd_protocol(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 0;
    opterr = 0;
    int c;
    /* '+': stop at the subcommand; its options are its own. */
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(); return WYE_EXIT_OK;
        default: return wye_cli_bad_option(CMD, argv);
        }
    }
    if (optind >= argc)
        return wye_cli_usage_error(CMD,
                                   "needs a subcommand: check, fingerprint, canonical or list");
    const char *sub = argv[optind];
    if (strcmp(sub, "check") && strcmp(sub, "fingerprint") && strcmp(sub, "canonical") &&
        strcmp(sub, "list"))
        return wye_cli_usage_error(CMD, "unknown subcommand '%s'", sub);
    return run_sub(argc - optind, argv + optind);
}
