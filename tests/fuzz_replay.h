/* Replaying a fuzz harness's seed corpus as an ordinary test (tests only).
 *
 * Every file in the corpus folder goes through the harness's check function,
 * which returns a WYE_* code. A file whose name starts with one of the
 * verdicts' prefixes must get that verdict's code; other files must only not
 * crash. Prints "N passed, M failed" and returns the exit status: 0 when
 * every seed got its verdict and there was at least one seed. */
#ifndef WYELINK_FUZZ_REPLAY_H
#define WYELINK_FUZZ_REPLAY_H

#include <stddef.h>
#include <stdint.h>

typedef struct wye_fuzz_verdict {
    const char *prefix;
    int code;
} wye_fuzz_verdict;

int wye_fuzz_replay(const char *dir, size_t max_size, int (*check)(const uint8_t *, size_t),
                    const wye_fuzz_verdict *verdicts, size_t nverdicts);

/* For harnesses whose verdicts say more than one code (which loader, which
 * line): judge gets each seed's file name and bytes, runs the harness and
 * returns 0 when the seed got the verdict its name asks for (it prints why
 * not otherwise). Same report and exit status as wye_fuzz_replay. */
int wye_fuzz_replay_judged(const char *dir, size_t max_size,
                           int (*judge)(const char *name, const uint8_t *, size_t));

#endif
