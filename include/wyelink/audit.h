/* wyelink: the audit log (protocols/AUDIT.md).
 *
 * Every command that creates keys, reads an extract, writes an encoded file,
 * links or reports appends one entry: a JSON line with a sequence number,
 * UTC time, OS user and host, tool version, command and non-secret
 * parameters, protocol fingerprint and key id, BLAKE2b digests of inputs and
 * outputs, counts, outcome, the previous entry's hash and an Ed25519
 * signature by the running party. An entry never holds an identifier, a
 * secret or key material: callers add only parameter names and values that
 * are not secret, file paths, digests and counts.
 *
 * Appending locks the log (fcntl) so concurrent runs never interleave.
 *
 * Ownership: an entry is built by the caller and freed with
 * wye_audit_entry_free (NULL allowed). Thread safety: one entry, one thread.
 */
#ifndef WYELINK_AUDIT_H
#define WYELINK_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "wyelink/error.h"
#include "wyelink/io.h"
#include "wyelink/keys.h"
#include "wyelink/protocol.h"

typedef struct wye_audit_entry wye_audit_entry;

/* A new entry for command (e.g. "hash", "keys create"). */
WYE_API int wye_audit_entry_new(const char *command, wye_audit_entry **out);
WYE_API void wye_audit_entry_free(wye_audit_entry *e);
/* A non-secret parameter, e.g. ("threads", "2"). */
WYE_API int wye_audit_entry_param(wye_audit_entry *e, const char *name, const char *value);
/* A parameter that is a file or folder path, e.g. ("trust", "keys/"): as
 * above, but the check for key material is wye_audit_path_is_secret(), so a
 * path through folders whose names mix case and digits is not taken for a
 * key while a key that holds '/' still is (AUDIT.md, "What an entry never
 * holds"). WYE_EINVAL for a path that looks like key material. */
WYE_API int wye_audit_entry_path(wye_audit_entry *e, const char *name, const char *path);
/* 1 if the string, whole or any part of it (across '/' too), looks like key
 * material, else 0: a '/'-separated component holding a run of 32+ hex
 * digits or 43+ base64 characters mixing upper case, lower case and digits;
 * or, across '/', a padded base64 encoding of 31+ bytes or a random-looking
 * run of base64 characters (AUDIT.md gives the exact rule). The one
 * detector: wye_audit_entry_path and every command that prints a path use
 * it. NULL gives 0. Thread-safe. */
WYE_API int wye_audit_path_is_secret(const char *path);
/* An input or output file: its path and BLAKE2b-256 digest (computed now). */
WYE_API int wye_audit_entry_input(wye_audit_entry *e, const char *path);
WYE_API int wye_audit_entry_output(wye_audit_entry *e, const char *path);
/* As above, with the size and the unkeyed BLAKE2b-256 digest the caller
 * computed while it streamed the whole file (it need not be read again). */
#define WYE_AUDIT_DIGEST_BYTES 32
WYE_API int wye_audit_entry_input_digest(wye_audit_entry *e, const char *path, uint64_t bytes,
                                         const uint8_t digest[WYE_AUDIT_DIGEST_BYTES]);
WYE_API int wye_audit_entry_output_digest(wye_audit_entry *e, const char *path, uint64_t bytes,
                                          const uint8_t digest[WYE_AUDIT_DIGEST_BYTES]);
WYE_API int wye_audit_entry_count(wye_audit_entry *e, const char *name, uint64_t n);
WYE_API int wye_audit_entry_protocol(wye_audit_entry *e,
                                     const uint8_t fingerprint[WYE_FINGERPRINT_BYTES],
                                     const uint8_t key_id[WYE_KEY_ID_BYTES]);
/* WYE_OK for success, or the failing code. Required before appending. */
WYE_API void wye_audit_entry_outcome(wye_audit_entry *e, int code);

/* Append e to the log at path (created if missing, mode 0600), chained to
 * the last whole entry and signed by signer. If a crash left a partial last
 * line, the new entry closes it and records its size and digest, so the log
 * verifies again (protocols/AUDIT.md). A write that fails part-way is cut
 * back: the log keeps its previous length. Errors: WYE_ESTATE (no outcome
 * set), WYE_ELOCK, WYE_ENOSPC (device full), WYE_EIO (errno kept, e.g.
 * EFBIG), WYE_EAUDITOWNER (the last entry is signed by another key: the log
 * is another party's; nothing is written), WYE_EAUDIT (the last whole line
 * is not a valid entry; nothing is written). */
WYE_API int wye_audit_append(const char *path, const wye_audit_entry *e,
                             const wye_party *signer);

typedef struct wye_audit_result {
    uint64_t entries;       /* whole entries that verified */
    uint64_t first_bad;     /* 1-based line number of the first bad entry, 0 if none
                               (the entry number too, unless a recovered crash
                               fragment stands earlier in the log) */
    int truncated_tail;     /* 1 if the log ends with a partial line */
    int other_owner;        /* 1 if the first entry is signed by another key:
                               the log is another party's */
    char reason[128];
} wye_audit_result;

/* Before the work: whether the log at path can take this party's next
 * entry. WYE_OK if it does not exist yet (and its folder takes a new file),
 * or it is intact and every entry is signed by sign_pk (a partial last line
 * left by a crash is fine: the append records it); WYE_EAUDITOWNER if its
 * entries are signed by another key; WYE_EAUDIT if it is not intact (d: line
 * = the first bad line, reason = why, never a value); WYE_ENOSPC if the
 * device has less than 64 KiB free; WYE_EIO (errno kept: EACCES, EROFS...),
 * WYE_ENOTFOUND (no such folder), WYE_EFORMAT (not a regular file) if it
 * cannot be opened for appending. Reads the whole log; takes no lock. */
WYE_API int wye_audit_check_appendable(const char *path,
                                       const uint8_t sign_pk[WYE_SIGN_PK_BYTES], wye_diag *d);

/* Verify a log read from source against the signer's public key. WYE_OK if
 * intact, WYE_EAUDIT otherwise, with res saying where and why. */
WYE_API int wye_audit_verify(wye_source source, const uint8_t sign_pk[WYE_SIGN_PK_BYTES],
                             wye_audit_result *res);

#endif
