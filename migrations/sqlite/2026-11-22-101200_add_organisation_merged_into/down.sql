ALTER TABLE organisations DROP COLUMN merged_into;
