-- A measurement that is not a number (NaN bits per byte of a pruned model whose loss diverged) is NULL, not
-- 0: 0 bits per byte reads as a perfect model. The table has one row per pruning job, so the rewrite is small.
ALTER TABLE pruning_runs
    MODIFY COLUMN bits_per_byte_before Nullable(Float64),
    MODIFY COLUMN bits_per_byte_unhealed Nullable(Float64),
    MODIFY COLUMN latency_ms_p50_before Nullable(Float64),
    MODIFY COLUMN latency_ms_p50_after Nullable(Float64)
