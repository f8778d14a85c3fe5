/*
 * consumer.c - the SQS consumer loop (see consumer.h for the message
 * states and invariants).
 *
 * Loop: receive (long poll, abandoned within ~1 s of a stop request) ->
 * for each message in order: parse -> dispatch -> drain the pending rows
 * it is about with pipeline_run_batch() until none remain or the budget
 * is spent (heartbeating visibility meanwhile) -> delete after commit, or
 * re-enqueue when work remains, or leave it for the redrive policy. On a
 * stop request the messages not yet started are released (visibility 0).
 */
#include "jobs/consumer.h"
#include "jobs/labs_job.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/signals.h"
#include "core/timeutil.h"
#include "http/health.h"
#include "jobs/jobmetrics.h"
#include "queue/queue.h"

#define BACKOFF_MIN 1.0
#define BACKOFF_MAX 60.0

/* Log prefixes operators grep for (reference operations 3.8). */
#define E_INBOX "\xf0\x9f\x93\xa5"     /* 📥 */
#define E_CYCLE "\xf0\x9f\x94\x84"     /* 🔄 */
#define E_OK "\xe2\x9c\x85"            /* ✅ */
#define E_FAIL "\xe2\x9d\x8c"          /* ❌ */
#define E_TRASH "\xf0\x9f\x97\x91\xef\xb8\x8f" /* 🗑️ */
#define E_HEART "\xf0\x9f\x92\x93"     /* 💓 */
#define E_APPLE "\xf0\x9f\x8d\x8e"     /* 🍎 */
#define E_TUBE "\xf0\x9f\xa7\xaa"      /* 🧪 */
#define E_STATS "\xf0\x9f\x93\x88"     /* 📈 */
#define E_REPEAT "\xf0\x9f\x94\x81"    /* 🔁 */
#define E_STOP "\xf0\x9f\x9b\x91"      /* 🛑 */

enum outcome {
    OUT_DONE,     /* work committed: delete */
    OUT_REQUEUE,  /* work committed so far, more remains: re-enqueue */
    OUT_LEAVE,    /* not processable here: leave for redrive */
    OUT_FAILED    /* database error: leave, back off */
};

enum msg_state { MS_WAITING, MS_WORKING, MS_DONE, MS_CLOSED };

struct worker {
    const struct config *cfg;
    struct store *st;
    struct queue *q;
    struct consumer_stats *s;
    struct sqs_messages batch;
    enum msg_state state[SQS_MAX_BATCH];
    double last_heartbeat;
    double backoff;
    uint64_t rng;
    int finishing_logged;  /* "finishing message X before exiting" logged */
};

static const char *env(const char *name) { return getenv(name); }

/* ---- parsing ---- */

static void copy_clean(char *dst, size_t cap, const char *src)
{
    /* Log-safe copy: control bytes become '?'. */
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = ((unsigned char)src[i] < 0x20 || src[i] == 0x7f) ? '?' : src[i];
    dst[i] = '\0';
}

static int get_id(const cJSON *obj, const char *key, int64_t *out, struct mlw_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = -1;
    if (!v || cJSON_IsNull(v))
        return MLW_OK;
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d >= 0 && d <= 9007199254740992.0 && d == (double)(int64_t)d) {
            *out = (int64_t)d;
            return MLW_OK;
        }
    } else if (cJSON_IsString(v) && v->valuestring[0]) {
        char *end;
        long long x = strtoll(v->valuestring, &end, 10);
        if (*end == '\0' && x >= 0) {
            *out = x;
            return MLW_OK;
        }
    }
    return mlw_err_set(err, MLW_EFORMAT, "%s is not a non-negative integer", key);
}

int consumer_check_body_size(size_t body_len, struct mlw_err *err)
{
    if (body_len <= CONSUMER_MAX_BODY_BYTES)
        return MLW_OK;
    return mlw_err_set(err, MLW_EFORMAT, "body of %zu bytes is over the %d-byte limit", body_len,
                       CONSUMER_MAX_BODY_BYTES);
}

int consumer_parse_job(const char *body, struct consumer_job *job, struct mlw_err *err)
{
    memset(job, 0, sizeof *job);
    job->type = JOB_UNKNOWN;
    job->user_id = job->document_id = -1;
    snprintf(job->job_type, sizeof job->job_type, "unknown");
    cJSON *root = cJSON_Parse(body ? body : "");
    int rc = MLW_OK;
    if (!root) {
        rc = mlw_err_set(err, MLW_EFORMAT, "body is not valid JSON");
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        rc = mlw_err_set(err, MLW_EFORMAT, "body is JSON but not an object");
        goto out;
    }
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(root, "job_type");
    if (!cJSON_IsString(jt)) {
        rc = mlw_err_set(err, MLW_EFORMAT, "no job_type string in the body");
        goto out;
    }
    copy_clean(job->job_type, sizeof job->job_type, jt->valuestring);
    static const struct {
        const char *name;
        enum consumer_job_type type;
    } types[] = {{"process_pending_vitals", JOB_PENDING_VITALS},
                 {"process_pending_nutrition", JOB_PENDING_NUTRITION},
                 {"process_pending_labs", JOB_PENDING_LABS},
                 {"lab_categorization", JOB_LAB_CATEGORIZATION},
                 {"loinc_mapping", JOB_LOINC_MAPPING}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(jt->valuestring, types[i].name))
            job->type = types[i].type;
    if (job->type == JOB_UNKNOWN)
        goto out;
    if ((rc = get_id(root, "user_id", &job->user_id, err)) != MLW_OK)
        goto out;
    if (job->type == JOB_LAB_CATEGORIZATION) {
        if ((rc = get_id(root, "document_id", &job->document_id, err)) != MLW_OK)
            goto out;
        const cJSON *tests = cJSON_GetObjectItemCaseSensitive(root, "tests");
        if (tests && !cJSON_IsArray(tests) && !cJSON_IsNull(tests)) {
            rc = mlw_err_set(err, MLW_EFORMAT, "tests is not a list");
            goto out;
        }
        job->n_tests = cJSON_IsArray(tests) ? cJSON_GetArraySize(tests) : 0;
    } else if (job->type == JOB_LOINC_MAPPING) {
        const cJSON *tn = cJSON_GetObjectItemCaseSensitive(root, "test_name");
        if (!cJSON_IsString(tn) || !tn->valuestring[0]) {
            rc = mlw_err_set(err, MLW_EFORMAT, "loinc_mapping without a test_name string");
            goto out;
        }
        copy_clean(job->test_name, sizeof job->test_name, tn->valuestring);
    }
out:
    cJSON_Delete(root);
    return rc;
}

/* ---- helpers ---- */

static double rand01(struct worker *w)
{
    w->rng ^= w->rng >> 12;
    w->rng ^= w->rng << 25;
    w->rng ^= w->rng >> 27;
    return (double)((w->rng * UINT64_C(2685821657736338717)) >> 11) / 9007199254740992.0;
}

/* Back off after an error: 1, 2, 4 .. 60 s, each with +-25 % jitter. */
static void backoff_sleep(struct worker *w, const char *why)
{
    w->backoff = w->backoff <= 0 ? BACKOFF_MIN : w->backoff * 2;
    if (w->backoff > BACKOFF_MAX)
        w->backoff = BACKOFF_MAX;
    double t = w->backoff * (0.75 + 0.5 * rand01(w));
    log_warn("Backing off %.1fs after %s", t, why);
    health_idle("sqs", t);
    signals_sleep(t);
}

static void user_text(int64_t user, char *buf, size_t cap)
{
    if (user >= 0)
        snprintf(buf, cap, "%" PRId64, user);
    else
        snprintf(buf, cap, "all users");
}

static double budget_seconds(const struct config *cfg)
{
    double b = cfg->sqs_visibility_timeout > 0 ? 0.8 * cfg->sqs_visibility_timeout : 30.0;
    return b < 1.0 ? 1.0 : b;
}

/* Delete every DONE message of the batch (one call for several). */
static void flush_deletes(struct worker *w)
{
    const char *handles[SQS_MAX_BATCH];
    size_t idx[SQS_MAX_BATCH], n = 0;
    for (size_t i = 0; i < w->batch.n; i++)
        if (w->state[i] == MS_DONE) {
            handles[n] = w->batch.items[i].receipt_handle;
            idx[n++] = i;
        }
    if (n == 0)
        return;
    int ok[SQS_MAX_BATCH] = {0};
    struct mlw_err err = {0};
    int rc = n == 1 ? queue_delete(w->q, handles[0], &err)
                    : queue_delete_batch(w->q, handles, n, ok, &err);
    if (n == 1)
        ok[0] = rc == MLW_OK;
    for (size_t k = 0; k < n; k++) {
        w->state[idx[k]] = MS_CLOSED;
        if (ok[k]) {
            w->s->deleted++;
            jobmetrics_deleted(w->batch.items[idx[k]].message_id);
            log_info(E_TRASH "  Message deleted from queue (%s)", w->batch.items[idx[k]].message_id);
        } else {
            /* The work is committed; a redelivery finds nothing left to do. */
            log_error("Error deleting message %s from %s: %s", w->batch.items[idx[k]].message_id,
                      queue_label(w->q),
                      rc != MLW_OK ? err.msg : "rejected in the batch");
        }
    }
}

/* Keep the messages we hold invisible; flush finished deletes. */
static void heartbeat(struct worker *w, int force)
{
    int vis = w->cfg->sqs_visibility_timeout;
    double now = mlw_monotonic();
    if (vis <= 0 || (!force && now - w->last_heartbeat < vis / 3.0))
        return;
    w->last_heartbeat = now;
    flush_deletes(w);
    for (size_t i = 0; i < w->batch.n; i++) {
        if (w->state[i] != MS_WAITING && w->state[i] != MS_WORKING)
            continue;
        struct mlw_err err = {0};
        if (queue_change_visibility(w->q, w->batch.items[i].receipt_handle, vis, &err) == MLW_OK)
            log_debug("Heartbeat: message %s stays invisible %ds more",
                      w->batch.items[i].message_id, vis);
        else
            log_warn("Heartbeat for message %s failed (it may be redelivered; work is "
                     "idempotent): %s", w->batch.items[i].message_id, err.msg);
    }
}

/*
 * After a stop request, may the current message start another batch?
 * ML_WORKER_SHUTDOWN_TIMEOUT counts from the signal: the message in hand
 * goes on while the next batch (as slow as the slowest so far) plus a
 * reserve for the queue calls that follow (re-enqueue or delete, releases)
 * still ends before it. 0: stop at the next batch boundary.
 */
static int shutdown_allows_batch(struct worker *w, const struct sqs_message *m, double longest)
{
    double timeout = w->cfg->shutdown_timeout;
    if (timeout <= 0)
        return 0;
    double reserve = timeout * 0.2 < 2.0 ? timeout * 0.2 : 2.0;
    double left = signals_stop_time() + timeout - mlw_monotonic();
    if (left - reserve <= longest)
        return 0;
    if (!w->finishing_logged) {
        w->finishing_logged = 1;
        log_info(E_STOP " Shutdown requested: finishing message %s first (up to %.0fs more)",
                 m->message_id, left - reserve);
    }
    return 1;
}

/* Drain the pending rows of one domain for one user (or all). */
static enum outcome drain(struct worker *w, size_t mi, enum domain d, int64_t user)
{
    const struct sqs_message *m = &w->batch.items[mi];
    /* Whole batches: a batch cut short by the stop request would report 0
     * rows, which reads as "nothing pending" (the message would be deleted
     * with work left). Stops happen between batches, below. */
    struct pipeline_opts opts = {w->cfg->aggregation_batch_size, w->cfg->claim_timeout, user, 1};
    struct pipeline_stats *ps = d == DOMAIN_VITALS      ? &w->s->vitals
                                : d == DOMAIN_NUTRITION ? &w->s->nutrition
                                                        : &w->s->labs;
    const char *name = d == DOMAIN_VITALS ? "vitals" : d == DOMAIN_NUTRITION ? "nutrition" : "labs";
    struct pipeline_stats before = *ps;
    char who[32];
    user_text(user, who, sizeof who);
    log_info("%s Processing pending %s for user %s",
             d == DOMAIN_VITALS ? E_HEART : d == DOMAIN_NUTRITION ? E_APPLE : E_TUBE, name, who);

    double t0 = mlw_monotonic(), deadline = t0 + budget_seconds(w->cfg);
    double longest = 0; /* the slowest batch so far: what the next one may take */
    int64_t batches = 0, rows_total = 0;
    int remains = 0;
    for (;;) {
        health_beat("sqs", w->cfg->health_deadline);
        heartbeat(w, 0);
        int stop_now = signals_stop_requested() && !shutdown_allows_batch(w, m, longest);
        if (stop_now || mlw_monotonic() >= deadline) {
            int64_t pending = 1;
            struct mlw_err perr = {0};
            if (pipeline_pending(w->st, d, &opts, &pending, &perr) != MLW_OK)
                log_warn("Cannot count pending %s rows (%s): assuming work remains", name, perr.msg);
            remains = pending > 0;
            if (remains)
                log_info("%" PRId64 " pending %s rows remain for user %s after %.1fs (%s)",
                         pending, name, who, mlw_monotonic() - t0,
                         stop_now ? "stopping: shutdown requested" : "time budget spent");
            break;
        }
        struct mlw_err err = {0};
        int64_t rows = 0;
        struct jobmetrics_mark mk = jobmetrics_begin(ps);
        double tb = mlw_monotonic();
        int rc = pipeline_run_batch(w->st, d, &opts, ps, &rows, &err);
        if (mlw_monotonic() - tb > longest)
            longest = mlw_monotonic() - tb;
        jobmetrics_batch(d, &mk, ps, rows);
        if (rc != MLW_OK) {
            metrics_count(METRICS_BATCH_ERRORS, NULL, 1);
            log_error(E_FAIL " Failed to process message %s: database error in the %s pipeline: %s",
                      m->message_id, name, err.msg);
            return OUT_FAILED;
        }
        if (rows == 0)
            break;
        batches++;
        rows_total += rows;
    }
    log_info("Pending %s processing completed for user %s: %" PRId64 " entries processed, %" PRId64
             " failed, %" PRId64 " batch%s in %.2fs",
             name, who, ps->done - before.done, ps->failed - before.failed, batches,
             batches == 1 ? "" : "es", mlw_monotonic() - t0);
    (void)rows_total;
    return remains ? OUT_REQUEUE : OUT_DONE;
}

static enum outcome handle_message(struct worker *w, size_t mi)
{
    const struct sqs_message *m = &w->batch.items[mi];
    log_info(E_CYCLE " Processing message %s", m->message_id);
    struct mlw_err serr = {0};
    if (consumer_check_body_size(strlen(m->body), &serr) != MLW_OK) {
        /* Not parsed: one line with the id and the size, never the content. */
        log_info("   Job Type: unknown");
        jobmetrics_received(m->message_id, "unknown");
        log_error("Oversize message %s (receive count %d): %s; not processed, left for the "
                  "queue's redrive policy",
                  m->message_id, m->receive_count, serr.msg);
        return OUT_LEAVE;
    }
    if (!m->md5_ok) {
        log_info("   Job Type: unknown");
        jobmetrics_received(m->message_id, "unknown");
        log_error(E_FAIL " Message %s (receive count %d): the MD5 of its body or attributes does "
                  "not match what SQS computed; left for redelivery",
                  m->message_id, m->receive_count);
        return OUT_LEAVE;
    }
    struct consumer_job job;
    struct mlw_err err = {0};
    if (consumer_parse_job(m->body, &job, &err) != MLW_OK) {
        log_info("   Job Type: %s", job.job_type);
        jobmetrics_received(m->message_id, job.job_type);
        log_error("Invalid message %s (receive count %d): %s; left for the queue's redrive policy",
                  m->message_id, m->receive_count, err.msg);
        return OUT_LEAVE;
    }
    log_info("   Job Type: %s", job.job_type);
    jobmetrics_received(m->message_id, job.job_type);
    char who[32];
    user_text(job.user_id, who, sizeof who);
    switch (job.type) {
    case JOB_PENDING_VITALS:
        return drain(w, mi, DOMAIN_VITALS, job.user_id);
    case JOB_PENDING_NUTRITION:
        return drain(w, mi, DOMAIN_NUTRITION, job.user_id);
    case JOB_LAB_CATEGORIZATION:
        /* The lab agent has already written the tests to lab_reports; the
         * deprecated message only names the user. Categorize and aggregate
         * that user's pending reports, as process_pending_labs does. */
        log_info(E_TUBE " Lab categorization for user %s, document %" PRId64 ", %d test(s)", who,
                 job.document_id, job.n_tests);
        log_warn("lab_categorization is deprecated; use process_pending_labs");
        __attribute__((fallthrough));
    case JOB_PENDING_LABS:
        if (!labs_available(w->st)) {
            log_error("No lab_reports table in this database (run `mlworker migrate`): message %s "
                      "(receive count %d) left for the queue's redrive policy",
                      m->message_id, m->receive_count);
            return OUT_LEAVE;
        }
        return drain(w, mi, DOMAIN_LABS, job.user_id);
    case JOB_LOINC_MAPPING:
        log_info(E_TUBE " LOINC mapping requested for test '%s'", job.test_name);
        log_error("LOINC mapping is not available in this version (no model loaded): message %s "
                  "(receive count %d) left for the queue's redrive policy",
                  m->message_id, m->receive_count);
        return OUT_LEAVE;
    case JOB_UNKNOWN:
    default:
        log_error("Unknown job type: %s (message %s, receive count %d); left for the queue's "
                  "redrive policy",
                  job.job_type, m->message_id, m->receive_count);
        return OUT_LEAVE;
    }
}

/* Work remains: send a fresh copy of the trigger (a new receive count),
 * then delete this one. If the copy cannot be sent, release this one. */
static void requeue(struct worker *w, size_t mi)
{
    const struct sqs_message *m = &w->batch.items[mi];
    struct sqs_send_entry e = {.body = m->body, .attrs = m->attrs, .n_attrs = m->n_attrs,
                               .delay_seconds = -1};
    struct mlw_err err = {0};
    if (queue_send(w->q, &e, &err) == MLW_OK) {
        w->s->requeued++;
        log_info(E_REPEAT " Work remains: trigger re-enqueued as message %s", e.message_id);
        w->state[mi] = MS_DONE; /* the copy carries the rest */
        return;
    }
    log_warn("Could not re-enqueue the trigger (%s); releasing message %s instead", err.msg,
             m->message_id);
    mlw_err_clear(&err);
    if (queue_change_visibility(w->q, m->receipt_handle, 0, &err) != MLW_OK)
        log_warn("Release of message %s failed (it reappears after its visibility timeout): %s",
                 m->message_id, err.msg);
    w->state[mi] = MS_CLOSED;
}

/* Stop requested: make every message not yet started visible again. */
static void release_waiting(struct worker *w)
{
    for (size_t i = 0; i < w->batch.n; i++) {
        if (w->state[i] != MS_WAITING)
            continue;
        struct mlw_err err = {0};
        if (queue_change_visibility(w->q, w->batch.items[i].receipt_handle, 0, &err) == MLW_OK) {
            w->s->released++;
            log_info(E_STOP " Released message %s (not started; visible again now)",
                     w->batch.items[i].message_id);
        } else {
            log_warn("Release of message %s failed (it reappears after its visibility "
                     "timeout): %s",
                     w->batch.items[i].message_id, err.msg);
        }
        w->state[i] = MS_CLOSED;
    }
}

/* Handle one received batch. Returns 1 if anything failed. */
static int process_batch(struct worker *w)
{
    int failed = 0;
    for (size_t i = 0; i < w->batch.n; i++)
        w->state[i] = MS_WAITING;
    w->last_heartbeat = mlw_monotonic();
    for (size_t i = 0; i < w->batch.n; i++) {
        if (signals_stop_requested()) {
            log_info("Shutdown flag set, stopping message processing");
            break;
        }
        if (failed)
            break; /* after a database error: leave the rest, back off */
        const struct sqs_message *m = &w->batch.items[i];
        w->state[i] = MS_WORKING;
        health_beat("sqs", w->cfg->health_deadline);
        enum outcome o = handle_message(w, i);
        jobmetrics_outcome(m->message_id, o == OUT_LEAVE || o == OUT_FAILED);
        switch (o) {
        case OUT_DONE:
            w->s->processed++;
            log_info(E_OK " Successfully processed message %s", m->message_id);
            w->state[i] = MS_DONE;
            break;
        case OUT_REQUEUE:
            w->s->processed++;
            log_info(E_OK " Processed part of message %s's work", m->message_id);
            requeue(w, i);
            break;
        case OUT_LEAVE:
            w->s->left++;
            w->s->errors++;
            log_error(E_FAIL " Failed to process message %s", m->message_id);
            log_warn("Message processing failed, will retry after visibility timeout");
            w->state[i] = MS_CLOSED;
            break;
        case OUT_FAILED:
        default:
            w->s->errors++;
            failed = 1;
            log_warn("Message %s not deleted: it will be retried after the visibility timeout",
                     m->message_id);
            w->state[i] = MS_CLOSED;
            break;
        }
        if (w->batch.n == 1)
            flush_deletes(w);
    }
    flush_deletes(w);
    if (signals_stop_requested())
        release_waiting(w);
    /* Left after a database error: they come back after the visibility timeout. */
    for (size_t i = 0; i < w->batch.n; i++)
        w->state[i] = MS_CLOSED;
    return failed;
}

void consumer_log_stats(const struct consumer_stats *s)
{
    double up = mlw_monotonic() - s->started;
    log_info(E_STATS " Worker Stats:");
    log_info("   Uptime: %.0fs", up);
    log_info("   Processed: %" PRId64, s->processed);
    log_info("   Errors: %" PRId64, s->errors);
    if (s->processed > 0)
        log_info("   Success Rate: %.1f%%",
                 100.0 * (double)s->processed / (double)(s->processed + s->errors));
    log_info("   Messages: %" PRId64 " received, %" PRId64 " deleted, %" PRId64 " re-enqueued, %"
             PRId64 " released, %" PRId64 " left for redrive; %" PRId64 " receive errors",
             s->received, s->deleted, s->requeued, s->released, s->left, s->receive_errors);
    log_info("   SQS retries: %" PRId64 " (throttling, 5xx, network errors)", s->sqs_retries);
    log_info("   Rows: vitals %" PRId64 " categorized / %" PRId64 " failed, nutrition %" PRId64
             " completed / %" PRId64 " failed, labs %" PRId64 " categorized / %" PRId64 " failed",
             s->vitals.done, s->vitals.failed, s->nutrition.done, s->nutrition.failed,
             s->labs.done, s->labs.failed);
}

int consumer_run(const struct config *cfg, struct store *st, struct consumer_stats *s)
{
    if (s->started == 0)
        s->started = mlw_monotonic();
    log_info("Starting SQS worker mode...");
    if (!cfg->sqs_queue_url || !cfg->sqs_queue_url[0]) {
        log_error("Fatal error: ML_WORKER_SQS_QUEUE_URL is required in sqs mode");
        return 1;
    }
    struct worker w = {.cfg = cfg, .st = st, .s = s};
    w.rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)&w;
    if (!w.rng)
        w.rng = 1;
    struct mlw_err err = {0};
    log_info("ML Worker initializing...");
    struct queue_options qo = {env, cfg->aws_region, &cfg->db, cfg->max_receives};
    if (queue_open(cfg->sqs_queue_url, &qo, &w.q, &err) != MLW_OK) {
        if (queue_kind_of_url(cfg->sqs_queue_url) == QUEUE_KIND_SQS)
            log_error("Fatal error: cannot create the SQS client: %s", err.msg);
        else
            log_error("Fatal error: cannot open the database queue: %s", err.msg);
        return 1;
    }
    int is_sqs = queue_kind(w.q) == QUEUE_KIND_SQS;
    if (is_sqs) {
        log_info("   Queue URL: %s", cfg->sqs_queue_url);
        log_info("   Region: %s (endpoint %s)", sqs_region(queue_sqs_client(w.q)),
                 sqs_endpoint(queue_sqs_client(w.q)));
    } else {
        /* The URL may hold a database password: log the masked form. */
        log_info("   Queue: %s (database queue)", queue_where(w.q));
        log_info("   Max Receives: %d (then dead-lettered)", cfg->max_receives);
    }
    log_info("   Batch Size: %d", cfg->sqs_batch_size);
    log_info("   Wait Time: %ds", cfg->sqs_wait_time);
    log_info("   Visibility Timeout: %ds (work budget per message %.0fs)",
             cfg->sqs_visibility_timeout, budget_seconds(cfg));
    log_info("   Shutdown Timeout: %ds", cfg->shutdown_timeout);
    log_info("ML Worker started, polling for messages...");
    log_info(is_sqs ? "AWS SQS client initialized" : "Database queue opened");

    int rc = 0, ever_ok = 0, logged_creds = 0;
    double last_stats = mlw_monotonic();
    while (!signals_stop_requested()) {
        s->sqs_retries = queue_retry_count(w.q);
        if (mlw_monotonic() - last_stats >= cfg->stats_interval) {
            consumer_log_stats(s);
            last_stats = mlw_monotonic();
        }
        mlw_err_clear(&err);
        health_idle("sqs", SQS_MAX_ATTEMPTS * (cfg->sqs_wait_time + 15.0));
        int r = queue_receive(w.q, cfg->sqs_batch_size, cfg->sqs_wait_time,
                              cfg->sqs_visibility_timeout, &w.batch, &err);
        if (!logged_creds && queue_credentials_source(w.q)[0]) {
            log_info("AWS credentials from %s", queue_credentials_source(w.q));
            logged_creds = 1;
        }
        if (r == MLW_ESTOPPED) {
            queue_messages_free(&w.batch);
            break;
        }
        if (r != MLW_OK) {
            s->receive_errors++;
            /* Messages parsed before a failure are ours: release them. */
            for (size_t i = 0; i < w.batch.n; i++)
                w.state[i] = MS_WAITING;
            if (w.batch.n)
                release_waiting(&w);
            queue_messages_free(&w.batch);
            log_error("Error receiving messages from %s: %s", queue_label(w.q), err.msg);
            if ((r == MLW_EFATAL || r == MLW_ENOTFOUND) && !ever_ok) {
                log_error("Fatal error: the queue is not usable with this configuration");
                rc = 1;
                break;
            }
            backoff_sleep(&w, "a receive error");
            continue;
        }
        ever_ok = 1;
        if (w.batch.n == 0) {
            queue_messages_free(&w.batch);
            w.backoff = 0;
            if (cfg->exit_when_idle) {
                log_info("Queue is empty and ML_WORKER_EXIT_WHEN_IDLE=1: exiting");
                break;
            }
            if (cfg->sqs_wait_time == 0)
                signals_sleep(1.0); /* short polling: no tight request loop */
            continue;
        }
        s->received += (int64_t)w.batch.n;
        if (signals_stop_requested()) {
            for (size_t i = 0; i < w.batch.n; i++)
                w.state[i] = MS_WAITING;
            release_waiting(&w);
            queue_messages_free(&w.batch);
            break;
        }
        log_info(E_INBOX " Received %zu message(s) from %s", w.batch.n, queue_label(w.q));
        int failed = process_batch(&w);
        queue_messages_free(&w.batch);
        if (failed)
            backoff_sleep(&w, "a database error");
        else
            w.backoff = 0;
    }
    if (signals_stop_requested() && signals_last() != 0)
        log_info(E_STOP " Received signal %d, initiating graceful shutdown...", signals_last());
    log_info("ML Worker shutting down...");
    s->sqs_retries = queue_retry_count(w.q);
    consumer_log_stats(s);
    queue_close(w.q);
    return rc;
}
