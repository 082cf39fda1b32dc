DROP TABLE duplicate_dismissals;
