-- Membership of an organisation: applied, approved into periods, renewed, withdrawn and
-- reinstated. Status is never stored: it is derived for any date from these rows.
CREATE TABLE memberships (
    organisation_id TEXT PRIMARY KEY NOT NULL REFERENCES organisations (id),
    tier            TEXT NOT NULL CHECK (tier IN ('full', 'associate')),
    applied_on      DATE NOT NULL,
    -- "member since": the start of the first approved period unless staff say otherwise
    joined_on       DATE,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);

-- Each approval, renewal or reinstatement adds a period; together they are the history.
CREATE TABLE membership_periods (
    id              TEXT PRIMARY KEY NOT NULL,
    organisation_id TEXT NOT NULL REFERENCES memberships (organisation_id),
    start_on        DATE NOT NULL,
    end_on          DATE NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    CHECK (end_on >= start_on)
);
CREATE INDEX membership_periods_organisation ON membership_periods (organisation_id, start_on);
CREATE INDEX membership_periods_dates ON membership_periods (start_on, end_on);
CREATE INDEX membership_periods_end ON membership_periods (end_on);

-- A withdrawal holds from withdrawn_on until it is reinstated (if ever).
CREATE TABLE membership_withdrawals (
    id              TEXT PRIMARY KEY NOT NULL,
    organisation_id TEXT NOT NULL REFERENCES memberships (organisation_id),
    withdrawn_on    DATE NOT NULL,
    reinstated_on   DATE,
    reason          TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    CHECK (reinstated_on IS NULL OR reinstated_on >= withdrawn_on)
);
CREATE INDEX membership_withdrawals_organisation ON membership_withdrawals (organisation_id);

-- What staff did, in order: the membership's history as it happened.
CREATE TABLE membership_actions (
    id              TEXT PRIMARY KEY NOT NULL,
    organisation_id TEXT NOT NULL REFERENCES memberships (organisation_id),
    action          TEXT NOT NULL CHECK (action IN ('apply', 'approve', 'renew', 'withdraw',
                        'reinstate')),
    effective_on    DATE NOT NULL,
    tier            TEXT NOT NULL CHECK (tier IN ('full', 'associate')),
    period_start_on DATE,
    period_end_on   DATE,
    reason          TEXT,
    actor_user_id   TEXT REFERENCES users (id),
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX membership_actions_organisation ON membership_actions (organisation_id, created_at);
