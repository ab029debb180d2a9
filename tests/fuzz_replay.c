#include "fuzz_replay.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wyelink/io.h"

int wye_fuzz_replay(const char *dir, size_t max_size, int (*check)(const uint8_t *, size_t),
                    const wye_fuzz_verdict *verdicts, size_t nverdicts)
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
        int rc = check((const uint8_t *)buf, len);
        free(buf);
        for (size_t i = 0; i < nverdicts; i++) {
            if (strncmp(e->d_name, verdicts[i].prefix, strlen(verdicts[i].prefix)) == 0 &&
                rc != verdicts[i].code) {
                fprintf(stderr, "%s: got %d (%s), want %d (%s)\n", e->d_name, rc,
                        wye_strerror(rc), verdicts[i].code, wye_strerror(verdicts[i].code));
                wrong++;
                break;
            }
        }
    }
    closedir(d);
    printf("%u passed, %u failed\n", n - wrong, wrong);
    return n == 0 || wrong ? 1 : 0;
}
