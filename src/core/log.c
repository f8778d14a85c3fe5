/* log.c - see log.h. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_format g_format = LOG_TEXT;
static enum log_level g_min = LOG_INFO;

static const char *level_name[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

void log_setup(enum log_format fmt, enum log_level min_level)
{
    g_format = fmt;
    g_min = min_level;
}

int log_enabled(enum log_level lvl) { return lvl >= g_min; }

/* Appends s to buf as JSON string content; returns new length. */
static size_t json_escape(char *buf, size_t len, size_t cap, const char *s)
{
    for (; *s && len + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[len++] = '\\';
            buf[len++] = (char)c;
        } else if (c < 0x20) {
            len += (size_t)snprintf(buf + len, cap - len, "\\u%04x", c);
        } else {
            buf[len++] = (char)c;
        }
    }
    return len;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    if (lvl < g_min)
        return;
    char msg[4096], line[8192], ts[40];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    time_t secs = tv.tv_sec;
    localtime_r(&secs, &tm);
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);

    size_t len;
    if (g_format == LOG_JSON) {
        snprintf(ts + n, sizeof ts - n, ".%03d", (int)(tv.tv_usec / 1000));
        len = (size_t)snprintf(line, sizeof line,
                               "{\"time\":\"%s\",\"level\":\"%s\",\"logger\":\"mlworker\",\"message\":\"",
                               ts, level_name[lvl]);
        len = json_escape(line, len, sizeof line - 3, msg);
        line[len++] = '"';
        line[len++] = '}';
    } else {
        snprintf(ts + n, sizeof ts - n, ",%03d", (int)(tv.tv_usec / 1000));
        len = (size_t)snprintf(line, sizeof line, "%s - mlworker - %s - %s", ts, level_name[lvl], msg);
        if (len > sizeof line - 2)
            len = sizeof line - 2;
    }
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
