ALTER TABLE contacts DROP COLUMN erased_at;
DROP TABLE audit_events;
