-- The change feed (GET /api/v1/changes). A write appends its changes under a batch id; just
-- before it commits it takes the next commit number from `change_feed`, whose row lock it
-- holds until the commit, so commit numbers are given in commit order and a reader never
-- sees a number while a smaller one can still commit. A change's position is its batch's
-- commit number and its own `seq` (insert order within the write).
CREATE TABLE change_feed (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    -- The last commit number given.
    last_commit    BIGINT NOT NULL,
    -- Commits up to and including this one have been removed by retention.
    pruned_through BIGINT NOT NULL
);
INSERT INTO change_feed (id, last_commit, pruned_through) VALUES (1, 0, 0);

-- The calendar sweep (membership status moves by date alone): the last day it has put in
-- the feed. A row of its own, so a sweep's lock never holds up the writes' commit numbers.
CREATE TABLE calendar_sweep (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    swept_through DATE
);
INSERT INTO calendar_sweep (id, swept_through) VALUES (1, NULL);

CREATE TABLE change_batches (
    batch         TEXT PRIMARY KEY,
    commit_number BIGINT NOT NULL UNIQUE,
    committed_at  TIMESTAMP NOT NULL
);
CREATE INDEX change_batches_by_time ON change_batches (committed_at);

-- No foreign key to change_batches: a write's changes are inserted before its batch row.
CREATE TABLE change_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    batch       TEXT NOT NULL,
    id          TEXT NOT NULL UNIQUE,
    event_type  TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    parent_id   TEXT,
    detail      TEXT NOT NULL
);
CREATE INDEX change_events_by_batch ON change_events (batch, seq);

-- Each organisation's membership status as the feed last announced it, so a status move is
-- announced once, whether an action or the calendar made it.
CREATE TABLE membership_status_announced (
    organisation_id TEXT PRIMARY KEY,
    status          TEXT NOT NULL,
    CHECK (status IN ('pending', 'current', 'grace', 'lapsed', 'withdrawn'))
);
