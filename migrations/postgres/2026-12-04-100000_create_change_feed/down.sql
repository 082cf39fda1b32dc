DROP TABLE membership_status_announced;
DROP TABLE change_events;
DROP TABLE change_batches;
DROP TABLE change_feed;
DROP TABLE calendar_sweep;
