-- Controlled vocabularies that organisations are coded against. Rows are seeded at start-up
-- from the defaults embedded in the binary; codes are retired, never deleted, so that old
-- records keep their meaning.
CREATE TABLE communities (
    code        TEXT PRIMARY KEY NOT NULL,
    parent_code TEXT REFERENCES communities (code),
    title       TEXT NOT NULL,
    description TEXT,
    source      TEXT,
    retired_at  TIMESTAMP
);
CREATE INDEX communities_parent_code_idx ON communities (parent_code);

CREATE TABLE expertise_areas (
    code       TEXT PRIMARY KEY NOT NULL,
    title      TEXT NOT NULL,
    retired_at TIMESTAMP
);
