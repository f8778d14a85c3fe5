-- Optional: wake idle mlworker processes the moment the app inserts raw rows,
-- instead of waiting up to ML_WORKER_POLL_INTERVAL. Install once:
--   psql "$DATABASE_URL" -f deploy/postgres/notify_trigger.sql
-- and run the workers with ML_WORKER_NOTIFY_CHANNEL=mlworker.
-- One notification per statement (not per row): a bulk insert of 10 000
-- rows costs one NOTIFY. PostgreSQL folds identical notifications of one
-- transaction into one.
CREATE OR REPLACE FUNCTION mlworker_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mlworker', TG_TABLE_NAME);
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS mlworker_notify ON vitals_raw_data;
CREATE TRIGGER mlworker_notify AFTER INSERT ON vitals_raw_data
    FOR EACH STATEMENT EXECUTE FUNCTION mlworker_notify();

DROP TRIGGER IF EXISTS mlworker_notify ON nutrition_raw_data;
CREATE TRIGGER mlworker_notify AFTER INSERT ON nutrition_raw_data
    FOR EACH STATEMENT EXECUTE FUNCTION mlworker_notify();
