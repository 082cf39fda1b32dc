//! `/api/v1/organisations/duplicates`: likely duplicate pairs with their reasons and a score,
//! and "not a duplicate" for a pair that should stop appearing.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use crate::api::body::{JsonBody, required};
use crate::api::list::{Cursor, FromQuery, query_params};
use crate::api::paging::{self, Keyset, Listing};
use crate::auth::Principal;
use crate::domain::audit::{self, Event, entity};
use crate::domain::organisations::duplicates::{self, Pair, Reason};
use crate::error::ApiError;
use crate::state::AppState;

const TAG: &str = "organisations";
/// The sort the cursors of this list carry.
const SORT: &str = "score";

#[derive(Debug, Serialize, ToSchema)]
pub struct PairMember {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicatePair {
    /// The two organisations, the smaller id first.
    pub organisations: [PairMember; 2],
    /// What they share: `charity_number` (its main number), `company_number`,
    /// `website_domain`, `name` (ignoring case, punctuation, "the" and legal suffixes).
    pub reasons: Vec<Reason>,
    /// 0 to 1: one shared number is 0.9, a domain 0.7, a name 0.6; reasons together more.
    #[schema(example = 0.96)]
    pub score: f64,
}

impl From<Pair> for DuplicatePair {
    fn from(pair: Pair) -> Self {
        let member = |(id, name)| PairMember { id, name };
        Self {
            organisations: [member(pair.first), member(pair.second)],
            reasons: pair.reasons,
            score: pair.score,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateList {
    pub data: Vec<DuplicatePair>,
    pub next_cursor: Option<String>,
}

query_params! {
    pub struct DuplicateParams {
        /// Only pairs with this reason among theirs; repeat for any of several.
        #[param(value_type = Option<Vec<Reason>>)]
        pub reason: Vec<Reason> = many,
        #[param(value_type = Option<u32>, minimum = 1, maximum = 500, default = 50)]
        pub limit: usize = limit,
        #[param(value_type = Option<String>, pattern = "CURSOR")]
        pub cursor: Option<Cursor> = cursor,
    }
}

/// A pair's place in the list's order, for cursors: the score (as a sortable number), then
/// the two ids.
fn position(pair: &Pair) -> (String, String) {
    (
        format!("{:04}", (pair.score * 1000.0).round() as i64),
        format!("{}:{}", pair.first.0, pair.second.0),
    )
}

/// List likely duplicate organisations
///
/// Pairs of live organisations that may be one, highest score first, without the pairs
/// marked as not duplicates.
#[utoipa::path(
    tag = TAG,
    params(DuplicateParams),
    responses(
        (status = 200, description = "A page of pairs", body = DuplicateList),
    )
)]
#[get("/organisations/duplicates")]
pub async fn list_duplicates(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params = DuplicateParams::parse(req.query_string())?;
    let keyset = Keyset::sorted(SORT, params.cursor, params.limit)?;
    let listing = Listing::new(params.reason, |conn, reasons, after, limit| {
        let pairs = duplicates::pairs(conn)?;
        // Higher scores first, then ids: a pair comes after the cursor's when it sorts later.
        let remaining = pairs
            .into_iter()
            .filter(|pair| reasons.is_empty() || pair.reasons.iter().any(|r| reasons.contains(r)))
            .filter(|pair| match after {
                None => true,
                Some((score, ids)) => {
                    let (own_score, own_ids) = position(pair);
                    own_score < *score || (own_score == *score && own_ids > *ids)
                }
            })
            .collect();
        crate::domain::keyset_page(remaining, limit, position, Ok)
    });
    paging::page(&state.db, &req, keyset, listing, |page| DuplicateList {
        data: page.rows.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    })
    .await
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DismissRequest {
    /// The two organisations that are not one.
    #[validate(
        required(message = "is required"),
        length(equal = 2, message = "must name exactly two organisations")
    )]
    #[schema(value_type = Vec<uuid::Uuid>, required = true, min_items = 2, max_items = 2)]
    pub organisation_ids: Option<Vec<uuid::Uuid>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Dismissal {
    /// The pair, the smaller id first.
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub organisation_ids: [String; 2],
}

/// Mark a pair as not duplicates
///
/// The pair stops appearing in the duplicates list. Marking it again is harmless.
#[utoipa::path(
    tag = TAG,
    request_body = DismissRequest,
    responses(
        (status = 201, description = "Marked", body = Dismissal),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[post("/organisations/duplicates/dismissals")]
pub async fn dismiss_duplicate(
    state: web::Data<AppState>,
    principal: Principal,
    context: audit::Context,
    body: JsonBody<DismissRequest>,
) -> Result<HttpResponse, ApiError> {
    let ids = required(body.0.organisation_ids, "organisation_ids")?;
    let [a, b] = [ids[0].to_string(), ids[1].to_string()];
    let by = principal.user_id()?.to_owned();
    let (a, b) = state
        .db
        .write(context, move |conn, log| {
            let (a, b) = duplicates::dismiss(conn, &a, &b, Some(&by))?;
            for (own, other) in [(&a, &b), (&b, &a)] {
                log.record(
                    Event::new("duplicate.dismiss", entity::ORGANISATION, own).detail(
                        "not_a_duplicate_of",
                        serde_json::Value::Null,
                        serde_json::Value::String(other.clone()),
                    ),
                );
            }
            Ok((a, b))
        })
        .await?;
    Ok(HttpResponse::Created().json(Dismissal {
        organisation_ids: [a, b],
    }))
}

pub fn configure(config: &mut ServiceConfig) {
    config.service(list_duplicates).service(dismiss_duplicate);
}
