//! Confirming and cancelling bookings.
//!
//! Confirmation order matters: the hold is verified (and kept alive) in Redis,
//! its fee checked (when one is taken), then the booking and its call task commit together in Postgres, and only
//! then is the slot marked booked in Redis and the seeker told "confirmed".
//! If Redis was wrong about the hold (wiped, restarted), Postgres' constraints
//! refuse the second booking and the seeker gets a clean 409.
use crate::error::{AppError, AppResult, ErrorCode, OrNotFound};
use crate::events::{Event, Refusal};
use crate::flows::handover::{self, Handover};
use crate::state::AppState;
use crate::token::Principal;
use anxin_domain::booking::{cancel_reopens_slot, check_cancel, reservable, CancelRefusal};
use anxin_domain::ids::{BookingId, HoldId};
use anxin_domain::phone::PhoneNumber;
use anxin_domain::seeker::alias;
use anxin_store::audit::Actor;
use anxin_store::bookings::{self, BookingRow, ConfirmError, NewBooking};
use anxin_store::seekers::SeekerRow;
use chrono::Utc;
use std::time::Duration;

/// How long a verified hold is kept alive while its confirmation commits.
const CONFIRM_GRACE: Duration = Duration::from_secs(30);

pub struct ConfirmRequest<'a> {
    pub hold_id: HoldId,
    pub phone: &'a str,
    pub note: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    /// The token's `ref` claim, sealed onto the booking for webhooks.
    pub seeker_ref: Option<&'a str>,
}

pub struct Confirmed {
    pub booking: BookingRow,
    pub replayed: bool,
}

pub(crate) fn hold_expired() -> AppError {
    AppError::conflict(
        ErrorCode::HoldExpired,
        "the hold has expired or was released; hold the slot again",
    )
}

#[tracing::instrument(skip_all, fields(seeker_id = %seeker.id, hold_id = %req.hold_id))]
pub async fn confirm(
    state: &AppState,
    seeker: &SeekerRow,
    req: ConfirmRequest<'_>,
) -> AppResult<Confirmed> {
    let phone = PhoneNumber::parse_in("phone", req.phone, &state.config.phone_country_code)?;
    let note = match req.note.map(str::trim) {
        // Postgres text can't hold a NUL.
        Some(n) if n.chars().count() > 500 || n.contains('\0') => {
            return Err(AppError::Unprocessable {
                code: ErrorCode::InvalidInput,
                message: "note: at most 500 characters, and no NUL".into(),
                field: Some("note".into()),
            })
        }
        Some("") | None => None,
        Some(n) => Some(n.to_string()),
    };
    let request_hash = state.subjects.request_hash(&format!(
        "booking\n{}\n{}\n{}",
        req.hold_id,
        phone.expose_e164(),
        note.as_deref().unwrap_or("")
    ));
    let seeker_id = seeker.id;
    // A retry with the same key (possibly racing the first request) gets the
    // first request's booking.
    let replayed = || async {
        match req.idempotency_key {
            Some(key) => bookings::by_idempotency_key(&state.pool, seeker_id, key)
                .await
                .map_err(AppError::from),
            None => Ok(None),
        }
    };
    if let Some(previous) = replayed().await? {
        return replay(previous, &request_hash);
    }
    let refuse = |refusal: Refusal, metric: &str, error: AppError| {
        state.metrics.booking(metric);
        state.events.emit(
            &state.metrics,
            Event::BookingRefused {
                seeker,
                hold_id: req.hold_id,
                refusal,
            },
        );
        error
    };
    // Where the hold is: from this instance's own record when it placed
    // the hold, else from the seeker's side in Redis. Whether it is live is
    // the slot's side's answer (`verify_hold`) either way.
    let live = match state.hold_records.get(&(seeker_id, req.hold_id)) {
        Some(record) if record.expires_at > Utc::now() => Some(record),
        _ => state.reserve.hold_record(seeker_id, req.hold_id).await?,
    };
    // The fee before the hold is kept alive for the commit: an unpaid hold
    // stays as it was (the seeker may be in the cashier), and is told so.
    if live.is_some() {
        crate::flows::payments::require_paid(state, seeker, req.hold_id).await?;
    }
    let record = match live {
        Some(record)
            if state
                .reserve
                .verify_hold(&record, seeker_id, CONFIRM_GRACE)
                .await? =>
        {
            record
        }
        stale => {
            if let Some(stale) = stale {
                state.reserve.forget_hold(seeker_id, &stale, None).await?;
            }
            if let Some(previous) = replayed().await? {
                return replay(previous, &request_hash);
            }
            return Err(refuse(Refusal::HoldExpired, "hold_expired", hold_expired()));
        }
    };
    // A slot's times never change, and a live hold keeps it from being
    // withdrawn (the withdraw script refuses held slots), so the cached row
    // is as good as a fresh read here.
    // Lets go of the hold on a refusal, so the slot is open again at once.
    let give_back = || async {
        state.reserve.release_slot(&record, seeker_id).await?;
        state.reserve.forget_hold(seeker_id, &record, None).await?;
        Ok::<(), AppError>(())
    };
    let slot = crate::flows::slots::place(state, record.slot_id).await?;
    let now = Utc::now();
    if !reservable(slot.ends_at, now, state.cutoff()) {
        give_back().await?;
        return Err(refuse(
            Refusal::SlotUnavailable,
            "too_late",
            AppError::conflict(
                ErrorCode::SlotUnavailable,
                "the slot is no longer available",
            ),
        ));
    }
    let new = NewBooking {
        id: BookingId::new(),
        slot_id: record.slot_id,
        expert_id: record.expert_id,
        seeker_id,
        seeker_alias: alias(seeker_id),
        hold_id: req.hold_id,
        starts_at: slot.starts_at,
        ends_at: slot.ends_at,
        phone: state.cipher.seal(&phone),
        phone_masked: phone.masked(),
        note: note.map(|n| state.cipher.seal_text(&n)),
        priority_group: seeker.priority_group,
        priority_vouched: seeker.priority_vouched,
        fee_minor: state.config.fee_minor,
        idempotency_key: req.idempotency_key.map(str::to_owned),
        request_hash: request_hash.clone(),
        seeker_ref: req.seeker_ref.map(|r| state.cipher.seal_text(r)),
    };
    match state.confirmations.confirm(new, now).await {
        Ok(booking) => {
            // Committed: from here on the booking exists whatever happens to
            // Redis; a failure to mirror it is repaired by reconcile.
            state.hold_records.remove(&(seeker_id, req.hold_id));
            if let Err(e) = state.reserve.booked(seeker_id, &record).await {
                tracing::warn!(error = %e, "booking committed but not yet mirrored to Redis");
            }
            state.metrics.booking("confirmed");
            state
                .events
                .emit(&state.metrics, Event::BookingConfirmed { seeker });
            Ok(Confirmed {
                booking,
                replayed: false,
            })
        }
        Err(ConfirmError::SlotTaken) => {
            // Redis believed the slot free but Postgres has it booked: mirror
            // the truth so nobody else is misled.
            state.reserve.booked(seeker_id, &record).await?;
            Err(refuse(
                Refusal::SlotUnavailable,
                "slot_taken",
                AppError::conflict(
                    ErrorCode::SlotUnavailable,
                    "the slot was booked by someone else",
                ),
            ))
        }
        Err(ConfirmError::HoldUsed) => match replayed().await? {
            Some(previous) => replay(previous, &request_hash),
            None => Err(AppError::conflict(
                ErrorCode::HoldConfirmed,
                "this hold was already confirmed",
            )),
        },
        Err(ConfirmError::CapReached) => {
            // Redis thought the expert's day and week had room; the slot
            // itself is not booked, so it is given back, and the expert's
            // index is rebuilt from Postgres so Redis closes the full day
            // or week.
            give_back().await?;
            crate::flows::reconcile::expert(state, record.expert_id).await?;
            Err(refuse(
                Refusal::SlotUnavailable,
                "cap_reached",
                AppError::conflict(
                    ErrorCode::SlotUnavailable,
                    "the expert takes no more sessions that day or week",
                ),
            ))
        }
        Err(ConfirmError::ExpertBusy) => {
            // Another slot of this expert overlapping this one is booked;
            // this slot itself is not, so it is not marked booked.
            give_back().await?;
            Err(refuse(
                Refusal::SlotUnavailable,
                "slot_taken",
                AppError::conflict(
                    ErrorCode::SlotUnavailable,
                    "the expert is already booked at that time",
                ),
            ))
        }
        Err(ConfirmError::TooManyBookings) => {
            // The hold was kept alive for this confirmation; give the slot
            // back now rather than when the extension runs out.
            give_back().await?;
            Err(refuse(
                Refusal::BookingLimit,
                "limit",
                AppError::conflict(
                    ErrorCode::BookingLimit,
                    format!(
                        "at most {} upcoming bookings per seeker",
                        state.config.max_active_bookings
                    ),
                ),
            ))
        }
        Err(ConfirmError::Store(e)) => Err(e.into()),
    }
}

fn replay(previous: BookingRow, request_hash: &[u8]) -> AppResult<Confirmed> {
    if previous.request_hash.as_deref() != Some(request_hash) {
        return Err(AppError::Unprocessable {
            code: ErrorCode::IdempotencyMismatch,
            message: "this Idempotency-Key was used with a different request".into(),
            field: None,
        });
    }
    Ok(Confirmed {
        booking: previous,
        replayed: true,
    })
}

/// Who is looking at a booking, which decides what they may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    Seeker,
    Expert,
    Operator,
}

/// Loads a booking for a caller; anyone but its seeker, its expert or an
/// operator (an area's operator: of a booking with an expert of its area)
/// gets 404, so a booking's existence stays private.
pub async fn load_for(
    state: &AppState,
    principal: &Principal,
    seeker: Option<&SeekerRow>,
    id: BookingId,
) -> AppResult<(BookingRow, Viewer)> {
    let booking = bookings::get(&state.pool, id)
        .await
        .or_not_found("booking")?;
    use crate::token::Role;
    let viewer = match principal.role {
        Role::Operator => {
            expert_within_reach(state, principal, booking.expert_id, "booking").await?;
            Viewer::Operator
        }
        Role::Expert if principal.expert_id() == Some(booking.expert_id) => Viewer::Expert,
        Role::Seeker if seeker.map(|s| s.id) == Some(booking.seeker_id) => Viewer::Seeker,
        _ => return Err(AppError::NotFound("booking")),
    };
    Ok((booking, viewer))
}

/// 404 (`what`) for an area's operator unless the expert is of its area.
pub async fn expert_within_reach(
    state: &AppState,
    principal: &Principal,
    expert: anxin_domain::ids::ExpertId,
    what: &'static str,
) -> AppResult<()> {
    if crate::flows::reach::area(state, principal).await?.is_none() {
        return Ok(());
    }
    let region = bookings_expert_region(state, expert).await?;
    crate::flows::reach::sees(state, principal, region.as_deref(), what).await
}

async fn bookings_expert_region(
    state: &AppState,
    expert: anxin_domain::ids::ExpertId,
) -> AppResult<Option<String>> {
    match anxin_store::experts::get(&state.pool, expert).await {
        Ok(row) => Ok(Some(row.region)),
        Err(anxin_store::StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub struct Cancelled {
    pub booking: BookingRow,
    pub slot_reopened: bool,
}

/// The longest reason a canceller may give.
pub const MAX_CANCEL_REASON_CHARS: usize = 300;

#[tracing::instrument(skip(state, principal, seeker, reason))]
pub async fn cancel(
    state: &AppState,
    principal: &Principal,
    seeker: Option<&SeekerRow>,
    id: BookingId,
    reason: Option<&str>,
) -> AppResult<Cancelled> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > MAX_CANCEL_REASON_CHARS) {
        return Err(anxin_domain::ValidationError::new(
            "reason",
            "the reason is at most 300 characters",
        )
        .into());
    }
    let (booking, viewer) = load_for(state, principal, seeker, id).await?;
    check_cancel(booking.status).map_err(|r| match r {
        CancelRefusal::AlreadyCancelled => AppError::conflict(
            ErrorCode::BookingNotActive,
            "the booking is already cancelled",
        ),
        CancelRefusal::AlreadyCompleted => {
            AppError::conflict(ErrorCode::BookingNotActive, "the call already took place")
        }
    })?;
    let actor = Actor {
        role: match viewer {
            Viewer::Seeker => "seeker",
            Viewer::Expert => "expert",
            Viewer::Operator => "operator",
        },
        // A seeker is recorded by pseudonymous id, never by host-app subject.
        id: match viewer {
            Viewer::Seeker => booking.seeker_id.to_string(),
            _ => principal.sub.clone(),
        },
    };
    // An expert who cannot make it hands the booking over when someone else
    // is free then: the seeker keeps their time and is told the new name.
    if viewer == Viewer::Expert {
        if let Handover::Reassigned(_) = handover::reassign(state, &actor, &booking).await? {
            let slot_reopened = cancel_reopens_slot(booking.starts_at, Utc::now());
            if let Err(e) = state
                .reserve
                .unmark_booked(booking.expert_id, booking.slot_id, slot_reopened)
                .await
            {
                tracing::warn!(error = %e, "booking handed over but the old slot not yet reopened in Redis");
            }
            return Ok(Cancelled {
                booking: bookings::get(&state.pool, id).await?,
                slot_reopened,
            });
        }
    }
    let sealed = reason.map(|r| state.cipher.seal_text(r));
    let before = bookings::cancel(&state.pool, id, &actor, sealed.as_ref())
        .await?
        .ok_or_else(|| {
            AppError::conflict(
                ErrorCode::BookingNotActive,
                "the booking is no longer active",
            )
        })?;
    let slot_reopened = cancel_reopens_slot(before.starts_at, Utc::now());
    // The cancellation is committed: a Redis that doesn't answer now must not
    // turn it into an error the canceller would retry. A Redis that
    // restarted since is rebuilt without the booking's marker anyway.
    if let Err(e) = state
        .reserve
        .unmark_booked(before.expert_id, before.slot_id, slot_reopened)
        .await
    {
        tracing::warn!(error = %e, "booking cancelled but its slot not yet reopened in Redis");
    }
    state.metrics.booking("cancelled");
    let booking = bookings::get(&state.pool, id).await?;
    // The freed slot goes to the waitlist now, not at the next round (the
    // round runs in the background: the cancellation doesn't wait for it).
    if slot_reopened {
        state.waitlist_wake.notify_one();
    }
    Ok(Cancelled {
        booking,
        slot_reopened,
    })
}
