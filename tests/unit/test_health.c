/* Unit tests of the pure parts of http/health.h: listen address parsing
 * and the heartbeat registry's deadlines. The endpoints themselves are
 * tested live by tests/integration/test_http.sh. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/timeutil.h"
#include "http/health.h"

static void test_parse_addr(void **state)
{
    (void)state;
    struct sockaddr_storage sa;
    socklen_t len;
    struct mlw_err err = {0};
    assert_int_equal(health_parse_addr("127.0.0.1:9090", &sa, &len, &err), MLW_OK);
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)&sa;
    assert_int_equal(sa.ss_family, AF_INET);
    assert_int_equal(ntohs(v4->sin_port), 9090);
    assert_int_equal(ntohl(v4->sin_addr.s_addr), 0x7f000001);
    assert_int_equal(len, sizeof(struct sockaddr_in));

    assert_int_equal(health_parse_addr("0.0.0.0:0", &sa, &len, NULL), MLW_OK);
    assert_int_equal(v4->sin_addr.s_addr, 0);
    assert_int_equal(health_parse_addr("localhost:81", &sa, &len, NULL), MLW_OK);
    assert_int_equal(ntohl(v4->sin_addr.s_addr), 0x7f000001);

    assert_int_equal(health_parse_addr("[::1]:9090", &sa, &len, NULL), MLW_OK);
    assert_int_equal(sa.ss_family, AF_INET6);
    assert_int_equal(ntohs(((const struct sockaddr_in6 *)&sa)->sin6_port), 9090);

    /* Disabled. */
    assert_int_equal(health_parse_addr(NULL, &sa, &len, NULL), MLW_ENOTFOUND);
    assert_int_equal(health_parse_addr("", &sa, &len, NULL), MLW_ENOTFOUND);
    assert_int_equal(health_parse_addr("OFF", &sa, &len, NULL), MLW_ENOTFOUND);

    /* Malformed: each a clear error naming the variable. */
    const char *bad[] = {"9090", ":9090", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536",
                         "127.0.0.1:-1", "127.0.0.1:90x", "example.com:9090", "::1:9090",
                         "[::1]9090", "[::1", "1.2.3.4.5:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mlw_err e = {0};
        assert_int_equal(health_parse_addr(bad[i], &sa, &len, &e), MLW_EINVAL);
        assert_non_null(strstr(e.msg, "ML_WORKER_HTTP_ADDR"));
    }
}

static int find(const struct health_thread *t, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(t[i].name, name))
            return i;
    return -1;
}

static void test_heartbeats(void **state)
{
    (void)state;
    struct health_thread t[HEALTH_MAX_THREADS];
    int ok = 0;
    double now = mlw_monotonic();
    assert_int_equal(health_threads(now, t, HEALTH_MAX_THREADS, &ok), 0);
    assert_int_equal(ok, 1); /* nothing registered: live */

    health_beat("worker", 2);
    health_idle("poller", 20);
    int n = health_threads(mlw_monotonic(), t, HEALTH_MAX_THREADS, &ok);
    assert_int_equal(n, 2);
    assert_int_equal(ok, 1);
    int w = find(t, n, "worker"), p = find(t, n, "poller");
    assert_true(w >= 0 && p >= 0);
    assert_int_equal(t[w].idle, 0);
    assert_int_equal(t[p].idle, 1);

    /* 3 s later the worker is 1 s overdue; the idle poller (20 s + grace) is not. */
    n = health_threads(mlw_monotonic() + 3, t, HEALTH_MAX_THREADS, &ok);
    assert_int_equal(ok, 0);
    w = find(t, n, "worker");
    p = find(t, n, "poller");
    assert_true(t[w].overdue_s > 0.5 && t[w].overdue_s < 1.5);
    assert_true(t[p].overdue_s == 0);
    /* Past the idle wait plus HEALTH_IDLE_GRACE_S the poller is overdue too. */
    n = health_threads(mlw_monotonic() + 21 + HEALTH_IDLE_GRACE_S, t, HEALTH_MAX_THREADS, &ok);
    assert_true(t[find(t, n, "poller")].overdue_s > 0);

    /* A new beat moves the deadline; an exited thread is no longer watched. */
    health_beat("worker", 100);
    health_exit("poller");
    n = health_threads(mlw_monotonic() + 3, t, HEALTH_MAX_THREADS, &ok);
    assert_int_equal(n, 1);
    assert_int_equal(ok, 1);
    health_exit("worker");
    assert_int_equal(health_threads(mlw_monotonic(), t, HEALTH_MAX_THREADS, &ok), 0);

    /* More names than slots: the extra ones are not watched (no crash). */
    char name[16];
    for (int i = 0; i < HEALTH_MAX_THREADS + 3; i++) {
        snprintf(name, sizeof name, "t%d", i);
        health_beat(name, 10);
    }
    assert_int_equal(health_threads(mlw_monotonic(), t, HEALTH_MAX_THREADS, &ok),
                     HEALTH_MAX_THREADS);
    for (int i = 0; i < HEALTH_MAX_THREADS + 3; i++) {
        snprintf(name, sizeof name, "t%d", i);
        health_exit(name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_addr),
        cmocka_unit_test(test_heartbeats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
