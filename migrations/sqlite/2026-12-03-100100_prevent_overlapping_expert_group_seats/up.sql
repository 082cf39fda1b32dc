-- Seats never overlap, whatever their ends: a member's seats in a group, and the chairs of a
-- group, never share a day of [joined_on, left_on] (both days included; no left_on is
-- open-ended). The service checks first and answers 409; this holds the rule for every
-- writer (SQLite writes one transaction at a time, so two cannot both pass).
CREATE TRIGGER expert_group_members_no_overlap_insert
    BEFORE INSERT ON expert_group_members
    WHEN EXISTS (
        SELECT 1 FROM expert_group_members m
        WHERE m.group_id = NEW.group_id
          AND m.id <> NEW.id
          AND m.joined_on <= COALESCE(NEW.left_on, '9999-12-31')
          AND NEW.joined_on <= COALESCE(m.left_on, '9999-12-31')
          AND (m.organisation_id = NEW.organisation_id
               OR m.contact_id = NEW.contact_id
               OR (m.role = 'chair' AND NEW.role = 'chair'))
    )
BEGIN
    SELECT RAISE(ABORT, 'expert group seats overlap');
END;

CREATE TRIGGER expert_group_members_no_overlap_update
    BEFORE UPDATE OF group_id, organisation_id, contact_id, role, joined_on, left_on
    ON expert_group_members
    WHEN EXISTS (
        SELECT 1 FROM expert_group_members m
        WHERE m.group_id = NEW.group_id
          AND m.id <> NEW.id
          AND m.joined_on <= COALESCE(NEW.left_on, '9999-12-31')
          AND NEW.joined_on <= COALESCE(m.left_on, '9999-12-31')
          AND (m.organisation_id = NEW.organisation_id
               OR m.contact_id = NEW.contact_id
               OR (m.role = 'chair' AND NEW.role = 'chair'))
    )
BEGIN
    SELECT RAISE(ABORT, 'expert group seats overlap');
END;
