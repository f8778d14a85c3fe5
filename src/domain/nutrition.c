/* nutrition.c - see nutrition.h. */
#include "domain/nutrition.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *const nutrition_nutrients[NUTR_COUNT] = {
    "calories", "protein_g", "fat_g", "carbs_g", "fiber_g", "sugar_g", "sodium_mg",
    "vitamin_a_mcg", "vitamin_c_mg", "vitamin_d_mcg", "vitamin_e_mg", "vitamin_k_mcg",
    "vitamin_b1_mg", "vitamin_b2_mg", "vitamin_b3_mg", "vitamin_b6_mg", "vitamin_b12_mcg",
    "folate_mcg", "calcium_mg", "iron_mg", "magnesium_mg", "phosphorus_mg", "potassium_mg",
    "zinc_mg", "copper_mg", "manganese_mg", "selenium_mcg"};

enum meal_kind nutrition_meal_kind(const char *t)
{
    static const char *const names[4] = {"breakfast", "lunch", "dinner", "snack"};
    if (t == NULL)
        return MEAL_OTHER;
    while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r' || *t == '\f' || *t == '\v')
        t++;
    size_t n = strlen(t);
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t' || t[n - 1] == '\n' || t[n - 1] == '\r' ||
                 t[n - 1] == '\f' || t[n - 1] == '\v'))
        n--;
    for (int k = 0; k < 4; k++)
        if (strlen(names[k]) == n && !strncasecmp(names[k], t, n))
            return (enum meal_kind)k;
    return MEAL_OTHER;
}

int nutrition_validate(const double nutr[NUTR_COUNT], char *why, size_t why_len)
{
    for (int k = 0; k < NUTR_COUNT; k++) {
        if (!isfinite(nutr[k])) {
            snprintf(why, why_len, "%s is not a finite number", nutrition_nutrients[k]);
            return -1;
        }
        if (nutr[k] < 0) { /* -0.0 < 0 is false: allowed */
            snprintf(why, why_len, "%s is negative (%g)", nutrition_nutrients[k], nutr[k]);
            return -1;
        }
    }
    return 0;
}

int nutrition_daily(const struct meal_item *items, size_t n, mlw_day date, struct arena *a,
                    struct nutrition_day *out)
{
    memset(out, 0, sizeof *out);
    out->date = date;
    const struct meal_item *latest = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct meal_item *it = &items[i];
        for (int k = 0; k < NUTR_COUNT; k++)
            out->total[k] += it->nutr[k];
        out->meal_count++;
        enum meal_kind kind = nutrition_meal_kind(it->meal_type);
        if (kind != MEAL_OTHER) {
            out->type_count[kind]++;
            out->type_calories[kind] += it->nutr[0];
        }
        if (strset_add(&out->sources, a, it->data_source))
            return -1;
        if (latest == NULL || it->created_at > latest->created_at ||
            (it->created_at == latest->created_at && it->id > latest->id))
            latest = it;
    }
    if (latest) {
        out->primary_source = latest->data_source;
        out->latest_created_at = latest->created_at;
        out->latest_id = latest->id;
    }
    return 0;
}

int nutrition_rollup(const struct nutrition_day *days, size_t n, mlw_day key, struct arena *a,
                     struct nutrition_period *out)
{
    memset(out, 0, sizeof *out);
    out->key = key;
    const struct nutrition_day *latest = NULL;
    double sum[NUTR_COUNT] = {0};
    for (size_t i = 0; i < n; i++) {
        const struct nutrition_day *d = &days[i];
        for (int k = 0; k < NUTR_COUNT; k++)
            sum[k] += d->total[k];
        out->total_meals += d->meal_count;
        if (strset_union(&out->sources, a, &d->sources))
            return -1;
        if (latest == NULL || d->latest_created_at > latest->latest_created_at ||
            (d->latest_created_at == latest->latest_created_at && d->latest_id > latest->latest_id))
            latest = d;
    }
    out->days_with_data = (int64_t)n;
    out->total_calories = sum[0];
    for (int k = 0; k < NUTR_COUNT; k++)
        out->avg_daily[k] = n ? sum[k] / (double)n : 0;
    out->primary_source = latest ? latest->primary_source : NULL;
    return 0;
}
