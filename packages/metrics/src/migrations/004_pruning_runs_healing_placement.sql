-- Where the healing map went: 'fold' (into the projection before the cut, no new parameters), 'insert'
-- (a new MatMul), or '' without healing.
ALTER TABLE pruning_runs ADD COLUMN IF NOT EXISTS healing_placement LowCardinality(String) DEFAULT '' AFTER healing
