/* units.c - see units.h. */
#include "domain/units.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

enum conv { MUL, F_TO_C };

struct alias {
    const char *names; /* '|'-separated spellings */
    double factor;
    enum conv conv;
};

struct metric_units {
    const char *metric;
    const char *std;
    double min, max;
    const struct alias *aliases;
};

/* Alias groups shared by several metrics. */
static const struct alias HOURS[] = {
    {"hours|hour|hr|hrs|h", 1.0, MUL},
    {"minutes|minute|min|mins", 1.0 / 60.0, MUL},
    {"seconds|second|sec|secs|s", 1.0 / 3600.0, MUL},
    {NULL, 0, MUL}};
static const struct alias MINUTES[] = {
    {"minutes|minute|min|mins", 1.0, MUL},
    {"hours|hour|hr|hrs|h", 60.0, MUL},
    {"seconds|second|sec|secs|s", 1.0 / 60.0, MUL},
    {NULL, 0, MUL}};
static const struct alias KCAL[] = {
    {"kcal|kcals|kilocalories|kilocalorie", 1.0, MUL},
    {"cal|calories|calorie", 0.001, MUL}, /* small calories; exact "Cal" handled first */
    {"kj|kilojoules|kilojoule", 0.239006, MUL},
    {"j|joules|joule", 0.000239006, MUL},
    {NULL, 0, MUL}};
static const struct alias CM[] = {
    {"cm|centimeters|centimeter|centimetres|centimetre", 1.0, MUL},
    {"in|inches|inch", 2.54, MUL},
    {"ft|feet|foot", 30.48, MUL},
    {"m|meters|meter|metres|metre", 100.0, MUL},
    {NULL, 0, MUL}};
static const struct alias KG[] = {
    {"kg|kgs|kilograms|kilogram", 1.0, MUL},
    {"lb|lbs|pounds|pound", 0.453592, MUL},
    {"g|grams|gram", 0.001, MUL},
    {"oz|ounces|ounce", 0.0283495, MUL},
    {NULL, 0, MUL}};
static const struct alias CELSIUS[] = {
    {"\xc2\xb0" "C|celsius|c|degc|deg c", 1.0, MUL},
    {"\xc2\xb0" "F|fahrenheit|f|degf|deg f", 0, F_TO_C},
    {NULL, 0, MUL}};
static const struct alias BPM[] = {
    {"bpm|beats/min|beats per minute|count/min|/min", 1.0, MUL}, {NULL, 0, MUL}};
static const struct alias MMHG[] = {
    {"mmhg|mm hg|millimeters of mercury|torr", 1.0, MUL}, {"kpa", 7.50062, MUL}, {NULL, 0, MUL}};
static const struct alias MGDL[] = {
    {"mg/dl|milligrams per deciliter", 1.0, MUL},
    {"mmol/l|millimoles per liter", 18.0182, MUL},
    {NULL, 0, MUL}};
static const struct alias BMI[] = {
    {"kg/m\xc2\xb2|kg/m2|kilograms per square meter", 1.0, MUL}, {NULL, 0, MUL}};
static const struct alias PERCENT[] = {
    {"%|percent|percentage", 1.0, MUL}, {"fraction", 100.0, MUL}, {NULL, 0, MUL}};
static const struct alias STEPS[] = {{"steps|step|count|counts", 1.0, MUL}, {NULL, 0, MUL}};
static const struct alias FLIGHTS[] = {
    {"flights|flight|floors|floor|levels|level|stories|story", 1.0, MUL}, {NULL, 0, MUL}};
static const struct alias METERS[] = {
    {"meters|meter|m|metres|metre", 1.0, MUL},
    {"km|kilometers|kilometer|kilometres|kilometre", 1000.0, MUL},
    {"mi|miles|mile", 1609.34, MUL},
    {"ft|feet|foot", 0.3048, MUL},
    {"yd|yards|yard", 0.9144, MUL},
    {NULL, 0, MUL}};
static const struct alias KM[] = {
    {"km|kilometers|kilometer|kilometres|kilometre", 1.0, MUL},
    {"mi|miles|mile", 1.60934, MUL},
    {"m|meters|meter|metres|metre", 0.001, MUL},
    {"ft|feet|foot", 0.0003048, MUL},
    {NULL, 0, MUL}};

static const struct metric_units TABLE[] = {
    {"Height", "cm", 30, 300, CM},
    {"Weight", "kg", 1, 500, KG},
    {"Temperature", "\xc2\xb0" "C", 30, 45, CELSIUS},
    {"Heart Rate", "bpm", 30, 220, BPM},
    {"Blood Pressure Systolic", "mmHg", 50, 300, MMHG},
    {"Blood Pressure Diastolic", "mmHg", 30, 200, MMHG},
    {"Blood Sugar", "mg/dL", 20, 800, MGDL},
    {"BMI", "kg/m\xc2\xb2", 10, 80, BMI},
    {"Oxygen Saturation", "%", 50, 100, PERCENT},
    {"Steps", "steps", 0, 100000, STEPS},
    {"Stand Hours", "hours", 0, 24, HOURS},
    {"Active Energy", "kcal", 0, 10000, KCAL},
    {"Workout Calories", "kcal", 0, 5000, KCAL},
    {"Flights Climbed", "flights", 0, 500, FLIGHTS},
    {"Workouts", "minutes", 0, 600, MINUTES},
    {"Workout Duration", "minutes", 0, 600, MINUTES},
    {"Workout Distance", "meters", 0, 100000, METERS},
    {"Sleep", "hours", 0, 24, HOURS},
    {"Distance Walking", "km", 0, 200, KM},
};

static const struct metric_units *find_metric(const char *metric)
{
    if (metric == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof TABLE / sizeof TABLE[0]; i++)
        if (!strcmp(TABLE[i].metric, metric))
            return &TABLE[i];
    return NULL;
}

const char *units_standard(const char *metric_type)
{
    const struct metric_units *m = find_metric(metric_type);
    return m ? m->std : NULL;
}

static int ascii_lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
static int ascii_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* Does the '|'-list contain u[0..n) (ASCII case-insensitive)? */
static int list_has(const char *list, const char *u, size_t n)
{
    const char *p = list;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n) {
            size_t i = 0;
            while (i < n && ascii_lower((unsigned char)p[i]) == ascii_lower((unsigned char)u[i]))
                i++;
            if (i == n)
                return 1;
        }
        if (!bar)
            break;
        p = bar + 1;
    }
    return 0;
}

enum units_result units_normalize(const char *metric_type, double value, const char *unit,
                                  double *out_value, const char **out_unit, char *why,
                                  size_t why_len)
{
    if (!isfinite(value)) {
        snprintf(why, why_len, "value is not a finite number");
        return UNITS_NOT_FINITE;
    }
    const struct metric_units *m = find_metric(metric_type);
    if (m == NULL) {
        *out_value = value;
        *out_unit = unit;
        return UNITS_PASSTHROUGH;
    }
    const char *u = unit ? unit : "";
    while (ascii_space((unsigned char)*u))
        u++;
    size_t n = strlen(u);
    while (n > 0 && ascii_space((unsigned char)u[n - 1]))
        n--;

    const struct alias *hit = NULL;
    if (m->aliases == KCAL && n == 3 && !memcmp(u, "Cal", 3)) {
        static const struct alias large_cal = {"Cal", 1.0, MUL};
        hit = &large_cal; /* food-label Calorie = kcal */
    }
    for (const struct alias *a = m->aliases; hit == NULL && a->names; a++)
        if (list_has(a->names, u, n))
            hit = a;
    if (hit == NULL) {
        snprintf(why, why_len, "unknown unit '%.*s' for %s (expected %s or a known alias)",
                 (int)(n > 40 ? 40 : n), u, m->metric, m->std);
        return UNITS_UNKNOWN_UNIT;
    }
    double v = hit->conv == F_TO_C ? (value - 32.0) * 5.0 / 9.0 : value * hit->factor;
    if (!isfinite(v) || v < m->min || v > m->max) {
        snprintf(why, why_len, "%s %.6g %s is outside the valid range %g-%g %s", m->metric, v,
                 m->std, m->min, m->max, m->std);
        return UNITS_OUT_OF_RANGE;
    }
    *out_value = v;
    *out_unit = m->std;
    return UNITS_OK;
}
