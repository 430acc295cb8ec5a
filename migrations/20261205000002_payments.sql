-- The token fee. A payment belongs to one hold (a second request for the
-- hold returns the first payment); the booking made from the hold is found
-- through `bookings.hold_id`, so a payment never needs a second write to
-- know its booking. No phone number, seeker subject or host-app identity is
-- kept here: the seeker is their pseudonymous id.
CREATE TABLE payments (
    id               uuid PRIMARY KEY,
    hold_id          uuid NOT NULL UNIQUE,
    seeker_id        uuid NOT NULL REFERENCES seekers (id),
    expert_id        uuid NOT NULL REFERENCES experts (id),
    slot_id          uuid NOT NULL REFERENCES slots (id),
    provider         text NOT NULL CHECK (provider IN ('simulated', 'alipay')),
    amount_minor     integer NOT NULL CHECK (amount_minor > 0),
    currency         text NOT NULL DEFAULT 'CNY',
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'paid', 'expired', 'refunded', 'failed')),
    -- The provider's own reference for the trade (Alipay's trade_no).
    provider_trade_no text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    paid_at          timestamptz,
    refunded_at      timestamptz,
    CHECK ((status IN ('paid', 'refunded')) = (paid_at IS NOT NULL))
);
CREATE INDEX payments_pending ON payments (expires_at) WHERE status = 'pending';
CREATE INDEX payments_paid ON payments (paid_at) WHERE status = 'paid';

-- Refunds are an outbox: a sweep inserts one per payment that is owed its
-- money back (once: the primary key), and the settler calls the provider
-- until it succeeds, backing off between tries.
CREATE TABLE refunds (
    payment_id   uuid PRIMARY KEY REFERENCES payments (id),
    reason       text NOT NULL
                 CHECK (reason IN ('cancelled_before_start', 'hold_lapsed', 'call_failed')),
    state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),
    attempts     integer NOT NULL DEFAULT 0,
    next_at      timestamptz NOT NULL DEFAULT now(),
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    done_at      timestamptz
);
CREATE INDEX refunds_due ON refunds (next_at) WHERE state = 'pending';

-- Every notification a provider sent, verified or not, for the record and
-- for idempotency: what it claimed, never the raw signature or keys.
CREATE TABLE payment_notifications (
    id            bigserial PRIMARY KEY,
    provider      text NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    payment_id    uuid REFERENCES payments (id),
    trade_status  text,
    verdict       text NOT NULL
);
