-- Every change, written in the same transaction as the change itself. No foreign keys: the
-- record outlives the users, keys and records it names. `changes` is a JSON object of
-- field -> {"before": …, "after": …}, never holding secrets or password hashes.
CREATE TABLE audit_events (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    actor_type  TEXT NOT NULL CHECK (actor_type IN ('user', 'api_key', 'anonymous', 'system')),
    actor_id    TEXT COLLATE "C",
    action      TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id   TEXT COLLATE "C",
    -- the person (contact) the event is about, for subject access and erasure
    contact_id  TEXT COLLATE "C",
    changes     TEXT NOT NULL,
    request_id  TEXT
);
CREATE INDEX audit_events_entity ON audit_events (entity_type, entity_id, id);
CREATE INDEX audit_events_actor ON audit_events (actor_id, id);
CREATE INDEX audit_events_contact ON audit_events (contact_id, id);
CREATE INDEX audit_events_occurred ON audit_events (occurred_at, id);

-- When a contact was erased (anonymised for good); erased contacts are tombstones.
ALTER TABLE contacts ADD COLUMN erased_at TIMESTAMP;
