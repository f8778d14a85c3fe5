/*
 * sqs.c - Amazon SQS over the AWS JSON 1.0 protocol (see sqs.h).
 *
 * One call = build the JSON body (cJSON) -> sign it (sigv4.c) -> POST it on
 * the client's one curl handle -> classify the answer -> parse the JSON.
 * Retryable failures (network errors, throttling, 5xx, truncated answers)
 * are retried here with exponential backoff and full jitter; everything
 * else goes back to the caller as a typed status.
 */
#include "queue/sqs.h"

#include <curl/curl.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/signals.h"
#include "queue/aws_credentials.h"
#include "queue/sigv4.h"
#include "queue/sqs_parse.h"

#define SQS_MAX_RESPONSE (16u << 20)
#define SQS_BACKOFF_BASE 0.2 /* seconds, first retry waits up to this */
#define SQS_BACKOFF_CAP 8.0

/* Internal status: the keys expired; refresh and retry. */
#define SQS_EXPIRED 1

struct sqs_client {
    CURL *curl;
    struct aws_cred_chain *creds;
    int (*stop_fn)(void);
    char *queue_url;
    char *endpoint;      /* scheme://host[:port][/path] without trailing '/' */
    char *host_header;   /* host[:port] as signed */
    char *path;          /* request target, "/" or the endpoint's path */
    char region[64];
    char cred_source[48];
    uint64_t rng;
    long long retries;   /* attempts beyond the first, all calls */
    /* Per request: */
    char query_error[160]; /* x-amzn-query-error header */
    char request_id[96];
    int got_header;
    int abortable;
};

struct membuf {
    char *p;
    size_t n, cap;
};

/* ---- small helpers ---- */

static size_t membuf_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct membuf *b = ud;
    size_t add = size * nmemb;
    if (b->n + add + 1 > SQS_MAX_RESPONSE)
        return 0;
    if (b->n + add + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + add + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q)
            return 0;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, add);
    b->n += add;
    b->p[b->n] = '\0';
    return add;
}

static char *xstrdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

static double rand01(struct sqs_client *c)
{
    /* xorshift64*: jitter only, not security. */
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return (double)((c->rng * UINT64_C(2685821657736338717)) >> 11) / 9007199254740992.0;
}

/* Sleep up to seconds; 1 if a stop was requested (the sleep ends early). */
static int sleep_stoppable(struct sqs_client *c, double seconds)
{
    if (c->stop_fn == signals_stop_requested)
        return signals_sleep(seconds);
    while (seconds > 0) {
        if (c->stop_fn && c->stop_fn())
            return 1;
        double step = seconds < 0.05 ? seconds : 0.05;
        struct timespec ts = {0, (long)(step * 1e9)};
        nanosleep(&ts, NULL);
        seconds -= step;
    }
    return c->stop_fn && c->stop_fn();
}

void sqs_md5_hex(const void *data, size_t len, char hex[SQS_MD5_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    hex[0] = '\0';
    if (EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) != 1 || mdlen != 16)
        return;
    for (unsigned i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* ---- pure helpers ---- */

static int attr_cmp(const void *a, const void *b)
{
    const struct sqs_attr *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

static int put_field(EVP_MD_CTX *ctx, const void *p, size_t n)
{
    unsigned char len[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                            (unsigned char)(n >> 8), (unsigned char)n};
    return EVP_DigestUpdate(ctx, len, 4) == 1 && (n == 0 || EVP_DigestUpdate(ctx, p, n) == 1);
}

int sqs_md5_of_attributes(const struct sqs_attr *attrs, size_t n, char hex[SQS_MD5_HEX],
                          struct mlw_err *err)
{
    hex[0] = '\0';
    if (n == 0)
        return MLW_OK;
    const struct sqs_attr **sorted = malloc(n * sizeof *sorted);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *bin = NULL;
    int rc = MLW_OK;
    if (!sorted || !ctx) {
        rc = mlw_err_set(err, MLW_ENOMEM, "out of memory for the attributes MD5");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        sorted[i] = &attrs[i];
    qsort(sorted, n, sizeof *sorted, attr_cmp);
    if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1) {
        rc = mlw_err_set(err, MLW_EUNSUPPORTED, "MD5 unavailable in libcrypto");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct sqs_attr *a = sorted[i];
        if (!a->name || !a->data_type || !a->value) {
            rc = mlw_err_set(err, MLW_EINVAL, "message attribute without name, type or value");
            goto out;
        }
        int binary = !strncmp(a->data_type, "Binary", 6);
        unsigned char transport = binary ? 2 : 1;
        if (!put_field(ctx, a->name, strlen(a->name)) ||
            !put_field(ctx, a->data_type, strlen(a->data_type)) ||
            EVP_DigestUpdate(ctx, &transport, 1) != 1) {
            rc = mlw_err_set(err, MLW_EUNSUPPORTED, "MD5 update failed");
            goto out;
        }
        if (binary) {
            size_t vl = strlen(a->value);
            if (vl % 4 != 0 || vl > INT32_MAX) {
                rc = mlw_err_set(err, MLW_EINVAL, "attribute %s: Binary value is not base64", a->name);
                goto out;
            }
            free(bin);
            bin = malloc(vl / 4 * 3 + 1);
            if (!bin) {
                rc = mlw_err_set(err, MLW_ENOMEM, "out of memory for the attributes MD5");
                goto out;
            }
            int got = EVP_DecodeBlock(bin, (const unsigned char *)a->value, (int)vl);
            if (got < 0) {
                rc = mlw_err_set(err, MLW_EINVAL, "attribute %s: Binary value is not base64", a->name);
                goto out;
            }
            size_t pad = (vl >= 1 && a->value[vl - 1] == '=') + (vl >= 2 && a->value[vl - 2] == '=');
            if (!put_field(ctx, bin, (size_t)got - pad)) {
                rc = mlw_err_set(err, MLW_EUNSUPPORTED, "MD5 update failed");
                goto out;
            }
        } else if (!put_field(ctx, a->value, strlen(a->value))) {
            rc = mlw_err_set(err, MLW_EUNSUPPORTED, "MD5 update failed");
            goto out;
        }
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 16) {
        rc = mlw_err_set(err, MLW_EUNSUPPORTED, "MD5 final failed");
        goto out;
    }
    for (unsigned i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
out:
    free(bin);
    free(sorted);
    EVP_MD_CTX_free(ctx);
    return rc;
}

void sqs_region_from_url(const char *queue_url, char *out, size_t out_len)
{
    out[0] = '\0';
    const char *h = strstr(queue_url ? queue_url : "", "://");
    if (!h)
        return;
    h += 3;
    size_t hl = strcspn(h, ":/?#");
    char host[256];
    if (hl == 0 || hl >= sizeof host)
        return;
    memcpy(host, h, hl);
    host[hl] = '\0';
    for (char *p = host; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    /* sqs.<region>.amazonaws.com[.cn], sqs-fips.<region>..., <region>.queue.amazonaws.com */
    const char *r = NULL;
    size_t rl = 0;
    if (!strncmp(host, "sqs.", 4) || !strncmp(host, "sqs-fips.", 9)) {
        r = strchr(host, '.') + 1;
        rl = strcspn(r, ".");
        if (!strstr(r + rl, ".amazonaws.com"))
            r = NULL;
    } else {
        char *q = strstr(host, ".queue.amazonaws.com");
        if (q) {
            r = host;
            rl = (size_t)(q - host);
            if (memchr(r, '.', rl))
                r = NULL;
        } else if (!strcmp(host, "queue.amazonaws.com")) {
            r = "us-east-1";
            rl = 9;
        }
    }
    if (r && rl > 0 && rl < out_len) {
        memcpy(out, r, rl);
        out[rl] = '\0';
    }
}

static int classify(const char *code, long http_status)
{
    static const char *const transient[] = {
        "ThrottlingException", "Throttling", "ThrottledException", "RequestThrottled",
        "RequestThrottledException", "TooManyRequestsException", "RequestLimitExceeded",
        "BandwidthLimitExceeded", "SlowDown", "ServiceUnavailable", "ServiceUnavailableException",
        "InternalError", "InternalFailure", "InternalServerError", "RequestTimeout",
        "RequestTimeoutException", "KmsThrottled", "PriorRequestNotComplete",
        "AWS.SimpleQueueService.RequestThrottled", "EC2ThrottledException"};
    static const char *const fatal[] = {
        "AccessDenied", "AccessDeniedException", "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue", "NonExistentQueue", "InvalidClientTokenId",
        "UnrecognizedClientException", "SignatureDoesNotMatch", "InvalidSignatureException",
        "IncompleteSignature", "MissingAuthenticationToken", "MissingAuthenticationTokenException",
        "InvalidSecurity", "AuthFailure", "OptInRequired", "KmsAccessDenied", "KmsDisabled",
        "KmsNotFound", "KmsInvalidState", "KmsInvalidKeyUsage", "QueueDeletedRecently",
        "AWS.SimpleQueueService.QueueDeletedRecently", "InvalidAddress"};
    static const char *const expired[] = {"ExpiredToken", "ExpiredTokenException",
                                          "RequestExpired", "TokenRefreshRequired"};
    if (code && *code) {
        for (size_t i = 0; i < sizeof expired / sizeof expired[0]; i++)
            if (!strcmp(code, expired[i]))
                return SQS_EXPIRED;
        for (size_t i = 0; i < sizeof transient / sizeof transient[0]; i++)
            if (!strcmp(code, transient[i]))
                return MLW_ETRANSIENT;
        for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
            if (!strcmp(code, fatal[i]))
                return MLW_EFATAL;
    }
    if (http_status >= 500 || http_status == 429)
        return MLW_ETRANSIENT;
    if (http_status == 401 || http_status == 403)
        return MLW_EFATAL;
    return MLW_EINVAL;
}

int sqs_classify_error(const char *code, long http_status)
{
    int c = classify(code, http_status);
    return c == SQS_EXPIRED ? MLW_ETRANSIENT : c;
}

/* ---- client ---- */

void sqs_parse_header(const char *data, size_t n, char *query_error, size_t qe_len,
                      char *request_id, size_t rid_len)
{
    static const char qe[] = "x-amzn-query-error:", rid[] = "x-amzn-requestid:";
    char *dst = NULL;
    size_t dst_len = 0, skip = 0;
    if (n > sizeof qe - 1 && !strncasecmp(data, qe, sizeof qe - 1)) {
        dst = query_error;
        dst_len = qe_len;
        skip = sizeof qe - 1;
    } else if (n > sizeof rid - 1 && !strncasecmp(data, rid, sizeof rid - 1)) {
        dst = request_id;
        dst_len = rid_len;
        skip = sizeof rid - 1;
    }
    if (dst && dst_len > 0) {
        const char *b = data + skip, *e = data + n;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
            e--;
        size_t l = (size_t)(e - b) < dst_len - 1 ? (size_t)(e - b) : dst_len - 1;
        memcpy(dst, b, l);
        dst[l] = '\0';
    }
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct sqs_client *c = ud;
    size_t n = size * nmemb;
    c->got_header = 1;
    sqs_parse_header(data, n, c->query_error, sizeof c->query_error, c->request_id,
                     sizeof c->request_id);
    return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)ultotal;
    (void)ulnow;
    struct sqs_client *c = ud;
    /* Abandon a long poll only while no answer has begun to arrive: once
     * it has, the messages in it are ours and must be released, not lost. */
    if (c->abortable && !c->got_header && dlnow == 0 && c->stop_fn && c->stop_fn())
        return 1;
    return 0;
}

static const char *env_nonempty(const char *(*getenv_fn)(const char *), const char *name)
{
    const char *v = getenv_fn(name);
    return (v && *v) ? v : NULL;
}

/* Split a URL into endpoint pieces. keep_path: use the URL's path as the
 * request target (an endpoint override may carry one); a queue URL's path
 * names the queue, and requests go to "/". */
static int parse_endpoint(struct sqs_client *c, const char *url, int keep_path,
                          struct mlw_err *err)
{
    CURLU *u = curl_url();
    if (!u)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    int rc = MLW_OK;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        rc = mlw_err_set(err, MLW_EINVAL, "'%s' is not a valid http(s) URL", url);
        goto out;
    }
    if (strcasecmp(scheme, "https") != 0 && strcasecmp(scheme, "http") != 0) {
        rc = mlw_err_set(err, MLW_EINVAL, "'%s': only https:// (or http:// for local emulators) "
                                          "is supported", url);
        goto out;
    }
    curl_url_get(u, CURLUPART_PORT, &port, 0); /* only when explicit */
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    for (char *p = host; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    int default_port = port && ((!strcasecmp(scheme, "https") && !strcmp(port, "443")) ||
                                (!strcasecmp(scheme, "http") && !strcmp(port, "80")));
    size_t hl = strlen(host) + (port ? strlen(port) + 1 : 0) + 1;
    free(c->host_header);
    c->host_header = malloc(hl);
    if (!c->host_header) {
        rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
        goto out;
    }
    if (port && !default_port)
        snprintf(c->host_header, hl, "%s:%s", host, port);
    else
        snprintf(c->host_header, hl, "%s", host);
    size_t el = strlen(scheme) + 3 + hl;
    free(c->endpoint);
    c->endpoint = malloc(el);
    if (!c->endpoint) {
        rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(c->endpoint, el, "%s://%s", scheme, c->host_header);
    free(c->path);
    c->path = xstrdup(keep_path && path && *path ? path : "/");
    if (!c->path)
        rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
    return rc;
}

int sqs_open(const char *queue_url, const char *(*getenv_fn)(const char *),
             const char *default_region, struct sqs_client **out, struct mlw_err *err)
{
    *out = NULL;
    if (!queue_url || !*queue_url)
        return mlw_err_set(err, MLW_EINVAL, "no queue URL (ML_WORKER_SQS_QUEUE_URL)");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return mlw_err_set(err, MLW_EUNSUPPORTED, "curl_global_init failed");
    struct sqs_client *c = calloc(1, sizeof *c);
    if (!c)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    c->stop_fn = signals_stop_requested;
    c->rng = (uint64_t)time(NULL) * UINT64_C(0x9E3779B97F4A7C15) ^ (uint64_t)getpid() ^ (uintptr_t)c;
    if (!c->rng)
        c->rng = 1;
    int rc;
    c->queue_url = xstrdup(queue_url);
    if (!c->queue_url) {
        rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
        goto fail;
    }
    const char *ep = env_nonempty(getenv_fn, "AWS_ENDPOINT_URL_SQS");
    if (!ep)
        ep = env_nonempty(getenv_fn, "AWS_ENDPOINT_URL");
    if ((rc = parse_endpoint(c, queue_url, 0, err)) != MLW_OK)
        goto fail;
    if (ep && (rc = parse_endpoint(c, ep, 1, err)) != MLW_OK)
        goto fail;

    const char *r = env_nonempty(getenv_fn, "AWS_REGION");
    if (!r)
        r = env_nonempty(getenv_fn, "AWS_DEFAULT_REGION");
    if (r)
        snprintf(c->region, sizeof c->region, "%s", r);
    else {
        sqs_region_from_url(queue_url, c->region, sizeof c->region);
        if (!c->region[0])
            snprintf(c->region, sizeof c->region, "%s", default_region ? default_region : "us-east-1");
    }
    if ((rc = aws_cred_chain_init(&c->creds, getenv_fn, err)) != MLW_OK)
        goto fail;
    c->curl = curl_easy_init();
    if (!c->curl) {
        rc = mlw_err_set(err, MLW_ENOMEM, "curl_easy_init failed");
        goto fail;
    }
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    const char *ca = env_nonempty(getenv_fn, "AWS_CA_BUNDLE");
    if (ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, ca);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, membuf_write);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "mlworker/" MLW_VERSION);
    *out = c;
    return MLW_OK;
fail:
    sqs_close(c);
    return rc;
}

void sqs_close(struct sqs_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    aws_cred_chain_free(c->creds);
    free(c->queue_url);
    free(c->endpoint);
    free(c->host_header);
    free(c->path);
    free(c);
}

const char *sqs_region(const struct sqs_client *c) { return c->region; }
const char *sqs_endpoint(const struct sqs_client *c) { return c->endpoint; }
const char *sqs_credentials_source(const struct sqs_client *c) { return c->cred_source; }
void sqs_set_stop_fn(struct sqs_client *c, int (*stop_fn)(void)) { c->stop_fn = stop_fn; }
long long sqs_retry_count(const struct sqs_client *c) { return c->retries; }

/* One signed POST. Returns MLW_OK with the HTTP status and body, or a
 * transport status (MLW_ETRANSIENT for network trouble, MLW_ESTOPPED). */
static int post_once(struct sqs_client *c, const char *action, const char *body, long timeout_ms,
                     int abortable, int force_refresh, long *status, struct membuf *resp,
                     struct mlw_err *err)
{
    const struct aws_credentials *cr = NULL;
    int rc = aws_cred_chain_get(c->creds, force_refresh, &cr, err);
    if (rc != MLW_OK)
        return rc;
    snprintf(c->cred_source, sizeof c->cred_source, "%s", cr->source);

    char target[96], amz_date[SIGV4_AMZ_DATE_LEN + 1];
    snprintf(target, sizeof target, "AmazonSQS.%s", action);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
    struct sigv4_header hdrs[] = {{"Host", c->host_header},
                                  {"Content-Type", "application/x-amz-json-1.0"},
                                  {"X-Amz-Target", target}};
    struct sigv4_request req = {.method = "POST", .path = c->path, .headers = hdrs,
                                .n_headers = 3, .payload = body, .payload_len = strlen(body)};
    struct sigv4_credentials sc = {cr->access_key_id, cr->secret_access_key, cr->session_token};
    struct sigv4_result sig = {0};
    if ((rc = sigv4_sign(&req, &sc, c->region, "sqs", amz_date, &sig, err)) != MLW_OK)
        return rc;

    struct curl_slist *hl = NULL;
    char line[8192];
    int oom = 0;
    for (size_t i = 0; i < 3 + sig.n_add + 1 && !oom; i++) {
        if (i < 3)
            snprintf(line, sizeof line, "%s: %s", hdrs[i].name, hdrs[i].value);
        else if (i < 3 + sig.n_add)
            snprintf(line, sizeof line, "%s: %s", sig.add[i - 3].name, sig.add[i - 3].value);
        else
            snprintf(line, sizeof line, "Expect:");
        struct curl_slist *t = curl_slist_append(hl, line);
        if (!t)
            oom = 1;
        else
            hl = t;
    }
    memset(line, 0, sizeof line);
    sigv4_result_free(&sig);
    if (oom) {
        curl_slist_free_all(hl);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory for request headers");
    }

    char url[2048], ebuf[CURL_ERROR_SIZE] = "";
    snprintf(url, sizeof url, "%s%s", c->endpoint, c->path);
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
    c->query_error[0] = c->request_id[0] = '\0';
    c->got_header = 0;
    c->abortable = abortable;
    CURLcode cc = curl_easy_perform(h);
    c->abortable = 0;
    *status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hl);
    if (cc == CURLE_ABORTED_BY_CALLBACK)
        return mlw_err_set(err, MLW_ESTOPPED, "%s: stopped while waiting", action);
    if (cc != CURLE_OK)
        return mlw_err_set(err, MLW_ETRANSIENT, "%s: %s%s%s", action, curl_easy_strerror(cc),
                           ebuf[0] ? ": " : "", ebuf);
    return MLW_OK;
}

/*
 * Call an action: body is the JSON request; on MLW_OK *out holds the
 * parsed answer (caller cJSON_Delete()s it).
 */
static int call(struct sqs_client *c, const char *action, cJSON *req, long timeout_ms,
                int abortable, cJSON **out, struct mlw_err *err)
{
    *out = NULL;
    char *body = cJSON_PrintUnformatted(req);
    if (!body)
        return mlw_err_set(err, MLW_ENOMEM, "%s: out of memory building the request", action);
    int rc = MLW_ETRANSIENT, force_refresh = 0;
    struct mlw_err last = {0};
    for (int attempt = 0; attempt < SQS_MAX_ATTEMPTS; attempt++) {
        if (attempt > 0) {
            c->retries++;
            double cap = SQS_BACKOFF_BASE * (double)(1u << attempt);
            if (cap > SQS_BACKOFF_CAP)
                cap = SQS_BACKOFF_CAP;
            if (sleep_stoppable(c, cap * rand01(c)) && abortable) {
                rc = MLW_ESTOPPED;
                mlw_err_clear(&last);
                mlw_err_set(&last, rc, "%s: stopped during retry backoff", action);
                break;
            }
        }
        struct membuf resp = {0};
        long status = 0;
        mlw_err_clear(&last);
        rc = post_once(c, action, body, timeout_ms, abortable, force_refresh, &status, &resp, &last);
        force_refresh = 0;
        if (rc == MLW_ETRANSIENT) {
            free(resp.p);
            continue;
        }
        if (rc != MLW_OK) {
            free(resp.p);
            break;
        }
        cJSON *j = sqs_parse_body(resp.p, resp.n);
        if (status == 200) {
            free(resp.p);
            if (!j || !cJSON_IsObject(j)) {
                cJSON_Delete(j);
                rc = MLW_ETRANSIENT;
                mlw_err_set(&last, rc, "%s: truncated or malformed answer (HTTP 200)", action);
                continue;
            }
            *out = j;
            free(body);
            return MLW_OK;
        }
        /* An AWS error: __type "prefix#Code" (or a query-error header). */
        char code[160] = "";
        const char *msg = "";
        sqs_parse_error(j, c->query_error, code, sizeof code, &msg);
        int cls = classify(code, status);
        if (cls == SQS_EXPIRED) {
            force_refresh = 1;
            cls = MLW_ETRANSIENT;
        }
        rc = cls;
        mlw_err_set(&last, rc, "%s: HTTP %ld %s%s%.200s%s%s", action, status,
                    code[0] ? code : "(no error code)", msg[0] ? ": " : "", msg,
                    c->request_id[0] ? " request-id " : "", c->request_id);
        cJSON_Delete(j);
        free(resp.p);
        if (rc != MLW_ETRANSIENT)
            break;
    }
    free(body);
    if (rc == MLW_ETRANSIENT)
        return mlw_err_set(err, rc, "%s (gave up after %d attempts)", last.msg, SQS_MAX_ATTEMPTS);
    if (rc == MLW_EFATAL && strstr(last.msg, "NonExistentQueue"))
        return mlw_err_set(err, rc, "%s - the queue %s does not exist (check "
                                    "ML_WORKER_SQS_QUEUE_URL and the region)", last.msg, c->queue_url);
    if (rc == MLW_EFATAL && strstr(last.msg, "QueueDoesNotExist"))
        return mlw_err_set(err, rc, "%s - the queue %s does not exist (check "
                                    "ML_WORKER_SQS_QUEUE_URL and the region)", last.msg, c->queue_url);
    if (rc == MLW_EFATAL)
        return mlw_err_set(err, rc, "%s - check the IAM permissions and credentials (%s)", last.msg,
                           c->cred_source[0] ? c->cred_source : "no credentials source");
    return mlw_err_set(err, rc, "%s", last.msg);
}

static cJSON *req_new(struct sqs_client *c)
{
    cJSON *r = cJSON_CreateObject();
    if (r && !cJSON_AddStringToObject(r, "QueueUrl", c->queue_url)) {
        cJSON_Delete(r);
        return NULL;
    }
    return r;
}

static int oom(struct mlw_err *err, const char *action)
{
    return mlw_err_set(err, MLW_ENOMEM, "%s: out of memory", action);
}

static char *dup_item(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? xstrdup(v->valuestring) : NULL;
}

static void copy_md5(char dst[SQS_MD5_HEX], const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    snprintf(dst, SQS_MD5_HEX, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

/* ---- answer parsers (sqs_parse.h) ---- */

cJSON *sqs_parse_body(const char *p, size_t n)
{
    return p ? cJSON_ParseWithLength(p, n) : NULL;
}

void sqs_parse_error(const cJSON *j, const char *query_error, char *code, size_t code_len,
                     const char **msg)
{
    *msg = "";
    if (code_len == 0)
        return;
    code[0] = '\0';
    if (query_error && query_error[0]) {
        size_t l = strcspn(query_error, ";");
        snprintf(code, code_len, "%.*s", (int)l, query_error);
    }
    const cJSON *ty = j ? cJSON_GetObjectItemCaseSensitive(j, "__type") : NULL;
    if (!code[0] && cJSON_IsString(ty)) {
        const char *hash = strrchr(ty->valuestring, '#');
        snprintf(code, code_len, "%s", hash ? hash + 1 : ty->valuestring);
    }
    const cJSON *m = j ? cJSON_GetObjectItemCaseSensitive(j, "message") : NULL;
    if (!m && j)
        m = cJSON_GetObjectItemCaseSensitive(j, "Message");
    if (cJSON_IsString(m))
        *msg = m->valuestring;
}

/* ---- actions ---- */

void sqs_messages_free(struct sqs_messages *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        struct sqs_message *x = &m->items[i];
        free(x->message_id);
        free(x->receipt_handle);
        free(x->body);
        for (size_t k = 0; k < x->n_attrs; k++) {
            free(x->attrs[k].name);
            free(x->attrs[k].data_type);
            free(x->attrs[k].value);
        }
        free(x->attrs);
    }
    free(m->items);
    m->items = NULL;
    m->n = 0;
}

/* A system attribute holding epoch milliseconds (a decimal string); 0 when
 * absent or malformed. */
static long long epoch_ms_attr(const cJSON *sa, const char *name)
{
    const cJSON *v = sa ? cJSON_GetObjectItemCaseSensitive(sa, name) : NULL;
    if (cJSON_IsNumber(v))
        return v->valuedouble > 0 && v->valuedouble < 1e15 ? (long long)v->valuedouble : 0;
    if (!cJSON_IsString(v))
        return 0;
    char *end;
    long long t = strtoll(v->valuestring, &end, 10);
    return *end == '\0' && t > 0 && t < 1000000000000000LL ? t : 0;
}

int sqs_parse_message(const cJSON *jm, struct sqs_message *x, struct mlw_err *err)
{
    x->message_id = dup_item(jm, "MessageId");
    x->receipt_handle = dup_item(jm, "ReceiptHandle");
    x->body = dup_item(jm, "Body");
    if (!x->message_id || !x->receipt_handle || !x->body) {
        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(jm, "ReceiptHandle")) ||
            !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(jm, "MessageId")) ||
            !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(jm, "Body")))
            return mlw_err_set(err, MLW_ETRANSIENT, "ReceiveMessage: a message lacks MessageId, "
                                                    "ReceiptHandle or Body");
        return mlw_err_set(err, MLW_ENOMEM, "ReceiveMessage: out of memory");
    }
    copy_md5(x->md5_of_body, jm, "MD5OfBody");
    copy_md5(x->md5_of_attrs, jm, "MD5OfMessageAttributes");
    const cJSON *sa = cJSON_GetObjectItemCaseSensitive(jm, "Attributes");
    const cJSON *rcnt = sa ? cJSON_GetObjectItemCaseSensitive(sa, "ApproximateReceiveCount") : NULL;
    if (cJSON_IsString(rcnt))
    {
        long v = strtol(rcnt->valuestring, NULL, 10);
        x->receive_count = v > 0 && v < 1000000 ? (int)v : 0;
    }
    else if (cJSON_IsNumber(rcnt))
        x->receive_count = rcnt->valueint;
    x->sent_ms = epoch_ms_attr(sa, "SentTimestamp");
    x->first_receive_ms = epoch_ms_attr(sa, "ApproximateFirstReceiveTimestamp");
    const cJSON *ma = cJSON_GetObjectItemCaseSensitive(jm, "MessageAttributes");
    size_t na = cJSON_IsObject(ma) ? (size_t)cJSON_GetArraySize(ma) : 0;
    if (na > 0) {
        x->attrs = calloc(na, sizeof *x->attrs);
        if (!x->attrs)
            return mlw_err_set(err, MLW_ENOMEM, "ReceiveMessage: out of memory");
        const cJSON *a;
        cJSON_ArrayForEach(a, ma)
        {
            struct sqs_attr *d = &x->attrs[x->n_attrs++];
            d->name = xstrdup(a->string);
            d->data_type = dup_item(a, "DataType");
            d->value = dup_item(a, "StringValue");
            if (!d->value)
                d->value = dup_item(a, "BinaryValue");
            if (!d->name || !d->data_type || !d->value) {
                if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(a, "DataType")))
                    return mlw_err_set(err, MLW_ETRANSIENT, "ReceiveMessage: malformed attribute");
                if (!d->value && !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(a, "StringValue")) &&
                    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(a, "BinaryValue"))) {
                    /* list values (unused by SQS): keep an empty value */
                    d->value = xstrdup("");
                    if (d->value && d->name && d->data_type)
                        continue;
                }
                return mlw_err_set(err, MLW_ENOMEM, "ReceiveMessage: out of memory");
            }
        }
    }
    char md5[SQS_MD5_HEX], amd5[SQS_MD5_HEX];
    sqs_md5_hex(x->body, strlen(x->body), md5);
    struct mlw_err merr = {0};
    int mrc = sqs_md5_of_attributes(x->attrs, x->n_attrs, amd5, &merr);
    if (mrc == MLW_ENOMEM)
        return mlw_err_set(err, mrc, "ReceiveMessage: %s", merr.msg);
    x->md5_ok = (!x->md5_of_body[0] || !strcmp(md5, x->md5_of_body)) &&
                (mrc == MLW_OK && (!x->md5_of_attrs[0] || !strcmp(amd5, x->md5_of_attrs)));
    return MLW_OK;
}

int sqs_receive(struct sqs_client *c, int max_messages, int wait_seconds, int visibility_timeout,
                struct sqs_messages *out, struct mlw_err *err)
{
    memset(out, 0, sizeof *out);
    cJSON *req = req_new(c), *arr;
    if (!req)
        return oom(err, "ReceiveMessage");
    int ok = cJSON_AddNumberToObject(req, "MaxNumberOfMessages", max_messages) &&
             cJSON_AddNumberToObject(req, "WaitTimeSeconds", wait_seconds) &&
             (visibility_timeout < 0 ||
              cJSON_AddNumberToObject(req, "VisibilityTimeout", visibility_timeout));
    const char *all[] = {"All"};
    ok = ok && (arr = cJSON_CreateStringArray(all, 1)) && cJSON_AddItemToObject(req, "AttributeNames", arr);
    ok = ok && (arr = cJSON_CreateStringArray(all, 1)) &&
         cJSON_AddItemToObject(req, "MessageSystemAttributeNames", arr);
    ok = ok && (arr = cJSON_CreateStringArray(all, 1)) &&
         cJSON_AddItemToObject(req, "MessageAttributeNames", arr);
    if (!ok) {
        cJSON_Delete(req);
        return oom(err, "ReceiveMessage");
    }
    cJSON *resp = NULL;
    int rc = call(c, "ReceiveMessage", req, (long)(wait_seconds + 15) * 1000, 1, &resp, err);
    cJSON_Delete(req);
    if (rc != MLW_OK)
        return rc;
    rc = sqs_parse_receive(resp, out, err);
    cJSON_Delete(resp);
    return rc;
}

int sqs_parse_receive(const cJSON *resp, struct sqs_messages *out, struct mlw_err *err)
{
    memset(out, 0, sizeof *out);
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(resp, "Messages");
    size_t n = cJSON_IsArray(msgs) ? (size_t)cJSON_GetArraySize(msgs) : 0;
    int rc = MLW_OK;
    if (n > 0) {
        out->items = calloc(n, sizeof *out->items);
        if (!out->items)
            return oom(err, "ReceiveMessage");
        const cJSON *jm;
        cJSON_ArrayForEach(jm, msgs)
        {
            rc = sqs_parse_message(jm, &out->items[out->n++], err);
            if (rc != MLW_OK)
                break;
        }
    }
    return rc;
}

int sqs_delete(struct sqs_client *c, const char *receipt_handle, struct mlw_err *err)
{
    cJSON *req = req_new(c), *resp = NULL;
    if (!req || !cJSON_AddStringToObject(req, "ReceiptHandle", receipt_handle)) {
        cJSON_Delete(req);
        return oom(err, "DeleteMessage");
    }
    int rc = call(c, "DeleteMessage", req, 30000, 0, &resp, err);
    cJSON_Delete(req);
    cJSON_Delete(resp);
    return rc;
}

/* Ids "0".."9" of Successful/Failed entries back to indexes. */
int sqs_parse_entry_index(const cJSON *e, size_t n)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "Id");
    if (!cJSON_IsString(id))
        return -1;
    char *end;
    long i = strtol(id->valuestring, &end, 10);
    return (*end || end == id->valuestring || i < 0 || (size_t)i >= n) ? -1 : (int)i;
}

int sqs_delete_batch(struct sqs_client *c, const char *const *receipt_handles, size_t n, int *ok,
                     struct mlw_err *err)
{
    if (n == 0 || n > SQS_MAX_BATCH)
        return mlw_err_set(err, MLW_EINVAL, "DeleteMessageBatch: %zu entries (1..10)", n);
    cJSON *req = req_new(c), *entries = NULL, *resp = NULL;
    int good = req && (entries = cJSON_AddArrayToObject(req, "Entries"));
    for (size_t i = 0; good && i < n; i++) {
        char id[8];
        snprintf(id, sizeof id, "%zu", i);
        cJSON *e = cJSON_CreateObject();
        good = e && cJSON_AddItemToArray(entries, e) && cJSON_AddStringToObject(e, "Id", id) &&
               cJSON_AddStringToObject(e, "ReceiptHandle", receipt_handles[i]);
        ok[i] = 0;
    }
    if (!good) {
        cJSON_Delete(req);
        return oom(err, "DeleteMessageBatch");
    }
    int rc = call(c, "DeleteMessageBatch", req, 30000, 0, &resp, err);
    cJSON_Delete(req);
    if (rc != MLW_OK)
        return rc;
    sqs_parse_delete_batch(resp, n, ok);
    cJSON_Delete(resp);
    return MLW_OK;
}

void sqs_parse_delete_batch(const cJSON *resp, size_t n, int *ok)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(resp, "Successful"))
    {
        int i = sqs_parse_entry_index(e, n);
        if (i >= 0)
            ok[i] = 1;
    }
}

int sqs_change_visibility(struct sqs_client *c, const char *receipt_handle, int timeout,
                          struct mlw_err *err)
{
    cJSON *req = req_new(c), *resp = NULL;
    if (!req || !cJSON_AddStringToObject(req, "ReceiptHandle", receipt_handle) ||
        !cJSON_AddNumberToObject(req, "VisibilityTimeout", timeout)) {
        cJSON_Delete(req);
        return oom(err, "ChangeMessageVisibility");
    }
    int rc = call(c, "ChangeMessageVisibility", req, 30000, 0, &resp, err);
    cJSON_Delete(req);
    cJSON_Delete(resp);
    return rc;
}

/* Fill obj with MessageBody, DelaySeconds, MessageAttributes of e. */
static int add_send_fields(cJSON *obj, const struct sqs_send_entry *e)
{
    if (!cJSON_AddStringToObject(obj, "MessageBody", e->body))
        return 0;
    if (e->delay_seconds >= 0 && !cJSON_AddNumberToObject(obj, "DelaySeconds", e->delay_seconds))
        return 0;
    if (e->n_attrs == 0)
        return 1;
    cJSON *ma = cJSON_AddObjectToObject(obj, "MessageAttributes");
    if (!ma)
        return 0;
    for (size_t i = 0; i < e->n_attrs; i++) {
        cJSON *a = cJSON_AddObjectToObject(ma, e->attrs[i].name);
        int binary = !strncmp(e->attrs[i].data_type, "Binary", 6);
        if (!a || !cJSON_AddStringToObject(a, "DataType", e->attrs[i].data_type) ||
            !cJSON_AddStringToObject(a, binary ? "BinaryValue" : "StringValue", e->attrs[i].value))
            return 0;
    }
    return 1;
}

/* Check the MD5s the service returned for e against what was sent. */
int sqs_parse_sent(const char *action, struct sqs_send_entry *e, const cJSON *res,
                   struct mlw_err *err)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(res, "MessageId");
    snprintf(e->message_id, sizeof e->message_id, "%s", cJSON_IsString(id) ? id->valuestring : "");
    copy_md5(e->md5_of_body, res, "MD5OfMessageBody");
    copy_md5(e->md5_of_attrs, res, "MD5OfMessageAttributes");
    char md5[SQS_MD5_HEX], amd5[SQS_MD5_HEX];
    sqs_md5_hex(e->body, strlen(e->body), md5);
    int rc = sqs_md5_of_attributes(e->attrs, e->n_attrs, amd5, err);
    if (rc != MLW_OK)
        return rc;
    if (!e->message_id[0])
        return mlw_err_set(err, MLW_EFORMAT, "%s: answer has no MessageId", action);
    if (strcmp(md5, e->md5_of_body) != 0)
        return mlw_err_set(err, MLW_EFORMAT, "%s: MD5 of the body %s != %s sent (message %s)",
                           action, e->md5_of_body, md5, e->message_id);
    if (e->n_attrs > 0 && strcmp(amd5, e->md5_of_attrs) != 0)
        return mlw_err_set(err, MLW_EFORMAT,
                           "%s: MD5 of the attributes %s != %s sent (message %s)", action,
                           e->md5_of_attrs, amd5, e->message_id);
    return MLW_OK;
}

int sqs_send(struct sqs_client *c, struct sqs_send_entry *e, struct mlw_err *err)
{
    cJSON *req = req_new(c), *resp = NULL;
    if (!req || !add_send_fields(req, e)) {
        cJSON_Delete(req);
        return oom(err, "SendMessage");
    }
    int rc = call(c, "SendMessage", req, 30000, 0, &resp, err);
    cJSON_Delete(req);
    if (rc == MLW_OK)
        rc = sqs_parse_sent("SendMessage", e, resp, err);
    e->ok = rc == MLW_OK;
    cJSON_Delete(resp);
    return rc;
}

int sqs_send_batch(struct sqs_client *c, struct sqs_send_entry *entries, size_t n,
                   struct mlw_err *err)
{
    if (n == 0 || n > SQS_MAX_BATCH)
        return mlw_err_set(err, MLW_EINVAL, "SendMessageBatch: %zu entries (1..10)", n);
    cJSON *req = req_new(c), *arr = NULL, *resp = NULL;
    int good = req && (arr = cJSON_AddArrayToObject(req, "Entries"));
    for (size_t i = 0; good && i < n; i++) {
        char id[8];
        snprintf(id, sizeof id, "%zu", i);
        cJSON *e = cJSON_CreateObject();
        good = e && cJSON_AddItemToArray(arr, e) && cJSON_AddStringToObject(e, "Id", id) &&
               add_send_fields(e, &entries[i]);
        entries[i].ok = 0;
        entries[i].message_id[0] = '\0';
    }
    if (!good) {
        cJSON_Delete(req);
        return oom(err, "SendMessageBatch");
    }
    int rc = call(c, "SendMessageBatch", req, 30000, 0, &resp, err);
    cJSON_Delete(req);
    if (rc != MLW_OK)
        return rc;
    rc = sqs_parse_send_batch(resp, entries, n, err);
    cJSON_Delete(resp);
    return rc;
}

int sqs_parse_send_batch(const cJSON *resp, struct sqs_send_entry *entries, size_t n,
                         struct mlw_err *err)
{
    int rc = MLW_OK;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(resp, "Successful"))
    {
        int i = sqs_parse_entry_index(e, n);
        if (i < 0)
            continue;
        struct mlw_err verr = {0};
        int vrc = sqs_parse_sent("SendMessageBatch", &entries[i], e, &verr);
        entries[i].ok = vrc == MLW_OK;
        if (vrc != MLW_OK && rc == MLW_OK)
            rc = mlw_err_set(err, vrc, "%s", verr.msg);
    }
    return rc;
}

int sqs_get_attributes(struct sqs_client *c, const char *const *names, size_t n, char ***values,
                       struct mlw_err *err)
{
    *values = NULL;
    cJSON *req = req_new(c), *arr = NULL, *resp = NULL;
    int good = req && (arr = cJSON_AddArrayToObject(req, "AttributeNames"));
    for (size_t i = 0; good && i < n; i++) {
        cJSON *s = cJSON_CreateString(names[i]);
        good = s && cJSON_AddItemToArray(arr, s);
    }
    if (!good) {
        cJSON_Delete(req);
        return oom(err, "GetQueueAttributes");
    }
    int rc = call(c, "GetQueueAttributes", req, 30000, 0, &resp, err);
    cJSON_Delete(req);
    if (rc != MLW_OK)
        return rc;
    rc = sqs_parse_attributes(resp, names, n, values, err);
    cJSON_Delete(resp);
    return rc;
}

int sqs_parse_attributes(const cJSON *resp, const char *const *names, size_t n, char ***values,
                         struct mlw_err *err)
{
    *values = NULL;
    char **v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return oom(err, "GetQueueAttributes");
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(resp, "Attributes");
    for (size_t i = 0; i < n; i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(attrs, names[i]);
        if (cJSON_IsString(a) && !(v[i] = xstrdup(a->valuestring))) {
            sqs_strings_free(v, n);
            return oom(err, "GetQueueAttributes");
        }
    }
    *values = v;
    return MLW_OK;
}

void sqs_strings_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int sqs_get_depth(struct sqs_client *c, struct sqs_depth *out, struct mlw_err *err)
{
    static const char *const names[] = {"ApproximateNumberOfMessages",
                                        "ApproximateNumberOfMessagesNotVisible",
                                        "ApproximateNumberOfMessagesDelayed"};
    char **v = NULL;
    int rc = sqs_get_attributes(c, names, 3, &v, err);
    if (rc != MLW_OK)
        return rc;
    out->visible = v[0] ? strtoll(v[0], NULL, 10) : 0;
    out->in_flight = v[1] ? strtoll(v[1], NULL, 10) : 0;
    out->delayed = v[2] ? strtoll(v[2], NULL, 10) : 0;
    sqs_strings_free(v, 3);
    return MLW_OK;
}

int sqs_get_queue_url(struct sqs_client *c, const char *queue_name, const char *owner, char **url,
                      struct mlw_err *err)
{
    *url = NULL;
    cJSON *req = cJSON_CreateObject(), *resp = NULL;
    if (!req || !cJSON_AddStringToObject(req, "QueueName", queue_name) ||
        (owner && !cJSON_AddStringToObject(req, "QueueOwnerAWSAccountId", owner))) {
        cJSON_Delete(req);
        return oom(err, "GetQueueUrl");
    }
    int rc = call(c, "GetQueueUrl", req, 30000, 0, &resp, err);
    cJSON_Delete(req);
    if (rc != MLW_OK)
        return rc;
    *url = sqs_parse_queue_url(resp);
    cJSON_Delete(resp);
    if (!*url)
        return mlw_err_set(err, MLW_EFORMAT, "GetQueueUrl: answer has no QueueUrl");
    return MLW_OK;
}

char *sqs_parse_queue_url(const cJSON *resp)
{
    return dup_item(resp, "QueueUrl");
}
