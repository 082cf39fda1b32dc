//! `/organisations/{id}/consultations`: one organisation's consultation history, every
//! consultation it was invited to or responded to.

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::TAG;
use crate::api::csv::{self, defuse};
use crate::api::list::{FromQuery, PageParams, negotiate};
use crate::api::paging::{self, CsvForm, Keyset};
use crate::api::path_id;
use crate::api::schemas::timestamp;
use crate::auth::Principal;
use crate::domain::consultations::store;
use crate::domain::consultations::{
    Attribution, ConsultationKind, ConsultationStatus, HistoryEntry,
};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsultationSummary {
    #[schema(format = Uuid)]
    pub id: String,
    pub title: String,
    pub kind: ConsultationKind,
    pub status: ConsultationStatus,
    pub opens_on: Option<NaiveDate>,
    pub closes_on: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntryResponse {
    pub consultation: ConsultationSummary,
    /// When it was invited; null when it responded without an invitation.
    #[schema(format = DateTime)]
    pub invited_at: Option<String>,
    #[schema(format = Uuid)]
    pub via_group_id: Option<String>,
    /// Whether it responded. Viewers and API keys get `true` for a named response and null
    /// otherwise; consultations it answered only anonymously are left out for them.
    pub responded: Option<bool>,
    pub attended: Option<bool>,
    #[schema(format = DateTime)]
    pub submitted_at: Option<String>,
}

impl HistoryEntryResponse {
    fn new(entry: HistoryEntry, sees_anonymous: bool) -> Self {
        // As for invitations: without sight of anonymous responses, only named ones show.
        let (responded, attended, submitted_at) = match entry.response {
            Some((Attribution::Named, attended, at)) => (Some(true), attended, Some(timestamp(at))),
            _ if !sees_anonymous => (None, None, None),
            Some((_, attended, at)) => (Some(true), attended, Some(timestamp(at))),
            None => (Some(false), None, None),
        };
        Self {
            consultation: ConsultationSummary {
                id: entry.consultation_id,
                title: entry.title,
                kind: entry.kind,
                status: entry.status,
                opens_on: entry.opens_on,
                closes_on: entry.closes_on,
            },
            invited_at: entry.invited_at.map(timestamp),
            via_group_id: entry.via_group_id,
            responded,
            attended,
            submitted_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryList {
    pub data: Vec<HistoryEntryResponse>,
    pub next_cursor: Option<String>,
}

const HISTORY_CSV_HEADER: &[&str] = &[
    "consultation_id",
    "title",
    "kind",
    "status",
    "opens_on",
    "closes_on",
    "invited_at",
    "via_group_id",
    "responded",
    "attended",
    "submitted_at",
];

/// An organisation's consultation history
///
/// Every consultation it was invited to or responded to, whether it responded and attended.
/// `Accept: text/csv` streams it as CSV.
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Organisation id"), PageParams),
    responses(
        (status = 200, description = "A page of its consultations", body = HistoryList,
         content((HistoryList = "application/json"), (String = "text/csv"))),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/organisations/{id}/consultations")]
pub async fn organisation_consultations(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, true)?;
    let id = path_id(&path)?;
    let page = PageParams::parse(req.query_string())?;
    let keyset = Keyset::by_id(page.cursor, page.limit)?;
    let sees = principal.sees_anonymous_responses();
    let listing =
        paging::by_id(move |conn, after, limit| store::history(conn, &id, sees, after, limit));
    let csv = CsvForm {
        filename: "consultations.csv",
        header: HISTORY_CSV_HEADER,
        record: move |entry| history_csv_record(HistoryEntryResponse::new(entry, sees)),
    };
    paging::answer(&state.db, &req, format, keyset, listing, csv, |page| {
        HistoryList {
            data: page
                .rows
                .into_iter()
                .map(|entry| HistoryEntryResponse::new(entry, sees))
                .collect(),
            next_cursor: page.next_cursor,
        }
    })
    .await
}

fn history_csv_record(e: HistoryEntryResponse) -> Vec<String> {
    vec![
        e.consultation.id,
        defuse(&e.consultation.title),
        e.consultation.kind.to_string(),
        e.consultation.status.to_string(),
        csv::date(e.consultation.opens_on),
        csv::date(e.consultation.closes_on),
        e.invited_at.unwrap_or_default(),
        e.via_group_id.unwrap_or_default(),
        csv::flag(e.responded),
        csv::flag(e.attended),
        e.submitted_at.unwrap_or_default(),
    ]
}
