-- mlworker schema v3 for PostgreSQL: the database-backed job queue
-- (ML_WORKER_SQS_QUEUE_URL=db, postgresql://...), with SQS semantics; see
-- src/queue/dbqueue.h. mlworker's own table, not part of the original's
-- contract. Times are milliseconds since the Unix epoch (UTC), taken from
-- the server's clock so every worker host agrees.

CREATE TABLE IF NOT EXISTS mlw_queue_messages (
    id BIGSERIAL PRIMARY KEY,               -- never reused: receipt handles name it
    queue_name VARCHAR NOT NULL,
    message_id VARCHAR NOT NULL UNIQUE,     -- a UUID, as SQS's MessageId
    body TEXT NOT NULL,                     -- the same JSON bodies as on SQS
    attributes TEXT NOT NULL DEFAULT '{}',  -- MessageAttributes as SQS's JSON protocol writes them
    md5_of_body VARCHAR(32) NOT NULL,
    md5_of_attributes VARCHAR(32) NOT NULL DEFAULT '',
    status VARCHAR(10) NOT NULL DEFAULT 'queued',  -- queued | dead (dead-lettered)
    receive_count INTEGER NOT NULL DEFAULT 0,
    sent_at BIGINT NOT NULL,
    visible_at BIGINT NOT NULL,             -- invisible (delayed or in flight) until then
    first_received_at BIGINT,
    dead_at BIGINT
);

-- Receive: the earliest visible queued rows of one queue; depth counts.
CREATE INDEX IF NOT EXISTS mlw_queue_messages_ready
    ON mlw_queue_messages (queue_name, status, visible_at, id);
