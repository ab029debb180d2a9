/* main(): dispatch to a subcommand from the table in commands.c. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "profiles.h"
#include "wyelink/keys.h"
#include "wyelink/version.h"

static const char *const groups[] = {"agency", "linkage unit", "governance",
                                     "keys and protocol", "tools"};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: wyelink [--version] [--help] <command> [<options>]\n"
            "\n"
            "Privacy-preserving record linkage between agencies: each agency encodes its\n"
            "extract with a secret the linkage unit never holds; the linkage unit counts\n"
            "distinct persons across agencies without seeing an identifier.\n");
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        int header = 0;
        for (unsigned i = 0; i < wye_ncommands; i++) {
            if (strcmp(wye_commands[i].group, groups[g]) != 0)
                continue;
            if (!header++)
                fprintf(out, "\n%s:\n", groups[g]);
            fprintf(out, "   %-10s %s\n", wye_commands[i].name, wye_commands[i].summary);
        }
    }
    fprintf(out, "\n'wyelink <command> --help' explains a command.\n" WYE_CLI_EXIT_HELP);
}

static int version(void)
{
    printf("wyelink %s\n"
           "protocol schema version %d\n"
           "encoded file format version %d\n"
           "audit log format version %d\n"
           "key file format version %d\n"
           "built-in protocols (name, profile, fingerprint):\n",
           wye_version(), WYE_PROTOCOL_SCHEMA_VERSION, WYE_ENCFILE_VERSION,
           WYE_AUDIT_VERSION, WYE_KEYFILE_VERSION);
    return wye_cli_protocol_list(stdout, "   ");
}

/* Run the command called name with argv[0] its name. */
static int dispatch(const char *name, int argc, char **argv)
{
    if (name[0] == '-') {
        fprintf(stderr, "wyelink: option '%s' is unknown\ntry 'wyelink --help'\n", name);
        return WYE_EXIT_USAGE;
    }
    for (unsigned i = 0; i < wye_ncommands; i++) {
        if (strcmp(wye_commands[i].name, name) == 0) {
            if (wye_crypto_init() != WYE_OK) {
                fprintf(stderr, "wyelink: cannot initialise libsodium\n");
                return WYE_EXIT_FAIL;
            }
            return wye_commands[i].run(argc, argv);
        }
    }
    fprintf(stderr, "wyelink: '%s' is not a wyelink command\ntry 'wyelink --help'\n", name);
    return WYE_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return WYE_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "-h") || !strcmp(name, "--help") ||
        (!strcmp(name, "help") && (argc == 2 || !strcmp(argv[2], "help")))) {
        usage(stdout);
        return WYE_EXIT_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "version"))
        return version();
    if (!strcmp(name, "help")) {
        /* `wyelink help CMD` is `wyelink CMD --help`. */
        if (argc > 3) {
            fprintf(stderr, "wyelink: 'help' takes one command\ntry 'wyelink --help'\n");
            return WYE_EXIT_USAGE;
        }
        char *help_argv[] = {argv[2], "--help", NULL};
        return dispatch(argv[2], 2, help_argv);
    }
    return dispatch(name, argc - 1, argv + 1);
}
