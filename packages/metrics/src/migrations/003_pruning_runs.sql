-- One row per succeeded pruning job, from pruning_run_completed events: what was removed and what it cost.
CREATE TABLE IF NOT EXISTS pruning_runs
(
    completed_at                DateTime64(3, 'UTC'),
    job_id                      String,
    source_model                String,
    source_version              String,
    pruned_model                String,
    pruned_version              String,
    start_layer                 UInt32,
    block_size                  UInt32,
    distance                    Nullable(Float64),
    healing                     LowCardinality(String),
    ridge_alpha                 Float64,
    layers_before               UInt32,
    layers_after                UInt32,
    bits_per_byte_before        Float64,
    bits_per_byte_unhealed      Float64,
    bits_per_byte_healed        Nullable(Float64),
    latency_ms_p50_before       Float64,
    latency_ms_p50_after        Float64,
    file_size_bytes_before      UInt64,
    file_size_bytes_after       UInt64,
    parameters_before           UInt64,
    parameters_after            UInt64,
    analysis_job_id             String
)
ENGINE = MergeTree
ORDER BY (source_model, job_id)
