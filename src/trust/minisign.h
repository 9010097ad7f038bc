/* Signatures in minisign's format (Ed25519 over the BLAKE2b-512 hash of the file, a trusted
 * comment covered by a global signature), through OpenSSL 3. Files are hashed as a stream, so
 * multi-GiB images never sit in memory. Keys and signatures interoperate with stock minisign. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most kiln reads of a key or a signature file (a minisign file is two short lines). */
#define MS_SIG_MAX (64u * 1024)

/* Writes BASE.key (secret; scrypt-encrypted unless passphrase is NULL) and BASE.pub, each
 * through a temp file + rename. Returns 0 or -errno with *reterr set. */
int ms_keygen(const char *base, const char *passphrase, char **reterr);
/* Signs file into FILE.minisig. trusted_comment NULL: "timestamp:<t>\tfile:<name>\thashed". */
int ms_sign(const char *seckey_path, const char *passphrase, const char *file, const char *trusted_comment,
            char **reterr);
/* Verifies file against sig_path (NULL: FILE.minisig) with the public key file; *trusted gets
 * the trusted comment. Fail-closed: every mismatch is an error naming the file and what differs. */
int ms_verify(const char *pubkey_path, const char *file, const char *sig_path, char **trusted, char **reterr);
/* Verifies FILE against FILE.minisig with whichever of the trusted public keys has the
 * signature's key id (key rotation: old and new keys side by side). key_id gets that id.
 * Unsigned, unknown key, damaged signature, mismatch: an error naming the file. */
int ms_verify_trusted(const char *const *pubkeys, size_t n, const char *file, char **trusted, char key_id[17], char **reterr);
/* A secret key loaded once (scrypt runs once) to sign several things; wiped when freed. */
struct ms_seckey;
int ms_seckey_load(const char *seckey_path, const char *passphrase, struct ms_seckey **out, char **reterr);
void ms_seckey_free(struct ms_seckey *k);
/* Its key id, 16 hex digits as minisign prints it. */
void ms_seckey_id(const struct ms_seckey *k, char key_id[17]);
/* Signs len bytes in memory (hashed: "ED"); *sig_text gets what a .minisig file holds. The
 * trusted comment is required (one line). */
int ms_sign_data(const struct ms_seckey *k, const void *data, size_t len, const char *trusted_comment, char **sig_text,
                 char **reterr);
/* ms_verify_trusted for bytes in memory and a signature's text: the caller reads the file once
 * and parses exactly the bytes that were verified. name and sig_name are what messages call
 * the data and the signature (their file names). */
int ms_verify_data_trusted(const char *const *pubkeys, size_t n, const void *data, size_t len, const char *name,
                           const char *sig_text, const char *sig_name, char **trusted, char key_id[17], char **reterr);
/* Ed25519 over the bytes themselves, not minisign's hashed form: for formats that define what
 * is signed (DSSE's pre-authentication encoding). sig gets the 64-byte signature. */
int ms_sign_raw(const struct ms_seckey *k, const void *msg, size_t len, uint8_t sig[64]);
/* Checks such a signature with a public key file: 0, -EPERM when it does not match, or -errno
 * with *reterr set when the key cannot be read. */
int ms_verify_raw(const char *pubkey_path, const void *msg, size_t len, const uint8_t sig[64], char **reterr);
/* The key id FILE.minisig names (no hashing). */
int ms_sig_key_id(const char *file, char key_id[17], char **reterr);
/* Cheap check before any hashing: FILE.minisig exists, parses, and names a trusted key. */
int ms_check_signer(const char *const *pubkeys, size_t n, const char *file, char key_id[17], char **reterr);
/* The key id of a public key file (16 hex digits, as minisign prints it). */
int ms_key_id(const char *pubkey_path, char key_id[17], char **reterr);
/* True when the secret key file is encrypted (needs a passphrase). */
bool ms_key_encrypted(const char *seckey_path);

