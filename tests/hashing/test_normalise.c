/* Normalisation tables, one per field type (protocols/ENCODING.md section 2).
 * Every row is raw input -> expected status, canonical form or reason. A row
 * that changes is a change of encoding: it needs a new protocol version. */
#include <criterion/criterion.h>
#include <string.h>

#include "wyelink/normalise.h"

#define P WYE_NORM_PRESENT
#define M WYE_NORM_MISSING
#define I WYE_NORM_INVALID

typedef struct {
    const char *in;
    wye_norm_status st;
    const char *out;       /* canonical form when P */
    wye_norm_reason why;   /* when I */
} row;

static void check_rows(const row *rows, size_t n,
                       wye_norm_status (*f)(const char *, size_t, char *, wye_norm_reason *))
{
    for (size_t i = 0; i < n; i++) {
        char out[WYE_NORM_MAX];
        wye_norm_reason why = (wye_norm_reason)99;
        wye_norm_status st = f(rows[i].in, strlen(rows[i].in), out, &why);
        cr_expect_eq(st, rows[i].st, "row %zu: status %d, expected %d", i, st, rows[i].st);
        if (rows[i].st == P)
            cr_expect_str_eq(out, rows[i].out, "row %zu", i);
        else if (rows[i].st == I)
            cr_expect_eq(why, rows[i].why, "row %zu: reason %d, expected %d", i, why,
                         rows[i].why);
        else
            cr_expect_eq(why, WYE_NR_NONE, "row %zu", i);
    }
}

static wye_norm_status name_f(const char *in, size_t n, char *out, wye_norm_reason *why)
{
    return wye_norm_name(in, n, out, why);
}

Test(normalise, names)
{
    static const row rows[] = {
        {"Smith", P, "SMITH", 0},
        {"  smith\t", P, "SMITH", 0},
        {"O'Brien", P, "OBRIEN", 0},
        {"O\xE2\x80\x99" "Brien", P, "OBRIEN", 0},   /* right single quote */
        {"O Brien", P, "O BRIEN", 0},
        {"Smith-Jones", P, "SMITHJONES", 0},
        {"Smith \xE2\x80\x93 Jones", P, "SMITH JONES", 0}, /* en dash joins, spaces separate */
        {"Smith  Jones", P, "SMITH JONES", 0},
        {"McDonald", P, "MCDONALD", 0},
        {"MacDonald", P, "MACDONALD", 0},
        {"Mc Donald", P, "MC DONALD", 0},
        {"\xC3\x89lodie", P, "ELODIE", 0},            /* É */
        {"Bj\xC3\xB8rn", P, "BJORN", 0},             /* ø */
        {"\xC3\x98stergaard", P, "OSTERGAARD", 0},   /* Ø */
        {"Stra\xC3\x9F" "e", P, "STRASSE", 0},        /* ß */
        {"\xC3\x86thelred", P, "AETHELRED", 0},       /* Æ */
        {"\xC5\x92uvre", P, "OEUVRE", 0},             /* Œ */
        {"Jos\xC3\xA9", P, "JOSE", 0},
        {"Jose\xCC\x81", P, "JOSE", 0},               /* e + combining acute (NFD) */
        {"Zo\xC3\xAB", P, "ZOE", 0},
        {"\xC5\x81ukasz", P, "LUKASZ", 0},           /* Ł */
        {"\xC3\x9E\xC3\xB3r", P, "THOR", 0},          /* Þór */
        {"Nguy\xE1\xBB\x85n", P, "NGUYEN", 0},        /* ễ (Latin Extended Additional) */
        {"\xC8\x98tefan", P, "STEFAN", 0},            /* Ș comma below */
        {"Mrs Jane Smith", P, "JANE SMITH", 0},
        {"Dr. John", P, "JOHN", 0},
        {"John Smith Jr", P, "JOHN SMITH", 0},
        {"John Smith Jnr.", P, "JOHN SMITH", 0},
        {"Smith III", P, "SMITH", 0},
        {"Prof Sir Ian Kennedy PhD", P, "IAN KENNEDY", 0},
        {"Lord", P, "LORD", 0},                       /* a surname, not only a title */
        {"Junior", P, "JUNIOR", 0},
        {"Mrs", I, NULL, WYE_NR_NAME_TITLE_ONLY},
        {"Mr.", I, NULL, WYE_NR_NAME_TITLE_ONLY},
        {"Unknown", I, NULL, WYE_NR_NAME_PLACEHOLDER},
        {"N/K", I, NULL, WYE_NR_NAME_PLACEHOLDER},
        {"not known", I, NULL, WYE_NR_NAME_PLACEHOLDER},
        {"Mr Unknown", I, NULL, WYE_NR_NAME_PLACEHOLDER},
        {"XXX", I, NULL, WYE_NR_NAME_PLACEHOLDER},
        {"Na", P, "NA", 0},                           /* a real surname */
        /* a word that starts or extends a listed one is not it (word_in) */
        {"M Smith", P, "M SMITH", 0},
        {"Mrsa Jones", P, "MRSA JONES", 0},
        {"Sirius Black Juniors", P, "SIRIUS BLACK JUNIORS", 0},
        {"Ann Juni", P, "ANN JUNI", 0},
        {"Xxxxx", P, "XXXXX", 0},
        {"Unknow", P, "UNKNOW", 0},
        {"123", I, NULL, WYE_NR_NAME_NO_LETTERS},
        {"--", I, NULL, WYE_NR_NAME_NO_LETTERS},
        {"\xD0\x98\xD0\xB2\xD0\xB0\xD0\xBD", I, NULL, WYE_NR_NAME_NO_LETTERS}, /* Иван */
        {"\xD0\x98\xD0\xB2\xD0\xB0\xD0\xBD Smith", P, "SMITH", 0},
        {"Anne-Marie O'Neil", P, "ANNEMARIE ONEIL", 0},
        {"J.", P, "J", 0},
        {"Jean\xC2\xA0Paul", P, "JEAN PAUL", 0},       /* no-break space separates */
        {"\xFF\xFEZ", P, "Z", 0},                       /* invalid bytes dropped */
        {"", M, NULL, 0},
        {"   ", M, NULL, 0},
    };
    check_rows(rows, sizeof rows / sizeof rows[0], name_f);
}

Test(normalise, name_too_long)
{
    char big[WYE_NORM_RAW_MAX + 2], out[WYE_NORM_MAX];
    wye_norm_reason why;
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    cr_expect_eq(wye_norm_name(big, strlen(big), out, &why), I);
    cr_expect_eq(why, WYE_NR_TOO_LONG);
    /* 200 letters: raw fits, canonical does not */
    cr_expect_eq(wye_norm_name(big, 200, out, &why), I);
    cr_expect_eq(why, WYE_NR_TOO_LONG);
    cr_expect_eq(wye_norm_name(big, 127, out, &why), P);
    cr_expect_eq(strlen(out), 127);
}

typedef struct {
    const char *in;
    wye_name_split how;
    wye_norm_status st;
    const char *given, *other, *family;
} split_row;

Test(normalise, name_layouts)
{
    static const split_row rows[] = {
        {"Jane Smith", WYE_SPLIT_FORENAME_SURNAME, P, "JANE", "", "SMITH"},
        {"Jane Mary Ann Smith", WYE_SPLIT_FORENAME_SURNAME, P, "JANE", "MARY ANN", "SMITH"},
        {"Mrs Jane Smith-Jones", WYE_SPLIT_FORENAME_SURNAME, P, "JANE", "", "SMITHJONES"},
        {"Smith", WYE_SPLIT_FORENAME_SURNAME, P, "", "", "SMITH"},
        {"SMITH, Jane", WYE_SPLIT_SURNAME_COMMA_FORENAME, P, "JANE", "", "SMITH"},
        {"SMITH,Jane Mary", WYE_SPLIT_SURNAME_COMMA_FORENAME, P, "JANE", "MARY", "SMITH"},
        {"O'BRIEN, Siobh\xC3\xA1n", WYE_SPLIT_SURNAME_COMMA_FORENAME, P, "SIOBHAN", "",
         "OBRIEN"},
        {"SMITH Jane Mary", WYE_SPLIT_SURNAME_COMMA_FORENAME, P, "JANE", "MARY", "SMITH"},
        {"SMITH,", WYE_SPLIT_SURNAME_COMMA_FORENAME, P, "", "", "SMITH"},
        {", Jane", WYE_SPLIT_SURNAME_COMMA_FORENAME, P, "JANE", "", ""},
        {"Jane Mary", WYE_SPLIT_GIVEN_NAMES, P, "JANE", "MARY", ""},
        {"Jane Mary Louise", WYE_SPLIT_GIVEN_NAMES, P, "JANE", "MARY LOUISE", ""},
        {"Jane", WYE_SPLIT_GIVEN_NAMES, P, "JANE", "", ""},
        {"", WYE_SPLIT_FORENAME_SURNAME, M, "", "", ""},
        {" , ", WYE_SPLIT_SURNAME_COMMA_FORENAME, M, "", "", ""},
        {"1234", WYE_SPLIT_FORENAME_SURNAME, I, "", "", ""},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        wye_name_parts p;
        wye_norm_reason why;
        wye_norm_status st =
            wye_norm_name_split(rows[i].in, strlen(rows[i].in), rows[i].how, &p, &why);
        cr_expect_eq(st, rows[i].st, "row %zu", i);
        cr_expect_str_eq(p.given, rows[i].given, "row %zu given", i);
        cr_expect_str_eq(p.other, rows[i].other, "row %zu other", i);
        cr_expect_str_eq(p.family, rows[i].family, "row %zu family", i);
    }
}

typedef struct {
    const char *in;
    wye_date_format fmt;
    wye_norm_status st;
    const char *out;
    wye_norm_reason why;
} date_row;

Test(normalise, dates)
{
    const wye_date extract = {2024, 3, 31};
    static const date_row rows[] = {
        {"17/08/1991", WYE_DATE_DMY, P, "19910817", 0},
        {"7/8/1991", WYE_DATE_DMY, P, "19910807", 0},
        {"17/08/1991 00:00:00", WYE_DATE_DMY, P, "19910817", 0},
        {"17/08/1991 00:00", WYE_DATE_DMY, P, "19910817", 0},
        {"1991-08-17", WYE_DATE_ISO, P, "19910817", 0},
        {"1991-08-17T00:00:00Z", WYE_DATE_ISO, P, "19910817", 0},
        {"1991-08-17 00:00:00.000", WYE_DATE_ISO, P, "19910817", 0},
        {"03-Feb-1985", WYE_DATE_DMON, P, "19850203", 0},
        {"03-FEB-1985", WYE_DATE_DMON, P, "19850203", 0},
        {"3-feb-1985", WYE_DATE_DMON, P, "19850203", 0},
        {"03 February 1985", WYE_DATE_DMON, P, "19850203", 0},
        {"03-Sept-1985", WYE_DATE_DMON, P, "19850903", 0},
        {"03-Fbr-1985", WYE_DATE_DMON, I, NULL, WYE_NR_DATE_FORMAT},
        {"17/10/76", WYE_DATE_DMY2, P, "19761017", 0},
        {"01/01/24", WYE_DATE_DMY2, P, "20240101", 0},
        {"31/03/24", WYE_DATE_DMY2, P, "20240331", 0},  /* on the extract date */
        {"01/04/24", WYE_DATE_DMY2, P, "19240401", 0},  /* the day after: last century */
        {"17/10/1976", WYE_DATE_DMY2, P, "19761017", 0},
        {"17/10/976", WYE_DATE_DMY2, I, NULL, WYE_NR_DATE_FORMAT},
        {"19910817", WYE_DATE_COMPACT, P, "19910817", 0},
        {"1991081", WYE_DATE_COMPACT, I, NULL, WYE_NR_DATE_FORMAT},
        {"17.08.1991", WYE_DATE_DMY_DOT, P, "19910817", 0},
        {"17/08/1991", WYE_DATE_DMY_DOT, I, NULL, WYE_NR_DATE_FORMAT},
        {"1991-08-17", WYE_DATE_DMY, I, NULL, WYE_NR_DATE_FORMAT},
        {"31/02/1990", WYE_DATE_DMY, I, NULL, WYE_NR_DATE_NO_SUCH_DAY},
        {"29/02/1990", WYE_DATE_DMY, I, NULL, WYE_NR_DATE_NO_SUCH_DAY},
        {"29/02/1992", WYE_DATE_DMY, P, "19920229", 0},
        {"29/02/2000", WYE_DATE_DMY, P, "20000229", 0},
        {"29/02/1900", WYE_DATE_DMY, I, NULL, WYE_NR_DATE_NO_SUCH_DAY},
        {"00/01/1990", WYE_DATE_DMY, I, NULL, WYE_NR_DATE_NO_SUCH_DAY},
        {"12/13/1990", WYE_DATE_DMY, I, NULL, WYE_NR_DATE_NO_SUCH_DAY},
        {"19901301", WYE_DATE_COMPACT, I, NULL, WYE_NR_DATE_NO_SUCH_DAY},
        {"01/04/2024", WYE_DATE_DMY, I, NULL, WYE_NR_DATE_FUTURE},
        {"31/03/2024", WYE_DATE_DMY, P, "20240331", 0},
        {"31/03/1904", WYE_DATE_DMY, P, "19040331", 0},   /* exactly 120 years */
        {"30/03/1904", WYE_DATE_DMY, I, NULL, WYE_NR_DATE_TOO_OLD},
        {"01/01/1900", WYE_DATE_DMY, I, NULL, WYE_NR_DATE_TOO_OLD},
        {"17/08/1991x", WYE_DATE_DMY, I, NULL, WYE_NR_DATE_FORMAT},
        {"17/08/1991 noon", WYE_DATE_DMY, I, NULL, WYE_NR_DATE_FORMAT},
        {"unknown", WYE_DATE_DMY, I, NULL, WYE_NR_DATE_FORMAT},
        {"", WYE_DATE_DMY, M, NULL, 0},
        {"  ", WYE_DATE_ISO, M, NULL, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char canon[9];
        wye_date d;
        wye_norm_reason why = (wye_norm_reason)99;
        wye_norm_status st = wye_norm_date(rows[i].in, strlen(rows[i].in), rows[i].fmt,
                                           &extract, &d, canon, &why);
        cr_expect_eq(st, rows[i].st, "row %zu: status %d", i, st);
        if (rows[i].st == P)
            cr_expect_str_eq(canon, rows[i].out, "row %zu", i);
        if (rows[i].st == I)
            cr_expect_eq(why, rows[i].why, "row %zu: reason %d", i, why);
    }
}

Test(normalise, date_helpers)
{
    wye_date d;
    cr_expect_eq(wye_date_parse_iso("2024-02-29", &d), WYE_OK);
    cr_expect(d.year == 2024 && d.month == 2 && d.day == 29);
    cr_expect_eq(wye_date_parse_iso("2023-02-29", &d), WYE_EFORMAT);
    cr_expect_eq(wye_date_parse_iso("2023-2-01", &d), WYE_EFORMAT);
    cr_expect_eq(wye_date_parse_iso("2023-02-01x", &d), WYE_EFORMAT);
    wye_date dob = {2000, 2, 29}, a = {2023, 2, 28}, b = {2023, 3, 1}, c = {2024, 2, 29};
    cr_expect_eq(wye_date_age(&dob, &a), 22);
    cr_expect_eq(wye_date_age(&dob, &b), 23);
    cr_expect_eq(wye_date_age(&dob, &c), 24);
    wye_date e = {1990, 8, 17}, f = {2024, 8, 16}, g = {2024, 8, 17};
    cr_expect_eq(wye_date_age(&e, &f), 33);
    cr_expect_eq(wye_date_age(&e, &g), 34);
    cr_expect_eq(wye_date_format_from_name("DD-Mon-YYYY"), WYE_DATE_DMON);
    cr_expect_eq(wye_date_format_from_name("dd/mm/yyyy"), 0);
    for (int f2 = WYE_DATE_DMY; f2 <= WYE_DATE_DMY_DOT; f2++)
        cr_expect_eq(wye_date_format_from_name(wye_date_format_name((wye_date_format)f2)), f2);
}

static wye_norm_status postcode_f(const char *in, size_t n, char *out, wye_norm_reason *why)
{
    return wye_norm_postcode(in, n, out, why);
}

Test(normalise, postcodes)
{
    static const row rows[] = {
        {"HR1 2AB", P, "HR1 2AB", 0},
        {"hr12ab", P, "HR1 2AB", 0},
        {" hr1  2ab ", P, "HR1 2AB", 0},
        {"W1A 1AA", P, "W1A 1AA", 0},
        {"EC1A 1BB", P, "EC1A 1BB", 0},
        {"M1 1AE", P, "M1 1AE", 0},
        {"B33 8TH", P, "B33 8TH", 0},
        {"CR2 6XH", P, "CR2 6XH", 0},
        {"DN55 1PT", P, "DN55 1PT", 0},
        {"SW1A2AA", P, "SW1A 2AA", 0},
        {"GIR 0AA", P, "GIR 0AA", 0},
        {"HR1", I, NULL, WYE_NR_POSTCODE_PARTIAL},
        {"SW1A", I, NULL, WYE_NR_POSTCODE_PARTIAL},
        {"ZZ99 3VZ", I, NULL, WYE_NR_POSTCODE_PSEUDO},
        {"QR1 2AB", I, NULL, WYE_NR_POSTCODE_FORMAT},   /* Q never first */
        {"HI1 2AB", I, NULL, WYE_NR_POSTCODE_FORMAT},   /* I never second */
        {"HR1 2CB", I, NULL, WYE_NR_POSTCODE_FORMAT},   /* C never in the inward letters */
        {"HR1 AAB", I, NULL, WYE_NR_POSTCODE_FORMAT},
        {"HR1-2AB", I, NULL, WYE_NR_POSTCODE_FORMAT},
        {"HR1 2AB X", I, NULL, WYE_NR_POSTCODE_FORMAT},
        {"12345", I, NULL, WYE_NR_POSTCODE_FORMAT},
        {"NFA", I, NULL, WYE_NR_POSTCODE_FORMAT},
        {"", M, NULL, 0},
    };
    check_rows(rows, sizeof rows / sizeof rows[0], postcode_f);
}

static wye_norm_status nhs_f(const char *in, size_t n, char *out, wye_norm_reason *why)
{
    return wye_norm_nhs(in, n, out, why);
}

Test(normalise, nhs_numbers)
{
    /* 943 476 5919: weights 10..2 give 299, 299 mod 11 = 2, check 11-2 = 9. */
    static const row rows[] = {
        {"9434765919", P, "9434765919", 0},
        {"943 476 5919", P, "9434765919", 0},
        {"943-476-5919", P, "9434765919", 0},
        {" 9434765919 ", P, "9434765919", 0},
        {"4010232137", P, "4010232137", 0},
        {"9434765918", I, NULL, WYE_NR_NHS_CHECK},
        {"9434765910", I, NULL, WYE_NR_NHS_CHECK},
        {"943476591", I, NULL, WYE_NR_NHS_FORMAT},
        {"94347659190", I, NULL, WYE_NR_NHS_FORMAT},
        {"943476591X", I, NULL, WYE_NR_NHS_FORMAT},
        {"0000000000", I, NULL, WYE_NR_NHS_PLACEHOLDER},
        {"1111111111", I, NULL, WYE_NR_NHS_PLACEHOLDER},
        {"", M, NULL, 0},
    };
    check_rows(rows, sizeof rows / sizeof rows[0], nhs_f);
    /* check digit 10 is never valid: 000000001 -> sum 2, 11 - 2 = 9; find a 10 */
    cr_expect_eq(wye_nhs_check_digit_ok("0000000019"), 1);
    cr_expect_eq(wye_nhs_check_digit_ok("1000000001"), 1); /* 10 mod 11 = 10 -> 1 */
    cr_expect_eq(wye_nhs_check_digit_ok("0000000100"), 0); /* 3 -> 8, not 0 */
    cr_expect_eq(wye_nhs_check_digit_ok("0000000010"), 0); /* 2*1 = 2 -> 9 */
    cr_expect_eq(wye_nhs_check_digit_ok("0000000060"), 0); /* 12 mod 11 = 1 -> 10: never */
}

static wye_norm_status sex_f(const char *in, size_t n, char *out, wye_norm_reason *why)
{
    return wye_norm_sex(in, n, out, why);
}

Test(normalise, sex_codes)
{
    static const row rows[] = {
        {"F", P, "F", 0},        {"f", P, "F", 0},         {"Female", P, "F", 0},
        {"WOMAN", P, "F", 0},    {" M ", P, "M", 0},       {"male", P, "M", 0},
        {"Man", P, "M", 0},      {"X", P, "X", 0},         {"Other", P, "X", 0},
        {"U", M, NULL, 0},       {"Unknown", M, NULL, 0},  {"", M, NULL, 0},
        {"2", I, NULL, WYE_NR_CODE_UNKNOWN},               {"Fem", I, NULL, WYE_NR_CODE_UNKNOWN},
        {"Females", I, NULL, WYE_NR_CODE_UNKNOWN},
    };
    check_rows(rows, sizeof rows / sizeof rows[0], sex_f);
}

static wye_norm_status address_f(const char *in, size_t n, char *out, wye_norm_reason *why)
{
    return wye_norm_address(in, n, out, why);
}

Test(normalise, addresses)
{
    static const row rows[] = {
        {"12 High Street", P, "12 HIGH ST", 0},
        {"12 high st.", P, "12 HIGH ST", 0},
        {"  12,  High   St  ", P, "12 HIGH ST", 0},
        {"Flat 3, 12a Mill Road", P, "FLAT 3 12A MILL RD", 0},
        {"Apartment 3 12A Mill Rd", P, "FLAT 3 12A MILL RD", 0},
        {"Apt. 3/12A Mill Rd", P, "FLAT 3 12A MILL RD", 0},
        {"12-14 Station Avenue", P, "12 14 STATION AVE", 0},     /* hyphens separate */
        {"12\xE2\x80\x93" "14 Station Av", P, "12 14 STATION AVE", 0}, /* en dash */
        {"St John's Road", P, "ST JOHNS RD", 0},                 /* apostrophes join */
        {"Saint John\xE2\x80\x99s Rd", P, "ST JOHNS RD", 0},     /* right single quote */
        {"1 Stratford-upon-Avon Lane", P, "1 STRATFORD UPON AVON LN", 0},
        {"8 Stanley Street, Winston Hills 4223", P, "8 STANLEY ST WINSTON HILLS 4223", 0},
        {"5 Pinkerton Circuit", P, "5 PINKERTON CCT", 0},
        {"5 Kingsway Crescent", P, "5 KINGSWAY CRES", 0},
        {"5 Kingsway Cresc", P, "5 KINGSWAY CRES", 0},
        {"Rose Terrace", P, "ROSE TCE", 0},
        {"Rose Terr", P, "ROSE TCE", 0},
        {"2 Park Drive", P, "2 PARK DR", 0},
        {"2 Park Court", P, "2 PARK CT", 0},
        {"2 Park Close", P, "2 PARK CL", 0},
        {"2 Park Place", P, "2 PARK PL", 0},
        {"2 Park Grove", P, "2 PARK GR", 0},
        {"2 Park Gardens", P, "2 PARK GDNS", 0},
        {"2 Park Square", P, "2 PARK SQ", 0},
        {"2 Park Parade", P, "2 PARK PDE", 0},
        {"2 Park Boulevard", P, "2 PARK BLVD", 0},
        {"2 Great North Highway", P, "2 GREAT NORTH HWY", 0},
        {"2 Mount Pleasant", P, "2 MT PLEASANT", 0},
        {"Streetly Roadway", P, "STREETLY ROADWAY", 0},          /* whole words only */
        {"1 Rue de l'\xC3\x89glise", P, "1 RUE DE LEGLISE", 0},    /* É */
        {"3 Stra\xC3\x9F" "e", P, "3 STRASSE", 0},                 /* ß */
        {"7 \xC3\x98ster All\xC3\xA9", P, "7 OSTER ALLE", 0},        /* Ø, é */
        {"10 Downing St \xE2\x98\x85", P, "10 DOWNING ST", 0},     /* a symbol is dropped */
        {"221B", P, "221B", 0},
        {"", M, NULL, 0},
        {"   ", M, NULL, 0},
        {"--", I, NULL, WYE_NR_ADDRESS_NO_ALNUM},
        {"\xE2\x98\x85", I, NULL, WYE_NR_ADDRESS_NO_ALNUM},
        {"Unknown", I, NULL, WYE_NR_ADDRESS_PLACEHOLDER},
        {"N/K", I, NULL, WYE_NR_ADDRESS_PLACEHOLDER},
        {"NFA", I, NULL, WYE_NR_ADDRESS_PLACEHOLDER},
        {"no fixed abode", I, NULL, WYE_NR_ADDRESS_PLACEHOLDER},
        {"Withheld", I, NULL, WYE_NR_ADDRESS_PLACEHOLDER},
        {"CONFIDENTIAL", I, NULL, WYE_NR_ADDRESS_PLACEHOLDER},
        {"n/a", I, NULL, WYE_NR_ADDRESS_PLACEHOLDER},
    };
    check_rows(rows, sizeof rows / sizeof rows[0], address_f);
}

Test(normalise, address_too_long)
{
    char raw[WYE_NORM_RAW_MAX + 2], out[WYE_NORM_MAX];
    wye_norm_reason why;
    /* raw input over WYE_NORM_RAW_MAX bytes */
    memset(raw, 'A', sizeof raw - 1);
    raw[sizeof raw - 1] = 0;
    cr_expect_eq(wye_norm_address(raw, strlen(raw), out, &why), WYE_NORM_INVALID);
    cr_expect_eq(why, WYE_NR_TOO_LONG);
    /* a canonical form of WYE_NORM_MAX bytes (or more) */
    memset(raw, 'B', WYE_NORM_MAX);
    cr_expect_eq(wye_norm_address(raw, WYE_NORM_MAX, out, &why), WYE_NORM_INVALID);
    cr_expect_eq(why, WYE_NR_TOO_LONG);
    /* the longest canonical form fits, with its NUL */
    cr_expect_eq(wye_norm_address(raw, WYE_NORM_MAX - 1, out, &why), WYE_NORM_PRESENT);
    cr_expect_eq(strlen(out), WYE_NORM_MAX - 1);
    /* STREET shrinks to ST: 40 words of 6 letters (279 bytes raw, too long) are
     * refused on the raw length, not read past the buffer */
    char words[40 * 7 + 1] = "";
    for (int i = 0; i < 40; i++)
        strcat(words, i ? " STREET" : "STREET");
    cr_expect_eq(wye_norm_address(words, strlen(words), out, &why), WYE_NORM_INVALID);
    cr_expect_eq(why, WYE_NR_TOO_LONG);
    /* 36 of them (251 bytes raw) shrink to 107 bytes and are present */
    words[36 * 7 - 1] = 0;
    cr_expect_eq(wye_norm_address(words, strlen(words), out, &why), WYE_NORM_PRESENT);
    cr_expect_eq(strlen(out), 36 * 3 - 1);
}

static wye_norm_status other_id_f(const char *in, size_t n, char *out, wye_norm_reason *why)
{
    return wye_norm_other_id(in, n, out, why);
}

Test(normalise, other_ids)
{
    static const row rows[] = {
        {"5304218", P, "5304218", 0},
        {" 530 4218 ", P, "5304218", 0},
        {"530-42-18", P, "5304218", 0},
        {"qq 12 34 56 c", P, "QQ123456C", 0},
        {"QQ123456C", P, "QQ123456C", 0},
        {"A\t1", P, "A1", 0},
        {"7", P, "7", 0},
        {"", M, NULL, 0},
        {"  ", M, NULL, 0},
        {"530.4218", I, NULL, WYE_NR_ID_FORMAT},
        {"530/4218", I, NULL, WYE_NR_ID_FORMAT},
        {"AB\xC3\x89" "1", I, NULL, WYE_NR_ID_FORMAT},  /* É: not ASCII */
        {"- -", I, NULL, WYE_NR_ID_FORMAT},
        {"0000000", I, NULL, WYE_NR_ID_PLACEHOLDER},
        {"99-99-99", I, NULL, WYE_NR_ID_PLACEHOLDER},
        {"unknown", I, NULL, WYE_NR_ID_PLACEHOLDER},
        {"N/A", I, NULL, WYE_NR_ID_FORMAT},
        {"NA", I, NULL, WYE_NR_ID_PLACEHOLDER},
    };
    check_rows(rows, sizeof rows / sizeof rows[0], other_id_f);
    char raw[WYE_NORM_RAW_MAX + 2], out[WYE_NORM_MAX];
    wye_norm_reason why;
    memset(raw, '1', sizeof raw - 1);
    raw[0] = '2';
    cr_expect_eq(wye_norm_other_id(raw, sizeof raw - 1, out, &why), WYE_NORM_INVALID);
    cr_expect_eq(why, WYE_NR_TOO_LONG);
    cr_expect_eq(wye_norm_other_id(raw, WYE_NORM_MAX, out, &why), WYE_NORM_INVALID);
    cr_expect_eq(why, WYE_NR_TOO_LONG);
    cr_expect_eq(wye_norm_other_id(raw, WYE_NORM_MAX - 1, out, &why), WYE_NORM_PRESENT);
    cr_expect_eq(strlen(out), WYE_NORM_MAX - 1);
}

Test(normalise, reasons_have_text)
{
    for (int r = 0; r < WYE_NR_COUNT; r++)
        cr_expect(strlen(wye_norm_reason_text((wye_norm_reason)r)) > 0);
    cr_expect_str_eq(wye_norm_reason_text(WYE_NR_COUNT), "unknown reason");
}
