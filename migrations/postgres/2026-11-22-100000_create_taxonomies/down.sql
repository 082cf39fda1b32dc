DROP TABLE expertise_areas;
DROP TABLE communities;
