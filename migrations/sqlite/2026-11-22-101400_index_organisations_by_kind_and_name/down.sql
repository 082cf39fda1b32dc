DROP INDEX organisations_kind_name_key_idx;
CREATE INDEX organisations_kind_idx ON organisations (kind);
