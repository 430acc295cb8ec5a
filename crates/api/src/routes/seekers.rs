//! The seeker's path: slate, profile, holds.
use crate::auth::SeekerSession;
use crate::dto::{
    CallView, Erased, HoldRequest, HoldView, SeekerBooking, SeekerUpdate, SeekerView, SlateExpert,
    SlateView, SlotView, WidenView,
};
use crate::error::{ApiResult, AppError, AppResult, ErrorBody, ErrorCode};
use crate::extract::{path_id, Json};
use crate::routes::{idempotency_key, IdempotencyKey};
use actix_web::{web, HttpRequest, HttpResponse};
use anxin_core::flows;
use anxin_core::state::AppState;
use anxin_domain::ids::{HoldId, SlotId};
use chrono::Utc;
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SlateQuery {
    /// A language tag, e.g. `zh` or `en`.
    #[param(value_type = anxin_domain::openapi::Tag, required = false)]
    language: Option<String>,
    /// A specialty, e.g. `grief` or `anxiety`.
    #[param(value_type = anxin_domain::openapi::Tag, required = false)]
    topic: Option<String>,
}

fn tag_filter(field: &'static str, raw: Option<&str>) -> AppResult<Option<String>> {
    raw.map(|v| {
        anxin_domain::expert::tag(field, v)
            .map_err(|e| AppError::bad_request(ErrorCode::InvalidQuery, e.to_string(), Some(field)))
    })
    .transpose()
}

#[utoipa::path(get, path = "/v1/slate", tag = "seekers", params(SlateQuery),
    responses((status = 200, body = SlateView, links(
        ("PlaceHold" = (operation_id = "place_hold", description = "hold the first expert's next slot",
            request_body = json!({"slot_id": "$response.body#/experts/0/next_slots/0/slot_id"})))))),
    security(("bearer" = [])))]
pub async fn slate(
    session: SeekerSession,
    state: web::Data<AppState>,
    q: web::Query<SlateQuery>,
) -> ApiResult<HttpResponse> {
    let filters = flows::slate::Filters {
        language: tag_filter("language", q.language.as_deref())?,
        topic: tag_filter("topic", q.topic.as_deref())?,
    };
    let flows::slate::Slate {
        slate_id,
        experts,
        hint,
        earliest_start,
        widen,
        service_open,
        hotlines,
    } = flows::slate::build(&state, &session.seeker, &filters).await?;
    let view = SlateView {
        slate_id: slate_id.0,
        hint,
        earliest_start,
        widen: widen.map(|w| WidenView {
            without_language: w.without_language,
            without_topic: w.without_topic,
            without_filters: w.without_filters,
        }),
        service_open,
        hotlines: hotlines.into_iter().map(Into::into).collect(),
        experts: experts
            .iter()
            .map(|e| SlateExpert {
                expert_id: e.expert.id.0,
                display_name: &e.expert.display_name,
                languages: &e.expert.languages,
                specialties: &e.expert.specialties,
                region: &e.expert.region,
                local: e.local,
                next_slots: e
                    .slots
                    .iter()
                    .map(|s| SlotView {
                        slot_id: s.slot_id.0,
                        starts_at: s.starts_at,
                        ends_at: s.ends_at,
                    })
                    .collect(),
            })
            .collect(),
    };
    let body = view.to_json().map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(body))
}

#[utoipa::path(get, path = "/v1/seekers/me/bookings", tag = "seekers",
    responses((status = 200, body = [SeekerBooking],
        description = "the seeker's bookings (at most 100): those not yet ended first, soonest first, then past ones, latest first")),
    security(("bearer" = [])))]
pub async fn my_bookings(
    session: SeekerSession,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let now = Utc::now();
    let rows = anxin_store::bookings::for_seeker(&state.pool, session.seeker.id, now).await?;
    let list: Vec<SeekerBooking> = rows
        .into_iter()
        .map(|(b, display_name, fee_paid)| {
            Ok(SeekerBooking {
                refund_on_cancel: b.status == anxin_domain::booking::BookingStatus::Confirmed
                    && anxin_domain::booking::cancel_refunds_fee(fee_paid, b.starts_at, now),
                booking_id: b.id.0,
                expert_id: b.expert_id.0,
                display_name,
                starts_at: b.starts_at,
                ends_at: b.ends_at,
                status: b.status,
                call: CallView {
                    state: b.call_state,
                    outcome: b.call_outcome,
                },
                cancel_reason: crate::routes::unseal(&state, b.cancel_reason.as_ref())?,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(put, path = "/v1/seekers/me", tag = "seekers", request_body = SeekerUpdate,
    responses((status = 200, body = SeekerView),
              (status = 422, body = ErrorBody, description = "`invalid_input`: region names no region (a code such as `CN-HB` or a pinyin name such as `hubei`)")),
    security(("bearer" = [])))]
pub async fn update_me(
    session: SeekerSession,
    state: web::Data<AppState>,
    body: Json<SeekerUpdate>,
) -> ApiResult<HttpResponse> {
    let region = match body.0.region.as_deref() {
        Some(raw) => Some(flows::regions::resolve(&state, "region", raw).await?),
        None => None,
    };
    let row = flows::seekers::update(
        &state,
        &session.principal,
        &session.seeker,
        body.0.priority_group,
        region.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(SeekerView {
        priority_group: row.priority_group,
        region: row.region,
    }))
}

#[utoipa::path(delete, path = "/v1/seekers/me", tag = "seekers",
    description = "Erases the seeker (the host app calls it on their behalf, with their token): \
                   upcoming bookings are cancelled and their fees refunded; every copy of the \
                   seeker's phone number, their notes, cancellation reasons, the host app's `ref` \
                   and the link from the host-app subject are erased. Past bookings remain only \
                   as anonymous statistics. The same subject is a new seeker afterwards.",
    responses((status = 202, body = Erased)),
    security(("bearer" = [])))]
pub async fn erase_me(
    session: SeekerSession,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let cancelled = flows::seekers::erase(&state, &session.principal, &session.seeker).await?;
    Ok(HttpResponse::Accepted().json(Erased { cancelled }))
}

#[utoipa::path(post, path = "/v1/holds", tag = "seekers", request_body = HoldRequest,
    params(IdempotencyKey),
    responses((status = 201, body = HoldView, links(
                  ("ConfirmBooking" = (operation_id = "confirm", request_body = json!({"hold_id": "$response.body#/hold_id"}))),
                  ("ReleaseHold" = (operation_id = "release_hold", parameters(("id" = "$response.body#/hold_id")))))),
              (status = 200, body = HoldView, description = "a retry with the same Idempotency-Key: the first answer"),
              (status = 404, body = ErrorBody, description = "`not_found`: no such slot"),
              (status = 409, body = ErrorBody, description = "`slot_unavailable`, or `hold_limit`: the seeker already holds a slot"),
              (status = 422, body = ErrorBody, description = "`idempotency_mismatch`: the key was used with another slot"),
              (status = 429, body = ErrorBody, description = "`rate_limited`: too many holds; try again after `Retry-After` seconds",
               headers(("Retry-After" = u64, description = "Seconds to wait before trying again.")))),
    security(("bearer" = [])))]
pub async fn place_hold(
    req: HttpRequest,
    session: SeekerSession,
    state: web::Data<AppState>,
    body: Json<HoldRequest>,
) -> ApiResult<HttpResponse> {
    let key = idempotency_key(&req)?;
    let ip = crate::client::client_ip(&req);
    let hold = flows::holds::place(
        &state,
        &session.seeker,
        SlotId(body.0.slot_id),
        key.as_deref(),
        &ip,
    )
    .await?;
    let status = if hold.replayed {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::CREATED
    };
    Ok(HttpResponse::build(status).json(HoldView {
        hold_id: hold.hold_id.0,
        slot_id: hold.slot_id.0,
        expires_at: hold.expires_at,
    }))
}

#[utoipa::path(delete, path = "/v1/holds/{id}", tag = "seekers",
    params(("id" = uuid::Uuid, Path, description = "hold id")),
    responses((status = 204, description = "released; the slot is open again")),
    security(("bearer" = [])))]
pub async fn release_hold(
    session: SeekerSession,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = HoldId(path_id("id", &id)?);
    flows::holds::release(&state, &session.seeker, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
