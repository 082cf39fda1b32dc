-- People: mostly staff of member organisations, some individuals in their own right. Only
-- what the alliance needs to work with them is kept (UK GDPR data minimisation).
CREATE TABLE contacts (
    id           TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    given_name   TEXT NOT NULL,
    family_name  TEXT NOT NULL,
    -- lower-cased "family given": one case-insensitive sort and search on both backends
    name_key     TEXT COLLATE "C" NOT NULL,
    email        TEXT,
    -- lower-cased email: unique among contacts that are not deleted
    email_key    TEXT COLLATE "C",
    phone        TEXT,
    job_title    TEXT,
    pronouns     TEXT,
    version      BIGINT NOT NULL DEFAULT 1,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    deleted_at   TIMESTAMP
);
CREATE UNIQUE INDEX contacts_email_key_live ON contacts (email_key) WHERE deleted_at IS NULL;
CREATE INDEX contacts_name_key ON contacts (name_key, id);
CREATE INDEX contacts_updated_at ON contacts (updated_at, id);

-- Where a person works or volunteers; ending an affiliation keeps it as history.
CREATE TABLE contact_affiliations (
    id              TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    contact_id      TEXT COLLATE "C" NOT NULL REFERENCES contacts (id),
    organisation_id TEXT COLLATE "C" NOT NULL REFERENCES organisations (id),
    role            TEXT,
    is_primary      BOOLEAN NOT NULL DEFAULT FALSE,
    start_on        DATE,
    end_on          DATE,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    CHECK (end_on IS NULL OR start_on IS NULL OR end_on >= start_on)
);
CREATE INDEX contact_affiliations_contact ON contact_affiliations (contact_id);
CREATE INDEX contact_affiliations_organisation ON contact_affiliations (organisation_id);

-- Consent per purpose as a history of grants and withdrawals; the latest row is the state.
CREATE TABLE contact_consents (
    id            TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    contact_id    TEXT COLLATE "C" NOT NULL REFERENCES contacts (id),
    purpose       TEXT NOT NULL CHECK (purpose IN ('newsletter', 'policy_updates', 'events',
                      'research')),
    granted       BOOLEAN NOT NULL,
    -- true on the latest row per contact and purpose: the consent in force
    in_force      BOOLEAN NOT NULL,
    source        TEXT NOT NULL,
    recorded_at   TIMESTAMP NOT NULL,
    recorded_by   TEXT COLLATE "C" REFERENCES users (id)
);
CREATE INDEX contact_consents_contact ON contact_consents (contact_id, purpose, recorded_at);
CREATE INDEX contact_consents_in_force ON contact_consents (purpose, in_force, granted, contact_id);
