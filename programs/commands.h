/* The wyelink subcommands: every cmd_<name>.c's entry point, declared once.
 * Each takes argv with argv[0] the command's name and returns an exit status
 * (WYE_EXIT_OK, WYE_EXIT_FAIL or WYE_EXIT_USAGE, cli.h). The one table that
 * dispatches them and drives `wyelink --help` is in commands.c. */
#ifndef WYELINK_COMMANDS_H
#define WYELINK_COMMANDS_H

int wye_cmd_hash(int argc, char **argv);
int wye_cmd_map(int argc, char **argv);
int wye_cmd_keys(int argc, char **argv);
int wye_cmd_protocol(int argc, char **argv);
int wye_cmd_audit(int argc, char **argv);
int wye_cmd_synth(int argc, char **argv);
int wye_cmd_eval(int argc, char **argv);
#ifndef WYE_AGENCY_ONLY
int wye_cmd_link(int argc, char **argv);
int wye_cmd_report(int argc, char **argv);
int wye_cmd_demo(int argc, char **argv);
#endif

#endif
