-- The stage whose score `score` is: the dropping stage for a dropped record, the last stage that scored a
-- kept one ('' when `score` is null).
ALTER TABLE selection_decisions ADD COLUMN IF NOT EXISTS score_stage LowCardinality(String) DEFAULT '' AFTER score
