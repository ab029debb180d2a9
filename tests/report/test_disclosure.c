/* The disclosure rule (linker/DISCLOSURE.md): forms of counts, secondary
 * suppression where rounding alone can be undone, exact mode, the
 * quality summaries, refusing a summary whose suppressed cells can be
 * worked out, and the errors. The independent attacker (scipy) is
 * attack.py, run by test_adversarial.py and test_report_cli.py. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "wyelink/disclosure.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    cr_assert(j, "test JSON line %d: %s", e.line, e.text);
    return j;
}

static json_t *publish(const char *exact_text)
{
    json_t *exact = parse(exact_text), *pub = NULL;
    wye_diag d;
    int rc = wye_disclosure_apply(exact, NULL, &pub, &d);
    cr_assert_eq(rc, WYE_OK, "%s (%s: %s)", wye_strerror(rc), d.field, d.reason);
    json_decref(exact);
    return pub;
}

/* The published form of x at path "a.b" in o, as text. */
static const char *at(json_t *o, const char *k1, const char *k2)
{
    static char buf[64];
    json_t *v = json_object_get(o, k1);
    if (k2)
        v = json_object_get(v, k2);
    if (json_is_string(v))
        return json_string_value(v);
    cr_assert(json_is_integer(v), "%s.%s missing", k1, k2 ? k2 : "");
    snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    return buf;
}

/* The published tree passes the rule's own audit when read back as
 * published (fixed): nothing suppressed can be narrowed. */
static void expect_safe(json_t *pub)
{
    json_t *copy = json_deep_copy(pub);
    wye_diag d;
    int rc = wye_disclosure_publish(copy, NULL, 0, NULL, NULL, &d);
    cr_assert_eq(rc, WYE_OK, "%s (%s: %s)", wye_strerror(rc), d.field, d.reason);
    cr_assert(json_equal(copy, pub), "a published tree is left as it is");
    json_decref(copy);
}

Test(disclosure, each_count_is_shown_below_5_or_rounded_to_5)
{
    /* the published form of 0..17, one agency's records at a time */
    static const char *const want[] = {"<5", "<5", "<5", "<5", "<5", "5",  "5",  "5",  "10",
                                       "10", "10", "10", "10", "15", "15", "15", "15", "15"};
    for (int v = 0; v < 18; v++) {
        char text[128];
        snprintf(text, sizeof text, "{\"small_counts\":\"exact\",\"records\":{\"a\":%d}}", v);
        json_t *pub = publish(text);
        cr_expect_str_eq(at(pub, "records", "a"), want[v], "%d", v);
        json_decref(pub);
    }
}

/* The case: the demo's persons by number of agencies, whose six
 * other cells add up to unique persons exactly under the old rule. */
static const char demo_counts[] =
    "{\"small_counts\":\"exact\",\"records\":{\"a\":3000,\"b\":3000,\"c\":3000,\"d\":3000,"
    "\"e\":3000,\"f\":3000,\"g\":3000},\"unique_persons\":2967,"
    "\"persons_by_number_of_agencies\":{\"1\":1912,\"2\":685,\"3\":259,\"4\":72,\"5\":33,"
    "\"6\":6,\"7\":0}}";

Test(disclosure, the_demo_cell_7_is_no_longer_recoverable)
{
    json_t *pub = publish(demo_counts);
    cr_assert_str_eq(at(pub, "persons_by_number_of_agencies", "7"), "<5");
    cr_assert_str_eq(at(pub, "unique_persons", NULL), "2965");
    expect_safe(pub);
    json_decref(pub);
}

Test(disclosure, a_summary_under_the_old_rule_is_refused_when_a_cell_can_be_worked_out)
{
    /* what wyelink link wrote before this rule: exact integers and "<5" */
    json_t *old = parse(demo_counts);
    json_object_set_new(old, "small_counts", json_string("counts below 5 shown as <5"));
    json_object_set_new(json_object_get(old, "persons_by_number_of_agencies"), "7",
                        json_string("<5"));
    wye_diag d;
    cr_assert_eq(wye_disclosure_publish(old, NULL, 0, NULL, NULL, &d), WYE_EFORMAT);
    cr_assert_str_eq(d.field, "persons_by_number_of_agencies.7");
    json_decref(old);
}

Test(disclosure, rounding_alone_would_leak_so_more_is_suppressed)
{
    /* Two agencies: 102 persons known to a only, 3 to both. Rounded alone:
     * one agency 100 (98..102), unique 105 (103..107), so the 3 lie in
     * 1..9: "<5" would say 1..4, not 0..4. */
    json_t *pub = publish("{\"small_counts\":\"exact\",\"records\":{\"a\":105,\"b\":3},"
                          "\"unique_persons\":105,\"persons_per_agency\":{\"a\":105,\"b\":3},"
                          "\"persons_by_number_of_agencies\":{\"1\":102,\"2\":3},"
                          "\"overlaps\":[{\"agencies\":[\"a\",\"b\"],\"persons\":3}]}");
    char *text = json_dumps(pub, 0);
    cr_assert(strstr(text, "\"suppressed\""), "%s", text);
    free(text);
    expect_safe(pub);
    json_decref(pub);
}

Test(disclosure, the_same_count_is_published_the_same_everywhere)
{
    /* by number "2" and the pair are both the persons known to a and b */
    json_t *pub = publish("{\"small_counts\":\"exact\",\"records\":{\"a\":105,\"b\":3},"
                          "\"unique_persons\":105,\"persons_by_number_of_agencies\":"
                          "{\"1\":102,\"2\":3},\"overlaps\":[{\"agencies\":[\"a\",\"b\"],"
                          "\"persons\":3}]}");
    json_t *pair = json_object_get(json_array_get(json_object_get(pub, "overlaps"), 0), "persons");
    cr_assert(json_equal(pair, json_object_get(json_object_get(pub, "persons_by_number_of_agencies"),
                                               "2")));
    json_decref(pub);
}

Test(disclosure, keys_stay_and_the_rule_is_named)
{
    json_t *exact = parse(demo_counts), *pub = publish(demo_counts);
    const char *k;
    json_t *v;
    json_object_foreach(exact, k, v) cr_expect(json_object_get(pub, k), "key %s kept", k);
    cr_assert_str_eq(at(pub, "disclosure", NULL), WYE_DISCLOSURE_RULE);
    cr_assert(strstr(at(pub, "small_counts", NULL), "rounded to the nearest 5"));
    cr_assert_eq(wye_disclosure_is_exact(pub), 0);
    cr_assert_eq(wye_disclosure_is_exact(exact), 1);
    json_decref(exact);
    json_decref(pub);
}

Test(disclosure, exact_counts_stay_exact_and_say_so)
{
    json_t *exact = parse(demo_counts), *out = NULL;
    wye_disclosure_params p;
    wye_disclosure_default_params(&p);
    p.exact = true;
    cr_assert_eq(wye_disclosure_apply(exact, &p, &out, NULL), WYE_OK);
    cr_assert_str_eq(at(out, "persons_by_number_of_agencies", "6"), "6");
    cr_assert_str_eq(at(out, "disclosure", NULL), "exact");
    cr_assert(strstr(at(out, "small_counts", NULL), "internal use only"));
    json_decref(exact);
    json_decref(out);
}

Test(disclosure, the_same_tree_gives_the_same_bytes)
{
    json_t *a = publish(demo_counts), *b = publish(demo_counts);
    char *x = json_dumps(a, JSON_PRESERVE_ORDER), *y = json_dumps(b, JSON_PRESERVE_ORDER);
    cr_assert_str_eq(x, y);
    free(x);
    free(y);
    json_decref(a);
    json_decref(b);
}

Test(disclosure, bad_counts_are_named)
{
    json_t *pub;
    wye_diag d;
    json_t *neg = parse("{\"small_counts\":\"exact\",\"records\":{\"a\":5},"
                        "\"persons_per_agency\":{\"a\":-1}}");
    cr_assert_eq(wye_disclosure_apply(neg, NULL, &pub, &d), WYE_EJSON);
    cr_assert_str_eq(d.field, "persons_per_agency.a");
    cr_assert_null(pub);
    json_decref(neg);
    json_t *str = parse("{\"small_counts\":\"exact\",\"records\":{\"a\":\"<5\"}}");
    cr_assert_eq(wye_disclosure_apply(str, NULL, &pub, &d), WYE_EJSON);
    cr_assert_str_eq(d.field, "records.a");
    json_decref(str);
    json_t *unknown = parse("{\"small_counts\":\"exact\",\"records\":{\"a\":5},"
                            "\"overlaps\":[{\"agencies\":[\"a\",\"z\"],\"persons\":1}]}");
    cr_assert_eq(wye_disclosure_apply(unknown, NULL, &pub, &d), WYE_EJSON);
    json_decref(unknown);
    json_t *published = publish(demo_counts);
    cr_assert_eq(wye_disclosure_apply(published, NULL, &pub, &d), WYE_EJSON, "not exact");
    json_decref(published);
}

Test(disclosure, more_agencies_than_the_audit_models_are_refused)
{
    json_t *s = parse("{\"small_counts\":\"exact\",\"records\":{}}"), *pub;
    for (int a = 0; a <= WYE_DISCLOSURE_MAX_AGENCIES; a++) {
        char name[16];
        snprintf(name, sizeof name, "ag%d", a);
        json_object_set_new(json_object_get(s, "records"), name, json_integer(100));
    }
    cr_assert_eq(wye_disclosure_apply(s, NULL, &pub, NULL), WYE_ERANGE);
    json_decref(s);
}

static const char quality_text[] =
    "{\"format\":\"wyelink-hash-summary\",\"version\":1,\"input\":\"/secret/path/x.csv\","
    "\"encoded_file\":\"x.wye\",\"local_map\":\"x.csv\",\"agency\":\"a\","
    "\"extract_date\":\"2023-03-31\",\"rows_read\":110,\"rows_encoded\":105,\"rows_rejected\":5,"
    "\"blank_lines\":0,\"rejected_by_reason\":{\"r1\":3,\"r2\":1,\"r3\":1},"
    "\"rejected_rows\":[{\"line\":7,\"reason\":\"r1\"}],\"rejected_rows_complete\":true,"
    "\"invalid_values\":[{\"line\":9,\"field\":\"postcode\",\"reason\":\"x\"}],"
    "\"rows_with_fields_counted\":110,"
    "\"fields\":{\"postcode\":{\"mapped\":true,\"present\":100,\"missing\":8,\"invalid\":2,"
    "\"invalid_reasons\":{\"x\":2}},\"nhs_number\":{\"mapped\":false,\"present\":0,"
    "\"missing\":110,\"invalid\":0,\"invalid_reasons\":{}}},\"attributes\":{}}";

Test(disclosure, quality_summaries_lose_paths_lines_and_small_reasons)
{
    json_t *s = parse("{\"small_counts\":\"exact\",\"records\":{\"a\":105}}");
    json_t *q = parse(quality_text);
    wye_disclosure_stats st;
    wye_diag d;
    int rc = wye_disclosure_publish(s, &q, 1, NULL, &st, &d);
    cr_assert_eq(rc, WYE_OK, "%s (%s: %s)", wye_strerror(rc), d.field, d.reason);
    static const char *const gone[] = {"input", "encoded_file", "local_map", "rejected_rows",
                                       "invalid_values", "blank_lines"};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
        cr_expect_null(json_object_get(q, gone[i]), "%s dropped", gone[i]);
    json_t *why = json_object_get(q, "rejected_by_reason");
    cr_assert_eq(json_object_size(why), 1, "reasons below 5 folded");
    cr_assert(json_object_get(why, "other reasons"));
    cr_assert_eq(json_object_size(json_object_get(json_object_get(q, "fields"), "nhs_number")), 1,
                 "no column: no counts");
    /* the agency's rows encoded are its records in the summary: one form */
    cr_assert(json_equal(json_object_get(q, "rows_encoded"),
                         json_object_get(json_object_get(s, "records"), "a")));
    cr_assert_str_eq(at(q, "disclosure", NULL), WYE_DISCLOSURE_RULE);
    cr_assert_gt(st.cells, 8);
    char *text = json_dumps(q, 0);
    cr_assert_null(strstr(text, "/secret/path"), "no file path");
    free(text);
    json_decref(s);
    json_decref(q);
}

Test(disclosure, a_quality_tree_must_be_exact)
{
    json_t *q = parse(quality_text);
    json_object_set_new(q, "disclosure", json_string(WYE_DISCLOSURE_RULE));
    cr_assert_eq(wye_disclosure_publish(NULL, &q, 1, NULL, NULL, NULL), WYE_EJSON);
    json_decref(q);
}
