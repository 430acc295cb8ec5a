//! Rebuilding Redis from Postgres. Redis may be wiped or restarted at any
//! moment; this puts back the open-slot index and the booked markers. Holds
//! are not in Postgres and are simply gone after a wipe: their seekers get
//! `hold_expired` when they confirm.
//!
//! A Redis that restarted or was flushed is noticed within `WATCH_EVERY` by
//! every instance (`watch`: the index marker is gone) and rebuilt at once by
//! one of them, instead of waiting for the next periodic reconcile; every
//! instance then reads the slate's weights again, which would otherwise
//! show the empty Redis for up to their refresh interval. Until the rebuild
//! is done, a hold on an expert not yet rebuilt rebuilds that expert first
//! (`expert`), so holds never wait for the whole index.
use crate::error::AppResult;
use crate::flows::availability::indexed;
use crate::state::AppState;
use anxin_domain::ids::{ExpertId, SlotId};
use anxin_reserve::IndexState;
use anxin_store::{bookings, slots};
use chrono::Utc;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// How often each instance checks that Redis still has the index.
pub const WATCH_EVERY: Duration = Duration::from_millis(250);
/// How long a claimed rebuild may go unrenewed before another instance takes
/// over (the rebuilding instance renews it every third of it).
const REBUILD_LEASE: Duration = Duration::from_secs(15);

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    pub experts: usize,
    pub open_slots: usize,
    pub booked_slots: usize,
    /// Experts left as they were: their index was built from the rows
    /// Postgres has now (`changed` only).
    pub unchanged: usize,
}

/// Rebuilds every expert's index from Postgres (at start-up, by the
/// `reconcile` command, and every `FULL_EVERY` periodic rounds).
#[tracing::instrument(skip(state))]
pub async fn all(state: &AppState) -> AppResult<Reconciled> {
    reconcile(state, false).await
}

/// The periodic round: reads every expert's rows from Postgres and rebuilds
/// only the experts whose rows differ from those their index was last built
/// from (a booking, a change of hours, a slot that started), or whose index
/// is gone. Rebuilding all 215,000 slots of the load test's 320 experts
/// every minute cost Redis about a quarter of a core while it ran, and moved
/// every expert's version, so every instance's copies of open slots were
/// read again.
#[tracing::instrument(skip(state))]
pub async fn changed(state: &AppState) -> AppResult<Reconciled> {
    reconcile(state, true).await
}

/// How many periodic rounds pass between two that rebuild every expert,
/// whatever their rows: what Redis might have lost or gained without a
/// change in Postgres is put right at least this often.
pub const FULL_EVERY: u64 = 10;

async fn reconcile(state: &AppState, skip_unchanged: bool) -> AppResult<Reconciled> {
    let now = Utc::now();
    let open = slots::all_open(&state.pool, now).await?;
    let booked = bookings::active_slots(&state.pool, now).await?;
    let mut per_expert: HashMap<ExpertId, (Vec<anxin_reserve::IndexedSlot>, Vec<SlotId>)> =
        HashMap::new();
    for s in &open {
        per_expert
            .entry(s.expert_id)
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
    let truths: Vec<_> = per_expert
        .iter()
        .map(|(e, (open, booked))| (*e, open.as_slice(), booked.as_slice()))
        .collect();
    let current = if skip_unchanged {
        bulk.rebuilt_from(&truths).await?
    } else {
        vec![false; truths.len()]
    };
    for ((expert, open, booked), current) in truths.iter().zip(current) {
        if current {
            done.unchanged += 1;
            continue;
        }
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
        unchanged = done.unchanged,
        "reconciled Redis from Postgres"
    );
    Ok(done)
}

/// Rebuilds one expert's index (after their index was found missing); an
/// expert who is not approved gets no index at all.
#[tracing::instrument(skip(state))]
pub async fn expert(state: &AppState, expert: ExpertId) -> AppResult<()> {
    let row = anxin_store::experts::get(&state.pool, expert).await?;
    if row.status != anxin_domain::expert::ExpertStatus::Approved {
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
    let booked: Vec<SlotId> = rows.iter().filter(|s| s.booked).map(|s| s.id).collect();
    state.reserve.rebuild_expert(expert, &open, &booked).await?;
    Ok(())
}

/// Rebuilds an index Redis lost, unless another instance already claimed
/// that; retried while Redis loses it again mid-rebuild. Returns the
/// rebuild's token when this instance rebuilt it.
pub async fn rebuild_lost(state: &AppState) -> AppResult<Option<String>> {
    loop {
        let token = uuid::Uuid::new_v4().simple().to_string();
        if !state.reserve.claim_rebuild(&token, REBUILD_LEASE).await? {
            return Ok(None);
        }
        tracing::warn!("the Redis index is missing (Redis restarted or was flushed): rebuilding it from Postgres");
        // The claim is renewed while the rebuild runs: at 10,000 experts it
        // takes longer than the lease, which otherwise ran out every time,
        // so the rebuild started over for ever.
        let renew = async {
            let mut tick = tokio::time::interval(REBUILD_LEASE / 3);
            tick.tick().await;
            loop {
                tick.tick().await;
                if !matches!(
                    state.reserve.renew_rebuild(&token, REBUILD_LEASE).await,
                    Ok(true)
                ) {
                    // Lost: `finish_rebuild` will say so.
                    std::future::pending::<()>().await;
                }
            }
        };
        let rebuilt = tokio::select! {
            r = all(state) => r,
            () = renew => unreachable!("renewing never ends by itself"),
        };
        if let Err(e) = rebuilt {
            // Give the claim back, so the next look (this instance's or
            // another's) rebuilds at once instead of when the lease runs out.
            let _ = state.reserve.abandon_rebuild(&token).await;
            return Err(e);
        }
        if state.reserve.finish_rebuild(&token).await? {
            return Ok(Some(token));
        }
    }
}

/// The start-up rebuild: the whole index from Postgres, marked built if it
/// was missing.
pub async fn startup(state: &AppState) -> AppResult<Reconciled> {
    if state.reserve.index_state().await? == IndexState::Missing
        && rebuild_lost(state).await?.is_some()
    {
        return Ok(Reconciled::default());
    }
    all(state).await
}

/// Watches for a lost index for as long as the instance serves: rebuilds it
/// (or waits for the instance that does), then reads the slate's weights
/// again. Redis being down is only logged: requests answer 503 meanwhile.
pub async fn watch(state: &AppState) {
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen: Option<String> = None;
    let mut down = false;
    loop {
        tick.tick().await;
        let checked: AppResult<()> = async {
            match state.reserve.index_state().await? {
                IndexState::Ready(token) => {
                    if down || seen.as_ref().is_some_and(|s| *s != token) {
                        // Rebuilt (here or elsewhere) since the last look.
                        crate::flows::slate::refresh_inputs(state, Utc::now()).await?;
                    }
                    seen = Some(token);
                }
                IndexState::Missing => {
                    if let Some(token) = rebuild_lost(state).await? {
                        crate::flows::slate::refresh_inputs(state, Utc::now()).await?;
                        seen = Some(token);
                    }
                }
                IndexState::Rebuilding => {}
            }
            Ok(())
        }
        .await;
        match checked {
            Ok(()) => {
                if down {
                    tracing::info!("Redis answers again");
                }
                down = false;
            }
            Err(e) => {
                if !down {
                    tracing::warn!(error = %e, "checking the Redis index failed; retrying");
                }
                down = true;
            }
        }
    }
}
