DROP TABLE membership_actions;
DROP TABLE membership_withdrawals;
DROP TABLE membership_periods;
DROP TABLE memberships;
