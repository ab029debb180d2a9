/* wyelink report's library: intersections from persons.csv, scores from
 * pairs.csv, the page (no script, no external reference, no pseudonym) and
 * the CSV tables, exact reports marked on every table. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "wyelink/disclosure.h"
#include "wyelink/report.h"

static const char summary_text[] =
    "{\"tool\":\"wyelink link\",\"version\":\"0.1.0\",\"protocol\":{\"name\":\"p\","
    "\"fingerprint\":\"ab\"},\"small_counts\":\"exact\",\"records\":{\"a\":40,\"b\":30,\"c\":20},"
    "\"records_total\":90,\"unique_persons\":60,\"persons_per_agency\":{\"a\":35,\"b\":25,"
    "\"c\":15},\"persons_by_number_of_agencies\":{\"1\":47,\"2\":8,\"3\":5},"
    "\"overlaps\":[{\"agencies\":[\"a\",\"b\"],\"persons\":10},{\"agencies\":[\"a\",\"c\"],"
    "\"persons\":7},{\"agencies\":[\"b\",\"c\"],\"persons\":6}],"
    "\"persons_by_attribute\":{\"sex\":{\"values\":{\"F\":50,\"M\":9,\"X\":1},\"missing\":0}},"
    "\"thresholds\":{\"match\":11.5,\"possible\":7.5},\"model\":{\"comparisons\":[{\"name\":"
    "\"given_name\",\"levels\":{\"exact\":{\"m\":0.9,\"u\":0.01,\"weight\":6.49}}}]},"
    "\"blocking\":{\"all_pairs\":4005,\"candidate_pairs\":300,\"reduction_ratio\":0.925},"
    "\"links\":{\"matches\":30,\"possible\":3,\"conflicts\":0,\"merges\":30}}";

/* a persons.csv consistent with the summary's agency sets: 47 persons
 * known to one agency, 8 to two, 5 to three */
static char *persons_csv(void)
{
    static char buf[1 << 16];
    size_t n = (size_t)snprintf(buf, sizeof buf, "agency,record,person\n");
    int person = 0;
    static const char *const one[] = {"a", "b", "c"};
    static const int nof[] = {22, 15, 10}; /* a only, b only, c only */
    for (int g = 0; g < 3; g++)
        for (int i = 0; i < nof[g]; i++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s,%032x,%d\n", one[g], person,
                                  person + 1), person++;
    for (int i = 0; i < 8; i++, person++) /* a and b: 5, a and c: 2, b and c: 1 */
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s,%032x,%d\n%s,%032x,%d\n",
                              i < 7 ? "a" : "b", 0xd00000 + person, person + 1,
                              i < 5 ? "b" : "c", 0xe00000 + person, person + 1);
    for (int i = 0; i < 5; i++, person++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "a,%032x,%d\nb,%032x,%d\nc,%032x,%d\n",
                              0xf00000 + person, person + 1, 0xf10000 + person, person + 1,
                              0xf20000 + person, person + 1);
    return buf;
}

static const char pairs_text[] = "agency_a,record_a,agency_b,record_b,score,decision\n"
                                 "a,00000000000000000000000000deadbe,b,0000000000000000000000000"
                                 "0c0ffee,12.250,match\n"
                                 "a,0000000000000000000000000000beef,c,000000000000000000000000"
                                 "0000cafe,8.000,possible\n";

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    cr_assert(j, "test JSON: %s", e.text);
    return j;
}

static wye_source mem(wye_memsource *m, const char *text)
{
    *m = (wye_memsource){(const uint8_t *)text, strlen(text), 0};
    return wye_source_memory(m);
}

Test(report, intersections_are_counted_from_persons_in_order)
{
    json_t *s = parse(summary_text);
    wye_memsource m;
    wye_diag d;
    int rc = wye_report_intersections(s, mem(&m, persons_csv()), &d);
    cr_assert_eq(rc, WYE_OK, "%s (line %llu %s: %s)", wye_strerror(rc),
                 (unsigned long long)d.line, d.field, d.reason);
    json_t *in = json_object_get(s, "intersections");
    cr_assert_eq(json_array_size(in), 7);
    static const char *const names[] = {"a", "b", "c", "a+b", "a+c", "b+c", "a+b+c"};
    static const int persons[] = {22, 15, 10, 5, 2, 1, 5};
    for (size_t i = 0; i < 7; i++) {
        json_t *o = json_array_get(in, i), *ag = json_object_get(o, "agencies");
        char got[16] = "";
        for (size_t j = 0; j < json_array_size(ag); j++)
            strcat(strcat(got, j ? "+" : ""), json_string_value(json_array_get(ag, j)));
        cr_expect_str_eq(got, names[i]);
        cr_expect_eq(json_integer_value(json_object_get(o, "persons")), persons[i], "%s", got);
    }
    cr_assert_null(json_object_get(s, "intersections_exact"), "the summary was exact already");
    json_decref(s);
}

Test(report, bad_rows_of_persons_are_named_by_line)
{
    json_t *s = parse(summary_text);
    wye_memsource m;
    wye_diag d;
    cr_assert_eq(wye_report_intersections(
                     s, mem(&m, "agency,record,person\na,00,1\nzz,01,2\n"), &d),
                 WYE_EFORMAT);
    cr_assert_eq(d.line, 3);
    cr_assert_str_eq(d.field, "agency");
    cr_assert_eq(wye_report_intersections(s, mem(&m, "agency,record\n"), &d), WYE_EFORMAT);
    cr_assert_eq(d.line, 1);
    json_decref(s);
}

Test(report, bad_rows_of_pairs_are_named_by_line)
{
    wye_report *r;
    wye_memsource m;
    wye_diag d;
    cr_assert_eq(wye_report_new(&r), WYE_OK);
    cr_assert_eq(wye_report_read_pairs(
                     r, mem(&m, "agency_a,record_a,agency_b,record_b,score,decision\n"
                                "a,1,b,2,twelve,match\n"), &d),
                 WYE_EFORMAT);
    cr_assert_eq(d.line, 2);
    cr_assert_str_eq(d.field, "score");
    wye_report_free(r);
}

typedef struct page {
    char *html;
    char *csv; /* all tables, one after the other */
    size_t ntables;
} page;

static page make(bool exact)
{
    json_t *s = parse(summary_text);
    wye_memsource m;
    cr_assert_eq(wye_report_intersections(s, mem(&m, persons_csv()), NULL), WYE_OK);
    wye_disclosure_params p;
    wye_disclosure_default_params(&p);
    p.exact = exact;
    cr_assert_eq(wye_disclosure_publish(s, NULL, 0, &p, NULL, NULL), WYE_OK);
    wye_report *r;
    cr_assert_eq(wye_report_new(&r), WYE_OK);
    cr_assert_eq(wye_report_set_summary(r, s), WYE_OK);
    json_decref(s); /* the report holds its own reference */
    cr_assert_eq(wye_report_read_pairs(r, mem(&m, pairs_text), NULL), WYE_OK);
    wye_membuf h = {0}, c = {0};
    wye_sink hs = wye_sink_memory(&h), cs = wye_sink_memory(&c);
    cr_assert_eq(wye_report_write_html(r, &hs), WYE_OK);
    size_t n = wye_report_ntables(r);
    cr_assert_gt(n, 10);
    for (size_t i = 0; i < n; i++) {
        const char *name = wye_report_table_file(r, i);
        cr_assert(name && strstr(name, ".csv"));
        cr_assert_eq(wye_report_write_csv(r, i, &cs), WYE_OK);
    }
    cr_assert_eq(wye_report_write_csv(r, n, &cs), WYE_EINVAL);
    wye_report_free(r);
    hs.write(hs.ctx, "", 1);
    cs.write(cs.ctx, "", 1);
    return (page){(char *)h.data, (char *)c.data, n};
}

Test(report, the_page_is_self_contained_and_holds_the_headline)
{
    page p = make(false);
    cr_assert(strstr(p.html, "<!DOCTYPE html>"));
    cr_assert_null(strstr(p.html, "<script"), "no script");
    cr_assert_null(strstr(p.html, "http://"), "no external reference");
    cr_assert_null(strstr(p.html, "https://"), "no external reference");
    cr_assert_null(strstr(p.html, "src="), "no external file");
    cr_assert(strstr(p.html, ">60<"), "unique persons in the headline");
    cr_assert(strstr(p.html, "<svg"), "charts");
    static const char *const sections[] = {"id=\"headline\"", "id=\"overlaps\"",
                                           "id=\"profiles\"", "id=\"diagnostics\"",
                                           "id=\"provenance\"", "UpSet"};
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        cr_expect(strstr(p.html, sections[i]), "%s", sections[i]);
    cr_assert(strstr(p.html, "&lt;5"), "the small sex count is shown as <5");
    cr_assert_null(strstr(p.html, "internal use"), "published: no exact marker");
    free(p.html);
    free(p.csv);
}

Test(report, no_pseudonym_reaches_the_page_or_the_tables)
{
    page p = make(false);
    static const char *const pseudonyms[] = {"deadbe", "c0ffee", "beef", "cafe", "f10001",
                                             "d0002f"};
    for (size_t i = 0; i < sizeof pseudonyms / sizeof pseudonyms[0]; i++) {
        cr_expect_null(strstr(p.html, pseudonyms[i]), "%s in the page", pseudonyms[i]);
        cr_expect_null(strstr(p.csv, pseudonyms[i]), "%s in a table", pseudonyms[i]);
    }
    free(p.html);
    free(p.csv);
}

Test(report, an_exact_report_says_so_on_every_table)
{
    page p = make(true);
    cr_assert(strstr(p.html, "internal use only, not for publication"), "banner");
    size_t tables = 0, marked = 0;
    for (const char *x = p.html; (x = strstr(x, "<caption>")); x++, tables++) {
        const char *end = strstr(x, "</caption>");
        const char *m = strstr(x, "internal use only");
        marked += m && m < end;
    }
    cr_assert_gt(tables, 3);
    cr_assert_eq(marked, tables, "every table's caption says exact");
    size_t comments = 0;
    for (const char *x = p.csv; (x = strstr(x, "# exact counts: internal use only")); x++)
        comments++;
    cr_assert_eq(comments, p.ntables, "every CSV starts with the exact marker");
    cr_assert(strstr(p.html, ">60<") || strstr(p.html, ">60 "), "exact headline");
    free(p.html);
    free(p.csv);
}
