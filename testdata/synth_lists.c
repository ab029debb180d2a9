/* The generator's name and postcode lists (testdata/names/, embedded at build
 * time by names/embed.py), and calendar arithmetic. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "synth_internal.h"
#include "wyelink/error.h"

extern const char synth_given_female_csv[];
extern const size_t synth_given_female_csv_len;
extern const char synth_given_male_csv[];
extern const size_t synth_given_male_csv_len;
extern const char synth_surnames_csv[];
extern const size_t synth_surnames_csv_len;
extern const char synth_nicknames_csv[];
extern const size_t synth_nicknames_csv_len;
extern const char synth_outcodes_csv[];
extern const size_t synth_outcodes_csv_len;

/* Given names people write with diacritics, which extracts keep or drop. */
static const char *const accents[][2] = {
    {"Aimee", "Aim\u00e9e"},     {"Aine", "\u00c1ine"},         {"Anais", "Ana\u00efs"},
    {"Andre", "Andr\u00e9"},     {"Beatrice", "B\u00e9atrice"}, {"Celine", "C\u00e9line"},
    {"Chloe", "Chlo\u00eb"},     {"Ciaran", "Ciar\u00e1n"},     {"Clemence", "Cl\u00e9mence"},
    {"Elise", "\u00c9lise"},     {"Elodie", "\u00c9lodie"},     {"Eloise", "\u00c9lo\u00efse"},
    {"Esme", "Esm\u00e9"},       {"Ines", "In\u00e8s"},         {"Joao", "Jo\u00e3o"},
    {"Joel", "Jo\u00ebl"},       {"Jose", "Jos\u00e9"},         {"Lea", "L\u00e9a"},
    {"Leonie", "L\u00e9onie"},   {"Mairead", "M\u00e1ir\u00e9ad"}, {"Noel", "No\u00ebl"},
    {"Noemi", "No\u00e9mi"},     {"Padraig", "P\u00e1draig"},   {"Raphael", "Rapha\u00ebl"},
    {"Rene", "Ren\u00e9"},       {"Renee", "Ren\u00e9e"},       {"Ruairi", "Ruair\u00ed"},
    {"Sean", "Se\u00e1n"},       {"Seamus", "S\u00e9amus"},     {"Sinead", "Sin\u00e9ad"},
    {"Siobhan", "Siobh\u00e1n"}, {"Zoe", "Zo\u00eb"},
};

/* Surnames common on the Welsh border, where the county lies (a share of its
 * people draw from these: synth_population.c). Each is in surnames.csv. */
static const char *const border_names[] = {
    "Jones",  "Davies",  "Williams", "Evans",  "Thomas",    "Roberts", "Hughes", "Lewis",
    "Morgan", "Griffiths", "Price",  "Powell", "Edwards",   "Pritchard", "Watkins", "Bowen",
    "Preece", "Probert", "Meredith", "Parry",  "Rees",      "Howells",
};

/* Split a copy of an embedded CSV into lines and fields in place: returns
 * the number of data lines (header skipped); fields[i*2], fields[i*2+1]. */
static int split_csv2(const char *data, size_t len, char **text, char ***fields, uint32_t *n)
{
    char *t = malloc(len + 1);
    if (!t)
        return WYE_ENOMEM;
    memcpy(t, data, len);
    t[len] = '\0';
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += t[i] == '\n';
    char **f = calloc(2 * (lines + 1), sizeof *f);
    if (!f) {
        free(t);
        return WYE_ENOMEM;
    }
    uint32_t k = 0;
    char *p = strchr(t, '\n'); /* skip the header */
    p = p ? p + 1 : t + len;
    while (*p) {
        char *end = strchr(p, '\n');
        if (end)
            *end = '\0';
        char *comma = strchr(p, ',');
        if (comma && comma != p) {
            *comma = '\0';
            f[2 * k] = p;
            f[2 * k + 1] = comma + 1;
            k++;
        }
        if (!end)
            break;
        p = end + 1;
    }
    *text = t;
    *fields = f;
    *n = k;
    return WYE_OK;
}

static int load_weighted(synth_list *l, const char *data, size_t len)
{
    char **f;
    int rc = split_csv2(data, len, &l->text, &f, &l->n);
    if (rc)
        return rc;
    l->names = malloc((l->n ? l->n : 1) * sizeof *l->names);
    l->cum = malloc((l->n ? l->n : 1) * sizeof *l->cum);
    if (!l->names || !l->cum) {
        free(f);
        return WYE_ENOMEM;
    }
    uint64_t total = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        l->names[i] = f[2 * i];
        total += strtoull(f[2 * i + 1], NULL, 10);
        l->cum[i] = total;
    }
    free(f);
    return l->n && total ? WYE_OK : WYE_EFORMAT;
}

/* floor(sqrt(x)), exactly: the sharpened weights must be the same bytes on
 * every machine, which a libm pow() does not promise. */
static uint64_t isqrt64(uint64_t x)
{
    uint64_t r = 0;
    for (uint64_t bit = (uint64_t)1 << 62; bit; bit >>= 2) {
        if (x >= r + bit) {
            x -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
    }
    return r;
}

/* Weights raised to the power 5/4 (w times its fourth root, in 1/256ths):
 * the names of people born before the lists' years (1996-2018) were more
 * concentrated on the common ones, so their given names collide more. */
static int sharpen(synth_list *l)
{
    l->cum_old = malloc(l->n * sizeof *l->cum_old);
    if (!l->cum_old)
        return WYE_ENOMEM;
    uint64_t total = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        uint64_t w = l->cum[i] - (i ? l->cum[i - 1] : 0);
        if (w > UINT32_MAX)
            return WYE_EFORMAT;
        total += w * isqrt64(isqrt64(w << 32));
        l->cum_old[i] = total;
    }
    return total ? WYE_OK : WYE_EFORMAT;
}

static int nick_cmp(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    int c = strcasecmp(x[0], y[0]);
    return c ? c : strcmp(x[1], y[1]);
}

/* Attach nicknames and accented forms to a given-name list. */
static int attach(synth_list *l, char **pairs, uint32_t npairs)
{
    l->nick_start = calloc(l->n, sizeof *l->nick_start);
    l->nick_count = calloc(l->n, sizeof *l->nick_count);
    l->accent = calloc(l->n, sizeof *l->accent);
    if (!l->nick_start || !l->nick_count || !l->accent)
        return WYE_ENOMEM;
    for (uint32_t i = 0; i < l->n; i++) {
        /* pairs is sorted by name: find the first pair for names[i]. */
        uint32_t lo = 0, hi = npairs;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (strcasecmp(pairs[2 * mid], l->names[i]) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        uint32_t c = 0;
        while (lo + c < npairs && c < UINT16_MAX && !strcasecmp(pairs[2 * (lo + c)], l->names[i]))
            c++;
        l->nick_start[i] = lo;
        l->nick_count[i] = (uint16_t)c;
        for (size_t a = 0; a < sizeof accents / sizeof accents[0]; a++)
            if (!strcmp(accents[a][0], l->names[i]))
                l->accent[i] = accents[a][1];
    }
    return WYE_OK;
}

int synth_lists_load(synth_lists *l)
{
    memset(l, 0, sizeof *l);
    int rc;
    if ((rc = load_weighted(&l->female, synth_given_female_csv, synth_given_female_csv_len)) ||
        (rc = load_weighted(&l->male, synth_given_male_csv, synth_given_male_csv_len)) ||
        (rc = load_weighted(&l->surname, synth_surnames_csv, synth_surnames_csv_len)) ||
        (rc = sharpen(&l->female)) || (rc = sharpen(&l->male)))
        goto fail;
    for (size_t b = 0; b < sizeof border_names / sizeof border_names[0]; b++)
        for (uint32_t i = 0; i < l->surname.n; i++)
            if (!strcmp(l->surname.names[i], border_names[b])) {
                uint64_t w = l->surname.cum[i] - (i ? l->surname.cum[i - 1] : 0);
                l->border[l->nborder] = i;
                l->border_cum[l->nborder] = (l->nborder ? l->border_cum[l->nborder - 1] : 0) + w;
                l->nborder++;
                break;
            }
    if (!l->nborder || !l->border_cum[l->nborder - 1]) {
        rc = WYE_EFORMAT;
        goto fail;
    }

    char **pairs;
    uint32_t npairs;
    if ((rc = split_csv2(synth_nicknames_csv, synth_nicknames_csv_len, &l->nick_text, &pairs,
                         &npairs)))
        goto fail;
    /* A total order (name, then nickname): qsort is not stable, and the
     * draws must not depend on the C library's sort. */
    qsort(pairs, npairs, 2 * sizeof *pairs, nick_cmp);
    l->nick = malloc((npairs ? npairs : 1) * sizeof *l->nick);
    if (!l->nick) {
        free(pairs);
        rc = WYE_ENOMEM;
        goto fail;
    }
    for (uint32_t i = 0; i < npairs; i++)
        l->nick[i] = pairs[2 * i + 1];
    l->nnick = npairs;
    if ((rc = attach(&l->female, pairs, npairs)) ||
        (rc = attach(&l->male, pairs, npairs))) {
        free(pairs);
        goto fail;
    }
    free(pairs);

    char **oc;
    uint32_t noc;
    if ((rc = split_csv2(synth_outcodes_csv, synth_outcodes_csv_len, &l->out_text, &oc, &noc)))
        goto fail;
    l->out_local = malloc((noc ? noc : 1) * sizeof *l->out_local);
    l->out_all = malloc((noc ? noc : 1) * sizeof *l->out_all);
    if (!l->out_local || !l->out_all) {
        free(oc);
        rc = WYE_ENOMEM;
        goto fail;
    }
    for (uint32_t i = 0; i < noc; i++) {
        l->out_all[l->nall++] = oc[2 * i];
        if (oc[2 * i + 1][0] == '1')
            l->out_local[l->nlocal++] = oc[2 * i];
    }
    free(oc);
    if (!l->nlocal || !l->nall) {
        rc = WYE_EFORMAT;
        goto fail;
    }
    return WYE_OK;
fail:
    synth_lists_free(l);
    return rc;
}

static void list_free(synth_list *l)
{
    free(l->text);
    free(l->names);
    free(l->cum);
    free(l->nick_start);
    free(l->nick_count);
    free(l->accent);
    free(l->cum_old);
}

void synth_lists_free(synth_lists *l)
{
    if (!l)
        return;
    list_free(&l->female);
    list_free(&l->male);
    list_free(&l->surname);
    free(l->nick_text);
    free(l->nick);
    free(l->out_text);
    free(l->out_local);
    free(l->out_all);
    memset(l, 0, sizeof *l);
}

/* The first i with cum[i] > a uniform draw below cum[n - 1]. */
static uint32_t draw_cum(const uint64_t *cum, uint32_t n, synth_rng *r)
{
    uint64_t x = synth_below(r, cum[n - 1]);
    uint32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

uint32_t synth_list_draw(const synth_list *l, synth_rng *r)
{
    return draw_cum(l->cum, l->n, r);
}

uint32_t synth_list_draw_old(const synth_list *l, synth_rng *r)
{
    return l->cum_old ? draw_cum(l->cum_old, l->n, r) : draw_cum(l->cum, l->n, r);
}

uint32_t synth_border_draw(const synth_lists *l, synth_rng *r)
{
    return l->border[draw_cum(l->border_cum, l->nborder, r)];
}

/* Howard Hinnant's civil-calendar algorithms. */
int64_t synth_days_from_civil(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void synth_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400) + (*m <= 2);
}

unsigned synth_days_in_month(int y, unsigned m)
{
    static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return m >= 1 && m <= 12 ? dim[m - 1] : 0;
}
