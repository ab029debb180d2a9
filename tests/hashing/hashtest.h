/* Helpers shared by the hashing tests: a fresh temporary folder, the default
 * protocol, and the fixed test secret (bytes 00 01 .. 1f). */
#ifndef WYELINK_TESTS_HASHTEST_H
#define WYELINK_TESTS_HASHTEST_H

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wyelink/keys.h"
#include "wyelink/protocol.h"

static inline char *ht_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/wyelink-hash-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    cr_assert_not_null(d, "mkdtemp");
    return strdup(d);
}

static inline char *ht_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static inline void ht_write(const char *path, const void *data, size_t len, unsigned mode)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
    chmod(path, mode);
}

static inline const char *ht_source_root(void)
{
    const char *root = getenv("WYELINK_SOURCE_ROOT");
    return root && *root ? root : ".";
}

static inline wye_protocol *ht_load_protocol(const char *rel)
{
    char path[4096];
    wye_protocol *p;
    wye_diag d;
    snprintf(path, sizeof path, "%s/%s", ht_source_root(), rel);
    cr_assert_eq(wye_protocol_load(path, &p, &d), WYE_OK, "load %s: %s %s", path, d.field,
                 d.reason);
    return p;
}

/* The first default protocol, wyelink-da-default-1, kept in the archive: the
 * encoder's known answers are pinned to it, and stay, whatever the shipped
 * default becomes. */
static inline wye_protocol *ht_default_protocol(void)
{
    return ht_load_protocol("protocols/archive/wyelink-da-default-1.json");
}

/* The protocol wyelink ships as its default (protocols/default.json). */
static inline wye_protocol *ht_shipped_protocol(void)
{
    return ht_load_protocol("protocols/default.json");
}

static inline wye_protocol *ht_protocol(const char *json)
{
    wye_protocol *p;
    wye_diag d;
    cr_assert_eq(wye_protocol_parse(json, strlen(json), &p, &d), WYE_OK, "protocol: %s %s",
                 d.field, d.reason);
    return p;
}

/* Write the linkage-secret file for bytes 00..1f (KEYS.md) into dir and
 * return its path. */
static inline char *ht_secret_file(const char *dir)
{
    uint8_t key[32], id[32];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)i;
    cr_assert(sodium_init() >= 0);
    crypto_generichash_blake2b_salt_personal(id, sizeof id, NULL, 0, key, 32, NULL,
                                             (const unsigned char *)"wyelink.keyid.v1");
    char idhex[17], b64[64], text[512];
    sodium_bin2hex(idhex, sizeof idhex, id, 8);
    sodium_bin2base64(b64, sizeof b64, key, 32, sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(text, sizeof text,
                     "{\n  \"kind\": \"wyelink-linkage-secret\",\n  \"version\": 1,\n"
                     "  \"key_id\": \"%s\",\n  \"secret\": \"%s\"\n}\n",
                     idhex, b64);
    char *path = ht_path(dir, "linkage.secret");
    ht_write(path, text, (size_t)n, 0600);
    return path;
}

static inline wye_secret *ht_secret(void)
{
    char *dir = ht_tmpdir();
    char *path = ht_secret_file(dir);
    wye_secret *s;
    int rc = wye_secret_load(path, &s);
    cr_assert_eq(rc, WYE_OK, "secret load: %s", wye_strerror(rc));
    remove(path);
    rmdir(dir);
    free(path);
    free(dir);
    return s;
}

#endif
