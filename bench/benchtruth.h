/* The inputs of a benchmark linkage: the encoded files, opened as the
 * linkage unit opens them, and the ground truth of which true person each
 * encoded record is. Shared by bench/linker/bench_blocking.c and
 * bench/quality/quality_misses.c (header-only: static inline functions).
 *
 * truth.csv is "agency,local_id,person" (as synth and run_quality.py write
 * it); a local map is "local_id,record" (as wyelink hash writes it), given
 * as "AGENCY=FILE". Both are read as plain comma-separated lines without
 * quotes, which is what those writers produce for these columns. */
#ifndef WYE_BENCH_TRUTH_H
#define WYE_BENCH_TRUTH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wyelink/keys.h"
#include "wyelink/protocol.h"
#include "wyelink/records.h"

/* A table of key -> value strings, sorted by key once filled (bt_sort). */
typedef struct bt_entry {
    char *key;
    char *value;
} bt_entry;

typedef struct bt_table {
    bt_entry *e;
    size_t n, cap;
} bt_table;

static inline void bt_add(bt_table *t, const char *key, const char *value)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 1024;
        t->e = realloc(t->e, t->cap * sizeof *t->e);
        if (!t->e)
            exit(1);
    }
    t->e[t->n].key = strdup(key);
    t->e[t->n].value = strdup(value);
    if (!t->e[t->n].key || !t->e[t->n].value)
        exit(1);
    t->n++;
}

static inline int bt_cmp(const void *x, const void *y)
{
    return strcmp(((const bt_entry *)x)->key, ((const bt_entry *)y)->key);
}

static inline void bt_sort(bt_table *t) { qsort(t->e, t->n, sizeof *t->e, bt_cmp); }

static inline const bt_entry *bt_find(const bt_table *t, const char *key)
{
    bt_entry k = {(char *)key, NULL};
    return bsearch(&k, t->e, t->n, sizeof *t->e, bt_cmp);
}

static inline void bt_free(bt_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->e[i].key);
        free(t->e[i].value);
    }
    free(t->e);
    *t = (bt_table){0};
}

/* Split a CSV line without quotes into at most n fields. */
static inline int bt_split(char *line, char **f, int n)
{
    int k = 0;
    line[strcspn(line, "\r\n")] = 0;
    for (char *p = line; k < n;) {
        f[k++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = 0;
        p = c + 1;
    }
    return k;
}

/* Read a file of header + rows of at least `nf` fields into t, keyed
 * "prefix,field[kf]" (or "field[0],field[1]" when prefix is NULL) with
 * value field[vf]. 0, or -1 if the file cannot be read. */
static inline int bt_load(bt_table *t, const char *path, const char *prefix, int nf, int kf, int vf)
{
    char line[4096], key[1024];
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        char *fl[3];
        if (bt_split(line, fl, nf) != nf)
            continue;
        snprintf(key, sizeof key, "%s,%s", prefix ? prefix : fl[0], prefix ? fl[kf] : fl[1]);
        bt_add(t, key, fl[vf]);
    }
    fclose(f);
    return 0;
}

/* What bt_load_records opens; bt_inputs_free frees it. */
typedef struct bt_inputs {
    wye_party *lu;
    wye_trust *trust;
    wye_protocol *proto;
    wye_recset *set;
} bt_inputs;

static inline void bt_inputs_free(bt_inputs *in)
{
    wye_recset_free(in->set);
    wye_protocol_free(in->proto);
    wye_trust_free(in->trust);
    wye_party_free(in->lu);
    *in = (bt_inputs){0};
}

/* Open the encoded files files[0..n) with the linkage unit's key and trust
 * folder under the protocol at proto_path, as wyelink link does, into
 * in->set (finished with `threads`). 0, or -1 with a message on stderr
 * naming tool. */
static inline int bt_load_records(const char *tool, const char *key, const char *trust_dir,
                                  const char *proto_path, char **files, int n, unsigned threads,
                                  bt_inputs *in)
{
    wye_diag d;
    *in = (bt_inputs){0};
    if (wye_crypto_init() != WYE_OK || wye_party_load(key, &in->lu) ||
        wye_trust_load_dir(trust_dir, &in->trust) ||
        wye_protocol_load(proto_path, &in->proto, &d)) {
        fprintf(stderr, "%s: cannot load the key, trust folder or protocol\n", tool);
        return -1;
    }
    if (wye_recset_new(in->proto, NULL, &in->set))
        return -1;
    for (int i = 0; i < n; i++) {
        FILE *f = fopen(files[i], "rb");
        wye_recfile *rf;
        int rc = f ? wye_recfile_read(wye_source_file(f), files[i], in->proto, in->lu, in->trust,
                                      &rf, &d)
                   : WYE_EIO;
        if (f)
            fclose(f);
        if (rc || (rc = wye_recset_add_file(in->set, rf, &d))) {
            fprintf(stderr, "%s: %s: %s\n", tool, files[i], wye_strerror(rc));
            return -1;
        }
    }
    return wye_recset_finish(in->set, threads) ? -1 : 0;
}

/* The true person of every record of v: person[i] points into *truth (which
 * the caller frees with bt_free), NULL when the record's local id is not in
 * a local map or not in the truth. maps[] are "AGENCY=FILE" (changed in
 * place). 0, or -1 (a message on stderr naming the file). */
static inline int bt_persons(const wye_recset *set, const wye_recview *v, const char *truth_path,
                      char **maps, int nmaps, bt_table *truth, const char **person)
{
    bt_table mt = {0};
    *truth = (bt_table){0};
    /* truth: "agency,local_id" -> person; local maps: "agency,record" -> local_id */
    if (bt_load(truth, truth_path, NULL, 3, 1, 2)) {
        fprintf(stderr, "cannot read %s\n", truth_path);
        return -1;
    }
    for (int i = 0; i < nmaps; i++) {
        char *eq = strchr(maps[i], '=');
        if (!eq) {
            fprintf(stderr, "--map %s: not AGENCY=FILE\n", maps[i]);
            return -1;
        }
        *eq = 0;
        if (bt_load(&mt, eq + 1, maps[i], 2, 1, 0)) {
            fprintf(stderr, "cannot read %s\n", eq + 1);
            return -1;
        }
    }
    bt_sort(truth);
    bt_sort(&mt);
    char key[1024];
    for (size_t i = 0; i < v->n; i++) {
        char hex[2 * WYE_PSEUDONYM_BYTES + 1];
        wye_hex(wye_rec(v, i) + v->layout->pseudonym_off, WYE_PSEUDONYM_BYTES, hex);
        const char *agency = wye_recset_agency(set, v->agency[i]);
        snprintf(key, sizeof key, "%s,%s", agency, hex);
        const bt_entry *m = bt_find(&mt, key);
        const bt_entry *t = NULL;
        if (m) {
            snprintf(key, sizeof key, "%s,%s", agency, m->value);
            t = bt_find(truth, key);
        }
        person[i] = t ? t->value : NULL;
    }
    bt_free(&mt);
    return 0;
}

#endif
