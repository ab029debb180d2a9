/* wyelink: versions. The tool version, and the versions of each file format
 * and of the protocol schema that this build reads and writes. */
#ifndef WYELINK_VERSION_H
#define WYELINK_VERSION_H

#include "wyelink/error.h"

#define WYE_VERSION_STRING "0.1.0"
#define WYE_PROTOCOL_SCHEMA_VERSION 1 /* protocols/PROTOCOL.md */
#define WYE_ENCFILE_VERSION 2         /* protocols/FORMAT.md; written */
#define WYE_ENCFILE_VERSION_MIN 1     /* the oldest encoded-file version read */
#define WYE_AUDIT_VERSION 1           /* protocols/AUDIT.md */
#define WYE_KEYFILE_VERSION 1         /* protocols/KEYS.md */

/* The tool version string, as WYE_VERSION_STRING; static storage. */
WYE_API const char *wye_version(void);

#endif
