/*
 * health.h - liveness, readiness and metrics over HTTP (libmicrohttpd).
 *
 * Endpoints, on ML_WORKER_HTTP_ADDR (default 127.0.0.1:9090; "" or "off"
 * disables them; listening on every interface needs an explicit
 * 0.0.0.0:PORT or [::]:PORT):
 *
 *   GET /healthz  liveness. 200 while every worker thread that registered
 *                 has reported within its deadline, else 503. A thread
 *                 reports with health_beat() before each unit of work
 *                 (promising the next report within deadline_s) and with
 *                 health_idle() before a wait (sleep, long poll), so a thread
 *                 stuck in a database call or a hung long poll turns it red,
 *                 and an idle one does not. JSON body: each thread's state.
 *   GET /readyz   readiness. 200 when the database answers a query on the
 *                 server's own connection (3 s limits), its schema version is
 *                 current, the SQS queue's last GetQueueAttributes (sqs and
 *                 both modes; sampled every 15 s by a background thread,
 *                 which also feeds the queue depth gauges) succeeded less
 *                 than a minute ago, a configured model is loaded, and no stop was
 *                 requested. Else 503. JSON body: one entry per check.
 *   GET /metrics  the process registry (core/metrics.h) in Prometheus text
 *                 format 0.0.4, with process RSS, virtual size and CPU time
 *                 read at scrape time.
 *
 * The heartbeat registry and the model state work without a server (they
 * only record), so worker loops call them unconditionally.
 *
 * Thread: every function may be called from any thread.
 */
#ifndef MLW_HTTP_HEALTH_H
#define MLW_HTTP_HEALTH_H

#include <stddef.h>
#include <sys/socket.h>

#include "core/config.h"
#include "core/err.h"

#define HEALTH_MAX_THREADS 8
#define HEALTH_IDLE_GRACE_S 30.0 /* added to a declared idle wait */

/* ---- liveness: worker threads report here ---- */

/* Thread `name` is working and will report again within deadline_s
 * seconds (<= 0: 300). Registers the thread on first use. */
void health_beat(const char *name, double deadline_s);
/* Thread `name` is about to wait up to wait_s seconds (sleep, long poll);
 * it is live until wait_s + HEALTH_IDLE_GRACE_S from now. */
void health_idle(const char *name, double wait_s);
/* Thread `name` ended normally: stop watching it. */
void health_exit(const char *name);

struct health_thread {
    char name[32];
    int idle;           /* 1: last report was health_idle() */
    double age_s;       /* since the last report */
    double overdue_s;   /* > 0: past its deadline by that much */
};

/* Snapshot of the registered threads at monotonic time now (out: up to
 * max entries). Returns how many; *all_ok gets 1 if none is overdue. */
int health_threads(double now, struct health_thread *out, int max, int *all_ok);

/* ---- readiness: the model ---- */

enum health_model {
    HEALTH_MODEL_NONE,    /* no model configured: not a readiness condition */
    HEALTH_MODEL_LOADING,
    HEALTH_MODEL_READY,
    HEALTH_MODEL_FAILED
};
/* The ML path reports its model's state; detail (may be NULL) is shown in
 * /readyz (a directory name or error, never a secret). */
void health_set_model(enum health_model state, const char *detail);

/* ---- the server ---- */

struct health_server;

/*
 * Parse a listen address: "IPv4:port", "[IPv6]:port" or "localhost:port",
 * port 0..65535 (0: any free port). Returns MLW_OK and fills sa/len,
 * MLW_ENOTFOUND when text is NULL, "" or "off" (endpoints disabled), or
 * MLW_EINVAL with the reason. No I/O (numeric hosts only).
 */
int health_parse_addr(const char *text, struct sockaddr_storage *sa, socklen_t *len,
                      struct mlw_err *err);

/*
 * Start the endpoints for cfg (which must outlive the server), and the
 * process metrics registry. Returns MLW_OK with *out set, or with *out NULL
 * when the endpoints are disabled or the address cannot be bound (a
 * warning is logged: the worker runs on without endpoints, so several
 * workers on one host do not fail on the default port). Returns MLW_EINVAL
 * for a malformed ML_WORKER_HTTP_ADDR (a configuration error), MLW_ENOMEM.
 * Logs the address it listens on.
 */
int health_start(const struct config *cfg, struct health_server **out, struct mlw_err *err);

/* Stop the endpoints and the sampler, free the metrics registry. NULL is
 * fine. Call after the worker threads have ended. */
void health_stop(struct health_server *h);

#endif
