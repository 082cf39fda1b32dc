-- The ids other systems (the alliance's spreadsheet, a CRM it came from) give our records,
-- so an import can find what it created before. One record may carry several.
CREATE TABLE external_ids (
    entity_type TEXT COLLATE "C" NOT NULL CHECK (entity_type IN ('organisation', 'contact')),
    external_id TEXT COLLATE "C" NOT NULL,
    record_id   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (entity_type, external_id)
);
CREATE INDEX external_ids_record ON external_ids (record_id);
