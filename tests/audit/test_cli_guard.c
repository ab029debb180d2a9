/* The CLI helpers of issue 14 (programs/cli.c, compiled in): signals and
 * cancellation, the cancelled audit entry, the check before the work, the
 * log refused as an input, paths shown without key material. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "wyelink/audit.h"
#include "wyelink/io.h"
#include "wyelink/keys.h"

static char dir[] = "/tmp/wye_test_cli_guard_XXXXXX";
static wye_party *alice, *bob;

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(wye_crypto_init(), WYE_OK);
    cr_assert_eq(wye_party_create("police", "agency", &alice), WYE_OK);
    cr_assert_eq(wye_party_create("housing", "agency", &bob), WYE_OK);
}

static void teardown(void)
{
    wye_party_free(alice);
    wye_party_free(bob);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(cli_guard, .init = setup, .fini = teardown);

static char *slurp(const char *path)
{
    char *t;
    cr_assert_eq(wye_read_file(path, 1 << 20, &t, NULL), WYE_OK, "%s", path);
    return t;
}

Test(cli_guard, the_first_signal_cancels_and_the_second_exits_leaving_no_temp_file)
{
    char out[300], ls[600];
    snprintf(out, sizeof out, "%s/persons.csv", dir);
    pid_t pid = fork();
    if (pid == 0) {
        wye_cli_signals_install();
        wye_atomic *a;
        if (wye_atomic_open(out, 0600, 0, &a) != WYE_OK)
            _exit(3);
        fputs("half", wye_atomic_file(a));
        fflush(wye_atomic_file(a));
        raise(SIGINT);
        if (wye_cli_cancelled() != SIGINT)
            _exit(4); /* the first signal only sets the flag */
        raise(SIGTERM);
        _exit(5); /* not reached: the second signal exits */
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st), "killed by signal %d", WTERMSIG(st));
    cr_assert_eq(WEXITSTATUS(st), 128 + SIGTERM);
    snprintf(ls, sizeof ls, "test -z \"$(ls -A '%s')\"", dir);
    cr_assert_eq(system(ls), 0, "a temp file was left behind");
}

Test(cli_guard, a_cancelled_run_is_audited_as_cancelled_and_exits_130)
{
    char log[300];
    snprintf(log, sizeof log, "%s/police.log", dir);
    wye_cli_audit a;
    wye_cli_audit_start(&a, "hash");
    wye_cli_audit_param(&a, "threads", "2");
    int st = wye_cli_audit_finish("hash", &a, log, alice, WYE_ECANCELLED, WYE_EXIT_FAIL);
    cr_assert_eq(st, WYE_EXIT_CANCELLED);
    cr_assert_eq(WYE_EXIT_CANCELLED, 130);
    char *text = slurp(log);
    cr_assert_not_null(strstr(text, "\"outcome\":{\"code\":-26,\"message\":\"cancelled"), "%s",
                       text);
    free(text);
    /* audit show calls it cancelled, not an error */
    const char *w = getenv("WYELINK");
    cr_assert_not_null(w);
    char cmd[800], out[300];
    snprintf(out, sizeof out, "%s/show.out", dir);
    snprintf(cmd, sizeof cmd, "'%s' audit show '%s' >'%s' 2>&1", w, log, out);
    cr_assert_eq(system(cmd), 0);
    text = slurp(out);
    cr_assert_not_null(strstr(text, "cancelled"), "%s", text);
    cr_assert_null(strstr(text, "error -26"), "%s", text);
    free(text);
}

Test(cli_guard, the_precheck_says_exactly_what_is_wrong, .init = cr_redirect_stderr)
{
    char log[300];
    snprintf(log, sizeof log, "%s/housing.log", dir);
    wye_cli_audit a;
    wye_cli_audit_start(&a, "hash");
    cr_assert_eq(wye_cli_audit_finish("hash", &a, log, bob, WYE_OK, WYE_EXIT_OK), 0);
    cr_assert_eq(wye_cli_audit_precheck("hash", log, bob), WYE_EXIT_OK);
    cr_assert_eq(wye_cli_audit_precheck("hash", log, alice), WYE_EXIT_FAIL);
    char nodir[300];
    snprintf(nodir, sizeof nodir, "%s/no/such.log", dir);
    cr_assert_eq(wye_cli_audit_precheck("link", nodir, alice), WYE_EXIT_FAIL);
    fflush(stderr);
    char want[900];
    snprintf(want, sizeof want,
             "wyelink hash: the audit log '%s' belongs to another party (its entries are "
             "signed by another key): give this party's own log with --audit-log\n"
             "wyelink link: the audit log '%s' cannot be written: No such file or directory\n",
             log, nodir);
    cr_assert_stderr_eq_str(want);
}

Test(cli_guard, an_output_that_is_an_input_is_refused, .init = cr_redirect_stderr)
{
    char in[300], hard[300], other[300];
    snprintf(in, sizeof in, "%s/extract.csv", dir);
    snprintf(hard, sizeof hard, "%s/hard.csv", dir);
    snprintf(other, sizeof other, "%s/new.log", dir);
    FILE *f = fopen(in, "w");
    fputs("a,b\n", f);
    fclose(f);
    cr_assert_eq(link(in, hard), 0);
    const char *inputs[] = {"map.json", NULL, "-", in};
    cr_assert_eq(wye_cli_refuse_same_file("hash", "--audit-log", other, inputs, 4),
                 WYE_EXIT_OK, "a new file replaces nothing");
    cr_assert_eq(wye_cli_refuse_same_file("hash", "--audit-log", hard, inputs, 4),
                 WYE_EXIT_USAGE, "the same inode under another name");
    fflush(stderr);
    char want[900];
    snprintf(want, sizeof want,
             "wyelink hash: option '--audit-log' names '%s', which is also an input "
             "(never modified): choose another file\ntry 'wyelink hash --help'\n",
             hard);
    cr_assert_stderr_eq_str(want);
}

Test(cli_guard, paths_that_hold_key_material_are_never_shown)
{
    cr_assert_str_eq(wye_cli_path_shown("extract.csv"), "extract.csv");
    cr_assert_str_eq(wye_cli_path_shown("n4bQgYhMfWWa/+qgxVrQ/FaO0TxsrC4Is0/V1sFbDwCgg="),
                     "(a path that looks like key material)");
}
