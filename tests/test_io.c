#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* ---- errors of writes ------------------------------------------------- */

Test(io, a_full_device_is_no_space_not_an_io_error)
{
    cr_assert_eq(wye_io_write_error(ENOSPC), WYE_ENOSPC);
    cr_assert_eq(wye_io_write_error(EDQUOT), WYE_ENOSPC);
    cr_assert_eq(wye_io_write_error(EIO), WYE_EIO);
    cr_assert_eq(wye_io_write_error(EFBIG), WYE_EIO);
    FILE *f = fopen("/dev/full", "wb");
    cr_assert_not_null(f);
    setvbuf(f, NULL, _IONBF, 0);
    wye_sink s = wye_sink_file(f);
    cr_assert_eq(s.write(s.ctx, "x", 1), WYE_ENOSPC);
    fclose(f);
}

/* ---- output sets -------------------------------------------------------- */

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static void expect_text(const char *path, const char *want)
{
    char *text;
    size_t len;
    cr_assert_eq(wye_read_file(path, 1 << 20, &text, &len), WYE_OK, "%s missing", path);
    cr_assert_str_eq(text, want, "%s", path);
    free(text);
}

/* The names in folder d, sorted, joined by spaces. */
static void listing(const char *d, char *out, size_t n)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | sort | tr '\\n' ' '", d);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t got = fread(out, 1, n - 1, p);
    out[got] = '\0';
    pclose(p);
}

static void subdir(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
    cr_assert_eq(mkdir(out, 0700), 0);
}

Test(io, an_output_set_appears_together_or_not_at_all)
{
    char d1[300], d2[300], a[400], b[400], ls[1000];
    subdir(d1, sizeof d1, "one");
    subdir(d2, sizeof d2, "two");
    snprintf(a, sizeof a, "%s/persons.csv", d1);
    snprintf(b, sizeof b, "%s/summary.json", d2);
    put(a, "old a");
    put(b, "old b");

    wye_outset *s;
    wye_atomic *fa, *fb;
    cr_assert_eq(wye_outset_new(&s), WYE_OK);
    cr_assert_eq(wye_outset_open(s, a, 0600, &fa), WYE_OK);
    cr_assert_eq(wye_outset_open(s, b, 0644, &fb), WYE_OK);
    cr_assert_eq(wye_outset_open(s, a, 0600, &(wye_atomic *){0}), WYE_EEXIST,
                 "one path, one output");
    fputs("new a", wye_atomic_file(fa));
    fputs("new b", wye_atomic_file(fb));
    cr_assert_eq(wye_atomic_commit(fa), WYE_ESTATE, "a member is committed by its set");
    cr_assert_eq(wye_outset_prepare(s), WYE_OK);
    /* prepared: the bytes are final in the temp file, nothing is in place */
    expect_text(wye_atomic_temp_path(fa), "new a");
    expect_text(a, "old a");
    expect_text(b, "old b");
    wye_outset_abort(s);
    expect_text(a, "old a");
    expect_text(b, "old b");
    listing(d1, ls, sizeof ls);
    cr_assert_str_eq(ls, "persons.csv ", "abort leaves nothing: %s", ls);

    cr_assert_eq(wye_outset_new(&s), WYE_OK);
    cr_assert_eq(wye_outset_open(s, a, 0600, &fa), WYE_OK);
    cr_assert_eq(wye_outset_open(s, b, 0644, &fb), WYE_OK);
    fputs("new a", wye_atomic_file(fa));
    fputs("new b", wye_atomic_file(fb));
    cr_assert_eq(wye_outset_commit(s), WYE_OK);
    expect_text(a, "new a");
    expect_text(b, "new b");
    struct stat st;
    cr_assert_eq(stat(b, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0644);
    listing(d1, ls, sizeof ls);
    cr_assert_str_eq(ls, "persons.csv ", "no journal or temp file left: %s", ls);
    listing(d2, ls, sizeof ls);
    cr_assert_str_eq(ls, "summary.json ", "no journal or temp file left: %s", ls);
    wye_outset_abort(NULL);
}

/* Write a journal in the documented format (io.h) for the pairs given. */
static void write_journal(const char *journal, const char *const *tmp, const char *const *fin,
                          size_t n)
{
    FILE *f = fopen(journal, "wb");
    cr_assert_not_null(f);
    fprintf(f, "wyelink-outset 1\n%zu\n", n);
    for (size_t i = 0; i < n; i++) {
        fwrite(tmp[i], 1, strlen(tmp[i]) + 1, f);
        fwrite(fin[i], 1, strlen(fin[i]) + 1, f);
    }
    fputs("end\n", f);
    fclose(f);
}

/* Absolute paths (the journal holds them); dir is absolute already. */
typedef struct crashed {
    char d[300], fin[2][400], tmp[2][400], jr[2][400];
} crashed;

static void crashed_set(crashed *c, const char *name)
{
    subdir(c->d, sizeof c->d, name);
    const char *base[2] = {"pairs.csv", "summary.json"};
    for (int i = 0; i < 2; i++) {
        snprintf(c->fin[i], sizeof c->fin[i], "%s/%s", c->d, base[i]);
        snprintf(c->tmp[i], sizeof c->tmp[i], "%s/.%s.~tmp.AbC12%d", c->d, base[i], i);
        snprintf(c->jr[i], sizeof c->jr[i], "%s/.%s.~set", c->d, base[i]);
        put(c->fin[i], "old");
        put(c->tmp[i], "new");
    }
}

Test(io, recovery_completes_a_set_whose_commit_a_crash_interrupted)
{
    /* The crash came after both journals and the first rename. */
    crashed c;
    crashed_set(&c, "mid-rename");
    const char *t[2] = {c.tmp[0], c.tmp[1]}, *f[2] = {c.fin[0], c.fin[1]};
    write_journal(c.jr[0], t, f, 2);
    write_journal(c.jr[1], t, f, 2);
    cr_assert_eq(rename(c.tmp[0], c.fin[0]), 0);
    /* recovering either member completes both */
    cr_assert_eq(wye_output_recover(c.fin[1]), WYE_OK);
    expect_text(c.fin[0], "new");
    expect_text(c.fin[1], "new");
    char ls[1000];
    listing(c.d, ls, sizeof ls);
    cr_assert_str_eq(ls, "pairs.csv summary.json ", "%s", ls);
    cr_assert_eq(wye_output_recover(c.fin[0]), WYE_OK, "nothing left to do");

    /* The crash came after the renames, while the journals were removed. */
    crashed e;
    crashed_set(&e, "cleanup");
    const char *te[2] = {e.tmp[0], e.tmp[1]}, *fe[2] = {e.fin[0], e.fin[1]};
    write_journal(e.jr[1], te, fe, 2);
    cr_assert_eq(rename(e.tmp[0], e.fin[0]), 0);
    cr_assert_eq(rename(e.tmp[1], e.fin[1]), 0);
    cr_assert_eq(wye_output_recover(e.fin[1]), WYE_OK);
    listing(e.d, ls, sizeof ls);
    cr_assert_str_eq(ls, "pairs.csv summary.json ", "%s", ls);
}

Test(io, recovery_rolls_back_a_set_whose_journals_were_not_all_written)
{
    /* The crash came while the journals were written: the first is in
     * place, the second is not; no output was renamed. */
    crashed c;
    crashed_set(&c, "journals");
    const char *t[2] = {c.tmp[0], c.tmp[1]}, *f[2] = {c.fin[0], c.fin[1]};
    write_journal(c.jr[0], t, f, 2);
    /* in any order: the member without a journal first (its temp file is
     * stale and goes), then the other */
    cr_assert_eq(wye_output_recover(c.fin[1]), WYE_OK);
    cr_assert_eq(wye_output_recover(c.fin[0]), WYE_OK);
    expect_text(c.fin[0], "old");
    expect_text(c.fin[1], "old");
    char ls[1000];
    listing(c.d, ls, sizeof ls);
    cr_assert_str_eq(ls, "pairs.csv summary.json ", "%s", ls);
}

Test(io, recovery_refuses_a_journal_it_did_not_write)
{
    crashed c;
    crashed_set(&c, "bad");
    put(c.jr[0], "wyelink-outset 1\n2\nnot a journal");
    cr_assert_eq(wye_output_recover(c.fin[0]), WYE_EFORMAT);
    expect_text(c.tmp[0], "new"); /* nothing touched */
    expect_text(c.fin[0], "old");
    /* a journal beside an output that does not name it */
    const char *t[1] = {c.tmp[1]}, *f[1] = {c.fin[1]};
    write_journal(c.jr[0], t, f, 1);
    cr_assert_eq(wye_output_recover(c.fin[0]), WYE_EFORMAT);
    expect_text(c.fin[1], "old");
}

Test(io, recovery_removes_stale_temp_files_but_not_live_ones)
{
    char d[300], out[400], stale[400], stale_j[400], other[400], ls[1000];
    subdir(d, sizeof d, "stale");
    snprintf(out, sizeof out, "%s/out.wye", d);
    snprintf(stale, sizeof stale, "%s/.out.wye.~tmp.Zz9Yy8", d);
    snprintf(stale_j, sizeof stale_j, "%s/..out.wye.~set.~tmp.Qq1Ww2", d);
    snprintf(other, sizeof other, "%s/.other.wye.~tmp.Zz9Yy8", d);
    put(stale, "left by a SIGKILL");
    put(stale_j, "left by a SIGKILL");
    put(other, "another output's: not ours to remove");
    /* a live run's temp file (held under its lock) */
    wye_atomic *live;
    cr_assert_eq(wye_atomic_open(out, 0600, 0, &live), WYE_OK);
    fputs("being written", wye_atomic_file(live));
    cr_assert_eq(wye_output_recover(out), WYE_OK);
    cr_assert_eq(access(stale, F_OK), -1, "stale temp file kept");
    cr_assert_eq(access(stale_j, F_OK), -1, "stale journal temp file kept");
    cr_assert_eq(access(other, F_OK), 0);
    cr_assert_eq(access(wye_atomic_temp_path(live), F_OK), 0, "a live temp file was removed");
    cr_assert_eq(wye_atomic_commit(live), WYE_OK);
    expect_text(out, "being written");
    listing(d, ls, sizeof ls);
    cr_assert_str_eq(ls, ".other.wye.~tmp.Zz9Yy8 out.wye ", "%s", ls);
    cr_assert_eq(wye_output_recover("/nonexistent-folder/x"), WYE_OK, "nothing to recover");
}

Test(io, a_live_process_keeps_its_temp_files_from_another_process_recovery)
{
    char d[300], out[400];
    subdir(d, sizeof d, "twoproc");
    snprintf(out, sizeof out, "%s/out.csv", d);
    wye_atomic *live;
    cr_assert_eq(wye_atomic_open(out, 0600, 0, &live), WYE_OK);
    pid_t pid = fork();
    if (pid == 0)
        _exit(wye_output_recover(out) == WYE_OK ? 0 : 1);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    cr_assert_eq(access(wye_atomic_temp_path(live), F_OK), 0, "removed by the other process");
    wye_atomic_abort(live);
}

Test(io, remove_temps_unlinks_every_open_temp_file)
{
    char d[300], a[400], b[400], ls[1000];
    subdir(d, sizeof d, "signal");
    snprintf(a, sizeof a, "%s/a", d);
    snprintf(b, sizeof b, "%s/b", d);
    wye_atomic *fa, *fb;
    cr_assert_eq(wye_atomic_open(a, 0600, 0, &fa), WYE_OK);
    wye_outset *s;
    cr_assert_eq(wye_outset_new(&s), WYE_OK);
    cr_assert_eq(wye_outset_open(s, b, 0600, &fb), WYE_OK);
    listing(d, ls, sizeof ls);
    cr_assert_neq(strcmp(ls, ""), 0);
    wye_io_remove_temps();
    listing(d, ls, sizeof ls);
    cr_assert_str_eq(ls, "", "left: %s", ls);
    wye_atomic_abort(fa);
    wye_outset_abort(s);
}

/* A child commits sets in a loop and is killed with SIGKILL at a random
 * moment: whatever the moment, after recovery both outputs hold the same
 * generation and nothing else is left. */
Test(io, a_set_killed_at_any_moment_recovers_to_one_generation)
{
    char d[300], a[400], b[400], ls[1000];
    subdir(d, sizeof d, "kill");
    snprintf(a, sizeof a, "%s/a", d);
    snprintf(b, sizeof b, "%s/b", d);
    put(a, "0");
    put(b, "0");
    for (int round = 0; round < 20; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            for (int gen = 1;; gen++) {
                wye_outset *s;
                wye_atomic *fa, *fb;
                if (wye_output_recover(a) || wye_output_recover(b) || wye_outset_new(&s) ||
                    wye_outset_open(s, a, 0600, &fa) || wye_outset_open(s, b, 0600, &fb))
                    _exit(2);
                fprintf(wye_atomic_file(fa), "%d", gen);
                fprintf(wye_atomic_file(fb), "%d", gen);
                if (wye_outset_commit(s))
                    _exit(3);
            }
        }
        usleep(2000 + (unsigned)(round * 1777) % 20000);
        kill(pid, SIGKILL);
        int st;
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        cr_assert(WIFSIGNALED(st), "the child failed: %d", WEXITSTATUS(st));
        cr_assert_eq(wye_output_recover(a), WYE_OK);
        cr_assert_eq(wye_output_recover(b), WYE_OK);
        char *ta, *tb;
        cr_assert_eq(wye_read_file(a, 100, &ta, NULL), WYE_OK);
        cr_assert_eq(wye_read_file(b, 100, &tb, NULL), WYE_OK);
        cr_assert_str_eq(ta, tb, "round %d: a set split across generations", round);
        free(ta);
        free(tb);
        listing(d, ls, sizeof ls);
        cr_assert_str_eq(ls, "a b ", "round %d: left: %s", round, ls);
    }
}
