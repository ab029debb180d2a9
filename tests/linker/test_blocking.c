/* Blocking: each candidate pair exactly once over all parts, exactly the
 * pairs that share a kept block; digests block; exhaustive gives every pair;
 * the same parts and pairs for any thread count; oversized blocks dropped. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "fixture.h"
#include "wyelink/blocking.h"
#include "wyelink/records.h"

static wye_protocol *proto;
static wye_recset *set;
static const wye_recview *view;

#define N 400

static const char *given[] = {"SARAH", "EMMA", "OLIVIA", "AMELIA", "JESSICA", "CHLOE", "LAUREN",
                              "HANNAH"};
static const char *family[] = {"SMITH", "JONES", "TAYLOR", "BROWN", "WILLIAMS", "WILSON",
                               "JOHNSON", "DAVIES", "EVANS", "HALL", "WOOD"};

static void setup(void)
{
    proto = fx_default_protocol();
    cr_assert(proto);
    const wye_layout *lay = wye_protocol_layout(proto);
    uint8_t *buf = calloc(N, lay->record_size);
    for (int i = 0; i < N; i++) {
        /* people repeat every 150 records; dates of birth come from a small
         * set so that digest blocks have several members */
        int p = i % 150;
        char dob[9], pc[9], nhs[11];
        snprintf(dob, sizeof dob, "19%02d%02d%02d", 60 + p % 7, 1 + p % 12, 1 + p % 5);
        snprintf(pc, sizeof pc, "HR%d %dAB", 1 + p % 9, p % 10);
        snprintf(nhs, sizeof nhs, "%010d", 1000 + p);
        fx_person fp = {given[p % 8], NULL, family[p % 11], NULL, i % 13 == 5 ? NULL : dob, "F",
                        pc, i % 3 ? NULL : nhs};
        char id[16];
        snprintf(id, sizeof id, "r%d", i);
        fx_encode(proto, &fp, id, buf + (size_t)i * lay->record_size);
    }
    cr_assert_eq(wye_recset_new(proto, NULL, &set), WYE_OK);
    cr_assert_eq(wye_recset_add_records(set, "a", "a.wye", NULL, buf, N / 2, NULL), WYE_OK);
    cr_assert_eq(wye_recset_add_records(set, "b", "b.wye", NULL, buf + (N / 2) * lay->record_size,
                                        N / 2, NULL),
                 WYE_OK);
    cr_assert_eq(wye_recset_finish(set, 1), WYE_OK);
    view = wye_recset_view(set);
    free(buf);
}

static void teardown(void)
{
    wye_recset_free(set);
    wye_protocol_free(proto);
}

TestSuite(blocking, .init = setup, .fini = teardown);

typedef struct seen {
    uint8_t *count; /* N * N */
    uint32_t *order;
    size_t n;
} seen;

static int note(void *ctx, uint32_t a, uint32_t b)
{
    seen *s = ctx;
    cr_assert(a < b && b < N);
    s->count[a * N + b]++;
    s->order[2 * s->n] = a;
    s->order[2 * s->n + 1] = b;
    s->n++;
    return 0;
}

static seen walk(const wye_blocks *b)
{
    seen s = {calloc(N * N, 1), malloc(N * N * 2 * sizeof(uint32_t)), 0};
    for (size_t p = 0; p < wye_blocks_nparts(b); p++)
        cr_assert_eq(wye_blocks_pairs(b, p, note, &s), WYE_OK);
    return s;
}

Test(blocking, each_candidate_once)
{
    wye_blocking_params bp;
    wye_blocking_default_params(&bp);
    wye_blocks *b;
    cr_assert_eq(wye_blocks_build(view, &bp, 1, &b), WYE_OK);
    seen s = walk(b);
    size_t cand = 0;
    for (uint32_t x = 0; x < N; x++)
        for (uint32_t y = x + 1; y < N; y++) {
            bool c = wye_blocks_is_candidate(b, x, y);
            cr_assert_eq(s.count[x * N + y], c ? 1 : 0, "pair %u %u", x, y);
            cand += c;
        }
    cr_assert_eq(s.n, cand);
    cr_assert(cand > 0 && cand < N * (N - 1) / 2);
    /* the same person's records (i and i + 150) are always candidates: their
     * encodings are identical; so are records with their names swapped */
    for (uint32_t i = 0; i + 150 < N; i++)
        cr_assert(wye_blocks_is_candidate(b, i, i + 150));
    /* records with equal date-of-birth digests share a block */
    const wye_layout *lay = view->layout;
    int dob = wye_protocol_field_index(proto, "date_of_birth");
    for (uint32_t x = 0; x < N; x++)
        for (uint32_t y = x + 1; y < N; y++) {
            uint64_t dx, dy;
            memcpy(&dx, wye_rec(view, x) + lay->digest_off[dob], 8);
            memcpy(&dy, wye_rec(view, y) + lay->digest_off[dob], 8);
            if (dx && dx == dy)
                cr_assert(wye_blocks_is_candidate(b, x, y));
        }
    const wye_block_key_stats *k0 = wye_blocks_key(b, 0);
    cr_assert_str_eq(k0->name, "digest:date_of_birth");
    cr_assert(k0->blocks > 0);
    /* key order: digests, MinHash bands, equal postcodes, Hamming bands */
    cr_assert_str_eq(wye_blocks_key(b, 2)->name, "minhash:0");
    cr_assert_str_eq(wye_blocks_key(b, 2 + bp.minhash_bands)->name, "equal:postcode");
    cr_assert_str_eq(wye_blocks_key(b, 3 + bp.minhash_bands)->name, "hamming:0");
    free(s.count);
    free(s.order);
    wye_blocks_free(b);
}

Test(blocking, same_for_any_thread_count)
{
    wye_blocking_params bp;
    wye_blocking_default_params(&bp);
    wye_blocks *b1, *b2;
    cr_assert_eq(wye_blocks_build(view, &bp, 1, &b1), WYE_OK);
    cr_assert_eq(wye_blocks_build(view, &bp, 2, &b2), WYE_OK);
    cr_assert_eq(wye_blocks_nparts(b1), wye_blocks_nparts(b2));
    cr_assert_eq(wye_blocks_nkeys(b1), wye_blocks_nkeys(b2));
    for (size_t k = 0; k < wye_blocks_nkeys(b1); k++)
        cr_assert_eq(memcmp(wye_blocks_key(b1, k), wye_blocks_key(b2, k),
                            sizeof(wye_block_key_stats)),
                     0);
    seen s1 = walk(b1), s2 = walk(b2);
    cr_assert_eq(s1.n, s2.n);
    cr_assert_eq(memcmp(s1.order, s2.order, s1.n * 2 * sizeof(uint32_t)), 0, "same order");
    free(s1.count);
    free(s1.order);
    free(s2.count);
    free(s2.order);
    wye_blocks_free(b1);
    wye_blocks_free(b2);
}

Test(blocking, exhaustive_gives_every_pair)
{
    wye_blocking_params bp;
    wye_blocking_default_params(&bp);
    bp.exhaustive = true;
    wye_blocks *b;
    cr_assert_eq(wye_blocks_build(view, &bp, 2, &b), WYE_OK);
    seen s = walk(b);
    cr_assert_eq(s.n, (size_t)N * (N - 1) / 2);
    for (uint32_t x = 0; x < N; x++)
        for (uint32_t y = x + 1; y < N; y++)
            cr_assert_eq(s.count[x * N + y], 1);
    uint64_t work = 0;
    for (size_t p = 0; p < wye_blocks_nparts(b); p++)
        work += wye_blocks_part_work(b, p);
    cr_assert_eq(work, (uint64_t)N * (N - 1) / 2);
    free(s.count);
    free(s.order);
    wye_blocks_free(b);
}

Test(blocking, oversized_blocks_are_dropped_and_counted)
{
    wye_blocking_params bp;
    wye_blocking_default_params(&bp);
    bp.hamming_bands = 0;
    bp.minhash_bands = 0;
    bp.exact_fields[0] = NULL;
    bp.max_block = 2; /* people 0-99 have three records */
    wye_blocks *b;
    cr_assert_eq(wye_blocks_build(view, &bp, 1, &b), WYE_OK);
    cr_assert_eq(wye_blocks_nkeys(b), 2); /* the two digests */
    const wye_block_key_stats *k0 = wye_blocks_key(b, 0);
    cr_assert(k0->dropped > 0);
    cr_assert(k0->dropped_records >= 3 * k0->dropped);
    seen s = walk(b);
    /* no pair of a dropped block comes from that key */
    size_t sum = 0;
    for (size_t k = 0; k < wye_blocks_nkeys(b); k++)
        sum += wye_blocks_key(b, k)->pairs;
    cr_assert(s.n <= sum);
    free(s.count);
    free(s.order);
    wye_blocks_free(b);
    bp.max_block = 1;
    cr_assert_eq(wye_blocks_build(view, &bp, 1, &b), WYE_EINVAL);
    bp.max_block = 100;
    bp.hamming_bands = 2;
    bp.hamming_bits = 65;
    cr_assert_eq(wye_blocks_build(view, &bp, 1, &b), WYE_EINVAL);
}

Test(blocking, swapped_names_meet_in_minhash_bands)
{
    const wye_layout *lay = wye_protocol_layout(proto);
    fx_person p[3] = {
        {"SARAH", NULL, "JONES", NULL, NULL, "F", "HR1 1AA", NULL},
        {"JONES", NULL, "SARAH", NULL, NULL, "F", "WR2 2BB", NULL},
        {"SARAH", NULL, "PRICE", NULL, NULL, "F", "WR2 2BB", NULL},
    };
    uint8_t *buf = calloc(3, lay->record_size);
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof id, "s%d", i);
        fx_encode(proto, &p[i], id, buf + (size_t)i * lay->record_size);
    }
    wye_recset *s;
    cr_assert_eq(wye_recset_new(proto, NULL, &s), WYE_OK);
    cr_assert_eq(wye_recset_add_records(s, "x", "x.wye", NULL, buf, 3, NULL), WYE_OK);
    cr_assert_eq(wye_recset_finish(s, 1), WYE_OK);
    wye_blocking_params bp;
    wye_blocking_default_params(&bp);
    bp.digests = false;
    bp.hamming_bands = 0;
    bp.exact_fields[0] = NULL;
    wye_blocks *b;
    cr_assert_eq(wye_blocks_build(wye_recset_view(s), &bp, 1, &b), WYE_OK);
    cr_assert_eq(wye_blocks_nkeys(b), bp.minhash_bands);
    cr_assert(wye_blocks_is_candidate(b, 0, 1), "swapped names");
    cr_assert(!wye_blocks_is_candidate(b, 1, 2));
    wye_blocks_free(b);
    /* the postcode key alone joins 1 and 2 */
    wye_blocking_default_params(&bp);
    bp.digests = false;
    bp.hamming_bands = 0;
    bp.minhash_bands = 0;
    cr_assert_eq(wye_blocks_build(wye_recset_view(s), &bp, 1, &b), WYE_OK);
    cr_assert(wye_blocks_is_candidate(b, 1, 2));
    cr_assert(!wye_blocks_is_candidate(b, 0, 1));
    wye_blocks_free(b);
    wye_recset_free(s);
    free(buf);
}

/* The second MinHash group (the address) joins records at the same address
 * whose names and dates of birth differ, and its hash functions come from a
 * seed of their own: the other keys block exactly as they do without it. */
Test(blocking, address_minhash_bands)
{
    wye_protocol *pa = fx_address_protocol();
    cr_assert(pa);
    cr_assert(wye_protocol_field_index(pa, "address") >= 0);
    const wye_layout *lay = wye_protocol_layout(pa);
    enum { M = 60 };
    uint8_t *buf = calloc(M, lay->record_size);
    for (int i = 0; i < M; i++) {
        char dob[9], addr[64];
        snprintf(dob, sizeof dob, "19%02d%02d%02d", 50 + i % 40, 1 + i % 12, 1 + i % 28);
        /* records 0 and 1 share an address; the others have their own */
        snprintf(addr, sizeof addr, "%d STANLEY ST WINSTON HILLS %d", i < 2 ? 12 : 100 + i,
                 i < 2 ? 2153 : 3000 + 7 * i);
        fx_person fp = {given[i % 8], NULL, family[(i * 5 + 3) % 11], NULL, dob, "F", NULL, NULL};
        fx_extra fe = {addr, NULL};
        if (i == 1) {
            fp.given = "OLIVIA";
            fp.family = "PRICE";
        }
        char id[16];
        snprintf(id, sizeof id, "m%d", i);
        fx_encode_extra(pa, &fp, &fe, id, buf + (size_t)i * lay->record_size);
    }
    wye_recset *s;
    cr_assert_eq(wye_recset_new(pa, NULL, &s), WYE_OK);
    cr_assert_eq(wye_recset_add_records(s, "x", "x.wye", NULL, buf, M, NULL), WYE_OK);
    cr_assert_eq(wye_recset_finish(s, 1), WYE_OK);
    const wye_recview *v = wye_recset_view(s);
    wye_blocking_params bp;
    wye_blocking_default_params(&bp);
    cr_assert_eq(bp.minhash2_bands, 16);
    cr_assert_str_eq(bp.minhash2_fields[0], "address");
    wye_blocks *with, *without;
    cr_assert_eq(wye_blocks_build(v, &bp, 2, &with), WYE_OK);
    /* key order: digests (date of birth, nhs number, other id), name
     * MinHash, address MinHash, equal postcodes, Hamming */
    cr_assert_str_eq(wye_blocks_key(with, 3)->name, "minhash:0");
    cr_assert_str_eq(wye_blocks_key(with, 3 + bp.minhash_bands)->name, "minhash2:0");
    cr_assert_str_eq(wye_blocks_key(with, 3 + bp.minhash_bands + bp.minhash2_bands)->name,
                     "equal:postcode");
    /* 0 and 1 meet in every address band; their names and dates differ */
    size_t k2 = 3 + bp.minhash_bands;
    for (size_t k = 0; k < bp.minhash2_bands; k++)
        cr_assert(wye_blocks_share_key(with, k2 + k, 0, 1));
    for (size_t k = 0; k < wye_blocks_nkeys(with); k++)
        if (k < k2 || k >= k2 + bp.minhash2_bands)
            cr_assert(!wye_blocks_share_key(with, k, 0, 1), "key %zu", k);
    cr_assert(wye_blocks_is_candidate(with, 0, 1));
    bp.minhash2_bands = 0;
    cr_assert_eq(wye_blocks_build(v, &bp, 2, &without), WYE_OK);
    cr_assert(!wye_blocks_is_candidate(without, 0, 1));
    cr_assert_eq(wye_blocks_nkeys(with), wye_blocks_nkeys(without) + 16);
    /* every other key the same, block for block */
    for (size_t k = 0, j = 0; k < wye_blocks_nkeys(with); k++) {
        if (k >= k2 && k < k2 + 16)
            continue;
        const wye_block_key_stats *a = wye_blocks_key(with, k), *b = wye_blocks_key(without, j);
        cr_assert_str_eq(a->name, b->name);
        cr_assert_eq(memcmp(a, b, sizeof *a), 0, "%s", a->name);
        for (uint32_t x = 0; x < M; x++)
            for (uint32_t y = x + 1; y < M; y++)
                cr_assert_eq(wye_blocks_share_key(with, k, x, y),
                             wye_blocks_share_key(without, j, x, y));
        j++;
    }
    /* at most 8 min-hashes per field, as for the names */
    bp.minhash2_bands = 16;
    bp.minhash2_per_field = 9;
    wye_blocks *bad;
    cr_assert_eq(wye_blocks_build(v, &bp, 1, &bad), WYE_EINVAL);
    wye_blocks_free(with);
    wye_blocks_free(without);
    wye_recset_free(s);
    wye_protocol_free(pa);
    free(buf);
}
