DROP INDEX contacts_email_match_key_live;
CREATE UNIQUE INDEX contacts_email_key_live ON contacts (email_key) WHERE deleted_at IS NULL;
ALTER TABLE contacts DROP COLUMN email_match_key;
