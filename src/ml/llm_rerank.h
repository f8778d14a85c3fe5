/*
 * llm_rerank.h - optional second opinion from an OpenAI-compatible chat
 * endpoint on the LOINC candidates the embedding search offered.
 *
 * One POST {url}/chat/completions (url is the API base, e.g.
 * https://api.openai.com/v1) with the model, a system message and a user
 * message listing the test and at most LLM_MAX_OFFERED candidates; the
 * reply must say "LOINC_CODE: <code>" (or NO_MATCH) on a line of its own,
 * as the original's prompt asks. The answer counts only when the code is
 * one of the candidates offered (which all come from the index): an
 * invented code, a code outside the list or an unreadable reply is
 * rejected, and the caller keeps its own decision.
 *
 * The API key goes only into the Authorization header: it is never put in
 * a message, a log line or a metric. A strict total timeout (connect
 * included) bounds each call; there are no retries.
 *
 * Thread: llm_rerank_call() may run on several threads at once (one curl
 * easy handle per call). curl_global_init() must have run (llm_rerank_init).
 */
#ifndef MLW_ML_LLM_RERANK_H
#define MLW_ML_LLM_RERANK_H

#include <stddef.h>

#include "core/err.h"

#define LLM_MAX_OFFERED 5
#define LLM_DETAIL_LEN 200

struct llm_opts {
    const char *url;        /* API base; NULL or "" = reranker off */
    const char *api_key;    /* OPENAI_API_KEY (secret); may be NULL */
    const char *model;      /* LAB_AGGREGATION_AGENT_MODEL */
    double timeout_s;       /* whole call, > 0 */
};

struct llm_candidate {
    const char *code;
    const char *name;       /* long common name */
};

enum llm_outcome {
    LLM_OUTCOME_OFF = 0,    /* not called */
    LLM_OUTCOME_PICKED,     /* a code among the offered ones */
    LLM_OUTCOME_NO_MATCH,   /* the model said none fits */
    LLM_OUTCOME_REJECTED,   /* code not offered, malformed or missing */
    LLM_OUTCOME_ERROR,      /* transport, HTTP status, unreadable JSON */
    LLM_OUTCOME_TIMEOUT,
    LLM_OUTCOME_SKIPPED     /* not called: the batch's reranker time was spent */
};

/* "off", "picked", "no_match", "rejected", "error", "timeout" (metric labels). */
const char *llm_outcome_name(enum llm_outcome o);

/* curl_global_init, once per process (thread-safe). MLW_OK or MLW_EUNSUPPORTED. */
int llm_rerank_init(struct mlw_err *err);

/*
** The request body (JSON) for test `name` (unit, context may be NULL) and
** candidates c[0..n) (n <= LLM_MAX_OFFERED used). Returns a malloc'd string
** (caller frees with free()) or NULL when out of memory.
*/
char *llm_build_request(const char *model, const char *name, const char *unit,
                        const char *context, const struct llm_candidate *c, size_t n);

/*
** Read a chat completion response body: choices[0].message.content, its
** "LOINC_CODE:" line (the last one wins, as the original reads it).
** *picked gets the index of the offered candidate with that code, or -1.
** Returns the outcome: PICKED, NO_MATCH, REJECTED (code not offered / no
** code line) or ERROR (not a chat completion). detail (may be NULL) gets a
** one-line explanation (the code the model gave, never the key).
*/
enum llm_outcome llm_parse_reply(const char *body, size_t len, const struct llm_candidate *c,
                                 size_t n, long *picked, char *detail, size_t detail_cap);

/*
** Ask the endpoint. Returns the outcome (never fails otherwise); *picked as
** llm_parse_reply(). With opts->url unset: LLM_OUTCOME_OFF.
*/
enum llm_outcome llm_rerank_call(const struct llm_opts *opts, const char *name, const char *unit,
                                 const char *context, const struct llm_candidate *c, size_t n,
                                 long *picked, char *detail, size_t detail_cap);

#endif
