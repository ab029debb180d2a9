/* The protocol profiles built into the library (internal to protocols/).
 * protocols/embed.py generates the table from the shipped JSON files at
 * build time; protocol.c parses an entry's bytes with the parser files go
 * through. Entry 0 is the default. */
#ifndef WYELINK_PROTOCOL_BUILTIN_H
#define WYELINK_PROTOCOL_BUILTIN_H

#include <stddef.h>

typedef struct wye_builtin_profile {
    const char *name;   /* as wye_protocol_builtin takes it */
    const char *source; /* the shipped file, relative to the source tree */
    const char *json;   /* the file's bytes, NUL-terminated */
    size_t len;         /* without the NUL */
} wye_builtin_profile;

extern const wye_builtin_profile wye_builtin_profiles[];
extern const size_t wye_builtin_nprofiles;

#endif
