#include "fuzz_replay.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wyelink/io.h"

typedef struct replay_ctx {
    int (*check)(const uint8_t *, size_t);
    const wye_fuzz_verdict *verdicts;
    size_t nverdicts;
} replay_ctx;

/* Walk dir; judge each seed; 0 when every seed passed and there was one. */
static int walk(const char *dir, size_t max_size,
                int (*judge)(const replay_ctx *, const char *, const uint8_t *, size_t),
                const replay_ctx *ctx,
                int (*named)(const char *, const uint8_t *, size_t))
{
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return 1;
    }
    unsigned n = 0, wrong = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *buf;
        size_t len;
        n++;
        if (wye_read_file(path, max_size, &buf, &len) != WYE_OK) {
            fprintf(stderr, "%s: cannot read\n", path);
            wrong++;
            continue;
        }
        int bad = judge ? judge(ctx, e->d_name, (const uint8_t *)buf, len)
                        : named(e->d_name, (const uint8_t *)buf, len);
        free(buf);
        wrong += bad != 0;
    }
    closedir(d);
    printf("%u passed, %u failed\n", n - wrong, wrong);
    return n == 0 || wrong ? 1 : 0;
}

static int by_prefix(const replay_ctx *c, const char *name, const uint8_t *data, size_t len)
{
    int rc = c->check(data, len);
    for (size_t i = 0; i < c->nverdicts; i++) {
        if (strncmp(name, c->verdicts[i].prefix, strlen(c->verdicts[i].prefix)) == 0 &&
            rc != c->verdicts[i].code) {
            fprintf(stderr, "%s: got %d (%s), want %d (%s)\n", name, rc, wye_strerror(rc),
                    c->verdicts[i].code, wye_strerror(c->verdicts[i].code));
            return 1;
        }
    }
    return 0;
}

int wye_fuzz_replay(const char *dir, size_t max_size, int (*check)(const uint8_t *, size_t),
                    const wye_fuzz_verdict *verdicts, size_t nverdicts)
{
    replay_ctx c = {check, verdicts, nverdicts};
    return walk(dir, max_size, by_prefix, &c, NULL);
}

int wye_fuzz_replay_judged(const char *dir, size_t max_size,
                           int (*judge)(const char *name, const uint8_t *, size_t))
{
    return walk(dir, max_size, NULL, NULL, judge);
}
