-- mlworker schema v1 for PostgreSQL: vitals and nutrition.
-- Table and column names follow the original application's contract
-- (reference/original-data-model.md); additions are marked "mlworker:".
-- Types follow the original's models: timestamp without time zone, date,
-- double precision, varchar. Tables that already exist (a database created by
-- the original application) are kept; the columns mlworker adds are added.

CREATE TABLE IF NOT EXISTS vitals_raw_data (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL,
    metric_type VARCHAR NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    unit VARCHAR NOT NULL,
    start_date TIMESTAMP NOT NULL,
    end_date TIMESTAMP NOT NULL,
    data_source VARCHAR NOT NULL,
    source_device VARCHAR,
    notes VARCHAR,
    confidence_score DOUBLE PRECISION,
    aggregation_status VARCHAR(20) NOT NULL DEFAULT 'pending',
    aggregated_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    failure_reason VARCHAR             -- mlworker: why a row is 'failed'
);

CREATE TABLE IF NOT EXISTS vitals_mappings (
    vital_sign VARCHAR PRIMARY KEY,
    loinc_code VARCHAR,
    property VARCHAR,
    units VARCHAR,
    system VARCHAR,
    description VARCHAR,
    loinc_source VARCHAR,
    sort_order INTEGER              -- mlworker: seed order decides substring matches
);

CREATE TABLE IF NOT EXISTS vitals_raw_categorized (
    id SERIAL PRIMARY KEY,
    raw_id INTEGER,                 -- mlworker: the vitals_raw_data row this copies (NULL: legacy)
    user_id INTEGER NOT NULL,
    metric_type VARCHAR NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    unit VARCHAR NOT NULL,
    start_date TIMESTAMP NOT NULL,
    end_date TIMESTAMP NOT NULL,
    data_source VARCHAR NOT NULL,
    source_device VARCHAR,
    notes VARCHAR,
    confidence_score DOUBLE PRECISION,
    loinc_code VARCHAR,
    aggregation_status VARCHAR(20) NOT NULL DEFAULT 'pending',
    aggregated_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS vitals_hourly_aggregates (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL,
    metric_type VARCHAR NOT NULL,
    hour_start TIMESTAMP NOT NULL,
    loinc_code VARCHAR,
    total_value DOUBLE PRECISION,
    average_value DOUBLE PRECISION,
    min_value DOUBLE PRECISION,
    max_value DOUBLE PRECISION,
    count INTEGER NOT NULL DEFAULT 0,
    duration_minutes DOUBLE PRECISION,
    unit VARCHAR NOT NULL,
    primary_source VARCHAR,
    sources_included VARCHAR,
    notes VARCHAR,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS vitals_daily_aggregates (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL,
    metric_type VARCHAR NOT NULL,
    date DATE NOT NULL,
    loinc_code VARCHAR,
    total_value DOUBLE PRECISION,
    average_value DOUBLE PRECISION,
    min_value DOUBLE PRECISION,
    max_value DOUBLE PRECISION,
    count INTEGER NOT NULL DEFAULT 0,
    duration_minutes DOUBLE PRECISION,
    unit VARCHAR NOT NULL,
    primary_source VARCHAR,
    sources_included VARCHAR,
    notes VARCHAR,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS vitals_weekly_aggregates (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL,
    metric_type VARCHAR NOT NULL,
    week_start_date DATE NOT NULL,
    week_end_date DATE NOT NULL,
    loinc_code VARCHAR,
    total_value DOUBLE PRECISION,
    average_value DOUBLE PRECISION,
    min_value DOUBLE PRECISION,
    max_value DOUBLE PRECISION,
    days_with_data INTEGER NOT NULL DEFAULT 0,
    total_duration_minutes DOUBLE PRECISION,
    unit VARCHAR NOT NULL,
    primary_source VARCHAR,
    sources_included VARCHAR,
    notes VARCHAR,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS vitals_monthly_aggregates (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL,
    metric_type VARCHAR NOT NULL,
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    loinc_code VARCHAR,
    total_value DOUBLE PRECISION,
    average_value DOUBLE PRECISION,
    min_value DOUBLE PRECISION,
    max_value DOUBLE PRECISION,
    days_with_data INTEGER NOT NULL DEFAULT 0,
    total_duration_minutes DOUBLE PRECISION,
    unit VARCHAR NOT NULL,
    primary_source VARCHAR,
    sources_included VARCHAR,
    notes VARCHAR,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS nutrition_raw_data (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL,
    food_item_name VARCHAR NOT NULL,
    dish_name VARCHAR,
    dish_type VARCHAR,
    meal_type VARCHAR NOT NULL,
    portion_size DOUBLE PRECISION NOT NULL,
    portion_unit VARCHAR NOT NULL,
    calories DOUBLE PRECISION NOT NULL,
    protein_g DOUBLE PRECISION DEFAULT 0.0,
    fat_g DOUBLE PRECISION DEFAULT 0.0,
    carbs_g DOUBLE PRECISION DEFAULT 0.0,
    fiber_g DOUBLE PRECISION DEFAULT 0.0,
    sugar_g DOUBLE PRECISION DEFAULT 0.0,
    sodium_mg DOUBLE PRECISION DEFAULT 0.0,
    vitamin_a_mcg DOUBLE PRECISION DEFAULT 0.0,
    vitamin_c_mg DOUBLE PRECISION DEFAULT 0.0,
    vitamin_d_mcg DOUBLE PRECISION DEFAULT 0.0,
    vitamin_e_mg DOUBLE PRECISION DEFAULT 0.0,
    vitamin_k_mcg DOUBLE PRECISION DEFAULT 0.0,
    vitamin_b1_mg DOUBLE PRECISION DEFAULT 0.0,
    vitamin_b2_mg DOUBLE PRECISION DEFAULT 0.0,
    vitamin_b3_mg DOUBLE PRECISION DEFAULT 0.0,
    vitamin_b6_mg DOUBLE PRECISION DEFAULT 0.0,
    vitamin_b12_mcg DOUBLE PRECISION DEFAULT 0.0,
    folate_mcg DOUBLE PRECISION DEFAULT 0.0,
    calcium_mg DOUBLE PRECISION DEFAULT 0.0,
    iron_mg DOUBLE PRECISION DEFAULT 0.0,
    magnesium_mg DOUBLE PRECISION DEFAULT 0.0,
    phosphorus_mg DOUBLE PRECISION DEFAULT 0.0,
    potassium_mg DOUBLE PRECISION DEFAULT 0.0,
    zinc_mg DOUBLE PRECISION DEFAULT 0.0,
    copper_mg DOUBLE PRECISION DEFAULT 0.0,
    manganese_mg DOUBLE PRECISION DEFAULT 0.0,
    selenium_mcg DOUBLE PRECISION DEFAULT 0.0,
    meal_date DATE NOT NULL,
    meal_time TIMESTAMP NOT NULL,
    data_source VARCHAR NOT NULL,
    confidence_score DOUBLE PRECISION,
    image_url VARCHAR,
    notes VARCHAR,
    aggregation_status VARCHAR(20) NOT NULL DEFAULT 'pending',
    aggregated_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    failure_reason VARCHAR,            -- mlworker: why a row is 'failed'
    aggregated_date DATE            -- mlworker: the meal_date it was last counted under
);

CREATE TABLE IF NOT EXISTS nutrition_daily_aggregates (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL,
    date DATE NOT NULL,
    total_calories DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_protein_g DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_fat_g DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_carbs_g DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_fiber_g DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_sugar_g DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_sodium_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_vitamin_a_mcg DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_vitamin_c_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_vitamin_d_mcg DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_vitamin_e_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_vitamin_k_mcg DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_vitamin_b1_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_vitamin_b2_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_vitamin_b3_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_vitamin_b6_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_vitamin_b12_mcg DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_folate_mcg DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_calcium_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_iron_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_magnesium_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_phosphorus_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_potassium_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_zinc_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_copper_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_manganese_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_selenium_mcg DOUBLE PRECISION NOT NULL DEFAULT 0,
    meal_count INTEGER NOT NULL DEFAULT 0,
    breakfast_count INTEGER NOT NULL DEFAULT 0,
    lunch_count INTEGER NOT NULL DEFAULT 0,
    dinner_count INTEGER NOT NULL DEFAULT 0,
    snack_count INTEGER NOT NULL DEFAULT 0,
    breakfast_calories DOUBLE PRECISION NOT NULL DEFAULT 0,
    lunch_calories DOUBLE PRECISION NOT NULL DEFAULT 0,
    dinner_calories DOUBLE PRECISION NOT NULL DEFAULT 0,
    snack_calories DOUBLE PRECISION NOT NULL DEFAULT 0,
    primary_source VARCHAR,
    sources_included VARCHAR,
    notes VARCHAR,
    latest_created_at TIMESTAMP,         -- mlworker: (created_at, id) of the row that set primary_source,
    latest_raw_id INTEGER,          --   so weekly/monthly pick the period's latest row
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS nutrition_weekly_aggregates (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL,
    week_start_date DATE NOT NULL,
    week_end_date DATE NOT NULL,
    avg_daily_calories DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_protein_g DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_fat_g DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_carbs_g DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_fiber_g DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_sugar_g DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_sodium_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_vitamin_a_mcg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_vitamin_c_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_vitamin_d_mcg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_vitamin_e_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_vitamin_k_mcg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_vitamin_b1_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_vitamin_b2_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_vitamin_b3_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_vitamin_b6_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_vitamin_b12_mcg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_folate_mcg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_calcium_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_iron_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_magnesium_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_phosphorus_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_potassium_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_zinc_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_copper_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_manganese_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_selenium_mcg DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_weekly_calories DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_weekly_meals INTEGER NOT NULL DEFAULT 0,
    days_with_data INTEGER NOT NULL DEFAULT 0,
    primary_source VARCHAR,
    sources_included VARCHAR,
    notes VARCHAR,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS nutrition_monthly_aggregates (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL,
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    avg_daily_calories DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_protein_g DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_fat_g DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_carbs_g DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_fiber_g DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_sugar_g DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_sodium_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_vitamin_a_mcg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_vitamin_c_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_vitamin_d_mcg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_vitamin_e_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_vitamin_k_mcg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_vitamin_b1_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_vitamin_b2_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_vitamin_b3_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_vitamin_b6_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_vitamin_b12_mcg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_folate_mcg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_calcium_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_iron_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_magnesium_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_phosphorus_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_potassium_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_zinc_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_copper_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_manganese_mg DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_daily_selenium_mcg DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_monthly_calories DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_monthly_meals INTEGER NOT NULL DEFAULT 0,
    days_with_data INTEGER NOT NULL DEFAULT 0,
    primary_source VARCHAR,
    sources_included VARCHAR,
    notes VARCHAR,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);



-- Adopting a database created by the original application: its tables exist
-- already, so add what mlworker needs (never drop or rename anything).
ALTER TABLE vitals_raw_data ADD COLUMN IF NOT EXISTS failure_reason VARCHAR;
ALTER TABLE nutrition_raw_data ADD COLUMN IF NOT EXISTS failure_reason VARCHAR;
ALTER TABLE nutrition_raw_data ADD COLUMN IF NOT EXISTS aggregated_date DATE;
ALTER TABLE vitals_raw_categorized ADD COLUMN IF NOT EXISTS raw_id INTEGER;
ALTER TABLE vitals_mappings ADD COLUMN IF NOT EXISTS sort_order INTEGER;
ALTER TABLE nutrition_daily_aggregates ADD COLUMN IF NOT EXISTS latest_created_at TIMESTAMP;
ALTER TABLE nutrition_daily_aggregates ADD COLUMN IF NOT EXISTS latest_raw_id INTEGER;
-- Migration 007 of the original left the server default 'completed' on
-- vitals_raw_data.aggregation_status, which makes rows inserted without an
-- explicit status invisible to any worker (data-model §7.34).
ALTER TABLE vitals_raw_data ALTER COLUMN aggregation_status SET DEFAULT 'pending';
ALTER TABLE nutrition_raw_data ALTER COLUMN aggregation_status SET DEFAULT 'pending';

-- Adopting: rows the original's find-then-insert races duplicated
-- (data-model §7.2, §7.3) would block the unique keys below. Aggregate rows
-- are derived data: keep the newest of each logical key (the next recompute
-- of that bucket rewrites it). On a fresh database these change nothing.
DELETE FROM vitals_hourly_aggregates a USING vitals_hourly_aggregates b
 WHERE a.user_id = b.user_id AND a.metric_type = b.metric_type AND a.hour_start = b.hour_start AND a.id < b.id;
DELETE FROM vitals_daily_aggregates a USING vitals_daily_aggregates b
 WHERE a.user_id = b.user_id AND a.metric_type = b.metric_type AND a.date = b.date AND a.id < b.id;
DELETE FROM vitals_weekly_aggregates a USING vitals_weekly_aggregates b
 WHERE a.user_id = b.user_id AND a.metric_type = b.metric_type AND a.week_start_date = b.week_start_date AND a.id < b.id;
DELETE FROM vitals_monthly_aggregates a USING vitals_monthly_aggregates b
 WHERE a.user_id = b.user_id AND a.metric_type = b.metric_type AND a.year = b.year AND a.month = b.month AND a.id < b.id;
DELETE FROM nutrition_daily_aggregates a USING nutrition_daily_aggregates b
 WHERE a.user_id = b.user_id AND a.date = b.date AND a.id < b.id;
DELETE FROM nutrition_weekly_aggregates a USING nutrition_weekly_aggregates b
 WHERE a.user_id = b.user_id AND a.week_start_date = b.week_start_date AND a.id < b.id;
DELETE FROM nutrition_monthly_aggregates a USING nutrition_monthly_aggregates b
 WHERE a.user_id = b.user_id AND a.year = b.year AND a.month = b.month AND a.id < b.id;

-- Categorized copies the original made twice of one sample (NULL notes were
-- never duplicates to its constraint, §7.2): keep the first copy.
DELETE FROM vitals_raw_categorized a USING vitals_raw_categorized b
 WHERE a.raw_id IS NULL AND b.raw_id IS NULL AND a.user_id = b.user_id
   AND a.metric_type = b.metric_type AND a.unit = b.unit AND a.start_date = b.start_date
   AND a.data_source = b.data_source AND COALESCE(a.notes, '') = COALESCE(b.notes, '')
   AND a.value = b.value AND a.id > b.id;

-- Link the original's categorized copies to their raw rows by the sample
-- identity the raw table is unique on, so that re-processing a raw row
-- updates its copy instead of adding a second one.
UPDATE vitals_raw_categorized c SET raw_id = r.id
  FROM vitals_raw_data r
 WHERE c.raw_id IS NULL AND r.user_id = c.user_id AND r.metric_type = c.metric_type
   AND r.unit = c.unit AND r.start_date = c.start_date AND r.data_source = c.data_source
   AND COALESCE(r.notes, '') = COALESCE(c.notes, '')
   AND NOT EXISTS (SELECT 1 FROM vitals_raw_categorized x WHERE x.raw_id = r.id)
   AND c.id = (SELECT min(c2.id) FROM vitals_raw_categorized c2
                WHERE c2.raw_id IS NULL AND c2.user_id = c.user_id
                  AND c2.metric_type = c.metric_type AND c2.unit = c.unit
                  AND c2.start_date = c.start_date AND c2.data_source = c.data_source
                  AND COALESCE(c2.notes, '') = COALESCE(c.notes, ''));

CREATE UNIQUE INDEX IF NOT EXISTS ux_vitals_raw_data_nodups ON vitals_raw_data
    (user_id, metric_type, unit, start_date, data_source, COALESCE(notes, ''));
CREATE INDEX IF NOT EXISTS idx_vitals_raw_user_metric_start ON vitals_raw_data (user_id, metric_type, start_date);
CREATE INDEX IF NOT EXISTS idx_vitals_raw_metric_dates ON vitals_raw_data (metric_type, start_date, end_date);
CREATE INDEX IF NOT EXISTS idx_vitals_raw_user_source_start ON vitals_raw_data (user_id, data_source, start_date);
CREATE INDEX IF NOT EXISTS idx_vitals_raw_status_user_start ON vitals_raw_data (aggregation_status, user_id, start_date);
CREATE INDEX IF NOT EXISTS idx_vitals_raw_pending ON vitals_raw_data (aggregation_status, created_at, id);
CREATE UNIQUE INDEX IF NOT EXISTS ux_vitals_raw_categorized_raw_id ON vitals_raw_categorized (raw_id);
CREATE INDEX IF NOT EXISTS idx_vitals_cat_user_metric_start ON vitals_raw_categorized (user_id, metric_type, start_date);
CREATE INDEX IF NOT EXISTS idx_vitals_cat_loinc ON vitals_raw_categorized (loinc_code);
CREATE UNIQUE INDEX IF NOT EXISTS ux_vitals_hourly_aggregates_key ON vitals_hourly_aggregates (user_id, metric_type, hour_start);
CREATE INDEX IF NOT EXISTS idx_vitals_hourly_aggregates_1 ON vitals_hourly_aggregates (user_id, loinc_code, hour_start);
CREATE INDEX IF NOT EXISTS idx_vitals_hourly_aggregates_2 ON vitals_hourly_aggregates (hour_start, loinc_code);
CREATE UNIQUE INDEX IF NOT EXISTS ux_vitals_daily_aggregates_key ON vitals_daily_aggregates (user_id, metric_type, date);
CREATE INDEX IF NOT EXISTS idx_vitals_daily_aggregates_1 ON vitals_daily_aggregates (user_id, loinc_code, date);
CREATE INDEX IF NOT EXISTS idx_vitals_daily_aggregates_2 ON vitals_daily_aggregates (date, loinc_code);
CREATE UNIQUE INDEX IF NOT EXISTS ux_vitals_weekly_aggregates_key ON vitals_weekly_aggregates (user_id, metric_type, week_start_date);
CREATE INDEX IF NOT EXISTS idx_vitals_weekly_aggregates_1 ON vitals_weekly_aggregates (user_id, loinc_code, week_start_date);
CREATE UNIQUE INDEX IF NOT EXISTS ux_vitals_monthly_aggregates_key ON vitals_monthly_aggregates (user_id, metric_type, year, month);
CREATE INDEX IF NOT EXISTS idx_vitals_monthly_aggregates_1 ON vitals_monthly_aggregates (user_id, loinc_code, year, month);
CREATE INDEX IF NOT EXISTS idx_nutrition_raw_user_date ON nutrition_raw_data (user_id, meal_date);
CREATE INDEX IF NOT EXISTS idx_nutrition_raw_date_time ON nutrition_raw_data (meal_date, meal_time);
CREATE INDEX IF NOT EXISTS idx_nutrition_raw_user_source_date ON nutrition_raw_data (user_id, data_source, meal_date);
CREATE INDEX IF NOT EXISTS idx_nutrition_raw_status_user_date ON nutrition_raw_data (aggregation_status, user_id, meal_date);
CREATE INDEX IF NOT EXISTS idx_nutrition_raw_meal_type_date ON nutrition_raw_data (meal_type, meal_date);
CREATE INDEX IF NOT EXISTS idx_nutrition_raw_dish_type_date ON nutrition_raw_data (dish_type, meal_date);
CREATE INDEX IF NOT EXISTS idx_nutrition_raw_pending ON nutrition_raw_data (aggregation_status, created_at, id);
CREATE UNIQUE INDEX IF NOT EXISTS ux_nutrition_daily_aggregates_key ON nutrition_daily_aggregates (user_id, date);
CREATE UNIQUE INDEX IF NOT EXISTS ux_nutrition_weekly_aggregates_key ON nutrition_weekly_aggregates (user_id, week_start_date);
CREATE UNIQUE INDEX IF NOT EXISTS ux_nutrition_monthly_aggregates_key ON nutrition_monthly_aggregates (user_id, year, month);

-- The original's LOINC seed for vitals, in its order (reference §2.4).
INSERT INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Body Temperature', '8310-5', 'LOINC', 1) ON CONFLICT DO NOTHING;
INSERT INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Heart Rate (Pulse)', '8867-4', 'LOINC', 2) ON CONFLICT DO NOTHING;
INSERT INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Respiratory Rate', '9279-1', 'LOINC', 3) ON CONFLICT DO NOTHING;
INSERT INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Systolic Blood Pressure', '8480-6', 'LOINC', 4) ON CONFLICT DO NOTHING;
INSERT INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Diastolic Blood Pressure', '8462-4', 'LOINC', 5) ON CONFLICT DO NOTHING;
INSERT INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Mean Arterial Pressure', '8478-0', 'LOINC', 6) ON CONFLICT DO NOTHING;
INSERT INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Oxygen Saturation (SpO₂)', '59408-5', 'LOINC', 7) ON CONFLICT DO NOTHING;
INSERT INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Body Weight (measured)', '29463-7', 'LOINC', 8) ON CONFLICT DO NOTHING;
INSERT INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Body Height (measured)', '8302-2', 'LOINC', 9) ON CONFLICT DO NOTHING;
INSERT INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('BMI (Body Mass Index)', '39156-5', 'LOINC', 10) ON CONFLICT DO NOTHING;
INSERT INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Head Circumference (infants)', '8287-5', 'LOINC', 11) ON CONFLICT DO NOTHING;
INSERT INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Pain Score (0–10)', '72514-3', 'LOINC', 12) ON CONFLICT DO NOTHING;
INSERT INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Steps Taken', '41950-7', 'LOINC', 13) ON CONFLICT DO NOTHING;
INSERT INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Active Energy Burned', '41981-2', 'LOINC', 14) ON CONFLICT DO NOTHING;
INSERT INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Distance Walked/Run', '41953-1', 'LOINC', 15) ON CONFLICT DO NOTHING;
INSERT INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Heart Rate (continuous)', '8889-8', 'LOINC', 16) ON CONFLICT DO NOTHING;
INSERT INTO vitals_mappings (vital_sign, loinc_code, loinc_source, sort_order) VALUES ('Flights Climbed', NULL, 'LOINC', 17) ON CONFLICT DO NOTHING;
UPDATE vitals_mappings SET sort_order = CASE vital_sign
    WHEN 'Body Temperature' THEN 1
    WHEN 'Heart Rate (Pulse)' THEN 2
    WHEN 'Respiratory Rate' THEN 3
    WHEN 'Systolic Blood Pressure' THEN 4
    WHEN 'Diastolic Blood Pressure' THEN 5
    WHEN 'Mean Arterial Pressure' THEN 6
    WHEN 'Oxygen Saturation (SpO₂)' THEN 7
    WHEN 'Body Weight (measured)' THEN 8
    WHEN 'Body Height (measured)' THEN 9
    WHEN 'BMI (Body Mass Index)' THEN 10
    WHEN 'Head Circumference (infants)' THEN 11
    WHEN 'Pain Score (0–10)' THEN 12
    WHEN 'Steps Taken' THEN 13
    WHEN 'Active Energy Burned' THEN 14
    WHEN 'Distance Walked/Run' THEN 15
    WHEN 'Heart Rate (continuous)' THEN 16
    WHEN 'Flights Climbed' THEN 17
    ELSE sort_order END WHERE sort_order IS NULL;
