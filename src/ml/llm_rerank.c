/*
 * llm_rerank.c - the chat-completion reranker; see llm_rerank.h.
 */
#include "ml/llm_rerank.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LLM_MAX_BODY (256 * 1024)

const char *llm_outcome_name(enum llm_outcome o)
{
    switch (o) {
    case LLM_OUTCOME_OFF: return "off";
    case LLM_OUTCOME_PICKED: return "picked";
    case LLM_OUTCOME_NO_MATCH: return "no_match";
    case LLM_OUTCOME_REJECTED: return "rejected";
    case LLM_OUTCOME_ERROR: return "error";
    case LLM_OUTCOME_TIMEOUT: return "timeout";
    case LLM_OUTCOME_SKIPPED: return "skipped";
    }
    return "?";
}

static pthread_once_t llm_once = PTHREAD_ONCE_INIT;
static int llm_init_ok;

static void llm_global_init(void) { llm_init_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }

int llm_rerank_init(struct mlw_err *err)
{
    pthread_once(&llm_once, llm_global_init);
    return llm_init_ok ? MLW_OK : mlw_err_set(err, MLW_EUNSUPPORTED, "curl_global_init failed");
}

static const char LLM_SYSTEM[] =
    "You are a medical coding expert for LOINC (Logical Observation Identifiers Names and "
    "Codes). You map laboratory test names from patient reports to LOINC codes.";

char *llm_build_request(const char *model, const char *name, const char *unit,
                        const char *context, const struct llm_candidate *c, size_t n)
{
    if (n > LLM_MAX_OFFERED)
        n = LLM_MAX_OFFERED;
    size_t cap = 1024 + strlen(name) + (unit ? strlen(unit) : 0) +
                 (context ? strlen(context) : 0);
    for (size_t i = 0; i < n; i++)
        cap += 32 + strlen(c[i].code) + strlen(c[i].name);
    char *user = malloc(cap);
    if (user == NULL)
        return NULL;
    size_t o = 0;
    o += (size_t)snprintf(user + o, cap - o,
                          "Lab test details:\n- Test name: %s\n- Report section: %s\n"
                          "- Units: %s\n\nCandidate LOINC codes:\n",
                          name, context && *context ? context : "Not provided",
                          unit && *unit ? unit : "Not provided");
    for (size_t i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(user + o, cap - o, "%zu. LOINC: %s - %s\n", i + 1, c[i].code,
                              c[i].name);
    if (o < cap)
        snprintf(user + o, cap - o,
                 "\nChoose the one candidate that is the same test (same analyte, specimen and "
                 "kind of result). Only a code from the list counts. If none of them fits, say "
                 "NO_MATCH.\nReply in exactly one line: LOINC_CODE: <code from the list> or "
                 "LOINC_CODE: NO_MATCH");
    cJSON *root = cJSON_CreateObject();
    cJSON *msgs = cJSON_CreateArray();
    cJSON *sys = cJSON_CreateObject(), *usr = cJSON_CreateObject();
    char *out = NULL;
    if (root && msgs && sys && usr && cJSON_AddStringToObject(root, "model", model ? model : "") &&
        cJSON_AddStringToObject(sys, "role", "system") &&
        cJSON_AddStringToObject(sys, "content", LLM_SYSTEM) &&
        cJSON_AddStringToObject(usr, "role", "user") &&
        cJSON_AddStringToObject(usr, "content", user)) {
        cJSON_AddItemToArray(msgs, sys);
        cJSON_AddItemToArray(msgs, usr);
        sys = usr = NULL;
        cJSON_AddItemToObject(root, "messages", msgs);
        msgs = NULL;
        out = cJSON_PrintUnformatted(root);
    }
    cJSON_Delete(sys);
    cJSON_Delete(usr);
    cJSON_Delete(msgs);
    cJSON_Delete(root);
    free(user);
    return out;
}

/* Trim ASCII spaces, tabs and CR at both ends of [*s, *s + *n). */
static void llm_trim(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t' || **s == '\r'))
        (*s)++, (*n)--;
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r'))
        (*n)--;
}

enum llm_outcome llm_parse_reply(const char *body, size_t len, const struct llm_candidate *c,
                                 size_t n, long *picked, char *detail, size_t detail_cap)
{
    char scratch[LLM_DETAIL_LEN];
    if (detail == NULL || detail_cap == 0) {
        detail = scratch;
        detail_cap = sizeof scratch;
    }
    detail[0] = '\0';
    *picked = -1;
    if (n > LLM_MAX_OFFERED)
        n = LLM_MAX_OFFERED;
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *choices = root ? cJSON_GetObjectItemCaseSensitive(root, "choices") : NULL;
    const cJSON *first = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
    const cJSON *msg = first ? cJSON_GetObjectItemCaseSensitive(first, "message") : NULL;
    const cJSON *content = msg ? cJSON_GetObjectItemCaseSensitive(msg, "content") : NULL;
    if (!cJSON_IsString(content) || content->valuestring == NULL) {
        snprintf(detail, detail_cap, "reply is not a chat completion with message content");
        cJSON_Delete(root);
        return LLM_OUTCOME_ERROR;
    }
    const char *text = content->valuestring;
    const char *code = NULL;
    size_t code_len = 0;
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t ln = e ? (size_t)(e - p) : strlen(p);
        const char *s = p;
        llm_trim(&s, &ln);
        if (ln >= 11 && strncmp(s, "LOINC_CODE:", 11) == 0) {
            code = s + 11;
            code_len = ln - 11;
            llm_trim(&code, &code_len);
        }
        if (e == NULL)
            break;
        p = e + 1;
    }
    enum llm_outcome o;
    if (code == NULL) {
        snprintf(detail, detail_cap, "reply has no LOINC_CODE line");
        o = LLM_OUTCOME_REJECTED;
    } else if (code_len == 8 && strncmp(code, "NO_MATCH", 8) == 0) {
        snprintf(detail, detail_cap, "model found no match among %zu candidates", n);
        o = LLM_OUTCOME_NO_MATCH;
    } else {
        o = LLM_OUTCOME_REJECTED;
        for (size_t i = 0; i < n; i++)
            if (strlen(c[i].code) == code_len && memcmp(c[i].code, code, code_len) == 0) {
                *picked = (long)i;
                o = LLM_OUTCOME_PICKED;
                break;
            }
        char shown[24];
        size_t k = 0;
        for (; k < code_len && k + 1 < sizeof shown; k++)
            shown[k] = code[k] >= 0x20 && code[k] < 0x7f ? code[k] : '?';
        shown[k] = '\0';
        if (o == LLM_OUTCOME_PICKED)
            snprintf(detail, detail_cap, "model picked %s (candidate %ld of %zu)", shown,
                     *picked + 1, n);
        else
            snprintf(detail, detail_cap, "model answered '%s', not one of the %zu candidates "
                     "offered: ignored", shown, n);
    }
    cJSON_Delete(root);
    return o;
}

struct llm_buf {
    char *p;
    size_t n;
    int too_big;
};

static size_t llm_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct llm_buf *b = ud;
    size_t k = size * nmemb;
    if (b->n + k > LLM_MAX_BODY) {
        b->too_big = 1;
        return 0;
    }
    char *np = realloc(b->p, b->n + k + 1);
    if (np == NULL)
        return 0;
    memcpy(np + b->n, data, k);
    b->p = np;
    b->n += k;
    b->p[b->n] = '\0';
    return k;
}

enum llm_outcome llm_rerank_call(const struct llm_opts *opts, const char *name, const char *unit,
                                 const char *context, const struct llm_candidate *c, size_t n,
                                 long *picked, char *detail, size_t detail_cap)
{
    char scratch[LLM_DETAIL_LEN];
    if (detail == NULL || detail_cap == 0) {
        detail = scratch;
        detail_cap = sizeof scratch;
    }
    detail[0] = '\0';
    *picked = -1;
    if (opts == NULL || opts->url == NULL || opts->url[0] == '\0')
        return LLM_OUTCOME_OFF;
    if (n == 0) {
        snprintf(detail, detail_cap, "no candidates to offer");
        return LLM_OUTCOME_OFF;
    }
    if (llm_rerank_init(NULL) != MLW_OK) {
        snprintf(detail, detail_cap, "curl_global_init failed");
        return LLM_OUTCOME_ERROR;
    }
    char *body = llm_build_request(opts->model, name, unit, context, c, n);
    size_t ulen = strlen(opts->url);
    char *url = malloc(ulen + 32);
    const char *key = opts->api_key ? opts->api_key : "";
    size_t hlen = strlen(key) + 32;
    char *auth = malloc(hlen);
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = NULL;
    struct llm_buf resp = {0};
    enum llm_outcome o = LLM_OUTCOME_ERROR;
    if (body == NULL || url == NULL || auth == NULL || h == NULL) {
        snprintf(detail, detail_cap, "out of memory");
        goto out;
    }
    while (ulen > 0 && opts->url[ulen - 1] == '/')
        ulen--;
    snprintf(url, ulen + 32, "%.*s/chat/completions", (int)ulen, opts->url);
    snprintf(auth, hlen, "Authorization: Bearer %s", key);
    struct curl_slist *t = curl_slist_append(NULL, "Content-Type: application/json");
    if (t == NULL) {
        snprintf(detail, detail_cap, "out of memory");
        goto out;
    }
    hdr = t;
    if (key[0] != '\0') {
        if ((t = curl_slist_append(hdr, auth)) == NULL) {
            snprintf(detail, detail_cap, "out of memory");
            goto out;
        }
        hdr = t;
    }
    long ms = (long)(opts->timeout_s * 1000.0);
    if (ms < 1)
        ms = 1;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, llm_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (cc == CURLE_OPERATION_TIMEDOUT) {
        snprintf(detail, detail_cap, "no answer within %.1f s", opts->timeout_s);
        o = LLM_OUTCOME_TIMEOUT;
    } else if (cc != CURLE_OK) {
        snprintf(detail, detail_cap, "%s%s", curl_easy_strerror(cc),
                 resp.too_big ? " (reply too large)" : "");
    } else if (status < 200 || status > 299) {
        snprintf(detail, detail_cap, "HTTP status %ld", status);
    } else {
        o = llm_parse_reply(resp.p ? resp.p : "", resp.n, c, n, picked, detail, detail_cap);
    }
out:
    if (auth != NULL) { /* the key must not linger in freed memory */
        volatile char *v = auth;
        for (size_t i = 0; i < hlen; i++)
            v[i] = 0;
    }
    free(auth);
    curl_slist_free_all(hdr);
    if (h != NULL)
        curl_easy_cleanup(h);
    free(resp.p);
    free(url);
    free(body);
    return o;
}
