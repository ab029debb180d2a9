/* Data for the privacy attacks: synthetic records read through the real
 * column maps and normalisers, encoded with the real encoder; the public
 * name lists; scoring of guesses. */
#include "priv.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "wyelink/colmap.h"
#include "wyelink/csvin.h"
#include "wyelink/io.h"
#include "wyelink/synth.h"

/* ---- data ---------------------------------------------------------------- */

static int grow(priv_data *d, size_t *cap)
{
    if (d->n < *cap)
        return WYE_OK;
    size_t nc = *cap ? 2 * *cap : 1024;
    wye_fields *f = realloc(d->f, nc * sizeof *f);
    if (!f)
        return WYE_ENOMEM;
    d->f = f;
    uint32_t *pe = realloc(d->person, nc * sizeof *pe);
    if (!pe)
        return WYE_ENOMEM;
    d->person = pe;
    uint8_t *ag = realloc(d->agency, nc);
    if (!ag)
        return WYE_ENOMEM;
    d->agency = ag;
    *cap = nc;
    return WYE_OK;
}

/* The agency's column map without the columns that feed a field the
 * protocol does not have (an agency's map for such a protocol would simply
 * not name them). A new string, freed by the caller. */
static char *map_for_protocol(const char *json, size_t len, const wye_protocol *p)
{
    json_error_t err;
    json_t *root = json_loadb(json, len, 0, &err);
    if (!root)
        return NULL;
    json_t *cols = json_object_get(root, "columns"), *keep = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(cols, i, c)
    {
        json_t *f = json_object_get(c, "field");
        if (json_is_string(f) && wye_protocol_field_index(p, json_string_value(f)) < 0)
            continue;
        json_array_append(keep, c);
    }
    json_object_set_new(root, "columns", keep);
    char *out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return out;
}

/* The person of each truth row, in row order ("agency,local_id,person"). */
static int truth_persons(const wye_membuf *t, uint32_t **out, size_t *n)
{
    size_t cap = 1024, k = 0;
    uint32_t *v = malloc(cap * sizeof *v);
    if (!v)
        return WYE_ENOMEM;
    const char *s = (const char *)t->data, *end = s + t->size;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        if (!nl)
            nl = end;
        const char *c = nl;
        while (c > s && c[-1] != ',')
            c--;
        if (k == cap) {
            uint32_t *w = realloc(v, 2 * cap * sizeof *v);
            if (!w) {
                free(v);
                return WYE_ENOMEM;
            }
            v = w;
            cap *= 2;
        }
        v[k++] = (uint32_t)strtoul(c, NULL, 10);
        s = nl + 1;
    }
    *out = v;
    *n = k;
    return WYE_OK;
}

static int add_rejected(priv_data *d, uint32_t person)
{
    if ((d->nrej & (d->nrej - 1)) == 0) { /* 0, 1, 2, 4, ...: grow */
        uint32_t *r = realloc(d->rej_person, (d->nrej ? 2 * d->nrej : 1) * sizeof *r);
        if (!r)
            return WYE_ENOMEM;
        d->rej_person = r;
    }
    d->rej_person[d->nrej++] = person;
    return WYE_OK;
}

/* Read one extract (CSV bytes) through its column map (JSON text) and add
 * its rows to d; the person of row k is tp[k] when tp is given, else the
 * number in the local id ("rec-1070-dup-0" -> 1070, FEBRL's). */
static int read_extract(priv_data *d, size_t *cap, const uint8_t *csv, size_t csvlen,
                        const char *mapjson, size_t maplen, const wye_date *extract,
                        unsigned agency, const uint32_t *tp, size_t ntp, uint32_t person_base)
{
    wye_colmap *m = NULL;
    wye_csvin *r = NULL;
    wye_diag diag;
    int rc = WYE_OK;
    char *mapped = map_for_protocol(mapjson, maplen, d->p);
    if (!mapped)
        rc = WYE_EJSON;
    if (!rc)
        rc = wye_colmap_parse(mapped, strlen(mapped), d->p, &m, &diag);
    free(mapped);
    wye_memsource ms = {csv, csvlen, 0};
    if (!rc)
        rc = wye_csvin_open(wye_source_memory(&ms), wye_colmap_encoding(m), &r, &diag);
    if (!rc)
        rc = wye_colmap_bind(m, r, &diag);
    wye_csv_row row;
    size_t k = 0;
    int more;
    while (!rc && (more = wye_csvin_next(r, &row, &diag)) != 0) {
        if (more < 0) {
            rc = more;
            break;
        }
        if ((rc = grow(d, cap)))
            break;
        const char *lid;
        size_t lidlen;
        wye_row_verdict v = wye_colmap_extract(m, &row, extract, &d->f[d->n], &lid, &lidlen);
        uint32_t person;
        if (tp) {
            if (k >= ntp) {
                rc = WYE_EFORMAT;
                break;
            }
            person = tp[k];
        } else {
            size_t i = 0;
            while (i < lidlen && (lid[i] < '0' || lid[i] > '9'))
                i++;
            person = 0;
            while (i < lidlen && lid[i] >= '0' && lid[i] <= '9')
                person = person * 10 + (uint32_t)(lid[i++] - '0');
        }
        if (v == WYE_ROW_OK) {
            d->person[d->n] = person_base + person;
            d->agency[d->n] = (uint8_t)agency;
            d->n++;
        } else {
            rc = add_rejected(d, person_base + person);
        }
        k++;
    }
    wye_csvin_free(r);
    wye_colmap_free(m);
    return rc;
}

int priv_data_synth(const wye_protocol *p, uint64_t seed, double scale, unsigned agencies,
                    uint32_t person_base, priv_data *d)
{
    memset(d, 0, sizeof *d);
    d->p = p;
    d->rsize = wye_protocol_layout(p)->record_size;
    wye_synth_settings set;
    wye_synth_default_settings(&set);
    set.seed = seed;
    set.scale = scale;
    set.threads = 1;
    wye_synth *g = NULL;
    int rc = wye_synth_new(&set, &g);
    if (rc)
        return rc;
    wye_date extract = {(int)(set.extract_date / 10000), (int)(set.extract_date / 100 % 100),
                        (int)(set.extract_date % 100)};
    size_t cap = 0;
    for (unsigned a = 0; a < WYE_SYNTH_NAGENCIES && !rc; a++) {
        if (!(agencies & (1u << a)))
            continue;
        wye_membuf csv = {0}, truth = {0};
        char *mapjson = NULL;
        size_t maplen = 0;
        uint32_t *tp = NULL;
        size_t ntp = 0;
        rc = wye_synth_write_agency(g, a, wye_sink_memory(&csv), wye_sink_memory(&truth), NULL,
                                    NULL, NULL);
        if (!rc)
            rc = truth_persons(&truth, &tp, &ntp);
        if (!rc)
            rc = wye_synth_column_map(a, &mapjson, &maplen);
        if (!rc)
            rc = read_extract(d, &cap, csv.data, csv.size, mapjson, maplen, &extract, a, tp, ntp,
                              person_base);
        free(mapjson);
        free(tp);
        sodium_memzero(csv.data, csv.size);
        free(csv.data);
        free(truth.data);
    }
    wye_synth_free(g);
    if (rc)
        priv_data_free(d);
    return rc;
}

int priv_data_files(const wye_protocol *p, const char *const *csv, const char *map, size_t nfiles,
                    const char *extract_date, priv_data *d)
{
    memset(d, 0, sizeof *d);
    d->p = p;
    d->rsize = wye_protocol_layout(p)->record_size;
    wye_date extract;
    if (wye_date_parse_iso(extract_date, &extract))
        return WYE_EINVAL;
    char *mapjson = NULL;
    size_t maplen = 0, cap = 0;
    int rc = wye_read_file(map, 1 << 20, &mapjson, &maplen);
    for (size_t a = 0; !rc && a < nfiles; a++) {
        char *data = NULL;
        size_t len = 0;
        rc = wye_read_file(csv[a], (size_t)1 << 30, &data, &len);
        if (!rc)
            rc = read_extract(d, &cap, (const uint8_t *)data, len, mapjson, maplen, &extract,
                              (unsigned)a, NULL, 0, 0);
        free(data);
    }
    free(mapjson);
    if (rc)
        priv_data_free(d);
    return rc;
}

int priv_data_pick(const priv_data *a, const size_t *idx, size_t m, const priv_data *b,
                   const size_t *jdx, size_t k, priv_data *out)
{
    memset(out, 0, sizeof *out);
    out->p = a->p;
    out->rsize = a->rsize;
    size_t n = m + k;
    out->f = malloc((n ? n : 1) * sizeof *out->f);
    out->person = malloc((n ? n : 1) * sizeof *out->person);
    out->agency = malloc(n ? n : 1);
    if (!out->f || !out->person || !out->agency) {
        priv_data_free(out);
        return WYE_ENOMEM;
    }
    for (size_t i = 0; i < m; i++) {
        out->f[i] = a->f[idx[i]];
        out->person[i] = a->person[idx[i]];
        out->agency[i] = a->agency[idx[i]];
    }
    for (size_t i = 0; i < k; i++) {
        out->f[m + i] = b->f[jdx[i]];
        out->person[m + i] = b->person[jdx[i]];
        out->agency[m + i] = b->agency[jdx[i]];
    }
    out->n = n;
    return WYE_OK;
}

void priv_data_free(priv_data *d)
{
    if (!d)
        return;
    if (d->f)
        sodium_memzero(d->f, d->n * sizeof *d->f);
    free(d->f);
    free(d->person);
    free(d->agency);
    free(d->enc);
    free(d->rej_person);
    memset(d, 0, sizeof *d);
}

int priv_secret_fixed(uint8_t fill, wye_secret **out)
{
    *out = NULL;
    if (sodium_init() < 0)
        return WYE_ECRYPTO;
    uint8_t key[32], id[32];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(fill + i);
    crypto_generichash_blake2b_salt_personal(id, sizeof id, NULL, 0, key, 32, NULL,
                                             (const unsigned char *)"wyelink.keyid.v1");
    char idhex[17], b64[64], text[512], dir[] = "/tmp/wyelink-priv-XXXXXX", path[64];
    sodium_bin2hex(idhex, sizeof idhex, id, 8);
    sodium_bin2base64(b64, sizeof b64, key, 32, sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(text, sizeof text,
                     "{\n  \"kind\": \"wyelink-linkage-secret\",\n  \"version\": 1,\n"
                     "  \"key_id\": \"%s\",\n  \"secret\": \"%s\"\n}\n",
                     idhex, b64);
    sodium_memzero(key, sizeof key);
    sodium_memzero(b64, sizeof b64);
    if (!mkdtemp(dir))
        return WYE_EIO;
    snprintf(path, sizeof path, "%s/linkage.secret", dir);
    int rc = WYE_EIO;
    FILE *f = NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd >= 0 && (f = fdopen(fd, "w")) != NULL) {
        rc = fwrite(text, 1, (size_t)n, f) == (size_t)n ? WYE_OK : WYE_EIO;
        if (fclose(f))
            rc = WYE_EIO;
    } else if (fd >= 0) {
        close(fd);
    }
    sodium_memzero(text, sizeof text);
    if (!rc)
        rc = wye_secret_load(path, out);
    remove(path);
    rmdir(dir);
    return rc;
}

int priv_data_encode(priv_data *d, const wye_secret *s)
{
    uint8_t pkey[32];
    for (int i = 0; i < 32; i++)
        pkey[i] = (uint8_t)(0xa0 + i);
    wye_encoder *e = NULL;
    int rc = wye_encoder_new(d->p, s, pkey, &e);
    if (rc)
        return rc;
    free(d->enc);
    d->enc = calloc(d->n ? d->n : 1, d->rsize);
    if (!d->enc) {
        wye_encoder_free(e);
        return WYE_ENOMEM;
    }
    wye_encoder_cache *c = NULL;
    if ((rc = wye_encoder_cache_new(&c))) {
        wye_encoder_free(e);
        return rc;
    }
    for (size_t i = 0; i < d->n && !rc; i++) {
        char lid[32];
        int len = snprintf(lid, sizeof lid, "r%zu", i);
        rc = wye_encoder_encode(e, c, &d->f[i], lid, (size_t)len, d->enc + i * d->rsize);
    }
    wye_encoder_cache_free(c);
    wye_encoder_free(e);
    return rc;
}

unsigned priv_attr(const priv_data *d, size_t i, const char *source_name)
{
    wye_attr_source want = strcmp(source_name, "sex") == 0 ? WYE_ATTR_SEX : WYE_ATTR_AGE_BAND;
    for (size_t a = 0; a < wye_protocol_nattrs(d->p); a++)
        if (wye_protocol_attr(d->p, a)->source == want)
            return d->f[i].attr[a];
    return 0;
}

/* ---- public lists --------------------------------------------------------- */

static int cmp_weight(const void *a, const void *b, void *ctx)
{
    const priv_list *l = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (l->w[i] != l->w[j])
        return l->w[i] > l->w[j] ? -1 : 1;
    return strcmp(l->v[i], l->v[j]);
}

static int cmp_value(const void *a, const void *b, void *ctx)
{
    const priv_list *l = ctx;
    return strcmp(l->v[*(const size_t *)a], l->v[*(const size_t *)b]);
}

/* Merge equal values and sort by weight. */
static int list_finish(priv_list *l)
{
    size_t n = l->n;
    size_t *ix = malloc((n ? n : 1) * sizeof *ix);
    char(*v)[WYE_NORM_MAX] = malloc((n ? n : 1) * sizeof *v);
    double *w = malloc((n ? n : 1) * sizeof *w);
    if (!ix || !v || !w) {
        free(ix);
        free(v);
        free(w);
        return WYE_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        ix[i] = i;
    qsort_r(ix, n, sizeof *ix, cmp_value, l);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k && strcmp(v[k - 1], l->v[ix[i]]) == 0) {
            w[k - 1] += l->w[ix[i]];
        } else {
            memcpy(v[k], l->v[ix[i]], WYE_NORM_MAX);
            w[k++] = l->w[ix[i]];
        }
    }
    free(l->v);
    free(l->w);
    l->v = v;
    l->w = w;
    l->n = k;
    l->total = 0;
    for (size_t i = 0; i < k; i++)
        ix[i] = i, l->total += w[i];
    qsort_r(ix, k, sizeof *ix, cmp_weight, l);
    char(*v2)[WYE_NORM_MAX] = malloc((k ? k : 1) * sizeof *v2);
    double *w2 = malloc((k ? k : 1) * sizeof *w2);
    if (!v2 || !w2) {
        free(v2);
        free(w2);
        free(ix);
        return WYE_ENOMEM;
    }
    for (size_t i = 0; i < k; i++) {
        memcpy(v2[i], v[ix[i]], WYE_NORM_MAX);
        w2[i] = w[ix[i]];
    }
    free(v);
    free(w);
    free(ix);
    l->v = v2;
    l->w = w2;
    return WYE_OK;
}

static int list_load(const char *dir, const char *file, priv_list *l)
{
    memset(l, 0, sizeof *l);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    if (!f)
        return WYE_EIO;
    char line[1024];
    size_t cap = 0;
    int rc = WYE_OK;
    bool header = true;
    while (fgets(line, sizeof line, f)) {
        if (header) {
            header = false;
            continue;
        }
        char *comma = strrchr(line, ',');
        if (!comma)
            continue;
        double w = strtod(comma + 1, NULL);
        char norm[WYE_NORM_MAX];
        wye_norm_reason why;
        if (wye_norm_name(line, (size_t)(comma - line), norm, &why) != WYE_NORM_PRESENT)
            continue;
        if (l->n == cap) {
            size_t nc = cap ? 2 * cap : 1024;
            char(*v)[WYE_NORM_MAX] = realloc(l->v, nc * sizeof *v);
            if (!v) {
                rc = WYE_ENOMEM;
                break;
            }
            l->v = v;
            double *ww = realloc(l->w, nc * sizeof *ww);
            if (!ww) {
                rc = WYE_ENOMEM;
                break;
            }
            l->w = ww;
            cap = nc;
        }
        memcpy(l->v[l->n], norm, WYE_NORM_MAX);
        l->w[l->n++] = w;
    }
    fclose(f);
    if (!rc)
        rc = list_finish(l);
    return rc;
}

static void list_free(priv_list *l)
{
    free(l->v);
    free(l->w);
    memset(l, 0, sizeof *l);
}

int priv_public_load(const char *dir, priv_public *pub)
{
    memset(pub, 0, sizeof *pub);
    int rc = list_load(dir, "given_female.csv", &pub->female);
    if (!rc)
        rc = list_load(dir, "given_male.csv", &pub->male);
    if (!rc)
        rc = list_load(dir, "surnames.csv", &pub->surnames);
    if (!rc) {
        priv_list *g = &pub->given;
        g->n = pub->female.n + pub->male.n;
        g->v = malloc(g->n * sizeof *g->v);
        g->w = malloc(g->n * sizeof *g->w);
        if (!g->v || !g->w) {
            rc = WYE_ENOMEM;
        } else {
            /* Shares, so that a list's overall size does not weigh. */
            for (size_t i = 0; i < pub->female.n; i++) {
                memcpy(g->v[i], pub->female.v[i], WYE_NORM_MAX);
                g->w[i] = pub->female.w[i] / pub->female.total;
            }
            for (size_t i = 0; i < pub->male.n; i++) {
                memcpy(g->v[pub->female.n + i], pub->male.v[i], WYE_NORM_MAX);
                g->w[pub->female.n + i] = pub->male.w[i] / pub->male.total;
            }
            rc = list_finish(g);
        }
    }
    if (rc)
        priv_public_free(pub);
    return rc;
}

void priv_public_free(priv_public *pub)
{
    list_free(&pub->female);
    list_free(&pub->male);
    list_free(&pub->given);
    list_free(&pub->surnames);
}


/* ---- scoring --------------------------------------------------------------- */

double priv_share(size_t a, size_t b) { return b ? (double)a / (double)b : 0.0; }

typedef struct {
    const char *v;
    bool hit;
} name_hit;

static int cmp_hit(const void *a, const void *b)
{
    return strcmp(((const name_hit *)a)->v, ((const name_hit *)b)->v);
}

int priv_score_fields(const priv_data *d, size_t nf, const int *fi, const char *const *guess,
                      priv_score *out)
{
    memset(out, 0, sizeof *out);
    out->records = d->n;
    for (size_t i = 0; i < d->n; i++) {
        bool any = false, all = true, guessed = false;
        for (size_t k = 0; k < nf; k++) {
            const char *g = guess[nf * i + k];
            bool present = fi[k] >= 0 && d->f[i].status[fi[k]] == WYE_NORM_PRESENT;
            bool ok = present && g && strcmp(g, d->f[i].value[fi[k]]) == 0;
            guessed = guessed || g;
            any = any || ok;
            all = all && ok;
        }
        out->guessed += guessed;
        out->reid += any;
        out->reid_full += all;
    }
    /* Distinct values: each field's counted apart (JAMES the given name and
     * JAMES the surname are two names). */
    name_hit *tmp = malloc((d->n + 1) * sizeof *tmp);
    if (!tmp)
        return WYE_ENOMEM;
    for (size_t k = 0; k < nf; k++) {
        size_t m = 0;
        for (size_t i = 0; i < d->n; i++) {
            if (fi[k] < 0 || d->f[i].status[fi[k]] != WYE_NORM_PRESENT)
                continue;
            const char *g = guess[nf * i + k];
            tmp[m].v = d->f[i].value[fi[k]];
            tmp[m].hit = g && strcmp(g, tmp[m].v) == 0;
            m++;
        }
        qsort(tmp, m, sizeof *tmp, cmp_hit);
        for (size_t i = 0; i < m;) {
            size_t j = i;
            bool hit = false;
            for (; j < m && strcmp(tmp[j].v, tmp[i].v) == 0; j++)
                hit = hit || tmp[j].hit;
            out->names++;
            out->names_reid += hit;
            i = j;
        }
    }
    free(tmp);
    return WYE_OK;
}

int priv_score_guesses(const priv_data *d, const char *const *guess, priv_score *out)
{
    int fi[2] = {wye_protocol_field_index(d->p, "given_name"),
                 wye_protocol_field_index(d->p, "family_name")};
    return priv_score_fields(d, 2, fi, guess, out);
}
