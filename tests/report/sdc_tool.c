/* Test helper: publish JSON trees by the disclosure rule, so that the
 * attacker (attack.py) can be run on what the rule publishes.
 *   sdc_tool SUMMARY.json OUT.json [QUALITY.json QUALITY_OUT.json]...
 * SUMMARY.json may be "-" (none). Prints the rule's counts on stderr. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "wyelink/disclosure.h"

int main(int argc, char **argv)
{
    if (argc < 3 || argc % 2 == 0 || argc > 3 + 2 * 32) {
        fprintf(stderr, "usage: sdc_tool SUMMARY.json OUT.json [QUALITY.json OUT.json]...\n");
        return 2;
    }
    json_error_t e;
    json_t *s = strcmp(argv[1], "-") ? json_load_file(argv[1], 0, &e) : NULL;
    json_t *q[32] = {0};
    size_t nq = 0;
    for (int i = 3; i + 1 < argc; i += 2)
        if (!(q[nq++] = json_load_file(argv[i], 0, &e))) {
            fprintf(stderr, "sdc_tool: cannot read '%s'\n", argv[i]);
            return 1;
        }
    if (strcmp(argv[1], "-") && !s) {
        fprintf(stderr, "sdc_tool: cannot read '%s'\n", argv[1]);
        return 1;
    }
    wye_diag d;
    wye_disclosure_stats st;
    int rc = wye_disclosure_publish(s, q, nq, NULL, &st, &d);
    if (rc) {
        fprintf(stderr, "sdc_tool: %s (%s: %s)\n", wye_strerror(rc), d.field, d.reason);
        return 1;
    }
    fprintf(stderr, "cells %zu small %zu secondary %zu solves %zu\n", st.cells, st.small,
            st.secondary, st.solves);
    int bad = s && json_dump_file(s, argv[2], JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    for (size_t i = 0; i < nq; i++) {
        bad |= json_dump_file(q[i], argv[4 + 2 * i], JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(q[i]);
    }
    json_decref(s);
    return bad ? 1 : 0;
}
