/* Streaming CSV reader over libcsv with physical line numbers.
 *
 * libcsv reports fields and record ends through callbacks but not where in
 * the input they were. We therefore feed it one physical line at a time
 * (a line ends at LF, CR or CRLF; the terminator is fed with its line): a
 * record can only end at a line terminator, so each feed completes at most
 * one record, and a record starts on the first line fed while the parser is
 * between rows. The same pass validates UTF-8 (or transcodes Windows-1252)
 * so an encoding error names its own line. */
#include "wyelink/csvin.h"

#include <assert.h>
#include <csv.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (64u * 1024u)
/* libcsv's parser states (libcsv.c; the struct is public, the names not). */
#define LIBCSV_ROW_NOT_BEGUN 0
#define LIBCSV_FIELD_BEGUN 2

struct wye_csvin {
    wye_source src;
    struct csv_parser p;
    bool parser_ok;
    wye_csv_encoding enc;

    uint8_t buf[CHUNK];
    size_t buf_len, buf_pos;
    bool eof, finished, at_line_start, cr_pending;
    bool malformed;          /* the record being returned broke the quoting rules */
    bool skip_line;          /* discard input up to the next line terminator */
    uint64_t bytes, line, rec_start, blank_lines, records;

    /* UTF-8 validation state carried across chunks. */
    unsigned need;         /* continuation bytes still expected */
    uint8_t lo, hi;        /* allowed range of the next continuation byte */

    /* The record being built: field bytes, each followed by a NUL. */
    char *data;
    size_t data_len, data_cap;
    size_t *off, *lens;
    const char **ptrs;
    size_t nf, nf_cap;
    bool rec_ready;
    uint64_t rec_line;
    uint64_t nul_line;     /* line of the record's first NUL byte, 0 = none */
    int cb_err;            /* a limit exceeded inside a callback */

    /* The header. */
    char **cols;
    size_t ncols;

    uint8_t tbuf[3 * CHUNK]; /* Windows-1252 transcoded to UTF-8 */
    int err;                 /* sticky */
    wye_diag err_diag;
};

static int fail_field(wye_csvin *r, int code, uint64_t line, const char *field,
                      const char *reason, wye_diag *diag)
{
    if (!r->err) {
        r->err = code;
        wye_diag_set(&r->err_diag, line, field, "%s", reason);
    }
    if (diag)
        *diag = r->err_diag;
    return r->err;
}

static int fail(wye_csvin *r, int code, uint64_t line, const char *reason, wye_diag *diag)
{
    return fail_field(r, code, line, NULL, reason, diag);
}

static void on_field(void *s, size_t len, void *ctx)
{
    wye_csvin *r = ctx;
    if (r->cb_err)
        return;
    if (len > WYE_CSV_FIELD_MAX) {
        r->cb_err = 1;
        return;
    }
    if (r->nf == WYE_CSV_FIELDS_MAX) {
        r->cb_err = 3;
        return;
    }
    if (r->data_len + len + 1 > WYE_CSV_RECORD_MAX) {
        r->cb_err = 2;
        return;
    }
    if (r->nf == r->nf_cap) {
        size_t cap = r->nf_cap ? 2 * r->nf_cap : 32;
        size_t *o = realloc(r->off, cap * sizeof *o);
        if (o)
            r->off = o;
        size_t *l = realloc(r->lens, cap * sizeof *l);
        if (l)
            r->lens = l;
        const char **pp = realloc(r->ptrs, cap * sizeof *pp);
        if (pp)
            r->ptrs = pp;
        if (!o || !l || !pp) {
            r->cb_err = 4;
            return;
        }
        r->nf_cap = cap;
    }
    if (r->data_len + len + 1 > r->data_cap) {
        size_t cap = r->data_cap ? r->data_cap : 4096;
        while (cap < r->data_len + len + 1)
            cap *= 2;
        char *d = realloc(r->data, cap);
        if (!d) {
            r->cb_err = 4;
            return;
        }
        r->data = d;
        r->data_cap = cap;
    }
    r->off[r->nf] = r->data_len;
    r->lens[r->nf] = len;
    if (len)
        memcpy(r->data + r->data_len, s, len);
    r->data_len += len;
    r->data[r->data_len++] = 0;
    r->nf++;
}

static void on_record(int c, void *ctx)
{
    (void)c;
    wye_csvin *r = ctx;
    r->rec_ready = true;
    r->rec_line = r->rec_start;
}

static int callback_error(wye_csvin *r, wye_diag *diag)
{
    static const char *const why[] = {
        NULL,
        "field longer than 64 KiB (unterminated quote?)",
        "record longer than 1 MiB (unterminated quote?)",
        "more than 4096 fields in a record",
        "out of memory",
    };
    int code = r->cb_err == 4 ? WYE_ENOMEM : WYE_ECSV;
    return fail(r, code, r->rec_start, why[r->cb_err], diag);
}

/* Feed bytes [s, s+n) of the current line to libcsv. */
static int feed(wye_csvin *r, const uint8_t *s, size_t n, wye_diag *diag)
{
    if (r->at_line_start) {
        if (r->p.pstate == LIBCSV_ROW_NOT_BEGUN)
            r->rec_start = r->line;
        r->at_line_start = false;
    }
    if (csv_parse(&r->p, s, n, on_field, on_record, r) != n) {
        if (csv_error(&r->p) != CSV_EPARSE)
            return fail(r, WYE_ENOMEM, r->line, "out of memory", diag);
        /* A quote inside an unquoted field, or text after a closing quote:
         * hand back an empty record marked malformed (reported on its first
         * line), drop the rest of this physical line and start afresh. */
        csv_free(&r->p);
        if (csv_init(&r->p, CSV_STRICT) != 0) {
            r->parser_ok = false;
            return fail(r, WYE_ENOMEM, r->line, "out of memory", diag);
        }
        r->nf = 0;
        r->data_len = 0;
        r->malformed = true;
        r->rec_ready = true;
        r->rec_line = r->rec_start;
        r->skip_line = n == 0 || (s[n - 1] != '\n' && s[n - 1] != '\r');
        return WYE_OK;
    }
    if (r->cb_err)
        return callback_error(r, diag);
    /* libcsv buffers a field until it ends: stop an unterminated quote from
     * swallowing the rest of a large file into memory. */
    if (r->p.entry_pos > WYE_CSV_FIELD_MAX) {
        r->cb_err = 1;
        return callback_error(r, diag);
    }
    return WYE_OK;
}

/* Windows-1252 bytes 0x80-0x9F; 0 marks the five undefined ones, which map
 * to the C1 control of the same number. */
static const uint16_t cp1252[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017D, 0,
    0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178,
};

static size_t transcode(const uint8_t *s, size_t n, uint8_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = s[i];
        if (cp >= 0x80 && cp < 0xA0 && cp1252[cp - 0x80])
            cp = cp1252[cp - 0x80];
        if (cp < 0x80) {
            out[k++] = (uint8_t)cp;
        } else if (cp < 0x800) {
            out[k++] = (uint8_t)(0xC0 | cp >> 6);
            out[k++] = (uint8_t)(0x80 | (cp & 0x3F));
        } else {
            out[k++] = (uint8_t)(0xE0 | cp >> 12);
            out[k++] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
            out[k++] = (uint8_t)(0x80 | (cp & 0x3F));
        }
    }
    return k;
}

/* Validate s[0..n) as the continuation of a UTF-8 stream (Unicode 3.9 table:
 * no overlongs, no surrogates, nothing above U+10FFFF). 0 if invalid. */
static int utf8_ok(wye_csvin *r, const uint8_t *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    for (size_t i = 0; i < n; i++) {
        /* Plain ASCII without NUL, eight bytes at a time. */
        while (!r->need && i + 8 <= n) {
            uint64_t v;
            memcpy(&v, s + i, 8);
            if ((v & highs) || ((v - ones) & ~v & highs))
                break;
            i += 8;
        }
        if (i == n)
            break;
        uint8_t c = s[i];
        if (r->need) {
            if (c < r->lo || c > r->hi)
                return 0;
            r->need--;
            r->lo = 0x80, r->hi = 0xBF;
            continue;
        }
        if (c < 0x80) {
            /* Valid UTF-8, but no text: refused once the record is whole,
             * naming its field (check_nul). */
            if (c == 0 && !r->nul_line)
                r->nul_line = r->line;
            continue;
        }
        r->lo = 0x80, r->hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            r->need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            r->need = 2;
            if (c == 0xE0)
                r->lo = 0xA0;
            if (c == 0xED)
                r->hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            r->need = 3;
            if (c == 0xF0)
                r->lo = 0x90;
            if (c == 0xF4)
                r->hi = 0x8F;
        } else {
            return 0;
        }
    }
    return 1;
}

static int fill(wye_csvin *r, wye_diag *diag)
{
    ssize_t got = r->src.read(r->src.ctx, r->buf, sizeof r->buf);
    if (got < 0)
        return fail(r, (int)got, r->line, "cannot read input", diag);
    r->buf_len = (size_t)got;
    r->buf_pos = 0;
    r->bytes += (uint64_t)got;
    if (got == 0)
        r->eof = true;
    return WYE_OK;
}

/* Find the end of the current line segment in buf[pos..len): the index just
 * past a terminator, or len. Sets *term when a terminator was found. Plain
 * ASCII without CR or LF is skipped eight bytes at a time. */
static size_t line_end(const uint8_t *b, size_t pos, size_t len, bool *term)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    size_t i = pos;
    while (i + 8 <= len) {
        uint64_t v;
        memcpy(&v, b + i, 8);
        uint64_t lf = v ^ (ones * '\n'), cr = v ^ (ones * '\r');
        uint64_t hit = ((lf - ones) & ~lf) | ((cr - ones) & ~cr);
        if ((hit & highs) || (v & highs))
            break;
        i += 8;
    }
    for (; i < len; i++) {
        if (b[i] == '\n' || b[i] == '\r') {
            *term = true;
            return i + 1;
        }
    }
    *term = false;
    return len;
}

/* Feed input until a record is complete (1), the input ends (0) or an
 * error. */
static int advance(wye_csvin *r, wye_diag *diag)
{
    while (!r->rec_ready) {
        if (r->buf_pos == r->buf_len) {
            if (r->eof) {
                if (r->finished)
                    return 0;
                r->finished = true;
                if (r->need)
                    return fail(r, WYE_EUTF8, r->line, "invalid utf-8", diag);
                if (r->p.pstate == LIBCSV_FIELD_BEGUN && r->p.quoted)
                    return fail(r, WYE_ECSV, r->rec_start,
                                "quoted field not closed before the end of the file", diag);
                if (r->at_line_start && r->p.pstate == LIBCSV_ROW_NOT_BEGUN)
                    r->rec_start = r->line;
                csv_fini(&r->p, on_field, on_record, r);
                if (r->cb_err)
                    return callback_error(r, diag);
                return r->rec_ready ? 1 : 0;
            }
            int rc = fill(r, diag);
            if (rc)
                return rc;
            continue;
        }
        size_t pos = r->buf_pos;
        if (r->cr_pending) {
            /* The LF of a CRLF belongs to the line already counted. */
            r->cr_pending = false;
            if (r->buf[pos] == '\n') {
                r->buf_pos++;
                /* Between rows libcsv skips it; inside a quoted field it
                 * joins the field. Either way no new line starts here. */
                if (csv_parse(&r->p, r->buf + pos, 1, on_field, on_record, r) != 1)
                    return fail(r, WYE_ECSV, r->line, "malformed csv", diag);
                assert(!r->rec_ready && !r->cb_err);
                continue;
            }
        }
        bool term;
        size_t end = line_end(r->buf, pos, r->buf_len, &term);
        if (r->skip_line) {
            r->buf_pos = end;
            if (term) {
                r->skip_line = false;
                r->line++;
                r->at_line_start = true;
                r->cr_pending = r->buf[end - 1] == '\r';
            }
            continue;
        }
        const uint8_t *seg = r->buf + pos;
        size_t n = end - pos;
        r->buf_pos = end;
        bool starts_line = r->at_line_start;
        uint64_t nf_before = r->nf;
        if (r->enc == WYE_CSV_WINDOWS1252) {
            if (!r->nul_line && memchr(seg, 0, n))
                r->nul_line = r->line;
            n = transcode(seg, n, r->tbuf);
            seg = r->tbuf;
        } else if (!utf8_ok(r, seg, n)) {
            return fail(r, WYE_EUTF8, r->line, "invalid utf-8 (declare windows-1252?)", diag);
        } else if (term && r->need) {
            return fail(r, WYE_EUTF8, r->line, "invalid utf-8 (declare windows-1252?)", diag);
        }
        int rc = feed(r, seg, n, diag);
        if (rc)
            return rc;
        if (term) {
            if (starts_line && !r->rec_ready && nf_before == r->nf &&
                r->p.pstate == LIBCSV_ROW_NOT_BEGUN)
                r->blank_lines++;
            r->line++;
            r->at_line_start = true;
            r->cr_pending = r->buf[end - 1] == '\r';
        }
    }
    return 1;
}

static void reset_record(wye_csvin *r)
{
    r->rec_ready = false;
    r->malformed = false;
    r->nul_line = 0;
    r->nf = 0;
    r->data_len = 0;
}

/* A NUL byte in the record just read: an error naming its line and field
 * (the header's name of the column, or its number). A NUL in the part of a
 * malformed line that was skipped names no field. */
static int check_nul(wye_csvin *r, bool header, wye_diag *diag)
{
    if (!r->nul_line)
        return WYE_OK;
    char num[32] = "";
    const char *field = NULL;
    for (size_t i = 0; i < r->nf && !field; i++) {
        if (!memchr(r->data + r->off[i], 0, r->lens[i]))
            continue;
        snprintf(num, sizeof num, "column %zu", i + 1);
        field = !header && i < r->ncols ? r->cols[i] : num;
    }
    return fail_field(r, WYE_ECSV, r->nul_line, field,
                      header ? "NUL byte in the header" : "NUL byte", diag);
}

static void trim(char *s)
{
    size_t n = strlen(s), a = 0;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    while (a < n && (s[a] == ' ' || s[a] == '\t'))
        a++;
    memmove(s, s + a, n - a);
    s[n - a] = 0;
}

int wye_csvin_open(wye_source src, wye_csv_encoding enc, wye_csvin **out, wye_diag *diag)
{
    wye_diag_clear(diag);
    if (!out || !src.read || (enc != WYE_CSV_UTF8 && enc != WYE_CSV_WINDOWS1252))
        return WYE_EINVAL;
    *out = NULL;
    wye_csvin *r = calloc(1, sizeof *r);
    if (!r)
        return WYE_ENOMEM;
    r->src = src;
    r->enc = enc;
    r->line = 1;
    r->rec_start = 1;
    r->at_line_start = true;
    /* Strict: a stray quote is reported as a malformed row rather than
     * silently swallowing the rows after it. */
    if (csv_init(&r->p, CSV_STRICT) != 0) {
        free(r);
        return WYE_ENOMEM;
    }
    r->parser_ok = true;

    /* A byte-order mark: skip it, and read UTF-8 whatever was declared. */
    while (r->buf_len < 3 && !r->eof) {
        ssize_t got = src.read(src.ctx, r->buf + r->buf_len, 3 - r->buf_len);
        if (got < 0) {
            int code = (int)got;
            wye_diag_set(diag, 1, NULL, "cannot read input");
            wye_csvin_free(r);
            return code;
        }
        if (got == 0)
            r->eof = true;
        r->buf_len += (size_t)got;
        r->bytes += (uint64_t)got;
    }
    if (r->buf_len == 3 && r->buf[0] == 0xEF && r->buf[1] == 0xBB && r->buf[2] == 0xBF) {
        r->buf_pos = 3;
        r->enc = WYE_CSV_UTF8;
    }

    int rc = advance(r, diag);
    if (rc == 0)
        rc = fail(r, WYE_ECSV, 1, "no header row", diag);
    if (rc > 0 && r->malformed)
        rc = fail(r, WYE_ECSV, r->rec_line, "malformed quoting in the header", diag);
    if (rc > 0 && check_nul(r, true, diag))
        rc = r->err;
    if (rc < 0) {
        wye_csvin_free(r);
        return rc;
    }
    r->cols = calloc(r->nf ? r->nf : 1, sizeof *r->cols);
    if (!r->cols) {
        wye_csvin_free(r);
        return WYE_ENOMEM;
    }
    r->ncols = r->nf;
    for (size_t i = 0; i < r->nf; i++) {
        r->cols[i] = strdup(r->data + r->off[i]);
        if (!r->cols[i]) {
            wye_csvin_free(r);
            return WYE_ENOMEM;
        }
        trim(r->cols[i]);
    }
    reset_record(r);
    *out = r;
    return WYE_OK;
}

void wye_csvin_free(wye_csvin *r)
{
    if (!r)
        return;
    if (r->parser_ok)
        csv_free(&r->p);
    for (size_t i = 0; i < r->ncols; i++)
        free(r->cols[i]);
    free(r->cols);
    /* The buffers held identifiers: wipe before release. */
    if (r->data)
        memset(r->data, 0, r->data_cap);
    free(r->data);
    free(r->off);
    free(r->lens);
    free(r->ptrs);
    memset(r->buf, 0, sizeof r->buf);
    memset(r->tbuf, 0, sizeof r->tbuf);
    free(r);
}

size_t wye_csvin_ncolumns(const wye_csvin *r) { return r->ncols; }

const char *wye_csvin_column_name(const wye_csvin *r, size_t i)
{
    return i < r->ncols ? r->cols[i] : NULL;
}

int wye_csvin_find(const wye_csvin *r, const char *name)
{
    int found = -1;
    for (size_t i = 0; i < r->ncols; i++) {
        if (!strcmp(r->cols[i], name)) {
            if (found >= 0)
                return -2;
            found = (int)i;
        }
    }
    return found;
}

int wye_csvin_next(wye_csvin *r, wye_csv_row *row, wye_diag *diag)
{
    wye_diag_clear(diag);
    if (r->err)
        return fail(r, r->err, 0, NULL, diag);
    reset_record(r);
    int rc = advance(r, diag);
    if (rc <= 0)
        return rc;
    if ((rc = check_nul(r, false, diag)))
        return rc;
    for (size_t i = 0; i < r->nf; i++)
        r->ptrs[i] = r->data + r->off[i];
    r->records++;
    row->line = r->rec_line;
    row->number = r->records;
    row->nfields = r->nf;
    row->field = r->ptrs;
    row->len = r->lens;
    row->malformed = r->malformed;
    return 1;
}

uint64_t wye_csvin_bytes_read(const wye_csvin *r) { return r->bytes; }
uint64_t wye_csvin_blank_lines(const wye_csvin *r) { return r->blank_lines; }
