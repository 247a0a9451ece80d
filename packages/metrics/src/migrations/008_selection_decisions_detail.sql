-- For a record skipped as invalid (reason invalid_record): the reader's reason and where the record is,
-- e.g. `text field "text" is null at /data/crawl.jsonl:7`; '' for every other decision.
ALTER TABLE selection_decisions ADD COLUMN IF NOT EXISTS detail String DEFAULT '' AFTER score_stage
