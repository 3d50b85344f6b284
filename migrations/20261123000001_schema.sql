-- lineup's durable state: the catalog, users and their money, payments and tickets.
-- Redis holds the hot, short-lived state; this is what must never be lost.

CREATE TABLE concerts (
    concert_id          uuid PRIMARY KEY,
    title               text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    venue               text NOT NULL CHECK (length(venue) BETWEEN 1 AND 200),
    opens_at            timestamptz NOT NULL,
    -- Queue settings as last set by an operator; Redis holds the live copy, and
    -- these are the fallback should Redis lose it.
    admit_per_second    integer NOT NULL CHECK (admit_per_second >= 1),
    max_active          integer NOT NULL CHECK (max_active >= 1),
    max_waiting         integer NOT NULL CHECK (max_waiting >= 0),
    active_ttl_seconds  integer NOT NULL CHECK (active_ttl_seconds >= 1),
    paused              boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE schedules (
    schedule_id  uuid PRIMARY KEY,
    concert_id   uuid NOT NULL REFERENCES concerts (concert_id),
    starts_at    timestamptz NOT NULL
);
CREATE INDEX schedules_by_concert ON schedules (concert_id, starts_at);

CREATE TABLE seats (
    schedule_id  uuid NOT NULL REFERENCES schedules (schedule_id),
    seat_no      integer NOT NULL CHECK (seat_no >= 1),
    price        bigint NOT NULL CHECK (price >= 0),
    PRIMARY KEY (schedule_id, seat_no)
);

CREATE TABLE users (
    user_id     uuid PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE wallets (
    user_id     uuid PRIMARY KEY REFERENCES users (user_id),
    balance     bigint NOT NULL DEFAULT 0 CHECK (balance >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE payments (
    payment_id      uuid PRIMARY KEY,
    -- One payment per reservation, whatever happens to the Redis side.
    reservation_id  uuid NOT NULL UNIQUE,
    user_id         uuid NOT NULL REFERENCES users (user_id),
    concert_id      uuid NOT NULL REFERENCES concerts (concert_id),
    schedule_id     uuid NOT NULL REFERENCES schedules (schedule_id),
    amount          bigint NOT NULL CHECK (amount >= 0),
    balance_after   bigint NOT NULL CHECK (balance_after >= 0),
    paid_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_by_user ON payments (user_id, paid_at DESC);

CREATE TABLE tickets (
    payment_id   uuid NOT NULL REFERENCES payments (payment_id),
    schedule_id  uuid NOT NULL,
    seat_no      integer NOT NULL,
    FOREIGN KEY (schedule_id, seat_no) REFERENCES seats (schedule_id, seat_no),
    -- The last line: one seat is never sold twice, whatever Redis says.
    CONSTRAINT tickets_one_per_seat UNIQUE (schedule_id, seat_no)
);
CREATE INDEX tickets_by_payment ON tickets (payment_id);

-- Every movement of money: a balance always equals the sum of its entries.
CREATE TABLE ledger (
    entry_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (user_id),
    kind           text NOT NULL CHECK (kind IN ('charge', 'payment')),
    amount         bigint NOT NULL,
    balance_after  bigint NOT NULL CHECK (balance_after >= 0),
    payment_id     uuid REFERENCES payments (payment_id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'charge' AND amount > 0 AND payment_id IS NULL)
        OR (kind = 'payment' AND amount <= 0 AND payment_id IS NOT NULL))
);
CREATE INDEX ledger_by_user ON ledger (user_id, entry_id);
