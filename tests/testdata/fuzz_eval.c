/* Fuzz harness for the evaluator's CSV readers (testdata/eval.c).
 *
 * libFuzzer:  clang -fsanitize=fuzzer,address,undefined -DWYE_LIBFUZZER ...
 * Otherwise:  fuzz_eval CORPUS_DIR replays every file of the folder.
 *
 * The input is read as the truth, then as police's local map, then as the
 * persons (a header "agency,local_id,record,person" suits all three), once
 * in one piece and once in pieces of 1 to 7 bytes: the verdicts and results
 * must agree, and a result must be a consistent one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_replay.h"
#include "wyelink/eval.h"
#include "wyelink/io.h"

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "fuzz_eval: invariant failed: %s (line %d)\n", #cond,       \
                    __LINE__);                                                         \
            abort();                                                                   \
        }                                                                              \
    } while (0)

typedef struct dribble {
    const uint8_t *data;
    size_t size, pos;
    unsigned step;
} dribble;

static ssize_t dribble_read(void *ctx, void *buf, size_t n)
{
    dribble *d = ctx;
    size_t want = 1 + d->step++ % 7;
    if (want > n)
        want = n;
    if (want > d->size - d->pos)
        want = d->size - d->pos;
    memcpy(buf, d->data + d->pos, want);
    d->pos += want;
    return (ssize_t)want;
}

static wye_source source(const uint8_t *data, size_t size, int pieces, wye_memsource *m,
                         dribble *d)
{
    if (pieces) {
        *d = (dribble){data, size, 0, 0};
        return (wye_source){dribble_read, d};
    }
    *m = (wye_memsource){data, size, 0};
    return wye_source_memory(m);
}

/* Returns the first failing code (or 0) and fills r when all steps pass. */
static int once(const uint8_t *data, size_t size, int pieces, wye_eval_result *r, int *step,
                wye_diag *diag)
{
    wye_eval *e = NULL;
    wye_memsource m;
    dribble d;
    CHECK(wye_eval_new(&e) == WYE_OK);
    int rc;
    *step = 0;
    if (!(rc = wye_eval_read_truth(e, source(data, size, pieces, &m, &d), diag))) {
        *step = 1;
        if (!(rc = wye_eval_read_local_map(e, "police", source(data, size, pieces, &m, &d),
                                           diag))) {
            *step = 2;
            if (!(rc = wye_eval_read_persons(e, source(data, size, pieces, &m, &d), diag))) {
                *step = 3;
                rc = wye_eval_compute(e, r);
            }
        }
    }
    wye_eval_free(e);
    return rc;
}

/* A known defect (bench/fuzz/crashes/README.md, eval-code): when a row error
 * and a later quote out of place arrive in the same read, the reader returns
 * WYE_ECSV with the row error's diagnostic, so the code depends on how the
 * bytes arrive. WYE_FUZZ_KNOWN=eval-code lets a long run fuzz past it (the
 * diagnostics must still agree); the replay tests never set it. */
static int known_code_mixup(int ra, int rb, const wye_diag *da, const wye_diag *db)
{
    static int allowed = -1;
    if (allowed < 0) {
        const char *k = getenv("WYE_FUZZ_KNOWN");
        allowed = k && strstr(k, "eval-code") != NULL;
    }
    return allowed && ra && rb && (ra == WYE_ECSV || rb == WYE_ECSV) && da->line == db->line &&
           !strcmp(da->field, db->field) && !strcmp(da->reason, db->reason);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wye_eval_result a, b;
    wye_diag da, db;
    int sa, sb;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    int ra = once(data, size, 0, &a, &sa, &da);
    int rb = once(data, size, 1, &b, &sb, &db);
    CHECK(sa == sb);
    CHECK(ra == rb || known_code_mixup(ra, rb, &da, &db));
    CHECK(ra <= 0 && ra >= WYE_ELAST && rb <= 0 && rb >= WYE_ELAST);
    if (ra) {
        CHECK(da.line == db.line && !strcmp(da.field, db.field));
        return 0;
    }
    CHECK(!memcmp(&a, &b, sizeof a));
    CHECK(a.correct_pairs <= a.predicted_pairs && a.correct_pairs <= a.true_pairs);
    CHECK(a.precision >= 0 && a.precision <= 1 && a.recall >= 0 && a.recall <= 1);
    CHECK(a.f1 >= 0 && a.f1 <= 1);
    CHECK(a.true_persons <= a.records && a.predicted_persons <= a.records);
    CHECK(a.not_encoded + a.not_linked <= a.records);
    return 0;
}

#ifndef WYE_LIBFUZZER
/* Every seed must only hold the invariants (it has no verdict of its own). */
static int check(const uint8_t *data, size_t size) { return LLVMFuzzerTestOneInput(data, size); }

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_eval CORPUS_DIR\n");
        return 2;
    }
    return wye_fuzz_replay(argv[1], 1 << 24, check, NULL, 0);
}
#endif
