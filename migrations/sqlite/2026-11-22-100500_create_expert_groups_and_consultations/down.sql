DROP TABLE consultation_responses;
DROP TABLE consultation_invitations;
DROP TABLE consultation_expertise;
DROP TABLE consultations;
DROP TABLE expert_group_members;
DROP TABLE expert_group_expertise;
DROP TABLE expert_groups;
