/* wyelink: byte sources and sinks, atomic output files, file digests.
 *
 * Parsers of outside input read from a wye_source, so that tests and fuzzers
 * can feed them bytes from memory; writers write to a wye_sink.
 * Output files are written through wye_atomic: to a temporary file (mode
 * 0600) in the destination's folder, renamed into place on commit, removed on
 * abort, so a failed run never leaves a half-written result.
 *
 * Thread safety: a source, sink or wye_atomic belongs to one thread at a time.
 */
#ifndef WYELINK_IO_H
#define WYELINK_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "wyelink/error.h"

/* read: up to n bytes into buf; returns bytes read, 0 at end, or a negative
 * WYE_E* code. */
typedef struct wye_source {
    ssize_t (*read)(void *ctx, void *buf, size_t n);
    void *ctx;
} wye_source;

/* write: all n bytes; returns WYE_OK or a negative WYE_E* code. */
typedef struct wye_sink {
    int (*write)(void *ctx, const void *buf, size_t n);
    void *ctx;
} wye_sink;

/* State of a memory source; owned by the caller, must outlive the source. */
typedef struct wye_memsource {
    const uint8_t *data;
    size_t size;
    size_t pos;
} wye_memsource;

/* A growable memory buffer used as a sink; free data with free(). */
typedef struct wye_membuf {
    uint8_t *data;
    size_t size;
    size_t cap;
} wye_membuf;

/* A source reading f (not closed by the source). */
WYE_API wye_source wye_source_file(FILE *f);
/* A source reading m->data[m->pos..m->size). */
WYE_API wye_source wye_source_memory(wye_memsource *m);
/* A sink writing to f (not closed by the sink). */
WYE_API wye_sink wye_sink_file(FILE *f);
/* A sink appending to b (which starts zeroed). */
WYE_API wye_sink wye_sink_memory(wye_membuf *b);

/* Read exactly n bytes. WYE_ETRUNCATED if the source ends first. */
WYE_API int wye_source_read_full(wye_source *s, void *buf, size_t n);

/* Read a whole file (at most max bytes; WYE_ERANGE beyond) into a new buffer
 * with a NUL appended; *out is freed by the caller with free(). */
WYE_API int wye_read_file(const char *path, size_t max, char **out, size_t *len);

typedef struct wye_atomic wye_atomic;

/* Start writing path through a temporary file created with the given mode.
 * If exclusive is non-zero and path exists, WYE_EEXIST. */
WYE_API int wye_atomic_open(const char *path, unsigned mode, int exclusive,
                            wye_atomic **out);
/* The stream to write to; owned by a. */
WYE_API FILE *wye_atomic_file(wye_atomic *a);
/* Flush, fsync, rename into place and free a. On failure the temporary
 * file is removed and a is freed all the same. */
WYE_API int wye_atomic_commit(wye_atomic *a);
/* Remove the temporary file and free a; NULL is allowed. */
WYE_API void wye_atomic_abort(wye_atomic *a);

#define WYE_DIGEST_FILE_BYTES 32 /* BLAKE2b-256 */

/* BLAKE2b-256 of a whole file, streamed. */
WYE_API int wye_file_digest(const char *path, uint8_t out[WYE_DIGEST_FILE_BYTES]);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
WYE_API void wye_hex(const uint8_t *in, size_t n, char *out);

/* 1 if path exists and is readable or writable only by its owner, 0 if group
 * or others have any access, negative WYE_E* on error. */
WYE_API int wye_file_is_private(const char *path);

#endif
