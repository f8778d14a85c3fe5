/*
 * log.h - one-line logs to stderr, text or JSON.
 *
 * Text lines keep the original worker's shape so operators' greps still
 * work: "<time> - mlworker - <LEVEL> - <message>". JSON lines carry the same
 * fields. Each line is written with a single write(2), so threads never
 * interleave. Never pass secrets: nothing here can tell them apart.
 */
#ifndef MLW_LOG_H
#define MLW_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERROR };
enum log_format { LOG_TEXT, LOG_JSON };

void log_setup(enum log_format fmt, enum log_level min_level);
int log_enabled(enum log_level lvl);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Arguments are evaluated only when the level is enabled. */
#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...)  do { if (log_enabled(LOG_INFO)) log_msg(LOG_INFO, __VA_ARGS__); } while (0)
#define log_warn(...)  log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
