#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wyelink/io.h"
#include "wyelink/keys.h"

static char dir[] = "/tmp/wye_test_io_XXXXXX";

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(wye_crypto_init(), WYE_OK);
}

TestSuite(io, .init = setup);

Test(io, memory_source_reads_exactly_and_reports_truncation)
{
    const uint8_t data[] = "abcdef";
    wye_memsource m = {data, 6, 0};
    wye_source s = wye_source_memory(&m);
    uint8_t buf[8];
    cr_assert_eq(wye_source_read_full(&s, buf, 4), WYE_OK);
    cr_assert_eq(memcmp(buf, "abcd", 4), 0);
    cr_assert_eq(wye_source_read_full(&s, buf, 4), WYE_ETRUNCATED);
}

Test(io, memory_sink_grows)
{
    wye_membuf b = {0};
    wye_sink s = wye_sink_memory(&b);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(s.write(s.ctx, "0123456789", 10), WYE_OK);
    cr_assert_eq(b.size, 10000);
    cr_assert_eq(memcmp(b.data + 9990, "0123456789", 10), 0);
    free(b.data);
}

Test(io, atomic_commit_renames_and_abort_leaves_nothing)
{
    char path[256], cmd[300];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    wye_atomic *a;
    cr_assert_eq(wye_atomic_open(path, 0600, 1, &a), WYE_OK);
    fputs("hello", wye_atomic_file(a));
    cr_assert_eq(access(path, F_OK), -1, "visible before commit");
    cr_assert_eq(wye_atomic_commit(a), WYE_OK);
    char *text;
    size_t len;
    cr_assert_eq(wye_read_file(path, 100, &text, &len), WYE_OK);
    cr_assert_str_eq(text, "hello");
    free(text);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(wye_file_is_private(path), 1);

    cr_assert_eq(wye_atomic_open(path, 0600, 1, &a), WYE_EEXIST);
    cr_assert_eq(wye_atomic_open(path, 0644, 0, &a), WYE_OK);
    fputs("half-written", wye_atomic_file(a));
    wye_atomic_abort(a);
    cr_assert_eq(wye_read_file(path, 100, &text, &len), WYE_OK);
    cr_assert_str_eq(text, "hello", "abort must not touch the old file");
    free(text);
    snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1", dir);
    cr_assert_eq(system(cmd), 0, "temporary file left behind");
    chmod(path, 0640);
    cr_assert_eq(wye_file_is_private(path), 0);
}

Test(io, file_digest_is_blake2b_256)
{
    char path[256];
    snprintf(path, sizeof path, "%s/abc.txt", dir);
    FILE *f = fopen(path, "wb");
    fputs("abc", f);
    fclose(f);
    uint8_t d[32];
    char hex[65];
    cr_assert_eq(wye_file_digest(path, d), WYE_OK);
    wye_hex(d, 32, hex);
    /* BLAKE2b-256("abc"), RFC 7693 parameters with 32-byte output. */
    cr_assert_str_eq(hex, "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
    cr_assert_eq(wye_read_file("/nonexistent/x", 10, &(char *){0}, NULL), WYE_ENOTFOUND);
}
