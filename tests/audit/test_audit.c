/* The audit log (protocols/AUDIT.md): append and verify, every tampering
 * class named exactly, concurrent appenders, the crash case, what an entry
 * holds, and the `wyelink audit` commands on hand-built logs. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wyelink/audit.h"
#include "wyelink/io.h"
#include "wyelink/keys.h"
#include "wyelink/version.h"

static char dir[] = "/tmp/wye_test_audit_XXXXXX";
static wye_party *alice, *bob; /* an agency, and another party */

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

TestSuite(audit, .init = setup, .fini = teardown);

/* ---- helpers -------------------------------------------------------------- */

static void path_in(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *path, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    cr_assert_eq(wye_read_file(path, 64 << 20, &text, &n), WYE_OK, "cannot read %s", path);
    if (len)
        *len = n;
    return text;
}

/* Append one typical entry numbered i. */
static void append_one(const char *log, wye_party *p, const char *command, unsigned i)
{
    wye_audit_entry *e;
    char v[32];
    cr_assert_eq(wye_audit_entry_new(command, &e), WYE_OK);
    snprintf(v, sizeof v, "%u", i);
    cr_assert_eq(wye_audit_entry_param(e, "run", v), WYE_OK);
    cr_assert_eq(wye_audit_entry_param(e, "threads", "2"), WYE_OK);
    cr_assert_eq(wye_audit_entry_count(e, "rows_read", 100 + i), WYE_OK);
    wye_audit_entry_outcome(e, WYE_OK);
    cr_assert_eq(wye_audit_append(log, e, p), WYE_OK);
    wye_audit_entry_free(e);
}

static void append_n(const char *log, wye_party *p, unsigned n)
{
    for (unsigned i = 1; i <= n; i++)
        append_one(log, p, "hash", i);
}

static const uint8_t *pk_of(const wye_party *p) { return wye_party_public_part(p)->sign_pk; }

static int verify_path(const char *log, const uint8_t *pk, wye_audit_result *res)
{
    FILE *f = fopen(log, "rb");
    cr_assert_not_null(f);
    int rc = wye_audit_verify(wye_source_file(f), pk, res);
    fclose(f);
    return rc;
}

/* The log as an array of lines (without newlines); a final partial line is
 * kept as the last element, and *partial says so. */
typedef struct lines {
    char *text;
    char *v[256];
    size_t n;
    int partial;
} lines;

static void split(const char *log, lines *l)
{
    memset(l, 0, sizeof *l);
    size_t len;
    l->text = slurp(log, &len);
    char *p = l->text, *end = l->text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        cr_assert_lt(l->n, 256);
        l->v[l->n++] = p;
        if (!nl) {
            l->partial = 1;
            break;
        }
        *nl = '\0';
        p = nl + 1;
    }
}

static void join(const char *log, char *const *v, size_t n, int last_partial)
{
    FILE *f = fopen(log, "wb");
    cr_assert_not_null(f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%s", v[i], (last_partial && i + 1 == n) ? "" : "\n");
    fclose(f);
}

static void expect_bad(const char *log, const uint8_t *pk, uint64_t first_bad,
                       uint64_t entries, const char *why)
{
    wye_audit_result res;
    cr_assert_eq(verify_path(log, pk, &res), WYE_EAUDIT);
    cr_assert_eq(res.first_bad, first_bad, "first bad %llu, expected %llu (%s)",
                 (unsigned long long)res.first_bad, (unsigned long long)first_bad, res.reason);
    cr_assert_eq(res.entries, entries, "entries %llu, expected %llu (%s)",
                 (unsigned long long)res.entries, (unsigned long long)entries, res.reason);
    cr_assert_eq(res.truncated_tail, 0);
    cr_assert_not_null(strstr(res.reason, why), "reason '%s' lacks '%s'", res.reason, why);
}

static void hash_hex(const char *s, size_t n, char out[65])
{
    uint8_t h[32];
    crypto_generichash(h, 32, (const unsigned char *)s, n, NULL, 0);
    wye_hex(h, 32, out);
}

/* ---- an untouched log ------------------------------------------------------ */

Test(audit, untouched_log_verifies_and_chains_as_specified)
{
    char log[256];
    path_in(log, sizeof log, "a.log");
    append_n(log, alice, 5);
    wye_audit_result res;
    cr_assert_eq(verify_path(log, pk_of(alice), &res), WYE_OK, "%s", res.reason);
    cr_assert_eq(res.entries, 5);
    cr_assert_eq(res.first_bad, 0);
    cr_assert_eq(res.truncated_tail, 0);
    cr_assert_str_empty(res.reason);

    struct stat st;
    cr_assert_eq(stat(log, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "a log is created 0600");

    /* The spec, recomputed independently: seq, prev (genesis, then BLAKE2b of
     * the previous line), signature over domain || canonical(entry - sig). */
    lines l;
    split(log, &l);
    cr_assert_eq(l.n, 5);
    cr_assert_eq(l.partial, 0);
    char prev[65];
    memset(prev, '0', 64);
    prev[64] = '\0';
    for (size_t i = 0; i < l.n; i++) {
        json_error_t err;
        json_t *o = json_loads(l.v[i], 0, &err);
        cr_assert_not_null(o);
        cr_assert_eq(json_integer_value(json_object_get(o, "seq")), (json_int_t)i + 1);
        cr_assert_eq(json_integer_value(json_object_get(o, "v")), 1);
        cr_assert_str_eq(json_string_value(json_object_get(o, "prev")), prev);
        char *canon = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        cr_assert_str_eq(canon, l.v[i], "a line is its canonical form");
        free(canon);
        uint8_t sig[64];
        cr_assert_eq(sodium_hex2bin(sig, 64, json_string_value(json_object_get(o, "sig")), 128,
                                    NULL, NULL, NULL),
                     0);
        json_object_del(o, "sig");
        char *u = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        size_t ul = strlen(u);
        unsigned char *msg = malloc(17 + ul);
        memcpy(msg, "wyelink-audit-v1", 17); /* with its NUL */
        memcpy(msg + 17, u, ul);
        cr_assert_eq(crypto_sign_verify_detached(sig, msg, 17 + ul, pk_of(alice)), 0);
        free(msg);
        free(u);
        json_decref(o);
        hash_hex(l.v[i], strlen(l.v[i]), prev);
    }
    free(l.text);
}

Test(audit, empty_log_is_intact_with_no_entries)
{
    wye_memsource m = {(const uint8_t *)"", 0, 0};
    wye_audit_result res;
    cr_assert_eq(wye_audit_verify(wye_source_memory(&m), pk_of(alice), &res), WYE_OK);
    cr_assert_eq(res.entries, 0);
}

/* ---- tampering -------------------------------------------------------------- */

Test(audit, edited_field_is_caught_at_its_line)
{
    char log[256];
    path_in(log, sizeof log, "a.log");
    append_n(log, alice, 5);
    lines l;
    split(log, &l);
    /* rows_read 103 -> 903 in entry 3: still canonical JSON, the signature fails. */
    char *p = strstr(l.v[2], "\"rows_read\":103");
    cr_assert_not_null(p);
    p[strlen("\"rows_read\":")] = '9';
    join(log, l.v, l.n, 0);
    expect_bad(log, pk_of(alice), 3, 2, "line 3: signature does not verify");
    free(l.text);
}

Test(audit, edited_whitespace_or_order_is_not_canonical)
{
    char log[256], edited[300000];
    path_in(log, sizeof log, "a.log");
    append_n(log, alice, 4);
    lines l;
    split(log, &l);
    /* The same JSON with a space after the first comma of entry 2. */
    char *comma = strchr(l.v[1], ',');
    snprintf(edited, sizeof edited, "%.*s, %s", (int)(comma - l.v[1]), l.v[1], comma + 1);
    char *saved = l.v[1];
    l.v[1] = edited;
    join(log, l.v, l.n, 0);
    expect_bad(log, pk_of(alice), 2, 1, "line 2: not in canonical form");
    l.v[1] = saved;
    free(l.text);
}

Test(audit, deleted_entry_is_caught_at_the_line_after_the_gap)
{
    char log[256];
    path_in(log, sizeof log, "a.log");
    append_n(log, alice, 5);
    lines l;
    split(log, &l);
    char *v[] = {l.v[0], l.v[1], l.v[3], l.v[4]};
    join(log, v, 4, 0);
    expect_bad(log, pk_of(alice), 3, 2, "line 3: sequence number 4 where 3 was expected");
    free(l.text);
}

Test(audit, deleted_first_entry_is_caught)
{
    char log[256];
    path_in(log, sizeof log, "a.log");
    append_n(log, alice, 3);
    lines l;
    split(log, &l);
    join(log, l.v + 1, 2, 0);
    expect_bad(log, pk_of(alice), 1, 0, "line 1: sequence number 2 where 1 was expected");
    free(l.text);
}

Test(audit, inserted_entry_signed_by_another_key_is_caught)
{
    char log[256], other[256];
    path_in(log, sizeof log, "a.log");
    path_in(other, sizeof other, "b.log");
    append_n(log, alice, 4);
    append_n(other, bob, 3);
    lines l, m;
    split(log, &l);
    split(other, &m);
    /* bob's third entry, properly signed by bob, as line 3 of alice's log */
    char *v[] = {l.v[0], l.v[1], m.v[2], l.v[2], l.v[3]};
    join(log, v, 5, 0);
    expect_bad(log, pk_of(alice), 3, 2, "line 3: signed by another key");
    free(l.text);
    free(m.text);
}

Test(audit, inserted_entry_signed_by_right_key_but_not_chained_is_caught)
{
    char log[256], other[256];
    path_in(log, sizeof log, "a.log");
    path_in(other, sizeof other, "a2.log");
    append_n(log, alice, 4);
    for (unsigned i = 1; i <= 3; i++) /* other runs: entries differ from log's */
        append_one(other, alice, "link", i);
    lines l, m;
    split(log, &l);
    split(other, &m);
    /* Entry seq 3 of alice's other log, inserted before entry 3: its seq is
     * the one expected there and its signature is alice's; only the chain
     * gives it away. */
    char *v[] = {l.v[0], l.v[1], m.v[2], l.v[2], l.v[3]};
    join(log, v, 5, 0);
    expect_bad(log, pk_of(alice), 3, 2, "line 3: entry 3 does not chain to the entry before it");
    free(l.text);
    free(m.text);
}

Test(audit, reordered_entries_are_caught_at_the_first_of_them)
{
    char log[256];
    path_in(log, sizeof log, "a.log");
    append_n(log, alice, 5);
    lines l;
    split(log, &l);
    char *v[] = {l.v[0], l.v[2], l.v[1], l.v[3], l.v[4]};
    join(log, v, 5, 0);
    expect_bad(log, pk_of(alice), 2, 1, "line 2: sequence number 3 where 2 was expected");
    free(l.text);
}

Test(audit, verifying_against_another_key_fails_at_line_1)
{
    char log[256];
    path_in(log, sizeof log, "a.log");
    append_n(log, alice, 2);
    expect_bad(log, pk_of(bob), 1, 0, "line 1: signed by another key");
}

Test(audit, truncated_tail_verifies_up_to_the_last_whole_entry)
{
    char log[256];
    path_in(log, sizeof log, "a.log");
    append_n(log, alice, 5);
    size_t len;
    char *text = slurp(log, &len);
    for (size_t cut = 1; cut <= 40; cut += 39) { /* the newline alone; or mid-line */
        FILE *f = fopen(log, "wb");
        fwrite(text, 1, len - cut, f);
        fclose(f);
        wye_audit_result res;
        cr_assert_eq(verify_path(log, pk_of(alice), &res), WYE_EAUDIT);
        cr_assert_eq(res.truncated_tail, 1);
        cr_assert_eq(res.first_bad, 0);
        cr_assert_eq(res.entries, 4);
        cr_assert_not_null(strstr(res.reason, "partial entry"), "%s", res.reason);
        cr_assert_not_null(strstr(res.reason, "after entry 4"), "%s", res.reason);
    }
    free(text);
}

Test(audit, a_line_that_is_not_json_in_the_middle_is_caught)
{
    char log[256];
    path_in(log, sizeof log, "a.log");
    append_n(log, alice, 4);
    lines l;
    split(log, &l);
    char junk[] = "{\"v\":1,\"seq\":3";
    char *v[] = {l.v[0], l.v[1], junk, l.v[2], l.v[3]};
    join(log, v, 5, 0);
    expect_bad(log, pk_of(alice), 3, 2, "line 3: not a whole entry");
    free(l.text);
}

Test(audit, overlong_line_is_refused)
{
    size_t n = (1u << 20) + 10;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\n';
    wye_memsource m = {(const uint8_t *)big, n + 1, 0};
    wye_audit_result res;
    cr_assert_eq(wye_audit_verify(wye_source_memory(&m), pk_of(alice), &res), WYE_EAUDIT);
    cr_assert_eq(res.first_bad, 1);
    cr_assert_not_null(strstr(res.reason, "longer than 1 MiB"));
    free(big);
}

/* ---- the crash case --------------------------------------------------------- */

Test(audit, partial_last_line_is_recorded_by_the_next_append)
{
    char log[256];
    path_in(log, sizeof log, "a.log");
    append_n(log, alice, 4);
    size_t len;
    char *text = slurp(log, &len);
    /* A crash part-way through entry 4: 30 bytes of it are missing. */
    FILE *f = fopen(log, "wb");
    fwrite(text, 1, len - 30, f);
    fclose(f);
    lines before;
    split(log, &before);
    cr_assert_eq(before.partial, 1);
    size_t fragment = strlen(before.v[3]);
    wye_audit_result res;
    cr_assert_eq(verify_path(log, pk_of(alice), &res), WYE_EAUDIT);
    cr_assert_eq(res.truncated_tail, 1);
    cr_assert_eq(res.entries, 3);

    append_one(log, alice, "hash", 5);
    cr_assert_eq(verify_path(log, pk_of(alice), &res), WYE_OK, "%s", res.reason);
    cr_assert_eq(res.entries, 4);
    cr_assert_not_null(strstr(res.reason, "1 interrupted write"), "%s", res.reason);
    cr_assert_not_null(strstr(res.reason, "line 4"), "%s", res.reason);

    /* The new entry is seq 4, chained to entry 3, and records the fragment
     * plus the newline that closed it. */
    lines l;
    split(log, &l);
    cr_assert_eq(l.n, 5);
    cr_assert_eq(l.partial, 0);
    json_t *o = json_loads(l.v[4], 0, NULL);
    cr_assert_eq(json_integer_value(json_object_get(o, "seq")), 4);
    char h[65];
    hash_hex(l.v[2], strlen(l.v[2]), h);
    cr_assert_str_eq(json_string_value(json_object_get(o, "prev")), h);
    json_t *r = json_object_get(o, "recovered");
    cr_assert_eq(json_integer_value(json_object_get(r, "bytes")), (json_int_t)fragment + 1);
    char *frag = malloc(fragment + 2);
    memcpy(frag, before.v[3], fragment);
    frag[fragment] = '\n';
    hash_hex(frag, fragment + 1, h);
    cr_assert_str_eq(json_string_value(json_object_get(r, "blake2b")), h);
    free(frag);
    json_decref(o);

    /* Altering the recorded fragment is caught at its line. */
    l.v[3][5] ^= 1;
    join(log, l.v, l.n, 0);
    expect_bad(log, pk_of(alice), 4, 3, "not the bytes that the entry at line 5 records");
    free(l.text);
    free(before.text);
    free(text);
}

Test(audit, missing_final_newline_is_completed_not_recovered)
{
    char log[256];
    path_in(log, sizeof log, "a.log");
    append_n(log, alice, 3);
    size_t len;
    char *text = slurp(log, &len);
    FILE *f = fopen(log, "wb");
    fwrite(text, 1, len - 1, f);
    fclose(f);
    append_one(log, alice, "hash", 4);
    wye_audit_result res;
    cr_assert_eq(verify_path(log, pk_of(alice), &res), WYE_OK, "%s", res.reason);
    cr_assert_eq(res.entries, 4);
    cr_assert_str_empty(res.reason);
    free(text);
}

Test(audit, a_log_of_nothing_but_a_fragment_restarts_at_genesis)
{
    char log[256];
    path_in(log, sizeof log, "a.log");
    write_file(log, "{\"v\":1,\"se");
    append_one(log, alice, "keys create", 1);
    wye_audit_result res;
    cr_assert_eq(verify_path(log, pk_of(alice), &res), WYE_OK, "%s", res.reason);
    cr_assert_eq(res.entries, 1);
    cr_assert_not_null(strstr(res.reason, "first at line 1"), "%s", res.reason);
}

Test(audit, append_refuses_an_altered_tail_and_another_partys_log)
{
    char log[256];
    path_in(log, sizeof log, "a.log");
    append_n(log, alice, 3);
    size_t len0;
    char *orig = slurp(log, &len0);
    /* bob may not chain onto alice's log */
    wye_audit_entry *e;
    cr_assert_eq(wye_audit_entry_new("hash", &e), WYE_OK);
    wye_audit_entry_outcome(e, WYE_OK);
    cr_assert_eq(wye_audit_append(log, e, bob), WYE_EAUDITOWNER);
    /* nor alice onto an edited last entry (whole JSON, bad signature) */
    lines l;
    split(log, &l);
    char *p = strstr(l.v[2], "\"rows_read\":103");
    p[strlen("\"rows_read\":")] = '7';
    join(log, l.v, l.n, 0);
    size_t len1;
    char *edited = slurp(log, &len1);
    cr_assert_eq(wye_audit_append(log, e, alice), WYE_EAUDIT);
    size_t len2;
    char *after = slurp(log, &len2);
    cr_assert_eq(len2, len1, "a refused append writes nothing");
    cr_assert_eq(memcmp(after, edited, len1), 0);
    wye_audit_entry_free(e);
    free(orig);
    free(edited);
    free(after);
    free(l.text);
}

/* ---- concurrent appenders ---------------------------------------------------- */

Test(audit, concurrent_appenders_never_interleave)
{
    enum { WRITERS = 4, EACH = 25 };
    char log[256];
    path_in(log, sizeof log, "shared.log");
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        cr_assert_neq(pids[w], -1);
        if (pids[w] == 0) {
            int ok = 1;
            for (int i = 0; i < EACH && ok; i++) {
                wye_audit_entry *e;
                char v[16];
                ok = wye_audit_entry_new("hash", &e) == WYE_OK;
                snprintf(v, sizeof v, "%d", w);
                ok = ok && wye_audit_entry_param(e, "writer", v) == WYE_OK;
                snprintf(v, sizeof v, "%d", i);
                ok = ok && wye_audit_entry_param(e, "n", v) == WYE_OK;
                wye_audit_entry_outcome(e, WYE_OK);
                ok = ok && wye_audit_append(log, e, alice) == WYE_OK;
                wye_audit_entry_free(e);
            }
            _exit(ok ? 0 : 1);
        }
    }
    for (int w = 0; w < WRITERS; w++) {
        int st;
        cr_assert_eq(waitpid(pids[w], &st, 0), pids[w]);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer %d failed", w);
    }
    wye_audit_result res;
    cr_assert_eq(verify_path(log, pk_of(alice), &res), WYE_OK, "%s", res.reason);
    cr_assert_eq(res.entries, WRITERS * EACH);
    cr_assert_str_empty(res.reason, "no recovered fragments: %s", res.reason);
    /* Each writer's entries appear whole and in its own order. */
    lines l;
    split(log, &l);
    cr_assert_eq(l.n, WRITERS * EACH);
    int next[WRITERS] = {0};
    for (size_t i = 0; i < l.n; i++) {
        json_t *o = json_loads(l.v[i], 0, NULL);
        cr_assert_not_null(o);
        json_t *pr = json_object_get(o, "params");
        int w = atoi(json_string_value(json_object_get(pr, "writer")));
        int n = atoi(json_string_value(json_object_get(pr, "n")));
        cr_assert(w >= 0 && w < WRITERS);
        cr_assert_eq(n, next[w]++);
        json_decref(o);
    }
    free(l.text);
}

/* ---- what an entry holds ------------------------------------------------------ */

Test(audit, entry_holds_only_what_was_given)
{
    char log[256], in[256], out[256];
    path_in(log, sizeof log, "a.log");
    path_in(in, sizeof in, "police_extract.csv");
    path_in(out, sizeof out, "police.wye");
    /* An extract with identifiers: none may reach the log. */
    write_file(in, "id,given,family,dob,postcode,nhs\n1,Zebedee,Quartermaine,1980-02-29,"
                   "HR4 9QX,9434765919\n");
    write_file(out, "not really an encoded file");
    setenv("WYE_TEST_CANARY", "canary-value-3141", 1);

    uint8_t fp[WYE_FINGERPRINT_BYTES], kid[WYE_KEY_ID_BYTES];
    for (size_t i = 0; i < sizeof fp; i++)
        fp[i] = (uint8_t)(0xa0 + i);
    for (size_t i = 0; i < sizeof kid; i++)
        kid[i] = (uint8_t)(0x10 + i);
    wye_audit_entry *e;
    cr_assert_eq(wye_audit_entry_new("hash", &e), WYE_OK);
    cr_assert_eq(wye_audit_entry_param(e, "threads", "2"), WYE_OK);
    cr_assert_eq(wye_audit_entry_param(e, "extract_date", "2023-03-31"), WYE_OK);
    cr_assert_eq(wye_audit_entry_param(e, "map", "/data/police.map.json"), WYE_OK);
    cr_assert_eq(wye_audit_entry_input(e, in), WYE_OK);
    cr_assert_eq(wye_audit_entry_output(e, out), WYE_OK);
    cr_assert_eq(wye_audit_entry_count(e, "rows_read", 1), WYE_OK);
    cr_assert_eq(wye_audit_entry_count(e, "rows_rejected", 0), WYE_OK);
    cr_assert_eq(wye_audit_entry_protocol(e, fp, kid), WYE_OK);
    wye_audit_entry_outcome(e, WYE_ECSV);
    cr_assert_eq(wye_audit_append(log, e, alice), WYE_OK);
    wye_audit_entry_free(e);

    size_t len;
    char *line = slurp(log, &len);
    cr_assert_eq(line[len - 1], '\n');
    static const char *const leaks[] = {"Zebedee", "Quartermaine", "1980-02-29", "HR4",
                                        "9434765919", "canary-value-3141"};
    for (size_t i = 0; i < sizeof leaks / sizeof leaks[0]; i++)
        cr_assert_null(strstr(line, leaks[i]), "the log holds '%s'", leaks[i]);
    /* no secret key material, in any encoding we write */
    char skhex[2 * WYE_SIGN_SK_BYTES + 1];
    wye_hex(wye_party_sign_sk(alice), 32, skhex); /* the seed half */
    cr_assert_null(strstr(line, skhex));
    wye_hex(wye_party_box_sk(alice), 32, skhex);
    cr_assert_null(strstr(line, skhex));

    json_t *o = json_loads(line, 0, NULL);
    cr_assert_not_null(o);
    const char *want[] = {"command", "counts", "host", "inputs", "key_id", "outcome",
                          "outputs", "params", "prev", "protocol", "seq", "sig",
                          "signer", "time", "user", "v", "version"};
    cr_assert_eq(json_object_size(o), sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert_not_null(json_object_get(o, want[i]), "member %s", want[i]);
    /* exactly the parameters and counts given */
    json_t *exp = json_pack("{s:s, s:s, s:s}", "threads", "2", "extract_date", "2023-03-31",
                            "map", "/data/police.map.json");
    cr_assert(json_equal(json_object_get(o, "params"), exp));
    json_decref(exp);
    exp = json_pack("{s:i, s:i}", "rows_read", 1, "rows_rejected", 0);
    cr_assert(json_equal(json_object_get(o, "counts"), exp));
    json_decref(exp);
    cr_assert_str_eq(json_string_value(json_object_get(o, "command")), "hash");
    cr_assert_str_eq(json_string_value(json_object_get(o, "version")), wye_version());
    cr_assert_str_eq(json_string_value(json_object_get(o, "protocol")),
                     "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf");
    cr_assert_str_eq(json_string_value(json_object_get(o, "key_id")), "1011121314151617");
    exp = json_pack("{s:i, s:s}", "code", WYE_ECSV, "message", "malformed CSV");
    cr_assert(json_equal(json_object_get(o, "outcome"), exp));
    json_decref(exp);
    /* user and host are the OS's, not the environment's */
    struct passwd *pw = getpwuid(geteuid());
    cr_assert_str_eq(json_string_value(json_object_get(o, "user")), pw->pw_name);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    cr_assert_str_eq(json_string_value(json_object_get(o, "host")), host);
    /* the signer, by public key only */
    char pkhex[65];
    wye_hex(pk_of(alice), 32, pkhex);
    exp = json_pack("{s:s, s:s, s:s}", "name", "police", "role", "agency", "pk", pkhex);
    cr_assert(json_equal(json_object_get(o, "signer"), exp));
    json_decref(exp);
    /* files by path, size and BLAKE2b-256 */
    json_t *fin = json_array_get(json_object_get(o, "inputs"), 0);
    uint8_t d[32];
    char dh[65];
    cr_assert_eq(wye_file_digest(in, d), WYE_OK);
    wye_hex(d, 32, dh);
    cr_assert_str_eq(json_string_value(json_object_get(fin, "path")), in);
    cr_assert_str_eq(json_string_value(json_object_get(fin, "blake2b")), dh);
    struct stat st;
    stat(in, &st);
    cr_assert_eq(json_integer_value(json_object_get(fin, "bytes")), st.st_size);
    cr_assert_eq(json_object_size(fin), 3);
    cr_assert_eq(json_array_size(json_object_get(o, "outputs")), 1);
    const char *t = json_string_value(json_object_get(o, "time"));
    cr_assert_eq(strlen(t), 20);
    cr_assert_eq(t[10], 'T');
    cr_assert_eq(t[19], 'Z');
    json_decref(o);
    free(line);
    unsetenv("WYE_TEST_CANARY");
}

/* A path through folders whose names mix case and digits (what mktemp
 * makes) is not key material; a key is, even as a path component. */
Test(audit, paths_are_checked_component_by_component)
{
    wye_audit_entry *e;
    cr_assert_eq(wye_audit_entry_new("link", &e), WYE_OK);
    const char *tmp = "/tmp/tmp.X0f5UkCjc0/protocols/archive/wyelink-da-default-1.json";
    cr_assert_eq(wye_audit_entry_param(e, "protocol", tmp), WYE_EINVAL,
                 "as a plain value the run of base64 characters looks like a key");
    cr_assert_eq(wye_audit_entry_path(e, "protocol", tmp), WYE_OK);
    const char *b64 = "/keys/n4bQgYhMfWWaL+qgxVrQFaO0TxsrC4Is0V1sFbDwCgg=";
    const char *hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    cr_assert_eq(wye_audit_entry_path(e, "key", b64), WYE_EINVAL);
    cr_assert_eq(wye_audit_entry_path(e, "key", hex), WYE_EINVAL);
    cr_assert_eq(wye_audit_entry_path(e, "out", "a\nb"), WYE_EINVAL);
    cr_assert_eq(wye_audit_entry_path(e, "out", "result/"), WYE_OK);
    wye_audit_entry_free(e);
}

Test(audit, parameters_that_look_secret_or_are_malformed_are_refused)
{
    wye_audit_entry *e;
    cr_assert_eq(wye_audit_entry_new("hash", &e), WYE_OK);
    char longv[300];
    memset(longv, 'z', 257);
    longv[257] = '\0';
    cr_assert_eq(wye_audit_entry_param(e, "note", longv), WYE_EINVAL);
    longv[256] = '\0';
    cr_assert_eq(wye_audit_entry_param(e, "note", longv), WYE_OK, "256 bytes is allowed");
    /* a 32-byte key in hex, and in base64 */
    cr_assert_eq(wye_audit_entry_param(e, "x", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822c"
                                                "d15d6c15b0f00a08"),
                 WYE_EINVAL);
    cr_assert_eq(wye_audit_entry_param(e, "x", "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="),
                 WYE_EINVAL);
    cr_assert_eq(wye_audit_entry_param(e, "x", "a\nb"), WYE_EINVAL);
    cr_assert_eq(wye_audit_entry_param(e, "x", "\xff\xfe"), WYE_EUTF8);
    cr_assert_eq(wye_audit_entry_param(e, "bad name", "1"), WYE_EINVAL);
    cr_assert_eq(wye_audit_entry_param(e, "", "1"), WYE_EINVAL);
    /* ordinary values pass: paths, dates, numbers */
    cr_assert_eq(wye_audit_entry_param(e, "input", "/srv/agency/police_extract_2023-03-31.csv"),
                 WYE_OK);
    cr_assert_eq(wye_audit_entry_param(e, "threshold", "0.85"), WYE_OK);
    cr_assert_eq(wye_audit_entry_count(e, "big", (uint64_t)INT64_MAX + 1), WYE_ERANGE);
    cr_assert_eq(wye_audit_entry_input(e, "/no/such/file"), WYE_ENOTFOUND);
    wye_audit_entry_free(e);
    cr_assert_eq(wye_audit_entry_new("Bad\ncommand", &e), WYE_EINVAL);
    cr_assert_null(e);
    cr_assert_eq(wye_audit_entry_new(" keys", &e), WYE_EINVAL);
    cr_assert_eq(wye_audit_entry_new("keys create", &e), WYE_OK);
    char log[256];
    path_in(log, sizeof log, "a.log");
    cr_assert_eq(wye_audit_append(log, e, alice), WYE_ESTATE, "the outcome must be set");
    wye_audit_entry_free(e);
    wye_audit_entry_free(NULL);
}

/* ---- the commands -------------------------------------------------------------- */

static int run(const char *args, char *out, size_t n)
{
    const char *w = getenv("WYELINK");
    cr_assert_not_null(w, "WYELINK is not set (run through meson test)");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s 2>&1", dir, w, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t got = fread(out, 1, n - 1, p);
    out[got] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void save_public(wye_party *p, const char *name)
{
    char sec[256], pub[256];
    snprintf(sec, sizeof sec, "%s/%s.key", dir, name);
    snprintf(pub, sizeof pub, "%s/%s.pub", dir, name);
    cr_assert_eq(wye_party_save(p, sec, pub), WYE_OK);
}

Test(audit, verify_command_reports_intact_and_the_first_bad_line)
{
    char log[256], out[8192];
    path_in(log, sizeof log, "a.log");
    append_n(log, alice, 3);
    save_public(alice, "police");
    save_public(bob, "housing");
    cr_assert_eq(run("audit verify a.log --signer police.pub", out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "a.log: intact, 3 entries signed by police"), "%s", out);
    lines l;
    split(log, &l);
    char h[65], want[100];
    hash_hex(l.v[2], strlen(l.v[2]), h);
    snprintf(want, sizeof want, "last entry hash %s", h);
    cr_assert_not_null(strstr(out, want), "%s", out);

    cr_assert_eq(run("audit verify a.log --signer housing.pub", out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "NOT INTACT: line 1: signed by another key"), "%s", out);

    char *v[] = {l.v[0], l.v[2], l.v[1]};
    join(log, v, 3, 0);
    cr_assert_eq(run("audit verify a.log --signer police.pub", out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "first bad line: 2; 1 entries before it verified"), "%s", out);
    cr_assert_not_null(strstr(out, "sequence number 3 where 2 was expected"), "%s", out);

    cr_assert_eq(run("audit verify a.log", out, sizeof out), 2);
    cr_assert_not_null(strstr(out, "'--signer'"), "%s", out);
    cr_assert_eq(run("audit verify nosuch.log --signer police.pub", out, sizeof out), 1);
    cr_assert_not_null(strstr(out, "cannot verify 'nosuch.log'"), "%s", out);
    free(l.text);
}

Test(audit, show_command_filters_and_prints_json)
{
    char log[256], in[256], out[16384];
    path_in(log, sizeof log, "a.log");
    path_in(in, sizeof in, "x.csv");
    write_file(in, "abc");
    wye_audit_entry *e;
    cr_assert_eq(wye_audit_entry_new("keys create", &e), WYE_OK);
    wye_audit_entry_outcome(e, WYE_OK);
    cr_assert_eq(wye_audit_append(log, e, alice), WYE_OK);
    wye_audit_entry_free(e);
    cr_assert_eq(wye_audit_entry_new("hash", &e), WYE_OK);
    cr_assert_eq(wye_audit_entry_input(e, in), WYE_OK);
    cr_assert_eq(wye_audit_entry_count(e, "rows_read", 7), WYE_OK);
    wye_audit_entry_outcome(e, WYE_ECSV);
    cr_assert_eq(wye_audit_append(log, e, alice), WYE_OK);
    wye_audit_entry_free(e);

    cr_assert_eq(run("audit show a.log", out, sizeof out), 0, "%s", out);
    /* BLAKE2b-256("abc"), first 12 hex digits */
    cr_assert_not_null(strstr(out, "bddd813c6342"), "%s", out);
    cr_assert_not_null(strstr(out, "rows_read=7"), "%s", out);
    cr_assert_not_null(strstr(out, "error -14: malformed CSV"), "%s", out);
    cr_assert_not_null(strstr(out, "keys create"), "%s", out);
    cr_assert_not_null(strstr(out, "2 entries shown"), "%s", out);

    cr_assert_eq(run("audit show a.log --command hash --party police", out, sizeof out), 0);
    cr_assert_not_null(strstr(out, "1 entries shown"), "%s", out);
    cr_assert_eq(run("audit show a.log --party housing", out, sizeof out), 0);
    cr_assert_not_null(strstr(out, "0 entries shown"), "%s", out);
    cr_assert_eq(run("audit show a.log --until 2000-01-01", out, sizeof out), 0);
    cr_assert_not_null(strstr(out, "0 entries shown"), "%s", out);
    cr_assert_eq(run("audit show a.log --since 2000-01-01 --until 2999-12-31", out, sizeof out),
                 0);
    cr_assert_not_null(strstr(out, "2 entries shown"), "%s", out);

    cr_assert_eq(run("audit show a.log --json --command hash", out, sizeof out), 0);
    lines l;
    split(log, &l);
    char want[8192];
    snprintf(want, sizeof want, "%s\n", l.v[1]);
    cr_assert_str_eq(out, want, "--json prints the entry unchanged");
    free(l.text);

    cr_assert_eq(run("audit show a.log --since 2024-13-01", out, sizeof out), 2);
    cr_assert_not_null(strstr(out, "'--since'"), "%s", out);
}

/* A hash run by agency p writing out (a file with text), under fingerprint
 * byte fpb; then the files exist with those bytes. */
static void hash_run(const char *log, wye_party *p, const char *out, const char *text,
                     uint8_t fpb)
{
    uint8_t fp[WYE_FINGERPRINT_BYTES], kid[WYE_KEY_ID_BYTES];
    memset(fp, fpb, sizeof fp);
    memset(kid, 7, sizeof kid);
    write_file(out, text);
    wye_audit_entry *e;
    cr_assert_eq(wye_audit_entry_new("hash", &e), WYE_OK);
    cr_assert_eq(wye_audit_entry_output(e, out), WYE_OK);
    cr_assert_eq(wye_audit_entry_protocol(e, fp, kid), WYE_OK);
    wye_audit_entry_outcome(e, WYE_OK);
    cr_assert_eq(wye_audit_append(log, e, p), WYE_OK);
    wye_audit_entry_free(e);
}

static void link_run(const char *log, wye_party *p, const char *const *inputs, size_t n)
{
    uint8_t fp[WYE_FINGERPRINT_BYTES], kid[WYE_KEY_ID_BYTES];
    memset(fp, 1, sizeof fp);
    memset(kid, 7, sizeof kid);
    wye_audit_entry *e;
    cr_assert_eq(wye_audit_entry_new("link", &e), WYE_OK);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(wye_audit_entry_input(e, inputs[i]), WYE_OK);
    cr_assert_eq(wye_audit_entry_protocol(e, fp, kid), WYE_OK);
    wye_audit_entry_count(e, "persons", 3);
    wye_audit_entry_outcome(e, WYE_OK);
    cr_assert_eq(wye_audit_append(log, e, p), WYE_OK);
    wye_audit_entry_free(e);
}

Test(audit, trace_matches_inputs_and_flags_missing_and_foreign_producers)
{
    wye_party *lu;
    cr_assert_eq(wye_party_create("linkage-unit", "linkage-unit", &lu), WYE_OK);
    char pol[256], hou[256], lul[256], a[256], b[256], c[256], d[256], proto[256];
    path_in(pol, sizeof pol, "police.log");
    path_in(hou, sizeof hou, "housing.log");
    path_in(lul, sizeof lul, "lu.log");
    path_in(a, sizeof a, "police.wye");
    path_in(b, sizeof b, "housing.wye");
    path_in(c, sizeof c, "old.wye");
    path_in(d, sizeof d, "stranger.wye");
    path_in(proto, sizeof proto, "protocol.json");
    hash_run(pol, alice, a, "police encoded bytes", 1);
    hash_run(hou, bob, b, "housing encoded bytes", 1);
    hash_run(hou, bob, c, "housing under an old protocol", 2);
    write_file(d, "bytes no agency wrote");
    write_file(proto, "{}");

    char out[16384];
    /* all matched */
    link_run(lul, lu, (const char *const[]){a, b, proto}, 3);
    cr_assert_eq(run("audit trace --linkage lu.log --agency police.log --agency housing.log",
                     out, sizeof out),
                 0, "%s", out);
    cr_assert_not_null(strstr(out, "<- police seq 1 hash"), "%s", out);
    cr_assert_not_null(strstr(out, "<- housing seq 1 hash"), "%s", out);
    cr_assert_not_null(strstr(out, "not an encoded file (not traced)"), "%s", out);
    cr_assert_not_null(strstr(out, "2 encoded inputs traced in 1 link entries, 0 flagged"), "%s",
                       out);

    /* a second link with an input from another protocol and one from nowhere */
    link_run(lul, lu, (const char *const[]){a, c, d}, 3);
    cr_assert_eq(run("audit trace --linkage lu.log --agency police.log --agency housing.log",
                     out, sizeof out),
                 1, "%s", out);
    cr_assert_not_null(strstr(out, "FLAG OTHER PROTOCOL: written under 020202020202"), "%s", out);
    cr_assert_not_null(strstr(out, "stranger.wye"), "%s", out);
    cr_assert_not_null(strstr(out, "FLAG NO PRODUCER"), "%s", out);
    cr_assert_not_null(strstr(out, "5 encoded inputs traced in 2 link entries, 2 flagged"), "%s",
                       out);

    /* without housing's log its files have no producer */
    cr_assert_eq(run("audit trace --linkage lu.log --agency police.log", out, sizeof out), 1);
    cr_assert_not_null(strstr(out, "5 encoded inputs traced in 2 link entries, 3 flagged"), "%s", out);

    /* a tampered agency log is flagged itself */
    lines l;
    split(hou, &l);
    char *v[] = {l.v[1], l.v[0]};
    join(hou, v, 2, 0);
    cr_assert_eq(run("audit trace --linkage lu.log --agency police.log --agency housing.log",
                     out, sizeof out),
                 1);
    cr_assert_not_null(strstr(out, "housing.log: not intact: line 1"), "%s", out);
    free(l.text);

    cr_assert_eq(run("audit trace --agency police.log", out, sizeof out), 2);
    cr_assert_not_null(strstr(out, "'--linkage'"), "%s", out);
    cr_assert_eq(run("audit trace --linkage lu.log", out, sizeof out), 2);
    cr_assert_not_null(strstr(out, "'--agency'"), "%s", out);
    wye_party_free(lu);
}
