/* DSSE envelopes (Dead Simple Signing Envelope, https://github.com/secure-systems-lab/dsse,
 * protocol v1.0), as in-toto attestations are carried (.intoto.jsonl: one envelope per line).
 * A signature is Ed25519 over PAE(payloadType, payload) =
 *   "DSSEv1" SP LEN(payloadType) SP payloadType SP LEN(payload) SP payload
 * (LEN: the byte length in ASCII decimal), made with a minisign secret key; the signature's
 * keyid is the key's minisign key id (16 hex digits). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "trust/minisign.h"

/* The payload type of in-toto statements. */
#define DSSE_INTOTO_TYPE "application/vnd.in-toto+json"
/* The most kiln reads of an envelope file. */
#define DSSE_MAX (64u << 20)

/* PAE(type, payload); *out_len gets its length. Caller frees. */
uint8_t *dsse_pae(const char *type, const void *payload, size_t len, size_t *out_len);
/* One envelope as a single JSON line (no newline): payload and signature base64 (standard
 * alphabet, padded). Caller frees *line. 0 or -errno with *reterr set. */
int dsse_sign(const struct ms_seckey *k, const char *type, const void *payload, size_t len, char **line, char **reterr);
/* Verifies the envelope text (one JSON object, or JSON lines of them: every line must verify)
 * with the public key file: a signature whose keyid is that key's id must be over
 * PAE(payloadType, payload), and payloadType must be type. *payload (NUL-terminated, may be
 * NULL) gets the last line's payload. Fails closed: no signature by that key, a signature that
 * does not match (payload, type or signature changed), or an envelope that is not one is an
 * error naming what (name: how messages call the envelope). */
int dsse_verify(const char *pubkey_path, const char *text, size_t len, const char *name, const char *type, char **payload,
                size_t *payload_len, char **reterr);
