/* The one table of error messages. Codes are pinned: append, never renumber. */
#include "wyelink/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "wyelink/version.h"

static const char *const messages[] = {
    [0] = "success",
    [-WYE_ENOMEM] = "out of memory",
    [-WYE_EINVAL] = "invalid argument",
    [-WYE_EIO] = "input/output error",
    [-WYE_EFORMAT] = "not in the expected format",
    [-WYE_ETRUNCATED] = "file is truncated",
    [-WYE_ECORRUPT] = "file was altered or is corrupt (authentication failed)",
    [-WYE_ERECIPIENT] = "file is sealed to another recipient",
    [-WYE_EUNTRUSTED] = "signer is not a trusted party",
    [-WYE_ESIGNATURE] = "signature does not verify",
    [-WYE_EVERSION] = "unsupported version",
    [-WYE_EPROTOCOL] = "protocol fingerprint differs",
    [-WYE_EKEYID] = "linkage secret key id differs",
    [-WYE_EPERM] = "secret file is readable by group or others (chmod 600)",
    [-WYE_ECSV] = "malformed CSV",
    [-WYE_EUTF8] = "invalid UTF-8",
    [-WYE_ECOLUMN] = "mapped column missing from header",
    [-WYE_ECRYPTO] = "cryptographic operation failed",
    [-WYE_ERANGE] = "value out of range",
    [-WYE_EJSON] = "malformed JSON or schema violation",
    [-WYE_EAUDIT] = "audit log is not intact",
    [-WYE_ELOCK] = "could not lock file",
    [-WYE_ENOTFOUND] = "not found",
    [-WYE_EEXIST] = "file exists (refusing to overwrite)",
    [-WYE_ESTATE] = "operation not valid in this state",
    [-WYE_EATTR] = "attribute or value not allowed by the protocol",
    [-WYE_ECANCELLED] = "cancelled (interrupted by a signal)",
    [-WYE_ENOSPC] = "no space left on the device",
    [-WYE_EAUDITOWNER] = "audit log belongs to another party (signed by another key)",
    [-WYE_EDUPLICATE] = "two inputs or keys claim the same name",
};

const char *wye_strerror(int code)
{
    _Static_assert(sizeof messages / sizeof messages[0] == 1 - WYE_ELAST,
                   "one message for every pinned code");
    if (code > 0 || code < WYE_ELAST)
        return "unknown error";
    return messages[-code];
}

void wye_diag_clear(wye_diag *d)
{
    if (d)
        memset(d, 0, sizeof *d);
}

void wye_diag_set(wye_diag *d, uint64_t line, const char *field, const char *fmt, ...)
{
    if (!d)
        return;
    d->line = line;
    snprintf(d->field, sizeof d->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->reason, sizeof d->reason, fmt, ap);
    va_end(ap);
}

const char *wye_version(void)
{
    return WYE_VERSION_STRING;
}
