/*
 * sigv4.c - AWS Signature Version 4 signing; see sigv4.h for the rules.
 *
 * Layout: a tiny growable string (struct sb) that remembers allocation
 * failure so the builders can append without checking every call; the
 * three canonical parts (URI, query, headers); then sigv4_sign(), which
 * assembles them, hashes and signs.
 */
#include "queue/sigv4.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* ---------------------------------------------------------------------- */
/* Growable string                                                         */
/* ---------------------------------------------------------------------- */

struct sb {
    char *p;
    size_t len;
    size_t cap;
    int oom; /* an allocation failed; every later append is a no-op */
};

static void sb_putn(struct sb *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (n > SIZE_MAX / 2 - b->len - 1) {
        b->oom = 1;
        return;
    }
    size_t need = b->len + n + 1;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < need)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(struct sb *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

static void sb_putc(struct sb *b, char c)
{
    sb_putn(b, &c, 1);
}

/* Hand the string over (an empty string when nothing was appended).
 * Returns NULL, and frees, when an allocation failed. */
static char *sb_take(struct sb *b)
{
    if (!b->oom && b->p == NULL)
        sb_putn(b, "", 0);
    if (b->oom) {
        free(b->p);
        b->p = NULL;
        return NULL;
    }
    char *p = b->p;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

static void sb_free(struct sb *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---------------------------------------------------------------------- */
/* Character classes and percent-encoding                                  */
/* ---------------------------------------------------------------------- */

static const char HEX_UPPER[] = "0123456789ABCDEF";
static const char HEX_LOWER[] = "0123456789abcdef";

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
           c == '~';
}

/* Bytes that may never appear in anything that ends up in a header line
 * or the request line: C0 controls (HTAB excepted where allowed) and DEL. */
static int is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* RFC 7230 tchar: the characters of a header name or method. */
static int is_tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void sb_put_encoded_byte(struct sb *b, unsigned char c)
{
    if (is_unreserved(c)) {
        sb_putc(b, (char)c);
    } else {
        char e[3] = {'%', HEX_UPPER[c >> 4], HEX_UPPER[c & 15]};
        sb_putn(b, e, 3);
    }
}

/* Append s[0..n) URI-encoded; with decode, valid %XX escapes are decoded
 * first so an already-encoded string is normalised, not double-encoded. */
static void sb_put_encoded(struct sb *b, const char *s, size_t n, int decode)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (decode && c == '%' && i + 2 < n &&
            hex_val((unsigned char)s[i + 1]) >= 0 &&
            hex_val((unsigned char)s[i + 2]) >= 0) {
            c = (unsigned char)(hex_val((unsigned char)s[i + 1]) * 16 +
                                hex_val((unsigned char)s[i + 2]));
            i += 2;
        }
        sb_put_encoded_byte(b, c);
    }
}

static void hex_lower(const unsigned char *bin, size_t n, char *hex)
{
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = HEX_LOWER[bin[i] >> 4];
        hex[2 * i + 1] = HEX_LOWER[bin[i] & 15];
    }
    hex[2 * n] = '\0';
}

/* ---------------------------------------------------------------------- */
/* Crypto                                                                  */
/* ---------------------------------------------------------------------- */

int sigv4_sha256_hex(const void *data, size_t len, char hex[SIGV4_HEX_LEN + 1],
                     struct mlw_err *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    static const unsigned char empty = 0;

    if (data == NULL)
        data = &empty;
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != SIGV4_KEY_LEN) {
        hex[0] = '\0';
        return mlw_err_set(err, MLW_EUNSUPPORTED,
                           "sigv4: libcrypto SHA-256 failed");
    }
    hex_lower(md, mdlen, hex);
    return MLW_OK;
}

static int hmac_sha256(const void *key, size_t keylen, const void *msg,
                       size_t msglen, unsigned char out[SIGV4_KEY_LEN],
                       struct mlw_err *err)
{
    unsigned int outlen = 0;

    if (keylen > INT32_MAX ||
        HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, out, &outlen) ==
            NULL ||
        outlen != SIGV4_KEY_LEN)
        return mlw_err_set(err, MLW_EUNSUPPORTED,
                           "sigv4: libcrypto HMAC-SHA256 failed");
    return MLW_OK;
}

/* ---------------------------------------------------------------------- */
/* Validation                                                              */
/* ---------------------------------------------------------------------- */

static int valid_amz_date(const char *d)
{
    if (d == NULL || strlen(d) != SIGV4_AMZ_DATE_LEN)
        return 0;
    for (int i = 0; i < SIGV4_AMZ_DATE_LEN; i++) {
        char c = d[i];
        if (i == 8) {
            if (c != 'T')
                return 0;
        } else if (i == 15) {
            if (c != 'Z')
                return 0;
        } else if (c < '0' || c > '9') {
            return 0;
        }
    }
    return 1;
}

static int valid_date8(const char *d)
{
    if (d == NULL || strlen(d) != 8)
        return 0;
    for (int i = 0; i < 8; i++)
        if (d[i] < '0' || d[i] > '9')
            return 0;
    return 1;
}

/* A credential-scope component: non-empty, no '/', no space, no CTL. */
static int valid_scope_part(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p == '/' || *p == ' ' || *p == ',' || is_ctl(*p))
            return 0;
    return 1;
}

/* Text that goes into a header value: no CTL except HTAB. */
static int valid_field_text(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (is_ctl(*p) && *p != '\t')
            return 0;
    return 1;
}

static int valid_token(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!is_tchar(*p))
            return 0;
    return 1;
}

/* The value of a header as it is signed: no leading/trailing blanks,
 * runs of blanks (space, HTAB) replaced by one space. */
static void sb_put_trimmed(struct sb *b, const char *v)
{
    int pending_space = 0;
    int started = 0;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            pending_space = started;
            continue;
        }
        if (pending_space)
            sb_putc(b, ' ');
        pending_space = 0;
        started = 1;
        sb_putc(b, *v);
    }
}

/* Compare the trimmed form of header value v with want. */
static int trimmed_equals(const char *v, const char *want, int *oom)
{
    struct sb t = {0};
    sb_put_trimmed(&t, v);
    char *s = sb_take(&t);
    if (s == NULL) {
        *oom = 1;
        return 0;
    }
    int eq = strcmp(s, want) == 0;
    free(s);
    return eq;
}

/* ---------------------------------------------------------------------- */
/* Canonical URI                                                           */
/* ---------------------------------------------------------------------- */

/* path[0..n) is the part of the request target before '?'. */
static int build_canonical_uri(struct sb *b, const char *path, size_t n,
                               int s3, struct mlw_err *err)
{
    if (n == 0) {
        sb_putc(b, '/');
        return MLW_OK;
    }
    if (path[0] != '/')
        return mlw_err_set(err, MLW_EINVAL,
                           "sigv4: request path must start with '/'");
    if (s3) {
        /* S3: the path as is, each byte encoded once, '/' kept. */
        size_t start = 0;
        for (size_t i = 0; i <= n; i++) {
            if (i == n || path[i] == '/') {
                sb_put_encoded(b, path + start, i - start, 1);
                if (i < n)
                    sb_putc(b, '/');
                start = i + 1;
            }
        }
        return MLW_OK;
    }

    /* Everything else: the kept segments, as (start, length) pairs on a
     * stack, while empty segments (duplicate slashes), "." and ".." are
     * removed. As in RFC 3986 5.2.4, a path that ends in "/", "/." or
     * "/.." keeps a trailing slash ("/a/b/.." is "/a/"). botocore drops
     * that slash after a final dot segment; no AWS test case has one. */
    size_t nseg = 1;
    for (size_t i = 0; i < n; i++)
        if (path[i] == '/')
            nseg++;
    size_t *seg = malloc(nseg * 2 * sizeof *seg);
    if (seg == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "sigv4: out of memory");
    size_t top = 0;
    size_t start = 1;
    int trailing_slash = 0;
    for (size_t i = 1; i <= n; i++) {
        if (i < n && path[i] != '/')
            continue;
        const char *s = path + start;
        size_t len = i - start;
        int dot = len == 1 && s[0] == '.';
        int dotdot = len == 2 && s[0] == '.' && s[1] == '.';
        if (dotdot) {
            if (top > 0)
                top--;
        } else if (len > 0 && !dot) {
            seg[2 * top] = start;
            seg[2 * top + 1] = len;
            top++;
        }
        if (i == n)
            trailing_slash = len == 0 || dot || dotdot;
        start = i + 1;
    }
    sb_putc(b, '/');
    for (size_t k = 0; k < top; k++) {
        if (k > 0)
            sb_putc(b, '/');
        /* No decoding: the wire form is encoded again (AWS double
         * encoding for non-S3 services). */
        sb_put_encoded(b, path + seg[2 * k], seg[2 * k + 1], 0);
    }
    if (top > 0 && trailing_slash)
        sb_putc(b, '/');
    free(seg);
    return MLW_OK;
}

/* ---------------------------------------------------------------------- */
/* Canonical query string                                                  */
/* ---------------------------------------------------------------------- */

struct qpair {
    char *key;
    char *value;
};

static int qpair_cmp(const void *a, const void *b)
{
    const struct qpair *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c != 0 ? c : strcmp(x->value, y->value);
}

static char *encode_dup(const char *s, size_t n)
{
    struct sb t = {0};
    sb_put_encoded(&t, s, n, 1);
    return sb_take(&t);
}

static int build_canonical_query(struct sb *b, const char *q, size_t n,
                                 struct mlw_err *err)
{
    if (n == 0)
        return MLW_OK;
    size_t cap = 1;
    for (size_t i = 0; i < n; i++)
        if (q[i] == '&')
            cap++;
    struct qpair *pairs = calloc(cap, sizeof *pairs);
    if (pairs == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "sigv4: out of memory");

    int rc = MLW_OK;
    size_t np = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n && rc == MLW_OK; i++) {
        if (i < n && q[i] != '&')
            continue;
        const char *p = q + start;
        size_t len = i - start;
        start = i + 1;
        if (len == 0)
            continue;
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        pairs[np].key = encode_dup(p, klen);
        pairs[np].value = eq ? encode_dup(eq + 1, len - klen - 1)
                             : encode_dup("", 0);
        np++;
        if (pairs[np - 1].key == NULL || pairs[np - 1].value == NULL)
            rc = mlw_err_set(err, MLW_ENOMEM, "sigv4: out of memory");
    }
    if (rc == MLW_OK) {
        qsort(pairs, np, sizeof *pairs, qpair_cmp);
        for (size_t k = 0; k < np; k++) {
            if (k > 0)
                sb_putc(b, '&');
            sb_puts(b, pairs[k].key);
            sb_putc(b, '=');
            sb_puts(b, pairs[k].value);
        }
    }
    for (size_t k = 0; k < np; k++) {
        free(pairs[k].key);
        free(pairs[k].value);
    }
    free(pairs);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Canonical headers                                                       */
/* ---------------------------------------------------------------------- */

struct hentry {
    char *lname;       /* owned, lower case */
    const char *value; /* borrowed */
    size_t order;      /* request order, for a stable sort */
};

static int hentry_cmp(const void *a, const void *b)
{
    const struct hentry *x = a, *y = b;
    int c = strcmp(x->lname, y->lname);
    if (c != 0)
        return c;
    return (x->order > y->order) - (x->order < y->order);
}

static const char *const UNSIGNED_HEADERS[] = {
    "connection", "expect", "keep-alive", "proxy-authenticate",
    "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade",
    "user-agent", "x-amzn-trace-id"};

static int is_unsigned_header(const char *lname)
{
    for (size_t i = 0; i < sizeof UNSIGNED_HEADERS / sizeof *UNSIGNED_HEADERS;
         i++)
        if (strcmp(lname, UNSIGNED_HEADERS[i]) == 0)
            return 1;
    return 0;
}

static char *lower_dup(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p == NULL)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        p[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
    return p;
}

/* ---------------------------------------------------------------------- */
/* Signing                                                                 */
/* ---------------------------------------------------------------------- */

void sigv4_result_free(struct sigv4_result *res)
{
    if (res == NULL)
        return;
    free(res->canonical_request);
    free(res->string_to_sign);
    free(res->credential_scope);
    free(res->signed_headers);
    free(res->payload_hash);
    free(res->authorization);
    for (size_t i = 0; i < res->n_add && i < SIGV4_MAX_ADD; i++)
        free(res->add[i].value);
    memset(res, 0, sizeof *res);
}

int sigv4_signing_key(const char *secret_access_key, const char *date8,
                      const char *region, const char *service,
                      unsigned char key[SIGV4_KEY_LEN], struct mlw_err *err)
{
    if (secret_access_key == NULL || *secret_access_key == '\0')
        return mlw_err_set(err, MLW_EINVAL, "sigv4: empty secret access key");
    if (!valid_date8(date8))
        return mlw_err_set(err, MLW_EINVAL, "sigv4: date is not YYYYMMDD");
    if (!valid_scope_part(region) || !valid_scope_part(service))
        return mlw_err_set(err, MLW_EINVAL,
                           "sigv4: region and service must be non-empty, "
                           "without '/', ',', spaces or control bytes");

    size_t slen = strlen(secret_access_key);
    if (slen > SIZE_MAX - 5)
        return mlw_err_set(err, MLW_EINVAL, "sigv4: secret too long");
    unsigned char *k0 = malloc(slen + 4);
    if (k0 == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "sigv4: out of memory");
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret_access_key, slen);

    unsigned char k1[SIGV4_KEY_LEN], k2[SIGV4_KEY_LEN], k3[SIGV4_KEY_LEN];
    int rc = hmac_sha256(k0, slen + 4, date8, 8, k1, err);
    if (rc == MLW_OK)
        rc = hmac_sha256(k1, sizeof k1, region, strlen(region), k2, err);
    if (rc == MLW_OK)
        rc = hmac_sha256(k2, sizeof k2, service, strlen(service), k3, err);
    if (rc == MLW_OK)
        rc = hmac_sha256(k3, sizeof k3, "aws4_request", 12, key, err);
    OPENSSL_cleanse(k0, slen + 4);
    free(k0);
    OPENSSL_cleanse(k1, sizeof k1);
    OPENSSL_cleanse(k2, sizeof k2);
    OPENSSL_cleanse(k3, sizeof k3);
    if (rc != MLW_OK)
        OPENSSL_cleanse(key, SIGV4_KEY_LEN);
    return rc;
}

static int add_header(struct sigv4_result *out, const char *name,
                      const char *value, struct mlw_err *err)
{
    if (out->n_add >= SIGV4_MAX_ADD)
        return mlw_err_set(err, MLW_EINVAL, "sigv4: too many added headers");
    char *v = strdup(value);
    if (v == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "sigv4: out of memory");
    out->add[out->n_add].name = name;
    out->add[out->n_add].value = v;
    out->n_add++;
    return MLW_OK;
}

static int check_args(const struct sigv4_request *req,
                      const struct sigv4_credentials *cred,
                      const char *region, const char *service,
                      const char *amz_date, struct mlw_err *err)
{
    if (req == NULL || cred == NULL)
        return mlw_err_set(err, MLW_EINVAL, "sigv4: no request or credentials");
    if (!valid_token(req->method))
        return mlw_err_set(err, MLW_EINVAL, "sigv4: invalid HTTP method");
    if (req->path == NULL)
        return mlw_err_set(err, MLW_EINVAL, "sigv4: no request path");
    for (const unsigned char *p = (const unsigned char *)req->path; *p; p++)
        if (is_ctl(*p))
            return mlw_err_set(err, MLW_EINVAL,
                               "sigv4: control byte in request path");
    if (req->n_headers > 0 && req->headers == NULL)
        return mlw_err_set(err, MLW_EINVAL, "sigv4: headers missing");
    if (req->n_headers > SIZE_MAX / sizeof(struct hentry) - 4)
        return mlw_err_set(err, MLW_EINVAL, "sigv4: too many headers");
    if (req->payload == NULL && req->payload_len > 0)
        return mlw_err_set(err, MLW_EINVAL, "sigv4: payload missing");
    if (req->payload_hash != NULL && !valid_token(req->payload_hash))
        return mlw_err_set(err, MLW_EINVAL, "sigv4: invalid payload hash");
    if (!valid_amz_date(amz_date))
        return mlw_err_set(err, MLW_EINVAL,
                           "sigv4: amz_date is not YYYYMMDDTHHMMSSZ");
    if (!valid_scope_part(region) || !valid_scope_part(service))
        return mlw_err_set(err, MLW_EINVAL,
                           "sigv4: region and service must be non-empty, "
                           "without '/', ',', spaces or control bytes");
    if (!valid_scope_part(cred->access_key_id))
        return mlw_err_set(err, MLW_EINVAL, "sigv4: invalid access key id");
    if (cred->secret_access_key == NULL || *cred->secret_access_key == '\0')
        return mlw_err_set(err, MLW_EINVAL, "sigv4: empty secret access key");
    if (cred->session_token != NULL &&
        (!valid_field_text(cred->session_token) ||
         strpbrk(cred->session_token, " \t") != NULL))
        return mlw_err_set(err, MLW_EINVAL,
                           "sigv4: session token contains blanks or "
                           "control bytes");
    return MLW_OK;
}

/* Work state of one sigv4_sign() call; everything here is freed by
 * sign_state_free() on every path. */
struct sign_state {
    const struct sigv4_request *req;
    const char *amz_date;
    const char *token;          /* NULL when none */
    int token_unsigned;
    struct hentry *hs;          /* signed headers, sorted in step 3 */
    size_t nh;
    int have_host, have_date, have_token;
    char *hdr_payload_hash;     /* trimmed X-Amz-Content-SHA256, or NULL */
    char payload_hex[SIGV4_HEX_LEN + 1];
    struct sb creq, sts, scope, signed_hdrs, authz;
};

static void sign_state_free(struct sign_state *st)
{
    for (size_t i = 0; i < st->nh; i++)
        free(st->hs[i].lname);
    free(st->hs);
    free(st->hdr_payload_hash);
    sb_free(&st->creq);
    sb_free(&st->sts);
    sb_free(&st->scope);
    sb_free(&st->signed_hdrs);
    sb_free(&st->authz);
}

/* Step 1: the request's headers that get signed, lowercased, checking the
 * ones with a meaning of their own. */
static int collect_headers(struct sign_state *st, struct mlw_err *err)
{
    const struct sigv4_request *req = st->req;
    int oom = 0;

    /* Room for the three headers the signer may add. */
    st->hs = calloc(req->n_headers + 3, sizeof *st->hs);
    if (st->hs == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "sigv4: out of memory");
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct sigv4_header *h = &req->headers[i];
        if (!valid_token(h->name))
            return mlw_err_set(err, MLW_EINVAL, "sigv4: invalid header name");
        if (h->value == NULL || !valid_field_text(h->value))
            return mlw_err_set(err, MLW_EINVAL,
                               "sigv4: header %.64s: missing value or control "
                               "byte (CR/LF) in value",
                               h->name);
        char *lname = lower_dup(h->name);
        if (lname == NULL)
            return mlw_err_set(err, MLW_ENOMEM, "sigv4: out of memory");
        if (is_unsigned_header(lname)) {
            free(lname);
            continue;
        }
        st->hs[st->nh].lname = lname;
        st->hs[st->nh].value = h->value;
        st->hs[st->nh].order = i;
        st->nh++;

        if (strcmp(lname, "authorization") == 0) {
            return mlw_err_set(err, MLW_EINVAL,
                               "sigv4: request already has an Authorization "
                               "header");
        } else if (strcmp(lname, "host") == 0) {
            st->have_host = 1;
        } else if (strcmp(lname, "x-amz-date") == 0) {
            if (st->have_date || !trimmed_equals(h->value, st->amz_date, &oom))
                return oom ? mlw_err_set(err, MLW_ENOMEM,
                                         "sigv4: out of memory")
                           : mlw_err_set(err, MLW_EINVAL,
                                         "sigv4: X-Amz-Date header repeated "
                                         "or not the signing time %s",
                                         st->amz_date);
            st->have_date = 1;
        } else if (strcmp(lname, "x-amz-security-token") == 0 && st->token) {
            if (st->token_unsigned)
                return mlw_err_set(err, MLW_EINVAL,
                                   "sigv4: X-Amz-Security-Token header "
                                   "present but the token is to be added "
                                   "unsigned");
            if (st->have_token || !trimmed_equals(h->value, st->token, &oom))
                return oom ? mlw_err_set(err, MLW_ENOMEM,
                                         "sigv4: out of memory")
                           : mlw_err_set(err, MLW_EINVAL,
                                         "sigv4: X-Amz-Security-Token header "
                                         "differs from the session token");
            st->have_token = 1;
        } else if (strcmp(lname, "x-amz-content-sha256") == 0) {
            if (st->hdr_payload_hash != NULL)
                return mlw_err_set(err, MLW_EINVAL,
                                   "sigv4: X-Amz-Content-SHA256 given twice");
            struct sb t = {0};
            sb_put_trimmed(&t, h->value);
            st->hdr_payload_hash = sb_take(&t);
            if (st->hdr_payload_hash == NULL)
                return mlw_err_set(err, MLW_ENOMEM, "sigv4: out of memory");
            if (!valid_token(st->hdr_payload_hash))
                return mlw_err_set(err, MLW_EINVAL,
                                   "sigv4: invalid X-Amz-Content-SHA256 "
                                   "header");
        }
    }
    if (!st->have_host)
        return mlw_err_set(err, MLW_EINVAL,
                           "sigv4: request has no Host header");
    return MLW_OK;
}

/* Step 2: the payload hash - given, else the request's
 * X-Amz-Content-SHA256, else computed - into out->payload_hash. */
static int resolve_payload_hash(struct sign_state *st,
                                struct sigv4_result *out, struct mlw_err *err)
{
    const char *hash = st->req->payload_hash;
    if (hash != NULL && st->hdr_payload_hash != NULL &&
        strcmp(hash, st->hdr_payload_hash) != 0)
        return mlw_err_set(err, MLW_EINVAL,
                           "sigv4: X-Amz-Content-SHA256 header differs from "
                           "the payload hash given");
    if (hash == NULL)
        hash = st->hdr_payload_hash;
    if (hash == NULL) {
        int rc = sigv4_sha256_hex(st->req->payload, st->req->payload_len,
                                  st->payload_hex, err);
        if (rc != MLW_OK)
            return rc;
        hash = st->payload_hex;
    }
    out->payload_hash = strdup(hash);
    if (out->payload_hash == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "sigv4: out of memory");
    return MLW_OK;
}

/* Step 3: the headers the signer adds, in out->add order (date, content
 * hash, token); the signed ones join st->hs, which is then sorted. */
static int add_signer_headers(struct sign_state *st, struct sigv4_result *out,
                              struct mlw_err *err)
{
    static const char *const lnames[3] = {
        "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"};
    static const char *const names[3] = {
        "X-Amz-Date", "X-Amz-Content-SHA256", "X-Amz-Security-Token"};
    const char *values[3] = {st->amz_date, out->payload_hash, st->token};
    const int needed[3] = {
        !st->have_date,
        (st->req->flags & SIGV4_FLAG_CONTENT_SHA256) &&
            st->hdr_payload_hash == NULL,
        st->token != NULL && !st->have_token};
    const int is_signed[3] = {1, 1, !st->token_unsigned};

    for (int k = 0; k < 3; k++) {
        if (!needed[k])
            continue;
        int rc = add_header(out, names[k], values[k], err);
        if (rc != MLW_OK)
            return rc;
        if (!is_signed[k])
            continue;
        st->hs[st->nh].lname = strdup(lnames[k]);
        if (st->hs[st->nh].lname == NULL)
            return mlw_err_set(err, MLW_ENOMEM, "sigv4: out of memory");
        st->hs[st->nh].value = values[k];
        st->hs[st->nh].order = st->req->n_headers + (size_t)k;
        st->nh++;
    }
    qsort(st->hs, st->nh, sizeof *st->hs, hentry_cmp);
    return MLW_OK;
}

/* Step 4: canonical request (and the signed-headers list) into st. */
static int build_canonical_request(struct sign_state *st, int s3,
                                   const char *payload_hash,
                                   struct mlw_err *err)
{
    const char *path = st->req->path;
    const char *qmark = strchr(path, '?');
    size_t path_len = qmark ? (size_t)(qmark - path) : strlen(path);

    sb_puts(&st->creq, st->req->method);
    sb_putc(&st->creq, '\n');
    int rc = build_canonical_uri(&st->creq, path, path_len, s3, err);
    if (rc != MLW_OK)
        return rc;
    sb_putc(&st->creq, '\n');
    if (qmark != NULL) {
        rc = build_canonical_query(&st->creq, qmark + 1, strlen(qmark + 1),
                                   err);
        if (rc != MLW_OK)
            return rc;
    }
    sb_putc(&st->creq, '\n');
    for (size_t i = 0; i < st->nh; i++) {
        const char *name = st->hs[i].lname;
        if (i == 0 || strcmp(name, st->hs[i - 1].lname) != 0) {
            if (i > 0) {
                sb_putc(&st->creq, '\n');
                sb_putc(&st->signed_hdrs, ';');
            }
            sb_puts(&st->creq, name);
            sb_putc(&st->creq, ':');
            sb_puts(&st->signed_hdrs, name);
        } else {
            sb_putc(&st->creq, ','); /* repeated header: values in order */
        }
        sb_put_trimmed(&st->creq, st->hs[i].value);
    }
    sb_puts(&st->creq, "\n\n");
    if (st->signed_hdrs.p != NULL)
        sb_putn(&st->creq, st->signed_hdrs.p, st->signed_hdrs.len);
    sb_putc(&st->creq, '\n');
    sb_puts(&st->creq, payload_hash);
    if (st->creq.oom || st->signed_hdrs.oom)
        return mlw_err_set(err, MLW_ENOMEM, "sigv4: out of memory");
    return MLW_OK;
}

int sigv4_sign(const struct sigv4_request *req,
               const struct sigv4_credentials *cred, const char *region,
               const char *service, const char *amz_date,
               struct sigv4_result *out, struct mlw_err *err)
{
    if (out == NULL)
        return mlw_err_set(err, MLW_EINVAL, "sigv4: no result");
    memset(out, 0, sizeof *out);
    int rc = check_args(req, cred, region, service, amz_date, err);
    if (rc != MLW_OK)
        return rc;

    struct sign_state st;
    memset(&st, 0, sizeof st);
    st.req = req;
    st.amz_date = amz_date;
    st.token = (cred->session_token && *cred->session_token)
                   ? cred->session_token
                   : NULL;
    st.token_unsigned = (req->flags & SIGV4_FLAG_TOKEN_UNSIGNED) != 0;
    const int s3 = (req->flags & SIGV4_FLAG_S3_PATH) != 0 ||
                   strcmp(service, "s3") == 0;
    char date8[9];
    memcpy(date8, amz_date, 8);
    date8[8] = '\0';
    char creq_hash[SIGV4_HEX_LEN + 1];
    unsigned char signing_key[SIGV4_KEY_LEN], sig[SIGV4_KEY_LEN];

    rc = collect_headers(&st, err);
    if (rc == MLW_OK)
        rc = resolve_payload_hash(&st, out, err);
    if (rc == MLW_OK)
        rc = add_signer_headers(&st, out, err);
    if (rc == MLW_OK)
        rc = build_canonical_request(&st, s3, out->payload_hash, err);
    if (rc != MLW_OK)
        goto done;

    /* 5. String to sign. */
    sb_puts(&st.scope, date8);
    sb_putc(&st.scope, '/');
    sb_puts(&st.scope, region);
    sb_putc(&st.scope, '/');
    sb_puts(&st.scope, service);
    sb_puts(&st.scope, "/aws4_request");
    if (st.scope.oom) {
        rc = mlw_err_set(err, MLW_ENOMEM, "sigv4: out of memory");
        goto done;
    }
    rc = sigv4_sha256_hex(st.creq.p, st.creq.len, creq_hash, err);
    if (rc != MLW_OK)
        goto done;
    sb_puts(&st.sts, SIGV4_ALGORITHM "\n");
    sb_puts(&st.sts, amz_date);
    sb_putc(&st.sts, '\n');
    sb_putn(&st.sts, st.scope.p, st.scope.len);
    sb_putc(&st.sts, '\n');
    sb_puts(&st.sts, creq_hash);
    if (st.sts.oom) {
        rc = mlw_err_set(err, MLW_ENOMEM, "sigv4: out of memory");
        goto done;
    }

    /* 6. Signature = hex(HMAC(signing key, string to sign)). */
    rc = sigv4_signing_key(cred->secret_access_key, date8, region, service,
                           signing_key, err);
    if (rc == MLW_OK)
        rc = hmac_sha256(signing_key, sizeof signing_key, st.sts.p,
                         st.sts.len, sig, err);
    OPENSSL_cleanse(signing_key, sizeof signing_key);
    if (rc != MLW_OK)
        goto done;
    hex_lower(sig, sizeof sig, out->signature);

    /* 7. Authorization header value. */
    sb_puts(&st.authz, SIGV4_ALGORITHM " Credential=");
    sb_puts(&st.authz, cred->access_key_id);
    sb_putc(&st.authz, '/');
    sb_putn(&st.authz, st.scope.p, st.scope.len);
    sb_puts(&st.authz, ", SignedHeaders=");
    sb_putn(&st.authz, st.signed_hdrs.p, st.signed_hdrs.len);
    sb_puts(&st.authz, ", Signature=");
    sb_puts(&st.authz, out->signature);

    out->canonical_request = sb_take(&st.creq);
    out->string_to_sign = sb_take(&st.sts);
    out->credential_scope = sb_take(&st.scope);
    out->signed_headers = sb_take(&st.signed_hdrs);
    out->authorization = sb_take(&st.authz);
    if (out->canonical_request == NULL || out->string_to_sign == NULL ||
        out->credential_scope == NULL || out->signed_headers == NULL ||
        out->authorization == NULL) {
        rc = mlw_err_set(err, MLW_ENOMEM, "sigv4: out of memory");
        goto done;
    }
    rc = add_header(out, "Authorization", out->authorization, err);

done:
    sign_state_free(&st);
    if (rc != MLW_OK)
        sigv4_result_free(out);
    return rc;
}
