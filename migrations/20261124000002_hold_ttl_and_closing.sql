-- Operators set the hold TTL per concert, and close a sale.
ALTER TABLE concerts
    ADD COLUMN hold_ttl_seconds integer NOT NULL DEFAULT 300 CHECK (hold_ttl_seconds >= 1),
    ADD COLUMN closed_at timestamptz;
