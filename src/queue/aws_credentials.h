/*
 * aws_credentials.h - where the SQS client gets its AWS keys.
 *
 * The chain, in the order the AWS SDKs use (first source that yields
 * credentials wins; each refresh walks the chain again):
 *
 *   1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY
 *      (+ AWS_SESSION_TOKEN);
 *   2. shared files: AWS_SHARED_CREDENTIALS_FILE (default
 *      ~/.aws/credentials, section [name]) then AWS_CONFIG_FILE (default
 *      ~/.aws/config, section [profile name] or [default]); the profile is
 *      AWS_PROFILE, else "default". A profile named by AWS_PROFILE that
 *      exists in neither file is an error (as in the SDKs);
 *   3. ECS container endpoint: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
 *      (http://169.254.170.2<uri>) or AWS_CONTAINER_CREDENTIALS_FULL_URI
 *      (https anywhere; http only to loopback or the ECS/EKS agent
 *      addresses), with an Authorization header from
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN;
 *   4. EC2 instance metadata, IMDSv2 only (token PUT, then role, then
 *      keys), at AWS_EC2_METADATA_SERVICE_ENDPOINT (default
 *      http://169.254.169.254); skipped when AWS_EC2_METADATA_DISABLED is
 *      "true".
 *
 * Temporary credentials (sources 3 and 4, and any with an Expiration) are
 * refreshed when less than AWS_CRED_REFRESH_MARGIN seconds remain; if the
 * refresh fails while the old keys are still valid, the old keys are kept
 * and the failure is returned only once they expire.
 *
 * Secrets: no function here logs, and no error message ever contains a
 * secret key or session token (the access key id is not secret and may
 * appear). Freed credentials are wiped first.
 */
#ifndef MLW_QUEUE_AWS_CREDENTIALS_H
#define MLW_QUEUE_AWS_CREDENTIALS_H

#include <stddef.h>
#include <time.h>

#include "core/err.h"

#define AWS_CRED_REFRESH_MARGIN 600 /* seconds before expiry */

struct aws_credentials {
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /* NULL for long-term keys */
    time_t expiration;   /* UTC epoch seconds; 0 = never expires */
    char source[48];     /* "environment", "shared file (profile x)", ... */
};

struct aws_cred_chain;

/* A chain reading the environment through getenv_fn (getenv in
 * production). Does no I/O. Returns MLW_OK or MLW_ENOMEM. */
int aws_cred_chain_init(struct aws_cred_chain **out,
                        const char *(*getenv_fn)(const char *),
                        struct mlw_err *err);
void aws_cred_chain_free(struct aws_cred_chain *c);

/*
 * Current credentials: resolved on the first call, refreshed when they
 * are about to expire or when force_refresh is set (after the service
 * said ExpiredToken). *out points into the chain and stays valid until
 * the next call on it. Returns MLW_OK; MLW_ENOTFOUND when no source has
 * credentials (err lists what was tried); MLW_EIO / MLW_EFORMAT when a
 * source that is configured failed (endpoint down, bad document).
 * Thread: one thread at a time.
 */
int aws_cred_chain_get(struct aws_cred_chain *c, int force_refresh,
                       const struct aws_credentials **out, /* OUT */
                       struct mlw_err *err);

/* Wipe and free the strings; zero the struct. */
void aws_credentials_clear(struct aws_credentials *cr);

/* ---- pure helpers (no I/O), exposed for the unit tests ---- */

/*
 * Look up keys of one section of an INI text (the shared credentials or
 * config file): aws_access_key_id, aws_secret_access_key,
 * aws_session_token. '#' and ';' start comment lines; keys and section
 * names are trimmed. Returns MLW_OK when the section exists and has both
 * keys (filled into *out), MLW_ENOTFOUND when the section is absent,
 * MLW_EINVAL when it exists but lacks a key, MLW_ENOMEM.
 */
int aws_cred_parse_ini(const char *text, const char *section,
                       struct aws_credentials *out, /* OUT */
                       int *section_found,          /* OUT: 1 if present */
                       struct mlw_err *err);

/* Parse a container / IMDS credentials document (AccessKeyId,
 * SecretAccessKey, Token, Expiration; IMDS adds "Code": "Success").
 * Returns MLW_OK, MLW_EFORMAT or MLW_ENOMEM. */
int aws_cred_parse_json(const char *json, size_t len,
                        struct aws_credentials *out, /* OUT */
                        struct mlw_err *err);

/* "2024-05-06T07:08:09Z" (fraction and +00:00 accepted) to epoch
 * seconds. Returns 0, or -1 when malformed. */
int aws_parse_iso8601(const char *s, time_t *out);

#endif
