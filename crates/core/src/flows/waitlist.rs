//! The waitlist: a seeker waits for a slot that suits them; when one opens
//! (a cancellation, a lapsed hold, new hours) the first waiting seeker is
//! given a hold on it through the same atomic path as any hold, for at least
//! ten minutes, and the host app hears `waitlist.offered`. An offer nobody
//! claims lapses like any hold, and its slot goes to the next.
//!
//! Matching runs every second on every instance (`keep_offering`) and at
//! once when a cancellation wakes it. Two instances may race for one entry or one
//! slot: the slot's hold is decided in Redis (one winner), the seeker holds
//! one slot at a time, and an entry is offered only while still waiting, so
//! a hold that loses the last step is given back.
use crate::error::{AppError, AppResult, ErrorCode};
use crate::flows::holds::{self, HoldView};
use crate::state::AppState;
use anxin_domain::ids::SeekerId;
use anxin_domain::waitlist::{
    WaitlistInput, WaitlistStatus, MAX_WAITING_PER_SEEKER, OFFER_AT_LEAST,
};
use anxin_reserve::HoldRecord;
use anxin_store::seekers::SeekerRow;
use anxin_store::waitlist::{self as store, WaitlistRow};
use chrono::Utc;
use std::time::Duration;
use uuid::Uuid;

/// Entries looked at in one round, oldest first.
const PER_ROUND: i64 = 100;
/// Slots tried for one entry in one round.
const TRIED_PER_ENTRY: i64 = 20;

pub struct Joined {
    pub id: Uuid,
    pub position: i64,
}

/// Adds the seeker to the waitlist (409 `waitlist_limit` with three
/// already waiting).
#[tracing::instrument(skip_all, fields(seeker_id = %seeker.id))]
pub async fn join(
    state: &AppState,
    seeker: &SeekerRow,
    seeker_ref: Option<&str>,
    input: &WaitlistInput,
) -> AppResult<Joined> {
    let wish = input.validate(Utc::now())?;
    if let Some(expert) = wish.expert_id {
        let known =
            anxin_store::supervision::standing(&state.pool, anxin_domain::ids::ExpertId(expert))
                .await?
                .is_some_and(|s| s.approved);
        if !known {
            return Err(anxin_domain::ValidationError::new(
                "expert_id",
                "names no expert seekers can book",
            )
            .into());
        }
    }
    let sealed = seeker_ref.map(|r| state.cipher.seal_text(r));
    let id = store::insert(
        &state.pool,
        seeker.id,
        &wish,
        sealed.as_ref(),
        MAX_WAITING_PER_SEEKER,
    )
    .await?
    .ok_or_else(|| {
        AppError::conflict(
            ErrorCode::WaitlistLimit,
            format!("at most {MAX_WAITING_PER_SEEKER} waitlist entries at once"),
        )
    })?;
    let position = store::position(&state.pool, id).await?;
    Ok(Joined { id, position })
}

/// The seeker's own entry (404 for anyone else's), settled first, and its
/// place in line while it waits.
pub async fn get(
    state: &AppState,
    seeker: SeekerId,
    id: Uuid,
) -> AppResult<(WaitlistRow, Option<i64>)> {
    store::settle_offers(&state.pool).await?;
    let row = store::get(&state.pool, id)
        .await?
        .filter(|w| w.seeker_id == seeker)
        .ok_or(AppError::NotFound("waitlist entry"))?;
    let position = match row.status {
        WaitlistStatus::Waiting => Some(store::position(&state.pool, id).await?),
        _ => None,
    };
    Ok((row, position))
}

/// Leaves the waitlist; an offer not taken is given back at once.
#[tracing::instrument(skip(state, seeker), fields(seeker_id = %seeker.id))]
pub async fn leave(state: &AppState, seeker: &SeekerRow, id: Uuid) -> AppResult<()> {
    let Some(row) = store::cancel(&state.pool, id, seeker.id).await? else {
        return match store::get(&state.pool, id).await? {
            Some(w) if w.seeker_id == seeker.id => Ok(()),
            _ => Err(AppError::NotFound("waitlist entry")),
        };
    };
    if let (WaitlistStatus::Offered, Some(hold)) = (row.status, row.hold_id) {
        // Gone already (booked or lapsed) is fine: nothing to give back.
        match holds::release(state, seeker, hold).await {
            Ok(()) | Err(AppError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One round: settles offers, then gives each waiting entry (first come
/// first) the soonest free slot that suits it. Returns how many were
/// offered.
pub async fn offer_round(state: &AppState) -> AppResult<usize> {
    store::settle_offers(&state.pool).await?;
    let mut offered = 0;
    for entry in store::waiting(&state.pool, PER_ROUND).await? {
        if offer_one(state, &entry).await? {
            offered += 1;
        }
    }
    Ok(offered)
}

async fn offer_one(state: &AppState, entry: &WaitlistRow) -> AppResult<bool> {
    let now = Utc::now();
    let Some(seeker) = anxin_store::seekers::get(&state.pool, entry.seeker_id).await? else {
        return Ok(false);
    };
    // Still reservable: ending after the booking cutoff from now.
    let from = now + state.cutoff();
    let candidates =
        store::candidate_slots(&state.pool, &entry.wish, from, TRIED_PER_ENTRY).await?;
    for (slot, _) in candidates {
        let hold = match holds::hold_for(state, &seeker, slot, None).await {
            Ok(h) => h,
            // Taken, held back, or the seeker already holds a slot: try the
            // next slot, or (holding) the next round.
            Err(AppError::Conflict {
                code: ErrorCode::HoldLimit,
                ..
            }) => return Ok(false),
            Err(AppError::Conflict { .. }) | Err(AppError::NotFound(_)) => continue,
            Err(AppError::TooManyRequests { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        return settle_offer(state, &seeker, entry, hold).await;
    }
    Ok(false)
}

/// Keeps the new hold for the offer's length and records the offer; gives
/// the hold back when the entry stopped waiting meanwhile.
async fn settle_offer(
    state: &AppState,
    seeker: &SeekerRow,
    entry: &WaitlistRow,
    hold: HoldView,
) -> AppResult<bool> {
    let slot = anxin_store::slots::get(&state.pool, hold.slot_id).await?;
    let keep = state.config.waitlist_offer;
    let record = HoldRecord {
        hold_id: hold.hold_id,
        slot_id: hold.slot_id,
        expert_id: slot.expert_id,
        expires_at: hold.expires_at,
    };
    let kept = state.reserve.extend_hold(&record, seeker.id, keep).await?;
    let expires_at = Utc::now() + chrono::Duration::from_std(keep).unwrap_or(OFFER_AT_LEAST);
    // The seeker's and the slot's sides of the hold now last as long.
    let recorded = kept
        && store::offer(
            &state.pool,
            entry.id,
            hold.hold_id,
            hold.slot_id,
            slot.starts_at,
            expires_at,
        )
        .await?;
    if !recorded {
        holds::release(state, seeker, hold.hold_id).await?;
        return Ok(false);
    }
    tracing::info!(waitlist_id = %entry.id, "waitlist offer made");
    Ok(true)
}

/// Offers waiting seekers the slots that free up, every second and at once
/// when woken (`AppState::waitlist_wake`, after a cancellation), for as long
/// as the service runs.
pub async fn keep_offering(state: &AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = state.waitlist_wake.notified() => {}
        }
        if let Err(e) = offer_round(state).await {
            tracing::warn!(error = %e, "waitlist round failed; retrying");
        }
    }
}
