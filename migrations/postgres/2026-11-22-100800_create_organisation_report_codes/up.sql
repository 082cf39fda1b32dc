-- Every code a report counts an organisation under, one row each, so that a composition is
-- one join and one GROUP BY instead of a walk of the community hierarchy and a DISTINCT per
-- dimension for every member on every report:
--   region, expertise      the organisation's regions and expertise areas;
--   leadership, mission    its community codes and each of their ancestors, once each (an
--                          organisation coded DEI010110 and DEI010120 has DEI010100 once);
--   code '*'               "has at least one" in that facet (the denominators of answers).
-- Written with organisation_regions, _expertise and _communities by the organisation store;
-- community codes never change parent, so a row stays true until the organisation changes.
CREATE TABLE organisation_report_codes (
    organisation_id TEXT COLLATE "C" NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    facet           TEXT COLLATE "C" NOT NULL CHECK (facet IN ('region', 'expertise', 'leadership', 'mission')),
    code            TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (organisation_id, facet, code)
);

WITH RECURSIVE up (organisation_id, area, code) AS (
    SELECT organisation_id, area, community_code FROM organisation_communities
    UNION
    SELECT up.organisation_id, up.area, c.parent_code
    FROM up JOIN communities c ON c.code = up.code
    WHERE c.parent_code IS NOT NULL
)
INSERT INTO organisation_report_codes (organisation_id, facet, code)
SELECT organisation_id, area, code FROM up
UNION SELECT organisation_id, area, '*' FROM organisation_communities
UNION SELECT organisation_id, 'region', region FROM organisation_regions
UNION SELECT organisation_id, 'region', '*' FROM organisation_regions
UNION SELECT organisation_id, 'expertise', expertise_code FROM organisation_expertise
UNION SELECT organisation_id, 'expertise', '*' FROM organisation_expertise;
