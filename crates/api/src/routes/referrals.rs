//! After a call: the session's outcome (`POST /v1/bookings/{id}/outcome`),
//! and the operators' referral queue.
use crate::auth::{Authorized, ExpertOrOperator, OperatorOnly, OperatorOrOrgAdmin};
use crate::error::{ApiResult, AppError, ErrorBody, ErrorCode};
use crate::extract::{path_id, Json};
use actix_web::http::header;
use actix_web::{web, HttpResponse};
use anxin_core::flows;
use anxin_core::state::AppState;
use anxin_domain::call::{CallOutcome, CallState};
use anxin_domain::ids::BookingId;
use anxin_domain::referral::{
    CallbackInput, OutcomeInput, ReferralStatus, Resolution, ResolveInput, SessionOutcome, Urgency,
};
use anxin_domain::seeker::alias;
use anxin_store::referrals::{CallbackRow, ReferralRow};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Serialize, utoipa::ToSchema)]
pub struct OutcomeRecorded {
    pub booking_id: Uuid,
    pub outcome: SessionOutcome,
    /// The referral this booking opened (now or before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referral_id: Option<Uuid>,
    /// The debrief this recording opened for the expert's supervisor (an
    /// emergency or urgent referral, a session cut short, a requested
    /// debrief, or the third absent seeker in a row).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debrief_id: Option<Uuid>,
}

#[utoipa::path(post, path = "/v1/bookings/{id}/outcome", tag = "experts", request_body = OutcomeInput,
    description = "Records how the session went (audited); recording again corrects it. \
                   `follow_up: refer` opens a referral for operators (once per booking). The \
                   note is sealed at rest and shown only to that expert and operators. \
                   `wellbeing` (1-5) and `debrief` reach the expert's supervisor only; an \
                   emergency or urgent referral, a session cut short, a requested debrief or \
                   the third absent seeker in a row opens a debrief (`debrief_id`).",
    params(("id" = uuid::Uuid, Path, description = "booking id")),
    responses((status = 200, body = OutcomeRecorded),
              (status = 404, body = ErrorBody, description = "`not_found`: no such booking, or not this expert's"),
              (status = 409, body = ErrorBody, description = "`booking_not_active`: cancelled, or the session has not started"),
              (status = 422, body = ErrorBody, description = "`invalid_input`: `urgency` missing for `refer` (or given \
                  without it), or the note over 2,000 characters; `field` names it")),
    security(("bearer" = [])))]
pub async fn record_outcome(
    auth: Authorized<ExpertOrOperator>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Json<OutcomeInput>,
) -> ApiResult<HttpResponse> {
    let id = BookingId(path_id("id", &id)?);
    let done = flows::referrals::record_outcome(&state, &auth.principal, id, &body.0).await?;
    Ok(HttpResponse::Ok().json(OutcomeRecorded {
        booking_id: id.0,
        outcome: body.0.outcome,
        referral_id: done.referral_id,
        debrief_id: done.debrief_id,
    }))
}

/// A referral as operators see it: the seeker by alias only, never a number.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReferralView {
    pub referral_id: Uuid,
    /// The booked session it came from; absent for a help-now call's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booking_id: Option<Uuid>,
    /// The help-now call it came from, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help_now_id: Option<Uuid>,
    pub expert_id: Uuid,
    pub seeker_alias: String,
    pub urgency: Urgency,
    /// The seeker's region, when they gave one.
    pub region: Option<String>,
    pub created_at: DateTime<Utc>,
    pub status: ReferralStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub centre: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    /// The latest callback an operator asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback: Option<CallbackView>,
}

/// Where a callback stands: `call_state` as for a booking's call
/// (`dialing_expert` is the operator's phone ringing).
#[derive(Serialize, utoipa::ToSchema)]
pub struct CallbackView {
    pub call_id: Uuid,
    pub call_state: CallState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<CallOutcome>,
}

impl From<CallbackRow> for CallbackView {
    fn from(c: CallbackRow) -> Self {
        Self {
            call_id: c.call_id.0,
            call_state: c.call_state,
            outcome: c.outcome,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CallbackQueued {
    /// The callback's call task.
    pub call_id: Uuid,
}

impl From<ReferralRow> for ReferralView {
    fn from(r: ReferralRow) -> Self {
        Self {
            referral_id: r.id,
            booking_id: r.session.booking().map(|b| b.0),
            help_now_id: r.session.help_now(),
            expert_id: r.expert_id.0,
            seeker_alias: alias(r.seeker_id),
            urgency: r.urgency,
            region: r.region,
            created_at: r.created_at,
            status: r.status,
            resolution: r.resolution,
            centre: r.centre,
            resolved_at: r.resolved_at,
            callback: r.callback.map(Into::into),
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReferralQuery {
    /// `open` (default) or `resolved`.
    #[param(value_type = Option<ReferralStatus>)]
    status: Option<String>,
}

#[utoipa::path(get, path = "/v1/ops/referrals", tag = "operators", params(ReferralQuery),
    description = "Referrals in a status, most urgent first (emergency, urgent, routine), then \
                   oldest first; at most 200. Operators see every referral; an organisation's \
                   administrator only those from its experts' sessions. The seeker appears by \
                   alias only.",
    responses((status = 200, body = [ReferralView]),
              (status = 403, body = ErrorBody, description = "`forbidden`: neither an operator nor an organisation's administrator")),
    security(("bearer" = [])))]
pub async fn list(
    auth: Authorized<OperatorOrOrgAdmin>,
    state: web::Data<AppState>,
    q: web::Query<ReferralQuery>,
) -> ApiResult<HttpResponse> {
    let status = match q.status.as_deref() {
        None => ReferralStatus::Open,
        Some(raw) => ReferralStatus::parse(raw).ok_or_else(|| {
            AppError::bad_request(
                ErrorCode::InvalidQuery,
                "status must be open or resolved",
                Some("status"),
            )
        })?,
    };
    let rows = flows::referrals::list(&state, &auth.principal, status).await?;
    let view: Vec<ReferralView> = rows.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view))
}

#[utoipa::path(post, path = "/v1/ops/referrals/{id}/resolve", tag = "operators", request_body = ResolveInput,
    description = "Closes a referral (audited). The seeker's number it kept is erased after the \
                   retention period from now.",
    params(("id" = uuid::Uuid, Path, description = "referral id")),
    responses((status = 200, body = ReferralView),
              (status = 409, body = ErrorBody, description = "`invalid_transition`: already resolved"),
              (status = 422, body = ErrorBody, description = "`invalid_input`: `centre` over 200 characters")),
    security(("bearer" = [])))]
pub async fn resolve(
    auth: Authorized<OperatorOnly>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Json<ResolveInput>,
) -> ApiResult<HttpResponse> {
    let id = path_id("id", &id)?;
    let row = flows::referrals::resolve(&state, &auth.principal, id, &body.0).await?;
    Ok(HttpResponse::Ok().json(ReferralView::from(row)))
}

#[utoipa::path(post, path = "/v1/ops/referrals/{id}/callback", tag = "operators",
    request_body = CallbackInput,
    description = "Calls the referred seeker back (audited): the call worker dials the \
                   operator's phone, then the seeker's, and joins them, the platform's number \
                   shown to both; the seeker's number never reaches the operator's leg. The \
                   referral's `callback` shows how it goes.",
    params(("id" = uuid::Uuid, Path, description = "referral id")),
    responses((status = 202, body = CallbackQueued),
              (status = 404, body = ErrorBody, description = "`not_found`: no such referral"),
              (status = 409, body = ErrorBody, description = "`invalid_transition`: resolved, or a callback is already under way"),
              (status = 422, body = ErrorBody, description = "`invalid_input`: `operator_phone` is not E.164")),
    security(("bearer" = [])))]
pub async fn callback(
    auth: Authorized<OperatorOnly>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Json<CallbackInput>,
) -> ApiResult<HttpResponse> {
    let id = path_id("id", &id)?;
    let call_id = flows::referrals::callback(&state, &auth.principal, id, &body.0).await?;
    Ok(HttpResponse::Accepted().json(CallbackQueued { call_id: call_id.0 }))
}
