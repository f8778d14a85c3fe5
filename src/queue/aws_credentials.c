/*
 * aws_credentials.c - the AWS credential chain (see aws_credentials.h).
 *
 * I/O here: reading the shared files and small HTTP requests to the
 * container endpoint and instance metadata (libcurl, short timeouts).
 * Parsing is split into the pure aws_cred_parse_* helpers.
 */
#include "queue/aws_credentials.h"

#include <ctype.h>
#include <curl/curl.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct aws_cred_chain {
    const char *(*getenv_fn)(const char *);
    struct aws_credentials cur;
    int have;
};

static const char *env_nonempty(const struct aws_cred_chain *c, const char *name)
{
    const char *v = c->getenv_fn(name);
    return (v && *v) ? v : NULL;
}

static void wipe_free(char *s)
{
    if (s) {
        volatile char *p = s;
        while (*p)
            *p++ = 0;
        free(s);
    }
}

void aws_credentials_clear(struct aws_credentials *cr)
{
    if (!cr)
        return;
    wipe_free(cr->access_key_id);
    wipe_free(cr->secret_access_key);
    wipe_free(cr->session_token);
    memset(cr, 0, sizeof *cr);
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static int set_keys(struct aws_credentials *out, const char *akid, size_t akid_n,
                    const char *secret, size_t secret_n, const char *token, size_t token_n,
                    struct mlw_err *err)
{
    memset(out, 0, sizeof *out);
    out->access_key_id = dup_n(akid, akid_n);
    out->secret_access_key = dup_n(secret, secret_n);
    if (token && token_n > 0)
        out->session_token = dup_n(token, token_n);
    if (!out->access_key_id || !out->secret_access_key || (token && token_n > 0 && !out->session_token)) {
        aws_credentials_clear(out);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory for credentials");
    }
    return MLW_OK;
}

/* ---- pure helpers ---- */

int aws_parse_iso8601(const char *s, time_t *out)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n < 19)
        return -1;
    const char *p = s + n;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (!(strcmp(p, "Z") == 0 || strcmp(p, "+00:00") == 0 || strcmp(p, "z") == 0))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *out = t;
    return 0;
}

/* Trim [*b, *e) of spaces and tabs. */
static void trim(const char **b, const char **e)
{
    while (*b < *e && (**b == ' ' || **b == '\t' || **b == '\r'))
        (*b)++;
    while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r'))
        (*e)--;
}

static int span_eq(const char *b, const char *e, const char *s)
{
    size_t n = strlen(s);
    return (size_t)(e - b) == n && memcmp(b, s, n) == 0;
}

int aws_cred_parse_ini(const char *text, const char *section, struct aws_credentials *out,
                       int *section_found, struct mlw_err *err)
{
    const char *akid = NULL, *akid_e = NULL, *sec = NULL, *sec_e = NULL, *tok = NULL,
               *tok_e = NULL;
    int in = 0, found = 0;
    memset(out, 0, sizeof *out);
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        const char *end = nl ? nl : line + strlen(line);
        const char *b = line, *e = end;
        trim(&b, &e);
        if (b < e && *b == '[') {
            const char *close = memchr(b, ']', (size_t)(e - b));
            in = 0;
            if (close) {
                const char *nb = b + 1, *ne = close;
                trim(&nb, &ne);
                if (span_eq(nb, ne, section)) {
                    in = 1;
                    found = 1;
                }
            }
        } else if (in && b < e && *b != '#' && *b != ';') {
            const char *eq = memchr(b, '=', (size_t)(e - b));
            if (eq) {
                const char *kb = b, *ke = eq, *vb = eq + 1, *ve = e;
                trim(&kb, &ke);
                trim(&vb, &ve);
                if (span_eq(kb, ke, "aws_access_key_id")) {
                    akid = vb;
                    akid_e = ve;
                } else if (span_eq(kb, ke, "aws_secret_access_key")) {
                    sec = vb;
                    sec_e = ve;
                } else if (span_eq(kb, ke, "aws_session_token")) {
                    tok = vb;
                    tok_e = ve;
                }
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    if (section_found)
        *section_found = found;
    if (!found)
        return MLW_ENOTFOUND;
    if (!akid || akid == akid_e || !sec || sec == sec_e) {
        return mlw_err_set(err, MLW_EINVAL, "section [%s] has no aws_access_key_id/aws_secret_access_key",
                           section);
    }
    return set_keys(out, akid, (size_t)(akid_e - akid), sec, (size_t)(sec_e - sec), tok,
                    tok ? (size_t)(tok_e - tok) : 0, err);
}

int aws_cred_parse_json(const char *json, size_t len, struct aws_credentials *out,
                        struct mlw_err *err)
{
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return mlw_err_set(err, MLW_EFORMAT, "credentials document is not a JSON object");
    }
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "Code");
    if (cJSON_IsString(code) && strcmp(code->valuestring, "Success") != 0) {
        int rc = mlw_err_set(err, MLW_EFORMAT, "credentials document says Code=%.64s",
                             code->valuestring);
        cJSON_Delete(root);
        return rc;
    }
    const cJSON *akid = cJSON_GetObjectItemCaseSensitive(root, "AccessKeyId");
    const cJSON *sec = cJSON_GetObjectItemCaseSensitive(root, "SecretAccessKey");
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(root, "Token");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(root, "Expiration");
    if (!cJSON_IsString(akid) || !*akid->valuestring || !cJSON_IsString(sec) ||
        !*sec->valuestring) {
        cJSON_Delete(root);
        return mlw_err_set(err, MLW_EFORMAT, "credentials document lacks AccessKeyId/SecretAccessKey");
    }
    time_t when = 0;
    if (cJSON_IsString(exp) && aws_parse_iso8601(exp->valuestring, &when) != 0) {
        cJSON_Delete(root);
        return mlw_err_set(err, MLW_EFORMAT, "credentials document has a malformed Expiration");
    }
    const char *t = cJSON_IsString(tok) ? tok->valuestring : NULL;
    int rc = set_keys(out, akid->valuestring, strlen(akid->valuestring), sec->valuestring,
                      strlen(sec->valuestring), t, t ? strlen(t) : 0, err);
    if (rc == MLW_OK)
        out->expiration = when;
    /* The parsed tree holds the secret too: wipe it before freeing. */
    if (cJSON_IsString(sec))
        memset(sec->valuestring, 0, strlen(sec->valuestring));
    if (t)
        memset(tok->valuestring, 0, strlen(t));
    cJSON_Delete(root);
    return rc;
}

/* ---- small HTTP client for the metadata endpoints ---- */

struct membuf {
    char *p;
    size_t n, cap;
};

static size_t membuf_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct membuf *b = ud;
    size_t add = size * nmemb;
    if (b->n + add + 1 > 1u << 20) /* a credentials document is tiny */
        return 0;
    if (b->n + add + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
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

static void membuf_wipe(struct membuf *b)
{
    if (b->p) {
        memset(b->p, 0, b->cap);
        free(b->p);
    }
    memset(b, 0, sizeof *b);
}

/* One request; *status gets the HTTP status. Body in *body (caller wipes). */
static int http_do(const char *method, const char *url, const char *hdr1, const char *hdr2,
                   struct membuf *body, long *status, struct mlw_err *err)
{
    CURL *h = curl_easy_init();
    if (!h)
        return mlw_err_set(err, MLW_ENOMEM, "curl_easy_init failed");
    struct curl_slist *hl = NULL, *tmp;
    if (hdr1) {
        if (!(tmp = curl_slist_append(hl, hdr1)))
            goto oom;
        hl = tmp;
    }
    if (hdr2) {
        if (!(tmp = curl_slist_append(hl, hdr2)))
            goto oom;
        hl = tmp;
    }
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "PUT")) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, membuf_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 3000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
    CURLcode cc = curl_easy_perform(h);
    *status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    if (cc != CURLE_OK)
        return mlw_err_set(err, MLW_EIO, "%s: %s", curl_easy_strerror(cc), ebuf);
    return MLW_OK;
oom:
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    return mlw_err_set(err, MLW_ENOMEM, "out of memory for a credentials request");
}

/* ---- sources ---- */

static char *read_file(const char *path, int *errno_out)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *errno_out = errno;
        return NULL;
    }
    struct membuf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (membuf_write(chunk, 1, n, &b) != n) {
            membuf_wipe(&b);
            fclose(f);
            *errno_out = ENOMEM;
            return NULL;
        }
    fclose(f);
    if (!b.p && !(b.p = calloc(1, 1)))
        *errno_out = ENOMEM;
    return b.p;
}

static int from_env(struct aws_cred_chain *c, struct aws_credentials *out, struct mlw_err *err)
{
    const char *akid = env_nonempty(c, "AWS_ACCESS_KEY_ID");
    const char *sec = env_nonempty(c, "AWS_SECRET_ACCESS_KEY");
    const char *tok = env_nonempty(c, "AWS_SESSION_TOKEN");
    if (!akid && !sec)
        return MLW_ENOTFOUND;
    if (!akid || !sec)
        return mlw_err_set(err, MLW_EINVAL,
                           "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
    int rc = set_keys(out, akid, strlen(akid), sec, strlen(sec), tok, tok ? strlen(tok) : 0, err);
    if (rc == MLW_OK)
        snprintf(out->source, sizeof out->source, "environment");
    return rc;
}

static int from_files(struct aws_cred_chain *c, struct aws_credentials *out, struct mlw_err *err)
{
    const char *profile = env_nonempty(c, "AWS_PROFILE");
    int explicit_profile = profile != NULL;
    if (!profile)
        profile = "default";
    const char *home = env_nonempty(c, "HOME");
    char cred_path[1024], conf_path[1024];
    const char *p = env_nonempty(c, "AWS_SHARED_CREDENTIALS_FILE");
    if (p)
        snprintf(cred_path, sizeof cred_path, "%s", p);
    else
        snprintf(cred_path, sizeof cred_path, "%s/.aws/credentials", home ? home : "");
    p = env_nonempty(c, "AWS_CONFIG_FILE");
    if (p)
        snprintf(conf_path, sizeof conf_path, "%s", p);
    else
        snprintf(conf_path, sizeof conf_path, "%s/.aws/config", home ? home : "");

    int any_section = 0;
    for (int pass = 0; pass < 2; pass++) {
        const char *path = pass == 0 ? cred_path : conf_path;
        if (!home && path[0] == '/' && path[1] == '.')
            continue;
        int e = 0;
        char *text = read_file(path, &e);
        if (!text) {
            if (e == ENOMEM)
                return mlw_err_set(err, MLW_ENOMEM, "out of memory reading %s", path);
            continue; /* missing or unreadable file: next source */
        }
        char section[300];
        if (pass == 0 || !strcmp(profile, "default"))
            snprintf(section, sizeof section, "%s", profile);
        else
            snprintf(section, sizeof section, "profile %s", profile);
        int found = 0;
        struct mlw_err perr = {0};
        int rc = aws_cred_parse_ini(text, section, out, &found, &perr);
        memset(text, 0, strlen(text));
        free(text);
        any_section |= found;
        if (rc == MLW_OK) {
            snprintf(out->source, sizeof out->source, "shared file (profile %.20s)", profile);
            return MLW_OK;
        }
        if (rc == MLW_ENOMEM)
            return mlw_err_set(err, rc, "%s", perr.msg);
        if (rc == MLW_EINVAL && pass == 1)
            return mlw_err_set(err, rc, "%s: %s", path, perr.msg);
    }
    if (explicit_profile && !any_section)
        return mlw_err_set(err, MLW_ENOTFOUND,
                           "AWS_PROFILE=%s: no such profile in %s or %s", profile, cred_path,
                           conf_path);
    return MLW_ENOTFOUND;
}

static int is_allowed_http_host(const char *url)
{
    /* http:// only to loopback and the ECS / EKS agent addresses. */
    const char *h = url + strlen("http://");
    static const char *ok[] = {"127.", "localhost:", "localhost/", "[::1]", "169.254.170.2:",
                               "169.254.170.2/", "169.254.170.23", "[fd00:ec2::23]"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!strncmp(h, ok[i], strlen(ok[i])))
            return 1;
    return !strcmp(h, "localhost") || !strcmp(h, "169.254.170.2");
}

static int from_container(struct aws_cred_chain *c, struct aws_credentials *out,
                          struct mlw_err *err)
{
    const char *rel = env_nonempty(c, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = env_nonempty(c, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (!rel && !full)
        return MLW_ENOTFOUND;
    char url[2048];
    if (rel)
        snprintf(url, sizeof url, "http://169.254.170.2%s%s", rel[0] == '/' ? "" : "/", rel);
    else {
        if (!strncmp(full, "http://", 7)) {
            if (!is_allowed_http_host(full))
                return mlw_err_set(err, MLW_EINVAL,
                                   "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http is only allowed "
                                   "to loopback or the ECS/EKS agent address");
        } else if (strncmp(full, "https://", 8) != 0) {
            return mlw_err_set(err, MLW_EINVAL,
                               "AWS_CONTAINER_CREDENTIALS_FULL_URI must be an http(s) URL");
        }
        snprintf(url, sizeof url, "%s", full);
    }

    /* Authorization token: the file wins over the variable (re-read on
     * every refresh: EKS rotates it). */
    char auth[4096] = "";
    const char *tok_file = env_nonempty(c, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *tok = env_nonempty(c, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    if (tok_file) {
        int e = 0;
        char *t = read_file(tok_file, &e);
        if (!t)
            return mlw_err_set(err, MLW_EIO, "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s",
                               tok_file, strerror(e));
        const char *b = t, *en = t + strlen(t);
        trim(&b, &en);
        while (en > b && (en[-1] == '\n'))
            en--;
        snprintf(auth, sizeof auth, "Authorization: %.*s", (int)(en - b), b);
        memset(t, 0, strlen(t));
        free(t);
    } else if (tok) {
        snprintf(auth, sizeof auth, "Authorization: %s", tok);
    }
    if (strchr(auth, '\r') || strchr(auth, '\n')) {
        memset(auth, 0, sizeof auth);
        return mlw_err_set(err, MLW_EINVAL, "container authorization token contains a line break");
    }

    struct membuf body = {0};
    long status = 0;
    int rc = MLW_EIO;
    struct mlw_err herr = {0};
    for (int attempt = 0; attempt < 3; attempt++) {
        membuf_wipe(&body);
        mlw_err_clear(&herr);
        rc = http_do("GET", url, auth[0] ? auth : NULL, NULL, &body, &status, &herr);
        if (rc == MLW_OK && status == 200)
            break;
        if (rc == MLW_OK && status >= 400 && status < 500)
            break; /* not retried: wrong token or path */
    }
    memset(auth, 0, sizeof auth);
    if (rc != MLW_OK) {
        membuf_wipe(&body);
        return mlw_err_set(err, rc, "container credentials endpoint: %s", herr.msg);
    }
    if (status != 200) {
        membuf_wipe(&body);
        return mlw_err_set(err, MLW_EIO, "container credentials endpoint answered HTTP %ld", status);
    }
    rc = aws_cred_parse_json(body.p ? body.p : "", body.n, out, err);
    membuf_wipe(&body);
    if (rc == MLW_OK)
        snprintf(out->source, sizeof out->source, "container endpoint");
    return rc;
}

static int from_imds(struct aws_cred_chain *c, struct aws_credentials *out, struct mlw_err *err)
{
    const char *dis = env_nonempty(c, "AWS_EC2_METADATA_DISABLED");
    if (dis && !strcasecmp(dis, "true"))
        return MLW_ENOTFOUND;
    const char *base = env_nonempty(c, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (!base)
        base = "http://169.254.169.254";
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;

    char url[1024], hdr[512];
    struct membuf body = {0};
    long status = 0;
    struct mlw_err herr = {0};
    snprintf(url, sizeof url, "%.*s/latest/api/token", (int)bl, base);
    int rc = http_do("PUT", url, "X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL, &body,
                     &status, &herr);
    if (rc != MLW_OK || status != 200 || !body.p || !*body.p) {
        membuf_wipe(&body);
        /* No metadata service here (not on EC2): not an error of the chain. */
        return MLW_ENOTFOUND;
    }
    snprintf(hdr, sizeof hdr, "X-aws-ec2-metadata-token: %.400s", body.p);
    membuf_wipe(&body);

    snprintf(url, sizeof url, "%.*s/latest/meta-data/iam/security-credentials/", (int)bl, base);
    rc = http_do("GET", url, hdr, NULL, &body, &status, &herr);
    if (rc != MLW_OK || status != 200 || !body.p || !*body.p) {
        membuf_wipe(&body);
        memset(hdr, 0, sizeof hdr);
        if (rc != MLW_OK)
            return mlw_err_set(err, MLW_EIO, "instance metadata: %s", herr.msg);
        return mlw_err_set(err, MLW_ENOTFOUND, "instance metadata: no IAM role attached (HTTP %ld)",
                           status);
    }
    char role[256];
    size_t rl = strcspn(body.p, "\r\n");
    snprintf(role, sizeof role, "%.*s", (int)(rl < 255 ? rl : 255), body.p);
    membuf_wipe(&body);
    for (const char *q = role; *q; q++)
        if (!(isalnum((unsigned char)*q) || strchr("+=,.@_-", *q))) {
            memset(hdr, 0, sizeof hdr);
            return mlw_err_set(err, MLW_EFORMAT, "instance metadata: odd role name");
        }
    snprintf(url, sizeof url, "%.*s/latest/meta-data/iam/security-credentials/%s", (int)bl, base,
             role);
    rc = http_do("GET", url, hdr, NULL, &body, &status, &herr);
    memset(hdr, 0, sizeof hdr);
    if (rc != MLW_OK || status != 200) {
        membuf_wipe(&body);
        return mlw_err_set(err, MLW_EIO, "instance metadata credentials: %s (HTTP %ld)",
                           rc != MLW_OK ? herr.msg : "request failed", status);
    }
    rc = aws_cred_parse_json(body.p ? body.p : "", body.n, out, err);
    membuf_wipe(&body);
    if (rc == MLW_OK)
        snprintf(out->source, sizeof out->source, "instance metadata (IMDSv2)");
    return rc;
}

/* ---- the chain ---- */

int aws_cred_chain_init(struct aws_cred_chain **out, const char *(*getenv_fn)(const char *),
                        struct mlw_err *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    (*out)->getenv_fn = getenv_fn;
    return MLW_OK;
}

void aws_cred_chain_free(struct aws_cred_chain *c)
{
    if (!c)
        return;
    aws_credentials_clear(&c->cur);
    free(c);
}

static int resolve(struct aws_cred_chain *c, struct aws_credentials *out, struct mlw_err *err)
{
    int (*const sources[])(struct aws_cred_chain *, struct aws_credentials *,
                           struct mlw_err *) = {from_env, from_files, from_container, from_imds};
    for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++) {
        int rc = sources[i](c, out, err);
        if (rc != MLW_ENOTFOUND || (err && err->msg[0]))
            return rc; /* found, or a configured source failed */
    }
    return mlw_err_set(err, MLW_ENOTFOUND,
                       "no AWS credentials: tried the environment (AWS_ACCESS_KEY_ID), the shared "
                       "credentials/config files, the ECS container endpoint and EC2 instance "
                       "metadata");
}

int aws_cred_chain_get(struct aws_cred_chain *c, int force_refresh,
                       const struct aws_credentials **out, struct mlw_err *err)
{
    time_t now = time(NULL);
    int stale = !c->have || force_refresh ||
                (c->cur.expiration != 0 && c->cur.expiration - now < AWS_CRED_REFRESH_MARGIN);
    if (stale) {
        struct aws_credentials fresh = {0};
        struct mlw_err rerr = {0};
        int rc = resolve(c, &fresh, &rerr);
        if (rc == MLW_OK) {
            aws_credentials_clear(&c->cur);
            c->cur = fresh;
            c->have = 1;
        } else if (!c->have || force_refresh ||
                   (c->cur.expiration != 0 && c->cur.expiration <= now + 5)) {
            /* Nothing usable: report the refresh failure. */
            return mlw_err_set(err, rc, "%s", rerr.msg);
        }
        /* else: keep the old, still valid keys; the next call retries. */
    }
    *out = &c->cur;
    return MLW_OK;
}
