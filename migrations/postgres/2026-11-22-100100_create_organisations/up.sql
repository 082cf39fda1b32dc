-- Organisations (members, prospects and former members) and their multi-valued profile
-- fields as join tables, so every filter is an indexed lookup on both backends.
CREATE TABLE organisations (
    id                      TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    name                    TEXT NOT NULL,
    -- lower-cased name: one case-insensitive search and sort on SQLite and PostgreSQL
    -- (byte order, "C", so both backends sort and paginate the same way)
    name_key                TEXT COLLATE "C" NOT NULL,
    kind                    TEXT NOT NULL CHECK (kind IN ('national_charity', 'local_charity',
                                'grassroots_group', 'academic', 'statutory_body',
                                'professional_body', 'social_enterprise', 'other')),
    size_band               TEXT CHECK (size_band IN ('micro', 'small', 'medium', 'large',
                                'major', 'super_major')),
    charity_number          TEXT,
    company_number          TEXT,
    website                 TEXT,
    email                   TEXT,
    phone                   TEXT,
    postcode                TEXT,
    description             TEXT,
    geography_scope         TEXT CHECK (geography_scope IN ('local', 'regional', 'national')),
    leadership_reply_status TEXT NOT NULL DEFAULT 'not_asked'
                                CHECK (leadership_reply_status IN ('not_asked', 'answered', 'prefer_not_to_say')),
    mission_reply_status    TEXT NOT NULL DEFAULT 'not_asked'
                                CHECK (mission_reply_status IN ('not_asked', 'answered', 'prefer_not_to_say')),
    lived_experience_led    BOOLEAN,
    version                 BIGINT NOT NULL DEFAULT 1,
    created_at              TIMESTAMP NOT NULL,
    updated_at              TIMESTAMP NOT NULL,
    deleted_at              TIMESTAMP
);
-- Registration numbers identify one live organisation; a deleted record frees its number.
CREATE UNIQUE INDEX organisations_charity_number_key ON organisations (charity_number)
    WHERE deleted_at IS NULL AND charity_number IS NOT NULL;
CREATE UNIQUE INDEX organisations_company_number_key ON organisations (company_number)
    WHERE deleted_at IS NULL AND company_number IS NOT NULL;
-- Keyset pagination: one index per sort order, each ending in id as the tie-breaker.
CREATE INDEX organisations_name_key_idx ON organisations (name_key, id);
CREATE INDEX organisations_created_at_idx ON organisations (created_at, id);
CREATE INDEX organisations_updated_at_idx ON organisations (updated_at, id);
CREATE INDEX organisations_kind_idx ON organisations (kind);
CREATE INDEX organisations_size_band_idx ON organisations (size_band);
CREATE INDEX organisations_geography_scope_idx ON organisations (geography_scope);
CREATE INDEX organisations_lived_experience_led_idx ON organisations (lived_experience_led);

CREATE TABLE organisation_regions (
    organisation_id TEXT COLLATE "C" NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    region          TEXT NOT NULL CHECK (region IN ('north_east', 'north_west',
                        'yorkshire_humber', 'east_midlands', 'west_midlands', 'east', 'london',
                        'south_east', 'south_west', 'wales')),
    PRIMARY KEY (organisation_id, region)
);
CREATE INDEX organisation_regions_region_idx ON organisation_regions (region, organisation_id);

CREATE TABLE organisation_expertise (
    organisation_id TEXT COLLATE "C" NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    expertise_code  TEXT NOT NULL REFERENCES expertise_areas (code),
    PRIMARY KEY (organisation_id, expertise_code)
);
CREATE INDEX organisation_expertise_code_idx ON organisation_expertise (expertise_code, organisation_id);

-- area 'leadership' = "led by", 'mission' = "for" (DEI Data Standard application areas).
CREATE TABLE organisation_communities (
    organisation_id TEXT COLLATE "C" NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    area            TEXT NOT NULL CHECK (area IN ('leadership', 'mission')),
    community_code  TEXT NOT NULL REFERENCES communities (code),
    PRIMARY KEY (organisation_id, area, community_code)
);
CREATE INDEX organisation_communities_code_idx
    ON organisation_communities (area, community_code, organisation_id);
