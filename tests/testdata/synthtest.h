/* Helpers shared by the testdata suite: generate every agency into memory,
 * parse CSV strictly, run the wyelink program. */
#ifndef WYELINK_SYNTHTEST_H
#define WYELINK_SYNTHTEST_H

#include <criterion/criterion.h>
#include <csv.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wyelink/io.h"
#include "wyelink/synth.h"

#define NAG WYE_SYNTH_NAGENCIES

typedef struct generated {
    wye_membuf csv[NAG];
    wye_membuf truth;
    uint64_t rows[NAG];
    uint64_t persons;
} generated;

static inline void gen_free(generated *g)
{
    for (int a = 0; a < NAG; a++)
        free(g->csv[a].data);
    free(g->truth.data);
    memset(g, 0, sizeof *g);
}

static inline void generate(generated *out, uint64_t seed, double scale, double level,
                            unsigned threads)
{
    memset(out, 0, sizeof *out);
    wye_synth_settings s;
    wye_synth_default_settings(&s);
    s.seed = seed;
    s.scale = scale;
    s.error_level = level;
    s.threads = threads;
    wye_synth *g = NULL;
    cr_assert_eq(wye_synth_new(&s, &g), WYE_OK);
    out->persons = wye_synth_persons(g);
    wye_sink t = wye_sink_memory(&out->truth);
    cr_assert_eq(t.write(t.ctx, WYE_SYNTH_TRUTH_HEADER, strlen(WYE_SYNTH_TRUTH_HEADER)), WYE_OK);
    for (unsigned a = 0; a < NAG; a++)
        cr_assert_eq(wye_synth_write_agency(g, a, wye_sink_memory(&out->csv[a]), t, NULL, NULL,
                                            &out->rows[a]),
                     WYE_OK);
    wye_synth_free(g);
}

/* A parsed CSV: rows[0] is the header. */
typedef struct table {
    char ***rows;
    size_t *nf;
    size_t n, cap;
    /* parse state */
    char **cur;
    size_t ncur, capcur;
} table;

static inline void t_field(void *s, size_t len, void *ctx)
{
    table *t = ctx;
    if (t->ncur == t->capcur) {
        t->capcur = t->capcur ? 2 * t->capcur : 16;
        t->cur = realloc(t->cur, t->capcur * sizeof *t->cur);
    }
    char *v = malloc(len + 1);
    memcpy(v, s ? s : "", len);
    v[len] = '\0';
    t->cur[t->ncur++] = v;
}

static inline void t_row(int c, void *ctx)
{
    table *t = ctx;
    (void)c;
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 1024;
        t->rows = realloc(t->rows, t->cap * sizeof *t->rows);
        t->nf = realloc(t->nf, t->cap * sizeof *t->nf);
    }
    t->rows[t->n] = t->cur;
    t->nf[t->n++] = t->ncur;
    t->cur = NULL;
    t->ncur = t->capcur = 0;
}

/* Parse strictly (a stray quote fails the test); a UTF-8 BOM is skipped. */
static inline void table_parse(table *t, const uint8_t *data, size_t size)
{
    memset(t, 0, sizeof *t);
    if (size >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3)) {
        data += 3;
        size -= 3;
    }
    struct csv_parser p;
    cr_assert_eq(csv_init(&p, CSV_STRICT | CSV_STRICT_FINI), 0);
    cr_assert_eq(csv_parse(&p, data, size, t_field, t_row, t), size, "malformed CSV");
    cr_assert_eq(csv_fini(&p, t_field, t_row, t), 0, "malformed CSV at the end");
    csv_free(&p);
    cr_assert_gt(t->n, 0);
}

static inline void table_free(table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        for (size_t j = 0; j < t->nf[i]; j++)
            free(t->rows[i][j]);
        free(t->rows[i]);
    }
    free(t->rows);
    free(t->nf);
    free(t->cur);
}

static inline int table_col(const table *t, const char *name)
{
    for (size_t j = 0; j < t->nf[0]; j++)
        if (!strcmp(t->rows[0][j], name))
            return (int)j;
    return -1;
}

/* A fresh folder for a test's files. */
static inline char *temp_dir(void)
{
    char *d = strdup("/tmp/wyelink-testdata-XXXXXX");
    cr_assert_not_null(mkdtemp(d));
    return d;
}

static inline void remove_dir(char *d)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    cr_assert_eq(system(cmd), 0);
    free(d);
}

static inline const char *wyelink_exe(void)
{
    const char *w = getenv("WYELINK");
    cr_assert_not_null(w, "WYELINK is not set (run through meson test)");
    return w;
}

/* Run a shell command; returns its exit status. */
static inline int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int run(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline char *slurp(const char *path, size_t *len)
{
    char *d = NULL;
    size_t n = 0;
    if (wye_read_file(path, (size_t)1 << 30, &d, &n) != WYE_OK)
        return NULL;
    if (len)
        *len = n;
    return d;
}

#endif
