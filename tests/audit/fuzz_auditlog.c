/* Fuzz harness for the audit-log verifier (protocols/audit.c).
 *
 * libFuzzer:  clang -fsanitize=fuzzer,address,undefined -DWYE_LIBFUZZER ...
 * Otherwise:  fuzz_auditlog CORPUS_DIR replays every file of the folder, and
 * the file name is its expected verdict, so the corpus is also a table:
 *   ok_*        intact (WYE_OK)
 *   trunc_*     WYE_EAUDIT with a truncated tail
 *   bad_L<N>_*  WYE_EAUDIT with the first bad line N
 *   junk_*      anything, as long as the invariants hold
 *
 * The key checked against is the signer named by the first line (as
 * `wyelink audit trace` does), so signed seeds reach the chain checks;
 * without one, a fixed key. Each input is verified twice, read in one piece
 * and in pieces of 1 to 7 bytes: the result must be the same. */
#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_replay.h"
#include "wyelink/audit.h"
#include "wyelink/io.h"

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "fuzz_auditlog: invariant failed: %s (line %d)\n", #cond, \
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

static void first_signer(const uint8_t *data, size_t size, uint8_t pk[32])
{
    memset(pk, 0x42, 32);
    const uint8_t *nl = memchr(data, '\n', size);
    json_t *o = json_loadb((const char *)data, nl ? (size_t)(nl - data) : size, 0, NULL);
    json_t *v = json_object_get(json_object_get(o, "signer"), "pk");
    size_t got = 0;
    uint8_t tmp[32];
    if (json_is_string(v) &&
        sodium_hex2bin(tmp, 32, json_string_value(v), json_string_length(v), NULL, &got,
                       NULL) == 0 &&
        got == 32)
        memcpy(pk, tmp, 32);
    json_decref(o);
}

static int check_one(const uint8_t *data, size_t size, wye_audit_result *out)
{
    uint8_t pk[32];
    first_signer(data, size, pk);
    wye_memsource m = {data, size, 0};
    wye_audit_result res;
    int rc = wye_audit_verify(wye_source_memory(&m), pk, &res);
    CHECK(rc == WYE_OK || rc == WYE_EAUDIT || rc == WYE_ENOMEM);
    if (rc == WYE_ENOMEM)
        return rc;
    CHECK(memchr(res.reason, '\0', sizeof res.reason) != NULL);
    size_t lines = 0;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    CHECK(res.entries <= lines);
    if (rc == WYE_OK) {
        CHECK(res.first_bad == 0 && res.truncated_tail == 0);
        CHECK(size == 0 || data[size - 1] == '\n');
    } else {
        CHECK((res.first_bad > 0) != (res.truncated_tail != 0));
        CHECK(res.first_bad <= lines);
        if (res.first_bad) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "line %llu: ", (unsigned long long)res.first_bad);
            CHECK(strncmp(res.reason, prefix, strlen(prefix)) == 0);
            CHECK(res.entries < res.first_bad);
        }
    }
    /* The same bytes read in small pieces give the same verdict. */
    dribble d = {data, size, 0, 0};
    wye_audit_result res2;
    int rc2 = wye_audit_verify((wye_source){dribble_read, &d}, pk, &res2);
    CHECK(rc2 == rc);
    CHECK(res2.entries == res.entries && res2.first_bad == res.first_bad &&
          res2.truncated_tail == res.truncated_tail);
    CHECK(strcmp(res2.reason, res.reason) == 0);
    if (out)
        *out = res;
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        CHECK(sodium_init() >= 0);
        ready = 1;
    }
    check_one(data, size, NULL);
    return 0;
}

#ifndef WYE_LIBFUZZER
/* ok_*: verifies; trunc_*: a truncated last entry; bad_L<n>_*: first bad
 * entry at line n. */
static int judge(const char *name, const uint8_t *data, size_t len)
{
    wye_audit_result res;
    memset(&res, 0, sizeof res);
    int rc = check_one(data, len, &res);
    int ok = 1;
    unsigned long want;
    if (!strncmp(name, "ok_", 3))
        ok = rc == WYE_OK;
    else if (!strncmp(name, "trunc_", 6))
        ok = rc == WYE_EAUDIT && res.truncated_tail;
    else if (sscanf(name, "bad_L%lu_", &want) == 1)
        ok = rc == WYE_EAUDIT && res.first_bad == want;
    if (!ok)
        fprintf(stderr, "fuzz_auditlog: %s: wrong verdict: %s (%s)\n", name, wye_strerror(rc),
                res.reason);
    return !ok;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_auditlog CORPUS_DIR\n");
        return 2;
    }
    CHECK(sodium_init() >= 0);
    return wye_fuzz_replay_judged(argv[1], 16u << 20, judge);
}
#endif
