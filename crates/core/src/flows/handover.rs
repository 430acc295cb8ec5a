//! Handing a booking to another expert when its expert is suspended or
//! cancels it: the seeker keeps their time, their booking id and their call,
//! and only the expert changes.
//!
//! The stand-in is drawn as the slate draws experts (balanced by open
//! capacity and recent impressions, `domain::slate`) among approved experts
//! who share a language with the first one and are free at exactly the same
//! start and end. Their slot is taken through the same two guards as a
//! seeker's booking: the slot's hold script in Redis, so a seeker racing for
//! that slot and the handover can't both win it, then `reassign_booking` in
//! Postgres (slot still offered, daily cap, no overlap, one active booking
//! per slot). Where nobody is free the booking is cancelled with the reason
//! [`EXPERT_UNAVAILABLE`], and its fee is refunded like any cancellation
//! before the start.
use crate::error::AppResult;
use crate::flows::slate::recent_impressions;
use crate::state::AppState;
use anxin_domain::call::CallState;
use anxin_domain::ids::{ExpertId, HoldId};
use anxin_domain::slate::{choose_balanced, BalanceParams, Candidate};
use anxin_reserve::{HoldRecord, SlotHold};
use anxin_store::audit::Actor;
use anxin_store::bookings::{self, BookingRow, Reassigned};
use chrono::Utc;

/// The cancellation reason the seeker reads when nobody could take over.
pub const EXPERT_UNAVAILABLE: &str = "expert_unavailable";

/// What became of one booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handover {
    /// Now with this expert.
    Reassigned(ExpertId),
    /// Nobody is free at that time.
    NobodyFree,
    /// The booking changed meanwhile (cancelled, moved, its call started):
    /// left as it is.
    NotActive,
}

/// A call that is ringing or talking is never moved or cut.
fn call_running(state: CallState) -> bool {
    matches!(
        state,
        CallState::DialingExpert | CallState::DialingSeeker | CallState::Bridged
    )
}

/// Tries to move `booking` to a stand-in; `actor` is who caused it (audited).
#[tracing::instrument(skip_all, fields(booking_id = %booking.id))]
pub async fn reassign(
    state: &AppState,
    actor: &Actor,
    booking: &BookingRow,
) -> AppResult<Handover> {
    if call_running(booking.call_state) {
        return Ok(Handover::NotActive);
    }
    let now = Utc::now();
    let stand_ins = bookings::stand_ins(&state.pool, booking, now).await?;
    if stand_ins.is_empty() {
        return Ok(Handover::NobodyFree);
    }
    // Impressions only steer the draw; without them it is by capacity.
    let seen = recent_impressions(&state.reserve, now)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "no impressions for the handover's draw");
            Default::default()
        });
    let candidates: Vec<Candidate> = stand_ins
        .iter()
        .map(|s| Candidate {
            expert_id: s.expert_id,
            // Their slot at this time is open, so at least one.
            capacity: s.open_slots.max(1),
            impressions: seen.get(&s.expert_id).copied().unwrap_or(0),
        })
        .collect();
    let params = BalanceParams {
        size: candidates.len(),
        ..BalanceParams::default()
    };
    let order = choose_balanced(&candidates, &params, &mut rand::thread_rng());
    let priority = booking.priority_group.is_priority();
    for i in order {
        let s = stand_ins[i];
        let hold_id = HoldId::new();
        let expires_at = match state
            .reserve
            .hold_slot(s.expert_id, s.slot_id, hold_id, booking.seeker_id, priority)
            .await?
        {
            SlotHold::Held { expires_at } => expires_at,
            // Held or booked by someone, too late, or not indexed: next.
            _ => continue,
        };
        let record = HoldRecord {
            hold_id,
            slot_id: s.slot_id,
            expert_id: s.expert_id,
            expires_at,
        };
        let decided = bookings::reassign(&state.pool, booking, s.expert_id, s.slot_id, actor).await;
        if !matches!(decided, Ok(Reassigned::Reassigned)) {
            state
                .reserve
                .release_slot(&record, booking.seeker_id)
                .await?;
        }
        match decided? {
            Reassigned::Reassigned => {
                // Committed; a Redis that misses this is repaired by reconcile.
                if let Err(e) = state.reserve.mark_booked(s.expert_id, s.slot_id).await {
                    tracing::warn!(error = %e, "booking reassigned but not yet mirrored to Redis");
                }
                state.metrics.booking("reassigned");
                return Ok(Handover::Reassigned(s.expert_id));
            }
            Reassigned::SlotTaken => continue,
            Reassigned::NotActive => return Ok(Handover::NotActive),
        }
    }
    Ok(Handover::NobodyFree)
}

/// What a suspension did to the expert's upcoming bookings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HandedOver {
    pub reassigned: u32,
    pub cancelled: u32,
}

/// Hands each upcoming booking of a (just suspended) expert to a stand-in,
/// or cancels it with [`EXPERT_UNAVAILABLE`]. A call under way is left to
/// finish. Safe to repeat: a second run finds only what the first left.
#[tracing::instrument(skip(state, actor))]
pub async fn expert_suspended(
    state: &AppState,
    actor: &Actor,
    expert: ExpertId,
) -> AppResult<HandedOver> {
    let mut done = HandedOver::default();
    for booking in bookings::upcoming_for_expert(&state.pool, expert, Utc::now()).await? {
        match reassign(state, actor, &booking).await? {
            Handover::Reassigned(_) => done.reassigned += 1,
            Handover::NotActive => {}
            Handover::NobodyFree => {
                let reason = state.cipher.seal_text(EXPERT_UNAVAILABLE);
                if bookings::cancel(&state.pool, booking.id, actor, Some(&reason))
                    .await?
                    .is_some()
                {
                    state.metrics.booking("cancelled");
                    done.cancelled += 1;
                }
            }
        }
    }
    if done != HandedOver::default() {
        tracing::info!(
            reassigned = done.reassigned,
            cancelled = done.cancelled,
            "a suspended expert's bookings were handed over"
        );
    }
    Ok(done)
}
