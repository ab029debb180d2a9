/* The CSV reader: quoting, line endings, BOM, encodings, line numbers and
 * errors. Every input is also read one byte at a time, which must give the
 * same records (chunk boundaries fall everywhere, e.g. inside a CRLF). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "wyelink/csvin.h"

/* A source that hands out at most step bytes per read. */
typedef struct {
    const char *data;
    size_t size, pos, step;
} trickle;

static ssize_t trickle_read(void *ctx, void *buf, size_t n)
{
    trickle *t = ctx;
    size_t left = t->size - t->pos;
    if (n > t->step)
        n = t->step;
    if (n > left)
        n = left;
    memcpy(buf, t->data + t->pos, n);
    t->pos += n;
    return (ssize_t)n;
}

/* Read everything: "header" then per record "Lline:[f1|f2|...]\n"; on error
 * "ERR code line". */
static char *dump_step(const char *in, size_t size, wye_csv_encoding enc, size_t step)
{
    trickle t = {in, size, 0, step};
    wye_source src = {trickle_read, &t};
    wye_csvin *r;
    wye_diag d;
    static char out[1 << 16];
    size_t o = 0;
    out[0] = 0;
    int rc = wye_csvin_open(src, enc, &r, &d);
    if (rc) {
        snprintf(out, sizeof out, "ERR %d %llu", rc, (unsigned long long)d.line);
        return out;
    }
    o += (size_t)snprintf(out + o, sizeof out - o, "H:");
    for (size_t i = 0; i < wye_csvin_ncolumns(r); i++)
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%s", i ? "|" : "[",
                              wye_csvin_column_name(r, i));
    o += (size_t)snprintf(out + o, sizeof out - o, "]\n");
    wye_csv_row row;
    while ((rc = wye_csvin_next(r, &row, &d)) == 1) {
        o += (size_t)snprintf(out + o, sizeof out - o, "L%llu:", (unsigned long long)row.line);
        if (row.malformed) {
            cr_assert_eq(row.nfields, 0);
            o += (size_t)snprintf(out + o, sizeof out - o, "MALFORMED\n");
            continue;
        }
        for (size_t i = 0; i < row.nfields; i++) {
            cr_assert_eq(strlen(row.field[i]), row.len[i]);
            o += (size_t)snprintf(out + o, sizeof out - o, "%s%s", i ? "|" : "[",
                                  row.field[i]);
        }
        o += (size_t)snprintf(out + o, sizeof out - o, "]\n");
    }
    if (rc < 0) {
        o += (size_t)snprintf(out + o, sizeof out - o, "ERR %d %llu", rc,
                              (unsigned long long)d.line);
        /* sticky */
        cr_assert_eq(wye_csvin_next(r, &row, &d), rc);
    }
    wye_csvin_free(r);
    return out;
}

static void expect_csv(const char *in, size_t size, wye_csv_encoding enc, const char *want)
{
    char *a = strdup(dump_step(in, size, enc, 1 << 20));
    cr_expect_str_eq(a, want, "whole input");
    char *b = dump_step(in, size, enc, 1);
    cr_expect_str_eq(b, want, "one byte at a time");
    free(a);
}

#define CSV(s, want) expect_csv(s, sizeof(s) - 1, WYE_CSV_UTF8, want)

Test(csvin, plain)
{
    CSV("id,name\n1,Ann\n2,Bob\n", "H:[id|name]\nL2:[1|Ann]\nL3:[2|Bob]\n");
    CSV("id,name\n1,Ann\n2,Bob", "H:[id|name]\nL2:[1|Ann]\nL3:[2|Bob]\n"); /* no final LF */
    CSV("id,name\n", "H:[id|name]\n");
    CSV(" id , name \n 1 , Ann \n", "H:[id|name]\nL2:[1|Ann]\n");
}

Test(csvin, quoting)
{
    CSV("id,name\n1,\"Smith, Ann\"\n2,\"say \"\"hi\"\"\"\n",
        "H:[id|name]\nL2:[1|Smith, Ann]\nL3:[2|say \"hi\"]\n");
    /* a quoted field with line breaks: the next record reports its own line */
    CSV("id,note\n1,\"one\ntwo\nthree\"\n2,x\n",
        "H:[id|note]\nL2:[1|one\ntwo\nthree]\nL5:[2|x]\n");
    CSV("id,note\n1,\"\"\n2,\" padded \"\n", "H:[id|note]\nL2:[1|]\nL3:[2| padded ]\n");
    CSV("\"id\",\" na,me \"\n1,2\n", "H:[id|na,me]\nL2:[1|2]\n");
}

Test(csvin, line_endings)
{
    CSV("id,name\r\n1,Ann\r\n2,Bob\r\n", "H:[id|name]\nL2:[1|Ann]\nL3:[2|Bob]\n");
    CSV("id,name\r1,Ann\r2,Bob\r", "H:[id|name]\nL2:[1|Ann]\nL3:[2|Bob]\n");
    CSV("id,note\r\n1,\"a\r\nb\"\r\n2,c\r\n", "H:[id|note]\nL2:[1|a\r\nb]\nL4:[2|c]\n");
    CSV("id,name\n1,Ann\r\n2,Bob\r3,Cy\n", "H:[id|name]\nL2:[1|Ann]\nL3:[2|Bob]\nL4:[3|Cy]\n");
}

Test(csvin, blank_lines)
{
    CSV("id,name\n\n1,Ann\n\r\n   \n2,Bob\n\n", "H:[id|name]\nL3:[1|Ann]\nL6:[2|Bob]\n");
    CSV("\n\nid,name\n1,Ann\n", "H:[id|name]\nL4:[1|Ann]\n");
    const char in[] = "id\n\n1\r\n\r\n2\n";
    wye_memsource m = {(const uint8_t *)in, sizeof in - 1, 0};
    wye_csvin *r;
    wye_csv_row row;
    cr_assert_eq(wye_csvin_open(wye_source_memory(&m), WYE_CSV_UTF8, &r, NULL), WYE_OK);
    while (wye_csvin_next(r, &row, NULL) == 1)
        ;
    cr_expect_eq(wye_csvin_blank_lines(r), 2);
    cr_expect_eq(wye_csvin_bytes_read(r), sizeof in - 1);
    wye_csvin_free(r);
}

Test(csvin, bom)
{
    CSV("\xEF\xBB\xBFid,name\n1,Ann\n", "H:[id|name]\nL2:[1|Ann]\n");
    /* a BOM wins over a declared Windows-1252 */
    const char in[] = "\xEF\xBB\xBFid,name\n1,Ren\xC3\xA9\n";
    expect_csv(in, sizeof in - 1, WYE_CSV_WINDOWS1252, "H:[id|name]\nL2:[1|Ren\xC3\xA9]\n");
}

Test(csvin, field_counts_vary)
{
    CSV("a,b,c\n1,2\n1,2,3,4\n,,\n", "H:[a|b|c]\nL2:[1|2]\nL3:[1|2|3|4]\nL4:[||]\n");
}

Test(csvin, invalid_utf8_names_the_line)
{
    CSV("id,name\n1,Ann\n2,Ren\xE9\n3,Bob\n", "H:[id|name]\nL2:[1|Ann]\nERR -15 3");
    /* inside a multi-line quoted field: the physical line */
    CSV("id,note\n1,\"a\nb\nc\xC3\n\"\n", "H:[id|note]\nERR -15 4");
    CSV("id\n1\n\xED\xA0\x80\n", "H:[id]\nL2:[1]\nERR -15 3");   /* a surrogate */
    CSV("id\n1\n\xC0\xAF\n", "H:[id]\nL2:[1]\nERR -15 3");       /* overlong */
    CSV("id\n1\nab\xE2\x82", "H:[id]\nL2:[1]\nERR -15 3");       /* cut at the end */
    CSV("na\xFFme\n1\n", "ERR -15 1");
    /* UTF-16 (Excel "Unicode text") is refused on line 1 */
    CSV("\xFF\xFEi\0d\0\n\0", "ERR -15 1");
}

/* A NUL byte is valid UTF-8 but no text: refused as a NUL byte on its own
 * line, naming the column it is in, not as an encoding error. */
static void expect_nul(const char *in, size_t size, wye_csv_encoding enc, uint64_t line,
                       const char *field, const char *reason)
{
    static const size_t steps[] = {1, 3, 8, 1 << 20};
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        trickle t = {in, size, 0, steps[s]};
        wye_csvin *r;
        wye_csv_row row;
        wye_diag d;
        int rc = wye_csvin_open((wye_source){trickle_read, &t}, enc, &r, &d);
        if (rc == WYE_OK) {
            while ((rc = wye_csvin_next(r, &row, &d)) == 1)
                ;
            wye_csvin_free(r);
        }
        cr_expect_eq(rc, WYE_ECSV, "step %zu: %d", steps[s], rc);
        cr_expect_eq(d.line, line, "step %zu", steps[s]);
        cr_expect_str_eq(d.field, field, "step %zu", steps[s]);
        cr_expect_str_eq(d.reason, reason, "step %zu", steps[s]);
    }
}

#define NUL(s, line, field) expect_nul(s, sizeof(s) - 1, WYE_CSV_UTF8, line, field, "NUL byte")

Test(csvin, nul_byte_names_line_and_field)
{
    NUL("id,name,dob\n1,Ann,x\n2,A\0n,y\n", 3, "name");
    NUL("id,name,dob\n1,Ann,x\n2,Ann,\0\n", 3, "dob");
    /* inside a quoted field over three lines: the NUL's own line */
    NUL("id,note\n1,\"a\nb\0\nc\"\n", 3, "note");
    /* in a field beyond the header's columns: its number */
    NUL("id,name\n1,Ann,\0\n", 2, "column 3");
    /* after eight plain bytes (the fast path of the UTF-8 check) */
    NUL("id,name\n1,abcdefghijklmnop\0q\n", 2, "name");
    const char hdr[] = "id,na\0me\n1,2\n";
    expect_nul(hdr, sizeof hdr - 1, WYE_CSV_UTF8, 1, "column 2", "NUL byte in the header");
    const char latin[] = "id,name\n1,Ren\xE9\n2,R\0n\n";
    expect_nul(latin, sizeof latin - 1, WYE_CSV_WINDOWS1252, 3, "name", "NUL byte");
    /* the rows before it are read */
    CSV("id\n1\na\0b\n", "H:[id]\nL2:[1]\nERR -14 3");
}

Test(csvin, windows_1252)
{
    const char in[] = "id,name\n1,Ren\xE9\n2,\x80\x93\x81\xDF\x9C\n";
    expect_csv(in, sizeof in - 1, WYE_CSV_WINDOWS1252,
               "H:[id|name]\nL2:[1|Ren\xC3\xA9]\n"
               "L3:[2|\xE2\x82\xAC\xE2\x80\x9C\xC2\x81\xC3\x9F\xC5\x93]\n");
}

Test(csvin, no_header)
{
    CSV("", "ERR -14 1");
    CSV("\n\n\r\n", "ERR -14 1");
}

Test(csvin, unterminated_quote)
{
    CSV("id,note\n1,x\n2,\"never\nclosed\n3,y\n", "H:[id|note]\nL2:[1|x]\nERR -14 3");
}

Test(csvin, malformed_quoting)
{
    /* a stray quote costs one row, reported on its first line; the rows
     * after it are read as usual */
    CSV("id,name\n1,ab\"c\n2,\"ab\"c,more\n3,ok\n4,\"multi\nline\"x,y\n5,z\n",
        "H:[id|name]\nL2:MALFORMED\nL3:MALFORMED\nL4:[3|ok]\nL5:MALFORMED\nL7:[5|z]\n");
    CSV("id,name\r\n1,\"a\"b\r\n2,c\r\n", "H:[id|name]\nL2:MALFORMED\nL3:[2|c]\n");
    CSV("id,name\n1,\"a\"b", "H:[id|name]\nL2:MALFORMED\n");
    CSV("i\"d,name\n1,2\n", "ERR -14 1");
    /* doubled quotes and spaces after a closing quote are fine */
    CSV("id,name\n1,\"a\"\"b\" \n", "H:[id|name]\nL2:[1|a\"b]\n");
}

Test(csvin, limits)
{
    size_t n = WYE_CSV_FIELD_MAX + 100;
    char *big = malloc(n + 64);
    strcpy(big, "id,note\n1,x\n2,\"");
    size_t o = strlen(big);
    memset(big + o, 'a', n);
    o += n;
    strcpy(big + o, "\"\n");
    expect_csv(big, strlen(big), WYE_CSV_UTF8, "H:[id|note]\nL2:[1|x]\nERR -14 3");
    free(big);
}

Test(csvin, find_columns)
{
    const char in[] = "id, Name ,DOB,Name\n";
    wye_memsource m = {(const uint8_t *)in, sizeof in - 1, 0};
    wye_csvin *r;
    cr_assert_eq(wye_csvin_open(wye_source_memory(&m), WYE_CSV_UTF8, &r, NULL), WYE_OK);
    cr_expect_eq(wye_csvin_ncolumns(r), 4);
    cr_expect_eq(wye_csvin_find(r, "id"), 0);
    cr_expect_eq(wye_csvin_find(r, "DOB"), 2);
    cr_expect_eq(wye_csvin_find(r, "Name"), -2);
    cr_expect_eq(wye_csvin_find(r, "dob"), -1);
    cr_expect_eq(wye_csvin_column_name(r, 9), NULL);
    wye_csv_row row;
    cr_expect_eq(wye_csvin_next(r, &row, NULL), 0);
    cr_expect_eq(wye_csvin_next(r, &row, NULL), 0);
    wye_csvin_free(r);
}

Test(csvin, record_numbers)
{
    const char in[] = "id\n1\n\n2\n3\n";
    wye_memsource m = {(const uint8_t *)in, sizeof in - 1, 0};
    wye_csvin *r;
    wye_csv_row row;
    cr_assert_eq(wye_csvin_open(wye_source_memory(&m), WYE_CSV_UTF8, &r, NULL), WYE_OK);
    for (uint64_t k = 1; k <= 3; k++) {
        cr_assert_eq(wye_csvin_next(r, &row, NULL), 1);
        cr_expect_eq(row.number, k);
    }
    wye_csvin_free(r);
}

static ssize_t failing_read(void *ctx, void *buf, size_t n)
{
    int *calls = ctx;
    if ((*calls)++ == 0) {
        memcpy(buf, "id\n1\n", n < 5 ? n : 5);
        return n < 5 ? (ssize_t)n : 5;
    }
    return WYE_EIO;
}

Test(csvin, source_error)
{
    int calls = 0;
    wye_source src = {failing_read, &calls};
    wye_csvin *r;
    wye_diag d;
    int rc = wye_csvin_open(src, WYE_CSV_UTF8, &r, &d);
    if (rc == WYE_OK) {
        wye_csv_row row;
        rc = wye_csvin_next(r, &row, &d);
        if (rc == 1)
            rc = wye_csvin_next(r, &row, &d);
        wye_csvin_free(r);
    }
    cr_expect_eq(rc, WYE_EIO);
}

/* UTF-8 validation skips plain ASCII eight bytes at a time: it must accept
 * and refuse exactly what a byte-by-byte check does, wherever a NUL, an
 * invalid byte or a multi-byte sequence falls in a long ASCII run and
 * wherever a chunk boundary cuts it. A 1-byte step never takes the 8-byte
 * path, so it is the reference. */
static void expect_csv_steps(const char *in, size_t size, const char *want)
{
    static const size_t steps[] = {1, 2, 3, 5, 7, 8, 9, 13, 17, 1 << 20};
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++)
        cr_expect_str_eq(dump_step(in, size, WYE_CSV_UTF8, steps[s]), want, "step %zu",
                         steps[s]);
}

#define CSV_STEPS(s, want) expect_csv_steps(s, sizeof(s) - 1, want)

Test(csvin, utf8_after_long_ascii_runs)
{
    /* multi-byte sequences between long ASCII runs: accepted */
    CSV_STEPS("id,name\n1,abcdefghij\xC3\xA9klmnopqrstu\xE2\x82\xACvwxyzabcdefgh"
              "\xF0\x9F\x98\x80ijklmnopq\n2,abcdefgh\n",
              "H:[id|name]\nL2:[1|abcdefghij\xC3\xA9klmnopqrstu\xE2\x82\xACvwxyzabcdefgh"
              "\xF0\x9F\x98\x80ijklmnopq]\nL3:[2|abcdefgh]\n");
    /* a NUL, an invalid byte, a stray continuation byte, a sequence cut by
     * ASCII, a surrogate: each after 8 or more ASCII bytes, refused on its
     * line */
    CSV_STEPS("id\n1\nabcdefghijklmnop\0q\n", "H:[id]\nL2:[1]\nERR -14 3");
    CSV_STEPS("id\n1\nabcdefgh\0ijklmnop\n", "H:[id]\nL2:[1]\nERR -14 3");
    CSV_STEPS("id\n1\nabcdefghijklmnop\xFFq\n", "H:[id]\nL2:[1]\nERR -15 3");
    CSV_STEPS("id\n1\nabcdefghijk\x80lmnopqrstu\n", "H:[id]\nL2:[1]\nERR -15 3");
    CSV_STEPS("id\n1\nabcdefghij\xE2\x82klmnopqrstu\n", "H:[id]\nL2:[1]\nERR -15 3");
    CSV_STEPS("id\n1\nabcdefghij\xC3" "abcdefghijklmnop\n", "H:[id]\nL2:[1]\nERR -15 3");
    /* ... even when a continuation byte follows the 8 ASCII bytes */
    CSV_STEPS("id\n1\nabcdefghij\xC3" "abcdefgh\xA9klm\n", "H:[id]\nL2:[1]\nERR -15 3");
    CSV_STEPS("id\n1\nabcdefghij\xE2\x82" "abcdefgh\xACklm\n", "H:[id]\nL2:[1]\nERR -15 3");
    CSV_STEPS("id\n1\nabcdefghij\xED\xA0\x80klmnopqrstu\n", "H:[id]\nL2:[1]\nERR -15 3");
    /* a NUL at every offset of a 24-byte ASCII run */
    for (size_t k = 0; k < 24; k++) {
        char in[64] = "id\n1\n";
        size_t o = strlen(in);
        memset(in + o, 'a', 24);
        in[o + k] = 0;
        in[o + 24] = '\n';
        expect_csv_steps(in, o + 25, "H:[id]\nL2:[1]\nERR -14 3");
    }
}

/* Random lines of ASCII runs, NULs, valid and broken multi-byte sequences:
 * every chunk size gives what the byte-by-byte check gives. */
Test(csvin, utf8_fast_path_agrees_with_bytewise)
{
    static const char *const pieces[] = {
        "abcdefgh", "ijklmnopqrs", "t", "uv,w", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
        "\xC3", "\xE2\x82", "\x80", "\xFF", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
        "\x7F\x01", ""};
    const size_t npieces = sizeof pieces / sizeof pieces[0];
    uint64_t x = 0x243f6a8885a308d3ull;
    unsigned accepted = 0;
    for (unsigned round = 0; round < 400; round++) {
        char in[512] = "id,v\n1,";
        size_t o = strlen(in);
        for (int p = 0; p < 8; p++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* mostly ASCII, now and then something else */
            const char *s = x % 4 ? pieces[x % 4] : pieces[(x >> 8) % npieces];
            size_t n = strlen(s);
            if ((x >> 20) % 29 == 0) /* a NUL */
                in[o++] = 0;
            memcpy(in + o, s, n);
            o += n;
        }
        in[o++] = '\n';
        char *want = strdup(dump_step(in, o, WYE_CSV_UTF8, 1));
        accepted += strstr(want, "ERR") == NULL;
        static const size_t steps[] = {3, 8, 11, 1 << 20};
        for (size_t s = 0; s < 4; s++)
            cr_expect_str_eq(dump_step(in, o, WYE_CSV_UTF8, steps[s]), want, "round %u step %zu",
                             round, steps[s]);
        free(want);
    }
    /* both outcomes were exercised */
    cr_expect(accepted > 40 && accepted < 360, "accepted %u of 400", accepted);
}
