/*
 * cmd_demo.c - `mlworker demo`: a fresh embedded database, realistic sample
 * data (several users, two months of HealthKit-like vitals with overlapping
 * sleep and mixed units, meals, a few bad rows), processed until idle by the
 * real worker loop, then a readable summary of what was aggregated.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cmd_report.h"
#include "cli/commands.h"
#include "core/config.h"
#include "core/log.h"
#include "core/signals.h"
#include "core/timeutil.h"
#include "jobs/runner.h"
#include "store/store.h"

struct rng {
    uint64_t s;
};

static double rnd(struct rng *r) /* [0, 1) */
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (double)(r->s >> 11) / 9007199254740992.0;
}

static double gauss(struct rng *r, double mean, double sd)
{
    double u = rnd(r) + 1e-12, v = rnd(r);
    return mean + sd * sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

static const char SQL_VITAL[] =
    "INSERT OR IGNORE INTO vitals_raw_data (user_id, metric_type, value, unit, start_date,"
    " end_date, data_source, source_device, notes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

static const char SQL_MEAL[] =
    "INSERT INTO nutrition_raw_data (user_id, food_item_name, meal_type, portion_size,"
    " portion_unit, calories, protein_g, fat_g, carbs_g, fiber_g, sugar_g, sodium_mg,"
    " vitamin_c_mg, iron_mg, calcium_mg, meal_date, meal_time, data_source, created_at)"
    " VALUES (?, ?, ?, ?, 'g', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

static const char SQL_LAB[] =
    "INSERT INTO lab_reports (user_id, test_name, test_category, test_value, test_unit,"
    " reference_range, test_status, lab_name, test_date, report_date, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, 'Demo Diagnostics', ?, ?, ?)";

struct seeder {
    struct store *st;
    struct rng rng;
    int64_t vitals, meals, labs;
    int rc;
    struct mlw_err err;
};

static void vital(struct seeder *s, int user, const char *metric, double value, const char *unit,
                  mlw_ts start, mlw_ts end, const char *source, const char *notes)
{
    if (s->rc)
        return;
    char a[MLW_TS_LEN], b[MLW_TS_LEN], created[MLW_TS_LEN];
    mlw_ts_format(start, a);
    mlw_ts_format(end, b);
    mlw_ts_format(end + 90 * MLW_US_PER_SEC, created); /* synced shortly after */
    const char *device = !strcmp(source, "apple_healthkit") ? "Apple Watch" : NULL;
    struct sval p[10] = {sv_int(user), sv_text(metric), sv_real(value), sv_text(unit),
                         sv_text(a), sv_text(b), sv_text(source), sv_text(device),
                         sv_text(notes), sv_text(created)};
    s->rc = store_exec(s->st, SQL_VITAL, p, 10, NULL, &s->err);
    s->vitals++;
}

static void meal(struct seeder *s, int user, mlw_day day, int hour, const char *type,
                 const char *food, double kcal, int null_micros, const char *source)
{
    if (s->rc)
        return;
    struct rng *r = &s->rng;
    char date[MLW_DATE_LEN], t[MLW_TS_LEN];
    mlw_date_format(day, date);
    mlw_ts at = mlw_day_start(day) + hour * MLW_US_PER_HOUR + (int64_t)(rnd(r) * 50) * 60 * MLW_US_PER_SEC;
    mlw_ts_format(at, t);
    struct sval p[18] = {sv_int(user), sv_text(food), sv_text(type), sv_real(150 + rnd(r) * 200),
                         sv_real(kcal), sv_real(kcal * 0.04), sv_real(kcal * 0.035),
                         sv_real(kcal * 0.12), sv_real(rnd(r) * 8), sv_real(rnd(r) * 20),
                         sv_real(200 + rnd(r) * 600),
                         null_micros ? sv_null() : sv_real(rnd(r) * 40),
                         null_micros ? sv_null() : sv_real(rnd(r) * 5),
                         null_micros ? sv_null() : sv_real(rnd(r) * 300), sv_text(date),
                         sv_text(t), sv_text(source), sv_text(t)};
    s->rc = store_exec(s->st, SQL_MEAL, p, 18, NULL, &s->err);
    s->meals++;
}

/* One lab result; the status follows the value against [lo, hi] like a lab's. */
static void lab(struct seeder *s, int user, mlw_day day, const char *name, const char *section,
                double value, int decimals, const char *unit, double lo, double hi,
                const char *range)
{
    if (s->rc)
        return;
    char date[MLW_DATE_LEN], created[MLW_TS_LEN], v[32];
    mlw_date_format(day, date);
    mlw_ts_format(mlw_day_start(day + 2) + 9 * MLW_US_PER_HOUR, created);
    snprintf(v, sizeof v, "%.*f", decimals, value);
    const char *status = value < lo ? "Low" : value > hi ? "High" : "Normal";
    struct sval p[10] = {sv_int(user), sv_text(name), sv_text(section), sv_text(v), sv_text(unit),
                         sv_text(range), sv_text(status), sv_text(date), sv_text(date),
                         sv_text(created)};
    s->rc = store_exec(s->st, SQL_LAB, p, 10, NULL, &s->err);
    s->labs++;
}

/* Three blood panels over the period, as a lab report extractor writes them. */
static void seed_labs(struct seeder *s, int user, mlw_day first, int days)
{
    struct rng *r = &s->rng;
    for (int k = 0; k < 3; k++) {
        mlw_day d = first + (days - 1) * k / 2;
        double drift = 0.1 * user - 0.05 * k;
        lab(s, user, d, "HbA1c", "DIABETES PANEL", gauss(r, 5.5 + drift, 0.2), 1, "%", 4.0, 5.6,
            "4.0-5.6");
        lab(s, user, d, "LDL Cholesterol", "LIPID PROFILE", gauss(r, 115 - 6 * k, 12), 0, "mg/dL",
            0, 100, "<100");
        lab(s, user, d, "HDL Cholesterol", "LIPID PROFILE", gauss(r, 52, 6), 0, "mg/dL", 40, 1e9,
            ">40");
        lab(s, user, d, "Hemoglobin", "COMPLETE BLOOD COUNT", gauss(r, 14.2, 0.6), 1, "g/dL", 13.0,
            17.0, "13.0-17.0");
        lab(s, user, d, "TSH", "THYROID PROFILE", gauss(r, 2.1, 0.7), 2, "mIU/L", 0.4, 4.0,
            "0.4-4.0");
        lab(s, user, d, "Vitamin D (25-OH)", "VITAMINS", gauss(r, 24 + 6 * k, 4), 0, "ng/mL", 30,
            100, "30-100");
    }
}

static void seed_day(struct seeder *s, int user, mlw_day day)
{
    struct rng *r = &s->rng;
    mlw_ts d0 = mlw_day_start(day);
    const mlw_ts H = MLW_US_PER_HOUR, M = 60 * MLW_US_PER_SEC;
    double fitness = 1.0 + 0.15 * user;
    for (int h = 7; h <= 22; h++) {
        mlw_ts t = d0 + h * H + (mlw_ts)(rnd(r) * 50) * M;
        vital(s, user, "Heart Rate", round(gauss(r, 68 + 10 * (h > 17), 6)),
              h % 5 ? "bpm" : "count/min", t, t, "apple_healthkit", NULL);
        if (h >= 8 && h <= 21) {
            double steps = round(fabs(gauss(r, 650 * fitness, 300)));
            vital(s, user, "Steps", steps, "count", t, t + 50 * M, "apple_healthkit", NULL);
            vital(s, user, "Distance Walking", steps * 0.00075 / (user == 3 ? 1.60934 : 1.0),
                  user == 3 ? "mi" : "km", t, t + 50 * M, "apple_healthkit", NULL);
            double kcal = fabs(gauss(r, 28 * fitness, 9));
            vital(s, user, "Active Energy", user == 2 ? kcal * 4.184 : kcal, user == 2 ? "kJ" : "kcal",
                  t, t + 50 * M, "apple_healthkit", NULL);
        }
        if (h == 12 || h == 18)
            vital(s, user, "Flights Climbed", floor(rnd(r) * 6), "floors", t, t + 10 * M,
                  "apple_healthkit", NULL);
    }
    mlw_ts morning = d0 + 7 * H + (mlw_ts)(rnd(r) * 30) * M;
    double kg = 62 + 6 * user + gauss(r, 0, 0.3);
    if (user == 1)
        vital(s, user, "Weight", round(kg / 0.453592 * 10) / 10, "lbs", morning, morning, "manual_entry", NULL);
    else
        vital(s, user, "Weight", round(kg * 10) / 10, "kg", morning, morning, "device_sync", NULL);
    vital(s, user, "Blood Pressure Systolic", round(gauss(r, 118 + 3 * user, 6)), "mmHg", morning,
          morning, "device_sync", NULL);
    vital(s, user, "Blood Pressure Diastolic", round(gauss(r, 76 + 2 * user, 4)), "mmHg", morning,
          morning, "device_sync", NULL);
    vital(s, user, "Oxygen Saturation", round(gauss(r, 97.5, 0.8) * 10) / 10, "%", morning + 2 * H,
          morning + 2 * H, "apple_healthkit", NULL);
    if (user == 2) {
        vital(s, user, "Blood Sugar", round(gauss(r, 5.6, 0.5) * 10) / 10, "mmol/L", morning,
              morning, "manual_entry", NULL);
        vital(s, user, "Blood Sugar", round(gauss(r, 7.4, 0.9) * 10) / 10, "mmol/L",
              morning + 6 * H, morning + 6 * H, "manual_entry", NULL);
    }
    if (day % 9 == 0)
        vital(s, user, "Temperature", round(gauss(r, 98.4, 0.4) * 10) / 10, "\xc2\xb0" "F",
              morning + H, morning + H, "manual_entry", NULL);
    if (day % 3 == user % 3) {
        mlw_ts w = d0 + 18 * H;
        double mins = round(fabs(gauss(r, 40, 10)));
        vital(s, user, "Workout Duration", mins, "min", w, w + (mlw_ts)mins * M, "apple_healthkit", "Running");
        vital(s, user, "Workout Calories", round(mins * 9.5), "kcal", w, w + (mlw_ts)mins * M,
              "apple_healthkit", "Running");
    }
    /* The night: the watch and the phone both record it (overlapping), and
     * the watch splits out an awake spell. Minutes from the phone. */
    mlw_ts bed = d0 + 22 * H + (mlw_ts)(30 + rnd(r) * 60) * M;
    double hours = gauss(r, 7.2, 0.7);
    vital(s, user, "Sleep", round(hours * 100) / 100, "hours", bed, bed + (mlw_ts)(hours * 60) * M,
          "apple_healthkit", "Core");
    vital(s, user, "Sleep", round(hours * 60 * 0.9), "minutes", bed, bed + (mlw_ts)(hours * 54) * M,
          "api_import", "In bed");
    vital(s, user, "Sleep", 0.25, "hours", bed + 3 * H, bed + 3 * H + 15 * M, "apple_healthkit", "Awake");

    meal(s, user, day, 8, day % 2 ? " Breakfast" : "breakfast", "Oatmeal with berries",
         round(gauss(r, 380, 60)), 0, "manual_entry");
    meal(s, user, day, 13, "LUNCH", "Chicken rice bowl", round(gauss(r, 650, 90)), day % 4 == 0,
         "photo_analysis");
    meal(s, user, day, 19, "dinner", "Lentil curry", round(gauss(r, 720, 110)), 0, "photo_analysis");
    if (rnd(r) < 0.6)
        meal(s, user, day, 16, "snack", "Greek yogurt", round(gauss(r, 180, 40)), 1, "barcode_scan");
}

static int seed(struct store *st, int users, int days, mlw_day first, uint64_t seedv,
                int64_t *nv, int64_t *nm, int64_t *nl, struct mlw_err *err)
{
    struct seeder s = {.st = st, .rng = {seedv * 2654435761u + 88172645463325252ull}};
    int rc = store_begin(st, err);
    if (rc)
        return rc;
    for (int u = 1; u <= users && !s.rc; u++) {
        for (int d = 0; d < days && !s.rc; d++)
            seed_day(&s, u, first + d);
        seed_labs(&s, u, first, days);
    }
    /* Rows a careful worker must refuse, each with a reason. */
    mlw_ts t = mlw_day_start(first + 3) + 10 * MLW_US_PER_HOUR;
    vital(&s, 1, "Heart Rate", 72, "furlongs", t, t, "manual_entry", NULL);
    vital(&s, 2, "Heart Rate", 400, "bpm", t, t, "manual_entry", NULL);
    vital(&s, 3, "Weight", -5, "kg", t, t, "manual_entry", NULL);
    if (!s.rc) {
        struct sval p[1] = {sv_int(1)};
        s.rc = store_exec(st,
                          "INSERT INTO nutrition_raw_data (user_id, food_item_name, meal_type,"
                          " portion_size, portion_unit, calories, protein_g, meal_date, meal_time,"
                          " data_source) VALUES (?, 'Mystery shake', 'snack', 1, 'cup', 250, -12,"
                          " '2026-10-05', '2026-10-05 16:00:00', 'manual_entry')",
                          p, 1, NULL, &s.err);
    }
    if (s.rc) {
        store_rollback(st);
        return mlw_err_set(err, s.rc, "seeding failed: %s", s.err.msg);
    }
    *nv = s.vitals;
    *nm = s.meals + 1;
    *nl = s.labs;
    return store_commit(st, err);
}

static void print_summary(struct store *st, int users)
{
    struct mlw_err err = {0};
    struct store_rows r;
    static const char *const tables[] = {
        "vitals_raw_categorized", "vitals_hourly_aggregates", "vitals_daily_aggregates",
        "vitals_weekly_aggregates", "vitals_monthly_aggregates", "nutrition_daily_aggregates",
        "nutrition_weekly_aggregates", "nutrition_monthly_aggregates"};
    printf("\nRows written:\n");
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[i]);
        if (store_query(st, sql, NULL, 0, &r, &err) == MLW_OK) {
            printf("  %-30s %8lld\n", tables[i], (long long)sv_as_int(store_cell(&r, 0, 0)));
            store_rows_free(&r);
        }
    }
    printf("\nRaw row outcomes:\n");
    if (store_query(st,
                    "SELECT 'vitals', aggregation_status, count(*) FROM vitals_raw_data GROUP BY 2"
                    " UNION ALL SELECT 'nutrition', aggregation_status, count(*) FROM"
                    " nutrition_raw_data GROUP BY 2"
                    " UNION ALL SELECT 'labs', categorization_status, count(*) FROM"
                    " lab_reports GROUP BY 2 ORDER BY 1 DESC, 2",
                    NULL, 0, &r, &err) == MLW_OK) {
        for (size_t i = 0; i < r.nrows; i++)
            printf("  %-10s %-12s %8lld\n", sv_as_text(store_cell(&r, i, 0)),
                   sv_as_text(store_cell(&r, i, 1)), (long long)sv_as_int(store_cell(&r, i, 2)));
        store_rows_free(&r);
    }
    printf("\nFailed rows and why:\n");
    if (store_query(st,
                    "SELECT 'vitals #' || id, failure_reason FROM vitals_raw_data WHERE"
                    " aggregation_status='failed' UNION ALL SELECT 'nutrition #' || id,"
                    " failure_reason FROM nutrition_raw_data WHERE aggregation_status='failed'"
                    " UNION ALL SELECT 'labs #' || id, failure_reason FROM lab_reports WHERE"
                    " categorization_status IN ('failed', 'insufficient')",
                    NULL, 0, &r, &err) == MLW_OK) {
        for (size_t i = 0; i < r.nrows; i++)
            printf("  %-14s %s\n", sv_as_text(store_cell(&r, i, 0)), sv_as_text(store_cell(&r, i, 1)));
        store_rows_free(&r);
    }
    printf("\nMonthly picture per user (vitals_monthly_aggregates, nutrition_monthly_aggregates):\n");
    printf("  %-4s %-8s %9s %11s %10s %9s %9s %10s\n", "user", "month", "HR avg", "steps total",
           "sleep h/n", "weight kg", "BP sys", "kcal/day");
    for (int u = 1; u <= users; u++) {
        struct sval p[1] = {sv_int(u)};
        if (store_query(st,
                        "SELECT m.year, m.month,"
                        " (SELECT average_value FROM vitals_monthly_aggregates x WHERE x.user_id=m.user_id AND x.year=m.year AND x.month=m.month AND x.metric_type='Heart Rate'),"
                        " (SELECT total_value FROM vitals_monthly_aggregates x WHERE x.user_id=m.user_id AND x.year=m.year AND x.month=m.month AND x.metric_type='Steps'),"
                        " (SELECT average_value FROM vitals_monthly_aggregates x WHERE x.user_id=m.user_id AND x.year=m.year AND x.month=m.month AND x.metric_type='Sleep'),"
                        " (SELECT average_value FROM vitals_monthly_aggregates x WHERE x.user_id=m.user_id AND x.year=m.year AND x.month=m.month AND x.metric_type='Weight'),"
                        " (SELECT average_value FROM vitals_monthly_aggregates x WHERE x.user_id=m.user_id AND x.year=m.year AND x.month=m.month AND x.metric_type='Blood Pressure Systolic'),"
                        " (SELECT avg_daily_calories FROM nutrition_monthly_aggregates n WHERE n.user_id=m.user_id AND n.year=m.year AND n.month=m.month)"
                        " FROM vitals_monthly_aggregates m WHERE m.user_id=? GROUP BY m.year, m.month ORDER BY m.year, m.month",
                        p, 1, &r, &err) != MLW_OK)
            continue;
        for (size_t i = 0; i < r.nrows; i++) {
            double v[6];
            for (int c = 0; c < 6; c++) {
                const struct sval *x = store_cell(&r, i, 2 + c);
                v[c] = x->type == SV_REAL ? x->d : x->type == SV_INT ? (double)x->i : NAN;
            }
            printf("  %-4d %04lld-%02lld %9.1f %11.0f %10.2f %9.1f %9.1f %10.0f\n", u,
                   (long long)sv_as_int(store_cell(&r, i, 0)), (long long)sv_as_int(store_cell(&r, i, 1)),
                   v[0], v[1], v[2], v[3], v[4], v[5]);
        }
        store_rows_free(&r);
    }
}

int cmd_demo(int argc, char **argv)
{
    const char *path = NULL;
    int users = 4, days = 61, keep = 0;
    unsigned long seedv = 7;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: mlworker demo [--db PATH] [--users N] [--days N] [--seed N]\n\n"
                   "Creates a fresh embedded SQLite database (a temporary file unless --db is\n"
                   "given), seeds realistic sample data (HealthKit-like vitals with overlapping\n"
                   "sleep and mixed units, meals, a few invalid rows), runs the aggregation\n"
                   "worker until idle and prints a summary. Defaults: 4 users, 61 days.\n");
            return 0;
        } else if (i + 1 < argc && !strcmp(a, "--db")) {
            path = argv[++i];
            keep = 1;
        } else if (i + 1 < argc && !strcmp(a, "--users")) {
            users = atoi(argv[++i]);
        } else if (i + 1 < argc && !strcmp(a, "--days")) {
            days = atoi(argv[++i]);
        } else if (i + 1 < argc && !strcmp(a, "--seed")) {
            seedv = strtoul(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "mlworker demo: unknown or incomplete option '%s' (see --help)\n", a);
            return EXIT_USAGE;
        }
    }
    if (users < 1 || users > 1000 || days < 1 || days > 3650) {
        fprintf(stderr, "mlworker demo: --users must be 1..1000 and --days 1..3650\n");
        return EXIT_USAGE;
    }
    char tmpl[] = "/tmp/mlworker-demo-XXXXXX", pathbuf[64];
    if (path == NULL) {
        if (mkdtemp(tmpl) == NULL) {
            fprintf(stderr, "mlworker demo: cannot create a temporary directory: %s\n", strerror(errno));
            return 1;
        }
        snprintf(pathbuf, sizeof pathbuf, "%s/demo.db", tmpl);
        path = pathbuf;
    } else if (access(path, F_OK) == 0) {
        fprintf(stderr, "mlworker demo: %s exists; the demo wants a fresh database\n", path);
        return 1;
    }
    log_setup(LOG_TEXT, LOG_INFO);
    signals_install();

    struct mlw_err err = {0};
    struct store *st;
    int applied;
    if (store_sqlite_open(path, &st, &err) || store_migrate(st, &applied, &err)) {
        fprintf(stderr, "mlworker demo: %s\n", err.msg);
        return 1;
    }
    mlw_day first = mlw_days_from_civil(2026, 9, 14);
    int64_t nv = 0, nm = 0, nl = 0;
    printf("mlworker demo: database %s\n", path);
    if (seed(st, users, days, first, seedv, &nv, &nm, &nl, &err)) {
        fprintf(stderr, "mlworker demo: %s\n", err.msg);
        store_close(st);
        return 1;
    }
    char d0[MLW_DATE_LEN], d1[MLW_DATE_LEN];
    mlw_date_format(first, d0);
    mlw_date_format(first + days - 1, d1);
    printf("Seeded %lld vitals samples, %lld food items and %lld lab results for %d users,"
           " %s .. %s\n", (long long)nv, (long long)nm, (long long)nl, users, d0, d1);
    printf("Running the aggregation worker until idle...\n\n");
    fflush(stdout);

    struct config cfg = {0};
    cfg.mode = MODE_AGGREGATION;
    cfg.aggregation_batch_size = 1000;
    cfg.poll_interval = 1;
    cfg.exit_when_idle = 1;
    cfg.claim_timeout = 600;
    cfg.stats_interval = 3600;
    runner_set_worker_id(st, "demo");
    struct runner_totals t = {0};
    t.started = mlw_monotonic();
    int rc = runner_aggregation(&cfg, st, &t);
    double secs = mlw_monotonic() - t.started;
    fflush(stderr);
    int64_t rows = t.vitals.done + t.vitals.failed + t.nutrition.done + t.nutrition.failed;
    printf("\nProcessed %lld raw rows in %.2f s (%.0f rows/s): %lld vitals categorized, "
           "%lld nutrition completed, %lld failed with a reason.\n",
           (long long)rows, secs, secs > 0 ? (double)rows / secs : 0.0, (long long)t.vitals.done,
           (long long)t.nutrition.done, (long long)(t.vitals.failed + t.nutrition.failed));
    print_summary(st, users);
    /* End with what the app would show for one user: `mlworker report`. */
    char report[4200];
    if (keep)
        snprintf(report, sizeof report, "%s.report-user1.html", path);
    else
        snprintf(report, sizeof report, "%s/report-user1.html", tmpl);
    struct report_request rq = {.user_id = 1, .out_path = report};
    struct report_result res = {0};
    if (report_build_file(st, &rq, &res, &err) != MLW_OK) {
        fprintf(stderr, "mlworker demo: report: %s\n", err.msg);
        if (rc == 0)
            rc = 1;
    }
    store_close(st);
    printf("\nThe database is kept at %s%s\n", path,
           keep ? "" : " (explore it with sqlite3; it is in a temporary directory)");
    if (res.bytes)
        printf("Report for user 1 (mlworker report, %zu bytes, %.3f s): %s\n", res.bytes,
               res.seconds, report);
    return rc;
}
