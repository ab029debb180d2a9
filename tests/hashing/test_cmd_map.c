/* `wyelink map check` end to end (issue 19): every example map of
 * hashing/maps/ on its synthetic extract; the summary, printed and as JSON,
 * the same as hash's for the same extract and map; a broken map (a missing
 * column, unknown codes shown only by the rule of 5, two-digit years without
 * an extract date); constant attributes; the audit entry with --key and the
 * guards on its log and on the summary JSON. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hashtest.h"
#include "wyelink/audit.h"
#include "wyelink/io.h"

static char *dir;
static wye_party *agency;

static char *P(const char *name) { return ht_path(dir, name); }

static void setup(void)
{
    cr_assert_eq(wye_crypto_init(), WYE_OK);
    dir = ht_tmpdir();
    wye_party *lu;
    cr_assert_eq(wye_party_create("wmwa", "agency", &agency), WYE_OK);
    cr_assert_eq(wye_party_create("lu", "linkage-unit", &lu), WYE_OK);
    char *k = P("wmwa.key"), *p = P("wmwa.pub"), *lk = P("lu.key"), *lp = P("lu.pub");
    cr_assert_eq(wye_party_save(agency, k, p), WYE_OK);
    cr_assert_eq(wye_party_save(lu, lk, lp), WYE_OK);
    free(k);
    free(p);
    free(lk);
    free(lp);
    free(ht_secret_file(dir));
    wye_party_free(lu);
}

static void teardown(void)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
    wye_party_free(agency);
    free(dir);
}

TestSuite(cmd_map, .init = setup, .fini = teardown);

/* Run `wyelink ARGS` in dir, stdout and stderr to out.txt and err.txt;
 * return the exit status. */
static int wyelink(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int wyelink(const char *fmt, ...)
{
    const char *w = getenv("WYELINK");
    cr_assert_not_null(w, "WYELINK is not set");
    char args[6000], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s >out.txt 2>err.txt", dir, w, args);
    int st = system(cmd);
    cr_assert(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static char *slurp(const char *name)
{
    char *path = P(name), *text = NULL;
    cr_assert_eq(wye_read_file(path, 1u << 28, &text, NULL), WYE_OK, "read %s", path);
    free(path);
    return text;
}

static bool exists(const char *name)
{
    char *path = P(name);
    bool e = access(path, F_OK) == 0;
    free(path);
    return e;
}

static json_t *load_json(const char *name)
{
    char *path = P(name);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    cr_assert_not_null(j, "%s: %s", path, je.text);
    free(path);
    return j;
}

static void put(const char *name, const char *text)
{
    char *path = P(name);
    ht_write(path, text, strlen(text), 0600);
    free(path);
}

static const char *const agencies[] = {"police", "gp", "asc", "wmwa", "marac", "idva", "housing"};

/* What only hash knows: its outputs, the agency of its key, the secret's id. */
static const char *const hash_only[] = {"encoded_file", "local_map", "agency", "key_id", NULL};

static void synth(void)
{
    cr_assert_eq(wyelink("synth --out syn --scale 0.3 --seed 5 --extract-date 2024-03-31 "
                         "--quiet"),
                 0);
}

/* Every code a summary shows is met 5 times or written in the map. */
static void expect_rule_of_5(json_t *summary, const char *what)
{
    json_t *cols = json_object_get(summary, "value_columns"), *c, *k;
    size_t i, j;
    cr_expect(json_is_array(cols), "%s: value_columns", what);
    json_array_foreach(cols, i, c) {
        json_array_foreach(json_object_get(c, "codes"), j, k) {
            cr_expect(json_is_true(json_object_get(k, "in_map")) ||
                          json_integer_value(json_object_get(k, "rows")) >= 5,
                      "%s: column %zu code %zu shown", what, i, j);
        }
    }
}

Test(cmd_map, every_example_map_checks_its_synthetic_extract, .timeout = 120)
{
    synth();
    const char *root = ht_source_root();
    for (size_t a = 0; a < sizeof agencies / sizeof agencies[0]; a++) {
        int st = wyelink("map check --map '%s/hashing/maps/%s.json' --input syn/%s.csv "
                         "--extract-date 2024-03-31 --summary-json %s.check.json",
                         root, agencies[a], agencies[a], agencies[a]);
        char *err = slurp("err.txt"), *out = slurp("out.txt");
        cr_expect_eq(st, 0, "%s: exit %d: %s", agencies[a], st, err);
        cr_expect_str_eq(err, "", "%s: nothing on stderr", agencies[a]);
        cr_expect(strstr(out, "data-quality summary") && strstr(out, "rows encodable"),
                  "%s: %s", agencies[a], out);
        char name[64];
        snprintf(name, sizeof name, "%s.check.json", agencies[a]);
        json_t *j = load_json(name);
        cr_expect_str_eq(json_string_value(json_object_get(j, "format")), "wyelink-hash-summary");
        cr_expect_gt(json_integer_value(json_object_get(j, "rows_read")), 50, "%s", agencies[a]);
        cr_expect_gt(json_integer_value(json_object_get(j, "rows_encoded")), 50, "%s",
                     agencies[a]);
        cr_expect_gt(json_array_size(json_object_get(j, "value_columns")), 0, "%s", agencies[a]);
        expect_rule_of_5(j, agencies[a]);
        for (const char *const *k = hash_only; *k; k++)
            cr_expect_null(json_object_get(j, *k), "%s: %s is hash's", agencies[a], *k);
        json_decref(j);
        if (!strcmp(agencies[a], "wmwa")) {
            /* the charity: a full name, dd/mm/yy dates, free-text gender, no NHS number */
            cr_expect(strstr(out, "    no NHS number column: linkage relies on names, dates of "
                                  "birth and postcodes") != NULL,
                      "%s", out);
            cr_expect(strstr(out, "    column 'Gender' -> sex (the map's values)\n") != NULL);
            cr_expect(strstr(out, "'Woman'") != NULL);
        }
        free(err);
        free(out);
    }
}

/* The JSON objects of a and b are equal but for hash's own keys. */
static void expect_same_summary(json_t *from_hash, json_t *from_check, const char *what)
{
    for (const char *const *k = hash_only; *k; k++)
        json_object_del(from_hash, *k);
    const char *key;
    json_t *v;
    json_object_foreach(from_hash, key, v) {
        json_t *w = json_object_get(from_check, key);
        cr_expect(w != NULL, "%s: map check has no '%s'", what, key);
        cr_expect(w && json_equal(v, w), "%s: '%s' differs", what, key);
    }
    json_object_foreach(from_check, key, v)
        cr_expect(json_object_get(from_hash, key) != NULL, "%s: hash has no '%s'", what, key);
}

/* "rows encoded" in hash's summary is "rows encodable" in map check's; the
 * rest is the same, line for line. */
static void expect_same_print(const char *from_hash, const char *from_check, const char *what)
{
    const char *label = "  rows encoded   ";
    char *h = strdup(from_hash);
    char *at = strstr(h, label);
    cr_assert_not_null(at, "%s: %s", what, h);
    memcpy(at, "  rows encodable ", strlen(label));
    cr_expect_str_eq(h, from_check, "%s: the printed summaries differ", what);
    free(h);
}

Test(cmd_map, summary_is_hash_summary_field_by_field, .timeout = 180)
{
    synth();
    for (size_t a = 0; a < sizeof agencies / sizeof agencies[0]; a++) {
        const char *ag = agencies[a];
        int st = wyelink("hash --input syn/%s.csv --map syn/%s.map.json --secret linkage.secret "
                         "--key wmwa.key --to lu.pub --out %s.wye --local-map %s.lm.csv "
                         "--summary-json %s.hash.json --extract-date 2024-03-31 --threads 2 "
                         "--audit-log a.log",
                         ag, ag, ag, ag, ag);
        char *hout = slurp("out.txt");
        cr_assert_eq(st, 0, "hash %s", ag);
        st = wyelink("map check --input syn/%s.csv --map syn/%s.map.json --summary-json "
                     "%s.check.json --extract-date 2024-03-31 --threads 1",
                     ag, ag, ag);
        char *cout = slurp("out.txt");
        cr_assert_eq(st, 0, "map check %s", ag);
        char hn[64], cn[64];
        snprintf(hn, sizeof hn, "%s.hash.json", ag);
        snprintf(cn, sizeof cn, "%s.check.json", ag);
        json_t *h = load_json(hn), *c = load_json(cn);
        expect_same_summary(h, c, ag);
        json_decref(h);
        json_decref(c);
        expect_same_print(hout, cout, ag);
        free(hout);
        free(cout);
    }
}

/* ---- a broken map ---- */

static const char charity_csv[] =
    "Service User ID,Full Name,Date of Birth,Gender,Postcode,Service\n"
    "W1,Zebulonia Quillfeather,17/08/91,Woman,HR1 2AB,Refuge\n"
    "W2,Marigoldine Thistlewaite,03/02/85,Woman,WR13 4YH,Outreach\n"
    "W3,Ottoline Blackwoodley,05/05/75,Femme,,Group\n"
    "W4,Persephonia Wolstenholme,,Femme,,Group\n"
    "W5,Araminta Fennimore,09/09/99,Femme,SW1A 2AA,Group\n"
    "W6,Clementhia Brookshaw,29/02/00,Femme,EC1A 1BB,Group\n"
    "W7,Euphrasia Lavington,01/01/70,Femme,HR2 7QQ,Group\n"
    "W8,Georgiana Shaughnessy,12/12/12,Lady Euphemia,,1-2-1\n"
    "W9,Lavinia Montmorency,11/11/11,Lady Euphemia,HR4 0AA,Refuge\n"
    "W10,Tiberia Oakenshield,10/10/10,Woman,HR4 0AB,Refuge\n";

static const char charity_map[] =
    "{\"format\":\"wyelink-column-map\",\"version\":1,\"local_id\":\"Service User ID\","
    "\"columns\":[{\"column\":\"Full Name\",\"split\":\"forename_surname\"},"
    "{\"column\":\"Date of Birth\",\"field\":\"date_of_birth\",\"date_format\":\"DD/MM/YY\"},"
    "{\"column\":\"Gender\",\"field\":\"sex\",\"values\":{\"Woman\":\"F\",\"Man\":\"M\"}},"
    "{\"column\":\"Postcode\",\"field\":\"postcode\"},"
    "{\"column\":\"Service\",\"attribute\":\"service_type\",\"values\":{\"Refuge\":\"refuge\","
    "\"Outreach\":\"outreach\"}}]}";

static const char *const charity_ids[] = {
    "Zebulonia", "Quillfeather", "Marigoldine", "Thistlewaite", "Ottoline", "Blackwoodley",
    "Persephonia", "Wolstenholme", "Araminta", "Fennimore", "Clementhia", "Brookshaw",
    "Euphrasia", "Lavington", "Georgiana", "Shaughnessy", "Lavinia", "Montmorency", "Tiberia",
    "Oakenshield", "Euphemia", "17/08/91", "HR1 2AB", "WR13 4YH", "SW1A 2AA", "EC1A 1BB",
    "HR2 7QQ", "HR4 0AA", "HR4 0AB", NULL};

static void expect_no_identifier(const char *what, const char *text)
{
    for (const char *const *id = charity_ids; *id; id++)
        cr_expect(strstr(text, *id) == NULL, "%s holds input identifier %d", what,
                  (int)(id - charity_ids));
}

Test(cmd_map, missing_column_fails_and_writes_nothing)
{
    put("w.csv", charity_csv);
    put("old.json", "previous summary\n");
    char map[sizeof charity_map + 16];
    snprintf(map, sizeof map, "%s", charity_map);
    memcpy(strstr(map, "\"Postcode\""), "\"PostCode\"", 10); /* not the header's spelling */
    put("w.map.json", map);
    int st = wyelink("map check --map w.map.json --input w.csv --extract-date 2024-03-31 "
                     "--summary-json old.json");
    char *err = slurp("err.txt"), *out = slurp("out.txt"), *old = slurp("old.json");
    cr_expect_eq(st, 1);
    cr_expect(strstr(err, "column map 'w.map.json' does not fit 'w.csv'") &&
                  strstr(err, "field 'PostCode'") && strstr(err, "column not in the csv header"),
              "%s", err);
    cr_expect_str_eq(out, "", "no summary of an extract that was not read");
    cr_expect_str_eq(old, "previous summary\n", "the previous summary stays");
    free(err);
    free(out);
    free(old);
    /* a column the header holds twice */
    put("twice.csv", "Service User ID,Full Name,Postcode,Postcode\nW1,A B,,\n");
    put("t.map.json", "{\"format\":\"wyelink-column-map\",\"version\":1,\"local_id\":"
                      "\"Service User ID\",\"columns\":[{\"column\":\"Full Name\",\"split\":"
                      "\"forename_surname\"},{\"column\":\"Postcode\",\"field\":\"postcode\"}]}");
    cr_expect_eq(wyelink("map check --map t.map.json --input twice.csv"), 1);
    err = slurp("err.txt");
    cr_expect(strstr(err, "column 'Postcode' appears twice in the header") != NULL, "%s", err);
    free(err);
    /* a map that is not a map */
    put("bad.map.json", "{\"format\":\"wyelink-column-map\",\"version\":1}");
    cr_expect_eq(wyelink("map check --map bad.map.json --input w.csv"), 1);
    err = slurp("err.txt");
    cr_expect(strstr(err, "cannot load the column map 'bad.map.json'") != NULL, "%s", err);
    free(err);
}

Test(cmd_map, unknown_codes_shown_only_by_the_rule_of_5)
{
    put("w.csv", charity_csv);
    put("w.map.json", charity_map);
    int st = wyelink("map check --map w.map.json --input w.csv --extract-date 2024-03-31 "
                     "--summary-json w.json");
    char *err = slurp("err.txt"), *out = slurp("out.txt"), *js = slurp("w.json");
    cr_expect_eq(st, 0, "a report, even with invalid values: %s", err);
    /* Femme x5 and Group x5: shown, invalid; Lady Euphemia x2 and 1-2-1 x1:
     * counted, not shown; Man (in the map, never met): shown */
    cr_expect(strstr(out, "      'Femme'") && strstr(out, "invalid: code not in the column "
                                                         "map's values"),
              "%s", out);
    cr_expect(strstr(out, "      'Group'") != NULL, "%s", out);
    cr_expect(strstr(out, "      'Man'") && strstr(out, "(in the map, never met)"), "%s", out);
    cr_expect(strstr(out, "      1 other code met fewer than 5 times each, in 2 rows (2 "
                          "invalid): not shown") != NULL,
              "%s", out);
    cr_expect(strstr(out, "1-2-1") == NULL && strstr(js, "1-2-1") == NULL);
    cr_expect(strstr(out, "    no NHS number column: linkage relies on names, dates of birth "
                          "and postcodes") != NULL);
    expect_no_identifier("stdout", out);
    expect_no_identifier("stderr", err);
    expect_no_identifier("summary json", js);
    json_t *j = load_json("w.json");
    json_t *g = json_array_get(json_object_get(j, "value_columns"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(g, "column")), "Gender");
    json_t *codes = json_object_get(g, "codes");
    cr_assert_eq(json_array_size(codes), 3, "Femme, Woman, Man");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(codes, 0), "code")),
                     "Femme");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(codes, 0), "gives")),
                     "invalid");
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(g, "codes_not_shown"),
                                                    "invalid")),
                 2);
    json_decref(j);
    free(err);
    free(out);
    free(js);
}

Test(cmd_map, two_digit_years_without_an_extract_date_warn)
{
    put("w.csv", charity_csv);
    put("w.map.json", charity_map);
    cr_expect_eq(wyelink("map check --map w.map.json --input w.csv --quiet"), 0);
    char *err = slurp("err.txt");
    cr_expect(strstr(err, "wyelink map check: warning: column map 'w.map.json' reads two-digit "
                          "years (DD/MM/YY)") &&
                  strstr(err, "give --extract-date"),
              "%s", err);
    free(err);
    /* not with the extract date, nor with the pivot */
    cr_expect_eq(wyelink("map check --map w.map.json --input w.csv --quiet "
                         "--extract-date 2024-03-31"),
                 0);
    err = slurp("err.txt");
    cr_expect_str_eq(err, "");
    free(err);
    char map[sizeof charity_map + 64];
    const char *at = strstr(charity_map, "\"DD/MM/YY\"") + 10;
    snprintf(map, sizeof map, "%.*s,\"two_digit_year_pivot\":1925%s",
             (int)(at - charity_map), charity_map, at);
    put("p.map.json", map);
    cr_expect_eq(wyelink("map check --map p.map.json --input w.csv --quiet"), 0);
    err = slurp("err.txt");
    cr_expect_str_eq(err, "");
    free(err);
    /* hash warns the same way */
    cr_expect_eq(wyelink("hash --input w.csv --map w.map.json --secret linkage.secret --key "
                         "wmwa.key --to lu.pub --out w.wye --local-map w.lm.csv --quiet "
                         "--audit-log a.log"),
                 0);
    err = slurp("err.txt");
    cr_expect(strstr(err, "wyelink hash: warning: column map 'w.map.json' reads two-digit "
                          "years") != NULL,
              "%s", err);
    free(err);
}

Test(cmd_map, constant_attribute_end_to_end)
{
    put("i.csv", "Client Number,First Name,Last Name,D.O.B\n"
                 "I1,Zebulonia,Quillfeather,19910817\n"
                 "I2,Marigoldine,Thistlewaite,19850203\n");
    put("i.map.json", "{\"format\":\"wyelink-column-map\",\"version\":1,\"local_id\":"
                      "\"Client Number\",\"columns\":["
                      "{\"column\":\"First Name\",\"field\":\"given_name\"},"
                      "{\"column\":\"Last Name\",\"field\":\"family_name\"},"
                      "{\"column\":\"D.O.B\",\"field\":\"date_of_birth\","
                      "\"date_format\":\"YYYYMMDD\"},"
                      "{\"attribute\":\"service_type\",\"value\":\"advocacy\"}]}");
    cr_assert_eq(wyelink("map check --map i.map.json --input i.csv --extract-date 2024-03-31 "
                         "--summary-json i.json"),
                 0);
    char *out = slurp("out.txt");
    cr_expect(strstr(out, "    service_type = 'advocacy' on every row (a constant in the map)") !=
                  NULL,
              "%s", out);
    cr_expect(strstr(out, "no service_type column") == NULL);
    free(out);
    json_t *j = load_json("i.json");
    json_t *svc = json_object_get(json_object_get(j, "attributes"), "service_type");
    cr_expect_eq(json_integer_value(json_object_get(svc, "present")), 2);
    json_t *vc = json_array_get(json_object_get(j, "value_columns"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(vc, "constant")), "advocacy");
    cr_expect_null(json_object_get(vc, "column"));
    json_decref(j);
    /* hash encodes it: the attribute byte of every record is advocacy's */
    cr_expect_eq(wyelink("hash --input i.csv --map i.map.json --secret linkage.secret --key "
                         "wmwa.key --to lu.pub --out i.wye --local-map i.lm.csv --quiet "
                         "--extract-date 2024-03-31 --summary-json ih.json --audit-log a.log"),
                 0);
    j = load_json("ih.json");
    svc = json_object_get(json_object_get(j, "attributes"), "service_type");
    cr_expect_eq(json_integer_value(json_object_get(svc, "present")), 2);
    json_decref(j);
}

/* ---- the audit entry and the guards ---- */

Test(cmd_map, key_appends_a_signed_entry)
{
    put("w.csv", charity_csv);
    put("w.map.json", charity_map);
    cr_assert_eq(wyelink("map check --map w.map.json --input w.csv --extract-date 2024-03-31 "
                         "--summary-json w.json --key wmwa.key --audit-log a.log --quiet"),
                 0);
    char *path = P("a.log");
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    wye_audit_result ar;
    cr_expect_eq(wye_audit_verify(wye_source_file(f), wye_party_public_part(agency)->sign_pk,
                                  &ar),
                 WYE_OK, "%s", ar.reason);
    cr_expect_eq(ar.entries, 1);
    fclose(f);
    free(path);
    char *log = slurp("a.log");
    cr_expect(strstr(log, "\"command\":\"map check\"") || strstr(log, "\"command\": \"map check\""),
              "%s", log);
    cr_expect(strstr(log, "rows_encodable") != NULL);
    cr_expect(strstr(log, "w.json") != NULL, "the summary is an output of the entry");
    expect_no_identifier("audit log", log);
    free(log);
    /* without --key no entry anywhere */
    cr_assert_eq(wyelink("map check --map w.map.json --input w.csv --quiet "
                         "--extract-date 2024-03-31"),
                 0);
    cr_expect(!exists("wyelink-audit.log"));
    /* --audit-log wants --key */
    cr_expect_eq(wyelink("map check --map w.map.json --input w.csv --audit-log a.log"), 2);
}

Test(cmd_map, log_and_summary_are_never_inputs_and_the_log_is_checked_first)
{
    put("w.csv", charity_csv);
    put("w.map.json", charity_map);
    char *before = slurp("w.csv");
    cr_expect_eq(wyelink("map check --map w.map.json --input w.csv --key wmwa.key "
                         "--audit-log w.csv"),
                 2);
    char *err = slurp("err.txt");
    cr_expect(strstr(err, "option '--audit-log' names 'w.csv', which is also an input") != NULL,
              "%s", err);
    free(err);
    cr_expect_eq(wyelink("map check --map w.map.json --input w.csv --summary-json w.map.json"),
                 2);
    char *after = slurp("w.csv"), *map = slurp("w.map.json");
    cr_expect_str_eq(after, before);
    cr_expect_str_eq(map, charity_map);
    free(after);
    free(map);
    free(before);
    /* another party's log: refused before the extract is read, nothing written */
    cr_assert_eq(wyelink("keys create --name gp --role agency --out gpkeys --audit-log gp.log"),
                 0);
    cr_expect_eq(wyelink("map check --map w.map.json --input w.csv --key wmwa.key "
                         "--audit-log gp.log --summary-json s.json"),
                 1);
    err = slurp("err.txt");
    cr_expect(strstr(err, "the audit log 'gp.log' belongs to another party") != NULL, "%s", err);
    free(err);
    char *out = slurp("out.txt");
    cr_expect_str_eq(out, "", "not read: no summary");
    free(out);
    cr_expect(!exists("s.json"));
    /* a key of another role signs nothing */
    cr_expect_eq(wyelink("map check --map w.map.json --input w.csv --key lu.key "
                         "--audit-log l.log"),
                 1);
    err = slurp("err.txt");
    cr_expect(strstr(err, "has role 'linkage-unit', not 'agency'") != NULL, "%s", err);
    free(err);
    cr_expect(!exists("l.log"));
}

Test(cmd_map, help_and_misuse)
{
    cr_expect_eq(wyelink("map --help"), 0);
    char *out = slurp("out.txt");
    cr_expect(strncmp(out, "usage: wyelink map ", 19) == 0, "%s", out);
    free(out);
    cr_expect_eq(wyelink("map check --help"), 0);
    out = slurp("out.txt");
    cr_expect(strncmp(out, "usage: wyelink map check ", 25) == 0, "%s", out);
    cr_expect(strstr(out, "at least 5 times") != NULL);
    free(out);
    cr_expect_eq(wyelink("map"), 2);
    cr_expect_eq(wyelink("map nosuch"), 2);
    cr_expect_eq(wyelink("map check --input x.csv"), 2);
    cr_expect_eq(wyelink("map check --map m --input x --extract-date 2024-02-30"), 2);
    cr_expect_eq(wyelink("map check --map m --input x --bogus"), 2);
    char *err = slurp("err.txt");
    cr_expect(strstr(err, "bogus") != NULL);
    free(err);
}
