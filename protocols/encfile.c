/* The encoded file (protocols/FORMAT.md): a cleartext header, then a
 * crypto_secretstream of messages. Every message's plaintext starts with the
 * ciphertext length of the message after it, so every length the reader
 * uses is authenticated: a flipped bit anywhere is WYE_ECORRUPT, never
 * mistaken for truncation, and a short file is WYE_ETRUNCATED.
 *
 * Both sides stream in constant memory: the writer holds two messages (one
 * is sent once the next one's length is known), the reader one message and
 * one record. */
#include "wyelink/encfile.h"

#include <assert.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "wyelink/version.h"

#define MAGIC "WYEENC\r\n"
#define MAGIC_BYTES 8
#define SEALED_KEY_BYTES (crypto_secretstream_xchacha20poly1305_KEYBYTES + crypto_box_SEALBYTES)
#define SS_HEADER_BYTES crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define HEADER_BYTES (MAGIC_BYTES + 4 + WYE_BOX_PK_BYTES + SEALED_KEY_BYTES + SS_HEADER_BYTES)
#define OFF_VERSION MAGIC_BYTES
#define OFF_RECIPIENT (OFF_VERSION + 4)
#define OFF_SEALED_KEY (OFF_RECIPIENT + WYE_BOX_PK_BYTES)
#define OFF_SS_HEADER (OFF_SEALED_KEY + SEALED_KEY_BYTES)

#define ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define TAG_MESSAGE crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
#define TAG_FINAL crypto_secretstream_xchacha20poly1305_TAG_FINAL
#define NEXT_BYTES 4          /* u32 LE: ciphertext length of the next message */
#define PAYLOAD_MAX 65536     /* payload bytes of one message */
#define PLAIN_MAX (NEXT_BYTES + PAYLOAD_MAX)
#define CT_MAX (PLAIN_MAX + ABYTES)
#define CT_MIN (NEXT_BYTES + ABYTES)
#define CT_LEN(payload) ((uint32_t)(NEXT_BYTES + (payload) + ABYTES))

/* The metadata block, the payload of message 0. */
#define META_FINGERPRINT 0
#define META_KEY_ID (META_FINGERPRINT + WYE_FINGERPRINT_BYTES)
#define META_AGENCY (META_KEY_ID + WYE_KEY_ID_BYTES)
#define META_SIGNER (META_AGENCY + WYE_PARTY_NAME_MAX)
#define META_CREATED (META_SIGNER + WYE_SIGN_PK_BYTES)
#define META_EXTRACT_DATE (META_CREATED + 8)
#define META_RECORD_SIZE (META_EXTRACT_DATE + 10)
#define META_BYTES (META_RECORD_SIZE + 4)

#define TRAILER_BYTES (8 + crypto_sign_BYTES) /* record count, signature */
#define FILE_HASH_BYTES WYE_ENCFILE_DIGEST_BYTES /* BLAKE2b-256 of the file, version 2 */
#define RECORD_MAX (1u << 20)
#define IN_MAX 65535 /* records are deflated, or stored, in batches of this many bytes
                        (65,535: the longest stored block) */

_Static_assert(HEADER_BYTES == 148, "FORMAT.md pins the header at 148 bytes");
_Static_assert(META_BYTES == 158, "FORMAT.md pins the metadata at 158 bytes");

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/* "" (unknown) or YYYY-MM-DD with a plausible month and day. */
static int valid_date(const char *s)
{
    if (s[0] == '\0')
        return 1;
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            if (s[i] != '-')
                return 0;
        } else if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    if (s[10] != '\0')
        return 0;
    int month = (s[5] - '0') * 10 + (s[6] - '0');
    int day = (s[8] - '0') * 10 + (s[9] - '0');
    return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

/* ---- writer ------------------------------------------------------------- */

/* What the agency signs (FORMAT.md, "Final message").
 * Version 2: Ed25519 over the BLAKE2b-256 of the file's bytes before the
 * final message (header and ciphertexts), followed by the record count. The
 * same BLAKE2b pass, continued over the final message, is the digest of the
 * whole file the audit log records, so the writer hashes each byte once.
 * Version 1 (read only): Ed25519ph over the header and the plaintexts. */
typedef struct transcript {
    uint32_t version;
    crypto_sign_state ph;                /* version 1 */
    crypto_generichash_blake2b_state b2; /* version 2: every byte of the file */
    uint64_t bytes;                      /* version 2: bytes hashed */
} transcript;

static void tr_init(transcript *t, uint32_t version, const uint8_t *header)
{
    t->version = version;
    t->bytes = HEADER_BYTES;
    if (version == 1) {
        crypto_sign_init(&t->ph);
        crypto_sign_update(&t->ph, header, HEADER_BYTES);
    } else {
        crypto_generichash_blake2b_init(&t->b2, NULL, 0, FILE_HASH_BYTES);
        crypto_generichash_blake2b_update(&t->b2, header, HEADER_BYTES);
    }
}

/* A message, as plaintext (with its next-length) and as ciphertext. */
static void tr_message(transcript *t, const uint8_t *pt, size_t ptlen, const uint8_t *ct,
                       size_t ctlen)
{
    if (t->version == 1) {
        crypto_sign_update(&t->ph, pt, ptlen);
    } else {
        crypto_generichash_blake2b_update(&t->b2, ct, ctlen);
        t->bytes += ctlen;
    }
}

/* Version 2's signed message: the digest so far, then the count. */
static void tr_signed_message(const transcript *t, const uint8_t *trailer,
                              uint8_t msg[FILE_HASH_BYTES + 8])
{
    crypto_generichash_blake2b_state copy = t->b2;
    crypto_generichash_blake2b_final(&copy, msg, FILE_HASH_BYTES);
    memcpy(msg + FILE_HASH_BYTES, trailer + NEXT_BYTES, 8);
    sodium_memzero(&copy, sizeof copy);
}

/* trailer: the final plaintext's next (0) and count, 12 bytes. Writers
 * write the current version only, so only it is signed. */
static int tr_sign(const transcript *t, const uint8_t *trailer, uint8_t sig[crypto_sign_BYTES],
                   const uint8_t *sk)
{
    assert(t->version == WYE_ENCFILE_VERSION);
    uint8_t msg[FILE_HASH_BYTES + 8];
    tr_signed_message(t, trailer, msg);
    return crypto_sign_detached(sig, NULL, msg, sizeof msg, sk) == 0 ? WYE_OK : WYE_ECRYPTO;
}

static bool tr_verify(transcript *t, const uint8_t *trailer, const uint8_t *sig,
                      const uint8_t *pk)
{
    if (t->version == 1) {
        crypto_sign_update(&t->ph, trailer, NEXT_BYTES + 8);
        return crypto_sign_final_verify(&t->ph, sig, pk) == 0;
    }
    uint8_t msg[FILE_HASH_BYTES + 8];
    tr_signed_message(t, trailer, msg);
    return crypto_sign_verify_detached(sig, msg, sizeof msg, pk) == 0;
}

static void tr_wipe(transcript *t) { sodium_memzero(t, sizeof *t); }

struct wye_encwriter {
    wye_sink sink;
    int err; /* sticky */
    uint32_t record_size;
    uint64_t count;
    crypto_secretstream_xchacha20poly1305_state *ss; /* secure memory */
    uint8_t *sign_sk;                                /* secure memory */
    transcript sign;
    z_stream z;
    int z_init;               /* deflate in use (WYE_ENC_RLE) */
    int started;              /* stored: the zlib header is out */
    uLong adler;              /* stored: Adler-32 of the records so far */
    int first; /* pend is message 0, which carries the header as AD */
    uint8_t *pend, *cur, *ct;
    size_t pend_len, cur_len; /* payload bytes */
    uint8_t *in;              /* records not yet deflated */
    size_t in_len;
    uint8_t header[HEADER_BYTES];
};

/* Seal one message whose successor is next_ct bytes long (0 = none). */
static int emit(wye_encwriter *w, uint8_t *plain, size_t payload, uint32_t next_ct,
                unsigned char tag)
{
    put_u32(plain, next_ct);
    size_t len = NEXT_BYTES + payload;
    unsigned long long ctlen;
    if (crypto_secretstream_xchacha20poly1305_push(w->ss, w->ct, &ctlen, plain, len,
                                                   w->first ? w->header : NULL,
                                                   w->first ? HEADER_BYTES : 0, tag) != 0)
        return WYE_ECRYPTO;
    w->first = 0;
    tr_message(&w->sign, plain, len, w->ct, (size_t)ctlen); /* the final one too: file digest */
    return w->sink.write(w->sink.ctx, w->ct, (size_t)ctlen);
}

/* cur is full and more is coming: send pend, cur becomes pend. */
static int rotate(wye_encwriter *w)
{
    int rc = emit(w, w->pend, w->pend_len, CT_LEN(w->cur_len), TAG_MESSAGE);
    uint8_t *t = w->pend;
    w->pend = w->cur;
    w->pend_len = w->cur_len;
    w->cur = t;
    w->cur_len = 0;
    return rc;
}

static int deflate_run(wye_encwriter *w, const uint8_t *in, size_t n, int flush)
{
    w->z.next_in = (Bytef *)in;
    w->z.avail_in = (uInt)n;
    for (;;) {
        if (w->cur_len == PAYLOAD_MAX) {
            int rc = rotate(w);
            if (rc != WYE_OK)
                return rc;
        }
        w->z.next_out = w->cur + NEXT_BYTES + w->cur_len;
        w->z.avail_out = (uInt)(PAYLOAD_MAX - w->cur_len);
        int zr = deflate(&w->z, flush);
        w->cur_len = PAYLOAD_MAX - w->z.avail_out;
        if (zr == Z_STREAM_ERROR)
            return WYE_EINVAL;
        if (flush == Z_FINISH ? zr == Z_STREAM_END : w->z.avail_in == 0)
            return WYE_OK;
    }
}

/* ---- stored blocks, without deflate ----
 * With no compression the zlib stream is written here directly: the
 * two-byte header of level 0 (78 01), stored blocks of at most 65,535 bytes,
 * an empty final block and the Adler-32 (RFC 1950, RFC 1951 section 3.2.4).
 * The bytes are what deflate at level 0 makes, up to where it cuts blocks,
 * but copying the records once costs a fraction of deflate's own stored path
 * (which also passed every byte through its window). */

static int put_bytes(wye_encwriter *w, const uint8_t *p, size_t n)
{
    while (n) {
        if (w->cur_len == PAYLOAD_MAX) {
            int rc = rotate(w);
            if (rc != WYE_OK)
                return rc;
        }
        size_t k = PAYLOAD_MAX - w->cur_len < n ? PAYLOAD_MAX - w->cur_len : n;
        memcpy(w->cur + NEXT_BYTES + w->cur_len, p, k);
        w->cur_len += k;
        p += k;
        n -= k;
    }
    return WYE_OK;
}

/* One stored block of n <= 65,535 bytes; final: the last block. */
static int stored_block(wye_encwriter *w, const uint8_t *p, size_t n, int final)
{
    int rc = WYE_OK;
    if (!w->started) {
        static const uint8_t zhead[2] = {0x78, 0x01};
        rc = put_bytes(w, zhead, 2);
        w->started = 1;
    }
    uint8_t h[5] = {(uint8_t)final, (uint8_t)n, (uint8_t)(n >> 8), (uint8_t)~n,
                    (uint8_t)(~n >> 8)};
    rc = rc ? rc : put_bytes(w, h, sizeof h);
    rc = rc ? rc : put_bytes(w, p, n);
    if (n)
        w->adler = adler32(w->adler, p, (uInt)n);
    return rc;
}

/* Records out of the batch: deflated, or as stored blocks. */
static int flush_in(wye_encwriter *w, const uint8_t *p, size_t n, int finish)
{
    if (w->z_init)
        return deflate_run(w, p, n, finish ? Z_FINISH : Z_NO_FLUSH);
    int rc = WYE_OK;
    while (n && rc == WYE_OK) {
        size_t k = n < 65535 ? n : 65535;
        rc = stored_block(w, p, k, 0);
        p += k;
        n -= k;
    }
    if (rc == WYE_OK && finish) {
        uint8_t a[4] = {(uint8_t)(w->adler >> 24), (uint8_t)(w->adler >> 16),
                        (uint8_t)(w->adler >> 8), (uint8_t)w->adler};
        rc = stored_block(w, NULL, 0, 1);
        rc = rc ? rc : put_bytes(w, a, sizeof a);
    }
    return rc;
}

void wye_encwriter_abort(wye_encwriter *w)
{
    if (!w)
        return;
    if (w->z_init)
        deflateEnd(&w->z);
    if (w->ss)
        sodium_free(w->ss);
    if (w->sign_sk)
        sodium_free(w->sign_sk);
    if (w->pend)
        sodium_memzero(w->pend, PLAIN_MAX);
    if (w->cur)
        sodium_memzero(w->cur, PLAIN_MAX);
    if (w->in)
        sodium_memzero(w->in, IN_MAX);
    free(w->pend);
    free(w->cur);
    free(w->ct);
    free(w->in);
    tr_wipe(&w->sign);
    free(w);
}

int wye_encwriter_open(wye_sink sink, const wye_encfile_meta *meta, const wye_party *signer,
                       const wye_party_public *recipient, wye_encwriter **out)
{
    if (!out)
        return WYE_EINVAL;
    *out = NULL;
    if (!sink.write || !meta || !signer || !recipient)
        return WYE_EINVAL;
    const wye_party_public *me = wye_party_public_part(signer);
    const char *agency = meta->agency[0] ? meta->agency : me->name;
    /* The agency is the signer (whose name keys.c has checked): a reader
     * trusts a key only under its own name. */
    if (strnlen(meta->agency, sizeof meta->agency) == sizeof meta->agency ||
        strcmp(agency, me->name) != 0 ||
        strnlen(meta->extract_date, sizeof meta->extract_date) == sizeof meta->extract_date ||
        !valid_date(meta->extract_date) || meta->record_size == 0 ||
        meta->record_size > RECORD_MAX)
        return WYE_EINVAL;
    if (wye_crypto_init() != WYE_OK)
        return WYE_ECRYPTO;

    /* aligned: the transcript's BLAKE2b state wants 64-byte alignment */
    wye_encwriter *w = aligned_alloc(_Alignof(wye_encwriter), sizeof *w);
    if (w)
        memset(w, 0, sizeof *w);
    if (!w)
        return WYE_ENOMEM;
    w->sink = sink;
    w->record_size = meta->record_size;
    w->first = 1;
    w->ss = sodium_malloc(sizeof *w->ss);
    w->sign_sk = sodium_malloc(WYE_SIGN_SK_BYTES);
    uint8_t *key = sodium_malloc(crypto_secretstream_xchacha20poly1305_KEYBYTES);
    w->pend = malloc(PLAIN_MAX);
    w->cur = malloc(PLAIN_MAX);
    w->ct = malloc(CT_MAX);
    w->in = malloc(IN_MAX);
    int rc = WYE_OK;
    if (!w->ss || !w->sign_sk || !key || !w->pend || !w->cur || !w->ct || !w->in)
        rc = WYE_ENOMEM;

    if (rc == WYE_OK) {
        memcpy(w->sign_sk, wye_party_sign_sk(signer), WYE_SIGN_SK_BYTES);
        uint8_t *h = w->header;
        memcpy(h, MAGIC, MAGIC_BYTES);
        put_u32(h + OFF_VERSION, WYE_ENCFILE_VERSION);
        memcpy(h + OFF_RECIPIENT, recipient->box_pk, WYE_BOX_PK_BYTES);
        crypto_secretstream_xchacha20poly1305_keygen(key);
        if (crypto_box_seal(h + OFF_SEALED_KEY, key,
                            crypto_secretstream_xchacha20poly1305_KEYBYTES,
                            recipient->box_pk) != 0 ||
            crypto_secretstream_xchacha20poly1305_init_push(w->ss, h + OFF_SS_HEADER, key) != 0)
            rc = WYE_ECRYPTO;
    }
    if (key)
        sodium_free(key);
    w->adler = adler32(0L, Z_NULL, 0);
    if (rc == WYE_OK) {
        tr_init(&w->sign, WYE_ENCFILE_VERSION, w->header);
        uint8_t *m = w->pend + NEXT_BYTES;
        memset(m, 0, META_BYTES);
        memcpy(m + META_FINGERPRINT, meta->fingerprint, WYE_FINGERPRINT_BYTES);
        memcpy(m + META_KEY_ID, meta->key_id, WYE_KEY_ID_BYTES);
        memcpy(m + META_AGENCY, agency, strlen(agency));
        memcpy(m + META_SIGNER, me->sign_pk, WYE_SIGN_PK_BYTES);
        put_u64(m + META_CREATED, (uint64_t)meta->created);
        memcpy(m + META_EXTRACT_DATE, meta->extract_date, strlen(meta->extract_date));
        put_u32(m + META_RECORD_SIZE, meta->record_size);
        w->pend_len = META_BYTES;
        rc = sink.write(sink.ctx, w->header, HEADER_BYTES);
    }
    if (rc != WYE_OK) {
        wye_encwriter_abort(w);
        return rc;
    }
    *out = w;
    return WYE_OK;
}

int wye_encwriter_set_compression(wye_encwriter *w, wye_enc_compression c)
{
    if (!w || w->count || (c != WYE_ENC_STORED && c != WYE_ENC_RLE))
        return WYE_EINVAL;
    if (w->err)
        return w->err;
    if (c == WYE_ENC_STORED) {
        if (w->z_init)
            deflateEnd(&w->z);
        w->z_init = 0;
        return WYE_OK;
    }
    if (w->z_init)
        return WYE_OK;
    if (deflateInit2(&w->z, Z_BEST_SPEED, Z_DEFLATED, 15, 8, Z_RLE) != Z_OK)
        return w->err = WYE_ENOMEM;
    w->z_init = 1;
    return WYE_OK;
}

int wye_encwriter_add(wye_encwriter *w, const uint8_t *record)
{
    if (!w || !record)
        return WYE_EINVAL;
    if (w->err)
        return w->err;
    /* deflate is called on whole batches: per-call overhead on small
     * records otherwise dominates. */
    if (w->in_len + w->record_size > IN_MAX) {
        int rc = flush_in(w, w->in, w->in_len, 0);
        w->in_len = 0;
        if (rc != WYE_OK)
            return w->err = rc;
    }
    if (w->record_size > IN_MAX) {
        int rc = flush_in(w, record, w->record_size, 0);
        if (rc != WYE_OK)
            return w->err = rc;
    } else {
        memcpy(w->in + w->in_len, record, w->record_size);
        w->in_len += w->record_size;
    }
    w->count++;
    return WYE_OK;
}

int wye_encwriter_close(wye_encwriter *w) { return wye_encwriter_close_digest(w, NULL, NULL); }

int wye_encwriter_close_digest(wye_encwriter *w, uint8_t digest[WYE_ENCFILE_DIGEST_BYTES],
                               uint64_t *bytes)
{
    if (!w || (digest && !bytes)) {
        wye_encwriter_abort(w);
        return WYE_EINVAL;
    }
    int rc = w->err;
    rc = rc ? rc : flush_in(w, w->in, w->in_len, 1);
    rc = rc ? rc : emit(w, w->pend, w->pend_len, CT_LEN(w->cur_len), TAG_MESSAGE);
    rc = rc ? rc : emit(w, w->cur, w->cur_len, CT_LEN(TRAILER_BYTES), TAG_MESSAGE);
    if (rc == WYE_OK) {
        uint8_t *t = w->cur; /* reused for the trailer */
        put_u32(t, 0);
        put_u64(t + NEXT_BYTES, w->count);
        rc = tr_sign(&w->sign, t, t + NEXT_BYTES + 8, w->sign_sk);
        rc = rc ? rc : emit(w, t, TRAILER_BYTES, 0, TAG_FINAL);
    }
    if (rc == WYE_OK && digest) {
        crypto_generichash_blake2b_final(&w->sign.b2, digest, FILE_HASH_BYTES);
        *bytes = w->sign.bytes;
    }
    wye_encwriter_abort(w);
    return rc;
}

/* ---- reader ------------------------------------------------------------- */

struct wye_encreader {
    wye_source src;
    int err; /* sticky */
    int done;
    wye_encfile_meta meta;
    crypto_secretstream_xchacha20poly1305_state *ss; /* secure memory */
    transcript sign;
    uint8_t *ct, *pt;
    size_t pt_len, pt_pos; /* payload of the current message is pt[4..pt_len) */
    uint32_t next_ct;      /* ciphertext length of the next message, 0 = none */
    z_stream z;
    int z_init, z_end;
    uint8_t *rec;
    size_t rec_fill;
    uint64_t count;
    uint8_t header[HEADER_BYTES];
};

void wye_encreader_free(wye_encreader *r)
{
    if (!r)
        return;
    if (r->z_init)
        inflateEnd(&r->z);
    if (r->ss)
        sodium_free(r->ss);
    if (r->pt)
        sodium_memzero(r->pt, PLAIN_MAX);
    if (r->rec)
        sodium_memzero(r->rec, r->meta.record_size);
    free(r->ct);
    free(r->pt);
    free(r->rec);
    free(r);
}

/* Read and open the next message; *tag is its tag. The plaintext (with its
 * 4-byte next-length) is pt[0..pt_len). */
static int read_msg(wye_encreader *r, unsigned char *tag, int first)
{
    uint32_t len = r->next_ct;
    if (len < CT_MIN || len > CT_MAX)
        return WYE_ECORRUPT;
    int rc = wye_source_read_full(&r->src, r->ct, len);
    if (rc != WYE_OK)
        return rc;
    unsigned long long ptlen;
    if (crypto_secretstream_xchacha20poly1305_pull(r->ss, r->pt, &ptlen, tag, r->ct, len,
                                                   first ? r->header : NULL,
                                                   first ? HEADER_BYTES : 0) != 0)
        return WYE_ECORRUPT;
    r->pt_len = (size_t)ptlen;
    r->pt_pos = NEXT_BYTES;
    r->next_ct = get_u32(r->pt);
    /* A writer never makes these; refuse them all the same. */
    if ((*tag == TAG_FINAL) != (r->next_ct == 0) || (*tag != TAG_FINAL && *tag != TAG_MESSAGE))
        return WYE_ECORRUPT;
    if (r->next_ct && (r->next_ct < CT_MIN || r->next_ct > CT_MAX))
        return WYE_ECORRUPT;
    if (*tag != TAG_FINAL)
        tr_message(&r->sign, r->pt, r->pt_len, r->ct, len);
    return WYE_OK;
}

/* Read the magic, telling a short encoded file from something else. */
static int read_magic(wye_source *src, uint8_t *h)
{
    size_t got = 0;
    while (got < MAGIC_BYTES) {
        ssize_t n = src->read(src->ctx, h + got, MAGIC_BYTES - got);
        if (n < 0)
            return (int)n;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (memcmp(h, MAGIC, got) != 0)
        return WYE_EFORMAT;
    return got == MAGIC_BYTES ? WYE_OK : WYE_ETRUNCATED;
}

static int parse_meta(wye_encreader *r, const uint8_t *m)
{
    wye_encfile_meta *e = &r->meta;
    e->format_version = get_u32(r->header + OFF_VERSION);
    memcpy(e->fingerprint, m + META_FINGERPRINT, WYE_FINGERPRINT_BYTES);
    memcpy(e->key_id, m + META_KEY_ID, WYE_KEY_ID_BYTES);
    memcpy(e->agency, m + META_AGENCY, WYE_PARTY_NAME_MAX);
    memcpy(e->signer_pk, m + META_SIGNER, WYE_SIGN_PK_BYTES);
    e->created = (int64_t)get_u64(m + META_CREATED);
    memcpy(e->extract_date, m + META_EXTRACT_DATE, 10);
    e->extract_date[10] = '\0';
    e->record_size = get_u32(m + META_RECORD_SIZE);
    e->records = 0;
    /* Authentic but not what a writer makes: padding must be zero. */
    size_t alen = strnlen(e->agency, WYE_PARTY_NAME_MAX);
    for (size_t i = alen; i < WYE_PARTY_NAME_MAX; i++)
        if (e->agency[i])
            return WYE_EFORMAT;
    size_t dlen = strnlen(e->extract_date, 10);
    for (size_t i = dlen; i < 10; i++)
        if (m[META_EXTRACT_DATE + i])
            return WYE_EFORMAT;
    /* The name itself is checked against the trusted party's. */
    if (alen == 0 || !valid_date(e->extract_date) || e->record_size == 0 ||
        e->record_size > RECORD_MAX)
        return WYE_EFORMAT;
    return WYE_OK;
}

int wye_encreader_open(wye_source source, const wye_party *recipient, const wye_trust *trusted,
                       wye_encreader **out)
{
    if (!out)
        return WYE_EINVAL;
    *out = NULL;
    if (!source.read || !recipient || !trusted)
        return WYE_EINVAL;
    if (wye_crypto_init() != WYE_OK)
        return WYE_ECRYPTO;
    wye_encreader *r = aligned_alloc(_Alignof(wye_encreader), sizeof *r);
    if (r)
        memset(r, 0, sizeof *r);
    if (!r)
        return WYE_ENOMEM;
    r->src = source;
    uint8_t *key = NULL;
    int rc = read_magic(&r->src, r->header);
    rc = rc ? rc : wye_source_read_full(&r->src, r->header + OFF_VERSION, 4);
    uint32_t version = rc == WYE_OK ? get_u32(r->header + OFF_VERSION) : 0;
    if (rc == WYE_OK && (version < WYE_ENCFILE_VERSION_MIN || version > WYE_ENCFILE_VERSION))
        rc = WYE_EVERSION;
    rc = rc ? rc
            : wye_source_read_full(&r->src, r->header + OFF_RECIPIENT,
                                   HEADER_BYTES - OFF_RECIPIENT);
    const wye_party_public *me = wye_party_public_part(recipient);
    if (rc == WYE_OK &&
        sodium_memcmp(r->header + OFF_RECIPIENT, me->box_pk, WYE_BOX_PK_BYTES) != 0)
        rc = WYE_ERECIPIENT;
    if (rc == WYE_OK) {
        r->ss = sodium_malloc(sizeof *r->ss);
        key = sodium_malloc(crypto_secretstream_xchacha20poly1305_KEYBYTES);
        r->ct = malloc(CT_MAX);
        r->pt = malloc(PLAIN_MAX);
        if (!r->ss || !key || !r->ct || !r->pt)
            rc = WYE_ENOMEM;
    }
    /* Addressed to us but does not open: the header was altered. */
    if (rc == WYE_OK &&
        (crypto_box_seal_open(key, r->header + OFF_SEALED_KEY, SEALED_KEY_BYTES, me->box_pk,
                              wye_party_box_sk(recipient)) != 0 ||
         crypto_secretstream_xchacha20poly1305_init_pull(r->ss, r->header + OFF_SS_HEADER,
                                                         key) != 0))
        rc = WYE_ECORRUPT;
    if (key)
        sodium_free(key);
    unsigned char tag = 0;
    if (rc == WYE_OK) {
        tr_init(&r->sign, version, r->header);
        r->next_ct = CT_LEN(META_BYTES);
        rc = read_msg(r, &tag, 1);
    }
    if (rc == WYE_OK && (tag != TAG_MESSAGE || r->pt_len != NEXT_BYTES + META_BYTES))
        rc = WYE_ECORRUPT;
    rc = rc ? rc : parse_meta(r, r->pt + NEXT_BYTES);
    if (rc == WYE_OK) {
        /* The signer must be trusted, under the name the file claims. */
        const wye_party_public *p = wye_trust_find(trusted, r->meta.signer_pk);
        if (!p || strcmp(p->name, r->meta.agency) != 0)
            rc = WYE_EUNTRUSTED;
    }
    if (rc == WYE_OK) {
        r->pt_pos = r->pt_len; /* metadata consumed */
        r->rec = malloc(r->meta.record_size);
        if (!r->rec || inflateInit(&r->z) != Z_OK)
            rc = WYE_ENOMEM;
        else
            r->z_init = 1;
    }
    if (rc != WYE_OK) {
        wye_encreader_free(r);
        return rc;
    }
    *out = r;
    return WYE_OK;
}

const wye_encfile_meta *wye_encreader_meta(const wye_encreader *r) { return &r->meta; }

/* The deflate stream has ended: the next message must be the trailer, then
 * the end of the file. */
static int finish(wye_encreader *r)
{
    unsigned char tag;
    int rc = read_msg(r, &tag, 0);
    if (rc != WYE_OK)
        return rc;
    if (tag != TAG_FINAL || r->pt_len != NEXT_BYTES + TRAILER_BYTES)
        return WYE_ECORRUPT;
    if (!tr_verify(&r->sign, r->pt, r->pt + NEXT_BYTES + 8, r->meta.signer_pk))
        return WYE_ESIGNATURE;
    if (get_u64(r->pt + NEXT_BYTES) != r->count)
        return WYE_ECORRUPT;
    uint8_t extra;
    ssize_t n = r->src.read(r->src.ctx, &extra, 1);
    if (n < 0)
        return (int)n;
    if (n > 0)
        return WYE_ECORRUPT; /* bytes after the final message */
    r->meta.records = r->count;
    r->done = 1;
    return WYE_OK;
}

int wye_encreader_next(wye_encreader *r, const uint8_t **record)
{
    if (!r || !record)
        return WYE_EINVAL;
    *record = NULL;
    if (r->err)
        return r->err;
    if (r->done)
        return 0;
    int rc = WYE_OK;
    for (;;) {
        if (r->z_end) {
            rc = finish(r);
            break;
        }
        r->z.next_in = r->pt + r->pt_pos;
        r->z.avail_in = (uInt)(r->pt_len - r->pt_pos);
        r->z.next_out = r->rec + r->rec_fill;
        r->z.avail_out = (uInt)(r->meta.record_size - r->rec_fill);
        int zr = inflate(&r->z, Z_NO_FLUSH);
        r->pt_pos = r->pt_len - r->z.avail_in;
        r->rec_fill = r->meta.record_size - r->z.avail_out;
        if (zr == Z_STREAM_END) {
            r->z_end = 1;
            if (r->pt_pos != r->pt_len || (r->rec_fill != 0 && r->rec_fill != r->meta.record_size)) {
                rc = WYE_ECORRUPT; /* data after the stream, or a partial record */
                break;
            }
        } else if (zr == Z_MEM_ERROR) {
            rc = WYE_ENOMEM;
            break;
        } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
            rc = WYE_ECORRUPT;
            break;
        }
        if (r->rec_fill == r->meta.record_size) {
            r->rec_fill = 0;
            r->count++;
            *record = r->rec;
            return 1;
        }
        if (!r->z_end && r->pt_pos == r->pt_len) {
            unsigned char tag;
            if (r->next_ct == 0) {
                rc = WYE_ECORRUPT;
                break;
            }
            rc = read_msg(r, &tag, 0);
            if (rc == WYE_OK && tag == TAG_FINAL)
                rc = WYE_ECORRUPT; /* the records end before their stream does */
            if (rc != WYE_OK)
                break;
        } else if (!r->z_end && zr == Z_BUF_ERROR) {
            rc = WYE_ECORRUPT; /* no progress with input and room */
            break;
        }
    }
    if (rc != WYE_OK)
        return r->err = rc;
    return 0;
}

int wye_encfile_check(const wye_encfile_meta *m,
                      const uint8_t fingerprint[WYE_FINGERPRINT_BYTES],
                      const uint8_t key_id[WYE_KEY_ID_BYTES])
{
    if (!m || !fingerprint || !key_id)
        return WYE_EINVAL;
    if (memcmp(m->fingerprint, fingerprint, WYE_FINGERPRINT_BYTES) != 0)
        return WYE_EPROTOCOL;
    if (memcmp(m->key_id, key_id, WYE_KEY_ID_BYTES) != 0)
        return WYE_EKEYID;
    return WYE_OK;
}
