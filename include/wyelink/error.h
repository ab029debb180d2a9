/* wyelink: error codes and diagnostics.
 *
 * Every function of the library that can fail returns an int: WYE_OK (0) on
 * success or one of the negative WYE_E* codes below. The values are pinned:
 * a code is never renumbered or reused, new codes are appended.
 * wye_strerror() is the one table of messages.
 *
 * For input errors a function may also fill a wye_diag with the line (or
 * record) number, the field or column name and a short reason. A diag never
 * holds the value that was wrong: names, dates of birth, postcodes and NHS
 * numbers must not reach an error message.
 *
 * Thread safety: everything here is thread-safe.
 */
#ifndef WYELINK_ERROR_H
#define WYELINK_ERROR_H

#include <stdint.h>

#if defined(__GNUC__)
#define WYE_API __attribute__((visibility("default")))
#else
#define WYE_API
#endif

enum {
    WYE_OK = 0,
    WYE_ENOMEM = -1,      /* out of memory */
    WYE_EINVAL = -2,      /* invalid argument (a programming error) */
    WYE_EIO = -3,         /* read or write failed; errno is kept */
    WYE_EFORMAT = -4,     /* input is not in the expected format */
    WYE_ETRUNCATED = -5,  /* file ends early */
    WYE_ECORRUPT = -6,    /* authentication failed: the file was altered */
    WYE_ERECIPIENT = -7,  /* sealed to another recipient */
    WYE_EUNTRUSTED = -8,  /* signer is not in the trusted keys */
    WYE_ESIGNATURE = -9,  /* signature does not verify */
    WYE_EVERSION = -10,   /* unknown format or protocol version */
    WYE_EPROTOCOL = -11,  /* protocol fingerprint differs */
    WYE_EKEYID = -12,     /* linkage-secret key id differs */
    WYE_EPERM = -13,      /* secret file readable by group or others */
    WYE_ECSV = -14,       /* malformed CSV */
    WYE_EUTF8 = -15,      /* invalid UTF-8 */
    WYE_ECOLUMN = -16,    /* a mapped column is missing from the header */
    WYE_ECRYPTO = -17,    /* libsodium failed (or could not initialise) */
    WYE_ERANGE = -18,     /* a number is out of range */
    WYE_EJSON = -19,      /* JSON is malformed or breaks its schema */
    WYE_EAUDIT = -20,     /* audit log is not intact */
    WYE_ELOCK = -21,      /* could not lock a file */
    WYE_ENOTFOUND = -22,  /* a named item does not exist */
    WYE_EEXIST = -23,     /* refusing to overwrite an existing file */
    WYE_ESTATE = -24,     /* call not valid in this object's state */
    WYE_EATTR = -25,      /* attribute or value not allowed by the protocol */
    WYE_ECANCELLED = -26, /* the run was cancelled (SIGINT or SIGTERM) */
    WYE_ENOSPC = -27,     /* no space left on the device (errno ENOSPC or EDQUOT) */
    WYE_EAUDITOWNER = -28, /* the audit log belongs to another party (signed by another key) */
    WYE_EDUPLICATE = -29, /* two inputs or keys claim the same name */
};

/* The number of the last pinned code; wye_strerror() covers 0..WYE_ELAST. */
#define WYE_ELAST WYE_EDUPLICATE

/* Input diagnostics: where the problem is, never what the value was.
 * line is 1-based (0 = not applicable); field and reason are NUL-terminated. */
typedef struct wye_diag {
    uint64_t line;
    char field[64];
    char reason[128];
} wye_diag;

/* A static, lowercase message for code; "unknown error" for unknown codes. */
WYE_API const char *wye_strerror(int code);

/* Clear d (NULL is allowed). */
WYE_API void wye_diag_clear(wye_diag *d);

/* Fill d (NULL is allowed) with line, field (may be NULL) and a printf-style
 * reason. Callers must never format a value from the input into reason. */
WYE_API void wye_diag_set(wye_diag *d, uint64_t line, const char *field,
                          const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif
