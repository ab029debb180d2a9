/* Shared helpers for the wyelink subcommands (not part of the library API:
 * the library never prints; commands do, through these).
 *
 * Conventions (git's): -h/--help prints usage to stdout and exits 0; misuse
 * prints one line naming the bad option and a hint, exit 2; a runtime
 * failure prints "wyelink <cmd>: <what failed>: <why>" and exits 1.
 * Messages are lowercase with no full stop. None ever includes a value read
 * from an extract. */
#ifndef WYELINK_CLI_H
#define WYELINK_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "wyelink/audit.h"
#include "wyelink/error.h"
#include "wyelink/keys.h"
#include "wyelink/normalise.h"

#define WYE_EXIT_OK 0
#define WYE_EXIT_FAIL 1
#define WYE_EXIT_USAGE 2
#define WYE_EXIT_CANCELLED 130 /* a run cancelled by SIGINT or SIGTERM (128 + SIGINT) */

/* The exit-code paragraph every command's help ends with. */
#define WYE_CLI_EXIT_HELP                                                      \
    "Exit status: 0 success, 1 failure (the message says what and why),\n"    \
    "2 misuse (bad or missing option).\n"

typedef struct wye_command {
    const char *name;
    const char *group;   /* "agency", "linkage unit", "governance", "tools" */
    const char *summary; /* one line for wyelink --help */
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
} wye_command;

/* The one table (programs/commands.c) driving dispatch and top-level help. */
extern const wye_command wye_commands[];
extern const unsigned wye_ncommands;

/* Print "wyelink CMD: MSG" and "try 'wyelink CMD --help'" to stderr;
 * returns WYE_EXIT_USAGE. */
int wye_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* After getopt_long returned '?': name the bad or incomplete option. */
int wye_cli_bad_option(const char *cmd, char **argv);
/* Print "wyelink CMD: WHAT: wye_strerror(code)" (with strerror(errno) for
 * WYE_EIO/WYE_ENOTFOUND); returns WYE_EXIT_FAIL. */
int wye_cli_fail(const char *cmd, const char *what, int code);
/* As wye_cli_fail, with the diag's line, field and reason. */
int wye_cli_fail_diag(const char *cmd, const char *what, int code, const wye_diag *d);
/* Print "wyelink CMD: " + message to stderr (a warning or note). */
void wye_cli_note(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse a whole decimal number for option opt within [min, max]; on error
 * print a usage error naming the option and return WYE_EXIT_USAGE. */
int wye_cli_parse_u64(const char *cmd, const char *opt, const char *arg,
                      uint64_t min, uint64_t max, uint64_t *out);
int wye_cli_parse_double(const char *cmd, const char *opt, const char *arg,
                         double min, double max, double *out);

/* A path safe to print or record: path itself, or "(a path that looks like
 * key material)" when wye_audit_path_is_secret(path). Every message that
 * names a file the user gave goes through this. */
const char *wye_cli_path_shown(const char *path);

/* Refuse an output that is one of the inputs: if path exists and is the same
 * file (device and inode) as any of inputs[0..n) (NULL entries and "-" are
 * skipped), print "wyelink CMD: option 'OPT' names 'PATH', which is also an
 * input (never modified): choose another file" and return WYE_EXIT_USAGE;
 * else WYE_EXIT_OK. For --audit-log and every output option. */
int wye_cli_refuse_same_file(const char *cmd, const char *opt, const char *path,
                             const char *const *inputs, size_t n);

/* Install SIGINT and SIGTERM handlers (sigaction): the first signal sets a
 * flag that wye_cli_cancelled() returns; a second one removes this process's
 * temp files (wye_io_remove_temps) and exits with 128 + the signal number at
 * once. Long loops poll wye_cli_cancelled() (their progress callbacks) and
 * stop with WYE_ECANCELLED; the command then aborts its outputs, appends a
 * "cancelled" audit entry (wye_cli_audit_finish with outcome WYE_ECANCELLED)
 * and exits WYE_EXIT_CANCELLED. Call once, from main's thread. */
void wye_cli_signals_install(void);
/* The number of the first SIGINT or SIGTERM received, else 0.
 * Async-signal-safe and thread-safe. */
int wye_cli_cancelled(void);

/* The audit log this run appends to: the --audit-log option if given, else
 * $WYELINK_AUDIT_LOG, else "wyelink-audit.log" in the current folder. */
const char *wye_cli_audit_path(const char *option);

/* An audit entry a command builds as it runs (protocols/AUDIT.md). The
 * adders do nothing once one has failed; wye_cli_audit_finish reports that
 * failure, or appends the entry signed by `signer`. */
typedef struct wye_cli_audit {
    wye_audit_entry *e;
    int rc;
} wye_cli_audit;
/* Start an entry for `command`; a failure is reported by finish. */
void wye_cli_audit_start(wye_cli_audit *a, const char *command);
void wye_cli_audit_param(wye_cli_audit *a, const char *name, const char *value);
void wye_cli_audit_param_path(wye_cli_audit *a, const char *name, const char *path);
void wye_cli_audit_count(wye_cli_audit *a, const char *name, uint64_t n);
/* A file read or written, with its size and digest (read from the file). */
void wye_cli_audit_input(wye_cli_audit *a, const char *path);
void wye_cli_audit_output(wye_cli_audit *a, const char *path);
/* Record the outcome (outcome if not WYE_OK, else WYE_OK when status is
 * WYE_EXIT_OK, else WYE_EIO), append the entry to log signed by signer and
 * free it. Returns status (WYE_EXIT_CANCELLED when outcome is
 * WYE_ECANCELLED: the entry records a "cancelled" outcome, code -26), or
 * WYE_EXIT_FAIL (with a message naming what is wrong with the log) if the
 * entry could not be built or appended. A path parameter that looks like
 * key material is recorded as "(a path that looks like key material)". */
int wye_cli_audit_finish(const char *cmd, wye_cli_audit *a, const char *log,
                         const wye_party *signer, int outcome, int status);

/* Before the work: check that the log can take signer's entry
 * (wye_audit_check_appendable). On failure print exactly what is wrong,
 * "wyelink CMD: the audit log 'LOG' belongs to another party (its entries
 * are signed by another key)", "... is not intact: line N: why (run 'wyelink
 * audit verify')", "... cannot be written: no space left on the device", and
 * return WYE_EXIT_FAIL; else WYE_EXIT_OK. */
int wye_cli_audit_precheck(const char *cmd, const char *log, const wye_party *signer);

/* A progress bar on stderr, shown only when stderr is a terminal, the run is
 * not quiet and the work is large (total >= min_total). total 0 = unknown.
 * It shows how far the work is (done of total), an estimate of the time
 * left (from the rate so far, once a second has passed), and, when a unit is
 * set, how many of the unit pass per second ("812,340 rows/s"). */
typedef struct wye_progress {
    const char *label;
    const char *unit;     /* what the rate counts, e.g. "rows"; NULL: no rate */
    uint64_t total;
    uint64_t last_shown;
    double started;
    double last_time;
    bool active;
} wye_progress;
void wye_progress_start(wye_progress *p, const char *label, uint64_t total,
                        uint64_t min_total, bool quiet);
/* Name what the rate counts (a static string), after start. */
void wye_progress_unit(wye_progress *p, const char *unit);
/* done of total; the rate counts done itself. */
void wye_progress_update(wye_progress *p, uint64_t done);
/* done of total (e.g. bytes read), and items of the unit so far (rows). */
void wye_progress_update_items(wye_progress *p, uint64_t done, uint64_t items);
void wye_progress_end(wye_progress *p);
/* The bar's text (what update draws after a carriage return), for a run
 * elapsed seconds old: label, bar and percentage (or done without a total),
 * the rate of items in unit (if unit), and the time left (if total, once
 * elapsed >= 1 and 0 < done < total). Always NUL-terminated. */
void wye_progress_format(char *buf, size_t n, const char *label, uint64_t done,
                         uint64_t total, double elapsed, const char *unit, uint64_t items);

/* The day an extract was taken: arg as YYYY-MM-DD (not after tomorrow, UTC),
 * or today (UTC) when arg is NULL; *out and text ("YYYY-MM-DD") are set. A bad
 * or future date is a usage error (returns WYE_EXIT_USAGE), else WYE_EXIT_OK. */
#define WYE_CLI_DATE_TEXT 11
int wye_cli_extract_date(const char *cmd, const char *arg, wye_date *out,
                         char text[WYE_CLI_DATE_TEXT]);

#endif
