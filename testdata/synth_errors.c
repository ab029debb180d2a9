/* The generator's errors (testdata/README.md, "The errors"): the rates of
 * error and variation by agency, and one record of a person as an agency
 * holds it, with those errors. Each record has its own random stream, keyed
 * by the person, the agency and the repeat, so the draws below happen in a
 * fixed order whatever the order of writing. */
#include <string.h>

#include "synth_internal.h"

/* Error and variation rates by agency, at error level 1. A charity's
 * extract is sparse: a third of its rows have no date of birth, a quarter no
 * postcode (a refuge's withheld ones on top), and some are helpline contacts
 * with a name, sex and age band only. */
static const rates agency_rates[NA] = {
    [POL] = {.typo_given = .03, .typo_family = .03, .nickname = .10, .nick_pref = .50,
             .former_used = .35, .rename_seen = .80, .swap = .015, .dbl_var = .35,
             .prefix_var = .25, .accent_drop = .8, .middle_drop = .5, .dob_missing = .06,
             .dob_jan1 = .015, .dob_swap = .03, .dob_typo = .04, .pc_missing = .06,
             .pc_old = .40, .pc_typo = .02, .pc_format = .10, .sex_missing = .02,
             .withheld = .5},
    [GP] = {.typo_given = .008, .typo_family = .008, .nickname = .01, .nick_pref = .02,
            .former_used = .45, .former_col = .7, .rename_seen = .70, .swap = .002,
            .dbl_var = .10, .prefix_var = .05, .accent_drop = .1, .middle_drop = .1,
            .dob_missing = .002, .dob_swap = .004, .dob_typo = .005, .pc_missing = .005,
            .pc_old = .50, .pc_typo = .005, .pc_format = .02, .sex_missing = .003,
            .nhs_missing = .01, .nhs_typo = .005, .withheld = .3},
    [ASC] = {.typo_given = .02, .typo_family = .02, .nickname = .03, .nick_pref = .10,
             .former_used = .30, .rename_seen = .70, .swap = .01, .dbl_var = .20,
             .prefix_var = .15, .accent_drop = .3, .middle_drop = .4, .dob_missing = .02,
             .dob_jan1 = .005, .dob_swap = .015, .dob_typo = .015, .pc_missing = .02,
             .pc_old = .35, .pc_typo = .01, .pc_format = .05, .sex_missing = .005,
             .nhs_missing = .06, .nhs_typo = .02, .withheld = .5},
    [WMWA] = {.typo_given = .03, .typo_family = .03, .nickname = .12, .nick_pref = .60,
              .former_used = .15, .rename_seen = .90, .swap = .01, .dbl_var = .30,
              .prefix_var = .20, .accent_drop = .4, .middle_drop = .75, .dob_missing = .33,
              .dob_swap = .03, .dob_typo = .04, .pc_missing = .12, .pc_old = .25,
              .pc_typo = .02, .pc_format = .10, .sex_missing = .04, .case_var = .03,
              .title = .02, .withheld = .9, .name_only = .05},
    [MARAC] = {.typo_given = .03, .typo_family = .03, .nickname = .06, .nick_pref = .40,
               .former_used = .25, .rename_seen = .80, .swap = .01, .dbl_var = .30,
               .prefix_var = .20, .accent_drop = .5, .dob_missing = .03, .dob_jan1 = .005,
               .dob_swap = .02, .dob_typo = .03, .pc_missing = .05, .pc_old = .30,
               .pc_typo = .02, .pc_format = .05, .sex_missing = .01, .withheld = .8},
    [IDVA] = {.typo_given = .02, .typo_family = .02, .nickname = .08, .nick_pref = .50,
              .former_used = .15, .former_col = .6, .rename_seen = .90, .swap = .005,
              .dbl_var = .20, .prefix_var = .15, .accent_drop = .4, .dob_missing = .05,
              .dob_jan1 = .005, .dob_swap = .02, .dob_typo = .03, .pc_missing = .06,
              .pc_old = .30, .pc_typo = .01, .pc_format = .05, .sex_missing = .02,
              .case_var = .10, .withheld = .8},
    [HOUS] = {.typo_given = .03, .typo_family = .03, .nickname = .04, .nick_pref = .30,
              .former_used = .20, .former_col = .5, .rename_seen = .80, .swap = .01,
              .dbl_var = .30, .prefix_var = .20, .accent_drop = .2, .dob_missing = .03,
              .dob_jan1 = .01, .dob_swap = .02, .dob_typo = .03, .pc_missing = .02,
              .pc_old = .15, .pc_typo = .02, .pc_format = .05, .sex_missing = .02,
              .withheld = .6},
};

static double clamp01(double x)
{
    return x < 0 ? 0 : x > 1 ? 1 : x;
}

void synth_rates_scale(rates dst[NA], double lv)
{
    for (int a = 0; a < NA; a++) {
        const double *src = (const double *)&agency_rates[a];
        double *d = (double *)&dst[a];
        for (size_t i = 0; i < sizeof(rates) / sizeof(double); i++)
            d[i] = clamp01(src[i] * lv);
        /* An agency with a former-name column fills it when it knows the
         * name: not an error, so not scaled down to nothing. */
        dst[a].former_col = agency_rates[a].former_col;
    }
}

/* ---------------------------------------------------------------- text */

/* QWERTY neighbours, for substitution typos. */
static const char *const qwerty[26] = {
    "qwsz", "vghn", "xdfv", "serfcx", "wsdr", "drtgvc", "ftyhbv", "gyujnb", "ujko", "huikmn",
    "jiolm", "kop", "njk", "bhjm", "iklp", "ol", "wa", "edft", "awedxz", "rfgy", "yhji", "cfgb",
    "qase", "zsdc", "tghu", "asx",
};

/* One typing error: substitute, delete, insert or transpose, on ASCII
 * letters only (never splitting a UTF-8 sequence). */
static void typo(sbuf *b, synth_rng *r)
{
    size_t pos[192], np = 0;
    for (size_t i = 0; i < b->n; i++)
        if (is_alpha(b->s[i]))
            pos[np++] = i;
    if (np < 3)
        return;
    size_t i = pos[synth_below(r, np)];
    char c = b->s[i], lc = to_lower(c);
    switch (synth_below(r, 4)) {
    case 0: { /* substitute, mostly a neighbouring key */
        const char *nb = qwerty[lc - 'a'];
        char n = synth_chance(r, 0.8) ? nb[synth_below(r, strlen(nb))]
                                      : (char)('a' + synth_below(r, 26));
        if (n == lc)
            n = lc == 'e' ? 'a' : 'e';
        b->s[i] = is_upper(c) ? to_upper(n) : n;
        break;
    }
    case 1: /* delete */
        memmove(b->s + i, b->s + i + 1, b->n - i);
        b->n--;
        break;
    case 2: /* insert: a doubled letter or a neighbouring key */
        if (b->n + 1 < sizeof b->s) {
            const char *nb = qwerty[lc - 'a'];
            char n = synth_chance(r, 0.5) ? lc : nb[synth_below(r, strlen(nb))];
            memmove(b->s + i + 2, b->s + i + 1, b->n - i);
            b->s[i + 1] = n;
            b->n++;
        }
        break;
    default: { /* transpose with the next letter, keeping where the capitals are */
        size_t j = i + 1;
        if (j >= b->n || !is_alpha(b->s[j]) || to_lower(b->s[j]) == lc) {
            char n = lc == 'a' ? 'e' : 'a';
            b->s[i] = is_upper(c) ? to_upper(n) : n;
            break;
        }
        char d = b->s[j];
        b->s[i] = is_upper(c) ? to_upper(d) : to_lower(d);
        b->s[j] = is_upper(d) ? to_upper(c) : to_lower(c);
        break;
    }
    }
}

/* Mc/Mac/O' written another way. */
static void prefix_variant(sbuf *b, synth_rng *r)
{
    sbuf t;
    if (b->n > 3 && b->s[0] == 'O' && b->s[1] == '\'') {
        static const char *const form[] = {"O", "O ", "O'"};
        int k = (int)synth_below(r, 3);
        sb_set(&t, form[k]);
        sb_cat(&t, b->s + 2);
        if (k == 0 || k == 2) /* OBrien / Obrien, O'brien */
            t.s[k == 0 ? 1 : 2] = synth_chance(r, 0.5) ? to_lower(t.s[k == 0 ? 1 : 2])
                                                       : t.s[k == 0 ? 1 : 2];
        *b = t;
    } else if (b->n > 3 && b->s[0] == 'M' && b->s[1] == 'c' && is_upper(b->s[2])) {
        switch (synth_below(r, 3)) {
        case 0: b->s[2] = to_lower(b->s[2]); break; /* Mcleod */
        case 1: sb_set(&t, "Mc "); sb_cat(&t, b->s + 2); *b = t; break;
        default: sb_set(&t, "Mac"); sb_cat(&t, b->s + 2); *b = t; break;
        }
    } else if (b->n > 4 && !strncmp(b->s, "Mac", 3) && is_upper(b->s[3])) {
        switch (synth_below(r, 3)) {
        case 0: b->s[3] = to_lower(b->s[3]); break; /* Macleod */
        case 1: sb_set(&t, "Mac "); sb_cat(&t, b->s + 3); *b = t; break;
        default: sb_set(&t, "Mc"); sb_cat(&t, b->s + 3); *b = t; break;
        }
    }
}

/* ---------------------------------------------------------------- records */

/* Given name: accents kept or not, a nickname, a typo; the middle names
 * kept or dropped. */
static void record_given(const wye_synth *g, const rates *rt, const person *x, synth_rng *r,
                         record *rec)
{
    const char *gname = x->glist->names[x->given];
    if (x->accented && !synth_chance(r, rt->accent_drop))
        gname = x->glist->accent[x->given];
    if (x->nick && synth_chance(r, rt->nick_pref))
        gname = x->nick; /* the name they go by, where the agency writes it */
    else if (x->glist->nick_count[x->given] && synth_chance(r, rt->nickname))
        gname = g->lists.nick[x->glist->nick_start[x->given] +
                              synth_below(r, x->glist->nick_count[x->given])];
    sb_set(&rec->given, gname);
    if (synth_chance(r, rt->typo_given))
        typo(&rec->given, r);
    if (x->nmiddle && !synth_chance(r, rt->middle_drop)) {
        sb_set(&rec->middle, x->middle[0]);
        if (x->nmiddle > 1) {
            sb_cat(&rec->middle, " ");
            sb_cat(&rec->middle, x->middle[1]);
        }
    }
}

/* Family name: the current or the former one, written variously; the
 * other one in its own column where the agency keeps it. A person who left
 * a partner during the year (renamed) is known by the partner's name (former)
 * before that day and by their own (fam1) after it, when the agency follows
 * the change. */
static void record_family(const rates *rt, const person *x, synth_rng *r, record *rec)
{
    bool used_former, timeline = x->renamed && synth_chance(r, rt->rename_seen);
    if (timeline)
        used_former = rec->event_day < x->rename_day;
    else
        used_former = x->former && !x->renamed && synth_chance(r, rt->former_used);
    const char *other = used_former ? x->fam1 : x->former;
    if (used_former) {
        sb_set(&rec->family, x->former);
    } else if (x->fam2) {
        unsigned v = synth_chance(r, rt->dbl_var) ? (unsigned)synth_below(r, 3) + 1 : 0;
        sb_set(&rec->family, v == 3 ? x->fam2 : x->fam1);
        if (v == 0 || v == 1) {
            sb_cat(&rec->family, v == 0 ? "-" : " ");
            sb_cat(&rec->family, x->fam2);
        }
    } else {
        sb_set(&rec->family, x->fam1);
    }
    if (synth_chance(r, rt->prefix_var))
        prefix_variant(&rec->family, r);
    if (synth_chance(r, rt->typo_family))
        typo(&rec->family, r);
    /* The maiden name beside the partner's, or the partner's beside the
     * resumed one; a record in the former name alone otherwise. */
    if (other && (timeline || !used_former) && synth_chance(r, rt->former_col))
        sb_set(&rec->former, other);
}

static void set_from_days(record *rec, int64_t day)
{
    synth_civil_from_days(day, &rec->by, &rec->bm, &rec->bd);
}

/* Two neighbouring digits of DD MM YYYY swapped (13 -> 31, 1987 -> 1978,
 * 11/02 -> 10/12): the first of the candidates, from a random one, that
 * gives another valid date no later than the extract. 0 if none does. */
static int transpose_digits(const wye_synth *g, synth_rng *r, record *rec)
{
    char t[9];
    *put_digits(put_digits(put_digits(t, rec->bd, 2), rec->bm, 2),
                (unsigned)(rec->by < 0 ? 0 : rec->by % 10000), 4) = '\0';
    static const int at[] = {0, 1, 2, 6}; /* day, day-month, month, year's last two */
    const int n = (int)(sizeof at / sizeof at[0]), start = (int)synth_below(r, (uint64_t)n);
    for (int k = 0; k < n; k++) {
        int i = at[(start + k) % n];
        if (t[i] == t[i + 1])
            continue;
        char u[9];
        memcpy(u, t, sizeof u);
        u[i] = t[i + 1];
        u[i + 1] = t[i];
        unsigned d = (unsigned)(u[0] - '0') * 10 + (unsigned)(u[1] - '0'),
                 m = (unsigned)(u[2] - '0') * 10 + (unsigned)(u[3] - '0');
        int y = rec->by - rec->by % 100 + (u[6] - '0') * 10 + (u[7] - '0');
        if (m < 1 || m > 12 || d < 1 || d > synth_days_in_month(y, m) ||
            synth_days_from_civil(y, m, d) > g->eday)
            continue;
        rec->bd = d;
        rec->bm = m;
        rec->by = y;
        return 1;
    }
    return 0;
}

/* Date of birth: missing; only the year known (1 January); day and month
 * swapped; or mistyped: a year or a day out, two digits transposed, the
 * month out, the decade wrong. */
static void record_dob(const wye_synth *g, const rates *rt, const person *x, synth_rng *r,
                       record *rec)
{
    rec->by = x->by;
    rec->bm = x->bm;
    rec->bd = x->bd;
    if (synth_chance(r, rt->dob_missing)) {
        rec->dob_missing = true;
    } else if (synth_chance(r, rt->dob_jan1)) {
        rec->bm = rec->bd = 1;
    } else if (x->bd <= 12 && x->bd != x->bm && synth_chance(r, rt->dob_swap)) {
        rec->bm = x->bd;
        rec->bd = x->bm;
    } else if (synth_chance(r, rt->dob_typo)) {
        const int64_t day = synth_days_from_civil(x->by, x->bm, x->bd);
        double u = synth_uniform(r);
        if (u < 0.30) {
            rec->by += synth_chance(r, 0.5) ? 1 : -1;
        } else if (u < 0.55 || (u < 0.75 && !transpose_digits(g, r, rec))) {
            set_from_days(rec, day + (synth_chance(r, 0.5) ? 1 : -1));
        } else if (u >= 0.75 && u < 0.85) {
            rec->bm = rec->bm % 12 + 1;
        } else if (u >= 0.85) {
            rec->by += synth_chance(r, 0.5) ? 10 : -10;
        }
        unsigned dim = synth_days_in_month(rec->by, rec->bm);
        if (rec->bd > dim)
            rec->bd = dim;
    }
}

/* Postcode: withheld in a refuge, the previous one, missing, mistyped. */
static void record_postcode(const rates *rt, int a, const person *x, synth_rng *r, record *rec)
{
    const char *pc = x->pc[0];
    if (x->refuge && synth_chance(r, rt->withheld)) {
        rec->withheld = true;
        pc = x->moved && a != WMWA ? x->pc[1] : NULL;
    } else if (x->moved && synth_chance(r, rt->pc_old)) {
        pc = x->pc[1];
    }
    if (pc && synth_chance(r, rt->pc_missing))
        pc = NULL;
    if (!pc)
        return;
    sb_set(&rec->postcode, pc);
    if (synth_chance(r, rt->pc_typo)) {
        /* A character of the inward code mistyped or two swapped. */
        size_t sp = strcspn(rec->postcode.s, " ");
        char *in = rec->postcode.s + sp + 1;
        if (synth_chance(r, 0.5)) {
            char t = in[1];
            in[1] = in[2];
            in[2] = t;
            if (in[1] == in[2])
                in[0] = in[0] == '9' ? '0' : (char)(in[0] + 1);
        } else {
            in[0] = in[0] == '9' ? '0' : (char)(in[0] + 1);
        }
    }
    if (synth_chance(r, rt->pc_format)) {
        if (synth_chance(r, 0.5)) { /* no space */
            size_t sp = strcspn(rec->postcode.s, " ");
            memmove(rec->postcode.s + sp, rec->postcode.s + sp + 1, rec->postcode.n - sp);
            rec->postcode.n--;
        } else {
            sb_lower(&rec->postcode);
        }
    }
}

/* NHS number: missing, or mistyped so that it fails the modulus-11 check. */
static void record_nhs(const rates *rt, const person *x, synth_rng *r, record *rec)
{
    memcpy(rec->nhs, x->nhs, 11);
    rec->nhs_missing = synth_chance(r, rt->nhs_missing);
    if (!synth_chance(r, rt->nhs_typo))
        return;
    if (synth_chance(r, 0.5)) { /* one digit wrong */
        int i = (int)synth_below(r, 10);
        rec->nhs[i] = (char)('0' + (rec->nhs[i] - '0' + 1 + (int)synth_below(r, 9)) % 10);
    } else {
        /* Two neighbours swapped. They must differ, and not include the
         * check digit: a swap into it can pass the check by chance. */
        int i = (int)synth_below(r, 8);
        while (rec->nhs[i] == rec->nhs[i + 1] && i < 7)
            i++;
        if (rec->nhs[i] == rec->nhs[i + 1])
            rec->nhs[i] = rec->nhs[i] == '9' ? '0' : (char)(rec->nhs[i] + 1);
        else {
            char t = rec->nhs[i];
            rec->nhs[i] = rec->nhs[i + 1];
            rec->nhs[i + 1] = t;
        }
    }
}

void synth_make_record(const wye_synth *g, int a, const person *x, unsigned rep, record *rec)
{
    const rates *rt = &g->r[a];
    synth_rng r;
    synth_rng_init(&r, g->s.seed, STREAM_RECORD, x->id, (uint64_t)a << 8 | rep);
    memset(rec, 0, sizeof *rec);

    /* The draws are made in this order; changing it changes every record. */
    rec->event_day = g->eday - (int64_t)synth_below(&r, 365);
    record_given(g, rt, x, &r, rec);
    record_family(rt, x, &r, rec);
    if (synth_chance(&r, rt->swap)) {
        sbuf t = rec->given;
        rec->given = rec->family;
        rec->family = t;
    }
    record_dob(g, rt, x, &r, rec);
    rec->sex = x->sex;
    rec->sex_missing = synth_chance(&r, rt->sex_missing);
    record_postcode(rt, a, x, &r, rec);
    record_nhs(rt, x, &r, rec);
    if (synth_chance(&r, rt->name_only)) {
        rec->name_only = true;
        rec->dob_missing = true;
        rec->postcode.n = 0;
        rec->postcode.s[0] = '\0';
        rec->withheld = false;
        rec->nhs_missing = true;
        rec->sex_missing = false;
    }

    rec->choice = (unsigned)synth_below(&r, 1000);
    rec->choice2 = (unsigned)synth_below(&r, 1000);
    if (synth_chance(&r, rt->case_var))
        rec->choice2 += 1000; /* the layout writes the names in another case */
    if (synth_chance(&r, rt->title))
        rec->choice2 += 2000; /* the layout adds a title */
}
