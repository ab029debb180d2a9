/* wyelink protocol: placeholder until its issue lands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int wye_cmd_protocol(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("usage: wyelink protocol ...\n\nnot implemented yet.\n\n" WYE_CLI_EXIT_HELP);
        return WYE_EXIT_OK;
    }
    if (argc > 1 && argv[1][0] == '-')
        return wye_cli_usage_error(argv[0], "option '%s' is unknown", argv[1]);
    fprintf(stderr, "wyelink protocol: not implemented yet\n");
    return WYE_EXIT_FAIL;
}
