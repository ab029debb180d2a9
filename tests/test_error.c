#include <criterion/criterion.h>
#include <string.h>

#include "wyelink/error.h"
#include "wyelink/version.h"

Test(error, pinned_codes_keep_their_values)
{
    /* Codes are part of the interface: they must never be renumbered. */
    cr_assert_eq(WYE_OK, 0);
    cr_assert_eq(WYE_ENOMEM, -1);
    cr_assert_eq(WYE_ECORRUPT, -6);
    cr_assert_eq(WYE_EPROTOCOL, -11);
    cr_assert_eq(WYE_EPERM, -13);
    cr_assert_eq(WYE_EAUDIT, -20);
    cr_assert_eq(WYE_EATTR, -25);
}

Test(error, every_code_has_its_own_lowercase_message)
{
    for (int c = 0; c >= WYE_ELAST; c--) {
        const char *m = wye_strerror(c);
        cr_assert(m && *m, "code %d has no message", c);
        cr_assert_neq(strcmp(m, "unknown error"), 0, "code %d unnamed", c);
        cr_assert(m[0] >= 'a' && m[0] <= 'z', "code %d not lowercase", c);
        cr_assert_neq(m[strlen(m) - 1], '.', "code %d ends with a full stop", c);
        for (int d = c + 1; d <= 0; d++)
            cr_assert_neq(strcmp(m, wye_strerror(d)), 0, "%d and %d share a message", c, d);
    }
    cr_assert_str_eq(wye_strerror(WYE_ELAST - 1), "unknown error");
    cr_assert_str_eq(wye_strerror(1), "unknown error");
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
