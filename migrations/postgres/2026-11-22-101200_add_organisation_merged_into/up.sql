-- A merged organisation is a tombstone that names the organisation it was folded into, so
-- integrations following sync can move their copy's links there.
ALTER TABLE organisations ADD COLUMN merged_into TEXT COLLATE "C" REFERENCES organisations (id);
