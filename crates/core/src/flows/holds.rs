//! Placing and releasing holds. A hold has two sides, decided atomically in
//! Redis (`Reserve::hold`): the seeker's (idempotency, the shared rate
//! limit, the hold limit) and the slot's, so a seeker is never charged a
//! hold they did not get.
use crate::error::{AppError, AppResult, ErrorCode};
use crate::events::{Event, Refusal};
use crate::flows::{self, reconcile};
use crate::state::AppState;
use anxin_domain::ids::{HoldId, SlotId};
use anxin_reserve::{Hold, HoldRecord, HoldRequest};
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
    // Only a request with a key can be retried, so only it needs its hash.
    let request_hash = idempotency_key.map(|_| {
        state
            .subjects
            .request_hash_text(&format!("hold\n{slot_id}"))
    });
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
    let request = HoldRequest {
        seeker: seeker_id,
        hold: hold_id,
        slot: slot_id,
        expert,
        priority_seeker: seeker.priority_group.is_priority(),
        idempotency_key,
        request_hash: request_hash.as_deref().unwrap_or(""),
    };
    // An expert whose index is gone (Redis wiped or restarted) is rebuilt
    // from Postgres, and the slot asked for again.
    let answer = state
        .reserve
        .hold(&request, || reconcile::expert(state, expert))
        .await?;
    let refusal = match answer {
        Hold::Held { expires_at } => {
            state.hold_records.insert(
                (seeker_id, hold_id),
                HoldRecord {
                    hold_id,
                    slot_id,
                    expert_id: expert,
                    expires_at,
                },
            );
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
        Hold::Replay {
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
        Hold::IdempotencyMismatch => {
            return Err(AppError::Unprocessable {
                code: ErrorCode::IdempotencyMismatch,
                message: "this Idempotency-Key was used with a different request".into(),
                field: None,
            })
        }
        Hold::RateLimited { retry_after } => {
            state.metrics.hold("rate_limited");
            tracing::info!(limit = "seeker_shared", "hold rate limited");
            return Err(AppError::TooManyRequests { retry_after });
        }
        Hold::HoldLimit => {
            state.metrics.hold("hold_limit");
            refused(Refusal::HoldLimit);
            return Err(AppError::conflict(
                ErrorCode::HoldLimit,
                "you already hold a slot; confirm or release it first",
            ));
        }
        Hold::Unavailable | Hold::Unknown => "the slot is no longer available",
        Hold::TooLate => "the slot is too close to its end to be booked",
    };
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
    state.hold_records.remove(&(seeker_id, hold_id));
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
