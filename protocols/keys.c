/* Parties' keys, the linkage secret, sealed distribution and pseudonyms
 * (protocols/KEYS.md).
 *
 * Secret-bearing files are written and read without ever passing the secret
 * through ordinary heap memory: the text is built and parsed in sodium_malloc
 * buffers, read with read(2) (no stdio buffer) and written through an
 * unbuffered stream. That is why secret files are parsed by the small flat
 * parser below rather than jansson, whose lexer copies every token into
 * buffers it frees without wiping. Public files and sealed files hold no
 * secret and are handled with jansson. */
#include "wyelink/keys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wyelink/io.h"
#include "wyelink/version.h"

#define KIND_PARTY_SECRET "wyelink-party-secret"
#define KIND_PARTY_PUBLIC "wyelink-party-public"
#define KIND_LINKAGE_SECRET "wyelink-linkage-secret"
#define KIND_SEALED_SECRET "wyelink-sealed-secret"

/* Pinned constants: changing any of them changes key ids, field keys or
 * pseudonyms, which is a new key-file version. */
#define KDF_CONTEXT_FIELD "wyefield"     /* crypto_kdf context, 8 bytes */
#define KDF_CONTEXT_PSEUDONYM "wyepseud" /* crypto_kdf context, 8 bytes */
#define PSEUDONYM_KDF_ID 1
#define KEY_ID_PERSONAL "wyelink.keyid.v1" /* BLAKE2b personalisation, 16 bytes */
#define SEAL_DOMAIN "wyelink-sealed-secret-v1"

#define SECRET_FILE_MAX 4096  /* a secret file is a few hundred bytes */
#define PUBLIC_FILE_MAX 65536
#define SEALED_PLAIN_BYTES (WYE_SECRET_BYTES + crypto_sign_BYTES)
#define SEALED_BYTES (SEALED_PLAIN_BYTES + crypto_box_SEALBYTES)

/* ---- names and roles ---------------------------------------------------- */

static int valid_name(const char *s, size_t len)
{
    if (len == 0 || len >= WYE_PARTY_NAME_MAX || s[0] == '.' || s[0] == '-')
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

static const char *const roles[] = {"agency", "linkage-unit", "custodian"};

static int valid_role(const char *s, size_t len)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strlen(roles[i]) == len && memcmp(roles[i], s, len) == 0)
            return 1;
    return 0;
}

/* ---- secure text buffers ------------------------------------------------- */

typedef struct sbuf {
    char *p; /* sodium_malloc, cap bytes */
    size_t len, cap;
} sbuf;

static int sbuf_init(sbuf *b, size_t cap)
{
    b->p = sodium_malloc(cap);
    b->len = 0;
    b->cap = cap;
    return b->p ? WYE_OK : WYE_ENOMEM;
}

static void sbuf_free(sbuf *b)
{
    if (b->p)
        sodium_free(b->p); /* wipes */
    b->p = NULL;
}

static int sbuf_cat(sbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (n >= b->cap - b->len)
        return WYE_ENOMEM;
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
    return WYE_OK;
}

/* Append the base64 of n bytes, straight into secure memory. */
static int sbuf_b64(sbuf *b, const uint8_t *in, size_t n)
{
    size_t need = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    if (need > b->cap - b->len)
        return WYE_ENOMEM;
    sodium_bin2base64(b->p + b->len, need, in, n, sodium_base64_VARIANT_ORIGINAL);
    b->len += need - 1;
    return WYE_OK;
}

/* Write text to path with mode and exclusivity, through an unbuffered stream
 * so no copy lands in a stdio buffer. */
static int write_text(const char *path, const char *text, size_t len, unsigned mode,
                      int exclusive)
{
    wye_atomic *a;
    int rc = wye_atomic_open(path, mode, exclusive, &a);
    if (rc != WYE_OK)
        return rc;
    FILE *f = wye_atomic_file(a);
    setvbuf(f, NULL, _IONBF, 0);
    if (fwrite(text, 1, len, f) != len) {
        wye_atomic_abort(a);
        return WYE_EIO;
    }
    return wye_atomic_commit(a);
}

/* Read a secret file (or standard input for "-") into secure memory,
 * refusing one that group or others may access. */
static int read_secret_text(const char *path, sbuf *out)
{
    out->p = NULL;
    int fd = 0;
    if (strcmp(path, "-") != 0) {
        int priv = wye_file_is_private(path);
        if (priv < 0)
            return priv;
        if (priv == 0)
            return WYE_EPERM;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return errno == ENOENT ? WYE_ENOTFOUND : WYE_EIO;
    }
    /* Check the open file too: the path may have changed since. */
    struct stat st;
    int rc = WYE_OK;
    if (fstat(fd, &st) != 0)
        rc = WYE_EIO;
    else if (S_ISREG(st.st_mode) && (st.st_mode & (S_IRWXG | S_IRWXO)))
        rc = WYE_EPERM;
    else if (S_ISDIR(st.st_mode))
        rc = WYE_EIO;
    if (rc == WYE_OK)
        rc = sbuf_init(out, SECRET_FILE_MAX + 1);
    while (rc == WYE_OK) {
        if (out->len == SECRET_FILE_MAX) {
            rc = WYE_EJSON; /* far larger than any key file */
            break;
        }
        ssize_t got = read(fd, out->p + out->len, SECRET_FILE_MAX - out->len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            rc = WYE_EIO;
        else if (got == 0)
            break;
        else
            out->len += (size_t)got;
    }
    if (fd != 0)
        close(fd);
    if (rc != WYE_OK) {
        sbuf_free(out);
        return rc;
    }
    out->p[out->len] = '\0';
    return WYE_OK;
}

/* ---- a flat JSON object parser for secret files ---------------------------
 * Accepts one object whose members are strings without escapes or
 * non-negative integers; enough for the files this module writes, and it
 * works in place so secret text is never copied. */

#define FLAT_MAX 12

typedef struct flat_member {
    const char *key, *val;
    size_t klen, vlen;
    int is_num;
} flat_member;

typedef struct flat {
    flat_member m[FLAT_MAX];
    size_t n;
} flat;

static void skip_ws(const char *s, size_t len, size_t *i)
{
    while (*i < len && (s[*i] == ' ' || s[*i] == '\t' || s[*i] == '\n' || s[*i] == '\r'))
        (*i)++;
}

static int flat_string(const char *s, size_t len, size_t *i, const char **out, size_t *olen)
{
    if (*i >= len || s[*i] != '"')
        return WYE_EJSON;
    size_t start = ++(*i);
    while (*i < len && s[*i] != '"') {
        unsigned char c = (unsigned char)s[*i];
        if (c < 0x20 || c >= 0x7f || c == '\\')
            return WYE_EJSON;
        (*i)++;
    }
    if (*i >= len)
        return WYE_EJSON;
    *out = s + start;
    *olen = *i - start;
    (*i)++;
    return WYE_OK;
}

static int flat_parse(const char *s, size_t len, flat *f)
{
    size_t i = 0;
    f->n = 0;
    skip_ws(s, len, &i);
    if (i >= len || s[i++] != '{')
        return WYE_EJSON;
    skip_ws(s, len, &i);
    if (i < len && s[i] == '}') {
        i++;
    } else {
        for (;;) {
            if (f->n == FLAT_MAX)
                return WYE_EJSON;
            flat_member *m = &f->m[f->n];
            if (flat_string(s, len, &i, &m->key, &m->klen) != WYE_OK)
                return WYE_EJSON;
            for (size_t k = 0; k < f->n; k++)
                if (f->m[k].klen == m->klen && !memcmp(f->m[k].key, m->key, m->klen))
                    return WYE_EJSON; /* duplicate key */
            skip_ws(s, len, &i);
            if (i >= len || s[i++] != ':')
                return WYE_EJSON;
            skip_ws(s, len, &i);
            if (i < len && s[i] == '"') {
                if (flat_string(s, len, &i, &m->val, &m->vlen) != WYE_OK)
                    return WYE_EJSON;
                m->is_num = 0;
            } else {
                size_t start = i;
                while (i < len && s[i] >= '0' && s[i] <= '9')
                    i++;
                if (i == start || i - start > 9 || (s[start] == '0' && i - start > 1))
                    return WYE_EJSON;
                m->val = s + start;
                m->vlen = i - start;
                m->is_num = 1;
            }
            f->n++;
            skip_ws(s, len, &i);
            if (i >= len)
                return WYE_EJSON;
            if (s[i] == ',') {
                i++;
                skip_ws(s, len, &i);
                continue;
            }
            if (s[i++] != '}')
                return WYE_EJSON;
            break;
        }
    }
    skip_ws(s, len, &i);
    return i == len ? WYE_OK : WYE_EJSON;
}

static const flat_member *flat_get(const flat *f, const char *key, int is_num)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < f->n; i++)
        if (f->m[i].klen == kl && !memcmp(f->m[i].key, key, kl))
            return f->m[i].is_num == is_num ? &f->m[i] : NULL;
    return NULL;
}

static int flat_is(const flat *f, const char *key, const char *want)
{
    const flat_member *m = flat_get(f, key, 0);
    return m && m->vlen == strlen(want) && !memcmp(m->val, want, m->vlen);
}

/* Check kind, then version: a file of another kind is never mistaken for
 * this one, and an unknown version is told apart from a malformed file. */
static int flat_header(const flat *f, const char *kind)
{
    if (!flat_is(f, "kind", kind))
        return WYE_EJSON;
    const flat_member *v = flat_get(f, "version", 1);
    if (!v)
        return WYE_EJSON;
    unsigned long ver = 0;
    for (size_t i = 0; i < v->vlen; i++)
        ver = ver * 10 + (unsigned long)(v->val[i] - '0');
    return ver == WYE_KEYFILE_VERSION ? WYE_OK : WYE_EVERSION;
}

/* Decode len base64 characters into exactly n bytes. */
static int b64_decode_n(const char *s, size_t len, uint8_t *out, size_t n)
{
    size_t got = 0;
    const char *end = NULL;
    if (len > sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL) ||
        sodium_base642bin(out, n, s, len, NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != n || end != s + len)
        return WYE_EJSON;
    return WYE_OK;
}

/* Decode a base64 member of exactly n bytes into out. */
static int flat_b64(const flat *f, const char *key, uint8_t *out, size_t n)
{
    const flat_member *m = flat_get(f, key, 0);
    return m ? b64_decode_n(m->val, m->vlen, out, n) : WYE_EJSON;
}

/* ---- the public half --------------------------------------------------- */

static int b64_decode(const char *s, uint8_t *out, size_t n)
{
    return b64_decode_n(s, strlen(s), out, n);
}

static char *b64_new(const uint8_t *in, size_t n)
{
    size_t need = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(need);
    if (s)
        sodium_bin2base64(s, need, in, n, sodium_base64_VARIANT_ORIGINAL);
    return s;
}

static int str_member(json_t *o, const char *key, const char **out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        return WYE_EJSON;
    *out = json_string_value(v);
    return WYE_OK;
}

/* A public party object (as in a public file, or the custodian of a sealed
 * file) into p. */
static int public_from_json(json_t *o, wye_party_public *p)
{
    const char *name, *role, *spk, *bpk;
    if (!json_is_object(o) || str_member(o, "name", &name) || str_member(o, "role", &role) ||
        str_member(o, "sign_pk", &spk) || str_member(o, "box_pk", &bpk))
        return WYE_EJSON;
    size_t nl = strlen(name), rl = strlen(role);
    if (!valid_name(name, nl) || !valid_role(role, rl))
        return WYE_EJSON;
    memset(p, 0, sizeof *p);
    memcpy(p->name, name, nl);
    memcpy(p->role, role, rl);
    if (b64_decode(spk, p->sign_pk, sizeof p->sign_pk) ||
        b64_decode(bpk, p->box_pk, sizeof p->box_pk))
        return WYE_EJSON;
    return WYE_OK;
}

static json_t *public_to_json(const wye_party_public *p)
{
    char *s = b64_new(p->sign_pk, sizeof p->sign_pk);
    char *b = b64_new(p->box_pk, sizeof p->box_pk);
    json_t *o = NULL;
    if (s && b)
        o = json_pack("{s:s, s:s, s:s, s:s}", "name", p->name, "role", p->role, "sign_pk", s,
                      "box_pk", b);
    free(s);
    free(b);
    return o;
}

static int kind_version(json_t *o, const char *kind)
{
    const char *k;
    if (!json_is_object(o) || str_member(o, "kind", &k) || strcmp(k, kind) != 0)
        return WYE_EJSON;
    json_t *v = json_object_get(o, "version");
    if (!json_is_integer(v))
        return WYE_EJSON;
    return json_integer_value(v) == WYE_KEYFILE_VERSION ? WYE_OK : WYE_EVERSION;
}

int wye_public_parse(const char *json, size_t len, wye_party_public *out)
{
    if (!json || !out)
        return WYE_EINVAL;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
    if (!o)
        return WYE_EJSON;
    int rc = kind_version(o, KIND_PARTY_PUBLIC);
    if (rc == WYE_OK)
        rc = public_from_json(o, out);
    json_decref(o);
    return rc;
}

int wye_public_load(const char *path, wye_party_public *out)
{
    char *text;
    size_t len;
    int rc = wye_read_file(path, PUBLIC_FILE_MAX, &text, &len);
    if (rc == WYE_ERANGE)
        return WYE_EJSON;
    if (rc != WYE_OK)
        return rc;
    rc = wye_public_parse(text, len, out);
    free(text);
    return rc;
}

void wye_public_key_id(const wye_party_public *p, char out[17])
{
    uint8_t h[crypto_generichash_BYTES];
    crypto_generichash(h, sizeof h, p->sign_pk, sizeof p->sign_pk, NULL, 0);
    wye_hex(h, 8, out);
}

/* ---- parties ------------------------------------------------------------ */

struct wye_party {
    wye_party_public pub;
    uint8_t *sk; /* sodium_malloc: sign_sk (64) then box_sk (32); read-only */
};

#define SK_BYTES (WYE_SIGN_SK_BYTES + WYE_BOX_SK_BYTES)

static wye_party *party_alloc(void)
{
    wye_party *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->sk = sodium_malloc(SK_BYTES);
    if (!p->sk) {
        free(p);
        return NULL;
    }
    return p;
}

int wye_party_create(const char *name, const char *role, wye_party **out)
{
    if (!out)
        return WYE_EINVAL;
    *out = NULL;
    if (!name || !role || !valid_name(name, strlen(name)) || !valid_role(role, strlen(role)))
        return WYE_EINVAL;
    if (wye_crypto_init() != WYE_OK)
        return WYE_ECRYPTO;
    wye_party *p = party_alloc();
    if (!p)
        return WYE_ENOMEM;
    snprintf(p->pub.name, sizeof p->pub.name, "%s", name);
    snprintf(p->pub.role, sizeof p->pub.role, "%s", role);
    if (crypto_sign_keypair(p->pub.sign_pk, p->sk) != 0 ||
        crypto_box_keypair(p->pub.box_pk, p->sk + WYE_SIGN_SK_BYTES) != 0) {
        wye_party_free(p);
        return WYE_ECRYPTO;
    }
    sodium_mprotect_readonly(p->sk);
    *out = p;
    return WYE_OK;
}

static int public_text(const wye_party_public *p, sbuf *b)
{
    int rc = sbuf_init(b, 1024);
    if (rc == WYE_OK) {
        rc = sbuf_cat(b, "{\n  \"kind\": \"" KIND_PARTY_PUBLIC "\",\n  \"version\": 1,\n"
                         "  \"name\": \"");
        rc = rc ? rc : sbuf_cat(b, p->name);
        rc = rc ? rc : sbuf_cat(b, "\",\n  \"role\": \"");
        rc = rc ? rc : sbuf_cat(b, p->role);
        rc = rc ? rc : sbuf_cat(b, "\",\n  \"sign_pk\": \"");
        rc = rc ? rc : sbuf_b64(b, p->sign_pk, sizeof p->sign_pk);
        rc = rc ? rc : sbuf_cat(b, "\",\n  \"box_pk\": \"");
        rc = rc ? rc : sbuf_b64(b, p->box_pk, sizeof p->box_pk);
        rc = rc ? rc : sbuf_cat(b, "\"\n}\n");
    }
    return rc;
}

int wye_party_save(const wye_party *p, const char *secret_path, const char *public_path)
{
    if (!p || !secret_path || !public_path)
        return WYE_EINVAL;
    if (access(secret_path, F_OK) == 0 || access(public_path, F_OK) == 0)
        return WYE_EEXIST;
    _Static_assert(WYE_KEYFILE_VERSION == 1, "the texts below say version 1");
    sbuf s = {0}, pub = {0};
    int rc = sbuf_init(&s, 1024);
    if (rc == WYE_OK) {
        rc = sbuf_cat(&s, "{\n  \"kind\": \"" KIND_PARTY_SECRET "\",\n  \"version\": 1,\n"
                          "  \"name\": \"");
        rc = rc ? rc : sbuf_cat(&s, p->pub.name);
        rc = rc ? rc : sbuf_cat(&s, "\",\n  \"role\": \"");
        rc = rc ? rc : sbuf_cat(&s, p->pub.role);
        rc = rc ? rc : sbuf_cat(&s, "\",\n  \"sign_sk\": \"");
        rc = rc ? rc : sbuf_b64(&s, p->sk, WYE_SIGN_SK_BYTES);
        rc = rc ? rc : sbuf_cat(&s, "\",\n  \"box_sk\": \"");
        rc = rc ? rc : sbuf_b64(&s, p->sk + WYE_SIGN_SK_BYTES, WYE_BOX_SK_BYTES);
        rc = rc ? rc : sbuf_cat(&s, "\"\n}\n");
    }
    rc = rc ? rc : public_text(&p->pub, &pub);
    rc = rc ? rc : write_text(secret_path, s.p, s.len, 0600, 1);
    if (rc == WYE_OK) {
        rc = write_text(public_path, pub.p, pub.len, 0644, 1);
        if (rc != WYE_OK)
            unlink(secret_path); /* no half-made party */
    }
    sbuf_free(&s);
    sbuf_free(&pub);
    return rc;
}

int wye_party_load(const char *secret_path, wye_party **out)
{
    if (!secret_path || !out)
        return WYE_EINVAL;
    *out = NULL;
    if (wye_crypto_init() != WYE_OK)
        return WYE_ECRYPTO;
    sbuf t;
    int rc = read_secret_text(secret_path, &t);
    if (rc != WYE_OK)
        return rc;
    flat f;
    wye_party *p = NULL;
    uint8_t *tmp = NULL;
    rc = flat_parse(t.p, t.len, &f);
    rc = rc ? rc : flat_header(&f, KIND_PARTY_SECRET);
    const flat_member *name = rc ? NULL : flat_get(&f, "name", 0);
    const flat_member *role = rc ? NULL : flat_get(&f, "role", 0);
    if (rc == WYE_OK && (!name || !role || !valid_name(name->val, name->vlen) ||
                         !valid_role(role->val, role->vlen)))
        rc = WYE_EJSON;
    if (rc == WYE_OK && !(p = party_alloc()))
        rc = WYE_ENOMEM;
    if (rc == WYE_OK) {
        memcpy(p->pub.name, name->val, name->vlen);
        memcpy(p->pub.role, role->val, role->vlen);
        rc = flat_b64(&f, "sign_sk", p->sk, WYE_SIGN_SK_BYTES);
        rc = rc ? rc : flat_b64(&f, "box_sk", p->sk + WYE_SIGN_SK_BYTES, WYE_BOX_SK_BYTES);
    }
    /* The signing key must be whole: its public half is the seed's. */
    if (rc == WYE_OK && !(tmp = sodium_malloc(crypto_sign_SECRETKEYBYTES)))
        rc = WYE_ENOMEM;
    if (rc == WYE_OK) {
        crypto_sign_seed_keypair(p->pub.sign_pk, tmp, p->sk);
        if (sodium_memcmp(tmp, p->sk, crypto_sign_SECRETKEYBYTES) != 0)
            rc = WYE_EJSON;
        if (crypto_scalarmult_base(p->pub.box_pk, p->sk + WYE_SIGN_SK_BYTES) != 0)
            rc = WYE_ECRYPTO;
    }
    if (tmp)
        sodium_free(tmp);
    sodium_memzero(&f, sizeof f);
    sbuf_free(&t);
    if (rc != WYE_OK) {
        wye_party_free(p);
        return rc;
    }
    sodium_mprotect_readonly(p->sk);
    *out = p;
    return WYE_OK;
}

void wye_party_free(wye_party *p)
{
    if (!p)
        return;
    if (p->sk)
        sodium_free(p->sk);
    free(p);
}

const wye_party_public *wye_party_public_part(const wye_party *p) { return &p->pub; }
const uint8_t *wye_party_sign_sk(const wye_party *p) { return p->sk; }
const uint8_t *wye_party_box_sk(const wye_party *p) { return p->sk + WYE_SIGN_SK_BYTES; }

/* ---- the trust set ------------------------------------------------------ */

struct wye_trust {
    wye_party_public *v;
    size_t n, cap;
};

int wye_trust_new(wye_trust **out)
{
    if (!out)
        return WYE_EINVAL;
    *out = calloc(1, sizeof **out);
    return *out ? WYE_OK : WYE_ENOMEM;
}

/* Index of the party trusted under name, or -1. */
static long trust_find_name(const wye_trust *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].name, name) == 0)
            return (long)i;
    return -1;
}

int wye_trust_add(wye_trust *t, const wye_party_public *p)
{
    if (!t || !p)
        return WYE_EINVAL;
    if (wye_trust_find(t, p->sign_pk))
        return WYE_OK; /* the same key twice is the same party */
    if (trust_find_name(t, p->name) >= 0)
        return WYE_EDUPLICATE; /* a look-alike: another key under a trusted name */
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        wye_party_public *v = realloc(t->v, cap * sizeof *v);
        if (!v)
            return WYE_ENOMEM;
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n++] = *p;
    return WYE_OK;
}

const wye_party_public *wye_trust_find(const wye_trust *t,
                                       const uint8_t sign_pk[WYE_SIGN_PK_BYTES])
{
    if (!t || !sign_pk)
        return NULL;
    for (size_t i = 0; i < t->n; i++)
        if (memcmp(t->v[i].sign_pk, sign_pk, WYE_SIGN_PK_BYTES) == 0)
            return &t->v[i];
    return NULL;
}

void wye_trust_free(wye_trust *t)
{
    if (!t)
        return;
    free(t->v);
    free(t);
}

static int pub_filter(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 4 && d->d_name[0] != '.' && strcmp(d->d_name + n - 4, ".pub") == 0;
}

/* Load dir/name into t; from[k] is the file name the k-th trusted key came
 * from, for the message about a look-alike. */
static int trust_load_file(wye_trust *t, const char *dir, const char *name, char **from,
                           wye_diag *diag)
{
    size_t need = strlen(dir) + strlen(name) + 2;
    char *path = malloc(need);
    if (!path)
        return WYE_ENOMEM;
    snprintf(path, need, "%s/%s", dir, name);
    wye_party_public p;
    int rc = wye_public_load(path, &p);
    free(path);
    if (rc != WYE_OK) {
        wye_diag_set(diag, 0, "file", "'%s' cannot be loaded as a public key", name);
        return rc;
    }
    size_t before = t->n;
    rc = wye_trust_add(t, &p);
    if (rc == WYE_EDUPLICATE) {
        long k = trust_find_name(t, p.name);
        wye_diag_set(diag, 0, "file", "'%s' and '%s' hold two different keys named '%s'",
                     k >= 0 ? from[k] : "?", name, p.name);
    } else if (rc == WYE_OK && t->n > before && !(from[before] = strdup(name))) {
        rc = WYE_ENOMEM;
    }
    return rc;
}

int wye_trust_load(const char *dir, wye_trust **out, wye_diag *diag)
{
    wye_diag_clear(diag);
    if (!dir || !out)
        return WYE_EINVAL;
    *out = NULL;
    struct dirent **names;
    int n = scandir(dir, &names, pub_filter, alphasort);
    if (n < 0)
        return errno == ENOENT ? WYE_ENOTFOUND : WYE_EIO;
    wye_trust *t = NULL;
    char **from = calloc((size_t)n + 1, sizeof *from);
    int rc = from ? wye_trust_new(&t) : WYE_ENOMEM;
    for (int i = 0; i < n; i++) {
        if (rc == WYE_OK)
            rc = trust_load_file(t, dir, names[i]->d_name, from, diag);
        free(names[i]);
    }
    free(names);
    for (int i = 0; from && i < n; i++)
        free(from[i]);
    free(from);
    if (rc != WYE_OK) {
        wye_trust_free(t);
        return rc;
    }
    *out = t;
    return WYE_OK;
}

int wye_trust_load_dir(const char *dir, wye_trust **out)
{
    return wye_trust_load(dir, out, NULL);
}

/* ---- the linkage secret ------------------------------------------------- */

struct wye_secret {
    uint8_t *key; /* sodium_malloc, WYE_SECRET_BYTES, read-only */
};

static wye_secret *secret_alloc(void)
{
    wye_secret *s = calloc(1, sizeof *s);
    if (s && !(s->key = sodium_malloc(WYE_SECRET_BYTES))) {
        free(s);
        s = NULL;
    }
    return s;
}

int wye_secret_create(wye_secret **out)
{
    if (!out)
        return WYE_EINVAL;
    *out = NULL;
    if (wye_crypto_init() != WYE_OK)
        return WYE_ECRYPTO;
    wye_secret *s = secret_alloc();
    if (!s)
        return WYE_ENOMEM;
    randombytes_buf(s->key, WYE_SECRET_BYTES);
    sodium_mprotect_readonly(s->key);
    *out = s;
    return WYE_OK;
}

void wye_secret_free(wye_secret *s)
{
    if (!s)
        return;
    if (s->key)
        sodium_free(s->key);
    free(s);
}

static void key_id_of(const uint8_t *key, uint8_t out[WYE_KEY_ID_BYTES])
{
    uint8_t h[crypto_generichash_blake2b_BYTES];
    crypto_generichash_blake2b_salt_personal(h, sizeof h, NULL, 0, key, WYE_SECRET_BYTES,
                                             NULL, (const unsigned char *)KEY_ID_PERSONAL);
    memcpy(out, h, WYE_KEY_ID_BYTES);
}

void wye_secret_key_id(const wye_secret *s, uint8_t out[WYE_KEY_ID_BYTES])
{
    key_id_of(s->key, out);
}

int wye_secret_derive(const wye_secret *s, uint64_t subkey_id, uint8_t out[32])
{
    if (!s || !out)
        return WYE_EINVAL;
    return crypto_kdf_derive_from_key(out, 32, subkey_id, KDF_CONTEXT_FIELD, s->key) == 0
               ? WYE_OK
               : WYE_ECRYPTO;
}

int wye_secret_save(const wye_secret *s, const char *path)
{
    if (!s || !path)
        return WYE_EINVAL;
    uint8_t id[WYE_KEY_ID_BYTES];
    char idhex[2 * WYE_KEY_ID_BYTES + 1];
    key_id_of(s->key, id);
    wye_hex(id, sizeof id, idhex);
    sbuf t;
    int rc = sbuf_init(&t, 512);
    if (rc == WYE_OK) {
        rc = sbuf_cat(&t, "{\n  \"kind\": \"" KIND_LINKAGE_SECRET "\",\n  \"version\": 1,\n"
                          "  \"key_id\": \"");
        rc = rc ? rc : sbuf_cat(&t, idhex);
        rc = rc ? rc : sbuf_cat(&t, "\",\n  \"secret\": \"");
        rc = rc ? rc : sbuf_b64(&t, s->key, WYE_SECRET_BYTES);
        rc = rc ? rc : sbuf_cat(&t, "\"\n}\n");
        rc = rc ? rc : write_text(path, t.p, t.len, 0600, 1);
        sbuf_free(&t);
    }
    return rc;
}

int wye_secret_load(const char *path, wye_secret **out)
{
    if (!path || !out)
        return WYE_EINVAL;
    *out = NULL;
    if (wye_crypto_init() != WYE_OK)
        return WYE_ECRYPTO;
    sbuf t;
    int rc = read_secret_text(path, &t);
    if (rc != WYE_OK)
        return rc;
    flat f;
    wye_secret *s = NULL;
    rc = flat_parse(t.p, t.len, &f);
    rc = rc ? rc : flat_header(&f, KIND_LINKAGE_SECRET);
    if (rc == WYE_OK && !(s = secret_alloc()))
        rc = WYE_ENOMEM;
    rc = rc ? rc : flat_b64(&f, "secret", s->key, WYE_SECRET_BYTES);
    if (rc == WYE_OK) {
        /* The stored key id must be this secret's: catches a hand-edited file. */
        uint8_t id[WYE_KEY_ID_BYTES];
        char idhex[2 * WYE_KEY_ID_BYTES + 1];
        key_id_of(s->key, id);
        wye_hex(id, sizeof id, idhex);
        const flat_member *m = flat_get(&f, "key_id", 0);
        if (!m || m->vlen != strlen(idhex) || memcmp(m->val, idhex, m->vlen) != 0)
            rc = WYE_EJSON;
    }
    sodium_memzero(&f, sizeof f);
    sbuf_free(&t);
    if (rc != WYE_OK) {
        wye_secret_free(s);
        return rc;
    }
    sodium_mprotect_readonly(s->key);
    *out = s;
    return WYE_OK;
}

/* ---- sealed distribution ------------------------------------------------ */

/* What the custodian signs: a domain tag, the secret, the recipient's box key. */
static int seal_message(const uint8_t *secret, const uint8_t *box_pk, uint8_t **out,
                        size_t *len)
{
    *len = sizeof SEAL_DOMAIN - 1 + WYE_SECRET_BYTES + WYE_BOX_PK_BYTES;
    uint8_t *m = sodium_malloc(*len);
    if (!m)
        return WYE_ENOMEM;
    memcpy(m, SEAL_DOMAIN, sizeof SEAL_DOMAIN - 1);
    memcpy(m + sizeof SEAL_DOMAIN - 1, secret, WYE_SECRET_BYTES);
    memcpy(m + sizeof SEAL_DOMAIN - 1 + WYE_SECRET_BYTES, box_pk, WYE_BOX_PK_BYTES);
    *out = m;
    return WYE_OK;
}

int wye_secret_seal(const wye_secret *s, const wye_party *custodian,
                    const wye_party_public *agency, const char *path)
{
    if (!s || !custodian || !agency || !path)
        return WYE_EINVAL;
    uint8_t *msg = NULL, *plain = NULL;
    size_t mlen = 0;
    uint8_t sealed[SEALED_BYTES];
    int rc = seal_message(s->key, agency->box_pk, &msg, &mlen);
    if (rc == WYE_OK && !(plain = sodium_malloc(SEALED_PLAIN_BYTES)))
        rc = WYE_ENOMEM;
    if (rc == WYE_OK) {
        memcpy(plain, s->key, WYE_SECRET_BYTES);
        if (crypto_sign_detached(plain + WYE_SECRET_BYTES, NULL, msg, mlen,
                                 wye_party_sign_sk(custodian)) != 0 ||
            crypto_box_seal(sealed, plain, SEALED_PLAIN_BYTES, agency->box_pk) != 0)
            rc = WYE_ECRYPTO;
    }
    if (msg)
        sodium_free(msg);
    if (plain)
        sodium_free(plain);
    if (rc != WYE_OK)
        return rc;

    uint8_t id[WYE_KEY_ID_BYTES];
    char idhex[2 * WYE_KEY_ID_BYTES + 1];
    key_id_of(s->key, id);
    wye_hex(id, sizeof id, idhex);
    char *sealed64 = b64_new(sealed, sizeof sealed);
    char *rbox = b64_new(agency->box_pk, sizeof agency->box_pk);
    json_t *cust = public_to_json(&custodian->pub);
    json_t *o = NULL;
    if (sealed64 && rbox && cust)
        o = json_pack("{s:s, s:i, s:s, s:O, s:{s:s, s:s}, s:s}", "kind", KIND_SEALED_SECRET,
                      "version", WYE_KEYFILE_VERSION, "key_id", idhex, "custodian", cust,
                      "recipient", "name", agency->name, "box_pk", rbox, "sealed", sealed64);
    char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    rc = text ? WYE_OK : WYE_ENOMEM;
    if (rc == WYE_OK) {
        size_t n = strlen(text);
        text[n] = '\n'; /* replace the NUL: the file ends with a newline */
        rc = write_text(path, text, n + 1, 0644, 1);
    }
    free(text);
    json_decref(o);
    json_decref(cust);
    free(sealed64);
    free(rbox);
    return rc;
}

int wye_secret_unseal(const char *path, const wye_party *agency,
                      const wye_party_public *custodian, wye_secret **out)
{
    if (!path || !agency || !custodian || !out)
        return WYE_EINVAL;
    *out = NULL;
    if (wye_crypto_init() != WYE_OK)
        return WYE_ECRYPTO;
    char *text;
    size_t len;
    int rc = wye_read_file(path, PUBLIC_FILE_MAX, &text, &len);
    if (rc == WYE_ERANGE)
        return WYE_EJSON;
    if (rc != WYE_OK)
        return rc;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    free(text);
    if (!o)
        return WYE_EJSON;
    rc = kind_version(o, KIND_SEALED_SECRET);
    wye_party_public cust;
    json_t *rcpt = json_object_get(o, "recipient");
    const char *rbox64 = NULL, *sealed64 = NULL, *idhex = NULL;
    uint8_t rbox[WYE_BOX_PK_BYTES], sealed[SEALED_BYTES];
    if (rc == WYE_OK &&
        (public_from_json(json_object_get(o, "custodian"), &cust) || !json_is_object(rcpt) ||
         str_member(rcpt, "box_pk", &rbox64) || b64_decode(rbox64, rbox, sizeof rbox) ||
         str_member(o, "sealed", &sealed64) || str_member(o, "key_id", &idhex)))
        rc = WYE_EJSON;
    if (rc == WYE_OK && sodium_memcmp(rbox, agency->pub.box_pk, sizeof rbox) != 0)
        rc = WYE_ERECIPIENT;
    /* Sealed by someone other than the custodian the caller trusts. */
    if (rc == WYE_OK && sodium_memcmp(cust.sign_pk, custodian->sign_pk, WYE_SIGN_PK_BYTES) != 0)
        rc = WYE_ESIGNATURE;
    if (rc == WYE_OK && b64_decode(sealed64, sealed, sizeof sealed) != WYE_OK)
        rc = WYE_ECORRUPT;
    uint8_t *plain = NULL, *msg = NULL;
    size_t mlen = 0;
    wye_secret *s = NULL;
    if (rc == WYE_OK && !(plain = sodium_malloc(SEALED_PLAIN_BYTES)))
        rc = WYE_ENOMEM;
    if (rc == WYE_OK && crypto_box_seal_open(plain, sealed, sizeof sealed, agency->pub.box_pk,
                                             wye_party_box_sk(agency)) != 0)
        rc = WYE_ECORRUPT; /* addressed to us, but altered */
    rc = rc ? rc : seal_message(plain, agency->pub.box_pk, &msg, &mlen);
    if (rc == WYE_OK && crypto_sign_verify_detached(plain + WYE_SECRET_BYTES, msg, mlen,
                                                    custodian->sign_pk) != 0)
        rc = WYE_ESIGNATURE;
    if (rc == WYE_OK && !(s = secret_alloc()))
        rc = WYE_ENOMEM;
    if (rc == WYE_OK) {
        memcpy(s->key, plain, WYE_SECRET_BYTES);
        uint8_t id[WYE_KEY_ID_BYTES];
        char hex[2 * WYE_KEY_ID_BYTES + 1];
        key_id_of(s->key, id);
        wye_hex(id, sizeof id, hex);
        if (strcmp(hex, idhex) != 0)
            rc = WYE_ECORRUPT;
    }
    if (plain)
        sodium_free(plain);
    if (msg)
        sodium_free(msg);
    json_decref(o);
    if (rc != WYE_OK) {
        wye_secret_free(s);
        return rc;
    }
    sodium_mprotect_readonly(s->key);
    *out = s;
    return WYE_OK;
}

/* ---- pseudonyms --------------------------------------------------------- */

int wye_pseudonym_key(const wye_party *agency, uint8_t key[32])
{
    if (!agency || !key)
        return WYE_EINVAL;
    uint8_t *seed = sodium_malloc(crypto_sign_SEEDBYTES);
    if (!seed)
        return WYE_ENOMEM;
    int rc = WYE_OK;
    if (crypto_sign_ed25519_sk_to_seed(seed, wye_party_sign_sk(agency)) != 0 ||
        crypto_kdf_derive_from_key(key, 32, PSEUDONYM_KDF_ID, KDF_CONTEXT_PSEUDONYM, seed) != 0)
        rc = WYE_ECRYPTO;
    sodium_free(seed);
    return rc;
}

void wye_pseudonym(const uint8_t key[32], const char *local_id, size_t len,
                   uint8_t out[WYE_PSEUDONYM_BYTES])
{
    crypto_generichash(out, WYE_PSEUDONYM_BYTES, (const unsigned char *)local_id, len, key, 32);
}
