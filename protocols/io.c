/* Sources, sinks, atomic output files and file digests. */
#include "wyelink/io.h"
#include "wyelink/keys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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
    return fwrite(buf, 1, n, (FILE *)ctx) == n ? WYE_OK : wye_io_write_error(errno);
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

int wye_io_write_error(int err)
{
#ifdef EDQUOT
    if (err == EDQUOT)
        return WYE_ENOSPC;
#endif
    return err == ENOSPC ? WYE_ENOSPC : WYE_EIO;
}

/* ---- the registry of open temp files (for wye_io_remove_temps) ----------
 *
 * Fixed slots, so the signal handler needs no malloc and no lock: a slot is
 * claimed (FREE -> FILLING) by compare-and-swap, its path copied, then
 * published (LIVE); the handler unlinks LIVE slots only. */
#define TEMP_SLOTS 64
#define TEMP_PATH_MAX 4096
enum { SLOT_FREE, SLOT_FILLING, SLOT_LIVE };
static struct {
    int state;
    char path[TEMP_PATH_MAX];
} temps[TEMP_SLOTS];

static int temp_register(const char *path)
{
    size_t n = strlen(path);
    if (n >= TEMP_PATH_MAX)
        return -1; /* not removable by a signal; the next run's recovery will */
    for (int i = 0; i < TEMP_SLOTS; i++) {
        int expect = SLOT_FREE;
        if (__atomic_compare_exchange_n(&temps[i].state, &expect, SLOT_FILLING, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            memcpy(temps[i].path, path, n + 1);
            __atomic_store_n(&temps[i].state, SLOT_LIVE, __ATOMIC_RELEASE);
            return i;
        }
    }
    return -1;
}

static void temp_unregister(int *slot)
{
    if (*slot >= 0)
        __atomic_store_n(&temps[*slot].state, SLOT_FREE, __ATOMIC_RELEASE);
    *slot = -1;
}

void wye_io_remove_temps(void)
{
    int saved = errno;
    for (int i = 0; i < TEMP_SLOTS; i++)
        if (__atomic_load_n(&temps[i].state, __ATOMIC_ACQUIRE) == SLOT_LIVE)
            unlink(temps[i].path);
    errno = saved;
}

/* ---- atomic output files ---------------------------------------------- */

struct wye_atomic {
    FILE *f;
    char *path;
    char *tmp;
    int slot;       /* in the temp registry, or -1 */
    bool in_set;    /* owned by a wye_outset */
    bool renamed;   /* tmp is now path: nothing to remove */
};

/* Split path into its folder ("" or ending in '/') and file name. */
static void split_path(const char *path, size_t *dirlen, const char **base)
{
    const char *slash = strrchr(path, '/');
    *dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    *base = slash ? slash + 1 : path;
}

/* Create a new temp file from the template tmp (ending in XXXXXX), holding
 * an exclusive flock. A stale-file sweeper (wye_output_recover) only unlinks
 * a temp file while it holds the lock, so a file we lock and still find
 * linked is ours for good; otherwise try another name. */
static int make_temp(char *tmp, size_t len)
{
    for (int tries = 0; tries < 16; tries++) {
        memcpy(tmp + len - 6, "XXXXXX", 6);
        int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
            return -1;
        struct stat st;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0 && st.st_nlink > 0)
            return fd;
        close(fd);
    }
    errno = EAGAIN;
    return -1;
}

int wye_atomic_open(const char *path, unsigned mode, int exclusive, wye_atomic **out)
{
    *out = NULL;
    if (exclusive && access(path, F_OK) == 0)
        return WYE_EEXIST;
    wye_atomic *a = calloc(1, sizeof *a);
    if (!a)
        return WYE_ENOMEM;
    a->slot = -1;
    size_t dirlen;
    const char *base;
    split_path(path, &dirlen, &base);
    size_t need = dirlen + strlen(base) + sizeof ".~tmp.XXXXXX" + 1;
    a->path = strdup(path);
    a->tmp = malloc(need);
    if (!a->path || !a->tmp) {
        wye_atomic_abort(a);
        return WYE_ENOMEM;
    }
    int n = snprintf(a->tmp, need, "%.*s.%s.~tmp.XXXXXX", (int)dirlen, path, base);
    int fd = make_temp(a->tmp, (size_t)n);
    if (fd < 0) {
        int saved = errno;
        free(a->tmp);
        a->tmp = NULL;
        wye_atomic_abort(a);
        errno = saved;
        return wye_io_write_error(saved);
    }
    a->slot = temp_register(a->tmp);
    if (fchmod(fd, (mode_t)mode) != 0 || !(a->f = fdopen(fd, "wb"))) {
        int saved = errno;
        close(fd);
        wye_atomic_abort(a);
        errno = saved;
        return WYE_EIO;
    }
    *out = a;
    return WYE_OK;
}

FILE *wye_atomic_file(wye_atomic *a) { return a->f; }

const char *wye_atomic_temp_path(const wye_atomic *a) { return a->tmp; }

/* Flush and fsync: the bytes are final and durable. */
static int atomic_sync(wye_atomic *a)
{
    if (fflush(a->f) != 0 || ferror(a->f) || fsync(fileno(a->f)) != 0)
        return wye_io_write_error(errno);
    return WYE_OK;
}

/* fsync the folder holding path, so a rename or unlink in it is durable.
 * File systems that cannot fsync a folder (EINVAL) are taken as they are. */
static int sync_dir_of(const char *path)
{
    size_t dirlen;
    const char *base;
    split_path(path, &dirlen, &base);
    char dir[PATH_MAX];
    if (dirlen >= sizeof dir)
        return WYE_EIO;
    if (dirlen == 0)
        strcpy(dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)dirlen, path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return WYE_EIO;
    int rc = fsync(fd) != 0 && errno != EINVAL ? wye_io_write_error(errno) : WYE_OK;
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

static int atomic_rename(wye_atomic *a)
{
    if (rename(a->tmp, a->path) != 0)
        return WYE_EIO;
    a->renamed = true;
    temp_unregister(&a->slot);
    return WYE_OK;
}

/* Close (releasing the lock), remove the temp file unless renamed, free. */
static void atomic_free(wye_atomic *a)
{
    int saved = errno;
    if (a->tmp && !a->renamed)
        unlink(a->tmp); /* before closing: nobody else may take the name */
    temp_unregister(&a->slot);
    if (a->f)
        fclose(a->f);
    free(a->tmp);
    free(a->path);
    free(a);
    errno = saved;
}

int wye_atomic_commit(wye_atomic *a)
{
    if (a->in_set)
        return WYE_ESTATE;
    int rc = atomic_sync(a);
    if (rc == WYE_OK)
        rc = atomic_rename(a);
    if (rc == WYE_OK)
        rc = sync_dir_of(a->path);
    if (rc == WYE_OK && fclose(a->f) != 0)
        rc = WYE_EIO;
    a->f = NULL;
    atomic_free(a);
    return rc;
}

void wye_atomic_abort(wye_atomic *a)
{
    if (a && !a->in_set)
        atomic_free(a);
}

/* ---- output sets (the journal is described in io.h) -------------------- */

#define SET_MAX 64
#define JOURNAL_MAGIC "wyelink-outset 1\n"
#define JOURNAL_MAX ((size_t)SET_MAX * 2 * (PATH_MAX + 1) + 64)

struct wye_outset {
    wye_atomic *m[SET_MAX];
    char *abs_tmp[SET_MAX]; /* absolute paths, for the journal */
    char *abs_path[SET_MAX];
    size_t n;
    bool prepared;
    bool failed;
};

int wye_outset_new(wye_outset **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? WYE_OK : WYE_ENOMEM;
}

/* The absolute form of path's folder joined to name: realpath of the
 * folder (which exists), so recovery from another working folder finds
 * the same files. */
static char *absolute_in_dir(const char *path, const char *name)
{
    size_t dirlen;
    const char *base;
    split_path(path, &dirlen, &base);
    char dir[PATH_MAX], real[PATH_MAX];
    if (dirlen >= sizeof dir)
        return NULL;
    snprintf(dir, sizeof dir, "%.*s", (int)dirlen, dirlen ? path : ".");
    if (!realpath(dir, real))
        return NULL;
    size_t need = strlen(real) + 1 + strlen(name) + 1;
    char *r = malloc(need);
    if (r)
        snprintf(r, need, "%s%s%s", real, strcmp(real, "/") ? "/" : "", name);
    return r;
}

/* The journal beside path: folder + ".NAME.~set". */
static char *journal_path(const char *path)
{
    size_t dirlen;
    const char *base;
    split_path(path, &dirlen, &base);
    size_t need = dirlen + strlen(base) + sizeof "..~set";
    char *j = malloc(need);
    if (j)
        snprintf(j, need, "%.*s.%s.~set", (int)dirlen, path, base);
    return j;
}

int wye_outset_open(wye_outset *s, const char *path, unsigned mode, wye_atomic **file)
{
    *file = NULL;
    if (!s || !path)
        return WYE_EINVAL;
    if (s->prepared || s->failed)
        return WYE_ESTATE;
    if (s->n == SET_MAX)
        return WYE_ERANGE;
    size_t dirlen;
    const char *base;
    split_path(path, &dirlen, &base);
    char *abs = absolute_in_dir(path, base);
    if (!abs)
        return errno == ENOMEM ? WYE_ENOMEM : WYE_EIO;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->abs_path[i], abs) == 0) {
            free(abs);
            return WYE_EEXIST;
        }
    wye_atomic *a;
    int rc = wye_atomic_open(path, mode, 0, &a);
    if (rc != WYE_OK) {
        free(abs);
        return rc;
    }
    const char *tbase = strrchr(a->tmp, '/');
    char *abs_tmp = absolute_in_dir(path, tbase ? tbase + 1 : a->tmp);
    if (!abs_tmp) {
        free(abs);
        atomic_free(a);
        return WYE_ENOMEM;
    }
    a->in_set = true;
    s->m[s->n] = a;
    s->abs_path[s->n] = abs;
    s->abs_tmp[s->n] = abs_tmp;
    s->n++;
    *file = a;
    return WYE_OK;
}

int wye_outset_prepare(wye_outset *s)
{
    if (!s)
        return WYE_EINVAL;
    if (s->failed)
        return WYE_ESTATE;
    if (s->prepared)
        return WYE_OK;
    for (size_t i = 0; i < s->n; i++) {
        int rc = atomic_sync(s->m[i]);
        if (rc != WYE_OK) {
            s->failed = true;
            return rc;
        }
    }
    s->prepared = true;
    return WYE_OK;
}

void wye_outset_abort(wye_outset *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        atomic_free(s->m[i]);
        free(s->abs_tmp[i]);
        free(s->abs_path[i]);
    }
    free(s);
}

/* The journal's bytes for the set (format in io.h). */
static int journal_text(const wye_outset *s, wye_membuf *b)
{
    char head[64];
    int n = snprintf(head, sizeof head, JOURNAL_MAGIC "%zu\n", s->n);
    int rc = mem_write(b, head, (size_t)n);
    for (size_t i = 0; rc == WYE_OK && i < s->n; i++) {
        rc = mem_write(b, s->abs_tmp[i], strlen(s->abs_tmp[i]) + 1);
        if (rc == WYE_OK)
            rc = mem_write(b, s->abs_path[i], strlen(s->abs_path[i]) + 1);
    }
    if (rc == WYE_OK)
        rc = mem_write(b, "end\n", 4);
    return rc;
}

/* Write every journal of the set, each durable and locked (kept open in
 * j[] until the set is in place). */
static int journals_write(wye_outset *s, wye_atomic **j)
{
    wye_membuf b = {0};
    int rc = journal_text(s, &b);
    for (size_t i = 0; rc == WYE_OK && i < s->n; i++) {
        char *jp = journal_path(s->m[i]->path);
        rc = jp ? wye_atomic_open(jp, 0600, 0, &j[i]) : WYE_ENOMEM;
        free(jp);
        if (rc == WYE_OK && fwrite(b.data, 1, b.size, j[i]->f) != b.size)
            rc = wye_io_write_error(errno);
        if (rc == WYE_OK)
            rc = atomic_sync(j[i]);
        if (rc == WYE_OK && i == 0) {
            /* From the first journal on, the set belongs to recovery: a
             * signal must no longer remove its temp files. */
            for (size_t k = 0; k < s->n; k++)
                temp_unregister(&s->m[k]->slot);
        }
        if (rc == WYE_OK)
            rc = atomic_rename(j[i]);
        if (rc == WYE_OK)
            rc = sync_dir_of(j[i]->path);
    }
    free(b.data);
    return rc;
}

int wye_outset_commit(wye_outset *s)
{
    if (!s)
        return WYE_EINVAL;
    int rc = s->failed ? WYE_ESTATE : WYE_OK;
    /* A crashed set that names one of ours is completed first, so that our
     * journal never replaces its. */
    for (size_t i = 0; rc == WYE_OK && i < s->n; i++)
        rc = wye_output_recover(s->m[i]->path);
    if (rc == WYE_OK)
        rc = wye_outset_prepare(s);
    wye_atomic *j[SET_MAX] = {0};
    if (rc == WYE_OK)
        rc = journals_write(s, j);
    bool all_journals = rc == WYE_OK;
    if (!all_journals) {
        /* Not every journal is in place: recovery rolls such a set back, and
         * so do we. */
        int saved = errno;
        for (size_t i = 0; i < s->n; i++)
            if (j[i] && j[i]->renamed)
                unlink(j[i]->path);
        errno = saved;
    }
    int err = 0;
    for (size_t i = 0; all_journals && i < s->n; i++) {
        if (atomic_rename(s->m[i]) != WYE_OK && rc == WYE_OK) {
            rc = WYE_EIO;
            err = errno;
        }
    }
    for (size_t i = 0; all_journals && i < s->n; i++) {
        int r = sync_dir_of(s->m[i]->path);
        if (r != WYE_OK && rc == WYE_OK) {
            rc = r;
            err = errno;
        }
    }
    if (all_journals && rc == WYE_OK) {
        for (size_t i = 0; i < s->n; i++)
            unlink(j[i]->path);
        for (size_t i = 0; i < s->n; i++)
            sync_dir_of(j[i]->path);
    }
    /* On a failed rename the journals stay, unlocked once closed, for
     * wye_output_recover; the temp files they name must stay too. */
    for (size_t i = 0; i < s->n; i++) {
        if (all_journals)
            s->m[i]->renamed = true;
        if (j[i])
            atomic_free(j[i]);
    }
    int saved = err ? err : errno;
    wye_outset_abort(s);
    errno = saved;
    return rc;
}

/* ---- recovery ------------------------------------------------------------ */

typedef struct journal {
    char *text; /* the file, NUL-terminated */
    size_t n;
    const char *tmp[SET_MAX], *final[SET_MAX];
} journal;

static int journal_parse(char *text, size_t len, journal *jn)
{
    size_t ml = sizeof JOURNAL_MAGIC - 1;
    if (len < ml || memcmp(text, JOURNAL_MAGIC, ml) != 0)
        return WYE_EFORMAT;
    char *p = text + ml, *end = text + len;
    char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl || nl == p || nl - p > 2)
        return WYE_EFORMAT;
    size_t n = 0;
    for (char *q = p; q < nl; q++) {
        if (*q < '0' || *q > '9')
            return WYE_EFORMAT;
        n = n * 10 + (size_t)(*q - '0');
    }
    if (n == 0 || n > SET_MAX)
        return WYE_EFORMAT;
    p = nl + 1;
    for (size_t i = 0; i < 2 * n; i++) {
        char *z = memchr(p, '\0', (size_t)(end - p));
        if (!z || p[0] != '/' || z - p >= PATH_MAX)
            return WYE_EFORMAT;
        if (i % 2 == 0)
            jn->tmp[i / 2] = p;
        else
            jn->final[i / 2] = p;
        p = z + 1;
    }
    if (end - p != 4 || memcmp(p, "end\n", 4) != 0)
        return WYE_EFORMAT;
    jn->n = n;
    return WYE_OK;
}

/* Read the journal open on fd. */
static int journal_read(int fd, journal *jn)
{
    memset(jn, 0, sizeof *jn);
    wye_membuf b = {0};
    uint8_t chunk[8192];
    int rc = WYE_OK;
    for (;;) {
        ssize_t got = read(fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = WYE_EIO;
            break;
        }
        if (got == 0)
            break;
        if (b.size + (size_t)got > JOURNAL_MAX) {
            rc = WYE_EFORMAT;
            break;
        }
        if ((rc = mem_write(&b, chunk, (size_t)got)) != WYE_OK)
            break;
    }
    if (rc == WYE_OK)
        rc = mem_write(&b, "", 1);
    if (rc == WYE_OK)
        rc = journal_parse((char *)b.data, b.size - 1, jn);
    if (rc != WYE_OK)
        free(b.data);
    else
        jn->text = (char *)b.data;
    return rc;
}

/* Complete (or undo) the set of the journal held on fd (see io.h): roll
 * forward if every member's journal exists, since renames begin only once
 * all are durable; otherwise the commit never started renaming: remove the
 * temp files and journals. `self` is path's absolute name, which the journal
 * must list (a journal is only ever beside one of its outputs). */
static int journal_complete(int fd, const char *self)
{
    journal jn;
    int rc = journal_read(fd, &jn);
    if (rc != WYE_OK)
        return rc;
    bool named = false, all = true;
    char *jp[SET_MAX] = {0};
    for (size_t i = 0; i < jn.n; i++) {
        named |= strcmp(jn.final[i], self) == 0;
        if (!(jp[i] = journal_path(jn.final[i]))) {
            rc = WYE_ENOMEM;
            goto out;
        }
        if (access(jp[i], F_OK) != 0)
            all = false;
    }
    if (!named) {
        rc = WYE_EFORMAT;
        goto out;
    }
    for (size_t i = 0; i < jn.n; i++) {
        if (all ? rename(jn.tmp[i], jn.final[i]) != 0 : unlink(jn.tmp[i]) != 0) {
            if (errno != ENOENT && rc == WYE_OK)
                rc = WYE_EIO; /* the journals stay: try again next run */
        }
    }
    for (size_t i = 0; rc == WYE_OK && i < jn.n; i++)
        rc = sync_dir_of(jn.final[i]);
    for (size_t i = 0; rc == WYE_OK && i < jn.n; i++)
        if (unlink(jp[i]) != 0 && errno != ENOENT)
            rc = WYE_EIO;
    for (size_t i = 0; rc == WYE_OK && i < jn.n; i++)
        rc = sync_dir_of(jp[i]);
out:
    for (size_t i = 0; i < jn.n; i++)
        free(jp[i]);
    free(jn.text);
    return rc;
}

/* Remove stale temp files named PREFIX + 6 characters in dir: those whose
 * lock no live process holds. The lock is taken before the unlink and the
 * name checked to be the same file still, so a live temp is never removed. */
static int remove_stale(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? WYE_OK : WYE_EIO;
    size_t pl = strlen(prefix);
    int rc = WYE_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strlen(e->d_name) != pl + 6 || strncmp(e->d_name, prefix, pl) != 0)
            continue;
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
            continue;
        struct stat a, b;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &a) == 0 && S_ISREG(a.st_mode) &&
            fstatat(dirfd(d), e->d_name, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino && unlinkat(dirfd(d), e->d_name, 0) != 0 && errno != ENOENT)
            rc = WYE_EIO;
        close(fd);
    }
    closedir(d);
    return rc;
}

int wye_output_recover(const char *path)
{
    if (!path || !*path)
        return WYE_EINVAL;
    size_t dirlen;
    const char *base;
    split_path(path, &dirlen, &base);
    if (!*base || strlen(path) >= PATH_MAX - 32)
        return WYE_EINVAL;
    char dir[PATH_MAX], prefix[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", (int)dirlen, dirlen ? path : ".");
    char *jp = journal_path(path);
    if (!jp)
        return WYE_ENOMEM;
    int rc = WYE_OK;
    int fd = open(jp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno != ENOENT)
        rc = WYE_EIO;
    if (fd >= 0) {
        struct stat st;
        /* Held: a live process is committing this set and will finish it.
         * Unlinked since we opened it: someone finished it. */
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0 && st.st_nlink > 0) {
            char *self = absolute_in_dir(path, base);
            rc = self ? journal_complete(fd, self) : WYE_EIO;
            free(self);
        }
        close(fd);
    }
    free(jp);
    if (rc != WYE_OK)
        return rc;
    snprintf(prefix, sizeof prefix, ".%s.~tmp.", base);
    rc = remove_stale(dir, prefix);
    snprintf(prefix, sizeof prefix, "..%s.~set.~tmp.", base);
    if (rc == WYE_OK)
        rc = remove_stale(dir, prefix);
    return rc;
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
