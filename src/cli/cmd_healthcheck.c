/* cmd_healthcheck.c - `mlworker healthcheck [PATH]`: asks the running
 * worker's own endpoint (ML_WORKER_HTTP_ADDR; /healthz by default) and exits
 * 0 on HTTP 200, 1 otherwise. For container health checks: the image needs
 * no curl binary, and the check follows the address the worker uses. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/config.h"
#include "http/health.h"

static const char *env(const char *name) { return getenv(name); }

static size_t print_body(char *p, size_t size, size_t n, void *ud)
{
    (void)ud;
    return fwrite(p, size, n, stdout);
}

/* The URL of path on the worker's address; a wildcard address is asked on
 * loopback. */
static void local_url(const struct sockaddr_storage *sa, const char *path, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "127.0.0.1";
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
        if (v4->sin_addr.s_addr != htonl(INADDR_ANY))
            inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
        snprintf(out, cap, "http://%s:%u%s", host, ntohs(v4->sin_port), path);
    } else {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
        snprintf(host, sizeof host, "::1");
        if (memcmp(&v6->sin6_addr, &in6addr_any, sizeof in6addr_any))
            inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
        snprintf(out, cap, "http://[%s]:%u%s", host, ntohs(v6->sin6_port), path);
    }
}

int cmd_healthcheck(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: mlworker healthcheck [PATH]\n\n"
               "GETs PATH (default /healthz; also /readyz) from the worker running with the same\n"
               "environment, on ML_WORKER_HTTP_ADDR (a 0.0.0.0 / [::] address is asked on\n"
               "loopback). Prints the answer; exit 0 on HTTP 200, 1 otherwise (3 s limit).\n");
        return 0;
    }
    if (argc > 1 || (argc == 1 && argv[0][0] != '/')) {
        fprintf(stderr, "usage: mlworker healthcheck [/healthz|/readyz]\n");
        return EXIT_USAGE;
    }
    const char *path = argc == 1 ? argv[0] : "/healthz";
    struct config cfg;
    char problems[4096];
    if (config_load(&cfg, env, problems, sizeof problems) != MLW_OK) {
        cli_print_problems(problems);
        config_free(&cfg);
        return 1;
    }
    struct sockaddr_storage sa;
    socklen_t len;
    struct mlw_err err = {0};
    int rc = health_parse_addr(cfg.http_addr, &sa, &len, &err);
    config_free(&cfg);
    if (rc == MLW_ENOTFOUND) {
        fprintf(stderr, "mlworker healthcheck: the endpoints are off (ML_WORKER_HTTP_ADDR)\n");
        return 1;
    }
    if (rc != MLW_OK) {
        fprintf(stderr, "mlworker: configuration error: %s\n", err.msg);
        return 1;
    }
    char url[128];
    local_url(&sa, path, url, sizeof url);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    CURL *h = curl_easy_init();
    if (!h) {
        curl_global_cleanup();
        return 1;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 3000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, print_body);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    curl_global_cleanup();
    if (cc != CURLE_OK) {
        fprintf(stderr, "mlworker healthcheck: %s: %s\n", url, curl_easy_strerror(cc));
        return 1;
    }
    if (status != 200) {
        fprintf(stderr, "\nmlworker healthcheck: %s: HTTP %ld\n", url, status);
        return 1;
    }
    printf("\n");
    return 0;
}
