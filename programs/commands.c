/* The one table of subcommands: it drives both dispatch and `wyelink --help`.
 * Each command is one cmd_<name>.c in this folder, declared in commands.h. */
#include "cli.h"
#include "commands.h"


const wye_command wye_commands[] = {
    {"map", "agency", "check a column map on the extract, before any keys exist", wye_cmd_map},
    {"hash", "agency", "encode an extract into a signed, sealed encoded file", wye_cmd_hash},
#ifndef WYE_AGENCY_ONLY
    {"link", "linkage unit", "link encoded files from all agencies into persons", wye_cmd_link},
    {"report", "linkage unit", "make the report: one HTML page and its tables as CSV", wye_cmd_report},
#endif
    {"audit", "governance", "verify, show and trace audit logs", wye_cmd_audit},
    {"keys", "keys and protocol", "create key pairs and the linkage secret; seal and open it",
     wye_cmd_keys},
    {"protocol", "keys and protocol", "check a protocol file and print its fingerprint",
     wye_cmd_protocol},
    {"synth", "tools", "generate synthetic multi-agency extracts with ground truth",
     wye_cmd_synth},
    {"eval", "tools", "score persons.csv against ground truth (precision, recall, F1)",
     wye_cmd_eval},
#ifndef WYE_AGENCY_ONLY
    {"demo", "tools", "run every role end to end on synthetic data", wye_cmd_demo},
#endif
};
const unsigned wye_ncommands = sizeof wye_commands / sizeof wye_commands[0];
