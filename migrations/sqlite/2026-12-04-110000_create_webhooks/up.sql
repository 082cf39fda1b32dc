-- Webhook subscriptions and their deliveries: a transactional outbox. A change's deliveries
-- are written in the transaction that makes the change, so a crash between the commit and
-- the send loses nothing; the sender leases due deliveries, sends them in feed order per
-- subscription, and records every attempt.
CREATE TABLE webhook_subscriptions (
    id                    TEXT PRIMARY KEY,
    url                   TEXT NOT NULL,
    description           TEXT,
    -- A JSON array of event types and prefixes; empty for every type.
    event_types           TEXT NOT NULL,
    secret                TEXT NOT NULL,
    -- The secret before the last rotation, still signing until previous_secret_until.
    previous_secret       TEXT,
    previous_secret_until TIMESTAMP,
    status                TEXT NOT NULL,
    -- When deliveries began to fail (cleared by a success); three days of it disables.
    failing_since         TIMESTAMP,
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL,
    version               BIGINT NOT NULL,
    CHECK (status IN ('active', 'paused', 'disabled'))
);

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    subscription_id  TEXT NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    -- The feed change it delivers (change_events.id); NULL for a test event.
    change_id        TEXT,
    event_type       TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    next_attempt_at  TIMESTAMP,
    leased_until     TIMESTAMP,
    created_at       TIMESTAMP NOT NULL,
    delivered_at     TIMESTAMP,
    CHECK (status IN ('pending', 'delivered', 'failed'))
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (status, subscription_id);
CREATE INDEX webhook_deliveries_by_subscription ON webhook_deliveries (subscription_id, created_at, id);

CREATE TABLE webhook_attempts (
    delivery_id  TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt      INTEGER NOT NULL,
    attempted_at TIMESTAMP NOT NULL,
    -- The response's status, or NULL when none came (refused, timed out, blocked target).
    status_code  INTEGER,
    duration_ms  INTEGER NOT NULL,
    error        TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
