/* The progress bar's text (programs/cli.c): how far, rows per second with
 * their unit, and the time left; no unlabelled rate. */
#include <criterion/criterion.h>
#include <string.h>

#include "cli.h"

static char line[256];

Test(cli_progress, rows_per_second_and_time_left)
{
    /* a quarter of the bytes in 10 s, 250,000 rows: 30 s left */
    wye_progress_format(line, sizeof line, "hashing", 25, 100, 10.0, "rows", 250000);
    cr_expect_str_eq(line, "hashing [#######                       ]  25%  25,000 rows/s  "
                           "about 30 s left");
    wye_progress_format(line, sizeof line, "hashing", 10, 100, 60.0, "rows", 1234567);
    cr_expect(strstr(line, "  20,576 rows/s  about 9 min 00 s left") != NULL, "%s", line);
    wye_progress_format(line, sizeof line, "hashing", 1, 100, 100.0, "rows", 5);
    cr_expect(strstr(line, "about 2 h 45 min left") != NULL, "%s", line);
}

Test(cli_progress, no_estimate_before_a_second_nor_at_the_end)
{
    wye_progress_format(line, sizeof line, "checking", 5, 100, 0.5, "rows", 1000);
    cr_expect(strstr(line, "left") == NULL, "%s", line);
    cr_expect(strstr(line, "2,000 rows/s") != NULL, "%s", line);
    wye_progress_format(line, sizeof line, "checking", 100, 100, 5, "rows", 1000);
    cr_expect(strstr(line, "left") == NULL, "%s", line);
    cr_expect(strstr(line, "100%") != NULL, "%s", line);
}

Test(cli_progress, without_a_unit_no_rate_and_without_a_total_a_count)
{
    wye_progress_format(line, sizeof line, "linking", 50, 100, 2.0, NULL, 50);
    cr_expect(strstr(line, "/s") == NULL, "no unlabelled rate: %s", line);
    cr_expect(strstr(line, " 50%  about 2 s left") != NULL, "%s", line);
    wye_progress_format(line, sizeof line, "reading", 0, 0, 2.0, "rows", 3000000);
    cr_expect_str_eq(line, "reading 3,000,000 rows  1,500,000 rows/s");
    wye_progress_format(line, 8, "reading", 0, 0, 2.0, "rows", 3000000);
    cr_expect_eq(strlen(line), 7, "cut, and terminated");
}
