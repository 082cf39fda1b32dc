// The one portable schema for both backends: ids are TEXT, times are UTC TIMESTAMP,
// enums are TEXT guarded by CHECK constraints in the migrations, sets are join tables.

diesel::table! {
    communities (code) {
        code -> Text,
        parent_code -> Nullable<Text>,
        title -> Text,
        description -> Nullable<Text>,
        source -> Nullable<Text>,
        retired_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    expertise_areas (code) {
        code -> Text,
        title -> Text,
        retired_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    organisations (id) {
        id -> Text,
        name -> Text,
        name_key -> Text,
        kind -> Text,
        size_band -> Nullable<Text>,
        charity_number -> Nullable<Text>,
        company_number -> Nullable<Text>,
        website -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        postcode -> Nullable<Text>,
        description -> Nullable<Text>,
        geography_scope -> Nullable<Text>,
        leadership_reply_status -> Text,
        mission_reply_status -> Text,
        lived_experience_led -> Nullable<Bool>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    organisation_regions (organisation_id, region) {
        organisation_id -> Text,
        region -> Text,
    }
}

diesel::table! {
    organisation_expertise (organisation_id, expertise_code) {
        organisation_id -> Text,
        expertise_code -> Text,
    }
}

diesel::table! {
    organisation_communities (organisation_id, area, community_code) {
        organisation_id -> Text,
        area -> Text,
        community_code -> Text,
    }
}

diesel::joinable!(organisation_regions -> organisations (organisation_id));
diesel::joinable!(organisation_expertise -> organisations (organisation_id));
diesel::joinable!(organisation_expertise -> expertise_areas (expertise_code));
diesel::joinable!(organisation_communities -> organisations (organisation_id));
diesel::joinable!(organisation_communities -> communities (community_code));

diesel::allow_tables_to_appear_in_same_query!(
    communities,
    expertise_areas,
    organisations,
    organisation_regions,
    organisation_expertise,
    organisation_communities,
);
