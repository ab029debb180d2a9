/* Linking encoded files: reading and refusing files (each refusal names the
 * file), and `wyelink link` end to end: outputs, determinism for any thread
 * count and file order, small-count suppression, linkage of a small
 * population with known truth. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "wyelink/encfile.h"
#include "wyelink/keys.h"
#include "wyelink/linkage.h"
#include "wyelink/records.h"

static char dir[256];
static wye_protocol *proto;
static wye_party *police, *gp, *wmwa, *lu, *mallory;
static wye_trust *trust;
static const uint8_t key_id[WYE_KEY_ID_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8};
static const uint8_t other_key_id[WYE_KEY_ID_BYTES] = {8, 7, 6, 5, 4, 3, 2, 1};

static const char *path(const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* ---- a small population with known truth --------------------------------- */

static const char *givens[] = {"SARAH", "EMMA", "OLIVIA", "AMELIA", "JESSICA", "CHLOE",
                               "LAUREN", "HANNAH", "SOPHIE", "MEGAN", "GRACE", "ISLA",
                               "POPPY", "RUBY", "ELLIE", "FREYA", "AVA", "MIA", "LILY", "ZARA"};
static const char *families[] = {"SMITH", "JONES", "TAYLOR", "BROWN", "WILLIAMS", "WILSON",
                                 "JOHNSON", "DAVIES", "ROBINSON", "WRIGHT", "THOMPSON", "EVANS",
                                 "WALKER", "WHITE", "ROBERTS", "GREEN", "HALL", "WOOD", "JACKSON",
                                 "CLARKE"};
#define NPEOPLE 150

typedef struct person {
    char given[16], family[16], dob[9], postcode[9], nhs[11];
} person;

static person people[NPEOPLE];

static void make_people(void)
{
    uint64_t s = 7;
    for (int p = 0; p < NPEOPLE; p++) {
        s = fx_mix(s + 0x9e3779b97f4a7c15ull);
        snprintf(people[p].given, 16, "%s", givens[p % 20]);
        snprintf(people[p].family, 16, "%s", families[(p / 20 + p * 7) % 20]);
        snprintf(people[p].dob, 9, "19%02u%02u%02u", (unsigned)(50 + s % 50),
                 (unsigned)(1 + (s >> 8) % 12), (unsigned)(1 + (s >> 16) % 28));
        snprintf(people[p].postcode, 9, "HR%u %u%c%c", (unsigned)(1 + (s >> 24) % 9),
                 (unsigned)((s >> 28) % 10), 'A' + (int)((s >> 32) % 26),
                 'A' + (int)((s >> 40) % 26));
        snprintf(people[p].nhs, 11, "%010llu", (unsigned long long)((s >> 20) % 10000000000ull));
    }
}

/* Which people an agency holds, and how it records them. */
typedef struct agency_spec {
    const char *name;
    int from, to;       /* people [from, to) */
    int dup_every;      /* a second record of every n-th person (0 = none) */
    int typo_every;     /* a typo in the given name of every n-th person */
    bool no_dob, no_nhs;
} agency_spec;

static const agency_spec specs[] = {
    {"police", 0, 100, 15, 0, false, true},
    {"gp", 50, 150, 0, 10, false, false},
    {"wmwa", 80, 130, 0, 0, true, true},
};

static uint8_t *agency_records(const agency_spec *a, size_t *n, int *truth)
{
    const wye_layout *lay = wye_protocol_layout(proto);
    uint8_t *buf = calloc(300, lay->record_size);
    size_t k = 0;
    for (int p = a->from; p < a->to; p++) {
        for (int copy = 0; copy < ((a->dup_every && p % a->dup_every == 0) ? 2 : 1); copy++) {
            char given[20];
            snprintf(given, sizeof given, "%s", people[p].given);
            if (a->typo_every && p % a->typo_every == 0)
                given[1] = given[1] == 'X' ? 'Y' : 'X';
            fx_person fp = {given, NULL, people[p].family, NULL, a->no_dob ? NULL : people[p].dob,
                            "F", copy ? NULL : people[p].postcode,
                            a->no_nhs ? NULL : people[p].nhs};
            char id[32];
            snprintf(id, sizeof id, "%s-%d-%d", a->name, p, copy);
            fx_encode(proto, &fp, id, buf + k * lay->record_size);
            if (truth)
                truth[k] = p;
            k++;
        }
    }
    *n = k;
    return buf;
}

/* Write an encoded file of agency a's records, signed by signer, made at
 * `created` from an extract of `extract_date`. */
static void write_wye_dated(const char *file, const agency_spec *a, const wye_party *signer,
                            const uint8_t *kid, const uint8_t *fingerprint,
                            const char *extract_date, int64_t created)
{
    size_t n;
    uint8_t *recs = agency_records(a, &n, NULL);
    wye_encfile_meta m;
    memset(&m, 0, sizeof m);
    m.format_version = 1;
    if (fingerprint)
        memcpy(m.fingerprint, fingerprint, WYE_FINGERPRINT_BYTES);
    else
        wye_protocol_fingerprint(proto, m.fingerprint);
    memcpy(m.key_id, kid, WYE_KEY_ID_BYTES);
    snprintf(m.agency, sizeof m.agency, "%s", wye_party_public_part(signer)->name);
    m.created = created;
    snprintf(m.extract_date, sizeof m.extract_date, "%s", extract_date);
    m.record_size = (uint32_t)wye_protocol_layout(proto)->record_size;
    FILE *f = fopen(path(file), "wb");
    cr_assert(f);
    wye_encwriter *w;
    cr_assert_eq(wye_encwriter_open(wye_sink_file(f), &m, signer, wye_party_public_part(lu), &w),
                 WYE_OK);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(wye_encwriter_add(w, recs + i * m.record_size), WYE_OK);
    cr_assert_eq(wye_encwriter_close(w), WYE_OK);
    fclose(f);
    free(recs);
}

static void write_wye(const char *file, const agency_spec *a, const wye_party *signer,
                      const uint8_t *kid, const uint8_t *fingerprint)
{
    write_wye_dated(file, a, signer, kid, fingerprint, "2023-03-31", 1700000000);
}

static void save_party(const wye_party *p, const char *name, bool trusted)
{
    char k[64], pub[64];
    snprintf(k, sizeof k, "%s.key", name);
    snprintf(pub, sizeof pub, "%s/%s.pub", trusted ? "trust" : "untrusted", name);
    cr_assert_eq(wye_party_save(p, path(k), path(pub)), WYE_OK);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/wye-test-link-XXXXXX");
    cr_assert(mkdtemp(dir));
    cr_assert_eq(wye_crypto_init(), WYE_OK);
    proto = fx_default_protocol();
    cr_assert(proto);
    make_people();
    cr_assert_eq(wye_party_create("police", "agency", &police), WYE_OK);
    cr_assert_eq(wye_party_create("gp", "agency", &gp), WYE_OK);
    cr_assert_eq(wye_party_create("wmwa", "agency", &wmwa), WYE_OK);
    cr_assert_eq(wye_party_create("mallory", "agency", &mallory), WYE_OK);
    cr_assert_eq(wye_party_create("linkage-unit", "linkage-unit", &lu), WYE_OK);
    cr_assert_eq(mkdir(path("trust"), 0700), 0);
    cr_assert_eq(mkdir(path("untrusted"), 0700), 0);
    save_party(police, "police", true);
    save_party(gp, "gp", true);
    save_party(wmwa, "wmwa", true);
    save_party(mallory, "mallory", false);
    save_party(lu, "lu", false);
    cr_assert_eq(wye_trust_load_dir(path("trust"), &trust), WYE_OK);
    write_wye("police.wye", &specs[0], police, key_id, NULL);
    write_wye("gp.wye", &specs[1], gp, key_id, NULL);
    write_wye("wmwa.wye", &specs[2], wmwa, key_id, NULL);
}

static void teardown(void)
{
    wye_trust_free(trust);
    wye_party_free(police);
    wye_party_free(gp);
    wye_party_free(wmwa);
    wye_party_free(mallory);
    wye_party_free(lu);
    wye_protocol_free(proto);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(link, .init = setup, .fini = teardown, .timeout = 120);

static int read_file(const char *name, wye_recfile **out, wye_diag *d)
{
    FILE *f = fopen(path(name), "rb");
    cr_assert(f);
    int rc = wye_recfile_read(wye_source_file(f), name, proto, lu, trust, out, d);
    fclose(f);
    return rc;
}

Test(link, reads_files_into_one_set)
{
    wye_recset *s;
    cr_assert_eq(wye_recset_new(proto, NULL, &s), WYE_OK);
    const char *names[] = {"police.wye", "gp.wye", "wmwa.wye"};
    size_t total = 0;
    for (int i = 0; i < 3; i++) {
        wye_recfile *f;
        wye_diag d;
        cr_assert_eq(read_file(names[i], &f, &d), WYE_OK);
        size_t n;
        free(agency_records(&specs[i], &n, NULL));
        cr_assert_eq(wye_recfile_meta(f)->records, n);
        total += n;
        cr_assert_eq(wye_recset_add_file(s, f, &d), WYE_OK);
    }
    cr_assert_eq(wye_recset_finish(s, 2), WYE_OK);
    const wye_recview *v = wye_recset_view(s);
    cr_assert_eq(v->n, total);
    cr_assert_eq(v->nagencies, 3);
    cr_assert_str_eq(wye_recset_agency(s, 1), "gp");
    cr_assert_eq(memcmp(wye_recset_key_id(s), key_id, WYE_KEY_ID_BYTES), 0);
    /* slots start on cache lines; popcounts are those of the filters */
    cr_assert_eq(v->stride % 64, 0);
    const wye_layout *lay = v->layout;
    for (size_t i = 0; i < v->n; i += 17)
        cr_assert_eq(wye_rec_rpop(v, i),
                     wye_dice_popcount(v->kernel,
                                       (const uint64_t *)(const void *)(wye_rec(v, i) + lay->filter_off),
                                       lay->filter_bytes / 8));
    cr_assert_eq(wye_recset_add_file(s, NULL, NULL), WYE_EINVAL);
    /* each file's header and digest stay with the set */
    const wye_encfile_meta *m = wye_recset_meta(s, 1);
    cr_assert_not_null(m);
    cr_assert_str_eq(m->agency, "gp");
    cr_assert_str_eq(m->extract_date, "2023-03-31");
    cr_assert_eq(m->created, 1700000000);
    cr_assert_eq(memcmp(m->signer_pk, wye_party_public_part(gp)->sign_pk, WYE_SIGN_PK_BYTES), 0);
    uint8_t want[WYE_DIGEST_FILE_BYTES];
    cr_assert_eq(wye_file_digest(path("gp.wye"), want), WYE_OK);
    uint64_t bytes = 0;
    const uint8_t *dg = wye_recset_digest(s, 1, &bytes);
    cr_assert_not_null(dg);
    cr_assert_eq(memcmp(dg, want, sizeof want), 0, "the digest of the whole file");
    struct stat st;
    cr_assert_eq(stat(path("gp.wye"), &st), 0);
    cr_assert_eq(bytes, (uint64_t)st.st_size);
    cr_assert_null(wye_recset_meta(s, 3));
    cr_assert_null(wye_recset_digest(s, 3, NULL));
    wye_recset_free(s);
}

Test(link, refuses_a_file_of_another_protocol)
{
    uint8_t fp[WYE_FINGERPRINT_BYTES];
    wye_protocol_fingerprint(proto, fp);
    fp[5] ^= 0x40;
    write_wye("other-protocol.wye", &specs[1], gp, key_id, fp);
    wye_recfile *f;
    wye_diag d;
    cr_assert_eq(read_file("other-protocol.wye", &f, &d), WYE_EPROTOCOL);
    cr_assert(strstr(d.reason, "'other-protocol.wye'"), "%s", d.reason);
    cr_assert(strstr(d.reason, "fingerprint"), "%s", d.reason);
}

Test(link, refuses_a_file_of_another_linkage_secret)
{
    write_wye("other-secret.wye", &specs[1], gp, other_key_id, NULL);
    wye_recset *s;
    cr_assert_eq(wye_recset_new(proto, NULL, &s), WYE_OK);
    wye_recfile *f;
    wye_diag d;
    cr_assert_eq(read_file("police.wye", &f, &d), WYE_OK);
    cr_assert_eq(wye_recset_add_file(s, f, &d), WYE_OK);
    cr_assert_eq(read_file("other-secret.wye", &f, &d), WYE_OK);
    cr_assert_eq(wye_recset_add_file(s, f, &d), WYE_EKEYID);
    cr_assert(strstr(d.reason, "'other-secret.wye'") && strstr(d.reason, "'police.wye'"), "%s",
              d.reason);
    cr_assert(strstr(d.reason, "0807060504030201") && strstr(d.reason, "0102030405060708"),
              "%s", d.reason);
    wye_recset_free(s);
}

Test(link, refuses_an_untrusted_signer)
{
    agency_spec m = specs[1];
    m.name = "mallory";
    write_wye("mallory.wye", &m, mallory, key_id, NULL);
    wye_recfile *f;
    wye_diag d;
    cr_assert_eq(read_file("mallory.wye", &f, &d), WYE_EUNTRUSTED);
    cr_assert(strstr(d.reason, "'mallory.wye'"), "%s", d.reason);
}

Test(link, refuses_two_files_of_one_agency)
{
    wye_recset *s;
    cr_assert_eq(wye_recset_new(proto, NULL, &s), WYE_OK);
    wye_recfile *f;
    wye_diag d;
    cr_assert_eq(read_file("gp.wye", &f, &d), WYE_OK);
    cr_assert_eq(wye_recset_add_file(s, f, &d), WYE_OK);
    cr_assert_eq(read_file("gp.wye", &f, &d), WYE_OK);
    cr_assert_eq(wye_recset_add_file(s, f, &d), WYE_EDUPLICATE);
    cr_assert_str_eq(d.reason, "two inputs are from agency 'gp': 'gp.wye' and 'gp.wye'");
    cr_assert_eq(wye_recset_finish(s, 1), WYE_OK);
    cr_assert_eq(wye_recset_finish(s, 1), WYE_ESTATE);
    wye_recset_free(s);
}

/* ---- the command --------------------------------------------------------- */

static int run_link(const char *out, const char *extra, const char *files, const char *errfile)
{
    const char *exe = getenv("WYELINK");
    cr_assert(exe, "WYELINK is not set");
    const char *root = getenv("WYELINK_SOURCE_ROOT");
    char cmd[8192];
    /* the files were encoded under the fixture's protocol (fx_default_protocol) */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && '%s' link --key lu.key --trust trust --out '%s' --audit-log lu.log "
             "--protocol '%s/protocols/archive/wyelink-da-default-1.json' "
             "--quiet %s %s > /dev/null 2> '%s'",
             dir, exe, out, root ? root : ".", extra, files, errfile);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *p)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = 0;
    fclose(f);
    return b;
}

static void assert_same_file(const char *a, const char *b)
{
    char *x = slurp(path(a)), *y = slurp(path(b));
    cr_assert(x && y, "%s or %s missing", a, b);
    cr_assert_str_eq(x, y, "%s and %s differ", a, b);
    free(x);
    free(y);
}

Test(link, command_refuses_naming_the_file)
{
    uint8_t fp[WYE_FINGERPRINT_BYTES];
    wye_protocol_fingerprint(proto, fp);
    fp[0] ^= 1;
    write_wye("fp.wye", &specs[1], gp, key_id, fp);
    write_wye("kid.wye", &specs[1], gp, other_key_id, NULL);
    agency_spec m = specs[1];
    m.name = "mallory";
    write_wye("mallory.wye", &m, mallory, key_id, NULL);
    struct {
        const char *files, *want1, *want2;
    } cases[] = {
        {"police.wye fp.wye", "'fp.wye'", "fingerprint"},
        {"police.wye kid.wye", "'kid.wye'", "'police.wye'"},
        {"police.wye mallory.wye", "'mallory.wye'", wye_strerror(WYE_EUNTRUSTED)},
        {"police.wye gp.wye gp.wye", "two inputs are from agency 'gp': 'gp.wye' and 'gp.wye'",
         "\n"},
        {"police.wye missing.wye", "'missing.wye'", "No such file"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        cr_assert_eq(run_link("out", "", cases[c].files, "err.txt"), 1, "%s", cases[c].files);
        char *err = slurp(path("err.txt"));
        cr_assert(strstr(err, cases[c].want1) && strstr(err, cases[c].want2), "%s: %s",
                  cases[c].files, err);
        cr_assert(!strchr(err, '\n') || strchr(err, '\n')[1] == 0, "one line: %s", err);
        cr_assert_null(strstr(err, "refusing to overwrite"), "%s", err);
        free(err);
        /* nothing was written */
        cr_assert_eq(access(path("out/persons.csv"), F_OK), -1);
    }
    /* misuse (one file is not: command_deduplicates_one_file) */
    cr_assert_eq(run_link("out", "", "", "err.txt"), 2);
    cr_assert_eq(run_link("out", "--threshold x", "police.wye gp.wye", "err.txt"), 2);
    cr_assert_eq(run_link("out", "--threshold 5 --possible 9", "police.wye gp.wye", "err.txt"), 2);
}

/* Pairwise precision and recall of persons.csv against the truth. */
static void quality(const char *persons_csv, double *precision, double *recall)
{
    /* truth and pseudonyms, agency by agency, in file order */
    size_t total = 0;
    int truth[600];
    char pseudo[600][33];
    const wye_layout *lay = wye_protocol_layout(proto);
    for (int a = 0; a < 3; a++) {
        size_t n;
        uint8_t *r = agency_records(&specs[a], &n, truth + total);
        for (size_t i = 0; i < n; i++)
            wye_hex(r + i * lay->record_size + lay->pseudonym_off, 16, pseudo[total + i]);
        total += n;
        free(r);
    }
    int pred[600];
    FILE *f = fopen(persons_csv, "r");
    cr_assert(f);
    char line[256];
    cr_assert(fgets(line, sizeof line, f));
    cr_assert_str_eq(line, "agency,record,person\n");
    size_t rows = 0;
    while (fgets(line, sizeof line, f)) {
        char ag[32], rec[40];
        int person;
        cr_assert_eq(sscanf(line, "%31[^,],%39[^,],%d", ag, rec, &person), 3);
        size_t i;
        for (i = 0; i < total && strcmp(pseudo[i], rec); i++)
            ;
        cr_assert(i < total, "unknown record %s", rec);
        pred[i] = person;
        rows++;
    }
    fclose(f);
    cr_assert_eq(rows, total, "every record appears once");
    uint64_t tp = 0, pp = 0, tt = 0;
    for (size_t i = 0; i < total; i++)
        for (size_t j = i + 1; j < total; j++) {
            tt += truth[i] == truth[j];
            pp += pred[i] == pred[j];
            tp += truth[i] == truth[j] && pred[i] == pred[j];
        }
    *precision = pp ? (double)tp / (double)pp : 1.0;
    *recall = tt ? (double)tp / (double)tt : 1.0;
}

Test(link, command_links_deterministically)
{
    cr_assert_eq(run_link("t1", "--threads 1", "police.wye gp.wye wmwa.wye", "err1.txt"), 0);
    cr_assert_eq(run_link("t2", "--threads 2", "wmwa.wye police.wye gp.wye", "err2.txt"), 0);
    const char *outs[] = {"persons.csv", "pairs.csv", "summary.json"};
    for (int k = 0; k < 3; k++) {
        char a[64], b[64];
        snprintf(a, sizeof a, "t1/%s", outs[k]);
        snprintf(b, sizeof b, "t2/%s", outs[k]);
        assert_same_file(a, b);
    }
    double p, r;
    quality(path("t1/persons.csv"), &p, &r);
    cr_assert(p >= 0.99 && r >= 0.9, "precision %.3f recall %.3f", p, r);
    /* outputs are private, the audit log has the run */
    struct stat st;
    cr_assert_eq(stat(path("t1/persons.csv"), &st), 0);
    cr_assert_eq(st.st_mode & 077, 0);
    cr_assert_eq(stat(path("lu.log"), &st), 0);
    cr_assert(st.st_size > 0);
    char *sum = slurp(path("t1/summary.json"));
    cr_assert(strstr(sum, "\"records_total\": 255"), "%s", sum);
    cr_assert(strstr(sum, "\"match_chosen\": \"automatic\""));
    cr_assert(strstr(sum, "\"how\": \"EM over the"));
    cr_assert(strstr(sum, "\"<5\""), "small counts are suppressed");
    cr_assert(strstr(sum, "\"persons_by_attribute\": {"), "%s", sum);
    free(sum);
    /* with exact small counts, no "<5" */
    cr_assert_eq(run_link("t3", "--exact-small-counts --threshold 10 --possible 4",
                          "police.wye gp.wye wmwa.wye", "err3.txt"),
                 0);
    sum = slurp(path("t3/summary.json"));
    cr_assert(!strstr(sum, "\"<5\""), "%s", sum);
    cr_assert(strstr(sum, "\"match\": 10"), "%s", sum);
    cr_assert(strstr(sum, "\"match_chosen\": \"given\""));
    free(sum);
    char *pairs = slurp(path("t1/pairs.csv"));
    cr_assert(!strncmp(pairs, "agency_a,record_a,agency_b,record_b,score,decision\n", 51));
    cr_assert(strstr(pairs, ",match\n"));
    free(pairs);
}

/* One file: the agency's own records deduplicated; no file: a usage error. */
Test(link, command_deduplicates_one_file)
{
    cr_assert_eq(run_link("one", "", "police.wye", "err1.txt"), 0);
    size_t n;
    int truth[600];
    free(agency_records(&specs[0], &n, truth));
    int true_persons = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = truth[j] == truth[i];
        true_persons += !seen;
    }
    cr_assert_lt((size_t)true_persons, n, "the fixture has repeat records in one agency");
    /* every record once, and linked into about as many persons as there are */
    FILE *f = fopen(path("one/persons.csv"), "r");
    cr_assert(f);
    char line[256];
    size_t rows = 0;
    int persons[600], npersons = 0;
    cr_assert(fgets(line, sizeof line, f));
    while (fgets(line, sizeof line, f)) {
        char ag[32], rec[40];
        int person;
        cr_assert_eq(sscanf(line, "%31[^,],%39[^,],%d", ag, rec, &person), 3);
        cr_assert_str_eq(ag, "police");
        bool seen = false;
        for (int k = 0; k < npersons && !seen; k++)
            seen = persons[k] == person;
        if (!seen && npersons < 600)
            persons[npersons++] = person;
        rows++;
    }
    fclose(f);
    cr_assert_eq(rows, n);
    cr_assert(npersons < (int)n && npersons >= true_persons, "%d persons, %d true, %zu records",
              npersons, true_persons, n);
    cr_assert_eq(run_link("none", "", "", "err2.txt"), 2);
    char *err = slurp(path("err2.txt"));
    cr_assert(strstr(err, "give the encoded files to link"), "%s", err);
    free(err);
}

Test(link, exhaustive_finds_what_blocking_finds)
{
    cr_assert_eq(run_link("b", "", "police.wye gp.wye wmwa.wye", "err1.txt"), 0);
    cr_assert_eq(run_link("x", "--exhaustive", "police.wye gp.wye wmwa.wye", "err2.txt"), 0);
    double pb, rb, px, rx;
    quality(path("b/persons.csv"), &pb, &rb);
    quality(path("x/persons.csv"), &px, &rx);
    cr_assert(rx >= rb - 0.02, "exhaustive recall %.3f, blocked %.3f", rx, rb);
    char *sum = slurp(path("x/summary.json"));
    cr_assert(strstr(sum, "\"mode\": \"exhaustive\""));
    cr_assert(strstr(sum, "\"candidate_pairs\": 32896"), "all 257*256/2 pairs");
    free(sum);
}

/* ---- stopping a run ------------------------------------------------------- */

typedef struct stage_log {
    char seen[256];
    const char *stop_at; /* stage at which to ask to stop, or NULL */
    int calls_after_stop;
    bool stopped;
} stage_log;

static int log_stage(void *ctx, const char *stage, uint64_t done, uint64_t total)
{
    stage_log *g = ctx;
    (void)done;
    (void)total;
    if (g->stopped)
        g->calls_after_stop++;
    size_t n = strlen(g->seen);
    const char *last = strrchr(g->seen, ' ');
    if (!n || strcmp(last ? last + 1 : g->seen, stage))
        snprintf(g->seen + n, sizeof g->seen - n, "%s%s", n ? " " : "", stage);
    if (g->stop_at && !strcmp(stage, g->stop_at))
        g->stopped = true;
    return g->stopped;
}

static wye_recset *three_files(void)
{
    wye_recset *s;
    cr_assert_eq(wye_recset_new(proto, NULL, &s), WYE_OK);
    const char *names[] = {"police.wye", "gp.wye", "wmwa.wye"};
    for (int i = 0; i < 3; i++) {
        wye_recfile *f;
        wye_diag d;
        cr_assert_eq(read_file(names[i], &f, &d), WYE_OK);
        cr_assert_eq(wye_recset_add_file(s, f, &d), WYE_OK);
    }
    cr_assert_eq(wye_recset_finish(s, 2), WYE_OK);
    return s;
}

/* Every step reports its stage; a non-zero answer stops the run with
 * WYE_ECANCELLED and no result, at any stage. */
Test(link, progress_can_stop_the_run)
{
    wye_recset *s = three_files();
    wye_link_params lp;
    wye_link_default_params(&lp);
    lp.threads = 2;
    lp.progress = log_stage;
    stage_log all = {.stop_at = NULL};
    lp.progress_ctx = &all;
    wye_linkage *lk = NULL;
    wye_diag d;
    cr_assert_eq(wye_link_run(s, &lp, &lk, &d), WYE_OK);
    cr_assert_str_eq(all.seen, "blocking candidates model scoring clustering");
    wye_linkage_free(lk);
    const char *stages[] = {"blocking", "candidates", "model", "scoring", "clustering"};
    for (size_t k = 0; k < 5; k++) {
        stage_log g = {.stop_at = stages[k]};
        lp.progress_ctx = &g;
        lk = (wye_linkage *)1;
        cr_assert_eq(wye_link_run(s, &lp, &lk, &d), WYE_ECANCELLED, "%s", stages[k]);
        cr_assert_null(lk);
        cr_assert_leq(g.calls_after_stop, 1, "%s: stops at once", stages[k]);
        const char *last = strrchr(g.seen, ' ');
        cr_assert_str_eq(last ? last + 1 : g.seen, stages[k], "%s", g.seen);
    }
    wye_recset_free(s);
}

/* ---- replays and old extracts ---------------------------------------------- */

static char *last_line(const char *name)
{
    char *all = slurp(path(name));
    cr_assert(all);
    size_t n = strlen(all);
    while (n && all[n - 1] == '\n')
        all[--n] = 0;
    char *nl = strrchr(all, '\n');
    char *line = strdup(nl ? nl + 1 : all);
    free(all);
    return line;
}

/* Each input's extract date and creation time reach summary.json and the
 * audit entry; an extract more than a year older than the newest input is
 * named in a warning; an input an earlier link of the log read is named as
 * linked before. */
Test(link, command_records_and_checks_the_inputs)
{
    write_wye_dated("gp-2021.wye", &specs[1], gp, key_id, NULL, "2021-03-31", 1617235200);
    cr_assert_eq(run_link("o", "", "police.wye gp-2021.wye", "err.txt"), 0);
    char *err = slurp(path("err.txt"));
    cr_assert(strstr(err, "warning: 'gp-2021.wye' (agency 'gp') was extracted on 2021-03-31, "
                          "more than a year before the newest input ('police.wye'"),
              "%s", err);
    cr_assert_null(strstr(err, "linked before"), "%s", err);
    free(err);
    char *sum = slurp(path("o/summary.json"));
    uint8_t dg[WYE_DIGEST_FILE_BYTES];
    char hex[2 * WYE_DIGEST_FILE_BYTES + 1], want[512];
    cr_assert_eq(wye_file_digest(path("gp-2021.wye"), dg), WYE_OK);
    wye_hex(dg, sizeof dg, hex);
    char kid[17];
    wye_public_key_id(wye_party_public_part(gp), kid);
    snprintf(want,  sizeof want,
             "      \"agency\": \"gp\",\n      \"blake2b\": \"%s\",\n", hex);
    cr_assert(strstr(sum, want), "%s", sum);
    snprintf(want, sizeof want,
             "      \"signer_key_id\": \"%s\",\n      \"key_id\": \"0102030405060708\",\n"
             "      \"extract_date\": \"2021-03-31\",\n"
             "      \"created\": \"2021-04-01T00:00:00Z\"\n", kid);
    cr_assert(strstr(sum, want), "%s", sum);
    cr_assert(strstr(sum, "\"extract_date\": \"2023-03-31\",\n      \"created\": "
                          "\"2023-11-14T22:13:20Z\""), "%s", sum);
    free(sum);
    char *entry = last_line("lu.log");
    snprintf(want, sizeof want,
             "\"input.2\":\"agency=gp extract_date=2021-03-31 created=2021-04-01T00:00:00Z "
             "signer_key_id=%s\"", kid);
    cr_assert(strstr(entry, want), "%s", entry);
    cr_assert(strstr(entry, hex), "the entry has the same digest: %s", entry);
    free(entry);
    /* the same gp file again, with another police file: only gp was linked before */
    cr_assert_eq(run_link("o2", "", "wmwa.wye gp-2021.wye", "err.txt"), 0);
    err = slurp(path("err.txt"));
    cr_assert(strstr(err, "warning: 'gp-2021.wye' (agency 'gp') was linked before: entry 1 of "
                          "the audit log, at 20"),
              "%s", err);
    cr_assert_null(strstr(err, "'wmwa.wye' (agency 'wmwa') was linked before"), "%s", err);
    free(err);
    /* the same files again: one line says so */
    cr_assert_eq(run_link("o3", "", "wmwa.wye gp-2021.wye", "err.txt"), 0);
    err = slurp(path("err.txt"));
    cr_assert(strstr(err, "warning: all 2 inputs were linked before, together: entry 2 of the "
                          "audit log"),
              "%s", err);
    free(err);
    /* extracts of the same year: no warning */
    cr_assert_eq(run_link("o4", "", "police.wye gp.wye", "err.txt"), 0);
    err = slurp(path("err.txt"));
    cr_assert_null(strstr(err, "more than a year"), "%s", err);
    free(err);
}
