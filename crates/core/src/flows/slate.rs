//! Building a seeker's slate: candidates from the expert catalog and the
//! open-slot index, the balanced draw from `domain::slate`, a stability
//! window so refreshing can't be used to fish, and the impression counters
//! that feed the next draw. The stable slate is written before the slate is
//! answered; impressions are counted in process and added to Redis' counters
//! every second (`Impressions`), one round trip for all the slates served.
use crate::error::AppResult;
use crate::state::{AppState, Catalog, WeightInputs};
use anxin_domain::booking::{reservable, RUNNING_FOR};
use anxin_domain::ids::{ExpertId, IdMap, SlateId};
use anxin_domain::region::Nearness;
use anxin_domain::slate::{
    capacity_from_counts, choose_balanced_with, choose_local_first, BalanceParams, Candidate,
    Uptake, BOOKING_WINDOW, CAPACITY_BANDS, CAPACITY_LOOKAHEAD, IMPRESSION_BUCKET,
    IMPRESSION_WINDOW_BUCKETS,
};
use anxin_reserve::IndexedSlot;
use anxin_store::experts::{self, ExpertRow};
use anxin_store::seekers::SeekerRow;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// How long the in-process copy of the expert catalog is trusted.
const CATALOG_TTL: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub language: Option<String>,
    pub topic: Option<String>,
}

impl Filters {
    fn key(&self) -> String {
        format!(
            "{}|{}",
            self.language.as_deref().unwrap_or(""),
            self.topic.as_deref().unwrap_or("")
        )
    }

    fn admits(&self, e: &ExpertRow) -> bool {
        self.language
            .as_ref()
            .is_none_or(|l| e.languages.contains(l))
            && self
                .topic
                .as_ref()
                .is_none_or(|t| e.specialties.contains(t))
    }
}

pub struct SlateEntry {
    pub expert: Arc<ExpertRow>,
    pub slots: Vec<IndexedSlot>,
    /// Of the seeker's own region.
    pub local: bool,
}

pub struct Slate {
    pub slate_id: SlateId,
    pub experts: Vec<SlateEntry>,
    /// Set when the filters leave fewer experts than a full slate.
    pub hint: Option<String>,
    /// The start of the earliest slot the seeker could hold among every
    /// expert the filters admit, shown or not (see `earliest_start`).
    pub earliest_start: Option<DateTime<Utc>>,
    /// When filters leave nobody: how many experts with open time each
    /// filter excluded, so the seeker can widen the search knowingly.
    pub widen: Option<Widen>,
    /// False when the seeker's region is not open yet (the phased
    /// roll-out): no experts are shown.
    pub service_open: bool,
    /// The seeker's region's hotlines, when no expert is shown.
    pub hotlines: Vec<anxin_store::resources::ResourceRow>,
}

/// How many experts with open time a search would find with a filter
/// dropped (from the draw's snapshot, up to `INPUTS_TTL` old). A count is
/// `None` where that filter was not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Widen {
    pub without_language: Option<usize>,
    pub without_topic: Option<usize>,
    pub without_filters: usize,
}

impl Filters {
    fn is_empty(&self) -> bool {
        self.language.is_none() && self.topic.is_none()
    }
}

/// Counts, for a search that found nobody, the experts with open time under
/// each filter dropped in turn.
fn widen(inputs: &WeightInputs, filters: &Filters) -> Widen {
    let open = |f: &Filters| {
        inputs
            .catalog
            .iter()
            .zip(&inputs.earliest)
            .filter(|(e, earliest)| earliest.is_some() && f.admits(e))
            .count()
    };
    let without = |set: bool, f: Filters| set.then(|| open(&f));
    Widen {
        without_language: without(
            filters.language.is_some(),
            Filters {
                language: None,
                topic: filters.topic.clone(),
            },
        ),
        without_topic: without(
            filters.topic.is_some(),
            Filters {
                language: filters.language.clone(),
                topic: None,
            },
        ),
        without_filters: open(&Filters::default()),
    }
}

/// How many experts not on the slate are read fresh for `earliest_start`.
const EARLIEST_CHECKED: usize = 5;

/// The earliest slot start the seeker could hold among `candidates`: the
/// slate's own first slots, and the few experts not shown whose snapshot
/// (up to `INPUTS_TTL` old, blind to priority hold-back and the cutoff) says
/// they open sooner, read fresh. Costs a read only when such experts exist.
async fn earliest_start(
    state: &AppState,
    inputs: &WeightInputs,
    candidates: &[usize],
    chosen: &[SlateEntry],
    now: DateTime<Utc>,
    priority_seeker: bool,
) -> AppResult<Option<DateTime<Utc>>> {
    let first = |entries: &[SlateEntry]| {
        entries
            .iter()
            .filter_map(|e| e.slots.first().map(|s| s.starts_at))
            .min()
    };
    let shown = first(chosen);
    let mut sooner: Vec<(DateTime<Utc>, usize)> = candidates
        .iter()
        .filter_map(|&i| inputs.earliest.get(i).copied().flatten().map(|t| (t, i)))
        .filter(|(t, _)| shown.is_none_or(|s| *t < s))
        .filter(|(_, i)| !chosen.iter().any(|e| e.expert.id == inputs.catalog[*i].id))
        .collect();
    if sooner.is_empty() {
        return Ok(shown);
    }
    sooner.sort_unstable();
    sooner.truncate(EARLIEST_CHECKED);
    let experts: Vec<&Arc<ExpertRow>> = sooner.iter().map(|(_, i)| &inputs.catalog[*i]).collect();
    let fresh = open_slots_of(state, &experts, now, priority_seeker).await?;
    Ok(first(&fresh).into_iter().chain(shown).min())
}

#[derive(Serialize, Deserialize)]
struct Remembered {
    slate_id: SlateId,
    experts: Vec<ExpertId>,
}

/// Approved experts, cached briefly in process: the catalog changes rarely
/// and every instance may hold its own copy.
pub async fn catalog(state: &AppState) -> AppResult<Catalog> {
    if let Some((at, list)) = state.catalog.read().await.as_ref() {
        if at.elapsed() < CATALOG_TTL {
            return Ok(list.clone());
        }
    }
    let generation = state.slate_generation.load(Ordering::Acquire);
    let list: Catalog = Arc::new(
        experts::list_approved(&state.pool)
            .await?
            .into_iter()
            .map(Arc::new)
            .collect(),
    );
    let mut cached = state.catalog.write().await;
    // Read before an invalidation: may miss the change, so don't keep it.
    if state.slate_generation.load(Ordering::Acquire) == generation {
        *cached = Some((Instant::now(), list.clone()));
    }
    Ok(list)
}

/// Forgets the cached catalog and draw inputs (an expert was added, vetted
/// or changed their availability), so the next slate sees the change. The
/// generation makes a snapshot being read at this moment not count.
pub async fn invalidate(state: &AppState) {
    state.slate_generation.fetch_add(1, Ordering::AcqRel);
    *state.catalog.write().await = None;
    *state.slate_inputs.write().await = None;
}

/// Each expert's impressions in the balance's sliding window.
pub(crate) async fn recent_impressions(
    reserve: &anxin_reserve::Reserve,
    now: DateTime<Utc>,
) -> AppResult<HashMap<ExpertId, u64>> {
    let b = bucket(now);
    let buckets: Vec<i64> = (0..i64::from(IMPRESSION_WINDOW_BUCKETS))
        .map(|i| b - i)
        .collect();
    Ok(reserve.exposure(&buckets).await?)
}

fn bucket(now: DateTime<Utc>) -> i64 {
    now.timestamp()
        .div_euclid(IMPRESSION_BUCKET.num_seconds().max(1))
}

#[tracing::instrument(skip_all, fields(seeker_id = %seeker.id))]
pub async fn build(state: &AppState, seeker: &SeekerRow, filters: &Filters) -> AppResult<Slate> {
    let regions = crate::flows::regions::all(state).await?;
    let home = seeker.region.as_deref().and_then(|r| regions.get(r));
    if let Some(closed) = home.filter(|r| !r.open) {
        // Not open yet: nobody to book, and where to call instead.
        return Ok(Slate {
            slate_id: SlateId::new(),
            experts: Vec::new(),
            hint: None,
            earliest_start: None,
            widen: None,
            service_open: false,
            hotlines: crate::flows::resources::hotlines(state, &closed.code).await?,
        });
    }
    let near = |e: &ExpertRow| regions.nearness(home, &e.region);
    let now = Utc::now();
    let size = state.config.slate_size;
    let priority = seeker.priority_group;
    let priority_seeker = priority.is_priority();
    // The catalog and the draw's inputs come as one snapshot, aligned by
    // index, so the draw needs no per-expert hashing (10,000 experts).
    let inputs = inputs(state, now).await?;
    let catalog = &inputs.catalog;
    let candidates: Vec<usize> = (0..catalog.len())
        .filter(|&i| filters.admits(&catalog[i]))
        .collect();

    let filter_key = filters.key();
    let remembered: Option<Remembered> = state
        .reserve
        .get_slate(seeker.id, &filter_key)
        .await?
        .and_then(|v| serde_json::from_str(&v).ok());
    let slate_id = remembered
        .as_ref()
        .map_or_else(SlateId::new, |r| r.slate_id);
    let remembered: Vec<ExpertId> = remembered.map(|r| r.experts).unwrap_or_default();
    // Catalog indices of every expert considered, to count impressions in
    // this instance's snapshot at once (see `WeightInputs::impressions`).
    let mut index_of: IdMap<ExpertId, usize> = IdMap::default();
    let kept: Vec<&Arc<ExpertRow>> = if remembered.is_empty() {
        Vec::new()
    } else {
        let mut kept: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&i| remembered.contains(&catalog[i].id))
            .collect();
        // Keep the order the seeker saw.
        kept.sort_by_key(|&i| remembered.iter().position(|id| *id == catalog[i].id));
        index_of.extend(kept.iter().map(|&i| (catalog[i].id, i)));
        kept.into_iter().map(|i| &catalog[i]).collect()
    };

    let mut chosen = open_slots_of(state, &kept, now, priority_seeker).await?;
    chosen.retain(|e| !e.slots.is_empty());
    // Local first for a seeker of a known region (`choose_local_first`:
    // the region, its area, the country, each first with time today), one
    // balanced draw for the others; a few spare experts are drawn, and the
    // first ones with a slot to show are kept.
    let want = size.saturating_sub(chosen.len());
    if want > 0 {
        let have: Vec<ExpertId> = chosen.iter().map(|e| e.expert.id).collect();
        let pool: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&i| !have.contains(&catalog[i].id))
            .collect();
        let nearness: Option<Vec<Nearness>> =
            home.map(|_| pool.iter().map(|&i| near(&catalog[i])).collect());
        let drawn = draw(&inputs, &pool, nearness.as_deref(), want);
        index_of.extend(drawn.iter().map(|&i| (catalog[i].id, i)));
        let fresh: Vec<&Arc<ExpertRow>> = drawn.into_iter().map(|i| &catalog[i]).collect();
        let mut more = open_slots_of(state, &fresh, now, priority_seeker).await?;
        more.retain(|e| !e.slots.is_empty());
        more.truncate(want);
        chosen.extend(more);
    }
    // Nearest first; the order the seeker saw within each.
    chosen.sort_by_key(|e| near(&e.expert));
    for e in &mut chosen {
        e.local = near(&e.expert) == Nearness::Local;
    }

    let shown: Vec<ExpertId> = chosen.iter().map(|e| e.expert.id).collect();
    for e in &shown {
        if let Some(&i) = index_of.get(e) {
            inputs.impressions[i].fetch_add(1, Ordering::Relaxed);
        }
    }
    state.events.emit(
        &state.metrics,
        crate::events::Event::SlateServed {
            seeker,
            experts: &shown,
        },
    );
    state.impressions.count(bucket(now), &shown);
    let remembered = Remembered {
        slate_id,
        experts: shown,
    };
    if let Ok(value) = serde_json::to_string(&remembered) {
        state
            .reserve
            .remember_slate(seeker.id, &filter_key, &value, state.config.slate_stability)
            .await?;
    }
    state
        .metrics
        .slates
        .with_label_values(&[priority.as_str()])
        .inc();
    let hint = (chosen.len() < size).then(|| {
        format!(
            "only {} experts with open slots match these filters; widen them to see more",
            chosen.len()
        )
    });
    let earliest_start =
        earliest_start(state, &inputs, &candidates, &chosen, now, priority_seeker).await?;
    let widen = (chosen.is_empty() && !filters.is_empty()).then(|| widen(&inputs, filters));
    let hotlines = match home {
        Some(r) if chosen.is_empty() => crate::flows::resources::hotlines(state, &r.code).await?,
        _ => Vec::new(),
    };
    Ok(Slate {
        slate_id,
        experts: chosen,
        hint,
        earliest_start,
        widen,
        service_open: true,
        hotlines,
    })
}

/// How often the snapshot of the draw's inputs (`WeightInputs`) is read again. The read is 40,000 commands at
/// 10,000 experts; every 2 s it put the slate's p99 (one at a time,
/// `loadtest/slate-10k.sh`) at the 5 ms edge, every 10 s under 4 ms. Capacity
/// moves slowly (a slot booked or held in between is still left out, as
/// `open_slots_of` reads slots fresh), and this instance's own impressions
/// count at once.
const INPUTS_TTL: std::time::Duration = std::time::Duration::from_secs(10);
/// How often the uptake (`anxin_store::slots::uptake`) is read again. It is
/// a grouped read over every slot of the balance's window (215,000 at the
/// load test's 320 experts: 110-140 ms of Postgres), and it moves with
/// bookings over a week; an invalidation (experts or availability changed)
/// reads it again at once.
pub(crate) const UPTAKE_TTL: std::time::Duration = std::time::Duration::from_secs(60);
/// A request reads the inputs itself only when there is no snapshot (start-up,
/// an invalidation) or it is this old (no refresher running, as in one-shot
/// commands).
const INPUTS_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(30);

async fn read_inputs(state: &AppState, now: DateTime<Utc>) -> AppResult<WeightInputs> {
    let catalog = catalog(state).await?;
    let ids: Vec<ExpertId> = catalog.iter().map(|e| e.id).collect();
    let bounds: Vec<DateTime<Utc>> = CAPACITY_BANDS
        .iter()
        .map(|band| now + band.within)
        .collect();
    let bulk = state.reserve.bulk();
    // Running slots still count as capacity (the most urgent band).
    let counts = bulk.open_counts(&ids, now - RUNNING_FOR, &bounds).await?;
    // Bookings against what was offered, from the system of record: one
    // grouped read over every slot of the window, off the request path, and
    // only every `UPTAKE_TTL`.
    let previous = state.slate_inputs.read().await.clone();
    let (offered, offered_at) = match previous.filter(|p| p.offered_at.elapsed() < UPTAKE_TTL) {
        Some(p) => (p.offered.clone(), p.offered_at),
        None => (
            Arc::new(
                anxin_store::slots::uptake(
                    &state.pool,
                    now - BOOKING_WINDOW,
                    now + CAPACITY_LOOKAHEAD,
                )
                .await?,
            ),
            Instant::now(),
        ),
    };
    let banded: Vec<[u32; CAPACITY_BANDS.len()]> = counts
        .into_iter()
        .map(|c| {
            let mut banded = [0u32; CAPACITY_BANDS.len()];
            for (slot, n) in banded.iter_mut().zip(c) {
                *slot = n;
            }
            banded
        })
        .collect();
    let capacity = banded.iter().map(|b| capacity_from_counts(*b)).collect();
    let uptake = ids
        .iter()
        .zip(&banded)
        .map(|(id, open_by_band)| {
            let (offered, booked) = offered.get(id).copied().unwrap_or((0, 0));
            Uptake {
                open_by_band: *open_by_band,
                offered,
                booked,
            }
        })
        .collect();
    let seen = recent_impressions(&bulk, now).await?;
    let earliest = bulk.earliest_open(&ids, now - RUNNING_FOR).await?;
    Ok(WeightInputs {
        at: Instant::now(),
        earliest,
        impressions: ids
            .iter()
            .map(|id| AtomicU64::new(seen.get(id).copied().unwrap_or(0)))
            .collect(),
        capacity,
        uptake,
        offered,
        offered_at,
        catalog,
    })
}

async fn inputs(state: &AppState, now: DateTime<Utc>) -> AppResult<Arc<WeightInputs>> {
    let usable = || async {
        // Not in a match's scrutinee: the read guard would live through the
        // refresh, which takes the write lock.
        let current = state.slate_inputs.read().await.clone();
        current.filter(|inputs| inputs.at.elapsed() < INPUTS_MAX_AGE)
    };
    if let Some(inputs) = usable().await {
        return Ok(inputs);
    }
    // One request reads; the others wait for its snapshot (a burst of slates
    // after start-up or an invalidation would otherwise each read every
    // expert and run the uptake query at once, and starve Postgres).
    let _reading = state.slate_reading.lock().await;
    if let Some(inputs) = usable().await {
        return Ok(inputs);
    }
    state
        .metrics
        .slate_input_reads
        .with_label_values(&["request"])
        .inc();
    refresh_inputs(state, now).await
}

/// Reads a new snapshot of the draw's inputs and keeps it, unless an
/// invalidation came while it was being read.
pub async fn refresh_inputs(state: &AppState, now: DateTime<Utc>) -> AppResult<Arc<WeightInputs>> {
    let generation = state.slate_generation.load(Ordering::Acquire);
    let fresh = Arc::new(read_inputs(state, now).await?);
    let mut current = state.slate_inputs.write().await;
    if state.slate_generation.load(Ordering::Acquire) == generation {
        *current = Some(fresh.clone());
    }
    Ok(fresh)
}

/// Replaces the draw's inputs every `INPUTS_TTL`, for as long as the
/// instance serves, so no request waits for the read over every expert.
pub async fn keep_inputs_fresh(state: &AppState) {
    let mut tick = tokio::time::interval(INPUTS_TTL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        state
            .metrics
            .slate_input_reads
            .with_label_values(&["refresher"])
            .inc();
        if let Err(e) = refresh_inputs(state, Utc::now()).await {
            tracing::warn!(error = %e, "refreshing the slate's weights failed; keeping the last ones");
        }
    }
}

/// Impressions this instance has served and not yet added to Redis' exposure
/// counters, by bucket and expert. Counting them per slate cost Redis 20
/// commands a slate (a third of its work on the slate); added once a second,
/// other instances see them within their next refresh of the draw's inputs
/// (`INPUTS_TTL`) as before, and this instance counts them at once in its own
/// snapshot. An instance that stops loses at most its last second's.
#[derive(Default)]
pub struct Impressions(std::sync::Mutex<IdMap<(i64, ExpertId), u64>>);

impl Impressions {
    fn add(&self, counted: impl IntoIterator<Item = ((i64, ExpertId), u64)>) {
        let mut pending = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for (k, n) in counted {
            *pending.entry(k).or_insert(0) += n;
        }
    }

    fn count(&self, bucket: i64, experts: &[ExpertId]) {
        self.add(experts.iter().map(|e| ((bucket, *e), 1)));
    }

    fn take(&self) -> IdMap<(i64, ExpertId), u64> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Adds the impressions counted since the last call to Redis' exposure
/// counters; what could not be written goes with the next second's.
async fn add_impressions(state: &AppState) -> AppResult<()> {
    let counted = state.impressions.take();
    let window = (IMPRESSION_BUCKET * IMPRESSION_WINDOW_BUCKETS as i32)
        .to_std()
        .unwrap_or_default();
    if let Err(e) = state.reserve.add_impressions(&counted, window).await {
        state.impressions.add(counted);
        return Err(e.into());
    }
    Ok(())
}

/// Adds this instance's impressions to Redis every second, for as long as it
/// serves.
pub async fn keep_adding_impressions(state: &AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = add_impressions(state).await {
            tracing::warn!(error = %e, "adding impressions to the exposure counters failed; kept for the next second");
        }
    }
}

/// How often the exposure of the slates' batches is folded into the
/// dashboard's hourly rollup (`anxin_store::events::fold_exposure`). Each
/// fold upserts one row per expert shown since the last, so a longer period
/// costs Postgres less in all, in fewer and larger pieces; the dashboard is
/// exact either way.
const FOLD_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
/// Batches folded in one statement, at most.
const FOLD_MOST: i32 = 500;

/// Folds the slates' exposure into the dashboard's hourly rollup every
/// `FOLD_EVERY`, for as long as the instance serves.
pub async fn keep_folding_exposure(state: &AppState) {
    let mut tick = tokio::time::interval(FOLD_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        loop {
            match anxin_store::events::fold_exposure(&state.pool, FOLD_MOST).await {
                Ok(n) if n == i64::from(FOLD_MOST) => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "folding the slates' exposure failed; kept for the next round");
                    break;
                }
            }
        }
    }
}

/// Draws `want` experts from `pool` (indices into the snapshot's catalog),
/// with some spare since a drawn expert's visible slots may all be held back
/// for priority, by the balanced rule: local first when each one's
/// `nearness` to the seeker is known.
fn draw(
    inputs: &WeightInputs,
    pool: &[usize],
    nearness: Option<&[Nearness]>,
    want: usize,
) -> Vec<usize> {
    let candidates: Vec<Candidate> = pool
        .iter()
        .map(|&i| Candidate {
            expert_id: inputs.catalog[i].id,
            capacity: inputs.capacity[i],
            impressions: inputs.impressions[i].load(Ordering::Relaxed),
        })
        .collect();
    let params = BalanceParams {
        size: want + want / 2 + 2,
        ..BalanceParams::default()
    };
    let uptake: Vec<Uptake> = pool.iter().map(|&i| inputs.uptake[i]).collect();
    let rng = &mut rand::thread_rng();
    match nearness {
        Some(nearness) => choose_local_first(&candidates, &uptake, nearness, &params, rng),
        None => choose_balanced_with(&candidates, &uptake, &params, rng),
    }
    .into_iter()
    .map(|k| pool[k])
    .collect()
}

async fn open_slots_of(
    state: &AppState,
    experts: &[&Arc<ExpertRow>],
    now: DateTime<Utc>,
    priority_seeker: bool,
) -> AppResult<Vec<SlateEntry>> {
    let per_expert = state.config.slate_slots_per_expert;
    let cutoff = state.cutoff();
    let horizon = crate::flows::slots::listed_until(state, now);
    let ids: Vec<ExpertId> = experts.iter().map(|e| e.id).collect();
    let found = state
        .reserve
        .open_slots_many(
            &ids,
            now - RUNNING_FOR,
            horizon,
            priority_seeker,
            // One spare: a running slot may be past the booking cutoff.
            per_expert + 1,
        )
        .await?;
    let reads = &state.metrics.slate_open_slot_reads;
    reads
        .with_label_values(&["copy"])
        .inc_by(found.from_copies as u64);
    reads
        .with_label_values(&["redis"])
        .inc_by((experts.len() - found.from_copies) as u64);
    let mut out = Vec::with_capacity(experts.len());
    for (e, mut slots) in experts.iter().zip(found.by_expert) {
        slots.retain(|s| reservable(s.ends_at, now, cutoff));
        slots.truncate(per_expert);
        crate::flows::slots::shown(state, e.id, &slots);
        out.push(SlateEntry {
            expert: Arc::clone(e),
            slots,
            local: false,
        });
    }
    Ok(out)
}
