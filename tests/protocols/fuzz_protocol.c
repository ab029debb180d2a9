/* Fuzz harness for the protocol-file parser (protocols/protocol.c).
 *
 * libFuzzer:  clang -fsanitize=fuzzer,address,undefined -DWYE_LIBFUZZER ...
 * Otherwise:  fuzz_protocol CORPUS_DIR replays every file of the folder; a
 * seed named ok_* must parse, bad_* must be refused with WYE_EJSON and
 * version_* with WYE_EVERSION, so the corpus is also a table of verdicts.
 *
 * For every input that parses, the invariants below must hold; a failure
 * aborts (this is a test program, not the library). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_replay.h"
#include "wyelink/io.h"
#include "wyelink/protocol.h"

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "fuzz_protocol: invariant failed: %s (line %d)\n", #cond, \
                    __LINE__);                                                         \
            abort();                                                                   \
        }                                                                              \
    } while (0)

static void check_layout(const wye_protocol *p)
{
    const wye_layout *l = wye_protocol_layout(p);
    size_t end = l->record_size;
    CHECK(end % 8 == 0);
    CHECK(l->pseudonym_off == 0 && l->presence_off == 16 && l->attr_off == 18);
    CHECK(l->attr_off + wye_protocol_nattrs(p) <= l->filter_off);
    CHECK(l->filter_off % 8 == 0);
    CHECK(wye_protocol_filter_bits(p) % 64 == 0);
    CHECK(wye_protocol_filter_bits_raw(p) % 64 == 0);
    CHECK(l->filter_bytes * 8 == wye_protocol_filter_bits(p));
    CHECK((wye_protocol_filter_bits(p) == 0) == (wye_protocol_filter_bits_raw(p) == 0));
    CHECK(l->filter_off + l->filter_bytes <= end);
    CHECK(wye_protocol_nfields(p) >= 1 && wye_protocol_nfields(p) <= WYE_MAX_FIELDS);
    CHECK(wye_protocol_nattrs(p) <= WYE_MAX_ATTRS);
    size_t prev_end = l->filter_off + l->filter_bytes;
    for (size_t i = 0; i < wye_protocol_nfields(p); i++) {
        const wye_field_spec *f = wye_protocol_field(p, i);
        CHECK(f != NULL && wye_protocol_field_index(p, f->name) == (int)i);
        CHECK(f->kdf_id >= 1 && f->kdf_id <= 999);
        CHECK(f->ntokenisers >= 1 && f->ntokenisers <= WYE_MAX_TOKENISERS);
        CHECK(f->record_bits <= wye_protocol_filter_bits_raw(p));
        CHECK(f->field_filter_bits % 64 == 0);
        CHECK(l->field_filter_bytes[i] * 8 == f->field_filter_bits);
        if (f->field_filter_bits) {
            CHECK(f->field_filter_k >= 1 && f->field_filter_k <= f->field_filter_bits);
            CHECK(l->field_filter_off[i] % 8 == 0);
            CHECK(l->field_filter_off[i] >= prev_end); /* in order, no overlap */
            prev_end = l->field_filter_off[i] + l->field_filter_bytes[i];
            CHECK(prev_end <= end);
        }
    }
    for (size_t i = 0; i < wye_protocol_nfields(p); i++) {
        if (!wye_protocol_field(p, i)->exact_digest)
            continue;
        CHECK(l->digest_off[i] >= prev_end);
        prev_end = l->digest_off[i] + WYE_DIGEST_BYTES;
        CHECK(prev_end <= end);
    }
    CHECK(end - prev_end < 8);
    for (size_t i = 0; i < wye_protocol_nattrs(p); i++) {
        const wye_attr_spec *a = wye_protocol_attr(p, i);
        CHECK(a->nvalues >= 1 && a->nvalues <= WYE_MAX_ATTR_VALUES);
        for (unsigned v = 0; v < a->nvalues; v++)
            CHECK(wye_attr_value_index(a, a->values[v]) == (int)v);
    }
}

/* The canonical form parses back to the same canonical bytes and fingerprint. */
static void check_canonical(const wye_protocol *p)
{
    char *c1 = NULL, *c2 = NULL;
    CHECK(wye_protocol_canonical(p, &c1) == WYE_OK);
    wye_protocol *q = NULL;
    CHECK(wye_protocol_parse(c1, strlen(c1), &q, NULL) == WYE_OK);
    CHECK(wye_protocol_canonical(q, &c2) == WYE_OK);
    CHECK(strcmp(c1, c2) == 0);
    uint8_t a[WYE_FINGERPRINT_BYTES], b[WYE_FINGERPRINT_BYTES];
    wye_protocol_fingerprint(p, a);
    wye_protocol_fingerprint(q, b);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(wye_protocol_layout(p), wye_protocol_layout(q), sizeof(wye_layout)) == 0);
    wye_protocol_free(q);
    free(c1);
    free(c2);
}

static int check_one(const uint8_t *data, size_t size)
{
    wye_protocol *p = (wye_protocol *)&p; /* must be reset to NULL on failure */
    wye_diag d;
    int rc = wye_protocol_parse((const char *)data, size, &p, &d);
    if (rc != WYE_OK) {
        CHECK(p == NULL);
        CHECK(rc == WYE_EJSON || rc == WYE_EVERSION || rc == WYE_ENOMEM);
        CHECK(memchr(d.field, 0, sizeof d.field) && memchr(d.reason, 0, sizeof d.reason));
        CHECK(rc == WYE_ENOMEM || d.reason[0]);
        return rc;
    }
    check_layout(p);
    check_canonical(p);
    wye_protocol_free(p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_one(data, size);
    return 0;
}

#ifndef WYE_LIBFUZZER
int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_protocol CORPUS_DIR\n");
        return 2;
    }
    static const wye_fuzz_verdict verdicts[] = {
        {"ok_", WYE_OK}, {"bad_", WYE_EJSON}, {"version_", WYE_EVERSION}};
    return wye_fuzz_replay(argv[1], 1 << 22, check_one, verdicts,
                           sizeof verdicts / sizeof verdicts[0]);
}
#endif
