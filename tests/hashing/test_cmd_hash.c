/* `wyelink hash` end to end: the summary's exact counts and line numbers,
 * the encoded file opened by the linkage unit and compared record by record
 * with the library's encoding, 1 vs 2 threads byte-identical, errors, and a
 * search of every output for every input identifier. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hashtest.h"
#include "wyelink/audit.h"
#include "wyelink/colmap.h"
#include "wyelink/encfile.h"
#include "wyelink/encoder.h"
#include "wyelink/io.h"

static char *dir;
static wye_party *agency, *lu;
static char *agency_key, *lu_pub, *secret_path, *map_path, *log_path;

static char *P(const char *name) { return ht_path(dir, name); }

static void setup(void)
{
    cr_assert_eq(wye_crypto_init(), WYE_OK);
    dir = ht_tmpdir();
    cr_assert_eq(wye_party_create("police", "agency", &agency), WYE_OK);
    cr_assert_eq(wye_party_create("lu", "linkage-unit", &lu), WYE_OK);
    agency_key = P("police.key");
    char *agency_pub = P("police.pub"), *lu_key = P("lu.key");
    lu_pub = P("lu.pub");
    cr_assert_eq(wye_party_save(agency, agency_key, agency_pub), WYE_OK);
    cr_assert_eq(wye_party_save(lu, lu_key, lu_pub), WYE_OK);
    free(agency_pub);
    free(lu_key);
    secret_path = ht_secret_file(dir);
    log_path = P("audit.log");
    map_path = P("police.map.json");
    static const char map[] =
        "{\"format\":\"wyelink-column-map\",\"version\":1,\"agency\":\"police\","
        "\"local_id\":\"Ref\",\"columns\":["
        "{\"column\":\"Forename\",\"field\":\"given_name\"},"
        "{\"column\":\"Surname\",\"field\":\"family_name\"},"
        "{\"column\":\"DOB\",\"field\":\"date_of_birth\",\"date_format\":\"DD/MM/YYYY\"},"
        "{\"column\":\"Sex\",\"field\":\"sex\"},"
        "{\"column\":\"Postcode\",\"field\":\"postcode\"},"
        "{\"column\":\"NHS\",\"field\":\"nhs_number\"},"
        "{\"column\":\"Service\",\"attribute\":\"service_type\"}]}";
    ht_write(map_path, map, sizeof map - 1, 0644);
}

static void teardown(void)
{
    /* leave nothing behind: the folder holds keys and test identifiers */
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
    wye_party_free(agency);
    wye_party_free(lu);
    free(dir);
    free(agency_key);
    free(lu_pub);
    free(secret_path);
    free(map_path);
    free(log_path);
}

TestSuite(cmd_hash, .init = setup, .fini = teardown);

/* Run `wyelink hash` on input with the test's keys; extra options appended.
 * stdout and stderr go to files in dir. Returns the exit status. */
static int run_hash(const char *input, const char *out, const char *local_map,
                    const char *extra)
{
    const char *w = getenv("WYELINK");
    cr_assert_not_null(w, "WYELINK is not set");
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && '%s' hash --input '%s' --map '%s' --secret '%s' --key '%s' --to '%s' "
             "--out '%s' --local-map '%s' --extract-date 2024-03-31 --audit-log '%s' %s "
             ">stdout.txt 2>stderr.txt",
             dir, w, input, map_path, secret_path, agency_key, lu_pub, out, local_map, log_path,
             extra ? extra : "");
    int st = system(cmd);
    cr_assert(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static char *slurp(const char *name, size_t *len)
{
    char *path = name[0] == '/' ? strdup(name) : P(name), *text = NULL;
    size_t n = 0;
    int rc = wye_read_file(path, 1u << 30, &text, &n);
    cr_assert_eq(rc, WYE_OK, "read %s", path);
    free(path);
    if (len)
        *len = n;
    return text;
}

/* Open an encoded file as the linkage unit; return its records. */
static uint8_t *open_wye(const char *name, wye_encfile_meta *meta, uint64_t *n)
{
    size_t len;
    char *data = slurp(name, &len);
    wye_memsource ms = {(const uint8_t *)data, len, 0};
    wye_trust *t;
    cr_assert_eq(wye_trust_new(&t), WYE_OK);
    cr_assert_eq(wye_trust_add(t, wye_party_public_part(agency)), WYE_OK);
    wye_encreader *r;
    cr_assert_eq(wye_encreader_open(wye_source_memory(&ms), lu, t, &r), WYE_OK);
    *meta = *wye_encreader_meta(r);
    wye_membuf b = {0};
    const uint8_t *rec;
    int rc;
    uint64_t k = 0;
    while ((rc = wye_encreader_next(r, &rec)) == 1) {
        cr_assert_eq(wye_sink_memory(&b).write(&b, rec, meta->record_size), WYE_OK);
        k++;
    }
    cr_assert_eq(rc, 0, "reader: %s", wye_strerror(rc));
    wye_encreader_free(r);
    wye_trust_free(t);
    free(data);
    *n = k;
    return b.data;
}

/* ---- the small file: exact counts, lines and records ---- */

/* Distinctive identifiers, searched for in every output. */
static const char csv_small[] =
    "Ref,Forename,Surname,DOB,Sex,Postcode,NHS,Service,Notes\n"
    "A1,Zebulonia,Quillfeather,17/08/1991,F,HR1 2AB,943 476 5919,refuge,none\n"
    "A2,Marigoldine,Thistlewaite,03/02/1985,Female,WR13 4YH,,outreach,\"a note\n"
    "over two lines, with a comma\"\n"
    "A3,Ottoline,,,,,,,\n"                                 /* line 5: a name only */
    "A4,,,01/01/1970,M,,,,\n"                              /* line 6: no name */
    "A1,Zebulonia,Quillfeather,17/08/1991,F,HR1 2AB,,,\n" /* line 7: duplicate id */
    ",Persephonia,Blackwoodley,05/05/1975,F,,,,\n"         /* line 8: no local id */
    "A9,Euphrasia\n"                                        /* line 9: 2 fields */
    "A10,Araminta,Fennimore,31/02/1990,X,ZZ99 3VZ,4010232138,shelter,\n" /* name only */
    "A11,Clementhia,Wolstenholme,09/09/1999,U,SW1A 2AA,4010232137,,\n"
    "\n"
    "A12,Georgiana-Mae,O'Shaughnessy,29/02/2000,F,EC1A1BB,,helpline,\n"
    "A13,Lavinia,\"Brookshaw\"x,01/01/1980,F,,,,\n"; /* line 14: malformed quoting */

static const char *const identifiers[] = {
    "Zebulonia", "Quillfeather", "Marigoldine", "Thistlewaite", "Ottoline", "Persephonia",
    "Blackwoodley", "Euphrasia", "Araminta", "Fennimore", "Clementhia", "Wolstenholme",
    "Georgiana", "Shaughnessy", "Lavinia", "Brookshaw", "OSHAUGHNESSY", "GEORGIANAMAE", "17/08/1991", "19910817",
    "03/02/1985", "19850203", "01/01/1970", "05/05/1975", "31/02/1990", "09/09/1999",
    "19990909", "29/02/2000", "20000229", "HR1 2AB", "HR12AB", "WR13 4YH", "WR134YH",
    "ZZ99 3VZ", "SW1A 2AA", "SW1A2AA", "EC1A1BB", "EC1A 1BB", "943 476 5919", "9434765919",
    "4010232138", "4010232137", NULL};

/* Case-insensitive search: lower-case copies and memmem. */
static bool contains_ci(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    char *h = malloc(n + 1), *nd = malloc(m + 1);
    for (size_t i = 0; i < n; i++)
        h[i] = (char)tolower((unsigned char)hay[i]);
    for (size_t i = 0; i < m; i++)
        nd[i] = (char)tolower((unsigned char)needle[i]);
    bool found = m <= n && memmem(h, n, nd, m) != NULL;
    free(h);
    free(nd);
    return found;
}

/* The same over a text already lower-cased once. */
static char *lower_copy(const char *s, size_t n)
{
    char *l = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        l[i] = (char)tolower((unsigned char)s[i]);
    l[n] = 0;
    return l;
}

static bool contains_lower(const char *lower_hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    char nd[256];
    if (m >= sizeof nd || m > n)
        return false;
    for (size_t i = 0; i < m; i++)
        nd[i] = (char)tolower((unsigned char)needle[i]);
    return memmem(lower_hay, n, nd, m) != NULL;
}

static void expect_no_identifier(const char *what, const char *data, size_t n)
{
    for (const char *const *id = identifiers; *id; id++)
        cr_expect(!contains_ci(data, n, *id), "%s contains input identifier number %d", what,
                  (int)(id - identifiers));
}

Test(cmd_hash, small_file_counts_records_and_no_leak)
{
    char *in = P("police.csv");
    ht_write(in, csv_small, sizeof csv_small - 1, 0600);
    int st = run_hash(in, "police.wye", "police.local.csv", "--summary-json summary.json");
    size_t n;
    char *err = slurp("stderr.txt", &n);
    cr_assert_eq(st, 0, "exit %d: %s", st, err);
    cr_expect_eq(n, 0, "stderr: %s", err);
    free(err);

    /* the summary JSON: exact counts and lines */
    json_error_t je;
    char *sj = slurp("summary.json", NULL);
    json_t *s = json_loads(sj, 0, &je);
    cr_assert_not_null(s);
    cr_expect_eq(json_integer_value(json_object_get(s, "rows_read")), 11);
    cr_expect_eq(json_integer_value(json_object_get(s, "rows_encoded")), 4);
    cr_expect_eq(json_integer_value(json_object_get(s, "rows_rejected")), 7);
    cr_expect_eq(json_integer_value(json_object_get(s, "blank_lines")), 1);
    json_t *rows = json_object_get(s, "rejected_rows");
    static const struct {
        int line;
        const char *why;
    } want[] = {{5, "a name but no date of birth, postcode, address, other id or nhs number"},
                {6, "no name and no nhs number"},
                {7, "local id repeats an earlier row"},
                {8, "no local id"},
                {9, "wrong number of fields"},
                {10, "a name but no date of birth, postcode, address, other id or nhs number"},
                {14, "malformed quoting (the rest of its line was skipped)"}};
    cr_assert_eq(json_array_size(rows), 7);
    for (size_t i = 0; i < 7; i++) {
        json_t *r = json_array_get(rows, i);
        cr_expect_eq(json_integer_value(json_object_get(r, "line")), want[i].line, "row %zu", i);
        cr_expect_str_eq(json_string_value(json_object_get(r, "reason")), want[i].why);
    }
    /* fields are counted over the 9 rows with the right number of fields */
    json_t *nhs = json_object_get(json_object_get(s, "fields"), "nhs_number");
    cr_expect_eq(json_integer_value(json_object_get(nhs, "present")), 2);
    cr_expect_eq(json_integer_value(json_object_get(nhs, "invalid")), 1);
    cr_expect_eq(json_integer_value(json_object_get(
                     json_object_get(nhs, "invalid_reasons"), "check digit fails (modulus 11)")),
                 1);
    /* invalid values by line and field, in input order */
    json_t *inv = json_object_get(s, "invalid_values");
    static const struct {
        int line;
        const char *field, *why;
    } iv[] = {{10, "date_of_birth", "no such calendar day"},
              {10, "postcode", "nhs pseudo-postcode (zz99)"},
              {10, "nhs_number", "check digit fails (modulus 11)"}};
    cr_assert_eq(json_array_size(inv), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *r = json_array_get(inv, i);
        cr_expect_eq(json_integer_value(json_object_get(r, "line")), iv[i].line);
        cr_expect_str_eq(json_string_value(json_object_get(r, "field")), iv[i].field);
        cr_expect_str_eq(json_string_value(json_object_get(r, "reason")), iv[i].why);
    }
    json_t *dob = json_object_get(json_object_get(s, "fields"), "date_of_birth");
    cr_expect_eq(json_integer_value(json_object_get(dob, "present")), 7);
    cr_expect_eq(json_integer_value(json_object_get(dob, "invalid")), 1);
    json_t *svc = json_object_get(json_object_get(s, "attributes"), "service_type");
    cr_expect_eq(json_integer_value(json_object_get(svc, "present")), 3);
    cr_expect_eq(json_integer_value(json_object_get(svc, "invalid")), 1);
    cr_expect(!json_is_true(json_object_get(
        json_object_get(json_object_get(s, "fields"), "former_family_name"), "mapped")));
    json_decref(s);

    /* the local map: the encoded rows, in input order, with their pseudonyms */
    char *lm = slurp("police.local.csv", NULL);
    uint8_t pk[32], ps[16];
    cr_assert_eq(wye_pseudonym_key(agency, pk), WYE_OK);
    char expect_map[1024] = "local_id,record\n";
    const char *ids[] = {"A1", "A2", "A11", "A12"};
    for (int i = 0; i < 4; i++) {
        char hex[33];
        wye_pseudonym(pk, ids[i], strlen(ids[i]), ps);
        wye_hex(ps, 16, hex);
        size_t o = strlen(expect_map);
        snprintf(expect_map + o, sizeof expect_map - o, "%s,%s\n", ids[i], hex);
    }
    cr_expect_str_eq(lm, expect_map);
    free(lm);

    /* the encoded file, opened by the linkage unit: metadata, and each record
     * equal to the library's encoding of the same row */
    wye_encfile_meta meta;
    uint64_t nrec;
    uint8_t *recs = open_wye("police.wye", &meta, &nrec);
    cr_assert_eq(nrec, 4);
    cr_expect_str_eq(meta.agency, "police");
    cr_expect_eq(memcmp(meta.extract_date, "2024-03-31", 10), 0);
    wye_protocol *p = ht_shipped_protocol(); /* what wyelink hash uses by default */
    uint8_t fp[32];
    wye_protocol_fingerprint(p, fp);
    cr_expect_arr_eq(meta.fingerprint, fp, 32);
    wye_secret *sec = ht_secret();
    uint8_t kid[8];
    wye_secret_key_id(sec, kid);
    cr_expect_arr_eq(meta.key_id, kid, 8);
    const size_t rs = wye_protocol_layout(p)->record_size;
    cr_assert_eq(meta.record_size, rs);

    wye_colmap *m;
    wye_diag d;
    cr_assert_eq(wye_colmap_load(map_path, p, &m, &d), WYE_OK);
    wye_memsource ms = {(const uint8_t *)csv_small, sizeof csv_small - 1, 0};
    wye_csvin *r;
    cr_assert_eq(wye_csvin_open(wye_source_memory(&ms), WYE_CSV_UTF8, &r, &d), WYE_OK);
    cr_assert_eq(wye_colmap_bind(m, r, &d), WYE_OK);
    wye_encoder *e;
    cr_assert_eq(wye_encoder_new(p, sec, pk, &e), WYE_OK);
    wye_csv_row row;
    wye_date ex = {2024, 3, 31};
    uint64_t k = 0;
    while (wye_csvin_next(r, &row, &d) == 1) {
        wye_fields f;
        const char *id;
        size_t idlen;
        if (wye_colmap_extract(m, &row, &ex, &f, &id, &idlen) != WYE_ROW_OK)
            continue;
        if (row.line == 7)
            continue; /* the duplicate */
        uint8_t mine[4096];
        cr_assert_leq(rs, sizeof mine);
        cr_assert_eq(wye_encoder_encode(e, NULL, &f, id, idlen, mine), WYE_OK);
        cr_assert_lt(k, nrec);
        cr_expect_arr_eq(recs + k * rs, mine, rs, "record %llu", (unsigned long long)k);
        k++;
    }
    cr_expect_eq(k, 4);
    /* the age band and sex attributes of A1 (32 -> "25-34", F), service refuge */
    cr_expect_eq(recs[18], 3);
    cr_expect_eq(recs[19], 1);
    cr_expect_eq(recs[20], 1);
    wye_encoder_free(e);
    wye_csvin_free(r);
    wye_colmap_free(m);
    wye_secret_free(sec);
    wye_protocol_free(p);

    /* no identifier in any output: stdout, stderr, summary JSON, the encoded
     * file, its decrypted records and the audit log */
    char *out = slurp("stdout.txt", &n);
    cr_expect(strstr(out, "rows read      11") != NULL, "stdout: %s", out);
    /* rejected rows by reason, with their first lines (the list is in the JSON) */
    cr_expect(strstr(out, "    wrong number of fields: 1 (line 9)\n") != NULL, "%s", out);
    cr_expect(strstr(out, "    a name but no date of birth, postcode, address, other id or nhs "
                          "number: 2 (lines 5, 10)\n") != NULL);
    cr_expect(strstr(out, "  rows with a name only  2  (rejected") != NULL);
    cr_expect(strstr(out, "invalid: no such calendar day: 1 (line 10)\n") != NULL);
    cr_expect(strstr(out, "rejected rows (line") == NULL && strstr(out, "line 14:") == NULL,
              "no list of rejected rows on the terminal");
    expect_no_identifier("stdout", out, n);
    free(out);
    char *e2 = slurp("stderr.txt", &n);
    expect_no_identifier("stderr", e2, n);
    free(e2);
    expect_no_identifier("summary json", sj, strlen(sj));
    free(sj);
    char *wye = slurp("police.wye", &n);
    expect_no_identifier("encoded file", wye, n);
    free(wye);
    expect_no_identifier("decrypted records", (const char *)recs, (size_t)nrec * rs);
    free(recs);
    char *lg = slurp(log_path, &n);
    expect_no_identifier("audit log", lg, n);
    free(lg);
    wye_audit_result ar;
    FILE *lf = fopen(log_path, "rb");
    cr_assert_not_null(lf);
    cr_expect_eq(wye_audit_verify(wye_source_file(lf), wye_party_public_part(agency)->sign_pk,
                                  &ar),
                 WYE_OK, "audit: %s", ar.reason);
    cr_expect_eq(ar.entries, 1);
    fclose(lf);
    free(in);
}

/* ---- rows without a name (colmap's linkable rule, since d579f76) ---- */

/* A row without a name is encoded when it has another id with a date of
 * birth or an address, and counted as encoded; an id alone, or a date of
 * birth with an address but no id, is still refused for having no name. */
Test(cmd_hash, nameless_row_with_other_id_is_encoded)
{
    static const char map[] =
        "{\"format\":\"wyelink-column-map\",\"version\":1,\"agency\":\"police\","
        "\"local_id\":\"Ref\",\"columns\":["
        "{\"column\":\"Forename\",\"field\":\"given_name\"},"
        "{\"column\":\"Surname\",\"field\":\"family_name\"},"
        "{\"column\":\"DOB\",\"field\":\"date_of_birth\",\"date_format\":\"DD/MM/YYYY\"},"
        "{\"column\":\"Address\",\"field\":\"address\"},"
        "{\"column\":\"OtherId\",\"field\":\"other_id\"}]}";
    ht_write(map_path, map, sizeof map - 1, 0644);
    static const char csv[] = "Ref,Forename,Surname,DOB,Address,OtherId\n"
                              "N1,,,17/08/1991,,5304218\n"              /* id + date of birth */
                              "N2,,,,14 Quillfeather Lane,5304219\n"    /* id + address */
                              "N3,,,,,5304220\n"                        /* line 4: id alone */
                              "N4,,,17/08/1991,14 Quillfeather Lane,\n" /* line 5: no id */
                              "N5,Zebulonia,,17/08/1991,,\n";           /* a name + dob */
    char *in = P("nameless.csv");
    ht_write(in, csv, sizeof csv - 1, 0600);
    int st = run_hash(in, "n.wye", "n.local.csv", "--summary-json n.json --threads 2");
    char *err = slurp("stderr.txt", NULL);
    cr_assert_eq(st, 0, "exit %d: %s", st, err);
    free(err);
    char *sj = slurp("n.json", NULL);
    json_t *s = json_loads(sj, 0, NULL);
    cr_assert_not_null(s);
    cr_expect_eq(json_integer_value(json_object_get(s, "rows_read")), 5);
    cr_expect_eq(json_integer_value(json_object_get(s, "rows_encoded")), 3);
    cr_expect_eq(json_integer_value(json_object_get(s, "rows_rejected")), 2);
    json_t *rows = json_object_get(s, "rejected_rows");
    cr_assert_eq(json_array_size(rows), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *r = json_array_get(rows, i);
        cr_expect_eq(json_integer_value(json_object_get(r, "line")), 4 + (json_int_t)i);
        cr_expect_str_eq(json_string_value(json_object_get(r, "reason")),
                         "no name and no nhs number");
    }
    json_t *oid = json_object_get(json_object_get(s, "fields"), "other_id");
    cr_expect_eq(json_integer_value(json_object_get(oid, "present")), 3);
    json_decref(s);
    static const char *const secrets[] = {"5304218", "5304219", "5304220", "Quillfeather",
                                          "Zebulonia", "19910817", "17/08/1991"};
    for (size_t k = 0; k < sizeof secrets / sizeof secrets[0]; k++) {
        cr_expect(!contains_ci(sj, strlen(sj), secrets[k]), "summary holds an identifier");
        char *out = slurp("stdout.txt", NULL);
        cr_expect(!contains_ci(out, strlen(out), secrets[k]), "stdout holds an identifier");
        free(out);
    }
    free(sj);

    /* the local map and the encoded file hold N1, N2 and N5, in that order,
     * with the fields each row had */
    char *lm = slurp("n.local.csv", NULL);
    cr_expect(strncmp(lm, "local_id,record\nN1,", 19) == 0 && strstr(lm, "\nN2,") &&
                  strstr(lm, "\nN5,") && !strstr(lm, "\nN3,") && !strstr(lm, "\nN4,") &&
                  strstr(lm, "\nN2,") < strstr(lm, "\nN5,"),
              "local map: %s", lm);
    free(lm);
    wye_encfile_meta meta;
    uint64_t nrec;
    uint8_t *recs = open_wye("n.wye", &meta, &nrec);
    cr_assert_eq(nrec, 3);
    wye_protocol *p = ht_shipped_protocol();
    const wye_layout *lay = wye_protocol_layout(p);
    unsigned dob = 1u << wye_protocol_field_index(p, "date_of_birth"),
             adr = 1u << wye_protocol_field_index(p, "address"),
             id = 1u << wye_protocol_field_index(p, "other_id"),
             given = 1u << wye_protocol_field_index(p, "given_name");
    const unsigned want[] = {id | dob, id | adr, given | dob};
    for (size_t i = 0; i < 3; i++) {
        const uint8_t *r = recs + i * meta.record_size;
        unsigned pres = r[lay->presence_off] | (unsigned)r[lay->presence_off + 1] << 8;
        cr_expect_eq(pres, want[i], "record %zu: presence %#x", i, pres);
    }
    wye_protocol_free(p);
    free(recs);
    free(in);
}

/* ---- thread-count determinism on several batches ---- */

static void write_big(const char *path, unsigned rows)
{
    static const char *const given[] = {"Anne", "Beth", "Carys", "Dawn", "Elif", "Farah",
                                        "Gwen", "Hana", "Iona", "Jade", "Kasia", "Lowri"};
    static const char *const family[] = {"Jones", "Davies", "Evans", "Khan", "Nowak",
                                         "Price", "Hughes", "Lloyd", "Begum", "Ward"};
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fputs("Ref,Forename,Surname,DOB,Sex,Postcode,NHS,Service,Notes\n", f);
    uint64_t x = 88172645463325252ull;
    for (unsigned i = 0; i < rows; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        fprintf(f, "R%u,%s,%s,%02u/%02u/%u,%s,HR%u %uAB,,%s,%s\n", i % 9000 == 17 ? 5u : i,
                given[x % 12], family[(x >> 8) % 10], 1 + (unsigned)(x >> 16) % 28,
                1 + (unsigned)(x >> 24) % 12, 1940 + (unsigned)(x >> 32) % 60,
                (x >> 40) % 3 ? "F" : "M", (unsigned)(x >> 44) % 10, (unsigned)(x >> 48) % 10,
                (x >> 52) % 2 ? "refuge" : "", (x >> 56) % 7 ? "" : "\"line\nbreak\"");
    }
    fclose(f);
}

Test(cmd_hash, threads_give_identical_output)
{
    char *in = P("big.csv");
    write_big(in, 20000); /* three batches */
    cr_assert_eq(run_hash(in, "t1.wye", "t1.csv", "--threads 1 --summary-json t1.json --quiet"),
                 0);
    cr_assert_eq(run_hash(in, "t2.wye", "t2.csv", "--threads 2 --summary-json t2.json --quiet"),
                 0);
    size_t n;
    char *out = slurp("stdout.txt", &n);
    cr_expect_eq(n, 0, "--quiet prints nothing");
    free(out);
    wye_encfile_meta m1, m2;
    uint64_t n1, n2;
    uint8_t *r1 = open_wye("t1.wye", &m1, &n1), *r2 = open_wye("t2.wye", &m2, &n2);
    cr_assert_eq(n1, n2);
    cr_expect_eq(n1, 20000 - 3, "R5 four times: three duplicates");
    cr_expect_eq(memcmp(r1, r2, (size_t)n1 * m1.record_size), 0, "records differ");
    char *a = slurp("t1.csv", NULL), *b = slurp("t2.csv", NULL);
    cr_expect_str_eq(a, b);
    free(a);
    free(b);
    a = slurp("t1.json", NULL);
    b = slurp("t2.json", NULL);
    /* identical except the file names */
    json_t *ja = json_loads(a, 0, NULL), *jb = json_loads(b, 0, NULL);
    json_object_del(ja, "encoded_file");
    json_object_del(jb, "encoded_file");
    json_object_del(ja, "local_map");
    json_object_del(jb, "local_map");
    cr_expect(json_equal(ja, jb));
    json_t *rows = json_object_get(ja, "rejected_rows");
    cr_expect_eq(json_array_size(rows), 3);
    json_decref(ja);
    json_decref(jb);
    free(a);
    free(b);
    free(r1);
    free(r2);
    free(in);
}

/* The file entry of the last audit entry whose list `list` has `path`. */
static json_t *audit_file(const char *list, const char *path)
{
    char *lg = slurp(log_path, NULL);
    char *last = lg, *nl;
    while ((nl = strchr(last, '\n')) && nl[1])
        last = nl + 1;
    json_t *e = json_loads(last, JSON_DISABLE_EOF_CHECK, NULL);
    cr_assert_not_null(e, "last audit entry");
    free(lg);
    json_t *files = json_object_get(e, list), *hit = NULL;
    for (size_t i = 0; i < json_array_size(files); i++) {
        json_t *f = json_array_get(files, i);
        if (strcmp(json_string_value(json_object_get(f, "path")), path) == 0)
            hit = json_incref(f);
    }
    json_decref(e);
    cr_assert_not_null(hit, "no %s entry for %s", list, path);
    return hit;
}

static void expect_digest_of(json_t *f, const char *path)
{
    size_t n;
    char *data = slurp(path, &n);
    uint8_t d[32];
    char hex[65];
    crypto_generichash(d, sizeof d, (const uint8_t *)data, n, NULL, 0);
    wye_hex(d, sizeof d, hex);
    cr_expect_eq(json_integer_value(json_object_get(f, "bytes")), (json_int_t)n, "%s", path);
    cr_expect_str_eq(json_string_value(json_object_get(f, "blake2b")), hex, "%s", path);
    free(data);
    json_decref(f);
}

/* The digests of the input, the encoded file and the local map are taken
 * as they stream through (not read again): they must still be those of the
 * whole files, over several batches and with either compression. */
Test(cmd_hash, audit_digests_are_of_the_whole_files)
{
    char *in = P("big.csv");
    write_big(in, 20000);
    char *out = P("a.wye"), *outz = P("z.wye"), *map = P("a.csv");
    cr_assert_eq(run_hash(in, out, map, "--threads 2 --quiet"), 0);
    expect_digest_of(audit_file("inputs", in), in);
    expect_digest_of(audit_file("outputs", out), out);
    expect_digest_of(audit_file("outputs", map), map);
    cr_assert_eq(run_hash(in, outz, "z.csv", "--threads 2 --quiet --compress"), 0);
    expect_digest_of(audit_file("outputs", outz), outz);
    /* --compress: a smaller file holding the same records */
    wye_encfile_meta m1, m2;
    uint64_t n1, n2;
    uint8_t *r1 = open_wye("a.wye", &m1, &n1), *r2 = open_wye("z.wye", &m2, &n2);
    cr_assert_eq(n1, n2);
    cr_expect_eq(memcmp(r1, r2, (size_t)n1 * m1.record_size), 0, "records differ");
    struct stat s1, s2;
    cr_assert_eq(stat(out, &s1), 0);
    cr_assert_eq(stat(outz, &s2), 0);
    cr_expect_lt(s2.st_size, s1.st_size * 9 / 10, "compressed %lld, stored %lld",
                 (long long)s2.st_size, (long long)s1.st_size);
    free(r1);
    free(r2);
    free(in);
    free(out);
    free(outz);
    free(map);
}

/* ---- failures ---- */

static void expect_failure(const char *csv, size_t len, const char *extra, int status,
                           const char *in_stderr)
{
    char *in = P("bad.csv");
    ht_write(in, csv, len, 0600);
    int st = run_hash(in, "bad.wye", "bad.local.csv", extra);
    size_t n;
    char *err = slurp("stderr.txt", &n);
    cr_expect_eq(st, status, "exit %d: %s", st, err);
    cr_expect(strstr(err, in_stderr) != NULL, "stderr '%s' lacks '%s'", err, in_stderr);
    expect_no_identifier("stderr", err, n);
    free(err);
    char *wye = P("bad.wye"), *lm = P("bad.local.csv");
    if (status)
        cr_expect(access(wye, F_OK) != 0 && access(lm, F_OK) != 0,
                  "a failed run leaves no output");
    free(wye);
    free(lm);
    free(in);
}

Test(cmd_hash, failures)
{
    static const char utf8[] = "Ref,Forename,Surname,DOB,Sex,Postcode,NHS,Service,Notes\n"
                               "A1,Zebulonia,Quillfeather,17/08/1991,F,,,,\n"
                               "A2,\"Marigoldine\n"
                               "Thistlewaite\xE9\",,,,,,,\n";
    expect_failure(utf8, sizeof utf8 - 1, NULL, 1, "line 4");
    static const char nocol[] = "Ref,Forename,Family,DOB,Sex,Postcode,NHS,Service\n"
                                "A1,Zebulonia,Quillfeather,17/08/1991,F,,,\n";
    expect_failure(nocol, sizeof nocol - 1, NULL, 1, "'Surname'");
    static const char none[] = "Ref,Forename,Surname,DOB,Sex,Postcode,NHS,Service,Notes\n"
                               "A1,Zebulonia,,,,,,,\n";
    expect_failure(none, sizeof none - 1, NULL, 1, "no row could be encoded");
    char *out = slurp("stdout.txt", NULL), *err;
    cr_expect(strstr(out, "a name but no date of birth, postcode, address, other id or nhs "
                          "number: 1 (line 2)") != NULL,
              "the summary still says why: %s", out);
    free(out);
    static const char ok[] = "Ref,Forename,Surname,DOB,Sex,Postcode,NHS,Service,Notes\n"
                             "A1,Zebulonia,Quillfeather,17/08/1991,F,,,,\n";
    expect_failure(ok, sizeof ok - 1, "--threads x", 2, "--threads");
    /* a NUL byte is no encoding error: named as such, with its line and
     * column */
    static const char nul[] = "Ref,Forename,Surname,DOB,Sex,Postcode,NHS,Service,Notes\n"
                              "A1,Zebulonia,Quillfeather,17/08/1991,F,,,,\n"
                              "A2,Marigoldine,Thistle\0waite,03/02/1985,F,,,,\n";
    expect_failure(nul, sizeof nul - 1, NULL, 1, "line 3 field 'Surname': malformed CSV: NUL byte");
    err = slurp("stderr.txt", NULL);
    cr_expect(!strstr(err, "utf-8") && !strstr(err, "windows-1252"), "stderr: %s", err);
    free(err);
    /* a mapped column twice in the header is not "missing" */
    static const char twice[] = "Ref,Forename,Surname,DOB,Sex,Postcode,NHS,Service,Surname\n"
                                "A1,Zebulonia,Quillfeather,17/08/1991,F,,,,Quillfeather\n";
    expect_failure(twice, sizeof twice - 1, NULL, 1,
                   "does not fit '" /* the input */);
    err = slurp("stderr.txt", NULL);
    cr_expect(strstr(err, ": column 'Surname' appears twice in the header\n") != NULL, "stderr: %s",
              err);
    cr_expect(!strstr(err, "missing"), "stderr: %s", err);
    free(err);
    expect_failure(ok, sizeof ok - 1, "--no-such-option", 2, "no-such-option");
    expect_failure(ok, sizeof ok - 1, "--extract-date 2023-02-30", 2, "--extract-date");
    expect_failure(ok, sizeof ok - 1, "--extract-date 2999-01-01", 2, "in the future");
    /* an output that would replace the input */
    char *in = P("bad.csv");
    ht_write(in, ok, sizeof ok - 1, 0600);
    cr_expect_eq(run_hash(in, in, "x.csv", NULL), 2);
    size_t n;
    char *back = slurp(in, &n);
    cr_expect_eq(n, sizeof ok - 1);
    free(back);
    free(in);
}

Test(cmd_hash, windows_1252_input)
{
    char *map = P("latin.map.json");
    static const char m[] =
        "{\"format\":\"wyelink-column-map\",\"version\":1,\"encoding\":\"windows-1252\","
        "\"local_id\":\"Ref\",\"columns\":[{\"column\":\"Name\",\"split\":"
        "\"surname_comma_forename\"},{\"column\":\"Born\",\"field\":\"date_of_birth\","
        "\"date_format\":\"DD-Mon-YYYY\"}]}";
    ht_write(map, m, sizeof m - 1, 0644);
    char *in = P("latin.csv");
    static const char csv[] = "Ref,Name,Born\r\nL1,\"L\xC9VESQUE, Ren\xE9\",03-Feb-1985\r\n";
    ht_write(in, csv, sizeof csv - 1, 0600);
    char *saved = map_path;
    map_path = map;
    int st = run_hash(in, "latin.wye", "latin.local.csv", "--summary-json latin.json");
    map_path = saved;
    cr_assert_eq(st, 0);
    char *sj = slurp("latin.json", NULL);
    json_t *s = json_loads(sj, 0, NULL);
    cr_expect_eq(json_integer_value(json_object_get(s, "rows_encoded")), 1);
    json_decref(s);
    free(sj);
    free(map);
    free(in);
}

/* ---- a run over synthetic agency data leaks no identifier ---- */

typedef struct {
    char **v;
    size_t n, cap;
} strset;

static void strset_add(strset *s, const char *v, size_t n)
{
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->v[i]) == n && !memcmp(s->v[i], v, n))
            return;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = strndup(v, n);
}

/* Identifiers of the extract: every date of birth, postcode (as written and
 * without spaces) and NHS number, and every word of a name of at least 7
 * letters (shorter words could occur by chance in binary output). */
static void collect_identifiers(const char *csv, const char *map, strset *ids)
{
    json_t *m = json_load_file(map, 0, NULL);
    cr_assert_not_null(m, "map %s", map);
    FILE *f = fopen(csv, "rb");
    cr_assert_not_null(f);
    wye_csvin *r;
    wye_diag d;
    cr_assert_eq(wye_csvin_open(wye_source_file(f), WYE_CSV_UTF8, &r, &d), WYE_OK);
    int col[64], kind[64];
    size_t nc = 0;
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(m, "columns"), i, c) {
        const char *field = json_string_value(json_object_get(c, "field"));
        const char *split = json_string_value(json_object_get(c, "split"));
        int k = split ? 0 : !field ? -1 : strstr(field, "name") ? 0 : !strcmp(field, "date_of_birth") ? 1
              : !strcmp(field, "postcode") ? 2 : !strcmp(field, "nhs_number") ? 3 : -1;
        if (k < 0)
            continue;
        col[nc] = wye_csvin_find(r, json_string_value(json_object_get(c, "column")));
        cr_assert_geq(col[nc], 0);
        kind[nc++] = k;
    }
    wye_csv_row row;
    while (wye_csvin_next(r, &row, &d) == 1) {
        for (size_t k = 0; k < nc; k++) {
            if ((size_t)col[k] >= row.nfields)
                continue;
            const char *v = row.field[col[k]];
            size_t n = row.len[col[k]];
            if (kind[k] == 0) {
                for (size_t a = 0; a < n;) {
                    size_t b = a;
                    while (b < n && isalpha((unsigned char)v[b]))
                        b++;
                    if (b - a >= 7)
                        strset_add(ids, v + a, b - a);
                    a = b + 1;
                }
            } else if (n >= 6) {
                strset_add(ids, v, n);
                char nospace[64];
                size_t o = 0;
                for (size_t a = 0; a < n && o < sizeof nospace; a++)
                    if (v[a] != ' ')
                        nospace[o++] = v[a];
                if (o != n && o >= 6)
                    strset_add(ids, nospace, o);
            }
        }
    }
    wye_csvin_free(r);
    fclose(f);
    json_decref(m);
}

Test(cmd_hash, synthetic_data_run_leaks_nothing)
{
    const char *w = getenv("WYELINK");
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "'%s' synth --out '%s/syn' --agencies police,gp --scale 0.3 --seed 7 "
             "--extract-date 2024-03-31 --quiet",
             w, dir);
    cr_assert_eq(system(cmd), 0, "synth");
    /* vocabulary: what a run prints whatever the data (a control run) */
    char *ctl = P("control.csv");
    ht_write(ctl, csv_small, sizeof csv_small - 1, 0600);
    cr_assert_eq(run_hash(ctl, "ctl.wye", "ctl.csv", "--summary-json ctl.json"), 0);
    size_t vn1, vn2, vn3;
    char *v1 = slurp("stdout.txt", &vn1), *v2 = slurp("ctl.json", &vn2);
    char *v3 = slurp(log_path, &vn3);
    char *voc1 = lower_copy(v1, vn1), *voc2 = lower_copy(v2, vn2), *voc3 = lower_copy(v3, vn3);
    free(v1);
    free(v2);
    free(v3);

    static const char *const agencies[] = {"police", "gp"};
    for (int a = 0; a < 2; a++) {
        char csv[4200], map[4200], out[64], lm[64], sj[64];
        snprintf(csv, sizeof csv, "%s/syn/%s.csv", dir, agencies[a]);
        snprintf(map, sizeof map, "%s/syn/%s.map.json", dir, agencies[a]);
        snprintf(out, sizeof out, "%s.wye", agencies[a]);
        snprintf(lm, sizeof lm, "%s.local.csv", agencies[a]);
        snprintf(sj, sizeof sj, "%s.json", agencies[a]);
        char *saved = map_path;
        map_path = map;
        char extra[128];
        snprintf(extra, sizeof extra, "--summary-json %s", sj);
        int st = run_hash(csv, out, lm, extra);
        map_path = saved;
        cr_assert_eq(st, 0, "hash %s", agencies[a]);
        strset ids = {0};
        collect_identifiers(csv, map, &ids);
        cr_assert_gt(ids.n, 100, "%zu identifiers", ids.n);

        wye_encfile_meta meta;
        uint64_t nrec;
        uint8_t *recs = open_wye(out, &meta, &nrec);
        size_t no, ne, ns, nw, nl;
        char *so = slurp("stdout.txt", &no), *se = slurp("stderr.txt", &ne),
             *sm = slurp(sj, &ns), *sw = slurp(out, &nw), *sl = slurp(log_path, &nl);
        const struct {
            const char *what;
            const char *data;
            size_t n;
        } outs[] = {{"stdout", so, no},
                    {"stderr", se, ne},
                    {"summary json", sm, ns},
                    {"encoded file", sw, nw},
                    {"decrypted records", (const char *)recs, (size_t)nrec * meta.record_size},
                    {"audit log", sl, nl}};
        enum { NOUT = sizeof outs / sizeof outs[0] };
        char *low[NOUT];
        for (size_t k = 0; k < NOUT; k++)
            low[k] = lower_copy(outs[k].data, outs[k].n);
        size_t checked = 0;
        for (size_t i = 0; i < ids.n; i++) {
            const char *id = ids.v[i];
            size_t n = strlen(id);
            if (contains_lower(voc1, vn1, id) || contains_lower(voc2, vn2, id) ||
                contains_lower(voc3, vn3, id))
                continue; /* a word of the tool's own output */
            checked++;
            for (size_t k = 0; k < NOUT; k++)
                cr_expect(!contains_lower(low[k], outs[k].n, id),
                          "%s of %s contains an input identifier (%zu bytes)", outs[k].what,
                          agencies[a], n);
        }
        for (size_t k = 0; k < NOUT; k++)
            free(low[k]);
        cr_expect_gt(checked, 100);
        for (size_t i = 0; i < ids.n; i++)
            free(ids.v[i]);
        free(ids.v);
        free(so);
        free(se);
        free(sm);
        free(sw);
        free(sl);
        free(recs);
    }
    free(voc1);
    free(voc2);
    free(voc3);
    free(ctl);
}

/* ---- nothing lost, nothing leaked (issue 14) ---- */

/* Names in dir holding a temporary file or a set journal. */
static int count_temps(void)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        n += strstr(e->d_name, ".~tmp.") != NULL || strstr(e->d_name, ".~set") != NULL;
    closedir(d);
    return n;
}

typedef struct kept {
    char *name, *data;
    size_t n;
} kept;

/* Good outputs of a first run: the bytes a failed or cancelled run must
 * leave as they are. */
static void make_good_outputs(kept k[3])
{
    char *in = P("good.csv");
    ht_write(in, csv_small, sizeof csv_small - 1, 0600);
    cr_assert_eq(run_hash(in, "g.wye", "g.local.csv", "--summary-json g.json --quiet"), 0);
    static const char *const names[] = {"g.wye", "g.local.csv", "g.json"};
    for (int i = 0; i < 3; i++) {
        k[i].name = P(names[i]);
        k[i].data = slurp(names[i], &k[i].n);
    }
    free(in);
}

static void expect_kept(kept k[3])
{
    for (int i = 0; i < 3; i++) {
        size_t n;
        char *now = slurp(k[i].name, &n);
        cr_expect(n == k[i].n && memcmp(now, k[i].data, n) == 0, "%s changed", k[i].name);
        free(now);
        free(k[i].name);
        free(k[i].data);
    }
}

/* Another party's log: an intact log whose entries another agency signed. */
static char *other_partys_log(void)
{
    char cmd[8192], *other = P("other.log");
    snprintf(cmd, sizeof cmd,
             "cd '%s' && '%s' keys create --name gp --role agency --out otherkeys "
             "--audit-log '%s' >/dev/null",
             dir, getenv("WYELINK"), other);
    cr_assert_eq(system(cmd), 0);
    return other;
}

/* The audit log is checked before the work: another party's log, or a log
 * that is not intact, stops the run with the reason before a row is hashed,
 * and the previous outputs stay byte for byte. */
Test(cmd_hash, audit_log_checked_first_and_old_outputs_kept)
{
    kept k[3];
    make_good_outputs(k);
    char *in = P("good.csv");
    char *other = other_partys_log();
    size_t on;
    char *other_before = slurp(other, &on);
    char extra[4400];
    snprintf(extra, sizeof extra, "--summary-json g.json --audit-log '%s'", other);
    cr_expect_eq(run_hash(in, "g.wye", "g.local.csv", extra), 1);
    char *err = slurp("stderr.txt", NULL), *out = slurp("stdout.txt", NULL);
    cr_expect(strstr(err, "belongs to another party") != NULL, "stderr: %s", err);
    cr_expect(strstr(err, "not intact") == NULL, "another party's intact log: %s", err);
    cr_expect(strstr(out, "rows read") == NULL, "nothing was hashed: %s", out);
    free(err);
    free(out);
    size_t n;
    char *other_after = slurp(other, &n);
    cr_expect(n == on && memcmp(other_before, other_after, n) == 0, "the other log changed");
    free(other_before);
    free(other_after);

    /* our own log, tampered with */
    char *bad = P("bad.log");
    size_t ln;
    char *log = slurp(log_path, &ln);
    char *digit = strstr(log, "\"rows_read\":");
    cr_assert_not_null(digit);
    digit[12] = digit[12] == '1' ? '2' : '1';
    ht_write(bad, log, ln, 0600);
    free(log);
    snprintf(extra, sizeof extra, "--summary-json g.json --audit-log '%s'", bad);
    cr_expect_eq(run_hash(in, "g.wye", "g.local.csv", extra), 1);
    err = slurp("stderr.txt", NULL);
    cr_expect(strstr(err, "is not intact: line 1") != NULL, "stderr: %s", err);
    free(err);
    expect_kept(k);
    cr_expect_eq(count_temps(), 0);
    free(bad);
    free(other);
    free(in);
}

/* --audit-log naming an input is refused before any work: the input is
 * never modified (an extract without a final newline would otherwise get
 * an entry appended to its last line). */
Test(cmd_hash, audit_log_never_an_input)
{
    static const char csv[] = "Ref,Forename,Surname,DOB,Sex,Postcode,NHS,Service,Notes\n"
                              "A1,Zebulonia,Quillfeather,17/08/1991,F,HR1 2AB,,,";
    char *in = P("in.csv");
    ht_write(in, csv, sizeof csv - 1, 0600);
    const char *inputs[] = {in, map_path, secret_path, agency_key, lu_pub};
    for (size_t i = 0; i < 5; i++) {
        char extra[4400];
        snprintf(extra, sizeof extra, "--audit-log '%s'", inputs[i]);
        size_t before_n;
        char *before = slurp(inputs[i], &before_n);
        cr_expect_eq(run_hash(in, "x.wye", "x.csv", extra), 2, "input %zu", i);
        char *err = slurp("stderr.txt", NULL);
        cr_expect(strstr(err, "--audit-log") && strstr(err, "also an input"), "stderr: %s", err);
        free(err);
        size_t n;
        char *after = slurp(inputs[i], &n);
        cr_expect(n == before_n && memcmp(before, after, n) == 0, "input %zu modified", i);
        free(before);
        free(after);
    }
    char *x = P("x.wye");
    cr_expect_neq(access(x, F_OK), 0);
    free(x);
    free(in);
}

/* A secret pasted where its file's path belongs is never echoed, nor
 * recorded in the audit log, even when its base64 holds a '/'. */
Test(cmd_hash, secret_like_path_never_echoed)
{
    char b64[64] = "";
    uint8_t key[32];
    for (uint8_t seed = 0; !strchr(b64 + 8, '/') || strchr(b64 + 36, '/'); seed++) {
        crypto_generichash(key, sizeof key, &seed, 1, NULL, 0);
        sodium_bin2base64(b64, sizeof b64, key, sizeof key, sodium_base64_VARIANT_ORIGINAL);
    }
    char *slash = strchr(b64 + 8, '/');
    char first[64], second[64];
    snprintf(first, sizeof first, "%.*s", (int)(slash - b64), b64);
    snprintf(second, sizeof second, "%s", slash + 1);
    char *in = P("in.csv");
    ht_write(in, csv_small, sizeof csv_small - 1, 0600);
    char *saved = secret_path;
    secret_path = b64; /* relative: a folder named by the first part */
    cr_expect_eq(run_hash(in, "s.wye", "s.csv", NULL), 1);
    secret_path = saved;
    size_t n;
    char *err = slurp("stderr.txt", &n);
    cr_expect(strstr(err, "(a path that looks like key material)") != NULL, "stderr: %s", err);
    char *lg = slurp(log_path, NULL);
    const char *parts[] = {b64, first, second};
    for (int i = 0; i < 3; i++) {
        cr_expect(!strstr(err, parts[i]), "stderr holds part %d of the secret: %s", i, err);
        cr_expect(!strstr(lg, parts[i]), "the audit log holds part %d of the secret", i);
    }
    free(lg);
    free(err);
    free(in);
}

/* Start `wyelink hash` in the background (its own pid, not a shell's). */
static pid_t spawn_hash(const char *input, const char *out, const char *local_map,
                        const char *extra)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && exec '%s' hash --input '%s' --map '%s' --secret '%s' --key '%s' "
             "--to '%s' --out '%s' --local-map '%s' --extract-date 2024-03-31 "
             "--audit-log '%s' --threads 2 --quiet %s >stdout.txt 2>stderr.txt",
             dir, getenv("WYELINK"), input, map_path, secret_path, agency_key, lu_pub, out,
             local_map, log_path, extra ? extra : "");
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Wait until the run has its temporary files (it is past its checks and
 * hashing) and the stale file, if any, is gone; false if it ended first. */
static bool wait_for_temps(pid_t pid, const char *stale)
{
    for (int i = 0; i < 60000; i++) {
        if (count_temps() > 0 && (!stale || access(stale, F_OK) != 0))
            return true;
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return false;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    return false;
}

static json_t *last_entry(void)
{
    char *lg = slurp(log_path, NULL);
    char *last = lg, *nl;
    while ((nl = strchr(last, '\n')) && nl[1])
        last = nl + 1;
    json_t *e = json_loads(last, JSON_DISABLE_EOF_CHECK, NULL);
    cr_assert_not_null(e);
    free(lg);
    return e;
}

static void expect_log_intact(void)
{
    wye_audit_result ar;
    FILE *lf = fopen(log_path, "rb");
    cr_assert_not_null(lf);
    cr_expect_eq(wye_audit_verify(wye_source_file(lf), wye_party_public_part(agency)->sign_pk,
                                  &ar),
                 WYE_OK, "audit: %s", ar.reason);
    fclose(lf);
}

/* SIGTERM mid-run: exit 130, no temporary file left, the previous outputs
 * as they were, and a "cancelled" entry in a log that verifies. A stale
 * temporary file of an earlier killed run is cleaned by the next run. */
Test(cmd_hash, sigterm_cancels_cleanly, .timeout = 240)
{
    kept k[3];
    make_good_outputs(k);
    char *stale = P(".g.wye.~tmp.AbC123");
    ht_write(stale, "partial", 7, 0600);
    char *big = P("big.csv");
    write_big(big, 400000);
    pid_t pid = spawn_hash(big, "g.wye", "g.local.csv", "--summary-json g.json");
    cr_assert(wait_for_temps(pid, stale), "the run ended before it was signalled");
    cr_expect_neq(access(stale, F_OK), 0, "the stale temp file was cleaned first");
    kill(pid, SIGTERM);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    char *err = slurp("stderr.txt", NULL);
    cr_assert(WIFEXITED(st), "killed by signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    cr_expect_eq(WEXITSTATUS(st), 130, "exit %d: %s", WEXITSTATUS(st), err);
    cr_expect(strstr(err, "cancelled") != NULL, "stderr: %s", err);
    free(err);
    cr_expect_eq(count_temps(), 0);
    expect_kept(k);
    expect_log_intact();
    json_t *e = last_entry();
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(e, "outcome"), "code")),
                 WYE_ECANCELLED);
    cr_expect_eq(json_array_size(json_object_get(e, "outputs")), 0);
    json_decref(e);
    free(stale);
    free(big);
}

/* The log turns out to be another party's only at the append (swapped
 * during the run): the new outputs are not put in place, the previous ones
 * stay. */
Test(cmd_hash, failed_append_keeps_old_outputs, .timeout = 240)
{
    kept k[3];
    make_good_outputs(k);
    char *other = other_partys_log();
    char *big = P("big.csv");
    write_big(big, 300000);
    pid_t pid = spawn_hash(big, "g.wye", "g.local.csv", "--summary-json g.json");
    cr_assert(wait_for_temps(pid, NULL), "the run ended before the log was swapped");
    cr_assert_eq(rename(other, log_path), 0);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    char *err = slurp("stderr.txt", NULL);
    cr_assert(WIFEXITED(st));
    cr_expect_eq(WEXITSTATUS(st), 1, "stderr: %s", err);
    cr_expect(strstr(err, "belongs to another party") != NULL, "stderr: %s", err);
    free(err);
    expect_kept(k);
    cr_expect_eq(count_temps(), 0);
    free(other);
    free(big);
}

/* A full disk is "no space left", not an input/output error. Needs a small
 * tmpfs: in a user and mount namespace (unshare -rm), else skipped. */
Test(cmd_hash, full_disk_says_no_space)
{
    if (system("unshare -rm true 2>/dev/null") != 0)
        cr_skip_test("no user namespaces here (unshare -rm)");
    char *in = P("big.csv");
    write_big(in, 20000);
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && mkdir -p full && unshare -rm sh -c \"mount -t tmpfs -o size=256k "
             "tmpfs full && '%s' hash --input '%s' --map '%s' --secret '%s' --key '%s' --to "
             "'%s' --out full/a.wye --local-map full/a.csv --extract-date 2024-03-31 "
             "--audit-log '%s' --quiet 2>stderr.txt; echo \\$? >rc.txt; ls -A full "
             ">listing.txt\"",
             dir, getenv("WYELINK"), in, map_path, secret_path, agency_key, lu_pub, log_path);
    cr_assert_eq(system(cmd), 0);
    char *rc = slurp("rc.txt", NULL), *err = slurp("stderr.txt", NULL);
    char *listing = slurp("listing.txt", NULL);
    cr_expect_str_eq(rc, "1\n");
    cr_expect(strstr(err, "no space left on the device") != NULL, "stderr: %s", err);
    cr_expect(strstr(err, "input/output error") == NULL, "stderr: %s", err);
    cr_expect_str_eq(listing, "", "nothing left on the full disk");
    free(rc);
    free(err);
    free(listing);
    expect_log_intact();
    free(in);
}
