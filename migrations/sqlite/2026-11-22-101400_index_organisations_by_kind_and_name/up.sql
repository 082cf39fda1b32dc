-- Lists filtered by kind come in name order by default: with the name in the kind index, a
-- page walks the index in order and stops after its last row, instead of fetching and
-- sorting every organisation of that kind (SQLite: 50 ms down to 3 ms a page on 100,000).
DROP INDEX organisations_kind_idx;
CREATE INDEX organisations_kind_name_key_idx ON organisations (kind, name_key, id);
