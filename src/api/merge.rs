//! `POST /api/v1/organisations/{id}/merge`: duplicates folded into one organisation, the
//! rules in `domain::organisations::merge`. `dry_run=true` answers what the merge would do
//! by doing it and rolling it back.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use crate::api::body::{JsonBody, required};
use crate::api::conditional::{etag, version_check};
use crate::api::list::{FromQuery, query_params};
use crate::api::membership::MembershipView;
use crate::api::organisations::OrganisationResponse;
use crate::api::path_id;
use crate::api::schemas::{ids_to_ids, merge_fields_to_ids};
use crate::domain::audit::{self, Event, Log, entity, snapshot};
use crate::domain::changes::calendar::{self, Cause};
use crate::domain::organisations::merge::{self, Choices, Counts, MergeField, Outcome};
use crate::error::ApiError;
use crate::state::AppState;

const TAG: &str = "organisations";

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The organisations to fold into this one; they become tombstones naming it.
    #[validate(
        required(message = "is required"),
        length(min = 1, max = 20, message = "must name 1 to 20 organisations")
    )]
    #[schema(value_type = Vec<uuid::Uuid>, required = true, min_items = 1, max_items = 20)]
    pub merge: Option<Vec<uuid::Uuid>>,
    /// Fields to take from a named organisation (this one or one merged) instead of by the
    /// rule (this organisation's value, else the first merged one's that has a value).
    #[serde(default)]
    #[schema(schema_with = merge_fields_to_ids)]
    pub fields: BTreeMap<MergeField, uuid::Uuid>,
    /// Whose membership to keep, when the memberships cannot be combined.
    pub membership: Option<uuid::Uuid>,
    /// Expert group id → whose seats in it to keep, for groups where two of the
    /// organisations sit at the same time.
    #[serde(default)]
    #[schema(schema_with = ids_to_ids)]
    pub expert_groups: BTreeMap<uuid::Uuid, uuid::Uuid>,
    /// Consultation id → whose response to keep, where more than one responded.
    #[serde(default)]
    #[schema(schema_with = ids_to_ids)]
    pub consultations: BTreeMap<uuid::Uuid, uuid::Uuid>,
}

impl MergeRequest {
    fn into_parts(self) -> Result<(Vec<String>, Choices), ApiError> {
        let merged = required(self.merge, "merge")?;
        let text = |id: uuid::Uuid| id.to_string();
        let choices = Choices {
            fields: self
                .fields
                .into_iter()
                .map(|(f, id)| (f, text(id)))
                .collect(),
            membership: self.membership.map(text),
            expert_groups: self
                .expert_groups
                .into_iter()
                .map(|(group, id)| (text(group), text(id)))
                .collect(),
            consultations: self
                .consultations
                .into_iter()
                .map(|(consultation, id)| (text(consultation), text(id)))
                .collect(),
        };
        Ok((merged.into_iter().map(text).collect(), choices))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MergedOrganisation {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MergeResult {
    /// True when nothing was written: this is what the merge would do.
    pub dry_run: bool,
    /// The organisation as it is (or would be) after the merge.
    pub organisation: OrganisationResponse,
    /// The organisations folded in, now tombstones with `merged_into`.
    pub merged: Vec<MergedOrganisation>,
    /// The fields whose value came from a merged organisation, with its id.
    #[schema(value_type = BTreeMap<MergeField, uuid::Uuid>)]
    pub fields_taken: BTreeMap<MergeField, String>,
    /// Records that now belong to this organisation.
    pub moved: Counts,
    /// Records removed as duplicates of ones kept (two invitations to one consultation,
    /// a contact's second affiliation, the seats, responses and membership not chosen).
    pub removed: Counts,
}

query_params! {
    /// Whether a merge is only tried.
    pub struct MergeQuery {
        /// Answer what the merge would do, writing nothing.
        pub dry_run: Option<bool> = boolean,
    }
}

/// Merge duplicate organisations into this one
///
/// Folds the organisations in `merge` into this one in one transaction: contacts'
/// affiliations, expert group seats, consultation invitations and responses, membership
/// periods, withdrawals and history, and external ids move over, and the merged
/// organisations become tombstones whose `merged_into` names this one. Profile fields keep
/// this organisation's value, or take the first merged organisation's where this one has
/// none, unless `fields` names the organisation to take a field from. Where the records
/// clash (memberships that cannot be combined, two seats in one group at the same time, two
/// responses to one consultation) nothing is written and the 409 problem lists every clash
/// with the choice that resolves it. `dry_run=true` answers what the merge would do.
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "The organisation that stays"),
        MergeQuery,
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag of the organisation that stays"),
    ),
    request_body = MergeRequest,
    responses(
        (status = 200, description = "Merged (or, with dry_run, what would be)", body = MergeResult,
         headers(("ETag" = String, description = "The new version (not with dry_run)"))),
        (status = 404, response = crate::api::responses::NotFound),
        (status = 409, description = "Records clash: each entry of `errors` names one and the choice that resolves it; nothing was written", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/organisations/{id}/merge")]
pub async fn merge_organisations(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: JsonBody<MergeRequest>,
    context: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let dry_run = MergeQuery::parse(req.query_string())?
        .dry_run
        .unwrap_or(false);
    let survivor = path_id(&path)?;
    let check = version_check(&req);
    let (merged, choices) = body.0.into_parts()?;
    let view = MembershipView::today(state.grace);
    let outcome = if dry_run {
        state
            .db
            .run(move |conn| merge::preview(conn, &survivor, &merged, &choices, &check))
            .await?
    } else {
        state
            .db
            .write(context, move |conn, log| {
                let outcome = merge::merge(conn, &survivor, &merged, &choices, &check)?;
                record(log, &outcome, view);
                // The survivor may have taken a membership, and with it a status.
                let status = (outcome.after.membership.as_ref())
                    .and_then(|membership| membership.status_on(view.on, view.grace));
                calendar::announce(conn, log.feed(), &survivor, status, view.on, Cause::Action)?;
                Ok(outcome)
            })
            .await?
    };
    let mut response = HttpResponse::build(StatusCode::OK);
    if !dry_run {
        response.insert_header((header::ETAG, etag(outcome.after.version)));
    }
    Ok(response.json(MergeResult {
        dry_run,
        merged: outcome
            .merged
            .iter()
            .map(|o| MergedOrganisation {
                id: o.id.clone(),
                name: o.profile.name.clone(),
            })
            .collect(),
        fields_taken: outcome.taken,
        moved: outcome.moved,
        removed: outcome.removed,
        organisation: OrganisationResponse::new(outcome.after, view),
    }))
}

/// The merge's events: the survivor's changes, each tombstone, and each contact, group and
/// consultation whose records moved (so their own histories and exports show it).
fn record(log: &mut Log, outcome: &Outcome, view: MembershipView) {
    let survivor = &outcome.after.id;
    let merged_ids: Vec<&String> = outcome.merged.iter().map(|o| &o.id).collect();
    let mut event = Event::new("merge", entity::ORGANISATION, survivor)
        .changes(
            &snapshot(&OrganisationResponse::new(outcome.before.clone(), view)),
            &snapshot(&OrganisationResponse::new(outcome.after.clone(), view)),
        )
        .detail("merged", Value::Null, json!(merged_ids))
        .detail("fields_taken", Value::Null, json!(outcome.taken))
        .detail("moved", Value::Null, json!(outcome.moved))
        .detail("removed", Value::Null, json!(outcome.removed));
    // Seats, responses and periods a choice removed live on here (a response's text in an
    // event about its writer below, so that their erasure reaches it).
    event = event.detail(
        "removed_records",
        outcome.removed_records.clone(),
        Value::Null,
    );
    log.record(event);
    for organisation in &outcome.merged {
        log.record(
            Event::new("merge", entity::ORGANISATION, &organisation.id)
                .changes(
                    &snapshot(&OrganisationResponse::new(organisation.clone(), view)),
                    &Value::Null,
                )
                .detail("merged_into", Value::Null, json!(survivor)),
        );
    }
    for response in &outcome.removed_responses {
        log.record(
            Event::new(
                "merge.remove_response",
                entity::CONSULTATION,
                &response.consultation_id,
            )
            .about_contact(response.contact_id.as_deref())
            .on_record(&response.id)
            .detail(
                "response",
                json!({"id": response.id, "summary": response.summary}),
                Value::Null,
            ),
        );
    }
    for tombstone in &outcome.repointed {
        log.record(Event::new("merge", entity::ORGANISATION, tombstone).detail(
            "merged_into",
            json!(merged_ids),
            json!(survivor),
        ));
    }
    let moved = |from: &BTreeSet<String>| json!(from);
    for (contact, from) in &outcome.contacts {
        log.record(
            Event::new("merge", entity::CONTACT, contact)
                .about_contact(Some(contact))
                .detail("organisation_id", moved(from), json!(survivor)),
        );
    }
    for (group, from) in &outcome.expert_groups {
        log.record(Event::new("merge", entity::EXPERT_GROUP, group).detail(
            "organisation_id",
            moved(from),
            json!(survivor),
        ));
    }
    for (consultation, from) in &outcome.consultations {
        log.record(
            Event::new("merge", entity::CONSULTATION, consultation).detail(
                "organisation_id",
                moved(from),
                json!(survivor),
            ),
        );
    }
}

pub fn configure(config: &mut ServiceConfig) {
    config.service(merge_organisations);
}
