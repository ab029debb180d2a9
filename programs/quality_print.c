/* The data-quality summary on a terminal (quality_print.h). Long lists stay
 * out of it: rejected rows and invalid values are counted by reason with a
 * few line numbers each, and the full lists go to the summary JSON. */
#include "quality_print.h"

#include <string.h>

#include "wyelink/normalise.h"

#define CODE_SHOWN_MAX 40 /* bytes of a code printed */

/* " (line 5)", " (lines 5, 10, 33, ...)": the first lines of count. */
static void print_lines(FILE *out, const uint64_t *lines, size_t n, uint64_t count)
{
    if (!n)
        return;
    fprintf(out, " (line%s", count > 1 ? "s" : "");
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s %llu", i ? "," : "", (unsigned long long)lines[i]);
    fprintf(out, "%s)", count > n ? ", ..." : "");
}

/* A name or code from the map or the extract, printable: control bytes
 * become '?', and it is cut (at a character) after CODE_SHOWN_MAX bytes. */
static void print_shown(FILE *out, const char *s)
{
    size_t n = strlen(s);
    size_t cut = n <= CODE_SHOWN_MAX ? n : CODE_SHOWN_MAX;
    while (cut < n && cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
        cut--;
    fputc('\'', out);
    for (size_t i = 0; i < cut; i++) {
        unsigned char c = (unsigned char)s[i];
        fputc(c < 0x20 || c == 0x7f ? '?' : c, out);
    }
    fputs(cut < n ? "...'" : "'", out);
}

/* ---- rows ---- */

static void print_rows(FILE *out, const wye_quality_view *v)
{
    const wye_hash_result *s = v->res;
    uint64_t ex[WYE_ROW_COUNT][WYE_QUALITY_EXAMPLES];
    size_t nex[WYE_ROW_COUNT] = {0};
    for (size_t i = 0; i < s->nrejected; i++) {
        unsigned r = s->rejected[i].reason;
        if (r < WYE_ROW_COUNT && nex[r] < WYE_QUALITY_EXAMPLES)
            ex[r][nex[r]++] = s->rejected[i].line;
    }
    fprintf(out, "  rows read      %llu\n", (unsigned long long)s->rows_read);
    fprintf(out, "  %-14s %llu\n", v->encoded_label, (unsigned long long)s->rows_encoded);
    fprintf(out, "  rows rejected  %llu\n", (unsigned long long)s->rows_rejected);
    for (int r = 1; r < WYE_ROW_COUNT; r++) {
        if (!s->rejected_by[r])
            continue;
        fprintf(out, "    %s: %llu", wye_row_verdict_text((wye_row_verdict)r),
                (unsigned long long)s->rejected_by[r]);
        print_lines(out, ex[r], nex[r], s->rejected_by[r]);
        fputc('\n', out);
    }
    /* What issue 15 means to encode as name-only rows; rejected today. */
    fprintf(out, "  rows with a name only  %llu  (rejected: nothing else to link them by)\n",
            (unsigned long long)s->rejected_by[WYE_ROW_NAME_ONLY]);
    if (s->blank_lines)
        fprintf(out, "  blank lines skipped  %llu\n", (unsigned long long)s->blank_lines);
}

/* ---- fields and attributes ---- */

/* The first lines of the invalid values of each field, by reason. */
typedef struct invalid_examples {
    uint64_t line[WYE_MAX_FIELDS][WYE_NR_COUNT + 1][WYE_QUALITY_EXAMPLES];
    size_t n[WYE_MAX_FIELDS][WYE_NR_COUNT + 1];
} invalid_examples;

static void collect_invalid(const wye_hash_result *s, invalid_examples *ie)
{
    memset(ie->n, 0, sizeof ie->n);
    for (size_t i = 0; i < s->ninvalid; i++) {
        const wye_hash_invalid *iv = &s->invalid[i];
        if (iv->field >= WYE_MAX_FIELDS || iv->reason > WYE_NR_COUNT)
            continue;
        size_t *k = &ie->n[iv->field][iv->reason];
        if (*k < WYE_QUALITY_EXAMPLES)
            ie->line[iv->field][iv->reason][(*k)++] = iv->line;
    }
}

/* One field's (ie, f) or attribute's (ie NULL) counts and invalid reasons. */
static void print_tally(FILE *out, const char *name, const wye_hash_tally *t, bool mapped,
                        const invalid_examples *ie, size_t f)
{
    if (!mapped) {
        fprintf(out, "  %-20s (no column in the map)\n", name);
        return;
    }
    fprintf(out, "  %-20s %10llu %10llu %10llu\n", name, (unsigned long long)t->present,
            (unsigned long long)t->missing, (unsigned long long)t->invalid);
    for (int k = 1; k < WYE_NR_COUNT; k++) {
        if (!t->reason[k])
            continue;
        fprintf(out, "  %-20s   invalid: %s: %llu", "", wye_norm_reason_text((wye_norm_reason)k),
                (unsigned long long)t->reason[k]);
        if (ie)
            print_lines(out, ie->line[f][k], ie->n[f][k], t->reason[k]);
        fputc('\n', out);
    }
}

static void print_fields(FILE *out, const wye_quality_view *v)
{
    const wye_protocol *p = v->protocol;
    static invalid_examples ie; /* 10 KB; printing is one thread's */
    collect_invalid(v->res, &ie);
    fprintf(out, "\n  %-20s %10s %10s %10s\n", "field", "present", "missing", "invalid");
    for (size_t i = 0; i < wye_protocol_nfields(p); i++)
        print_tally(out, wye_protocol_field(p, i)->name, &v->res->field[i],
                    wye_colmap_field_mapped(v->map, i), &ie, i);
    if (wye_protocol_nattrs(p))
        fprintf(out, "\n  %-20s %10s %10s %10s\n", "attribute", "present", "missing", "invalid");
    for (size_t i = 0; i < wye_protocol_nattrs(p); i++)
        print_tally(out, wye_protocol_attr(p, i)->name, &v->res->attr[i],
                    wye_colmap_attr_mapped(v->map, i), NULL, 0);
}

/* ---- value columns ---- */

static void print_outcome(FILE *out, uint8_t status, uint8_t reason, const char *value)
{
    if (status == WYE_NORM_PRESENT)
        fprintf(out, "%s", value);
    else if (status == WYE_NORM_MISSING)
        fprintf(out, "missing");
    else
        fprintf(out, "invalid: %s", wye_norm_reason_text((wye_norm_reason)reason));
}

/* The codes of a column that are not shown, counted by what they give. */
static void print_hidden(FILE *out, const wye_code_column *c)
{
    const uint64_t *h = c->hidden_rows;
    uint64_t rows = h[WYE_NORM_PRESENT] + h[WYE_NORM_MISSING] + h[WYE_NORM_INVALID];
    if (!rows)
        return;
    if (c->too_many)
        fprintf(out, "      more than %d distinct values not in the map, in %llu rows (is this "
                     "a column of codes?)",
                WYE_CODE_TRACK_MAX, (unsigned long long)rows);
    else
        fprintf(out, "      %llu other code%s met fewer than %d times each, in %llu row%s",
                (unsigned long long)c->hidden_codes, c->hidden_codes == 1 ? "" : "s",
                WYE_CODE_SHOW_MIN, (unsigned long long)rows, rows == 1 ? "" : "s");
    static const char *const what[] = {"give a value", "missing", "invalid"};
    const char *sep = " (";
    for (int s = 0; s < 3; s++) {
        if (!h[s])
            continue;
        fprintf(out, "%s%llu %s", sep, (unsigned long long)h[s], what[s]);
        sep = ", ";
    }
    fprintf(out, "): not shown, a rare value could identify someone\n");
}

static void print_code_column(FILE *out, const wye_code_column *c)
{
    if (c->constant) {
        fprintf(out, "    %s = ", c->target);
        print_shown(out, c->constant);
        fprintf(out, " on every row (a constant in the map)\n");
        return;
    }
    fprintf(out, "    column ");
    print_shown(out, c->column);
    fprintf(out, " -> %s (%s)\n", c->target,
            c->has_values ? "the map's values"
            : c->attribute ? "the attribute's allowed values, any case"
                           : "the usual sex codes, protocols/ENCODING.md 2.3");
    for (size_t k = 0; k < c->ncodes; k++) {
        const wye_code_count *cc = &c->codes[k];
        fprintf(out, "      ");
        print_shown(out, cc->code);
        int pad = 24 - (int)(strlen(cc->code) < CODE_SHOWN_MAX ? strlen(cc->code) : CODE_SHOWN_MAX);
        fprintf(out, "%*s %10llu  ", pad > 0 ? pad : 0, "", (unsigned long long)cc->rows);
        print_outcome(out, cc->status, cc->reason, cc->value);
        fprintf(out, "%s\n", cc->rows ? "" : " (in the map, never met)");
    }
    print_hidden(out, c);
    if (c->empty)
        fprintf(out, "      empty: %llu row%s (missing)\n", (unsigned long long)c->empty,
                c->empty == 1 ? "" : "s");
}

static void print_codes(FILE *out, const wye_code_tally *t)
{
    size_t n = wye_code_tally_ncolumns(t);
    if (!n)
        return;
    fprintf(out, "\n  value columns (a code is shown if met at least %d times or written in "
                 "the map)\n",
            WYE_CODE_SHOW_MIN);
    for (size_t i = 0; i < n; i++)
        print_code_column(out, wye_code_tally_column(t, i));
}

/* ---- what the map leaves out ---- */

static const struct {
    const char *field, *label, *adds;
} field_help[] = {
    {"given_name", "given name", "names are the main evidence wherever there is no NHS number"},
    {"other_given_names", "middle name",
     "middle names tell apart people who share a given and a family name"},
    {"family_name", "family name", "names are the main evidence wherever there is no NHS number"},
    {"former_family_name", "former family name",
     "links a person whose family name has changed, for example after leaving a partner"},
    {"date_of_birth", "date of birth",
     "after the NHS number the strongest evidence; it gives the age band, and with a name "
     "makes a row linkable"},
    {"sex", "sex", "adds to the match score and gives the sex of the profiles"},
    {"postcode", "postcode", "links people at one address; with a name it makes a row linkable"},
    {"address", "address", "links people whose postcode is missing or has changed"},
    {"other_id", "other id (national insurance or local person number)",
     "links exactly wherever two agencies hold the same id"},
};

/* "names, dates of birth and postcodes": the linking fields the map feeds. */
static void print_relies_on(FILE *out, const wye_quality_view *v)
{
    static const struct {
        const char *a, *b, *say;
    } kinds[] = {{"given_name", "family_name", "names"},
                 {"date_of_birth", NULL, "dates of birth"},
                 {"postcode", NULL, "postcodes"},
                 {"address", NULL, "addresses"},
                 {"other_id", NULL, "other ids"}};
    const char *fed[5];
    size_t n = 0;
    for (size_t k = 0; k < 5; k++) {
        int a = wye_protocol_field_index(v->protocol, kinds[k].a);
        int b = kinds[k].b ? wye_protocol_field_index(v->protocol, kinds[k].b) : -1;
        if ((a >= 0 && wye_colmap_field_mapped(v->map, (size_t)a)) ||
            (b >= 0 && wye_colmap_field_mapped(v->map, (size_t)b)))
            fed[n++] = kinds[k].say;
    }
    fprintf(out, "linkage relies on ");
    if (!n)
        fprintf(out, "nothing else");
    for (size_t k = 0; k < n; k++)
        fprintf(out, "%s%s", k == 0 ? "" : k + 1 == n ? " and " : ", ", fed[k]);
}

static void print_unused_field(FILE *out, const wye_quality_view *v, const char *name)
{
    if (!strcmp(name, "nhs_number")) {
        fprintf(out, "    no NHS number column: ");
        print_relies_on(out, v);
        fprintf(out, " (an NHS number links a record on its own)\n");
        return;
    }
    for (size_t k = 0; k < sizeof field_help / sizeof field_help[0]; k++) {
        if (!strcmp(name, field_help[k].field)) {
            fprintf(out, "    no %s column: %s\n", field_help[k].label, field_help[k].adds);
            return;
        }
    }
    fprintf(out, "    no %s column\n", name);
}

static void print_unused(FILE *out, const wye_quality_view *v)
{
    const wye_protocol *p = v->protocol;
    bool any = false;
    for (size_t i = 0; i < wye_protocol_nfields(p); i++) {
        if (wye_colmap_field_mapped(v->map, i))
            continue;
        if (!any)
            fprintf(out, "\n  what the map leaves out of protocol %s\n", wye_protocol_name(p));
        any = true;
        print_unused_field(out, v, wye_protocol_field(p, i)->name);
    }
    for (size_t i = 0; i < wye_protocol_nattrs(p); i++) {
        const wye_attr_spec *a = wye_protocol_attr(p, i);
        if (wye_colmap_attr_mapped(v->map, i))
            continue;
        if (!any)
            fprintf(out, "\n  what the map leaves out of protocol %s\n", wye_protocol_name(p));
        any = true;
        if (a->source == WYE_ATTR_COLUMN)
            fprintf(out, "    no %s column: the profiles by %s leave these records out (if "
                         "every row has one value, a constant sets it: {\"attribute\": \"%s\", "
                         "\"value\": ...})\n",
                    a->name, a->name, a->name);
        else
            fprintf(out, "    no %s: it is computed from the %s, which the map does not feed\n",
                    a->name, a->source == WYE_ATTR_AGE_BAND ? "date of birth" : "sex");
    }
}

void wye_quality_print(FILE *out, const wye_quality_view *v)
{
    fprintf(out, "%s: data-quality summary (protocol %s, extract date %s)\n", v->input,
            wye_protocol_name(v->protocol), v->extract_date);
    print_rows(out, v);
    print_fields(out, v);
    print_codes(out, v->res->codes);
    print_unused(out, v);
    if (v->res->rows_rejected || v->res->invalid_total)
        fprintf(out, "\n  every rejected row and invalid value by line: %s\n",
                v->summary_json ? "in the summary JSON" : "use --summary-json FILE");
    fflush(out);
}

void wye_quality_warn_two_digit_years(const char *cmd, const char *map,
                                      const char *extract_date)
{
    fprintf(stderr,
            "wyelink %s: warning: column map '%s' reads two-digit years (DD/MM/YY) without "
            "two_digit_year_pivot, so they are read as on or before today, %s: give "
            "--extract-date (the day the extract was taken), or the pivot "
            "(hashing/COLUMNMAP.md)\n",
            cmd, map, extract_date);
}
