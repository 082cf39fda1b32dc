DROP INDEX organisations_merged_into;
ALTER TABLE organisations DROP COLUMN merged_into;
