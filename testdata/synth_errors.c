/* The generator's errors (testdata/README.md, "The errors"): the rates of
 * error and variation by agency, and one record of a person as an agency
 * holds it, with those errors. Each record has its own random stream, keyed
 * by the person, the agency and the repeat, so the draws below happen in a
 * fixed order whatever the order of writing. */
#include <string.h>

#include "synth_internal.h"

/* Error and variation rates by agency, at error level 1. */
static const rates agency_rates[NA] = {
    [POL] = {.typo_given = .03, .typo_family = .03, .nickname = .10, .former_used = .35,
             .swap = .015, .dbl_var = .35, .prefix_var = .25, .accent_drop = .8,
             .middle_drop = .5, .dob_missing = .05, .dob_swap = .02, .dob_typo = .02,
             .pc_missing = .06, .pc_old = .40, .pc_typo = .02, .pc_format = .10,
             .sex_missing = .02, .withheld = .5},
    [GP] = {.typo_given = .008, .typo_family = .008, .nickname = .01, .former_used = .45,
            .former_col = .7, .swap = .002, .dbl_var = .10, .prefix_var = .05,
            .accent_drop = .1, .middle_drop = .1, .dob_missing = .002, .dob_swap = .003,
            .dob_typo = .003, .pc_missing = .005, .pc_old = .50, .pc_typo = .005,
            .pc_format = .02, .sex_missing = .003, .nhs_missing = .01, .nhs_typo = .005,
            .withheld = .3},
    [ASC] = {.typo_given = .02, .typo_family = .02, .nickname = .03, .former_used = .30,
             .swap = .01, .dbl_var = .20, .prefix_var = .15, .accent_drop = .3,
             .middle_drop = .4, .dob_missing = .01, .dob_swap = .01, .dob_typo = .01,
             .pc_missing = .02, .pc_old = .35, .pc_typo = .01, .pc_format = .05,
             .sex_missing = .005, .nhs_missing = .06, .nhs_typo = .02, .withheld = .5},
    [WMWA] = {.typo_given = .03, .typo_family = .03, .nickname = .12, .former_used = .15,
              .swap = .01, .dbl_var = .30, .prefix_var = .20, .accent_drop = .4,
              .middle_drop = .75, .dob_missing = .06, .dob_swap = .02, .dob_typo = .02,
              .pc_missing = .08, .pc_old = .25, .pc_typo = .02, .pc_format = .10,
              .sex_missing = .04, .case_var = .03, .title = .02, .withheld = .9},
    [MARAC] = {.typo_given = .03, .typo_family = .03, .nickname = .06, .former_used = .25,
               .swap = .01, .dbl_var = .30, .prefix_var = .20, .accent_drop = .5,
               .dob_missing = .03, .dob_swap = .02, .dob_typo = .01, .pc_missing = .05,
               .pc_old = .30, .pc_typo = .02, .pc_format = .05, .sex_missing = .01,
               .withheld = .8},
    [IDVA] = {.typo_given = .02, .typo_family = .02, .nickname = .08, .former_used = .15,
              .former_col = .6, .swap = .005, .dbl_var = .20, .prefix_var = .15,
              .accent_drop = .4, .dob_missing = .04, .dob_swap = .01, .dob_typo = .01,
              .pc_missing = .06, .pc_old = .30, .pc_typo = .01, .pc_format = .05,
              .sex_missing = .02, .case_var = .10, .withheld = .8},
    [HOUS] = {.typo_given = .03, .typo_family = .03, .nickname = .04, .former_used = .20,
              .former_col = .5, .swap = .01, .dbl_var = .30, .prefix_var = .20,
              .accent_drop = .2, .dob_missing = .03, .dob_swap = .02, .dob_typo = .02,
              .pc_missing = .02, .pc_old = .15, .pc_typo = .02, .pc_format = .05,
              .sex_missing = .02, .withheld = .6},
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
    if (x->glist->nick_count[x->given] && synth_chance(r, rt->nickname))
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
 * former one in its own column where the agency keeps it. */
static void record_family(const rates *rt, const person *x, synth_rng *r, record *rec)
{
    bool used_former = x->former && synth_chance(r, rt->former_used);
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
    if (x->former && !used_former && synth_chance(r, rt->former_col))
        sb_set(&rec->former, x->former);
}

/* Date of birth: missing, day and month swapped, or mistyped. */
static void record_dob(const rates *rt, const person *x, synth_rng *r, record *rec)
{
    rec->by = x->by;
    rec->bm = x->bm;
    rec->bd = x->bd;
    if (synth_chance(r, rt->dob_missing)) {
        rec->dob_missing = true;
    } else if (x->bd <= 12 && x->bd != x->bm && synth_chance(r, rt->dob_swap)) {
        rec->bm = x->bd;
        rec->bd = x->bm;
    } else if (synth_chance(r, rt->dob_typo)) {
        switch (synth_below(r, 4)) {
        case 0: rec->by += synth_chance(r, 0.5) ? 1 : -1; break;
        case 1: rec->by += synth_chance(r, 0.5) ? 10 : -10; break;
        case 2: rec->bm = rec->bm % 12 + 1; break;
        default: rec->bd = rec->bd % 28 + 1; break;
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
    record_given(g, rt, x, &r, rec);
    record_family(rt, x, &r, rec);
    if (synth_chance(&r, rt->swap)) {
        sbuf t = rec->given;
        rec->given = rec->family;
        rec->family = t;
    }
    record_dob(rt, x, &r, rec);
    rec->sex = x->sex;
    rec->sex_missing = synth_chance(&r, rt->sex_missing);
    record_postcode(rt, a, x, &r, rec);
    record_nhs(rt, x, &r, rec);

    rec->event_day = g->eday - (int64_t)synth_below(&r, 365);
    rec->choice = (unsigned)synth_below(&r, 1000);
    rec->choice2 = (unsigned)synth_below(&r, 1000);
    if (synth_chance(&r, rt->case_var))
        rec->choice2 += 1000; /* the layout writes the names in another case */
    if (synth_chance(&r, rt->title))
        rec->choice2 += 2000; /* the layout adds a title */
}
