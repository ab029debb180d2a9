/* The linkage protocol on the command line: built-in names, else files. */
#include "profiles.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

bool wye_cli_protocol_is_builtin(const char *arg)
{
    wye_protocol *p;
    if (!arg || strchr(arg, '/') || wye_protocol_builtin(arg, &p, NULL) != WYE_OK)
        return false;
    wye_protocol_free(p);
    return true;
}

int wye_cli_protocol_load(const char *arg, wye_protocol **out, wye_diag *d)
{
    /* A path with a slash is always a file, so ./NAME reaches a file that
     * shares a built-in profile's name. */
    if (arg && !strchr(arg, '/')) {
        int rc = wye_protocol_builtin(arg, out, d);
        if (rc != WYE_ENOTFOUND)
            return rc;
    }
    return wye_protocol_load(arg, out, d);
}

int wye_cli_protocol_list(FILE *out, const char *indent)
{
    const size_t n = wye_protocol_builtin_count();
    wye_protocol **p = calloc(n, sizeof *p);
    if (!p)
        return wye_cli_fail("protocol", "cannot list the built-in protocols", WYE_ENOMEM);
    int status = WYE_EXIT_OK, w_name = 0, w_profile = 0;
    for (size_t i = 0; i < n && status == WYE_EXIT_OK; i++) {
        const char *name = wye_protocol_builtin_name(i);
        wye_diag d;
        int rc = wye_protocol_builtin(name, &p[i], &d);
        if (rc != WYE_OK) {
            char what[128];
            snprintf(what, sizeof what, "cannot parse the built-in protocol '%s'", name);
            status = wye_cli_fail_diag("protocol", what, rc, &d);
            break;
        }
        int a = (int)strlen(name), b = (int)strlen(wye_protocol_name(p[i]));
        w_name = a > w_name ? a : w_name;
        w_profile = b > w_profile ? b : w_profile;
    }
    for (size_t i = 0; i < n && status == WYE_EXIT_OK; i++) {
        uint8_t fp[WYE_FINGERPRINT_BYTES];
        wye_protocol_fingerprint(p[i], fp);
        fprintf(out, "%s%-*s  %-*s  ", indent, w_name, wye_protocol_builtin_name(i), w_profile,
                wye_protocol_name(p[i]));
        for (size_t b = 0; b < sizeof fp; b++)
            fprintf(out, "%02x", fp[b]);
        fputc('\n', out);
    }
    for (size_t i = 0; i < n; i++)
        wye_protocol_free(p[i]);
    free(p);
    return status;
}
