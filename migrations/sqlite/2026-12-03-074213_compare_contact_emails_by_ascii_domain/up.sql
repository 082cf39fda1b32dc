-- Emails are compared on a key: the local part lower-cased and the domain in its ASCII
-- (IDNA) form, so that ana@bücher.example and ana@xn--bcher-kva.example are one address.
-- email_key (the address as written, lower-cased) stays for search.
ALTER TABLE contacts ADD COLUMN email_match_key TEXT;
-- An address all in printable ASCII is its own key once lower-cased; the service gives the
-- others theirs at start-up (IDNA is not SQL).
UPDATE contacts SET email_match_key = email_key
    WHERE email_key IS NOT NULL AND email_key NOT GLOB '*[^ -~]*';
DROP INDEX contacts_email_key_live;
CREATE UNIQUE INDEX contacts_email_match_key_live ON contacts (email_match_key)
    WHERE deleted_at IS NULL;
