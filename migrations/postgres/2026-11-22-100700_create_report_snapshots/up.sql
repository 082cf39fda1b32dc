-- A report saved as it was computed, for annual reports and comparisons: the body is the
-- report's JSON representation, never recomputed.
CREATE TABLE report_snapshots (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    report      TEXT COLLATE "C" NOT NULL CHECK (report IN ('composition', 'composition_trend', 'gaps',
                    'expertise_coverage', 'participation')),
    -- the report's query string as given (normalised), so the snapshot can be re-run
    query       TEXT NOT NULL,
    audience    TEXT NOT NULL CHECK (audience IN ('internal', 'public')),
    -- a participation snapshot that counted anonymous responses is only shown to those who
    -- may know of them
    includes_anonymous_responses BOOLEAN NOT NULL,
    body        TEXT NOT NULL,
    created_by  TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX report_snapshots_report ON report_snapshots (report, id);
