DROP TABLE contact_consents;
DROP TABLE contact_affiliations;
DROP TABLE contacts;
