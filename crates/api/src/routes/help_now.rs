//! `/v1/help-now` and `/v1/experts/me/duty`: talk to someone now.
use crate::auth::{AnyRole, Authorized, ExpertOnly, SeekerSession};
use crate::error::{ApiResult, ErrorBody, ErrorCode};
use crate::extract::{path_id, Json};
use crate::routes::experts::me;
use crate::routes::resources::ResourceView;
use crate::routes::{idempotency_key, IdempotencyKey};
use actix_web::http::header::CACHE_CONTROL;
use actix_web::{web, HttpRequest, HttpResponse};
use anxin_core::flows::help_now::{self as flow, Ask, Asked, Duty, Standing};
use anxin_core::state::AppState;
use anxin_domain::call::CallOutcome;
use anxin_domain::help_now::{DutyInput, HelpNowInput, HelpNowStatus};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

#[derive(Serialize, utoipa::ToSchema)]
pub struct DutyView {
    pub on_duty: bool,
    /// When the duty ends; absent: until switched off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

impl From<Duty> for DutyView {
    fn from(duty: Duty) -> Self {
        Self {
            on_duty: duty.is_some(),
            until: duty.flatten(),
        }
    }
}

#[utoipa::path(put, path = "/v1/experts/me/duty", tag = "experts", request_body = DutyInput,
    description = "Switches the calling expert on duty (until `until`, at most a day, or until \
                   switched off) or off. An expert on duty, in no call, not within 15 minutes of \
                   a booked session and under their caps can be offered help-now calls.",
    responses((status = 200, body = DutyView),
              (status = 409, body = ErrorBody, description = "`invalid_transition`: the expert is not approved"),
              (status = 422, body = ErrorBody, description = "`invalid_input`: `until` past, over a day away, or given while switching off")),
    security(("bearer" = [])))]
pub async fn set_duty(
    auth: Authorized<ExpertOnly>,
    state: web::Data<AppState>,
    body: Json<DutyInput>,
) -> ApiResult<HttpResponse> {
    let duty = flow::set_duty(&state, me(&auth)?, &body.0).await?;
    Ok(HttpResponse::Ok().json(DutyView::from(duty)))
}

#[utoipa::path(get, path = "/v1/experts/me/duty", tag = "experts",
    responses((status = 200, body = DutyView)),
    security(("bearer" = [])))]
pub async fn get_duty(
    auth: Authorized<ExpertOnly>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let duty = flow::duty(&state, me(&auth)?).await?;
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(DutyView::from(duty)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct HelpNowCall {
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<CallOutcome>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct HelpNowView {
    pub request_id: Uuid,
    pub status: HelpNowStatus,
    /// Place in the queue (1 = next), while queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<i64>,
    /// An honest estimate from the experts free now and recent calls'
    /// length, while queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_wait_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<HelpNowCall>,
}

impl From<Standing> for HelpNowView {
    fn from(s: Standing) -> Self {
        Self {
            request_id: s.row.id,
            status: s.row.status,
            position: s.position,
            estimated_wait_seconds: s.estimated_wait_seconds,
            call: s.row.call_state.map(|state| HelpNowCall {
                state,
                outcome: s.row.call_outcome,
            }),
        }
    }
}

/// 409 `nobody_on_duty`: the error body, and what the seeker can do
/// instead.
#[derive(Serialize)]
pub struct NobodyOnDutyBody {
    pub error: ErrorCode,
    pub message: String,
    /// The earliest slot that can be booked now, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub earliest_start: Option<DateTime<Utc>>,
    /// The seeker's region's hotlines.
    pub hotlines: Vec<ResourceView>,
}

#[utoipa::path(post, path = "/v1/help-now", tag = "seekers", request_body = HelpNowInput,
    description = "Asks to talk to an on-duty volunteer now. The seeker is queued (priority \
                   groups first, then arrival); a free on-duty expert is rung first, and only \
                   once they answer is the seeker's phone called and the two bridged, each \
                   seeing the platform's number. Unanswered after `ANXIN_HELP_NOW_RING_SECONDS`, \
                   the next free expert is rung; after `ANXIN_HELP_NOW_MAX_WAIT_MINUTES` the \
                   request ends `timed_out`.",
    params(IdempotencyKey),
    responses((status = 202, body = HelpNowView),
              (status = 409, body = ErrorBody, description = "`nobody_on_duty`: no expert is on duty; the body adds `earliest_start` (the earliest slot bookable now, if any) and `hotlines` (the seeker's region's, as `GET /v1/resources` lists them). `help_now_active`: already waiting. `idempotency_mismatch`"),
              (status = 422, body = ErrorBody, description = "`invalid_input`: a bad phone number, language, topic or note; `field` names it")),
    security(("bearer" = [])))]
pub async fn ask(
    req: HttpRequest,
    session: SeekerSession,
    state: web::Data<AppState>,
    body: Json<HelpNowInput>,
) -> ApiResult<HttpResponse> {
    let key = idempotency_key(&req)?;
    let asked = flow::ask(
        &state,
        &session.seeker,
        Ask {
            input: &body.0,
            idempotency_key: key.as_deref(),
        },
    )
    .await?;
    Ok(match asked {
        Asked::Queued(standing) => HttpResponse::Accepted().json(HelpNowView::from(standing)),
        Asked::NobodyOnDuty {
            earliest_start,
            hotlines,
        } => HttpResponse::Conflict().json(NobodyOnDutyBody {
            error: ErrorCode::NobodyOnDuty,
            message: "nobody is on duty right now; book the earliest time, or call a hotline"
                .into(),
            earliest_start,
            hotlines: hotlines.into_iter().map(Into::into).collect(),
        }),
    })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct HelpNowOffer {
    /// Experts on duty now: "Talk to someone now" is offered when above 0.
    pub on_duty: i64,
    /// The wait a request made now would be told.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_wait_seconds: Option<u32>,
}

#[utoipa::path(get, path = "/v1/help-now", tag = "seekers",
    description = "Whether anyone is on duty now, and the wait a request made now would be told.",
    responses((status = 200, body = HelpNowOffer)),
    security(("bearer" = [])))]
pub async fn offer(_session: SeekerSession, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let offer = flow::offer(&state).await?;
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(HelpNowOffer {
            on_duty: offer.on_duty,
            estimated_wait_seconds: offer.estimated_wait_seconds,
        }))
}

#[utoipa::path(get, path = "/v1/help-now/{id}", tag = "seekers",
    params(("id" = Uuid, Path, description = "help-now request id")),
    responses((status = 200, body = HelpNowView),
              (status = 404, body = ErrorBody, description = "`not_found`: no such request of this seeker's")),
    security(("bearer" = [])))]
pub async fn get(
    auth: Authorized<AnyRole>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id("id", &id)?;
    let seeker = match auth.principal.role {
        anxin_core::token::Role::Seeker => {
            Some(anxin_core::flows::seekers::resolve_for(&state, &auth.principal).await?)
        }
        _ => None,
    };
    let standing = flow::view(&state, &auth.principal, seeker.as_ref(), id).await?;
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(HelpNowView::from(standing)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct HelpNowOutcomeRecorded {
    pub help_now_id: Uuid,
    pub outcome: anxin_domain::referral::SessionOutcome,
    /// The referral this call opened (now or before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referral_id: Option<Uuid>,
    /// The debrief this recording opened for the expert's supervisor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debrief_id: Option<Uuid>,
}

#[utoipa::path(post, path = "/v1/help-now/{id}/outcome", tag = "experts",
    request_body = anxin_domain::referral::OutcomeInput,
    description = "Records how a help-now call went, as `POST /v1/bookings/{id}/outcome` does for \
                   a booked session: the same fields, the same referral (`follow_up: refer`), \
                   the same debriefs and rest after an emergency. The expert who took the call \
                   or an operator within reach of the seeker's region; once it connected.",
    params(("id" = Uuid, Path, description = "help-now request id")),
    responses((status = 200, body = HelpNowOutcomeRecorded),
              (status = 404, body = ErrorBody, description = "`not_found`: no such call, or not this expert's"),
              (status = 409, body = ErrorBody, description = "`booking_not_active`: the call never connected"),
              (status = 422, body = ErrorBody, description = "`invalid_input`: `urgency` missing for `refer` (or given \
                  without it), or the note over 2,000 characters; `field` names it")),
    security(("bearer" = [])))]
pub async fn record_outcome(
    auth: Authorized<crate::auth::ExpertOrOperator>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Json<anxin_domain::referral::OutcomeInput>,
) -> ApiResult<HttpResponse> {
    let id = path_id("id", &id)?;
    let done =
        anxin_core::flows::referrals::record_help_now_outcome(&state, &auth.principal, id, &body.0)
            .await?;
    Ok(HttpResponse::Ok().json(HelpNowOutcomeRecorded {
        help_now_id: id,
        outcome: body.0.outcome,
        referral_id: done.referral_id,
        debrief_id: done.debrief_id,
    }))
}

/// A help-now call the expert took: the seeker by alias only.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TakenCall {
    pub help_now_id: Uuid,
    pub seeker_alias: String,
    pub priority_group: String,
    pub status: HelpNowStatus,
    pub connected_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// The seeker's few words for the expert.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What the expert recorded, once they did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<anxin_domain::referral::SessionOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<anxin_domain::referral::FollowUp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urgency: Option<anxin_domain::referral::Urgency>,
}

#[utoipa::path(get, path = "/v1/experts/me/help-now", tag = "experts",
    description = "The help-now calls the calling expert took (connected), newest first, 50 at \
                   most, with the outcome they recorded.",
    responses((status = 200, body = Vec<TakenCall>)),
    security(("bearer" = [])))]
pub async fn taken(
    auth: Authorized<ExpertOnly>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let rows = anxin_store::help_now::taken_by(&state.pool, me(&auth)?, 50).await?;
    let calls = rows
        .into_iter()
        .map(|r| {
            Ok(TakenCall {
                help_now_id: r.id,
                seeker_alias: anxin_domain::seeker::alias(r.seeker_id),
                priority_group: r.priority_group,
                status: r.status,
                connected_at: r.connected_at,
                ended_at: r.ended_at,
                note: crate::routes::unseal(&state, r.note.as_ref())?,
                outcome: r.outcome,
                follow_up: r.follow_up,
                urgency: r.urgency,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(calls))
}

#[utoipa::path(delete, path = "/v1/help-now/{id}", tag = "seekers",
    description = "Leaves the queue. An expert being rung for the request is hung up on; the \
                   seeker is never called. Leaving an ended request changes nothing.",
    params(("id" = Uuid, Path, description = "help-now request id")),
    responses((status = 204, description = "left"),
              (status = 404, body = ErrorBody, description = "`not_found`: no such request of this seeker's")),
    security(("bearer" = [])))]
pub async fn leave(
    session: SeekerSession,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id("id", &id)?;
    flow::leave(&state, &session.seeker, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
