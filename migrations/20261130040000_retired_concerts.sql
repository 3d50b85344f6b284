-- A concert whose dates have all passed (plus LINEUP_RETIRE_AFTER) is retired:
-- its Redis keys are deleted and no server loads it again. Its rows stay.
ALTER TABLE concerts
    ADD COLUMN retired_at timestamptz;
