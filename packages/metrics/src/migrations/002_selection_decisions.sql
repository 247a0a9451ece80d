-- Final keep/drop decision of every record of every selection job, from records_decided events.
CREATE TABLE IF NOT EXISTS selection_decisions
(
    decided_at    DateTime64(3, 'UTC'),
    job_id        String,
    record_id     String,
    kept          Bool,
    stage         LowCardinality(String),
    reason        LowCardinality(String),
    duplicate_of  String,
    cluster       Nullable(UInt32),
    score         Nullable(Float64)
)
ENGINE = MergeTree
ORDER BY (job_id, record_id)
