-- mlworker schema v1 for SQLite: vitals and nutrition.
-- Table and column names follow the original application's contract
-- (reference/original-data-model.md); additions are marked "mlworker:".
-- Timestamps are ISO-8601 text 'YYYY-MM-DD HH:MM:SS[.ffffff]', dates 'YYYY-MM-DD'.

CREATE TABLE IF NOT EXISTS vitals_raw_data (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    metric_type TEXT NOT NULL,
    value REAL NOT NULL,
    unit TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    data_source TEXT NOT NULL,
    source_device TEXT,
    notes TEXT,
    confidence_score REAL,
    aggregation_status TEXT NOT NULL DEFAULT 'pending',
    aggregated_at TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now')),
    failure_reason TEXT             -- mlworker: why a row is 'failed'
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_vitals_raw_data_nodups ON vitals_raw_data
    (user_id, metric_type, unit, start_date, data_source, COALESCE(notes, ''));
CREATE INDEX IF NOT EXISTS idx_vitals_raw_user_metric_start ON vitals_raw_data (user_id, metric_type, start_date);
CREATE INDEX IF NOT EXISTS idx_vitals_raw_metric_dates ON vitals_raw_data (metric_type, start_date, end_date);
CREATE INDEX IF NOT EXISTS idx_vitals_raw_user_source_start ON vitals_raw_data (user_id, data_source, start_date);
CREATE INDEX IF NOT EXISTS idx_vitals_raw_status_user_start ON vitals_raw_data (aggregation_status, user_id, start_date);
CREATE INDEX IF NOT EXISTS idx_vitals_raw_pending ON vitals_raw_data (aggregation_status, created_at, id);

CREATE TABLE IF NOT EXISTS vitals_mappings (
    vital_sign TEXT PRIMARY KEY,
    loinc_code TEXT,
    property TEXT,
    units TEXT,
    system TEXT,
    description TEXT,
    loinc_source TEXT,
    sort_order INTEGER              -- mlworker: seed order decides substring matches
);

CREATE TABLE IF NOT EXISTS vitals_raw_categorized (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    raw_id INTEGER NOT NULL,        -- mlworker: the vitals_raw_data row this copies
    user_id INTEGER NOT NULL,
    metric_type TEXT NOT NULL,
    value REAL NOT NULL,
    unit TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    data_source TEXT NOT NULL,
    source_device TEXT,
    notes TEXT,
    confidence_score REAL,
    loinc_code TEXT,
    aggregation_status TEXT NOT NULL DEFAULT 'pending',
    aggregated_at TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now'))
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_vitals_raw_categorized_raw_id ON vitals_raw_categorized (raw_id);
CREATE INDEX IF NOT EXISTS idx_vitals_cat_user_metric_start ON vitals_raw_categorized (user_id, metric_type, start_date);
CREATE INDEX IF NOT EXISTS idx_vitals_cat_loinc ON vitals_raw_categorized (loinc_code);
CREATE TABLE IF NOT EXISTS vitals_hourly_aggregates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    metric_type TEXT NOT NULL,
    hour_start TEXT NOT NULL,
    loinc_code TEXT,
    total_value REAL,
    average_value REAL,
    min_value REAL,
    max_value REAL,
    count INTEGER NOT NULL DEFAULT 0,
    duration_minutes REAL,
    unit TEXT NOT NULL,
    primary_source TEXT,
    sources_included TEXT,
    notes TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now'))
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_vitals_hourly_aggregates_key ON vitals_hourly_aggregates (user_id, metric_type, hour_start);
CREATE INDEX IF NOT EXISTS idx_vitals_hourly_aggregates_1 ON vitals_hourly_aggregates (user_id, loinc_code, hour_start);
CREATE INDEX IF NOT EXISTS idx_vitals_hourly_aggregates_2 ON vitals_hourly_aggregates (hour_start, loinc_code);

CREATE TABLE IF NOT EXISTS vitals_daily_aggregates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    metric_type TEXT NOT NULL,
    date TEXT NOT NULL,
    loinc_code TEXT,
    total_value REAL,
    average_value REAL,
    min_value REAL,
    max_value REAL,
    count INTEGER NOT NULL DEFAULT 0,
    duration_minutes REAL,
    unit TEXT NOT NULL,
    primary_source TEXT,
    sources_included TEXT,
    notes TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now'))
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_vitals_daily_aggregates_key ON vitals_daily_aggregates (user_id, metric_type, date);
CREATE INDEX IF NOT EXISTS idx_vitals_daily_aggregates_1 ON vitals_daily_aggregates (user_id, loinc_code, date);
CREATE INDEX IF NOT EXISTS idx_vitals_daily_aggregates_2 ON vitals_daily_aggregates (date, loinc_code);

CREATE TABLE IF NOT EXISTS vitals_weekly_aggregates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    metric_type TEXT NOT NULL,
    week_start_date TEXT NOT NULL,
    week_end_date TEXT NOT NULL,
    loinc_code TEXT,
    total_value REAL,
    average_value REAL,
    min_value REAL,
    max_value REAL,
    days_with_data INTEGER NOT NULL DEFAULT 0,
    total_duration_minutes REAL,
    unit TEXT NOT NULL,
    primary_source TEXT,
    sources_included TEXT,
    notes TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now'))
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_vitals_weekly_aggregates_key ON vitals_weekly_aggregates (user_id, metric_type, week_start_date);
CREATE INDEX IF NOT EXISTS idx_vitals_weekly_aggregates_1 ON vitals_weekly_aggregates (user_id, loinc_code, week_start_date);

CREATE TABLE IF NOT EXISTS vitals_monthly_aggregates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    metric_type TEXT NOT NULL,
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    loinc_code TEXT,
    total_value REAL,
    average_value REAL,
    min_value REAL,
    max_value REAL,
    days_with_data INTEGER NOT NULL DEFAULT 0,
    total_duration_minutes REAL,
    unit TEXT NOT NULL,
    primary_source TEXT,
    sources_included TEXT,
    notes TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now'))
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_vitals_monthly_aggregates_key ON vitals_monthly_aggregates (user_id, metric_type, year, month);
CREATE INDEX IF NOT EXISTS idx_vitals_monthly_aggregates_1 ON vitals_monthly_aggregates (user_id, loinc_code, year, month);

CREATE TABLE IF NOT EXISTS nutrition_raw_data (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    food_item_name TEXT NOT NULL,
    dish_name TEXT,
    dish_type TEXT,
    meal_type TEXT NOT NULL,
    portion_size REAL NOT NULL,
    portion_unit TEXT NOT NULL,
    calories REAL NOT NULL,
    protein_g REAL DEFAULT 0.0,
    fat_g REAL DEFAULT 0.0,
    carbs_g REAL DEFAULT 0.0,
    fiber_g REAL DEFAULT 0.0,
    sugar_g REAL DEFAULT 0.0,
    sodium_mg REAL DEFAULT 0.0,
    vitamin_a_mcg REAL DEFAULT 0.0,
    vitamin_c_mg REAL DEFAULT 0.0,
    vitamin_d_mcg REAL DEFAULT 0.0,
    vitamin_e_mg REAL DEFAULT 0.0,
    vitamin_k_mcg REAL DEFAULT 0.0,
    vitamin_b1_mg REAL DEFAULT 0.0,
    vitamin_b2_mg REAL DEFAULT 0.0,
    vitamin_b3_mg REAL DEFAULT 0.0,
    vitamin_b6_mg REAL DEFAULT 0.0,
    vitamin_b12_mcg REAL DEFAULT 0.0,
    folate_mcg REAL DEFAULT 0.0,
    calcium_mg REAL DEFAULT 0.0,
    iron_mg REAL DEFAULT 0.0,
    magnesium_mg REAL DEFAULT 0.0,
    phosphorus_mg REAL DEFAULT 0.0,
    potassium_mg REAL DEFAULT 0.0,
    zinc_mg REAL DEFAULT 0.0,
    copper_mg REAL DEFAULT 0.0,
    manganese_mg REAL DEFAULT 0.0,
    selenium_mcg REAL DEFAULT 0.0,
    meal_date TEXT NOT NULL,
    meal_time TEXT NOT NULL,
    data_source TEXT NOT NULL,
    confidence_score REAL,
    image_url TEXT,
    notes TEXT,
    aggregation_status TEXT NOT NULL DEFAULT 'pending',
    aggregated_at TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now')),
    failure_reason TEXT,            -- mlworker: why a row is 'failed'
    aggregated_date TEXT            -- mlworker: the meal_date it was last counted under
);
CREATE INDEX IF NOT EXISTS idx_nutrition_raw_user_date ON nutrition_raw_data (user_id, meal_date);
CREATE INDEX IF NOT EXISTS idx_nutrition_raw_date_time ON nutrition_raw_data (meal_date, meal_time);
CREATE INDEX IF NOT EXISTS idx_nutrition_raw_user_source_date ON nutrition_raw_data (user_id, data_source, meal_date);
CREATE INDEX IF NOT EXISTS idx_nutrition_raw_status_user_date ON nutrition_raw_data (aggregation_status, user_id, meal_date);
CREATE INDEX IF NOT EXISTS idx_nutrition_raw_meal_type_date ON nutrition_raw_data (meal_type, meal_date);
CREATE INDEX IF NOT EXISTS idx_nutrition_raw_dish_type_date ON nutrition_raw_data (dish_type, meal_date);
CREATE INDEX IF NOT EXISTS idx_nutrition_raw_pending ON nutrition_raw_data (aggregation_status, created_at, id);

CREATE TABLE IF NOT EXISTS nutrition_daily_aggregates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    date TEXT NOT NULL,
    total_calories REAL NOT NULL DEFAULT 0,
    total_protein_g REAL NOT NULL DEFAULT 0,
    total_fat_g REAL NOT NULL DEFAULT 0,
    total_carbs_g REAL NOT NULL DEFAULT 0,
    total_fiber_g REAL NOT NULL DEFAULT 0,
    total_sugar_g REAL NOT NULL DEFAULT 0,
    total_sodium_mg REAL NOT NULL DEFAULT 0,
    total_vitamin_a_mcg REAL NOT NULL DEFAULT 0,
    total_vitamin_c_mg REAL NOT NULL DEFAULT 0,
    total_vitamin_d_mcg REAL NOT NULL DEFAULT 0,
    total_vitamin_e_mg REAL NOT NULL DEFAULT 0,
    total_vitamin_k_mcg REAL NOT NULL DEFAULT 0,
    total_vitamin_b1_mg REAL NOT NULL DEFAULT 0,
    total_vitamin_b2_mg REAL NOT NULL DEFAULT 0,
    total_vitamin_b3_mg REAL NOT NULL DEFAULT 0,
    total_vitamin_b6_mg REAL NOT NULL DEFAULT 0,
    total_vitamin_b12_mcg REAL NOT NULL DEFAULT 0,
    total_folate_mcg REAL NOT NULL DEFAULT 0,
    total_calcium_mg REAL NOT NULL DEFAULT 0,
    total_iron_mg REAL NOT NULL DEFAULT 0,
    total_magnesium_mg REAL NOT NULL DEFAULT 0,
    total_phosphorus_mg REAL NOT NULL DEFAULT 0,
    total_potassium_mg REAL NOT NULL DEFAULT 0,
    total_zinc_mg REAL NOT NULL DEFAULT 0,
    total_copper_mg REAL NOT NULL DEFAULT 0,
    total_manganese_mg REAL NOT NULL DEFAULT 0,
    total_selenium_mcg REAL NOT NULL DEFAULT 0,
    meal_count INTEGER NOT NULL DEFAULT 0,
    breakfast_count INTEGER NOT NULL DEFAULT 0,
    lunch_count INTEGER NOT NULL DEFAULT 0,
    dinner_count INTEGER NOT NULL DEFAULT 0,
    snack_count INTEGER NOT NULL DEFAULT 0,
    breakfast_calories REAL NOT NULL DEFAULT 0,
    lunch_calories REAL NOT NULL DEFAULT 0,
    dinner_calories REAL NOT NULL DEFAULT 0,
    snack_calories REAL NOT NULL DEFAULT 0,
    primary_source TEXT,
    sources_included TEXT,
    notes TEXT,
    latest_created_at TEXT,         -- mlworker: (created_at, id) of the row that set primary_source,
    latest_raw_id INTEGER,          --   so weekly/monthly pick the period's latest row
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now'))
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_nutrition_daily_aggregates_key ON nutrition_daily_aggregates (user_id, date);

CREATE TABLE IF NOT EXISTS nutrition_weekly_aggregates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    week_start_date TEXT NOT NULL,
    week_end_date TEXT NOT NULL,
    avg_daily_calories REAL NOT NULL DEFAULT 0,
    avg_daily_protein_g REAL NOT NULL DEFAULT 0,
    avg_daily_fat_g REAL NOT NULL DEFAULT 0,
    avg_daily_carbs_g REAL NOT NULL DEFAULT 0,
    avg_daily_fiber_g REAL NOT NULL DEFAULT 0,
    avg_daily_sugar_g REAL NOT NULL DEFAULT 0,
    avg_daily_sodium_mg REAL NOT NULL DEFAULT 0,
    avg_daily_vitamin_a_mcg REAL NOT NULL DEFAULT 0,
    avg_daily_vitamin_c_mg REAL NOT NULL DEFAULT 0,
    avg_daily_vitamin_d_mcg REAL NOT NULL DEFAULT 0,
    avg_daily_vitamin_e_mg REAL NOT NULL DEFAULT 0,
    avg_daily_vitamin_k_mcg REAL NOT NULL DEFAULT 0,
    avg_daily_vitamin_b1_mg REAL NOT NULL DEFAULT 0,
    avg_daily_vitamin_b2_mg REAL NOT NULL DEFAULT 0,
    avg_daily_vitamin_b3_mg REAL NOT NULL DEFAULT 0,
    avg_daily_vitamin_b6_mg REAL NOT NULL DEFAULT 0,
    avg_daily_vitamin_b12_mcg REAL NOT NULL DEFAULT 0,
    avg_daily_folate_mcg REAL NOT NULL DEFAULT 0,
    avg_daily_calcium_mg REAL NOT NULL DEFAULT 0,
    avg_daily_iron_mg REAL NOT NULL DEFAULT 0,
    avg_daily_magnesium_mg REAL NOT NULL DEFAULT 0,
    avg_daily_phosphorus_mg REAL NOT NULL DEFAULT 0,
    avg_daily_potassium_mg REAL NOT NULL DEFAULT 0,
    avg_daily_zinc_mg REAL NOT NULL DEFAULT 0,
    avg_daily_copper_mg REAL NOT NULL DEFAULT 0,
    avg_daily_manganese_mg REAL NOT NULL DEFAULT 0,
    avg_daily_selenium_mcg REAL NOT NULL DEFAULT 0,
    total_weekly_calories REAL NOT NULL DEFAULT 0,
    total_weekly_meals INTEGER NOT NULL DEFAULT 0,
    days_with_data INTEGER NOT NULL DEFAULT 0,
    primary_source TEXT,
    sources_included TEXT,
    notes TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now'))
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_nutrition_weekly_aggregates_key ON nutrition_weekly_aggregates (user_id, week_start_date);

CREATE TABLE IF NOT EXISTS nutrition_monthly_aggregates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    avg_daily_calories REAL NOT NULL DEFAULT 0,
    avg_daily_protein_g REAL NOT NULL DEFAULT 0,
    avg_daily_fat_g REAL NOT NULL DEFAULT 0,
    avg_daily_carbs_g REAL NOT NULL DEFAULT 0,
    avg_daily_fiber_g REAL NOT NULL DEFAULT 0,
    avg_daily_sugar_g REAL NOT NULL DEFAULT 0,
    avg_daily_sodium_mg REAL NOT NULL DEFAULT 0,
    avg_daily_vitamin_a_mcg REAL NOT NULL DEFAULT 0,
    avg_daily_vitamin_c_mg REAL NOT NULL DEFAULT 0,
    avg_daily_vitamin_d_mcg REAL NOT NULL DEFAULT 0,
    avg_daily_vitamin_e_mg REAL NOT NULL DEFAULT 0,
    avg_daily_vitamin_k_mcg REAL NOT NULL DEFAULT 0,
    avg_daily_vitamin_b1_mg REAL NOT NULL DEFAULT 0,
    avg_daily_vitamin_b2_mg REAL NOT NULL DEFAULT 0,
    avg_daily_vitamin_b3_mg REAL NOT NULL DEFAULT 0,
    avg_daily_vitamin_b6_mg REAL NOT NULL DEFAULT 0,
    avg_daily_vitamin_b12_mcg REAL NOT NULL DEFAULT 0,
    avg_daily_folate_mcg REAL NOT NULL DEFAULT 0,
    avg_daily_calcium_mg REAL NOT NULL DEFAULT 0,
    avg_daily_iron_mg REAL NOT NULL DEFAULT 0,
    avg_daily_magnesium_mg REAL NOT NULL DEFAULT 0,
    avg_daily_phosphorus_mg REAL NOT NULL DEFAULT 0,
    avg_daily_potassium_mg REAL NOT NULL DEFAULT 0,
    avg_daily_zinc_mg REAL NOT NULL DEFAULT 0,
    avg_daily_copper_mg REAL NOT NULL DEFAULT 0,
    avg_daily_manganese_mg REAL NOT NULL DEFAULT 0,
    avg_daily_selenium_mcg REAL NOT NULL DEFAULT 0,
    total_monthly_calories REAL NOT NULL DEFAULT 0,
    total_monthly_meals INTEGER NOT NULL DEFAULT 0,
    days_with_data INTEGER NOT NULL DEFAULT 0,
    primary_source TEXT,
    sources_included TEXT,
    notes TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now'))
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_nutrition_monthly_aggregates_key ON nutrition_monthly_aggregates (user_id, year, month);

-- The original's LOINC seed for vitals, in its order (reference §2.4).
INSERT OR IGNORE INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Body Temperature', '8310-5', 'LOINC', 1);
INSERT OR IGNORE INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Heart Rate (Pulse)', '8867-4', 'LOINC', 2);
INSERT OR IGNORE INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Respiratory Rate', '9279-1', 'LOINC', 3);
INSERT OR IGNORE INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Systolic Blood Pressure', '8480-6', 'LOINC', 4);
INSERT OR IGNORE INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Diastolic Blood Pressure', '8462-4', 'LOINC', 5);
INSERT OR IGNORE INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Mean Arterial Pressure', '8478-0', 'LOINC', 6);
INSERT OR IGNORE INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Oxygen Saturation (SpO₂)', '59408-5', 'LOINC', 7);
INSERT OR IGNORE INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Body Weight (measured)', '29463-7', 'LOINC', 8);
INSERT OR IGNORE INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Body Height (measured)', '8302-2', 'LOINC', 9);
INSERT OR IGNORE INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('BMI (Body Mass Index)', '39156-5', 'LOINC', 10);
INSERT OR IGNORE INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Head Circumference (infants)', '8287-5', 'LOINC', 11);
INSERT OR IGNORE INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Pain Score (0–10)', '72514-3', 'LOINC', 12);
INSERT OR IGNORE INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Steps Taken', '41950-7', 'LOINC', 13);
INSERT OR IGNORE INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Active Energy Burned', '41981-2', 'LOINC', 14);
INSERT OR IGNORE INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Distance Walked/Run', '41953-1', 'LOINC', 15);
INSERT OR IGNORE INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Heart Rate (continuous)', '8889-8', 'LOINC', 16);
INSERT OR IGNORE INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Flights Climbed', NULL, 'LOINC', 17);
