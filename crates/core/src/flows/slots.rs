//! Where a slot lives: its expert and its times. They never change once the
//! slot exists, so each instance keeps them for long, filled by every listing
//! that shows slots (the slate, an expert's slots) and by a lookup in Postgres
//! on a miss. A hold then costs no Postgres round trip for the slot a seeker
//! was just shown. Whether a slot is open, held or booked is never read from
//! here: Redis and Postgres decide that.
use crate::error::{AppResult, OrNotFound};
use crate::state::{AppState, SlotPlace};
use anxin_domain::ids::{ExpertId, SlotId};
use anxin_reserve::IndexedSlot;
use anxin_store::slots;
use chrono::{DateTime, Duration, Utc};

/// The slot's expert and times; 404 `slot` when there is no such slot.
pub async fn place(state: &AppState, slot: SlotId) -> AppResult<SlotPlace> {
    if let Some(place) = state.slot_cache.get(&slot) {
        return Ok(place);
    }
    let row = slots::get(&state.pool, slot).await.or_not_found("slot")?;
    let place = SlotPlace {
        expert_id: row.expert_id,
        starts_at: row.starts_at,
        ends_at: row.ends_at,
    };
    state.slot_cache.insert(slot, place);
    Ok(place)
}

/// Remembers the slots a listing is about to show.
pub fn shown(state: &AppState, expert: ExpertId, slots: &[IndexedSlot]) {
    state.slot_cache.fill(slots.iter().map(|s| {
        (
            s.slot_id,
            SlotPlace {
                expert_id: expert,
                starts_at: s.starts_at,
                ends_at: s.ends_at,
            },
        )
    }));
}

/// Where listings end by default: the end of the horizon slots are
/// materialized for, and a day more.
pub fn listed_until(state: &AppState, now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::days(i64::from(state.config.horizon_days) + 1)
}
