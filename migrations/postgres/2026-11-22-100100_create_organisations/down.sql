DROP TABLE organisation_communities;
DROP TABLE organisation_expertise;
DROP TABLE organisation_regions;
DROP TABLE organisations;
