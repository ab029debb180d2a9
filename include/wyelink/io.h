/* wyelink: byte sources and sinks, atomic output files, file digests.
 *
 * Parsers of outside input read from a wye_source, so that tests and fuzzers
 * can feed them bytes from memory; writers write to a wye_sink.
 * Output files are written through wye_atomic: to a temporary file in the
 * destination's folder, renamed into place on commit, removed on abort, so a
 * failed run never leaves a half-written result; the outputs of one run go
 * through a wye_outset, which puts them in place together or not at all.
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

/* The WYE_E* code for a failed write with this errno: WYE_ENOSPC for ENOSPC
 * and EDQUOT, else WYE_EIO (the caller keeps errno for the message). */
WYE_API int wye_io_write_error(int err);

/* Read exactly n bytes. WYE_ETRUNCATED if the source ends first. */
WYE_API int wye_source_read_full(wye_source *s, void *buf, size_t n);

/* Read a whole file (at most max bytes; WYE_ERANGE beyond) into a new buffer
 * with a NUL appended; *out is freed by the caller with free(). */
WYE_API int wye_read_file(const char *path, size_t max, char **out, size_t *len);

typedef struct wye_atomic wye_atomic;

/* Start writing path through a temporary file `.NAME.~tmp.XXXXXX` beside it,
 * created with the given mode. If exclusive is non-zero and path exists,
 * WYE_EEXIST. The temporary file is held under an exclusive flock(2) while it
 * is open, so wye_output_recover() of another run never removes it, and its
 * name is kept in a fixed-size registry for wye_io_remove_temps(). */
WYE_API int wye_atomic_open(const char *path, unsigned mode, int exclusive,
                            wye_atomic **out);
/* The stream to write to; owned by a. */
WYE_API FILE *wye_atomic_file(wye_atomic *a);
/* The temporary file's path (owned by a), e.g. to digest the final bytes
 * after wye_outset_prepare(). */
WYE_API const char *wye_atomic_temp_path(const wye_atomic *a);
/* Flush, fsync, rename into place and free a. On failure the temporary
 * file is removed and a is freed all the same. WYE_ENOSPC when the device is
 * full, WYE_EIO (errno kept) for other write errors; WYE_ESTATE (nothing
 * done) if a belongs to a wye_outset. */
WYE_API int wye_atomic_commit(wye_atomic *a);
/* Remove the temporary file and free a; NULL is allowed; does nothing for a
 * member of a wye_outset (the set removes it). */
WYE_API void wye_atomic_abort(wye_atomic *a);

/* ---- output sets --------------------------------------------------------
 *
 * A command's outputs (persons.csv, pairs.csv and summary.json; an encoded
 * file and its local map) must appear together or not at all. A wye_outset
 * writes each output through a wye_atomic and puts them in place as one set:
 *
 *   wye_output_recover(path) for every output, before the run writes
 *   wye_outset_new; wye_outset_open per output; write
 *   wye_outset_prepare       every byte final and durable, nothing renamed:
 *                            digest the temp files, append the audit entry
 *   wye_outset_commit        (or wye_outset_abort if the audit append failed)
 *
 * The journal. Commit first writes, beside every output of the set, a
 * journal `.NAME.~set` (NAME the output's file name; written through its own
 * temporary file, fsynced, renamed, the folder fsynced) that lists every
 * temp -> final pair of the set by absolute path:
 *
 *   "wyelink-outset 1\n" N "\n" then N times: TEMP '\0' FINAL '\0', then "end\n"
 *
 * A journal exists only while every temp file it names is complete and
 * durable, so its presence means "roll forward". Commit then renames every
 * temp file over its final name, fsyncs the folders, and removes the
 * journals. The committing process holds an exclusive flock on each journal
 * until it is done. A crash (SIGKILL, power loss) at any point leaves either
 * no journal (the old outputs, untouched, and stale temp files) or a journal
 * beside every output not yet committed; wye_output_recover() on any one
 * member completes the whole set: it renames every listed temp file that
 * still exists (one that is gone was renamed already) and removes every
 * journal of the set.
 *
 * Ownership: a set owns its wye_atomic members. Thread safety: one set, one
 * thread; wye_output_recover may run in any process at any time. */
typedef struct wye_outset wye_outset;

/* A new, empty set. WYE_ENOMEM. */
WYE_API int wye_outset_new(wye_outset **out);
/* Open an output of the set as wye_atomic_open(path, mode, 0, file) does;
 * *file is owned by the set (do not commit or abort it yourself). WYE_EEXIST
 * if path is already an output of the set; errors of wye_atomic_open. */
WYE_API int wye_outset_open(wye_outset *s, const char *path, unsigned mode,
                            wye_atomic **file);
/* Flush and fsync every output; nothing is renamed yet. Afterwards the bytes
 * are final and may be digested from wye_atomic_temp_path(). WYE_ENOSPC,
 * WYE_EIO (errno kept). After a failure only wye_outset_abort is valid. */
WYE_API int wye_outset_prepare(wye_outset *s);
/* Put every output in place as one set (preparing it first if needed), then
 * free s. Crash-safe through the journal above. It first runs
 * wye_output_recover on every member, so that its journals never replace
 * those of an interrupted set (callers still recover before they write, to
 * clear stale temp files early). On a failure before the
 * journal is durable, every temp file is removed and the previous outputs
 * are untouched; a failure after it (a rename that fails: rare) leaves the
 * journal so that wye_output_recover() completes the set. WYE_ENOSPC,
 * WYE_EIO, WYE_ESTATE (a previous prepare failed). */
WYE_API int wye_outset_commit(wye_outset *s);
/* Remove every temp file and free s; previous outputs are untouched; NULL
 * allowed. */
WYE_API void wye_outset_abort(wye_outset *s);

/* Call before a run writes `path`: completes a set commit that a crash
 * interrupted and that names path (its journal `.NAME.~set`), and removes
 * stale temp files of path (`.NAME.~tmp.XXXXXX`, and the journal's own
 * `..NAME.~set.~tmp.XXXXXX`) that no live process holds. A journal that a
 * live process holds is left to it. WYE_OK if there was nothing to do;
 * WYE_EFORMAT if the journal is not one this library wrote (nothing is
 * touched); WYE_EIO (errno kept) if a rename or removal failed. */
WYE_API int wye_output_recover(const char *path);

/* Async-signal-safe: unlink every temp file this process has open (the
 * registry filled by wye_atomic_open; no malloc, no locks). For a handler of
 * a fatal signal: the process must not use its wye_atomic objects afterwards.
 * Temp files named by a durable journal are not in the registry: recovery
 * will put them in place. */
WYE_API void wye_io_remove_temps(void);

#define WYE_DIGEST_FILE_BYTES 32 /* BLAKE2b-256 */

/* BLAKE2b-256 of a whole file, streamed. */
WYE_API int wye_file_digest(const char *path, uint8_t out[WYE_DIGEST_FILE_BYTES]);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
WYE_API void wye_hex(const uint8_t *in, size_t n, char *out);

/* 1 if path exists and is readable or writable only by its owner, 0 if group
 * or others have any access, negative WYE_E* on error. */
WYE_API int wye_file_is_private(const char *path);

#endif
