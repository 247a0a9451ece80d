-- One row per finished RPC or HTTP request, written by the metrics consumer from request_completed events.
CREATE TABLE IF NOT EXISTS requests
(
    finished_at    DateTime64(3, 'UTC'),
    service        LowCardinality(String),
    method         LowCardinality(String),
    status         LowCardinality(String),
    latency_ms     Float64,
    batch_size     UInt32,
    model_name     LowCardinality(String),
    model_version  LowCardinality(String)
)
ENGINE = MergeTree
ORDER BY (service, method, finished_at)
