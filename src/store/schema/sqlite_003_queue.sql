-- mlworker schema v3 for SQLite: the database-backed job queue
-- (ML_WORKER_SQS_QUEUE_URL=db, sqlite://...), with SQS semantics; see
-- src/queue/dbqueue.h. mlworker's own table, not part of the original's
-- contract. Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE IF NOT EXISTS mlw_queue_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,   -- never reused: receipt handles name it
    queue_name TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,        -- a UUID, as SQS's MessageId
    body TEXT NOT NULL,                     -- the same JSON bodies as on SQS
    attributes TEXT NOT NULL DEFAULT '{}',  -- MessageAttributes as SQS's JSON protocol writes them
    md5_of_body TEXT NOT NULL,
    md5_of_attributes TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'queued',   -- queued | dead (dead-lettered)
    receive_count INTEGER NOT NULL DEFAULT 0,
    sent_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,            -- invisible (delayed or in flight) until then
    first_received_at INTEGER,
    dead_at INTEGER
);

-- Receive: the earliest visible queued rows of one queue; depth counts.
CREATE INDEX IF NOT EXISTS mlw_queue_messages_ready
    ON mlw_queue_messages (queue_name, status, visible_at, id);
