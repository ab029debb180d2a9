/* Sources, sinks, atomic output files and file digests. */
#include "wyelink/io.h"
#include "wyelink/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static ssize_t file_read(void *ctx, void *buf, size_t n)
{
    FILE *f = ctx;
    size_t got = fread(buf, 1, n, f);
    if (got == 0 && ferror(f))
        return WYE_EIO;
    return (ssize_t)got;
}

static ssize_t mem_read(void *ctx, void *buf, size_t n)
{
    wye_memsource *m = ctx;
    size_t left = m->size - m->pos;
    if (n > left)
        n = left;
    if (n)
        memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (ssize_t)n;
}

static int file_write(void *ctx, const void *buf, size_t n)
{
    return fwrite(buf, 1, n, (FILE *)ctx) == n ? WYE_OK : WYE_EIO;
}

static int mem_write(void *ctx, const void *buf, size_t n)
{
    wye_membuf *b = ctx;
    if (n > SIZE_MAX - b->size)
        return WYE_ENOMEM;
    if (b->size + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->size + n) {
            if (cap > SIZE_MAX / 2)
                return WYE_ENOMEM;
            cap *= 2;
        }
        uint8_t *p = realloc(b->data, cap);
        if (!p)
            return WYE_ENOMEM;
        b->data = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->size, buf, n);
    b->size += n;
    return WYE_OK;
}

wye_source wye_source_file(FILE *f) { return (wye_source){file_read, f}; }
wye_source wye_source_memory(wye_memsource *m) { return (wye_source){mem_read, m}; }
wye_sink wye_sink_file(FILE *f) { return (wye_sink){file_write, f}; }
wye_sink wye_sink_memory(wye_membuf *b) { return (wye_sink){mem_write, b}; }

int wye_source_read_full(wye_source *s, void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n) {
        ssize_t got = s->read(s->ctx, p, n);
        if (got < 0)
            return (int)got;
        if (got == 0)
            return WYE_ETRUNCATED;
        p += got;
        n -= (size_t)got;
    }
    return WYE_OK;
}

int wye_read_file(const char *path, size_t max, char **out, size_t *len)
{
    *out = NULL;
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? WYE_ENOTFOUND : WYE_EIO;
    wye_membuf b = {0};
    uint8_t chunk[65536];
    int rc = WYE_OK;
    for (;;) {
        size_t got = fread(chunk, 1, sizeof chunk, f);
        if (got == 0) {
            if (ferror(f))
                rc = WYE_EIO;
            break;
        }
        if (b.size + got > max) {
            rc = WYE_ERANGE;
            break;
        }
        if ((rc = mem_write(&b, chunk, got)) != WYE_OK)
            break;
    }
    if (f != stdin)
        fclose(f);
    if (rc == WYE_OK)
        rc = mem_write(&b, "", 1);
    if (rc != WYE_OK) {
        free(b.data);
        return rc;
    }
    *out = (char *)b.data;
    if (len)
        *len = b.size - 1;
    return WYE_OK;
}

struct wye_atomic {
    FILE *f;
    char *path;
    char *tmp;
};

int wye_atomic_open(const char *path, unsigned mode, int exclusive, wye_atomic **out)
{
    *out = NULL;
    if (exclusive && access(path, F_OK) == 0)
        return WYE_EEXIST;
    wye_atomic *a = calloc(1, sizeof *a);
    if (!a)
        return WYE_ENOMEM;
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = slash ? slash + 1 : path;
    size_t need = dirlen + strlen(base) + sizeof ".~tmp.XXXXXX" + 1;
    a->path = strdup(path);
    a->tmp = malloc(need);
    if (!a->path || !a->tmp) {
        wye_atomic_abort(a);
        return WYE_ENOMEM;
    }
    snprintf(a->tmp, need, "%.*s.%s.~tmp.XXXXXX", (int)dirlen, path, base);
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        free(a->tmp);
        a->tmp = NULL;
        wye_atomic_abort(a);
        return WYE_EIO;
    }
    if (fchmod(fd, (mode_t)mode) != 0 || !(a->f = fdopen(fd, "wb"))) {
        close(fd);
        wye_atomic_abort(a);
        return WYE_EIO;
    }
    *out = a;
    return WYE_OK;
}

FILE *wye_atomic_file(wye_atomic *a) { return a->f; }

int wye_atomic_commit(wye_atomic *a)
{
    int rc = WYE_OK;
    if (fflush(a->f) != 0 || ferror(a->f) || fsync(fileno(a->f)) != 0)
        rc = WYE_EIO;
    if (fclose(a->f) != 0)
        rc = WYE_EIO;
    a->f = NULL;
    if (rc == WYE_OK && rename(a->tmp, a->path) != 0)
        rc = WYE_EIO;
    if (rc == WYE_OK) {
        free(a->tmp);
        a->tmp = NULL;
    }
    int saved = errno;
    wye_atomic_abort(a);
    errno = saved;
    return rc;
}

void wye_atomic_abort(wye_atomic *a)
{
    if (!a)
        return;
    if (a->f)
        fclose(a->f);
    if (a->tmp)
        unlink(a->tmp);
    free(a->tmp);
    free(a->path);
    free(a);
}

int wye_file_digest(const char *path, uint8_t out[WYE_DIGEST_FILE_BYTES])
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? WYE_ENOTFOUND : WYE_EIO;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, WYE_DIGEST_FILE_BYTES);
    uint8_t buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        crypto_generichash_update(&st, buf, got);
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return WYE_EIO;
    crypto_generichash_final(&st, out, WYE_DIGEST_FILE_BYTES);
    return WYE_OK;
}

void wye_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int wye_file_is_private(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return errno == ENOENT ? WYE_ENOTFOUND : WYE_EIO;
    return (st.st_mode & (S_IRWXG | S_IRWXO)) ? 0 : 1;
}

int wye_crypto_init(void)
{
    return sodium_init() < 0 ? WYE_ECRYPTO : WYE_OK;
}
