/* The evaluator (testdata/eval.c, wyelink eval): exact precision, recall
 * and F1 on hand-made cases. */
#include <jansson.h>
#include <math.h>

#include "synthtest.h"
#include "wyelink/eval.h"

static wye_source mem(wye_memsource *m, const char *text)
{
    m->data = (const uint8_t *)text;
    m->size = strlen(text);
    m->pos = 0;
    return wye_source_memory(m);
}

/* Two agencies; truth: police p1,p2 -> x; p3 -> y; gp g1 -> x; g2 -> z.
 * Local ids repeat across agencies ("1") on purpose: keys are per agency. */
static const char *truth_csv = "agency,local_id,person\n"
                               "police,1,x\n"
                               "police,2,x\n"
                               "police,3,y\n"
                               "gp,1,x\n"
                               "gp,2,z\n";
static const char *police_map = "local_id,record\n1,aa01\n2,aa02\n3,aa03\n";
static const char *gp_map = "\xEF\xBB\xBFlocal_id,record\r\n1,bb01\r\n2,bb02\r\n";

static void run_eval(const char *persons, wye_eval_result *r)
{
    wye_eval *e = NULL;
    wye_memsource m;
    wye_diag d;
    cr_assert_eq(wye_eval_new(&e), WYE_OK);
    cr_assert_eq(wye_eval_read_truth(e, mem(&m, truth_csv), &d), WYE_OK, "%s", d.reason);
    cr_assert_eq(wye_eval_read_local_map(e, "police", mem(&m, police_map), &d), WYE_OK);
    cr_assert_eq(wye_eval_read_local_map(e, "gp", mem(&m, gp_map), &d), WYE_OK, "%s", d.reason);
    cr_assert_eq(wye_eval_read_persons(e, mem(&m, persons), &d), WYE_OK, "%s", d.reason);
    cr_assert_eq(wye_eval_compute(e, r), WYE_OK);
    wye_eval_free(e);
    cr_assert_eq(r->records, 5);
    cr_assert_eq(r->true_persons, 3);
    cr_assert_eq(r->true_pairs, 3); /* x has 3 records: 3 pairs */
}

#define NEAR(a, b) (fabs((a) - (b)) < 1e-12)

Test(eval, perfect)
{
    wye_eval_result r;
    run_eval("agency,record,person\n"
             "police,aa01,P1\npolice,aa02,P1\npolice,aa03,P2\ngp,bb01,P1\ngp,bb02,P3\n",
             &r);
    cr_assert_eq(r.predicted_persons, 3);
    cr_assert_eq(r.predicted_pairs, 3);
    cr_assert_eq(r.correct_pairs, 3);
    cr_assert(NEAR(r.precision, 1) && NEAR(r.recall, 1) && NEAR(r.f1, 1));
}

Test(eval, all_merged)
{
    wye_eval_result r;
    run_eval("agency,record,person\n"
             "police,aa01,A\npolice,aa02,A\npolice,aa03,A\ngp,bb01,A\ngp,bb02,A\n",
             &r);
    cr_assert_eq(r.predicted_persons, 1);
    cr_assert_eq(r.predicted_pairs, 10);
    cr_assert_eq(r.correct_pairs, 3);
    cr_assert(NEAR(r.precision, 0.3) && NEAR(r.recall, 1));
    cr_assert(NEAR(r.f1, 2 * 0.3 / 1.3), "F1 %.12f", r.f1);
}

Test(eval, all_split)
{
    wye_eval_result r;
    run_eval("agency,record,person\n"
             "police,aa01,1\npolice,aa02,2\npolice,aa03,3\ngp,bb01,4\ngp,bb02,5\n",
             &r);
    cr_assert_eq(r.predicted_persons, 5);
    cr_assert_eq(r.predicted_pairs, 0);
    cr_assert_eq(r.correct_pairs, 0);
    cr_assert(NEAR(r.precision, 1) && NEAR(r.recall, 0) && NEAR(r.f1, 0));
}

Test(eval, one_wrong_merge)
{
    /* x's three records together, but y (police 3) merged into them. */
    wye_eval_result r;
    run_eval("agency,record,person\n"
             "police,aa01,A\npolice,aa02,A\npolice,aa03,A\ngp,bb01,A\ngp,bb02,B\n",
             &r);
    cr_assert_eq(r.predicted_persons, 2);
    cr_assert_eq(r.predicted_pairs, 6);
    cr_assert_eq(r.correct_pairs, 3);
    cr_assert(NEAR(r.precision, 0.5) && NEAR(r.recall, 1) && NEAR(r.f1, 2.0 / 3));
}

Test(eval, one_missed_link_across_agencies)
{
    wye_eval_result r;
    run_eval("agency,record,person\n"
             "police,aa01,A\npolice,aa02,A\npolice,aa03,B\ngp,bb01,C\ngp,bb02,D\n",
             &r);
    cr_assert_eq(r.predicted_persons, 4);
    cr_assert_eq(r.correct_pairs, 1);
    cr_assert(NEAR(r.precision, 1) && NEAR(r.recall, 1.0 / 3) && NEAR(r.f1, 0.5));
}

Test(eval, lost_rows_count_as_their_own_person)
{
    /* gp's map lacks local_id 2 (not encoded); police aa03 is missing from
     * the persons file (not linked); a persons row names an unknown record
     * and one names an agency without a map. */
    wye_eval *e = NULL;
    wye_memsource m;
    wye_diag d;
    wye_eval_result r;
    cr_assert_eq(wye_eval_new(&e), WYE_OK);
    cr_assert_eq(wye_eval_read_truth(e, mem(&m, truth_csv), &d), WYE_OK);
    cr_assert_eq(wye_eval_read_local_map(e, "police", mem(&m, police_map), &d), WYE_OK);
    cr_assert_eq(wye_eval_read_local_map(e, "gp", mem(&m, "local_id,record\n1,bb01\n9,bb09\n"),
                                         &d),
                 WYE_OK);
    cr_assert_eq(wye_eval_read_persons(e,
                                       mem(&m, "agency,record,person,score\n"
                                               "police,aa01,A,1\npolice,aa02,A,1\n"
                                               "gp,bb01,A,1\npolice,zz99,Q,1\nasc,cc01,R,1\n"),
                                       &d),
                 WYE_OK);
    cr_assert_eq(wye_eval_compute(e, &r), WYE_OK);
    wye_eval_free(e);
    cr_assert_eq(r.records, 5);
    cr_assert_eq(r.not_encoded, 1);
    cr_assert_eq(r.not_linked, 1);
    cr_assert_eq(r.map_rows_unknown, 1);
    cr_assert_eq(r.person_rows_unknown, 1);
    cr_assert_eq(r.person_rows_ignored, 1);
    cr_assert_eq(r.predicted_persons, 3); /* A, and the two lost rows */
    cr_assert_eq(r.correct_pairs, 3);
    cr_assert(NEAR(r.precision, 1) && NEAR(r.recall, 1));
}

Test(eval, only_agencies_with_a_map)
{
    wye_eval *e = NULL;
    wye_memsource m;
    wye_diag d;
    wye_eval_result r;
    cr_assert_eq(wye_eval_new(&e), WYE_OK);
    cr_assert_eq(wye_eval_read_truth(e, mem(&m, truth_csv), &d), WYE_OK);
    cr_assert_eq(wye_eval_read_local_map(e, "police", mem(&m, police_map), &d), WYE_OK);
    cr_assert_eq(wye_eval_read_persons(e,
                                       mem(&m, "agency,record,person\npolice,aa01,A\n"
                                               "police,aa02,B\npolice,aa03,B\ngp,bb01,A\n"),
                                       &d),
                 WYE_OK);
    cr_assert_eq(wye_eval_compute(e, &r), WYE_OK);
    wye_eval_free(e);
    cr_assert_eq(r.records, 3);
    cr_assert_eq(r.truth_rows_ignored, 2);
    cr_assert_eq(r.person_rows_ignored, 1);
    cr_assert_eq(r.true_pairs, 1);
    cr_assert_eq(r.predicted_pairs, 1);
    cr_assert_eq(r.correct_pairs, 0);
    cr_assert(NEAR(r.precision, 0) && NEAR(r.recall, 0) && NEAR(r.f1, 0));
}

/* Errors name the line and column, never the value. */
static void expect_error(const char *truth, const char *map, const char *persons, int code,
                         uint64_t line, const char *field)
{
    wye_eval *e = NULL;
    wye_memsource m;
    wye_diag d;
    cr_assert_eq(wye_eval_new(&e), WYE_OK);
    int rc = wye_eval_read_truth(e, mem(&m, truth), &d);
    if (!rc && map)
        rc = wye_eval_read_local_map(e, "police", mem(&m, map), &d);
    if (!rc && persons)
        rc = wye_eval_read_persons(e, mem(&m, persons), &d);
    wye_eval_free(e);
    cr_assert_eq(rc, code, "got %d (%s)", rc, d.reason);
    cr_assert_eq(d.line, line, "line %llu", (unsigned long long)d.line);
    cr_assert_str_eq(d.field, field);
    cr_assert_null(strstr(d.reason, "SECRET"), "a value reached the message");
}

Test(eval, errors_name_line_and_column)
{
    expect_error("agency,local_id,person\npolice,SECRET1,x\npolice,SECRET1,y\n", NULL, NULL,
                 WYE_EFORMAT, 3, "local_id");
    expect_error("agency,local,person\npolice,1,x\n", NULL, NULL, WYE_ECOLUMN, 1, "local_id");
    expect_error("agency,local_id,person\npolice,1,x\npolice,\"SEC\"RET,y\n", NULL, NULL,
                 WYE_ECSV, 3, "");
    expect_error("agency,local_id,person\npolice,1,x\npolice,2\n", NULL, NULL, WYE_EFORMAT, 3,
                 "person");
    expect_error("agency,local_id,person\npolice,1,x\npolice,,y\n", NULL, NULL, WYE_EFORMAT, 3,
                 "local_id");
    expect_error("agency,local_id,person\npolice,1,x\n", "local_id,record\n1,SECRET\n1,b\n", NULL,
                 WYE_EFORMAT, 3, "local_id");
    expect_error("agency,local_id,person\npolice,1,x\npolice,2,x\n",
                 "local_id,record\n1,SECRET\n2,SECRET\n", NULL, WYE_EFORMAT, 3, "record");
    expect_error("agency,local_id,person\npolice,1,x\n", "local_id,record\n1,a\n",
                 "agency,record,person\npolice,a,P\npolice,a,SECRET\n", WYE_EFORMAT, 3,
                 "record");
    expect_error("agency,local_id,person\npolice,1,x\n", "local_id,record\n1,a\n",
                 "agency,record\npolice,a\n", WYE_ECOLUMN, 1, "person");
    expect_error("", NULL, NULL, WYE_EFORMAT, 1, "");
    char big[600] = "agency,local_id,person\npolice,";
    memset(big + strlen(big), 'A', 300);
    strcat(big, ",x\n");
    expect_error(big, NULL, NULL, WYE_EFORMAT, 2, "local_id");
}

/* Found by fuzz_eval (bench/fuzz/crashes, eval-code): a row error followed by
 * malformed CSV in the same buffer returned the second error's code with the
 * first's diagnostic. The first error wins, code and text together. */
Test(eval, first_error_keeps_its_code)
{
    expect_error("agency,local_id,person\npolice,1,x\npolice,2\npolice,3,a\"b\n", NULL, NULL,
                 WYE_EFORMAT, 3, "person");
    expect_error("agency,local,person\npo\"x\n", NULL, NULL, WYE_ECOLUMN, 1, "local_id");
}

Test(eval, order_is_enforced)
{
    wye_eval *e = NULL;
    wye_memsource m;
    wye_diag d;
    wye_eval_result r;
    cr_assert_eq(wye_eval_new(&e), WYE_OK);
    cr_assert_eq(wye_eval_compute(e, &r), WYE_ESTATE);
    cr_assert_eq(wye_eval_read_local_map(e, "police", mem(&m, police_map), &d), WYE_ESTATE);
    cr_assert_eq(wye_eval_read_persons(e, mem(&m, "agency,record,person\n"), &d), WYE_ESTATE);
    cr_assert_eq(wye_eval_read_truth(e, mem(&m, truth_csv), &d), WYE_OK);
    cr_assert_eq(wye_eval_read_truth(e, mem(&m, truth_csv), &d), WYE_ESTATE);
    cr_assert_eq(wye_eval_read_local_map(e, "police", mem(&m, police_map), &d), WYE_OK);
    cr_assert_eq(wye_eval_read_local_map(e, "police", mem(&m, police_map), &d), WYE_ESTATE);
    cr_assert_eq(wye_eval_read_persons(e, mem(&m, "agency,record,person\n"), &d), WYE_OK);
    cr_assert_eq(wye_eval_read_local_map(e, "gp", mem(&m, gp_map), &d), WYE_ESTATE);
    cr_assert_eq(wye_eval_read_persons(e, mem(&m, "agency,record,person\n"), &d), WYE_ESTATE);
    cr_assert_eq(wye_eval_compute(e, &r), WYE_OK);
    cr_assert_eq(r.records, 3);
    cr_assert_eq(r.not_linked, 3);
    wye_eval_free(e);
    wye_eval_free(NULL);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* The CLI tests' inputs in folder d: the truth, both local maps and a
 * persons.csv that merges y and z into x's person (precision 0.5). */
static void write_cli_inputs(const char *d)
{
    write_file(d, "truth.csv", truth_csv);
    write_file(d, "police.map", police_map);
    write_file(d, "gp.map", gp_map);
    write_file(d, "persons.csv",
               "agency,record,person\n"
               "police,aa01,A\npolice,aa02,A\npolice,aa03,A\ngp,bb01,A\ngp,bb02,B\n");
}

Test(eval, cli_prints_counts_and_json)
{
    char *d = temp_dir();
    const char *w = wyelink_exe();
    write_cli_inputs(d);
    cr_assert_eq(run("cd '%s' && '%s' eval --persons persons.csv --truth truth.csv "
                     "--local-map police=police.map --local-map gp=gp.map --json r.json "
                     "> out.txt 2> err.txt",
                     d, w),
                 0);
    char p[700];
    snprintf(p, sizeof p, "%s/out.txt", d);
    char *out = slurp(p, NULL);
    cr_assert(strstr(out, "precision                 0.5000"), "%s", out);
    cr_assert(strstr(out, "recall                    1.0000"));
    cr_assert(strstr(out, "F1                        0.6667"));
    cr_assert(strstr(out, "predicted persons              2\n"));
    free(out);
    snprintf(p, sizeof p, "%s/r.json", d);
    json_t *j = json_load_file(p, 0, NULL);
    cr_assert_not_null(j);
    cr_assert_eq(json_integer_value(json_object_get(j, "correct_pairs")), 3);
    cr_assert_eq(json_integer_value(json_object_get(j, "predicted_pairs")), 6);
    cr_assert_eq(json_integer_value(json_object_get(j, "true_persons")), 3);
    cr_assert(fabs(json_real_value(json_object_get(j, "f1")) - 2.0 / 3) < 1e-9);
    json_decref(j);

    /* An error names the file and the line, not the value. */
    write_file(d, "bad.csv", "agency,local_id,person\npolice,1,x\npolice,1,SECRETNAME\n");
    cr_assert_eq(run("cd '%s' && '%s' eval --persons persons.csv --truth bad.csv "
                     "--local-map police=police.map > out.txt 2> err.txt",
                     d, w),
                 1);
    snprintf(p, sizeof p, "%s/err.txt", d);
    char *err = slurp(p, NULL);
    cr_assert(strstr(err, "'bad.csv' line 3 field 'local_id'"), "%s", err);
    cr_assert_null(strstr(err, "SECRET"));
    free(err);
    cr_assert_eq(run("cd '%s' && '%s' eval --persons persons.csv --truth nosuch.csv "
                     "--local-map police=police.map 2> err.txt",
                     d, w),
                 1);
    cr_assert_eq(run("cd '%s' && '%s' eval --persons persons.csv --truth truth.csv "
                     "2> err.txt",
                     d, w),
                 2);
    cr_assert_eq(run("cd '%s' && '%s' eval --persons p --truth t --local-map police "
                     "2> err.txt",
                     d, w),
                 2);
    remove_dir(d);
}

/* With --key, eval appends a signed entry: its inputs with digests, the
 * JSON it wrote, the counts and F1; a failed run is recorded too. Without
 * --key, --audit-log is a usage error. */
Test(eval, key_appends_an_audit_entry)
{
    char *d = temp_dir();
    const char *w = wyelink_exe();
    write_cli_inputs(d);
    cr_assert_eq(run("cd '%s' && '%s' keys create --name lu --role linkage-unit --out keys "
                     "--audit-log keys.log > /dev/null",
                     d, w),
                 0);
    const char *args = "--persons persons.csv --truth truth.csv --local-map police=police.map "
                       "--local-map gp=gp.map";
    cr_assert_eq(run("cd '%s' && '%s' eval %s --audit-log a.log > out.txt 2> err.txt", d, w,
                     args),
                 2);
    cr_assert_eq(run("cd '%s' && '%s' eval %s --json r.json --key keys/lu.key --audit-log a.log "
                     "> out.txt 2> err.txt",
                     d, w, args),
                 0);
    cr_assert_eq(run("cd '%s' && '%s' eval --persons persons.csv --truth nosuch.csv "
                     "--local-map police=police.map --key keys/lu.key --audit-log a.log "
                     "2> err.txt",
                     d, w),
                 1);
    cr_assert_eq(run("cd '%s' && '%s' audit verify a.log --signer keys/lu.pub > out.txt", d, w),
                 0);
    cr_assert_eq(run("cd '%s' && '%s' audit show a.log --json > show.json", d, w), 0);
    char p[700];
    snprintf(p, sizeof p, "%s/show.json", d);
    char *text = slurp(p, NULL);
    char *second = strchr(text, '\n');
    cr_assert_not_null(second);
    *second++ = 0;
    json_t *e = json_loads(text, 0, NULL), *f = json_loads(second, 0, NULL);
    cr_assert_not_null(e);
    cr_assert_not_null(f);
    cr_assert_str_eq(json_string_value(json_object_get(e, "command")), "eval");
    cr_assert_eq(json_array_size(json_object_get(e, "inputs")), 4); /* truth, 2 maps, persons */
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(e, "outputs"), 0), "path")),
                     "r.json");
    json_t *c = json_object_get(e, "counts");
    cr_assert_eq(json_integer_value(json_object_get(c, "correct_pairs")), 3);
    cr_assert_eq(json_integer_value(json_object_get(c, "predicted_pairs")), 6);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(e, "params"), "f1")),
                     "0.6667");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(e, "outcome"), "code")), 0);
    /* the failed run: recorded with its error, no counts */
    cr_assert_neq(json_integer_value(json_object_get(json_object_get(f, "outcome"), "code")), 0);
    cr_assert_eq(json_object_size(json_object_get(f, "counts")), 0);
    json_decref(e);
    json_decref(f);
    free(text);
    remove_dir(d);
}

/* A linkage straight from the truth scores 1 on generated data. */
Test(eval, truth_against_itself_scores_one)
{
    generated g;
    generate(&g, 4, 1, 1, 0);
    wye_eval *e = NULL;
    wye_memsource m;
    wye_diag d;
    cr_assert_eq(wye_eval_new(&e), WYE_OK);
    m = (wye_memsource){g.truth.data, g.truth.size, 0};
    cr_assert_eq(wye_eval_read_truth(e, wye_source_memory(&m), &d), WYE_OK);
    /* Maps local_id -> "r" + local_id; persons from the truth. */
    table t;
    table_parse(&t, g.truth.data, g.truth.size);
    wye_membuf persons = {0};
    wye_sink ps = wye_sink_memory(&persons);
    ps.write(ps.ctx, "agency,record,person\n", 21);
    for (unsigned a = 0; a < NAG; a++) {
        wye_membuf map = {0};
        wye_sink ms = wye_sink_memory(&map);
        ms.write(ms.ctx, "local_id,record\n", 16);
        for (size_t r = 1; r < t.n; r++) {
            if (strcmp(t.rows[r][0], wye_synth_agency_name(a)))
                continue;
            char line[600];
            int n = snprintf(line, sizeof line, "%s,r%s\n", t.rows[r][1], t.rows[r][1]);
            ms.write(ms.ctx, line, (size_t)n);
            n = snprintf(line, sizeof line, "%s,r%s,%s\n", t.rows[r][0], t.rows[r][1],
                         t.rows[r][2]);
            ps.write(ps.ctx, line, (size_t)n);
        }
        m = (wye_memsource){map.data, map.size, 0};
        cr_assert_eq(wye_eval_read_local_map(e, wye_synth_agency_name(a), wye_source_memory(&m),
                                             &d),
                     WYE_OK);
        free(map.data);
    }
    m = (wye_memsource){persons.data, persons.size, 0};
    cr_assert_eq(wye_eval_read_persons(e, wye_source_memory(&m), &d), WYE_OK);
    wye_eval_result r;
    cr_assert_eq(wye_eval_compute(e, &r), WYE_OK);
    cr_assert_eq(r.records, t.n - 1);
    cr_assert_eq(r.true_persons, g.persons);
    cr_assert_eq(r.predicted_persons, g.persons);
    cr_assert(r.true_pairs > 1000);
    cr_assert_eq(r.correct_pairs, r.true_pairs);
    cr_assert(NEAR(r.f1, 1));
    wye_eval_free(e);
    free(persons.data);
    table_free(&t);
    gen_free(&g);
}
