/*
 * timeutil.h - naive wall-clock timestamps and civil dates.
 *
 * The contract's timestamps are naive local time (no zone), stored as text
 * 'YYYY-MM-DD HH:MM:SS[.ffffff]'. We represent them as microseconds since
 * 0001-01-01 00:00:00 in the proleptic Gregorian calendar (mlw_ts) and dates
 * as days since 0001-01-01 (mlw_day, Monday = day 0). Pure functions, no I/O.
 */
#ifndef MLW_TIMEUTIL_H
#define MLW_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

typedef int64_t mlw_ts;   /* microseconds since 0001-01-01T00:00:00 */
typedef int32_t mlw_day;  /* days since 0001-01-01 (a Monday) */

#define MLW_US_PER_SEC  INT64_C(1000000)
#define MLW_US_PER_HOUR (INT64_C(3600) * MLW_US_PER_SEC)
#define MLW_US_PER_DAY  (INT64_C(86400) * MLW_US_PER_SEC)
#define MLW_DAY_MAX     3652058 /* 9999-12-31 */

/* Buffer sizes for formatted values, NUL included. */
#define MLW_TS_LEN   27 /* YYYY-MM-DD HH:MM:SS.ffffff */
#define MLW_DATE_LEN 11 /* YYYY-MM-DD */

/* Parse 'YYYY-MM-DD[ T]HH:MM:SS[.fraction]' (fraction 1-9 digits, truncated
 * to microseconds). Zone suffixes, missing seconds and bare dates are
 * rejected. Returns 0 on success, -1 with a reason in why (may be NULL). */
int mlw_ts_parse(const char *s, size_t len, mlw_ts *out, const char **why);
/* Parse 'YYYY-MM-DD' exactly. */
int mlw_date_parse(const char *s, size_t len, mlw_day *out, const char **why);

/* Canonical text: seconds always, '.ffffff' only when the fraction is not 0. */
void mlw_ts_format(mlw_ts ts, char out[MLW_TS_LEN]);
void mlw_date_format(mlw_day d, char out[MLW_DATE_LEN]);

mlw_day mlw_ts_day(mlw_ts ts);
mlw_ts mlw_ts_hour(mlw_ts ts);              /* truncate to the hour */
mlw_ts mlw_day_start(mlw_day d);
mlw_day mlw_days_from_civil(int y, int m, int d);
void mlw_civil_from_days(mlw_day d, int *y, int *m, int *dd);
int mlw_day_weekday(mlw_day d);             /* Monday = 0 .. Sunday = 6 */
mlw_day mlw_week_start(mlw_day d);          /* Monday of d's week */
mlw_day mlw_month_start(mlw_day d);
mlw_day mlw_month_end(mlw_day d);           /* last day of d's month */
int mlw_days_in_month(int y, int m);

/* Current UTC wall-clock time as canonical text with whole seconds. */
void mlw_utc_now_text(char out[MLW_TS_LEN]);
/* Monotonic seconds, for durations. */
double mlw_monotonic(void);

#endif
