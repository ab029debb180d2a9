/* Normalisation of identifier values; the rules are specified in
 * protocols/ENCODING.md section 2 (addresses and other ids, for now, in
 * hashing/COLUMNMAP.md) and pinned by tests/hashing/test_normalise.c.
 * Any change here changes encodings and so needs a new protocol version. */
#include "wyelink/normalise.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

#include "latin_fold.inc"

static const char *const reason_text[WYE_NR_COUNT] = {
    [WYE_NR_NONE] = "no problem",
    [WYE_NR_TOO_LONG] = "too long",
    [WYE_NR_NAME_NO_LETTERS] = "no latin letters",
    [WYE_NR_NAME_TITLE_ONLY] = "a title only",
    [WYE_NR_NAME_PLACEHOLDER] = "placeholder for an unknown name",
    [WYE_NR_DATE_FORMAT] = "not in the declared date format",
    [WYE_NR_DATE_NO_SUCH_DAY] = "no such calendar day",
    [WYE_NR_DATE_FUTURE] = "after the extract date",
    [WYE_NR_DATE_TOO_OLD] = "more than 120 years before the extract date",
    [WYE_NR_POSTCODE_FORMAT] = "not a uk postcode",
    [WYE_NR_POSTCODE_PARTIAL] = "outward code only (partial postcode)",
    [WYE_NR_POSTCODE_PSEUDO] = "nhs pseudo-postcode (zz99)",
    [WYE_NR_NHS_FORMAT] = "not 10 digits",
    [WYE_NR_NHS_CHECK] = "check digit fails (modulus 11)",
    [WYE_NR_NHS_PLACEHOLDER] = "all digits the same",
    [WYE_NR_CODE_UNKNOWN] = "code not in the column map's values",
    [WYE_NR_ATTR_NOT_ALLOWED] = "value not allowed by the protocol",
    [WYE_NR_ADDRESS_NO_ALNUM] = "no letters or digits",
    [WYE_NR_ADDRESS_PLACEHOLDER] = "placeholder for an unknown or withheld address",
    [WYE_NR_ID_FORMAT] = "not letters and digits",
    [WYE_NR_ID_PLACEHOLDER] = "placeholder (all characters the same, or unknown)",
};

const char *wye_norm_reason_text(wye_norm_reason r)
{
    if ((unsigned)r >= WYE_NR_COUNT)
        return "unknown reason";
    return reason_text[r];
}

static wye_norm_status invalid(wye_norm_reason *why, wye_norm_reason r)
{
    if (why)
        *why = r;
    return WYE_NORM_INVALID;
}

static wye_norm_status missing(wye_norm_reason *why)
{
    if (why)
        *why = WYE_NR_NONE;
    return WYE_NORM_MISSING;
}

static wye_norm_status present(wye_norm_reason *why)
{
    if (why)
        *why = WYE_NR_NONE;
    return WYE_NORM_PRESENT;
}

/* The start every free-text normaliser shares: clear out, trim; false with
 * *st set when the value is missing or longer than WYE_NORM_RAW_MAX. */
static bool begin_value(const char **in, size_t *len, char *out, wye_norm_reason *why,
                        wye_norm_status *st)
{
    out[0] = 0;
    *in = wye_norm_trim(*in, len);
    if (*len == 0) {
        *st = missing(why);
        return false;
    }
    if (*len > WYE_NORM_RAW_MAX) {
        *st = invalid(why, WYE_NR_TOO_LONG);
        return false;
    }
    return true;
}

const char *wye_norm_trim(const char *in, size_t *len)
{
    size_t n = *len;
    for (;;) {
        if (n && (in[0] == ' ' || in[0] == '\t')) {
            in++, n--;
        } else if (n >= 2 && (uint8_t)in[0] == 0xC2 && (uint8_t)in[1] == 0xA0) {
            in += 2, n -= 2;
        } else {
            break;
        }
    }
    for (;;) {
        if (n && (in[n - 1] == ' ' || in[n - 1] == '\t')) {
            n--;
        } else if (n >= 2 && (uint8_t)in[n - 2] == 0xC2 && (uint8_t)in[n - 1] == 0xA0) {
            n -= 2;
        } else {
            break;
        }
    }
    *len = n;
    return in;
}

/* Decode one UTF-8 code point at s[*i] (s has n bytes). Malformed bytes
 * decode as U+FFFD one byte at a time, which the name folding drops. */
static uint32_t utf8_next(const uint8_t *s, size_t n, size_t *i)
{
    uint8_t c = s[*i];
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    int extra;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) {
        extra = 1, cp = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        extra = 2, cp = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        extra = 3, cp = c & 0x07, min = 0x10000;
    } else {
        (*i)++;
        return 0xFFFD;
    }
    if (*i + (size_t)extra >= n) {
        (*i)++;
        return 0xFFFD;
    }
    for (int k = 1; k <= extra; k++) {
        uint8_t cc = s[*i + (size_t)k];
        if ((cc & 0xC0) != 0x80) {
            (*i)++;
            return 0xFFFD;
        }
        cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        (*i)++;
        return 0xFFFD;
    }
    *i += (size_t)extra + 1;
    return cp;
}

/* What a code point contributes to a name. */
enum { CP_DROP, CP_SEP, CP_JOIN, CP_LETTERS };

static int classify(uint32_t cp, const char **letters)
{
    static const char upper[26][2] = {"A", "B", "C", "D", "E", "F", "G", "H", "I",
                                      "J", "K", "L", "M", "N", "O", "P", "Q", "R",
                                      "S", "T", "U", "V", "W", "X", "Y", "Z"};
    if (cp < 0x80) {
        if (cp >= 'a' && cp <= 'z') {
            *letters = upper[cp - 'a'];
            return CP_LETTERS;
        }
        if (cp >= 'A' && cp <= 'Z') {
            *letters = upper[cp - 'A'];
            return CP_LETTERS;
        }
        if (cp == '\'' || cp == '`' || cp == '-')
            return CP_JOIN;
        return CP_SEP;
    }
    switch (cp) {
    case 0x00B4: /* acute accent used as an apostrophe */
    case 0x00AD: /* soft hyphen */
    case 0x02B9: case 0x02BB: case 0x02BC: case 0x02BD:
    case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014: case 0x2015:
    case 0x2018: case 0x2019: case 0x201B: case 0x2032: case 0x2212: case 0xFF07:
    case 0xFF0D:
        return CP_JOIN;
    case 0x200B: case 0x200C: case 0x200D: case 0x2060: case 0xFEFF:
        return CP_DROP;
    default:
        break;
    }
    if (cp >= 0x00C0 && cp < 0x0250) {
        *letters = latin_fold_00C0[cp - 0x00C0];
        return **letters ? CP_LETTERS : CP_DROP;
    }
    if (cp >= 0x1E00 && cp < 0x1F00) {
        *letters = latin_fold_1E00[cp - 0x1E00];
        return **letters ? CP_LETTERS : CP_DROP;
    }
    if (cp < 0x00C0) /* C1 controls, Latin-1 punctuation and NBSP */
        return CP_SEP;
    if ((cp >= 0x2000 && cp <= 0x206F) || cp == 0x3000 || (cp >= 0xFF00 && cp <= 0xFF20))
        return CP_SEP;
    /* Combining marks, other scripts and symbols: dropped. */
    return CP_DROP;
}

static bool is_apostrophe(uint32_t cp)
{
    switch (cp) {
    case '\'': case '`': case 0x00B4: case 0x02B9: case 0x02BB: case 0x02BC: case 0x02BD:
    case 0x2018: case 0x2019: case 0x201B: case 0x2032: case 0xFF07:
        return true;
    default:
        return false;
    }
}

/* A code point in an address: digits are kept, apostrophes and soft hyphens
 * vanish, hyphens and dashes separate words; the rest as in names. */
static int classify_address(uint32_t cp, const char **letters)
{
    static const char digit[10][2] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    if (cp >= '0' && cp <= '9') {
        *letters = digit[cp - '0'];
        return CP_LETTERS;
    }
    if (is_apostrophe(cp) || cp == 0x00AD) /* soft hyphen: invisible */
        return CP_DROP;
    int c = classify(cp, letters);
    return c == CP_JOIN ? CP_SEP : c;
}

/* Fold in[0..len) into words separated by single spaces, each code point
 * classified as in an address or else as in a name (a flag, not a function
 * pointer: this runs for every character of every name); returns the length
 * written to buf (NUL-terminated).
 * Each code point yields at most two letters and each UTF-8 letter outside
 * ASCII takes at least two bytes, so FOLD_MAX bytes always suffice for an
 * input of at most WYE_NORM_RAW_MAX bytes. */
#define FOLD_MAX (2 * WYE_NORM_RAW_MAX + 2)
static size_t fold_words(const char *in, size_t len, bool address, char buf[FOLD_MAX])
{
    size_t n = 0, i = 0;
    bool sep = false;
    while (i < len) {
        const char *letters = NULL;
        uint32_t cp = utf8_next((const uint8_t *)in, len, &i);
        int c = address ? classify_address(cp, &letters) : classify(cp, &letters);
        if (c == CP_SEP) {
            sep = true;
        } else if (c == CP_LETTERS) {
            if (sep && n)
                buf[n++] = ' ';
            sep = false;
            for (; *letters; letters++)
                buf[n++] = *letters;
        }
        assert(n < FOLD_MAX - 2);
    }
    buf[n] = 0;
    return n;
}

static const char *const titles[] = {"MR", "MRS", "MS", "MISS", "MX", "DR", "PROF",
                                     "REV", "REVD", "SIR", "DAME", "LADY", "LORD",
                                     "MSTR", "MASTER", NULL};
static const char *const bare_titles[] = {"MR", "MRS", "MS", "MISS", "MX", "DR", NULL};
static const char *const suffixes[] = {"JR", "JNR", "JUNIOR", "SR", "SNR", "SENIOR",
                                       "II", "III", "IV", "PHD", "MBE", "OBE", "CBE",
                                       "KBE", "DBE", "ESQ", NULL};
/* Whole canonical values that stand for "we do not know the name". */
static const char *const placeholders[] = {
    "UNKNOWN", "UNK", "NK", "N K", "NOT KNOWN", "NOTKNOWN", "N A", "NONE", "NULL",
    "NIL", "ANON", "ANONYMOUS", "REDACTED", "WITHHELD", "NOT STATED", "NO NAME",
    "NOT GIVEN", "NOT RECORDED", "TBC", "XX", "XXX", "XXXX", NULL};

static bool word_in(const char *w, size_t n, const char *const *list)
{
    for (; *list; list++) { /* most words differ at the first letter */
        size_t i = 0;
        while (i < n && (*list)[i] == w[i])
            i++;
        if (i == n && !(*list)[n])
            return true;
    }
    return false;
}

wye_norm_status wye_norm_name(const char *in, size_t len, char out[WYE_NORM_MAX],
                              wye_norm_reason *why)
{
    wye_norm_status st;
    if (!begin_value(&in, &len, out, why, &st))
        return st;

    char buf[FOLD_MAX];
    size_t n = fold_words(in, len, false, buf);

    /* Words: [start, end) pairs. */
    size_t ws[WYE_NORM_RAW_MAX + 1], we[WYE_NORM_RAW_MAX + 1], nw = 0;
    for (size_t k = 0; k < n;) {
        size_t e = k;
        while (e < n && buf[e] != ' ')
            e++;
        ws[nw] = k, we[nw] = e, nw++;
        k = e + 1;
    }
    if (nw == 0)
        return invalid(why, WYE_NR_NAME_NO_LETTERS);
    size_t first = 0, last = nw; /* words [first, last) kept */
    while (last - first > 1 && word_in(buf + ws[first], we[first] - ws[first], titles))
        first++;
    while (last - first > 1 &&
           word_in(buf + ws[last - 1], we[last - 1] - ws[last - 1], suffixes))
        last--;
    if (last - first == 1 &&
        word_in(buf + ws[first], we[first] - ws[first], bare_titles))
        return invalid(why, WYE_NR_NAME_TITLE_ONLY);
    size_t clen = we[last - 1] - ws[first];
    if (clen >= WYE_NORM_MAX)
        return invalid(why, WYE_NR_TOO_LONG);
    if (word_in(buf + ws[first], clen, placeholders))
        return invalid(why, WYE_NR_NAME_PLACEHOLDER);
    memcpy(out, buf + ws[first], clen);
    out[clen] = 0;
    return present(why);
}

/* Copy words [from, to) of the space-separated s into out. */
static void copy_words(const char *s, size_t from, size_t to, char *out)
{
    const char *start = s, *end;
    assert(from < to);
    for (size_t w = 0; w < from; w++)
        start = strchr(start, ' ') + 1;
    end = start;
    for (size_t w = from; w < to; w++) {
        const char *sp = strchr(end, ' ');
        end = sp ? sp + (w + 1 < to) : end + strlen(end);
    }
    memcpy(out, start, (size_t)(end - start));
    out[end - start] = 0;
}

static size_t count_words(const char *s)
{
    if (!*s)
        return 0;
    size_t n = 1;
    for (; *s; s++)
        n += *s == ' ';
    return n;
}

/* first word -> given, the rest -> other */
static void split_given(const char *s, wye_name_parts *out)
{
    size_t nw = count_words(s);
    copy_words(s, 0, 1, out->given);
    if (nw > 1)
        copy_words(s, 1, nw, out->other);
}

wye_norm_status wye_norm_name_split(const char *in, size_t len, wye_name_split how,
                                    wye_name_parts *out, wye_norm_reason *why)
{
    memset(out, 0, sizeof *out);
    char whole[WYE_NORM_MAX];
    in = wye_norm_trim(in, &len);
    if (how == WYE_SPLIT_SURNAME_COMMA_FORENAME) {
        const char *comma = memchr(in, ',', len);
        if (comma) {
            size_t flen = (size_t)(comma - in), glen = len - flen - 1;
            wye_norm_reason rf = WYE_NR_NONE, rg = WYE_NR_NONE;
            char given[WYE_NORM_MAX];
            wye_norm_status sf = wye_norm_name(in, flen, out->family, &rf);
            wye_norm_status sg = wye_norm_name(comma + 1, glen, given, &rg);
            if (sg == WYE_NORM_PRESENT)
                split_given(given, out);
            if (sf == WYE_NORM_PRESENT || sg == WYE_NORM_PRESENT)
                return present(why);
            if (sf == WYE_NORM_INVALID)
                return invalid(why, rf);
            if (sg == WYE_NORM_INVALID)
                return invalid(why, rg);
            return missing(why);
        }
    }
    wye_norm_status s = wye_norm_name(in, len, whole, why);
    if (s != WYE_NORM_PRESENT)
        return s;
    size_t nw = count_words(whole);
    switch (how) {
    case WYE_SPLIT_FORENAME_SURNAME:
        copy_words(whole, nw - 1, nw, out->family);
        if (nw > 1)
            copy_words(whole, 0, 1, out->given);
        if (nw > 2)
            copy_words(whole, 1, nw - 1, out->other);
        break;
    case WYE_SPLIT_SURNAME_COMMA_FORENAME: /* no comma: SURNAME Forenames */
        copy_words(whole, 0, 1, out->family);
        if (nw > 1)
            copy_words(whole, 1, 2, out->given);
        if (nw > 2)
            copy_words(whole, 2, nw, out->other);
        break;
    case WYE_SPLIT_GIVEN_NAMES:
        split_given(whole, out);
        break;
    default:
        memcpy(out->given, whole, strlen(whole) + 1);
        break;
    }
    return s;
}

/* ---- dates ---- */

static const char *const format_names[] = {
    NULL, "DD/MM/YYYY", "YYYY-MM-DD", "DD-Mon-YYYY", "DD/MM/YY", "YYYYMMDD", "DD.MM.YYYY",
};

wye_date_format wye_date_format_from_name(const char *name)
{
    for (int f = 1; f <= WYE_DATE_DMY_DOT; f++)
        if (name && !strcmp(name, format_names[f]))
            return (wye_date_format)f;
    return (wye_date_format)0;
}

const char *wye_date_format_name(wye_date_format f)
{
    if (f < WYE_DATE_DMY || f > WYE_DATE_DMY_DOT)
        return NULL;
    return format_names[f];
}

static int leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int wye_date_valid(int year, int month, int day)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1)
        return 0;
    int md = mdays[month - 1] + (month == 2 && leap(year));
    return day <= md;
}

int wye_date_cmp(const wye_date *a, const wye_date *b)
{
    if (a->year != b->year)
        return a->year < b->year ? -1 : 1;
    if (a->month != b->month)
        return a->month < b->month ? -1 : 1;
    if (a->day != b->day)
        return a->day < b->day ? -1 : 1;
    return 0;
}

int wye_date_age(const wye_date *dob, const wye_date *at)
{
    int age = at->year - dob->year;
    if (at->month < dob->month || (at->month == dob->month && at->day < dob->day))
        age--;
    return age;
}

/* A small cursor over the date text. */
typedef struct {
    const char *s;
    size_t n, i;
} cursor;

static int digits(cursor *c, size_t minn, size_t maxn, int *v)
{
    size_t k = 0;
    int x = 0;
    while (k < maxn && c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
        x = x * 10 + (c->s[c->i] - '0');
        c->i++, k++;
    }
    if (k < minn)
        return 0;
    *v = x;
    return (int)k;
}

static int lit(cursor *c, char ch)
{
    if (c->i < c->n && c->s[c->i] == ch) {
        c->i++;
        return 1;
    }
    return 0;
}

static int month_name(cursor *c, int *m)
{
    static const char *const names[12] = {"JANUARY", "FEBRUARY", "MARCH", "APRIL",
                                          "MAY", "JUNE", "JULY", "AUGUST",
                                          "SEPTEMBER", "OCTOBER", "NOVEMBER", "DECEMBER"};
    char w[10];
    size_t k = 0;
    while (c->i < c->n && k < sizeof w - 1) {
        char ch = c->s[c->i];
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        if (ch < 'A' || ch > 'Z')
            break;
        w[k++] = ch;
        c->i++;
    }
    w[k] = 0;
    if (k < 3)
        return 0;
    for (int i = 0; i < 12; i++) {
        /* the three-letter abbreviation (SEPT too) or the full name */
        if ((k == 3 && !memcmp(w, names[i], 3)) || !strcmp(w, names[i]) ||
            (i == 8 && !strcmp(w, "SEPT"))) {
            *m = i + 1;
            return 1;
        }
    }
    return 0;
}

/* Accept the end of the text, or a time of day after a space (or 'T' for
 * ISO dates): digits, ':' and '.', with at least one ':' and an optional Z. */
static int end_or_time(cursor *c, bool iso)
{
    if (c->i == c->n)
        return 1;
    if (!(c->s[c->i] == ' ' || (iso && c->s[c->i] == 'T')))
        return 0;
    c->i++;
    bool colon = false;
    size_t start = c->i;
    for (; c->i < c->n; c->i++) {
        char ch = c->s[c->i];
        if (ch == ':')
            colon = true;
        else if (!(ch >= '0' && ch <= '9') && ch != '.' && !(ch == 'Z' && c->i + 1 == c->n))
            return 0;
    }
    return colon && c->i > start && c->s[start] >= '0' && c->s[start] <= '9';
}

int wye_date_parse_iso(const char *s, wye_date *out)
{
    cursor c = {s, strlen(s), 0};
    int y, m, d;
    if (digits(&c, 4, 4, &y) && lit(&c, '-') && digits(&c, 2, 2, &m) && lit(&c, '-') &&
        digits(&c, 2, 2, &d) && c.i == c.n && wye_date_valid(y, m, d)) {
        *out = (wye_date){y, m, d};
        return WYE_OK;
    }
    return WYE_EFORMAT;
}

wye_norm_status wye_norm_date(const char *in, size_t len, wye_date_format fmt,
                              const wye_date *extract, wye_date *out, char canon[9],
                              wye_norm_reason *why)
{
    if (canon)
        canon[0] = 0;
    in = wye_norm_trim(in, &len);
    if (len == 0)
        return missing(why);
    if (len > 64)
        return invalid(why, WYE_NR_DATE_FORMAT);
    cursor c = {in, len, 0};
    int y = 0, m = 0, d = 0, ok = 0, ylen = 0;
    switch (fmt) {
    case WYE_DATE_DMY:
        ok = digits(&c, 1, 2, &d) && lit(&c, '/') && digits(&c, 1, 2, &m) &&
             lit(&c, '/') && digits(&c, 4, 4, &y) && end_or_time(&c, false);
        break;
    case WYE_DATE_DMY_DOT:
        ok = digits(&c, 1, 2, &d) && lit(&c, '.') && digits(&c, 1, 2, &m) &&
             lit(&c, '.') && digits(&c, 4, 4, &y) && end_or_time(&c, false);
        break;
    case WYE_DATE_ISO:
        ok = digits(&c, 4, 4, &y) && lit(&c, '-') && digits(&c, 1, 2, &m) &&
             lit(&c, '-') && digits(&c, 1, 2, &d) && end_or_time(&c, true);
        break;
    case WYE_DATE_DMON: {
        ok = digits(&c, 1, 2, &d) && (lit(&c, '-') || lit(&c, ' ')) && month_name(&c, &m) &&
             (lit(&c, '-') || lit(&c, ' ')) && digits(&c, 4, 4, &y) && end_or_time(&c, false);
        break;
    }
    case WYE_DATE_DMY2:
        ok = digits(&c, 1, 2, &d) && lit(&c, '/') && digits(&c, 1, 2, &m) && lit(&c, '/') &&
             (ylen = digits(&c, 2, 4, &y)) && (ylen == 2 || ylen == 4) &&
             end_or_time(&c, false);
        break;
    case WYE_DATE_COMPACT:
        ok = digits(&c, 8, 8, &y) && c.i == c.n;
        if (ok) {
            d = y % 100, m = y / 100 % 100, y /= 10000;
        }
        break;
    default:
        return invalid(why, WYE_NR_DATE_FORMAT);
    }
    if (!ok)
        return invalid(why, WYE_NR_DATE_FORMAT);
    if (fmt == WYE_DATE_DMY2 && ylen == 2) {
        /* The latest century that puts the date on or before the extract date. */
        wye_date cand = {extract->year / 100 * 100 + y, m, d};
        if (wye_date_cmp(&cand, extract) > 0)
            cand.year -= 100;
        y = cand.year;
    }
    if (!wye_date_valid(y, m, d))
        return invalid(why, WYE_NR_DATE_NO_SUCH_DAY);
    wye_date v = {y, m, d};
    if (wye_date_cmp(&v, extract) > 0)
        return invalid(why, WYE_NR_DATE_FUTURE);
    wye_date oldest = {extract->year - WYE_NORM_MAX_AGE, extract->month, extract->day};
    if (wye_date_cmp(&v, &oldest) < 0)
        return invalid(why, WYE_NR_DATE_TOO_OLD);
    if (out)
        *out = v;
    if (canon) {
        for (int k = 3; k >= 0; k--, y /= 10)
            canon[k] = (char)('0' + y % 10);
        canon[4] = (char)('0' + m / 10), canon[5] = (char)('0' + m % 10);
        canon[6] = (char)('0' + d / 10), canon[7] = (char)('0' + d % 10);
        canon[8] = 0;
    }
    return present(why);
}

/* ---- postcodes ---- */

static bool is_alpha(char c) { return c >= 'A' && c <= 'Z'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* The outward code patterns of the Royal Mail PAF: A9, A99, AA9, AA99, A9A,
 * AA9A, with the letters each position allows. */
static bool outward_ok(const char *s, size_t n)
{
    if (n < 2 || n > 4 || !is_alpha(s[0]) || strchr("QVX", s[0]))
        return false;
    if (is_digit(s[1])) { /* A9, A99, A9A */
        if (n == 2)
            return true;
        if (n == 3)
            return is_digit(s[2]) || strchr("ABCDEFGHJKPSTUW", s[2]) != NULL;
        return false;
    }
    if (strchr("IJZ", s[1])) /* AA9, AA99, AA9A */
        return false;
    if (n < 3 || !is_digit(s[2]))
        return false;
    if (n == 3)
        return true;
    return is_digit(s[3]) || strchr("ABEHMNPRVWXY", s[3]) != NULL;
}

static bool inward_ok(const char *s)
{
    return is_digit(s[0]) && is_alpha(s[1]) && is_alpha(s[2]) && !strchr("CIKMOV", s[1]) &&
           !strchr("CIKMOV", s[2]);
}

wye_norm_status wye_norm_postcode(const char *in, size_t len, char out[9],
                                  wye_norm_reason *why)
{
    out[0] = 0;
    in = wye_norm_trim(in, &len);
    if (len == 0)
        return missing(why);
    char s[8];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == ' ' || c == '\t')
            continue;
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (!is_alpha(c) && !is_digit(c))
            return invalid(why, WYE_NR_POSTCODE_FORMAT);
        if (n == 7)
            return invalid(why, WYE_NR_POSTCODE_FORMAT);
        s[n++] = c;
    }
    s[n] = 0;
    if (n >= 4 && !memcmp(s, "ZZ99", 4))
        return invalid(why, WYE_NR_POSTCODE_PSEUDO);
    if (n == 6 && !memcmp(s, "GIR0AA", 6)) {
        memcpy(out, "GIR 0AA", 8);
        return present(why);
    }
    if (n >= 2 && n <= 4 && outward_ok(s, n))
        return invalid(why, WYE_NR_POSTCODE_PARTIAL);
    if (n < 5 || !inward_ok(s + n - 3) || !outward_ok(s, n - 3))
        return invalid(why, WYE_NR_POSTCODE_FORMAT);
    memcpy(out, s, n - 3);
    out[n - 3] = ' ';
    memcpy(out + n - 2, s + n - 3, 4);
    return present(why);
}

/* ---- NHS numbers ---- */

int wye_nhs_check_digit_ok(const char d[10])
{
    int sum = 0;
    for (int i = 0; i < 9; i++)
        sum += (d[i] - '0') * (10 - i);
    int check = 11 - sum % 11;
    if (check == 11)
        check = 0;
    return check != 10 && check == d[9] - '0';
}

wye_norm_status wye_norm_nhs(const char *in, size_t len, char out[11], wye_norm_reason *why)
{
    out[0] = 0;
    in = wye_norm_trim(in, &len);
    if (len == 0)
        return missing(why);
    char d[11];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == ' ' || c == '-')
            continue;
        if (!is_digit(c) || n == 10)
            return invalid(why, WYE_NR_NHS_FORMAT);
        d[n++] = c;
    }
    if (n != 10)
        return invalid(why, WYE_NR_NHS_FORMAT);
    d[10] = 0;
    bool same = true;
    for (int i = 1; i < 10; i++)
        same = same && d[i] == d[0];
    if (same)
        return invalid(why, WYE_NR_NHS_PLACEHOLDER);
    if (!wye_nhs_check_digit_ok(d))
        return invalid(why, WYE_NR_NHS_CHECK);
    memcpy(out, d, 11);
    return present(why);
}

/* ---- sex ---- */

wye_norm_status wye_norm_sex(const char *in, size_t len, char out[2], wye_norm_reason *why)
{
    static const struct {
        const char *code;
        char value; /* 0 = known to be missing */
    } table[] = {
        {"F", 'F'}, {"FEMALE", 'F'}, {"WOMAN", 'F'}, {"M", 'M'},       {"MALE", 'M'},
        {"MAN", 'M'}, {"X", 'X'},    {"OTHER", 'X'}, {"U", 0},         {"UNKNOWN", 0},
    };
    out[0] = 0;
    in = wye_norm_trim(in, &len);
    if (len == 0)
        return missing(why);
    if (len > 7)
        return invalid(why, WYE_NR_CODE_UNKNOWN);
    char up[8];
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        up[i] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
    }
    up[len] = 0;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (!strcmp(up, table[i].code)) {
            if (!table[i].value)
                return missing(why);
            out[0] = table[i].value;
            out[1] = 0;
            return present(why);
        }
    }
    return invalid(why, WYE_NR_CODE_UNKNOWN);
}

/* ---- addresses ---- */

/* Street types and their common spellings -> one abbreviation (Royal Mail
 * and Australia Post usage), so that "High Street" and "High St" agree.
 * Applied to every word. Sorted by spelling only for the reader. */
static const struct {
    const char *word, *canon;
} street_words[] = {
    {"APARTMENT", "FLAT"}, {"APT", "FLAT"},       {"AV", "AVE"},        {"AVENUE", "AVE"},
    {"BOULEVARD", "BLVD"}, {"CIRCUIT", "CCT"},    {"CLOSE", "CL"},      {"COURT", "CT"},
    {"CRESC", "CRES"},     {"CRESCENT", "CRES"},  {"CRT", "CT"},        {"DRIVE", "DR"},
    {"DRV", "DR"},         {"GARDENS", "GDNS"},   {"GROVE", "GR"},      {"GRV", "GR"},
    {"HIGHWAY", "HWY"},    {"LANE", "LN"},        {"MOUNT", "MT"},      {"PARADE", "PDE"},
    {"PLACE", "PL"},       {"ROAD", "RD"},        {"SAINT", "ST"},      {"SQUARE", "SQ"},
    {"STR", "ST"},         {"STREET", "ST"},      {"TER", "TCE"},       {"TERR", "TCE"},
    {"TERRACE", "TCE"},
};

/* Whole canonical addresses that stand for "no usable address": many
 * unrelated people would agree on them. */
static const char *const address_placeholders[] = {
    "UNKNOWN", "UNK", "NK", "N K", "NOT KNOWN", "N A", "NA", "NONE", "NULL", "NIL",
    "NFA", "N F A", "NO FIXED ABODE", "NO FIXED ADDRESS", "NO ADDRESS", "HOMELESS",
    "REDACTED", "WITHHELD", "CONFIDENTIAL", "NOT STATED", "NOT GIVEN", "NOT RECORDED",
    "TBC", "XX", "XXX", "XXXX", NULL};

wye_norm_status wye_norm_address(const char *in, size_t len, char out[WYE_NORM_MAX],
                                 wye_norm_reason *why)
{
    wye_norm_status st;
    if (!begin_value(&in, &len, out, why, &st))
        return st;

    char buf[FOLD_MAX];
    size_t n = fold_words(in, len, true, buf);
    if (n == 0)
        return invalid(why, WYE_NR_ADDRESS_NO_ALNUM);

    /* Street types to their abbreviations, word by word; abbreviations are
     * never longer than the word, so the result fits in buf. */
    char canon[sizeof buf];
    size_t cn = 0;
    for (size_t k = 0; k < n;) {
        size_t e = k;
        while (e < n && buf[e] != ' ')
            e++;
        const char *w = buf + k;
        size_t wl = e - k;
        for (size_t t = 0; t < sizeof street_words / sizeof street_words[0]; t++) {
            if (strlen(street_words[t].word) == wl && !memcmp(street_words[t].word, w, wl)) {
                w = street_words[t].canon;
                wl = strlen(w);
                break;
            }
        }
        if (cn)
            canon[cn++] = ' ';
        memcpy(canon + cn, w, wl);
        cn += wl;
        k = e + 1;
    }
    canon[cn] = 0;
    if (word_in(canon, cn, address_placeholders))
        return invalid(why, WYE_NR_ADDRESS_PLACEHOLDER);
    if (cn >= WYE_NORM_MAX)
        return invalid(why, WYE_NR_TOO_LONG);
    memcpy(out, canon, cn + 1);
    return present(why);
}

/* ---- other identifiers ---- */

wye_norm_status wye_norm_other_id(const char *in, size_t len, char out[WYE_NORM_MAX],
                                  wye_norm_reason *why)
{
    static const char *const id_placeholders[] = {"UNKNOWN", "NONE", "NULL", "NA", "NK",
                                                  "TBC", NULL};
    wye_norm_status st;
    if (!begin_value(&in, &len, out, why, &st))
        return st;
    char buf[WYE_NORM_RAW_MAX + 1];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == ' ' || c == '\t' || c == '-')
            continue;
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (!is_alpha(c) && !is_digit(c))
            return invalid(why, WYE_NR_ID_FORMAT);
        buf[n++] = c;
    }
    if (n == 0)
        return invalid(why, WYE_NR_ID_FORMAT);
    if (n >= WYE_NORM_MAX)
        return invalid(why, WYE_NR_TOO_LONG);
    bool same = n >= 2;
    for (size_t i = 1; i < n && same; i++)
        same = buf[i] == buf[0];
    if (same || word_in(buf, n, id_placeholders))
        return invalid(why, WYE_NR_ID_PLACEHOLDER);
    memcpy(out, buf, n);
    out[n] = 0;
    return present(why);
}
