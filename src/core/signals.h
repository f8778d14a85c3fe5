/*
 * signals.h - graceful shutdown.
 *
 * SIGTERM and SIGINT only set a flag (and wake sleepers); workers check it
 * between units of work. A second signal while stopping is logged and
 * ignored: the current transaction still finishes.
 */
#ifndef MLW_SIGNALS_H
#define MLW_SIGNALS_H

int signals_install(void);
int signals_stop_requested(void);
void signals_request_stop(void);     /* as if a signal arrived (tests, fatal paths) */
int signals_last(void);              /* last signal number seen, 0 if none */
/* Sleep up to seconds, returning early (1) when a stop is requested. */
int signals_sleep(double seconds);
/* A descriptor that becomes readable when a stop is requested (-1 before
 * signals_install): lets other waits (a database socket) include it. */
int signals_wake_fd(void);
/* mlw_monotonic() time of the first stop request, 0 if none yet (for
 * shutdown deadlines: ML_WORKER_SHUTDOWN_TIMEOUT counts from here). */
double signals_stop_time(void);

#endif
