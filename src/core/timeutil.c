/* timeutil.c - see timeutil.h. Civil-date arithmetic uses the classic
 * era-based conversion (400-year cycles), valid for years 1..9999. */
#include "core/timeutil.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int mlw_days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

mlw_day mlw_days_from_civil(int y, int m, int d)
{
    /* Days since 0000-03-01 in the proleptic calendar, shifted to 0001-01-01. */
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int mp = (m + 9) % 12;
    int doy = (153 * mp + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (mlw_day)(era * 146097 + doe - 306);
}

void mlw_civil_from_days(mlw_day z0, int *y, int *m, int *d)
{
    int z = z0 + 306;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    int doe = z - era * 146097;
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int yy = yoe + era * 400;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int parse_date_part(const char *s, size_t len, mlw_day *out, const char **why)
{
    int y, m, d;
    if (len < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &m) || s[7] != '-' ||
        digits(s + 8, 2, &d)) {
        *why = "expected YYYY-MM-DD";
        return -1;
    }
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > mlw_days_in_month(y, m)) {
        *why = "no such calendar date";
        return -1;
    }
    *out = mlw_days_from_civil(y, m, d);
    return 0;
}

int mlw_date_parse(const char *s, size_t len, mlw_day *out, const char **why)
{
    const char *dummy;
    if (why == NULL)
        why = &dummy;
    if (s == NULL) {
        *why = "missing date";
        return -1;
    }
    if (parse_date_part(s, len, out, why))
        return -1;
    if (len != 10) {
        *why = "expected YYYY-MM-DD with nothing after it";
        return -1;
    }
    return 0;
}

int mlw_ts_parse(const char *s, size_t len, mlw_ts *out, const char **why)
{
    const char *dummy;
    mlw_day day;
    int hh, mi, ss;
    if (why == NULL)
        why = &dummy;
    if (s == NULL) {
        *why = "missing timestamp";
        return -1;
    }
    if (parse_date_part(s, len, &day, why))
        return -1;
    if (len == 10) {
        *why = "timestamp has no time of day";
        return -1;
    }
    if (len < 19 || (s[10] != ' ' && s[10] != 'T') || digits(s + 11, 2, &hh) || s[13] != ':' ||
        digits(s + 14, 2, &mi)) {
        *why = "expected YYYY-MM-DD HH:MM:SS";
        return -1;
    }
    if (s[16] != ':' || digits(s + 17, 2, &ss)) {
        *why = "timestamp lacks seconds";
        return -1;
    }
    if (hh > 23 || mi > 59 || ss > 59) {
        *why = "time of day out of range";
        return -1;
    }
    int64_t frac = 0;
    size_t i = 19;
    if (i < len && s[i] == '.') {
        int nd = 0;
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, nd++)
            if (nd < 6)
                frac = frac * 10 + (s[i] - '0');
        if (nd == 0 || nd > 9) {
            *why = "bad fractional seconds";
            return -1;
        }
        for (; nd < 6; nd++)
            frac *= 10;
    }
    if (i != len) {
        *why = "unexpected text after the time (time zones are not accepted: "
               "timestamps are naive local time)";
        return -1;
    }
    *out = (mlw_ts)day * MLW_US_PER_DAY +
           ((int64_t)hh * 3600 + mi * 60 + ss) * MLW_US_PER_SEC + frac;
    return 0;
}

mlw_day mlw_ts_day(mlw_ts ts)
{
    mlw_ts q = ts / MLW_US_PER_DAY;
    if (ts % MLW_US_PER_DAY < 0)
        q--;
    return (mlw_day)q;
}

mlw_ts mlw_ts_hour(mlw_ts ts) { return ts - ((ts % MLW_US_PER_HOUR) + MLW_US_PER_HOUR) % MLW_US_PER_HOUR; }
mlw_ts mlw_day_start(mlw_day d) { return (mlw_ts)d * MLW_US_PER_DAY; }

/* Fixed-width decimal, written by hand so the widths are obvious. */
static char *put_num(char *p, int64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

void mlw_date_format(mlw_day d, char out[MLW_DATE_LEN])
{
    int y, m, dd;
    mlw_civil_from_days(d, &y, &m, &dd);
    char *p = put_num(out, y % 10000, 4);
    *p++ = '-';
    p = put_num(p, m, 2);
    *p++ = '-';
    p = put_num(p, dd, 2);
    *p = '\0';
}

void mlw_ts_format(mlw_ts ts, char out[MLW_TS_LEN])
{
    mlw_day d = mlw_ts_day(ts);
    int64_t rem = ts - (mlw_ts)d * MLW_US_PER_DAY;
    int64_t secs = rem / MLW_US_PER_SEC, us = rem % MLW_US_PER_SEC;
    mlw_date_format(d, out);
    char *p = out + 10;
    *p++ = ' ';
    p = put_num(p, secs / 3600, 2);
    *p++ = ':';
    p = put_num(p, secs / 60 % 60, 2);
    *p++ = ':';
    p = put_num(p, secs % 60, 2);
    if (us) {
        *p++ = '.';
        p = put_num(p, us, 6);
    }
    *p = '\0';
}

int mlw_day_weekday(mlw_day d)
{
    int r = d % 7; /* 0001-01-01 is a Monday */
    return r < 0 ? r + 7 : r;
}

mlw_day mlw_week_start(mlw_day d) { return d - mlw_day_weekday(d); }

mlw_day mlw_month_start(mlw_day d)
{
    int y, m, dd;
    mlw_civil_from_days(d, &y, &m, &dd);
    return d - (dd - 1);
}

mlw_day mlw_month_end(mlw_day d)
{
    int y, m, dd;
    mlw_civil_from_days(d, &y, &m, &dd);
    return d + (mlw_days_in_month(y, m) - dd);
}

void mlw_utc_now_text(char out[MLW_TS_LEN])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, MLW_TS_LEN, "%Y-%m-%d %H:%M:%S", &tm);
}

double mlw_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
