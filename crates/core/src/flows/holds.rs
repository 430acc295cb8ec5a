//! Placing and releasing holds. The slot's side is one atomic Lua script; the
//! seeker's side (idempotency, active-hold limit) is another, on the seeker's
//! hash slot. They run seeker-first, and a refused slot undoes the seeker side,
//! so a seeker is never charged a hold they did not get.
use crate::error::{AppError, AppResult, ErrorCode};
use crate::events::{Event, Refusal};
use crate::flows::{self, reconcile};
use crate::state::AppState;
use anxin_domain::ids::{HoldId, SlotId};
use anxin_reserve::{HoldRecord, SeekerHold, SlotHold};
use anxin_store::seekers::SeekerRow;
use chrono::{DateTime, Utc};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct HoldView {
    pub hold_id: HoldId,
    pub slot_id: SlotId,
    pub expires_at: DateTime<Utc>,
    /// True when this answers a retried request (same idempotency key).
    pub replayed: bool,
}

/// Enforces the in-process hold rate limits, per seeker and per IP (governor,
/// no round trip). The per-seeker limit across every instance (GCRA in Redis)
/// is part of the seeker's hold script, so N instances together still allow
/// only the configured rate.
async fn check_rate(state: &AppState, seeker: &SeekerRow, ip: &str) -> AppResult<()> {
    let refuse = |wait: Duration, what: &str| {
        state.metrics.hold("rate_limited");
        tracing::info!(limit = what, "hold rate limited");
        AppError::TooManyRequests { retry_after: wait }
    };
    // Each limiter's own clock: building a fresh one calibrates it (CPUID),
    // which costs more than the whole check.
    use governor::clock::Clock;
    let seeker_key = seeker.id.to_string();
    if let Err(not_until) = state.seeker_limiter.check_key(&seeker_key) {
        return Err(refuse(
            not_until.wait_time_from(state.seeker_limiter.clock().now()),
            "seeker",
        ));
    }
    if let Err(not_until) = state.ip_limiter.check_key(&ip.to_string()) {
        return Err(refuse(
            not_until.wait_time_from(state.ip_limiter.clock().now()),
            "ip",
        ));
    }
    Ok(())
}

#[tracing::instrument(skip(state, seeker, idempotency_key, ip), fields(seeker_id = %seeker.id))]
pub async fn place(
    state: &AppState,
    seeker: &SeekerRow,
    slot_id: SlotId,
    idempotency_key: Option<&str>,
    ip: &str,
) -> AppResult<HoldView> {
    check_rate(state, seeker, ip).await?;
    hold_for(state, seeker, slot_id, idempotency_key).await
}

/// A hold for the seeker on the slot, both sides decided atomically in
/// Redis (no in-process rate limit: `place` checks it for requests; the
/// waitlist's offers come from the service itself).
pub(crate) async fn hold_for(
    state: &AppState,
    seeker: &SeekerRow,
    slot_id: SlotId,
    idempotency_key: Option<&str>,
) -> AppResult<HoldView> {
    let slot = flows::slots::place(state, slot_id).await?;
    let seeker_id = seeker.id;
    let hold_id = HoldId::new();
    let expert = slot.expert_id;
    let request_hash = state
        .subjects
        .request_hash_text(&format!("hold\n{slot_id}"));
    let refused = |refusal: Refusal| {
        state.events.emit(
            &state.metrics,
            Event::HoldRefused {
                seeker,
                slot_id,
                expert_id: expert,
                refusal,
            },
        )
    };
    let priority_seeker = seeker.priority_group.is_priority();
    // The seeker side's expiry is what a retry with the same key replays, so
    // the first answer reports it too (the slot side expires a moment later).
    let expires_at = match state
        .reserve
        .acquire_for_seeker(
            seeker_id,
            hold_id,
            slot_id,
            expert,
            idempotency_key,
            &request_hash,
        )
        .await?
    {
        SeekerHold::Acquired { expires_at } => expires_at,
        SeekerHold::Replay {
            hold_id,
            slot_id,
            expires_at,
        } => {
            return Ok(HoldView {
                hold_id,
                slot_id,
                expires_at,
                replayed: true,
            })
        }
        SeekerHold::IdempotencyMismatch => {
            return Err(AppError::Unprocessable {
                code: ErrorCode::IdempotencyMismatch,
                message: "this Idempotency-Key was used with a different request".into(),
                field: None,
            })
        }
        SeekerHold::RateLimited { retry_after } => {
            state.metrics.hold("rate_limited");
            tracing::info!(limit = "seeker_shared", "hold rate limited");
            return Err(AppError::TooManyRequests { retry_after });
        }
        SeekerHold::HoldLimit => {
            state.metrics.hold("hold_limit");
            refused(Refusal::HoldLimit);
            return Err(AppError::conflict(
                ErrorCode::HoldLimit,
                "you already hold a slot; confirm or release it first",
            ));
        }
    };
    let record = HoldRecord {
        hold_id,
        slot_id,
        expert_id: expert,
        expires_at,
    };
    let decided: AppResult<SlotHold> = async {
        let mut decision = state
            .reserve
            .hold_slot(expert, slot_id, hold_id, seeker_id, priority_seeker)
            .await?;
        if decision == SlotHold::Unknown && !state.reserve.is_indexed(expert).await? {
            // The index is gone (Redis wiped or restarted): rebuild this expert
            // from Postgres and decide again.
            reconcile::expert(state, expert).await?;
            decision = state
                .reserve
                .hold_slot(expert, slot_id, hold_id, seeker_id, priority_seeker)
                .await?;
        }
        Ok(decision)
    }
    .await;
    let decision = match decided {
        Ok(decision) => decision,
        Err(e) => {
            // Don't leave the seeker charged with a hold they did not get.
            let _ = state
                .reserve
                .forget_hold(seeker_id, &record, idempotency_key)
                .await;
            return Err(e);
        }
    };
    let refusal = match decision {
        SlotHold::Held { .. } => {
            state.metrics.hold("placed");
            state.events.emit(
                &state.metrics,
                Event::HoldPlaced {
                    seeker,
                    hold_id,
                    slot_id,
                    expert_id: expert,
                    starts_at: slot.starts_at,
                    expires_at,
                },
            );
            return Ok(HoldView {
                hold_id,
                slot_id,
                expires_at,
                replayed: false,
            });
        }
        SlotHold::Unavailable | SlotHold::Unknown => "the slot is no longer available",
        SlotHold::TooLate => "the slot is too close to its end to be booked",
    };
    state
        .reserve
        .forget_hold(seeker_id, &record, idempotency_key)
        .await?;
    state.metrics.hold("unavailable");
    refused(Refusal::SlotUnavailable);
    Err(AppError::conflict(ErrorCode::SlotUnavailable, refusal))
}

#[tracing::instrument(skip(state, seeker), fields(seeker_id = %seeker.id))]
pub async fn release(state: &AppState, seeker: &SeekerRow, hold_id: HoldId) -> AppResult<()> {
    let seeker_id = seeker.id;
    let record = state
        .reserve
        .hold_record(seeker_id, hold_id)
        .await?
        .ok_or(AppError::NotFound("hold"))?;
    state.reserve.release_slot(&record, seeker_id).await?;
    state.reserve.forget_hold(seeker_id, &record, None).await?;
    state.metrics.hold("released");
    state.events.emit(
        &state.metrics,
        Event::HoldReleased {
            seeker,
            hold_id,
            slot_id: record.slot_id,
            expert_id: record.expert_id,
        },
    );
    Ok(())
}
