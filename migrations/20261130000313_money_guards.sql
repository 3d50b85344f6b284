-- Guards the code keeps already, now kept by PostgreSQL too (issue 13): whatever a
-- bug, a re-sent script or a hand-written fix does, these rows cannot exist.

-- A payment debits once: one ledger entry per payment (charges have none).
ALTER TABLE ledger
    ADD CONSTRAINT ledger_one_entry_per_payment UNIQUE (payment_id);

-- A stored Idempotency-Key answer names the ledger entry its request produced;
-- no other key's answer names the same entry.
ALTER TABLE idempotency_keys
    ADD CONSTRAINT idempotency_keys_one_per_ledger_entry UNIQUE (ledger_entry_id);

-- A ticket is a seat of the date its payment paid for: the pair (payment, date)
-- must be a payment's own.
ALTER TABLE payments
    ADD CONSTRAINT payments_of_one_date UNIQUE (payment_id, schedule_id);
ALTER TABLE tickets
    ADD CONSTRAINT tickets_of_their_payments_date
    FOREIGN KEY (payment_id, schedule_id) REFERENCES payments (payment_id, schedule_id);
