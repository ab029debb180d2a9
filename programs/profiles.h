/* The linkage protocol on the command line: --protocol (and `wyelink
 * protocol`) take the name of a profile built into the program or a file
 * (protocols/PROTOCOL.md, "Built-in profiles"). hash, link and demo use the
 * built-in default, WYE_PROTOCOL_DEFAULT, when --protocol is not given. */
#ifndef WYELINK_PROFILES_H
#define WYELINK_PROFILES_H

#include <stdbool.h>
#include <stdio.h>

#include "wyelink/protocol.h"

/* Whether arg names a built-in profile. A built-in name is never read as a
 * file: a file of the same name is given as ./NAME. */
bool wye_cli_protocol_is_builtin(const char *arg);
/* Parse the protocol arg names: a built-in profile, else the file arg ("-"
 * is standard input). Errors as wye_protocol_builtin and wye_protocol_load. */
int wye_cli_protocol_load(const char *arg, wye_protocol **out, wye_diag *d);
/* Print one line per built-in profile to out: indent, the name --protocol
 * takes, the profile's own name and its fingerprint. Returns WYE_EXIT_OK, or
 * WYE_EXIT_FAIL (with a message on stderr) if one cannot be parsed. */
int wye_cli_protocol_list(FILE *out, const char *indent);

#endif
