/* Column maps: schema errors with their key paths, binding to a header,
 * every name layout and date format through a row, value maps, attributes
 * and the row verdicts. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wyelink/colmap.h"

static wye_protocol *proto;

static void setup(void)
{
    const char *root = getenv("WYELINK_SOURCE_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/protocols/default.json", root ? root : ".");
    wye_diag d;
    cr_assert_eq(wye_protocol_load(path, &proto, &d), WYE_OK, "load %s: %s", path, d.reason);
}

static void teardown(void) { wye_protocol_free(proto); }

TestSuite(colmap, .init = setup, .fini = teardown);

static int parse(const char *json, wye_colmap **m, wye_diag *d)
{
    return wye_colmap_parse(json, strlen(json), proto, m, d);
}

#define HEAD "{\"format\":\"wyelink-column-map\",\"version\":1,\"local_id\":\"Ref\","

static void expect_error(const char *json, int code, const char *field)
{
    wye_colmap *m = NULL;
    wye_diag d;
    int rc = parse(json, &m, &d);
    cr_expect_eq(rc, code, "%s: rc %d (%s: %s)", json, rc, d.field, d.reason);
    cr_expect_str_eq(d.field, field, "%s: reason %s", json, d.reason);
    cr_expect_null(m);
    wye_colmap_free(m);
}

Test(colmap, schema_errors)
{
    expect_error("[]", WYE_EJSON, "");
    expect_error("{\"format\":\"wyelink-protocol\",\"version\":1}", WYE_EJSON, "format");
    expect_error("{\"format\":\"wyelink-column-map\",\"version\":2}", WYE_EVERSION, "version");
    expect_error(HEAD "\"columns\":[]}", WYE_EJSON, "columns");
    expect_error(HEAD "\"colums\":[]}", WYE_EJSON, "colums");
    expect_error("{\"format\":\"wyelink-column-map\",\"version\":1,"
                 "\"columns\":[{\"column\":\"A\",\"field\":\"given_name\"}]}",
                 WYE_EJSON, "local_id");
    expect_error(HEAD "\"encoding\":\"latin-1\",\"columns\":[{\"column\":\"A\","
                      "\"field\":\"given_name\"}]}",
                 WYE_EJSON, "encoding");
    expect_error(HEAD "\"columns\":[{\"column\":\"A\",\"field\":\"shoe_size\"}]}",
                 WYE_EJSON, "columns[0].field");
    expect_error(HEAD "\"columns\":[{\"column\":\"A\",\"field\":\"given_name\"},"
                      "{\"column\":\"B\",\"field\":\"date_of_birth\"}]}",
                 WYE_EJSON, "columns[1].date_format");
    expect_error(HEAD "\"columns\":[{\"column\":\"B\",\"field\":\"date_of_birth\","
                      "\"date_format\":\"MM/DD/YYYY\"}]}",
                 WYE_EJSON, "columns[0].date_format");
    expect_error(HEAD "\"columns\":[{\"column\":\"A\",\"field\":\"given_name\","
                      "\"date_format\":\"YYYYMMDD\"}]}",
                 WYE_EJSON, "columns[0].date_format");
    expect_error(HEAD "\"columns\":[{\"column\":\"A\",\"field\":\"given_name\"},"
                      "{\"column\":\"N\",\"split\":\"forename_surname\"}]}",
                 WYE_EJSON, "columns[1]");
    expect_error(HEAD "\"columns\":[{\"column\":\"N\",\"split\":\"surname_forename\"}]}",
                 WYE_EJSON, "columns[0].split");
    expect_error(HEAD "\"columns\":[{\"column\":\"A\",\"field\":\"family_name\","
                      "\"multiple\":true}]}",
                 WYE_EJSON, "columns[0].multiple");
    expect_error(HEAD "\"columns\":[{\"column\":\"S\",\"field\":\"sex\","
                      "\"values\":{\"1\":\"Male\"}}]}",
                 WYE_EJSON, "columns[0].values[0]");
    expect_error(HEAD "\"columns\":[{\"column\":\"S\",\"field\":\"sex\","
                      "\"values\":{\"f\":\"F\",\" F \":\"F\"}}]}",
                 WYE_EJSON, "columns[0].values[1]");
    expect_error(HEAD "\"columns\":[{\"column\":\"P\",\"field\":\"postcode\","
                      "\"values\":{\"x\":null}}]}",
                 WYE_EJSON, "columns[0].values");
    expect_error(HEAD "\"columns\":[{\"column\":\"A\",\"field\":\"given_name\"},"
                      "{\"column\":\"T\",\"attribute\":\"service_type\","
                      "\"values\":{\"Refuge\":\"shelter\"}}]}",
                 WYE_EJSON, "columns[1].values[0]");
    expect_error(HEAD "\"columns\":[{\"column\":\"A\",\"field\":\"given_name\"},"
                      "{\"column\":\"T\",\"attribute\":\"age_band\"}]}",
                 WYE_EJSON, "columns[1].attribute");
    expect_error(HEAD "\"columns\":[{\"column\":\"A\",\"field\":\"given_name\"},"
                      "{\"column\":\"T\",\"attribute\":\"religion\"}]}",
                 WYE_EJSON, "columns[1].attribute");
    expect_error(HEAD "\"columns\":[{\"column\":\"A\",\"field\":\"given_name\","
                      "\"split\":\"forename_surname\"}]}",
                 WYE_EJSON, "columns[0]");
    expect_error(HEAD "\"columns\":[{\"column\":\"\",\"field\":\"given_name\"}]}",
                 WYE_EJSON, "columns[0].column");
    expect_error(HEAD "\"columns\":[{\"column\":\"T\",\"attribute\":\"service_type\"}]}",
                 WYE_EJSON, "columns");
    /* a syntax error gives the line */
    wye_colmap *m;
    wye_diag d;
    cr_expect_eq(parse("{\n\"format\":\n}", &m, &d), WYE_EJSON);
    cr_expect_eq(d.line, 3);
    cr_expect_eq(parse(HEAD "\"local_id\":\"X\"}", &m, &d), WYE_EJSON); /* repeated key */
}

/* Read csv through map, returning the rows' fields, verdicts and ids. */
typedef struct {
    wye_fields f[16];
    wye_row_verdict v[16];
    char id[16][32];
    uint64_t line[16];
    int n;
} rows;

static int run(const char *map_json, const char *csv, const wye_date *extract, rows *out,
               wye_diag *d)
{
    wye_colmap *m;
    int rc = parse(map_json, &m, d);
    cr_assert_eq(rc, WYE_OK, "map: %s %s", d->field, d->reason);
    wye_memsource ms = {(const uint8_t *)csv, strlen(csv), 0};
    wye_csvin *r;
    rc = wye_csvin_open(wye_source_memory(&ms), wye_colmap_encoding(m), &r, d);
    cr_assert_eq(rc, WYE_OK);
    rc = wye_colmap_bind(m, r, d);
    if (rc) {
        wye_csvin_free(r);
        wye_colmap_free(m);
        return rc;
    }
    wye_csv_row row;
    out->n = 0;
    while (out->n < 16 && wye_csvin_next(r, &row, d) == 1) {
        const char *id;
        size_t idlen;
        int k = out->n++;
        out->v[k] = wye_colmap_extract(m, &row, extract, &out->f[k], &id, &idlen);
        snprintf(out->id[k], sizeof out->id[k], "%.*s", (int)idlen, id ? id : "");
        out->line[k] = row.line;
    }
    wye_csvin_free(r);
    wye_colmap_free(m);
    return WYE_OK;
}

static int fi(const char *name) { return wye_protocol_field_index(proto, name); }

static void expect_field(const wye_fields *f, const char *name, wye_norm_status st,
                         const char *value)
{
    int i = fi(name);
    cr_assert_geq(i, 0);
    cr_expect_eq(f->status[i], st, "%s: status %d", name, f->status[i]);
    if (st == WYE_NORM_PRESENT)
        cr_expect_str_eq(f->value[i], value, "%s", name);
}

static const wye_date extract = {2024, 3, 31};

Test(colmap, bind_names_missing_column)
{
    rows rs;
    wye_diag d;
    int rc = run(HEAD "\"columns\":[{\"column\":\"Forename\",\"field\":\"given_name\"},"
                      "{\"column\":\"Surname\",\"field\":\"family_name\"}]}",
                 "Ref,Forename,Last Name\n1,Ann,Lee\n", &extract, &rs, &d);
    cr_expect_eq(rc, WYE_ECOLUMN);
    cr_expect_str_eq(d.field, "Surname");
    rc = run(HEAD "\"columns\":[{\"column\":\"Forename\",\"field\":\"given_name\"}]}",
             "Forename,Ref,Forename\n1,Ann,Lee\n", &extract, &rs, &d);
    cr_expect_eq(rc, WYE_EDUPLICATE, "twice is not missing");
    cr_expect_str_eq(d.field, "Forename");
    cr_expect_eq(d.line, 1);
    cr_expect_str_eq(d.reason, "column 'Forename' appears twice in the header");
    /* the local id's column too */
    rc = run(HEAD "\"columns\":[{\"column\":\"Forename\",\"field\":\"given_name\"}]}",
             "Ref,Forename,Ref\n1,Ann,Lee\n", &extract, &rs, &d);
    cr_expect_eq(rc, WYE_EDUPLICATE);
    cr_expect_str_eq(d.reason, "column 'Ref' appears twice in the header");
    rc = run("{\"format\":\"wyelink-column-map\",\"version\":1,\"local_id\":\"ID\","
             "\"columns\":[{\"column\":\"Forename\",\"field\":\"given_name\"}]}",
             "Forename,Ref\nAnn,1\n", &extract, &rs, &d);
    cr_expect_eq(rc, WYE_ECOLUMN);
    cr_expect_str_eq(d.field, "ID");
}

Test(colmap, separate_columns_and_verdicts)
{
    const char *map =
        HEAD "\"agency\":\"police\",\"columns\":["
             "{\"column\":\"Forename\",\"field\":\"given_name\"},"
             "{\"column\":\"Middle\",\"field\":\"other_given_names\"},"
             "{\"column\":\"Surname\",\"field\":\"family_name\"},"
             "{\"column\":\"Maiden\",\"field\":\"former_family_name\"},"
             "{\"column\":\"DOB\",\"field\":\"date_of_birth\",\"date_format\":\"DD/MM/YYYY\"},"
             "{\"column\":\"Gender\",\"field\":\"sex\",\"values\":{\"F\":\"F\",\"M\":\"M\","
             "\"U\":null,\"Not stated\":null}},"
             "{\"column\":\"Postcode\",\"field\":\"postcode\"},"
             "{\"column\":\"NHS\",\"field\":\"nhs_number\"},"
             "{\"column\":\"Service\",\"attribute\":\"service_type\","
             "\"values\":{\"Refuge\":\"refuge\",\"Outreach\":\"outreach\",\"N/A\":null}}]}";
    const char *csv =
        "Ref,Forename,Middle,Surname,Maiden,DOB,Gender,Postcode,NHS,Service\n"
        " P1 ,Mrs Anne-Marie,Louise Jane,O'Brien,Smith,07/08/1991,f,hr1 2ab,943 476 5919,refuge\n"
        "P2,Ann,,Lee,,31/02/1990,Not Stated,ZZ99 3VZ,,N/A\n"
        "P3,Bea,,,,,,,,\n"
        "P4,,,,,01/01/1980,F,HR1 2AB,,\n"
        "P5,,,,,,,,9434765919,\n"
        ",Cat,,Cole,,01/01/1980,,,,\n"
        ",,,,,,,,,\n"
        "P8,Dee,,Doe,,01/01/1980,Q,,,Helpline\n"
        "P9,Eve\n"
        "P10,Fay,,Fox,,01/04/2008,M,,,\n";
    rows rs;
    wye_diag d;
    cr_assert_eq(run(map, csv, &extract, &rs, &d), WYE_OK);
    cr_assert_eq(rs.n, 10);
    const wye_fields *f = &rs.f[0];
    cr_expect_eq(rs.v[0], WYE_ROW_OK);
    cr_expect_str_eq(rs.id[0], "P1");
    expect_field(f, "given_name", WYE_NORM_PRESENT, "ANNEMARIE");
    expect_field(f, "other_given_names", WYE_NORM_PRESENT, "LOUISE JANE");
    expect_field(f, "family_name", WYE_NORM_PRESENT, "OBRIEN");
    expect_field(f, "former_family_name", WYE_NORM_PRESENT, "SMITH");
    expect_field(f, "date_of_birth", WYE_NORM_PRESENT, "19910807");
    expect_field(f, "sex", WYE_NORM_PRESENT, "F");
    expect_field(f, "postcode", WYE_NORM_PRESENT, "HR1 2AB");
    expect_field(f, "nhs_number", WYE_NORM_PRESENT, "9434765919");
    /* attributes: age_band 32 -> "25-34" (index 2), sex F (0), refuge (0) */
    cr_expect_eq(f->attr[0], 3);
    cr_expect_eq(f->attr[1], 1);
    cr_expect_eq(f->attr[2], 1);

    f = &rs.f[1];
    cr_expect_eq(rs.v[1], WYE_ROW_NAME_ONLY);
    expect_field(f, "date_of_birth", WYE_NORM_INVALID, NULL);
    cr_expect_eq(f->reason[fi("date_of_birth")], WYE_NR_DATE_NO_SUCH_DAY);
    expect_field(f, "sex", WYE_NORM_MISSING, NULL);
    expect_field(f, "postcode", WYE_NORM_INVALID, NULL);
    cr_expect_eq(f->reason[fi("postcode")], WYE_NR_POSTCODE_PSEUDO);
    expect_field(f, "other_given_names", WYE_NORM_MISSING, NULL);
    cr_expect_eq(f->attr_status[2], WYE_NORM_MISSING);
    cr_expect_eq(f->attr[0], 0);

    cr_expect_eq(rs.v[2], WYE_ROW_NAME_ONLY);
    cr_expect_eq(rs.v[3], WYE_ROW_NO_NAME);
    cr_expect_eq(rs.v[4], WYE_ROW_OK); /* an NHS number alone can link */
    cr_expect_eq(rs.v[5], WYE_ROW_NO_LOCAL_ID);
    cr_expect_eq(rs.v[6], WYE_ROW_EMPTY);
    cr_expect_eq(rs.v[7], WYE_ROW_OK);
    expect_field(&rs.f[7], "sex", WYE_NORM_INVALID, NULL);
    cr_expect_eq(rs.f[7].reason[fi("sex")], WYE_NR_CODE_UNKNOWN);
    cr_expect_eq(rs.f[7].attr_status[2], WYE_NORM_INVALID);
    cr_expect_eq(rs.f[7].attr_reason[2], WYE_NR_CODE_UNKNOWN);
    cr_expect_eq(rs.f[7].attr_status[1], WYE_NORM_MISSING);
    cr_expect_eq(rs.v[8], WYE_ROW_FIELD_COUNT);
    cr_expect_eq(rs.line[8], 10);
    /* 15 on the extract date (turns 16 the next day): no band */
    cr_expect_eq(rs.v[9], WYE_ROW_OK);
    cr_expect_eq(rs.f[9].attr_status[0], WYE_NORM_MISSING);
    cr_expect_eq(rs.f[9].attr[1], 2);
}

Test(colmap, name_layouts_and_date_formats)
{
    static const struct {
        const char *fmt, *raw;
    } dates[] = {
        {"DD/MM/YYYY", "17/08/1991"}, {"YYYY-MM-DD", "1991-08-17"},
        {"DD-Mon-YYYY", "17-Aug-1991"}, {"DD/MM/YY", "17/08/91"},
        {"YYYYMMDD", "19910817"}, {"DD.MM.YYYY", "17.08.1991"},
    };
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        char map[1024], csv[256];
        snprintf(map, sizeof map,
                 HEAD "\"columns\":[{\"column\":\"Name\",\"split\":\"%s\"},"
                      "{\"column\":\"Born\",\"field\":\"date_of_birth\",\"date_format\":\"%s\"}]}",
                 i % 2 ? "surname_comma_forename" : "forename_surname", dates[i].fmt);
        snprintf(csv, sizeof csv, "Ref,Name,Born\nA,\"%s\",%s\n",
                 i % 2 ? "SMITH, Jane Mary" : "Jane Mary Smith", dates[i].raw);
        rows rs;
        wye_diag d;
        cr_assert_eq(run(map, csv, &extract, &rs, &d), WYE_OK);
        cr_assert_eq(rs.n, 1);
        cr_expect_eq(rs.v[0], WYE_ROW_OK, "format %s", dates[i].fmt);
        expect_field(&rs.f[0], "given_name", WYE_NORM_PRESENT, "JANE");
        expect_field(&rs.f[0], "other_given_names", WYE_NORM_PRESENT, "MARY");
        expect_field(&rs.f[0], "family_name", WYE_NORM_PRESENT, "SMITH");
        expect_field(&rs.f[0], "date_of_birth", WYE_NORM_PRESENT, "19910817");
    }
}

Test(colmap, multiple_given_names_and_default_sex)
{
    const char *map = HEAD "\"encoding\":\"windows-1252\",\"columns\":["
                           "{\"column\":\"Forenames\",\"field\":\"given_name\",\"multiple\":true},"
                           "{\"column\":\"Surname\",\"field\":\"family_name\"},"
                           "{\"column\":\"Sex\",\"field\":\"sex\"},"
                           "{\"column\":\"PC\",\"field\":\"postcode\"},"
                           "{\"column\":\"Service\",\"attribute\":\"service_type\"}]}";
    const char *csv = "Ref,Forenames,Surname,Sex,PC,Service\n"
                      "1,Ren\xE9 Marie Claire,Lef\xE8vre,Female,W1A1AA,Outreach\n"
                      "2,,Lee,Man,HR1 2AB,shelter\n";
    rows rs;
    wye_diag d;
    cr_assert_eq(run(map, csv, &extract, &rs, &d), WYE_OK);
    cr_assert_eq(rs.n, 2);
    expect_field(&rs.f[0], "given_name", WYE_NORM_PRESENT, "RENE");
    expect_field(&rs.f[0], "other_given_names", WYE_NORM_PRESENT, "MARIE CLAIRE");
    expect_field(&rs.f[0], "family_name", WYE_NORM_PRESENT, "LEFEVRE");
    expect_field(&rs.f[0], "sex", WYE_NORM_PRESENT, "F");
    cr_expect_eq(rs.f[0].attr[2], 2); /* outreach, matched ignoring case */
    cr_expect_eq(rs.v[1], WYE_ROW_OK);
    expect_field(&rs.f[1], "given_name", WYE_NORM_MISSING, NULL);
    expect_field(&rs.f[1], "sex", WYE_NORM_PRESENT, "M");
    cr_expect_eq(rs.f[1].attr_status[2], WYE_NORM_INVALID);
    cr_expect_eq(rs.f[1].attr_reason[2], WYE_NR_ATTR_NOT_ALLOWED);
    wye_colmap *m;
    cr_assert_eq(parse(map, &m, &d), WYE_OK);
    cr_expect_eq(wye_colmap_encoding(m), WYE_CSV_WINDOWS1252);
    cr_expect(wye_colmap_field_mapped(m, (size_t)fi("other_given_names")));
    cr_expect(!wye_colmap_field_mapped(m, (size_t)fi("nhs_number")));
    cr_expect(!wye_colmap_attr_mapped(m, 0)); /* age_band: no date of birth */
    cr_expect(wye_colmap_attr_mapped(m, 1));
    cr_expect(wye_colmap_attr_mapped(m, 2));
    wye_colmap_free(m);
}

Test(colmap, verdict_texts)
{
    for (int v = 0; v < WYE_ROW_COUNT; v++)
        cr_expect(strlen(wye_row_verdict_text((wye_row_verdict)v)) > 0);
    cr_expect_str_eq(wye_row_verdict_text(WYE_ROW_COUNT), "unknown verdict");
}

Test(colmap, example_maps_parse)
{
    /* hashing/maps/ (written from the same schema by the test-data work) */
    const char *root = getenv("WYELINK_SOURCE_ROOT");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/hashing/maps", root ? root : ".");
    DIR *dd = opendir(dir);
    if (!dd)
        cr_skip_test("no %s", dir);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(dd))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 5, ".json"))
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        wye_colmap *m;
        wye_diag d;
        int rc = wye_colmap_load(path, proto, &m, &d);
        cr_expect_eq(rc, WYE_OK, "%s: %s %s", de->d_name, d.field, d.reason);
        wye_colmap_free(m);
        n++;
    }
    closedir(dd);
    cr_expect_geq(n, 1);
}

/* A protocol with the address and other_id fields (the default has neither):
 * it replaces proto for the tests below (teardown frees it). */
static void use_address_protocol(void)
{
    static const char json[] =
        "{\"format\":\"wyelink-protocol\",\"version\":1,\"name\":\"test-address\","
        "\"filter_bits\":1024,\"fields\":["
        "{\"name\":\"given_name\",\"kdf_id\":1,\"tokenisers\":[{\"type\":\"qgram\"}],"
        "\"record_bits\":100},"
        "{\"name\":\"family_name\",\"kdf_id\":1,\"tokenisers\":[{\"type\":\"qgram\"}],"
        "\"record_bits\":100},"
        "{\"name\":\"date_of_birth\",\"kdf_id\":2,\"tokenisers\":[{\"type\":\"date_parts\"}],"
        "\"record_bits\":100},"
        "{\"name\":\"nhs_number\",\"kdf_id\":5,\"tokenisers\":[{\"type\":\"whole\"}],"
        "\"record_bits\":0,\"exact_digest\":true},"
        "{\"name\":\"address\",\"kdf_id\":6,\"tokenisers\":[{\"type\":\"qgram\"}],"
        "\"record_bits\":100,\"field_filter_bits\":256,\"field_filter_k\":30},"
        "{\"name\":\"other_id\",\"kdf_id\":7,\"tokenisers\":[{\"type\":\"whole\"}],"
        "\"record_bits\":0,\"exact_digest\":true}]}";
    wye_protocol *p;
    wye_diag d;
    cr_assert_eq(wye_protocol_parse(json, strlen(json), &p, &d), WYE_OK, "%s: %s", d.field,
                 d.reason);
    wye_protocol_free(proto);
    proto = p;
}

Test(colmap, address_other_id_and_joined_columns)
{
    use_address_protocol();
    const char *map =
        HEAD "\"columns\":["
             "{\"column\":\"First\",\"field\":\"given_name\"},"
             "{\"column\":\"Last\",\"field\":\"family_name\"},"
             "{\"column\":\"DOB\",\"field\":\"date_of_birth\",\"date_format\":\"YYYYMMDD\"},"
             "{\"column\":[\"No\",\" Street \",\"Town\"],\"field\":\"address\"},"
             "{\"column\":[\"IdPrefix\",\"Id\"],\"field\":\"other_id\"}]}";
    const char *csv =
        "Ref,First,Last,DOB,No,Street,Town,IdPrefix,Id\n"
        "R1,Ann,Lee,19800101, 8 ,Stanley Street,Winston Hills,ab,530-4218\n"
        "R2,Ann,Lee,,,St John's Road,,,\n"          /* name + address: linkable */
        "R3,Ann,Lee,,,,,,5304218\n"                 /* name + other id: linkable */
        "R4,Ann,Lee,,,,,,\n"                        /* name only */
        "R5,Ann,Lee,,,,No fixed abode,,0000000\n"   /* placeholders: invalid, name only */
        "R6,,,,,,,,5304218\n"                       /* no name: an id alone is not enough */
        "R7,Ann,Lee,,,,,,530.4218\n"                /* an invalid id */
        "R8,,,,12,High St,,,5304218\n"              /* no name: id + address links */
        "R9,,,19800101,,,,,5304218\n"               /* no name: id + date of birth links */
        "R10,,,19800101,12,High St,,,\n"            /* no name, no id: refused */
        "R11,,,19800101,12,High St,,,530.4218\n";   /* no name, invalid id: refused */
    rows rs;
    wye_diag d;
    cr_assert_eq(run(map, csv, &extract, &rs, &d), WYE_OK);
    cr_assert_eq(rs.n, 11);
    cr_expect_eq(rs.v[0], WYE_ROW_OK);
    expect_field(&rs.f[0], "address", WYE_NORM_PRESENT, "8 STANLEY ST WINSTON HILLS");
    expect_field(&rs.f[0], "other_id", WYE_NORM_PRESENT, "AB5304218");
    cr_expect_eq(rs.v[1], WYE_ROW_OK);
    expect_field(&rs.f[1], "address", WYE_NORM_PRESENT, "ST JOHNS RD");
    expect_field(&rs.f[1], "other_id", WYE_NORM_MISSING, NULL);
    cr_expect_eq(rs.v[2], WYE_ROW_OK);
    expect_field(&rs.f[2], "address", WYE_NORM_MISSING, NULL);
    expect_field(&rs.f[2], "other_id", WYE_NORM_PRESENT, "5304218");
    cr_expect_eq(rs.v[3], WYE_ROW_NAME_ONLY);
    cr_expect_eq(rs.v[4], WYE_ROW_NAME_ONLY);
    expect_field(&rs.f[4], "address", WYE_NORM_INVALID, NULL);
    cr_expect_eq(rs.f[4].reason[fi("address")], WYE_NR_ADDRESS_PLACEHOLDER);
    expect_field(&rs.f[4], "other_id", WYE_NORM_INVALID, NULL);
    cr_expect_eq(rs.f[4].reason[fi("other_id")], WYE_NR_ID_PLACEHOLDER);
    cr_expect_eq(rs.v[5], WYE_ROW_NO_NAME);
    cr_expect_eq(rs.v[6], WYE_ROW_NAME_ONLY);
    cr_expect_eq(rs.f[6].reason[fi("other_id")], WYE_NR_ID_FORMAT);
    cr_expect_eq(rs.v[7], WYE_ROW_OK);
    expect_field(&rs.f[7], "other_id", WYE_NORM_PRESENT, "5304218");
    cr_expect_eq(rs.v[8], WYE_ROW_OK);
    cr_expect_eq(rs.v[9], WYE_ROW_NO_NAME);
    cr_expect_eq(rs.v[10], WYE_ROW_NO_NAME);

    /* the rule on its own agrees */
    for (int i = 0; i < rs.n; i++)
        cr_expect_eq(wye_fields_linkable(proto, &rs.f[i]), rs.v[i], "row %d", i);
    /* each of date of birth, address and other id suffices with a name */
    wye_fields f;
    wye_fields_clear(&f);
    f.status[fi("family_name")] = WYE_NORM_PRESENT;
    cr_expect_eq(wye_fields_linkable(proto, &f), WYE_ROW_NAME_ONLY);
    const char *links[] = {"date_of_birth", "address", "other_id"};
    for (size_t k = 0; k < 3; k++) {
        f.status[fi(links[k])] = WYE_NORM_PRESENT;
        cr_expect_eq(wye_fields_linkable(proto, &f), WYE_ROW_OK, "%s", links[k]);
        f.status[fi(links[k])] = WYE_NORM_MISSING;
    }
    /* without a name: an NHS number alone, or another id with a date of
     * birth or an address; nothing else */
    wye_fields_clear(&f);
    const char *all[] = {"date_of_birth", "address", "other_id"};
    for (unsigned mask = 0; mask < 8; mask++) {
        for (size_t k = 0; k < 3; k++)
            f.status[fi(all[k])] = mask >> k & 1 ? WYE_NORM_PRESENT : WYE_NORM_MISSING;
        bool ok = (mask & 4) && (mask & 3);
        cr_expect_eq(wye_fields_linkable(proto, &f), ok ? WYE_ROW_OK : WYE_ROW_NO_NAME,
                     "fields %#x", mask);
        f.status[fi("nhs_number")] = WYE_NORM_PRESENT;
        cr_expect_eq(wye_fields_linkable(proto, &f), WYE_ROW_OK, "fields %#x + nhs", mask);
        f.status[fi("nhs_number")] = WYE_NORM_MISSING;
    }
}

Test(colmap, joined_columns_too_long_and_blank)
{
    use_address_protocol();
    const char *map =
        HEAD "\"columns\":[{\"column\":\"Last\",\"field\":\"family_name\"},"
             "{\"column\":[\"A1\",\"A2\"],\"field\":\"address\"}]}";
    /* two cells of 128 bytes join to 257 (> WYE_NORM_RAW_MAX): too long, even
     * though each is short enough; 127 + 1 + 128 = 256 is not */
    char csv[1024], a[129], b[128];
    memset(a, 'A', 128), a[128] = 0;
    memset(b, 'B', 127), b[127] = 0;
    snprintf(csv, sizeof csv, "Ref,Last,A1,A2\nR1,Lee,%s,%s\nR2,Lee,%s,%s\n, ,  , \nR4,Lee, , \n",
             a, a, b, a);
    rows rs;
    wye_diag d;
    cr_assert_eq(run(map, csv, &extract, &rs, &d), WYE_OK);
    cr_assert_eq(rs.n, 4);
    expect_field(&rs.f[0], "address", WYE_NORM_INVALID, NULL);
    cr_expect_eq(rs.f[0].reason[fi("address")], WYE_NR_TOO_LONG);
    cr_expect_eq(rs.v[0], WYE_ROW_NAME_ONLY);
    /* 256 bytes raw, but its canonical form is 255 bytes: too long too */
    expect_field(&rs.f[1], "address", WYE_NORM_INVALID, NULL);
    cr_expect_eq(rs.f[1].reason[fi("address")], WYE_NR_TOO_LONG);
    cr_expect_eq(rs.v[2], WYE_ROW_EMPTY);
    expect_field(&rs.f[3], "address", WYE_NORM_MISSING, NULL);
    cr_expect_eq(rs.v[3], WYE_ROW_NAME_ONLY);
}

Test(colmap, joined_columns_schema)
{
    use_address_protocol();
    /* a list only for address and other_id, of 2 to 8 distinct names */
    expect_error(HEAD "\"columns\":[{\"column\":[\"A\",\"B\"],\"field\":\"family_name\"}]}",
                 WYE_EJSON, "columns[0].column");
    expect_error(HEAD "\"columns\":[{\"column\":[\"A\",\"B\"],\"split\":"
                      "\"forename_surname\"}]}",
                 WYE_EJSON, "columns[0].column");
    expect_error(HEAD "\"columns\":[{\"column\":[\"A\"],\"field\":\"address\"}]}",
                 WYE_EJSON, "columns[0].column");
    expect_error(HEAD "\"columns\":[{\"column\":[\"A\",\"B\",\"C\",\"D\",\"E\",\"F\",\"G\","
                      "\"H\",\"I\"],\"field\":\"address\"}]}",
                 WYE_EJSON, "columns[0].column");
    expect_error(HEAD "\"columns\":[{\"column\":[\"A\",\" A\"],\"field\":\"address\"}]}",
                 WYE_EJSON, "columns[0].column[1]");
    expect_error(HEAD "\"columns\":[{\"column\":[\"A\",3],\"field\":\"address\"}]}",
                 WYE_EJSON, "columns[0].column[1]");
    expect_error(HEAD "\"columns\":[{\"column\":[\"A\",\"  \"],\"field\":\"other_id\"}]}",
                 WYE_EJSON, "columns[0].column[1]");
    expect_error(HEAD "\"columns\":[{\"column\":[\"A\",\"B\"],\"field\":\"address\"},"
                      "{\"column\":\"C\",\"field\":\"address\"}]}",
                 WYE_EJSON, "columns[1]");
    /* each column of a list must be in the header */
    wye_colmap *m;
    wye_diag d;
    const char *map = HEAD "\"columns\":[{\"column\":[\"A\",\"Gone\"],\"field\":\"address\"}]}";
    cr_assert_eq(parse(map, &m, &d), WYE_OK);
    const char *csv = "Ref,A\nR1,x\n";
    wye_memsource ms = {(const uint8_t *)csv, strlen(csv), 0};
    wye_csvin *r;
    cr_assert_eq(wye_csvin_open(wye_source_memory(&ms), WYE_CSV_UTF8, &r, &d), WYE_OK);
    cr_expect_eq(wye_colmap_bind(m, r, &d), WYE_ECOLUMN);
    cr_expect_str_eq(d.field, "Gone");
    wye_csvin_free(r);
    wye_colmap_free(m);
}

/* ---- constant attributes (issue 19) ---- */

Test(colmap, constant_attribute)
{
    const char *map = HEAD "\"columns\":[{\"column\":\"Forename\",\"field\":\"given_name\"},"
                           "{\"column\":\"DOB\",\"field\":\"date_of_birth\","
                           "\"date_format\":\"DD/MM/YYYY\"},"
                           "{\"attribute\":\"service_type\",\"value\":\"advocacy\"}]}";
    wye_colmap *m;
    wye_diag d;
    cr_assert_eq(parse(map, &m, &d), WYE_OK, "%s %s", d.field, d.reason);
    cr_expect(wye_colmap_attr_mapped(m, 2), "a constant feeds its attribute");
    wye_colmap_free(m);
    rows rs;
    cr_assert_eq(run(map, "Ref,Forename,DOB\nC1,Ann,01/02/1990\nC2,,\n,,\n", &extract, &rs, &d),
                 WYE_OK);
    cr_assert_eq(rs.n, 3);
    /* advocacy is service_type's value 3: stored as 4 on every row */
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(rs.f[i].attr_status[2], WYE_NORM_PRESENT, "row %d", i);
        cr_expect_eq(rs.f[i].attr[2], 4, "row %d", i);
    }
    cr_expect_eq(rs.v[0], WYE_ROW_OK);
    cr_expect_eq(rs.v[1], WYE_ROW_NO_NAME);
    cr_expect_eq(rs.v[2], WYE_ROW_EMPTY, "a constant makes no row less empty");

    /* the value must be allowed; nothing but attribute and value; one feed */
    expect_error(HEAD "\"columns\":[{\"column\":\"A\",\"field\":\"given_name\"},"
                      "{\"attribute\":\"service_type\",\"value\":\"Advocacy\"}]}",
                 WYE_EJSON, "columns[1].value");
    expect_error(HEAD "\"columns\":[{\"column\":\"A\",\"field\":\"given_name\"},"
                      "{\"attribute\":\"service_type\",\"value\":3}]}",
                 WYE_EJSON, "columns[1].value");
    expect_error(HEAD "\"columns\":[{\"column\":\"A\",\"field\":\"given_name\"},"
                      "{\"column\":\"S\",\"attribute\":\"service_type\",\"value\":\"refuge\"}]}",
                 WYE_EJSON, "columns[1].column");
    expect_error(HEAD "\"columns\":[{\"column\":\"A\",\"field\":\"given_name\"},"
                      "{\"attribute\":\"service_type\",\"value\":\"refuge\","
                      "\"values\":{\"R\":\"refuge\"}}]}",
                 WYE_EJSON, "columns[1].values");
    expect_error(HEAD "\"columns\":[{\"column\":\"A\",\"field\":\"given_name\"},"
                      "{\"field\":\"sex\",\"value\":\"F\"}]}",
                 WYE_EJSON, "columns[1].field");
    expect_error(HEAD "\"columns\":[{\"column\":\"A\",\"field\":\"given_name\"},"
                      "{\"value\":\"refuge\"}]}",
                 WYE_EJSON, "columns[1].attribute");
    expect_error(HEAD "\"columns\":[{\"column\":\"A\",\"field\":\"given_name\"},"
                      "{\"attribute\":\"age_band\",\"value\":\"18-24\"}]}",
                 WYE_EJSON, "columns[1].attribute");
    expect_error(HEAD "\"columns\":[{\"column\":\"A\",\"field\":\"given_name\"},"
                      "{\"column\":\"S\",\"attribute\":\"service_type\"},"
                      "{\"attribute\":\"service_type\",\"value\":\"refuge\"}]}",
                 WYE_EJSON, "columns[2].attribute");
    expect_error(HEAD "\"columns\":[{\"attribute\":\"service_type\",\"value\":\"refuge\"}]}",
                 WYE_EJSON, "columns");
}

/* ---- two-digit years (issue 19) ---- */

Test(colmap, two_digit_year_pivot)
{
    static const char *const fmt =
        HEAD "\"columns\":[{\"column\":\"Name\",\"split\":\"forename_surname\"},"
             "{\"column\":\"Born\",\"field\":\"date_of_birth\",\"date_format\":\"DD/MM/YY\"%s}]}";
    static const struct {
        const char *raw, *plain, *pivot1920;
    } cases[] = {
        {"05/06/20", "20200605", "19200605"},
        {"05/06/19", "20190605", "20190605"},
        {"5/6/21", "20210605", "19210605"},
        {"05/06/20 00:00:00", "20200605", "19200605"},
        {"05/06/1987", "19870605", "19870605"}, /* four digits stand as written */
        {" 31/12/99 ", "19991231", "19991231"},
    };
    char map[512], pmap[512];
    snprintf(map, sizeof map, fmt, "");
    snprintf(pmap, sizeof pmap, fmt, ",\"two_digit_year_pivot\":1920");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char csv[256];
        snprintf(csv, sizeof csv, "Ref,Name,Born\nA,Jane Smith,\"%s\"\n", cases[i].raw);
        rows rs;
        wye_diag d;
        cr_assert_eq(run(map, csv, &extract, &rs, &d), WYE_OK);
        expect_field(&rs.f[0], "date_of_birth", WYE_NORM_PRESENT, cases[i].plain);
        cr_assert_eq(run(pmap, csv, &extract, &rs, &d), WYE_OK);
        expect_field(&rs.f[0], "date_of_birth", WYE_NORM_PRESENT, cases[i].pivot1920);
    }
    /* a window that reaches past the extract date: later dates are invalid */
    snprintf(pmap, sizeof pmap, fmt, ",\"two_digit_year_pivot\":1930");
    rows rs;
    wye_diag d;
    cr_assert_eq(run(pmap, "Ref,Name,Born\nA,Jane Smith,01/01/29\nB,Jo Bo,1/2/3x\n", &extract,
                     &rs, &d),
                 WYE_OK);
    expect_field(&rs.f[0], "date_of_birth", WYE_NORM_INVALID, NULL);
    cr_expect_eq(rs.f[0].reason[fi("date_of_birth")], WYE_NR_DATE_FUTURE);
    cr_expect_eq(rs.f[1].reason[fi("date_of_birth")], WYE_NR_DATE_FORMAT);

    /* only on DD/MM/YY, a whole year from 1800 to 2200 */
    wye_colmap *m;
    cr_assert_eq(parse(map, &m, &d), WYE_OK);
    cr_expect(wye_colmap_two_digit_years(m), "DD/MM/YY without a pivot");
    wye_colmap_free(m);
    snprintf(pmap, sizeof pmap, fmt, ",\"two_digit_year_pivot\":1920");
    cr_assert_eq(parse(pmap, &m, &d), WYE_OK);
    cr_expect(!wye_colmap_two_digit_years(m), "the pivot is given");
    wye_colmap_free(m);
    cr_assert_eq(parse(HEAD "\"columns\":[{\"column\":\"B\",\"field\":\"date_of_birth\","
                            "\"date_format\":\"DD/MM/YYYY\"}]}",
                       &m, &d),
                 WYE_OK);
    cr_expect(!wye_colmap_two_digit_years(m), "four-digit years");
    wye_colmap_free(m);
    expect_error(HEAD "\"columns\":[{\"column\":\"B\",\"field\":\"date_of_birth\","
                      "\"date_format\":\"DD/MM/YYYY\",\"two_digit_year_pivot\":1930}]}",
                 WYE_EJSON, "columns[0].two_digit_year_pivot");
    expect_error(HEAD "\"columns\":[{\"column\":\"B\",\"field\":\"date_of_birth\","
                      "\"date_format\":\"DD/MM/YY\",\"two_digit_year_pivot\":1799}]}",
                 WYE_EJSON, "columns[0].two_digit_year_pivot");
    expect_error(HEAD "\"columns\":[{\"column\":\"B\",\"field\":\"date_of_birth\","
                      "\"date_format\":\"DD/MM/YY\",\"two_digit_year_pivot\":\"1930\"}]}",
                 WYE_EJSON, "columns[0].two_digit_year_pivot");
    expect_error(HEAD "\"columns\":[{\"column\":\"B\",\"field\":\"given_name\","
                      "\"two_digit_year_pivot\":1930}]}",
                 WYE_EJSON, "columns[0].two_digit_year_pivot");
    expect_error(HEAD "\"columns\":[{\"column\":\"B\",\"split\":\"forename_surname\","
                      "\"two_digit_year_pivot\":1930}]}",
                 WYE_EJSON, "columns[0].two_digit_year_pivot");
}

/* ---- code tallies (issue 19) ---- */

/* A map bound to header (the csvin is not kept). */
static wye_colmap *bound(const char *map_json, const char *header)
{
    wye_colmap *m;
    wye_diag d;
    cr_assert_eq(parse(map_json, &m, &d), WYE_OK, "map: %s %s", d.field, d.reason);
    wye_memsource ms = {(const uint8_t *)header, strlen(header), 0};
    wye_csvin *r;
    cr_assert_eq(wye_csvin_open(wye_source_memory(&ms), WYE_CSV_UTF8, &r, &d), WYE_OK);
    cr_assert_eq(wye_colmap_bind(m, r, &d), WYE_OK);
    wye_csvin_free(r);
    return m;
}

/* Count csv's rows into t, row i into t[i % n]. */
static void tally_csv(wye_code_tally **t, int n, const char *csv)
{
    wye_memsource ms = {(const uint8_t *)csv, strlen(csv), 0};
    wye_csvin *r;
    wye_diag d;
    cr_assert_eq(wye_csvin_open(wye_source_memory(&ms), WYE_CSV_UTF8, &r, &d), WYE_OK);
    wye_csv_row row;
    for (int i = 0; wye_csvin_next(r, &row, &d) == 1; i++)
        cr_assert_eq(wye_code_tally_row(t[i % n], &row), WYE_OK);
    wye_csvin_free(r);
}

static const char tally_map[] =
    HEAD "\"columns\":[{\"column\":\"Name\",\"field\":\"given_name\"},"
         "{\"column\":\"Gender\",\"field\":\"sex\",\"values\":{\"F\":\"F\",\"M\":\"M\","
         "\"U\":null}},"
         "{\"column\":\"Service\",\"attribute\":\"service_type\"}]}";

/* 14 rows: Gender f/F x6 (shown as the map spells it), Q x5 (unknown, first
 * met as "q"), M x1, an
 * identifying free text x1, empty x1; Service refuge/Refuge x6, shelter x2
 * (not allowed), empty x6; one row of the wrong width (not counted). */
static const char tally_csv_text[] =
    "Ref,Name,Gender,Service\n"
    "1,A, f,refuge\n"
    "2,A,F,Refuge\n"
    "3,A, q ,refuge\n"
    "4,A,F,REFUGE\n"
    "5,A,Q,shelter\n"
    "6,A,F,refuge\n"
    "7,A,Q,\n"
    "8,A,F,refuge\n"
    "9,A,M,shelter\n"
    "10,A,Q,\n"
    "11,A,Zebulonia Quillfeather,\n"
    "12,A,F,\n"
    "13,A,Q,\n"
    "14,A,,\n"
    "15,A\n";

static void expect_code(const wye_code_column *c, size_t k, const char *code, uint64_t rows,
                        bool in_map, uint8_t status, const char *value)
{
    cr_assert_lt(k, c->ncodes);
    const wye_code_count *x = &c->codes[k];
    cr_expect_str_eq(x->code, code, "code %zu", k);
    cr_expect_eq(x->rows, rows, "%s", code);
    cr_expect_eq(x->in_map, in_map, "%s", code);
    cr_expect_eq(x->status, status, "%s", code);
    if (value)
        cr_expect_str_eq(x->value, value, "%s", code);
}

static void expect_tally(const wye_code_tally *t)
{
    cr_assert_eq(wye_code_tally_ncolumns(t), 2);
    const wye_code_column *g = wye_code_tally_column(t, 0);
    cr_expect_str_eq(g->column, "Gender");
    cr_expect_str_eq(g->target, "sex");
    cr_expect(!g->attribute && g->has_values && !g->constant && !g->too_many);
    cr_expect_eq(g->empty, 1);
    cr_assert_eq(g->ncodes, 4, "F, Q, M, U: %zu", g->ncodes);
    expect_code(g, 0, "F", 6, true, WYE_NORM_PRESENT, "F"); /* the map's spelling */
    expect_code(g, 1, "q", 5, false, WYE_NORM_INVALID, NULL); /* the spelling met first */
    cr_expect_eq(g->codes[1].reason, WYE_NR_CODE_UNKNOWN);
    expect_code(g, 2, "M", 1, true, WYE_NORM_PRESENT, "M"); /* in the map: shown */
    expect_code(g, 3, "U", 0, true, WYE_NORM_MISSING, NULL);
    cr_expect_eq(g->hidden_codes, 1, "the free text is counted, not shown");
    cr_expect_eq(g->hidden_rows[WYE_NORM_INVALID], 1);
    cr_expect_eq(g->hidden_rows[WYE_NORM_PRESENT] + g->hidden_rows[WYE_NORM_MISSING], 0);
    for (size_t k = 0; k < g->ncodes; k++)
        cr_expect(!strstr(g->codes[k].code, "Zebulonia"));

    const wye_code_column *s = wye_code_tally_column(t, 1);
    cr_expect_str_eq(s->column, "Service");
    cr_expect(s->attribute && !s->has_values);
    cr_expect_eq(s->empty, 6);
    cr_assert_eq(s->ncodes, 1);
    expect_code(s, 0, "refuge", 6, false, WYE_NORM_PRESENT, "refuge");
    cr_expect_eq(s->hidden_codes, 1);
    cr_expect_eq(s->hidden_rows[WYE_NORM_INVALID], 2, "shelter x2, not allowed");
    cr_expect_null(wye_code_tally_column(t, 2));
}

Test(colmap, code_tally_shows_frequent_and_mapped_codes_only)
{
    wye_colmap *m = bound(tally_map, "Ref,Name,Gender,Service\n");
    wye_code_tally *t;
    cr_assert_eq(wye_code_tally_new(m, &t), WYE_OK);
    cr_expect_null(wye_code_tally_column(t, 0), "nothing before finish");
    tally_csv(&t, 1, tally_csv_text);
    cr_assert_eq(wye_code_tally_finish(t), WYE_OK);
    expect_tally(t);
    cr_expect_eq(wye_code_tally_finish(t), WYE_EINVAL);
    wye_code_tally_free(t);

    /* shared out over three tallies (as threads do), in either merge order:
     * the same counts, and the spelling of the earliest line */
    for (int order = 0; order < 2; order++) {
        wye_code_tally *part[3], *all;
        for (int i = 0; i < 3; i++)
            cr_assert_eq(wye_code_tally_new(m, &part[i]), WYE_OK);
        tally_csv(part, 3, tally_csv_text);
        cr_assert_eq(wye_code_tally_new(m, &all), WYE_OK);
        for (int i = 0; i < 3; i++)
            cr_assert_eq(wye_code_tally_merge(all, part[order ? 2 - i : i]), WYE_OK);
        cr_assert_eq(wye_code_tally_finish(all), WYE_OK);
        expect_tally(all);
        cr_expect_eq(wye_code_tally_merge(all, part[0]), WYE_EINVAL, "finished");
        for (int i = 0; i < 3; i++)
            wye_code_tally_free(part[i]);
        wye_code_tally_free(all);
    }
    wye_colmap_free(m);
}

Test(colmap, code_tally_too_many_codes_and_constants)
{
    wye_colmap *m = bound(HEAD "\"columns\":[{\"column\":\"Name\",\"field\":\"given_name\"},"
                               "{\"column\":\"Gender\",\"field\":\"sex\"},"
                               "{\"attribute\":\"service_type\",\"value\":\"advocacy\"}]}",
                          "Ref,Name,Gender\n");
    wye_code_tally *t;
    cr_assert_eq(wye_code_tally_new(m, &t), WYE_OK);
    /* a column of names mapped as sex: more distinct values than codes */
    const unsigned n = 2 * WYE_CODE_TRACK_MAX; /* 3/4 of them distinct */
    size_t cap = 64 + (size_t)n * 40;
    char *csv = malloc(cap);
    size_t o = (size_t)snprintf(csv, cap, "Ref,Name,Gender\n");
    for (unsigned i = 0; i < n; i++)
        o += (size_t)snprintf(csv + o, cap - o, "%u,A,Name%u\n", i, i % 4 ? i : 0);
    tally_csv(&t, 1, csv);
    cr_assert_eq(wye_code_tally_finish(t), WYE_OK);
    cr_assert_eq(wye_code_tally_ncolumns(t), 2);
    const wye_code_column *g = wye_code_tally_column(t, 0);
    cr_expect(g->too_many);
    cr_expect_eq(g->ncodes, 0, "none shown, not even Name0 (met %u times)", n / 4);
    cr_expect_eq(g->hidden_rows[WYE_NORM_INVALID], n);
    const wye_code_column *c = wye_code_tally_column(t, 1);
    cr_expect_null(c->column);
    cr_expect_str_eq(c->target, "service_type");
    cr_expect_str_eq(c->constant, "advocacy");
    free(csv);
    wye_code_tally_free(t);
    wye_colmap_free(m);
}

/* ---- hashing/COLUMNMAP.md's examples (issue 19) ---- */

/* The text of the fenced block after position *from that starts with
 * "```" + lang, or NULL (caller frees). */
static char *next_block(const char *doc, const char **from, const char *lang)
{
    char fence[16];
    snprintf(fence, sizeof fence, "```%s\n", lang);
    const char *a = strstr(*from, fence);
    if (!a)
        return NULL;
    a += strlen(fence);
    const char *b = strstr(a, "```");
    cr_assert_not_null(b);
    *from = b + 3;
    (void)doc;
    return strndup(a, (size_t)(b - a));
}

Test(colmap, columnmap_md_examples_parse_and_read_as_documented)
{
    const char *root = getenv("WYELINK_SOURCE_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/hashing/COLUMNMAP.md", root ? root : ".");
    char *doc;
    cr_assert_eq(wye_read_file(path, 1 << 20, &doc, NULL), WYE_OK, "%s", path);
    const char *at = doc;
    char *block, *charity_map = NULL;
    int maps = 0;
    while ((block = next_block(doc, &at, "json"))) {
        if (strstr(block, "\"wyelink-column-map\"")) {
            wye_colmap *m;
            wye_diag d;
            cr_expect_eq(parse(block, &m, &d), WYE_OK, "example %d: %s %s", maps, d.field,
                         d.reason);
            wye_colmap_free(m);
            maps++;
            if (strstr(block, "\"1-2-1\"")) {
                free(charity_map);
                charity_map = strdup(block);
            }
        }
        free(block);
    }
    cr_expect_geq(maps, 3, "the police, IDVA and charity examples");
    cr_assert_not_null(charity_map, "the worked example's map");
    /* the worked example's extract through its map: as the text says */
    at = strstr(doc, "### A worked example");
    cr_assert_not_null(at);
    char *csv = next_block(doc, &at, "");
    cr_assert_not_null(csv);
    cr_assert(strncmp(csv, "Service User ID,", 16) == 0, "%s", csv);
    /* the shown extract elides its notes ("..."): a value like any other */
    rows rs;
    wye_diag d;
    const wye_date ex = {2023, 3, 31};
    cr_assert_eq(run(charity_map, csv, &ex, &rs, &d), WYE_OK);
    cr_assert_eq(rs.n, 3);
    expect_field(&rs.f[0], "given_name", WYE_NORM_PRESENT, "JANE");
    expect_field(&rs.f[0], "other_given_names", WYE_NORM_PRESENT, "MARY");
    expect_field(&rs.f[0], "family_name", WYE_NORM_PRESENT, "SMITH");
    expect_field(&rs.f[0], "date_of_birth", WYE_NORM_PRESENT, "19910817");
    expect_field(&rs.f[0], "sex", WYE_NORM_PRESENT, "F");
    cr_expect_eq(rs.f[0].attr[2], 2, "1-2-1 is outreach");
    cr_expect_eq(rs.f[1].attr[2], 2, "Group is outreach");
    expect_field(&rs.f[1], "sex", WYE_NORM_PRESENT, "F");
    expect_field(&rs.f[2], "sex", WYE_NORM_MISSING, NULL);
    expect_field(&rs.f[2], "postcode", WYE_NORM_INVALID, NULL);
    cr_expect_eq(rs.f[2].reason[fi("postcode")], WYE_NR_POSTCODE_FORMAT, "WITHHELD");
    cr_expect_eq(rs.f[2].attr[2], 1, "Refuge is refuge");
    cr_expect_eq(rs.v[2], WYE_ROW_NAME_ONLY, "a name and nothing else to link it by");
    free(csv);
    free(charity_map);
    free(doc);
}
