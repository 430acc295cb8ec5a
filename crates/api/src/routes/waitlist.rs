//! `/v1/waitlist`: a seeker waits for a slot that suits them.
use crate::auth::SeekerSession;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{path_id, Json};
use actix_web::{web, HttpResponse};
use anxin_core::flows;
use anxin_core::state::AppState;
use anxin_domain::waitlist::{WaitlistInput, WaitlistStatus};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

#[derive(Serialize, utoipa::ToSchema)]
pub struct WaitlistJoined {
    pub waitlist_id: Uuid,
    /// Place in line (1 = next).
    pub position: i64,
}

/// A hold on a slot that suits the seeker, theirs until `expires_at`: pay
/// (`POST /v1/holds/{hold_id}/payment`) and book (`POST /v1/bookings`) as
/// with any hold.
#[derive(Serialize, utoipa::ToSchema)]
pub struct WaitlistOffer {
    pub hold_id: Uuid,
    /// The expert's public name.
    pub display_name: String,
    pub slot_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WaitlistView {
    pub waitlist_id: Uuid,
    pub status: WaitlistStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer: Option<WaitlistOffer>,
}

#[utoipa::path(post, path = "/v1/waitlist", tag = "seekers", request_body = WaitlistInput,
    description = "Waits for a slot that suits the seeker (a language, a topic, an expert, a latest \
                   time). When one opens, the first waiting seeker is given a hold on it for at \
                   least ten minutes (`offered`); the host app hears `waitlist.offered`.",
    responses((status = 201, body = WaitlistJoined),
              (status = 409, body = ErrorBody, description = "`waitlist_limit`: three entries already waiting"),
              (status = 422, body = ErrorBody, description = "`invalid_input`: an unknown language or topic, or a latest time past; `field` names it")),
    security(("bearer" = [])))]
pub async fn join(
    session: SeekerSession,
    state: web::Data<AppState>,
    body: Json<WaitlistInput>,
) -> ApiResult<HttpResponse> {
    let joined = flows::waitlist::join(
        &state,
        &session.seeker,
        session.seeker_ref.as_deref(),
        &body.0,
    )
    .await?;
    Ok(HttpResponse::Created().json(WaitlistJoined {
        waitlist_id: joined.id,
        position: joined.position,
    }))
}

#[utoipa::path(get, path = "/v1/waitlist/{id}", tag = "seekers",
    params(("id" = Uuid, Path, description = "waitlist id")),
    responses((status = 200, body = WaitlistView),
              (status = 404, body = ErrorBody, description = "`not_found`: no such entry of this seeker's")),
    security(("bearer" = [])))]
pub async fn get(
    session: SeekerSession,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id("id", &id)?;
    let (row, position) = flows::waitlist::get(&state, session.seeker.id, id).await?;
    let offer = match (row.status, row.hold_id, row.slot_id, row.offer_expires_at) {
        (WaitlistStatus::Offered, Some(hold), Some(slot), Some(expires_at)) => {
            let s = anxin_store::slots::get(&state.pool, slot).await?;
            let expert = anxin_store::experts::get(&state.pool, s.expert_id).await?;
            Some(WaitlistOffer {
                hold_id: hold.0,
                display_name: expert.display_name,
                slot_id: slot.0,
                starts_at: s.starts_at,
                ends_at: s.ends_at,
                expires_at,
            })
        }
        _ => None,
    };
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(WaitlistView {
            waitlist_id: row.id,
            status: row.status,
            position,
            offer,
        }))
}

#[utoipa::path(delete, path = "/v1/waitlist/{id}", tag = "seekers",
    description = "Leaves the waitlist; an offer not yet booked is given back at once.",
    params(("id" = Uuid, Path, description = "waitlist id")),
    responses((status = 204, description = "left"),
              (status = 404, body = ErrorBody, description = "`not_found`: no such entry of this seeker's")),
    security(("bearer" = [])))]
pub async fn leave(
    session: SeekerSession,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id("id", &id)?;
    flows::waitlist::leave(&state, &session.seeker, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
