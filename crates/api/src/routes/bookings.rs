//! Bookings: confirm, look up, cancel.
use crate::auth::{AnyRole, Authorized, Principal, Role, SeekerSession};
use crate::dto::{
    BookingCreated, BookingRequest, BookingView, CallView, CancelRequest, CancelView,
};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{path_id, Json};
use crate::routes::{idempotency_key, IdempotencyKey};
use actix_web::{web, HttpRequest, HttpResponse};
use anxin_core::flows;
use anxin_core::flows::bookings::{ConfirmRequest, Viewer};
use anxin_core::state::AppState;
use anxin_domain::booking::BookingStatus;
use anxin_domain::ids::{BookingId, HoldId};
use anxin_domain::seeker::alias;
use anxin_store::bookings::BookingRow;
use anxin_store::seekers::SeekerRow;

#[utoipa::path(post, path = "/v1/bookings", tag = "seekers", request_body = BookingRequest,
    params(IdempotencyKey),
    responses((status = 201, body = BookingCreated, links(
                  ("GetBooking" = (operation_id = "get", parameters(("id" = "$response.body#/booking_id")))),
                  ("CancelBooking" = (operation_id = "cancel", parameters(("id" = "$response.body#/booking_id")))))),
              (status = 200, body = BookingCreated, description = "a retry with the same Idempotency-Key: the first answer"),
              (status = 402, body = ErrorBody, description = "`payment_required`: the hold's booking fee is not paid (`POST /v1/holds/{id}/payment`)"),
              (status = 409, body = ErrorBody, description = "`hold_expired`, `hold_confirmed`, `slot_unavailable` or `booking_limit`"),
              (status = 422, body = ErrorBody, description = "`invalid_input` (an invalid phone or a note over 500 characters; \
                  `field` names it), or `idempotency_mismatch`: the key was used with another request")),
    security(("bearer" = [])))]
pub async fn confirm(
    req: HttpRequest,
    session: SeekerSession,
    state: web::Data<AppState>,
    body: Json<BookingRequest>,
) -> ApiResult<HttpResponse> {
    let key = idempotency_key(&req)?;
    let confirmed = flows::bookings::confirm(
        &state,
        &session.seeker,
        ConfirmRequest {
            hold_id: HoldId(body.0.hold_id),
            phone: &body.0.phone,
            note: body.0.note.as_deref(),
            idempotency_key: key.as_deref(),
            seeker_ref: session.seeker_ref.as_deref(),
        },
    )
    .await?;
    let b = confirmed.booking;
    let status = if confirmed.replayed {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::CREATED
    };
    Ok(HttpResponse::build(status).json(BookingCreated {
        booking_id: b.id.0,
        slot_id: b.slot_id.0,
        expert_id: b.expert_id.0,
        starts_at: b.starts_at,
        ends_at: b.ends_at,
        status: b.status,
        phone_masked: b.phone_masked.unwrap_or_default(),
    }))
}

/// Seekers are resolved to their pseudonymous record; others need none.
async fn seeker_of(state: &AppState, principal: &Principal) -> ApiResult<Option<SeekerRow>> {
    if principal.role != Role::Seeker {
        return Ok(None);
    }
    Ok(Some(flows::seekers::resolve_for(state, principal).await?))
}

fn view(state: &AppState, b: BookingRow, viewer: Viewer) -> ApiResult<BookingView> {
    Ok(BookingView {
        booking_id: b.id.0,
        status: b.status,
        slot_id: b.slot_id.0,
        expert_id: b.expert_id.0,
        starts_at: b.starts_at,
        ends_at: b.ends_at,
        call: CallView {
            state: b.call_state,
            outcome: b.call_outcome,
        },
        phone_masked: (viewer == Viewer::Seeker)
            .then_some(b.phone_masked)
            .flatten(),
        seeker_alias: (viewer != Viewer::Seeker).then(|| alias(b.seeker_id)),
        cancel_reason: crate::routes::unseal(state, b.cancel_reason.as_ref())?,
        reassigned: b.reassigned,
        display_name: b.display_name.unwrap_or_default(),
    })
}

#[utoipa::path(get, path = "/v1/bookings/{id}", tag = "seekers",
    params(("id" = uuid::Uuid, Path, description = "booking id")),
    responses((status = 200, body = BookingView)),
    security(("bearer" = [])))]
pub async fn get(
    auth: Authorized<AnyRole>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = BookingId(path_id("id", &id)?);
    let seeker = seeker_of(&state, &auth.principal).await?;
    let (booking, viewer) =
        flows::bookings::load_for(&state, &auth.principal, seeker.as_ref(), id).await?;
    Ok(HttpResponse::Ok().json(view(&state, booking, viewer)?))
}

#[utoipa::path(post, path = "/v1/bookings/{id}/cancel", tag = "seekers",
    description = "Cancels the booking. The body is optional: `{reason}` (at most 300 \
                   characters) is shown to the other side with the booking's status.",
    params(("id" = uuid::Uuid, Path, description = "booking id")),
    request_body(content = Option<CancelRequest>, content_type = "application/json"),
    responses((status = 200, body = CancelView),
              (status = 409, body = ErrorBody, description = "`booking_not_active`: already cancelled or completed"),
              (status = 422, body = ErrorBody, description = "`invalid_input`: the reason is over 300 characters")),
    security(("bearer" = [])))]
pub async fn cancel(
    req: HttpRequest,
    auth: Authorized<AnyRole>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let id = BookingId(path_id("id", &id)?);
    // No body (or an empty one) is a cancellation without a reason.
    let request =
        crate::extract::optional_json_body::<Option<CancelRequest>>(&req, &body)?.flatten();
    let reason = request.and_then(|r| r.reason);
    let seeker = seeker_of(&state, &auth.principal).await?;
    let done = flows::bookings::cancel(
        &state,
        &auth.principal,
        seeker.as_ref(),
        id,
        reason.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(CancelView {
        booking_id: done.booking.id.0,
        status: done.booking.status,
        slot_reopened: done.slot_reopened,
        reassigned: done.booking.status == BookingStatus::Confirmed,
    }))
}
