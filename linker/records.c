/* Records in memory: reading encoded files, checking that they belong
 * together, and the view the rest of the linker works on. */
#include "wyelink/records.h"

#include <omp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Records are stored back to back in chunks so that a file of unknown
 * length is read without copying it twice. */
#define CHUNK_RECORDS 65536

struct wye_recfile {
    wye_encfile_meta meta;
    uint8_t digest[WYE_RECFILE_DIGEST_BYTES];
    uint64_t bytes;
    char label[WYE_LABEL_MAX];
    size_t record_size;
    size_t n;
    uint8_t **chunks;
    size_t nchunks;
};

typedef struct fileinfo {
    char agency[WYE_PARTY_NAME_MAX];
    char label[WYE_LABEL_MAX];
    uint8_t key_id[WYE_KEY_ID_BYTES];
    bool has_key_id;
    bool has_meta; /* read from a file: meta, digest and bytes hold */
    wye_encfile_meta meta;
    uint8_t digest[WYE_RECFILE_DIGEST_BYTES];
    uint64_t bytes;
    size_t first, n;
    uint8_t **chunks;
    size_t nchunks;
} fileinfo;

struct wye_recset {
    const wye_protocol *p;
    const wye_layout *layout;
    const wye_dice_kernel *k;
    uint8_t fingerprint[WYE_FINGERPRINT_BYTES];
    fileinfo *files;
    size_t nfiles, capfiles;
    size_t n;
    bool finished;
    /* built by finish */
    uint8_t *base;
    uint16_t *agency;
    size_t *agency_first;
    wye_recview view;
};

static void label_copy(char *dst, const char *label)
{
    snprintf(dst, WYE_LABEL_MAX, "%s", label ? label : "(unnamed)");
}

static void free_chunks(uint8_t **chunks, size_t nchunks)
{
    for (size_t c = 0; c < nchunks; c++)
        free(chunks[c]);
    free(chunks);
}

void wye_recfile_free(wye_recfile *f)
{
    if (!f)
        return;
    free_chunks(f->chunks, f->nchunks);
    free(f);
}

const wye_encfile_meta *wye_recfile_meta(const wye_recfile *f)
{
    return &f->meta;
}

const char *wye_recfile_label(const wye_recfile *f)
{
    return f->label;
}

const uint8_t *wye_recfile_digest(const wye_recfile *f, uint64_t *bytes)
{
    if (bytes)
        *bytes = f->bytes;
    return f->digest;
}

/* A source that digests every byte it passes on: the file's digest comes
 * from the bytes that were verified, in the same pass. */
typedef struct digest_source {
    wye_source in;
    crypto_generichash_state st;
    uint64_t bytes;
} digest_source;

static ssize_t digest_read(void *ctx, void *buf, size_t n)
{
    digest_source *d = ctx;
    ssize_t got = d->in.read(d->in.ctx, buf, n);
    if (got > 0) {
        crypto_generichash_update(&d->st, buf, (size_t)got);
        d->bytes += (uint64_t)got;
    }
    return got;
}

/* The reader refuses bytes after the trailer, so the source is at its end;
 * draining it all the same keeps the digest the whole file's (as
 * wye_file_digest gives it) whatever the reader does. */
static int digest_finish(digest_source *d, wye_recfile *f)
{
    uint8_t buf[16384];
    ssize_t got;
    while ((got = digest_read(d, buf, sizeof buf)) > 0)
        ;
    if (got < 0)
        return (int)got;
    crypto_generichash_final(&d->st, f->digest, sizeof f->digest);
    f->bytes = d->bytes;
    return WYE_OK;
}

static uint8_t *recfile_slot(wye_recfile *f)
{
    size_t c = f->n / CHUNK_RECORDS, k = f->n % CHUNK_RECORDS;
    if (c == f->nchunks) {
        uint8_t **ch = realloc(f->chunks, (f->nchunks + 1) * sizeof *ch);
        if (!ch)
            return NULL;
        f->chunks = ch;
        /* records are multiples of 8 bytes: keep filters 8-byte aligned */
        ch[c] = aligned_alloc(64, ((CHUNK_RECORDS * f->record_size) + 63) & ~(size_t)63);
        if (!ch[c])
            return NULL;
        f->nchunks++;
    }
    return f->chunks[c] + k * f->record_size;
}

static void hex8(const uint8_t *in, size_t n, char *out)
{
    wye_hex(in, n, out);
}

int wye_recfile_read(wye_source src, const char *label, const wye_protocol *p,
                     const wye_party *recipient, const wye_trust *trusted, wye_recfile **out,
                     wye_diag *diag)
{
    wye_diag_clear(diag);
    if (!p || !recipient || !trusted || !out)
        return WYE_EINVAL;
    *out = NULL;
    wye_recfile *f = calloc(1, sizeof *f);
    if (!f)
        return WYE_ENOMEM;
    label_copy(f->label, label);
    const wye_layout *lay = wye_protocol_layout(p);
    f->record_size = lay->record_size;
    /* the hash state wants 64-byte alignment */
    digest_source *ds = aligned_alloc(64, (sizeof *ds + 63) & ~(size_t)63);
    if (!ds) {
        wye_recfile_free(f);
        return WYE_ENOMEM;
    }
    ds->in = src;
    ds->bytes = 0;
    crypto_generichash_init(&ds->st, NULL, 0, WYE_RECFILE_DIGEST_BYTES);
    wye_encreader *r = NULL;
    int rc = wye_encreader_open((wye_source){digest_read, ds}, recipient, trusted, &r);
    if (rc != WYE_OK) {
        wye_diag_set(diag, 0, "file", "'%s' cannot be opened", f->label);
        free(ds);
        wye_recfile_free(f);
        return rc;
    }
    f->meta = *wye_encreader_meta(r);
    uint8_t fp[WYE_FINGERPRINT_BYTES];
    wye_protocol_fingerprint(p, fp);
    if (memcmp(fp, f->meta.fingerprint, sizeof fp) != 0) {
        char a[2 * WYE_FINGERPRINT_BYTES + 1], b[2 * WYE_FINGERPRINT_BYTES + 1];
        hex8(f->meta.fingerprint, sizeof fp, a);
        hex8(fp, sizeof fp, b);
        wye_diag_set(diag, 0, "file", "'%s' has protocol fingerprint %.16s..., not %.16s... (%s)",
                     f->label, a, b, wye_protocol_name(p));
        rc = WYE_EPROTOCOL;
        goto fail;
    }
    if (f->meta.record_size != lay->record_size) {
        wye_diag_set(diag, 0, "file", "'%s' has records of %u bytes, the protocol %zu",
                     f->label, (unsigned)f->meta.record_size, lay->record_size);
        rc = WYE_EFORMAT;
        goto fail;
    }
    const uint8_t *recp;
    for (;;) {
        rc = wye_encreader_next(r, &recp);
        if (rc == 0)
            break;
        if (rc < 0) {
            wye_diag_set(diag, f->n + 1, "file", "'%s' record %zu cannot be read", f->label,
                         f->n + 1);
            goto fail;
        }
        if (f->n >= (size_t)INT32_MAX) {
            wye_diag_set(diag, 0, "file", "'%s' has more than 2^31 records", f->label);
            rc = WYE_ERANGE;
            goto fail;
        }
        uint8_t *slot = recfile_slot(f);
        if (!slot) {
            rc = WYE_ENOMEM;
            goto fail;
        }
        memcpy(slot, recp, f->record_size);
        f->n++;
    }
    f->meta.records = f->n;
    if ((rc = digest_finish(ds, f)) != WYE_OK) {
        wye_diag_set(diag, 0, "file", "'%s' cannot be read to its end", f->label);
        goto fail;
    }
    wye_encreader_free(r);
    free(ds);
    *out = f;
    return WYE_OK;
fail:
    wye_encreader_free(r);
    free(ds);
    wye_recfile_free(f);
    return rc;
}

int wye_recset_new(const wye_protocol *p, const wye_dice_kernel *k, wye_recset **out)
{
    if (!p || !out)
        return WYE_EINVAL;
    *out = NULL;
    if (!k) {
        int rc = wye_dice_kernel_get(WYE_DICE_AUTO, &k);
        if (rc != WYE_OK)
            return rc;
    }
    wye_recset *s = calloc(1, sizeof *s);
    if (!s)
        return WYE_ENOMEM;
    s->p = p;
    s->layout = wye_protocol_layout(p);
    s->k = k;
    wye_protocol_fingerprint(p, s->fingerprint);
    *out = s;
    return WYE_OK;
}

void wye_recset_free(wye_recset *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nfiles; i++)
        free_chunks(s->files[i].chunks, s->files[i].nchunks);
    free(s->files);
    free(s->base);
    free(s->agency);
    free(s->agency_first);
    free(s);
}

/* Checks shared by both ways of adding records; on success a new fileinfo
 * slot is returned (not yet counted in nfiles). */
static int add_check(wye_recset *s, const char *agency, const char *label,
                     const uint8_t *key_id, size_t n, wye_diag *diag, fileinfo **slot)
{
    if (s->finished)
        return WYE_ESTATE;
    size_t alen = strlen(agency);
    if (alen == 0 || alen >= WYE_PARTY_NAME_MAX)
        return WYE_EINVAL;
    for (size_t i = 0; i < s->nfiles; i++) {
        if (strcmp(s->files[i].agency, agency) == 0) {
            wye_diag_set(diag, 0, "file", "two inputs are from agency '%s': '%s' and '%s'",
                         agency, s->files[i].label, label ? label : "(unnamed)");
            return WYE_EDUPLICATE;
        }
    }
    if (key_id) {
        for (size_t i = 0; i < s->nfiles; i++) {
            if (!s->files[i].has_key_id)
                continue;
            if (memcmp(s->files[i].key_id, key_id, WYE_KEY_ID_BYTES) != 0) {
                char a[2 * WYE_KEY_ID_BYTES + 1], b[2 * WYE_KEY_ID_BYTES + 1];
                hex8(key_id, WYE_KEY_ID_BYTES, a);
                hex8(s->files[i].key_id, WYE_KEY_ID_BYTES, b);
                wye_diag_set(diag, 0, "file",
                             "'%s' was hashed with linkage secret %s, '%s' with %s", label, a,
                             s->files[i].label, b);
                return WYE_EKEYID;
            }
            break;
        }
    }
    if (s->nfiles >= UINT16_MAX) {
        wye_diag_set(diag, 0, "file", "'%s': more than %u files", label, UINT16_MAX);
        return WYE_ERANGE;
    }
    if (n > (size_t)INT32_MAX - s->n) {
        wye_diag_set(diag, 0, "file", "'%s': more than 2^31 records in all", label);
        return WYE_ERANGE;
    }
    if (s->nfiles == s->capfiles) {
        size_t cap = s->capfiles ? 2 * s->capfiles : 8;
        fileinfo *fi = realloc(s->files, cap * sizeof *fi);
        if (!fi)
            return WYE_ENOMEM;
        s->files = fi;
        s->capfiles = cap;
    }
    fileinfo *fi = &s->files[s->nfiles];
    memset(fi, 0, sizeof *fi);
    snprintf(fi->agency, sizeof fi->agency, "%s", agency);
    label_copy(fi->label, label);
    if (key_id) {
        memcpy(fi->key_id, key_id, WYE_KEY_ID_BYTES);
        fi->has_key_id = true;
    }
    fi->first = s->n;
    fi->n = n;
    *slot = fi;
    return WYE_OK;
}

int wye_recset_add_file(wye_recset *s, wye_recfile *f, wye_diag *diag)
{
    wye_diag_clear(diag);
    if (!s || !f) {
        wye_recfile_free(f);
        return WYE_EINVAL;
    }
    if (memcmp(f->meta.fingerprint, s->fingerprint, WYE_FINGERPRINT_BYTES) != 0) {
        wye_diag_set(diag, 0, "file", "'%s' was made with another protocol", f->label);
        wye_recfile_free(f);
        return WYE_EPROTOCOL;
    }
    fileinfo *fi;
    int rc = add_check(s, f->meta.agency, f->label, f->meta.key_id, f->n, diag, &fi);
    if (rc != WYE_OK) {
        wye_recfile_free(f);
        return rc;
    }
    fi->has_meta = true;
    fi->meta = f->meta;
    memcpy(fi->digest, f->digest, sizeof fi->digest);
    fi->bytes = f->bytes;
    fi->chunks = f->chunks;
    fi->nchunks = f->nchunks;
    f->chunks = NULL;
    f->nchunks = 0;
    s->n += fi->n;
    s->nfiles++;
    wye_recfile_free(f);
    return WYE_OK;
}

int wye_recset_add_records(wye_recset *s, const char *agency, const char *label,
                           const uint8_t key_id[WYE_KEY_ID_BYTES], const uint8_t *records,
                           size_t n, wye_diag *diag)
{
    wye_diag_clear(diag);
    if (!s || !agency || (n && !records))
        return WYE_EINVAL;
    fileinfo *fi;
    int rc = add_check(s, agency, label, key_id, n, diag, &fi);
    if (rc != WYE_OK)
        return rc;
    size_t rs = s->layout->record_size;
    size_t nch = (n + CHUNK_RECORDS - 1) / CHUNK_RECORDS;
    uint8_t **ch = calloc(nch + 1, sizeof *ch);
    if (!ch)
        return WYE_ENOMEM;
    for (size_t c = 0; c < nch; c++) {
        size_t m = n - c * CHUNK_RECORDS < CHUNK_RECORDS ? n - c * CHUNK_RECORDS : CHUNK_RECORDS;
        ch[c] = aligned_alloc(64, ((CHUNK_RECORDS * rs) + 63) & ~(size_t)63);
        if (!ch[c]) {
            free_chunks(ch, c);
            return WYE_ENOMEM;
        }
        memcpy(ch[c], records + c * CHUNK_RECORDS * rs, m * rs);
    }
    fi->chunks = ch;
    fi->nchunks = nch;
    s->n += n;
    s->nfiles++;
    return WYE_OK;
}

int wye_recset_finish(wye_recset *s, unsigned threads)
{
    if (!s)
        return WYE_EINVAL;
    if (s->finished)
        return WYE_ESTATE;
    size_t n = s->n;
    const wye_layout *lay = s->layout;
    size_t nf = wye_protocol_nfields(s->p);
    size_t npop = 1;
    int col[WYE_MAX_FIELDS];
    for (size_t f = 0; f < WYE_MAX_FIELDS; f++)
        col[f] = f < nf && lay->field_filter_bytes[f] ? (int)(npop++ - 1) : -1;
    size_t rs = lay->record_size;
    size_t pop_off = (rs + 3) & ~(size_t)3;
    size_t stride = (pop_off + 4 * npop + 63) & ~(size_t)63;
    if (n && stride > SIZE_MAX / n)
        return WYE_ENOMEM;
    s->base = aligned_alloc(64, n ? n * stride : 64);
    s->agency = malloc((n + 1) * sizeof *s->agency);
    s->agency_first = malloc((s->nfiles + 1) * sizeof *s->agency_first);
    if (!s->base || !s->agency || !s->agency_first)
        return WYE_ENOMEM;
    /* one contiguous array of slots; each file's chunks are freed as soon
     * as they are copied, so memory peaks at the slots plus one chunk */
    for (size_t a = 0; a < s->nfiles; a++) {
        fileinfo *fi = &s->files[a];
        s->agency_first[a] = fi->first;
        for (size_t r = 0; r < fi->n; r++) {
            uint8_t *slot = s->base + (fi->first + r) * stride;
            memcpy(slot, fi->chunks[r / CHUNK_RECORDS] + (r % CHUNK_RECORDS) * rs, rs);
            memset(slot + rs, 0, stride - rs);
            s->agency[fi->first + r] = (uint16_t)a;
            if (r % CHUNK_RECORDS == CHUNK_RECORDS - 1 || r + 1 == fi->n) {
                free(fi->chunks[r / CHUNK_RECORDS]);
                fi->chunks[r / CHUNK_RECORDS] = NULL;
            }
        }
    }
    s->agency_first[s->nfiles] = n;
    int nt = threads ? (int)threads : omp_get_num_procs();
#pragma omp parallel for schedule(static) num_threads(nt)
    for (size_t i = 0; i < n; i++) {
        uint8_t *r = s->base + i * stride;
        uint32_t pops[1 + WYE_MAX_FIELDS] = {0};
        if (lay->filter_bytes)
            pops[0] = wye_dice_popcount(s->k, (const uint64_t *)(const void *)(r + lay->filter_off),
                                        lay->filter_bytes / 8);
        for (size_t f = 0; f < nf; f++)
            if (col[f] >= 0)
                pops[1 + col[f]] = wye_dice_popcount(
                    s->k, (const uint64_t *)(const void *)(r + lay->field_filter_off[f]),
                    lay->field_filter_bytes[f] / 8);
        memcpy(r + pop_off, pops, 4 * npop);
    }
    s->view = (wye_recview){
        .n = n,
        .nagencies = s->nfiles,
        .base = s->base,
        .stride = stride,
        .pop_off = pop_off,
        .agency = s->agency,
        .agency_first = s->agency_first,
        .protocol = s->p,
        .layout = s->layout,
        .kernel = s->k,
    };
    memcpy(s->view.fpop_col, col, sizeof col);
    s->finished = true;
    return WYE_OK;
}

const wye_recview *wye_recset_view(const wye_recset *s)
{
    return s && s->finished ? &s->view : NULL;
}

const char *wye_recset_agency(const wye_recset *s, size_t a)
{
    return a < s->nfiles ? s->files[a].agency : NULL;
}

const char *wye_recset_label(const wye_recset *s, size_t a)
{
    return a < s->nfiles ? s->files[a].label : NULL;
}

const uint8_t *wye_recset_key_id(const wye_recset *s)
{
    for (size_t i = 0; i < s->nfiles; i++)
        if (s->files[i].has_key_id)
            return s->files[i].key_id;
    return NULL;
}

const wye_encfile_meta *wye_recset_meta(const wye_recset *s, size_t a)
{
    return a < s->nfiles && s->files[a].has_meta ? &s->files[a].meta : NULL;
}

const uint8_t *wye_recset_digest(const wye_recset *s, size_t a, uint64_t *bytes)
{
    if (a >= s->nfiles || !s->files[a].has_meta)
        return NULL;
    if (bytes)
        *bytes = s->files[a].bytes;
    return s->files[a].digest;
}
