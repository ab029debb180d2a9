#include "cli.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int wye_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "wyelink %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\ntry 'wyelink %s --help'\n", cmd);
    va_end(ap);
    return WYE_EXIT_USAGE;
}

int wye_cli_bad_option(const char *cmd, char **argv)
{
    /* getopt_long leaves optind past the offending word. */
    const char *word = (optind > 0) ? argv[optind - 1] : "?";
    if (optopt && optopt != '?' && word[0] == '-' && word[1] != '-')
        return wye_cli_usage_error(cmd, "option '-%c' is unknown or needs a value", optopt);
    /* "--secrt=KEY": the word may carry key material. */
    return wye_cli_usage_error(cmd, "option '%s' is unknown or needs a value",
                               wye_cli_path_shown(word));
}

static void print_why(int code)
{
    if ((code == WYE_EIO || code == WYE_ENOTFOUND) && errno)
        fprintf(stderr, "%s\n", strerror(errno));
    else
        fprintf(stderr, "%s\n", wye_strerror(code));
}

const char *wye_cli_path_shown(const char *path)
{
    if (!path)
        return "(none)";
    return wye_audit_path_is_secret(path) ? "(a path that looks like key material)" : path;
}

int wye_cli_refuse_same_file(const char *cmd, const char *opt, const char *path,
                             const char *const *inputs, size_t n)
{
    struct stat out;
    if (!path || !strcmp(path, "-") || stat(path, &out) != 0)
        return WYE_EXIT_OK; /* a new file replaces nothing */
    for (size_t i = 0; i < n; i++) {
        struct stat in;
        if (!inputs[i] || !strcmp(inputs[i], "-") || stat(inputs[i], &in) != 0)
            continue;
        if (in.st_dev == out.st_dev && in.st_ino == out.st_ino) {
            fprintf(stderr,
                    "wyelink %s: option '%s' names '%s', which is also an input "
                    "(never modified): choose another file\ntry 'wyelink %s --help'\n",
                    cmd, opt, wye_cli_path_shown(path), cmd);
            return WYE_EXIT_USAGE;
        }
    }
    return WYE_EXIT_OK;
}

static volatile sig_atomic_t cancelled_by;

static void on_signal(int sig)
{
    if (cancelled_by) {
        /* Second signal: the user insists. Leave nothing half-written. */
        wye_io_remove_temps();
        _exit(128 + sig);
    }
    cancelled_by = sig;
}

void wye_cli_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int wye_cli_cancelled(void) { return cancelled_by; }

int wye_cli_audit_precheck(const char *cmd, const char *log, const wye_party *signer)
{
    const wye_party_public *pub = signer ? wye_party_public_part(signer) : NULL;
    if (!pub)
        return wye_cli_fail(cmd, "cannot check the audit log", WYE_EINVAL);
    wye_diag d;
    errno = 0;
    int rc = wye_audit_check_appendable(log, pub->sign_pk, &d);
    if (rc == WYE_OK)
        return WYE_EXIT_OK;
    int saved = errno;
    const char *shown = wye_cli_path_shown(log);
    if (rc == WYE_EAUDITOWNER)
        fprintf(stderr,
                "wyelink %s: the audit log '%s' belongs to another party (its entries are "
                "signed by another key): give this party's own log with --audit-log\n",
                cmd, shown);
    else if (rc == WYE_EAUDIT)
        fprintf(stderr,
                "wyelink %s: the audit log '%s' is not intact: line %llu: %s "
                "(run 'wyelink audit verify')\n",
                cmd, shown, (unsigned long long)d.line, d.reason);
    else {
        char what[4200];
        snprintf(what, sizeof what, "the audit log '%s' cannot be written", shown);
        errno = saved;
        wye_cli_fail(cmd, what, rc);
    }
    return WYE_EXIT_FAIL;
}

int wye_cli_fail(const char *cmd, const char *what, int code)
{
    fprintf(stderr, "wyelink %s: %s: ", cmd, what);
    print_why(code);
    return WYE_EXIT_FAIL;
}

int wye_cli_fail_diag(const char *cmd, const char *what, int code, const wye_diag *d)
{
    fprintf(stderr, "wyelink %s: %s", cmd, what);
    if (d && d->line)
        fprintf(stderr, " line %llu", (unsigned long long)d->line);
    if (d && d->field[0])
        fprintf(stderr, " field '%s'", d->field);
    fprintf(stderr, ": %s", wye_strerror(code));
    if (d && d->reason[0])
        fprintf(stderr, ": %s", d->reason);
    fputc('\n', stderr);
    return WYE_EXIT_FAIL;
}

void wye_cli_note(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "wyelink %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int wye_cli_parse_u64(const char *cmd, const char *opt, const char *arg,
                      uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!arg || !*arg || *arg == '-' || *arg == '+')
        goto bad;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno || *end || v < min || v > max)
        goto bad;
    *out = v;
    return WYE_EXIT_OK;
bad:
    return wye_cli_usage_error(cmd, "option '%s' takes a whole number from %llu to %llu",
                               opt, (unsigned long long)min, (unsigned long long)max);
}

int wye_cli_parse_double(const char *cmd, const char *opt, const char *arg,
                         double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = arg ? strtod(arg, &end) : NAN;
    if (!arg || !*arg || errno || *end || !(v >= min && v <= max))
        return wye_cli_usage_error(cmd, "option '%s' takes a number from %g to %g", opt,
                                   min, max);
    *out = v;
    return WYE_EXIT_OK;
}

const char *wye_cli_audit_path(const char *option)
{
    if (option && *option)
        return option;
    const char *env = getenv("WYELINK_AUDIT_LOG");
    if (env && *env)
        return env;
    return "wyelink-audit.log";
}

void wye_cli_audit_start(wye_cli_audit *a, const char *command)
{
    a->e = NULL;
    a->rc = wye_audit_entry_new(command, &a->e);
}

void wye_cli_audit_param(wye_cli_audit *a, const char *name, const char *value)
{
    if (a->e && a->rc == WYE_OK)
        a->rc = wye_audit_entry_param(a->e, name, value);
}

void wye_cli_audit_param_path(wye_cli_audit *a, const char *name, const char *path)
{
    if (a->e && a->rc == WYE_OK)
        a->rc = wye_audit_entry_path(a->e, name, wye_cli_path_shown(path));
}

void wye_cli_audit_count(wye_cli_audit *a, const char *name, uint64_t n)
{
    if (a->e && a->rc == WYE_OK)
        a->rc = wye_audit_entry_count(a->e, name, n);
}

void wye_cli_audit_input(wye_cli_audit *a, const char *path)
{
    if (a->e && a->rc == WYE_OK)
        a->rc = wye_audit_entry_input(a->e, path);
}

void wye_cli_audit_output(wye_cli_audit *a, const char *path)
{
    if (a->e && a->rc == WYE_OK)
        a->rc = wye_audit_entry_output(a->e, path);
}

int wye_cli_audit_finish(const char *cmd, wye_cli_audit *a, const char *log,
                         const wye_party *signer, int outcome, int status)
{
    if (!a->e) {
        wye_cli_fail(cmd, "cannot start the audit entry", a->rc);
        return WYE_EXIT_FAIL;
    }
    wye_audit_entry_outcome(a->e, outcome != WYE_OK          ? outcome
                                  : status == WYE_EXIT_OK ? WYE_OK
                                                          : WYE_EIO);
    errno = 0;
    int rc = a->rc == WYE_OK ? wye_audit_append(log, a->e, signer) : a->rc;
    wye_audit_entry_free(a->e);
    a->e = NULL;
    if (rc != WYE_OK) {
        const char *shown = wye_cli_path_shown(log);
        if (rc == WYE_EAUDITOWNER)
            fprintf(stderr,
                    "wyelink %s: cannot append to the audit log '%s': it belongs to another "
                    "party (its entries are signed by another key)\n",
                    cmd, shown);
        else {
            char what[4200];
            snprintf(what, sizeof what, "cannot append to the audit log '%s'", shown);
            wye_cli_fail(cmd, what, rc);
        }
        return WYE_EXIT_FAIL;
    }
    return outcome == WYE_ECANCELLED ? WYE_EXIT_CANCELLED : status;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void wye_progress_start(wye_progress *p, const char *label, uint64_t total,
                        uint64_t min_total, bool quiet)
{
    memset(p, 0, sizeof *p);
    p->label = label;
    p->total = total;
    p->active = !quiet && isatty(STDERR_FILENO) && (total == 0 || total >= min_total);
    p->started = p->last_time = now_seconds();
}

void wye_progress_unit(wye_progress *p, const char *unit) { p->unit = unit; }

/* n with thousands separators: 1,234,567. */
static void with_commas(char *buf, size_t n, uint64_t v)
{
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    size_t o = 0;
    for (int i = 0; i < len && o + 1 < n; i++) {
        if (i && (len - i) % 3 == 0 && o + 2 < n)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = 0;
}

/* "about 12 s left", "about 3 min 05 s left", "about 1 h 20 min left". */
static void time_left(char *buf, size_t n, double seconds)
{
    unsigned long s = (unsigned long)(seconds + 0.5);
    if (s < 60)
        snprintf(buf, n, "about %lu s left", s);
    else if (s < 3600)
        snprintf(buf, n, "about %lu min %02lu s left", s / 60, s % 60);
    else
        snprintf(buf, n, "about %lu h %02lu min left", s / 3600, s / 60 % 60);
}

void wye_progress_format(char *buf, size_t n, const char *label, uint64_t done,
                         uint64_t total, double elapsed, const char *unit, uint64_t items)
{
    char rate[64] = "", left[48] = "", count[32];
    if (unit && elapsed > 0) {
        with_commas(count, sizeof count, (uint64_t)((double)items / elapsed + 0.5));
        snprintf(rate, sizeof rate, "  %s %s/s", count, unit);
    }
    if (!total) {
        with_commas(count, sizeof count, unit ? items : done);
        snprintf(buf, n, "%s %s%s%s%s", label, count, unit ? " " : "", unit ? unit : "", rate);
        return;
    }
    double frac = (double)done / (double)total;
    if (frac > 1)
        frac = 1;
    int width = 30, fill = (int)(width * frac);
    if (elapsed >= 1 && done > 0 && done < total)
        time_left(left, sizeof left, elapsed * (1 - frac) / frac);
    snprintf(buf, n, "%s [%.*s%*s] %3.0f%%%s%s%s", label, fill,
             "##############################", width - fill, "", 100.0 * frac, rate,
             left[0] ? "  " : "", left);
}

static void progress_draw(wye_progress *p, uint64_t done, uint64_t items)
{
    if (!p->active)
        return;
    double t = now_seconds();
    if (t - p->last_time < 0.2 && done != p->total)
        return;
    p->last_time = t;
    p->last_shown = done;
    char line[256];
    wye_progress_format(line, sizeof line, p->label, done, p->total, t - p->started, p->unit,
                        items);
    /* \033[K: a shorter line leaves nothing of the longer one before it */
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
}

void wye_progress_update(wye_progress *p, uint64_t done) { progress_draw(p, done, done); }

void wye_progress_update_items(wye_progress *p, uint64_t done, uint64_t items)
{
    progress_draw(p, done, items);
}

void wye_progress_end(wye_progress *p)
{
    if (!p->active)
        return;
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
    p->active = false;
}

int wye_cli_extract_date(const char *cmd, const char *arg, wye_date *out,
                         char text[WYE_CLI_DATE_TEXT])
{
    time_t now = time(NULL) + 86400;
    struct tm tm;
    gmtime_r(&now, &tm);
    wye_date tomorrow = {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday};
    if (arg) {
        if (wye_date_parse_iso(arg, out) != WYE_OK)
            return wye_cli_usage_error(cmd, "--extract-date must be a real day as YYYY-MM-DD");
        if (wye_date_cmp(out, &tomorrow) > 0)
            return wye_cli_usage_error(cmd, "--extract-date is in the future");
    } else {
        now = time(NULL);
        gmtime_r(&now, &tm);
        *out = (wye_date){tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday};
    }
    snprintf(text, WYE_CLI_DATE_TEXT, "%04d-%02d-%02d", out->year,
             out->month, out->day);
    return WYE_EXIT_OK;
}
