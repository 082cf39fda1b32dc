-- Sign-in attempts, limited per account and per client address across every instance: one
-- row a key, holding when its whole allowance is back (GCRA's theoretical arrival time).
CREATE TABLE sign_in_limits (
    key         TEXT COLLATE "C" PRIMARY KEY,
    refilled_at  TIMESTAMP NOT NULL
);
CREATE INDEX sign_in_limits_by_time ON sign_in_limits (refilled_at);
