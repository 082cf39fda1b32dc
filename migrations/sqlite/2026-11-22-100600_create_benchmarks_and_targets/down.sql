DROP TABLE targets;
DROP TABLE benchmark_shares;
DROP TABLE benchmark_sets;
