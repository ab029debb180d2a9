#include <criterion/criterion.h>
#include <ctype.h>
#include <string.h>

#include "wyelink/error.h"
#include "wyelink/version.h"

/* Every pinned code, by name and value: the interface other programs (and
 * audit logs, which record codes) depend on. A code is never renumbered. */
static const struct {
    const char *name;
    int code, value;
} pinned[] = {
    {"WYE_OK", WYE_OK, 0},
    {"WYE_ENOMEM", WYE_ENOMEM, -1},
    {"WYE_EINVAL", WYE_EINVAL, -2},
    {"WYE_EIO", WYE_EIO, -3},
    {"WYE_EFORMAT", WYE_EFORMAT, -4},
    {"WYE_ETRUNCATED", WYE_ETRUNCATED, -5},
    {"WYE_ECORRUPT", WYE_ECORRUPT, -6},
    {"WYE_ERECIPIENT", WYE_ERECIPIENT, -7},
    {"WYE_EUNTRUSTED", WYE_EUNTRUSTED, -8},
    {"WYE_ESIGNATURE", WYE_ESIGNATURE, -9},
    {"WYE_EVERSION", WYE_EVERSION, -10},
    {"WYE_EPROTOCOL", WYE_EPROTOCOL, -11},
    {"WYE_EKEYID", WYE_EKEYID, -12},
    {"WYE_EPERM", WYE_EPERM, -13},
    {"WYE_ECSV", WYE_ECSV, -14},
    {"WYE_EUTF8", WYE_EUTF8, -15},
    {"WYE_ECOLUMN", WYE_ECOLUMN, -16},
    {"WYE_ECRYPTO", WYE_ECRYPTO, -17},
    {"WYE_ERANGE", WYE_ERANGE, -18},
    {"WYE_EJSON", WYE_EJSON, -19},
    {"WYE_EAUDIT", WYE_EAUDIT, -20},
    {"WYE_ELOCK", WYE_ELOCK, -21},
    {"WYE_ENOTFOUND", WYE_ENOTFOUND, -22},
    {"WYE_EEXIST", WYE_EEXIST, -23},
    {"WYE_ESTATE", WYE_ESTATE, -24},
    {"WYE_EATTR", WYE_EATTR, -25},
    {"WYE_ECANCELLED", WYE_ECANCELLED, -26},
    {"WYE_ENOSPC", WYE_ENOSPC, -27},
    {"WYE_EAUDITOWNER", WYE_EAUDITOWNER, -28},
    {"WYE_EDUPLICATE", WYE_EDUPLICATE, -29},
};
#define NPINNED (sizeof pinned / sizeof pinned[0])

Test(error, every_pinned_code_keeps_its_value)
{
    for (size_t i = 0; i < NPINNED; i++)
        cr_assert_eq(pinned[i].code, pinned[i].value, "%s is %d, pinned as %d", pinned[i].name,
                     pinned[i].code, pinned[i].value);
    /* The table above lists every code, in order, up to the last one. */
    cr_assert_eq(WYE_ELAST, -(int)(NPINNED - 1), "a code was added: pin it here");
    for (size_t i = 0; i < NPINNED; i++)
        cr_assert_eq(pinned[i].value, -(int)i, "%s out of order", pinned[i].name);
}

Test(error, every_code_has_its_own_lowercase_message_without_full_stop)
{
    for (int c = 0; c >= WYE_ELAST; c--) {
        const char *name = pinned[-c].name;
        const char *m = wye_strerror(c);
        cr_assert(m && *m, "%s has no message", name);
        cr_assert_neq(strcmp(m, "unknown error"), 0, "%s unnamed", name);
        cr_assert(islower((unsigned char)m[0]), "%s: '%s' does not start lowercase", name, m);
        cr_assert_neq(m[strlen(m) - 1], '.', "%s: '%s' ends with a full stop", name, m);
        cr_assert(!isspace((unsigned char)m[strlen(m) - 1]), "%s ends with a space", name);
        for (int d = c + 1; d <= 0; d++)
            cr_assert_neq(strcmp(m, wye_strerror(d)), 0, "%s and %s share a message", name,
                          pinned[-d].name);
    }
}

Test(error, unknown_codes_say_so)
{
    const int unknown[] = {WYE_ELAST - 1, WYE_ELAST - 100, 1, 42, -999, -1000000, 1 << 30,
                           -(1 << 30)};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        cr_assert_str_eq(wye_strerror(unknown[i]), "unknown error", "code %d", unknown[i]);
}

Test(error, the_new_codes_say_what_happened)
{
    cr_assert_not_null(strstr(wye_strerror(WYE_ECANCELLED), "cancelled"));
    cr_assert_str_eq(wye_strerror(WYE_ENOSPC), "no space left on the device");
    cr_assert_not_null(strstr(wye_strerror(WYE_EAUDITOWNER), "another party"));
    cr_assert_not_null(strstr(wye_strerror(WYE_EDUPLICATE), "same name"));
}

Test(error, diag_holds_line_field_and_reason)
{
    wye_diag d;
    wye_diag_set(&d, 42, "date_of_birth", "day %d out of range for month", 31);
    cr_assert_eq(d.line, 42);
    cr_assert_str_eq(d.field, "date_of_birth");
    cr_assert_str_eq(d.reason, "day 31 out of range for month");
    wye_diag_clear(&d);
    cr_assert_eq(d.line, 0);
    cr_assert_str_eq(d.field, "");
    wye_diag_set(NULL, 1, "x", "y"); /* NULL is allowed */
    cr_assert_str_eq(wye_version(), WYE_VERSION_STRING);
}
