-- Benchmark sets: the share of each community in a population (children aged 10-17, children
-- in custody…), to hold the membership against. The defaults are seeded at start (after the
-- community codes they refer to); staff manage them from then on.
CREATE TABLE benchmark_sets (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    code        TEXT COLLATE "C" NOT NULL,
    name        TEXT NOT NULL,
    name_key    TEXT COLLATE "C" NOT NULL,
    population  TEXT NOT NULL,
    source      TEXT NOT NULL,
    year        INTEGER NOT NULL CHECK (year BETWEEN 1900 AND 9999),
    -- false where the figure came from a secondary source and must be checked before quoting
    verified    BOOLEAN NOT NULL,
    version     BIGINT NOT NULL DEFAULT 1,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    deleted_at  TIMESTAMP
);
CREATE UNIQUE INDEX benchmark_sets_code_live ON benchmark_sets (code) WHERE deleted_at IS NULL;
CREATE INDEX benchmark_sets_name_key ON benchmark_sets (name_key, id);

-- A share is a percentage (0-100) of the set's population.
CREATE TABLE benchmark_shares (
    set_id          TEXT COLLATE "C" NOT NULL REFERENCES benchmark_sets (id),
    community_code  TEXT COLLATE "C" NOT NULL REFERENCES communities (code),
    share           DOUBLE PRECISION NOT NULL CHECK (share >= 0 AND share <= 100),
    PRIMARY KEY (set_id, community_code)
);

-- Targets staff set for the membership: a minimum share (percent of those who answered) or a
-- minimum count of active members with `code` in `dimension`.
CREATE TABLE targets (
    id             TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    dimension      TEXT NOT NULL CHECK (dimension IN ('leadership', 'mission', 'kind', 'size_band',
                       'region', 'expertise', 'lived_experience_led')),
    code           TEXT COLLATE "C" NOT NULL,
    minimum_share  DOUBLE PRECISION CHECK (minimum_share >= 0 AND minimum_share <= 100),
    minimum_count  INTEGER CHECK (minimum_count >= 0),
    note           TEXT,
    version        BIGINT NOT NULL DEFAULT 1,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    deleted_at     TIMESTAMP,
    CHECK ((minimum_share IS NULL) <> (minimum_count IS NULL))
);
CREATE INDEX targets_dimension ON targets (dimension, code, id);
