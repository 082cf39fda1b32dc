-- A merged organisation is a tombstone that names the organisation it was folded into, so
-- integrations following sync can move their copy's links there.
ALTER TABLE organisations ADD COLUMN merged_into TEXT REFERENCES organisations (id);

-- Following a chain of merges finds the tombstones that name an organisation.
CREATE INDEX organisations_merged_into ON organisations (merged_into) WHERE merged_into IS NOT NULL;
