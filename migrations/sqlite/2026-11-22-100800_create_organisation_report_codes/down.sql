DROP TABLE organisation_report_codes;
