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
        merged_into -> Nullable<Text>,
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
    users,
    sessions,
    refresh_tokens,
    api_keys,
    api_key_scopes,
    memberships,
    membership_periods,
    membership_withdrawals,
    membership_withdrawal_periods,
    membership_actions,
    contacts,
    contact_affiliations,
    contact_consents,
    expert_groups,
    expert_group_expertise,
    expert_group_members,
    consultations,
    consultation_expertise,
    consultation_invitations,
    consultation_responses,
    benchmark_sets,
    benchmark_shares,
    targets,
);

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        name -> Text,
        role -> Text,
        password_hash -> Text,
        active -> Bool,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_login_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> Text,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        spent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        name -> Text,
        prefix -> Text,
        secret_hash -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_key_scopes (api_key_id, scope) {
        api_key_id -> Text,
        scope -> Text,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(api_keys -> users (created_by));
diesel::joinable!(api_key_scopes -> api_keys (api_key_id));

diesel::table! {
    memberships (organisation_id) {
        organisation_id -> Text,
        tier -> Text,
        applied_on -> Date,
        joined_on -> Nullable<Date>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    membership_periods (id) {
        id -> Text,
        organisation_id -> Text,
        start_on -> Date,
        end_on -> Date,
        created_at -> Timestamp,
    }
}

diesel::table! {
    membership_withdrawals (id) {
        id -> Text,
        organisation_id -> Text,
        withdrawn_on -> Date,
        reinstated_on -> Nullable<Date>,
        reason -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    membership_withdrawal_periods (withdrawal_id, period_id) {
        withdrawal_id -> Text,
        period_id -> Text,
        start_on -> Date,
        end_on -> Date,
        created_at -> Timestamp,
    }
}

diesel::table! {
    membership_actions (id) {
        id -> Text,
        organisation_id -> Text,
        action -> Text,
        effective_on -> Date,
        tier -> Text,
        period_start_on -> Nullable<Date>,
        period_end_on -> Nullable<Date>,
        reason -> Nullable<Text>,
        actor_user_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(memberships -> organisations (organisation_id));
diesel::joinable!(membership_periods -> memberships (organisation_id));
diesel::joinable!(membership_withdrawals -> memberships (organisation_id));
diesel::joinable!(membership_actions -> memberships (organisation_id));
diesel::joinable!(membership_withdrawal_periods -> membership_withdrawals (withdrawal_id));

diesel::table! {
    contacts (id) {
        id -> Text,
        given_name -> Text,
        family_name -> Text,
        name_key -> Text,
        email -> Nullable<Text>,
        email_key -> Nullable<Text>,
        phone -> Nullable<Text>,
        job_title -> Nullable<Text>,
        pronouns -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
        erased_at -> Nullable<Timestamp>,
        email_match_key -> Nullable<Text>,
    }
}

diesel::table! {
    contact_affiliations (id) {
        id -> Text,
        contact_id -> Text,
        organisation_id -> Text,
        role -> Nullable<Text>,
        is_primary -> Bool,
        start_on -> Nullable<Date>,
        end_on -> Nullable<Date>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    contact_consents (id) {
        id -> Text,
        contact_id -> Text,
        purpose -> Text,
        granted -> Bool,
        in_force -> Bool,
        source -> Text,
        recorded_at -> Timestamp,
        recorded_by -> Nullable<Text>,
    }
}

diesel::joinable!(contact_affiliations -> contacts (contact_id));
diesel::joinable!(contact_affiliations -> organisations (organisation_id));
diesel::joinable!(contact_consents -> contacts (contact_id));

diesel::table! {
    expert_groups (id) {
        id -> Text,
        name -> Text,
        name_key -> Text,
        kind -> Text,
        purpose -> Nullable<Text>,
        status -> Text,
        started_on -> Nullable<Date>,
        ended_on -> Nullable<Date>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    expert_group_expertise (group_id, expertise_code) {
        group_id -> Text,
        expertise_code -> Text,
    }
}

diesel::table! {
    expert_group_members (id) {
        id -> Text,
        group_id -> Text,
        organisation_id -> Nullable<Text>,
        contact_id -> Nullable<Text>,
        role -> Text,
        joined_on -> Date,
        left_on -> Nullable<Date>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    consultations (id) {
        id -> Text,
        title -> Text,
        title_key -> Text,
        kind -> Text,
        summary -> Nullable<Text>,
        lead_group_id -> Nullable<Text>,
        opens_on -> Nullable<Date>,
        closes_on -> Nullable<Date>,
        status -> Text,
        external_url -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    consultation_expertise (consultation_id, expertise_code) {
        consultation_id -> Text,
        expertise_code -> Text,
    }
}

diesel::table! {
    consultation_invitations (id) {
        id -> Text,
        consultation_id -> Text,
        organisation_id -> Nullable<Text>,
        contact_id -> Nullable<Text>,
        via_group_id -> Nullable<Text>,
        invited_at -> Timestamp,
    }
}

diesel::table! {
    consultation_responses (id) {
        id -> Text,
        consultation_id -> Text,
        organisation_id -> Nullable<Text>,
        contact_id -> Nullable<Text>,
        respondent_key -> Text,
        summary -> Nullable<Text>,
        attribution -> Text,
        attended -> Nullable<Bool>,
        submitted_at -> Timestamp,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(expert_group_expertise -> expert_groups (group_id));
diesel::joinable!(expert_group_members -> expert_groups (group_id));
diesel::joinable!(expert_group_members -> organisations (organisation_id));
diesel::joinable!(expert_group_members -> contacts (contact_id));
diesel::joinable!(consultations -> expert_groups (lead_group_id));
diesel::joinable!(consultation_expertise -> consultations (consultation_id));
diesel::joinable!(consultation_invitations -> consultations (consultation_id));
diesel::joinable!(consultation_invitations -> organisations (organisation_id));
diesel::joinable!(consultation_responses -> consultations (consultation_id));
diesel::joinable!(consultation_responses -> organisations (organisation_id));

diesel::table! {
    benchmark_sets (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        name_key -> Text,
        population -> Text,
        source -> Text,
        year -> Integer,
        verified -> Bool,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    benchmark_shares (set_id, community_code) {
        set_id -> Text,
        community_code -> Text,
        share -> Double,
    }
}

diesel::table! {
    targets (id) {
        id -> Text,
        dimension -> Text,
        code -> Text,
        minimum_share -> Nullable<Double>,
        minimum_count -> Nullable<Integer>,
        note -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(benchmark_shares -> benchmark_sets (set_id));

diesel::table! {
    report_snapshots (id) {
        id -> Text,
        name -> Text,
        report -> Text,
        query -> Text,
        audience -> Text,
        includes_anonymous_responses -> Bool,
        body -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(report_snapshots -> users (created_by));
diesel::allow_tables_to_appear_in_same_query!(report_snapshots, users);

diesel::table! {
    organisation_report_codes (organisation_id, facet, code) {
        organisation_id -> Text,
        facet -> Text,
        code -> Text,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        occurred_at -> Timestamp,
        actor_type -> Text,
        actor_id -> Nullable<Text>,
        action -> Text,
        entity_type -> Text,
        entity_id -> Nullable<Text>,
        contact_id -> Nullable<Text>,
        changes -> Text,
        request_id -> Nullable<Text>,
    }
}

diesel::table! {
    external_ids (entity_type, external_id) {
        entity_type -> Text,
        external_id -> Text,
        record_id -> Text,
    }
}

diesel::table! {
    duplicate_dismissals (organisation_a, organisation_b) {
        organisation_a -> Text,
        organisation_b -> Text,
        dismissed_by -> Nullable<Text>,
        dismissed_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (actor, key) {
        actor -> Text,
        key -> Text,
        fingerprint -> Text,
        status -> Nullable<Integer>,
        content_type -> Nullable<Text>,
        location -> Nullable<Text>,
        etag -> Nullable<Text>,
        body -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    change_feed (id) {
        id -> Integer,
        last_commit -> BigInt,
        pruned_through -> BigInt,
    }
}

diesel::table! {
    calendar_sweep (id) {
        id -> Integer,
        swept_through -> Nullable<Date>,
    }
}

diesel::table! {
    change_batches (batch) {
        batch -> Text,
        commit_number -> BigInt,
        committed_at -> Timestamp,
    }
}

diesel::table! {
    change_events (seq) {
        seq -> BigInt,
        batch -> Text,
        id -> Text,
        event_type -> Text,
        occurred_at -> Timestamp,
        entity_type -> Text,
        entity_id -> Text,
        parent_id -> Nullable<Text>,
        detail -> Text,
    }
}

diesel::joinable!(change_events -> change_batches (batch));

diesel::table! {
    membership_status_announced (organisation_id) {
        organisation_id -> Text,
        status -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(membership_status_announced, organisations);

diesel::table! {
    webhook_subscriptions (id) {
        id -> Text,
        url -> Text,
        description -> Nullable<Text>,
        event_types -> Text,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamp>,
        status -> Text,
        failing_since -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        subscription_id -> Text,
        change_id -> Nullable<Text>,
        event_type -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Nullable<Timestamp>,
        leased_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_attempts (delivery_id, attempt) {
        delivery_id -> Text,
        attempt -> Integer,
        attempted_at -> Timestamp,
        status_code -> Nullable<Integer>,
        duration_ms -> Integer,
        error -> Nullable<Text>,
    }
}

diesel::joinable!(webhook_deliveries -> webhook_subscriptions (subscription_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::allow_tables_to_appear_in_same_query!(
    webhook_subscriptions,
    webhook_deliveries,
    webhook_attempts,
    change_events,
    change_batches,
);

diesel::table! {
    sign_in_limits (key) {
        key -> Text,
        refilled_at -> Timestamp,
    }
}
