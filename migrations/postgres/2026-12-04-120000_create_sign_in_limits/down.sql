DROP TABLE sign_in_limits;
