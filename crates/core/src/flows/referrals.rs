//! After a call: the expert records the session's outcome (with a private
//! note, sealed at rest); a `refer` follow-up opens a referral, which
//! operators work through the queue, most urgent first, call the seeker back
//! through the call worker (masked both ways), and resolve. Every step is
//! audited with who and when.
use crate::error::{AppError, AppResult, ErrorCode, OrNotFound};
use crate::flows::bookings::{load_for, Viewer};
use crate::state::AppState;
use crate::token::Principal;
use anxin_domain::booking::BookingStatus;
use anxin_domain::ids::{BookingId, CallTaskId};
use anxin_domain::referral::{CallbackInput, OutcomeInput, ReferralStatus, ResolveInput};
use anxin_store::audit;
use anxin_store::call_tasks::{self, Queued};
use anxin_store::referrals::{self, ReferralRow, Session};
use anxin_store::StoreError;
use chrono::Utc;
use uuid::Uuid;

/// How many referrals one listing shows.
const LISTED_AT_MOST: i64 = 200;

pub struct Recorded {
    pub referral_id: Option<Uuid>,
    /// The debrief this recording opened for the expert's supervisor.
    pub debrief_id: Option<Uuid>,
}

/// Records the outcome of the booking's session: only that booking's
/// expert or an operator may (others get 404, as for the booking itself),
/// once the session has started and unless the booking was cancelled.
/// Recording again corrects the record; a referral, once opened, stays.
#[tracing::instrument(skip(state, principal, input), fields(booking_id = %id))]
pub async fn record_outcome(
    state: &AppState,
    principal: &Principal,
    id: BookingId,
    input: &OutcomeInput,
) -> AppResult<Recorded> {
    let note = input.validate()?;
    let (booking, viewer) = load_for(state, principal, None, id).await?;
    if viewer == Viewer::Seeker {
        return Err(AppError::NotFound("booking"));
    }
    if booking.status == BookingStatus::Cancelled {
        return Err(AppError::conflict(
            ErrorCode::BookingNotActive,
            "the booking was cancelled: there is no session to record",
        ));
    }
    if booking.starts_at > Utc::now() {
        return Err(AppError::conflict(
            ErrorCode::BookingNotActive,
            "the session has not started yet",
        ));
    }
    record(
        state,
        principal,
        Session::Booking(id),
        booking.expert_id,
        input,
        note,
    )
    .await
}

/// Records the outcome of a help-now call: only the expert who took it or
/// an operator within reach of the seeker's region may (others get 404),
/// once the call has connected. Recording again corrects the record.
#[tracing::instrument(skip(state, principal, input), fields(help_now_id = %id))]
pub async fn record_help_now_outcome(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    input: &OutcomeInput,
) -> AppResult<Recorded> {
    let note = input.validate()?;
    let request = anxin_store::help_now::get(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound("help-now call"))?;
    use crate::token::Role;
    match principal.role {
        Role::Expert
            if request.expert_id.is_some() && principal.expert_id() == request.expert_id => {}
        Role::Operator => {
            crate::flows::reach::sees(state, principal, request.region.as_deref(), "help-now call")
                .await?
        }
        _ => return Err(AppError::NotFound("help-now call")),
    }
    let (Some(expert), Some(_)) = (request.expert_id, request.connected_at) else {
        return Err(AppError::conflict(
            ErrorCode::BookingNotActive,
            "the call never connected: there is no session to record",
        ));
    };
    record(state, principal, Session::HelpNow(id), expert, input, note).await
}

/// Records a session's outcome, with the referral and the debrief it opens,
/// in one transaction; the volunteer rests after an emergency.
async fn record(
    state: &AppState,
    principal: &Principal,
    session: Session,
    expert: anxin_domain::ids::ExpertId,
    input: &OutcomeInput,
    note: Option<String>,
) -> AppResult<Recorded> {
    let by = principal.actor();
    let sealed = note.as_deref().map(|n| state.cipher.seal_text(n));
    let mut tx = state.pool.begin().await.map_err(StoreError::from)?;
    referrals::record_outcome(&mut tx, session, input, sealed.as_ref(), &by).await?;
    let debrief_id =
        crate::flows::supervision::after_outcome(&mut tx, &by, expert, session, input).await?;
    let (kind, subject) = match session {
        Session::Booking(b) => ("booking", b.0),
        Session::HelpNow(h) => ("help_now", h),
    };
    audit::record(
        &mut tx,
        &by,
        "outcome.record",
        kind,
        subject,
        serde_json::json!({
            "outcome": input.outcome.as_str(),
            "follow_up": input.follow_up.as_str(),
        }),
    )
    .await?;
    let referral_id = match input.urgency {
        Some(urgency) => {
            let referral = referrals::open_referral(&mut tx, session, urgency).await?;
            audit::record(
                &mut tx,
                &by,
                "referral.open",
                "referral",
                referral,
                serde_json::json!({"urgency": urgency.as_str(), "session": subject, "kind": kind}),
            )
            .await?;
            Some(referral)
        }
        None => referrals::referral_of(&mut tx, session).await?,
    };
    tx.commit().await.map_err(StoreError::from)?;
    if let Some(urgency) = input.urgency {
        tracing::info!(urgency = urgency.as_str(), "referral opened");
    }
    // After an emergency the volunteer rests: no new booking for the rest
    // of their day (ANXIN_REST_AFTER_EMERGENCY_DAYS), unless they reopen it.
    if input.urgency == Some(anxin_domain::referral::Urgency::Emergency) {
        crate::flows::availability::rest(
            state,
            expert,
            state.config.rest_after_emergency_days,
            Utc::now(),
            &by,
        )
        .await?;
    }
    Ok(Recorded {
        referral_id,
        debrief_id,
    })
}

/// Referrals in a status: every one for a national operator, those from
/// its experts' sessions for an organisation's administrator.
pub async fn list(
    state: &AppState,
    principal: &Principal,
    status: ReferralStatus,
) -> AppResult<Vec<ReferralRow>> {
    let organisation = crate::flows::organisations::reach(state, principal).await?;
    let regions = crate::flows::reach::regions(state, principal).await?;
    Ok(list_store(state, status, organisation, regions.as_deref()).await?)
}

/// Referrals in a status (of one organisation's experts' sessions, of
/// these regions, when given), with the store's error (to join with other
/// store reads).
pub async fn list_store(
    state: &AppState,
    status: ReferralStatus,
    organisation: Option<Uuid>,
    regions: Option<&[String]>,
) -> Result<Vec<ReferralRow>, StoreError> {
    referrals::list(&state.pool, status, organisation, regions, LISTED_AT_MOST).await
}

/// 404 unless the referral exists and is within the caller's area.
async fn reachable(state: &AppState, principal: &Principal, id: Uuid) -> AppResult<()> {
    referrals::get(&state.pool, id)
        .await
        .or_not_found("referral")?;
    if crate::flows::reach::area(state, principal).await?.is_some() {
        let place = referrals::place_of(&state.pool, id).await?;
        crate::flows::reach::sees(state, principal, place.as_deref(), "referral").await?;
    }
    Ok(())
}

/// Resolves an open referral (409 `invalid_transition` if it already is).
/// The seeker's number it kept is then erased after the retention period.
#[tracing::instrument(skip(state, principal, input))]
pub async fn resolve(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    input: &ResolveInput,
) -> AppResult<ReferralRow> {
    let centre = input.validate()?;
    reachable(state, principal, id).await?;
    if let Some(resource) = input.resource_id {
        if !anxin_store::resources::exists(&state.pool, resource).await? {
            return Err(anxin_domain::error::ValidationError::new(
                "resource_id",
                "names no resource in service (GET /v1/resources)",
            )
            .into());
        }
    }
    let by = principal.actor();
    let mut tx = state.pool.begin().await.map_err(StoreError::from)?;
    if !referrals::resolve(
        &mut tx,
        id,
        input.resolution,
        centre.as_deref(),
        input.resource_id,
    )
    .await?
    {
        return Err(AppError::conflict(
            ErrorCode::InvalidTransition,
            "the referral is already resolved",
        ));
    }
    audit::record(
        &mut tx,
        &by,
        "referral.resolve",
        "referral",
        id,
        serde_json::json!({"resolution": input.resolution.as_str()}),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(referrals::get(&state.pool, id).await?)
}

/// Queues a masked callback on an open referral: the call worker dials the
/// operator's phone, then the seeker's (the referral's sealed copy), and
/// joins them, the platform's number shown to both, through the same path as
/// a booking's call. The operator's number is sealed in the task, never
/// logged or audited, and erased when the callback is over. 409 when the
/// referral is resolved or a callback on it is already under way.
#[tracing::instrument(skip(state, principal, input))]
pub async fn callback(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    input: &CallbackInput,
) -> AppResult<CallTaskId> {
    let operator_phone = input.validate(&state.config.phone_country_code)?;
    reachable(state, principal, id).await?;
    let by = principal.actor();
    let sealed = state.cipher.seal(&operator_phone);
    let mut tx = state.pool.begin().await.map_err(StoreError::from)?;
    let call_id = match call_tasks::queue_callback(&mut tx, id, &sealed).await? {
        Queued::Queued(call_id) => call_id,
        Queued::NotOpen => {
            return Err(AppError::conflict(
                ErrorCode::InvalidTransition,
                "the referral is resolved: nobody is to be called",
            ))
        }
        Queued::AlreadyCalling => {
            return Err(AppError::conflict(
                ErrorCode::InvalidTransition,
                "a callback on this referral is already under way",
            ))
        }
    };
    audit::record(
        &mut tx,
        &by,
        "referral.callback",
        "referral",
        id,
        serde_json::json!({"call_id": call_id}),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(call_id)
}
