/*
 * nutrition.h - pure nutrition aggregation (reference data-model §3, with
 * the fixes in docs/compatibility.md): daily totals from food items, weekly
 * and monthly daily averages from daily rows. No I/O.
 */
#ifndef MLW_NUTRITION_H
#define MLW_NUTRITION_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/timeutil.h"
#include "domain/strset.h"

#define NUTR_COUNT 27
extern const char *const nutrition_nutrients[NUTR_COUNT]; /* column suffixes, calories first */

enum meal_kind { MEAL_BREAKFAST, MEAL_LUNCH, MEAL_DINNER, MEAL_SNACK, MEAL_OTHER };

/* One food item (a nutrition_raw_data row). */
struct meal_item {
    int64_t id;
    const char *meal_type;
    double nutr[NUTR_COUNT];   /* NULL already replaced by 0 */
    const char *data_source;
    mlw_ts created_at;
};

/* A daily aggregate row, and the input of the weekly/monthly rollup. */
struct nutrition_day {
    mlw_day date;
    double total[NUTR_COUNT];
    int64_t meal_count;
    int64_t type_count[4];     /* breakfast, lunch, dinner, snack */
    double type_calories[4];
    const char *primary_source;
    struct strset sources;
    mlw_ts latest_created_at;  /* (created_at, id) of the latest item */
    int64_t latest_id;
};

struct nutrition_period {      /* weekly or monthly row */
    mlw_day key;               /* week start or month start */
    double avg_daily[NUTR_COUNT];
    double total_calories;
    int64_t total_meals;
    int64_t days_with_data;
    const char *primary_source;
    struct strset sources;
};

/* Meal type after trimming ASCII whitespace, case-insensitively. */
enum meal_kind nutrition_meal_kind(const char *meal_type);

/* Check one item's nutrients: 0 if valid; -1 with a reason if a value is
 * negative or not finite (NULLs are valid and count as 0). values may hold
 * NaN for "not a number" (e.g. text in a numeric column). */
int nutrition_validate(const double nutr[NUTR_COUNT], char *why, size_t why_len);

/* Daily row from that day's valid items (n > 0). */
int nutrition_daily(const struct meal_item *items, size_t n, mlw_day date, struct arena *a,
                    struct nutrition_day *out);

/* Weekly/monthly row from the daily rows of the period (n > 0). */
int nutrition_rollup(const struct nutrition_day *days, size_t n, mlw_day key, struct arena *a,
                     struct nutrition_period *out);

#endif
