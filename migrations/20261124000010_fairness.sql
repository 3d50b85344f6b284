-- Fairness (issue 7): three more queue settings per concert, the seed of the
-- pre-queue's draw, and the list of people that draw ordered.
ALTER TABLE concerts
    ADD COLUMN idle_timeout_seconds integer NOT NULL DEFAULT 120 CHECK (idle_timeout_seconds >= 3),
    ADD COLUMN admit_seat_factor double precision NOT NULL DEFAULT 2.0 CHECK (admit_seat_factor > 0),
    ADD COLUMN poll_budget_per_second integer NOT NULL DEFAULT 20000 CHECK (poll_budget_per_second >= 1),
    -- 32 random bytes drawn at the concert's creation; its SHA-256 is published
    -- before the opening, the seed itself after (docs/FAIRNESS.md). NULL only for
    -- concerts made before this column: their seed is drawn when first needed.
    ADD COLUMN draw_seed bytea CHECK (draw_seed IS NULL OR length(draw_seed) = 32);

-- The pre-queue draw of a concert, made once at its opening: the ids of the people
-- who joined before `opens_at`, the input of the published shuffle.
CREATE TABLE concert_draws (
    concert_id  uuid PRIMARY KEY REFERENCES concerts (concert_id),
    joiners     uuid[] NOT NULL,
    drawn_at    timestamptz NOT NULL DEFAULT now()
);
