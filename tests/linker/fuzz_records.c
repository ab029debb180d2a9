/* Fuzz harness for the linker's handling of record contents: the bytes of
 * records inside an authentic encoded file are still outside input (an agency
 * could send anything), so any bytes must link without a crash and with the
 * invariants below.
 *
 * The input: byte 0 (mod 3, plus 1) is the number of agencies, the rest is cut
 * into records of the default protocol's layout, dealt to the agencies in
 * turn. The whole linkage runs on them (blocking, EM, thresholds, clustering,
 * all three writers).
 *
 * libFuzzer:  clang -fsanitize=fuzzer,address,undefined -DWYE_LIBFUZZER ...
 * Otherwise:  fuzz_records CORPUS_DIR replays every file of the folder;
 *             fuzz_records --make-seeds DIR writes the seed corpus. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "fuzz_replay.h"
#include "wyelink/linkage.h"
#include "wyelink/records.h"

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "fuzz_records: invariant failed: %s (line %d)\n", #cond, \
                    __LINE__);                                                        \
            abort();                                                                  \
        }                                                                             \
    } while (0)

static wye_protocol *proto;

static void load_protocol(void)
{
    if (proto)
        return;
    proto = fx_default_protocol();
    if (!proto) {
#ifdef WYE_DEFAULT_PROTOCOL
        wye_diag d;
        wye_protocol_load(WYE_DEFAULT_PROTOCOL, &proto, &d);
#endif
    }
    CHECK(proto != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load_protocol();
    if (size < 1)
        return 0;
    size_t rs = wye_protocol_layout(proto)->record_size;
    size_t nag = (size_t)data[0] % 3 + 1;
    size_t n = (size - 1) / rs;
    if (n > 200)
        n = 200;
    wye_recset *s;
    CHECK(wye_recset_new(proto, NULL, &s) == WYE_OK);
    uint8_t *buf = malloc(n * rs + 1);
    CHECK(buf);
    for (size_t a = 0; a < nag; a++) {
        size_t k = 0;
        for (size_t i = a; i < n; i += nag)
            memcpy(buf + rs * k++, data + 1 + rs * i, rs);
        char name[8];
        snprintf(name, sizeof name, "ag%zu", a);
        CHECK(wye_recset_add_records(s, name, name, NULL, buf, k, NULL) == WYE_OK);
    }
    free(buf);
    CHECK(wye_recset_finish(s, 1) == WYE_OK);
    wye_link_params lp;
    wye_link_default_params(&lp);
    lp.threads = 1;
    lp.u_samples = 10000;
    lp.blocking.exhaustive = data[0] >= 128;
    wye_linkage *l;
    int rc = wye_link_run(s, &lp, &l, NULL);
    CHECK(rc == WYE_OK);
    const wye_link_stats *st = wye_linkage_stats(l);
    CHECK(st->records == n);
    CHECK(st->persons >= (n ? 1 : 0) && st->persons <= n);
    CHECK(st->candidates <= st->all_pairs);
    for (size_t i = 0; i < n; i++) {
        uint32_t p = wye_linkage_person(l, i);
        CHECK(p >= 1 && p <= st->persons);
    }
    for (size_t k = 0; k < wye_linkage_npairs(l); k++) {
        const wye_link_pair *pp = wye_linkage_pair(l, k);
        CHECK(pp->a < pp->b && pp->b < n);
        CHECK(pp->score >= st->possible);
        CHECK(pp->decision >= 0 && pp->decision <= 2);
        if (k)
            CHECK(wye_linkage_pair(l, k - 1)->a < pp->a ||
                  (wye_linkage_pair(l, k - 1)->a == pp->a && wye_linkage_pair(l, k - 1)->b < pp->b));
        if (pp->decision == 0)
            CHECK(wye_linkage_person(l, pp->a) == wye_linkage_person(l, pp->b));
    }
    FILE *f = fopen("/dev/null", "w");
    CHECK(f);
    CHECK(wye_linkage_write_persons(l, f) == WYE_OK);
    CHECK(wye_linkage_write_pairs(l, f) == WYE_OK);
    CHECK(wye_linkage_write_summary(l, f, data[0] & 1) == WYE_OK);
    fclose(f);
    wye_linkage_free(l);
    wye_recset_free(s);
    return 0;
}

#ifndef WYE_LIBFUZZER
static int make_seeds(const char *dir)
{
    load_protocol();
    size_t rs = wye_protocol_layout(proto)->record_size;
    const fx_person people[] = {
        {"SARAH", NULL, "JONES", NULL, "19900102", "F", "WR1 2AB", "9434765919"},
        {"SARAH", NULL, "JONES", NULL, "19900102", "F", NULL, NULL},
        {"JONES", NULL, "SARAH", NULL, NULL, "F", "WR1 2AB", NULL},
        {"SARA", "LOUISE", "PRICE", "JONES", "19900102", "F", "HR4 9ZZ", NULL},
        {"EMMA", NULL, "SMITH", NULL, "19851212", "F", "HR1 1AA", "4010232137"},
        {"EMMA", NULL, "SMITH", NULL, "19851212", "F", "HR1 1AA", "4010232137"},
        {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
        {"ZARA", NULL, "WOOD", NULL, "20010709", "X", NULL, NULL},
    };
    size_t np = sizeof people / sizeof people[0];
    uint8_t *buf = calloc(1 + np * rs, 1);
    for (int variant = 0; variant < 3; variant++) {
        buf[0] = (uint8_t)(variant == 2 ? 130 : variant); /* 130: exhaustive */
        for (size_t i = 0; i < np; i++) {
            char id[8];
            snprintf(id, sizeof id, "p%zu", i);
            fx_encode(proto, &people[i], id, buf + 1 + i * rs);
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/people_%d", dir, variant);
        FILE *f = fopen(path, "wb");
        CHECK(f && fwrite(buf, 1, 1 + np * rs, f) == 1 + np * rs);
        fclose(f);
    }
    /* all ones: every field present, every bit set */
    memset(buf, 0xff, 1 + np * rs);
    char path[4096];
    snprintf(path, sizeof path, "%s/all_ones", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(buf, 1, 1 + 3 * rs, f) == 1 + 3 * rs);
    fclose(f);
    snprintf(path, sizeof path, "%s/one_byte", dir);
    f = fopen(path, "wb");
    CHECK(f && fwrite("\x01", 1, 1, f) == 1);
    fclose(f);
    free(buf);
    return 0;
}

/* Every seed must only hold the invariants (it has no verdict of its own). */
static int check(const uint8_t *data, size_t size) { return LLVMFuzzerTestOneInput(data, size); }

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--make-seeds"))
        return make_seeds(argv[2]);
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_records CORPUS_DIR | --make-seeds DIR\n");
        return 2;
    }
    int status = wye_fuzz_replay(argv[1], 1u << 20, check, NULL, 0);
    wye_protocol_free(proto);
    return status;
}
#endif
