/* wyelink: parties' keys, the linkage secret and per-field keys
 * (protocols/KEYS.md).
 *
 * A party (an agency, the linkage unit, the key custodian) has a key pair:
 * Ed25519 for signing, X25519 for receiving sealed data. Its secret file is
 * written with mode 0600 and refused if group or others can read it; its
 * public file is shared.
 *
 * The linkage secret is made by the key custodian and sealed to each agency;
 * the linkage unit never holds it. Per-field hashing keys are derived from it
 * with libsodium's KDF (crypto_kdf_derive_from_key). Its key id, not the key,
 * travels in every encoded file.
 *
 * Secret material lives in sodium_malloc memory and is wiped when freed.
 * Secrets are read from a file, or from standard input when the path is "-";
 * never from the command line.
 *
 * Ownership: objects returned through out-parameters belong to the caller and
 * are freed with their _free function (NULL allowed).
 * Thread safety: loaded objects are immutable and may be shared by threads.
 */
#ifndef WYELINK_KEYS_H
#define WYELINK_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "wyelink/error.h"
#include "wyelink/protocol.h"

#define WYE_SECRET_BYTES 32
#define WYE_SIGN_PK_BYTES 32
#define WYE_SIGN_SK_BYTES 64
#define WYE_BOX_PK_BYTES 32
#define WYE_BOX_SK_BYTES 32
#define WYE_PARTY_NAME_MAX 64 /* incl. NUL; [A-Za-z0-9_.-] */
#define WYE_ROLE_MAX 16       /* "agency", "linkage-unit", "custodian" */

/* libsodium must be initialised once before anything here; idempotent,
 * thread-safe. WYE_ECRYPTO if it cannot be. */
WYE_API int wye_crypto_init(void);

/* The public half of a party; plain data. */
typedef struct wye_party_public {
    char name[WYE_PARTY_NAME_MAX];
    char role[WYE_ROLE_MAX];
    uint8_t sign_pk[WYE_SIGN_PK_BYTES];
    uint8_t box_pk[WYE_BOX_PK_BYTES];
} wye_party_public;

typedef struct wye_party wye_party;

/* New random key pairs. WYE_EINVAL for a bad name or role. */
WYE_API int wye_party_create(const char *name, const char *role, wye_party **out);
/* Write the secret file (0600; WYE_EEXIST if it exists) and the public file. */
WYE_API int wye_party_save(const wye_party *p, const char *secret_path,
                           const char *public_path);
/* WYE_EPERM if the file is readable by group or others, WYE_EJSON, WYE_EIO. */
WYE_API int wye_party_load(const char *secret_path, wye_party **out);
WYE_API void wye_party_free(wye_party *p);
WYE_API const wye_party_public *wye_party_public_part(const wye_party *p);
/* Secret keys; pointers into p's secure memory. */
WYE_API const uint8_t *wye_party_sign_sk(const wye_party *p);
WYE_API const uint8_t *wye_party_box_sk(const wye_party *p);

/* Parse or load a public file. WYE_EJSON, WYE_EIO. */
WYE_API int wye_public_parse(const char *json, size_t len, wye_party_public *out);
WYE_API int wye_public_load(const char *path, wye_party_public *out);
/* Short hex id of a signing key (first 8 bytes of BLAKE2b of sign_pk) into
 * out (17 bytes). */
WYE_API void wye_public_key_id(const wye_party_public *p, char out[17]);

/* A set of trusted public keys: every *.pub file in a folder (KEYS.md). A
 * party name stands for one key: a second, different key under a trusted
 * name is a look-alike and is refused. */
typedef struct wye_trust wye_trust;
/* Load every *.pub file of dir (in name order). WYE_ENOTFOUND (no such
 * folder), WYE_EIO (errno kept), the errors of wye_public_load for a file
 * that cannot be loaded (diag: "'NAME.pub' cannot be loaded as a public
 * key"), WYE_EDUPLICATE for two files holding different keys under one
 * party name (diag: "'A.pub' and 'B.pub' hold two different keys named
 * 'gp'"), WYE_ENOMEM. diag (may be NULL) names the file within dir, never a
 * key. */
WYE_API int wye_trust_load(const char *dir, wye_trust **out, wye_diag *diag);
/* wye_trust_load without the diag. */
WYE_API int wye_trust_load_dir(const char *dir, wye_trust **out);
/* Trust p. WYE_OK if its key is trusted already (under the first name it
 * came with); WYE_EDUPLICATE if another key is trusted under its name. */
WYE_API int wye_trust_add(wye_trust *t, const wye_party_public *p);
WYE_API int wye_trust_new(wye_trust **out);
/* The trusted party with this signing key, or NULL. */
WYE_API const wye_party_public *wye_trust_find(const wye_trust *t,
                                               const uint8_t sign_pk[WYE_SIGN_PK_BYTES]);
WYE_API void wye_trust_free(wye_trust *t);

/* The linkage secret. */
typedef struct wye_secret wye_secret;
WYE_API int wye_secret_create(wye_secret **out);
/* Write with mode 0600; WYE_EEXIST if path exists. */
WYE_API int wye_secret_save(const wye_secret *s, const char *path);
/* Path "-" reads standard input. WYE_EPERM as wye_party_load. */
WYE_API int wye_secret_load(const char *path, wye_secret **out);
/* Seal s to the agency's box key, signed by the custodian; write to path. */
WYE_API int wye_secret_seal(const wye_secret *s, const wye_party *custodian,
                            const wye_party_public *agency, const char *path);
/* Open a sealed secret with the agency's keys, checking the custodian's
 * signature. WYE_ERECIPIENT if sealed to someone else, WYE_ESIGNATURE (not
 * this custodian's signature), WYE_ECORRUPT (the sealed file was altered). */
WYE_API int wye_secret_unseal(const char *path, const wye_party *agency,
                              const wye_party_public *custodian, wye_secret **out);
WYE_API void wye_secret_free(wye_secret *s);
WYE_API void wye_secret_key_id(const wye_secret *s, uint8_t out[WYE_KEY_ID_BYTES]);
/* Derive the 32-byte key for KDF subkey id (a field's kdf_id, or one of the
 * WYE_KDF_* ids) into out, which the caller should keep in secure memory. */
WYE_API int wye_secret_derive(const wye_secret *s, uint64_t subkey_id, uint8_t out[32]);

/* Pinned KDF subkey ids for keys that are not per-field (field ids are
 * 1..999, from the protocol). */
#define WYE_KDF_PERMUTATION 1001 /* balancing permutation */
#define WYE_KDF_DIFFUSION 1002   /* diffusion draw */
#define WYE_KDF_DIGEST 1003      /* exact digests */

/* Record pseudonyms: a key derived from the agency's own secret keys (never
 * from the linkage secret), so only the agency can link a pseudonym to its
 * record. Stable for the same agency key and local id. */
WYE_API int wye_pseudonym_key(const wye_party *agency, uint8_t key[32]);
WYE_API void wye_pseudonym(const uint8_t key[32], const char *local_id, size_t len,
                           uint8_t out[WYE_PSEUDONYM_BYTES]);

#endif
