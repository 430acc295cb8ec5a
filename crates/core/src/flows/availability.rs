//! Turning an availability into slots, and keeping the horizon rolling.
use crate::error::{AppResult, OrNotFound};
use crate::state::AppState;
use anxin_domain::availability::{plan_slot_changes, Availability, StoredSlot};
use anxin_domain::booking::held_back_for_priority;
use anxin_domain::ids::{ExpertId, SlotId};
use anxin_reserve::IndexedSlot;
use anxin_store::audit::{self, Actor};
use anxin_store::{experts, slots, StoreError};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashSet;

pub struct Applied {
    /// Open slots in the horizon after the change (booked ones excluded).
    pub open_slots: usize,
    /// Held or booked slots the new availability no longer covers; kept.
    pub conflicts: Vec<SlotId>,
}

/// Saves the availability and brings the expert's slots in line with it.
/// Held and booked slots are never removed: they come back as conflicts.
/// An edit by a person (`edited_by`) is recorded in the audit log, in the
/// save's transaction; rolling the horizon is not an edit.
#[tracing::instrument(skip(state, availability, edited_by))]
pub async fn apply(
    state: &AppState,
    expert: ExpertId,
    availability: &Availability,
    now: DateTime<Utc>,
    edited_by: Option<&Actor>,
) -> AppResult<Applied> {
    let mut tx = state.pool.begin().await.map_err(StoreError::from)?;
    let row = experts::lock(&mut tx, expert)
        .await
        .or_not_found("expert")?;
    let day_rule_changed = experts::save_availability(&mut tx, expert, availability).await?;
    let desired = availability.slots(now, Duration::days(i64::from(state.config.horizon_days)));
    let stored = slots::open_for_expert(&mut tx, expert, now).await?;
    let held: HashSet<SlotId> = state
        .reserve
        .held_slots(expert)
        .await?
        .into_iter()
        .collect();
    let planned = plan_slot_changes(
        &stored
            .iter()
            .map(|s| StoredSlot {
                id: s.id,
                time: s.time(),
                protected: s.booked || held.contains(&s.id),
            })
            .collect::<Vec<_>>(),
        &desired,
    );
    // Redis first: once a slot is out of the index nobody can hold it, so the
    // database never withdraws a slot that is being held right now. A slot
    // held in between comes back from the script as a conflict.
    let mut conflicts = planned.conflicts;
    let kept = state
        .reserve
        .withdraw_slots(expert, &planned.withdraw)
        .await?;
    let withdraw: Vec<SlotId> = planned
        .withdraw
        .into_iter()
        .filter(|s| !kept.contains(s))
        .collect();
    conflicts.extend(kept);
    slots::withdraw(&mut tx, &withdraw).await?;
    let held_back: Vec<Option<DateTime<Utc>>> = planned
        .insert
        .iter()
        .map(|t| priority_until(state, expert, t.starts_at))
        .collect();
    let inserted = slots::insert(&mut tx, expert, &planned.insert, &held_back).await?;
    if let Some(actor) = edited_by {
        audit::record(
            &mut tx,
            actor,
            "availability.edit",
            "expert",
            expert.0,
            serde_json::json!({
                "slots_added": inserted.len(),
                "slots_withdrawn": withdraw.len(),
                "conflicts": conflicts.len(),
            }),
        )
        .await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    crate::flows::slate::invalidate(state).await;
    if row.status == anxin_domain::expert::ExpertStatus::Approved {
        // The slots kept are written again only when their day's cap, or
        // the time zone that says which day they fall on, changed: rolling
        // the horizon forward (every expert, every run) writes only new ones.
        let kept = stored
            .iter()
            .filter(|s| day_rule_changed && !withdraw.contains(&s.id));
        let index: Vec<IndexedSlot> = kept.chain(&inserted).map(indexed).collect();
        state.reserve.upsert_slots(expert, &index).await?;
    }
    let open_slots = stored
        .iter()
        .filter(|s| !s.booked && !withdraw.contains(&s.id) && !conflicts.contains(&s.id))
        .count()
        + inserted.len();
    Ok(Applied {
        open_slots,
        conflicts,
    })
}

/// When a new slot held back for priority groups opens to everyone.
fn priority_until(
    state: &AppState,
    expert: ExpertId,
    starts_at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    held_back_for_priority(expert, starts_at, state.config.priority_share).then(|| {
        starts_at
            - Duration::from_std(state.config.priority_release_before)
                .unwrap_or_else(|_| Duration::hours(2))
    })
}

pub fn indexed(s: &slots::SlotRow) -> IndexedSlot {
    IndexedSlot {
        slot_id: s.id,
        starts_at: s.starts_at,
        ends_at: s.ends_at,
        priority_until: s.priority_until,
        local_day: chrono::Datelike::num_days_from_ce(&s.local_date),
        max_sessions_per_day: s.max_sessions_per_day.and_then(|n| u32::try_from(n).ok()),
        local_week: chrono::Datelike::num_days_from_ce(
            &s.local_date.week(chrono::Weekday::Mon).first_day(),
        ),
        max_sessions_per_week: s.max_sessions_per_week.and_then(|n| u32::try_from(n).ok()),
    }
}

/// Re-applies every approved expert's availability, so the horizon rolls
/// forward (new days appear, nothing held or booked is touched).
pub async fn roll_horizon(state: &AppState, now: DateTime<Utc>) -> AppResult<usize> {
    let mut rolled = 0;
    for expert in experts::with_availability(&state.pool).await? {
        if let Some(a) = experts::load_availability(&state.pool, expert).await? {
            apply(state, expert, &a, now, None).await?;
            rolled += 1;
        }
    }
    Ok(rolled)
}

/// A rest after an emergency referral: the expert's local days from `now`'s
/// (`days` of them) become closed dates, so none of their open slots on them
/// is offered any more; booked and held ones stay. The expert reopens a day
/// by removing the closed date on their portal. The expert also goes off
/// duty (help now), and switches on again themselves. Nothing for `days` 0.
#[tracing::instrument(skip(state, by))]
pub async fn rest(
    state: &AppState,
    expert: ExpertId,
    days: u32,
    now: DateTime<Utc>,
    by: &Actor,
) -> AppResult<()> {
    if days == 0 {
        return Ok(());
    }
    // Nor is a resting volunteer rung for help now: off duty, until they
    // switch on again themselves.
    anxin_store::help_now::go_off_duty(&state.pool, expert).await?;
    let Some(mut availability) = experts::load_availability(&state.pool, expert).await? else {
        return Ok(());
    };
    let today = now.with_timezone(&availability.timezone).date_naive();
    for d in 0..days {
        availability
            .overrides
            .insert(today + Duration::days(i64::from(d)), Vec::new());
    }
    apply(state, expert, &availability, now, Some(by)).await?;
    Ok(())
}
