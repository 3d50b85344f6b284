-- Idempotency-Key on charges and payments: the first response to a key is kept
-- with the ledger entry it produced, and a retry with the same key gets it back
-- without moving money again.
CREATE TABLE idempotency_keys (
    user_id          uuid NOT NULL REFERENCES users (user_id),
    endpoint         text NOT NULL CHECK (endpoint IN ('charge', 'payment')),
    key              text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    -- SHA-256 of what the request asked for: the same key with another body is refused.
    request_hash     bytea NOT NULL,
    status           smallint NOT NULL,
    response         jsonb NOT NULL,
    ledger_entry_id  bigint REFERENCES ledger (entry_id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, endpoint, key)
);
