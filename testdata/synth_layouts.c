/* The agencies' layouts (testdata/README.md, "The layouts"): each agency's
 * CSV columns, date and sex codes, encoding and line ends; the rows written
 * in them; and the column map that tells wyelink hash how to read them. */
#include <stdlib.h>
#include <string.h>

#include "synth_internal.h"

/* ---------------------------------------------------------------- layouts */

enum date_format { D_DMY_SLASH, D_ISO, D_DMON, D_DMYY, D_COMPACT, D_DOTS };
static const char *const date_format_names[] = {"DD/MM/YYYY", "YYYY-MM-DD",  "DD-Mon-YYYY",
                                                "DD/MM/YY",   "YYYYMMDD",    "DD.MM.YYYY"};

/* What a column holds. */
enum kind {
    K_ID, K_GIVEN, K_GIVEN_ALL, K_MIDDLE, K_FAMILY, K_FORMER, K_FULL_FS, K_FULL_SCF, K_DOB,
    K_SEX, K_POSTCODE, K_NHS_SPACED, K_NHS, K_SERVICE, K_EVENT, K_TITLE, K_CHOICE, K_PRACTICE,
    K_REPEAT, K_COUNT, K_AGEBAND,
};

/* How the column map describes it. */
enum map { M_NONE, M_FIELD, M_MULTIPLE, M_SPLIT, M_ATTR };

typedef struct column {
    const char *name;
    enum kind kind;
    enum map map;
    const char *target;          /* field, split or attribute name */
    const char *const *values;   /* raw, protocol value (NULL = missing), ..., NULL, NULL */
    const char *const *choices;  /* K_CHOICE: NULL-terminated */
} column;

typedef struct layout {
    const char *encoding;
    enum date_format dates;
    bool crlf, quote_all, bom;
    const char *id_prefix;
    unsigned id_width;
    const char *sex_code[3];     /* female, male, missing */
    const char *service_code[3]; /* service types, for K_SERVICE */
    bool upper_family;           /* SMITH in a separate family-name column */
    column cols[12];             /* up to the first without a name */
} layout;

#define V(...) ((const char *const[]){__VA_ARGS__, NULL, NULL})
#define C(...) ((const char *const[]){__VA_ARGS__, NULL})

static const layout layouts[NA] = {
    [POL] = {"utf-8", D_DMY_SLASH, false, false, false, "WM", 8, {"F", "M", "U"}, {0},
             true, {
        {"PersonRef", K_ID, M_NONE, NULL, NULL, NULL},
        {"Surname", K_FAMILY, M_FIELD, "family_name", NULL, NULL},
        {"Forename", K_GIVEN, M_FIELD, "given_name", NULL, NULL},
        {"Middle Names", K_MIDDLE, M_FIELD, "other_given_names", NULL, NULL},
        {"DOB", K_DOB, M_FIELD, "date_of_birth", NULL, NULL},
        {"Gender", K_SEX, M_FIELD, "sex", V("F", "F", "M", "M", "U", NULL), NULL},
        {"Postcode", K_POSTCODE, M_FIELD, "postcode", NULL, NULL},
        {"Occurrence Date", K_EVENT, M_NONE, NULL, NULL, NULL},
        {"Offence", K_CHOICE, M_NONE, NULL, NULL,
         C("Common assault", "Assault occasioning actual bodily harm, s.47",
           "Controlling or coercive behaviour", "Harassment, putting people in fear of violence",
           "Stalking", "Criminal damage", "Threats to kill",
           "Breach of a non-molestation order", "Sexual assault")},
        {"DASH Risk", K_CHOICE, M_NONE, NULL, NULL, C("Standard", "Medium", "High")},
    }},
    [GP] = {"utf-8", D_DMON, true, true, false, "", 7, {"Female", "Male", "Unknown"}, {0},
            false, {
        {"Patient ID", K_ID, M_NONE, NULL, NULL, NULL},
        {"NHS Number", K_NHS_SPACED, M_FIELD, "nhs_number", NULL, NULL},
        {"Title", K_TITLE, M_NONE, NULL, NULL, NULL},
        {"Forename(s)", K_GIVEN_ALL, M_MULTIPLE, "given_name", NULL, NULL},
        {"Surname", K_FAMILY, M_FIELD, "family_name", NULL, NULL},
        {"Previous Surname", K_FORMER, M_FIELD, "former_family_name", NULL, NULL},
        {"Date of Birth", K_DOB, M_FIELD, "date_of_birth", NULL, NULL},
        {"Sex", K_SEX, M_FIELD, "sex", V("Female", "F", "Male", "M", "Unknown", NULL), NULL},
        {"Postcode", K_POSTCODE, M_FIELD, "postcode", NULL, NULL},
        {"Practice Code", K_PRACTICE, M_NONE, NULL, NULL, NULL},
        {"DA Code Date", K_EVENT, M_NONE, NULL, NULL, NULL},
    }},
    [ASC] = {"utf-8", D_ISO, false, false, true, "ASC", 6, {"F", "M", "Not Known"}, {0},
             true, {
        {"Client ID", K_ID, M_NONE, NULL, NULL, NULL},
        {"Name", K_FULL_SCF, M_SPLIT, "surname_comma_forename", NULL, NULL},
        {"Date of Birth", K_DOB, M_FIELD, "date_of_birth", NULL, NULL},
        {"Gender", K_SEX, M_FIELD, "sex", V("F", "F", "M", "M", "Not Known", NULL), NULL},
        {"NHS No", K_NHS, M_FIELD, "nhs_number", NULL, NULL},
        {"Post Code", K_POSTCODE, M_FIELD, "postcode", NULL, NULL},
        {"Referral Date", K_EVENT, M_NONE, NULL, NULL, NULL},
        {"Primary Support Reason", K_CHOICE, M_NONE, NULL, NULL,
         C("Physical Support: Personal Care Support", "Mental Health Support",
           "Learning Disability Support", "Support with Memory and Cognition",
           "Sensory Support: Support for Visual Impairment, Hearing Impairment",
           "Social Support: Substance Misuse Support")},
    }},
    [WMWA] = {"utf-8", D_DMYY, false, false, false, "SU-", 5,
              {"Woman", "Man", "Prefer not to say"}, {"Refuge", "Outreach", "Helpline"}, false,
              {
        {"Service User ID", K_ID, M_NONE, NULL, NULL, NULL},
        {"Full Name", K_FULL_FS, M_SPLIT, "forename_surname", NULL, NULL},
        {"Date of Birth", K_DOB, M_FIELD, "date_of_birth", NULL, NULL},
        {"Gender", K_SEX, M_FIELD, "sex",
         V("Woman", "F", "Man", "M", "Prefer not to say", NULL), NULL},
        {"Age Band", K_AGEBAND, M_NONE, NULL, NULL, NULL},
        {"Postcode", K_POSTCODE, M_FIELD, "postcode", NULL, NULL},
        {"Referral Date", K_EVENT, M_NONE, NULL, NULL, NULL},
        {"Referral Source", K_CHOICE, M_NONE, NULL, NULL,
         C("Self", "Police", "GP", "Children's Services", "Friend, family or neighbour", "IDVA",
           "Housing")},
        {"Service", K_SERVICE, M_ATTR, "service_type",
         V("Refuge", "refuge", "Outreach", "outreach", "Helpline", "helpline"), NULL},
    }},
    [MARAC] = {"utf-8", D_DOTS, false, false, false, "MARAC/", 4,
               {"Female", "Male", "Not known"}, {0}, false, {
        {"Case Ref", K_ID, M_NONE, NULL, NULL, NULL},
        {"Meeting Date", K_EVENT, M_NONE, NULL, NULL, NULL},
        {"Victim Forename", K_GIVEN, M_FIELD, "given_name", NULL, NULL},
        {"Victim Surname", K_FAMILY, M_FIELD, "family_name", NULL, NULL},
        {"Victim DOB", K_DOB, M_FIELD, "date_of_birth", NULL, NULL},
        {"Victim Gender", K_SEX, M_FIELD, "sex",
         V("Female", "F", "Male", "M", "Not known", NULL), NULL},
        {"Victim Postcode", K_POSTCODE, M_FIELD, "postcode", NULL, NULL},
        {"Referring Agency", K_CHOICE, M_NONE, NULL, NULL,
         C("Police", "IDVA", "Health", "Children's Social Care", "Housing", "Probation")},
        {"Repeat Referral", K_REPEAT, M_NONE, NULL, NULL, NULL},
        {"Children in Household", K_COUNT, M_NONE, NULL, NULL, NULL},
    }},
    [IDVA] = {"utf-8", D_COMPACT, false, false, false, "", 5, {"2", "1", "0"},
              {"Community IDVA", "Court IDVA", "Hospital IDVA"}, false, {
        {"Client Number", K_ID, M_NONE, NULL, NULL, NULL},
        {"First Name", K_GIVEN, M_FIELD, "given_name", NULL, NULL},
        {"Last Name", K_FAMILY, M_FIELD, "family_name", NULL, NULL},
        {"Previous Name", K_FORMER, M_FIELD, "former_family_name", NULL, NULL},
        {"D.O.B", K_DOB, M_FIELD, "date_of_birth", NULL, NULL},
        {"Sex", K_SEX, M_FIELD, "sex", V("2", "F", "1", "M", "0", NULL), NULL},
        {"Postcode", K_POSTCODE, M_FIELD, "postcode", NULL, NULL},
        {"Referral Date", K_EVENT, M_NONE, NULL, NULL, NULL},
        {"Risk Level", K_CHOICE, M_NONE, NULL, NULL, C("High", "High", "Medium")},
        {"Service Type", K_SERVICE, M_ATTR, "service_type",
         V("Community IDVA", "advocacy", "Court IDVA", "advocacy", "Hospital IDVA", "advocacy"),
         NULL},
    }},
    [HOUS] = {"windows-1252", D_DMY_SLASH, true, false, false, "HA", 6,
              {"Female", "Male", "Not stated"}, {0}, false, {
        {"Application No", K_ID, M_NONE, NULL, NULL, NULL},
        {"Approach Date", K_EVENT, M_NONE, NULL, NULL, NULL},
        {"Applicant Forename", K_GIVEN, M_FIELD, "given_name", NULL, NULL},
        {"Applicant Surname", K_FAMILY, M_FIELD, "family_name", NULL, NULL},
        {"Former Surname", K_FORMER, M_FIELD, "former_family_name", NULL, NULL},
        {"Date of Birth", K_DOB, M_FIELD, "date_of_birth", NULL, NULL},
        {"Sex", K_SEX, M_FIELD, "sex", V("Female", "F", "Male", "M", "Not stated", NULL), NULL},
        {"Postcode", K_POSTCODE, M_FIELD, "postcode", NULL, NULL},
        {"Reason for Approach", K_CHOICE, M_NONE, NULL, NULL,
         C("Domestic abuse", "Fleeing violence, \"DA\" marker", "Relationship breakdown (violent)",
           "Parental eviction", "End of private tenancy")},
        {"Priority Need", K_CHOICE, M_NONE, NULL, NULL, C("Y", "N")},
    }},
};

static const char *const descriptions[NA] = {
    "synthetic police nominal records (wyelink synth layout)",
    "synthetic GP practice extract (wyelink synth layout)",
    "synthetic adult social care referrals (wyelink synth layout)",
    "synthetic West Mercia Women's Aid service users (wyelink synth layout)",
    "synthetic MARAC cases (wyelink synth layout)",
    "synthetic IDVA service clients (wyelink synth layout)",
    "synthetic housing approaches, Windows-1252 (wyelink synth layout)",
};

static unsigned ncols(const layout *L)
{
    unsigned n = 0;
    while (n < sizeof L->cols / sizeof L->cols[0] && L->cols[n].name)
        n++;
    return n;
}

const char *wye_synth_encoding(unsigned agency)
{
    return agency < NA ? layouts[agency].encoding : NULL;
}

/* ---------------------------------------------------------------- output */

static void out_mem(out *o, const char *s, size_t k)
{
    if (o->err || !k)
        return;
    if (o->n + k > o->cap) {
        size_t nc = o->cap ? o->cap : 1 << 16;
        while (nc < o->n + k)
            nc *= 2;
        char *nb = realloc(o->buf, nc);
        if (!nb) {
            o->err = WYE_ENOMEM;
            return;
        }
        o->buf = nb;
        o->cap = nc;
    }
    memcpy(o->buf + o->n, s, k);
    o->n += k;
}

static void out_str(out *o, const char *s)
{
    out_mem(o, s, strlen(s));
}

static void out_u64(out *o, uint64_t v)
{
    char t[24];
    size_t i = sizeof t;
    do {
        t[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    out_mem(o, t + i, sizeof t - i);
}

/* One CSV field, quoted when it must be (or always, for quote_all). */
static void out_field(out *o, const char *s, bool quote_all)
{
    size_t k = strlen(s);
    bool q = quote_all || (k && (s[0] == ' ' || s[k - 1] == ' '));
    for (size_t i = 0; i < k && !q; i++)
        q = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    char t[512];
    size_t n = 0;
    if (q)
        t[n++] = '"';
    for (size_t i = 0; i < k && n + 4 < sizeof t; i++) {
        unsigned char c = (unsigned char)s[i];
        if (o->cp1252 && (c == 0xC2 || c == 0xC3) && i + 1 < k) {
            /* U+0080..U+00FF: Windows-1252 agrees with Latin-1 for the
             * letters the generator writes. */
            t[n++] = (char)(((c & 0x03) << 6) | ((unsigned char)s[++i] & 0x3F));
            continue;
        }
        if (c == '"')
            t[n++] = '"';
        t[n++] = (char)c;
    }
    if (q)
        t[n++] = '"';
    out_mem(o, t, n);
}

static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* t has room for 12 bytes. (snprintf was a tenth of the run time.) */
static void format_date(char *t, enum date_format f, int y, unsigned m, unsigned d)
{
    unsigned yy = y < 0 ? 0 : y > 9999 ? 9999 : (unsigned)y;
    char *p = t;
    switch (f) {
    case D_DMY_SLASH:
    case D_DMYY:
    case D_DOTS: {
        char sep = f == D_DOTS ? '.' : '/';
        p = put_digits(p, d, 2);
        *p++ = sep;
        p = put_digits(p, m, 2);
        *p++ = sep;
        p = f == D_DMYY ? put_digits(p, yy % 100, 2) : put_digits(p, yy, 4);
        break;
    }
    case D_ISO:
    case D_COMPACT:
        p = put_digits(p, yy, 4);
        if (f == D_ISO)
            *p++ = '-';
        p = put_digits(p, m, 2);
        if (f == D_ISO)
            *p++ = '-';
        p = put_digits(p, d, 2);
        break;
    case D_DMON:
        p = put_digits(p, d, 2);
        *p++ = '-';
        memcpy(p, months[(m - 1) % 12], 3);
        p += 3;
        *p++ = '-';
        p = put_digits(p, yy, 4);
        break;
    }
    *p = '\0';
}

static void out_local_id(out *o, const wye_synth *g, const layout *L, int a, uint64_t row,
                         uint64_t nrows)
{
    unsigned w = 1;
    for (uint64_t v = nrows; v >= 10; v /= 10)
        w++;
    w = w + 1 > L->id_width ? w + 1 : L->id_width;
    uint64_t base = 1;
    for (unsigned i = 1; i < w; i++)
        base *= 10;
    out_str(o, L->id_prefix);
    if (a == MARAC) {
        out_u64(o, (uint64_t)g->ey);
        out_str(o, "/");
    }
    out_u64(o, base + row);
}

void synth_write_header(out *o, int a)
{
    const layout *L = &layouts[a];
    if (L->bom)
        out_str(o, "\xEF\xBB\xBF");
    for (unsigned c = 0; c < ncols(L); c++) {
        if (c)
            out_str(o, ",");
        out_field(o, L->cols[c].name, L->quote_all);
    }
    out_str(o, L->crlf ? "\r\n" : "\n");
}

/* The name columns (and the title) of a row: fam is the family name as the
 * layout writes it in a column of its own. */
static void name_value(sbuf *v, enum kind kind, const person *x, const record *rec,
                       const sbuf *fam)
{
    const bool alt_case = rec->choice2 % 2000 >= 1000, title = rec->choice2 >= 2000;
    switch (kind) {
    case K_GIVEN:
        *v = rec->given;
        if (alt_case)
            sb_upper(v);
        break;
    case K_GIVEN_ALL:
        *v = rec->given;
        if (rec->middle.n) {
            sb_cat(v, " ");
            sb_cat(v, rec->middle.s);
        }
        break;
    case K_MIDDLE: *v = rec->middle; break;
    case K_FAMILY:
        *v = *fam;
        if (alt_case)
            sb_upper(v);
        break;
    case K_FORMER: *v = rec->former; break;
    case K_FULL_FS:
        if (title)
            sb_set(v, x->sex == 'F' ? (rec->choice % 3 == 0   ? "Mrs "
                                       : rec->choice % 3 == 1 ? "Miss "
                                                              : "Ms ")
                                    : "Mr ");
        sb_cat(v, rec->given.s);
        if (rec->middle.n) {
            sb_cat(v, " ");
            sb_cat(v, rec->middle.s);
        }
        sb_cat(v, " ");
        sb_cat(v, rec->family.s);
        if (alt_case)
            sb_lower(v);
        break;
    case K_FULL_SCF:
        *v = *fam;
        sb_cat(v, ", ");
        sb_cat(v, rec->given.s);
        if (rec->middle.n) {
            sb_cat(v, " ");
            sb_cat(v, rec->middle.s);
        }
        break;
    case K_TITLE:
        sb_set(v, x->sex == 'F' ? (rec->choice % 4 == 0   ? "Mrs"
                                   : rec->choice % 4 == 1 ? "Miss"
                                   : rec->choice % 4 == 2 ? "Ms"
                                                          : "Dr")
                                : (rec->choice % 4 == 3 ? "Dr" : "Mr"));
        break;
    default: break;
    }
}

/* The text of column c of a row in agency a's layout L, for every kind of
 * column but the local id. */
/* The age band a helpline records, from the age at the extract date. */
static const char *age_band(const wye_synth *g, const person *x)
{
    int age = g->ey - x->by - (g->em < x->bm || (g->em == x->bm && g->ed < x->bd));
    return age < 18 ? "16-17" : age < 25 ? "18-24" : age < 35 ? "25-34" : age < 45 ? "35-44"
         : age < 55 ? "45-54" : age < 65 ? "55-64" : "65+";
}

static void cell_value(sbuf *v, const wye_synth *g, const layout *L, unsigned c, int a,
                       const person *x, unsigned rep, const record *rec, const sbuf *fam)
{
    const column *col = &L->cols[c];
    char t[32];
    v->n = 0;
    v->s[0] = '\0';
    switch (col->kind) {
    case K_DOB:
        if (!rec->dob_missing) {
            format_date(t, L->dates, rec->by, rec->bm, rec->bd);
            sb_set(v, t);
        }
        break;
    case K_SEX:
        sb_set(v, L->sex_code[rec->sex_missing ? 2 : rec->sex == 'F' ? 0 : 1]);
        break;
    case K_POSTCODE:
        *v = rec->postcode;
        if (!v->n && rec->withheld && a == WMWA && rec->choice % 4 == 0)
            sb_set(v, "WITHHELD");
        break;
    case K_NHS_SPACED:
        if (!rec->nhs_missing) {
            memcpy(v->s, rec->nhs, 3);
            v->s[3] = ' ';
            memcpy(v->s + 4, rec->nhs + 3, 3);
            v->s[7] = ' ';
            memcpy(v->s + 8, rec->nhs + 6, 4);
            v->s[12] = '\0';
            v->n = 12;
        }
        break;
    case K_NHS:
        if (!rec->nhs_missing)
            sb_set(v, rec->nhs);
        break;
    case K_SERVICE: {
        unsigned k = rec->name_only           ? 2
                     : x->refuge && a == WMWA ? 0
                     : a == WMWA            ? (rec->choice < 700 ? 1 : 2)
                     : rec->choice < 600    ? 0
                     : rec->choice < 850    ? 1
                                            : 2;
        sb_set(v, L->service_code[k]);
        break;
    }
    case K_EVENT: {
        int y;
        unsigned m, d;
        synth_civil_from_days(rec->event_day, &y, &m, &d);
        format_date(t, L->dates, y, m, d);
        sb_set(v, t);
        break;
    }
    case K_CHOICE: {
        size_t n = 0;
        while (col->choices[n])
            n++;
        sb_set(v, col->choices[(rec->choice2 % 1000 + c) % n]);
        break;
    }
    case K_PRACTICE:
        memcpy(v->s, "M81", 3);
        put_digits(v->s + 3, rec->choice % 60 + 1, 3);
        v->s[6] = '\0';
        break;
    case K_REPEAT: sb_set(v, rep ? "Y" : "N"); break;
    case K_COUNT:
        v->s[0] = (char)('0' + rec->choice % 4);
        v->s[1] = '\0';
        break;
    case K_AGEBAND: sb_set(v, age_band(g, x)); break;
    default: name_value(v, col->kind, x, rec, fam); break;
    }
}

void synth_write_row(out *o, const wye_synth *g, int a, const person *x, unsigned rep,
                     const record *rec, uint64_t row, uint64_t nrows)
{
    const layout *L = &layouts[a];
    sbuf v, fam = rec->family;
    if (L->upper_family)
        sb_upper(&fam);
    for (unsigned c = 0; c < ncols(L); c++) {
        if (c)
            out_str(o, ",");
        if (L->cols[c].kind == K_ID) {
            if (L->quote_all)
                out_str(o, "\"");
            out_local_id(o, g, L, a, row, nrows);
            if (L->quote_all)
                out_str(o, "\"");
            continue;
        }
        cell_value(&v, g, L, c, a, x, rep, rec, &fam);
        out_field(o, v.s, L->quote_all);
    }
    out_str(o, L->crlf ? "\r\n" : "\n");
}

void synth_write_truth(out *o, const wye_synth *g, int a, uint64_t p, uint64_t row,
                       uint64_t nrows)
{
    out_str(o, wye_synth_agency_name((unsigned)a));
    out_str(o, ",");
    out_local_id(o, g, &layouts[a], a, row, nrows);
    out_str(o, ",");
    out_u64(o, p);
    out_str(o, "\n");
}

/* ---------------------------------------------------------------- maps */

static void json_str(wye_membuf *b, const char *s, int *err)
{
    char t[256];
    size_t n = 0;
    t[n++] = '"';
    for (; *s && n + 8 < sizeof t; s++) {
        if (*s == '"' || *s == '\\')
            t[n++] = '\\';
        t[n++] = *s;
    }
    t[n++] = '"';
    wye_sink k = wye_sink_memory(b);
    if (!*err)
        *err = k.write(k.ctx, t, n);
}

static void json_raw(wye_membuf *b, const char *s, int *err)
{
    wye_sink k = wye_sink_memory(b);
    if (!*err)
        *err = k.write(k.ctx, s, strlen(s));
}

int wye_synth_column_map(unsigned agency, char **json, size_t *len)
{
    if (agency >= NA || !json)
        return WYE_EINVAL;
    *json = NULL;
    const layout *L = &layouts[agency];
    wye_membuf b = {0};
    int err = WYE_OK;
    json_raw(&b, "{\n  \"format\": \"wyelink-column-map\",\n  \"version\": 1,\n  \"agency\": ",
             &err);
    json_str(&b, wye_synth_agency_name(agency), &err);
    json_raw(&b, ",\n  \"description\": ", &err);
    json_str(&b, descriptions[agency], &err);
    json_raw(&b, ",\n  \"encoding\": ", &err);
    json_str(&b, L->encoding, &err);
    json_raw(&b, ",\n  \"local_id\": ", &err);
    json_str(&b, L->cols[0].name, &err);
    json_raw(&b, ",\n  \"columns\": [", &err);
    bool first = true;
    for (unsigned c = 0; c < ncols(L); c++) {
        const column *col = &L->cols[c];
        if (col->map == M_NONE)
            continue;
        json_raw(&b, first ? "\n    {\"column\": " : ",\n    {\"column\": ", &err);
        first = false;
        json_str(&b, col->name, &err);
        json_raw(&b,
                 col->map == M_SPLIT  ? ", \"split\": "
                 : col->map == M_ATTR ? ", \"attribute\": "
                                      : ", \"field\": ",
                 &err);
        json_str(&b, col->target, &err);
        if (col->map == M_MULTIPLE)
            json_raw(&b, ", \"multiple\": true", &err);
        if (col->kind == K_DOB) {
            json_raw(&b, ", \"date_format\": ", &err);
            json_str(&b, date_format_names[L->dates], &err);
        }
        if (col->values) {
            json_raw(&b, ", \"values\": {", &err);
            for (size_t i = 0; col->values[2 * i]; i++) {
                if (i)
                    json_raw(&b, ", ", &err);
                json_str(&b, col->values[2 * i], &err);
                json_raw(&b, ": ", &err);
                if (col->values[2 * i + 1])
                    json_str(&b, col->values[2 * i + 1], &err);
                else
                    json_raw(&b, "null", &err);
            }
            json_raw(&b, "}", &err);
        }
        json_raw(&b, "}", &err);
    }
    json_raw(&b, "\n  ]\n}\n", &err);
    if (err) {
        free(b.data);
        return err;
    }
    /* NUL-terminate (not counted in the length). */
    wye_sink k = wye_sink_memory(&b);
    if ((err = k.write(k.ctx, "", 1))) {
        free(b.data);
        return err;
    }
    *json = (char *)b.data;
    if (len)
        *len = b.size - 1;
    return WYE_OK;
}
