/* Column maps (hashing/COLUMNMAP.md): parsing, validation against the
 * protocol, binding to a CSV header, and mapping one row to normalised
 * values. Diagnostics name JSON key paths and column names (from the map),
 * never a value from the extract. */
#include "wyelink/colmap.h"

#include <assert.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_NAME "wyelink-column-map"
#define MAX_FILE_BYTES (1u << 20)
#define MAX_DESCRIPTION 65536u

/* ROLE_CONST: an attribute with one value for every row, read from no
 * column ({"attribute": ..., "value": ...}). */
enum role { ROLE_FIELD, ROLE_MULTIPLE, ROLE_SPLIT, ROLE_ATTR, ROLE_CONST };

#define PIVOT_MIN 1800 /* two_digit_year_pivot: the first year of the window */
#define PIVOT_MAX 2200

typedef struct code {
    char *raw;   /* trimmed, ASCII capitals */
    char *shown; /* trimmed, as the map spells it (for the code tally) */
    int target;  /* -1 = known missing; sex: 'F', 'M', 'X'; attribute: value index */
} code;

typedef struct entry {
    char column[WYE_COLMAP_MAX_JOIN][WYE_COLMAP_NAME_MAX];
    size_t ncolumns;       /* > 1: the cells are joined with spaces */
    enum role role;
    int field;             /* ROLE_FIELD */
    wye_name_split split;  /* ROLE_SPLIT, ROLE_MULTIPLE */
    int attr;              /* ROLE_ATTR, ROLE_CONST */
    int constant;          /* ROLE_CONST: the attribute's value index */
    wye_date_format date_format;
    int pivot;             /* DD/MM/YY: first year of the two-digit window, 0 = none */
    bool has_values;
    size_t ncodes;
    code *codes;
    int col[WYE_COLMAP_MAX_JOIN]; /* indices in the bound header */
} entry;

struct wye_colmap {
    const wye_protocol *p;
    wye_csv_encoding enc;
    char agency[WYE_COLMAP_NAME_MAX];
    char local_id[WYE_COLMAP_NAME_MAX];
    int local_col;
    size_t n;
    entry e[WYE_COLMAP_MAX_COLUMNS];
    bool field_mapped[WYE_MAX_FIELDS], attr_mapped[WYE_MAX_ATTRS];
    int f_given, f_other, f_family, f_dob, f_sex, f_nhs, f_post, f_addr, f_oid;
    unsigned band_lo[WYE_MAX_ATTRS][WYE_MAX_ATTR_VALUES];
    unsigned band_hi[WYE_MAX_ATTRS][WYE_MAX_ATTR_VALUES];
    size_t ncols;
    bool bound;
};

static const char *const verdict_text[WYE_ROW_COUNT] = {
    [WYE_ROW_OK] = "ok",
    [WYE_ROW_FIELD_COUNT] = "wrong number of fields",
    [WYE_ROW_NO_LOCAL_ID] = "no local id",
    [WYE_ROW_EMPTY] = "empty row",
    [WYE_ROW_NO_NAME] = "no name and no nhs number",
    /* the text is pinned by tests/hashing/test_cmd_hash.c; the rule also
     * accepts an address or another id (wye_fields_linkable) */
    [WYE_ROW_NAME_ONLY] = "a name but no date of birth, postcode, address, other id or nhs number",
    [WYE_ROW_DUPLICATE_ID] = "local id repeats an earlier row",
    [WYE_ROW_MALFORMED] = "malformed quoting (the rest of its line was skipped)",
};

const char *wye_row_verdict_text(wye_row_verdict v)
{
    if ((unsigned)v >= WYE_ROW_COUNT)
        return "unknown verdict";
    return verdict_text[v];
}

/* ---- parsing ---- */

static int bad(wye_diag *d, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(wye_diag *d, const char *path, const char *fmt, ...)
{
    char reason[sizeof d->reason];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    wye_diag_set(d, 0, path, "%s", reason);
    return WYE_EJSON;
}

static int check_keys(json_t *obj, const char *path, const char *const *allowed, wye_diag *d)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            ok = ok || !strcmp(key, *a);
        if (!ok) {
            char p[64];
            snprintf(p, sizeof p, "%s%s%.40s", path, path[0] ? "." : "", key);
            for (char *c = p; *c; c++)
                if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
                    *c = '?';
            return bad(d, p, "unknown key");
        }
    }
    return WYE_OK;
}

/* A non-empty string of at most WYE_COLMAP_NAME_MAX - 1 bytes without control
 * characters, or NULL with an error. */
static const char *get_str(json_t *obj, const char *key, const char *path, bool required,
                           int *rc, wye_diag *d)
{
    json_t *v = json_object_get(obj, key);
    char p[64];
    snprintf(p, sizeof p, "%s%s%s", path, path[0] ? "." : "", key);
    *rc = WYE_OK;
    if (!v) {
        if (required)
            *rc = bad(d, p, "missing (required)");
        return NULL;
    }
    if (!json_is_string(v)) {
        *rc = bad(d, p, "must be a string");
        return NULL;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0 || n >= WYE_COLMAP_NAME_MAX) {
        *rc = bad(d, p, "must be 1 to %d bytes long", WYE_COLMAP_NAME_MAX - 1);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            *rc = bad(d, p, "must not hold control characters");
            return NULL;
        }
    return s;
}

/* Trim and fold ASCII letters to capitals (codes match case-insensitively). */
static void fold_code(const char *in, size_t len, char *out)
{
    in = wye_norm_trim(in, &len);
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        out[i] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
    }
    out[len] = 0;
}

static void free_entry(entry *e)
{
    for (size_t i = 0; i < e->ncodes; i++) {
        free(e->codes[i].raw);
        free(e->codes[i].shown);
    }
    free(e->codes);
    e->codes = NULL;
    e->ncodes = 0;
}

void wye_colmap_free(wye_colmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        free_entry(&m->e[i]);
    free(m);
}

/* "values": raw code -> target. For sex the targets are F, M, X; for an
 * attribute its allowed values; null means known to be missing. */
static int parse_values(json_t *vals, const char *path, const wye_attr_spec *attr,
                        entry *e, wye_diag *d)
{
    char p[64];
    snprintf(p, sizeof p, "%s.values", path);
    if (!json_is_object(vals))
        return bad(d, p, "must be an object of code: value");
    size_t n = json_object_size(vals);
    if (n < 1 || n > WYE_COLMAP_MAX_VALUES)
        return bad(d, p, "must hold 1 to %d codes", WYE_COLMAP_MAX_VALUES);
    e->codes = calloc(n, sizeof *e->codes);
    if (!e->codes)
        return WYE_ENOMEM;
    e->has_values = true;
    const char *key;
    json_t *v;
    size_t i = 0;
    json_object_foreach(vals, key, v) {
        char vp[64];
        snprintf(vp, sizeof vp, "%s.values[%zu]", path, i);
        size_t klen = strlen(key);
        if (klen >= WYE_COLMAP_NAME_MAX)
            return bad(d, vp, "code longer than %d bytes", WYE_COLMAP_NAME_MAX - 1);
        code *c = &e->codes[e->ncodes];
        c->raw = malloc(klen + 1);
        c->shown = malloc(klen + 1);
        e->ncodes++;
        if (!c->raw || !c->shown)
            return WYE_ENOMEM;
        fold_code(key, klen, c->raw);
        size_t tlen = klen;
        const char *t = wye_norm_trim(key, &tlen);
        memcpy(c->shown, t, tlen);
        c->shown[tlen] = 0;
        if (!c->raw[0])
            return bad(d, vp, "code is empty (an empty cell is always missing)");
        for (size_t j = 0; j + 1 < e->ncodes; j++)
            if (!strcmp(e->codes[j].raw, c->raw))
                return bad(d, vp, "code repeats values[%zu] (codes ignore case and spaces)", j);
        if (json_is_null(v)) {
            c->target = -1;
        } else if (!json_is_string(v)) {
            return bad(d, vp, "must be a string or null");
        } else if (attr) {
            int k = wye_attr_value_index(attr, json_string_value(v));
            if (k < 0)
                return bad(d, vp, "not an allowed value of attribute %s", attr->name);
            c->target = k;
        } else {
            const char *t = json_string_value(v);
            if (strcmp(t, "F") && strcmp(t, "M") && strcmp(t, "X"))
                return bad(d, vp, "sex values must be F, M, X or null");
            c->target = t[0];
        }
        i++;
    }
    return WYE_OK;
}

static int mark_field(wye_colmap *m, int fi, const char *path, wye_diag *d)
{
    if (fi < 0)
        return WYE_OK; /* the protocol does not encode it: ignored */
    if (m->field_mapped[fi])
        return bad(d, path, "field %s is fed by another column too",
                   wye_protocol_field(m->p, (size_t)fi)->name);
    m->field_mapped[fi] = true;
    return WYE_OK;
}

/* One column name at key path kp (v NULL: missing): checked as get_str
 * checks a string, then trimmed (the header's names are trimmed too). */
static int column_name(json_t *v, const char *kp, char out[WYE_COLMAP_NAME_MAX], wye_diag *d)
{
    if (!v)
        return bad(d, kp, "missing (required)");
    if (!json_is_string(v))
        return bad(d, kp, "must be a string");
    const char *col = json_string_value(v);
    size_t clen = json_string_length(v);
    if (clen == 0 || clen >= WYE_COLMAP_NAME_MAX)
        return bad(d, kp, "must be 1 to %d bytes long", WYE_COLMAP_NAME_MAX - 1);
    for (size_t i = 0; i < clen; i++)
        if ((unsigned char)col[i] < 0x20 || col[i] == 0x7f)
            return bad(d, kp, "must not hold control characters");
    col = wye_norm_trim(col, &clen);
    if (!clen)
        return bad(d, kp, "column name is only spaces");
    snprintf(out, WYE_COLMAP_NAME_MAX, "%.*s", (int)clen, col);
    return WYE_OK;
}

/* "column": a name, or a list of 2 to WYE_COLMAP_MAX_JOIN names whose cells
 * are joined (checked against the field's type by parse_entry). */
static int parse_columns(json_t *c, const char *path, entry *e, wye_diag *d)
{
    json_t *v = json_object_get(c, "column");
    char p[64];
    snprintf(p, sizeof p, "%s.column", path);
    if (!json_is_array(v)) {
        e->ncolumns = 1;
        return column_name(v, p, e->column[0], d);
    }
    size_t n = json_array_size(v);
    if (n < 2 || n > WYE_COLMAP_MAX_JOIN)
        return bad(d, p, "a list must name 2 to %d columns", WYE_COLMAP_MAX_JOIN);
    for (size_t k = 0; k < n; k++) {
        char ep[48];
        snprintf(ep, sizeof ep, "%s.column[%zu]", path, k);
        int rc = column_name(json_array_get(v, k), ep, e->column[k], d);
        if (rc)
            return rc;
        for (size_t j = 0; j < k; j++)
            if (!strcmp(e->column[j], e->column[k]))
                return bad(d, ep, "column repeats column[%zu]", j);
    }
    e->ncolumns = n;
    return WYE_OK;
}

/* What parse_entry hands its three kinds of entry: the entry's key path,
 * that of its column, and its optional keys. */
typedef struct entry_json {
    const char *path, *cp;
    json_t *multiple, *date_format, *values, *pivot;
    bool is_multiple;
} entry_json;

/* "two_digit_year_pivot" of a DD/MM/YY date column: a whole year from
 * PIVOT_MIN to PIVOT_MAX, the first of the hundred that two-digit years are
 * read in. */
static int entry_pivot(entry *e, const entry_json *j, wye_diag *d)
{
    char p[64];
    snprintf(p, sizeof p, "%s.two_digit_year_pivot", j->path);
    if (e->date_format != WYE_DATE_DMY2)
        return bad(d, p, "applies only to date_format DD/MM/YY");
    if (!json_is_integer(j->pivot) || json_integer_value(j->pivot) < PIVOT_MIN ||
        json_integer_value(j->pivot) > PIVOT_MAX)
        return bad(d, p, "must be a year from %d to %d (the first year two-digit years are "
                         "read in)", PIVOT_MIN, PIVOT_MAX);
    e->pivot = (int)json_integer_value(j->pivot);
    return WYE_OK;
}

/* "field": one protocol field (or, "multiple", the given names). */
static int entry_field(wye_colmap *m, entry *e, const char *field, const entry_json *j,
                       wye_diag *d)
{
    const char *path = j->path;
    char p[64];
    int rc;
    snprintf(p, sizeof p, "%s.field", path);
    int fi = wye_protocol_field_index(m->p, field);
    if (fi < 0)
        return bad(d, p, "not a field of the protocol");
    const wye_field_spec *fs = wye_protocol_field(m->p, (size_t)fi);
    e->field = fi;
    if (e->ncolumns > 1 &&
        (j->is_multiple || (fs->type != WYE_TYPE_ADDRESS && fs->type != WYE_TYPE_ID)))
        return bad(d, j->cp, "a list of columns applies only to address and other_id fields");
    if (j->is_multiple) {
        if (strcmp(field, "given_name")) {
            snprintf(p, sizeof p, "%s.multiple", path);
            return bad(d, p, "applies only to given_name");
        }
        e->role = ROLE_MULTIPLE;
        e->split = WYE_SPLIT_GIVEN_NAMES;
        if ((rc = mark_field(m, m->f_given, path, d)) ||
            (rc = mark_field(m, m->f_other, path, d)))
            return rc;
    } else {
        e->role = ROLE_FIELD;
        if ((rc = mark_field(m, fi, path, d)))
            return rc;
    }
    snprintf(p, sizeof p, "%s.date_format", path);
    if (fs->type == WYE_TYPE_DATE) {
        if (!j->date_format)
            return bad(d, p, "missing (required for a date)");
        if (!json_is_string(j->date_format) ||
            !(e->date_format = wye_date_format_from_name(json_string_value(j->date_format))))
            return bad(d, p, "must be DD/MM/YYYY, YYYY-MM-DD, DD-Mon-YYYY, DD/MM/YY, "
                             "YYYYMMDD or DD.MM.YYYY");
        if (j->pivot && (rc = entry_pivot(e, j, d)))
            return rc;
    } else if (j->date_format) {
        return bad(d, p, "applies only to date fields");
    } else if (j->pivot) {
        snprintf(p, sizeof p, "%s.two_digit_year_pivot", path);
        return bad(d, p, "applies only to date_format DD/MM/YY");
    }
    if (j->values) {
        if (fs->type != WYE_TYPE_SEX) {
            snprintf(p, sizeof p, "%s.values", path);
            return bad(d, p, "applies only to sex and attributes");
        }
        if ((rc = parse_values(j->values, path, NULL, e, d)))
            return rc;
    }
    return WYE_OK;
}

/* "split": a whole name into given, other given and family names. */
static int entry_split(wye_colmap *m, entry *e, const char *split, const entry_json *j,
                       wye_diag *d)
{
    char p[64];
    int rc;
    snprintf(p, sizeof p, "%s.split", j->path);
    e->role = ROLE_SPLIT;
    if (!strcmp(split, "forename_surname"))
        e->split = WYE_SPLIT_FORENAME_SURNAME;
    else if (!strcmp(split, "surname_comma_forename"))
        e->split = WYE_SPLIT_SURNAME_COMMA_FORENAME;
    else
        return bad(d, p, "must be forename_surname or surname_comma_forename");
    if (m->f_given < 0 && m->f_family < 0)
        return bad(d, p, "the protocol has neither given_name nor family_name");
    if (j->values) {
        snprintf(p, sizeof p, "%s.values", j->path);
        return bad(d, p, "applies only to sex and attributes");
    }
    if ((rc = mark_field(m, m->f_given, j->path, d)) ||
        (rc = mark_field(m, m->f_other, j->path, d)) ||
        (rc = mark_field(m, m->f_family, j->path, d)))
        return rc;
    return WYE_OK;
}

/* "attribute": an attribute read from a column. */
static int entry_attr(wye_colmap *m, entry *e, const char *attr, const entry_json *j,
                      wye_diag *d)
{
    const wye_protocol *pr = m->p;
    char p[64];
    snprintf(p, sizeof p, "%s.attribute", j->path);
    e->role = ROLE_ATTR;
    for (size_t i = 0; i < wye_protocol_nattrs(pr); i++)
        if (!strcmp(wye_protocol_attr(pr, i)->name, attr))
            e->attr = (int)i;
    if (e->attr < 0)
        return bad(d, p, "not an attribute of the protocol");
    const wye_attr_spec *as = wye_protocol_attr(pr, (size_t)e->attr);
    if (as->source != WYE_ATTR_COLUMN)
        return bad(d, p, "attribute %s is computed, not read from a column", as->name);
    if (m->attr_mapped[e->attr])
        return bad(d, p, "attribute %s is fed by another column too", as->name);
    m->attr_mapped[e->attr] = true;
    int rc = j->values ? parse_values(j->values, j->path, as, e, d) : WYE_OK;
    return rc;
}

/* {"attribute": A, "value": V}: attribute A is V on every row (an IDVA
 * service's clients are all "advocacy"); V must be one of A's allowed
 * values. Nothing else may be given with "value". */
static int entry_const(wye_colmap *m, entry *e, json_t *c, const char *path, wye_diag *d)
{
    static const char *const keys[] = {"attribute", "value", NULL};
    char p[64];
    int rc = check_keys(c, path, keys, d);
    if (rc) {
        snprintf(p, sizeof p, "%s", d->field);
        return bad(d, p, "not allowed with \"value\" (a constant attribute takes "
                         "attribute and value only)");
    }
    const char *attr = get_str(c, "attribute", path, true, &rc, d);
    if (rc)
        return rc;
    json_t *v = json_object_get(c, "value");
    entry_json j = {path, NULL, NULL, NULL, NULL, NULL, false};
    if ((rc = entry_attr(m, e, attr, &j, d)))
        return rc;
    e->role = ROLE_CONST;
    snprintf(p, sizeof p, "%s.value", path);
    const wye_attr_spec *as = wye_protocol_attr(m->p, (size_t)e->attr);
    if (!json_is_string(v))
        return bad(d, p, "must be a string, one of the allowed values of attribute %s",
                   as->name);
    e->constant = wye_attr_value_index(as, json_string_value(v));
    if (e->constant < 0)
        return bad(d, p, "not an allowed value of attribute %s", as->name);
    return WYE_OK;
}

static int parse_entry(wye_colmap *m, json_t *c, size_t idx, wye_diag *d)
{
    char path[32];
    snprintf(path, sizeof path, "columns[%zu]", idx);
    if (!json_is_object(c))
        return bad(d, path, "must be an object");
    static const char *const keys[] = {"column", "field", "split", "attribute", "multiple",
                                       "date_format", "values", "two_digit_year_pivot",
                                       "value", NULL};
    int rc = check_keys(c, path, keys, d);
    if (rc)
        return rc;
    entry *e = &m->e[m->n++];
    memset(e, 0, sizeof *e);
    e->field = e->attr = -1;
    for (size_t k = 0; k < WYE_COLMAP_MAX_JOIN; k++)
        e->col[k] = -1;
    if (json_object_get(c, "value"))
        return entry_const(m, e, c, path, d);
    if ((rc = parse_columns(c, path, e, d)))
        return rc;
    const char *field = get_str(c, "field", path, false, &rc, d);
    if (rc)
        return rc;
    const char *split = get_str(c, "split", path, false, &rc, d);
    if (rc)
        return rc;
    const char *attr = get_str(c, "attribute", path, false, &rc, d);
    if (rc)
        return rc;
    if (!!field + !!split + !!attr != 1)
        return bad(d, path, "needs exactly one of field, split and attribute");
    char cp[64];
    snprintf(cp, sizeof cp, "%s.column", path);
    if (e->ncolumns > 1 && !field)
        return bad(d, cp, "a list of columns applies only to address and other_id fields");
    entry_json j = {path, cp, json_object_get(c, "multiple"), json_object_get(c, "date_format"),
                    json_object_get(c, "values"), json_object_get(c, "two_digit_year_pivot"),
                    false};
    char p[64];
    if (j.multiple && !json_is_boolean(j.multiple)) {
        snprintf(p, sizeof p, "%s.multiple", path);
        return bad(d, p, "must be true or false");
    }
    j.is_multiple = j.multiple && json_is_true(j.multiple);
    if (field)
        return entry_field(m, e, field, &j, d);
    if (j.multiple) {
        snprintf(p, sizeof p, "%s.multiple", path);
        return bad(d, p, "applies only to a given_name field");
    }
    if (j.date_format || j.pivot) {
        snprintf(p, sizeof p, "%s.%s", path,
                 j.date_format ? "date_format" : "two_digit_year_pivot");
        return bad(d, p, "applies only to date fields");
    }
    return split ? entry_split(m, e, split, &j, d) : entry_attr(m, e, attr, &j, d);
}

/* Parse an age band "A-B" or "A+" (already validated by the protocol). */
static void parse_band(const char *s, unsigned *lo, unsigned *hi)
{
    char *end;
    *lo = (unsigned)strtoul(s, &end, 10);
    *hi = *end == '+' ? ~0u : (unsigned)strtoul(end + 1, NULL, 10);
}

/* The map's header keys: format, version, description, agency, encoding
 * and local_id. */
static int parse_head(wye_colmap *m, json_t *root, wye_diag *diag)
{
    if (!json_is_object(root))
        return bad(diag, "", "must be an object");
    json_t *fmt = json_object_get(root, "format");
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), FORMAT_NAME))
        return bad(diag, "format", "must be \"" FORMAT_NAME "\"");
    json_t *ver = json_object_get(root, "version");
    if (!json_is_integer(ver))
        return bad(diag, "version", "missing or not a whole number");
    if (json_integer_value(ver) != WYE_COLMAP_VERSION) {
        wye_diag_set(diag, 0, "version", "this build reads column-map version %d",
                     WYE_COLMAP_VERSION);
        return WYE_EVERSION;
    }
    static const char *const keys[] = {"format", "version", "agency", "description",
                                       "encoding", "local_id", "columns", NULL};
    int rc = check_keys(root, "", keys, diag);
    if (rc)
        return rc;
    json_t *desc = json_object_get(root, "description");
    if (desc && (!json_is_string(desc) || json_string_length(desc) > MAX_DESCRIPTION))
        return bad(diag, "description", "must be a string of at most 65536 bytes");
    const char *s = get_str(root, "agency", "", false, &rc, diag);
    if (rc)
        return rc;
    if (s)
        snprintf(m->agency, sizeof m->agency, "%s", s);
    s = get_str(root, "encoding", "", false, &rc, diag);
    if (rc)
        return rc;
    if (!s || !strcmp(s, "utf-8"))
        m->enc = WYE_CSV_UTF8;
    else if (!strcmp(s, "windows-1252"))
        m->enc = WYE_CSV_WINDOWS1252;
    else
        return bad(diag, "encoding", "must be utf-8 or windows-1252");
    s = get_str(root, "local_id", "", true, &rc, diag);
    if (rc)
        return rc;
    size_t slen = strlen(s);
    s = wye_norm_trim(s, &slen);
    if (!slen)
        return bad(diag, "local_id", "column name is only spaces");
    snprintf(m->local_id, sizeof m->local_id, "%.*s", (int)slen, s);
    return WYE_OK;
}

/* The columns, then what they feed as a whole (computed attributes too). */
static int parse_body(wye_colmap *m, json_t *root, wye_diag *diag)
{
    const wye_protocol *p = m->p;
    json_t *cols = json_object_get(root, "columns");
    if (!json_is_array(cols) || json_array_size(cols) < 1 ||
        json_array_size(cols) > WYE_COLMAP_MAX_COLUMNS)
        return bad(diag, "columns", "must be a list of 1 to %d column objects",
                   WYE_COLMAP_MAX_COLUMNS);
    int rc;
    for (size_t i = 0; i < json_array_size(cols); i++)
        if ((rc = parse_entry(m, json_array_get(cols, i), i, diag)))
            return rc;
    bool any = false;
    for (size_t i = 0; i < wye_protocol_nfields(p); i++)
        any = any || m->field_mapped[i];
    if (!any)
        return bad(diag, "columns", "no column feeds a field of the protocol");
    for (size_t i = 0; i < wye_protocol_nattrs(p); i++) {
        const wye_attr_spec *a = wye_protocol_attr(p, i);
        if (a->source == WYE_ATTR_AGE_BAND) {
            m->attr_mapped[i] = m->f_dob >= 0 && m->field_mapped[m->f_dob];
            for (unsigned v = 0; v < a->nvalues; v++)
                parse_band(a->values[v], &m->band_lo[i][v], &m->band_hi[i][v]);
        } else if (a->source == WYE_ATTR_SEX) {
            m->attr_mapped[i] = m->f_sex >= 0 && m->field_mapped[m->f_sex];
        }
    }
    return WYE_OK;
}

int wye_colmap_parse(const char *json, size_t len, const wye_protocol *p, wye_colmap **out,
                     wye_diag *diag)
{
    wye_diag_clear(diag);
    if (!json || !p || !out)
        return WYE_EINVAL;
    *out = NULL;
    if (len > MAX_FILE_BYTES)
        return bad(diag, "", "larger than 1 MiB");
    json_error_t err;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        wye_diag_set(diag, err.line > 0 ? (uint64_t)err.line : 0, NULL,
                     "malformed json (or a key repeated)");
        return WYE_EJSON;
    }
    wye_colmap *m = calloc(1, sizeof *m);
    if (!m) {
        json_decref(root);
        return WYE_ENOMEM;
    }
    m->p = p;
    m->local_col = -1;
    m->f_given = wye_protocol_field_index(p, "given_name");
    m->f_other = wye_protocol_field_index(p, "other_given_names");
    m->f_family = wye_protocol_field_index(p, "family_name");
    m->f_dob = wye_protocol_field_index(p, "date_of_birth");
    m->f_sex = wye_protocol_field_index(p, "sex");
    m->f_nhs = wye_protocol_field_index(p, "nhs_number");
    m->f_post = wye_protocol_field_index(p, "postcode");
    m->f_addr = wye_protocol_field_index(p, "address");
    m->f_oid = wye_protocol_field_index(p, "other_id");
    int rc = parse_head(m, root, diag);
    if (rc == WYE_OK)
        rc = parse_body(m, root, diag);
    json_decref(root);
    if (rc) {
        wye_colmap_free(m);
        return rc;
    }
    *out = m;
    return WYE_OK;
}

int wye_colmap_load(const char *path, const wye_protocol *p, wye_colmap **out,
                    wye_diag *diag)
{
    char *buf;
    size_t len;
    wye_diag_clear(diag);
    int rc = wye_read_file(path, MAX_FILE_BYTES, &buf, &len);
    if (rc)
        return rc;
    rc = wye_colmap_parse(buf, len, p, out, diag);
    free(buf);
    return rc;
}

wye_csv_encoding wye_colmap_encoding(const wye_colmap *m) { return m->enc; }
const char *wye_colmap_agency(const wye_colmap *m) { return m->agency; }

bool wye_colmap_field_mapped(const wye_colmap *m, size_t i)
{
    return i < WYE_MAX_FIELDS && m->field_mapped[i];
}

bool wye_colmap_attr_mapped(const wye_colmap *m, size_t i)
{
    return i < WYE_MAX_ATTRS && m->attr_mapped[i];
}

static int bind_one(const wye_csvin *r, const char *name, int *col, wye_diag *d)
{
    int k = wye_csvin_find(r, name);
    if (k == -1) {
        wye_diag_set(d, 1, name, "column not in the csv header");
        return WYE_ECOLUMN;
    }
    if (k == -2) {
        /* Not "missing": the column is there, twice. Header names are not
         * identifiers, so the reason may say which. */
        wye_diag_set(d, 1, name, "column '%.80s' appears twice in the header", name);
        return WYE_EDUPLICATE;
    }
    *col = k;
    return WYE_OK;
}

int wye_colmap_bind(wye_colmap *m, const wye_csvin *r, wye_diag *diag)
{
    wye_diag_clear(diag);
    int rc = bind_one(r, m->local_id, &m->local_col, diag);
    for (size_t i = 0; !rc && i < m->n; i++)
        for (size_t k = 0; !rc && k < m->e[i].ncolumns; k++)
            rc = bind_one(r, m->e[i].column[k], &m->e[i].col[k], diag);
    m->ncols = wye_csvin_ncolumns(r);
    m->bound = rc == WYE_OK;
    return rc;
}

/* ---- one row ---- */

static void set_field(wye_fields *f, int fi, wye_norm_status st, wye_norm_reason why,
                      const char *value)
{
    if (fi < 0)
        return;
    f->status[fi] = (uint8_t)st;
    f->reason[fi] = (uint8_t)(st == WYE_NORM_INVALID ? why : WYE_NR_NONE);
    if (st == WYE_NORM_PRESENT) {
        size_t n = strlen(value);
        assert(n < WYE_NORM_MAX);
        memcpy(f->value[fi], value, n + 1);
    } else {
        f->value[fi][0] = 0;
    }
}

/* A name part: PRESENT if non-empty, else MISSING. */
static void set_part(wye_fields *f, int fi, const char *v)
{
    set_field(f, fi, v[0] ? WYE_NORM_PRESENT : WYE_NORM_MISSING, WYE_NR_NONE, v);
}

/* Look a code up in an entry's values: the code's index, -1 if unknown. */
static int find_code(const entry *e, const char *in, size_t len)
{
    char buf[WYE_COLMAP_NAME_MAX];
    size_t n = len;
    const char *t = wye_norm_trim(in, &n);
    if (n >= sizeof buf)
        return -1;
    fold_code(t, n, buf);
    for (size_t i = 0; i < e->ncodes; i++)
        if (!strcmp(e->codes[i].raw, buf))
            return (int)i;
    return -1;
}

static bool blank(const char *s, size_t len)
{
    wye_norm_trim(s, &len);
    return len == 0;
}

/* The field indices the linkability rule looks at (-1: not in the protocol). */
typedef struct link_fields {
    int given, family, dob, post, addr, oid, nhs;
} link_fields;

static wye_row_verdict linkable(const link_fields *lf, const wye_fields *f)
{
#define HAS(i) ((i) >= 0 && f->status[i] == WYE_NORM_PRESENT)
    if (HAS(lf->nhs))
        return WYE_ROW_OK;
    /* Without a name, an NHS number alone links (above); so does another id
     * together with a date of birth or an address: the pair is as specific
     * as an NHS number, and each half survives a typo in the other. */
    if (!HAS(lf->given) && !HAS(lf->family))
        return HAS(lf->oid) && (HAS(lf->dob) || HAS(lf->addr)) ? WYE_ROW_OK : WYE_ROW_NO_NAME;
    if (!HAS(lf->dob) && !HAS(lf->post) && !HAS(lf->addr) && !HAS(lf->oid))
        return WYE_ROW_NAME_ONLY;
    return WYE_ROW_OK;
#undef HAS
}

wye_row_verdict wye_fields_linkable(const wye_protocol *p, const wye_fields *f)
{
    link_fields lf = {wye_protocol_field_index(p, "given_name"),
                      wye_protocol_field_index(p, "family_name"),
                      wye_protocol_field_index(p, "date_of_birth"),
                      wye_protocol_field_index(p, "postcode"),
                      wye_protocol_field_index(p, "address"),
                      wye_protocol_field_index(p, "other_id"),
                      wye_protocol_field_index(p, "nhs_number")};
    return linkable(&lf, f);
}

/* An entry's cell: its column's, or several columns' non-blank cells,
 * trimmed, joined with one space (in joined); a join longer than
 * WYE_NORM_RAW_MAX bytes is too long. */
static void entry_cell(const entry *e, const wye_csv_row *row, char joined[WYE_NORM_RAW_MAX],
                       const char **v, size_t *n, bool *too_long)
{
    *v = row->field[e->col[0]];
    *n = row->len[e->col[0]];
    *too_long = false;
    if (e->ncolumns < 2)
        return;
    size_t jn = 0;
    for (size_t k = 0; k < e->ncolumns; k++) {
        size_t cn = row->len[e->col[k]];
        const char *cv = wye_norm_trim(row->field[e->col[k]], &cn);
        if (!cn)
            continue;
        if (*too_long || cn + (jn > 0) > WYE_NORM_RAW_MAX - jn) {
            *too_long = true;
            continue;
        }
        if (jn)
            joined[jn++] = ' ';
        memcpy(joined + jn, cv, cn);
        jn += cn;
    }
    *v = joined, *n = jn;
}

/* What the cell of a value entry (sex, or an attribute read from a column)
 * gives: the status, the reason when invalid, and the value when present:
 * 'F', 'M' or 'X' for sex, the value's index for an attribute. A code is
 * looked up in the map's own values; without them, sex takes the usual codes
 * and an attribute one of its allowed values, ignoring case. */
static wye_norm_status code_outcome(const wye_colmap *m, const entry *e, const char *v,
                                    size_t n, int *value, wye_norm_reason *why)
{
    *value = -1;
    *why = WYE_NR_NONE;
    if (e->role != ROLE_ATTR && (!e->has_values || blank(v, n))) {
        char out[2];
        wye_norm_status st = wye_norm_sex(v, n, out, why);
        if (st == WYE_NORM_PRESENT)
            *value = out[0];
        return st;
    }
    if (blank(v, n))
        return WYE_NORM_MISSING;
    if (e->has_values) {
        int c = find_code(e, v, n);
        if (c < 0) {
            *why = WYE_NR_CODE_UNKNOWN;
            return WYE_NORM_INVALID;
        }
        *value = e->codes[c].target;
        return *value < 0 ? WYE_NORM_MISSING : WYE_NORM_PRESENT;
    }
    const wye_attr_spec *as = wye_protocol_attr(m->p, (size_t)e->attr);
    char buf[WYE_COLMAP_NAME_MAX], cand[WYE_ATTR_VALUE_MAX];
    size_t tn = n;
    const char *t = wye_norm_trim(v, &tn);
    if (tn < sizeof buf) {
        fold_code(t, tn, buf);
        for (unsigned j = 0; j < as->nvalues; j++) {
            fold_code(as->values[j], strlen(as->values[j]), cand);
            if (!strcmp(cand, buf)) {
                *value = (int)j;
                return WYE_NORM_PRESENT;
            }
        }
    }
    *why = WYE_NR_ATTR_NOT_ALLOWED;
    return WYE_NORM_INVALID;
}

/* A DD/MM/YY cell whose year has two digits, with the year written out in
 * four: the year of pivot..pivot + 99 that ends in those digits. wye_norm_date
 * reads a four-digit year of DD/MM/YY as it stands, so a column with a pivot
 * is read exactly as without one, but for the century of two-digit years.
 * Anything else (not a two-digit year, or too long to widen) is returned as
 * it was. */
#define DATE_WIDE_MAX 64 /* wye_norm_date reads at most 64 bytes */
static const char *widen_year(int pivot, const char *v, size_t *n, char wide[DATE_WIDE_MAX])
{
    size_t len = *n;
    const char *t = wye_norm_trim(v, &len);
    size_t i = 0;
    int slashes = 0;
    while (i < len && slashes < 2)
        slashes += t[i++] == '/';
    size_t end = i;
    while (end < len && t[end] >= '0' && t[end] <= '9')
        end++;
    if (slashes < 2 || end - i != 2 || (end < len && t[end] != ' ') ||
        len + 2 > DATE_WIDE_MAX)
        return v;
    int yy = (t[i] - '0') * 10 + (t[i + 1] - '0');
    int year = pivot + (yy - pivot % 100 + 100) % 100;
    memcpy(wide, t, i);
    for (int k = 3; k >= 0; k--, year /= 10)
        wide[i + (size_t)k] = (char)('0' + year % 10);
    memcpy(wide + i + 4, t + end, len - end);
    *n = len + 2;
    return wide;
}

/* ROLE_FIELD: one field, normalised as its type says; a date of birth is
 * kept for the age band. */
static void extract_field(const wye_colmap *m, const entry *e, const char *v, size_t n,
                          bool too_long, const wye_date *extract, wye_fields *f,
                          wye_date *dob, bool *have_dob)
{
    const wye_field_spec *fs = wye_protocol_field(m->p, (size_t)e->field);
    wye_norm_reason why = WYE_NR_NONE;
    char out[WYE_NORM_MAX];
    wye_norm_status st;
    if (too_long) {
        set_field(f, e->field, WYE_NORM_INVALID, WYE_NR_TOO_LONG, "");
        return;
    }
    switch (fs->type) {
    case WYE_TYPE_NAME:
        st = wye_norm_name(v, n, out, &why);
        break;
    case WYE_TYPE_DATE: {
        char wide[DATE_WIDE_MAX];
        if (e->pivot)
            v = widen_year(e->pivot, v, &n, wide);
        st = wye_norm_date(v, n, e->date_format, extract, dob, out, &why);
        *have_dob = *have_dob || (st == WYE_NORM_PRESENT && e->field == m->f_dob);
        break;
    }
    case WYE_TYPE_POSTCODE:
        st = wye_norm_postcode(v, n, out, &why);
        break;
    case WYE_TYPE_NHS:
        st = wye_norm_nhs(v, n, out, &why);
        break;
    case WYE_TYPE_ADDRESS:
        st = wye_norm_address(v, n, out, &why);
        break;
    case WYE_TYPE_ID:
        st = wye_norm_other_id(v, n, out, &why);
        break;
    case WYE_TYPE_SEX:
    default: {
        int sex;
        st = code_outcome(m, e, v, n, &sex, &why);
        out[0] = (char)(st == WYE_NORM_PRESENT ? sex : 0), out[1] = 0;
        break;
    }
    }
    set_field(f, e->field, st, why, out);
}

/* ROLE_MULTIPLE and ROLE_SPLIT: a name split into its parts. */
static void extract_names(const wye_colmap *m, const entry *e, const char *v, size_t n,
                          wye_fields *f)
{
    wye_name_parts parts;
    wye_norm_reason why = WYE_NR_NONE;
    wye_norm_status st = wye_norm_name_split(v, n, e->split, &parts, &why);
    if (st == WYE_NORM_PRESENT) {
        set_part(f, m->f_given, parts.given);
        set_part(f, m->f_other, parts.other);
        if (e->role == ROLE_SPLIT)
            set_part(f, m->f_family, parts.family);
    } else {
        /* the whole value is unusable: count it against the main part */
        set_field(f, e->role == ROLE_SPLIT && m->f_family >= 0 ? m->f_family : m->f_given, st,
                  why, "");
    }
}

/* ROLE_ATTR: an attribute's value through the map's codes, else one of the
 * allowed values itself, ignoring case. */
static void extract_attr(const wye_colmap *m, const entry *e, const char *v, size_t n,
                         wye_fields *f)
{
    wye_norm_reason why;
    int k;
    wye_norm_status st = code_outcome(m, e, v, n, &k, &why);
    f->attr_status[e->attr] = (uint8_t)st;
    f->attr_reason[e->attr] = (uint8_t)(st == WYE_NORM_INVALID ? why : WYE_NR_NONE);
    f->attr[e->attr] = (uint8_t)(st == WYE_NORM_PRESENT ? k + 1 : 0);
}

/* The attributes computed from fields: the age band, the sex. */
static void computed_attrs(const wye_colmap *m, const wye_date *extract, const wye_date *dob,
                           bool have_dob, wye_fields *f)
{
    const wye_protocol *p = m->p;
    for (size_t i = 0; i < wye_protocol_nattrs(p); i++) {
        const wye_attr_spec *a = wye_protocol_attr(p, i);
        if (a->source == WYE_ATTR_AGE_BAND && have_dob) {
            int age = wye_date_age(dob, extract);
            for (unsigned v = 0; v < a->nvalues; v++) {
                if ((unsigned)age >= m->band_lo[i][v] && (unsigned)age <= m->band_hi[i][v]) {
                    f->attr[i] = (uint8_t)(v + 1);
                    f->attr_status[i] = WYE_NORM_PRESENT;
                }
            }
        } else if (a->source == WYE_ATTR_SEX && m->f_sex >= 0 &&
                   f->status[m->f_sex] == WYE_NORM_PRESENT) {
            int k = wye_attr_value_index(a, f->value[m->f_sex]);
            if (k < 0) {
                f->attr_status[i] = WYE_NORM_INVALID;
                f->attr_reason[i] = WYE_NR_ATTR_NOT_ALLOWED;
            } else {
                f->attr[i] = (uint8_t)(k + 1);
                f->attr_status[i] = WYE_NORM_PRESENT;
            }
        }
    }
}

wye_row_verdict wye_colmap_extract(const wye_colmap *m, const wye_csv_row *row,
                                   const wye_date *extract, wye_fields *f,
                                   const char **local_id, size_t *local_len)
{
    assert(m->bound);
    wye_fields_clear(f);
    *local_id = NULL;
    *local_len = 0;
    if (row->malformed)
        return WYE_ROW_MALFORMED;
    if (row->nfields != m->ncols)
        return WYE_ROW_FIELD_COUNT;
    size_t idlen = row->len[m->local_col];
    const char *id = wye_norm_trim(row->field[m->local_col], &idlen);
    bool all_blank = idlen == 0;
    wye_date dob = {0, 0, 0};
    bool have_dob = false;
    for (size_t i = 0; i < m->n; i++) {
        const entry *e = &m->e[i];
        if (e->role == ROLE_CONST) {
            /* no cell: it makes no row any less empty */
            f->attr_status[e->attr] = WYE_NORM_PRESENT;
            f->attr_reason[e->attr] = WYE_NR_NONE;
            f->attr[e->attr] = (uint8_t)(e->constant + 1);
            continue;
        }
        char joined[WYE_NORM_RAW_MAX];
        const char *v;
        size_t n;
        bool too_long;
        entry_cell(e, row, joined, &v, &n, &too_long);
        all_blank = all_blank && blank(v, n) && !too_long;
        if (e->role == ROLE_FIELD)
            extract_field(m, e, v, n, too_long, extract, f, &dob, &have_dob);
        else if (e->role == ROLE_ATTR)
            extract_attr(m, e, v, n, f);
        else
            extract_names(m, e, v, n, f);
    }
    computed_attrs(m, extract, &dob, have_dob, f);
    *local_id = id;
    *local_len = idlen;
    if (all_blank)
        return WYE_ROW_EMPTY;
    if (idlen == 0)
        return WYE_ROW_NO_LOCAL_ID;
    link_fields lf = {m->f_given, m->f_family, m->f_dob, m->f_post,
                      m->f_addr,  m->f_oid,    m->f_nhs};
    return linkable(&lf, f);
}

bool wye_colmap_two_digit_years(const wye_colmap *m)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].role == ROLE_FIELD && m->e[i].date_format == WYE_DATE_DMY2 && !m->e[i].pivot)
            return true;
    return false;
}

/* ---- code tallies ----
 * Per value column, a table of the distinct codes met (folded as the map's
 * codes are: trimmed, ASCII capitals), each with its count, the spelling met
 * on the earliest line, and what it gives. The map's own codes are in it from
 * the start. The codes are values from the extract: they stay in memory,
 * which is wiped when freed, and only those met WYE_CODE_SHOW_MIN times or
 * more, or in the map, are ever handed out. */

typedef struct ctally_item {
    char *fold, *shown;
    uint64_t count;
    uint64_t first_line; /* of shown; 0 for the map's own codes (their spelling wins) */
    int value;
    uint8_t status, reason;
    bool in_map;
} ctally_item;

typedef struct ctally_col {
    const entry *e;
    ctally_item *items;
    size_t nitems, cap, nmap; /* nmap: the map's codes, items[0..nmap) */
    uint32_t *slot;           /* index + 1 into items, 0 = empty */
    size_t nslot;
    uint64_t empty;
    uint64_t untracked[3];    /* rows of codes not in the table, by status */
    bool too_many;
    /* the view, after finish */
    wye_code_column view;
    wye_code_count *shown;
} ctally_col;

/* Wipe a string that may hold a value from the extract. */
static void wipe_str(char *s)
{
    if (s)
        sodium_memzero(s, strlen(s));
}

struct wye_code_tally {
    const wye_colmap *m;
    size_t n;
    bool finished;
    ctally_col col[WYE_COLMAP_MAX_COLUMNS];
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211u;
    return h;
}

static int ctally_rehash(ctally_col *c)
{
    size_t ns = c->nslot ? 2 * c->nslot : 64;
    uint32_t *s = calloc(ns, sizeof *s);
    if (!s)
        return WYE_ENOMEM;
    for (size_t i = 0; i < c->nitems; i++) {
        size_t k = (size_t)fnv1a(c->items[i].fold) & (ns - 1);
        while (s[k])
            k = (k + 1) & (ns - 1);
        s[k] = (uint32_t)(i + 1);
    }
    free(c->slot);
    c->slot = s;
    c->nslot = ns;
    return WYE_OK;
}

/* The item of folded code fold, or NULL. */
static ctally_item *ctally_find(const ctally_col *c, const char *fold)
{
    if (!c->nslot)
        return NULL;
    size_t k = (size_t)fnv1a(fold) & (c->nslot - 1);
    for (; c->slot[k]; k = (k + 1) & (c->nslot - 1))
        if (!strcmp(c->items[c->slot[k] - 1].fold, fold))
            return &c->items[c->slot[k] - 1];
    return NULL;
}

/* Add a code (fold, shown as met on line) with its outcome; *out is the new
 * item, or NULL when the column already holds WYE_CODE_TRACK_MAX codes not
 * in the map (it is then marked too_many). */
static int ctally_add(ctally_col *c, const char *fold, const char *shown, uint64_t line,
                      wye_norm_status st, wye_norm_reason why, int value, ctally_item **out)
{
    *out = NULL;
    if (c->nitems - c->nmap >= WYE_CODE_TRACK_MAX) {
        c->too_many = true;
        return WYE_OK;
    }
    if (c->nitems == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        ctally_item *it = realloc(c->items, cap * sizeof *it);
        if (!it)
            return WYE_ENOMEM;
        c->items = it;
        c->cap = cap;
    }
    if (2 * (c->nitems + 1) > c->nslot) {
        int rc = ctally_rehash(c);
        if (rc)
            return rc;
    }
    ctally_item *it = &c->items[c->nitems];
    memset(it, 0, sizeof *it);
    it->fold = strdup(fold);
    it->shown = strdup(shown);
    if (!it->fold || !it->shown) {
        free(it->fold);
        free(it->shown);
        return WYE_ENOMEM;
    }
    it->first_line = line;
    it->status = (uint8_t)st;
    it->reason = (uint8_t)why;
    it->value = value;
    size_t k = (size_t)fnv1a(fold) & (c->nslot - 1);
    while (c->slot[k])
        k = (k + 1) & (c->nslot - 1);
    c->slot[k] = (uint32_t)(++c->nitems);
    *out = it;
    return WYE_OK;
}

static void ctally_col_free(ctally_col *c)
{
    for (size_t i = 0; i < c->nitems; i++) {
        wipe_str(c->items[i].fold);
        wipe_str(c->items[i].shown);
        free(c->items[i].fold);
        free(c->items[i].shown);
    }
    free(c->items);
    free(c->slot);
    free(c->shown);
}

void wye_code_tally_free(wye_code_tally *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        ctally_col_free(&t->col[i]);
    free(t);
}

int wye_code_tally_new(const wye_colmap *m, wye_code_tally **out)
{
    if (!m || !out)
        return WYE_EINVAL;
    *out = NULL;
    wye_code_tally *t = calloc(1, sizeof *t);
    if (!t)
        return WYE_ENOMEM;
    t->m = m;
    for (size_t i = 0; i < m->n; i++) {
        const entry *e = &m->e[i];
        bool sex = e->role == ROLE_FIELD && e->field == m->f_sex;
        if (!sex && e->role != ROLE_ATTR && e->role != ROLE_CONST)
            continue;
        ctally_col *c = &t->col[t->n++];
        c->e = e;
        for (size_t k = 0; k < e->ncodes; k++) {
            ctally_item *it;
            wye_norm_reason why;
            int value;
            const char *s = e->codes[k].shown;
            wye_norm_status st = code_outcome(m, e, s, strlen(s), &value, &why);
            int rc = ctally_add(c, e->codes[k].raw, s, 0, st, why, value, &it);
            if (rc) {
                wye_code_tally_free(t);
                return rc;
            }
            it->in_map = true;
        }
        c->nmap = c->nitems;
    }
    *out = t;
    return WYE_OK;
}

/* One cell of column c. */
static int ctally_cell(const wye_colmap *m, ctally_col *c, const char *v, size_t n,
                       uint64_t line)
{
    const char *t = wye_norm_trim(v, &n);
    if (!n) {
        c->empty++;
        return WYE_OK;
    }
    char fold[WYE_COLMAP_NAME_MAX];
    ctally_item *it = NULL;
    if (n < sizeof fold) {
        fold_code(t, n, fold);
        it = ctally_find(c, fold);
    }
    if (it) {
        it->count++;
        return WYE_OK;
    }
    wye_norm_reason why;
    int value;
    wye_norm_status st = code_outcome(m, c->e, t, n, &value, &why);
    if (n < sizeof fold && !c->too_many) {
        char shown[WYE_COLMAP_NAME_MAX];
        memcpy(shown, t, n);
        shown[n] = 0;
        int rc = ctally_add(c, fold, shown, line, st, why, value, &it);
        sodium_memzero(shown, sizeof shown);
        if (rc)
            return rc;
    }
    sodium_memzero(fold, sizeof fold);
    if (it)
        it->count++;
    else
        c->untracked[st]++; /* too long to be a code, or too many codes */
    return WYE_OK;
}

int wye_code_tally_row(wye_code_tally *t, const wye_csv_row *row)
{
    const wye_colmap *m = t->m;
    assert(m->bound && !t->finished);
    if (row->malformed || row->nfields != m->ncols)
        return WYE_OK;
    for (size_t i = 0; i < t->n; i++) {
        ctally_col *c = &t->col[i];
        if (c->e->role == ROLE_CONST)
            continue;
        int k = c->e->col[0];
        int rc = ctally_cell(m, c, row->field[k], row->len[k], row->line);
        if (rc)
            return rc;
    }
    return WYE_OK;
}

int wye_code_tally_merge(wye_code_tally *into, const wye_code_tally *from)
{
    if (!into || !from || into->m != from->m || into->finished || from->finished)
        return WYE_EINVAL;
    for (size_t i = 0; i < into->n; i++) {
        ctally_col *a = &into->col[i];
        const ctally_col *b = &from->col[i];
        a->empty += b->empty;
        a->too_many = a->too_many || b->too_many;
        for (int s = 0; s < 3; s++)
            a->untracked[s] += b->untracked[s];
        for (size_t k = 0; k < b->nitems; k++) {
            const ctally_item *bi = &b->items[k];
            ctally_item *ai = ctally_find(a, bi->fold);
            if (!ai) {
                int rc = ctally_add(a, bi->fold, bi->shown, bi->first_line,
                                    (wye_norm_status)bi->status, (wye_norm_reason)bi->reason,
                                    bi->value, &ai);
                if (rc)
                    return rc;
                if (!ai) {
                    a->untracked[bi->status] += bi->count;
                    continue;
                }
                ai->count = 0;
            } else if (bi->first_line < ai->first_line) {
                /* the spelling met first in the file, whichever thread met it */
                char *s = strdup(bi->shown);
                if (!s)
                    return WYE_ENOMEM;
                wipe_str(ai->shown);
                free(ai->shown);
                ai->shown = s;
                ai->first_line = bi->first_line;
            }
            ai->count += bi->count;
        }
    }
    return WYE_OK;
}

static int count_cmp(const void *a, const void *b)
{
    const wye_code_count *x = a, *y = b;
    if (x->rows != y->rows)
        return x->rows > y->rows ? -1 : 1;
    return strcmp(x->code, y->code);
}

/* The view of column c: the codes shown, the rest counted and wiped. */
static int ctally_view(const wye_colmap *m, ctally_col *c)
{
    const entry *e = c->e;
    wye_code_column *v = &c->view;
    memset(v, 0, sizeof *v);
    v->column = e->role == ROLE_CONST ? NULL : e->column[0];
    v->attribute = e->role != ROLE_FIELD;
    const wye_attr_spec *as = v->attribute ? wye_protocol_attr(m->p, (size_t)e->attr) : NULL;
    v->target = as ? as->name : wye_protocol_field(m->p, (size_t)e->field)->name;
    v->constant = e->role == ROLE_CONST ? as->values[e->constant] : NULL;
    v->has_values = e->has_values;
    v->empty = c->empty;
    v->too_many = c->too_many;
    v->hidden_rows[0] = c->untracked[0];
    v->hidden_rows[1] = c->untracked[1];
    v->hidden_rows[2] = c->untracked[2];
    if (c->nitems && !(c->shown = calloc(c->nitems, sizeof *c->shown)))
        return WYE_ENOMEM;
    static const char *const sex[] = {"F", "M", "X"};
    for (size_t i = 0; i < c->nitems; i++) {
        ctally_item *it = &c->items[i];
        if (it->in_map || (!c->too_many && it->count >= WYE_CODE_SHOW_MIN)) {
            const char *val = NULL;
            if (it->status == WYE_NORM_PRESENT)
                val = as ? as->values[it->value]
                         : sex[it->value == 'F' ? 0 : it->value == 'M' ? 1 : 2];
            c->shown[v->ncodes++] = (wye_code_count){it->shown, it->count, it->in_map,
                                                     it->status, it->reason, val};
            continue;
        }
        if (!c->too_many)
            v->hidden_codes++;
        v->hidden_rows[it->status] += it->count;
        wipe_str(it->shown);
        wipe_str(it->fold);
    }
    if (v->ncodes > 1) /* qsort may not be given a NULL base */
        qsort(c->shown, v->ncodes, sizeof *c->shown, count_cmp);
    v->codes = c->shown;
    return WYE_OK;
}

int wye_code_tally_finish(wye_code_tally *t)
{
    if (!t || t->finished)
        return WYE_EINVAL;
    for (size_t i = 0; i < t->n; i++) {
        int rc = ctally_view(t->m, &t->col[i]);
        if (rc)
            return rc;
    }
    t->finished = true;
    return WYE_OK;
}

size_t wye_code_tally_ncolumns(const wye_code_tally *t) { return t ? t->n : 0; }

const wye_code_column *wye_code_tally_column(const wye_code_tally *t, size_t i)
{
    if (!t || !t->finished || i >= t->n)
        return NULL;
    return &t->col[i].view;
}
