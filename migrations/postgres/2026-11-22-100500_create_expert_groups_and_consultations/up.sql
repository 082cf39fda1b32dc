-- Issue-specific groups the alliance convenes, and their members (organisations or people).
CREATE TABLE expert_groups (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    -- lower-cased name: one case-insensitive sort and search on both backends
    name_key    TEXT COLLATE "C" NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('expert_group', 'advisory_group', 'sub_committee',
                    'participation_group', 'working_group')),
    purpose     TEXT,
    status      TEXT NOT NULL CHECK (status IN ('forming', 'active', 'closed')),
    started_on  DATE,
    ended_on    DATE,
    version     BIGINT NOT NULL DEFAULT 1,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    deleted_at  TIMESTAMP,
    CHECK (ended_on IS NULL OR started_on IS NULL OR ended_on >= started_on)
);
CREATE INDEX expert_groups_name_key ON expert_groups (name_key, id);
CREATE INDEX expert_groups_updated_at ON expert_groups (updated_at, id);
CREATE INDEX expert_groups_created_at ON expert_groups (created_at, id);

CREATE TABLE expert_group_expertise (
    group_id        TEXT COLLATE "C" NOT NULL REFERENCES expert_groups (id),
    expertise_code  TEXT COLLATE "C" NOT NULL REFERENCES expertise_areas (code),
    PRIMARY KEY (group_id, expertise_code)
);
CREATE INDEX expert_group_expertise_code ON expert_group_expertise (expertise_code, group_id);

-- Leaving sets left_on: the row stays as history.
CREATE TABLE expert_group_members (
    id               TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    group_id         TEXT COLLATE "C" NOT NULL REFERENCES expert_groups (id),
    organisation_id  TEXT COLLATE "C" REFERENCES organisations (id),
    contact_id       TEXT COLLATE "C" REFERENCES contacts (id),
    role             TEXT NOT NULL CHECK (role IN ('chair', 'co_chair', 'member', 'observer',
                         'secretariat')),
    joined_on        DATE NOT NULL,
    left_on          DATE,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    CHECK ((organisation_id IS NULL) <> (contact_id IS NULL)),
    CHECK (left_on IS NULL OR left_on >= joined_on)
);
CREATE INDEX expert_group_members_group ON expert_group_members (group_id, id);
CREATE INDEX expert_group_members_organisation ON expert_group_members (organisation_id);
CREATE INDEX expert_group_members_contact ON expert_group_members (contact_id);
-- One open-ended membership per member and group, and one open-ended chair per group.
CREATE UNIQUE INDEX expert_group_members_open_organisation
    ON expert_group_members (group_id, organisation_id) WHERE left_on IS NULL AND organisation_id IS NOT NULL;
CREATE UNIQUE INDEX expert_group_members_open_contact
    ON expert_group_members (group_id, contact_id) WHERE left_on IS NULL AND contact_id IS NOT NULL;
CREATE UNIQUE INDEX expert_group_members_open_chair
    ON expert_group_members (group_id) WHERE left_on IS NULL AND role = 'chair';

-- How the alliance gathers evidence: consultations, calls for evidence, events, surveys.
CREATE TABLE consultations (
    id             TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    title          TEXT NOT NULL,
    title_key      TEXT COLLATE "C" NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('member_consultation', 'call_for_evidence',
                       'roundtable', 'event', 'survey', 'government_response')),
    summary        TEXT,
    lead_group_id  TEXT COLLATE "C" REFERENCES expert_groups (id),
    opens_on       DATE,
    closes_on      DATE,
    status         TEXT NOT NULL CHECK (status IN ('draft', 'open', 'closed', 'published')),
    external_url   TEXT,
    version        BIGINT NOT NULL DEFAULT 1,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    deleted_at     TIMESTAMP,
    CHECK (closes_on IS NULL OR opens_on IS NULL OR closes_on >= opens_on)
);
CREATE INDEX consultations_title_key ON consultations (title_key, id);
CREATE INDEX consultations_updated_at ON consultations (updated_at, id);
CREATE INDEX consultations_created_at ON consultations (created_at, id);
CREATE INDEX consultations_lead_group ON consultations (lead_group_id);

CREATE TABLE consultation_expertise (
    consultation_id  TEXT COLLATE "C" NOT NULL REFERENCES consultations (id),
    expertise_code   TEXT COLLATE "C" NOT NULL REFERENCES expertise_areas (code),
    PRIMARY KEY (consultation_id, expertise_code)
);
CREATE INDEX consultation_expertise_code ON consultation_expertise (expertise_code, consultation_id);

-- Who was asked. A group invitation adds one row per member of the group at that moment,
-- each naming the group it came through.
CREATE TABLE consultation_invitations (
    id               TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    consultation_id  TEXT COLLATE "C" NOT NULL REFERENCES consultations (id),
    organisation_id  TEXT COLLATE "C" REFERENCES organisations (id),
    contact_id       TEXT COLLATE "C" REFERENCES contacts (id),
    via_group_id     TEXT COLLATE "C" REFERENCES expert_groups (id),
    invited_at       TIMESTAMP NOT NULL,
    CHECK ((organisation_id IS NULL) <> (contact_id IS NULL))
);
CREATE INDEX consultation_invitations_consultation ON consultation_invitations (consultation_id, id);
CREATE INDEX consultation_invitations_organisation ON consultation_invitations (organisation_id);
CREATE UNIQUE INDEX consultation_invitations_one_per_organisation
    ON consultation_invitations (consultation_id, organisation_id) WHERE organisation_id IS NOT NULL;
CREATE UNIQUE INDEX consultation_invitations_one_per_contact
    ON consultation_invitations (consultation_id, contact_id) WHERE contact_id IS NOT NULL;

-- One response per respondent: the organisation when given (the contact then wrote it),
-- otherwise the contact. respondent_key holds 'organisation:<id>' or 'contact:<id>'.
CREATE TABLE consultation_responses (
    id               TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    consultation_id  TEXT COLLATE "C" NOT NULL REFERENCES consultations (id),
    organisation_id  TEXT COLLATE "C" REFERENCES organisations (id),
    contact_id       TEXT COLLATE "C" REFERENCES contacts (id),
    respondent_key   TEXT COLLATE "C" NOT NULL,
    summary          TEXT,
    attribution      TEXT NOT NULL CHECK (attribution IN ('named', 'anonymous')),
    attended         BOOLEAN,
    submitted_at     TIMESTAMP NOT NULL,
    version          BIGINT NOT NULL DEFAULT 1,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    CHECK (organisation_id IS NOT NULL OR contact_id IS NOT NULL),
    UNIQUE (consultation_id, respondent_key)
);
CREATE INDEX consultation_responses_consultation ON consultation_responses (consultation_id, id);
CREATE INDEX consultation_responses_organisation ON consultation_responses (organisation_id);
CREATE INDEX consultation_responses_contact ON consultation_responses (contact_id);
