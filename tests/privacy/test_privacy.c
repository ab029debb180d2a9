/* The privacy guard (issue 8; protocols/PRIVACY.md): small versions of both
 * attacks of bench/privacy on the shipped default protocol, over the test's
 * own synthetic data, and positive controls showing that the same attacks
 * do break an encoding known to be weak (so a broken attack cannot pass the
 * guard by finding nothing).
 *
 * Round 2 (field filters hardened) adds the best trade-off protocol of
 * PRIVACY.md section 4 and a positive control for field-filter salting.
 *
 * Data: `wyelink synth` seed 7, scale 0.15 (about 800 records of seven
 * agencies), read through the agencies' column maps and encoded with the
 * real encoder under a fixed test secret. The attacker's public sample is
 * seed 1007 at scale 0.3; its own secret is another fixed one. Nothing is
 * written but the secret files priv_secret_fixed makes and removes in a
 * fresh mkdtemp() folder; no value is printed (only shares). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "priv.h"
#include "wyelink/synth.h"

/* The guard's limits (PRIVACY.md, "The guard"), on the figures issue 8's
 * rule uses (PRIVACY.md section 1): attack 1, the share of records whose
 * given or family name it recovers; attack 2, the share of records matched
 * to their own person beyond the chance baseline. The bound is 0.5%. No
 * protocol measured meets the whole rule (PRIVACY.md, "The choice"), so each
 * limit below is the protocol's measured share on this data, rounded up: a
 * change that makes it easier to attack fails here. The parts that do meet
 * the bound (the exact digests and the postcode filter under attack 1) are
 * held to it. */
#define ISSUE8_BOUND 0.005
/* protocols/default.json (wyelink-da-default-2; re-measured after the switch from
 * wyelink-da-default-1: the same shares, as the synthetic extracts map no
 * address or other id) */
#define GUARD_FREQ_LIMIT 0.035 /* measured 0.0237 (given-name field filter) */
#define GUARD_GRAPH_LIMIT 0.80  /* measured 0.7042 (field filters, 100% overlap) */
/* The best trade-off of round 2 (PRIVACY.md section 4): field filters and
 * record-level filter salted with the year of birth and diffused (t = 8 and
 * t = 4). On the scale-1 data it meets the bound in attack 1 (0.17%) and in
 * graph matching at 50% overlap (0.48%), not at 100% overlap (3.76%); on
 * this small data the year groups are small, so the figures are higher. */
#define TRADEOFF "protocols/variants/fh-salt-diff8.r-salt-diff4.json"
#define TRADEOFF_FREQ_LIMIT 0.01   /* measured 0.0075 (given-name field filter) */
#define TRADEOFF_GRAPH_LIMIT 0.20  /* measured 0.1424 (record filter, 100% overlap) */

static wye_protocol *load(const char *rel)
{
    const char *root = getenv("WYELINK_SOURCE_ROOT");
    cr_assert(root, "WYELINK_SOURCE_ROOT is not set");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    wye_protocol *p = NULL;
    wye_diag d;
    cr_assert_eq(wye_protocol_load(path, &p, &d), WYE_OK, "%s: %s %s", rel, d.field, d.reason);
    return p;
}

typedef struct world {
    wye_protocol *p;
    wye_secret *secret, *mine;
    priv_public pub;
    priv_data E, S;
} world;

static void make_world(world *w, const char *protocol)
{
    memset(w, 0, sizeof *w);
    w->p = load(protocol);
    const char *root = getenv("WYELINK_SOURCE_ROOT");
    char names[4096];
    snprintf(names, sizeof names, "%s/testdata/names", root);
    cr_assert_eq(priv_public_load(names, &w->pub), WYE_OK);
    cr_assert_eq(priv_secret_fixed(0x10, &w->secret), WYE_OK);
    cr_assert_eq(priv_secret_fixed(0x77, &w->mine), WYE_OK);
    cr_assert_eq(priv_data_synth(w->p, 7, 0.15, WYE_SYNTH_ALL_AGENCIES, 0, &w->E), WYE_OK);
    cr_assert_gt(w->E.n, 700);
    cr_assert_eq(priv_data_encode(&w->E, w->secret), WYE_OK);
    cr_assert_eq(priv_data_synth(w->p, 1007, 0.3, WYE_SYNTH_ALL_AGENCIES, 1u << 30, &w->S),
                 WYE_OK);
}

static void free_world(world *w)
{
    priv_data_free(&w->E);
    priv_data_free(&w->S);
    priv_public_free(&w->pub);
    wye_secret_free(w->secret);
    wye_secret_free(w->mine);
    wye_protocol_free(w->p);
}

/* The worst share of records over the name targets of attack 1; *other
 * (may be NULL) gets the worst share of records whose value of a non-name
 * field (date of birth, postcode, NHS number) it recovers. */
static double freq_worst(world *w, char *which, size_t n, double *other)
{
    priv_freq_opts o;
    priv_freq_default_opts(&o);
    o.max_tokens = 150;
    priv_freq_report r;
    cr_assert_eq(priv_attack_freq(&w->E, &w->S, &w->pub, &o, &r), WYE_OK);
    double worst = 0;
    if (other)
        *other = 0;
    for (size_t k = 0; k < r.n; k++) {
        double s = priv_share(r.t[k].s.reid, r.t[k].s.records);
        if (!r.t[k].names) {
            if (other && s > *other)
                *other = s;
            continue;
        }
        if (s >= worst) {
            worst = s;
            snprintf(which, n, "%s", r.t[k].name);
        }
    }
    return worst;
}

/* Attack 2 with a plaintext population that holds `overlap` percent of the
 * encoded records (the rest from the attacker's sample). Returns the share
 * of records matched to their own person beyond the chance baseline (the
 * figure issue 8's rule is applied to, PRIVACY.md section 1); *names (may
 * be NULL) gets the share whose given or family name the match gets right. */
static double graph_full(world *w, int overlap, priv_sim sim, bool fields, double *names)
{
    size_t *ix = malloc(w->E.n * sizeof *ix), *jx = malloc(w->E.n * sizeof *jx);
    cr_assert(ix && jx);
    size_t m = 0, k = 0;
    uint64_t r = 99;
    for (size_t i = 0; i < w->E.n; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        if (overlap == 100 || (r >> 33) % 2 == 0)
            ix[m++] = i;
    }
    for (size_t j = 0; j < w->S.n && m + k < w->E.n; j++)
        jx[k++] = j;
    priv_data P;
    cr_assert_eq(priv_data_pick(&w->E, ix, m, &w->S, jx, k, &P), WYE_OK);
    free(ix);
    free(jx);
    priv_graph_opts o;
    priv_graph_default_opts(&o);
    o.sim = sim;
    o.attacker_secret = w->mine;
    o.fields = fields;
    o.threads = 2;
    priv_score s;
    int rc = priv_attack_graph(&w->E, &P, &o, &s);
    priv_data_free(&P);
    if (names)
        *names = 0;
    if (rc == WYE_ENOTFOUND)
        return 0; /* the protocol has no such filter to attack */
    cr_assert_eq(rc, WYE_OK, "graph attack: %s", wye_strerror(rc));
    cr_assert(s.graph);
    if (names)
        *names = priv_share(s.reid, s.records);
    double x = priv_share(s.ident, s.records) - s.chance_ident / (double)s.records;
    return x > 0 ? x : 0;
}

static double graph(world *w, int overlap, priv_sim sim, bool fields)
{
    return graph_full(w, overlap, sim, fields, NULL);
}

static double graph_worst(world *w, char *which, size_t n)
{
    double worst = 0;
    for (int fields = 0; fields < 2; fields++)
        for (int sim = PRIV_SIM_QGRAM; sim <= PRIV_SIM_REENCODE; sim++)
            for (int ov = 100; ov >= 50; ov -= 50) {
                double s = graph(w, ov, (priv_sim)sim, fields);
                if (s >= worst) {
                    worst = s;
                    snprintf(which, n, "%s, %s, %d%% overlap",
                             fields ? "field filters" : "record filter",
                             sim == PRIV_SIM_QGRAM ? "q-gram similarity" : "re-encoded", ov);
                }
            }
    return worst;
}

TestSuite(privacy, .timeout = 120);

/* Positive control: the unhardened encoding (the field filters and
 * record-level filter as stored without hardening) is broken by both
 * attacks. A wrong attack that finds nothing fails here. */
Test(privacy, attacks_break_the_unhardened_encoding)
{
    world w;
    make_world(&w, "protocols/variants/ff-none.json");
    char which[128];
    double f = freq_worst(&w, which, sizeof which, NULL);
    cr_expect_geq(f, 0.01, "frequency attack on unhardened field filters: %.4f (%s)", f, which);
    double g = graph(&w, 100, PRIV_SIM_QGRAM, false);
    cr_expect_geq(g, 0.5, "graph attack on the unhardened record-level filter: %.4f", g);
    free_world(&w);
}

/* Positive control for the salted, diffused record-level filter alone: no
 * frequency attack applies to it, and the graph attack is weaker there. */
Test(privacy, graph_attack_weaker_on_salted_diffused_filter)
{
    world w;
    make_world(&w, "protocols/variants/rec-salt-diff4.json");
    double g = graph(&w, 100, PRIV_SIM_QGRAM, false);
    world u;
    make_world(&u, "protocols/variants/rec-none.json");
    double gu = graph(&u, 100, PRIV_SIM_QGRAM, false);
    cr_expect_lt(g, gu / 2, "salted+diffused %.4f vs unhardened %.4f", g, gu);
    free_world(&w);
    free_world(&u);
}

/* The guard proper: the default protocol under attack 1. */
Test(privacy, default_frequency_and_pattern_mining)
{
    world w;
    make_world(&w, "protocols/default.json");
    char which[128] = "";
    double other = 1;
    double f = freq_worst(&w, which, sizeof which, &other);
    cr_log_info("attack 1: %.4f of records (%s)", f, which);
    cr_expect_leq(f, GUARD_FREQ_LIMIT, "attack 1 re-identified %.4f of records (%s); limit %.4f",
                  f, which, GUARD_FREQ_LIMIT);
    cr_expect_lt(other, ISSUE8_BOUND, "attack 1 recovered a date of birth, postcode or NHS "
                 "number of %.4f of records", other);
    free_world(&w);
}

/* The guard proper: the default protocol under attack 2. */
Test(privacy, default_graph_matching)
{
    world w;
    make_world(&w, "protocols/default.json");
    char which[128] = "";
    double g = graph_worst(&w, which, sizeof which);
    cr_log_info("attack 2: %.4f of records above chance (%s)", g, which);
    cr_expect_leq(g, GUARD_GRAPH_LIMIT, "attack 2 re-identified %.4f of records (%s); limit %.4f",
                  g, which, GUARD_GRAPH_LIMIT);
    free_world(&w);
}

/* Positive control for field-filter hardening: salting the field filters
 * with the year of birth takes frequency alignment from the unhardened
 * level to well under half of it, and salting plus diffusion at least
 * halves graph matching on the field filters. */
Test(privacy, field_salting_weakens_both_attacks)
{
    world u;
    make_world(&u, "protocols/variants/ff-none.json");
    char which[128];
    double fu = freq_worst(&u, which, sizeof which, NULL);
    double gu = graph(&u, 100, PRIV_SIM_REENCODE, true);
    free_world(&u);
    world w;
    make_world(&w, TRADEOFF);
    double f = freq_worst(&w, which, sizeof which, NULL);
    double g = graph(&w, 100, PRIV_SIM_REENCODE, true);
    free_world(&w);
    cr_expect_lt(f, fu / 2, "attack 1: salted %.4f vs unhardened %.4f", f, fu);
    cr_expect_lt(g, gu / 2, "attack 2 on field filters: hardened %.4f vs unhardened %.4f", g,
                 gu);
}

/* The best trade-off of round 2 under both attacks. */
Test(privacy, tradeoff_both_attacks)
{
    world w;
    make_world(&w, TRADEOFF);
    char wf[128] = "", wg[128] = "";
    double other = 1;
    double f = freq_worst(&w, wf, sizeof wf, &other);
    double g = graph_worst(&w, wg, sizeof wg);
    cr_log_info("trade-off: attack 1 %.4f (%s); attack 2 %.4f above chance (%s)", f, wf, g, wg);
    cr_expect_leq(f, TRADEOFF_FREQ_LIMIT, "attack 1 re-identified %.4f of records (%s)", f, wf);
    cr_expect_leq(g, TRADEOFF_GRAPH_LIMIT, "attack 2 re-identified %.4f of records (%s)", g, wg);
    cr_expect_lt(other, ISSUE8_BOUND, "attack 1 recovered a date of birth, postcode or NHS "
                 "number of %.4f of records", other);
    free_world(&w);
}
