/* The audit log's guards (protocols/AUDIT.md): the check before the work
 * (wye_audit_check_appendable), the key-material detector for paths
 * (wye_audit_path_is_secret), a failed append leaving no partial line, and
 * the key id in verify's reasons. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wyelink/audit.h"
#include "wyelink/io.h"
#include "wyelink/keys.h"

static char dir[] = "/tmp/wye_test_guard_XXXXXX";
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

TestSuite(guard, .init = setup, .fini = teardown);

static const uint8_t *pk_of(const wye_party *p) { return wye_party_public_part(p)->sign_pk; }

static int append(const char *log, wye_party *p, unsigned i)
{
    wye_audit_entry *e;
    char v[32];
    cr_assert_eq(wye_audit_entry_new("hash", &e), WYE_OK);
    snprintf(v, sizeof v, "%u", i);
    cr_assert_eq(wye_audit_entry_param(e, "run", v), WYE_OK);
    wye_audit_entry_outcome(e, WYE_OK);
    int rc = wye_audit_append(log, e, p);
    wye_audit_entry_free(e);
    return rc;
}

static int verify_path(const char *log, const uint8_t *pk, wye_audit_result *res)
{
    FILE *f = fopen(log, "rb");
    cr_assert_not_null(f);
    int rc = wye_audit_verify(wye_source_file(f), pk, res);
    fclose(f);
    return rc;
}

static off_t size_of(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    return st.st_size;
}

/* ---- the check before the work ----------------------------------------- */

Test(guard, a_new_or_own_intact_log_is_appendable)
{
    char log[300];
    snprintf(log, sizeof log, "%s/new.log", dir);
    wye_diag d;
    cr_assert_eq(wye_audit_check_appendable(log, pk_of(alice), &d), WYE_OK);
    cr_assert_eq(access(log, F_OK), -1, "the check creates nothing");
    for (unsigned i = 1; i <= 3; i++)
        cr_assert_eq(append(log, alice, i), WYE_OK);
    cr_assert_eq(wye_audit_check_appendable(log, pk_of(alice), &d), WYE_OK);
    /* a partial last line (a crash) is recorded by the next append: fine */
    FILE *f = fopen(log, "ab");
    fputs("{\"v\":1,\"seq\":4,", f);
    fclose(f);
    cr_assert_eq(wye_audit_check_appendable(log, pk_of(alice), &d), WYE_OK);
    cr_assert_eq(append(log, alice, 4), WYE_OK);
    wye_audit_result res;
    cr_assert_eq(verify_path(log, pk_of(alice), &res), WYE_OK, "%s", res.reason);
}

Test(guard, another_partys_log_is_named_as_such_not_as_damaged)
{
    char log[300];
    snprintf(log, sizeof log, "%s/bob.log", dir);
    for (unsigned i = 1; i <= 3; i++)
        cr_assert_eq(append(log, bob, i), WYE_OK);
    wye_diag d;
    cr_assert_eq(wye_audit_check_appendable(log, pk_of(alice), &d), WYE_EAUDITOWNER);
    cr_assert_eq(wye_audit_check_appendable(log, pk_of(bob), &d), WYE_OK);
    off_t before = size_of(log);
    cr_assert_eq(append(log, alice, 9), WYE_EAUDITOWNER, "the append says so too");
    cr_assert_eq(size_of(log), before);
}

Test(guard, a_damaged_log_is_not_intact_and_the_diag_names_the_line)
{
    char log[300];
    snprintf(log, sizeof log, "%s/edited.log", dir);
    for (unsigned i = 1; i <= 4; i++)
        cr_assert_eq(append(log, alice, i), WYE_OK);
    /* Edit entry 2's parameter: the line stays JSON, the signature fails. */
    char *text;
    size_t len;
    cr_assert_eq(wye_read_file(log, 1 << 20, &text, &len), WYE_OK);
    char *p = strstr(text, "\"run\":\"2\"");
    cr_assert_not_null(p);
    p[7] = '7';
    FILE *f = fopen(log, "wb");
    fwrite(text, 1, len, f);
    fclose(f);
    free(text);
    wye_diag d;
    cr_assert_eq(wye_audit_check_appendable(log, pk_of(alice), &d), WYE_EAUDIT);
    cr_assert_eq(d.line, 2);
    cr_assert_str_eq(d.reason, "signature does not verify");
    /* another key inserted after the first entry: damaged, not another's */
    char mixed[300];
    snprintf(mixed, sizeof mixed, "%s/mixed.log", dir);
    cr_assert_eq(append(mixed, alice, 1), WYE_OK);
    char other[300];
    snprintf(other, sizeof other, "%s/other.log", dir);
    cr_assert_eq(append(other, bob, 1), WYE_OK);
    cr_assert_eq(wye_read_file(other, 1 << 20, &text, &len), WYE_OK);
    f = fopen(mixed, "ab");
    fwrite(text, 1, len, f);
    fclose(f);
    free(text);
    cr_assert_eq(wye_audit_check_appendable(mixed, pk_of(alice), &d), WYE_EAUDIT);
    cr_assert_eq(d.line, 2);
}

Test(guard, a_log_that_cannot_be_opened_for_appending_says_why)
{
    wye_diag d;
    char log[300];
    snprintf(log, sizeof log, "%s/no/such/folder.log", dir);
    cr_assert_eq(wye_audit_check_appendable(log, pk_of(alice), &d), WYE_ENOTFOUND);
    cr_assert_eq(wye_audit_check_appendable(dir, pk_of(alice), &d), WYE_EIO, "a folder");
    cr_assert_eq(errno, EISDIR);
    if (geteuid() != 0) { /* root may write anywhere */
        snprintf(log, sizeof log, "%s/ro.log", dir);
        cr_assert_eq(append(log, alice, 1), WYE_OK);
        chmod(log, 0400);
        cr_assert_eq(wye_audit_check_appendable(log, pk_of(alice), &d), WYE_EIO);
        cr_assert_eq(errno, EACCES);
    }
}

/* ---- a failed append leaves the log as it was ----------------------------- */

Test(guard, an_append_that_runs_out_of_room_is_cut_back_and_the_log_verifies)
{
    char log[300];
    snprintf(log, sizeof log, "%s/full.log", dir);
    for (unsigned i = 1; i <= 3; i++)
        cr_assert_eq(append(log, alice, i), WYE_OK);
    off_t before = size_of(log);
    /* A file-size limit makes the write stop part-way, as a full disk does
     * (SIGXFSZ ignored: write() fails with EFBIG instead). */
    struct rlimit old, lim;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)before + 100;
    signal(SIGXFSZ, SIG_IGN);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    errno = 0;
    int rc = append(log, alice, 4);
    int err = errno;
    setrlimit(RLIMIT_FSIZE, &old);
    cr_assert_eq(rc, WYE_EIO);
    cr_assert_eq(err, EFBIG, "errno %d: the message says 'File too large'", err);
    cr_assert_eq(size_of(log), before, "the partial line was not cut back");
    wye_audit_result res;
    cr_assert_eq(verify_path(log, pk_of(alice), &res), WYE_OK, "%s", res.reason);
    cr_assert_eq(res.entries, 3);
    cr_assert_eq(res.truncated_tail, 0);
    cr_assert_eq(append(log, alice, 4), WYE_OK, "the next append goes on");
    cr_assert_eq(verify_path(log, pk_of(alice), &res), WYE_OK, "%s", res.reason);
    cr_assert_eq(res.entries, 4);
}

/* ---- verify names keys by key id ------------------------------------------ */

Test(guard, verify_names_another_signer_by_its_key_id)
{
    char log[300];
    snprintf(log, sizeof log, "%s/bob2.log", dir);
    cr_assert_eq(append(log, bob, 1), WYE_OK);
    wye_audit_result res;
    cr_assert_eq(verify_path(log, pk_of(alice), &res), WYE_EAUDIT);
    char id[17], want[64];
    wye_public_key_id(wye_party_public_part(bob), id);
    snprintf(want, sizeof want, "signed by another key (key id %s)", id);
    cr_assert_not_null(strstr(res.reason, want), "%s", res.reason);
    cr_assert_eq(res.other_owner, 1);
}

/* ---- the key-material detector ----------------------------------------- */

/* Key material as wyelink writes it: padded base64 (original variant) of
 * n random bytes, from a fixed seed so the test is the same every run. */
static void b64_key(char *out, size_t outlen, size_t n, uint32_t seed, int variant)
{
    uint8_t seedb[randombytes_SEEDBYTES] = {0}, key[64];
    memcpy(seedb, &seed, sizeof seed);
    randombytes_buf_deterministic(key, n, seedb);
    sodium_bin2base64(out, outlen, key, n, variant);
}

Test(guard, every_key_is_found_whole_or_spread_across_folders)
{
    char k[200], path[400];
    unsigned with_slash = 0, urlsafe_missed = 0;
    for (uint32_t seed = 0; seed < 20000; seed++) {
        size_t n = seed % 2 ? 32 : 64;
        b64_key(k, sizeof k, n, seed, sodium_base64_VARIANT_ORIGINAL);
        with_slash += strchr(k, '/') != NULL;
        cr_assert(wye_audit_path_is_secret(k), "key %u: %s", seed, k);
        snprintf(path, sizeof path, "/home/lead/%s", k);
        cr_assert(wye_audit_path_is_secret(path), "key %u in a folder", seed);
        snprintf(path, sizeof path, "keys/%s.key", k);
        cr_assert(wye_audit_path_is_secret(path), "key %u as a file name", seed);
        /* the secret file's JSON pasted as a path */
        snprintf(path, sizeof path, "{\"secret\": \"%s\"}", k);
        cr_assert(wye_audit_path_is_secret(path), "key %u in JSON", seed);
        /* url-safe base64 without padding (not a format wyelink writes):
         * found by the per-component rule when it mixes upper case, lower
         * case and digits, or by the randomness rule */
        b64_key(k, sizeof k, n, seed, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        urlsafe_missed += !wye_audit_path_is_secret(k);
    }
    cr_assert_gt(with_slash, 10000, "the keys with '/' were tested");
    cr_assert_lt(urlsafe_missed, 10, "%u of 20000 url-safe keys missed", urlsafe_missed);
    cr_assert(wye_audit_path_is_secret(
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"));
    /* the case of the review: a key whose '/' splits it into short parts */
    cr_assert(wye_audit_path_is_secret("n4bQgYhMfWWa/+qgxVrQ/FaO0TxsrC4Is0/V1sFbDwCgg="));
}

Test(guard, ordinary_paths_are_not_key_material)
{
    static const char *const ok[] = {
        "extract.csv",
        "result/",
        "/tmp/tmp.X0f5UkCjc0/protocols/archive/wyelink-da-default-1.json",
        "/tmp/wye_test_io_Ab12Cd/Kx9Qw2/Zp4Lm7/out/summary.json",
        "/tmp/tmp.Xa9bQ2kLmN/run-1/Police2023Results/AgencyA1B2C3/summary.json",
        "/home/JaneDoe/Documents/Projects2023/DomesticAbuseNeedsAssessment/Police/x.wye",
        "/srv/DA2023/Q4/PoliceV2/Run3A/Out1B/Extract9Z/HashedV3/x",
        "/mnt/Data/WMWA/2022-23/ServiceUsers/AdultSocialCare/MARAC/IDVA/Housing/GP",
        "/data/HerefordshireCouncil/AdultSocialCare2023/DomesticAbuseReferrals/x",
        "/home/j/Desktop/NewFolder2/NewFolder3/Copy_of_Extract_FINAL_v7_JB_edits",
        "/var/lib/docker/overlay2/3f2a9c1e-4b7d-11ee-8f3a-0242ac120002/merged",
        "/warehouse/tables/DomesticAbuse2023/agency=police/part-0.csv",
        "/run/user/1000/Temp_8fK2pQ/Extract2023/Police/Q4/police.local-map.csv",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        cr_assert_not(wye_audit_path_is_secret(ok[i]), "'%s' taken for a key", ok[i]);
    /* Known, kept: one name of 43+ base64 characters mixing upper case,
     * lower case and digits is taken for a key (the per-component rule). */
    cr_assert(wye_audit_path_is_secret(
        "WestMerciaWomensAid_ServiceUsers_2022-23_Q1Q2Q3Q4_Final2.csv"));
    cr_assert_not(wye_audit_path_is_secret(NULL));
    cr_assert_not(wye_audit_path_is_secret(""));
}

Test(guard, the_entry_refuses_a_path_that_holds_a_key_with_slashes)
{
    wye_audit_entry *e;
    cr_assert_eq(wye_audit_entry_new("keys seal", &e), WYE_OK);
    cr_assert_eq(wye_audit_entry_path(e, "secret", "n4bQgYhMfWWa/+qgxVrQ/FaO0TxsrC4Is0/V1sFbDwCgg="),
                 WYE_EINVAL);
    cr_assert_eq(wye_audit_entry_path(e, "secret", "linkage.secret"), WYE_OK);
    wye_audit_entry_free(e);
}
