/* jobmetrics.c - see jobmetrics.h. */
#include "jobs/jobmetrics.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/metrics.h"
#include "core/timeutil.h"

#define MSG_SLOTS 32

struct msg_slot {
    char id[128];
    const char *label; /* static string from jobmetrics_job_label() */
    double t0;
    unsigned long seq; /* 0: free */
};

static struct msg_slot g_slots[MSG_SLOTS];
static unsigned long g_seq;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

const char *jobmetrics_job_label(const char *job_type)
{
    static const char *const known[] = {"process_pending_vitals", "process_pending_nutrition",
                                        "process_pending_labs", "lab_categorization",
                                        "loinc_mapping"};
    for (size_t i = 0; job_type && i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(job_type, known[i]))
            return known[i];
    return "unknown";
}

const char *jobmetrics_domain_label(enum domain d)
{
    /* Indexed by enum domain (vitals, nutrition, labs, in that order). */
    static const char *const names[] = {"vitals", "nutrition", "labs"};
    return (unsigned)d < sizeof names / sizeof names[0] ? names[d] : "other";
}

struct jobmetrics_mark jobmetrics_begin(const struct pipeline_stats *s)
{
    struct jobmetrics_mark mk = {mlw_monotonic(), *s};
    return mk;
}

void jobmetrics_batch(enum domain d, const struct jobmetrics_mark *mk,
                      const struct pipeline_stats *after, int64_t rows)
{
    if (!metrics_process())
        return;
    const char *dom = jobmetrics_domain_label(d);
    const struct pipeline_stats *b = &mk->before;
    if (after->done > b->done)
        metrics_count(METRICS_ROWS_PROCESSED, dom, (double)(after->done - b->done));
    if (after->failed > b->failed)
        metrics_count(METRICS_ROWS_FAILED, dom, (double)(after->failed - b->failed));
    if (after->reclaimed > b->reclaimed)
        metrics_count(METRICS_CLAIMS_RECLAIMED, dom, (double)(after->reclaimed - b->reclaimed));
    if (after->retries > b->retries)
        metrics_count(METRICS_DB_RETRIES, dom, (double)(after->retries - b->retries));
    if (rows > 0)
        metrics_time(METRICS_BATCH_SECONDS, dom, mlw_monotonic() - mk->t0);
}

/* The slot holding id, or NULL. Called locked. */
static struct msg_slot *find(const char *id)
{
    for (int i = 0; i < MSG_SLOTS; i++)
        if (g_slots[i].seq && !strncmp(g_slots[i].id, id, sizeof g_slots[i].id - 1))
            return &g_slots[i];
    return NULL;
}

void jobmetrics_received(const char *message_id, const char *job_type)
{
    const char *label = jobmetrics_job_label(job_type);
    metrics_count(METRICS_MSG_RECEIVED, label, 1);
    if (!message_id || !metrics_process())
        return;
    pthread_mutex_lock(&g_mu);
    struct msg_slot *s = find(message_id);
    if (!s) { /* a free slot, else the oldest */
        s = &g_slots[0];
        for (int i = 0; i < MSG_SLOTS; i++) {
            if (!g_slots[i].seq) {
                s = &g_slots[i];
                break;
            }
            if (g_slots[i].seq < s->seq)
                s = &g_slots[i];
        }
    }
    snprintf(s->id, sizeof s->id, "%s", message_id);
    s->label = label;
    s->t0 = mlw_monotonic();
    s->seq = ++g_seq;
    pthread_mutex_unlock(&g_mu);
}

void jobmetrics_outcome(const char *message_id, int failed)
{
    if (!message_id || !metrics_process())
        return;
    const char *label = "unknown";
    double t0 = -1;
    pthread_mutex_lock(&g_mu);
    struct msg_slot *s = find(message_id);
    if (s) {
        label = s->label;
        t0 = s->t0;
        if (failed)
            s->seq = 0; /* it will not be deleted */
    }
    pthread_mutex_unlock(&g_mu);
    if (t0 >= 0)
        metrics_time(METRICS_JOB_SECONDS, label, mlw_monotonic() - t0);
    if (failed)
        metrics_count(METRICS_MSG_FAILED, label, 1);
}

void jobmetrics_deleted(const char *message_id)
{
    if (!message_id || !metrics_process())
        return;
    const char *label = "unknown";
    pthread_mutex_lock(&g_mu);
    struct msg_slot *s = find(message_id);
    if (s) {
        label = s->label;
        s->seq = 0;
    }
    pthread_mutex_unlock(&g_mu);
    metrics_count(METRICS_MSG_DELETED, label, 1);
}
