-- Seats never overlap, whatever their ends: a member's seats in a group, and the chairs of a
-- group, never share a day of [joined_on, left_on] (both days included; no left_on is
-- open-ended). The service checks first and answers 409; this holds the rule for every
-- writer. A trigger rather than an exclusion constraint, which would need btree_gist.
CREATE FUNCTION expert_group_members_no_overlap() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Writers of one group's seats take turns, so two concurrent writes cannot both pass.
    PERFORM 1 FROM expert_groups WHERE id = NEW.group_id FOR UPDATE;
    IF EXISTS (
        SELECT 1 FROM expert_group_members m
        WHERE m.group_id = NEW.group_id
          AND m.id <> NEW.id
          AND m.joined_on <= COALESCE(NEW.left_on, 'infinity'::date)
          AND NEW.joined_on <= COALESCE(m.left_on, 'infinity'::date)
          AND (m.organisation_id = NEW.organisation_id
               OR m.contact_id = NEW.contact_id
               OR (m.role = 'chair' AND NEW.role = 'chair'))
    ) THEN
        RAISE EXCEPTION 'expert group seats overlap' USING ERRCODE = 'exclusion_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER expert_group_members_no_overlap
    BEFORE INSERT OR UPDATE OF group_id, organisation_id, contact_id, role, joined_on, left_on
    ON expert_group_members
    FOR EACH ROW EXECUTE FUNCTION expert_group_members_no_overlap();
