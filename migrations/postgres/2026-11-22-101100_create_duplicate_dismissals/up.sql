-- Pairs of organisations staff have said are not duplicates, so the list stops showing them.
-- The pair is stored once, the smaller id first.
CREATE TABLE duplicate_dismissals (
    organisation_a TEXT COLLATE "C" NOT NULL REFERENCES organisations (id),
    organisation_b TEXT COLLATE "C" NOT NULL REFERENCES organisations (id),
    dismissed_by   TEXT COLLATE "C" REFERENCES users (id),
    dismissed_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (organisation_a, organisation_b),
    CHECK (organisation_a < organisation_b)
);
