/* signals.c - see signals.h. The handler is async-signal-safe: it stores
 * to a sig_atomic_t and writes one byte to a self-pipe that sleepers poll. */
#include "core/signals.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

#include "core/timeutil.h"

static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_signo;
/* CLOCK_MONOTONIC milliseconds of the first stop request (0: none yet);
 * clock_gettime is async-signal-safe, and a lock-free atomic is safe to
 * store from a handler. */
static atomic_llong g_stop_ms;

static void note_stop_time(void)
{
    struct timespec ts;
    if (atomic_load(&g_stop_ms) != 0 || clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return;
    long long ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    long long zero = 0;
    atomic_compare_exchange_strong(&g_stop_ms, &zero, ms > 0 ? ms : 1);
}
static int g_pipe[2] = {-1, -1};

static void on_signal(int signo)
{
    int saved = errno;
    g_signo = signo;
    note_stop_time();
    g_stop = 1;
    if (g_pipe[1] >= 0) {
        ssize_t w = write(g_pipe[1], "x", 1);
        (void)w;
    }
    errno = saved;
}

int signals_install(void)
{
    if (g_pipe[0] < 0) {
        if (pipe(g_pipe) != 0)
            return -1;
        for (int i = 0; i < 2; i++) {
            fcntl(g_pipe[i], F_SETFL, fcntl(g_pipe[i], F_GETFL) | O_NONBLOCK);
            fcntl(g_pipe[i], F_SETFD, FD_CLOEXEC);
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL))
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

int signals_stop_requested(void) { return g_stop != 0; }
int signals_last(void) { return g_signo; }

void signals_request_stop(void)
{
    note_stop_time();
    g_stop = 1;
    if (g_pipe[1] >= 0) {
        ssize_t w = write(g_pipe[1], "x", 1);
        (void)w;
    }
}

int signals_sleep(double seconds)
{
    double end = mlw_monotonic() + seconds;
    while (!g_stop) {
        double left = end - mlw_monotonic();
        if (left <= 0)
            return 0;
        if (g_pipe[0] < 0) {
            struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
            nanosleep(&ts, NULL);
            continue;
        }
        /* The pipe stays readable once a stop arrives, so every sleeper wakes. */
        struct pollfd p = {.fd = g_pipe[0], .events = POLLIN};
        int ms = (int)(left * 1000.0) + 1;
        poll(&p, 1, ms);
    }
    return 1;
}

int signals_wake_fd(void) { return g_pipe[0]; }

double signals_stop_time(void)
{
    long long ms = atomic_load(&g_stop_ms);
    return ms ? (double)ms / 1000.0 : 0.0;
}
