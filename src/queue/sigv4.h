/*
 * sigv4.h - AWS Signature Version 4 request signing (AWS4-HMAC-SHA256).
 *
 * A pure module: it computes, it never does I/O, and it never logs. The
 * caller (the SQS client) builds the request it is about to send, asks
 * sigv4_sign() for the headers to add, and sends them. HMAC-SHA256 and
 * SHA-256 come from OpenSSL's libcrypto.
 *
 * What is signed (the AWS rules, checked byte for byte against the AWS
 * SigV4 test suite and against botocore's SigV4Auth):
 *
 *   CanonicalRequest = Method '\n' CanonicalURI '\n' CanonicalQuery '\n'
 *                      CanonicalHeaders '\n' SignedHeaders '\n' PayloadHash
 *   StringToSign     = "AWS4-HMAC-SHA256" '\n' AmzDate '\n' Scope '\n'
 *                      hex(SHA256(CanonicalRequest))
 *   Scope            = YYYYMMDD '/' region '/' service '/' "aws4_request"
 *   SigningKey       = HMAC(HMAC(HMAC(HMAC("AWS4" secret, YYYYMMDD),
 *                      region), service), "aws4_request")
 *   Signature        = hex(HMAC(SigningKey, StringToSign))
 *
 * CanonicalURI. The path is the request target exactly as sent on the wire
 * (already percent-encoded by the caller, if at all). For every service but
 * S3 it is normalised - empty segments dropped (duplicate slashes
 * collapsed), "." and ".." removed as in RFC 3986 5.2.4, a trailing slash
 * kept - and each segment is then URI-encoded: every byte outside the RFC
 * 3986 unreserved set (A-Z a-z 0-9 - _ . ~) becomes %XX. Because the wire
 * path is already encoded, this encodes it a second time ("%20" becomes
 * "%2520"), which is what AWS requires for non-S3 services. With
 * SIGV4_FLAG_S3_PATH (implied by service "s3") the path is neither
 * normalised nor double-encoded: valid %XX escapes are decoded and every
 * byte is encoded once, '/' kept.
 *
 * CanonicalQuery. The part after the first '?', split on '&' (empty pairs
 * ignored), each pair split at its first '=' (a missing value is ""). Keys
 * and values are percent-decoded (valid %XX only; '+' stays a literal '+'),
 * re-encoded with the unreserved set, sorted by key then by value (byte
 * order of the encoded strings), joined as k=v with '&'.
 *
 * CanonicalHeaders. Every header of the request is signed except the
 * hop-by-hop and proxy-rewritten ones botocore also leaves out (connection,
 * expect, keep-alive, proxy-authenticate, proxy-authorization, te, trailer,
 * transfer-encoding, upgrade, user-agent, x-amzn-trace-id). Names are
 * lowercased; values lose leading and trailing spaces/tabs and runs of
 * spaces/tabs become one space; repeated names are joined with ',' in
 * request order; names are sorted. A Host header is required. Header
 * values must not contain CR, LF or other control bytes (HTAB excepted):
 * obsolete line folding is the caller's to unfold.
 *
 * Headers the signer adds (and signs unless stated): X-Amz-Date when the
 * request lacks it; X-Amz-Security-Token when the credentials carry a
 * session token and the request lacks it (unsigned, added after signing,
 * with SIGV4_FLAG_TOKEN_UNSIGNED); X-Amz-Content-SHA256 with
 * SIGV4_FLAG_CONTENT_SHA256 (S3 requires it). They come back in
 * sigv4_result.add, followed by Authorization, in the order the caller
 * should append them.
 *
 * Secrets: the secret key and the derived keys are wiped from the stack
 * after use; no error message ever contains a key, secret or token.
 */
#ifndef MLW_QUEUE_SIGV4_H
#define MLW_QUEUE_SIGV4_H

#include <stddef.h>

#include "core/err.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_AMZ_DATE_LEN 16 /* YYYYMMDDTHHMMSSZ */
#define SIGV4_HEX_LEN 64      /* hex SHA-256 / HMAC-SHA256 */
#define SIGV4_KEY_LEN 32      /* binary signing key */
#define SIGV4_MAX_ADD 4       /* date, content hash, token, authorization */

/* hex(SHA256("")), the payload hash of a request without a body. */
#define SIGV4_EMPTY_SHA256 \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

enum sigv4_flag {
    /* Session token goes into X-Amz-Security-Token after signing instead
     * of being signed (the few services that want it that way). Default:
     * signed, as botocore does for SQS. */
    SIGV4_FLAG_TOKEN_UNSIGNED = 1u << 0,
    /* Add and sign X-Amz-Content-SHA256: <payload hash>. */
    SIGV4_FLAG_CONTENT_SHA256 = 1u << 1,
    /* S3 path rules: no normalisation, single encoding. Implied when the
     * service is "s3". */
    SIGV4_FLAG_S3_PATH = 1u << 2
};

struct sigv4_header {
    const char *name;  /* as sent, any case, e.g. "X-Amz-Target" */
    const char *value; /* as sent; trimmed and collapsed when signed */
};

struct sigv4_request {
    const char *method;               /* "GET", "POST", ... (as sent) */
    const char *path;                 /* request target as sent: "/a/b?x=1" */
    const struct sigv4_header *headers; /* n_headers entries, may repeat */
    size_t n_headers;
    const void *payload;              /* body bytes; NULL when none */
    size_t payload_len;
    /* Optional precomputed payload hash (lower-case hex, or
     * "UNSIGNED-PAYLOAD"); NULL: use an X-Amz-Content-SHA256 header of
     * the request if there is one, else hex(SHA256(payload)). */
    const char *payload_hash;
    unsigned flags;                   /* enum sigv4_flag bits */
};

struct sigv4_credentials {
    const char *access_key_id;     /* "AKID..." */
    const char *secret_access_key;
    const char *session_token;     /* NULL or "" for long-term keys */
};

/* A header for the caller to append to the request. */
struct sigv4_add_header {
    const char *name; /* static string: "X-Amz-Date", "Authorization", ... */
    char *value;      /* owned by the result */
};

/* Everything sigv4_sign() computed. All strings are NUL-terminated and
 * owned by the result; release them with sigv4_result_free(). */
struct sigv4_result {
    char *canonical_request;
    char *string_to_sign;
    char *credential_scope;          /* 20150830/us-east-1/sqs/aws4_request */
    char *signed_headers;            /* "content-type;host;x-amz-date" */
    char *payload_hash;              /* last line of the canonical request */
    char *authorization;             /* full Authorization header value */
    char signature[SIGV4_HEX_LEN + 1];
    struct sigv4_add_header add[SIGV4_MAX_ADD]; /* in order; last is
                                                 * Authorization */
    size_t n_add;
};

/*
 * Sign req for region/service at amz_date with cred.
 *
 * amz_date is the request time in UTC as YYYYMMDDTHHMMSSZ; if the request
 * already has an X-Amz-Date header it must carry the same value. If the
 * request has an X-Amz-Security-Token header while cred has a session
 * token, the two must be equal (the header is then not added again).
 *
 * Returns MLW_OK and fills *out (the caller frees it with
 * sigv4_result_free()). On failure returns MLW_EINVAL (bad argument,
 * missing Host, control bytes in a header, inconsistent date/token/hash,
 * an Authorization header in the request), MLW_ENOMEM, or
 * MLW_EUNSUPPORTED (libcrypto refused SHA-256/HMAC); *out is then zeroed
 * and err, when not NULL, holds the reason.
 */
int sigv4_sign(const struct sigv4_request *req,         /* request to sign */
               const struct sigv4_credentials *cred,    /* keys */
               const char *region,                      /* "us-east-1" */
               const char *service,                     /* "sqs" */
               const char *amz_date,                    /* YYYYMMDDTHHMMSSZ */
               struct sigv4_result *out,                /* OUT */
               struct mlw_err *err);                    /* OUT, may be NULL */

/* Free the strings of a result and zero it. Safe on a zeroed result. */
void sigv4_result_free(struct sigv4_result *res);

/*
 * The binary signing key for one day/region/service (callers that sign
 * many requests may cache it per day). date8 is YYYYMMDD.
 * Returns MLW_OK, MLW_EINVAL or MLW_EUNSUPPORTED.
 */
int sigv4_signing_key(const char *secret_access_key,
                      const char *date8,
                      const char *region,
                      const char *service,
                      unsigned char key[SIGV4_KEY_LEN], /* OUT */
                      struct mlw_err *err);

/* hex(SHA256(data)) into hex[SIGV4_HEX_LEN + 1]. Returns MLW_OK or
 * MLW_EUNSUPPORTED. data may be NULL when len is 0. */
int sigv4_sha256_hex(const void *data, size_t len,
                     char hex[SIGV4_HEX_LEN + 1], /* OUT */
                     struct mlw_err *err);

#endif
