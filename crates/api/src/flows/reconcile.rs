//! Rebuilding Redis from Postgres. Redis may be wiped or restarted at any
//! moment; this puts back the open-slot index and the booked markers. Holds
//! are not in Postgres and are simply gone after a wipe: their seekers get
//! `hold_expired` when they confirm.
use crate::error::ApiResult;
use crate::flows::availability::indexed;
use crate::state::AppState;
use anxin_domain::ids::{ExpertId, SlotId};
use anxin_store::{bookings, slots};
use chrono::Utc;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    pub experts: usize,
    pub open_slots: usize,
    pub booked_slots: usize,
}

#[tracing::instrument(skip(state))]
pub async fn all(state: &AppState) -> ApiResult<Reconciled> {
    let now = Utc::now();
    let open = slots::all_open(&state.pool, now).await?;
    let booked = bookings::active_slots(&state.pool, now).await?;
    let mut per_expert: HashMap<ExpertId, (Vec<anxin_reserve::IndexedSlot>, Vec<SlotId>)> =
        HashMap::new();
    for s in &open {
        per_expert
            .entry(s.expert_id())
            .or_default()
            .0
            .push(indexed(s));
    }
    for (expert, slot) in &booked {
        per_expert
            .entry(ExpertId(*expert))
            .or_default()
            .1
            .push(SlotId(*slot));
    }
    let mut done = Reconciled::default();
    // Thousands of scripts: on the bulk connection, so requests don't queue
    // behind them.
    let bulk = state.reserve.bulk();
    for (expert, (open, booked)) in &per_expert {
        bulk.rebuild_expert(*expert, open, booked).await?;
        done.experts += 1;
        done.open_slots += open.len() - booked.len().min(open.len());
        done.booked_slots += booked.len();
    }
    // Experts indexed but no longer approved (suspended) leave the index.
    let live: HashSet<ExpertId> = per_expert.keys().copied().collect();
    for expert in state.reserve.indexed_experts().await? {
        if !live.contains(&expert) {
            state.reserve.drop_expert(expert).await?;
        }
    }
    tracing::info!(
        experts = done.experts,
        open = done.open_slots,
        booked = done.booked_slots,
        "reconciled Redis from Postgres"
    );
    Ok(done)
}

/// Rebuilds one expert's index (after their index was found missing); an
/// expert who is not approved gets no index at all.
#[tracing::instrument(skip(state))]
pub async fn expert(state: &AppState, expert: ExpertId) -> ApiResult<()> {
    let row = anxin_store::experts::get(&state.pool, expert).await?;
    if row.status()? != anxin_domain::expert::ExpertStatus::Approved {
        state.reserve.drop_expert(expert).await?;
        return Ok(());
    }
    let mut conn = state
        .pool
        .acquire()
        .await
        .map_err(anxin_store::StoreError::from)?;
    let rows = slots::open_for_expert(&mut conn, expert, Utc::now()).await?;
    let open: Vec<_> = rows.iter().map(indexed).collect();
    let booked: Vec<SlotId> = rows.iter().filter(|s| s.booked).map(|s| s.id()).collect();
    state.reserve.rebuild_expert(expert, &open, &booked).await?;
    Ok(())
}
