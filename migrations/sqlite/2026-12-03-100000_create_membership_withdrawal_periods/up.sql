-- The periods a withdrawal shortened or removed, as they were before it (same ids), so that
-- reinstating before the withdrawal takes effect cancels it and restores them exactly.
CREATE TABLE membership_withdrawal_periods (
    withdrawal_id TEXT NOT NULL REFERENCES membership_withdrawals (id) ON DELETE CASCADE,
    period_id     TEXT NOT NULL,
    start_on      DATE NOT NULL,
    end_on        DATE NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (withdrawal_id, period_id),
    CHECK (end_on >= start_on)
);
