/* The audit log: building, signing and appending entries, and streaming
 * verification (protocols/AUDIT.md is the spec; keep the two in step). */
#include "wyelink/audit.h"
#include "wyelink/version.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pwd.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES ((size_t)1 << 20) /* one entry line, without '\n' */
#define TAIL_WINDOW ((size_t)4 << 20)    /* how far back an appender looks */
#define VALUE_MAX 256                    /* a parameter value */
#define NAME_MAX_LEN 63                  /* parameter, count, command names */
#define PATH_MAX_LEN 4096
#define MAX_PARAMS 64
#define MAX_COUNTS 64
#define MAX_FILES 1024
#define HASH_BYTES 32
_Static_assert(HASH_BYTES == WYE_AUDIT_DIGEST_BYTES, "the digest the audit log records");
#define CODE_MIN (-999) /* outcome codes: WYE_E* are pinned and appended */
#define CANON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)

static const char sig_domain[] = "wyelink-audit-v1"; /* signed with its NUL */

struct wye_audit_entry {
    char command[NAME_MAX_LEN + 1];
    json_t *params;  /* object: name -> string */
    json_t *counts;  /* object: name -> integer */
    json_t *inputs;  /* array of {path, bytes, blake2b} */
    json_t *outputs;
    bool has_protocol;
    uint8_t fingerprint[WYE_FINGERPRINT_BYTES];
    uint8_t key_id[WYE_KEY_ID_BYTES];
    bool has_outcome;
    int outcome;
};

/* ---- names and values ------------------------------------------------ */

static bool name_ok(const char *s, bool spaces)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '.' || c == '-')
            continue;
        /* "keys create": single inner spaces only */
        if (spaces && c == ' ' && i > 0 && i + 1 < n && s[i + 1] != ' ')
            continue;
        return false;
    }
    return true;
}

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_b64(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/' || c == '_' || c == '-';
}

enum { CL_UPPER = 1, CL_LOWER = 2, CL_DIGIT = 4, CL_OTHER = 8 };

static int char_class(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? CL_UPPER
           : c >= 'a' && c <= 'z' ? CL_LOWER
           : c >= '0' && c <= '9' ? CL_DIGIT
                                  : CL_OTHER;
}

/* Whether s[0..n) holds what looks like encoded key material: a run of 32
 * or more hex digits, or of 43 or more base64 characters mixing upper case,
 * lower case and digits (AUDIT.md, "What an entry never holds"). */
static bool looks_like_key(const char *s, size_t n)
{
    size_t hexrun = 0, b64run = 0;
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        hexrun = is_hex(c) ? hexrun + 1 : 0;
        if (hexrun >= 32)
            return true;
        if (is_b64(c)) {
            b64run++;
            seen |= char_class(c);
            if (b64run >= 43 && (seen & 7) == 7)
                return true;
        } else {
            b64run = 0;
            seen = 0;
        }
    }
    return false;
}

/* Detectors of key material that the per-component rule misses, applied to
 * a maximal run r[0..n) of base64 characters, '/' included (a base64 key
 * holds '/' once in 64 characters, so it spans folders), followed by `pads`
 * '=' characters:
 * - a padded base64 encoding of 31 bytes or more: a stretch of the run that
 *   starts at its start or after a '/', of 42 or more characters mixing upper
 *   and lower case, whose length plus the padding is a multiple of 4
 *   (wyelink's keys and secrets are padded base64 of 32 and 64 bytes,
 *   libsodium's original variant, the one with '/');
 * - a stretch that looks random: 40 characters of the run (not counting '/')
 *   mixing upper and lower case, in which the changes of character class
 *   (upper, lower, digit, other) from one character to the next plus the
 *   number of distinct characters reach RANDOM_SCORE. Random base64 scores
 *   57 on average; names of folders and files (words, CamelCase, dates,
 *   mktemp's random characters between words) score 50 or less. */
#define RANDOM_WINDOW 40
#define RANDOM_SCORE 54
static bool padded_key(const char *r, size_t n, size_t pads)
{
    if (pads < 1 || pads > 2)
        return false;
    for (size_t i = 0; i + 42 <= n; i++) {
        if (i > 0 && r[i - 1] != '/')
            continue;
        int seen = 0;
        for (size_t j = i; j < n; j++)
            seen |= char_class((unsigned char)r[j]);
        if ((n - i + pads) % 4 == 0 && (seen & 3) == 3)
            return true;
    }
    return false;
}

static bool random_run(const char *r, size_t n)
{
    char w[RANDOM_WINDOW];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i] == '/')
            continue;
        if (k == RANDOM_WINDOW)
            memmove(w, w + 1, --k);
        w[k++] = r[i];
        if (k < RANDOM_WINDOW)
            continue;
        int changes = 0, seen = 0, ndistinct = 0;
        bool distinct[256] = {false};
        for (size_t j = 0; j < k; j++) {
            unsigned char c = (unsigned char)w[j];
            seen |= char_class(c);
            changes += j && char_class(c) != char_class((unsigned char)w[j - 1]);
            ndistinct += !distinct[c];
            distinct[c] = true;
        }
        if ((seen & 3) == 3 && changes + ndistinct >= RANDOM_SCORE)
            return true;
    }
    return false;
}

int wye_audit_path_is_secret(const char *path)
{
    if (!path)
        return 0;
    size_t n = strlen(path);
    for (const char *p = path; *p;) {
        size_t k = strcspn(p, "/");
        if (looks_like_key(p, k))
            return 1;
        p += k + (p[k] == '/');
    }
    if (n < 42)
        return 0;
    for (size_t i = 0; i < n;) {
        if (!is_b64((unsigned char)path[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && is_b64((unsigned char)path[j]))
            j++;
        size_t pads = 0;
        while (j + pads < n && path[j + pads] == '=')
            pads++;
        if (j - i >= 42 && (padded_key(path + i, j - i, pads) || random_run(path + i, j - i)))
            return 1;
        i = j;
    }
    return 0;
}

/* Short enough, no control characters. */
static bool printable(const char *v, size_t n)
{
    if (n > VALUE_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return false;
    return true;
}

static bool value_ok(const char *v)
{
    size_t n = strlen(v);
    return printable(v, n) && !looks_like_key(v, n);
}

/* A path: wye_audit_path_is_secret, the one detector for paths. */
static bool path_ok(const char *v)
{
    return printable(v, strlen(v)) && !wye_audit_path_is_secret(v);
}

/* ---- building an entry ----------------------------------------------- */

int wye_audit_entry_new(const char *command, wye_audit_entry **out)
{
    if (!out)
        return WYE_EINVAL;
    *out = NULL;
    if (!command || !name_ok(command, true))
        return WYE_EINVAL;
    wye_audit_entry *e = calloc(1, sizeof *e);
    if (!e)
        return WYE_ENOMEM;
    snprintf(e->command, sizeof e->command, "%s", command);
    e->params = json_object();
    e->counts = json_object();
    e->inputs = json_array();
    e->outputs = json_array();
    if (!e->params || !e->counts || !e->inputs || !e->outputs) {
        wye_audit_entry_free(e);
        return WYE_ENOMEM;
    }
    *out = e;
    return WYE_OK;
}

void wye_audit_entry_free(wye_audit_entry *e)
{
    if (!e)
        return;
    json_decref(e->params);
    json_decref(e->counts);
    json_decref(e->inputs);
    json_decref(e->outputs);
    free(e);
}

static int set_param(wye_audit_entry *e, const char *name, const char *value)
{
    if (!json_object_get(e->params, name) && json_object_size(e->params) >= MAX_PARAMS)
        return WYE_ERANGE;
    json_t *s = json_string(value);
    if (!s)
        return WYE_EUTF8; /* jansson refuses invalid UTF-8 */
    return json_object_set_new(e->params, name, s) ? WYE_ENOMEM : WYE_OK;
}

int wye_audit_entry_param(wye_audit_entry *e, const char *name, const char *value)
{
    if (!e || !name || !value || !name_ok(name, false) || !value_ok(value))
        return WYE_EINVAL;
    return set_param(e, name, value);
}

int wye_audit_entry_path(wye_audit_entry *e, const char *name, const char *path)
{
    if (!e || !name || !path || !name_ok(name, false) || !path_ok(path))
        return WYE_EINVAL;
    return set_param(e, name, path);
}

int wye_audit_entry_count(wye_audit_entry *e, const char *name, uint64_t n)
{
    if (!e || !name || !name_ok(name, false))
        return WYE_EINVAL;
    if (n > (uint64_t)INT64_MAX)
        return WYE_ERANGE;
    if (!json_object_get(e->counts, name) && json_object_size(e->counts) >= MAX_COUNTS)
        return WYE_ERANGE;
    json_t *v = json_integer((json_int_t)n);
    if (!v)
        return WYE_ENOMEM;
    return json_object_set_new(e->counts, name, v) ? WYE_ENOMEM : WYE_OK;
}

/* BLAKE2b-256 and size of a whole file, streamed. */
static int digest_file(const char *path, uint8_t out[HASH_BYTES], uint64_t *bytes)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? WYE_ENOTFOUND : WYE_EIO;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, HASH_BYTES);
    uint8_t buf[65536];
    size_t got;
    uint64_t total = 0;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        crypto_generichash_update(&st, buf, got);
        total += got;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return WYE_EIO;
    crypto_generichash_final(&st, out, HASH_BYTES);
    *bytes = total;
    return WYE_OK;
}

static int add_digest(json_t *list, const char *path, uint64_t bytes,
                      const uint8_t d[HASH_BYTES])
{
    if (!path || !*path || !d)
        return WYE_EINVAL;
    if (strlen(path) > PATH_MAX_LEN || json_array_size(list) >= MAX_FILES)
        return WYE_ERANGE;
    if (bytes > (uint64_t)INT64_MAX)
        return WYE_ERANGE;
    json_t *p = json_string(path);
    if (!p)
        return WYE_EUTF8;
    char hex[2 * HASH_BYTES + 1];
    wye_hex(d, HASH_BYTES, hex);
    json_t *o = json_pack("{s:o, s:I, s:s}", "path", p, "bytes", (json_int_t)bytes,
                          "blake2b", hex);
    if (!o || json_array_append_new(list, o))
        return WYE_ENOMEM;
    return WYE_OK;
}

static int add_file(json_t *list, const char *path)
{
    if (!path || !*path)
        return WYE_EINVAL;
    if (strlen(path) > PATH_MAX_LEN || json_array_size(list) >= MAX_FILES)
        return WYE_ERANGE;
    uint8_t d[HASH_BYTES];
    uint64_t bytes = 0;
    int rc = digest_file(path, d, &bytes);
    return rc != WYE_OK ? rc : add_digest(list, path, bytes, d);
}

int wye_audit_entry_input(wye_audit_entry *e, const char *path)
{
    return e ? add_file(e->inputs, path) : WYE_EINVAL;
}

int wye_audit_entry_output(wye_audit_entry *e, const char *path)
{
    return e ? add_file(e->outputs, path) : WYE_EINVAL;
}

int wye_audit_entry_input_digest(wye_audit_entry *e, const char *path, uint64_t bytes,
                                 const uint8_t digest[WYE_AUDIT_DIGEST_BYTES])
{
    return e ? add_digest(e->inputs, path, bytes, digest) : WYE_EINVAL;
}

int wye_audit_entry_output_digest(wye_audit_entry *e, const char *path, uint64_t bytes,
                                  const uint8_t digest[WYE_AUDIT_DIGEST_BYTES])
{
    return e ? add_digest(e->outputs, path, bytes, digest) : WYE_EINVAL;
}

int wye_audit_entry_protocol(wye_audit_entry *e,
                             const uint8_t fingerprint[WYE_FINGERPRINT_BYTES],
                             const uint8_t key_id[WYE_KEY_ID_BYTES])
{
    if (!e || !fingerprint || !key_id)
        return WYE_EINVAL;
    memcpy(e->fingerprint, fingerprint, WYE_FINGERPRINT_BYTES);
    memcpy(e->key_id, key_id, WYE_KEY_ID_BYTES);
    e->has_protocol = true;
    return WYE_OK;
}

void wye_audit_entry_outcome(wye_audit_entry *e, int code)
{
    if (!e)
        return;
    e->outcome = code;
    e->has_outcome = true;
}

/* ---- checking one line ------------------------------------------------ */

/* What a checked entry says, for chaining. */
typedef struct entry_info {
    uint64_t seq;
    uint8_t prev[HASH_BYTES];
    uint8_t pk[WYE_SIGN_PK_BYTES];
    bool recovered;
    uint64_t rec_bytes;
    uint8_t rec_hash[HASH_BYTES];
} entry_info;

static bool unhex(const char *s, size_t nbytes, uint8_t *out)
{
    if (strlen(s) != 2 * nbytes)
        return false;
    for (size_t i = 0; i < 2 * nbytes; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    size_t got = 0;
    return sodium_hex2bin(out, nbytes, s, 2 * nbytes, NULL, &got, NULL) == 0 && got == nbytes;
}

static bool hex_member(json_t *o, const char *key, size_t nbytes, uint8_t *out)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) && unhex(json_string_value(v), nbytes, out);
}

static bool int_member(json_t *o, const char *key, json_int_t min, json_int_t max,
                       json_int_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        return false;
    json_int_t x = json_integer_value(v);
    if (x < min || x > max)
        return false;
    if (out)
        *out = x;
    return true;
}

static bool str_member(json_t *o, const char *key, size_t max)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) && json_string_length(v) <= max &&
           strlen(json_string_value(v)) == json_string_length(v);
}

/* o has exactly the n keys listed (plus the optional one, if not NULL). */
static bool exact_keys(json_t *o, const char *const *keys, size_t n, const char *optional)
{
    if (!json_is_object(o))
        return false;
    size_t want = n;
    if (optional && json_object_get(o, optional))
        want++;
    if (json_object_size(o) != want)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!json_object_get(o, keys[i]))
            return false;
    return true;
}

static bool time_ok(const char *t)
{
    static const char pat[] = "dddd-dd-ddTdd:dd:ddZ";
    if (strlen(t) != sizeof pat - 1)
        return false;
    for (size_t i = 0; pat[i]; i++)
        if (pat[i] == 'd' ? !(t[i] >= '0' && t[i] <= '9') : t[i] != pat[i])
            return false;
    return true;
}

static bool files_ok(json_t *a)
{
    static const char *const keys[] = {"path", "bytes", "blake2b"};
    uint8_t d[HASH_BYTES];
    if (!json_is_array(a) || json_array_size(a) > MAX_FILES)
        return false;
    size_t i;
    json_t *f;
    json_array_foreach(a, i, f)
    {
        if (!exact_keys(f, keys, 3, NULL) || !str_member(f, "path", PATH_MAX_LEN) ||
            !int_member(f, "bytes", 0, INT64_MAX, NULL) || !hex_member(f, "blake2b", HASH_BYTES, d))
            return false;
    }
    return true;
}

static bool named_ok(json_t *o, size_t max, bool integers)
{
    if (!json_is_object(o) || json_object_size(o) > max)
        return false;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (!name_ok(k, false))
            return false;
        if (integers ? !(json_is_integer(v) && json_integer_value(v) >= 0)
                     : !(json_is_string(v) && json_string_length(v) <= VALUE_MAX))
            return false;
    }
    return true;
}

/* The schema of AUDIT.md, without the signature check. */
static const char *schema_error(json_t *o, entry_info *info)
{
    static const char *const keys[] = {"v", "seq", "time", "user", "host", "version",
                                       "command", "params", "protocol", "key_id",
                                       "inputs", "outputs", "counts", "outcome",
                                       "signer", "prev", "sig"};
    static const char *const outcome_keys[] = {"code", "message"};
    static const char *const signer_keys[] = {"name", "role", "pk"};
    static const char *const rec_keys[] = {"bytes", "blake2b"};
    uint8_t buf[HASH_BYTES];
    json_int_t x;
    if (!json_is_object(o))
        return "not a JSON object";
    if (!int_member(o, "v", 1, 1, NULL))
        return json_is_integer(json_object_get(o, "v")) ? "unknown entry format version"
                                                        : "member 'v' missing or not a number";
    if (!exact_keys(o, keys, sizeof keys / sizeof keys[0], "recovered"))
        return "members missing or unknown";
    if (!int_member(o, "seq", 1, INT64_MAX, &x))
        return "member 'seq' is not a positive integer";
    info->seq = (uint64_t)x;
    json_t *t = json_object_get(o, "time");
    if (!json_is_string(t) || !time_ok(json_string_value(t)))
        return "member 'time' is not a UTC time";
    if (!str_member(o, "user", VALUE_MAX) || !str_member(o, "host", VALUE_MAX) ||
        !str_member(o, "version", VALUE_MAX))
        return "member 'user', 'host' or 'version' is not a short string";
    json_t *c = json_object_get(o, "command");
    if (!json_is_string(c) || !name_ok(json_string_value(c), true))
        return "member 'command' is not a command name";
    if (!named_ok(json_object_get(o, "params"), MAX_PARAMS, false))
        return "member 'params' is malformed";
    if (!named_ok(json_object_get(o, "counts"), MAX_COUNTS, true))
        return "member 'counts' is malformed";
    json_t *p = json_object_get(o, "protocol"), *k = json_object_get(o, "key_id");
    if (!(json_is_null(p) && json_is_null(k)) &&
        !(hex_member(o, "protocol", WYE_FINGERPRINT_BYTES, buf) &&
          hex_member(o, "key_id", WYE_KEY_ID_BYTES, buf)))
        return "member 'protocol' or 'key_id' is malformed";
    if (!files_ok(json_object_get(o, "inputs")) || !files_ok(json_object_get(o, "outputs")))
        return "member 'inputs' or 'outputs' is malformed";
    json_t *oc = json_object_get(o, "outcome");
    if (!exact_keys(oc, outcome_keys, 2, NULL) || !int_member(oc, "code", CODE_MIN, 0, NULL) ||
        !str_member(oc, "message", 128))
        return "member 'outcome' is malformed";
    json_t *s = json_object_get(o, "signer");
    if (!exact_keys(s, signer_keys, 3, NULL) || !str_member(s, "name", WYE_PARTY_NAME_MAX - 1) ||
        !str_member(s, "role", WYE_ROLE_MAX - 1) || !hex_member(s, "pk", WYE_SIGN_PK_BYTES, info->pk))
        return "member 'signer' is malformed";
    if (!hex_member(o, "prev", HASH_BYTES, info->prev))
        return "member 'prev' is malformed";
    uint8_t sig[crypto_sign_BYTES];
    if (!hex_member(o, "sig", crypto_sign_BYTES, sig))
        return "member 'sig' is malformed";
    json_t *r = json_object_get(o, "recovered");
    info->recovered = r != NULL;
    if (r) {
        if (!exact_keys(r, rec_keys, 2, NULL) || !int_member(r, "bytes", 1, INT64_MAX, &x) ||
            !hex_member(r, "blake2b", HASH_BYTES, info->rec_hash))
            return "member 'recovered' is malformed";
        info->rec_bytes = (uint64_t)x;
    }
    return NULL;
}

/* The bytes an entry's signature covers: domain, NUL, canonical(entry - sig).
 * Consumes nothing; o keeps its "sig". */
static int signed_message(json_t *o, unsigned char **msg, size_t *len)
{
    json_t *u = json_copy(o);
    if (!u)
        return WYE_ENOMEM;
    json_object_del(u, "sig");
    char *c = json_dumps(u, CANON_FLAGS);
    json_decref(u);
    if (!c)
        return WYE_ENOMEM;
    size_t n = strlen(c);
    unsigned char *m = malloc(sizeof sig_domain + n);
    if (!m) {
        free(c);
        return WYE_ENOMEM;
    }
    memcpy(m, sig_domain, sizeof sig_domain);
    memcpy(m + sizeof sig_domain, c, n);
    free(c);
    *msg = m;
    *len = sizeof sig_domain + n;
    return WYE_OK;
}

enum line_kind {
    LINE_ENTRY,    /* a valid entry (signature by its own signer checked) */
    LINE_FRAGMENT, /* a JSON prefix: possibly left by an interrupted write */
    LINE_BAD,      /* a whole line that is not a valid entry */
    LINE_NOMEM,
};

/* Classify one line (without its '\n'). For LINE_BAD, *why says why. */
static enum line_kind check_line(const char *line, size_t len, entry_info *info,
                                 const char **why)
{
    *why = NULL;
    if (len > LINE_MAX_BYTES) {
        *why = "line is longer than 1 MiB";
        return LINE_BAD;
    }
    json_error_t err;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
    if (!o) {
        /* A proper prefix of an entry ends early, or at least not with the
         * entry's closing brace; anything else is a damaged line. */
        if (json_error_code(&err) == json_error_premature_end_of_input ||
            len == 0 || line[len - 1] != '}')
            return LINE_FRAGMENT;
        *why = "not valid JSON";
        return LINE_BAD;
    }
    enum line_kind kind = LINE_BAD;
    memset(info, 0, sizeof *info);
    char *canon = NULL;
    unsigned char *msg = NULL;
    size_t msglen = 0;
    uint8_t sig[crypto_sign_BYTES];
    if ((*why = schema_error(o, info)))
        goto out;
    if (!(canon = json_dumps(o, CANON_FLAGS)) || signed_message(o, &msg, &msglen) != WYE_OK) {
        kind = LINE_NOMEM;
        goto out;
    }
    if (strlen(canon) != len || memcmp(canon, line, len) != 0) {
        *why = "not in canonical form";
        goto out;
    }
    hex_member(o, "sig", sizeof sig, sig);
    if (crypto_sign_verify_detached(sig, msg, msglen, info->pk) != 0) {
        *why = "signature does not verify";
        goto out;
    }
    kind = LINE_ENTRY;
out:
    free(canon);
    free(msg);
    json_decref(o);
    return kind;
}

/* ---- verification ------------------------------------------------------ */

typedef struct line_reader {
    wye_source src;
    uint8_t buf[65536];
    size_t pos, end;
    bool eof;
    int err;
    char *line; /* the current line, up to LINE_MAX_BYTES + 1 kept */
    size_t cap;
} line_reader;

/* Next line: 1 with *len (bytes kept, at most LINE_MAX_BYTES + 1: longer
 * lines are cut there, which is enough to refuse them) and *terminated; 0 at
 * the end; negative on a read error. */
static int next_line(line_reader *r, size_t *len, bool *terminated)
{
    size_t n = 0;
    uint64_t t = 0;
    for (;;) {
        if (r->pos == r->end) {
            if (r->eof)
                break;
            ssize_t got = r->src.read(r->src.ctx, r->buf, sizeof r->buf);
            if (got < 0)
                return r->err = (int)got;
            if (got == 0) {
                r->eof = true;
                break;
            }
            r->pos = 0;
            r->end = (size_t)got;
        }
        uint8_t *start = r->buf + r->pos;
        uint8_t *nl = memchr(start, '\n', r->end - r->pos);
        size_t take = nl ? (size_t)(nl - start) : r->end - r->pos;
        size_t keep = take;
        if (n + keep > LINE_MAX_BYTES + 1)
            keep = LINE_MAX_BYTES + 1 - n;
        if (keep) {
            if (n + keep > r->cap) {
                size_t cap = r->cap ? r->cap : 4096;
                while (cap < n + keep)
                    cap *= 2;
                char *p = realloc(r->line, cap);
                if (!p)
                    return r->err = WYE_ENOMEM;
                r->line = p;
                r->cap = cap;
            }
            memcpy(r->line + n, start, keep);
            n += keep;
        }
        t += take;
        r->pos += take + (nl ? 1 : 0);
        if (nl) {
            *len = n;
            *terminated = true;
            return 1;
        }
    }
    if (t == 0)
        return 0;
    *len = n;
    *terminated = false;
    return 1;
}

static int bad(wye_audit_result *res, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(wye_audit_result *res, uint64_t line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    res->first_bad = line;
    int n = snprintf(res->reason, sizeof res->reason, "line %llu: ", (unsigned long long)line);
    if (n > 0 && (size_t)n < sizeof res->reason)
        vsnprintf(res->reason + n, sizeof res->reason - (size_t)n, fmt, ap);
    va_end(ap);
    return WYE_EAUDIT;
}

int wye_audit_verify(wye_source source, const uint8_t sign_pk[WYE_SIGN_PK_BYTES],
                     wye_audit_result *res)
{
    if (!res || !sign_pk || !source.read)
        return WYE_EINVAL;
    memset(res, 0, sizeof *res);
    if (sodium_init() < 0)
        return WYE_ECRYPTO;
    line_reader *r = calloc(1, sizeof *r);
    if (!r)
        return WYE_ENOMEM;
    r->src = source;
    r->cap = 4096;
    if (!(r->line = malloc(r->cap))) {
        free(r);
        return WYE_ENOMEM;
    }
    uint8_t prev[HASH_BYTES] = {0}; /* genesis */
    uint64_t lineno = 0, expected = 1;
    /* Fragments since the last entry: where they start, their digest. */
    uint64_t frag_line = 0, frag_bytes = 0, recoveries = 0, first_recovery = 0;
    crypto_generichash_state frag;
    int rc = WYE_OK;
    size_t len = 0;
    bool term = false;
    int got;
    while ((got = next_line(r, &len, &term)) == 1) {
        lineno++;
        if (!term) {
            res->truncated_tail = 1;
            break;
        }
        entry_info info;
        const char *why;
        enum line_kind k = check_line(r->line, len, &info, &why);
        if (k == LINE_NOMEM) {
            rc = WYE_ENOMEM;
            goto done;
        }
        if (k == LINE_FRAGMENT) {
            if (!frag_line) {
                frag_line = lineno;
                frag_bytes = 0;
                crypto_generichash_init(&frag, NULL, 0, HASH_BYTES);
            }
            crypto_generichash_update(&frag, (const unsigned char *)r->line, len);
            crypto_generichash_update(&frag, (const unsigned char *)"\n", 1);
            frag_bytes += len + 1;
            continue;
        }
        /* Lines that are JSON: a bad entry here is tampering, not a crash;
         * but fragments before it are the first thing out of place. */
        if (frag_line && (k == LINE_BAD || !info.recovered)) {
            rc = bad(res, frag_line, "not a whole entry, and the next entry does not record it");
            goto done;
        }
        if (k == LINE_BAD) {
            rc = bad(res, lineno, "%s", why);
            goto done;
        }
        if (sodium_memcmp(info.pk, sign_pk, WYE_SIGN_PK_BYTES) != 0) {
            /* The key id as KEYS.md defines it (keys show prints it), not
             * a prefix of the public key. */
            wye_party_public other = {0};
            char id[17];
            memcpy(other.sign_pk, info.pk, WYE_SIGN_PK_BYTES);
            wye_public_key_id(&other, id);
            if (res->entries == 0)
                res->other_owner = 1;
            rc = bad(res, lineno, "signed by another key (key id %s)", id);
            goto done;
        }
        if (info.recovered) {
            uint8_t h[HASH_BYTES];
            if (!frag_line) {
                rc = bad(res, lineno, "records skipped bytes that are not there");
                goto done;
            }
            crypto_generichash_final(&frag, h, HASH_BYTES);
            if (info.rec_bytes != frag_bytes || sodium_memcmp(h, info.rec_hash, HASH_BYTES)) {
                rc = bad(res, frag_line, "not the bytes that the entry at line %llu records",
                         (unsigned long long)lineno);
                goto done;
            }
        }
        if (info.seq != expected) {
            rc = bad(res, lineno,
                     "sequence number %llu where %llu was expected "
                     "(an entry was deleted, inserted or moved)",
                     (unsigned long long)info.seq, (unsigned long long)expected);
            goto done;
        }
        if (sodium_memcmp(info.prev, prev, HASH_BYTES) != 0) {
            rc = bad(res, lineno, "entry %llu does not chain to the entry before it",
                     (unsigned long long)info.seq);
            goto done;
        }
        crypto_generichash(prev, HASH_BYTES, (const unsigned char *)r->line, len, NULL, 0);
        if (frag_line) {
            if (!recoveries++)
                first_recovery = frag_line;
            frag_line = 0;
        }
        expected++;
        res->entries++;
    }
    if (got < 0) {
        rc = got;
        goto done;
    }
    if (frag_line)
        res->truncated_tail = 1;
    if (res->truncated_tail) {
        snprintf(res->reason, sizeof res->reason,
                 "the log ends with a partial entry (an interrupted write, or the log "
                 "was cut) after entry %llu",
                 (unsigned long long)res->entries);
        rc = WYE_EAUDIT;
    } else if (recoveries) {
        snprintf(res->reason, sizeof res->reason,
                 "intact; %llu interrupted write(s) recorded by the entry after them "
                 "(first at line %llu)",
                 (unsigned long long)recoveries, (unsigned long long)first_recovery);
    }
done:
    free(r->line);
    free(r);
    return rc;
}

/* ---- appending --------------------------------------------------------- */

static int lock_file(int fd)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    /* Open-file-description locks also serialise threads of one process and
     * are not dropped when some other descriptor of the file is closed. */
#ifdef F_OFD_SETLKW
    const int cmd = F_OFD_SETLKW;
#else
    const int cmd = F_SETLKW;
#endif
    while (fcntl(fd, cmd, &fl) != 0) {
        if (errno != EINTR)
            return WYE_ELOCK;
    }
    return WYE_OK;
}

static int pread_full(int fd, uint8_t *buf, size_t n, off_t off)
{
    while (n) {
        ssize_t got = pread(fd, buf, n, off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return WYE_EIO;
        buf += got;
        n -= (size_t)got;
        off += got;
    }
    return WYE_OK;
}

/* Where to chain: the last entry's seq and hash, and the bytes after it. */
typedef struct tail_state {
    uint64_t seq;              /* last entry's seq, 0 for an empty chain */
    uint8_t hash[HASH_BYTES];  /* last entry's hash, or genesis */
    bool need_newline;         /* file does not end with '\n' */
    uint64_t junk;             /* fragment bytes after the last entry */
    uint8_t junk_hash[HASH_BYTES];
} tail_state;

/* Read the end of the log (AUDIT.md, "Appending" and "Interrupted writes"). */
static int read_tail(int fd, const uint8_t pk[WYE_SIGN_PK_BYTES], tail_state *ts)
{
    memset(ts, 0, sizeof *ts);
    struct stat st;
    if (fstat(fd, &st) != 0)
        return WYE_EIO;
    if (st.st_size == 0)
        return WYE_OK;
    size_t size = (size_t)st.st_size;
    size_t win = size < TAIL_WINDOW ? size : TAIL_WINDOW;
    off_t base = (off_t)(size - win);
    uint8_t *b = malloc(win);
    if (!b)
        return WYE_ENOMEM;
    int rc = pread_full(fd, b, win, base);
    if (rc != WYE_OK)
        goto out;
    ts->need_newline = b[win - 1] != '\n';
    /* Walk lines backwards. end: one past the line's last byte. */
    size_t end = ts->need_newline ? win : win - 1;
    size_t junk_start = win; /* first byte after the anchor's newline */
    for (;;) {
        size_t start = end;
        while (start > 0 && b[start - 1] != '\n')
            start--;
        if (start == 0 && base > 0) {
            rc = WYE_EAUDIT; /* no whole entry within the window */
            goto out;
        }
        entry_info info;
        const char *why;
        enum line_kind k = check_line((const char *)b + start, end - start, &info, &why);
        if (k == LINE_NOMEM) {
            rc = WYE_ENOMEM;
            goto out;
        }
        if (k == LINE_BAD) {
            rc = WYE_EAUDIT; /* a whole JSON line that is not an entry: altered */
            goto out;
        }
        if (k == LINE_ENTRY) {
            if (sodium_memcmp(info.pk, pk, WYE_SIGN_PK_BYTES) != 0) {
                rc = WYE_EAUDITOWNER; /* another party's chain */
                goto out;
            }
            ts->seq = info.seq;
            crypto_generichash(ts->hash, HASH_BYTES, b + start, end - start, NULL, 0);
            junk_start = end < win ? end + 1 : win; /* an unterminated entry: no junk */
            break;
        }
        /* A fragment: keep walking back. */
        if (start == 0) {
            junk_start = 0; /* nothing but fragments: chain to genesis */
            break;
        }
        end = start - 1;
    }
    if (junk_start < win) {
        crypto_generichash_state h;
        crypto_generichash_init(&h, NULL, 0, HASH_BYTES);
        crypto_generichash_update(&h, b + junk_start, win - junk_start);
        ts->junk = win - junk_start;
        if (ts->need_newline) {
            crypto_generichash_update(&h, (const unsigned char *)"\n", 1);
            ts->junk++;
        }
        crypto_generichash_final(&h, ts->junk_hash, HASH_BYTES);
    }
out:
    free(b);
    return rc;
}

static void utc_now(char out[21])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *user_name(void)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    uid_t uid = geteuid();
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res && res->pw_name &&
        strlen(res->pw_name) <= VALUE_MAX) {
        json_t *s = json_string(res->pw_name);
        if (s)
            return s;
    }
    char id[32];
    snprintf(id, sizeof id, "uid:%lu", (unsigned long)uid);
    return json_string(id);
}

static json_t *host_name(void)
{
    char h[VALUE_MAX + 1] = "";
    if (gethostname(h, sizeof h - 1) != 0)
        h[0] = '\0';
    h[VALUE_MAX] = '\0';
    json_t *s = json_string(h);
    return s ? s : json_string("unknown");
}

/* Build and sign the line (with its newline, and a leading newline if the
 * log's tail needs one). */
static int build_line(const wye_audit_entry *e, const tail_state *ts,
                      const uint8_t sk[WYE_SIGN_SK_BYTES], const wye_party_public *pub,
                      char **out, size_t *outlen)
{
    char when[21], prev[2 * HASH_BYTES + 1], pkhex[2 * WYE_SIGN_PK_BYTES + 1];
    char fp[2 * WYE_FINGERPRINT_BYTES + 1], kid[2 * WYE_KEY_ID_BYTES + 1];
    utc_now(when);
    wye_hex(ts->hash, HASH_BYTES, prev);
    wye_hex(pub->sign_pk, WYE_SIGN_PK_BYTES, pkhex);
    wye_hex(e->fingerprint, WYE_FINGERPRINT_BYTES, fp);
    wye_hex(e->key_id, WYE_KEY_ID_BYTES, kid);
    json_t *o = json_pack(
        "{s:i, s:I, s:s, s:o, s:o, s:s, s:s, s:O, s:o, s:o, s:O, s:O, s:O,"
        " s:{s:i, s:s}, s:{s:s, s:s, s:s}, s:s}",
        "v", WYE_AUDIT_VERSION, "seq", (json_int_t)(ts->seq + 1), "time", when, "user",
        user_name(), "host", host_name(), "version", wye_version(), "command", e->command,
        "params", e->params, "protocol", e->has_protocol ? json_string(fp) : json_null(),
        "key_id", e->has_protocol ? json_string(kid) : json_null(), "inputs", e->inputs,
        "outputs", e->outputs, "counts", e->counts, "outcome", "code", e->outcome, "message",
        wye_strerror(e->outcome), "signer", "name", pub->name, "role", pub->role, "pk", pkhex,
        "prev", prev);
    if (!o)
        return WYE_EINVAL; /* a name or role that is not UTF-8 */
    int rc = WYE_ENOMEM;
    unsigned char *msg = NULL;
    size_t msglen;
    char *line = NULL;
    if (ts->junk) {
        char jh[2 * HASH_BYTES + 1];
        wye_hex(ts->junk_hash, HASH_BYTES, jh);
        if (json_object_set_new(o, "recovered",
                                json_pack("{s:I, s:s}", "bytes", (json_int_t)ts->junk,
                                          "blake2b", jh)))
            goto out;
    }
    uint8_t sig[crypto_sign_BYTES];
    char sighex[2 * crypto_sign_BYTES + 1];
    if (signed_message(o, &msg, &msglen) != WYE_OK)
        goto out;
    if (crypto_sign_detached(sig, NULL, msg, msglen, sk) != 0) {
        rc = WYE_ECRYPTO;
        goto out;
    }
    wye_hex(sig, sizeof sig, sighex);
    if (json_object_set_new(o, "sig", json_string(sighex)) || !(line = json_dumps(o, CANON_FLAGS)))
        goto out;
    size_t n = strlen(line);
    if (n > LINE_MAX_BYTES) {
        rc = WYE_ERANGE;
        goto out;
    }
    size_t lead = ts->need_newline ? 1 : 0;
    char *buf = malloc(lead + n + 1);
    if (!buf)
        goto out;
    if (lead)
        buf[0] = '\n';
    memcpy(buf + lead, line, n);
    buf[lead + n] = '\n';
    *out = buf;
    *outlen = lead + n + 1;
    rc = WYE_OK;
out:
    free(msg);
    free(line);
    json_decref(o);
    return rc;
}

static int write_line(int fd, const char *buf, size_t len, off_t before);
#define APPEND_ROOM ((uint64_t)64 << 10)

int wye_audit_append(const char *path, const wye_audit_entry *e, const wye_party *signer)
{
    if (!path || !e || !signer)
        return WYE_EINVAL;
    if (!e->has_outcome)
        return WYE_ESTATE; /* an entry must say how the run ended */
    if (e->outcome > 0 || e->outcome < CODE_MIN)
        return WYE_EINVAL;
    if (sodium_init() < 0)
        return WYE_ECRYPTO;
    const wye_party_public *pub = wye_party_public_part(signer);
    const uint8_t *sk = wye_party_sign_sk(signer);
    uint8_t derived[WYE_SIGN_PK_BYTES];
    if (!pub || !sk || crypto_sign_ed25519_sk_to_pk(derived, sk) != 0 ||
        sodium_memcmp(derived, pub->sign_pk, WYE_SIGN_PK_BYTES) != 0)
        return WYE_EINVAL;
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return wye_io_write_error(errno);
    int rc = lock_file(fd);
    char *buf = NULL;
    size_t len = 0;
    tail_state ts;
    struct stat st;
    if (rc == WYE_OK && fstat(fd, &st) != 0)
        rc = WYE_EIO;
    if (rc == WYE_OK)
        rc = read_tail(fd, pub->sign_pk, &ts);
    if (rc == WYE_OK && ts.seq >= (uint64_t)INT64_MAX)
        rc = WYE_ERANGE;
    if (rc == WYE_OK)
        rc = build_line(e, &ts, sk, pub, &buf, &len);
    if (rc == WYE_OK)
        rc = write_line(fd, buf, len, st.st_size);
    free(buf);
    int saved = errno;
    close(fd); /* releases the lock */
    errno = saved;
    return rc;
}

/* One write() of the whole line, then fsync. A short write is continued
 * under the lock; if the rest cannot be written (disk full, file size
 * limit, an I/O error), the log is cut back to its previous length, so a
 * failed append leaves no partial line and the log still verifies. Only a
 * crash part-way leaves a fragment (AUDIT.md, "Interrupted writes"). */
static int write_line(int fd, const char *buf, size_t len, off_t before)
{
    int rc = WYE_OK;
    for (size_t done = 0; rc == WYE_OK && done < len;) {
        ssize_t w = write(fd, buf + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            rc = wye_io_write_error(errno);
        else if (w == 0)
            rc = wye_io_write_error(errno = ENOSPC);
        else
            done += (size_t)w;
    }
    if (rc == WYE_OK && fsync(fd) != 0)
        rc = wye_io_write_error(errno);
    if (rc != WYE_OK) {
        int saved = errno;
        if (ftruncate(fd, before) == 0)
            (void)fsync(fd);
        errno = saved;
    }
    return rc;
}

static int check_space(const char *path)
{
    struct statvfs vfs;
    if (statvfs(path, &vfs) != 0)
        return WYE_OK; /* no answer: the append will tell */
    /* Room for a few entries (each a few KiB, at most 1 MiB). */
    if (vfs.f_blocks > 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < APPEND_ROOM) {
        errno = ENOSPC;
        return WYE_ENOSPC;
    }
    return WYE_OK;
}

int wye_audit_check_appendable(const char *path, const uint8_t sign_pk[WYE_SIGN_PK_BYTES],
                               wye_diag *d)
{
    wye_diag_clear(d);
    if (!path || !*path || !sign_pk)
        return WYE_EINVAL;
    if (sodium_init() < 0)
        return WYE_ECRYPTO;
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 && errno == ENOENT) {
        /* A new log: its folder must take a new file. */
        const char *slash = strrchr(path, '/');
        char dir[PATH_MAX_LEN + 1];
        if (slash && (size_t)(slash - path) >= sizeof dir)
            return WYE_ERANGE;
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path + 1) : 1,
                 slash ? path : ".");
        if (access(dir, W_OK | X_OK) != 0)
            return errno == ENOENT ? WYE_ENOTFOUND : WYE_EIO;
        return check_space(dir);
    }
    if (fd < 0)
        return wye_io_write_error(errno);
    struct stat st;
    int rc = fstat(fd, &st) != 0 ? WYE_EIO : S_ISREG(st.st_mode) ? WYE_OK : WYE_EFORMAT;
    close(fd);
    if (rc == WYE_OK)
        rc = check_space(path);
    if (rc != WYE_OK)
        return rc;
    FILE *f = fopen(path, "rb");
    if (!f)
        return WYE_EIO;
    wye_audit_result res;
    rc = wye_audit_verify(wye_source_file(f), sign_pk, &res);
    fclose(f);
    if (rc != WYE_EAUDIT)
        return rc;
    /* A partial last line is a crash the next append records (AUDIT.md). */
    if (res.truncated_tail && !res.first_bad)
        return WYE_OK;
    const char *why = res.reason;
    if (!strncmp(why, "line ", 5)) {
        const char *colon = strstr(why, ": ");
        if (colon)
            why = colon + 2;
    }
    wye_diag_set(d, res.first_bad, NULL, "%s", why);
    return res.other_owner ? WYE_EAUDITOWNER : WYE_EAUDIT;
}
